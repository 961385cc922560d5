import { expect, test } from '@playwright/test';
import { completionDeviation, xrunsAt } from '../bench/lib/browser-measure.ts';
import { openDemo } from './util.ts';

/** Keeps the browser benchmark's measurements working (tiny sizes; the numbers are not asserted). */
test('browser benchmark measurements run', async ({ page }) => {
  await openDemo(page, '?rate=48000');
  const dev = await completionDeviation(page, 1, 480);
  expect(dev.completions).toBe(100);
  const x = await xrunsAt(page, 1, 1024, 4);
  expect(x.completed).toBeGreaterThan(0);
});
