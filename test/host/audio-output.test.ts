/**
 * The page's side of the audio output, without a browser: the jacks follow
 * devicechange and the chosen output, an interrupted context gives a typed
 * error on resume, and the latency watcher reports changes only.
 */
import { describe, expect, it } from 'vitest';
import { VirtioSndDevice } from '../../src/device/control/virtio-snd-device.ts';
import type { JackStatus } from '../../src/device/index.ts';
import { linkAudioOutput } from '../../src/host/audio-link.ts';
import { outputLatencyOf, resumeAudio, watchAudioOutput } from '../../src/host/audio-output.ts';
import { followAudioDevices } from '../../src/host/device-jacks.ts';
import { VirtioSoundError } from '../../src/host/errors.ts';

type Dev = { kind: string; deviceId: string; label: string };

class FakeDevices {
  list: Dev[] = [];
  private readonly listeners = new Set<() => void>();
  async enumerateDevices(): Promise<Dev[]> {
    return this.list.map((d) => ({ ...d }));
  }
  addEventListener(_: 'devicechange', l: () => void): void {
    this.listeners.add(l);
  }
  removeEventListener(_: 'devicechange', l: () => void): void {
    this.listeners.delete(l);
  }
  change(list: Dev[]): void {
    this.list = list;
    for (const l of this.listeners) l();
  }
  get listening(): number {
    return this.listeners.size;
  }
}

const JACKS: JackStatus[] = [
  { id: 0, name: 'Speaker', direction: 'output', connected: true },
  { id: 1, name: 'Microphone', direction: 'input', connected: true },
];
const out = (deviceId: string): Dev => ({ kind: 'audiooutput', deviceId, label: deviceId });
const mic = (deviceId: string): Dev => ({ kind: 'audioinput', deviceId, label: deviceId });
const flush = () => new Promise((r) => setTimeout(r, 0));

describe('followAudioDevices', () => {
  it('unplugs and replugs the jacks as devices go and come, once per change', async () => {
    const devices = new FakeDevices();
    devices.list = [out('default'), mic('default')];
    const calls: [number, boolean][] = [];
    const f = followAudioDevices({
      devices,
      jacks: JACKS,
      setJack: (id, c) => {
        calls.push([id, c]);
      },
      outputsListed: true,
    });
    await f.refresh();
    expect(calls).toEqual([]); // nothing changed
    devices.change([mic('default')]);
    await flush();
    devices.change([]);
    await flush();
    devices.change([]);
    await flush();
    devices.change([out('usb'), mic('usb')]);
    await flush();
    await f.refresh();
    expect(calls).toEqual([
      [0, false],
      [1, false],
      [0, true],
      [1, true],
    ]);
    f.stop();
    expect(devices.listening).toBe(0);
  });

  it('follows the chosen output: unplugged when that device goes, whatever else remains', async () => {
    const devices = new FakeDevices();
    devices.list = [out('default'), out('headset'), mic('m')];
    let sink = '';
    const calls: [number, boolean][] = [];
    const f = followAudioDevices({
      devices,
      jacks: JACKS,
      setJack: (id, c) => {
        calls.push([id, c]);
      },
      sinkId: () => sink,
      outputsListed: true,
    });
    sink = 'headset';
    await f.refresh();
    devices.change([out('default'), mic('m')]); // the headset is pulled out
    await flush();
    expect(calls).toEqual([[0, false]]);
    sink = '';
    await f.refresh(); // back to the default output
    expect(calls).toEqual([
      [0, false],
      [0, true],
    ]);
  });

  it('leaves output jacks alone where the browser does not list outputs', async () => {
    const devices = new FakeDevices();
    const calls: [number, boolean][] = [];
    const f = followAudioDevices({
      devices,
      jacks: JACKS,
      setJack: (id, c) => {
        calls.push([id, c]);
      },
      outputsListed: false,
    });
    devices.change([]);
    await flush();
    await f.refresh();
    expect(calls).toEqual([[1, false]]);
  });
});

/** A minimal AudioContext stand-in with a settable state and latencies. */
class FakeContext extends EventTarget {
  state: string = 'suspended';
  baseLatency = 0.005;
  outputLatency = 0.02;
  resumes = 0;
  resume = async () => {
    this.resumes++;
    if (this.state === 'interrupted') throw new DOMException('interrupted', 'InvalidStateError');
    this.state = 'running';
  };
  set(state: string): void {
    this.state = state;
    this.dispatchEvent(new Event('statechange'));
  }
}

describe('audio output state and latency', () => {
  it('sums baseLatency and outputLatency, ignoring what is missing', () => {
    const c = new FakeContext();
    expect(outputLatencyOf(c as unknown as AudioContext)).toBeCloseTo(0.025, 9);
    expect(outputLatencyOf({} as AudioContext)).toBe(0);
  });

  it('takes the measured output latency (playbackStats) where there is one, else the estimate', () => {
    const c = new FakeContext() as FakeContext & { playbackStats?: Record<string, number> };
    const stats = {
      averageLatency: 0,
      minimumLatency: 0,
      maximumLatency: 0,
      underrunDuration: 0,
      underrunEvents: 0,
      totalDuration: 0,
    };
    c.playbackStats = stats;
    // Nothing played yet: no measurement, the estimate stands.
    expect(outputLatencyOf(c as unknown as AudioContext)).toBeCloseTo(0.025, 9);
    stats.averageLatency = 0.0312;
    expect(outputLatencyOf(c as unknown as AudioContext)).toBeCloseTo(0.0362, 9);
    stats.averageLatency = Number.NaN;
    expect(outputLatencyOf(c as unknown as AudioContext)).toBeCloseTo(0.025, 9);
  });

  it('resumes a suspended context; an interrupted or closed one gives a typed error', async () => {
    const c = new FakeContext();
    await resumeAudio(c as unknown as AudioContext);
    expect(c.state).toBe('running');
    await resumeAudio(c as unknown as AudioContext); // running: nothing to do
    expect(c.resumes).toBe(1);
    c.set('interrupted');
    const e = await resumeAudio(c as unknown as AudioContext).catch((x) => x);
    expect(e).toBeInstanceOf(VirtioSoundError);
    expect((e as VirtioSoundError).code).toBe('audio-interrupted');
    // A resume() that resolves while the system keeps audio interrupted is no success either.
    c.resume = async () => {};
    expect(
      ((await resumeAudio(c as unknown as AudioContext).catch((x) => x)) as VirtioSoundError).code,
    ).toBe('audio-interrupted');
    c.set('closed');
    expect(
      ((await resumeAudio(c as unknown as AudioContext).catch((x) => x)) as VirtioSoundError).code,
    ).toBe('closed');
  });

  it('reports every state change, and latency only when it moves', async () => {
    const c = new FakeContext();
    const states: string[] = [];
    const latencies: number[] = [];
    const w = watchAudioOutput(
      c as unknown as AudioContext,
      { onState: (s) => states.push(s), onLatency: (l) => latencies.push(l) },
      5,
    );
    c.set('running');
    c.set('interrupted');
    c.outputLatency = 0.02004; // under 0.1 ms: not news
    await new Promise((r) => setTimeout(r, 20));
    c.outputLatency = 0.1; // a Bluetooth headset
    await new Promise((r) => setTimeout(r, 20));
    w.stop();
    c.set('running');
    expect(states).toEqual(['suspended', 'running', 'interrupted']);
    expect(latencies.map((l) => Math.round(l * 1e4))).toEqual([250, 1050]);
  });
});

describe('linkAudioOutput: one call keeps a device in step with the page', () => {
  const makeDevice = () =>
    new VirtioSndDevice({ memory: new SharedArrayBuffer(1 << 20), sampleRate: 48000 });

  it('gives the device the latency and makes its jacks follow the devices; stop() detaches', async () => {
    const c = new FakeContext();
    const dev = makeDevice();
    const devices = new FakeDevices();
    devices.list = [out('default'), mic('m')];
    const states: string[] = [];
    const link = await linkAudioOutput(c as unknown as AudioContext, dev, {
      devices,
      onState: (s) => states.push(s),
    });
    expect(dev.outputLatency).toBeCloseTo(0.025, 6);
    expect(link.outputLatency).toBeCloseTo(0.025, 6);
    devices.change([out('default')]); // the microphone unplugged
    await new Promise((r) => setTimeout(r, 0));
    await link.refresh();
    expect(dev.jackStatus().map((j) => j.connected)).toEqual([true, false]);
    c.set('running');
    expect(states).toEqual(['suspended', 'running']);
    link.stop();
    expect(devices.listening).toBe(0);
    devices.change([out('default'), mic('m')]);
    await new Promise((r) => setTimeout(r, 0));
    expect(dev.jackStatus().map((j) => j.connected)).toEqual([true, false]);
  });

  it("refresh() gives the device this page's state again, whatever it held (a restore)", async () => {
    const c = new FakeContext();
    const dev = makeDevice();
    const devices = new FakeDevices();
    devices.list = [out('default'), mic('m')];
    const link = await linkAudioOutput(c as unknown as AudioContext, dev, { devices });
    // As after restoring a snapshot of a page with no microphone and another latency:
    dev.setJackConnected(1, false);
    dev.setOutputLatency(0.3);
    await link.refresh();
    expect(dev.jackStatus().map((j) => j.connected)).toEqual([true, true]);
    expect(dev.outputLatency).toBeCloseTo(0.025, 6);
    link.stop();
  });

  it('leaves the jacks alone with followDevices: false, and ignores a target that throws', async () => {
    const c = new FakeContext();
    const devices = new FakeDevices();
    const set: [number, boolean][] = [];
    const link = await linkAudioOutput(
      c as unknown as AudioContext,
      {
        setOutputLatency: () => {
          throw new Error('gone');
        },
        jackStatus: () => JACKS,
        setJackConnected: (id, on) => {
          set.push([id, on]);
        },
      },
      { devices, followDevices: false },
    );
    devices.change([]);
    await new Promise((r) => setTimeout(r, 0));
    expect(set).toEqual([]);
    expect(devices.listening).toBe(0);
    link.stop();
  });
});
