import { defineConfig } from 'vite';

// SharedArrayBuffer needs a cross-origin isolated page: the dev server and
// `vite preview` send these two headers (your production server must too).
const headers = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  server: { headers },
  preview: { headers },
});
