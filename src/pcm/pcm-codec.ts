/**
 * PCM sample conversion between guest memory and float32, for the audio
 * thread: every linear format of virtio-snd plus G.711 mu-law and A-law.
 *
 * Integers decode to value / 2^(width-1) (unsigned ones after removing the
 * offset), so an S16 sample v becomes exactly the float32 of v / 32768, and
 * encoding rounds back to the same integer. Floats pass through bit-exact
 * when finite and within [-1, 1]; NaN becomes 0 and anything else is clamped,
 * so a hostile guest cannot push NaN or huge values into the audio graph.
 *
 * Views over the buffer are made once; decode()/encode() allocate nothing.
 */

import {
  VIRTIO_SND_PCM_FMT_A_LAW,
  VIRTIO_SND_PCM_FMT_FLOAT,
  VIRTIO_SND_PCM_FMT_FLOAT64,
  VIRTIO_SND_PCM_FMT_MU_LAW,
  VIRTIO_SND_PCM_FMT_S8,
  VIRTIO_SND_PCM_FMT_S16,
  VIRTIO_SND_PCM_FMT_S18_3,
  VIRTIO_SND_PCM_FMT_S20,
  VIRTIO_SND_PCM_FMT_S20_3,
  VIRTIO_SND_PCM_FMT_S24,
  VIRTIO_SND_PCM_FMT_S24_3,
  VIRTIO_SND_PCM_FMT_S32,
  VIRTIO_SND_PCM_FMT_U8,
  VIRTIO_SND_PCM_FMT_U16,
  VIRTIO_SND_PCM_FMT_U18_3,
  VIRTIO_SND_PCM_FMT_U20,
  VIRTIO_SND_PCM_FMT_U20_3,
  VIRTIO_SND_PCM_FMT_U24,
  VIRTIO_SND_PCM_FMT_U24_3,
  VIRTIO_SND_PCM_FMT_U32,
} from '../snd/constants.ts';
import { alawDecodeTable, alawEncode, ulawDecodeTable, ulawEncode } from './g711.ts';

/** Formats the codec converts: MU_LAW (1) ... FLOAT64 (20). */
export const SUPPORTED_FORMATS: readonly number[] = Array.from(
  { length: VIRTIO_SND_PCM_FMT_FLOAT64 - VIRTIO_SND_PCM_FMT_MU_LAW + 1 },
  (_, i) => VIRTIO_SND_PCM_FMT_MU_LAW + i,
);

/** Integer formats: [significant bits, container bytes, signed]. */
const INT_LAYOUT: Record<number, readonly [number, number, boolean]> = {
  [VIRTIO_SND_PCM_FMT_S8]: [8, 1, true],
  [VIRTIO_SND_PCM_FMT_U8]: [8, 1, false],
  [VIRTIO_SND_PCM_FMT_S16]: [16, 2, true],
  [VIRTIO_SND_PCM_FMT_U16]: [16, 2, false],
  [VIRTIO_SND_PCM_FMT_S18_3]: [18, 3, true],
  [VIRTIO_SND_PCM_FMT_U18_3]: [18, 3, false],
  [VIRTIO_SND_PCM_FMT_S20_3]: [20, 3, true],
  [VIRTIO_SND_PCM_FMT_U20_3]: [20, 3, false],
  [VIRTIO_SND_PCM_FMT_S24_3]: [24, 3, true],
  [VIRTIO_SND_PCM_FMT_U24_3]: [24, 3, false],
  [VIRTIO_SND_PCM_FMT_S20]: [20, 4, true],
  [VIRTIO_SND_PCM_FMT_U20]: [20, 4, false],
  [VIRTIO_SND_PCM_FMT_S24]: [24, 4, true],
  [VIRTIO_SND_PCM_FMT_U24]: [24, 4, false],
  [VIRTIO_SND_PCM_FMT_S32]: [32, 4, true],
  [VIRTIO_SND_PCM_FMT_U32]: [32, 4, false],
};

// Per-format numbers in flat arrays so the hot loops index instead of destructuring.
const WIDTH = new Int32Array(32);
const BYTES = new Int32Array(32);
const SIGNED = new Uint8Array(32);
for (const [f, [w, b, s]] of Object.entries(INT_LAYOUT)) {
  WIDTH[Number(f)] = w;
  BYTES[Number(f)] = b;
  SIGNED[Number(f)] = s ? 1 : 0;
}

function sanitize(x: number): number {
  // One comparison pair for the usual case; NaN fails both and lands below.
  if (x >= -1 && x <= 1) return x;
  if (Number.isNaN(x)) return 0;
  return x > 0 ? 1 : -1;
}

export class PcmCodec {
  private readonly u8: Uint8Array;
  private readonly dv: DataView;
  private readonly i16: Int16Array;
  private readonly i32: Int32Array;
  private readonly f32: Float32Array;
  private readonly f64: Float64Array;
  /** Peak |sample| of the frames the last successful mixStereo() mixed. */
  peak = 0;

  /** `bytes` must start at offset 0 of its buffer (true for guest memory and fresh scratch arrays). */
  constructor(bytes: Uint8Array) {
    if (bytes.byteOffset !== 0) throw new RangeError('PcmCodec needs a view at byte offset 0');
    const buf = bytes.buffer;
    const n = bytes.byteLength;
    this.u8 = bytes;
    this.dv = new DataView(buf, 0, n);
    this.i16 = new Int16Array(buf, 0, n >>> 1);
    this.i32 = new Int32Array(buf, 0, n >>> 2);
    this.f32 = new Float32Array(buf, 0, n >>> 2);
    this.f64 = new Float64Array(buf, 0, n >>> 3);
  }

  /** Decodes `samples` samples of `format` at byte address `src` into out[outOffset...]. */
  decode(format: number, src: number, samples: number, out: Float32Array, outOffset: number): void {
    const u8 = this.u8;
    const dv = this.dv;
    switch (format) {
      case VIRTIO_SND_PCM_FMT_S16:
        if ((src & 1) === 0) {
          const b = src >>> 1;
          for (let i = 0; i < samples; i++) out[outOffset + i] = this.i16[b + i] / 32768;
        } else {
          for (let i = 0; i < samples; i++)
            out[outOffset + i] = dv.getInt16(src + 2 * i, true) / 32768;
        }
        return;
      case VIRTIO_SND_PCM_FMT_FLOAT:
        if ((src & 3) === 0) {
          const f32 = this.f32;
          const b = src >>> 2;
          for (let i = 0; i < samples; i++) out[outOffset + i] = sanitize(f32[b + i]);
        } else {
          for (let i = 0; i < samples; i++)
            out[outOffset + i] = sanitize(dv.getFloat32(src + 4 * i, true));
        }
        return;
      case VIRTIO_SND_PCM_FMT_FLOAT64:
        if ((src & 7) === 0) {
          const b = src >>> 3;
          for (let i = 0; i < samples; i++) out[outOffset + i] = sanitize(this.f64[b + i]);
        } else {
          for (let i = 0; i < samples; i++)
            out[outOffset + i] = sanitize(dv.getFloat64(src + 8 * i, true));
        }
        return;
      case VIRTIO_SND_PCM_FMT_S32:
        if ((src & 3) === 0) {
          const b = src >>> 2;
          for (let i = 0; i < samples; i++) out[outOffset + i] = this.i32[b + i] / 2147483648;
        } else {
          for (let i = 0; i < samples; i++)
            out[outOffset + i] = dv.getInt32(src + 4 * i, true) / 2147483648;
        }
        return;
      case VIRTIO_SND_PCM_FMT_MU_LAW:
        for (let i = 0; i < samples; i++) out[outOffset + i] = ulawDecodeTable[u8[src + i]];
        return;
      case VIRTIO_SND_PCM_FMT_A_LAW:
        for (let i = 0; i < samples; i++) out[outOffset + i] = alawDecodeTable[u8[src + i]];
        return;
    }
    // Generic integer path: assemble little-endian bytes, then sign or offset.
    const w = WIDTH[format];
    const nb = BYTES[format];
    if (w === 0) {
      out.fill(0, outOffset, outOffset + samples);
      return;
    }
    const half = 2 ** (w - 1);
    const shift = 32 - w;
    const signed = SIGNED[format] === 1;
    for (let i = 0; i < samples; i++) {
      const a = src + i * nb;
      let v = u8[a];
      if (nb > 1) v |= u8[a + 1] << 8;
      if (nb > 2) v |= u8[a + 2] << 16;
      if (nb > 3) v |= u8[a + 3] << 24;
      // Keep the low `w` bits: sign-extend them, or read them as unsigned.
      const x = signed ? (v << shift) >> shift : ((v << shift) >>> shift) - half;
      out[outOffset + i] = x / half;
    }
  }

  /**
   * The hot path of plain stereo playback: `frames` interleaved FLOAT or S16
   * frames at an aligned address go straight into a planar mix (added, or
   * assigned when `add` is false), in one pass, leaving their peak |sample|
   * in `peak`. Returns false, writing nothing, when the format or alignment
   * has no fast path. (A boolean, not the peak: a double returned from a call
   * that is not inlined is a heap allocation, and this runs every quantum.)
   */
  mixStereo(
    format: number,
    src: number,
    frames: number,
    mixL: Float32Array,
    mixR: Float32Array,
    off: number,
    add: boolean,
  ): boolean {
    if (format === VIRTIO_SND_PCM_FMT_FLOAT && (src & 3) === 0) {
      const f32 = this.f32;
      const b = src >>> 2;
      let peak = 0;
      if (!add) {
        // One pass that copies and measures: a NaN poisons `sum` and anything out
        // of [-1, 1] lifts the peak above 1; either way the frames are redone below.
        let sum = 0;
        for (let i = 0, j = b; i < frames; i++, j += 2) {
          const l = f32[j];
          const r = f32[j + 1];
          mixL[off + i] = l;
          mixR[off + i] = r;
          const a = Math.abs(l);
          const c = Math.abs(r);
          sum += a + c;
          // biome-ignore lint/complexity/useMathMinMax: a compare is faster here
          peak = a > peak ? a : peak;
          // biome-ignore lint/complexity/useMathMinMax: a compare is faster here
          peak = c > peak ? c : peak;
        }
        if (!Number.isNaN(sum) && peak <= 1) {
          this.peak = peak;
          return true;
        }
        peak = 0;
      }
      // A second stream (adding), or samples a hostile guest made NaN or too loud.
      for (let i = 0, j = b; i < frames; i++, j += 2) {
        const l = sanitize(f32[j]);
        const r = sanitize(f32[j + 1]);
        mixL[off + i] = add ? mixL[off + i] + l : l;
        mixR[off + i] = add ? mixR[off + i] + r : r;
        peak = Math.max(peak, Math.abs(l), Math.abs(r));
      }
      this.peak = peak;
      return true;
    }
    if (format === VIRTIO_SND_PCM_FMT_S16 && (src & 1) === 0) {
      const i16 = this.i16;
      let peak = 0;
      for (let i = 0, j = src >>> 1; i < frames; i++, j += 2) {
        const l = i16[j] / 32768;
        const r = i16[j + 1] / 32768;
        mixL[off + i] = add ? mixL[off + i] + l : l;
        mixR[off + i] = add ? mixR[off + i] + r : r;
        const a = Math.abs(l);
        const c = Math.abs(r);
        // biome-ignore lint/complexity/useMathMinMax: a compare is faster here
        peak = a > peak ? a : peak;
        // biome-ignore lint/complexity/useMathMinMax: a compare is faster here
        peak = c > peak ? c : peak;
      }
      this.peak = peak;
      return true;
    }
    return false;
  }

  /** Encodes `samples` samples from input[inOffset...] as `format` at byte address `dst`. */
  encode(
    format: number,
    input: Float32Array,
    inOffset: number,
    samples: number,
    dst: number,
  ): void {
    const u8 = this.u8;
    const dv = this.dv;
    switch (format) {
      case VIRTIO_SND_PCM_FMT_FLOAT:
        for (let i = 0; i < samples; i++)
          dv.setFloat32(dst + 4 * i, sanitize(input[inOffset + i]), true);
        return;
      case VIRTIO_SND_PCM_FMT_FLOAT64:
        for (let i = 0; i < samples; i++)
          dv.setFloat64(dst + 8 * i, sanitize(input[inOffset + i]), true);
        return;
      case VIRTIO_SND_PCM_FMT_MU_LAW:
        for (let i = 0; i < samples; i++) u8[dst + i] = ulawEncode(toInt16(input[inOffset + i]));
        return;
      case VIRTIO_SND_PCM_FMT_A_LAW:
        for (let i = 0; i < samples; i++) u8[dst + i] = alawEncode(toInt16(input[inOffset + i]));
        return;
    }
    const w = WIDTH[format];
    const nb = BYTES[format];
    if (w === 0) return;
    const half = 2 ** (w - 1);
    const signed = SIGNED[format] === 1;
    for (let i = 0; i < samples; i++) {
      let x = Math.round(sanitize(input[inOffset + i]) * half);
      if (x >= half) x = half - 1;
      const v = signed ? x : x + half;
      const a = dst + i * nb;
      u8[a] = v & 0xff;
      if (nb > 1) u8[a + 1] = (v >>> 8) & 0xff;
      if (nb > 2) u8[a + 2] = (v >>> 16) & 0xff;
      if (nb > 3) u8[a + 3] = (v >>> 24) & 0xff;
    }
  }
}

function toInt16(x: number): number {
  return Math.min(32767, Math.round(sanitize(x) * 32768));
}
