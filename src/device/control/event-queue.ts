/**
 * The event virtqueue (device -> driver notifications). The driver posts
 * empty device-writable buffers; each event fills one. Events raised while no
 * buffer is posted wait in an EventBacklog (event-backlog.ts), bounded
 * whatever the guest does and never dropped by count: PCM events past
 * BACKLOG_CAP are counted per stream and kind, CTL_NOTIFY is coalesced per
 * control, a jack keeps at most its first change and its latest state.
 */

import { type ChainError, DescriptorChain } from '../../virtio/chain.ts';
import type { DeviceQueue } from '../../virtio/device-queue.ts';
import type { GuestMemory } from '../../virtio/memory.ts';
import { EventBacklog } from './event-backlog.ts';

export { BACKLOG_CAP } from './event-backlog.ts';

const EVENT_SIZE = 8;

/** The backlog as plain values (snapshots): queued events in order, then the counted ones. */
export interface EventQueueState {
  pending: [code: number, data: number][];
  counted: [code: number, data: number, count: number][];
  delivered: number;
  rejected: number;
}

export class EventQueue {
  private readonly waiting = new EventBacklog();
  private readonly chain = new DescriptorChain(64);
  private readonly bytes = new Uint8Array(EVENT_SIZE);
  private readonly view = new DataView(this.bytes.buffer);
  /** Buffers the driver posted that were too small or read-only (returned unused). */
  rejected = 0;
  delivered = 0;

  constructor(
    readonly mem: GuestMemory,
    readonly queue: DeviceQueue,
  ) {}

  /** Events waiting for a buffer. */
  get backlog(): number {
    return this.waiting.size;
  }

  /** Waiting events held one by one (at most BACKLOG_CAP + controls + 2 * jacks). */
  get queuedEntries(): number {
    return this.waiting.entries;
  }

  /** Queues an event (code, le32 data) for the driver. */
  push(code: number, data: number): void {
    this.waiting.push(code, data);
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
    const w = this.waiting;
    while (w.size > 0 && this.queue.popValid(this.chain)) {
      const c = this.chain;
      // The spec: event buffers are write-only and at least 8 bytes.
      if (c.readCount !== 0 || c.writeBytes < EVENT_SIZE) {
        this.rejected++;
        this.queue.pushUsed(c.head, 0);
        continue;
      }
      w.take();
      this.view.setUint32(0, w.code, true);
      this.view.setUint32(4, w.data, true);
      c.copyToWritable(this.mem, 0, this.bytes, 0, EVENT_SIZE);
      this.queue.pushUsed(c.head, EVENT_SIZE);
      this.delivered++;
    }
    return this.queue.error;
  }

  snapshot(): EventQueueState {
    return { ...this.waiting.save(), delivered: this.delivered, rejected: this.rejected };
  }

  /** Replaces the backlog with `s` (checked by the caller). */
  restore(s: EventQueueState): void {
    this.waiting.restore(s.pending, s.counted);
    this.delivered = s.delivered;
    this.rejected = s.rejected;
  }

  clear(): void {
    this.waiting.clear();
  }
}
