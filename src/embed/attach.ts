/**
 * Attaching virtio-snd to an emulator: a RelayDevice behind a virtio-mmio
 * transport mapped at `base`, raising `irq`. Returns the render state for
 * the AudioWorklet (see src/host/renderer-node.ts) and a poll() the host
 * calls often (the guest's TX/RX rings are polled, as MSG_POLLING allows).
 */

import { VIRTIO_MMIO_WINDOW, VirtioMmioTransport } from '../virtio/mmio.ts';
import type { EmulatorBus } from './emulator.ts';
import { RelayDevice, type RelayOptions } from './relay-device.ts';

export interface AttachOptions extends Omit<RelayOptions, 'guestMemory'> {
  /** Guest physical address of the 4 KiB register window (Linux: virtio_mmio.device=4K@base:irq). */
  base: number;
}

export interface AttachedSound {
  device: RelayDevice;
  transport: VirtioMmioTransport;
  /** Takes new guest TX/RX messages; call every few milliseconds. */
  poll(): void;
  /** Stops polling timers started by start(). */
  stop(): void;
  /** Polls every `ms` milliseconds until stop(). */
  start(ms?: number): void;
}

export function attachVirtioSnd(bus: EmulatorBus, opts: AttachOptions): AttachedSound {
  const { base, ...relay } = opts;
  const device = new RelayDevice({ ...relay, guestMemory: () => bus.guestMemory() });
  const transport = new VirtioMmioTransport(device, { onInterrupt: (level) => bus.setIrq(level) });
  bus.mapMmio(base, VIRTIO_MMIO_WINDOW, transport);
  let timer: ReturnType<typeof setInterval> | null = null;
  return {
    device,
    transport,
    poll: () => device.poll(),
    start(ms = 2) {
      timer ??= setInterval(() => device.poll(), ms);
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
      device.inner.dispose();
    },
  };
}
