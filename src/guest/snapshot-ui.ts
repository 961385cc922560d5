/**
 * "Save state" / "Restore state" on the guest page: the whole machine (v86's
 * state) and our sound device (the attachVirtioSnd handle's) in one file the
 * user downloads and loads back, here or in a fresh page (machine-state.ts).
 *
 * Both parts are taken in one turn of the page's thread, so the guest runs
 * no instruction between them. Restoring reads and checks everything first
 * (the container, v86's header, our whole snapshot via prepareRestore());
 * a bad file is named on the page and changes nothing. Then v86 restores
 * its machine and we apply ours before the guest runs again (v86's restore
 * runs synchronously inside its promise; its next tick is a later task).
 */

import type { V86 } from 'v86';
import { SnapshotError } from 'virtio-snd-web';
import type { AttachedSound } from 'virtio-snd-web/embed';
import { type MachineMeta, machineFileChunks, readMachineFile } from './machine-state.ts';

/** What a save measured: sizes in bytes, times in ms. */
export interface SaveReport {
  soundBytes: number;
  v86Bytes: number;
  fileBytes: number;
  /** Our saveState(). */
  soundMs: number;
  /** v86's save_state(). */
  v86Ms: number;
  /** From the click to the file handed to the browser. */
  totalMs: number;
}

/** What a restore measured, in ms. */
export interface RestoreReport {
  fileBytes: number;
  /** Reading the file into memory. */
  readMs: number;
  /** Our prepareRestore() and apply(). */
  soundMs: number;
  /** v86's restore_state(). */
  v86Ms: number;
  /** From the file chosen to the machine running again. */
  totalMs: number;
}

export interface SnapshotUiOptions {
  emulator: V86;
  /** The attached device (null until the emulator is ready). */
  sound(): AttachedSound | null;
  meta: MachineMeta;
  save: HTMLButtonElement;
  restore: HTMLButtonElement;
  file: HTMLInputElement;
  status: HTMLElement;
}

export class SnapshotUi {
  lastSave: SaveReport | null = null;
  lastRestore: RestoreReport | null = null;
  /** The last problem shown (a bad file, a failed save), for tests. */
  lastError: string | null = null;
  /** Restores done on this page. */
  restores = 0;
  private busy = false;

  constructor(private readonly o: SnapshotUiOptions) {
    o.save.disabled = true;
    o.restore.disabled = true;
    o.save.addEventListener('click', () => void this.save());
    o.restore.addEventListener('click', () => o.file.click());
    o.file.addEventListener('change', () => {
      const f = o.file.files?.[0];
      o.file.value = ''; // choosing the same file again fires change again
      if (f) void this.restore(f);
    });
  }

  /** The guest is booted: saving and restoring make sense now. */
  enable(): void {
    this.o.save.disabled = false;
    this.o.restore.disabled = false;
  }

  async save(): Promise<SaveReport | null> {
    const sound = this.o.sound();
    if (!sound || this.busy) return null;
    this.begin('Saving…');
    try {
      const t0 = performance.now();
      // One turn: our state, then v86's (its save runs synchronously inside the promise).
      const ours = sound.saveState();
      const t1 = performance.now();
      const pending = this.o.emulator.save_state();
      const t2 = performance.now();
      const v86 = new Uint8Array(await pending);
      const chunks = machineFileChunks(this.o.meta, v86, ours);
      const blob = new Blob(chunks as BlobPart[], { type: 'application/octet-stream' });
      download(blob, `v86-virtio-snd-${this.o.meta.kernel}-${stamp()}.vgst`);
      const r: SaveReport = {
        soundBytes: ours.length,
        v86Bytes: v86.length,
        fileBytes: blob.size,
        soundMs: t1 - t0,
        v86Ms: t2 - t1,
        totalMs: performance.now() - t0,
      };
      this.lastSave = r;
      this.done(
        `Saved ${mib(r.fileBytes)} (machine ${mib(r.v86Bytes)}, sound device ${kib(r.soundBytes)}) in ${r.totalMs.toFixed(0)} ms.`,
      );
      return r;
    } catch (e) {
      this.fail(`Could not save: ${message(e)}`);
      return null;
    }
  }

  async restore(file: Blob): Promise<RestoreReport | null> {
    const sound = this.o.sound();
    if (!sound || this.busy) return null;
    this.begin('Restoring…');
    try {
      const t0 = performance.now();
      const bytes = new Uint8Array(await file.arrayBuffer());
      const t1 = performance.now();
      // Everything is read and checked before anything changes.
      const m = readMachineFile(bytes, this.o.meta);
      const prepared = sound.prepareRestore(m.sound);
      const t2 = performance.now();
      // v86 wants its state as an ArrayBuffer of its own.
      const v86State = m.v86.slice().buffer;
      const t3 = performance.now();
      await this.o.emulator.restore_state(v86State);
      const t4 = performance.now();
      prepared.apply();
      const t5 = performance.now();
      if (!this.o.emulator.is_running()) await this.o.emulator.run();
      const r: RestoreReport = {
        fileBytes: bytes.length,
        readMs: t1 - t0,
        soundMs: t2 - t1 + (t5 - t4),
        v86Ms: t4 - t3,
        totalMs: performance.now() - t0,
      };
      this.lastRestore = r;
      this.restores++;
      this.done(
        `Restored ${mib(r.fileBytes)} (Linux ${m.meta.kernel}) in ${r.totalMs.toFixed(0)} ms: the guest goes on from where it was saved.`,
      );
      return r;
    } catch (e) {
      const why =
        e instanceof SnapshotError
          ? `${e.message.replace(/^snapshot: /, '')} (${e.reason})`
          : message(e);
      this.fail(
        `Not restored, nothing changed: this file is not a state this page can load: ${why}.`,
      );
      return null;
    }
  }

  private begin(text: string): void {
    this.busy = true;
    this.o.save.disabled = true;
    this.o.restore.disabled = true;
    this.show(text, '');
  }

  private done(text: string): void {
    this.lastError = null;
    this.show(text, 'ok');
    this.end();
  }

  private fail(text: string): void {
    this.lastError = text;
    this.show(text, 'bad');
    this.end();
  }

  private end(): void {
    this.busy = false;
    this.enable();
  }

  private show(text: string, cls: '' | 'ok' | 'bad'): void {
    const s = this.o.status;
    s.textContent = text;
    s.className = `snap-status ${cls}`.trim();
    s.setAttribute('role', cls === 'bad' ? 'alert' : 'status');
  }
}

function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  // The download has started from the URL; free it once the browser has read it.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

const stamp = () => new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
