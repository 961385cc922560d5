/**
 * A gain that follows its target with a linear ramp, so volume and mute
 * changes never click. Allocation-free; runs in the audio thread.
 */

/** Ramp length: 10 ms at 48 kHz. Long enough to be inaudible, short enough to feel instant. */
export const RAMP_FRAMES = 480;
/** The most frames one call handles (a render quantum). */
const MAX_FRAMES = 128;

export class GainRamp {
  /** The gain applied to the last frame. */
  current: number;
  private target: number;
  private step = 0;
  /** Per-frame gains while ramping (filled by advance()). */
  private readonly frameGains = new Float32Array(MAX_FRAMES);

  constructor(initial = 1) {
    this.current = initial;
    this.target = initial;
  }

  /**
   * Moves the ramp `frames` frames toward `target`. Returns the gain when it
   * is constant over those frames, or -1 when it ramps (see frameGains).
   */
  private advance(frames: number, target: number): number {
    if (target !== this.target) {
      this.target = target;
      this.step = (target - this.current) / RAMP_FRAMES;
    }
    if (this.current === this.target) return this.current;
    let g = this.current;
    for (let f = 0; f < frames; f++) {
      g += this.step;
      if ((this.step > 0 && g >= this.target) || (this.step < 0 && g <= this.target))
        g = this.target;
      this.frameGains[f] = g;
    }
    this.current = g;
    return -1;
  }

  /** Multiplies `frames` interleaved frames of `channels` channels in `buf` by the gain. */
  apply(buf: Float32Array, frames: number, channels: number, target: number): void {
    const g = this.advance(frames, target);
    if (g === 1) return; // bit-exact pass-through
    for (let f = 0; f < frames; f++) {
      const k = g < 0 ? this.frameGains[f] : g;
      const b = f * channels;
      for (let c = 0; c < channels; c++) buf[b + c] *= k;
    }
  }

  /** The same for a planar stereo pair (left and right each `frames` long). */
  applyPlanar(left: Float32Array, right: Float32Array, frames: number, target: number): void {
    const g = this.advance(frames, target);
    if (g === 1) return;
    for (let f = 0; f < frames; f++) {
      const k = g < 0 ? this.frameGains[f] : g;
      left[f] *= k;
      right[f] *= k;
    }
  }

  reset(gain: number): void {
    this.current = gain;
    this.target = gain;
    this.step = 0;
  }
}
