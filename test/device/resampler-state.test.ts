/**
 * A Resampler whose state lives in a ResamplerStorage (shared memory, for
 * snapshots): a new Resampler configured over the storage another one left
 * (or over a copy of it) goes on exactly where the first stopped, in pull
 * and push mode; every state a run leaves passes checkState, and states no
 * run leaves do not (a new Resampler then starts from silence instead of
 * reading outside its history).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  designResampler,
  historyFrames,
  maxPullInput,
  Resampler,
  type ResamplerStorage,
} from '../../src/pcm/resampler.ts';

const CAPACITY = historyFrames(800, maxPullInput(128, 48000));

const designs = new Map<string, ReturnType<typeof designResampler>>();
function design(inRate: number, outRate: number) {
  const k = `${inRate}:${outRate}`;
  if (!designs.has(k)) designs.set(k, designResampler(inRate, outRate));
  return designs.get(k)!;
}

function storage(): ResamplerStorage {
  return { hist: new Float32Array(2 * CAPACITY), words: new Int32Array(4) };
}

function signal(n: number, seed: number): Float32Array {
  let x = seed;
  return Float32Array.from({ length: 2 * n }, () => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x / 0x40000000 - 1;
  });
}

describe('Resampler state in storage', () => {
  it('a new Resampler over a copy of the storage continues bit for bit (pull and push)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom([44100, 48000], [8000, 48000], [384000, 48000], [48000, 16000]),
        fc.constantFrom('pull' as const, 'push' as const),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 1, max: 1 << 30 }),
        ([inRate, outRate], mode, before, seed) => {
          const d = design(inRate, outRate);
          const table = d.coefs;
          const st = storage();
          Resampler.startState(d.taps, 2, st);
          const a = new Resampler(2, CAPACITY, st);
          a.configure(d, table, 0);
          const input = signal(maxPullInput(128, outRate) * 52, seed);
          let at = 0;
          const out = new Float32Array(2 * 4096);
          const step = (r: Resampler): Float32Array => {
            if (mode === 'pull') {
              const need = r.framesNeeded(128);
              r.pull(input.subarray(2 * at), need, out, 128);
              at += need;
              return out.slice(0, 256);
            }
            const n = r.push(input.subarray(2 * at), 128, out);
            at += 128;
            return out.slice(0, 2 * n);
          };
          for (let k = 0; k < before; k++) step(a);
          const saved = Resampler.readState(2, st);
          expect(Resampler.checkState(saved, d.taps, d.L, CAPACITY)).toBeNull();
          const copy = storage();
          Resampler.writeState(saved, copy);
          const b = new Resampler(2, CAPACITY, copy);
          b.configure(d, table, 0);
          const from = at;
          const outA: Float32Array[] = [];
          for (let k = 0; k < 10; k++) outA.push(step(a));
          at = from;
          for (let k = 0; k < 10; k++) expect(step(b)).toEqual(outA[k]);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refuses states no run leaves, and a Resampler over one starts from silence', () => {
    const d = designResampler(44100, 48000);
    const half = d.taps / 2;
    const good = { start: 10 - half + 1, end: 10 + 2, pos: 10, phase: 3 };
    expect(Resampler.checkState(good, d.taps, d.L, CAPACITY)).toBeNull();
    for (const bad of [
      { ...good, start: good.start - 1 },
      { ...good, end: good.start - 1 },
      { ...good, end: good.start + d.taps + 2 },
      { ...good, phase: d.L },
      { ...good, phase: -1 },
      { ...good, pos: 2 ** 31, start: 2 ** 31 - half + 1 },
    ]) {
      expect(Resampler.checkState(bad, d.taps, d.L, CAPACITY)).not.toBeNull();
    }
    const st = storage();
    st.words.set([5, 4, 3, 2]); // never prepared
    st.hist.fill(Number.NaN);
    const r = new Resampler(2, CAPACITY, st);
    r.configure(d, Float32Array.from(d.coefs), 0);
    const out = new Float32Array(256);
    const need = r.framesNeeded(128);
    r.pull(new Float32Array(2 * need).fill(0.25), need, out, 128);
    expect(out.every(Number.isFinite)).toBe(true);
  });
});
