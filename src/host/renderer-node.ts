/**
 * Loading the device's AudioWorklet and creating its node: the one piece of
 * Web Audio glue every host needs (createVirtioSound, the emulator page).
 */

import processorUrl from '../../worklet/processor.ts?worker&url';
import type { RenderState } from '../device/index.ts';

const loaded = new WeakMap<BaseAudioContext, Promise<void>>();

/** Adds the worklet module to `context` once. */
export function loadRenderer(context: BaseAudioContext): Promise<void> {
  let p = loaded.get(context);
  if (!p) {
    p = context.audioWorklet.addModule(processorUrl);
    loaded.set(context, p);
  }
  return p;
}

/** A node running PcmRenderer over `renderState`: one stereo input (capture), one stereo output. */
export async function createRendererNode(
  context: BaseAudioContext,
  renderState: RenderState,
): Promise<AudioWorkletNode> {
  await loadRenderer(context);
  return new AudioWorkletNode(context, 'virtio-snd', {
    numberOfInputs: 1,
    numberOfOutputs: 1,
    outputChannelCount: [2],
    channelCount: 2,
    channelCountMode: 'explicit',
    processorOptions: { renderState },
  });
}
