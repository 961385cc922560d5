/**
 * The library build: what `npm pack` ships in dist/. ESM JavaScript with
 * source maps, and one bundled .d.ts per public entry, for the subpaths of
 * package.json `exports`:
 *
 * - the public entries (PUBLIC_ENTRIES in vite.config.ts, which the demo and
 *   guest pages import too): `.`, `./driver`, `./embed`, `./host`. They share
 *   chunks; `comlink`, the one runtime dependency, stays an import.
 * - the two files a page loads by URL (PACKAGE_ASSETS): the AudioWorklet
 *   processor and the driver Worker, each one self-contained, minified file
 *   (comlink bundled into the Worker), as an AudioWorklet module or a Worker
 *   loaded by URL needs.
 *
 * Everything lands flat in dist/, so `new URL('./processor.js',
 * import.meta.url)` in module-urls.package.ts finds the file from whichever
 * chunk holds it. That file replaces module-urls.ts (whose Vite-only imports
 * serve this repository's own pages) in this build.
 *
 * Run: tsx scripts/build-package.ts (npm run build:package; npm pack runs it).
 */

import { readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Plugin, rolldown } from 'rolldown';
import { dts } from 'rolldown-plugin-dts';
import { PUBLIC_ENTRIES } from '../vite.config.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist');

/** The files a page loads by URL, by their `exports` subpath, and their sources. */
export const PACKAGE_ASSETS: Readonly<Record<string, string>> = {
  './processor.js': 'worklet/processor.ts',
  './driver-worker.js': 'src/host/driver-worker.ts',
};

export interface PackageJson {
  name: string;
  private?: boolean;
  exports: Record<string, string | { types: string; default: string }>;
  sideEffects?: boolean | string[];
  files?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export function readPackageJson(root = ROOT): PackageJson {
  return JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
}

/** `./dist/host.js` → `host`: the output name rolldown is given for an entry. */
function chunkName(target: string): string {
  const m = /^\.\/dist\/([\w-]+)\.js$/.exec(target);
  if (!m) throw new Error(`exports target ${target} is not a file directly in dist/`);
  return m[1];
}

/**
 * The build's entries, by output name, from package.json `exports`: each
 * public entry's source is PUBLIC_ENTRIES's, each asset's PACKAGE_ASSETS's.
 * Throws when a subpath has neither.
 */
export function packageEntries(pkg: PackageJson): {
  entries: Record<string, string>;
  assets: Record<string, string>;
} {
  const entries: Record<string, string> = {};
  const assets: Record<string, string> = {};
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (subpath === './package.json') continue;
    const spec = pkg.name + subpath.slice(1);
    if (typeof target === 'object' && spec in PUBLIC_ENTRIES) {
      entries[chunkName(target.default)] = PUBLIC_ENTRIES[spec];
    } else if (typeof target === 'string' && subpath in PACKAGE_ASSETS) {
      assets[chunkName(target)] = PACKAGE_ASSETS[subpath];
    } else {
      throw new Error(`exports ${subpath} is neither a public entry nor a package asset`);
    }
  }
  return { entries, assets };
}

/** Builds module-urls.package.ts wherever the sources import module-urls.ts. */
function packageModuleUrls(): Plugin {
  const inRepository = join(ROOT, 'src/host/module-urls.ts');
  const inPackage = join(ROOT, 'src/host/module-urls.package.ts');
  return {
    name: 'package-module-urls',
    resolveId(source, importer) {
      if (importer && resolve(dirname(importer), source) === inRepository) return inPackage;
      return null;
    },
  };
}

const shared = {
  cwd: ROOT,
  transform: { target: 'es2022' },
  // The type-checker is slow by nature: no warning about it.
  checks: { pluginTimings: false },
  // A surprise in the output (an unresolved import, say) fails the build.
  onLog(level: string, log: { message: string }) {
    throw new Error(`rolldown ${level}: ${log.message}`);
  },
} as const;

/** The public entries, sharing chunks. Returns the npm packages bundled into them. */
async function buildEntries(
  entries: Record<string, string>,
  external: string[],
): Promise<string[]> {
  const bundle = await rolldown({
    ...shared,
    input: entries,
    platform: 'neutral',
    external: (id) => external.some((e) => id === e || id.startsWith(`${e}/`)),
    plugins: [
      packageModuleUrls(),
      dts({
        tsconfig: join(ROOT, 'tsconfig.json'),
        // The published types must not pull in Node's or Vite's ambient types.
        compilerOptions: { types: ['vite/client'] },
      }),
    ],
  });
  const { output } = await bundle.write({
    dir: OUT,
    format: 'esm',
    sourcemap: true,
    entryFileNames: '[name].js',
    chunkFileNames: '[name]-[hash].js',
  });
  await bundle.close();
  return bundledPackages(output.flatMap((o) => (o.type === 'chunk' ? o.moduleIds : [])));
}

/** The npm packages whose code a bundle holds, from its modules' paths. */
export function bundledPackages(moduleIds: readonly string[]): string[] {
  const names = moduleIds.flatMap((id) => {
    const inside = id.split(/[\\/]node_modules[\\/]/);
    if (inside.length < 2) return [];
    // The innermost node_modules holds the module's own package.
    const [first, second] = inside[inside.length - 1].split(/[\\/]/);
    return [first.startsWith('@') ? `${first}/${second}` : first];
  });
  return [...new Set(names)].sort();
}

/**
 * One self-contained file: an AudioWorklet module or a Worker imports
 * nothing. Minified: bundlers copy these files as they are (a worklet
 * module is an asset to them), so no consumer build would shrink them.
 * Returns the npm packages bundled into it.
 */
async function buildAsset(name: string, source: string): Promise<string[]> {
  const bundle = await rolldown({ ...shared, input: { [name]: source }, platform: 'browser' });
  const { output } = await bundle.write({
    dir: OUT,
    format: 'esm',
    sourcemap: true,
    entryFileNames: '[name].js',
    codeSplitting: false,
    minify: true,
  });
  await bundle.close();
  return bundledPackages(output.flatMap((o) => (o.type === 'chunk' ? o.moduleIds : [])));
}

/** Every bundled package must have its licence in THIRD_PARTY_NOTICES.md. */
export function checkNotices(
  bundled: readonly string[],
  notices = readFileSync(join(ROOT, 'THIRD_PARTY_NOTICES.md'), 'utf8'),
): void {
  const missing = bundled.filter((name) => !notices.includes(`## ${name}\n`));
  if (missing.length > 0) {
    throw new Error(
      `dist/ bundles ${missing.join(', ')}, which THIRD_PARTY_NOTICES.md does not list: ` +
        'add each with its licence text',
    );
  }
}

/** Builds dist/; returns the npm packages bundled into it. */
export async function buildPackage(): Promise<string[]> {
  const pkg = readPackageJson();
  const { entries, assets } = packageEntries(pkg);
  rmSync(OUT, { recursive: true, force: true });
  const bundled = await buildEntries(entries, Object.keys(pkg.dependencies ?? {}));
  for (const [name, source] of Object.entries(assets))
    bundled.push(...(await buildAsset(name, source)));
  checkNotices(bundled);
  return bundled;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const bundled = await buildPackage();
  console.log(`package: built ${OUT}, bundling ${bundled.join(', ') || 'no other package'}`);
}
