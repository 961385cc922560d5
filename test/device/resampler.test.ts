/**
 * Sample-rate conversion as a guest hears it: sines played (TX) or recorded
 * (RX) through the device's queues at a rate other than the context's, then
 * THD+N from a least-squares sine fit once the filter has settled, passband
 * gain, stopband rejection, frame accounting with no drift, and capture
 * output that does not depend on how the guest sizes its RX messages.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as P from '../../src/snd/protocol.ts';
import { QUANTUM, SndGuest } from '../helpers/snd-guest.ts';
import { sineAmplitude, thdN } from '../helpers/thd.ts';

const OK = P.VIRTIO_SND_S_OK;
const FLOAT = P.VIRTIO_SND_PCM_FMT_FLOAT;
const AMP = 0.5;

function prepare(g: SndGuest, streamId: number, rateHz: number, periodFrames: number) {
  const periodBytes = periodFrames * 8; // FLOAT stereo
  expect(
    g.setParams({
      streamId,
      bufferBytes: periodBytes * 4,
      periodBytes,
      channels: 2,
      format: FLOAT,
      rateHz,
    }),
  ).toBe(OK);
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, streamId)).toBe(OK);
}

/** Plays `seconds` of a sine at `rate` through stream 0; returns the left output at the context rate. */
function playSine(contextRate: number, rate: number, freq: number, seconds: number): Float32Array {
  const g = new SndGuest({ sampleRate: contextRate }, 32 << 20).init();
  const periodFrames = Math.round(rate / 100);
  prepare(g, 0, rate, periodFrames);
  const total = Math.ceil((rate * seconds) / periodFrames) * periodFrames;
  const pcm = new Float32Array(total * 2);
  for (let i = 0; i < total; i++) {
    pcm[2 * i] = AMP * Math.sin((2 * Math.PI * freq * i) / rate);
    pcm[2 * i + 1] = -pcm[2 * i];
  }
  const data = g.alloc.alloc(pcm.byteLength, 8);
  g.mem.write(data, new Uint8Array(pcm.buffer));
  let queued = 0;
  const feed = () => {
    while (queued < total && g.queues[2].numFree >= 3) {
      g.txAt(0, data + queued * 8, periodFrames * 8);
      queued += periodFrames;
    }
  };
  feed();
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
  const quanta = Math.floor((contextRate * seconds) / QUANTUM) - 4;
  const out = new Float32Array(quanta * QUANTUM);
  for (let q = 0; q < quanta; q++) {
    const [l, r] = g.quantum();
    out.set(l, q * QUANTUM);
    for (let f = 0; f < QUANTUM; f++) if (r[f] !== -l[f]) throw new Error('channels differ');
    feed();
  }
  expect(g.device.stats().streams[0].xruns).toBe(0);
  return out;
}

/** Records `seconds` of a sine at the context rate through stream 1 at `rate`. */
function recordSine(
  contextRate: number,
  rate: number,
  freq: number,
  seconds: number,
  msgFrames: readonly number[] = [Math.round(rate / 100)],
): Float32Array {
  const g = new SndGuest({ sampleRate: contextRate }, 32 << 20).init();
  prepare(g, 1, rate, msgFrames[0]);
  const msgs: { token: number; data: number; frames: number }[] = [];
  let k = 0;
  const post = () => {
    while (g.queues[3].numFree >= 3 && msgs.length - done < 64) {
      const frames = msgFrames[k++ % msgFrames.length];
      const m = g.rx(1, frames * 8);
      msgs.push({ token: m.token, data: m.data, frames });
    }
  };
  let done = 0;
  post();
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
  const quanta = Math.floor((contextRate * seconds) / QUANTUM);
  let t = 0;
  for (let q = 0; q < quanta; q++) {
    const l = new Float32Array(QUANTUM);
    for (let f = 0; f < QUANTUM; f++, t++)
      l[f] = AMP * Math.sin((2 * Math.PI * freq * t) / contextRate);
    g.quantum([l, l]);
    while (done < msgs.length && g.used[3].has(msgs[done].token)) done++;
    post();
  }
  expect(g.device.stats().streams[1].xruns).toBe(0);
  const out = new Float32Array(msgs.slice(0, done).reduce((a, m) => a + m.frames, 0));
  let at = 0;
  for (const m of msgs.slice(0, done)) {
    expect(g.used[3].get(m.token)).toBe(m.frames * 8 + 8);
    const v = new DataView(g.mem.read(m.data, m.frames * 8).buffer);
    for (let f = 0; f < m.frames; f++) out[at++] = v.getFloat32(8 * f, true);
  }
  return out;
}

describe('playback through the resampler', () => {
  it('44100 -> 48000: a 1 kHz sine has THD+N below -90 dB and unity gain', () => {
    const out = playSine(48000, 44100, 1000, 1.5);
    const settled = out.subarray(12000);
    const db = thdN(settled, 48000, 1000);
    console.log(`THD+N, 1 kHz at 44100 Hz played on a 48000 Hz context: ${db.toFixed(1)} dB`);
    expect(db).toBeLessThan(-90);
    expect(Math.abs(20 * Math.log10(sineAmplitude(settled, 48000, 1000) / AMP))).toBeLessThan(0.01);
  });

  const pairs: [number, number, number][] = [
    // context, stream rate, tone
    [48000, 8000, 440],
    [48000, 22050, 1000],
    [48000, 96000, 1000],
    [48000, 384000, 1000],
    [44100, 48000, 1000],
    [48000, 5512, 440],
  ];
  for (const [ctx, rate, tone] of pairs) {
    it(`${rate} -> ${ctx}: THD+N of a ${tone} Hz sine below -90 dB`, () => {
      const out = playSine(ctx, rate, tone, 0.75);
      const db = thdN(out.subarray(ctx / 4), ctx, tone);
      console.log(`THD+N ${rate} -> ${ctx} @ ${tone} Hz: ${db.toFixed(1)} dB`);
      expect(db).toBeLessThan(-90);
    });
  }

  it('96000 -> 48000 rejects a 30 kHz tone by more than 80 dB (no aliasing to 18 kHz)', () => {
    const out = playSine(48000, 96000, 30000, 0.5);
    let peak = 0;
    for (let i = 4800; i < out.length; i++) peak = Math.max(peak, Math.abs(out[i]));
    expect(20 * Math.log10(peak / AMP)).toBeLessThan(-80);
  });
});

describe('capture through the resampler', () => {
  it('48000 -> 44100: THD+N of a 1 kHz sine below -90 dB, unity gain', () => {
    const out = recordSine(48000, 44100, 1000, 1);
    const settled = out.subarray(11025);
    const db = thdN(settled, 44100, 1000);
    console.log(`THD+N, 1 kHz recorded at 44100 Hz on a 48000 Hz context: ${db.toFixed(1)} dB`);
    expect(db).toBeLessThan(-90);
    expect(Math.abs(20 * Math.log10(sineAmplitude(settled, 44100, 1000) / AMP))).toBeLessThan(0.01);
  });

  it('48000 -> 16000 rejects a 12 kHz tone by more than 80 dB', () => {
    const out = recordSine(48000, 16000, 12000, 0.5);
    let peak = 0;
    for (let i = 2000; i < out.length; i++) peak = Math.max(peak, Math.abs(out[i]));
    expect(20 * Math.log10(peak / AMP)).toBeLessThan(-80);
  });

  it('what is captured does not depend on how the guest sizes its RX messages (property)', () => {
    const reference = recordSine(48000, 16000, 700, 0.1, [160]);
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 8 }),
        (sizes) => {
          const got = recordSine(48000, 16000, 700, 0.1, sizes);
          const n = Math.min(got.length, reference.length) - 400;
          for (let i = 0; i < n; i++) if (got[i] !== reference[i]) throw new Error(`frame ${i}`);
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe('every advertised rate on 44.1 and 48 kHz contexts', () => {
  const RATES = P.PCM_RATE_HZ.slice(0, 14);
  for (const ctx of [44100, 48000]) {
    it(`plays and records DC at each rate on a ${ctx} Hz context: finite from the first quantum, unity gain`, () => {
      // Regression: at 384 kHz the first quantum after PREPARE needs the kernel's look-ahead
      // on top of the 1024 frames it spans; the decode buffers were too small and NaN came out.
      for (const rate of RATES) {
        const g = new SndGuest({ sampleRate: ctx }, 8 << 20).init();
        const periodFrames = Math.ceil(rate / 100);
        prepare(g, 0, rate, periodFrames);
        prepare(g, 1, rate, periodFrames);
        const pcm = new Float32Array(periodFrames * 2).fill(AMP);
        const data = g.alloc.alloc(pcm.byteLength, 8);
        g.mem.write(data, new Uint8Array(pcm.buffer));
        for (let i = 0; i < 12; i++) g.txAt(0, data, pcm.byteLength);
        const rx = Array.from({ length: 12 }, () => g.rx(1, periodFrames * 8));
        expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
        expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
        const dc = new Float32Array(QUANTUM).fill(AMP);
        const quanta = Math.floor((ctx * 0.1) / QUANTUM);
        let last: Float32Array<ArrayBufferLike> = new Float32Array(0);
        for (let q = 0; q < quanta; q++) {
          const [l, r] = g.quantum([dc, dc]);
          for (let f = 0; f < QUANTUM; f++) {
            if (!(Math.abs(l[f]) <= 1 && Math.abs(r[f]) <= 1))
              throw new Error(`${rate} Hz: quantum ${q} frame ${f} is ${l[f]}, ${r[f]}`);
          }
          last = l;
        }
        for (const v of last) expect(Math.abs(v - AMP)).toBeLessThan(1e-4);
        const done = rx.filter((m) => g.used[3].has(m.token));
        expect(done.length).toBeGreaterThan(5);
        for (const m of done) {
          const v = new Float32Array(g.mem.read(m.data, periodFrames * 8).buffer);
          for (const x of v) if (!(Math.abs(x) <= 1)) throw new Error(`${rate} Hz capture: ${x}`);
        }
        const v = new Float32Array(g.mem.read(done[done.length - 1].data, periodFrames * 8).buffer);
        expect(Math.abs(v[v.length - 1] - AMP)).toBeLessThan(1e-4);
      }
    });
  }
});
