/**
 * Fuzz case: the renderer's I/O intake (IoQueue) and PcmRenderer.process()
 * under hostile TX/RX messages. Streams set up with any format, channels
 * and rate; messages whose payload is 1 to 66 segments, distinct, aliased to
 * one address, overlapping, over the header or the rings, of sizes up to
 * 2^26 bytes each (in the "big" memory, a 64 MiB arena: 64 aliased segments
 * add up to 2^32), with the status split or short, the wrong direction, an
 * unknown stream, an indirect table; held heads republished; render quanta
 * with full-scale input; PCM commands at any time.
 *
 * Invariants (beyond the Oracle's, with the arena sampled):
 *  - process() returns true, renderer.faults stays 0, every output sample
 *    is finite and within [-1, 1];
 *  - a TX message completed OK by process() was playable in the time since
 *    it was published (its payload's frames at most what that many quanta
 *    consume), and an RX message's used length covers no more than that
 *    many quanta could capture;
 *  - a completion's status is OK, BAD_MSG or IO_ERR (where unambiguous);
 *  - every stream's queuedBytes >= 0 and its frame count within what the
 *    quanta since the case began could play or capture.
 */

import type { DeviceStats } from '../../src/device/control/stats.ts';
import {
  PCM_FORMAT_INFO,
  PCM_RATE_HZ,
  VIRTIO_SND_R_PCM_PREPARE,
  VIRTIO_SND_R_PCM_RELEASE,
  VIRTIO_SND_R_PCM_SET_PARAMS,
  VIRTIO_SND_R_PCM_START,
  VIRTIO_SND_R_PCM_STOP,
  VIRTIO_SND_S_BAD_MSG,
  VIRTIO_SND_S_IO_ERR,
  VIRTIO_SND_S_OK,
} from '../../src/snd/protocol.ts';
import type { Codec } from './bytes.ts';
import { features } from './control-case.ts';
import { type DeviceHarness, deviceHarness, type Features } from './device-harness.ts';
import { check, fail, tolerate } from './known-defects.ts';
import { RINGS_END, ringBase, type Seg } from './rings.ts';
import { edgyU32, listedOr, place, type SegShape, segShape } from './shapes.ts';

const QUANTUM = 128;
const CONTEXT_RATE = 48000;
export const SMALL_MEM = 64 << 10;
/** The big memory: the 64 KiB small region, then a 64 MiB payload arena. */
export const ARENA = 64 << 20;
export const BIG_MEM = SMALL_MEM + ARENA;
/** Frames a stream may consume beyond its rate's share of the quanta (resampler look-ahead). */
const SLACK_FRAMES = 1024;

export interface StreamSetup {
  format: number;
  channels: number;
  /** VIRTIO_SND_PCM_RATE_* index. */
  rate: number;
  periodBytes: number;
  periods: number;
  start: boolean;
}

export type Fill = 'zero' | 'noise' | 'full';

export type IoOp =
  | {
      k: 'msg';
      q: 2 | 3;
      stream: number;
      hdr: number;
      payload: SegShape;
      /** Payload device-writable on TX / readable on RX. */
      wrongDir: boolean;
      status: number;
      /** The status split over two descriptors (3 + the rest). */
      split: boolean;
      indirect: boolean;
      fill: Fill;
    }
  | { k: 'process'; n: number; level: number }
  | { k: 'cmd'; code: number; stream: number }
  /** Republishes a head the device holds on queue q (a guest reusing it too soon). */
  | { k: 'dup'; q: 2 | 3; pick: number };

export interface IoCase {
  big: boolean;
  features: Features;
  out: StreamSetup;
  in: StreamSetup;
  ops: IoOp[];
}

export const FORMATS = PCM_FORMAT_INFO.map((_, i) => i);
const PERIOD_BYTES: readonly number[] = [1, 2, 4, 8, 16, 64, 512, 1024, 4096];
const SMALL_LENS: readonly number[] = [1, 2, 3, 4, 6, 8, 12, 16, 128, 256, 512, 1024, 4096, 0x7ff8];
/** 2^25 * 64 = 2^31, 2^26 * 64 = 2^32: sums near both edges. */
const BIG_LENS: readonly number[] = [
  4, 1024, 0x1ffffff, 0x2000000, 0x2000004, 0x2000400, 0x3fffffc, 0x4000000,
];
const STATUS_LENS: readonly number[] = [8, 8, 8, 0, 4, 7, 9, 16];
const LEVELS: readonly number[] = [0, 0.25, 1, -1, 2];
const COMMANDS: readonly number[] = [
  VIRTIO_SND_R_PCM_PREPARE,
  VIRTIO_SND_R_PCM_START,
  VIRTIO_SND_R_PCM_STOP,
  VIRTIO_SND_R_PCM_RELEASE,
];

function streamSetup(c: Codec, maxChannels: number, v?: StreamSetup): StreamSetup {
  return {
    format: c.pick(FORMATS, v?.format),
    channels: c.range(1, maxChannels, v?.channels),
    // 3 in 4 streams at the context rate: with a resampler, PREPARE's filter design is most of a case.
    rate: listedOr(c, [7, 7, 7], (cc, x) => cc.range(0, PCM_RATE_HZ.length - 1, x), v?.rate),
    periodBytes: listedOr(c, PERIOD_BYTES, (cc, x) => cc.range(1, 65536, x), v?.periodBytes),
    periods: c.range(1, 8, v?.periods),
    start: c.bool(v?.start),
  };
}

const OP_KINDS = ['msg', 'msg', 'msg', 'process', 'process', 'cmd', 'dup'] as const;

export function ioOp(c: Codec, big: boolean, v?: IoOp): IoOp {
  const k = c.pick(OP_KINDS, v?.k);
  switch (k) {
    case 'msg': {
      const m = v?.k === 'msg' ? v : undefined;
      return {
        k,
        q: c.pick([2, 3] as const, m?.q),
        stream: listedOr(c, [0, 1], edgyU32, m?.stream),
        hdr: c.pick([4, 4, 4, 3, 5, 8], m?.hdr),
        payload: segShape(c, 66, big ? BIG_LENS : SMALL_LENS, big ? ARENA : SMALL_MEM, m?.payload),
        wrongDir: c.range(0, 7, m && (m.wrongDir ? 0 : 1)) === 0,
        status: c.pick(STATUS_LENS, m?.status),
        split: c.bool(m?.split),
        indirect: c.bool(m?.indirect),
        fill: c.pick(['zero', 'noise', 'full'] as const, m?.fill),
      };
    }
    case 'process': {
      const p = v?.k === 'process' ? v : undefined;
      return { k, n: c.range(1, 4, p?.n), level: c.pick(LEVELS, p?.level) };
    }
    case 'cmd': {
      const m = v?.k === 'cmd' ? v : undefined;
      return { k, code: c.pick(COMMANDS, m?.code), stream: c.range(0, 1, m?.stream) };
    }
    case 'dup': {
      const d = v?.k === 'dup' ? v : undefined;
      return { k, q: c.pick([2, 3] as const, d?.q), pick: c.u8(d?.pick) };
    }
  }
}

export function ioCase(c: Codec, v?: IoCase): IoCase {
  const big = c.range(0, 3, v && (v.big ? 0 : 1)) === 0;
  const f = features(c, v?.features);
  const out = streamSetup(c, 8, v?.out);
  const inp = streamSetup(c, 2, v?.in);
  const n = c.range(1, 16, v?.ops.length);
  const ops = Array.from({ length: n }, (_, i) => ioOp(c, big, v?.ops[i]));
  return { big, features: f, out, in: inp, ops };
}

// ---- running a case -----------------------------------------------------------

const VALID_IO_STATUS = new Set([VIRTIO_SND_S_OK, VIRTIO_SND_S_BAD_MSG, VIRTIO_SND_S_IO_ERR]);
const le32 = (...words: number[]) => {
  const b = new Uint8Array(4 * words.length);
  const v = new DataView(b.buffer);
  words.forEach((w, i) => {
    v.setUint32(4 * i, w >>> 0, true);
  });
  return b;
};

function setParams(h: DeviceHarness, id: number, s: StreamSetup): number {
  const b = new Uint8Array(24);
  const v = new DataView(b.buffer);
  v.setUint32(0, VIRTIO_SND_R_PCM_SET_PARAMS, true);
  v.setUint32(4, id, true);
  v.setUint32(8, s.periodBytes * s.periods, true);
  v.setUint32(12, s.periodBytes, true);
  v.setUint8(20, s.channels);
  v.setUint8(21, s.format);
  v.setUint8(22, s.rate);
  return h.request(b);
}

/** A message the harness published: what the device may do with it. */
interface Sent {
  q: number;
  /** Payload bytes as the guest laid them out (segments added up, no wrap). */
  payload: number;
  /** Harness quantum count when it was published. */
  quantum: number;
}

/** Frames one quantum may take from (or give to) a stream at `hz`. */
const perQuantum = (hz: number) => Math.ceil((QUANTUM * hz) / CONTEXT_RATE) + 2;

let seed = 1;
function fillPattern(u8: Uint8Array, at: number, len: number, fill: Fill): void {
  if (fill === 'zero') {
    u8.fill(0, at, at + len);
    return;
  }
  for (let i = 0; i < len; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    // Full scale: every byte 0x00/0x7f/0x80/0xff, so any format sees extremes.
    u8[at + i] = fill === 'full' ? [0x00, 0x7f, 0x80, 0xff][seed >>> 30] : seed >>> 24;
  }
}

export function runIoCase(ic: IoCase): void {
  seed = 1;
  const h = ic.big ? deviceHarness(BIG_MEM, SMALL_MEM) : deviceHarness(SMALL_MEM);
  h.oracle.unwatch();
  const faults = h.renderer.faults; // the harness's renderer lives on from case to case
  if (!h.init(ic.features)) fail('a correct init was refused');
  const setups = [ic.out, ic.in];
  const hz = setups.map((s) => PCM_RATE_HZ[s.rate] ?? 0);
  const fb = setups.map((s) =>
    Math.ceil(((PCM_FORMAT_INFO[s.format]?.physBits ?? 0) * s.channels) / 8),
  );
  setups.forEach((s, id) => {
    if (setParams(h, id, s) !== VIRTIO_SND_S_OK) return;
    if (h.request(le32(VIRTIO_SND_R_PCM_PREPARE, id)) !== VIRTIO_SND_S_OK) return;
    if (s.start) h.request(le32(VIRTIO_SND_R_PCM_START, id));
  });
  const sent = new Map<string, Sent>();
  let quantum = 0;
  let sentBytes = 0;
  let huge = false; // 2^31 payload bytes or more were sent (one message, or queued together)
  let arenaPtr = SMALL_MEM;
  const arenaBuf = (len: number) => {
    if (arenaPtr + len > BIG_MEM) arenaPtr = SMALL_MEM;
    const a = arenaPtr;
    arenaPtr += (len + 7) & ~7;
    return a;
  };
  const out = [new Float32Array(QUANTUM), new Float32Array(QUANTUM)];
  const input = [new Float32Array(QUANTUM), new Float32Array(QUANTUM)];

  /** Completions of the last oracle step: sizes and statuses. */
  const checkCompletions = (inProcess: boolean) => {
    for (const u of h.oracle.takeUsed()) {
      if (u.q < 2) continue;
      const m = sent.get(`${u.q}:${u.id}`);
      sent.delete(`${u.q}:${u.id}`);
      if (!m || u.writable === null || u.len < 8) continue;
      const w = u.writable;
      if (h.rings.ambiguous(u.q, u.id, w)) continue; // the status may have been overwritten
      const status = statusOf(h, w, u.writableBytes);
      if (!VALID_IO_STATUS.has(status))
        fail(`queue ${u.q} message completed with status 0x${status.toString(16)}`);
      if (status !== VIRTIO_SND_S_OK || !inProcess) continue;
      const stream = u.q === 2 ? 0 : 1;
      const quanta = quantum - m.quantum;
      const maxBytes = (quanta * perQuantum(hz[stream]) + SLACK_FRAMES) * fb[stream];
      const done = u.q === 2 ? m.payload : u.len - 8;
      check(
        done <= maxBytes,
        `queue ${u.q}: a ${m.payload}-byte message completed OK with ${done} bytes ${u.q === 2 ? 'played' : 'captured'} after ${quanta} quanta (at most ${maxBytes})`,
        huge ? 'io-size-overflow' : undefined,
      );
    }
  };
  const checkStats = () => {
    const st: DeviceStats = h.device.stats();
    for (const s of st.streams) {
      const maxFrames = quantum * perQuantum(hz[s.id]) + SLACK_FRAMES;
      check(
        s.queuedBytes >= 0,
        `stream ${s.id} queuedBytes ${s.queuedBytes}`,
        huge ? 'io-size-overflow' : undefined,
      );
      check(
        s.frames <= maxFrames,
        `stream ${s.id} frames ${s.frames} > ${maxFrames}`,
        huge ? 'io-size-overflow' : undefined,
      );
    }
  };

  for (const op of ic.ops) {
    switch (op.k) {
      case 'msg': {
        const hdr = h.buf(Math.max(op.hdr, 4));
        h.mem.writeU32(hdr, op.stream);
        const payloadWritable = op.q === 3 ? !op.wrongDir : op.wrongDir;
        const bufFn = ic.big && op.payload.len > 0x7ff8 ? arenaBuf : (n: number) => h.buf(n);
        const payload = place(
          op.payload,
          { buf: bufFn, requestAt: hdr, ringAt: ringBase(op.q) },
          payloadWritable,
        );
        // The harness writes at most 8 KiB at the start of each buffer: the renderer reads little per
        // quantum. In the arena the oracle watches those and each buffer's last and next bytes.
        const filled = new Set<number>();
        for (const s of payload) {
          if (s.addr >= SMALL_MEM && !filled.has(s.addr)) {
            h.oracle.watch(s.addr - 256, Math.min(s.len, 8192) + 256);
            h.oracle.watch(s.addr + s.len - 256, 512);
          }
          if (s.write || filled.has(s.addr) || s.addr < RINGS_END || s.addr >= h.mem.size) continue;
          filled.add(s.addr);
          fillPattern(h.mem.u8, s.addr, Math.min(s.len, 8192, h.mem.size - s.addr), op.fill);
        }
        const segs: Seg[] = [{ addr: hdr, len: op.hdr, write: false }, ...payload];
        if (op.status > 0) {
          if (op.split && op.status > 3) {
            segs.push({ addr: h.buf(3), len: 3, write: true });
            segs.push({ addr: h.buf(op.status - 3), len: op.status - 3, write: true });
          } else segs.push({ addr: h.buf(op.status), len: op.status, write: true });
        }
        // Readable descriptors must come first to make a chain at all.
        segs.sort((a, b) => Number(a.write) - Number(b.write));
        const payloadBytes = payload.reduce((n, s) => n + s.len, 0);
        const head = h.rings.chain(op.q, segs, op.indirect ? h.buf(16 * segs.length) : undefined);
        if (head < 0) break;
        sentBytes += payloadBytes;
        if (sentBytes >= 2 ** 31) huge = true;

        sent.set(`${op.q}:${head}`, { q: op.q, payload: payloadBytes, quantum });
        break;
      }
      case 'process':
        // With 2^31 bytes queued, the wrapped sizes send the renderer through
        // ~10^9 frames in one quantum (seconds): that shape waits for the fix.
        if (huge && tolerate('io-size-overflow')) return;
        input[0].fill(op.level);
        input[1].fill(-op.level);
        for (let i = 0; i < op.n; i++) {
          quantum++;
          if (h.process([input], [out]) !== true) fail('process() did not return true');
          checkCompletions(true);
          check(h.renderer.faults === faults, 'an exception was caught inside process()');
          const resampled = setups.some(
            (_, id) => hz[id] !== CONTEXT_RATE && h.device.streamState(id) === 'running',
          );
          for (const ch of out) {
            for (let f = 0; f < QUANTUM; f++) {
              const x = ch[f];
              if (!Number.isFinite(x)) fail(`output sample ${x}`);
              if (x > 1 || x < -1) {
                check(
                  false,
                  `output sample ${x} outside [-1, 1]`,
                  resampled ? 'resampled-overshoot' : undefined,
                );
                break;
              }
            }
          }
          checkStats();
        }
        break;
      case 'cmd':
        h.request(le32(op.code, op.stream));
        checkCompletions(false);
        break;
      case 'dup': {
        const head = h.rings.someHeld(op.q, op.pick);
        if (head >= 0) h.rings.publish(op.q, head);
        break;
      }
    }
  }
}

/** The status word of an I/O message: the first 4 of its last 8 writable bytes. */
function statusOf(h: DeviceHarness, w: [number, number][], total: number): number {
  let skip = total - 8;
  let v = 0;
  let k = 0;
  for (const [a, l] of w) {
    if (skip >= l) {
      skip -= l;
      continue;
    }
    for (let j = skip; j < l && k < 4; j++) v |= h.mem.u8[a + j] << (8 * k++);
    skip = 0;
    if (k === 4) break;
  }
  return v >>> 0;
}
