/**
 * The relay (for emulators whose RAM is not shared): our driver as the guest,
 * its memory a plain ArrayBuffer, the inner device's renderer as the audio
 * thread. Playback and capture come through bit-exact, completions stay
 * audio-timed, events and controls pass both ways.
 */
import { describe, expect, it } from 'vitest';
import { PcmRenderer } from '../../src/device/render/pcm-renderer.ts';
import { VirtioSndDriver } from '../../src/driver/card.ts';
import { RelayDevice } from '../../src/embed/relay-device.ts';
import { GuestMemory } from '../../src/virtio/memory.ts';
import { VirtioMmioTransport } from '../../src/virtio/mmio.ts';
import { settle, TEST_HW_PARAMS } from '../helpers/in-process.ts';

async function setup() {
  const ram = new ArrayBuffer(4 << 20); // not shared, like v86's
  let mem = new GuestMemory(ram);
  const relay = new RelayDevice({
    guestMemory: () => mem,
    sampleRate: 48000,
    autoService: false,
    tapFrames: 0,
  });
  let driver: VirtioSndDriver | null = null;
  const transport = new VirtioMmioTransport(relay, { onInterrupt: (l) => driver?.interrupt(l) });
  driver = new VirtioSndDriver(transport, mem);
  await driver.probe();
  const renderer = new PcmRenderer(relay.inner.renderState);
  const out: Float32Array[][] = [[new Float32Array(128), new Float32Array(128)]];
  const rendered: number[] = [];
  const tick = async (input?: Float32Array[]) => {
    renderer.process([input ?? []], out);
    rendered.push(...out[0][0]);
    relay.inner.service();
    relay.poll();
    await settle();
  };
  return {
    relay,
    driver,
    tick,
    rendered,
    replaceRam: () => {
      mem = new GuestMemory(ram); // a new view, as v86 makes when its buffer changes
    },
  };
}

describe('RelayDevice', () => {
  it('probes like the device itself', async () => {
    const { driver } = await setup();
    expect(driver.config).toEqual({ jacks: 2, streams: 2, chmaps: 7, controls: 4 });
  });

  it('plays bit-exact through the relay, completing in the quantum of the last frame', async () => {
    const s = await setup();
    const pcm = s.driver.pcm(0);
    await pcm.hwParams(TEST_HW_PARAMS);
    await pcm.prepare();
    const frames = 48000;
    const data = new Int16Array(frames * 2).map((_, i) => (i * 131) % 30000);
    let done = false;
    const writer = (async () => {
      await pcm.writei(data);
      await pcm.drain();
      done = true;
    })();
    for (let i = 0; i < 2000 && !done; i++) await s.tick();
    await writer;
    const start = s.relay.inner.stats().streams[0].startFrame;
    let mismatches = 0;
    for (let f = 0; f < frames; f++)
      if (s.rendered[start + f] !== data[2 * f] / 32768) mismatches++;
    expect(mismatches).toBe(0);
    expect(pcm.hwPtr).toBe(frames);
    expect(pcm.xruns).toBe(0);
    expect(s.relay.stats().messagesRelayed).toBe(Math.ceil(frames / 256));
  });

  it('captures bit-exact through the relay', async () => {
    const s = await setup();
    const cap = s.driver.pcm(1);
    await cap.hwParams(TEST_HW_PARAMS);
    await cap.prepare();
    const L = Float32Array.from({ length: 1024 }, (_, i) => (i - 512) / 32768);
    const got = new Int16Array(1024 * 2);
    const reader = cap.readi(got);
    for (let q = 0; q < 12; q++)
      await s.tick([
        L.subarray((q % 8) * 128, (q % 8) * 128 + 128),
        L.subarray((q % 8) * 128, (q % 8) * 128 + 128),
      ]);
    await reader;
    for (let f = 0; f < 1024; f++) expect(got[2 * f]).toBe(Math.round(L[f] * 32768) + 0);
  });

  it('forwards controls and events, and follows a replaced RAM buffer', async () => {
    const s = await setup();
    const seen: number[][] = [];
    s.driver.controls!.onChange = (_c, v) => seen.push(v);
    s.relay.inner.setControl('Master Playback Volume', [33]);
    s.replaceRam();
    for (let i = 0; i < 3; i++) await s.tick();
    expect(seen).toEqual([[33]]);
    await s.driver.controls!.write(0, [90]);
    expect(s.relay.inner.controls?.values(0)).toEqual([90]);
  });
});
