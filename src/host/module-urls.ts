/**
 * Where the two prebuilt pieces live, in this repository: the AudioWorklet
 * module and the driver Worker, built by Vite from source (the demo, the
 * guest page, the tests). The published package builds these from
 * module-urls.package.ts instead, which points at dist/processor.js and
 * dist/driver-worker.js next to the importing file.
 */

import processorModuleUrl from '../../worklet/processor.ts?worker&url';

/** The AudioWorklet module that registers the 'virtio-snd' processor. */
export function defaultProcessorUrl(): string {
  return processorModuleUrl;
}

/** Starts the driver Worker from `url`, or from the bundled entry when none is given. */
export function startDriverWorker(url: string | URL | undefined): Worker {
  // The literal `new Worker(new URL(...), {...})` is what bundlers recognise.
  return url === undefined
    ? new Worker(new URL('./driver-worker.ts', import.meta.url), {
        type: 'module',
        name: 'virtio-snd-driver',
      })
    : new Worker(url, { type: 'module', name: 'virtio-snd-driver' });
}
