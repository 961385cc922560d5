/**
 * One input stream in the renderer: each quantum it takes the audio input
 * (left/right at the context rate, capture gain already applied), resamples
 * it to the stream rate, places it in the stream's channels, converts it to
 * the stream format and writes it into the stream's RX messages in order. A
 * message is completed as soon as it is full, with used length = bytes + 8.
 * With no message to fill, the frames are dropped and one XRUN is raised per
 * episode (overrun).
 *
 * Everything is allocated in the constructor; capture() allocates nothing.
 */

import { VIRTIO_SND_S_OK } from '../../snd/protocol.ts';
import type { ChannelPositions } from './channel-routing.ts';
import { BLOCK_FRAMES, type StreamContext, StreamCore } from './stream-core.ts';
import { StreamResampler } from './stream-resampler.ts';

const MAX_CHANNELS = 8;

export class CaptureStream extends StreamCore {
  private route: readonly number[] = [];
  /** Left/right at the stream rate, interleaved. */
  private readonly stereo: Float32Array;
  /** Stream frames, all channels, interleaved. */
  private readonly frames: Float32Array;
  private readonly resampler: StreamResampler;
  constructor(id: number, ctx: StreamContext, positions: ChannelPositions) {
    super(id, ctx, positions);
    this.resampler = new StreamResampler(ctx.s, id, ctx.contextRate);
    const maxOut = this.resampler.maxOutputFrames(BLOCK_FRAMES);
    this.stereo = new Float32Array(maxOut * 2);
    this.frames = new Float32Array(maxOut * MAX_CHANNELS);
  }

  /** Takes new parameters after SET_PARAMS / PREPARE. */
  private sync(): void {
    this.route = this.positions.captureRoute(this.channels);
    this.resampler.configure(this.rateHz);
  }

  /** Captures one pass: `input` holds `frames` (at most BLOCK_FRAMES) interleaved L/R frames at the context rate. */
  capture(input: Float32Array, blockStart: number, frames: number): void {
    this.blockStart = blockStart;
    if (this.refresh()) this.sync();
    const n = this.resampler.push(input, frames, this.stereo);
    const ch = this.channels;
    const st = this.stereo;
    const fr = this.frames;
    const route = this.route;
    let peak = 0;
    for (let f = 0; f < n; f++) {
      const l = st[2 * f];
      const r = st[2 * f + 1];
      for (let c = 0; c < ch; c++) {
        const w = route[c];
        fr[f * ch + c] = w === 0 ? l : w === 1 ? r : (l + r) * 0.5;
      }
      const a = Math.max(l < 0 ? -l : l, r < 0 ? -r : r);
      if (a > peak) peak = a;
    }
    this.slot.peak = peak;
    this.give(n, frames);
  }

  /** Writes `n` stream frames (of a pass of `frames` context frames) into the stream's RX messages, completing full ones. */
  private give(n: number, frames: number): void {
    const fb = this.frameBytes;
    let put = 0;
    while (put < n) {
      const m = this.queue.front(this.id);
      if (m === null) break;
      const done = m.done;
      const room = (m.bytes - done) / fb;
      const k = Math.min(n - put, room);
      this.io.write(
        m,
        done,
        k * this.channels,
        this.format,
        this.sampleBytes,
        this.frames,
        put * this.channels,
      );
      m.done = done + k * fb;
      // Room left to fill, as TX counts what is left to play.
      this.slot.queuedBytes -= k * fb;
      this.s.rxBytes.value += k * fb;
      this.advance(k, k * fb);
      put += k;
      if (m.done === m.bytes) this.queue.completeFront(this.id, VIRTIO_SND_S_OK);
    }
    if (n > 0) this.markXrun(put < n, frames);
  }
}
