/**
 * Moving PCM between an I/O message's payload segments (in guest memory) and
 * float32 frames, in the audio thread. A message's payload may be split over
 * several descriptors at any byte, so a sample can straddle two segments: such
 * a sample goes through an 8-byte scratch array. Allocation-free.
 */

import { PcmCodec } from '../../pcm/pcm-codec.ts';
import type { GuestMemory } from '../../virtio/memory.ts';
import type { MessageSlot } from '../shared/layout.ts';

export class PcmIo {
  private readonly scratch = new Uint8Array(8);
  private readonly scratchCodec = new PcmCodec(this.scratch);
  /** Start (payload byte) of the segment the last seek() found. */
  private segStart = 0;

  constructor(
    readonly mem: GuestMemory,
    readonly codec: PcmCodec,
  ) {}

  /**
   * Decodes `samples` samples of `format` (each `sampleBytes` bytes) starting
   * at payload byte `offset` of message entry `m` into `out[outOffset...]`.
   */
  read(
    m: MessageSlot,
    offset: number,
    samples: number,
    format: number,
    sampleBytes: number,
    out: Float32Array,
    outOffset: number,
  ): void {
    this.walk(m, offset, samples, format, sampleBytes, out, outOffset, false);
  }

  /**
   * PcmCodec.mixStereo for `frames` frames (`frameBytes` each) at payload
   * byte `offset` of message `m`, when they lie in one segment (the peak is
   * then in codec.peak). Returns false when the caller must take the
   * general path.
   */
  mixStereo(
    m: MessageSlot,
    offset: number,
    frames: number,
    format: number,
    frameBytes: number,
    mixL: Float32Array,
    mixR: Float32Array,
    off: number,
    add: boolean,
  ): boolean {
    const seg = this.seek(m, 0, 0, offset);
    if (seg >= m.segments) return false;
    const segStart = this.segStart;
    if (offset + frames * frameBytes > segStart + m.segLen(seg)) return false;
    const addr = m.segAddr(seg) + (offset - segStart);
    return this.codec.mixStereo(format, addr, frames, mixL, mixR, off, add);
  }

  /**
   * From segment `seg` starting at payload byte `segStart`, the segment of
   * message `m` that holds payload byte `pos` (the segment count if none);
   * its start is left in `this.segStart` (a field: no allocation).
   */
  private seek(m: MessageSlot, seg: number, segStart: number, pos: number): number {
    const nseg = m.segments;
    while (seg < nseg && segStart + m.segLen(seg) <= pos) {
      segStart += m.segLen(seg);
      seg++;
    }
    this.segStart = segStart;
    return seg;
  }

  /** Encodes `samples` samples from `src[srcOffset...]` into message `m` at payload byte `offset`. */
  write(
    m: MessageSlot,
    offset: number,
    samples: number,
    format: number,
    sampleBytes: number,
    src: Float32Array,
    srcOffset: number,
  ): void {
    this.walk(m, offset, samples, format, sampleBytes, src, srcOffset, true);
  }

  private walk(
    m: MessageSlot,
    offset: number,
    samples: number,
    format: number,
    sb: number,
    buf: Float32Array,
    bufOffset: number,
    toGuest: boolean,
  ): void {
    const g = this.mem.u8;
    const nseg = m.segments;
    let seg = this.seek(m, 0, 0, offset);
    let segStart = this.segStart;
    let pos = offset;
    let k = bufOffset;
    let left = samples;
    while (left > 0 && seg < nseg) {
      const addr = m.segAddr(seg);
      const len = m.segLen(seg);
      const inSeg = pos - segStart;
      const whole = Math.min(left, Math.floor((len - inSeg) / sb));
      if (whole > 0) {
        if (toGuest) this.codec.encode(format, buf, k, whole, addr + inSeg);
        else this.codec.decode(format, addr + inSeg, whole, buf, k);
        k += whole;
        left -= whole;
        pos += whole * sb;
      }
      if (left === 0) break;
      const rest = segStart + len - pos;
      if (rest > 0) {
        // One sample straddles this segment and the next ones.
        if (toGuest) {
          this.scratchCodec.encode(format, buf, k, 1, 0);
          this.spread(m, seg, segStart, pos, sb, g, true);
        } else {
          this.spread(m, seg, segStart, pos, sb, g, false);
          this.scratchCodec.decode(format, 0, 1, buf, k);
        }
        k++;
        left--;
        pos += sb;
      }
      // Advance to the segment that holds `pos`.
      seg = this.seek(m, seg, segStart, pos);
      segStart = this.segStart;
    }
    // A short payload cannot happen (sizes were checked at intake); be safe anyway.
    if (!toGuest) for (; left > 0; left--) buf[k++] = 0;
  }

  /** Copies the `sb` bytes at payload position `pos` between the segments and the scratch. */
  private spread(
    m: MessageSlot,
    seg: number,
    segStart: number,
    pos: number,
    sb: number,
    g: Uint8Array,
    toGuest: boolean,
  ): void {
    const nseg = m.segments;
    let s = seg;
    let start = segStart;
    for (let b = 0; b < sb; b++) {
      const p = pos + b;
      s = this.seek(m, s, start, p);
      start = this.segStart;
      if (s >= nseg) return;
      const a = m.segAddr(s) + (p - start);
      if (toGuest) g[a] = this.scratch[b];
      else this.scratch[b] = g[a];
    }
  }
}
