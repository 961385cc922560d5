// The AudioWorkletGlobalScope, which TypeScript's DOM library does not describe.

declare abstract class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor(options?: unknown);
  abstract process(
    inputs: Float32Array[][],
    outputs: Float32Array[][],
    parameters: Record<string, Float32Array>,
  ): boolean;
}

declare function registerProcessor(
  name: string,
  processorCtor: new (options: never) => AudioWorkletProcessor,
): void;

declare const currentFrame: number;
declare const currentTime: number;
declare const sampleRate: number;
