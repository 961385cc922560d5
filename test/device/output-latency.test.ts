/**
 * The host's output latency (baseLatency + outputLatency of the AudioContext)
 * is folded into every TX latency_bytes, in whole frames of the stream, so the
 * guest's delay() counts until the audio is heard; RX is not affected.
 */
import { describe, expect, it } from 'vitest';
import { DeviceConfigError } from '../../src/device/control/config.ts';
import * as P from '../../src/snd/protocol.ts';
import { InProcess } from '../helpers/in-process.ts';
import { SndGuest } from '../helpers/snd-guest.ts';

const OK = P.VIRTIO_SND_S_OK;

function playing(g: SndGuest, rateHz: number, periods: number) {
  const periodBytes = 256 * 4;
  expect(
    g.setParams({
      streamId: 0,
      bufferBytes: periodBytes * 4,
      periodBytes,
      channels: 2,
      format: P.VIRTIO_SND_PCM_FMT_S16,
      rateHz,
    }),
  ).toBe(OK);
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 0)).toBe(OK);
  const msgs = Array.from({ length: periods }, () => g.tx(0, new Uint8Array(periodBytes)));
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
  return msgs;
}

describe('output latency', () => {
  it.each([
    [48000, 0.01, 480],
    [44100, 0.0125, 551],
    [8000, 0.0031, 24],
  ])('a %i Hz stream reports %f s more as %i frames in latency_bytes', (rate, seconds, frames) => {
    const g = new SndGuest().init();
    g.device.setOutputLatency(seconds);
    expect(g.device.outputLatency).toBeCloseTo(seconds, 6);
    const msgs = playing(g, rate, 3);
    g.render(Math.ceil((3 * 256 * 48000) / rate / 128) + 2);
    // Each completion: what is still queued (2, 1, 0 periods) + the output latency.
    msgs.forEach((m, i) => {
      expect(g.statusOf(m)).toEqual({ status: OK, latency: (2 - i) * 1024 + frames * 4 });
    });
  });

  it('reports only what is queued by default (0 s)', () => {
    const g = new SndGuest().init();
    const msgs = playing(g, 48000, 2);
    g.render(6);
    expect(msgs.map((m) => g.statusOf(m).latency)).toEqual([1024, 0]);
  });

  it.each([-0.001, Number.NaN, Number.POSITIVE_INFINITY, 11])(
    'refuses an output latency of %f s with a DeviceConfigError',
    (s) => {
      const g = new SndGuest().init();
      expect(() => g.device.setOutputLatency(s)).toThrow(DeviceConfigError);
      expect(g.device.outputLatency).toBe(0);
    },
  );

  it("leaves capture's latency_bytes alone", () => {
    const g = new SndGuest().init();
    g.device.setOutputLatency(0.02);
    expect(
      g.setParams({
        streamId: 1,
        bufferBytes: 4096,
        periodBytes: 1024,
        channels: 2,
        format: P.VIRTIO_SND_PCM_FMT_S16,
        rateHz: 48000,
      }),
    ).toBe(OK);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 1)).toBe(OK);
    const m = g.rx(1, 1024);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
    g.render(3);
    expect(g.statusOf(m)).toEqual({ status: OK, latency: 0 });
  });

  it("the driver's delay() counts the output latency (until heard)", async () => {
    const p = await InProcess.create();
    const pcm = await p.prepared(0);
    await pcm.writei(new Int16Array(4 * 256 * 2));
    await p.ticks(2); // the first period completes: delay = the 768 frames still queued
    expect(pcm.delay()).toBe(768);
    p.device.setOutputLatency(0.02);
    await p.ticks(2); // the next completion reports the output latency too (960 frames)
    expect(pcm.hwPtr).toBe(512);
    expect(pcm.delay()).toBe(512 + 960);
  });
});
