/**
 * createVirtioSound(): the main-thread glue. It allocates guest memory (a
 * SharedArrayBuffer), starts the driver Worker (device control plane +
 * driver), loads the AudioWorklet that runs the renderer, connects it to the
 * speakers (and the microphone when recording), and returns a typed handle.
 *
 * It works before the first user gesture: the card is probed and streams can
 * be configured while the AudioContext is suspended; audio starts when
 * resume() is called from a click.
 */

import * as Comlink from 'comlink';
import {
  CompletionLog,
  OutputTap,
  type RenderState,
  type VirtioSndDeviceOptions,
} from '../device/index.ts';
import { linkAudioOutput } from './audio-link.ts';
import { type AudioState, audioStateOf, resumeAudio } from './audio-output.ts';
import type { CardSummary, DriverService, PlayOptions, ServiceEvent } from './driver-service.ts';
import { VirtioSoundError } from './errors.ts';
import { defaultProcessorUrl, startDriverWorker } from './module-urls.ts';
import { createRendererNode, loadRenderer } from './renderer-node.ts';

export interface VirtioSoundOptions {
  /** An AudioContext to use; default: a new one with latencyHint 'interactive'. */
  context?: AudioContext;
  /** Guest memory size in bytes (default 8 MiB). */
  memoryBytes?: number;
  /**
   * Where the AudioWorklet module is served (the package's
   * `virtio-snd-web/processor.js`). Default: the file next to this module,
   * which Vite and webpack 5 pick up by themselves.
   */
  processorUrl?: string | URL | undefined;
  /**
   * Where the driver Worker's module is served (the package's
   * `virtio-snd-web/driver-worker.js`, a module Worker). Default: the file
   * next to this module, which Vite and webpack 5 pick up by themselves.
   */
  workerUrl?: string | URL | undefined;
  /** Device configuration (streams, jacks, chmaps, controls, tapFrames). */
  device?: Omit<VirtioSndDeviceOptions, 'memory' | 'sampleRate' | 'autoService'>;
  /** Where the device's output goes (default: context.destination). */
  destination?: AudioNode;
  /**
   * Plug and unplug the device's jacks as the machine's audio outputs and
   * inputs come and go (devicechange, setOutputDevice). Default true.
   */
  followDevices?: boolean;
}

/** An audio output the page can play to (AudioContext.setSinkId). */
export interface AudioOutputDevice {
  deviceId: string;
  label: string;
}

export interface Recording {
  /** Stops recording; resolves to the captured PCM in the requested format. */
  stop(): Promise<ArrayBuffer>;
}

export interface VirtioSound {
  readonly context: AudioContext;
  readonly node: AudioWorkletNode;
  /** The driver Worker's service (the whole PCM/control API), over comlink. */
  readonly driver: Comlink.Remote<DriverService>;
  readonly card: CardSummary;
  readonly renderState: RenderState;
  /**
   * Resumes the AudioContext (call from a user gesture). Rejects with a
   * VirtioSoundError 'audio-interrupted' while the system keeps audio
   * interrupted; the device keeps answering and loses nothing meanwhile.
   */
  resume(): Promise<void>;
  /** The AudioContext's state ('interrupted' included). */
  readonly audioState: AudioState;
  /** Calls `cb` on every state change; returns a function that stops it. */
  onAudioState(cb: (state: AudioState) => void): () => void;
  /** Seconds from the device's output to the ear (baseLatency + outputLatency), as reported to the device. */
  readonly outputLatency: number;
  /** The machine's audio outputs (labels need microphone permission in some browsers). */
  outputDevices(): Promise<AudioOutputDevice[]>;
  /** Plays to output `deviceId` ('' = the default); the speaker jack follows it. */
  setOutputDevice(deviceId: string): Promise<void>;
  playTone(
    opts: PlayOptions & { frequency: number; amplitude?: number; seconds?: number },
  ): Promise<void>;
  /** Plays PCM bytes in opts.format (transferred to the Worker: `data` becomes unusable here). */
  play(opts: PlayOptions, data: ArrayBuffer): Promise<void>;
  stop(streamId?: number): Promise<void>;
  /** Records from the microphone through the device's capture stream. */
  record(opts: PlayOptions): Promise<Recording>;
  /** 0..100 on Master Playback Volume (-50..0 dB; 0 mutes). */
  setVolume(percent: number): Promise<void>;
  setMuted(muted: boolean): Promise<void>;
  /** Copies the most recent `frames` rendered frames (after volume) into `left`/`right`. */
  readScope(left: Float32Array, right: Float32Array): void;
  /** A reader of everything the device renders from now on (needs device.tapFrames > 0). */
  outputTap(): OutputTap;
  /** A reader of message completions (audio-clock frame of each) from now on. */
  completionLog(): CompletionLog;
  /** Device and stream counters. */
  stats(): Promise<ReturnType<DriverService['stats']>>;
  /** Events (periods, xruns, control changes, errors) in batches. */
  onEvents(cb: (events: ServiceEvent[]) => void): void;
  /**
   * The whole sound stack as one snapshot (see src/host/host-snapshot.ts):
   * guest memory, device, transport, driver, and the players and recordings
   * under way. Taken mid-playback, it plays on, bit-exact, in the page that
   * restores it.
   */
  saveState(): Promise<Uint8Array>;
  /**
   * Restores a saveState() snapshot of a page with the same device options
   * and memory size (this page or a fresh one; the AudioContext may be
   * suspended: playback goes on when it runs). A bad snapshot rejects with a
   * SnapshotError and changes nothing.
   */
  restoreState(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

const DEFAULT_MEMORY = 8 << 20;

/** Throws a VirtioSoundError naming what this page or browser lacks. */
export function checkEnvironment(): void {
  if (typeof SharedArrayBuffer === 'undefined') {
    throw new VirtioSoundError(
      'no-shared-array-buffer',
      'SharedArrayBuffer is not available: serve the page cross-origin isolated ' +
        '(Cross-Origin-Opener-Policy: same-origin, Cross-Origin-Embedder-Policy: require-corp)',
    );
  }
  if (typeof crossOriginIsolated !== 'undefined' && !crossOriginIsolated) {
    throw new VirtioSoundError(
      'not-cross-origin-isolated',
      'the page is not cross-origin isolated: send Cross-Origin-Opener-Policy: same-origin and ' +
        'Cross-Origin-Embedder-Policy: require-corp',
    );
  }
  if (typeof AudioWorkletNode === 'undefined') {
    throw new VirtioSoundError('no-audio-worklet', 'this browser has no AudioWorklet');
  }
  if (typeof Worker === 'undefined')
    throw new VirtioSoundError('no-worker', 'this browser has no Worker');
}

export async function createVirtioSound(options: VirtioSoundOptions = {}): Promise<VirtioSound> {
  checkEnvironment();
  const context = options.context ?? new AudioContext({ latencyHint: 'interactive' });
  const memory = new SharedArrayBuffer(options.memoryBytes ?? DEFAULT_MEMORY);
  const processorUrl = options.processorUrl ?? defaultProcessorUrl();
  const worker = startDriverWorker(options.workerUrl);
  const driver = Comlink.wrap<DriverService>(worker);
  const deviceOptions = { tapFrames: 8192, ...options.device };
  let started: { renderState: RenderState; card: CardSummary; node: AudioWorkletNode };
  try {
    const [{ renderState, card }] = await Promise.all([
      unlessWorkerFails(
        worker,
        options.workerUrl,
        driver.init(memory, context.sampleRate, deviceOptions),
      ),
      loadRenderer(context, processorUrl),
    ]);
    const node = await createRendererNode(context, renderState, { processorUrl });
    started = { renderState, card, node };
  } catch (e) {
    // Nothing is left running: the caller may retry (with corrected URLs, say).
    worker.terminate();
    if (!options.context) await context.close().catch(() => {});
    throw e;
  }
  const { renderState, card, node } = started;
  node.connect(options.destination ?? context.destination);
  // The scope's reader of the output tap (none when the device keeps no tap).
  const scope = renderState.layout.tapFrames > 0 ? new OutputTap(renderState) : null;
  let mic: { stream: MediaStream; source: MediaStreamAudioSourceNode } | null = null;
  let closed = false;
  const stateListeners = new Set<(state: AudioState) => void>();
  const sink = context as AudioContext & { setSinkId?: (id: string) => Promise<void> };
  const mediaDevices = (globalThis.navigator as Navigator | undefined)?.mediaDevices;
  const link = await linkAudioOutput(
    context,
    {
      setOutputLatency: (seconds) => driver.setOutputLatency(seconds),
      jackStatus: () => driver.jackStatus(),
      setJackConnected: (id, connected) => driver.setJackConnected(id, connected),
    },
    {
      followDevices: options.followDevices,
      onState: (state) => {
        for (const cb of stateListeners) cb(state);
      },
    },
  );

  const ensureOpen = () => {
    if (closed) throw new VirtioSoundError('closed', 'this VirtioSound was closed');
  };

  const connectMicrophone = async () => {
    if (mic) return;
    if (!navigator.mediaDevices?.getUserMedia) {
      throw new VirtioSoundError(
        'no-microphone',
        'this browser cannot capture audio (no getUserMedia)',
      );
    }
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
    } catch (e) {
      const name = (e as DOMException).name;
      if (name === 'NotAllowedError' || name === 'SecurityError') {
        throw new VirtioSoundError('microphone-denied', 'microphone access was denied');
      }
      throw new VirtioSoundError('no-microphone', `no microphone: ${name}`);
    }
    const source = context.createMediaStreamSource(stream);
    source.connect(node);
    mic = { stream, source };
  };

  return {
    context,
    node,
    driver,
    card,
    renderState,
    async resume() {
      ensureOpen();
      await resumeAudio(context);
    },
    get audioState() {
      return audioStateOf(context);
    },
    onAudioState(cb) {
      stateListeners.add(cb);
      return () => stateListeners.delete(cb);
    },
    get outputLatency() {
      return link.outputLatency;
    },
    async outputDevices() {
      const list = (await mediaDevices?.enumerateDevices()) ?? [];
      return list
        .filter((d) => d.kind === 'audiooutput')
        .map((d) => ({ deviceId: d.deviceId, label: d.label }));
    },
    async setOutputDevice(deviceId) {
      ensureOpen();
      if (typeof sink.setSinkId !== 'function') {
        throw new VirtioSoundError(
          'no-output-selection',
          'this browser cannot choose an audio output (no AudioContext.setSinkId)',
        );
      }
      await sink.setSinkId(deviceId);
      await link.refresh();
    },
    async playTone(opts) {
      ensureOpen();
      await driver.playTone(opts);
    },
    async play(opts, data) {
      ensureOpen();
      await driver.playPcm(opts, Comlink.transfer(data, [data]));
    },
    async stop(streamId) {
      const id = streamId ?? card.streams.find((s) => s.direction === 'playback')?.id ?? 0;
      await driver.stop(id);
    },
    async record(opts) {
      ensureOpen();
      await connectMicrophone();
      await driver.startRecording(opts);
      return { stop: () => driver.stopRecording(opts.streamId) };
    },
    async setVolume(percent) {
      const v = Math.round(Math.min(100, Math.max(0, percent)));
      await driver.setControl('Master Playback Volume', [v]);
    },
    async setMuted(muted) {
      await driver.setControl('Master Playback Switch', [muted ? 0 : 1]);
    },
    readScope(left, right) {
      scope?.latest(left, right);
    },
    outputTap() {
      return new OutputTap(renderState);
    },
    completionLog() {
      return new CompletionLog(renderState);
    },
    stats() {
      return driver.stats();
    },
    onEvents(cb) {
      void driver.subscribe(Comlink.proxy(cb));
    },
    async saveState() {
      ensureOpen();
      return driver.saveState();
    },
    async restoreState(bytes) {
      ensureOpen();
      await driver.restoreState(bytes);
      // This page's output latency and audio devices, not the saved page's.
      void link.refresh();
    },
    async close() {
      if (closed) return;
      closed = true;
      link.stop();
      stateListeners.clear();
      for (const s of card.streams) await driver.close(s.id).catch(() => {});
      mic?.stream.getTracks().forEach((t) => {
        t.stop();
      });
      node.disconnect();
      driver[Comlink.releaseProxy]();
      worker.terminate();
      if (!options.context) await context.close();
    },
  };
}

/**
 * `init`, or a 'worker-load-failed' rejection when the Worker fails to load
 * first: comlink would otherwise wait forever for a Worker that never ran.
 */
function unlessWorkerFails<T>(
  worker: Worker,
  url: string | URL | undefined,
  init: Promise<T>,
): Promise<T> {
  let onError = (_e: Event) => {};
  const failed = new Promise<never>((_, reject) => {
    onError = (e) => {
      const detail = 'message' in e && e.message ? `: ${String(e.message)}` : '';
      const from = url === undefined ? '' : ` from ${String(url)}`;
      reject(
        new VirtioSoundError(
          'worker-load-failed',
          `the driver Worker did not start${from}${detail}`,
        ),
      );
    };
    worker.addEventListener('error', onError);
  });
  return Promise.race([init, failed]).finally(() => worker.removeEventListener('error', onError));
}
