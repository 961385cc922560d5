/**
 * The device's jacks follow the machine's real audio devices: when the last
 * output (or the output chosen with setSinkId) goes away, the guest sees its
 * speaker jack unplugged (JACK_DISCONNECTED), and plugged again when it
 * comes back; the same for inputs and the microphone jack. Driven by
 * `devicechange` and by choosing an output.
 */

import type { JackStatus } from '../device/index.ts';

/** The part of MediaDevices this needs (navigator.mediaDevices, or a test's fake). */
export interface AudioDeviceSource {
  enumerateDevices(): Promise<{ kind: string; deviceId: string; label: string }[]>;
  addEventListener(type: 'devicechange', listener: () => void): void;
  removeEventListener(type: 'devicechange', listener: () => void): void;
}

export interface AudioDevicesFollower {
  /** Re-reads the devices now (after choosing an output, say). */
  refresh(): Promise<void>;
  stop(): void;
}

/**
 * Keeps the jacks in step with the devices. `sinkId()` is the output the
 * page plays to ('' for the default). Output jacks follow only where the
 * browser lists its outputs (`outputsListed`: Chrome, which has
 * AudioContext.setSinkId); elsewhere they are left as they are, not
 * unplugged for want of information.
 */
export function followAudioDevices(opts: {
  devices: AudioDeviceSource;
  jacks: readonly JackStatus[];
  setJack(id: number, connected: boolean): void | Promise<void>;
  sinkId?: () => string;
  outputsListed: boolean;
}): AudioDevicesFollower {
  const state = new Map(opts.jacks.map((j) => [j.id, j.connected]));
  let stopped = false;
  let pending: Promise<void> = Promise.resolve();
  const apply = async () => {
    const list = await opts.devices.enumerateDevices();
    if (stopped) return;
    const sink = opts.sinkId?.() ?? '';
    const outputs = list.filter((d) => d.kind === 'audiooutput');
    const hasOutput = sink === '' ? outputs.length > 0 : outputs.some((d) => d.deviceId === sink);
    const hasInput = list.some((d) => d.kind === 'audioinput');
    for (const j of opts.jacks) {
      if (j.direction === 'output' && !opts.outputsListed) continue;
      const connected = j.direction === 'output' ? hasOutput : hasInput;
      if (state.get(j.id) === connected) continue;
      state.set(j.id, connected);
      await opts.setJack(j.id, connected);
    }
  };
  // One refresh at a time, in order: a burst of devicechange events settles on the last list.
  const refresh = () => {
    pending = pending.then(apply, apply);
    return pending;
  };
  const onChange = () => void refresh().catch(() => {});
  opts.devices.addEventListener('devicechange', onChange);
  return {
    refresh,
    stop() {
      stopped = true;
      opts.devices.removeEventListener('devicechange', onChange);
    },
  };
}
