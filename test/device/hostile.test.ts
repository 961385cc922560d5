/**
 * A hostile guest: malformed I/O messages get BAD_MSG (or are handed back
 * unused) while a well-formed stream keeps playing bit-exact; a broken ring
 * sets DEVICE_NEEDS_RESET with a configuration interrupt, and a reset brings
 * the device back.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as P from '../../src/snd/protocol.ts';
import {
  VIRTIO_MMIO_INT_CONFIG,
  VIRTIO_STATUS_DEVICE_NEEDS_RESET,
} from '../../src/virtio/features.ts';
import { AVAIL_IDX } from '../../src/virtio/ring.ts';
import { publishRaw, writeDesc } from '../helpers/queue-pair.ts';
import { QUANTUM, SndGuest } from '../helpers/snd-guest.ts';

const OK = P.VIRTIO_SND_S_OK;
const BAD = P.VIRTIO_SND_S_BAD_MSG;

/** Stream 0 plays a known ramp; returns a checker for the next quantum's output. */
function withGoodStream(g: SndGuest) {
  expect(
    g.setParams({
      streamId: 0,
      bufferBytes: 4096,
      periodBytes: 1024,
      channels: 2,
      format: P.VIRTIO_SND_PCM_FMT_S16,
      rateHz: 48000,
    }),
  ).toBe(OK);
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 0)).toBe(OK);
  expect(
    g.setParams({
      streamId: 1,
      bufferBytes: 4096,
      periodBytes: 1024,
      channels: 2,
      format: P.VIRTIO_SND_PCM_FMT_S16,
      rateHz: 48000,
    }),
  ).toBe(OK);
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 1)).toBe(OK);
  const frames = 128 * 16;
  const pcm = new Int16Array(frames * 2);
  for (let i = 0; i < pcm.length; i++) pcm[i] = (i * 37) % 30000;
  for (let off = 0; off < frames; off += 256) g.tx(0, new Uint8Array(pcm.buffer, off * 4, 1024));
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
  let played = 0;
  return () => {
    const [l, r] = g.quantum();
    for (let f = 0; f < QUANTUM; f++) {
      expect(l[f]).toBe(pcm[2 * (played + f)] / 32768);
      expect(r[f]).toBe(pcm[2 * (played + f) + 1] / 32768);
    }
    played += QUANTUM;
  };
}

function chain(
  g: SndGuest,
  q: number,
  parts: { len: number; write: boolean; data?: Uint8Array }[],
): { token: number; addrs: number[] } {
  const addrs = parts.map((p) => {
    const a = g.alloc.alloc(Math.max(p.len, 1), 4);
    if (p.data) g.mem.write(a, p.data);
    else g.mem.fill(a, p.len, 0xee);
    return a;
  });
  const readable = parts.findIndex((p) => p.write);
  const token = 100000 + Math.floor(Math.random() * 1e9);
  g.queues[q].add(
    parts.map((p, i) => ({ addr: addrs[i], len: p.len })),
    readable < 0 ? parts.length : readable,
    token,
  );
  return { token, addrs };
}

const sid = (id: number) => new Uint8Array(new Uint32Array([id]).buffer);

describe('malformed I/O messages', () => {
  const cases: [
    string,
    number,
    { len: number; write: boolean; data?: Uint8Array }[],
    number,
    number,
  ][] = [
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
    [
      'TX for a stream id out of range',
      2,
      [
        { len: 4, write: false, data: sid(7) },
        { len: 512, write: false },
        { len: 8, write: true },
      ],
      8,
      BAD,
    ],
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
      'TX without a status',
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
      'RX for the output stream',
      3,
      [
        { len: 4, write: false, data: sid(0) },
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
  ];
  for (const [name, q, parts, usedLen, status] of cases) {
    it(`${name}: used length ${usedLen}${status >= 0 ? ', BAD_MSG' : ''}; the good stream plays on`, () => {
      const g = new SndGuest().init();
      const check = withGoodStream(g);
      check();
      const c = chain(g, q, parts);
      check();
      expect(g.used[q].get(c.token)).toBe(usedLen);
      if (status >= 0) {
        const last = c.addrs[c.addrs.length - 1];
        const len = parts[parts.length - 1].len;
        expect(g.mem.readU32(last + len - 8)).toBe(status);
      }
      check();
      expect(g.transport.deviceStatus & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBe(0);
    });
  }

  it('writes a status split across two descriptors', () => {
    const g = new SndGuest().init();
    expect(
      g.setParams({
        streamId: 0,
        bufferBytes: 2048,
        periodBytes: 512,
        channels: 2,
        format: P.VIRTIO_SND_PCM_FMT_S16,
        rateHz: 48000,
      }),
    ).toBe(OK);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 0)).toBe(OK);
    const c = chain(g, 2, [
      { len: 4, write: false, data: sid(0) },
      { len: 512, write: false },
      { len: 3, write: true },
      { len: 5, write: true },
    ]);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    g.quantum();
    expect(g.used[2].get(c.token)).toBe(8);
    const bytes = [...g.mem.read(c.addrs[2], 3), ...g.mem.read(c.addrs[3], 5)];
    expect(new DataView(new Uint8Array(bytes).buffer).getUint32(0, true)).toBe(OK);
  });

  it('hands back unused a chain with a zero-length or out-of-memory buffer', () => {
    const g = new SndGuest().init();
    const check = withGoodStream(g);
    check();
    // Well-formed chains, then corrupted in place before the device looks at them.
    const layout = g.queues[2].layout;
    const a = chain(g, 2, [
      { len: 4, write: false, data: sid(0) },
      { len: 512, write: false },
      { len: 8, write: true },
    ]);
    const b = chain(g, 2, [
      { len: 4, write: false, data: sid(0) },
      { len: 512, write: false },
      { len: 8, write: true },
    ]);
    const slot = (k: number) =>
      g.mem.readU16(
        layout.availAddr + 4 + 2 * ((g.mem.readU16(layout.availAddr + AVAIL_IDX) - k) % 256),
      );
    const headB = slot(1);
    const headA = slot(2);
    const next = (h: number) => g.mem.readU16(layout.descAddr + 16 * h + 14);
    g.mem.writeU32(layout.descAddr + 16 * next(headA) + 8, 0); // zero-length payload
    g.mem.writeU64(layout.descAddr + 16 * next(headB), BigInt(g.mem.size - 4)); // payload beyond memory
    check();
    expect(g.used[2].get(a.token)).toBe(0);
    expect(g.used[2].get(b.token)).toBe(0);
    expect(g.device.stats().badMessages).toBe(2);
    expect(g.transport.deviceStatus & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBe(0);
    check();
  });
});

describe('broken rings', () => {
  it('avail.idx jumping ahead sets NEEDS_RESET with a config interrupt; reset and re-init work', () => {
    const g = new SndGuest().init();
    const check = withGoodStream(g);
    check();
    const layout = g.queues[2].layout;
    g.mem.storeU16(
      layout.availAddr + AVAIL_IDX,
      (g.mem.readU16(layout.availAddr + AVAIL_IDX) + 300) & 0xffff,
    );
    g.quantum();
    expect(g.transport.deviceStatus & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBeTruthy();
    expect(g.irqBits & VIRTIO_MMIO_INT_CONFIG).toBeTruthy();
    // The guest resets and starts over; the device works again.
    const g2 = g;
    g2.alloc.reset();
    g2.alloc.alloc(0x1000, 16);
    g2.init();
    expect(g2.transport.deviceStatus & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBe(0);
    const check2 = withGoodStream(g2);
    check2();
    check2();
  });

  it('a head made available twice while in flight breaks the ring', () => {
    const g = new SndGuest().init();
    withGoodStream(g);
    const layout = g.queues[2].layout;
    const headInFlight = g.mem.readU16(layout.availAddr + 4); // the first message's head
    g.quantum();
    publishRaw(g.mem, layout, headInFlight);
    g.quantum();
    expect(g.transport.deviceStatus & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBeTruthy();
  });

  it('a control queue loop sets NEEDS_RESET and leaves the other queues alone', () => {
    const g = new SndGuest().init();
    const layout = g.queues[0].layout;
    writeDesc(g.mem, layout.descAddr, 60, 0x2000, 4, 1, 61);
    writeDesc(g.mem, layout.descAddr, 61, 0x2000, 4, 1, 60);
    publishRaw(g.mem, layout, 60);
    g.mmio.notify(0);
    expect(g.transport.deviceStatus & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBeTruthy();
  });
});

describe('the renderer never throws', () => {
  it('returns true on garbage guest memory and stays silent', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 4096, maxLength: 4096 }),
        fc.integer({ min: 0, max: 255 }),
        (junk, seed) => {
          const g = new SndGuest().init();
          withGoodStream(g);
          // Scribble over the rings and the first pages of guest memory.
          for (let a = 0; a < 0x20000; a += 4096)
            g.mem.write(
              a,
              junk.map((b) => b ^ seed),
            );
          const out: Float32Array[][] = [[new Float32Array(QUANTUM), new Float32Array(QUANTUM)]];
          for (let q = 0; q < 4; q++) {
            expect(g.renderer.process([[]], out)).toBe(true);
            for (const ch of out[0]) for (const v of ch) expect(Number.isFinite(v)).toBe(true);
          }
          expect(g.renderer.faults).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });
});
