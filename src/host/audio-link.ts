/**
 * One call that keeps a device in step with the page's audio output: the
 * output latency (folded into every TX latency_bytes, so the guest's delay
 * means "until heard") and the jacks (the speaker jack unplugged when the
 * page's output goes away, the microphone jack likewise). createVirtioSound
 * uses it for its Worker's device; an emulator that embeds the device
 * (attachVirtioSnd) passes `sound.device.inner`.
 */

import type { JackStatus } from '../device/index.ts';
import { type AudioState, outputLatencyOf, watchAudioOutput } from './audio-output.ts';
import { type AudioDeviceSource, followAudioDevices } from './device-jacks.ts';

/** What the link drives: a VirtioSndDevice, or a proxy to one in a Worker. */
export interface AudioLinkTarget {
  setOutputLatency(seconds: number): void | Promise<void>;
  jackStatus(): JackStatus[] | Promise<JackStatus[]>;
  setJackConnected(id: number, connected: boolean): void | Promise<void>;
}

export interface AudioLinkOptions {
  /** Jacks follow the page's audio devices (default true, where the browser lists them). */
  followDevices?: boolean;
  /** The device list (default navigator.mediaDevices). */
  devices?: AudioDeviceSource;
  /** Called on every AudioContext state change, and once at the start. */
  onState?(state: AudioState): void;
}

export interface AudioLink {
  /** The latency last given to the device (s). */
  readonly outputLatency: number;
  /** Gives the device this page's latency and devices again (after a restore, say). */
  refresh(): Promise<void>;
  stop(): void;
}

/** Links `target` to `context`'s output. Errors from the target are ignored: the link only informs. */
export async function linkAudioOutput(
  context: BaseAudioContext,
  target: AudioLinkTarget,
  opts: AudioLinkOptions = {},
): Promise<AudioLink> {
  let latency = 0;
  const setLatency = (seconds: number) => {
    latency = seconds;
    void Promise.resolve()
      .then(() => target.setOutputLatency(seconds))
      .catch(() => {});
  };
  const output = watchAudioOutput(context, {
    onState: (state) => opts.onState?.(state),
    onLatency: setLatency,
  });
  const sink = context as BaseAudioContext & {
    sinkId?: string | object;
    setSinkId?: (id: string) => Promise<void>;
  };
  const devices =
    opts.devices ??
    ((globalThis.navigator as Navigator | undefined)?.mediaDevices as
      | (MediaDevices & AudioDeviceSource)
      | undefined);
  const follow = async () =>
    (opts.followDevices ?? true) && devices?.enumerateDevices
      ? followAudioDevices({
          devices,
          // What the device says now: after a restore, the saved page's jacks.
          jacks: await target.jackStatus(),
          setJack: (id, connected) => target.setJackConnected(id, connected),
          sinkId: () => (typeof sink.sinkId === 'string' ? sink.sinkId : ''),
          outputsListed: typeof sink.setSinkId === 'function',
        })
      : null;
  let jacks = await follow();
  let stopped = false;
  void jacks?.refresh().catch(() => {});
  return {
    get outputLatency() {
      return latency || outputLatencyOf(context);
    },
    async refresh() {
      setLatency(latency || outputLatencyOf(context));
      jacks?.stop();
      jacks = await follow();
      if (stopped) jacks?.stop();
      else await jacks?.refresh().catch(() => {});
    },
    stop() {
      stopped = true;
      output.stop();
      jacks?.stop();
    },
  };
}
