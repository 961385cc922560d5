/**
 * Mutating valid snapshots for the restore fuzzers (device, driver, relay):
 * bytes and words overwritten (words favouring edge values and addresses
 * just beyond guest memory), the snapshot cut short or stretched.
 */
import fc from 'fast-check';

export type Mutation =
  | { k: 'byte'; at: number; v: number }
  | { k: 'word'; at: number; v: number }
  | { k: 'cut'; at: number }
  | { k: 'grow'; at: number; n: number };

/** One change to a snapshot; word values favour edges, and addresses near `memBytes`. */
export function mutationArb(memBytes: number): fc.Arbitrary<Mutation> {
  return fc.oneof(
    fc.record({
      k: fc.constant('byte' as const),
      at: fc.nat(),
      v: fc.integer({ min: 0, max: 255 }),
    }),
    fc.record({
      k: fc.constant('word' as const),
      at: fc.nat(),
      v: fc.oneof(
        fc.constantFrom(
          0,
          1,
          2,
          3,
          4,
          7,
          8,
          255,
          256,
          0xffff,
          0x10000,
          0x7fffffff,
          0x80000000,
          0xffffffff,
        ),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: memBytes + 16 }),
      ),
    }),
    fc.record({ k: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({
      k: fc.constant('grow' as const),
      at: fc.nat(),
      n: fc.integer({ min: 1, max: 16 }),
    }),
  );
}

/** `src` with `ms` applied in turn (a copy). */
export function mutate(src: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b = src.slice();
  for (const m of ms) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.k === 'byte') b[at] = m.v;
    else if (m.k === 'word') {
      // Aligned words mostly (fields are), unaligned sometimes.
      const a = at % 5 === 0 ? at : at & ~3;
      if (a + 4 <= b.length) new DataView(b.buffer).setUint32(a, m.v >>> 0, true);
    } else if (m.k === 'cut') b = b.slice(0, at);
    else {
      const grown = new Uint8Array(b.length + m.n);
      grown.set(b.subarray(0, at));
      grown.set(b.subarray(at), at + m.n);
      b = grown;
    }
  }
  return b;
}

/** Byte-for-byte equality. */
export const same = (a: Uint8Array, b: Uint8Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.length).equals(
    Buffer.from(b.buffer, b.byteOffset, b.length),
  );
