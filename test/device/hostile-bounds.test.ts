/**
 * Work and sizes bounded by what the device knows, never by what the guest
 * claims: descriptors that alias the same pages many times, payload sizes
 * past 2^31, a guest that republishes chains as fast as they come back.
 */
import { describe, expect, it } from 'vitest';
import { MAX_INFO_ITEM_BYTES } from '../../src/device/control/control-info.ts';
import { ControlQueue } from '../../src/device/control/control-queue.ts';
import { IoQueue } from '../../src/device/shared/io-queue.ts';
import { MAX_BUFFER_BYTES, SharedState } from '../../src/device/shared/layout.ts';
import * as P from '../../src/snd/protocol.ts';
import { ChainError } from '../../src/virtio/chain.ts';
import { GuestMemory } from '../../src/virtio/memory.ts';
import { publishRaw, queuePair } from '../helpers/queue-pair.ts';
import { type ChainPart, QUANTUM, SndGuest } from '../helpers/snd-guest.ts';

const OK = P.VIRTIO_SND_S_OK;
const BAD = P.VIRTIO_SND_S_BAD_MSG;
const sid = (id: number) => new Uint8Array(new Uint32Array([id]).buffer);

const S16_STEREO = {
  bufferBytes: 4096,
  periodBytes: 1024,
  channels: 2,
  format: P.VIRTIO_SND_PCM_FMT_S16,
  rateHz: 48000,
};

/** A guest with stream 0 (output) and 1 (input) prepared, S16 stereo, 4 KiB buffers. */
function prepared(memBytes = 8 << 20): SndGuest {
  const g = new SndGuest({}, memBytes).init();
  for (const id of [0, 1]) {
    expect(g.setParams({ streamId: id, ...S16_STEREO })).toBe(OK);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_PREPARE, id)).toBe(OK);
  }
  return g;
}

/** `n` descriptors of `len` bytes, all at the same guest address (aliased). */
function aliased(addr: number, len: number, n: number, write: boolean): ChainPart[] {
  return Array.from({ length: n }, () => ({ addr, len, write }));
}

describe('I/O payload sizes (never a wrapped int32)', () => {
  // 63 x 34 MiB + 4 = 2.09 GiB of payload over one 34 MiB region: more than 2^31.
  const SEG = 34 << 20;

  it('an RX message of 64 aliased 34 MiB segments gets BAD_MSG, len 8, nothing captured', () => {
    const g = prepared(40 << 20);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 1)).toBe(OK);
    const region = g.alloc.alloc(SEG, 8);
    const c = g.chain(3, [
      { len: 4, write: false, data: sid(1) },
      ...aliased(region, SEG, 63, true),
      { len: 8, write: true },
    ]);
    g.quantum();
    expect(g.used[3].get(c.token)).toBe(8);
    expect(g.mem.readU32(c.addrs[64])).toBe(BAD);
    const st = g.device.stats().streams[1];
    expect(st.queuedBytes).toBe(0);
    expect(st.frames).toBe(0);
  });

  it('a TX message of 64 aliased segments gets BAD_MSG and the stream does not jump', () => {
    const g = prepared(40 << 20);
    const region = g.alloc.alloc(SEG, 8);
    const c = g.chain(2, [
      { len: 4, write: false, data: sid(0) },
      ...aliased(region, SEG, 63, false),
      { len: 8, write: true },
    ]);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    g.render(4);
    expect(g.used[2].get(c.token)).toBe(8);
    expect(g.mem.readU32(c.addrs[64])).toBe(BAD);
    const st = g.device.stats().streams[0];
    expect(st.queuedBytes).toBe(0);
    expect(st.frames).toBe(0);
  });

  it('a payload larger than any stream buffer (64 MiB) gets BAD_MSG; one of 64 MiB is taken', () => {
    const g = prepared(40 << 20);
    const half = MAX_BUFFER_BYTES / 2;
    const region = g.alloc.alloc(half + 4, 8);
    const big = g.chain(2, [
      { len: 4, write: false, data: sid(0) },
      ...aliased(region, half + 4, 2, false),
      { len: 8, write: true },
    ]);
    const fits = g.chain(2, [
      { len: 4, write: false, data: sid(0) },
      ...aliased(region, half, 2, false),
      { len: 8, write: true },
    ]);
    expect(g.pcmCommand(P.VIRTIO_SND_R_PCM_START, 0)).toBe(OK);
    g.quantum();
    expect(g.used[2].get(big.token)).toBe(8);
    expect(g.mem.readU32(big.addrs[3])).toBe(BAD);
    expect(g.used[2].has(fits.token)).toBe(false);
    expect(g.device.stats().streams[0].queuedBytes).toBe(MAX_BUFFER_BYTES - QUANTUM * 4);
  });
});

describe('work per intake is bounded', () => {
  it('a guest republishing every rejected TX chain cannot keep intake() going', () => {
    const g = prepared();
    const s = new SharedState(g.device.renderState.shared, g.device.renderState.layout);
    const io = new IoQueue(new GuestMemory(g.device.renderState.memory), s, true);
    // One malformed message (stream 99): answered BAD_MSG at once, every time.
    const c = g.chain(2, [
      { len: 4, write: false, data: sid(99) },
      { len: 512, write: false },
      { len: 8, write: true },
    ]);
    const layout = g.queues[2].layout;
    // The guest, on another thread, puts the chain back as soon as it is used (up to a limit,
    // so code without a bound ends too).
    const push = io.queue.pushUsed.bind(io.queue);
    let republished = 0;
    io.queue.pushUsed = (head: number, len: number) => {
      push(head, len);
      if (republished++ < 100_000) {
        const idx = g.mem.readU16(layout.availAddr + 2);
        g.mem.writeU16(layout.availAddr + 4 + 2 * (idx % layout.size), head);
        g.mem.storeU16(layout.availAddr + 2, (idx + 1) & 0xffff);
      }
    };
    expect(io.intake()).toBe(true);
    expect(republished).toBeGreaterThan(0);
    expect(republished).toBeLessThanOrEqual(layout.size);
    expect(c.token).toBeGreaterThanOrEqual(0);
  });

  it('a guest republishing every control request cannot keep process() going', () => {
    const { mem, alloc, layout, drv, dev } = queuePair(64);
    const req = alloc.alloc(8, 8);
    const resp = alloc.alloc(4, 8);
    drv.add(
      [
        { addr: req, len: 8 },
        { addr: resp, len: 4 },
      ],
      1,
      0,
    );
    const cq = new ControlQueue(mem, dev);
    let republished = 0;
    const push = dev.pushUsed.bind(dev);
    dev.pushUsed = (head: number, len: number) => {
      push(head, len);
      if (republished++ < 100_000) publishRaw(mem, layout, head);
    };
    expect(cq.process(() => ({ status: BAD }))).toBe(ChainError.None);
    expect(cq.requests).toBe(layout.size);
    expect(cq.more).toBe(true);
    // The rest is answered by later calls, a queue's worth each.
    cq.process(() => ({ status: BAD }));
    expect(cq.requests).toBe(2 * layout.size);
  });

  it('the device answers what one notify left in later turns, a queue at a time', async () => {
    const g = new SndGuest().init();
    const cq = (g.device as unknown as { controlq: ControlQueue }).controlq;
    const layout = g.queues[0].layout;
    let republished = 0;
    const push = cq.queue.pushUsed.bind(cq.queue);
    cq.queue.pushUsed = (head: number, len: number) => {
      push(head, len);
      if (republished++ < 200) publishRaw(g.mem, layout, head);
    };
    const code = new Uint8Array([0xff, 0xff, 0, 0]); // no such request: BAD_MSG
    g.chain(
      0,
      [
        { len: 4, write: false, data: code },
        { len: 4, write: true },
      ],
      { notify: true },
    );
    // The notify itself answered one queue's worth; each later turn at most as much.
    const perTurn = [cq.requests];
    for (let turn = 0; turn < 10 && cq.requests < 201; turn++) {
      const before = cq.requests;
      await new Promise((r) => setTimeout(r, 0));
      perTurn.push(cq.requests - before);
    }
    expect(cq.requests).toBe(201);
    expect(Math.max(...perTurn)).toBeLessThanOrEqual(layout.size);
  });
});

describe('*_INFO item sizes (CVE-2026-3196 class)', () => {
  const INFO = [
    ['JACK_INFO', P.VIRTIO_SND_R_JACK_INFO, 2],
    ['PCM_INFO', P.VIRTIO_SND_R_PCM_INFO, 2],
    ['CHMAP_INFO', P.VIRTIO_SND_R_CHMAP_INFO, 7],
    ['CTL_INFO', P.VIRTIO_SND_R_CTL_INFO, 4],
  ] as const;
  for (const [name, code, total] of INFO) {
    it(`${name} with an 8 MiB item size over 63 aliased response buffers: BAD_MSG, 4 bytes written`, () => {
      const g = new SndGuest({}, 12 << 20).init();
      const q = new Uint8Array(P.QUERY_INFO.size);
      const v = new DataView(q.buffer);
      v.setUint32(0, code, true);
      v.setUint32(P.QUERY_INFO.startId, 0, true);
      v.setUint32(P.QUERY_INFO.count, total, true);
      v.setUint32(P.QUERY_INFO.itemSize, 8 << 20, true);
      // 63 x 9 MiB of room, all the same 9 MiB of guest RAM.
      const room = g.alloc.alloc(9 << 20, 8);
      g.mem.fill(room, 9 << 20, 0xee);
      const c = g.chain(
        0,
        [{ len: q.length, write: false, data: q }, ...aliased(room, 9 << 20, 63, true)],
        {
          notify: true,
        },
      );
      g.collect();
      expect(g.used[0].get(c.token)).toBe(4);
      expect(g.mem.readU32(room)).toBe(BAD);
      expect(g.mem.read(room + 4, 4096).every((b) => b === 0xee)).toBe(true);
    });
  }

  it('an item size up to MAX_INFO_ITEM_BYTES is answered, each item zero-padded', () => {
    const g = new SndGuest().init();
    const r = g.query(P.VIRTIO_SND_R_PCM_INFO, 0, 2, MAX_INFO_ITEM_BYTES);
    expect(r.status).toBe(OK);
    expect(r.len).toBe(4 + 2 * MAX_INFO_ITEM_BYTES);
    expect(r.payload.subarray(32, MAX_INFO_ITEM_BYTES).every((b) => b === 0)).toBe(true);
    expect(g.query(P.VIRTIO_SND_R_PCM_INFO, 0, 2, MAX_INFO_ITEM_BYTES + 1).status).toBe(BAD);
  });
});
