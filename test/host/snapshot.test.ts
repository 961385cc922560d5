/**
 * The driver Worker's service (what createVirtioSound runs) saved while a
 * playPcm / playTone is under way and restored into another service on its
 * own fresh SharedArrayBuffer: the rest plays bit-exact, the players go on
 * where they were, and a bad snapshot changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { PcmRenderer } from '../../src/device/render/pcm-renderer.ts';
import { DriverService } from '../../src/host/driver-service.ts';
import { SnapshotError } from '../../src/snapshot/snapshot-format.ts';
import { VIRTIO_SND_PCM_FMT_S16 } from '../../src/snd/protocol.ts';

const QUANTUM = 128;
const OPTS = {
  format: VIRTIO_SND_PCM_FMT_S16,
  rate: 48000,
  channels: 2,
  periodFrames: 480,
  periods: 4,
};

interface Stack {
  service: DriverService;
  renderer: PcmRenderer;
  out: Float32Array[];
}

async function stack(): Promise<Stack> {
  const service = new DriverService();
  const { renderState } = await service.init(new SharedArrayBuffer(2 << 20), 48000, {
    autoService: false,
  });
  return { service, renderer: new PcmRenderer(renderState), out: [] };
}

const tick = () => new Promise((r) => setImmediate(r));

/** Microphone input for quantum `q` of a stack. */
function mic(q: number): Float32Array[] {
  const l = Float32Array.from({ length: QUANTUM }, (_, f) => Math.sin((q * QUANTUM + f) / 5) * 0.6);
  return [l, l];
}

async function render(s: Stack, quanta: number): Promise<void> {
  for (let q = 0; q < quanta; q++) {
    const o = [new Float32Array(QUANTUM), new Float32Array(QUANTUM)];
    s.renderer.process([mic(s.out.length / 2)], [o]);
    s.service.device.service();
    s.out.push(o[0], o[1]);
    await tick();
  }
}

function pcm(frames: number): Int16Array {
  const d = new Int16Array(2 * frames);
  for (let i = 0; i < d.length; i++) d[i] = ((i * 2654435761) >>> 17) - 16384;
  return d;
}

const left = (s: Stack) => {
  const l = s.out.filter((_, i) => i % 2 === 0);
  const all = new Float32Array(l.length * QUANTUM);
  l.forEach((x, i) => {
    all.set(x, i * QUANTUM);
  });
  return all;
};

describe('DriverService snapshot', () => {
  it('a playPcm under way plays on, bit-exact, in a restored service', async () => {
    const a = await stack();
    const data = pcm(48000);
    await a.service.playPcm(OPTS, data.slice().buffer);
    await render(a, 60);
    const snapshot = await a.service.saveState();
    const b = await stack();
    await b.service.restoreState(snapshot);
    const at = a.out.length;
    await render(a, 400);
    await render(b, 400);
    const la = left(a).subarray((at / 2) * QUANTUM);
    const lb = left(b);
    expect(lb).toEqual(la);
    // It is the PCM, to its end, then silence: nothing lost, nothing played twice.
    const start = a.service.device.stats().streams[0].startFrame;
    const first = (at / 2) * QUANTUM - start;
    const played = 48000 - first;
    for (let f = 0; f < played; f += 7) expect(lb[f]).toBe(data[2 * (first + f)] / 32768);
    expect(lb.subarray(played).every((x) => x === 0)).toBe(true);
    expect(b.service.status(0).state).toBe('setup');
    expect(b.service.status(0).hwPtr).toBe(48000);
  });

  it('a playTone goes on with its phase: the same samples as the original', async () => {
    const a = await stack();
    await a.service.playTone({ ...OPTS, frequency: 441, seconds: 2 });
    await render(a, 33);
    const snapshot = await a.service.saveState();
    const b = await stack();
    await b.service.restoreState(snapshot);
    const at = a.out.length;
    await render(a, 300);
    await render(b, 300);
    const la = left(a).subarray((at / 2) * QUANTUM);
    expect(left(b)).toEqual(la);
    expect(la.some((x) => x !== 0)).toBe(true);
  });

  it('a recording goes on in the restored service (what came before stays with the original)', async () => {
    const a = await stack();
    await a.service.startRecording({ ...OPTS, streamId: 1 });
    await render(a, 40);
    const snapshot = await a.service.saveState();
    const b = await stack();
    b.out.push(...a.out); // the same microphone from here on
    await b.service.restoreState(snapshot);
    await render(a, 100);
    await render(b, 100);
    const all = new Uint8Array(await a.service.stopRecording(1));
    const after = new Uint8Array(await b.service.stopRecording(1));
    expect(after.length).toBeGreaterThan(4 * 480 * 20);
    // The restored recording holds the tail of the original one.
    expect(all.subarray(all.length - after.length)).toEqual(after);
  });

  it('a bad snapshot is refused and the service plays on untouched', async () => {
    const a = await stack();
    await a.service.playPcm(OPTS, pcm(24000).buffer as ArrayBuffer);
    await render(a, 20);
    const good = await a.service.saveState();
    const bad = good.slice(0, good.length - 100);
    const before = a.service.device.saveState();
    await expect(a.service.restoreState(bad)).rejects.toBeInstanceOf(SnapshotError);
    expect(Buffer.from(a.service.device.saveState()).equals(Buffer.from(before))).toBe(true);
    await render(a, 10);
    expect(a.service.status(0).state).toBe('running');
  });
});
