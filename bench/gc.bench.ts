/**
 * Zero allocation in the audio path: 100 000 quanta of busy playback and
 * capture, counting garbage collections (PerformanceObserver 'gc' entries)
 * and the growth of the used heap while they run.
 */

import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import { VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_FMT_S24_3 } from '../src/snd/protocol.ts';
import { Feeder } from './lib/feeder.ts';
import type { Result } from './lib/result.ts';

export async function benchGc(quanta = 100_000): Promise<Result[]> {
  return [
    ...(await gcRun(quanta, 128, 'gc.audio_path')),
    // AudioContext({renderSizeHint}): an odd block, rendered in passes of 128 and 57 frames.
    ...(await gcRun(Math.ceil((quanta * 128) / 441), 441, 'gc.audio_path.block441')),
  ];
}

async function gcRun(quanta: number, block: number, name: string): Promise<Result[]> {
  // Enough queued audio for the whole run, so nothing but process() runs in the loop:
  // 80 messages per direction: three descriptors each in a 256-entry ring.
  const messages = 80;
  const messageFrames = Math.ceil((quanta * block * 44100) / 48000 / messages) + block;
  const f = new Feeder({
    block,
    contextRate: 48000,
    format: VIRTIO_SND_PCM_FMT_S16,
    channels: 2,
    rate: 44100, // resampling on: the most code in the loop
    capture: { format: VIRTIO_SND_PCM_FMT_S24_3, channels: 2, rate: 16000 },
    tapFrames: 8192,
    messageFrames,
    messages,
  });
  // Warm up the JIT on every path first (completions, re-queueing, underruns), with a
  // second device whose small messages complete often: code that meets a new path
  // mid-run deoptimizes, and the interpreter allocates. That is start-up, not steady state.
  const warm = new Feeder({
    contextRate: 48000,
    format: VIRTIO_SND_PCM_FMT_S16,
    channels: 2,
    rate: 44100,
    capture: { format: VIRTIO_SND_PCM_FMT_S24_3, channels: 2, rate: 16000 },
    tapFrames: 8192,
    messageFrames: 1024,
    messages: 8,
    block,
  });
  for (let i = 0; i < 30000; i++) {
    warm.quantum();
    // Stop refilling now and then so the underrun path runs too.
    if ((i & 63) === 63 && (i & 4095) < 3000) warm.refill();
  }
  for (let i = 0; i < 2000; i++) f.quantum();
  await new Promise((r) => setTimeout(r, 100));
  const gcTimes: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcTimes.push(e.startTime);
  });
  obs.observe({ entryTypes: ['gc'] });
  const before = v8.getHeapStatistics().used_heap_size;
  const t0 = performance.now();
  for (let i = 0; i < quanta; i++) f.quantum();
  const t1 = performance.now();
  const after = v8.getHeapStatistics().used_heap_size;
  await new Promise((r) => setTimeout(r, 100)); // GC entries arrive asynchronously
  obs.disconnect();
  // Only collections that started while the loop ran.
  const gcs = gcTimes.filter((t) => t >= t0 && t <= t1).length;
  const st = f.device.stats().streams;
  return [
    {
      name,
      value: gcs,
      unit: `GCs / ${quanta} blocks of ${block}`,
      note: `playback 44.1k->48k S16 + capture 48k->16k S24_3; ${st[0].completed} TX and ${st[1].completed} RX messages completed, ${st[0].xruns + st[1].xruns} xruns`,
    },
    {
      name: `${name}.heap_growth`,
      value: Math.max(0, after - before),
      unit: 'bytes',
      note: 'used heap after - before the loop (includes the measuring calls themselves)',
    },
  ];
}
