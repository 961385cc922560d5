/**
 * Where the two prebuilt pieces live, in the published package: files next
 * to the importing module in dist/. `new URL('./x.js', import.meta.url)` is
 * plain JavaScript that works unbundled, and Vite, webpack 5 and Parcel
 * recognise it, copy the file and rewrite the URL, with no plugin. The
 * library build (scripts/build-package.ts) uses this file in place of
 * module-urls.ts, whose Vite-only imports serve this repository's own pages.
 */

import type * as InRepository from './module-urls.ts';

/** The AudioWorklet module that registers the 'virtio-snd' processor. */
export const defaultProcessorUrl: typeof InRepository.defaultProcessorUrl = () =>
  new URL('./processor.js', import.meta.url).href;

/** Starts the driver Worker from `url`, or from dist/driver-worker.js when none is given. */
export const startDriverWorker: typeof InRepository.startDriverWorker = (url) =>
  url === undefined
    ? new Worker(new URL('./driver-worker.js', import.meta.url), {
        type: 'module',
        name: 'virtio-snd-driver',
      })
    : new Worker(url, { type: 'module', name: 'virtio-snd-driver' });
