import { expect, test } from '@playwright/test';

test('the demo plays a tone through the device and shows it live', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  await page.waitForFunction(() => window.virtioSound !== undefined);
  await page.click('#tone-play');
  // Wait (in audio terms) until the device has completed 20 periods of the tone and
  // a quantum's peak shows it: one sampled quantum can be an underrun's silence.
  await page.waitForFunction(async () => {
    const s = (await window.virtioSound!.stats()).device.streams[0];
    return s.completed >= 20 && s.peak > 0.1;
  });
  const stats = await page.evaluate(
    async () => (await window.virtioSound!.stats()).device.streams[0],
  );
  expect(stats.state).toBe('running');
  expect(stats.peak).toBeGreaterThan(0.1);
  // The live view has drawn the completions and the stream table.
  await expect(page.locator('#stats-body tr').first()).toContainText('running');
  await page.waitForFunction(() => (window.liveView?.periods ?? 0) > 0);
  await page.screenshot({ path: 'test-results/demo.png', fullPage: true });
  expect(errors).toEqual([]);
});
