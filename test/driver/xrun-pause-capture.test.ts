import { describe, expect, it } from 'vitest';
import { XrunError } from '../../src/driver/errors.ts';
import { VIRTIO_SND_PCM_FMT_S16 } from '../../src/snd/protocol.ts';
import { InProcess, QUANTUM, settle } from '../helpers/in-process.ts';

const S16 = VIRTIO_SND_PCM_FMT_S16;
const period = (frames: number, v: number) => new Int16Array(frames * 2).fill(v);

describe('xrun and recovery', () => {
  it('starving a running stream is an xrun; recover() and playback resumes bit-exact', async () => {
    const p = await InProcess.create();
    const pcm = p.driver.pcm(0);
    const xruns: number[] = [];
    pcm.onXrun = (id) => xruns.push(id);
    await pcm.hwParams({ format: S16, rate: 48000, channels: 2, periodFrames: 256, periods: 4 });
    pcm.swParams({ startThreshold: 512 });
    await pcm.prepare();
    await pcm.writei(period(512, 1000));
    expect(pcm.state).toBe('running');
    for (let i = 0; i < 8; i++) await p.tick();
    expect(pcm.state).toBe('xrun');
    expect(xruns).toEqual([0]);
    await expect(pcm.writei(period(256, 1))).rejects.toBeInstanceOf(XrunError);
    await pcm.recover();
    expect(pcm.state).toBe('prepared');
    expect(p.device.streamState(0)).toBe('prepared');
    p.record = true;
    await pcm.writei(period(512, 2000));
    for (let i = 0; i < 4; i++) await p.tick();
    const { l } = p.output();
    const start = p.device.stats().streams[0].startFrame - (p.quanta - 4) * QUANTUM;
    expect(l[start]).toBe(2000 / 32768);
    expect(l[start + 511]).toBe(2000 / 32768);
    expect(pcm.hwPtr).toBe(512);
  });

  it('a blocking writei cut short by an xrun returns what it wrote; the next call throws', async () => {
    const p = await InProcess.create();
    const pcm = p.driver.pcm(0);
    await pcm.hwParams({ format: S16, rate: 48000, channels: 2, periodFrames: 256, periods: 4 });
    await pcm.prepare();
    // 1536 frames into a 1024-frame buffer: it fills the buffer, starts, and waits for room.
    const pending = pcm.writei(period(1536, 7));
    await settle();
    expect(pcm.state).toBe('running');
    // The device plays 10 quanta before the driver hears of any: it runs dry.
    const out = [[new Float32Array(QUANTUM), new Float32Array(QUANTUM)]];
    for (let i = 0; i < 10; i++) p.renderer.process([[]], out);
    p.device.service();
    await expect(pending).resolves.toBe(1024);
    expect(pcm.state).toBe('xrun');
    await expect(pcm.writei(period(256, 1))).rejects.toBeInstanceOf(XrunError);
  });

  it('an XRUN event for a stream with nothing queued makes it an xrun once the grace is over', async () => {
    const p = await InProcess.create();
    const pcm = p.driver.pcm(0);
    await pcm.hwParams({ format: S16, rate: 48000, channels: 2, periodFrames: 256, periods: 4 });
    pcm.swParams({ startThreshold: 100 });
    await pcm.prepare();
    // 100 frames: less than a period, so nothing is sent; the device runs dry at once.
    await pcm.writei(period(100, 5));
    expect(pcm.state).toBe('running');
    await p.ticks(37); // dry, but within the grace the device waits for a STOP
    expect(pcm.state).toBe('running');
    await p.ticks(2);
    expect(pcm.state).toBe('xrun');
  });
});

describe('pause', () => {
  it('consumes nothing while paused and resumes where it stopped', async () => {
    const p = await InProcess.create();
    const pcm = p.driver.pcm(0);
    await pcm.hwParams({ format: S16, rate: 48000, channels: 2, periodFrames: 256, periods: 8 });
    await pcm.prepare();
    const data = new Int16Array(2048 * 2).map((_, i) => i);
    await pcm.writei(data);
    p.record = true;
    await p.tick();
    await pcm.pause(true);
    expect(p.device.streamState(0)).toBe('stopped');
    const frames = p.device.stats().streams[0].frames;
    for (let i = 0; i < 10; i++) await p.tick();
    expect(p.device.stats().streams[0].frames).toBe(frames);
    await pcm.pause(false);
    for (let i = 0; i < 20; i++) await p.tick();
    const { l } = p.output();
    const played = [...l].filter((v) => v !== 0 || false);
    // Every frame once, in order, across the pause.
    const want = Array.from({ length: 2048 }, (_, f) => data[2 * f] / 32768).filter((v) => v !== 0);
    expect(played).toEqual(want);
  });
});

describe('capture', () => {
  it('readi returns the input bit-exact in S16 stereo at 48 kHz, hw_ptr consistent', async () => {
    const p = await InProcess.create();
    const cap = p.driver.pcm(1);
    await cap.hwParams({ format: S16, rate: 48000, channels: 2, periodFrames: 256, periods: 4 });
    await cap.prepare();
    const total = 256 * 12;
    const L = Float32Array.from({ length: total }, (_, i) => ((i % 2000) - 1000) / 32768);
    const R = Float32Array.from({ length: total }, (_, i) => ((i * 7) % 3000) / 32768);
    const got = new Int16Array(total * 2);
    let read = 0;
    const reader = (async () => {
      while (read < total) {
        const n = await cap.readi(got.subarray(read * 2, (read + 256) * 2));
        read += n;
      }
    })();
    for (let q = 0; q < total / QUANTUM + 4 && read < total; q++) {
      await p.tick([
        L.subarray(q * QUANTUM, (q + 1) * QUANTUM),
        R.subarray(q * QUANTUM, (q + 1) * QUANTUM),
      ]);
      expect(cap.hwPtr).toBeLessThanOrEqual((q + 1) * QUANTUM);
      expect(cap.hwPtr % 256).toBe(0);
    }
    await reader;
    for (let f = 0; f < total; f++) {
      expect(got[2 * f]).toBe(Math.round(L[f] * 32768) + 0);
      expect(got[2 * f + 1]).toBe(Math.round(R[f] * 32768) + 0);
    }
    expect(cap.applPtr).toBe(total);
  });

  it('not reading is an overrun', async () => {
    const p = await InProcess.create();
    const cap = p.driver.pcm(1);
    await cap.hwParams({ format: S16, rate: 48000, channels: 2, periodFrames: 256, periods: 4 });
    await cap.prepare();
    await cap.start();
    for (let q = 0; q < 12; q++) await p.tick();
    expect(cap.state).toBe('xrun');
    await cap.recover();
    expect(cap.state).toBe('prepared');
  });
});
