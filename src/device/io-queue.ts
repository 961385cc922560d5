/**
 * The TX or RX virtqueue as the device's data plane sees it: chains are taken
 * off the available ring, checked as virtio-snd I/O messages, and queued in
 * their stream's FIFO (in shared memory) until the renderer has played or
 * filled them; then they are completed with a pcm_status.
 *
 * Both device halves use this class over the same shared state, one at a time
 * under the queue's lock (queue-lock.ts): the renderer every quantum, the
 * control plane for RELEASE and reset. Nothing here allocates or throws.
 *
 * Message rules (spec 5.14.6.8):
 *   TX: [R xfer 4][R PCM ...][W status 8]   used length 8
 *   RX: [R xfer 4][W PCM ...][W status 8]   used length = PCM bytes written + 8
 * A message that breaks them is completed at once with VIRTIO_SND_S_BAD_MSG.
 */

import { VIRTIO_SND_D_INPUT, VIRTIO_SND_D_OUTPUT, VIRTIO_SND_S_BAD_MSG } from '../snd/protocol.ts';
import { ChainError, DescriptorChain, isRingFatal } from '../virtio/chain.ts';
import { DeviceQueue, POP_EMPTY } from '../virtio/device-queue.ts';
import type { GuestMemory } from '../virtio/memory.ts';
import {
  COMPLETION_LOG_ENTRIES,
  H_BAD_MESSAGES,
  H_COMPLETION_WRITE,
  H_FRAMES_LO,
  IO_QUEUE_MAX,
  M_BYTES,
  M_DONE,
  M_SEG_BASE,
  M_SEGMENTS,
  M_STATUS_ADDR0,
  M_STATUS_ADDR1,
  M_STATUS_LEN0,
  M_STATUS_LEN1,
  M_STREAM,
  MAX_IO_SEGMENTS,
  MSG_WORDS,
  S_COMPLETED,
  S_DIRECTION,
  S_FIFO_READ,
  S_FIFO_WRITE,
  S_FRAME_BYTES,
  S_LAST_COMPLETION_FRAME,
  S_LAST_LATENCY,
  S_QUEUED_BYTES,
  S_STATE,
  type SharedState,
} from './shared-state.ts';
import { acceptsIo } from './stream-state.ts';

const PCM_XFER_SIZE = 4;
const PCM_STATUS_SIZE = 8;
const FREE = -1;

export class IoQueue {
  readonly queue: DeviceQueue;
  private readonly chain = new DescriptorChain(IO_QUEUE_MAX);
  private readonly dir: number;

  constructor(
    readonly mem: GuestMemory,
    readonly s: SharedState,
    readonly tx: boolean,
    readonly numStreams: number,
  ) {
    this.queue = new DeviceQueue(mem, s.queueState(tx ? 2 : 3), tx ? 2 : 3);
    this.dir = tx ? VIRTIO_SND_D_OUTPUT : VIRTIO_SND_D_INPUT;
  }

  /** Forgets every message (device reset): all entries free, FIFOs empty. */
  clear(): void {
    const u = this.s.i32;
    for (let h = 0; h < IO_QUEUE_MAX; h++) u[this.s.message(this.tx, h) + M_STREAM] = FREE;
    for (let id = 0; id < this.numStreams; id++) {
      const st = this.s.stream(id);
      u[st + S_FIFO_READ] = 0;
      u[st + S_FIFO_WRITE] = 0;
      u[st + S_QUEUED_BYTES] = 0;
    }
  }

  /**
   * Takes every available chain off the ring. Returns false when the ring is
   * broken (the device must then signal NEEDS_RESET).
   */
  intake(): boolean {
    const q = this.queue;
    if (!q.ready) return q.error === ChainError.None;
    for (;;) {
      const r = q.pop(this.chain);
      if (r === POP_EMPTY) return true;
      if (r !== ChainError.None && (isRingFatal(r) || !q.ready)) return false;
      // Checked before anything is handed back: a head we still hold must never
      // reach the used ring early (even when its descriptors are now unusable),
      // or the guest would see it used twice and we would later write into
      // buffers it has reused.
      if (this.s.i32[this.s.message(this.tx, this.chain.head) + M_STREAM] !== FREE) {
        // The guest made a chain available twice while we still hold it.
        q.fail(ChainError.UsedIdInvalid);
        return false;
      }
      if (r !== ChainError.None) {
        // A buffer outside memory or similar: hand the chain back untouched.
        this.s.i32[H_BAD_MESSAGES]++;
        q.pushUsed(this.chain.head, 0);
        continue;
      }
      this.accept();
    }
  }

  private accept(): void {
    const c = this.chain;
    const u = this.s.i32;
    const m = this.s.message(this.tx, c.head);
    // The status is the last 8 device-writable bytes; it may straddle two descriptors.
    if (c.writeBytes < PCM_STATUS_SIZE || !this.placeStatus(m)) {
      this.s.i32[H_BAD_MESSAGES]++;
      this.queue.pushUsed(c.head, 0);
      return;
    }
    const streamId = this.readStreamId();
    const payload = this.tx ? c.readBytes - PCM_XFER_SIZE : c.writeBytes - PCM_STATUS_SIZE;
    let ok =
      streamId >= 0 &&
      streamId < this.numStreams &&
      payload > 0 &&
      (this.tx ? c.writeBytes === PCM_STATUS_SIZE : c.readBytes === PCM_XFER_SIZE);
    let st = 0;
    if (ok) {
      st = this.s.stream(streamId);
      const frame = u[st + S_FRAME_BYTES];
      ok =
        u[st + S_DIRECTION] === this.dir &&
        acceptsIo(u[st + S_STATE]) &&
        frame > 0 &&
        payload % frame === 0 &&
        this.placePayload(m);
    }
    if (!ok) {
      this.s.i32[H_BAD_MESSAGES]++;
      this.writeStatus(m, VIRTIO_SND_S_BAD_MSG, 0);
      this.queue.pushUsed(c.head, PCM_STATUS_SIZE);
      return;
    }
    u[m + M_STREAM] = streamId;
    u[m + M_BYTES] = payload;
    u[m + M_DONE] = 0;
    const w = u[st + S_FIFO_WRITE];
    u[this.s.fifo(streamId) + (w & (IO_QUEUE_MAX - 1))] = c.head;
    u[st + S_FIFO_WRITE] = w + 1;
    u[st + S_QUEUED_BYTES] += payload;
  }

  /** The le32 stream_id at the start of the readable part (-1 if it is shorter). */
  private readStreamId(): number {
    const c = this.chain;
    if (c.readBytes < PCM_XFER_SIZE) return -1;
    let v = 0;
    let k = 0;
    for (let i = 0; i < c.readCount && k < 4; i++) {
      const a = c.readAddr[i];
      for (let j = 0; j < c.readLen[i] && k < 4; j++, k++) v |= this.mem.u8[a + j] << (8 * k);
    }
    return v >>> 0 > 0x7fffffff ? -1 : v;
  }

  /** Records where the status goes: the last 8 writable bytes, in at most two pieces. */
  private placeStatus(m: number): boolean {
    const c = this.chain;
    const u = this.s.i32;
    const last = c.writeCount - 1;
    const lastLen = c.writeLen[last];
    if (lastLen >= PCM_STATUS_SIZE) {
      u[m + M_STATUS_ADDR0] = c.writeAddr[last] + lastLen - PCM_STATUS_SIZE;
      u[m + M_STATUS_LEN0] = PCM_STATUS_SIZE;
      u[m + M_STATUS_LEN1] = 0;
      return true;
    }
    if (last === 0) return false;
    const prevNeed = PCM_STATUS_SIZE - lastLen;
    if (c.writeLen[last - 1] < prevNeed) return false;
    u[m + M_STATUS_ADDR0] = c.writeAddr[last - 1] + c.writeLen[last - 1] - prevNeed;
    u[m + M_STATUS_LEN0] = prevNeed;
    u[m + M_STATUS_ADDR1] = c.writeAddr[last];
    u[m + M_STATUS_LEN1] = lastLen;
    return true;
  }

  /** Copies the payload's segments (after the xfer header / before the status) into the entry. */
  private placePayload(m: number): boolean {
    const c = this.chain;
    const u = this.s.i32;
    const addrs = this.tx ? c.readAddr : c.writeAddr;
    const lens = this.tx ? c.readLen : c.writeLen;
    const count = this.tx ? c.readCount : c.writeCount;
    let skip = this.tx ? PCM_XFER_SIZE : 0;
    let left = this.tx ? c.readBytes - PCM_XFER_SIZE : c.writeBytes - PCM_STATUS_SIZE;
    let n = 0;
    for (let i = 0; i < count && left > 0; i++) {
      let a = addrs[i];
      let len = lens[i];
      if (skip >= len) {
        skip -= len;
        continue;
      }
      a += skip;
      len -= skip;
      skip = 0;
      if (len > left) len = left;
      if (n === MAX_IO_SEGMENTS) return false;
      u[m + M_SEG_BASE + 2 * n] = a;
      u[m + M_SEG_BASE + 2 * n + 1] = len;
      n++;
      left -= len;
    }
    u[m + M_SEGMENTS] = n;
    return true;
  }

  /** Writes {status, latency_bytes} where the message's status goes. */
  private writeStatus(m: number, status: number, latency: number): void {
    const u = this.s.i32;
    const g = this.mem.u8;
    const a0 = u[m + M_STATUS_ADDR0] >>> 0;
    const l0 = u[m + M_STATUS_LEN0];
    const a1 = u[m + M_STATUS_ADDR1] >>> 0;
    for (let k = 0; k < PCM_STATUS_SIZE; k++) {
      const byte = (k < 4 ? status >>> (8 * k) : latency >>> (8 * (k - 4))) & 0xff;
      g[k < l0 ? a0 + k : a1 + (k - l0)] = byte;
    }
  }

  /** Number of messages queued for `stream`. */
  count(stream: number): number {
    const st = this.s.stream(stream);
    return (this.s.i32[st + S_FIFO_WRITE] - this.s.i32[st + S_FIFO_READ]) | 0;
  }

  /** Word offset of the oldest message entry of `stream`, or -1. */
  front(stream: number): number {
    if (this.count(stream) === 0) return -1;
    const st = this.s.stream(stream);
    const r = this.s.i32[st + S_FIFO_READ];
    return this.s.message(this.tx, this.s.i32[this.s.fifo(stream) + (r & (IO_QUEUE_MAX - 1))]);
  }

  /** Head id of the message entry at word offset `m`. */
  headOf(m: number): number {
    return ((m - this.s.message(this.tx, 0)) / MSG_WORDS) | 0;
  }

  /**
   * Completes the oldest message of `stream` with `status`. latency_bytes is
   * what is still queued for the stream afterwards. Returns the head id.
   */
  completeFront(stream: number, status: number): number {
    const m = this.front(stream);
    if (m < 0) return -1;
    const u = this.s.i32;
    const st = this.s.stream(stream);
    u[st + S_FIFO_READ] = u[st + S_FIFO_READ] + 1;
    const remaining = u[m + M_BYTES] - u[m + M_DONE];
    u[st + S_QUEUED_BYTES] -= remaining;
    const latency = this.tx ? u[st + S_QUEUED_BYTES] : 0;
    this.writeStatus(m, status, latency);
    const head = this.headOf(m);
    u[m + M_STREAM] = FREE;
    this.queue.pushUsed(head, this.tx ? PCM_STATUS_SIZE : u[m + M_DONE] + PCM_STATUS_SIZE);
    u[st + S_COMPLETED]++;
    u[st + S_LAST_LATENCY] = latency;
    const frame = Atomics.load(u, H_FRAMES_LO);
    u[st + S_LAST_COMPLETION_FRAME] = frame;
    const w = u[H_COMPLETION_WRITE];
    const e = this.s.layout.completions + 4 * (w & (COMPLETION_LOG_ENTRIES - 1));
    u[e] = stream;
    u[e + 1] = frame;
    u[e + 2] = latency;
    u[e + 3] = head;
    Atomics.store(u, H_COMPLETION_WRITE, w + 1);
    return head;
  }

  /** Completes every queued message of `stream` (RELEASE): what RX captured so far is kept. */
  flush(stream: number, status: number): number {
    let n = 0;
    while (this.completeFront(stream, status) >= 0) n++;
    return n;
  }
}
