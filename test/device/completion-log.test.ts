/**
 * The completion log has one writer per log: TX completions are logged under
 * the TX lock and RX ones under the RX lock, so each direction has its own
 * log, and a reader sees both, merged in frame order.
 */
import { describe, expect, it } from 'vitest';
import { VirtioSndDevice } from '../../src/device/control/virtio-snd-device.ts';
import { CompletionLog, logCompletion } from '../../src/device/shared/completion-log.ts';
import { COMPLETION_LOG_ENTRIES, SharedState } from '../../src/device/shared/layout.ts';
import { startTsWorker } from '../helpers/ts-worker.ts';

function device(): VirtioSndDevice {
  // Default streams: 0 is an output (TX), 1 an input (RX).
  return new VirtioSndDevice({
    memory: new SharedArrayBuffer(1 << 16),
    sampleRate: 48000,
    autoService: false,
  });
}

describe('completion log', () => {
  it('TX and RX completions logged at once from two threads: none lost, none torn', async () => {
    const rs = device().renderState;
    const log = new CompletionLog(rs);
    const n = 2_000_000;
    const barrier = new SharedArrayBuffer(4);
    const done = [0, 1].map((stream) => {
      const w = startTsWorker(new URL('./completion-log.worker.ts', import.meta.url), {
        shared: rs.shared,
        layout: rs.layout,
        barrier,
        stream,
        n,
      });
      return new Promise<void>((res, rej) => {
        w.once('message', () => {
          void w.terminate();
          res();
        });
        w.once('error', rej);
      });
    });
    await Promise.all(done);
    const got = log.take();
    // Every completion is accounted for: read, or overwritten before this reader looked.
    expect(got.length + log.lost).toBe(2 * n);
    // What is left of each stream is its last completions, whole and in order.
    for (const stream of [0, 1]) {
      const frames = got.filter((c) => c.stream === stream).map((c) => c.frame);
      expect(frames.length).toBeGreaterThan(0);
      expect(frames).toEqual(frames.map((_, k) => n - frames.length + k));
    }
  });

  it('a reader gets both directions merged in frame order', () => {
    const rs = device().renderState;
    const s = new SharedState(rs.shared, rs.layout);
    const log = new CompletionLog(rs);
    logCompletion(s, 0, 100, 0, 1);
    logCompletion(s, 1, 50, 0, 2);
    logCompletion(s, 1, 150, 0, 3);
    logCompletion(s, 0, 200, 0, 4);
    expect(log.take().map((c) => c.head)).toEqual([2, 1, 3, 4]);
    expect(log.take()).toEqual([]);
    // More than a log holds: the reader says how many it missed.
    for (let i = 0; i < COMPLETION_LOG_ENTRIES + 10; i++) logCompletion(s, 0, 300 + i, 0, 0);
    expect(log.take()).toHaveLength(COMPLETION_LOG_ENTRIES);
    expect(log.lost).toBe(10);
  });
});
