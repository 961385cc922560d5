/**
 * The event backlog's memory is bounded whatever the guest does: PCM events
 * past BACKLOG_CAP are counted per stream and kind, and come out complete,
 * in order within each stream and kind.
 */
import { describe, expect, it } from 'vitest';
import { BACKLOG_CAP, EventQueue } from '../../src/device/control/event-queue.ts';
import * as P from '../../src/snd/protocol.ts';
import { DeviceQueue, QUEUE_STATE_WORDS } from '../../src/virtio/device-queue.ts';
import { GuestMemory } from '../../src/virtio/memory.ts';

describe('EventQueue backlog', () => {
  it('holds at most BACKLOG_CAP PCM events one by one, and counts the rest', () => {
    const mem = new GuestMemory(new SharedArrayBuffer(4096));
    const q = new EventQueue(mem, new DeviceQueue(mem, new Uint32Array(QUEUE_STATE_WORDS), 1));
    const PE = P.VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED;
    // Two streams interleaved, an XRUN now and then: no run of identical events to merge.
    for (let i = 0; i < 100_000; i++)
      q.push(i % 1000 === 999 ? P.VIRTIO_SND_EVT_PCM_XRUN : PE, i & 1);
    q.push(P.VIRTIO_SND_EVT_JACK_CONNECTED, 0);
    expect(q.backlog).toBe(100_001);
    expect(q.queuedEntries).toBe(BACKLOG_CAP + 1);
  });
});
