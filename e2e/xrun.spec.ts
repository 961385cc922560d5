import { expect, test } from '@playwright/test';
import { contextRate, openDemo, pageErrors } from './util.ts';

/** Starving the stream on purpose: XRUN, recovery, playback continues; the UI counts it. */
test('a starved stream xruns, recovers and plays on', async ({ page }) => {
  await openDemo(page);
  const rate = await contextRate(page);
  const r = await page.evaluate(async (rate) => {
    const sound = window.virtioSound!;
    const d = sound.driver;
    const periodFrames = 512;
    let xrunEvents = 0;
    sound.onEvents((batch) => {
      xrunEvents += batch.filter((e) => e.type === 'xrun').length;
    });
    await d.hwParams(0, { format: 5, rate, channels: 2, periodFrames, periods: 4 });
    await d.swParams(0, { startThreshold: periodFrames });
    await d.prepare(0);
    const period = (n = 1) => new Int16Array(n * periodFrames * 2).fill(3000).buffer;
    // Two periods in one call (it starts after the first): no page round trip between
    // them that a loaded machine could stretch into an earlier xrun.
    await d.writei(0, period(2));
    // No more data: the device plays two periods and runs dry.
    for (;;) {
      if ((await d.status(0)).state === 'xrun') break;
      await new Promise((res) => setTimeout(res, 20));
    }
    const atXrun = await d.status(0);
    await d.recover(0);
    // Refill the whole buffer before restarting, so the page's round trips cannot starve it again.
    await d.swParams(0, { startThreshold: 4 * periodFrames });
    for (let i = 0; i < 4; i++) await d.writei(0, period());
    // Restarted by the start threshold, with data queued.
    const after = await d.status(0);
    // Ending properly (drain) is not an xrun; it returns once all four periods played.
    await d.drain(0);
    const end = await d.status(0);
    const dev = (await sound.stats()).device.streams[0];
    await new Promise((res) => setTimeout(res, 300)); // let the live view refresh
    return { atXrun, after, end, devXruns: dev.xruns, xrunEvents };
  }, rate);
  console.log(JSON.stringify(r));
  expect(r.atXrun.xruns).toBe(1);
  expect(r.atXrun.hwPtr).toBe(1024);
  expect(r.after.state).toBe('running');
  expect(r.end.state).toBe('setup');
  expect(r.end.hwPtr).toBe(4 * 512);
  expect(r.end.periods).toBe(4);
  // The driver found the underrun itself (hw_ptr reached appl_ptr) and stopped the
  // stream within the device's grace, and the drain's dry end was clean: the device
  // counts neither. The driver (and the app) saw exactly one xrun.
  expect(r.devXruns).toBe(0);
  expect(r.xrunEvents).toBe(1);
  // The stream table in the UI shows the driver's xrun count.
  const row = page.locator('#stats-body tr').first();
  await expect(row.locator('td').nth(6)).toHaveText('1');
  expect(pageErrors(page)).toEqual([]);
});
