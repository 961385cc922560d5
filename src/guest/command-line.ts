/**
 * A one-line command box under the serial console, for phones and tablets:
 * their on-screen keyboard does not open for a <pre>, so the console alone
 * cannot be typed into there. Enter (or Send) types the line into the guest.
 */

export function attachCommandLine(form: HTMLFormElement, send: (line: string) => void): void {
  const input = form.querySelector('input') as HTMLInputElement;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    send(input.value);
    input.value = '';
  });
}
