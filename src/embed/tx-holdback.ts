/**
 * When the relay copies a guest TX message into the inner device: at once
 * for a guest that queues only periods it has written, late (the hold-back)
 * for one that queues them before.
 *
 * Why two ways: Linux before 6.8 (sound/virtio without the ack callback,
 * e.g. Debian 12's 6.1) re-queues a TX message the moment it completes,
 * before the application has written the period's new samples into it (the
 * spec lets the device read it at once). A device that reads guest memory
 * when it plays (our VirtioSndDevice on a SharedArrayBuffer) never sees stale
 * data; a relay that copied on arrival would copy the old period. For such a
 * guest each output stream keeps its messages in order and hands one over
 * only when the audio the inner device still has falls below the lead
 * (`leadMs`, capped by the stream's buffer: see leadBytes), the way a DMA
 * engine reads a period just before playing it. Linux 6.8 and later (the ack
 * callback) sends a period only once the application has written it: copying
 * at once is safe, and holding back would only add latency and take away the
 * inner device's cushion against a stalled emulator.
 *
 * Which guest is which ('auto', the default): a stream starts late. When a
 * message completes, the relay notes what the guest's period buffer holds;
 * when a message for that buffer comes back, it compares. A guest that
 * re-queues before writing re-queues from its interrupt handler, before the
 * application can run, so the buffer comes back exactly as it was at the
 * completion; one that writes first brings it back rewritten. (The
 * application being late does not blur this: nothing writes the buffer
 * between its completion and a re-queue made in the interrupt handler.)
 * After FRESH_TO_TRUST re-queues in a row that come back rewritten, the
 * stream goes at once for good (until a device reset). Repeated content
 * (silence) looks unwritten and keeps a stream late: safe, only slower. The
 * comparison samples the payload (see payloadSignature): an unwritten buffer
 * is byte-identical, so sampling never mistakes it for a rewritten one.
 *
 * Not on the audio thread: plain arrays and maps are fine here.
 */

import type { StreamView } from '../device/index.ts';

/** Default lead: the inner device is kept this far ahead of a guest that needs the hold-back. */
export const DEFAULT_TX_LEAD_MS = 50;
/** Re-queues with new bytes, in a row, before a stream is trusted to queue only written periods. */
export const FRESH_TO_TRUST = 2;

/**
 * How the relay hands guest TX messages to the inner device: 'auto' (the
 * default) finds out per stream; 'late' always holds back (Linux < 6.8 and
 * any guest that re-queues a period before writing it); 'at-once' never
 * (Linux >= 6.8, and any guest that queues only written periods).
 */
export type TxHoldbackPolicy = 'auto' | 'late' | 'at-once';

/** How a stream is handed over now. */
export type TxMode = 'late' | 'at-once';

interface OutputStream<T> {
  mode: TxMode;
  held: T[];
  /** Payload bytes of `held`. */
  heldBytes: number;
  /** Payload bytes handed to the inner device and not yet completed. */
  inFlight: number;
  /** Payload bytes handed over since the last PREPARE. */
  handed: number;
  /** Signature of what each guest buffer (by address) held when its last message completed. */
  atCompletion: Map<number, number>;
  /** Re-queues in a row that came back rewritten. */
  fresh: number;
}

/**
 * One stream's hold-back as plain values (snapshots), its messages mapped
 * to `R`. What follows from the rest is not kept: the held bytes (the sum
 * of the held payloads) and the bytes in flight (the inner TX messages of
 * the stream: the relay knows them).
 */
export interface TxStreamState<R> {
  mode: TxMode;
  held: R[];
  handed: number;
  /** [guest buffer address, signature at its last completion]. */
  atCompletion: [number, number][];
  fresh: number;
}

const NONE: never[] = [];

export class TxHoldback<T extends { payload: number }> {
  private readonly streams: OutputStream<T>[];

  constructor(
    /** The inner device's streams (VirtioSndDevice.streamViews). */
    private readonly views: readonly StreamView[],
    private readonly leadMs: number,
    readonly policy: TxHoldbackPolicy = 'auto',
    /** Told the low-water mark each output stream needs (0: none), so the audio clock wakes the relay. */
    private readonly setLowWater: (stream: number, bytes: number) => void = () => {},
  ) {
    this.streams = views.map(() => ({
      mode: policy === 'at-once' ? 'at-once' : 'late',
      held: [],
      heldBytes: 0,
      inFlight: 0,
      handed: 0,
      atCompletion: new Map(),
      fresh: 0,
    }));
  }

  /** Whether `stream` is an output stream of the inner device. */
  private isOutput(stream: number): boolean {
    return (
      Number.isInteger(stream) &&
      stream >= 0 &&
      stream < this.streams.length &&
      this.views[stream].direction === 'output'
    );
  }

  /**
   * Whether a TX message for `stream` waits here: an output stream handed
   * over late, with parameters, prepared or running or stopped. Anything else
   * goes to the inner device at once, which answers it (BAD_MSG, IO_ERR...)
   * as usual.
   */
  holds(stream: number): boolean {
    return (
      this.isOutput(stream) && this.streams[stream].mode === 'late' && this.views[stream].acceptsIo
    );
  }

  /** How `stream` is handed over now. */
  mode(stream: number): TxMode {
    return this.streams[stream].mode;
  }

  /** Whether `stream` still looks for evidence of its guest (auto, and not trusted yet). */
  watching(stream: number): boolean {
    return this.policy === 'auto' && this.isOutput(stream) && this.streams[stream].mode === 'late';
  }

  /**
   * A TX message for `stream` arrived whose payload starts at guest address
   * `buffer` and has signature `sig`: evidence of which kind of guest this is.
   * Returns the messages still held when the stream becomes trusted: they go
   * to the inner device before this one, in order.
   */
  arrived(stream: number, buffer: number, sig: number): T[] {
    if (!this.watching(stream)) return NONE;
    const o = this.streams[stream];
    const then = o.atCompletion.get(buffer);
    if (then === undefined) return NONE; // no completion of this buffer seen since START
    o.atCompletion.delete(buffer);
    o.fresh = then === sig ? 0 : o.fresh + 1;
    if (o.fresh < FRESH_TO_TRUST) return NONE;
    o.mode = 'at-once';
    o.atCompletion.clear();
    this.updateLowWater(stream);
    const held: T[] = [];
    while (o.held.length > 0) held.push(this.take(o));
    return held;
  }

  hold(stream: number, msg: T): void {
    const o = this.streams[stream];
    o.held.push(msg);
    o.heldBytes += msg.payload;
  }

  /** The oldest held message of `stream` if it must be handed over now (and takes it). */
  due(stream: number): T | undefined {
    const o = this.streams[stream];
    if (o.held.length === 0) return undefined;
    if (o.mode === 'late' && this.ahead(stream) >= this.leadBytes(stream)) return undefined;
    return this.take(o);
  }

  /** Every held message of every stream, oldest first per stream (before a control request). */
  takeAll(): T[] {
    const all: T[] = [];
    for (const o of this.streams) while (o.held.length > 0) all.push(this.take(o));
    return all;
  }

  /** A message of `stream` (held or not) went to the inner device. */
  handedOver(stream: number, payload: number): void {
    const o = this.streams[stream];
    o.inFlight += payload;
    o.handed += payload;
  }

  /**
   * The inner device completed a message of `stream`; its guest buffer at
   * `buffer` holds what has signature `sig` now (-1 when not watching()).
   */
  completed(stream: number, payload: number, buffer: number, sig: number): void {
    const o = this.streams[stream];
    o.inFlight -= payload;
    if (this.watching(stream) && buffer >= 0) o.atCompletion.set(buffer, sig);
  }

  /** PREPARE was accepted: the inner position restarts from 0 (nothing played since). */
  prepared(stream: number): void {
    const o = this.streams[stream];
    o.handed = o.inFlight;
    this.forgetCompletions(o);
    this.updateLowWater(stream);
  }

  /**
   * START was accepted. The periods a guest sends at START (Linux < 6.8
   * sends every free one; after an xrun or a pause the application has
   * rewritten them) say nothing about how it re-queues: only re-queues of
   * buffers completed after START count as evidence.
   */
  started(stream: number): void {
    this.forgetCompletions(this.streams[stream]);
  }

  private forgetCompletions(o: OutputStream<T>): void {
    o.atCompletion.clear();
    o.fresh = 0;
  }

  heldCount(stream: number): number {
    return this.streams[stream].held.length;
  }

  /** Bytes waiting here, added to latency_bytes so the guest's delay stays right. */
  heldBytes(stream: number): number {
    return this.streams[stream].heldBytes;
  }

  get streamCount(): number {
    return this.streams.length;
  }

  /** Device reset: held guest buffers are forgotten with the rings; detection starts over. */
  clear(): void {
    for (const o of this.streams) {
      o.held.length = 0;
      o.heldBytes = 0;
      o.inFlight = 0;
      o.handed = 0;
      o.atCompletion.clear();
      o.fresh = 0;
      o.mode = this.policy === 'at-once' ? 'at-once' : 'late';
    }
  }

  /** Every stream's state, messages mapped by `ref`. */
  saveState<R>(ref: (m: T) => R): TxStreamState<R>[] {
    return this.streams.map((o) => ({
      mode: o.mode,
      held: o.held.map(ref),
      handed: o.handed,
      atCompletion: [...o.atCompletion],
      fresh: o.fresh,
    }));
  }

  /**
   * Why `s` could not be stream `stream`'s state under this policy, or null:
   * only an output stream leaves 'late' (and only under 'auto'), and a
   * trusted one watches nothing.
   */
  checkState(stream: number, s: TxStreamState<unknown>, inFlight: number): string | null {
    const output = this.isOutput(stream);
    const expected = this.policy === 'at-once' ? 'at-once' : this.policy === 'late' ? 'late' : null;
    if (expected && s.mode !== expected) return `mode ${s.mode} under policy '${this.policy}'`;
    if (!output && (s.mode !== (this.policy === 'at-once' ? 'at-once' : 'late') || s.held.length))
      return 'hold-back state for an input stream';
    if (s.mode === 'at-once' && s.held.length > 0) return 'messages held by a stream sent at once';
    // A stream trusted by detection keeps the count that trusted it.
    const maxFresh = s.mode === 'at-once' ? FRESH_TO_TRUST : FRESH_TO_TRUST - 1;
    if (!Number.isInteger(s.fresh) || s.fresh < 0 || s.fresh > maxFresh)
      return `${s.fresh} fresh re-queues`;
    if (s.mode === 'at-once' && s.atCompletion.length > 0) return 'a trusted stream still watching';
    if (!output && (s.handed !== 0 || s.atCompletion.length > 0 || inFlight !== 0))
      return 'bytes handed over for an input stream';
    if (s.handed < inFlight) return `${s.handed} bytes handed over, ${inFlight} in flight`;
    if (new Set(s.atCompletion.map(([a]) => a)).size !== s.atCompletion.length)
      return 'a guest buffer seen twice';
    return null;
  }

  /**
   * Takes every stream's state (checked with checkState); `inFlight[s]` is
   * what the relay has of stream s in the inner device. The inner device's
   * streams must be restored first: the low-water marks follow from them.
   */
  applyState(states: readonly TxStreamState<T>[], inFlight: readonly number[]): void {
    this.streams.forEach((o, id) => {
      const s = states[id];
      o.mode = s.mode;
      o.held = [...s.held];
      o.heldBytes = s.held.reduce((n, m) => n + m.payload, 0);
      o.inFlight = inFlight[id];
      o.handed = s.handed;
      o.atCompletion = new Map(s.atCompletion);
      o.fresh = s.fresh;
      this.updateLowWater(id);
    });
  }

  private take(o: OutputStream<T>): T {
    const m = o.held.shift() as T;
    o.heldBytes -= m.payload;
    return m;
  }

  /** Payload bytes the inner device has and has not played yet. */
  private ahead(stream: number): number {
    const played = this.views[stream].playedBytes;
    // In-flight bounds it: messages completed unplayed (errors) must not count.
    const o = this.streams[stream];
    return Math.min(o.handed - played, o.inFlight);
  }

  /**
   * `leadMs` of audio, but never more than the buffer less one and a half
   * periods: a re-queued period plays (periods - 1) periods after its
   * re-queue, and the guest gets at least half a period to fill it.
   */
  private leadBytes(stream: number): number {
    const v = this.views[stream];
    const period = v.periodBytes;
    const wanted = Math.ceil((this.leadMs * v.rateHz * v.frameBytes) / 1000);
    const cap = v.bufferBytes - 1.5 * period;
    return Math.max(Math.min(wanted, cap), period / 2);
  }

  /**
   * A stream held back wakes the relay, through the inner device's low-water
   * doorbell, when it falls below its lead: the audio clock says when a held
   * message is due, not a timer. One handed over at once needs no wake-up.
   */
  private updateLowWater(stream: number): void {
    if (!this.isOutput(stream)) return;
    const late = this.streams[stream].mode === 'late' && this.views[stream].periodBytes > 0;
    this.setLowWater(stream, late ? Math.ceil(this.leadBytes(stream)) : 0);
  }
}

/** Payload bytes sampled for a signature: enough to tell a rewritten period from a stale one. */
const SIGNATURE_SAMPLES = 64;

/**
 * A signature of `length` bytes read through `byteAt`: FNV-1a over the
 * length and up to 64 evenly spaced bytes. Identical payloads always match;
 * a period the application has rewritten almost surely does not.
 */
export function payloadSignature(length: number, byteAt: (offset: number) => number): number {
  let h = Math.imul(0x811c9dc5 ^ length, 0x01000193);
  const n = Math.min(length, SIGNATURE_SAMPLES);
  for (let i = 0; i < n; i++) {
    const off = n === length ? i : Math.floor((i * (length - 1)) / (n - 1));
    h = Math.imul(h ^ byteAt(off), 0x01000193);
  }
  return h >>> 0;
}
