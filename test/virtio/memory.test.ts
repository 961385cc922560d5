import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GuestMemory, GuestMemoryError } from '../../src/virtio/memory.ts';

describe('GuestMemory', () => {
  const mem = new GuestMemory(new SharedArrayBuffer(64));

  it('reads and writes little-endian values of every width', () => {
    mem.writeU32(8, 0x11223344);
    expect([...mem.bytes(8, 4)]).toEqual([0x44, 0x33, 0x22, 0x11]);
    expect(mem.readU16(8)).toBe(0x3344);
    expect(mem.readU8(11)).toBe(0x11);
    mem.writeU64(16, 0x0102030405060708n);
    expect(mem.readU64(16)).toBe(0x0102030405060708n);
    expect(mem.readU32(16)).toBe(0x05060708);
    mem.writeU16(62, 0xbeef);
    expect(mem.readU16(62)).toBe(0xbeef);
    mem.writeU64(0, -1n);
    expect(mem.readU64(0)).toBe(0xffffffffffffffffn);
  });

  it('copies byte ranges and gives zero-copy views', () => {
    mem.write(32, [1, 2, 3, 4]);
    expect([...mem.read(32, 4)]).toEqual([1, 2, 3, 4]);
    const v = mem.bytes(32, 4);
    v[0] = 9;
    expect(mem.readU8(32)).toBe(9);
    mem.fill(32, 4, 7);
    expect([...mem.read(32, 4)]).toEqual([7, 7, 7, 7]);
  });

  it('throws a typed error naming the range for every out-of-range access', () => {
    const cases: [string, () => unknown][] = [
      ['u8 at size', () => mem.readU8(64)],
      ['u16 straddling the end', () => mem.readU16(63)],
      ['u32 straddling', () => mem.writeU32(61, 0)],
      ['u64 straddling', () => mem.readU64(57)],
      ['negative', () => mem.readU8(-1)],
      ['NaN', () => mem.readU8(Number.NaN)],
      ['fraction', () => mem.readU8(1.5)],
      ['huge length', () => mem.read(0, 2 ** 53)],
      ['addr + len overflow', () => mem.bytes(Number.MAX_SAFE_INTEGER, 2)],
      ['misaligned atomic', () => mem.loadU16(3)],
      ['misaligned atomic u32', () => mem.storeU32(6, 1)],
    ];
    for (const [name, f] of cases) {
      expect(f, name).toThrow(GuestMemoryError);
    }
    try {
      mem.readU32(62);
    } catch (e) {
      expect((e as GuestMemoryError).addr).toBe(62);
      expect((e as GuestMemoryError).length).toBe(4);
      expect((e as Error).message).toContain('0x3e');
    }
  });

  it('contains() agrees with exact arithmetic for any input', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: -100, max: 200 }), fc.double(), fc.constant(2 ** 60)),
        fc.oneof(fc.integer({ min: -100, max: 200 }), fc.double()),
        (addr, len) => {
          const expected =
            Number.isInteger(addr) &&
            Number.isInteger(len) &&
            addr >= 0 &&
            len >= 0 &&
            BigInt(addr) + BigInt(len) <= 64n;
          expect(mem.contains(addr, len)).toBe(expected);
          if (expected && len > 0) expect(() => mem.bytes(addr, len)).not.toThrow();
          if (!expected) expect(() => mem.bytes(addr, len)).toThrow(GuestMemoryError);
        },
      ),
    );
  });

  it('works over a plain ArrayBuffer (an emulator RAM) too', () => {
    const m = new GuestMemory(new ArrayBuffer(16));
    m.storeU16(2, 0xabcd);
    expect(m.loadU16(2)).toBe(0xabcd);
    expect(m.readU16(2)).toBe(0xabcd);
  });
});
