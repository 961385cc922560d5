/**
 * VirtioSndDevice: the virtio-snd device's control plane (VIRTIO 1.2 section
 * 5.14, plus the 1.3 control elements). It answers the control queue, owns the
 * event queue and the PCM stream state machine, and shares the TX/RX queues
 * with the renderer (PcmRenderer, in the audio thread) through `renderState`.
 *
 * It runs on whichever thread owns the transport (a Worker, or an emulator's
 * thread) and answers control requests without the audio thread: a guest can
 * probe the card and set up streams while the AudioContext is suspended.
 */

import type { PreparedRestore } from '../../snapshot/snapshot-format.ts';
import {
  VIRTIO_ID_SOUND,
  VIRTIO_SND_CTL_EVT_MASK_VALUE,
  VIRTIO_SND_EVT_CTL_NOTIFY,
  VIRTIO_SND_EVT_JACK_CONNECTED,
  VIRTIO_SND_EVT_JACK_DISCONNECTED,
  VIRTIO_SND_F_CTLS,
  VIRTIO_SND_R_CHMAP_INFO,
  VIRTIO_SND_R_CTL_INFO,
  VIRTIO_SND_R_CTL_TLV_COMMAND,
  VIRTIO_SND_R_JACK_INFO,
  VIRTIO_SND_R_JACK_REMAP,
  VIRTIO_SND_R_PCM_INFO,
  VIRTIO_SND_S_BAD_MSG,
  VIRTIO_SND_S_NOT_SUPP,
  VIRTIO_SND_VQ_CONTROL,
  VIRTIO_SND_VQ_EVENT,
  VIRTIO_SND_VQ_MAX,
  VIRTIO_SND_VQ_RX,
  VIRTIO_SND_VQ_TX,
} from '../../snd/protocol.ts';
import { ChainError } from '../../virtio/chain.ts';
import type { TransportLink, VirtioDevice } from '../../virtio/device.ts';
import { DeviceQueue, type QueueSetup } from '../../virtio/device-queue.ts';
import {
  featureBit,
  hasFeature,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
} from '../../virtio/features.ts';
import { GuestMemory } from '../../virtio/memory.ts';
import { EventRing } from '../shared/event-ring.ts';
import { IoQueue } from '../shared/io-queue.ts';
import {
  INT_NEEDS_RESET,
  INT_TX_LOW,
  INT_VRING,
  IO_QUEUE_MAX,
  SharedState,
} from '../shared/layout.ts';
import { withLock } from '../shared/queue-lock.ts';
import type { RenderState } from '../shared/render-state.ts';
import type { PcmStateName } from '../shared/stream-state.ts';
import { Chmaps } from './chmaps.ts';
import {
  type ChmapConfig,
  DEFAULT_CHMAPS,
  DEFAULT_JACKS,
  DEFAULT_STREAMS,
  DeviceConfigError,
  type Direction,
  type JackConfig,
  PINCAP_IN,
  PINCAP_OUT,
  type ResolvedStream,
  resolveChmap,
  resolveJack,
  resolveStream,
  type StreamConfig,
} from './config.ts';
import { queryInfoMaxBytes } from './control-info.ts';
import { ControlQueue, type ControlRequest, type ControlResponse } from './control-queue.ts';
import { type ControlConfig, Controls, DEFAULT_CONTROLS } from './controls.ts';
import {
  type DeviceParts,
  deviceConfigKey,
  prepareDeviceRestore,
  type SaveOptions,
  saveDevice,
} from './device-snapshot.ts';
import { EventQueue } from './event-queue.ts';
import { Jacks } from './jacks.ts';
import { PcmControl } from './pcm-control.ts';
import { isSharedArrayBuffer, startServiceLoop } from './service-loop.ts';
import { type DeviceStats, readStats } from './stats.ts';
import { coefficientWords, prepareStream, resamplerFrames } from './stream-prepare.ts';
import { StreamView } from './stream-view.ts';

/** A jack as the host sees it. */
export interface JackStatus {
  id: number;
  name: string;
  /** 'input' for a pin that can only take input (a microphone); else 'output'. */
  direction: Direction;
  connected: boolean;
}

export interface VirtioSndDeviceOptions {
  /** Guest memory: a guest physical address is a byte offset into it. */
  memory: SharedArrayBuffer | ArrayBuffer;
  /** The AudioContext's sample rate: the rate the renderer outputs. */
  sampleRate: number;
  /** Default: one output (1-8 channels) and one input (1-2 channels). */
  streams?: readonly StreamConfig[];
  /** Default: a speaker and a microphone jack, both connected. */
  jacks?: readonly JackConfig[];
  /** Default: mono/stereo/quad/5.1/7.1 output maps, mono/stereo input maps. */
  chmaps?: readonly ChmapConfig[];
  /** Control elements (VIRTIO_SND_F_CTLS). Default: master/capture volume and switch; false: none. */
  controls?: readonly ControlConfig[] | false;
  /** Stereo frames of rendered output kept in a tap ring for meters and tests (power of two, 0 = off). */
  tapFrames?: number;
  /**
   * Called (from service()) when a TX stream has less queued than the mark set
   * with setTxLowWater(): a host that feeds the device late refills it then.
   */
  onTxLow?: () => void;
  /**
   * Service the renderer's doorbell automatically (Atomics.waitAsync). Default
   * true. Turn off to call service() yourself, e.g. after each process() in a test.
   */
  autoService?: boolean;
}

/** Largest size of each queue, by VIRTIO_SND_VQ_* index. */
const QUEUE_SIZES: readonly number[] = [64, 64, IO_QUEUE_MAX, IO_QUEUE_MAX];

export class VirtioSndDevice implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_SOUND;
  readonly vendorId = 0x1af4;
  readonly deviceFeatures: bigint;
  readonly numQueues = VIRTIO_SND_VQ_MAX;
  readonly mem: GuestMemory;
  private readonly shared: SharedState;
  readonly sampleRate: number;
  readonly streams: readonly ResolvedStream[];
  readonly jacks: Jacks;
  readonly chmaps: Chmaps;
  readonly controls: Controls | null;
  /** Structured-cloneable handle from which the worklet builds its PcmRenderer. */
  readonly renderState: RenderState;
  /** A read-only view of each stream (parameters, position) for hosts and relays. */
  readonly streamViews: readonly StreamView[];

  private readonly controlq: ControlQueue;
  private readonly events: EventQueue;
  private readonly eventRing: EventRing;
  private readonly io: { tx: IoQueue; rx: IoQueue };
  private readonly pcm: PcmControl;
  private link: TransportLink | null = null;
  private features = 0n;
  private serviceLoop: { stop(): void } | null = null;
  private readonly onTxLow: (() => void) | null;
  /** A later turn that answers what one notify left (ControlQueue.more). */
  private controlLater: ReturnType<typeof setTimeout> | null = null;
  /** What a snapshot of this device must match (deviceConfigKey). */
  private readonly configKey: string;

  constructor(options: VirtioSndDeviceOptions) {
    const { memory, sampleRate } = options;
    if (!(memory instanceof ArrayBuffer || isSharedArrayBuffer(memory))) {
      throw new DeviceConfigError('memory must be a SharedArrayBuffer or an ArrayBuffer');
    }
    if (!Number.isFinite(sampleRate) || sampleRate < 3000 || sampleRate > 768000) {
      throw new DeviceConfigError(`sampleRate must be 3000..768000 Hz, got ${sampleRate}`);
    }
    this.sampleRate = sampleRate;
    this.onTxLow = options.onTxLow ?? null;
    this.mem = new GuestMemory(memory);
    this.streams = (options.streams ?? DEFAULT_STREAMS).map(resolveStream);
    if (this.streams.length === 0) throw new DeviceConfigError('streams must not be empty');
    if (this.streams.length > 64) throw new DeviceConfigError('at most 64 streams');
    const jacks = (options.jacks ?? DEFAULT_JACKS).map(resolveJack);
    this.jacks = new Jacks(jacks);
    this.chmaps = new Chmaps((options.chmaps ?? DEFAULT_CHMAPS).map(resolveChmap));
    const tapFrames = options.tapFrames ?? 0;
    this.shared = SharedState.create({
      streams: this.streams.length,
      coefficientWords: coefficientWords(this.streams, sampleRate),
      resamplerFrames: resamplerFrames(this.streams, sampleRate),
      tapFrames,
    });
    this.controls =
      options.controls === false
        ? null
        : new Controls(options.controls ?? DEFAULT_CONTROLS, (id) => this.controlChanged(id));
    this.configKey = deviceConfigKey({
      sampleRate,
      streams: this.streams,
      jacks,
      chmaps: this.chmaps.maps,
      controls: options.controls === false ? null : (options.controls ?? DEFAULT_CONTROLS),
    });
    this.deviceFeatures =
      featureBit(VIRTIO_F_VERSION_1) |
      featureBit(VIRTIO_F_INDIRECT_DESC) |
      featureBit(VIRTIO_F_EVENT_IDX) |
      (this.controls ? featureBit(VIRTIO_SND_F_CTLS) : 0n);

    const s = this.shared;
    const queue = (index: number) => new DeviceQueue(this.mem, s.queueState(index), index);
    this.controlq = new ControlQueue(this.mem, queue(VIRTIO_SND_VQ_CONTROL));
    this.events = new EventQueue(this.mem, queue(VIRTIO_SND_VQ_EVENT));
    this.eventRing = new EventRing(s);
    this.io = { tx: new IoQueue(this.mem, s, true), rx: new IoQueue(this.mem, s, false) };
    this.pcm = new PcmControl(s, this.streams, this.io, {
      prepared: (id) => prepareStream(s, id, this.streams[id], sampleRate),
      completed: (tx) => this.ioCompleted(tx),
    });
    this.streamViews = s.streams.map((slot) => new StreamView(slot));
    this.renderState = {
      memory,
      shared: s.buffer,
      layout: s.params,
      sampleRate,
      streams: this.streams.map((st) => ({
        direction: st.direction,
        hdaFnNid: st.hdaFnNid,
      })),
      chmaps: this.chmaps.maps.map((m) => ({ ...m, positions: [...m.positions] })),
    };
    this.reset();
    if (options.autoService ?? true)
      this.serviceLoop = startServiceLoop(s.doorbell, () => this.service());
  }

  /**
   * The longest response (status header included) this device writes to any
   * control request, whatever room the guest offers: a host that mirrors
   * control requests (the relay) need not copy more of a response buffer.
   */
  get maxResponseBytes(): number {
    return Math.max(
      queryInfoMaxBytes(this.jacks.count),
      queryInfoMaxBytes(this.streams.length),
      queryInfoMaxBytes(this.chmaps.count),
      this.controls?.maxResponseBytes ?? 4,
    );
  }

  // ---- VirtioDevice ------------------------------------------------------

  queueMaxSize(index: number): number {
    return QUEUE_SIZES[index] ?? 0;
  }

  /** virtio_snd_config: jacks, streams, chmaps (+ controls with VIRTIO_SND_F_CTLS). */
  readConfig(offset: number, size: 1 | 2 | 4): number {
    const words = [
      this.jacks.count,
      this.streams.length,
      this.chmaps.count,
      this.controls?.count ?? 0,
    ];
    const length = this.controls ? 16 : 12;
    let v = 0;
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      const byte = at < length ? (words[at >> 2] >>> (8 * (at & 3))) & 0xff : 0;
      v |= byte << (8 * i);
    }
    return v >>> 0;
  }

  writeConfig(_offset: number, _value: number, _size: 1 | 2 | 4): void {
    // The sound device's configuration space is read-only.
  }

  negotiate(features: bigint): boolean {
    this.features = features;
    return true;
  }

  activate(queues: readonly (QueueSetup | null)[]): boolean {
    const opts = {
      eventIdx: hasFeature(this.features, VIRTIO_F_EVENT_IDX),
      indirect: hasFeature(this.features, VIRTIO_F_INDIRECT_DESC),
    };
    const configure = (q: DeviceQueue, setup: QueueSetup | null | undefined) =>
      setup ? q.configure(setup, opts) === ChainError.None : true;
    const s = this.shared;
    let ok =
      configure(this.controlq.queue, queues[VIRTIO_SND_VQ_CONTROL]) &&
      configure(this.events.queue, queues[VIRTIO_SND_VQ_EVENT]);
    ok &&= withLock(s.lockTx, () => configure(this.io.tx.queue, queues[VIRTIO_SND_VQ_TX]));
    ok &&= withLock(s.lockRx, () => configure(this.io.rx.queue, queues[VIRTIO_SND_VQ_RX]));
    if (!ok) return false;
    // The renderer polls TX/RX every quantum: the driver need not kick them.
    this.io.tx.queue.setNotifications(false);
    this.io.rx.queue.setNotifications(false);
    s.active.store(1);
    return true;
  }

  queueNotify(index: number): void {
    if (index === VIRTIO_SND_VQ_CONTROL) this.processControl();
    else if (index === VIRTIO_SND_VQ_EVENT) this.deliverEvents();
    // TX/RX: the renderer polls them every render quantum.
  }

  /** Device reset: every queue, stream, pending message and event is forgotten. */
  reset(): void {
    const s = this.shared;
    s.active.store(0);
    this.cancelControlLater();
    this.controlq.queue.disable();
    this.events.queue.disable();
    this.events.clear();
    withLock(s.lockTx, () => {
      withLock(s.lockRx, () => {
        this.io.tx.queue.disable();
        this.io.rx.queue.disable();
        this.io.tx.clear();
        this.io.rx.clear();
        this.pcm.reset();
        this.eventRing.reset();
        s.intFlags.store(0);
        s.resetGen.add(1);
      });
    });
    this.jacks.reset();
    this.controls?.reset();
    this.updateGains();
    this.features = 0n;
  }

  attach(link: TransportLink): void {
    this.link = link;
  }

  // ---- control queue -----------------------------------------------------

  private processControl(): void {
    const err = this.controlq.process((req) => this.handleRequest(req));
    if (err !== ChainError.None) this.link?.needsReset();
    else if (this.controlq.queue.shouldInterrupt()) this.link?.interruptQueue();
    // Requests may have raised events (e.g. CTL_NOTIFY after CTL_WRITE).
    this.deliverEvents();
    // One notify answers at most a queue's worth; the rest in a later turn of
    // this thread, so a guest republishing from another thread cannot hold it.
    if (this.controlq.more && this.controlLater === null) {
      this.controlLater = setTimeout(() => {
        this.controlLater = null;
        this.processControl();
      }, 0);
    }
  }

  private cancelControlLater(): void {
    if (this.controlLater !== null) clearTimeout(this.controlLater);
    this.controlLater = null;
  }

  private handleRequest(req: ControlRequest): ControlResponse {
    switch (req.code) {
      case VIRTIO_SND_R_JACK_INFO:
        return this.jacks.info(req);
      case VIRTIO_SND_R_JACK_REMAP:
        return this.jacks.remap(req);
      case VIRTIO_SND_R_PCM_INFO:
        return this.pcm.info(req);
      case VIRTIO_SND_R_CHMAP_INFO:
        return this.chmaps.info(req);
    }
    const pcm = this.pcm.handle(req);
    if (pcm) return pcm;
    if (req.code >= VIRTIO_SND_R_CTL_INFO && req.code <= VIRTIO_SND_R_CTL_TLV_COMMAND) {
      if (!this.controls || !hasFeature(this.features, VIRTIO_SND_F_CTLS)) {
        return { status: VIRTIO_SND_S_NOT_SUPP };
      }
      const res = this.controls.handle(req);
      if (res) return res;
    }
    return { status: VIRTIO_SND_S_BAD_MSG };
  }

  // ---- events and interrupts --------------------------------------------

  /** TX/RX buffers were completed by the control plane (holding that queue's lock). */
  private ioCompleted(tx: boolean): void {
    const q = tx ? this.io.tx.queue : this.io.rx.queue;
    if (!q.ready && q.error !== ChainError.None) this.link?.needsReset();
    else if (q.shouldInterrupt()) this.link?.interruptQueue();
  }

  private deliverEvents(): void {
    if (this.events.backlog === 0) return;
    const err = this.events.deliver();
    if (err !== ChainError.None) this.link?.needsReset();
    else if (this.events.queue.shouldInterrupt()) this.link?.interruptQueue();
  }

  /**
   * Picks up what the renderer reported since the last call: completed TX/RX
   * buffers (interrupt), XRUN / PERIOD_ELAPSED events, a broken ring. Called
   * automatically when the renderer rings the doorbell (unless autoService is
   * off); cheap to call at any time.
   */
  service(): void {
    const s = this.shared;
    const flags = s.intFlags.exchange(0);
    this.eventRing.drain((code, data) => this.events.push(code, data));
    if (flags & INT_NEEDS_RESET) this.link?.needsReset();
    if (flags & INT_VRING) this.link?.interruptQueue();
    if (flags & INT_TX_LOW) this.onTxLow?.();
    this.deliverEvents();
  }

  private controlChanged(id: number): void {
    this.updateGains();
    this.events.pushCtl(VIRTIO_SND_EVT_CTL_NOTIFY, id, 1 << VIRTIO_SND_CTL_EVT_MASK_VALUE);
    this.deliverEvents();
  }

  /** Master volume/switch controls -> the renderer's target gains. */
  private updateGains(): void {
    this.shared.playbackGain = this.gainFor('Master Playback');
    this.shared.captureGain = this.gainFor('Capture');
  }

  private gainFor(prefix: string): number {
    const c = this.controls;
    if (!c) return 1;
    const vol = c.find(`${prefix} Volume`);
    const sw = c.find(`${prefix} Switch`);
    const volume = vol >= 0 ? Controls.gainOf(c.config(vol), c.values(vol)[0]) : 1;
    const on = sw >= 0 ? c.values(sw)[0] !== 0 : true;
    return on ? volume : 0;
  }

  // ---- host API ----------------------------------------------------------

  /** Plugs or unplugs jack `id`; the guest gets a JACK_CONNECTED/DISCONNECTED event. */
  setJackConnected(id: number, connected: boolean): void {
    if (!this.jacks.setConnected(id, connected)) return;
    this.events.push(
      connected ? VIRTIO_SND_EVT_JACK_CONNECTED : VIRTIO_SND_EVT_JACK_DISCONNECTED,
      id,
    );
    this.deliverEvents();
  }

  /**
   * The host's output latency in seconds (the AudioContext's baseLatency +
   * outputLatency): from now on every TX latency_bytes includes it, so the
   * guest's delay counts until the audio is heard. 0 (the default) reports
   * only what is queued in the device.
   */
  setOutputLatency(seconds: number): void {
    if (!(Number.isFinite(seconds) && seconds >= 0 && seconds <= 10)) {
      throw new DeviceConfigError(`output latency must be 0..10 s, got ${seconds}`);
    }
    this.shared.outputLatencyUs.store(Math.round(seconds * 1e6));
  }

  /**
   * Asks the renderer to ring (and onTxLow to be called) in every block in
   * which output stream `id` holds fewer than `bytes` payload bytes; 0 turns
   * it off. Kept across PREPARE; cleared by a device reset.
   */
  setTxLowWater(id: number, bytes: number): void {
    const st = this.streams[id];
    if (st?.direction !== 'output') throw new RangeError(`no output stream ${id}`);
    if (!(Number.isInteger(bytes) && bytes >= 0 && bytes <= 0x7fffffff)) {
      throw new RangeError(`low-water mark must be 0..2^31-1 bytes, got ${bytes}`);
    }
    this.shared.streams[id].lowWater = bytes;
  }

  /** Context frames the renderer has rendered since the device was made: the audio clock. */
  get framesRendered(): number {
    return this.shared.framesRendered;
  }

  /** The output latency last set (seconds). */
  get outputLatency(): number {
    return this.shared.outputLatencyUs.load() / 1e6;
  }

  /** The jacks: name, which way they face (from the HDA pin capabilities), and whether plugged. */
  jackStatus(): JackStatus[] {
    return Array.from({ length: this.jacks.count }, (_, id) => {
      const j = this.jacks.get(id);
      return {
        id,
        name: j.name,
        direction:
          (j.hdaRegCaps & PINCAP_IN) !== 0 && (j.hdaRegCaps & PINCAP_OUT) === 0
            ? 'input'
            : 'output',
        connected: j.connected,
      };
    });
  }

  /** Sets a control from the host (e.g. a page's volume slider); the guest gets CTL_NOTIFY. */
  setControl(nameOrId: string | number, values: readonly number[]): void {
    const c = this.controls;
    if (!c) throw new DeviceConfigError('this device has no control elements');
    const id = typeof nameOrId === 'number' ? nameOrId : c.find(nameOrId);
    if (id < 0 || id >= c.count) throw new RangeError(`no control ${String(nameOrId)}`);
    c.set(id, values);
  }

  /** State of stream `id` in the spec's state machine. */
  streamState(id: number): PcmStateName {
    return this.pcm.state(id);
  }

  /** Counters for a UI or a test: per stream state, completions, xruns, queued bytes, peak. */
  stats(): DeviceStats {
    return readStats(this.shared, this.streams, {
      controlRequests: this.controlq.requests,
      eventsDelivered: this.events.delivered,
      eventBacklog: this.events.backlog,
    });
  }

  // ---- snapshots -----------------------------------------------------------

  /**
   * The device's whole state as a snapshot (see device-snapshot.ts): queues,
   * streams, in-flight messages, events, controls, jacks, and, when asked
   * (`memory`), guest memory. The transport is not in it: saveSoundState
   * saves both. Safe while the renderer runs: the queues are held still
   * while they (and guest memory) are read.
   */
  saveState(opts: SaveOptions = {}): Uint8Array {
    return saveDevice(this.snapshotParts(), opts);
  }

  /**
   * Reads and checks a snapshot from a device of the same configuration
   * against this one and guest memory as it is now. Throws a SnapshotError,
   * changing nothing, if anything is wrong; apply() then restores it and
   * cannot fail. Running streams go on from where they were saved; the
   * renderer drops its private state.
   */
  prepareRestore(bytes: Uint8Array): PreparedRestore {
    return prepareDeviceRestore(this.snapshotParts(), bytes);
  }

  /** prepareRestore(bytes).apply(). */
  restoreState(bytes: Uint8Array): void {
    this.prepareRestore(bytes).apply();
  }

  private snapshotParts(): DeviceParts {
    const device = this;
    return {
      mem: this.mem,
      shared: this.shared,
      sampleRate: this.sampleRate,
      streams: this.streams,
      jacks: this.jacks,
      controls: this.controls,
      controlq: this.controlq,
      events: this.events,
      eventRing: this.eventRing,
      io: this.io,
      deviceFeatures: this.deviceFeatures,
      configKey: this.configKey,
      queueMaxSize: (i) => this.queueMaxSize(i),
      get features() {
        return device.features;
      },
      set features(f: bigint) {
        device.features = f;
      },
      updateGains: () => this.updateGains(),
    };
  }

  /** Stops the automatic service loop. */
  dispose(): void {
    this.cancelControlLater();
    this.serviceLoop?.stop();
    this.serviceLoop = null;
  }
}
