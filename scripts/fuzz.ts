/**
 * Deep fuzzing outside CI, with either engine:
 *
 *   npm run fuzz -- --runs N [--seed S] [--only NAME[,NAME]] [--jobs J] [--grep text]
 *                   [--engine fc|jazzer|all] [--all-invariants] [--corpus-out DIR]
 *
 * fast-check properties (test/fuzz/NAME.fuzz.test.ts: device, driver, relay,
 * control, io, relay-shapes, driver-controls): N cases per property, split
 * into J chunks run at once with seeds S, S+1, ... (random seeds, printed,
 * without --seed). Jazzer targets (fuzz/NAME.fuzz.ts: virtqueue,
 * control-queue, io-intake, relay): N runs per target split the same way
 * (scripts/fuzz-jazzer.ts; build first with npm run fuzz:build). --only
 * picks by name from either list; --engine all runs both.
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
const engine =
  opt('engine') ?? (only?.every(isTarget) ? 'jazzer' : only?.some(isTarget) ? 'all' : 'fc');

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
  const names = only ? only.filter((n) => !isTarget(n)) : PROPERTIES;
  for (const n of names)
    if (!PROPERTIES.includes(n)) throw new Error(`no property file test/fuzz/${n}.fuzz.test.ts`);
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
  const targets = only ? only.filter(isTarget) : TARGETS;
  if (targets.length === 0) return true;
  return runJazzer({ targets, runs, seed, jobs, corpusOut: opt('corpus-out') });
}

const results: boolean[] = [];
if (engine !== 'jazzer') results.push(await fastCheck());
if (engine !== 'fc') results.push(await jazzer());
process.exit(results.every(Boolean) ? 0 : 1);
