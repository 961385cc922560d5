/**
 * What a stream needs in the audio thread beyond its parameters: the
 * resampler between the stream rate and the context rate.
 *
 * The control plane designs the filter at PREPARE (prepareStreamRuntime) and
 * writes it into the stream's coefficient region of the shared state; the
 * renderer's StreamResampler picks it up when it sees the new prepare
 * generation, without allocating.
 */

import { PCM_RATE_HZ } from '../snd/constants.ts';
import type { ResolvedStream } from './config.ts';
import { designResampler, designSize, Resampler } from './resampler.ts';
import type { SharedState } from './shared-state.ts';

const HDR_L = 0;
const HDR_M = 1;
const HDR_TAPS = 2;
const HDR_ROWS = 3;
const HDR_EXACT = 4;
const HDR_IN = 5;
const HDR_OUT = 6;
const HEADER_WORDS = 8;
/** The fastest stream rate virtio-snd defines. */
const MAX_STREAM_RATE = 384000;

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
  return HEADER_WORDS + max;
}

/** PREPARE: designs stream `id`'s filter into its coefficient region (control plane). */
export function prepareStreamRuntime(
  s: SharedState,
  id: number,
  st: ResolvedStream,
  rate: number,
  contextRate: number,
): void {
  const base = s.coefficientBase(id);
  const i32 = s.i32;
  i32.fill(0, base, base + HEADER_WORDS);
  if (rate === contextRate) return;
  const [inRate, outRate] = conversion(st.direction, rate, contextRate);
  const d = designResampler(inRate, outRate);
  if (HEADER_WORDS + d.coefs.length > s.layout.params.coefficientWords) {
    throw new RangeError(
      `resampler design ${inRate}->${outRate} does not fit the coefficient region`,
    );
  }
  s.f32.set(d.coefs, base + HEADER_WORDS);
  i32[base + HDR_L] = d.L;
  i32[base + HDR_M] = d.M;
  i32[base + HDR_TAPS] = d.taps;
  i32[base + HDR_ROWS] = d.rows;
  i32[base + HDR_EXACT] = d.exact ? 1 : 0;
  i32[base + HDR_IN] = inRate;
  i32[base + HDR_OUT] = outRate;
}

/**
 * The renderer's converter for one stream (interleaved stereo). Sized at
 * construction for the worst case the stream can be configured to, so
 * configure() never allocates. Equal rates bypass it bit-exactly.
 */
export class StreamResampler {
  private readonly r: Resampler;
  private readonly base: number;
  /** Equal rates (or no design): frames pass through untouched. */
  bypass = true;
  private readonly descriptor = { L: 1, M: 1, taps: 2, rows: 1, exact: true };

  constructor(
    private readonly s: SharedState,
    id: number,
    private readonly contextRate: number,
    mode: 'playback' | 'capture',
  ) {
    this.base = s.coefficientBase(id);
    // A design never has more taps than its region has words.
    const maxTaps = s.layout.params.coefficientWords;
    const maxIn = mode === 'playback' ? this.maxInputFrames(128) : 128;
    this.r = new Resampler(2, maxTaps + maxIn + 4);
  }

  /**
   * Input frames one call may need (playback) for `outFrames` context frames, at most.
   * The first call after PREPARE also fills the kernel's look-ahead (taps / 2 + 1 frames),
   * which at 384 kHz on a 48 kHz context is 385 frames on top of the 1024 the quantum
   * spans: without it the decode buffers overflowed and NaN reached the output.
   */
  maxInputFrames(outFrames: number): number {
    const lookahead = designSize(MAX_STREAM_RATE, this.contextRate).taps / 2 + 1;
    return Math.ceil((outFrames * MAX_STREAM_RATE) / this.contextRate) + 2 + lookahead;
  }

  /** Stream frames one capture call may produce from `inFrames` context frames, at most. */
  maxOutputFrames(inFrames: number): number {
    return Math.ceil((inFrames * MAX_STREAM_RATE) / this.contextRate) + 2;
  }

  /** Takes the design PREPARE left in shared memory for a stream at `rate`. */
  configure(rate: number): void {
    const i32 = this.s.i32;
    const b = this.base;
    this.bypass = rate === this.contextRate || i32[b + HDR_L] === 0;
    if (this.bypass) return;
    const d = this.descriptor;
    d.L = i32[b + HDR_L];
    d.M = i32[b + HDR_M];
    d.taps = i32[b + HDR_TAPS];
    d.rows = i32[b + HDR_ROWS];
    d.exact = i32[b + HDR_EXACT] === 1;
    this.r.configure(d, this.s.f32, b + HEADER_WORDS);
  }

  framesNeeded(outFrames: number): number {
    return this.bypass ? outFrames : this.r.framesNeeded(outFrames);
  }

  /** Playback: returns the buffer holding `outFrames` context-rate frames. */
  pull(
    input: Float32Array,
    inFrames: number,
    output: Float32Array,
    outFrames: number,
  ): Float32Array {
    if (this.bypass) return input;
    this.r.pull(input, inFrames, output, outFrames);
    return output;
  }

  /** Capture: converts `inFrames` context-rate frames; returns stream frames written to `output`. */
  push(input: Float32Array, inFrames: number, output: Float32Array): number {
    if (this.bypass) {
      const n = inFrames * 2;
      for (let i = 0; i < n; i++) output[i] = input[i];
      return inFrames;
    }
    return this.r.push(input, inFrames, output);
  }
}
