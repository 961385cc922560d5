/**
 * The polyphase resampler: exact frame accounting, identical output however
 * the input is split, quality (THD+N) at the rate pairs a guest uses, and
 * stopband attenuation when downsampling.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { designResampler, Resampler } from '../../src/device/resampler.ts';

function makeResampler(inRate: number, outRate: number, channels = 1, capacity = 1 << 16) {
  const d = designResampler(inRate, outRate);
  const r = new Resampler(channels, capacity);
  r.configure(d, d.coefs, 0);
  return r;
}

/** Pulls `outFrames` through a resampler fed by `gen(i)` (mono). */
function pullAll(
  r: Resampler,
  outFrames: number,
  gen: (i: number) => number,
  block = 128,
): Float32Array {
  const out = new Float32Array(outFrames);
  const inBuf = new Float32Array(1 << 14);
  const o = new Float32Array(block);
  let i = 0;
  for (let n = 0; n < outFrames; n += block) {
    const need = r.framesNeeded(block);
    for (let k = 0; k < need; k++) inBuf[k] = gen(i++);
    r.pull(inBuf, need, o, block);
    out.set(o.subarray(0, Math.min(block, outFrames - n)), n);
  }
  return out;
}

/** THD+N in dB: residual after a least-squares fit of a sine at `freq` (plus DC). */
function thdN(x: Float32Array, rate: number, freq: number): number {
  const w = (2 * Math.PI * freq) / rate;
  let ss = 0;
  let sc = 0;
  let cc = 0;
  let xs = 0;
  let xc = 0;
  let s1 = 0;
  let c1 = 0;
  let x1 = 0;
  const n = x.length;
  for (let i = 0; i < n; i++) {
    const s = Math.sin(w * i);
    const c = Math.cos(w * i);
    ss += s * s;
    sc += s * c;
    cc += c * c;
    xs += x[i] * s;
    xc += x[i] * c;
    s1 += s;
    c1 += c;
    x1 += x[i];
  }
  // Solve the 3x3 normal equations for a*sin + b*cos + d.
  const A = [
    [ss, sc, s1],
    [sc, cc, c1],
    [s1, c1, n],
  ];
  const B = [xs, xc, x1];
  for (let col = 0; col < 3; col++) {
    for (let row = col + 1; row < 3; row++) {
      const f = A[row][col] / A[col][col];
      for (let k = col; k < 3; k++) A[row][k] -= f * A[col][k];
      B[row] -= f * B[col];
    }
  }
  const sol = [0, 0, 0];
  for (let row = 2; row >= 0; row--) {
    let v = B[row];
    for (let k = row + 1; k < 3; k++) v -= A[row][k] * sol[k];
    sol[row] = v / A[row][row];
  }
  let sig = 0;
  let res = 0;
  for (let i = 0; i < n; i++) {
    const fit = sol[0] * Math.sin(w * i) + sol[1] * Math.cos(w * i) + sol[2];
    sig += fit * fit;
    res += (x[i] - fit) ** 2;
  }
  return 10 * Math.log10(res / sig);
}

describe('Resampler', () => {
  const pairs: [number, number, number, number][] = [
    // in, out, tone, required THD+N (dB)
    [44100, 48000, 1000, -110],
    [48000, 44100, 1000, -110],
    [22050, 48000, 1000, -110],
    [8000, 48000, 440, -110],
    [48000, 16000, 1000, -110],
    [5512, 48000, 440, -110],
    [96000, 48000, 1000, -110],
  ];
  for (const [inRate, outRate, tone, limit] of pairs) {
    it(`${inRate} -> ${outRate}: THD+N of a ${tone} Hz sine below ${limit} dB`, () => {
      const r = makeResampler(inRate, outRate);
      const total = outRate * 1.5;
      const out = pullAll(r, total, (i) => 0.5 * Math.sin((2 * Math.PI * tone * i) / inRate));
      const settled = out.subarray(outRate * 0.25);
      const db = thdN(settled, outRate, tone);
      console.log(`THD+N ${inRate} -> ${outRate} @ ${tone} Hz: ${db.toFixed(1)} dB`);
      expect(db).toBeLessThan(limit);
    });
  }

  it('attenuates a tone above the lower Nyquist by more than 80 dB when downsampling', () => {
    const r = makeResampler(48000, 16000);
    const out = pullAll(r, 16000, (i) => 0.5 * Math.sin((2 * Math.PI * 12000 * i) / 48000));
    let peak = 0;
    for (let i = 4000; i < out.length; i++) peak = Math.max(peak, Math.abs(out[i]));
    expect(20 * Math.log10(peak / 0.5)).toBeLessThan(-80);
  });

  it('consumes exactly outFrames * in / out input frames over a million frames (no drift)', () => {
    const r = makeResampler(44100, 48000);
    const inBuf = new Float32Array(4096);
    const o = new Float32Array(128);
    let consumed = 0;
    const outFrames = 1_000_064;
    for (let n = 0; n < outFrames; n += 128) {
      const need = r.framesNeeded(128);
      consumed += need;
      r.pull(inBuf, need, o, 128);
    }
    // The kernel looks taps/2 frames ahead of the output position.
    const position = (outFrames * 44100) / 48000;
    expect(consumed - r.latencyFrames).toBeLessThanOrEqual(Math.ceil(position) + 1);
    expect(consumed - r.latencyFrames).toBeGreaterThanOrEqual(Math.floor(position) - 1);
  });

  it('gives the same output however the input is split (push mode)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 30 }),
        (chunks) => {
          const total = chunks.reduce((a, b) => a + b, 0);
          const input = Float32Array.from({ length: total * 2 }, (_, i) => Math.sin(i / 13));
          const one = makeResampler(48000, 16000, 2);
          const big = new Float32Array(total * 2);
          const n1 = one.push(input, total, big);
          const split = makeResampler(48000, 16000, 2);
          const parts: number[] = [];
          let off = 0;
          const tmp = new Float32Array(4096);
          for (const c of chunks) {
            const n = split.push(input.subarray(off * 2), c, tmp);
            parts.push(...tmp.subarray(0, n * 2));
            off += c;
          }
          expect(parts.length).toBe(n1 * 2);
          expect(parts).toEqual([...big.subarray(0, n1 * 2)]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('designs every rate pair of the spec within its size budget, quickly', () => {
    const rates = [
      5512, 8000, 11025, 16000, 22050, 32000, 44100, 48000, 64000, 88200, 96000, 176400, 192000,
      384000,
    ];
    const t0 = performance.now();
    let worst = 0;
    for (const a of rates) {
      for (const ctx of [44100, 48000]) {
        if (a === ctx) continue;
        for (const [i, o] of [
          [a, ctx],
          [ctx, a],
        ]) {
          const t = performance.now();
          const d = designResampler(i, o);
          worst = Math.max(worst, performance.now() - t);
          expect(d.coefs.length).toBe(d.rows * d.taps);
          expect(d.coefs.every(Number.isFinite)).toBe(true);
        }
      }
    }
    console.log(
      `designs: ${(performance.now() - t0).toFixed(0)} ms in all, worst ${worst.toFixed(1)} ms`,
    );
  });
});
