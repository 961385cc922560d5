import { defineConfig } from 'vite';

// SharedArrayBuffer needs a cross-origin isolated page: every server we run
// (dev, preview, the e2e tests' preview) sends these two headers.
const crossOriginIsolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  server: { headers: crossOriginIsolation },
  preview: { headers: crossOriginIsolation },
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    sourcemap: true,
    // Two pages: the demo, and the Linux guest in v86.
    rollupOptions: { input: { main: 'index.html', guest: 'guest.html' } },
  },
});
