/**
 * The driver in a real worker_threads Worker (with the device control plane,
 * as in the browser) and the renderer on this thread, over one
 * SharedArrayBuffer: 60 s of audio with no loss, no duplication, no xrun,
 * bit-exact. The renderer runs at 5x real time: fast, but paced like an
 * audio clock, so the driver must keep up through real cross-thread wake-ups
 * (8 periods of 1024 frames: 34 ms of buffer at that speed, enough for a loaded 2-core machine).
 */
import { describe, expect, it } from 'vitest';
import { PcmRenderer } from '../../src/device/render/pcm-renderer.ts';
import { SharedState } from '../../src/device/shared/layout.ts';
import type { RenderState } from '../../src/device/shared/render-state.ts';
import { startTsWorker } from '../helpers/ts-worker.ts';
import { prbsFrame } from './signal.ts';

const SECONDS = Number(process.env.WORKER_SECONDS ?? 60);
const SPEED = 5;
const QUANTUM = 128;

describe('driver Worker + renderer thread', () => {
  it(`plays ${SECONDS} s bit-exact with no xrun`, async () => {
    const memory = new SharedArrayBuffer(8 << 20);
    const w = startTsWorker(new URL('./worker-driver.worker.ts', import.meta.url), {
      memory,
      seconds: SECONDS,
      periodFrames: 1024,
      periods: 8,
    });
    const messages: {
      renderState?: RenderState;
      done?: boolean;
      xruns?: number;
      hwPtr?: number;
    }[] = [];
    w.on('message', (m) => messages.push(m));
    let workerError: unknown = null;
    const failed = new Promise<never>((_, rej) =>
      w.once('error', (e) => {
        workerError = e;
        rej(e);
      }),
    );
    while (!messages[0]) await Promise.race([new Promise((r) => setTimeout(r, 5)), failed]);
    const renderState = messages[0].renderState!;
    const renderer = new PcmRenderer(renderState);
    const s = new SharedState(renderState.shared, renderState.layout);
    const out = [[new Float32Array(QUANTUM), new Float32Array(QUANTUM)]];
    const quantumMs = (QUANTUM / 48000 / SPEED) * 1000;
    const total = SECONDS * 48000;
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    let mismatches = 0;
    let checked = 0;
    const t0 = performance.now();
    let late = 0;
    for (let q = 0; !messages[1]; q++) {
      // Pace: never ahead of (SPEED x) real time; yield so worker messages arrive.
      // When this thread itself was held up (a loaded machine), do not catch up in a
      // burst faster than any audio clock: an audio thread that misses its deadline
      // glitches, it does not play the missed time at once.
      const due = t0 + late + q * quantumMs;
      const wait = due - performance.now();
      if (wait > 0) Atomics.wait(sleeper, 0, 0, wait);
      else if (wait < -2 * quantumMs) late -= wait;
      if ((q & 63) === 0) await new Promise((r) => setImmediate(r));
      renderer.process([[]], out);
      const start = s.streams[0].startFrame;
      if (start < 0) continue;
      for (let i = 0; i < QUANTUM; i++) {
        const f = q * QUANTUM + i - start;
        if (f < 0) continue;
        if (f < total) {
          const [l, r] = prbsFrame(f);
          if (out[0][0][i] !== l / 32768 || out[0][1][i] !== r / 32768) mismatches++;
          checked++;
        } else if (out[0][0][i] !== 0 || out[0][1][i] !== 0) {
          mismatches++; // nothing after the end: no duplication
        }
      }
      if (workerError) throw workerError;
      if (performance.now() - t0 > 60_000) throw new Error('timed out');
    }
    const done = messages[1];
    await w.terminate();
    expect(done.xruns).toBe(0);
    expect(done.hwPtr).toBe(total);
    expect(checked).toBe(total);
    expect(mismatches).toBe(0);
    expect(s.streams[0].startFrame).toBeGreaterThanOrEqual(0);
  }, 90_000);
});
