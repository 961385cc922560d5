/**
 * Real Linux guests in v86 (headless Chromium, production build), per kernel:
 *
 * - guest.roundtrip_ms.<kernel>.<period>x<periods>: the round trip measured
 *   inside the guest, as jack_iodelay does. The page routes the device's
 *   output back into its input (guest.html?loopback=1); `latency` in the
 *   guest (guest/tools/vsnd.c) plays an impulse on linked playback and
 *   capture streams and reports the audio-clock frames from its write of
 *   the impulse to its read of it (roundtrip_frames: how far ahead of the
 *   playback position it wrote it, plus the loop, plus how long the captured
 *   frame waited to be read).
 * - guest.longplay_xruns.<kernel>.256x3: `speaker-test` at 3 x 256-frame
 *   periods for `longPlaySeconds`; guest xruns (EPIPE) plus stalls plus the
 *   device's xruns before the end of the stream (0: no gap).
 *
 * The relay's own cost per period is relay.bench.ts (relay.cost_per_period).
 */

import { type Browser, chromium, type Page } from '@playwright/test';
import { bootGuest, GUEST_KERNELS, type GuestKernel, vsnd } from '../e2e/guest-util.ts';
import { CHROMIUM_ARGS } from './browser.bench.ts';
import { startPreview } from './lib/preview.ts';
import type { Result } from './lib/result.ts';

const PORT = 4175;

/** Period shapes measured: [frames, periods]. */
const SHAPES: readonly [number, number][] = [
  [256, 3],
  [480, 3],
  [1024, 4],
];

/**
 * Boots a guest and plays and records a second, unmeasured: v86 compiles the
 * guest's code the first time it runs and runs it too slowly until then (the
 * first play of a fresh boot can run dry; e2e/guest-matrix.spec.ts).
 */
async function openGuest(browser: Browser, kernel: GuestKernel, query: string): Promise<Page> {
  const page = await browser.newPage({ baseURL: `http://localhost:${PORT}` });
  await bootGuest(page, kernel, query);
  await vsnd(page, 'speaker-test -t ramp -s 1 -p 4096 -n 4');
  await vsnd(page, 'arecord -d 1 -p 4096 -n 4 /tmp/r.wav');
  return page;
}

/** Round trips of one kernel, one row per shape (the median of `tries` measurements). */
async function roundTrips(browser: Browser, kernel: GuestKernel, tries: number): Promise<Result[]> {
  const page = await openGuest(browser, kernel, 'rate=48000&loopback=1');
  const out: Result[] = [];
  try {
    for (const [period, periods] of SHAPES) {
      const runs: { ms: number; parts: string }[] = [];
      let failed = '';
      for (let i = 0; i < tries; i++) {
        const { result: r } = await vsnd(page, `latency -p ${period} -n ${periods} -t 3`, 90_000);
        const ms = r.roundtrip_ms as number;
        if (r.ok && ms >= 0) {
          runs.push({
            ms,
            parts: `written ${r.write_ahead} ahead + loop ${r.frames} + read ${r.read_lag} later`,
          });
        } else failed = String(r.failed ?? 'no round trip');
      }
      runs.sort((a, b) => a.ms - b.ms);
      const median = runs.length > 0 ? runs[Math.floor(runs.length / 2)] : null;
      out.push({
        name: `guest.roundtrip_ms.${kernel}.${period}x${periods}`,
        value: median ? Number(median.ms.toFixed(2)) : -1,
        unit: 'ms',
        note: `median of ${runs.length}/${tries} (${runs.map((m) => m.ms.toFixed(1)).join(', ')})${median ? `; its frames: ${median.parts}` : ''}${failed ? `; failed: ${failed}` : ''}; write to read in the guest, output looped back`,
      });
    }
  } finally {
    await page.close();
  }
  return out;
}

/** A long speaker-test at 3 x 256 frames: guest xruns + stalls + device xruns before the end. */
async function longPlay(browser: Browser, kernel: GuestKernel, seconds: number): Promise<Result> {
  const page = await openGuest(browser, kernel, 'rate=48000');
  try {
    await page.evaluate(() => {
      const inner = window.guest!.sound!.device.inner;
      const w = window as unknown as { longXruns: number[]; longTimer: number };
      w.longXruns = [];
      let seen = inner.stats().streams[0].xruns;
      w.longTimer = window.setInterval(() => {
        const s = inner.stats().streams[0];
        for (; seen < s.xruns; seen++) w.longXruns.push(s.frames);
      }, 20);
    });
    const { result } = await vsnd(
      page,
      `speaker-test -t ramp -p 256 -n 3 -s ${seconds}`,
      (seconds + 60) * 1000,
    );
    const device = await page.evaluate(() => {
      const w = window as unknown as { longXruns: number[]; longTimer: number };
      clearInterval(w.longTimer);
      return w.longXruns;
    });
    const end = result.frames + (result.padded as number);
    const mid = device.filter((f) => f < end);
    const deviceMid = mid.length;
    const when =
      mid.length > 0
        ? ` (first at ${(mid[0] / 48000).toFixed(1)} s, last at ${(mid[mid.length - 1] / 48000).toFixed(1)} s)`
        : '';
    const guest = result.xruns + (result.stalls as number);
    return {
      name: `guest.longplay_xruns.${kernel}.256x3`,
      value: result.ok ? guest + deviceMid : -1,
      unit: 'xruns',
      note: `${seconds} s of speaker-test at 3 x 256 frames: ${result.xruns} guest xruns, ${result.stalls} stalls, ${deviceMid} device xruns mid-stream${when}; wall ${((result.wall_ms as number) / 1000).toFixed(1)} s${result.ok ? '' : `; failed: ${result.failed}`}`,
    };
  } finally {
    await page.close();
  }
}

export async function benchGuest(opts: {
  kernels?: readonly GuestKernel[];
  tries: number;
  longPlaySeconds: number;
}): Promise<Result[]> {
  const server = await startPreview(PORT);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
  const out: Result[] = [];
  try {
    for (const kernel of opts.kernels ?? GUEST_KERNELS) {
      out.push(...(await roundTrips(browser, kernel, opts.tries)));
    }
    if (opts.longPlaySeconds > 0) out.push(await longPlay(browser, '6.12', opts.longPlaySeconds));
  } finally {
    await browser.close();
    server.stop();
  }
  return out;
}
