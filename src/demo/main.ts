/**
 * The demo page: plays a tone or a WAV file through the virtio-snd device,
 * records the microphone through its capture stream, drives the mixer
 * controls, and shows what the device renders. The card is probed on load,
 * before any gesture; audio starts on the first click.
 */

import { PCM_FORMAT_INFO, VIRTIO_SND_PCM_FMT_S16 } from 'virtio-snd-web';
import {
  checkEnvironment,
  createVirtioSound,
  type PlayOptions,
  parseWav,
  playbackStatsOf,
  type VirtioSound,
  VirtioSoundError,
} from 'virtio-snd-web/host';
import { AudioStateIndicator } from '../pages/audio-state.ts';
import { showStartupProblem } from '../pages/startup-problem.ts';
import { LiveView } from './live-view.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function pill(id: string, text: string, cls: 'ok' | 'warn' | 'bad'): void {
  const el = $(id);
  el.textContent = text;
  el.className = `pill ${cls}`;
}

function banner(text: string, bad = false): void {
  const el = $('banner');
  el.hidden = !text;
  el.textContent = text;
  el.className = bad ? 'banner bad' : 'banner';
}

/** Slider position 0..1000 -> 55..3520 Hz on a log scale. */
const freqOf = (pos: number) => Math.round(55 * 2 ** ((pos / 1000) * 6));

declare global {
  interface Window {
    /** The demo's device handle, for debugging and the end-to-end tests. */
    virtioSound?: VirtioSound;
    liveView?: LiveView;
    audioState?: AudioStateIndicator;
  }
}

async function main(): Promise<void> {
  pill(
    'pill-isolated',
    crossOriginIsolated ? 'cross-origin isolated' : 'not isolated',
    crossOriginIsolated ? 'ok' : 'bad',
  );
  // URL options for tests and experiments: ?tap=<frames> sizes the output tap,
  // ?rate=<Hz> picks the AudioContext rate, ?render=<frames> its render block
  // (renderSizeHint), ?suspend=1 suspends audio at once (as a browser does
  // before any gesture).
  const params = new URLSearchParams(location.search);
  const tapFrames = Number(params.get('tap') ?? 8192);
  const rate = params.get('rate');
  const render = params.get('render');
  let sound: VirtioSound;
  let context: AudioContext | null = null;
  try {
    // Before making an AudioContext: without isolation nothing here can work.
    checkEnvironment();
    context = new AudioContext({
      latencyHint: 'interactive',
      ...(rate ? { sampleRate: Number(rate) } : {}),
      ...(render ? { renderSizeHint: Number(render) } : {}),
    } as AudioContextOptions);
    if (params.get('suspend') === '1') await context.suspend();
    sound = await createVirtioSound({ context, device: { tapFrames } });
  } catch (e) {
    void context?.close();
    const problem = showStartupProblem(e, $('problem'), document.querySelectorAll('main'));
    pill('pill-card', 'no card', 'bad');
    pill('pill-audio', 'no audio', 'bad');
    $('card-info').textContent = `No card: the device could not start (${problem.code}).`;
    console.error(`virtio-snd: cannot start (${problem.code})`, e);
    return;
  }
  window.virtioSound = sound;
  const card = sound.card;
  pill('pill-card', `card: ${card.streams.length} streams, ${card.controls.length} controls`, 'ok');

  const audio = new AudioStateIndicator(sound.context, {
    pill: $('pill-audio'),
    button: $('audio-resume'),
    note: $('audio-note'),
  });
  audio.onChange = (state) => {
    if (state === 'running' || state === 'closed') banner('');
    else if (state === 'interrupted')
      banner(
        'Audio is interrupted: another app or the system has the audio device. It comes back when ' +
          'the interruption ends, or press Resume audio.',
      );
    else
      banner(
        'The card is up and configured. Audio starts on your first click (browsers wait for a gesture).',
      );
  };
  audio.render();
  window.audioState = audio;
  const resume = () => void audio.resume();
  document.addEventListener('pointerdown', resume, { once: true, capture: true });
  document.addEventListener('keydown', resume, { once: true, capture: true });

  fillCardInfo(sound);
  const live = new LiveView(sound, {
    scope: $('scope'),
    ticker: $('ticker'),
    meterL: $('meter-l'),
    meterR: $('meter-r'),
    meterLValue: $('meter-l-value'),
    meterRValue: $('meter-r-value'),
    table: $('stats-table'),
    deviceStats: $('device-stats'),
    inputMeter: $('in-meter'),
    inputValue: $('in-meter-value'),
    inputReadout: $('in-level'),
  });
  window.liveView = live;
  sound.onEvents((batch) => {
    live.events(batch);
    for (const e of batch) {
      if (e.type === 'error') banner(`Stream ${e.streamId ?? ''}: ${e.detail}`, true);
      if (e.type === 'control') syncMixer(sound);
    }
  });
  live.start();
  setupTone(sound);
  setupFile(sound);
  setupMic(sound);
  setupMixer(sound);
  setupOutput(sound);
}

function fillCardInfo(sound: VirtioSound): void {
  const c = sound.card;
  const out = c.streams.find((s) => s.direction === 'playback');
  const fmt = $<HTMLSelectElement>('format');
  const rate = $<HTMLSelectElement>('rate');
  for (const [i, name] of (out?.formats ?? []).entries()) {
    const o = new Option(name, String(out?.formatIds[i]));
    o.selected = out?.formatIds[i] === VIRTIO_SND_PCM_FMT_S16;
    fmt.add(o);
  }
  for (const r of out?.rates ?? []) {
    const o = new Option(`${r} Hz`, String(r));
    o.selected = r === sound.context.sampleRate;
    rate.add(o);
  }
  const rows = c.streams.map(
    (s) =>
      `<tr><td>stream ${s.id}</td><td>${s.direction}, ${s.channelsMin}–${s.channelsMax} ch, ` +
      `${s.rates.length} rates, ${s.formats.length} formats</td></tr>`,
  );
  rows.push(
    `<tr><td>jacks</td><td>${c.jacks.map((j) => `#${j.id} ${j.connected ? 'connected' : 'unplugged'}`).join(', ')}</td></tr>`,
  );
  rows.push(`<tr><td>chmaps</td><td>${c.chmaps}</td></tr>`);
  rows.push(`<tr><td>controls</td><td>${c.controls.map((x) => x.name).join('<br>')}</td></tr>`);
  $('card-info').innerHTML = `<table>${rows.join('')}</table>`;
}

function toneOptions(): PlayOptions & { frequency: number; amplitude: number } {
  return {
    format: Number($<HTMLSelectElement>('format').value),
    rate: Number($<HTMLSelectElement>('rate').value),
    channels: Number($<HTMLSelectElement>('channels').value),
    periodFrames: Number($<HTMLSelectElement>('period').value),
    periods: Number($<HTMLSelectElement>('periods').value),
    frequency: freqOf(Number($<HTMLInputElement>('freq').value)),
    amplitude: Number($<HTMLSelectElement>('amp').value),
  };
}

function setupTone(sound: VirtioSound): void {
  const freq = $<HTMLInputElement>('freq');
  const show = () => {
    $('freq-out').textContent = `${freqOf(Number(freq.value))} Hz`;
  };
  freq.addEventListener('input', show);
  show();
  const play = async () => {
    await sound.resume();
    try {
      await sound.playTone(toneOptions());
      banner('');
    } catch (e) {
      banner(String(e), true);
    }
  };
  $('tone-play').addEventListener('click', play);
  // Changing a parameter while playing restarts the tone with it.
  for (const id of ['freq', 'format', 'rate', 'channels', 'period', 'periods', 'amp']) {
    $(id).addEventListener('change', async () => {
      const st = await sound.driver.status(0);
      if (st.state === 'running' || st.state === 'prepared') await play();
    });
  }
  $('tone-stop').addEventListener('click', () => void sound.stop());
}

async function playFile(sound: VirtioSound, buf: ArrayBuffer, name: string): Promise<void> {
  await sound.resume();
  try {
    const wav = parseWav(buf);
    const out = sound.card.streams.find((s) => s.direction === 'playback');
    if (!out?.formatIds.includes(wav.format))
      throw new Error(`format ${PCM_FORMAT_INFO[wav.format].name} not offered`);
    $('file-info').textContent =
      `${name}: ${PCM_FORMAT_INFO[wav.format].name}, ${wav.rate} Hz, ${wav.channels} ch, ` +
      `${(wav.frames / wav.rate).toFixed(2)} s`;
    const data = wav.data.slice().buffer;
    await sound.play(
      {
        format: wav.format,
        rate: wav.rate,
        channels: wav.channels,
        periodFrames: 1024,
        periods: 4,
      },
      data,
    );
  } catch (e) {
    $('file-info').textContent = `${name}: ${String(e)}`;
  }
}

function setupFile(sound: VirtioSound): void {
  $('demo-play').addEventListener('click', async () => {
    const res = await fetch('/demo.wav');
    await playFile(sound, await res.arrayBuffer(), 'demo.wav');
  });
  $('file-stop').addEventListener('click', () => void sound.stop());
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', async (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const file = e.dataTransfer?.files[0];
    if (file) await playFile(sound, await file.arrayBuffer(), file.name);
  });
}

function setupMic(sound: VirtioSound): void {
  const start = $<HTMLButtonElement>('rec-start');
  const stop = $<HTMLButtonElement>('rec-stop');
  const play = $<HTMLButtonElement>('rec-play');
  const info = $('rec-info');
  const rate = sound.context.sampleRate;
  const opts = {
    format: VIRTIO_SND_PCM_FMT_S16,
    rate,
    channels: 2,
    periodFrames: 1024,
    periods: 4,
  };
  let recording: { stop(): Promise<ArrayBuffer> } | null = null;
  let last: ArrayBuffer | null = null;
  const captureId = sound.card.streams.find((s) => s.direction === 'capture')?.id;
  start.addEventListener('click', async () => {
    await sound.resume();
    try {
      recording = await sound.record({ ...opts, streamId: captureId });
      info.textContent = 'recording…';
      start.disabled = true;
      stop.disabled = false;
    } catch (e) {
      info.textContent = e instanceof VirtioSoundError ? `${e.code}: ${e.message}` : String(e);
    }
  });
  stop.addEventListener('click', async () => {
    if (!recording) return;
    last = await recording.stop();
    recording = null;
    const frames = last.byteLength / 4;
    info.textContent = `recorded ${(frames / rate).toFixed(2)} s (${frames} frames, S16 stereo)`;
    drawWave($('rec-wave'), new Int16Array(last));
    $('rec-wave').setAttribute(
      'aria-label',
      `Recorded waveform: ${(frames / rate).toFixed(2)} s, left channel`,
    );
    start.disabled = false;
    stop.disabled = true;
    play.disabled = frames === 0;
  });
  play.addEventListener('click', async () => {
    if (last) await sound.play({ ...opts }, last.slice(0));
  });
}

function drawWave(c: HTMLCanvasElement, s: Int16Array): void {
  const w = c.clientWidth * devicePixelRatio;
  const h = 60 * devicePixelRatio;
  c.width = w;
  c.height = h;
  const g = c.getContext('2d');
  if (!g || s.length === 0) return;
  g.fillStyle = '#4fc3f7';
  const per = Math.max(1, Math.floor(s.length / 2 / w));
  for (let x = 0; x < w; x++) {
    let peak = 0;
    for (let i = x * per; i < (x + 1) * per && 2 * i < s.length; i++)
      peak = Math.max(peak, Math.abs(s[2 * i]));
    const bar = (peak / 32768) * h;
    g.fillRect(x, (h - bar) / 2, 1, Math.max(1, bar));
  }
}

function setupMixer(sound: VirtioSound): void {
  const vol = $<HTMLInputElement>('volume');
  const mute = $<HTMLInputElement>('mute');
  const show = () => {
    const v = Number(vol.value);
    $('vol-out').textContent = v === 0 ? 'muted (−∞ dB)' : `${(-50 + v * 0.5).toFixed(1)} dB`;
  };
  vol.addEventListener('input', () => {
    show();
    void sound.setVolume(Number(vol.value));
  });
  mute.addEventListener('change', () => void sound.setMuted(mute.checked));
  show();
  void syncMixer(sound);
}

/** The output device picker (where the browser can choose one) and the output latency. */
function setupOutput(sound: VirtioSound): void {
  const select = $<HTMLSelectElement>('output-device');
  const fill = async () => {
    const chosen = select.value;
    const outputs = await sound.outputDevices();
    select.replaceChildren(new Option('Default', ''));
    const named = outputs.filter((d) => d.deviceId !== '' && d.deviceId !== 'default');
    named.forEach((d, i) => {
      select.add(new Option(d.label || `Output ${i + 1}`, d.deviceId));
    });
    select.value = [...select.options].some((o) => o.value === chosen) ? chosen : '';
  };
  select.addEventListener('change', () => {
    sound.setOutputDevice(select.value).catch((e: unknown) => {
      banner(`Cannot use that output: ${String(e)}`, true);
      select.value = '';
    });
  });
  navigator.mediaDevices?.addEventListener?.('devicechange', () => void fill());
  void fill();
  const ctx = sound.context;
  const show = () => {
    const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;
    const stats = playbackStatsOf(ctx);
    const measured =
      stats && stats.averageLatency > 0
        ? `, measured ${ms(stats.averageLatency)} (${ms(stats.minimumLatency)}–${ms(stats.maximumLatency)}), ` +
          `${stats.underrunEvents} output underruns`
        : '';
    $('latency-info').textContent =
      `Output latency (until heard): ${ms(sound.outputLatency)} = base ${ms(ctx.baseLatency)} + ` +
      `output (estimated ${ms(ctx.outputLatency)}${measured}); the guest's delay includes it. ` +
      `Render block: ${(ctx as AudioContext & { renderQuantumSize?: number }).renderQuantumSize ?? 128} frames.`;
  };
  show();
  setInterval(show, 1000);
}

async function syncMixer(sound: VirtioSound): Promise<void> {
  const [v] = await sound.driver.getControl('Master Playback Volume');
  const [sw] = await sound.driver.getControl('Master Playback Switch');
  $<HTMLInputElement>('volume').value = String(v);
  $<HTMLInputElement>('mute').checked = sw === 0;
  $('vol-out').textContent = v === 0 ? 'muted (−∞ dB)' : `${(-50 + v * 0.5).toFixed(1)} dB`;
  $('ctl-info').textContent = `CTL_READ: volume ${v}, switch ${sw}`;
}

void main();
