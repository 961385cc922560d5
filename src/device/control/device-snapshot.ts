/**
 * VirtioSndDevice's snapshot (kind 'VDEV'): everything a device of the same
 * configuration needs to go on exactly where this one was.
 *
 *   CONF  the configuration (streams, jacks, chmaps, controls, sample rate)
 *   DEVC  negotiated features, the shared header (clock, counters, pending news)
 *   QUEU  each virtqueue's state: rings, last_avail / used indices, flags
 *   STRM  one per stream: state machine, parameters, position, FIFO (snapshot-streams.ts)
 *   MSGS  the TX and RX messages held, with their progress
 *   EVTQ  the event backlog (queued and counted) and the renderer's event ring
 *   CTLS  control element values (when the device has controls)
 *   JACK  jack states (connected, remapped defconf)
 *
 * Not kept, because it follows from the rest: the gains (from the controls),
 * the resampler designs (PREPARE's, made again for prepared, running and
 * stopped streams), the renderer's private state (it drops it: the restore
 * bumps the reset generation). The output tap and the completion log start
 * empty at their restored positions.
 *
 * Restoring reads and checks all of it first (prepareDeviceRestore), then
 * applies it holding both queue locks, so the renderer sees the old device
 * or the new one, never half of each. The sections' own files:
 * src/virtio/device-queue-snapshot.ts, snapshot-streams.ts, snapshot-events.ts,
 * snapshot-memory.ts ('GMEM', guest memory, when the host owns it).
 */

import { Resampler, type ResamplerDesign, type ResamplerState } from '../../pcm/resampler.ts';
import {
  type PreparedRestore,
  readSnapshot,
  SnapshotBuilder,
  SnapshotError,
  type SnapshotReader,
} from '../../snapshot/snapshot-format.ts';
import {
  VIRTIO_SND_VQ_CONTROL,
  VIRTIO_SND_VQ_EVENT,
  VIRTIO_SND_VQ_MAX,
  VIRTIO_SND_VQ_RX,
  VIRTIO_SND_VQ_TX,
} from '../../snd/protocol.ts';
import type { DeviceQueueState } from '../../virtio/device-queue.ts';
import { checkInFlight, readQueues, writeQueues } from '../../virtio/device-queue-snapshot.ts';
import type { GuestMemory } from '../../virtio/memory.ts';
import type { EventRing } from '../shared/event-ring.ts';
import type { IoQueue } from '../shared/io-queue.ts';
import {
  INT_NEEDS_RESET,
  INT_VRING,
  type MessageSlotState,
  type SharedHeaderState,
  type SharedState,
  type StreamSlotState,
} from '../shared/layout.ts';
import { withLock } from '../shared/queue-lock.ts';
import { acceptsIo } from '../shared/stream-state.ts';
import type { ResolvedStream } from './config.ts';
import type { ControlQueue } from './control-queue.ts';
import type { Controls } from './controls.ts';
import type { EventQueue, EventQueueState } from './event-queue.ts';
import type { JackState, Jacks } from './jacks.ts';
import { readEvents, writeEvents } from './snapshot-events.ts';
import {
  applyMemory,
  copyMemory,
  type MemoryRanges,
  readMemory,
  writeMemory,
} from './snapshot-memory.ts';
import {
  checkIo,
  readMessages,
  readStream,
  writeMessages,
  writeStream,
} from './snapshot-streams.ts';
import { designFor } from './stream-prepare.ts';

export const DEVICE_KIND = 'VDEV';

/** Longest configuration description we read back. */
const MAX_CONFIG_BYTES = 1 << 20;

/** The parts of a device a snapshot reads and writes (VirtioSndDevice hands them over). */
export interface DeviceParts {
  readonly mem: GuestMemory;
  readonly shared: SharedState;
  readonly sampleRate: number;
  readonly streams: readonly ResolvedStream[];
  readonly jacks: Jacks;
  readonly controls: Controls | null;
  readonly controlq: ControlQueue;
  readonly events: EventQueue;
  readonly eventRing: EventRing;
  readonly io: { readonly tx: IoQueue; readonly rx: IoQueue };
  readonly deviceFeatures: bigint;
  /** What the device is made of, as text: equal texts mean snapshots can move between the devices. */
  readonly configKey: string;
  queueMaxSize(index: number): number;
  features: bigint;
  /** Control values -> the renderer's gains. */
  updateGains(): void;
}

/** Everything read from a device snapshot, checked, ready to apply. */
interface DevicePlan {
  features: bigint;
  header: SharedHeaderState;
  controlRequests: number;
  controlDropped: number;
  queues: DeviceQueueState[];
  streams: StreamSlotState[];
  io: { tx: MessageSlotState[]; rx: MessageSlotState[] };
  ring: [number, number][];
  events: EventQueueState;
  controls: number[][] | null;
  jacks: JackState[];
  /** The resampler each stream's PREPARE designed (null: none, or not prepared), and its state. */
  designs: (ResamplerDesign | null)[];
  resamplers: (ResamplerState | null)[];
  /** Guest memory, when the snapshot holds it. */
  memory: [number, Uint8Array][] | null;
}

/** The queues of a virtio-snd device, in VIRTIO_SND_VQ_* order. */
function queuesOf(p: DeviceParts) {
  return [p.controlq.queue, p.events.queue, p.io.tx.queue, p.io.rx.queue];
}

export interface SaveOptions {
  /**
   * Guest memory to keep in the snapshot ('GMEM'), copied while the queues
   * are held still: 'all', or the ranges in use. Only for hosts that own
   * guest memory; an emulator saves its RAM itself.
   */
  memory?: MemoryRanges | 'all';
}

export function saveDevice(p: DeviceParts, opts: SaveOptions = {}): Uint8Array {
  const s = p.shared;
  const b = new SnapshotBuilder(DEVICE_KIND);
  b.section('CONF', (w) => w.str(p.configKey));
  // The renderer changes queues, streams, messages and the event ring only
  // holding a queue's lock: holding both, they stand still.
  const live = withLock(s.lockTx, () =>
    withLock(s.lockRx, () => ({
      header: s.saveHeader(),
      queues: queuesOf(p).map((q) => q.saveState()),
      streams: s.streams.map((st) => st.saveState()),
      resamplers: s.streams.map((st) =>
        acceptsIo(st.state) && s.coefficients[st.id].L !== 0
          ? Resampler.readState(2, s.resamplers[st.id])
          : null,
      ),
      tx: heldMessages(p, true),
      rx: heldMessages(p, false),
      ring: p.eventRing.saveState(),
      memory: opts.memory ? copyMemory(p.mem, opts.memory) : null,
    })),
  );
  const memory = live.memory;
  if (memory) b.section('GMEM', (w) => writeMemory(w, p.mem.size, memory));
  b.section('DEVC', (w) => {
    const h = live.header;
    w.u64(p.features)
      .u32(h.active)
      .u32(h.intFlags)
      .u32(h.quantum)
      .u53(h.framesRendered)
      .u32(h.tapWrite)
      .u32(h.completionWrites[0])
      .u32(h.completionWrites[1])
      .u32(h.txBytes)
      .u32(h.rxBytes)
      .u32(h.badMessages)
      .u32(h.evtOverflowed)
      .u32(h.outputLatencyUs)
      .u32(p.controlq.requests)
      .u32(p.controlq.dropped);
  });
  b.section('QUEU', (w) => writeQueues(w, live.queues));
  live.streams.forEach((st, id) => {
    b.section('STRM', (w) => writeStream(w, st, live.resamplers[id]));
  });
  b.section('MSGS', (w) => {
    writeMessages(w, live.tx);
    writeMessages(w, live.rx);
  });
  b.section('EVTQ', (w) => writeEvents(w, p.events.snapshot(), live.ring));
  const c = p.controls;
  if (c) {
    b.section('CTLS', (w) => {
      const values = c.saveValues();
      w.u32(values.length);
      for (const v of values) {
        w.u32(v.length);
        for (const x of v) w.i32(x);
      }
    });
  }
  b.section('JACK', (w) => {
    const jacks = p.jacks.saveState();
    w.u32(jacks.length);
    for (const j of jacks) w.bool(j.connected).u32(j.hdaRegDefconf);
  });
  return b.finish();
}

function heldMessages(p: DeviceParts, tx: boolean): MessageSlotState[] {
  const out: MessageSlotState[] = [];
  const size = (tx ? p.io.tx : p.io.rx).queue.size;
  for (let head = 0; head < size; head++) {
    const m = p.shared.message(tx, head);
    if (!m.free) out.push(m.saveState());
  }
  return out;
}

/** Reads and checks a snapshot for device `p`; throws a SnapshotError and changes nothing if it is bad. */
export function prepareDeviceRestore(p: DeviceParts, bytes: Uint8Array): PreparedRestore {
  const sec = readSnapshot(bytes, DEVICE_KIND);
  const conf = sec.one('CONF');
  const key = conf.str(MAX_CONFIG_BYTES, 'configuration');
  conf.end();
  if (key !== p.configKey)
    throw new SnapshotError('config-mismatch', configDifference(key, p.configKey));

  const d = sec.one('DEVC');
  const features = d.u64();
  if ((features & ~p.deviceFeatures) !== 0n) {
    throw new SnapshotError('config-mismatch', 'negotiated features the device does not offer');
  }
  const header: SharedHeaderState = {
    active: d.u32(),
    intFlags: d.u32(),
    quantum: d.u32(),
    framesRendered: d.u53('frames rendered'),
    tapWrite: d.u32(),
    completionWrites: [d.u32(), d.u32()],
    txBytes: d.u32(),
    rxBytes: d.u32(),
    badMessages: d.u32(),
    evtOverflowed: d.u32(),
    outputLatencyUs: d.u32(),
  };
  const controlRequests = d.u32();
  const controlDropped = d.u32();
  d.end();
  if (header.active > 1) throw d.invalid(`active ${header.active}`);
  if ((header.intFlags & ~(INT_VRING | INT_NEEDS_RESET)) !== 0)
    throw d.invalid('undefined news flags');
  if (header.outputLatencyUs > 10e6) throw d.invalid('output latency beyond 10 s');

  const queues = readQueues(sec.one('QUEU'), p, features, VIRTIO_SND_VQ_MAX);
  const strm = sec.all('STRM');
  if (strm.length !== p.streams.length) {
    throw new SnapshotError(
      'config-mismatch',
      `${strm.length} streams, the device has ${p.streams.length}`,
    );
  }
  const read = strm.map((r, id) => readStream(r, id, p.streams[id]));
  const streams = read.map((x) => x.stream);
  const resamplers = read.map((x) => x.resampler);
  const m = sec.one('MSGS');
  const io = { tx: readMessages(m, 'TX', p.mem), rx: readMessages(m, 'RX', p.mem) };
  m.end();
  checkIo(streams, p.streams, io, {
    tx: queues[VIRTIO_SND_VQ_TX].size,
    rx: queues[VIRTIO_SND_VQ_RX].size,
  });
  for (const [q, held] of [
    [VIRTIO_SND_VQ_CONTROL, 0],
    [VIRTIO_SND_VQ_EVENT, 0],
    [VIRTIO_SND_VQ_TX, io.tx.length],
    [VIRTIO_SND_VQ_RX, io.rx.length],
  ] as const) {
    checkInFlight(queues[q], q, held);
  }

  const e = sec.one('EVTQ');
  const { events, ring } = readEvents(e, p);
  const controls = readControls(sec.optional('CTLS'), p);
  const j = sec.one('JACK');
  const nj = j.count(4096, 'jacks', 5);
  const jacks: JackState[] = [];
  for (let i = 0; i < nj; i++)
    jacks.push({ connected: j.bool('connected'), hdaRegDefconf: j.u32() });
  j.end();
  const gmem = sec.optional('GMEM');
  const memory = gmem ? readMemory(gmem, p.mem) : null;
  gmem?.end();
  const jackProblem = p.jacks.checkState(jacks);
  if (jackProblem)
    throw new SnapshotError(
      nj === p.jacks.count ? 'invalid-state' : 'config-mismatch',
      jackProblem,
    );
  sec.end();

  // PREPARE's filter designs, made now: applying must not fail or take long.
  const designs = streams.map((st, id) => {
    if (!acceptsIo(st.state)) return null;
    const d = designFor(p.streams[id], st.rateHz, p.sampleRate);
    if (d && d.coefs.length > p.shared.coefficients[id].capacity) {
      throw new SnapshotError('config-mismatch', `stream ${id}: no room for its resampler`);
    }
    // The resampler's state goes with its design: the frames it holds and where it stands.
    const rs = resamplers[id];
    if ((d === null) !== (rs === null)) {
      throw new SnapshotError('invalid-state', `stream ${id}: resampler state and design disagree`);
    }
    if (d && rs) {
      const problem = Resampler.checkState(rs, d.taps, d.L, p.shared.params.resamplerFrames);
      if (problem || rs.history.length !== 2 * (rs.end - rs.start)) {
        throw new SnapshotError('invalid-state', `stream ${id}: resampler ${problem ?? 'history'}`);
      }
    }
    return d;
  });
  const plan: DevicePlan = {
    features,
    header,
    controlRequests,
    controlDropped,
    queues,
    streams,
    io,
    ring,
    events,
    controls,
    jacks,
    designs,
    resamplers,
    memory,
  };
  return { apply: () => applyDevice(p, plan) };
}

function readControls(r: SnapshotReader | null, p: DeviceParts): number[][] | null {
  const c = p.controls;
  if (!r || !c) {
    if (r || c) throw new SnapshotError('config-mismatch', 'control elements in one device only');
    return null;
  }
  const n = r.count(c.count, 'controls', 4);
  if (n !== c.count) throw new SnapshotError('config-mismatch', `${n} controls, want ${c.count}`);
  const out: number[][] = [];
  for (let id = 0; id < n; id++) {
    const k = r.count(128, `control ${id} values`, 4);
    const values: number[] = [];
    for (let i = 0; i < k; i++) values.push(r.i32());
    const problem = c.validate(id, values);
    if (problem) throw r.invalid(`control ${id}: ${problem}`);
    out.push(values);
  }
  r.end();
  return out;
}

function applyDevice(p: DeviceParts, plan: DevicePlan): void {
  const s = p.shared;
  withLock(s.lockTx, () =>
    withLock(s.lockRx, () => {
      if (plan.memory) applyMemory(p.mem, plan.memory);
      queuesOf(p).forEach((q, i) => {
        q.applyState(plan.queues[i]);
      });
      p.io.tx.clear();
      p.io.rx.clear();
      for (const m of plan.io.tx) s.message(true, m.head).applyState(m);
      for (const m of plan.io.rx) s.message(false, m.head).applyState(m);
      plan.streams.forEach((st, id) => {
        s.streams[id].applyState(st);
        const d = plan.designs[id];
        const slot = s.coefficients[id];
        const rs = plan.resamplers[id];
        if (d && rs) {
          slot.coefs.set(d.coefs);
          slot.write(d);
          Resampler.writeState(rs, s.resamplers[id]);
        } else slot.clear();
      });
      p.eventRing.applyState(plan.ring);
      s.applyHeader(plan.header);
      // The renderer (this device's, or a new one) drops what it kept of the old state.
      s.resetGen.add(1);
    }),
  );
  p.events.restore(plan.events);
  if (plan.controls) p.controls?.applyValues(plan.controls);
  p.jacks.applyState(plan.jacks);
  p.features = plan.features;
  p.controlq.requests = plan.controlRequests;
  p.controlq.dropped = plan.controlDropped;
  p.updateGains();
}

/** Names the first part of two configuration texts that differs. */
function configDifference(saved: string, mine: string): string {
  try {
    const a = JSON.parse(saved) as Record<string, unknown>;
    const b = JSON.parse(mine) as Record<string, unknown>;
    for (const k of Object.keys(b)) {
      if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) {
        return `a snapshot of a device with other ${k} (${JSON.stringify(a[k])?.slice(0, 200)})`;
      }
    }
  } catch {
    // Not JSON: not one of ours.
  }
  return 'a snapshot of a device configured otherwise';
}

/** The configuration text of a device (what must match for a snapshot to move between devices). */
export function deviceConfigKey(c: {
  sampleRate: number;
  streams: readonly ResolvedStream[];
  jacks: readonly {
    hdaFnNid: number;
    features: number;
    hdaRegDefconf: number;
    hdaRegCaps: number;
  }[];
  chmaps: readonly unknown[];
  controls: readonly unknown[] | null;
}): string {
  return JSON.stringify({
    sampleRate: c.sampleRate,
    streams: c.streams.map((s) => ({
      ...s,
      formats: s.formats.toString(16),
      rates: s.rates.toString(16),
    })),
    jacks: c.jacks.map((j) => [j.hdaFnNid, j.features, j.hdaRegDefconf, j.hdaRegCaps]),
    chmaps: c.chmaps,
    controls: c.controls,
  });
}
