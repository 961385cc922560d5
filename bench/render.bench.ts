/**
 * Renderer cost per 128-frame quantum (node): PcmRenderer.process() with a
 * running playback stream, measured with tinybench (warm-up included).
 */

import { Bench } from 'tinybench';
import {
  VIRTIO_SND_PCM_FMT_FLOAT,
  VIRTIO_SND_PCM_FMT_S16,
  VIRTIO_SND_PCM_FMT_S24_3,
} from '../src/snd/protocol.ts';
import { Feeder, type FeederOptions } from './lib/feeder.ts';
import type { Result } from './lib/result.ts';

export const RENDER_CASES: { name: string; opts: FeederOptions }[] = [
  {
    name: 'render.s16.stereo.48k',
    opts: { contextRate: 48000, format: VIRTIO_SND_PCM_FMT_S16, channels: 2, rate: 48000 },
  },
  {
    name: 'render.float.stereo.48k',
    opts: { contextRate: 48000, format: VIRTIO_SND_PCM_FMT_FLOAT, channels: 2, rate: 48000 },
  },
  {
    name: 'render.s24_3.6ch.48k',
    opts: { contextRate: 48000, format: VIRTIO_SND_PCM_FMT_S24_3, channels: 6, rate: 48000 },
  },
  {
    name: 'render.s16.stereo.44k1-to-48k',
    opts: { contextRate: 48000, format: VIRTIO_SND_PCM_FMT_S16, channels: 2, rate: 44100 },
  },
];

export async function benchRender(opts: { time: number; warmupTime: number }): Promise<Result[]> {
  const bench = new Bench({ time: opts.time, warmupTime: opts.warmupTime });
  const feeders = new Map<string, Feeder>();
  for (const c of RENDER_CASES) {
    const f = new Feeder(c.opts);
    feeders.set(c.name, f);
    let n = 0;
    bench.add(c.name, () => {
      f.quantum();
      // The driver's share (re-queueing finished messages) stays out of the measured path
      // except once every 256 quanta, when a 16384-frame message has long completed.
      if ((++n & 255) === 0) f.refill();
    });
  }
  await bench.run();
  const budgetNs = (128 / 48000) * 1e9;
  return bench.tasks.map((t) => {
    const r = t.result;
    const latency = r && 'latency' in r ? r.latency : null;
    if (!latency) throw new Error(`benchmark ${t.name} did not complete`);
    const ns = latency.mean * 1e6;
    return {
      name: t.name,
      value: Math.round(ns),
      unit: 'ns/quantum',
      note: `${((ns / budgetNs) * 100).toFixed(3)}% of the 2.67 ms budget; p99 ${Math.round(latency.p99 * 1e6)} ns`,
    };
  });
}
