import { describe, expect, it } from 'vitest';
import * as P from '../../src/snd/protocol.ts';
import { SndGuest } from '../helpers/snd-guest.ts';

const S16 = P.VIRTIO_SND_PCM_FMT_S16;
const params = {
  streamId: 0,
  bufferBytes: 4096,
  periodBytes: 1024,
  channels: 2,
  format: S16,
  rateHz: 48000,
};

const CMDS = {
  SET_PARAMS: P.VIRTIO_SND_R_PCM_SET_PARAMS,
  PREPARE: P.VIRTIO_SND_R_PCM_PREPARE,
  START: P.VIRTIO_SND_R_PCM_START,
  STOP: P.VIRTIO_SND_R_PCM_STOP,
  RELEASE: P.VIRTIO_SND_R_PCM_RELEASE,
} as const;
type Cmd = keyof typeof CMDS;

/** Spec 5.14.6.6.1: the commands allowed after each one (plus the state after reset). */
const ALLOWED: Record<string, Cmd[]> = {
  initial: ['SET_PARAMS'],
  'params-set': ['SET_PARAMS', 'PREPARE'],
  prepared: ['SET_PARAMS', 'PREPARE', 'START', 'RELEASE'],
  running: ['STOP'],
  stopped: ['START', 'RELEASE'],
  released: ['SET_PARAMS', 'PREPARE'],
};
const NEXT: Record<Cmd, string> = {
  SET_PARAMS: 'params-set',
  PREPARE: 'prepared',
  START: 'running',
  STOP: 'stopped',
  RELEASE: 'released',
};
/** How to reach each state from reset. */
const PATH: Record<string, Cmd[]> = {
  initial: [],
  'params-set': ['SET_PARAMS'],
  prepared: ['SET_PARAMS', 'PREPARE'],
  running: ['SET_PARAMS', 'PREPARE', 'START'],
  stopped: ['SET_PARAMS', 'PREPARE', 'START', 'STOP'],
  released: ['SET_PARAMS', 'PREPARE', 'RELEASE'],
};

function send(g: SndGuest, cmd: Cmd, id = 0): number {
  return cmd === 'SET_PARAMS'
    ? g.setParams({ ...params, streamId: id })
    : g.pcmCommand(CMDS[cmd], id);
}

describe('PCM stream state machine', () => {
  for (const [id, dir] of [
    [0, 'output'],
    [1, 'input'],
  ] as const) {
    for (const [state, path] of Object.entries(PATH)) {
      for (const cmd of Object.keys(CMDS) as Cmd[]) {
        const allowed = ALLOWED[state].includes(cmd);
        it(`${dir}: ${cmd} in ${state}: ${allowed ? `-> ${NEXT[cmd]}` : 'BAD_MSG, unchanged'}`, () => {
          const g = new SndGuest().init();
          for (const c of path) expect(send(g, c, id)).toBe(P.VIRTIO_SND_S_OK);
          expect(g.device.streamState(id)).toBe(state);
          const other = 1 - id;
          const otherBefore = g.device.streamState(other);
          const status = send(g, cmd, id);
          if (allowed) {
            expect(status).toBe(P.VIRTIO_SND_S_OK);
            expect(g.device.streamState(id)).toBe(NEXT[cmd]);
          } else {
            expect(status).toBe(P.VIRTIO_SND_S_BAD_MSG);
            expect(g.device.streamState(id)).toBe(state);
          }
          expect(g.device.streamState(other)).toBe(otherBefore);
        });
      }
    }
  }

  it('a refused command changes nothing: the running stream plays on in its format, same position', () => {
    const g = new SndGuest().init();
    for (const c of PATH.running) expect(send(g, c)).toBe(P.VIRTIO_SND_S_OK);
    const pcm = Int16Array.from({ length: 2048 }, (_, i) => (i * 41) % 20000);
    for (let k = 0; k < 4; k++) g.tx(0, new Uint8Array(pcm.buffer, k * 1024, 1024));
    const check = (q: number, l: Float32Array, r: Float32Array) => {
      for (let f = 0; f < 128; f++) {
        expect(l[f]).toBe(pcm[2 * (q * 128 + f)] / 32768);
        expect(r[f]).toBe(pcm[2 * (q * 128 + f) + 1] / 32768);
      }
    };
    check(0, ...g.quantum());
    const before = g.device.stats().streams[0];
    // Refused in RUNNING: SET_PARAMS (even with other, valid parameters), PREPARE, RELEASE, START.
    expect(g.setParams({ ...params, format: P.VIRTIO_SND_PCM_FMT_FLOAT, channels: 1 })).toBe(
      P.VIRTIO_SND_S_BAD_MSG,
    );
    for (const c of ['PREPARE', 'RELEASE', 'START'] as const)
      expect(send(g, c)).toBe(P.VIRTIO_SND_S_BAD_MSG);
    const after = g.device.stats().streams[0];
    expect(after.frames).toBe(before.frames);
    expect(after.queuedBytes).toBe(before.queuedBytes);
    expect(after.completed).toBe(before.completed);
    for (let q = 1; q < 8; q++) check(q, ...g.quantum());
    expect(g.device.stats().streams[0].xruns).toBe(0);
  });

  it('a refused SET_PARAMS keeps the previous parameters', () => {
    const g = new SndGuest().init();
    expect(send(g, 'SET_PARAMS')).toBe(P.VIRTIO_SND_S_OK);
    expect(
      g.setParams({ ...params, format: P.VIRTIO_SND_PCM_FMT_FLOAT, rateHz: 44100, channels: 9 }),
    ).toBe(P.VIRTIO_SND_S_NOT_SUPP);
    expect(g.setParams({ ...params, format: P.VIRTIO_SND_PCM_FMT_FLOAT, bufferBytes: 1000 })).toBe(
      P.VIRTIO_SND_S_BAD_MSG,
    );
    expect(send(g, 'PREPARE')).toBe(P.VIRTIO_SND_S_OK);
    const pcm = Int16Array.from({ length: 256 }, (_, i) => i * 100 - 12800);
    g.tx(0, new Uint8Array(pcm.buffer)); // 128 frames of S16 stereo at 48 kHz, as first set
    expect(send(g, 'START')).toBe(P.VIRTIO_SND_S_OK);
    const [l, r] = g.quantum();
    for (let f = 0; f < 128; f++) {
      expect(l[f]).toBe(pcm[2 * f] / 32768);
      expect(r[f]).toBe(pcm[2 * f + 1] / 32768);
    }
  });

  it('commands for a stream id out of range or of the wrong size get BAD_MSG', () => {
    const g = new SndGuest().init();
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 2)).toBe(P.VIRTIO_SND_S_BAD_MSG);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 0xffffffff)).toBe(P.VIRTIO_SND_S_BAD_MSG);
    const long = new Uint8Array(12);
    new DataView(long.buffer).setUint32(0, P.VIRTIO_SND_R_PCM_PREPARE, true);
    expect(g.request(long).status).toBe(P.VIRTIO_SND_S_BAD_MSG);
  });

  it('startFrame is -1 from reset until the first frame played, and again after PREPARE', () => {
    const g = new SndGuest().init();
    expect(g.device.stats().streams.map((s) => s.startFrame)).toEqual([-1, -1]);
    for (const c of PATH.running) send(g, c);
    g.render(3);
    expect(g.device.stats().streams[0].startFrame).toBe(-1); // running, but no message yet
    g.tx(0, new Uint8Array(1024));
    g.render(1);
    expect(g.device.stats().streams[0].startFrame).toBe(3 * 128);
    for (const c of ['STOP', 'RELEASE', 'PREPARE'] as const) send(g, c);
    expect(g.device.stats().streams[0].startFrame).toBe(-1);
    g.device.reset();
    expect(g.device.stats().streams[0].startFrame).toBe(-1);
  });

  it('STOP and RELEASE are answered with no audio running (no process() calls at all)', () => {
    const g = new SndGuest().init();
    for (const c of PATH.running) send(g, c);
    for (const c of PATH.running) send(g, c, 1);
    const tx = [g.tx(0, new Uint8Array(1024)), g.tx(0, new Uint8Array(1024))];
    const rx = [g.rx(1, 1024), g.rx(1, 512)];
    expect(send(g, 'STOP')).toBe(P.VIRTIO_SND_S_OK);
    expect(send(g, 'STOP', 1)).toBe(P.VIRTIO_SND_S_OK);
    expect(send(g, 'RELEASE')).toBe(P.VIRTIO_SND_S_OK);
    expect(send(g, 'RELEASE', 1)).toBe(P.VIRTIO_SND_S_OK);
    expect(g.device.stats().quanta).toBe(0);
    // RELEASE returned every message (taken off the rings by the control plane itself):
    // TX with status only, RX with nothing captured (status only).
    for (const m of tx) {
      expect(g.used[2].get(m.token)).toBe(8);
      expect(g.statusOf(m).status).toBe(P.VIRTIO_SND_S_OK);
    }
    for (const m of rx) {
      expect(g.used[3].get(m.token)).toBe(8);
      expect(g.statusOf(m).status).toBe(P.VIRTIO_SND_S_OK);
    }
  });

  it('RELEASE completes every pending message of its stream before its response, and only those', () => {
    const g = new SndGuest({
      streams: [
        { direction: 'output' },
        { direction: 'output' },
        { direction: 'input' },
        { direction: 'input' },
      ],
    }).init();
    for (const id of [0, 1, 2, 3]) {
      expect(g.setParams({ ...params, streamId: id })).toBe(P.VIRTIO_SND_S_OK);
      expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, id)).toBe(P.VIRTIO_SND_S_OK);
    }
    // Every interrupt: what the guest could see on the control and TX/RX used rings.
    const seen: { ctl: number; tx: number; rx: number }[] = [];
    g.onIrq = () => seen.push({ ctl: g.usedIdx(0), tx: g.usedIdx(2), rx: g.usedIdx(3) });
    const a = [g.tx(0, new Uint8Array(1024)), g.tx(0, new Uint8Array(1024))];
    const b = [g.tx(1, new Uint8Array(1024))];
    const r = [g.rx(2, 1024), g.rx(2, 1024)];
    const r3 = [g.rx(3, 1024)];
    g.quantum(); // the renderer takes these into its FIFOs (pre-buffering; nothing runs)
    const late = g.tx(0, new Uint8Array(1024)); // still on the avail ring
    const lateRx = g.rx(2, 512);
    expect(g.used[2].size + g.used[3].size).toBe(0);

    const ctl0 = g.usedIdx(0);
    const tx0 = g.usedIdx(2);
    seen.length = 0;
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_RELEASE, 0)).toBe(P.VIRTIO_SND_S_OK);
    for (const m of [...a, late]) expect(g.used[2].get(m.token)).toBe(8);
    expect(g.used[2].has(b[0].token)).toBe(false);
    // Never was the response visible while a message of the stream was not yet returned.
    expect(seen.some((s) => s.ctl !== ctl0)).toBe(true);
    for (const s of seen) if (s.ctl !== ctl0) expect((s.tx - tx0) & 0xffff).toBe(3);

    const rx0 = g.usedIdx(3);
    seen.length = 0;
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_RELEASE, 2)).toBe(P.VIRTIO_SND_S_OK);
    for (const m of [...r, lateRx]) expect(g.used[3].get(m.token)).toBe(8);
    expect(g.used[3].has(r3[0].token)).toBe(false);
    expect(seen.some((s) => s.ctl !== ctl0 + 1)).toBe(true);
    for (const s of seen) if (s.ctl !== ctl0 + 1) expect((s.rx - rx0) & 0xffff).toBe(3);
    // The other streams still have theirs, and play/capture them.
    expect(g.device.stats().streams.map((s) => s.queuedMessages)).toEqual([0, 1, 0, 1]);
  });

  it('RELEASE after STOP returns a partly played TX message and a partly filled RX message', () => {
    const g = new SndGuest().init();
    for (const id of [0, 1]) for (const c of PATH.running) send(g, c, id);
    const t = g.tx(0, new Uint8Array(1024)); // 256 frames: half played in one quantum
    const m = g.rx(1, 1024);
    g.quantum([new Float32Array(128).fill(0.25), new Float32Array(128).fill(-0.25)]);
    expect(g.used[2].has(t.token) || g.used[3].has(m.token)).toBe(false);
    for (const id of [0, 1]) {
      expect(send(g, 'STOP', id)).toBe(P.VIRTIO_SND_S_OK);
      expect(send(g, 'RELEASE', id)).toBe(P.VIRTIO_SND_S_OK);
    }
    expect(g.used[2].get(t.token)).toBe(8);
    expect(g.statusOf(t).status).toBe(P.VIRTIO_SND_S_OK);
    // RX: 128 frames captured = 512 bytes, + 8 for the status.
    expect(g.used[3].get(m.token)).toBe(512 + 8);
    expect(g.statusOf(m).status).toBe(P.VIRTIO_SND_S_OK);
    const got = new Int16Array(g.mem.read(m.data, 512).buffer);
    expect(got[0]).toBe(8192);
    expect(got[1]).toBe(-8192);
  });

  it('STOP keeps queued messages; START resumes exactly where it stopped, without an xrun', () => {
    const g = new SndGuest().init();
    expect(g.setParams({ ...params, features: 1 << P.VIRTIO_SND_PCM_F_EVT_XRUNS })).toBe(
      P.VIRTIO_SND_S_OK,
    );
    expect(send(g, 'PREPARE')).toBe(P.VIRTIO_SND_S_OK);
    const pcm = Int16Array.from({ length: 1024 }, (_, i) => i * 13 - 6000);
    g.tx(0, new Uint8Array(pcm.buffer, 0, 1024));
    g.tx(0, new Uint8Array(pcm.buffer, 1024, 1024));
    expect(send(g, 'START')).toBe(P.VIRTIO_SND_S_OK);
    g.quantum();
    expect(send(g, 'STOP')).toBe(P.VIRTIO_SND_S_OK);
    for (let q = 0; q < 3; q++) {
      const [l, r] = g.quantum();
      expect(l.every((v) => v === 0) && r.every((v) => v === 0)).toBe(true);
    }
    expect(g.used[2].size).toBe(0);
    expect(send(g, 'START')).toBe(P.VIRTIO_SND_S_OK);
    for (let q = 1; q < 4; q++) {
      const [l] = g.quantum();
      for (let f = 0; f < 128; f++) expect(l[f]).toBe(pcm[2 * (q * 128 + f)] / 32768);
    }
    expect(g.used[2].size).toBe(2);
    expect(g.events.filter((e) => e.code === P.VIRTIO_SND_EVT_PCM_XRUN)).toEqual([]);
  });

  for (const [state, path] of Object.entries(PATH)) {
    const accepts = ['prepared', 'running', 'stopped'].includes(state);
    it(`I/O messages in ${state}: ${accepts ? 'taken' : 'BAD_MSG'} (TX and RX)`, () => {
      const g = new SndGuest().init();
      for (const c of path) expect(send(g, c)).toBe(P.VIRTIO_SND_S_OK);
      for (const c of path) expect(send(g, c, 1)).toBe(P.VIRTIO_SND_S_OK);
      const t = g.tx(0, new Uint8Array(1024));
      const r = g.rx(1, 1024);
      g.quantum();
      if (accepts) {
        // Taken (half of each played/filled when running), nothing returned.
        expect(g.device.stats().streams.map((s) => s.queuedMessages)).toEqual([1, 1]);
        expect(g.used[2].size + g.used[3].size).toBe(0);
      } else {
        expect(g.used[2].get(t.token)).toBe(8);
        expect(g.used[3].get(r.token)).toBe(8);
        expect(g.statusOf(t).status).toBe(P.VIRTIO_SND_S_BAD_MSG);
        expect(g.statusOf(r).status).toBe(P.VIRTIO_SND_S_BAD_MSG);
      }
    });
  }

  it('SET_PARAMS after pre-buffered messages returns them with IO_ERR (they no longer fit the format)', () => {
    const g = new SndGuest().init();
    for (const c of PATH.prepared) send(g, c);
    const m = g.tx(0, new Uint8Array(1024));
    g.quantum();
    expect(g.setParams({ ...params, format: P.VIRTIO_SND_PCM_FMT_FLOAT })).toBe(P.VIRTIO_SND_S_OK);
    expect(g.statusOf(m).status).toBe(P.VIRTIO_SND_S_IO_ERR);
  });
});

describe('SET_PARAMS validation', () => {
  const cases: [string, Partial<typeof params> & { features?: number }, number][] = [
    ['an unknown stream', { streamId: 2 }, P.VIRTIO_SND_S_BAD_MSG],
    ['an undefined format', { format: 25 }, P.VIRTIO_SND_S_BAD_MSG],
    ['a format beyond any bitmap', { format: 200 }, P.VIRTIO_SND_S_BAD_MSG],
    [
      'IMA ADPCM (defined, not offered)',
      { format: P.VIRTIO_SND_PCM_FMT_IMA_ADPCM },
      P.VIRTIO_SND_S_NOT_SUPP,
    ],
    [
      'DSD (not offered)',
      { format: P.VIRTIO_SND_PCM_FMT_DSD_U8, bufferBytes: 4096, periodBytes: 1024 },
      P.VIRTIO_SND_S_NOT_SUPP,
    ],
    ['zero channels', { channels: 0 }, P.VIRTIO_SND_S_BAD_MSG],
    ['too many channels', { channels: 9 }, P.VIRTIO_SND_S_NOT_SUPP],
    ['a zero period', { periodBytes: 0 }, P.VIRTIO_SND_S_BAD_MSG],
    ['a zero buffer', { bufferBytes: 0 }, P.VIRTIO_SND_S_BAD_MSG],
    ['a buffer that is not whole periods', { bufferBytes: 4000 }, P.VIRTIO_SND_S_BAD_MSG],
    [
      'a period that is not whole frames',
      { periodBytes: 1022, bufferBytes: 4088 },
      P.VIRTIO_SND_S_BAD_MSG,
    ],
    [
      'a huge buffer',
      { bufferBytes: 0x40000000, periodBytes: 0x10000000 },
      P.VIRTIO_SND_S_NOT_SUPP,
    ],
    ['SHMEM_HOST', { features: 1 << P.VIRTIO_SND_PCM_F_SHMEM_HOST }, P.VIRTIO_SND_S_NOT_SUPP],
    ['SHMEM_GUEST', { features: 1 << P.VIRTIO_SND_PCM_F_SHMEM_GUEST }, P.VIRTIO_SND_S_NOT_SUPP],
    ['an undefined feature bit', { features: 1 << 9 }, P.VIRTIO_SND_S_BAD_MSG],
    ['feature bit 31', { features: 1 << 31 }, P.VIRTIO_SND_S_BAD_MSG],
    [
      'SHMEM_HOST | SHMEM_GUEST',
      { features: (1 << P.VIRTIO_SND_PCM_F_SHMEM_HOST) | (1 << P.VIRTIO_SND_PCM_F_SHMEM_GUEST) },
      P.VIRTIO_SND_S_NOT_SUPP,
    ],
    ['format 24 (IEC958, defined, not offered)', { format: 24 }, P.VIRTIO_SND_S_NOT_SUPP],
    ['format 255', { format: 255 }, P.VIRTIO_SND_S_BAD_MSG],
    ['255 channels', { channels: 255 }, P.VIRTIO_SND_S_NOT_SUPP],
    ['a period of half a frame', { periodBytes: 2, bufferBytes: 4096 }, P.VIRTIO_SND_S_BAD_MSG],
    ['stream id 0xffffffff', { streamId: 0xffffffff }, P.VIRTIO_SND_S_BAD_MSG],
  ];
  for (const [name, p, status] of cases) {
    it(`refuses ${name}`, () => {
      const g = new SndGuest().init();
      expect(g.setParams({ ...params, ...p })).toBe(status);
      expect(g.device.streamState(0)).toBe('initial');
    });
  }

  it("refuses channels beyond the input stream's 1..2", () => {
    const g = new SndGuest().init();
    expect(g.setParams({ ...params, streamId: 1, channels: 3 })).toBe(P.VIRTIO_SND_S_NOT_SUPP);
    expect(g.setParams({ ...params, streamId: 1, channels: 0 })).toBe(P.VIRTIO_SND_S_BAD_MSG);
    expect(g.device.streamState(1)).toBe('initial');
  });

  it('rates: the v1.4 rates 12000/24000 are defined but not offered (NOT_SUPP), >= 16 undefined (BAD_MSG)', () => {
    const g = new SndGuest().init();
    const raw = (rate: number, size = 24) => {
      const b = new Uint8Array(Math.max(size, 24));
      const v = new DataView(b.buffer);
      v.setUint32(0, P.VIRTIO_SND_R_PCM_SET_PARAMS, true);
      v.setUint32(8, 4096, true);
      v.setUint32(12, 1024, true);
      v.setUint8(20, 2);
      v.setUint8(21, S16);
      v.setUint8(22, rate);
      return g.request(b.subarray(0, size));
    };
    expect(raw(14).status).toBe(P.VIRTIO_SND_S_NOT_SUPP);
    expect(raw(15).status).toBe(P.VIRTIO_SND_S_NOT_SUPP);
    for (const rate of [16, 31, 32, 64, 255]) expect(raw(rate).status).toBe(P.VIRTIO_SND_S_BAD_MSG);
    for (const rate of [0, 6, 7, 13]) expect(raw(rate).status).toBe(P.VIRTIO_SND_S_OK);
    // Wrong request sizes, even with valid contents.
    for (const size of [4, 8, 16, 23, 25, 32]) {
      const r = raw(7, size);
      expect(r.status).toBe(P.VIRTIO_SND_S_BAD_MSG);
      expect(r.len).toBe(4);
    }
  });

  it('refuses a rate the stream does not offer, and undefined rates', () => {
    const g = new SndGuest({ streams: [{ direction: 'output', rates: [48000] }] }).init();
    expect(g.setParams({ ...params, rateHz: 44100 })).toBe(P.VIRTIO_SND_S_NOT_SUPP);
    const b = new Uint8Array(24);
    const v = new DataView(b.buffer);
    v.setUint32(0, P.VIRTIO_SND_R_PCM_SET_PARAMS, true);
    v.setUint32(8, 4096, true);
    v.setUint32(12, 1024, true);
    v.setUint8(20, 2);
    v.setUint8(21, S16);
    v.setUint8(22, 16);
    expect(g.request(b).status).toBe(P.VIRTIO_SND_S_BAD_MSG);
    expect(g.request(b.subarray(0, 23)).status).toBe(P.VIRTIO_SND_S_BAD_MSG);
  });

  it('accepts every offered feature, format and channel count', () => {
    const g = new SndGuest().init();
    const f = (1 << 2) | (1 << 3) | (1 << 4);
    for (let format = 1; format <= 20; format++) {
      for (const channels of [1, 2, 6, 8]) {
        const fb = (P.PCM_FORMAT_INFO[format].physBits / 8) * channels;
        expect(
          g.setParams({
            ...params,
            format,
            channels,
            periodBytes: fb * 64,
            bufferBytes: fb * 256,
            features: f,
          }),
        ).toBe(P.VIRTIO_SND_S_OK);
      }
    }
  });
});
