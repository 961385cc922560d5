/**
 * Measurements taken inside the demo page (driver in its Worker, renderer in
 * the AudioWorklet), shared by the browser benchmark and its e2e smoke run.
 */

import type { Page } from '@playwright/test';

export interface Deviation {
  completions: number;
  meanMs: number;
  p99Ms: number;
  worstMs: number;
}

/**
 * Plays a tone for `seconds` and compares each period completion's audio-clock
 * time with the ideal one (the moment the period's last frame is rendered).
 */
export async function completionDeviation(
  page: Page,
  seconds: number,
  periodFrames: number,
): Promise<Deviation> {
  const r = await page.evaluate(
    async ({ seconds, periodFrames }) => {
      const sound = window.virtioSound!;
      const rate = sound.context.sampleRate;
      const log = sound.completionLog();
      const frames: number[] = [];
      const pump = setInterval(() => frames.push(...log.take().map((c) => c.frame)), 100);
      await sound.driver.playTone({
        format: 5,
        rate,
        channels: 2,
        periodFrames,
        periods: 8,
        frequency: 440,
        seconds,
      });
      for (;;) {
        if ((await sound.driver.status(0)).state === 'setup') break;
        await new Promise((res) => setTimeout(res, 100));
      }
      clearInterval(pump);
      frames.push(...log.take().map((c) => c.frame));
      const start = (await sound.stats()).device.streams[0].startFrame;
      return { frames, start, rate, total: Math.round(seconds * rate) };
    },
    { seconds, periodFrames },
  );
  const dev: number[] = [];
  r.frames.forEach((f, i) => {
    const ideal = r.start + Math.min((i + 1) * periodFrames, r.total);
    dev.push(((f - ideal) / r.rate) * 1000);
  });
  const abs = dev.map(Math.abs).sort((a, b) => a - b);
  return {
    completions: r.frames.length,
    meanMs: abs.reduce((a, b) => a + b, 0) / Math.max(1, abs.length),
    p99Ms: abs[Math.floor(abs.length * 0.99)] ?? 0,
    worstMs: abs[abs.length - 1] ?? 0,
  };
}

/** Plays a tone for `seconds` at the given period size; returns the xruns the driver and device saw. */
export async function xrunsAt(
  page: Page,
  seconds: number,
  periodFrames: number,
  periods: number,
): Promise<{ driver: number; device: number; completed: number }> {
  return page.evaluate(
    async ({ seconds, periodFrames, periods }) => {
      const sound = window.virtioSound!;
      const rate = sound.context.sampleRate;
      const before = (await sound.driver.status(0)).xruns;
      let driverXruns = 0;
      sound.onEvents((batch) => {
        driverXruns += batch.filter((e) => e.type === 'xrun').length;
      });
      await sound.driver.playTone({
        format: 5,
        rate,
        channels: 2,
        periodFrames,
        periods,
        frequency: 440,
      });
      // Play until `seconds` of audio time have been rendered since the stream's first frame.
      for (;;) {
        const d = (await sound.stats()).device;
        const s = d.streams[0];
        if (s.startFrame >= 0 && d.frames - s.startFrame >= seconds * rate) break;
        await new Promise((res) => setTimeout(res, 200));
      }
      const dev = (await sound.stats()).device.streams[0];
      const st = await sound.driver.status(0);
      await sound.driver.stop(0);
      return {
        driver: Math.max(driverXruns, st.xruns - before),
        device: dev.xruns,
        completed: dev.completed,
      };
    },
    { seconds, periodFrames, periods },
  );
}
