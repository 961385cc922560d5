import { expect, type Page, test } from '@playwright/test';
import { contextRate, openDemo, pageErrors } from './util.ts';

/**
 * Save state mid-playback in one page, restore it in a fresh page: the page
 * plays known PCM through createVirtioSound, saves after a second, and a
 * new page (its AudioContext suspended, as before any gesture) restores the
 * snapshot and resumes. The rest of the PCM comes out of the new page
 * bit-exact (checked on the output tap), from the frame the snapshot was
 * taken at to the last, then silence: nothing lost, nothing played twice,
 * no error, and the stream's position goes on from where it was.
 */

const SECONDS = 4;

function noise(frames: number): Int16Array {
  const pcm = new Int16Array(frames * 2);
  let x = 0x2545f491;
  for (let i = 0; i < pcm.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    pcm[i] = x & 0xffff;
  }
  return pcm;
}

async function save(page: Page, rate: number) {
  return page.evaluate(
    async ({ rate, seconds, src }) => {
      const sound = window.virtioSound!;
      // The same generator as the test's (passed as source: page code cannot import).
      const noise = new Function(`return ${src}`)() as (frames: number) => Int16Array;
      const pcm = noise(rate * seconds);
      await sound.driver.playPcm(
        // A deep buffer (370 ms): a loaded machine must not underrun the stream mid-test.
        { format: 5, rate, channels: 2, periodFrames: 2048, periods: 8 },
        pcm.buffer as ArrayBuffer,
      );
      for (;;) {
        if ((await sound.driver.status(0)).hwPtr >= rate) break;
        await new Promise((res) => setTimeout(res, 20));
      }
      const t0 = performance.now();
      const bytes = await sound.saveState();
      const saveMs = performance.now() - t0;
      const dev = (await sound.stats()).device.streams[0];
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) {
        s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      }
      return { snapshot: btoa(s), bytes: bytes.length, saveMs, framesAtSave: dev.frames };
    },
    { rate, seconds: SECONDS, src: noise.toString() },
  );
}

test('a snapshot taken mid-playback plays on, bit-exact, in a fresh page', async ({ browser }) => {
  const a = await browser.newPage();
  await openDemo(a, '?tap=524288');
  const rate = await contextRate(a);
  const saved = await save(a, rate);
  expect(pageErrors(a)).toEqual([]);
  await a.close();

  const b = await browser.newPage();
  await openDemo(b, `?tap=524288&suspend=1${rate === 48000 ? '' : `&rate=${rate}`}`);
  expect(await contextRate(b)).toBe(rate);
  const r = await b.evaluate(
    async ({ snapshot, rate, seconds, src }) => {
      const sound = window.virtioSound!;
      const noise = new Function(`return ${src}`)() as (frames: number) => Int16Array;
      const expected = noise(rate * seconds);
      const raw = atob(snapshot);
      const bytes = Uint8Array.from(raw, (c) => c.charCodeAt(0));
      const t0 = performance.now();
      await sound.restoreState(bytes);
      const restoreMs = performance.now() - t0;
      const state = sound.context.state;
      const restored = (await sound.stats()).device.streams[0];
      const tap = sound.outputTap();
      const chunks: { left: Float32Array; right: Float32Array; lost: number }[] = [];
      const drain = setInterval(() => chunks.push(tap.take()), 40);
      await sound.context.resume();
      const total = rate * seconds;
      // The player drains and stops the stream at the end (or gives up on an error).
      const deadline = performance.now() + (seconds + 20) * 1000;
      while ((await sound.driver.status(0)).state !== 'setup' && performance.now() < deadline) {
        await new Promise((res) => setTimeout(res, 50));
      }
      await new Promise((res) => setTimeout(res, 150));
      clearInterval(drain);
      chunks.push(tap.take());
      const n = chunks.reduce((k, c) => k + c.left.length, 0);
      const L = new Float32Array(n);
      const R = new Float32Array(n);
      let off = 0;
      for (const c of chunks) {
        L.set(c.left, off);
        R.set(c.right, off);
        off += c.left.length;
      }
      // The first frame rendered after the restore is the stream's next frame.
      const from = restored.frames;
      let mismatches = 0;
      for (let f = from; f < total; f++) {
        if (L[f - from] !== Math.fround(expected[2 * f] / 32768)) mismatches++;
        if (R[f - from] !== Math.fround(expected[2 * f + 1] / 32768)) mismatches++;
      }
      let after = 0;
      for (let i = total - from; i < n; i++) if (L[i] !== 0 || R[i] !== 0) after++;
      const dev = (await sound.stats()).device.streams[0];
      const hwPtr = (await sound.driver.status(0)).hwPtr;
      return {
        hwPtr,
        state,
        restoreMs,
        from,
        rendered: n,
        mismatches,
        after,
        lost: chunks.reduce((k, c) => k + c.lost, 0),
        xruns: dev.xruns,
        framesEnd: dev.frames,
        total,
      };
    },
    { snapshot: saved.snapshot, rate, seconds: SECONDS, src: noise.toString() },
  );
  console.log(
    JSON.stringify({
      ...r,
      bytes: saved.bytes,
      saveMs: saved.saveMs,
      framesAtSave: saved.framesAtSave,
    }),
  );
  expect(r.state).toBe('suspended'); // restored while suspended: it plays once audio runs
  expect(r.from).toBeLessThanOrEqual(saved.framesAtSave);
  expect(r.from).toBeGreaterThanOrEqual(rate);
  expect(r.rendered).toBeGreaterThan(r.total - r.from);
  expect(r.lost).toBe(0);
  expect(r.mismatches).toBe(0);
  expect(r.after).toBe(0);
  expect(r.xruns).toBe(0);
  expect(r.framesEnd).toBe(r.total);
  expect(r.hwPtr).toBe(r.total);
  expect(pageErrors(b)).toEqual([]);
});
