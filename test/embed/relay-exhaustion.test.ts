/**
 * The relay under exhaustion: no event buffers for a long time, a full
 * relay heap, messages larger than the heap, a control response buffer
 * larger than the heap. It never throws into the emulator, loses nothing it
 * took from the guest, and answers what it cannot carry with a status.
 */
import { describe, expect, it } from 'vitest';
import { BACKLOG_CAP } from '../../src/device/index.ts';
import * as P from '../../src/snd/protocol.ts';
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
      for (let i = 0; i < 60; i++) g.postEventBuffer();
      g.collect();
      periods = g.events.filter((e) => e.code === P.VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED).length;
    }
    expect(periods).toBe(quanta * 128);
    expect(relay.stats().pendingEvents).toBe(0);
  });
});
