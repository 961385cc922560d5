/**
 * The cost of relaying an emulator's guest (RAM not shared) to the device:
 * time spent in RelayDevice per relayed period, with our driver playing
 * 1024-frame S16 stereo periods as the guest over a plain ArrayBuffer.
 */

import { PcmRenderer } from '../src/device/render/pcm-renderer.ts';
import { VirtioSndDriver } from '../src/driver/card.ts';
import { RelayDevice } from '../src/embed/relay-device.ts';
import { VIRTIO_SND_PCM_FMT_S16 } from '../src/snd/protocol.ts';
import { GuestMemory } from '../src/virtio/memory.ts';
import { VirtioMmioTransport } from '../src/virtio/mmio.ts';
import type { Result } from './lib/result.ts';

export async function benchRelay(seconds = 10): Promise<Result[]> {
  const mem = new GuestMemory(new ArrayBuffer(8 << 20));
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
  // Time the relay's own work: taking guest messages (poll) and completing them (serviceInner).
  let spent = 0;
  const proto = RelayDevice.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of ['poll', 'serviceInner']) {
    const orig = proto[name];
    (relay as unknown as Record<string, unknown>)[name] = function (
      this: unknown,
      ...a: unknown[]
    ) {
      const t = performance.now();
      const r = orig.apply(this, a);
      spent += performance.now() - t;
      return r;
    };
  }
  const renderer = new PcmRenderer(relay.inner.renderState);
  const pcm = driver.pcm(0);
  await pcm.hwParams({
    format: VIRTIO_SND_PCM_FMT_S16,
    rate: 48000,
    channels: 2,
    periodFrames: 1024,
    periods: 4,
  });
  await pcm.prepare();
  const frames = seconds * 48000;
  const data = new Int16Array(frames * 2).fill(1234);
  let done = false;
  const writer = pcm
    .writei(data)
    .then(() => pcm.drain())
    .then(() => {
      done = true;
    });
  const out = [[new Float32Array(128), new Float32Array(128)]];
  while (!done) {
    renderer.process([[]], out);
    relay.inner.service();
    relay.poll();
    await new Promise((r) => setImmediate(r));
  }
  await writer;
  const periods = relay.stats().messagesRelayed;
  return [
    {
      name: 'relay.cost_per_period',
      value: Number(((spent / periods) * 1000).toFixed(2)),
      unit: 'µs',
      note: `${periods} periods of 1024 S16 stereo frames (4 KiB) relayed, ${(relay.stats().bytesRelayed / 1024).toFixed(0)} KiB copied; includes polling the guest's rings every quantum`,
    },
  ];
}
