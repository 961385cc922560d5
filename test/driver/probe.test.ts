import { describe, expect, it } from 'vitest';
import { VIRTIO_SND_PCM_FMT_S16 } from '../../src/snd/protocol.ts';
import { InProcess } from '../helpers/in-process.ts';

describe('driver probe', () => {
  it('builds the card model from the device', async () => {
    const p = await InProcess.create();
    const d = p.driver;
    expect(d.config).toEqual({ jacks: 2, streams: 2, chmaps: 7, controls: 4 });
    expect(d.streams.map((s) => s.vss.direction)).toEqual(['playback', 'capture']);
    expect(d.substreams[0].hw.formats).toContain(VIRTIO_SND_PCM_FMT_S16);
    expect(d.substreams[0].hw.rates).toContain(48000);
    expect(d.substreams[0].hw.channelsMax).toBe(8);
    expect(d.jacks.jacks.map((j) => j.connected)).toEqual([true, true]);
    expect(d.chmaps).toHaveLength(7);
    expect(d.controls?.controls.map((c) => c.name)).toEqual([
      'Master Playback Volume',
      'Master Playback Switch',
      'Capture Volume',
      'Capture Switch',
    ]);
  });
});
