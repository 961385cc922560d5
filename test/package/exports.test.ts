/**
 * The package's entry points are named in three places that must agree:
 * package.json `exports` (what a consumer imports), PUBLIC_ENTRIES in
 * vite.config.ts (what the demo and guest pages import, and what the library
 * build compiles) and tsconfig.json `paths` (what this repository type-checks
 * against). The library build's checks are tested here too.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  bundledPackages,
  checkNotices,
  PACKAGE_ASSETS,
  packageEntries,
  readPackageJson,
} from '../../scripts/build-package.ts';
import { PUBLIC_ENTRIES } from '../../vite.config.ts';

const pkg = readPackageJson();
const tsconfig = JSON.parse(readFileSync('tsconfig.json', 'utf8')) as {
  compilerOptions: { paths: Record<string, string[]> };
};

describe('package entry points', () => {
  it('exports exactly the public entries, the two asset files and package.json', () => {
    const fromEntries = Object.keys(PUBLIC_ENTRIES).map(
      (spec) => `.${spec.slice(pkg.name.length)}`,
    );
    expect(Object.keys(pkg.exports).sort()).toEqual(
      [...fromEntries, ...Object.keys(PACKAGE_ASSETS), './package.json'].sort(),
    );
    expect(Object.keys(PUBLIC_ENTRIES).every((spec) => spec.startsWith(pkg.name))).toBe(true);
  });

  it('tsconfig paths map each public entry to the same source as PUBLIC_ENTRIES', () => {
    const paths = Object.fromEntries(
      Object.entries(tsconfig.compilerOptions.paths).map(([spec, [p]]) => [
        spec,
        p.replace(/^\.\//, ''),
      ]),
    );
    expect(paths).toEqual(PUBLIC_ENTRIES);
  });

  it('gives each public entry types and JavaScript in dist/, and each asset one file', () => {
    const { entries, assets } = packageEntries(pkg);
    expect(entries).toEqual({
      index: 'src/index.ts',
      driver: 'src/driver/index.ts',
      embed: 'src/embed/index.ts',
      host: 'src/host/index.ts',
    });
    expect(assets).toEqual({
      processor: 'worklet/processor.ts',
      'driver-worker': 'src/host/driver-worker.ts',
    });
    for (const [name] of Object.entries(entries)) {
      const target = pkg.exports[name === 'index' ? '.' : `./${name}`];
      expect(target).toEqual({ types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` });
    }
  });

  it('rejects an exports subpath with no source', () => {
    const broken = { ...pkg, exports: { ...pkg.exports, './extra': './dist/extra.js' } };
    expect(() => packageEntries(broken)).toThrow(/\.\/extra is neither/);
    const nested = {
      ...pkg,
      exports: {
        ...pkg.exports,
        '.': { types: './dist/x/index.d.ts', default: './dist/x/index.js' },
      },
    };
    expect(() => packageEntries(nested)).toThrow(/not a file directly in dist/);
  });

  it('marks only the two asset files as having side effects', () => {
    expect(pkg.sideEffects).toEqual(
      Object.values(pkg.exports).filter(
        (t): t is string => typeof t === 'string' && t.startsWith('./dist/'),
      ),
    );
    expect(pkg.sideEffects).toHaveLength(2);
  });

  it('ships dist, the licence and the notices, and depends on comlink only', () => {
    expect(pkg.private).toBeUndefined();
    expect(pkg.files).toEqual(['dist', 'LICENSE', 'README.md', 'THIRD_PARTY_NOTICES.md']);
    expect(Object.keys(pkg.dependencies ?? {})).toEqual(['comlink']);
    expect(pkg.devDependencies?.v86).toBeDefined();
  });
});

describe('bundledPackages', () => {
  it('names the npm package of each bundled module (scoped names whole, the innermost one)', () => {
    expect(
      bundledPackages([
        '/r/src/host/driver-worker.ts',
        '/r/node_modules/comlink/dist/esm/comlink.mjs',
        '/r/node_modules/comlink/dist/esm/other.mjs',
        '/r/node_modules/@scope/pkg/index.js',
        '/r/node_modules/a/node_modules/b/index.js',
        'C:\\r\\node_modules\\win\\index.js',
      ]),
    ).toEqual(['@scope/pkg', 'b', 'comlink', 'win']);
  });
});

describe('checkNotices', () => {
  it('passes when every bundled package has a section in THIRD_PARTY_NOTICES.md', () => {
    expect(() => checkNotices(['comlink'])).not.toThrow();
    expect(() => checkNotices([])).not.toThrow();
  });
  it('fails on a bundled package with no section', () => {
    expect(() => checkNotices(['comlink', 'left-pad'])).toThrow(/bundles left-pad/);
    expect(() =>
      checkNotices(['comlink'], '# notices\n\ncomlink is mentioned in passing\n'),
    ).toThrow(/bundles comlink/);
  });
});
