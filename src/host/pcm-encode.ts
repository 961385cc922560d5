/**
 * Float32 frames -> bytes in any virtio-snd PCM format, for producers that
 * live off the audio thread (the demo's tone generator, WAV playback).
 * Uses the device's own codec, so what the renderer decodes is exactly what
 * was encoded here.
 */

import { PcmCodec } from '../device/pcm-format.ts';
import { pcmFrameBytes } from '../snd/protocol.ts';

/** Encodes interleaved float32 `samples` (frames * channels) as `format`. */
export function encodePcm(format: number, channels: number, samples: Float32Array): Uint8Array {
  const frames = samples.length / channels;
  const out = new Uint8Array(frames * pcmFrameBytes(format, channels));
  new PcmCodec(out).encode(format, samples, 0, samples.length, 0);
  return out;
}

/** Decodes bytes of `format` back to interleaved float32. */
export function decodePcm(format: number, channels: number, bytes: Uint8Array): Float32Array {
  const frames = Math.floor(bytes.length / pcmFrameBytes(format, channels));
  const copy = new Uint8Array(bytes);
  const out = new Float32Array(frames * channels);
  new PcmCodec(copy).decode(format, 0, out.length, out, 0);
  return out;
}
