/**
 * The guest page's boot progress: what happens in the 10 to 20 seconds
 * before the shell prompt, shown over the (still empty) serial console.
 *
 *   images  the emulator downloads the BIOS, kernel and initrd (bytes known)
 *   bios    SeaBIOS runs (it prints its banner on the VGA text screen)
 *   kernel  Linux runs (the CPU has turned paging on: SeaBIOS never does)
 *   driver  the guest's virtio_snd has spoken to our device (control requests)
 *   ready   the init script prints "virtio-snd guest ready", or the prompt appears
 *
 * Each stage is detected from what the emulator and the device report, not
 * from a clock; the elapsed time runs beside them.
 */

import type { V86 } from 'v86';

export type BootStage = 'images' | 'bios' | 'kernel' | 'driver' | 'ready';

const STAGES: BootStage[] = ['images', 'bios', 'kernel', 'driver', 'ready'];

const TITLES: Record<BootStage, string> = {
  images: 'Downloading the BIOS, kernel and initrd',
  bios: 'BIOS (SeaBIOS) starting',
  kernel: 'Linux kernel booting',
  driver: 'virtio_snd found the card, starting the shell',
  ready: 'Guest ready',
};

/** How far along the bar each stage starts (the image download fills the first part by bytes). */
const AT: Record<BootStage, number> = { images: 0, bios: 0.3, kernel: 0.4, driver: 0.8, ready: 1 };

const READY_MARKS = ['virtio-snd guest ready', 'guest# '];

export interface BootProgressOptions {
  /** Control requests the device has answered so far (0 until the guest driver probes it). */
  controlRequests(): number;
}

export class BootProgress {
  stage: BootStage = 'images';
  /** When each stage was reached (ms since start), for tests and the list's tooltips. */
  readonly reached: Partial<Record<BootStage, number>> = {};
  private readonly t0 = performance.now();
  private readonly files = new Map<number, { loaded: number; total: number }>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private serialTail = '';
  private failed = false;

  constructor(
    private readonly root: HTMLElement,
    private readonly emulator: V86,
    private readonly opts: BootProgressOptions,
  ) {
    this.reached.images = 0;
    emulator.add_listener('download-progress', (p) => {
      // v86 reports no total for some files (bzImage): those count as what has arrived.
      const total = Number.isFinite(p.total) && p.total > 0 ? p.total : 0;
      this.files.set(p.file_index, { loaded: p.loaded, total });
      this.renderDownload(p.file_count);
    });
    emulator.add_listener('download-error', (p) => this.fail(`could not download ${p.file_name}`));
    emulator.add_listener('emulator-started', () => this.advance('bios'));
    emulator.add_listener('serial0-output-byte', (byte: number) => {
      if (this.stage === 'ready') return;
      this.serialTail = (this.serialTail + String.fromCharCode(byte)).slice(-64);
      if (READY_MARKS.some((m) => this.serialTail.includes(m))) this.advance('ready');
    });
    this.timer = setInterval(() => this.tick(), 100);
    this.render();
  }

  /** Elapsed seconds since the page started the emulator. */
  get elapsed(): number {
    return (performance.now() - this.t0) / 1000;
  }

  private tick(): void {
    if (this.stage === 'bios' && pagingOn(this.emulator)) this.advance('kernel');
    if ((this.stage === 'bios' || this.stage === 'kernel') && this.opts.controlRequests() > 0)
      this.advance('driver');
    this.renderTime();
  }

  /** Moves to `stage` (and marks the ones before it done); never goes back. */
  advance(stage: BootStage): void {
    if (this.failed || STAGES.indexOf(stage) <= STAGES.indexOf(this.stage)) return;
    const t = performance.now() - this.t0;
    for (const s of STAGES.slice(0, STAGES.indexOf(stage) + 1)) this.reached[s] ??= t;
    this.stage = stage;
    if (stage === 'ready') this.finish();
    this.render();
  }

  /** Shows that the boot cannot go on (and why). */
  fail(why: string): void {
    this.failed = true;
    this.stop();
    showBootFailure(this.root, why, true);
  }

  private finish(): void {
    this.stop();
    this.root.classList.add('done');
    // The console under it is what matters now: fade the card out, then take it away.
    setTimeout(() => {
      this.root.hidden = true;
    }, 600);
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.renderTime();
  }

  private q(sel: string): HTMLElement {
    return this.root.querySelector(sel) as HTMLElement;
  }

  private render(): void {
    if (this.failed) return;
    const i = STAGES.indexOf(this.stage);
    for (const li of this.root.querySelectorAll<HTMLElement>('li[data-step]')) {
      const k = STAGES.indexOf(li.dataset.step as BootStage);
      li.classList.toggle('done', k < i || this.stage === 'ready');
      li.classList.toggle('active', k === i && this.stage !== 'ready');
      const at = this.reached[li.dataset.step as BootStage];
      li.title = at === undefined ? '' : `reached at ${(at / 1000).toFixed(1)} s`;
    }
    this.q('.boot-stage').textContent =
      this.stage === 'ready'
        ? `Guest ready in ${this.elapsed.toFixed(1)} s`
        : `${TITLES[this.stage]}…`;
    if (this.stage !== 'images') this.setBar(AT[this.stage]);
    this.renderTime();
  }

  private renderDownload(fileCount: number): void {
    let loaded = 0;
    let total = 0;
    let unknown = fileCount - this.files.size;
    for (const f of this.files.values()) {
      loaded += f.loaded;
      total += Math.max(f.total, f.loaded);
      if (!f.total) unknown++;
    }
    this.q('.boot-bytes').textContent =
      `(${mb(loaded)}${unknown === 0 && loaded < total ? ` of ${mb(total)}` : ''})`;
    if (this.stage === 'images' && total > 0) this.setBar((loaded / total) * AT.bios);
  }

  private setBar(fraction: number): void {
    const bar = this.q('.boot-bar') as HTMLProgressElement;
    bar.value = Math.round(fraction * 100);
  }

  private renderTime(): void {
    this.q('.boot-time').textContent = `${this.elapsed.toFixed(1)} s`;
  }
}

/**
 * Marks the boot card failed (also before any emulator exists): `atStep` marks
 * the step it was on as the one that failed; otherwise no step ran at all.
 */
export function showBootFailure(root: HTMLElement, why: string, atStep = false): void {
  root.hidden = false;
  root.classList.add('failed');
  const stage = root.querySelector('.boot-stage');
  if (stage) stage.textContent = `Cannot boot: ${why}`;
  for (const sel of ['.boot-bar', '.boot-time']) {
    const x = root.querySelector<HTMLElement>(sel);
    if (x) x.hidden = true;
  }
  const active = root.querySelector('li.active');
  if (atStep) active?.classList.replace('active', 'failed');
  else active?.classList.remove('active');
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/**
 * Whether the guest CPU runs with paging on (CR0.PG): Linux turns it on early,
 * SeaBIOS never does. It reads v86's internal CPU state, so any surprise there
 * reads as "not yet" (the stage is then reached when the driver probes).
 */
function pagingOn(emulator: V86): boolean {
  try {
    const cpu = (emulator as unknown as { v86?: { cpu?: { cr?: Int32Array } } }).v86?.cpu;
    return ((cpu?.cr?.[0] ?? 0) & 0x80000000) !== 0;
  } catch {
    return false;
  }
}
