/**
 * PcmCodec.mixStereo, the plain-stereo hot path of playback: it must give
 * exactly what decode() + mixing gives, for every float a guest can send
 * (NaN, infinities, out-of-range values go through sanitize), in both the
 * assigning (first stream) and adding (further streams) modes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PcmCodec } from '../../src/pcm/pcm-codec.ts';
import {
  VIRTIO_SND_PCM_FMT_FLOAT,
  VIRTIO_SND_PCM_FMT_S16,
  VIRTIO_SND_PCM_FMT_U8,
} from '../../src/snd/protocol.ts';

const FRAMES = 64;

function reference(codec: PcmCodec, format: number, src: number, base: Float32Array[] | null) {
  const dec = new Float32Array(2 * FRAMES);
  codec.decode(format, src, 2 * FRAMES, dec, 0);
  const l = new Float32Array(FRAMES);
  const r = new Float32Array(FRAMES);
  let peak = 0;
  for (let i = 0; i < FRAMES; i++) {
    // Assigning keeps each sample bit-exact (-0 stays -0); adding is float addition.
    l[i] = base ? base[0][i] + dec[2 * i] : dec[2 * i];
    r[i] = base ? base[1][i] + dec[2 * i + 1] : dec[2 * i + 1];
    peak = Math.max(peak, Math.abs(dec[2 * i]), Math.abs(dec[2 * i + 1]));
  }
  return { l, r, peak };
}

const anyFloat = fc.oneof(
  fc.float({ min: -1, max: 1, noNaN: true }),
  fc.float(), // NaN, infinities, huge values, -0, subnormals
);

describe('PcmCodec.mixStereo', () => {
  it('FLOAT: assign and add equal decode + mix, hostile values included', () => {
    fc.assert(
      fc.property(
        fc.array(anyFloat, { minLength: 2 * FRAMES, maxLength: 2 * FRAMES }),
        fc.boolean(),
        (samples, add) => {
          const mem = new Uint8Array(4096);
          const codec = new PcmCodec(mem);
          new Float32Array(mem.buffer, 256, 2 * FRAMES).set(samples);
          const base = [0, 1].map(() => Float32Array.from({ length: FRAMES }, (_, i) => i / 1000));
          const want = reference(codec, VIRTIO_SND_PCM_FMT_FLOAT, 256, add ? base : null);
          const l = base[0].slice();
          const r = base[1].slice();
          expect(codec.mixStereo(VIRTIO_SND_PCM_FMT_FLOAT, 256, FRAMES, l, r, 0, add)).toBe(true);
          expect(codec.peak).toBe(Math.fround(want.peak));
          expect(l).toEqual(want.l);
          expect(r).toEqual(want.r);
          for (const x of [...l, ...r]) expect(Number.isFinite(x)).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('S16: bit-exact samples and peak, at an offset into the mix', () => {
    const mem = new Uint8Array(4096);
    const codec = new PcmCodec(mem);
    const s16 = new Int16Array(mem.buffer, 512, 2 * FRAMES);
    for (let i = 0; i < s16.length; i++) s16[i] = i === 7 ? -32768 : (i * 977) % 30000;
    const want = reference(codec, VIRTIO_SND_PCM_FMT_S16, 512, null);
    const l = new Float32Array(FRAMES + 10);
    const r = new Float32Array(FRAMES + 10);
    expect(codec.mixStereo(VIRTIO_SND_PCM_FMT_S16, 512, FRAMES, l, r, 10, false)).toBe(true);
    expect(codec.peak).toBe(1);
    expect(l.subarray(10)).toEqual(want.l);
    expect(r.subarray(10)).toEqual(want.r);
  });

  it('declines formats and alignments it has no fast path for, writing nothing', () => {
    const codec = new PcmCodec(new Uint8Array(1024));
    const l = new Float32Array(FRAMES).fill(5);
    const r = new Float32Array(FRAMES).fill(5);
    expect(codec.mixStereo(VIRTIO_SND_PCM_FMT_FLOAT, 2, FRAMES, l, r, 0, false)).toBe(false);
    expect(codec.mixStereo(VIRTIO_SND_PCM_FMT_S16, 1, FRAMES, l, r, 0, false)).toBe(false);
    expect(codec.mixStereo(VIRTIO_SND_PCM_FMT_U8, 0, FRAMES, l, r, 0, false)).toBe(false);
    expect(l.every((x) => x === 5) && r.every((x) => x === 5)).toBe(true);
  });
});
