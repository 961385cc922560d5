import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChainError, VirtqueueError } from '../../src/virtio/chain.ts';
import { POP_EMPTY } from '../../src/virtio/device-queue.ts';
import type { Segment } from '../../src/virtio/driver-queue.ts';
import {
  AVAIL_FLAGS,
  AVAIL_IDX,
  availEventAddr,
  USED_FLAGS,
  USED_IDX,
  USED_RING,
  usedEventAddr,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_USED_F_NO_NOTIFY,
} from '../../src/virtio/ring.ts';
import { publishRaw, queuePair, writeDesc } from '../helpers/queue-pair.ts';

const chainShape = fc.record({
  lens: fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 6 }),
  readableFrac: fc.double({ min: 0, max: 1, noNaN: true }),
  usedFrac: fc.double({ min: 0, max: 1, noNaN: true }),
});

describe('split virtqueue: driver -> device -> driver', () => {
  it('round-trips chains of every shape, data and lengths intact', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(chainShape, { minLength: 1, maxLength: 5 }), { maxLength: 8 }),
        fc.boolean(),
        (batches, eventIdx) => {
          const { mem, alloc, drv, dev, chain } = queuePair(16, { eventIdx });
          const area = alloc.alloc(16 * 6 * 300);
          let token = 0;
          for (const batch of batches) {
            const sent: { token: number; segs: Segment[]; readable: number; used: number }[] = [];
            for (const shape of batch) {
              if (shape.lens.length > drv.numFree) break;
              let a = area + sent.length * 6 * 300;
              const segs = shape.lens.map((len) => {
                const s = { addr: a, len };
                a += len;
                return s;
              });
              const readable = Math.floor(shape.readableFrac * segs.length);
              for (const s of segs.slice(0, readable)) mem.fill(s.addr, s.len, token & 0xff);
              drv.add(segs, readable, token);
              sent.push({ token, segs, readable, used: 0 });
              token++;
            }
            for (const s of sent) {
              expect(dev.pop(chain)).toBe(ChainError.None);
              expect(chain.readCount).toBe(s.readable);
              expect(chain.writeCount).toBe(s.segs.length - s.readable);
              for (let i = 0; i < chain.readCount; i++) {
                expect(chain.readAddr[i]).toBe(s.segs[i].addr);
                expect(chain.readLen[i]).toBe(s.segs[i].len);
                expect(mem.readU8(chain.readAddr[i])).toBe(s.token & 0xff);
              }
              for (let i = 0; i < chain.writeCount; i++) {
                expect(chain.writeAddr[i]).toBe(s.segs[s.readable + i].addr);
              }
              const shape = batch[sent.indexOf(s)];
              s.used = Math.floor(shape.usedFrac * chain.writeBytes);
              dev.pushUsed(chain.head, s.used);
            }
            expect(dev.pop(chain)).toBe(POP_EMPTY);
            for (const s of sent) {
              expect(drv.getBuf()).toBe(s.token);
              expect(drv.lastLen).toBe(s.used);
            }
            expect(drv.getBuf()).toBeUndefined();
            expect(drv.numFree).toBe(16);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('wraps the 16-bit ring indices past 65535', () => {
    const { mem, alloc, layout, drv, dev, chain } = queuePair(8);
    const buf = alloc.alloc(64);
    const segs = [
      { addr: buf, len: 16 },
      { addr: buf + 16, len: 16 },
    ];
    const total = 70_000;
    for (let i = 0; i < total; i++) {
      drv.add(segs, 1, i);
      expect(dev.pop(chain)).toBe(ChainError.None);
      dev.pushUsed(chain.head, 16);
      expect(drv.getBuf()).toBe(i);
    }
    expect(mem.readU16(layout.availAddr + AVAIL_IDX)).toBe(total & 0xffff);
    expect(mem.readU16(layout.usedAddr + USED_IDX)).toBe(total & 0xffff);
  });

  it('keeps a full queue full and refuses one more chain with QueueFull', () => {
    const { alloc, drv } = queuePair(4);
    const a = alloc.alloc(16);
    for (let i = 0; i < 4; i++) drv.add([{ addr: a, len: 4 }], 1, i);
    expect(() => drv.add([{ addr: a, len: 4 }], 1, 9)).toThrow(VirtqueueError);
    try {
      drv.add([{ addr: a, len: 4 }], 1, 9);
    } catch (e) {
      expect((e as VirtqueueError).code).toBe(ChainError.QueueFull);
    }
  });
});

describe('device side rejects malformed chains', () => {
  type Build = (p: ReturnType<typeof queuePair>) => void;
  const cases: [string, ChainError, Build, { indirect?: boolean }?][] = [
    [
      'buffer outside memory',
      ChainError.OutOfBounds,
      ({ mem, layout }) => writeDesc(mem, layout.descAddr, 0, mem.size - 8, 16, 0, 0),
    ],
    [
      'address above 4 GiB',
      ChainError.OutOfBounds,
      ({ mem, layout }) => writeDesc(mem, layout.descAddr, 0, 1n << 32n, 16, 0, 0),
    ],
    [
      'address + length wraps 2^64',
      ChainError.AddressOverflow,
      ({ mem, layout }) => writeDesc(mem, layout.descAddr, 0, 0xfffffffffffffff0n, 0x20, 0, 0),
    ],
    [
      'a loop',
      ChainError.Loop,
      ({ mem, layout }) => {
        writeDesc(mem, layout.descAddr, 0, 0x8000, 4, VIRTQ_DESC_F_NEXT, 1);
        writeDesc(mem, layout.descAddr, 1, 0x8000, 4, VIRTQ_DESC_F_NEXT, 0);
      },
    ],
    [
      'a self loop',
      ChainError.Loop,
      ({ mem, layout }) => writeDesc(mem, layout.descAddr, 0, 0x8000, 4, VIRTQ_DESC_F_NEXT, 0),
    ],
    [
      'next beyond the table',
      ChainError.NextOutOfRange,
      ({ mem, layout }) => writeDesc(mem, layout.descAddr, 0, 0x8000, 4, VIRTQ_DESC_F_NEXT, 8),
    ],
    [
      'writable before readable',
      ChainError.ReadableAfterWritable,
      ({ mem, layout }) => {
        writeDesc(mem, layout.descAddr, 0, 0x8000, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
        writeDesc(mem, layout.descAddr, 1, 0x8000, 4, 0, 0);
      },
    ],
    [
      'zero length',
      ChainError.ZeroLength,
      ({ mem, layout }) => writeDesc(mem, layout.descAddr, 0, 0x8000, 0, 0, 0),
    ],
    [
      'indirect without the feature',
      ChainError.IndirectNotNegotiated,
      ({ mem, layout }) => writeDesc(mem, layout.descAddr, 0, 0x9000, 32, VIRTQ_DESC_F_INDIRECT, 0),
    ],
    [
      'indirect with next',
      ChainError.IndirectWithNext,
      ({ mem, layout }) =>
        writeDesc(
          mem,
          layout.descAddr,
          0,
          0x9000,
          32,
          VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT,
          1,
        ),
      { indirect: true },
    ],
    [
      'indirect table of odd length',
      ChainError.BadIndirectLength,
      ({ mem, layout }) => writeDesc(mem, layout.descAddr, 0, 0x9000, 20, VIRTQ_DESC_F_INDIRECT, 0),
      { indirect: true },
    ],
    [
      'indirect table longer than the queue',
      ChainError.TooLong,
      ({ mem, layout }) =>
        writeDesc(mem, layout.descAddr, 0, 0x9000, 16 * 9, VIRTQ_DESC_F_INDIRECT, 0),
      { indirect: true },
    ],
    [
      'nested indirect',
      ChainError.NestedIndirect,
      ({ mem, layout }) => {
        writeDesc(mem, layout.descAddr, 0, 0x9000, 32, VIRTQ_DESC_F_INDIRECT, 0);
        writeDesc(mem, 0x9000, 0, 0xa000, 16, VIRTQ_DESC_F_INDIRECT, 0);
      },
      { indirect: true },
    ],
    [
      'loop inside an indirect table',
      ChainError.Loop,
      ({ mem, layout }) => {
        writeDesc(mem, layout.descAddr, 0, 0x9000, 32, VIRTQ_DESC_F_INDIRECT, 0);
        writeDesc(mem, 0x9000, 0, 0x8000, 4, VIRTQ_DESC_F_NEXT, 1);
        writeDesc(mem, 0x9000, 1, 0x8000, 4, VIRTQ_DESC_F_NEXT, 0);
      },
      { indirect: true },
    ],
    [
      'indirect table outside memory',
      ChainError.OutOfBounds,
      ({ mem, layout }) =>
        writeDesc(mem, layout.descAddr, 0, mem.size - 16, 32, VIRTQ_DESC_F_INDIRECT, 0),
      { indirect: true },
    ],
  ];

  for (const [name, expected, build, opts] of cases) {
    it(`rejects ${name}`, () => {
      const p = queuePair(8, { indirect: opts?.indirect });
      build(p);
      publishRaw(p.mem, p.layout, 0);
      expect(p.dev.pop(p.chain)).toBe(expected);
      expect(p.chain.head).toBe(0);
    });
  }

  it('accepts a well-formed indirect chain mixed with direct descriptors', () => {
    const p = queuePair(8, { indirect: true });
    writeDesc(p.mem, p.layout.descAddr, 0, 0x8000, 4, VIRTQ_DESC_F_NEXT, 1);
    writeDesc(p.mem, p.layout.descAddr, 1, 0x9000, 32, VIRTQ_DESC_F_INDIRECT, 0);
    writeDesc(p.mem, 0x9000, 0, 0x8100, 8, VIRTQ_DESC_F_NEXT, 1);
    writeDesc(p.mem, 0x9000, 1, 0x8200, 16, VIRTQ_DESC_F_WRITE, 0);
    publishRaw(p.mem, p.layout, 0);
    expect(p.dev.pop(p.chain)).toBe(ChainError.None);
    expect(p.chain.readBytes).toBe(12);
    expect(p.chain.writeBytes).toBe(16);
  });

  it('marks the queue broken for a head index beyond the queue size', () => {
    const p = queuePair(8);
    publishRaw(p.mem, p.layout, 8);
    expect(p.dev.pop(p.chain)).toBe(ChainError.HeadOutOfRange);
    expect(p.dev.error).toBe(ChainError.HeadOutOfRange);
    expect(p.dev.ready).toBe(false);
  });

  it('marks the queue broken when avail.idx jumps more than the queue size ahead', () => {
    const p = queuePair(8);
    p.mem.storeU16(p.layout.availAddr + AVAIL_IDX, 9);
    expect(p.dev.pop(p.chain)).toBe(ChainError.AvailIndexJump);
    expect(p.dev.ready).toBe(false);
    // A broken queue pushes nothing.
    p.dev.pushUsed(0, 1);
    expect(p.mem.readU16(p.layout.usedAddr + USED_IDX)).toBe(0);
  });

  it('never throws nor reports out-of-memory segments for random descriptor tables', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            addr: fc.oneof(
              fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
              fc.integer({ min: 0, max: 1 << 20 }).map(BigInt),
            ),
            len: fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 64 })),
            flags: fc.integer({ min: 0, max: 0xffff }),
            next: fc.integer({ min: 0, max: 0xffff }),
          }),
          { minLength: 8, maxLength: 8 },
        ),
        fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        (descs, heads, indirect) => {
          const p = queuePair(8, { indirect });
          descs.forEach((d, i) => {
            writeDesc(p.mem, p.layout.descAddr, i, d.addr, d.len, d.flags, d.next % 16);
          });
          for (const h of heads) publishRaw(p.mem, p.layout, h % 12);
          for (let i = 0; i < heads.length + 1; i++) {
            const r = p.dev.pop(p.chain);
            if (r === POP_EMPTY) break;
            if (r === ChainError.None) {
              for (let k = 0; k < p.chain.readCount; k++) {
                expect(p.mem.contains(p.chain.readAddr[k], p.chain.readLen[k])).toBe(true);
              }
              for (let k = 0; k < p.chain.writeCount; k++) {
                expect(p.mem.contains(p.chain.writeAddr[k], p.chain.writeLen[k])).toBe(true);
              }
            }
            if (!p.dev.ready) break;
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('driver side distrusts the device', () => {
  function withOne() {
    const p = queuePair(8);
    const a = p.alloc.alloc(64);
    p.drv.add(
      [
        { addr: a, len: 8 },
        { addr: a + 8, len: 8 },
      ],
      1,
      42,
    );
    return p;
  }
  const usedEntry = (p: ReturnType<typeof queuePair>, id: number, len: number, idx = 1) => {
    p.mem.writeU32(p.layout.usedAddr + USED_RING, id);
    p.mem.writeU32(p.layout.usedAddr + USED_RING + 4, len);
    p.mem.storeU16(p.layout.usedAddr + USED_IDX, idx);
  };

  it('rejects a used id that is not in flight', () => {
    const p = withOne();
    usedEntry(p, 5, 0);
    expect(() => p.drv.getBuf()).toThrow(/not in flight/);
    expect(p.drv.broken).toBe(ChainError.UsedIdInvalid);
    expect(() => p.drv.add([{ addr: 0x8000, len: 4 }], 1, 1)).toThrow(VirtqueueError);
  });

  it('rejects a used id beyond the queue', () => {
    const p = withOne();
    usedEntry(p, 0xffffffff, 0);
    expect(() => p.drv.getBuf()).toThrow(VirtqueueError);
  });

  it('rejects a used length beyond the writable size', () => {
    const p = withOne();
    usedEntry(p, 0, 9);
    expect(() => p.drv.getBuf()).toThrow(/exceeds the writable size/);
  });

  it('rejects used.idx running ahead of what is in flight', () => {
    const p = withOne();
    usedEntry(p, 0, 0, 2);
    expect(() => p.drv.getBuf()).toThrow(/ahead of the buffers in flight/);
  });

  it('rejects bad segments before touching the ring', () => {
    const p = queuePair(8);
    expect(() => p.drv.add([], 0, 1)).toThrow(VirtqueueError);
    expect(() => p.drv.add([{ addr: p.mem.size, len: 1 }], 1, 1)).toThrow(VirtqueueError);
    expect(() => p.drv.add([{ addr: 0, len: 0 }], 1, 1)).toThrow(VirtqueueError);
    expect(p.mem.readU16(p.layout.availAddr + AVAIL_IDX)).toBe(0);
    expect(p.drv.numFree).toBe(8);
  });

  it('gives back every in-flight token on detachAll()', () => {
    const p = withOne();
    p.drv.add([{ addr: 0x8000, len: 4 }], 0, 43);
    expect(p.drv.detachAll().sort()).toEqual([42, 43]);
    expect(p.drv.numFree).toBe(8);
    expect(p.drv.pending).toBe(0);
  });
});

describe('notification suppression', () => {
  it('honours VIRTQ_AVAIL_F_NO_INTERRUPT and VIRTQ_USED_F_NO_NOTIFY', () => {
    const p = queuePair(8);
    const a = p.alloc.alloc(16);
    p.drv.add([{ addr: a, len: 4 }], 0, 1);
    expect(p.drv.kickPrepare()).toBe(true);
    p.dev.setNotifications(false);
    expect(p.mem.readU16(p.layout.usedAddr + USED_FLAGS)).toBe(VIRTQ_USED_F_NO_NOTIFY);
    p.drv.add([{ addr: a, len: 4 }], 0, 2);
    expect(p.drv.kickPrepare()).toBe(false);
    p.dev.pop(p.chain);
    p.dev.pushUsed(p.chain.head, 4);
    expect(p.dev.shouldInterrupt()).toBe(true);
    expect(p.dev.shouldInterrupt()).toBe(false); // nothing new
    p.drv.disableInterrupts();
    expect(p.mem.readU16(p.layout.availAddr + AVAIL_FLAGS)).toBe(VIRTQ_AVAIL_F_NO_INTERRUPT);
    p.dev.pop(p.chain);
    p.dev.pushUsed(p.chain.head, 4);
    expect(p.dev.shouldInterrupt()).toBe(false);
    expect(p.drv.enableInterrupts()).toBe(false); // buffers arrived meanwhile
  });

  it('uses used_event / avail_event with VIRTIO_F_EVENT_IDX', () => {
    const p = queuePair(8, { eventIdx: true });
    const a = p.alloc.alloc(16);
    // Device asks to be kicked at avail index 0 (initial): first add kicks.
    p.drv.add([{ addr: a, len: 4 }], 0, 1);
    expect(p.drv.kickPrepare()).toBe(true);
    p.dev.pop(p.chain); // device writes avail_event = 1
    expect(p.mem.readU16(availEventAddr(p.layout.usedAddr, 8))).toBe(1);
    p.dev.pushUsed(p.chain.head, 4);
    // Driver's used_event is 0: crossing 0 -> 1 interrupts.
    expect(p.dev.shouldInterrupt()).toBe(true);
    expect(p.drv.getBuf()).toBe(1);
    expect(p.mem.readU16(usedEventAddr(p.layout.availAddr, 8))).toBe(1);
    // Driver says "interrupt me only after 3 more": set used_event = 3.
    p.mem.writeU16(usedEventAddr(p.layout.availAddr, 8), 3);
    for (let i = 0; i < 3; i++) {
      p.drv.add([{ addr: a, len: 4 }], 0, 10 + i);
      p.dev.pop(p.chain);
      p.dev.pushUsed(p.chain.head, 4);
      expect(p.dev.shouldInterrupt()).toBe(i === 2);
    }
  });
});
