/**
 * Channel maps: CHMAP_INFO, and the lookup the renderer uses to place a
 * stream's channels (the map of the stream's direction, function group and
 * channel count).
 */

import {
  CHMAP_INFO,
  encodeChmapInfo,
  VIRTIO_SND_D_INPUT,
  VIRTIO_SND_D_OUTPUT,
} from '../../snd/protocol.ts';
import type { ChmapConfig, Direction } from './config.ts';
import { answerQueryInfo } from './control-info.ts';
import type { ControlRequest, ControlResponse } from './control-queue.ts';

export class Chmaps {
  constructor(readonly maps: readonly Required<ChmapConfig>[]) {}

  get count(): number {
    return this.maps.length;
  }

  info(req: ControlRequest): ControlResponse {
    return answerQueryInfo(req, this.maps.length, CHMAP_INFO.size, (id, view, off) => {
      const m = this.maps[id];
      encodeChmapInfo(view, off, {
        hdaFnNid: m.hdaFnNid,
        direction: m.direction === 'output' ? VIRTIO_SND_D_OUTPUT : VIRTIO_SND_D_INPUT,
        positions: m.positions,
      });
    });
  }

  /** Positions for a stream of `channels` channels, or undefined when no map fits. */
  find(direction: Direction, hdaFnNid: number, channels: number): readonly number[] | undefined {
    return this.maps.find(
      (m) =>
        m.direction === direction && m.hdaFnNid === hdaFnNid && m.positions.length === channels,
    )?.positions;
  }
}
