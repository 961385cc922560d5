/** createVirtioSound's environment checks name what the page lacks. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { VirtioSoundError } from '../../src/host/errors.ts';

// The module imports the worklet URL through Vite; only checkEnvironment is under test here.
vi.mock('../../worklet/processor.ts?worker&url', () => ({ default: '/processor.js' }));
const { checkEnvironment } = await import('../../src/host/create-virtio-sound.ts');

function code(): string | null {
  try {
    checkEnvironment();
    return null;
  } catch (e) {
    expect(e).toBeInstanceOf(VirtioSoundError);
    return (e as VirtioSoundError).code;
  }
}

describe('checkEnvironment', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('passes in an isolated page with AudioWorklet and Worker', () => {
    vi.stubGlobal('crossOriginIsolated', true);
    vi.stubGlobal('AudioWorkletNode', class {});
    vi.stubGlobal('Worker', class {});
    expect(code()).toBeNull();
  });
  it('names a page that is not cross-origin isolated', () => {
    vi.stubGlobal('crossOriginIsolated', false);
    expect(code()).toBe('not-cross-origin-isolated');
  });
  it('names a missing SharedArrayBuffer', () => {
    vi.stubGlobal('SharedArrayBuffer', undefined);
    expect(code()).toBe('no-shared-array-buffer');
  });
  it('names a missing AudioWorklet', () => {
    vi.stubGlobal('crossOriginIsolated', true);
    vi.stubGlobal('AudioWorkletNode', undefined);
    expect(code()).toBe('no-audio-worklet');
  });
});
