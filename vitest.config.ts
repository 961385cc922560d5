import { defineConfig } from 'vitest/config';

export default defineConfig({
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
