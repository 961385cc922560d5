/**
 * Fuzzing restore (fast-check): arbitrary bytes, and valid snapshots of
 * devices in many states mutated (bytes and words overwritten, cut short,
 * stretched), given to a transport + device pair.
 *
 * Invariants: nothing but a SnapshotError is ever thrown; a refused snapshot
 * leaves the device's shared memory, its saved state and the transport's
 * registers exactly as they were (nothing half-restored); an accepted one
 * leaves a device that renders without faults and with finite output, and
 * whose own snapshot restores into a fresh device. FUZZ_RUNS scales it (npm
 * run fuzz -- --only snapshot). The driver's restore gets the same treatment:
 * only SnapshotError, and a refusal leaves its snapshot unchanged.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { restoreSoundState, saveSoundState } from '../../src/device/control/sound-snapshot.ts';
import { SnapshotError } from '../../src/snapshot/snapshot-format.ts';
import * as P from '../../src/snd/protocol.ts';
import { InProcess } from '../helpers/in-process.ts';
import { SndGuest } from '../helpers/snd-guest.ts';
import { mutate, mutationArb, same } from './snapshot-mutations.ts';

const SCALE = Number(process.env.FUZZ_RUNS ?? 0);
const runs = (ci: number) => (SCALE > 0 ? SCALE : ci);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const TIMEOUT = SCALE > 0 ? 7 * 24 * 3600_000 : 300_000;
/** Small guest memory: every guest of the corpus and the target have the same size. */
const MEM = 256 << 10;
const OK = P.VIRTIO_SND_S_OK;
const RATES = [16000, 44100, 48000];
const CONFIG = {
  streams: [
    { direction: 'output' as const, rates: RATES },
    { direction: 'input' as const, rates: RATES },
  ],
};

/** Devices in assorted states: idle, playing (resampled or not), capturing, stopped, with events waiting. */
function corpus(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const guest = (eventIdx: boolean) =>
    new SndGuest(CONFIG, MEM).init({ eventIdx, eventBuffers: 2 });
  const stream = (g: SndGuest, id: number, rateHz: number) => {
    const period = 256 * 4;
    g.setParams({
      streamId: id,
      bufferBytes: 4 * period,
      periodBytes: period,
      channels: 2,
      format: P.VIRTIO_SND_PCM_FMT_S16,
      rateHz,
      features: (1 << P.VIRTIO_SND_PCM_F_EVT_XRUNS) | (1 << P.VIRTIO_SND_PCM_F_EVT_SHMEM_PERIODS),
    });
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, id)).toBe(OK);
  };
  const idle = new SndGuest(CONFIG, MEM);
  out.push(saveSoundState(idle.transport, idle.device));
  for (const [rate, eventIdx] of [
    [48000, false],
    [44100, true],
    [16000, false],
  ] as const) {
    const g = guest(eventIdx);
    out.push(saveSoundState(g.transport, g.device));
    stream(g, 0, rate);
    stream(g, 1, rate);
    const pcm = new Uint8Array(1024).map((_, i) => (i * 37) & 0xff);
    for (let i = 0; i < 3; i++) g.tx(0, pcm);
    for (let i = 0; i < 3; i++) g.rx(1, 1024);
    out.push(saveSoundState(g.transport, g.device));
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
    g.render(3, () => [new Float32Array(128).fill(0.5), new Float32Array(128).fill(-0.25)]);
    out.push(saveSoundState(g.transport, g.device));
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_STOP, 0)).toBe(OK);
    g.device.setControl('Master Playback Volume', [30]);
    g.device.setJackConnected(0, false);
    out.push(saveSoundState(g.transport, g.device));
  }
  return out;
}

/** Restores `bytes` into `g` and checks the invariants whatever happens. */
function attempt(g: SndGuest, bytes: Uint8Array): boolean {
  const shared = () => new Uint8Array(g.device.renderState.shared.slice(0));
  const before = {
    shared: shared(),
    device: g.device.saveState(),
    transport: g.transport.saveState(),
  };
  try {
    restoreSoundState(g.transport, g.device, bytes);
  } catch (e) {
    if (!(e instanceof SnapshotError)) throw e;
    expect(same(shared(), before.shared), 'shared memory changed by a refused snapshot').toBe(true);
    expect(same(g.device.saveState(), before.device)).toBe(true);
    expect(same(g.transport.saveState(), before.transport)).toBe(true);
    return false;
  }
  // Accepted: it renders sanely, and its own snapshot moves to a fresh device.
  const out = [[new Float32Array(128), new Float32Array(128)]];
  const x = new Float32Array(128).fill(0.5);
  for (let q = 0; q < 4; q++) {
    g.renderer.process([[x, x]], out);
    g.device.service();
    for (const ch of out[0]) expect(ch.every(Number.isFinite)).toBe(true);
  }
  expect(g.renderer.faults).toBe(0);
  const fresh = new SndGuest(CONFIG, MEM);
  restoreSoundState(fresh.transport, fresh.device, saveSoundState(g.transport, g.device));
  return true;
}

describe('restore with hostile snapshots', () => {
  const snapshots = corpus();
  // One target device throughout: each case starts from whatever the last one left.
  const target = new SndGuest(CONFIG, MEM).init();

  it('every snapshot of the corpus restores', () => {
    for (const s of snapshots) expect(attempt(target, s)).toBe(true);
  });

  it(
    'arbitrary bytes: only SnapshotError, nothing changed',
    () => {
      const header = snapshots[1].subarray(0, 16);
      fc.assert(
        fc.property(fc.boolean(), fc.uint8Array({ maxLength: 2048 }), (withHeader, tail) => {
          const bytes = withHeader ? Uint8Array.from([...header, ...tail]) : tail;
          expect(attempt(target, bytes)).toBe(false);
        }),
        { numRuns: runs(1500), seed: SEED },
      );
    },
    TIMEOUT,
  );

  it(
    'mutated snapshots: only SnapshotError and nothing changed, or a sane device',
    () => {
      let accepted = 0;
      fc.assert(
        fc.property(
          fc.nat({ max: snapshots.length - 1 }),
          fc.array(mutationArb(MEM), { minLength: 1, maxLength: 4 }),
          (k, ms) => {
            if (attempt(target, mutate(snapshots[k], ms))) accepted++;
          },
        ),
        { numRuns: runs(2500), seed: SEED },
      );
      // Some mutations hit counters and samples, which any value may hold.
      expect(accepted).toBeGreaterThan(0);
    },
    TIMEOUT,
  );
});

/** Driver snapshots: idle, playing, draining, capturing. */
async function driverCorpus(): Promise<Uint8Array[]> {
  const p = await InProcess.create();
  const out = [p.driver.saveState()];
  const play = await p.prepared(0);
  await play.writei(new Int16Array(2 * 900));
  out.push(p.driver.saveState());
  await play.start();
  await p.ticks(3);
  out.push(p.driver.saveState());
  const rec = await p.prepared(1, { channels: 1 });
  await rec.start();
  void play.drain();
  await p.ticks(2);
  out.push(p.driver.saveState());
  return out;
}

describe('driver restore with hostile snapshots', () => {
  it(
    'mutated driver snapshots: only SnapshotError and nothing changed',
    async () => {
      const snapshots = await driverCorpus();
      const target = new InProcess();
      for (const s of snapshots) target.driver.restoreState(s);
      fc.assert(
        fc.property(
          fc.nat({ max: snapshots.length - 1 }),
          fc.array(mutationArb(MEM), { minLength: 1, maxLength: 3 }),
          (k, ms) => {
            const before = target.driver.saveState();
            try {
              target.driver.restoreState(mutate(snapshots[k], ms));
            } catch (e) {
              if (!(e instanceof SnapshotError)) throw e;
              expect(same(target.driver.saveState(), before)).toBe(true);
              return;
            }
            // Accepted (a counter, a pointer): it saves again, and that restores.
            target.driver.restoreState(target.driver.saveState());
          },
        ),
        { numRuns: runs(1500), seed: SEED },
      );
    },
    TIMEOUT,
  );
});
