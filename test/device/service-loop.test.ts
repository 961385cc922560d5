/**
 * The doorbell service loop must never lose a ring: one that arrives while
 * service() runs has to cause another service() call. (It used to be folded
 * into the value waited on, so a completion or XRUN rung at that moment
 * reached the driver only with some later ring, or never.)
 */
import { describe, expect, it } from 'vitest';
import { startServiceLoop } from '../../src/device/service-loop.ts';
import { H_DOORBELL } from '../../src/device/shared-state.ts';

function ring(i32: Int32Array): void {
  Atomics.add(i32, H_DOORBELL, 1);
  Atomics.notify(i32, H_DOORBELL);
}

const settle = () => new Promise((r) => setTimeout(r, 50));

/** Waits (up to 10 s: a loaded machine is slow, not wrong) until `done()` holds. */
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done() && Date.now() < deadline) await settle();
}

describe('startServiceLoop', () => {
  it('services a ring that arrives during service()', async () => {
    const i32 = new Int32Array(new SharedArrayBuffer(64));
    let calls = 0;
    const loop = startServiceLoop(i32, () => {
      calls++;
      // The renderer rings again while the control plane is busy with the first one.
      if (calls === 1) ring(i32);
    });
    await settle();
    ring(i32);
    await until(() => calls >= 2);
    await settle();
    expect(calls).toBe(2);
    loop.stop();
  });

  it('services every ring of a burst at least once after the last one', async () => {
    const i32 = new Int32Array(new SharedArrayBuffer(64));
    let calls = 0;
    let seenAtLastCall = -1;
    const loop = startServiceLoop(i32, () => {
      calls++;
      seenAtLastCall = Atomics.load(i32, H_DOORBELL);
    });
    await settle();
    for (let k = 0; k < 100; k++) ring(i32);
    await until(() => seenAtLastCall === Atomics.load(i32, H_DOORBELL));
    expect(calls).toBeGreaterThan(0);
    // The last service() saw the final doorbell value: nothing was left unserviced.
    expect(seenAtLastCall).toBe(Atomics.load(i32, H_DOORBELL));
    loop.stop();
    const after = calls;
    ring(i32);
    await settle();
    expect(calls).toBe(after);
  });

  it('falls back to a timer without shared memory', async () => {
    const i32 = new Int32Array(new ArrayBuffer(64));
    let calls = 0;
    const loop = startServiceLoop(i32, () => calls++);
    await until(() => calls > 3);
    loop.stop();
    expect(calls).toBeGreaterThan(3);
  });
});
