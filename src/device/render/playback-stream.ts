/**
 * One output stream in the renderer: each quantum it takes the frames it
 * needs from the stream's TX messages in order, converts them to float32,
 * picks the left/right channels, resamples to the context rate and adds the
 * result to the mix. A message is completed in the quantum that consumes its
 * last frame. Running dry outputs silence and raises one XRUN per episode.
 *
 * Everything is allocated in the constructor; render() allocates nothing.
 */

import { VIRTIO_SND_S_OK } from '../../snd/protocol.ts';
import { XRUN_END_OF_STREAM } from '../shared/stream-state.ts';
import type { ChannelPositions } from './channel-routing.ts';
import { BLOCK_FRAMES, type StreamContext, StreamCore } from './stream-core.ts';
import { StreamResampler } from './stream-resampler.ts';

const MAX_CHANNELS = 8;

export class PlaybackStream extends StreamCore {
  private left = 0;
  private right = 0;
  /** Stereo with channel 0 left and 1 right: no channel picking needed. */
  private direct = false;
  /** Decoded stream frames, all channels, interleaved. */
  private readonly decoded: Float32Array;
  /** Left/right at the stream rate, interleaved. */
  private readonly stereo: Float32Array;
  /** Left/right at the context rate, interleaved. */
  private readonly out = new Float32Array(2 * BLOCK_FRAMES);
  private readonly resampler: StreamResampler;
  /** Peak |sample| of what the last takeInto() mixed. */
  private peak = 0;
  constructor(id: number, ctx: StreamContext, positions: ChannelPositions) {
    super(id, ctx, positions);
    this.resampler = new StreamResampler(ctx.s, id, ctx.contextRate);
    const maxIn = this.resampler.maxInputFrames(BLOCK_FRAMES);
    this.decoded = new Float32Array(maxIn * MAX_CHANNELS);
    this.stereo = new Float32Array(maxIn * 2);
  }

  /** Takes new parameters after SET_PARAMS / PREPARE. */
  private sync(): void {
    const route = this.positions.playbackRoute(this.channels);
    this.left = route[0];
    this.right = route[1];
    this.direct = this.channels === 2 && this.left === 0 && this.right === 1;
    this.resampler.configure(this.rateHz);
  }

  /**
   * Renders `n` frames of the (running) stream into the left/right mix:
   * added to it, or written over it when `add` is false (the first stream).
   */
  render(
    mixL: Float32Array,
    mixR: Float32Array,
    add: boolean,
    blockStart: number,
    n: number,
  ): void {
    this.blockStart = blockStart;
    if (this.refresh()) this.sync();
    if (this.direct && this.resampler.bypass) {
      // Plain stereo at the context rate: decode straight into the mix.
      const got = this.takeInto(n, mixL, mixR, add);
      if (got < n && !add) {
        mixL.fill(0, got, n);
        mixR.fill(0, got, n);
      }
      this.markXrun(got < n, n);
    } else {
      const need = this.resampler.framesNeeded(n);
      const got = this.takeInto(need, null, null, add);
      const st = this.stereo;
      if (!this.direct) {
        const ch = this.channels;
        const dec = this.decoded;
        const l = this.left;
        const r = this.right;
        for (let f = 0; f < got; f++) {
          st[2 * f] = dec[f * ch + l];
          st[2 * f + 1] = dec[f * ch + r];
        }
      }
      if (got < need) st.fill(0, 2 * got, 2 * need);
      this.markXrun(got < need, n);
      const out = this.resampler.pull(st, need, this.out, n);
      this.peak = 0;
      this.mixInterleaved(out, n, mixL, mixR, 0, add);
    }
    this.slot.peak = this.peak;
  }

  /** What the last render() added may lie outside [-1, 1]: it went through the resampler. */
  get resampling(): boolean {
    return !this.resampler.bypass;
  }

  /** The stream holds less than its low-water mark (StreamSlot.lowWater). */
  get belowLowWater(): boolean {
    const low = this.slot.lowWater;
    return low > 0 && this.slot.queuedBytes < low;
  }

  /**
   * Takes up to `need` frames from the FIFO, completing finished messages.
   * With a mix (plain stereo, no resampling) they go straight into it and
   * `this.peak` is their peak; otherwise they are decoded into `stereo`
   * (plain stereo) or `decoded` (any other layout). Returns frames taken.
   */
  private takeInto(
    need: number,
    mixL: Float32Array | null,
    mixR: Float32Array | null,
    add: boolean,
  ): number {
    const st = this.slot;
    const fb = this.frameBytes;
    const ch = this.channels;
    let got = 0;
    this.peak = 0;
    while (got < need) {
      const m = this.queue.front(this.id);
      if (m === null) break;
      const done = m.done;
      const avail = (m.bytes - done) / fb;
      const k = Math.min(need - got, avail);
      if (mixL !== null && mixR !== null) {
        if (this.io.mixStereo(m, done, k, this.format, fb, mixL, mixR, got, add)) {
          const pk = this.io.codec.peak;
          if (pk > this.peak) this.peak = pk;
        } else {
          // Another format, or frames split across descriptors: decode, then mix.
          this.io.read(m, done, k * 2, this.format, this.sampleBytes, this.stereo, 0);
          this.mixInterleaved(this.stereo, k, mixL, mixR, got, add);
        }
      } else {
        const target = this.direct ? this.stereo : this.decoded;
        this.io.read(m, done, k * ch, this.format, this.sampleBytes, target, got * ch);
      }
      const bytes = k * fb;
      m.done = done + bytes;
      st.queuedBytes -= bytes;
      this.s.txBytes.value += bytes;
      this.advance(k, bytes);
      got += k;
      if (m.done === m.bytes) {
        // A message shorter than a period marks the end of the stream (spec 5.14.6.8):
        // running dry after it is not an underrun.
        if (m.bytes < st.periodBytes) st.xrun = XRUN_END_OF_STREAM;
        this.queue.completeFront(this.id, VIRTIO_SND_S_OK);
      }
    }
    return got;
  }

  /**
   * Interleaved stereo `src` (`n` frames) into a planar mix at `off`: added,
   * or assigned when `add` is false; raises `this.peak` to their peak.
   */
  private mixInterleaved(
    src: Float32Array,
    n: number,
    mixL: Float32Array,
    mixR: Float32Array,
    off: number,
    add: boolean,
  ): void {
    let peak = this.peak;
    for (let f = 0; f < n; f++) {
      const l = src[2 * f];
      const r = src[2 * f + 1];
      mixL[off + f] = add ? mixL[off + f] + l : l;
      mixR[off + f] = add ? mixR[off + f] + r : r;
      const a = Math.max(l < 0 ? -l : l, r < 0 ? -r : r);
      if (a > peak) peak = a;
    }
    this.peak = peak;
  }
}
