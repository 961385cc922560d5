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
 * Input frames one pull of `outFrames` output frames at `outRate` may take,
 * at most, for any stream rate: the frames the output spans at the fastest
 * rate, plus the kernel's look-ahead the first pull after a reset fills
 * (taps / 2 + 1: at 384 kHz on a 48 kHz context, 385 frames on top of the
 * 1024 a 128-frame quantum spans).
 */
export function maxPullInput(outFrames: number, outRate: number): number {
  const lookahead = designSize(MAX_STREAM_RATE, outRate).taps / 2 + 1;
  return Math.ceil((outFrames * MAX_STREAM_RATE) / outRate) + 2 + lookahead;
}

/** Frames a Resampler must hold for designs of up to `maxTaps` taps and calls of up to `maxInput` frames. */
export function historyFrames(maxTaps: number, maxInput: number): number {
  return maxTaps + maxInput + 4;
}

/**
 * Where a Resampler keeps its state when the state must outlive it, or be
 * read from another thread (shared memory, for snapshots): `hist` holds the
 * input frames still needed, `words` [start, end, pos, phase].
 */
export interface ResamplerStorage {
  hist: Float32Array;
  words: Int32Array;
}
export const RESAMPLER_STATE_WORDS = 4;
const W_START = 0;
const W_END = 1;
const W_POS = 2;
const W_PHASE = 3;

/** A resampler's position and history, as plain values (snapshots). */
export interface ResamplerState {
  start: number;
  end: number;
  pos: number;
  phase: number;
  /** (end - start) * channels samples, interleaved. */
  history: Float32Array;
}

/**
 * The running converter for interleaved stereo (or any channel count fixed
 * at construction). Buffers are sized at construction for the largest design
 * it will be given; configure() switches designs without allocating.
 *
 * With a ResamplerStorage, the history lives there and the position is
 * stored there after every call: configure() then takes the state it finds
 * (set by startState() when the stream is prepared, or by a restore) instead
 * of starting from silence.
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

  private readonly words: Int32Array | null;

  constructor(
    readonly channels: number,
    /** The most frames held at once: taps + the largest input of one call. */
    readonly capacity: number,
    storage?: ResamplerStorage,
  ) {
    if (storage && storage.hist.length < capacity * channels) {
      throw new RangeError('resampler storage smaller than its capacity');
    }
    this.hist = storage ? storage.hist : new Float32Array(capacity * channels);
    this.words = storage ? storage.words : null;
  }

  /**
   * Writes the state of a converter of `taps` taps starting from silence
   * at position 0 into `storage` (what reset() does, for a Resampler not
   * made yet: the control plane prepares it, the audio thread picks it up).
   */
  static startState(taps: number, channels: number, storage: ResamplerStorage): void {
    const pre = taps / 2 - 1;
    storage.hist.fill(0, 0, pre * channels);
    const w = storage.words;
    w[W_START] = -pre;
    w[W_END] = 0;
    w[W_POS] = 0;
    w[W_PHASE] = 0;
  }

  /**
   * Why `s` could not be the state of a converter of `taps` taps, phases
   * `L` and `capacity` frames, or null. Every call leaves start at
   * pos - taps/2 + 1 and at most taps + 1 frames held.
   */
  static checkState(
    s: Omit<ResamplerState, 'history'>,
    taps: number,
    L: number,
    capacity: number,
  ): string | null {
    const held = s.end - s.start;
    if (![s.start, s.end, s.pos, s.phase].every((v) => Number.isInteger(v) && (v | 0) === v)) {
      return 'positions are not 32-bit integers';
    }
    if (((s.pos - (taps >> 1) + 1 - s.start) | 0) !== 0)
      return 'history does not start where the kernel reaches';
    if (held < 0 || held > taps + 1 || held > capacity) return `${held} frames held`;
    if (s.phase < 0 || s.phase >= L) return `phase ${s.phase} of ${L}`;
    return null;
  }

  /** Reads a state (in `storage`) as plain values. */
  static readState(channels: number, storage: ResamplerStorage): ResamplerState {
    const w = storage.words;
    const held = Math.max(0, Math.min(w[W_END] - w[W_START], storage.hist.length / channels));
    return {
      start: w[W_START],
      end: w[W_END],
      pos: w[W_POS],
      phase: w[W_PHASE],
      history: storage.hist.slice(0, held * channels),
    };
  }

  /** Writes a state (checked with checkState) into `storage`. */
  static writeState(s: ResamplerState, storage: ResamplerStorage): void {
    storage.hist.set(s.history);
    const w = storage.words;
    w[W_START] = s.start;
    w[W_END] = s.end;
    w[W_POS] = s.pos;
    w[W_PHASE] = s.phase;
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
    const w = this.words;
    if (w === null) {
      this.reset();
      return;
    }
    const state = { start: w[W_START], end: w[W_END], pos: w[W_POS], phase: w[W_PHASE] };
    // Storage that does not hold a state of this design (never prepared) starts from silence.
    if (Resampler.checkState(state, this.taps, this.L, this.capacity) !== null) {
      this.reset();
      return;
    }
    this.start = state.start;
    this.end = state.end;
    this.pos = state.pos;
    this.phase = state.phase;
  }

  /** Back to silence at position 0. */
  reset(): void {
    const pre = this.taps / 2 - 1;
    this.hist.fill(0, 0, pre * this.channels);
    this.start = -pre;
    this.end = 0;
    this.pos = 0;
    this.phase = 0;
    this.store();
  }

  /** Publishes the position to the storage (a few stores; the history is already there). */
  private store(): void {
    const w = this.words;
    if (w === null) return;
    w[W_START] = this.start;
    w[W_END] = this.end;
    w[W_POS] = this.pos;
    w[W_PHASE] = this.phase;
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
    this.store();
  }

  /** Push mode: consumes all `inFrames` frames, writes what they allow; returns frames written. */
  push(input: Float32Array, inFrames: number, output: Float32Array): number {
    this.append(input, inFrames);
    const half = this.taps >> 1;
    let n = 0;
    while (this.pos + half < this.end) this.produce(output, n++);
    this.compact();
    this.store();
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
