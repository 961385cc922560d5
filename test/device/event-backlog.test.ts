/**
 * The event backlog's memory is bounded whatever the guest does: PCM events
 * past BACKLOG_CAP are counted per stream and kind, and come out complete,
 * in order within each stream and kind; CTL_NOTIFY is coalesced per control
 * (masks OR'd); a jack keeps its first change and its latest state.
 */
import { describe, expect, it } from 'vitest';
import { EventBacklog } from '../../src/device/control/event-backlog.ts';
import { BACKLOG_CAP, EventQueue } from '../../src/device/control/event-queue.ts';
import * as P from '../../src/snd/protocol.ts';
import { DeviceQueue, QUEUE_STATE_WORDS } from '../../src/virtio/device-queue.ts';
import { GuestMemory } from '../../src/virtio/memory.ts';
import { queuePair } from '../helpers/queue-pair.ts';
import { SndGuest } from '../helpers/snd-guest.ts';

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

describe('every event type is bounded (issue 15 #4)', () => {
  const VALUE = 1 << P.VIRTIO_SND_CTL_EVT_MASK_VALUE;

  /** CTL_WRITE of one integer value to control `id`. */
  function ctlWrite(g: SndGuest, id: number, value: number): number {
    const { bytes, view } = g.ctlRequest(P.VIRTIO_SND_R_CTL_WRITE, id, P.CTL_VALUE.size);
    view.setInt32(P.CTL_HDR.size, value, true);
    return g.request(bytes).status;
  }

  it('6096 value-changing CTL_WRITEs with no event buffer leave one CTL_NOTIFY per control', () => {
    const g = new SndGuest().init({ eventBuffers: 0 });
    for (let i = 0; i < 6096; i++) {
      expect(ctlWrite(g, 0, i % 2 ? 40 : 60)).toBe(P.VIRTIO_SND_S_OK);
      if (i % 1000 === 0) expect(ctlWrite(g, 2, 10 + (i % 7))).toBe(P.VIRTIO_SND_S_OK);
    }
    expect(g.device.stats().eventBacklog).toBe(2);
    for (let i = 0; i < 4; i++) g.postEventBuffer();
    g.collect();
    expect(g.events).toEqual([
      { code: P.VIRTIO_SND_EVT_CTL_NOTIFY, data: 0 | (VALUE << 16) },
      { code: P.VIRTIO_SND_EVT_CTL_NOTIFY, data: 2 | (VALUE << 16) },
    ]);
    // Once delivered, the next change is notified again.
    expect(ctlWrite(g, 0, 100)).toBe(P.VIRTIO_SND_S_OK);
    g.collect();
    expect(g.events).toHaveLength(3);
  });

  it('a jack toggled 10000 times by the host waits as two events: the first change and the last state', () => {
    const g = new SndGuest().init({ eventBuffers: 0 });
    for (let i = 0; i < 10_000; i++) g.device.setJackConnected(1, i % 2 === 1);
    expect(g.device.stats().eventBacklog).toBe(2);
    for (let i = 0; i < 4; i++) g.postEventBuffer();
    g.collect();
    expect(g.events).toEqual([
      { code: P.VIRTIO_SND_EVT_JACK_DISCONNECTED, data: 1 },
      { code: P.VIRTIO_SND_EVT_JACK_CONNECTED, data: 1 },
    ]);
    expect(g.device.jacks.get(1).connected).toBe(true);
  });
});

describe('EventBacklog', () => {
  it('a flood of every kind keeps at most BACKLOG_CAP + controls + 2 * jacks entries, PCM counts intact', () => {
    const b = new EventBacklog();
    const PE = P.VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED;
    let pcm = 0;
    for (let i = 0; i < 50_000; i++) {
      b.push(PE, i % 3);
      pcm++;
      b.push(P.VIRTIO_SND_EVT_CTL_NOTIFY, (i % 5) | ((1 << (i % 3)) << 16));
      b.push(i % 2 ? P.VIRTIO_SND_EVT_JACK_CONNECTED : P.VIRTIO_SND_EVT_JACK_DISCONNECTED, i % 4);
    }
    expect(b.entries).toBeLessThanOrEqual(BACKLOG_CAP + 5 + 2 * 4);
    const perStream = [0, 0, 0];
    const masks = new Map<number, number>();
    while (b.take()) {
      if (b.code === PE) perStream[b.data]++;
      if (b.code === P.VIRTIO_SND_EVT_CTL_NOTIFY) masks.set(b.data & 0xffff, b.data >>> 16);
    }
    expect(perStream.reduce((a, x) => a + x, 0)).toBe(pcm);
    expect([...masks.values()]).toEqual([7, 7, 7, 7, 7]);
    expect(b.size).toBe(0);
  });
});
