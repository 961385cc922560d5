/**
 * The relay (src/embed) under a hostile guest with an ArrayBuffer RAM
 * (fast-check over relay-case.ts): any bytes read as a case, plus the
 * shapes random bytes rarely reach: a full relay heap (small relayBytes,
 * huge response buffers and messages; issue 15 item 1) and event floods
 * (1-frame periods with period events, no guest event buffers, many quanta;
 * item 3). Known defects are excused only as known-defects.ts says.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  VIRTIO_SND_PCM_FMT_S16,
  VIRTIO_SND_R_PCM_PREPARE,
  VIRTIO_SND_R_PCM_RELEASE,
  VIRTIO_SND_R_PCM_START,
} from '../../src/snd/protocol.ts';
import { ByteReader } from './bytes.ts';
import { CODES } from './control-case.ts';
import {
  RELAY_BYTES,
  type RelayCase,
  type RelayOp,
  relayCase,
  runRelayCase,
} from './relay-case.ts';
import { asCorpusEntry, runs, SEED, TIMEOUT } from './runs.ts';
import { LAYOUTS } from './shapes.ts';

const run = asCorpusEntry(relayCase, runRelayCase);
const featuresArb = fc.record({
  ctls: fc.boolean(),
  eventIdx: fc.boolean(),
  indirect: fc.boolean(),
});
const cmd = (code: number, stream = 0): RelayOp => ({ k: 'cmd', code, stream });
const quanta = fc.record({ k: fc.constant('quanta' as const), n: fc.integer({ min: 1, max: 64 }) });
const bigShape = fc.record({
  count: fc.integer({ min: 1, max: 62 }),
  len: fc.oneof(fc.constantFrom(0x8000, 0x10000, 0x17ff8), fc.integer({ min: 1, max: 0x17ff8 })),
  layout: fc.constantFrom(...LAYOUTS.slice(0, 3)),
});

const heapOps: fc.Arbitrary<RelayOp> = fc.oneof(
  fc.record({
    k: fc.constant('ctl' as const),
    req: fc.record({
      code: fc.constantFrom(...CODES),
      body: fc.record({ k: fc.constant('hdr' as const), id: fc.integer({ min: 0, max: 2 }) }),
      split: fc.constant(1),
      resp: bigShape,
      indirect: fc.constant(false),
    }),
  }),
  fc.record({
    k: fc.constant('io' as const),
    q: fc.constantFrom(2 as const, 3 as const),
    stream: fc.constantFrom(0, 1),
    payload: bigShape,
    status: fc.constantFrom(8, 8, 4, 1),
  }),
  quanta,
  fc.constant<RelayOp>({ k: 'notify', q: 2, n: 1 }),
);

const fullHeap = fc.record<RelayCase>({
  relayBytes: fc.constantFrom(...RELAY_BYTES),
  innerQueueSize: fc.constantFrom(4, 8, 16, 256),
  txLeadMs: fc.constantFrom(0, 20, 200),
  features: featuresArb,
  eventBuffers: fc.integer({ min: 0, max: 16 }),
  ops: fc.array(heapOps, { minLength: 1, maxLength: 8 }).map((ops): RelayOp[] => [
    {
      k: 'params',
      stream: 0,
      format: VIRTIO_SND_PCM_FMT_S16,
      channels: 2,
      periodFrames: 256,
      periods: 4,
      features: 0,
    },
    cmd(VIRTIO_SND_R_PCM_PREPARE),
    cmd(VIRTIO_SND_R_PCM_START),
    ...ops,
  ]),
});

/** 1-frame periods with period events, the guest posting no (or few) event buffers. */
const eventFlood = fc.record<RelayCase>({
  relayBytes: fc.constant(8 << 20),
  innerQueueSize: fc.constantFrom(16, 256),
  txLeadMs: fc.constantFrom(0, 200),
  features: featuresArb,
  eventBuffers: fc.constantFrom(0, 0, 1),
  ops: fc.integer({ min: 1, max: 12 }).map((n): RelayOp[] => [
    {
      k: 'params',
      stream: 0,
      format: VIRTIO_SND_PCM_FMT_S16,
      channels: 2,
      periodFrames: 1,
      periods: 8,
      features: 8,
    },
    cmd(VIRTIO_SND_R_PCM_PREPARE),
    // 8 messages of 16 x 4 KiB aliased: 131072 frames, a PERIOD_ELAPSED each.
    ...Array.from(
      { length: 8 },
      (): RelayOp => ({
        k: 'io',
        q: 2,
        stream: 0,
        payload: { count: 16, len: 4096, layout: 'aliased' },
        status: 8,
      }),
    ),
    cmd(VIRTIO_SND_R_PCM_START),
    ...Array.from({ length: n }, (): RelayOp => ({ k: 'quanta', n: 64 })),
  ]),
});

const params = (stream: number): RelayOp => ({
  k: 'params',
  stream,
  format: VIRTIO_SND_PCM_FMT_S16,
  channels: 2,
  periodFrames: 256,
  periods: 4,
  features: 0,
});

/** Messages (some with a short status) backlogged behind a small inner queue, then RELEASE. */
const releasedBacklog = fc.record<RelayCase>({
  relayBytes: fc.constant(1 << 20),
  innerQueueSize: fc.constantFrom(4, 8),
  txLeadMs: fc.constantFrom(0, 200),
  features: featuresArb,
  eventBuffers: fc.integer({ min: 0, max: 4 }),
  ops: fc
    .array(
      fc.record({
        k: fc.constant('io' as const),
        q: fc.constantFrom(2 as const, 3 as const),
        stream: fc.constantFrom(0, 1),
        payload: fc.record({
          count: fc.integer({ min: 1, max: 4 }),
          len: fc.constantFrom(256, 1024),
          layout: fc.constant('distinct' as const),
        }),
        status: fc.constantFrom(8, 8, 4, 1),
      }),
      { minLength: 1, maxLength: 12 },
    )
    .map((io): RelayOp[] => [
      params(0),
      params(1),
      cmd(VIRTIO_SND_R_PCM_PREPARE, 0),
      cmd(VIRTIO_SND_R_PCM_PREPARE, 1),
      ...io,
      { k: 'notify', q: 2, n: 1 },
      cmd(VIRTIO_SND_R_PCM_RELEASE, 0),
      cmd(VIRTIO_SND_R_PCM_RELEASE, 1),
    ]),
});

describe('relay under a hostile guest', () => {
  it(
    'any input bytes as a relay case',
    () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 512, size: 'max' }), (b) => {
          runRelayCase(relayCase(new ByteReader(b)));
        }),
        { numRuns: runs(400), seed: SEED },
      );
    },
    TIMEOUT,
  );

  it(
    'full relay heaps: huge response buffers and messages',
    () => {
      fc.assert(fc.property(fullHeap, run), { numRuns: runs(200), seed: SEED });
    },
    TIMEOUT,
  );

  it(
    'messages backlogged behind the inner queue, with short statuses, then RELEASE',
    () => {
      fc.assert(fc.property(releasedBacklog, run), { numRuns: runs(300), seed: SEED });
    },
    TIMEOUT,
  );

  it(
    'event floods with no guest event buffers',
    () => {
      fc.assert(fc.property(eventFlood, run), { numRuns: runs(20, 100), seed: SEED });
    },
    TIMEOUT,
  );
});
