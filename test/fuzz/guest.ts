/**
 * A hostile guest for the fuzzers: it drives a VirtioSndDevice only through
 * VirtioMmioTransport register accesses, descriptors it writes itself into
 * guest memory, and renderer.process() calls, like a misbehaving VM would.
 * Every device entry point runs under the Oracle.
 */

import fc from 'fast-check';
import type { StreamConfig } from '../../src/device/control/config.ts';
import { VirtioSndDevice } from '../../src/device/control/virtio-snd-device.ts';
import { PcmRenderer } from '../../src/device/render/pcm-renderer.ts';
import * as P from '../../src/snd/protocol.ts';
import { GuestMemory } from '../../src/virtio/memory.ts';
import { MMIO, VirtioMmioTransport } from '../../src/virtio/mmio.ts';
import { deviceTarget, Oracle } from './oracle.ts';

export const MEM_BYTES = 1 << 17;
export const QSIZE = 64;
/** Rings of queue q at RING(q): descriptors, then avail at +0x400, used at +0x800. */
export const RING = (q: number) => 0x1000 * q;
const AVAIL = 0x400;
const USED = 0x800;
const BUF_BASE = 0x4000;

export type Action =
  | { k: 'init'; ctls: boolean; eventIdx: boolean; indirect: boolean }
  | { k: 'mmio'; off: number; val: number }
  | {
      k: 'raw';
      q: number;
      descs: { i: number; addr: number; len: number; flags: number; next: number }[];
      head: number;
    }
  | { k: 'jump'; q: number; delta: number }
  | { k: 'ctl'; bytes: Uint8Array; room: number }
  | {
      k: 'params';
      stream: number;
      buffer: number;
      period: number;
      features: number;
      channels: number;
      format: number;
      rate: number;
    }
  | { k: 'cmd'; code: number; stream: number }
  | {
      k: 'io';
      q: 2 | 3;
      stream: number;
      hdr: number;
      payload: number;
      wrongDir: boolean;
      status: number;
      split: boolean;
    }
  | { k: 'event'; len: number }
  | { k: 'notify'; q: number }
  | { k: 'process'; n: number; level: number }
  | { k: 'reset' }
  | { k: 'jack'; id: number; on: boolean }
  | { k: 'volume'; value: number };

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const small = fc.integer({ min: 0, max: 40 });

/** Field values near the edges: valid ones, zero, off-by-one and huge. */
const edgy = (valid: number[]) =>
  fc.oneof(fc.constantFrom(...valid, 0, 1, 3, 255, 0xffff, 0xffffffff), u32);

export function actionArb(opts: { ring: boolean; mmio: boolean }): fc.Arbitrary<Action> {
  const arbs: fc.Arbitrary<Action>[] = [
    fc.record({
      k: fc.constant('init' as const),
      ctls: fc.boolean(),
      eventIdx: fc.boolean(),
      indirect: fc.boolean(),
    }),
    fc.record({
      k: fc.constant('ctl' as const),
      bytes: fc.oneof(
        fc.uint8Array({ minLength: 0, maxLength: 64 }),
        // Real request codes with random bodies.
        fc
          .tuple(
            fc.constantFrom(
              1,
              2,
              0x100,
              0x101,
              0x102,
              0x103,
              0x104,
              0x105,
              0x200,
              0x300,
              0x301,
              0x302,
              0x303,
              0x304,
              0x305,
              0x306,
            ),
            fc.uint8Array({ minLength: 0, maxLength: 530 }),
          )
          .map(([code, body]) => {
            const b = new Uint8Array(4 + body.length);
            new DataView(b.buffer).setUint32(0, code, true);
            b.set(body, 4);
            return b;
          }),
      ),
      room: fc.oneof(
        fc.constantFrom(0, 3, 4, 8, 36, 68, 100, 516),
        fc.integer({ min: 0, max: 2048 }),
      ),
    }),
    fc.record({
      k: fc.constant('params' as const),
      stream: fc.integer({ min: 0, max: 3 }),
      buffer: edgy([4096, 8192]),
      period: edgy([1024, 2048]),
      features: edgy([0, 4, 16, 20, 28]),
      channels: fc.integer({ min: 0, max: 255 }),
      format: fc.integer({ min: 0, max: 255 }),
      rate: fc.integer({ min: 0, max: 255 }),
    }),
    fc.record({
      k: fc.constant('cmd' as const),
      code: fc.constantFrom(0x102, 0x103, 0x104, 0x105),
      stream: fc.oneof(fc.integer({ min: 0, max: 2 }), u32),
    }),
    fc.record({
      k: fc.constant('io' as const),
      q: fc.constantFrom(2 as const, 3 as const),
      stream: fc.oneof(fc.integer({ min: 0, max: 2 }), u32),
      hdr: fc.constantFrom(4, 4, 4, 3, 5, 8),
      payload: fc.oneof(
        fc.constantFrom(0, 1, 4, 512, 1024, 4096),
        fc.integer({ min: 0, max: 3000 }),
      ),
      wrongDir: fc.boolean(),
      status: fc.constantFrom(8, 8, 8, 0, 4, 7, 16),
      split: fc.boolean(),
    }),
    fc.record({ k: fc.constant('event' as const), len: fc.constantFrom(8, 8, 4, 16) }),
    fc.record({ k: fc.constant('notify' as const), q: fc.integer({ min: 0, max: 5 }) }),
    fc.record({
      k: fc.constant('process' as const),
      n: fc.integer({ min: 1, max: 6 }),
      level: fc.double({ min: -2, max: 2, noNaN: true }),
    }),
    fc.record({
      k: fc.constant('jack' as const),
      id: fc.integer({ min: 0, max: 2 }),
      on: fc.boolean(),
    }),
    fc.record({ k: fc.constant('volume' as const), value: fc.integer({ min: 0, max: 100 }) }),
  ];
  if (opts.ring) {
    arbs.push(
      fc.record({
        k: fc.constant('raw' as const),
        q: fc.integer({ min: 0, max: 3 }),
        descs: fc.array(
          fc.record({
            i: fc.integer({ min: 0, max: QSIZE - 1 }),
            addr: fc.oneof(
              fc.integer({ min: BUF_BASE, max: MEM_BYTES - 64 }),
              u32,
              fc.constant(MEM_BYTES - 4),
            ),
            len: fc.oneof(small, fc.constantFrom(0, 8, 16, 32, 512), u32),
            flags: fc.integer({ min: 0, max: 7 }),
            next: fc.integer({ min: 0, max: QSIZE + 2 }),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        head: fc.integer({ min: 0, max: QSIZE + 1 }),
      }),
      fc.record({
        k: fc.constant('jump' as const),
        q: fc.integer({ min: 0, max: 3 }),
        delta: fc.integer({ min: 1, max: 70000 }),
      }),
    );
  }
  if (opts.mmio) {
    arbs.push(
      fc.record({
        k: fc.constant('mmio' as const),
        off: fc.constantFrom(
          0x14,
          0x20,
          0x24,
          0x30,
          0x38,
          0x44,
          0x50,
          0x64,
          0x70,
          0x70,
          0x80,
          0x84,
          0x90,
          0xa0,
          0x100,
          0x7ff,
        ),
        val: fc.oneof(fc.integer({ min: 0, max: 255 }), u32, fc.constantFrom(0, 1, 15, 16, 0x4000)),
      }),
      fc.record({ k: fc.constant('reset' as const) }),
    );
  }
  return fc.oneof(...arbs);
}

export class FuzzGuest {
  readonly memory = new SharedArrayBuffer(MEM_BYTES);
  readonly mem = new GuestMemory(this.memory);
  readonly device: VirtioSndDevice;
  readonly transport: VirtioMmioTransport;
  readonly renderer: PcmRenderer;
  readonly oracle: Oracle;
  private nextDesc = [0, 0, 0, 0];
  private bufPtr = BUF_BASE;
  private readonly out = [[new Float32Array(128), new Float32Array(128)]];
  /** Every output sample must stay finite (a hostile guest cannot push NaN into the graph). */
  nonFinite = 0;

  constructor(streams?: readonly StreamConfig[]) {
    this.device = new VirtioSndDevice({
      memory: this.memory,
      sampleRate: 48000,
      autoService: false,
      tapFrames: 0,
      ...(streams ? { streams } : {}),
    });
    this.transport = new VirtioMmioTransport(this.device, { onInterrupt: () => {} });
    this.renderer = new PcmRenderer(this.device.renderState);
    this.oracle = new Oracle(deviceTarget(this.device), this.mem);
  }

  private faultsBefore = 0;

  /** Exceptions process() caught since this guest was made or recycled. */
  get faults(): number {
    return this.renderer.faults - this.faultsBefore;
  }

  /**
   * A fresh start for the next case: device reset, memory zeroed, nothing
   * remembered. Building a guest (device, renderer, oracle) costs more than
   * most cases, and a device reset must forget everything anyway.
   */
  recycle(): this {
    this.transport.write(MMIO.Status, 0, 4);
    this.mem.fill(0, MEM_BYTES);
    this.nextDesc = [0, 0, 0, 0];
    this.bufPtr = BUF_BASE;
    this.nonFinite = 0;
    this.faultsBefore = this.renderer.faults;
    return this;
  }

  get needsReset(): boolean {
    return (this.transport.deviceStatus & 64) !== 0;
  }

  private w(off: number, val: number): void {
    this.oracle.step(`mmio write 0x${off.toString(16)}=${val}`, () =>
      this.transport.write(off, val, 4),
    );
  }

  /** The full, correct init sequence with the fixed ring layout (one oracle step). */
  init(ctls: boolean, eventIdx: boolean, indirect: boolean): void {
    this.mem.fill(0, 0x1000 * 4);
    this.oracle.step('init', () => this.initRegisters(ctls, eventIdx, indirect));
    this.nextDesc = [0, 0, 0, 0];
  }

  private initRegisters(ctls: boolean, eventIdx: boolean, indirect: boolean): void {
    const w = (off: number, val: number) => this.transport.write(off, val, 4);
    w(MMIO.Status, 0);
    w(MMIO.Status, 1);
    w(MMIO.Status, 3);
    const lo = (ctls ? 1 : 0) | (indirect ? 1 << 28 : 0) | (eventIdx ? 1 << 29 : 0);
    w(MMIO.DriverFeaturesSel, 0);
    w(MMIO.DriverFeatures, lo >>> 0);
    w(MMIO.DriverFeaturesSel, 1);
    w(MMIO.DriverFeatures, 1);
    w(MMIO.Status, 11);
    for (let q = 0; q < 4; q++) {
      w(MMIO.QueueSel, q);
      w(MMIO.QueueNum, QSIZE);
      w(MMIO.QueueDescLow, RING(q));
      w(MMIO.QueueDescHigh, 0);
      w(MMIO.QueueDriverLow, RING(q) + AVAIL);
      w(MMIO.QueueDriverHigh, 0);
      w(MMIO.QueueDeviceLow, RING(q) + USED);
      w(MMIO.QueueDeviceHigh, 0);
      w(MMIO.QueueReady, 1);
    }
    w(MMIO.Status, 15);
  }

  /** Guest buffer space, reused round-robin (the device may still hold old chains: that is hostile, and fine). */
  buf(len: number): number {
    const n = Math.max(8, (len + 7) & ~7);
    if (this.bufPtr + n > MEM_BYTES) this.bufPtr = BUF_BASE;
    const a = this.bufPtr;
    this.bufPtr += n;
    return a;
  }

  /** Writes a chain of buffers into queue q's table and publishes it. */
  chain(q: number, segs: { addr: number; len: number; write: boolean }[]): void {
    const table = RING(q);
    const idx = segs.map(() => {
      const i = this.nextDesc[q];
      this.nextDesc[q] = (i + 1) % QSIZE;
      return i;
    });
    segs.forEach((s, k) => {
      const d = table + 16 * idx[k];
      this.mem.writeU64(d, BigInt(s.addr));
      this.mem.writeU32(d + 8, s.len);
      this.mem.writeU16(d + 12, (s.write ? 2 : 0) | (k + 1 < segs.length ? 1 : 0));
      this.mem.writeU16(d + 14, k + 1 < segs.length ? idx[k + 1] : 0);
    });
    this.publish(q, idx[0]);
  }

  publish(q: number, head: number): void {
    const avail = RING(q) + AVAIL;
    const i = this.mem.readU16(avail + 2);
    this.mem.writeU16(avail + 4 + 2 * (i % QSIZE), head);
    this.mem.storeU16(avail + 2, (i + 1) & 0xffff);
  }

  notify(q: number): void {
    this.w(MMIO.QueueNotify, q);
  }

  process(n: number, level = 0.25): void {
    const input = [new Float32Array(128).fill(level), new Float32Array(128).fill(-level)];
    for (let i = 0; i < n; i++) {
      const ok = this.oracle.step('process', () => this.renderer.process([input], this.out));
      if (ok !== true) throw new Error('process() did not return true');
      for (const ch of this.out[0]) for (const v of ch) if (!Number.isFinite(v)) this.nonFinite++;
      this.oracle.step('service', () => this.device.service());
    }
  }

  apply(a: Action): void {
    switch (a.k) {
      case 'init':
        this.init(a.ctls, a.eventIdx, a.indirect);
        return;
      case 'mmio':
        this.w(a.off, a.val);
        return;
      case 'reset':
        this.w(MMIO.Status, 0);
        return;
      case 'raw':
        for (const d of a.descs) {
          const at = RING(a.q) + 16 * d.i;
          this.mem.writeU64(at, BigInt(d.addr));
          this.mem.writeU32(at + 8, d.len);
          this.mem.writeU16(at + 12, d.flags);
          this.mem.writeU16(at + 14, d.next);
        }
        this.publish(a.q, a.head);
        this.notify(a.q);
        return;
      case 'jump': {
        const avail = RING(a.q) + AVAIL;
        this.mem.storeU16(avail + 2, (this.mem.readU16(avail + 2) + a.delta) & 0xffff);
        this.notify(a.q);
        return;
      }
      case 'ctl': {
        const req = this.buf(a.bytes.length);
        this.mem.write(req, a.bytes);
        const segs = [];
        if (a.bytes.length) segs.push({ addr: req, len: a.bytes.length, write: false });
        if (a.room) segs.push({ addr: this.buf(a.room), len: a.room, write: true });
        if (segs.length) this.chain(0, segs);
        this.notify(0);
        return;
      }
      case 'params': {
        const b = new Uint8Array(24);
        const v = new DataView(b.buffer);
        v.setUint32(0, P.VIRTIO_SND_R_PCM_SET_PARAMS, true);
        v.setUint32(4, a.stream, true);
        v.setUint32(8, a.buffer, true);
        v.setUint32(12, a.period, true);
        v.setUint32(16, a.features, true);
        v.setUint8(20, a.channels);
        v.setUint8(21, a.format);
        v.setUint8(22, a.rate);
        this.apply({ k: 'ctl', bytes: b, room: 4 });
        return;
      }
      case 'cmd': {
        const b = new Uint8Array(8);
        const v = new DataView(b.buffer);
        v.setUint32(0, a.code, true);
        v.setUint32(4, a.stream, true);
        this.apply({ k: 'ctl', bytes: b, room: 4 });
        return;
      }
      case 'io': {
        const hdr = this.buf(a.hdr);
        this.mem.writeU32(hdr, a.stream >>> 0);
        const segs = [{ addr: hdr, len: a.hdr, write: false }];
        const payloadWritable = a.q === 3 ? !a.wrongDir : a.wrongDir;
        if (a.payload)
          segs.push({ addr: this.buf(a.payload), len: a.payload, write: payloadWritable });
        if (a.status) {
          if (a.split && a.status > 3) {
            segs.push({ addr: this.buf(3), len: 3, write: true });
            segs.push({ addr: this.buf(a.status - 3), len: a.status - 3, write: true });
          } else {
            segs.push({ addr: this.buf(a.status), len: a.status, write: true });
          }
        }
        // Descriptors must be readable-then-writable to be a chain at all; keep the guest's order.
        this.chain(a.q, segs);
        this.notify(a.q);
        return;
      }
      case 'event':
        this.chain(1, [{ addr: this.buf(a.len), len: a.len, write: true }]);
        this.notify(1);
        return;
      case 'notify':
        this.notify(a.q);
        return;
      case 'process':
        this.process(a.n, a.level);
        return;
      case 'jack':
        if (a.id < this.device.jacks.count) {
          this.oracle.step('jack', () => this.device.setJackConnected(a.id, a.on));
        }
        return;
      case 'volume':
        if (this.device.controls) {
          this.oracle.step('volume', () =>
            this.device.setControl('Master Playback Volume', [a.value]),
          );
        }
        return;
    }
  }
}
