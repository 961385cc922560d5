/**
 * Running dry is not an xrun by itself. A guest that drains a whole number
 * of periods runs the device dry just before it stops the stream: that is a
 * clean end (no xrun in the stats, no event, not "in xrun"). A real underrun
 * (more data comes, but late; or none comes for the grace) is counted and
 * reported once per episode. The same holds for capture overruns.
 */
import { describe, expect, it } from 'vitest';
import { XRUN_GRACE_MS } from '../../src/device/shared/stream-state.ts';
import * as P from '../../src/snd/protocol.ts';
import { QUANTUM, SndGuest } from '../helpers/snd-guest.ts';

const OK = P.VIRTIO_SND_S_OK;
const GRACE = Math.ceil((XRUN_GRACE_MS * 48000) / 1000 / QUANTUM);

function stream(g: SndGuest, id: number, periodFrames: number) {
  expect(
    g.setParams({
      streamId: id,
      bufferBytes: periodFrames * 4 * 4,
      periodBytes: periodFrames * 4,
      channels: 2,
      format: P.VIRTIO_SND_PCM_FMT_S16,
      rateHz: 48000,
      features: 1 << P.VIRTIO_SND_PCM_F_EVT_XRUNS,
    }),
  ).toBe(OK);
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, id)).toBe(OK);
}

const xrunEvents = (g: SndGuest) =>
  g.events.filter((e) => e.code === P.VIRTIO_SND_EVT_PCM_XRUN).length;
const quanta = (g: SndGuest, n: number, input?: [Float32Array, Float32Array]) => {
  for (let q = 0; q < n; q++) g.quantum(input);
};

describe('drain: running dry, then stopped', () => {
  it.each([1, 2, GRACE - 1])(
    'a whole number of periods played, STOP %i quanta after the last: no xrun anywhere',
    (late) => {
      const g = new SndGuest().init();
      stream(g, 0, 480);
      for (let i = 0; i < 4; i++) g.tx(0, new Uint8Array(480 * 4).fill(7)); // 1920 frames = 15 quanta
      expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
      quanta(g, 15 + late);
      expect(g.device.stats().streams[0]).toMatchObject({ xruns: 0, inXrun: false });
      expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_STOP, 0)).toBe(OK);
      expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_RELEASE, 0)).toBe(OK);
      quanta(g, 2 * GRACE);
      expect(g.device.stats().streams[0]).toMatchObject({ xruns: 0, inXrun: false, completed: 4 });
      expect(xrunEvents(g)).toBe(0);
    },
  );

  it('a capture stream stopped after its last RX message: no overrun', () => {
    const g = new SndGuest().init();
    stream(g, 1, 256);
    const msgs = [0, 1].map(() => g.rx(1, 256 * 4));
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
    quanta(g, 4 + 3);
    for (const m of msgs) expect(g.statusOf(m).status).toBe(OK);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_STOP, 1)).toBe(OK);
    quanta(g, 2 * GRACE);
    expect(g.device.stats().streams[1].xruns).toBe(0);
    expect(xrunEvents(g)).toBe(0);
  });
});

describe('a real underrun mid-stream', () => {
  it('more data after a gap: the xrun is counted and reported when the data comes', () => {
    const g = new SndGuest().init();
    stream(g, 0, 256);
    g.tx(0, new Uint8Array(256 * 4).fill(1));
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    quanta(g, 2 + 5); // played, then 5 quanta of silence: the guest is late
    expect(xrunEvents(g)).toBe(0);
    g.tx(0, new Uint8Array(256 * 4).fill(1));
    g.quantum(); // the late period starts: that was an underrun, reported now
    expect(xrunEvents(g)).toBe(1);
    expect(g.device.stats().streams[0]).toMatchObject({ xruns: 1, inXrun: false });
    // The stream is fine again; a STOP later does not undo the count.
    quanta(g, 1);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_STOP, 0)).toBe(OK);
    expect(g.device.stats().streams[0].xruns).toBe(1);
  });

  it('no data for the whole grace: counted once, then "in xrun" until data returns', () => {
    const g = new SndGuest().init();
    stream(g, 0, 256);
    g.tx(0, new Uint8Array(256 * 4).fill(1));
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    quanta(g, 2 + GRACE - 1);
    expect(xrunEvents(g)).toBe(0);
    g.quantum();
    expect(xrunEvents(g)).toBe(1);
    expect(g.device.stats().streams[0]).toMatchObject({ xruns: 1, inXrun: true });
    quanta(g, 3 * GRACE); // one episode, however long
    expect(xrunEvents(g)).toBe(1);
    // A STOP now does not take back an xrun already counted.
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_STOP, 0)).toBe(OK);
    expect(g.device.stats().streams[0].xruns).toBe(1);
  });

  it('the grace is two periods when they are longer than 100 ms', () => {
    const g = new SndGuest().init();
    stream(g, 0, 4096); // 85 ms periods: the grace is 170.7 ms = 64 quanta
    g.tx(0, new Uint8Array(4096 * 4));
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    quanta(g, 32 + 63);
    expect(xrunEvents(g)).toBe(0);
    g.quantum();
    expect(xrunEvents(g)).toBe(1);
  });

  it('a capture overrun: frames dropped for the grace are counted once', () => {
    const g = new SndGuest().init();
    stream(g, 1, 256);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
    const input: [Float32Array, Float32Array] = [
      new Float32Array(QUANTUM).fill(0.25),
      new Float32Array(QUANTUM),
    ];
    quanta(g, GRACE - 1, input);
    expect(g.device.stats().streams[1].xruns).toBe(0);
    g.quantum(input);
    expect(g.device.stats().streams[1].xruns).toBe(1);
    expect(xrunEvents(g)).toBe(1);
  });
});
