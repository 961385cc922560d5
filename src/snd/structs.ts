/**
 * The virtio-snd structures: byte offsets and sizes (little-endian, as in
 * Linux include/uapi/linux/virtio_snd.h), with encoders that write every
 * byte (padding zeroed) and decoders that read them back. Decoders take an
 * optional `out` object to fill instead of allocating. The two structures of
 * the audio hot path (pcm_xfer, pcm_status) have allocation-free helpers.
 */

import { VIRTIO_SND_CHMAP_MAX_SIZE } from './constants.ts';

export const CONFIG = {
  size: 16,
  sizeV12: 12,
  jacks: 0,
  streams: 4,
  chmaps: 8,
  controls: 12,
} as const;
export const HDR = { size: 4, code: 0 } as const;
export const EVENT = { size: 8, code: 0, data: 4 } as const;
export const QUERY_INFO = { size: 16, code: 0, startId: 4, count: 8, itemSize: 12 } as const;
export const INFO = { size: 4, hdaFnNid: 0 } as const;
export const JACK_HDR = { size: 8, code: 0, jackId: 4 } as const;
export const JACK_INFO = {
  size: 24,
  hdaFnNid: 0,
  features: 4,
  hdaRegDefconf: 8,
  hdaRegCaps: 12,
  connected: 16,
  padding: 17,
} as const;
export const JACK_REMAP = { size: 16, code: 0, jackId: 4, association: 8, sequence: 12 } as const;
export const PCM_HDR = { size: 8, code: 0, streamId: 4 } as const;
export const PCM_INFO = {
  size: 32,
  hdaFnNid: 0,
  features: 4,
  formats: 8,
  rates: 16,
  direction: 24,
  channelsMin: 25,
  channelsMax: 26,
  padding: 27,
} as const;
export const PCM_SET_PARAMS = {
  size: 24,
  code: 0,
  streamId: 4,
  bufferBytes: 8,
  periodBytes: 12,
  features: 16,
  channels: 20,
  format: 21,
  rate: 22,
  padding: 23,
} as const;
export const PCM_XFER = { size: 4, streamId: 0 } as const;
export const PCM_STATUS = { size: 8, status: 0, latencyBytes: 4 } as const;
export const CHMAP_HDR = { size: 8, code: 0, chmapId: 4 } as const;
export const CHMAP_INFO = {
  size: 24,
  hdaFnNid: 0,
  direction: 4,
  channels: 5,
  positions: 6,
} as const;
export const CTL_HDR = { size: 8, code: 0, controlId: 4 } as const;
/**
 * virtio_snd_ctl_info with natural C layout on LP64 (x86_64, aarch64): the
 * value union holds le64 fields, so it is 8-byte aligned at 72 and the struct
 * is 96 bytes. (i386 packs the union at 68 for 92 bytes; see the device.)
 */
export const CTL_INFO = {
  size: 96,
  hdaFnNid: 0,
  role: 4,
  type: 8,
  access: 12,
  count: 16,
  index: 20,
  name: 24,
  nameSize: 44,
  value: 72,
} as const;
export const CTL_ENUM_ITEM = { size: 64 } as const;
export const CTL_IEC958 = {
  size: 176,
  status: 0,
  subcode: 24,
  pad: 171,
  digSubframe: 172,
} as const;
export const CTL_VALUE = { size: 512 } as const;
export const CTL_TLV = { headerSize: 8, type: 0, length: 4, value: 8 } as const;
export const CTL_EVENT = { size: 8, code: 0, controlId: 4, mask: 6 } as const;

// ---- hot path -------------------------------------------------------------

export function readPcmXferStreamId(view: DataView, off: number): number {
  return view.getUint32(off + PCM_XFER.streamId, true);
}

export function writePcmStatus(
  view: DataView,
  off: number,
  status: number,
  latencyBytes: number,
): void {
  view.setUint32(off + PCM_STATUS.status, status, true);
  view.setUint32(off + PCM_STATUS.latencyBytes, latencyBytes >>> 0, true);
}

// ---- structures -----------------------------------------------------------

export interface QueryInfo {
  code: number;
  startId: number;
  count: number;
  size: number;
}

export function encodeQueryInfo(view: DataView, off: number, q: QueryInfo): void {
  view.setUint32(off + QUERY_INFO.code, q.code, true);
  view.setUint32(off + QUERY_INFO.startId, q.startId, true);
  view.setUint32(off + QUERY_INFO.count, q.count, true);
  view.setUint32(off + QUERY_INFO.itemSize, q.size, true);
}

export function decodeQueryInfo(view: DataView, off: number, out?: QueryInfo): QueryInfo {
  const o = out ?? { code: 0, startId: 0, count: 0, size: 0 };
  o.code = view.getUint32(off + QUERY_INFO.code, true);
  o.startId = view.getUint32(off + QUERY_INFO.startId, true);
  o.count = view.getUint32(off + QUERY_INFO.count, true);
  o.size = view.getUint32(off + QUERY_INFO.itemSize, true);
  return o;
}

export interface JackInfo {
  hdaFnNid: number;
  features: number;
  hdaRegDefconf: number;
  hdaRegCaps: number;
  connected: number;
}

export function encodeJackInfo(view: DataView, off: number, j: JackInfo): void {
  view.setUint32(off + JACK_INFO.hdaFnNid, j.hdaFnNid, true);
  view.setUint32(off + JACK_INFO.features, j.features, true);
  view.setUint32(off + JACK_INFO.hdaRegDefconf, j.hdaRegDefconf, true);
  view.setUint32(off + JACK_INFO.hdaRegCaps, j.hdaRegCaps, true);
  view.setUint8(off + JACK_INFO.connected, j.connected);
  for (let i = JACK_INFO.padding; i < JACK_INFO.size; i++) view.setUint8(off + i, 0);
}

export function decodeJackInfo(view: DataView, off: number, out?: JackInfo): JackInfo {
  const o = out ?? { hdaFnNid: 0, features: 0, hdaRegDefconf: 0, hdaRegCaps: 0, connected: 0 };
  o.hdaFnNid = view.getUint32(off + JACK_INFO.hdaFnNid, true);
  o.features = view.getUint32(off + JACK_INFO.features, true);
  o.hdaRegDefconf = view.getUint32(off + JACK_INFO.hdaRegDefconf, true);
  o.hdaRegCaps = view.getUint32(off + JACK_INFO.hdaRegCaps, true);
  o.connected = view.getUint8(off + JACK_INFO.connected);
  return o;
}

export interface PcmInfo {
  hdaFnNid: number;
  features: number;
  /** Bitmap of 1 << VIRTIO_SND_PCM_FMT_*. */
  formats: bigint;
  /** Bitmap of 1 << VIRTIO_SND_PCM_RATE_*. */
  rates: bigint;
  direction: number;
  channelsMin: number;
  channelsMax: number;
}

export function encodePcmInfo(view: DataView, off: number, p: PcmInfo): void {
  view.setUint32(off + PCM_INFO.hdaFnNid, p.hdaFnNid, true);
  view.setUint32(off + PCM_INFO.features, p.features, true);
  view.setBigUint64(off + PCM_INFO.formats, BigInt.asUintN(64, p.formats), true);
  view.setBigUint64(off + PCM_INFO.rates, BigInt.asUintN(64, p.rates), true);
  view.setUint8(off + PCM_INFO.direction, p.direction);
  view.setUint8(off + PCM_INFO.channelsMin, p.channelsMin);
  view.setUint8(off + PCM_INFO.channelsMax, p.channelsMax);
  for (let i = PCM_INFO.padding; i < PCM_INFO.size; i++) view.setUint8(off + i, 0);
}

export function decodePcmInfo(view: DataView, off: number, out?: PcmInfo): PcmInfo {
  const o = out ?? {
    hdaFnNid: 0,
    features: 0,
    formats: 0n,
    rates: 0n,
    direction: 0,
    channelsMin: 0,
    channelsMax: 0,
  };
  o.hdaFnNid = view.getUint32(off + PCM_INFO.hdaFnNid, true);
  o.features = view.getUint32(off + PCM_INFO.features, true);
  o.formats = view.getBigUint64(off + PCM_INFO.formats, true);
  o.rates = view.getBigUint64(off + PCM_INFO.rates, true);
  o.direction = view.getUint8(off + PCM_INFO.direction);
  o.channelsMin = view.getUint8(off + PCM_INFO.channelsMin);
  o.channelsMax = view.getUint8(off + PCM_INFO.channelsMax);
  return o;
}

export interface PcmSetParams {
  streamId: number;
  bufferBytes: number;
  periodBytes: number;
  features: number;
  channels: number;
  format: number;
  rate: number;
}

export function encodePcmSetParams(
  view: DataView,
  off: number,
  p: PcmSetParams,
  code: number,
): void {
  view.setUint32(off + PCM_SET_PARAMS.code, code, true);
  view.setUint32(off + PCM_SET_PARAMS.streamId, p.streamId, true);
  view.setUint32(off + PCM_SET_PARAMS.bufferBytes, p.bufferBytes, true);
  view.setUint32(off + PCM_SET_PARAMS.periodBytes, p.periodBytes, true);
  view.setUint32(off + PCM_SET_PARAMS.features, p.features, true);
  view.setUint8(off + PCM_SET_PARAMS.channels, p.channels);
  view.setUint8(off + PCM_SET_PARAMS.format, p.format);
  view.setUint8(off + PCM_SET_PARAMS.rate, p.rate);
  view.setUint8(off + PCM_SET_PARAMS.padding, 0);
}

export function decodePcmSetParams(view: DataView, off: number, out?: PcmSetParams): PcmSetParams {
  const o = out ?? {
    streamId: 0,
    bufferBytes: 0,
    periodBytes: 0,
    features: 0,
    channels: 0,
    format: 0,
    rate: 0,
  };
  o.streamId = view.getUint32(off + PCM_SET_PARAMS.streamId, true);
  o.bufferBytes = view.getUint32(off + PCM_SET_PARAMS.bufferBytes, true);
  o.periodBytes = view.getUint32(off + PCM_SET_PARAMS.periodBytes, true);
  o.features = view.getUint32(off + PCM_SET_PARAMS.features, true);
  o.channels = view.getUint8(off + PCM_SET_PARAMS.channels);
  o.format = view.getUint8(off + PCM_SET_PARAMS.format);
  o.rate = view.getUint8(off + PCM_SET_PARAMS.rate);
  return o;
}

export interface ChmapInfo {
  hdaFnNid: number;
  direction: number;
  /** VIRTIO_SND_CHMAP_* per channel (at most 18). */
  positions: readonly number[];
}

export function encodeChmapInfo(view: DataView, off: number, c: ChmapInfo): void {
  if (c.positions.length > VIRTIO_SND_CHMAP_MAX_SIZE) {
    throw new RangeError(
      `chmap_info.positions: ${c.positions.length} > ${VIRTIO_SND_CHMAP_MAX_SIZE}`,
    );
  }
  view.setUint32(off + CHMAP_INFO.hdaFnNid, c.hdaFnNid, true);
  view.setUint8(off + CHMAP_INFO.direction, c.direction);
  view.setUint8(off + CHMAP_INFO.channels, c.positions.length);
  for (let i = 0; i < VIRTIO_SND_CHMAP_MAX_SIZE; i++) {
    view.setUint8(off + CHMAP_INFO.positions + i, c.positions[i] ?? 0);
  }
}

export function decodeChmapInfo(view: DataView, off: number): ChmapInfo {
  const channels = Math.min(view.getUint8(off + CHMAP_INFO.channels), VIRTIO_SND_CHMAP_MAX_SIZE);
  return {
    hdaFnNid: view.getUint32(off + CHMAP_INFO.hdaFnNid, true),
    direction: view.getUint8(off + CHMAP_INFO.direction),
    positions: Array.from({ length: channels }, (_, i) =>
      view.getUint8(off + CHMAP_INFO.positions + i),
    ),
  };
}

export type CtlInfoValue =
  | { kind: 'integer'; min: number; max: number; step: number }
  | { kind: 'integer64'; min: bigint; max: bigint; step: bigint }
  | { kind: 'enumerated'; items: number }
  | { kind: 'none' };

export interface CtlInfo {
  hdaFnNid: number;
  role: number;
  type: number;
  access: number;
  count: number;
  index: number;
  name: string;
  value: CtlInfoValue;
}

/** Writes a NUL-terminated ASCII string into a fixed array of `size` bytes. */
export function encodeAscii(
  view: DataView,
  off: number,
  size: number,
  s: string,
  field: string,
): void {
  if (s.length > size - 1)
    throw new RangeError(`${field}: "${s}" is longer than ${size - 1} characters`);
  for (let i = 0; i < size; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0;
    if (c > 0x7f) throw new RangeError(`${field}: "${s}" is not ASCII`);
    view.setUint8(off + i, c);
  }
}

/** Reads a NUL-terminated ASCII string from a fixed array (unterminated: all of it). */
export function decodeAscii(view: DataView, off: number, size: number): string {
  let s = '';
  for (let i = 0; i < size; i++) {
    const c = view.getUint8(off + i);
    if (c === 0) break;
    s += String.fromCharCode(c & 0x7f);
  }
  return s;
}

export function encodeCtlInfo(view: DataView, off: number, c: CtlInfo): void {
  view.setUint32(off + CTL_INFO.hdaFnNid, c.hdaFnNid, true);
  view.setUint32(off + CTL_INFO.role, c.role, true);
  view.setUint32(off + CTL_INFO.type, c.type, true);
  view.setUint32(off + CTL_INFO.access, c.access, true);
  view.setUint32(off + CTL_INFO.count, c.count, true);
  view.setUint32(off + CTL_INFO.index, c.index, true);
  encodeAscii(view, off + CTL_INFO.name, CTL_INFO.nameSize, c.name, 'ctl_info.name');
  for (let i = CTL_INFO.name + CTL_INFO.nameSize; i < CTL_INFO.size; i++) view.setUint8(off + i, 0);
  const v = off + CTL_INFO.value;
  const x = c.value;
  if (x.kind === 'integer') {
    view.setInt32(v, x.min, true);
    view.setInt32(v + 4, x.max, true);
    view.setInt32(v + 8, x.step, true);
  } else if (x.kind === 'integer64') {
    view.setBigInt64(v, x.min, true);
    view.setBigInt64(v + 8, x.max, true);
    view.setBigInt64(v + 16, x.step, true);
  } else if (x.kind === 'enumerated') {
    view.setUint32(v, x.items, true);
  }
}

/** Types whose value union member is `integer`, `integer64` or `enumerated`. */
const CTL_TYPE_INTEGER = 1;
const CTL_TYPE_INTEGER64 = 2;
const CTL_TYPE_ENUMERATED = 3;

export function decodeCtlInfo(view: DataView, off: number): CtlInfo {
  const type = view.getUint32(off + CTL_INFO.type, true);
  const v = off + CTL_INFO.value;
  let value: CtlInfoValue = { kind: 'none' };
  if (type === CTL_TYPE_INTEGER) {
    value = {
      kind: 'integer',
      min: view.getInt32(v, true),
      max: view.getInt32(v + 4, true),
      step: view.getInt32(v + 8, true),
    };
  } else if (type === CTL_TYPE_INTEGER64) {
    value = {
      kind: 'integer64',
      min: view.getBigInt64(v, true),
      max: view.getBigInt64(v + 8, true),
      step: view.getBigInt64(v + 16, true),
    };
  } else if (type === CTL_TYPE_ENUMERATED) {
    value = { kind: 'enumerated', items: view.getUint32(v, true) };
  }
  return {
    hdaFnNid: view.getUint32(off + CTL_INFO.hdaFnNid, true),
    role: view.getUint32(off + CTL_INFO.role, true),
    type,
    access: view.getUint32(off + CTL_INFO.access, true),
    count: view.getUint32(off + CTL_INFO.count, true),
    index: view.getUint32(off + CTL_INFO.index, true),
    name: decodeAscii(view, off + CTL_INFO.name, CTL_INFO.nameSize),
    value,
  };
}

export interface SndEvent {
  code: number;
  data: number;
}

export function encodeEvent(view: DataView, off: number, e: SndEvent): void {
  view.setUint32(off + EVENT.code, e.code, true);
  view.setUint32(off + EVENT.data, e.data, true);
}

export function decodeEvent(view: DataView, off: number, out?: SndEvent): SndEvent {
  const o = out ?? { code: 0, data: 0 };
  o.code = view.getUint32(off + EVENT.code, true);
  o.data = view.getUint32(off + EVENT.data, true);
  return o;
}
