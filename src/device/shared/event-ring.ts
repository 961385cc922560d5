/**
 * Single-producer single-consumer ring of virtio-snd events, from the
 * renderer (XRUN, PERIOD_ELAPSED) to the control plane, which owns the event
 * virtqueue. Wait-free on both sides; push() allocates nothing.
 *
 * Nothing is lost when the ring is full (a control plane that fell behind,
 * or 1-frame periods): the event is counted in its stream's overflow word
 * instead, and drain() delivers those counts after the ring's entries.
 */

import { VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED, VIRTIO_SND_EVT_PCM_XRUN } from '../../snd/protocol.ts';
import { EVENT_RING_ENTRIES, type SharedState } from './layout.ts';

export class EventRing {
  constructor(private readonly s: SharedState) {}

  /**
   * Producer (renderer): a PCM event (`data` is the stream id). Returns false
   * when the ring was full and the event went to its stream's overflow count.
   */
  push(code: number, data: number): boolean {
    const s = this.s;
    const w = s.evtWrite.load();
    const r = s.evtRead.load();
    if (((w - r) | 0) >= EVENT_RING_ENTRIES) {
      const st = s.streams[data];
      (code === VIRTIO_SND_EVT_PCM_XRUN ? st.xrunsOverflow : st.periodsOverflow).add(1);
      s.evtOverflowed.add(1);
      return false;
    }
    const e = s.eventEntries;
    const slot = 2 * (w & (EVENT_RING_ENTRIES - 1));
    e[slot] = code;
    e[slot + 1] = data;
    s.evtWrite.store(w + 1);
    return true;
  }

  /**
   * Consumer (control plane): calls `f` for every queued event, oldest first,
   * then for the streams' overflow counts.
   */
  drain(f: (code: number, data: number) => void): number {
    const s = this.s;
    const e = s.eventEntries;
    const w = s.evtWrite.load();
    let r = s.evtRead.load();
    let n = 0;
    while (r !== w) {
      const slot = 2 * (r & (EVENT_RING_ENTRIES - 1));
      f(e[slot] >>> 0, e[slot + 1] >>> 0);
      r = (r + 1) | 0;
      n++;
    }
    s.evtRead.store(r);
    for (const st of s.streams) {
      for (let k = st.xrunsOverflow.exchange(0); k > 0; k--, n++) f(VIRTIO_SND_EVT_PCM_XRUN, st.id);
      for (let k = st.periodsOverflow.exchange(0); k > 0; k--, n++) {
        f(VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED, st.id);
      }
    }
    return n;
  }

  /** The events queued and not drained yet, oldest first (control plane; allocates). */
  saveState(): [code: number, data: number][] {
    const s = this.s;
    const e = s.eventEntries;
    const out: [number, number][] = [];
    for (let r = s.evtRead.load(), w = s.evtWrite.load(); r !== w; r = (r + 1) | 0) {
      const slot = 2 * (r & (EVENT_RING_ENTRIES - 1));
      out.push([e[slot] >>> 0, e[slot + 1] >>> 0]);
    }
    return out;
  }

  /** Refills the ring with `entries` (at most EVENT_RING_ENTRIES; the caller holds both queue locks). */
  applyState(entries: readonly [number, number][]): void {
    const s = this.s;
    const e = s.eventEntries;
    e.fill(0);
    entries.forEach(([code, data], k) => {
      e[2 * k] = code;
      e[2 * k + 1] = data;
    });
    s.evtRead.store(0);
    s.evtWrite.store(entries.length);
  }

  reset(): void {
    const s = this.s;
    s.evtWrite.store(0);
    s.evtRead.store(0);
    for (const st of s.streams) {
      st.xrunsOverflow.store(0);
      st.periodsOverflow.store(0);
    }
  }
}
