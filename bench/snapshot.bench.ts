/**
 * Snapshots (node): how big they are and how long saving and restoring take.
 *
 *   device idle / playing: VirtioSndDevice + transport (saveSoundState), what
 *     an emulator keeps next to its RAM
 *   host playing: createVirtioSound's whole stack (DriverService.saveState):
 *     guest memory (the driver's allocations), device, transport, driver and
 *     a tone player
 *   relay idle / playing: an attached device (the attachVirtioSnd handle's
 *     saveAttached: the guest's transport, the relay and its inner device),
 *     our driver as the guest over a plain ArrayBuffer; what an emulator such
 *     as v86 keeps next to its RAM
 *
 * The playing stream is S16 stereo, 4 periods of 1024 frames, at 44.1 kHz on
 * a 48 kHz context (so its resampler's history is in the snapshot too).
 */

import { restoreSoundState, saveSoundState } from '../src/device/control/sound-snapshot.ts';
import { PcmRenderer } from '../src/device/render/pcm-renderer.ts';
import { VirtioSndDriver } from '../src/driver/card.ts';
import { prepareAttachedRestore, saveAttached } from '../src/embed/attach-snapshot.ts';
import { RelayDevice } from '../src/embed/relay-device.ts';
import { DriverService } from '../src/host/driver-service.ts';
import { VIRTIO_SND_PCM_FMT_S16 } from '../src/snd/protocol.ts';
import { GuestMemory } from '../src/virtio/memory.ts';
import { VirtioMmioTransport } from '../src/virtio/mmio.ts';
import type { Result } from './lib/result.ts';

const MEMORY = 8 << 20;

async function stack(): Promise<{ service: DriverService; renderer: PcmRenderer }> {
  const service = new DriverService();
  const { renderState } = await service.init(new SharedArrayBuffer(MEMORY), 48000, {
    autoService: false,
  });
  return { service, renderer: new PcmRenderer(renderState) };
}

async function render(s: { service: DriverService; renderer: PcmRenderer }, quanta: number) {
  const out = [[new Float32Array(128), new Float32Array(128)]];
  for (let q = 0; q < quanta; q++) {
    s.renderer.process([[]], out);
    s.service.device.service();
    await new Promise((r) => setImmediate(r));
  }
}

/** A relay with our driver as the guest over a plain ArrayBuffer (as v86's RAM is). */
async function relayStack(ram = new ArrayBuffer(MEMORY)) {
  const mem = new GuestMemory(ram);
  const relay = new RelayDevice({ guestMemory: () => mem, sampleRate: 48000, autoService: false });
  let driver: VirtioSndDriver | null = null;
  const transport = new VirtioMmioTransport(relay, { onInterrupt: (l) => driver?.interrupt(l) });
  driver = new VirtioSndDriver(transport, mem);
  return { ram, relay, transport, driver, renderer: new PcmRenderer(relay.inner.renderState) };
}

/** Median microseconds of `runs` calls of `f`. */
async function time(runs: number, f: () => unknown): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f();
    t.push((performance.now() - t0) * 1000);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}

export async function benchSnapshot(runs = 50): Promise<Result[]> {
  const idle = await stack();
  const transportOf = (s: DriverService) => s.transport;
  const idleBytes = saveSoundState(transportOf(idle.service), idle.service.device).length;

  const a = await stack();
  await a.service.playTone({
    format: VIRTIO_SND_PCM_FMT_S16,
    rate: 44100,
    channels: 2,
    periodFrames: 1024,
    periods: 4,
    frequency: 440,
  });
  await render(a, 50);
  const ta = transportOf(a.service);
  const pair = saveSoundState(ta, a.service.device);
  const host = await a.service.saveState();
  const memoryOnly = saveSoundState(ta, a.service.device, {
    memory: a.service.driver.heap.saveState().used,
  });

  const saveUs = await time(runs, () => saveSoundState(ta, a.service.device));
  const hostSaveUs = await time(runs, () => a.service.saveState());
  const b = await stack();
  const tb = transportOf(b.service);
  const restoreUs = await time(runs, () => restoreSoundState(tb, b.service.device, pair));
  const hostRestoreUs = await time(Math.max(1, runs / 5), () => b.service.restoreState(host));

  // The relay: probed and idle, then mid-playback with periods in flight.
  const r = await relayStack();
  await r.driver.probe();
  const relayIdleBytes = saveAttached(r.transport, r.relay).length;
  const pcm = r.driver.pcm(0);
  await pcm.hwParams({
    format: VIRTIO_SND_PCM_FMT_S16,
    rate: 48000,
    channels: 2,
    periodFrames: 1024,
    periods: 4,
  });
  await pcm.prepare();
  // writei starts the stream once the buffer is full (start threshold).
  void pcm.writei(new Int16Array(48000 * 2).fill(1234));
  const out = [[new Float32Array(128), new Float32Array(128)]];
  for (let q = 0; q < 20; q++) {
    r.renderer.process([[]], out);
    r.relay.inner.service();
    r.relay.poll();
    await new Promise((res) => setImmediate(res));
  }
  const relayPlaying = saveAttached(r.transport, r.relay);
  const relaySaveUs = await time(runs, () => saveAttached(r.transport, r.relay));
  const r2 = await relayStack(r.ram.slice(0));
  const relayRestoreUs = await time(runs, () =>
    prepareAttachedRestore(r2.transport, r2.relay, relayPlaying).apply(),
  );

  const row = (name: string, value: number, unit: string, note: string): Result => ({
    name,
    value: Math.round(value),
    unit,
    note,
  });
  return [
    row(
      'snapshot.device.idle',
      idleBytes,
      'bytes',
      'transport + device, probed card, nothing playing',
    ),
    row(
      'snapshot.device.playing',
      pair.length,
      'bytes',
      'transport + device, a 44.1 kHz stream mid-period',
    ),
    row(
      'snapshot.host.playing',
      host.length,
      'bytes',
      `createVirtioSound stack playing a tone; guest memory ${memoryOnly.length - pair.length} bytes of it`,
    ),
    row(
      'snapshot.relay.idle',
      relayIdleBytes,
      'bytes',
      'attachVirtioSnd handle (guest transport + relay + inner device), probed card',
    ),
    row(
      'snapshot.relay.playing',
      relayPlaying.length,
      'bytes',
      'attachVirtioSnd handle, a 48 kHz stream with four 1024-frame periods in flight',
    ),
    row('snapshot.relay.save', relaySaveUs, 'µs', 'saveAttached, playing (median)'),
    row(
      'snapshot.relay.restore',
      relayRestoreUs,
      'µs',
      'prepareAttachedRestore + apply into a fresh relay (median)',
    ),
    row('snapshot.device.save', saveUs, 'µs', 'saveSoundState, playing (median)'),
    row(
      'snapshot.device.restore',
      restoreUs,
      'µs',
      'restoreSoundState into a fresh device (median)',
    ),
    row(
      'snapshot.host.save',
      hostSaveUs,
      'µs',
      'DriverService.saveState, 8 MiB guest memory (median)',
    ),
    row(
      'snapshot.host.restore',
      hostRestoreUs,
      'µs',
      'DriverService.restoreState into a fresh stack (median)',
    ),
  ];
}
