/**
 * Work and sizes bounded by what the device knows, never by what the guest
 * claims: descriptors that alias the same pages many times, payload sizes
 * past 2^31, a guest that republishes chains as fast as they come back.
 */
import { describe, expect, it } from 'vitest';
import { MAX_BUFFER_BYTES } from '../../src/device/shared/layout.ts';
import * as P from '../../src/snd/protocol.ts';
import { type ChainPart, QUANTUM, SndGuest } from '../helpers/snd-guest.ts';

const OK = P.VIRTIO_SND_S_OK;
const BAD = P.VIRTIO_SND_S_BAD_MSG;
const sid = (id: number) => new Uint8Array(new Uint32Array([id]).buffer);

const S16_STEREO = {
  bufferBytes: 4096,
  periodBytes: 1024,
  channels: 2,
  format: P.VIRTIO_SND_PCM_FMT_S16,
  rateHz: 48000,
};

/** A guest with stream 0 (output) and 1 (input) prepared, S16 stereo, 4 KiB buffers. */
function prepared(memBytes = 8 << 20): SndGuest {
  const g = new SndGuest({}, memBytes).init();
  for (const id of [0, 1]) {
    expect(g.setParams({ streamId: id, ...S16_STEREO })).toBe(OK);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, id)).toBe(OK);
  }
  return g;
}

/** `n` descriptors of `len` bytes, all at the same guest address (aliased). */
function aliased(addr: number, len: number, n: number, write: boolean): ChainPart[] {
  return Array.from({ length: n }, () => ({ addr, len, write }));
}

describe('I/O payload sizes (never a wrapped int32)', () => {
  // 63 x 34 MiB + 4 = 2.09 GiB of payload over one 34 MiB region: more than 2^31.
  const SEG = 34 << 20;

  it('an RX message of 64 aliased 34 MiB segments gets BAD_MSG, len 8, nothing captured', () => {
    const g = prepared(40 << 20);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
    const region = g.alloc.alloc(SEG, 8);
    const c = g.chain(3, [
      { len: 4, write: false, data: sid(1) },
      ...aliased(region, SEG, 63, true),
      { len: 8, write: true },
    ]);
    g.quantum();
    expect(g.used[3].get(c.token)).toBe(8);
    expect(g.mem.readU32(c.addrs[64])).toBe(BAD);
    const st = g.device.stats().streams[1];
    expect(st.queuedBytes).toBe(0);
    expect(st.frames).toBe(0);
  });

  it('a TX message of 64 aliased segments gets BAD_MSG and the stream does not jump', () => {
    const g = prepared(40 << 20);
    const region = g.alloc.alloc(SEG, 8);
    const c = g.chain(2, [
      { len: 4, write: false, data: sid(0) },
      ...aliased(region, SEG, 63, false),
      { len: 8, write: true },
    ]);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    g.render(4);
    expect(g.used[2].get(c.token)).toBe(8);
    expect(g.mem.readU32(c.addrs[64])).toBe(BAD);
    const st = g.device.stats().streams[0];
    expect(st.queuedBytes).toBe(0);
    expect(st.frames).toBe(0);
  });

  it('a payload larger than any stream buffer (64 MiB) gets BAD_MSG; one of 64 MiB is taken', () => {
    const g = prepared(40 << 20);
    const half = MAX_BUFFER_BYTES / 2;
    const region = g.alloc.alloc(half + 4, 8);
    const big = g.chain(2, [
      { len: 4, write: false, data: sid(0) },
      ...aliased(region, half + 4, 2, false),
      { len: 8, write: true },
    ]);
    const fits = g.chain(2, [
      { len: 4, write: false, data: sid(0) },
      ...aliased(region, half, 2, false),
      { len: 8, write: true },
    ]);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    g.quantum();
    expect(g.used[2].get(big.token)).toBe(8);
    expect(g.mem.readU32(big.addrs[3])).toBe(BAD);
    expect(g.used[2].has(fits.token)).toBe(false);
    expect(g.device.stats().streams[0].queuedBytes).toBe(MAX_BUFFER_BYTES - QUANTUM * 4);
  });
});
