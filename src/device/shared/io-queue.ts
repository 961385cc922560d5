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
 * A message that breaks them is completed at once with VIRTIO_SND_S_BAD_MSG,
 * and so is one whose payload is larger than any stream's buffer could be
 * (MAX_BUFFER_BYTES): descriptors aliasing the same pages could otherwise
 * claim more than 2^31 bytes, which the int32 entries cannot hold.
 */

import {
  PCM_STATUS,
  PCM_XFER,
  VIRTIO_SND_D_INPUT,
  VIRTIO_SND_D_OUTPUT,
  VIRTIO_SND_S_BAD_MSG,
  VIRTIO_SND_VQ_RX,
  VIRTIO_SND_VQ_TX,
} from '../../snd/protocol.ts';
import { ChainError, DescriptorChain, isRingFatal } from '../../virtio/chain.ts';
import { DeviceQueue, POP_EMPTY } from '../../virtio/device-queue.ts';
import type { GuestMemory } from '../../virtio/memory.ts';
import { logCompletion } from './completion-log.ts';
import {
  IO_QUEUE_MAX,
  MAX_BUFFER_BYTES,
  MAX_IO_SEGMENTS,
  type MessageSlot,
  type SharedState,
  type StreamSlot,
} from './layout.ts';
import { acceptsIo } from './stream-state.ts';

export class IoQueue {
  readonly queue: DeviceQueue;
  private readonly chain = new DescriptorChain(IO_QUEUE_MAX);
  private readonly dir: number;

  constructor(
    readonly mem: GuestMemory,
    readonly s: SharedState,
    readonly tx: boolean,
  ) {
    const index = tx ? VIRTIO_SND_VQ_TX : VIRTIO_SND_VQ_RX;
    this.queue = new DeviceQueue(mem, s.queueState(index), index);
    this.dir = tx ? VIRTIO_SND_D_OUTPUT : VIRTIO_SND_D_INPUT;
  }

  /** Forgets every message (device reset): all entries free, FIFOs empty. */
  clear(): void {
    for (let h = 0; h < IO_QUEUE_MAX; h++) this.s.message(this.tx, h).release();
    for (const st of this.s.streams) {
      if (st.direction !== this.dir) continue; // the other queue's streams are not ours
      st.fifoClear();
      st.queuedBytes = 0;
    }
  }

  /**
   * Takes the available chains off the ring: at most one queue's worth per
   * call, so a guest that republishes rejected chains as fast as they come
   * back (from another thread) cannot hold the audio thread here; the rest
   * waits for the next call. Returns false when the ring is broken (the device
   * must then signal NEEDS_RESET).
   */
  intake(): boolean {
    const q = this.queue;
    if (!q.ready) return q.error === ChainError.None;
    // Everything available when we start fits in one queue's worth (available() <= size).
    for (let budget = q.size; budget > 0; budget--) {
      const r = q.pop(this.chain);
      if (r === POP_EMPTY) return true;
      if (r !== ChainError.None && (isRingFatal(r) || !q.ready)) return false;
      // Checked before anything is handed back: a head we still hold must never
      // reach the used ring early (even when its descriptors are now unusable),
      // or the guest would see it used twice and we would later write into
      // buffers it has reused.
      if (!this.s.message(this.tx, this.chain.head).free) {
        // The guest made a chain available twice while we still hold it.
        q.fail(ChainError.UsedIdInvalid);
        return false;
      }
      if (r !== ChainError.None) {
        // A buffer outside memory or similar: hand the chain back untouched.
        this.s.badMessages.add(1);
        q.pushUsed(this.chain.head, 0);
        continue;
      }
      this.accept();
    }
    return true;
  }

  private accept(): void {
    const c = this.chain;
    const m = this.s.message(this.tx, c.head);
    // The status is the last 8 device-writable bytes; it may straddle two descriptors.
    if (c.writeBytes < PCM_STATUS.size || !this.placeStatus(m)) {
      this.s.badMessages.add(1);
      this.queue.pushUsed(c.head, 0);
      return;
    }
    const streamId = this.readStreamId();
    const payload = this.tx ? c.readBytes - PCM_XFER.size : c.writeBytes - PCM_STATUS.size;
    let ok =
      streamId >= 0 &&
      streamId < this.s.streams.length &&
      payload > 0 &&
      (this.tx ? c.writeBytes === PCM_STATUS.size : c.readBytes === PCM_XFER.size);
    if (ok) {
      const st = this.s.streams[streamId];
      const frame = st.frameBytes;
      ok =
        st.direction === this.dir &&
        acceptsIo(st.state) &&
        frame > 0 &&
        payload <= MAX_BUFFER_BYTES &&
        payload % frame === 0 &&
        this.placePayload(m);
    }
    if (!ok) {
      this.s.badMessages.add(1);
      this.writeStatus(m, VIRTIO_SND_S_BAD_MSG, 0);
      this.queue.pushUsed(c.head, PCM_STATUS.size);
      return;
    }
    const st = this.s.streams[streamId];
    m.stream = streamId;
    m.bytes = payload;
    m.done = 0;
    st.fifoPush(c.head);
    st.queuedBytes += payload;
  }

  /** The le32 stream_id at the start of the readable part (-1 if it is shorter). */
  private readStreamId(): number {
    const c = this.chain;
    if (c.readBytes < PCM_XFER.size) return -1;
    let v = 0;
    let k = 0;
    for (let i = 0; i < c.readCount && k < 4; i++) {
      const a = c.readAddr[i];
      for (let j = 0; j < c.readLen[i] && k < 4; j++, k++) v |= this.mem.u8[a + j] << (8 * k);
    }
    return v >>> 0 > 0x7fffffff ? -1 : v;
  }

  /** Records where the status goes: the last 8 writable bytes, in at most two pieces. */
  private placeStatus(m: MessageSlot): boolean {
    const c = this.chain;
    const size = PCM_STATUS.size;
    const last = c.writeCount - 1;
    const lastLen = c.writeLen[last];
    if (lastLen >= size) {
      m.setStatus(c.writeAddr[last] + lastLen - size, size, 0, 0);
      return true;
    }
    if (last === 0) return false;
    const prevNeed = size - lastLen;
    if (c.writeLen[last - 1] < prevNeed) return false;
    m.setStatus(
      c.writeAddr[last - 1] + c.writeLen[last - 1] - prevNeed,
      prevNeed,
      c.writeAddr[last],
      lastLen,
    );
    return true;
  }

  /** Copies the payload's segments (after the xfer header / before the status) into the entry. */
  private placePayload(m: MessageSlot): boolean {
    const c = this.chain;
    const addrs = this.tx ? c.readAddr : c.writeAddr;
    const lens = this.tx ? c.readLen : c.writeLen;
    const count = this.tx ? c.readCount : c.writeCount;
    let skip = this.tx ? PCM_XFER.size : 0;
    let left = this.tx ? c.readBytes - PCM_XFER.size : c.writeBytes - PCM_STATUS.size;
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
      m.setSegment(n, a, len);
      n++;
      left -= len;
    }
    m.segments = n;
    return true;
  }

  /** Writes {status, latency_bytes} where the message's status goes. */
  private writeStatus(m: MessageSlot, status: number, latency: number): void {
    const g = this.mem.u8;
    const a0 = m.statusAddr0;
    const l0 = m.statusLen0;
    const a1 = m.statusAddr1;
    for (let k = 0; k < PCM_STATUS.size; k++) {
      const byte = (k < 4 ? status >>> (8 * k) : latency >>> (8 * (k - 4))) & 0xff;
      g[k < l0 ? a0 + k : a1 + (k - l0)] = byte;
    }
  }

  /** Number of messages queued for `stream`. */
  count(stream: number): number {
    return this.s.streams[stream].fifoCount;
  }

  /** The oldest message of `stream`, or null. */
  front(stream: number): MessageSlot | null {
    const head = this.s.streams[stream].fifoFront();
    return head < 0 ? null : this.s.message(this.tx, head);
  }

  /**
   * Completes the oldest message of `stream` with `status`. For TX,
   * latency_bytes is what is still queued for the stream afterwards plus the
   * output's own latency (until heard) in the stream's bytes. Returns the head id.
   */
  completeFront(stream: number, status: number): number {
    const m = this.front(stream);
    if (m === null) return -1;
    const st = this.s.streams[stream];
    st.fifoPop();
    st.queuedBytes -= m.bytes - m.done;
    const latency = this.tx ? st.queuedBytes + this.outputLatencyBytes(st) : 0;
    this.writeStatus(m, status, latency);
    const head = m.head;
    m.release();
    this.queue.pushUsed(head, this.tx ? PCM_STATUS.size : m.done + PCM_STATUS.size);
    st.completed++;
    st.lastLatency = latency;
    const frame = this.s.framesLo.load();
    st.lastCompletionFrame = frame;
    logCompletion(this.s, stream, frame, latency, head);
    return head;
  }

  /** The host-reported output latency in whole frames of `st`, as bytes. */
  private outputLatencyBytes(st: StreamSlot): number {
    const us = this.s.outputLatencyUs.value;
    return us > 0 ? Math.floor((us * st.rateHz) / 1e6) * st.frameBytes : 0;
  }

  /** Completes every queued message of `stream` (RELEASE): what RX captured so far is kept. */
  flush(stream: number, status: number): number {
    let n = 0;
    while (this.completeFront(stream, status) >= 0) n++;
    return n;
  }
}
