/**
 * What one case of each coverage-guided target costs, uninstrumented: the
 * CPU time per input of replaying a corpus (default fuzz/corpus/<target>/,
 * or <dir>/<target>/ for each --corpus dir), from the build of npm run
 * fuzz:build. For profiling: node --cpu-prof $(which tsx) scripts/fuzz-cost.ts ...
 *
 *   tsx scripts/fuzz-cost.ts [--corpus DIR]... [--reps 20] [--only NAME]
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TARGETS } from './fuzz-jazzer.ts';

const args = process.argv.slice(2);
const roots = args.flatMap((a, i) => (args[i - 1] === '--corpus' ? [a] : []));
const reps = Number(args[args.indexOf('--reps') + 1] || 0) || 20;
const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : TARGETS;

for (const t of only) {
  const js = resolve(`build/fuzz-esm/fuzz/${t}.fuzz.js`);
  if (!existsSync(js)) throw new Error(`no ${js}: run npm run fuzz:build`);
  const { fuzz } = (await import(pathToFileURL(js).href)) as { fuzz(d: Uint8Array): void };
  const dirs = (roots.length ? roots : ['fuzz/corpus']).map((r) => join(r, t)).filter(existsSync);
  const inputs = dirs.flatMap((d) => readdirSync(d).map((f) => readFileSync(join(d, f))));
  const safe = (d: Uint8Array) => {
    try {
      fuzz(d);
    } catch {
      // A finding costs what it costs; the replay test reports findings.
    }
  };
  for (const d of inputs) safe(d); // warm up: JIT, one-time allocations
  const t0 = process.cpuUsage();
  for (let r = 0; r < reps; r++) for (const d of inputs) safe(d);
  const u = process.cpuUsage(t0);
  const ms = (u.user + u.system) / 1000 / (reps * inputs.length);
  console.log(`${t}: ${inputs.length} inputs x ${reps}: ${ms.toFixed(3)} ms CPU per case`);
}
