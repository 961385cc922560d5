// Runs a TypeScript module in a worker_threads Worker: registers tsx's
// loader in this thread, then imports the entry named in workerData.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
