/**
 * Plays a tone through the virtio-snd device: createVirtioSound starts the
 * driver Worker and the AudioWorklet, playTone runs a sine player next to
 * the driver, and the level comes from what the device rendered.
 */
import { VIRTIO_SND_PCM_FMT_S16 } from 'virtio-snd-web';
import { createVirtioSound, type VirtioSound, VirtioSoundError } from 'virtio-snd-web/host';

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no #${id}`);
  return el as T;
}
const play = byId<HTMLButtonElement>('play');
const stop = byId<HTMLButtonElement>('stop');
const status = byId<HTMLOutputElement>('status');
const level = byId<HTMLOutputElement>('level');

let sound: VirtioSound | undefined;

play.addEventListener('click', async () => {
  try {
    sound ??= await createVirtioSound(); // needs a cross-origin isolated page
    await sound.resume(); // browsers start audio on a user gesture
    // Resolves once the stream is set up; the tone plays until stop().
    await sound.playTone({
      format: VIRTIO_SND_PCM_FMT_S16,
      rate: 48000,
      channels: 2,
      periodFrames: 480,
      periods: 4,
      frequency: 440,
    });
    status.textContent = 'playing';
    stop.disabled = false;
    requestAnimationFrame(meter);
  } catch (e) {
    status.textContent = e instanceof VirtioSoundError ? `${e.code}: ${e.message}` : String(e);
  }
});

stop.addEventListener('click', async () => {
  await sound?.stop();
  status.textContent = 'stopped';
  stop.disabled = true;
});

// The peak of the last 1024 frames the device rendered, once per frame.
const left = new Float32Array(1024);
const right = new Float32Array(1024);
function meter(): void {
  if (!sound) return;
  sound.readScope(left, right);
  let peak = 0;
  for (let i = 0; i < left.length; i++)
    peak = Math.max(peak, Math.abs(left[i] ?? 0), Math.abs(right[i] ?? 0));
  level.textContent = peak > 0 ? `${(20 * Math.log10(peak)).toFixed(1)} dBFS` : 'silence';
  level.dataset['peak'] = String(peak);
  requestAnimationFrame(meter);
}
