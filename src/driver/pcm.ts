/**
 * The PCM substream model (like Linux virtio_pcm.c / virtio_pcm.h): what
 * PCM_INFO says a stream supports, and the runtime state the messages and
 * operations share: hw_ptr, appl_ptr, the I/O messages and their counters.
 */

import {
  PCM_FORMAT_INFO,
  PCM_INFO,
  PCM_RATE_HZ,
  type PcmInfo,
  type PcmStateName,
  pcmFrameBytes,
  VIRTIO_SND_D_INPUT,
  VIRTIO_SND_D_OUTPUT,
} from '../snd/protocol.ts';
import type { DriverQueue } from '../virtio/driver-queue.ts';
import type { GuestMemory } from '../virtio/memory.ts';
import { DeviceError } from './errors.ts';
import type { PcmMsg } from './pcm-msg.ts';

export type PcmDirection = 'playback' | 'capture';

/** The substream states of the ALSA-like API (ALSA's SNDRV_PCM_STATE_*). */
export type PcmState =
  | 'open'
  | 'setup'
  | 'prepared'
  | 'running'
  | 'xrun'
  | 'draining'
  | 'paused'
  | 'disconnected';

/** What the device's stream state machine was last told (mirrors the device). */
export type DeviceStreamState = PcmStateName;

export interface PcmHwInfo {
  hdaFnNid: number;
  features: number;
  /** VIRTIO_SND_PCM_FMT_* values the stream supports (those the driver also knows). */
  formats: number[];
  /** Frame rates in Hz. */
  rates: number[];
  channelsMin: number;
  channelsMax: number;
}

export interface PcmParams {
  format: number;
  rate: number;
  channels: number;
  periodFrames: number;
  periods: number;
  /** Derived. */
  frameBytes: number;
  periodBytes: number;
  bufferBytes: number;
  bufferFrames: number;
  /** VIRTIO_SND_PCM_F_* bits sent with SET_PARAMS. */
  features: number;
}

/** A stream's parameters from the choices SET_PARAMS sends, with what follows from them. */
export function pcmParams(
  format: number,
  rate: number,
  channels: number,
  periodFrames: number,
  periods: number,
  features: number,
): PcmParams {
  const frameBytes = pcmFrameBytes(format, channels);
  const periodBytes = periodFrames * frameBytes;
  return {
    format,
    rate,
    channels,
    periodFrames,
    periods,
    frameBytes,
    periodBytes,
    bufferBytes: periodBytes * periods,
    bufferFrames: periodFrames * periods,
    features,
  };
}

/** Known format indices: those with a defined sample size (0..24). */
const KNOWN_FORMATS = PCM_FORMAT_INFO.length;

/** Turns a PCM_INFO entry into the hardware description, refusing impossible ones. */
export function parsePcmInfo(
  sid: number,
  info: PcmInfo,
): { direction: PcmDirection; hw: PcmHwInfo } {
  let direction: PcmDirection;
  if (info.direction === VIRTIO_SND_D_OUTPUT) direction = 'playback';
  else if (info.direction === VIRTIO_SND_D_INPUT) direction = 'capture';
  else throw new DeviceError(`stream ${sid}: PCM_INFO direction ${info.direction} is undefined`);
  if (info.channelsMin < 1 || info.channelsMax < info.channelsMin) {
    throw new DeviceError(
      `stream ${sid}: PCM_INFO channels ${info.channelsMin}..${info.channelsMax} is impossible`,
    );
  }
  const formats: number[] = [];
  for (let f = 0; f < KNOWN_FORMATS; f++) {
    // IMA ADPCM and the DSD/IEC958 formats carry no linear PCM we could write.
    const fi = PCM_FORMAT_INFO[f];
    if ((info.formats >> BigInt(f)) & 1n && fi && fi.physBits >= 8 && !fi.digital) formats.push(f);
  }
  const rates: number[] = [];
  for (let r = 0; r < PCM_RATE_HZ.length; r++) {
    if ((info.rates >> BigInt(r)) & 1n) rates.push(PCM_RATE_HZ[r]);
  }
  if (formats.length === 0)
    throw new DeviceError(`stream ${sid}: PCM_INFO offers no usable format`);
  if (rates.length === 0) throw new DeviceError(`stream ${sid}: PCM_INFO offers no rate`);
  return {
    direction,
    hw: {
      hdaFnNid: info.hdaFnNid,
      features: info.features,
      formats,
      rates,
      channelsMin: info.channelsMin,
      channelsMax: info.channelsMax,
    },
  };
}

/** Size of the PCM_INFO struct the driver asks for. */
export const PCM_INFO_SIZE = PCM_INFO.size;

/**
 * One substream's shared state. Named after Linux's struct
 * virtio_pcm_substream; pointers count frames monotonically (ALSA's
 * position is `hwPtr % bufferFrames`).
 */
export class VirtioPcmSubstream {
  state: PcmState = 'open';
  deviceState: DeviceStreamState = 'initial';
  params: PcmParams | null = null;
  /** Guest address of the hardware buffer. */
  bufferAddr = 0;
  /** Frames the device has played / captured (advanced per completed message). */
  hwPtr = 0;
  /** Frames the application has written / read. */
  applPtr = 0;
  /** Frames handed to the device in messages (playback). */
  sentFrames = 0;
  /** latency_bytes of the last completion. */
  latencyBytes = 0;
  /** sentFrames - hwPtr when the last completion arrived: what the driver knew was queued. */
  queuedAtCompletion = 0;
  xferEnabled = false;
  xferXrun = false;
  msgs: PcmMsg[] = [];
  /** Index of the last message added to the virtqueue (-1: none yet). */
  msgLastEnqueued = -1;
  /** Messages in the virtqueue. */
  msgCount = 0;
  /** Completions seen since prepare. */
  periodsElapsed = 0;
  /** Frames at which a drain completes. */
  drainTarget = -1;
  startThreshold = 0;
  /** Woken on every completion, state change and xrun. */
  private wakers: (() => void)[] = [];

  constructor(
    readonly sid: number,
    readonly direction: PcmDirection,
    readonly hw: PcmHwInfo,
    /** Guest memory, where its buffer and message headers live. */
    readonly mem: GuestMemory,
    /** The card's TX queue (playback) or RX queue (capture), bound at probe as Linux does. */
    readonly queue: DriverQueue<PcmMsg>,
    /** Notifies the device of new buffers on `queue`. */
    readonly kick: () => void,
  ) {}

  /** Resolves at the next completion or state change. */
  changed(): Promise<void> {
    return new Promise((r) => this.wakers.push(r));
  }

  wake(): void {
    // Called for every period: no garbage when nobody waits.
    const w = this.wakers;
    if (w.length === 0) return;
    this.wakers = [];
    for (let i = 0; i < w.length; i++) w[i]();
  }
}
