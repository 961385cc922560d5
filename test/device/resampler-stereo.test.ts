/**
 * The resampler's stereo fast path (both channels in one pass on an exact
 * table) must give exactly what the per-channel path gives: each channel of
 * a stereo run equals a mono run of that channel, bit for bit.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { designResampler, Resampler } from '../../src/pcm/resampler.ts';

function run(
  channels: number,
  input: Float32Array,
  inRate: number,
  outRate: number,
  chunks: number[],
): Float32Array {
  const d = designResampler(inRate, outRate);
  const r = new Resampler(channels, d.taps + 4096);
  r.configure(d, Float32Array.from(d.coefs), 0);
  const out: number[] = [];
  let at = 0;
  const buf = new Float32Array(8192 * channels);
  for (const frames of chunks) {
    const n = Math.min(frames, input.length / channels - at);
    if (n <= 0) break;
    const got = r.push(input.subarray(at * channels, (at + n) * channels), n, buf);
    out.push(...buf.subarray(0, got * channels));
    at += n;
  }
  return Float32Array.from(out);
}

describe('Resampler stereo fast path', () => {
  it('equals two mono runs bit for bit (44.1 -> 48 kHz, 48 -> 44.1 kHz, 8 -> 48 kHz)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom([44100, 48000], [48000, 44100], [8000, 48000]),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 1 << 30 }),
        ([inRate, outRate], chunks, seed) => {
          const frames = 2000;
          const st = new Float32Array(2 * frames);
          let x = seed;
          for (let i = 0; i < st.length; i++) {
            x = (x * 1103515245 + 12345) & 0x7fffffff;
            st[i] = x / 0x40000000 - 1;
          }
          const l = st.filter((_, i) => i % 2 === 0);
          const r = st.filter((_, i) => i % 2 === 1);
          const both = run(2, st, inRate, outRate, chunks);
          const left = run(1, l, inRate, outRate, chunks);
          const right = run(1, r, inRate, outRate, chunks);
          expect(both.length).toBe(2 * left.length);
          expect(both.filter((_, i) => i % 2 === 0)).toEqual(left);
          expect(both.filter((_, i) => i % 2 === 1)).toEqual(right);
        },
      ),
      { numRuns: 30 },
    );
  });
});
