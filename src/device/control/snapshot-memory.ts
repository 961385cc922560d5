/**
 * Guest memory in a device snapshot ('GMEM'), for hosts where the snapshot
 * owns guest memory (createVirtioSound's SharedArrayBuffer; an emulator
 * saves its own RAM instead). Only the ranges the host names are kept
 * (the driver's allocations: rings, buffers, message headers); on restore
 * the rest of memory reads as zeros.
 *
 *   u53 memory size, u32 ranges, then each: u53 address, u53 length, bytes
 */

import {
  SnapshotError,
  type SnapshotReader,
  type SnapshotWriter,
} from '../../snapshot/snapshot-format.ts';
import type { GuestMemory } from '../../virtio/memory.ts';

/** [address, length] pieces of guest memory. */
export type MemoryRanges = readonly (readonly [number, number])[];

/** Most ranges a snapshot may hold. */
const MAX_RANGES = 1 << 16;

/** Copies `ranges` of guest memory now (the caller holds the queues still). */
export function copyMemory(mem: GuestMemory, ranges: MemoryRanges | 'all'): [number, Uint8Array][] {
  const list: MemoryRanges = ranges === 'all' ? [[0, mem.size]] : ranges;
  return [...list]
    .sort((a, b) => a[0] - b[0])
    .map(([addr, len]) => {
      mem.check(addr, len);
      return [addr, mem.u8.slice(addr, addr + len)];
    });
}

export function writeMemory(w: SnapshotWriter, size: number, pieces: [number, Uint8Array][]): void {
  w.u53(size).u32(pieces.length);
  for (const [addr, bytes] of pieces) w.u53(addr).u53(bytes.length).bytes(bytes);
}

/** Reads the pieces (views into the snapshot) and checks they fit this memory, in order, apart. */
export function readMemory(r: SnapshotReader, mem: GuestMemory): [number, Uint8Array][] {
  const size = r.u53('memory size');
  if (size !== mem.size) {
    throw new SnapshotError(
      'config-mismatch',
      `guest memory of ${size} bytes, this one has ${mem.size}`,
    );
  }
  const n = r.count(MAX_RANGES, 'memory ranges', 16);
  const out: [number, Uint8Array][] = [];
  let end = 0;
  for (let i = 0; i < n; i++) {
    const addr = r.u53('address');
    const len = r.u53('length');
    if (addr < end || !mem.contains(addr, len)) {
      throw new SnapshotError(
        'address-out-of-range',
        `memory range [${addr}, +${len}) out of order or outside`,
      );
    }
    if (len > r.remaining) throw new SnapshotError('truncated', `memory range of ${len} bytes`);
    out.push([addr, r.raw(len)]);
    end = addr + len;
  }
  return out;
}

/** Zeroes guest memory and writes the pieces back. */
export function applyMemory(mem: GuestMemory, pieces: readonly [number, Uint8Array][]): void {
  mem.u8.fill(0);
  for (const [addr, bytes] of pieces) mem.u8.set(bytes, addr);
}
