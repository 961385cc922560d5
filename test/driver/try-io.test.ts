/**
 * tryWritei / tryReadi: snd_pcm_writei/readi on a non-blocking PCM, as
 * synchronous calls (no promise per call) for producers in a tight loop.
 */
import { describe, expect, it } from 'vitest';
import { VirtioSndDevice } from '../../src/device/control/virtio-snd-device.ts';
import { VirtioSndDriver } from '../../src/driver/card.ts';
import {
  ArgumentError,
  CtlRequestError,
  PcmStateError,
  XrunError,
} from '../../src/driver/errors.ts';
import * as P from '../../src/snd/protocol.ts';
import { GuestMemory } from '../../src/virtio/memory.ts';
import { VirtioMmioTransport } from '../../src/virtio/mmio.ts';
import { HostileDevice } from '../helpers/hostile-device.ts';
import { InProcess, settle } from '../helpers/in-process.ts';

const S16 = P.VIRTIO_SND_PCM_FMT_S16;
const params = { format: S16, rate: 48000, channels: 2, periodFrames: 256, periods: 4 };

describe('tryWritei', () => {
  it('plays 1 s bit-exact, writing only what fits, with no xrun', async () => {
    const p = await InProcess.create();
    const pcm = await p.prepared(0);
    const frames = 48000;
    const data = new Int16Array(frames * 2).map((_, i) => ((i * 7919) % 60000) - 30000);
    p.record = true;
    let written = 0;
    let partial = 0;
    let full = 0;
    while (written < frames) {
      const want = Math.min(700, frames - written);
      const n = pcm.tryWritei(data.subarray(written * 2, (written + want) * 2));
      expect(n).toBeLessThanOrEqual(want);
      if (n > 0 && n < want) partial++;
      if (n === 0) {
        full++;
        await p.tick(); // the buffer is full: let the audio clock run
      }
      written += n;
    }
    const drained = pcm.drain();
    while (pcm.state === 'draining') await p.tick();
    await drained;
    expect(partial).toBeGreaterThan(0);
    expect(full).toBeGreaterThan(0);
    expect(pcm.xruns).toBe(0);
    expect(pcm.hwPtr).toBe(frames);
    const { l, r } = p.output();
    const start = p.device.stats().streams[0].startFrame;
    let mismatches = 0;
    for (let f = 0; f < frames; f++) {
      if (l[start + f] !== data[2 * f] / 32768) mismatches++;
      if (r[start + f] !== data[2 * f + 1] / 32768) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('starts at the threshold without waiting; 0 frames when full; typed errors', async () => {
    const p = await InProcess.create();
    const pcm = await p.prepared(0);
    expect(() => pcm.tryWritei(new Uint8Array(3))).toThrow(ArgumentError);
    expect(() => p.driver.pcm(1).tryWritei(new Int16Array(2))).toThrow(PcmStateError);
    expect(pcm.tryWritei(new Int16Array(2 * 1000))).toBe(1000);
    expect(pcm.state).toBe('prepared');
    expect(pcm.tryWritei(new Int16Array(2 * 100))).toBe(24); // fills the 1024-frame buffer
    expect(pcm.state).toBe('running'); // START is on its way
    expect(pcm.tryWritei(new Int16Array(2 * 100))).toBe(0);
    await settle();
    expect(p.device.streamState(0)).toBe('running');
    // Nothing more written: the device runs dry, an xrun; the next call says so.
    for (let i = 0; i < 10; i++) await p.tick();
    expect(() => pcm.tryWritei(new Int16Array(2))).toThrow(XrunError);
    await pcm.recover();
    expect(pcm.tryWritei(new Int16Array(2 * 16))).toBe(16);
  });

  it('a START the device refuses is thrown by the next call; the stream stays prepared', async () => {
    const memory = new SharedArrayBuffer(4 << 20);
    const inner = new VirtioSndDevice({ memory, sampleRate: 48000, autoService: false });
    const hostile = new HostileDevice(inner, new GuestMemory(memory));
    let driver: VirtioSndDriver | null = null;
    const transport = new VirtioMmioTransport(hostile, {
      onInterrupt: (l) => driver?.interrupt(l),
    });
    driver = new VirtioSndDriver(transport, memory);
    await driver.probe();
    const pcm = driver.pcm(0);
    await pcm.hwParams(params);
    await pcm.prepare();
    hostile.lies.response = (_n, resp) => {
      new DataView(resp.buffer, resp.byteOffset).setUint32(0, P.VIRTIO_SND_S_BAD_MSG, true);
      return undefined;
    };
    expect(pcm.tryWritei(new Int16Array(2 * 1024))).toBe(1024);
    await settle();
    expect(pcm.state).toBe('prepared');
    let err: unknown = null;
    try {
      pcm.tryWritei(new Int16Array(2));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CtlRequestError);
    expect((err as Error).message).toMatch(/PCM_START failed: BAD_MSG/);
    // Thrown once: the call after that reports the full buffer.
    expect(pcm.tryWritei(new Int16Array(2))).toBe(0);
  });
});

describe('tryReadi', () => {
  it('starts capture, then reads what was captured, bit-exact', async () => {
    const p = await InProcess.create();
    const cap = await p.prepared(1);
    const out = new Int16Array(2 * 4096);
    expect(cap.tryReadi(out)).toBe(0); // starts the stream
    await settle();
    expect(cap.state).toBe('running');
    const L = Float32Array.from({ length: 128 * 16 }, (_, i) => ((i * 37) % 2000) / 4096 - 0.25);
    let got = 0;
    for (let q = 0; q < 16; q++) {
      await p.tick([L.subarray(q * 128, q * 128 + 128), L.subarray(q * 128, q * 128 + 128)]);
      got += cap.tryReadi(out.subarray(2 * got));
    }
    expect(got).toBe(16 * 128); // every completed period, read as it came
    for (let f = 0; f < got; f++) expect(out[2 * f]).toBe(Math.round(L[f] * 32768));
    expect(cap.tryReadi(out)).toBe(0);
    expect(() => cap.tryReadi(new Uint8Array(3))).toThrow(ArgumentError);
  });
});
