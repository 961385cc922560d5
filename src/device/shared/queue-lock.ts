/**
 * The try-lock that gives one device half at a time the TX (or RX) queue and
 * the entries of the streams fed by it.
 *
 * The renderer never waits: if the control plane holds the lock it skips the
 * queue for one quantum. The control plane holds it only for short, bounded
 * work (a state change, a flush of at most one queue's worth of messages) and
 * spins until the renderer's quantum is over; the renderer holds it for the
 * few microseconds of one process() call. Works on the main thread too, where
 * Atomics.wait is not allowed.
 */

import type { SharedWord } from './layout.ts';

export const LOCK_FREE = 0;
export const LOCK_RENDERER = 1;
export const LOCK_CONTROL = 2;

/** Renderer side: take the lock if free. Never blocks. */
export function tryLock(lock: SharedWord, owner: number): boolean {
  return lock.compareExchange(LOCK_FREE, owner) === LOCK_FREE;
}

export function unlock(lock: SharedWord): void {
  lock.store(LOCK_FREE);
}

/** A lock held for longer than this by the renderer means it died mid-quantum. */
const STEAL_AFTER_MS = 250;

/**
 * Control-plane side: spins until the lock is free, then takes it. If the
 * renderer held it for over 250 ms (its thread was torn down inside
 * process()), the lock is taken over so the control plane keeps answering.
 */
export function lockSpin(lock: SharedWord, owner: number): void {
  if (tryLock(lock, owner)) return;
  const start = Date.now();
  for (let spins = 0; ; spins++) {
    if (tryLock(lock, owner)) return;
    if ((spins & 1023) === 1023 && Date.now() - start > STEAL_AFTER_MS) {
      lock.store(owner);
      return;
    }
  }
}

/** Runs `f` holding the lock (control plane). */
export function withLock<T>(lock: SharedWord, f: () => T): T {
  lockSpin(lock, LOCK_CONTROL);
  try {
    return f();
  } finally {
    unlock(lock);
  }
}
