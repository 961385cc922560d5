/**
 * Fuzz case: the control queue of a VirtioSndDevice, driven through MMIO by
 * a hostile guest. Any request bytes (real codes with edge-valued fields, or
 * raw), split over several descriptors or in an indirect table, with any
 * response buffers: none, tiny, huge, many, aliased to one address,
 * overlapping, over the request, over the queue's own rings. Plus floods of
 * value-changing CTL_WRITEs (CTL_NOTIFY events) with no event buffers, and
 * notify storms.
 *
 * Invariants (beyond the Oracle's: writes only to writable buffers and used
 * rings, each chain returned once within its writable size, no exception
 * escapes):
 *  - every request is answered within its QueueNotify (the control plane is
 *    synchronous), unless the ring broke (then the device needs a reset);
 *  - a chain with fewer than 4 writable bytes gets used length 0; otherwise
 *    >= 4 and, where the response bytes are unambiguous (no aliasing), a
 *    status OK / BAD_MSG / NOT_SUPP, never IO_ERR (a handler threw);
 *  - a response is at most CONTROL_RESPONSE_CAP bytes;
 *  - the event backlog holds at most EVENT_ENTRIES_CAP entries.
 */

import type { EventQueue } from '../../src/device/control/event-queue.ts';
import {
  CTL_VALUE,
  VIRTIO_SND_EVT_CTL_NOTIFY,
  VIRTIO_SND_R_CHMAP_INFO,
  VIRTIO_SND_R_CTL_INFO,
  VIRTIO_SND_R_CTL_WRITE,
  VIRTIO_SND_R_JACK_INFO,
  VIRTIO_SND_R_PCM_INFO,
  VIRTIO_SND_S_BAD_MSG,
  VIRTIO_SND_S_NOT_SUPP,
  VIRTIO_SND_S_OK,
} from '../../src/snd/protocol.ts';
import { MMIO } from '../../src/virtio/mmio.ts';
import type { Codec } from './bytes.ts';
import { type DeviceHarness, deviceHarness, type Features } from './device-harness.ts';
import { CONTROL_RESPONSE_CAP, check, EVENT_ENTRIES_CAP, fail } from './known-defects.ts';
import { ringBase, type Seg } from './rings.ts';
import { edgyU32, listedOr, place, type SegShape, segShape } from './shapes.ts';

export const CONTROL_MEM = 64 << 10;

/** Every request code of virtio_snd.h. */
export const CODES: readonly number[] = [
  0x1, 0x2, 0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x200, 0x300, 0x301, 0x302, 0x303, 0x304,
  0x305, 0x306,
];
const INFO_CODES = new Set([
  VIRTIO_SND_R_JACK_INFO,
  VIRTIO_SND_R_PCM_INFO,
  VIRTIO_SND_R_CHMAP_INFO,
  VIRTIO_SND_R_CTL_INFO,
]);

export type Body =
  | { k: 'raw'; bytes: Uint8Array }
  /** virtio_snd_query_info after the code; `fit`: size made to fill the response room exactly. */
  | { k: 'query'; start: number; count: number; size: number; fit: boolean }
  /** A le32 id after the code (pcm, jack, chmap, ctl headers). */
  | { k: 'hdr'; id: number }
  | {
      k: 'params';
      stream: number;
      buffer: number;
      period: number;
      features: number;
      channels: number;
      format: number;
      rate: number;
    }
  /** virtio_snd_ctl_hdr + a 512-byte virtio_snd_ctl_value starting with `values` (le32). */
  | { k: 'write'; id: number; values: number[] };

export interface Request {
  code: number;
  body: Body;
  /** Readable descriptors the request is split over. */
  split: number;
  resp: SegShape | null;
  indirect: boolean;
}

export type ControlOp =
  | { k: 'req'; req: Request }
  /** `n` CTL_WRITEs of control `id` alternating values a and b. */
  | { k: 'flood'; id: number; a: number; b: number; n: number }
  /** Posts `n` 8-byte event buffers. */
  | { k: 'events'; n: number }
  /** `n` QueueNotify writes for queue `q` with nothing new. */
  | { k: 'storm'; q: number; n: number };

export interface ControlCase {
  features: Features;
  eventBuffers: number;
  ops: ControlOp[];
}

export const RESP_LENS: readonly number[] = [
  1, 2, 3, 4, 5, 8, 12, 16, 20, 24, 28, 32, 36, 68, 92, 96, 100, 120, 128, 516, 4096, 0x7ff8,
];
/**
 * Flood sizes a byte input can ask for. Floods past the event backlog cap
 * (4400+ requests, ~50 ms each uninstrumented) would dominate a libFuzzer
 * corpus; the fast-check property generates those (control.fuzz.test.ts).
 */
const FLOOD_SIZES: readonly number[] = [2, 64, 256];

export function features(c: Codec, v?: Features): Features {
  return { ctls: c.bool(v?.ctls), eventIdx: c.bool(v?.eventIdx), indirect: c.bool(v?.indirect) };
}

const BODY_KINDS = ['raw', 'query', 'hdr', 'params', 'write'] as const;

export function body(c: Codec, v?: Body): Body {
  const k = c.pick(BODY_KINDS, v?.k);
  switch (k) {
    case 'raw': {
      const b = v?.k === 'raw' ? v.bytes : undefined;
      const n = c.range(0, 600, b?.length);
      return { k, bytes: c.bytes(n, b) };
    }
    case 'query': {
      const q = v?.k === 'query' ? v : undefined;
      return {
        k,
        start: edgyU32(c, q?.start),
        count: edgyU32(c, q?.count),
        size: edgyU32(c, q?.size),
        fit: c.bool(q?.fit),
      };
    }
    case 'hdr':
      return { k, id: edgyU32(c, v?.k === 'hdr' ? v.id : undefined) };
    case 'params': {
      const p = v?.k === 'params' ? v : undefined;
      return {
        k,
        stream: edgyU32(c, p?.stream),
        buffer: edgyU32(c, p?.buffer),
        period: edgyU32(c, p?.period),
        features: edgyU32(c, p?.features),
        channels: c.u8(p?.channels),
        format: c.u8(p?.format),
        rate: c.u8(p?.rate),
      };
    }
    case 'write': {
      const w = v?.k === 'write' ? v : undefined;
      const id = edgyU32(c, w?.id);
      const n = c.range(0, 128, w?.values.length);
      const values = Array.from({ length: n }, (_, i) => edgyU32(c, w?.values[i]));
      return { k, id, values };
    }
  }
}

/** The request's bytes: le32 code, then the body (a fitted query's size fills `room`). */
export function requestBytes(code: number, b: Body, room = 0): Uint8Array {
  let out: Uint8Array;
  switch (b.k) {
    case 'raw':
      out = new Uint8Array(4 + b.bytes.length);
      out.set(b.bytes, 4);
      break;
    case 'query':
      out = new Uint8Array(16);
      new DataView(out.buffer).setUint32(4, b.start, true);
      new DataView(out.buffer).setUint32(8, b.count, true);
      new DataView(out.buffer).setUint32(
        12,
        b.fit && b.count > 0 ? Math.floor(Math.max(0, room - 4) / b.count) : b.size,
        true,
      );
      break;
    case 'hdr':
      out = new Uint8Array(8);
      new DataView(out.buffer).setUint32(4, b.id, true);
      break;
    case 'params': {
      out = new Uint8Array(24);
      const v = new DataView(out.buffer);
      v.setUint32(4, b.stream, true);
      v.setUint32(8, b.buffer, true);
      v.setUint32(12, b.period, true);
      v.setUint32(16, b.features, true);
      v.setUint8(20, b.channels);
      v.setUint8(21, b.format);
      v.setUint8(22, b.rate);
      break;
    }
    case 'write': {
      out = new Uint8Array(8 + CTL_VALUE.size);
      const v = new DataView(out.buffer);
      v.setUint32(4, b.id, true);
      b.values.forEach((x, i) => {
        v.setUint32(8 + 4 * i, x, true);
      });
      break;
    }
  }
  new DataView(out.buffer).setUint32(0, code, true);
  return out;
}

/** A request; response buffers of `lens` or up to `maxLen` bytes (the relay's guest is larger). */
export function request(c: Codec, v?: Request, lens = RESP_LENS, maxLen = CONTROL_MEM): Request {
  const code = listedOr(c, CODES, (cc, x) => cc.u32(x), v?.code);
  const b = body(c, v?.body);
  const split = c.range(1, 3, v?.split);
  const hasResp = c.range(0, 7, v === undefined ? undefined : v.resp ? 1 : 0) !== 0;
  const resp = hasResp ? segShape(c, 64, lens, maxLen, v?.resp ?? undefined) : null;
  const indirect = c.bool(v?.indirect);
  return { code, body: b, split, resp, indirect };
}

const OP_KINDS = ['req', 'req', 'req', 'req', 'req', 'flood', 'events', 'storm'] as const;

export function controlOp(c: Codec, v?: ControlOp): ControlOp {
  const k = c.pick(OP_KINDS, v?.k);
  switch (k) {
    case 'req':
      return { k, req: request(c, v?.k === 'req' ? v.req : undefined) };
    case 'flood': {
      const f = v?.k === 'flood' ? v : undefined;
      return {
        k,
        id: c.range(0, 4, f?.id),
        a: c.range(0, 100, f?.a),
        b: c.range(0, 100, f?.b),
        n: listedOr(c, FLOOD_SIZES, (cc, x) => cc.range(1, 256, x), f?.n),
      };
    }
    case 'events':
      return { k, n: c.range(0, 64, v?.k === 'events' ? v.n : undefined) };
    case 'storm': {
      const s = v?.k === 'storm' ? v : undefined;
      return { k, q: c.range(0, 5, s?.q), n: c.range(1, 256, s?.n) };
    }
  }
}

export function controlCase(c: Codec, v?: ControlCase): ControlCase {
  const f = features(c, v?.features);
  const eventBuffers = c.range(0, 16, v?.eventBuffers);
  const n = c.range(1, 16, v?.ops.length);
  const ops = Array.from({ length: n }, (_, i) => controlOp(c, v?.ops[i]));
  return { features: f, eventBuffers, ops };
}

// ---- running a case -----------------------------------------------------------

const VALID_STATUS = new Set([VIRTIO_SND_S_OK, VIRTIO_SND_S_BAD_MSG, VIRTIO_SND_S_NOT_SUPP]);

/** The device's event backlog entries, and how many are CTL_NOTIFY (reaches into EventQueue). */
export function eventEntries(h: { device: unknown }): { entries: number; ctlNotify: number } {
  const ev = (h.device as { events: EventQueue }).events;
  const raw = ev as unknown as { pending: [number, number][]; head: number };
  const entries = ev.queuedEntries;
  let ctlNotify = 0;
  if (entries > EVENT_ENTRIES_CAP) {
    for (let i = raw.head; i < raw.pending.length; i++)
      if (raw.pending[i][0] === VIRTIO_SND_EVT_CTL_NOTIFY) ctlNotify++;
  }
  return { entries, ctlNotify };
}

export function checkEventBacklog(h: { device: unknown }): void {
  const { entries, ctlNotify } = eventEntries(h);
  if (entries <= EVENT_ENTRIES_CAP) return;
  check(
    false,
    `device event backlog holds ${entries} entries (${ctlNotify} CTL_NOTIFY) > ${EVENT_ENTRIES_CAP}`,
    entries - ctlNotify <= EVENT_ENTRIES_CAP ? 'ctl-notify-cap' : undefined,
  );
}

/** The le32 at byte `offset` of a chain's writable part, read across its buffers. */
export function readWritable(
  h: { mem: { u8: Uint8Array } },
  w: [number, number][],
  offset: number,
): number {
  let v = 0;
  let k = 0;
  let skip = offset;
  for (const [a, l] of w) {
    for (let j = 0; j < l && k < 4; j++) {
      if (skip > 0) {
        skip--;
        continue;
      }
      v |= h.mem.u8[a + j] << (8 * k++);
    }
  }
  return v >>> 0;
}

/** Checks the control answers of the last step. */
function checkAnswers(h: DeviceHarness, codes: Map<number, number>): void {
  for (const u of h.oracle.takeUsed()) {
    if (u.q !== 0) continue;
    const code = codes.get(u.id);
    codes.delete(u.id);
    if (u.writable === null) continue; // a chain the device had to refuse: length 0 (the oracle checked)
    if (u.writableBytes < 4) {
      check(
        u.len === 0,
        `control chain with ${u.writableBytes} writable bytes answered with length ${u.len}`,
      );
      continue;
    }
    check(u.len >= 4, `control request 0x${code?.toString(16)} answered with length ${u.len}`);
    check(
      u.len <= CONTROL_RESPONSE_CAP,
      `control request 0x${code?.toString(16)}: ${u.len}-byte response (writable ${u.writableBytes}) > ${CONTROL_RESPONSE_CAP}`,
      code !== undefined && INFO_CODES.has(code) ? 'info-amplification' : undefined,
    );
    const w = u.writable;
    if (h.rings.ambiguous(0, u.id, w)) continue; // the status may have been overwritten
    const status = readWritable(h, w, 0);
    if (!VALID_STATUS.has(status)) {
      fail(
        `control request 0x${code?.toString(16)} answered with status 0x${status.toString(16)}${status === 0x8003 ? ' (IO_ERR: a request handler threw)' : ''}`,
      );
    }
  }
}

/** Runs a case; throws on a finding. */
export function runControlCase(cc: ControlCase): void {
  const h = deviceHarness(CONTROL_MEM);
  if (!h.init(cc.features)) fail('a correct init was refused');
  const codes = new Map<number, number>();
  const postEvents = (n: number) => {
    for (let i = 0; i < n && h.rings.freeCount(1) > 0; i++)
      h.rings.chain(1, [{ addr: h.buf(8), len: 8, write: true }]);
    h.notify(1);
  };
  postEvents(cc.eventBuffers);
  /** After a kick: every control chain answered, or the ring broke. */
  const settled = (): boolean => {
    checkAnswers(h, codes);
    checkEventBacklog(h);
    if (h.rings.heldCount(0) === 0) return true;
    check(h.needsReset, `${h.rings.heldCount(0)} control requests not answered`);
    return false;
  };
  for (const op of cc.ops) {
    switch (op.k) {
      case 'req': {
        const r = op.req;
        const bytes = requestBytes(r.code, r.body, r.resp ? r.resp.count * r.resp.len : 0);
        const at = h.buf(bytes.length);
        h.mem.write(at, bytes);
        const segs: Seg[] = [];
        const pieces = Math.min(r.split, bytes.length);
        for (let i = 0, off = 0; i < pieces; i++) {
          const len = i + 1 === pieces ? bytes.length - off : Math.ceil(bytes.length / pieces);
          if (len > 0) segs.push({ addr: at + off, len, write: false });
          off += len;
        }
        if (r.resp)
          segs.push(...place(r.resp, { buf: (n) => h.buf(n), requestAt: at, ringAt: ringBase(0) }));
        if (segs.length === 0) continue;
        const head = h.rings.chain(0, segs, r.indirect ? h.buf(16 * segs.length) : undefined);
        if (head < 0) continue;
        codes.set(head, r.code);
        h.notify(0);
        if (!settled()) return;
        break;
      }
      case 'flood': {
        const mk = (x: number) =>
          requestBytes(VIRTIO_SND_R_CTL_WRITE, { k: 'write', id: op.id, values: [x] });
        const reqA = h.buf(mk(op.a).length);
        h.mem.write(reqA, mk(op.a));
        const reqB = h.buf(mk(op.b).length);
        h.mem.write(reqB, mk(op.b));
        const resp = h.buf(4);
        for (let i = 0; i < op.n; ) {
          for (; i < op.n && h.rings.freeCount(0) >= 2; i++) {
            const head = h.rings.chain(0, [
              { addr: i & 1 ? reqB : reqA, len: 8 + CTL_VALUE.size, write: false },
              { addr: resp, len: 4, write: true },
            ]);
            codes.set(head, VIRTIO_SND_R_CTL_WRITE);
          }
          h.notify(0);
          if (!settled()) return;
        }
        break;
      }
      case 'events':
        postEvents(op.n);
        checkEventBacklog(h);
        break;
      case 'storm':
        // One oracle step: nothing new is made available during the storm.
        h.oracle.step(`${op.n} notifies of queue ${op.q}`, () => {
          for (let i = 0; i < op.n; i++) h.transport.write(MMIO.QueueNotify, op.q, 4);
        });
        h.rings.collect(0);
        h.rings.collect(1);
        if (!settled()) return;
        break;
    }
  }
}
