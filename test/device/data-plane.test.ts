/**
 * The renderer through the device's own queues, as an emulator drives it:
 * bit-exact output, channel placement by channel map, mixing, completion
 * timing and latency_bytes, used lengths, capture, and completions that
 * follow consumed frames exactly when resampling. (Every format and
 * scattered payloads: pcm-format.test.ts; resampler quality: resampler.test.ts.)
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as P from '../../src/snd/protocol.ts';
import { CHMAP } from '../helpers/chmap-positions.ts';
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
  return g.render(quanta);
}

/** S16 frames where channel c of frame f holds 1000 * (c + 1) + f (distinct per channel). */
function tagged(frames: number, channels: number): Int16Array {
  const s = new Int16Array(frames * channels);
  for (let f = 0; f < frames; f++)
    for (let c = 0; c < channels; c++) s[f * channels + c] = 1000 * (c + 1) + f;
  return s;
}

const s16 = (v: number) => Math.fround(v / 32768);

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

  it('plays mono on both sides', () => {
    const g = new SndGuest().init();
    running(g, { format: P.VIRTIO_SND_PCM_FMT_S16, channels: 1, periodFrames: 128 });
    const pcm = tagged(128, 1);
    g.tx(0, new Uint8Array(pcm.buffer));
    start(g);
    const [l, r] = g.quantum();
    for (let f = 0; f < QUANTUM; f++) {
      expect(l[f]).toBe(s16(pcm[f]));
      expect(r[f]).toBe(s16(pcm[f]));
    }
  });

  const C = CHMAP;
  const placements: [
    string,
    { direction: 'output'; positions: number[] }[] | undefined,
    number,
    [number, number],
  ][] = [
    // name, chmaps option, channels, [channel heard left, channel heard right]
    ['5.1 default map (FL FR FC LFE RL RR)', undefined, 6, [0, 1]],
    [
      '6 channels, map FC LFE FR RL FL RR',
      [{ direction: 'output', positions: [C.FC, C.LFE, C.FR, C.RL, C.FL, C.RR] }],
      6,
      [4, 2],
    ],
    [
      '8 channels, map SL SR RL RR FC LFE FR FL',
      [{ direction: 'output', positions: [C.SL, C.SR, C.RL, C.RR, C.FC, C.LFE, C.FR, C.FL] }],
      8,
      [7, 6],
    ],
    ['stereo map FR FL (swapped)', [{ direction: 'output', positions: [C.FR, C.FL] }], 2, [1, 0]],
    [
      '3 channels, no map: FL FR then undefined',
      [{ direction: 'output', positions: [C.MONO] }],
      3,
      [0, 1],
    ],
    [
      '4 channels, map RL FC RR LFE: the centre on both sides',
      [{ direction: 'output', positions: [C.RL, C.FC, C.RR, C.LFE] }],
      4,
      [1, 1],
    ],
  ];
  for (const [name, chmaps, channels, [left, right]] of placements) {
    it(`picks left/right by channel position: ${name}`, () => {
      const g = new SndGuest(chmaps ? { chmaps } : {}).init();
      running(g, { format: P.VIRTIO_SND_PCM_FMT_S16, channels, periodFrames: 128 });
      const pcm = tagged(256, channels);
      g.tx(0, new Uint8Array(pcm.buffer, 0, 128 * 2 * channels));
      g.tx(0, new Uint8Array(pcm.buffer, 128 * 2 * channels));
      start(g);
      const { l, r } = render(g, 2);
      for (let f = 0; f < 256; f++) {
        expect(l[f]).toBe(s16(pcm[f * channels + left]));
        expect(r[f]).toBe(s16(pcm[f * channels + right]));
      }
    });
  }

  it('mixes two output streams (sum), each completing on its own', () => {
    const g = new SndGuest({
      streams: [{ direction: 'output' }, { direction: 'output' }, { direction: 'input' }],
    }).init();
    running(g, { streamId: 0, format: P.VIRTIO_SND_PCM_FMT_S16, channels: 2, periodFrames: 128 });
    running(g, { streamId: 1, format: P.VIRTIO_SND_PCM_FMT_S16, channels: 1, periodFrames: 64 });
    const a = tagged(128, 2);
    const b = Int16Array.from({ length: 64 }, (_, i) => -3 * i);
    const ma = g.tx(0, new Uint8Array(a.buffer));
    const mb = g.tx(1, new Uint8Array(b.buffer));
    start(g, 0);
    start(g, 1);
    const [l, r] = g.quantum();
    for (let f = 0; f < QUANTUM; f++) {
      const extra = f < 64 ? b[f] : 0;
      expect(l[f]).toBe(s16(a[2 * f] + extra));
      expect(r[f]).toBe(s16(a[2 * f + 1] + extra));
    }
    expect(g.statusOf(ma)).toEqual({ status: OK, latency: 0 });
    expect(g.statusOf(mb)).toEqual({ status: OK, latency: 0 });
    // Stream 1 ran dry mid-quantum, stream 0 did not: neither is an xrun until the grace is over.
    expect(g.device.stats().streams.map((s) => s.xruns)).toEqual([0, 0, 0]);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_STOP, 1)).toBe(OK); // stream 1 ends cleanly
    g.render(50); // stream 0 stays dry past the grace: an underrun
    expect(g.device.stats().streams.map((s) => s.xruns)).toEqual([1, 0, 0]);
  });

  it('a mono output node gets the mean of left and right; extra output channels are silent', () => {
    const g = new SndGuest().init();
    running(g, { format: P.VIRTIO_SND_PCM_FMT_S16, channels: 2, periodFrames: 128 });
    const pcm = tagged(256, 2);
    g.tx(0, new Uint8Array(pcm.buffer, 0, 512));
    g.tx(0, new Uint8Array(pcm.buffer, 512));
    start(g);
    const mono = [new Float32Array(QUANTUM)];
    expect(g.renderer.process([[]], [mono])).toBe(true);
    for (let f = 0; f < QUANTUM; f++)
      expect(mono[0][f]).toBe(Math.fround(0.5 * (s16(pcm[2 * f]) + s16(pcm[2 * f + 1]))));
    const quad = Array.from({ length: 4 }, () => new Float32Array(QUANTUM).fill(9));
    expect(g.renderer.process([[]], [quad])).toBe(true);
    for (let f = 0; f < QUANTUM; f++) {
      expect(quad[0][f]).toBe(s16(pcm[2 * (128 + f)]));
      expect(quad[1][f]).toBe(s16(pcm[2 * (128 + f) + 1]));
      expect(quad[2][f]).toBe(0);
      expect(quad[3][f]).toBe(0);
    }
  });

  it('works the same with VIRTIO_F_EVENT_IDX negotiated', () => {
    const g = new SndGuest().init({ eventIdx: true });
    expect(g.mmio.features & (1n << 29n)).toBe(1n << 29n);
    running(g, { format: P.VIRTIO_SND_PCM_FMT_S16, channels: 2, periodFrames: 128 });
    const pcm = tagged(512, 2);
    const msgs = [0, 1, 2, 3].map((k) => g.tx(0, new Uint8Array(pcm.buffer, k * 512, 512)));
    start(g);
    const { l, r } = render(g, 4);
    for (let f = 0; f < 512; f++) {
      expect(l[f]).toBe(s16(pcm[2 * f]));
      expect(r[f]).toBe(s16(pcm[2 * f + 1]));
    }
    for (const m of msgs) expect(g.used[2].get(m.token)).toBe(8);
    expect(g.irqs).toBeGreaterThan(0);
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

  it('completion quantum and latency_bytes for any message sizes (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 12 }),
        (sizes) => {
          const g = new SndGuest().init();
          running(g, { format: P.VIRTIO_SND_PCM_FMT_S16, channels: 2, periodFrames: 1 });
          const msgs = sizes.map((n) => g.tx(0, new Uint8Array(4 * n)));
          start(g);
          const total = sizes.reduce((a, b) => a + b, 0);
          const quanta = Math.ceil(total / QUANTUM) + 1;
          const doneAt = new Array<number>(sizes.length).fill(-1);
          for (let q = 0; q < quanta; q++) {
            g.quantum();
            msgs.forEach((m, i) => {
              if (doneAt[i] < 0 && g.used[2].has(m.token)) doneAt[i] = q;
            });
          }
          let end = 0;
          let after = total * 4;
          sizes.forEach((n, i) => {
            end += n;
            after -= 4 * n;
            expect(doneAt[i]).toBe(Math.floor((end - 1) / QUANTUM));
            expect(g.statusOf(msgs[i])).toEqual({ status: OK, latency: after });
            expect(g.used[2].get(msgs[i].token)).toBe(8);
          });
        },
      ),
      { numRuns: 150 },
    );
  });

  it('latency_bytes counts messages queued after START once the device has taken them', () => {
    const g = new SndGuest().init();
    running(g, { format: P.VIRTIO_SND_PCM_FMT_S16, channels: 2, periodFrames: 128 });
    const a = g.tx(0, new Uint8Array(512));
    start(g);
    const b = g.tx(0, new Uint8Array(512)); // taken by the first quantum too
    g.quantum();
    expect(g.statusOf(a)).toEqual({ status: OK, latency: 512 });
    const c = g.tx(0, new Uint8Array(1024));
    g.quantum();
    expect(g.statusOf(b)).toEqual({ status: OK, latency: 1024 });
    g.quantum();
    expect(g.used[2].has(c.token)).toBe(false);
    g.quantum();
    expect(g.statusOf(c)).toEqual({ status: OK, latency: 0 });
  });

  it('44100 Hz on a 48000 Hz context: every completion happens when its last frame is consumed, over 10 s', () => {
    const g = new SndGuest().init();
    const period = 441;
    running(g, {
      format: P.VIRTIO_SND_PCM_FMT_S16,
      channels: 2,
      rateHz: 44100,
      periodFrames: period,
    });
    const data = g.alloc.alloc(period * 4, 8);
    g.mem.write(
      data,
      Uint8Array.from({ length: period * 4 }, (_, i) => (i * 7) & 0xff),
    );
    const msgs = Array.from({ length: 8 }, () => g.txAt(0, data, period * 4));
    start(g);
    const quanta = Math.ceil((10 * 48000) / QUANTUM);
    let completed = 0;
    let offset: number | undefined;
    for (let q = 1; q <= quanta; q++) {
      g.quantum();
      while (g.used[2].has(msgs[completed]?.token)) {
        completed++;
        msgs.push(g.txAt(0, data, period * 4));
      }
      const consumed = g.device.stats().streams[0].frames;
      // Completions are exactly the whole messages consumed so far...
      expect(completed).toBe(Math.floor(consumed / period));
      // ...and consumption follows the clock exactly: q * 128 * 147 / 160 plus a constant
      // look-ahead, +-1 frame, with no drift over 10 s.
      const exact = (q * QUANTUM * 147) / 160;
      offset ??= consumed - exact;
      expect(Math.abs(consumed - exact - offset)).toBeLessThanOrEqual(1);
    }
    expect(completed).toBeGreaterThan(990);
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
      // The first message is full in quantum 1 (frames 128..191), the second in quantum 2.
      expect(g.used[3].size).toBe([0, 1, 2][q]);
    }
    for (const [k, m] of msgs.entries()) {
      expect(g.used[3].get(m.token)).toBe(768 + 8);
      expect(g.statusOf(m)).toEqual({ status: OK, latency: 0 });
      const got = new Int16Array(g.mem.read(m.data, 768).buffer);
      for (let f = 0; f < 192; f++) {
        expect(got[2 * f]).toBe(k * 192 + f - 192);
        expect(got[2 * f + 1]).toBe(-(k * 192 + f) * 3 + 0);
      }
    }
  });

  it('completes each RX message in the quantum that fills its last byte (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 10 }),
        (sizes) => {
          const g = new SndGuest().init();
          running(g, {
            streamId: 1,
            format: P.VIRTIO_SND_PCM_FMT_S16,
            channels: 1,
            periodFrames: 1,
          });
          const msgs = sizes.map((n) => g.rx(1, 2 * n));
          start(g, 1);
          const total = sizes.reduce((a, b) => a + b, 0);
          const doneAt = new Array<number>(sizes.length).fill(-1);
          let t = 0;
          for (let q = 0; q < Math.ceil(total / QUANTUM); q++) {
            const x = Float32Array.from({ length: QUANTUM }, () => (t++ % 30000) / 32768);
            g.quantum([x, x]);
            msgs.forEach((m, i) => {
              if (doneAt[i] < 0 && g.used[3].has(m.token)) doneAt[i] = q;
            });
          }
          let end = 0;
          sizes.forEach((n, i) => {
            const first = end;
            end += n;
            expect(doneAt[i]).toBe(Math.floor((end - 1) / QUANTUM));
            expect(g.used[3].get(msgs[i].token)).toBe(2 * n + 8);
            const got = new Int16Array(g.mem.read(msgs[i].data, 2 * n).buffer);
            for (let f = 0; f < n; f++) expect(got[f]).toBe((first + f) % 30000);
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('queued bytes are the room not yet filled: full messages leave nothing behind', () => {
    const g = new SndGuest().init();
    running(g, { streamId: 1, format: P.VIRTIO_SND_PCM_FMT_S16, channels: 2, periodFrames: 192 });
    g.rx(1, 768);
    g.rx(1, 768);
    start(g, 1);
    const queued = () => g.device.stats().streams[1].queuedBytes;
    g.quantum();
    expect(queued()).toBe(1536 - 512); // 128 of 384 frames filled
    g.render(2);
    expect(queued()).toBe(0);
    g.rx(1, 768);
    g.quantum();
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_STOP, 1)).toBe(OK);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_RELEASE, 1)).toBe(OK);
    expect(queued()).toBe(0);
  });

  it('a mono input feeds both channels', () => {
    const g = new SndGuest().init();
    running(g, { streamId: 1, format: P.VIRTIO_SND_PCM_FMT_S16, channels: 2, periodFrames: 128 });
    const m = g.rx(1, 512);
    start(g, 1);
    const x = Float32Array.from({ length: QUANTUM }, (_, i) => (i * 200 - 12000) / 32768);
    g.renderer.process([[x]], [[new Float32Array(QUANTUM), new Float32Array(QUANTUM)]]);
    g.collect();
    expect(g.used[3].get(m.token)).toBe(520);
    const got = new Int16Array(g.mem.read(m.data, 512).buffer);
    for (let f = 0; f < QUANTUM; f++) {
      expect(got[2 * f]).toBe(f * 200 - 12000);
      expect(got[2 * f + 1]).toBe(f * 200 - 12000);
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
