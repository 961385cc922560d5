/**
 * virtio-snd for the browser: the package's root entry. DOM-free: it runs in
 * Node, a Worker or an AudioWorkletGlobalScope.
 *
 * Device (any thread): VirtioSndDevice behind a VirtioMmioTransport.
 * Audio thread: PcmRenderer, built from device.renderState.
 * The virtio-snd protocol (every constant and struct of virtio_snd.h) and the
 * virtio building blocks (guest memory, split virtqueues, the MMIO driver side).
 */

export * from './device/index.ts';
export {
  type PreparedRestore,
  readSnapshot,
  SnapshotBuilder,
  SnapshotError,
  type SnapshotErrorReason,
  type SnapshotReader,
  type SnapshotSections,
  SnapshotWriter,
  snapshotChunks,
} from './snapshot/snapshot-format.ts';
export * from './snd/protocol.ts';
export { ChainError, VirtqueueError } from './virtio/chain.ts';
export type { TransportLink, VirtioDevice } from './virtio/device.ts';
export { DriverQueue, type QueueLayout, type Segment } from './virtio/driver-queue.ts';
export { type Allocator, GuestAllocationError, GuestHeap } from './virtio/heap.ts';
export { GuestMemory, GuestMemoryError } from './virtio/memory.ts';
export { MMIO, VirtioMmioTransport } from './virtio/mmio.ts';
export { MmioDriver, VirtioTransportError } from './virtio/mmio-driver.ts';
