/**
 * A driver-side virtqueue in a snapshot: its place in guest memory, its free
 * list, the chains in flight (with a reference to each chain's token) and its
 * ring indices. Reading checks that the bookkeeping is one a run of the
 * queue could have left: the free list and the chains in flight together
 * hold every descriptor exactly once, and the indices agree with the count in
 * flight. Also the guest heap's bookkeeping, which places the queues.
 */

import {
  SnapshotError,
  type SnapshotReader,
  type SnapshotWriter,
} from '../snapshot/snapshot-format.ts';
import { ChainError } from './chain.ts';
import { type DriverQueueState, NO_DESC } from './driver-queue.ts';
import type { GuestHeap, GuestHeapState } from './heap.ts';
import type { GuestMemory } from './memory.ts';
import {
  AVAIL_ALIGN,
  availRingBytes,
  DESC_ALIGN,
  descTableBytes,
  isPowerOfTwo,
  USED_ALIGN,
  usedRingBytes,
  VIRTQ_MAX_SIZE,
} from './ring.ts';

export function writeDriverQueue(w: SnapshotWriter, s: DriverQueueState<number>): void {
  const l = s.layout;
  w.u32(l.size).u32(l.descAddr).u32(l.availAddr).u32(l.usedAddr);
  w.bool(s.eventIdx).i32(s.index).u32(s.numFree).u32(s.broken).u32(s.lastLen).u32(s.freeHead);
  w.u32(s.availIdx).u32(s.lastUsedIdx).u32(s.kickedAvail).u32(s.inFlight);
  for (let i = 0; i < l.size; i++) {
    w.u16(s.nextFree[i])
      .u16(s.chainLen[i])
      .u53(s.writable[i])
      .i32(s.tokens[i] ?? -1);
  }
}

/**
 * Reads a queue written by writeDriverQueue. `token(ref)` checks a token
 * reference (a non-negative integer) and throws for one that names nothing.
 */
export function readDriverQueue(
  r: SnapshotReader,
  mem: GuestMemory,
  what: string,
  token: (ref: number) => void,
): DriverQueueState<number> {
  const size = r.u32();
  if (!isPowerOfTwo(size) || size > VIRTQ_MAX_SIZE) throw r.invalid(`${what}: size ${size}`);
  const layout = { size, descAddr: r.u32(), availAddr: r.u32(), usedAddr: r.u32() };
  const fits = (addr: number, bytes: number, align: number) =>
    addr % align === 0 && mem.contains(addr, bytes);
  if (
    !fits(layout.descAddr, descTableBytes(size), DESC_ALIGN) ||
    !fits(layout.availAddr, availRingBytes(size), AVAIL_ALIGN) ||
    !fits(layout.usedAddr, usedRingBytes(size), USED_ALIGN)
  ) {
    throw new SnapshotError('address-out-of-range', `${what}: rings outside guest memory`);
  }
  const eventIdx = r.bool('event idx');
  const index = r.i32();
  const numFree = r.u32();
  const broken = r.u32();
  const lastLen = r.u32();
  const freeHead = r.u32();
  const availIdx = r.u32();
  const lastUsedIdx = r.u32();
  const kickedAvail = r.u32();
  const inFlight = r.u32();
  if (broken > ChainError.BadChain) throw r.invalid(`${what}: error ${broken}`);
  if (availIdx > 0xffff || lastUsedIdx > 0xffff || kickedAvail > 0xffff) {
    throw r.invalid(`${what}: ring index beyond 16 bits`);
  }
  if (r.remaining < 16 * size)
    throw new SnapshotError('truncated', `${what}: descriptors cut short`);
  const nextFree: number[] = [];
  const chainLen: number[] = [];
  const writable: number[] = [];
  const tokens: (number | null)[] = [];
  for (let i = 0; i < size; i++) {
    nextFree.push(r.u16());
    chainLen.push(r.u16());
    writable.push(r.u53(`${what} writable bytes`));
    const ref = r.i32();
    tokens.push(ref < 0 ? null : ref);
  }
  const s: DriverQueueState<number> = {
    layout,
    eventIdx,
    index,
    numFree,
    broken,
    lastLen,
    freeHead,
    nextFree,
    chainLen,
    writable,
    tokens,
    availIdx,
    lastUsedIdx,
    kickedAvail,
    inFlight,
  };
  const problem = checkDescriptors(s);
  if (problem) throw r.invalid(`${what}: ${problem}`);
  for (const t of tokens) if (t !== null) token(t);
  return s;
}

/** Why the free list and chains of `s` could not come from a run of the queue, or null. */
function checkDescriptors(s: DriverQueueState<number>): string | null {
  const size = s.layout.size;
  const seen = new Uint8Array(size);
  const visit = (i: number) => {
    if (i >= size || seen[i]) return false;
    seen[i] = 1;
    return true;
  };
  if (s.numFree > size) return `${s.numFree} free descriptors`;
  let at = s.freeHead;
  for (let k = 0; k < s.numFree; k++) {
    if (!visit(at)) return 'the free list is broken';
    at = s.nextFree[at];
  }
  if (at !== NO_DESC) return 'the free list does not end where it should';
  let chains = 0;
  for (let head = 0; head < size; head++) {
    const n = s.chainLen[head];
    if ((n === 0) !== (s.tokens[head] === null)) return `head ${head}: token and chain disagree`;
    if (n === 0) {
      if (s.writable[head] !== 0) return `head ${head}: writable bytes with no chain`;
      continue;
    }
    chains++;
    let d = head;
    for (let k = 0; k < n; k++) {
      if (!visit(d)) return `the chain at ${head} is broken`;
      if (k + 1 < n) d = s.nextFree[d];
    }
  }
  if (seen.some((v) => v === 0)) return 'descriptors neither free nor in flight';
  if (chains !== s.inFlight) return `${chains} chains in flight, counted ${s.inFlight}`;
  if (((s.availIdx - s.lastUsedIdx) & 0xffff) !== s.inFlight) {
    return 'ring indices disagree with the chains in flight';
  }
  return null;
}

export function writeHeap(w: SnapshotWriter, s: GuestHeapState): void {
  for (const list of [s.free, s.used]) {
    w.u32(list.length);
    for (const [addr, size] of list) w.u53(addr).u53(size);
  }
}

/** Reads heap bookkeeping and checks it tiles `heap`'s range. */
export function readHeap(r: SnapshotReader, heap: GuestHeap, maxBlocks: number): GuestHeapState {
  const list = (what: string) => {
    const n = r.count(maxBlocks, what, 16);
    const out: [number, number][] = [];
    for (let i = 0; i < n; i++) out.push([r.u53(what), r.u53(what)]);
    return out;
  };
  const s = { free: list('free blocks'), used: list('allocations') };
  const problem = heap.checkState(s);
  if (problem) throw r.invalid(`heap: ${problem}`);
  return s;
}
