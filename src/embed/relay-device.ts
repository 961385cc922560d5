/**
 * RelayDevice: virtio-snd for an emulator whose guest RAM is not a
 * SharedArrayBuffer (v86's WebAssembly memory, for instance), so the audio
 * thread cannot read the guest's rings itself.
 *
 * It is the device the guest sees (behind a VirtioMmioTransport in the
 * emulator's thread). It answers the guest's queues there, and relays them
 * to an inner VirtioSndDevice over a SharedArrayBuffer, acting as that
 * device's driver: control requests are forwarded and answered at once (the
 * inner control plane is synchronous); TX/RX messages are copied into inner
 * messages, and each guest message completes when the inner one does, so
 * completions stay timed by the audio thread that plays the inner device.
 * TX/RX messages are io-relay.ts's part: a TX message is copied only shortly
 * before it plays (tx-holdback.ts).
 */

import { DeviceConfigError } from '../device/config.ts';
import { VirtioSndDevice, type VirtioSndDeviceOptions } from '../device/virtio-snd-device.ts';
import { GuestHeap } from '../driver/guest-heap.ts';
import {
  PCM_HDR,
  VIRTIO_SND_F_CTLS,
  VIRTIO_SND_R_PCM_PREPARE,
  VIRTIO_SND_R_PCM_RELEASE,
  VIRTIO_SND_S_IO_ERR,
  VIRTIO_SND_S_OK,
} from '../snd/protocol.ts';
import { ChainError, DescriptorChain } from '../virtio/chain.ts';
import type { TransportLink, VirtioDevice } from '../virtio/device.ts';
import { DeviceQueue, QUEUE_STATE_WORDS, type QueueSetup } from '../virtio/device-queue.ts';
import type { DriverQueue } from '../virtio/driver-queue.ts';
import {
  featureBit,
  hasFeature,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
} from '../virtio/features.ts';
import { GuestMemory } from '../virtio/memory.ts';
import { VirtioMmioTransport } from '../virtio/mmio.ts';
import { MmioDriver } from '../virtio/mmio-driver.ts';
import { IoRelay, type Relayed } from './io-relay.ts';
import { DEFAULT_TX_LEAD_MS, TxHoldback } from './tx-holdback.ts';

const CONTROLQ = 0;
const EVENTQ = 1;
const EVENT_BUFFERS = 16;

export interface RelayOptions extends Omit<VirtioSndDeviceOptions, 'memory'> {
  /** The guest's RAM as it is now (an emulator may replace its buffer). */
  guestMemory: () => GuestMemory;
  /** Size of the SharedArrayBuffer holding the inner rings and message copies (default 8 MiB). */
  relayBytes?: number;
  /**
   * Descriptors in each inner TX/RX queue (default 256, a power of two from 4
   * to 256): half as many messages. Guest messages beyond that wait here, in
   * order, until the inner device returns some.
   */
  innerQueueSize?: number;
  /**
   * Milliseconds of audio the inner device is kept ahead by (default 200): a
   * TX message is copied from the guest only when less than this is left to
   * play before it. Larger survives longer stalls of the emulator's thread;
   * smaller gives a guest longer to fill a period it has already queued.
   */
  txLeadMs?: number;
}

export class RelayDevice implements VirtioDevice {
  readonly numQueues = 4;
  /** The device the audio thread plays (its renderState goes to the worklet). */
  readonly inner: VirtioSndDevice;
  /** The TX/RX half: guest I/O messages to inner ones and back. */
  readonly io: IoRelay;

  private readonly guestMemory: () => GuestMemory;
  private mem: GuestMemory;
  private readonly states = Array.from({ length: 4 }, () => new Uint32Array(QUEUE_STATE_WORDS));
  private queues: DeviceQueue[];
  /** One walked chain per guest queue: handling one queue can re-enter another. */
  private readonly chains = [0, 1, 2, 3].map(() => new DescriptorChain(256));
  /** Set while we drive the inner device synchronously; its interrupts wait until we are done. */
  private busy = false;
  private servicePending = false;
  private link: TransportLink | null = null;
  private features = 0n;
  private active = false;

  private readonly innerMem: GuestMemory;
  private readonly innerTransport: VirtioMmioTransport;
  private readonly innerDrv: MmioDriver;
  private heap: GuestHeap;
  private innerQ: DriverQueue<Relayed | number>[] = [];
  private readonly pendingEvents: [number, number][] = [];
  private innerEventBufs: number[] = [];
  private readonly innerQueueSize: number;

  constructor(opts: RelayOptions) {
    const {
      guestMemory,
      relayBytes,
      txLeadMs = DEFAULT_TX_LEAD_MS,
      innerQueueSize = 256,
      ...deviceOpts
    } = opts;
    if (!(Number.isFinite(txLeadMs) && txLeadMs >= 0))
      throw new DeviceConfigError(`txLeadMs must be a finite number >= 0, got ${txLeadMs}`);
    if (![4, 8, 16, 32, 64, 128, 256].includes(innerQueueSize))
      throw new DeviceConfigError(
        `innerQueueSize must be a power of two from 4 to 256, got ${innerQueueSize}`,
      );
    this.innerQueueSize = innerQueueSize;
    this.guestMemory = guestMemory;
    this.mem = guestMemory();
    this.queues = this.makeQueues(this.mem);
    const memory = new SharedArrayBuffer(relayBytes ?? 8 << 20);
    this.innerMem = new GuestMemory(memory);
    this.heap = new GuestHeap(0, memory.byteLength);
    this.inner = new VirtioSndDevice({ ...deviceOpts, memory });
    this.innerTransport = new VirtioMmioTransport(this.inner, {
      onInterrupt: (level) => {
        if (!level) return;
        if (this.busy) this.servicePending = true;
        else this.serviceInner();
      },
    });
    this.innerDrv = new MmioDriver(this.innerTransport, this.innerMem);
    const innerMem = this.innerMem;
    this.io = new IoRelay(
      {
        guest: () => this.guest(),
        guestQueue: (qi) => this.queues[qi],
        chain: (qi) => this.chains[qi],
        innerQueue: (qi) => this.innerQ[qi],
        heap: () => this.heap,
        innerMem,
        afterPops: (q) => this.afterPops(q),
        interruptQueue: () => this.link?.interruptQueue(),
      },
      new TxHoldback(this.inner.shared, txLeadMs),
    );
  }

  /** Bytes copied guest -> inner and back, for the relay's cost. */
  get bytesRelayed(): number {
    return this.io.bytesRelayed;
  }
  get messagesRelayed(): number {
    return this.io.messagesRelayed;
  }
  /** Guest TX messages taken but not yet copied to the inner device (waiting to be due). */
  get heldMessages(): number {
    return this.io.heldMessages;
  }
  /** The most TX messages held back at once (for tests and the guest page). */
  get heldMessagesPeak(): number {
    return this.io.heldMessagesPeak;
  }

  private makeQueues(mem: GuestMemory): DeviceQueue[] {
    return this.states.map((s, i) => new DeviceQueue(mem, s, i));
  }

  /** Follows the emulator's RAM if it replaced its buffer. */
  private guest(): GuestMemory {
    const m = this.guestMemory();
    if (m !== this.mem) {
      this.mem = m;
      this.queues = this.makeQueues(m);
    }
    return m;
  }

  // ---- VirtioDevice (the guest's side) -----------------------------------

  get deviceId(): number {
    return this.inner.deviceId;
  }
  get vendorId(): number {
    return this.inner.vendorId;
  }
  get deviceFeatures(): bigint {
    return this.inner.deviceFeatures;
  }
  queueMaxSize(index: number): number {
    return this.inner.queueMaxSize(index);
  }
  readConfig(offset: number, size: 1 | 2 | 4): number {
    return this.inner.readConfig(offset, size);
  }
  writeConfig(): void {
    // Read-only, as the inner device's.
  }
  negotiate(features: bigint): boolean {
    this.features = features;
    return true;
  }
  attach(link: TransportLink): void {
    this.link = link;
  }

  activate(queues: readonly (QueueSetup | null)[]): boolean {
    this.guest();
    const opts = {
      eventIdx: hasFeature(this.features, VIRTIO_F_EVENT_IDX),
      indirect: hasFeature(this.features, VIRTIO_F_INDIRECT_DESC),
    };
    for (let i = 0; i < 4; i++) {
      const setup = queues[i];
      if (setup && this.queues[i].configure(setup, opts) !== ChainError.None) return false;
    }
    // The inner device gets the same sound features; its rings live in our SharedArrayBuffer.
    this.heap = new GuestHeap(0, this.innerMem.size);
    this.innerDrv.negotiate(this.features & featureBit(VIRTIO_SND_F_CTLS));
    this.innerQ = [0, 1, 2, 3].map((i) =>
      this.innerDrv.setupQueue<Relayed | number>(i, i < 2 ? 64 : this.innerQueueSize, this.heap),
    );
    this.innerDrv.driverOk();
    this.innerEventBufs = Array.from({ length: EVENT_BUFFERS }, () => this.heap.alloc(8, 8));
    this.innerEventBufs.forEach((addr, i) => {
      this.innerQ[EVENTQ].add([{ addr, len: 8 }], 0, i);
    });
    this.innerDrv.notify(EVENTQ);
    // The guest's TX/RX rings are polled; it need not kick them.
    this.queues[2].setNotifications(false);
    this.queues[3].setNotifications(false);
    this.active = true;
    return true;
  }

  queueNotify(index: number): void {
    if (!this.active) return;
    if (index === CONTROLQ) this.relayControl();
    else if (index === EVENTQ) this.deliverEvents();
    else this.poll();
  }

  reset(): void {
    this.active = false;
    for (const q of this.queues) q.disable();
    this.pendingEvents.length = 0;
    this.io.reset();
    this.innerDrv.reset();
  }

  // ---- control queue: forwarded and answered synchronously ---------------

  private relayControl(): void {
    this.busy = true;
    try {
      this.relayRequests();
    } finally {
      this.busy = false;
    }
    if (this.servicePending) {
      this.servicePending = false;
      this.serviceInner();
    }
  }

  private relayRequests(): void {
    const mem = this.guest();
    const q = this.queues[CONTROLQ];
    const c = this.chains[CONTROLQ];
    while (q.popValid(c)) {
      // A command must find every message the guest queued before it (RELEASE returns them).
      this.io.beforeCommand();
      const addr = this.heap.alloc(Math.max(1, c.readBytes + c.writeBytes), 8);
      const req = this.innerMem.bytes(addr, c.readBytes);
      c.copyFromReadable(mem, 0, req, 0, c.readBytes);
      let len = 0;
      if (c.readBytes > 0 && c.writeBytes > 0) {
        this.innerQ[CONTROLQ].add(
          [
            { addr, len: c.readBytes },
            { addr: addr + c.readBytes, len: c.writeBytes },
          ],
          1,
          0,
        );
        this.innerDrv.notify(CONTROLQ);
        if (this.innerQ[CONTROLQ].getBuf() !== undefined) {
          len = this.innerQ[CONTROLQ].lastLen;
          this.afterCommand(addr, c.readBytes, len);
        } else {
          // The inner device answers synchronously; if it did not, say so.
          this.innerMem.writeU32(addr + c.readBytes, VIRTIO_SND_S_IO_ERR);
          len = Math.min(4, c.writeBytes);
        }
        c.copyToWritable(mem, 0, this.innerMem.bytes(addr + c.readBytes, len), 0, len);
      }
      this.heap.release(addr);
      q.pushUsed(c.head, len);
    }
    this.afterPops(q);
  }

  /** Bookkeeping after the inner device answered a request, before the guest sees the answer. */
  private afterCommand(addr: number, readBytes: number, len: number): void {
    const ok = len >= 4 && this.innerMem.readU32(addr + readBytes) === VIRTIO_SND_S_OK;
    if (ok && readBytes === PCM_HDR.size) {
      const code = this.innerMem.readU32(addr);
      const id = this.innerMem.readU32(addr + PCM_HDR.streamId);
      if (code === VIRTIO_SND_R_PCM_PREPARE) this.io.prepared(id);
      // RELEASE returns every message of the stream, those still waiting here too.
      if (code === VIRTIO_SND_R_PCM_RELEASE) this.io.released(id);
    }
    // Messages the command returned (RELEASE) reach the guest before its response.
    if (this.servicePending) {
      this.servicePending = false;
      this.serviceInner();
    }
  }

  /** A broken guest ring needs a reset; otherwise maybe interrupt for what was returned. */
  private afterPops(q: DeviceQueue): void {
    if (q.error !== ChainError.None) this.link?.needsReset();
    else if (q.shouldInterrupt()) this.link?.interruptQueue();
  }

  // ---- TX/RX: copied into inner messages ------------------------------------

  /** Takes new guest TX/RX messages (the guest may not kick: MSG_POLLING). Call often. */
  poll(): void {
    if (!this.active) return;
    this.io.poll();
  }

  /** The inner device returned buffers: complete the guest's messages and forward events. */
  private serviceInner(): void {
    this.innerDrv.ackInterrupt();
    if (!this.active) return;
    if (this.innerDrv.status & 64) {
      this.link?.needsReset();
      return;
    }
    this.io.collect(2);
    this.io.collect(3);
    // Inner events (XRUN, jacks, CTL_NOTIFY...) go to the guest's event queue.
    const eq = this.innerQ[EVENTQ];
    let reposted = false;
    for (let t = eq.getBuf(); t !== undefined; t = eq.getBuf()) {
      const addr = this.innerEventBufs[t as number];
      if (eq.lastLen >= 8)
        this.pendingEvents.push([this.innerMem.readU32(addr), this.innerMem.readU32(addr + 4)]);
      eq.add([{ addr, len: 8 }], 0, t);
      reposted = true;
    }
    if (reposted && eq.kickPrepare()) this.innerDrv.notify(EVENTQ);
    this.deliverEvents();
    this.poll();
  }

  /** Fills the guest's posted event buffers with pending events, oldest first. */
  private deliverEvents(): void {
    if (!this.active || this.pendingEvents.length === 0) return;
    const mem = this.guest();
    const q = this.queues[EVENTQ];
    const c = this.chains[EVENTQ];
    const bytes = new Uint8Array(8);
    const view = new DataView(bytes.buffer);
    while (this.pendingEvents.length > 0 && q.popValid(c)) {
      if (c.readCount !== 0 || c.writeBytes < 8) {
        q.pushUsed(c.head, 0);
        continue;
      }
      const [code, data] = this.pendingEvents.shift()!;
      view.setUint32(0, code, true);
      view.setUint32(4, data, true);
      c.copyToWritable(mem, 0, bytes, 0, 8);
      q.pushUsed(c.head, 8);
    }
    this.afterPops(q);
  }
}
