/**
 * The driver Worker's service: it hosts the device control plane
 * (VirtioSndDevice + VirtioMmioTransport) and the driver (VirtioSndDriver) in
 * one thread, and offers the page a structured-cloneable API over comlink:
 * the ALSA-like PCM calls per stream, plus players that run here, next to the
 * driver, so the page's main thread can jank without starving the stream.
 *
 * PCM crosses from the page by transfer (Comlink.transfer of an ArrayBuffer):
 * one copy into guest memory, done by writei. See bench/ for the comparison
 * with writing into the SharedArrayBuffer from the page.
 */

import * as Comlink from 'comlink';
import {
  type JackStatus,
  prepareSoundRestore,
  type RenderState,
  saveSoundState,
  VirtioSndDevice,
  type VirtioSndDeviceOptions,
} from '../device/index.ts';
import { type HwParams, type PcmStream, VirtioSndDriver, VirtioSndError } from '../driver/index.ts';
import { SnapshotError } from '../snapshot/snapshot-format.ts';
import { PCM_FORMAT_INFO } from '../snd/protocol.ts';
import { VirtioMmioTransport } from '../virtio/mmio.ts';
import {
  type HostState,
  type PlayerState,
  readHostState,
  writeHostState,
} from './host-snapshot.ts';
import {
  framesOrXrun,
  PcmSource,
  Player,
  type PlayerEnd,
  type PlayerProgress,
  type PlayerSource,
  sourceOf,
  ToneSource,
} from './player.ts';

export interface CardSummary {
  streams: {
    id: number;
    direction: 'playback' | 'capture';
    formats: string[];
    formatIds: number[];
    rates: number[];
    channelsMin: number;
    channelsMax: number;
  }[];
  jacks: { id: number; connected: boolean }[];
  controls: { id: number; name: string; type: string; min: number; max: number; count: number }[];
  chmaps: number;
}

export interface StreamStatus {
  id: number;
  state: string;
  hwPtr: number;
  applPtr: number;
  delay: number;
  avail: number;
  xruns: number;
  periods: number;
  /** Frame of the audio clock (context frames) at the last completion seen by the driver. */
  lastPeriodTime: number;
}

export interface ServiceEvent {
  type: 'period' | 'xrun' | 'control' | 'jack' | 'error' | 'ended';
  streamId?: number;
  detail?: string;
  values?: number[];
  /** performance.now() in the worker. */
  time: number;
  hwPtr?: number;
}

export type EventSink = (events: ServiceEvent[]) => void;

export interface PlayOptions extends HwParams {
  streamId?: number;
  /** Frames before playback starts by itself (default: the whole buffer). */
  startThreshold?: number;
}

export class DriverService {
  device!: VirtioSndDevice;
  driver!: VirtioSndDriver;
  transport!: VirtioMmioTransport;
  private sink: EventSink | null = null;
  private pending: ServiceEvent[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private players = new Map<number, Player>();
  private recordings = new Map<
    number,
    { stop: boolean; chunks: Uint8Array[]; done: Promise<void> }
  >();
  /** Completion log for timing analysis: [streamId, hwPtr, performance.now()]. */
  private completions: number[] = [];
  logCompletions = false;

  /** Builds the device and the driver over `memory` and probes the card. */
  async init(
    memory: SharedArrayBuffer,
    sampleRate: number,
    deviceOptions: Omit<VirtioSndDeviceOptions, 'memory' | 'sampleRate'> = {},
  ): Promise<{ renderState: RenderState; card: CardSummary }> {
    this.device = new VirtioSndDevice({ ...deviceOptions, memory, sampleRate });
    let driver: VirtioSndDriver | null = null;
    const transport = new VirtioMmioTransport(this.device, {
      onInterrupt: (level) => driver?.interrupt(level),
    });
    this.transport = transport;
    // The driver takes guest memory from 0; the device reads only what the driver hands it.
    this.driver = new VirtioSndDriver(transport, memory, { timeoutMs: 1000 });
    driver = this.driver;
    this.driver.onError = (e) =>
      this.emit({ type: 'error', detail: e.message, time: performance.now() });
    await this.driver.probe();
    for (const s of this.driver.streams) this.watch(s);
    if (this.driver.controls) {
      this.driver.controls.onChange = (c, values) =>
        this.emit({ type: 'control', detail: c.name, values, time: performance.now() });
    }
    this.driver.jacks.onChange = (j) =>
      this.emit({
        type: 'jack',
        streamId: j.id,
        detail: j.connected ? 'connected' : 'disconnected',
        time: performance.now(),
      });
    return { renderState: this.device.renderState, card: this.card() };
  }

  private watch(s: PcmStream): void {
    s.onPeriod = (e) => {
      if (this.logCompletions) this.completions.push(e.streamId, e.hwPtr, e.time);
      this.emit({ type: 'period', streamId: e.streamId, hwPtr: e.hwPtr, time: e.time });
    };
    s.onXrun = (id) => this.emit({ type: 'xrun', streamId: id, time: performance.now() });
  }

  /** Receives events in batches (at most every 50 ms), e.g. a Comlink.proxy'd callback. */
  subscribe(sink: EventSink): void {
    this.sink = sink;
  }

  private emit(e: ServiceEvent): void {
    if (!this.sink) return;
    this.pending.push(e);
    if (this.pending.length > 2000) this.pending.splice(0, this.pending.length - 2000);
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = null;
      const batch = this.pending;
      this.pending = [];
      this.sink?.(batch);
    }, 50);
  }

  card(): CardSummary {
    const d = this.driver;
    return {
      streams: d.substreams.map((v) => ({
        id: v.sid,
        direction: v.direction,
        formats: v.hw.formats.map((f) => PCM_FORMAT_INFO[f].name),
        formatIds: [...v.hw.formats],
        rates: [...v.hw.rates],
        channelsMin: v.hw.channelsMin,
        channelsMax: v.hw.channelsMax,
      })),
      jacks: d.jacks.jacks.map((j) => ({ id: j.id, connected: j.connected })),
      controls: (d.controls?.controls ?? []).map((c) => ({
        id: c.id,
        name: c.name,
        type: c.type,
        min: c.min,
        max: c.max,
        count: c.count,
      })),
      chmaps: d.chmaps.length,
    };
  }

  // ---- the ALSA-like API, per stream ------------------------------------

  private pcm(id: number): PcmStream {
    return this.driver.pcm(id);
  }

  async hwParams(id: number, p: HwParams): Promise<void> {
    await this.pcm(id).hwParams(p);
  }
  swParams(id: number, p: { startThreshold?: number }): void {
    this.pcm(id).swParams(p);
  }
  async prepare(id: number): Promise<void> {
    await this.pcm(id).prepare();
  }
  async start(id: number): Promise<void> {
    await this.pcm(id).start();
  }
  async stop(id: number): Promise<void> {
    const p = this.players.get(id);
    if (p) p.stop = true;
    const r = this.recordings.get(id);
    if (r) r.stop = true;
    const s = this.pcm(id);
    if (['prepared', 'running', 'paused', 'draining', 'xrun'].includes(s.state)) await s.stop();
    await p?.done;
  }
  async drain(id: number): Promise<void> {
    await this.pcm(id).drain();
  }
  async pause(id: number, enable: boolean): Promise<void> {
    await this.pcm(id).pause(enable);
  }
  async recover(id: number): Promise<void> {
    await this.pcm(id).recover();
  }
  async close(id: number): Promise<void> {
    await this.stop(id).catch(() => {});
    await this.pcm(id).close();
  }
  async writei(id: number, data: ArrayBuffer, nonblock = false): Promise<number> {
    return this.pcm(id).writei(new Uint8Array(data), { nonblock });
  }
  async readi(id: number, bytes: number, nonblock = false): Promise<ArrayBuffer> {
    const buf = new Uint8Array(bytes);
    const frames = await this.pcm(id).readi(buf, { nonblock });
    const fb = this.pcm(id).params?.frameBytes ?? 1;
    return buf.buffer.slice(0, frames * fb);
  }

  status(id: number): StreamStatus {
    const s = this.pcm(id);
    return {
      id,
      state: s.state,
      hwPtr: s.hwPtr,
      applPtr: s.applPtr,
      delay: s.params ? s.delay() : 0,
      avail: s.params ? s.avail() : 0,
      xruns: s.xruns,
      periods: s.vss.periodsElapsed,
      lastPeriodTime: 0,
    };
  }

  /** Device counters (renderer side) and every stream's driver-side status. */
  stats(): { device: ReturnType<VirtioSndDevice['stats']>; streams: StreamStatus[] } {
    return {
      device: this.device.stats(),
      streams: this.driver.streams.map((s) => this.status(s.id)),
    };
  }

  /** [streamId, hwPtr, time] triples logged since the last call (when logCompletions is on). */
  takeCompletions(): number[] {
    const c = this.completions;
    this.completions = [];
    return c;
  }

  setLogCompletions(on: boolean): void {
    this.logCompletions = on;
  }

  // ---- controls ---------------------------------------------------------

  async setControl(name: string, values: number[]): Promise<void> {
    const c = this.driver.controls?.find(name);
    if (!c) throw new VirtioSndError(`no control named ${name}`);
    await this.driver.controls!.write(c.id, values);
  }

  async getControl(name: string): Promise<number[]> {
    const c = this.driver.controls?.find(name);
    if (!c) throw new VirtioSndError(`no control named ${name}`);
    return this.driver.controls!.read(c.id);
  }

  setJackConnected(id: number, connected: boolean): void {
    this.device.setJackConnected(id, connected);
  }

  /** The device's jacks as the host sees them (direction from the pin capabilities). */
  jackStatus(): JackStatus[] {
    return this.device.jackStatus();
  }

  /** The page's output latency (seconds), folded into every TX latency_bytes. */
  setOutputLatency(seconds: number): void {
    this.device.setOutputLatency(seconds);
  }

  // ---- players ------------------------------------------------------------

  private async configure(id: number, p: PlayOptions): Promise<PcmStream> {
    const s = this.pcm(id);
    await this.stop(id).catch(() => {});
    if (s.state === 'xrun') await s.recover();
    await s.hwParams(p);
    if (p.startThreshold) s.swParams({ startThreshold: p.startThreshold });
    await s.prepare();
    return s;
  }

  /** Plays a sine until stop() (or for `seconds`). */
  async playTone(
    opts: PlayOptions & { frequency: number; amplitude?: number; seconds?: number },
  ): Promise<void> {
    const id = opts.streamId ?? this.firstStream('playback');
    const s = await this.configure(id, opts);
    const tone = {
      frequency: opts.frequency,
      amplitude: opts.amplitude ?? 0.5,
      rate: opts.rate,
      channels: opts.channels,
      format: opts.format,
      total: opts.seconds ? Math.round(opts.seconds * opts.rate) : Number.POSITIVE_INFINITY,
    };
    this.startPlayer(id, s, new ToneSource(tone, opts.periodFrames));
  }

  /** Plays PCM bytes (already in `opts.format`) once, then drains. */
  async playPcm(opts: PlayOptions, data: ArrayBuffer): Promise<void> {
    const id = opts.streamId ?? this.firstStream('playback');
    const s = await this.configure(id, opts);
    const source = new PcmSource(new Uint8Array(data), 0, s.params!.frameBytes, opts.periodFrames);
    this.startPlayer(id, s, source);
  }

  /** Feeds the source's chunks to the stream until they end or stop(); then drains. */
  private startPlayer(id: number, s: PcmStream, source: PlayerSource, from?: PlayerProgress): void {
    const player: Player = new Player(
      id,
      s,
      source,
      (end: PlayerEnd) => {
        if (end.ok && !player.stop) {
          this.emit({ type: 'ended', streamId: id, time: performance.now() });
        } else if (!end.ok && !player.stop) {
          this.emit({
            type: 'error',
            streamId: id,
            detail: String(end.error),
            time: performance.now(),
          });
        }
        if (this.players.get(id) === player) this.players.delete(id);
      },
      from,
    );
    this.players.set(id, player);
  }

  /** Records until stopRecording(); returns nothing until then. */
  async startRecording(opts: PlayOptions): Promise<void> {
    const id = opts.streamId ?? this.firstStream('capture');
    await this.configure(id, opts);
    this.readRecording(id);
  }

  /** Reads stream `id` period by period into a recording (starting it if prepared). */
  private readRecording(id: number): void {
    const s = this.pcm(id);
    const rec = { stop: false, chunks: [] as Uint8Array[], done: Promise.resolve() };
    rec.done = (async () => {
      try {
        if (s.state === 'prepared') await s.start();
        const periodBytes = s.params!.periodBytes;
        while (!rec.stop) {
          const buf = new Uint8Array(periodBytes);
          const n = await framesOrXrun(s.readi(buf));
          rec.chunks.push(buf.subarray(0, n * s.params!.frameBytes));
          if (s.state === 'xrun') await s.recover();
        }
      } catch (e) {
        if (!rec.stop)
          this.emit({ type: 'error', streamId: id, detail: String(e), time: performance.now() });
      }
    })();
    this.recordings.set(id, rec);
  }

  /** Stops a recording and returns everything captured, in the stream's format. */
  async stopRecording(streamId?: number): Promise<ArrayBuffer> {
    const id = streamId ?? this.firstStream('capture');
    const rec = this.recordings.get(id);
    if (!rec) return new ArrayBuffer(0);
    rec.stop = true;
    const s = this.pcm(id);
    if (['running', 'paused', 'xrun', 'prepared'].includes(s.state)) await s.stop();
    await rec.done;
    this.recordings.delete(id);
    const total = rec.chunks.reduce((a, c) => a + c.length, 0);
    const out = new Uint8Array(total);
    let off = 0;
    for (const c of rec.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out.buffer;
  }

  // ---- snapshots ----------------------------------------------------------

  /**
   * The whole sound stack as one snapshot (host-snapshot.ts): guest memory
   * (what the driver allocated), the transport and device, the driver, and
   * the players and recordings under way. Waits (up to twice the control
   * timeout) for a control request in flight to be answered.
   */
  async saveState(): Promise<Uint8Array> {
    const deadline = performance.now() + 2 * this.driver.ctl.timeoutMs;
    for (;;) {
      try {
        const bytes = this.saveNow();
        return Comlink.transfer(bytes, [bytes.buffer]);
      } catch (e) {
        if (!(e instanceof SnapshotError && e.reason === 'busy' && performance.now() < deadline)) {
          throw e;
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    }
  }

  /** Everything at one instant: nothing else runs in this thread meanwhile. */
  private saveNow(): Uint8Array {
    const driver = this.driver.saveState();
    const sound = saveSoundState(this.transport, this.device, {
      memory: this.driver.heap.saveState().used,
    });
    const players: PlayerState[] = [];
    for (const [streamId, player] of this.players) {
      if (player.stop) continue;
      const progress = player.progress();
      const { chunkFrames } = player.source;
      players.push({
        streamId,
        chunkFrames,
        progress,
        source: player.source.spec(progress.chunkStart),
      });
    }
    const recordings = [...this.recordings].filter(([, r]) => !r.stop).map(([id]) => id);
    return writeHostState({ sound, driver, players, recordings });
  }

  /**
   * Restores a saveState() snapshot from a page with the same device
   * configuration and guest memory size: everything is read and checked
   * first (a SnapshotError changes nothing), then the players and
   * recordings running here stop, and the saved ones go on.
   */
  async restoreState(bytes: Uint8Array): Promise<void> {
    const h: HostState = readHostState(bytes);
    const sound = prepareSoundRestore(this.transport, this.device, h.sound);
    const driver = this.driver.prepareRestore(h.driver);
    for (const player of this.players.values()) player.stop = true;
    for (const r of this.recordings.values()) r.stop = true;
    this.players.clear();
    this.recordings.clear();
    sound.apply();
    driver.apply();
    for (const p of h.players) this.resumePlayer(p);
    for (const id of h.recordings) this.readRecording(id);
  }

  private resumePlayer(p: PlayerState): void {
    const s = this.driver.streams[p.streamId];
    const src = p.source;
    const fb = s?.params?.frameBytes ?? 0;
    if (s?.vss.direction !== 'playback' || (src.kind === 'pcm' && src.frameBytes !== fb)) {
      this.emit({
        type: 'error',
        streamId: p.streamId,
        detail: 'player not restored: its stream changed',
        time: performance.now(),
      });
      return;
    }
    const g = p.progress;
    this.startPlayer(p.streamId, s, sourceOf(src, p.chunkFrames, g.chunkStart, g.mark), g);
  }

  private firstStream(direction: 'playback' | 'capture'): number {
    const s = this.driver.streams.find((x) => x.vss.direction === direction);
    if (!s) throw new VirtioSndError(`the card has no ${direction} stream`);
    return s.id;
  }
}
