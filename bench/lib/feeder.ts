/**
 * A benchmark harness playing the guest with as little overhead as possible:
 * a device set up through MMIO, one running playback (and optionally
 * capture) stream, and a ring of big I/O messages re-queued as they come
 * back, so the renderer always has data and the measured cost is the
 * renderer's own.
 */

import { VirtioSndDevice } from '../../src/device/control/virtio-snd-device.ts';
import { PcmRenderer } from '../../src/device/render/pcm-renderer.ts';
import { encodePcm } from '../../src/pcm/pcm-encode.ts';
import {
  PCM_HDR,
  PCM_RATE_HZ,
  PCM_SET_PARAMS,
  pcmFrameBytes,
  VIRTIO_SND_R_PCM_PREPARE,
  VIRTIO_SND_R_PCM_SET_PARAMS,
  VIRTIO_SND_R_PCM_START,
  VIRTIO_SND_S_OK,
} from '../../src/snd/protocol.ts';
import type { DriverQueue, Segment } from '../../src/virtio/driver-queue.ts';
import { GuestHeap } from '../../src/virtio/heap.ts';
import { GuestMemory } from '../../src/virtio/memory.ts';
import { VirtioMmioTransport } from '../../src/virtio/mmio.ts';
import { MmioDriver } from '../../src/virtio/mmio-driver.ts';

export interface FeederOptions {
  contextRate: number;
  format: number;
  channels: number;
  rate: number;
  /** Frames per message. */
  messageFrames?: number;
  messages?: number;
  capture?: { format: number; channels: number; rate: number };
  tapFrames?: number;
  /** Frames per process() call (default 128; others as with AudioContext renderSizeHint). */
  block?: number;
}

export class Feeder {
  readonly device: VirtioSndDevice;
  readonly renderer: PcmRenderer;
  readonly out: Float32Array[][];
  readonly inp: Float32Array[][];
  private readonly mmio: MmioDriver;
  private readonly queues: DriverQueue<number>[];
  private readonly tx: Segment[][] = [];
  private readonly rx: Segment[][] = [];
  private readonly mem: GuestMemory;
  private readonly alloc: GuestHeap;

  constructor(readonly o: FeederOptions) {
    const block = o.block ?? 128;
    this.out = [[new Float32Array(block), new Float32Array(block)]];
    this.inp = [[new Float32Array(block), new Float32Array(block)]];
    const msgFrames = o.messageFrames ?? 16384;
    const n = o.messages ?? 8;
    const rxFrame = o.capture ? pcmFrameBytes(o.capture.format, o.capture.channels) : 0;
    const bytes = msgFrames * (pcmFrameBytes(o.format, o.channels) + rxFrame) * n + (8 << 20);
    const memory = new SharedArrayBuffer(bytes);
    this.mem = new GuestMemory(memory);
    this.device = new VirtioSndDevice({
      memory,
      sampleRate: o.contextRate,
      autoService: false,
      tapFrames: o.tapFrames ?? 0,
      streams: [
        { direction: 'output', channelsMax: 8 },
        { direction: 'input', channelsMax: 2 },
      ],
    });
    const transport = new VirtioMmioTransport(this.device, { onInterrupt: () => {} });
    this.mmio = new MmioDriver(transport, this.mem);
    this.alloc = new GuestHeap(0x1000, memory.byteLength);
    this.mmio.negotiate(0n);
    this.queues = [0, 1, 2, 3].map((i) =>
      this.mmio.setupQueue<number>(i, i < 2 ? 64 : 256, this.alloc),
    );
    this.mmio.driverOk();
    this.configure(0, o.format, o.channels, o.rate, msgFrames);
    for (let i = 0; i < n; i++)
      this.tx.push(this.message(0, msgFrames * pcmFrameBytes(o.format, o.channels), true));
    this.fillPcm(o.format, o.channels, msgFrames);
    if (o.capture) {
      const c = o.capture;
      this.configure(1, c.format, c.channels, c.rate, msgFrames);
      for (let i = 0; i < n; i++)
        this.rx.push(this.message(1, msgFrames * pcmFrameBytes(c.format, c.channels), false));
    }
    this.tx.forEach((s, i) => {
      this.queues[2].add(s, 2, i);
    });
    this.rx.forEach((s, i) => {
      this.queues[3].add(s, 1, i);
    });
    this.command(VIRTIO_SND_R_PCM_START, 0);
    if (o.capture) this.command(VIRTIO_SND_R_PCM_START, 1);
    this.renderer = new PcmRenderer(this.device.renderState);
    for (const ch of this.inp[0]) for (let i = 0; i < block; i++) ch[i] = Math.sin(i / 7) * 0.5;
  }

  private message(stream: number, dataBytes: number, tx: boolean): Segment[] {
    const hdr = this.alloc.alloc(4, 4);
    this.mem.writeU32(hdr, stream);
    const data = this.alloc.alloc(dataBytes, 8);
    const status = this.alloc.alloc(8, 8);
    void tx;
    return [
      { addr: hdr, len: 4 },
      { addr: data, len: dataBytes },
      { addr: status, len: 8 },
    ];
  }

  /** A -6 dB sine in the stream's format: realistic samples (no NaN floats, no clipping). */
  private fillPcm(format: number, channels: number, frames: number): void {
    const samples = new Float32Array(frames * channels);
    for (let i = 0; i < samples.length; i++) samples[i] = 0.5 * Math.sin(i / 9);
    const pcm = encodePcm(format, channels, samples);
    for (const m of this.tx) this.mem.write(m[1].addr, pcm.subarray(0, m[1].len));
  }

  private request(bytes: Uint8Array): number {
    const req = this.alloc.alloc(bytes.length, 8);
    const resp = this.alloc.alloc(4, 4);
    this.mem.write(req, bytes);
    this.queues[0].add(
      [
        { addr: req, len: bytes.length },
        { addr: resp, len: 4 },
      ],
      1,
      0,
    );
    this.mmio.notify(0);
    this.queues[0].getBuf();
    return this.mem.readU32(resp);
  }

  private command(code: number, stream: number): void {
    const b = new Uint8Array(PCM_HDR.size);
    const v = new DataView(b.buffer);
    v.setUint32(0, code, true);
    v.setUint32(4, stream, true);
    if (this.request(b) !== VIRTIO_SND_S_OK)
      throw new Error(`command 0x${code.toString(16)} failed`);
  }

  private configure(
    stream: number,
    format: number,
    channels: number,
    rate: number,
    msgFrames: number,
  ): void {
    const b = new Uint8Array(PCM_SET_PARAMS.size);
    const v = new DataView(b.buffer);
    const period = msgFrames * pcmFrameBytes(format, channels);
    v.setUint32(0, VIRTIO_SND_R_PCM_SET_PARAMS, true);
    v.setUint32(PCM_SET_PARAMS.streamId, stream, true);
    v.setUint32(PCM_SET_PARAMS.bufferBytes, period * 4, true);
    v.setUint32(PCM_SET_PARAMS.periodBytes, period, true);
    v.setUint8(PCM_SET_PARAMS.channels, channels);
    v.setUint8(PCM_SET_PARAMS.format, format);
    v.setUint8(PCM_SET_PARAMS.rate, PCM_RATE_HZ.indexOf(rate));
    if (this.request(b) !== VIRTIO_SND_S_OK) throw new Error('SET_PARAMS failed');
    this.command(VIRTIO_SND_R_PCM_PREPARE, stream);
  }

  /** Returns completed messages to the device (the driver's work, outside the audio path). */
  refill(): void {
    for (let t = this.queues[2].getBuf(); t !== undefined; t = this.queues[2].getBuf()) {
      this.queues[2].add(this.tx[t], 2, t);
    }
    for (let t = this.queues[3].getBuf(); t !== undefined; t = this.queues[3].getBuf()) {
      this.queues[3].add(this.rx[t], 1, t);
    }
  }

  /** One render quantum (the audio path). */
  quantum(): void {
    this.renderer.process(this.inp, this.out);
  }
}
