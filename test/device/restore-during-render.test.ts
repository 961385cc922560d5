/**
 * A snapshot restored while the audio thread is rendering (the guest page
 * restores with its AudioContext running): the renderer's own updates of
 * the frame counter and the output tap's write position, made from values
 * it read before the restore, must not undo the restored ones. They did
 * (a plain load and store), and the restored stream then ran on the old
 * device's timeline; found by e2e/guest-snapshot.spec.ts (1 run in 6).
 */
import { describe, expect, it } from 'vitest';
import { SharedState } from '../../src/device/shared/layout.ts';
import { OutputTap, writeTap } from '../../src/device/shared/output-tap.ts';
import { SndGuest } from '../helpers/snd-guest.ts';

function state() {
  const g = new SndGuest({ tapFrames: 1024 });
  const rs = g.device.renderState;
  return { s: new SharedState(rs.shared, rs.layout), rs };
}

describe('a restore landing inside a render pass', () => {
  it('keeps the restored frame counter', () => {
    const { s } = state();
    s.advanceFrames(s.framesLo.load(), 5000);
    const saved = { ...s.saveHeader(), framesRendered: 123456 };
    const from = s.framesLo.load(); // the renderer reads where its block starts...
    s.applyHeader(saved); // ...a restore lands...
    s.advanceFrames(from, 128); // ...and the renderer counts its block
    expect(s.framesRendered).toBe(123456);
    // Without a restore in between, the block is counted.
    s.advanceFrames(s.framesLo.load(), 128);
    expect(s.framesRendered).toBe(123456 + 128);
  });

  it('keeps the restored tap position, and a reader made after the restore reads on from it', () => {
    const { s, rs } = state();
    const l = new Float32Array(128).fill(0.25);
    writeTap(s, l, l, 128);
    const saved = { ...s.saveHeader(), tapWrite: 700 };
    // The restore lands while the renderer copies its block into the tap.
    let restored = false;
    const racing = new Proxy(l, {
      get(t, k) {
        if (k === '64' && !restored) {
          restored = true;
          s.applyHeader(saved);
        }
        return Reflect.get(t, k);
      },
    });
    writeTap(s, racing, l, 128);
    expect(restored).toBe(true);
    expect(s.tapWrite.load()).toBe(700);
    const tap = new OutputTap(rs);
    const next = new Float32Array(128).fill(-0.5);
    writeTap(s, next, next, 128);
    const c = tap.take();
    expect(c.firstFrame).toBe(700);
    expect(c.left).toEqual(next);
    expect(c.lost).toBe(0);
  });
});
