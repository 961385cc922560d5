/**
 * The fuzzers' oracle: what the device may do to guest memory, checked after
 * every step, independently of the device's own code.
 *
 * Before a device entry point runs, it notes every chain the guest has made
 * available on each ready queue (walking it with its own, simple reference
 * walker) and snapshots guest memory. Afterwards it requires that
 *  - every changed byte lies in a used ring of a configured queue, or in a
 *    device-writable buffer of a chain the guest made available;
 *  - every new used entry names a chain that was available and not yet
 *    returned (each returned exactly once), with a length no larger than the
 *    chain's writable size (0 for a chain the reference walker rejects).
 *
 * It watches any device whose queue state words it can read (a
 * VirtioSndDevice, or the guest side of a RelayDevice): see OracleTarget.
 * Memory beyond `fullBytes` (a harness's multi-MiB payload arena) is compared
 * one word in `sampleStride`, plus in full where the harness asks (watch():
 * around the buffers it gave the device), so a huge guest stays cheap to
 * check; the rings, headers and statuses must lie below `fullBytes`.
 */

import type { VirtioSndDevice } from '../../src/device/control/virtio-snd-device.ts';
import { SharedState } from '../../src/device/shared/layout.ts';
import {
  QF_INDIRECT,
  QS_AVAIL,
  QS_DESC,
  QS_FLAGS,
  QS_LAST_AVAIL,
  QS_READY,
  QS_SIZE,
  QS_USED,
} from '../../src/virtio/device-queue.ts';
import type { GuestMemory } from '../../src/virtio/memory.ts';

/** What the oracle reads of a device: its queues' state words and a reset generation. */
export interface OracleTarget {
  /** The QUEUE_STATE_WORDS words of queue `q` (device-queue.ts). */
  queueState(q: number): Uint32Array;
  /** Changes on every device reset (a reset forgets every chain). */
  generation(): number;
}

/** A VirtioSndDevice's queues, read through its render state (as the worklet does). */
export function deviceTarget(device: VirtioSndDevice): OracleTarget {
  const shared = new SharedState(device.renderState.shared, device.renderState.layout);
  return { queueState: (q) => shared.queueState(q), generation: () => shared.resetGen.load() };
}

export interface OracleOptions {
  /** Bytes from address 0 compared in full (default: all of memory). */
  fullBytes?: number;
  /** Beyond fullBytes, one 32-bit word in this many is compared (default 65536: every 256 KiB). */
  sampleStride?: number;
  /**
   * A used length over the chain's writable size that a known defect excuses
   * (test/fuzz/known-defects.ts); true lets it pass.
   */
  excuseLength?: (q: number, len: number, writable: number) => boolean;
}

/** A used entry the device published during the last step. */
export interface UsedEntry {
  q: number;
  id: number;
  len: number;
  /** The chain's device-writable buffers when it was taken (null: the reference walker rejects it). */
  writable: [number, number][] | null;
  writableBytes: number;
}

interface Chain {
  /** Device-writable buffers, or null when the reference walker rejects the chain. */
  writable: [number, number][] | null;
  writableBytes: number;
}

interface QueueTrack {
  key: string;
  /** Chains the device has taken off the avail ring and not yet returned, by head. */
  pending: Map<number, Chain[]>;
  /** Chains available but not yet taken, walked just before the current step: [avail position, head, chain]. */
  waiting: [number, number, Chain][];
  /** How far along the used ring we have checked entries. */
  usedSeen: number;
  /**
   * The guest gave the device a writable buffer over this queue's rings: used
   * entries may be data the device wrote there, and a chain taken after such
   * a write over the descriptor table or avail ring is not the chain walked
   * before the step; so the queue's used entries are no longer checked (until
   * the queue is set up again).
   */
  blind: boolean;
  /**
   * The buffer was over the descriptor table or avail ring: the device may
   * since have walked chains the oracle never saw, and written where they
   * point; its writes are no longer attributed (until the queue is set up again).
   */
  layoutBlind: boolean;
}

export class OracleError extends Error {
  override name = 'OracleError';
}

/** Reference chain walk (spec 2.7.5): bounded, in memory, readable before writable. */
export function referenceWalk(
  mem: GuestMemory,
  desc: number,
  size: number,
  head: number,
  indirectOk: boolean,
): Chain {
  const bad = { writable: null, writableBytes: 0 };
  if (head >= size) return bad;
  const out: [number, number][] = [];
  let bytes = 0;
  let table = desc;
  let tableSize = size;
  let i = head;
  let steps = 0;
  let total = 0;
  let indirect = false;
  let sawWrite = false;
  for (;;) {
    if (++steps > tableSize) return bad;
    const d = table + 16 * i;
    if (!mem.contains(d, 16)) return bad;
    const addr = mem.readU64(d);
    const len = mem.readU32(d + 8);
    const flags = mem.readU16(d + 12);
    const next = mem.readU16(d + 14);
    if (flags & 4) {
      if (!indirectOk || indirect || flags & 1 || len === 0 || len % 16) return bad;
      if (addr > BigInt(mem.size) || !mem.contains(Number(addr), len)) return bad;
      if (len / 16 > size) return bad;
      table = Number(addr);
      tableSize = len / 16;
      i = 0;
      steps = 0;
      indirect = true;
      continue;
    }
    if (len === 0 || addr > BigInt(mem.size) || !mem.contains(Number(addr), len)) return bad;
    if (++total > size) return bad;
    if (flags & 2) {
      sawWrite = true;
      out.push([Number(addr), len]);
      bytes += len;
    } else if (sawWrite) {
      return bad;
    }
    if (!(flags & 1)) return { writable: out, writableBytes: bytes };
    if (next >= tableSize) return bad;
    i = next;
  }
}

/** Bytes per memcmp block: a native call costs about as much as comparing 1-2 KiB. */
const BLOCK = 4096;

export class Oracle {
  private tracks: QueueTrack[] = [];
  private readonly snapshot: Uint8Array;
  private readonly snapWords: Uint32Array;
  private readonly words: Uint32Array;
  /** The fully compared region in BLOCK-byte pieces, live and snapshot (native memcmp per block). */
  private readonly blocks: Buffer[] = [];
  private readonly snapBlocks: Buffer[] = [];
  private readonly fullWords: number;
  private readonly excuseLength: (q: number, len: number, writable: number) => boolean;
  private readonly stride: number;
  /** Used entries checked so far. */
  returned = 0;
  /** Used entries since the last takeUsed(), for a harness's own checks. */
  private used: UsedEntry[] = [];

  constructor(
    readonly target: OracleTarget,
    readonly mem: GuestMemory,
    opts: OracleOptions = {},
    /** Queues to watch. */
    readonly queues = 4,
  ) {
    const words = mem.size >>> 2;
    this.fullWords = Math.min(words, (opts.fullBytes ?? mem.size) >>> 2);
    this.stride = opts.sampleStride ?? 65536;
    this.excuseLength = opts.excuseLength ?? (() => false);
    this.snapshot = new Uint8Array(mem.size);
    this.snapWords = new Uint32Array(this.snapshot.buffer);
    this.words = new Uint32Array(mem.buffer, 0, words);
    for (let a = 0; a < 4 * this.fullWords; a += BLOCK) {
      const n = Math.min(BLOCK, 4 * this.fullWords - a);
      this.blocks.push(Buffer.from(mem.buffer, a, n));
      this.snapBlocks.push(Buffer.from(this.snapshot.buffer, a, n));
    }
  }

  private queue(q: number) {
    const s = this.target.queueState(q);
    return {
      ready: Atomics.load(s, QS_READY) === 1,
      size: s[QS_SIZE],
      desc: s[QS_DESC],
      avail: s[QS_AVAIL],
      used: s[QS_USED],
      lastAvail: s[QS_LAST_AVAIL],
      indirect: (s[QS_FLAGS] & QF_INDIRECT) !== 0,
    };
  }

  /** A queue's identity: its rings, and the device reset generation (a reset starts it over). */
  private keyOf(c: ReturnType<Oracle['queue']>): string {
    const gen = this.target.generation();
    return c.ready ? `${gen}:${c.size}:${c.desc}:${c.avail}:${c.used}` : '';
  }

  /** Word ranges beyond fullBytes compared in full: [first word, end word). */
  private watched: [number, number][] = [];

  /** Also compare [addr, addr + len) in full from now on (clamped to memory). */
  watch(addr: number, len: number): void {
    const w0 = Math.max(this.fullWords, Math.floor(addr / 4));
    const w1 = Math.min(this.words.length, Math.ceil((addr + len) / 4));
    if (w1 <= w0) return;
    // Kept sorted and merged: aliased buffers ask for the same range many times.
    const all = [...this.watched, [w0, w1] as [number, number]].sort((a, b) => a[0] - b[0]);
    this.watched = [];
    for (const r of all) {
      const last = this.watched[this.watched.length - 1];
      if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
      else this.watched.push([r[0], r[1]]);
    }
  }

  /** Forgets every watch() range (a new case). */
  unwatch(): void {
    this.watched = [];
  }

  /** Chains the device has taken from queue `q` and not returned. */
  held(q: number): number {
    let n = 0;
    for (const list of this.tracks[q]?.pending.values() ?? []) n += list.length;
    return n;
  }

  /** Call before any device entry point. */
  before(): void {
    for (let q = 0; q < this.queues; q++) {
      const c = this.queue(q);
      const key = this.keyOf(c);
      let t = this.tracks[q];
      if (!t || t.key !== key) {
        // (Re)configured or reset: nothing of the old queue can come back.
        t = {
          key,
          pending: new Map(),
          waiting: [],
          usedSeen: c.ready ? this.mem.readU16(c.used + 2) : 0,
          blind: false,
          layoutBlind: false,
        };
        this.tracks[q] = t;
      }
      t.waiting = [];
      if (!c.ready) continue;
      const availIdx = this.mem.readU16(c.avail + 2);
      const n = (availIdx - c.lastAvail) & 0xffff;
      // More than a ring's worth ahead is a broken ring: the device must stop, not consume.
      if (n > c.size) continue;
      // Walk what is waiting now: the guest may have rewritten it since the last step.
      for (let k = 0; k < n; k++) {
        const pos = (c.lastAvail + k) & 0xffff;
        const head = this.mem.readU16(c.avail + 4 + 2 * (pos % c.size));
        t.waiting.push([pos, head, referenceWalk(this.mem, c.desc, c.size, head, c.indirect)]);
      }
    }
    const full = this.fullWords;
    // Refresh only the blocks that changed since the last look (usually a few).
    for (let b = 0; b < this.blocks.length; b++)
      if (!this.blocks[b].equals(this.snapBlocks[b])) this.snapBlocks[b].set(this.blocks[b]);
    for (let w = full; w < this.words.length; w += this.stride) this.snapWords[w] = this.words[w];
    for (const [w0, w1] of this.watched) this.snapWords.set(this.words.subarray(w0, w1), w0);
  }

  /** Call after the device entry point; throws OracleError on a violation. */
  after(what: string): void {
    const usedRings: [number, number][] = [];
    const buffers: [number, number][] = [];
    for (let q = 0; q < this.queues; q++) {
      const c = this.queue(q);
      const t = this.tracks[q];
      if (!c.ready) continue;
      // A queue (re)configured during this step may already have its used ring written.
      usedRings.push([c.used, 6 + 8 * c.size]);
      if (!t || t.key !== this.keyOf(c)) continue;
      // What the device took off the avail ring during this step.
      const taken = (c.lastAvail - (t.waiting[0]?.[0] ?? c.lastAvail)) & 0xffff;
      for (const [, head, chain] of t.waiting.slice(0, taken)) {
        const list = t.pending.get(head) ?? [];
        list.push(chain);
        t.pending.set(head, list);
      }
      for (const list of t.pending.values()) {
        for (const ch of list) if (ch.writable) buffers.push(...ch.writable);
      }
    }
    const allowed = [...usedRings, ...buffers];
    const over = (start: number, end: number) => buffers.some(([a, l]) => a < end && a + l > start);
    let unattributable = false;
    for (let q = 0; q < this.queues; q++) {
      const c = this.queue(q);
      const t = this.tracks[q];
      if (!c.ready || !t || t.key !== this.keyOf(c)) continue;
      t.layoutBlind ||=
        over(c.desc, c.desc + 16 * c.size) || over(c.avail, c.avail + 6 + 2 * c.size);
      unattributable ||= t.layoutBlind;
    }
    // Compare a block at a time (native memcmp: this was most of a case's
    // cost), then a word at a time in changed blocks, then bytes.
    const w32 = this.words;
    const s32 = this.snapWords;
    const full = this.fullWords;
    for (let b = 0; b < this.blocks.length && !unattributable; b++) {
      if (this.blocks[b].equals(this.snapBlocks[b])) continue;
      const end = Math.min(full, (b + 1) * (BLOCK >>> 2));
      for (let w = b * (BLOCK >>> 2); w < end; w++)
        if (w32[w] !== s32[w]) this.changed(w, allowed, what);
    }
    const stride = this.stride;
    for (let w = full; w < w32.length && !unattributable; w += stride)
      if (w32[w] !== s32[w]) this.changed(w, allowed, what);
    for (const [w0, w1] of unattributable ? [] : this.watched)
      for (let w = w0; w < w1; w++) if (w32[w] !== s32[w]) this.changed(w, allowed, what);
    for (let q = 0; q < this.queues; q++) {
      const c = this.queue(q);
      const t = this.tracks[q];
      if (!c.ready || !t || t.key !== this.keyOf(c)) continue;
      const ringEnd = c.used + 6 + 8 * c.size;
      t.blind ||= t.layoutBlind || over(c.used, ringEnd);
      if (t.blind) continue;
      const usedIdx = this.mem.readU16(c.used + 2);
      const n = (usedIdx - t.usedSeen) & 0xffff;
      if (n > c.size) throw new OracleError(`${what}: queue ${q} used.idx jumped by ${n}`);
      for (let k = 0; k < n; k++) {
        const e = c.used + 4 + 8 * ((t.usedSeen + k) % c.size);
        const id = this.mem.readU32(e);
        const len = this.mem.readU32(e + 4);
        const list = t.pending.get(id);
        if (!list || list.length === 0) {
          throw new OracleError(
            `${what}: queue ${q} returned id ${id}, which the device had not taken`,
          );
        }
        const ch = list.shift()!;
        if (list.length === 0) t.pending.delete(id);
        const max = ch.writable ? ch.writableBytes : 0;
        if (len > max && !this.excuseLength(q, len, max))
          throw new OracleError(
            `${what}: queue ${q} id ${id} used length ${len} > writable ${max}`,
          );
        this.returned++;
        this.used.push({ q, id, len, writable: ch.writable, writableBytes: ch.writableBytes });
      }
      t.usedSeen = usedIdx;
    }
  }

  /** The used entries published since the last call. */
  takeUsed(): UsedEntry[] {
    const u = this.used;
    this.used = [];
    return u;
  }

  /** Word `w` changed: each changed byte must be in an allowed range. */
  private changed(w: number, allowed: readonly [number, number][], what: string): void {
    const u8 = this.mem.u8;
    const snap = this.snapshot;
    for (let a = 4 * w; a < 4 * w + 4; a++) {
      if (u8[a] === snap[a]) continue;
      if (!allowed.some(([s, l]) => a >= s && a < s + l)) {
        throw new OracleError(
          `${what}: device wrote guest byte 0x${a.toString(16)} outside any writable buffer or used ring`,
        );
      }
    }
  }

  /** Runs a device entry point under the oracle; any exception escaping it fails the case. */
  step<T>(what: string, f: () => T): T {
    this.before();
    let r: T;
    try {
      r = f();
    } catch (e) {
      throw new OracleError(`${what}: an exception escaped the device: ${(e as Error).stack ?? e}`);
    }
    this.after(what);
    return r;
  }
}
