/**
 * The relay's TX/RX half: guest I/O messages become inner messages (copied
 * into the relay's SharedArrayBuffer) and inner completions become guest
 * completions. A TX message is handed over at once, or held back until
 * shortly before it plays for a guest that re-queues periods before writing
 * them (tx-holdback.ts); messages that find the inner queue full, or the relay's
 * heap without room for their copy, wait in order in a backlog and are
 * retried as completions free room. Nothing is dropped: every guest message
 * is completed once. What the relay cannot carry at all is answered here:
 * a payload larger than any stream buffer with BAD_MSG (what the inner device
 * would answer), a valid message larger than the whole heap with IO_ERR (the
 * device failed to do I/O it was asked for, spec 5.14.6.8: status is OK or
 * IO_ERR). Never throws: it runs inside the emulator's MMIO writes and polls.
 * Runs on the emulator's thread, beside RelayDevice.
 */

import { MAX_BUFFER_BYTES } from '../device/index.ts';
import {
  PCM_STATUS,
  PCM_XFER,
  VIRTIO_SND_S_BAD_MSG,
  VIRTIO_SND_S_IO_ERR,
  VIRTIO_SND_S_OK,
  VIRTIO_SND_VQ_RX,
  VIRTIO_SND_VQ_TX,
} from '../snd/protocol.ts';
import type { DescriptorChain } from '../virtio/chain.ts';
import type { DriverQueue } from '../virtio/driver-queue.ts';
import type { GuestHeap } from '../virtio/heap.ts';
import type { GuestMemory } from '../virtio/memory.ts';
import type { CompletionGate } from './completion-gate.ts';
import type { GuestRings } from './guest-rings.ts';
import type { GuestCompletion, IoRelayState, Relayed } from './relayed.ts';
import { payloadSignature, type TxHoldback, type TxMode } from './tx-holdback.ts';

const TXQ = VIRTIO_SND_VQ_TX;
const RXQ = VIRTIO_SND_VQ_RX;
const STATUS_BYTES = PCM_STATUS.size;

export interface IoRelayStats {
  /** Bytes copied guest -> inner and back, for the relay's cost. */
  bytesRelayed: number;
  /** Guest TX/RX messages handed to the inner device. */
  messagesRelayed: number;
  /** Guest TX messages taken but not yet copied to the inner device (waiting to be due). */
  heldMessages: number;
  /** The most TX messages held back at once. */
  heldMessagesPeak: number;
  /** Messages waiting for room in the inner queue or the relay's heap. */
  backlogged: number;
  /** Messages the relay answered itself: too large for any stream (BAD_MSG) or for its heap (IO_ERR). */
  refused: number;
  /** Completions the guest has not been given yet (completion-gate.ts). */
  withheld: number;
}

export class IoRelay {
  private bytesRelayed = 0;
  private messagesRelayed = 0;
  private heldMessagesPeak = 0;
  private refused = 0;
  /**
   * The largest inner copy the heap can ever hold (its free room once the
   * rings and the control area are placed); a larger one would wait forever.
   */
  private messageRoom = 0;
  private readonly status = new Uint8Array(STATUS_BYTES);
  private readonly statusView = new DataView(this.status.buffer);
  /** Messages (by queue index) that found the inner queue full, oldest first. */
  private readonly backlog: Relayed[][] = [[], [], [], []];
  private readonly header = new Uint8Array(PCM_XFER.size);
  /** Our TX and RX queues to the inner device (by queue index), from activate(). */
  private readonly inner: (DriverQueue<Relayed> | null)[] = [null, null, null, null];

  /** A timer that gives the guest withheld completions when they expire. */
  private gateTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly guest: GuestRings,
    /** The relay's SharedArrayBuffer, where inner messages live. */
    private readonly innerMem: GuestMemory,
    private readonly heap: GuestHeap,
    private readonly holdback: TxHoldback<Relayed>,
    private readonly gate: CompletionGate<GuestCompletion>,
    /** Called (from a timer) when withheld completions are due: the relay polls. */
    private readonly wake: () => void = () => {},
  ) {}

  /**
   * The inner device is (re)started with these TX and RX queues; call it
   * after every permanent allocation from the heap is made.
   */
  activate(tx: DriverQueue<Relayed>, rx: DriverQueue<Relayed>): void {
    this.inner[TXQ] = tx;
    this.inner[RXQ] = rx;
    // Less 7 bytes: a block that does not start 8-aligned loses up to 7 to alignment.
    this.messageRoom = Math.max(0, this.heap.largestFree - 7);
  }

  stats(): IoRelayStats {
    return {
      bytesRelayed: this.bytesRelayed,
      messagesRelayed: this.messagesRelayed,
      heldMessages: this.heldMessages(),
      heldMessagesPeak: this.heldMessagesPeak,
      backlogged: this.backlog[TXQ].length + this.backlog[RXQ].length,
      refused: this.refused,
      withheld: this.gate.waiting,
    };
  }

  /** How stream `id`'s TX messages are handed over now. */
  txMode(id: number): TxMode {
    return this.holdback.mode(id);
  }

  private heldMessages(): number {
    let n = 0;
    for (let s = 0; s < this.holdback.streamCount; s++) n += this.holdback.heldCount(s);
    return n;
  }

  /** Takes new guest messages, hands over what is due, and gives the guest expired completions. */
  poll(): void {
    this.pump(TXQ);
    this.pump(RXQ);
    this.give(this.gate.expired());
  }

  /**
   * Before a control request: the inner device must see every message queued
   * before it, and the guest every completion withheld from it.
   */
  beforeCommand(): void {
    this.poll();
    for (const m of this.holdback.takeAll()) this.forward(m);
    this.give(this.gate.clear());
  }

  /** After a control request: the guest gets every completion, those it returned too. */
  afterCommand(): void {
    this.give(this.gate.clear());
  }

  /** Gives the guest completions the gate withheld, and signals its queues. */
  private give(items: readonly GuestCompletion[]): void {
    if (items.length === 0) return;
    let tx = false;
    let rx = false;
    for (const it of items) {
      this.guest.queue(it.q).pushUsed(it.head, it.len);
      if (it.q === TXQ) tx = true;
      else rx = true;
    }
    if (tx) this.guest.signal(this.guest.queue(TXQ));
    if (rx) this.guest.signal(this.guest.queue(RXQ));
  }

  /** Wakes the relay when the next withheld completion expires (the gate's clock is the audio clock). */
  private armGateTimer(): void {
    if (this.gateTimer !== null || this.gate.waiting === 0) return;
    const ms = Math.max(0, this.gate.nextExpiry() - this.gate.clock());
    this.gateTimer = setTimeout(() => {
      this.gateTimer = null;
      this.wake();
      this.armGateTimer();
    }, ms + 1);
  }

  /** The inner device accepted PREPARE (its position restarts) for stream `id`. */
  prepared(id: number): void {
    if (id < this.holdback.streamCount) this.holdback.prepared(id);
  }

  /** The inner device accepted START for stream `id`. */
  started(id: number): void {
    if (id < this.holdback.streamCount) this.holdback.started(id);
  }

  /** The inner device accepted RELEASE: complete, with OK, what of stream `id` still waits here. */
  released(id: number): void {
    const mem = this.guest.mem();
    for (const qi of [TXQ, RXQ]) {
      const q = this.guest.queue(qi);
      const b = this.backlog[qi];
      const before = b.length;
      let kept = 0;
      for (const rel of b) {
        if (this.streamOf(mem, rel.chain) !== id) b[kept++] = rel;
        else this.answer(rel, VIRTIO_SND_S_OK);
      }
      b.length = kept;
      if (kept !== before) this.guest.signal(q);
    }
  }

  /**
   * Completes a guest message here with `status` (latency_bytes 0) and used
   * length 8: nothing captured. Every message the relay takes has at least 8
   * writable bytes (pump() hands back shorter ones unused, as the device does).
   */
  private answer(rel: Relayed, status: number): void {
    const c = rel.chain;
    this.statusView.setUint32(PCM_STATUS.status, status, true);
    this.statusView.setUint32(PCM_STATUS.latencyBytes, 0, true);
    c.copyToWritable(this.guest.mem(), c.writeBytes - STATUS_BYTES, this.status, 0, STATUS_BYTES);
    this.guest.queue(rel.q).pushUsed(c.head, STATUS_BYTES);
  }

  /** Completes the guest messages whose inner messages on queue `qi` came back. */
  collect(qi: number): void {
    const iq = this.inner[qi];
    if (!iq) return;
    const mem = this.guest.mem();
    const inner = this.innerMem;
    const q = this.guest.queue(qi);
    for (let rel = iq.getBuf(); rel !== undefined; rel = iq.getBuf()) {
      const c = rel.chain;
      const len = iq.lastLen;
      // The status is the last 8 writable bytes; RX data comes first.
      const w = rel.inner + c.readBytes;
      const status = w + c.writeBytes - STATUS_BYTES;
      const data = Math.max(0, len - STATUS_BYTES);
      if (qi === TXQ && rel.stream >= 0) {
        // What the guest's buffer holds now: a re-queue that brings it back unwritten
        // tells a guest that re-queues before writing (tx-holdback.ts).
        let sig = -1;
        if (rel.buffer >= 0 && this.holdback.watching(rel.stream))
          sig = guestPayloadSignature(mem, rel);
        this.holdback.completed(rel.stream, rel.payload, rel.buffer, sig);
        // latency_bytes: what the inner device still has, plus what waits here.
        if (len >= STATUS_BYTES && status >= w) {
          const latency = inner.readU32(status + 4) + this.holdback.heldBytes(rel.stream);
          // Saturated: held messages may add up past 2^32 bytes.
          inner.writeU32(status + 4, Math.min(latency, 0xffffffff));
        }
      }
      c.copyToWritable(mem, 0, inner.bytes(w, data), 0, data);
      c.copyToWritable(
        mem,
        c.writeBytes - STATUS_BYTES,
        inner.bytes(status, STATUS_BYTES),
        0,
        STATUS_BYTES,
      );
      this.bytesRelayed += data;
      // A period played or filled: the guest hears of it now, or once it shows it read the
      // last ones (completion-gate.ts). Anything else (an error, a refusal) goes at once.
      const played = len >= STATUS_BYTES && inner.readU32(status) === VIRTIO_SND_S_OK;
      this.heap.release(rel.inner);
      if (!played || this.gate.offer(rel.stream, { q: qi, head: c.head, len })) {
        q.pushUsed(c.head, len);
      }
    }
    this.guest.signal(q);
    this.armGateTimer();
  }

  /** Device reset: held, backlogged and withheld guest buffers are forgotten with the rings. */
  reset(): void {
    this.holdback.clear();
    this.gate.clear();
    if (this.gateTimer !== null) clearTimeout(this.gateTimer);
    this.gateTimer = null;
    for (const b of this.backlog) b.length = 0;
    this.inner[TXQ] = null;
    this.inner[RXQ] = null;
  }

  /** The state, each Relayed mapped by `ref` (the gate's completions are plain values). */
  saveState<R>(ref: (rel: Relayed) => R): IoRelayState<R> {
    const inner = (qi: number) => this.inner[qi]?.saveState(ref) ?? null;
    return {
      bytesRelayed: this.bytesRelayed,
      messagesRelayed: this.messagesRelayed,
      heldMessagesPeak: this.heldMessagesPeak,
      refused: this.refused,
      messageRoom: this.messageRoom,
      backlog: [this.backlog[TXQ].map(ref), this.backlog[RXQ].map(ref)],
      inner: [inner(TXQ), inner(RXQ)],
      holdback: this.holdback.saveState(ref),
      gate: this.gate.saveState(),
    };
  }

  /**
   * Takes a checked state; `tx` and `rx` are the inner queues it describes,
   * already restored over the relay's memory. The inner device must be
   * restored first (the hold-back's low-water marks follow its streams).
   * Withheld completions wait for their time again.
   */
  applyState(
    s: IoRelayState<Relayed>,
    tx: DriverQueue<Relayed> | null,
    rx: DriverQueue<Relayed> | null,
  ): void {
    this.reset();
    this.bytesRelayed = s.bytesRelayed;
    this.messagesRelayed = s.messagesRelayed;
    this.heldMessagesPeak = s.heldMessagesPeak;
    this.refused = s.refused;
    this.messageRoom = s.messageRoom;
    this.backlog[TXQ].push(...s.backlog[0]);
    this.backlog[RXQ].push(...s.backlog[1]);
    this.inner[TXQ] = tx;
    this.inner[RXQ] = rx;
    // What the inner device has of each stream: its TX messages in flight.
    const inFlight = s.holdback.map(() => 0);
    for (const rel of s.inner[0]?.tokens ?? []) {
      if (rel && rel.stream >= 0) inFlight[rel.stream] += rel.payload;
    }
    this.holdback.applyState(s.holdback, inFlight);
    this.gate.applyState(s.gate);
    this.armGateTimer();
  }

  private pump(qi: number): void {
    if (!this.inner[qi]) return;
    const mem = this.guest.mem();
    const q = this.guest.queue(qi);
    const c = this.guest.chain(qi);
    while (q.popValid(c)) {
      // No room for a status: handed back unused, as the inner device would.
      if (c.readBytes === 0 || c.writeBytes < STATUS_BYTES) {
        q.pushUsed(c.head, 0);
        continue;
      }
      const rel: Relayed = {
        q: qi,
        chain: c.snapshot(),
        stream: this.streamOf(mem, c),
        payload: Math.max(0, c.readBytes - PCM_XFER.size),
        buffer: -1,
        inner: -1,
      };
      // A new message: the guest read the position, so it may hear of more completions.
      if (rel.stream >= 0) this.give(this.gate.arrived(rel.stream));
      if (qi === TXQ && rel.payload > 0 && this.holdback.watching(rel.stream)) {
        rel.buffer = rel.chain.readableAddr(PCM_XFER.size);
        const sig = guestPayloadSignature(mem, rel);
        for (const m of this.holdback.arrived(rel.stream, rel.buffer, sig)) this.forward(m);
      }
      if (qi === TXQ && this.holdback.holds(rel.stream)) {
        this.holdback.hold(rel.stream, rel);
        this.heldMessagesPeak = Math.max(this.heldMessagesPeak, this.heldMessages());
      } else this.forward(rel);
    }
    this.guest.signal(q);
    this.drainBacklog(qi);
    if (qi === TXQ) this.feed();
  }

  /** The stream a TX/RX message's header names, or -1 if it names none of ours. */
  private streamOf(mem: GuestMemory, c: DescriptorChain): number {
    if (c.readBytes < PCM_XFER.size) return -1;
    const h = this.header;
    c.copyFromReadable(mem, PCM_XFER.streamId, h, 0, 4);
    const id = h[0] | (h[1] << 8) | (h[2] << 16) | (h[3] << 24);
    return id >= 0 && id < this.holdback.streamCount ? id : -1;
  }

  /** To the inner device, behind any backlog of its queue (nothing is dropped when it is full). */
  private forward(rel: Relayed): void {
    const b = this.backlog[rel.q];
    if (b.length > 0 || !this.handOver(rel)) b.push(rel);
  }

  /** Hands backlogged messages over while the inner queue has room. */
  private drainBacklog(qi: number): void {
    const b = this.backlog[qi];
    while (b.length > 0 && this.handOver(b[0])) b.shift();
  }

  /** Hands held TX messages over while their streams run short of audio (also when the inner device's low-water doorbell rings). */
  feed(): void {
    const iq = this.inner[TXQ];
    if (!iq) return;
    for (let s = 0; s < this.holdback.streamCount; s++) {
      while (this.backlog[TXQ].length === 0 && iq.numFree >= 2) {
        const m = this.holdback.due(s);
        if (m === undefined) break;
        // No room in the heap: it waits at the head of the backlog, never dropped.
        if (!this.handOver(m)) this.backlog[TXQ].push(m);
      }
    }
  }

  /**
   * Copies a guest message into a new inner one, or answers it here if the
   * relay can never carry it. False if it must wait: the inner queue is full
   * or the heap has no room for the copy now.
   */
  private handOver(rel: Relayed): boolean {
    const iq = this.inner[rel.q];
    if (!iq || iq.numFree < 2) return false;
    const c = rel.chain;
    const bytes = c.readBytes + c.writeBytes;
    const pcm = rel.q === TXQ ? rel.payload : c.writeBytes - STATUS_BYTES;
    if (pcm > MAX_BUFFER_BYTES || bytes > this.messageRoom) {
      this.refused++;
      this.answer(rel, pcm > MAX_BUFFER_BYTES ? VIRTIO_SND_S_BAD_MSG : VIRTIO_SND_S_IO_ERR);
      this.guest.signal(this.guest.queue(rel.q));
      return true;
    }
    const inner = this.heap.tryAlloc(bytes, 8);
    if (inner < 0) return false;
    const mem = this.innerMem;
    c.copyFromReadable(this.guest.mem(), 0, mem.bytes(inner, c.readBytes), 0, c.readBytes);
    mem.fill(inner + c.readBytes, c.writeBytes);
    rel.inner = inner;
    iq.add(
      [
        { addr: inner, len: c.readBytes },
        { addr: inner + c.readBytes, len: c.writeBytes },
      ],
      1,
      rel,
    );
    if (rel.q === TXQ && rel.stream >= 0) this.holdback.handedOver(rel.stream, rel.payload);
    this.bytesRelayed += c.readBytes;
    this.messagesRelayed++;
    return true;
  }
}

/** The signature of what a TX message's payload holds in guest memory now. */
function guestPayloadSignature(mem: GuestMemory, rel: Relayed): number {
  const bytes = mem.u8;
  return payloadSignature(rel.payload, (off) => bytes[rel.chain.readableAddr(PCM_XFER.size + off)]);
}
