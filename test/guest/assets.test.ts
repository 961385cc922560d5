/** The committed guest images are the ones guest/build.sh produced (guest/SHA256SUMS). */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const sums = readFileSync(new URL('../../guest/SHA256SUMS', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((l) => l.split(/\s+/) as [string, string]);

describe('guest images', () => {
  for (const [sum, file] of sums) {
    it(`public/guest/${file} matches SHA256SUMS`, () => {
      const data = readFileSync(new URL(`../../public/guest/${file}`, import.meta.url));
      expect(createHash('sha256').update(data).digest('hex')).toBe(sum);
    });
  }
  it('lists the kernels, initrd and BIOS', () => {
    expect(sums.map(([, f]) => f).sort()).toEqual([
      'bios.bin',
      'bzImage-6.1',
      'bzImage-6.12',
      'initrd.img',
      'test.wav',
      'vgabios-stdvga.bin',
    ]);
  });
});
