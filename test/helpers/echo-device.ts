/**
 * A tiny virtio device for transport and queue tests: every chain popped from
 * a queue gets its readable bytes copied into its writable bytes.
 */
import { ChainError, DescriptorChain } from '../../src/virtio/chain.ts';
import type { TransportLink, VirtioDevice } from '../../src/virtio/device.ts';
import {
  DeviceQueue,
  POP_EMPTY,
  QUEUE_STATE_WORDS,
  type QueueSetup,
} from '../../src/virtio/device-queue.ts';
import {
  featureBit,
  hasFeature,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
} from '../../src/virtio/features.ts';
import type { GuestMemory } from '../../src/virtio/memory.ts';

export class EchoDevice implements VirtioDevice {
  readonly deviceId = 0x7e;
  readonly vendorId = 0x554d4551;
  readonly deviceFeatures =
    featureBit(VIRTIO_F_VERSION_1) |
    featureBit(VIRTIO_F_EVENT_IDX) |
    featureBit(VIRTIO_F_INDIRECT_DESC) |
    featureBit(3);
  readonly numQueues = 2;
  readonly queues: DeviceQueue[];
  readonly chain = new DescriptorChain(256);
  config = new Uint8Array([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
  link: TransportLink | null = null;
  features = 0n;
  active = false;
  resets = 0;
  notifies: number[] = [];
  errors: ChainError[] = [];
  refuseFeatures = false;

  constructor(readonly mem: GuestMemory) {
    const state = new Uint32Array(new SharedArrayBuffer(4 * QUEUE_STATE_WORDS * 2));
    this.queues = [0, 1].map(
      (i) =>
        new DeviceQueue(mem, state.subarray(i * QUEUE_STATE_WORDS, (i + 1) * QUEUE_STATE_WORDS), i),
    );
  }

  queueMaxSize(index: number): number {
    return index < this.numQueues ? 256 : 0;
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    let v = 0;
    for (let i = 0; i < size; i++) v |= (this.config[offset + i] ?? 0) << (8 * i);
    return v >>> 0;
  }

  writeConfig(offset: number, value: number, size: 1 | 2 | 4): void {
    for (let i = 0; i < size && offset + i < this.config.length; i++) {
      this.config[offset + i] = (value >>> (8 * i)) & 0xff;
    }
  }

  negotiate(features: bigint): boolean {
    if (this.refuseFeatures) return false;
    this.features = features;
    return true;
  }

  activate(queues: readonly (QueueSetup | null)[]): boolean {
    for (let i = 0; i < this.numQueues; i++) {
      const setup = queues[i];
      if (!setup) continue;
      const err = this.queues[i].configure(setup, {
        eventIdx: hasFeature(this.features, VIRTIO_F_EVENT_IDX),
        indirect: hasFeature(this.features, VIRTIO_F_INDIRECT_DESC),
      });
      if (err !== ChainError.None) return false;
    }
    this.active = true;
    return true;
  }

  queueNotify(index: number): void {
    this.notifies.push(index);
    this.service(index);
  }

  /** Echoes everything available on queue `index`; returns how many chains. */
  service(index: number): number {
    const q = this.queues[index];
    let n = 0;
    for (;;) {
      const r = q.pop(this.chain);
      if (r === POP_EMPTY) break;
      if (r !== ChainError.None) {
        this.errors.push(r);
        if (q.error !== ChainError.None) {
          this.link?.needsReset();
          break;
        }
        continue;
      }
      const c = this.chain;
      const tmp = new Uint8Array(c.readBytes);
      c.copyFromReadable(this.mem, 0, tmp, 0, c.readBytes);
      const written = c.copyToWritable(this.mem, 0, tmp, 0, Math.min(c.readBytes, c.writeBytes));
      q.pushUsed(c.head, written);
      n++;
    }
    if (q.shouldInterrupt()) this.link?.interruptQueue();
    return n;
  }

  reset(): void {
    this.resets++;
    this.active = false;
    this.features = 0n;
    for (const q of this.queues) q.disable();
  }

  attach(link: TransportLink): void {
    this.link = link;
  }
}
