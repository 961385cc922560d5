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

/** The test ramp of guest/tools/vsnd.c (`speaker-test -t ramp`, `arecord -V ramp`): channel c of frame f, in S16 steps. */
export function rampValue(frame: number, channel: number): number {
  return (frame % 32768) - 16384 + 2048 * channel;
}

/**
 * What the page recorded while a stream played: the device's output tap and
 * the device's xruns (see startRecording).
 */
interface Recorder {
  tap: ReturnType<NonNullable<Window['guest']>['outputTap']>;
  chunks: { left: Float32Array; right: Float32Array; firstFrame: number; lost: number }[];
  /** Per inner stream: its position (frames) when each of its xruns was seen. */
  xrunsAt: number[][];
  timer: ReturnType<typeof setInterval>;
}

/**
 * Starts recording in the page what the device renders (its output tap) and
 * where each device stream was at each of its xruns, until finishPlayback or
 * finishRecording.
 */
export async function startRecording(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { vsndRec?: Recorder };
    if (w.vsndRec) clearInterval(w.vsndRec.timer);
    const inner = window.guest!.sound!.device.inner;
    const rec: Recorder = {
      tap: window.guest!.outputTap(),
      chunks: [],
      xrunsAt: inner.stats().streams.map(() => []),
      timer: 0 as unknown as ReturnType<typeof setInterval>,
    };
    let seen = inner.stats().streams.map((s) => s.xruns);
    const pump = () => {
      rec.chunks.push(rec.tap.take());
      const streams = inner.stats().streams;
      streams.forEach((s, i) => {
        for (; seen[i] < s.xruns; seen[i]++) rec.xrunsAt[i].push(s.frames);
      });
      seen = streams.map((s, i) => Math.max(seen[i], s.xruns));
    };
    rec.timer = setInterval(pump, 40);
    w.vsndRec = rec;
  });
}

/** What the device did with a stream while recording (see finishRecording). */
export interface StreamReport {
  /** Frames the device played or captured since the stream's last PREPARE. */
  frames: number;
  xruns: number;
  /** The stream's position when each xrun (during the recording) was seen. */
  xrunsAt: number[];
}

/** Stops recording and reports the device's streams (for a capture). */
export async function finishRecording(page: Page): Promise<StreamReport[]> {
  return page.evaluate(() => {
    const rec = (window as unknown as { vsndRec: Recorder }).vsndRec;
    clearInterval(rec.timer);
    return window.guest!.sound!.device.inner.stats().streams.map((s, i) => ({
      frames: s.frames,
      xruns: s.xruns,
      xrunsAt: rec.xrunsAt[i],
    }));
  });
}

/** What the guest played, to compare with what the device rendered (finishPlayback). */
export interface PlayedSource {
  /** The test ramp from frame 0, or /guest/test.wav (S16 stereo). */
  source: 'ramp' | 'wav';
  rate: number;
  channels: number;
  /** Frames the guest played (vsnd's `frames`), and the silence it padded the last period with. */
  frames: number;
  padded: number;
}

/** How what the device rendered compares with what the guest played. */
export interface PlaybackReport extends StreamReport {
  /** The stream's first frame in the output (tap frames since the recording started). */
  start: number;
  /** Tap frames recorded, and frames lost (overwritten before the page read them). */
  total: number;
  lost: number;
  /**
   * Same rate: samples that differ from what the guest played (bit-exact: 0),
   * padding included. Resampled: frames whose step or channel offset is off
   * (the ramp rises rate/contextRate steps a frame), away from its wraps.
   */
  mismatches: number;
  /** The first such frame (from the stream's start), or -1. */
  firstMismatch: number;
  /** Resampled: output frames checked. */
  checked: number;
  /** Frames rendered past the end of the stream that are not silence (a guest playing stale periods). */
  afterEndNonSilent: number;
  /** The relay's counters. */
  relay: { messagesRelayed: number; heldMessagesPeak: number; txModes: string[] };
}

/**
 * Stops recording and compares the device's output with what the guest
 * played. At the context rate the comparison is sample by sample from the
 * stream's first rendered frame (the device's startFrame); resampled, each
 * output frame must be the ramp's step above the frame a ratio's numerator
 * earlier (e.g. 147 S16 steps 160 frames on, 44.1 to 48 kHz) to 1/64 of a
 * step, the channels 2048 apart, except within 64 frames of the start, the
 * ramp's end or one of its wraps (where the band-limited resampler rings);
 * the silence the guest padded its last period with is not a ramp.
 */
export async function finishPlayback(page: Page, played: PlayedSource): Promise<PlaybackReport> {
  return page.evaluate(async (p) => {
    const rec = (window as unknown as { vsndRec: Recorder }).vsndRec;
    await new Promise((r) => setTimeout(r, 200));
    clearInterval(rec.timer);
    rec.chunks.push(rec.tap.take());
    const g = window.guest!;
    const ctxRate = g.context.sampleRate;
    const stats = g.sound!.device.inner.stats().streams[0];
    const relay = g.sound!.device.stats();
    const chunks = rec.chunks;
    const first = chunks[0].firstFrame;
    const total = chunks.reduce((a, c) => a + c.left.length, 0);
    const L = new Float32Array(total);
    const R = new Float32Array(total);
    let off = 0;
    for (const c of chunks) {
      L.set(c.left, off);
      R.set(c.right, off);
      off += c.left.length;
    }
    const start = (stats.startFrame - first) | 0;
    const ramp = (f: number, c: number) => (f % 32768) - 16384 + 2048 * c;
    let wav: DataView | null = null;
    if (p.source === 'wav')
      wav = new DataView(await (await fetch('/guest/test.wav')).arrayBuffer());
    // S16 value of channel c (0, 1) of frame f as the guest played it; mono plays on both sides.
    const expected = (f: number, c: number): number => {
      const ch = p.channels === 1 ? 0 : c;
      if (f >= p.frames) return 0; // the padding
      if (wav) return wav.getInt16(44 + 4 * f + 2 * ch, true);
      return ramp(f, ch);
    };
    let mismatches = 0;
    let firstMismatch = -1;
    let checked = 0;
    let end: number;
    if (p.rate === ctxRate) {
      end = p.frames + p.padded;
      for (let f = 0; f < end; f++) {
        const at = start + f;
        const ok =
          at >= 0 &&
          at < total &&
          L[at] === expected(f, 0) / 32768 &&
          R[at] === expected(f, 1) / 32768;
        if (!ok) {
          mismatches++;
          if (firstMismatch < 0) firstMismatch = f;
        }
      }
    } else {
      // Resampled ramp: frame n + w is `step` steps above frame n (w/step = ctxRate/rate reduced).
      const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
      const d = gcd(ctxRate, p.rate);
      const w = ctxRate / d;
      const step = p.rate / d;
      end = Math.floor(((p.frames + p.padded) * ctxRate) / p.rate);
      const guard = 64;
      const tol = 1 / 64;
      let wrap = -guard - 1;
      let scan = start + 1;
      // The ramp's own frames: the padding after them is silence, not a ramp.
      const rampEnd = Math.floor((p.frames * ctxRate) / p.rate);
      for (let n = start + guard; n + w < start + rampEnd - guard; n++) {
        for (; scan < total && scan <= n + w + guard; scan++)
          if (L[scan] - L[scan - 1] < -0.25) wrap = scan;
        if (wrap + guard >= n) continue;
        checked++;
        const bad =
          n < 0 ||
          n + w >= total ||
          Math.abs((L[n + w] - L[n]) * 32768 - step) > tol ||
          Math.abs((R[n + w] - R[n]) * 32768 - step) > tol ||
          Math.abs((R[n] - L[n]) * 32768 - (p.channels === 1 ? 0 : 2048)) > tol;
        if (bad) {
          mismatches++;
          if (firstMismatch < 0) firstMismatch = n - start;
        }
      }
    }
    let afterEndNonSilent = 0;
    for (let at = Math.max(0, start + end); at < total; at++)
      if (L[at] !== 0 || R[at] !== 0) afterEndNonSilent++;
    return {
      start,
      total,
      lost: chunks.reduce((a, c) => a + c.lost, 0),
      mismatches,
      firstMismatch,
      checked,
      afterEndNonSilent,
      frames: stats.frames,
      xruns: stats.xruns,
      xrunsAt: rec.xrunsAt[0],
      relay: {
        messagesRelayed: relay.messagesRelayed,
        heldMessagesPeak: relay.heldMessagesPeak,
        txModes: relay.txModes,
      },
    };
  }, played);
}
