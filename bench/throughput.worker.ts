/**
 * Producer thread of the throughput benchmark. Mode 'virtio': the driver (with
 * the device's control plane, as in the browser Worker) writes float stereo
 * periods with writei. Mode 'ringbuf': ringbuf.js's SPSC ring, fed the same
 * chunks.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { RingBuffer } from 'ringbuf.js';
import { VirtioSndDevice } from '../src/device/control/virtio-snd-device.ts';
import { VirtioSndDriver } from '../src/driver/card.ts';
import { VIRTIO_SND_PCM_FMT_FLOAT } from '../src/snd/protocol.ts';
import { VirtioMmioTransport } from '../src/virtio/mmio.ts';

interface Data {
  mode: 'virtio' | 'virtio-poll' | 'ringbuf';
  frames: number;
  chunkFrames: number;
  periods: number;
  ring?: SharedArrayBuffer;
  memory?: SharedArrayBuffer;
}

const d = (workerData as { data: Data }).data;
const port = parentPort!;
const chunk = new Float32Array(d.chunkFrames * 2);
for (let i = 0; i < chunk.length; i++) chunk[i] = Math.sin(i / 10) * 0.5;

async function virtio(): Promise<void> {
  // Node ends a thread whose only pending work is an Atomics.waitAsync (the
  // device's doorbell); a browser Worker lives on. Keep this one alive.
  const keepAlive = setInterval(() => {}, 1000);
  const memory = d.memory!;
  const device = new VirtioSndDevice({ memory, sampleRate: 48000, tapFrames: 0 });
  let driver: VirtioSndDriver | null = null;
  const transport = new VirtioMmioTransport(device, { onInterrupt: (l) => driver?.interrupt(l) });
  driver = new VirtioSndDriver(transport, memory);
  await driver.probe();
  const pcm = driver.pcm(0);
  await pcm.hwParams({
    format: VIRTIO_SND_PCM_FMT_FLOAT,
    rate: 48000,
    channels: 2,
    periodFrames: d.chunkFrames,
    periods: d.periods,
  });
  pcm.swParams({ startThreshold: d.chunkFrames });
  await pcm.prepare();
  port.postMessage({ renderState: device.renderState });
  await new Promise((r) => port.once('message', r));
  const bytes = new Uint8Array(chunk.buffer);
  const t0 = performance.now();
  if (d.mode === 'virtio-poll') {
    // Like ringbuf.js's producer: spin on the free space (avail, after collecting
    // completions from the used ring), then write synchronously (no promise per write).
    for (let done = 0; done < d.frames; ) {
      const want = Math.min(d.chunkFrames, d.frames - done);
      while (pcm.avail() < want) driver.poll();
      done += pcm.tryWritei(want === d.chunkFrames ? bytes : bytes.subarray(0, want * 8));
    }
  } else {
    for (let done = 0; done < d.frames; done += d.chunkFrames) {
      const want = Math.min(d.chunkFrames, d.frames - done);
      await pcm.writei(want === d.chunkFrames ? bytes : bytes.subarray(0, want * 8));
    }
  }
  await pcm.drain();
  port.postMessage({ done: true, ms: performance.now() - t0, xruns: pcm.xruns });
  device.dispose();
  clearInterval(keepAlive);
}

function ringbuf(): void {
  const rb = new RingBuffer(d.ring!, Float32Array);
  port.postMessage({ ready: true });
  port.once('message', () => {
    const t0 = performance.now();
    for (let done = 0; done < d.frames; done += d.chunkFrames) {
      const n = 2 * Math.min(d.chunkFrames, d.frames - done);
      while (rb.availableWrite() < n) {
        // spin: the consumer frees room within microseconds
      }
      rb.push(chunk, n);
    }
    port.postMessage({ done: true, ms: performance.now() - t0 });
  });
}

if (d.mode !== 'ringbuf') void virtio();
else ringbuf();
