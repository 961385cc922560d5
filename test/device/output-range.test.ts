/**
 * The renderer's output stays within [-1, 1] for every input: a band-limited
 * resampler overshoots on full-scale input (an input that follows the signs
 * of a filter row sums to the row's L1 norm, 2.37 at 8 -> 48 kHz), and two
 * full-scale streams add up to 2.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { designResampler } from '../../src/pcm/resampler.ts';
import * as P from '../../src/snd/protocol.ts';
import { QUANTUM, SndGuest } from '../helpers/snd-guest.ts';

const OK = P.VIRTIO_SND_S_OK;
const FLOAT = P.VIRTIO_SND_PCM_FMT_FLOAT;
const CONTEXT = 48000;

/** Plays `frames` (FLOAT stereo, both channels the same) on stream 0 at `rate`; returns the peak |output|. */
function peakOf(rate: number, frames: Float32Array, streams = 1): number {
  const g = new SndGuest(
    {
      sampleRate: CONTEXT,
      streams: Array.from({ length: streams }, () => ({ direction: 'output' as const })),
    },
    16 << 20,
  ).init();
  const periodFrames = 1024;
  const total = Math.ceil(frames.length / periodFrames) * periodFrames;
  const pcm = new Float32Array(2 * total);
  for (let i = 0; i < frames.length; i++) pcm[2 * i] = pcm[2 * i + 1] = frames[i];
  for (let id = 0; id < streams; id++) {
    expect(
      g.setParams({
        streamId: id,
        bufferBytes: periodFrames * 8 * 4,
        periodBytes: periodFrames * 8,
        channels: 2,
        format: FLOAT,
        rateHz: rate,
      }),
    ).toBe(OK);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, id)).toBe(OK);
    for (let f = 0; f < total; f += periodFrames) {
      g.tx(id, new Uint8Array(pcm.buffer, f * 8, periodFrames * 8));
    }
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, id)).toBe(OK);
  }
  const quanta = Math.ceil((total * CONTEXT) / rate / QUANTUM) + 4;
  let peak = 0;
  for (let q = 0; q < quanta; q++) {
    const [l, r] = g.quantum();
    for (let f = 0; f < QUANTUM; f++) peak = Math.max(peak, Math.abs(l[f]), Math.abs(r[f]));
  }
  return peak;
}

/** Full-scale input that follows the signs of the filter row with the largest L1 norm. */
function worstCase(rate: number, frames: number): { input: Float32Array; l1: number } {
  const d = designResampler(rate, CONTEXT);
  let best = 0;
  let l1 = 0;
  for (let r = 0; r < d.rows; r++) {
    let n = 0;
    for (let k = 0; k < d.taps; k++) n += Math.abs(d.coefs[r * d.taps + k]);
    if (n > l1) [best, l1] = [r, n];
  }
  const input = new Float32Array(frames);
  for (let i = 0; i < frames; i++) input[i] = d.coefs[best * d.taps + (i % d.taps)] < 0 ? -1 : 1;
  return { input, l1 };
}

describe('output range', () => {
  for (const rate of [8000, 11025, 22050, 44100, 96000, 384000]) {
    it(`full-scale input at ${rate} Hz that drives the filter to its worst overshoot stays within [-1, 1]`, () => {
      const { input, l1 } = worstCase(rate, 8192);
      if (rate === 8000) expect(l1).toBeGreaterThan(2); // the case this guards
      expect(peakOf(rate, input)).toBeLessThanOrEqual(1);
    });
  }

  it('any full-scale input at any rate stays within [-1, 1] (property)', () => {
    const rates = P.PCM_RATE_HZ.slice(0, 14).filter((r) => r !== CONTEXT);
    fc.assert(
      fc.property(
        fc.constantFrom(...rates),
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 12 })), {
          minLength: 8,
          maxLength: 400,
        }),
        (rate, runs) => {
          const input = new Float32Array(
            runs.flatMap(([up, n]) => new Array<number>(n).fill(up ? 1 : -1)),
          );
          expect(peakOf(rate, input)).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('two full-scale streams mixed stay within [-1, 1]', () => {
    expect(peakOf(CONTEXT, new Float32Array(2048).fill(1), 2)).toBe(1);
    expect(peakOf(8000, worstCase(8000, 2048).input, 2)).toBeLessThanOrEqual(1);
  });
});
