/** Why createVirtioSound() could not set up audio, as a code a page can switch on. */
export type VirtioSoundErrorCode =
  | 'not-cross-origin-isolated'
  | 'no-shared-array-buffer'
  | 'no-audio-worklet'
  | 'no-worker'
  | 'processor-load-failed'
  | 'worker-load-failed'
  | 'microphone-denied'
  | 'no-microphone'
  | 'audio-interrupted'
  | 'no-output-selection'
  | 'closed';

export class VirtioSoundError extends Error {
  override name = 'VirtioSoundError';
  constructor(
    readonly code: VirtioSoundErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
