/**
 * Keeps the node benchmarks working: each runs once at a tiny size. The
 * numbers are not asserted (benchmarks are not timed tests), only that each
 * produces its named rows.
 */
import { describe, expect, it } from 'vitest';
import { benchControl } from '../bench/control.bench.ts';
import { benchGc } from '../bench/gc.bench.ts';
import { benchRelay } from '../bench/relay.bench.ts';
import { benchRender } from '../bench/render.bench.ts';
import { benchSnapshot } from '../bench/snapshot.bench.ts';
import { benchThroughput } from '../bench/throughput.bench.ts';

describe('benchmarks run', () => {
  it('render', async () => {
    const r = await benchRender({ time: 20, warmupTime: 5 });
    expect(r.map((x) => x.name)).toEqual([
      'render.s16.stereo.48k',
      'render.float.stereo.48k',
      'render.s24_3.6ch.48k',
      'render.s16.stereo.44k1-to-48k',
    ]);
    for (const x of r) expect(x.value).toBeGreaterThan(0);
  });
  it('gc', async () => {
    const r = await benchGc(2000);
    expect(r[0].name).toBe('gc.audio_path');
  });
  it('throughput', async () => {
    const r = await benchThroughput(0.5, 1);
    expect(r.find((x) => x.name === 'throughput.ratio_vs_ringbuf')?.value).toBeGreaterThan(0);
  });
  it('relay', async () => {
    const r = await benchRelay(0.5);
    expect(r[0].name).toBe('relay.cost_per_period');
    expect(r[0].value).toBeGreaterThan(0);
  });
  it('snapshot', async () => {
    const r = await benchSnapshot(2);
    expect(r.map((x) => x.name)).toContain('snapshot.host.playing');
    for (const x of r) expect(x.value).toBeGreaterThan(0);
  });
  it('control', async () => {
    const r = await benchControl(50);
    expect(r.map((x) => x.name)).toEqual(['control.roundtrip.p50', 'control.roundtrip.p99']);
  });
});
