/**
 * The demo's live view: oscilloscope and level meters from the device's
 * output tap (read straight from shared memory each animation frame), a
 * ticker of period completions, the capture stream's input level, and the
 * stream table. Drawing happens in requestAnimationFrame on the main thread,
 * far from the audio thread.
 */

import type { ServiceEvent, StreamStatus, VirtioSound } from 'virtio-snd-web/host';

const SCOPE_FRAMES = 2048;
const TICK_WINDOW_MS = 3000;
/** Meters show -60..0 dBFS. */
const FLOOR_DB = -60;
/** Input meter release (dB per second) and how long its peak marker holds. */
const RELEASE_DB_PER_S = 24;
const HOLD_MS = 1500;
/** Below this width the stream table is transposed: a row per field, a column per stream. */
const NARROW = '(max-width: 640px)';

const dbOf = (p: number) => 20 * Math.log10(p + 1e-9);
const pctOf = (db: number) =>
  Math.max(0, Math.min(100, ((db - FLOOR_DB) / -FLOOR_DB) * 100)).toFixed(1);

export interface LiveViewElements {
  scope: HTMLCanvasElement;
  ticker: HTMLCanvasElement;
  meterL: HTMLElement;
  meterR: HTMLElement;
  /** Native <meter>s (visually hidden) that carry the levels for assistive technology. */
  meterLValue: HTMLMeterElement;
  meterRValue: HTMLMeterElement;
  /** The stream table: its thead and tbody are rendered here. */
  table: HTMLTableElement;
  deviceStats: HTMLElement;
  /** The input level bar, with a .fill and a .hold child, its native <meter>, and its readout. */
  inputMeter: HTMLElement;
  inputValue: HTMLMeterElement;
  inputReadout: HTMLElement;
}

interface DeviceStream {
  id: number;
  direction: 'output' | 'input';
  state: string;
  queuedMessages: number;
  peak: number;
}

export class LiveView {
  private readonly left = new Float32Array(SCOPE_FRAMES);
  private readonly right = new Float32Array(SCOPE_FRAMES);
  private ticks: { t: number; stream: number; xrun: boolean }[] = [];
  private stats: StreamStatus[] = [];
  private deviceLine = '';
  private statsBusy = false;
  private lastStats = 0;
  private peakL = 0;
  private peakR = 0;
  private lastFrame = 0;
  private lastAria = 0;
  private lastReadout = 0;
  private inDb = FLOOR_DB;
  private holdDb = FLOOR_DB;
  private holdAt = 0;
  private readonly narrow = matchMedia(NARROW);
  private tableNarrow: boolean | null = null;
  private readonly scope: HTMLCanvasElement;
  private readonly ticker: HTMLCanvasElement;
  private readonly el: LiveViewElements;
  /** Completions seen, for tests and the heading. */
  periods = 0;
  xruns = 0;
  /** The capture stream's peak at the last stats poll (linear), or null while it is not running. */
  inputPeak: number | null = null;

  constructor(
    private readonly sound: VirtioSound,
    el: LiveViewElements,
  ) {
    this.el = el;
    this.scope = el.scope;
    this.ticker = el.ticker;
  }

  start(): void {
    const frame = (now: number) => {
      this.draw(now);
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  }

  /** Period and xrun events from the driver Worker (timestamps are the worker's clock). */
  events(batch: ServiceEvent[]): void {
    const now = performance.now();
    for (const e of batch) {
      if (e.type === 'period') {
        this.periods++;
        this.ticks.push({ t: now, stream: e.streamId ?? 0, xrun: false });
      } else if (e.type === 'xrun') {
        this.xruns++;
        this.ticks.push({ t: now, stream: e.streamId ?? 0, xrun: true });
      }
    }
  }

  private draw(now: number): void {
    const dt = this.lastFrame ? Math.min(0.25, (now - this.lastFrame) / 1000) : 0;
    this.lastFrame = now;
    this.sound.readScope(this.left, this.right);
    this.drawScope();
    this.drawMeters(now);
    this.drawInput(now, dt);
    this.drawTicker(now);
    // Stats every 100 ms; while recording every 50 ms: the capture stream's peak is that of
    // the last render quantum, so a meter has to sample it often (the table still
    // refreshes every 100 ms).
    const interval = this.inputPeak === null ? 100 : 50;
    if (now - this.lastStats > interval && !this.statsBusy) {
      this.statsBusy = true;
      void this.sound
        .stats()
        .then((s) => {
          this.pollInput(s.device.streams);
          if (now - this.lastStats < 100) return;
          this.lastStats = now;
          this.stats = s.streams;
          const d = s.device;
          this.deviceLine =
            `quanta ${d.quanta} · rendered ${(d.frames / this.sound.context.sampleRate).toFixed(1)} s · ` +
            `TX ${(d.txBytes / 1024).toFixed(0)} KiB · RX ${(d.rxBytes / 1024).toFixed(0)} KiB · ` +
            `control requests ${d.controlRequests} · events ${d.eventsDelivered} · bad messages ${d.badMessages}`;
          this.renderTable(s.device.streams);
        })
        .finally(() => {
          this.statsBusy = false;
        });
    }
  }

  private drawScope(): void {
    const c = this.scope;
    const w = Math.round(c.clientWidth * devicePixelRatio);
    const h = Math.round(180 * devicePixelRatio);
    // Resizing reallocates the canvas: only when the size changed.
    if (c.width !== w) c.width = w;
    if (c.height !== h) c.height = h;
    const g = c.getContext('2d');
    if (!g) return;
    g.clearRect(0, 0, w, h);
    g.fillStyle = '#263241';
    g.fillRect(0, Math.floor(h / 2), w, 1);
    // Trigger on a rising zero crossing so a steady tone stands still.
    let start = 0;
    for (let i = 1; i < SCOPE_FRAMES / 2; i++) {
      if (this.left[i - 1] <= 0 && this.left[i] > 0) {
        start = i;
        break;
      }
    }
    const span = SCOPE_FRAMES / 2;
    const thick = Math.max(1, Math.round(1.5 * devicePixelRatio));
    const yOf = (v: number) => h / 2 - v * (h / 2) * 0.95;
    // One rectangle per pixel column, from the lowest to the highest point the trace
    // passes there: what a stroked polyline shows, without stroking a long zigzag
    // (noise stroked as a path took ~55 ms a frame in software rendering).
    const trace = (data: Float32Array, color: string) => {
      g.fillStyle = color;
      let prev = yOf(data[start] ?? 0);
      for (let x = 0; x < w; x++) {
        const i0 = start + Math.floor((x / w) * span);
        const i1 = Math.max(i0 + 1, start + Math.floor(((x + 1) / w) * span));
        let lo = prev;
        let hi = prev;
        for (let i = i0; i < i1; i++) {
          const y = yOf(data[i] ?? 0);
          if (y < lo) lo = y;
          if (y > hi) hi = y;
        }
        g.fillRect(x, lo - thick / 2, 1, hi - lo + thick);
        prev = yOf(data[i1 - 1] ?? 0);
      }
    };
    trace(this.right, 'rgba(129,230,161,0.75)');
    trace(this.left, 'rgba(79,195,247,0.95)');
  }

  private drawMeters(now: number): void {
    const peak = (d: Float32Array) => {
      let p = 0;
      for (let i = SCOPE_FRAMES - 1024; i < SCOPE_FRAMES; i++) p = Math.max(p, Math.abs(d[i]));
      return p;
    };
    // Fast attack, slow release, on a dB scale from -60 to 0.
    this.peakL = Math.max(peak(this.left), this.peakL * 0.92);
    this.peakR = Math.max(peak(this.right), this.peakR * 0.92);
    const { meterL, meterR } = this.el;
    meterL.style.height = `${pctOf(dbOf(this.peakL))}%`;
    meterR.style.height = `${pctOf(dbOf(this.peakR))}%`;
    // The meters' accessible values follow at a few updates a second, not every frame.
    if (now - this.lastAria > 250) {
      this.lastAria = now;
      setMeterValue(this.el.meterLValue, dbOf(this.peakL));
      setMeterValue(this.el.meterRValue, dbOf(this.peakR));
    }
  }

  /** The capture stream's level from a stats poll: its peak while it runs. */
  private pollInput(device: DeviceStream[]): void {
    const cap = device.find((d) => d.direction === 'input' && d.state === 'running');
    const was = this.inputPeak !== null;
    this.inputPeak = cap ? cap.peak : null;
    if (!cap) {
      if (was) {
        this.el.inputMeter.classList.add('idle');
        this.el.inputReadout.textContent = 'not recording';
        setMeterValue(this.el.inputValue, null);
      }
      return;
    }
    if (!was) this.el.inputMeter.classList.remove('idle');
    this.inDb = Math.max(this.inDb, dbOf(cap.peak));
  }

  /**
   * Fast attack (each poll), steady release, and a peak marker that holds a
   * moment. The number beside it follows the bar a few times a second.
   */
  private drawInput(now: number, dt: number): void {
    if (this.inputPeak === null) {
      this.inDb = FLOOR_DB;
      this.holdDb = FLOOR_DB;
      return;
    }
    this.inDb = Math.max(FLOOR_DB, this.inDb - RELEASE_DB_PER_S * dt);
    if (this.inDb >= this.holdDb || now - this.holdAt > HOLD_MS) {
      this.holdDb = this.inDb;
      this.holdAt = now;
    }
    const fill = this.el.inputMeter.firstElementChild as HTMLElement | null;
    const hold = this.el.inputMeter.lastElementChild as HTMLElement | null;
    if (fill) fill.style.clipPath = `inset(0 ${100 - Number(pctOf(this.inDb))}% 0 0)`;
    if (hold) hold.style.left = `${pctOf(this.holdDb)}%`;
    if (now - this.lastReadout < 250) return;
    this.lastReadout = now;
    this.el.inputReadout.textContent =
      this.inDb <= FLOOR_DB ? 'silence' : `${this.inDb.toFixed(1).replace('-', '−')} dBFS`;
    setMeterValue(this.el.inputValue, this.inDb);
  }

  private drawTicker(now: number): void {
    const c = this.ticker;
    const w = Math.round(c.clientWidth * devicePixelRatio);
    const h = Math.round(34 * devicePixelRatio);
    if (c.width !== w) c.width = w;
    if (c.height !== h) c.height = h;
    const g = c.getContext('2d');
    if (!g) return;
    this.ticks = this.ticks.filter((t) => now - t.t < TICK_WINDOW_MS);
    g.clearRect(0, 0, w, h);
    for (const t of this.ticks) {
      const x = w - ((now - t.t) / TICK_WINDOW_MS) * w;
      const age = (now - t.t) / TICK_WINDOW_MS;
      g.fillStyle = t.xrun ? '#ef5350' : t.stream === 0 ? '#4fc3f7' : '#81e6a1';
      g.globalAlpha = 1 - age * 0.8;
      const top = t.stream === 0 ? 3 : h / 2 + 1;
      g.fillRect(x, top, Math.max(1, devicePixelRatio * 1.5), h / 2 - 4);
    }
    g.globalAlpha = 1;
  }

  /**
   * The stream table: a row per stream on a wide screen; on a narrow one a
   * row per field and a column per stream, so it fits a phone without
   * scrolling sideways.
   */
  private renderTable(device: DeviceStream[]): void {
    const rate = this.sound.context.sampleRate;
    const narrow = this.narrow.matches;
    const table = this.el.table;
    const cells = this.stats.map((s) => {
      const d = device.find((x) => x.id === s.id);
      const ms = ((s.delay / rate) * 1000).toFixed(1);
      return [
        `<span class="state-${s.state}">${s.state}</span>`,
        String(s.hwPtr),
        String(s.applPtr),
        `${s.delay} <span class="unit">(${ms} ms)</span>`,
        String(s.periods),
        String(s.xruns),
        `${d?.queuedMessages ?? 0} msg`,
      ];
    });
    const names = this.stats.map(
      (s) => `${s.id} ${this.sound.card.streams[s.id]?.direction ?? ''}`,
    );
    if (narrow !== this.tableNarrow) {
      this.tableNarrow = narrow;
      table.classList.toggle('transposed', narrow);
      const head = table.tHead ?? table.createTHead();
      head.innerHTML = narrow
        ? `<tr><th scope="col">stream</th>${names.map((n) => `<th scope="col">${n}</th>`).join('')}</tr>`
        : `<tr>${['stream', ...FIELDS].map((f) => `<th scope="col">${f}</th>`).join('')}</tr>`;
    }
    const body = table.tBodies[0];
    body.innerHTML = narrow
      ? FIELDS.map(
          (f, i) =>
            `<tr><th scope="row">${f}</th>${cells.map((c) => `<td>${c[i]}</td>`).join('')}</tr>`,
        ).join('')
      : cells
          .map(
            // The stream's name is a <td> acting as the row header: e2e/xrun.spec.ts counts
            // the row's cells from it.
            (c, k) =>
              `<tr><td role="rowheader" class="name">${names[k]}</td>${c.map((v) => `<td>${v}</td>`).join('')}</tr>`,
          )
          .join('');
    this.el.deviceStats.textContent = this.deviceLine;
  }
}

const FIELDS = ['state', 'hw_ptr', 'appl_ptr', 'delay', 'periods', 'xruns', 'queued'];

/** A <meter>'s value in dBFS (null: no signal to measure). */
function setMeterValue(meter: HTMLMeterElement, db: number | null): void {
  meter.value = db === null ? FLOOR_DB : Math.max(FLOOR_DB, Math.min(0, db));
  meter.setAttribute(
    'aria-valuetext',
    db === null ? 'no input' : db <= FLOOR_DB ? 'silence' : `${db.toFixed(0)} dBFS`,
  );
}
