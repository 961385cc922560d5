/**
 * What the renderer's playback and capture streams share: a private copy of
 * the stream's parameters, re-read only when the control plane bumps the
 * prepare generation (SET_PARAMS / PREPARE); the stream's position, counted
 * at the stream rate, with a PERIOD_ELAPSED event each time a period's worth
 * of bytes has passed (VIRTIO_SND_PCM_F_EVT_SHMEM_PERIODS); and its xrun
 * episodes (VIRTIO_SND_PCM_F_EVT_XRUNS). Allocation-free.
 */

import { PCM_FORMAT_INFO } from '../../snd/constants.ts';
import {
  VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED,
  VIRTIO_SND_EVT_PCM_XRUN,
  VIRTIO_SND_PCM_F_EVT_SHMEM_PERIODS,
  VIRTIO_SND_PCM_F_EVT_XRUNS,
} from '../../snd/protocol.ts';
import type { EventRing } from '../shared/event-ring.ts';
import type { SharedState, StreamSlot } from '../shared/layout.ts';

/** StreamSlot.xrun after an end-of-stream message: running dry is expected, not an xrun. */
export const XRUN_END_OF_STREAM = 2;

export class StreamCore {
  protected readonly slot: StreamSlot;
  private gen = -1;
  channels = 0;
  format = 0;
  /** Bytes per sample of the format. */
  sampleBytes = 0;
  frameBytes = 0;
  rateHz = 0;

  constructor(
    readonly id: number,
    protected readonly s: SharedState,
    private readonly events: EventRing,
  ) {
    this.slot = s.streams[id];
  }

  /** Re-reads the parameters if the control plane changed them; true when it did. */
  protected refresh(): boolean {
    const st = this.slot;
    if (st.prepareGen === this.gen) return false;
    this.gen = st.prepareGen;
    this.channels = st.channels;
    this.format = st.format;
    this.sampleBytes = PCM_FORMAT_INFO[this.format]?.physBits / 8 || 1;
    this.frameBytes = st.frameBytes;
    this.rateHz = st.rateHz;
    return true;
  }

  /** Forgets private state (device reset): the next block re-reads everything. */
  reset(): void {
    this.gen = -1;
  }

  /**
   * Adds `frames` (`bytes`) to the stream's position; `blockStart` is the
   * context frame at which the current block began.
   */
  protected advance(frames: number, bytes: number, blockStart: number): void {
    const st = this.slot;
    // The first frames since PREPARE: remember the block they were in.
    if (st.startFrame === -1) st.startFrame = blockStart | 0;
    st.addFrames(frames);
    const period = st.periodBytes;
    const notify = (st.features & (1 << VIRTIO_SND_PCM_F_EVT_SHMEM_PERIODS)) !== 0;
    let pos = st.periodPos + bytes;
    while (period > 0 && pos >= period) {
      pos -= period;
      if (notify) this.events.push(VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED, this.id);
    }
    st.periodPos = pos;
  }

  /**
   * Records whether the stream ran short this block: the first short block of
   * an episode counts one xrun and raises PCM_XRUN (with
   * VIRTIO_SND_PCM_F_EVT_XRUNS); a full block ends the episode.
   */
  protected markXrun(short: boolean): void {
    const st = this.slot;
    if (!short) {
      st.xrun = 0;
      return;
    }
    if (st.xrun !== 0) return;
    st.xrun = 1;
    st.xrunCount++;
    if (st.features & (1 << VIRTIO_SND_PCM_F_EVT_XRUNS))
      this.events.push(VIRTIO_SND_EVT_PCM_XRUN, this.id);
  }
}
