/**
 * How fast the relay tells the guest that its I/O messages completed: never
 * a whole buffer's worth before the guest has shown it took in the last ones.
 *
 * Why: Linux 6.8 and later (the ack callback) derive the PCM position from a
 * hardware pointer that wraps at the buffer size (snd_pcm_indirect_*_pointer):
 * if every period of the buffer completes between two reads of it, the
 * pointer is back where it was, the driver counts no progress, and the
 * stream stops for good ("no period in time", then -EIO). Hardware and a
 * device on a fast host complete one period per interrupt; a guest in an
 * emulator in a browser may not run its pointer work for tens of ms while
 * the audio clock, which comes in bursts, completes period after period. With
 * 3 x 256 frames (16 ms) that happened within seconds.
 *
 * So per stream, after periods - 1 completions with no new message from the
 * guest for that stream (a guest sends one only after reading the position),
 * further completions wait here, in order, until the guest sends a message or
 * `releaseMs` passes on the audio clock (a guest that drains sends nothing
 * more, and its pointer work has had that long to run). One period, not
 * more: the last completion of a drain is withheld when the device runs dry,
 * and the guest's STOP must still reach the device within its grace of two
 * periods (XRUN_GRACE_PERIODS) for the end of a stream not to count as an
 * xrun. The audio is not
 * delayed: the inner device played those periods on time; only the guest
 * hears of it a little later.
 */

import type { StreamView } from '../device/index.ts';

/** Waits at least this long for the guest before giving it a withheld completion. */
const MIN_RELEASE_MS = 10;

/** One stream's gate as plain values (snapshots). */
export interface GateState<T> {
  since: number;
  waiting: T[];
  waitingFrom: number;
}

interface Gate<T> {
  /** Completions given since the guest last sent a message for the stream. */
  since: number;
  waiting: T[];
  /** When the oldest waiting completion was withheld (ms). */
  waitingFrom: number;
}

export class CompletionGate<T> {
  private readonly gates: Gate<T>[];

  constructor(
    private readonly views: readonly StreamView[],
    /** The clock (ms) release times are measured on. */
    private readonly now: () => number = () => performance.now(),
  ) {
    this.gates = views.map(() => ({ since: 0, waiting: [], waitingFrom: 0 }));
  }

  /** Completions the guest may be given for `stream` before it shows it read them; 0: no limit. */
  private limit(stream: number): number {
    const v = this.views[stream];
    if (!v || v.periodBytes <= 0) return 0;
    const periods = Math.floor(v.bufferBytes / v.periodBytes);
    return periods >= 2 ? periods - 1 : 0;
  }

  /** How long a withheld completion of `stream` waits at most (ms): a period, at least 10 ms. */
  releaseMs(stream: number): number {
    const v = this.views[stream];
    const bytesPerMs = (v.rateHz * v.frameBytes) / 1000;
    return Math.max(MIN_RELEASE_MS, bytesPerMs > 0 ? v.periodBytes / bytesPerMs : 0);
  }

  /**
   * A completion of a message of `stream` (-1: none of ours) is ready. True:
   * give it to the guest now; false: it waits here (see arrived and expired).
   */
  offer(stream: number, item: T): boolean {
    const g = this.gates[stream];
    const limit = g ? this.limit(stream) : 0;
    if (!g || limit === 0) return true;
    if (g.waiting.length === 0 && g.since < limit) {
      g.since++;
      return true;
    }
    if (g.waiting.length === 0) g.waitingFrom = this.now();
    g.waiting.push(item);
    return false;
  }

  /** The guest sent a message for `stream`: it read the position. Returns what it may have now. */
  arrived(stream: number): T[] {
    const g = this.gates[stream];
    if (!g) return NONE;
    g.since = 0;
    if (g.waiting.length === 0) return NONE;
    const limit = this.limit(stream);
    const out: T[] = [];
    while (g.waiting.length > 0 && (limit === 0 || g.since < limit)) {
      out.push(g.waiting.shift() as T);
      g.since++;
    }
    if (g.waiting.length > 0) g.waitingFrom = this.now();
    return out;
  }

  /** Completions that have waited their release time: the guest gets them now. */
  expired(): T[] {
    let out: T[] | null = null;
    const t = this.now();
    this.gates.forEach((g, stream) => {
      if (g.waiting.length === 0 || t - g.waitingFrom < this.releaseMs(stream)) return;
      out ??= [];
      out.push(...g.waiting);
      g.since += g.waiting.length;
      g.waiting.length = 0;
    });
    return out ?? NONE;
  }

  /** The gate's clock now (ms). */
  clock(): number {
    return this.now();
  }

  /** How many completions wait. */
  get waiting(): number {
    let n = 0;
    for (const g of this.gates) n += g.waiting.length;
    return n;
  }

  /** The earliest time (ms) a waiting completion expires, or Infinity. */
  nextExpiry(): number {
    let t = Number.POSITIVE_INFINITY;
    this.gates.forEach((g, stream) => {
      if (g.waiting.length > 0) t = Math.min(t, g.waitingFrom + this.releaseMs(stream));
    });
    return t;
  }

  /** Every stream's gate. */
  saveState(): GateState<T>[] {
    return this.gates.map((g) => ({ ...g, waiting: [...g.waiting] }));
  }

  /** Takes every stream's gate (one per stream, checked by the caller). */
  applyState(states: readonly GateState<T>[]): void {
    this.gates.forEach((g, i) => {
      g.since = states[i].since;
      g.waiting = [...states[i].waiting];
      g.waitingFrom = states[i].waitingFrom;
    });
  }

  /** A stream restarts (PREPARE) or the device resets: nothing waits, nothing was given. */
  clear(stream?: number): T[] {
    const gates = stream === undefined ? this.gates : [this.gates[stream]].filter(Boolean);
    const out: T[] = [];
    for (const g of gates) {
      out.push(...g.waiting);
      g.waiting.length = 0;
      g.since = 0;
    }
    return out;
  }
}

const NONE: never[] = [];
