/**
 * Hostile shapes shared by the fuzz cases: numbers near the edges (0, 1,
 * 2^31, 2^32 - 1...) and buffer layouts a guest may give a device: distinct,
 * all aliased to one address, overlapping, over the request itself, or over
 * the queue's own rings.
 */

import type { Codec } from './bytes.ts';
import type { Seg } from './rings.ts';

/** A value from `list` (by index), or any value `raw` reads. Writes the index when `v` is listed. */
export function listedOr<T>(c: Codec, list: readonly T[], raw: (c: Codec, v?: T) => T, v?: T): T {
  const i = v === undefined ? undefined : list.indexOf(v) >= 0 ? list.indexOf(v) : list.length;
  const k = c.range(0, list.length, i);
  return k < list.length ? list[k] : raw(c, v);
}

/** le32 values that break sizes, counts and ids. */
export const EDGY_U32: readonly number[] = [
  0, 1, 2, 3, 4, 7, 8, 12, 16, 24, 32, 36, 64, 68, 92, 96, 100, 120, 128, 255, 256, 512, 4096,
  65535, 65536, 0x1000000, 0x2000000, 0x4000000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
];

export const edgyU32 = (c: Codec, v?: number) => listedOr(c, EDGY_U32, (cc, x) => cc.u32(x), v);

export const LAYOUTS = [
  'distinct',
  'aliased',
  'overlapping',
  'over-request',
  'over-rings',
] as const;
export type Layout = (typeof LAYOUTS)[number];

/** `count` buffers of `len` bytes each, placed by `layout`. */
export interface SegShape {
  count: number;
  len: number;
  layout: Layout;
}

export function segShape(
  c: Codec,
  maxCount: number,
  lens: readonly number[],
  maxLen: number,
  v?: SegShape,
): SegShape {
  const count = c.range(1, maxCount, v?.count);
  const len = listedOr(c, lens, (cc, x) => cc.range(1, maxLen, x), v?.len);
  const layout = c.pick(LAYOUTS, v?.layout);
  return { count, len, layout };
}

export interface Placement {
  /** Fresh buffer space of `len` bytes (may reuse old space). */
  buf(len: number): number;
  /** Where the chain's request (readable part) is. */
  requestAt: number;
  /** The queue's descriptor table. */
  ringAt: number;
}

/** The buffers of a shape, all device-writable (or all readable with `write` false). */
export function place(s: SegShape, p: Placement, write = true): Seg[] {
  const segs: Seg[] = [];
  const step = Math.max(1, Math.floor(s.len / 4));
  const base =
    s.layout === 'aliased'
      ? p.buf(s.len)
      : s.layout === 'overlapping'
        ? p.buf(s.len + (s.count - 1) * step)
        : s.layout === 'over-request'
          ? p.requestAt
          : s.layout === 'over-rings'
            ? p.ringAt
            : -1;
  for (let k = 0; k < s.count; k++) {
    const addr =
      s.layout === 'distinct' ? p.buf(s.len) : s.layout === 'overlapping' ? base + k * step : base;
    segs.push({ addr, len: s.len, write });
  }
  return segs;
}
