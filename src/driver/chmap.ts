/**
 * Channel maps (Linux virtio_chmap.c): CHMAP_INFO at probe; each map gives
 * the positions of a stream's channels for one channel count.
 */

import { CHMAP_INFO, decodeChmapInfo, VIRTIO_SND_D_OUTPUT } from '../snd/protocol.ts';
import type { PcmDirection } from './pcm.ts';

export interface Chmap {
  id: number;
  hdaFnNid: number;
  direction: PcmDirection;
  /** VIRTIO_SND_CHMAP_* per channel. */
  positions: number[];
}

export function parseChmaps(payload: Uint8Array, count: number): Chmap[] {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const maps: Chmap[] = [];
  for (let id = 0; id < count; id++) {
    const c = decodeChmapInfo(view, id * CHMAP_INFO.size);
    // Linux skips maps with an undefined direction; so do we.
    if (c.direction > 1) continue;
    maps.push({
      id,
      hdaFnNid: c.hdaFnNid,
      direction: c.direction === VIRTIO_SND_D_OUTPUT ? 'playback' : 'capture',
      positions: [...c.positions],
    });
  }
  return maps;
}
