/**
 * Browser timing (headless Chromium, production build): period completion
 * deviation from the audio clock, and the smallest period size that plays
 * for `seconds` without an xrun, with the driver in its Worker.
 */

import { chromium } from '@playwright/test';
import { completionDeviation, xrunsAt } from './lib/browser-measure.ts';
import { startPreview } from './lib/preview.ts';
import type { Result } from './lib/result.ts';

const PORT = 4174;
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--autoplay-policy=no-user-gesture-required',
];

export async function benchBrowser(opts: {
  deviationSeconds: number;
  glitchSeconds: number;
}): Promise<Result[]> {
  const server = await startPreview(PORT);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
  try {
    const open = async () => {
      const page = await browser.newPage();
      await page.goto(`http://localhost:${PORT}/?rate=48000`);
      await page.waitForFunction(() => window.virtioSound !== undefined);
      return page;
    };
    let page = await open();
    const dev = await completionDeviation(page, opts.deviationSeconds, 480);
    await page.close();
    let smallest = 0;
    const tried: string[] = [];
    for (const period of [128, 256, 512, 1024, 2048]) {
      page = await open();
      // About 40 ms of buffer, and never fewer than 4 periods.
      const periods = Math.max(4, Math.ceil(2048 / period));
      const x = await xrunsAt(page, opts.glitchSeconds, period, periods);
      await page.close();
      tried.push(`${period}x${periods}: ${x.driver} driver / ${x.device} device xruns`);
      if (x.driver === 0 && x.device === 0) {
        smallest = period;
        break;
      }
    }
    return [
      {
        name: 'browser.completion_deviation.mean',
        value: Number(dev.meanMs.toFixed(3)),
        unit: 'ms',
        note: `${dev.completions} completions, 480-frame periods at 48 kHz`,
      },
      {
        name: 'browser.completion_deviation.p99',
        value: Number(dev.p99Ms.toFixed(3)),
        unit: 'ms',
        note: 'vs the instant the period last frame is rendered',
      },
      {
        name: 'browser.completion_deviation.worst',
        value: Number(dev.worstMs.toFixed(3)),
        unit: 'ms',
      },
      {
        name: 'browser.min_glitchfree_period',
        value: smallest,
        unit: 'frames',
        note: `${opts.glitchSeconds} s each: ${tried.join('; ')}`,
      },
    ];
  } finally {
    await browser.close();
    server.stop();
  }
}
