/**
 * The relay under exhaustion: no event buffers for a long time, a full
 * relay heap, messages larger than the heap, a control response buffer
 * larger than the heap. It never throws into the emulator, loses nothing it
 * took from the guest, and answers what it cannot carry with a status.
 */
import { describe, expect, it } from 'vitest';
import { BACKLOG_CAP, DeviceConfigError } from '../../src/device/index.ts';
import type { GuestRings } from '../../src/embed/guest-rings.ts';
import { RelayDevice } from '../../src/embed/relay-device.ts';
import * as P from '../../src/snd/protocol.ts';
import { GuestMemory } from '../../src/virtio/memory.ts';
import { publishRaw } from '../helpers/queue-pair.ts';
import { SndGuest } from '../helpers/snd-guest.ts';

const OK = P.VIRTIO_SND_S_OK;
const PERIODS = 1 << P.VIRTIO_SND_PCM_F_EVT_SHMEM_PERIODS;

describe('relay event backlog (issue 15 #3)', () => {
  it('250 quanta of 1-frame period events with no guest event buffer: bounded, none lost', () => {
    const g = new SndGuest({ relay: {} }, 8 << 20).init({ eventBuffers: 0 });
    expect(
      g.setParams({
        streamId: 0,
        bufferBytes: 4096,
        periodBytes: 4, // one S16 stereo frame
        channels: 2,
        format: P.VIRTIO_SND_PCM_FMT_S16,
        rateHz: 48000,
        features: PERIODS,
      }),
    ).toBe(OK);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 0)).toBe(OK);
    const quanta = 250;
    for (let i = 0; i < (quanta * 128) / 1024; i++) g.tx(0, new Uint8Array(4096));
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    g.render(quanta);
    const relay = g.relay!;
    // Every event is still owed to the guest, but only BACKLOG_CAP are held one by one.
    const st = relay.stats();
    expect(st.pendingEvents + g.device.stats().eventBacklog).toBe(quanta * 128);
    expect(st.pendingEventEntries).toBeLessThanOrEqual(BACKLOG_CAP);
    // The guest posts buffers: every period arrives.
    let periods = 0;
    for (let round = 0; round < 1000 && periods < quanta * 128; round++) {
      const seen = g.events.length;
      for (let i = 0; i < 60; i++) g.postEventBuffer();
      g.collect();
      for (const e of g.events.slice(seen))
        if (e.code === P.VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED) periods++;
    }
    expect(periods).toBe(quanta * 128);
    expect(relay.stats().pendingEvents).toBe(0);
  });
});

const FLOAT = P.VIRTIO_SND_PCM_FMT_FLOAT;
const IO_ERR = P.VIRTIO_SND_S_IO_ERR;

function params(g: SndGuest, streamId: number, periodBytes: number, periods: number): void {
  expect(
    g.setParams({
      streamId,
      bufferBytes: periodBytes * periods,
      periodBytes,
      channels: 2,
      format: FLOAT,
      rateHz: 48000,
    }),
  ).toBe(OK);
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, streamId)).toBe(OK);
}

describe('relay heap exhaustion (issue 15 #1)', () => {
  it('64 legal 192 KiB RX messages (12 MiB, 8 MiB heap): they wait in order, none lost', () => {
    const g = new SndGuest({ relay: {} }, 16 << 20).init();
    const period = 192 << 10; // 24576 FLOAT stereo frames, 192 quanta
    params(g, 1, period, 64);
    const msgs = Array.from({ length: 64 }, () => g.rx(1, period));
    expect(() => g.collect()).not.toThrow();
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
    const one = new Float32Array(128).fill(0.25);
    for (let q = 0; q < 2 * 192 + 1; q++) g.quantum([one, one]);
    // The first two are full, in order.
    expect(msgs.map((m) => g.used[3].get(m.token))).toEqual([
      period + 8,
      period + 8,
      ...new Array(62).fill(undefined),
    ]);
    expect(g.statusOf(msgs[0]).status).toBe(OK);
    expect(new Float32Array(g.mem.read(msgs[1].data, 8).slice().buffer)[1]).toBe(0.25);
    // RELEASE returns every other one, those still waiting in the relay too.
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_STOP, 1)).toBe(OK);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_RELEASE, 1)).toBe(OK);
    g.collect();
    expect(msgs.every((m) => g.used[3].has(m.token))).toBe(true);
    expect(msgs.every((m) => g.statusOf(m).status === OK)).toBe(true);
    expect(g.relay!.stats().faults).toBe(0);
  });

  it('a TX message larger than the whole relay heap completes with IO_ERR; the next one plays', () => {
    const g = new SndGuest({ relay: {} }, 16 << 20).init();
    params(g, 0, 10 << 20, 1); // a legal 10 MiB period: more than the 8 MiB heap
    const big = g.tx(0, new Uint8Array(10 << 20));
    const pcm = new Float32Array(2 * 256).fill(0.5);
    const next = g.tx(0, new Uint8Array(pcm.buffer));
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    const { l } = g.render(4);
    expect(g.used[2].get(big.token)).toBe(8);
    expect(g.statusOf(big)).toEqual({ status: IO_ERR, latency: 0 });
    expect(g.used[2].get(next.token)).toBe(8);
    expect(g.statusOf(next).status).toBe(OK);
    expect(l.filter((x) => x === 0.5)).toHaveLength(256);
    expect(g.relay!.stats().faults).toBe(0);
  });

  it('a TX message of aliased segments past 64 MiB gets BAD_MSG, as from the device itself', () => {
    const g = new SndGuest({ relay: {} }, 40 << 20).init();
    params(g, 0, 4096, 4);
    const region = g.alloc.alloc(33 << 20, 8);
    const c = g.chain(2, [
      { len: 4, write: false, data: new Uint8Array(4) },
      { addr: region, len: 33 << 20, write: false },
      { addr: region, len: 33 << 20, write: false },
      { len: 8, write: true },
    ]);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    g.render(2);
    expect(g.used[2].get(c.token)).toBe(8);
    expect(g.mem.readU32(c.addrs[3])).toBe(P.VIRTIO_SND_S_BAD_MSG);
    expect(g.relay!.stats()).toMatchObject({ refused: 1, faults: 0 });
  });

  it('a control request with a 9 MiB response buffer is answered in full', () => {
    const g = new SndGuest({ relay: {} }, 16 << 20).init();
    const r = g.query(P.VIRTIO_SND_R_PCM_INFO, 0, 2, 32, 9 << 20);
    expect(r.status).toBe(OK);
    expect(r.len).toBe(4 + 64);
    expect(r.payload[24]).toBe(P.VIRTIO_SND_D_OUTPUT);
    expect(r.payload[32 + 24]).toBe(P.VIRTIO_SND_D_INPUT);
    // And one larger than any request the device takes: BAD_MSG, as from the device itself.
    const huge = g.chain(
      0,
      [
        { len: 128 << 10, write: false },
        { len: 4, write: true },
      ],
      { notify: true },
    );
    g.collect();
    expect(g.used[0].get(huge.token)).toBe(4);
    expect(g.mem.readU32(huge.addrs[1])).toBe(P.VIRTIO_SND_S_BAD_MSG);
    expect(g.relay!.stats().faults).toBe(0);
  });

  it('a held TX message that finds the heap full waits, and plays once RELEASE frees it', () => {
    const g = new SndGuest({ relay: { txLeadMs: 20, relayBytes: 1 << 20 } }, 8 << 20).init();
    params(g, 1, 32 << 10, 32);
    params(g, 0, 64 << 10, 4); // 8192-frame periods (64 quanta)
    const txAt = (k: number, frames = 8192) => {
      const pcm = new Float32Array(2 * frames).fill((k + 1) / 16);
      return g.tx(0, new Uint8Array(pcm.buffer));
    };
    // A short first message: its copy, once played, frees less than the next one needs.
    const tx = [txAt(0, 1024)];
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    // 32 RX messages of an idle capture stream: 1 MiB, more than the heap has left.
    const rx = Array.from({ length: 32 }, () => g.rx(1, 32 << 10));
    g.collect();
    for (let k = 1; k < 6; k++) tx.push(txAt(k)); // held: copied when due
    const heard: number[] = [];
    const listen = (quanta: number) => {
      const { l } = g.render(quanta);
      for (const x of l)
        if (x !== 0 && heard.at(-1) !== Math.round(x * 16)) heard.push(Math.round(x * 16));
    };
    listen(100); // the first message plays; the second is due but finds no room, and waits
    expect(heard).toEqual([1]);
    expect(g.used[2].has(tx[1].token)).toBe(false);
    // RELEASE of the capture stream returns its messages and frees the heap.
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_RELEASE, 1)).toBe(OK);
    listen(6 * 64);
    expect(rx.every((m) => g.used[3].has(m.token))).toBe(true);
    expect(tx.map((m) => g.used[2].get(m.token))).toEqual(new Array(6).fill(8));
    expect(tx.every((m) => g.statusOf(m).status === OK)).toBe(true);
    expect(heard).toEqual([1, 2, 3, 4, 5, 6]);
    expect(g.relay!.stats().faults).toBe(0);
  });
});

describe('relay used lengths (issue 15, risk 3)', () => {
  it('a TX message with a 4-byte status is handed back with length 0, never 8', () => {
    const g = new SndGuest({ relay: { innerQueueSize: 4 } }, 8 << 20).init();
    params(g, 0, 4096, 4);
    const good = [g.tx(0, new Uint8Array(4096)), g.tx(0, new Uint8Array(4096))];
    const short = g.chain(2, [
      { len: 4, write: false, data: new Uint8Array(4) },
      { len: 4096, write: false },
      { len: 4, write: true },
    ]);
    g.collect();
    // RELEASE returns what waits in the relay (the inner queue holds two messages).
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_RELEASE, 0)).toBe(OK);
    g.collect();
    expect(good.map((m) => g.used[2].get(m.token))).toEqual([8, 8]);
    expect(g.used[2].get(short.token)).toBe(0);
    expect(g.relay!.stats().faults).toBe(0);
  });
});

describe('relay control queue', () => {
  it('a guest republishing control requests cannot hold one notify; poll() answers the rest', () => {
    const g = new SndGuest({ relay: {} }).init();
    const relay = g.relay!;
    const q = (relay as unknown as { guest: GuestRings }).guest.queue(0);
    const layout = g.queues[0].layout;
    let answered = 0;
    const push = q.pushUsed.bind(q);
    q.pushUsed = (head: number, len: number) => {
      push(head, len);
      if (answered++ < 200) publishRaw(g.mem, layout, head);
    };
    const code = new Uint8Array([0xff, 0xff, 0, 0]); // no such request: BAD_MSG
    g.chain(
      0,
      [
        { len: 4, write: false, data: code },
        { len: 4, write: true },
      ],
      { notify: true },
    );
    expect(answered).toBe(layout.size);
    const perPoll: number[] = [];
    for (let i = 0; i < 10 && answered < 201; i++) {
      const before = answered;
      relay.poll();
      perPoll.push(answered - before);
    }
    expect(answered).toBe(201);
    expect(Math.max(...perPoll)).toBeLessThanOrEqual(layout.size);
  });

  it('refuses a relayBytes too small for its control area and rings', () => {
    expect(
      () =>
        new RelayDevice({
          guestMemory: () => new GuestMemory(new ArrayBuffer(1 << 20)),
          sampleRate: 48000,
          autoService: false,
          relayBytes: 128 << 10,
        }),
    ).toThrow(DeviceConfigError);
  });
});

describe('RelayDevice: what it offers the guest', () => {
  it('offers no MSG_POLLING: the guest kicks, so each message is seen when it is queued', () => {
    const polling = 1 << P.VIRTIO_SND_PCM_F_MSG_POLLING;
    const direct = new SndGuest({}, 1 << 20).init();
    const inner = direct.query(P.VIRTIO_SND_R_PCM_INFO, 0, 2, 32);
    expect(
      new DataView(inner.payload.buffer, inner.payload.byteOffset).getUint32(4, true) & polling,
    ).toBe(polling);
    const g = new SndGuest({ relay: {} }, 4 << 20).init();
    for (const size of [32, 48]) {
      const r = g.query(P.VIRTIO_SND_R_PCM_INFO, 0, 2, size);
      expect(r.status).toBe(OK);
      const v = new DataView(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength);
      for (let i = 0; i < 2; i++) {
        const features = v.getUint32(i * size + 4, true);
        expect(features & polling).toBe(0);
        // The other features pass through unchanged (EVT_XRUNS at least).
        expect(features & (1 << P.VIRTIO_SND_PCM_F_EVT_XRUNS)).not.toBe(0);
        expect(v.getUint8(i * size + 24)).toBe(
          i === 0 ? P.VIRTIO_SND_D_OUTPUT : P.VIRTIO_SND_D_INPUT,
        );
      }
    }
  });
});
