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
 * Control requests are ctl-relay.ts's part; TX/RX messages are io-relay.ts's:
 * a TX message is copied at once, or only shortly before it plays for a guest
 * that re-queues periods before writing them (tx-holdback.ts).
 *
 * The relay takes the guest's TX/RX messages when the guest kicks (it does
 * not suppress notifications), on the emulator's tick (EmulatorBus.onTick)
 * and on poll(); held TX messages are handed over when the inner device's
 * low-water doorbell says a stream runs short, timed by the audio clock.
 *
 * Nothing here throws into the emulator (an exception out of an MMIO write
 * or a poll stops v86's loop): what the relay cannot carry is answered with a
 * status, what does not fit now waits in order, and a bug is caught at the
 * entry points, counted in stats().faults and reported to the guest as
 * DEVICE_NEEDS_RESET.
 */

import {
  DeviceConfigError,
  EventBacklog,
  type StreamView,
  VirtioSndDevice,
  type VirtioSndDeviceOptions,
} from '../device/index.ts';
import {
  EVENT,
  VIRTIO_SND_F_CTLS,
  VIRTIO_SND_VQ_CONTROL,
  VIRTIO_SND_VQ_EVENT,
  VIRTIO_SND_VQ_MAX,
  VIRTIO_SND_VQ_RX,
  VIRTIO_SND_VQ_TX,
} from '../snd/protocol.ts';
import type { TransportLink, VirtioDevice } from '../virtio/device.ts';
import type { QueueSetup } from '../virtio/device-queue.ts';
import type { DriverQueue } from '../virtio/driver-queue.ts';
import {
  featureBit,
  hasFeature,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
} from '../virtio/features.ts';
import { GuestHeap } from '../virtio/heap.ts';
import { GuestMemory } from '../virtio/memory.ts';
import { VirtioMmioTransport } from '../virtio/mmio.ts';
import { MmioDriver } from '../virtio/mmio-driver.ts';
import { CompletionGate } from './completion-gate.ts';
import { CtlRelay, ctlAreaBytes } from './ctl-relay.ts';
import { GuestRings } from './guest-rings.ts';
import { IoRelay, type IoRelayStats } from './io-relay.ts';
import {
  type PreparedRelayRestore,
  prepareRelayRestore,
  type RelayParts,
  saveRelay,
} from './relay-snapshot.ts';
import type { GuestCompletion, Relayed } from './relayed.ts';
import {
  DEFAULT_TX_LEAD_MS,
  TxHoldback,
  type TxHoldbackPolicy,
  type TxMode,
} from './tx-holdback.ts';

/** Event buffers kept posted on the inner event queue. */
const EVENT_BUFFERS = 16;
/** Heap the relay needs after the control area: inner rings, and room for messages. */
const MIN_HEAP_BYTES = 256 << 10;
/** Size of the inner control and event queues. */
const INNER_CTL_QUEUE = 64;

export interface RelayOptions extends Omit<VirtioSndDeviceOptions, 'memory'> {
  /** The guest's RAM as it is now (an emulator may replace its buffer). */
  guestMemory: () => GuestMemory;
  /**
   * Size of the SharedArrayBuffer holding the inner rings, the control area
   * and the I/O message copies (default 8 MiB; at least the control area,
   * about 72 KiB with the default controls, plus 256 KiB). Messages that do
   * not fit now wait; one larger than the whole heap gets IO_ERR.
   */
  relayBytes?: number;
  /**
   * Descriptors in each inner TX/RX queue (default 256, a power of two from 4
   * to 256): half as many messages. Guest messages beyond that wait here, in
   * order, until the inner device returns some.
   */
  innerQueueSize?: number;
  /**
   * When a guest TX message is copied to the inner device (default 'auto'):
   * 'at-once' for a guest that queues only periods it has written (Linux
   * 6.8 and later: the ack callback); 'late', shortly before it plays, for
   * one that re-queues a period before writing it (Linux before 6.8); 'auto'
   * starts late and goes at once for a stream whose re-queued periods come
   * back rewritten (see tx-holdback.ts). Late costs latency (txLeadMs).
   */
  txHoldback?: TxHoldbackPolicy;
  /**
   * Milliseconds of audio the inner device is kept ahead by while a stream is
   * held back (default 50, at most the buffer less 1.5 periods): a TX message
   * is copied from the guest only when less than this is left to play before
   * it. Larger survives longer stalls of the emulator's thread; smaller gives
   * a guest longer to fill a period it has already queued.
   */
  txLeadMs?: number;
}

export interface RelayStats extends IoRelayStats {
  /** Inner events waiting for a guest event buffer. */
  pendingEvents: number;
  /** Of those, the ones held one by one (the rest are counted: see EventBacklog). */
  pendingEventEntries: number;
  /** Exceptions caught at the relay's entry points (each set DEVICE_NEEDS_RESET); 0 unless a bug. */
  faults: number;
  /** How each stream's TX messages are handed over now ('late' for input streams too: unused). */
  txModes: TxMode[];
}

export class RelayDevice implements VirtioDevice {
  readonly numQueues = VIRTIO_SND_VQ_MAX;
  /** The device the audio thread plays (its renderState goes to the worklet). */
  readonly inner: VirtioSndDevice;
  /** The TX/RX half: guest I/O messages to inner ones and back. */
  readonly io: IoRelay;

  /** The guest's queues, in its RAM. */
  private readonly guest: GuestRings;
  /** Set while we drive the inner device synchronously; its interrupts wait until we are done. */
  private busy = false;
  private servicePending = false;
  private features = 0n;
  private active = false;

  private readonly innerMem: GuestMemory;
  private readonly innerTransport: VirtioMmioTransport;
  private readonly innerDrv: MmioDriver;
  /** Inner rings and I/O message copies, in the relay's SharedArrayBuffer after the control area. */
  private readonly heap: GuestHeap;
  /** The control half: requests to the inner device and answers back. */
  private readonly ctl: CtlRelay;
  private faults = 0;
  /** Our event queue to the inner device (the others are CtlRelay's and IoRelay's). */
  private innerEvt: DriverQueue<number> | null = null;
  /** Inner events waiting for guest event buffers: bounded as the inner device's own backlog. */
  private readonly pendingEvents = new EventBacklog();
  private innerEventBufs: number[] = [];
  private readonly innerQueueSize: number;
  private readonly holdback: TxHoldback<Relayed>;
  /** What must match for a snapshot to move between relays. */
  private readonly configKey: string;

  constructor(opts: RelayOptions) {
    const {
      guestMemory,
      relayBytes,
      txLeadMs = DEFAULT_TX_LEAD_MS,
      txHoldback = 'auto',
      innerQueueSize = 256,
      ...deviceOpts
    } = opts;
    if (!['auto', 'late', 'at-once'].includes(txHoldback))
      throw new DeviceConfigError(
        `txHoldback must be 'auto', 'late' or 'at-once', got ${txHoldback}`,
      );
    if (!(Number.isFinite(txLeadMs) && txLeadMs >= 0))
      throw new DeviceConfigError(`txLeadMs must be a finite number >= 0, got ${txLeadMs}`);
    if (![4, 8, 16, 32, 64, 128, 256].includes(innerQueueSize))
      throw new DeviceConfigError(
        `innerQueueSize must be a power of two from 4 to 256, got ${innerQueueSize}`,
      );
    this.innerQueueSize = innerQueueSize;
    this.guest = new GuestRings(guestMemory);
    const memory = new SharedArrayBuffer(relayBytes ?? 8 << 20);
    this.innerMem = new GuestMemory(memory);
    // A held-back stream that runs short rings the inner device's low-water doorbell.
    this.inner = new VirtioSndDevice({
      ...deviceOpts,
      memory,
      onTxLow: () => this.guarded(() => this.io.feed()),
    });
    this.innerTransport = new VirtioMmioTransport(this.inner, {
      onInterrupt: (level) => {
        if (!level) return;
        if (this.busy) this.servicePending = true;
        else this.serviceInner();
      },
    });
    this.innerDrv = new MmioDriver(this.innerTransport, this.innerMem);
    // The heap starts after the control area, whose size depends on the inner device.
    const maxResponse = this.inner.maxResponseBytes;
    const base = Math.ceil(ctlAreaBytes(maxResponse) / 4096) * 4096;
    if (memory.byteLength < base + MIN_HEAP_BYTES) {
      throw new DeviceConfigError(
        `relayBytes must be at least ${base + MIN_HEAP_BYTES} for this device, got ${memory.byteLength}`,
      );
    }
    this.heap = new GuestHeap(base, memory.byteLength);
    this.configKey = JSON.stringify({
      relayBytes: memory.byteLength,
      heap: [base, memory.byteLength],
      innerQueueSize,
      txHoldback,
      eventBuffers: EVENT_BUFFERS,
    });
    this.holdback = new TxHoldback<Relayed>(
      this.inner.streamViews,
      txLeadMs,
      txHoldback,
      (id, bytes) => this.inner.setTxLowWater(id, bytes),
    );
    this.io = new IoRelay(
      this.guest,
      this.innerMem,
      this.heap,
      this.holdback,
      // Timed by the audio clock, as completions are: a suspended context holds them too.
      new CompletionGate<GuestCompletion>(
        this.inner.streamViews,
        () => (this.inner.framesRendered * 1000) / this.inner.sampleRate,
      ),
      () => this.poll(),
    );
    this.ctl = new CtlRelay(this.guest, this.innerMem, this.innerDrv, this.io, maxResponse, () =>
      this.serviceIfPending(),
    );
  }

  /** The inner device's streams: parameters and position, read-only. */
  get streams(): readonly StreamView[] {
    return this.inner.streamViews;
  }

  /** What the relay has moved and holds (for the relay's cost, tests and the guest page). */
  stats(): RelayStats {
    return {
      ...this.io.stats(),
      pendingEvents: this.pendingEvents.size,
      pendingEventEntries: this.pendingEvents.entries,
      faults: this.faults,
      txModes: this.inner.streamViews.map((_, id) => this.io.txMode(id)),
    };
  }

  // ---- snapshots (relay-snapshot.ts) ----------------------------------------

  /**
   * The relay's whole state as a snapshot: the inner device and transport
   * with the relay memory in use, the guest rings as the relay walks them,
   * every guest message it holds, withheld completions, pending events. Not
   * guest memory (the emulator saves it), nor the guest's transport (the
   * attachVirtioSnd handle saves both). Call it from the emulator's thread,
   * between guest instructions, as the emulator saves its own state.
   */
  saveState(): Uint8Array {
    return saveRelay(this.snapshotParts());
  }

  /**
   * Reads and checks a snapshot of a relay of the same configuration against
   * this one and guest memory as it is now; a SnapshotError changes nothing.
   * apply() restores it (restore guest memory first) and cannot fail.
   */
  prepareRestore(bytes: Uint8Array): PreparedRelayRestore {
    return prepareRelayRestore(this.snapshotParts(), bytes);
  }

  /** prepareRestore(bytes).apply(). */
  restoreState(bytes: Uint8Array): void {
    this.prepareRestore(bytes).apply();
  }

  private snapshotParts(): RelayParts {
    return {
      inner: this.inner,
      innerTransport: this.innerTransport,
      innerMem: this.innerMem,
      guest: this.guest,
      heap: this.heap,
      io: this.io,
      ctl: this.ctl,
      holdback: this.holdback,
      pendingEvents: this.pendingEvents,
      configKey: this.configKey,
      eventBuffers: EVENT_BUFFERS,
      queueMaxSize: (i) => this.queueMaxSize(i),
      core: () => ({
        features: this.features,
        active: this.active,
        faults: this.faults,
        eventBufs: [...this.innerEventBufs],
        ctlQueue: this.ctl.innerQueue,
        evtQueue: this.innerEvt,
      }),
      setCore: (c) => {
        this.features = c.features;
        this.active = c.active;
        this.faults = c.faults;
        this.innerEventBufs = [...c.eventBufs];
        this.innerEvt = c.evtQueue;
        this.innerDrv.features = this.innerTransport.negotiatedFeatures;
      },
      quietly: (apply) => {
        this.busy = true;
        try {
          apply();
        } finally {
          this.busy = false;
        }
        this.serviceIfPending();
      },
    };
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
    this.guest.link = link;
  }

  activate(queues: readonly (QueueSetup | null)[]): boolean {
    // DRIVER_OK is an MMIO write too: a bug here must not throw into the emulator.
    let ok = false;
    this.guarded(() => {
      ok = this.start(queues);
    });
    return ok;
  }

  private start(queues: readonly (QueueSetup | null)[]): boolean {
    const opts = {
      eventIdx: hasFeature(this.features, VIRTIO_F_EVENT_IDX),
      indirect: hasFeature(this.features, VIRTIO_F_INDIRECT_DESC),
    };
    if (!this.guest.configure(queues, opts)) return false;
    // The inner device gets the same sound features; its rings live in our SharedArrayBuffer.
    this.heap.reset();
    const drv = this.innerDrv;
    drv.negotiate(this.features & featureBit(VIRTIO_SND_F_CTLS));
    // Permanent allocations first (MIN_HEAP_BYTES leaves room for them): the
    // I/O relay then knows the largest message copy the heap can ever hold.
    const ctl = drv.setupQueue<number>(VIRTIO_SND_VQ_CONTROL, INNER_CTL_QUEUE, this.heap);
    this.innerEvt = drv.setupQueue<number>(VIRTIO_SND_VQ_EVENT, INNER_CTL_QUEUE, this.heap);
    const tx = drv.setupQueue<Relayed>(VIRTIO_SND_VQ_TX, this.innerQueueSize, this.heap);
    const rx = drv.setupQueue<Relayed>(VIRTIO_SND_VQ_RX, this.innerQueueSize, this.heap);
    this.innerEventBufs = Array.from({ length: EVENT_BUFFERS }, () =>
      this.heap.alloc(EVENT.size, 8),
    );
    this.io.activate(tx, rx);
    this.ctl.activate(ctl);
    drv.driverOk();
    const evt = this.innerEvt;
    this.innerEventBufs.forEach((addr, i) => {
      evt.add([{ addr, len: EVENT.size }], 0, i);
    });
    drv.notify(VIRTIO_SND_VQ_EVENT);
    // The guest's TX/RX notifications stay on: a kick is the earliest moment to take a
    // message, and the moment a guest that re-queues before writing shows its stale period.
    this.active = true;
    return true;
  }

  queueNotify(index: number): void {
    if (!this.active) return;
    if (index === VIRTIO_SND_VQ_CONTROL) this.guarded(() => this.relayControl());
    else if (index === VIRTIO_SND_VQ_EVENT) this.guarded(() => this.deliverEvents());
    else this.poll();
  }

  /** Runs an entry point's work; a bug becomes DEVICE_NEEDS_RESET, never an exception in the emulator. */
  private guarded(work: () => void): void {
    try {
      work();
    } catch {
      this.faults++;
      this.busy = false;
      this.guest.needsReset();
    }
  }

  reset(): void {
    this.active = false;
    this.guest.disable();
    this.pendingEvents.clear();
    this.io.reset();
    this.ctl.activate(null);
    this.innerEvt = null;
    this.innerDrv.reset();
  }

  // ---- control queue: forwarded and answered synchronously ---------------

  private relayControl(): void {
    this.busy = true;
    try {
      this.ctl.relay();
    } finally {
      this.busy = false;
    }
    this.serviceIfPending();
  }

  /** Handles the inner interrupts that arrived while we drove the inner device. */
  private serviceIfPending(): void {
    if (this.servicePending) {
      this.servicePending = false;
      this.serviceInner();
    }
  }

  // ---- TX/RX: copied into inner messages ------------------------------------

  /**
   * Takes new guest TX/RX messages (the guest may not kick: MSG_POLLING), and
   * control requests a notify left. Call often.
   */
  poll(): void {
    if (!this.active) return;
    this.guarded(() => {
      if (this.ctl.more) this.relayControl();
      this.io.poll();
    });
  }

  /** The inner device returned buffers: complete the guest's messages and forward events. */
  private serviceInner(): void {
    this.guarded(() => this.collectInner());
  }

  private collectInner(): void {
    this.innerDrv.ackInterrupt();
    if (!this.active) return;
    if (this.innerDrv.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
      this.guest.needsReset();
      return;
    }
    this.io.collect(VIRTIO_SND_VQ_TX);
    this.io.collect(VIRTIO_SND_VQ_RX);
    // Inner events (XRUN, jacks, CTL_NOTIFY...) go to the guest's event queue.
    const eq = this.innerEvt;
    let reposted = false;
    for (let t = eq?.getBuf(); eq && t !== undefined; t = eq.getBuf()) {
      const addr = this.innerEventBufs[t];
      if (eq.lastLen >= EVENT.size) {
        this.pendingEvents.push(
          this.innerMem.readU32(addr + EVENT.code),
          this.innerMem.readU32(addr + EVENT.data),
        );
      }
      eq.add([{ addr, len: EVENT.size }], 0, t);
      reposted = true;
    }
    if (reposted && eq?.kickPrepare()) this.innerDrv.notify(VIRTIO_SND_VQ_EVENT);
    this.deliverEvents();
    this.poll();
  }

  /** Fills the guest's posted event buffers with pending events, oldest first. */
  private deliverEvents(): void {
    const w = this.pendingEvents;
    if (!this.active || w.size === 0) return;
    const mem = this.guest.mem();
    const q = this.guest.queue(VIRTIO_SND_VQ_EVENT);
    const c = this.guest.chain(VIRTIO_SND_VQ_EVENT);
    const bytes = new Uint8Array(EVENT.size);
    const view = new DataView(bytes.buffer);
    while (w.size > 0 && q.popValid(c)) {
      if (c.readCount !== 0 || c.writeBytes < EVENT.size) {
        q.pushUsed(c.head, 0);
        continue;
      }
      w.take();
      view.setUint32(EVENT.code, w.code, true);
      view.setUint32(EVENT.data, w.data, true);
      c.copyToWritable(mem, 0, bytes, 0, EVENT.size);
      q.pushUsed(c.head, EVENT.size);
    }
    this.guest.signal(q);
  }
}
