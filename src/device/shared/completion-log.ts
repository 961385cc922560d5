/**
 * The completion log: the audio-clock frame of every I/O message completion,
 * written where a message is completed (allocation-free) and read by tests and
 * pages to check that periods complete when their last frame plays.
 */

import { COMPLETION_LOG_ENTRIES, SharedState } from './layout.ts';
import type { RenderState } from './render-state.ts';

/** Appends one completion (the writer holds the message's queue lock). */
export function logCompletion(
  s: SharedState,
  stream: number,
  frame: number,
  latency: number,
  head: number,
): void {
  const w = s.completionWrite.value;
  const e = s.completionEntries;
  const at = 4 * (w & (COMPLETION_LOG_ENTRIES - 1));
  e[at] = stream;
  e[at + 1] = frame;
  e[at + 2] = latency;
  e[at + 3] = head;
  s.completionWrite.store(w + 1);
}

export interface Completion {
  stream: number;
  /** Context frame count (low 32 bits) at the end of the block that completed the message. */
  frame: number;
  latencyBytes: number;
  head: number;
}

/** A reader of message completions from the moment it is made. */
export class CompletionLog {
  private readonly s: SharedState;
  private next: number;
  /** Completions overwritten before this reader saw them. */
  lost = 0;

  constructor(renderState: RenderState) {
    this.s = new SharedState(renderState.shared, renderState.layout);
    this.next = this.s.completionWrite.load();
  }

  take(): Completion[] {
    const e = this.s.completionEntries;
    const w = this.s.completionWrite.load();
    let from = this.next;
    // The write position went back (a snapshot was restored): go on from there.
    if (((w - from) | 0) < 0) from = w;
    if (((w - from) | 0) > COMPLETION_LOG_ENTRIES) {
      this.lost += ((w - from) | 0) - COMPLETION_LOG_ENTRIES;
      from = (w - COMPLETION_LOG_ENTRIES) | 0;
    }
    const out: Completion[] = [];
    for (let k = from; k !== w; k = (k + 1) | 0) {
      const at = 4 * (k & (COMPLETION_LOG_ENTRIES - 1));
      out.push({ stream: e[at], frame: e[at + 1] >>> 0, latencyBytes: e[at + 2], head: e[at + 3] });
    }
    this.next = w;
    return out;
  }
}
