/**
 * What the pieces of the driver (PCM ops, jacks, controls) need from the
 * card: guest memory, its heap, the control channel and the PCM queues.
 */

import type { DriverQueue } from '../virtio/driver-queue.ts';
import type { GuestMemory } from '../virtio/memory.ts';
import type { CtlChannel } from './ctl-msg.ts';
import type { VirtioSndError } from './errors.ts';
import type { GuestHeap } from './guest-heap.ts';
import type { VirtioPcmSubstream } from './pcm.ts';
import type { PcmMsg } from './pcm-msg.ts';

export interface CardContext {
  readonly mem: GuestMemory;
  readonly heap: GuestHeap;
  readonly ctl: CtlChannel;
  /** Why the card is unusable, once it is. */
  readonly error: VirtioSndError | null;
  /** The largest hardware buffer one stream may take. */
  readonly maxBufferBytes: number;
  /** The TX queue for playback substreams, RX for capture. */
  queueOf(vss: VirtioPcmSubstream): DriverQueue<PcmMsg>;
  /** A function that notifies the device of new buffers on the substream's queue. */
  kick(vss: VirtioPcmSubstream): () => void;
}
