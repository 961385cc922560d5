/**
 * What a VirtioSndDevice is made of: its streams, jacks and channel maps, with
 * the defaults a guest expects from a plain sound card (one stereo output on
 * a speaker jack, one mono/stereo input on a microphone jack).
 */

import { SUPPORTED_FORMATS } from '../../pcm/pcm-codec.ts';
import {
  PCM_RATE_HZ,
  VIRTIO_SND_CHMAP_FC,
  VIRTIO_SND_CHMAP_FL,
  VIRTIO_SND_CHMAP_FR,
  VIRTIO_SND_CHMAP_LFE,
  VIRTIO_SND_CHMAP_MAX_SIZE,
  VIRTIO_SND_CHMAP_MONO,
  VIRTIO_SND_CHMAP_RL,
  VIRTIO_SND_CHMAP_RR,
  VIRTIO_SND_CHMAP_SL,
  VIRTIO_SND_CHMAP_SR,
  VIRTIO_SND_JACK_F_REMAP,
  VIRTIO_SND_PCM_F_EVT_SHMEM_PERIODS,
  VIRTIO_SND_PCM_F_EVT_XRUNS,
  VIRTIO_SND_PCM_F_MSG_POLLING,
} from '../../snd/protocol.ts';
import type { Direction } from '../shared/render-state.ts';

export type { Direction };

export interface StreamConfig {
  direction: Direction;
  /** Default 1. */
  channelsMin?: number;
  /** Default 8 for output, 2 for input. */
  channelsMax?: number;
  /** VIRTIO_SND_PCM_FMT_* values; default every format the renderer converts. */
  formats?: readonly number[];
  /** Frame rates in Hz; default the 14 rates of VIRTIO 1.2 (5512 ... 384000). */
  rates?: readonly number[];
  /** HDA function group node id linking streams, jacks and chmaps. Default 0. */
  hdaFnNid?: number;
  /** VIRTIO_SND_PCM_F_* bits offered; default MSG_POLLING | EVT_XRUNS | EVT_SHMEM_PERIODS. */
  features?: number;
}

export interface JackConfig {
  /** A label for the host's UI; the guest sees only the HDA registers. */
  name?: string;
  hdaFnNid?: number;
  /** VIRTIO_SND_JACK_F_* bits; default REMAP. */
  features?: number;
  /** HDA pin default configuration register (HDA 7.3.3.31). */
  hdaRegDefconf: number;
  /** HDA pin capabilities register (HDA 7.3.4.9). */
  hdaRegCaps: number;
  connected?: boolean;
}

export interface ChmapConfig {
  direction: Direction;
  /** VIRTIO_SND_CHMAP_* positions, one per channel (at most 18). */
  positions: readonly number[];
  hdaFnNid?: number;
}

/** Thrown for a device configuration that cannot work; names the offending field. */
export class DeviceConfigError extends RangeError {
  override readonly name = 'DeviceConfigError';
}

export const DEFAULT_STREAM_FEATURES =
  (1 << VIRTIO_SND_PCM_F_MSG_POLLING) |
  (1 << VIRTIO_SND_PCM_F_EVT_XRUNS) |
  (1 << VIRTIO_SND_PCM_F_EVT_SHMEM_PERIODS);

/** The features a stream may offer: anything else is not implemented. */
export const IMPLEMENTED_STREAM_FEATURES = DEFAULT_STREAM_FEATURES;

/** The 14 rates of VIRTIO 1.2/1.3 (indices 0..13). */
export const DEFAULT_RATES: readonly number[] = PCM_RATE_HZ.slice(0, 14);

export const DEFAULT_STREAMS: readonly StreamConfig[] = [
  { direction: 'output', channelsMin: 1, channelsMax: 8 },
  { direction: 'input', channelsMin: 1, channelsMax: 2 },
];

// HDA pin capabilities: presence detect (bit 2), output (bit 4), input (bit 5).
const PINCAP_PRES_DETECT = 1 << 2;
export const PINCAP_OUT = 1 << 4;
export const PINCAP_IN = 1 << 5;

export const DEFAULT_JACKS: readonly JackConfig[] = [
  {
    name: 'Speaker',
    // Jack, rear, Speaker, 1/8", green, association 1, sequence 0.
    hdaRegDefconf: 0x01114010,
    hdaRegCaps: PINCAP_PRES_DETECT | PINCAP_OUT,
    connected: true,
  },
  {
    name: 'Microphone',
    // Jack, rear, Mic In, 1/8", pink, association 2, sequence 0.
    hdaRegDefconf: 0x01a19020,
    hdaRegCaps: PINCAP_PRES_DETECT | PINCAP_IN,
    connected: true,
  },
];

const M = VIRTIO_SND_CHMAP_MONO;
const FL = VIRTIO_SND_CHMAP_FL;
const FR = VIRTIO_SND_CHMAP_FR;
const QUAD = [FL, FR, VIRTIO_SND_CHMAP_RL, VIRTIO_SND_CHMAP_RR];
const SURROUND_51 = [
  FL,
  FR,
  VIRTIO_SND_CHMAP_FC,
  VIRTIO_SND_CHMAP_LFE,
  VIRTIO_SND_CHMAP_RL,
  VIRTIO_SND_CHMAP_RR,
];
const SURROUND_71 = [...SURROUND_51, VIRTIO_SND_CHMAP_SL, VIRTIO_SND_CHMAP_SR];
export const DEFAULT_CHMAPS: readonly ChmapConfig[] = [
  { direction: 'output', positions: [M] },
  { direction: 'output', positions: [FL, FR] },
  { direction: 'output', positions: QUAD },
  { direction: 'output', positions: SURROUND_51 },
  { direction: 'output', positions: SURROUND_71 },
  { direction: 'input', positions: [M] },
  { direction: 'input', positions: [FL, FR] },
];

/** A stream with every default filled in and checked. */
export interface ResolvedStream {
  direction: Direction;
  channelsMin: number;
  channelsMax: number;
  /** Bitmap of 1 << VIRTIO_SND_PCM_FMT_*. */
  formats: bigint;
  /** Bitmap of 1 << VIRTIO_SND_PCM_RATE_*. */
  rates: bigint;
  hdaFnNid: number;
  features: number;
}

function u32(v: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new DeviceConfigError(`${field} must be a 32-bit unsigned integer, got ${v}`);
  }
  return v;
}

export function resolveStream(c: StreamConfig, i: number): ResolvedStream {
  const f = `streams[${i}]`;
  if (c.direction !== 'output' && c.direction !== 'input') {
    throw new DeviceConfigError(`${f}.direction must be 'output' or 'input'`);
  }
  const channelsMin = c.channelsMin ?? 1;
  const channelsMax = c.channelsMax ?? (c.direction === 'output' ? 8 : 2);
  if (!Number.isInteger(channelsMin) || channelsMin < 1 || channelsMin > channelsMax) {
    throw new DeviceConfigError(`${f}.channelsMin must be 1..channelsMax, got ${channelsMin}`);
  }
  if (!Number.isInteger(channelsMax) || channelsMax > 8) {
    throw new DeviceConfigError(`${f}.channelsMax must be at most 8, got ${channelsMax}`);
  }
  let formats = 0n;
  for (const fmt of c.formats ?? SUPPORTED_FORMATS) {
    if (!SUPPORTED_FORMATS.includes(fmt)) {
      throw new DeviceConfigError(`${f}.formats: format ${fmt} is not supported by the renderer`);
    }
    formats |= 1n << BigInt(fmt);
  }
  let rates = 0n;
  for (const hz of c.rates ?? DEFAULT_RATES) {
    const idx = PCM_RATE_HZ.indexOf(hz);
    if (idx < 0) throw new DeviceConfigError(`${f}.rates: ${hz} Hz is not a virtio-snd rate`);
    rates |= 1n << BigInt(idx);
  }
  if (formats === 0n) throw new DeviceConfigError(`${f}.formats is empty`);
  if (rates === 0n) throw new DeviceConfigError(`${f}.rates is empty`);
  const features = c.features ?? DEFAULT_STREAM_FEATURES;
  if ((features & ~IMPLEMENTED_STREAM_FEATURES) !== 0) {
    throw new DeviceConfigError(`${f}.features has bits the device does not implement`);
  }
  return {
    direction: c.direction,
    channelsMin,
    channelsMax,
    formats,
    rates,
    hdaFnNid: u32(c.hdaFnNid ?? 0, `${f}.hdaFnNid`),
    features,
  };
}

export function resolveJack(c: JackConfig, i: number): Required<JackConfig> {
  const f = `jacks[${i}]`;
  const features = c.features ?? 1 << VIRTIO_SND_JACK_F_REMAP;
  if ((features & ~(1 << VIRTIO_SND_JACK_F_REMAP)) !== 0) {
    throw new DeviceConfigError(`${f}.features has undefined bits`);
  }
  return {
    name: c.name ?? `Jack ${i}`,
    hdaFnNid: u32(c.hdaFnNid ?? 0, `${f}.hdaFnNid`),
    features,
    hdaRegDefconf: u32(c.hdaRegDefconf, `${f}.hdaRegDefconf`),
    hdaRegCaps: u32(c.hdaRegCaps, `${f}.hdaRegCaps`),
    connected: c.connected ?? true,
  };
}

export function resolveChmap(c: ChmapConfig, i: number): Required<ChmapConfig> {
  const f = `chmaps[${i}]`;
  if (c.direction !== 'output' && c.direction !== 'input') {
    throw new DeviceConfigError(`${f}.direction must be 'output' or 'input'`);
  }
  if (c.positions.length === 0 || c.positions.length > VIRTIO_SND_CHMAP_MAX_SIZE) {
    throw new DeviceConfigError(`${f}.positions must hold 1..18 positions`);
  }
  for (const p of c.positions) {
    if (!Number.isInteger(p) || p < 0 || p > 36) {
      throw new DeviceConfigError(`${f}.positions: ${p} is not a VIRTIO_SND_CHMAP_* value`);
    }
  }
  return { direction: c.direction, positions: [...c.positions], hdaFnNid: c.hdaFnNid ?? 0 };
}
