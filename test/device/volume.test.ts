/**
 * Master volume and mute through the virtio-snd controls (guest CTL_WRITE)
 * and from the host (device.setControl()): the output settles on exactly
 * the dB-scale gain, the change is a ramp (no step larger than the signal's
 * own plus the ramp's slope), mute ends in exact silence, and the guest gets
 * CTL_NOTIFY with the control id and the VALUE mask.
 */
import { describe, expect, it } from 'vitest';
import { RAMP_FRAMES } from '../../src/device/render/gain-ramp.ts';
import * as P from '../../src/snd/protocol.ts';
import { QUANTUM, SndGuest } from '../helpers/snd-guest.ts';

const OK = P.VIRTIO_SND_S_OK;
const NOTIFY = P.VIRTIO_SND_EVT_CTL_NOTIFY;
const VALUE = 1 << P.VIRTIO_SND_CTL_EVT_MASK_VALUE;
const VOLUME = 0;
const SWITCH = 1;
const CAPTURE_VOLUME = 2;

/** The default volume's dB scale: -50 dB + 0.5 dB per step; 0 mutes. */
const gainOf = (v: number) => (v === 0 ? 0 : Math.fround(10 ** ((-5000 + 50 * v) / 100 / 20)));

/** Stream 0 playing `signal(i)` (FLOAT stereo, same on both channels) for 8192 frames. */
function playing(signal: (i: number) => number): SndGuest {
  const g = new SndGuest().init({ eventBuffers: 32 });
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
  const data = new Float32Array(8192 * 2);
  for (let i = 0; i < 8192; i++) data[2 * i] = data[2 * i + 1] = signal(i);
  for (let k = 0; k < 4; k++) g.tx(0, new Uint8Array(data.buffer, k * 16384, 16384));
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
  return g;
}

function ctlWrite(g: SndGuest, id: number, value: number): number {
  const r = g.ctlRequest(P.VIRTIO_SND_R_CTL_WRITE, id, 512);
  r.view.setInt32(8, value, true);
  return g.request(r.bytes).status;
}

const LEVEL = 0.5;
const constant = () => LEVEL;
const sine = (i: number) => Math.fround(0.8 * Math.sin((2 * Math.PI * 440 * i) / 48000));

/** Largest |x[i] - x[i-1]|. */
function maxStep(x: Float32Array): number {
  let m = 0;
  for (let i = 1; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - x[i - 1]));
  return m;
}

describe('volume and mute', () => {
  for (const [how, change] of [
    ['CTL_WRITE', (g: SndGuest, id: number, v: number) => expect(ctlWrite(g, id, v)).toBe(OK)],
    ['setControl()', (g: SndGuest, id: number, v: number) => g.device.setControl(id, [v])],
  ] as const) {
    it(`${how}: the volume ramps to exactly the dB-scale gain, and the guest is notified`, () => {
      const g = playing(constant);
      g.render(2);
      change(g, VOLUME, 60); // -50 + 30 = -20 dB
      const { l, r } = g.render(8);
      const target = Math.fround(LEVEL * gainOf(60));
      expect(gainOf(60)).toBe(Math.fround(0.1));
      // Ramped: the first frame barely moved, the target is reached after RAMP_FRAMES.
      expect(l[0]).toBeGreaterThan(0.49);
      for (let f = RAMP_FRAMES; f < l.length; f++) {
        expect(l[f]).toBe(target);
        expect(r[f]).toBe(target);
      }
      // A linear ramp: every step is the ramp's slope (within float rounding), none bigger.
      expect(maxStep(l)).toBeLessThanOrEqual(((LEVEL - target) / RAMP_FRAMES) * 1.001);
      expect(g.events).toEqual([{ code: NOTIFY, data: VOLUME | (VALUE << 16) }]);
    });

    it(`${how}: changing the volume of a sine never steps more than the sine itself plus the ramp`, () => {
      const g = playing(sine);
      const before = g.render(4).l;
      const own = maxStep(before);
      for (const v of [100, 20, 90, 1, 100]) {
        change(g, VOLUME, v);
        const out = g.render(6).l;
        const from = before[before.length - 1];
        // The ramp adds at most |delta gain| / RAMP_FRAMES * peak per frame.
        expect(maxStep(Float32Array.of(from, ...out))).toBeLessThanOrEqual(
          own + 0.8 / RAMP_FRAMES + 1e-6,
        );
        before.set(out.subarray(out.length - before.length));
      }
      // Settled on the last gain exactly: the signal itself again (gain 1 passes bit-exact).
      const out = g.render(1).l;
      const played = g.device.stats().streams[0].frames - QUANTUM;
      for (let f = 0; f < QUANTUM; f++) expect(out[f]).toBe(sine(played + f));
    });

    it(`${how}: the switch mutes to exact silence after the ramp, and unmutes`, () => {
      const g = playing(sine);
      g.render(2);
      change(g, SWITCH, 0);
      const muted = g.render(6).l;
      expect(Math.abs(muted[0])).toBeGreaterThan(0); // ramped, not cut
      expect(muted.subarray(RAMP_FRAMES).every((v) => v === 0)).toBe(true);
      change(g, SWITCH, 1);
      const back = g.render(6).l;
      const played = g.device.stats().streams[0].frames - back.length;
      for (let f = RAMP_FRAMES; f < back.length; f++) expect(back[f]).toBe(sine(played + f));
      // Volume 0 is the dB scale's mute.
      change(g, VOLUME, 0);
      expect(
        g
          .render(6)
          .l.subarray(RAMP_FRAMES)
          .every((v) => v === 0),
      ).toBe(true);
      expect(g.events).toEqual([
        { code: NOTIFY, data: SWITCH | (VALUE << 16) },
        { code: NOTIFY, data: SWITCH | (VALUE << 16) },
        { code: NOTIFY, data: VOLUME | (VALUE << 16) },
      ]);
    });
  }

  it('setting the current value again changes nothing and sends no event', () => {
    const g = playing(constant);
    g.device.setControl('Master Playback Volume', [100]);
    expect(ctlWrite(g, SWITCH, 1)).toBe(OK);
    const { l } = g.render(2);
    expect(l.every((v) => v === LEVEL)).toBe(true);
    expect(g.events).toEqual([]);
  });

  it('capture volume scales the captured samples to exactly the dB-scale gain', () => {
    const g = new SndGuest().init({ eventBuffers: 8 });
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
    expect(last[last.length - 1]).toBe(Math.fround(0.5 * gainOf(88)));
    expect(g.events).toEqual([{ code: NOTIFY, data: CAPTURE_VOLUME | (VALUE << 16) }]);
  });

  it('a device reset restores the default mixer (full volume, unmuted) without a ramp', () => {
    const g = playing(constant);
    g.device.setControl('Master Playback Switch', [0]);
    g.render(6);
    expect(g.render(1).l.every((v) => v === 0)).toBe(true);
    g.init({ eventBuffers: 4 });
    const r = g.request(g.ctlRequest(P.VIRTIO_SND_R_CTL_READ, SWITCH).bytes, 4 + 512);
    expect(new DataView(r.payload.buffer).getUint32(0, true)).toBe(1);
    expect(
      g.setParams({
        streamId: 0,
        bufferBytes: 4096,
        periodBytes: 1024,
        channels: 2,
        format: P.VIRTIO_SND_PCM_FMT_FLOAT,
        rateHz: 48000,
      }),
    ).toBe(OK);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 0)).toBe(OK);
    g.tx(0, new Uint8Array(new Float32Array(256).fill(LEVEL).buffer));
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    expect(g.render(1).l.every((v) => v === LEVEL)).toBe(true);
  });

  it('host-side setControl validates its values', () => {
    const g = new SndGuest().init();
    expect(() => g.device.setControl('Master Playback Volume', [101])).toThrow(/outside 0..100/);
    expect(() => g.device.setControl('Master Playback Volume', [1, 2])).toThrow(/expects 1 values/);
    expect(() => g.device.setControl('Master Playback Switch', [2])).toThrow(RangeError);
    expect(() => g.device.setControl('Nope', [1])).toThrow(/no control/);
    expect(() => g.device.setControl(7, [1])).toThrow(/no control/);
    expect(g.events).toEqual([]);
  });
});
