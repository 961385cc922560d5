/**
 * Float32 frames -> bytes in any virtio-snd PCM format, for producers that
 * live off the audio thread (the demo's tone generator, WAV playback).
 * Uses the renderer's own codec, so what the renderer decodes is exactly what
 * was encoded here.
 */

import { pcmFrameBytes } from '../snd/protocol.ts';
import { PcmCodec } from './pcm-codec.ts';

/** Encodes interleaved float32 `samples` (frames * channels) as `format`. */
export function encodePcm(format: number, channels: number, samples: Float32Array): Uint8Array {
  const frames = samples.length / channels;
  const out = new Uint8Array(frames * pcmFrameBytes(format, channels));
  new PcmCodec(out).encode(format, samples, 0, samples.length, 0);
  return out;
}
