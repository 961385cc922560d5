/**
 * Coverage-guided fuzzing with Jazzer.js (libFuzzer for Node.js) of the
 * targets fuzz/<name>.fuzz.ts, built by `npm run fuzz:build` into
 * build/fuzz-esm (only build/fuzz-esm/src/ is instrumented).
 *
 *   tsx scripts/fuzz-jazzer.ts --ci                  # npm run fuzz:ci: every target, 25 s, 2 at a time
 *   tsx scripts/fuzz-jazzer.ts --seconds 600 --only relay
 *   tsx scripts/fuzz-jazzer.ts --runs 2000000 --jobs 2 --seed 7 --corpus-out /tmp/long
 *
 * Each target reads the committed corpus fuzz/corpus/<name>/ and writes new
 * entries to --corpus-out DIR/<name>/ (default: a temporary directory).
 * Instrumented for coverage: src/ except src/pcm/ (codec and resampler inner
 * loops; instrumenting them made the I/O target 5 times slower). With
 * --jobs J, J libFuzzer processes run at once; with --runs, each target's
 * runs are split into J chunks with seeds S, S+1, ... A finding (exit 77 or
 * 70) is copied to fuzz-artifacts/ and printed as base64 with the command
 * that reproduces it. A run that finds no coverage at all ("no interesting
 * inputs... Is the code instrumented?") fails too: it tested nothing.
 */

import { spawn } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TARGETS = ['virtqueue', 'control-queue', 'io-intake', 'relay'] as const;

export interface JazzerOptions {
  targets: readonly string[];
  /** Time per chunk, or... */
  seconds?: number;
  /** ...runs per target (split over `jobs` chunks). */
  runs?: number;
  seed?: number;
  jobs: number;
  corpusOut?: string;
}

interface Result {
  target: string;
  chunk: number;
  runs: number;
  execPerSec: number;
  cov: number;
  ft: number;
  newUnits: number;
  seconds: number;
  status: 'ok' | 'FINDING' | 'NO COVERAGE' | 'ERROR';
  detail: string;
}

const BUILD = 'build/fuzz-esm';

/** The newest modification time under `dir` (ts sources only). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

function checkBuild(targets: readonly string[]): void {
  for (const t of targets) {
    const js = `${BUILD}/fuzz/${t}.fuzz.js`;
    if (!existsSync(js)) throw new Error(`no ${js}: run npm run fuzz:build first`);
    const built = statSync(js).mtimeMs;
    if (Math.max(newest('src'), newest('fuzz'), newest('test/fuzz')) > built)
      throw new Error(`${js} is older than the sources: run npm run fuzz:build`);
  }
}

const num = (re: RegExp, s: string) => Number(re.exec(s)?.[1] ?? 0);

function runChunk(
  target: string,
  chunk: number,
  o: JazzerOptions,
  out: string,
  work: string,
): Promise<Result> {
  const cli = createRequire(import.meta.url).resolve('@jazzer.js/core/dist/cli.js');
  // Per target and chunk: a crash file of one target must not be reported for the next.
  const artifacts = join(work, `artifacts-${target}-${chunk}`);
  mkdirSync(artifacts, { recursive: true });
  const libfuzzer = [
    o.runs !== undefined
      ? `-runs=${Math.ceil(o.runs / o.jobs)}`
      : `-max_total_time=${o.seconds ?? 25}`,
    ...(o.seed !== undefined ? [`-seed=${o.seed + chunk}`] : []),
    `-artifact_prefix=${artifacts}/`,
    '-print_final_stats=1',
    '-max_len=4096',
    '-timeout=60',
    '-rss_limit_mb=3072',
  ];
  const argv = [
    cli,
    `${BUILD}/fuzz/${target}.fuzz.js`,
    out,
    `fuzz/corpus/${target}`,
    '--sync', // the targets are synchronous: cheaper per input
    '--disableBugDetectors=.*', // command injection, path traversal...: not this code's risks
    '-i',
    `${BUILD}/src/`, // coverage feedback from the code under test only...
    '-e',
    `${BUILD}/src/pcm/`, // ...but not the per-sample DSP loops: instrumented, they cost 5x the execs/s
    '--timeout=60000',
    '--',
    ...libfuzzer,
  ];
  const t0 = Date.now();
  return new Promise((resolve) => {
    // A file, not a pipe: libFuzzer's last lines (the stats) were lost in a pipe at exit.
    const logFile = join(work, `${target}-${chunk}.log`);
    const fd = openSync(logFile, 'w');
    const p = spawn(process.execPath, argv, { stdio: ['ignore', fd, fd] });
    p.on('close', (code, signal) => {
      closeSync(fd);
      const log = readFileSync(logFile, 'utf8');
      const done = /#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+)/.exec(log);
      const found = readdirSync(artifacts);
      const r: Result = {
        target,
        chunk,
        runs: num(/stat::number_of_executed_units:\s+(\d+)/, log),
        execPerSec: num(/stat::average_exec_per_sec:\s+(\d+)/, log),
        cov: Number(done?.[2] ?? 0),
        ft: Number(done?.[3] ?? 0),
        newUnits: num(/stat::new_units_added:\s+(\d+)/, log),
        seconds: (Date.now() - t0) / 1000,
        status: 'ok',
        detail: '',
      };
      if (found.length > 0 || code === 77 || code === 70) {
        r.status = 'FINDING';
        const what = log
          .split('\n')
          .filter((l) => /Uncaught Exception|Error|invariant|timeout|at /.test(l))
          .slice(0, 12)
          .join('\n');
        mkdirSync('fuzz-artifacts', { recursive: true });
        const lines = [what];
        for (const f of found) {
          const dest = join('fuzz-artifacts', `${target}-${f}`);
          copyFileSync(join(artifacts, f), dest);
          lines.push(
            `  reproduce: npx jazzer ${BUILD}/fuzz/${target}.fuzz.js --sync ${dest}`,
            `  base64: ${readFileSync(dest).toString('base64')}`,
          );
        }
        r.detail = lines.join('\n');
      } else if (
        /no interesting inputs were found|Is the code instrumented/.test(log) ||
        r.cov === 0
      ) {
        r.status = 'NO COVERAGE';
        r.detail =
          'libFuzzer saw no coverage: the code under test is not instrumented (or the target rejects every input)';
      } else if (code !== 0) {
        r.status = 'ERROR';
        r.detail = `exit ${code ?? signal}:\n${log.split('\n').slice(-15).join('\n')}`;
      }
      if (r.status !== 'ok' || r.runs === 0) {
        r.detail += `\n  log: ${logFile}`;
      }
      resolve(r);
    });
  });
}

/** Runs the targets; prints a summary; true when every chunk passed. */
export async function runJazzer(o: JazzerOptions): Promise<boolean> {
  checkBuild(o.targets);
  const work = mkdtempSync(join(tmpdir(), 'fuzz-jazzer-'));
  const chunks = o.runs !== undefined ? o.jobs : 1;
  const tasks: (() => Promise<Result>)[] = [];
  for (const t of o.targets) {
    const out = o.corpusOut ? join(o.corpusOut, t) : join(work, 'corpus', t);
    mkdirSync(out, { recursive: true });
    for (let k = 0; k < chunks; k++) tasks.push(() => runChunk(t, k, o, out, work));
  }
  const t0 = Date.now();
  const results: Result[] = [];
  const worker = async () => {
    for (let task = tasks.shift(); task; task = tasks.shift()) {
      const r = await task();
      results.push(r);
      console.log(
        `fuzz: ${r.target}${chunks > 1 ? `#${r.chunk}` : ''}: ${r.status}, ${r.runs} runs, ${r.execPerSec}/s, cov ${r.cov}, ft ${r.ft}, +${r.newUnits} corpus (${r.seconds.toFixed(0)} s)`,
      );
      if (r.detail) console.log(r.detail);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.jobs) }, worker));
  const failed = results.filter((r) => r.status !== 'ok');
  const total = results.reduce((n, r) => n + r.runs, 0);
  console.log(
    `fuzz (jazzer): ${results.length - failed.length} passed, ${failed.length} failed; ${total} runs in ${((Date.now() - t0) / 1000).toFixed(0)} s${o.corpusOut ? `; new corpus entries in ${o.corpusOut}` : ''}`,
  );
  return failed.length === 0;
}

export function parseJazzerArgs(args: readonly string[]): JazzerOptions {
  const opt = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const ci = args.includes('--ci');
  const only = opt('only')?.split(',');
  for (const t of only ?? [])
    if (!(TARGETS as readonly string[]).includes(t))
      throw new Error(`no Jazzer target ${t} (${TARGETS.join(', ')})`);
  const seconds = opt('seconds') ?? (ci ? (process.env.FUZZ_SECONDS ?? '25') : undefined);
  const runs = opt('runs');
  return {
    targets: only ?? TARGETS,
    seconds: seconds !== undefined ? Number(seconds) : runs === undefined ? 60 : undefined,
    runs: runs !== undefined ? Number(runs) : undefined,
    seed: opt('seed') !== undefined ? Number(opt('seed')) : undefined,
    jobs: Number(opt('jobs') ?? 2),
    corpusOut: opt('corpus-out'),
  };
}

if (process.argv[1]?.endsWith('fuzz-jazzer.ts')) {
  runJazzer(parseJazzerArgs(process.argv.slice(2))).then(
    (ok) => process.exit(ok ? 0 : 1),
    (e: unknown) => {
      console.error(`fuzz: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}
