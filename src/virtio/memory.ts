/**
 * Guest memory: a byte array where a guest physical address is a byte offset.
 *
 * Every accessor checks its range first; an access outside memory throws a
 * {@link GuestMemoryError} that names the address and length. Hot paths that
 * must not throw (the audio thread) call {@link GuestMemory.contains} first and
 * then use the zero-copy views ({@link GuestMemory.u8}, {@link GuestMemory.view}).
 *
 * All multi-byte values are little-endian, as virtio 1.x requires. The atomic
 * accessors use the host's byte order, which is little-endian on every
 * platform that runs browsers and Node.js.
 */

export class GuestMemoryError extends RangeError {
  override readonly name = 'GuestMemoryError';
  constructor(
    readonly addr: number,
    readonly length: number,
    readonly size: number,
    reason?: string,
  ) {
    super(
      reason ??
        `guest memory access out of range: [0x${addr.toString(16)}, +${length}) ` +
          `is outside [0, 0x${size.toString(16)})`,
    );
  }
}

/** The largest guest physical address we can represent exactly as a JS number. */
const MAX_SAFE_ADDR = Number.MAX_SAFE_INTEGER;

export class GuestMemory {
  /** The backing store: a SharedArrayBuffer in the browser, any ArrayBuffer when embedded. */
  readonly buffer: ArrayBufferLike;
  readonly size: number;
  /** Zero-copy byte view of all of guest memory. */
  readonly u8: Uint8Array;
  /** Zero-copy DataView of all of guest memory (use with littleEndian = true). */
  readonly view: DataView;
  /** 16- and 32-bit views for Atomics on naturally aligned ring indices. */
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;

  /**
   * Guest memory over `buffer`, or over [byteOffset, byteOffset + byteLength)
   * of it (an emulator's RAM inside its WebAssembly memory, for instance;
   * the offset must be 4-byte aligned).
   */
  constructor(
    buffer: ArrayBufferLike,
    byteOffset = 0,
    byteLength = buffer.byteLength - byteOffset,
  ) {
    if (byteOffset % 4 !== 0)
      throw new RangeError(`guest memory offset ${byteOffset} is not 4-byte aligned`);
    this.buffer = buffer;
    this.size = byteLength;
    this.u8 = new Uint8Array(buffer, byteOffset, byteLength);
    this.view = new DataView(buffer, byteOffset, byteLength);
    this.u16 = new Uint16Array(buffer, byteOffset, byteLength >>> 1);
    this.u32 = new Uint32Array(buffer, byteOffset, byteLength >>> 2);
  }

  /**
   * True when [addr, addr + length) lies inside memory. Never throws; safe for
   * untrusted values (NaN, negatives, non-integers and overflow all give false).
   */
  contains(addr: number, length: number): boolean {
    return (
      Number.isInteger(addr) &&
      Number.isInteger(length) &&
      addr >= 0 &&
      length >= 0 &&
      addr <= MAX_SAFE_ADDR - length &&
      addr + length <= this.size
    );
  }

  /** Throws a {@link GuestMemoryError} unless [addr, addr + length) is inside memory. */
  check(addr: number, length: number): void {
    if (!this.contains(addr, length)) throw new GuestMemoryError(addr, length, this.size);
  }

  readU8(addr: number): number {
    this.check(addr, 1);
    return this.u8[addr];
  }

  readU16(addr: number): number {
    this.check(addr, 2);
    return this.view.getUint16(addr, true);
  }

  readU32(addr: number): number {
    this.check(addr, 4);
    return this.view.getUint32(addr, true);
  }

  readU64(addr: number): bigint {
    this.check(addr, 8);
    return this.view.getBigUint64(addr, true);
  }

  writeU8(addr: number, value: number): void {
    this.check(addr, 1);
    this.u8[addr] = value;
  }

  writeU16(addr: number, value: number): void {
    this.check(addr, 2);
    this.view.setUint16(addr, value, true);
  }

  writeU32(addr: number, value: number): void {
    this.check(addr, 4);
    this.view.setUint32(addr, value >>> 0, true);
  }

  writeU64(addr: number, value: bigint): void {
    this.check(addr, 8);
    this.view.setBigUint64(addr, BigInt.asUintN(64, value), true);
  }

  /** Copies `length` bytes out of guest memory into `into` (or a new array). */
  read(addr: number, length: number, into?: Uint8Array): Uint8Array {
    this.check(addr, length);
    const out = into ?? new Uint8Array(length);
    if (out.length < length) throw new RangeError(`read target holds ${out.length} < ${length}`);
    out.set(this.u8.subarray(addr, addr + length));
    return out;
  }

  /** Copies `bytes` into guest memory at `addr`. */
  write(addr: number, bytes: ArrayLike<number>): void {
    this.check(addr, bytes.length);
    this.u8.set(bytes, addr);
  }

  /** Fills [addr, addr + length) with `value`. */
  fill(addr: number, length: number, value = 0): void {
    this.check(addr, length);
    this.u8.fill(value, addr, addr + length);
  }

  /** A zero-copy view of [addr, addr + length); it aliases guest memory. */
  bytes(addr: number, length: number): Uint8Array {
    this.check(addr, length);
    return this.u8.subarray(addr, addr + length);
  }

  /**
   * Atomic load of a naturally aligned le16 (ring indices). Atomics need
   * a SharedArrayBuffer to order across threads; on a plain ArrayBuffer
   * (an emulator's own RAM) they degrade to ordinary accesses, which is
   * correct for single-threaded embedding.
   */
  loadU16(addr: number): number {
    this.checkAligned(addr, 2);
    return Atomics.load(this.u16, addr >>> 1);
  }

  storeU16(addr: number, value: number): void {
    this.checkAligned(addr, 2);
    Atomics.store(this.u16, addr >>> 1, value);
  }

  loadU32(addr: number): number {
    this.checkAligned(addr, 4);
    return Atomics.load(this.u32, addr >>> 2);
  }

  storeU32(addr: number, value: number): void {
    this.checkAligned(addr, 4);
    Atomics.store(this.u32, addr >>> 2, value >>> 0);
  }

  private checkAligned(addr: number, width: number): void {
    this.check(addr, width);
    if (addr % width !== 0) {
      throw new GuestMemoryError(
        addr,
        width,
        this.size,
        `misaligned atomic access: 0x${addr.toString(16)} is not ${width}-byte aligned`,
      );
    }
  }
}
