/**
 * Sample conversion against a reference written independently here (bit by
 * bit, with BigInt), for every supported format at aligned and unaligned
 * addresses, plus encode round trips and float sanitising.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alawLinear, ulawLinear } from '../../src/device/g711.ts';
import { PcmCodec, SUPPORTED_FORMATS } from '../../src/device/pcm-format.ts';

/** [significant bits, container bytes, signed] per format, from the spec's table. */
const LAYOUT: Record<number, [number, number, boolean]> = {
  3: [8, 1, true],
  4: [8, 1, false],
  5: [16, 2, true],
  6: [16, 2, false],
  7: [18, 3, true],
  8: [18, 3, false],
  9: [20, 3, true],
  10: [20, 3, false],
  11: [24, 3, true],
  12: [24, 3, false],
  13: [20, 4, true],
  14: [20, 4, false],
  15: [24, 4, true],
  16: [24, 4, false],
  17: [32, 4, true],
  18: [32, 4, false],
};

/** Reference decode of one integer sample: little-endian bytes -> value / 2^(w-1). */
function refInt(bytes: Uint8Array, format: number): number {
  const [w, n, signed] = LAYOUT[format];
  let raw = 0n;
  for (let i = n - 1; i >= 0; i--) raw = (raw << 8n) | BigInt(bytes[i]);
  let v = raw & ((1n << BigInt(w)) - 1n);
  const half = 1n << BigInt(w - 1);
  if (signed) {
    if (v >= half) v -= 1n << BigInt(w);
  } else {
    v -= half;
  }
  return Math.fround(Number(v) / Number(half));
}

function refFloat(x: number): number {
  if (Number.isNaN(x)) return 0;
  return Math.fround(Math.max(-1, Math.min(1, x)));
}

const sampleBytes = (f: number) => (f === 19 ? 4 : f === 20 ? 8 : f <= 2 ? 1 : LAYOUT[f][1]);

describe('PcmCodec.decode', () => {
  it('supports exactly MU_LAW..FLOAT64', () => {
    expect(SUPPORTED_FORMATS).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('matches the reference for every format at any alignment', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SUPPORTED_FORMATS),
        fc.integer({ min: 0, max: 7 }),
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        (format, offset, bytes) => {
          const mem = new Uint8Array(new SharedArrayBuffer(128));
          mem.set(bytes, offset);
          const sb = sampleBytes(format);
          const n = Math.floor(56 / sb);
          const out = new Float32Array(n);
          new PcmCodec(mem).decode(format, offset, n, out, 0);
          for (let i = 0; i < n; i++) {
            const s = bytes.subarray(i * sb, (i + 1) * sb);
            const dv = new DataView(s.buffer, s.byteOffset, sb);
            let want: number;
            if (format === 1) want = ulawLinear[s[0]] / 32768;
            else if (format === 2) want = alawLinear[s[0]] / 32768;
            else if (format === 19) want = refFloat(dv.getFloat32(0, true));
            else if (format === 20) want = refFloat(dv.getFloat64(0, true));
            else want = refInt(s, format);
            expect(out[i]).toBe(Math.fround(want));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('G.711 decodes published code points', () => {
    // mu-law: 0x00 -> -32124, 0x80 -> +32124, 0xff -> 0, 0x7f -> 0; A-law: 0xd5 -> +8, 0x55 -> -8, 0xaa -> +32256.
    expect([ulawLinear[0x00], ulawLinear[0x80], ulawLinear[0xff], ulawLinear[0x7f]]).toEqual([
      -32124, 32124, 0, 0,
    ]);
    expect([alawLinear[0xd5], alawLinear[0x55], alawLinear[0xaa], alawLinear[0x2a]]).toEqual([
      8, -8, 32256, -32256,
    ]);
  });

  it('sanitises floats: NaN -> 0, beyond ±1 and infinities clamp', () => {
    const mem = new Uint8Array(64);
    const f = new Float32Array(mem.buffer);
    f.set([Number.NaN, 2, -3, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0.25, -1, 1]);
    const out = new Float32Array(8);
    new PcmCodec(mem).decode(19, 0, 8, out, 0);
    expect([...out]).toEqual([0, 1, -1, 1, -1, 0.25, -1, 1]);
  });
});

describe('PcmCodec.encode', () => {
  it('round-trips every representable integer sample exactly', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18),
        fc.integer(),
        (format, r) => {
          const [w] = LAYOUT[format];
          const half = 2 ** (w - 1);
          const v = (Math.abs(r) % (2 * half)) - half; // -half .. half-1
          const x = Math.fround(v / half);
          const mem = new Uint8Array(16);
          const c = new PcmCodec(mem);
          c.encode(format, new Float32Array([x]), 0, 1, 3);
          const out = new Float32Array(1);
          c.decode(format, 3, 1, out, 0);
          // 32-bit values lose low bits in float32; compare through the float.
          expect(out[0]).toBe(x);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('clamps and rounds: +1.0 -> max, -1.0 -> min, NaN -> 0', () => {
    const mem = new Uint8Array(16);
    const c = new PcmCodec(mem);
    c.encode(5, new Float32Array([1, -1, Number.NaN, 2]), 0, 4, 0);
    expect([...new Int16Array(mem.buffer, 0, 4)]).toEqual([32767, -32768, 0, 32767]);
    c.encode(4, new Float32Array([0, -1]), 0, 2, 0);
    expect([mem[0], mem[1]]).toEqual([128, 0]);
  });

  it('G.711 encode then decode is the identity on decoded values', () => {
    const mem = new Uint8Array(256);
    const c = new PcmCodec(mem);
    for (const [format, table] of [
      [1, ulawLinear],
      [2, alawLinear],
    ] as const) {
      const x = Float32Array.from(table, (v) => v / 32768);
      c.encode(format, x, 0, 256, 0);
      const back = new Float32Array(256);
      c.decode(format, 0, 256, back, 0);
      expect([...back]).toEqual([...x]);
    }
  });
});
