/**
 * The driver's allocator for guest memory: first fit with coalescing, so PCM
 * buffers can be freed and reallocated as streams change parameters (the
 * hardware buffer of ALSA's hw_params / hw_free).
 */

import { GuestAllocationError } from '../virtio/allocator.ts';

interface Block {
  addr: number;
  size: number;
}

export class GuestHeap {
  private free: Block[];
  private readonly used = new Map<number, number>();

  constructor(
    readonly base: number,
    readonly limit: number,
  ) {
    if (!(limit > base)) throw new GuestAllocationError(`empty heap [${base}, ${limit})`);
    this.free = [{ addr: base, size: limit - base }];
  }

  /** Bytes free in total (maybe fragmented). */
  get available(): number {
    return this.free.reduce((a, b) => a + b.size, 0);
  }

  alloc(bytes: number, align = 16): number {
    if (!Number.isInteger(bytes) || bytes <= 0) {
      throw new GuestAllocationError(`bad allocation size ${bytes}`);
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
    throw new GuestAllocationError(
      `guest memory exhausted: ${bytes} bytes wanted, ${this.available} free (fragmented)`,
    );
  }

  release(addr: number): void {
    const size = this.used.get(addr);
    if (size === undefined)
      throw new GuestAllocationError(`0x${addr.toString(16)} was not allocated`);
    this.used.delete(addr);
    this.free.push({ addr, size });
    this.free.sort((a, b) => a.addr - b.addr);
    const merged: Block[] = [];
    for (const b of this.free) {
      const last = merged[merged.length - 1];
      if (last && last.addr + last.size === b.addr) last.size += b.size;
      else merged.push({ ...b });
    }
    this.free = merged;
  }
}
