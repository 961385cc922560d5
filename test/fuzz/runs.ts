/**
 * Run sizes for the property fuzzers: CI-sized by default; FUZZ_RUNS=N runs
 * N cases per property (npm run fuzz), FUZZ_SEED=S replays a run.
 */
import type { Codec } from './bytes.ts';
import { ByteWriter } from './bytes.ts';

const SCALE = Number(process.env.FUZZ_RUNS ?? 0);
export const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
/**
 * Cases per property: `ci`, or FUZZ_RUNS / `cost` in a deep run, for
 * properties whose cases cost `cost` times an ordinary one (a flood of 4000
 * requests), so a deep run's time is spread evenly.
 */
export const runs = (ci: number, cost = 1): number =>
  SCALE > 0 ? Math.max(1, Math.ceil(SCALE / cost)) : ci;
/** CI-sized runs get minutes; a deep run (FUZZ_RUNS) as long as it takes. */
export const TIMEOUT = SCALE > 0 ? 7 * 24 * 3600_000 : 300_000;

/**
 * Runs `run(c)`; on a finding, the error also carries the case as a Jazzer
 * corpus entry (base64 of its bytes), to drop into fuzz/corpus/<target>/.
 */
export function asCorpusEntry<C>(
  shape: (codec: Codec, v?: C) => C,
  run: (c: C) => void,
): (c: C) => void {
  return (c) => {
    try {
      run(c);
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      try {
        const w = new ByteWriter();
        shape(w, c);
        e.message += `\n  corpus entry (base64): ${Buffer.from(w.done()).toString('base64')}`;
      } catch (why) {
        // Shapes only fast-check makes (a flood past what a byte input may ask for).
        e.message += `\n  (no corpus entry: ${(why as Error).message})`;
      }
      throw e;
    }
  };
}
