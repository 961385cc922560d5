import { describe, expect, it } from 'vitest';
import {
  VIRTIO_SND_PCM_FMT_S16,
  VIRTIO_SND_R_PCM_PREPARE,
  VIRTIO_SND_R_PCM_START,
  VIRTIO_SND_S_OK,
} from '../../src/snd/protocol.ts';
import { SndGuest } from '../helpers/snd-guest.ts';

describe('device smoke', () => {
  it('plays an S16 stereo message bit-exact and completes it in the quantum of its last frame', () => {
    const g = new SndGuest().init();
    expect(
      g.setParams({
        streamId: 0,
        bufferBytes: 4096,
        periodBytes: 512,
        channels: 2,
        format: VIRTIO_SND_PCM_FMT_S16,
        rateHz: 48000,
      }),
    ).toBe(VIRTIO_SND_S_OK);
    expect(g.pcmCommand(VIRTIO_SND_R_PCM_PREPARE, 0)).toBe(VIRTIO_SND_S_OK);
    const pcm = new Int16Array(256); // 128 frames
    for (let i = 0; i < 256; i++) pcm[i] = ((i * 97) % 65536) - 32768;
    const m1 = g.tx(0, new Uint8Array(pcm.buffer));
    const m2 = g.tx(0, new Uint8Array(pcm.buffer));
    expect(g.pcmCommand(VIRTIO_SND_R_PCM_START, 0)).toBe(VIRTIO_SND_S_OK);
    const [l, r] = g.quantum();
    for (let f = 0; f < 128; f++) {
      expect(l[f]).toBe(Math.fround(pcm[2 * f] / 32768));
      expect(r[f]).toBe(Math.fround(pcm[2 * f + 1] / 32768));
    }
    expect(g.used[2].get(m1.token)).toBe(8);
    expect(g.used[2].has(m2.token)).toBe(false);
    expect(g.statusOf(m1)).toEqual({ status: VIRTIO_SND_S_OK, latency: 512 });
    g.quantum();
    expect(g.statusOf(m2)).toEqual({ status: VIRTIO_SND_S_OK, latency: 0 });
  });
});
