/**
 * A stream's resampler in the audio thread: between the stream rate and the
 * context rate, interleaved stereo. The control plane designs the filter at
 * PREPARE into the stream's CoefficientSlot (control/stream-prepare.ts); this
 * picks it up when the renderer sees the new prepare generation, without
 * allocating.
 */

import { MAX_STREAM_RATE, maxPullInput, Resampler } from '../../pcm/resampler.ts';
import type { CoefficientSlot, SharedState } from '../shared/layout.ts';

/**
 * The renderer's converter for one stream (interleaved stereo). Sized at
 * construction for the worst case the stream can be configured to, so
 * configure() never allocates. Equal rates bypass it bit-exactly.
 */
export class StreamResampler {
  private readonly r: Resampler;
  private readonly slot: CoefficientSlot;
  private readonly table: Float32Array;
  /** Equal rates (or no design): frames pass through untouched. */
  bypass = true;
  private readonly descriptor = { L: 1, M: 1, taps: 2, rows: 1, exact: true };

  constructor(
    s: SharedState,
    id: number,
    private readonly contextRate: number,
  ) {
    this.slot = s.coefficients[id];
    this.table = s.floats;
    // The history lives in shared memory (sized by the control plane for any
    // design of the stream's rates), so a snapshot keeps it.
    this.r = new Resampler(2, s.params.resamplerFrames, s.resamplers[id]);
  }

  /**
   * Input frames one call may need (playback) for `outFrames` context frames, at most.
   * The first call after PREPARE also fills the kernel's look-ahead (taps / 2 + 1 frames),
   * which at 384 kHz on a 48 kHz context is 385 frames on top of the 1024 the quantum
   * spans: without it the decode buffers overflowed and NaN reached the output.
   */
  maxInputFrames(outFrames: number): number {
    return maxPullInput(outFrames, this.contextRate);
  }

  /** Stream frames one capture call may produce from `inFrames` context frames, at most. */
  maxOutputFrames(inFrames: number): number {
    return Math.ceil((inFrames * MAX_STREAM_RATE) / this.contextRate) + 2;
  }

  /** Takes the design and the resampler state PREPARE (or a restore) left in shared memory for a stream at `rate`. */
  configure(rate: number): void {
    const c = this.slot;
    this.bypass = rate === this.contextRate || c.L === 0;
    if (this.bypass) return;
    const d = this.descriptor;
    d.L = c.L;
    d.M = c.M;
    d.taps = c.taps;
    d.rows = c.rows;
    d.exact = c.exact;
    this.r.configure(d, this.table, c.coefsAt);
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
