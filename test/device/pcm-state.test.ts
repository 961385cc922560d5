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

function send(g: SndGuest, cmd: Cmd): number {
  return cmd === 'SET_PARAMS' ? g.setParams(params) : g.pcmCommand(CMDS[cmd], 0);
}

describe('PCM stream state machine', () => {
  for (const [state, path] of Object.entries(PATH)) {
    for (const cmd of Object.keys(CMDS) as Cmd[]) {
      const allowed = ALLOWED[state].includes(cmd);
      it(`${cmd} in ${state}: ${allowed ? `-> ${NEXT[cmd]}` : 'BAD_MSG, unchanged'}`, () => {
        const g = new SndGuest().init();
        for (const c of path) expect(send(g, c)).toBe(P.VIRTIO_SND_S_OK);
        expect(g.device.streamState(0)).toBe(state);
        const status = send(g, cmd);
        if (allowed) {
          expect(status).toBe(P.VIRTIO_SND_S_OK);
          expect(g.device.streamState(0)).toBe(NEXT[cmd]);
        } else {
          expect(status).toBe(P.VIRTIO_SND_S_BAD_MSG);
          expect(g.device.streamState(0)).toBe(state);
        }
      });
    }
  }

  it('commands for a stream id out of range or of the wrong size get BAD_MSG', () => {
    const g = new SndGuest().init();
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 2)).toBe(P.VIRTIO_SND_S_BAD_MSG);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 0xffffffff)).toBe(P.VIRTIO_SND_S_BAD_MSG);
    const long = new Uint8Array(12);
    new DataView(long.buffer).setUint32(0, P.VIRTIO_SND_R_PCM_PREPARE, true);
    expect(g.request(long).status).toBe(P.VIRTIO_SND_S_BAD_MSG);
  });

  it('STOP and RELEASE are answered with no audio running (no process() calls at all)', () => {
    const g = new SndGuest().init();
    for (const c of PATH.running) send(g, c);
    const tx = [g.tx(0, new Uint8Array(1024)), g.tx(0, new Uint8Array(1024))];
    expect(send(g, 'STOP')).toBe(P.VIRTIO_SND_S_OK);
    expect(g.device.stats().quanta).toBe(0);
    expect(send(g, 'RELEASE')).toBe(P.VIRTIO_SND_S_OK);
    // RELEASE returned both messages (taken off the ring by the control plane itself).
    for (const m of tx) {
      expect(g.used[2].get(m.token)).toBe(8);
      expect(g.statusOf(m).status).toBe(P.VIRTIO_SND_S_OK);
    }
  });

  it('RELEASE completes every pending message of its stream only, before answering', () => {
    const g = new SndGuest({
      streams: [{ direction: 'output' }, { direction: 'output' }, { direction: 'input' }],
    }).init();
    for (const id of [0, 1]) {
      expect(g.setParams({ ...params, streamId: id })).toBe(P.VIRTIO_SND_S_OK);
      expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, id)).toBe(P.VIRTIO_SND_S_OK);
    }
    expect(g.setParams({ ...params, streamId: 2 })).toBe(P.VIRTIO_SND_S_OK);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 2)).toBe(P.VIRTIO_SND_S_OK);
    const a = [g.tx(0, new Uint8Array(1024)), g.tx(0, new Uint8Array(1024))];
    const b = [g.tx(1, new Uint8Array(1024))];
    const r = [g.rx(2, 1024)];
    g.quantum(); // the renderer takes them into its FIFOs (pre-buffering; nothing runs)
    expect(g.used[2].size).toBe(0);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_RELEASE, 0)).toBe(P.VIRTIO_SND_S_OK);
    for (const m of a) expect(g.used[2].has(m.token)).toBe(true);
    expect(g.used[2].has(b[0].token)).toBe(false);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_RELEASE, 2)).toBe(P.VIRTIO_SND_S_OK);
    // An RX message released before capturing anything: status only.
    expect(g.used[3].get(r[0].token)).toBe(8);
  });

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
  ];
  for (const [name, p, status] of cases) {
    it(`refuses ${name}`, () => {
      const g = new SndGuest().init();
      expect(g.setParams({ ...params, ...p })).toBe(status);
      expect(g.device.streamState(0)).toBe('initial');
    });
  }

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
