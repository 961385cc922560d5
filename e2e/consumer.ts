/**
 * A consumer of the package, as a new user makes one: the packed tarball
 * installed with npm into a copy of one of examples/, outside this
 * repository. Offline: the example gets a lockfile naming the tarball and,
 * for the package's runtime dependencies, the entries this repository's
 * lockfile has (so npm takes them from the cache `npm ci` filled). Its
 * build tools (vite, typescript, @types/node) are this repository's own,
 * linked into its node_modules after the install, at the versions the
 * example asks for.
 */

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  engines?: Record<string, string>;
  license?: string;
}

type LockEntry = { version: string; dependencies?: Record<string, string> } & Record<
  string,
  unknown
>;

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; never throws on a non-zero exit (the caller asserts). */
export function run(cmd: string, args: string[], cwd: string, timeoutMs = 180_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** A fresh directory for one run's tarball and examples. */
export function workDir(): string {
  return mkdtempSync(join(tmpdir(), 'virtio-snd-web-consumer-'));
}

/** `npm pack` (whose prepack builds dist/) into `dir`; returns the tarball's path. */
export async function pack(dir: string): Promise<string> {
  const r = await run('npm', ['pack', '--pack-destination', dir], ROOT, 300_000);
  if (r.code !== 0) throw new Error(`npm pack failed:\n${r.stdout}\n${r.stderr}`);
  const tarballs = readdirSync(dir).filter((f) => f.endsWith('.tgz'));
  if (tarballs.length !== 1) throw new Error(`npm pack left ${tarballs.join(', ')} in ${dir}`);
  return join(dir, tarballs[0]);
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** The tarball's own package.json. */
async function packedManifest(tarball: string): Promise<Manifest> {
  const r = await run('tar', ['-xzOf', tarball, 'package/package.json'], ROOT);
  if (r.code !== 0) throw new Error(`cannot read package.json from ${tarball}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Manifest;
}

/**
 * Lockfile entries for `deps` and everything they depend on, from this
 * repository's lockfile (hoisted entries only, which is all it has for them).
 */
function lockEntries(deps: Record<string, string>): Record<string, LockEntry> {
  const repo = readJson<{ packages: Record<string, LockEntry> }>(join(ROOT, 'package-lock.json'));
  const out: Record<string, LockEntry> = {};
  const visit = (name: string) => {
    const key = `node_modules/${name}`;
    if (out[key]) return;
    const entry = repo.packages[key];
    if (!entry) throw new Error(`package-lock.json has no ${key} to install offline`);
    out[key] = entry;
    for (const d of Object.keys(entry.dependencies ?? {})) visit(d);
  };
  for (const d of Object.keys(deps)) visit(d);
  return out;
}

/** The major version of a range like `^5.9.3` or `~0.23.2`. */
const major = (range: string) => /\d+/.exec(range)?.[0];

/**
 * Copies examples/`name` into `dir`, installs `tarball` into it with npm
 * (offline) and links its build tools; returns the copy's path.
 */
export async function installExample(name: string, tarball: string, dir: string): Promise<string> {
  const app = join(dir, name);
  cpSync(join(ROOT, 'examples', name), app, {
    recursive: true,
    filter: (src) => !/[\\/](node_modules|dist)$/.test(src),
  });
  const manifest = readJson<Manifest>(join(app, 'package.json'));
  const packed = await packedManifest(tarball);
  if (!manifest.dependencies?.[packed.name]) {
    throw new Error(`examples/${name} does not depend on ${packed.name}`);
  }
  const tools = manifest.devDependencies ?? {};
  const dependencies = { ...manifest.dependencies, [packed.name]: `file:${tarball}` };
  const { devDependencies: _, ...rest } = manifest;
  writeFileSync(join(app, 'package.json'), JSON.stringify({ ...rest, dependencies }, null, 2));
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  const lock = {
    name: manifest.name,
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: manifest.name, dependencies },
      [`node_modules/${packed.name}`]: {
        version: packed.version,
        resolved: `file:${tarball}`,
        integrity,
        license: packed.license,
        dependencies: packed.dependencies,
        engines: packed.engines,
      },
      ...lockEntries(packed.dependencies ?? {}),
    },
  };
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify(lock, null, 2));
  const npm = await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], app);
  if (npm.code !== 0) throw new Error(`npm ci in ${app} failed:\n${npm.stderr}`);

  for (const [tool, range] of Object.entries(tools)) {
    const ours = join(ROOT, 'node_modules', tool);
    const version = readJson<Manifest>(join(ours, 'package.json')).version;
    if (major(version) !== major(range)) {
      throw new Error(`examples/${name} wants ${tool}@${range}; this repository has ${version}`);
    }
    mkdirSync(dirname(join(app, 'node_modules', tool)), { recursive: true });
    symlinkSync(ours, join(app, 'node_modules', tool), 'dir');
  }
  return app;
}

/** What `npm install` put in node_modules (not the linked tools), and its size in bytes. */
export function installed(
  app: string,
  tools: readonly string[],
): { name: string; bytes: number }[] {
  const size = (p: string): number =>
    readdirSync(p, { withFileTypes: true }).reduce(
      (n, e) =>
        n +
        (e.isDirectory() ? size(join(p, e.name)) : e.isFile() ? statSync(join(p, e.name)).size : 0),
      0,
    );
  const top = join(app, 'node_modules');
  return readdirSync(top)
    .flatMap((n) => (n.startsWith('@') ? readdirSync(join(top, n)).map((m) => `${n}/${m}`) : [n]))
    .filter(
      (n) => !n.startsWith('.') && !tools.includes(n) && existsSync(join(top, n, 'package.json')),
    )
    .map((n) => ({ name: n, bytes: size(join(top, n)) }));
}
