/**
 * The handle from which the audio thread builds its PcmRenderer. Only
 * SharedArrayBuffers, numbers, strings and arrays: it survives
 * structured cloning into an AudioWorkletProcessor's processorOptions.
 */

import type { SharedLayoutParams } from './layout.ts';

export type Direction = 'output' | 'input';

export interface RenderState {
  /** Guest memory (a SharedArrayBuffer whenever the renderer runs in another thread). */
  memory: SharedArrayBuffer | ArrayBuffer;
  /** The device-private shared state (layout.ts). */
  shared: SharedArrayBuffer;
  layout: SharedLayoutParams;
  /** The AudioContext's rate: the rate every process() call renders at. */
  sampleRate: number;
  streams: { direction: Direction; hdaFnNid: number }[];
  chmaps: { direction: Direction; hdaFnNid: number; positions: number[] }[];
}
