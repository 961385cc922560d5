/**
 * The virtio-mmio transport's snapshot: every register comes back (status,
 * features and selectors, queue registers, interrupt status and line,
 * config generation), the device is never called, and registers no
 * transport could hold are refused with nothing changed.
 */
import { describe, expect, it } from 'vitest';
import { SnapshotError } from '../../src/snapshot/snapshot-format.ts';
import type { VirtioDevice } from '../../src/virtio/device.ts';
import type { QueueSetup } from '../../src/virtio/device-queue.ts';
import { featureBit, VIRTIO_F_VERSION_1 } from '../../src/virtio/features.ts';
import { MMIO, VirtioMmioTransport } from '../../src/virtio/mmio.ts';

class FakeDevice implements VirtioDevice {
  readonly deviceId = 25;
  readonly vendorId = 0x1af4;
  readonly deviceFeatures = featureBit(VIRTIO_F_VERSION_1) | 1n;
  readonly numQueues = 2;
  calls: string[] = [];
  link: { configChanged(): void } | null = null;
  queueMaxSize(): number {
    return 16;
  }
  readConfig(): number {
    return 0;
  }
  writeConfig(): void {}
  negotiate(): boolean {
    this.calls.push('negotiate');
    return true;
  }
  activate(_q: readonly (QueueSetup | null)[]): boolean {
    this.calls.push('activate');
    return true;
  }
  queueNotify(): void {}
  reset(): void {
    this.calls.push('reset');
  }
  attach(link: { configChanged(): void }): void {
    this.link = link;
  }
}

function pair() {
  const device = new FakeDevice();
  const lines: boolean[] = [];
  const t = new VirtioMmioTransport(device, { onInterrupt: (l) => lines.push(l) });
  return { device, t, lines };
}

/** Every register a driver can read back. */
function registers(t: VirtioMmioTransport): number[] {
  const out = [MMIO.Status, MMIO.InterruptStatus, MMIO.ConfigGeneration].map((r) => t.read(r, 4));
  for (let q = 0; q < 2; q++) {
    t.write(MMIO.QueueSel, q, 4);
    out.push(t.read(MMIO.QueueReady, 4));
  }
  return out;
}

describe('virtio-mmio transport snapshot', () => {
  it('restores every register into a new transport without calling the device', () => {
    const a = pair();
    const t = a.t;
    t.write(MMIO.Status, 1 | 2, 4);
    t.write(MMIO.DriverFeaturesSel, 1, 4);
    t.write(MMIO.DriverFeatures, 1, 4); // VERSION_1 (bit 32)
    t.write(MMIO.DriverFeaturesSel, 0, 4);
    t.write(MMIO.DriverFeatures, 1, 4);
    t.write(MMIO.Status, 1 | 2 | 8, 4);
    t.write(MMIO.QueueSel, 1, 4);
    t.write(MMIO.QueueNum, 8, 4);
    t.write(MMIO.QueueDescLow, 0x1000, 4);
    t.write(MMIO.QueueReady, 1, 4);
    t.write(MMIO.Status, 1 | 2 | 8 | 4, 4);
    a.device.link?.configChanged(); // config generation 1, INT_CONFIG raised
    t.write(MMIO.QueueSel, 0, 4);
    const snap = t.saveState();
    const b = pair();
    b.t.restoreState(snap);
    expect(b.device.calls).toEqual([]);
    expect(b.lines).toEqual([true]); // the line follows the restored interrupt status
    expect(b.t.negotiatedFeatures).toBe(featureBit(VIRTIO_F_VERSION_1) | 1n);
    expect(b.t.read(MMIO.QueueNum, 4)).toBe(0); // queue 0 was selected, never set
    expect(registers(b.t)).toEqual(registers(t));
    expect(b.t.saveState()).toEqual(t.saveState());
  });

  it('refuses registers no transport holds, changing nothing', () => {
    const { t } = pair();
    const good = t.saveState();
    const before = t.saveState();
    const at = (field: number) => 16 + 8 + 4 * field; // header, section header, then u32 fields
    const bad = (field: number, v: number) => {
      const b = good.slice();
      new DataView(b.buffer).setUint32(at(field), v, true);
      return b;
    };
    for (const [name, bytes] of [
      ['undefined status bits', bad(0, 0x30)],
      ['DRIVER_OK without activation', bad(0, 4 | 8)],
      ['undefined interrupt bits', bad(1, 4)],
    ] as const) {
      expect(() => t.restoreState(bytes), name).toThrow(SnapshotError);
      expect(t.saveState()).toEqual(before);
    }
    const other = new VirtioMmioTransport(Object.assign(new FakeDevice(), { numQueues: 3 }), {
      onInterrupt: () => {},
    });
    expect(() => other.restoreState(good)).toThrow(/3/);
  });
});
