/**
 * Where createVirtioSound and createRendererNode load the AudioWorklet
 * module and the driver Worker from: the consumer's processorUrl/workerUrl,
 * else the default; and what a URL that does not load gives (a typed error,
 * nothing left running, a retry that works). The page is faked: the Worker
 * is a MessageChannel to a real DriverService in this thread, the
 * AudioContext records what it is asked to load.
 */
import * as Comlink from 'comlink';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { VirtioSoundError } from '../../src/host/errors.ts';

// In this repository the default worklet URL comes through Vite (module-urls.ts).
vi.mock('../../worklet/processor.ts?worker&url', () => ({ default: '/assets/processor.js' }));
const { createVirtioSound } = await import('../../src/host/create-virtio-sound.ts');
const { createRendererNode, loadRenderer } = await import('../../src/host/renderer-node.ts');
const { DriverService } = await import('../../src/host/driver-service.ts');
const packageUrls = await import('../../src/host/module-urls.package.ts');

class FakeContext extends EventTarget {
  static made: FakeContext[] = [];
  readonly sampleRate = 48000;
  readonly state = 'suspended';
  readonly destination = {};
  /** URLs that fail to load, as Chromium's addModule fails on a 404. */
  readonly missing = new Set<string>();
  readonly loads: string[] = [];
  readonly audioWorklet = {
    addModule: async (url: string) => {
      this.loads.push(url);
      if (this.missing.has(url)) throw new DOMException('Unable to load a worklet', 'AbortError');
    },
  };
  closed = false;
  constructor() {
    super();
    FakeContext.made.push(this);
  }
  async close() {
    this.closed = true;
  }
}

class FakeNode {
  constructor(
    readonly context: FakeContext,
    readonly name: string,
    readonly options: unknown,
  ) {}
  connect() {}
  disconnect() {}
}

/** A Worker whose other end is a real DriverService, over a MessageChannel. */
class ServiceWorker {
  static made: ServiceWorker[] = [];
  private readonly port: MessagePort;
  terminated = false;
  constructor(
    readonly url: string | URL,
    readonly options: WorkerOptions,
  ) {
    const { port1, port2 } = new MessageChannel();
    Comlink.expose(new DriverService(), port2);
    this.port = port1;
    ServiceWorker.made.push(this);
  }
  postMessage(message: unknown, transfer: Transferable[] = []) {
    this.port.postMessage(message, transfer);
  }
  addEventListener(type: string, listener: EventListener) {
    if (type !== 'message') return;
    this.port.addEventListener('message', listener);
    this.port.start();
  }
  removeEventListener(type: string, listener: EventListener) {
    if (type === 'message') this.port.removeEventListener('message', listener);
  }
  terminate() {
    this.terminated = true;
    this.port.close();
  }
}

/** A Worker whose script does not load: an 'error' event, and no answer ever. */
class MissingWorker extends EventTarget {
  static made: MissingWorker[] = [];
  terminated = false;
  constructor(readonly url: string | URL) {
    super();
    MissingWorker.made.push(this);
    setTimeout(() => this.dispatchEvent(new Event('error')), 0);
  }
  postMessage() {}
  terminate() {
    this.terminated = true;
  }
}

async function failure(p: Promise<unknown>): Promise<VirtioSoundError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(VirtioSoundError);
  return e as VirtioSoundError;
}

beforeEach(() => {
  FakeContext.made = [];
  ServiceWorker.made = [];
  MissingWorker.made = [];
  vi.stubGlobal('crossOriginIsolated', true);
  vi.stubGlobal('AudioContext', FakeContext);
  vi.stubGlobal('AudioWorkletNode', FakeNode);
  vi.stubGlobal('Worker', ServiceWorker);
});
afterEach(() => vi.unstubAllGlobals());

describe('createVirtioSound asset URLs', () => {
  it('starts the Worker and loads the worklet from the URLs it is given', async () => {
    const workerUrl = new URL('https://cdn.example/vsnd/driver-worker.js');
    const sound = await createVirtioSound({
      processorUrl: 'https://cdn.example/vsnd/processor.js',
      workerUrl,
    });
    const [worker] = ServiceWorker.made;
    expect(worker.url).toBe(workerUrl);
    expect(worker.options).toEqual({ type: 'module', name: 'virtio-snd-driver' });
    expect(FakeContext.made[0].loads).toEqual(['https://cdn.example/vsnd/processor.js']);
    expect((sound.node as unknown as FakeNode).name).toBe('virtio-snd');
    expect(sound.card.streams.map((s) => s.direction)).toEqual(['playback', 'capture']);
    await sound.close();
    expect(worker.terminated).toBe(true);
  });

  it('defaults to the files the build provides', async () => {
    const sound = await createVirtioSound();
    expect(String(ServiceWorker.made[0].url)).toMatch(/\/src\/host\/driver-worker\.ts$/);
    expect(FakeContext.made[0].loads).toEqual(['/assets/processor.js']);
    await sound.close();
  });

  it('rejects with worker-load-failed when the Worker does not start, leaving nothing running', async () => {
    vi.stubGlobal('Worker', MissingWorker);
    const e = await failure(createVirtioSound({ workerUrl: '/nowhere/driver-worker.js' }));
    expect(e.code).toBe('worker-load-failed');
    expect(e.message).toContain('/nowhere/driver-worker.js');
    expect(MissingWorker.made[0].terminated).toBe(true);
    expect(FakeContext.made[0].closed).toBe(true);
  });

  it('leaves a context it was given open when it fails', async () => {
    vi.stubGlobal('Worker', MissingWorker);
    const context = new FakeContext();
    const e = await failure(
      createVirtioSound({ context: context as unknown as AudioContext, workerUrl: '/nowhere.js' }),
    );
    expect(e.code).toBe('worker-load-failed');
    expect(context.closed).toBe(false);
  });

  it('rejects with processor-load-failed on a worklet that does not load; a corrected URL then works', async () => {
    const context = new FakeContext();
    context.missing.add('/wrong/processor.js');
    const opts = { context: context as unknown as AudioContext };
    const e = await failure(createVirtioSound({ ...opts, processorUrl: '/wrong/processor.js' }));
    expect(e.code).toBe('processor-load-failed');
    expect(e.message).toContain('/wrong/processor.js');
    expect(e.cause).toBeInstanceOf(DOMException);
    expect(ServiceWorker.made[0].terminated).toBe(true);

    const sound = await createVirtioSound({ ...opts, processorUrl: '/right/processor.js' });
    expect(context.loads).toEqual(['/wrong/processor.js', '/right/processor.js']);
    await sound.close();
  });
});

describe('createRendererNode asset URL', () => {
  it('loads the worklet from processorUrl, once per context', async () => {
    const context = new FakeContext() as unknown as BaseAudioContext;
    const sound = await createVirtioSound({
      context: context as AudioContext,
      processorUrl: '/a.js',
    });
    await createRendererNode(context, sound.renderState, { processorUrl: '/b.js' });
    await loadRenderer(context, '/c.js');
    expect((context as unknown as FakeContext).loads).toEqual(['/a.js']);
    const other = new FakeContext() as unknown as BaseAudioContext;
    await createRendererNode(other, sound.renderState, {
      processorUrl: new URL('https://x.example/p.js'),
    });
    expect((other as unknown as FakeContext).loads).toEqual(['https://x.example/p.js']);
    await sound.close();
  });
});

describe('the published package asset URLs', () => {
  it('point at processor.js and driver-worker.js next to the module', () => {
    const here = new URL('../../src/host/', import.meta.url);
    expect(packageUrls.defaultProcessorUrl()).toBe(new URL('processor.js', here).href);
    const worker = packageUrls.startDriverWorker(undefined) as unknown as ServiceWorker;
    expect(String(worker.url)).toBe(new URL('driver-worker.js', here).href);
    expect(worker.options).toEqual({ type: 'module', name: 'virtio-snd-driver' });
    worker.terminate();
    const given = packageUrls.startDriverWorker('/mine.js') as unknown as ServiceWorker;
    expect(given.url).toBe('/mine.js');
    given.terminate();
  });
});
