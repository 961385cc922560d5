/** The driver distrusts the device: impossible answers are typed errors (and a reset), never corruption. */
import { describe, expect, it } from 'vitest';
import { VirtioSndDevice } from '../../src/device/control/virtio-snd-device.ts';
import { PcmRenderer } from '../../src/device/render/pcm-renderer.ts';
import { SharedState } from '../../src/device/shared/layout.ts';
import { VirtioSndDriver } from '../../src/driver/card.ts';
import { DeviceError } from '../../src/driver/errors.ts';
import * as P from '../../src/snd/protocol.ts';
import { QS_USED } from '../../src/virtio/device-queue.ts';
import { GuestMemory } from '../../src/virtio/memory.ts';
import { VirtioMmioTransport } from '../../src/virtio/mmio.ts';
import { HostileDevice, type Lies } from '../helpers/hostile-device.ts';
import { settle } from '../helpers/in-process.ts';

function setup(lies: Lies = {}) {
  const memory = new SharedArrayBuffer(4 << 20);
  const mem = new GuestMemory(memory);
  const inner = new VirtioSndDevice({ memory, sampleRate: 48000, autoService: false });
  const hostile = new HostileDevice(inner, mem);
  hostile.lies = lies;
  let driver: VirtioSndDriver | null = null;
  const transport = new VirtioMmioTransport(hostile, { onInterrupt: (l) => driver?.interrupt(l) });
  driver = new VirtioSndDriver(transport, memory, { timeoutMs: 200 });
  const renderer = new PcmRenderer(inner.renderState);
  const tick = async () => {
    renderer.process([[]], [[new Float32Array(128), new Float32Array(128)]]);
    inner.service();
    await settle();
  };
  return { driver, inner, hostile, transport, tick, mem };
}

async function probeError(lies: Lies): Promise<unknown> {
  const { driver } = setup(lies);
  return driver.probe().then(
    () => null,
    (e: unknown) => e,
  );
}

describe('impossible configurations', () => {
  it('zero streams', async () => {
    const e = await probeError({ config: { 1: 0 } });
    expect(e).toBeInstanceOf(DeviceError);
    expect((e as Error).message).toMatch(/no PCM streams/);
  });
  it('100000 jacks', async () => {
    expect(await probeError({ config: { 0: 100000 } })).toBeInstanceOf(DeviceError);
  });
  it('more streams than PCM_INFO can describe (short answer)', async () => {
    expect(await probeError({ config: { 1: 5 } })).toBeInstanceOf(Error);
  });
});

describe('impossible answers', () => {
  const pcmInfo = (mutate: (v: DataView) => void): Lies => ({
    response: (n, resp) => {
      // Request 1 is PCM_INFO (after JACK_INFO).
      if (n === 1) mutate(new DataView(resp.buffer, resp.byteOffset + 4));
      return undefined;
    },
  });
  it('PCM_INFO with an undefined direction', async () => {
    const e = await probeError(pcmInfo((v) => v.setUint8(P.PCM_INFO.direction, 7)));
    expect(e).toBeInstanceOf(DeviceError);
    expect((e as Error).message).toMatch(/direction 7/);
  });
  it('PCM_INFO with channels_min > channels_max', async () => {
    const e = await probeError(
      pcmInfo((v) => {
        v.setUint8(P.PCM_INFO.channelsMin, 5);
        v.setUint8(P.PCM_INFO.channelsMax, 2);
      }),
    );
    expect(e).toBeInstanceOf(DeviceError);
  });
  it('PCM_INFO with no usable format', async () => {
    const e = await probeError(pcmInfo((v) => v.setBigUint64(P.PCM_INFO.formats, 1n << 21n, true)));
    expect(e).toBeInstanceOf(DeviceError);
  });
  it('a response shorter than asked', async () => {
    const e = await probeError({
      response: (n, _r, len) => (n === 1 ? Math.min(len, 20) : undefined),
    });
    expect(e).toBeInstanceOf(DeviceError);
    expect((e as Error).message).toMatch(/is 16 bytes, want 64/);
  });
  it('a response with no status at all reads as an I/O error', async () => {
    const e = await probeError({ response: (n) => (n === 0 ? 0 : undefined) });
    expect((e as Error).message).toMatch(/JACK_INFO failed: IO_ERR/);
  });
});

describe('broken used rings', () => {
  async function playing(lies: Lies) {
    const s = setup();
    await s.driver.probe();
    const pcm = s.driver.pcm(0);
    await pcm.hwParams({
      format: P.VIRTIO_SND_PCM_FMT_S16,
      rate: 48000,
      channels: 2,
      periodFrames: 128,
      periods: 4,
    });
    await pcm.prepare();
    await pcm.writei(new Int16Array(512 * 2).fill(7));
    const errors: unknown[] = [];
    s.driver.onError = (e) => errors.push(e);
    s.hostile.lies = lies;
    return { ...s, pcm, errors };
  }

  for (const [name, lie] of [
    [
      'a used id not in flight',
      (q: number, id: number, len: number): [number, number] =>
        q === 2 ? [id ^ 0x40, len] : [id, len],
    ],
    [
      'a used length beyond the buffer',
      (q: number, id: number, len: number): [number, number] => (q === 2 ? [id, 4096] : [id, len]),
    ],
  ] as const) {
    it(`${name}: DeviceError, device reset, the app gets the error`, async () => {
      const s = await playing({ used: lie });
      await s.tick();
      await s.tick();
      expect(s.errors).toHaveLength(1);
      expect(s.errors[0]).toBeInstanceOf(DeviceError);
      expect(s.driver.error).toBe(s.errors[0]);
      expect(s.transport.deviceStatus).toBe(0); // reset
      expect(s.pcm.state).toBe('disconnected');
      await expect(s.pcm.writei(new Int16Array(8))).rejects.toBe(s.errors[0]);
    });
  }

  it('used.idx running ahead', async () => {
    const s = await playing({});
    const rs = s.hostile.inner.renderState;
    const used = new SharedState(rs.shared, rs.layout).queueState(2)[QS_USED]; // the TX used ring
    s.mem.storeU16(used + 2, 200);
    s.driver.poll();
    expect(s.errors[0]).toBeInstanceOf(DeviceError);
    expect((s.errors[0] as Error).message).toMatch(/ahead of the buffers in flight/);
  });
});

describe('garbage events', () => {
  it('unknown codes and out-of-range ids are ignored', async () => {
    const s = setup();
    await s.driver.probe();
    // Push nonsense through the device's own event path.
    const ring = s.inner as unknown as { events: { push(c: number, d: number): void } };
    for (const [c, d] of [
      [0x9999, 1],
      [P.VIRTIO_SND_EVT_PCM_XRUN, 77],
      [P.VIRTIO_SND_EVT_JACK_CONNECTED, 1 << 30],
      [P.VIRTIO_SND_EVT_CTL_NOTIFY, 0xffff | (1 << 16)],
      [P.VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED, 0],
    ]) {
      ring.events.push(c, d);
    }
    s.inner.service();
    await settle();
    await s.tick();
    expect(s.driver.error).toBeNull();
    expect(s.driver.pcm(0).state).toBe('open');
  });
});
