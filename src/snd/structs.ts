/**
 * The virtio-snd structures: byte offsets and sizes (little-endian, as in
 * Linux include/uapi/linux/virtio_snd.h), with encoders that write every
 * byte (padding zeroed) and decoders that read them back. Decoders take an
 * optional `out` object to fill instead of allocating. The two structures of
 * the audio hot path (pcm_xfer, pcm_status) have allocation-free helpers.
 */

import {
  VIRTIO_SND_CHMAP_MAX_SIZE,
  VIRTIO_SND_CTL_TYPE_ENUMERATED,
  VIRTIO_SND_CTL_TYPE_INTEGER,
  VIRTIO_SND_CTL_TYPE_INTEGER64,
} from './constants.ts';

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

/** How a field is stored: little-endian integers of 8, 32 or 64 bits. */
type FieldKind = 'u8' | 'u32' | 'u64';
type FieldValue<K extends FieldKind> = K extends 'u64' ? bigint : number;

/** A struct as a table: each field's byte offset and kind. */
interface StructTable<T> {
  readonly size: number;
  readonly fields: { readonly [P in keyof T]: readonly [offset: number, kind: FieldKind] };
}

function table<T>(
  size: number,
  fields: { readonly [P in keyof T]: readonly [number, FieldKind] },
): StructTable<T> {
  return { size, fields };
}

/** Writes struct `v` at `off` of `view`. */
export type Encoder<T> = (view: DataView, off: number, v: T) => void;
/** Reads the struct at `off` of `view` into `out` (a new object when not given). */
export type Decoder<T> = (view: DataView, off: number, out?: T) => T;

/** An encoder that writes every byte: the fields, and zero for padding and reserved bytes. */
function encoderOf<T>(t: StructTable<T>): Encoder<T> {
  return (view, off, v) => encodeStruct(t, view, off, v);
}

function decoderOf<T>(t: StructTable<T>): Decoder<T> {
  return (view, off, out) => decodeStruct(t, view, off, out);
}

function encodeStruct<T>(t: StructTable<T>, view: DataView, off: number, v: T): void {
  for (let i = 0; i < t.size; i++) view.setUint8(off + i, 0);
  for (const key in t.fields) {
    const [at, kind] = t.fields[key];
    const x = v[key] as FieldValue<FieldKind>;
    if (kind === 'u8') view.setUint8(off + at, x as number);
    else if (kind === 'u32') view.setUint32(off + at, x as number, true);
    else view.setBigUint64(off + at, BigInt.asUintN(64, x as bigint), true);
  }
}

function decodeStruct<T>(t: StructTable<T>, view: DataView, off: number, out?: T): T {
  const o = (out ?? {}) as Record<keyof T, FieldValue<FieldKind>>;
  for (const key in t.fields) {
    const [at, kind] = t.fields[key];
    o[key] =
      kind === 'u8'
        ? view.getUint8(off + at)
        : kind === 'u32'
          ? view.getUint32(off + at, true)
          : view.getBigUint64(off + at, true);
  }
  return o as T;
}

export interface QueryInfo {
  code: number;
  startId: number;
  count: number;
  size: number;
}

const QUERY_INFO_TABLE = table<QueryInfo>(QUERY_INFO.size, {
  code: [QUERY_INFO.code, 'u32'],
  startId: [QUERY_INFO.startId, 'u32'],
  count: [QUERY_INFO.count, 'u32'],
  size: [QUERY_INFO.itemSize, 'u32'],
});

export const encodeQueryInfo: Encoder<QueryInfo> = encoderOf(QUERY_INFO_TABLE);
export const decodeQueryInfo: Decoder<QueryInfo> = decoderOf(QUERY_INFO_TABLE);

export interface JackInfo {
  hdaFnNid: number;
  features: number;
  hdaRegDefconf: number;
  hdaRegCaps: number;
  connected: number;
}

const JACK_INFO_TABLE = table<JackInfo>(JACK_INFO.size, {
  hdaFnNid: [JACK_INFO.hdaFnNid, 'u32'],
  features: [JACK_INFO.features, 'u32'],
  hdaRegDefconf: [JACK_INFO.hdaRegDefconf, 'u32'],
  hdaRegCaps: [JACK_INFO.hdaRegCaps, 'u32'],
  connected: [JACK_INFO.connected, 'u8'],
});

export const encodeJackInfo: Encoder<JackInfo> = encoderOf(JACK_INFO_TABLE);
export const decodeJackInfo: Decoder<JackInfo> = decoderOf(JACK_INFO_TABLE);

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

const PCM_INFO_TABLE = table<PcmInfo>(PCM_INFO.size, {
  hdaFnNid: [PCM_INFO.hdaFnNid, 'u32'],
  features: [PCM_INFO.features, 'u32'],
  formats: [PCM_INFO.formats, 'u64'],
  rates: [PCM_INFO.rates, 'u64'],
  direction: [PCM_INFO.direction, 'u8'],
  channelsMin: [PCM_INFO.channelsMin, 'u8'],
  channelsMax: [PCM_INFO.channelsMax, 'u8'],
});

export const encodePcmInfo: Encoder<PcmInfo> = encoderOf(PCM_INFO_TABLE);
export const decodePcmInfo: Decoder<PcmInfo> = decoderOf(PCM_INFO_TABLE);

export interface PcmSetParams {
  streamId: number;
  bufferBytes: number;
  periodBytes: number;
  features: number;
  channels: number;
  format: number;
  rate: number;
}

const PCM_SET_PARAMS_TABLE = table<PcmSetParams>(PCM_SET_PARAMS.size, {
  streamId: [PCM_SET_PARAMS.streamId, 'u32'],
  bufferBytes: [PCM_SET_PARAMS.bufferBytes, 'u32'],
  periodBytes: [PCM_SET_PARAMS.periodBytes, 'u32'],
  features: [PCM_SET_PARAMS.features, 'u32'],
  channels: [PCM_SET_PARAMS.channels, 'u8'],
  format: [PCM_SET_PARAMS.format, 'u8'],
  rate: [PCM_SET_PARAMS.rate, 'u8'],
});

/** virtio_snd_pcm_set_params, request header (`code`) included. */
export function encodePcmSetParams(
  view: DataView,
  off: number,
  p: PcmSetParams,
  code: number,
): void {
  encodeStruct(PCM_SET_PARAMS_TABLE, view, off, p);
  view.setUint32(off + PCM_SET_PARAMS.code, code, true);
}

export function decodePcmSetParams(view: DataView, off: number, out?: PcmSetParams): PcmSetParams {
  return decodeStruct(PCM_SET_PARAMS_TABLE, view, off, out);
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

export function decodeCtlInfo(view: DataView, off: number): CtlInfo {
  const type = view.getUint32(off + CTL_INFO.type, true);
  const v = off + CTL_INFO.value;
  let value: CtlInfoValue = { kind: 'none' };
  if (type === VIRTIO_SND_CTL_TYPE_INTEGER) {
    value = {
      kind: 'integer',
      min: view.getInt32(v, true),
      max: view.getInt32(v + 4, true),
      step: view.getInt32(v + 8, true),
    };
  } else if (type === VIRTIO_SND_CTL_TYPE_INTEGER64) {
    value = {
      kind: 'integer64',
      min: view.getBigInt64(v, true),
      max: view.getBigInt64(v + 8, true),
      step: view.getBigInt64(v + 16, true),
    };
  } else if (type === VIRTIO_SND_CTL_TYPE_ENUMERATED) {
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

const EVENT_TABLE = table<SndEvent>(EVENT.size, {
  code: [EVENT.code, 'u32'],
  data: [EVENT.data, 'u32'],
});

export const encodeEvent: Encoder<SndEvent> = encoderOf(EVENT_TABLE);
export const decodeEvent: Decoder<SndEvent> = decoderOf(EVENT_TABLE);
