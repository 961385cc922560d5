/**
 * A renderer-side copy of a stream's parameters, re-read only when the
 * control plane bumps the stream's prepare generation (SET_PARAMS/PREPARE).
 * Allocation-free.
 */

import { PCM_FORMAT_INFO } from '../snd/constants.ts';
import { S_CHANNELS, S_FORMAT, S_FRAME_BYTES, S_PREPARE_GEN, S_RATE_HZ } from './shared-state.ts';

export class StreamParams {
  gen = -1;
  channels = 0;
  format = 0;
  /** Bytes per sample of the format. */
  sampleBytes = 0;
  frameBytes = 0;
  rateHz = 0;

  /** Re-reads the stream entry at word `b` if it changed; returns true when it did. */
  refresh(u: Int32Array, b: number): boolean {
    if (u[b + S_PREPARE_GEN] === this.gen) return false;
    this.gen = u[b + S_PREPARE_GEN];
    this.channels = u[b + S_CHANNELS];
    this.format = u[b + S_FORMAT];
    this.sampleBytes = PCM_FORMAT_INFO[this.format]?.physBits / 8 || 1;
    this.frameBytes = u[b + S_FRAME_BYTES];
    this.rateHz = u[b + S_RATE_HZ];
    return true;
  }

  /** Forces a re-read at the next refresh (device reset). */
  reset(): void {
    this.gen = -1;
  }
}
