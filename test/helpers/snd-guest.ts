/**
 * A minimal guest for device tests: sets the device up through the MMIO
 * registers like an emulator's guest would, and offers synchronous helpers to
 * send control requests and queue I/O messages in guest memory. Everything
 * the device sees goes through VirtioMmioTransport and guest memory.
 */

import { restoreSoundState, saveSoundState } from '../../src/device/control/sound-snapshot.ts';
import {
  VirtioSndDevice,
  type VirtioSndDeviceOptions,
} from '../../src/device/control/virtio-snd-device.ts';
import { PcmRenderer } from '../../src/device/render/pcm-renderer.ts';
import { prepareAttachedRestore, saveAttached } from '../../src/embed/attach-snapshot.ts';
import { RelayDevice, type RelayOptions } from '../../src/embed/relay-device.ts';
import {
  PCM_HDR,
  PCM_RATE_HZ,
  PCM_SET_PARAMS,
  QUERY_INFO,
  VIRTIO_SND_F_CTLS,
  VIRTIO_SND_R_PCM_SET_PARAMS,
} from '../../src/snd/protocol.ts';
import { DriverQueue } from '../../src/virtio/driver-queue.ts';
import {
  featureBit,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
} from '../../src/virtio/features.ts';
import { GuestHeap } from '../../src/virtio/heap.ts';
import { GuestMemory } from '../../src/virtio/memory.ts';
import { VirtioMmioTransport } from '../../src/virtio/mmio.ts';
import { MmioDriver } from '../../src/virtio/mmio-driver.ts';

export const QUANTUM = 128;

export interface Msg {
  /** Token identifying the message in `used`. */
  token: number;
  /** Guest address of the xfer header, data and status. */
  hdr: number;
  data: number;
  dataLen: number;
  status: number;
}

export interface ChainPart {
  len: number;
  /** Device-writable. Readable parts must come first. */
  write: boolean;
  data?: Uint8Array;
  /** Use this address instead of allocating one. */
  addr?: number;
  /** Place the buffer at an odd address. */
  odd?: boolean;
}

export class SndGuest {
  readonly mem: GuestMemory;
  readonly memory: SharedArrayBuffer;
  /** The device that plays (the relay's inner device when there is a relay). */
  readonly device: VirtioSndDevice;
  /** Set when the guest talks to a RelayDevice (an emulator whose RAM is not shared). */
  readonly relay: RelayDevice | null = null;
  readonly transport: VirtioMmioTransport;
  readonly mmio: MmioDriver;
  readonly renderer: PcmRenderer;
  readonly alloc: GuestHeap;
  queues: DriverQueue<number>[] = [];
  irqs = 0;
  /** Called each time the transport raises its interrupt line (after counting it). */
  onIrq: (() => void) | null = null;
  /** Every InterruptStatus bit the guest has acknowledged so far. */
  irqBits = 0;
  private token = 0;
  /** Tokens returned on each queue: token -> used length. */
  readonly used: Map<number, number>[] = [new Map(), new Map(), new Map(), new Map()];
  /** Events received on the event queue, in order. */
  readonly events: { code: number; data: number }[] = [];
  private eventBufs = new Map<number, number>();

  constructor(
    private readonly opts: Partial<VirtioSndDeviceOptions> & {
      relay?: Partial<Omit<RelayOptions, 'guestMemory' | keyof VirtioSndDeviceOptions>>;
    } = {},
    memBytes = 4 << 20,
  ) {
    const { relay, ...deviceOpts } = opts;
    this.memory = new SharedArrayBuffer(memBytes);
    this.mem = new GuestMemory(this.memory);
    if (relay) {
      this.relay = new RelayDevice({
        guestMemory: () => this.mem,
        sampleRate: 48000,
        autoService: false,
        ...deviceOpts,
        ...relay,
      });
      this.device = this.relay.inner;
    } else {
      this.device = new VirtioSndDevice({
        memory: this.memory,
        sampleRate: 48000,
        autoService: false,
        ...deviceOpts,
      });
    }
    this.transport = new VirtioMmioTransport(this.relay ?? this.device, {
      onInterrupt: (level) => {
        if (level) {
          this.irqs++;
          this.onIrq?.();
        }
      },
    });
    this.mmio = new MmioDriver(this.transport, this.mem);
    this.alloc = new GuestHeap(0x1000, memBytes);
    this.renderer = new PcmRenderer(this.device.renderState);
  }

  /**
   * A second guest and device that go on from where this one is: guest
   * memory copied into a new SharedArrayBuffer, a new device (and renderer)
   * restored from this device's snapshot, and this guest's own bookkeeping
   * (queues, heap, tokens, what it has collected) copied. `snapshot` is what
   * was restored (saveSoundState of this transport and device).
   */
  twin(
    opts: Partial<VirtioSndDeviceOptions> = {},
    how: { memoryInSnapshot?: boolean } = {},
  ): { guest: SndGuest; snapshot: Uint8Array } {
    // With memoryInSnapshot, the snapshot carries the guest's allocations (the host path).
    const memory = how.memoryInSnapshot ? this.alloc.saveState().used : undefined;
    const snapshot = saveSoundState(this.transport, this.device, { memory });
    const t = new SndGuest(opts, this.memory.byteLength);
    if (!memory) new Uint8Array(t.memory).set(new Uint8Array(this.memory));
    restoreSoundState(t.transport, t.device, snapshot);
    t.adopt(this);
    return { guest: t, snapshot };
  }

  /**
   * For a guest behind a relay: a second guest, relay and inner device (and
   * renderer) made as this one was, going on from where it is, as an
   * emulator restores its machine: guest RAM copied, then the guest's
   * transport and the relay restored from `snapshot` (saveAttached of this
   * guest's, by default), and this guest's bookkeeping copied.
   */
  relayTwin(snapshot?: Uint8Array): { guest: SndGuest; snapshot: Uint8Array } {
    if (!this.relay) throw new Error('not a relay guest');
    const bytes = snapshot ?? saveAttached(this.transport, this.relay);
    const t = new SndGuest(this.opts, this.memory.byteLength);
    t.pollRelay = this.pollRelay;
    new Uint8Array(t.memory).set(new Uint8Array(this.memory));
    prepareAttachedRestore(t.transport, t.relay!, bytes).apply();
    t.adopt(this);
    return { guest: t, snapshot: bytes };
  }

  /** Takes `g`'s guest-side bookkeeping (over this guest's own memory). */
  adopt(g: SndGuest): void {
    this.used.forEach((m) => {
      m.clear();
    });
    this.events.length = 0;
    this.queues = g.queues.map((q) => {
      const st = q.saveState((x) => x);
      return DriverQueue.restore<number>(
        this.mem,
        st,
        st.tokens.map((x) => x ?? undefined),
      );
    });
    this.alloc.applyState(g.alloc.saveState());
    this.token = g.token;
    g.used.forEach((m, q) => {
      for (const [k, v] of m) this.used[q].set(k, v);
    });
    this.events.push(...g.events);
    this.eventBufs = new Map(g.eventBufs);
    this.irqBits = g.irqBits;
    this.mmio.features = g.mmio.features;
  }

  /** Reset, negotiate (CTLS by default), four queues, DRIVER_OK, post event buffers. */
  init(
    opts: { ctls?: boolean; eventIdx?: boolean; indirect?: boolean; eventBuffers?: number } = {},
  ): this {
    const want =
      (opts.ctls === false ? 0n : featureBit(VIRTIO_SND_F_CTLS)) |
      (opts.eventIdx ? featureBit(VIRTIO_F_EVENT_IDX) : 0n) |
      (opts.indirect ? featureBit(VIRTIO_F_INDIRECT_DESC) : 0n);
    this.mmio.negotiate(want);
    this.queues = [0, 1, 2, 3].map((i) =>
      this.mmio.setupQueue<number>(i, i < 2 ? 64 : 256, this.alloc),
    );
    this.mmio.driverOk();
    for (let i = 0; i < (opts.eventBuffers ?? 8); i++) this.postEventBuffer();
    return this;
  }

  postEventBuffer(): void {
    const addr = this.alloc.alloc(8, 8);
    const t = this.token++;
    this.eventBufs.set(t, addr);
    this.queues[1].add([{ addr, len: 8 }], 0, t);
    this.mmio.notify(1);
  }

  /** Whether collect() polls the relay, as an emulator's tick or timer would (default true). */
  pollRelay = true;

  /** Collects used buffers from every queue (and events). */
  collect(): void {
    if (this.pollRelay) this.relay?.poll(); // an emulator polls the relay every few milliseconds
    this.device.service();
    this.irqBits |= this.mmio.ackInterrupt();
    for (let q = 0; q < 4; q++) {
      const dq = this.queues[q];
      for (let t = dq.getBuf(); t !== undefined; t = dq.getBuf()) {
        this.used[q].set(t, dq.lastLen);
        if (q === 1) {
          const addr = this.eventBufs.get(t)!;
          if (dq.lastLen >= 8)
            this.events.push({ code: this.mem.readU32(addr), data: this.mem.readU32(addr + 4) });
        }
      }
    }
  }

  /** Sends a control request and returns its response (status + payload). */
  request(req: Uint8Array, respBytes = 4): { status: number; payload: Uint8Array; len: number } {
    const reqAddr = this.alloc.alloc(Math.max(1, req.length), 8);
    const respAddr = this.alloc.alloc(respBytes, 8);
    this.mem.write(reqAddr, req);
    this.mem.fill(respAddr, respBytes, 0xee);
    const t = this.token++;
    this.queues[0].add(
      [
        { addr: reqAddr, len: req.length },
        { addr: respAddr, len: respBytes },
      ],
      1,
      t,
    );
    this.mmio.notify(0);
    this.collect();
    const len = this.used[0].get(t);
    if (len === undefined) throw new Error('control request not answered synchronously');
    return {
      status: len >= 4 ? this.mem.readU32(respAddr) : -1,
      payload: this.mem.read(respAddr + 4, Math.max(0, len - 4)),
      len,
    };
  }

  pcmCommand(code: number, streamId: number): number {
    const b = new Uint8Array(PCM_HDR.size);
    const v = new DataView(b.buffer);
    v.setUint32(0, code, true);
    v.setUint32(PCM_HDR.streamId, streamId, true);
    return this.request(b).status;
  }

  setParams(p: {
    streamId: number;
    bufferBytes: number;
    periodBytes: number;
    channels: number;
    format: number;
    rateHz: number;
    features?: number;
  }): number {
    const b = new Uint8Array(PCM_SET_PARAMS.size);
    const v = new DataView(b.buffer);
    v.setUint32(0, VIRTIO_SND_R_PCM_SET_PARAMS, true);
    v.setUint32(PCM_SET_PARAMS.streamId, p.streamId, true);
    v.setUint32(PCM_SET_PARAMS.bufferBytes, p.bufferBytes, true);
    v.setUint32(PCM_SET_PARAMS.periodBytes, p.periodBytes, true);
    v.setUint32(PCM_SET_PARAMS.features, p.features ?? 0, true);
    v.setUint8(PCM_SET_PARAMS.channels, p.channels);
    v.setUint8(PCM_SET_PARAMS.format, p.format);
    v.setUint8(PCM_SET_PARAMS.rate, PCM_RATE_HZ.indexOf(p.rateHz));
    return this.request(b).status;
  }

  query(code: number, startId: number, count: number, size: number, respBytes?: number) {
    const b = new Uint8Array(QUERY_INFO.size);
    const v = new DataView(b.buffer);
    v.setUint32(0, code, true);
    v.setUint32(QUERY_INFO.startId, startId, true);
    v.setUint32(QUERY_INFO.count, count, true);
    v.setUint32(QUERY_INFO.itemSize, size, true);
    return this.request(b, respBytes ?? 4 + count * size);
  }

  /** Queues a TX message carrying `pcm` for `streamId`. */
  tx(streamId: number, pcm: Uint8Array): Msg {
    const hdr = this.alloc.alloc(4, 4);
    const data = this.alloc.alloc(pcm.length, 8);
    const status = this.alloc.alloc(8, 8);
    this.mem.writeU32(hdr, streamId);
    this.mem.write(data, pcm);
    this.mem.fill(status, 8, 0xee);
    this.queues[2].add(
      [
        { addr: hdr, len: 4 },
        { addr: data, len: pcm.length },
        { addr: status, len: 8 },
      ],
      2,
      this.token,
    );
    return { token: this.token++, hdr, data, dataLen: pcm.length, status };
  }

  /** Queues an RX message with room for `bytes` of PCM for `streamId`. */
  rx(streamId: number, bytes: number): Msg {
    const hdr = this.alloc.alloc(4, 4);
    const data = this.alloc.alloc(bytes, 8);
    const status = this.alloc.alloc(8, 8);
    this.mem.writeU32(hdr, streamId);
    this.mem.fill(data, bytes, 0xee);
    this.queues[3].add(
      [
        { addr: hdr, len: 4 },
        { addr: data, len: bytes },
        { addr: status, len: 8 },
      ],
      1,
      this.token,
    );
    return { token: this.token++, hdr, data, dataLen: bytes, status };
  }

  /**
   * Queues a raw chain on queue `q`: every part is placed at its own address
   * (`addr`, or freshly allocated and filled with `data` or 0xee), readable
   * parts first. Returns the token and the address of each part.
   */
  chain(
    q: number,
    parts: readonly ChainPart[],
    opts: { notify?: boolean } = {},
  ): { token: number; addrs: number[] } {
    const addrs = parts.map((p) => {
      const a = p.addr ?? this.alloc.alloc(Math.max(p.len, 1) + 1, 8) + (p.odd ? 1 : 0);
      if (p.addr === undefined) {
        if (p.data) this.mem.write(a, p.data.subarray(0, p.len));
        else this.mem.fill(a, p.len, 0xee);
      }
      return a;
    });
    const firstWrite = parts.findIndex((p) => p.write);
    const token = this.token++;
    this.queues[q].add(
      parts.map((p, i) => ({ addr: addrs[i], len: p.len })),
      firstWrite < 0 ? parts.length : firstWrite,
      token,
    );
    if (opts.notify) this.mmio.notify(q);
    return { token, addrs };
  }

  /** A TX message whose payload is already in guest memory at `data` (reused buffers). */
  txAt(streamId: number, data: number, len: number): Msg {
    const hdr = this.alloc.alloc(4, 4);
    const status = this.alloc.alloc(8, 8);
    this.mem.writeU32(hdr, streamId);
    this.mem.fill(status, 8, 0xee);
    this.queues[2].add(
      [
        { addr: hdr, len: 4 },
        { addr: data, len },
        { addr: status, len: 8 },
      ],
      2,
      this.token,
    );
    return { token: this.token++, hdr, data, dataLen: len, status };
  }

  /** A control request virtio_snd_ctl_hdr {code, id} followed by `extra` zero bytes. */
  ctlRequest(code: number, id: number, extra = 0): { bytes: Uint8Array; view: DataView } {
    const bytes = new Uint8Array(8 + extra);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, code, true);
    view.setUint32(4, id, true);
    return { bytes, view };
  }

  /** Runs `quanta` quanta (optional input per quantum); returns left/right concatenated. */
  render(
    quanta: number,
    input?: (q: number) => [Float32Array, Float32Array],
  ): { l: Float32Array; r: Float32Array } {
    const l = new Float32Array(quanta * QUANTUM);
    const r = new Float32Array(quanta * QUANTUM);
    for (let q = 0; q < quanta; q++) {
      const [a, b] = this.quantum(input?.(q));
      l.set(a, q * QUANTUM);
      r.set(b, q * QUANTUM);
    }
    return { l, r };
  }

  /** used.idx of queue `q` as the device last published it. */
  usedIdx(q: number): number {
    return this.mem.readU16(this.queues[q].layout.usedAddr + 2);
  }

  /** Status and latency_bytes written into a message's status. */
  statusOf(m: Msg): { status: number; latency: number } {
    return { status: this.mem.readU32(m.status), latency: this.mem.readU32(m.status + 4) };
  }

  /** Runs one render quantum with optional stereo input; returns [left, right]. */
  quantum(input?: [Float32Array, Float32Array]): [Float32Array, Float32Array] {
    return this.block(QUANTUM, input);
  }

  /** Runs one render block of `frames` frames (AudioContext renderSizeHint) with optional input. */
  block(frames: number, input?: [Float32Array, Float32Array]): [Float32Array, Float32Array] {
    const out: [Float32Array, Float32Array] = [new Float32Array(frames), new Float32Array(frames)];
    this.renderer.process(input ? [input] : [[]], [out]);
    this.collect();
    return out;
  }
}
