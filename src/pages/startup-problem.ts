/**
 * What a page shows when the device cannot start here: a panel naming the
 * problem, its error code (VirtioSoundError.code) and the fix, with every
 * control that needs the device disabled. Shared by the demo and the guest
 * page. The usual cause is a server that does not send the two headers that
 * make a page cross-origin isolated (without them there is no SharedArrayBuffer).
 */

import { VirtioSoundError } from 'virtio-snd-web/host';

const HEADERS =
  'Cross-Origin-Opener-Policy: same-origin\nCross-Origin-Embedder-Policy: require-corp';

export interface StartupProblem {
  /** VirtioSoundError.code, or the error's name for anything else. */
  code: string;
  title: string;
  /** The error's own message. */
  message: string;
}

export function describeProblem(e: unknown): StartupProblem {
  if (e instanceof VirtioSoundError) {
    const title =
      e.code === 'no-shared-array-buffer' || e.code === 'not-cross-origin-isolated'
        ? 'This page is not cross-origin isolated'
        : e.code === 'no-audio-worklet' || e.code === 'no-worker'
          ? 'This browser cannot run the device here'
          : 'The sound device could not start';
    return { code: e.code, title, message: e.message };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return {
    code: err.name || 'Error',
    title: 'The sound device could not start',
    message: err.message,
  };
}

const el = <K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  cls?: string,
): HTMLElementTagNameMap[K] => {
  const x = document.createElement(tag);
  if (text !== undefined) x.textContent = text;
  if (cls) x.className = cls;
  return x;
};

/** A paragraph of text runs where `code:` pieces become <code> elements. */
function para(...parts: (string | { code: string })[]): HTMLParagraphElement {
  const p = el('p');
  for (const part of parts) p.append(typeof part === 'string' ? part : el('code', part.code));
  return p;
}

/**
 * Fills `panel` with the problem and the fix, shows it, and disables every
 * button, input and select under each of `disable` (and marks `.drop` zones).
 */
export function showStartupProblem(
  e: unknown,
  panel: HTMLElement,
  disable: Iterable<ParentNode>,
): StartupProblem {
  const p = describeProblem(e);
  panel.replaceChildren();
  const head = el('div', undefined, 'problem-head');
  const h = el('h2', p.title);
  h.id = 'problem-title';
  const code = el('code', p.code, 'problem-code');
  code.id = 'problem-code';
  head.append(h, el('span', 'error code', 'problem-code-label'), code);
  panel.append(head);
  const isolation = p.code === 'no-shared-array-buffer' || p.code === 'not-cross-origin-isolated';
  // The error's own message leads when there is no explanation of our own, else it closes.
  if (!isolation) panel.append(el('p', p.message, 'problem-message'));
  if (isolation) {
    panel.append(
      para(
        'The device shares memory between this page, a Worker and the audio thread ',
        '(a SharedArrayBuffer). Browsers allow that only on a cross-origin isolated page, ',
        'and a page is isolated only when its server sends two response headers.',
      ),
      para(
        'To fix it, serve the page with ',
        { code: 'npm start' },
        ' (development) or ',
        { code: 'npm run build && npm run preview' },
        ': both send the headers. A plain static file server (or a file opened from disk) ',
        'cannot. Any other server works if it sends:',
      ),
      el('pre', HEADERS, 'problem-headers'),
    );
  } else if (p.code === 'no-audio-worklet' || p.code === 'no-worker') {
    panel.append(
      para('The device runs in an AudioWorklet and its driver in a Worker. Use a current browser.'),
    );
  }
  if (!isSecureContext) {
    panel.append(
      para(
        'This page is not a secure context (plain http:// on an address other than localhost): ',
        'browsers turn off AudioWorklet and cross-origin isolation there. ',
        'Open it over https:// or on localhost.',
      ),
    );
  }
  if (isolation) panel.append(el('p', `Details: ${p.message}`, 'problem-details'));
  panel.hidden = false;
  for (const root of disable) {
    for (const c of root.querySelectorAll<HTMLButtonElement | HTMLInputElement | HTMLSelectElement>(
      'button, input, select, textarea',
    ))
      c.disabled = true;
    for (const d of root.querySelectorAll<HTMLElement>('.drop')) {
      d.classList.add('disabled');
      d.setAttribute('aria-disabled', 'true');
    }
  }
  return p;
}
