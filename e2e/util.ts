import { fileURLToPath } from 'node:url';
import { expect, type Page } from '@playwright/test';

/** Opens the demo with URL options and waits for the card to be probed. */
export async function openDemo(page: Page, query = ''): Promise<void> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  (page as Page & { errors?: string[] }).errors = errors;
  await page.goto(`/${query}`);
  await page.waitForFunction(() => window.virtioSound !== undefined);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
}

export function pageErrors(page: Page): string[] {
  return (page as Page & { errors?: string[] }).errors ?? [];
}

/** The stream rate to use for bit-exact tests: the context's own rate. */
export async function contextRate(page: Page): Promise<number> {
  return page.evaluate(() => window.virtioSound!.context.sampleRate);
}

/**
 * Where a page screenshot goes: test-results/screenshots/ on an ordinary run, so tests do not
 * rewrite tracked files; docs/screenshots/ (committed) with UPDATE_SCREENSHOTS=1.
 */
export function screenshotPath(name: string): string {
  const dir =
    process.env.UPDATE_SCREENSHOTS === '1' ? 'docs/screenshots' : 'test-results/screenshots';
  return fileURLToPath(new URL(`../${dir}/${name}`, import.meta.url));
}

/** Whether the page scrolls sideways (wider content than the viewport). */
export async function overflowsX(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
}
