/**
 * virtio-mmio, version 2 ("modern") register interface (VIRTIO 1.2, 4.2.2).
 *
 * An emulator maps `read`/`write` onto a 4 KiB MMIO window and wires
 * `onInterrupt` to an interrupt line. Registers take 32-bit accesses; the
 * device configuration space at 0x100 also takes 8- and 16-bit ones. Anything
 * else (unknown offsets, wrong widths, writes to read-only registers) reads
 * as 0 and is ignored, as hardware would.
 */

import {
  type PreparedRestore,
  readSnapshot,
  SnapshotBuilder,
} from '../snapshot/snapshot-format.ts';
import type { VirtioDevice } from './device.ts';
import type { QueueSetup } from './device-queue.ts';
import {
  featureBit,
  VIRTIO_F_VERSION_1,
  VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_MMIO_INT_VRING,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FAILED,
  VIRTIO_STATUS_FEATURES_OK,
} from './features.ts';
import { type MmioState, readMmioState, TRANSPORT_KIND, writeMmioState } from './mmio-snapshot.ts';
import { isPowerOfTwo } from './ring.ts';

/** Register offsets. */
export const MMIO = {
  MagicValue: 0x000,
  Version: 0x004,
  DeviceID: 0x008,
  VendorID: 0x00c,
  DeviceFeatures: 0x010,
  DeviceFeaturesSel: 0x014,
  DriverFeatures: 0x020,
  DriverFeaturesSel: 0x024,
  QueueSel: 0x030,
  QueueNumMax: 0x034,
  QueueNum: 0x038,
  QueueReady: 0x044,
  QueueNotify: 0x050,
  InterruptStatus: 0x060,
  InterruptACK: 0x064,
  Status: 0x070,
  QueueDescLow: 0x080,
  QueueDescHigh: 0x084,
  QueueDriverLow: 0x090,
  QueueDriverHigh: 0x094,
  QueueDeviceLow: 0x0a0,
  QueueDeviceHigh: 0x0a4,
  SHMSel: 0x0ac,
  SHMLenLow: 0x0b0,
  SHMLenHigh: 0x0b4,
  SHMBaseLow: 0x0b8,
  SHMBaseHigh: 0x0bc,
  ConfigGeneration: 0x0fc,
  Config: 0x100,
} as const;

export const VIRTIO_MMIO_MAGIC = 0x74726976; // "virt"
export const VIRTIO_MMIO_VERSION = 2;
/** The size of the MMIO window an emulator should map. */
export const VIRTIO_MMIO_WINDOW = 0x1000;

interface QueueRegs {
  num: number;
  ready: boolean;
  desc: [number, number];
  driver: [number, number];
  device: [number, number];
}

function freshQueue(): QueueRegs {
  return { num: 0, ready: false, desc: [0, 0], driver: [0, 0], device: [0, 0] };
}

export interface MmioOptions {
  /** Level of the interrupt line: true while InterruptStatus is non-zero. */
  onInterrupt(asserted: boolean): void;
}

export class VirtioMmioTransport {
  private status = 0;
  private interruptStatus = 0;
  private configGeneration = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverFeatures = 0n;
  private queueSel = 0;
  private queues: QueueRegs[];
  private activated = false;

  constructor(
    readonly device: VirtioDevice,
    private readonly options: MmioOptions,
  ) {
    this.queues = Array.from({ length: device.numQueues }, freshQueue);
    device.attach({
      interruptQueue: () => this.raise(VIRTIO_MMIO_INT_VRING),
      configChanged: () => {
        this.configGeneration = (this.configGeneration + 1) >>> 0;
        this.raise(VIRTIO_MMIO_INT_CONFIG);
      },
      needsReset: () => this.setNeedsReset(),
    });
  }

  /** The Status register (also useful to embedders for diagnostics). */
  get deviceStatus(): number {
    return this.status;
  }

  /** The features both sides agreed on (valid once FEATURES_OK is set). */
  get negotiatedFeatures(): bigint {
    return this.driverFeatures;
  }

  read(offset: number, size: 1 | 2 | 4): number {
    if (offset >= MMIO.Config) {
      if (!isAccessSize(size) || offset % size !== 0) return 0;
      return this.device.readConfig(offset - MMIO.Config, size) >>> 0;
    }
    if (size !== 4 || offset % 4 !== 0) return 0;
    const q = this.queues[this.queueSel];
    switch (offset) {
      case MMIO.MagicValue:
        return VIRTIO_MMIO_MAGIC;
      case MMIO.Version:
        return VIRTIO_MMIO_VERSION;
      case MMIO.DeviceID:
        return this.device.deviceId;
      case MMIO.VendorID:
        return this.device.vendorId;
      case MMIO.DeviceFeatures:
        return this.deviceFeaturesSel > 1
          ? 0
          : Number(
              (this.device.deviceFeatures >> BigInt(32 * this.deviceFeaturesSel)) & 0xffffffffn,
            );
      case MMIO.QueueNumMax:
        return q ? this.device.queueMaxSize(this.queueSel) : 0;
      case MMIO.QueueReady:
        return q?.ready ? 1 : 0;
      case MMIO.InterruptStatus:
        return this.interruptStatus;
      case MMIO.Status:
        return this.status;
      case MMIO.ConfigGeneration:
        return this.configGeneration;
      case MMIO.SHMLenLow:
      case MMIO.SHMLenHigh:
      case MMIO.SHMBaseLow:
      case MMIO.SHMBaseHigh:
        // No shared memory regions: length reads as all ones (spec 4.2.2).
        return 0xffffffff;
      default:
        return 0;
    }
  }

  write(offset: number, value: number, size: 1 | 2 | 4): void {
    value >>>= 0;
    if (offset >= MMIO.Config) {
      if (!isAccessSize(size) || offset % size !== 0) return;
      this.device.writeConfig(offset - MMIO.Config, value, size);
      return;
    }
    if (size !== 4 || offset % 4 !== 0) return;
    const q = this.queues[this.queueSel];
    // Queue registers only change while the queue is not ready (spec 4.2.2.2).
    const qw = q && !q.ready ? q : undefined;
    switch (offset) {
      case MMIO.DeviceFeaturesSel:
        this.deviceFeaturesSel = value;
        break;
      case MMIO.DriverFeaturesSel:
        this.driverFeaturesSel = value;
        break;
      case MMIO.DriverFeatures:
        this.writeDriverFeatures(value);
        break;
      case MMIO.QueueSel:
        this.queueSel = value;
        break;
      case MMIO.QueueNum:
        if (qw) qw.num = value;
        break;
      case MMIO.QueueReady:
        this.writeQueueReady(value);
        break;
      case MMIO.QueueNotify:
        if ((this.status & VIRTIO_STATUS_DRIVER_OK) !== 0 && value < this.queues.length) {
          this.device.queueNotify(value);
        }
        break;
      case MMIO.InterruptACK:
        this.ack(value);
        break;
      case MMIO.Status:
        this.writeStatus(value);
        break;
      case MMIO.QueueDescLow:
        if (qw) qw.desc[0] = value;
        break;
      case MMIO.QueueDescHigh:
        if (qw) qw.desc[1] = value;
        break;
      case MMIO.QueueDriverLow:
        if (qw) qw.driver[0] = value;
        break;
      case MMIO.QueueDriverHigh:
        if (qw) qw.driver[1] = value;
        break;
      case MMIO.QueueDeviceLow:
        if (qw) qw.device[0] = value;
        break;
      case MMIO.QueueDeviceHigh:
        if (qw) qw.device[1] = value;
        break;
      default:
        break;
    }
  }

  /** Resets transport and device, as a write of 0 to Status does. */
  reset(): void {
    this.device.reset();
    this.status = 0;
    this.driverFeatures = 0n;
    this.deviceFeaturesSel = 0;
    this.driverFeaturesSel = 0;
    this.queueSel = 0;
    this.queues = Array.from({ length: this.device.numQueues }, freshQueue);
    this.activated = false;
    if (this.interruptStatus !== 0) {
      this.interruptStatus = 0;
      this.options.onInterrupt(false);
    }
  }

  /**
   * The transport's registers as a snapshot: status, features, selectors,
   * interrupt status, configuration generation and every queue's registers.
   * The device saves its own state (see saveSoundState for both at once).
   */
  saveState(): Uint8Array {
    const b = new SnapshotBuilder(TRANSPORT_KIND);
    writeMmioState(b, {
      status: this.status,
      interruptStatus: this.interruptStatus,
      configGeneration: this.configGeneration,
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      driverFeatures: this.driverFeatures,
      queueSel: this.queueSel,
      activated: this.activated,
      queues: this.queues.map((q) => ({
        num: q.num,
        ready: q.ready,
        desc: [q.desc[0], q.desc[1]],
        driver: [q.driver[0], q.driver[1]],
        device: [q.device[0], q.device[1]],
      })),
    });
    return b.finish();
  }

  /**
   * Reads and checks a snapshot from saveState() against this transport's
   * device; throws a SnapshotError and changes nothing if it is bad. The
   * returned apply() sets the registers (the device is not called) and
   * drives the interrupt line to the restored level.
   */
  prepareRestore(bytes: Uint8Array): PreparedRestore {
    const sections = readSnapshot(bytes, TRANSPORT_KIND);
    const state = readMmioState(sections.one('REGS'), this.device);
    sections.end();
    return { apply: () => this.applyState(state) };
  }

  /** prepareRestore(bytes).apply(). */
  restoreState(bytes: Uint8Array): void {
    this.prepareRestore(bytes).apply();
  }

  private applyState(s: MmioState): void {
    this.status = s.status;
    this.configGeneration = s.configGeneration;
    this.deviceFeaturesSel = s.deviceFeaturesSel;
    this.driverFeaturesSel = s.driverFeaturesSel;
    this.driverFeatures = s.driverFeatures;
    this.queueSel = s.queueSel;
    this.activated = s.activated;
    this.queues = s.queues.map((q) => ({
      num: q.num,
      ready: q.ready,
      desc: [q.desc[0], q.desc[1]],
      driver: [q.driver[0], q.driver[1]],
      device: [q.device[0], q.device[1]],
    }));
    this.interruptStatus = s.interruptStatus;
    // The line follows the register: an emulator (or driver) learns the level at once.
    this.options.onInterrupt(s.interruptStatus !== 0);
  }

  private writeDriverFeatures(value: number): void {
    if ((this.status & VIRTIO_STATUS_FEATURES_OK) !== 0 || this.driverFeaturesSel > 1) return;
    const shift = BigInt(32 * this.driverFeaturesSel);
    const mask = 0xffffffffn << shift;
    this.driverFeatures = (this.driverFeatures & ~mask) | (BigInt(value) << shift);
  }

  private writeQueueReady(value: number): void {
    const q = this.queues[this.queueSel];
    if (!q) return;
    if (value === 0) {
      // Taking a live queue away is only meaningful with VIRTIO_F_RING_RESET,
      // which we do not offer; before DRIVER_OK it just clears the flag.
      if (!this.activated) q.ready = false;
      return;
    }
    if (value !== 1 || q.ready) return;
    const max = this.device.queueMaxSize(this.queueSel);
    if (!isPowerOfTwo(q.num) || q.num > max) return; // refused: reads back as 0
    q.ready = true;
  }

  private writeStatus(value: number): void {
    if (value === 0) {
      this.reset();
      return;
    }
    // The driver only ever adds bits; a write that clears one is ignored
    // (NEEDS_RESET is the device's and may be missing from the driver's value).
    const own = this.status & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    if ((value & own) !== own) return;
    const added = value & ~this.status;
    if (added & VIRTIO_STATUS_FEATURES_OK) {
      if (!this.acceptFeatures()) value &= ~VIRTIO_STATUS_FEATURES_OK;
    }
    if (added & VIRTIO_STATUS_DRIVER_OK) {
      if ((value & VIRTIO_STATUS_FEATURES_OK) === 0 || (value & VIRTIO_STATUS_FAILED) !== 0) {
        value &= ~VIRTIO_STATUS_DRIVER_OK;
      } else {
        this.status = value;
        this.activate();
        return;
      }
    }
    // NEEDS_RESET is the device's bit: the driver cannot set it.
    this.status =
      (value & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET) |
      (this.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
  }

  private acceptFeatures(): boolean {
    const offered = this.device.deviceFeatures;
    const f = this.driverFeatures;
    if ((f & ~offered) !== 0n) return false;
    if ((f & featureBit(VIRTIO_F_VERSION_1)) === 0n) return false; // legacy is not offered
    return this.device.negotiate(f);
  }

  private activate(): void {
    this.activated = true;
    const setups: (QueueSetup | null)[] = this.queues.map((q) => (q.ready ? queueSetup(q) : null));
    if (!this.device.activate(setups)) this.setNeedsReset();
  }

  private setNeedsReset(): void {
    if (this.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) return;
    this.status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    this.raise(VIRTIO_MMIO_INT_CONFIG);
  }

  private raise(bit: number): void {
    this.interruptStatus |= bit;
    this.options.onInterrupt(true);
  }

  private ack(bits: number): void {
    const before = this.interruptStatus;
    this.interruptStatus &= ~bits;
    if (before !== 0 && this.interruptStatus === 0) this.options.onInterrupt(false);
  }
}

function isAccessSize(size: number): size is 1 | 2 | 4 {
  return size === 1 || size === 2 || size === 4;
}

/** Addresses above 4 GiB cannot be inside a JS guest memory: map them out of range. */
function addr64([lo, hi]: [number, number]): number {
  return hi === 0 ? lo : Number.MAX_SAFE_INTEGER;
}

function queueSetup(q: QueueRegs): QueueSetup {
  return {
    size: q.num,
    descAddr: addr64(q.desc),
    availAddr: addr64(q.driver),
    usedAddr: addr64(q.device),
  };
}
