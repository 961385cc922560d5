/**
 * The package as a new user gets it: `npm pack`, the tarball installed with
 * npm into a copy of each example (examples/tone-page, a Vite page, and
 * examples/emulator, an emulator integration in Node), type-checked under
 * the strictest common settings, built and served by Vite, imported from
 * plain Node, and the tone page played in Chromium from both the dev server
 * and the production build until its output tap shows sound.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect, type Page, test } from '@playwright/test';
import { installExample, installed, pack, type Run, run, workDir } from './consumer.ts';

/** The consumer settings the types must pass, whatever the examples' tsconfig says. */
const STRICTEST = [
  '--strict',
  '--noUncheckedIndexedAccess',
  '--exactOptionalPropertyTypes',
  '--erasableSyntaxOnly',
  '--skipLibCheck',
  'false',
];

test.describe.configure({ mode: 'serial' });

let dir = '';
let tarball = '';
let tonePage = '';
let emulator = '';
const servers: ChildProcess[] = [];

test.beforeAll(async () => {
  test.setTimeout(600_000);
  dir = workDir();
  tarball = await pack(dir);
  tonePage = await installExample('tone-page', tarball, dir);
  emulator = await installExample('emulator', tarball, dir);
});

test.afterAll(() => {
  for (const s of servers) if (s.exitCode === null) s.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const node = (args: string[], cwd: string): Promise<Run> => run(process.execPath, args, cwd);
const tsc = (app: string, ...args: string[]) =>
  node([join(app, 'node_modules/typescript/bin/tsc'), '-p', '.', ...STRICTEST, ...args], app);
const vite = (app: string, ...args: string[]) =>
  node([join(app, 'node_modules/vite/bin/vite.js'), ...args], app);

function ok(r: Run): string {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

interface Server {
  url: string;
  process: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
}

/**
 * Starts `vite ...args` on a free port (other servers may hold the usual
 * ones); resolves with its URL once it answers there.
 */
async function serve(app: string, args: string[]): Promise<Server> {
  const child = spawn(
    process.execPath,
    [join(app, 'node_modules/vite/bin/vite.js'), ...args, '--port', '0', '--strictPort'],
    { cwd: app, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
  );
  servers.push(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d;
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d;
  });
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`vite ${args.join(' ')} exited:\n${output}`);
    const url = /Local:\s+(http:\/\/\S+)/.exec(output)?.[1];
    const up =
      url &&
      (await fetch(url).then(
        (r) => r.ok,
        () => false,
      ));
    if (url && up) return { url, process: child, output: () => output };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`vite ${args.join(' ')} did not answer:\n${output}`);
}

/**
 * Opens the tone page, clicks Play, and waits for the level meter (the
 * device's output tap) to show the tone. Returns the page's JavaScript
 * responses by URL.
 */
async function playTone(page: Page, url: string): Promise<Map<string, number>> {
  const errors: string[] = [];
  const scripts = new Map<string, number>();
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('response', (r) => {
    if (/\.js(\?|$)/.test(r.url())) scripts.set(r.url(), r.status());
  });
  await page.goto(url);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  await page.click('#play');
  await expect(page.locator('#status')).toHaveText('playing', { timeout: 30_000 });
  // playTone's amplitude is 0.5: the meter shows about -6 dBFS once the tone sounds.
  await page.waitForFunction(
    () => Number(document.querySelector<HTMLElement>('#level')?.dataset['peak'] ?? 0) > 0.3,
    undefined,
    { timeout: 30_000 },
  );
  await page.click('#stop');
  await expect(page.locator('#status')).toHaveText('stopped');
  expect(errors).toEqual([]);
  return scripts;
}

/**
 * The AudioWorklet module the page loaded, found as a consumer's bundler
 * left it (`new URL('…processor….js', import.meta.url)` in one of the page's
 * scripts) and fetched: it must be the processor, served as JavaScript.
 */
async function checkWorklet(scripts: Map<string, number>): Promise<string> {
  const found = new Set<string>();
  for (const script of scripts.keys()) {
    const code = await (await fetch(script)).text();
    for (const m of code.matchAll(/new URL\(\s*['"`]([^'"`]*processor[^'"`]*\.js)['"`]/g)) {
      found.add(new URL(m[1], script).href);
    }
  }
  expect([...found], [...scripts.keys()].join('\n')).toHaveLength(1);
  const [url] = found;
  const r = await fetch(url);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/javascript/);
  expect(await r.text()).toMatch(/registerProcessor\(['"`]virtio-snd['"`]/);
  return url;
}

test('the tarball holds the built files, the licence, the notices and the README', async () => {
  const files = ok(await run('tar', ['-tzf', tarball], dir))
    .trim()
    .split('\n')
    .sort();
  for (const f of files) {
    expect(f).toMatch(
      /^package\/(dist\/[\w-]+\.(js|js\.map|d\.ts)|LICENSE|README\.md|THIRD_PARTY_NOTICES\.md|package\.json)$/,
    );
  }
  for (const f of ['index', 'driver', 'embed', 'host']) {
    expect(files).toContain(`package/dist/${f}.js`);
    expect(files).toContain(`package/dist/${f}.d.ts`);
  }
  expect(files).toContain('package/dist/processor.js');
  expect(files).toContain('package/dist/driver-worker.js');
  expect(files).toContain('package/LICENSE');
  // The AudioWorklet module and the Worker are loaded by URL: each must stand alone.
  for (const asset of ['processor', 'driver-worker']) {
    const code = ok(await run('tar', ['-xzOf', tarball, `package/dist/${asset}.js`], dir));
    expect(code).not.toMatch(/^\s*(import|export)\b/m);
  }
});

test('installing it brings the package and comlink, nothing else', () => {
  const got = installed(tonePage, ['typescript', 'vite']);
  expect(got.map((p) => p.name).sort()).toEqual(['comlink', 'virtio-snd-web']);
  const kib = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
  test.info().annotations.push({
    type: 'install size',
    description: got.map((p) => `${p.name} ${kib(p.bytes)}`).join(', '),
  });
});

test('the types compile in a consumer under the strictest common settings', async () => {
  ok(await tsc(tonePage, '--noEmit'));
  ok(await tsc(emulator)); // emits dist/main.js for the next test
});

test('the core entry imports and runs in plain Node; the emulator example plays', async () => {
  const probe = `
    const m = await import('virtio-snd-web');
    const device = new m.VirtioSndDevice({ memory: new SharedArrayBuffer(1 << 20), sampleRate: 48000, autoService: false });
    const mmio = new m.VirtioMmioTransport(device, { onInterrupt() {} });
    console.log(JSON.stringify({ magic: mmio.read(0, 4), id: mmio.read(8, 4), renderer: typeof m.PcmRenderer }));`;
  const core = JSON.parse(ok(await node(['--input-type=module', '-e', probe], emulator)));
  expect(core).toEqual({ magic: 0x74726976, id: 25, renderer: 'function' });

  const played = JSON.parse(ok(await node(['dist/main.js'], emulator)));
  expect(played).toEqual({ played: true, peak: expect.any(Number), frames: 48000, xruns: 0 });
  expect(played.peak).toBeGreaterThan(0.2);
});

test('vite builds the tone page with no plugin or config for the package', async () => {
  const out = ok(await vite(tonePage, 'build'));
  expect(out).toMatch(/processor-[\w-]+\.js/);
  expect(out).toMatch(/driver-worker-[\w-]+\.js/);
});

test('the vite dev server serves the tone page, and it plays', async ({ page }) => {
  const server = await serve(tonePage, []);
  const scripts = await playTone(page, server.url);
  const worker = [...scripts].find(([u]) => /\/driver-worker\.js/.test(u));
  expect(worker, [...scripts.keys()].join('\n')).toEqual([expect.any(String), 200]);
  expect(await checkWorklet(scripts)).toMatch(
    /\/node_modules\/virtio-snd-web\/dist\/processor\.js$/,
  );
  expect(server.process.exitCode).toBeNull();
  expect(server.output()).not.toMatch(/error/i);
});

test('the built tone page plays in Chromium', async ({ page }) => {
  const server = await serve(tonePage, ['preview']);
  const scripts = await playTone(page, server.url);
  const worker = [...scripts].find(([u]) => /\/assets\/driver-worker-[\w-]+\.js$/.test(u));
  expect(worker, [...scripts.keys()].join('\n')).toEqual([expect.any(String), 200]);
  expect(await checkWorklet(scripts)).toMatch(/\/assets\/processor-[\w-]+\.js$/);
});
