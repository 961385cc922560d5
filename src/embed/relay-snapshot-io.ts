/**
 * The relay's guest messages in a snapshot: every Relayed record ('RMSG':
 * its queue, its walked chain's segments, its stream, whether it carries a
 * period buffer being watched, its inner copy), where each one is ('HOLD':
 * held back per stream, with the hold-back's detection state, then the TX
 * and RX backlogs; the inner queues name theirs by token), and the
 * completions withheld from the guest ('GATE').
 *
 * Reading checks each record as the chain walker checked it when the relay
 * took it (segments inside guest memory, not empty, at most a chain's worth,
 * room for a status), and that the hold-back's state is one a run could
 * have left; relay-snapshot.ts checks the records are where they say, each
 * exactly once.
 */

import {
  SnapshotError,
  type SnapshotReader,
  type SnapshotWriter,
} from '../snapshot/snapshot-format.ts';
import { PCM_STATUS, PCM_XFER, VIRTIO_SND_VQ_RX, VIRTIO_SND_VQ_TX } from '../snd/protocol.ts';
import { DescriptorChain } from '../virtio/chain.ts';
import type { GuestMemory } from '../virtio/memory.ts';
import type { GateState } from './completion-gate.ts';
import type { GuestCompletion, Relayed } from './relayed.ts';
import type { TxMode, TxStreamState } from './tx-holdback.ts';

/** Segments the relay's chain walker takes per chain (GuestRings' DescriptorChain). */
export const MAX_SEGMENTS = 256;
/** Most records a snapshot may hold: two guest queues of at most 32768 entries. */
const MAX_RECORDS = 65536;
/** Most guest buffers the hold-back remembers per stream. */
const MAX_WATCHED = 1 << 20;

export function writeRecords(w: SnapshotWriter, records: readonly Relayed[]): void {
  w.u32(records.length);
  for (const rel of records) {
    const c = rel.chain;
    w.u8(rel.q).u16(c.head).u32(c.readCount).u32(c.writeCount);
    for (let i = 0; i < c.readCount; i++) w.u53(c.readAddr[i]).u32(c.readLen[i]);
    for (let i = 0; i < c.writeCount; i++) w.u53(c.writeAddr[i]).u32(c.writeLen[i]);
    w.i32(rel.stream).bool(rel.buffer >= 0);
    w.bool(rel.inner >= 0).u53(Math.max(0, rel.inner));
  }
}

/**
 * Reads the records, each checked against guest memory, the guest queue
 * sizes (`queueSize(q)`, 0 when not ready) and the number of streams.
 */
export function readRecords(
  r: SnapshotReader,
  mem: GuestMemory,
  queueSize: (q: number) => number,
  streams: number,
): Relayed[] {
  const n = r.count(MAX_RECORDS, 'relayed messages', 28);
  const out: Relayed[] = [];
  for (let k = 0; k < n; k++) {
    const what = `message ${k}`;
    const q = r.u8();
    if (q !== VIRTIO_SND_VQ_TX && q !== VIRTIO_SND_VQ_RX) throw r.invalid(`${what}: queue ${q}`);
    const head = r.u16();
    if (head >= queueSize(q)) {
      throw new SnapshotError('index-out-of-range', `${what}: head ${head} beyond queue ${q}`);
    }
    const readCount = r.u32();
    const writeCount = r.u32();
    if (readCount < 1 || writeCount < 1 || readCount + writeCount > MAX_SEGMENTS) {
      throw r.invalid(`${what}: ${readCount} readable and ${writeCount} writable segments`);
    }
    const c = new DescriptorChain(Math.max(readCount, writeCount));
    c.clear(head);
    const segment = (addrs: Float64Array, lens: Uint32Array, i: number): number => {
      const addr = r.u53(`${what} address`);
      const len = r.u32();
      if (len === 0) throw r.invalid(`${what}: an empty segment`);
      if (!mem.contains(addr, len)) {
        throw new SnapshotError('address-out-of-range', `${what}: a segment outside guest memory`);
      }
      addrs[i] = addr;
      lens[i] = len;
      return len;
    };
    for (let i = 0; i < readCount; i++) c.readBytes += segment(c.readAddr, c.readLen, i);
    for (let i = 0; i < writeCount; i++) c.writeBytes += segment(c.writeAddr, c.writeLen, i);
    c.readCount = readCount;
    c.writeCount = writeCount;
    if (c.writeBytes < PCM_STATUS.size) throw r.invalid(`${what}: no room for a status`);
    const stream = r.i32();
    if (stream < -1 || stream >= streams) {
      throw new SnapshotError('index-out-of-range', `${what}: stream ${stream}`);
    }
    const payload = Math.max(0, c.readBytes - PCM_XFER.size);
    const watched = r.bool('watched');
    if (watched && (q !== VIRTIO_SND_VQ_TX || stream < 0 || payload === 0)) {
      throw r.invalid(`${what}: a watched buffer on no TX period`);
    }
    const handed = r.bool('handed over');
    const inner = r.u53(`${what} inner copy`);
    if (!handed && inner !== 0) throw r.invalid(`${what}: an inner copy not handed over`);
    out.push({
      q,
      chain: c,
      stream,
      payload,
      buffer: watched ? c.readableAddr(PCM_XFER.size) : -1,
      inner: handed ? inner : -1,
    });
  }
  r.end();
  return out;
}

/** The hold-back and backlogs, records as indices into the records. */
export interface Placement {
  holdback: TxStreamState<number>[];
  /** TX's and RX's backlogs. */
  backlog: [number[], number[]];
}

const MODES: readonly TxMode[] = ['late', 'at-once'];

export function writePlacement(w: SnapshotWriter, p: Placement): void {
  w.u32(p.holdback.length);
  for (const s of p.holdback) {
    w.u8(MODES.indexOf(s.mode)).u32(s.fresh).u53(s.handed);
    w.u32(s.held.length);
    for (const k of s.held) w.u32(k);
    w.u32(s.atCompletion.length);
    for (const [addr, sig] of s.atCompletion) w.u53(addr).u32(sig);
  }
  for (const b of p.backlog) {
    w.u32(b.length);
    for (const k of b) w.u32(k);
  }
}

/** Reads the placement; each index is checked against `records` (not yet for uniqueness). */
export function readPlacement(r: SnapshotReader, records: number, streams: number): Placement {
  const n = r.count(streams, 'hold-back streams', 21);
  if (n !== streams) throw new SnapshotError('config-mismatch', `${n} streams, want ${streams}`);
  const refs = (what: string) => {
    const k = r.count(records, what, 4);
    const out: number[] = [];
    for (let i = 0; i < k; i++) out.push(r.index(records, what));
    return out;
  };
  const holdback: TxStreamState<number>[] = [];
  for (let s = 0; s < n; s++) {
    const m = r.u8();
    if (m >= MODES.length) throw r.invalid(`stream ${s}: hold-back mode ${m}`);
    const fresh = r.u32();
    const handed = r.u53('bytes handed over');
    const held = refs(`stream ${s} held messages`);
    const w = r.count(MAX_WATCHED, 'watched buffers', 12);
    const atCompletion: [number, number][] = [];
    for (let i = 0; i < w; i++) atCompletion.push([r.u53('buffer'), r.u32()]);
    holdback.push({ mode: MODES[m], fresh, handed, held, atCompletion });
  }
  const backlog: [number[], number[]] = [refs('TX backlog'), refs('RX backlog')];
  r.end();
  return { holdback, backlog };
}

export function writeGate(w: SnapshotWriter, gates: readonly GateState<GuestCompletion>[]): void {
  w.u32(gates.length);
  for (const g of gates) {
    w.u32(g.since).f64(g.waitingFrom).u32(g.waiting.length);
    for (const c of g.waiting) w.u8(c.q).u16(c.head).u32(c.len);
  }
}

/**
 * Reads the completion gate: each withheld completion on the queue of its
 * stream's direction (`output(s)`), for a head of that guest queue.
 */
export function readGate(
  r: SnapshotReader,
  streams: number,
  output: (stream: number) => boolean,
  queueSize: (q: number) => number,
): GateState<GuestCompletion>[] {
  const n = r.count(streams, 'gated streams', 16);
  if (n !== streams) throw new SnapshotError('config-mismatch', `${n} streams, want ${streams}`);
  const out: GateState<GuestCompletion>[] = [];
  for (let s = 0; s < n; s++) {
    const since = r.u32();
    const waitingFrom = r.f64();
    if (!Number.isFinite(waitingFrom))
      throw r.invalid(`stream ${s}: withheld since ${waitingFrom}`);
    const k = r.count(MAX_RECORDS, 'withheld completions', 7);
    const want = output(s) ? VIRTIO_SND_VQ_TX : VIRTIO_SND_VQ_RX;
    const waiting: GuestCompletion[] = [];
    for (let i = 0; i < k; i++) {
      const q = r.u8();
      const head = r.u16();
      const len = r.u32();
      if (q !== want) throw r.invalid(`stream ${s}: a withheld completion on queue ${q}`);
      if (head >= queueSize(q)) {
        throw new SnapshotError('index-out-of-range', `stream ${s}: withheld head ${head}`);
      }
      waiting.push({ q, head, len });
    }
    out.push({ since, waitingFrom, waiting });
  }
  r.end();
  return out;
}
