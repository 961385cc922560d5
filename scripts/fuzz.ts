/**
 * Deep fuzzing outside CI: npm run fuzz -- --runs N [--seed S] [--only device|driver|relay] [--grep text]
 * runs the fuzz properties with N cases each (CI runs a bounded number).
 */
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const runs = opt('runs') ?? '100000';
const seed = opt('seed');
const only = opt('only');
const grep = opt('grep');
const files = only ? [`test/fuzz/${only}.fuzz.test.ts`] : ['test/fuzz'];
if (grep) files.push('-t', grep);
const t0 = Date.now();
const r = spawnSync('npx', ['vitest', 'run', ...files, '--testTimeout=0'], {
  stdio: 'inherit',
  env: { ...process.env, FUZZ_RUNS: runs, ...(seed ? { FUZZ_SEED: seed } : {}) },
});
console.log(
  `fuzz: ${runs} cases per property in ${((Date.now() - t0) / 1000).toFixed(0)} s, exit ${r.status}`,
);
process.exit(r.status ?? 1);
