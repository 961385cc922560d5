/**
 * A device that lies: it wraps a real VirtioSndDevice and, on request,
 * corrupts its configuration, its answers, its used rings or its events,
 * so the driver's distrust can be tested.
 */
import type { VirtioSndDevice } from '../../src/device/control/virtio-snd-device.ts';
import type { TransportLink, VirtioDevice } from '../../src/virtio/device.ts';
import type { QueueSetup } from '../../src/virtio/device-queue.ts';
import type { GuestMemory } from '../../src/virtio/memory.ts';
import { USED_IDX, USED_RING } from '../../src/virtio/ring.ts';

export interface Lies {
  /** Replace config words (jacks, streams, chmaps, controls). */
  config?: Partial<Record<0 | 1 | 2 | 3, number>>;
  /** Rewrite the response of the n-th control request (0-based): gets the writable bytes. */
  response?: (n: number, resp: Uint8Array, usedLen: number) => number | undefined;
  /** Rewrite used entries just published on queue q: (id, len) -> [id, len]. */
  used?: (q: number, id: number, len: number) => [number, number];
}

export class HostileDevice implements VirtioDevice {
  lies: Lies = {};
  private queues: (QueueSetup | null)[] = [];
  private requests = 0;
  private seen = [0, 0, 0, 0];

  constructor(
    readonly inner: VirtioSndDevice,
    readonly mem: GuestMemory,
  ) {}

  get deviceId() {
    return this.inner.deviceId;
  }
  get vendorId() {
    return this.inner.vendorId;
  }
  get deviceFeatures() {
    return this.inner.deviceFeatures;
  }
  get numQueues() {
    return this.inner.numQueues;
  }
  queueMaxSize(i: number) {
    return this.inner.queueMaxSize(i);
  }
  readConfig(offset: number, size: 1 | 2 | 4): number {
    const word = (offset >> 2) as 0 | 1 | 2 | 3;
    const lie = this.lies.config?.[word];
    if (lie !== undefined && size === 4) return lie >>> 0;
    return this.inner.readConfig(offset, size);
  }
  writeConfig(o: number, v: number, s: 1 | 2 | 4) {
    this.inner.writeConfig(o, v, s);
  }
  negotiate(f: bigint) {
    return this.inner.negotiate(f);
  }
  activate(q: readonly (QueueSetup | null)[]) {
    this.queues = [...q];
    return this.inner.activate(q);
  }
  reset() {
    this.seen = [0, 0, 0, 0];
    this.inner.reset();
  }
  attach(link: TransportLink) {
    this.inner.attach({
      interruptQueue: () => {
        this.tamper();
        link.interruptQueue();
      },
      configChanged: () => link.configChanged(),
      needsReset: () => link.needsReset(),
    });
  }
  queueNotify(i: number) {
    this.inner.queueNotify(i);
    this.tamper();
  }

  /** Applies the lies to used entries published since the last look. */
  private tamper(): void {
    for (let q = 0; q < 4; q++) {
      const setup = this.queues[q];
      if (!setup) continue;
      const idx = this.mem.readU16(setup.usedAddr + USED_IDX);
      while (this.seen[q] !== idx) {
        const e = setup.usedAddr + USED_RING + 8 * (this.seen[q] % setup.size);
        let id = this.mem.readU32(e);
        let len = this.mem.readU32(e + 4);
        if (q === 0 && this.lies.response) {
          const resp = this.writableOf(setup, id);
          const n = this.lies.response(this.requests, resp, len);
          if (n !== undefined) len = n;
          this.requests++;
        }
        if (this.lies.used) [id, len] = this.lies.used(q, id, len);
        this.mem.writeU32(e, id);
        this.mem.writeU32(e + 4, len);
        this.seen[q] = (this.seen[q] + 1) & 0xffff;
      }
    }
  }

  /** The device-writable buffer of a control chain (its second descriptor). */
  private writableOf(setup: QueueSetup, head: number): Uint8Array {
    const d = setup.descAddr + 16 * head;
    const next = this.mem.readU16(d + 14);
    const w = setup.descAddr + 16 * next;
    const addr = Number(this.mem.readU64(w));
    return this.mem.bytes(addr, this.mem.readU32(w + 8));
  }
}
