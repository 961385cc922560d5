/** Control request round trip (CTL_READ) from the driver to the device and back, in a Worker. */

import { startTsWorker } from '../test/helpers/ts-worker.ts';
import type { Result } from './lib/result.ts';

export async function benchControl(requests = 10_000): Promise<Result[]> {
  const w = startTsWorker(new URL('./control.worker.ts', import.meta.url), { requests });
  const times = await new Promise<number[]>((res, rej) => {
    w.once('message', res);
    w.once('error', rej);
  });
  await w.terminate();
  times.sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))] * 1000;
  return [
    {
      name: 'control.roundtrip.p50',
      value: Number(q(0.5).toFixed(1)),
      unit: 'µs',
      note: `${requests} CTL_READ requests`,
    },
    {
      name: 'control.roundtrip.p99',
      value: Number(q(0.99).toFixed(1)),
      unit: 'µs',
      note: `max ${q(1).toFixed(1)} µs`,
    },
  ];
}
