import { describe, expect, it } from 'vitest';
import { InProcess, QUANTUM } from '../helpers/in-process.ts';

function sine(frames: number, rate: number, freq = 997): Int16Array {
  const s = new Int16Array(frames * 2);
  for (let f = 0; f < frames; f++) {
    const v = Math.round(Math.sin((2 * Math.PI * freq * f) / rate) * 16000);
    s[2 * f] = v;
    s[2 * f + 1] = -v;
  }
  return s;
}

describe('driver playback', () => {
  it('plays a written sine bit-exact, gap-free, and drain resolves at the last frame', async () => {
    const p = await InProcess.create();
    const pcm = await p.prepared(0);
    const frames = 48000;
    const data = sine(frames, 48000);
    p.record = true;
    let written = 0;
    const writer = (async () => {
      for (let off = 0; off < frames; off += 1000) {
        const n = Math.min(1000, frames - off);
        written += await pcm.writei(data.subarray(off * 2, (off + n) * 2));
      }
      await pcm.drain();
    })();
    let done = false;
    void writer.then(() => {
      done = true;
    });
    let guard = 0;
    while (!done && guard++ < 1000) await p.tick();
    await writer;
    expect(written).toBe(frames);
    const { l, r } = p.output();
    // Find the first non-zero sample: the start offset.
    const start = l.findIndex((v) => v !== 0);
    expect(start).toBeGreaterThanOrEqual(0);
    // first sample of the sine is 0; locate by the second frame.
    const s0 = l.findIndex((v, i) => v === Math.fround(data[2] / 32768) && l[i - 1] === 0);
    expect(s0).toBeGreaterThan(0);
    let mismatches = 0;
    for (let f = 0; f < frames; f++) {
      if (l[s0 - 1 + f] !== Math.fround(data[2 * f] / 32768)) mismatches++;
      if (r[s0 - 1 + f] !== Math.fround(data[2 * f + 1] / 32768)) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(pcm.state).toBe('setup');
    expect(pcm.hwPtr).toBe(frames);
    // Drain resolved in the quantum that rendered the last frame.
    const lastFrameQuantum = Math.floor((s0 - 1 + frames - 1) / QUANTUM);
    expect(p.quanta - 1).toBe(lastFrameQuantum);
  });
});
