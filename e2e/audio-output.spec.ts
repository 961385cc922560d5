import { expect, test } from '@playwright/test';
import { contextRate, openDemo, pageErrors } from './util.ts';

/**
 * The page's audio output as the device sees it: an interrupted AudioContext
 * (Chrome's 'interrupted' state, simulated: headless Chromium is never
 * interrupted by the system) is handled like suspension; the context's
 * output latency is folded into the guest's delay(); and the device's jacks
 * follow the machine's audio devices.
 */

test('an interrupted context: resume() says so, the control plane answers, nothing is lost', async ({
  page,
}) => {
  await openDemo(page, '?tap=524288');
  const rate = await contextRate(page);
  const r = await page.evaluate(async (rate) => {
    const sound = window.virtioSound!;
    const ctx = sound.context;
    const states: string[] = [];
    sound.onAudioState((s) => states.push(s));
    const frames = rate * 3;
    const pcm = new Int16Array(frames * 2);
    let x = 0x1234567;
    for (let i = 0; i < pcm.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      pcm[i] = x & 0xffff;
    }
    const expected = pcm.slice();
    const tap = sound.outputTap();
    const chunks: { left: Float32Array; right: Float32Array; firstFrame: number; lost: number }[] =
      [];
    const drain = setInterval(() => chunks.push(tap.take()), 40);
    await sound.driver.playPcm(
      { format: 5, rate, channels: 2, periodFrames: 1024, periods: 8 },
      pcm.buffer,
    );
    while ((await sound.driver.status(0)).hwPtr < rate / 2)
      await new Promise((res) => setTimeout(res, 20));
    // The system interrupts audio: the context stops rendering and reports 'interrupted';
    // while it lasts, resume() rejects (as Chrome's does).
    await ctx.suspend();
    Object.defineProperty(ctx, 'state', { configurable: true, get: () => 'interrupted' });
    const realResume = ctx.resume.bind(ctx);
    ctx.resume = () => Promise.reject(new DOMException('interrupted', 'InvalidStateError'));
    ctx.dispatchEvent(new Event('statechange'));
    const hwBefore = (await sound.driver.status(0)).hwPtr;
    const during = sound.audioState;
    const err = await sound.resume().then(
      () => null,
      (e: { name: string; code: string }) => ({ name: e.name, code: e.code }),
    );
    await sound.setVolume(90); // the control plane still answers
    const volume = await sound.driver.getControl('Master Playback Volume');
    await sound.setVolume(100);
    await new Promise((res) => setTimeout(res, 1000));
    const hwDuring = (await sound.driver.status(0)).hwPtr;
    // The interruption ends.
    delete (ctx as unknown as { state?: string }).state;
    ctx.resume = realResume;
    await sound.resume();
    for (;;) {
      const st = await sound.driver.status(0);
      if (st.state === 'setup' && st.hwPtr === frames) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    await new Promise((res) => setTimeout(res, 100));
    clearInterval(drain);
    chunks.push(tap.take());
    const dev = (await sound.stats()).device.streams[0];
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
    const start = dev.startFrame - first;
    let mismatches = 0;
    for (let f = 0; f < frames; f++) {
      if (L[start + f] !== Math.fround(expected[2 * f] / 32768)) mismatches++;
      if (R[start + f] !== Math.fround(expected[2 * f + 1] / 32768)) mismatches++;
    }
    return {
      states,
      during,
      err,
      volume,
      hwBefore,
      hwDuring,
      after: sound.audioState,
      mismatches,
      lost: chunks.reduce((a, c) => a + c.lost, 0),
      xruns: dev.xruns,
    };
  }, rate);
  console.log(JSON.stringify(r));
  expect(r.during).toBe('interrupted');
  expect(r.states).toContain('interrupted');
  expect(r.err).toEqual({ name: 'VirtioSoundError', code: 'audio-interrupted' });
  expect(r.volume).toEqual([90]);
  expect(r.hwDuring).toBe(r.hwBefore);
  expect(r.after).toBe('running');
  expect(r.lost).toBe(0);
  expect(r.mismatches).toBe(0);
  expect(pageErrors(page)).toEqual([]);
});

test("the output latency is in the guest's delay()", async ({ page }) => {
  await openDemo(page);
  const rate = await contextRate(page);
  const r = await page.evaluate(async (rate) => {
    const sound = window.virtioSound!;
    const ctx = sound.context;
    await sound.playTone({
      format: 5,
      rate,
      channels: 2,
      periodFrames: 480,
      periods: 4,
      frequency: 440,
    });
    while ((await sound.driver.status(0)).periods < 10)
      await new Promise((res) => setTimeout(res, 20));
    // The latency the device has may move between two reads (playbackStats is a running
    // average, updated every second): the delay matches the one before or the one after.
    const before = sound.outputLatency;
    const st = await sound.driver.status(0);
    const after = sound.outputLatency;
    await sound.stop();
    const stats = (ctx as AudioContext & { playbackStats?: { averageLatency: number } })
      .playbackStats;
    return {
      baseLatency: ctx.baseLatency,
      outputLatency: ctx.outputLatency,
      measured: stats?.averageLatency ?? null,
      before,
      after,
      extra: st.delay - (st.applPtr - st.hwPtr),
    };
  }, rate);
  console.log(`output latency in headless Chromium: ${JSON.stringify(r)}`);
  // Until heard: baseLatency + the output's latency, measured where Chromium measures it.
  const output = r.measured && r.measured > 0 ? r.measured : r.outputLatency;
  expect(r.after).toBeCloseTo(r.baseLatency + output, 3);
  // delay() = frames the driver has written and not yet seen played + the frames until heard.
  const frames = (s: number) => Math.floor((Math.round(s * 1e6) * rate) / 1e6);
  expect([frames(r.before), frames(r.after)]).toContain(r.extra);
  expect(pageErrors(page)).toEqual([]);
});

test("the jacks follow the machine's audio devices", async ({ page }) => {
  // Devices are whatever the test says they are (Chromium's fake devices cannot be unplugged).
  await page.addInitScript(() => {
    const md = navigator.mediaDevices;
    const real = md.enumerateDevices.bind(md);
    const w = window as unknown as { fakeDevices?: MediaDeviceInfo[] };
    md.enumerateDevices = () => (w.fakeDevices ? Promise.resolve(w.fakeDevices) : real());
  });
  await openDemo(page);
  const r = await page.evaluate(async () => {
    const sound = window.virtioSound!;
    const events: string[] = [];
    sound.onEvents((es) => {
      for (const e of es) if (e.type === 'jack') events.push(`${e.streamId}:${e.detail}`);
    });
    const w = window as unknown as {
      fakeDevices?: { kind: string; deviceId: string; label: string }[];
    };
    const change = async (list: { kind: string; deviceId: string; label: string }[]) => {
      w.fakeDevices = list;
      navigator.mediaDevices.dispatchEvent(new Event('devicechange'));
      await new Promise((res) => setTimeout(res, 300));
    };
    const outputs = await sound.outputDevices();
    await change([{ kind: 'audioinput', deviceId: 'm', label: 'mic' }]); // speakers unplugged
    await change([]); // and the microphone
    await change([
      { kind: 'audiooutput', deviceId: 'default', label: 'speakers' },
      { kind: 'audioinput', deviceId: 'm', label: 'mic' },
    ]);
    const setSink = await sound.setOutputDevice('').then(
      () => 'ok',
      (e: { code: string }) => e.code,
    );
    return { events, outputs: outputs.length, setSink };
  });
  console.log(JSON.stringify(r));
  expect(r.events).toEqual(['0:disconnected', '1:disconnected', '0:connected', '1:connected']);
  expect(r.setSink).toBe('ok');
  expect(pageErrors(page)).toEqual([]);
});
