/**
 * A hostile guest: malformed I/O messages get BAD_MSG (used length 8) or are
 * handed back unused (length 0) while a well-formed stream keeps playing
 * bit-exact; a broken ring (avail.idx jumping ahead, a head made available
 * twice, loops, bad heads, indirect tables not negotiated) sets
 * DEVICE_NEEDS_RESET with a configuration interrupt, and a reset (Status = 0)
 * and re-init bring the device back. The renderer never throws, whatever is
 * in guest memory.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as P from '../../src/snd/protocol.ts';
import {
  VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
} from '../../src/virtio/features.ts';
import { MMIO } from '../../src/virtio/mmio.ts';
import { AVAIL_IDX, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_WRITE } from '../../src/virtio/ring.ts';
import { publishRaw, writeDesc } from '../helpers/queue-pair.ts';
import { type ChainPart, QUANTUM, SndGuest } from '../helpers/snd-guest.ts';

const OK = P.VIRTIO_SND_S_OK;
const BAD = P.VIRTIO_SND_S_BAD_MSG;
const NEEDS_RESET = VIRTIO_STATUS_DEVICE_NEEDS_RESET;

/** Stream 0 (output) plays, stream 1 (input) and stream 2 (output) are prepared. */
const STREAMS = [
  { direction: 'output' as const },
  { direction: 'input' as const },
  { direction: 'output' as const },
];

function hostileGuest(opts: { indirect?: boolean } = {}) {
  return new SndGuest({ streams: STREAMS }, 8 << 20).init(opts);
}

const S16_STEREO = {
  bufferBytes: 4096,
  periodBytes: 1024,
  channels: 2,
  format: P.VIRTIO_SND_PCM_FMT_S16,
  rateHz: 48000,
};

/**
 * Stream 0 plays a known S16 pattern (`quanta` quanta of it); streams 1 and 2
 * are prepared. Returns a checker that renders the next quantum and checks it.
 */
function withGoodStream(g: SndGuest, quanta = 16) {
  for (const id of [0, 1, 2]) {
    expect(g.setParams({ streamId: id, ...S16_STEREO })).toBe(OK);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, id)).toBe(OK);
  }
  const frames = QUANTUM * quanta;
  const pcm = new Int16Array(frames * 2);
  for (let i = 0; i < pcm.length; i++) pcm[i] = ((i * 37) % 30000) - 15000;
  for (let off = 0; off < frames; off += 256) g.tx(0, new Uint8Array(pcm.buffer, off * 4, 1024));
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
  let played = 0;
  return () => {
    const [l, r] = g.quantum();
    for (let f = 0; f < QUANTUM; f++) {
      if (l[f] !== pcm[2 * (played + f)] / 32768 || r[f] !== pcm[2 * (played + f) + 1] / 32768) {
        throw new Error(`good stream: frame ${played + f} is ${l[f]}, ${r[f]}`);
      }
    }
    played += QUANTUM;
  };
}

const sid = (id: number) => new Uint8Array(new Uint32Array([id]).buffer);
const needsReset = (g: SndGuest) => (g.transport.deviceStatus & NEEDS_RESET) !== 0;

/** The head of the chain published `back` chains ago on queue `q` (1 = the latest). */
function headOf(g: SndGuest, q: number, back: number): number {
  const layout = g.queues[q].layout;
  const idx = g.mem.readU16(layout.availAddr + AVAIL_IDX);
  return g.mem.readU16(layout.availAddr + 4 + 2 * ((idx - back) & (layout.size - 1)));
}

/** Address of descriptor `i` of queue `q`, and its `next`. */
const descAddr = (g: SndGuest, q: number, i: number) => g.queues[q].layout.descAddr + 16 * i;
const nextOf = (g: SndGuest, q: number, i: number) => g.mem.readU16(descAddr(g, q, i) + 14);

describe('malformed I/O messages', () => {
  const cases: [string, number, ChainPart[], number, number][] = [
    // name, queue, chain, expected used length, expected status (-1: none written)
    [
      'TX with a writable payload',
      2,
      [
        { len: 4, write: false, data: sid(0) },
        { len: 512, write: true },
        { len: 8, write: true },
      ],
      8,
      BAD,
    ],
    ...[2 + 1, 7, 64, 0x7fffffff, 0x80000000, 0xffffffff].map(
      (id): [string, number, ChainPart[], number, number] => [
        `TX for stream id ${id} (out of range)`,
        2,
        [
          { len: 4, write: false, data: sid(id) },
          { len: 512, write: false },
          { len: 8, write: true },
        ],
        8,
        BAD,
      ],
    ),
    [
      'TX for the input stream',
      2,
      [
        { len: 4, write: false, data: sid(1) },
        { len: 512, write: false },
        { len: 8, write: true },
      ],
      8,
      BAD,
    ],
    [
      'TX not a whole number of frames',
      2,
      [
        { len: 4, write: false, data: sid(0) },
        { len: 511, write: false },
        { len: 8, write: true },
      ],
      8,
      BAD,
    ],
    [
      'TX without payload',
      2,
      [
        { len: 4, write: false, data: sid(0) },
        { len: 8, write: true },
      ],
      8,
      BAD,
    ],
    [
      'TX with a short header',
      2,
      [
        { len: 3, write: false, data: sid(0) },
        { len: 8, write: true },
      ],
      8,
      BAD,
    ],
    [
      'TX with a status larger than 8 bytes',
      2,
      [
        { len: 4, write: false, data: sid(0) },
        { len: 512, write: false },
        { len: 16, write: true },
      ],
      8,
      BAD,
    ],
    [
      'TX without a status (no writable part)',
      2,
      [
        { len: 4, write: false, data: sid(0) },
        { len: 512, write: false },
      ],
      0,
      -1,
    ],
    [
      'TX with a 7-byte status',
      2,
      [
        { len: 4, write: false, data: sid(0) },
        { len: 512, write: false },
        { len: 7, write: true },
      ],
      0,
      -1,
    ],
    [
      'TX with a status split over three descriptors',
      2,
      [
        { len: 4, write: false, data: sid(0) },
        { len: 512, write: false },
        { len: 3, write: true },
        { len: 3, write: true },
        { len: 2, write: true },
      ],
      0,
      -1,
    ],
    [
      'RX with a readable payload',
      3,
      [
        { len: 4, write: false, data: sid(1) },
        { len: 512, write: false },
        { len: 520, write: true },
      ],
      8,
      BAD,
    ],
    [
      'RX for an output stream',
      3,
      [
        { len: 4, write: false, data: sid(0) },
        { len: 520, write: true },
      ],
      8,
      BAD,
    ],
    [
      'RX for stream id 0xffffffff',
      3,
      [
        { len: 4, write: false, data: sid(0xffffffff) },
        { len: 520, write: true },
      ],
      8,
      BAD,
    ],
    [
      'RX with room for the status only',
      3,
      [
        { len: 4, write: false, data: sid(1) },
        { len: 8, write: true },
      ],
      8,
      BAD,
    ],
    [
      'RX not a whole number of frames',
      3,
      [
        { len: 4, write: false, data: sid(1) },
        { len: 510, write: true },
        { len: 8, write: true },
      ],
      8,
      BAD,
    ],
    [
      'RX without a status (4 writable bytes)',
      3,
      [
        { len: 4, write: false, data: sid(1) },
        { len: 4, write: true },
      ],
      0,
      -1,
    ],
    [
      'RX without a writable part',
      3,
      [
        { len: 4, write: false, data: sid(1) },
        { len: 512, write: false },
      ],
      0,
      -1,
    ],
    [
      'RX with an 8-byte header',
      3,
      [
        { len: 8, write: false, data: new Uint8Array(8).fill(0).map((_, i) => (i === 0 ? 1 : 0)) },
        { len: 520, write: true },
      ],
      8,
      BAD,
    ],
  ];
  for (const [name, q, parts, usedLen, status] of cases) {
    it(`${name}: used length ${usedLen}${status >= 0 ? ', BAD_MSG' : ''}; the good stream plays on`, () => {
      const g = hostileGuest();
      const check = withGoodStream(g);
      check();
      const c = g.chain(q, parts);
      check();
      expect(g.used[q].get(c.token)).toBe(usedLen);
      if (status >= 0) {
        // The status goes in the last 8 writable bytes; latency_bytes 0.
        const last = c.addrs[c.addrs.length - 1];
        const len = parts[parts.length - 1].len;
        expect(g.mem.readU32(last + len - 8)).toBe(status);
        expect(g.mem.readU32(last + len - 4)).toBe(0);
      }
      check();
      check();
      expect(needsReset(g)).toBe(false);
      expect(g.device.stats().badMessages).toBe(1);
    });
  }

  it('a status split across two descriptors is written across both (TX and RX)', () => {
    const g = hostileGuest();
    withGoodStream(g, 4);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
    const tx = g.chain(2, [
      { len: 4, write: false, data: sid(0) },
      { len: 3, write: true },
      { len: 5, write: true },
    ]);
    expect(g.used[2].has(tx.token)).toBe(false);
    const rx = g.chain(3, [
      { len: 4, write: false, data: sid(1) },
      { len: 514, write: true, odd: true }, // 512 bytes of PCM + 2 bytes of the status
      { len: 6, write: true, odd: true },
    ]);
    const input = new Float32Array(QUANTUM).fill(0.5);
    g.quantum([input, input]);
    // The TX message has no payload -> BAD_MSG, written over both pieces.
    expect(g.used[2].get(tx.token)).toBe(8);
    const txStatus = [...g.mem.read(tx.addrs[1], 3), ...g.mem.read(tx.addrs[2], 5)];
    expect(txStatus).toEqual([0x01, 0x80, 0, 0, 0, 0, 0, 0]);
    // The RX message captured 128 frames = 512 bytes.
    expect(g.used[3].get(rx.token)).toBe(520);
    const rxStatus = [...g.mem.read(rx.addrs[1] + 512, 2), ...g.mem.read(rx.addrs[2], 6)];
    expect(rxStatus).toEqual([0x00, 0x80, 0, 0, 0, 0, 0, 0]);
    expect(new Int16Array(g.mem.read(rx.addrs[1], 4).slice().buffer)[0]).toBe(16384);
  });

  it('a valid TX message split oddly (header over two descriptors, status over two) plays', () => {
    const g = hostileGuest();
    for (const id of [0, 1, 2]) {
      expect(g.setParams({ streamId: id, ...S16_STEREO })).toBe(OK);
      expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, id)).toBe(OK);
    }
    const pcm = Int16Array.from({ length: 256 }, (_, i) => i * 99 - 12000);
    const bytes = new Uint8Array(pcm.buffer);
    const c = g.chain(2, [
      { len: 2, write: false, data: sid(0).subarray(0, 2), odd: true },
      { len: 3, write: false, data: Uint8Array.of(0, 0, bytes[0]), odd: true },
      { len: 511, write: false, data: bytes.subarray(1), odd: true },
      { len: 5, write: true, odd: true },
      { len: 3, write: true, odd: true },
    ]);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    const [l, r] = g.quantum();
    for (let f = 0; f < QUANTUM; f++) {
      expect(l[f]).toBe(pcm[2 * f] / 32768);
      expect(r[f]).toBe(pcm[2 * f + 1] / 32768);
    }
    expect(g.used[2].get(c.token)).toBe(8);
    expect([...g.mem.read(c.addrs[3], 5), ...g.mem.read(c.addrs[4], 3)]).toEqual([
      0x00, 0x80, 0, 0, 0, 0, 0, 0,
    ]);
  });

  for (const [name, corrupt] of [
    ['a zero-length payload descriptor', (g: SndGuest, d: number) => g.mem.writeU32(d + 8, 0)],
    [
      'a payload descriptor beyond guest memory',
      (g: SndGuest, d: number) => g.mem.writeU64(d, BigInt(g.mem.size - 4)),
    ],
    [
      'a payload descriptor above 4 GiB',
      (g: SndGuest, d: number) => g.mem.writeU64(d, 0x1_0000_0000n),
    ],
    [
      'a payload address that wraps 2^64',
      (g: SndGuest, d: number) => g.mem.writeU64(d, 0xffff_ffff_ffff_fff0n),
    ],
    [
      'a readable descriptor after a writable one',
      (g: SndGuest, d: number) =>
        g.mem.writeU16(d + 12, g.mem.readU16(d + 12) | VIRTQ_DESC_F_WRITE),
    ],
  ] as const) {
    for (const q of [2, 3]) {
      it(`${q === 2 ? 'TX' : 'RX'} with ${name}: handed back with used length 0; the good stream plays on`, () => {
        const g = hostileGuest();
        const check = withGoodStream(g);
        check();
        // A well-formed message, corrupted in place before the device looks at it. For RX the
        // "payload" is made of two descriptors so the corrupted one can be readable-after-writable.
        const parts: ChainPart[] =
          q === 2
            ? [
                { len: 4, write: false, data: sid(2) },
                { len: 512, write: false },
                { len: 8, write: true },
              ]
            : [
                { len: 4, write: false, data: sid(1) },
                { len: 256, write: true },
                { len: 264, write: true },
              ];
        const c = g.chain(q, parts);
        const head = headOf(g, q, 1);
        const target = q === 2 ? nextOf(g, q, head) : nextOf(g, q, nextOf(g, q, head));
        if (name.startsWith('a readable') && q === 2) {
          // TX: make the payload writable and the status readable instead.
          const st = nextOf(g, q, target);
          g.mem.writeU16(descAddr(g, q, target) + 12, 1 | VIRTQ_DESC_F_WRITE);
          g.mem.writeU16(descAddr(g, q, st) + 12, 0);
        } else if (name.startsWith('a readable')) {
          g.mem.writeU16(descAddr(g, q, target) + 12, 0); // RX: last piece readable again
        } else {
          corrupt(g, descAddr(g, q, target));
        }
        check();
        expect(g.used[q].get(c.token)).toBe(0);
        expect(g.device.stats().badMessages).toBe(1);
        expect(needsReset(g)).toBe(false);
        check();
      });
    }
  }

  it('random chains of any shape on TX and RX never disturb the good stream (property)', () => {
    const part = fc.record({
      len: fc.integer({ min: 1, max: 600 }),
      write: fc.boolean(),
      odd: fc.boolean(),
    });
    const msg = fc.record({
      q: fc.constantFrom(2, 3),
      // Never stream 0: the good stream must stay the only one playing.
      id: fc.oneof(
        fc.constantFrom(1, 2, 3, 7, 0x80000000, 0xffffffff),
        fc.integer({ min: 1, max: 0xffffffff }),
      ),
      header: fc.integer({ min: 1, max: 12 }),
      parts: fc.array(part, { minLength: 0, maxLength: 5 }),
    });
    fc.assert(
      fc.property(fc.array(msg, { minLength: 1, maxLength: 10 }), (msgs) => {
        const g = hostileGuest();
        const check = withGoodStream(g);
        check();
        const chains = msgs.map((m) => {
          const hdr = new Uint8Array(m.header);
          hdr.set(sid(m.id).subarray(0, Math.min(4, m.header)));
          // Readable parts first (the rest of the layout is the point of other tests).
          const parts: ChainPart[] = [
            { len: m.header, write: false, data: hdr },
            ...m.parts.filter((p) => !p.write),
            ...m.parts.filter((p) => p.write),
          ];
          return { q: m.q, ...g.chain(m.q, parts) };
        });
        for (let i = 0; i < 4; i++) check();
        expect(needsReset(g)).toBe(false);
        // Each chain: handed back (0), refused (8, BAD_MSG) or queued on stream 1 or 2 (which
        // are not running) until RELEASE returns it with OK.
        const pending = chains.filter((c) => !g.used[c.q].has(c.token));
        for (const c of chains) {
          const len = g.used[c.q].get(c.token);
          if (len === undefined) continue;
          expect([0, 8]).toContain(len);
        }
        const queued = g.device.stats().streams;
        expect(queued[1].queuedMessages + queued[2].queuedMessages).toBe(pending.length);
        for (const id of [1, 2]) expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_RELEASE, id)).toBe(OK);
        for (const c of pending) expect(g.used[c.q].get(c.token)).toBe(8);
        check();
      }),
      { numRuns: 150 },
    );
  });
});

describe('broken rings: DEVICE_NEEDS_RESET, then reset and re-init work', () => {
  /** After a ring broke: Status has NEEDS_RESET and a config interrupt was raised; reset + re-init work. */
  function expectBrokenThenRecover(g: SndGuest) {
    expect(g.transport.read(MMIO.Status, 4) & NEEDS_RESET).toBe(NEEDS_RESET);
    expect(g.irqBits & VIRTIO_MMIO_INT_CONFIG).toBe(VIRTIO_MMIO_INT_CONFIG);
    // The driver resets the device by writing 0 to Status...
    g.transport.write(MMIO.Status, 0, 4);
    expect(g.transport.read(MMIO.Status, 4)).toBe(0);
    expect(g.device.streamState(0)).toBe('initial');
    // ...and starts over: a working device.
    g.init();
    expect(needsReset(g)).toBe(false);
    const check = withGoodStream(g, 4);
    for (let i = 0; i < 4; i++) check();
  }

  it('avail.idx jumping ahead of the queue size', () => {
    const g = hostileGuest();
    const check = withGoodStream(g);
    check();
    const layout = g.queues[2].layout;
    g.mem.storeU16(
      layout.availAddr + AVAIL_IDX,
      (g.mem.readU16(layout.availAddr + AVAIL_IDX) + 300) & 0xffff,
    );
    g.quantum();
    expectBrokenThenRecover(g);
  });

  it('a head made available twice while the device holds it', () => {
    const g = hostileGuest();
    const check = withGoodStream(g);
    const headInFlight = headOf(g, 2, 8); // the first of the 8 messages, queued in the renderer
    check();
    publishRaw(g.mem, g.queues[2].layout, headInFlight);
    g.quantum();
    expectBrokenThenRecover(g);
  });

  it('a head made available twice while held, its buffers now unusable: NEEDS_RESET, never a used entry', () => {
    // Regression: the in-flight check came after the buffer check, so the device handed the
    // head back (used length 0) while it still held it, and completed it again later.
    const g = hostileGuest();
    const check = withGoodStream(g);
    const first = headOf(g, 2, 8);
    check();
    const completedBefore = g.used[2].size;
    const payload = nextOf(g, 2, first);
    g.mem.writeU64(descAddr(g, 2, payload), BigInt(g.mem.size - 4)); // now outside memory
    publishRaw(g.mem, g.queues[2].layout, first);
    g.quantum();
    expect(needsReset(g)).toBe(true);
    // The only used entries are the messages that were played to the end.
    expect(g.used[2].size).toBe(completedBefore);
    expect([...g.used[2].values()].every((len) => len === 8)).toBe(true);
    expectBrokenThenRecover(g);
  });

  it('a descriptor loop on the TX queue', () => {
    const g = hostileGuest();
    const check = withGoodStream(g);
    check();
    const layout = g.queues[2].layout;
    const a = g.alloc.alloc(16, 4);
    writeDesc(g.mem, layout.descAddr, 250, a, 4, 1, 251);
    writeDesc(g.mem, layout.descAddr, 251, a, 4, 1, 250);
    publishRaw(g.mem, layout, 250);
    g.quantum();
    expectBrokenThenRecover(g);
  });

  it('a head index beyond the queue size on the RX queue', () => {
    const g = hostileGuest();
    withGoodStream(g);
    publishRaw(g.mem, g.queues[3].layout, 300);
    g.quantum();
    expectBrokenThenRecover(g);
  });

  it('an indirect descriptor when VIRTIO_F_INDIRECT_DESC was not negotiated', () => {
    const g = hostileGuest();
    withGoodStream(g);
    const layout = g.queues[2].layout;
    const table = g.alloc.alloc(48, 16);
    writeDesc(g.mem, layout.descAddr, 200, table, 48, VIRTQ_DESC_F_INDIRECT, 0);
    publishRaw(g.mem, layout, 200);
    g.quantum();
    expectBrokenThenRecover(g);
  });

  it('a control queue loop, and an event queue head beyond its size', () => {
    for (const q of [0, 1]) {
      const g = new SndGuest({ streams: STREAMS }, 8 << 20).init({ eventBuffers: 0 });
      const layout = g.queues[q].layout;
      if (q === 0) {
        writeDesc(g.mem, layout.descAddr, 60, 0x2000, 4, 1, 61);
        writeDesc(g.mem, layout.descAddr, 61, 0x2000, 4, 1, 60);
        publishRaw(g.mem, layout, 60);
      } else {
        publishRaw(g.mem, layout, 64);
        g.device.setJackConnected(0, false); // an event to deliver
      }
      g.mmio.notify(q);
      g.collect();
      expectBrokenThenRecover(g);
    }
  });
});

describe('indirect descriptors (negotiated)', () => {
  it('a TX message in an indirect table plays bit-exact', () => {
    const g = hostileGuest({ indirect: true });
    expect(g.setParams({ streamId: 0, ...S16_STEREO })).toBe(OK);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 0)).toBe(OK);
    const pcm = Int16Array.from({ length: 256 }, (_, i) => 7000 - i * 51);
    const hdr = g.alloc.alloc(4, 4);
    g.mem.write(hdr, sid(0));
    const data = g.alloc.alloc(512, 4);
    g.mem.write(data, new Uint8Array(pcm.buffer));
    const status = g.alloc.alloc(8, 8);
    const table = g.alloc.alloc(48, 16);
    writeDesc(g.mem, table, 0, hdr, 4, 1, 1);
    writeDesc(g.mem, table, 1, data, 512, 1, 2);
    writeDesc(g.mem, table, 2, status, 8, VIRTQ_DESC_F_WRITE, 0);
    const layout = g.queues[2].layout;
    writeDesc(g.mem, layout.descAddr, 100, table, 48, VIRTQ_DESC_F_INDIRECT, 0);
    publishRaw(g.mem, layout, 100);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    const out = [[new Float32Array(QUANTUM), new Float32Array(QUANTUM)]];
    g.renderer.process([[]], out);
    g.device.service();
    for (let f = 0; f < QUANTUM; f++) expect(out[0][0][f]).toBe(pcm[2 * f] / 32768);
    const usedAt = layout.usedAddr + 4;
    expect([g.mem.readU32(usedAt), g.mem.readU32(usedAt + 4)]).toEqual([100, 8]);
    expect(g.mem.readU32(status)).toBe(OK);
  });
});

describe('the renderer never throws', () => {
  /** A fast deterministic byte generator. */
  function fillRandom(buf: Uint8Array, seed: number) {
    let x = seed | 1;
    for (let i = 0; i < buf.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      buf[i] = x & 0xff;
    }
  }

  it('returns true with finite output on garbage guest memory, whatever the buffers given (property)', () => {
    const shapes: (() => [Float32Array[][], Float32Array[][]])[] = [
      () => [[[]], [[new Float32Array(QUANTUM), new Float32Array(QUANTUM)]]],
      () => [
        [[new Float32Array(QUANTUM).fill(0.3), new Float32Array(QUANTUM)]],
        [[new Float32Array(QUANTUM)]],
      ],
      () => [[], []],
      () => [[[new Float32Array(QUANTUM).fill(Number.NaN)]], [[]]],
      () => [
        [[]],
        [[new Float32Array(QUANTUM), new Float32Array(QUANTUM), new Float32Array(QUANTUM)]],
      ],
    ];
    fc.assert(
      fc.property(
        fc.integer(),
        fc.constantFrom(0x0, 0x20000, 0x80000),
        fc.integer({ min: 0, max: shapes.length - 1 }),
        fc.boolean(),
        (seed, from, shape, whole) => {
          const g = hostileGuest();
          withGoodStream(g);
          expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
          g.rx(1, 1024);
          g.quantum([new Float32Array(QUANTUM), new Float32Array(QUANTUM)]);
          // Scribble over the rings, descriptors, headers and PCM (or all of memory).
          const span = whole ? g.mem.size : 0x40000;
          const junk = new Uint8Array(Math.min(span, g.mem.size - (whole ? 0 : from)));
          fillRandom(junk, seed);
          g.mem.write(whole ? 0 : from, junk);
          for (let q = 0; q < 6; q++) {
            const [inputs, outputs] = shapes[shape]();
            expect(g.renderer.process(inputs, outputs)).toBe(true);
            g.device.service();
            for (const ch of outputs[0] ?? [])
              for (const v of ch) if (!Number.isFinite(v)) throw new Error(`${v}`);
          }
          expect(g.renderer.faults).toBe(0);
        },
      ),
      { numRuns: 80 },
    );
  });
});
