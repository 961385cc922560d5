/**
 * Fuzz inputs as structured choices, in both directions: a case shape is
 * described once, as a function over a {@link Codec}, which either reads the
 * choices from a fuzzer's bytes ({@link ByteReader}: libFuzzer's input to a
 * case) or writes a given case's choices as bytes ({@link ByteWriter}: seed
 * corpus files, and fast-check's cases turned into corpus entries).
 *
 * Reading is total: past the end every read is 0 (the first choice), so any
 * input decodes, and a short input decodes to the simplest case that
 * libFuzzer can grow. No dependency on the fuzzing engine: the corpus replays
 * under vitest without the native addon.
 */

/** One choice at a time; `v` is the value to write (ignored when reading). */
export interface Codec {
  u8(v?: number): number;
  u16(v?: number): number;
  u32(v?: number): number;
  bool(v?: boolean): boolean;
  /** An integer in [min, max] (max - min < 2^32). */
  range(min: number, max: number, v?: number): number;
  pick<T>(choices: readonly T[], v?: T): T;
  /** `n` bytes (fewer if a read input ends: so a case's last field may be written shorter). */
  bytes(n: number, v?: Uint8Array): Uint8Array;
}

const spanBytes = (span: number) => (span <= 256 ? 1 : span <= 65536 ? 2 : 4);

export class ByteReader implements Codec {
  private at = 0;

  constructor(private readonly data: Uint8Array) {}

  u8(): number {
    return this.at < this.data.length ? this.data[this.at++] : 0;
  }

  u16(): number {
    return this.u8() | (this.u8() << 8);
  }

  u32(): number {
    return (this.u16() | (this.u16() << 16)) >>> 0;
  }

  bool(): boolean {
    return (this.u8() & 1) === 1;
  }

  range(min: number, max: number): number {
    const span = max - min + 1;
    const w = spanBytes(span);
    const v = w === 1 ? this.u8() : w === 2 ? this.u16() : this.u32();
    return min + (v % span);
  }

  pick<T>(choices: readonly T[]): T {
    return choices[this.range(0, choices.length - 1)];
  }

  bytes(n: number): Uint8Array {
    const out = this.data.slice(this.at, this.at + n);
    this.at += out.length;
    return out;
  }
}

export class ByteWriter implements Codec {
  private readonly out: number[] = [];

  private need<T>(v: T | undefined, what: string): T {
    if (v === undefined) throw new TypeError(`ByteWriter: no value for ${what}`);
    return v;
  }

  u8(v?: number): number {
    const x = this.need(v, 'u8');
    this.out.push(x & 0xff);
    return x & 0xff;
  }

  u16(v?: number): number {
    const x = this.need(v, 'u16') & 0xffff;
    this.out.push(x & 0xff, x >>> 8);
    return x;
  }

  u32(v?: number): number {
    const x = this.need(v, 'u32') >>> 0;
    this.u16(x & 0xffff);
    this.u16(x >>> 16);
    return x;
  }

  bool(v?: boolean): boolean {
    const x = this.need(v, 'bool');
    this.out.push(x ? 1 : 0);
    return x;
  }

  range(min: number, max: number, v?: number): number {
    const x = this.need(v, `range ${min}..${max}`);
    if (!Number.isInteger(x) || x < min || x > max)
      throw new RangeError(`ByteWriter: ${x} outside [${min}, ${max}]`);
    const w = spanBytes(max - min + 1);
    const d = x - min;
    if (w === 1) this.u8(d);
    else if (w === 2) this.u16(d);
    else this.u32(d);
    return x;
  }

  pick<T>(choices: readonly T[], v?: T): T {
    const i = choices.indexOf(this.need(v, 'pick'));
    if (i < 0) throw new RangeError(`ByteWriter: ${String(v)} is not a choice`);
    this.range(0, choices.length - 1, i);
    return choices[i];
  }

  bytes(n: number, v?: Uint8Array): Uint8Array {
    const b = this.need(v, 'bytes');
    if (b.length > n) throw new RangeError(`ByteWriter: ${b.length} bytes, at most ${n}`);
    for (const x of b) this.out.push(x);
    return b;
  }

  done(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}
