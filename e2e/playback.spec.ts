import { expect, test } from '@playwright/test';
import { contextRate, openDemo, pageErrors } from './util.ts';

/**
 * Bit-exact playback: a known S16 signal goes driver -> virtqueue -> worklet;
 * the renderer's output tap is drained while it plays and compared sample by
 * sample from the stream's first frame, which the device stamps with the
 * audio-clock frame it was rendered in.
 */
const cases: { periodFrames: number; signal: 'sine997' | 'prbs'; render?: number }[] = [];
for (const periodFrames of [128, 480, 1024]) {
  for (const signal of ['sine997', 'prbs'] as const) cases.push({ periodFrames, signal });
}
// AudioContext({renderSizeHint}): process() gets blocks of 256 or 441 frames.
for (const render of [256, 441]) cases.push({ periodFrames: 480, signal: 'prbs', render });

for (const { periodFrames, signal, render } of cases) {
  {
    const blocks = render ? ` in ${render}-frame render blocks` : '';
    test(`bit-exact ${signal} at ${periodFrames}-frame periods${blocks}`, async ({ page }) => {
      await openDemo(page, `?tap=262144${render ? `&render=${render}` : ''}`);
      if (render) {
        const size = await page.evaluate(
          () => (window.virtioSound!.context as { renderQuantumSize?: number }).renderQuantumSize,
        );
        expect(size, 'Chromium honours renderSizeHint').toBe(render);
      }
      const rate = await contextRate(page);
      const result = await page.evaluate(
        async ({ periodFrames, signal, rate, render }) => {
          const sound = window.virtioSound!;
          const frames = Math.round(rate * 2);
          const pcm = new Int16Array(frames * 2);
          let x = 0x1234567;
          for (let f = 0; f < frames; f++) {
            if (signal === 'sine997') {
              const v = Math.round(Math.sin((2 * Math.PI * 997 * f) / rate) * 20000);
              pcm[2 * f] = v;
              pcm[2 * f + 1] = -v;
            } else {
              // xorshift32: a pseudo-random full-scale sequence.
              for (let c = 0; c < 2; c++) {
                x ^= x << 13;
                x ^= x >>> 17;
                x ^= x << 5;
                pcm[2 * f + c] = x & 0xffff;
              }
            }
          }
          const expected = pcm.slice();
          const tap = sound.outputTap();
          const chunks: {
            left: Float32Array;
            right: Float32Array;
            firstFrame: number;
            lost: number;
          }[] = [];
          const drain = setInterval(() => chunks.push(tap.take()), 40);
          // 4 periods is enough head-room for 128-frame periods only with a larger count;
          // a 441-frame render block takes almost a whole 480-frame period at once.
          const periods = periodFrames === 128 ? 16 : render ? 8 : 4;
          await sound.driver.playPcm(
            { format: 5, rate, channels: 2, periodFrames, periods },
            pcm.buffer,
          );
          // Wait until the stream has drained and gone back to setup. An xrun (a machine
          // too loaded to feed real-time audio) restarts the stream: report it, not a hang.
          let xruns = 0;
          for (;;) {
            const st = await sound.driver.status(0);
            xruns = st.xruns;
            if (xruns > 0 || (st.state === 'setup' && st.hwPtr === frames)) break;
            await new Promise((r) => setTimeout(r, 50));
          }
          await new Promise((r) => setTimeout(r, 100));
          clearInterval(drain);
          chunks.push(tap.take());
          const dev = (await sound.stats()).device.streams[0];
          const lost = chunks.reduce((a, c) => a + c.lost, 0);
          // Stitch the chunks into one timeline indexed by tap frame.
          const first = chunks[0].firstFrame;
          const total = chunks.reduce((a, c) => a + c.left.length, 0);
          const L = new Float32Array(total);
          const R = new Float32Array(total);
          let gaps = 0;
          let off = 0;
          let nextFrame = first;
          for (const c of chunks) {
            if (c.firstFrame !== nextFrame) gaps++;
            L.set(c.left, off);
            R.set(c.right, off);
            off += c.left.length;
            nextFrame = (c.firstFrame + c.left.length) >>> 0;
          }
          const start = dev.startFrame - first;
          let mismatches = 0;
          let firstMismatch = -1;
          for (let f = 0; f < frames; f++) {
            const l = Math.fround(expected[2 * f] / 32768);
            const r = Math.fround(expected[2 * f + 1] / 32768);
            if (L[start + f] !== l || R[start + f] !== r) {
              mismatches++;
              if (firstMismatch < 0) firstMismatch = f;
            }
          }
          return {
            xruns,
            mismatches,
            firstMismatch,
            lost,
            gaps,
            start,
            total,
            frames,
            completed: dev.completed,
          };
        },
        { periodFrames, signal, rate, render },
      );
      console.log(`${signal} @${periodFrames}: ${JSON.stringify(result)}`);
      expect(result.xruns, 'the stream underran: the machine could not feed it in real time').toBe(
        0,
      );
      expect(result.lost).toBe(0);
      expect(result.gaps).toBe(0);
      expect(result.start).toBeGreaterThanOrEqual(0);
      expect(result.start + result.frames).toBeLessThanOrEqual(result.total);
      expect(result.mismatches).toBe(0);
      expect(result.completed).toBe(Math.ceil(result.frames / periodFrames));
      expect(pageErrors(page)).toEqual([]);
    });
  }
}
