import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { PUBLIC_ENTRIES } from './vite.config.ts';

export default defineConfig({
  // The pages import the package by its public names (as in vite.config.ts); their tests too.
  resolve: {
    alias: Object.entries(PUBLIC_ENTRIES).map(([name, path]) => ({
      find: new RegExp(`^${name}$`),
      replacement: fileURLToPath(new URL(path, import.meta.url)),
    })),
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    pool: 'threads',
    // Off unless asked (--coverage): e.g. the branches a fuzz corpus reaches,
    // FUZZ_CORPUS_EXTRA=dir npx vitest run --coverage test/fuzz/corpus.test.ts
    coverage: {
      provider: 'v8',
      include: ['src/virtio/**', 'src/device/**', 'src/embed/**'],
      reporter: ['text-summary', 'text', 'json-summary'],
    },
  },
});
