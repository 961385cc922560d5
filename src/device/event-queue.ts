/**
 * The event virtqueue (device -> driver notifications). The driver posts
 * empty device-writable buffers; each event fills one. Events raised while no
 * buffer is posted wait here, in order, and are never dropped.
 */

import { type ChainError, DescriptorChain } from '../virtio/chain.ts';
import type { DeviceQueue } from '../virtio/device-queue.ts';
import type { GuestMemory } from '../virtio/memory.ts';

const EVENT_SIZE = 8;

export class EventQueue {
  private readonly pending: [code: number, data: number][] = [];
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
    return this.pending.length;
  }

  /** Queues an event (code, le32 data) for the driver. */
  push(code: number, data: number): void {
    this.pending.push([code >>> 0, data >>> 0]);
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
    while (this.pending.length > 0 && this.queue.popValid(this.chain)) {
      const c = this.chain;
      // The spec: event buffers are write-only and at least 8 bytes.
      if (c.readCount !== 0 || c.writeBytes < EVENT_SIZE) {
        this.rejected++;
        this.queue.pushUsed(c.head, 0);
        continue;
      }
      const [code, data] = this.pending.shift()!;
      const v = new DataView(this.bytes.buffer);
      v.setUint32(0, code, true);
      v.setUint32(4, data, true);
      c.copyToWritable(this.mem, 0, this.bytes, 0, EVENT_SIZE);
      this.queue.pushUsed(c.head, EVENT_SIZE);
      this.delivered++;
    }
    return this.queue.error;
  }

  clear(): void {
    this.pending.length = 0;
  }
}
