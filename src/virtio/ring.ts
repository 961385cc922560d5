/**
 * The split virtqueue layout (VIRTIO 1.2, section 2.7): byte offsets shared
 * by the driver side and the device side, and the event-index arithmetic.
 *
 *   descriptor table  16 * size bytes, 16-byte aligned
 *     le64 addr; le32 len; le16 flags; le16 next
 *   available ring    6 + 2 * size bytes, 2-byte aligned
 *     le16 flags; le16 idx; le16 ring[size]; le16 used_event
 *   used ring         6 + 8 * size bytes, 4-byte aligned
 *     le16 flags; le16 idx; { le32 id; le32 len } ring[size]; le16 avail_event
 */

export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;

/** Driver -> device: "don't interrupt me" (avail.flags). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** Device -> driver: "don't kick me" (used.flags). */
export const VIRTQ_USED_F_NO_NOTIFY = 1;

export const DESC_SIZE = 16;
export const DESC_ADDR = 0;
export const DESC_LEN = 8;
export const DESC_FLAGS = 12;
export const DESC_NEXT = 14;

export const AVAIL_FLAGS = 0;
export const AVAIL_IDX = 2;
export const AVAIL_RING = 4;

export const USED_FLAGS = 0;
export const USED_IDX = 2;
export const USED_RING = 4;
export const USED_ELEM_SIZE = 8;

/** The largest split queue the spec allows. */
export const VIRTQ_MAX_SIZE = 32768;

export const DESC_ALIGN = 16;
export const AVAIL_ALIGN = 2;
export const USED_ALIGN = 4;

export function descTableBytes(size: number): number {
  return DESC_SIZE * size;
}

/** Available ring size including the trailing used_event field. */
export function availRingBytes(size: number): number {
  return 6 + 2 * size;
}

/** Used ring size including the trailing avail_event field. */
export function usedRingBytes(size: number): number {
  return 6 + USED_ELEM_SIZE * size;
}

/** Address of avail.used_event (driver's "interrupt me after this used index"). */
export function usedEventAddr(availAddr: number, size: number): number {
  return availAddr + AVAIL_RING + 2 * size;
}

/** Address of used.avail_event (device's "kick me after this avail index"). */
export function availEventAddr(usedAddr: number, size: number): number {
  return usedAddr + USED_RING + USED_ELEM_SIZE * size;
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/**
 * vring_need_event(): true when moving an index from `oldIdx` to `newIdx`
 * crossed `eventIdx` (all modulo 2^16). Used for both directions.
 */
export function vringNeedEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}
