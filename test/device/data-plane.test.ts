/**
 * The renderer through the device's own queues, as an emulator drives it:
 * bit-exact output, every format, split payloads, channel placement,
 * completion timing and latency, capture, resampling.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PcmCodec } from '../../src/device/pcm-format.ts';
import { encodePcm } from '../../src/host/pcm-encode.ts';
import * as P from '../../src/snd/protocol.ts';
import { QUANTUM, SndGuest } from '../helpers/snd-guest.ts';

const OK = P.VIRTIO_SND_S_OK;

function running(
  g: SndGuest,
  p: {
    streamId?: number;
    format: number;
    channels: number;
    rateHz?: number;
    periodFrames?: number;
    features?: number;
  },
) {
  const fb = P.pcmFrameBytes(p.format, p.channels);
  const periodBytes = (p.periodFrames ?? 256) * fb;
  expect(
    g.setParams({
      streamId: p.streamId ?? 0,
      bufferBytes: periodBytes * 4,
      periodBytes,
      channels: p.channels,
      format: p.format,
      rateHz: p.rateHz ?? 48000,
      features: p.features ?? 0,
    }),
  ).toBe(OK);
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, p.streamId ?? 0)).toBe(OK);
}

function start(g: SndGuest, id = 0) {
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, id)).toBe(OK);
}

/** Renders `quanta` quanta and concatenates left/right. */
function render(g: SndGuest, quanta: number): { l: Float32Array; r: Float32Array } {
  const l = new Float32Array(quanta * QUANTUM);
  const r = new Float32Array(quanta * QUANTUM);
  for (let q = 0; q < quanta; q++) {
    const [a, b] = g.quantum();
    l.set(a, q * QUANTUM);
    r.set(b, q * QUANTUM);
  }
  return { l, r };
}

describe('playback', () => {
  for (const [name, format, make] of [
    ['S16', P.VIRTIO_SND_PCM_FMT_S16, (i: number) => ((i * 7919) % 65536) - 32768] as const,
    [
      'S32',
      P.VIRTIO_SND_PCM_FMT_S32,
      (i: number) => ((i * 2654435761) % 4294967296) - 2147483648,
    ] as const,
    [
      'FLOAT',
      P.VIRTIO_SND_PCM_FMT_FLOAT,
      (i: number) => Math.fround(Math.sin(i / 3) * 0.9),
    ] as const,
  ]) {
    it(`${name} stereo at the context rate is bit-exact: the float written is the decoded sample`, () => {
      const g = new SndGuest().init();
      running(g, { format, channels: 2 });
      const frames = 1024;
      const raw = new Uint8Array(frames * P.pcmFrameBytes(format, 2));
      const dv = new DataView(raw.buffer);
      const expected = new Float32Array(frames * 2);
      for (let i = 0; i < frames * 2; i++) {
        const v = make(i);
        if (name === 'S16') {
          dv.setInt16(2 * i, v, true);
          expected[i] = v / 32768;
        } else if (name === 'S32') {
          dv.setInt32(4 * i, v, true);
          expected[i] = v / 2147483648;
        } else {
          dv.setFloat32(4 * i, v, true);
          expected[i] = v;
        }
      }
      const half = raw.length / 2;
      g.tx(0, raw.subarray(0, half));
      g.tx(0, raw.subarray(half));
      start(g);
      const { l, r } = render(g, frames / QUANTUM);
      for (let f = 0; f < frames; f++) {
        expect(l[f]).toBe(expected[2 * f]);
        expect(r[f]).toBe(expected[2 * f + 1]);
      }
    });
  }

  it('plays every advertised format as its codec decodes it (the codec has its own reference test)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 256, maxLength: 256 }),
        (format, values) => {
          const g = new SndGuest().init();
          running(g, { format, channels: 2, periodFrames: 128 });
          const x = Float32Array.from(values);
          const bytes = encodePcm(format, 2, x);
          // What the format can represent: decode what was encoded.
          const want = new Float32Array(256);
          const copy = new Uint8Array(bytes);
          new PcmCodec(copy).decode(format, 0, 256, want, 0);
          g.tx(0, bytes);
          start(g);
          const [l, r] = g.quantum();
          // (+ 0: the mix is a sum starting at +0, so a decoded -0 comes out as +0.)
          for (let f = 0; f < 128; f++) {
            expect(l[f]).toBe(want[2 * f] + 0);
            expect(r[f]).toBe(want[2 * f + 1] + 0);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('reads payloads split across descriptors at odd byte offsets, even mid-sample', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(
          P.VIRTIO_SND_PCM_FMT_S16,
          P.VIRTIO_SND_PCM_FMT_S24_3,
          P.VIRTIO_SND_PCM_FMT_FLOAT64,
        ),
        fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 12 }),
        (format, cuts) => {
          const g = new SndGuest().init();
          running(g, { format, channels: 2, periodFrames: 128 });
          const x = Float32Array.from({ length: 256 }, (_, i) => Math.sin(i / 5) * 0.7);
          const bytes = encodePcm(format, 2, x);
          const want = new Float32Array(256);
          new PcmCodec(new Uint8Array(bytes)).decode(format, 0, 256, want, 0);
          // Scatter the payload over segments of the given sizes (the last takes the rest).
          const hdr = g.alloc.alloc(4, 4);
          g.mem.writeU32(hdr, 0);
          const segs = [{ addr: hdr, len: 4 }];
          let off = 0;
          for (const c of cuts) {
            if (off >= bytes.length) break;
            const n = Math.min(c, bytes.length - off);
            const a = g.alloc.alloc(n + 3, 1) + 1; // odd addresses
            g.mem.write(a, bytes.subarray(off, off + n));
            segs.push({ addr: a, len: n });
            off += n;
          }
          if (off < bytes.length) {
            const a = g.alloc.alloc(bytes.length - off, 1);
            g.mem.write(a, bytes.subarray(off));
            segs.push({ addr: a, len: bytes.length - off });
          }
          const status = g.alloc.alloc(8, 8);
          segs.push({ addr: status, len: 8 });
          g.queues[2].add(segs, segs.length - 1, 999);
          start(g);
          const [l, r] = g.quantum();
          for (let f = 0; f < 128; f++) {
            expect(l[f]).toBe(want[2 * f] + 0);
            expect(r[f]).toBe(want[2 * f + 1] + 0);
          }
          expect(g.mem.readU32(status)).toBe(OK);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('plays mono on both sides, and picks FL/FR of a 5.1 stream by position', () => {
    const g = new SndGuest().init();
    running(g, { format: P.VIRTIO_SND_PCM_FMT_S16, channels: 1, periodFrames: 128 });
    g.tx(0, new Uint8Array(new Int16Array(128).fill(1000).buffer));
    start(g);
    const [l, r] = g.quantum();
    expect(l[5]).toBe(Math.fround(1000 / 32768));
    expect(r[5]).toBe(Math.fround(1000 / 32768));

    const g6 = new SndGuest().init();
    running(g6, { format: P.VIRTIO_SND_PCM_FMT_S16, channels: 6, periodFrames: 128 });
    // Default 5.1 map: FL FR FC LFE RL RR -> channel k carries 100 * (k + 1).
    const s = new Int16Array(128 * 6);
    for (let f = 0; f < 128; f++) for (let c = 0; c < 6; c++) s[f * 6 + c] = 100 * (c + 1);
    g6.tx(0, new Uint8Array(s.buffer));
    start(g6);
    const [l6, r6] = g6.quantum();
    expect(l6[0]).toBe(Math.fround(100 / 32768));
    expect(r6[0]).toBe(Math.fround(200 / 32768));
  });

  it('completes each message in the quantum that renders its last frame, with latency_bytes', () => {
    const g = new SndGuest().init();
    running(g, { format: P.VIRTIO_SND_PCM_FMT_S16, channels: 2, periodFrames: 300 });
    // Periods of 300 frames: last frames at 299, 599, 899 -> quanta 2, 4, 7.
    const msgs = [0, 1, 2].map(() => g.tx(0, new Uint8Array(1200)));
    start(g);
    const doneAt: number[] = [];
    for (let q = 0; q < 8; q++) {
      g.quantum();
      msgs.forEach((m, i) => {
        if (doneAt[i] === undefined && g.used[2].has(m.token)) doneAt[i] = q;
      });
    }
    expect(doneAt).toEqual([2, 4, 7]);
    // latency_bytes: payload still queued for the stream at the moment each completes.
    expect(msgs.map((m) => g.statusOf(m))).toEqual([
      { status: OK, latency: 2400 },
      { status: OK, latency: 1200 },
      { status: OK, latency: 0 },
    ]);
    expect(msgs.map((m) => g.used[2].get(m.token))).toEqual([8, 8, 8]);
  });

  it('44100 Hz on a 48000 Hz context: completions match consumed frames over 10 s', () => {
    const g = new SndGuest().init();
    running(g, { format: P.VIRTIO_SND_PCM_FMT_S16, channels: 2, rateHz: 44100, periodFrames: 441 });
    const period = new Uint8Array(441 * 4);
    for (let i = 0; i < 8; i++) g.tx(0, period);
    start(g);
    const quanta = Math.ceil((10 * 48000) / QUANTUM);
    let completed = 0;
    for (let q = 0; q < quanta; q++) {
      g.quantum();
      const done = g.used[2].size;
      while (completed < done) {
        completed++;
        g.tx(0, period);
      }
    }
    const frames = g.device.stats().streams[0].frames;
    expect(Math.floor(frames / 441)).toBe(completed);
    // 10 s of context time consume 10 s of stream frames (plus the filter's look-ahead).
    expect(Math.abs(frames - (quanta * QUANTUM * 44100) / 48000)).toBeLessThan(100);
    expect(g.device.stats().streams[0].xruns).toBe(0);
  });
});

describe('capture', () => {
  it('fills RX messages bit-exact from the input at the context rate; used length = bytes + 8', () => {
    const g = new SndGuest().init();
    running(g, { streamId: 1, format: P.VIRTIO_SND_PCM_FMT_S16, channels: 2, periodFrames: 192 });
    const msgs = [g.rx(1, 768), g.rx(1, 768)];
    start(g, 1);
    const inL = Float32Array.from({ length: 384 }, (_, i) => (i - 192) / 32768);
    const inR = Float32Array.from({ length: 384 }, (_, i) => -(i * 3) / 32768);
    for (let q = 0; q < 3; q++) {
      g.quantum([
        inL.slice(q * QUANTUM, (q + 1) * QUANTUM),
        inR.slice(q * QUANTUM, (q + 1) * QUANTUM),
      ]);
      if (q === 0) expect(g.used[3].size).toBe(0);
    }
    for (const [k, m] of msgs.entries()) {
      expect(g.used[3].get(m.token)).toBe(768 + 8);
      expect(g.statusOf(m).status).toBe(OK);
      const got = new Int16Array(g.mem.read(m.data, 768).buffer);
      for (let f = 0; f < 192; f++) {
        expect(got[2 * f]).toBe(Math.round(inL[k * 192 + f] * 32768) + 0);
        expect(got[2 * f + 1]).toBe(Math.round(inR[k * 192 + f] * 32768) + 0);
      }
    }
  });

  it('with no input connected, captures silence on time', () => {
    const g = new SndGuest().init();
    running(g, { streamId: 1, format: P.VIRTIO_SND_PCM_FMT_S16, channels: 1, periodFrames: 128 });
    const m = g.rx(1, 256);
    start(g, 1);
    g.quantum();
    expect(g.used[3].get(m.token)).toBe(264);
    expect([...g.mem.read(m.data, 256)].every((b) => b === 0)).toBe(true);
  });
});
