/**
 * PCM control requests: PCM_INFO, PCM_SET_PARAMS and the four state commands
 * (PREPARE, START, STOP, RELEASE), on the stream table in shared memory.
 *
 * Every change to a stream entry is made holding the lock of the queue that
 * feeds it, so the renderer sees either the old or the new stream, never half
 * of one. A request that is malformed or not allowed in the stream's current
 * state gets VIRTIO_SND_S_BAD_MSG and changes nothing; valid values the
 * stream does not offer get VIRTIO_SND_S_NOT_SUPP.
 */

import {
  decodePcmSetParams,
  encodePcmInfo,
  PCM_FORMAT_INFO,
  PCM_HDR,
  PCM_RATE_HZ,
  PCM_SET_PARAMS,
  type PcmSetParams,
  pcmFrameBytes,
  VIRTIO_SND_D_INPUT,
  VIRTIO_SND_D_OUTPUT,
  VIRTIO_SND_PCM_F_SHMEM_GUEST,
  VIRTIO_SND_PCM_F_SHMEM_HOST,
  VIRTIO_SND_R_PCM_PREPARE,
  VIRTIO_SND_R_PCM_RELEASE,
  VIRTIO_SND_R_PCM_SET_PARAMS,
  VIRTIO_SND_R_PCM_START,
  VIRTIO_SND_R_PCM_STOP,
  VIRTIO_SND_S_BAD_MSG,
  VIRTIO_SND_S_IO_ERR,
  VIRTIO_SND_S_NOT_SUPP,
  VIRTIO_SND_S_OK,
} from '../../snd/protocol.ts';
import type { IoQueue } from '../shared/io-queue.ts';
import { MAX_BUFFER_BYTES, type SharedState, type SharedWord } from '../shared/layout.ts';
import { withLock } from '../shared/queue-lock.ts';
import {
  PCM_STATE_NAMES,
  type PcmStateName,
  pcmTransition,
  STATE_INITIAL,
  XRUN_DRY,
  XRUN_NONE,
} from '../shared/stream-state.ts';
import type { ResolvedStream } from './config.ts';
import { answerQueryInfo } from './control-info.ts';
import type { ControlRequest, ControlResponse } from './control-queue.ts';

/** Feature bits defined by the spec (0..4); anything above is malformed. */
const DEFINED_PCM_FEATURES = 0x1f;

/** SET_PARAMS values, as the request carries them (rate: a VIRTIO_SND_PCM_RATE_* index). */
export type PcmParamValues = Omit<PcmSetParams, 'streamId'>;

/**
 * Checks SET_PARAMS values against what stream `st` offers: VIRTIO_SND_S_OK,
 * BAD_MSG for undefined or inconsistent values, NOT_SUPP for defined ones
 * the stream does not offer.
 */
export function checkPcmParams(st: ResolvedStream, p: PcmParamValues): number {
  const { bufferBytes, periodBytes, features, channels, format, rate } = p;
  // Undefined values are malformed; defined ones we do not offer are unsupported.
  if ((features & ~DEFINED_PCM_FEATURES) !== 0) return VIRTIO_SND_S_BAD_MSG;
  if (format >= PCM_FORMAT_INFO.length || rate >= PCM_RATE_HZ.length || channels === 0) {
    return VIRTIO_SND_S_BAD_MSG;
  }
  const shmem = (1 << VIRTIO_SND_PCM_F_SHMEM_HOST) | (1 << VIRTIO_SND_PCM_F_SHMEM_GUEST);
  if ((features & shmem) !== 0 || (features & ~st.features) !== 0) return VIRTIO_SND_S_NOT_SUPP;
  if (((st.formats >> BigInt(format)) & 1n) === 0n) return VIRTIO_SND_S_NOT_SUPP;
  if (((st.rates >> BigInt(rate)) & 1n) === 0n) return VIRTIO_SND_S_NOT_SUPP;
  if (channels < st.channelsMin || channels > st.channelsMax) return VIRTIO_SND_S_NOT_SUPP;
  const frameBytes = pcmFrameBytes(format, channels);
  if (
    periodBytes === 0 ||
    bufferBytes === 0 ||
    bufferBytes % periodBytes !== 0 ||
    periodBytes % frameBytes !== 0
  ) {
    return VIRTIO_SND_S_BAD_MSG;
  }
  if (bufferBytes > MAX_BUFFER_BYTES) return VIRTIO_SND_S_NOT_SUPP;
  return VIRTIO_SND_S_OK;
}

export interface PcmHooks {
  /** PREPARE succeeded: build what the renderer needs for the new parameters. */
  prepared(streamId: number): void;
  /** Used buffers were pushed on the TX (true) or RX queue: maybe interrupt. Called holding its lock. */
  completed(tx: boolean): void;
}

export class PcmControl {
  constructor(
    readonly s: SharedState,
    readonly streams: readonly ResolvedStream[],
    readonly io: { tx: IoQueue; rx: IoQueue },
    readonly hooks: PcmHooks,
  ) {
    this.reset();
  }

  /** Every stream back to its initial state (device reset). */
  reset(): void {
    this.streams.forEach((st, id) => {
      const slot = this.s.streams[id];
      slot.clear(st.direction === 'output' ? VIRTIO_SND_D_OUTPUT : VIRTIO_SND_D_INPUT);
      slot.state = STATE_INITIAL;
    });
  }

  state(id: number): PcmStateName {
    return PCM_STATE_NAMES[this.s.streams[id].state];
  }

  info(req: ControlRequest): ControlResponse {
    return answerQueryInfo(req, this.streams.length, 32, (id, view, off) => {
      const st = this.streams[id];
      encodePcmInfo(view, off, {
        hdaFnNid: st.hdaFnNid,
        features: st.features,
        formats: st.formats,
        rates: st.rates,
        direction: st.direction === 'output' ? VIRTIO_SND_D_OUTPUT : VIRTIO_SND_D_INPUT,
        channelsMin: st.channelsMin,
        channelsMax: st.channelsMax,
      });
    });
  }

  private lockOf(id: number): SharedWord {
    return this.streams[id].direction === 'output' ? this.s.lockTx : this.s.lockRx;
  }

  private ioOf(id: number): IoQueue {
    return this.streams[id].direction === 'output' ? this.io.tx : this.io.rx;
  }

  setParams(req: ControlRequest): ControlResponse {
    if (req.bytes.length !== PCM_SET_PARAMS.size) return { status: VIRTIO_SND_S_BAD_MSG };
    const { streamId: id, ...p } = decodePcmSetParams(req.view, 0);
    if (id >= this.streams.length) return { status: VIRTIO_SND_S_BAD_MSG };
    const st = this.streams[id];
    const status = checkPcmParams(st, p);
    if (status !== VIRTIO_SND_S_OK) return { status };
    const frameBytes = pcmFrameBytes(p.format, p.channels);

    return withLock(this.lockOf(id), () => {
      const slot = this.s.streams[id];
      const next = pcmTransition(slot.state, VIRTIO_SND_R_PCM_SET_PARAMS);
      if (next < 0) return { status: VIRTIO_SND_S_BAD_MSG };
      // Messages queued under the old parameters cannot be played under the new ones.
      if (this.ioOf(id).flush(id, VIRTIO_SND_S_IO_ERR) > 0)
        this.hooks.completed(st.direction === 'output');
      slot.setParams({ ...p, rateHz: PCM_RATE_HZ[p.rate], frameBytes });
      slot.bumpPrepareGen();
      slot.state = next;
      return { status: VIRTIO_SND_S_OK };
    });
  }

  /** PREPARE, START, STOP and RELEASE: an 8-byte virtio_snd_pcm_hdr. */
  command(req: ControlRequest): ControlResponse {
    if (req.bytes.length !== PCM_HDR.size) return { status: VIRTIO_SND_S_BAD_MSG };
    const id = req.view.getUint32(PCM_HDR.streamId, true);
    if (id >= this.streams.length) return { status: VIRTIO_SND_S_BAD_MSG };
    const code = req.code;
    const tx = this.streams[id].direction === 'output';
    return withLock(this.lockOf(id), (): ControlResponse => {
      const slot = this.s.streams[id];
      const next = pcmTransition(slot.state, code);
      if (next < 0) return { status: VIRTIO_SND_S_BAD_MSG };
      switch (code) {
        case VIRTIO_SND_R_PCM_PREPARE:
          slot.resetPosition();
          this.hooks.prepared(id);
          slot.bumpPrepareGen();
          break;
        case VIRTIO_SND_R_PCM_START:
          slot.xrun = XRUN_NONE;
          break;
        case VIRTIO_SND_R_PCM_STOP:
          // Dry, then stopped: the guest drained a whole number of periods. Not an xrun.
          if (slot.xrun === XRUN_DRY) slot.xrun = XRUN_NONE;
          break;
        case VIRTIO_SND_R_PCM_RELEASE: {
          // Return every message of the stream before answering (spec 5.14.6.6.5.2),
          // including ones the guest queued that the renderer has not taken yet.
          const io = this.ioOf(id);
          io.intake();
          io.flush(id, VIRTIO_SND_S_OK);
          this.hooks.completed(tx);
          break;
        }
      }
      slot.state = next;
      return { status: VIRTIO_SND_S_OK };
    });
  }

  /** Dispatches a PCM request code to its handler. */
  handle(req: ControlRequest): ControlResponse | undefined {
    switch (req.code) {
      case VIRTIO_SND_R_PCM_SET_PARAMS:
        return this.setParams(req);
      case VIRTIO_SND_R_PCM_PREPARE:
      case VIRTIO_SND_R_PCM_START:
      case VIRTIO_SND_R_PCM_STOP:
      case VIRTIO_SND_R_PCM_RELEASE:
        return this.command(req);
      default:
        return undefined;
    }
  }
}
