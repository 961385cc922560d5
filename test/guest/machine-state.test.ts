/**
 * The guest page's machine-state file: v86's state and ours round-trip in
 * one container, and every bad file is one SnapshotError, found before
 * anything would be restored.
 */
import { describe, expect, it } from 'vitest';
import {
  type MachineMeta,
  machineFileChunks,
  readMachineFile,
} from '../../src/guest/machine-state.ts';
import { SnapshotBuilder, SnapshotError } from '../../src/snapshot/snapshot-format.ts';

const META: MachineMeta = { memoryBytes: 128 << 20, sampleRate: 48000, kernel: '6.12' };

/** A v86 state as v86 writes it: i32 magic, version 6, total length, info length, info, buffers. */
function v86State(bytes = 64): Uint8Array {
  const b = new Uint8Array(bytes).map((_, i) => i * 13);
  const v = new DataView(b.buffer);
  v.setInt32(0, -2039052682, true);
  v.setInt32(4, 6, true);
  v.setInt32(8, bytes, true);
  v.setInt32(12, 20, true);
  return b;
}

const ours = new SnapshotBuilder('VATT').section('TRNS', (w) => w.u32(1)).finish();

function file(meta = META, v86 = v86State(), sound = ours): Uint8Array {
  const chunks = machineFileChunks(meta, v86, sound);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function reason(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SnapshotError);
    return (e as SnapshotError).reason;
  }
  return 'no error';
}

describe('machine-state file', () => {
  it('round-trips v86 state, ours and the page it came from', () => {
    const m = readMachineFile(file(), META);
    expect(m.meta).toEqual(META);
    expect(m.v86).toEqual(v86State());
    expect(m.sound).toEqual(ours);
  });

  it('names what is wrong with a bad file', () => {
    const good = file();
    const page = META;
    const cases: [string, Uint8Array, typeof page, string][] = [
      ['empty', new Uint8Array(0), page, 'bad-magic'],
      ['a picture', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]), page, 'bad-magic'],
      ['cut short', good.subarray(0, good.length - 5), page, 'truncated'],
      ['our device snapshot alone', ours, page, 'wrong-kind'],
      ['another RAM size', good, { ...page, memoryBytes: 64 << 20 }, 'config-mismatch'],
      ['another sample rate', good, { ...page, sampleRate: 44100 }, 'config-mismatch'],
      ['not a v86 state', file(META, new Uint8Array(64).fill(7)), page, 'bad-magic'],
      [
        'another v86 version',
        file(
          META,
          v86State().map((v, i) => (i === 4 ? 5 : v)),
        ),
        page,
        'unsupported-version',
      ],
      [
        'a v86 state cut short',
        file(META, v86State().subarray(0, 40)),
        page,
        'length-out-of-range',
      ],
    ];
    for (const [name, bytes, p, want] of cases) {
      expect(
        reason(() => readMachineFile(bytes, p)),
        name,
      ).toBe(want);
    }
  });
});
