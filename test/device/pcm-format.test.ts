/**
 * Every sample format the device advertises, through the device's own queues
 * (MMIO + guest memory + renderer.process()), against the independent
 * reference converter in test/helpers/pcm-reference.ts (BigInt arithmetic,
 * hand-parsed IEEE floats, G.711 from its segment tables):
 *
 * - playback: random bytes in any format come out of the renderer as exactly
 *   fround(reference value), also when the payload is scattered over many
 *   descriptors at odd addresses, with samples straddling descriptors;
 * - capture: random float32 input comes back in the RX payload as exactly the
 *   reference encoding (linear formats), and G.711 capture round-trips every
 *   code's value.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as P from '../../src/snd/protocol.ts';
import {
  REF_FORMATS,
  REF_LAYOUT,
  refAlaw,
  refDecode,
  refDecodeF32,
  refEncode,
  refMulaw,
  refSampleBytes,
} from '../helpers/pcm-reference.ts';
import { type ChainPart, QUANTUM, SndGuest } from '../helpers/snd-guest.ts';

const OK = P.VIRTIO_SND_S_OK;

/** SET_PARAMS + PREPARE for a stream of 128-frame periods; returns the frame size. */
function configure(g: SndGuest, streamId: number, format: number, channels: number): number {
  const fb = refSampleBytes(format) * channels;
  expect(
    g.setParams({
      streamId,
      bufferBytes: fb * QUANTUM * 4,
      periodBytes: fb * QUANTUM,
      channels,
      format,
      rateHz: 48000,
    }),
  ).toBe(OK);
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, streamId)).toBe(OK);
  return fb;
}

/** STOP + RELEASE, so the same guest can take the next case. */
function finish(g: SndGuest, streamId: number) {
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_STOP, streamId)).toBe(OK);
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_RELEASE, streamId)).toBe(OK);
}

/** Plays `bytes` (exactly one quantum of `format`/`channels`) and checks every output sample. */
function playAndCheck(
  g: SndGuest,
  format: number,
  channels: 1 | 2,
  bytes: Uint8Array,
  queue: () => void,
) {
  configure(g, 0, format, channels);
  queue();
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
  const [l, r] = g.quantum();
  const sb = refSampleBytes(format);
  for (let f = 0; f < QUANTUM; f++) {
    const left = refDecodeF32(format, bytes, f * channels * sb);
    const right = channels === 2 ? refDecodeF32(format, bytes, (f * 2 + 1) * sb) : left;
    // (+ 0: the device mixes into a zeroed bus, so a decoded -0 comes out as +0.)
    if (l[f] !== left + 0 || r[f] !== right + 0) {
      const at = f * channels * sb;
      throw new Error(
        `format ${format} frame ${f}: bytes [${[...bytes.subarray(at, at + channels * sb)]}] ` +
          `gave ${l[f]}, ${r[f]}; reference ${left}, ${right}`,
      );
    }
  }
  finish(g, 0);
}

describe('playback decodes every advertised format like the reference', () => {
  it('the device advertises exactly MU_LAW, A_LAW and the 18 linear formats', () => {
    const g = new SndGuest().init();
    const r = g.query(P.VIRTIO_SND_R_PCM_INFO, 0, 1, 32);
    const formats = new DataView(r.payload.buffer).getBigUint64(8, true);
    expect(formats).toBe(REF_FORMATS.reduce((a, f) => a | (1n << BigInt(f)), 0n));
    expect(REF_FORMATS).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('random bytes in any format, mono or stereo (property)', () => {
    const g = new SndGuest({}, 16 << 20).init();
    fc.assert(
      fc.property(
        fc.constantFrom(...REF_FORMATS),
        fc.constantFrom(1 as const, 2 as const),
        fc.uint8Array({ minLength: 8 * 2 * QUANTUM, maxLength: 8 * 2 * QUANTUM }),
        (format, channels, random) => {
          const bytes = random.subarray(0, refSampleBytes(format) * channels * QUANTUM);
          playAndCheck(g, format, channels, bytes, () => g.tx(0, bytes));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('every code of the 8-bit formats', () => {
    const g = new SndGuest().init();
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    for (const format of [1, 2, 3, 4]) playAndCheck(g, format, 2, all, () => g.tx(0, all));
  });

  it('the extremes of every format: zero, ±full scale, padding bits, NaN, ±Inf, -0, subnormals', () => {
    const g = new SndGuest().init();
    for (const format of REF_FORMATS) {
      const sb = refSampleBytes(format);
      const l = REF_LAYOUT[format];
      const samples: Uint8Array[] = [];
      const le = (v: bigint) =>
        Uint8Array.from({ length: sb }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));
      if (l.kind === 'int') {
        const w = BigInt(l.bits);
        const all = (1n << BigInt(8 * sb)) - 1n;
        for (const v of [
          0n,
          1n,
          (1n << (w - 1n)) - 1n,
          1n << (w - 1n),
          (1n << w) - 1n,
          all, // padding bits set too
          all ^ ((1n << w) - 1n), // only padding bits set
          all & ~(1n << (w - 1n)),
        ])
          samples.push(le(v));
      } else if (l.kind === 'float') {
        const bits32 = [
          0x7fc00000, 0x7f800000, 0xff800000, 0x80000000, 0x00000001, 0x3f800000, 0xbf800000,
          0x3f800001, 0xbf800001, 0x7f7fffff, 0x3effffff,
        ];
        const bits64 = [
          0x7ff8000000000001n,
          0x7ff0000000000000n,
          0xfff0000000000000n,
          0x8000000000000000n,
          0x0000000000000001n,
          0x3ff0000000000000n,
          0x3ff0000000000001n,
          0xbfefffffffffffffn,
          0x3fd5555555555555n,
          0x36a0000000000000n, // 2^-149: the smallest float32 subnormal
          0x3690000000000000n, // 2^-150: rounds to zero in float32
        ];
        if (sb === 4) for (const b of bits32) samples.push(le(BigInt(b)));
        else for (const b of bits64) samples.push(le(b));
      } else {
        for (const c of [0x00, 0x7f, 0x80, 0xff, 0x55, 0xd5]) samples.push(Uint8Array.of(c));
      }
      const bytes = new Uint8Array(sb * 2 * QUANTUM);
      for (let i = 0; i < 2 * QUANTUM; i++) bytes.set(samples[i % samples.length], i * sb);
      playAndCheck(g, format, 2, bytes, () => g.tx(0, bytes));
    }
  });

  it('payloads scattered over descriptors at odd addresses, samples straddling them (property)', () => {
    const g = new SndGuest({}, 32 << 20).init();
    fc.assert(
      fc.property(
        fc.constantFrom(...REF_FORMATS),
        fc.uint8Array({ minLength: 16 * QUANTUM, maxLength: 16 * QUANTUM }),
        fc.array(fc.integer({ min: 1, max: 67 }), { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        (format, random, cuts, headerWithData) => {
          const bytes = random.subarray(0, refSampleBytes(format) * 2 * QUANTUM);
          let queued: { token: number; addrs: number[] } | undefined;
          playAndCheck(g, format, 2, bytes, () => {
            // The xfer header on its own or sharing the first descriptor with PCM.
            const parts: ChainPart[] = [];
            const hdr = new Uint8Array(4);
            let off = 0;
            if (headerWithData) {
              const n = Math.min(cuts[0], bytes.length);
              const first = new Uint8Array(4 + n);
              first.set(bytes.subarray(0, n), 4);
              parts.push({ len: 4 + n, write: false, data: first, odd: true });
              off = n;
            } else {
              parts.push({ len: 4, write: false, data: hdr, odd: true });
            }
            for (const c of cuts) {
              if (off >= bytes.length) break;
              const n = Math.min(c, bytes.length - off);
              parts.push({ len: n, write: false, data: bytes.subarray(off, off + n), odd: true });
              off += n;
            }
            if (off < bytes.length)
              parts.push({ len: bytes.length - off, write: false, data: bytes.subarray(off) });
            parts.push({ len: 8, write: true, odd: true });
            queued = g.chain(2, parts);
          });
          const { token, addrs } = queued!;
          expect(g.used[2].get(token)).toBe(8);
          expect(g.mem.readU32(addrs[addrs.length - 1])).toBe(OK);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('capture encodes like the reference', () => {
  /** Captures one quantum of stereo input as `format`; returns the RX payload. */
  function capture(g: SndGuest, format: number, l: Float32Array, r: Float32Array): Uint8Array {
    const fb = configure(g, 1, format, 2);
    const m = g.rx(1, fb * QUANTUM);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
    g.quantum([l, r]);
    expect(g.used[3].get(m.token)).toBe(fb * QUANTUM + 8);
    expect(g.statusOf(m).status).toBe(OK);
    finish(g, 1);
    return g.mem.read(m.data, fb * QUANTUM);
  }

  const LINEAR = REF_FORMATS.filter((f) => ['int', 'float'].includes(REF_LAYOUT[f].kind));

  it('random float32 input in every linear format (property)', () => {
    const g = new SndGuest({}, 16 << 20).init();
    const sample = fc.oneof(
      fc.float({ min: -1, max: 1, noNaN: true }),
      fc.float(), // anything: NaN, infinities, huge values
      fc.integer({ min: -(2 ** 23), max: 2 ** 23 }).map((k) => Math.fround(k / 2 ** 23)),
      fc.integer({ min: -32768, max: 32767 }).map((k) => (k + 0.5) / 32768), // S16 ties
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...LINEAR),
        fc.array(sample, { minLength: 2 * QUANTUM, maxLength: 2 * QUANTUM }),
        (format, values) => {
          const l = Float32Array.from({ length: QUANTUM }, (_, f) => values[2 * f]);
          const r = Float32Array.from({ length: QUANTUM }, (_, f) => values[2 * f + 1]);
          const got = capture(g, format, l, r);
          const sb = refSampleBytes(format);
          const want = new Uint8Array(sb);
          for (let i = 0; i < 2 * QUANTUM; i++) {
            const x = i % 2 === 0 ? l[i >> 1] : r[i >> 1];
            refEncode(format, x, want);
            const have = got.subarray(i * sb, (i + 1) * sb);
            if (!have.every((b, k) => b === want[k])) {
              throw new Error(
                `format ${format}: ${x} encoded as [${[...have]}], want [${[...want]}]`,
              );
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('S16 at the context rate captures the float input exactly when it is on the 16-bit grid', () => {
    const g = new SndGuest().init();
    const l = Float32Array.from({ length: QUANTUM }, (_, i) => (i * 257 - 32768) / 32768);
    const r = Float32Array.from({ length: QUANTUM }, (_, i) => (32767 - i * 131) / 32768);
    const got = new DataView(capture(g, P.VIRTIO_SND_PCM_FMT_S16, l, r).buffer);
    for (let f = 0; f < QUANTUM; f++) {
      expect(got.getInt16(4 * f, true)).toBe(i16(l[f]));
      expect(got.getInt16(4 * f + 2, true)).toBe(i16(r[f]));
    }
    function i16(x: number) {
      return Math.round(x * 32768);
    }
  });

  for (const [name, format, decode] of [
    ['mu-law', P.VIRTIO_SND_PCM_FMT_MU_LAW, refMulaw],
    ['A-law', P.VIRTIO_SND_PCM_FMT_A_LAW, refAlaw],
  ] as const) {
    it(`${name}: every code's value is captured as a code of the same value`, () => {
      const g = new SndGuest().init();
      const values = Float32Array.from({ length: 256 }, (_, c) => decode(c) / 32768);
      const got = capture(g, format, values.subarray(0, 128), values.subarray(128));
      for (let c = 0; c < 256; c++) {
        const code = got[c < 128 ? 2 * c : 2 * (c - 128) + 1];
        expect(refDecode(format, Uint8Array.of(code))).toBe(values[c]);
      }
    });

    it(`${name}: any input is captured as a code within one quantisation step`, () => {
      const g = new SndGuest().init();
      const x = Float32Array.from({ length: 256 }, (_, i) => Math.sin(i * 0.37) * 0.999);
      const got = capture(g, format, x.subarray(0, 128), x.subarray(128));
      // Sorted distinct code values: the step around any value is the gap to its neighbours.
      const grid = [...new Set(Array.from({ length: 256 }, (_, c) => decode(c) / 32768))].sort(
        (a, b) => a - b,
      );
      for (let i = 0; i < 256; i++) {
        const code = got[i < 128 ? 2 * i : 2 * (i - 128) + 1];
        const v = refDecode(format, Uint8Array.of(code));
        const k = grid.indexOf(v);
        // Beyond the outermost codes the input clips to them.
        const lo = k > 0 ? grid[k - 1] : -2;
        const hi = k < grid.length - 1 ? grid[k + 1] : 2;
        expect(x[i]).toBeGreaterThanOrEqual(lo);
        expect(x[i]).toBeLessThanOrEqual(hi);
      }
    });
  }

  it('mono capture is the mean of the left and right inputs', () => {
    const g = new SndGuest().init();
    const fb = configure(g, 1, P.VIRTIO_SND_PCM_FMT_FLOAT, 1);
    const m = g.rx(1, fb * QUANTUM);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
    const l = Float32Array.from({ length: QUANTUM }, (_, i) => Math.fround(Math.sin(i) * 0.9));
    const r = Float32Array.from({ length: QUANTUM }, (_, i) => Math.fround(Math.cos(i) * 0.7));
    g.quantum([l, r]);
    const got = g.mem.read(m.data, fb * QUANTUM);
    for (let f = 0; f < QUANTUM; f++)
      expect(refDecode(P.VIRTIO_SND_PCM_FMT_FLOAT, got, 4 * f)).toBe(
        Math.fround((l[f] + r[f]) / 2),
      );
  });
});
