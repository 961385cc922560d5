/**
 * The production build served by `vite preview` for a browser bench. npx
 * starts vite as a child of its own, so the server runs in a process group
 * of its own and stop() ends the whole group (killing npx alone left vite
 * serving after the bench).
 */
import { spawn } from 'node:child_process';

export interface Preview {
  readonly url: string;
  stop(): void;
}

export async function startPreview(port: number): Promise<Preview> {
  const p = spawn('npx', ['vite', 'preview', '--port', String(port), '--strictPort'], {
    stdio: 'ignore',
    detached: true,
  });
  const stop = () => {
    try {
      if (p.pid !== undefined) process.kill(-p.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  const url = `http://localhost:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/`)).ok) return { url, stop };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  stop();
  throw new Error('vite preview did not start (run `npm run build` first)');
}
