/**
 * The browser's thread layout in node: this Worker hosts the device's control
 * plane and the driver (as the page's driver Worker does) and plays `seconds`
 * of a pseudo-random S16 stereo signal with blocking writei; the renderer
 * runs on the test's thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DriverService } from '../../src/host/driver-service.ts';
import { VIRTIO_SND_PCM_FMT_S16 } from '../../src/snd/protocol.ts';
import { prbsFrame } from './signal.ts';

const { memory, seconds, periodFrames, periods } = (
  workerData as {
    data: { memory: SharedArrayBuffer; seconds: number; periodFrames: number; periods: number };
  }
).data;
// Node ends a thread whose only pending work is Atomics.waitAsync; a browser Worker does not.
const keepAlive = setInterval(() => {}, 1000);
const svc = new DriverService();
const { renderState } = await svc.init(memory, 48000, { tapFrames: 0 });
parentPort!.postMessage({ renderState });
const pcm = svc.driver.pcm(0);
await pcm.hwParams({
  format: VIRTIO_SND_PCM_FMT_S16,
  rate: 48000,
  channels: 2,
  periodFrames,
  periods,
});
await pcm.prepare();
const total = seconds * 48000;
const chunk = new Int16Array(1000 * 2);
const t0 = performance.now();
for (let f = 0; f < total; ) {
  const n = Math.min(1000, total - f);
  for (let i = 0; i < n; i++) {
    const [l, r] = prbsFrame(f + i);
    chunk[2 * i] = l;
    chunk[2 * i + 1] = r;
  }
  f += await pcm.writei(chunk.subarray(0, 2 * n));
}
await pcm.drain();
parentPort!.postMessage({
  done: true,
  xruns: pcm.xruns,
  hwPtr: pcm.hwPtr,
  ms: performance.now() - t0,
});
svc.device.dispose();
clearInterval(keepAlive);
