/**
 * What an emulator that hosts VirtioSndDevice behind a VirtioMmioTransport
 * saves with its machine: one snapshot (kind 'VSND') holding the
 * transport's ('TRNS') and the device's ('VDEV') snapshots. Guest memory is
 * the emulator's to save. Restoring checks both before changing either.
 */

import { readSnapshot, SnapshotBuilder } from '../../snapshot/snapshot-format.ts';
import type { VirtioMmioTransport } from '../../virtio/mmio.ts';
import type { VirtioSndDevice } from './virtio-snd-device.ts';

export const SOUND_KIND = 'VSND';

function checkPair(transport: VirtioMmioTransport, device: VirtioSndDevice): void {
  if (transport.device !== device) throw new TypeError('the transport does not drive this device');
}

/** The transport's and the device's state in one snapshot. */
export function saveSoundState(
  transport: VirtioMmioTransport,
  device: VirtioSndDevice,
): Uint8Array {
  checkPair(transport, device);
  return new SnapshotBuilder(SOUND_KIND)
    .raw('TRNS', transport.saveState())
    .raw('VDEV', device.saveState())
    .finish();
}

/**
 * Restores a saveSoundState() snapshot: both parts are read and checked
 * first (a SnapshotError leaves both as they were), then applied, the device
 * first, then the transport, whose interrupt line takes its saved level.
 */
export function restoreSoundState(
  transport: VirtioMmioTransport,
  device: VirtioSndDevice,
  bytes: Uint8Array,
): void {
  checkPair(transport, device);
  const sec = readSnapshot(bytes, SOUND_KIND);
  const t = transport.prepareRestore(sec.payload('TRNS'));
  const d = device.prepareRestore(sec.payload('VDEV'));
  sec.end();
  d.apply();
  t.apply();
}
