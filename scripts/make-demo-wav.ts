/**
 * Generates public/demo.wav: a 2.5 s bell arpeggio (C major, then a chord),
 * 44.1 kHz 16-bit stereo, so the demo also exercises 44.1 -> 48 kHz
 * resampling. Run: npx tsx scripts/make-demo-wav.ts
 */
import { writeFileSync } from 'node:fs';
import { writeWav } from '../src/host/wav.ts';

const rate = 44100;
const seconds = 2.5;
const frames = Math.round(rate * seconds);
const s = new Float64Array(frames * 2);
const notes = [261.63, 329.63, 392.0, 523.25];
const bell = (start: number, f: number, pan: number, gain: number) => {
  const s0 = Math.round(start * rate);
  for (let i = 0; s0 + i < frames; i++) {
    const t = i / rate;
    const env = Math.exp(-3 * t) * Math.min(1, t * 200);
    const v =
      gain *
      env *
      (Math.sin(2 * Math.PI * f * t) +
        0.3 * Math.sin(2 * Math.PI * 2.01 * f * t) +
        0.1 * Math.sin(2 * Math.PI * 3.02 * f * t));
    s[2 * (s0 + i)] += v * (1 - pan);
    s[2 * (s0 + i) + 1] += v * pan;
  }
};
for (const [k, f] of notes.entries()) bell(k * 0.25, f, 0.25 + 0.5 * (k / 3), 0.22);
for (const f of notes) bell(1.1, f, 0.5, 0.12);
const pcm = new Int16Array(frames * 2);
for (let i = 0; i < pcm.length; i++)
  pcm[i] = Math.max(-32768, Math.min(32767, Math.round(s[i] * 32767)));
writeFileSync(
  new URL('../public/demo.wav', import.meta.url),
  new Uint8Array(writeWav(rate, 2, pcm)),
);
console.log(`public/demo.wav: ${frames} frames`);
