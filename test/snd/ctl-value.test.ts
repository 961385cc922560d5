/**
 * virtio_snd_ctl_value by control type, as virtio_snd.h lays out the union:
 * every type round-trips within 512 bytes at the right offsets and widths.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as P from '../../src/snd/protocol.ts';

const T = {
  boolean: P.VIRTIO_SND_CTL_TYPE_BOOLEAN,
  integer: P.VIRTIO_SND_CTL_TYPE_INTEGER,
  integer64: P.VIRTIO_SND_CTL_TYPE_INTEGER64,
  enumerated: P.VIRTIO_SND_CTL_TYPE_ENUMERATED,
  bytes: P.VIRTIO_SND_CTL_TYPE_BYTES,
  iec958: P.VIRTIO_SND_CTL_TYPE_IEC958,
};

const value = () => new DataView(new ArrayBuffer(P.CTL_VALUE.size));

describe('virtio_snd_ctl_value', () => {
  it('the largest count of every type fills at most the 512 bytes', () => {
    expect(P.CTL_MAX_COUNT).toEqual([128, 128, 64, 128, 512, 1]);
    for (const type of Object.values(T)) {
      const n = P.ctlValueLength(type, P.CTL_MAX_COUNT[type]);
      expect(() => P.encodeCtlValue(value(), 0, type, new Array(n).fill(1))).not.toThrow();
    }
  });

  it('lays out each type where virtio_snd.h puts it', () => {
    const v = value();
    P.encodeCtlValue(v, 0, T.bytes, [1, 2, 3, 4]);
    expect(v.getUint32(0, true)).toBe(0x04030201);
    P.encodeCtlValue(v, 0, T.integer64, [-2, 100]);
    expect(v.getBigInt64(0, true)).toBe(-2n);
    expect(v.getBigInt64(8, true)).toBe(100n);
    P.encodeCtlValue(v, 0, T.integer, [-1, 7]);
    expect([v.getInt32(0, true), v.getUint32(4, true)]).toEqual([-1, 7]);
    expect(P.ctlValueLength(T.iec958, 1)).toBe(P.CTL_IEC958.size);
  });

  it('round-trips every type (property)', () => {
    const of = (type: number, max: number, elem: fc.Arbitrary<number>) =>
      fc.integer({ min: 1, max }).chain((count) =>
        fc.tuple(
          fc.constant(type),
          fc.constant(count),
          fc.array(elem, {
            minLength: P.ctlValueLength(type, count),
            maxLength: P.ctlValueLength(type, count),
          }),
        ),
      );
    fc.assert(
      fc.property(
        fc.oneof(
          of(T.boolean, 128, fc.integer({ min: 0, max: 1 })),
          of(T.integer, 128, fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
          of(T.integer64, 64, fc.maxSafeInteger()),
          of(T.enumerated, 128, fc.integer({ min: 0, max: 2 ** 32 - 1 })),
          of(T.bytes, 512, fc.integer({ min: 0, max: 255 })),
          of(T.iec958, 1, fc.integer({ min: 0, max: 255 })),
        ),
        ([type, count, values]) => {
          const v = value();
          P.encodeCtlValue(v, 0, type, values);
          expect(P.decodeCtlValue(v, 0, type, count)).toEqual(values);
        },
      ),
    );
  });

  it('an undefined type is a RangeError', () => {
    expect(() => P.decodeCtlValue(value(), 0, 6, 1)).toThrow(RangeError);
    expect(() => P.encodeCtlValue(value(), 0, -1, [0])).toThrow(RangeError);
  });
});
