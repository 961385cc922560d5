import { expect, test } from '@playwright/test';
import { bootGuest, GUEST_KERNELS, runInGuest, vsnd } from './guest-util.ts';

/**
 * Real Linux guests in v86 in the page, one per kernel: its virtio_snd driver
 * finds our device, `aplay` plays a known WAV that comes out of our
 * AudioWorklet bit-exact, `arecord` records the fake microphone, and with the
 * output looped back into the input `latency` finds its impulse.
 */

for (const kernel of GUEST_KERNELS) {
  test(`Linux ${kernel} in v86 plays and records through the device`, async ({ page }) => {
    test.setTimeout(180_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const bootMs = await bootGuest(page, kernel, 'rate=48000&mic=1&tap=1048576');
    console.log(`Linux ${kernel}: booted in ${(bootMs / 1000).toFixed(1)} s`);

    const cards = await runInGuest(page, 'cat /proc/asound/cards; uname -r');
    expect(cards).toContain('VirtIO SoundCard at platform/virtio-mmio.0/virtio0');
    expect(cards).toMatch(new RegExp(`^${kernel.replace('.', '\\.')}\\.\\d+`, 'm'));

    // aplay: capture what the worklet renders and compare with the WAV's samples.
    // Also where the device's playback stream was (frames played) at each of its xruns.
    await page.evaluate(() => {
      const g = window.guest as unknown as {
        chunks: unknown[];
        xrunsAt: number[];
        pump: ReturnType<typeof setInterval>;
      };
      const tap = window.guest!.outputTap();
      const inner = window.guest!.sound!.device.inner;
      g.chunks = [];
      g.xrunsAt = [];
      let xruns = inner.stats().streams[0].xruns;
      g.pump = setInterval(() => {
        g.chunks.push(tap.take());
        const st = inner.stats().streams[0];
        for (; xruns < st.xruns; xruns++) g.xrunsAt.push(st.frames);
      }, 40);
    });
    const { text: played, result: aplay } = await vsnd(page, 'aplay /test.wav');
    expect(played).toContain("Playing WAVE '/test.wav'");
    expect(played).not.toMatch(/underrun|error/i);
    expect(aplay).toMatchObject({ mode: 'play', frames: 96000, xruns: 0 });
    const r = await page.evaluate(async () => {
      const g = window.guest as unknown as {
        chunks: { left: Float32Array; right: Float32Array; firstFrame: number; lost: number }[];
        xrunsAt: number[];
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
        xrunsAt: g.xrunsAt,
        played: stats.streams[0].frames,
        relayedMessages: window.guest!.sound!.device.stats().messagesRelayed,
        heldPeak: window.guest!.sound!.device.stats().heldMessagesPeak,
      };
    });
    console.log(`Linux ${kernel}: aplay ${JSON.stringify(aplay)}; device ${JSON.stringify(r)}`);
    // 6.1 keeps re-queuing periods until STOP; 6.12 sends only what aplay wrote, so the
    // device runs dry once the last (padded) period has played, before the guest's STOP:
    // that is the end of the stream (the drain grace), not an xrun.
    const end = aplay.frames + (aplay.padded as number);
    expect(r.played).toBeGreaterThanOrEqual(end);
    if (kernel === '6.12') expect(r.played).toBe(end);
    expect(
      r.xrunsAt.filter((f) => f < end),
      'the guest underran: the machine could not run it in real time',
    ).toEqual([]);
    expect(r.xrunsAt, 'a clean drain counted as an xrun').toEqual([]);
    expect(r.xruns).toBe(0);
    expect(r.lost).toBe(0);
    expect(r.start).toBeGreaterThanOrEqual(0);
    expect(r.start + r.frames).toBeLessThanOrEqual(r.total);
    expect(r.mismatches).toBe(0);
    // 6.1 re-queues each period before aplay refills it: the relay held them back. 6.12
    // sends a period only once written, so holding back is not needed (but done anyway).
    if (kernel === '6.1') expect(r.heldPeak).toBeGreaterThan(0);

    // arecord from Chromium's fake microphone.
    const { text: rec, result: arecord } = await vsnd(
      page,
      'arecord -d 1 /tmp/r.wav; ls -l /tmp/r.wav',
    );
    const m = rec.match(/captured (\d+) frames: peak (\d+) rms ([\d.]+)/);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBe(48000);
    expect(Number(m![3])).toBeGreaterThan(100);
    expect(rec).toContain('192044'); // 44-byte header + 1 s of S16 stereo
    expect(arecord).toMatchObject({ mode: 'capture', frames: 48000, xruns: 0 });
    const dmesg = await runInGuest(page, 'dmesg | tail -n 20');
    expect(dmesg).not.toContain('failed to flush');
    expect(errors).toEqual([]);
  });

  test(`Linux ${kernel} in v86 measures the round trip with the output looped back`, async ({
    page,
  }) => {
    test.setTimeout(180_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await bootGuest(page, kernel, 'rate=48000&loopback=1');
    const { text, result } = await vsnd(page, 'latency -p 4096 -n 4', 90_000);
    // Where the device's streams started (context frames), for the last attempt.
    const starts = await page.evaluate(() =>
      window.guest!.sound!.device.inner.stats().streams.map((s) => s.startFrame),
    );
    const skew = starts[1] - starts[0];
    console.log(`Linux ${kernel}: ${JSON.stringify(result)}; device start skew ${skew} frames`);
    expect(result).toMatchObject({ mode: 'latency', ok: true, found: true, linked: true });
    expect(text).not.toMatch(/stall!!!/);
    // Both streams run on the audio clock, so the raw round trip is the loop's own delay
    // (the DelayNode of the cycle: one render quantum) less how much later the device
    // started capture than playback: the guest starts linked streams with two START
    // requests, which may fall in different quanta. Anything else would be a device
    // xrun or a mistake in the measurement.
    expect(result.frames).toBe(128 - skew);
    // The round trip as jack_iodelay counts it: from the write of the impulse (some frames
    // ahead of the playback position) to the read of the capture period that holds it.
    const readLag = result.read_lag as number;
    expect(readLag).toBeGreaterThanOrEqual(0);
    expect(result.roundtrip_frames).toBe((result.app_frames as number) + readLag);
    expect(result.roundtrip_ms).toBeCloseTo(
      ((result.roundtrip_frames as number) * 1000) / 48000,
      2,
    );
    expect(errors).toEqual([]);
  });
}
