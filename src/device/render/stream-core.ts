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
import type { IoQueue } from '../shared/io-queue.ts';
import type { SharedState, StreamSlot } from '../shared/layout.ts';
import {
  XRUN_ACTIVE,
  XRUN_DRY,
  XRUN_GRACE_MS,
  XRUN_GRACE_PERIODS,
  XRUN_NONE,
} from '../shared/stream-state.ts';
import type { ChannelPositions } from './channel-routing.ts';
import type { PcmIo } from './pcm-io.ts';

export { BLOCK_FRAMES } from '../shared/layout.ts';

/** What every stream of a renderer is built with (one per direction). */
export interface StreamContext {
  readonly s: SharedState;
  /** The TX queue (playback) or RX queue (capture). */
  readonly queue: IoQueue;
  readonly io: PcmIo;
  readonly events: EventRing;
  /** The AudioContext's rate. */
  readonly contextRate: number;
}

export class StreamCore {
  protected readonly slot: StreamSlot;
  private gen = -1;
  channels = 0;
  format = 0;
  /** Bytes per sample of the format. */
  sampleBytes = 0;
  frameBytes = 0;
  rateHz = 0;
  /** Context frame at which the block being rendered began. */
  protected blockStart = 0;
  /** Context frames a dry stream waits for STOP before it counts an xrun. */
  private graceFrames = 0;
  private readonly contextRate: number;

  protected readonly s: SharedState;
  /** The TX queue (playback) or RX queue (capture) that feeds the stream. */
  protected readonly queue: IoQueue;
  protected readonly io: PcmIo;
  private readonly events: EventRing;

  constructor(
    readonly id: number,
    ctx: StreamContext,
    /** Where the stream's channels go, for each channel count. */
    protected readonly positions: ChannelPositions,
  ) {
    this.s = ctx.s;
    this.queue = ctx.queue;
    this.io = ctx.io;
    this.events = ctx.events;
    this.contextRate = ctx.contextRate;
    this.slot = ctx.s.streams[id];
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
    const periodFrames = this.frameBytes > 0 ? st.periodBytes / this.frameBytes : 0;
    const rate = this.rateHz > 0 ? this.rateHz : this.contextRate;
    this.graceFrames = Math.max(
      Math.ceil((XRUN_GRACE_PERIODS * periodFrames * this.contextRate) / rate),
      Math.ceil((XRUN_GRACE_MS * this.contextRate) / 1000),
    );
    return true;
  }

  /** Forgets private state (device reset): the next block re-reads everything. */
  reset(): void {
    this.gen = -1;
  }

  /** Adds `frames` (`bytes`) to the stream's position. */
  protected advance(frames: number, bytes: number): void {
    const st = this.slot;
    // The first frames since PREPARE: remember the block they were in.
    if (st.startFrame === -1) st.startFrame = this.blockStart | 0;
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
   * Records whether the stream ran short in a pass of `n` context frames.
   * Running dry starts a wait (XRUN_DRY, see stream-state.ts); data coming
   * back, or the grace running out, makes it an xrun: counted once and
   * raised as PCM_XRUN (with VIRTIO_SND_PCM_F_EVT_XRUNS). A STOP during the
   * wait (the control plane clears XRUN_DRY) was the end of the stream.
   */
  protected markXrun(short: boolean, n: number): void {
    const st = this.slot;
    const x = st.xrun;
    if (!short) {
      if (x === XRUN_DRY) this.countXrun(); // the data came, but after a gap
      st.xrun = XRUN_NONE;
      return;
    }
    if (x === XRUN_NONE) {
      st.xrun = XRUN_DRY;
      st.dryFrames = 0;
    }
    if (st.xrun !== XRUN_DRY) return;
    // In the stream's entry, not here: a snapshot taken during the grace keeps it.
    st.dryFrames += n;
    if (st.dryFrames >= this.graceFrames) {
      this.countXrun();
      st.xrun = XRUN_ACTIVE;
    }
  }

  private countXrun(): void {
    const st = this.slot;
    st.xrunCount++;
    if (st.features & (1 << VIRTIO_SND_PCM_F_EVT_XRUNS))
      this.events.push(VIRTIO_SND_EVT_PCM_XRUN, this.id);
  }
}
