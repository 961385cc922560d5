/**
 * What the relay keeps of a guest TX/RX message while it is in the relay's
 * hands (a Relayed: its walked chain, its stream, its inner copy), of a
 * completion it has not given the guest yet, and the I/O half's state as
 * plain values for snapshots (relay-snapshot.ts). Used by io-relay.ts,
 * which moves them, and relay-device.ts.
 */

import type { DescriptorChain } from '../virtio/chain.ts';
import type { DriverQueueState } from '../virtio/driver-queue.ts';
import type { GateState } from './completion-gate.ts';
import type { TxStreamState } from './tx-holdback.ts';

/** A completion the guest has not been given yet (completion-gate.ts). */
export interface GuestCompletion {
  q: number;
  head: number;
  len: number;
}

/** A guest TX/RX message and the inner message standing for it. */
export interface Relayed {
  q: number;
  /** The guest chain's segments, kept from when it was taken. */
  chain: DescriptorChain;
  /** The stream its header names, if that is one of ours; otherwise -1. */
  stream: number;
  /** TX: PCM bytes after the xfer header. */
  payload: number;
  /** TX: guest address of the payload's first byte (which period buffer it carries). */
  buffer: number;
  /** Inner buffer (readable copy, then writable room); -1 until handed over. */
  inner: number;
}

/**
 * The I/O half's state as plain values (snapshots), every Relayed mapped to
 * an `R`: each guest message the relay holds is in exactly one place: held
 * back, in a backlog, or in an inner queue (then it has an inner copy).
 */
export interface IoRelayState<R> {
  bytesRelayed: number;
  messagesRelayed: number;
  heldMessagesPeak: number;
  refused: number;
  /** The largest inner copy the heap can ever hold (set at activation). */
  messageRoom: number;
  /** TX's and RX's backlogs, oldest first. */
  backlog: [R[], R[]];
  /** Our TX and RX queues to the inner device (null before the guest's DRIVER_OK). */
  inner: [DriverQueueState<R> | null, DriverQueueState<R> | null];
  holdback: TxStreamState<R>[];
  gate: GateState<GuestCompletion>[];
}
