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
