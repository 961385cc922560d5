/**
 * A bump allocator for guest physical memory, used by the driver side (and by
 * tests playing the driver) to place rings, message headers and PCM buffers.
 * Regions are never freed one by one; `reset()` starts over.
 */

/** Anything that hands out aligned regions of guest memory. */
export interface Allocator {
  alloc(bytes: number, align: number): number;
}

export class GuestAllocationError extends RangeError {
  override readonly name = 'GuestAllocationError';
}

export class GuestAllocator implements Allocator {
  private next: number;

  constructor(
    readonly base: number,
    readonly limit: number,
  ) {
    if (!Number.isInteger(base) || !Number.isInteger(limit) || base < 0 || limit < base) {
      throw new GuestAllocationError(`bad allocator range [${base}, ${limit})`);
    }
    this.next = base;
  }

  /** Bytes still free. */
  get free(): number {
    return this.limit - this.next;
  }

  /** Returns the address of `bytes` bytes aligned to `align` (a power of two). */
  alloc(bytes: number, align = 16): number {
    if (!Number.isInteger(bytes) || bytes < 0) {
      throw new GuestAllocationError(`bad allocation size ${bytes}`);
    }
    if (!Number.isInteger(align) || align <= 0 || (align & (align - 1)) !== 0) {
      throw new GuestAllocationError(`alignment ${align} is not a power of two`);
    }
    const addr = Math.ceil(this.next / align) * align;
    if (addr + bytes > this.limit) {
      throw new GuestAllocationError(
        `guest memory exhausted: ${bytes} bytes wanted, ${this.limit - addr} left`,
      );
    }
    this.next = addr + bytes;
    return addr;
  }

  reset(): void {
    this.next = this.base;
  }
}
