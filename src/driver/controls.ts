/**
 * Control elements (Linux virtio_kctl.c, VIRTIO_SND_F_CTLS): CTL_INFO and
 * CTL_ENUM_ITEMS at probe, CTL_READ / CTL_WRITE / CTL_TLV_READ on request,
 * and CTL_NOTIFY events delivered to a listener after re-reading the value.
 */

import {
  CTL_HDR,
  CTL_INFO,
  CTL_MAX_COUNT,
  CTL_VALUE,
  ctlValueLength,
  decodeCtlInfo,
  decodeCtlValue,
  encodeCtlValue,
  QUERY_INFO,
  VIRTIO_SND_CTL_ACCESS_READ,
  VIRTIO_SND_CTL_ACCESS_TLV_READ,
  VIRTIO_SND_CTL_ACCESS_WRITE,
  VIRTIO_SND_CTL_EVT_MASK_VALUE,
  VIRTIO_SND_CTL_TYPE_BOOLEAN,
  VIRTIO_SND_CTL_TYPE_BYTES,
  VIRTIO_SND_CTL_TYPE_ENUMERATED,
  VIRTIO_SND_CTL_TYPE_IEC958,
  VIRTIO_SND_CTL_TYPE_INTEGER,
  VIRTIO_SND_CTL_TYPE_INTEGER64,
  VIRTIO_SND_R_CTL_ENUM_ITEMS,
  VIRTIO_SND_R_CTL_INFO,
  VIRTIO_SND_R_CTL_READ,
  VIRTIO_SND_R_CTL_TLV_READ,
  VIRTIO_SND_R_CTL_WRITE,
} from '../snd/protocol.ts';
import type { CardContext } from './card-context.ts';
import { ctlRequest } from './ctl-msg.ts';
import { ArgumentError, DeviceError } from './errors.ts';

export type ControlType = 'boolean' | 'integer' | 'integer64' | 'enumerated' | 'bytes' | 'iec958';

const TYPES: ControlType[] = ['boolean', 'integer', 'integer64', 'enumerated', 'bytes', 'iec958'];

export interface CardControl {
  id: number;
  name: string;
  index: number;
  role: number;
  type: ControlType;
  access: number;
  /** Elements, as ctl_info says. read() and write() take `count` numbers, 176 for iec958 (its bytes). */
  count: number;
  /** Range of each number: ctl_info's for integer and integer64 (exact within +-2^53), 0..1 boolean, 0..255 bytes and iec958. */
  min: number;
  max: number;
  step: number;
  /** Item names of an enumerated control. */
  items: string[];
}

/** CTL_INFO (and ENUM_ITEMS for enumerated elements) for `count` elements. */
export async function queryControls(card: CardContext, count: number): Promise<CardControl[]> {
  if (count === 0) return [];
  const { bytes, view } = ctlRequest(VIRTIO_SND_R_CTL_INFO, QUERY_INFO.size);
  view.setUint32(QUERY_INFO.startId, 0, true);
  view.setUint32(QUERY_INFO.count, count, true);
  view.setUint32(QUERY_INFO.itemSize, CTL_INFO.size, true);
  const r = await card.ctl.send(bytes, 4 + count * CTL_INFO.size);
  if (r.payload.length < count * CTL_INFO.size) throw new DeviceError('CTL_INFO answer too short');
  const info = new DataView(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength);
  const out: CardControl[] = [];
  for (let id = 0; id < count; id++) {
    const c = decodeCtlInfo(info, id * CTL_INFO.size);
    const type = TYPES[c.type];
    if (!type) throw new DeviceError(`control ${id}: undefined type ${c.type}`);
    if (c.count < 1 || c.count > CTL_MAX_COUNT[c.type]) {
      throw new DeviceError(`control ${id} (${c.name}): count ${c.count} out of range for ${type}`);
    }
    const v = c.value;
    const range = (min: number, max: number, step = 1) => ({ min, max, step });
    const ctl: CardControl = {
      id,
      name: c.name,
      index: c.index,
      role: c.role,
      type,
      access: c.access,
      count: c.count,
      // decodeCtlInfo reads the union member the type names (integer64: le64 min/max/step).
      ...(v.kind === 'integer'
        ? range(v.min, v.max, v.step)
        : v.kind === 'integer64'
          ? range(Number(v.min), Number(v.max), Number(v.step))
          : type === 'boolean'
            ? range(0, 1)
            : type === 'bytes' || type === 'iec958'
              ? range(0, 255)
              : range(0, 0)),
      items: [],
    };
    if (c.type === VIRTIO_SND_CTL_TYPE_ENUMERATED && v.kind === 'enumerated') {
      ctl.items = await enumItems(card, id, v.items);
    }
    out.push(ctl);
  }
  return out;
}

async function enumItems(card: CardContext, id: number, items: number): Promise<string[]> {
  if (items === 0 || items > 1024) throw new DeviceError(`control ${id}: ${items} enum items`);
  const { bytes, view } = ctlRequest(VIRTIO_SND_R_CTL_ENUM_ITEMS, CTL_HDR.size);
  view.setUint32(CTL_HDR.controlId, id, true);
  const r = await card.ctl.send(bytes, 4 + items * 64);
  return Array.from({ length: items }, (_, k) => {
    const raw = r.payload.subarray(k * 64, k * 64 + 64);
    const end = raw.indexOf(0);
    return String.fromCharCode(...raw.subarray(0, end < 0 ? 64 : end));
  });
}

export class ControlSet {
  /** Called with a control and its new values after the device notified a change. */
  onChange: ((ctl: CardControl, values: number[]) => void) | null = null;

  constructor(
    private readonly card: CardContext,
    readonly controls: CardControl[],
  ) {}

  find(name: string, index = 0): CardControl | undefined {
    return this.controls.find((c) => c.name === name && c.index === index);
  }

  private get(id: number): CardControl {
    const c = this.controls[id];
    if (!c) throw new ArgumentError(`no control ${id} (the card has ${this.controls.length})`);
    return c;
  }

  async read(id: number): Promise<number[]> {
    const c = this.get(id);
    if (!(c.access & (1 << VIRTIO_SND_CTL_ACCESS_READ)))
      throw new ArgumentError(`${c.name} is not readable`);
    const { bytes, view } = ctlRequest(VIRTIO_SND_R_CTL_READ, CTL_HDR.size);
    view.setUint32(CTL_HDR.controlId, id, true);
    const r = await this.card.ctl.send(bytes, 4 + CTL_VALUE.size);
    if (r.payload.length < CTL_VALUE.size) throw new DeviceError('CTL_READ answer too short');
    const v = new DataView(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength);
    return decodeCtlValue(v, 0, CONTROL_TYPE_CODES[c.type], c.count);
  }

  async write(id: number, values: readonly number[]): Promise<void> {
    const c = this.get(id);
    if (!(c.access & (1 << VIRTIO_SND_CTL_ACCESS_WRITE)))
      throw new ArgumentError(`${c.name} is not writable`);
    const length = ctlValueLength(CONTROL_TYPE_CODES[c.type], c.count);
    if (values.length !== length) throw new ArgumentError(`${c.name} takes ${length} values`);
    for (const x of values) {
      const ok =
        Number.isSafeInteger(x) &&
        (c.type === 'enumerated' ? x >= 0 && x < c.items.length : x >= c.min && x <= c.max);
      if (!ok) throw new ArgumentError(`${c.name}: value ${x} out of range`);
    }
    const { bytes, view } = ctlRequest(VIRTIO_SND_R_CTL_WRITE, CTL_HDR.size + CTL_VALUE.size);
    view.setUint32(CTL_HDR.controlId, id, true);
    encodeCtlValue(view, CTL_HDR.size, CONTROL_TYPE_CODES[c.type], values);
    await this.card.ctl.send(bytes, 4);
  }

  /** CTL_TLV_READ: the element's TLV (e.g. its dB scale). */
  async tlv(id: number, maxBytes = 256): Promise<Uint8Array> {
    const c = this.get(id);
    if (!(c.access & (1 << VIRTIO_SND_CTL_ACCESS_TLV_READ)))
      throw new ArgumentError(`${c.name} has no TLV`);
    const { bytes, view } = ctlRequest(VIRTIO_SND_R_CTL_TLV_READ, CTL_HDR.size);
    view.setUint32(CTL_HDR.controlId, id, true);
    const r = await this.card.ctl.send(bytes, 4 + maxBytes);
    return r.payload;
  }

  /** CTL_NOTIFY arrived: re-read a changed value and tell the listener. */
  async event(id: number, mask: number): Promise<void> {
    const c = this.controls[id];
    if (!c || !(mask & (1 << VIRTIO_SND_CTL_EVT_MASK_VALUE))) return;
    const values = await this.read(id);
    this.onChange?.(c, values);
  }
}

export const CONTROL_TYPE_CODES: Record<ControlType, number> = {
  boolean: VIRTIO_SND_CTL_TYPE_BOOLEAN,
  integer: VIRTIO_SND_CTL_TYPE_INTEGER,
  integer64: VIRTIO_SND_CTL_TYPE_INTEGER64,
  enumerated: VIRTIO_SND_CTL_TYPE_ENUMERATED,
  bytes: VIRTIO_SND_CTL_TYPE_BYTES,
  iec958: VIRTIO_SND_CTL_TYPE_IEC958,
};
