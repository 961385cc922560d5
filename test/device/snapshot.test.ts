/**
 * Device snapshots: a device saved in any stream state and restored into a
 * fresh device (new guest memory SharedArrayBuffer with the guest's bytes,
 * new renderer) goes on exactly as the original does, sample for sample and
 * completion for completion; a restore into the same device (an earlier
 * snapshot) makes its renderer drop what it kept; a bad snapshot is refused
 * with a SnapshotError and changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { restoreSoundState, saveSoundState } from '../../src/device/control/sound-snapshot.ts';
import { SnapshotError } from '../../src/snapshot/snapshot-format.ts';
import * as P from '../../src/snd/protocol.ts';
import { EVENTS, input, PERIOD, pcm, sameBytes } from '../helpers/snapshot-streams.ts';
import { SndGuest } from '../helpers/snd-guest.ts';

const OK = P.VIRTIO_SND_S_OK;
const S16 = P.VIRTIO_SND_PCM_FMT_S16;

function params(g: SndGuest, streamId: number, rateHz = 48000): void {
  expect(
    g.setParams({
      streamId,
      bufferBytes: 4 * PERIOD,
      periodBytes: PERIOD,
      channels: 2,
      format: S16,
      rateHz,
      features: EVENTS,
    }),
  ).toBe(OK);
}

/** Byte-for-byte equality (toEqual on megabytes of typed array is slow). */

const cmd = (g: SndGuest, code: number, id: number) => expect(g.pcmCommand(code, id)).toBe(OK);

/** Everything a run leaves behind that the guest or the listener could tell apart. */
function traceOf(g: SndGuest, out: Float32Array[]) {
  return {
    out,
    used: g.used.map((m) => [...m.entries()]),
    events: [...g.events],
    memory: new Uint8Array(g.memory.slice(0)),
    device: g.device.saveState(),
  };
}

/**
 * What both the original and its twin do after the snapshot: the same
 * requests, messages and input, quantum by quantum.
 */
type Script = (g: SndGuest, render: (quanta: number) => void) => void;

function run(g: SndGuest, script: Script) {
  const out: Float32Array[] = [];
  let q = 0;
  script(g, (quanta) => {
    for (let i = 0; i < quanta; i++) {
      const [l, r] = g.quantum(input(q++));
      out.push(l, r);
    }
  });
  return traceOf(g, out);
}

/** Saves `g`, restores into a fresh device, runs `script` on both and checks they agree. */
function continuesExactly(g: SndGuest, script: Script, memoryInSnapshot = false): void {
  const { guest: twin } = g.twin({}, { memoryInSnapshot });
  const a = run(g, script);
  const b = run(twin, script);
  expect(b.out.length).toBe(a.out.length);
  for (let i = 0; i < a.out.length; i++) expect(b.out[i]).toEqual(a.out[i]);
  expect(b.used).toEqual(a.used);
  expect(b.events).toEqual(a.events);
  // Memory from the snapshot holds the allocations only; the rest reads as zeros.
  if (!memoryInSnapshot) sameBytes(b.memory, a.memory, 'guest memory');
  sameBytes(b.device, a.device, 'device state');
  expect(twin.renderer.faults).toBe(0);
}

/** Queues `n` TX periods numbered from period `k`. */
function txPeriods(g: SndGuest, k: number, n: number): void {
  for (let i = 0; i < n; i++) g.tx(0, pcm((k + i) * 300, 300));
}

describe('device snapshot: playback continues bit-exact from every stream state', () => {
  const finish: Script = (g, render) => {
    render(6);
    txPeriods(g, 100, 3);
    render(12); // plays out, runs dry, waits out the grace: an xrun with its event
    cmd(g, P.VIRTIO_SND_R_PCM_STOP, 0);
    cmd(g, P.VIRTIO_SND_R_PCM_RELEASE, 0);
    render(1);
  };

  it('params set', () => {
    const g = new SndGuest().init();
    params(g, 0);
    continuesExactly(g, (h, render) => {
      cmd(h, P.VIRTIO_SND_R_PCM_PREPARE, 0);
      txPeriods(h, 0, 4);
      cmd(h, P.VIRTIO_SND_R_PCM_START, 0);
      finish(h, render);
    });
  });

  it('prepared, with periods queued before START', () => {
    const g = new SndGuest().init();
    params(g, 0);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 0);
    txPeriods(g, 0, 3);
    g.render(2); // the renderer takes them into the stream's queue, plays nothing
    continuesExactly(g, (h, render) => {
      cmd(h, P.VIRTIO_SND_R_PCM_START, 0);
      finish(h, render);
    });
  });

  it('running, in the middle of a message', () => {
    const g = new SndGuest().init();
    params(g, 0);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 0);
    txPeriods(g, 0, 4);
    cmd(g, P.VIRTIO_SND_R_PCM_START, 0);
    g.render(5); // 640 frames: two periods and 40 frames of the third
    expect(g.device.stats().streams[0].completed).toBe(2);
    continuesExactly(g, (h, render) => {
      txPeriods(h, 4, 2);
      finish(h, render);
    });
  });

  it('running dry, within the grace before an xrun', () => {
    const g = new SndGuest().init();
    params(g, 0);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 0);
    txPeriods(g, 0, 1);
    cmd(g, P.VIRTIO_SND_R_PCM_START, 0);
    g.render(5);
    expect(g.device.stats().streams[0].xruns).toBe(0);
    continuesExactly(g, (_h, render) => {
      render(40); // the grace (100 ms) runs out at the same quantum in both
    });
    expect(g.device.stats().streams[0].xruns).toBe(1);
  });

  it('stopped (paused) with messages held', () => {
    const g = new SndGuest().init();
    params(g, 0);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 0);
    txPeriods(g, 0, 4);
    cmd(g, P.VIRTIO_SND_R_PCM_START, 0);
    g.render(3);
    cmd(g, P.VIRTIO_SND_R_PCM_STOP, 0);
    g.render(2);
    expect(g.device.stats().streams[0].queuedMessages).toBe(3);
    continuesExactly(g, (h, render) => {
      render(1);
      cmd(h, P.VIRTIO_SND_R_PCM_START, 0);
      finish(h, render);
    });
  });

  it('released', () => {
    const g = new SndGuest().init();
    params(g, 0);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 0);
    txPeriods(g, 0, 2);
    cmd(g, P.VIRTIO_SND_R_PCM_START, 0);
    g.render(2);
    cmd(g, P.VIRTIO_SND_R_PCM_STOP, 0);
    cmd(g, P.VIRTIO_SND_R_PCM_RELEASE, 0);
    continuesExactly(g, (h, render) => {
      cmd(h, P.VIRTIO_SND_R_PCM_PREPARE, 0);
      txPeriods(h, 10, 4);
      cmd(h, P.VIRTIO_SND_R_PCM_START, 0);
      finish(h, render);
    });
  });

  it('with EVENT_IDX and INDIRECT negotiated and events waiting for buffers', () => {
    const g = new SndGuest().init({ eventIdx: true, indirect: true, eventBuffers: 1 });
    params(g, 0);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 0);
    txPeriods(g, 0, 4);
    cmd(g, P.VIRTIO_SND_R_PCM_START, 0);
    g.render(7); // PERIOD_ELAPSED events beyond the one event buffer wait in the backlog
    expect(g.device.stats().eventBacklog).toBeGreaterThan(0);
    continuesExactly(g, (h, render) => {
      render(2);
      for (let i = 0; i < 4; i++) h.postEventBuffer();
      finish(h, render);
    });
  });

  for (const rateHz of [44100, 8000, 192000]) {
    it(`at ${rateHz} Hz (resampled), running: the resampler's history is part of the state`, () => {
      const g = new SndGuest().init();
      params(g, 0, rateHz);
      cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 0);
      txPeriods(g, 0, 4);
      cmd(g, P.VIRTIO_SND_R_PCM_START, 0);
      g.render(3);
      continuesExactly(g, (h, render) => {
        txPeriods(h, 4, 3);
        finish(h, render);
      });
    });
  }
});

describe('device snapshot: capture continues bit-exact from every stream state', () => {
  const finish: Script = (g, render) => {
    render(4);
    for (let i = 0; i < 3; i++) g.rx(1, PERIOD);
    render(14); // fills them, then overruns past the grace
    cmd(g, P.VIRTIO_SND_R_PCM_STOP, 1);
    cmd(g, P.VIRTIO_SND_R_PCM_RELEASE, 1);
    render(1);
  };
  const rxPeriods = (g: SndGuest, n: number) => {
    for (let i = 0; i < n; i++) g.rx(1, PERIOD);
  };

  it('params set', () => {
    const g = new SndGuest().init();
    params(g, 1);
    continuesExactly(g, (h, render) => {
      cmd(h, P.VIRTIO_SND_R_PCM_PREPARE, 1);
      rxPeriods(h, 4);
      cmd(h, P.VIRTIO_SND_R_PCM_START, 1);
      finish(h, render);
    });
  });

  it('prepared, with buffers queued', () => {
    const g = new SndGuest().init();
    params(g, 1);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 1);
    rxPeriods(g, 4);
    g.render(1);
    continuesExactly(g, (h, render) => {
      cmd(h, P.VIRTIO_SND_R_PCM_START, 1);
      finish(h, render);
    });
  });

  it('running, with a buffer half filled', () => {
    const g = new SndGuest().init();
    params(g, 1);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 1);
    rxPeriods(g, 4);
    cmd(g, P.VIRTIO_SND_R_PCM_START, 1);
    g.render(3, (q) => input(1000 + q));
    continuesExactly(g, (h, render) => {
      rxPeriods(h, 2);
      finish(h, render);
    });
  });

  it('stopped with buffers held', () => {
    const g = new SndGuest().init();
    params(g, 1);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 1);
    rxPeriods(g, 4);
    cmd(g, P.VIRTIO_SND_R_PCM_START, 1);
    g.render(3, (q) => input(2000 + q));
    cmd(g, P.VIRTIO_SND_R_PCM_STOP, 1);
    continuesExactly(g, (h, render) => {
      render(2);
      cmd(h, P.VIRTIO_SND_R_PCM_START, 1);
      finish(h, render);
    });
  });

  it('released', () => {
    const g = new SndGuest().init();
    params(g, 1);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 1);
    rxPeriods(g, 2);
    cmd(g, P.VIRTIO_SND_R_PCM_START, 1);
    g.render(2, input);
    cmd(g, P.VIRTIO_SND_R_PCM_STOP, 1);
    cmd(g, P.VIRTIO_SND_R_PCM_RELEASE, 1);
    continuesExactly(g, (h, render) => {
      cmd(h, P.VIRTIO_SND_R_PCM_PREPARE, 1);
      rxPeriods(h, 4);
      cmd(h, P.VIRTIO_SND_R_PCM_START, 1);
      finish(h, render);
    });
  });

  for (const rateHz of [16000, 44100, 96000]) {
    it(`at ${rateHz} Hz (resampled), running: the resampler's history is part of the state`, () => {
      const g = new SndGuest().init();
      params(g, 1, rateHz);
      cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 1);
      rxPeriods(g, 4);
      cmd(g, P.VIRTIO_SND_R_PCM_START, 1);
      g.render(3, (q) => input(500 + q));
      continuesExactly(g, (h, render) => {
        finish(h, render);
      });
    });
  }
});

describe('device snapshot: restoring', () => {
  it('with guest memory in the snapshot (the host path): the allocations come back, the rest is zero', () => {
    const g = new SndGuest().init();
    params(g, 0);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 0);
    txPeriods(g, 0, 4);
    cmd(g, P.VIRTIO_SND_R_PCM_START, 0);
    g.render(5);
    continuesExactly(
      g,
      (h, render) => {
        txPeriods(h, 4, 2);
        render(10);
      },
      true,
    );
  });

  it('refuses guest memory of another size', () => {
    const g = new SndGuest().init();
    const s = g.device.saveState({ memory: 'all' });
    const small = new SndGuest({}, 1 << 20);
    expect(() => small.device.restoreState(s)).toThrow(/guest memory of/);
  });

  it('keeps controls, jacks and the output latency', () => {
    const g = new SndGuest().init();
    g.device.setControl('Master Playback Volume', [40]);
    g.device.setJackConnected(1, false);
    g.device.setOutputLatency(0.025);
    const { guest: t } = g.twin();
    expect(t.device.jackStatus()).toEqual(g.device.jackStatus());
    expect(t.device.outputLatency).toBe(0.025);
    expect(t.device.saveState()).toEqual(g.device.saveState());
  });

  it('into the same device, an earlier snapshot: its renderer drops its gain ramp and stream state', () => {
    const g = new SndGuest().init();
    params(g, 0);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 0);
    txPeriods(g, 0, 4);
    cmd(g, P.VIRTIO_SND_R_PCM_START, 0);
    g.render(3);
    const { guest: twin, snapshot } = g.twin();
    const memory = new Uint8Array(g.memory.slice(0));
    const bookkeeping = g.twin().guest; // the guest side as it is now
    // The original goes elsewhere: quieter (its renderer ramps its gain), new parameters.
    g.device.setControl('Master Playback Volume', [20]);
    g.render(8);
    cmd(g, P.VIRTIO_SND_R_PCM_STOP, 0);
    cmd(g, P.VIRTIO_SND_R_PCM_RELEASE, 0);
    g.setParams({
      streamId: 0,
      bufferBytes: 4096,
      periodBytes: 1024,
      channels: 1,
      format: P.VIRTIO_SND_PCM_FMT_S32,
      rateHz: 48000,
    });
    // ...then comes back to the snapshot, guest memory and all.
    new Uint8Array(g.memory).set(memory);
    restoreSoundState(g.transport, g.device, snapshot);
    g.adopt(bookkeeping);
    const a = g.render(6);
    const b = twin.render(6);
    expect(a.l).toEqual(b.l);
    expect(a.r).toEqual(b.r);
    expect(g.device.saveState()).toEqual(twin.device.saveState());
  });

  it('a bad snapshot throws SnapshotError and changes nothing', () => {
    const g = new SndGuest().init();
    params(g, 0);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 0);
    txPeriods(g, 0, 3);
    cmd(g, P.VIRTIO_SND_R_PCM_START, 0);
    g.render(2);
    const good = saveSoundState(g.transport, g.device);
    const shared = () => new Uint8Array(g.device.renderState.shared.slice(0));
    const before = {
      shared: shared(),
      device: g.device.saveState(),
      transport: g.transport.saveState(),
    };
    const bad: [string, Uint8Array][] = [
      ['empty', new Uint8Array(0)],
      ['truncated', good.subarray(0, good.length - 3)],
      ['wrong magic', Uint8Array.from(good, (v, i) => (i === 0 ? v ^ 1 : v))],
      ['another version', Uint8Array.from(good, (v, i) => (i === 4 ? 9 : v))],
      ['a device snapshot given as a pair', g.device.saveState()],
    ];
    for (const [name, bytes] of bad) {
      expect(() => restoreSoundState(g.transport, g.device, bytes), name).toThrow(SnapshotError);
      sameBytes(shared(), before.shared, name);
      sameBytes(g.device.saveState(), before.device, name);
      sameBytes(g.transport.saveState(), before.transport, name);
    }
  });

  it('refuses a snapshot of a device configured otherwise', () => {
    const g = new SndGuest().init();
    const other = new SndGuest({ streams: [{ direction: 'output' }] }).init();
    const e = (() => {
      try {
        other.device.restoreState(g.device.saveState());
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(SnapshotError);
    expect((e as SnapshotError).reason).toBe('config-mismatch');
    const rate = new SndGuest({ sampleRate: 44100 }).init();
    expect(() => rate.device.restoreState(g.device.saveState())).toThrow(/sampleRate/);
  });
});
