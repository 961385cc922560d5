/**
 * The import rules of docs/architecture.md hold for the repository, and the
 * checker that enforces them in `npm run lint` does catch each kind of break.
 */
import { describe, expect, it } from 'vitest';
import { checkImports, RULES, repositoryFiles } from '../scripts/check-architecture.ts';

const file = (path: string, ...imports: string[]) => ({
  path,
  text: imports.map((s) => `import { x } from '${s}';`).join('\n'),
});

describe('architecture', () => {
  it('every import in src/ and worklet/ is allowed', () => {
    const files = repositoryFiles('.');
    expect(files.length).toBeGreaterThan(50);
    expect(checkImports(files)).toEqual([]);
  });

  it('every file is covered by a rule', () => {
    for (const f of repositoryFiles('.')) {
      expect(
        RULES.some((r) => f.path === r.from || f.path.startsWith(r.from)),
        f.path,
      ).toBe(true);
    }
  });

  it.each([
    [
      'the audio thread importing the control plane',
      'src/device/render/x.ts',
      '../control/stats.ts',
    ],
    ['shared state importing the renderer', 'src/device/shared/x.ts', '../render/pcm-io.ts'],
    ['the relay reading the shared layout', 'src/embed/x.ts', '../device/shared/layout.ts'],
    ['the host deep-importing the driver', 'src/host/x.ts', '../driver/card.ts'],
    ['the demo importing host sources', 'src/demo/x.ts', '../host/index.ts'],
    ['the protocol importing the transport', 'src/snd/x.ts', '../virtio/memory.ts'],
    ['the device importing a package', 'src/device/control/x.ts', 'comlink'],
    ['the root entry importing the host', 'src/index.ts', './host/index.ts'],
    ['the driver importing a Node built-in', 'src/driver/x.ts', 'node:fs'],
    ['a file outside every folder', 'src/elsewhere/x.ts', '../snd/protocol.ts'],
  ])('reports %s', (_, path, spec) => {
    const v = checkImports([file(path, './ok.ts', spec)]);
    expect(v.map((x) => x.spec)).toContain(spec);
    expect(v.find((x) => x.spec === spec)?.line).toBe(2);
  });

  it('allows what the rules allow', () => {
    expect(
      checkImports([
        file('src/device/render/x.ts', '../shared/layout.ts', '../../pcm/pcm-codec.ts'),
        file('src/embed/x.ts', '../device/index.ts', '../virtio/heap.ts'),
        file('src/guest/x.ts', 'virtio-snd-web/embed', 'v86', './y.ts'),
        file('src/host/x.ts', 'comlink', '../driver/index.ts'),
      ]),
    ).toEqual([]);
  });
});
