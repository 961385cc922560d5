/**
 * The event virtqueue (device -> driver notifications). The driver posts
 * empty device-writable buffers; each event fills one. Events raised while no
 * buffer is posted wait here, in order, and are never dropped.
 *
 * A guest that never posts event buffers must not grow the page's memory
 * without end (a stream with 1-frame periods raises 48 000 PERIOD_ELAPSED a
 * second). Past BACKLOG_CAP waiting events, PCM events (PERIOD_ELAPSED,
 * XRUN) are counted per stream and kind instead of queued, and keep being
 * counted until the counts are delivered, after the queue: order is kept
 * within each stream and kind; host-raised events (jacks, controls) stay in the queue
 * and can overtake counted PCM events.
 */

import { VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED, VIRTIO_SND_EVT_PCM_XRUN } from '../../snd/protocol.ts';
import { type ChainError, DescriptorChain } from '../../virtio/chain.ts';
import type { DeviceQueue } from '../../virtio/device-queue.ts';
import type { GuestMemory } from '../../virtio/memory.ts';

const EVENT_SIZE = 8;
/** Waiting events kept one by one; beyond, PCM events are counted. */
export const BACKLOG_CAP = 4096;

/** The backlog as plain values (snapshots): queued events in order, then the counted ones. */
export interface EventQueueState {
  pending: [code: number, data: number][];
  counted: [code: number, data: number, count: number][];
  delivered: number;
  rejected: number;
}

export class EventQueue {
  private pending: [code: number, data: number][] = [];
  /** Index of the oldest waiting event in `pending` (shift() would make delivery O(n^2)). */
  private head = 0;
  /** Counted PCM events: key `${code}:${stream}` in first-counted order (Map keeps it). */
  private readonly counted = new Map<string, [code: number, data: number, count: number]>();
  private countedTotal = 0;
  private readonly chain = new DescriptorChain(64);
  private readonly bytes = new Uint8Array(EVENT_SIZE);
  /** Buffers the driver posted that were too small or read-only (returned unused). */
  rejected = 0;
  delivered = 0;

  constructor(
    readonly mem: GuestMemory,
    readonly queue: DeviceQueue,
  ) {}

  /** Events waiting for a buffer. */
  get backlog(): number {
    return this.pending.length - this.head + this.countedTotal;
  }

  /** Queues an event (code, le32 data) for the driver. */
  push(code: number, data: number): void {
    const c = code >>> 0;
    const d = data >>> 0;
    const pcm = c === VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED || c === VIRTIO_SND_EVT_PCM_XRUN;
    if (pcm && (this.countedTotal > 0 || this.pending.length - this.head >= BACKLOG_CAP)) {
      const key = `${c}:${d}`;
      const e = this.counted.get(key);
      if (e) e[2]++;
      else this.counted.set(key, [c, d, 1]);
      this.countedTotal++;
      return;
    }
    this.pending.push([c, d]);
  }

  /** Waiting events held one by one (at most BACKLOG_CAP plus host-raised ones). */
  get queuedEntries(): number {
    return this.pending.length - this.head;
  }

  /** The oldest waiting event, taken off the backlog. */
  private take(): [code: number, data: number] {
    if (this.head < this.pending.length) {
      const e = this.pending[this.head++];
      if (this.head > 1024 && this.head * 2 > this.pending.length) {
        this.pending = this.pending.slice(this.head);
        this.head = 0;
      }
      return e;
    }
    const [key, e] = this.counted.entries().next().value as [string, [number, number, number]];
    if (--e[2] === 0) this.counted.delete(key);
    this.countedTotal--;
    return [e[0], e[1]];
  }

  /** Queues a CTL_NOTIFY-style event whose data is le16 id + le16 mask. */
  pushCtl(code: number, id: number, mask: number): void {
    this.push(code, ((id & 0xffff) | ((mask & 0xffff) << 16)) >>> 0);
  }

  /**
   * Moves pending events into posted buffers. Returns ChainError.None, or the
   * error that broke the ring (the device must then need a reset).
   */
  deliver(): ChainError {
    while (this.backlog > 0 && this.queue.popValid(this.chain)) {
      const c = this.chain;
      // The spec: event buffers are write-only and at least 8 bytes.
      if (c.readCount !== 0 || c.writeBytes < EVENT_SIZE) {
        this.rejected++;
        this.queue.pushUsed(c.head, 0);
        continue;
      }
      const [code, data] = this.take();
      const v = new DataView(this.bytes.buffer);
      v.setUint32(0, code, true);
      v.setUint32(4, data, true);
      c.copyToWritable(this.mem, 0, this.bytes, 0, EVENT_SIZE);
      this.queue.pushUsed(c.head, EVENT_SIZE);
      this.delivered++;
    }
    return this.queue.error;
  }

  snapshot(): EventQueueState {
    return {
      pending: this.pending.slice(this.head).map(([c, d]) => [c, d]),
      counted: [...this.counted.values()].map(([c, d, n]) => [c, d, n]),
      delivered: this.delivered,
      rejected: this.rejected,
    };
  }

  /** Replaces the backlog with `s` (checked by the caller). */
  restore(s: EventQueueState): void {
    this.clear();
    this.pending = s.pending.map(([c, d]) => [c >>> 0, d >>> 0]);
    for (const [c, d, n] of s.counted) {
      this.counted.set(`${c >>> 0}:${d >>> 0}`, [c >>> 0, d >>> 0, n]);
      this.countedTotal += n;
    }
    this.delivered = s.delivered;
    this.rejected = s.rejected;
  }

  clear(): void {
    this.pending = [];
    this.head = 0;
    this.counted.clear();
    this.countedTotal = 0;
  }
}
