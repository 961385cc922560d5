/**
 * The allocator for guest memory: first fit over an address-ordered free
 * list, coalescing on release, so rings, message headers and PCM buffers can
 * be freed and reallocated as streams change parameters (ALSA's hw_params /
 * hw_free). Used by the driver, by the relay for its inner messages, and by
 * tests that play the driver. Not for the audio thread (it allocates).
 */

/** Anything that hands out aligned regions of guest memory. */
export interface Allocator {
  alloc(bytes: number, align: number): number;
}

export class GuestAllocationError extends RangeError {
  override readonly name = 'GuestAllocationError';
}

interface Block {
  addr: number;
  size: number;
}

/** A heap's bookkeeping as plain values (snapshots): free and used blocks, as [address, size]. */
export interface GuestHeapState {
  free: [number, number][];
  used: [number, number][];
}

export class GuestHeap implements Allocator {
  /** Free blocks, ordered by address, never adjacent (they are merged). */
  private free: Block[] = [];
  private readonly used = new Map<number, number>();

  constructor(
    readonly base: number,
    readonly limit: number,
  ) {
    if (!Number.isInteger(base) || !Number.isInteger(limit) || base < 0 || !(limit > base)) {
      throw new GuestAllocationError(`bad heap range [${base}, ${limit})`);
    }
    this.reset();
  }

  /** Bytes free in total (maybe fragmented). */
  get available(): number {
    return this.free.reduce((a, b) => a + b.size, 0);
  }

  /** The largest single free block: the largest allocation that can succeed now (alignment aside). */
  get largestFree(): number {
    return this.free.reduce((a, b) => Math.max(a, b.size), 0);
  }

  /** Bytes handed out and not released. */
  get inUse(): number {
    let n = 0;
    for (const size of this.used.values()) n += size;
    return n;
  }

  /**
   * The address of `bytes` bytes aligned to `align` (a power of two).
   * Throws a GuestAllocationError when no free block fits.
   */
  alloc(bytes: number, align = 16): number {
    const addr = this.tryAlloc(bytes, align);
    if (addr < 0) {
      throw new GuestAllocationError(
        `guest memory exhausted: ${bytes} bytes wanted, ${this.available} free (fragmented)`,
      );
    }
    return addr;
  }

  /** Like alloc(), but answers -1 instead of throwing when nothing fits. */
  tryAlloc(bytes: number, align = 16): number {
    if (!Number.isInteger(bytes) || bytes <= 0) {
      throw new GuestAllocationError(`bad allocation size ${bytes}`);
    }
    if (!Number.isInteger(align) || align <= 0 || (align & (align - 1)) !== 0) {
      throw new GuestAllocationError(`alignment ${align} is not a power of two`);
    }
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i];
      const addr = Math.ceil(b.addr / align) * align;
      const pad = addr - b.addr;
      if (b.size < pad + bytes) continue;
      const rest = b.size - pad - bytes;
      const pieces: Block[] = [];
      if (pad > 0) pieces.push({ addr: b.addr, size: pad });
      if (rest > 0) pieces.push({ addr: addr + bytes, size: rest });
      this.free.splice(i, 1, ...pieces);
      this.used.set(addr, bytes);
      return addr;
    }
    return -1;
  }

  /** Returns a region alloc() handed out. */
  release(addr: number): void {
    const size = this.used.get(addr);
    if (size === undefined)
      throw new GuestAllocationError(`0x${addr.toString(16)} was not allocated`);
    this.used.delete(addr);
    // Insert in address order, merging with the neighbours it touches.
    let i = 0;
    while (i < this.free.length && this.free[i].addr < addr) i++;
    const prev = this.free[i - 1];
    const next = this.free[i];
    const block = { addr, size };
    if (prev && prev.addr + prev.size === addr) {
      prev.size += size;
      if (next && prev.addr + prev.size === next.addr) {
        prev.size += next.size;
        this.free.splice(i, 1);
      }
    } else if (next && addr + size === next.addr) {
      next.addr = addr;
      next.size += size;
    } else {
      this.free.splice(i, 0, block);
    }
  }

  saveState(): GuestHeapState {
    return {
      free: this.free.map((b) => [b.addr, b.size]),
      used: [...this.used.entries()].sort((a, b) => a[0] - b[0]),
    };
  }

  /**
   * Why `s` could not be this heap's bookkeeping, or null: free blocks in
   * order and merged, and free and used blocks together tiling [base, limit)
   * exactly, as every sequence of alloc() and release() leaves them.
   */
  checkState(s: GuestHeapState): string | null {
    const all = [
      ...s.free.map(([addr, size]) => ({ addr, size, free: true })),
      ...s.used.map(([addr, size]) => ({ addr, size, free: false })),
    ].sort((a, b) => a.addr - b.addr);
    for (let i = 1; i < s.free.length; i++) {
      if (s.free[i][0] <= s.free[i - 1][0]) return 'free blocks out of order';
    }
    let at = this.base;
    let prevFree = false;
    for (const b of all) {
      if (!(Number.isInteger(b.size) && b.size > 0)) return `a block of ${b.size} bytes`;
      if (b.addr !== at) return `blocks do not tile the heap at 0x${at.toString(16)}`;
      if (b.free && prevFree) return 'adjacent free blocks not merged';
      prevFree = b.free;
      at += b.size;
    }
    return at === this.limit
      ? null
      : `blocks end at 0x${at.toString(16)}, the heap at 0x${this.limit.toString(16)}`;
  }

  /** Takes bookkeeping checked with checkState(). */
  applyState(s: GuestHeapState): void {
    this.free = s.free.map(([addr, size]) => ({ addr, size }));
    this.used.clear();
    for (const [addr, size] of s.used) this.used.set(addr, size);
  }

  /** The size of the allocation at `addr`, or undefined. */
  sizeOf(addr: number): number | undefined {
    return this.used.get(addr);
  }

  /** Forgets every allocation: the whole range is free again. */
  reset(): void {
    this.free = [{ addr: this.base, size: this.limit - this.base }];
    this.used.clear();
  }
}
