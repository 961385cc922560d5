/**
 * One writer of the completion-log test: logs `n` completions of `stream`
 * (frame = sequence number) as fast as it can, once both writers are ready.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { logCompletion } from '../../src/device/shared/completion-log.ts';
import { type SharedLayoutParams, SharedState } from '../../src/device/shared/layout.ts';

interface Data {
  shared: SharedArrayBuffer;
  layout: SharedLayoutParams;
  barrier: SharedArrayBuffer;
  stream: number;
  n: number;
}

const { shared, layout, barrier, stream, n } = (workerData as { data: Data }).data;
const s = new SharedState(shared, layout);
const bar = new Int32Array(barrier);
Atomics.add(bar, 0, 1);
while (Atomics.load(bar, 0) < 2) {
  // Both writers start together, so their loops overlap.
}
for (let i = 0; i < n; i++) logCompletion(s, stream, i, 0, i & 255);
parentPort?.postMessage('done');
