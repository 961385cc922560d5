import type { Page } from '@playwright/test';

/**
 * Driving the v86 Linux guest page (src/guest/main.ts) from a test: boot a
 * kernel, type a command into its shell, and parse the `VSND_RESULT {...}`
 * line our ALSA client (guest/tools/vsnd.c) prints at the end of every mode.
 */

/** The guest kernels in public/guest: 6.1 re-queues TX periods before they are written, 6.12 (>= 6.8) only once written (the ack callback). */
export const GUEST_KERNELS = ['6.1', '6.12'] as const;
export type GuestKernel = (typeof GUEST_KERNELS)[number];

/** Opens guest.html?kernel=...&query and waits for the shell prompt; returns the boot time in ms. */
export async function bootGuest(page: Page, kernel: GuestKernel, query = ''): Promise<number> {
  await page.goto(`/guest.html?kernel=${kernel}${query ? `&${query}` : ''}`);
  await page.waitForFunction(() => (window.guest?.bootMs ?? 0) > 0, null, { timeout: 120_000 });
  return page.evaluate(() => window.guest!.bootMs);
}

/** Types `cmd` into the guest's shell and returns what it printed (stdout and stderr). */
export async function runInGuest(page: Page, cmd: string, timeout = 60_000): Promise<string> {
  // The sentinel is split in the command line, so the echo of the command does not match it.
  const mark = `END${Math.floor(Math.random() * 1e6)}`;
  const before = await page.evaluate(() => window.guest!.console.text.length);
  await page.evaluate(
    ([c, m]) => window.guest!.send(`${c}; echo ${m.slice(0, 3)}''${m.slice(3)}`),
    [cmd, mark],
  );
  await page.waitForFunction(
    ([m, from]) => window.guest!.console.text.slice(from as number).includes(`${m}\n`),
    [mark, before],
    { timeout },
  );
  const text = await page.evaluate((from) => window.guest!.console.text.slice(from), before);
  return text.slice(0, text.lastIndexOf(mark));
}

/** What vsnd reports: mode, kernel, rate, channels, format, period, periods, frames, xruns, ... */
export interface VsndResult {
  mode: 'play' | 'capture' | 'latency';
  kernel: string;
  rate: number;
  channels: number;
  format: string;
  period: number;
  periods: number;
  frames: number;
  xruns: number;
  [key: string]: unknown;
}

/** The last `VSND_RESULT {...}` line of `text`. */
export function vsndResult(text: string): VsndResult {
  const lines = text.split(/\r?\n/).filter((l) => l.startsWith('VSND_RESULT '));
  if (lines.length === 0) throw new Error(`no VSND_RESULT in:\n${text}`);
  return JSON.parse(lines[lines.length - 1].slice('VSND_RESULT '.length)) as VsndResult;
}

/** Runs a vsnd command (aplay, arecord, speaker-test, latency) in the guest and parses its result. */
export async function vsnd(
  page: Page,
  cmd: string,
  timeout = 60_000,
): Promise<{ text: string; result: VsndResult }> {
  const text = await runInGuest(page, cmd, timeout);
  return { text, result: vsndResult(text) };
}
