/**
 * Readers of the device's shared memory for the page: the output tap (every
 * frame the renderer wrote to its output, after volume) and the completion
 * log (the audio-clock frame of every I/O message completion). They poll; a
 * reader that falls more than a ring's length behind reports what it lost.
 */

import type { RenderState } from '../device/render-state.ts';
import {
  COMPLETION_LOG_ENTRIES,
  H_COMPLETION_WRITE,
  H_TAP_WRITE,
  SharedState,
} from '../device/shared-state.ts';

export interface TapChunk {
  left: Float32Array;
  right: Float32Array;
  /** Tap frame index (context frames since the device started rendering) of left[0]. */
  firstFrame: number;
  /** Frames that were overwritten before this reader saw them. */
  lost: number;
}

export class OutputTap {
  private readonly s: SharedState;
  private next: number;

  constructor(renderState: RenderState) {
    this.s = new SharedState(renderState.shared, renderState.layout);
    if (renderState.layout.tapFrames === 0)
      throw new RangeError('the device was created with tapFrames 0');
    this.next = Atomics.load(this.s.i32, H_TAP_WRITE);
  }

  /** Everything rendered since the last take() (or since this reader was made). */
  take(): TapChunk {
    const size = this.s.layout.params.tapFrames;
    const w = Atomics.load(this.s.i32, H_TAP_WRITE);
    let from = this.next;
    let lost = 0;
    if (((w - from) | 0) > size) {
      lost = ((w - from) | 0) - size;
      from = (w - size) | 0;
    }
    const n = (w - from) | 0;
    const left = new Float32Array(n);
    const right = new Float32Array(n);
    const base = this.s.layout.tap;
    for (let i = 0; i < n; i++) {
      const at = base + 2 * ((from + i) & (size - 1));
      left[i] = this.s.f32[at];
      right[i] = this.s.f32[at + 1];
    }
    this.next = w;
    return { left, right, firstFrame: from >>> 0, lost };
  }
}

export interface Completion {
  stream: number;
  /** Context frame count (low 32 bits) at the end of the quantum that completed the message. */
  frame: number;
  latencyBytes: number;
  head: number;
}

export class CompletionLog {
  private readonly s: SharedState;
  private next: number;
  lost = 0;

  constructor(renderState: RenderState) {
    this.s = new SharedState(renderState.shared, renderState.layout);
    this.next = Atomics.load(this.s.i32, H_COMPLETION_WRITE);
  }

  take(): Completion[] {
    const i32 = this.s.i32;
    const w = Atomics.load(i32, H_COMPLETION_WRITE);
    let from = this.next;
    if (((w - from) | 0) > COMPLETION_LOG_ENTRIES) {
      this.lost += ((w - from) | 0) - COMPLETION_LOG_ENTRIES;
      from = (w - COMPLETION_LOG_ENTRIES) | 0;
    }
    const out: Completion[] = [];
    for (let k = from; k !== w; k = (k + 1) | 0) {
      const e = this.s.layout.completions + 4 * (k & (COMPLETION_LOG_ENTRIES - 1));
      out.push({
        stream: i32[e],
        frame: i32[e + 1] >>> 0,
        latencyBytes: i32[e + 2],
        head: i32[e + 3],
      });
    }
    this.next = w;
    return out;
  }
}
