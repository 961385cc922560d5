/**
 * The doorbell service loop must never lose a ring: one that arrives while
 * service() runs has to cause another service() call. (It used to be folded
 * into the value waited on, so a completion or XRUN rung at that moment
 * reached the driver only with some later ring, or never.)
 */
import { describe, expect, it } from 'vitest';
import { startServiceLoop } from '../../src/device/control/service-loop.ts';
import { SharedWord } from '../../src/device/shared/layout.ts';

function doorbell(): SharedWord {
  return new SharedWord(new Int32Array(new SharedArrayBuffer(64)), 5);
}

function ring(w: SharedWord): void {
  w.add(1);
  w.notify();
}

const settle = () => new Promise((r) => setTimeout(r, 50));

/** Waits (up to 10 s: a loaded machine is slow, not wrong) until `done()` holds. */
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done() && Date.now() < deadline) await settle();
}

describe('startServiceLoop', () => {
  it('services a ring that arrives during service()', async () => {
    const bell = doorbell();
    let calls = 0;
    const loop = startServiceLoop(bell, () => {
      calls++;
      // The renderer rings again while the control plane is busy with the first one.
      if (calls === 1) ring(bell);
    });
    await settle();
    ring(bell);
    await until(() => calls >= 2);
    await settle();
    expect(calls).toBe(2);
    loop.stop();
  });

  it('services every ring of a burst at least once after the last one', async () => {
    const bell = doorbell();
    let calls = 0;
    let seenAtLastCall = -1;
    const loop = startServiceLoop(bell, () => {
      calls++;
      seenAtLastCall = bell.load();
    });
    await settle();
    for (let k = 0; k < 100; k++) ring(bell);
    await until(() => seenAtLastCall === bell.load());
    expect(calls).toBeGreaterThan(0);
    // The last service() saw the final doorbell value: nothing was left unserviced.
    expect(seenAtLastCall).toBe(bell.load());
    loop.stop();
    const after = calls;
    ring(bell);
    await settle();
    expect(calls).toBe(after);
  });

  it('falls back to a timer where Atomics.waitAsync is missing (Firefox before 145)', async () => {
    const atomics = Atomics as unknown as { waitAsync?: unknown };
    const saved = atomics.waitAsync;
    atomics.waitAsync = undefined;
    try {
      expect(SharedWord.canWaitAsync).toBe(false);
      let calls = 0;
      const loop = startServiceLoop(doorbell(), () => calls++);
      await until(() => calls > 3);
      loop.stop();
      expect(calls).toBeGreaterThan(3);
    } finally {
      atomics.waitAsync = saved;
    }
  });
});
