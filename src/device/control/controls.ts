/**
 * Control elements (VIRTIO 1.3, VIRTIO_SND_F_CTLS): CTL_INFO, CTL_ENUM_ITEMS,
 * CTL_READ, CTL_WRITE and the TLV requests, over a small set of elements. The
 * defaults are the mixer a guest expects: Master Playback Volume/Switch and
 * Capture Volume/Switch, in 0.5 dB steps, applied by the renderer. A host may
 * add elements of every type; values are coded as virtio_snd.h codes them
 * (snd/ctl-value.ts).
 */

import {
  CTL_ENUM_ITEM,
  CTL_HDR,
  CTL_INFO,
  CTL_MAX_COUNT,
  CTL_VALUE,
  ctlValueLength,
  decodeCtlValue,
  encodeCtlInfo,
  encodeCtlValue,
  VIRTIO_SND_CTL_ACCESS_READ,
  VIRTIO_SND_CTL_ACCESS_TLV_READ,
  VIRTIO_SND_CTL_ACCESS_WRITE,
  VIRTIO_SND_CTL_ROLE_MUTE,
  VIRTIO_SND_CTL_ROLE_VOLUME,
  VIRTIO_SND_CTL_TYPE_BOOLEAN,
  VIRTIO_SND_CTL_TYPE_BYTES,
  VIRTIO_SND_CTL_TYPE_ENUMERATED,
  VIRTIO_SND_CTL_TYPE_IEC958,
  VIRTIO_SND_CTL_TYPE_INTEGER,
  VIRTIO_SND_CTL_TYPE_INTEGER64,
  VIRTIO_SND_D_INPUT,
  VIRTIO_SND_D_OUTPUT,
  VIRTIO_SND_R_CTL_ENUM_ITEMS,
  VIRTIO_SND_R_CTL_INFO,
  VIRTIO_SND_R_CTL_READ,
  VIRTIO_SND_R_CTL_TLV_COMMAND,
  VIRTIO_SND_R_CTL_TLV_READ,
  VIRTIO_SND_R_CTL_TLV_WRITE,
  VIRTIO_SND_R_CTL_WRITE,
  VIRTIO_SND_S_BAD_MSG,
  VIRTIO_SND_S_NOT_SUPP,
  VIRTIO_SND_S_OK,
} from '../../snd/protocol.ts';
import { answerQueryInfo, queryInfoMaxBytes } from './control-info.ts';
import type { ControlRequest, ControlResponse } from './control-queue.ts';

/** ALSA's SNDRV_CTL_TLVT_DB_SCALE: {min in 0.01 dB, step in 0.01 dB | mute flag}. */
export const TLV_DB_SCALE = 1;
const TLV_DB_SCALE_MUTE = 0x10000;

export interface ControlConfig {
  name: string;
  index?: number;
  /** Encoded role (ROLE << 1 | direction), 0 for undefined. */
  role?: number;
  type: 'boolean' | 'integer' | 'integer64' | 'enumerated' | 'bytes' | 'iec958';
  /** Elements (1 by default; at most 128, 64 for integer64, 512 for bytes, 1 for iec958). */
  count?: number;
  /** integer and integer64 (safe integers): the range and the step (0: any). */
  min?: number;
  max?: number;
  step?: number;
  items?: readonly string[];
  /** Initial values (count of them, 176 bytes for iec958); default min / 0. */
  values?: readonly number[];
  /** A dB scale for integer volumes: value v means minDb + v * stepDb (0.01 dB units). */
  dbScale?: { min: number; step: number; mute: boolean };
}

export const role = (r: number, direction: number): number => (r << 1) | direction;

/** A 0..100 volume at -50..0 dB in 0.5 dB steps, 0 muting (Linux shows it in dB). */
const volume = (name: string, direction: number): ControlConfig => ({
  name,
  role: role(VIRTIO_SND_CTL_ROLE_VOLUME, direction),
  type: 'integer',
  min: 0,
  max: 100,
  step: 1,
  values: [100],
  dbScale: { min: -5000, step: 50, mute: true },
});

/** An on/off switch, on. */
const onOff = (name: string, direction: number): ControlConfig => ({
  name,
  role: role(VIRTIO_SND_CTL_ROLE_MUTE, direction),
  type: 'boolean',
  values: [1],
});

export const DEFAULT_CONTROLS: readonly ControlConfig[] = [
  volume('Master Playback Volume', VIRTIO_SND_D_OUTPUT),
  onOff('Master Playback Switch', VIRTIO_SND_D_OUTPUT),
  volume('Capture Volume', VIRTIO_SND_D_INPUT),
  onOff('Capture Switch', VIRTIO_SND_D_INPUT),
];

const TYPE_CODE = {
  boolean: VIRTIO_SND_CTL_TYPE_BOOLEAN,
  integer: VIRTIO_SND_CTL_TYPE_INTEGER,
  integer64: VIRTIO_SND_CTL_TYPE_INTEGER64,
  enumerated: VIRTIO_SND_CTL_TYPE_ENUMERATED,
  bytes: VIRTIO_SND_CTL_TYPE_BYTES,
  iec958: VIRTIO_SND_CTL_TYPE_IEC958,
} as const;

const isRanged = (t: ControlConfig['type']) => t === 'integer' || t === 'integer64';

interface Element {
  cfg: ControlConfig;
  count: number;
  access: number;
  values: number[];
  tlv: Uint8Array | null;
}

export class ControlConfigError extends RangeError {
  override readonly name = 'ControlConfigError';
}

function buildElement(cfg: ControlConfig, i: number): Element {
  const f = `controls[${i}] (${cfg.name})`;
  const count = cfg.count ?? 1;
  const type = TYPE_CODE[cfg.type];
  if (type === undefined) throw new ControlConfigError(`${f}: unknown type ${cfg.type}`);
  const maxCount = CTL_MAX_COUNT[type];
  if (!Number.isInteger(count) || count < 1 || count > maxCount) {
    throw new ControlConfigError(`${f}: count must be 1..${maxCount}`);
  }
  if (!cfg.name || cfg.name.length > 43 || /[^\x20-\x7e]/.test(cfg.name)) {
    throw new ControlConfigError(`${f}: name must be 1..43 printable ASCII characters`);
  }
  if (cfg.type === 'enumerated' && (!cfg.items || cfg.items.length === 0)) {
    throw new ControlConfigError(`${f}: an enumerated control needs items`);
  }
  if (isRanged(cfg.type)) {
    const { min, max } = cfg;
    const limit = cfg.type === 'integer' ? 2 ** 31 : 2 ** 53;
    const fits = (v: number | undefined) =>
      v !== undefined && Number.isSafeInteger(v) && v >= -limit && v < limit;
    if (!fits(min) || !fits(max) || (min ?? 0) > (max ?? 0)) {
      throw new ControlConfigError(`${f}: an ${cfg.type} control needs min <= max, in range`);
    }
  }
  let access = (1 << VIRTIO_SND_CTL_ACCESS_READ) | (1 << VIRTIO_SND_CTL_ACCESS_WRITE);
  let tlv: Uint8Array | null = null;
  if (cfg.dbScale) {
    access |= 1 << VIRTIO_SND_CTL_ACCESS_TLV_READ;
    tlv = new Uint8Array(16);
    const v = new DataView(tlv.buffer);
    v.setUint32(0, TLV_DB_SCALE, true);
    v.setUint32(4, 8, true);
    v.setInt32(8, cfg.dbScale.min, true);
    v.setUint32(12, (cfg.dbScale.step & 0xffff) | (cfg.dbScale.mute ? TLV_DB_SCALE_MUTE : 0), true);
  }
  const initial = cfg.values ?? [];
  const length = ctlValueLength(type, count);
  const values = Array.from({ length }, (_, k) => initial[k] ?? initial[0] ?? cfg.min ?? 0);
  return { cfg, count, access, values, tlv };
}

export class Controls {
  private readonly elements: Element[];

  constructor(
    private readonly configs: readonly ControlConfig[],
    /** Called after a value changed (by the guest or the host). */
    private readonly onChange: (id: number) => void,
  ) {
    this.elements = configs.map(buildElement);
    const seen = new Set<string>();
    for (const e of this.elements) {
      const key = `${e.cfg.name}\u0000${e.cfg.index ?? 0}`;
      if (seen.has(key)) throw new ControlConfigError(`duplicate control ${e.cfg.name}`);
      seen.add(key);
    }
  }

  get count(): number {
    return this.elements.length;
  }

  /** The longest response (header included) to any CTL_* request. */
  get maxResponseBytes(): number {
    let n = Math.max(queryInfoMaxBytes(this.elements.length), 4 + CTL_VALUE.size);
    for (const e of this.elements) {
      n = Math.max(
        n,
        4 + (e.cfg.items?.length ?? 0) * CTL_ENUM_ITEM.size,
        4 + (e.tlv?.length ?? 0),
      );
    }
    return n;
  }

  reset(): void {
    this.configs.forEach((c, i) => {
      this.elements[i] = buildElement(c, i);
    });
  }

  /** The id of the control named `name` (and index), or -1. */
  find(name: string, index = 0): number {
    return this.elements.findIndex((e) => e.cfg.name === name && (e.cfg.index ?? 0) === index);
  }

  config(id: number): ControlConfig {
    return this.elements[id].cfg;
  }

  values(id: number): readonly number[] {
    return this.elements[id].values;
  }

  /**
   * Linear gain of a volume control (`dbScale`) value, 0 when muted by the
   * scale's mute flag at its minimum.
   */
  static gainOf(cfg: ControlConfig, value: number): number {
    if (!cfg.dbScale) return 1;
    if (cfg.dbScale.mute && value === (cfg.min ?? 0)) return 0;
    const db = (cfg.dbScale.min + (value - (cfg.min ?? 0)) * cfg.dbScale.step) / 100;
    return 10 ** (db / 20);
  }

  /** Checks `values` for control `id`; returns an error text or null. */
  validate(id: number, values: readonly number[]): string | null {
    const e = this.elements[id];
    if (!e) return `no control ${id}`;
    const type = e.cfg.type;
    const length = ctlValueLength(TYPE_CODE[type], e.count);
    if (values.length !== length) return `expects ${length} values`;
    for (const v of values) {
      if (!Number.isSafeInteger(v)) return `value ${v} is not an integer`;
      if (type === 'boolean' && v !== 0 && v !== 1) return `boolean value ${v}`;
      if (type === 'enumerated' && (v < 0 || v >= (e.cfg.items?.length ?? 0))) {
        return `item ${v} out of range`;
      }
      if ((type === 'bytes' || type === 'iec958') && (v < 0 || v > 255)) return `byte ${v}`;
      if (isRanged(type)) {
        const min = e.cfg.min ?? 0;
        if (v < min || v > (e.cfg.max ?? 0)) return `value ${v} outside ${min}..${e.cfg.max}`;
        if (e.cfg.step && (v - min) % e.cfg.step !== 0)
          return `value ${v} not on step ${e.cfg.step}`;
      }
    }
    return null;
  }

  /** Every element's values (snapshots). */
  saveValues(): number[][] {
    return this.elements.map((e) => [...e.values]);
  }

  /** Sets every element's values (checked with validate()) without notifying: a restore is no change. */
  applyValues(values: readonly (readonly number[])[]): void {
    values.forEach((v, id) => {
      this.elements[id].values = [...v];
    });
  }

  /** Host side: sets a control; throws a RangeError naming the problem. */
  set(id: number, values: readonly number[]): void {
    const err = this.validate(id, values);
    if (err) throw new RangeError(`control ${id}: ${err}`);
    this.apply(id, values);
  }

  private apply(id: number, values: readonly number[]): void {
    const e = this.elements[id];
    if (values.every((v, k) => e.values[k] === v)) return;
    e.values = [...values];
    this.onChange(id);
  }

  handle(req: ControlRequest): ControlResponse | undefined {
    switch (req.code) {
      case VIRTIO_SND_R_CTL_INFO:
        return answerQueryInfo(
          req,
          this.elements.length,
          CTL_INFO.size,
          (id, view, off, size) => this.encodeInfo(id, view, off, size),
          [92],
        );
      case VIRTIO_SND_R_CTL_ENUM_ITEMS:
        return this.enumItems(req);
      case VIRTIO_SND_R_CTL_READ:
        return this.read(req);
      case VIRTIO_SND_R_CTL_WRITE:
        return this.write(req);
      case VIRTIO_SND_R_CTL_TLV_READ:
        return this.tlvRead(req);
      case VIRTIO_SND_R_CTL_TLV_WRITE:
      case VIRTIO_SND_R_CTL_TLV_COMMAND:
        return this.tlvWrite(req);
      default:
        return undefined;
    }
  }

  private encodeInfo(id: number, view: DataView, off: number, size: number): void {
    const e = this.elements[id];
    const cfg = e.cfg;
    const info = {
      hdaFnNid: 0,
      role: cfg.role ?? 0,
      type: TYPE_CODE[cfg.type],
      access: e.access,
      count: e.count,
      index: cfg.index ?? 0,
      name: cfg.name,
      value:
        cfg.type === 'integer'
          ? { kind: 'integer' as const, min: cfg.min ?? 0, max: cfg.max ?? 0, step: cfg.step ?? 0 }
          : cfg.type === 'integer64'
            ? {
                kind: 'integer64' as const,
                min: BigInt(cfg.min ?? 0),
                max: BigInt(cfg.max ?? 0),
                step: BigInt(cfg.step ?? 0),
              }
            : cfg.type === 'enumerated'
              ? { kind: 'enumerated' as const, items: cfg.items?.length ?? 0 }
              : { kind: 'none' as const },
    };
    if (size >= CTL_INFO.size) {
      encodeCtlInfo(view, off, info);
      return;
    }
    // size 92: the i386 layout, where the value union follows the name at 68.
    const tmp = new DataView(new ArrayBuffer(CTL_INFO.size));
    encodeCtlInfo(tmp, 0, info);
    for (let k = 0; k < 68; k++) view.setUint8(off + k, tmp.getUint8(k));
    for (let k = 0; k < 24; k++) view.setUint8(off + 68 + k, tmp.getUint8(CTL_INFO.value + k));
  }

  private element(req: ControlRequest, size: number): Element | ControlResponse {
    if (req.bytes.length !== size) return { status: VIRTIO_SND_S_BAD_MSG };
    const e = this.elements[req.view.getUint32(CTL_HDR.controlId, true)];
    return e ?? { status: VIRTIO_SND_S_BAD_MSG };
  }

  private enumItems(req: ControlRequest): ControlResponse {
    const e = this.element(req, CTL_HDR.size);
    if (!('cfg' in e)) return e;
    const items = e.cfg.items;
    if (e.cfg.type !== 'enumerated' || !items) return { status: VIRTIO_SND_S_BAD_MSG };
    if (req.room < 4 + items.length * CTL_ENUM_ITEM.size) return { status: VIRTIO_SND_S_BAD_MSG };
    const payload = new Uint8Array(items.length * CTL_ENUM_ITEM.size);
    items.forEach((s, k) => {
      for (let c = 0; c < s.length && c < CTL_ENUM_ITEM.size - 1; c++) {
        payload[k * CTL_ENUM_ITEM.size + c] = s.charCodeAt(c) & 0x7f;
      }
    });
    return { status: VIRTIO_SND_S_OK, payload };
  }

  private read(req: ControlRequest): ControlResponse {
    const e = this.element(req, CTL_HDR.size);
    if (!('cfg' in e)) return e;
    if ((e.access & (1 << VIRTIO_SND_CTL_ACCESS_READ)) === 0)
      return { status: VIRTIO_SND_S_NOT_SUPP };
    if (req.room < 4 + CTL_VALUE.size) return { status: VIRTIO_SND_S_BAD_MSG };
    const payload = new Uint8Array(CTL_VALUE.size);
    encodeCtlValue(new DataView(payload.buffer), 0, TYPE_CODE[e.cfg.type], e.values);
    return { status: VIRTIO_SND_S_OK, payload };
  }

  private write(req: ControlRequest): ControlResponse {
    const e = this.element(req, CTL_HDR.size + CTL_VALUE.size);
    if (!('cfg' in e)) return e;
    if ((e.access & (1 << VIRTIO_SND_CTL_ACCESS_WRITE)) === 0)
      return { status: VIRTIO_SND_S_NOT_SUPP };
    const id = this.elements.indexOf(e);
    const values = decodeCtlValue(req.view, CTL_HDR.size, TYPE_CODE[e.cfg.type], e.count);
    if (this.validate(id, values)) return { status: VIRTIO_SND_S_BAD_MSG };
    this.apply(id, values);
    return { status: VIRTIO_SND_S_OK };
  }

  private tlvRead(req: ControlRequest): ControlResponse {
    const e = this.element(req, CTL_HDR.size);
    if (!('cfg' in e)) return e;
    if (!e.tlv || (e.access & (1 << VIRTIO_SND_CTL_ACCESS_TLV_READ)) === 0) {
      return { status: VIRTIO_SND_S_NOT_SUPP };
    }
    // Spec: with too little room, write as much as fits and still answer OK.
    return { status: VIRTIO_SND_S_OK, payload: e.tlv.subarray(0, Math.max(0, req.room - 4)) };
  }

  private tlvWrite(req: ControlRequest): ControlResponse {
    if (req.bytes.length < CTL_HDR.size + 8) return { status: VIRTIO_SND_S_BAD_MSG };
    if (!this.elements[req.view.getUint32(CTL_HDR.controlId, true)]) {
      return { status: VIRTIO_SND_S_BAD_MSG };
    }
    // No element of ours has TLV_WRITE or TLV_COMMAND access.
    return { status: VIRTIO_SND_S_NOT_SUPP };
  }
}

export { TYPE_CODE as CONTROL_TYPE_CODE };
