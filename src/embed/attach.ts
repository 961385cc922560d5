/**
 * Attaching virtio-snd to an emulator: a RelayDevice behind a virtio-mmio
 * transport mapped at `base`, raising `irq`. Returns the render state for
 * the AudioWorklet (see src/host/renderer-node.ts). The relay takes the
 * guest's TX/RX messages when the guest kicks, on the emulator's tick hook
 * (EmulatorBus.onTick) when it has one, and on poll() / start(ms) otherwise.
 */

import type { PreparedRestore } from '../snapshot/snapshot-format.ts';
import { VIRTIO_MMIO_WINDOW, VirtioMmioTransport } from '../virtio/mmio.ts';
import { prepareAttachedRestore, saveAttached } from './attach-snapshot.ts';
import type { EmulatorBus } from './emulator.ts';
import { RelayDevice, type RelayOptions } from './relay-device.ts';

export interface AttachOptions extends Omit<RelayOptions, 'guestMemory'> {
  /** Guest physical address of the 4 KiB register window (Linux: virtio_mmio.device=4K@base:irq). */
  base: number;
}

export interface AttachedSound {
  device: RelayDevice;
  transport: VirtioMmioTransport;
  /** Takes new guest TX/RX messages now (an emulator without onTick calls it every few ms). */
  poll(): void;
  /** Stops the tick hook and any polling timer, and the inner device's service loop. */
  stop(): void;
  /** Also polls every `ms` milliseconds until stop() (a safety net; not needed with onTick). */
  start(ms?: number): void;
  /**
   * The device's state (the guest's transport and the relay: see
   * attach-snapshot.ts) for the emulator's own snapshot. Take both in one
   * turn of the emulator's thread, between guest instructions. Guest RAM is
   * not in it: the emulator saves that.
   */
  saveState(): Uint8Array;
  /**
   * Reads and checks a saveState() snapshot from an attachment of the same
   * configuration (a SnapshotError changes nothing); apply() restores it.
   * Restore the emulator (its RAM and interrupt controller) first, then
   * apply, in the same turn, before the guest runs again.
   */
  prepareRestore(bytes: Uint8Array): PreparedRestore;
  /** prepareRestore(bytes).apply(). */
  restoreState(bytes: Uint8Array): void;
}

export function attachVirtioSnd(bus: EmulatorBus, opts: AttachOptions): AttachedSound {
  const { base, ...relay } = opts;
  const device = new RelayDevice({ ...relay, guestMemory: () => bus.guestMemory() });
  const transport = new VirtioMmioTransport(device, { onInterrupt: (level) => bus.setIrq(level) });
  bus.mapMmio(base, VIRTIO_MMIO_WINDOW, transport);
  const untick = bus.onTick?.(() => device.poll()) ?? null;
  let timer: ReturnType<typeof setInterval> | null = null;
  return {
    device,
    transport,
    poll: () => device.poll(),
    start(ms = 2) {
      timer ??= setInterval(() => device.poll(), ms);
    },
    saveState: () => saveAttached(transport, device),
    prepareRestore: (bytes) => prepareAttachedRestore(transport, device, bytes),
    restoreState(bytes) {
      prepareAttachedRestore(transport, device, bytes).apply();
    },
    stop() {
      untick?.();
      if (timer) clearInterval(timer);
      timer = null;
      device.inner.dispose();
    },
  };
}
