/**
 * virtio-snd for the browser: the public API.
 *
 * Device (any thread): VirtioSndDevice + VirtioMmioTransport.
 * Audio thread: PcmRenderer, built from device.renderState.
 */

export type { ChmapConfig, Direction, JackConfig, StreamConfig } from './device/config.ts';
export { DeviceConfigError } from './device/config.ts';
export type { ControlConfig } from './device/controls.ts';
export { PcmRenderer } from './device/pcm-renderer.ts';
export type { RenderState } from './device/render-state.ts';
export type { DeviceStats, StreamStats } from './device/stats.ts';
export { VirtioSndDevice, type VirtioSndDeviceOptions } from './device/virtio-snd-device.ts';
export * from './snd/protocol.ts';
export { GuestAllocator } from './virtio/allocator.ts';
export { ChainError, VirtqueueError } from './virtio/chain.ts';
export type { TransportLink, VirtioDevice } from './virtio/device.ts';
export { DriverQueue, type QueueLayout, type Segment } from './virtio/driver-queue.ts';
export { GuestMemory, GuestMemoryError } from './virtio/memory.ts';
export { MMIO, VirtioMmioTransport } from './virtio/mmio.ts';
export { MmioDriver, VirtioTransportError } from './virtio/mmio-driver.ts';
