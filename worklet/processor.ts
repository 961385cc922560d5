/**
 * The AudioWorkletProcessor shell: builds a PcmRenderer from the device's
 * render state (passed as processorOptions.renderState) and hands it every
 * process() call. All the work is in src/device/pcm-renderer.ts.
 */

import { PcmRenderer } from '../src/device/render/pcm-renderer.ts';
import type { RenderState } from '../src/device/shared/render-state.ts';

interface ProcessorOptions {
  renderState: RenderState;
}

class VirtioSndProcessor extends AudioWorkletProcessor {
  private readonly renderer: PcmRenderer;

  constructor(options: { processorOptions: ProcessorOptions }) {
    super();
    this.renderer = new PcmRenderer(options.processorOptions.renderState);
  }

  process(inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    return this.renderer.process(inputs, outputs);
  }
}

registerProcessor('virtio-snd', VirtioSndProcessor);
