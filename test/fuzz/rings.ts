/**
 * The guest side of four split virtqueues for the fuzz harnesses, written
 * straight into guest memory (no driver code from src/: the guest is the
 * adversary). Descriptors come from a free list like a real driver's, so
 * well-meant chains never reuse a head the device holds; hostile operations
 * (republishing a held head, jumping avail.idx) are explicit.
 *
 * Layout: queue q's rings at q * 0x2000 (descriptors, avail at +0x1000, used
 * at +0x1400): the first RINGS_END bytes of memory.
 */

import type { GuestMemory } from '../../src/virtio/memory.ts';
import { MMIO, type VirtioMmioTransport } from '../../src/virtio/mmio.ts';

export const RINGS_END = 0x8000;
const RING_STRIDE = 0x2000;
const AVAIL = 0x1000;
const USED = 0x1400;

export const F_NEXT = 1;
export const F_WRITE = 2;
export const F_INDIRECT = 4;

export interface Seg {
  addr: number;
  len: number;
  write: boolean;
}

export const ringBase = (q: number) => q * RING_STRIDE;
export const availAddr = (q: number) => q * RING_STRIDE + AVAIL;
export const usedAddr = (q: number) => q * RING_STRIDE + USED;

/**
 * The virtio-mmio init sequence (reset, features, queues of `sizes`,
 * DRIVER_OK). Returns the status register afterwards.
 */
export function mmioInit(
  t: VirtioMmioTransport,
  features: bigint,
  sizes: readonly number[],
): number {
  const w = (off: number, val: number) => t.write(off, val >>> 0, 4);
  w(MMIO.Status, 0);
  w(MMIO.Status, 1);
  w(MMIO.Status, 3);
  w(MMIO.DriverFeaturesSel, 0);
  w(MMIO.DriverFeatures, Number(features & 0xffffffffn));
  w(MMIO.DriverFeaturesSel, 1);
  w(MMIO.DriverFeatures, Number(features >> 32n));
  w(MMIO.Status, 11);
  sizes.forEach((size, q) => {
    w(MMIO.QueueSel, q);
    w(MMIO.QueueNum, size);
    w(MMIO.QueueDescLow, ringBase(q));
    w(MMIO.QueueDescHigh, 0);
    w(MMIO.QueueDriverLow, availAddr(q));
    w(MMIO.QueueDriverHigh, 0);
    w(MMIO.QueueDeviceLow, usedAddr(q));
    w(MMIO.QueueDeviceHigh, 0);
    w(MMIO.QueueReady, 1);
  });
  w(MMIO.Status, 15);
  return t.read(MMIO.Status, 4);
}

export class HostileRings {
  private free: number[][] = [];
  /** Descriptors of each chain in flight, by head. */
  private inFlight: Map<number, number[]>[] = [];
  private usedSeen: number[] = [];
  /** Used entries collected so far, per queue: [head, len]. */
  readonly used: [number, number][][] = [];
  /** Every device-writable buffer given since the last reset: [chain serial, addr, len]. */
  private given: [number, number, number][] = [];
  /** The serial of the chain last published with each head, per queue. */
  private serials: Map<number, number>[] = [];
  private serial = 0;

  constructor(
    readonly mem: GuestMemory,
    readonly sizes: readonly number[],
  ) {
    this.reset();
  }

  /** Zeroes the rings and forgets every chain (with a device reset). */
  reset(): void {
    this.mem.u8.fill(0, 0, RINGS_END);
    this.given = [];
    this.sizes.forEach((n, q) => {
      this.serials[q] = new Map();
      // Reuses the arrays: a reset per fuzz case.
      if (!this.free[q]) this.free[q] = [];
      if (!this.inFlight[q]) this.inFlight[q] = new Map();
      if (!this.used[q]) this.used[q] = [];
      const free = this.free[q];
      free.length = n;
      for (let i = 0; i < n; i++) free[i] = n - 1 - i;
      this.inFlight[q].clear();
      this.usedSeen[q] = 0;
      this.used[q].length = 0;
    });
  }

  freeCount(q: number): number {
    return this.free[q].length;
  }

  heldCount(q: number): number {
    return this.inFlight[q].size;
  }

  /** Some head the device holds on queue q, or -1. */
  someHeld(q: number, pick: number): number {
    const heads = [...this.inFlight[q].keys()];
    return heads.length ? heads[pick % heads.length] : -1;
  }

  writeDesc(q: number, i: number, addr: number, len: number, flags: number, next: number): void {
    this.writeDescAt(ringBase(q) + 16 * i, addr, len, flags, next);
  }

  private writeDescAt(at: number, addr: number, len: number, flags: number, next: number): void {
    const v = this.mem.view;
    v.setUint32(at, addr >>> 0, true);
    v.setUint32(at + 4, Math.floor(addr / 2 ** 32) >>> 0, true);
    v.setUint32(at + 8, len >>> 0, true);
    v.setUint16(at + 12, flags, true);
    v.setUint16(at + 14, next, true);
  }

  /**
   * Writes `segs` as one chain (readable ones should come first) and makes it
   * available; with `indirect`, as an indirect table at that address. Returns
   * the head, or -1 if the queue has too few free descriptors.
   */
  chain(q: number, segs: readonly Seg[], indirect?: number): number {
    const n = indirect === undefined ? segs.length : 1;
    if (segs.length === 0 || this.free[q].length < n) return -1;
    const descs = this.free[q].splice(-n, n).reverse();
    if (indirect === undefined) {
      segs.forEach((s, k) => {
        const last = k + 1 === segs.length;
        this.writeDesc(
          q,
          descs[k],
          s.addr,
          s.len,
          (s.write ? F_WRITE : 0) | (last ? 0 : F_NEXT),
          last ? 0 : descs[k + 1],
        );
      });
    } else {
      segs.forEach((s, k) => {
        const last = k + 1 === segs.length;
        this.writeDescAt(
          indirect + 16 * k,
          s.addr,
          s.len,
          (s.write ? F_WRITE : 0) | (last ? 0 : F_NEXT),
          last ? 0 : k + 1,
        );
      });
      this.writeDesc(q, descs[0], indirect, 16 * segs.length, F_INDIRECT, 0);
    }
    this.inFlight[q].set(descs[0], descs);
    const serial = ++this.serial;
    this.serials[q].set(descs[0], serial);
    for (const sg of segs) if (sg.write) this.given.push([serial, sg.addr, sg.len]);
    this.publish(q, descs[0]);
    return descs[0];
  }

  /**
   * Whether the device may have written `ranges` (the writable buffers of
   * queue q's chain `head`) for something else: they overlap each other, the
   * rings, or a writable buffer of another chain given since the reset. Then
   * what they hold now says nothing about what the device answered there.
   */
  ambiguous(q: number, head: number, ranges: readonly (readonly [number, number])[]): boolean {
    const own = this.serials[q]?.get(head);
    const hit = (a: number, l: number, b: number, m: number) => a < b + m && b < a + l;
    for (let i = 0; i < ranges.length; i++) {
      const [a, l] = ranges[i];
      if (a < RINGS_END) return true;
      for (let j = i + 1; j < ranges.length; j++)
        if (hit(a, l, ranges[j][0], ranges[j][1])) return true;
      for (const [serial, b, m] of this.given) if (serial !== own && hit(a, l, b, m)) return true;
    }
    return false;
  }

  /** Puts `head` on the avail ring (hostile when the device still holds it). */
  publish(q: number, head: number): void {
    const a = availAddr(q);
    const idx = this.mem.readU16(a + 2);
    this.mem.writeU16(a + 4 + 2 * (idx % this.sizes[q]), head);
    this.mem.storeU16(a + 2, (idx + 1) & 0xffff);
  }

  /** Moves avail.idx by `delta` without adding entries (a broken guest). */
  jump(q: number, delta: number): void {
    const a = availAddr(q) + 2;
    this.mem.storeU16(a, (this.mem.readU16(a) + delta) & 0xffff);
  }

  /** Reads new used entries of queue q; frees their descriptors. Returns how many. */
  collect(q: number): number {
    const u = usedAddr(q);
    const idx = this.mem.readU16(u + 2);
    let n = 0;
    while (this.usedSeen[q] !== idx && n <= this.sizes[q]) {
      const e = u + 4 + 8 * (this.usedSeen[q] % this.sizes[q]);
      const head = this.mem.readU32(e);
      const len = this.mem.readU32(e + 4);
      this.used[q].push([head, len]);
      const descs = this.inFlight[q].get(head);
      if (descs) {
        this.inFlight[q].delete(head);
        this.free[q].push(...descs);
      }
      this.usedSeen[q] = (this.usedSeen[q] + 1) & 0xffff;
      n++;
    }
    return n;
  }
}
