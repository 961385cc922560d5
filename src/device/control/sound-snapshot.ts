/**
 * What an emulator that hosts VirtioSndDevice behind a VirtioMmioTransport
 * saves with its machine: one snapshot (kind 'VSND') holding the
 * transport's ('TRNS') and the device's ('VDEV') snapshots. Guest memory is
 * the emulator's to save (or the device's, with SaveOptions.memory).
 * Restoring checks both before changing either.
 */

import {
  type PreparedRestore,
  readSnapshot,
  SnapshotBuilder,
} from '../../snapshot/snapshot-format.ts';
import type { VirtioMmioTransport } from '../../virtio/mmio.ts';
import type { SaveOptions } from './device-snapshot.ts';
import type { VirtioSndDevice } from './virtio-snd-device.ts';

export const SOUND_KIND = 'VSND';

function checkPair(transport: VirtioMmioTransport, device: VirtioSndDevice): void {
  if (transport.device !== device) throw new TypeError('the transport does not drive this device');
}

/** The transport's and the device's state in one snapshot (`opts` as VirtioSndDevice.saveState). */
export function saveSoundState(
  transport: VirtioMmioTransport,
  device: VirtioSndDevice,
  opts: SaveOptions = {},
): Uint8Array {
  checkPair(transport, device);
  return new SnapshotBuilder(SOUND_KIND)
    .raw('TRNS', transport.saveState())
    .raw('VDEV', device.saveState(opts))
    .finish();
}

/**
 * Reads and checks a saveSoundState() snapshot (a SnapshotError leaves both
 * as they were); apply() restores the device, then the transport, whose
 * interrupt line takes its saved level.
 */
export function prepareSoundRestore(
  transport: VirtioMmioTransport,
  device: VirtioSndDevice,
  bytes: Uint8Array,
): PreparedRestore {
  checkPair(transport, device);
  const sec = readSnapshot(bytes, SOUND_KIND);
  const t = transport.prepareRestore(sec.payload('TRNS'));
  const d = device.prepareRestore(sec.payload('VDEV'));
  sec.end();
  return {
    apply() {
      d.apply();
      t.apply();
    },
  };
}

/** prepareSoundRestore(...).apply(). */
export function restoreSoundState(
  transport: VirtioMmioTransport,
  device: VirtioSndDevice,
  bytes: Uint8Array,
): void {
  prepareSoundRestore(transport, device, bytes).apply();
}
