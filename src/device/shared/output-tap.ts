/**
 * The output tap: a ring of every stereo frame the renderer wrote to its
 * output (after volume), for meters, scopes and tests. The renderer writes
 * it each block (writeTap, allocation-free); readers on other threads poll it
 * and report what they fell too far behind to see.
 */

import { SharedState } from './layout.ts';
import type { RenderState } from './render-state.ts';

/** Renderer side: appends `n` frames of `l`/`r` to the tap (no-op without a tap). */
export function writeTap(s: SharedState, l: Float32Array, r: Float32Array, n: number): void {
  const frames = s.params.tapFrames;
  if (frames === 0) return;
  const t = s.tapSamples;
  const w = s.tapWrite.load();
  const mask = frames - 1;
  for (let f = 0; f < n; f++) {
    const at = 2 * ((w + f) & mask);
    t[at] = l[f];
    t[at + 1] = r[f];
  }
  // A snapshot restored meanwhile (applyHeader, from another thread) moved
  // the write position and cleared the ring: its position stands.
  s.tapWrite.compareExchange(w, (w + n) | 0);
}

export interface TapChunk {
  left: Float32Array;
  right: Float32Array;
  /** Tap frame index (context frames since the device started rendering) of left[0]. */
  firstFrame: number;
  /** Frames that were overwritten before this reader saw them. */
  lost: number;
}

/** A reader of everything the device renders from the moment it is made. */
export class OutputTap {
  private readonly s: SharedState;
  private next: number;

  constructor(renderState: RenderState) {
    this.s = new SharedState(renderState.shared, renderState.layout);
    if (renderState.layout.tapFrames === 0)
      throw new RangeError('the device was created with tapFrames 0');
    this.next = this.s.tapWrite.load();
  }

  /** Everything rendered since the last take() (or since this reader was made). */
  take(): TapChunk {
    const size = this.s.params.tapFrames;
    const w = this.s.tapWrite.load();
    let from = this.next;
    let lost = 0;
    // The write position went back (a snapshot was restored): go on from there.
    if (((w - from) | 0) < 0) from = w;
    if (((w - from) | 0) > size) {
      lost = ((w - from) | 0) - size;
      from = (w - size) | 0;
    }
    const n = (w - from) | 0;
    const left = new Float32Array(n);
    const right = new Float32Array(n);
    copyTap(this.s, from, left, right, n);
    this.next = w;
    return { left, right, firstFrame: from >>> 0, lost };
  }

  /** The most recent `min(left.length, right.length, tapFrames)` frames, oldest first. */
  latest(left: Float32Array, right: Float32Array): void {
    const n = Math.min(left.length, right.length, this.s.params.tapFrames);
    copyTap(this.s, (this.s.tapWrite.load() - n) | 0, left, right, n);
  }
}

function copyTap(
  s: SharedState,
  from: number,
  left: Float32Array,
  right: Float32Array,
  n: number,
): void {
  const t = s.tapSamples;
  const mask = s.params.tapFrames - 1;
  for (let i = 0; i < n; i++) {
    const at = 2 * ((from + i) & mask);
    left[i] = t[at];
    right[i] = t[at + 1];
  }
}
