/**
 * RelayDevice's snapshot (kind 'RLAY'): the inner device with its transport
 * and the part of the relay's SharedArrayBuffer in use (inner rings, event
 * buffers, message copies), and what the relay itself keeps:
 *
 *   RCFG  the relay's configuration (buffer size, heap range, inner queue size, hold-back policy)
 *   VSND  the inner transport and device, with the heap's allocations of the relay's memory
 *   RELY  negotiated features, activation, counters, the inner event buffers
 *   GQUE  the guest's four rings as the relay walks them (last_avail / used indices, flags)
 *   HEAP  the relay's heap
 *   IVQU  our four queues to the inner device (control, event, TX, RX), while active
 *   RMSG  every guest TX/RX message the relay holds (relay-snapshot-io.ts)
 *   HOLD  the TX hold-back per stream and the backlogs
 *   GATE  completions withheld from the guest
 *   EVTS  inner events waiting for a guest event buffer
 *
 * Guest memory is the emulator's to save (the guest's rings and buffers are
 * there). The guest's transport is not in it either: attach-snapshot.ts
 * saves both.
 *
 * Restoring reads and checks all of it first: every index within its queue,
 * every address within guest or relay memory, every guest message in
 * exactly one place and the guest's rings agreeing on how many are out,
 * each inner copy an allocation of its own size, the heap holding exactly
 * what is placed in it; then apply() sets it all and cannot fail.
 */

import {
  BACKLOG_CAP,
  type EventBacklog,
  prepareSoundRestore,
  saveSoundState,
  type VirtioSndDevice,
} from '../device/index.ts';
import {
  type PreparedRestore,
  readSnapshot,
  SnapshotBuilder,
  SnapshotError,
  type SnapshotReader,
  type SnapshotSections,
} from '../snapshot/snapshot-format.ts';
import {
  EVENT,
  VIRTIO_SND_EVT_CTL_NOTIFY,
  VIRTIO_SND_EVT_JACK_CONNECTED,
  VIRTIO_SND_EVT_JACK_DISCONNECTED,
  VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED,
  VIRTIO_SND_EVT_PCM_XRUN,
  VIRTIO_SND_VQ_CONTROL,
  VIRTIO_SND_VQ_EVENT,
  VIRTIO_SND_VQ_MAX,
  VIRTIO_SND_VQ_RX,
  VIRTIO_SND_VQ_TX,
} from '../snd/protocol.ts';
import type { DeviceQueueState } from '../virtio/device-queue.ts';
import { checkInFlight, readQueues, writeQueues } from '../virtio/device-queue-snapshot.ts';
import { DriverQueue, type DriverQueueState } from '../virtio/driver-queue.ts';
import {
  readDriverQueue,
  readHeap,
  writeDriverQueue,
  writeHeap,
} from '../virtio/driver-queue-snapshot.ts';
import type { GuestHeap, GuestHeapState } from '../virtio/heap.ts';
import type { GuestMemory } from '../virtio/memory.ts';
import type { VirtioMmioTransport } from '../virtio/mmio.ts';
import { type MmioState, readMmioState, TRANSPORT_KIND } from '../virtio/mmio-snapshot.ts';
import { availRingBytes, descTableBytes, usedRingBytes } from '../virtio/ring.ts';
import type { CtlRelay } from './ctl-relay.ts';
import type { GuestRings } from './guest-rings.ts';
import type { IoRelay } from './io-relay.ts';
import {
  type Placement,
  readGate,
  readPlacement,
  readRecords,
  writeGate,
  writePlacement,
  writeRecords,
} from './relay-snapshot-io.ts';
import type { GuestCompletion, IoRelayState, Relayed } from './relayed.ts';
import type { TxHoldback } from './tx-holdback.ts';

export const RELAY_KIND = 'RLAY';

/** Most heap blocks: four queues' rings, the event buffers and two queues of messages. */
const MAX_HEAP_BLOCKS = 4096;
const EVENT_KINDS = [
  VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED,
  VIRTIO_SND_EVT_PCM_XRUN,
  VIRTIO_SND_EVT_JACK_CONNECTED,
  VIRTIO_SND_EVT_JACK_DISCONNECTED,
  VIRTIO_SND_EVT_CTL_NOTIFY,
];

/** What the relay keeps outside its parts (RelayDevice hands it over). */
export interface RelayCore {
  features: bigint;
  active: boolean;
  faults: number;
  /** Addresses of the event buffers kept posted on the inner event queue. */
  eventBufs: number[];
  /** Our control and event queues to the inner device (null when not active). */
  ctlQueue: DriverQueue<number> | null;
  evtQueue: DriverQueue<number> | null;
}

/** The parts of a relay its snapshot reads and writes. */
export interface RelayParts {
  readonly inner: VirtioSndDevice;
  readonly innerTransport: VirtioMmioTransport;
  readonly innerMem: GuestMemory;
  readonly guest: GuestRings;
  readonly heap: GuestHeap;
  readonly io: IoRelay;
  readonly ctl: CtlRelay;
  readonly holdback: TxHoldback<Relayed>;
  readonly pendingEvents: EventBacklog;
  /** What must match for a snapshot to move between relays (sizes, policy). */
  readonly configKey: string;
  /** Event buffers the relay keeps posted while active. */
  readonly eventBuffers: number;
  queueMaxSize(index: number): number;
  core(): RelayCore;
  /**
   * Runs `apply` with the inner device's interrupts held back, then handles
   * those it raised (once the whole relay is restored).
   */
  quietly(apply: () => void): void;
  setCore(core: RelayCore): void;
}

/** What a checked relay snapshot says of the guest's side, for checks against its transport. */
export interface PreparedRelayRestore extends PreparedRestore {
  readonly active: boolean;
  readonly features: bigint;
  readonly guestQueues: readonly DeviceQueueState[];
}

export function saveRelay(p: RelayParts): Uint8Array {
  const core = p.core();
  const heap = p.heap.saveState();
  const records: Relayed[] = [];
  const index = new Map<Relayed, number>();
  const ref = (rel: Relayed) => {
    let k = index.get(rel);
    if (k === undefined) {
      k = records.length;
      records.push(rel);
      index.set(rel, k);
    }
    return k;
  };
  const io = p.io.saveState(ref);
  const b = new SnapshotBuilder(RELAY_KIND);
  b.section('RCFG', (w) => w.str(p.configKey));
  b.raw('VSND', saveSoundState(p.innerTransport, p.inner, { memory: heap.used }));
  b.section('RELY', (w) => {
    w.u64(core.features).bool(core.active).u32(core.faults).bool(p.ctl.more);
    w.u53(io.bytesRelayed).u53(io.messagesRelayed).u32(io.heldMessagesPeak).u32(io.refused);
    w.u53(io.messageRoom).u32(core.eventBufs.length);
    for (const a of core.eventBufs) w.u53(a);
  });
  b.section('GQUE', (w) => writeQueues(w, p.guest.saveState()));
  b.section('HEAP', (w) => writeHeap(w, heap));
  if (core.active) {
    const queues = [
      core.ctlQueue?.saveState((t) => t),
      core.evtQueue?.saveState((t) => t),
      io.inner[0],
      io.inner[1],
    ];
    for (const q of queues) {
      if (!q) throw new Error('relay: active without its inner queues');
      b.section('IVQU', (w) => writeDriverQueue(w, q));
    }
  }
  b.section('RMSG', (w) => writeRecords(w, records));
  b.section('HOLD', (w) => writePlacement(w, { holdback: io.holdback, backlog: io.backlog }));
  b.section('GATE', (w) => writeGate(w, io.gate));
  b.section('EVTS', (w) => {
    const e = p.pendingEvents.save();
    w.u32(e.pending.length);
    for (const [code, data] of e.pending) w.u32(code).u32(data);
    w.u32(e.counted.length);
    for (const [code, data, n] of e.counted) w.u32(code).u32(data).u32(n);
  });
  return b.finish();
}

/** Reads and checks a relay snapshot for `p`; throws a SnapshotError and changes nothing if it is bad. */
export function prepareRelayRestore(p: RelayParts, bytes: Uint8Array): PreparedRelayRestore {
  const sec = readSnapshot(bytes, RELAY_KIND);
  const conf = sec.one('RCFG');
  const key = conf.str(1 << 16, 'configuration');
  conf.end();
  if (key !== p.configKey) {
    throw new SnapshotError('config-mismatch', `a relay configured as ${key.slice(0, 200)}`);
  }
  const vsnd = sec.payload('VSND');
  const innerSound = prepareSoundRestore(p.innerTransport, p.inner, vsnd);
  const innerRegs = innerTransportState(vsnd, p.inner);

  const c = sec.one('RELY');
  const features = c.u64();
  if ((features & ~p.inner.deviceFeatures) !== 0n) {
    throw new SnapshotError('config-mismatch', 'negotiated features the device does not offer');
  }
  const active = c.bool('active');
  const faults = c.u32();
  const ctlMore = c.bool('more control requests');
  const counters = {
    bytesRelayed: c.u53('bytes relayed'),
    messagesRelayed: c.u53('messages relayed'),
    heldMessagesPeak: c.u32(),
    refused: c.u32(),
    messageRoom: c.u53('message room'),
  };
  const nEvt = c.count(p.eventBuffers, 'event buffers', 8);
  const eventBufs: number[] = [];
  for (let i = 0; i < nEvt; i++) eventBufs.push(c.u53('event buffer'));
  c.end();
  if (nEvt !== (active ? p.eventBuffers : 0)) throw c.invalid(`${nEvt} event buffers`);
  if (counters.messageRoom > p.heap.limit - p.heap.base) throw c.invalid('message room');
  if (active && !innerRegs.activated) throw c.invalid('active with its inner device not');

  const gmem = p.guest.mem();
  const g = sec.one('GQUE');
  const guestQueues = readQueues(g, { mem: gmem, queueMaxSize: p.queueMaxSize }, features, 4);
  const queueSize = (q: number) => (guestQueues[q].ready ? guestQueues[q].size : 0);
  const h = sec.one('HEAP');
  const heap = readHeap(h, p.heap, MAX_HEAP_BLOCKS);
  h.end();

  const streams = p.inner.streamViews.length;
  const records = readRecords(sec.one('RMSG'), gmem, queueSize, streams);
  const placed = new Uint8Array(records.length);
  const place = (k: number, q: number, where: string) => {
    if (placed[k]++) throw new SnapshotError('invalid-state', `message ${k} is in two places`);
    if (records[k].q !== q) throw new SnapshotError('invalid-state', `message ${k} ${where}`);
  };
  const inner = readInnerQueues(sec, p, active, innerRegs, records, place);
  const placement = readPlacement(sec.one('HOLD'), records.length, streams);
  placement.backlog.forEach((b, i) => {
    for (const k of b) place(k, i === 0 ? VIRTIO_SND_VQ_TX : VIRTIO_SND_VQ_RX, 'in a backlog');
  });
  placement.holdback.forEach((s, id) => {
    for (const k of s.held) {
      place(k, VIRTIO_SND_VQ_TX, 'held back');
      if (records[k].stream !== id || records[k].inner >= 0) {
        throw new SnapshotError('invalid-state', `message ${k} held for stream ${id}`);
      }
    }
  });
  records.forEach((rel, k) => {
    if (!placed[k]) throw new SnapshotError('invalid-state', `message ${k} is nowhere`);
    if (rel.inner >= 0 !== (inner.tokens[k] !== undefined)) {
      throw new SnapshotError('invalid-state', `message ${k}: inner copy and inner queue disagree`);
    }
  });
  checkHoldback(p, placement, records, inner.tx);
  const gate = readGate(
    sec.one('GATE'),
    streams,
    (s) => p.inner.streamViews[s].direction === 'output',
    queueSize,
  );
  checkGuestQueues(guestQueues, records, gate);
  checkHeap(heap, active ? inner.layouts : [], eventBufs, records);
  const events = readEvents(sec.one('EVTS'), p);
  sec.end();

  const tokens = records;
  return {
    active,
    features,
    guestQueues,
    apply: () =>
      p.quietly(() => {
        innerSound.apply();
        p.heap.applyState(heap);
        p.guest.applyState(guestQueues);
        const restore = <T>(s: DriverQueueState<number> | null, token: (t: number) => T) =>
          s
            ? DriverQueue.restore<T>(
                p.innerMem,
                s,
                s.tokens.map((t) => (t === null ? undefined : token(t))),
              )
            : null;
        const ioState: IoRelayState<Relayed> = {
          ...counters,
          backlog: [
            placement.backlog[0].map((k) => tokens[k]),
            placement.backlog[1].map((k) => tokens[k]),
          ],
          inner: [mapTokens(inner.tx, tokens), mapTokens(inner.rx, tokens)],
          holdback: placement.holdback.map((s) => ({ ...s, held: s.held.map((k) => tokens[k]) })),
          gate,
        };
        p.io.applyState(
          ioState,
          restore(inner.tx, (k) => tokens[k]),
          restore(inner.rx, (k) => tokens[k]),
        );
        const ctlQueue = restore(inner.ctl, (t) => t);
        p.ctl.activate(ctlQueue);
        p.ctl.more = active && ctlMore;
        p.setCore({
          features,
          active,
          faults,
          eventBufs,
          ctlQueue,
          evtQueue: restore(inner.evt, (t) => t),
        });
        p.pendingEvents.restore(events.pending, events.counted);
      }),
  };
}

function mapTokens(
  s: DriverQueueState<number> | null,
  tokens: readonly Relayed[],
): DriverQueueState<Relayed> | null {
  return s ? { ...s, tokens: s.tokens.map((t) => (t === null ? null : tokens[t])) } : null;
}

/** The inner transport's registers, from the inner sound snapshot (already checked once). */
function innerTransportState(vsnd: Uint8Array, device: VirtioSndDevice): MmioState {
  const regs = readSnapshot(readSnapshot(vsnd, 'VSND').payload('TRNS'), TRANSPORT_KIND).one('REGS');
  return readMmioState(regs, device);
}

interface InnerQueues {
  ctl: DriverQueueState<number> | null;
  evt: DriverQueueState<number> | null;
  tx: DriverQueueState<number> | null;
  rx: DriverQueueState<number> | null;
  /** Per record: the inner queue head holding it. */
  tokens: (number | undefined)[];
  layouts: DriverQueueState<number>['layout'][];
}

/**
 * Our four queues to the inner device: where the inner transport says they
 * are, nothing in flight on the control queue, event buffers each once, and
 * each TX/RX chain the record it names, copied whole into relay memory.
 */
function readInnerQueues(
  sec: SnapshotSections,
  p: RelayParts,
  active: boolean,
  regs: MmioState,
  records: readonly Relayed[],
  place: (k: number, q: number, where: string) => void,
): InnerQueues {
  const vq = sec.all('IVQU');
  const out: InnerQueues = { ctl: null, evt: null, tx: null, rx: null, tokens: [], layouts: [] };
  if (vq.length !== (active ? VIRTIO_SND_VQ_MAX : 0)) {
    throw new SnapshotError('bad-section', `${vq.length} inner queues (active: ${active})`);
  }
  if (!active) return out;
  const evtSeen = new Set<number>();
  const queues = vq.map((r, i) => {
    const q = readDriverQueue(r, p.innerMem, `inner queue ${i}`, (t) => {
      if (i === VIRTIO_SND_VQ_CONTROL) throw r.invalid('a control request in flight');
      if (i === VIRTIO_SND_VQ_EVENT) {
        if (t >= p.eventBuffers || evtSeen.has(t)) throw r.invalid(`event buffer ${t}`);
        evtSeen.add(t);
      } else {
        if (t >= records.length)
          throw new SnapshotError('index-out-of-range', `inner message ${t}`);
        place(t, i, `on inner queue ${i}`);
      }
    });
    r.end();
    const reg = regs.queues[i];
    const l = q.layout;
    if (
      !reg.ready ||
      reg.num !== l.size ||
      reg.desc[0] !== l.descAddr ||
      reg.driver[0] !== l.availAddr ||
      reg.device[0] !== l.usedAddr ||
      reg.desc[1] !== 0 ||
      reg.driver[1] !== 0 ||
      reg.device[1] !== 0
    ) {
      throw r.invalid(`inner queue ${i} is not where the inner transport has it`);
    }
    if (q.index !== i) throw r.invalid(`inner queue ${i} says it is queue ${q.index}`);
    q.tokens.forEach((t, head) => {
      if (t === null || i < VIRTIO_SND_VQ_TX) {
        if (t !== null && i === VIRTIO_SND_VQ_EVENT && q.writable[head] !== EVENT.size)
          throw r.invalid('an event buffer of another size');
        return;
      }
      const c = records[t].chain;
      if (q.chainLen[head] !== 2 || q.writable[head] !== c.writeBytes) {
        throw r.invalid(`inner message ${t} is not its guest message's copy`);
      }
      out.tokens[t] = head;
    });
    return q;
  });
  [out.ctl, out.evt, out.tx, out.rx] = queues;
  out.layouts = queues.map((q) => q.layout);
  return out;
}

/** The hold-back's state per stream, with what the inner device has of each (its TX messages). */
function checkHoldback(
  p: RelayParts,
  placement: Placement,
  records: readonly Relayed[],
  tx: DriverQueueState<number> | null,
): void {
  const inFlight = placement.holdback.map(() => 0);
  for (const t of tx?.tokens ?? []) {
    if (t !== null && records[t].stream >= 0) inFlight[records[t].stream] += records[t].payload;
  }
  placement.holdback.forEach((s, id) => {
    const problem = p.holdback.checkState(id, s, inFlight[id]);
    if (problem) throw new SnapshotError('invalid-state', `stream ${id}: ${problem}`);
  });
}

/**
 * The guest's rings agree with what the relay holds: the chains taken off
 * TX and RX and not returned are the messages held plus the completions
 * withheld, each head once; none on the control and event queues.
 */
function checkGuestQueues(
  queues: readonly DeviceQueueState[],
  records: readonly Relayed[],
  gate: readonly { waiting: readonly GuestCompletion[] }[],
): void {
  const heads = [new Set<number>(), new Set<number>(), new Set<number>(), new Set<number>()];
  const take = (q: number, head: number) => {
    if (heads[q].has(head)) {
      throw new SnapshotError('invalid-state', `guest queue ${q}: head ${head} out twice`);
    }
    heads[q].add(head);
  };
  for (const rel of records) take(rel.q, rel.chain.head);
  for (const g of gate) for (const c of g.waiting) take(c.q, c.head);
  queues.forEach((q, i) => {
    checkInFlight(q, i, heads[i].size);
  });
}

/**
 * The heap holds exactly the inner rings, the event buffers and one copy
 * per handed-over message, each of its own size (while active: before the
 * guest's DRIVER_OK the heap may hold what a reset left).
 */
function checkHeap(
  heap: GuestHeapState,
  layouts: readonly DriverQueueState<number>['layout'][],
  eventBufs: readonly number[],
  records: readonly Relayed[],
): void {
  if (layouts.length === 0) return;
  const want = new Map<number, number>();
  const put = (addr: number, size: number) => {
    if (want.has(addr))
      throw new SnapshotError(
        'invalid-state',
        `two things at 0x${addr.toString(16)} of relay memory`,
      );
    want.set(addr, size);
  };
  for (const l of layouts) {
    put(l.descAddr, descTableBytes(l.size));
    put(l.availAddr, availRingBytes(l.size));
    put(l.usedAddr, usedRingBytes(l.size));
  }
  for (const a of eventBufs) put(a, EVENT.size);
  for (const rel of records) {
    if (rel.inner >= 0) put(rel.inner, rel.chain.readBytes + rel.chain.writeBytes);
  }
  const used = new Map(heap.used);
  if (used.size !== want.size || [...want].some(([a, n]) => used.get(a) !== n)) {
    throw new SnapshotError('invalid-state', 'the relay heap does not hold what the relay placed');
  }
}

/** Inner events waiting for the guest: each one the inner device could raise. */
function readEvents(
  r: SnapshotReader,
  p: RelayParts,
): { pending: [number, number][]; counted: [number, number, number][] } {
  const inner = p.inner;
  const check = (code: number, data: number): [number, number] => {
    if (!EVENT_KINDS.includes(code)) throw r.invalid(`event code 0x${code.toString(16)}`);
    let limit = inner.streamViews.length;
    let index = data;
    if (code === VIRTIO_SND_EVT_JACK_CONNECTED || code === VIRTIO_SND_EVT_JACK_DISCONNECTED) {
      limit = inner.jacks.count;
    } else if (code === VIRTIO_SND_EVT_CTL_NOTIFY) {
      limit = inner.controls?.count ?? 0;
      index = data & 0xffff;
      if (data >>> 16 > 7) throw r.invalid(`CTL_NOTIFY mask ${data >>> 16}`);
    }
    if (index >= limit) {
      throw new SnapshotError('index-out-of-range', `event 0x${code.toString(16)} for ${index}`);
    }
    return [code, data];
  };
  const max = BACKLOG_CAP + (inner.controls?.count ?? 0) + 2 * inner.jacks.count;
  const np = r.count(max, 'pending events', 8);
  const pending: [number, number][] = [];
  for (let i = 0; i < np; i++) pending.push(check(r.u32(), r.u32()));
  const nc = r.count(2 * inner.streamViews.length, 'counted event kinds', 12);
  const counted: [number, number, number][] = [];
  for (let i = 0; i < nc; i++) {
    const [code, data] = check(r.u32(), r.u32());
    if (code !== VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED && code !== VIRTIO_SND_EVT_PCM_XRUN) {
      throw r.invalid('a counted event that is not a PCM event');
    }
    const n = r.u32();
    if (n === 0) throw r.invalid('a counted event kind with no events');
    counted.push([code, data, n]);
  }
  r.end();
  return { pending, counted };
}
