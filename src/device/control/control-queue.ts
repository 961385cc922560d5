/**
 * The control virtqueue: each chain is one request (device-readable part,
 * starting with a le32 code) and room for its response (device-writable part,
 * starting with a le32 status). Requests are answered in the order they were
 * made available, synchronously, without the audio thread.
 */

import { VIRTIO_SND_S_BAD_MSG, VIRTIO_SND_S_IO_ERR } from '../../snd/protocol.ts';
import { type ChainError, DescriptorChain } from '../../virtio/chain.ts';
import type { DeviceQueue } from '../../virtio/device-queue.ts';
import type { GuestMemory } from '../../virtio/memory.ts';

/** The largest request: CTL_TLV_WRITE with a 64 KiB TLV (spec limit) plus headers. */
export const MAX_REQUEST_BYTES = 8 + 8 + 65536;

export interface ControlRequest {
  readonly code: number;
  /** The request bytes, copied out of guest memory (the guest cannot change them under us). */
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Device-writable bytes available for the response, header included. */
  readonly room: number;
}

export interface ControlResponse {
  status: number;
  /** Bytes after the 4-byte header. Truncated to the room the driver gave. */
  payload?: Uint8Array;
}

export type ControlHandler = (req: ControlRequest) => ControlResponse;

export class ControlQueue {
  private readonly chain = new DescriptorChain(64);
  private readonly status = new Uint8Array(4);
  private readonly statusView = new DataView(this.status.buffer);
  requests = 0;
  /** Requests we could not answer at all (no room for a status). */
  dropped = 0;
  /**
   * The last process() stopped at its budget with requests still available:
   * the caller must call it again (they are not lost, and the guest need not
   * kick again).
   */
  more = false;

  constructor(
    readonly mem: GuestMemory,
    readonly queue: DeviceQueue,
  ) {}

  /**
   * Answers the available requests, at most one queue's worth per call (all
   * that were available when it started): a guest that republishes requests
   * from another thread as fast as they are answered cannot hold the thread
   * here. Sets `more` when some are left. Returns ChainError.None or what
   * broke the ring.
   */
  process(handle: ControlHandler): ChainError {
    const c = this.chain;
    let budget = this.queue.size;
    this.more = false;
    while (this.queue.popValid(c)) {
      this.answer(c, handle);
      if (--budget === 0) {
        this.more = this.queue.available() > 0;
        break;
      }
    }
    return this.queue.error;
  }

  private answer(c: DescriptorChain, handle: ControlHandler): void {
    this.requests++;
    if (c.writeBytes < 4) {
      this.dropped++;
      this.queue.pushUsed(c.head, 0);
      return;
    }
    let res: ControlResponse;
    if (c.readBytes < 4 || c.readBytes > MAX_REQUEST_BYTES) {
      res = { status: VIRTIO_SND_S_BAD_MSG };
    } else {
      const bytes = new Uint8Array(c.readBytes);
      c.copyFromReadable(this.mem, 0, bytes, 0, c.readBytes);
      const view = new DataView(bytes.buffer);
      try {
        res = handle({ code: view.getUint32(0, true), bytes, view, room: c.writeBytes });
      } catch {
        // A handler bug must not take the device down: report an I/O error.
        res = { status: VIRTIO_SND_S_IO_ERR };
      }
    }
    // Header and payload go straight to the guest: what is written is bounded by
    // the payload the device built, never by the room the guest offered.
    const payload = res.payload;
    const n = Math.min(c.writeBytes - 4, payload?.length ?? 0);
    this.statusView.setUint32(0, res.status, true);
    c.copyToWritable(this.mem, 0, this.status, 0, 4);
    if (payload && n > 0) c.copyToWritable(this.mem, 4, payload, 0, n);
    this.queue.pushUsed(c.head, 4 + n);
  }
}
