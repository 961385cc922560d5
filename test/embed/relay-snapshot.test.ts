/**
 * Relay snapshots: a relay (and the guest's transport) saved in any stream
 * state and restored into a freshly made relay, inner device and renderer,
 * over a copy of the guest's RAM, goes on exactly as the original does:
 * sample for sample, completion for completion, event for event, and ends
 * in the same state. A bad snapshot is refused with a SnapshotError and
 * changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { prepareAttachedRestore, saveAttached } from '../../src/embed/attach-snapshot.ts';
import {
  readSnapshot,
  SnapshotBuilder,
  SnapshotError,
} from '../../src/snapshot/snapshot-format.ts';
import * as P from '../../src/snd/protocol.ts';
import { EVENTS, input, PERIOD, pcm, sameBytes } from '../helpers/snapshot-streams.ts';
import { SndGuest } from '../helpers/snd-guest.ts';

const OK = P.VIRTIO_SND_S_OK;

function relayGuest(relay: { txLeadMs?: number; innerQueueSize?: number } = {}) {
  return new SndGuest({ relay: { txLeadMs: 10, ...relay } }).init();
}

function params(g: SndGuest, streamId: number, rateHz = 48000, periods = 4): void {
  expect(
    g.setParams({
      streamId,
      bufferBytes: periods * PERIOD,
      periodBytes: PERIOD,
      channels: 2,
      format: P.VIRTIO_SND_PCM_FMT_S16,
      rateHz,
      features: EVENTS,
    }),
  ).toBe(OK);
}

const cmd = (g: SndGuest, code: number, id: number) => expect(g.pcmCommand(code, id)).toBe(OK);

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
  return {
    out,
    used: g.used.map((m) => [...m.entries()]),
    events: [...g.events],
    memory: new Uint8Array(g.memory.slice(0)),
    state: saveAttached(g.transport, g.relay!),
    stats: g.relay!.stats(),
  };
}

/** Saves `g`'s relay, restores it into a fresh one, runs `script` on both and checks they agree. */
function continuesExactly(g: SndGuest, script: Script): void {
  const { guest: twin, snapshot } = g.relayTwin();
  // The snapshot is the relay's state: saving the restored relay gives the same bytes.
  sameBytes(saveAttached(twin.transport, twin.relay!), snapshot, 'state right after the restore');
  const a = run(g, script);
  const b = run(twin, script);
  expect(b.out.length).toBe(a.out.length);
  for (let i = 0; i < a.out.length; i++) expect(b.out[i]).toEqual(a.out[i]);
  expect(b.used).toEqual(a.used);
  expect(b.events).toEqual(a.events);
  sameBytes(b.memory, a.memory, 'guest memory');
  sameBytes(b.state, a.state, 'relay state');
  expect(b.stats).toEqual(a.stats);
  expect(twin.renderer.faults).toBe(0);
  expect(twin.relay!.stats().faults).toBe(0);
}

function txPeriods(g: SndGuest, k: number, n: number): void {
  for (let i = 0; i < n; i++) g.tx(0, pcm((k + i) * 300, 300));
  g.mmio.notify(P.VIRTIO_SND_VQ_TX);
}

describe('relay snapshot: playback continues bit-exact from every stream state', () => {
  const finish: Script = (g, render) => {
    render(6);
    txPeriods(g, 100, 3);
    render(14); // plays out, runs dry, waits out the grace: an xrun with its event
    cmd(g, P.VIRTIO_SND_R_PCM_STOP, 0);
    cmd(g, P.VIRTIO_SND_R_PCM_RELEASE, 0);
    render(1);
  };

  it('idle, before the guest set anything', () => {
    const g = relayGuest();
    continuesExactly(g, (h, render) => {
      params(h, 0);
      cmd(h, P.VIRTIO_SND_R_PCM_PREPARE, 0);
      txPeriods(h, 0, 4);
      cmd(h, P.VIRTIO_SND_R_PCM_START, 0);
      finish(h, render);
    });
  });

  it('params set', () => {
    const g = relayGuest();
    params(g, 0);
    continuesExactly(g, (h, render) => {
      cmd(h, P.VIRTIO_SND_R_PCM_PREPARE, 0);
      txPeriods(h, 0, 4);
      cmd(h, P.VIRTIO_SND_R_PCM_START, 0);
      finish(h, render);
    });
  });

  it('prepared, with periods queued and held back before START', () => {
    const g = relayGuest({ txLeadMs: 0 });
    params(g, 0);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 0);
    txPeriods(g, 0, 3);
    g.render(2);
    expect(g.relay!.stats().heldMessages).toBeGreaterThan(0);
    continuesExactly(g, (h, render) => {
      cmd(h, P.VIRTIO_SND_R_PCM_START, 0);
      finish(h, render);
    });
  });

  it('running, mid-message, with messages held back and completions withheld', () => {
    const g = relayGuest();
    params(g, 0, 48000, 8);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 0);
    txPeriods(g, 0, 8);
    cmd(g, P.VIRTIO_SND_R_PCM_START, 0);
    txPeriods(g, 8, 4); // more than the inner device needs now: held back
    g.pollRelay = false; // the guest shows no new message: the gate withholds completions
    g.render(21); // 2688 frames: eight periods and 288 frames of the ninth
    const st = g.relay!.stats();
    expect(st.heldMessages).toBeGreaterThan(0);
    expect(st.withheld).toBeGreaterThan(0);
    continuesExactly(g, (h, render) => {
      render(3);
      h.pollRelay = true;
      txPeriods(h, 12, 2);
      finish(h, render);
    });
  });

  it('stopped (paused) with messages in the inner device and held', () => {
    const g = relayGuest();
    params(g, 0);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 0);
    txPeriods(g, 0, 4);
    cmd(g, P.VIRTIO_SND_R_PCM_START, 0);
    g.render(3);
    cmd(g, P.VIRTIO_SND_R_PCM_STOP, 0);
    txPeriods(g, 4, 1);
    g.render(2);
    continuesExactly(g, (h, render) => {
      render(1);
      cmd(h, P.VIRTIO_SND_R_PCM_START, 0);
      finish(h, render);
    });
  });

  it('released', () => {
    const g = relayGuest();
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

  it('with a full inner queue (a backlog), EVENT_IDX, and events waiting for buffers', () => {
    const g = new SndGuest({ relay: { txLeadMs: 1000, innerQueueSize: 4 } }).init({
      eventIdx: true,
      eventBuffers: 1,
    });
    params(g, 0, 48000, 8);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 0);
    txPeriods(g, 0, 6);
    cmd(g, P.VIRTIO_SND_R_PCM_START, 0);
    g.render(6);
    const st = g.relay!.stats();
    expect(st.backlogged).toBeGreaterThan(0);
    expect(st.pendingEvents).toBeGreaterThan(0);
    continuesExactly(g, (h, render) => {
      render(2);
      for (let i = 0; i < 4; i++) h.postEventBuffer();
      txPeriods(h, 6, 2);
      finish(h, render);
    });
  });

  it('at 44.1 kHz (resampled), running', () => {
    const g = relayGuest();
    params(g, 0, 44100);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 0);
    txPeriods(g, 0, 4);
    cmd(g, P.VIRTIO_SND_R_PCM_START, 0);
    g.render(3);
    continuesExactly(g, (h, render) => {
      txPeriods(h, 4, 3);
      finish(h, render);
    });
  });
});

describe('relay snapshot: capture continues bit-exact from every stream state', () => {
  const rxPeriods = (g: SndGuest, n: number) => {
    for (let i = 0; i < n; i++) g.rx(1, PERIOD);
    g.mmio.notify(P.VIRTIO_SND_VQ_RX);
  };
  const finish: Script = (g, render) => {
    render(4);
    rxPeriods(g, 3);
    render(14);
    cmd(g, P.VIRTIO_SND_R_PCM_STOP, 1);
    cmd(g, P.VIRTIO_SND_R_PCM_RELEASE, 1);
    render(1);
  };

  it('params set', () => {
    const g = relayGuest();
    params(g, 1);
    continuesExactly(g, (h, render) => {
      cmd(h, P.VIRTIO_SND_R_PCM_PREPARE, 1);
      rxPeriods(h, 4);
      cmd(h, P.VIRTIO_SND_R_PCM_START, 1);
      finish(h, render);
    });
  });

  it('prepared, with buffers queued', () => {
    const g = relayGuest();
    params(g, 1);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 1);
    rxPeriods(g, 4);
    g.render(1);
    continuesExactly(g, (h, render) => {
      cmd(h, P.VIRTIO_SND_R_PCM_START, 1);
      finish(h, render);
    });
  });

  it('running, with a buffer half filled and completions withheld', () => {
    const g = relayGuest();
    params(g, 1, 48000, 8);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 1);
    rxPeriods(g, 8);
    cmd(g, P.VIRTIO_SND_R_PCM_START, 1);
    g.pollRelay = false;
    g.render(21, (q) => input(1000 + q));
    expect(g.relay!.stats().withheld).toBeGreaterThan(0);
    continuesExactly(g, (h, render) => {
      h.pollRelay = true;
      rxPeriods(h, 2);
      finish(h, render);
    });
  });

  it('stopped with buffers held', () => {
    const g = relayGuest();
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
    const g = relayGuest();
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
});

/** `bytes` (a snapshot of `kind`) with section `name`'s payload changed by `edit`. */
function rewrite(
  bytes: Uint8Array,
  kind: string,
  name: string,
  edit: (payload: Uint8Array) => Uint8Array,
): Uint8Array {
  const sec = readSnapshot(bytes, kind);
  const b = new SnapshotBuilder(kind);
  for (const s of sec.sections) b.raw(s.tag, s.tag === name ? edit(s.payload.slice()) : s.payload);
  return b.finish();
}

/** A relay snapshot's section `name` changed by `edit`, inside the attached snapshot. */
const inRelay = (bytes: Uint8Array, name: string, edit: (p: Uint8Array) => Uint8Array) =>
  rewrite(bytes, 'VATT', 'RLAY', (r) => rewrite(r, 'RLAY', name, edit));

const setU16 = (at: number, v: number) => (p: Uint8Array) => {
  new DataView(p.buffer, p.byteOffset).setUint16(at, v, true);
  return p;
};

const setU32 = (at: number, v: number) => (p: Uint8Array) => {
  new DataView(p.buffer, p.byteOffset).setUint32(at, v, true);
  return p;
};

describe('relay snapshot: bad snapshots', () => {
  function playing() {
    const g = relayGuest();
    params(g, 0, 48000, 8);
    cmd(g, P.VIRTIO_SND_R_PCM_PREPARE, 0);
    txPeriods(g, 0, 8);
    cmd(g, P.VIRTIO_SND_R_PCM_START, 0);
    txPeriods(g, 8, 4);
    g.render(5);
    expect(g.relay!.stats().heldMessages).toBeGreaterThan(0);
    return g;
  }

  it('are refused with a SnapshotError naming the reason, and change nothing', () => {
    const g = playing();
    const good = saveAttached(g.transport, g.relay!);
    // RMSG: u32 count, then the first message: u8 queue, u16 head, u32 x 2 counts, u53 address...
    const bad: [string, Uint8Array, string][] = [
      ['empty', new Uint8Array(0), 'bad-magic'],
      ['truncated', good.subarray(0, good.length - 3), 'truncated'],
      [
        'another version',
        Uint8Array.from(good, (v, i) => (i === 4 ? 9 : v)),
        'unsupported-version',
      ],
      ['a relay snapshot without its transport', g.relay!.saveState(), 'wrong-kind'],
      [
        'a head beyond the guest queue',
        inRelay(good, 'RMSG', setU16(5, 256)),
        'index-out-of-range',
      ],
      [
        'a segment outside guest memory',
        inRelay(good, 'RMSG', setU32(15, 4 << 20)),
        'address-out-of-range',
      ],
      [
        // HOLD: u32 streams, then stream 0: u8 mode, u32 fresh, u53 handed, u32 held, refs...
        'a held message also in the inner queue',
        inRelay(good, 'HOLD', setU32(4 + 1 + 4 + 8 + 4, 0)),
        'invalid-state',
      ],
      [
        'the relay memory of another size',
        inRelay(good, 'RCFG', (p) => p.map((v) => (v === 0x38 ? 0x39 : v))),
        'config-mismatch',
      ],
      [
        'guest rings beyond guest memory',
        inRelay(good, 'GQUE', setU32(4 + 1 + 4 + 4 + 4, 4 << 20)),
        'address-out-of-range',
      ],
    ];
    const fresh = relayGuest();
    for (const target of [g, fresh]) {
      const before = {
        state: saveAttached(target.transport, target.relay!),
        shared: new Uint8Array(target.device.renderState.shared.slice(0)),
      };
      for (const [name, bytes, reason] of bad) {
        let err: unknown;
        try {
          prepareAttachedRestore(target.transport, target.relay!, bytes).apply();
        } catch (e) {
          err = e;
        }
        expect(err, name).toBeInstanceOf(SnapshotError);
        expect((err as SnapshotError).reason, name).toBe(reason);
        sameBytes(saveAttached(target.transport, target.relay!), before.state, name);
        sameBytes(new Uint8Array(target.device.renderState.shared.slice(0)), before.shared, name);
      }
    }
  });
});
