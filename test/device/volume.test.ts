/** Master volume and mute through the virtio-snd controls, applied by the renderer without clicks. */
import { describe, expect, it } from 'vitest';
import { RAMP_FRAMES } from '../../src/device/gain-ramp.ts';
import * as P from '../../src/snd/protocol.ts';
import { QUANTUM, SndGuest } from '../helpers/snd-guest.ts';

const OK = P.VIRTIO_SND_S_OK;
const LEVEL = 0.5;

function playing(): SndGuest {
  const g = new SndGuest().init({ eventBuffers: 16 });
  expect(
    g.setParams({
      streamId: 0,
      bufferBytes: 65536,
      periodBytes: 16384,
      channels: 2,
      format: P.VIRTIO_SND_PCM_FMT_FLOAT,
      rateHz: 48000,
    }),
  ).toBe(OK);
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 0)).toBe(OK);
  // A constant 0.5 on both channels: the output is the gain times 0.5.
  const data = new Float32Array(4096 * 2).fill(LEVEL);
  for (let i = 0; i < 4; i++) g.tx(0, new Uint8Array(data.buffer));
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
  return g;
}

function ctlWrite(g: SndGuest, id: number, value: number): number {
  const b = new Uint8Array(8 + 512);
  const v = new DataView(b.buffer);
  v.setUint32(0, P.VIRTIO_SND_R_CTL_WRITE, true);
  v.setUint32(4, id, true);
  v.setInt32(8, value, true);
  return g.request(b).status;
}

function run(g: SndGuest, quanta: number): Float32Array {
  const out = new Float32Array(quanta * QUANTUM);
  for (let q = 0; q < quanta; q++) out.set(g.quantum()[0], q * QUANTUM);
  return out;
}

describe('volume and mute', () => {
  it('CTL_WRITE of the volume ramps to its dB-scale gain without a step', () => {
    const g = playing();
    run(g, 2);
    expect(ctlWrite(g, 0, 60)).toBe(OK); // -50 + 30 = -20 dB
    const out = run(g, 8);
    const target = LEVEL * 10 ** (-20 / 20);
    expect(out[out.length - 1]).toBeCloseTo(target, 6);
    let maxStep = 0;
    for (let i = 1; i < out.length; i++) maxStep = Math.max(maxStep, Math.abs(out[i] - out[i - 1]));
    // A linear ramp over RAMP_FRAMES: no step bigger than the ramp's slope.
    expect(maxStep).toBeLessThanOrEqual(((LEVEL - target) / RAMP_FRAMES) * 1.01);
    // The guest hears about it (CTL_NOTIFY, VALUE).
    expect(g.events).toContainEqual({ code: P.VIRTIO_SND_EVT_CTL_NOTIFY, data: 0 | (1 << 16) });
  });

  it('volume 0 and the switch mute: silence after a ramp, and back', () => {
    const g = playing();
    run(g, 2);
    expect(ctlWrite(g, 1, 0)).toBe(OK); // Master Playback Switch off
    const out = run(g, 6);
    expect(out[out.length - 1]).toBe(0);
    expect(out[0]).toBeGreaterThan(0); // ramped, not cut
    g.device.setControl('Master Playback Switch', [1]);
    const back = run(g, 6);
    expect(back[back.length - 1]).toBe(LEVEL);
    expect(ctlWrite(g, 0, 0)).toBe(OK); // volume 0 = mute on the dB scale
    const zero = run(g, 6);
    expect(zero[zero.length - 1]).toBe(0);
  });

  it('capture volume scales the captured samples', () => {
    const g = new SndGuest().init();
    expect(
      g.setParams({
        streamId: 1,
        bufferBytes: 4096,
        periodBytes: 1024,
        channels: 2,
        format: P.VIRTIO_SND_PCM_FMT_FLOAT,
        rateHz: 48000,
      }),
    ).toBe(OK);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 1)).toBe(OK);
    g.device.setControl('Capture Volume', [88]); // -6 dB
    const msgs = [0, 1, 2, 3, 4, 5].map(() => g.rx(1, 1024));
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
    const input: [Float32Array, Float32Array] = [
      new Float32Array(QUANTUM).fill(0.5),
      new Float32Array(QUANTUM).fill(0.5),
    ];
    for (let q = 0; q < 6; q++) g.quantum(input);
    const last = new Float32Array(g.mem.read(msgs[5].data, 1024).buffer);
    expect(last[last.length - 1]).toBeCloseTo(0.5 * 10 ** (-6 / 20), 6);
  });

  it('host-side setControl validates its values', () => {
    const g = new SndGuest().init();
    expect(() => g.device.setControl('Master Playback Volume', [101])).toThrow(/outside 0..100/);
    expect(() => g.device.setControl('Master Playback Volume', [1, 2])).toThrow(/expects 1 values/);
    expect(() => g.device.setControl('Nope', [1])).toThrow(/no control/);
  });
});
