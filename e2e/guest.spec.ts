import { expect, type Page, test } from '@playwright/test';

/**
 * A real Linux guest in v86 in the page: its virtio_snd driver finds our
 * device, `aplay` plays a known WAV that comes out of our AudioWorklet
 * bit-exact, and `arecord` records the fake microphone.
 */

async function run(page: Page, cmd: string, timeout = 60_000): Promise<string> {
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
    {
      timeout,
    },
  );
  const text = await page.evaluate((from) => window.guest!.console.text.slice(from), before);
  return text.slice(0, text.lastIndexOf(mark));
}

test('Linux in v86 plays and records through the device', async ({ page }) => {
  test.setTimeout(180_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/guest.html?rate=48000&mic=1&tap=1048576');
  await page.waitForFunction(() => (window.guest?.bootMs ?? 0) > 0, null, { timeout: 120_000 });
  const bootMs = await page.evaluate(() => window.guest!.bootMs);
  console.log(`guest booted in ${(bootMs / 1000).toFixed(1)} s`);

  const cards = await run(page, 'cat /proc/asound/cards');
  expect(cards).toContain('VirtIO SoundCard at platform/virtio-mmio.0/virtio0');

  // aplay: capture what the worklet renders and compare with the WAV's samples.
  await page.evaluate(() => {
    const g = window.guest as unknown as {
      chunks: unknown[];
      pump: ReturnType<typeof setInterval>;
    };
    const tap = window.guest!.outputTap();
    g.chunks = [];
    g.pump = setInterval(() => g.chunks.push(tap.take()), 40);
  });
  const played = await run(page, 'aplay /test.wav');
  expect(played).toContain("Playing WAVE '/test.wav'");
  expect(played).not.toMatch(/underrun|error/i);
  const r = await page.evaluate(async () => {
    const g = window.guest as unknown as {
      chunks: { left: Float32Array; right: Float32Array; firstFrame: number; lost: number }[];
      pump: ReturnType<typeof setInterval>;
    };
    await new Promise((res) => setTimeout(res, 200));
    clearInterval(g.pump);
    const wav = new DataView(await (await fetch('/guest/test.wav')).arrayBuffer());
    const frames = (wav.byteLength - 44) / 4;
    const chunks = g.chunks;
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
    const stats = window.guest!.sound!.device.inner.stats();
    const start = stats.streams[0].startFrame - first;
    let mismatches = 0;
    for (let f = 0; f < frames; f++) {
      if (L[start + f] !== wav.getInt16(44 + 4 * f, true) / 32768) mismatches++;
      if (R[start + f] !== wav.getInt16(46 + 4 * f, true) / 32768) mismatches++;
    }
    return {
      frames,
      mismatches,
      lost: chunks.reduce((a, c) => a + c.lost, 0),
      start,
      total,
      xruns: stats.streams[0].xruns,
      relayedMessages: window.guest!.sound!.device.stats().messagesRelayed,
      heldPeak: window.guest!.sound!.device.stats().heldMessagesPeak,
    };
  });
  console.log(`aplay through the guest: ${JSON.stringify(r)}`);
  expect(r.xruns, 'the guest underran: the machine could not run it in real time').toBe(0);
  expect(r.lost).toBe(0);
  expect(r.start).toBeGreaterThanOrEqual(0);
  expect(r.start + r.frames).toBeLessThanOrEqual(r.total);
  expect(r.mismatches).toBe(0);
  // This kernel (6.1) re-queues each period before aplay refills it: the relay held them back.
  expect(r.heldPeak).toBeGreaterThan(0);

  // arecord from Chromium's fake microphone.
  const rec = await run(page, 'arecord -d 1 /tmp/r.wav; ls -l /tmp/r.wav');
  const m = rec.match(/captured (\d+) frames: peak (\d+) rms ([\d.]+)/);
  expect(m).not.toBeNull();
  expect(Number(m![1])).toBe(48000);
  expect(Number(m![3])).toBeGreaterThan(100);
  expect(rec).toContain('192044'); // 44-byte header + 1 s of S16 stereo
  const dmesg = await run(page, 'dmesg | tail -n 20');
  expect(dmesg).not.toContain('failed to flush');
  expect(errors).toEqual([]);
});
