import { expect, test } from '@playwright/test';
import { contextRate, openDemo, pageErrors } from './util.ts';

/**
 * Suspending the AudioContext mid-stream for 2 s: no period completes while
 * suspended, the control plane still answers, nothing queued is lost, and
 * playback resumes exactly where it stopped (checked bit-exact on the tap).
 */
test('suspend and resume lose nothing and complete nothing early', async ({ page }) => {
  await openDemo(page, '?tap=524288');
  const rate = await contextRate(page);
  const r = await page.evaluate(async (rate) => {
    const sound = window.virtioSound!;
    const frames = rate * 4;
    const pcm = new Int16Array(frames * 2);
    let x = 0x2545f491;
    for (let i = 0; i < pcm.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      pcm[i] = x & 0xffff;
    }
    const expected = pcm.slice();
    const tap = sound.outputTap();
    const chunks: { left: Float32Array; right: Float32Array; firstFrame: number; lost: number }[] =
      [];
    const drain = setInterval(() => chunks.push(tap.take()), 40);
    await sound.driver.playPcm(
      { format: 5, rate, channels: 2, periodFrames: 1024, periods: 4 },
      pcm.buffer,
    );
    // Let one second play, then suspend.
    for (;;) {
      if ((await sound.driver.status(0)).hwPtr >= rate) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    await sound.context.suspend();
    const before = (await sound.stats()).device.streams[0];
    const hwBefore = (await sound.driver.status(0)).hwPtr;
    const t0 = performance.now();
    // The control plane answers while audio is suspended.
    await sound.setVolume(80);
    const volume = await sound.driver.getControl('Master Playback Volume');
    await sound.setVolume(100);
    const controlMs = performance.now() - t0;
    await new Promise((res) => setTimeout(res, 2000));
    const during = (await sound.stats()).device.streams[0];
    const hwDuring = (await sound.driver.status(0)).hwPtr;
    await sound.context.resume();
    for (;;) {
      const st = await sound.driver.status(0);
      if (st.state === 'setup' && st.hwPtr === frames) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    await new Promise((res) => setTimeout(res, 100));
    clearInterval(drain);
    chunks.push(tap.take());
    const dev = (await sound.stats()).device.streams[0];
    const first = chunks[0].firstFrame;
    const total = chunks.reduce((a, c) => a + c.left.length, 0);
    const L = new Float32Array(total);
    const R = new Float32Array(total);
    let off = 0;
    for (const c of chunks) {
      L.set(c.left, off);
      R.set(c.right, off);
      off += c.left.length;
    }
    const start = dev.startFrame - first;
    let mismatches = 0;
    for (let f = 0; f < frames; f++) {
      if (L[start + f] !== Math.fround(expected[2 * f] / 32768)) mismatches++;
      if (R[start + f] !== Math.fround(expected[2 * f + 1] / 32768)) mismatches++;
    }
    return {
      completedBefore: before.completed,
      completedDuring: during.completed,
      hwBefore,
      hwDuring,
      volume,
      controlMs,
      mismatches,
      lost: chunks.reduce((a, c) => a + c.lost, 0),
      completed: dev.completed,
      frames,
    };
  }, rate);
  console.log(JSON.stringify(r));
  expect(r.completedDuring).toBe(r.completedBefore);
  expect(r.hwDuring).toBe(r.hwBefore);
  expect(r.volume).toEqual([80]);
  expect(r.lost).toBe(0);
  expect(r.mismatches).toBe(0);
  expect(r.completed).toBe(Math.ceil(r.frames / 1024));
  expect(pageErrors(page)).toEqual([]);
});

/**
 * Before any gesture the AudioContext is suspended: the driver still probes
 * the card, reads PCM_INFO and completes SET_PARAMS/PREPARE; audio starts on
 * the first click.
 */
test('the control plane works before audio runs; the first click starts audio', async ({
  page,
}) => {
  await openDemo(page, '?suspend=1');
  const rate = await contextRate(page);
  const before = await page.evaluate(async (rate) => {
    const sound = window.virtioSound!;
    await sound.driver.hwParams(0, {
      format: 5,
      rate,
      channels: 2,
      periodFrames: 1024,
      periods: 4,
    });
    await sound.driver.prepare(0);
    const st = await sound.driver.status(0);
    const dev = (await sound.stats()).device;
    return {
      state: sound.context.state,
      formats: sound.card.streams[0].formats.length,
      streamState: st.state,
      deviceState: dev.streams[0].state,
      quanta: dev.quanta,
      requests: dev.controlRequests,
    };
  }, rate);
  expect(before.state).toBe('suspended');
  expect(before.formats).toBe(20);
  expect(before.streamState).toBe('prepared');
  expect(before.deviceState).toBe('prepared');
  expect(before.quanta).toBe(0);
  expect(before.requests).toBeGreaterThan(5);
  await expect(page.locator('#banner')).toContainText('first click');
  // The first click resumes audio; then a tone plays and periods complete.
  await page.click('h1');
  await page.waitForFunction(() => window.virtioSound!.context.state === 'running');
  await page.click('#tone-play');
  await page.waitForFunction(
    async () => (await window.virtioSound!.stats()).device.streams[0].completed > 10,
  );
  expect(pageErrors(page)).toEqual([]);
});
