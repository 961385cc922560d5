/**
 * Driver + device + guest memory saved mid-playback and restored into a new
 * stack (new SharedArrayBuffer, device, renderer, driver that never probed)
 * go on exactly as the original does: the same samples, the same
 * completions, the same positions. Also: a drain in progress is joined
 * after a restore; a control request in flight makes saving 'busy'; a bad
 * snapshot is refused and changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { restoreSoundState, saveSoundState } from '../../src/device/control/sound-snapshot.ts';
import type { PcmStream } from '../../src/driver/pcm-ops.ts';
import { SnapshotError } from '../../src/snapshot/snapshot-format.ts';
import { VIRTIO_SND_R_PCM_START } from '../../src/snd/protocol.ts';
import { InProcess, QUANTUM, settle } from '../helpers/in-process.ts';

const TOTAL = 48000; // one second of S16 stereo

/** Frame f of the test signal, both channels, as S16. */
function frames(from: number, n: number): Int16Array {
  const s = new Int16Array(2 * n);
  for (let f = 0; f < n; f++) {
    s[2 * f] = ((from + f) * 7919) % 32000;
    s[2 * f + 1] = -(((from + f) * 31) % 32000);
  }
  return s;
}

/** An application that writes whatever fits, from its own position: the same on any copy of the stack. */
function feed(pcm: PcmStream): void {
  if (pcm.state !== 'prepared' && pcm.state !== 'running') return;
  const room = pcm.avail();
  const n = Math.min(room, TOTAL - pcm.applPtr);
  if (n > 0) pcm.tryWritei(frames(pcm.applPtr, n));
}

async function ticks(p: InProcess, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    feed(p.driver.pcm(0));
    await p.tick();
  }
}

/** A new stack over a copy of `p`'s guest memory, with its device, transport and driver restored. */
async function restoredCopy(p: InProcess): Promise<InProcess> {
  const device = saveSoundState(p.transport, p.device);
  const driver = p.driver.saveState();
  const memory = new Uint8Array(p.memory.slice(0));
  const q = new InProcess();
  new Uint8Array(q.memory).set(memory);
  restoreSoundState(q.transport, q.device, device);
  q.driver.restoreState(driver);
  q.record = p.record;
  q.quanta = p.quanta;
  await settle();
  return q;
}

const same = (a: Uint8Array, b: Uint8Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.length).equals(
    Buffer.from(b.buffer, b.byteOffset, b.length),
  );

describe('driver snapshot', () => {
  it('mid-playback, the restored stack plays the rest bit-exact, period for period', async () => {
    const a = await InProcess.create();
    const pcm = await a.prepared(0);
    pcm.swParams({ startThreshold: 512 });
    a.record = true;
    await ticks(a, 37); // running, a message half played, others queued
    expect(pcm.state).toBe('running');
    const periods: number[][] = [[], []];
    const b = await restoredCopy(a);
    a.driver.pcm(0).onPeriod = (e) => periods[0].push(e.hwPtr);
    b.driver.pcm(0).onPeriod = (e) => periods[1].push(e.hwPtr);
    const before = a.quanta;
    a.recorded = { l: [], r: [] };
    await ticks(a, 200);
    await ticks(b, 200);
    expect(b.output().l).toEqual(a.output().l);
    expect(b.output().r).toEqual(a.output().r);
    expect(periods[1]).toEqual(periods[0]);
    expect(periods[0].length).toBeGreaterThan(80);
    expect(b.driver.pcm(0).hwPtr).toBe(a.driver.pcm(0).hwPtr);
    expect(same(b.device.saveState(), a.device.saveState())).toBe(true);
    expect(same(b.driver.saveState(), a.driver.saveState())).toBe(true);
    expect(same(new Uint8Array(b.memory), new Uint8Array(a.memory))).toBe(true);
    // And it is the signal, from where the snapshot was taken.
    const out = b.output().l;
    const start = a.device.stats().streams[0].startFrame;
    const first = (before * QUANTUM - start) | 0;
    for (let f = 0; f < out.length && first + f < TOTAL; f += 97) {
      expect(out[f]).toBe(frames(first + f, 1)[0] / 32768);
    }
  });

  it('mid-capture, the restored stack captures the same bytes', async () => {
    const input = (q: number) => {
      const l = new Float32Array(QUANTUM);
      for (let f = 0; f < QUANTUM; f++) l[f] = Math.sin((q * QUANTUM + f) / 9) * 0.8;
      return [l, l.map((x) => -x / 2)];
    };
    const run = async (p: InProcess, n: number, into: number[]) => {
      const pcm = p.driver.pcm(1);
      const buf = new Int16Array(2 * 4096);
      for (let i = 0; i < n; i++) {
        await p.tick(input(p.quanta));
        const got = pcm.tryReadi(buf);
        into.push(...buf.subarray(0, 2 * got));
      }
    };
    const a = await InProcess.create();
    await a.prepared(1);
    const early: number[] = [];
    await run(a, 7, early); // starts the stream, captures a couple of periods, one half full
    expect(a.driver.pcm(1).state).toBe('running');
    const b = await restoredCopy(a);
    const fromA: number[] = [];
    const fromB: number[] = [];
    await run(a, 60, fromA);
    await run(b, 60, fromB);
    expect(fromA.length).toBeGreaterThan(2 * 5000);
    expect(fromB).toEqual(fromA);
    expect(b.driver.pcm(1).hwPtr).toBe(a.driver.pcm(1).hwPtr);
  });

  it('a drain in progress goes on: drain() on the restored driver joins it', async () => {
    const a = await InProcess.create();
    const pcm = await a.prepared(0);
    await pcm.writei(frames(0, 1000));
    const drained = pcm.drain();
    await a.ticks(3);
    expect(pcm.state).toBe('draining');
    const b = await restoredCopy(a);
    const restored = b.driver.pcm(0);
    expect(restored.state).toBe('draining');
    let done = false;
    void restored.drain().then(() => {
      done = true;
    });
    await b.ticks(10);
    expect(done).toBe(true);
    expect(restored.state).toBe('setup');
    expect(restored.hwPtr).toBe(1000);
    // The original's own drain finishes too.
    await a.ticks(10);
    await drained;
  });

  it('is busy while a control request is in flight, and refuses before probe', async () => {
    const a = await InProcess.create();
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setUint32(0, VIRTIO_SND_R_PCM_START, true);
    const inFlight = a.driver.ctl.send(bytes, 4, { allowFailure: true });
    const e = (() => {
      try {
        a.driver.saveState();
      } catch (x) {
        return x as SnapshotError;
      }
    })();
    expect(e).toBeInstanceOf(SnapshotError);
    expect(e?.reason).toBe('busy');
    await inFlight;
    expect(a.driver.saveState().length).toBeGreaterThan(0);
    const fresh = new InProcess();
    expect(() => fresh.driver.saveState()).toThrow(/not probed/);
  });

  it('a bad snapshot is refused with SnapshotError and changes nothing', async () => {
    const a = await InProcess.create();
    const pcm = await a.prepared(0);
    await ticks(a, 20);
    const good = a.driver.saveState();
    const q = new InProcess();
    new Uint8Array(q.memory).set(new Uint8Array(a.memory));
    q.driver.restoreState(good);
    const before = q.driver.saveState();
    const heapBefore = JSON.stringify(q.driver.heap.saveState());
    let refused = 0;
    let tried = 0;
    for (let i = 0; i < good.length; i += 5, tried++) {
      const bad = good.slice();
      bad[i] ^= 0x5a;
      try {
        q.driver.restoreState(bad);
        q.driver.restoreState(before); // accepted (a counter, say): put it back
      } catch (e) {
        expect(e).toBeInstanceOf(SnapshotError);
        refused++;
        expect(same(q.driver.saveState(), before)).toBe(true);
        expect(JSON.stringify(q.driver.heap.saveState())).toBe(heapBefore);
      }
    }
    expect(refused).toBeGreaterThan(tried / 2);
    // Another heap range is another driver.
    const other = new InProcess({}, { heapBase: 4096 });
    expect(() => other.driver.restoreState(good)).toThrow(/heap/);
    void pcm;
  });
});
