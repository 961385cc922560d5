export {
  checkEnvironment,
  createVirtioSound,
  type Recording,
  type VirtioSound,
  type VirtioSoundOptions,
} from './create-virtio-sound.ts';
export type { CardSummary, PlayOptions, ServiceEvent, StreamStatus } from './driver-service.ts';
export { VirtioSoundError, type VirtioSoundErrorCode } from './errors.ts';
export { type Completion, CompletionLog, OutputTap, type TapChunk } from './output-tap.ts';
export { parseWav, type Wav, WavError, writeWav } from './wav.ts';
