/**
 * A snapshot of the device's counters, read from shared memory: what a UI
 * shows and what tests assert on. Allocates; not for the audio thread.
 */

import type { ResolvedStream } from './config.ts';
import {
  H_BAD_MESSAGES,
  H_EVT_OVERFLOWED,
  H_FRAMES_HI,
  H_FRAMES_LO,
  H_QUANTUM,
  H_RX_BYTES,
  H_TX_BYTES,
  S_COMPLETED,
  S_FIFO_READ,
  S_FIFO_WRITE,
  S_FRAMES_HI,
  S_FRAMES_LO,
  S_LAST_COMPLETION_FRAME,
  S_LAST_LATENCY,
  S_PEAK,
  S_QUEUED_BYTES,
  S_START_FRAME,
  S_STATE,
  S_XRUN,
  S_XRUN_COUNT,
  type SharedState,
} from './shared-state.ts';
import { PCM_STATE_NAMES, type PcmStateName } from './stream-state.ts';

export interface StreamStats {
  id: number;
  direction: 'output' | 'input';
  state: PcmStateName;
  /** I/O messages completed since PREPARE. */
  completed: number;
  /** Messages queued in the device. */
  queuedMessages: number;
  /** Payload bytes queued in the device (TX: not yet played). */
  queuedBytes: number;
  /** Frames played/captured at the stream's rate since PREPARE. */
  frames: number;
  xruns: number;
  inXrun: boolean;
  lastLatencyBytes: number;
  /** Context frame (low 32 bits) of the last completion. */
  lastCompletionFrame: number;
  /** Peak absolute sample of the last quantum. */
  peak: number;
  /** Context frame of the quantum that played/captured the first frame since PREPARE (-1: none yet). */
  startFrame: number;
}

export interface DeviceStats {
  quanta: number;
  /** Frames rendered at the context rate. */
  frames: number;
  txBytes: number;
  rxBytes: number;
  /** PCM events that found the renderer's event ring full (delivered all the same, later). */
  eventsOverflowed: number;
  badMessages: number;
  controlRequests: number;
  eventsDelivered: number;
  eventBacklog: number;
  streams: StreamStats[];
}

const u64 = (lo: number, hi: number) => (hi >>> 0) * 2 ** 32 + (lo >>> 0);

export function readStats(
  s: SharedState,
  streams: readonly ResolvedStream[],
  extra: Pick<DeviceStats, 'controlRequests' | 'eventsDelivered' | 'eventBacklog'>,
): DeviceStats {
  const i = s.i32;
  return {
    quanta: i[H_QUANTUM] >>> 0,
    frames: u64(i[H_FRAMES_LO], i[H_FRAMES_HI]),
    txBytes: i[H_TX_BYTES] >>> 0,
    rxBytes: i[H_RX_BYTES] >>> 0,
    eventsOverflowed: i[H_EVT_OVERFLOWED],
    badMessages: i[H_BAD_MESSAGES],
    ...extra,
    streams: streams.map((st, id) => {
      const b = s.stream(id);
      return {
        id,
        direction: st.direction,
        state: PCM_STATE_NAMES[i[b + S_STATE]] ?? 'initial',
        completed: i[b + S_COMPLETED],
        queuedMessages: (i[b + S_FIFO_WRITE] - i[b + S_FIFO_READ]) | 0,
        queuedBytes: i[b + S_QUEUED_BYTES],
        frames: u64(i[b + S_FRAMES_LO], i[b + S_FRAMES_HI]),
        xruns: i[b + S_XRUN_COUNT],
        inXrun: i[b + S_XRUN] === 1,
        lastLatencyBytes: i[b + S_LAST_LATENCY],
        lastCompletionFrame: i[b + S_LAST_COMPLETION_FRAME] >>> 0,
        peak: s.f32[b + S_PEAK],
        startFrame: i[b + S_START_FRAME],
      };
    }),
  };
}
