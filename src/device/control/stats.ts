/**
 * A snapshot of the device's counters, read from shared memory: what a UI
 * shows and what tests assert on. Allocates; not for the audio thread.
 */

import type { SharedState } from '../shared/layout.ts';
import { PCM_STATE_NAMES, type PcmStateName, XRUN_ACTIVE } from '../shared/stream-state.ts';
import type { ResolvedStream } from './config.ts';

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

export function readStats(
  s: SharedState,
  streams: readonly ResolvedStream[],
  extra: Pick<DeviceStats, 'controlRequests' | 'eventsDelivered' | 'eventBacklog'>,
): DeviceStats {
  return {
    quanta: s.quantum.load() >>> 0,
    frames: s.framesRendered,
    txBytes: s.txBytes.load() >>> 0,
    rxBytes: s.rxBytes.load() >>> 0,
    eventsOverflowed: s.evtOverflowed.load(),
    badMessages: s.badMessages.load(),
    ...extra,
    streams: streams.map((st, id) => {
      const slot = s.streams[id];
      return {
        id,
        direction: st.direction,
        state: PCM_STATE_NAMES[slot.state] ?? 'initial',
        completed: slot.completed,
        queuedMessages: slot.fifoCount,
        queuedBytes: slot.queuedBytes,
        frames: slot.frames,
        xruns: slot.xrunCount,
        inXrun: slot.xrun === XRUN_ACTIVE,
        lastLatencyBytes: slot.lastLatency,
        lastCompletionFrame: slot.lastCompletionFrame,
        peak: slot.peak,
        startFrame: slot.startFrame,
      };
    }),
  };
}
