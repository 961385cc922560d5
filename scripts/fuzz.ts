/**
 * Deep fuzzing outside CI, with either engine:
 *
 *   npm run fuzz -- --runs N [--seed S] [--only NAME[,NAME]] [--jobs J] [--grep text]
 *                   [--engine fc|jazzer|all] [--all-invariants] [--corpus-out DIR]
 *
 * fast-check properties (test/fuzz/NAME.fuzz.test.ts: device, driver, relay,
 * control, io, relay-shapes, driver-controls, snapshot, relay-snapshot): N cases per property, split
 * into J chunks run at once with seeds S, S+1, ... (random seeds, printed,
 * without --seed). Jazzer targets (fuzz/NAME.fuzz.ts: virtqueue,
 * control-queue, io-intake, relay): N runs per target split the same way
 * (scripts/fuzz-jazzer.ts; build first with npm run fuzz:build). --only
 * picks by name from either list (relay is in both: both run, unless
 * --engine fc|jazzer says which); --engine all runs both lists.
 * --all-invariants turns off test/fuzz/known-defects.ts (to see them found).
 *
 * 10 M cases on 2 cores, e.g.: npm run fuzz:build && npm run fuzz -- --engine all --runs 1000000 --jobs 2 --seed 1
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { runJazzer, TARGETS } from './fuzz-jazzer.ts';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const runs = Number(opt('runs') ?? '100000');
const seed = opt('seed') !== undefined ? Number(opt('seed')) : undefined;
const jobs = Math.max(1, Number(opt('jobs') ?? '1'));
const grep = opt('grep');
const only = opt('only')?.split(',');
if (args.includes('--all-invariants')) process.env.FUZZ_ALL_INVARIANTS = '1';

const PROPERTIES = readdirSync('test/fuzz')
  .filter((f) => f.endsWith('.fuzz.test.ts'))
  .map((f) => f.replace('.fuzz.test.ts', ''));
const isTarget = (n: string) => (TARGETS as readonly string[]).includes(n);
for (const n of only ?? [])
  if (!PROPERTIES.includes(n) && !isTarget(n))
    throw new Error(`no property test/fuzz/${n}.fuzz.test.ts or Jazzer target fuzz/${n}.fuzz.ts`);
/** Names in both lists (relay) run with both engines unless --engine says which. */
const fcNames = only ? only.filter((n) => PROPERTIES.includes(n)) : PROPERTIES;
const jazzerNames = only ? only.filter(isTarget) : [...TARGETS];
const engine = opt('engine');
const useFc = engine ? engine !== 'jazzer' : fcNames.length > 0;
const useJazzer = engine ? engine !== 'fc' : only !== undefined && jazzerNames.length > 0;

/** One vitest process over `files` with N/J cases per property and seed S+k. */
function vitestChunk(files: string[], k: number, chunkSeed: number): Promise<number> {
  const argv = ['vitest', 'run', ...files, '--testTimeout=0'];
  if (grep) argv.push('-t', grep);
  return new Promise((resolve) => {
    const p = spawn('npx', argv, {
      stdio: 'inherit',
      env: {
        ...process.env,
        FUZZ_RUNS: String(Math.ceil(runs / jobs)),
        FUZZ_SEED: String(chunkSeed),
      },
    });
    p.on('close', (code) => {
      console.log(`fuzz: fast-check chunk ${k} (seed ${chunkSeed}) exit ${code}`);
      resolve(code ?? 1);
    });
  });
}

async function fastCheck(): Promise<boolean> {
  const names = fcNames;
  if (names.length === 0) return true;
  const files = names.map((n) => `test/fuzz/${n}.fuzz.test.ts`);
  const base = seed ?? (Math.random() * 2 ** 31) | 0;
  const t0 = Date.now();
  const codes = await Promise.all(
    Array.from({ length: jobs }, (_, k) => vitestChunk(files, k, base + k)),
  );
  console.log(
    `fuzz (fast-check): ${Math.ceil(runs / jobs) * jobs} cases per property (${names.join(', ')}), seeds ${base}..${base + jobs - 1}, ${((Date.now() - t0) / 1000).toFixed(0)} s, ${codes.every((c) => c === 0) ? 'passed' : 'FAILED'}`,
  );
  return codes.every((c) => c === 0);
}

async function jazzer(): Promise<boolean> {
  if (jazzerNames.length === 0) return true;
  return runJazzer({ targets: jazzerNames, runs, seed, jobs, corpusOut: opt('corpus-out') });
}

const results: boolean[] = [];
if (useFc) results.push(await fastCheck());
if (useJazzer) results.push(await jazzer());
process.exit(results.every(Boolean) ? 0 : 1);
