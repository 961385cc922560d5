/**
 * The handle from which the audio thread builds its PcmRenderer. Only
 * SharedArrayBuffers, numbers, strings and arrays: it survives
 * structured cloning into an AudioWorkletProcessor's processorOptions.
 */

import type { Direction } from './config.ts';
import type { SharedLayoutParams } from './shared-state.ts';

export interface RenderState {
  /** Guest memory (a SharedArrayBuffer whenever the renderer runs in another thread). */
  memory: SharedArrayBuffer | ArrayBuffer;
  /** The device-private shared state (shared-state.ts). */
  shared: SharedArrayBuffer;
  layout: SharedLayoutParams;
  /** The AudioContext's rate: every process() call renders 128 frames at it. */
  sampleRate: number;
  streams: { direction: Direction; hdaFnNid: number }[];
  chmaps: { direction: Direction; hdaFnNid: number; positions: number[] }[];
}
