/**
 * PREPARE's work for the renderer: the resampler between a stream's rate and
 * the context rate is designed here, in the control plane (it allocates and
 * takes milliseconds), into the stream's CoefficientSlot; the renderer's
 * StreamResampler picks it up without allocating.
 */

import {
  designResampler,
  designSize,
  historyFrames,
  maxPullInput,
  Resampler,
} from '../../pcm/resampler.ts';
import { PCM_RATE_HZ } from '../../snd/constants.ts';
import { BLOCK_FRAMES, coefficientRegionWords, type SharedState } from '../shared/layout.ts';
import type { ResolvedStream } from './config.ts';

/** Rates (Hz) a resolved stream offers. */
function ratesOf(st: ResolvedStream): number[] {
  return PCM_RATE_HZ.filter((_, i) => ((st.rates >> BigInt(i)) & 1n) === 1n);
}

/** Input and output rates of the conversion for a stream at `rate`. */
function conversion(direction: string, rate: number, contextRate: number): [number, number] {
  return direction === 'output' ? [rate, contextRate] : [contextRate, rate];
}

/** Words the largest design of any of these streams needs (the coefficient region per stream). */
export function coefficientWords(streams: readonly ResolvedStream[], contextRate: number): number {
  let max = 0;
  for (const st of streams) {
    for (const rate of ratesOf(st)) {
      if (rate === contextRate) continue;
      const [i, o] = conversion(st.direction, rate, contextRate);
      const { rows, taps } = designSize(i, o);
      max = Math.max(max, rows * taps);
    }
  }
  return coefficientRegionWords(max);
}

/** Stereo frames of resampler history a stream needs at most (0: none of these streams resamples). */
export function resamplerFrames(streams: readonly ResolvedStream[], contextRate: number): number {
  let taps = 0;
  for (const st of streams) {
    for (const rate of ratesOf(st)) {
      if (rate === contextRate) continue;
      const [i, o] = conversion(st.direction, rate, contextRate);
      taps = Math.max(taps, designSize(i, o).taps);
    }
  }
  // A pull takes the most input of any call (a capture push takes one block).
  return taps === 0 ? 0 : historyFrames(taps, maxPullInput(BLOCK_FRAMES, contextRate));
}

/** The design PREPARE makes for stream `id` at `rate` Hz (null: it runs at the context rate). */
export function designFor(
  st: ResolvedStream,
  rate: number,
  contextRate: number,
): ReturnType<typeof designResampler> | null {
  if (rate === contextRate) return null;
  const [inRate, outRate] = conversion(st.direction, rate, contextRate);
  return designResampler(inRate, outRate);
}

/**
 * PREPARE: designs stream `id`'s filter into its coefficient slot and starts
 * its resampler from silence (in shared memory, where the renderer takes it).
 */
export function prepareStream(
  s: SharedState,
  id: number,
  st: ResolvedStream,
  contextRate: number,
): void {
  const slot = s.coefficients[id];
  slot.clear();
  const d = designFor(st, s.streams[id].rateHz, contextRate);
  if (!d) return;
  if (d.coefs.length > slot.capacity) {
    throw new RangeError(
      `resampler design ${d.inRate}->${d.outRate} does not fit the coefficient region`,
    );
  }
  slot.coefs.set(d.coefs);
  slot.write(d);
  Resampler.startState(d.taps, 2, s.resamplers[id]);
}
