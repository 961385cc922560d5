/**
 * Single-producer single-consumer ring of virtio-snd events, from the
 * renderer (XRUN, PERIOD_ELAPSED) to the control plane, which owns the event
 * virtqueue. Wait-free on both sides; push() allocates nothing.
 */

import {
  EVENT_RING_ENTRIES,
  H_EVT_DROPPED,
  H_EVT_READ,
  H_EVT_WRITE,
  type SharedState,
} from './shared-state.ts';

export class EventRing {
  private readonly base: number;

  constructor(private readonly s: SharedState) {
    this.base = s.layout.events;
  }

  /** Producer (renderer). Returns false (and counts a drop) when full. */
  push(code: number, data: number): boolean {
    const i32 = this.s.i32;
    const w = Atomics.load(i32, H_EVT_WRITE);
    const r = Atomics.load(i32, H_EVT_READ);
    if (((w - r) | 0) >= EVENT_RING_ENTRIES) {
      Atomics.add(i32, H_EVT_DROPPED, 1);
      return false;
    }
    const slot = this.base + 2 * (w & (EVENT_RING_ENTRIES - 1));
    i32[slot] = code;
    i32[slot + 1] = data;
    Atomics.store(i32, H_EVT_WRITE, w + 1);
    return true;
  }

  /** Consumer (control plane): calls `f` for every queued event, oldest first. */
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
    return n;
  }

  reset(): void {
    Atomics.store(this.s.i32, H_EVT_WRITE, 0);
    Atomics.store(this.s.i32, H_EVT_READ, 0);
  }
}
