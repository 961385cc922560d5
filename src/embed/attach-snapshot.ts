/**
 * What an emulator saves of an attached sound device with its machine: one
 * snapshot (kind 'VATT') holding the guest's transport ('TRNS', the guest's
 * view of the MMIO registers) and the relay ('RLAY', relay-snapshot.ts).
 * Restoring checks both, and that they agree (activation, features, each
 * ring where the registers put it), before changing either.
 */

import {
  type PreparedRestore,
  readSnapshot,
  SnapshotBuilder,
  SnapshotError,
} from '../snapshot/snapshot-format.ts';
import { VIRTIO_STATUS_FEATURES_OK } from '../virtio/features.ts';
import type { VirtioMmioTransport } from '../virtio/mmio.ts';
import { readMmioState, TRANSPORT_KIND } from '../virtio/mmio-snapshot.ts';
import type { RelayDevice } from './relay-device.ts';

export const ATTACHED_KIND = 'VATT';

function checkPair(transport: VirtioMmioTransport, relay: RelayDevice): void {
  if (transport.device !== relay) throw new TypeError('the transport does not drive this relay');
}

export function saveAttached(transport: VirtioMmioTransport, relay: RelayDevice): Uint8Array {
  checkPair(transport, relay);
  return new SnapshotBuilder(ATTACHED_KIND)
    .raw('TRNS', transport.saveState())
    .raw('RLAY', relay.saveState())
    .finish();
}

/** Reads and checks a saveAttached() snapshot; apply() restores the relay, then the transport. */
export function prepareAttachedRestore(
  transport: VirtioMmioTransport,
  relay: RelayDevice,
  bytes: Uint8Array,
): PreparedRestore {
  checkPair(transport, relay);
  const sec = readSnapshot(bytes, ATTACHED_KIND);
  const trns = sec.payload('TRNS');
  const t = transport.prepareRestore(trns);
  const r = relay.prepareRestore(sec.payload('RLAY'));
  sec.end();
  const regs = readMmioState(readSnapshot(trns, TRANSPORT_KIND).one('REGS'), relay);
  const disagree = (what: string) =>
    new SnapshotError('invalid-state', `the guest's transport and the relay disagree on ${what}`);
  if (r.active && !regs.activated) throw disagree('activation');
  if (regs.status & VIRTIO_STATUS_FEATURES_OK && regs.driverFeatures !== r.features) {
    throw disagree('the negotiated features');
  }
  if (r.active) {
    regs.queues.forEach((q, i) => {
      const g = r.guestQueues[i];
      const addr = ([lo, hi]: [number, number]) => (hi === 0 ? lo : -1);
      const same =
        g.ready === q.ready &&
        (!g.ready ||
          (g.size === q.num &&
            g.descAddr === addr(q.desc) &&
            g.availAddr === addr(q.driver) &&
            g.usedAddr === addr(q.device)));
      if (!same) throw disagree(`where queue ${i} is`);
    });
  }
  return {
    apply() {
      r.apply();
      t.apply();
    },
  };
}
