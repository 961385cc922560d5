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

export class Oracle {
  private tracks: QueueTrack[] = [];
  private snapshot: Uint8Array;
  /** Extra ranges the test itself lets the device write (none by default). */
  returned = 0;

  /** The device's private state, read through its render state (as the worklet does). */
  private readonly shared: SharedState;

  constructor(
    readonly device: VirtioSndDevice,
    readonly mem: GuestMemory,
  ) {
    this.shared = new SharedState(device.renderState.shared, device.renderState.layout);
    this.snapshot = new Uint8Array(mem.size);
    this.snapWords = new Uint32Array(this.snapshot.buffer);
    this.words = new Uint32Array(mem.buffer, 0, mem.size >>> 2);
  }

  private readonly snapWords: Uint32Array;
  private readonly words: Uint32Array;

  private queue(q: number) {
    const s = this.shared.queueState(q);
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
    const gen = this.shared.resetGen.load();
    return c.ready ? `${gen}:${c.size}:${c.desc}:${c.avail}:${c.used}` : '';
  }

  /** Call before any device entry point. */
  before(): void {
    for (let q = 0; q < 4; q++) {
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
    this.snapshot.set(this.mem.u8);
  }

  /** Call after the device entry point; throws OracleError on a violation. */
  after(what: string): void {
    const allowed: [number, number][] = [];
    for (let q = 0; q < 4; q++) {
      const c = this.queue(q);
      const t = this.tracks[q];
      if (!c.ready) continue;
      // A queue (re)configured during this step may already have its used ring written.
      allowed.push([c.used, 6 + 8 * c.size]);
      if (!t || t.key !== this.keyOf(c)) continue;
      // What the device took off the avail ring during this step.
      const taken = (c.lastAvail - (t.waiting[0]?.[0] ?? c.lastAvail)) & 0xffff;
      for (const [, head, chain] of t.waiting.slice(0, taken)) {
        const list = t.pending.get(head) ?? [];
        list.push(chain);
        t.pending.set(head, list);
      }
      for (const list of t.pending.values()) {
        for (const ch of list) if (ch.writable) allowed.push(...ch.writable);
      }
    }
    // Compare a word at a time; look at bytes only where a word changed.
    const u8 = this.mem.u8;
    const snap = this.snapshot;
    const w32 = this.words;
    const s32 = this.snapWords;
    for (let w = 0; w < w32.length; w++) {
      if (w32[w] === s32[w]) continue;
      for (let a = 4 * w; a < 4 * w + 4; a++) {
        if (u8[a] === snap[a]) continue;
        if (!allowed.some(([s, l]) => a >= s && a < s + l)) {
          throw new OracleError(
            `${what}: device wrote guest byte 0x${a.toString(16)} outside any writable buffer or used ring`,
          );
        }
      }
    }
    for (let q = 0; q < 4; q++) {
      const c = this.queue(q);
      const t = this.tracks[q];
      if (!c.ready || !t || t.key !== this.keyOf(c)) continue;
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
        if (len > max)
          throw new OracleError(
            `${what}: queue ${q} id ${id} used length ${len} > writable ${max}`,
          );
        this.returned++;
      }
      t.usedSeen = usedIdx;
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
