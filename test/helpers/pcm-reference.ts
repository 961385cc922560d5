/**
 * A reference PCM converter for the device tests, written from the format
 * definitions alone (VIRTIO 1.2 5.14.6.6.x / ALSA sample formats, ITU-T
 * G.711), with BigInt arithmetic and bit-level float parsing: it shares no
 * code with src/device and does not use typed-array reinterpretation.
 *
 * Decode: little-endian container bytes -> the exact sample value as a
 * double in [-1, 1] (integers: the low `bits` bits, signed two's complement
 * or offset binary, divided by 2^(bits-1); floats: NaN -> 0, clamped to ±1).
 * The renderer works in float32, so what a test expects is fround() of that.
 *
 * Encode: a float32 sample -> container bytes (round half up to the integer
 * grid, clamped to the format's range; signed padding bits sign-extended,
 * unsigned padding bits zero; floats: NaN -> 0, clamped to ±1).
 */

export interface RefLayout {
  kind: 'int' | 'float' | 'mulaw' | 'alaw';
  /** Significant bits (ints). */
  bits: number;
  /** Container bytes per sample. */
  bytes: number;
  signed: boolean;
}

const int = (bits: number, bytes: number, signed: boolean): RefLayout => ({
  kind: 'int',
  bits,
  bytes,
  signed,
});

/** VIRTIO_SND_PCM_FMT_* value -> layout, for every format the device advertises (1..20). */
export const REF_LAYOUT: Record<number, RefLayout> = {
  1: { kind: 'mulaw', bits: 8, bytes: 1, signed: true },
  2: { kind: 'alaw', bits: 8, bytes: 1, signed: true },
  3: int(8, 1, true),
  4: int(8, 1, false),
  5: int(16, 2, true),
  6: int(16, 2, false),
  7: int(18, 3, true),
  8: int(18, 3, false),
  9: int(20, 3, true),
  10: int(20, 3, false),
  11: int(24, 3, true),
  12: int(24, 3, false),
  13: int(20, 4, true),
  14: int(20, 4, false),
  15: int(24, 4, true),
  16: int(24, 4, false),
  17: int(32, 4, true),
  18: int(32, 4, false),
  19: { kind: 'float', bits: 32, bytes: 4, signed: true },
  20: { kind: 'float', bits: 64, bytes: 8, signed: true },
};

export const REF_FORMATS: readonly number[] = Object.keys(REF_LAYOUT).map(Number);

export function refSampleBytes(format: number): number {
  return REF_LAYOUT[format].bytes;
}

/** Little-endian bytes -> unsigned BigInt. */
function leUint(bytes: Uint8Array, off: number, n: number): bigint {
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[off + i]);
  return v;
}

/** IEEE 754 binary32/binary64 bits -> value, parsed by hand (subnormals, infinities, NaN). */
function ieee(bitsValue: bigint, expBits: number, fracBits: number): number {
  const fracMask = (1n << BigInt(fracBits)) - 1n;
  const expMask = (1n << BigInt(expBits)) - 1n;
  const frac = bitsValue & fracMask;
  const exp = Number((bitsValue >> BigInt(fracBits)) & expMask);
  const negative = ((bitsValue >> BigInt(fracBits + expBits)) & 1n) === 1n;
  const bias = Number(expMask >> 1n);
  let v: number;
  if (exp === Number(expMask)) v = frac === 0n ? Number.POSITIVE_INFINITY : Number.NaN;
  else if (exp === 0) v = Number(frac) * 2 ** (1 - bias - fracBits);
  else v = Number(frac + (1n << BigInt(fracBits))) * 2 ** (exp - bias - fracBits);
  return negative ? -v : v;
}

/** G.711 mu-law code -> 16-bit linear (ITU-T G.711 table 2a, scaled by 4). */
export function refMulaw(code: number): number {
  const c = ~code & 0xff;
  const segment = (c >> 4) & 7;
  const step = c & 0x0f;
  // 14-bit magnitude: (2 * step + 33) * 2^segment - 33.
  const magnitude = ((2 * step + 33) * 2 ** segment - 33) * 4;
  return c & 0x80 ? 0 - magnitude : magnitude; // (0 - 0 is +0: both zero codes are 0)
}

/** G.711 A-law code -> 16-bit linear (ITU-T G.711 table 1a, scaled by 8). */
export function refAlaw(code: number): number {
  const c = code ^ 0x55;
  const segment = (c >> 4) & 7;
  const step = c & 0x0f;
  // 13-bit magnitude: segment 0: 2 * step + 1; segment s: (2 * step + 33) * 2^(s-1).
  const magnitude = (segment === 0 ? 2 * step + 1 : (2 * step + 33) * 2 ** (segment - 1)) * 8;
  return c & 0x80 ? magnitude : -magnitude;
}

function sanitize(x: number): number {
  if (Number.isNaN(x)) return 0;
  return Math.min(1, Math.max(-1, x));
}

/** The exact value of the sample of `format` at `bytes[off...]`. */
export function refDecode(format: number, bytes: Uint8Array, off = 0): number {
  const l = REF_LAYOUT[format];
  switch (l.kind) {
    case 'mulaw':
      return refMulaw(bytes[off]) / 32768;
    case 'alaw':
      return refAlaw(bytes[off]) / 32768;
    case 'float':
      return sanitize(
        l.bits === 32 ? ieee(leUint(bytes, off, 4), 8, 23) : ieee(leUint(bytes, off, 8), 11, 52),
      );
  }
  const w = BigInt(l.bits);
  let v = leUint(bytes, off, l.bytes) & ((1n << w) - 1n);
  const half = 1n << (w - 1n);
  if (l.signed) {
    if (v >= half) v -= 1n << w;
  } else {
    v -= half;
  }
  // |v| <= 2^31 and the divisor is a power of two: exact in a double.
  return Number(v) / Number(half);
}

/** What the renderer should output for that sample (it works in float32). */
export function refDecodeF32(format: number, bytes: Uint8Array, off = 0): number {
  return Math.fround(refDecode(format, bytes, off));
}

/** A float32 value as an exact rational m * 2^e (m a BigInt), or null for 0. */
function exactParts(x: number): { m: bigint; e: number } | null {
  if (x === 0) return null;
  // Every float32 is k * 2^-149 for an integer |k| < 2^128.
  return { m: BigInt(Math.round(x * 2 ** 149)), e: -149 };
}

/** floor(n / 2^s) for a BigInt n and s >= 0 (rounds toward -infinity). */
function floorShift(n: bigint, s: number): bigint {
  const d = 1n << BigInt(s);
  const q = n / d;
  return n < 0n && q * d !== n ? q - 1n : q;
}

/** Encodes the float32 value `x` as `format` into `out[off...]` (container bytes). */
export function refEncode(format: number, x: number, out: Uint8Array, off = 0): void {
  const l = REF_LAYOUT[format];
  const v = sanitize(x);
  if (l.kind === 'float') {
    const dv = new DataView(new ArrayBuffer(8));
    if (l.bits === 32) dv.setFloat32(0, v, true);
    else dv.setFloat64(0, v, true);
    for (let i = 0; i < l.bytes; i++) out[off + i] = dv.getUint8(i);
    return;
  }
  if (l.kind !== 'int') throw new Error('G.711 has no reference encoder here');
  const w = l.bits;
  const half = 1n << BigInt(w - 1);
  // round half up: floor(v * 2^(w-1) + 1/2) = floor((2 m 2^(e+w-1) + 1) / 2).
  let q = 0n;
  const p = exactParts(v);
  if (p) {
    const twice = 2n * p.m; // 2v = twice * 2^e
    const shift = p.e + w - 1; // v * 2^(w-1) = p.m * 2^shift
    // floor((2 * p.m * 2^shift + 1) / 2) with shift < 0: floor((2 p.m + 2^-shift) / 2^(1-shift)).
    q = shift >= 0 ? p.m << BigInt(shift) : floorShift(twice + (1n << BigInt(-shift)), 1 - shift);
  }
  if (q >= half) q = half - 1n;
  if (q < -half) q = -half;
  let container = l.signed ? q : q + half;
  const bitsAll = BigInt(8 * l.bytes);
  container &= (1n << bitsAll) - 1n; // two's complement in the container = sign extension
  for (let i = 0; i < l.bytes; i++) out[off + i] = Number((container >> BigInt(8 * i)) & 0xffn);
}
