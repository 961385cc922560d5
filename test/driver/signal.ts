/** A deterministic pseudo-random stereo S16 signal, frame by frame (both threads compute it). */
export function prbsFrame(f: number): [number, number] {
  // A hash of the frame index: every frame distinct, no state to share between threads.
  let x = (f * 0x9e3779b1) ^ (f >>> 7);
  x = Math.imul(x ^ (x >>> 15), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  x ^= x >>> 16;
  return [(x << 16) >> 16, x >> 16];
}
