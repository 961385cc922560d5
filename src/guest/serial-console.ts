/**
 * A minimal serial terminal: shows the guest's ttyS0 output in a <pre> and
 * sends keystrokes back. Enough for a shell (it ignores ANSI sequences).
 */

export class SerialConsole {
  /** Everything the guest printed (for tests and for searching). */
  text = '';
  onInput: ((s: string) => void) | null = null;
  private pending = '';
  private flushScheduled = false;
  private escape = false;

  constructor(private readonly el: HTMLElement) {
    el.addEventListener('keydown', (e) => this.key(e));
    el.addEventListener('paste', (e) => {
      const t = e.clipboardData?.getData('text');
      if (t) this.onInput?.(t.replace(/\r?\n/g, '\n'));
      e.preventDefault();
    });
  }

  write(byte: number): void {
    // Skip ANSI escape sequences (ESC [ ... letter): the shell's cursor queries.
    if (this.escape) {
      if ((byte >= 0x40 && byte <= 0x7e && byte !== 0x5b) || this.pending.length > 1000)
        this.escape = false;
      return;
    }
    if (byte === 0x1b) {
      this.escape = true;
      return;
    }
    if (byte === 0x0d) return;
    const c = String.fromCharCode(byte);
    this.text += c;
    if (this.text.length > 200_000) this.text = this.text.slice(-100_000);
    this.pending += c;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      requestAnimationFrame(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    let t = this.el.textContent ?? '';
    for (const c of this.pending) {
      if (c === '\b') t = t.slice(0, -1);
      else t += c;
    }
    this.pending = '';
    if (t.length > 100_000) t = t.slice(-80_000);
    this.el.textContent = t;
    this.el.scrollTop = this.el.scrollHeight;
  }

  private key(e: KeyboardEvent): void {
    let s = '';
    if (e.ctrlKey && e.key.length === 1)
      s = String.fromCharCode(e.key.toUpperCase().charCodeAt(0) - 64);
    else if (e.key === 'Enter') s = '\n';
    else if (e.key === 'Backspace') s = '\x7f';
    else if (e.key === 'Tab') s = '\t';
    else if (e.key === 'ArrowUp') s = '\x1b[A';
    else if (e.key === 'ArrowDown') s = '\x1b[B';
    else if (e.key === 'ArrowRight') s = '\x1b[C';
    else if (e.key === 'ArrowLeft') s = '\x1b[D';
    else if (e.key.length === 1) s = e.key;
    if (!s) return;
    e.preventDefault();
    this.onInput?.(s);
  }
}
