/**
 * A read-only view of one stream of the device, for hosts and relays that
 * must know where a stream stands (its parameters, how much it has played)
 * without knowing the shared layout. Reads the live shared state each time;
 * made once per stream.
 */

import { VIRTIO_SND_D_OUTPUT } from '../../snd/protocol.ts';
import type { StreamSlot } from '../shared/layout.ts';
import type { Direction } from '../shared/render-state.ts';
import { acceptsIo, PCM_STATE_NAMES, type PcmStateName } from '../shared/stream-state.ts';

export class StreamView {
  constructor(private readonly slot: StreamSlot) {}

  get id(): number {
    return this.slot.id;
  }
  get direction(): Direction {
    return this.slot.direction === VIRTIO_SND_D_OUTPUT ? 'output' : 'input';
  }
  /** Where the stream is in the spec's state machine. */
  get state(): PcmStateName {
    return PCM_STATE_NAMES[this.slot.state] ?? 'initial';
  }
  /** Whether the device takes I/O messages for it now (prepared, running or stopped). */
  get acceptsIo(): boolean {
    return acceptsIo(this.slot.state);
  }
  /** Frame rate in Hz set by SET_PARAMS (0 before). */
  get rateHz(): number {
    return this.slot.rateHz;
  }
  get frameBytes(): number {
    return this.slot.frameBytes;
  }
  get periodBytes(): number {
    return this.slot.periodBytes;
  }
  get bufferBytes(): number {
    return this.slot.bufferBytes;
  }
  /** Payload bytes played (output) or captured (input) since PREPARE. */
  get playedBytes(): number {
    return this.slot.playedBytes;
  }
  /** Payload bytes queued in the device and not yet played / captured. */
  get queuedBytes(): number {
    return this.slot.queuedBytes;
  }
}
