/**
 * writei -> virtqueue -> renderer, bit-exact and gap-free across period sizes
 * and counts, with pointer()/delay()/avail() checked against what was
 * actually rendered at every step.
 */
import { describe, expect, it } from 'vitest';
import type { PcmStream } from '../../src/driver/pcm-ops.ts';
import { VIRTIO_SND_PCM_FMT_S16 } from '../../src/snd/protocol.ts';
import { InProcess, QUANTUM } from '../helpers/in-process.ts';

const RATE = 48000;

function sine(frames: number): Int16Array {
  const s = new Int16Array(frames * 2);
  for (let f = 0; f < frames; f++) {
    const v = Math.round(Math.sin((2 * Math.PI * 997 * f) / RATE) * 20000);
    s[2 * f] = v;
    s[2 * f + 1] = (v * 3) >> 2;
  }
  return s;
}

/**
 * Plays `data` through a stream with the given periods; after every quantum
 * checks the positions against frames rendered. Returns the rendered output
 * and where the stream started in it.
 */
async function play(periodFrames: number, periods: number, data: Int16Array) {
  const p = await InProcess.create();
  const pcm = p.driver.pcm(0);
  await pcm.hwParams({
    format: VIRTIO_SND_PCM_FMT_S16,
    rate: RATE,
    channels: 2,
    periodFrames,
    periods,
  });
  await pcm.prepare();
  const frames = data.length / 2;
  p.record = true;
  let finished = false;
  const writer = (async () => {
    // Write in odd-sized chunks, as an application would.
    for (let off = 0; off < frames; ) {
      const n = Math.min(777, frames - off);
      off += await pcm.writei(data.subarray(off * 2, (off + n) * 2));
    }
    await pcm.drain();
    finished = true;
  })();
  const rendered = () => Math.max(0, p.device.stats().streams[0].frames);
  let violations = 0;
  const check = (s: PcmStream) => {
    if (!s.params || s.state !== 'running') return;
    const r = rendered();
    const bf = s.params.bufferFrames;
    // hw_ptr moves a period at a time, when the device completes one.
    if (!(s.hwPtr <= r && r < s.hwPtr + periodFrames + QUANTUM)) violations++;
    if (s.delay() !== s.applPtr - s.hwPtr) violations++;
    if (s.avail() !== bf - (s.applPtr - s.hwPtr)) violations++;
    if (s.pointer() !== s.hwPtr % bf) violations++;
  };
  for (let guard = 0; !finished && guard < 100000; guard++) {
    await p.tick();
    check(pcm);
  }
  await writer;
  return { p, pcm, violations };
}

function verify(p: InProcess, data: Int16Array): { mismatches: number; start: number } {
  const { l, r } = p.output();
  const start = p.device.stats().streams[0].startFrame;
  let mismatches = 0;
  for (let f = 0; f < data.length / 2; f++) {
    if (l[start + f] !== data[2 * f] / 32768 || r[start + f] !== data[2 * f + 1] / 32768)
      mismatches++;
  }
  // Nothing but silence before the stream's first frame.
  for (let i = 0; i < start; i++) if (l[i] !== 0) mismatches++;
  return { mismatches, start };
}

describe('playback through the driver', () => {
  for (const periodFrames of [128, 256, 1024]) {
    it(`10 s of a 997 Hz sine at ${periodFrames}-frame periods x4: bit-exact, gap-free, positions consistent`, async () => {
      const data = sine(RATE * 10);
      const { p, pcm, violations } = await play(periodFrames, 4, data);
      expect(verify(p, data).mismatches).toBe(0);
      expect(violations).toBe(0);
      expect(pcm.hwPtr).toBe(RATE * 10);
      expect(p.quanta).toBeGreaterThanOrEqual((RATE * 10) / QUANTUM);
      expect(pcm.xruns).toBe(0);
      expect(pcm.state).toBe('setup');
    });
  }

  for (const periodFrames of [128, 256, 1024]) {
    for (const periods of [2, 3, 5, 8]) {
      it(`1 s at ${periodFrames} x ${periods}`, async () => {
        const data = sine(RATE);
        const { p, pcm, violations } = await play(periodFrames, periods, data);
        expect(verify(p, data).mismatches).toBe(0);
        expect(violations).toBe(0);
        expect(pcm.xruns).toBe(0);
      });
    }
  }

  it('drain resolves in the quantum that renders the last frame of a partial period', async () => {
    const data = sine(1000); // 3 periods of 256 and 232 frames
    const { p, pcm } = await play(256, 4, data);
    const { start } = verify(p, data);
    expect(verify(p, data).mismatches).toBe(0);
    const lastFrameQuantum = Math.floor((start + 1000 - 1) / QUANTUM);
    expect(p.quanta - 1).toBe(lastFrameQuantum);
    expect(pcm.hwPtr).toBe(1000);
  });
});
