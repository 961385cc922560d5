import { describe, expect, it } from 'vitest';
import {
  featureBit,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_VERSION_1,
  VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_MMIO_INT_VRING,
  VIRTIO_STATUS_ACKNOWLEDGE,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
  VIRTIO_STATUS_DRIVER,
  VIRTIO_STATUS_DRIVER_OK,
  VIRTIO_STATUS_FEATURES_OK,
} from '../../src/virtio/features.ts';
import { GuestHeap } from '../../src/virtio/heap.ts';
import { GuestMemory } from '../../src/virtio/memory.ts';
import { MMIO, VirtioMmioTransport } from '../../src/virtio/mmio.ts';
import { MmioDriver, VirtioTransportError } from '../../src/virtio/mmio-driver.ts';
import { EchoDevice } from '../helpers/echo-device.ts';

function setup() {
  const mem = new GuestMemory(new SharedArrayBuffer(1 << 16));
  const dev = new EchoDevice(mem);
  const irq: boolean[] = [];
  const t = new VirtioMmioTransport(dev, { onInterrupt: (a) => irq.push(a) });
  const drv = new MmioDriver(t, mem);
  const alloc = new GuestHeap(0, mem.size);
  return { mem, dev, irq, t, drv, alloc };
}

describe('virtio-mmio transport', () => {
  it('identifies itself', () => {
    const { t, drv } = setup();
    expect(t.read(MMIO.MagicValue, 4)).toBe(0x74726976);
    expect(t.read(MMIO.Version, 4)).toBe(2);
    expect(drv.probe()).toBe(0x7e);
    expect(t.read(MMIO.VendorID, 4)).toBe(0x554d4551);
    expect(t.read(MMIO.SHMLenLow, 4)).toBe(0xffffffff);
    // Registers take 32-bit accesses only.
    expect(t.read(MMIO.MagicValue, 2)).toBe(0);
    expect(t.read(MMIO.MagicValue + 1, 4)).toBe(0);
  });

  it('runs the spec 3.1.1 init sequence and serves a queue', () => {
    const { t, dev, drv, irq, alloc, mem } = setup();
    const features = drv.negotiate(featureBit(VIRTIO_F_EVENT_IDX) | featureBit(3));
    expect(features).toBe(
      featureBit(VIRTIO_F_VERSION_1) | featureBit(VIRTIO_F_EVENT_IDX) | featureBit(3),
    );
    expect(dev.features).toBe(features);
    expect(t.deviceStatus).toBe(
      VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK,
    );
    const q = drv.setupQueue<number>(0, 64, alloc);
    expect(q.size).toBe(64);
    expect(dev.active).toBe(false);
    drv.driverOk();
    expect(dev.active).toBe(true);
    expect(dev.queues[0].ready).toBe(true);

    const src = alloc.alloc(8);
    const dst = alloc.alloc(8);
    mem.write(src, [1, 2, 3, 4, 5, 6, 7, 8]);
    q.add(
      [
        { addr: src, len: 8 },
        { addr: dst, len: 8 },
      ],
      1,
      7,
    );
    expect(q.kickPrepare()).toBe(true);
    drv.notify(0);
    expect(dev.notifies).toEqual([0]);
    expect(irq).toEqual([true]);
    expect(t.read(MMIO.InterruptStatus, 4)).toBe(VIRTIO_MMIO_INT_VRING);
    expect(drv.ackInterrupt()).toBe(VIRTIO_MMIO_INT_VRING);
    expect(irq).toEqual([true, false]);
    expect(q.getBuf()).toBe(7);
    expect(q.lastLen).toBe(8);
    expect([...mem.read(dst, 8)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('refuses features the device did not offer, and drivers without VERSION_1', () => {
    const { t } = setup();
    t.write(MMIO.Status, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 4);
    t.write(MMIO.DriverFeaturesSel, 0, 4);
    t.write(MMIO.DriverFeatures, 1 << 5, 4); // bit 5: not offered
    t.write(MMIO.DriverFeaturesSel, 1, 4);
    t.write(MMIO.DriverFeatures, 1, 4); // VERSION_1
    t.write(MMIO.Status, t.deviceStatus | VIRTIO_STATUS_FEATURES_OK, 4);
    expect(t.deviceStatus & VIRTIO_STATUS_FEATURES_OK).toBe(0);

    t.write(MMIO.DriverFeaturesSel, 0, 4);
    t.write(MMIO.DriverFeatures, 0, 4);
    t.write(MMIO.DriverFeaturesSel, 1, 4);
    t.write(MMIO.DriverFeatures, 0, 4); // no VERSION_1
    t.write(MMIO.Status, t.deviceStatus | VIRTIO_STATUS_FEATURES_OK, 4);
    expect(t.deviceStatus & VIRTIO_STATUS_FEATURES_OK).toBe(0);
    // DRIVER_OK without FEATURES_OK does not take.
    t.write(MMIO.Status, t.deviceStatus | VIRTIO_STATUS_DRIVER_OK, 4);
    expect(t.deviceStatus & VIRTIO_STATUS_DRIVER_OK).toBe(0);
  });

  it('lets the device refuse the features at FEATURES_OK', () => {
    const { dev, drv } = setup();
    dev.refuseFeatures = true;
    expect(() => drv.negotiate(0n)).toThrow(VirtioTransportError);
  });

  it('refuses queue sizes that are not powers of two or too large', () => {
    const { t } = setup();
    t.write(MMIO.QueueSel, 0, 4);
    expect(t.read(MMIO.QueueNumMax, 4)).toBe(256);
    for (const num of [0, 3, 100, 512]) {
      t.write(MMIO.QueueNum, num, 4);
      t.write(MMIO.QueueReady, 1, 4);
      expect(t.read(MMIO.QueueReady, 4)).toBe(0);
    }
    t.write(MMIO.QueueSel, 5, 4);
    expect(t.read(MMIO.QueueNumMax, 4)).toBe(0);
  });

  it('ignores queue register writes while the queue is ready', () => {
    const { t, dev, drv, alloc } = setup();
    drv.negotiate(0n);
    drv.setupQueue(0, 8, alloc);
    t.write(MMIO.QueueNum, 16, 4);
    t.write(MMIO.QueueDescLow, 0x4000, 4);
    drv.driverOk();
    expect(dev.queues[0].size).toBe(8);
  });

  it('sets NEEDS_RESET with a config interrupt when queue rings are outside memory', () => {
    const { t, drv, irq } = setup();
    drv.negotiate(0n);
    t.write(MMIO.QueueSel, 0, 4);
    t.write(MMIO.QueueNum, 8, 4);
    t.write(MMIO.QueueDescLow, 0xfff0, 4); // table runs past the end of memory
    t.write(MMIO.QueueReady, 1, 4);
    expect(() => drv.driverOk()).toThrow(VirtioTransportError);
    expect(t.deviceStatus & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBeTruthy();
    expect(t.read(MMIO.InterruptStatus, 4)).toBe(VIRTIO_MMIO_INT_CONFIG);
    expect(irq).toEqual([true]);
  });

  it('reads configuration space with 8/16/32-bit accesses and tracks its generation', () => {
    const { t, dev } = setup();
    expect(t.read(MMIO.Config, 4)).toBe(0x44332211);
    expect(t.read(MMIO.Config + 2, 2)).toBe(0x4433);
    expect(t.read(MMIO.Config + 5, 1)).toBe(0x66);
    expect(t.read(MMIO.Config + 1, 2)).toBe(0); // misaligned
    const g = t.read(MMIO.ConfigGeneration, 4);
    dev.link?.configChanged();
    expect(t.read(MMIO.ConfigGeneration, 4)).toBe(g + 1);
    expect(t.read(MMIO.InterruptStatus, 4) & VIRTIO_MMIO_INT_CONFIG).toBeTruthy();
  });

  it('resets everything on a write of 0 to Status', () => {
    const { t, dev, drv, alloc, irq } = setup();
    drv.negotiate(featureBit(VIRTIO_F_EVENT_IDX));
    drv.setupQueue(0, 8, alloc);
    drv.driverOk();
    dev.link?.interruptQueue();
    t.write(MMIO.Status, 0, 4);
    expect(dev.resets).toBeGreaterThan(0);
    expect(dev.active).toBe(false);
    expect(t.deviceStatus).toBe(0);
    expect(t.read(MMIO.InterruptStatus, 4)).toBe(0);
    expect(irq.at(-1)).toBe(false);
    t.write(MMIO.QueueSel, 0, 4);
    expect(t.read(MMIO.QueueReady, 4)).toBe(0);
    expect(dev.queues[0].ready).toBe(false);
    // The driver can start over.
    drv.negotiate(0n);
    drv.setupQueue(0, 8, new GuestHeap(0x8000, 0x10000));
    drv.driverOk();
    expect(dev.active).toBe(true);
  });

  it('ignores a driver write that would clear status bits, and NEEDS_RESET from the driver', () => {
    const { t, drv } = setup();
    drv.negotiate(0n);
    const s = t.deviceStatus;
    t.write(MMIO.Status, VIRTIO_STATUS_ACKNOWLEDGE, 4);
    expect(t.deviceStatus).toBe(s);
    t.write(MMIO.Status, s | VIRTIO_STATUS_DEVICE_NEEDS_RESET, 4);
    expect(t.deviceStatus & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBe(0);
  });
});
