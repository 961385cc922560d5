/**
 * Device-side virtqueues in a snapshot (a device's 'QUEU', a relay's guest
 * rings): each queue's state words
 * (ready, size, ring addresses, last_avail / used indices, the used index
 * last signalled, EVENT_IDX / INDIRECT flags, the error that broke it, its
 * counters). Reading checks the rings lie in guest memory with the spec's
 * alignment, the indices fit 16 bits, the flags agree with the negotiated
 * features, and a queue that is not ready holds nothing.
 */

import {
  SnapshotError,
  type SnapshotReader,
  type SnapshotWriter,
} from '../snapshot/snapshot-format.ts';
import { ChainError } from './chain.ts';
import { type DeviceQueueState, validateQueueSetup } from './device-queue.ts';
import { hasFeature, VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC } from './features.ts';
import type { GuestMemory } from './memory.ts';

export function writeQueues(w: SnapshotWriter, queues: readonly DeviceQueueState[]): void {
  w.u32(queues.length);
  for (const q of queues) {
    w.bool(q.ready)
      .u32(q.size)
      .u32(q.descAddr)
      .u32(q.availAddr)
      .u32(q.usedAddr)
      .u32(q.lastAvail)
      .u32(q.usedIdx)
      .u32(q.signalledUsed)
      .bool(q.eventIdx)
      .bool(q.indirect)
      .u32(q.error)
      .u32(q.popped)
      .u32(q.pushed)
      .u32(q.rejected);
  }
}

/** Reads the `count` queues of a device whose guest memory and queue sizes are `p`'s. */
export function readQueues(
  r: SnapshotReader,
  p: { mem: GuestMemory; queueMaxSize(index: number): number },
  features: bigint,
  count: number,
): DeviceQueueState[] {
  const n = r.count(count, 'queues', 47);
  if (n !== count) throw new SnapshotError('config-mismatch', `${n} queues, want ${count}`);
  const out: DeviceQueueState[] = [];
  for (let i = 0; i < n; i++) {
    const q: DeviceQueueState = {
      ready: r.bool('ready'),
      size: r.u32(),
      descAddr: r.u32(),
      availAddr: r.u32(),
      usedAddr: r.u32(),
      lastAvail: r.u32(),
      usedIdx: r.u32(),
      signalledUsed: r.u32(),
      eventIdx: r.bool('event idx'),
      indirect: r.bool('indirect'),
      error: r.u32(),
      popped: r.u32(),
      pushed: r.u32(),
      rejected: r.u32(),
    };
    const where = `queue ${i}`;
    if (!q.ready) {
      // A queue that is not ready has had its state wiped (reset, or a refused set-up).
      const { ready: _, ...rest } = q;
      if (Object.values(rest).some((v) => v !== 0 && v !== false)) {
        throw r.invalid(`${where} is not ready but has state`);
      }
    } else {
      const max = p.queueMaxSize(i);
      const err = validateQueueSetup(p.mem, q, max);
      if (err === ChainError.QueueNotReady)
        throw r.invalid(`${where}: size ${q.size} (max ${max})`);
      if (err !== ChainError.None) {
        throw new SnapshotError(
          'address-out-of-range',
          `${where}: rings outside guest memory or misaligned`,
        );
      }
      if (q.lastAvail > 0xffff || q.usedIdx > 0xffff || q.signalledUsed > 0xffff) {
        throw r.invalid(`${where}: ring index beyond 16 bits`);
      }
      if (
        q.eventIdx !== hasFeature(features, VIRTIO_F_EVENT_IDX) ||
        q.indirect !== hasFeature(features, VIRTIO_F_INDIRECT_DESC)
      ) {
        throw r.invalid(`${where}: ring flags disagree with the negotiated features`);
      }
      if (q.error > ChainError.BadChain) throw r.invalid(`${where}: error ${q.error}`);
    }
    out.push(q);
  }
  r.end();
  return out;
}

/**
 * Chains the device took and has not returned must be the `held` it keeps
 * (a virtio-snd device: none on the control and event queues, answered at
 * once; one per held message on TX/RX), unless the ring broke mid-way.
 */
export function checkInFlight(q: DeviceQueueState, index: number, held: number): void {
  if (!q.ready) {
    if (held > 0)
      throw new SnapshotError('invalid-state', `queue ${index} is not ready but holds messages`);
    return;
  }
  const inFlight = (q.lastAvail - q.usedIdx) & 0xffff;
  const ok = q.error === 0 ? inFlight === held : inFlight >= held && inFlight <= q.size;
  if (!ok) {
    throw new SnapshotError(
      'invalid-state',
      `queue ${index}: ${inFlight} chains taken and not returned, ${held} held`,
    );
  }
}
