/**
 * The relay with a Linux guest from before 6.8 (sound/virtio without the ack
 * callback: Debian 12's 6.1, the kernel in public/guest). That driver puts a
 * TX message back on the ring the moment it completes, and the application
 * writes the period's new samples only afterwards. Here the emulator's poll
 * always falls in between, the worst case: a relay that copied on arrival
 * played the period from one buffer ago (the 8192 bad samples seen once in
 * e2e/guest). Playback must stay bit-exact, completions audio-timed, and
 * latency_bytes must count what the relay holds back.
 */
import { describe, expect, it } from 'vitest';
import type { TxHoldbackPolicy } from '../../src/embed/tx-holdback.ts';
import * as P from '../../src/snd/protocol.ts';
import { type Msg, QUANTUM, SndGuest } from '../helpers/snd-guest.ts';

/** A different value for every frame and channel (S16). */
const sample = (f: number, ch: number) => ((f * 7919 + ch * 104729) % 65521) - 32760;

interface Guest {
  /** Linux >= 6.8 (the ack callback): the application writes a period, then it is queued. */
  ack?: boolean;
  /** Every sample 0 (a guest playing silence: a re-queued period looks the same as before). */
  silence?: boolean;
  policy?: TxHoldbackPolicy;
  /**
   * Only the guest's kicks and the inner device's low-water doorbell move the
   * relay: no emulator tick or timer polls it (default: it polls after each re-queue).
   */
  kicksOnly?: boolean;
  /** The application writes each period one period late: after the relay has copied it. */
  lateApp?: boolean;
}

function play(
  periodFrames: number,
  periods: number,
  totalPeriods: number,
  txLeadMs?: number,
  guest: Guest = {},
) {
  const g = new SndGuest({ relay: { txLeadMs, txHoldback: guest.policy } }).init();
  const relay = g.relay!;
  if (guest.kicksOnly) g.pollRelay = false;
  const value = guest.silence ? () => 0 : sample;
  const periodBytes = periodFrames * 4;
  expect(
    g.setParams({
      streamId: 0,
      bufferBytes: periodBytes * periods,
      periodBytes,
      channels: 2,
      format: P.VIRTIO_SND_PCM_FMT_S16,
      rateHz: 48000,
    }),
  ).toBe(P.VIRTIO_SND_S_OK);
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 0)).toBe(P.VIRTIO_SND_S_OK);
  const buf = g.alloc.alloc(periodBytes * periods, 8);
  let written = 0; // frames the application has written
  const writePeriod = (i: number) => {
    for (let k = 0; k < periodFrames; k++, written++) {
      g.mem.writeU16(buf + i * periodBytes + 4 * k, value(written, 0) & 0xffff);
      g.mem.writeU16(buf + i * periodBytes + 4 * k + 2, value(written, 1) & 0xffff);
    }
  };
  // snd_pcm_start: the buffer is full, every period's message is queued.
  const inFlight = new Map<number, { msg: Msg; period: number }>();
  const send = (i: number) => {
    const msg = g.txAt(0, buf + i * periodBytes, periodBytes);
    inFlight.set(msg.token, { msg, period: i });
    if (guest.kicksOnly) g.mmio.notify(2); // Linux kicks: the relay leaves notifications on
  };
  for (let i = 0; i < periods; i++) writePeriod(i);
  for (let i = 0; i < periods; i++) send(i);
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(P.VIRTIO_SND_S_OK);

  const L: number[] = [];
  const R: number[] = [];
  const latencies: number[] = [];
  let completed = 0;
  let maxHeld = 0;
  let lateWrite = -1; // lateApp: the period the application has yet to write
  for (let q = 0; completed < totalPeriods; q++) {
    if (q > (totalPeriods + periods + 4) * (periodFrames / QUANTUM) + 50)
      throw new Error('stalled');
    const [l, r] = g.quantum();
    L.push(...l);
    R.push(...r);
    for (const [token, { msg, period }] of [...inFlight]) {
      if (!g.used[2].has(token)) continue;
      inFlight.delete(token);
      completed++;
      const st = g.statusOf(msg);
      expect(st.status).toBe(P.VIRTIO_SND_S_OK);
      latencies.push(st.latency);
      if (guest.ack) {
        // virtsnd_pcm_pb_ack: the application writes the period, then it is sent.
        writePeriod(period);
        send(period);
        if (!guest.kicksOnly) relay.poll();
        maxHeld = Math.max(maxHeld, relay.stats().heldMessages);
        continue;
      }
      // virtsnd_pcm_msg_complete: re-queue at once, stale samples and all...
      send(period);
      if (!guest.kicksOnly) relay.poll(); // ...the emulator's timer fires here...
      maxHeld = Math.max(maxHeld, relay.stats().heldMessages);
      if (guest.lateApp) {
        // ...and aplay writes the previous period, late.
        if (lateWrite >= 0) writePeriod(lateWrite);
        lateWrite = period;
        continue;
      }
      writePeriod(period); // ...and only now does aplay write the period.
    }
  }
  const start = g.device.stats().streams[0].startFrame;
  let mismatches = 0;
  const frames = totalPeriods * periodFrames;
  for (let f = 0; f < frames; f++) {
    if (L[start + f] !== value(f, 0) / 32768) mismatches++;
    if (R[start + f] !== value(f, 1) / 32768) mismatches++;
  }
  return {
    mismatches,
    xruns: g.device.stats().streams[0].xruns,
    latencies,
    maxHeld,
    start,
    mode: relay.stats().txModes[0],
    held: relay.stats().heldMessages,
  };
}

describe('RelayDevice with a Linux < 6.8 guest (re-queues before the application writes)', () => {
  for (const [periodFrames, periods] of [
    [4096, 4], // the guest tools' buffer in e2e/guest
    [1024, 4],
    [256, 3],
    [512, 2],
  ] as const) {
    it(`${periods} x ${periodFrames} frames: bit-exact, no xrun`, () => {
      const r = play(periodFrames, periods, 24);
      expect(r.start).toBeGreaterThanOrEqual(0);
      expect(r.mismatches).toBe(0);
      expect(r.xruns).toBe(0);
      expect(r.maxHeld).toBeGreaterThan(0);
      expect(r.mode).toBe('late'); // its re-queued periods come back stale: never trusted
    });
    it(`${periods} x ${periodFrames} frames, moved only by kicks and the low-water doorbell`, () => {
      const r = play(periodFrames, periods, 24, undefined, { kicksOnly: true });
      expect(r.mismatches).toBe(0);
      expect(r.xruns).toBe(0);
      expect(r.maxHeld).toBeGreaterThan(0);
    });
  }

  it('an application later than the hold-back still never gets such a guest trusted', () => {
    // aplay writes each period only after the relay copied it (stale audio, as a late
    // application gets): the buffer comes back rewritten relative to that copy, but
    // never relative to its completion, from which a Linux < 6.8 guest re-queues.
    const r = play(1024, 4, 16, undefined, { lateApp: true });
    expect(r.mode).toBe('late');
  });

  it("'at-once' with such a guest plays stale periods: why the hold-back exists", () => {
    const r = play(1024, 4, 12, undefined, { policy: 'at-once' });
    expect(r.mode).toBe('at-once');
    expect(r.mismatches).toBeGreaterThan(0);
  });

  it('latency_bytes counts the messages the relay holds back', () => {
    // 4 x 4096 frames, steady state: each completion leaves the 3 other periods queued,
    // one of them still held by the relay (100 ms of lead is less than two periods).
    const r = play(4096, 4, 12, 100);
    for (const lat of r.latencies.slice(4)) expect(lat).toBe(3 * 4096 * 4);
  });

  it('txLeadMs 0 still keeps half a period ahead: bit-exact, no xrun', () => {
    const r = play(1024, 4, 16, 0);
    expect(r.mismatches).toBe(0);
    expect(r.xruns).toBe(0);
  });
});

describe('RelayDevice with a Linux >= 6.8 guest (the application writes, then the period is queued)', () => {
  for (const [periodFrames, periods] of [
    [4096, 4],
    [256, 3],
    [256, 2],
  ] as const) {
    it(`${periods} x ${periodFrames}: trusted after ${2} fresh re-queues, then at once; bit-exact`, () => {
      const r = play(periodFrames, periods, 24, undefined, { ack: true });
      expect(r.mode).toBe('at-once');
      expect(r.mismatches).toBe(0);
      expect(r.xruns).toBe(0);
      expect(r.held).toBe(0);
    });
  }

  it('moved only by kicks: at once, bit-exact, nothing held', () => {
    const r = play(256, 3, 24, undefined, { ack: true, kicksOnly: true });
    expect(r.mode).toBe('at-once');
    expect(r.mismatches).toBe(0);
    expect(r.xruns).toBe(0);
  });

  it('a guest playing silence stays held back (a re-queued period looks unchanged): safe', () => {
    const r = play(1024, 4, 16, undefined, { ack: true, silence: true });
    expect(r.mode).toBe('late');
    expect(r.mismatches).toBe(0);
    expect(r.xruns).toBe(0);
  });

  it("'late' holds such a guest back all the same", () => {
    const r = play(1024, 4, 16, undefined, { ack: true, policy: 'late' });
    expect(r.mode).toBe('late');
    expect(r.maxHeld).toBeGreaterThan(0);
    expect(r.mismatches).toBe(0);
  });

  it('a device reset starts the detection over', () => {
    const g = new SndGuest({ relay: {} }).init();
    const relay = g.relay!;
    expect(relay.stats().txModes[0]).toBe('late');
    g.transport.write(0x70, 0, 4); // Status = 0: reset
    g.init();
    expect(relay.stats().txModes[0]).toBe('late');
  });
});

describe('RelayDevice hold-back and control requests', () => {
  function prepared(lead = 100) {
    const g = new SndGuest({ relay: { txLeadMs: lead } }).init();
    g.setParams({
      streamId: 0,
      bufferBytes: 8 * 4096,
      periodBytes: 4096,
      channels: 2,
      format: P.VIRTIO_SND_PCM_FMT_S16,
      rateHz: 48000,
    });
    g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 0);
    const msgs = Array.from({ length: 8 }, () => g.tx(0, new Uint8Array(4096)));
    g.relay!.poll();
    return { g, msgs };
  }

  it('RELEASE returns held messages with OK, before its own response', () => {
    const { g, msgs } = prepared();
    // 100 ms at 48 kHz is 4800 frames: five 1024-frame messages go ahead, three wait.
    expect(g.relay!.stats().heldMessages).toBe(3);
    let sawRelease = -1;
    g.onIrq = () => {
      if (sawRelease < 0 && g.usedIdx(0) > 2) sawRelease = g.usedIdx(2);
    };
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_RELEASE, 0)).toBe(P.VIRTIO_SND_S_OK);
    expect(g.relay!.stats().heldMessages).toBe(0);
    for (const m of msgs) {
      expect(g.used[2].get(m.token)).toBe(8);
      expect(g.statusOf(m).status).toBe(P.VIRTIO_SND_S_OK);
    }
    expect(sawRelease).toBe(8);
  });

  it('START hands every held message over; messages queued while running wait for their turn', () => {
    const { g } = prepared();
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(P.VIRTIO_SND_S_OK);
    expect(g.relay!.stats().heldMessages).toBe(0);
    g.render(1);
    expect(g.device.stats().streams[0].queuedMessages).toBe(8);
    for (let i = 0; i < 4; i++) g.tx(0, new Uint8Array(4096));
    g.relay!.poll();
    expect(g.relay!.stats().heldMessages).toBe(4);
  });

  it('rejects a bad txLeadMs with a DeviceConfigError naming it', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => new SndGuest({ relay: { txLeadMs: bad } })).toThrow(/txLeadMs/);
  });
});

describe('RelayDevice with a full inner queue', () => {
  it('keeps further TX and RX messages in order, loses none, and RELEASE returns them', () => {
    // 8 descriptors: 4 inner messages; the guest queues 12 of each kind.
    const g = new SndGuest({ relay: { txLeadMs: 1000, innerQueueSize: 8 } }).init();
    for (const id of [0, 1]) {
      g.setParams({
        streamId: id,
        bufferBytes: 12 * 512,
        periodBytes: 512,
        channels: 2,
        format: P.VIRTIO_SND_PCM_FMT_S16,
        rateHz: 48000,
      });
      g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, id);
    }
    const tx = Array.from({ length: 12 }, (_, k) => {
      const pcm = new Int16Array(256).fill(100 * (k + 1)); // 128 frames of one value each
      return g.tx(0, new Uint8Array(pcm.buffer));
    });
    const rx = Array.from({ length: 12 }, () => g.rx(1, 512));
    g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0);
    g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1);
    const ramp = (q: number): [Float32Array, Float32Array] => {
      const l = Float32Array.from({ length: 128 }, (_, i) => ((q * 128 + i) % 1000) / 4096);
      return [l, l];
    };
    const { l } = g.render(8, ramp);
    // Playback: message k is quantum k, in order, bit-exact.
    for (let k = 0; k < 8; k++) expect(l[k * 128 + 5]).toBe((100 * (k + 1)) / 32768);
    for (const m of tx.slice(0, 7)) expect(g.used[2].get(m.token)).toBe(8);
    // Capture: RX messages filled in order with consecutive input.
    for (let k = 0; k < 7; k++) {
      expect(g.used[3].get(rx[k].token)).toBe(512 + 8);
      expect(g.mem.view.getInt16(rx[k].data, true)).toBe(Math.round(ramp(k)[0][0] * 32768));
    }
    expect(g.device.stats().streams[0].xruns).toBe(0);
    // RELEASE: everything still queued, inside the inner device or waiting in the relay.
    for (const id of [0, 1]) {
      g.pcmCommand(P.VIRTIO_SND_R_PCM_STOP, id);
      expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_RELEASE, id)).toBe(P.VIRTIO_SND_S_OK);
    }
    for (const m of tx) expect(g.used[2].has(m.token)).toBe(true);
    for (const m of rx) expect(g.used[3].has(m.token)).toBe(true);
    for (const m of [...tx, ...rx]) expect(g.statusOf(m).status).toBe(P.VIRTIO_SND_S_OK);
    expect(g.used[2].size).toBe(g.usedIdx(2));
    expect(g.used[3].size).toBe(g.usedIdx(3));
  });

  it('rejects a bad innerQueueSize with a DeviceConfigError naming it', () => {
    for (const bad of [0, 3, 512, 100])
      expect(() => new SndGuest({ relay: { innerQueueSize: bad } })).toThrow(/innerQueueSize/);
  });
});
