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

import { VIRTIO_SND_S_OK } from '../snd/protocol.ts';
import type { ChannelPositions } from './channel-routing.ts';
import type { EventRing } from './event-ring.ts';
import type { IoQueue } from './io-queue.ts';
import type { PcmIo } from './pcm-io.ts';
import { QUANTUM } from './playback-stream.ts';
import { H_RX_BYTES, M_BYTES, M_DONE, S_PEAK, type SharedState } from './shared-state.ts';
import { StreamParams } from './stream-params.ts';
import { advancePosition, markXrun } from './stream-position.ts';
import { StreamResampler } from './stream-runtime.ts';

const MAX_CHANNELS = 8;

export class CaptureStream {
  private route: readonly number[] = [];
  /** Left/right at the stream rate, interleaved. */
  private readonly stereo: Float32Array;
  /** Stream frames, all channels, interleaved. */
  private readonly frames: Float32Array;
  private readonly p = new StreamParams();
  private readonly resampler: StreamResampler;
  private readonly base: number;

  constructor(
    readonly id: number,
    private readonly s: SharedState,
    private readonly rx: IoQueue,
    private readonly io: PcmIo,
    private readonly events: EventRing,
    private readonly positions: ChannelPositions,
    contextRate: number,
  ) {
    this.base = s.stream(id);
    this.resampler = new StreamResampler(s, id, contextRate, 'capture');
    const maxOut = this.resampler.maxOutputFrames(QUANTUM);
    this.stereo = new Float32Array(maxOut * 2);
    this.frames = new Float32Array(maxOut * MAX_CHANNELS);
  }

  /** Takes new parameters after SET_PARAMS / PREPARE. */
  private sync(): void {
    this.route = this.positions.captureRoute(this.p.channels);
    this.resampler.configure(this.p.rateHz);
  }

  reset(): void {
    this.p.reset();
  }

  /** Captures one quantum: `input` holds QUANTUM interleaved L/R frames at the context rate. */
  capture(input: Float32Array): void {
    const u = this.s.i32;
    const b = this.base;
    if (this.p.refresh(u, b)) this.sync();
    const n = this.resampler.push(input, QUANTUM, this.stereo);
    const ch = this.p.channels;
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
    this.s.f32[b + S_PEAK] = peak;
    this.give(n);
  }

  /** Writes `n` frames into the stream's RX messages, completing full ones. */
  private give(n: number): void {
    const u = this.s.i32;
    const b = this.base;
    const fb = this.p.frameBytes;
    let put = 0;
    while (put < n) {
      const m = this.rx.front(this.id);
      if (m < 0) break;
      const done = u[m + M_DONE];
      const room = (u[m + M_BYTES] - done) / fb;
      const k = Math.min(n - put, room);
      this.io.write(
        m,
        done,
        k * this.p.channels,
        this.p.format,
        this.p.sampleBytes,
        this.frames,
        put * this.p.channels,
      );
      u[m + M_DONE] = done + k * fb;
      u[H_RX_BYTES] += k * fb;
      advancePosition(u, b, this.id, this.events, k, k * fb);
      put += k;
      if (u[m + M_DONE] === u[m + M_BYTES]) this.rx.completeFront(this.id, VIRTIO_SND_S_OK);
    }
    if (n > 0) markXrun(u, b, this.id, this.events, put < n);
  }
}
