/**
 * The import rules of docs/architecture.md, checked on every file under src/
 * and worklet/: which folder may import which. `npm run lint` runs it; it
 * prints each violation with its file and line and exits 1.
 *
 * Run: tsx scripts/check-architecture.ts
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** A folder (or single file) of the tree, and what its files may import. */
export interface Rule {
  /** Files this rule covers: a path prefix relative to the repository. */
  from: string;
  /** Path prefixes (relative to the repository) its files may import. */
  may: readonly string[];
  /** npm packages its files may import. */
  packages?: readonly string[];
  /** Why, in a few words (printed with a violation). */
  why: string;
}

const AUDIO_SAFE = ['src/snd/', 'src/virtio/', 'src/pcm/'];
/** The snapshot container format: for the parts that save and restore state (never the audio thread). */
const SNAPSHOT = 'src/snapshot/';

/** Most specific first: the first rule whose `from` prefixes a file applies. */
export const RULES: readonly Rule[] = [
  { from: 'src/snd/', may: ['src/snd/'], why: 'the protocol depends on nothing' },
  { from: 'src/snapshot/', may: ['src/snapshot/'], why: 'the snapshot format depends on nothing' },
  {
    from: 'src/virtio/',
    may: ['src/virtio/', SNAPSHOT],
    why: 'the transport knows no device',
  },
  { from: 'src/pcm/', may: ['src/pcm/', 'src/snd/'], why: 'PCM DSP runs on any thread' },
  {
    from: 'src/device/shared/',
    may: ['src/device/shared/', ...AUDIO_SAFE],
    why: 'shared device state is used by both threads',
  },
  {
    from: 'src/device/render/',
    may: ['src/device/render/', 'src/device/shared/', ...AUDIO_SAFE],
    why: 'the audio thread never runs control-plane code',
  },
  {
    from: 'src/device/control/',
    may: ['src/device/control/', 'src/device/shared/', ...AUDIO_SAFE, SNAPSHOT],
    why: 'the control plane reaches the renderer only through shared state',
  },
  { from: 'src/device/index.ts', may: ['src/device/'], why: 'the device entry' },
  {
    from: 'src/driver/',
    may: ['src/driver/', ...AUDIO_SAFE, SNAPSHOT],
    why: 'the guest driver knows the device only through the transport',
  },
  {
    from: 'src/embed/',
    may: ['src/embed/', 'src/device/index.ts', ...AUDIO_SAFE, SNAPSHOT],
    why: 'embedding uses the device through its public entry',
  },
  {
    from: 'src/host/',
    may: [
      'src/host/',
      'src/device/index.ts',
      'src/driver/index.ts',
      'worklet/processor.ts',
      ...AUDIO_SAFE,
      SNAPSHOT,
    ],
    packages: ['comlink'],
    why: 'page glue uses the device and driver through their public entries',
  },
  {
    from: 'src/index.ts',
    may: ['src/device/index.ts', ...AUDIO_SAFE, SNAPSHOT],
    why: 'the root entry is DOM-free',
  },
  {
    from: 'worklet/',
    may: ['worklet/', 'src/device/render/', 'src/device/shared/'],
    why: 'the AudioWorklet bundle holds only the renderer',
  },
  {
    from: 'src/pages/',
    may: ['src/pages/'],
    packages: ['virtio-snd-web'],
    why: "the pages' shared UI uses only the package entry points a consumer has",
  },
  {
    from: 'src/demo/',
    may: ['src/demo/', 'src/pages/'],
    packages: ['virtio-snd-web'],
    why: 'the demo uses only the package entry points a consumer has',
  },
  {
    from: 'src/guest/',
    may: ['src/guest/', 'src/pages/'],
    packages: ['virtio-snd-web', 'v86'],
    why: 'the guest page uses only the package entry points a consumer has',
  },
];

export interface SourceFile {
  /** Relative to the repository, with forward slashes. */
  path: string;
  text: string;
}

export interface Violation {
  path: string;
  line: number;
  spec: string;
  message: string;
}

function ruleFor(path: string): Rule | undefined {
  return RULES.find((r) => path === r.from || path.startsWith(r.from));
}

function packageOf(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Every import of every file checked against the rules. */
export function checkImports(files: readonly SourceFile[]): Violation[] {
  const out: Violation[] = [];
  for (const f of files) {
    const rule = ruleFor(f.path);
    const info = ts.preProcessFile(f.text, true, true);
    for (const ref of info.importedFiles) {
      const spec = ref.fileName;
      const line = f.text.slice(0, ref.pos).split('\n').length;
      const fail = (message: string) => out.push({ path: f.path, line, spec, message });
      if (!rule) {
        fail('this file is in no folder of docs/architecture.md');
        continue;
      }
      if (spec.startsWith('node:')) {
        fail(`${rule.from} must not use Node built-ins (${rule.why})`);
      } else if (spec.startsWith('.')) {
        const target = posix.normalize(
          posix.join(posix.dirname(f.path), spec.replace(/\?.*$/, '')),
        );
        if (!rule.may.some((p) => target === p || target.startsWith(p))) {
          fail(`${rule.from} may not import ${target} (${rule.why})`);
        }
      } else if (!(rule.packages ?? []).includes(packageOf(spec))) {
        fail(`${rule.from} may not import the package ${packageOf(spec)} (${rule.why})`);
      }
    }
  }
  return out;
}

function listFiles(root: string, dir: string): string[] {
  const abs = join(root, dir);
  return readdirSync(abs).flatMap((name) => {
    const rel = posix.join(dir, name);
    if (statSync(join(abs, name)).isDirectory()) return listFiles(root, rel);
    return /\.tsx?$/.test(name) ? [rel] : [];
  });
}

/** The repository's src/ and worklet/ files. */
export function repositoryFiles(root: string): SourceFile[] {
  return ['src', 'worklet'].flatMap((d) =>
    listFiles(root, d).map((path) => ({ path, text: readFileSync(join(root, path), 'utf8') })),
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = relative(process.cwd(), join(dirname(fileURLToPath(import.meta.url)), '..')) || '.';
  const files = repositoryFiles(root);
  const violations = checkImports(files);
  for (const v of violations) console.error(`${v.path}:${v.line}: '${v.spec}': ${v.message}`);
  if (violations.length > 0) {
    console.error(`${violations.length} import(s) break docs/architecture.md`);
    process.exit(1);
  }
  console.log(`architecture: ${files.length} files, every import allowed`);
}
