import { describe, expect, it } from 'vitest';
import { VirtioSndDevice } from '../../src/device/control/virtio-snd-device.ts';
import { VirtioSndDriver } from '../../src/driver/card.ts';
import {
  CtlRequestError,
  CtlTimeoutError,
  PcmParamError,
  PcmStateError,
  VirtioSndError,
} from '../../src/driver/errors.ts';
import * as P from '../../src/snd/protocol.ts';
import { VirtioMmioTransport } from '../../src/virtio/mmio.ts';
import { InProcess } from '../helpers/in-process.ts';

const S16 = P.VIRTIO_SND_PCM_FMT_S16;

describe('controls and jacks', () => {
  it('Master Playback Volume and Switch change the rendered amplitude', async () => {
    const p = await InProcess.create();
    const pcm = p.driver.pcm(0);
    const ctl = p.driver.controls!;
    await pcm.hwParams({ format: S16, rate: 48000, channels: 2, periodFrames: 1024, periods: 4 });
    await pcm.prepare();
    await pcm.writei(new Int16Array(4096 * 2).fill(16384)); // 0.5
    const vol = ctl.find('Master Playback Volume')!;
    await ctl.write(vol.id, [60]); // -20 dB
    expect(await ctl.read(vol.id)).toEqual([60]);
    for (let i = 0; i < 8; i++) await p.tick();
    const [l] = await p.tick();
    expect(l[127]).toBeCloseTo(0.5 * 10 ** (-20 / 20), 6);
    await ctl.write(ctl.find('Master Playback Switch')!.id, [0]);
    for (let i = 0; i < 6; i++) await p.tick();
    const [m] = await p.tick();
    expect(m[127]).toBe(0);
    const tlv = await ctl.tlv(vol.id);
    expect(new DataView(tlv.buffer, tlv.byteOffset).getInt32(8, true)).toBe(-5000);
  });

  it('host changes reach the driver: CTL_NOTIFY -> onChange, jack events -> onChange', async () => {
    const p = await InProcess.create();
    const seen: [string, number[]][] = [];
    p.driver.controls!.onChange = (c, v) => seen.push([c.name, v]);
    const jacks: [number, boolean][] = [];
    p.driver.jacks.onChange = (j) => jacks.push([j.id, j.connected]);
    p.device.setControl('Capture Volume', [40]);
    p.device.setJackConnected(1, false);
    for (let i = 0; i < 3; i++) await p.tick();
    expect(seen).toEqual([['Capture Volume', [40]]]);
    expect(jacks).toEqual([[1, false]]);
    expect(p.driver.jacks.jacks[1].connected).toBe(false);
  });

  it('refuses out-of-range control values before sending them', async () => {
    const p = await InProcess.create();
    const ctl = p.driver.controls!;
    await expect(ctl.write(0, [101])).rejects.toThrow(/out of range/);
    await expect(ctl.write(0, [1, 2])).rejects.toThrow(/takes 1 values/);
    await expect(ctl.read(99)).rejects.toThrow(/no control 99/);
  });
});

describe('typed errors', () => {
  it('hwParams names the constraint that failed', async () => {
    const p = await InProcess.create({
      streams: [
        { direction: 'output', rates: [48000], formats: [S16], channelsMax: 2 },
        { direction: 'input' },
      ],
    });
    const pcm = p.driver.pcm(0);
    const base = { format: S16, rate: 48000, channels: 2, periodFrames: 256, periods: 4 };
    const cases: [Partial<typeof base>, string][] = [
      [{ format: P.VIRTIO_SND_PCM_FMT_FLOAT }, 'format'],
      [{ rate: 44100 }, 'rate'],
      [{ channels: 3 }, 'channels'],
      [{ periodFrames: 0 }, 'periodFrames'],
      [{ periods: 1 }, 'periods'],
      [{ periods: 500 }, 'periods'],
      [{ periodFrames: 1 << 20 }, 'buffer'],
    ];
    for (const [bad, param] of cases) {
      const e = await pcm.hwParams({ ...base, ...bad }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(PcmParamError);
      expect((e as PcmParamError).param).toBe(param);
    }
  });

  it('operations in the wrong state throw PcmStateError', async () => {
    const p = await InProcess.create();
    const pcm = p.driver.pcm(0);
    await expect(pcm.start()).rejects.toBeInstanceOf(PcmStateError);
    await expect(pcm.writei(new Uint8Array(4))).rejects.toBeInstanceOf(PcmStateError);
    await pcm.hwParams({ format: S16, rate: 48000, channels: 2, periodFrames: 256, periods: 4 });
    await expect(pcm.pause(true)).rejects.toBeInstanceOf(PcmStateError);
    await expect(p.driver.pcm(1).writei(new Uint8Array(4))).rejects.toBeInstanceOf(PcmStateError);
    await expect(pcm.writei(new Uint8Array(3))).rejects.toThrow(/whole number/);
    expect(() => p.driver.pcm(7)).toThrow(VirtioSndError);
  });

  it('a non-OK status is a CtlRequestError naming the request and the status', async () => {
    const p = await InProcess.create();
    const e = await p.driver.ctl
      .send(ctlBytes(P.VIRTIO_SND_R_PCM_START, 0), 4)
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CtlRequestError);
    expect((e as Error).message).toBe('PCM_START failed: BAD_MSG');
  });

  it('a device that never answers gives CtlTimeoutError after the timeout', async () => {
    const memory = new SharedArrayBuffer(4 << 20);
    const device = new VirtioSndDevice({ memory, sampleRate: 48000, autoService: false });
    let driver: VirtioSndDriver | null = null;
    const transport = new VirtioMmioTransport(device, { onInterrupt: (l) => driver?.interrupt(l) });
    // Swallow every control queue notification: the request sits there forever.
    const regs = {
      read: (o: number, s: 1 | 2 | 4) => transport.read(o, s),
      write: (o: number, v: number, s: 1 | 2 | 4) => {
        if (o === 0x050 && v === 0) return;
        transport.write(o, v, s);
      },
    };
    driver = new VirtioSndDriver(regs, memory, { timeoutMs: 50 });
    const t0 = performance.now();
    const e = await driver.probe().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CtlTimeoutError);
    expect((e as Error).message).toBe('JACK_INFO timed out after 50 ms');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
  });
});

function ctlBytes(code: number, streamId: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, code, true);
  v.setUint32(4, streamId, true);
  return b;
}
