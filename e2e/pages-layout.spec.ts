import { expect, type Page, test } from '@playwright/test';
import { openDemo, overflowsX, pageErrors, screenshotPath } from './util.ts';

/**
 * The pages a first visitor sees, at a phone's width (390 x 844) and a
 * desktop's (1280 x 800): nothing scrolls sideways, the stream table's
 * header cells do not run into each other, the input meter moves while
 * recording, the audio state is shown with a way to resume, and the guest
 * page shows its boot progress. Screenshots go to test-results/screenshots/
 * (docs/screenshots/ with UPDATE_SCREENSHOTS=1).
 */

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

interface Box {
  text: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Visible header cells of the stream table (column and row headers) and how wide it is. */
async function tableLayout(page: Page) {
  return page.evaluate(() => {
    const table = document.getElementById('stats-table') as HTMLTableElement;
    const wrap = table.parentElement as HTMLElement;
    const boxes = [...table.querySelectorAll('th')]
      .map((th) => {
        const r = th.getBoundingClientRect();
        return { text: th.textContent ?? '', x: r.x, y: r.y, w: r.width, h: r.height };
      })
      .filter((b) => b.w > 0 && b.h > 0);
    return {
      boxes,
      transposed: table.classList.contains('transposed'),
      tableWidth: table.scrollWidth,
      wrapWidth: wrap.clientWidth,
    };
  });
}

/** Pairs of header cells whose boxes intersect (a pixel of slack for rounding). */
function overlaps(boxes: Box[]): string[] {
  const bad: string[] = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i];
      const b = boxes[j];
      const ox = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
      const oy = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
      if (ox > 1 && oy > 1) bad.push(`${a.text} / ${b.text}`);
    }
  }
  return bad;
}

/** Also no header's text may spill past its own cell (headers "running together"). */
async function headerTextFits(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('#stats-table th')]
      .filter((th) => (th as HTMLElement).scrollWidth > (th as HTMLElement).clientWidth + 1)
      .map((th) => th.textContent ?? ''),
  );
}

test('the demo fits a phone and a desktop, with a live input meter', async ({ page }) => {
  await page.setViewportSize(PHONE);
  await openDemo(page);
  await expect(page.locator('nav.pages a[aria-current="page"]')).toHaveText('Device demo');
  await expect(page.locator('nav.pages a[href="./guest.html"]')).toHaveText('Linux guest');
  await page.click('#tone-play');
  await expect(page.locator('#in-level')).toHaveText('not recording');
  await page.click('#rec-start');
  await expect(page.locator('#stats-body')).toContainText('running');
  // Chromium's fake microphone beeps now and then: the meter catches a beep.
  await expect(page.locator('#in-meter')).not.toHaveClass(/idle/);
  await expect(page.locator('#in-level')).toHaveText(/dBFS/, { timeout: 15_000 });
  expect(await page.locator('#in-meter-value').getAttribute('aria-valuetext')).toMatch(
    /dBFS|silence/,
  );
  await expect(page.locator('#ticker')).toHaveAttribute('aria-label', /Period completions/);
  await expect(page.locator('#ticker-label')).toBeVisible();
  await expect(page.locator('#rec-wave-label')).toBeVisible();

  // Phone: no sideways scrolling, the table is transposed and needs no scrolling of its own.
  expect(await overflowsX(page)).toBe(false);
  let t = await tableLayout(page);
  expect(t.transposed).toBe(true);
  expect(t.boxes.length).toBeGreaterThanOrEqual(8);
  expect(overlaps(t.boxes)).toEqual([]);
  expect(await headerTextFits(page)).toEqual([]);
  expect(t.tableWidth).toBeLessThanOrEqual(t.wrapWidth);
  await page.screenshot({ path: screenshotPath('demo-phone.png'), fullPage: true });

  // Desktop: the same page, wide again (the table goes back to a row per stream).
  await page.setViewportSize(DESKTOP);
  await page.evaluate(() => window.scrollTo(0, 0));
  await expect(page.locator('#stats-table')).not.toHaveClass(/transposed/);
  await expect(page.locator('#stats-table thead th')).toHaveCount(8);
  expect(await overflowsX(page)).toBe(false);
  t = await tableLayout(page);
  expect(overlaps(t.boxes)).toEqual([]);
  expect(await headerTextFits(page)).toEqual([]);
  await page.screenshot({ path: screenshotPath('demo-desktop.png'), fullPage: true });

  await page.click('#rec-stop');
  await expect(page.locator('#rec-wave')).toHaveAttribute('aria-label', /Recorded waveform: \d/);
  await expect(page.locator('#in-level')).toHaveText('not recording');
  expect(pageErrors(page)).toEqual([]);
});

test('the audio state shows suspended and interrupted, with a resume button', async ({ page }) => {
  await page.setViewportSize(DESKTOP);
  await openDemo(page, '?suspend=1');
  const pill = page.locator('#pill-audio');
  const button = page.locator('#audio-resume');
  await expect(pill).toHaveText('audio suspended');
  await expect(button).toBeVisible();
  await expect(button).toHaveText('▶ Start audio');
  await button.click();
  await expect(pill).toHaveText(/^audio running · \d+ Hz$/);
  await expect(button).toBeHidden();

  // Chrome's 'interrupted' state, where resume() can reject: fake both on this context.
  await page.evaluate(() => {
    const ctx = window.virtioSound!.context;
    Object.defineProperty(ctx, 'state', { configurable: true, get: () => 'interrupted' });
    ctx.resume = () => Promise.reject(new DOMException('the device is busy', 'InvalidStateError'));
    ctx.dispatchEvent(new Event('statechange'));
  });
  await expect(pill).toHaveText('audio interrupted');
  await expect(page.locator('#banner')).toContainText('interrupted');
  await expect(button).toHaveText('▶ Resume audio');
  await button.click();
  await expect(page.locator('#audio-note')).toHaveText(
    'Could not resume audio (InvalidStateError: the device is busy; audio stays interrupted)',
  );
  await page.evaluate(() => {
    const ctx = window.virtioSound!.context;
    delete (ctx as { state?: unknown }).state;
    delete (ctx as { resume?: unknown }).resume;
    ctx.dispatchEvent(new Event('statechange'));
  });
  await expect(pill).toHaveText(/^audio running/);
  await expect(button).toBeHidden();
  await expect(page.locator('#audio-note')).toHaveText('');
  expect(pageErrors(page)).toEqual([]);
});

test('the guest page shows its boot progress and fits a phone', async ({ page }) => {
  test.setTimeout(150_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize(PHONE);
  await page.goto('/guest.html?rate=48000');
  await expect(page.locator('nav.pages a[aria-current="page"]')).toHaveText('Linux guest');
  // The progress card is up from the start; the images arrive, then the BIOS runs.
  const boot = page.locator('#boot');
  await expect(boot).toBeVisible();
  await expect(boot.locator('li[data-step="images"]')).toHaveClass(/done/);
  await expect(boot.locator('.boot-bytes')).toHaveText(/MB/);
  await expect(boot.locator('li[data-step="kernel"]')).toHaveClass(/active|done/, {
    timeout: 60_000,
  });
  expect(await overflowsX(page)).toBe(false);
  await page.screenshot({ path: screenshotPath('guest-boot-phone.png') });

  await page.waitForFunction(() => (window.guest?.bootMs ?? 0) > 0, null, { timeout: 120_000 });
  await expect(boot).toBeHidden();
  const reached = await page.evaluate(() => window.guest!.boot!.reached);
  const order = ['images', 'bios', 'kernel', 'driver', 'ready'] as const;
  for (let i = 1; i < order.length; i++) {
    expect(reached[order[i]], order[i]).toBeGreaterThanOrEqual(reached[order[i - 1]] ?? Infinity);
  }
  // A command typed in the command box (a phone cannot type into the console itself); the
  // console wraps its output inside the screen.
  await page.fill('#cmd', 'cat /proc/asound/cards /proc/asound/pcm');
  await page.press('#cmd', 'Enter');
  await expect(page.locator('#cmd')).toHaveValue('');
  await page.waitForFunction(() => window.guest!.console.text.includes('VirtIO SoundCard at'));
  await page.waitForTimeout(300);
  expect(await overflowsX(page)).toBe(false);
  expect(
    await page.evaluate(() => {
      const c = document.getElementById('console') as HTMLElement;
      return c.scrollWidth <= c.clientWidth && c.getBoundingClientRect().right <= innerWidth;
    }),
  ).toBe(true);
  await page.screenshot({ path: screenshotPath('guest-phone.png'), fullPage: true });

  // Desktop, while aplay plays (the scope shows it).
  await page.setViewportSize(DESKTOP);
  await page.evaluate(() => window.scrollTo(0, 0));
  expect(await overflowsX(page)).toBe(false);
  // (Only for the picture: e2e/guest.spec.ts checks what aplay plays.)
  await page.click('button[data-cmd="aplay /test.wav"]');
  await page.waitForFunction(() => window.guest!.console.text.includes("Playing WAVE '/test.wav'"));
  await page.waitForTimeout(700);
  await page.screenshot({ path: screenshotPath('guest-desktop.png') });
  expect(errors).toEqual([]);
});
