/**
 * npm run bench: every benchmark once, a readable table, and
 * bench/results.json ({ name, value, unit } rows) to compare across commits.
 * BENCH_QUICK=1 runs tiny sizes (what `npm test` does to keep them working).
 * Names as arguments run only those (npm run bench -- throughput relay); their
 * rows replace the same rows in bench/results.json.
 */

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { benchBrowser } from './browser.bench.ts';
import { benchControl } from './control.bench.ts';
import { benchGc } from './gc.bench.ts';
import { benchGuest } from './guest.bench.ts';
import type { Result } from './lib/result.ts';
import { benchRelay } from './relay.bench.ts';
import { benchRender } from './render.bench.ts';
import { benchSnapshot } from './snapshot.bench.ts';
import { benchThroughput } from './throughput.bench.ts';

const quick = process.env.BENCH_QUICK === '1';
const only = process.argv.slice(2);
const want = (name: string) => only.length === 0 || only.includes(name);

const results: Result[] = [];
const run = async (name: string, f: () => Promise<Result[]>) => {
  if (!want(name)) return;
  process.stderr.write(`bench: ${name}...\n`);
  results.push(...(await f()));
};

await run('render', () =>
  benchRender(quick ? { time: 50, warmupTime: 10 } : { time: 3000, warmupTime: 500 }),
);
await run('gc', () => benchGc(quick ? 5000 : 100_000));
await run('throughput', () => benchThroughput(quick ? 1 : 60, quick ? 1 : 5));
await run('control', () => benchControl(quick ? 200 : 10_000));
await run('relay', () => benchRelay(quick ? 1 : 10));
await run('snapshot', () => benchSnapshot(quick ? 3 : 50));
await run('browser', () =>
  benchBrowser(
    quick ? { deviationSeconds: 2, glitchSeconds: 2 } : { deviationSeconds: 20, glitchSeconds: 60 },
  ),
);
// Boots real Linux guests in v86: minutes, not seconds (the 60 s long play included).
await run('guest', () =>
  benchGuest(
    quick ? { kernels: ['6.12'], tries: 1, longPlaySeconds: 2 } : { tries: 3, longPlaySeconds: 60 },
  ),
);

console.table(
  results.map((r) => ({ name: r.name, value: r.value, unit: r.unit, note: r.note ?? '' })),
);
if (!quick) {
  const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}`;
  const file = new URL('./results.json', import.meta.url);
  const rows = results.map(({ name, value, unit }) => ({ name, value, unit }));
  // A partial run (npm run bench -- throughput) updates its own rows and keeps the others.
  const merged =
    only.length > 0 && existsSync(file)
      ? mergeRows(JSON.parse(readFileSync(file, 'utf8')) as typeof rows, rows)
      : rows;
  writeFileSync(file, `${JSON.stringify(merged, null, 2)}\n`);
  process.stderr.write(`bench: wrote bench/results.json (${machine})\n`);
}

function mergeRows<T extends { name: string }>(old: T[], fresh: T[]): T[] {
  const byName = new Map(fresh.map((r) => [r.name, r]));
  const out = old.map((r) => byName.get(r.name) ?? r);
  for (const r of fresh) if (!old.some((o) => o.name === r.name)) out.push(r);
  return out;
}
process.exit(0);
