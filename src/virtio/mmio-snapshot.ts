/**
 * The saved state of a virtio-mmio transport: its registers (status,
 * features and their selectors, the interrupt status, the configuration
 * generation, the queue selector) and each queue's registers. The device
 * behind it saves its own state; restoring the transport never calls the
 * device (no reset, no activation).
 */

import {
  type SnapshotBuilder,
  SnapshotError,
  type SnapshotReader,
} from '../snapshot/snapshot-format.ts';
import type { VirtioDevice } from './device.ts';
import {
  featureBit,
  VIRTIO_F_VERSION_1,
  VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_MMIO_INT_VRING,
  VIRTIO_STATUS_ACKNOWLEDGE,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_STATUS_DRIVER,
  VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FAILED,
  VIRTIO_STATUS_FEATURES_OK,
} from './features.ts';
import { isPowerOfTwo } from './ring.ts';

/** Section tags of a transport snapshot. */
export const TRANSPORT_KIND = 'TRNS';

export interface MmioQueueRegisters {
  num: number;
  ready: boolean;
  desc: [number, number];
  driver: [number, number];
  device: [number, number];
}

export interface MmioState {
  status: number;
  interruptStatus: number;
  configGeneration: number;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  driverFeatures: bigint;
  queueSel: number;
  /** DRIVER_OK was accepted (the device was activated). */
  activated: boolean;
  queues: MmioQueueRegisters[];
}

const STATUS_BITS =
  VIRTIO_STATUS_ACKNOWLEDGE |
  VIRTIO_STATUS_DRIVER |
  VIRTIO_STATUS_DRIVER_OK |
  VIRTIO_STATUS_FEATURES_OK |
  VIRTIO_STATUS_DEVICE_NEEDS_RESET |
  VIRTIO_STATUS_FAILED;
const INT_BITS = VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG;

export function writeMmioState(b: SnapshotBuilder, s: MmioState): void {
  b.section('REGS', (w) => {
    w.u32(s.status)
      .u32(s.interruptStatus)
      .u32(s.configGeneration)
      .u32(s.deviceFeaturesSel)
      .u32(s.driverFeaturesSel)
      .u64(s.driverFeatures)
      .u32(s.queueSel)
      .bool(s.activated)
      .u32(s.queues.length);
    for (const q of s.queues) {
      w.u32(q.num).bool(q.ready);
      for (const [lo, hi] of [q.desc, q.driver, q.device]) w.u32(lo).u32(hi);
    }
  });
}

/** Reads and checks a transport's registers against the device it would drive. */
export function readMmioState(r: SnapshotReader, device: VirtioDevice): MmioState {
  const status = r.u32();
  if ((status & ~STATUS_BITS) !== 0)
    throw r.invalid(`status 0x${status.toString(16)} has undefined bits`);
  const interruptStatus = r.u32();
  if ((interruptStatus & ~INT_BITS) !== 0) throw r.invalid(`interrupt status ${interruptStatus}`);
  const configGeneration = r.u32();
  const deviceFeaturesSel = r.u32();
  const driverFeaturesSel = r.u32();
  const driverFeatures = r.u64();
  const queueSel = r.u32();
  const activated = r.bool('activated');
  const n = r.count(64, 'queues', 29);
  if (n !== device.numQueues) {
    throw new SnapshotError(
      'config-mismatch',
      `transport of ${n} queues, the device has ${device.numQueues}`,
    );
  }
  const queues: MmioQueueRegisters[] = [];
  for (let i = 0; i < n; i++) {
    const num = r.u32();
    const ready = r.bool(`queue ${i} ready`);
    const pair = (): [number, number] => [r.u32(), r.u32()];
    const q = { num, ready, desc: pair(), driver: pair(), device: pair() };
    if (ready && !(isPowerOfTwo(num) && num <= device.queueMaxSize(i))) {
      throw r.invalid(`queue ${i} is ready with size ${num} (max ${device.queueMaxSize(i)})`);
    }
    queues.push(q);
  }
  r.end();
  // DRIVER_OK is only ever set by activating the device, and only reset clears it.
  if (activated !== ((status & VIRTIO_STATUS_DRIVER_OK) !== 0)) {
    throw r.invalid('DRIVER_OK and activation disagree');
  }
  if (status & (VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK)) {
    const offered = device.deviceFeatures;
    if ((status & VIRTIO_STATUS_FEATURES_OK) === 0)
      throw r.invalid('DRIVER_OK without FEATURES_OK');
    if ((driverFeatures & ~offered) !== 0n) {
      throw new SnapshotError('config-mismatch', 'negotiated features the device does not offer');
    }
    if ((driverFeatures & featureBit(VIRTIO_F_VERSION_1)) === 0n) {
      throw r.invalid('FEATURES_OK without VIRTIO_F_VERSION_1');
    }
  }
  return {
    status,
    interruptStatus,
    configGeneration,
    deviceFeaturesSel,
    driverFeaturesSel,
    driverFeatures,
    queueSel,
    activated,
    queues,
  };
}
