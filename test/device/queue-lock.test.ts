/**
 * The TX/RX queue lock when the renderer stalls inside process(): the
 * control plane takes the lock over after 250 ms (so it keeps answering if
 * the audio thread died there), and a renderer that was only stalled must
 * neither free the control plane's lock nor carry on as if nothing happened.
 */
import { describe, expect, it } from 'vitest';
import { SharedState, SharedWord } from '../../src/device/shared/layout.ts';
import {
  LOCK_CONTROL,
  LOCK_FREE,
  LOCK_RENDERER,
  lockSpin,
  tryLock,
  unlock,
} from '../../src/device/shared/queue-lock.ts';
import * as P from '../../src/snd/protocol.ts';
import { VIRTIO_STATUS_DEVICE_NEEDS_RESET } from '../../src/virtio/features.ts';
import { QUANTUM, SndGuest } from '../helpers/snd-guest.ts';

const word = () => new SharedWord(new Int32Array(new SharedArrayBuffer(4)), 0);

describe('queue lock', () => {
  it('a stalled renderer that comes back cannot free the lock the control plane took over', () => {
    const lock = word();
    expect(tryLock(lock, LOCK_RENDERER)).toBe(true);
    // The renderer stalls; the control plane waits, then takes the lock over.
    lockSpin(lock, LOCK_CONTROL, 5);
    expect(lock.load()).toBe(LOCK_CONTROL);
    // The renderer comes back and unlocks: it no longer holds the lock, so nothing changes.
    unlock(lock, LOCK_RENDERER);
    expect(lock.load()).toBe(LOCK_CONTROL);
    // The next quantum's renderer does not get in while the control plane is inside.
    expect(tryLock(lock, LOCK_RENDERER)).toBe(false);
    unlock(lock, LOCK_CONTROL);
    expect(lock.load()).toBe(LOCK_FREE);
    expect(tryLock(lock, LOCK_RENDERER)).toBe(true);
  });

  it('a renderer stalled in process() while the control plane takes over asks for a reset', () => {
    const g = new SndGuest().init();
    expect(
      g.setParams({
        streamId: 1,
        bufferBytes: 4096,
        periodBytes: 1024,
        channels: 2,
        format: P.VIRTIO_SND_PCM_FMT_S16,
        rateHz: 48000,
      }),
    ).toBe(P.VIRTIO_SND_S_OK);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 1)).toBe(P.VIRTIO_SND_S_OK);
    g.rx(1, 1024);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(P.VIRTIO_SND_S_OK);
    const s = new SharedState(g.device.renderState.shared, g.device.renderState.layout);
    const input = new Float32Array(QUANTUM).fill(0.25);
    // The renderer reads the input while it holds the RX lock: stall there, and let the
    // control plane take the lock over meanwhile (it still holds it when the renderer goes on).
    const channels = [input];
    Object.defineProperty(channels, 1, {
      get: () => {
        expect(s.lockRx.load()).toBe(LOCK_RENDERER);
        lockSpin(s.lockRx, LOCK_CONTROL, 5);
        return input;
      },
    });
    const out = [new Float32Array(QUANTUM), new Float32Array(QUANTUM)];
    g.renderer.process([channels], [out]);
    expect(s.lockRx.load()).toBe(LOCK_CONTROL);
    unlock(s.lockRx, LOCK_CONTROL);
    g.collect();
    expect(g.transport.deviceStatus & VIRTIO_STATUS_DEVICE_NEEDS_RESET).not.toBe(0);
    expect(g.renderer.faults).toBe(0);
  });
});
