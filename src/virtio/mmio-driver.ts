/**
 * The guest side of virtio-mmio: the register sequence a driver performs
 * (spec 3.1.1 and 4.2.3), like Linux drivers/virtio/virtio_mmio.c. Used by our
 * driver, and by tests and fuzzers that play the guest.
 *
 * It talks to anything with the virtio-mmio register map, normally a
 * {@link VirtioMmioTransport} in the same thread.
 */

import { allocateQueue, DriverQueue, type QueueLayout } from './driver-queue.ts';
import {
  featureBit,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_VERSION_1,
  VIRTIO_STATUS_ACKNOWLEDGE,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_STATUS_DRIVER,
  VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FAILED,
  VIRTIO_STATUS_FEATURES_OK,
} from './features.ts';
import type { Allocator } from './heap.ts';
import type { GuestMemory } from './memory.ts';
import { MMIO, VIRTIO_MMIO_MAGIC, VIRTIO_MMIO_VERSION } from './mmio.ts';

/** The register interface of a virtio-mmio device. */
export interface MmioRegisters {
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, value: number, size: 1 | 2 | 4): void;
}

/** A typed error for a device that does not behave like a virtio-mmio device should. */
export class VirtioTransportError extends Error {
  override readonly name = 'VirtioTransportError';
}

export class MmioDriver {
  /** Features agreed with the device (after negotiate()). */
  features = 0n;

  constructor(
    readonly regs: MmioRegisters,
    readonly mem: GuestMemory,
  ) {}

  /** Checks the magic value and version; returns the device id. */
  probe(): number {
    const magic = this.regs.read(MMIO.MagicValue, 4);
    if (magic !== VIRTIO_MMIO_MAGIC) {
      throw new VirtioTransportError(`bad magic 0x${magic.toString(16)}: not a virtio-mmio device`);
    }
    const version = this.regs.read(MMIO.Version, 4);
    if (version !== VIRTIO_MMIO_VERSION) {
      throw new VirtioTransportError(`virtio-mmio version ${version} unsupported (want 2)`);
    }
    return this.regs.read(MMIO.DeviceID, 4);
  }

  get status(): number {
    return this.regs.read(MMIO.Status, 4);
  }

  addStatus(bits: number): void {
    this.regs.write(MMIO.Status, this.status | bits, 4);
  }

  reset(): void {
    this.regs.write(MMIO.Status, 0, 4);
  }

  deviceFeatures(): bigint {
    this.regs.write(MMIO.DeviceFeaturesSel, 0, 4);
    const lo = this.regs.read(MMIO.DeviceFeatures, 4);
    this.regs.write(MMIO.DeviceFeaturesSel, 1, 4);
    const hi = this.regs.read(MMIO.DeviceFeatures, 4);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /**
   * Reset, ACKNOWLEDGE, DRIVER, feature negotiation, FEATURES_OK (spec 3.1.1
   * steps 1-6). `wanted` is what the driver understands; VERSION_1 is
   * always requested. Returns the agreed features.
   */
  negotiate(wanted: bigint): bigint {
    this.reset();
    this.addStatus(VIRTIO_STATUS_ACKNOWLEDGE);
    this.addStatus(VIRTIO_STATUS_DRIVER);
    const offered = this.deviceFeatures();
    if ((offered & featureBit(VIRTIO_F_VERSION_1)) === 0n) {
      this.addStatus(VIRTIO_STATUS_FAILED);
      throw new VirtioTransportError('device does not offer VIRTIO_F_VERSION_1');
    }
    const agreed = offered & (wanted | featureBit(VIRTIO_F_VERSION_1));
    this.regs.write(MMIO.DriverFeaturesSel, 0, 4);
    this.regs.write(MMIO.DriverFeatures, Number(agreed & 0xffffffffn), 4);
    this.regs.write(MMIO.DriverFeaturesSel, 1, 4);
    this.regs.write(MMIO.DriverFeatures, Number(agreed >> 32n), 4);
    this.addStatus(VIRTIO_STATUS_FEATURES_OK);
    if ((this.status & VIRTIO_STATUS_FEATURES_OK) === 0) {
      this.addStatus(VIRTIO_STATUS_FAILED);
      throw new VirtioTransportError('device refused the negotiated features');
    }
    this.features = agreed;
    return agreed;
  }

  /** The largest size the device accepts for queue `index` (0 = no such queue). */
  queueMaxSize(index: number): number {
    this.regs.write(MMIO.QueueSel, index, 4);
    return this.regs.read(MMIO.QueueNumMax, 4);
  }

  /**
   * Places queue `index` in guest memory (size capped by QueueNumMax) and
   * tells the device where it is. Returns the driver side of the queue.
   */
  setupQueue<T>(index: number, wantedSize: number, alloc: Allocator): DriverQueue<T> {
    const max = this.queueMaxSize(index);
    if (max === 0) throw new VirtioTransportError(`queue ${index} does not exist`);
    if (this.regs.read(MMIO.QueueReady, 4) !== 0) {
      throw new VirtioTransportError(`queue ${index} is already in use`);
    }
    let size = Math.min(wantedSize, max);
    // Round down to a power of two: split queues require it.
    size = 2 ** Math.floor(Math.log2(size));
    const layout = allocateQueue(alloc, size);
    this.installQueue(index, layout);
    const eventIdx = (this.features & featureBit(VIRTIO_F_EVENT_IDX)) !== 0n;
    return new DriverQueue<T>(this.mem, layout, { eventIdx, index });
  }

  /** Writes a queue's size and addresses and sets QueueReady. */
  installQueue(index: number, layout: QueueLayout): void {
    const r = this.regs;
    r.write(MMIO.QueueSel, index, 4);
    r.write(MMIO.QueueNum, layout.size, 4);
    r.write(MMIO.QueueDescLow, layout.descAddr, 4);
    r.write(MMIO.QueueDescHigh, 0, 4);
    r.write(MMIO.QueueDriverLow, layout.availAddr, 4);
    r.write(MMIO.QueueDriverHigh, 0, 4);
    r.write(MMIO.QueueDeviceLow, layout.usedAddr, 4);
    r.write(MMIO.QueueDeviceHigh, 0, 4);
    r.write(MMIO.QueueReady, 1, 4);
    if (r.read(MMIO.QueueReady, 4) !== 1) {
      throw new VirtioTransportError(`device refused queue ${index} (size ${layout.size})`);
    }
  }

  driverOk(): void {
    this.addStatus(VIRTIO_STATUS_DRIVER_OK);
    const s = this.status;
    if ((s & VIRTIO_STATUS_DRIVER_OK) === 0 || (s & VIRTIO_STATUS_DEVICE_NEEDS_RESET) !== 0) {
      throw new VirtioTransportError(
        `device did not accept DRIVER_OK (status 0x${s.toString(16)})`,
      );
    }
  }

  /** Kicks queue `index`. */
  notify(index: number): void {
    this.regs.write(MMIO.QueueNotify, index, 4);
  }

  /** Reads and acknowledges the interrupt status; returns the bits that were set. */
  ackInterrupt(): number {
    const bits = this.regs.read(MMIO.InterruptStatus, 4);
    if (bits) this.regs.write(MMIO.InterruptACK, bits, 4);
    return bits;
  }

  configGeneration(): number {
    return this.regs.read(MMIO.ConfigGeneration, 4);
  }

  readConfig32(offset: number): number {
    return this.regs.read(MMIO.Config + offset, 4) >>> 0;
  }

  readConfig8(offset: number): number {
    return this.regs.read(MMIO.Config + offset, 1) & 0xff;
  }

  /**
   * Reads `count` le32 config fields atomically with respect to config
   * changes (spec 2.5.1: retry while ConfigGeneration moves).
   */
  readConfigWords(offset: number, count: number): number[] {
    for (let attempt = 0; attempt < 16; attempt++) {
      const before = this.configGeneration();
      const words = Array.from({ length: count }, (_, i) => this.readConfig32(offset + 4 * i));
      if (this.configGeneration() === before) return words;
    }
    throw new VirtioTransportError('configuration kept changing while being read');
  }
}
