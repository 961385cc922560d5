/**
 * PREPARE's work for the renderer: the resampler between a stream's rate and
 * the context rate is designed here, in the control plane (it allocates and
 * takes milliseconds), into the stream's CoefficientSlot; the renderer's
 * StreamResampler picks it up without allocating.
 */

import { designResampler, designSize } from '../../pcm/resampler.ts';
import { PCM_RATE_HZ } from '../../snd/constants.ts';
import { coefficientRegionWords, type SharedState } from '../shared/layout.ts';
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

/** PREPARE: designs stream `id`'s filter into its coefficient slot. */
export function prepareStream(
  s: SharedState,
  id: number,
  st: ResolvedStream,
  contextRate: number,
): void {
  const slot = s.coefficients[id];
  const rate = s.streams[id].rateHz;
  slot.clear();
  if (rate === contextRate) return;
  const [inRate, outRate] = conversion(st.direction, rate, contextRate);
  const d = designResampler(inRate, outRate);
  if (d.coefs.length > slot.capacity) {
    throw new RangeError(
      `resampler design ${inRate}->${outRate} does not fit the coefficient region`,
    );
  }
  slot.coefs.set(d.coefs);
  slot.write(d);
}
