/**
 * Walking a descriptor chain on the device side: the one place where guest
 * descriptors enter the device, so every check lives here. Devices above this
 * see only bounded, in-memory, readable-then-writable segments.
 *
 * The walk allocates nothing: it fills a {@link DescriptorChain} made once per
 * queue and returns a {@link ChainError} code (0 = ok) instead of throwing, so
 * the audio thread can call it.
 */

import type { GuestMemory } from './memory.ts';
import {
  DESC_ADDR,
  DESC_FLAGS,
  DESC_LEN,
  DESC_NEXT,
  DESC_SIZE,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
} from './ring.ts';

/** Why a chain or a ring was rejected. 0 means no error. */
export enum ChainError {
  None = 0,
  /** avail.ring[] named a head index >= queue size. */
  HeadOutOfRange = 1,
  /** A descriptor's `next` is >= the table size. */
  NextOutOfRange = 2,
  /** A buffer lies (partly) outside guest memory. */
  OutOfBounds = 3,
  /** addr + len wraps past 2^64. */
  AddressOverflow = 4,
  /** The chain visits a descriptor twice. */
  Loop = 5,
  /** More descriptors than the queue size, or than this device accepts. */
  TooLong = 6,
  /** A descriptor of length 0. */
  ZeroLength = 7,
  /** A device-readable descriptor after a device-writable one. */
  ReadableAfterWritable = 8,
  /** INDIRECT used without VIRTIO_F_INDIRECT_DESC. */
  IndirectNotNegotiated = 9,
  /** An indirect table inside an indirect table. */
  NestedIndirect = 10,
  /** INDIRECT and NEXT set together. */
  IndirectWithNext = 11,
  /** Indirect table length zero or not a multiple of 16. */
  BadIndirectLength = 12,
  /** avail.idx moved more than queue size ahead of what we consumed. */
  AvailIndexJump = 13,
  /** The queue is not set up (not ready, or DRIVER_OK not reached). */
  QueueNotReady = 14,
  /** The rings themselves are not inside guest memory or misaligned. */
  RingOutOfBounds = 15,
  /** The driver returned a used id that is not in flight (driver side). */
  UsedIdInvalid = 16,
  /** The device claimed to write more than the chain's writable size (driver side). */
  UsedLenTooLarge = 17,
  /** used.idx moved past the number of buffers in flight (driver side). */
  UsedIndexJump = 18,
  /** No free descriptors for the chain (driver side). */
  QueueFull = 19,
  /** A chain with no buffers, or bad arguments to the driver-side add (driver side). */
  BadChain = 20,
}

const CHAIN_ERROR_TEXT: Record<ChainError, string> = {
  [ChainError.None]: 'no error',
  [ChainError.HeadOutOfRange]: 'available ring names a head index beyond the queue size',
  [ChainError.NextOutOfRange]: "descriptor 'next' beyond the table size",
  [ChainError.OutOfBounds]: 'buffer outside guest memory',
  [ChainError.AddressOverflow]: 'buffer address + length overflows 64 bits',
  [ChainError.Loop]: 'descriptor chain loops',
  [ChainError.TooLong]: 'descriptor chain longer than the queue size',
  [ChainError.ZeroLength]: 'zero-length descriptor',
  [ChainError.ReadableAfterWritable]: 'device-readable descriptor after a device-writable one',
  [ChainError.IndirectNotNegotiated]: 'indirect descriptor without VIRTIO_F_INDIRECT_DESC',
  [ChainError.NestedIndirect]: 'indirect descriptor inside an indirect table',
  [ChainError.IndirectWithNext]: 'descriptor sets both INDIRECT and NEXT',
  [ChainError.BadIndirectLength]: 'indirect table length is 0 or not a multiple of 16',
  [ChainError.AvailIndexJump]: 'avail.idx is more than the queue size ahead',
  [ChainError.QueueNotReady]: 'queue is not ready',
  [ChainError.RingOutOfBounds]: 'ring lies outside guest memory or is misaligned',
  [ChainError.UsedIdInvalid]: 'used ring names a descriptor that is not in flight',
  [ChainError.UsedLenTooLarge]: 'used length exceeds the writable size of the chain',
  [ChainError.UsedIndexJump]: 'used.idx is ahead of the buffers in flight',
  [ChainError.QueueFull]: 'not enough free descriptors',
  [ChainError.BadChain]: 'a chain needs at least one non-empty, in-memory buffer',
};

export function describeChainError(code: ChainError): string {
  return CHAIN_ERROR_TEXT[code] ?? `unknown chain error ${code}`;
}

/** A typed error for the paths that may throw (tests, driver, control plane). */
export class VirtqueueError extends Error {
  override readonly name = 'VirtqueueError';
  constructor(
    readonly code: ChainError,
    readonly queue: number = -1,
    detail = '',
  ) {
    super(
      `virtqueue${queue >= 0 ? ` ${queue}` : ''}: ${describeChainError(code)}${detail ? ` (${detail})` : ''}`,
    );
  }
}

/**
 * A walked chain: readable segments first, then writable ones. Made once with
 * a fixed capacity and refilled by every walk.
 */
export class DescriptorChain {
  /** Head descriptor index: the id to put on the used ring. */
  head = -1;
  readCount = 0;
  writeCount = 0;
  /** Total bytes in readable / writable segments. */
  readBytes = 0;
  writeBytes = 0;
  readonly readAddr: Float64Array;
  readonly readLen: Uint32Array;
  readonly writeAddr: Float64Array;
  readonly writeLen: Uint32Array;

  constructor(readonly capacity: number) {
    this.readAddr = new Float64Array(capacity);
    this.readLen = new Uint32Array(capacity);
    this.writeAddr = new Float64Array(capacity);
    this.writeLen = new Uint32Array(capacity);
  }

  clear(head: number): void {
    this.head = head;
    this.readCount = 0;
    this.writeCount = 0;
    this.readBytes = 0;
    this.writeBytes = 0;
  }

  /** A copy sized to this chain, for keeping it after the next walk (allocates: not for the audio thread). */
  snapshot(): DescriptorChain {
    const c = new DescriptorChain(Math.max(1, this.readCount, this.writeCount));
    c.clear(this.head);
    c.readCount = this.readCount;
    c.writeCount = this.writeCount;
    c.readBytes = this.readBytes;
    c.writeBytes = this.writeBytes;
    c.readAddr.set(this.readAddr.subarray(0, this.readCount));
    c.readLen.set(this.readLen.subarray(0, this.readCount));
    c.writeAddr.set(this.writeAddr.subarray(0, this.writeCount));
    c.writeLen.set(this.writeLen.subarray(0, this.writeCount));
    return c;
  }

  /**
   * The guest address of byte `offset` of the readable part, or -1 past its
   * end. Reads no guest memory: the segments were checked when walked.
   */
  readableAddr(offset: number): number {
    let skip = offset;
    for (let i = 0; i < this.readCount; i++) {
      if (skip < this.readLen[i]) return this.readAddr[i] + skip;
      skip -= this.readLen[i];
    }
    return -1;
  }

  /**
   * Copies up to `length` readable bytes starting at byte `offset` of the
   * readable part into `out[outOffset...]`. Returns the number copied.
   */
  copyFromReadable(
    mem: GuestMemory,
    offset: number,
    out: Uint8Array,
    outOffset: number,
    length: number,
  ): number {
    return copySegments(
      mem.u8,
      this.readAddr,
      this.readLen,
      this.readCount,
      offset,
      out,
      outOffset,
      length,
      false,
    );
  }

  /**
   * Copies `length` bytes from `src[srcOffset...]` into the writable part at
   * byte `offset`. Returns the number copied (less if the part is shorter).
   */
  copyToWritable(
    mem: GuestMemory,
    offset: number,
    src: Uint8Array,
    srcOffset: number,
    length: number,
  ): number {
    return copySegments(
      mem.u8,
      this.writeAddr,
      this.writeLen,
      this.writeCount,
      offset,
      src,
      srcOffset,
      length,
      true,
    );
  }
}

// Makes subarray views per segment: for the control plane, not the audio thread
// (the renderer reads and writes PCM segments in place). A segment the memory no
// longer holds (an emulator replaced its RAM since the walk) is skipped, not
// touched; a negative offset copies nothing.
function copySegments(
  guest: Uint8Array,
  addrs: Float64Array,
  lens: Uint32Array,
  count: number,
  offset: number,
  buf: Uint8Array,
  bufOffset: number,
  length: number,
  toGuest: boolean,
): number {
  if (offset < 0) return 0;
  let done = 0;
  let skip = offset;
  for (let i = 0; i < count && done < length; i++) {
    const segLen = lens[i];
    if (skip >= segLen) {
      skip -= segLen;
      continue;
    }
    const n = Math.min(segLen - skip, length - done);
    const g = addrs[i] + skip;
    if (g + n <= guest.length) {
      if (toGuest) guest.set(buf.subarray(bufOffset + done, bufOffset + done + n), g);
      else buf.set(guest.subarray(g, g + n), bufOffset + done);
    }
    done += n;
    skip = 0;
  }
  return done;
}

/** Per-walk options fixed by the queue and the negotiated features. */
export interface WalkLimits {
  /** Queue size: the direct table's length and the longest chain allowed. */
  queueSize: number;
  /** VIRTIO_F_INDIRECT_DESC was negotiated. */
  indirect: boolean;
}

/**
 * Walks the chain starting at `head` of the descriptor table at `descAddr`,
 * filling `chain`. Returns {@link ChainError.None} or the first problem found.
 * Never throws, never touches memory outside `mem`.
 */
export function walkChain(
  mem: GuestMemory,
  descAddr: number,
  head: number,
  limits: WalkLimits,
  chain: DescriptorChain,
): ChainError {
  chain.clear(head);
  const { queueSize } = limits;
  if (head >= queueSize) return ChainError.HeadOutOfRange;
  const view = mem.view;

  let table = descAddr;
  let tableSize = queueSize;
  let idx = head;
  let inIndirect = false;
  let visitedInTable = 0;
  let total = 0;
  let sawWritable = false;

  for (;;) {
    if (++visitedInTable > tableSize) return ChainError.Loop;
    const d = table + idx * DESC_SIZE;
    // The table itself was range-checked when the queue (or indirect table) was accepted.
    const lo = view.getUint32(d + DESC_ADDR, true);
    const hi = view.getUint32(d + DESC_ADDR + 4, true);
    const len = view.getUint32(d + DESC_LEN, true);
    const flags = view.getUint16(d + DESC_FLAGS, true);
    const next = view.getUint16(d + DESC_NEXT, true);

    if (flags & VIRTQ_DESC_F_INDIRECT) {
      if (!limits.indirect) return ChainError.IndirectNotNegotiated;
      if (inIndirect) return ChainError.NestedIndirect;
      if (flags & VIRTQ_DESC_F_NEXT) return ChainError.IndirectWithNext;
      if (len === 0 || len % DESC_SIZE !== 0) return ChainError.BadIndirectLength;
      const err = checkBuffer(mem, lo, hi, len);
      if (err !== ChainError.None) return err;
      if (len / DESC_SIZE > queueSize) return ChainError.TooLong;
      table = lo;
      tableSize = len / DESC_SIZE;
      idx = 0;
      visitedInTable = 0;
      inIndirect = true;
      continue;
    }

    if (len === 0) return ChainError.ZeroLength;
    const err = checkBuffer(mem, lo, hi, len);
    if (err !== ChainError.None) return err;
    if (++total > queueSize || total > chain.capacity) return ChainError.TooLong;

    if (flags & VIRTQ_DESC_F_WRITE) {
      sawWritable = true;
      const k = chain.writeCount++;
      chain.writeAddr[k] = lo;
      chain.writeLen[k] = len;
      chain.writeBytes += len;
    } else {
      if (sawWritable) return ChainError.ReadableAfterWritable;
      const k = chain.readCount++;
      chain.readAddr[k] = lo;
      chain.readLen[k] = len;
      chain.readBytes += len;
    }

    if (!(flags & VIRTQ_DESC_F_NEXT)) return ChainError.None;
    if (next >= tableSize) return ChainError.NextOutOfRange;
    idx = next;
  }
}

function checkBuffer(mem: GuestMemory, lo: number, hi: number, len: number): ChainError {
  if (hi !== 0) {
    // addr + len > 2^64 only when the high word is all ones and the low word carries.
    if (hi === 0xffffffff && lo + len > 0xffffffff) return ChainError.AddressOverflow;
    return ChainError.OutOfBounds;
  }
  return mem.contains(lo, len) ? ChainError.None : ChainError.OutOfBounds;
}

/**
 * Whether an error means the queue itself can no longer be trusted (the
 * device must then set DEVICE_NEEDS_RESET), as opposed to one bad buffer that
 * can be handed back unused while the queue goes on.
 */
export function isRingFatal(code: ChainError): boolean {
  switch (code) {
    case ChainError.None:
    case ChainError.OutOfBounds:
    case ChainError.AddressOverflow:
    case ChainError.ZeroLength:
    case ChainError.ReadableAfterWritable:
      return false;
    default:
      return true;
  }
}
