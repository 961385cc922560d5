/**
 * The control queue under a hostile guest (fast-check over
 * control-case.ts): any bytes read as a case, and two shapes random bytes
 * rarely reach: *_INFO queries whose item size fills many aliased response
 * buffers (issue 15 item 2), and floods of value-changing CTL_WRITEs with no
 * event buffers (item 4). Known defects are excused only as known-defects.ts says.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { ByteReader } from './bytes.ts';
import {
  CODES,
  type ControlCase,
  type ControlOp,
  controlCase,
  runControlCase,
} from './control-case.ts';
import { asCorpusEntry, runs, SEED, TIMEOUT } from './runs.ts';
import { LAYOUTS } from './shapes.ts';

const run = asCorpusEntry(controlCase, runControlCase);
const featuresArb = fc.record({
  ctls: fc.boolean(),
  eventIdx: fc.boolean(),
  indirect: fc.boolean(),
});
const INFO = [0x1, 0x100, 0x200, 0x300];

const infoQuery: fc.Arbitrary<ControlOp> = fc.record({
  k: fc.constant('req' as const),
  req: fc.record({
    code: fc.oneof(fc.constantFrom(...INFO), fc.constantFrom(...CODES)),
    body: fc.record({
      k: fc.constant('query' as const),
      start: fc.integer({ min: 0, max: 3 }),
      count: fc.integer({ min: 1, max: 7 }),
      size: fc.constantFrom(0, 24, 32, 96, 0x7fffffff, 0xffffffff),
      fit: fc.boolean(),
    }),
    split: fc.integer({ min: 1, max: 3 }),
    resp: fc.record({
      count: fc.integer({ min: 1, max: 63 }),
      len: fc.oneof(fc.constantFrom(4096, 0x7ff8), fc.integer({ min: 4, max: 0x7ff8 })),
      layout: fc.constantFrom(...LAYOUTS),
    }),
    indirect: fc.boolean(),
  }),
});

const flood: fc.Arbitrary<ControlOp> = fc.record({
  k: fc.constant('flood' as const),
  id: fc.integer({ min: 0, max: 3 }),
  a: fc.integer({ min: 0, max: 100 }),
  b: fc.integer({ min: 0, max: 100 }),
  n: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 4000, max: 6200 })),
});

const caseOf = (op: fc.Arbitrary<ControlOp>, maxOps: number, events: fc.Arbitrary<number>) =>
  fc.record<ControlCase>({
    features: featuresArb,
    eventBuffers: events,
    ops: fc.array(op, { minLength: 1, maxLength: maxOps }),
  });

describe('control queue under a hostile guest', () => {
  it(
    'any input bytes as a control case',
    () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 512, size: 'max' }), (b) => {
          runControlCase(controlCase(new ByteReader(b)));
        }),
        { numRuns: runs(1500), seed: SEED },
      );
    },
    TIMEOUT,
  );

  it(
    '*_INFO queries into many aliased or overlapping response buffers',
    () => {
      fc.assert(fc.property(caseOf(infoQuery, 3, fc.integer({ min: 0, max: 4 })), run), {
        numRuns: runs(800),
        seed: SEED,
      });
    },
    TIMEOUT,
  );

  it(
    'floods of value-changing CTL_WRITEs with few or no event buffers',
    () => {
      fc.assert(fc.property(caseOf(flood, 2, fc.constantFrom(0, 0, 1, 16)), run), {
        numRuns: runs(40, 100),
        seed: SEED,
      });
    },
    TIMEOUT,
  );
});
