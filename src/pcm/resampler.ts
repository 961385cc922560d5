/**
 * Band-limited sample-rate conversion: a polyphase windowed-sinc (Kaiser) FIR
 * with exact rational position tracking, so there is no drift, ever.
 *
 * The work is split by thread: designResampler() computes the coefficient
 * table (allocates; runs in the control plane at PREPARE), and Resampler runs
 * it (allocation-free; the audio thread), reading the table where the design
 * put it, e.g. in shared memory.
 *
 * Positions: output frame n sits at input time n * M / L, where
 * L / M = outRate / inRate reduced. For n = i*L/M... the integer part i and
 * phase p = (n * M) mod L advance with integer arithmetic only.
 */

/** The fastest stream rate virtio-snd defines (VIRTIO_SND_PCM_RATE_384000). */
export const MAX_STREAM_RATE = 384000;
/** Taps of the kernel when upsampling; scaled by the ratio when downsampling. */
export const BASE_TAPS = 96;
/** Phase rows of an interpolated table (when L is too large for exact phases). */
const MAX_PHASES = 512;
/** Kaiser beta for about 100 dB of stopband attenuation. */
const KAISER_BETA = 10.06;
/** Cutoff as a fraction of the lower Nyquist: the stopband starts at that Nyquist. */
const CUTOFF = 0.9;

export interface ResamplerDesign {
  inRate: number;
  outRate: number;
  /** Reduced ratio: L output frames for every M input frames. */
  L: number;
  M: number;
  /** Taps per phase (even). */
  taps: number;
  /** Rows in the table: L when exact, else phases + 1 for interpolation. */
  rows: number;
  /** True when every phase has its own row (no interpolation). */
  exact: boolean;
  /** rows * taps coefficients, row-major. */
  coefs: Float32Array;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Modified Bessel function of the first kind, order 0 (series). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 64; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** Words a design of these rates needs (the shared coefficient region is sized with it). */
export function designSize(inRate: number, outRate: number): { rows: number; taps: number } {
  const g = gcd(inRate, outRate);
  const L = outRate / g;
  const down = Math.max(1, inRate / outRate);
  const taps = 2 * Math.ceil((BASE_TAPS * down) / 2);
  if (L <= MAX_PHASES) return { rows: L, taps };
  const phases = Math.max(16, Math.ceil(MAX_PHASES / down));
  return { rows: phases + 1, taps };
}

export function designResampler(inRate: number, outRate: number): ResamplerDesign {
  if (!(Number.isInteger(inRate) && Number.isInteger(outRate) && inRate > 0 && outRate > 0)) {
    throw new RangeError(`resampler rates must be positive integers (${inRate} -> ${outRate})`);
  }
  const g = gcd(inRate, outRate);
  const L = outRate / g;
  const M = inRate / g;
  const { rows, taps } = designSize(inRate, outRate);
  const exact = L <= MAX_PHASES;
  // Cutoff in cycles per input sample.
  const fc = 0.5 * Math.min(1, outRate / inRate) * CUTOFF;
  const half = taps / 2;
  const i0beta = besselI0(KAISER_BETA);
  const coefs = new Float32Array(rows * taps);
  const row = new Float64Array(taps);
  for (let r = 0; r < rows; r++) {
    const phi = exact ? r / L : r / (rows - 1);
    let sum = 0;
    for (let k = 0; k < taps; k++) {
      // Tap k multiplies input frame (i - half + 1 + k) for output time i + phi.
      const tau = phi + half - 1 - k;
      const x = 2 * fc * tau;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const u = tau / half;
      const w = u * u < 1 ? besselI0(KAISER_BETA * Math.sqrt(1 - u * u)) / i0beta : 0;
      row[k] = 2 * fc * sinc * w;
      sum += row[k];
    }
    // Unity gain at DC for every phase.
    for (let k = 0; k < taps; k++) coefs[r * taps + k] = row[k] / sum;
  }
  return { inRate, outRate, L, M, taps, rows, exact, coefs };
}

/**
 * The running converter for interleaved stereo (or any channel count fixed
 * at construction). Buffers are sized at construction for the largest design
 * it will be given; configure() switches designs without allocating.
 */
export class Resampler {
  private L = 1;
  private M = 1;
  private taps = 2;
  private rows = 1;
  private exact = true;
  private table: Float32Array = new Float32Array(0);
  private tableOffset = 0;
  /** Input frames [start, end) (absolute indices) held in `hist`, interleaved. */
  private readonly hist: Float32Array;
  private start = 0;
  private end = 0;
  /** Next output's integer input position and phase numerator (0..L-1). */
  private pos = 0;
  private phase = 0;

  constructor(
    readonly channels: number,
    /** The most frames held at once: taps + the largest input of one call. */
    readonly capacity: number,
  ) {
    this.hist = new Float32Array(capacity * channels);
  }

  /**
   * Uses the design at `table[offset...]` (rows * taps coefficients).
   * Resets the history: a new stream starts from silence.
   */
  configure(
    d: Pick<ResamplerDesign, 'L' | 'M' | 'taps' | 'rows' | 'exact'>,
    table: Float32Array,
    offset: number,
  ): void {
    this.L = d.L;
    this.M = d.M;
    this.taps = d.taps;
    this.rows = d.rows;
    this.exact = d.exact;
    this.table = table;
    this.tableOffset = offset;
    this.reset();
  }

  /** Back to silence at position 0. */
  reset(): void {
    const pre = this.taps / 2 - 1;
    this.hist.fill(0, 0, pre * this.channels);
    this.start = -pre;
    this.end = 0;
    this.pos = 0;
    this.phase = 0;
  }

  /** Input frames the kernel reaches ahead of the output position (group delay). */
  get latencyFrames(): number {
    return this.taps / 2;
  }

  /** New input frames needed to produce `outFrames` output frames (pull mode). */
  framesNeeded(outFrames: number): number {
    const last = (this.pos + (((this.phase + (outFrames - 1) * this.M) / this.L) | 0)) | 0;
    return Math.max(0, (last + (this.taps >> 1) + 1 - this.end) | 0);
  }

  /** Largest output a push of `inFrames` frames can produce. */
  maxOutputFrames(inFrames: number): number {
    return Math.ceil(((inFrames + this.taps) * this.L) / this.M) + 1;
  }

  /** Pull mode: consumes exactly framesNeeded(outFrames) frames from `input`, writes `outFrames`. */
  pull(input: Float32Array, inFrames: number, output: Float32Array, outFrames: number): void {
    this.append(input, inFrames);
    for (let n = 0; n < outFrames; n++) this.produce(output, n);
    this.compact();
  }

  /** Push mode: consumes all `inFrames` frames, writes what they allow; returns frames written. */
  push(input: Float32Array, inFrames: number, output: Float32Array): number {
    this.append(input, inFrames);
    const half = this.taps >> 1;
    let n = 0;
    while (this.pos + half < this.end) this.produce(output, n++);
    this.compact();
    return n;
  }

  private append(input: Float32Array, frames: number): void {
    const ch = this.channels;
    const at = (this.end - this.start) * ch;
    const n = frames * ch;
    for (let i = 0; i < n; i++) this.hist[at + i] = input[i];
    this.end += frames;
  }

  /** Computes output frame `n` at the current position, then advances it. */
  private produce(output: Float32Array, n: number): void {
    const ch = this.channels;
    const taps = this.taps;
    const hist = this.hist;
    const first = (this.pos - (taps >> 1) + 1 - this.start) * ch;
    const t = this.table;
    let rowA: number;
    let frac = 0;
    if (this.exact) {
      rowA = this.tableOffset + this.phase * taps;
    } else {
      const r = (this.phase / this.L) * (this.rows - 1);
      const r0 = Math.floor(r);
      frac = r - r0;
      rowA = this.tableOffset + r0 * taps;
    }
    const rowB = rowA + taps;
    if (ch === 2 && frac === 0) {
      // Stereo on an exact table (the usual case): both channels in one pass,
      // one coefficient load for two products; the same sums in the same order.
      let accL = 0;
      let accR = 0;
      for (let k = 0, h = first; k < taps; k++, h += 2) {
        const w = t[rowA + k];
        accL += hist[h] * w;
        accR += hist[h + 1] * w;
      }
      output[2 * n] = accL;
      output[2 * n + 1] = accR;
    } else {
      for (let c = 0; c < ch; c++) {
        let acc = 0;
        let h = first + c;
        if (frac === 0) {
          for (let k = 0; k < taps; k++, h += ch) acc += hist[h] * t[rowA + k];
        } else {
          for (let k = 0; k < taps; k++, h += ch) {
            const a = t[rowA + k];
            acc += hist[h] * (a + frac * (t[rowB + k] - a));
          }
        }
        output[n * ch + c] = acc;
      }
    }
    // `| 0` keeps these small integers (Smis): a double here would box on every store.
    const p = (this.phase + this.M) | 0;
    this.pos = (this.pos + ((p / this.L) | 0)) | 0;
    this.phase = (p % this.L) | 0;
  }

  /** Drops frames no future output can reach. */
  private compact(): void {
    const keepFrom = (this.pos - (this.taps >> 1) + 1) | 0;
    const drop = keepFrom - this.start;
    if (drop <= 0) return;
    const ch = this.channels;
    this.hist.copyWithin(0, drop * ch, (this.end - this.start) * ch);
    this.start = keepFrom;
  }
}
