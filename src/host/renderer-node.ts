/**
 * Loading the device's AudioWorklet and creating its node: the one piece of
 * Web Audio glue every host needs (createVirtioSound, the emulator page).
 */

import type { RenderState } from '../device/index.ts';
import { VirtioSoundError } from './errors.ts';
import { defaultProcessorUrl } from './module-urls.ts';

export interface RendererNodeOptions {
  /**
   * Where the AudioWorklet module is served (the package's
   * `virtio-snd-web/processor.js`). Default: the file next to this module,
   * which Vite and webpack 5 pick up by themselves; pass a URL when your
   * bundler does not, or when you serve the file yourself.
   */
  processorUrl?: string | URL | undefined;
}

const loaded = new WeakMap<BaseAudioContext, Promise<void>>();

/**
 * Adds the worklet module to `context` once: later calls for the same
 * context reuse the first load (a processor name registers only once per
 * context), whatever URL they pass. A load that fails rejects with a
 * VirtioSoundError 'processor-load-failed' and is forgotten, so a corrected
 * URL can be tried on the same context.
 */
export function loadRenderer(
  context: BaseAudioContext,
  processorUrl: string | URL = defaultProcessorUrl(),
): Promise<void> {
  let p = loaded.get(context);
  if (!p) {
    const url = String(processorUrl);
    p = context.audioWorklet.addModule(url).catch((cause: unknown) => {
      loaded.delete(context);
      throw new VirtioSoundError(
        'processor-load-failed',
        `the AudioWorklet module did not load from ${url}: ${String(cause)}`,
        { cause },
      );
    });
    loaded.set(context, p);
  }
  return p;
}

/** A node running PcmRenderer over `renderState`: one stereo input (capture), one stereo output. */
export async function createRendererNode(
  context: BaseAudioContext,
  renderState: RenderState,
  options: RendererNodeOptions = {},
): Promise<AudioWorkletNode> {
  await loadRenderer(context, options.processorUrl ?? defaultProcessorUrl());
  return new AudioWorkletNode(context, 'virtio-snd', {
    numberOfInputs: 1,
    numberOfOutputs: 1,
    outputChannelCount: [2],
    channelCount: 2,
    channelCountMode: 'explicit',
    processorOptions: { renderState },
  });
}
