/**
 * Driver and device in one thread: the driver talks to the device through a
 * VirtioMmioTransport, and the test advances audio time by calling the
 * renderer itself (a fake audio clock).
 */

import {
  VirtioSndDevice,
  type VirtioSndDeviceOptions,
} from '../../src/device/control/virtio-snd-device.ts';
import { PcmRenderer } from '../../src/device/render/pcm-renderer.ts';
import { type DriverOptions, VirtioSndDriver } from '../../src/driver/card.ts';
import type { HwParams, PcmStream } from '../../src/driver/pcm-ops.ts';
import { VIRTIO_SND_PCM_FMT_S16 } from '../../src/snd/protocol.ts';
import { VirtioMmioTransport } from '../../src/virtio/mmio.ts';

export const QUANTUM = 128;

/** The tests' usual stream: S16 stereo at 48 kHz, 4 periods of 256 frames. */
export const TEST_HW_PARAMS: HwParams = {
  format: VIRTIO_SND_PCM_FMT_S16,
  rate: 48000,
  channels: 2,
  periodFrames: 256,
  periods: 4,
};

/** Lets every pending microtask and immediate run (interrupt handling, awaiting writers). */
export function settle(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

export class InProcess {
  readonly memory: SharedArrayBuffer;
  readonly device: VirtioSndDevice;
  readonly transport: VirtioMmioTransport;
  readonly driver: VirtioSndDriver;
  readonly renderer: PcmRenderer;
  /** Every rendered quantum, left and right, when recording. */
  recorded: { l: Float32Array[]; r: Float32Array[] } = { l: [], r: [] };
  record = false;
  quanta = 0;

  constructor(
    deviceOpts: Partial<VirtioSndDeviceOptions> = {},
    driverOpts: DriverOptions = {},
    memBytes = 8 << 20,
  ) {
    this.memory = new SharedArrayBuffer(memBytes);
    this.device = new VirtioSndDevice({
      memory: this.memory,
      sampleRate: 48000,
      autoService: false,
      ...deviceOpts,
    });
    let driver: VirtioSndDriver | null = null;
    this.transport = new VirtioMmioTransport(this.device, {
      onInterrupt: (l) => driver?.interrupt(l),
    });
    this.driver = new VirtioSndDriver(this.transport, this.memory, driverOpts);
    driver = this.driver;
    this.renderer = new PcmRenderer(this.device.renderState);
  }

  static async create(
    deviceOpts: Partial<VirtioSndDeviceOptions> = {},
    driverOpts: DriverOptions = {},
  ): Promise<InProcess> {
    const p = new InProcess(deviceOpts, driverOpts);
    await p.driver.probe();
    return p;
  }

  /** Stream `id` with hw params (TEST_HW_PARAMS unless given), prepared. */
  async prepared(id: number, params: Partial<HwParams> = {}): Promise<PcmStream> {
    const pcm = this.driver.pcm(id);
    await pcm.hwParams({ ...TEST_HW_PARAMS, ...params });
    await pcm.prepare();
    return pcm;
  }

  /** One render quantum: process(), let the control plane and driver react. */
  async tick(input?: Float32Array[]): Promise<[Float32Array, Float32Array]> {
    const out: [Float32Array, Float32Array] = [
      new Float32Array(QUANTUM),
      new Float32Array(QUANTUM),
    ];
    this.renderer.process([input ?? []], [out]);
    this.quanta++;
    if (this.record) {
      this.recorded.l.push(out[0]);
      this.recorded.r.push(out[1]);
    }
    this.device.service();
    await settle();
    return out;
  }

  async ticks(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await this.tick();
  }

  /** The recorded left/right channels as single arrays. */
  output(): { l: Float32Array; r: Float32Array } {
    const cat = (xs: Float32Array[]) => {
      const o = new Float32Array(xs.length * QUANTUM);
      xs.forEach((x, i) => {
        o.set(x, i * QUANTUM);
      });
      return o;
    };
    return { l: cat(this.recorded.l), r: cat(this.recorded.r) };
  }
}
