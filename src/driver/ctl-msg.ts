/**
 * Control messages (like Linux virtio_ctl_msg.c): a request is a
 * device-readable buffer and a device-writable response buffer in guest
 * memory, sent on the control queue and awaited with a timeout. A status
 * other than OK becomes a CtlRequestError naming the request and the status.
 *
 * A request that timed out keeps its guest buffers until the device returns
 * it (it may still write the response), so a late answer corrupts nothing.
 */

import { VIRTIO_SND_S_IO_ERR, VIRTIO_SND_S_OK } from '../snd/protocol.ts';
import type { DriverQueue } from '../virtio/driver-queue.ts';
import type { GuestHeap } from '../virtio/heap.ts';
import type { GuestMemory } from '../virtio/memory.ts';
import { CtlRequestError, CtlTimeoutError } from './errors.ts';

/** Linux's default (module parameter msg_timeout_ms). */
export const DEFAULT_MSG_TIMEOUT_MS = 1000;

export interface CtlResult {
  status: number;
  /** Response bytes after the 4-byte status header, as long as the device said it wrote. */
  payload: Uint8Array;
}

export interface CtlMsg {
  code: number;
  addr: number;
  requestBytes: number;
  responseBytes: number;
  resolve(r: CtlResult): void;
  reject(e: Error): void;
  settled: boolean;
}

export class CtlChannel {
  timeoutMs: number;
  /** Requests sent and not yet returned by the device (including timed-out ones). */
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly mem: GuestMemory,
    private readonly heap: GuestHeap,
    private readonly queue: DriverQueue<CtlMsg>,
    private readonly kick: () => void,
    timeoutMs = DEFAULT_MSG_TIMEOUT_MS,
  ) {
    this.timeoutMs = timeoutMs;
  }

  /**
   * Sends `request` (its first le32 is the request code) with room for a
   * response of `responseBytes` (status header included) and waits for the
   * answer. Rejects with CtlRequestError for a non-OK status unless
   * `allowFailure` is set, and with CtlTimeoutError after the timeout.
   */
  async send(
    request: Uint8Array,
    responseBytes: number,
    opts: { timeoutMs?: number; allowFailure?: boolean } = {},
  ): Promise<CtlResult> {
    const code = new DataView(request.buffer, request.byteOffset).getUint32(0, true);
    while (this.queue.numFree < 2) await new Promise<void>((r) => this.waiting.push(r));
    const total = request.length + responseBytes;
    const addr = this.heap.alloc(total, 8);
    this.mem.write(addr, request);
    // Until the device answers, the response reads as an I/O error.
    this.mem.fill(addr + request.length, responseBytes);
    this.mem.writeU32(addr + request.length, VIRTIO_SND_S_IO_ERR);
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const result = new Promise<CtlResult>((resolve, reject) => {
      const msg: CtlMsg = {
        code,
        addr,
        requestBytes: request.length,
        responseBytes,
        resolve,
        reject,
        settled: false,
      };
      const timer = setTimeout(() => {
        if (msg.settled) return;
        msg.settled = true;
        reject(new CtlTimeoutError(code, timeoutMs));
      }, timeoutMs);
      msg.resolve = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
      msg.reject = (e) => {
        clearTimeout(timer);
        reject(e);
      };
      this.queue.add(
        [
          { addr, len: request.length },
          { addr: addr + request.length, len: responseBytes },
        ],
        1,
        msg,
      );
      this.inFlight++;
      if (this.queue.kickPrepare()) this.kick();
    });
    const r = await result;
    if (r.status !== VIRTIO_SND_S_OK && !opts.allowFailure)
      throw new CtlRequestError(code, r.status);
    return r;
  }

  /** The device returned `msg` having written `len` bytes (called from interrupt handling). */
  complete(msg: CtlMsg, len: number): void {
    this.inFlight--;
    const respAddr = msg.addr + msg.requestBytes;
    const status = len >= 4 ? this.mem.readU32(respAddr) : VIRTIO_SND_S_IO_ERR;
    const payload = this.mem.read(respAddr + 4, Math.max(0, Math.min(len, msg.responseBytes) - 4));
    this.heap.release(msg.addr);
    this.waiting.shift()?.();
    if (msg.settled) return;
    msg.settled = true;
    msg.resolve({ status, payload });
  }

  /** Fails every request in flight (device reset or removal). */
  failAll(err: Error, msgs: readonly CtlMsg[]): void {
    for (const m of msgs) {
      this.heap.release(m.addr);
      if (!m.settled) {
        m.settled = true;
        m.reject(err);
      }
    }
    this.inFlight = 0;
    for (const w of this.waiting.splice(0)) w();
  }

  get pending(): number {
    return this.inFlight;
  }
}

/** A request buffer of `size` bytes whose first le32 is `code`. */
export function ctlRequest(code: number, size: number): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, code, true);
  return { bytes, view };
}
