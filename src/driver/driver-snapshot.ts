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
  type SnapshotWriter,
} from '../snapshot/snapshot-format.ts';
import { PCM_FORMAT_INFO, PCM_RATE_HZ, pcmFrameBytes } from '../snd/protocol.ts';
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
import type { DeviceStreamState, PcmHwInfo, PcmParams, PcmState } from './pcm.ts';
import { PERIODS_MAX, PERIODS_MIN } from './pcm-ops.ts';

export const DRIVER_KIND = 'DRVR';

/** Beyond these counts a configuration is not a real card (as at probe). */
const MAX_ITEMS = 1024;
/** Bytes of a period message's header block: xfer (4) + status (8), 16-aligned. */
const MSG_HDR_BYTES = 16;
const EVENT_BYTES = 8;

const PCM_STATES: readonly PcmState[] = [
  'open',
  'setup',
  'prepared',
  'running',
  'xrun',
  'draining',
  'paused',
];
const DEVICE_STATES: readonly DeviceStreamState[] = [
  'initial',
  'params-set',
  'prepared',
  'running',
  'stopped',
  'released',
];
const CONTROL_TYPES: readonly ControlType[] = [
  'boolean',
  'integer',
  'integer64',
  'enumerated',
  'bytes',
  'iec958',
];

export interface MsgState {
  filled: number;
  length: number;
  queued: boolean;
}

export interface SubstreamState {
  sid: number;
  direction: 'playback' | 'capture';
  hw: PcmHwInfo;
  state: PcmState;
  deviceState: DeviceStreamState;
  params: PcmParams | null;
  bufferAddr: number;
  /** Address of the block holding every message's header and status (0 without params). */
  msgHdrAddr: number;
  hwPtr: number;
  applPtr: number;
  sentFrames: number;
  latencyBytes: number;
  queuedAtCompletion: number;
  xferEnabled: boolean;
  xferXrun: boolean;
  msgs: MsgState[];
  msgLastEnqueued: number;
  msgCount: number;
  periodsElapsed: number;
  drainTarget: number;
  startThreshold: number;
  xruns: number;
}

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

function writeSubstream(w: SnapshotWriter, v: SubstreamState): void {
  const hw = v.hw;
  w.u32(v.sid).bool(v.direction === 'capture');
  w.u32(hw.hdaFnNid).u32(hw.features).u32(hw.channelsMin).u32(hw.channelsMax);
  w.u32(hw.formats.length);
  for (const f of hw.formats) w.u32(f);
  w.u32(hw.rates.length);
  for (const r of hw.rates) w.u32(r);
  w.u32(PCM_STATES.indexOf(v.state)).u32(DEVICE_STATES.indexOf(v.deviceState));
  const p = v.params;
  w.bool(p !== null);
  if (p) {
    w.u32(p.format).u32(p.rate).u32(p.channels).u32(p.periodFrames).u32(p.periods).u32(p.features);
  }
  w.u32(v.bufferAddr).u32(v.msgHdrAddr);
  w.u53(v.hwPtr).u53(v.applPtr).u53(v.sentFrames).u32(v.latencyBytes).f64(v.queuedAtCompletion);
  w.bool(v.xferEnabled).bool(v.xferXrun);
  w.u32(v.msgs.length);
  for (const m of v.msgs) w.u32(m.filled).u32(m.length).bool(m.queued);
  w.i32(v.msgLastEnqueued).u32(v.msgCount).u32(v.periodsElapsed).f64(v.drainTarget);
  w.u32(v.startThreshold).u32(v.xruns);
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

function readSubstream(r: SnapshotReader, sid: number, maxBufferBytes: number): SubstreamState {
  const where = `substream ${sid}`;
  if (r.u32() !== sid) throw r.invalid(`${where}: out of order`);
  const direction = r.bool('direction') ? 'capture' : 'playback';
  const hw: PcmHwInfo = {
    hdaFnNid: r.u32(),
    features: r.u32(),
    channelsMin: r.u32(),
    channelsMax: r.u32(),
    formats: [],
    rates: [],
  };
  if (hw.channelsMin < 1 || hw.channelsMax < hw.channelsMin || hw.channelsMax > 255) {
    throw r.invalid(`${where}: channels ${hw.channelsMin}..${hw.channelsMax}`);
  }
  const nf = r.count(PCM_FORMAT_INFO.length, `${where} formats`, 4);
  for (let i = 0; i < nf; i++) {
    const f = r.u32();
    const fi = PCM_FORMAT_INFO[f];
    // As parsePcmInfo: only formats the driver can write.
    if (!fi || fi.physBits < 8 || fi.digital) throw r.invalid(`${where}: format ${f}`);
    hw.formats.push(f);
  }
  const nr = r.count(PCM_RATE_HZ.length, `${where} rates`, 4);
  for (let i = 0; i < nr; i++) {
    const hz = r.u32();
    if (!PCM_RATE_HZ.includes(hz)) throw r.invalid(`${where}: rate ${hz}`);
    hw.rates.push(hz);
  }
  if (nf === 0 || nr === 0) throw r.invalid(`${where}: no format or no rate`);
  const state = PCM_STATES[r.u32()];
  const deviceState = DEVICE_STATES[r.u32()];
  if (!state || !deviceState) throw r.invalid(`${where}: unknown state`);
  let params: PcmParams | null = null;
  if (r.bool('params')) {
    const [format, rate, channels, periodFrames, periods, features] = [
      r.u32(),
      r.u32(),
      r.u32(),
      r.u32(),
      r.u32(),
      r.u32(),
    ];
    if (
      !hw.formats.includes(format) ||
      !hw.rates.includes(rate) ||
      channels < hw.channelsMin ||
      channels > hw.channelsMax ||
      periodFrames < 1 ||
      periods < PERIODS_MIN ||
      periods > PERIODS_MAX ||
      (features & ~hw.features) !== 0
    ) {
      throw r.invalid(`${where}: parameters the stream does not take`);
    }
    const frameBytes = pcmFrameBytes(format, channels);
    const periodBytes = periodFrames * frameBytes;
    const bufferBytes = periodBytes * periods;
    if (bufferBytes > maxBufferBytes) throw r.invalid(`${where}: a buffer of ${bufferBytes} bytes`);
    params = {
      format,
      rate,
      channels,
      periodFrames,
      periods,
      frameBytes,
      periodBytes,
      bufferBytes,
      bufferFrames: periodFrames * periods,
      features,
    };
  }
  const bufferAddr = r.u32();
  const msgHdrAddr = r.u32();
  const hwPtr = r.u53(`${where} hw_ptr`);
  const applPtr = r.u53(`${where} appl_ptr`);
  const sentFrames = r.u53(`${where} sent frames`);
  const latencyBytes = r.u32();
  const queuedAtCompletion = r.f64();
  if (!Number.isSafeInteger(queuedAtCompletion)) throw r.invalid(`${where}: queued frames`);
  const xferEnabled = r.bool('xfer enabled');
  const xferXrun = r.bool('xfer xrun');
  const nm = r.count(PERIODS_MAX, `${where} messages`, 9);
  if (nm !== (params?.periods ?? 0)) throw r.invalid(`${where}: ${nm} messages`);
  const msgs: MsgState[] = [];
  for (let i = 0; i < nm; i++) {
    const m = { filled: r.u32(), length: r.u32(), queued: r.bool('queued') };
    const p = params!;
    if (m.filled > p.periodBytes || m.length < 1 || m.length > p.periodBytes) {
      throw r.invalid(`${where}: message ${i} of ${m.length} bytes, ${m.filled} filled`);
    }
    msgs.push(m);
  }
  const msgLastEnqueued = r.i32();
  const msgCount = r.u32();
  const periodsElapsed = r.u32();
  const drainTarget = r.f64();
  const startThreshold = r.u32();
  const xruns = r.u32();
  r.end();
  if (msgLastEnqueued < -1 || msgLastEnqueued >= nm) throw r.invalid(`${where}: last message`);
  if (msgCount !== msgs.filter((m) => m.queued).length) throw r.invalid(`${where}: message count`);
  if (!(drainTarget === -1 || (Number.isSafeInteger(drainTarget) && drainTarget >= 0))) {
    throw r.invalid(`${where}: drain target`);
  }
  if (params) {
    if (startThreshold < 1 || startThreshold > params.bufferFrames) {
      throw r.invalid(`${where}: start threshold ${startThreshold}`);
    }
  } else if (bufferAddr !== 0 || msgHdrAddr !== 0) {
    throw r.invalid(`${where}: a buffer without parameters`);
  }
  // hw_params gives a substream its parameters and leaves 'open'; close takes both back.
  if ((params === null) !== (state === 'open')) throw r.invalid(`${where}: state ${state}`);
  return {
    sid,
    direction,
    hw,
    state,
    deviceState,
    params,
    bufferAddr,
    msgHdrAddr,
    hwPtr,
    applPtr,
    sentFrames,
    latencyBytes,
    queuedAtCompletion,
    xferEnabled,
    xferXrun,
    msgs,
    msgLastEnqueued,
    msgCount,
    periodsElapsed,
    drainTarget,
    startThreshold,
    xruns,
  };
}

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
