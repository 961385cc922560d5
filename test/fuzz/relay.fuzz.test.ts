/**
 * Fuzzing the relay's TX hold-back (fast-check): arbitrary TX messages (good,
 * odd sizes, unknown streams), PCM commands, parameters, render quanta and
 * polls, with any lead and inner queue size (a small one backlogs messages
 * in the relay). Invariants: no exception; every guest message is
 * returned exactly once; a command leaves nothing held; the guest's rings
 * never need a reset. FUZZ_RUNS scales it (npm run fuzz -- --only relay).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as P from '../../src/snd/protocol.ts';
import { SndGuest } from '../helpers/snd-guest.ts';

const SCALE = Number(process.env.FUZZ_RUNS ?? 0);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const TIMEOUT = SCALE > 0 ? 7 * 24 * 3600_000 : 120_000;

type Op =
  | { k: 'tx'; stream: number; bytes: number }
  | { k: 'quanta'; n: number }
  | { k: 'cmd'; code: number; stream: number }
  | { k: 'params'; stream: number; periodFrames: number; periods: number }
  | { k: 'poll' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      k: fc.constant('tx' as const),
      stream: fc.constantFrom(0, 0, 0, 1, 2, 0x7fffffff),
      bytes: fc.oneof(fc.constantFrom(512, 1024, 4096), fc.integer({ min: 1, max: 5000 })),
    }),
    weight: 6,
  },
  {
    arbitrary: fc.record({ k: fc.constant('quanta' as const), n: fc.integer({ min: 1, max: 40 }) }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      k: fc.constant('cmd' as const),
      code: fc.constantFrom(
        P.VIRTIO_SND_R_PCM_PREPARE,
        P.VIRTIO_SND_R_PCM_START,
        P.VIRTIO_SND_R_PCM_STOP,
        P.VIRTIO_SND_R_PCM_RELEASE,
      ),
      stream: fc.constantFrom(0, 1),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      k: fc.constant('params' as const),
      stream: fc.constantFrom(0, 1),
      periodFrames: fc.constantFrom(64, 128, 256, 1024, 4096),
      periods: fc.integer({ min: 2, max: 8 }),
    }),
    weight: 1,
  },
  { arbitrary: fc.constant({ k: 'poll' as const }), weight: 1 },
);

describe('RelayDevice hold-back under arbitrary guest behaviour', () => {
  it(
    'returns every TX message exactly once, holds nothing after RELEASE, never throws',
    () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 300 }),
          fc.constantFrom(4, 8, 16, 256),
          fc.array(opArb, { minLength: 1, maxLength: 40 }),
          (txLeadMs, innerQueueSize, ops) => {
            // 1 MiB each (not the default 4 + 8 MiB): zeroing fresh memory was a third of a case.
            const g = new SndGuest(
              { relay: { txLeadMs, innerQueueSize, relayBytes: 1 << 20 } },
              1 << 20,
            ).init();
            const tokens: number[] = [];
            for (const op of ops) {
              switch (op.k) {
                case 'tx':
                  tokens.push(g.tx(op.stream, new Uint8Array(op.bytes)).token);
                  break;
                case 'quanta':
                  g.render(op.n);
                  break;
                case 'cmd':
                  g.pcmCommand(op.code, op.stream);
                  break;
                case 'params':
                  g.setParams({
                    streamId: op.stream,
                    bufferBytes: op.periodFrames * op.periods * 4,
                    periodBytes: op.periodFrames * 4,
                    channels: 2,
                    format: P.VIRTIO_SND_PCM_FMT_S16,
                    rateHz: 48000,
                  });
                  break;
                case 'poll':
                  g.relay!.poll();
                  break;
              }
              // Never a message returned twice: one used entry per token.
              expect(g.used[2].size).toBe(g.usedIdx(2));
            }
            for (const id of [0, 1]) {
              g.pcmCommand(P.VIRTIO_SND_R_PCM_STOP, id);
              g.pcmCommand(P.VIRTIO_SND_R_PCM_RELEASE, id);
            }
            // A command hands over what the relay held (RELEASE then returns it), no poll needed.
            expect(g.relay!.stats().heldMessages).toBe(0);
            // Messages the inner device refuses are refused by its audio thread, a full
            // inner queue's worth per quantum at most (the rest waits in the relay).
            for (let i = 0; i <= tokens.length && g.used[2].size < tokens.length; i++) g.render(1);
            for (const t of tokens) expect(g.used[2].has(t), `token ${t}`).toBe(true);
            expect(g.used[2].size).toBe(g.usedIdx(2));
            expect(g.transport.deviceStatus & 64).toBe(0);
          },
        ),
        { numRuns: SCALE > 0 ? SCALE : 1000, seed: SEED },
      );
    },
    TIMEOUT,
  );
});
