/**
 * Events waiting for the driver to post event buffers, bounded whatever the
 * guest (or the host) does, and O(1) per event. Used by the event queue and
 * by hosts that forward events (the relay); not tied to a virtqueue.
 *
 * A guest that never posts event buffers must not grow memory without end
 * (a stream with 1-frame periods raises 48 000 PERIOD_ELAPSED a second; a
 * guest can write a control in a loop; a host can toggle a jack). So:
 *  - PCM events (PERIOD_ELAPSED, XRUN; and any other code) are kept one by
 *    one up to BACKLOG_CAP waiting entries; past it they are counted per
 *    code and data (stream) and keep being counted until the counts are
 *    delivered, after the queue: lossless by count, in order within each
 *    stream and kind.
 *  - CTL_NOTIFY is coalesced per control id, the masks OR'd, as ALSA's
 *    snd_ctl_notify does for its readers: a control waits at most once, at
 *    the place of its first change, and the driver re-reads the value.
 *  - Jack events keep at most two entries per jack: the first change, and
 *    the latest state (updated in place). The driver always learns the
 *    jack's latest state and sees at least one transition, whatever the
 *    number of toggles.
 * Waiting entries are at most BACKLOG_CAP + controls + 2 * jacks.
 */

import {
  VIRTIO_SND_EVT_CTL_NOTIFY,
  VIRTIO_SND_EVT_JACK_CONNECTED,
  VIRTIO_SND_EVT_JACK_DISCONNECTED,
} from '../../snd/protocol.ts';

/** Waiting events kept one by one; beyond, PCM events are counted. */
export const BACKLOG_CAP = 4096;

interface Entry {
  code: number;
  data: number;
  /** Coalescing key (see keyOf), or -1. */
  key: number;
}

interface Coalesced {
  /** The newest waiting entry with this key. */
  latest: Entry;
  /** Waiting entries with this key (1 for a control, up to 2 for a jack). */
  n: number;
}

const KIND_CTL = 1;
const KIND_JACK = 2;

/** Coalescing key of an event (kind and id, a safe integer), or -1 for PCM-like events. */
function keyOf(code: number, data: number): number {
  if (code === VIRTIO_SND_EVT_CTL_NOTIFY) return KIND_CTL * 2 ** 32 + (data & 0xffff);
  if (code === VIRTIO_SND_EVT_JACK_CONNECTED || code === VIRTIO_SND_EVT_JACK_DISCONNECTED) {
    return KIND_JACK * 2 ** 32 + data;
  }
  return -1;
}

export class EventBacklog {
  private pending: Entry[] = [];
  /** Index of the oldest waiting entry in `pending` (shift() would make delivery O(n^2)). */
  private head = 0;
  private readonly coalesced = new Map<number, Coalesced>();
  /** Counted events: key code * 2^32 + data, in first-counted order (Map keeps it). */
  private readonly counted = new Map<number, Entry & { count: number }>();
  private countedTotal = 0;
  /** The event the last take() returned. */
  code = 0;
  data = 0;

  /** Events waiting (counted ones included; a coalesced control counts once). */
  get size(): number {
    return this.pending.length - this.head + this.countedTotal;
  }

  /** Waiting events held one by one (at most BACKLOG_CAP + controls + 2 * jacks). */
  get entries(): number {
    return this.pending.length - this.head;
  }

  /** Queues an event (code, le32 data). */
  push(code: number, data: number): void {
    const c = code >>> 0;
    const d = data >>> 0;
    const key = keyOf(c, d);
    if (key >= 0) {
      this.pushCoalesced(c, d, key);
      return;
    }
    if (this.countedTotal > 0 || this.entries >= BACKLOG_CAP) {
      const k = c * 2 ** 32 + d;
      const e = this.counted.get(k);
      if (e) e.count++;
      else this.counted.set(k, { code: c, data: d, key: -1, count: 1 });
      this.countedTotal++;
      return;
    }
    this.pending.push({ code: c, data: d, key: -1 });
  }

  private pushCoalesced(code: number, data: number, key: number): void {
    const w = this.coalesced.get(key);
    if (w && code === VIRTIO_SND_EVT_CTL_NOTIFY) {
      // Same control: one notification with both masks.
      w.latest.data = (w.latest.data | (data & 0xffff0000)) >>> 0;
      return;
    }
    if (w && w.n >= 2) {
      // A jack's third change while two wait: the second becomes the latest state.
      w.latest.code = code;
      w.latest.data = data;
      return;
    }
    const e: Entry = { code, data, key };
    this.pending.push(e);
    if (w) {
      w.latest = e;
      w.n++;
    } else this.coalesced.set(key, { latest: e, n: 1 });
  }

  /** Takes the oldest waiting event into `code` / `data`; false when there is none. */
  take(): boolean {
    if (this.head < this.pending.length) {
      const e = this.pending[this.head++];
      if (this.head > 1024 && this.head * 2 > this.pending.length) {
        this.pending = this.pending.slice(this.head);
        this.head = 0;
      }
      if (e.key >= 0) {
        const w = this.coalesced.get(e.key);
        if (w && --w.n === 0) this.coalesced.delete(e.key);
      }
      this.code = e.code;
      this.data = e.data;
      return true;
    }
    if (this.countedTotal === 0) return false;
    const [k, e] = this.counted.entries().next().value as [number, Entry & { count: number }];
    if (--e.count === 0) this.counted.delete(k);
    this.countedTotal--;
    this.code = e.code;
    this.data = e.data;
    return true;
  }

  /** The waiting events as plain values (snapshots): those held one by one, oldest first, then the counted ones. */
  save(): {
    pending: [code: number, data: number][];
    counted: [code: number, data: number, count: number][];
  } {
    return {
      pending: this.pending.slice(this.head).map((e): [number, number] => [e.code, e.data]),
      counted: [...this.counted.values()].map((e): [number, number, number] => [
        e.code,
        e.data,
        e.count,
      ]),
    };
  }

  /**
   * Replaces the waiting events with saved ones. They are queued again as
   * they came, so the bounds hold whatever the saved lists say: a second
   * notification of a control merges into the first, PCM events past
   * BACKLOG_CAP are counted.
   */
  restore(
    pending: readonly (readonly [number, number])[],
    counted: readonly (readonly [number, number, number])[],
  ): void {
    this.clear();
    for (const [code, data] of pending) this.push(code, data);
    for (const [code, data, n] of counted) {
      const c = code >>> 0;
      const d = data >>> 0;
      const k = c * 2 ** 32 + d;
      const e = this.counted.get(k);
      if (e) e.count += n;
      else this.counted.set(k, { code: c, data: d, key: -1, count: n });
      this.countedTotal += n;
    }
  }

  clear(): void {
    this.pending = [];
    this.head = 0;
    this.coalesced.clear();
    this.counted.clear();
    this.countedTotal = 0;
  }
}
