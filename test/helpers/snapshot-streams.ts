/**
 * Stream material shared by the device and relay snapshot tests: numbered
 * S16 periods no two of which are alike, a deterministic capture input, and
 * a byte-exact comparison.
 */
import { expect } from 'vitest';
import * as P from '../../src/snd/protocol.ts';
import { QUANTUM } from './snd-guest.ts';

export const FB = 4; // S16 stereo
/** Periods of 300 frames: message ends fall inside render quanta. */
export const PERIOD = 300 * FB;
export const EVENTS =
  (1 << P.VIRTIO_SND_PCM_F_EVT_XRUNS) | (1 << P.VIRTIO_SND_PCM_F_EVT_SHMEM_PERIODS);

/** S16 stereo frames numbered from `from`: a pattern no two periods share. */
export function pcm(from: number, frames: number): Uint8Array {
  const s = new Int16Array(frames * 2);
  for (let f = 0; f < frames; f++) {
    s[2 * f] = ((from + f) * 7919) % 30000;
    s[2 * f + 1] = -(((from + f) * 104729) % 30000);
  }
  return new Uint8Array(s.buffer);
}

/** Deterministic stereo input for quantum `q`. */
export function input(q: number): [Float32Array, Float32Array] {
  const l = new Float32Array(QUANTUM);
  const r = new Float32Array(QUANTUM);
  for (let f = 0; f < QUANTUM; f++) {
    l[f] = Math.sin((q * QUANTUM + f) / 7) * 0.7;
    r[f] = Math.cos((q * QUANTUM + f) / 11) * 0.5;
  }
  return [l, r];
}

export function sameBytes(a: Uint8Array, b: Uint8Array, what = 'bytes'): void {
  expect(
    Buffer.from(a.buffer, a.byteOffset, a.length).equals(
      Buffer.from(b.buffer, b.byteOffset, b.length),
    ),
    what,
  ).toBe(true);
}
