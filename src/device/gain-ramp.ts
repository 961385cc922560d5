/**
 * A gain that follows its target with a linear ramp, so volume and mute
 * changes never click. Allocation-free; runs in the audio thread.
 */

/** Ramp length: 10 ms at 48 kHz. Long enough to be inaudible, short enough to feel instant. */
export const RAMP_FRAMES = 480;

export class GainRamp {
  /** The gain applied to the last frame. */
  current: number;
  private target: number;
  private step = 0;

  constructor(initial = 1) {
    this.current = initial;
    this.target = initial;
  }

  /**
   * Multiplies `frames` interleaved frames of `channels` channels in `buf`
   * by the ramping gain, moving toward `target`.
   */
  apply(buf: Float32Array, frames: number, channels: number, target: number): void {
    if (target !== this.target) {
      this.target = target;
      this.step = (target - this.current) / RAMP_FRAMES;
    }
    if (this.current === this.target) {
      const g = this.current;
      if (g === 1) return; // bit-exact pass-through
      const n = frames * channels;
      for (let i = 0; i < n; i++) buf[i] *= g;
      return;
    }
    let g = this.current;
    for (let f = 0; f < frames; f++) {
      g += this.step;
      if ((this.step > 0 && g >= this.target) || (this.step < 0 && g <= this.target))
        g = this.target;
      const b = f * channels;
      for (let c = 0; c < channels; c++) buf[b + c] *= g;
    }
    this.current = g;
  }

  /** The same for a planar stereo pair (left and right each `frames` long). */
  applyPlanar(left: Float32Array, right: Float32Array, frames: number, target: number): void {
    if (target !== this.target) {
      this.target = target;
      this.step = (target - this.current) / RAMP_FRAMES;
    }
    if (this.current === this.target) {
      const g = this.current;
      if (g === 1) return; // bit-exact pass-through
      for (let i = 0; i < frames; i++) {
        left[i] *= g;
        right[i] *= g;
      }
      return;
    }
    let g = this.current;
    for (let f = 0; f < frames; f++) {
      g += this.step;
      if ((this.step > 0 && g >= this.target) || (this.step < 0 && g <= this.target))
        g = this.target;
      left[f] *= g;
      right[f] *= g;
    }
    this.current = g;
  }

  reset(gain: number): void {
    this.current = gain;
    this.target = gain;
    this.step = 0;
  }
}
