/**
 * Fuzz case: src/embed's RelayDevice with the guest's rings in an
 * ArrayBuffer RAM (as in v86), driven through MMIO: control requests with
 * any response shapes (up to 64 aliased buffers over most of the guest's
 * RAM), TX/RX messages of any size (and short statuses), 1-frame periods with period events and
 * no event buffers (event floods), notify storms and polls, PCM commands,
 * resets; small relay heaps and inner queues.
 *
 * Invariants (beyond the Oracle's on the guest's RAM):
 *  - no exception escapes an MMIO access, poll(), process() or service();
 *  - every control request is answered within its QueueNotify, with at
 *    most CONTROL_RESPONSE_CAP bytes and a valid status where unambiguous;
 *  - the relay holds at most EVENT_ENTRIES_CAP events for the guest, the
 *    inner device at most that many entries;
 *  - after STOP and RELEASE of every stream and a few quanta, every chain
 *    taken from the guest's control, TX and RX queues has come back.
 */

import { PcmRenderer } from '../../src/device/render/pcm-renderer.ts';
import type { GuestRings } from '../../src/embed/guest-rings.ts';
import { RelayDevice } from '../../src/embed/relay-device.ts';
import {
  VIRTIO_SND_PCM_FMT_FLOAT,
  VIRTIO_SND_PCM_FMT_S16,
  VIRTIO_SND_PCM_FMT_U8,
  VIRTIO_SND_R_CHMAP_INFO,
  VIRTIO_SND_R_CTL_INFO,
  VIRTIO_SND_R_JACK_INFO,
  VIRTIO_SND_R_PCM_INFO,
  VIRTIO_SND_R_PCM_PREPARE,
  VIRTIO_SND_R_PCM_RELEASE,
  VIRTIO_SND_R_PCM_SET_PARAMS,
  VIRTIO_SND_R_PCM_START,
  VIRTIO_SND_R_PCM_STOP,
  VIRTIO_SND_S_BAD_MSG,
  VIRTIO_SND_S_IO_ERR,
  VIRTIO_SND_S_NOT_SUPP,
  VIRTIO_SND_S_OK,
} from '../../src/snd/protocol.ts';
import { GuestMemory } from '../../src/virtio/memory.ts';
import { MMIO, VirtioMmioTransport } from '../../src/virtio/mmio.ts';
import type { Codec } from './bytes.ts';
import {
  checkEventBacklog,
  features,
  RESP_LENS,
  type Request,
  readWritable,
  request,
  requestBytes,
} from './control-case.ts';
import { type Features, featureBits } from './device-harness.ts';
import {
  CONTROL_RESPONSE_CAP,
  check,
  EVENT_ENTRIES_CAP,
  fail,
  InvariantError,
  tolerate,
} from './known-defects.ts';
import { Oracle } from './oracle.ts';
import { HostileRings, mmioInit, RINGS_END, ringBase, type Seg } from './rings.ts';
import { listedOr, place, type SegShape, segShape } from './shapes.ts';

/** 128 KiB: the oracle compares all of it at every step. */
export const GUEST_RAM = 128 << 10;
const QUEUE_SIZES = [64, 64, 256, 256] as const;
const QUANTUM = 128;
/** The smallest is the least the relay takes for the test device (a full heap soonest). */
export const RELAY_BYTES: readonly number[] = [328 << 10, 512 << 10, 1 << 20, 8 << 20];
const INNER_QUEUE: readonly number[] = [4, 8, 16, 256];
const TX_LEAD: readonly number[] = [0, 20, 200];
const FORMATS = [VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_FMT_U8, VIRTIO_SND_PCM_FMT_FLOAT] as const;
const FRAME_BYTES: Record<number, number> = { 5: 2, 4: 1, 19: 4 };
const PAYLOAD_LENS: readonly number[] = [1, 2, 4, 64, 512, 1024, 4096, 16384, 0x10000, 0x17ff8];
const INFO_CODES = new Set([
  VIRTIO_SND_R_JACK_INFO,
  VIRTIO_SND_R_PCM_INFO,
  VIRTIO_SND_R_CHMAP_INFO,
  VIRTIO_SND_R_CTL_INFO,
]);
const VALID_STATUS = new Set([
  VIRTIO_SND_S_OK,
  VIRTIO_SND_S_BAD_MSG,
  VIRTIO_SND_S_NOT_SUPP,
  // The relay's answer when the inner device did not answer at once.
  VIRTIO_SND_S_IO_ERR,
]);

export type RelayOp =
  | { k: 'ctl'; req: Request }
  /** A TX/RX message; `status`: its last writable buffer's length (8, or short). */
  | { k: 'io'; q: 2 | 3; stream: number; payload: SegShape; status: number }
  | {
      k: 'params';
      stream: number;
      format: number;
      channels: number;
      /** Frames per period (1: a PERIOD_ELAPSED per frame). */
      periodFrames: number;
      periods: number;
      /** virtio_snd_pcm_set_params.features (8: period events, 16: xrun events). */
      features: number;
    }
  | { k: 'cmd'; code: number; stream: number }
  | { k: 'quanta'; n: number }
  /** `n` QueueNotify writes of queue q (TX/RX: polls; event queue: deliveries). */
  | { k: 'notify'; q: number; n: number }
  | { k: 'events'; n: number }
  | { k: 'reset' };

export interface RelayCase {
  relayBytes: number;
  innerQueueSize: number;
  txLeadMs: number;
  features: Features;
  eventBuffers: number;
  ops: RelayOp[];
}

const OP_KINDS = [
  'ctl',
  'io',
  'io',
  'io',
  'params',
  'cmd',
  'cmd',
  'quanta',
  'quanta',
  'notify',
  'events',
  'reset',
] as const;
const COMMANDS = [
  VIRTIO_SND_R_PCM_PREPARE,
  VIRTIO_SND_R_PCM_START,
  VIRTIO_SND_R_PCM_STOP,
  VIRTIO_SND_R_PCM_RELEASE,
];

export function relayOp(c: Codec, v?: RelayOp): RelayOp {
  const k = c.pick(OP_KINDS, v?.k);
  switch (k) {
    case 'ctl':
      return {
        k,
        req: request(
          c,
          v?.k === 'ctl' ? v.req : undefined,
          [...RESP_LENS, 0x10000, 0x37ff8],
          GUEST_RAM - RINGS_END,
        ),
      };
    case 'io': {
      const m = v?.k === 'io' ? v : undefined;
      return {
        k,
        q: c.pick([2, 3] as const, m?.q),
        stream: c.range(0, 2, m?.stream),
        payload: segShape(c, 64, PAYLOAD_LENS, GUEST_RAM - RINGS_END, m?.payload),
        status: c.pick([8, 8, 8, 4, 1], m?.status),
      };
    }
    case 'params': {
      const p = v?.k === 'params' ? v : undefined;
      return {
        k,
        stream: c.range(0, 1, p?.stream),
        format: c.pick(FORMATS, p?.format),
        channels: c.range(1, 2, p?.channels),
        periodFrames: listedOr(
          c,
          [1, 1, 64, 256, 1024],
          (cc, x) => cc.range(1, 4096, x),
          p?.periodFrames,
        ),
        periods: c.range(1, 8, p?.periods),
        features: c.pick([0, 8, 16, 24], p?.features),
      };
    }
    case 'cmd': {
      const m = v?.k === 'cmd' ? v : undefined;
      return { k, code: c.pick(COMMANDS, m?.code), stream: c.range(0, 1, m?.stream) };
    }
    case 'quanta':
      return { k, n: c.range(1, 64, v?.k === 'quanta' ? v.n : undefined) };
    case 'notify': {
      const s = v?.k === 'notify' ? v : undefined;
      return { k, q: c.range(0, 3, s?.q), n: c.range(1, 64, s?.n) };
    }
    case 'events':
      return { k, n: c.range(0, 64, v?.k === 'events' ? v.n : undefined) };
    case 'reset':
      return { k };
  }
}

export function relayCase(c: Codec, v?: RelayCase): RelayCase {
  const relayBytes = c.pick(RELAY_BYTES, v?.relayBytes);
  const innerQueueSize = c.pick(INNER_QUEUE, v?.innerQueueSize);
  const txLeadMs = c.pick(TX_LEAD, v?.txLeadMs);
  const f = features(c, v?.features);
  const eventBuffers = c.range(0, 16, v?.eventBuffers);
  const n = c.range(1, 24, v?.ops.length);
  const ops = Array.from({ length: n }, (_, i) => relayOp(c, v?.ops[i]));
  return { relayBytes, innerQueueSize, txLeadMs, features: f, eventBuffers, ops };
}

// ---- the harness ------------------------------------------------------------------

/** A relay, its guest and the inner device's renderer, made once per configuration. */
class RelayHarness {
  readonly ram = new ArrayBuffer(GUEST_RAM);
  readonly mem = new GuestMemory(this.ram);
  readonly relay: RelayDevice;
  readonly transport: VirtioMmioTransport;
  readonly renderer: PcmRenderer;
  readonly rings = new HostileRings(this.mem, QUEUE_SIZES);
  readonly oracle: Oracle;
  private generation = 0;
  private bufPtr = RINGS_END;

  constructor(relayBytes: number, innerQueueSize: number, txLeadMs: number) {
    this.relay = new RelayDevice({
      guestMemory: () => this.mem,
      sampleRate: 48000,
      autoService: false,
      tapFrames: 0,
      relayBytes,
      innerQueueSize,
      txLeadMs,
    });
    this.transport = new VirtioMmioTransport(this.relay, { onInterrupt: () => {} });
    this.renderer = new PcmRenderer(this.relay.inner.renderState);
    const guest = (this.relay as unknown as { guest: GuestRings }).guest;
    this.oracle = new Oracle(
      { queueState: (q) => guest.queue(q).state, generation: () => this.generation },
      this.mem,
      {
        // IoRelay.released() completes a backlogged message with used length 8 even when
        // its writable part is shorter (issue 15's third risk).
        excuseLength: (q, len, writable) =>
          q >= 2 && len === 8 && writable < 8 && tolerate('relay-release-len'),
      },
    );
  }

  get needsReset(): boolean {
    return (this.transport.read(MMIO.Status, 4) & 64) !== 0;
  }

  init(f: Features): boolean {
    this.mem.u8.fill(0, RINGS_END);
    this.rings.reset();
    this.bufPtr = RINGS_END;
    this.generation++;
    const status = this.step('init', () => mmioInit(this.transport, featureBits(f), QUEUE_SIZES));
    // Used entries of a case that ended early (a tolerated defect) are not this case's.
    this.oracle.takeUsed();
    return (status & 0xc0) === 0 && (status & 4) !== 0;
  }

  buf(len: number): number {
    const n = Math.min(GUEST_RAM - RINGS_END, Math.max(8, (len + 7) & ~7));
    if (this.bufPtr + n > GUEST_RAM) this.bufPtr = RINGS_END;
    const a = this.bufPtr;
    this.bufPtr += n;
    return a;
  }

  /** A relay entry point under the oracle; a known heap defect ends the case (returns false). */
  step<T>(what: string, f: () => T): T {
    return this.oracle.step(what, f);
  }

  notify(q: number, n = 1): void {
    this.step(`${n} notifies of queue ${q}`, () => {
      for (let i = 0; i < n; i++) this.transport.write(MMIO.QueueNotify, q, 4);
    });
    for (let k = 0; k < 4; k++) this.rings.collect(k);
  }

  request(bytes: Uint8Array): void {
    const a = this.buf(bytes.length);
    this.mem.write(a, bytes);
    const head = this.rings.chain(0, [
      { addr: a, len: bytes.length, write: false },
      { addr: this.buf(8), len: 4, write: true },
    ]);
    if (head >= 0) this.notify(0);
  }

  /** `n` render quanta as one oracle step (the guest does nothing in between); `each` after every quantum. */
  quanta(n: number, out: Float32Array[], each: () => void): void {
    this.step(`${n} quanta`, () => {
      for (let i = 0; i < n; i++) {
        this.renderer.process([[]], [out]);
        this.relay.inner.service();
        this.relay.poll();
        each();
      }
    });
    for (let k = 0; k < 4; k++) this.rings.collect(k);
  }
}

const harnesses = new Map<string, RelayHarness>();

function relayHarness(c: RelayCase): RelayHarness {
  const key = `${c.relayBytes}:${c.innerQueueSize}:${c.txLeadMs}`;
  let h = harnesses.get(key);
  if (!h) {
    h = new RelayHarness(c.relayBytes, c.innerQueueSize, c.txLeadMs);
    harnesses.set(key, h);
  }
  return h;
}

const le32 = (...words: number[]) => {
  const b = new Uint8Array(4 * words.length);
  const v = new DataView(b.buffer);
  words.forEach((w, i) => {
    v.setUint32(4 * i, w >>> 0, true);
  });
  return b;
};

/** A relay entry point threw: the known heap defect ends the case; anything else is a finding. */
function escaped(e: unknown): boolean {
  if (e instanceof InvariantError) throw e;
  const msg = String((e as Error)?.message ?? e);
  if (msg.includes('GuestAllocationError') && tolerate('relay-heap')) return true;
  throw e;
}

export function runRelayCase(rc: RelayCase): void {
  const h = relayHarness(rc);
  try {
    runOps(h, rc);
  } catch (e) {
    if (escaped(e)) {
      // The relay is left in an undefined state by the defect: a reset must bring it back.
      h.init(rc.features);
      return;
    }
  }
}

function runOps(h: RelayHarness, rc: RelayCase): void {
  if (!h.init(rc.features)) fail('a correct init was refused');
  const out = [new Float32Array(QUANTUM), new Float32Array(QUANTUM)];
  const codes = new Map<number, number>();
  const postEvents = (n: number) => {
    for (let i = 0; i < n && h.rings.freeCount(1) > 0; i++)
      h.rings.chain(1, [{ addr: h.buf(8), len: 8, write: true }]);
    h.notify(1);
  };
  const checkBounds = () => {
    // Entries held one by one: past the cap PCM events are counted, not held (event-backlog.ts).
    const pending = h.relay.stats().pendingEventEntries;
    check(
      pending <= EVENT_ENTRIES_CAP,
      `the relay holds ${pending} events for the guest (> ${EVENT_ENTRIES_CAP})`,
      'relay-event-backlog',
    );
    checkEventBacklog({ device: h.relay.inner });
  };
  const checkAnswers = () => {
    for (const u of h.oracle.takeUsed()) {
      if (u.q !== 0) continue;
      const code = codes.get(u.id);
      codes.delete(u.id);
      if (u.writable === null) continue;
      if (u.writableBytes < 4) {
        check(
          u.len === 0,
          `control chain with ${u.writableBytes} writable bytes answered with length ${u.len}`,
        );
        continue;
      }
      check(u.len >= 4, `control request 0x${code?.toString(16)} answered with length ${u.len}`);
      check(
        u.len <= CONTROL_RESPONSE_CAP,
        `control request 0x${code?.toString(16)}: ${u.len}-byte response > ${CONTROL_RESPONSE_CAP}`,
        code !== undefined && INFO_CODES.has(code) ? 'info-amplification' : undefined,
      );
      const w = u.writable;
      if (h.rings.ambiguous(0, u.id, w)) continue; // the status may have been overwritten
      const status = readWritable(h, w, 0);
      if (!VALID_STATUS.has(status))
        fail(
          `control request 0x${code?.toString(16)} answered with status 0x${status.toString(16)}`,
        );
    }
    if (h.rings.heldCount(0) !== 0)
      check(h.needsReset, `${h.rings.heldCount(0)} control requests not answered`);
  };
  postEvents(rc.eventBuffers);
  let ringsTouched = false;
  for (const op of rc.ops) {
    switch (op.k) {
      case 'ctl': {
        const r = op.req;
        const bytes = requestBytes(r.code, r.body, r.resp ? r.resp.count * r.resp.len : 0);
        const at = h.buf(bytes.length);
        h.mem.write(at, bytes);
        const segs: Seg[] = [{ addr: at, len: bytes.length, write: false }];
        if (r.resp) {
          segs.push(...place(r.resp, { buf: (n) => h.buf(n), requestAt: at, ringAt: ringBase(0) }));
          ringsTouched ||= r.resp.layout === 'over-rings';
        }
        const head = h.rings.chain(0, segs, r.indirect ? h.buf(16 * segs.length) : undefined);
        if (head < 0) break;
        codes.set(head, r.code);
        h.notify(0);
        checkAnswers();
        break;
      }
      case 'io': {
        const hdr = h.buf(4);
        h.mem.writeU32(hdr, op.stream);
        const payload = place(
          op.payload,
          { buf: (n) => h.buf(n), requestAt: hdr, ringAt: ringBase(op.q) },
          op.q === 3,
        );
        ringsTouched ||= op.payload.layout === 'over-rings';
        const segs: Seg[] = [
          { addr: hdr, len: 4, write: false },
          ...payload,
          { addr: h.buf(8), len: op.status, write: true },
        ];
        h.rings.chain(op.q, segs);
        break;
      }
      case 'params': {
        const fb = FRAME_BYTES[op.format] * op.channels;
        const b = new Uint8Array(24);
        const v = new DataView(b.buffer);
        v.setUint32(0, VIRTIO_SND_R_PCM_SET_PARAMS, true);
        v.setUint32(4, op.stream, true);
        v.setUint32(8, fb * op.periodFrames * op.periods, true);
        v.setUint32(12, fb * op.periodFrames, true);
        v.setUint32(16, op.features, true);
        v.setUint8(20, op.channels);
        v.setUint8(21, op.format);
        v.setUint8(22, 7); // 48 kHz
        h.request(b);
        checkAnswers();
        break;
      }
      case 'cmd':
        h.request(le32(op.code, op.stream));
        checkAnswers();
        break;
      case 'quanta': {
        // Bounded at every quantum, checked after the step (a check failing inside
        // it would read as an exception escaping the relay).
        let peak = 0;
        h.quanta(op.n, out, () => {
          peak = Math.max(peak, h.relay.stats().pendingEventEntries);
        });
        check(
          peak <= EVENT_ENTRIES_CAP,
          `the relay held ${peak} events for the guest (> ${EVENT_ENTRIES_CAP})`,
          'relay-event-backlog',
        );
        break;
      }
      case 'notify':
        h.notify(op.q, op.n);
        checkAnswers();
        break;
      case 'events':
        postEvents(op.n);
        break;
      case 'reset':
        if (!h.init(rc.features)) fail('a correct re-init was refused');
        codes.clear();
        ringsTouched = false;
        break;
    }
    checkBounds();
  }
  if (ringsTouched || h.needsReset) return;
  // Nothing taken from the guest is lost: a command hands over what the relay
  // holds, RELEASE returns it, and the audio thread returns the rest.
  for (const id of [0, 1]) {
    h.request(le32(VIRTIO_SND_R_PCM_STOP, id));
    h.request(le32(VIRTIO_SND_R_PCM_RELEASE, id));
  }
  checkAnswers();
  // Until 8 quanta pass without a chain coming back: a relay heap that fits one large
  // message at a time returns one per quantum (the inner device refuses it, the next goes).
  const ioHeld = () => h.rings.heldCount(2) + h.rings.heldCount(3);
  for (let i = 0, idle = 0; idle < 8 && i < 1024 && ioHeld() > 0; i++) {
    const before = ioHeld();
    h.quanta(1, out, () => {});
    idle = ioHeld() < before ? 0 : idle + 1;
  }
  const held = [0, 2, 3].map((q) => h.rings.heldCount(q));
  if (held.some((n) => n > 0) && !h.needsReset)
    fail(
      `after STOP, RELEASE and 8 quanta with nothing returned the relay still holds ${held} control/TX/RX chains`,
    );
}
