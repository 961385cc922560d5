/**
 * Coverage-guided fuzz target (Jazzer.js): the renderer's I/O intake and
 * PcmRenderer.process() under hostile TX/RX messages (aliased and
 * overlapping segments, sizes near 2^31 and 2^32, 64+ segments). The input's
 * bytes are read as a test/fuzz/io-case.ts case; the invariants are that
 * file's.
 */
import { ByteReader } from '../test/fuzz/bytes.ts';
import { ioCase, runIoCase } from '../test/fuzz/io-case.ts';

export function fuzz(data: Uint8Array): void {
  runIoCase(ioCase(new ByteReader(data)));
}
