/**
 * The device-private shared memory, and the only module that knows its
 * layout. One SharedArrayBuffer is mapped by both device halves: the control
 * plane (a Worker or an emulator's thread) and the renderer (the audio
 * thread). It holds what they must agree on: the virtqueue states, the
 * stream table with each stream's FIFO of messages, the in-flight I/O
 * messages, gains, resampler coefficients, the event ring, the completion log
 * and a tap of the rendered output. Guest memory (rings, PCM) is another
 * buffer.
 *
 * Everything else reads and writes through the typed views made here
 * (ringbuf.js style): SharedWord for a header counter, StreamSlot for a
 * stream's entry, MessageSlot for an in-flight message, CoefficientSlot for a
 * stream's filter. They are made once, in the constructor; their getters and
 * setters are plain array accesses the JIT inlines, so the audio thread
 * allocates nothing per quantum. The layout is fully determined by
 * SharedLayoutParams, which travels in the render state so the worklet builds
 * the same views.
 */

import { RESAMPLER_STATE_WORDS, type ResamplerStorage } from '../../pcm/resampler.ts';
import type { PcmSetParams } from '../../snd/protocol.ts';
import { QUEUE_STATE_WORDS } from '../../virtio/device-queue.ts';

const SHARED_MAGIC = 0x76736e64; // "vsnd"
const SHARED_VERSION = 3;

// ---- header words ----------------------------------------------------------
const H_MAGIC = 0;
const H_VERSION = 1;
const H_LOCK_TX = 2;
const H_LOCK_RX = 3;
const H_INT_FLAGS = 4;
const H_DOORBELL = 5;
const H_QUANTUM = 6;
const H_ACTIVE = 7;
const H_RESET_GEN = 8;
const H_EVT_WRITE = 9;
const H_EVT_READ = 10;
const H_EVT_OVERFLOWED = 11;
const H_FRAMES_LO = 12;
const H_FRAMES_HI = 13;
const H_TAP_WRITE = 14;
const H_COMPLETION_WRITE_TX = 15;
const H_TX_BYTES = 16;
const H_RX_BYTES = 17;
const H_BAD_MESSAGES = 18;
const H_GAIN_PLAYBACK = 19; // float32
const H_GAIN_CAPTURE = 20; // float32
const H_OUTPUT_LATENCY_US = 21;
const H_COMPLETION_WRITE_RX = 22;
const HEADER_WORDS = 32;

// ---- stream entry words ----------------------------------------------------
const S_STATE = 0;
const S_DIRECTION = 1;
const S_CHANNELS = 2;
const S_FORMAT = 3;
const S_RATE = 4;
const S_RATE_HZ = 5;
const S_PERIOD_BYTES = 6;
const S_BUFFER_BYTES = 7;
const S_FEATURES = 8;
const S_FRAME_BYTES = 9;
const S_PREPARE_GEN = 10;
const S_QUEUED_BYTES = 11;
const S_FIFO_READ = 12;
const S_FIFO_WRITE = 13;
const S_XRUN = 14;
const S_XRUN_COUNT = 15;
const S_COMPLETED = 16;
const S_PERIOD_POS = 17;
const S_FRAMES_LO = 18;
const S_FRAMES_HI = 19;
const S_LAST_COMPLETION_FRAME = 20;
const S_LAST_LATENCY = 21;
const S_LOW_WATER = 22;
const S_PEAK = 23; // float32
const S_START_FRAME = 24;
const S_EVT_PERIODS_OVERFLOW = 25;
const S_EVT_XRUNS_OVERFLOW = 26;
const S_DRY_FRAMES = 27;
const STREAM_WORDS = 32;

// ---- message entry words ---------------------------------------------------
const M_STREAM = 0;
const M_BYTES = 1;
const M_DONE = 2;
const M_SEGMENTS = 3;
const M_STATUS_ADDR0 = 4;
const M_STATUS_LEN0 = 5;
const M_STATUS_ADDR1 = 6;
const M_STATUS_LEN1 = 7;
const M_SEG_BASE = 8;

// ---- coefficient region header words --------------------------------------
const C_L = 0;
const C_M = 1;
const C_TAPS = 2;
const C_ROWS = 3;
const C_EXACT = 4;
const C_IN = 5;
const C_OUT = 6;
const COEF_HEADER_WORDS = 8;

/** Largest number of payload segments per I/O message we accept. */
export const MAX_IO_SEGMENTS = 64;
const MSG_WORDS = M_SEG_BASE + 2 * MAX_IO_SEGMENTS;
/**
 * The largest buffer_bytes SET_PARAMS accepts (more than a second of the
 * widest stream), and so the largest payload of one I/O message: no period
 * is longer than its buffer. It keeps every byte count well inside the int32
 * words of this layout, whatever sizes aliased descriptors add up to.
 */
export const MAX_BUFFER_BYTES = 64 << 20;
/** Largest TX/RX queue we offer; also each stream's FIFO capacity. */
export const IO_QUEUE_MAX = 256;
/** Event ring capacity (entries of two words: code, data). */
export const EVENT_RING_ENTRIES = 256;
/** Entries of each completion log, TX and RX (of four words: stream, context frame, latency, head). */
export const COMPLETION_LOG_ENTRIES = 1024;
/** Queues of a virtio-snd device. */
const QUEUE_COUNT = 4;
/** A message entry that holds no message. */
const FREE = -1;

/** H_INT_FLAGS bits: news the renderer raises for the control plane. */
export const INT_VRING = 1;
export const INT_NEEDS_RESET = 2;
/** A TX stream holds less than its low-water mark (StreamSlot.lowWater). */
export const INT_TX_LOW = 4;

/**
 * The most frames one render pass handles: the Web Audio block. Longer
 * blocks (AudioContext renderSizeHint) are rendered in passes of at most
 * this, so every buffer sized for it fits.
 */
export const BLOCK_FRAMES = 128;

export interface SharedLayoutParams {
  streams: number;
  /** Float32 words reserved per stream for a resampler design (its header included). */
  coefficientWords: number;
  /**
   * Stereo frames of resampler history per stream (0: no stream resamples).
   * The history lives here, not in the renderer, so a snapshot keeps it.
   */
  resamplerFrames: number;
  /** Stereo frames in the output tap ring (0 = no tap). Power of two. */
  tapFrames: number;
}

/** Words of a stream's coefficient region needed for a design of `coefs` coefficients. */
export function coefficientRegionWords(coefs: number): number {
  return COEF_HEADER_WORDS + coefs;
}

/** Words of a stream's resampler region: its position words, then stereo history. */
function resamplerRegionWords(frames: number): number {
  return RESAMPLER_STATE_WORDS + 2 * frames;
}

/** Word offsets of every region, computed from the parameters. */
class Regions {
  readonly queues = HEADER_WORDS;
  readonly streamTable: number;
  readonly fifos: number;
  readonly messages: number;
  readonly events: number;
  readonly completions: number;
  readonly coefficients: number;
  readonly resamplers: number;
  readonly tap: number;
  readonly totalWords: number;

  constructor(p: SharedLayoutParams) {
    if (!Number.isInteger(p.streams) || p.streams < 1) {
      throw new RangeError(`streams ${p.streams} must be a positive integer`);
    }
    if (p.tapFrames !== 0 && (p.tapFrames & (p.tapFrames - 1)) !== 0) {
      throw new RangeError(`tapFrames ${p.tapFrames} is not a power of two`);
    }
    let w = this.queues + QUEUE_COUNT * QUEUE_STATE_WORDS;
    this.streamTable = w;
    w += p.streams * STREAM_WORDS;
    this.fifos = w;
    w += p.streams * IO_QUEUE_MAX;
    this.messages = w;
    w += 2 * IO_QUEUE_MAX * MSG_WORDS; // TX, then RX
    this.events = w;
    w += 2 * EVENT_RING_ENTRIES;
    this.completions = w;
    w += 2 * 4 * COMPLETION_LOG_ENTRIES; // TX, then RX
    this.coefficients = w;
    w += p.streams * p.coefficientWords;
    this.resamplers = w;
    w += p.streams * resamplerRegionWords(p.resamplerFrames);
    this.tap = w;
    w += 2 * p.tapFrames;
    this.totalWords = w;
  }
}

/**
 * One 32-bit word of the header (a counter, an index, a flag word) with the
 * atomic operations the two halves use on it.
 */
export class SharedWord {
  constructor(
    private readonly i32: Int32Array,
    private readonly at: number,
  ) {}
  load(): number {
    return Atomics.load(this.i32, this.at);
  }
  store(v: number): void {
    Atomics.store(this.i32, this.at, v);
  }
  add(v: number): number {
    return Atomics.add(this.i32, this.at, v);
  }
  or(v: number): number {
    return Atomics.or(this.i32, this.at, v);
  }
  exchange(v: number): number {
    return Atomics.exchange(this.i32, this.at, v);
  }
  compareExchange(expected: number, v: number): number {
    return Atomics.compareExchange(this.i32, this.at, expected, v);
  }
  /** Wakes threads blocked in Atomics.wait on this word. */
  notify(): void {
    Atomics.notify(this.i32, this.at);
  }
  /** Whether this platform has Atomics.waitAsync. */
  static get canWaitAsync(): boolean {
    return typeof (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync === 'function';
  }
  /** Atomics.waitAsync on this word, where the platform has it (else null). */
  waitAsync(seen: number): { async: boolean; value: Promise<string> | string } | null {
    const w = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
    return typeof w === 'function' ? w(this.i32, this.at, seen) : null;
  }
  /** Plain (non-atomic) access, for words only one side writes at a time. */
  get value(): number {
    return this.i32[this.at];
  }
  set value(v: number) {
    this.i32[this.at] = v;
  }
}

type WaitAsync = (
  a: Int32Array,
  i: number,
  v: number,
) => { async: boolean; value: Promise<string> | string };

/**
 * A stream's entry in the stream table, and its FIFO of message heads. The
 * parameters are written by the control plane holding the stream's queue
 * lock; the position, xrun and completion counters by whichever half holds it.
 */
export class StreamSlot {
  private readonly i32: Int32Array;
  private readonly f32: Float32Array;
  private readonly b: number;
  /** This stream's FIFO of message heads (IO_QUEUE_MAX entries). */
  private readonly fifo: Int32Array;
  /** PCM events that found the event ring full: counted here, delivered later. */
  readonly periodsOverflow: SharedWord;
  readonly xrunsOverflow: SharedWord;

  constructor(
    i32: Int32Array,
    f32: Float32Array,
    base: number,
    fifo: Int32Array,
    readonly id: number,
  ) {
    this.i32 = i32;
    this.f32 = f32;
    this.b = base;
    this.fifo = fifo;
    this.periodsOverflow = new SharedWord(i32, base + S_EVT_PERIODS_OVERFLOW);
    this.xrunsOverflow = new SharedWord(i32, base + S_EVT_XRUNS_OVERFLOW);
  }

  /** Clears the entry (device reset): state 0, not started, FIFO empty. */
  clear(direction: number): void {
    this.i32.fill(0, this.b, this.b + STREAM_WORDS);
    this.i32[this.b + S_DIRECTION] = direction;
    this.i32[this.b + S_START_FRAME] = -1; // 0 would read as "started at frame 0"
  }

  /** PREPARE: position, counters and meters start again. */
  resetPosition(): void {
    const u = this.i32;
    const b = this.b;
    u[b + S_XRUN] = 0;
    u[b + S_PERIOD_POS] = 0;
    u[b + S_FRAMES_LO] = 0;
    u[b + S_FRAMES_HI] = 0;
    u[b + S_COMPLETED] = 0;
    this.f32[b + S_PEAK] = 0;
    u[b + S_START_FRAME] = -1;
  }

  /** PCM state (shared/stream-state.ts). */
  get state(): number {
    return this.i32[this.b + S_STATE];
  }
  set state(v: number) {
    this.i32[this.b + S_STATE] = v;
  }
  /** VIRTIO_SND_D_OUTPUT or VIRTIO_SND_D_INPUT. */
  get direction(): number {
    return this.i32[this.b + S_DIRECTION];
  }
  get channels(): number {
    return this.i32[this.b + S_CHANNELS];
  }
  get format(): number {
    return this.i32[this.b + S_FORMAT];
  }
  /** VIRTIO_SND_PCM_RATE_* index. */
  get rate(): number {
    return this.i32[this.b + S_RATE];
  }
  get rateHz(): number {
    return this.i32[this.b + S_RATE_HZ];
  }
  get periodBytes(): number {
    return this.i32[this.b + S_PERIOD_BYTES];
  }
  get bufferBytes(): number {
    return this.i32[this.b + S_BUFFER_BYTES];
  }
  /** VIRTIO_SND_PCM_F_* bits of SET_PARAMS. */
  get features(): number {
    return this.i32[this.b + S_FEATURES];
  }
  get frameBytes(): number {
    return this.i32[this.b + S_FRAME_BYTES];
  }

  /** SET_PARAMS: new parameters (the caller holds the queue lock). */
  setParams(p: Omit<PcmSetParams, 'streamId'> & { rateHz: number; frameBytes: number }): void {
    const u = this.i32;
    const b = this.b;
    u[b + S_BUFFER_BYTES] = p.bufferBytes;
    u[b + S_PERIOD_BYTES] = p.periodBytes;
    u[b + S_FEATURES] = p.features;
    u[b + S_CHANNELS] = p.channels;
    u[b + S_FORMAT] = p.format;
    u[b + S_RATE] = p.rate;
    u[b + S_RATE_HZ] = p.rateHz;
    u[b + S_FRAME_BYTES] = p.frameBytes;
  }

  /** Bumped by SET_PARAMS and PREPARE: the renderer re-reads the parameters. */
  get prepareGen(): number {
    return this.i32[this.b + S_PREPARE_GEN];
  }
  bumpPrepareGen(): void {
    this.i32[this.b + S_PREPARE_GEN]++;
  }

  /** Payload bytes queued in the device and not yet rendered / captured. */
  get queuedBytes(): number {
    return this.i32[this.b + S_QUEUED_BYTES];
  }
  set queuedBytes(v: number) {
    this.i32[this.b + S_QUEUED_BYTES] = v;
  }

  /** 0, 1 while in an xrun episode, or XRUN_END_OF_STREAM. */
  get xrun(): number {
    return this.i32[this.b + S_XRUN];
  }
  set xrun(v: number) {
    this.i32[this.b + S_XRUN] = v;
  }
  get xrunCount(): number {
    return this.i32[this.b + S_XRUN_COUNT];
  }
  set xrunCount(v: number) {
    this.i32[this.b + S_XRUN_COUNT] = v;
  }
  /** Messages completed since PREPARE. */
  get completed(): number {
    return this.i32[this.b + S_COMPLETED];
  }
  set completed(v: number) {
    this.i32[this.b + S_COMPLETED] = v;
  }
  /** Bytes since the last period boundary (for PERIOD_ELAPSED events). */
  get periodPos(): number {
    return this.i32[this.b + S_PERIOD_POS];
  }
  set periodPos(v: number) {
    this.i32[this.b + S_PERIOD_POS] = v;
  }

  /** Frames played / captured at the stream rate since PREPARE (up to 2^53). */
  get frames(): number {
    return (
      (this.i32[this.b + S_FRAMES_HI] >>> 0) * 2 ** 32 + (this.i32[this.b + S_FRAMES_LO] >>> 0)
    );
  }
  addFrames(n: number): void {
    const lo = (this.i32[this.b + S_FRAMES_LO] >>> 0) + n;
    if (lo > 0xffffffff) this.i32[this.b + S_FRAMES_HI]++;
    this.i32[this.b + S_FRAMES_LO] = lo >>> 0;
  }
  /** Payload bytes played / captured since PREPARE. */
  get playedBytes(): number {
    return this.frames * this.frameBytes;
  }

  /** Context frame (low 32 bits) of the last completion. */
  get lastCompletionFrame(): number {
    return this.i32[this.b + S_LAST_COMPLETION_FRAME] >>> 0;
  }
  set lastCompletionFrame(v: number) {
    this.i32[this.b + S_LAST_COMPLETION_FRAME] = v;
  }
  /** latency_bytes of the last completion. */
  get lastLatency(): number {
    return this.i32[this.b + S_LAST_LATENCY];
  }
  set lastLatency(v: number) {
    this.i32[this.b + S_LAST_LATENCY] = v;
  }
  /**
   * TX payload bytes below which the renderer rings the doorbell each block
   * (INT_TX_LOW), so a host that feeds the device late (the relay's hold-back)
   * is woken by the audio clock, not a timer. 0: never.
   */
  get lowWater(): number {
    return this.i32[this.b + S_LOW_WATER];
  }
  set lowWater(v: number) {
    this.i32[this.b + S_LOW_WATER] = v;
  }
  /** Peak |sample| of the last quantum (for meters). */
  get peak(): number {
    return this.f32[this.b + S_PEAK];
  }
  set peak(v: number) {
    this.f32[this.b + S_PEAK] = v;
  }
  /**
   * Context frame (low 32 bits) of the quantum in which the stream played or
   * captured its first frame since PREPARE; -1 before that. Lets tests line
   * the audio clock up with the stream.
   */
  get startFrame(): number {
    return this.i32[this.b + S_START_FRAME];
  }
  set startFrame(v: number) {
    this.i32[this.b + S_START_FRAME] = v;
  }

  /** Context frames the stream has been dry while XRUN_DRY (the grace before an xrun). */
  get dryFrames(): number {
    return this.i32[this.b + S_DRY_FRAMES];
  }
  set dryFrames(v: number) {
    this.i32[this.b + S_DRY_FRAMES] = v;
  }

  /**
   * Everything of the entry a snapshot keeps (its direction is the device's
   * configuration, its low-water mark the host's).
   */
  saveState(): StreamSlotState {
    const u = this.i32;
    const b = this.b;
    const fifo: number[] = [];
    const r = u[b + S_FIFO_READ];
    for (let k = 0; k < this.fifoCount; k++) fifo.push(this.fifo[(r + k) & (IO_QUEUE_MAX - 1)]);
    return {
      state: u[b + S_STATE],
      channels: u[b + S_CHANNELS],
      format: u[b + S_FORMAT],
      rate: u[b + S_RATE],
      rateHz: u[b + S_RATE_HZ],
      periodBytes: u[b + S_PERIOD_BYTES],
      bufferBytes: u[b + S_BUFFER_BYTES],
      features: u[b + S_FEATURES],
      frameBytes: u[b + S_FRAME_BYTES],
      queuedBytes: u[b + S_QUEUED_BYTES],
      fifo,
      xrun: u[b + S_XRUN],
      xrunCount: u[b + S_XRUN_COUNT] >>> 0,
      completed: u[b + S_COMPLETED] >>> 0,
      periodPos: u[b + S_PERIOD_POS],
      frames: this.frames,
      lastCompletionFrame: this.lastCompletionFrame,
      lastLatency: u[b + S_LAST_LATENCY] >>> 0,
      peak: this.f32[b + S_PEAK],
      startFrame: u[b + S_START_FRAME],
      dryFrames: u[b + S_DRY_FRAMES],
      periodsOverflow: u[b + S_EVT_PERIODS_OVERFLOW] >>> 0,
      xrunsOverflow: u[b + S_EVT_XRUNS_OVERFLOW] >>> 0,
    };
  }

  /**
   * Sets the entry from a snapshot (checked by the caller, who holds the
   * stream's queue lock) and bumps the prepare generation so the renderer
   * re-reads it.
   */
  applyState(st: StreamSlotState): void {
    const u = this.i32;
    const b = this.b;
    const direction = u[b + S_DIRECTION];
    const gen = u[b + S_PREPARE_GEN];
    // The low-water mark is the host's setting (setTxLowWater), like the direction.
    const lowWater = u[b + S_LOW_WATER];
    u.fill(0, b, b + STREAM_WORDS);
    u[b + S_DIRECTION] = direction;
    u[b + S_LOW_WATER] = lowWater;
    u[b + S_PREPARE_GEN] = gen + 1;
    u[b + S_STATE] = st.state;
    u[b + S_CHANNELS] = st.channels;
    u[b + S_FORMAT] = st.format;
    u[b + S_RATE] = st.rate;
    u[b + S_RATE_HZ] = st.rateHz;
    u[b + S_PERIOD_BYTES] = st.periodBytes;
    u[b + S_BUFFER_BYTES] = st.bufferBytes;
    u[b + S_FEATURES] = st.features;
    u[b + S_FRAME_BYTES] = st.frameBytes;
    u[b + S_QUEUED_BYTES] = st.queuedBytes;
    st.fifo.forEach((head, k) => {
      this.fifo[k] = head;
    });
    u[b + S_FIFO_READ] = 0;
    u[b + S_FIFO_WRITE] = st.fifo.length;
    u[b + S_XRUN] = st.xrun;
    u[b + S_XRUN_COUNT] = st.xrunCount;
    u[b + S_COMPLETED] = st.completed;
    u[b + S_PERIOD_POS] = st.periodPos;
    u[b + S_FRAMES_LO] = st.frames % 2 ** 32;
    u[b + S_FRAMES_HI] = Math.floor(st.frames / 2 ** 32);
    u[b + S_LAST_COMPLETION_FRAME] = st.lastCompletionFrame;
    u[b + S_LAST_LATENCY] = st.lastLatency;
    this.f32[b + S_PEAK] = st.peak;
    u[b + S_START_FRAME] = st.startFrame;
    u[b + S_DRY_FRAMES] = st.dryFrames;
    u[b + S_EVT_PERIODS_OVERFLOW] = st.periodsOverflow;
    u[b + S_EVT_XRUNS_OVERFLOW] = st.xrunsOverflow;
  }

  // ---- the FIFO of message heads, oldest first ----
  get fifoCount(): number {
    return (this.i32[this.b + S_FIFO_WRITE] - this.i32[this.b + S_FIFO_READ]) | 0;
  }
  /** The oldest head, or -1. */
  fifoFront(): number {
    if (this.fifoCount === 0) return -1;
    return this.fifo[this.i32[this.b + S_FIFO_READ] & (IO_QUEUE_MAX - 1)];
  }
  fifoPush(head: number): void {
    const w = this.i32[this.b + S_FIFO_WRITE];
    this.fifo[w & (IO_QUEUE_MAX - 1)] = head;
    this.i32[this.b + S_FIFO_WRITE] = w + 1;
  }
  fifoPop(): void {
    this.i32[this.b + S_FIFO_READ]++;
  }
  fifoClear(): void {
    this.i32[this.b + S_FIFO_READ] = 0;
    this.i32[this.b + S_FIFO_WRITE] = 0;
  }
}

/** A stream entry as plain values (snapshots). */
export interface StreamSlotState {
  state: number;
  channels: number;
  format: number;
  rate: number;
  rateHz: number;
  periodBytes: number;
  bufferBytes: number;
  features: number;
  frameBytes: number;
  queuedBytes: number;
  /** Heads of its queued messages, oldest first. */
  fifo: number[];
  xrun: number;
  xrunCount: number;
  completed: number;
  periodPos: number;
  frames: number;
  lastCompletionFrame: number;
  lastLatency: number;
  peak: number;
  startFrame: number;
  dryFrames: number;
  periodsOverflow: number;
  xrunsOverflow: number;
}

/** An in-flight message as plain values (snapshots). */
export interface MessageSlotState {
  head: number;
  stream: number;
  bytes: number;
  done: number;
  /** Payload segments: [address, length]. */
  segments: [number, number][];
  /** Where the status goes: up to two [address, length] pieces. */
  status: [number, number, number, number];
}

/** An in-flight TX or RX message, indexed by its descriptor head. */
export class MessageSlot {
  private readonly i32: Int32Array;
  private readonly b: number;

  constructor(
    i32: Int32Array,
    base: number,
    readonly head: number,
  ) {
    this.i32 = i32;
    this.b = base;
  }

  /** The stream it belongs to, or -1 when the slot is free. */
  get stream(): number {
    return this.i32[this.b + M_STREAM];
  }
  set stream(v: number) {
    this.i32[this.b + M_STREAM] = v;
  }
  get free(): boolean {
    return this.i32[this.b + M_STREAM] === FREE;
  }
  release(): void {
    this.i32[this.b + M_STREAM] = FREE;
  }
  /** Payload bytes (TX: PCM to play; RX: room for PCM). */
  get bytes(): number {
    return this.i32[this.b + M_BYTES];
  }
  set bytes(v: number) {
    this.i32[this.b + M_BYTES] = v;
  }
  /** Payload bytes consumed (TX) or filled (RX) so far. */
  get done(): number {
    return this.i32[this.b + M_DONE];
  }
  set done(v: number) {
    this.i32[this.b + M_DONE] = v;
  }
  get segments(): number {
    return this.i32[this.b + M_SEGMENTS];
  }
  set segments(n: number) {
    this.i32[this.b + M_SEGMENTS] = n;
  }
  segAddr(i: number): number {
    return this.i32[this.b + M_SEG_BASE + 2 * i] >>> 0;
  }
  segLen(i: number): number {
    return this.i32[this.b + M_SEG_BASE + 2 * i + 1];
  }
  setSegment(i: number, addr: number, len: number): void {
    this.i32[this.b + M_SEG_BASE + 2 * i] = addr;
    this.i32[this.b + M_SEG_BASE + 2 * i + 1] = len;
  }
  /** Where the 8-byte pcm_status goes: up to two pieces (it may straddle descriptors). */
  setStatus(addr0: number, len0: number, addr1: number, len1: number): void {
    const u = this.i32;
    u[this.b + M_STATUS_ADDR0] = addr0;
    u[this.b + M_STATUS_LEN0] = len0;
    u[this.b + M_STATUS_ADDR1] = addr1;
    u[this.b + M_STATUS_LEN1] = len1;
  }
  get statusAddr0(): number {
    return this.i32[this.b + M_STATUS_ADDR0] >>> 0;
  }
  get statusLen0(): number {
    return this.i32[this.b + M_STATUS_LEN0];
  }
  get statusAddr1(): number {
    return this.i32[this.b + M_STATUS_ADDR1] >>> 0;
  }

  saveState(): MessageSlotState {
    const u = this.i32;
    const b = this.b;
    const segments: [number, number][] = [];
    for (let i = 0; i < this.segments; i++) segments.push([this.segAddr(i), this.segLen(i)]);
    return {
      head: this.head,
      stream: u[b + M_STREAM],
      bytes: u[b + M_BYTES],
      done: u[b + M_DONE],
      segments,
      status: [this.statusAddr0, u[b + M_STATUS_LEN0], this.statusAddr1, u[b + M_STATUS_LEN1]],
    };
  }

  /** Sets the entry from a snapshot (checked by the caller, holding the queue's lock). */
  applyState(m: MessageSlotState): void {
    const u = this.i32;
    const b = this.b;
    u.fill(0, b, b + MSG_WORDS);
    u[b + M_STREAM] = m.stream;
    u[b + M_BYTES] = m.bytes;
    u[b + M_DONE] = m.done;
    u[b + M_SEGMENTS] = m.segments.length;
    m.segments.forEach(([addr, len], i) => {
      this.setSegment(i, addr, len);
    });
    this.setStatus(m.status[0], m.status[1], m.status[2], m.status[3]);
  }
}

/** One completion log: its write count and its ring of [stream, context frame, latency, head]. */
export interface CompletionLogSlot {
  readonly write: SharedWord;
  readonly entries: Int32Array;
}

/**
 * A stream's resampler design, written by the control plane at PREPARE and
 * read by the renderer when it sees the new prepare generation.
 */
export class CoefficientSlot {
  private readonly i32: Int32Array;
  private readonly b: number;
  /** The polyphase coefficients, `capacity` floats. */
  readonly coefs: Float32Array;
  /** Offset of `coefs` in the whole shared Float32 view (the resampler reads it in place). */
  readonly coefsAt: number;

  constructor(i32: Int32Array, f32: Float32Array, base: number, words: number) {
    this.i32 = i32;
    this.b = base;
    this.coefsAt = base + COEF_HEADER_WORDS;
    this.coefs = f32.subarray(this.coefsAt, base + words);
  }

  get capacity(): number {
    return this.coefs.length;
  }
  /** No design: the stream runs at the context rate. */
  clear(): void {
    this.i32.fill(0, this.b, this.b + COEF_HEADER_WORDS);
  }
  write(d: {
    L: number;
    M: number;
    taps: number;
    rows: number;
    exact: boolean;
    inRate: number;
    outRate: number;
  }): void {
    const u = this.i32;
    u[this.b + C_L] = d.L;
    u[this.b + C_M] = d.M;
    u[this.b + C_TAPS] = d.taps;
    u[this.b + C_ROWS] = d.rows;
    u[this.b + C_EXACT] = d.exact ? 1 : 0;
    u[this.b + C_IN] = d.inRate;
    u[this.b + C_OUT] = d.outRate;
  }
  /** Interpolation factor; 0 when there is no design. */
  get L(): number {
    return this.i32[this.b + C_L];
  }
  get M(): number {
    return this.i32[this.b + C_M];
  }
  get taps(): number {
    return this.i32[this.b + C_TAPS];
  }
  get rows(): number {
    return this.i32[this.b + C_ROWS];
  }
  get exact(): boolean {
    return this.i32[this.b + C_EXACT] === 1;
  }
}

/** The header words kept in a snapshot, as plain values. */
export interface SharedHeaderState {
  /** 1 once DRIVER_OK made the device usable. */
  active: number;
  /** INT_* news the control plane has not picked up yet. */
  intFlags: number;
  quantum: number;
  framesRendered: number;
  tapWrite: number;
  /** Write positions of the TX and RX completion logs. */
  completionWrites: [tx: number, rx: number];
  txBytes: number;
  rxBytes: number;
  badMessages: number;
  evtOverflowed: number;
  outputLatencyUs: number;
}

/** Typed views over the shared buffer, made once. */
export class SharedState {
  readonly params: SharedLayoutParams;
  private readonly regions: Regions;
  private readonly i32: Int32Array;
  private readonly f32: Float32Array;
  private readonly u32: Uint32Array;

  // The header.
  /** TX / RX queue try-locks (queue-lock.ts). */
  readonly lockTx: SharedWord;
  readonly lockRx: SharedWord;
  /** INT_* bits the renderer raises for the control plane. */
  readonly intFlags: SharedWord;
  /** Incremented (and notified) whenever the renderer has news. */
  readonly doorbell: SharedWord;
  /** process() calls (a heartbeat). */
  readonly quantum: SharedWord;
  /** 1 while the driver has set DRIVER_OK and the device is usable. */
  readonly active: SharedWord;
  /** Bumped on every device reset so the renderer drops its private state. */
  readonly resetGen: SharedWord;
  readonly evtWrite: SharedWord;
  readonly evtRead: SharedWord;
  /** Events that found the event ring full and went through the per-stream counts. */
  readonly evtOverflowed: SharedWord;
  /** Context frames rendered, low 32 bits (see framesRendered). */
  readonly framesLo: SharedWord;
  private readonly framesHi: SharedWord;
  readonly tapWrite: SharedWord;
  /**
   * The completion logs, indexed by direction (VIRTIO_SND_D_OUTPUT = TX,
   * VIRTIO_SND_D_INPUT = RX): one per queue, because each is written only by
   * whoever holds that queue's lock (a single writer each).
   */
  readonly completionLogs: readonly CompletionLogSlot[];
  /** PCM bytes consumed (TX) and produced (RX) in total. */
  readonly txBytes: SharedWord;
  readonly rxBytes: SharedWord;
  /** Malformed I/O messages (answered BAD_MSG or handed back unused). */
  readonly badMessages: SharedWord;
  /**
   * Microseconds from the renderer's output to the listener's ear (the
   * AudioContext's baseLatency + outputLatency, reported by the host): added
   * to every TX latency_bytes so the guest's delay means "until heard".
   */
  readonly outputLatencyUs: SharedWord;

  // The regions.
  readonly streams: readonly StreamSlot[];
  private readonly messages: readonly MessageSlot[];
  readonly coefficients: readonly CoefficientSlot[];
  /** Each stream's resampler state (position words and history), read and written by its Resampler. */
  readonly resamplers: readonly ResamplerStorage[];
  /** Event ring entries: [code, data] pairs. */
  readonly eventEntries: Int32Array;
  /** Output tap: interleaved stereo, params.tapFrames frames. */
  readonly tapSamples: Float32Array;

  constructor(
    readonly buffer: SharedArrayBuffer,
    params: SharedLayoutParams,
  ) {
    this.params = { ...params };
    const r = new Regions(params);
    this.regions = r;
    if (buffer.byteLength < r.totalWords * 4) {
      throw new RangeError(
        `shared state buffer too small: ${buffer.byteLength} < ${r.totalWords * 4}`,
      );
    }
    const i32 = new Int32Array(buffer, 0, r.totalWords);
    const f32 = new Float32Array(buffer, 0, r.totalWords);
    this.i32 = i32;
    this.f32 = f32;
    this.u32 = new Uint32Array(buffer, 0, r.totalWords);
    const word = (at: number) => new SharedWord(i32, at);
    this.lockTx = word(H_LOCK_TX);
    this.lockRx = word(H_LOCK_RX);
    this.intFlags = word(H_INT_FLAGS);
    this.doorbell = word(H_DOORBELL);
    this.quantum = word(H_QUANTUM);
    this.active = word(H_ACTIVE);
    this.resetGen = word(H_RESET_GEN);
    this.evtWrite = word(H_EVT_WRITE);
    this.evtRead = word(H_EVT_READ);
    this.evtOverflowed = word(H_EVT_OVERFLOWED);
    this.framesLo = word(H_FRAMES_LO);
    this.framesHi = word(H_FRAMES_HI);
    this.tapWrite = word(H_TAP_WRITE);
    this.txBytes = word(H_TX_BYTES);
    this.rxBytes = word(H_RX_BYTES);
    this.badMessages = word(H_BAD_MESSAGES);
    this.outputLatencyUs = word(H_OUTPUT_LATENCY_US);
    this.streams = Array.from({ length: params.streams }, (_, id) => {
      const fifo = i32.subarray(r.fifos + id * IO_QUEUE_MAX, r.fifos + (id + 1) * IO_QUEUE_MAX);
      return new StreamSlot(i32, f32, r.streamTable + id * STREAM_WORDS, fifo, id);
    });
    this.messages = Array.from(
      { length: 2 * IO_QUEUE_MAX },
      (_, k) => new MessageSlot(i32, r.messages + k * MSG_WORDS, k % IO_QUEUE_MAX),
    );
    const cw = params.coefficientWords;
    this.coefficients = Array.from(
      { length: params.streams },
      (_, id) => new CoefficientSlot(i32, f32, r.coefficients + id * cw, cw),
    );
    const rw = resamplerRegionWords(params.resamplerFrames);
    this.resamplers = Array.from({ length: params.streams }, (_, id) => {
      const b = r.resamplers + id * rw;
      return {
        words: i32.subarray(b, b + RESAMPLER_STATE_WORDS),
        hist: f32.subarray(b + RESAMPLER_STATE_WORDS, b + rw),
      };
    });
    this.eventEntries = i32.subarray(r.events, r.events + 2 * EVENT_RING_ENTRIES);
    this.completionLogs = [H_COMPLETION_WRITE_TX, H_COMPLETION_WRITE_RX].map((h, k) => {
      const at = r.completions + k * 4 * COMPLETION_LOG_ENTRIES;
      return { write: word(h), entries: i32.subarray(at, at + 4 * COMPLETION_LOG_ENTRIES) };
    });
    this.tapSamples = f32.subarray(r.tap, r.tap + 2 * params.tapFrames);
  }

  /** A new, zeroed shared state for these parameters. */
  static create(params: SharedLayoutParams): SharedState {
    const r = new Regions(params);
    const s = new SharedState(new SharedArrayBuffer(r.totalWords * 4), params);
    s.i32[H_MAGIC] = SHARED_MAGIC;
    s.i32[H_VERSION] = SHARED_VERSION;
    return s;
  }

  /** Bytes a shared state with these parameters takes. */
  static byteLength(params: SharedLayoutParams): number {
    return new Regions(params).totalWords * 4;
  }

  /** The Float32 view of the whole buffer (the resampler reads coefficients in place). */
  get floats(): Float32Array {
    return this.f32;
  }

  /** The state block of virtqueue `index` (a view: DeviceQueue keeps it). */
  queueState(index: number): Uint32Array {
    const base = this.regions.queues + index * QUEUE_STATE_WORDS;
    return this.u32.subarray(base, base + QUEUE_STATE_WORDS);
  }

  /** The slot of message `head` of the TX (true) or RX queue. */
  message(tx: boolean, head: number): MessageSlot {
    return this.messages[(tx ? 0 : IO_QUEUE_MAX) + head];
  }

  /** Target gains the control plane sets from the master controls. */
  get playbackGain(): number {
    return this.f32[H_GAIN_PLAYBACK];
  }
  set playbackGain(v: number) {
    this.f32[H_GAIN_PLAYBACK] = v;
  }
  get captureGain(): number {
    return this.f32[H_GAIN_CAPTURE];
  }
  set captureGain(v: number) {
    this.f32[H_GAIN_CAPTURE] = v;
  }

  /** Context frames rendered since the device was made (up to 2^53). */
  get framesRendered(): number {
    return (this.framesHi.load() >>> 0) * 2 ** 32 + (this.framesLo.load() >>> 0);
  }

  /** The renderer has rendered `frames` context frames from `from` (framesLo as it read it). */
  advanceFrames(from: number, frames: number): void {
    const lo = (from >>> 0) + frames;
    // A snapshot restored since `from` was read (applyHeader, from another
    // thread) set the counter: its value stands, this block is not counted.
    if (this.framesLo.compareExchange(from | 0, lo | 0) !== (from | 0)) return;
    if (lo > 0xffffffff) this.framesHi.add(1);
  }

  /** The header words a snapshot keeps (locks, doorbell and the event ring are not among them). */
  saveHeader(): SharedHeaderState {
    return {
      active: this.active.load(),
      intFlags: this.intFlags.load(),
      quantum: this.quantum.load() >>> 0,
      framesRendered: this.framesRendered,
      tapWrite: this.tapWrite.load() >>> 0,
      completionWrites: [
        this.completionLogs[0].write.load() >>> 0,
        this.completionLogs[1].write.load() >>> 0,
      ],
      txBytes: this.txBytes.load() >>> 0,
      rxBytes: this.rxBytes.load() >>> 0,
      badMessages: this.badMessages.load() >>> 0,
      evtOverflowed: this.evtOverflowed.load() >>> 0,
      outputLatencyUs: this.outputLatencyUs.load() >>> 0,
    };
  }

  /**
   * Sets the header from a snapshot (the caller holds both queue locks). The
   * tap and the completion logs start empty at the restored positions.
   */
  applyHeader(h: SharedHeaderState): void {
    this.intFlags.store(h.intFlags);
    this.quantum.store(h.quantum);
    this.framesHi.store(Math.floor(h.framesRendered / 2 ** 32));
    this.framesLo.store(h.framesRendered % 2 ** 32);
    this.tapSamples.fill(0);
    this.tapWrite.store(h.tapWrite);
    this.completionLogs.forEach((log, k) => {
      log.entries.fill(0);
      log.write.store(h.completionWrites[k]);
    });
    this.txBytes.store(h.txBytes);
    this.rxBytes.store(h.rxBytes);
    this.badMessages.store(h.badMessages);
    this.evtOverflowed.store(h.evtOverflowed);
    this.outputLatencyUs.store(h.outputLatencyUs);
    this.active.store(h.active);
  }

  /** Raises news for the control plane (INT_* bits) and rings the doorbell. */
  ring(flags: number): void {
    if (flags) this.intFlags.or(flags);
    this.doorbell.add(1);
    this.doorbell.notify();
  }
}
