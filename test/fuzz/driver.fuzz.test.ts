/**
 * Fuzzing the driver against a hostile device (fast-check): random
 * configuration words, corrupted answers, corrupted used entries and garbage
 * events, while the driver probes, plays and captures.
 *
 * Invariants: every failure the application sees is a typed VirtioSndError;
 * nothing else escapes (vitest also fails on unhandled rejections); a card
 * the driver gave up on has its device reset; the driver never writes guest
 * memory outside the regions it allocated.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtioSndDevice } from '../../src/device/control/virtio-snd-device.ts';
import { PcmRenderer } from '../../src/device/render/pcm-renderer.ts';
import { VirtioSndDriver } from '../../src/driver/card.ts';
import { VirtioSndError } from '../../src/driver/errors.ts';
import * as P from '../../src/snd/protocol.ts';
import { GuestMemory } from '../../src/virtio/memory.ts';
import { VirtioMmioTransport } from '../../src/virtio/mmio.ts';
import { HostileDevice, type Lies } from '../helpers/hostile-device.ts';
import { settle } from '../helpers/in-process.ts';

const SCALE = Number(process.env.FUZZ_RUNS ?? 0);
const RUNS = SCALE > 0 ? SCALE : 12000;
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
/** CI-sized runs get minutes; a deep run (FUZZ_RUNS) as long as it takes. */
const TIMEOUT = SCALE > 0 ? 7 * 24 * 3600_000 : 600_000;

interface Plan {
  config: Partial<Record<0 | 1 | 2 | 3, number>>;
  /** Per control request (by index): byte flips in the response, and a used length override. */
  responses: { flips: [number, number][]; len?: number }[];
  /** Per used entry on TX/RX (by index): replacement id/len, or nothing. */
  used: { id?: number; len?: number }[];
  events: [number, number][];
  format: number;
  periodFrames: number;
}

// Lies are sparse, so many cases get past probe and exercise playback and capture.
const sometimes = <T>(a: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: a });
const planArb: fc.Arbitrary<Plan> = fc.record({
  config: fc
    .record({
      0: sometimes(fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constant(100000))),
      1: sometimes(fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constant(0xffffffff))),
      2: sometimes(fc.integer({ min: 0, max: 9 })),
      3: sometimes(fc.integer({ min: 0, max: 6 })),
    })
    .map((c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined))),
  responses: fc.array(
    fc.oneof(
      { weight: 12, arbitrary: fc.constant({ flips: [] as [number, number][] }) },
      {
        weight: 1,
        arbitrary: fc.record(
          {
            flips: fc.array(
              fc.tuple(fc.integer({ min: 0, max: 700 }), fc.integer({ min: 0, max: 255 })),
              { maxLength: 4 },
            ),
            len: fc.oneof(fc.integer({ min: 0, max: 600 }), fc.constant(0xffffffff)),
          },
          { requiredKeys: ['flips'] },
        ),
      },
    ),
    { maxLength: 12 },
  ),
  used: fc.array(
    fc.oneof(
      { weight: 6, arbitrary: fc.constant({}) },
      {
        weight: 1,
        arbitrary: fc.record(
          {
            id: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constant(0xffffffff)),
            len: fc.integer({ min: 0, max: 70000 }),
          },
          { requiredKeys: [] },
        ),
      },
    ),
    { maxLength: 30 },
  ),
  events: fc.array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom(0x1000, 0x1001, 0x1100, 0x1101, 0x1200),
        fc.integer({ min: 0, max: 0xffff }),
      ),
      fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 0xffffffff })),
    ),
    { maxLength: 6 },
  ),
  format: fc.constantFrom(
    P.VIRTIO_SND_PCM_FMT_S16,
    P.VIRTIO_SND_PCM_FMT_FLOAT,
    P.VIRTIO_SND_PCM_FMT_U8,
  ),
  periodFrames: fc.constantFrom(64, 128, 300),
});

/** Runs `p`, but gives up (without failing) after `ticks` quanta of audio. */
async function bounded<T>(
  p: Promise<T>,
  tick: () => Promise<void>,
  ticks: number,
): Promise<T | 'pending'> {
  let done = false;
  const r = p.finally(() => {
    done = true;
  });
  for (let i = 0; i < ticks && !done; i++) await tick();
  return done ? r : 'pending';
}

/** How far cases got, to keep the fuzzer honest about its coverage. */
const reached = { cases: 0, probed: 0, played: 0, captured: 0, gaveUp: 0 };

async function runPlan(plan: Plan): Promise<void> {
  reached.cases++;
  // 512 KiB: room for every ring and buffer a case makes; allocating (zeroing) 2 MiB was a tenth of a case.
  const memory = new SharedArrayBuffer(512 << 10);
  const mem = new GuestMemory(memory);
  const inner = new VirtioSndDevice({
    memory,
    sampleRate: 48000,
    autoService: false,
    tapFrames: 0,
  });
  const hostile = new HostileDevice(inner, mem);
  let req = 0;
  let used = 0;
  const lies: Lies = {
    config: plan.config,
    response: (n, resp) => {
      const r = plan.responses[n];
      req = n;
      if (!r) return undefined;
      for (const [at, v] of r.flips) if (at < resp.length) resp[at] ^= v;
      return r.len;
    },
    used: (q, id, len) => {
      if (q < 2) return [id, len];
      const u = plan.used[used++];
      return [u?.id ?? id, u?.len ?? len];
    },
  };
  hostile.lies = lies;
  let driver: VirtioSndDriver | null = null;
  const transport = new VirtioMmioTransport(hostile, { onInterrupt: (l) => driver?.interrupt(l) });
  driver = new VirtioSndDriver(transport, memory, { timeoutMs: 5 });
  const d = driver;
  const renderer = new PcmRenderer(inner.renderState);
  const tick = async () => {
    renderer.process(
      [[new Float32Array(128).fill(0.1), new Float32Array(128)]],
      [[new Float32Array(128), new Float32Array(128)]],
    );
    inner.service();
    await settle();
  };
  const typed = (e: unknown) => {
    if (!(e instanceof VirtioSndError))
      throw new Error(`untyped failure escaped the driver: ${(e as Error)?.stack ?? e}`);
  };
  const ok = await d.probe().then(
    () => true,
    (e: unknown) => {
      typed(e);
      return false;
    },
  );
  void req;
  // Garbage events straight from the device.
  const ev = inner as unknown as { events: { push(c: number, x: number): void } };
  for (const [c, x] of plan.events) ev.events.push(c, x);
  inner.service();
  await settle();
  if (ok) reached.probed++;
  if (ok && d.streams.length > 0) {
    const pcm = d.streams.find((s) => s.vss.direction === 'playback');
    if (pcm) {
      const fb = (P.PCM_FORMAT_INFO[plan.format].physBits / 8) * 2;
      const steps = async () => {
        await pcm.hwParams({
          format: plan.format,
          rate: 48000,
          channels: 2,
          periodFrames: plan.periodFrames,
          periods: 4,
        });
        await pcm.prepare();
        for (let i = 0; i < 6; i++) {
          await pcm.writei(new Uint8Array(plan.periodFrames * fb).fill(i + 1), { nonblock: true });
          await tick();
        }
        await pcm.drain();
      };
      const r = await bounded(steps().catch(typed), tick, 60);
      if (r !== 'pending' && !d.error) reached.played++;
    }
    const cap = d.streams.find((s) => s.vss.direction === 'capture');
    if (cap && !d.error) {
      const steps = async () => {
        await cap.hwParams({
          format: P.VIRTIO_SND_PCM_FMT_S16,
          rate: 48000,
          channels: 1,
          periodFrames: 128,
          periods: 4,
        });
        await cap.prepare();
        await cap.readi(new Int16Array(300));
        await cap.stop();
      };
      const r = await bounded(steps().catch(typed), tick, 30);
      if (r !== 'pending' && !d.error) reached.captured++;
    }
  }
  if (d.error) {
    reached.gaveUp++;
    expect(transport.deviceStatus).toBe(0);
  }
}

describe('driver under a hostile device', () => {
  it(
    'only typed errors, a reset when it gives up, nothing escapes',
    async () => {
      await fc.assert(fc.asyncProperty(planArb, runPlan), { numRuns: RUNS, seed: SEED });
      console.log(`driver fuzz: ${JSON.stringify(reached)}`);
      expect(reached.played).toBeGreaterThan(0);
      expect(reached.captured).toBeGreaterThan(0);
      expect(reached.gaveUp).toBeGreaterThan(0);
    },
    TIMEOUT,
  );
});
