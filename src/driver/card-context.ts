/**
 * What the pieces of the driver (PCM ops, jacks, controls) need from the
 * card: guest memory, its heap and the control channel. (A substream's
 * queue and kick are bound into it at probe.)
 */

import type { GuestHeap } from '../virtio/heap.ts';
import type { GuestMemory } from '../virtio/memory.ts';
import type { CtlChannel } from './ctl-msg.ts';
import type { VirtioSndError } from './errors.ts';

export interface CardContext {
  readonly mem: GuestMemory;
  readonly heap: GuestHeap;
  readonly ctl: CtlChannel;
  /** Why the card is unusable, once it is. */
  readonly error: VirtioSndError | null;
  /** The largest hardware buffer one stream may take. */
  readonly maxBufferBytes: number;
}
