/**
 * The device side of a split virtqueue.
 *
 * Its state (ring addresses, size, last_avail_idx, the used index...) lives in
 * a small Uint32Array that may sit in a SharedArrayBuffer, so the two halves of
 * a device (the control plane in a Worker and the renderer in the audio
 * thread) can each build a DeviceQueue over the same state. Only one of them
 * may use a given queue at a time (see device/queue-lock.ts); the lock's
 * atomic operations order the plain accesses made here.
 *
 * pop() and pushUsed() allocate nothing and never throw.
 */

import { ChainError, type DescriptorChain, isRingFatal, walkChain } from './chain.ts';
import type { GuestMemory } from './memory.ts';
import {
  AVAIL_ALIGN,
  AVAIL_FLAGS,
  AVAIL_IDX,
  AVAIL_RING,
  availEventAddr,
  availRingBytes,
  DESC_ALIGN,
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
  VIRTQ_MAX_SIZE,
  VIRTQ_USED_F_NO_NOTIFY,
  vringNeedEvent,
} from './ring.ts';

/** Word offsets in a queue's shared state block. */
export const QS_READY = 0;
export const QS_SIZE = 1;
export const QS_DESC = 2;
export const QS_AVAIL = 3;
export const QS_USED = 4;
export const QS_LAST_AVAIL = 5;
export const QS_USED_IDX = 6;
export const QS_FLAGS = 7;
export const QS_ERROR = 8;
export const QS_SIGNALLED_USED = 9;
export const QS_POPPED = 10;
export const QS_PUSHED = 11;
/** Chains handed back unused because a buffer was unusable (popValid). */
export const QS_REJECTED = 12;
export const QUEUE_STATE_WORDS = 16;

/** QS_FLAGS bits. */
export const QF_EVENT_IDX = 1;
export const QF_INDIRECT = 2;

/** pop() result when nothing is available. */
export const POP_EMPTY = -1;

export interface QueueSetup {
  size: number;
  descAddr: number;
  availAddr: number;
  usedAddr: number;
}

/** Checks that a queue's rings fit in memory with the spec's alignment. */
export function validateQueueSetup(
  mem: GuestMemory,
  setup: QueueSetup,
  maxSize = VIRTQ_MAX_SIZE,
): ChainError {
  const { size, descAddr, availAddr, usedAddr } = setup;
  if (!isPowerOfTwo(size) || size > maxSize) return ChainError.QueueNotReady;
  if (
    descAddr % DESC_ALIGN !== 0 ||
    availAddr % AVAIL_ALIGN !== 0 ||
    usedAddr % USED_ALIGN !== 0 ||
    !mem.contains(descAddr, descTableBytes(size)) ||
    !mem.contains(availAddr, availRingBytes(size)) ||
    !mem.contains(usedAddr, usedRingBytes(size))
  ) {
    return ChainError.RingOutOfBounds;
  }
  return ChainError.None;
}

/** A queue's state as plain values (for snapshots); see DeviceQueue.saveState(). */
export interface DeviceQueueState {
  ready: boolean;
  size: number;
  descAddr: number;
  availAddr: number;
  usedAddr: number;
  /** Next avail index to pop (last_avail_idx). */
  lastAvail: number;
  /** used.idx as last published. */
  usedIdx: number;
  /** used.idx when shouldInterrupt() last looked. */
  signalledUsed: number;
  eventIdx: boolean;
  indirect: boolean;
  /** The ChainError that broke the ring, or 0. */
  error: number;
  popped: number;
  pushed: number;
  rejected: number;
}

export class DeviceQueue {
  /** Reused by every pop() so walking a chain allocates nothing. */
  private readonly limits = { queueSize: 0, indirect: false };

  constructor(
    readonly mem: GuestMemory,
    /** QUEUE_STATE_WORDS words, usually in a SharedArrayBuffer. */
    readonly state: Uint32Array,
    /** Queue index, for error messages. */
    readonly index: number,
  ) {}

  /**
   * Validates and installs the rings. Returns ChainError.None, or the reason
   * the set-up was refused (the queue then stays not ready).
   */
  configure(setup: QueueSetup, opts: { eventIdx: boolean; indirect: boolean }): ChainError {
    const err = validateQueueSetup(this.mem, setup);
    const s = this.state;
    s.fill(0);
    if (err !== ChainError.None) return err;
    s[QS_SIZE] = setup.size;
    s[QS_DESC] = setup.descAddr;
    s[QS_AVAIL] = setup.availAddr;
    s[QS_USED] = setup.usedAddr;
    s[QS_FLAGS] = (opts.eventIdx ? QF_EVENT_IDX : 0) | (opts.indirect ? QF_INDIRECT : 0);
    // A fresh queue starts where the driver's rings start (spec: both idx 0).
    s[QS_LAST_AVAIL] = 0;
    s[QS_USED_IDX] = 0;
    Atomics.store(s, QS_READY, 1);
    return ChainError.None;
  }

  /** Every word of the queue's state, as values. */
  saveState(): DeviceQueueState {
    const s = this.state;
    return {
      ready: Atomics.load(s, QS_READY) === 1,
      size: s[QS_SIZE],
      descAddr: s[QS_DESC],
      availAddr: s[QS_AVAIL],
      usedAddr: s[QS_USED],
      lastAvail: s[QS_LAST_AVAIL],
      usedIdx: s[QS_USED_IDX],
      signalledUsed: s[QS_SIGNALLED_USED],
      eventIdx: (s[QS_FLAGS] & QF_EVENT_IDX) !== 0,
      indirect: (s[QS_FLAGS] & QF_INDIRECT) !== 0,
      error: s[QS_ERROR],
      popped: s[QS_POPPED],
      pushed: s[QS_PUSHED],
      rejected: s[QS_REJECTED],
    };
  }

  /** Sets every word from `q` (checked by the caller); ready is published last. */
  applyState(q: DeviceQueueState): void {
    const s = this.state;
    Atomics.store(s, QS_READY, 0);
    s.fill(0);
    s[QS_SIZE] = q.size;
    s[QS_DESC] = q.descAddr;
    s[QS_AVAIL] = q.availAddr;
    s[QS_USED] = q.usedAddr;
    s[QS_LAST_AVAIL] = q.lastAvail;
    s[QS_USED_IDX] = q.usedIdx;
    s[QS_SIGNALLED_USED] = q.signalledUsed;
    s[QS_FLAGS] = (q.eventIdx ? QF_EVENT_IDX : 0) | (q.indirect ? QF_INDIRECT : 0);
    s[QS_ERROR] = q.error;
    s[QS_POPPED] = q.popped;
    s[QS_PUSHED] = q.pushed;
    s[QS_REJECTED] = q.rejected;
    Atomics.store(s, QS_READY, q.ready ? 1 : 0);
  }

  /** Forgets the rings (device reset). */
  disable(): void {
    Atomics.store(this.state, QS_READY, 0);
    this.state.fill(0);
  }

  get ready(): boolean {
    return Atomics.load(this.state, QS_READY) === 1 && this.state[QS_ERROR] === 0;
  }

  get size(): number {
    return this.state[QS_SIZE];
  }

  /** The ring-level error that stopped this queue, or ChainError.None. */
  get error(): ChainError {
    return this.state[QS_ERROR] as ChainError;
  }

  /** Marks the queue broken: nothing more is popped or pushed until reset. */
  fail(err: ChainError): void {
    if (this.state[QS_ERROR] === 0) this.state[QS_ERROR] = err;
  }

  /**
   * Number of chains the driver has made available and we have not popped,
   * or -1 if the queue is not usable (not ready, or the avail index jumped:
   * the queue is then marked broken).
   */
  available(): number {
    if (!this.ready) return -1;
    const s = this.state;
    const availIdx = this.mem.loadU16(s[QS_AVAIL] + AVAIL_IDX);
    const n = (availIdx - s[QS_LAST_AVAIL]) & 0xffff;
    if (n > s[QS_SIZE]) {
      this.fail(ChainError.AvailIndexJump);
      return -1;
    }
    return n;
  }

  /**
   * A lock-free peek for the audio thread: false only when the queue is
   * ready and the driver has made nothing new available. Never fails the
   * queue; when unsure (not ready, a ring being moved) it answers true.
   */
  mayHaveAvailable(): boolean {
    const s = this.state;
    if (Atomics.load(s, QS_READY) !== 1) return true;
    const at = s[QS_AVAIL] + AVAIL_IDX;
    if (!this.mem.contains(at, 2) || (at & 1) !== 0) return true;
    return this.mem.loadU16(at) !== s[QS_LAST_AVAIL];
  }

  /**
   * Pops the next available chain into `chain`. Returns POP_EMPTY, or a
   * ChainError: None when `chain` holds a valid chain. For any other error
   * the chain has been consumed from the avail ring (`chain.head` says which
   * one, when known); errors that make the ring untrustworthy (isRingFatal)
   * also mark the queue broken.
   */
  pop(chain: DescriptorChain): number {
    const n = this.available();
    if (n < 0) return this.state[QS_ERROR] || ChainError.QueueNotReady;
    if (n === 0) return POP_EMPTY;
    const s = this.state;
    const size = s[QS_SIZE];
    const last = s[QS_LAST_AVAIL];
    const head = this.mem.view.getUint16(s[QS_AVAIL] + AVAIL_RING + 2 * (last & (size - 1)), true);
    s[QS_LAST_AVAIL] = (last + 1) & 0xffff;
    s[QS_POPPED]++;
    if ((s[QS_FLAGS] & QF_EVENT_IDX) !== 0) {
      // Ask to be kicked for the next buffer (harmless when we poll).
      this.mem.view.setUint16(availEventAddr(s[QS_USED], size), s[QS_LAST_AVAIL], true);
    }
    this.limits.queueSize = size;
    this.limits.indirect = (s[QS_FLAGS] & QF_INDIRECT) !== 0;
    const err = walkChain(this.mem, s[QS_DESC], head, this.limits, chain);
    if (isRingFatal(err)) this.fail(err);
    return err;
  }

  /**
   * Pops the next usable chain into `chain`, handing back unused (length 0)
   * any chain whose buffers cannot be used. Returns false when nothing is
   * left or the ring broke (then `error` says why and the device must ask
   * for a reset). `held` says which heads the caller still holds: a chain
   * made available again while held breaks the queue (UsedIdInvalid) before
   * anything is handed back, or the guest would see that head used twice.
   */
  popValid(chain: DescriptorChain, held?: (head: number) => boolean): boolean {
    for (;;) {
      const r = this.pop(chain);
      if (r === POP_EMPTY || !this.ready) return false;
      if (held?.(chain.head)) {
        this.fail(ChainError.UsedIdInvalid);
        return false;
      }
      if (r === ChainError.None) return true;
      this.state[QS_REJECTED]++;
      this.pushUsed(chain.head, 0);
    }
  }

  /** Puts `head` on the used ring with `len` bytes written, and publishes it. */
  pushUsed(head: number, len: number): void {
    if (!this.ready) return;
    const s = this.state;
    const size = s[QS_SIZE];
    const used = s[QS_USED];
    const idx = s[QS_USED_IDX];
    const e = used + USED_RING + USED_ELEM_SIZE * (idx & (size - 1));
    this.mem.view.setUint32(e, head, true);
    this.mem.view.setUint32(e + 4, len >>> 0, true);
    const next = (idx + 1) & 0xffff;
    s[QS_USED_IDX] = next;
    s[QS_PUSHED]++;
    // Release: the entry above becomes visible before the index that covers it.
    this.mem.storeU16(used + USED_IDX, next);
  }

  /**
   * Whether the driver wants an interrupt for what was pushed since the last
   * call (honours VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX).
   */
  shouldInterrupt(): boolean {
    if (!this.ready) return false;
    const s = this.state;
    const newIdx = s[QS_USED_IDX];
    const oldIdx = s[QS_SIGNALLED_USED];
    if (newIdx === oldIdx) return false;
    s[QS_SIGNALLED_USED] = newIdx;
    if ((s[QS_FLAGS] & QF_EVENT_IDX) !== 0) {
      const ev = this.mem.loadU16(usedEventAddr(s[QS_AVAIL], s[QS_SIZE]));
      return vringNeedEvent(ev, newIdx, oldIdx);
    }
    return (this.mem.loadU16(s[QS_AVAIL] + AVAIL_FLAGS) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }

  /** Tells the driver whether to kick us (VIRTQ_USED_F_NO_NOTIFY). */
  setNotifications(enabled: boolean): void {
    if (!this.ready) return;
    this.mem.storeU16(this.state[QS_USED] + USED_FLAGS, enabled ? 0 : VIRTQ_USED_F_NO_NOTIFY);
  }
}
