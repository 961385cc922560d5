/**
 * What a transport needs from a virtio device, and what the device may ask of
 * its transport. Transport-agnostic: virtio-mmio here, but a PCI transport
 * could drive the same interface.
 */

import type { QueueSetup } from './device-queue.ts';

/** The device's way back to its transport (interrupts and error state). */
export interface TransportLink {
  /** Used buffers were returned: raise a "vring" interrupt. */
  interruptQueue(): void;
  /** The configuration space changed: bump ConfigGeneration and interrupt. */
  configChanged(): void;
  /** The device hit an unrecoverable error: set DEVICE_NEEDS_RESET and interrupt. */
  needsReset(): void;
}

export interface VirtioDevice {
  readonly deviceId: number;
  readonly vendorId: number;
  /** Every feature the device offers, transport bits included (VERSION_1...). */
  readonly deviceFeatures: bigint;
  readonly numQueues: number;
  queueMaxSize(index: number): number;
  /** Reads `size` bytes of device configuration space at `offset` (little-endian). */
  readConfig(offset: number, size: 1 | 2 | 4): number;
  writeConfig(offset: number, value: number, size: 1 | 2 | 4): void;
  /**
   * FEATURES_OK: the driver accepted `features` (a subset of deviceFeatures).
   * Return false to refuse them (FEATURES_OK then stays clear).
   */
  negotiate(features: bigint): boolean;
  /**
   * DRIVER_OK: start serving the queues the driver made ready (null = not
   * set up). Return false when they cannot be used (the transport then sets
   * DEVICE_NEEDS_RESET).
   */
  activate(queues: readonly (QueueSetup | null)[]): boolean;
  /** The driver kicked queue `index`. */
  queueNotify(index: number): void;
  /** Back to the initial state: forget features, queues and everything pending. */
  reset(): void;
  /** Called once by the transport that owns the device. */
  attach(link: TransportLink): void;
}
