/**
 * Jacks (Linux virtio_jack.c): JACK_INFO at probe, connection state kept up
 * to date by JACK_CONNECTED / JACK_DISCONNECTED events, JACK_REMAP on request.
 */

import {
  decodeJackInfo,
  JACK_INFO,
  JACK_REMAP,
  VIRTIO_SND_JACK_F_REMAP,
  VIRTIO_SND_R_JACK_REMAP,
} from '../snd/protocol.ts';
import type { CardContext } from './card-context.ts';
import { ctlRequest } from './ctl-msg.ts';
import { ArgumentError } from './errors.ts';

export interface Jack {
  id: number;
  hdaFnNid: number;
  features: number;
  hdaRegDefconf: number;
  hdaRegCaps: number;
  connected: boolean;
}

export function parseJacks(payload: Uint8Array, count: number): Jack[] {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return Array.from({ length: count }, (_, id) => {
    const j = decodeJackInfo(view, id * JACK_INFO.size);
    return {
      id,
      hdaFnNid: j.hdaFnNid,
      features: j.features,
      hdaRegDefconf: j.hdaRegDefconf,
      hdaRegCaps: j.hdaRegCaps,
      connected: j.connected !== 0,
    };
  });
}

export class JackSet {
  onChange: ((jack: Jack) => void) | null = null;

  constructor(
    private readonly card: CardContext,
    readonly jacks: Jack[],
  ) {}

  /** A jack event arrived (unknown ids are ignored, as Linux does). */
  event(id: number, connected: boolean): void {
    const j = this.jacks[id];
    if (!j || j.connected === connected) return;
    j.connected = connected;
    this.onChange?.(j);
  }

  /** JACK_REMAP: changes the HDA association and sequence of a jack that allows it. */
  async remap(id: number, association: number, sequence: number): Promise<void> {
    const j = this.jacks[id];
    if (!j) throw new ArgumentError(`no jack ${id}`);
    if (!(j.features & (1 << VIRTIO_SND_JACK_F_REMAP))) {
      throw new ArgumentError(`jack ${id} does not support remapping`);
    }
    const { bytes, view } = ctlRequest(VIRTIO_SND_R_JACK_REMAP, JACK_REMAP.size);
    view.setUint32(JACK_REMAP.jackId, id, true);
    view.setUint32(JACK_REMAP.association, association, true);
    view.setUint32(JACK_REMAP.sequence, sequence, true);
    await this.card.ctl.send(bytes, 4);
    j.hdaRegDefconf =
      ((j.hdaRegDefconf & ~0xff) | ((association & 0xf) << 4) | (sequence & 0xf)) >>> 0;
  }
}
