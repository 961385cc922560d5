/**
 * The ALSA-like PCM API of one substream (Linux virtio_pcm_ops.c plus the bits
 * of the ALSA core it relies on): hwParams -> SET_PARAMS, prepare -> PREPARE,
 * start -> START, stop/drain -> STOP then RELEASE (sync_stop), pause ->
 * STOP/START, and writei/readi moving frames through the hardware buffer.
 *
 * Positions count frames monotonically: `hwPtr` advances by one period per
 * completed message, `applPtr` by what the application wrote or read.
 */

import {
  PCM_FORMAT_INFO,
  PCM_HDR,
  PCM_SET_PARAMS,
  pcmRateIndex,
  VIRTIO_SND_PCM_F_EVT_XRUNS,
  VIRTIO_SND_PCM_F_MSG_POLLING,
  VIRTIO_SND_R_PCM_PREPARE,
  VIRTIO_SND_R_PCM_RELEASE,
  VIRTIO_SND_R_PCM_SET_PARAMS,
  VIRTIO_SND_R_PCM_START,
  VIRTIO_SND_R_PCM_STOP,
  VIRTIO_SND_S_OK,
} from '../snd/protocol.ts';
import type { CardContext } from './card-context.ts';
import { ctlRequest } from './ctl-msg.ts';
import {
  ArgumentError,
  DeviceError,
  PcmParamError,
  PcmStateError,
  VirtioSndError,
  XrunError,
} from './errors.ts';
import { type PcmParams, type PcmState, pcmParams, type VirtioPcmSubstream } from './pcm.ts';
import {
  type MsgCompletion,
  type PcmMsg,
  pcmMsgAlloc,
  pcmMsgFree,
  pcmMsgSendAll,
  pcmMsgSendTail,
  pcmMsgSendWritten,
} from './pcm-msg.ts';

export interface HwParams {
  /** VIRTIO_SND_PCM_FMT_* value. */
  format: number;
  /** Frames per second. */
  rate: number;
  channels: number;
  periodFrames: number;
  periods: number;
}

export interface PeriodEvent {
  streamId: number;
  /** hw_ptr after this completion, in frames. */
  hwPtr: number;
  frames: number;
  latencyBytes: number;
  /** performance.now() when the driver saw the completion. */
  time: number;
}

/** Limits the driver places on a period (Linux: 2..VIRTIO queue size periods). */
export const PERIODS_MIN = 2;
export const PERIODS_MAX = 128;
// The states each operation allows (module constants: the data path allocates nothing).
const FOR_HW_PARAMS: readonly PcmState[] = ['open', 'setup', 'prepared'];
const FOR_PREPARE: readonly PcmState[] = ['setup', 'prepared', 'xrun'];
const FOR_START: readonly PcmState[] = ['prepared'];
const FOR_STOP: readonly PcmState[] = ['prepared', 'running', 'paused', 'draining', 'xrun'];
const FOR_DRAIN: readonly PcmState[] = ['prepared', 'running'];
const FOR_PAUSE: readonly PcmState[] = ['running'];
const FOR_RESUME: readonly PcmState[] = ['paused'];
const FOR_WRITE: readonly PcmState[] = ['prepared', 'running', 'paused'];
const FOR_READ: readonly PcmState[] = ['running', 'paused'];

/** How long stop/close wait for the device to return every message (Linux's msg timeout). */
export const RELEASE_TIMEOUT_MS = 1000;

export class PcmStream {
  /** Called on every completed period (for meters, timing, tests). */
  onPeriod: ((e: PeriodEvent) => void) | null = null;
  /** Called when the substream enters the xrun state. */
  onXrun: ((streamId: number) => void) | null = null;
  xruns = 0;
  private stopping: Promise<void> | null = null;
  /** Why a START sent by tryWritei/tryReadi failed; thrown by the next such call. */
  private startError: VirtioSndError | null = null;

  constructor(
    private readonly card: CardContext,
    readonly vss: VirtioPcmSubstream,
  ) {}

  get id(): number {
    return this.vss.sid;
  }

  get state(): PcmState {
    return this.vss.state;
  }

  get params(): Readonly<PcmParams> | null {
    return this.vss.params;
  }

  // ---- configuration ----------------------------------------------------

  /**
   * Checks `req` against what the device offers and sends SET_PARAMS.
   * Allocates the hardware buffer (periods * periodFrames frames) in guest memory.
   */
  async hwParams(req: HwParams): Promise<PcmParams> {
    const v = this.vss;
    this.requireState('hwParams', FOR_HW_PARAMS);
    if (v.msgCount > 0) throw new PcmStateError('hwParams', 'messages in flight');
    const hw = v.hw;
    const { format, rate, channels, periodFrames, periods } = req;
    if (!hw.formats.includes(format)) {
      const name = PCM_FORMAT_INFO[format]?.name ?? String(format);
      throw new PcmParamError('format', `${name} is not one of the stream's formats`);
    }
    if (!hw.rates.includes(rate)) {
      throw new PcmParamError('rate', `${rate} Hz is not one of ${hw.rates.join(', ')}`);
    }
    if (!Number.isInteger(channels) || channels < hw.channelsMin || channels > hw.channelsMax) {
      throw new PcmParamError('channels', `must be ${hw.channelsMin}..${hw.channelsMax}`);
    }
    if (!Number.isInteger(periodFrames) || periodFrames < 1) {
      throw new PcmParamError('periodFrames', 'must be a positive integer');
    }
    if (!Number.isInteger(periods) || periods < PERIODS_MIN || periods > PERIODS_MAX) {
      throw new PcmParamError('periods', `must be ${PERIODS_MIN}..${PERIODS_MAX}`);
    }
    // Ask for what the device offers among what this driver uses (Linux: MSG_POLLING, EVT_XRUNS).
    const features =
      hw.features & ((1 << VIRTIO_SND_PCM_F_MSG_POLLING) | (1 << VIRTIO_SND_PCM_F_EVT_XRUNS));
    const params = pcmParams(format, rate, channels, periodFrames, periods, features);
    const { periodBytes, bufferBytes } = params;
    if (bufferBytes > this.card.maxBufferBytes) {
      throw new PcmParamError('buffer', `${bufferBytes} bytes exceeds ${this.card.maxBufferBytes}`);
    }
    const { bytes, view } = ctlRequest(VIRTIO_SND_R_PCM_SET_PARAMS, PCM_SET_PARAMS.size);
    view.setUint32(PCM_SET_PARAMS.streamId, v.sid, true);
    view.setUint32(PCM_SET_PARAMS.bufferBytes, bufferBytes, true);
    view.setUint32(PCM_SET_PARAMS.periodBytes, periodBytes, true);
    view.setUint32(PCM_SET_PARAMS.features, features, true);
    view.setUint8(PCM_SET_PARAMS.channels, channels);
    view.setUint8(PCM_SET_PARAMS.format, format);
    view.setUint8(PCM_SET_PARAMS.rate, pcmRateIndex(rate));
    if (v.deviceState === 'prepared' || v.deviceState === 'stopped') await this.release();
    await this.card.ctl.send(bytes, 4);
    v.deviceState = 'params-set';
    this.freeBuffer();
    v.params = params;
    v.bufferAddr = this.card.heap.alloc(bufferBytes, 64);
    this.card.mem.fill(v.bufferAddr, bufferBytes);
    pcmMsgAlloc(v, this.card.heap);
    v.startThreshold = v.params.bufferFrames;
    v.state = 'setup';
    return v.params;
  }

  /** Software parameters: when playback starts by itself (default: a full buffer). */
  swParams(opts: { startThreshold?: number }): void {
    const p = this.requireParams('swParams');
    if (opts.startThreshold !== undefined) {
      const t = opts.startThreshold;
      if (!Number.isInteger(t) || t < 1)
        throw new ArgumentError('startThreshold must be >= 1 frame');
      this.vss.startThreshold = Math.min(t, p.bufferFrames);
    }
  }

  /** PREPARE: resets positions; after a stop or xrun, releases the device stream first. */
  async prepare(): Promise<void> {
    const v = this.vss;
    this.requireState('prepare', FOR_PREPARE);
    await this.stopping;
    if (v.deviceState === 'running') await this.sendCommand(VIRTIO_SND_R_PCM_STOP, 'stopped');
    if (v.deviceState === 'stopped' || v.msgCount > 0) await this.release();
    await this.sendCommand(VIRTIO_SND_R_PCM_PREPARE, 'prepared');
    v.hwPtr = 0;
    v.applPtr = 0;
    v.sentFrames = 0;
    v.latencyBytes = 0;
    v.queuedAtCompletion = 0;
    v.periodsElapsed = 0;
    v.drainTarget = -1;
    v.xferXrun = false;
    this.startError = null;
    for (const m of v.msgs) m.filled = 0;
    v.state = 'prepared';
    v.wake();
  }

  /** START: capture queues every period first; playback plays what was written. */
  async start(): Promise<void> {
    const v = this.vss;
    this.requireState('start', FOR_START);
    v.xferEnabled = true;
    if (v.direction === 'capture') pcmMsgSendAll(v);
    v.state = 'running';
    try {
      await this.sendCommand(VIRTIO_SND_R_PCM_START, 'running');
    } catch (e) {
      v.xferEnabled = false;
      v.state = 'prepared';
      throw e;
    }
    v.wake();
  }

  /** Stops at once, dropping what is queued (snd_pcm_drop); the stream goes back to setup. */
  async stop(): Promise<void> {
    const v = this.vss;
    this.requireState('stop', FOR_STOP);
    v.xferEnabled = false;
    // As snd_pcm_drop: the stream is in SETUP at once, so a writer blocked in writei
    // stops here and sends nothing after RELEASE; then the device is stopped (sync_stop).
    v.state = 'setup';
    v.wake();
    await this.stopping;
    if (v.deviceState === 'running') await this.sendCommand(VIRTIO_SND_R_PCM_STOP, 'stopped');
    if (v.deviceState === 'stopped' || v.deviceState === 'prepared') await this.release();
    v.state = 'setup';
    v.wake();
  }

  /**
   * Plays out everything written, then stops. Resolves when the last frame
   * has been played. A drain already under way (another caller's, or one
   * restored from a snapshot) is joined.
   */
  async drain(): Promise<void> {
    const v = this.vss;
    if (v.direction === 'capture') return this.stop();
    if (v.state !== 'draining') {
      this.requireState('drain', FOR_DRAIN);
      if (v.applPtr === v.hwPtr) return this.stop();
      v.drainTarget = v.applPtr;
      if (v.state === 'prepared') await this.start();
      v.state = 'draining';
      pcmMsgSendTail(v);
    }
    while (v.state === 'draining' && v.hwPtr < v.drainTarget) await v.changed();
    // The state may have changed while waiting (xrun, disconnect).
    const after = v.state as PcmState;
    if (after === 'xrun') throw new XrunError(v.sid);
    if (after === 'draining') await this.stop();
  }

  /** Pause (STOP, keeping queued messages) or resume (START). */
  async pause(enable: boolean): Promise<void> {
    const v = this.vss;
    if (enable) {
      this.requireState('pause', FOR_PAUSE);
      v.state = 'paused';
      await this.sendCommand(VIRTIO_SND_R_PCM_STOP, 'stopped');
    } else {
      this.requireState('pause', FOR_RESUME);
      v.state = 'running';
      await this.sendCommand(VIRTIO_SND_R_PCM_START, 'running');
    }
    v.wake();
  }

  /** After an xrun: prepare again (snd_pcm_recover). Playback then restarts on the next writes. */
  async recover(): Promise<void> {
    if (this.vss.state !== 'xrun') return;
    await this.prepare();
  }

  /** Stops if needed, releases the device stream and frees the buffer. */
  async close(): Promise<void> {
    const v = this.vss;
    if (v.state === 'disconnected') return;
    if (['prepared', 'running', 'paused', 'draining', 'xrun'].includes(v.state)) await this.stop();
    if (v.deviceState === 'prepared' || v.deviceState === 'stopped') await this.release();
    this.freeBuffer();
    v.params = null;
    v.state = 'open';
  }

  // ---- data -------------------------------------------------------------

  /** Frames the application may write (playback) or read (capture) now. */
  avail(): number {
    const v = this.vss;
    const p = v.params;
    if (!p) return 0;
    this.checkXrunFlag();
    return v.direction === 'playback'
      ? p.bufferFrames - (v.applPtr - v.hwPtr)
      : v.hwPtr - v.applPtr;
  }

  /** The hardware position in the buffer, in frames (ALSA's pointer callback). */
  pointer(): number {
    const p = this.vss.params;
    this.checkXrunFlag();
    return p ? this.vss.hwPtr % p.bufferFrames : 0;
  }

  get hwPtr(): number {
    return this.vss.hwPtr;
  }

  get applPtr(): number {
    return this.vss.applPtr;
  }

  /**
   * Frames between what the application wrote (read) and what is heard
   * (captured) now: the queued frames plus any device latency beyond them.
   */
  delay(): number {
    const v = this.vss;
    const p = v.params;
    if (!p) return 0;
    this.checkXrunFlag();
    const latency = Math.floor(v.latencyBytes / p.frameBytes);
    if (v.direction === 'capture') return v.hwPtr - v.applPtr + latency;
    // Our device reports the bytes it still holds, which the driver already counts
    // in applPtr - hwPtr; count only latency beyond that (a device's own delay).
    return v.applPtr - v.hwPtr + Math.max(0, latency - v.queuedAtCompletion);
  }

  /**
   * Writes interleaved frames in the stream's format. Blocking (default)
   * waits for room until everything is written; non-blocking writes what
   * fits. Returns frames written. Starts playback at the start threshold.
   * An xrun throws XrunError, unless some frames were already written: then
   * it returns their count and the next call throws (snd_pcm_writei).
   */
  async writei(data: ArrayBufferView, opts: { nonblock?: boolean } = {}): Promise<number> {
    const v = this.vss;
    const bytes = this.ioBytes('writei', 'playback', data);
    const frameBytes = v.params!.frameBytes;
    const frames = bytes.length / frameBytes;
    let done = 0;
    while (done < frames) {
      // As snd_pcm_writei: an xrun or drop after a partial write returns the count;
      // the next call throws.
      if (done > 0 && !FOR_WRITE.includes(v.state)) break;
      this.requireState('writei', FOR_WRITE);
      const room = this.avail();
      if (room === 0) {
        if (opts.nonblock) break;
        await v.changed();
        continue;
      }
      const n = Math.min(room, frames - done);
      this.copyIn(bytes, done * frameBytes, n * frameBytes);
      done += n;
      if (this.atStartThreshold()) await this.start();
    }
    return done;
  }

  /**
   * snd_pcm_writei on a non-blocking PCM, synchronously: writes what fits now
   * and returns the frames written (0 when the buffer is full). For producers
   * in a tight loop: no promise and no garbage per call. At the start
   * threshold it sends START without waiting for the answer; should the
   * device refuse it, the next call throws that error.
   */
  tryWritei(data: ArrayBufferView): number {
    this.throwStartError();
    const bytes = this.ioBytes('tryWritei', 'playback', data);
    this.requireState('tryWritei', FOR_WRITE);
    const frameBytes = this.vss.params!.frameBytes;
    const n = Math.min(this.avail(), bytes.length / frameBytes);
    if (n > 0) this.copyIn(bytes, 0, n * frameBytes);
    if (this.atStartThreshold()) this.startWithoutWaiting();
    return n;
  }

  /**
   * Reads interleaved frames into `out` (its length in bytes must be whole
   * frames). Starts capture if prepared. Blocking waits until `out` is full;
   * non-blocking reads what is there. Returns frames read.
   */
  async readi(out: ArrayBufferView, opts: { nonblock?: boolean } = {}): Promise<number> {
    const v = this.vss;
    const bytes = this.ioBytes('readi', 'capture', out);
    if (v.state === 'prepared') await this.start();
    const frameBytes = v.params!.frameBytes;
    const frames = bytes.length / frameBytes;
    let done = 0;
    while (done < frames) {
      if (done > 0 && !FOR_READ.includes(v.state)) break;
      this.requireState('readi', FOR_READ);
      const have = this.avail();
      if (have === 0) {
        if (opts.nonblock) break;
        await v.changed();
        continue;
      }
      const n = Math.min(have, frames - done);
      this.copyOut(bytes.subarray(done * frameBytes, (done + n) * frameBytes));
      done += n;
    }
    return done;
  }

  /**
   * snd_pcm_readi on a non-blocking PCM, synchronously: reads what has been
   * captured into the start of `out` and returns the frames read (0 when
   * nothing is there yet). A prepared stream is started without waiting for
   * the device's answer (a refusal is thrown by the next call).
   */
  tryReadi(out: ArrayBufferView): number {
    this.throwStartError();
    const v = this.vss;
    const bytes = this.ioBytes('tryReadi', 'capture', out);
    if (v.state === 'prepared') {
      this.startWithoutWaiting();
      return 0;
    }
    this.requireState('tryReadi', FOR_READ);
    const frameBytes = v.params!.frameBytes;
    const n = Math.min(this.avail(), bytes.length / frameBytes);
    if (n > 0) {
      this.copyOut(n * frameBytes === bytes.length ? bytes : bytes.subarray(0, n * frameBytes));
    }
    return n;
  }

  // ---- completions (called by the card's interrupt handling) -------------

  /** One message completed: the ALSA core's period-elapsed logic. */
  periodElapsed(msg: PcmMsg, c: MsgCompletion): void {
    const v = this.vss;
    const p = v.params;
    if (!p) return;
    v.periodsElapsed++;
    if (v.xferEnabled) {
      this.onPeriod?.({
        streamId: v.sid,
        hwPtr: v.hwPtr,
        frames: c.frames,
        latencyBytes: c.latencyBytes,
        time: performance.now(),
      });
      if (c.status !== VIRTIO_SND_S_OK) {
        this.enterXrun();
      } else if (v.direction === 'capture') {
        if (v.hwPtr - v.applPtr > p.bufferFrames) this.enterXrun();
        else pcmMsgSendAll(v);
      } else if (v.state === 'running' && v.hwPtr >= v.applPtr) {
        // Everything written has been played and more was expected: underrun.
        this.enterXrun();
      }
    }
    void msg;
    v.wake();
  }

  /** The device sent PCM_XRUN for this stream. */
  xrunEvent(): void {
    const v = this.vss;
    if (!v.xferEnabled) return;
    v.xferXrun = true;
    // With nothing left in the device the stream cannot recover by itself.
    if (v.msgCount === 0) this.enterXrun();
    v.wake();
  }

  /** The card went away (reset, removal). */
  disconnect(): void {
    this.vss.state = 'disconnected';
    this.vss.xferEnabled = false;
    this.vss.wake();
  }

  // ---- internals --------------------------------------------------------

  private checkXrunFlag(): void {
    const v = this.vss;
    if (v.xferXrun && v.xferEnabled && v.state === 'running') this.enterXrun();
  }

  private enterXrun(): void {
    const v = this.vss;
    if (v.state === 'xrun' || !v.xferEnabled) return;
    v.state = 'xrun';
    v.xferEnabled = false;
    v.xferXrun = false;
    this.xruns++;
    this.onXrun?.(v.sid);
    // The ALSA core stops a stream that ran dry; recover() waits for this.
    if (v.deviceState === 'running') {
      this.stopping = this.sendCommand(VIRTIO_SND_R_PCM_STOP, 'stopped').catch(() => {});
    }
    v.wake();
  }

  /** Copies `length` bytes of `src` from `start` into the buffer at applPtr, sending full periods. */
  private copyIn(src: Uint8Array, start: number, length: number): void {
    const v = this.vss;
    const p = v.params!;
    let off = (v.applPtr % p.bufferFrames) * p.frameBytes;
    let k = start;
    const end = start + length;
    while (k < end) {
      const n = Math.min(end - k, p.bufferBytes - off);
      // The whole of src needs no subarray (no allocation per write).
      const part = k === 0 && n === src.length ? src : src.subarray(k, k + n);
      this.card.mem.u8.set(part, v.bufferAddr + off);
      if (v.state !== 'draining') {
        pcmMsgSendWritten(v, off, n);
      }
      k += n;
      off = (off + n) % p.bufferBytes;
    }
    v.applPtr += length / p.frameBytes;
  }

  private copyOut(dst: Uint8Array): void {
    const v = this.vss;
    const p = v.params!;
    let off = (v.applPtr % p.bufferFrames) * p.frameBytes;
    let k = 0;
    while (k < dst.length) {
      const n = Math.min(dst.length - k, p.bufferBytes - off);
      dst.set(this.card.mem.u8.subarray(v.bufferAddr + off, v.bufferAddr + off + n), k);
      k += n;
      off = (off + n) % p.bufferBytes;
    }
    v.applPtr += dst.length / p.frameBytes;
  }

  private async sendCommand(code: number, next: VirtioPcmSubstream['deviceState']): Promise<void> {
    const { bytes, view } = ctlRequest(code, PCM_HDR.size);
    view.setUint32(PCM_HDR.streamId, this.vss.sid, true);
    await this.card.ctl.send(bytes, 4);
    this.vss.deviceState = next;
  }

  /** RELEASE, then wait until the device returned every message (Linux sync_stop). */
  private async release(): Promise<void> {
    const v = this.vss;
    await this.sendCommand(VIRTIO_SND_R_PCM_RELEASE, 'released');
    const deadline = performance.now() + RELEASE_TIMEOUT_MS;
    while (v.msgCount > 0) {
      if (performance.now() > deadline) {
        throw new VirtioSndError(
          `stream ${v.sid}: device did not return ${v.msgCount} I/O messages on RELEASE`,
        );
      }
      await Promise.race([v.changed(), sleep(10)]);
    }
  }

  private freeBuffer(): void {
    const v = this.vss;
    if (v.msgs.length > 0) pcmMsgFree(v, this.card.heap);
    if (v.bufferAddr) this.card.heap.release(v.bufferAddr);
    v.bufferAddr = 0;
  }

  /** The bytes of a writei/readi argument: whole frames, on a stream of that direction. */
  private ioBytes(
    op: string,
    direction: 'playback' | 'capture',
    data: ArrayBufferView,
  ): Uint8Array {
    const v = this.vss;
    const p = this.requireParams(op);
    if (v.direction !== direction) {
      throw new PcmStateError(
        op,
        direction === 'playback' ? 'a capture stream' : 'a playback stream',
      );
    }
    const bytes = viewBytes(data);
    if (bytes.length % p.frameBytes !== 0) {
      throw new ArgumentError(
        `${op}: ${bytes.length} bytes is not a whole number of ${p.frameBytes}-byte frames`,
      );
    }
    return bytes;
  }

  private atStartThreshold(): boolean {
    const v = this.vss;
    return v.state === 'prepared' && v.applPtr - v.hwPtr >= v.startThreshold;
  }

  /** START from a synchronous call: the stream runs at once; a refusal waits for the next call. */
  private startWithoutWaiting(): void {
    this.start().catch((e: unknown) => {
      this.startError = e instanceof VirtioSndError ? e : new DeviceError(String(e));
    });
  }

  private throwStartError(): void {
    const e = this.startError;
    if (e === null) return;
    this.startError = null;
    throw e;
  }

  private requireState(op: string, allowed: readonly PcmState[]): void {
    const s = this.vss.state;
    // A card that failed explains itself better than the state it left behind.
    if (s === 'disconnected') throw this.card.error ?? new DeviceError('the card is gone');
    if (s === 'xrun' && !allowed.includes('xrun')) throw new XrunError(this.vss.sid);
    if (!allowed.includes(s)) throw new PcmStateError(op, s);
  }

  private requireParams(op: string): PcmParams {
    const p = this.vss.params;
    if (!p) throw new PcmStateError(op, this.vss.state);
    return p;
  }
}

function viewBytes(data: ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (!ArrayBuffer.isView(data)) throw new ArgumentError('expected a typed array or DataView');
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
