/**
 * The completion log: the audio-clock frame of every I/O message completion,
 * written where a message is completed (allocation-free) and read by tests and
 * pages to check that periods complete when their last frame plays.
 *
 * There are two logs, TX and RX: a message is completed by whoever holds its
 * queue's lock, and TX and RX are locked separately (the renderer holds both
 * in one quantum; the control plane may flush one while the renderer works on
 * the other). One log per queue keeps each a single-writer ring, which a
 * plain read-increment-store of its write count needs: with one log for both,
 * concurrent TX and RX completions lost entries and overwrote each other.
 */

import { COMPLETION_LOG_ENTRIES, type CompletionLogSlot, SharedState } from './layout.ts';
import type { RenderState } from './render-state.ts';

/** Appends one completion of `stream` to its direction's log (the writer holds that queue's lock). */
export function logCompletion(
  s: SharedState,
  stream: number,
  frame: number,
  latency: number,
  head: number,
): void {
  const log = s.completionLogs[s.streams[stream].direction];
  const w = log.write.value;
  const e = log.entries;
  const at = 4 * (w & (COMPLETION_LOG_ENTRIES - 1));
  e[at] = stream;
  e[at + 1] = frame;
  e[at + 2] = latency;
  e[at + 3] = head;
  // Release: the entry is visible before the count that covers it.
  log.write.store(w + 1);
}

export interface Completion {
  stream: number;
  /** Context frame count (low 32 bits) at the end of the block that completed the message. */
  frame: number;
  latencyBytes: number;
  head: number;
}

/** A reader of message completions (TX and RX, merged in frame order) from the moment it is made. */
export class CompletionLog {
  private readonly s: SharedState;
  private readonly next: number[];
  /** Completions overwritten before this reader saw them. */
  lost = 0;

  constructor(renderState: RenderState) {
    this.s = new SharedState(renderState.shared, renderState.layout);
    this.next = this.s.completionLogs.map((l) => l.write.load());
  }

  take(): Completion[] {
    const [tx, rx] = this.s.completionLogs.map((log, k) => this.takeFrom(log, k));
    // Each log is in frame order; merge them (frames are 32-bit and wrap).
    const out: Completion[] = [];
    let i = 0;
    let j = 0;
    while (i < tx.length || j < rx.length) {
      if (j >= rx.length || (i < tx.length && ((tx[i].frame - rx[j].frame) | 0) <= 0))
        out.push(tx[i++]);
      else out.push(rx[j++]);
    }
    return out;
  }

  private takeFrom(log: CompletionLogSlot, k: number): Completion[] {
    const e = log.entries;
    const w = log.write.load();
    let from = this.next[k];
    // The write position went back (a snapshot was restored): go on from there.
    if (((w - from) | 0) < 0) from = w;
    if (((w - from) | 0) > COMPLETION_LOG_ENTRIES) {
      this.lost += ((w - from) | 0) - COMPLETION_LOG_ENTRIES;
      from = (w - COMPLETION_LOG_ENTRIES) | 0;
    }
    const out: Completion[] = [];
    for (let n = from; n !== w; n = (n + 1) | 0) {
      const at = 4 * (n & (COMPLETION_LOG_ENTRIES - 1));
      out.push({ stream: e[at], frame: e[at + 1] >>> 0, latencyBytes: e[at + 2], head: e[at + 3] });
    }
    this.next[k] = w;
    return out;
  }
}
