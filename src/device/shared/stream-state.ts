/**
 * The PCM stream state machine of the virtio-snd spec (5.14.6.6.1):
 *
 *   SET_PARAMS -> SET_PARAMS | PREPARE
 *   PREPARE    -> SET_PARAMS | PREPARE | START | RELEASE
 *   START      -> STOP
 *   STOP       -> START | RELEASE
 *   RELEASE    -> SET_PARAMS | PREPARE
 *
 * plus the state after reset, from which only SET_PARAMS is valid. A command
 * that is not allowed gets VIRTIO_SND_S_BAD_MSG and changes nothing.
 */

import {
  VIRTIO_SND_R_PCM_PREPARE,
  VIRTIO_SND_R_PCM_RELEASE,
  VIRTIO_SND_R_PCM_SET_PARAMS,
  VIRTIO_SND_R_PCM_START,
  VIRTIO_SND_R_PCM_STOP,
} from '../../snd/protocol.ts';

export const STATE_INITIAL = 0;
export const STATE_PARAMS_SET = 1;
export const STATE_PREPARED = 2;
export const STATE_RUNNING = 3;
export const STATE_STOPPED = 4;
export const STATE_RELEASED = 5;

export type PcmState =
  | typeof STATE_INITIAL
  | typeof STATE_PARAMS_SET
  | typeof STATE_PREPARED
  | typeof STATE_RUNNING
  | typeof STATE_STOPPED
  | typeof STATE_RELEASED;

export { PCM_STATE_NAMES, type PcmStateName } from '../../snd/protocol.ts';

/** The state each PCM command leads to, and the states it may be issued from. */
const TRANSITIONS: Record<number, { to: PcmState; from: readonly PcmState[] }> = {
  [VIRTIO_SND_R_PCM_SET_PARAMS]: {
    to: STATE_PARAMS_SET,
    from: [STATE_INITIAL, STATE_PARAMS_SET, STATE_PREPARED, STATE_RELEASED],
  },
  [VIRTIO_SND_R_PCM_PREPARE]: {
    to: STATE_PREPARED,
    from: [STATE_PARAMS_SET, STATE_PREPARED, STATE_RELEASED],
  },
  [VIRTIO_SND_R_PCM_START]: { to: STATE_RUNNING, from: [STATE_PREPARED, STATE_STOPPED] },
  [VIRTIO_SND_R_PCM_STOP]: { to: STATE_STOPPED, from: [STATE_RUNNING] },
  [VIRTIO_SND_R_PCM_RELEASE]: { to: STATE_RELEASED, from: [STATE_PREPARED, STATE_STOPPED] },
};

/** The state `command` leads to from `state`, or -1 if the command is not allowed there. */
export function pcmTransition(state: number, command: number): PcmState | -1 {
  const t = TRANSITIONS[command];
  if (!t?.from.includes(state as PcmState)) return -1;
  return t.to;
}

/** States in which I/O messages may be queued for a stream. */
export function acceptsIo(state: number): boolean {
  return state === STATE_PREPARED || state === STATE_RUNNING || state === STATE_STOPPED;
}

/**
 * Where a running stream stands with respect to underrun (playback) or
 * overrun (capture), in StreamSlot.xrun. Running dry is not at once an xrun:
 * a guest that drains a whole number of periods runs the device dry just
 * before it stops the stream, and that is a clean end. So the stream waits
 * (XRUN_DRY) for a grace of two periods or 100 ms: a STOP in that time
 * means it was the end of the stream; more data, or the grace running out,
 * means it was an xrun, counted and reported then.
 */
export const XRUN_NONE = 0;
/** In an xrun episode (counted once). */
export const XRUN_ACTIVE = 1;
/** After a message shorter than a period (the end of a drain): running dry is expected. */
export const XRUN_END_OF_STREAM = 2;
/** Ran dry; an xrun unless the guest stops the stream within the grace. */
export const XRUN_DRY = 3;

/** How long a dry stream waits for STOP before it counts an xrun. */
export const XRUN_GRACE_MS = 100;
export const XRUN_GRACE_PERIODS = 2;
