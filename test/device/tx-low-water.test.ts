/**
 * The low-water doorbell: a host that feeds the device late (the relay's
 * TX hold-back) asks to be woken by the audio clock when a stream runs low,
 * instead of polling on a timer.
 */
import { describe, expect, it } from 'vitest';
import * as P from '../../src/snd/protocol.ts';
import { SndGuest } from '../helpers/snd-guest.ts';

const OK = P.VIRTIO_SND_S_OK;

function playing(g: SndGuest, periods: number) {
  expect(
    g.setParams({
      streamId: 0,
      bufferBytes: 1024 * 4,
      periodBytes: 1024,
      channels: 2,
      format: P.VIRTIO_SND_PCM_FMT_S16,
      rateHz: 48000,
    }),
  ).toBe(OK);
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 0)).toBe(OK);
  for (let i = 0; i < periods; i++) g.tx(0, new Uint8Array(1024));
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
}

describe('TX low-water mark', () => {
  it('calls onTxLow in every block that leaves the stream below the mark, and only then', () => {
    let calls = 0;
    const g = new SndGuest({ onTxLow: () => calls++ }).init();
    g.device.setTxLowWater(0, 1024 + 512); // one and a half periods
    playing(g, 3); // 768 frames queued: 6 quanta
    const seen: number[] = [];
    for (let q = 0; q < 8; q++) {
      g.quantum();
      seen.push(calls);
    }
    // Queued after each quantum: 2560, 2048, 1536, 1024, 512, 0, 0, 0 bytes.
    expect(seen).toEqual([0, 0, 0, 1, 2, 3, 4, 5]);
  });

  it('never calls it with the mark at 0 (the default), nor for a stream that is not running', () => {
    let calls = 0;
    const g = new SndGuest({ onTxLow: () => calls++ }).init();
    playing(g, 1);
    g.render(10);
    expect(calls).toBe(0);
    g.device.setTxLowWater(0, 4096);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_STOP, 0)).toBe(OK);
    g.render(10);
    expect(calls).toBe(0);
  });

  it('refuses an input stream or a bad size with a RangeError; a reset clears the mark', () => {
    let calls = 0;
    const g = new SndGuest({ onTxLow: () => calls++ }).init();
    expect(() => g.device.setTxLowWater(1, 100)).toThrow(RangeError);
    expect(() => g.device.setTxLowWater(0, -1)).toThrow(RangeError);
    expect(() => g.device.setTxLowWater(0, 1.5)).toThrow(RangeError);
    g.device.setTxLowWater(0, 4096);
    g.transport.write(0x70, 0, 4); // Status = 0: device reset
    g.init();
    playing(g, 1);
    g.render(4);
    expect(calls).toBe(0);
  });
});
