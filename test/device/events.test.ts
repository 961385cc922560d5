/** Event queue: XRUN, PERIOD_ELAPSED, jack and control events; queued while no buffer is posted. */
import { describe, expect, it } from 'vitest';
import { XRUN_GRACE_MS } from '../../src/device/shared/stream-state.ts';
import * as P from '../../src/snd/protocol.ts';
import { QUANTUM, SndGuest } from '../helpers/snd-guest.ts';

const OK = P.VIRTIO_SND_S_OK;
const XRUNS = 1 << P.VIRTIO_SND_PCM_F_EVT_XRUNS;
const PERIODS = 1 << P.VIRTIO_SND_PCM_F_EVT_SHMEM_PERIODS;

function setup(g: SndGuest, streamId: number, features: number, periodFrames = 128) {
  expect(
    g.setParams({
      streamId,
      bufferBytes: periodFrames * 4 * 4,
      periodBytes: periodFrames * 4,
      channels: 2,
      format: P.VIRTIO_SND_PCM_FMT_S16,
      rateHz: 48000,
      features,
    }),
  ).toBe(OK);
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, streamId)).toBe(OK);
}

/** Queues stream 0's 8-frame S16 stereo TX messages, up to `messages` in all, as room allows. */
function tinyPeriodFeeder(g: SndGuest, messages: number): () => void {
  const data = g.alloc.alloc(8 * 4, 8);
  let sent = 0;
  return () => {
    while (sent < messages && g.queues[2].numFree >= 3) {
      g.txAt(0, data, 8 * 4);
      sent++;
    }
  };
}

/** Quanta a dry stream (periods of at most 2400 frames at 48 kHz) waits for STOP before its xrun counts. */
const GRACE = Math.ceil((XRUN_GRACE_MS * 48000) / 1000 / QUANTUM);

const quanta = (g: SndGuest, n: number, input?: [Float32Array, Float32Array]) => {
  for (let q = 0; q < n; q++) g.quantum(input);
};

const xruns = (g: SndGuest, id: number) =>
  g.events.filter((e) => e.code === P.VIRTIO_SND_EVT_PCM_XRUN && e.data === id).length;

describe('PCM_XRUN', () => {
  it('an underrun outputs silence and raises one event per episode', () => {
    const g = new SndGuest().init();
    setup(g, 0, XRUNS);
    g.tx(0, new Uint8Array(512).fill(0x11));
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    g.quantum(); // plays the one period
    const [l] = g.quantum(); // nothing left: silence; an xrun unless the guest stops
    expect(l.every((v) => v === 0)).toBe(true);
    quanta(g, GRACE - 2);
    expect(xruns(g, 0)).toBe(0);
    g.quantum(); // the grace is over: an underrun
    expect(xruns(g, 0)).toBe(1);
    expect(g.device.stats().streams[0]).toMatchObject({ xruns: 1, inXrun: true });
    // Data returns: the episode ends; the next dry spell is a new one.
    g.tx(0, new Uint8Array(512).fill(0x11));
    g.quantum();
    expect(g.device.stats().streams[0].inXrun).toBe(false);
    quanta(g, GRACE);
    expect(xruns(g, 0)).toBe(2);
  });

  it('is not sent unless EVT_XRUNS was negotiated (but still counted)', () => {
    const g = new SndGuest().init();
    setup(g, 0, 0);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    quanta(g, GRACE);
    expect(xruns(g, 0)).toBe(0);
    expect(g.device.stats().streams[0].xruns).toBe(1);
  });

  it('a message shorter than a period ends the stream: no xrun after it', () => {
    const g = new SndGuest().init();
    setup(g, 0, XRUNS);
    g.tx(0, new Uint8Array(512));
    g.tx(0, new Uint8Array(100 * 4)); // the end: 100 frames
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    for (let q = 0; q < 5; q++) g.quantum();
    expect(xruns(g, 0)).toBe(0);
  });

  it('no data at all: silence on both outputs, exactly one event however long it lasts', () => {
    const g = new SndGuest().init();
    setup(g, 0, XRUNS);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    for (let q = 0; q < 50; q++) {
      const [l, r] = g.quantum();
      expect(l.every((v) => v === 0) && r.every((v) => v === 0)).toBe(true);
    }
    expect(xruns(g, 0)).toBe(1);
    expect(g.events).toEqual([{ code: P.VIRTIO_SND_EVT_PCM_XRUN, data: 0 }]);
  });

  it('an underrun mid-quantum: the frames played, then silence; another stream keeps playing', () => {
    const g = new SndGuest({
      streams: [{ direction: 'output' }, { direction: 'output' }, { direction: 'input' }],
    }).init();
    setup(g, 0, XRUNS);
    setup(g, 1, XRUNS);
    g.tx(0, new Uint8Array(new Int16Array(2 * 100).fill(1000).buffer)); // 100 frames: not a whole period
    g.tx(0, new Uint8Array(new Int16Array(2 * 28).fill(1000).buffer)); // ... 128 frames = one period
    const other = new Int16Array(2 * 128 * 4).fill(-500);
    for (let k = 0; k < 4; k++) g.tx(1, new Uint8Array(other.buffer, k * 512, 512));
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
    const [l1] = g.quantum();
    expect(l1[0]).toBe(500 / 32768);
    for (let q = 0; q < 3; q++) {
      const [l, r] = g.quantum();
      expect(l.every((v) => v === -500 / 32768) && r.every((v) => v === -500 / 32768)).toBe(true);
    }
    quanta(g, GRACE - 3); // stream 0 has been dry for the grace; stream 1 not yet
    expect([xruns(g, 0), xruns(g, 1)]).toEqual([1, 0]);
  });

  it('is not raised for a stream that is not running', () => {
    const g = new SndGuest().init();
    setup(g, 0, XRUNS);
    setup(g, 1, XRUNS);
    quanta(g, GRACE + 3); // prepared, nothing queued: not running, no xrun
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    quanta(g, GRACE);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_STOP, 0)).toBe(OK);
    quanta(g, GRACE + 3);
    expect(g.events).toEqual([{ code: P.VIRTIO_SND_EVT_PCM_XRUN, data: 0 }]);
  });

  it('an overrun on capture (no RX buffer) drops frames and raises one event', () => {
    const g = new SndGuest().init();
    setup(g, 1, XRUNS);
    const m = g.rx(1, 512);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
    const input: [Float32Array, Float32Array] = [
      new Float32Array(QUANTUM).fill(0.5),
      new Float32Array(QUANTUM),
    ];
    g.quantum(input);
    expect(g.used[3].get(m.token)).toBe(520);
    quanta(g, GRACE, input);
    expect(xruns(g, 1)).toBe(1);
    expect(g.device.stats().streams[1].xruns).toBe(1);
  });

  it('a capture overrun raises no event without EVT_XRUNS (but is counted)', () => {
    const g = new SndGuest().init();
    setup(g, 1, 0);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
    quanta(g, GRACE + 1);
    expect(g.events).toEqual([]);
    expect(g.device.stats().streams[1].xruns).toBe(1);
  });

  it('one event per capture overrun episode: buffers posted again end it', () => {
    const g = new SndGuest().init();
    setup(g, 1, XRUNS);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
    quanta(g, GRACE + 2);
    expect(xruns(g, 1)).toBe(1);
    for (let i = 0; i < 3; i++) g.rx(1, 512);
    quanta(g, 3);
    expect(xruns(g, 1)).toBe(1);
    quanta(g, GRACE);
    expect(xruns(g, 1)).toBe(2);
  });
});

describe('PCM_PERIOD_ELAPSED', () => {
  it('is not sent without EVT_SHMEM_PERIODS', () => {
    const g = new SndGuest().init();
    setup(g, 0, 0, 32);
    for (let i = 0; i < 8; i++) g.tx(0, new Uint8Array(32 * 4));
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    g.quantum();
    g.quantum();
    expect(g.events).toEqual([]);
  });

  it('is sent per period for capture too', () => {
    const g = new SndGuest().init({ eventBuffers: 32 });
    setup(g, 1, PERIODS, 64);
    for (let i = 0; i < 6; i++) g.rx(1, 64 * 4);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
    for (let q = 0; q < 3; q++) g.quantum();
    expect(g.events).toEqual(
      new Array(6).fill({ code: P.VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED, data: 1 }),
    );
  });

  it('is sent once per period with EVT_SHMEM_PERIODS', () => {
    const g = new SndGuest().init({ eventBuffers: 32 });
    setup(g, 0, PERIODS, 96);
    for (let i = 0; i < 4; i++) g.tx(0, new Uint8Array(96 * 4));
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    for (let q = 0; q < 3; q++) g.quantum(); // 384 frames = 4 periods of 96
    const n = g.events.filter(
      (e) => e.code === P.VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED && e.data === 0,
    ).length;
    expect(n).toBe(4);
  });
});

describe('event queue', () => {
  it('holds events while no buffer is posted and delivers them later, in order', () => {
    const g = new SndGuest().init({ eventBuffers: 0 });
    g.device.setJackConnected(0, false);
    g.device.setJackConnected(1, false);
    g.device.setJackConnected(0, true);
    g.device.setControl('Master Playback Volume', [50]);
    g.collect();
    expect(g.events).toEqual([]);
    expect(g.device.stats().eventBacklog).toBe(4);
    for (let i = 0; i < 2; i++) g.postEventBuffer();
    g.collect();
    expect(g.events.map((e) => e.code)).toEqual([
      P.VIRTIO_SND_EVT_JACK_DISCONNECTED,
      P.VIRTIO_SND_EVT_JACK_DISCONNECTED,
    ]);
    for (let i = 0; i < 4; i++) g.postEventBuffer();
    g.collect();
    expect(g.events).toEqual([
      { code: P.VIRTIO_SND_EVT_JACK_DISCONNECTED, data: 0 },
      { code: P.VIRTIO_SND_EVT_JACK_DISCONNECTED, data: 1 },
      { code: P.VIRTIO_SND_EVT_JACK_CONNECTED, data: 0 },
      // CTL_NOTIFY: le16 control id 0, le16 mask VALUE.
      { code: P.VIRTIO_SND_EVT_CTL_NOTIFY, data: 0 | (1 << 16) },
    ]);
  });

  it('PCM events raised with no buffer posted are all delivered later, in order (thousands)', () => {
    const g = new SndGuest({}, 16 << 20).init({ eventBuffers: 0 });
    setup(g, 0, PERIODS | XRUNS, 32);
    setup(g, 1, PERIODS | XRUNS, 64);
    const total = 600;
    const dry = GRACE + 10; // playback runs dry this many quanta before the end
    const txTotal = 4 * (total - dry); // 32-frame messages
    const data = g.alloc.alloc(32 * 4, 8);
    let txQueued = 0;
    const feed = () => {
      while (txQueued < txTotal && g.queues[2].numFree >= 3) {
        g.txAt(0, data, 32 * 4);
        txQueued++;
      }
      while (g.device.streamState(1) === 'running' && g.queues[3].numFree >= 3) g.rx(1, 64 * 4);
    };
    feed();
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    // Playback: 4 periods per quantum while data lasts, then one XRUN; capture (from
    // quantum 5): 2 per quantum; a jack event in between.
    const expected: { code: number; data: number }[] = [];
    const PE = P.VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED;
    for (let q = 0; q < total; q++) {
      if (q === 5) {
        g.device.setJackConnected(0, false);
        expected.push({ code: P.VIRTIO_SND_EVT_JACK_DISCONNECTED, data: 0 });
        expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
        feed();
      }
      if (q < total - dry) for (let k = 0; k < 4; k++) expected.push({ code: PE, data: 0 });
      else if (q === total - dry + GRACE - 1) {
        expected.push({ code: P.VIRTIO_SND_EVT_PCM_XRUN, data: 0 });
      }
      if (q >= 5) for (let k = 0; k < 2; k++) expected.push({ code: PE, data: 1 });
      g.quantum();
      feed();
    }
    expect(g.events).toEqual([]);
    expect(g.device.stats().eventBacklog).toBe(expected.length);
    expect(expected.length).toBeGreaterThan(3000);
    // Post buffers a few at a time (fewer than the queue size in flight).
    while (g.events.length < expected.length) {
      const before = g.events.length;
      for (let i = 0; i < 48; i++) g.postEventBuffer();
      g.collect();
      expect(g.events.length - before).toBe(Math.min(48, expected.length - before));
    }
    expect(g.events).toEqual(expected);
    expect(g.device.stats().eventsOverflowed).toBe(0);
  });

  it('a control plane that falls behind loses no PCM event (the renderer ring overflows)', () => {
    const g = new SndGuest({}, 16 << 20).init({ eventBuffers: 0 });
    // 8-frame periods: 16 PERIOD_ELAPSED per quantum, 1600 over 100 quanta that
    // the control plane does not service: far more than the 256-entry ring holds.
    setup(g, 0, PERIODS | XRUNS, 8);
    const quanta = 100;
    const messages = 16 * quanta;
    const feed = tinyPeriodFeeder(g, messages);
    feed();
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    const out = [[new Float32Array(QUANTUM), new Float32Array(QUANTUM)]];
    for (let q = 0; q < quanta; q++) {
      g.renderer.process([[]], out); // no service(): the control plane is busy elsewhere
      // The guest gets its TX buffers back straight from the used ring.
      for (let t = g.queues[2].getBuf(); t !== undefined; t = g.queues[2].getBuf());
      feed();
    }
    expect(g.device.stats().eventsOverflowed).toBeGreaterThan(1000);
    g.collect();
    while (g.device.stats().eventBacklog > 0) {
      for (let i = 0; i < 64; i++) g.postEventBuffer();
      g.collect();
    }
    const periods = g.events.filter((e) => e.code === P.VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED);
    expect(periods.length).toBe(messages);
    expect(periods.every((e) => e.data === 0)).toBe(true);
    expect(xruns(g, 0)).toBe(0);
  });

  it('a guest that posts no event buffers cannot grow the backlog without end; nothing is lost', () => {
    const g = new SndGuest({}, 16 << 20).init({ eventBuffers: 0 });
    setup(g, 0, PERIODS | XRUNS, 8); // 16 PERIOD_ELAPSED per quantum
    const quanta = 400;
    const messages = 16 * quanta; // 6400 events: past the 4096 kept one by one
    const feed = tinyPeriodFeeder(g, messages);
    feed();
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    for (let q = 0; q < quanta; q++) {
      if (q === 300) g.device.setJackConnected(0, false); // raised after the cap was passed
      g.quantum();
      feed();
    }
    expect(g.device.stats().eventBacklog).toBe(messages + 1);
    while (g.device.stats().eventBacklog > 0) {
      for (let i = 0; i < 64; i++) g.postEventBuffer();
      g.collect();
    }
    const pe = P.VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED;
    expect(g.events.filter((e) => e.code === pe && e.data === 0).length).toBe(messages);
    expect(g.events.filter((e) => e.code === P.VIRTIO_SND_EVT_JACK_DISCONNECTED)).toEqual([
      { code: P.VIRTIO_SND_EVT_JACK_DISCONNECTED, data: 0 },
    ]);
    // The first 4096 came in the order they were raised.
    expect(g.events.slice(0, 4096).every((e) => e.code === pe)).toBe(true);
    expect(g.events.length).toBe(messages + 1);
  });

  it('returns read-only or too-small event buffers unused', () => {
    const g = new SndGuest().init({ eventBuffers: 0 });
    const a = g.alloc.alloc(8, 8);
    g.queues[1].add([{ addr: a, len: 4 }], 0, 5000);
    g.queues[1].add([{ addr: a, len: 8 }], 1, 5001);
    g.mmio.notify(1);
    g.device.setJackConnected(0, false);
    g.collect();
    expect(g.used[1].get(5000)).toBe(0);
    expect(g.used[1].get(5001)).toBe(0);
    expect(g.device.stats().eventBacklog).toBe(1);
  });
});
