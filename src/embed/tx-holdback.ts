/**
 * When the relay copies a guest TX message into the inner device: as late as
 * it safely can, the way a DMA engine reads a period just before playing it.
 *
 * Why: Linux before 6.8 (sound/virtio without the ack callback, e.g. Debian
 * 12's 6.1) re-queues a TX message the moment it completes, before the
 * application has written the period's new samples into it (the spec lets
 * the device read it at once). A device that reads guest memory when it
 * plays (our VirtioSndDevice on a SharedArrayBuffer) never sees stale data;
 * a relay that copied on arrival copied the old period whenever its poll fell
 * between the re-queue and the application's write. So each output stream
 * keeps the messages it was given in order and hands one over only when the
 * audio the inner device still has to play falls below the lead (`leadMs`,
 * capped by the stream's buffer: see leadBytes).
 *
 * Not on the audio thread: plain arrays are fine here.
 */

import type { StreamView } from '../device/index.ts';

/** Default lead: comfortably above an emulator thread's scheduling hiccups. */
export const DEFAULT_TX_LEAD_MS = 200;

interface OutputStream<T> {
  held: T[];
  /** Payload bytes of `held`. */
  heldBytes: number;
  /** Payload bytes handed to the inner device and not yet completed. */
  inFlight: number;
  /** Payload bytes handed over since the last PREPARE. */
  handed: number;
}

export class TxHoldback<T extends { payload: number }> {
  private readonly streams: OutputStream<T>[];

  constructor(
    /** The inner device's streams (VirtioSndDevice.streamViews). */
    private readonly views: readonly StreamView[],
    private readonly leadMs: number,
  ) {
    this.streams = views.map(() => ({
      held: [],
      heldBytes: 0,
      inFlight: 0,
      handed: 0,
    }));
  }

  /**
   * Whether a TX message for `stream` may wait here: an output stream with
   * parameters, prepared or running or stopped. Anything else goes to the
   * inner device at once, which answers it (BAD_MSG, IO_ERR...) as usual.
   */
  holds(stream: number): boolean {
    if (!Number.isInteger(stream) || stream < 0 || stream >= this.streams.length) return false;
    const v = this.views[stream];
    return v.direction === 'output' && v.acceptsIo;
  }

  hold(stream: number, msg: T): void {
    const o = this.streams[stream];
    o.held.push(msg);
    o.heldBytes += msg.payload;
  }

  /** The oldest held message of `stream` if it must be handed over now (and takes it). */
  due(stream: number): T | undefined {
    const o = this.streams[stream];
    if (o.held.length === 0 || this.ahead(stream) >= this.leadBytes(stream)) return undefined;
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

  /** The inner device completed a message of `stream`. */
  completed(stream: number, payload: number): void {
    this.streams[stream].inFlight -= payload;
  }

  /** PREPARE was accepted: the inner position restarts from 0 (nothing played since). */
  prepared(stream: number): void {
    const o = this.streams[stream];
    o.handed = o.inFlight;
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

  /** Device reset: held guest buffers are forgotten with the rings. */
  clear(): void {
    for (const o of this.streams) {
      o.held.length = 0;
      o.heldBytes = 0;
      o.inFlight = 0;
      o.handed = o.inFlight;
    }
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
}
