/**
 * The control round trip, measured where it happens in the browser: in the
 * driver Worker, which also hosts the device's control plane.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { DriverService } from '../src/host/driver-service.ts';

const { requests } = (workerData as { data: { requests: number } }).data;
const svc = new DriverService();
await svc.init(new SharedArrayBuffer(4 << 20), 48000, { tapFrames: 0 });
const controls = svc.driver.controls!;
const id = controls.find('Master Playback Volume')!.id;
for (let i = 0; i < 200; i++) await controls.read(id); // warm-up
const times = new Float64Array(requests);
for (let i = 0; i < requests; i++) {
  const t0 = performance.now();
  await controls.read(id);
  times[i] = performance.now() - t0;
}
svc.device.dispose();
parentPort!.postMessage(Array.from(times));
