/**
 * The relay's control half: each guest control request is copied to the
 * inner device and answered at once (the inner control plane is
 * synchronous), its response copied back.
 *
 * Only what the inner device reads and writes is copied, whatever the guest
 * offers: one byte past the longest request it takes (a longer one still gets
 * BAD_MSG from it) and no more response room than its longest answer (a
 * 9 MiB response buffer gets the same answer as a 100-byte one). Both live in
 * a control area reserved at the start of the relay's buffer, before the
 * heap: requests are relayed one at a time, and a command (RELEASE, which
 * frees the heap) never waits for room that I/O messages hold. One notify
 * answers at most a queue's worth of requests (`more` says some are left).
 *
 * The relay offers the guest no MSG_POLLING (it clears the bit in PCM_INFO
 * answers): a kick is a function call here, not a VM exit, and it shows the
 * relay each message the moment it is queued. That moment matters: a guest
 * that re-queues a period before writing it (tx-holdback.ts) must be seen
 * doing so before its application has had time to write, and a guest that
 * polls would show its message only at the relay's next poll.
 * Runs on the emulator's thread, beside RelayDevice.
 */

import { MAX_REQUEST_BYTES } from '../device/index.ts';
import {
  PCM_HDR,
  PCM_INFO,
  QUERY_INFO,
  VIRTIO_SND_PCM_F_MSG_POLLING,
  VIRTIO_SND_R_PCM_INFO,
  VIRTIO_SND_R_PCM_PREPARE,
  VIRTIO_SND_R_PCM_RELEASE,
  VIRTIO_SND_R_PCM_START,
  VIRTIO_SND_S_IO_ERR,
  VIRTIO_SND_S_OK,
  VIRTIO_SND_VQ_CONTROL,
} from '../snd/protocol.ts';
import type { DriverQueue } from '../virtio/driver-queue.ts';
import type { GuestMemory } from '../virtio/memory.ts';
import type { MmioDriver } from '../virtio/mmio-driver.ts';
import type { GuestRings } from './guest-rings.ts';
import type { IoRelay } from './io-relay.ts';

/** Where the inner copy of a request starts, and where its response room starts. */
const REQUEST_AT = 0;
const RESPONSE_AT = MAX_REQUEST_BYTES + 8;

/** Bytes the control area takes, from offset 0 of the relay's buffer, for a device's longest response. */
export function ctlAreaBytes(maxResponseBytes: number): number {
  return RESPONSE_AT + maxResponseBytes;
}

export class CtlRelay {
  /** The last relay() stopped at its budget with requests still available. */
  more = false;
  private queue: DriverQueue<number> | null = null;

  constructor(
    private readonly guest: GuestRings,
    /** The relay's SharedArrayBuffer, as the inner device's guest memory. */
    private readonly innerMem: GuestMemory,
    private readonly innerDrv: MmioDriver,
    private readonly io: IoRelay,
    /** The inner device's longest response (VirtioSndDevice.maxResponseBytes). */
    private readonly maxResponseBytes: number,
    /** After the inner device answered, before the guest sees it: deliver what it completed. */
    private readonly answered: () => void,
  ) {}

  /** Our control queue to the inner device (null: stopped). */
  get innerQueue(): DriverQueue<number> | null {
    return this.queue;
  }

  /** The inner device is (re)started with this control queue (null: stopped). */
  activate(queue: DriverQueue<number> | null): void {
    this.queue = queue;
    this.more = false;
  }

  /** Answers the guest's available control requests, at most a queue's worth. */
  relay(): void {
    const ctl = this.queue;
    if (!ctl) return;
    const mem = this.guest.mem();
    const inner = this.innerMem;
    const q = this.guest.queue(VIRTIO_SND_VQ_CONTROL);
    const c = this.guest.chain(VIRTIO_SND_VQ_CONTROL);
    let budget = q.size;
    this.more = false;
    while (q.popValid(c)) {
      // A command must find every message the guest queued before it (RELEASE returns them).
      this.io.beforeCommand();
      const readBytes = Math.min(c.readBytes, MAX_REQUEST_BYTES + 1);
      const room = Math.min(c.writeBytes, this.maxResponseBytes);
      let len = 0;
      if (readBytes > 0 && room > 0) {
        c.copyFromReadable(mem, 0, inner.bytes(REQUEST_AT, readBytes), 0, readBytes);
        ctl.add(
          [
            { addr: REQUEST_AT, len: readBytes },
            { addr: RESPONSE_AT, len: room },
          ],
          1,
          0,
        );
        this.innerDrv.notify(VIRTIO_SND_VQ_CONTROL);
        if (ctl.getBuf() !== undefined) {
          len = ctl.lastLen;
          this.afterCommand(readBytes, len);
        } else {
          // The inner device answers synchronously; if it did not, say so.
          inner.writeU32(RESPONSE_AT, VIRTIO_SND_S_IO_ERR);
          len = Math.min(4, room);
        }
        c.copyToWritable(mem, 0, inner.bytes(RESPONSE_AT, len), 0, len);
      }
      q.pushUsed(c.head, len);
      if (--budget === 0) {
        this.more = q.available() > 0;
        break;
      }
    }
    this.guest.signal(q);
  }

  /** Bookkeeping after the inner device answered a request, before the guest sees the answer. */
  private afterCommand(readBytes: number, len: number): void {
    const inner = this.innerMem;
    const ok = len >= 4 && inner.readU32(RESPONSE_AT) === VIRTIO_SND_S_OK;
    if (ok && readBytes === QUERY_INFO.size) this.maskPcmInfo(len);
    if (ok && readBytes === PCM_HDR.size) {
      const code = inner.readU32(REQUEST_AT);
      const id = inner.readU32(REQUEST_AT + PCM_HDR.streamId);
      if (code === VIRTIO_SND_R_PCM_PREPARE) this.io.prepared(id);
      if (code === VIRTIO_SND_R_PCM_START) this.io.started(id);
      // RELEASE returns every message of the stream, those still waiting here too.
      if (code === VIRTIO_SND_R_PCM_RELEASE) this.io.released(id);
    }
    // Messages the command returned (RELEASE) reach the guest before its response,
    // withheld or not: a guest that sends a command waits for nothing else.
    this.answered();
    this.io.afterCommand();
  }

  /** A PCM_INFO answer of `len` bytes: no stream offers the guest MSG_POLLING (see above). */
  private maskPcmInfo(len: number): void {
    const inner = this.innerMem;
    if (inner.readU32(REQUEST_AT + QUERY_INFO.code) !== VIRTIO_SND_R_PCM_INFO) return;
    const stride = inner.readU32(REQUEST_AT + QUERY_INFO.itemSize);
    if (stride < PCM_INFO.size) return; // the inner device refused it
    for (let at = 4; at + PCM_INFO.size <= len; at += stride) {
      const f = RESPONSE_AT + at + PCM_INFO.features;
      inner.writeU32(f, inner.readU32(f) & ~(1 << VIRTIO_SND_PCM_F_MSG_POLLING));
    }
  }
}
