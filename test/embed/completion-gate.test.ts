/**
 * The relay never tells a guest of a whole buffer of completions before the
 * guest has shown it read the last ones (Linux >= 6.8 derives its position
 * from a pointer that wraps at the buffer: a full lap in between reads looks
 * like no progress, and the stream stops for good).
 */
import { describe, expect, it } from 'vitest';
import type { StreamView } from '../../src/device/index.ts';
import { CompletionGate } from '../../src/embed/completion-gate.ts';
import * as P from '../../src/snd/protocol.ts';
import { SndGuest } from '../helpers/snd-guest.ts';

const view = (periodBytes: number, periods: number) =>
  ({ periodBytes, bufferBytes: periods * periodBytes, rateHz: 48000, frameBytes: 4 }) as StreamView;

describe('CompletionGate', () => {
  it('gives periods - 1 completions, then waits for the guest or the release time', () => {
    let now = 0;
    const g = new CompletionGate<number>([view(1024, 3)], () => now);
    expect([1, 2, 3, 4].map((i) => g.offer(0, i))).toEqual([true, true, false, false]);
    expect(g.waiting).toBe(2);
    expect(g.arrived(0)).toEqual([3, 4]); // the guest sent a message: it read the position
    expect(g.offer(0, 5)).toBe(false); // 3 and 4 count as given
    now += g.releaseMs(0) - 1;
    expect(g.expired()).toEqual([]);
    now += 1;
    expect(g.expired()).toEqual([5]);
    expect(g.releaseMs(0)).toBeCloseTo(10, 2); // one 256-frame period is 5.3 ms: the floor
  });

  it('does not gate what it cannot: no stream, one-period buffers, streams without parameters', () => {
    const g = new CompletionGate<number>([view(1024, 1), view(0, 0)], () => 0);
    for (let i = 0; i < 5; i++) {
      expect(g.offer(-1, i)).toBe(true);
      expect(g.offer(0, i)).toBe(true);
      expect(g.offer(1, i)).toBe(true);
    }
  });

  it('clear() hands back what waits, in order', () => {
    const g = new CompletionGate<number>([view(1024, 2)], () => 0);
    expect([1, 2, 3].map((i) => g.offer(0, i))).toEqual([true, false, false]);
    expect(g.clear()).toEqual([2, 3]);
    expect(g.waiting).toBe(0);
    expect(g.offer(0, 4)).toBe(true);
  });
});

describe('RelayDevice completions to a guest that reads its position late', () => {
  it('a guest that sends nothing more (a drain) still gets every completion, the last ones late', () => {
    const g = new SndGuest({ relay: { txHoldback: 'at-once' } }).init();
    expect(
      g.setParams({
        streamId: 0,
        bufferBytes: 3 * 1024,
        periodBytes: 1024,
        channels: 2,
        format: P.VIRTIO_SND_PCM_FMT_S16,
        rateHz: 48000,
      }),
    ).toBe(P.VIRTIO_SND_S_OK);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 0)).toBe(P.VIRTIO_SND_S_OK);
    const msgs = [0, 1, 2].map(() => g.tx(0, new Uint8Array(1024)));
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(P.VIRTIO_SND_S_OK);
    g.render(8); // all three periods played in one go, as a burst of render quanta does
    const seen = () => msgs.filter((m) => g.used[2].has(m.token)).length;
    expect(g.device.stats().streams[0].completed).toBe(3);
    expect(seen()).toBe(2); // a whole buffer would lap the guest's position
    expect(g.relay!.stats().withheld).toBe(1);
    // Withheld in the burst that played the last period; the release time (10 ms) later
    // on the audio clock the guest gets it all the same.
    g.render(1);
    expect(seen()).toBe(2);
    g.render(1);
    expect(seen()).toBe(3);
    for (const m of msgs) expect(g.statusOf(m).status).toBe(P.VIRTIO_SND_S_OK);
  });

  it('a drain the guest ends with STOP soon after its last completion is no xrun', () => {
    // 4 x 4096 frames, as aplay's default: the last completion is withheld when the device
    // runs dry; it must reach the guest well within the device's grace for a STOP.
    const g = new SndGuest({ relay: { txHoldback: 'at-once' } }).init();
    const periodBytes = 4096 * 4;
    g.setParams({
      streamId: 0,
      bufferBytes: 4 * periodBytes,
      periodBytes,
      channels: 2,
      format: P.VIRTIO_SND_PCM_FMT_S16,
      rateHz: 48000,
    });
    g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 0);
    const msgs = [0, 1, 2, 3].map(() => g.tx(0, new Uint8Array(periodBytes)));
    g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0);
    let quanta = 0;
    while (!msgs.every((m) => g.used[2].has(m.token)) && quanta < 1000) {
      g.render(1);
      quanta++;
    }
    // Dry since quantum 128; the guest told of it one period (32 quanta) later at most.
    expect(quanta).toBeLessThanOrEqual(128 + 32 + 1);
    g.render(8); // the guest takes 8 quanta (21 ms) to answer with STOP
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_STOP, 0)).toBe(P.VIRTIO_SND_S_OK);
    expect(g.device.stats().streams[0].xruns).toBe(0);
  });

  it('a control request (the guest stopping the stream) gets every withheld completion first', () => {
    const g = new SndGuest({ relay: { txHoldback: 'at-once' } }).init();
    g.setParams({
      streamId: 0,
      bufferBytes: 2 * 1024,
      periodBytes: 1024,
      channels: 2,
      format: P.VIRTIO_SND_PCM_FMT_S16,
      rateHz: 48000,
    });
    g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 0);
    const msgs = [0, 1].map(() => g.tx(0, new Uint8Array(1024)));
    g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0);
    g.render(6);
    expect(msgs.filter((m) => g.used[2].has(m.token)).length).toBe(1);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_STOP, 0)).toBe(P.VIRTIO_SND_S_OK);
    expect(msgs.filter((m) => g.used[2].has(m.token)).length).toBe(2);
  });
});
