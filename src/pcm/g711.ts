/**
 * ITU-T G.711 mu-law and A-law, as in the classic Sun reference (g711.c):
 * decode tables scaled to [-1, 1) (linear value / 32768), and encoders from
 * 16-bit linear through 64 KiB lookup tables built once at load, so encoding
 * in the audio thread is one array read.
 */

function ulawToLinear(u: number): number {
  const x = ~u & 0xff;
  let t = ((x & 0x0f) << 3) + 0x84;
  t <<= (x & 0x70) >> 4;
  return x & 0x80 ? 0x84 - t : t - 0x84;
}

function alawToLinear(a: number): number {
  const x = a ^ 0x55;
  let t = (x & 0x0f) << 4;
  const seg = (x & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return x & 0x80 ? t : -t;
}

const SEG_UEND = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
const SEG_AEND = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];

function segment(v: number, ends: readonly number[]): number {
  for (let i = 0; i < ends.length; i++) if (v <= ends[i]) return i;
  return ends.length;
}

function linearToUlaw(pcm16: number): number {
  let v = pcm16 >> 2;
  let mask: number;
  if (v < 0) {
    v = -v;
    mask = 0x7f;
  } else {
    mask = 0xff;
  }
  if (v > 8159) v = 8159;
  v += 0x84 >> 2;
  const seg = segment(v, SEG_UEND);
  if (seg >= 8) return 0x7f ^ mask;
  return ((seg << 4) | ((v >> (seg + 1)) & 0xf)) ^ mask;
}

function linearToAlaw(pcm16: number): number {
  let v = pcm16 >> 3;
  let mask: number;
  if (v >= 0) {
    mask = 0xd5;
  } else {
    mask = 0x55;
    v = -v - 1;
  }
  const seg = segment(v, SEG_AEND);
  if (seg >= 8) return 0x7f ^ mask;
  let a = seg << 4;
  a |= seg < 2 ? (v >> 1) & 0xf : (v >> seg) & 0xf;
  return a ^ mask;
}

export const ulawDecodeTable = new Float32Array(256);
export const alawDecodeTable = new Float32Array(256);
/** Linear values (int16) of each code, for tests and references. */
export const ulawLinear = new Int16Array(256);
export const alawLinear = new Int16Array(256);
for (let c = 0; c < 256; c++) {
  ulawLinear[c] = ulawToLinear(c);
  alawLinear[c] = alawToLinear(c);
  ulawDecodeTable[c] = ulawLinear[c] / 32768;
  alawDecodeTable[c] = alawLinear[c] / 32768;
}

const ulawEncodeTable = new Uint8Array(65536);
const alawEncodeTable = new Uint8Array(65536);
for (let i = 0; i < 65536; i++) {
  const pcm = i - 32768;
  ulawEncodeTable[i] = linearToUlaw(pcm);
  alawEncodeTable[i] = linearToAlaw(pcm);
}

/** mu-law code of a 16-bit linear sample (-32768..32767). */
export function ulawEncode(pcm16: number): number {
  return ulawEncodeTable[pcm16 + 32768];
}

/** A-law code of a 16-bit linear sample (-32768..32767). */
export function alawEncode(pcm16: number): number {
  return alawEncodeTable[pcm16 + 32768];
}
