/**
 * Render blocks of any length (AudioContext({renderSizeHint}) makes process()
 * receive blocks other than 128 frames): playback stays bit-exact, capture
 * fills RX messages bit-exact, each message completes in the block that
 * renders (or fills) its last frame, xruns count one per episode, and the
 * resampled output does not depend on how the frames were split into blocks.
 */
import { describe, expect, it } from 'vitest';
import { CompletionLog } from '../../src/device/shared/completion-log.ts';
import * as P from '../../src/snd/protocol.ts';
import { SndGuest } from '../helpers/snd-guest.ts';

const OK = P.VIRTIO_SND_S_OK;
const BLOCKS = [1, 64, 128, 256, 441, 1000];

/** A stream set up and prepared (not started). */
function prepared(
  g: SndGuest,
  p: { streamId?: number; format: number; channels: number; rateHz?: number; periodFrames: number },
): number {
  const fb = P.pcmFrameBytes(p.format, p.channels);
  const periodBytes = p.periodFrames * fb;
  expect(
    g.setParams({
      streamId: p.streamId ?? 0,
      bufferBytes: periodBytes * 4,
      periodBytes,
      channels: p.channels,
      format: p.format,
      rateHz: p.rateHz ?? 48000,
      features: 1 << P.VIRTIO_SND_PCM_F_EVT_XRUNS,
    }),
  ).toBe(OK);
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, p.streamId ?? 0)).toBe(OK);
  return fb;
}

/** S16 stereo frames of a 16-bit PRBS (distinct left and right). */
function prbs(frames: number, seed = 1): Int16Array {
  const s = new Int16Array(2 * frames);
  let x = seed;
  for (let i = 0; i < s.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    s[i] = (x >>> 16) - 32768;
  }
  return s;
}

/** Renders `total` frames in blocks of `block`; returns the concatenated output. */
function renderFrames(g: SndGuest, total: number, block: number) {
  const l = new Float32Array(total);
  const r = new Float32Array(total);
  for (let at = 0; at < total; at += block) {
    const [a, b] = g.block(block);
    l.set(a.subarray(0, Math.min(block, total - at)), at);
    r.set(b.subarray(0, Math.min(block, total - at)), at);
  }
  return { l, r };
}

describe.each(BLOCKS)('blocks of %i frames', (block) => {
  it('plays S16 stereo bit-exact and completes each message in the block of its last frame', () => {
    const g = new SndGuest().init();
    const periodFrames = 300; // not a multiple of any block size tested
    prepared(g, { format: P.VIRTIO_SND_PCM_FMT_S16, channels: 2, periodFrames });
    const log = new CompletionLog(g.device.renderState);
    const frames = 8 * periodFrames;
    const pcm = prbs(frames);
    const bytes = new Uint8Array(pcm.buffer);
    const msgs = [];
    for (let i = 0; i < 8; i++) {
      msgs.push(g.tx(0, bytes.subarray(i * periodFrames * 4, (i + 1) * periodFrames * 4)));
    }
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    const total = Math.ceil((frames + 2 * block) / block) * block;
    const { l, r } = renderFrames(g, total, block);
    const start = g.device.stats().streams[0].startFrame;
    expect(start).toBe(0);
    for (let f = 0; f < frames; f++) {
      if (l[f] !== pcm[2 * f] / 32768 || r[f] !== pcm[2 * f + 1] / 32768) {
        throw new Error(`frame ${f} differs`);
      }
    }
    for (let f = frames; f < total; f++) expect(l[f]).toBe(0);
    for (const m of msgs) expect(g.statusOf(m).status).toBe(OK);
    // Completion i is logged at the end of the pass that played frame (i+1)*period - 1:
    // inside the block holding that frame, and no later than 128 frames after it.
    const done = log.take();
    expect(done.map((c) => c.stream)).toEqual(new Array(8).fill(0));
    done.forEach((c, i) => {
      const last = (i + 1) * periodFrames - 1;
      expect(Math.floor((c.frame - 1) / block)).toBe(Math.floor(last / block));
      expect(c.frame).toBeGreaterThan(last);
      expect(c.frame - last).toBeLessThanOrEqual(128);
    });
    // Dry after the last full period, for less than the grace: no xrun (yet); STOP ends it cleanly.
    expect(g.device.stats().streams[0].xruns).toBe(0);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_STOP, 0)).toBe(OK);
    renderFrames(g, 9600, block);
    expect(g.device.stats().streams[0].xruns).toBe(0);
  });

  it('fills RX messages bit-exact from the input, completing each in the block of its last frame', () => {
    const g = new SndGuest().init();
    const periodFrames = 300;
    prepared(g, {
      streamId: 1,
      format: P.VIRTIO_SND_PCM_FMT_FLOAT,
      channels: 2,
      periodFrames,
    });
    const msgs = [0, 1, 2, 3].map(() => g.rx(1, periodFrames * 8));
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
    const input = (f: number, c: number) => Math.fround(((f * 7 + c * 3) % 1000) / 1000 - 0.5);
    const completedAt: number[] = [];
    let frame = 0;
    while (frame < 4 * periodFrames + block) {
      const a = new Float32Array(block);
      const b = new Float32Array(block);
      for (let i = 0; i < block; i++) {
        a[i] = input(frame + i, 0);
        b[i] = input(frame + i, 1);
      }
      g.block(block, [a, b]);
      frame += block;
      for (const m of msgs) {
        const k = msgs.indexOf(m);
        if (completedAt[k] === undefined && g.used[3].has(m.token)) completedAt[k] = frame;
      }
    }
    msgs.forEach((m, k) => {
      expect(g.statusOf(m).status).toBe(OK);
      expect(g.used[3].get(m.token)).toBe(periodFrames * 8 + 8);
      const data = new Float32Array(g.mem.read(m.data, periodFrames * 8).buffer);
      for (let f = 0; f < periodFrames; f++) {
        const at = k * periodFrames + f;
        if (data[2 * f] !== input(at, 0) || data[2 * f + 1] !== input(at, 1)) {
          throw new Error(`message ${k} frame ${f} differs`);
        }
      }
      // The block that filled its last byte is the one it completed in.
      const last = (k + 1) * periodFrames - 1;
      expect(completedAt[k]).toBe((Math.floor(last / block) + 1) * block);
    });
  });

  it('resamples 44.1 kHz to 48 kHz exactly as 128-frame blocks do', () => {
    const play = (b: number) => {
      const g = new SndGuest().init();
      prepared(g, {
        format: P.VIRTIO_SND_PCM_FMT_S16,
        channels: 2,
        rateHz: 44100,
        periodFrames: 441,
      });
      const pcm = prbs(441 * 6, 7);
      const bytes = new Uint8Array(pcm.buffer);
      for (let i = 0; i < 6; i++) g.tx(0, bytes.subarray(i * 441 * 4, (i + 1) * 441 * 4));
      expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
      return renderFrames(g, 128 * 23, b);
    };
    const ref = play(128);
    const got = play(block);
    expect(got.l).toEqual(ref.l);
    expect(got.r).toEqual(ref.r);
    let peak = 0;
    for (const v of got.l) peak = Math.max(peak, Math.abs(v));
    expect(peak).toBeGreaterThan(0.1);
  });
});

describe('xruns with any block size', () => {
  it.each(BLOCKS)('counts one xrun per episode with %i-frame blocks', (block) => {
    const g = new SndGuest().init();
    prepared(g, { format: P.VIRTIO_SND_PCM_FMT_S16, channels: 2, periodFrames: 256 });
    const period = new Uint8Array(256 * 4).fill(1);
    g.tx(0, period);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    renderFrames(g, 256 + 6000, block); // plays 256 frames, then dry past the grace: episode 1
    g.tx(0, period);
    g.tx(0, period);
    renderFrames(g, 512 + 6000, block); // 512 frames, then dry again: episode 2
    const st = g.device.stats().streams[0];
    expect(st.xruns).toBe(2);
    expect(g.events.filter((e) => e.code === P.VIRTIO_SND_EVT_PCM_XRUN).length).toBe(2);
  });
});
