/**
 * The sound card (Linux virtio_card.c): probe over a virtio-mmio register
 * interface, the four virtqueues, configuration, the *_INFO queries that
 * build the card model, the event queue, and interrupt handling.
 *
 * The device is untrusted: impossible configuration, short answers and
 * protocol violations on the used rings raise a DeviceError (and the device
 * is reset), never a corrupted buffer or an exception in the application.
 */

import { type PreparedRestore, readSnapshot, SnapshotError } from '../snapshot/snapshot-format.ts';
import {
  CHMAP_INFO,
  decodePcmInfo,
  EVENT,
  JACK_INFO,
  QUERY_INFO,
  VIRTIO_ID_SOUND,
  VIRTIO_SND_EVT_CTL_NOTIFY,
  VIRTIO_SND_EVT_JACK_CONNECTED,
  VIRTIO_SND_EVT_JACK_DISCONNECTED,
  VIRTIO_SND_EVT_PCM_XRUN,
  VIRTIO_SND_F_CTLS,
  VIRTIO_SND_R_CHMAP_INFO,
  VIRTIO_SND_R_JACK_INFO,
  VIRTIO_SND_R_PCM_INFO,
  VIRTIO_SND_VQ_CONTROL,
  VIRTIO_SND_VQ_EVENT,
  VIRTIO_SND_VQ_RX,
  VIRTIO_SND_VQ_TX,
} from '../snd/protocol.ts';
import { VirtqueueError } from '../virtio/chain.ts';
import { DriverQueue } from '../virtio/driver-queue.ts';
import {
  featureBit,
  hasFeature,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
} from '../virtio/features.ts';
import { GuestHeap } from '../virtio/heap.ts';
import { GuestMemory } from '../virtio/memory.ts';
import { MmioDriver, type MmioRegisters } from '../virtio/mmio-driver.ts';
import type { CardContext } from './card-context.ts';
import { type Chmap, parseChmaps } from './chmap.ts';
import { ControlSet, type ControlSet as ControlSetT, queryControls } from './controls.ts';
import { CtlChannel, type CtlMsg, ctlRequest, DEFAULT_MSG_TIMEOUT_MS } from './ctl-msg.ts';
import {
  DRIVER_KIND,
  type DriverState,
  msgRef,
  readDriverState,
  writeDriverState,
} from './driver-snapshot.ts';
import { DeviceError, VirtioSndError } from './errors.ts';
import { JackSet, parseJacks } from './jack.ts';
import { PCM_INFO_SIZE, parsePcmInfo, VirtioPcmSubstream } from './pcm.ts';
import { type MsgCompletion, type PcmMsg, pcmMsgComplete } from './pcm-msg.ts';
import { PcmStream } from './pcm-ops.ts';
import { applySubstream, restoreMsgs, substreamState } from './substream-snapshot.ts';

/** Beyond these counts a configuration is taken as hostile, not as a real card. */
const MAX_ITEMS = 1024;

export interface DriverOptions {
  /** Part of guest memory the driver may use (default: all of it). */
  heapBase?: number;
  heapLimit?: number;
  /** Control request timeout (Linux msg_timeout_ms, default 1000). */
  timeoutMs?: number;
  /** Largest hardware buffer per stream (default 4 MiB). */
  maxBufferBytes?: number;
  /** Negotiate VIRTIO_SND_F_CTLS when offered (default true). */
  controls?: boolean;
}

/** The card's four virtqueues, each typed by the token its buffers carry. */
interface CardQueues {
  control: DriverQueue<CtlMsg>;
  /** Event buffers carry their guest address. */
  event: DriverQueue<number>;
  tx: DriverQueue<PcmMsg>;
  rx: DriverQueue<PcmMsg>;
}

export interface CardConfig {
  jacks: number;
  streams: number;
  chmaps: number;
  controls: number;
}

export class VirtioSndDriver implements CardContext {
  readonly mem: GuestMemory;
  readonly heap: GuestHeap;
  readonly transport: MmioDriver;
  readonly maxBufferBytes: number;
  ctl!: CtlChannel;
  config: CardConfig = { jacks: 0, streams: 0, chmaps: 0, controls: 0 };
  substreams: VirtioPcmSubstream[] = [];
  streams: PcmStream[] = [];
  jacks!: JackSet;
  chmaps: Chmap[] = [];
  controls: ControlSetT | null = null;
  /** Set once the device broke the protocol or asked for a reset. */
  error: VirtioSndError | null = null;
  /** Called when the card becomes unusable. */
  onError: ((e: VirtioSndError) => void) | null = null;

  private queues: CardQueues | null = null;
  private eventBufs: number[] = [];
  private irqScheduled = false;

  constructor(
    regs: MmioRegisters,
    memory: SharedArrayBuffer | ArrayBuffer | GuestMemory,
    private readonly opts: DriverOptions = {},
  ) {
    this.mem = memory instanceof GuestMemory ? memory : new GuestMemory(memory);
    this.heap = new GuestHeap(opts.heapBase ?? 0, opts.heapLimit ?? this.mem.size);
    this.transport = new MmioDriver(regs, this.mem);
    this.maxBufferBytes = opts.maxBufferBytes ?? 4 << 20;
  }

  /** Wire the transport's interrupt line here. Handling is deferred to a microtask. */
  readonly interrupt = (level: boolean): void => {
    if (!level || this.irqScheduled) return;
    this.irqScheduled = true;
    queueMicrotask(() => {
      this.irqScheduled = false;
      this.handleInterrupt();
    });
  };

  /** Probe (virtsnd_probe): negotiate, set up queues, read config, query the card. */
  async probe(): Promise<void> {
    const t = this.transport;
    const id = t.probe();
    if (id !== VIRTIO_ID_SOUND) throw new DeviceError(`device id ${id} is not a sound device (25)`);
    const wanted =
      featureBit(VIRTIO_F_EVENT_IDX) |
      (this.opts.controls === false ? 0n : featureBit(VIRTIO_SND_F_CTLS));
    const features = t.negotiate(wanted);
    const queues: CardQueues = {
      control: t.setupQueue<CtlMsg>(VIRTIO_SND_VQ_CONTROL, 64, this.heap),
      event: t.setupQueue<number>(VIRTIO_SND_VQ_EVENT, 64, this.heap),
      tx: t.setupQueue<PcmMsg>(VIRTIO_SND_VQ_TX, 256, this.heap),
      rx: t.setupQueue<PcmMsg>(VIRTIO_SND_VQ_RX, 256, this.heap),
    };
    this.queues = queues;
    t.driverOk();
    this.ctl = new CtlChannel(
      this.mem,
      this.heap,
      queues.control,
      () => t.notify(VIRTIO_SND_VQ_CONTROL),
      this.opts.timeoutMs ?? DEFAULT_MSG_TIMEOUT_MS,
    );
    this.postEventBuffers(queues.event);

    const ctls = hasFeature(features, VIRTIO_SND_F_CTLS);
    const [jacks, streams, chmaps, controls] = t
      .readConfigWords(0, ctls ? 4 : 3)
      .concat(ctls ? [] : [0]);
    this.config = { jacks, streams, chmaps, controls };
    for (const [k, n] of Object.entries(this.config)) {
      if (n > MAX_ITEMS)
        throw this.fail(new DeviceError(`config: ${n} ${k} is not a plausible card`));
    }
    if (streams === 0) throw this.fail(new DeviceError('config: the device has no PCM streams'));

    try {
      const jackInfo = await this.queryInfo(VIRTIO_SND_R_JACK_INFO, jacks, JACK_INFO.size);
      this.jacks = new JackSet(this, parseJacks(jackInfo, jacks));
      const pcmInfo = await this.queryInfo(VIRTIO_SND_R_PCM_INFO, streams, PCM_INFO_SIZE);
      const view = new DataView(pcmInfo.buffer, pcmInfo.byteOffset, pcmInfo.byteLength);
      this.substreams = Array.from({ length: streams }, (_, sid) => {
        const { direction, hw } = parsePcmInfo(sid, decodePcmInfo(view, sid * PCM_INFO_SIZE));
        const playback = direction === 'playback';
        return new VirtioPcmSubstream(
          sid,
          direction,
          hw,
          this.mem,
          playback ? queues.tx : queues.rx,
          playback ? this.kickTx : this.kickRx,
        );
      });
      this.streams = this.substreams.map((v) => new PcmStream(this, v));
      const chmapInfo = await this.queryInfo(VIRTIO_SND_R_CHMAP_INFO, chmaps, CHMAP_INFO.size);
      this.chmaps = parseChmaps(chmapInfo, chmaps);
      if (ctls) this.controls = new ControlSet(this, await queryControls(this, controls));
    } catch (e) {
      if (e instanceof DeviceError) throw this.fail(e);
      throw e;
    }
  }

  /** A query_info for all `count` items of a kind (one request, as Linux does). */
  private async queryInfo(code: number, count: number, size: number): Promise<Uint8Array> {
    if (count === 0) return new Uint8Array(0);
    const { bytes, view } = ctlRequest(code, QUERY_INFO.size);
    view.setUint32(QUERY_INFO.startId, 0, true);
    view.setUint32(QUERY_INFO.count, count, true);
    view.setUint32(QUERY_INFO.itemSize, size, true);
    const r = await this.ctl.send(bytes, 4 + count * size);
    if (r.payload.length < count * size) {
      throw new DeviceError(
        `answer to query 0x${code.toString(16)} is ${r.payload.length} bytes, want ${count * size}`,
      );
    }
    return r.payload;
  }

  /** The stream handle for PCM stream `id`. */
  pcm(id: number): PcmStream {
    const s = this.streams[id];
    if (!s) throw new VirtioSndError(`no PCM stream ${id} (the card has ${this.streams.length})`);
    return s;
  }

  /** Reused for every PCM completion (read before the next one). */
  private readonly completion: MsgCompletion = { frames: 0, status: 0, latencyBytes: 0 };
  // Made once: a kick runs for every message sent, and the data path allocates nothing it need not.
  private readonly kickTx = () => this.transport.notify(VIRTIO_SND_VQ_TX);
  private readonly kickRx = () => this.transport.notify(VIRTIO_SND_VQ_RX);

  private postEventBuffers(q: DriverQueue<number>): void {
    const base = this.heap.alloc(q.size * EVENT.size, 8);
    this.eventBufs = Array.from({ length: q.size }, (_, i) => base + i * EVENT.size);
    for (const addr of this.eventBufs) this.postEvent(q, addr);
    if (q.kickPrepare()) this.transport.notify(VIRTIO_SND_VQ_EVENT);
  }

  private postEvent(q: DriverQueue<number>, addr: number): void {
    this.mem.fill(addr, EVENT.size);
    q.add([{ addr, len: EVENT.size }], 0, addr);
  }

  /**
   * Collects every used buffer now, without waiting for an interrupt (the used
   * rings are in guest memory). For producers that poll, like a non-blocking
   * ALSA application; interrupts keep working alongside.
   */
  poll(): void {
    const q = this.queues;
    if (this.error || !q) return;
    try {
      this.drainControl(q.control);
      this.drainEvents(q.event);
      this.drainPcm(q.tx);
      this.drainPcm(q.rx);
    } catch (e) {
      if (e instanceof VirtqueueError) this.fail(new DeviceError(e.message));
      else throw e;
    }
  }

  /** Processes every used buffer on every queue (vm_interrupt order: ctl, event, tx, rx). */
  handleInterrupt(): void {
    if (this.error) return;
    const bits = this.transport.ackInterrupt();
    if (bits & VIRTIO_MMIO_INT_CONFIG && this.transport.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
      this.fail(new DeviceError('the device needs a reset (DEVICE_NEEDS_RESET)'));
      return;
    }
    this.poll();
  }

  private drainControl(q: DriverQueue<CtlMsg>): void {
    for (let m = q.getBuf(); m !== undefined; m = q.getBuf()) this.ctl.complete(m, q.lastLen);
  }

  private drainEvents(q: DriverQueue<number>): void {
    let reposted = false;
    for (let addr = q.getBuf(); addr !== undefined; addr = q.getBuf()) {
      if (q.lastLen >= EVENT.size)
        this.dispatchEvent(
          this.mem.readU32(addr + EVENT.code),
          this.mem.readU32(addr + EVENT.data),
        );
      this.postEvent(q, addr);
      reposted = true;
    }
    if (reposted && q.kickPrepare()) this.transport.notify(VIRTIO_SND_VQ_EVENT);
  }

  private dispatchEvent(code: number, data: number): void {
    switch (code) {
      case VIRTIO_SND_EVT_JACK_CONNECTED:
      case VIRTIO_SND_EVT_JACK_DISCONNECTED:
        this.jacks?.event(data, code === VIRTIO_SND_EVT_JACK_CONNECTED);
        break;
      case VIRTIO_SND_EVT_PCM_XRUN:
        this.streams[data]?.xrunEvent();
        break;
      case VIRTIO_SND_EVT_CTL_NOTIFY:
        void this.controls?.event(data & 0xffff, data >>> 16).catch(() => {});
        break;
      default:
        // PCM_PERIOD_ELAPSED is for shared-memory streams; unknown codes are ignored (as Linux does).
        break;
    }
  }

  private drainPcm(q: DriverQueue<PcmMsg>): void {
    for (let msg = q.getBuf(); msg !== undefined; msg = q.getBuf()) {
      const vss = msg.substream;
      const c = pcmMsgComplete(vss, msg, q.lastLen, this.completion);
      this.streams[vss.sid].periodElapsed(msg, c);
    }
  }

  /** Marks the card unusable, resets the device and fails everything waiting. Returns the error. */
  fail(e: VirtioSndError): VirtioSndError {
    if (this.error) return this.error;
    this.error = e;
    this.transport.reset();
    if (this.queues && this.ctl) this.ctl.failAll(e, this.queues.control.detachAll());
    for (const s of this.streams) s.disconnect();
    this.onError?.(e);
    return e;
  }

  // ---- snapshots -------------------------------------------------------------

  /**
   * The driver's whole state as a snapshot (driver-snapshot.ts): the card
   * model, every substream's runtime and messages, the queues and the heap.
   * Save it together with guest memory and the device. Throws
   * SnapshotError('busy') while a control request is in flight (try again
   * once it is answered) and SnapshotError('invalid-state') before probe or
   * after the card failed.
   */
  saveState(): Uint8Array {
    const q = this.queues;
    if (!q) throw new SnapshotError('invalid-state', 'the driver has not probed a card');
    if (this.error)
      throw new SnapshotError('invalid-state', `the card failed: ${this.error.message}`);
    if (this.ctl.pending > 0) {
      throw new SnapshotError('busy', `${this.ctl.pending} control request(s) in flight`);
    }
    const state: DriverState = {
      features: this.transport.features,
      config: { ...this.config },
      heap: this.heap.saveState(),
      eventBufs: [...this.eventBufs],
      queues: [
        q.control.saveState(() => -1),
        q.event.saveState((addr) => addr),
        q.tx.saveState((m) => msgRef(m.substream.sid, m.index)),
        q.rx.saveState((m) => msgRef(m.substream.sid, m.index)),
      ],
      substreams: this.streams.map((s) => substreamState(s)),
      jacks: this.jacks.jacks.map((j) => ({ ...j })),
      chmaps: this.chmaps.map((c) => ({ ...c, positions: [...c.positions] })),
      controls: this.controls?.controls.map((c) => ({ ...c, items: [...c.items] })) ?? null,
    };
    return writeDriverState(state, this.heap);
  }

  /**
   * Reads and checks a snapshot of a driver with the same heap range against
   * this one (probed or not); throws a SnapshotError and changes nothing if
   * it is bad. apply() replaces the card model, substreams, queues, heap and
   * control channel; listeners set on the old substreams, jacks and controls
   * carry over; anything waiting on an old substream wakes to a disconnected
   * one. Guest memory must hold what it held when the snapshot was taken.
   */
  prepareRestore(bytes: Uint8Array): PreparedRestore {
    const st = readDriverState(readSnapshot(bytes, DRIVER_KIND), {
      mem: this.mem,
      heap: this.heap,
      maxBufferBytes: this.maxBufferBytes,
    });
    return { apply: () => this.applyState(st) };
  }

  /** prepareRestore(bytes).apply(). */
  restoreState(bytes: Uint8Array): void {
    this.prepareRestore(bytes).apply();
  }

  private applyState(st: DriverState): void {
    const mem = this.mem;
    this.heap.applyState(st.heap);
    this.transport.features = st.features;
    this.config = { ...st.config };
    this.error = null;
    // Messages first (each learns its substream once that exists), so queue tokens can name them.
    const msgs = st.substreams.map(restoreMsgs);
    const token = (ref: number | null) =>
      ref === null ? undefined : msgs[Math.floor(ref / 256)][ref % 256];
    const [qc, qe, qt, qr] = st.queues;
    const queues: CardQueues = {
      control: DriverQueue.restore<CtlMsg>(mem, qc, []),
      event: DriverQueue.restore<number>(
        mem,
        qe,
        qe.tokens.map((a) => a ?? undefined),
      ),
      tx: DriverQueue.restore<PcmMsg>(mem, qt, qt.tokens.map(token)),
      rx: DriverQueue.restore<PcmMsg>(mem, qr, qr.tokens.map(token)),
    };
    this.queues = queues;
    this.ctl = new CtlChannel(
      mem,
      this.heap,
      queues.control,
      () => this.transport.notify(VIRTIO_SND_VQ_CONTROL),
      this.opts.timeoutMs ?? DEFAULT_MSG_TIMEOUT_MS,
    );
    this.eventBufs = [...st.eventBufs];
    const old = this.streams;
    this.substreams = st.substreams.map((v) => {
      const playback = v.direction === 'playback';
      const vss = new VirtioPcmSubstream(
        v.sid,
        v.direction,
        v.hw,
        mem,
        playback ? queues.tx : queues.rx,
        playback ? this.kickTx : this.kickRx,
      );
      applySubstream(vss, v, msgs[v.sid]);
      return vss;
    });
    this.streams = this.substreams.map((vss, i) => {
      const s = new PcmStream(this, vss);
      s.xruns = st.substreams[i].xruns;
      s.onPeriod = old[i]?.onPeriod ?? null;
      s.onXrun = old[i]?.onXrun ?? null;
      return s;
    });
    for (const s of old) s.disconnect();
    const jacks = new JackSet(
      this,
      st.jacks.map((j) => ({ ...j })),
    );
    jacks.onChange = this.jacks?.onChange ?? null;
    this.jacks = jacks;
    this.chmaps = st.chmaps.map((c) => ({ ...c, positions: [...c.positions] }));
    const onControl = this.controls?.onChange ?? null;
    this.controls = st.controls ? new ControlSet(this, st.controls) : null;
    if (this.controls) this.controls.onChange = onControl;
  }

  /** Resets the device and forgets it (virtsnd_remove). */
  remove(): void {
    this.fail(new VirtioSndError('card removed'));
  }
}
