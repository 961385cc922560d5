/**
 * The device-private shared memory: one SharedArrayBuffer that the control
 * plane (Worker / emulator thread) and the renderer (audio thread) both map.
 * It holds what both halves must agree on: the virtqueue states, the stream
 * table, the in-flight I/O messages, gains, the event ring, and a tap of the
 * rendered output. Guest memory (rings, PCM) is a different buffer.
 *
 * Views are made once here; nothing is allocated per quantum. The layout is
 * fully determined by {@link SharedLayoutParams}, which travels with the
 * render state so the worklet can rebuild the same views.
 */

import { QUEUE_STATE_WORDS } from '../virtio/device-queue.ts';

export const SHARED_MAGIC = 0x76736e64; // "vsnd"
export const SHARED_VERSION = 1;

/** Header words. */
export const H_MAGIC = 0;
export const H_VERSION = 1;
/** Try-locks guarding the TX and RX queues and output/input stream entries (queue-lock.ts). */
export const H_LOCK_TX = 2;
export const H_LOCK_RX = 3;
/** Bits the renderer sets for the control plane: see INT_*. */
export const H_INT_FLAGS = 4;
/** Incremented (and Atomics.notify'd) whenever the renderer has news. */
export const H_DOORBELL = 5;
/** Render quanta processed (a heartbeat). */
export const H_QUANTUM = 6;
/** 1 while the driver has set DRIVER_OK and the device is usable. */
export const H_ACTIVE = 7;
/** Bumped on every device reset so the renderer drops its private state. */
export const H_RESET_GEN = 8;
export const H_EVT_WRITE = 9;
export const H_EVT_READ = 10;
/** Events that found the event ring full and went through the per-stream overflow counters. */
export const H_EVT_OVERFLOWED = 11;
/** Audio frames rendered at the context rate (low/high 32 bits). */
export const H_FRAMES_LO = 12;
export const H_FRAMES_HI = 13;
export const H_TAP_WRITE = 14;
export const H_COMPLETION_WRITE = 15;
/** Bytes of PCM consumed (TX) and produced (RX) in total, for throughput stats. */
export const H_TX_BYTES = 16;
export const H_RX_BYTES = 17;
/** Malformed I/O messages (answered BAD_MSG or handed back unused), by either device half. */
export const H_BAD_MESSAGES = 18;
export const HEADER_WORDS = 32;

/** H_INT_FLAGS bits. */
export const INT_VRING = 1;
export const INT_NEEDS_RESET = 2;

/** Queue indices (virtio-snd). */
export const QUEUE_COUNT = 4;

/** Stream table: words per stream. */
export const S_STATE = 0;
export const S_DIRECTION = 1;
export const S_CHANNELS = 2;
export const S_FORMAT = 3;
export const S_RATE = 4;
export const S_RATE_HZ = 5;
export const S_PERIOD_BYTES = 6;
export const S_BUFFER_BYTES = 7;
export const S_FEATURES = 8;
export const S_FRAME_BYTES = 9;
/** Bumped by PREPARE / SET_PARAMS: the renderer re-initialises its stream runtime. */
export const S_PREPARE_GEN = 10;
/** Payload bytes queued in the device and not yet rendered/captured. */
export const S_QUEUED_BYTES = 11;
export const S_FIFO_READ = 12;
export const S_FIFO_WRITE = 13;
/** 1 while in an underrun/overrun episode. */
export const S_XRUN = 14;
export const S_XRUN_COUNT = 15;
export const S_COMPLETED = 16;
/** Bytes since the last period boundary (for PERIOD_ELAPSED events). */
export const S_PERIOD_POS = 17;
/** Frames rendered/captured at the stream rate (low/high). */
export const S_FRAMES_LO = 18;
export const S_FRAMES_HI = 19;
/** Context frame (low 32 bits) at the last completion. */
export const S_LAST_COMPLETION_FRAME = 20;
/** latency_bytes reported with the last completion. */
export const S_LAST_LATENCY = 21;
/** Index of the chmap (or -1) the renderer uses to place channels. */
export const S_CHMAP = 22;
/** Peak level of the last quantum, as float32 bits (for meters). */
export const S_PEAK = 23;
/**
 * Context frame (low 32 bits) of the quantum in which the stream played or
 * captured its first frame since PREPARE; -1 before that. Lets tests line the
 * audio clock up with the stream.
 */
export const S_START_FRAME = 24;
/**
 * PERIOD_ELAPSED / XRUN events of this stream that found the event ring
 * full: counted here (renderer adds, control plane takes with exchange)
 * and delivered after the ring's, so none is ever lost.
 */
export const S_EVT_PERIODS_OVERFLOW = 25;
export const S_EVT_XRUNS_OVERFLOW = 26;
export const STREAM_WORDS = 32;

/** Per in-flight I/O message (indexed by descriptor head). */
export const M_STREAM = 0;
/** Payload bytes (TX: PCM to play; RX: room for PCM). */
export const M_BYTES = 1;
/** Payload bytes consumed (TX) or filled (RX) so far. */
export const M_DONE = 2;
export const M_SEGMENTS = 3;
/** Where the 8-byte pcm_status goes: up to two pieces (it may straddle descriptors). */
export const M_STATUS_ADDR0 = 4;
export const M_STATUS_LEN0 = 5;
export const M_STATUS_ADDR1 = 6;
export const M_STATUS_LEN1 = 7;
export const M_SEG_BASE = 8;
/** Largest number of payload segments per message we accept. */
export const MAX_IO_SEGMENTS = 64;
export const MSG_WORDS = M_SEG_BASE + 2 * MAX_IO_SEGMENTS;

/** Largest TX/RX queue we offer; also each stream's FIFO capacity. */
export const IO_QUEUE_MAX = 256;
/** Event ring capacity (entries of two words: code, data). */
export const EVENT_RING_ENTRIES = 256;
/** Completion log entries: [stream, context frame, latency, head]. */
export const COMPLETION_LOG_ENTRIES = 1024;

export interface SharedLayoutParams {
  streams: number;
  /** Float32 words reserved per stream for resampler coefficient tables. */
  coefficientWords: number;
  /** Stereo frames in the output tap ring (0 = no tap). Power of two. */
  tapFrames: number;
}

/** Word offsets of every region, computed from the parameters. */
export class SharedLayout {
  readonly queues = HEADER_WORDS;
  readonly streamTable: number;
  readonly fifos: number;
  readonly messages: number;
  readonly gains: number;
  readonly events: number;
  readonly completions: number;
  readonly coefficients: number;
  readonly tap: number;
  readonly totalWords: number;

  constructor(readonly params: SharedLayoutParams) {
    const { streams, coefficientWords, tapFrames } = params;
    if (tapFrames !== 0 && (tapFrames & (tapFrames - 1)) !== 0) {
      throw new RangeError(`tapFrames ${tapFrames} is not a power of two`);
    }
    let w = this.queues + QUEUE_COUNT * QUEUE_STATE_WORDS;
    this.streamTable = w;
    w += streams * STREAM_WORDS;
    this.fifos = w;
    w += streams * IO_QUEUE_MAX;
    this.messages = w;
    w += 2 * IO_QUEUE_MAX * MSG_WORDS; // TX and RX
    this.gains = w;
    w += 8;
    this.events = w;
    w += 2 * EVENT_RING_ENTRIES;
    this.completions = w;
    w += 4 * COMPLETION_LOG_ENTRIES;
    this.coefficients = w;
    w += streams * coefficientWords;
    this.tap = w;
    w += 2 * tapFrames;
    this.totalWords = w;
  }
}

/** Gain slots (Float32 words at layout.gains). */
export const G_PLAYBACK = 0;
export const G_CAPTURE = 1;

/** Typed views over the shared buffer, made once. */
export class SharedState {
  readonly layout: SharedLayout;
  readonly i32: Int32Array;
  readonly u32: Uint32Array;
  readonly f32: Float32Array;

  constructor(
    readonly buffer: SharedArrayBuffer,
    params: SharedLayoutParams,
  ) {
    this.layout = new SharedLayout(params);
    if (buffer.byteLength < this.layout.totalWords * 4) {
      throw new RangeError(
        `shared state buffer too small: ${buffer.byteLength} < ${this.layout.totalWords * 4}`,
      );
    }
    this.i32 = new Int32Array(buffer, 0, this.layout.totalWords);
    this.u32 = new Uint32Array(buffer, 0, this.layout.totalWords);
    this.f32 = new Float32Array(buffer, 0, this.layout.totalWords);
  }

  static create(params: SharedLayoutParams): SharedState {
    const layout = new SharedLayout(params);
    const s = new SharedState(new SharedArrayBuffer(layout.totalWords * 4), params);
    s.i32[H_MAGIC] = SHARED_MAGIC;
    s.i32[H_VERSION] = SHARED_VERSION;
    return s;
  }

  /** The state block of virtqueue `index` (a view, made by the caller once). */
  queueState(index: number): Uint32Array {
    const base = this.layout.queues + index * QUEUE_STATE_WORDS;
    return this.u32.subarray(base, base + QUEUE_STATE_WORDS);
  }

  /** Word offset of stream `id`'s table entry. */
  stream(id: number): number {
    return this.layout.streamTable + id * STREAM_WORDS;
  }

  /** Word offset of message `head`'s entry in queue `tx` (true) or rx. */
  message(tx: boolean, head: number): number {
    return this.layout.messages + ((tx ? 0 : IO_QUEUE_MAX) + head) * MSG_WORDS;
  }

  /** Word offset of stream `id`'s FIFO of message heads. */
  fifo(id: number): number {
    return this.layout.fifos + id * IO_QUEUE_MAX;
  }

  coefficientBase(id: number): number {
    return this.layout.coefficients + id * this.layout.params.coefficientWords;
  }

  /** Raises news for the control plane (interrupt bits) and rings the doorbell. */
  ring(flags: number): void {
    if (flags) Atomics.or(this.i32, H_INT_FLAGS, flags);
    Atomics.add(this.i32, H_DOORBELL, 1);
    Atomics.notify(this.i32, H_DOORBELL);
  }
}
