import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

/**
 * The package's public entry points, by import specifier. The demo and guest
 * pages import only these (scripts/check-architecture.ts enforces it), so they
 * use exactly what a consumer of the package gets.
 */
export const PUBLIC_ENTRIES: Record<string, string> = {
  'virtio-snd-web': 'src/index.ts',
  'virtio-snd-web/driver': 'src/driver/index.ts',
  'virtio-snd-web/embed': 'src/embed/index.ts',
  'virtio-snd-web/host': 'src/host/index.ts',
};

// SharedArrayBuffer needs a cross-origin isolated page: every server we run
// (dev, preview, the e2e tests' preview) sends these two headers.
const crossOriginIsolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/**
 * v86 reaches for node modules only when it runs under node (every use sits
 * behind a `typeof require` or `typeof process` check). In the browser build
 * they resolve to an empty module instead of one "externalized for browser
 * compatibility" warning each.
 */
function v86NodeBuiltins(): Plugin {
  const builtins = new Set(['fs', 'crypto', 'perf_hooks', 'node:crypto', 'node:fs/promises']);
  const empty = '\0v86-node-builtin';
  return {
    name: 'v86-node-builtins',
    apply: 'build',
    enforce: 'pre',
    resolveId(id, importer) {
      if (builtins.has(id) && importer?.includes('/node_modules/v86/')) return empty;
      return null;
    },
    load(id) {
      return id === empty ? 'export default {};' : null;
    },
  };
}

export default defineConfig({
  plugins: [v86NodeBuiltins()],
  resolve: {
    alias: Object.entries(PUBLIC_ENTRIES).map(([name, path]) => ({
      find: new RegExp(`^${name}$`),
      replacement: fileURLToPath(new URL(path, import.meta.url)),
    })),
  },
  server: { headers: crossOriginIsolation },
  preview: { headers: crossOriginIsolation },
  worker: { format: 'es' },
  build: {
    // dist/ is the package's library build (scripts/build-package.ts).
    outDir: 'site',
    target: 'es2022',
    sourcemap: true,
    // Two pages: the demo, and the Linux guest in v86.
    rollupOptions: { input: { main: 'index.html', guest: 'guest.html' } },
  },
});
