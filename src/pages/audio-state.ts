/**
 * The AudioContext's state in the page header: running, suspended (before
 * the first gesture), interrupted (Chrome: another app or the system took
 * the audio device) or closed, with a button that resumes it when it is not
 * running. resume() can reject (an interrupted context may refuse): the
 * reason is shown next to the button. Shared by the demo and the guest page.
 */

import { type AudioState, audioStateOf, resumeAudio, VirtioSoundError } from 'virtio-snd-web/host';

export interface AudioStateElements {
  pill: HTMLElement;
  button: HTMLButtonElement;
  /** Where a failed resume() is explained (a role="status" element). */
  note: HTMLElement;
}

const LABEL: Record<string, { text: string; cls: 'ok' | 'warn' | 'bad'; button?: string }> = {
  running: { text: 'audio running', cls: 'ok' },
  suspended: { text: 'audio suspended', cls: 'warn', button: 'Start audio' },
  interrupted: { text: 'audio interrupted', cls: 'warn', button: 'Resume audio' },
  closed: { text: 'audio closed', cls: 'bad' },
};

export class AudioStateIndicator {
  /** Called after each state change (and once at the start) with the new state. */
  onChange: ((state: AudioState) => void) | null = null;

  constructor(
    private readonly context: AudioContext,
    private readonly el: AudioStateElements,
  ) {
    context.addEventListener('statechange', () => this.render());
    el.button.addEventListener('click', () => void this.resume());
    this.render();
  }

  get state(): AudioState {
    return audioStateOf(this.context);
  }

  /** Resumes the context; a rejection is shown, not thrown. */
  async resume(): Promise<void> {
    if (this.state === 'running' || this.state === 'closed') return;
    this.el.note.textContent = '';
    try {
      await resumeAudio(this.context);
    } catch (e) {
      const why =
        e instanceof VirtioSoundError
          ? e.message
          : e instanceof Error
            ? `${e.name}: ${e.message}`
            : String(e);
      this.el.note.textContent = `Could not resume audio (${why})`;
    }
    this.render();
  }

  render(): void {
    const state = this.state;
    const l = LABEL[state] ?? { text: `audio ${state}`, cls: 'warn', button: 'Resume audio' };
    const { pill, button, note } = this.el;
    pill.textContent = state === 'running' ? `${l.text} · ${this.context.sampleRate} Hz` : l.text;
    pill.className = `pill ${l.cls}`;
    pill.dataset.state = state;
    pill.title =
      state === 'interrupted'
        ? 'Another app or the system took the audio device; audio resumes when it gives it back'
        : state === 'suspended'
          ? 'Browsers start audio on a click or a key press'
          : '';
    button.hidden = !l.button;
    if (l.button) button.textContent = `▶ ${l.button}`;
    if (state === 'running') note.textContent = '';
    this.onChange?.(state);
  }
}
