/**
 * Coverage-guided fuzz target (Jazzer.js): the control queue of a
 * VirtioSndDevice through MMIO. The input's bytes are read as a
 * test/fuzz/control-case.ts case (requests, response buffer shapes, floods,
 * storms); the invariants are that file's.
 */
import { ByteReader } from '../test/fuzz/bytes.ts';
import { controlCase, runControlCase } from '../test/fuzz/control-case.ts';

export function fuzz(data: Uint8Array): void {
  runControlCase(controlCase(new ByteReader(data)));
}
