/**
 * The demo's live view: oscilloscope and level meters from the device's
 * output tap (read straight from shared memory each animation frame), a
 * ticker of period completions, and the stream table. Drawing happens in
 * requestAnimationFrame on the main thread, far from the audio thread.
 */

import type { ServiceEvent, StreamStatus, VirtioSound } from 'virtio-snd-web/host';

const SCOPE_FRAMES = 2048;
const TICK_WINDOW_MS = 3000;

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
  /** Completions seen, for tests and the heading. */
  periods = 0;
  xruns = 0;

  constructor(
    private readonly sound: VirtioSound,
    private readonly scope: HTMLCanvasElement,
    private readonly ticker: HTMLCanvasElement,
    private readonly meterL: HTMLElement,
    private readonly meterR: HTMLElement,
    private readonly table: HTMLElement,
    private readonly deviceStats: HTMLElement,
  ) {}

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
    this.sound.readScope(this.left, this.right);
    this.drawScope();
    this.drawMeters();
    this.drawTicker(now);
    if (now - this.lastStats > 100 && !this.statsBusy) {
      this.lastStats = now;
      this.statsBusy = true;
      void this.sound
        .stats()
        .then((s) => {
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

  private drawMeters(): void {
    const peak = (d: Float32Array) => {
      let p = 0;
      for (let i = SCOPE_FRAMES - 1024; i < SCOPE_FRAMES; i++) p = Math.max(p, Math.abs(d[i]));
      return p;
    };
    // Fast attack, slow release, on a dB scale from -60 to 0.
    this.peakL = Math.max(peak(this.left), this.peakL * 0.92);
    this.peakR = Math.max(peak(this.right), this.peakR * 0.92);
    const pct = (p: number) =>
      `${Math.max(0, Math.min(100, ((20 * Math.log10(p + 1e-9) + 60) / 60) * 100))}%`;
    this.meterL.style.height = pct(this.peakL);
    this.meterR.style.height = pct(this.peakR);
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

  private renderTable(
    device: { id: number; queuedMessages: number; lastLatencyBytes: number }[],
  ): void {
    const rate = this.sound.context.sampleRate;
    const rows = this.stats.map((s) => {
      const d = device.find((x) => x.id === s.id);
      const ms = ((s.delay / rate) * 1000).toFixed(1);
      return (
        `<tr><td>${s.id} ${this.sound.card.streams[s.id]?.direction ?? ''}</td>` +
        `<td class="state-${s.state}">${s.state}</td><td>${s.hwPtr}</td><td>${s.applPtr}</td>` +
        `<td>${s.delay} (${ms} ms)</td><td>${s.periods}</td><td>${s.xruns}</td>` +
        `<td>${d?.queuedMessages ?? 0} msg</td></tr>`
      );
    });
    this.table.innerHTML = rows.join('');
    this.deviceStats.textContent = this.deviceLine;
  }
}
