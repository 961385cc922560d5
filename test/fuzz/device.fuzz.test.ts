/**
 * Fuzzing the device as a hostile guest would (fast-check). FUZZ_RUNS scales
 * the number of cases (npm run fuzz -- --runs N); the defaults keep CI under
 * a few minutes.
 *
 * Invariants after every step (the Oracle): no exception escapes any device
 * entry point, the device writes only used rings and writable buffers it was
 * given, every used entry names a chain it took, once, within its writable
 * size; process() always returns true with finite samples and no internal
 * fault. With a well-formed stream alongside message-level garbage, that
 * stream plays bit-exact. After anything, a reset brings back a working device.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StreamConfig } from '../../src/device/control/config.ts';
import * as P from '../../src/snd/protocol.ts';
import { MMIO } from '../../src/virtio/mmio.ts';
import { type Action, actionArb, FuzzGuest } from './guest.ts';

const SCALE = Number(process.env.FUZZ_RUNS ?? 0);
const runs = (ci: number) => (SCALE > 0 ? SCALE : ci);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
/** CI-sized runs get minutes; a deep run (FUZZ_RUNS) as long as it takes. */
const TIMEOUT = SCALE > 0 ? 7 * 24 * 3600_000 : 300_000;

/** Plays one period on stream 0 after a fresh init and checks it comes out exactly. */
function checkWorking(g: FuzzGuest): void {
  g.init(true, false, false);
  expect(g.needsReset).toBe(false);
  const pcm = new Int16Array(256 * 2).map((_, i) => (i * 97) % 20000);
  g.apply({
    k: 'params',
    stream: 0,
    buffer: 4096,
    period: 1024,
    features: 0,
    channels: 2,
    format: P.VIRTIO_SND_PCM_FMT_S16,
    rate: 7,
  });
  g.apply({ k: 'cmd', code: P.VIRTIO_SND_R_PCM_PREPARE, stream: 0 });
  const data = g.buf(1024);
  g.mem.write(data, new Uint8Array(pcm.buffer));
  const hdr = g.buf(4);
  g.mem.writeU32(hdr, 0);
  const status = g.buf(8);
  g.chain(2, [
    { addr: hdr, len: 4, write: false },
    { addr: data, len: 1024, write: false },
    { addr: status, len: 8, write: true },
  ]);
  g.apply({ k: 'cmd', code: P.VIRTIO_SND_R_PCM_START, stream: 0 });
  expect(g.device.streamState(0)).toBe('running');
  const out = [[new Float32Array(128), new Float32Array(128)]];
  g.renderer.process([[]], out);
  // One expect per block, not per sample: expect() was most of a case's cost.
  const bad = out[0][0].findIndex((x, f) => x !== pcm[2 * f] / 32768);
  expect(bad, `first wrong sample ${out[0][0][bad]}`).toBe(-1);
}

/** One guest per stream configuration, recycled between cases. */
const guests = new Map<string, FuzzGuest>();
function guest(streams?: StreamConfig[]): FuzzGuest {
  const key = JSON.stringify(streams ?? null);
  let g = guests.get(key);
  if (!g) {
    g = new FuzzGuest(streams);
    guests.set(key, g);
  }
  return g.recycle();
}

function runChaos(actions: Action[]): void {
  const g = guest();
  g.init(true, false, true);
  for (const a of actions) g.apply(a);
  g.process(2);
  expect(g.nonFinite).toBe(0);
  expect(g.faults).toBe(0);
  // Whatever happened, a reset and a proper init give a working device.
  checkWorking(g);
}

describe('device under a hostile guest', () => {
  it(
    'survives arbitrary rings, registers, requests and messages',
    () => {
      fc.assert(
        fc.property(
          fc.array(actionArb({ ring: true, mmio: true }), { minLength: 1, maxLength: 12 }),
          (actions) => {
            runChaos(actions);
          },
        ),
        { numRuns: runs(6000), seed: SEED },
      );
    },
    TIMEOUT,
  );

  it(
    'keeps a well-formed stream bit-exact through message-level garbage',
    () => {
      fc.assert(
        fc.property(
          fc.array(actionArb({ ring: false, mmio: false }), { minLength: 1, maxLength: 16 }),
          (garbage) => {
            // Fewer rates than the default keeps the per-case device small (and fast to build).
            const rates = [16000, 44100, 48000];
            const g = guest([
              { direction: 'output', rates },
              { direction: 'input', rates },
            ]);
            g.init(true, false, false);
            const P16 = 256;
            g.apply({
              k: 'params',
              stream: 0,
              buffer: P16 * 4 * 8,
              period: P16 * 4,
              features: 16,
              channels: 2,
              format: P.VIRTIO_SND_PCM_FMT_S16,
              rate: 7,
            });
            g.apply({ k: 'cmd', code: P.VIRTIO_SND_R_PCM_PREPARE, stream: 0 });
            let written = 0;
            const sample = (i: number) => ((i * 2654435761) >>> 16) - 32768;
            const feed = () => {
              const st = g.device.stats().streams[0];
              while (written / P16 - st.completed < 4) {
                const pcm = new Int16Array(P16 * 2).map((_, i) => sample(written * 2 + i));
                const data = g.buf(P16 * 4);
                g.mem.write(data, new Uint8Array(pcm.buffer));
                const hdr = g.buf(4);
                g.mem.writeU32(hdr, 0);
                g.chain(2, [
                  { addr: hdr, len: 4, write: false },
                  { addr: data, len: P16 * 4, write: false },
                  { addr: g.buf(8), len: 8, write: true },
                ]);
                written += P16;
              }
            };
            feed();
            g.apply({ k: 'cmd', code: P.VIRTIO_SND_R_PCM_START, stream: 0 });
            let played = 0;
            const out = [[new Float32Array(128), new Float32Array(128)]];
            const tick = () => {
              feed();
              g.oracle.step('process', () =>
                g.renderer.process([[new Float32Array(128), new Float32Array(128)]], out),
              );
              g.oracle.step('service', () => g.device.service());
              // One expect per block, not per sample: expect() was most of a case's cost.
              let bad = -1;
              for (let f = 0; f < 128 && bad < 0; f++) {
                if (out[0][0][f] !== sample(2 * (played + f)) / 32768) bad = f;
                if (out[0][1][f] !== sample(2 * (played + f) + 1) / 32768) bad = f;
              }
              expect(bad, `first wrong frame ${played + bad}`).toBe(-1);
              played += 128;
            };
            for (const a of garbage) {
              g.apply(sparing(a));
              tick();
            }
            expect(g.needsReset).toBe(false);
            expect(g.device.stats().streams[0].xruns).toBe(0);
            expect(g.faults).toBe(0);
          },
        ),
        { numRuns: runs(2500), seed: SEED },
      );
    },
    TIMEOUT,
  );
});

/**
 * Message-level garbage that leaves stream 0 alone: commands, parameters and
 * I/O for it go to stream 1 instead, volume stays put, no re-init.
 */
function sparing(a: Action): Action {
  switch (a.k) {
    case 'params':
    case 'cmd':
      return a.stream === 0 ? { ...a, stream: 1 } : a;
    case 'io':
      return a.stream === 0 ? { ...a, stream: 1 } : a;
    case 'ctl': {
      const v = new DataView(a.bytes.buffer, a.bytes.byteOffset, a.bytes.byteLength);
      if (
        a.bytes.length >= 8 &&
        v.getUint32(0, true) >= 0x101 &&
        v.getUint32(0, true) <= 0x105 &&
        v.getUint32(4, true) === 0
      ) {
        const b = a.bytes.slice();
        new DataView(b.buffer).setUint32(4, 1, true);
        return { ...a, bytes: b };
      }
      return a;
    }
    case 'volume':
    case 'init':
    case 'process':
      return { k: 'notify', q: 0 };
    default:
      return a;
  }
}

describe('named regressions from shrunk counterexamples', () => {
  it('a DRIVER_OK with a queue whose rings leave memory sets NEEDS_RESET', () => {
    const g = new FuzzGuest();
    g.apply({ k: 'reset' });
    g.apply({ k: 'mmio', off: MMIO.Status, val: 1 });
    g.apply({ k: 'mmio', off: MMIO.Status, val: 3 });
    g.apply({ k: 'mmio', off: MMIO.DriverFeaturesSel, val: 1 });
    g.apply({ k: 'mmio', off: MMIO.DriverFeatures, val: 1 });
    g.apply({ k: 'mmio', off: MMIO.Status, val: 11 });
    g.apply({ k: 'mmio', off: MMIO.QueueNum, val: 16 });
    g.apply({ k: 'mmio', off: MMIO.QueueDescLow, val: 0xfffffff0 });
    g.apply({ k: 'mmio', off: MMIO.QueueReady, val: 1 });
    g.apply({ k: 'mmio', off: MMIO.Status, val: 15 });
    expect(g.needsReset).toBe(true);
    checkWorking(g);
  });
});
