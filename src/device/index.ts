/**
 * The device: its control plane (VirtioSndDevice) and its data plane
 * (PcmRenderer, for the audio thread), and what a host may read of them.
 * The only entry into src/device for code outside it.
 */

export type { ChmapConfig, JackConfig, StreamConfig } from './control/config.ts';
export { DeviceConfigError } from './control/config.ts';
export { MAX_REQUEST_BYTES } from './control/control-queue.ts';
export type { ControlConfig } from './control/controls.ts';
export type { SaveOptions } from './control/device-snapshot.ts';
export { BACKLOG_CAP, EventBacklog } from './control/event-backlog.ts';
export type { MemoryRanges } from './control/snapshot-memory.ts';
export {
  prepareSoundRestore,
  restoreSoundState,
  saveSoundState,
} from './control/sound-snapshot.ts';
export type { DeviceStats, StreamStats } from './control/stats.ts';
export type { StreamView } from './control/stream-view.ts';
export {
  type JackStatus,
  VirtioSndDevice,
  type VirtioSndDeviceOptions,
} from './control/virtio-snd-device.ts';
export { PcmRenderer } from './render/pcm-renderer.ts';
export { type Completion, CompletionLog } from './shared/completion-log.ts';
export { MAX_BUFFER_BYTES } from './shared/layout.ts';
export { OutputTap, type TapChunk } from './shared/output-tap.ts';
export type { Direction, RenderState } from './shared/render-state.ts';
export type { PcmStateName } from './shared/stream-state.ts';
