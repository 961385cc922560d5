/**
 * The driver Worker's players: a loop that feeds a stream chunk by chunk
 * from a source (a tone, or PCM the page sent), recovers from xruns as aplay
 * does, then drains. Each knows exactly how far it got (the chunk it is
 * writing, its first frame, how much of it is in the buffer), so a snapshot
 * can take a player along and a restored one goes on with the very same
 * samples: the tone from its phase, the PCM from where it was.
 */

import { type PcmStream, XrunError } from '../driver/index.ts';
import { Tone } from './tone.ts';

/** A tone a player plays (what a snapshot keeps of it; the phase is in the progress). */
export interface ToneSpec {
  kind: 'tone';
  frequency: number;
  amplitude: number;
  rate: number;
  channels: number;
  format: number;
  /** Frames in all (Infinity: until stopped). */
  total: number;
}

/** PCM a player plays, from some frame on. */
export interface PcmSpec {
  kind: 'pcm';
  data: Uint8Array;
  frameBytes: number;
}

/** Where a player's data comes from: chunk by chunk. */
export interface PlayerSource {
  /** Frames per chunk (a period). */
  readonly chunkFrames: number;
  /** The chunk that starts at frame `written` (of the whole play), or null at the end. */
  next(written: number): Uint8Array | null;
  /** What the source needs to make the next chunk again (a tone's phase). */
  mark(): number;
  /** What to keep to play on from frame `from` (a snapshot). */
  spec(from: number): ToneSpec | PcmSpec;
}

export class ToneSource implements PlayerSource {
  readonly tone: Tone;
  constructor(
    private readonly t: Omit<ToneSpec, 'kind'>,
    readonly chunkFrames: number,
  ) {
    this.tone = new Tone(t.frequency, t.rate, t.channels, t.format, t.amplitude);
  }
  next(written: number): Uint8Array | null {
    if (written >= this.t.total) return null;
    return this.tone.next(Math.min(this.chunkFrames, this.t.total - written));
  }
  mark(): number {
    return this.tone.phase;
  }
  spec(): ToneSpec {
    return { kind: 'tone', ...this.t };
  }
}

export class PcmSource implements PlayerSource {
  constructor(
    /** The PCM from frame `base` of the play on. */
    readonly data: Uint8Array,
    readonly base: number,
    readonly frameBytes: number,
    readonly chunkFrames: number,
  ) {}
  next(written: number): Uint8Array | null {
    const off = (written - this.base) * this.frameBytes;
    if (off >= this.data.length) return null;
    return this.data.subarray(
      off,
      Math.min(this.data.length, off + this.chunkFrames * this.frameBytes),
    );
  }
  mark(): number {
    return 0;
  }
  spec(from: number): PcmSpec {
    const data = this.data.subarray((from - this.base) * this.frameBytes);
    return { kind: 'pcm', data, frameBytes: this.frameBytes };
  }
}

/** The source a snapshot's spec describes, ready to make the chunk at `chunkStart` (with its `mark`). */
export function sourceOf(
  spec: ToneSpec | PcmSpec,
  chunkFrames: number,
  chunkStart: number,
  mark: number,
): PlayerSource {
  if (spec.kind === 'pcm') {
    return new PcmSource(spec.data.slice(), chunkStart, spec.frameBytes, chunkFrames);
  }
  const { kind: _, ...tone } = spec;
  const source = new ToneSource(tone, chunkFrames);
  source.tone.phase = mark;
  return source;
}

/** How far a player got. */
export interface PlayerProgress {
  /** Frames of the play written before the chunk being written. */
  chunkStart: number;
  /** Frames of that chunk in the buffer already. */
  intoChunk: number;
  /** The source's mark at the chunk's start. */
  mark: number;
  /** Every chunk is written: the player is draining. */
  draining: boolean;
}

export type PlayerEnd = { ok: true } | { ok: false; error: unknown };

export class Player {
  stop = false;
  readonly done: Promise<void>;
  private chunkStart = 0;
  private chunkDone = 0;
  private chunkMark = 0;
  private draining = false;
  /** appl_ptr when the writei under way began (-1: none). */
  private writeFrom = -1;

  constructor(
    readonly streamId: number,
    readonly stream: PcmStream,
    readonly source: PlayerSource,
    onEnd: (end: PlayerEnd) => void,
    from?: PlayerProgress,
  ) {
    this.done = this.run(from).then(
      () => onEnd({ ok: true }),
      (error: unknown) => onEnd({ ok: false, error }),
    );
  }

  /** Where the player stands now (synchronous: exact between any two awaits). */
  progress(): PlayerProgress {
    const moving = this.writeFrom >= 0 ? this.stream.applPtr - this.writeFrom : 0;
    return {
      chunkStart: this.chunkStart,
      intoChunk: this.chunkDone + moving,
      mark: this.chunkMark,
      draining: this.draining,
    };
  }

  private async run(from?: PlayerProgress): Promise<void> {
    const s = this.stream;
    const fb = s.params!.frameBytes;
    let written = from?.chunkStart ?? 0;
    let skip = from?.intoChunk ?? 0;
    if (!from?.draining) {
      for (;;) {
        if (this.stop) return;
        this.chunkStart = written;
        this.chunkMark = this.source.mark();
        this.chunkDone = skip;
        const chunk = this.source.next(written);
        if (!chunk) break;
        skip = 0;
        // An xrun (the page or the Worker was too slow) is recovered from, like
        // aplay does, and the rest of the chunk is written: the player goes on.
        for (let off = this.chunkDone * fb; off < chunk.length; ) {
          if (this.stop) return;
          if (s.state === 'xrun') await s.recover();
          this.writeFrom = s.applPtr;
          const n = await framesOrXrun(s.writei(off === 0 ? chunk : chunk.subarray(off)));
          this.writeFrom = -1;
          off += n * fb;
          this.chunkDone += n;
        }
        written += chunk.length / fb;
      }
    }
    this.draining = true;
    if (this.stop) return;
    if (s.state === 'prepared') await s.start();
    await s.drain();
  }
}

/** Frames moved, or 0 when the stream hit an xrun (the caller recovers) instead of a throw. */
export async function framesOrXrun(io: Promise<number>): Promise<number> {
  try {
    return await io;
  } catch (e) {
    if (e instanceof XrunError) return 0;
    throw e;
  }
}
