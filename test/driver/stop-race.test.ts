/**
 * snd_pcm_drop while a writer is blocked in writei: as in ALSA, the stream
 * leaves the running state at once, so the writer stops there and no message
 * reaches the device after RELEASE (which would be answered BAD_MSG).
 */
import { describe, expect, it } from 'vitest';
import { PcmStateError } from '../../src/driver/errors.ts';
import { InProcess, settle } from '../helpers/in-process.ts';

describe('stop() with a blocked writer', () => {
  it('the writer gets PcmStateError and the device sees no message after RELEASE', async () => {
    const p = await InProcess.create();
    const pcm = await p.prepared(0);
    const chunk = new Int16Array(256 * 2).fill(100);
    let writerError: unknown = null;
    const writer = (async () => {
      try {
        for (;;) await pcm.writei(chunk);
      } catch (e) {
        writerError = e;
      }
    })();
    await settle();
    expect(pcm.state).toBe('running');
    // Let the device play while stop() is on its way: completions wake the writer.
    let stopped = false;
    const stopping = pcm.stop().then(() => {
      stopped = true;
    });
    for (let i = 0; i < 20 && !stopped; i++) await p.tick();
    await stopping;
    await writer;
    for (let i = 0; i < 4; i++) await p.tick();
    expect(writerError).toBeInstanceOf(PcmStateError);
    expect(pcm.state).toBe('setup');
    expect(p.device.stats().badMessages).toBe(0);
    expect(p.device.streamState(0)).toBe('released');
  });

  it('a blocking writei that had written part of its data returns that count', async () => {
    const p = await InProcess.create();
    const pcm = await p.prepared(0);
    // 1500 frames into a 1024-frame buffer: it writes 1024, starts, and waits for room.
    const pending = pcm.writei(new Int16Array(1500 * 2));
    await settle();
    expect(pcm.state).toBe('running');
    const stopping = pcm.stop();
    await expect(pending).resolves.toBe(1024);
    await stopping;
    await expect(pcm.writei(new Int16Array(2))).rejects.toBeInstanceOf(PcmStateError);
  });
});
