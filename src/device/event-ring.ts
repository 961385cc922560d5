/**
 * Single-producer single-consumer ring of virtio-snd events, from the
 * renderer (XRUN, PERIOD_ELAPSED) to the control plane, which owns the event
 * virtqueue. Wait-free on both sides; push() allocates nothing.
 *
 * Nothing is lost when the ring is full (a control plane that fell behind,
 * or 1-frame periods): the event is counted in its stream's overflow word
 * instead, and drain() delivers those counts after the ring's entries.
 */

import { VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED, VIRTIO_SND_EVT_PCM_XRUN } from '../snd/protocol.ts';
import {
  EVENT_RING_ENTRIES,
  H_EVT_OVERFLOWED,
  H_EVT_READ,
  H_EVT_WRITE,
  S_EVT_PERIODS_OVERFLOW,
  S_EVT_XRUNS_OVERFLOW,
  type SharedState,
} from './shared-state.ts';

export class EventRing {
  private readonly base: number;

  constructor(private readonly s: SharedState) {
    this.base = s.layout.events;
  }

  /**
   * Producer (renderer): a PCM event (`data` is the stream id). Returns false
   * when the ring was full and the event went to its stream's overflow count.
   */
  push(code: number, data: number): boolean {
    const i32 = this.s.i32;
    const w = Atomics.load(i32, H_EVT_WRITE);
    const r = Atomics.load(i32, H_EVT_READ);
    if (((w - r) | 0) >= EVENT_RING_ENTRIES) {
      const word = code === VIRTIO_SND_EVT_PCM_XRUN ? S_EVT_XRUNS_OVERFLOW : S_EVT_PERIODS_OVERFLOW;
      Atomics.add(i32, this.s.stream(data) + word, 1);
      Atomics.add(i32, H_EVT_OVERFLOWED, 1);
      return false;
    }
    const slot = this.base + 2 * (w & (EVENT_RING_ENTRIES - 1));
    i32[slot] = code;
    i32[slot + 1] = data;
    Atomics.store(i32, H_EVT_WRITE, w + 1);
    return true;
  }

  /**
   * Consumer (control plane): calls `f` for every queued event, oldest first,
   * then for the streams' overflow counts.
   */
  drain(f: (code: number, data: number) => void): number {
    const i32 = this.s.i32;
    const w = Atomics.load(i32, H_EVT_WRITE);
    let r = Atomics.load(i32, H_EVT_READ);
    let n = 0;
    while (r !== w) {
      const slot = this.base + 2 * (r & (EVENT_RING_ENTRIES - 1));
      f(i32[slot] >>> 0, i32[slot + 1] >>> 0);
      r = (r + 1) | 0;
      n++;
    }
    Atomics.store(i32, H_EVT_READ, r);
    for (let id = 0; id < this.s.layout.params.streams; id++) {
      const b = this.s.stream(id);
      for (let k = Atomics.exchange(i32, b + S_EVT_XRUNS_OVERFLOW, 0); k > 0; k--, n++) {
        f(VIRTIO_SND_EVT_PCM_XRUN, id);
      }
      for (let k = Atomics.exchange(i32, b + S_EVT_PERIODS_OVERFLOW, 0); k > 0; k--, n++) {
        f(VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED, id);
      }
    }
    return n;
  }

  reset(): void {
    const i32 = this.s.i32;
    Atomics.store(i32, H_EVT_WRITE, 0);
    Atomics.store(i32, H_EVT_READ, 0);
    for (let id = 0; id < this.s.layout.params.streams; id++) {
      Atomics.store(i32, this.s.stream(id) + S_EVT_XRUNS_OVERFLOW, 0);
      Atomics.store(i32, this.s.stream(id) + S_EVT_PERIODS_OVERFLOW, 0);
    }
  }
}
