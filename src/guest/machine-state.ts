/**
 * The guest page's machine-state file: v86's state and our device's in one
 * self-describing container (virtio-snd-web's snapshot format, kind 'VGST'):
 *
 *   META  u53 guest RAM bytes, u32 the AudioContext's sample rate, str kernel
 *   V86S  v86's save_state() bytes, as they are
 *   VATT  the attachVirtioSnd handle's saveState()
 *
 * Reading checks the container, META against this page, and v86's own
 * header (magic, version, length) before anything is restored; our part is
 * checked by the handle's prepareRestore(). Every problem is a SnapshotError.
 */

import { readSnapshot, SnapshotError, SnapshotWriter, snapshotChunks } from 'virtio-snd-web';

export const MACHINE_KIND = 'VGST';
/** v86's state header: i32 magic, i32 version, i32 total length, i32 info length. */
const V86_MAGIC = 0x86768676;
const V86_VERSION = 6;
/** A zstd frame: v86 also reads its states compressed. */
const ZSTD_MAGIC = 0xfd2fb528;

export interface MachineMeta {
  memoryBytes: number;
  sampleRate: number;
  kernel: string;
}

export interface MachineFile {
  meta: MachineMeta;
  /** v86's state (a view into the file). */
  v86: Uint8Array;
  /** Our device's state (a view into the file). */
  sound: Uint8Array;
}

/** The file as chunks for a Blob: the large v86 part is not copied. */
export function machineFileChunks(
  meta: MachineMeta,
  v86: Uint8Array,
  sound: Uint8Array,
): Uint8Array[] {
  const w = new SnapshotWriter().u53(meta.memoryBytes).u32(meta.sampleRate).str(meta.kernel);
  return snapshotChunks(MACHINE_KIND, [
    ['META', w.finish()],
    ['V86S', v86],
    ['VATT', sound],
  ]);
}

/** Reads and checks a machine-state file for a page with `page`'s RAM size and sample rate. */
export function readMachineFile(
  bytes: Uint8Array,
  page: Pick<MachineMeta, 'memoryBytes' | 'sampleRate'>,
): MachineFile {
  const sec = readSnapshot(bytes, MACHINE_KIND);
  const m = sec.one('META');
  const meta: MachineMeta = {
    memoryBytes: m.u53('guest RAM'),
    sampleRate: m.u32(),
    kernel: m.str(64, 'kernel'),
  };
  m.end();
  const v86 = sec.payload('V86S');
  const sound = sec.payload('VATT');
  sec.end();
  if (meta.memoryBytes !== page.memoryBytes) {
    throw new SnapshotError(
      'config-mismatch',
      `a machine with ${meta.memoryBytes >> 20} MiB of RAM; this page's has ${page.memoryBytes >> 20} MiB`,
    );
  }
  if (meta.sampleRate !== page.sampleRate) {
    throw new SnapshotError(
      'config-mismatch',
      `saved with audio at ${meta.sampleRate} Hz; this page runs at ${page.sampleRate} Hz (open it with ?rate=${meta.sampleRate})`,
    );
  }
  checkV86State(v86);
  return { meta, v86, sound };
}

/** v86's header, as v86 checks it, so a bad v86 part is refused before anything changes. */
function checkV86State(b: Uint8Array): void {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length >= 4 && v.getUint32(0, true) === ZSTD_MAGIC) return;
  if (b.length < 16 || v.getUint32(0, true) !== V86_MAGIC) {
    throw new SnapshotError('bad-magic', 'the emulator part is not a v86 state');
  }
  const version = v.getInt32(4, true);
  if (version !== V86_VERSION) {
    throw new SnapshotError(
      'unsupported-version',
      `a v86 state of version ${version}; this v86 reads version ${V86_VERSION}`,
    );
  }
  const total = v.getInt32(8, true);
  const info = v.getInt32(12, true);
  if (total !== b.length || info < 0 || info + 12 >= b.length) {
    throw new SnapshotError('length-out-of-range', 'the v86 state is cut short or malformed');
  }
}
