/**
 * The stream table and the in-flight I/O messages in a device snapshot:
 * each stream's state machine, parameters, position, xrun state and FIFO of
 * message heads ('STRM', one section per stream), and every TX/RX message
 * the device holds with its progress ('MSGS'). Reading checks each value
 * against the device's configuration, guest memory and the queues, and
 * that FIFOs and messages agree one to one.
 */

import type { ResamplerState } from '../../pcm/resampler.ts';
import {
  SnapshotError,
  type SnapshotReader,
  type SnapshotWriter,
} from '../../snapshot/snapshot-format.ts';
import { PCM_RATE_HZ, pcmFrameBytes, VIRTIO_SND_S_OK } from '../../snd/protocol.ts';
import type { GuestMemory } from '../../virtio/memory.ts';
import {
  IO_QUEUE_MAX,
  MAX_IO_SEGMENTS,
  type MessageSlotState,
  type StreamSlotState,
} from '../shared/layout.ts';
import { acceptsIo, STATE_INITIAL, STATE_RELEASED, XRUN_DRY } from '../shared/stream-state.ts';
import type { ResolvedStream } from './config.ts';
import { checkPcmParams } from './pcm-control.ts';

/** Events one stream may have counted and not yet handed over (a bound, not a real-life figure). */
export const MAX_COUNTED_EVENTS = 1 << 24;

/** Longest resampler history a snapshot may hold, in samples (the largest design has 12 288 taps). */
const MAX_HISTORY_SAMPLES = 1 << 16;

export function writeStream(
  w: SnapshotWriter,
  st: StreamSlotState,
  resampler: ResamplerState | null,
): void {
  w.u32(st.state)
    .u32(st.channels)
    .u32(st.format)
    .u32(st.rate)
    .u32(st.periodBytes)
    .u32(st.bufferBytes)
    .u32(st.features)
    .u32(st.queuedBytes)
    .u32(st.xrun)
    .u32(st.xrunCount)
    .u32(st.completed)
    .u32(st.periodPos)
    .u53(st.frames)
    .u32(st.lastCompletionFrame)
    .u32(st.lastLatency)
    .f32(st.peak)
    .i32(st.startFrame)
    .u32(st.dryFrames)
    .u32(st.periodsOverflow)
    .u32(st.xrunsOverflow)
    .u32(st.fifo.length);
  for (const head of st.fifo) w.u32(head);
  w.bool(resampler !== null);
  if (resampler) {
    w.i32(resampler.start).i32(resampler.end).i32(resampler.pos).i32(resampler.phase);
    w.u32(resampler.history.length).floats(resampler.history);
  }
}

/**
 * Reads stream `id` and checks it on its own (messages and queues are
 * checked by checkIo, the resampler against its design by the caller).
 */
export function readStream(
  r: SnapshotReader,
  id: number,
  cfg: ResolvedStream,
): { stream: StreamSlotState; resampler: ResamplerState | null } {
  const where = `stream ${id}`;
  const state = r.u32();
  if (state > STATE_RELEASED) throw r.invalid(`${where}: state ${state}`);
  const channels = r.u32();
  const format = r.u32();
  const rate = r.u32();
  const periodBytes = r.u32();
  const bufferBytes = r.u32();
  const features = r.u32();
  const p = { channels, format, rate, periodBytes, bufferBytes, features };
  let rateHz = 0;
  let frameBytes = 0;
  if (state === STATE_INITIAL) {
    // Only SET_PARAMS gives a stream parameters.
    if (Object.values(p).some((v) => v !== 0))
      throw r.invalid(`${where}: parameters before SET_PARAMS`);
  } else {
    const status = checkPcmParams(cfg, p);
    if (status !== VIRTIO_SND_S_OK) {
      throw new SnapshotError(
        'config-mismatch',
        `${where}: parameters ${JSON.stringify(p)} are not ones this stream accepts`,
      );
    }
    rateHz = PCM_RATE_HZ[rate];
    frameBytes = pcmFrameBytes(format, channels);
  }
  const queuedBytes = r.u32();
  const xrun = r.u32();
  if (xrun > XRUN_DRY) throw r.invalid(`${where}: xrun state ${xrun}`);
  const xrunCount = r.u32();
  const completed = r.u32();
  const periodPos = r.u32();
  if (periodPos > 0x7fffffff) throw r.invalid(`${where}: period position ${periodPos}`);
  // PREPARE zeroes it and playing keeps it below a period; other states keep what was left.
  if (acceptsIo(state) && periodPos >= periodBytes) {
    throw r.invalid(`${where}: period position ${periodPos} beyond a period of ${periodBytes}`);
  }
  const frames = r.u53(`${where} frames`);
  const lastCompletionFrame = r.u32();
  const lastLatency = r.u32();
  const peak = r.finite32(`${where} peak`);
  const startFrame = r.i32();
  const dryFrames = r.u32();
  if (dryFrames > 0x7fffffff) throw r.invalid(`${where}: dry for ${dryFrames} frames`);
  const periodsOverflow = r.u32();
  const xrunsOverflow = r.u32();
  if (periodsOverflow > MAX_COUNTED_EVENTS || xrunsOverflow > MAX_COUNTED_EVENTS) {
    throw new SnapshotError('count-out-of-range', `${where}: too many counted events`);
  }
  const n = r.count(IO_QUEUE_MAX, `${where} queued messages`, 4);
  if (n > 0 && !acceptsIo(state)) throw r.invalid(`${where}: messages queued in state ${state}`);
  const fifo: number[] = [];
  for (let k = 0; k < n; k++) fifo.push(r.index(IO_QUEUE_MAX, `${where} message head`));
  let resampler: ResamplerState | null = null;
  if (r.bool(`${where} resampler`)) {
    const [start, end, pos, phase] = [r.i32(), r.i32(), r.i32(), r.i32()];
    const samples = r.count(MAX_HISTORY_SAMPLES, `${where} resampler samples`, 4);
    resampler = {
      start,
      end,
      pos,
      phase,
      history: r.floats(samples, `${where} resampler history`),
    };
  }
  r.end();
  const stream: StreamSlotState = {
    state,
    channels,
    format,
    rate,
    rateHz,
    periodBytes,
    bufferBytes,
    features,
    frameBytes,
    queuedBytes,
    fifo,
    xrun,
    xrunCount,
    completed,
    periodPos,
    frames,
    lastCompletionFrame,
    lastLatency,
    peak,
    startFrame,
    dryFrames,
    periodsOverflow,
    xrunsOverflow,
  };
  return { stream, resampler };
}

export function writeMessages(w: SnapshotWriter, msgs: readonly MessageSlotState[]): void {
  w.u32(msgs.length);
  for (const m of msgs) {
    w.u32(m.head).u32(m.stream).u32(m.bytes).u32(m.done).u32(m.segments.length);
    for (const [addr, len] of m.segments) w.u32(addr).u32(len);
    for (const v of m.status) w.u32(v);
  }
}

/** Reads one queue's messages; each segment and status piece must lie in guest memory. */
export function readMessages(
  r: SnapshotReader,
  what: string,
  mem: GuestMemory,
): MessageSlotState[] {
  const n = r.count(IO_QUEUE_MAX, `${what} messages`, 36);
  const out: MessageSlotState[] = [];
  const inMemory = (addr: number, len: number, part: string) => {
    if (!mem.contains(addr, len)) {
      throw new SnapshotError(
        'address-out-of-range',
        `${what} message: ${part} [0x${addr.toString(16)}, +${len}) outside guest memory`,
      );
    }
  };
  for (let i = 0; i < n; i++) {
    const head = r.index(IO_QUEUE_MAX, `${what} message head`);
    const stream = r.u32();
    const bytes = r.u32();
    const done = r.u32();
    const segs = r.count(MAX_IO_SEGMENTS, `${what} message segments`, 8);
    if (segs === 0) throw r.invalid(`${what} message ${head} has no payload`);
    const segments: [number, number][] = [];
    let total = 0;
    for (let k = 0; k < segs; k++) {
      const addr = r.u32();
      const len = r.u32();
      if (len === 0) throw r.invalid(`${what} message ${head}: empty segment`);
      inMemory(addr, len, 'segment');
      segments.push([addr, len]);
      total += len;
    }
    const status: [number, number, number, number] = [r.u32(), r.u32(), r.u32(), r.u32()];
    const [a0, l0, a1, l1] = status;
    if (l0 < 1 || l0 > 8 || l0 + l1 !== 8 || (l1 === 0 && a1 !== 0)) {
      throw r.invalid(`${what} message ${head}: status pieces of ${l0} + ${l1} bytes`);
    }
    inMemory(a0, l0, 'status');
    if (l1 > 0) inMemory(a1, l1, 'status');
    if (total !== bytes || done >= bytes) {
      throw r.invalid(
        `${what} message ${head}: ${done} of ${bytes} bytes done, segments hold ${total}`,
      );
    }
    out.push({ head, stream, bytes, done, segments, status });
  }
  return out;
}

/**
 * Checks the streams and the messages of both queues against each other:
 * every message belongs to a stream of the queue's direction that takes I/O,
 * its head is below the queue's size and held once, it sits in its stream's
 * FIFO exactly once, and the stream's queued bytes are what its messages
 * have left.
 */
export function checkIo(
  streams: readonly StreamSlotState[],
  cfg: readonly ResolvedStream[],
  io: { tx: MessageSlotState[]; rx: MessageSlotState[] },
  queueSize: { tx: number; rx: number },
): void {
  const invalid = (m: string) => new SnapshotError('invalid-state', m);
  for (const tx of [true, false]) {
    const msgs = tx ? io.tx : io.rx;
    const size = tx ? queueSize.tx : queueSize.rx;
    const dir = tx ? 'output' : 'input';
    const byHead = new Map<number, MessageSlotState>();
    for (const m of msgs) {
      if (m.head >= size) {
        throw new SnapshotError(
          'index-out-of-range',
          `message head ${m.head} >= queue size ${size}`,
        );
      }
      if (byHead.has(m.head)) throw invalid(`message head ${m.head} held twice`);
      byHead.set(m.head, m);
      if (m.stream >= cfg.length || cfg[m.stream].direction !== dir) {
        throw new SnapshotError('index-out-of-range', `message ${m.head} names stream ${m.stream}`);
      }
      const fb = streams[m.stream].frameBytes;
      if (!acceptsIo(streams[m.stream].state) || m.bytes % fb !== 0 || m.done % fb !== 0) {
        throw invalid(`message ${m.head} does not fit stream ${m.stream}`);
      }
    }
    let inFifos = 0;
    streams.forEach((st, id) => {
      if (cfg[id].direction !== dir) return;
      let left = 0;
      for (const head of st.fifo) {
        const m = byHead.get(head);
        if (!m || m.stream !== id)
          throw invalid(`stream ${id} queues message ${head} it does not hold`);
        left += m.bytes - m.done;
      }
      if (new Set(st.fifo).size !== st.fifo.length)
        throw invalid(`stream ${id} queues a message twice`);
      if (left !== st.queuedBytes) {
        throw invalid(
          `stream ${id}: ${st.queuedBytes} bytes queued, its messages have ${left} left`,
        );
      }
      inFifos += st.fifo.length;
    });
    if (inFifos !== msgs.length)
      throw invalid(`${msgs.length - inFifos} messages in no stream's queue`);
  }
}
