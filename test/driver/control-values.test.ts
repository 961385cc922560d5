/**
 * Control values coded as Linux include/uapi/linux/virtio_snd.h codes them,
 * for every type: BOOLEAN, INTEGER and ENUMERATED as le32, INTEGER64 as le64
 * (its ctl_info range too), BYTES as u8, IEC958 as its 176-byte struct.
 * The driver and the device agree, and the driver reads a range the device
 * reports in the integer64 member of the ctl_info union.
 */
import { describe, expect, it } from 'vitest';
import { type ControlConfig, ControlConfigError } from '../../src/device/control/controls.ts';
import { VirtioSndDevice } from '../../src/device/control/virtio-snd-device.ts';
import { VirtioSndDriver } from '../../src/driver/card.ts';
import { CtlRequestError } from '../../src/driver/errors.ts';
import * as P from '../../src/snd/protocol.ts';
import { GuestMemory } from '../../src/virtio/memory.ts';
import { VirtioMmioTransport } from '../../src/virtio/mmio.ts';
import { HostileDevice } from '../helpers/hostile-device.ts';
import { InProcess } from '../helpers/in-process.ts';
import { SndGuest } from '../helpers/snd-guest.ts';

const CONTROLS: ControlConfig[] = [
  { name: 'Blob', type: 'bytes', count: 512 },
  { name: 'Big Volume', type: 'integer64', min: 0, max: 100, step: 1, values: [100] },
  { name: 'Wide Range', type: 'integer64', count: 2, min: -(2 ** 40), max: 2 ** 40 },
  { name: 'Mode', type: 'enumerated', items: ['Off', 'On', 'Auto'], values: [2] },
  { name: 'Offset', type: 'integer', min: -10, max: 10, values: [-3] },
  { name: 'IEC958 Playback Default', type: 'iec958' },
];

describe('control values, every type', () => {
  it('BYTES (count 512) and INTEGER64 round-trip through driver and device', async () => {
    const p = await InProcess.create({ controls: CONTROLS });
    const ctl = p.driver.controls!;
    const blob = ctl.find('Blob')!;
    expect(blob).toMatchObject({ type: 'bytes', count: 512, min: 0, max: 255 });
    const bytes = Array.from({ length: 512 }, (_, i) => (i * 7 + 1) & 0xff);
    bytes.splice(0, 4, 1, 2, 3, 4);
    await ctl.write(blob.id, bytes);
    expect((await ctl.read(blob.id)).slice(0, 4)).toEqual([1, 2, 3, 4]);
    expect(await ctl.read(blob.id)).toEqual(bytes);
    expect(p.device.controls!.values(blob.id)).toEqual(bytes);

    const big = ctl.find('Big Volume')!;
    expect(big).toMatchObject({ type: 'integer64', min: 0, max: 100, step: 1 });
    expect(await ctl.read(big.id)).toEqual([100]);
    await ctl.write(big.id, [42]);
    expect(await ctl.read(big.id)).toEqual([42]);
    const wide = ctl.find('Wide Range')!;
    expect(wide).toMatchObject({ min: -(2 ** 40), max: 2 ** 40 });
    await ctl.write(wide.id, [-(2 ** 40), 2 ** 33 + 5]);
    expect(await ctl.read(wide.id)).toEqual([-(2 ** 40), 2 ** 33 + 5]);
    await expect(ctl.write(big.id, [101])).rejects.toThrow(/out of range/);
  });

  it('ENUMERATED, INTEGER (signed) and IEC958 (176 bytes)', async () => {
    const p = await InProcess.create({ controls: CONTROLS });
    const ctl = p.driver.controls!;
    const mode = ctl.find('Mode')!;
    expect(mode.items).toEqual(['Off', 'On', 'Auto']);
    expect(await ctl.read(mode.id)).toEqual([2]);
    const offset = ctl.find('Offset')!;
    expect(await ctl.read(offset.id)).toEqual([-3]);
    await ctl.write(offset.id, [-10]);
    expect(p.device.controls!.values(offset.id)).toEqual([-10]);
    const iec = ctl.find('IEC958 Playback Default')!;
    expect(iec).toMatchObject({ type: 'iec958', count: 1 });
    const status = Array.from({ length: P.CTL_IEC958.size }, (_, i) => (i === 0 ? 0x04 : i & 0x7f));
    await ctl.write(iec.id, status);
    expect(await ctl.read(iec.id)).toEqual(status);
    await expect(ctl.write(iec.id, [1])).rejects.toThrow(/takes 176 values/);
  });

  it('the device codes a CTL_WRITE of BYTES as u8 and of INTEGER64 as le64', async () => {
    const p = await InProcess.create({ controls: CONTROLS });
    const req = (id: number, fill: (v: DataView) => void) => {
      const b = new Uint8Array(P.CTL_HDR.size + P.CTL_VALUE.size);
      const v = new DataView(b.buffer);
      v.setUint32(0, P.VIRTIO_SND_R_CTL_WRITE, true);
      v.setUint32(4, id, true);
      fill(new DataView(b.buffer, P.CTL_HDR.size));
      return b;
    };
    const blob = p.driver.controls!.find('Blob')!.id;
    await p.driver.ctl.send(
      req(blob, (v) => v.setUint8(511, 0xab)),
      4,
    );
    expect(p.device.controls!.values(blob)[511]).toBe(0xab);
    const big = p.driver.controls!.find('Big Volume')!.id;
    await p.driver.ctl.send(
      req(big, (v) => v.setBigInt64(0, 77n, true)),
      4,
    );
    expect(p.device.controls!.values(big)).toEqual([77]);
    const e = await p.driver.ctl
      .send(
        req(big, (v) => v.setBigInt64(0, 1n << 40n, true)),
        4,
      )
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CtlRequestError);
  });
});

describe('device: control configuration of every type', () => {
  it('refuses counts past the spec maximum and ranges that do not fit the type', () => {
    const make = (c: ControlConfig) => () =>
      new VirtioSndDevice({
        memory: new SharedArrayBuffer(1 << 16),
        sampleRate: 48000,
        autoService: false,
        controls: [c],
      });
    expect(make({ name: 'B', type: 'bytes', count: 512 })).not.toThrow();
    expect(make({ name: 'B', type: 'bytes', count: 513 })).toThrow(ControlConfigError);
    expect(make({ name: 'W', type: 'integer64', count: 65, min: 0, max: 1 })).toThrow(
      ControlConfigError,
    );
    expect(make({ name: 'I', type: 'iec958', count: 2 })).toThrow(ControlConfigError);
    expect(make({ name: 'W', type: 'integer64', min: 0, max: 2 ** 60 })).toThrow(
      ControlConfigError,
    );
    expect(make({ name: 'N', type: 'integer', min: 0, max: 2 ** 31 })).toThrow(ControlConfigError);
  });
});

describe('device: CTL_INFO of an INTEGER64 control in both layouts', () => {
  it('le64 min/max/step at 72 (LP64, 96 bytes) or 68 (i386, 92 bytes)', () => {
    const g = new SndGuest({ controls: [CONTROLS[1]] }).init();
    for (const [size, at] of [
      [96, 72],
      [92, 68],
    ]) {
      const r = g.query(P.VIRTIO_SND_R_CTL_INFO, 0, 1, size);
      expect(r.status).toBe(P.VIRTIO_SND_S_OK);
      const v = new DataView(r.payload.buffer, r.payload.byteOffset);
      expect(v.getUint32(P.CTL_INFO.type, true)).toBe(P.VIRTIO_SND_CTL_TYPE_INTEGER64);
      expect([0, 8, 16].map((k) => v.getBigInt64(at + k, true))).toEqual([0n, 100n, 1n]);
    }
  });
});

describe('driver: control info from a device it does not know', () => {
  /** The default device, whose CTL_INFO answer is rewritten by `lie` (control 0 and 1). */
  async function lyingCard(lie: (info: DataView) => void): Promise<VirtioSndDriver> {
    const memory = new SharedArrayBuffer(4 << 20);
    const inner = new VirtioSndDevice({ memory, sampleRate: 48000, autoService: false });
    const dev = new HostileDevice(inner, new GuestMemory(memory));
    let driver: VirtioSndDriver | null = null;
    const transport = new VirtioMmioTransport(dev, { onInterrupt: (l) => driver?.interrupt(l) });
    driver = new VirtioSndDriver(transport, memory);
    dev.lies.response = (_n, resp) => {
      const v = new DataView(resp.buffer, resp.byteOffset, resp.byteLength);
      if (
        resp.byteLength >= 4 + 4 * P.CTL_INFO.size &&
        v.getUint32(4 + P.CTL_INFO.type, true) === 1
      )
        lie(new DataView(resp.buffer, resp.byteOffset + 4));
      return undefined;
    };
    await driver.probe();
    return driver;
  }

  it('reads an INTEGER64 range from the le64 member of the value union', async () => {
    const drv = await lyingCard((info) => {
      info.setUint32(P.CTL_INFO.type, P.VIRTIO_SND_CTL_TYPE_INTEGER64, true);
      info.setBigInt64(P.CTL_INFO.value, 0n, true);
      info.setBigInt64(P.CTL_INFO.value + 8, 100n, true);
      info.setBigInt64(P.CTL_INFO.value + 16, 1n, true);
    });
    expect(drv.controls!.controls[0]).toMatchObject({
      type: 'integer64',
      min: 0,
      max: 100,
      step: 1,
    });
  });

  it('a BYTES control of count 512 is written as 512 bytes (no untyped RangeError)', async () => {
    const drv = await lyingCard((info) => {
      info.setUint32(P.CTL_INFO.type, P.VIRTIO_SND_CTL_TYPE_BYTES, true);
      info.setUint32(P.CTL_INFO.count, 512, true);
    });
    const c = drv.controls!.controls[0];
    expect(c).toMatchObject({ type: 'bytes', count: 512 });
    // 512 bytes fit the 512-byte value (the device's control 0, an integer, reads 0 from them).
    await expect(drv.controls!.write(0, new Array(512).fill(0))).resolves.toBeUndefined();
    await expect(drv.controls!.write(0, new Array(512).fill(256))).rejects.toThrow(/out of range/);
  });
});
