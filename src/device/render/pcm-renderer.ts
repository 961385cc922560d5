/**
 * PcmRenderer: the virtio-snd device's data plane, for the audio thread.
 *
 * process() has the contract of AudioWorkletProcessor.process(): every call
 * renders one block of outputs[0][0].length frames at the context rate (128
 * by default; any length with AudioContext({renderSizeHint})), in passes of at
 * most BLOCK_FRAMES, so the buffers made in the constructor fit any block. It polls the TX and
 * RX avail rings, plays running output streams into `outputs[0]`, fills
 * running input streams' RX messages from `inputs[0]`, completes each message
 * in the quantum where its last frame is played (or its last byte filled), and
 * rings the control plane's doorbell. Period completions are therefore timed
 * by the audio clock.
 *
 * It allocates nothing per call, never blocks (if the control plane holds a
 * queue's lock, that queue waits one quantum), and never throws: anything
 * unexpected marks the device as needing a reset and the output goes silent.
 */

import { PcmCodec } from '../../pcm/pcm-codec.ts';
import { GuestMemory } from '../../virtio/memory.ts';
import { EventRing } from '../shared/event-ring.ts';
import { IoQueue } from '../shared/io-queue.ts';
import { INT_NEEDS_RESET, INT_TX_LOW, INT_VRING, SharedState } from '../shared/layout.ts';
import { writeTap } from '../shared/output-tap.ts';
import { LOCK_RENDERER, tryLock, unlock } from '../shared/queue-lock.ts';
import type { RenderState } from '../shared/render-state.ts';
import { STATE_RUNNING } from '../shared/stream-state.ts';
import { CaptureStream } from './capture-stream.ts';
import { ChannelPositions } from './channel-routing.ts';
import { GainRamp } from './gain-ramp.ts';
import { PcmIo } from './pcm-io.ts';
import { PlaybackStream } from './playback-stream.ts';
import { BLOCK_FRAMES } from './stream-core.ts';

export class PcmRenderer {
  readonly sampleRate: number;
  private readonly s: SharedState;
  private readonly tx: IoQueue;
  private readonly rx: IoQueue;
  private readonly events: EventRing;
  private readonly playback: PlaybackStream[] = [];
  private readonly capture: CaptureStream[] = [];
  private readonly playbackGain = new GainRamp(1);
  private readonly captureGain = new GainRamp(1);
  /** Left/right mix of all output streams, and the interleaved audio input, for one pass. */
  private readonly mixL = new Float32Array(BLOCK_FRAMES);
  private readonly mixR = new Float32Array(BLOCK_FRAMES);
  private readonly input = new Float32Array(2 * BLOCK_FRAMES);
  private resetGen = -1;
  /** Whether a stream wrote the mix this quantum (else it is still to be cleared). */
  private mixed = false;
  /**
   * Whether the mix may have left [-1, 1] this quantum: a resampled stream (a
   * band-limited filter overshoots on full-scale input: up to 2.37 at 8 kHz)
   * or more than one stream (they add). Decoded samples alone never do (the
   * codec clamps them), so the plain path stays bit-exact and costs nothing.
   */
  private mayClip = false;
  /** Number of times process() caught an unexpected exception. */
  faults = 0;

  constructor(state: RenderState) {
    this.sampleRate = state.sampleRate;
    const mem = new GuestMemory(state.memory);
    this.s = new SharedState(state.shared, state.layout);
    this.tx = new IoQueue(mem, this.s, true);
    this.rx = new IoQueue(mem, this.s, false);
    this.events = new EventRing(this.s);
    const io = new PcmIo(mem, new PcmCodec(mem.u8));
    const ctx = { s: this.s, io, events: this.events, contextRate: state.sampleRate };
    const output = { ...ctx, queue: this.tx };
    const input = { ...ctx, queue: this.rx };
    state.streams.forEach((st, id) => {
      const pos = new ChannelPositions(state.chmaps, st.direction, st.hdaFnNid);
      if (st.direction === 'output') this.playback.push(new PlaybackStream(id, output, pos));
      else this.capture.push(new CaptureStream(id, input, pos));
    });
  }

  /** Same contract as AudioWorkletProcessor.process(). Always returns true (keep the node alive). */
  process(inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    try {
      this.render(inputs, outputs);
    } catch {
      // A bug must not kill the audio graph: go silent and ask for a reset.
      this.faults++;
      const out = outputs[0];
      if (out) for (const ch of out) ch.fill(0);
      this.s.ring(INT_NEEDS_RESET);
    }
    return true;
  }

  private render(inputs: Float32Array[][], outputs: Float32Array[][]): void {
    const s = this.s;
    const out = outputs[0];
    const inp = inputs[0];
    const frames = out?.[0]?.length ?? inp?.[0]?.length ?? BLOCK_FRAMES;
    s.quantum.add(1);
    const events = s.evtWrite.load();
    const overflowed = s.evtOverflowed.load();
    let flags = 0;
    for (let off = 0; off < frames; off += BLOCK_FRAMES) {
      flags |= this.renderPass(inp, out, off, Math.min(BLOCK_FRAMES, frames - off), frames);
    }
    if (flags !== 0 || s.evtWrite.load() !== events || s.evtOverflowed.load() !== overflowed)
      s.ring(flags);
  }

  /**
   * Renders frames [off, off + n) of a block of `frames` frames. Returns the
   * INT_* flags raised. A block that fits one pass with a stereo (or wider)
   * output is mixed straight into it; otherwise into the private mix, then copied.
   */
  private renderPass(
    inp: Float32Array[] | undefined,
    out: Float32Array[] | undefined,
    off: number,
    n: number,
    frames: number,
  ): number {
    const s = this.s;
    const blockStart = s.framesLo.load();
    s.advanceFrames(blockStart, n);
    const direct = out !== undefined && out.length > 1 && frames <= BLOCK_FRAMES;
    const mixL = direct ? out[0] : this.mixL;
    const mixR = direct ? out[1] : this.mixR;
    let flags = 0;
    this.mixed = false;
    this.mayClip = false;
    if (s.active.load() === 1) {
      const gen = s.resetGen.load();
      if (gen !== this.resetGen) this.dropPrivateState(gen);
      flags |= this.renderOutputs(mixL, mixR, blockStart, n);
      flags |= this.captureInputs(inp, off, blockStart, n);
    }
    if (!this.mixed) {
      mixL.fill(0, 0, n);
      mixR.fill(0, 0, n);
    }
    this.writeOutputs(out, off, n, mixL, mixR, direct);
    return flags;
  }

  private dropPrivateState(gen: number): void {
    this.resetGen = gen;
    for (const p of this.playback) p.reset();
    for (const c of this.capture) c.reset();
    // A reset guest starts from its default mixer: no ramp from the old volume.
    this.playbackGain.reset(this.s.playbackGain);
    this.captureGain.reset(this.s.captureGain);
  }

  /** Plays the running output streams into the mix; sets `mixed` when one wrote to it. */
  private renderOutputs(
    mixL: Float32Array,
    mixR: Float32Array,
    blockStart: number,
    n: number,
  ): number {
    const s = this.s;
    if (!tryLock(s.lockTx, LOCK_RENDERER)) return 0;
    let flags = 0;
    try {
      if (!this.tx.intake()) flags |= INT_NEEDS_RESET;
      for (const p of this.playback) {
        if (s.streams[p.id].state !== STATE_RUNNING) continue;
        p.render(mixL, mixR, this.mixed, blockStart, n);
        if (p.resampling || this.mixed) this.mayClip = true;
        if (p.belowLowWater) flags |= INT_TX_LOW;
        this.mixed = true;
      }
      if (this.tx.queue.shouldInterrupt()) flags |= INT_VRING;
    } finally {
      // Taken over while we were stalled in here: what we wrote may have raced
      // the control plane (queue-lock.ts), so the guest must reset the device.
      if (!unlock(s.lockTx, LOCK_RENDERER)) flags |= INT_NEEDS_RESET;
    }
    return flags;
  }

  private captureInputs(
    channels: Float32Array[] | undefined,
    off: number,
    blockStart: number,
    n: number,
  ): number {
    const s = this.s;
    if (this.capture.length === 0) return 0;
    let running = false;
    for (const c of this.capture) running ||= s.streams[c.id].state === STATE_RUNNING;
    // Playback only, and no new RX buffers: leave the queue and its lock alone.
    if (!running && !this.rx.queue.mayHaveAvailable()) return 0;
    if (!tryLock(s.lockRx, LOCK_RENDERER)) return 0;
    let flags = 0;
    try {
      if (!this.rx.intake()) flags |= INT_NEEDS_RESET;
      let prepared = false;
      for (const c of this.capture) {
        if (s.streams[c.id].state !== STATE_RUNNING) continue;
        if (!prepared) {
          this.interleaveInput(channels, off, n);
          prepared = true;
        }
        c.capture(this.input, blockStart, n);
      }
      if (this.rx.queue.shouldInterrupt()) flags |= INT_VRING;
    } finally {
      if (!unlock(s.lockRx, LOCK_RENDERER)) flags |= INT_NEEDS_RESET;
    }
    return flags;
  }

  /** Frames [off, off + n) of inputs[0] (planar, maybe absent or mono) -> interleaved L/R, with the capture gain. */
  private interleaveInput(channels: Float32Array[] | undefined, off: number, n: number): void {
    const inp = this.input;
    const l = channels?.[0];
    const r = channels?.[1] ?? l;
    for (let f = 0; f < n; f++) {
      inp[2 * f] = l ? l[off + f] : 0;
      inp[2 * f + 1] = r ? r[off + f] : 0;
    }
    this.captureGain.apply(inp, n, 2, this.s.captureGain);
  }

  /**
   * Playback gain on the mix, clamped to [-1, 1] when it may have left it,
   * then frames [off, off + n) of the node's output (unless it is the mix) and the tap.
   */
  private writeOutputs(
    out: Float32Array[] | undefined,
    off: number,
    n: number,
    l: Float32Array,
    r: Float32Array,
    direct: boolean,
  ): void {
    this.playbackGain.applyPlanar(l, r, n, this.s.playbackGain);
    if (this.mayClip) {
      clampUnit(l, n);
      clampUnit(r, n);
    }
    if (out && out.length > 0) {
      if (out.length > 1) {
        if (!direct) {
          const o0 = out[0];
          const o1 = out[1];
          for (let f = 0; f < n; f++) {
            o0[off + f] = l[f];
            o1[off + f] = r[f];
          }
        }
        for (let c = 2; c < out.length; c++) out[c].fill(0, off, off + n);
      } else {
        const m = out[0];
        for (let f = 0; f < n; f++) m[off + f] = 0.5 * (l[f] + r[f]);
      }
    }
    writeTap(this.s, l, r, n);
  }
}

/** Clamps the first `n` samples of `buf` to [-1, 1] (values inside are left bit for bit). */
function clampUnit(buf: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = buf[i];
    if (x > 1) buf[i] = 1;
    else if (x < -1) buf[i] = -1;
  }
}
