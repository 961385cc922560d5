/**
 * Reading RIFF/WAVE files into virtio-snd PCM parameters and data: PCM
 * integer (8/16/24/32-bit), IEEE float (32/64-bit), G.711 mu-law and A-law,
 * and WAVE_FORMAT_EXTENSIBLE wrapping those.
 */

import {
  PCM_RATE_HZ,
  VIRTIO_SND_PCM_FMT_A_LAW,
  VIRTIO_SND_PCM_FMT_FLOAT,
  VIRTIO_SND_PCM_FMT_FLOAT64,
  VIRTIO_SND_PCM_FMT_MU_LAW,
  VIRTIO_SND_PCM_FMT_S16,
  VIRTIO_SND_PCM_FMT_S24_3,
  VIRTIO_SND_PCM_FMT_S32,
  VIRTIO_SND_PCM_FMT_U8,
} from '../snd/protocol.ts';

export class WavError extends Error {
  override name = 'WavError';
}

export interface Wav {
  format: number;
  rate: number;
  channels: number;
  frames: number;
  /** Interleaved PCM bytes in `format`. */
  data: Uint8Array;
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_ALAW = 6;
const WAVE_FORMAT_MULAW = 7;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

function tag(v: DataView, off: number): string {
  return String.fromCharCode(
    v.getUint8(off),
    v.getUint8(off + 1),
    v.getUint8(off + 2),
    v.getUint8(off + 3),
  );
}

export function parseWav(buf: ArrayBuffer): Wav {
  const v = new DataView(buf);
  if (buf.byteLength < 12 || tag(v, 0) !== 'RIFF' || tag(v, 8) !== 'WAVE') {
    throw new WavError('not a RIFF/WAVE file');
  }
  let fmt: { code: number; channels: number; rate: number; bits: number } | null = null;
  let data: Uint8Array | null = null;
  for (let off = 12; off + 8 <= buf.byteLength; ) {
    const id = tag(v, off);
    const size = v.getUint32(off + 4, true);
    const body = off + 8;
    if (id === 'fmt ') {
      if (size < 16) throw new WavError('fmt chunk too short');
      let code = v.getUint16(body, true);
      if (code === WAVE_FORMAT_EXTENSIBLE && size >= 40) code = v.getUint16(body + 24, true);
      fmt = {
        code,
        channels: v.getUint16(body + 2, true),
        rate: v.getUint32(body + 4, true),
        bits: v.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      data = new Uint8Array(buf, body, Math.min(size, buf.byteLength - body));
    }
    off = body + size + (size & 1);
  }
  if (!fmt) throw new WavError('no fmt chunk');
  if (!data) throw new WavError('no data chunk');
  const format = wavFormat(fmt.code, fmt.bits);
  if (!PCM_RATE_HZ.includes(fmt.rate))
    throw new WavError(`${fmt.rate} Hz is not a virtio-snd rate`);
  if (fmt.channels < 1 || fmt.channels > 8) throw new WavError(`${fmt.channels} channels`);
  const frameBytes = (fmt.bits / 8) * fmt.channels;
  const frames = Math.floor(data.length / frameBytes);
  return {
    format,
    rate: fmt.rate,
    channels: fmt.channels,
    frames,
    data: data.subarray(0, frames * frameBytes),
  };
}

function wavFormat(code: number, bits: number): number {
  if (code === WAVE_FORMAT_PCM) {
    const byBits: Record<number, number> = {
      8: VIRTIO_SND_PCM_FMT_U8,
      16: VIRTIO_SND_PCM_FMT_S16,
      24: VIRTIO_SND_PCM_FMT_S24_3,
      32: VIRTIO_SND_PCM_FMT_S32,
    };
    const f = byBits[bits];
    if (f !== undefined) return f;
  }
  if (code === WAVE_FORMAT_IEEE_FLOAT && bits === 32) return VIRTIO_SND_PCM_FMT_FLOAT;
  if (code === WAVE_FORMAT_IEEE_FLOAT && bits === 64) return VIRTIO_SND_PCM_FMT_FLOAT64;
  if (code === WAVE_FORMAT_MULAW && bits === 8) return VIRTIO_SND_PCM_FMT_MU_LAW;
  if (code === WAVE_FORMAT_ALAW && bits === 8) return VIRTIO_SND_PCM_FMT_A_LAW;
  throw new WavError(`unsupported WAV encoding (format ${code}, ${bits} bits)`);
}

/** A 16-bit PCM WAV file of interleaved samples (for recordings). */
export function writeWav(rate: number, channels: number, samples: Int16Array): ArrayBuffer {
  const buf = new ArrayBuffer(44 + samples.length * 2);
  const v = new DataView(buf);
  const w = (off: number, s: string) => {
    for (let i = 0; i < 4; i++) v.setUint8(off + i, s.charCodeAt(i));
  };
  w(0, 'RIFF');
  v.setUint32(4, 36 + samples.length * 2, true);
  w(8, 'WAVE');
  w(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, WAVE_FORMAT_PCM, true);
  v.setUint16(22, channels, true);
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * channels * 2, true);
  v.setUint16(32, channels * 2, true);
  v.setUint16(34, 16, true);
  w(36, 'data');
  v.setUint32(40, samples.length * 2, true);
  new Int16Array(buf, 44).set(samples);
  return buf;
}
