import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, type Page, test } from '@playwright/test';
import { screenshotPath } from './util.ts';

/**
 * The built pages served the way a plain static file server serves them:
 * without Cross-Origin-Opener-Policy / Cross-Origin-Embedder-Policy, so the
 * page is not cross-origin isolated and has no SharedArrayBuffer. Both pages
 * must say so (with the error code and the fix) and disable their controls,
 * not leave them live over empty menus and spinning pills.
 */

const DIST = fileURLToPath(new URL('../site/', import.meta.url));
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.wav': 'audio/wav',
};

let server: Server;
let origin = '';

test.beforeAll(async () => {
  // The webServer of playwright.config.ts has built the site (site/) before any test runs.
  server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const rel = normalize(decodeURIComponent(url.pathname)).replace(/^([/\\])+/, '');
    const file = join(DIST, rel === '' ? 'index.html' : rel);
    if (!file.startsWith(DIST) || !(await stat(file).catch(() => null))?.isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://localhost:${(server.address() as AddressInfo).port}`;
});

test.afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

async function expectProblem(page: Page): Promise<string> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const panel = page.locator('#problem');
  await expect(panel).toBeVisible();
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
  // Chromium hides SharedArrayBuffer from a page that is not isolated: that is the first check.
  const code = (await page.locator('#problem-code').textContent()) ?? '';
  expect(['no-shared-array-buffer', 'not-cross-origin-isolated']).toContain(code);
  await expect(panel).toContainText('not cross-origin isolated');
  await expect(panel).toContainText('npm start');
  await expect(panel).toContainText('npm run preview');
  await expect(panel).toContainText('Cross-Origin-Opener-Policy: same-origin');
  await expect(panel).toContainText('Cross-Origin-Embedder-Policy: require-corp');
  // Every control in the page's main part is disabled; the pills say what is wrong.
  const live = await page
    .locator('main')
    .locator('button:enabled, input:enabled, select:enabled')
    .count();
  expect(live).toBe(0);
  expect(await page.locator('main button').count()).toBeGreaterThan(3);
  await expect(page.locator('#pill-card')).toHaveText('no card');
  await expect(page.locator('#pill-audio')).toHaveText('no audio');
  // The page links still work: the nav is not part of what gets disabled.
  await expect(page.locator('nav.pages a')).toHaveCount(2);
  expect(errors).toEqual([]);
  return code;
}

test('the demo, served without COOP/COEP, explains the problem and disables its controls', async ({
  page,
}) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${origin}/`);
  await expectProblem(page);
  await expect(page.locator('#pill-isolated')).toHaveText('not isolated');
  await expect(page.locator('#drop')).toHaveAttribute('aria-disabled', 'true');
  expect(await page.evaluate(() => window.virtioSound)).toBeUndefined();
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(
    true,
  );
  await page.screenshot({ path: screenshotPath('demo-not-isolated-phone.png'), fullPage: true });
});

test('the guest page, served without COOP/COEP, shows the code and does not boot', async ({
  page,
}) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${origin}/guest.html`);
  const code = await expectProblem(page);
  await expect(page.locator('#pill-boot')).toHaveText('not booted');
  await expect(page.locator('#boot .boot-stage')).toContainText(`Cannot boot: ${code}`);
  await expect(page.locator('#boot li.failed')).toHaveCount(0);
  expect(await page.evaluate(() => window.guest)).toBeUndefined();
  await page.screenshot({ path: screenshotPath('guest-not-isolated-desktop.png') });
});
