/**
 * The *_INFO requests (JACK_INFO, PCM_INFO, CHMAP_INFO, CTL_INFO) share one
 * shape: a virtio_snd_query_info {code, start_id, count, size} answered by
 * `count` info structs of `size` bytes each. This checks the query once.
 */

import { QUERY_INFO, VIRTIO_SND_S_BAD_MSG, VIRTIO_SND_S_OK } from '../../snd/protocol.ts';
import type { ControlRequest, ControlResponse } from './control-queue.ts';

/**
 * The largest item `size` answered: ten times our largest info struct
 * (ctl_info, 96 bytes), room for any struct a later spec may grow into. A
 * larger size is BAD_MSG: `size` comes from the guest, and the response
 * (count * size, zero beyond the struct) would otherwise be bounded only by
 * the writable room, which descriptors aliasing the same pages can make many
 * times the guest's RAM (the CVE-2026-3196 class). With the cap one request
 * writes at most 4 + total * MAX_INFO_ITEM_BYTES bytes, whatever the guest says.
 */
export const MAX_INFO_ITEM_BYTES = 1024;

/** The longest answer to a query_info over `total` items (for hosts that mirror responses). */
export function queryInfoMaxBytes(total: number): number {
  return 4 + total * MAX_INFO_ITEM_BYTES;
}

/** Writes item `id` as an info struct of `size` bytes at `offset` of `view`. */
export type InfoEncoder = (id: number, view: DataView, offset: number, size: number) => void;

/**
 * Answers a query_info for `total` items whose info struct is at least
 * `minSize` bytes. A driver may ask for a larger `size` (a newer struct), up
 * to MAX_INFO_ITEM_BYTES: the extra bytes are zero. A smaller one is refused, except the sizes listed in
 * `alsoAccepted` (layouts the encoder knows, such as ctl_info on i386).
 */
export function answerQueryInfo(
  req: ControlRequest,
  total: number,
  minSize: number,
  encode: InfoEncoder,
  alsoAccepted: readonly number[] = [],
): ControlResponse {
  if (req.bytes.length !== QUERY_INFO.size) return { status: VIRTIO_SND_S_BAD_MSG };
  const v = req.view;
  const start = v.getUint32(QUERY_INFO.startId, true);
  const count = v.getUint32(QUERY_INFO.count, true);
  const size = v.getUint32(QUERY_INFO.itemSize, true);
  if (start > total || count > total - start) return { status: VIRTIO_SND_S_BAD_MSG };
  if (size < minSize && !alsoAccepted.includes(size)) return { status: VIRTIO_SND_S_BAD_MSG };
  if (size > MAX_INFO_ITEM_BYTES) return { status: VIRTIO_SND_S_BAD_MSG };
  // Checked in floating point: count * size cannot wrap as it would in 32 bits.
  if (4 + count * size > req.room) return { status: VIRTIO_SND_S_BAD_MSG };
  const payload = new Uint8Array(count * size);
  const out = new DataView(payload.buffer);
  for (let i = 0; i < count; i++) encode(start + i, out, i * size, size);
  return { status: VIRTIO_SND_S_OK, payload };
}
