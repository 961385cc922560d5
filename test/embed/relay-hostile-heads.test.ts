/**
 * A guest that makes a TX/RX head available again while the relay still
 * holds it (held back, in the inner device, or its completion withheld):
 * the relay breaks that queue (NEEDS_RESET), as the device itself does,
 * and never takes the head twice. Found by the relay's restore fuzzer: a
 * head taken twice would be completed twice, and the relay's snapshot of
 * that state could not be restored ("head out twice").
 */
import { describe, expect, it } from 'vitest';
import { saveAttached } from '../../src/embed/attach-snapshot.ts';
import * as P from '../../src/snd/protocol.ts';
import { VIRTIO_STATUS_DEVICE_NEEDS_RESET } from '../../src/virtio/features.ts';
import { MMIO } from '../../src/virtio/mmio.ts';
import { AVAIL_IDX } from '../../src/virtio/ring.ts';
import { publishRaw } from '../helpers/queue-pair.ts';
import { SndGuest } from '../helpers/snd-guest.ts';

const OK = P.VIRTIO_SND_S_OK;
const PERIOD = 300 * 4;

function playing(relay: { txLeadMs: number }, periods: number): SndGuest {
  const g = new SndGuest({ relay }).init();
  expect(
    g.setParams({
      streamId: 0,
      bufferBytes: 8 * PERIOD,
      periodBytes: PERIOD,
      channels: 2,
      format: P.VIRTIO_SND_PCM_FMT_S16,
      rateHz: 48000,
    }),
  ).toBe(OK);
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, 0)).toBe(OK);
  for (let i = 0; i < periods; i++) g.tx(0, new Uint8Array(PERIOD).fill(i + 1));
  g.mmio.notify(P.VIRTIO_SND_VQ_TX);
  expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
  return g;
}

/** The head `back` entries before the guest's avail index on queue `q`. */
function headOf(g: SndGuest, q: number, back: number): number {
  const layout = g.queues[q].layout;
  const idx = g.mem.readU16(layout.availAddr + AVAIL_IDX);
  return g.mem.readU16(layout.availAddr + 4 + 2 * ((idx - back) & (layout.size - 1)));
}

const needsReset = (g: SndGuest) =>
  (g.transport.read(MMIO.Status, 4) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) !== 0;

/** Every head on the guest's TX used ring so far, in order. */
function usedHeads(g: SndGuest): number[] {
  const layout = g.queues[P.VIRTIO_SND_VQ_TX].layout;
  const n = g.mem.readU16(layout.usedAddr + 2);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(g.mem.readU32(layout.usedAddr + 4 + 8 * (i % layout.size)));
  return out;
}

describe('relay: a head made available again while the relay holds it', () => {
  // name, relay, periods queued, which message not completed yet is made available again, what first.
  type Pick = 'newest' | 'oldest';
  const cases: [string, { txLeadMs: number }, number, Pick, (g: SndGuest) => void][] = [
    // 8 periods with a 10 ms lead: the last ones are held back (not yet in the inner device).
    ['held back', { txLeadMs: 10 }, 8, 'newest', () => {}],
    // Handed over at once: in the inner device's queue.
    ['in the inner device', { txLeadMs: 0 }, 4, 'newest', () => {}],
    [
      'its completion withheld by the gate',
      { txLeadMs: 10 },
      8,
      'oldest',
      (g) => {
        g.pollRelay = false; // the guest sends nothing new: completions are withheld
        g.render(21);
        expect(g.relay!.stats().withheld).toBeGreaterThan(0);
      },
    ],
  ];

  for (const [name, relay, periods, pick, before] of cases) {
    it(`${name}: NEEDS_RESET, never completed twice, and its state still restores`, () => {
      const g = playing(relay, periods);
      g.render(1);
      before(g);
      const used = usedHeads(g);
      // A message the relay still has: never completed so far.
      const pending = Array.from({ length: periods }, (_, i) =>
        headOf(g, P.VIRTIO_SND_VQ_TX, periods - i),
      ).filter((h) => !used.includes(h));
      const head = pick === 'newest' ? pending[pending.length - 1] : pending[0];
      expect(head).toBeDefined();
      publishRaw(g.mem, g.queues[P.VIRTIO_SND_VQ_TX].layout, head);
      g.relay!.poll();
      expect(needsReset(g)).toBe(true);
      expect(g.relay!.stats().faults).toBe(0);
      g.pollRelay = true;
      g.render(40);
      const after = usedHeads(g);
      expect(after.filter((h) => h === head).length).toBeLessThanOrEqual(1);
      // What the relay holds is one message per head: its snapshot restores.
      const { guest: twin } = g.relayTwin();
      expect(saveAttached(twin.transport, twin.relay!)).toEqual(
        saveAttached(g.transport, g.relay!),
      );
    });
  }
});
