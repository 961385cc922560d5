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
 *
 * The protocol, and what it guarantees:
 *  - The lock word holds its owner (LOCK_RENDERER or LOCK_CONTROL) or
 *    LOCK_FREE. It is taken with compareExchange(FREE -> owner) and released
 *    with compareExchange(owner -> FREE): an unlock frees the lock only if
 *    its caller still holds it.
 *  - The control plane takes the lock over, compareExchange(RENDERER ->
 *    CONTROL), only after the renderer has held it for STEAL_AFTER_MS: its
 *    thread was torn down inside process(), or stalled there (a debugger, a
 *    long GC, a starved core). Without it a dead audio thread would stop the
 *    control plane for good.
 *  - A renderer that was only stalled goes on with its quantum when it comes
 *    back, and its unlock then fails: it does not free the control plane's
 *    lock (nor a later one's), and it raises INT_NEEDS_RESET.
 * So at most one half is ever inside, except after a takeover of a stalled
 * renderer; and every such overlap ends in DEVICE_NEEDS_RESET, so the guest
 * resets the device rather than run on queue state both halves wrote.
 */

import type { SharedWord } from './layout.ts';

export const LOCK_FREE = 0;
export const LOCK_RENDERER = 1;
export const LOCK_CONTROL = 2;

/** Take the lock for `owner` if it is free. Never blocks. */
export function tryLock(lock: SharedWord, owner: number): boolean {
  return lock.compareExchange(LOCK_FREE, owner) === LOCK_FREE;
}

/**
 * Releases the lock if `owner` still holds it. False when it was taken over
 * meanwhile (the lock is then left to its new owner).
 */
export function unlock(lock: SharedWord, owner: number): boolean {
  return lock.compareExchange(owner, LOCK_FREE) === owner;
}

/** A lock held for longer than this by the renderer means it died or stalled mid-quantum. */
export const STEAL_AFTER_MS = 250;

/**
 * Control-plane side: spins until the lock is free, then takes it. If the
 * renderer holds it for over `stealAfterMs`, takes it over so the control
 * plane keeps answering (see the protocol above). Returns true when it did.
 */
export function lockSpin(lock: SharedWord, owner: number, stealAfterMs = STEAL_AFTER_MS): boolean {
  if (tryLock(lock, owner)) return false;
  const start = Date.now();
  for (let spins = 1; ; spins++) {
    if (tryLock(lock, owner)) return false;
    if ((spins & 1023) === 0 && Date.now() - start > stealAfterMs) {
      if (lock.compareExchange(LOCK_RENDERER, owner) === LOCK_RENDERER) return true;
    }
  }
}

/** Runs `f` holding the lock (control plane). */
export function withLock<T>(lock: SharedWord, f: () => T): T {
  lockSpin(lock, LOCK_CONTROL);
  try {
    return f();
  } finally {
    unlock(lock, LOCK_CONTROL);
  }
}
