/**
 * A phase-continuous sine generator producing periods in any PCM format.
 */

import { encodePcm } from '../pcm/pcm-encode.ts';

export class Tone {
  /** Radians of the next frame, in [0, 2π) between calls (a snapshot keeps it). */
  phase = 0;

  constructor(
    public frequency: number,
    readonly rate: number,
    readonly channels: number,
    readonly format: number,
    public amplitude = 0.5,
  ) {}

  /** The next `frames` frames, encoded. All channels carry the same sine. */
  next(frames: number): Uint8Array {
    const ch = this.channels;
    const s = new Float32Array(frames * ch);
    const step = (2 * Math.PI * this.frequency) / this.rate;
    for (let f = 0; f < frames; f++) {
      const v = this.amplitude * Math.sin(this.phase);
      this.phase += step;
      for (let c = 0; c < ch; c++) s[f * ch + c] = v;
    }
    this.phase %= 2 * Math.PI;
    return encodePcm(this.format, ch, s);
  }
}
