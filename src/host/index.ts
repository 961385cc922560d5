/**
 * Main-thread glue for a web page: createVirtioSound() builds the guest memory,
 * the AudioContext, the worklet node and the driver Worker and returns a typed
 * handle; createRendererNode() is the one piece an emulator page needs.
 */

export { type Completion, CompletionLog, OutputTap, type TapChunk } from '../device/index.ts';
export { SnapshotError, type SnapshotErrorReason } from '../snapshot/snapshot-format.ts';
export {
  type AudioLink,
  type AudioLinkOptions,
  type AudioLinkTarget,
  linkAudioOutput,
} from './audio-link.ts';
export {
  type AudioOutputWatch,
  type AudioPlaybackStatsLike,
  type AudioState,
  audioStateOf,
  outputLatencyOf,
  playbackStatsOf,
  resumeAudio,
  watchAudioOutput,
} from './audio-output.ts';
export {
  type AudioOutputDevice,
  checkEnvironment,
  createVirtioSound,
  type Recording,
  type VirtioSound,
  type VirtioSoundOptions,
} from './create-virtio-sound.ts';
export {
  type AudioDeviceSource,
  type AudioDevicesFollower,
  followAudioDevices,
} from './device-jacks.ts';
export type { CardSummary, PlayOptions, ServiceEvent, StreamStatus } from './driver-service.ts';
export { VirtioSoundError, type VirtioSoundErrorCode } from './errors.ts';
export { createRendererNode, loadRenderer, type RendererNodeOptions } from './renderer-node.ts';
export { parseWav, type Wav, WavError, writeWav } from './wav.ts';
