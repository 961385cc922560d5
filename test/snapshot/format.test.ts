/**
 * The snapshot container: values round-trip little-endian, sections keep
 * their order and nest, and every malformed input is one SnapshotError with
 * the reason that names it.
 */
import { describe, expect, it } from 'vitest';
import {
  readSnapshot,
  SnapshotBuilder,
  SnapshotError,
  type SnapshotErrorReason,
  SnapshotReader,
  SnapshotWriter,
  snapshotChunks,
  tag,
  tagName,
} from '../../src/snapshot/snapshot-format.ts';

function reason(f: () => unknown): SnapshotErrorReason | 'no error' {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SnapshotError);
    return (e as SnapshotError).reason;
  }
  return 'no error';
}

describe('snapshot format', () => {
  it('round-trips every value type, little-endian', () => {
    const w = new SnapshotWriter();
    w.u8(0xab)
      .bool(true)
      .u16(0xbeef)
      .u32(0xdeadbeef)
      .i32(-5)
      .u53(2 ** 52 + 7);
    w.u64(0x0123456789abcdefn)
      .f32(0.5)
      .f64(Math.PI)
      .str('Master')
      .blob(Uint8Array.of(1, 2, 3));
    w.floats(Float32Array.of(-1, 0.25));
    for (let i = 0; i < 300; i++) w.u32(i); // grows the buffer past its first size
    const bytes = w.finish();
    expect([...bytes.subarray(2, 4)]).toEqual([0xef, 0xbe]);
    const r = new SnapshotReader(bytes);
    expect([r.u8(), r.bool('b'), r.u16(), r.u32(), r.i32(), r.u53('x')]).toEqual([
      0xab,
      true,
      0xbeef,
      0xdeadbeef,
      -5,
      2 ** 52 + 7,
    ]);
    expect(r.u64()).toBe(0x0123456789abcdefn);
    expect([r.f32(), r.f64(), r.str(10, 's')]).toEqual([0.5, Math.PI, 'Master']);
    expect([...r.blob(3, 'b')]).toEqual([1, 2, 3]);
    expect([...r.floats(2, 'f')]).toEqual([-1, 0.25]);
    for (let i = 0; i < 300; i++) expect(r.u32()).toBe(i);
    r.end();
  });

  it('keeps sections in order, by tag, and nests snapshots', () => {
    const inner = new SnapshotBuilder('VDEV').section('STRM', (w) => w.u32(7)).finish();
    const outer = new SnapshotBuilder('RLAY')
      .section('STRM', (w) => w.u32(1))
      .section('MSGS', (w) => w.u32(2))
      .section('STRM', (w) => w.u32(3))
      .raw('INNR', inner)
      .finish();
    expect(tagName(new DataView(outer.buffer).getUint32(8, true))).toBe('RLAY');
    const s = readSnapshot(outer, 'RLAY');
    expect(s.all('STRM').map((r) => r.u32())).toEqual([1, 3]);
    expect(s.one('MSGS').u32()).toBe(2);
    const nested = readSnapshot(s.payload('INNR'), 'VDEV');
    expect(nested.one('STRM').u32()).toBe(7);
    nested.end();
    s.end();
  });

  it('snapshotChunks makes the bytes SnapshotBuilder makes, sharing the payloads', () => {
    const big = new Uint8Array(1000).map((_, i) => i * 7);
    const small = new Uint8Array([1, 2, 3]);
    const chunks = snapshotChunks('VGST', [
      ['META', small],
      ['V86S', big],
    ]);
    expect(chunks).toContain(big); // not copied
    const joined = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      joined.set(c, at);
      at += c.length;
    }
    expect(joined).toEqual(
      new SnapshotBuilder('VGST').raw('META', small).raw('V86S', big).finish(),
    );
    const sec = readSnapshot(joined, 'VGST');
    expect(sec.payload('V86S')).toEqual(big);
  });

  it('names every malformation', () => {
    const good = new SnapshotBuilder('VDEV').section('STRM', (w) => w.u32(5).u32(1)).finish();
    const set = (at: number, v: number) => {
      const b = good.slice();
      new DataView(b.buffer).setUint32(at, v, true);
      return b;
    };
    expect(reason(() => readSnapshot(new Uint8Array(0), 'VDEV'))).toBe('bad-magic');
    expect(reason(() => readSnapshot(set(0, tag('NOPE')), 'VDEV'))).toBe('bad-magic');
    expect(reason(() => readSnapshot(set(4, 2), 'VDEV'))).toBe('unsupported-version');
    expect(reason(() => readSnapshot(good, 'TRNS'))).toBe('wrong-kind');
    expect(reason(() => readSnapshot(good.subarray(0, good.length - 1), 'VDEV'))).toBe('truncated');
    expect(reason(() => readSnapshot(Uint8Array.of(...good, 0), 'VDEV'))).toBe(
      'length-out-of-range',
    );
    expect(reason(() => readSnapshot(set(12, 5000), 'VDEV'))).toBe('count-out-of-range');
    expect(reason(() => readSnapshot(set(20, 0xffffffff), 'VDEV'))).toBe('truncated');
    const s = readSnapshot(good, 'VDEV');
    expect(reason(() => s.one('MSGS'))).toBe('bad-section');
    expect(reason(() => readSnapshot(good, 'VDEV').end())).toBe('bad-section');
    const r = s.one('STRM');
    expect(reason(() => r.count(4, 'things'))).toBe('count-out-of-range');
    expect(reason(() => r.index(1, 'head'))).toBe('index-out-of-range');
    expect(reason(() => r.u32())).toBe('truncated');
    expect(reason(() => new SnapshotReader(Uint8Array.of(2)).bool('flag'))).toBe('invalid-state');
    expect(reason(() => new SnapshotReader(Uint8Array.of(1, 2)).end())).toBe('length-out-of-range');
    const nan = new SnapshotWriter().f32(Number.NaN).finish();
    expect(reason(() => new SnapshotReader(nan).finite32('gain'))).toBe('invalid-state');
    const huge = new SnapshotWriter()
      .u32(0)
      .u32(2 ** 21)
      .finish();
    expect(reason(() => new SnapshotReader(huge).u53('frames'))).toBe('invalid-state');
    // A count is checked against what is left before anything is made for it.
    const many = new SnapshotWriter().u32(1000).finish();
    expect(reason(() => new SnapshotReader(many).count(10000, 'items', 8))).toBe('truncated');
  });
});
