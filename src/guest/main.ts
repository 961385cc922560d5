/**
 * The guest page: boots a Linux guest in v86 with our virtio-snd device at
 * 0xfe000000 (IRQ 5), shows its serial console, and plays what the guest's
 * virtio_snd driver sends through the device's AudioWorklet.
 *
 * Query: `kernel=6.1|6.12` (default the newest: public/guest/bzImage-<kernel>),
 * `rate=<Hz>` (the AudioContext's), `mic=1`, `tap=<frames>`, `loopback=1`:
 * the device's output is fed back into its capture input (through a DelayNode,
 * which a cycle in a Web Audio graph needs: it adds one render quantum, 128
 * frames), for the guest's `latency` round-trip test, and `input=ramp`: the
 * capture input is fed the test ramp of guest/tools/vsnd.c (`arecord -V ramp`).
 */

import { V86 } from 'v86';
import v86WasmUrl from 'v86/build/v86.wasm?url';
import { type AttachedSound, attachVirtioSnd, type V86Like, v86Bus } from 'virtio-snd-web/embed';
import {
  checkEnvironment,
  createRendererNode,
  linkAudioOutput,
  OutputTap,
} from 'virtio-snd-web/host';
import { AudioStateIndicator } from '../pages/audio-state.ts';
import { showStartupProblem } from '../pages/startup-problem.ts';
import { BootProgress, showBootFailure } from './boot-progress.ts';
import { attachCommandLine } from './command-line.ts';
import { SerialConsole } from './serial-console.ts';
import { SnapshotUi } from './snapshot-ui.ts';

const BASE = 0xfe000000;
/** The guest kernels in public/guest (guest/build.sh), newest first. */
const KERNELS = ['6.12', '6.1'] as const;
const IRQ = 5;
const MEMORY_BYTES = 128 << 20;
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

interface GuestHandle {
  emulator: V86;
  sound: AttachedSound | null;
  context: AudioContext;
  console: SerialConsole;
  bootMs: number;
  /** Which bzImage booted (`?kernel=`). */
  kernel: string;
  outputTap(): OutputTap;
  /** Types a command line into the guest's shell. */
  send(line: string): void;
  micConnected: boolean;
  /** The boot progress card (stages reached, elapsed time). */
  boot?: BootProgress;
  audioState?: AudioStateIndicator;
  /** "Save state" / "Restore state" (snapshot-ui.ts). */
  snapshots?: SnapshotUi;
}

declare global {
  interface Window {
    guest?: GuestHandle;
  }
}

function pill(id: string, text: string, cls: 'ok' | 'warn' | 'bad'): void {
  const el = $(id);
  el.textContent = text;
  el.className = `pill ${cls}`;
}

async function main(): Promise<void> {
  checkEnvironment();
  const params = new URLSearchParams(location.search);
  const rate = params.get('rate');
  const kernel = params.get('kernel') ?? KERNELS[0];
  if (!(KERNELS as readonly string[]).includes(kernel)) {
    throw new Error(`unknown kernel ${kernel} (have ${KERNELS.join(', ')})`);
  }
  const input = params.get('input');
  if (input !== null && input !== 'ramp') throw new Error(`unknown input ${input} (have ramp)`);
  const context = new AudioContext({
    latencyHint: 'interactive',
    ...(rate ? { sampleRate: Number(rate) } : {}),
  });
  const term = new SerialConsole($('console'));
  const t0 = performance.now();
  const emulator = new V86({
    wasm_path: v86WasmUrl,
    bios: { url: '/guest/bios.bin' },
    vga_bios: { url: '/guest/vgabios-stdvga.bin' },
    bzimage: { url: `/guest/bzImage-${kernel}` },
    initrd: { url: '/guest/initrd.img' },
    cmdline: `console=ttyS0 loglevel=4 virtio_mmio.device=4K@0x${BASE.toString(16)}:${IRQ}`,
    memory_size: MEMORY_BYTES,
    vga_memory_size: 2 << 20,
    autostart: true,
    disable_speaker: true,
    disable_keyboard: true,
    disable_mouse: true,
  });
  const handle: GuestHandle = {
    emulator,
    sound: null,
    context,
    console: term,
    bootMs: 0,
    kernel,
    micConnected: false,
    outputTap() {
      if (!handle.sound) throw new Error('not attached yet');
      return new OutputTap(handle.sound.device.inner.renderState);
    },
    send(line: string) {
      emulator.serial0_send(`${line}\n`);
    },
  };
  window.guest = handle;
  handle.boot = new BootProgress($('boot'), emulator, {
    controlRequests: () => handle.sound?.device.inner.stats().controlRequests ?? 0,
  });
  handle.snapshots = new SnapshotUi({
    emulator,
    sound: () => handle.sound,
    meta: { memoryBytes: MEMORY_BYTES, sampleRate: context.sampleRate, kernel },
    save: $('snap-save'),
    restore: $('snap-restore'),
    file: $('snap-file'),
    status: $('snap-status'),
  });
  term.onInput = (s) => emulator.serial0_send(s);
  emulator.add_listener('serial0-output-byte', (byte: number) => {
    term.write(byte);
    if (!handle.bootMs && term.text.includes('guest# ')) {
      handle.bootMs = performance.now() - t0;
      pill('pill-boot', `booted in ${(handle.bootMs / 1000).toFixed(1)} s`, 'ok');
      if (term.text.includes('VirtIO SoundCard')) {
        pill('pill-card', `Linux ${kernel} found the card`, 'ok');
      }
      handle.snapshots?.enable();
    }
  });
  const tapFrames = Number(params.get('tap') ?? 1 << 16);
  emulator.add_listener('emulator-ready', async () => {
    // Map the device before the guest runs far enough to probe it.
    const sound = attachVirtioSnd(v86Bus(emulator as unknown as V86Like, IRQ), {
      base: BASE,
      sampleRate: context.sampleRate,
      tapFrames,
    });
    sound.start(2);
    handle.sound = sound;
    const node = await createRendererNode(context, sound.device.inner.renderState);
    node.connect(context.destination);
    // The guest's delay() includes the page's output latency; its jacks follow the devices.
    await linkAudioOutput(context, sound.device.inner);
    if (params.get('loopback') === '1') {
      const feedback = context.createDelay();
      feedback.delayTime.value = 0;
      node.connect(feedback).connect(node);
    }
    if (input === 'ramp') connectRamp(context, node);
    if (params.get('mic') === '1') await connectMic(context, node, handle);
    $('mic').addEventListener('click', () => void connectMic(context, node, handle));
    startLiveView(handle);
  });
  const audio = new AudioStateIndicator(context, {
    pill: $('pill-audio'),
    button: $('audio-resume'),
    note: $('audio-note'),
  });
  handle.audioState = audio;
  // Browsers start audio on a gesture: any click or key in the page will do.
  const resume = () => {
    if (audio.state === 'suspended') void audio.resume();
  };
  document.addEventListener('pointerdown', resume, { capture: true });
  document.addEventListener('keydown', resume, { capture: true });
  attachCommandLine($('cmdline'), (line) => handle.send(line));
  for (const b of document.querySelectorAll<HTMLButtonElement>('button[data-cmd]')) {
    b.addEventListener('click', () => handle.send(b.dataset.cmd ?? ''));
  }
}

async function connectMic(
  context: AudioContext,
  node: AudioWorkletNode,
  handle: GuestHandle,
): Promise<void> {
  if (handle.micConnected) return;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    context.createMediaStreamSource(stream).connect(node);
    handle.micConnected = true;
    $('mic').textContent = 'Microphone on';
  } catch (e) {
    $('mic').textContent = `Microphone: ${(e as DOMException).name}`;
  }
}

/**
 * Feeds the capture input the test ramp of guest/tools/vsnd.c, looped at the
 * context rate: frame k of 32768 is (k - 16384) / 32768 on the left, 2048 / 32768
 * more on the right. Those values are exact in float32 and in S16, so a capture
 * stream at the context rate records the ramp bit-exact (`arecord -V ramp`).
 */
function connectRamp(context: AudioContext, node: AudioWorkletNode): void {
  const frames = 32768;
  const buffer = context.createBuffer(2, frames, context.sampleRate);
  const left = buffer.getChannelData(0);
  const right = buffer.getChannelData(1);
  for (let k = 0; k < frames; k++) {
    left[k] = (k - 16384) / 32768;
    right[k] = (k - 16384 + 2048) / 32768;
  }
  const source = context.createBufferSource();
  source.buffer = buffer;
  source.loop = true;
  source.connect(node);
  source.start();
}

function startLiveView(handle: GuestHandle): void {
  const canvas = $<HTMLCanvasElement>('scope');
  const left = new Float32Array(1024);
  const tap = handle.outputTap();
  const history: number[] = [];
  const frame = () => {
    const chunk = tap.take();
    for (const v of chunk.left) history.push(v);
    if (history.length > left.length) history.splice(0, history.length - left.length);
    left.set(history.slice(-left.length));
    const w = canvas.clientWidth * devicePixelRatio;
    const h = 120 * devicePixelRatio;
    canvas.width = w;
    canvas.height = h;
    const g = canvas.getContext('2d');
    if (g) {
      g.strokeStyle = '#4fc3f7';
      g.lineWidth = devicePixelRatio;
      g.beginPath();
      for (let x = 0; x < w; x++) {
        const y = h / 2 - left[Math.floor((x / w) * left.length)] * (h / 2) * 0.95;
        if (x === 0) g.moveTo(x, y);
        else g.lineTo(x, y);
      }
      g.stroke();
    }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  setInterval(() => {
    const s = handle.sound;
    if (!s) return;
    const st = s.device.inner.stats();
    const rows: [string, string][] = [
      [
        'playback',
        `${st.streams[0].state}, ${st.streams[0].completed} periods, ${st.streams[0].xruns} xruns`,
      ],
      ['capture', `${st.streams[1].state}, ${st.streams[1].completed} periods`],
      [
        'relayed',
        `${s.device.stats().messagesRelayed} messages, ${(s.device.stats().bytesRelayed / 1024).toFixed(0)} KiB`,
      ],
      ['control requests', String(st.controlRequests)],
      ['rendered', `${(st.frames / handle.context.sampleRate).toFixed(1)} s`],
    ];
    $('stats').innerHTML = rows
      .map(([k, v]) => `<tr><th scope="row">${k}</th><td>${v}</td></tr>`)
      .join('');
  }, 250);
}

void main().catch((e: unknown) => {
  const problem = showStartupProblem(e, $('problem'), document.querySelectorAll('main'));
  pill('pill-boot', 'not booted', 'bad');
  pill('pill-card', 'no card', 'bad');
  pill('pill-audio', 'no audio', 'bad');
  showBootFailure($('boot'), `${problem.code} (see the message above)`);
  console.error(`virtio-snd guest: cannot start (${problem.code})`, e);
});
