/**
 * Replays every committed coverage-guided fuzz corpus file (fuzz/corpus/
 * <target>/*) through its target, without Jazzer's native addon: a
 * regression test in every unit run, and (with --coverage) the way to see
 * which branches of src/ a corpus reaches. FUZZ_CORPUS_EXTRA=dir[:dir...]
 * adds corpora laid out the same way (<dir>/<target>/*), e.g. a long run's.
 *
 * A file named known-<defect>... must still reach that known defect while
 * it is listed in test/fuzz/known-defects.ts (the generators prove they find
 * it); once the entry is removed, it must simply pass.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fuzz as controlQueue } from '../../fuzz/control-queue.fuzz.ts';
import { fuzz as ioIntake } from '../../fuzz/io-intake.fuzz.ts';
import { fuzz as relay } from '../../fuzz/relay.fuzz.ts';
import { fuzz as virtqueue } from '../../fuzz/virtqueue.fuzz.ts';
import { KNOWN_DEFECTS, type KnownDefect, tolerated } from './known-defects.ts';

const targets: Record<string, (data: Uint8Array) => void> = {
  virtqueue,
  'control-queue': controlQueue,
  'io-intake': ioIntake,
  relay,
};
const roots = ['fuzz/corpus', ...(process.env.FUZZ_CORPUS_EXTRA?.split(':').filter(Boolean) ?? [])];

describe('fuzz corpus replay', () => {
  for (const [name, fuzz] of Object.entries(targets)) {
    const files = roots
      .map((r) => join(r, name))
      .filter((d) => existsSync(d))
      .flatMap((d) => readdirSync(d).map((f) => join(d, f)));
    it(`${name}: ${files.length} inputs, no finding`, () => {
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) {
        const known = /(?:^|\/)known-([a-z0-9-]+?)(?:-\d+)?$/.exec(f)?.[1] as
          | KnownDefect
          | undefined;
        const before = known ? tolerated[known] : 0;
        try {
          fuzz(readFileSync(f));
        } catch (e) {
          throw new Error(`${f}: ${(e as Error).message}`);
        }
        if (known && KNOWN_DEFECTS.has(known) && process.env.FUZZ_ALL_INVARIANTS !== '1') {
          expect(tolerated[known], `${f} no longer reaches known defect ${known}`).toBeGreaterThan(
            before,
          );
        }
      }
    });
  }
});
