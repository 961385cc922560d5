/**
 * One VirtioSndDevice, its MMIO transport, a PcmRenderer and a hostile
 * guest's rings over one guest memory, made once per process and reset
 * between cases (a device reset must forget everything; building a device
 * costs milliseconds, a reset microseconds). Every device entry point runs
 * under the Oracle.
 *
 * Memory: rings in [0, RINGS_END), then the buffer region up to `fullBytes`
 * (requests, headers, statuses, small payloads; compared in full by the
 * oracle), then an optional payload arena up to the end (sampled).
 */

import { VirtioSndDevice } from '../../src/device/control/virtio-snd-device.ts';
import { PcmRenderer } from '../../src/device/render/pcm-renderer.ts';
import { VIRTIO_SND_F_CTLS } from '../../src/snd/protocol.ts';
import {
  featureBit,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
} from '../../src/virtio/features.ts';
import { GuestMemory } from '../../src/virtio/memory.ts';
import { MMIO, VirtioMmioTransport } from '../../src/virtio/mmio.ts';
import { deviceTarget, Oracle } from './oracle.ts';
import { HostileRings, mmioInit, RINGS_END, type Seg } from './rings.ts';

export const QUEUE_SIZES = [64, 64, 256, 256] as const;

export interface Features {
  ctls: boolean;
  eventIdx: boolean;
  indirect: boolean;
}

export function featureBits(f: Features): bigint {
  return (
    featureBit(VIRTIO_F_VERSION_1) |
    (f.ctls ? featureBit(VIRTIO_SND_F_CTLS) : 0n) |
    (f.eventIdx ? featureBit(VIRTIO_F_EVENT_IDX) : 0n) |
    (f.indirect ? featureBit(VIRTIO_F_INDIRECT_DESC) : 0n)
  );
}

export class DeviceHarness {
  readonly memory: SharedArrayBuffer;
  readonly mem: GuestMemory;
  readonly device: VirtioSndDevice;
  readonly transport: VirtioMmioTransport;
  readonly renderer: PcmRenderer;
  readonly rings: HostileRings;
  readonly oracle: Oracle;
  /** Bump pointer in the buffer region. */
  private bufPtr = RINGS_END;

  constructor(
    memBytes: number,
    /** End of the buffer region (compared in full); the rest is the arena. */
    readonly fullBytes = memBytes,
  ) {
    this.memory = new SharedArrayBuffer(memBytes);
    this.mem = new GuestMemory(this.memory);
    this.device = new VirtioSndDevice({
      memory: this.memory,
      sampleRate: 48000,
      autoService: false,
      tapFrames: 0,
    });
    this.transport = new VirtioMmioTransport(this.device, { onInterrupt: () => {} });
    this.renderer = new PcmRenderer(this.device.renderState);
    this.rings = new HostileRings(this.mem, QUEUE_SIZES);
    this.oracle = new Oracle(deviceTarget(this.device), this.mem, { fullBytes });
  }

  get needsReset(): boolean {
    return (this.transport.read(MMIO.Status, 4) & 64) !== 0;
  }

  /** A fresh start: buffer region zeroed, device reset and set up. False if it refused. */
  init(f: Features): boolean {
    this.mem.u8.fill(0, RINGS_END, this.fullBytes); // the rings: rings.reset()
    this.rings.reset();
    this.bufPtr = RINGS_END;
    const status = this.oracle.step('init', () =>
      mmioInit(this.transport, featureBits(f), QUEUE_SIZES),
    );
    // Used entries of a case that ended early are not this case's.
    this.oracle.takeUsed();
    return (status & 0xc0) === 0 && (status & 4) !== 0;
  }

  /** `len` bytes of the buffer region (8-aligned), reused round-robin: the device may still hold old ones. */
  buf(len: number): number {
    const room = this.fullBytes - RINGS_END;
    const n = Math.min(room, Math.max(8, (len + 7) & ~7));
    if (this.bufPtr + n > this.fullBytes) this.bufPtr = RINGS_END;
    const a = this.bufPtr;
    this.bufPtr += n;
    return a;
  }

  notify(q: number): void {
    this.oracle.step(`notify ${q}`, () => this.transport.write(MMIO.QueueNotify, q, 4));
    this.rings.collect(q);
  }

  /** Publishes a chain on queue q and kicks it; -1 if the queue had no free descriptors. */
  send(q: number, segs: readonly Seg[], indirect?: number): number {
    const head = this.rings.chain(q, segs, indirect);
    if (head >= 0) this.notify(q);
    return head;
  }

  /**
   * A well-formed control request with a `respBytes` response buffer:
   * returns the status (-1 if not answered).
   */
  request(req: Uint8Array, respBytes = 4): number {
    const a = this.buf(req.length);
    this.mem.write(a, req);
    const r = this.buf(respBytes);
    const head = this.send(0, [
      { addr: a, len: req.length, write: false },
      { addr: r, len: respBytes, write: true },
    ]);
    if (head < 0) return -1;
    const used = this.rings.used[0];
    const last = used[used.length - 1];
    return last && last[0] === head && last[1] >= 4 ? this.mem.readU32(r) : -1;
  }

  /** One render quantum and the control plane's service, under the oracle (one step: half the cost). */
  process(inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    const ok = this.oracle.step('process+service', () => {
      const r = this.renderer.process(inputs, outputs);
      this.device.service();
      return r;
    });
    for (let q = 0; q < 4; q++) this.rings.collect(q);
    return ok;
  }
}

const cache = new Map<string, DeviceHarness>();

/** The process's harness for this memory shape (made on first use). */
export function deviceHarness(memBytes: number, fullBytes = memBytes): DeviceHarness {
  const key = `${memBytes}:${fullBytes}`;
  let h = cache.get(key);
  if (!h) {
    h = new DeviceHarness(memBytes, fullBytes);
    cache.set(key, h);
  }
  return h;
}
