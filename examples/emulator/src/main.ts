/**
 * virtio-snd in an emulator, in Node: guest RAM is a plain ArrayBuffer, the
 * guest is virtio-snd-web's own driver, and the loop at the end plays the
 * part of the audio thread. In a page the renderer runs in an AudioWorklet:
 *   await createRendererNode(context, sound.device.inner.renderState) // virtio-snd-web/host
 */
import { GuestMemory, PcmRenderer, VIRTIO_SND_PCM_FMT_S16 } from 'virtio-snd-web';
import { VirtioSndDriver } from 'virtio-snd-web/driver';
import { attachVirtioSnd, type EmulatorBus, type MmioHandlers } from 'virtio-snd-web/embed';

// The emulator: 16 MiB of RAM, MMIO windows, one interrupt line.
const ram = new GuestMemory(new ArrayBuffer(16 << 20));
const windows: { base: number; size: number; handlers: MmioHandlers }[] = [];
let irqLine = (_level: boolean) => {};
const bus: EmulatorBus = {
  mapMmio: (base, size, handlers) => windows.push({ base, size, handlers }),
  setIrq: (level) => irqLine(level),
  guestMemory: () => ram,
};
/** The CPU's loads and stores that land in MMIO space. */
function route(addr: number): { handlers: MmioHandlers; offset: number } {
  const w = windows.find((m) => addr >= m.base && addr < m.base + m.size);
  if (!w) throw new Error(`bus error at 0x${addr.toString(16)}`);
  return { handlers: w.handlers, offset: addr - w.base };
}
const cpu = {
  load(addr: number, size: 1 | 2 | 4): number {
    const { handlers, offset } = route(addr);
    return handlers.read(offset, size);
  },
  store(addr: number, value: number, size: 1 | 2 | 4): void {
    const { handlers, offset } = route(addr);
    handlers.write(offset, value, size);
  },
};
const BASE = 0xfe00_0000; // Linux: virtio_mmio.device=4K@0xfe000000:5
const sound = attachVirtioSnd(bus, { base: BASE, sampleRate: 48000 });

// The guest: a driver whose register accesses go through the emulator's bus.
const driver = new VirtioSndDriver(
  {
    read: (offset, size) => cpu.load(BASE + offset, size),
    write: (offset, value, size) => cpu.store(BASE + offset, value, size),
  },
  ram,
);
irqLine = driver.interrupt;
await driver.probe();
const pcm = driver.pcm(0);
await pcm.hwParams({
  format: VIRTIO_SND_PCM_FMT_S16,
  rate: 48000,
  channels: 2,
  periodFrames: 480,
  periods: 4,
});
await pcm.prepare();
const tone = new Int16Array(48000 * 2).map(
  (_, i) => 8000 * Math.sin((2 * Math.PI * 440 * (i >> 1)) / 48000),
);
let played = false;
void pcm
  .writei(tone)
  .then(() => pcm.drain())
  .then(() => (played = true)); // 1 s of 440 Hz

// The audio thread: one 128-frame render quantum at a time.
const renderer = new PcmRenderer(sound.device.inner.renderState);
const [left, right] = [new Float32Array(128), new Float32Array(128)];
let peak = 0;
for (let q = 0; !played && q < 1000; q++) {
  renderer.process([[]], [[left, right]]);
  for (const s of left) peak = Math.max(peak, Math.abs(s));
  sound.poll(); // the emulator's timer: take the guest's new messages
  await new Promise((r) => setImmediate(r));
}
sound.stop();
console.log(JSON.stringify({ played, peak, frames: pcm.hwPtr, xruns: pcm.xruns }));
if (!played || peak < 0.2) process.exit(1);
