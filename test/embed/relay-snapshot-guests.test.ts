/**
 * Relay snapshots with real guest behaviour, cut mid-stream as an emulator's
 * save state cuts it: the guest's RAM copied (an unshared ArrayBuffer, as
 * v86's), the relay and the guest's transport saved and restored into a new
 * relay, inner device and renderer. The rule across the cut: every frame is
 * rendered once, by the old stack up to the snapshot and by the new one from
 * there on (what was in flight plays once, in the new stack); every guest
 * message is completed once; positions only go forward.
 *
 *  - Our driver as the guest: playback and capture go on exactly as the
 *    original stack does, and the whole stream is bit-exact.
 *  - A Linux-6.1-style guest (re-queues a period the moment it completes and
 *    writes it afterwards: the relay holds it back), cut anywhere, also
 *    between a re-queue and the write; and a Linux >= 6.8 guest (writes,
 *    then queues): bit-exact, no xrun, nothing completed twice.
 */
import { describe, expect, it } from 'vitest';
import { PcmRenderer } from '../../src/device/render/pcm-renderer.ts';
import { VirtioSndDriver } from '../../src/driver/card.ts';
import type { PcmStream } from '../../src/driver/pcm-ops.ts';
import { prepareAttachedRestore, saveAttached } from '../../src/embed/attach-snapshot.ts';
import { RelayDevice } from '../../src/embed/relay-device.ts';
import * as P from '../../src/snd/protocol.ts';
import { ChainError } from '../../src/virtio/chain.ts';
import { GuestMemory } from '../../src/virtio/memory.ts';
import { VirtioMmioTransport } from '../../src/virtio/mmio.ts';
import { settle, TEST_HW_PARAMS } from '../helpers/in-process.ts';
import { type Msg, QUANTUM, SndGuest } from '../helpers/snd-guest.ts';

const RAM = 4 << 20;

/** Our driver behind a relay, its RAM an unshared ArrayBuffer, the renderer driven by hand. */
class RelayStack {
  readonly ram = new ArrayBuffer(RAM);
  readonly mem = new GuestMemory(this.ram);
  readonly relay = new RelayDevice({
    guestMemory: () => this.mem,
    sampleRate: 48000,
    autoService: false,
    tapFrames: 0,
  });
  readonly transport: VirtioMmioTransport;
  readonly driver: VirtioSndDriver;
  readonly renderer = new PcmRenderer(this.relay.inner.renderState);
  readonly out: number[][] = [[], []];
  /** Streams whose drain the application is waiting for (each stack's own application). */
  readonly drains = new Set<PcmStream>();

  constructor() {
    let driver: VirtioSndDriver | null = null;
    this.transport = new VirtioMmioTransport(this.relay, {
      onInterrupt: (l) => driver?.interrupt(l),
    });
    this.driver = new VirtioSndDriver(this.transport, this.mem);
    driver = this.driver;
  }

  async tick(input?: Float32Array[]): Promise<void> {
    const o = [new Float32Array(QUANTUM), new Float32Array(QUANTUM)];
    this.renderer.process([input ?? []], [o]);
    this.out[0].push(...o[0]);
    this.out[1].push(...o[1]);
    this.relay.inner.service();
    this.relay.poll();
    await settle();
  }

  /** A new stack over a copy of this one's RAM: the driver, the relay and the guest's transport restored. */
  async copy(): Promise<RelayStack> {
    const relay = saveAttached(this.transport, this.relay);
    const driver = this.driver.saveState();
    const s = new RelayStack();
    new Uint8Array(s.ram).set(new Uint8Array(this.ram));
    prepareAttachedRestore(s.transport, s.relay, relay).apply();
    s.driver.restoreState(driver);
    await settle();
    return s;
  }
}

const TOTAL = 24000;

function frames(from: number, n: number): Int16Array {
  const s = new Int16Array(2 * n);
  for (let f = 0; f < n; f++) {
    s[2 * f] = ((from + f) * 7919) % 32000;
    s[2 * f + 1] = -(((from + f) * 31) % 32000);
  }
  return s;
}

/**
 * The application: writes what fits, from its own position, and drains at
 * the end (the same on any copy of the stack: a drain joins one in progress).
 */
function feed(pcm: PcmStream, drains: Set<PcmStream>): void {
  if (pcm.state === 'prepared' || pcm.state === 'running') {
    const n = Math.min(pcm.avail(), TOTAL - pcm.applPtr);
    if (n > 0) pcm.tryWritei(frames(pcm.applPtr, n));
  }
  const end = pcm.applPtr === TOTAL && (pcm.state === 'running' || pcm.state === 'draining');
  if (end && !drains.has(pcm)) {
    drains.add(pcm);
    void pcm.drain();
  }
}

async function play(s: RelayStack, quanta: number): Promise<void> {
  for (let i = 0; i < quanta; i++) {
    feed(s.driver.pcm(0), s.drains);
    await s.tick();
  }
}

describe('relay snapshot with our driver as the guest (unshared RAM)', () => {
  for (const cut of [3, 40, 101, 184] as const) {
    it(`playback cut after ${cut} quanta goes on exactly, and the whole stream is bit-exact`, async () => {
      const a = new RelayStack();
      await a.driver.probe();
      const pcm = a.driver.pcm(0);
      await pcm.hwParams({ ...TEST_HW_PARAMS, periodFrames: 300 });
      await pcm.prepare();
      await play(a, cut);
      if (cut === 184) expect(pcm.state).toBe('draining'); // a drain the new stack's application joins
      const rendered = a.out[0].length;
      const position = a.relay.inner.stats().streams[0].frames;
      const b = await a.copy();
      expect(b.relay.inner.stats().streams[0].frames).toBe(position);
      const n = Math.ceil(TOTAL / QUANTUM) + 40;
      await play(a, n);
      await play(b, n);
      // The new stack goes on as the old one would have...
      expect(b.out[0]).toEqual(a.out[0].slice(rendered));
      expect(b.out[1]).toEqual(a.out[1].slice(rendered));
      expect(b.driver.pcm(0).hwPtr).toBe(a.driver.pcm(0).hwPtr);
      expect(b.driver.pcm(0).xruns).toBe(0);
      expect(b.driver.pcm(0).hwPtr).toBe(TOTAL);
      expect(b.driver.pcm(0).state).toBe('setup');
      // ...and the old stack's frames up to the cut, then the new one's, are the stream once.
      const start = a.relay.inner.stats().streams[0].startFrame;
      const L = [...a.out[0].slice(0, rendered), ...b.out[0]];
      const want = frames(0, TOTAL);
      let bad = 0;
      for (let f = 0; f < TOTAL; f++) if (L[start + f] !== want[2 * f] / 32768) bad++;
      expect(bad).toBe(0);
      expect(b.relay.stats().faults).toBe(0);
    });
  }

  it('capture goes on exactly', async () => {
    const a = new RelayStack();
    await a.driver.probe();
    const cap = a.driver.pcm(1);
    await cap.hwParams(TEST_HW_PARAMS);
    await cap.prepare();
    await cap.start();
    const input = (q: number) => {
      const l = Float32Array.from({ length: QUANTUM }, (_, i) => ((q * QUANTUM + i) % 2000) / 4096);
      return [l, l];
    };
    const read = async (s: RelayStack, from: number, quanta: number) => {
      const got: number[] = [];
      const buf = new Int16Array(2 * 4096);
      for (let q = from; q < from + quanta; q++) {
        await s.tick(input(q));
        const n = s.driver.pcm(1).tryReadi(buf);
        got.push(...buf.subarray(0, 2 * n));
      }
      return got;
    };
    await read(a, 0, 17);
    const b = await a.copy();
    const ga = await read(a, 17, 40);
    const gb = await read(b, 17, 40);
    expect(gb.length).toBeGreaterThan(0);
    expect(gb).toEqual(ga);
    expect(b.driver.pcm(1).hwPtr).toBe(a.driver.pcm(1).hwPtr);
  });
});

/** A different value for every frame and channel (S16). */
const sample = (f: number, ch: number) => ((f * 7919 + ch * 104729) % 65521) - 32760;

/**
 * A Linux guest's playback: periods in a buffer of guest RAM, each message
 * re-queued at once and written after (before 6.8), or written then queued
 * (6.8 and later, `ack`). step() renders one quantum and reacts to the
 * completions; a cut may fall between a re-queue and its write.
 */
class LinuxPlayback {
  g: SndGuest;
  readonly L: number[] = [];
  readonly R: number[] = [];
  readonly buf: number;
  written = 0;
  completed = 0;
  /** Periods re-queued and not written yet (the application runs after the interrupt). */
  unwritten: number[] = [];
  readonly inFlight = new Map<number, { msg: Msg; period: number }>();
  readonly periodBytes: number;

  constructor(
    readonly periodFrames: number,
    readonly periods: number,
    readonly ack: boolean,
  ) {
    this.g = new SndGuest({ relay: {} }).init();
    this.periodBytes = periodFrames * 4;
    const g = this.g;
    expect(
      g.setParams({
        streamId: 0,
        bufferBytes: this.periodBytes * periods,
        periodBytes: this.periodBytes,
        channels: 2,
        format: P.VIRTIO_SND_PCM_FMT_S16,
        rateHz: 48000,
      }),
    ).toBe(P.VIRTIO_SND_S_OK);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 0)).toBe(P.VIRTIO_SND_S_OK);
    this.buf = g.alloc.alloc(this.periodBytes * periods, 8);
    for (let i = 0; i < periods; i++) this.write(i);
    for (let i = 0; i < periods; i++) this.send(i);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(P.VIRTIO_SND_S_OK);
  }

  write(i: number): void {
    const { g, periodBytes } = this;
    for (let k = 0; k < this.periodFrames; k++, this.written++) {
      g.mem.writeU16(this.buf + i * periodBytes + 4 * k, sample(this.written, 0) & 0xffff);
      g.mem.writeU16(this.buf + i * periodBytes + 4 * k + 2, sample(this.written, 1) & 0xffff);
    }
  }

  send(i: number): void {
    const msg = this.g.txAt(0, this.buf + i * this.periodBytes, this.periodBytes);
    this.inFlight.set(msg.token, { msg, period: i });
    this.g.mmio.notify(P.VIRTIO_SND_VQ_TX);
  }

  /** The application writes what the interrupt handler re-queued. */
  catchUp(): void {
    for (const i of this.unwritten) this.write(i);
    this.unwritten = [];
  }

  /** One quantum; with `stopAfterRequeue`, returns right after the first re-queue (before its write). */
  step(stopAfterRequeue = false): boolean {
    this.catchUp();
    const [l, r] = this.g.quantum();
    this.L.push(...l);
    this.R.push(...r);
    for (const [token, { msg, period }] of [...this.inFlight]) {
      if (!this.g.used[2].has(token)) continue;
      this.inFlight.delete(token);
      this.completed++;
      expect(this.g.statusOf(msg).status).toBe(P.VIRTIO_SND_S_OK);
      if (this.ack) {
        this.write(period);
        this.send(period);
        continue;
      }
      this.send(period);
      this.g.relay!.poll();
      this.unwritten.push(period);
      if (stopAfterRequeue) return true;
    }
    return false;
  }

  /** Goes on in a restored copy of the guest, relay and device. */
  cut(): void {
    const { guest } = this.g.relayTwin();
    this.g = guest;
  }

  mismatches(): number {
    const start = this.g.device.stats().streams[0].startFrame;
    let bad = 0;
    for (let f = 0; f < this.written - this.periods * this.periodFrames; f++) {
      if (this.L[start + f] !== sample(f, 0) / 32768) bad++;
      if (this.R[start + f] !== sample(f, 1) / 32768) bad++;
    }
    return bad;
  }
}

describe('relay snapshot with a Linux guest, cut mid-stream', () => {
  for (const [periodFrames, periods] of [
    [1024, 4],
    [256, 3],
  ] as const) {
    for (const ack of [false, true]) {
      for (const cutAt of [7, 23]) {
        for (const betweenRequeueAndWrite of ack ? [false] : [false, true]) {
          const name = `${ack ? '>= 6.8' : '6.1'}, ${periods} x ${periodFrames}, cut at quantum ${cutAt}${betweenRequeueAndWrite ? ' between a re-queue and its write' : ''}`;
          it(name, () => {
            const p = new LinuxPlayback(periodFrames, periods, ack);
            let q = 0;
            for (; q < cutAt; q++) p.step();
            if (betweenRequeueAndWrite) {
              while (!p.step(true)) q++;
              expect(p.g.relay!.stats().heldMessages).toBeGreaterThan(0);
            }
            const before = p.g.device.stats().streams[0];
            p.cut();
            const after = p.g.device.stats().streams[0];
            expect(after.frames).toBe(before.frames);
            let last = after.frames;
            while (p.completed < 24) {
              p.step();
              const now = p.g.device.stats().streams[0].frames;
              expect(now).toBeGreaterThanOrEqual(last);
              last = now;
              if (++q > 2000) throw new Error('stalled');
            }
            expect(p.mismatches()).toBe(0);
            expect(p.g.device.stats().streams[0].xruns).toBe(0);
            // A message completed twice would be an unknown used id to the guest's queue.
            expect(p.g.queues[2].broken).toBe(ChainError.None);
            expect(p.g.used[2].size).toBe(p.g.usedIdx(2));
            expect(p.g.relay!.stats().faults).toBe(0);
          });
        }
      }
    }
  }
});
