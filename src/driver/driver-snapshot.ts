/**
 * The driver's snapshot (kind 'DRVR'): the card model it built at probe
 * (PCM_INFO, jacks, chmaps, controls), each substream's runtime (state,
 * parameters, hw_ptr / appl_ptr, its period messages and which are in the
 * device), its four virtqueues with the chain behind every token, and the
 * guest heap that placed them. Saved with guest memory and the device, it
 * lets a new driver go on where this one stopped.
 *
 * No control request may be in flight: the answer would arrive for a
 * request whose caller is gone. saveState() refuses with
 * SnapshotError('busy'); a caller waits for the control queue to be idle
 * (they complete in microseconds: the device answers synchronously) and
 * tries again. Application-side waits (a writei blocked for room, a drain)
 * are not state: after a restore the application calls again (drain()
 * joins a drain in progress).
 */

import {
  SnapshotBuilder,
  SnapshotError,
  type SnapshotReader,
  type SnapshotSections,
} from '../snapshot/snapshot-format.ts';
import type { DriverQueueState } from '../virtio/driver-queue.ts';
import {
  readDriverQueue,
  readHeap,
  writeDriverQueue,
  writeHeap,
} from '../virtio/driver-queue-snapshot.ts';
import type { GuestHeap, GuestHeapState } from '../virtio/heap.ts';
import type { GuestMemory } from '../virtio/memory.ts';
import { availRingBytes, descTableBytes, usedRingBytes } from '../virtio/ring.ts';
import type { Chmap } from './chmap.ts';
import type { CardControl, ControlType } from './controls.ts';
import type { Jack } from './jack.ts';
import { readSubstream, type SubstreamState, writeSubstream } from './substream-snapshot.ts';

export const DRIVER_KIND = 'DRVR';

/** Beyond these counts a configuration is not a real card (as at probe). */
const MAX_ITEMS = 1024;
/** Bytes of a period message's header block: xfer (4) + status (8), 16-aligned. */
const MSG_HDR_BYTES = 16;
const EVENT_BYTES = 8;

const CONTROL_TYPES: readonly ControlType[] = [
  'boolean',
  'integer',
  'integer64',
  'enumerated',
  'bytes',
  'iec958',
];

/** Everything a driver keeps, as plain values; token references are numbers. */
export interface DriverState {
  features: bigint;
  config: { jacks: number; streams: number; chmaps: number; controls: number };
  heap: GuestHeapState;
  eventBufs: number[];
  /** Control, event, TX, RX. TX/RX tokens: sid * 256 + message index; event tokens: addresses. */
  queues: DriverQueueState<number>[];
  substreams: SubstreamState[];
  jacks: Jack[];
  chmaps: Chmap[];
  controls: CardControl[] | null;
}

/** A TX/RX token reference: which substream's which message. */
export const msgRef = (sid: number, index: number): number => sid * 256 + index;

export function writeDriverState(s: DriverState, heap: GuestHeap): Uint8Array {
  const b = new SnapshotBuilder(DRIVER_KIND);
  b.section('CARD', (w) => {
    w.u64(s.features)
      .u32(s.config.jacks)
      .u32(s.config.streams)
      .u32(s.config.chmaps)
      .u32(s.config.controls)
      .u53(heap.base)
      .u53(heap.limit)
      .u32(s.eventBufs.length);
    for (const a of s.eventBufs) w.u32(a);
  });
  b.section('HEAP', (w) => writeHeap(w, s.heap));
  for (const q of s.queues) b.section('VQUE', (w) => writeDriverQueue(w, q));
  for (const v of s.substreams) b.section('PCMS', (w) => writeSubstream(w, v));
  b.section('JACK', (w) => {
    w.u32(s.jacks.length);
    for (const j of s.jacks) {
      w.u32(j.hdaFnNid).u32(j.features).u32(j.hdaRegDefconf).u32(j.hdaRegCaps).bool(j.connected);
    }
  });
  b.section('CHMP', (w) => {
    w.u32(s.chmaps.length);
    for (const c of s.chmaps) {
      w.u32(c.id)
        .u32(c.hdaFnNid)
        .bool(c.direction === 'capture')
        .u32(c.positions.length);
      for (const p of c.positions) w.u8(p);
    }
  });
  if (s.controls) {
    b.section('CTLS', (w) => {
      w.u32(s.controls!.length);
      for (const c of s.controls!) {
        w.str(c.name).u32(c.index).u32(c.role).u32(CONTROL_TYPES.indexOf(c.type)).u32(c.access);
        w.u32(c.count).f64(c.min).f64(c.max).f64(c.step).u32(c.items.length);
        for (const item of c.items) w.str(item);
      }
    });
  }
  return b.finish();
}

/**
 * Reads and checks a driver snapshot against this driver's guest memory,
 * heap range and buffer limit. Checks the card model is one probe could
 * have built, the queues and heap are consistent, every token names a
 * message that says it is queued (and every queued message has one), and
 * the heap holds exactly what the driver placed.
 */
export function readDriverState(
  sec: SnapshotSections,
  ctx: { mem: GuestMemory; heap: GuestHeap; maxBufferBytes: number },
): DriverState {
  const c = sec.one('CARD');
  const features = c.u64();
  const config = {
    jacks: c.u32(),
    streams: c.u32(),
    chmaps: c.u32(),
    controls: c.u32(),
  };
  if (Object.values(config).some((n) => n > MAX_ITEMS)) {
    throw new SnapshotError('count-out-of-range', 'a card of more than 1024 items');
  }
  const base = c.u53('heap base');
  const limit = c.u53('heap limit');
  if (base !== ctx.heap.base || limit !== ctx.heap.limit) {
    throw new SnapshotError(
      'config-mismatch',
      `a driver whose heap is [${base}, ${limit}), this one's is [${ctx.heap.base}, ${ctx.heap.limit})`,
    );
  }
  const nEvt = c.count(VIRTQ_EVENT_MAX, 'event buffers', 4);
  const eventBufs: number[] = [];
  for (let i = 0; i < nEvt; i++) eventBufs.push(c.u32());
  c.end();

  const h = sec.one('HEAP');
  const heap = readHeap(h, ctx.heap, 4 * MAX_ITEMS);
  h.end();

  const vq = sec.all('VQUE');
  if (vq.length !== 4) throw new SnapshotError('bad-section', `${vq.length} queues, want 4`);
  const evtSet = new Set(eventBufs);
  const msgTokens: number[][] = [[], []];
  const queues = vq.map((r, i) => {
    const q = readDriverQueue(r, ctx.mem, `queue ${i}`, (ref) => {
      if (i === 0) throw new SnapshotError('busy', 'a control request was in flight');
      if (i === 1 && !evtSet.has(ref))
        throw r.invalid(`event buffer 0x${ref.toString(16)} unknown`);
      if (i >= 2) msgTokens[i - 2].push(ref);
    });
    r.end();
    return q;
  });

  const ps = sec.all('PCMS');
  if (ps.length !== config.streams) {
    throw new SnapshotError(
      'bad-section',
      `${ps.length} substreams, the card has ${config.streams}`,
    );
  }
  const substreams = ps.map((r, sid) => readSubstream(r, sid, ctx.maxBufferBytes));

  const jacks = readJacks(sec.one('JACK'), config.jacks);
  const chmaps = readChmaps(sec.one('CHMP'), config.chmaps);
  const ctlSec = sec.optional('CTLS');
  const controls = ctlSec ? readControls(ctlSec, config.controls) : null;
  sec.end();

  const s: DriverState = {
    features,
    config,
    heap,
    eventBufs,
    queues,
    substreams,
    jacks,
    chmaps,
    controls,
  };
  checkTokens(s, msgTokens);
  checkPlacement(s);
  return s;
}

const VIRTQ_EVENT_MAX = 32768;

function readJacks(r: SnapshotReader, count: number): Jack[] {
  const n = r.count(MAX_ITEMS, 'jacks', 17);
  if (n !== count) throw r.invalid(`${n} jacks, the card has ${count}`);
  const out: Jack[] = [];
  for (let id = 0; id < n; id++) {
    out.push({
      id,
      hdaFnNid: r.u32(),
      features: r.u32(),
      hdaRegDefconf: r.u32(),
      hdaRegCaps: r.u32(),
      connected: r.bool('connected'),
    });
  }
  r.end();
  return out;
}

function readChmaps(r: SnapshotReader, count: number): Chmap[] {
  const n = r.count(count, 'chmaps', 13);
  const out: Chmap[] = [];
  let last = -1;
  for (let i = 0; i < n; i++) {
    const id = r.u32();
    // Maps with an undefined direction were skipped at probe: ids ascend, with gaps.
    if (id <= last || id >= count) throw new SnapshotError('index-out-of-range', `chmap ${id}`);
    last = id;
    const hdaFnNid = r.u32();
    const direction = r.bool('direction') ? 'capture' : 'playback';
    const np = r.count(18, 'positions', 1);
    const positions: number[] = [];
    for (let k = 0; k < np; k++) positions.push(r.u8());
    out.push({ id, hdaFnNid, direction, positions });
  }
  r.end();
  return out;
}

function readControls(r: SnapshotReader, count: number): CardControl[] {
  const n = r.count(MAX_ITEMS, 'controls', 48);
  if (n !== count) throw r.invalid(`${n} controls, the card has ${count}`);
  const out: CardControl[] = [];
  for (let id = 0; id < n; id++) {
    const name = r.str(64, 'control name');
    const index = r.u32();
    const role = r.u32();
    const type = CONTROL_TYPES[r.u32()];
    if (!type) throw r.invalid(`control ${id}: unknown type`);
    const access = r.u32();
    const cnt = r.u32();
    const [min, max, step] = [r.f64(), r.f64(), r.f64()];
    if (cnt < 1 || cnt > 512 || ![min, max, step].every(Number.isFinite)) {
      throw r.invalid(`control ${id}: count or range`);
    }
    const ni = r.count(1024, 'enum items', 4);
    const items: string[] = [];
    for (let k = 0; k < ni; k++) items.push(r.str(64, 'enum item'));
    out.push({ id, name, index, role, type, access, count: cnt, min, max, step, items });
  }
  r.end();
  return out;
}

/** Every TX/RX token names a queued message of a substream of that direction, once; every queued message has one. */
function checkTokens(s: DriverState, tokens: number[][]): void {
  ['playback', 'capture'].forEach((dir, qi) => {
    const seen = new Set<number>();
    for (const ref of tokens[qi]) {
      const v = s.substreams[Math.floor(ref / 256)];
      const m = v?.msgs[ref % 256];
      if (!v || v.direction !== dir || !m || !m.queued || seen.has(ref)) {
        throw new SnapshotError('invalid-state', `queue ${qi + 2}: a chain for no queued message`);
      }
      seen.add(ref);
    }
    const queued = s.substreams
      .filter((v) => v.direction === dir)
      .reduce((n, v) => n + v.msgCount, 0);
    if (queued !== seen.size) {
      throw new SnapshotError(
        'invalid-state',
        `${queued - seen.size} queued messages not in the queue`,
      );
    }
  });
}

/**
 * The heap holds exactly what the driver placed: each queue's three rings,
 * the event buffers, and each configured substream's buffer and message
 * headers; each at an address it says.
 */
function checkPlacement(s: DriverState): void {
  const want = new Map<number, number>();
  const place = (addr: number, bytes: number, what: string) => {
    if (want.has(addr)) throw new SnapshotError('invalid-state', `${what} overlaps another block`);
    want.set(addr, bytes);
  };
  s.queues.forEach((q, i) => {
    const l = q.layout;
    place(l.descAddr, descTableBytes(l.size), `queue ${i} descriptors`);
    place(l.availAddr, availRingBytes(l.size), `queue ${i} avail ring`);
    place(l.usedAddr, usedRingBytes(l.size), `queue ${i} used ring`);
  });
  const evt = s.queues[1].layout.size;
  if (
    s.eventBufs.length !== evt ||
    s.eventBufs.some((a, i) => a !== s.eventBufs[0] + i * EVENT_BYTES)
  ) {
    throw new SnapshotError('invalid-state', 'event buffers are not one block per queue entry');
  }
  place(s.eventBufs[0], evt * EVENT_BYTES, 'event buffers');
  for (const v of s.substreams) {
    if (!v.params) continue;
    place(v.bufferAddr, v.params.bufferBytes, `substream ${v.sid} buffer`);
    place(v.msgHdrAddr, MSG_HDR_BYTES * v.params.periods, `substream ${v.sid} message headers`);
  }
  const used = s.heap.used;
  const ok = used.length === want.size && used.every(([addr, size]) => want.get(addr) === size);
  if (!ok)
    throw new SnapshotError('invalid-state', 'the heap does not hold what the driver placed');
}
