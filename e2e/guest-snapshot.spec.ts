import { readFileSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';
import { bootGuest, runInGuest, vsndResult } from './guest-util.ts';

/**
 * The guest page's "Save state" / "Restore state" with a real Linux guest
 * (6.12) in v86: mid-`aplay` of a known WAV, page A saves (the download is
 * one file: v86's machine and our device); a fresh page B boots, loads that
 * file, and the guest goes on: the rest of the WAV comes out of B's
 * AudioWorklet bit-exact from the frame the device had reached (what was in
 * flight plays once, nothing twice, no gap), aplay exits 0 having played every
 * frame, dmesg has no virtio_snd error, and the device never underran before
 * the end of the file. Prints the sizes and times of both parts.
 */

const KERNEL = '6.12';

/**
 * Bad files, given to page B before the good one: each is named on the page
 * and changes nothing (our device's state is the same bytes; the guest still
 * answers at its prompt).
 */
async function refusesBadFiles(b: Page, good: Buffer): Promise<void> {
  // The file: header 16, META, V86S, VATT (each: u32 tag, u32 length, payload).
  let at = 16;
  const sections: Record<string, number> = {};
  for (let i = 0; i < 3; i++) {
    sections[good.toString('latin1', at, at + 4)] = at + 8;
    at += 8 + good.readUInt32LE(at + 4);
  }
  const oursVersion = Buffer.from(good);
  oursVersion[sections.VATT + 4] = 9; // our part's format version
  const v86Magic = Buffer.from(good);
  v86Magic[sections.V86S] ^= 0xff;
  const bad: [string, Buffer, RegExp][] = [
    ['notes.txt', Buffer.from('not a machine state\n'), /bad-magic/],
    ['half.vgst', good.subarray(0, good.length >> 1), /truncated/],
    ['v86.vgst', v86Magic, /not a v86 state/],
    ['ours.vgst', oursVersion, /unsupported-version/],
  ];
  // What a restore would change and an idle guest does not (the device's frame counter
  // runs with the AudioContext): the guest's transport (registers, rings, indices), the
  // streams' states and positions, the relay's counters.
  const state = () =>
    b.evaluate(() => {
      const s = window.guest!.sound!;
      return {
        transport: Array.from(s.transport.saveState()).join(','),
        streams: s.device.inner.stats().streams.map((x) => [x.state, x.frames, x.completed]),
        relayed: s.device.stats().messagesRelayed,
      };
    });
  const before = await state();
  for (const [name, buffer, why] of bad) {
    await b.setInputFiles('#snap-file', { name, mimeType: 'application/octet-stream', buffer });
    const status = b.locator('#snap-status');
    await expect(status).toHaveClass(/bad/);
    await expect(status).toHaveAttribute('role', 'alert');
    await expect(status).toContainText('Not restored, nothing changed');
    await expect(status).toContainText(why);
    expect(await b.evaluate(() => window.guest!.snapshots!.restores)).toBe(0);
    await expect(b.locator('#snap-restore')).toBeEnabled();
  }
  expect(await state()).toEqual(before);
  expect(await runInGuest(b, 'echo still-here')).toContain('still-here');
}
const QUERY = 'rate=48000&tap=1048576';

test(`Linux ${KERNEL} in v86: save mid-aplay, restore in a fresh page, the rest plays bit-exact`, async ({
  browser,
}, testInfo) => {
  test.setTimeout(300_000);
  const a = await browser.newPage();
  const errors: string[] = [];
  a.on('pageerror', (e) => errors.push(`A: ${e.message}`));
  await bootGuest(a, KERNEL, QUERY);
  await expect(a.locator('#snap-save')).toBeEnabled();
  // Our part, idle (the guest's driver has probed the card; no stream).
  const idle = await a.evaluate(() => {
    const t0 = performance.now();
    const bytes = window.guest!.sound!.saveState();
    return { bytes: bytes.length, ms: performance.now() - t0 };
  });

  // aplay runs in the guest; the page saves once half a second has played.
  await a.evaluate(() => window.guest!.send('aplay /test.wav; echo APLAY_RC=$?'));
  await a.waitForFunction(
    () => {
      const s = window.guest!.sound!.device.inner.stats().streams[0];
      return s.state === 'running' && s.frames >= 24000;
    },
    null,
    { timeout: 60_000 },
  );
  const saveClick = performance.now();
  const [download] = await Promise.all([a.waitForEvent('download'), a.click('#snap-save')]);
  // Kept past page A (a download's own file goes with its page).
  const file = testInfo.outputPath('machine.vgst');
  await download.saveAs(file);
  const savePageMs = performance.now() - saveClick;
  const saved = await a.evaluate(() => ({
    report: window.guest!.snapshots!.lastSave!,
    framesAfterSave: window.guest!.sound!.device.inner.stats().streams[0].frames,
    status: document.getElementById('snap-status')!.textContent,
  }));
  expect(saved.status).toMatch(/^Saved /);
  expect(errors).toEqual([]);
  await a.close();

  // A fresh page: boot, then load the file.
  const b = await browser.newPage();
  b.on('pageerror', (e) => errors.push(`B: ${e.message}`));
  await bootGuest(b, KERNEL, QUERY);
  await expect(b.locator('#snap-restore')).toBeEnabled();
  await refusesBadFiles(b, readFileSync(file));
  await b.evaluate(() => {
    const g = window.guest as unknown as {
      chunks: unknown[];
      pump: ReturnType<typeof setInterval>;
      xrunsAt: number[];
    };
    let tap = window.guest!.outputTap();
    const inner = window.guest!.sound!.device.inner;
    g.chunks = [];
    g.xrunsAt = [];
    let xruns = -1;
    // The restored stream's position, read as soon as our part is applied.
    const sound = window.guest!.sound!;
    const prepare = sound.prepareRestore.bind(sound);
    sound.prepareRestore = (bytes) => {
      const p = prepare(bytes);
      return {
        apply() {
          p.apply();
          (g as unknown as { from: number }).from = inner.stats().streams[0].frames;
          // The restore moved the tap's write position too: read on from there.
          tap = window.guest!.outputTap();
        },
      };
    };
    // Only what renders from the restore on is kept.
    g.pump = setInterval(() => {
      const c = tap.take();
      if (window.guest!.snapshots!.restores === 0) return;
      const st = inner.stats().streams[0];
      g.chunks.push(c);
      // Where the restored stream was (frames played) at each of its xruns.
      if (xruns < 0) xruns = st.xruns;
      for (; xruns < st.xruns; xruns++) g.xrunsAt.push(st.frames);
    }, 20);
  });
  const restoreStart = performance.now();
  await b.setInputFiles('#snap-file', file);
  await b.waitForFunction(() => (window.guest!.snapshots!.restores ?? 0) > 0, null, {
    timeout: 60_000,
  });
  const restorePageMs = performance.now() - restoreStart;
  const restored = await b.evaluate(() => ({
    report: window.guest!.snapshots!.lastRestore!,
    from: (window.guest as unknown as { from: number }).from,
    status: document.getElementById('snap-status')!.textContent,
  }));
  expect(restored.status).toMatch(/^Restored /);

  // The restored guest's aplay finishes and exits.
  await b.waitForFunction(() => /APLAY_RC=\d+/.test(window.guest!.console.text), null, {
    timeout: 60_000,
  });
  const text = await b.evaluate(() => window.guest!.console.text);
  const rc = Number(text.match(/APLAY_RC=(\d+)/)![1]);
  // The restored guest's output goes on after this page's own prompt, on its line.
  const aplay = vsndResult(text.replaceAll('VSND_RESULT ', '\nVSND_RESULT '));
  const r = await b.evaluate(async (from) => {
    const g = window.guest as unknown as {
      chunks: { left: Float32Array; right: Float32Array; lost: number }[];
      pump: ReturnType<typeof setInterval>;
      xrunsAt: number[];
    };
    await new Promise((res) => setTimeout(res, 200));
    clearInterval(g.pump);
    const wav = new DataView(await (await fetch('/guest/test.wav')).arrayBuffer());
    const frames = (wav.byteLength - 44) / 4;
    const n = g.chunks.reduce((k, c) => k + c.left.length, 0);
    const L = new Float32Array(n);
    const R = new Float32Array(n);
    let off = 0;
    for (const c of g.chunks) {
      L.set(c.left, off);
      R.set(c.right, off);
      off += c.left.length;
    }
    const wl = (f: number) => wav.getInt16(44 + 4 * f, true) / 32768;
    const wr = (f: number) => wav.getInt16(46 + 4 * f, true) / 32768;
    // The first sound after the restore, and which frame of the file it is (within a
    // quantum or two of `from`: the audio thread may render one while `from` is read).
    let at = 0;
    while (at < n && L[at] === 0 && R[at] === 0) at++;
    const matchAt = (s: number) => {
      for (let k = 0; k < 256; k++) {
        if (L[at + k] !== wl(s + k) || R[at + k] !== wr(s + k)) return false;
      }
      return true;
    };
    let start = from - 512;
    while (start <= from && !matchAt(start)) start++;
    // For the log when it is not there: where in the file the first sound is, if anywhere.
    let foundAt = -1;
    if (start > from)
      for (let f = 0; f + 256 <= frames && foundAt < 0; f++) if (matchAt(f)) foundAt = f;
    const first = g.chunks.slice(0, 3).map((c) => ({
      firstFrame: (c as unknown as { firstFrame: number }).firstFrame,
      n: c.left.length,
      l0: c.left[0],
    }));
    let mismatches = 0;
    for (let f = start; f < frames; f++) {
      if (L[at + f - start] !== wl(f)) mismatches++;
      if (R[at + f - start] !== wr(f)) mismatches++;
    }
    const st = window.guest!.sound!.device.inner.stats().streams[0];
    return {
      frames,
      rendered: n,
      silenceBefore: at,
      start,
      foundAt,
      first,
      xrunsAt: g.xrunsAt,
      mismatches,
      lost: g.chunks.reduce((k, c) => k + c.lost, 0),
      played: st.frames,
      xruns: st.xruns,
      relayFaults: window.guest!.sound!.device.stats().faults,
    };
  }, restored.from);
  const dmesg = await runInGuest(b, 'dmesg | grep -iE "virtio|snd" | tail -n 30');

  const numbers = {
    ours: {
      idleBytes: idle.bytes,
      playingBytes: saved.report.soundBytes,
      idleSaveMs: +idle.ms.toFixed(2),
      saveMs: +saved.report.soundMs.toFixed(2),
      restoreMs: +restored.report.soundMs.toFixed(2),
    },
    v86: {
      bytes: saved.report.v86Bytes,
      saveMs: +saved.report.v86Ms.toFixed(1),
      restoreMs: +restored.report.v86Ms.toFixed(1),
    },
    file: {
      bytes: saved.report.fileBytes,
      pageSaveMs: +saved.report.totalMs.toFixed(1),
      pageRestoreMs: +restored.report.totalMs.toFixed(1),
      readMs: +restored.report.readMs.toFixed(1),
      clickToDownloadMs: +savePageMs.toFixed(0),
      chooseToRunningMs: +restorePageMs.toFixed(0),
    },
    stream: { savedAt: restored.from, framesAfterSave: saved.framesAfterSave, ...r },
    aplay,
    rc,
  };
  console.log(`guest snapshot: ${JSON.stringify(numbers)}`);

  expect(rc).toBe(0);
  expect(aplay).toMatchObject({ mode: 'play', frames: 96000, xruns: 0 });
  expect(restored.from).toBeGreaterThanOrEqual(24000);
  expect(restored.from).toBeLessThan(r.frames);
  expect(r.lost).toBe(0);
  // The restored stream starts at once (a few render quanta at most), with nothing stale before.
  expect(r.silenceBefore).toBeLessThan(9600);
  // The first frame heard is the frame the restored stream was at (or the audio thread had
  // rendered one more quantum when `from` was read): nothing in flight twice, nothing skipped.
  expect([0, 128]).toContain(restored.from - r.start);
  expect(r.mismatches).toBe(0);
  // Every frame of the file after the save came out, then the guest's padding.
  expect(r.played).toBeGreaterThanOrEqual(r.frames);
  expect(r.rendered).toBeGreaterThanOrEqual(r.silenceBefore + r.frames - r.start);
  // 6.12 sends only what aplay wrote: the device runs dry after the last period and the
  // guest's STOP follows; that end of the stream is not an xrun (the drain grace).
  expect(r.played - r.frames).toBeLessThanOrEqual(aplay.padded as number);
  expect(r.xrunsAt, 'the device underran (or counted the end of the stream)').toEqual([]);
  expect(r.relayFaults).toBe(0);
  expect(dmesg).not.toMatch(/virtio_snd.*(error|fail|timeout|invalid)|failed to flush/i);
  expect(errors).toEqual([]);
});
