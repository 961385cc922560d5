/**
 * A substream in the driver's snapshot: what PCM_INFO said of it, its
 * runtime (state, parameters, positions, the latency it last heard) and its
 * period messages. Reading checks the parameters are ones the stream takes
 * and the messages fit them; the caller checks the messages against the
 * queues and the heap.
 */

import type { SnapshotReader, SnapshotWriter } from '../snapshot/snapshot-format.ts';
import {
  PCM_FORMAT_INFO,
  PCM_RATE_HZ,
  PCM_STATE_NAMES,
  PCM_STATUS,
  PCM_XFER,
} from '../snd/protocol.ts';
import {
  type DeviceStreamState,
  type PcmHwInfo,
  type PcmParams,
  type PcmState,
  pcmParams,
  type VirtioPcmSubstream,
} from './pcm.ts';
import type { PcmMsg } from './pcm-msg.ts';
import { type PcmStream, PERIODS_MAX, PERIODS_MIN } from './pcm-ops.ts';

const PCM_STATES: readonly PcmState[] = [
  'open',
  'setup',
  'prepared',
  'running',
  'xrun',
  'draining',
  'paused',
];
const DEVICE_STATES: readonly DeviceStreamState[] = PCM_STATE_NAMES;
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

export function writeSubstream(w: SnapshotWriter, v: SubstreamState): void {
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

export function readSubstream(
  r: SnapshotReader,
  sid: number,
  maxBufferBytes: number,
): SubstreamState {
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
    const p = pcmParams(format, rate, channels, periodFrames, periods, features);
    if (p.bufferBytes > maxBufferBytes)
      throw r.invalid(`${where}: a buffer of ${p.bufferBytes} bytes`);
    params = p;
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

/** The bytes before a message's status in its header block (its xfer header). */
const STATUS_AT = PCM_XFER.size;

/** Builds a substream's period messages from a snapshot (each learns its substream later). */
export function restoreMsgs(v: SubstreamState): PcmMsg[] {
  return v.msgs.map((m, i) => {
    const hdrAddr = v.msgHdrAddr + 16 * i;
    const offset = i * (v.params?.periodBytes ?? 0);
    return {
      substream: null as unknown as VirtioPcmSubstream,
      index: i,
      offset,
      filled: m.filled,
      length: m.length,
      hdrAddr,
      segments: [
        { addr: hdrAddr, len: PCM_XFER.size },
        { addr: v.bufferAddr + offset, len: m.length },
        { addr: hdrAddr + STATUS_AT, len: PCM_STATUS.size },
      ],
      queued: m.queued,
    };
  });
}

export function substreamState(s: PcmStream): SubstreamState {
  const v = s.vss;
  return {
    sid: v.sid,
    direction: v.direction,
    hw: { ...v.hw, formats: [...v.hw.formats], rates: [...v.hw.rates] },
    state: v.state,
    deviceState: v.deviceState,
    params: v.params ? { ...v.params } : null,
    bufferAddr: v.bufferAddr,
    msgHdrAddr: v.msgs[0]?.hdrAddr ?? 0,
    hwPtr: v.hwPtr,
    applPtr: v.applPtr,
    sentFrames: v.sentFrames,
    latencyBytes: v.latencyBytes,
    queuedAtCompletion: v.queuedAtCompletion,
    xferEnabled: v.xferEnabled,
    xferXrun: v.xferXrun,
    msgs: v.msgs.map((m) => ({ filled: m.filled, length: m.length, queued: m.queued })),
    msgLastEnqueued: v.msgLastEnqueued,
    msgCount: v.msgCount,
    periodsElapsed: v.periodsElapsed,
    drainTarget: v.drainTarget,
    startThreshold: v.startThreshold,
    xruns: s.xruns,
  };
}

export function applySubstream(vss: VirtioPcmSubstream, v: SubstreamState, msgs: PcmMsg[]): void {
  vss.state = v.state;
  vss.deviceState = v.deviceState;
  vss.params = v.params ? { ...v.params } : null;
  vss.bufferAddr = v.bufferAddr;
  vss.hwPtr = v.hwPtr;
  vss.applPtr = v.applPtr;
  vss.sentFrames = v.sentFrames;
  vss.latencyBytes = v.latencyBytes;
  vss.queuedAtCompletion = v.queuedAtCompletion;
  vss.xferEnabled = v.xferEnabled;
  vss.xferXrun = v.xferXrun;
  for (const m of msgs) m.substream = vss;
  vss.msgs = msgs;
  vss.msgLastEnqueued = v.msgLastEnqueued;
  vss.msgCount = v.msgCount;
  vss.periodsElapsed = v.periodsElapsed;
  vss.drainTarget = v.drainTarget;
  vss.startThreshold = v.startThreshold;
}
