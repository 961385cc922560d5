/**
 * Coverage-guided fuzz target (Jazzer.js): src/embed's RelayDevice with the
 * guest's rings in an ArrayBuffer RAM (full heaps, missing event buffers,
 * notify storms, event floods). The input's bytes are read as a
 * test/fuzz/relay-case.ts case; the invariants are that file's.
 */
import { ByteReader } from '../test/fuzz/bytes.ts';
import { relayCase, runRelayCase } from '../test/fuzz/relay-case.ts';

export function fuzz(data: Uint8Array): void {
  runRelayCase(relayCase(new ByteReader(data)));
}
