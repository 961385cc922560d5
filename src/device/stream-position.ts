/**
 * Advancing a running stream's position in the audio thread: frames counted
 * at the stream rate, and a PERIOD_ELAPSED event each time a period's worth
 * of bytes has passed (when the driver asked for them with
 * VIRTIO_SND_PCM_F_EVT_SHMEM_PERIODS). Allocation-free.
 */

import {
  VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED,
  VIRTIO_SND_EVT_PCM_XRUN,
  VIRTIO_SND_PCM_F_EVT_SHMEM_PERIODS,
  VIRTIO_SND_PCM_F_EVT_XRUNS,
} from '../snd/protocol.ts';
import type { EventRing } from './event-ring.ts';
import {
  H_FRAMES_LO,
  S_FEATURES,
  S_FRAMES_HI,
  S_FRAMES_LO,
  S_PERIOD_BYTES,
  S_PERIOD_POS,
  S_START_FRAME,
  S_XRUN,
  S_XRUN_COUNT,
} from './shared-state.ts';

/** Adds `frames` (`bytes`) to the position of the stream whose entry starts at word `b`. */
export function advancePosition(
  u: Int32Array,
  b: number,
  id: number,
  events: EventRing,
  frames: number,
  bytes: number,
): void {
  // The first frames since PREPARE: remember the quantum (its first context frame).
  if (u[b + S_START_FRAME] === -1) u[b + S_START_FRAME] = (u[H_FRAMES_LO] - 128) | 0;
  const lo = (u[b + S_FRAMES_LO] >>> 0) + frames;
  if (lo > 0xffffffff) u[b + S_FRAMES_HI]++;
  u[b + S_FRAMES_LO] = lo >>> 0;
  const period = u[b + S_PERIOD_BYTES];
  const notify = (u[b + S_FEATURES] & (1 << VIRTIO_SND_PCM_F_EVT_SHMEM_PERIODS)) !== 0;
  let pos = u[b + S_PERIOD_POS] + bytes;
  while (period > 0 && pos >= period) {
    pos -= period;
    if (notify) events.push(VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED, id);
  }
  u[b + S_PERIOD_POS] = pos;
}

/** S_XRUN value after an end-of-stream message: running dry is expected, not an xrun. */
export const XRUN_END_OF_STREAM = 2;

/**
 * Records whether the stream ran short this quantum: the first short quantum
 * of an episode counts one xrun and raises PCM_XRUN (with
 * VIRTIO_SND_PCM_F_EVT_XRUNS); a full quantum ends the episode.
 */
export function markXrun(
  u: Int32Array,
  b: number,
  id: number,
  events: EventRing,
  short: boolean,
): void {
  if (!short) {
    u[b + S_XRUN] = 0;
    return;
  }
  if (u[b + S_XRUN] !== 0) return;
  u[b + S_XRUN] = 1;
  u[b + S_XRUN_COUNT]++;
  if (u[b + S_FEATURES] & (1 << VIRTIO_SND_PCM_F_EVT_XRUNS))
    events.push(VIRTIO_SND_EVT_PCM_XRUN, id);
}
