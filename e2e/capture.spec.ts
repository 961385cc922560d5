import { expect, test } from '@playwright/test';
import { contextRate, openDemo, pageErrors } from './util.ts';

/**
 * Capture from Chromium's fake microphone: the driver's readi gets
 * non-silent audio at the requested format and rate, period by period, and
 * hw_ptr accounts for every frame read.
 */
for (const cfg of [
  { name: 'S16 stereo at the context rate', format: 5, channels: 2, rate: 0 },
  { name: 'S16 mono at 16 kHz (resampled)', format: 5, channels: 1, rate: 16000 },
  { name: 'FLOAT stereo at 48 kHz', format: 19, channels: 2, rate: 48000 },
]) {
  test(`capture ${cfg.name}`, async ({ page }) => {
    await openDemo(page);
    const rate = cfg.rate || (await contextRate(page));
    const r = await page.evaluate(
      async ({ format, channels, rate }) => {
        const sound = window.virtioSound!;
        const id = sound.card.streams.find((s) => s.direction === 'capture')!.id;
        const periodFrames = Math.round(rate / 50); // 20 ms periods
        const rec = await sound.record({
          streamId: id,
          format,
          rate,
          channels,
          periodFrames,
          periods: 4,
        });
        // Read for one second of audio, in audio-clock terms.
        for (;;) {
          const st = await sound.driver.status(id);
          if (st.hwPtr >= rate) break;
          await new Promise((res) => setTimeout(res, 50));
        }
        const data = await rec.stop();
        const st = await sound.driver.status(id);
        const frameBytes = channels * (format === 19 ? 4 : 2);
        const frames = data.byteLength / frameBytes;
        let sum = 0;
        let peak = 0;
        if (format === 19) {
          const f = new Float32Array(data);
          for (const v of f) {
            sum += v * v;
            peak = Math.max(peak, Math.abs(v));
          }
        } else {
          const s = new Int16Array(data);
          for (const v of s) {
            const x = v / 32768;
            sum += x * x;
            peak = Math.max(peak, Math.abs(x));
          }
        }
        return {
          bytes: data.byteLength,
          frameBytes,
          frames,
          rms: Math.sqrt(sum / Math.max(1, frames * channels)),
          peak,
          hwPtr: st.hwPtr,
          applPtr: st.applPtr,
          periodFrames,
          xruns: st.xruns,
        };
      },
      { format: cfg.format, channels: cfg.channels, rate },
    );
    console.log(`${cfg.name}: ${JSON.stringify(r)}`);
    expect(r.bytes % r.frameBytes).toBe(0);
    expect(r.frames).toBeGreaterThanOrEqual(rate * 0.9);
    // Everything read was captured by the device first, period by period.
    expect(r.applPtr).toBe(r.frames);
    expect(r.hwPtr).toBeGreaterThanOrEqual(r.applPtr);
    expect(r.peak).toBeGreaterThan(0.01);
    expect(r.rms).toBeGreaterThan(0.001);
    expect(r.xruns).toBe(0);
    expect(pageErrors(page)).toEqual([]);
  });
}
