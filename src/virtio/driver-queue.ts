/**
 * The driver side of a split virtqueue: places buffers on the available ring
 * and collects them from the used ring. Modeled on Linux virtio_ring.c.
 *
 * The device is untrusted: every used entry is checked (id in flight, length
 * within the chain's writable size, index not ahead of what is in flight),
 * and a violation throws a {@link VirtqueueError} and marks the queue broken.
 * The free list and per-chain bookkeeping live in private arrays, never read
 * back from guest memory, so a device scribbling on the descriptor table
 * cannot corrupt them.
 */

import { ChainError, VirtqueueError } from './chain.ts';
import type { Allocator } from './heap.ts';
import type { GuestMemory } from './memory.ts';
import {
  AVAIL_ALIGN,
  AVAIL_FLAGS,
  AVAIL_IDX,
  AVAIL_RING,
  availEventAddr,
  availRingBytes,
  DESC_ADDR,
  DESC_ALIGN,
  DESC_FLAGS,
  DESC_LEN,
  DESC_NEXT,
  DESC_SIZE,
  descTableBytes,
  isPowerOfTwo,
  USED_ALIGN,
  USED_ELEM_SIZE,
  USED_FLAGS,
  USED_IDX,
  USED_RING,
  usedEventAddr,
  usedRingBytes,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_MAX_SIZE,
  VIRTQ_USED_F_NO_NOTIFY,
  vringNeedEvent,
} from './ring.ts';

/** A buffer in guest memory. */
export interface Segment {
  addr: number;
  len: number;
}

/** Where a queue's three parts sit in guest memory. */
export interface QueueLayout {
  size: number;
  descAddr: number;
  availAddr: number;
  usedAddr: number;
}

/** Places the three parts of a queue of `size` entries with the spec's alignment. */
export function allocateQueue(alloc: Allocator, size: number): QueueLayout {
  if (!isPowerOfTwo(size) || size > VIRTQ_MAX_SIZE) {
    throw new VirtqueueError(ChainError.BadChain, -1, `queue size ${size} is not a power of two`);
  }
  return {
    size,
    descAddr: alloc.alloc(descTableBytes(size), DESC_ALIGN),
    availAddr: alloc.alloc(availRingBytes(size), AVAIL_ALIGN),
    usedAddr: alloc.alloc(usedRingBytes(size), USED_ALIGN),
  };
}

/** The end of the free list. */
export const NO_DESC = 0xffff;

/**
 * A queue's driver-side bookkeeping as plain values (snapshots). Each chain
 * in flight carries a token; here it is whatever `R` the owner maps its
 * tokens to (an index, an address), or null for a head with no chain.
 */
export interface DriverQueueState<R> {
  layout: QueueLayout;
  eventIdx: boolean;
  index: number;
  numFree: number;
  broken: number;
  lastLen: number;
  freeHead: number;
  nextFree: number[];
  chainLen: number[];
  writable: number[];
  tokens: (R | null)[];
  availIdx: number;
  lastUsedIdx: number;
  kickedAvail: number;
  inFlight: number;
}

export class DriverQueue<T = unknown> {
  readonly size: number;
  /** Free descriptors. */
  numFree: number;
  /** Set when the device broke the protocol; the driver must reset the device. */
  broken: ChainError = ChainError.None;
  /** Length the device reported for the buffer last returned by getBuf(). */
  lastLen = 0;

  private freeHead = 0;
  private readonly nextFree: Uint16Array;
  /** Per head: descriptors in the chain (0 = not in flight). */
  private readonly chainLen: Uint16Array;
  /** Per head: total device-writable bytes. */
  private readonly writable: Float64Array;
  private readonly tokens: (T | undefined)[];
  private availIdx = 0;
  private lastUsedIdx = 0;
  /** avail.idx at the last kickPrepare(), for EVENT_IDX. */
  private kickedAvail = 0;
  private inFlight = 0;

  constructor(
    readonly mem: GuestMemory,
    readonly layout: QueueLayout,
    readonly opts: { eventIdx?: boolean; index?: number } = {},
    /** Internal (restore()): leave the rings in guest memory as they are. */
    keepRings = false,
  ) {
    const { size } = layout;
    if (!isPowerOfTwo(size) || size > VIRTQ_MAX_SIZE) {
      throw new VirtqueueError(ChainError.BadChain, this.index, `queue size ${size}`);
    }
    mem.check(layout.descAddr, descTableBytes(size));
    mem.check(layout.availAddr, availRingBytes(size));
    mem.check(layout.usedAddr, usedRingBytes(size));
    this.size = size;
    this.numFree = size;
    this.nextFree = new Uint16Array(size);
    this.chainLen = new Uint16Array(size);
    this.writable = new Float64Array(size);
    this.tokens = new Array<T | undefined>(size).fill(undefined);
    if (!keepRings) this.reset();
  }

  /** The bookkeeping, with each token mapped by `ref`. */
  saveState<R>(ref: (token: T) => R): DriverQueueState<R> {
    return {
      layout: { ...this.layout },
      eventIdx: this.opts.eventIdx ?? false,
      index: this.index,
      numFree: this.numFree,
      broken: this.broken,
      lastLen: this.lastLen,
      freeHead: this.freeHead,
      nextFree: [...this.nextFree],
      chainLen: [...this.chainLen],
      writable: [...this.writable],
      tokens: this.tokens.map((t) => (t === undefined ? null : ref(t))),
      availIdx: this.availIdx,
      lastUsedIdx: this.lastUsedIdx,
      kickedAvail: this.kickedAvail,
      inFlight: this.inFlight,
    };
  }

  /**
   * A queue with bookkeeping `s` (checked: see driver-queue-snapshot.ts) over
   * rings already in guest memory, which are left untouched; `tokens[head]`
   * is the token of the chain at each head.
   */
  static restore<T>(
    mem: GuestMemory,
    s: DriverQueueState<unknown>,
    tokens: readonly (T | undefined)[],
  ): DriverQueue<T> {
    const q = new DriverQueue<T>(mem, s.layout, { eventIdx: s.eventIdx, index: s.index }, true);
    q.numFree = s.numFree;
    q.broken = s.broken;
    q.lastLen = s.lastLen;
    q.freeHead = s.freeHead;
    q.nextFree.set(s.nextFree);
    q.chainLen.set(s.chainLen);
    q.writable.set(s.writable);
    for (let i = 0; i < q.size; i++) q.tokens[i] = tokens[i];
    q.availIdx = s.availIdx;
    q.lastUsedIdx = s.lastUsedIdx;
    q.kickedAvail = s.kickedAvail;
    q.inFlight = s.inFlight;
    return q;
  }

  get index(): number {
    return this.opts.index ?? -1;
  }

  /** Number of chains made available and not yet returned. */
  get pending(): number {
    return this.inFlight;
  }

  /** Zeroes the rings and forgets everything in flight (after a device reset). */
  reset(): void {
    const { mem, layout, size } = this;
    mem.fill(layout.descAddr, descTableBytes(size));
    mem.fill(layout.availAddr, availRingBytes(size));
    mem.fill(layout.usedAddr, usedRingBytes(size));
    for (let i = 0; i < size; i++) this.nextFree[i] = i + 1 < size ? i + 1 : NO_DESC;
    this.chainLen.fill(0);
    this.writable.fill(0);
    this.tokens.fill(undefined);
    this.freeHead = 0;
    this.numFree = size;
    this.availIdx = 0;
    this.lastUsedIdx = 0;
    this.kickedAvail = 0;
    this.inFlight = 0;
    this.broken = ChainError.None;
  }

  /**
   * Adds a chain: the first `readable` segments are device-readable, the rest
   * device-writable. Publishes it on the available ring. Returns the head id.
   * Throws VirtqueueError(QueueFull) when there are not enough descriptors.
   */
  add(segments: readonly Segment[], readable: number, token: T): number {
    const n = segments.length;
    if (this.broken) throw new VirtqueueError(this.broken, this.index, 'queue is broken');
    if (n === 0 || readable < 0 || readable > n || token === undefined) {
      throw new VirtqueueError(ChainError.BadChain, this.index);
    }
    if (n > this.numFree) throw new VirtqueueError(ChainError.QueueFull, this.index);
    const view = this.mem.view;
    const head = this.freeHead;
    let idx = head;
    let last = head;
    let writable = 0;
    for (let i = 0; i < n; i++) {
      const { addr, len } = segments[i];
      if (len <= 0 || !this.mem.contains(addr, len)) {
        throw new VirtqueueError(
          ChainError.BadChain,
          this.index,
          `segment ${i} [${addr}, +${len})`,
        );
      }
    }
    for (let i = 0; i < n; i++) {
      const { addr, len } = segments[i];
      const d = this.layout.descAddr + idx * DESC_SIZE;
      const isWrite = i >= readable;
      if (isWrite) writable += len;
      view.setUint32(d + DESC_ADDR, addr, true);
      view.setUint32(d + DESC_ADDR + 4, 0, true);
      view.setUint32(d + DESC_LEN, len, true);
      const next = this.nextFree[idx];
      view.setUint16(
        d + DESC_FLAGS,
        (isWrite ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0),
        true,
      );
      view.setUint16(d + DESC_NEXT, i + 1 < n ? next : 0, true);
      last = idx;
      idx = next;
    }
    this.freeHead = this.nextFree[last];
    this.numFree -= n;
    this.chainLen[head] = n;
    this.writable[head] = writable;
    this.tokens[head] = token;
    this.inFlight++;

    const slot = this.availIdx & (this.size - 1);
    view.setUint16(this.layout.availAddr + AVAIL_RING + 2 * slot, head, true);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    // Release: descriptors and ring slot are written before the index moves.
    this.mem.storeU16(this.layout.availAddr + AVAIL_IDX, this.availIdx);
    return head;
  }

  /** Whether the device wants a notification for what was added since the last call. */
  kickPrepare(): boolean {
    const oldIdx = this.kickedAvail;
    const newIdx = this.availIdx;
    this.kickedAvail = newIdx;
    if (oldIdx === newIdx) return false;
    if (this.opts.eventIdx) {
      const ev = this.mem.loadU16(availEventAddr(this.layout.usedAddr, this.size));
      return vringNeedEvent(ev, newIdx, oldIdx);
    }
    return (this.mem.loadU16(this.layout.usedAddr + USED_FLAGS) & VIRTQ_USED_F_NO_NOTIFY) === 0;
  }

  /** True when the device has returned buffers that getBuf() has not collected. */
  hasUsed(): boolean {
    return this.mem.loadU16(this.layout.usedAddr + USED_IDX) !== this.lastUsedIdx;
  }

  /**
   * Takes the next used buffer: returns its token (and sets lastLen), or
   * undefined when there is none. Throws VirtqueueError when the device
   * returned something impossible; the queue is then broken.
   */
  getBuf(): T | undefined {
    if (this.broken) return undefined;
    const usedIdx = this.mem.loadU16(this.layout.usedAddr + USED_IDX);
    const n = (usedIdx - this.lastUsedIdx) & 0xffff;
    if (n === 0) return undefined;
    if (n > this.inFlight) return this.breakQueue(ChainError.UsedIndexJump, `used.idx ${usedIdx}`);
    const e =
      this.layout.usedAddr + USED_RING + USED_ELEM_SIZE * (this.lastUsedIdx & (this.size - 1));
    const id = this.mem.view.getUint32(e, true);
    const len = this.mem.view.getUint32(e + 4, true);
    if (id >= this.size || this.chainLen[id] === 0) {
      return this.breakQueue(ChainError.UsedIdInvalid, `id ${id}`);
    }
    if (len > this.writable[id]) {
      return this.breakQueue(ChainError.UsedLenTooLarge, `id ${id} len ${len}`);
    }
    this.lastUsedIdx = (this.lastUsedIdx + 1) & 0xffff;
    const token = this.tokens[id];
    this.release(id);
    this.lastLen = len;
    if (this.opts.eventIdx) {
      // Interrupt me again after the next used buffer.
      this.mem.storeU16(usedEventAddr(this.layout.availAddr, this.size), this.lastUsedIdx);
    }
    return token;
  }

  /** Asks the device not to interrupt (a hint; VIRTQ_AVAIL_F_NO_INTERRUPT). */
  disableInterrupts(): void {
    if (!this.opts.eventIdx) {
      this.mem.storeU16(this.layout.availAddr + AVAIL_FLAGS, VIRTQ_AVAIL_F_NO_INTERRUPT);
    }
  }

  /**
   * Re-enables interrupts. Returns false when buffers arrived meanwhile, so
   * the caller must poll again (the race Linux's virtqueue_enable_cb closes).
   */
  enableInterrupts(): boolean {
    if (this.opts.eventIdx) {
      this.mem.storeU16(usedEventAddr(this.layout.availAddr, this.size), this.lastUsedIdx);
    } else {
      this.mem.storeU16(this.layout.availAddr + AVAIL_FLAGS, 0);
    }
    return !this.hasUsed();
  }

  /**
   * After a device reset: returns the tokens of every chain still in flight
   * (in head order) and frees their descriptors.
   */
  detachAll(): T[] {
    const out: T[] = [];
    for (let id = 0; id < this.size; id++) {
      if (this.chainLen[id] !== 0) {
        const t = this.tokens[id];
        if (t !== undefined) out.push(t);
      }
    }
    this.reset();
    return out;
  }

  private release(head: number): void {
    // Walk our own record of the chain: indices were handed out from the free
    // list in order, so the chain is head, nextFree[head], ... (n entries).
    const n = this.chainLen[head];
    let last = head;
    for (let i = 1; i < n; i++) last = this.nextFree[last];
    this.nextFree[last] = this.freeHead;
    this.freeHead = head;
    this.numFree += n;
    this.chainLen[head] = 0;
    this.writable[head] = 0;
    this.tokens[head] = undefined;
    this.inFlight--;
  }

  private breakQueue(code: ChainError, detail: string): never {
    this.broken = code;
    throw new VirtqueueError(code, this.index, detail);
  }
}
