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

import { SharedWord } from '../shared/layout.ts';

export function isSharedArrayBuffer(b: unknown): b is SharedArrayBuffer {
  return typeof SharedArrayBuffer !== 'undefined' && b instanceof SharedArrayBuffer;
}

/** Runs `service` whenever `doorbell` changes (Atomics.waitAsync), or every 2 ms without it. */
export function startServiceLoop(doorbell: SharedWord, service: () => void): { stop(): void } {
  let running = true;
  if (SharedWord.canWaitAsync) {
    const loop = async () => {
      let seen = doorbell.load();
      while (running) {
        const r = doorbell.waitAsync(seen);
        if (r?.async) await r.value;
        seen = doorbell.load();
        if (running) service();
      }
    };
    void loop();
    return {
      stop() {
        running = false;
        doorbell.add(1);
        doorbell.notify();
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
