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
import { queuePair } from '../helpers/queue-pair.ts';

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

  it('snapshot() / restore(): a restored backlog delivers the same events in the same order', () => {
    const PE = P.VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED;
    const XR = P.VIRTIO_SND_EVT_PCM_XRUN;
    const fill = (q: EventQueue) => {
      for (let i = 0; i < BACKLOG_CAP + 50; i++) q.push(i % 7 === 0 ? XR : PE, i % 3);
      q.push(P.VIRTIO_SND_EVT_JACK_DISCONNECTED, 1); // host events stay queued past the cap
      q.pushCtl(P.VIRTIO_SND_EVT_CTL_NOTIFY, 2, 1);
    };
    /** Delivers everything into posted buffers and returns the events in order. */
    const drainAll = (q: EventQueue, p: ReturnType<typeof queuePair>) => {
      const got: number[] = [];
      while (q.backlog > 0) {
        const bufs = Array.from({ length: 32 }, () => p.alloc.alloc(8, 8));
        for (const b of bufs) p.drv.add([{ addr: b, len: 8 }], 0, b);
        q.deliver();
        for (let b = p.drv.getBuf(); b !== undefined; b = p.drv.getBuf()) {
          got.push(p.mem.readU32(b), p.mem.readU32(b + 4));
          p.alloc.release(b);
        }
      }
      return got;
    };
    const pa = queuePair(64);
    const a = new EventQueue(pa.mem, pa.dev);
    fill(a);
    a.push(PE, 0);
    const saved = a.snapshot();
    expect(saved.pending.length).toBe(BACKLOG_CAP + 2);
    expect(saved.counted.length).toBeGreaterThan(0);
    const pb = queuePair(64);
    const b = new EventQueue(pb.mem, pb.dev);
    b.push(XR, 0); // whatever it held before goes
    b.restore(saved);
    expect(b.snapshot()).toEqual(saved);
    expect(b.backlog).toBe(a.backlog);
    // Counting goes on the same way, then both deliver the same sequence.
    a.push(PE, 1);
    b.push(PE, 1);
    expect(drainAll(b, pb)).toEqual(drainAll(a, pa));
    expect(b.delivered).toBe(a.delivered);
  });
});
