/**
 * The control plane's side of the renderer's doorbell: runs `service`
 * whenever the doorbell word changes, without blocking its thread
 * (Atomics.waitAsync), or on a 2 ms timer where waitAsync or shared memory
 * is missing.
 *
 * The doorbell is read before each service() call, not after: a ring that
 * arrives while service() runs then changes the word again and wakes the
 * next wait at once. Reading it after service() would fold that ring into
 * the value waited on, and the news it brought (a completion, an xrun)
 * would wait for some later ring, or forever if none came.
 */

import { H_DOORBELL } from './shared-state.ts';

type WaitAsync = (
  a: Int32Array,
  i: number,
  v: number,
) => { async: boolean; value: Promise<string> | string };

export function isSharedArrayBuffer(b: unknown): b is SharedArrayBuffer {
  return typeof SharedArrayBuffer !== 'undefined' && b instanceof SharedArrayBuffer;
}

export function startServiceLoop(i32: Int32Array, service: () => void): { stop(): void } {
  let running = true;
  const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
  if (typeof waitAsync === 'function' && isSharedArrayBuffer(i32.buffer)) {
    const loop = async () => {
      let seen = Atomics.load(i32, H_DOORBELL);
      while (running) {
        const r = waitAsync(i32, H_DOORBELL, seen);
        if (r.async) await r.value;
        seen = Atomics.load(i32, H_DOORBELL);
        if (running) service();
      }
    };
    void loop();
    return {
      stop() {
        running = false;
        Atomics.add(i32, H_DOORBELL, 1);
        Atomics.notify(i32, H_DOORBELL);
      },
    };
  }
  const timer = setInterval(service, 2);
  return {
    stop() {
      clearInterval(timer);
    },
  };
}
