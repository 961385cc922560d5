/**
 * Jacks: JACK_INFO, JACK_REMAP, and the host's plug/unplug, which reaches the
 * guest as JACK_CONNECTED / JACK_DISCONNECTED events.
 */

import {
  encodeJackInfo,
  JACK_INFO,
  JACK_REMAP,
  VIRTIO_SND_JACK_F_REMAP,
  VIRTIO_SND_S_BAD_MSG,
  VIRTIO_SND_S_NOT_SUPP,
  VIRTIO_SND_S_OK,
} from '../../snd/protocol.ts';
import type { JackConfig } from './config.ts';
import { answerQueryInfo } from './control-info.ts';
import type { ControlRequest, ControlResponse } from './control-queue.ts';

// HDA pin default configuration: association in bits 7:4, sequence in bits 3:0.
const DEFCONF_ASSOC_SHIFT = 4;
const DEFCONF_ASSOC_MASK = 0xf0;
const DEFCONF_SEQ_MASK = 0x0f;

/** What of a jack can change at run time (snapshots). */
export interface JackState {
  connected: boolean;
  hdaRegDefconf: number;
}

export class Jacks {
  private readonly jacks: Required<JackConfig>[];

  constructor(private readonly initial: readonly Required<JackConfig>[]) {
    this.jacks = initial.map((j) => ({ ...j }));
  }

  get count(): number {
    return this.jacks.length;
  }

  get(id: number): Readonly<Required<JackConfig>> {
    return this.jacks[id];
  }

  reset(): void {
    this.initial.forEach((j, i) => {
      this.jacks[i] = { ...j, connected: this.jacks[i].connected };
    });
  }

  saveState(): JackState[] {
    return this.jacks.map((j) => ({ connected: j.connected, hdaRegDefconf: j.hdaRegDefconf }));
  }

  /** Why `states` could not come from these jacks, or null: only JACK_REMAP changes a defconf. */
  checkState(states: readonly JackState[]): string | null {
    if (states.length !== this.jacks.length)
      return `${states.length} jacks, want ${this.jacks.length}`;
    for (let id = 0; id < states.length; id++) {
      const j = this.initial[id];
      const changed = (states[id].hdaRegDefconf ^ j.hdaRegDefconf) >>> 0;
      if ((changed & ~(DEFCONF_ASSOC_MASK | DEFCONF_SEQ_MASK)) !== 0) {
        return `jack ${id}: defconf changed beyond association and sequence`;
      }
      if (changed !== 0 && (j.features & (1 << VIRTIO_SND_JACK_F_REMAP)) === 0) {
        return `jack ${id}: remapped, but it cannot be`;
      }
    }
    return null;
  }

  applyState(states: readonly JackState[]): void {
    states.forEach((st, id) => {
      this.jacks[id].connected = st.connected;
      this.jacks[id].hdaRegDefconf = st.hdaRegDefconf;
    });
  }

  /** Host side: plug or unplug. Returns true when the state changed. */
  setConnected(id: number, connected: boolean): boolean {
    const j = this.jacks[id];
    if (!j) throw new RangeError(`no jack ${id} (the device has ${this.jacks.length})`);
    if (j.connected === connected) return false;
    j.connected = connected;
    return true;
  }

  info(req: ControlRequest): ControlResponse {
    return answerQueryInfo(req, this.jacks.length, JACK_INFO.size, (id, view, off) => {
      const j = this.jacks[id];
      encodeJackInfo(view, off, {
        hdaFnNid: j.hdaFnNid,
        features: j.features,
        hdaRegDefconf: j.hdaRegDefconf,
        hdaRegCaps: j.hdaRegCaps,
        connected: j.connected ? 1 : 0,
      });
    });
  }

  /** JACK_REMAP: sets the HDA association and sequence of a jack that allows it. */
  remap(req: ControlRequest): ControlResponse {
    if (req.bytes.length !== JACK_REMAP.size) return { status: VIRTIO_SND_S_BAD_MSG };
    const v = req.view;
    const id = v.getUint32(JACK_REMAP.jackId, true);
    const association = v.getUint32(JACK_REMAP.association, true);
    const sequence = v.getUint32(JACK_REMAP.sequence, true);
    const j = this.jacks[id];
    if (!j) return { status: VIRTIO_SND_S_BAD_MSG };
    if ((j.features & (1 << VIRTIO_SND_JACK_F_REMAP)) === 0)
      return { status: VIRTIO_SND_S_NOT_SUPP };
    if (association > 0xf || sequence > 0xf) return { status: VIRTIO_SND_S_BAD_MSG };
    j.hdaRegDefconf =
      ((j.hdaRegDefconf & ~(DEFCONF_ASSOC_MASK | DEFCONF_SEQ_MASK)) |
        (association << DEFCONF_ASSOC_SHIFT) |
        sequence) >>>
      0;
    return { status: VIRTIO_SND_S_OK };
  }
}
