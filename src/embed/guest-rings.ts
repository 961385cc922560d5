/**
 * The guest's side of the relay: its four virtqueues, walked in the guest's
 * RAM as it is now (an emulator may replace its RAM buffer, e.g. when
 * WebAssembly memory grows), and the transport link that raises its
 * interrupts. Shared by RelayDevice (control and event queues) and IoRelay
 * (TX and RX); runs on the emulator's thread.
 */

import { VIRTIO_SND_VQ_MAX } from '../snd/protocol.ts';
import { ChainError, DescriptorChain } from '../virtio/chain.ts';
import type { TransportLink } from '../virtio/device.ts';
import {
  DeviceQueue,
  type DeviceQueueState,
  QUEUE_STATE_WORDS,
  type QueueSetup,
} from '../virtio/device-queue.ts';
import type { GuestMemory } from '../virtio/memory.ts';

export class GuestRings {
  /** Set by the transport that owns the relay (VirtioDevice.attach). */
  link: TransportLink | null = null;
  private current: GuestMemory;
  /** Queue states survive a change of RAM buffer: only the views are rebuilt. */
  private readonly states = Array.from(
    { length: VIRTIO_SND_VQ_MAX },
    () => new Uint32Array(QUEUE_STATE_WORDS),
  );
  private queues: DeviceQueue[];
  /** One walked chain per queue: handling one queue can re-enter another. */
  private readonly chains = this.states.map(() => new DescriptorChain(256));

  constructor(private readonly guestMemory: () => GuestMemory) {
    this.current = guestMemory();
    this.queues = this.makeQueues(this.current);
  }

  /** The guest's RAM as it is now (following a replaced buffer). */
  mem(): GuestMemory {
    const m = this.guestMemory();
    if (m !== this.current) {
      this.current = m;
      this.queues = this.makeQueues(m);
    }
    return m;
  }

  /** Guest queue `index`, over the current RAM. */
  queue(index: number): DeviceQueue {
    this.mem();
    return this.queues[index];
  }

  /** A chain buffer for walking queue `index`. */
  chain(index: number): DescriptorChain {
    return this.chains[index];
  }

  /** DRIVER_OK: installs the queues the guest set up. False if one is unusable. */
  configure(
    setups: readonly (QueueSetup | null)[],
    opts: { eventIdx: boolean; indirect: boolean },
  ): boolean {
    this.mem();
    for (let i = 0; i < this.queues.length; i++) {
      const setup = setups[i];
      if (setup && this.queues[i].configure(setup, opts) !== ChainError.None) return false;
    }
    return true;
  }

  /** Each queue's device-side state (last_avail / used indices, rings, flags), for snapshots. */
  saveState(): DeviceQueueState[] {
    return this.queues.map((q) => q.saveState());
  }

  /** Takes each queue's state (checked by the caller: see device-queue-snapshot.ts). */
  applyState(states: readonly DeviceQueueState[]): void {
    this.mem();
    this.queues.forEach((q, i) => {
      q.applyState(states[i]);
    });
  }

  disable(): void {
    for (const q of this.queues) q.disable();
  }

  /** After taking chains off `q`: NEEDS_RESET if its ring broke, else an interrupt if due. */
  signal(q: DeviceQueue): void {
    if (q.error !== ChainError.None) this.link?.needsReset();
    else if (q.shouldInterrupt()) this.link?.interruptQueue();
  }

  needsReset(): void {
    this.link?.needsReset();
  }

  private makeQueues(mem: GuestMemory): DeviceQueue[] {
    return this.states.map((s, i) => new DeviceQueue(mem, s, i));
  }
}
