/**
 * virtio_snd_ctl_value (512 bytes), coded by control type as Linux
 * include/uapi/linux/virtio_snd.h lays out its union:
 *   BOOLEAN     le32 integer[count]     (0 or 1)
 *   INTEGER     le32 integer[count]     (signed)
 *   INTEGER64   le64 integer64[count]   (signed)
 *   ENUMERATED  le32 enumerated[count]  (item indexes)
 *   BYTES       u8 bytes[count]
 *   IEC958      struct virtio_snd_ctl_iec958 (176 bytes; count is 1)
 * Values are numbers: an IEC958 value is its 176 bytes in order, and an
 * INTEGER64 value is exact within +-2^53 (Number.MAX_SAFE_INTEGER).
 * Used by the device and the driver alike, so both sides agree.
 */

import {
  VIRTIO_SND_CTL_TYPE_BOOLEAN,
  VIRTIO_SND_CTL_TYPE_BYTES,
  VIRTIO_SND_CTL_TYPE_IEC958,
  VIRTIO_SND_CTL_TYPE_INTEGER,
  VIRTIO_SND_CTL_TYPE_INTEGER64,
} from './constants.ts';
import { CTL_IEC958 } from './structs.ts';

/** The largest `count` of each type (VIRTIO_SND_CTL_TYPE_* index), from the spec. */
export const CTL_MAX_COUNT: readonly number[] = [128, 128, 64, 128, 512, 1];

/** Numbers in the value of a control of `type` with `count` elements (IEC958: its 176 bytes). */
export function ctlValueLength(type: number, count: number): number {
  return type === VIRTIO_SND_CTL_TYPE_IEC958 ? CTL_IEC958.size : count;
}

function checkType(type: number): void {
  if (!(type >= VIRTIO_SND_CTL_TYPE_BOOLEAN && type <= VIRTIO_SND_CTL_TYPE_IEC958)) {
    throw new RangeError(`undefined control type ${type}`);
  }
}

/** Writes `values` (ctlValueLength of them) as a value of `type` at `off` of `view`. */
export function encodeCtlValue(
  view: DataView,
  off: number,
  type: number,
  values: readonly number[],
): void {
  checkType(type);
  values.forEach((x, k) => {
    switch (type) {
      case VIRTIO_SND_CTL_TYPE_INTEGER64:
        view.setBigInt64(off + 8 * k, BigInt(x), true);
        break;
      case VIRTIO_SND_CTL_TYPE_BYTES:
      case VIRTIO_SND_CTL_TYPE_IEC958:
        view.setUint8(off + k, x);
        break;
      case VIRTIO_SND_CTL_TYPE_INTEGER:
        view.setInt32(off + 4 * k, x, true);
        break;
      default:
        view.setUint32(off + 4 * k, x >>> 0, true);
    }
  });
}

/** Reads the value of a control of `type` with `count` elements at `off` of `view`. */
export function decodeCtlValue(view: DataView, off: number, type: number, count: number): number[] {
  checkType(type);
  return Array.from({ length: ctlValueLength(type, count) }, (_, k) => {
    switch (type) {
      case VIRTIO_SND_CTL_TYPE_INTEGER64:
        return Number(view.getBigInt64(off + 8 * k, true));
      case VIRTIO_SND_CTL_TYPE_BYTES:
      case VIRTIO_SND_CTL_TYPE_IEC958:
        return view.getUint8(off + k);
      case VIRTIO_SND_CTL_TYPE_INTEGER:
        return view.getInt32(off + 4 * k, true);
      default:
        return view.getUint32(off + 4 * k, true);
    }
  });
}
