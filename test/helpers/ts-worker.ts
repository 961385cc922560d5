import { Worker } from 'node:worker_threads';

/** Starts `entry` (a .ts module URL) in a Worker; `data` arrives as workerData.data. */
export function startTsWorker(entry: URL, data: unknown): Worker {
  return new Worker(new URL('./ts-worker-bootstrap.mjs', import.meta.url), {
    workerData: { entry: entry.href, data },
  });
}
