/**
 * The snapshot container: how every part of the stack (the virtio-mmio
 * transport, the device, the guest driver, the host, the relay) writes its
 * saved state and reads it back. Self-describing and versioned:
 *
 *   header (16 bytes):
 *     0  u32  magic 'VSNP'
 *     4  u16  format version (1)
 *     6  u16  header size (16)
 *     8  u32  kind: a four-letter tag naming what was saved ('VDEV', 'TRNS', 'DRVR'...)
 *     12 u32  number of sections
 *   then each section:
 *     0  u32  tag (four ASCII letters: 'STRM', 'MSGS'...)
 *     4  u32  payload length
 *     8  ...  payload
 *
 * Everything is little-endian. A section's payload may itself be a whole
 * snapshot (a composite nests its parts), so a relay can wrap its inner
 * device's snapshot and add sections of its own.
 *
 * The reader trusts nothing: every length and count is checked against what
 * is left and against a limit before anything is allocated, and every
 * problem is one SnapshotError whose `reason` says which kind it is. Readers
 * decode into plain objects first; nothing is applied until all of it has
 * been read and checked (see the prepareRestore() methods).
 */

export type SnapshotErrorReason =
  /** Not a snapshot: the magic is wrong. */
  | 'bad-magic'
  /** A format version this code does not read. */
  | 'unsupported-version'
  /** A snapshot of something else (a driver's given to a device...). */
  | 'wrong-kind'
  /** The bytes end before what they announce. */
  | 'truncated'
  /** A length that does not fit what it describes, or bytes left over. */
  | 'length-out-of-range'
  /** More items than the format or the device allows. */
  | 'count-out-of-range'
  /** A section that must be there is not, or is there twice, or is unknown. */
  | 'bad-section'
  /** An index (queue head, stream, jack, control...) beyond what exists. */
  | 'index-out-of-range'
  /** A guest address outside guest memory. */
  | 'address-out-of-range'
  /** Values that no run of the device could have produced. */
  | 'invalid-state'
  /** A snapshot of a device configured differently (streams, jacks, rates...). */
  | 'config-mismatch'
  /** The state cannot be saved now (a control request is in flight); try again. */
  | 'busy';

/** The one error a snapshot reader (or a save that cannot be made now) throws. */
export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
  constructor(
    readonly reason: SnapshotErrorReason,
    message: string,
  ) {
    super(`snapshot: ${message}`);
  }
}

/**
 * A restore that has been read and checked in full and can no longer fail:
 * apply() changes the object it was prepared for, synchronously, and never
 * throws. Prepare every part of a composite first, then apply them all, and
 * a bad snapshot changes nothing.
 */
export interface PreparedRestore {
  apply(): void;
}

export const SNAPSHOT_MAGIC = tag('VSNP');
export const SNAPSHOT_VERSION = 1;
const HEADER_BYTES = 16;
const SECTION_HEADER_BYTES = 8;
/** No snapshot of ours has more sections than this. */
const MAX_SECTIONS = 4096;

/** A four-letter ASCII tag as the u32 it is stored as (first letter in the low byte). */
export function tag(name: string): number {
  if (!/^[\x20-\x7e]{4}$/.test(name)) throw new TypeError(`tag '${name}' is not 4 ASCII letters`);
  return (
    (name.charCodeAt(0) |
      (name.charCodeAt(1) << 8) |
      (name.charCodeAt(2) << 16) |
      (name.charCodeAt(3) << 24)) >>>
    0
  );
}

/** The letters of a tag (for messages; non-printable bytes as '?'). */
export function tagName(t: number): string {
  let s = '';
  for (let k = 0; k < 4; k++) {
    const c = (t >>> (8 * k)) & 0xff;
    s += c >= 0x20 && c <= 0x7e ? String.fromCharCode(c) : '?';
  }
  return s;
}

/** Appends little-endian values; finish() returns the bytes. */
export class SnapshotWriter {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private at = 0;

  private room(n: number): number {
    const at = this.at;
    if (at + n > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < at + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, at));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.at = at + n;
    return at;
  }

  u8(v: number): this {
    const at = this.room(1);
    this.view.setUint8(at, v);
    return this;
  }
  bool(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }
  u16(v: number): this {
    const at = this.room(2);
    this.view.setUint16(at, v, true);
    return this;
  }
  u32(v: number): this {
    const at = this.room(4);
    this.view.setUint32(at, v >>> 0, true);
    return this;
  }
  i32(v: number): this {
    const at = this.room(4);
    this.view.setInt32(at, v | 0, true);
    return this;
  }
  /** An integer in 0..2^53 (a frame count, a position) as a u64. */
  u53(v: number): this {
    this.u32(v % 2 ** 32);
    return this.u32(Math.floor(v / 2 ** 32));
  }
  u64(v: bigint): this {
    const at = this.room(8);
    this.view.setBigUint64(at, BigInt.asUintN(64, v), true);
    return this;
  }
  f32(v: number): this {
    const at = this.room(4);
    this.view.setFloat32(at, v, true);
    return this;
  }
  f64(v: number): this {
    const at = this.room(8);
    this.view.setFloat64(at, v, true);
    return this;
  }
  /** Raw bytes, copied now (a view of live memory may change after). */
  bytes(b: Uint8Array): this {
    const at = this.room(b.length);
    this.buf.set(b, at);
    return this;
  }
  /** A u32 length, then the bytes. */
  blob(b: Uint8Array): this {
    this.u32(b.length);
    return this.bytes(b);
  }
  /** A u32 length, then the string's char codes (ASCII / Latin-1). */
  str(s: string): this {
    this.u32(s.length);
    for (let i = 0; i < s.length; i++) this.u8(s.charCodeAt(i) & 0xff);
    return this;
  }
  /** Float32 samples (raw little-endian). */
  floats(f: Float32Array): this {
    const at = this.room(4 * f.length);
    for (let i = 0; i < f.length; i++) this.view.setFloat32(at + 4 * i, f[i], true);
    return this;
  }

  get length(): number {
    return this.at;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.at);
  }
}

/** Builds a snapshot: a header, then sections in the order they are added. */
export class SnapshotBuilder {
  private readonly w = new SnapshotWriter();
  private sections = 0;
  private readonly countAt: number;

  constructor(kind: string) {
    this.w.u32(SNAPSHOT_MAGIC).u16(SNAPSHOT_VERSION).u16(HEADER_BYTES).u32(tag(kind));
    this.countAt = this.w.length;
    this.w.u32(0);
  }

  /** A section whose payload `fill` writes. */
  section(name: string, fill: (w: SnapshotWriter) => void): this {
    const inner = new SnapshotWriter();
    fill(inner);
    return this.raw(name, inner.finish());
  }

  /** A section holding `payload` as it is (e.g. a nested snapshot). */
  raw(name: string, payload: Uint8Array): this {
    this.w.u32(tag(name)).blob(payload);
    this.sections++;
    return this;
  }

  finish(): Uint8Array {
    const out = this.w.finish();
    new DataView(out.buffer).setUint32(this.countAt, this.sections, true);
    return out;
  }
}

/**
 * A snapshot of `kind` holding `sections` as they are, as a list of chunks
 * to concatenate (a Blob, a stream) without copying the payloads: for
 * containers of large parts, such as an emulator's machine state beside
 * ours. The bytes are the same as SnapshotBuilder.raw() would make.
 */
export function snapshotChunks(
  kind: string,
  sections: readonly (readonly [name: string, payload: Uint8Array])[],
): Uint8Array<ArrayBufferLike>[] {
  const header = new Uint8Array(HEADER_BYTES);
  const h = new DataView(header.buffer);
  h.setUint32(0, SNAPSHOT_MAGIC, true);
  h.setUint16(4, SNAPSHOT_VERSION, true);
  h.setUint16(6, HEADER_BYTES, true);
  h.setUint32(8, tag(kind), true);
  h.setUint32(12, sections.length, true);
  const out: Uint8Array<ArrayBufferLike>[] = [header];
  for (const [name, payload] of sections) {
    const s = new Uint8Array(SECTION_HEADER_BYTES);
    const v = new DataView(s.buffer);
    v.setUint32(0, tag(name), true);
    v.setUint32(4, payload.length, true);
    out.push(s, payload);
  }
  return out;
}

/** Reads little-endian values from a payload; each read checks what is left. */
export class SnapshotReader {
  private readonly view: DataView;
  private at = 0;

  constructor(
    readonly bytes: Uint8Array,
    /** Where these bytes come from, for messages (a section tag...). */
    readonly where = 'snapshot',
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.at;
  }

  private take(n: number): number {
    if (n > this.remaining) {
      throw new SnapshotError(
        'truncated',
        `${this.where}: ${n} bytes wanted at ${this.at}, ${this.remaining} left`,
      );
    }
    const at = this.at;
    this.at += n;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.take(1));
  }
  bool(what: string): boolean {
    const v = this.u8();
    if (v > 1) throw this.invalid(`${what} is ${v}, not 0 or 1`);
    return v === 1;
  }
  u16(): number {
    return this.view.getUint16(this.take(2), true);
  }
  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }
  i32(): number {
    return this.view.getInt32(this.take(4), true);
  }
  u53(what: string): number {
    const lo = this.u32();
    const hi = this.u32();
    if (hi >= 2 ** 21) throw this.invalid(`${what} is beyond 2^53`);
    return hi * 2 ** 32 + lo;
  }
  u64(): bigint {
    return this.view.getBigUint64(this.take(8), true);
  }
  f32(): number {
    return this.view.getFloat32(this.take(4), true);
  }
  /** A float32 that must be finite (a gain, a sample...). */
  finite32(what: string): number {
    const v = this.f32();
    if (!Number.isFinite(v)) throw this.invalid(`${what} is not finite`);
    return v;
  }
  f64(): number {
    return this.view.getFloat64(this.take(8), true);
  }
  /** `n` raw bytes (a view into the snapshot, not a copy). */
  raw(n: number): Uint8Array {
    const at = this.take(n);
    return this.bytes.subarray(at, at + n);
  }
  /** A u32 length (at most `max`), then that many bytes. */
  blob(max: number, what: string): Uint8Array {
    return this.raw(this.length(max, what));
  }
  str(max: number, what: string): string {
    const b = this.blob(max, what);
    let s = '';
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return s;
  }
  /** `n` float32 samples, each finite. */
  floats(n: number, what: string): Float32Array {
    const at = this.take(4 * n);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = this.view.getFloat32(at + 4 * i, true);
      if (!Number.isFinite(v)) throw this.invalid(`${what}[${i}] is not finite`);
      out[i] = v;
    }
    return out;
  }

  /** A u32 count of items, at most `max`, each at least `minItemBytes` long. */
  count(max: number, what: string, minItemBytes = 1): number {
    const n = this.u32();
    if (n > max) {
      throw new SnapshotError('count-out-of-range', `${this.where}: ${n} ${what}, at most ${max}`);
    }
    if (n * minItemBytes > this.remaining) {
      throw new SnapshotError(
        'truncated',
        `${this.where}: ${n} ${what} cannot fit in ${this.remaining} bytes`,
      );
    }
    return n;
  }

  /** A u32 byte length, at most `max` and at most what is left. */
  length(max: number, what: string): number {
    const n = this.u32();
    if (n > max) {
      throw new SnapshotError(
        'length-out-of-range',
        `${this.where}: ${what} of ${n} bytes, at most ${max}`,
      );
    }
    if (n > this.remaining) {
      throw new SnapshotError(
        'truncated',
        `${this.where}: ${what} of ${n} bytes, ${this.remaining} left`,
      );
    }
    return n;
  }

  /** A u32 index below `limit`. */
  index(limit: number, what: string): number {
    const v = this.u32();
    if (v >= limit) {
      throw new SnapshotError('index-out-of-range', `${this.where}: ${what} ${v} >= ${limit}`);
    }
    return v;
  }

  /** A u32 that must be one of `allowed`. */
  oneOf(allowed: readonly number[], what: string): number {
    const v = this.u32();
    if (!allowed.includes(v))
      throw this.invalid(`${what} ${v} is not one of ${allowed.join(', ')}`);
    return v;
  }

  /** The payload must be used up exactly. */
  end(): void {
    if (this.remaining !== 0) {
      throw new SnapshotError(
        'length-out-of-range',
        `${this.where}: ${this.remaining} bytes left over`,
      );
    }
  }

  invalid(message: string): SnapshotError {
    return new SnapshotError('invalid-state', `${this.where}: ${message}`);
  }
}

/** A parsed snapshot: its kind and its sections in order. */
export class SnapshotSections {
  private readonly used = new Set<number>();

  constructor(
    readonly kind: string,
    readonly sections: readonly { tag: string; payload: Uint8Array }[],
  ) {}

  /** All sections called `name`, in order, as readers. */
  all(name: string): SnapshotReader[] {
    const out: SnapshotReader[] = [];
    this.sections.forEach((s, i) => {
      if (s.tag !== name) return;
      this.used.add(i);
      out.push(new SnapshotReader(s.payload, `${this.kind}/${name}`));
    });
    return out;
  }

  /** The one section called `name`. */
  one(name: string): SnapshotReader {
    const r = this.all(name);
    if (r.length !== 1) {
      throw new SnapshotError(
        'bad-section',
        `${this.kind}: ${r.length === 0 ? 'no' : r.length} '${name}' section${r.length === 0 ? '' : 's'}, want one`,
      );
    }
    return r[0];
  }

  /** The payload of the one section called `name` (a nested snapshot, say). */
  payload(name: string): Uint8Array {
    const r = this.one(name);
    return r.raw(r.remaining);
  }

  /** The section called `name`, or null when there is none (at most one). */
  optional(name: string): SnapshotReader | null {
    const r = this.all(name);
    if (r.length > 1)
      throw new SnapshotError('bad-section', `${this.kind}: ${r.length} '${name}' sections`);
    return r[0] ?? null;
  }

  /** Every section must have been read: an unknown one means a snapshot we do not understand. */
  end(): void {
    this.sections.forEach((s, i) => {
      if (!this.used.has(i))
        throw new SnapshotError('bad-section', `${this.kind}: unknown section '${s.tag}'`);
    });
  }
}

/** Parses the header and section table of a snapshot of `kind`. Copies nothing. */
export function readSnapshot(bytes: Uint8Array, kind: string): SnapshotSections {
  if (!(bytes instanceof Uint8Array)) {
    throw new SnapshotError('bad-magic', 'a snapshot is a Uint8Array');
  }
  const r = new SnapshotReader(bytes, kind);
  if (bytes.length < 4 || r.u32() !== SNAPSHOT_MAGIC) {
    throw new SnapshotError('bad-magic', 'not a virtio-snd snapshot (magic is not VSNP)');
  }
  const version = r.u16();
  if (version !== SNAPSHOT_VERSION) {
    throw new SnapshotError(
      'unsupported-version',
      `format version ${version}; this code reads version ${SNAPSHOT_VERSION}`,
    );
  }
  const headerBytes = r.u16();
  if (headerBytes !== HEADER_BYTES) {
    throw new SnapshotError(
      'length-out-of-range',
      `header of ${headerBytes} bytes, want ${HEADER_BYTES}`,
    );
  }
  const k = tagName(r.u32());
  if (k !== kind) throw new SnapshotError('wrong-kind', `a '${k}' snapshot, not '${kind}'`);
  const n = r.count(MAX_SECTIONS, 'sections', SECTION_HEADER_BYTES);
  const sections: { tag: string; payload: Uint8Array }[] = [];
  for (let i = 0; i < n; i++) {
    const t = tagName(r.u32());
    const len = r.length(Number.MAX_SAFE_INTEGER, `section '${t}'`);
    sections.push({ tag: t, payload: r.raw(len) });
  }
  r.end();
  return new SnapshotSections(k, sections);
}
