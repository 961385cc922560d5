/**
 * The control queue, byte for byte: configuration space, the exact response
 * of every *_INFO request (both ctl_info layouts), range checks on queries,
 * JACK_REMAP, the control-element requests (ENUM_ITEMS, READ, WRITE,
 * TLV_READ), CTL_* without VIRTIO_SND_F_CTLS, unknown codes, and random
 * requests of any length and code.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as P from '../../src/snd/protocol.ts';
import { VIRTIO_STATUS_DEVICE_NEEDS_RESET } from '../../src/virtio/features.ts';
import { MMIO } from '../../src/virtio/mmio.ts';
import { CHMAP } from '../helpers/chmap-positions.ts';
import { SndGuest } from '../helpers/snd-guest.ts';

const OK = P.VIRTIO_SND_S_OK;
const BAD = P.VIRTIO_SND_S_BAD_MSG;
const NOT_SUPP = P.VIRTIO_SND_S_NOT_SUPP;

// ---- byte builders for expected answers --------------------------------------

const le16 = (v: number) => [v & 0xff, (v >>> 8) & 0xff];
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const le64 = (v: bigint) =>
  Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));
const zeros = (n: number) => new Array<number>(n).fill(0);
const ascii = (s: string, size: number) => [
  ...[...s].map((c) => c.charCodeAt(0)),
  ...zeros(size - s.length),
];

function jackInfo(defconf: number, caps: number, connected: number, features = 1): number[] {
  return [...le32(0), ...le32(features), ...le32(defconf), ...le32(caps), connected, ...zeros(7)];
}

function pcmInfo(direction: number, chMin: number, chMax: number): number[] {
  const features = (1 << 2) | (1 << 3) | (1 << 4); // MSG_POLLING | EVT_SHMEM_PERIODS | EVT_XRUNS
  // MU_LAW (1), A_LAW (2) and the linear formats S8 (3) .. FLOAT64 (20).
  let formats = 0n;
  for (let f = 1; f <= 20; f++) formats |= 1n << BigInt(f);
  // The 14 rates of VIRTIO 1.2: 5512 (0) .. 384000 (13).
  let rates = 0n;
  for (let r = 0; r <= 13; r++) rates |= 1n << BigInt(r);
  return [
    ...le32(0),
    ...le32(features),
    ...le64(formats),
    ...le64(rates),
    direction,
    chMin,
    chMax,
    ...zeros(5),
  ];
}

function chmapInfo(direction: number, positions: number[]): number[] {
  return [...le32(0), direction, positions.length, ...positions, ...zeros(18 - positions.length)];
}

type CtlValue = { min: number; max: number; step: number } | { items: number } | null;

/** virtio_snd_ctl_info: 96 bytes (value union at 72) or the i386 92 (value at 68). */
function ctlInfo(
  c: {
    role: number;
    type: number;
    access: number;
    count?: number;
    index?: number;
    name: string;
    value: CtlValue;
  },
  size: 96 | 92,
): number[] {
  const head = [
    ...le32(0),
    ...le32(c.role),
    ...le32(c.type),
    ...le32(c.access),
    ...le32(c.count ?? 1),
    ...le32(c.index ?? 0),
    ...ascii(c.name, 44),
    ...(size === 96 ? zeros(4) : []),
  ];
  const v = c.value;
  const value =
    v === null
      ? zeros(24)
      : 'items' in v
        ? [...le32(v.items), ...zeros(20)]
        : [...le32(v.min), ...le32(v.max), ...le32(v.step), ...zeros(12)];
  return [...head, ...value];
}

const READ = 1 << 0;
const WRITE = 1 << 1;
const TLV_READ = 1 << 4;
const DEFAULT_CTLS = [
  {
    role: 2,
    type: 1,
    access: READ | WRITE | TLV_READ,
    name: 'Master Playback Volume',
    value: { min: 0, max: 100, step: 1 },
  },
  { role: 4, type: 0, access: READ | WRITE, name: 'Master Playback Switch', value: null },
  {
    role: 3,
    type: 1,
    access: READ | WRITE | TLV_READ,
    name: 'Capture Volume',
    value: { min: 0, max: 100, step: 1 },
  },
  { role: 5, type: 0, access: READ | WRITE, name: 'Capture Switch', value: null },
];

const bytes = (r: { payload: Uint8Array }) => [...r.payload];

// ---- configuration space ----------------------------------------------------

describe('configuration space', () => {
  it('holds jacks, streams, chmaps and controls as le32, byte by byte', () => {
    const g = new SndGuest().init();
    const t = g.transport;
    const expected = [...le32(2), ...le32(2), ...le32(7), ...le32(4)];
    expect(Array.from({ length: 16 }, (_, i) => t.read(MMIO.Config + i, 1))).toEqual(expected);
    expect(Array.from({ length: 8 }, (_, i) => t.read(MMIO.Config + 2 * i, 2))).toEqual(
      Array.from({ length: 8 }, (_, i) => expected[2 * i] | (expected[2 * i + 1] << 8)),
    );
    expect([0, 4, 8, 12].map((o) => t.read(MMIO.Config + o, 4))).toEqual([2, 2, 7, 4]);
    // Beyond the structure, and unaligned accesses, read as 0.
    expect(t.read(MMIO.Config + 16, 4)).toBe(0);
    expect(t.read(MMIO.Config + 1, 4)).toBe(0);
    // Read-only: writes change nothing.
    t.write(MMIO.Config, 9, 4);
    expect(t.read(MMIO.Config, 4)).toBe(2);
    expect(t.read(MMIO.DeviceID, 4)).toBe(25);
    expect(g.mmio.deviceFeatures() & (1n << BigInt(P.VIRTIO_SND_F_CTLS))).toBe(1n);
  });

  it('follows the configured numbers', () => {
    const jack = { hdaRegDefconf: 0, hdaRegCaps: 0 };
    const g = new SndGuest({
      jacks: [jack, jack, jack],
      streams: [
        { direction: 'output' },
        { direction: 'input' },
        { direction: 'output' },
        { direction: 'output' },
        { direction: 'input' },
      ],
      chmaps: [
        { direction: 'output', positions: [P.VIRTIO_SND_CHMAP_FL, P.VIRTIO_SND_CHMAP_FR] },
        { direction: 'input', positions: [P.VIRTIO_SND_CHMAP_MONO] },
      ],
      controls: [
        { name: 'A', type: 'boolean' },
        { name: 'B', type: 'boolean' },
        { name: 'C', type: 'integer', min: 0, max: 1 },
        { name: 'D', type: 'enumerated', items: ['x'] },
        { name: 'E', type: 'boolean' },
        { name: 'E', index: 1, type: 'boolean' },
      ],
    }).init();
    expect([0, 4, 8, 12].map((o) => g.transport.read(MMIO.Config + o, 4))).toEqual([3, 5, 2, 6]);
  });

  it('is 12 bytes, and F_CTLS is not offered, without control elements', () => {
    const g = new SndGuest({ controls: false }).init({ ctls: false });
    expect(Array.from({ length: 16 }, (_, i) => g.transport.read(MMIO.Config + i, 1))).toEqual([
      ...le32(2),
      ...le32(2),
      ...le32(7),
      ...zeros(4),
    ]);
    expect(g.mmio.deviceFeatures() & (1n << BigInt(P.VIRTIO_SND_F_CTLS))).toBe(0n);
  });
});

// ---- *_INFO -----------------------------------------------------------------

describe('*_INFO requests: exact answers', () => {
  it('JACK_INFO', () => {
    const g = new SndGuest().init();
    const r = g.query(P.VIRTIO_SND_R_JACK_INFO, 0, 2, 24);
    expect(r.status).toBe(OK);
    expect(r.len).toBe(4 + 48);
    expect(bytes(r)).toEqual([...jackInfo(0x01114010, 0x14, 1), ...jackInfo(0x01a19020, 0x24, 1)]);
    g.device.setJackConnected(1, false);
    expect(bytes(g.query(P.VIRTIO_SND_R_JACK_INFO, 1, 1, 24))).toEqual(
      jackInfo(0x01a19020, 0x24, 0),
    );
  });

  it('PCM_INFO: formats MU_LAW, A_LAW, S8..FLOAT64; the 14 v1.2 rates; 1-8 out, 1-2 in; padding zero', () => {
    const g = new SndGuest().init();
    const r = g.query(P.VIRTIO_SND_R_PCM_INFO, 0, 2, 32);
    expect(r.status).toBe(OK);
    expect(r.len).toBe(4 + 64);
    expect(bytes(r)).toEqual([
      ...pcmInfo(P.VIRTIO_SND_D_OUTPUT, 1, 8),
      ...pcmInfo(P.VIRTIO_SND_D_INPUT, 1, 2),
    ]);
  });

  it('CHMAP_INFO: every default map, unused positions zero', () => {
    const g = new SndGuest().init();
    const r = g.query(P.VIRTIO_SND_R_CHMAP_INFO, 0, 7, 24);
    expect(r.status).toBe(OK);
    expect(r.len).toBe(4 + 7 * 24);
    const { MONO, FL, FR, RL, RR, FC, LFE, SL, SR } = CHMAP;
    expect(bytes(r)).toEqual([
      ...chmapInfo(0, [MONO]),
      ...chmapInfo(0, [FL, FR]),
      ...chmapInfo(0, [FL, FR, RL, RR]),
      ...chmapInfo(0, [FL, FR, FC, LFE, RL, RR]),
      ...chmapInfo(0, [FL, FR, FC, LFE, RL, RR, SL, SR]),
      ...chmapInfo(1, [MONO]),
      ...chmapInfo(1, [FL, FR]),
    ]);
  });

  it('CTL_INFO in the 96-byte layout (value at 72) and the i386 92-byte layout (value at 68)', () => {
    const g = new SndGuest().init();
    const r96 = g.query(P.VIRTIO_SND_R_CTL_INFO, 0, 4, 96);
    expect(r96.status).toBe(OK);
    expect(r96.len).toBe(4 + 4 * 96);
    expect(bytes(r96)).toEqual(DEFAULT_CTLS.flatMap((c) => ctlInfo(c, 96)));
    const r92 = g.query(P.VIRTIO_SND_R_CTL_INFO, 0, 4, 92);
    expect(r92.status).toBe(OK);
    expect(r92.len).toBe(4 + 4 * 92);
    expect(bytes(r92)).toEqual(DEFAULT_CTLS.flatMap((c) => ctlInfo(c, 92)));
    // Sizes between the two layouts, or below, are refused.
    for (const size of [0, 91, 93, 95])
      expect(g.query(P.VIRTIO_SND_R_CTL_INFO, 0, 1, size).status).toBe(BAD);
  });

  it('CTL_INFO of enumerated and indexed controls', () => {
    const g = new SndGuest({
      controls: [
        {
          name: 'Capture Source',
          type: 'enumerated',
          items: ['Mic', 'Line In', 'CD'],
          values: [1],
        },
        { name: 'Tone', index: 3, type: 'integer', count: 2, min: -12, max: 12, step: 3 },
      ],
    }).init();
    const r = g.query(P.VIRTIO_SND_R_CTL_INFO, 0, 2, 96);
    expect(bytes(r)).toEqual([
      ...ctlInfo(
        { role: 0, type: 3, access: READ | WRITE, name: 'Capture Source', value: { items: 3 } },
        96,
      ),
      ...ctlInfo(
        {
          role: 0,
          type: 1,
          access: READ | WRITE,
          count: 2,
          index: 3,
          name: 'Tone',
          value: { min: -12, max: 12, step: 3 },
        },
        96,
      ),
    ]);
  });

  it('a larger item size than the struct: each item padded with zeros', () => {
    const g = new SndGuest().init();
    const r = g.query(P.VIRTIO_SND_R_JACK_INFO, 0, 2, 32);
    expect(r.len).toBe(4 + 64);
    expect(bytes(r)).toEqual([
      ...jackInfo(0x01114010, 0x14, 1),
      ...zeros(8),
      ...jackInfo(0x01a19020, 0x24, 1),
      ...zeros(8),
    ]);
    const p = g.query(P.VIRTIO_SND_R_PCM_INFO, 1, 1, 40);
    expect(bytes(p)).toEqual([...pcmInfo(1, 1, 2), ...zeros(8)]);
  });

  const KINDS: [string, number, number, number][] = [
    // name, code, items in the default device, item size
    ['JACK_INFO', P.VIRTIO_SND_R_JACK_INFO, 2, 24],
    ['PCM_INFO', P.VIRTIO_SND_R_PCM_INFO, 2, 32],
    ['CHMAP_INFO', P.VIRTIO_SND_R_CHMAP_INFO, 7, 24],
    ['CTL_INFO', P.VIRTIO_SND_R_CTL_INFO, 4, 96],
  ];
  for (const [name, code, total, size] of KINDS) {
    it(`${name}: ranges, counts of 0, short item sizes, short response buffers, wrong request sizes`, () => {
      const g = new SndGuest().init();
      const q = (start: number, count: number, sz = size, room?: number) =>
        g.query(code, start, count, sz, room);
      // In range, including count 0 anywhere up to the end.
      for (let start = 0; start <= total; start++) {
        for (let count = 0; start + count <= total; count++) {
          const r = q(start, count);
          expect(r.status).toBe(OK);
          expect(r.len).toBe(4 + count * size);
        }
      }
      // start_id + count beyond the items, and wrapping arithmetic.
      const bad: [number, number, number?, number?][] = [
        [total, 1],
        [total + 1, 0],
        [0, total + 1],
        [1, total],
        [0xffffffff, 1],
        [1, 0xffffffff],
        [0xffffffff, 0xffffffff],
        [0, 1, size - 1], // item size too small
        [0, 1, 0],
        [0, 2, 0x80000000, 4 + 2 * size], // count * size wraps 32 bits
        [0, total, size, 4 + total * size - 1], // response buffer one byte short
        [0, 1, size, 4],
      ];
      for (const [start, count, sz, room] of bad) {
        const r = q(start, count, sz ?? size, room ?? 4 + Math.min(count, total) * size);
        expect(r.status, `start ${start} count ${count} size ${sz} room ${room}`).toBe(BAD);
        expect(r.len).toBe(4);
      }
      // A query_info must be exactly 16 bytes.
      for (const n of [4, 12, 15, 17, 20]) {
        const b = new Uint8Array(n);
        const v = new DataView(b.buffer);
        v.setUint32(0, code, true);
        if (n >= 16) {
          v.setUint32(8, 1, true);
          v.setUint32(12, size, true);
        }
        expect(g.request(b, 4 + size).status).toBe(BAD);
      }
    });
  }
});

// ---- jacks -------------------------------------------------------------------

describe('JACK_REMAP', () => {
  const remapReq = (id: number, a: number, s: number, size = 16) => {
    const b = new Uint8Array(Math.max(16, size));
    const v = new DataView(b.buffer);
    v.setUint32(0, P.VIRTIO_SND_R_JACK_REMAP, true);
    v.setUint32(4, id, true);
    v.setUint32(8, a, true);
    v.setUint32(12, s, true);
    return b.subarray(0, size);
  };

  it('sets association and sequence of a jack that offers REMAP, seen in JACK_INFO', () => {
    const g = new SndGuest({
      jacks: [
        { hdaRegDefconf: 0x01114010, hdaRegCaps: 0x14 },
        { hdaRegDefconf: 0x01a19020, hdaRegCaps: 0x24, features: 0 },
      ],
    }).init();
    expect(g.request(remapReq(0, 3, 5)).status).toBe(OK);
    expect(bytes(g.query(P.VIRTIO_SND_R_JACK_INFO, 0, 2, 24))).toEqual([
      ...jackInfo(0x01114035, 0x14, 1),
      ...jackInfo(0x01a19020, 0x24, 1, 0),
    ]);
    expect(g.request(remapReq(1, 3, 5)).status).toBe(NOT_SUPP);
    for (const b of [
      remapReq(2, 3, 5),
      remapReq(0xffffffff, 0, 0),
      remapReq(0, 16, 0),
      remapReq(0, 0, 16),
      remapReq(0, 1, 1, 12),
      remapReq(0, 1, 1, 20),
    ])
      expect(g.request(b).status).toBe(BAD);
    // Nothing changed by the refused ones; a reset restores the configured value.
    expect(bytes(g.query(P.VIRTIO_SND_R_JACK_INFO, 0, 1, 24))).toEqual(
      jackInfo(0x01114035, 0x14, 1),
    );
    g.init();
    expect(bytes(g.query(P.VIRTIO_SND_R_JACK_INFO, 0, 1, 24))).toEqual(
      jackInfo(0x01114010, 0x14, 1),
    );
  });
});

// ---- control elements -------------------------------------------------------

describe('control elements', () => {
  const custom = () =>
    new SndGuest({
      controls: [
        { name: 'Capture Source', type: 'enumerated', items: ['Mic', 'Line In'], values: [1] },
        {
          name: 'Gain',
          type: 'integer',
          min: -10,
          max: 10,
          step: 2,
          values: [0],
          dbScale: { min: -1000, step: 100, mute: false },
        },
        { name: 'Flags', type: 'boolean', count: 3, values: [1, 0, 1] },
      ],
    }).init();

  it('CTL_ENUM_ITEMS: 64-byte NUL-terminated items', () => {
    const g = custom();
    const items = g.request(g.ctlRequest(P.VIRTIO_SND_R_CTL_ENUM_ITEMS, 0).bytes, 4 + 128);
    expect(items.status).toBe(OK);
    expect(items.len).toBe(4 + 128);
    expect(bytes(items)).toEqual([...ascii('Mic', 64), ...ascii('Line In', 64)]);
    // Room for fewer items than there are, a control that is not enumerated, bad sizes, bad ids.
    expect(g.request(g.ctlRequest(P.VIRTIO_SND_R_CTL_ENUM_ITEMS, 0).bytes, 4 + 127).status).toBe(
      BAD,
    );
    expect(g.request(g.ctlRequest(P.VIRTIO_SND_R_CTL_ENUM_ITEMS, 1).bytes, 4 + 128).status).toBe(
      BAD,
    );
    expect(g.request(g.ctlRequest(P.VIRTIO_SND_R_CTL_ENUM_ITEMS, 0, 4).bytes, 4 + 128).status).toBe(
      BAD,
    );
    expect(g.request(g.ctlRequest(P.VIRTIO_SND_R_CTL_ENUM_ITEMS, 3).bytes, 4 + 128).status).toBe(
      BAD,
    );
  });

  it('CTL_READ: values as le32 in a 512-byte virtio_snd_ctl_value', () => {
    const g = custom();
    const read = (id: number) =>
      g.request(g.ctlRequest(P.VIRTIO_SND_R_CTL_READ, id).bytes, 4 + 512);
    expect(bytes(read(0))).toEqual([...le32(1), ...zeros(508)]);
    expect(bytes(read(1))).toEqual([...le32(0), ...zeros(508)]);
    expect(bytes(read(2))).toEqual([...le32(1), ...le32(0), ...le32(1), ...zeros(500)]);
    expect(read(0).len).toBe(516);
    expect(g.request(g.ctlRequest(P.VIRTIO_SND_R_CTL_READ, 0).bytes, 4 + 511).status).toBe(BAD);
    expect(g.request(g.ctlRequest(P.VIRTIO_SND_R_CTL_READ, 3).bytes, 4 + 512).status).toBe(BAD);
    expect(g.request(g.ctlRequest(P.VIRTIO_SND_R_CTL_READ, 0, 4).bytes, 4 + 512).status).toBe(BAD);
  });

  it('CTL_WRITE: validated against type, range, step and count; read back; CTL_NOTIFY on change only', () => {
    const g = custom();
    const write = (id: number, values: number[], size = 512) => {
      const r = g.ctlRequest(P.VIRTIO_SND_R_CTL_WRITE, id, size);
      values.forEach((v, k) => {
        r.view.setInt32(8 + 4 * k, v, true);
      });
      return g.request(r.bytes);
    };
    const read = (id: number) =>
      new DataView(
        g.request(g.ctlRequest(P.VIRTIO_SND_R_CTL_READ, id).bytes, 4 + 512).payload.buffer,
      );
    const notifies = () => g.events.filter((e) => e.code === P.VIRTIO_SND_EVT_CTL_NOTIFY);

    expect(write(1, [-4]).status).toBe(OK);
    expect(read(1).getInt32(0, true)).toBe(-4);
    expect(notifies()).toEqual([{ code: P.VIRTIO_SND_EVT_CTL_NOTIFY, data: 1 | (1 << 16) }]);
    expect(write(1, [-4]).status).toBe(OK); // unchanged: no event
    expect(notifies().length).toBe(1);
    expect(write(0, [0]).status).toBe(OK);
    expect(write(2, [0, 1, 1]).status).toBe(OK);
    expect([0, 4, 8].map((o) => read(2).getUint32(o, true))).toEqual([0, 1, 1]);
    expect(notifies().map((e) => e.data)).toEqual([1 | (1 << 16), 0 | (1 << 16), 2 | (1 << 16)]);
    for (const [id, values] of [
      [1, [-3]], // not on the step
      [1, [12]], // above max
      [1, [-12]], // below min
      [0, [2]], // no such item
      [0, [-1]],
      [2, [0, 2, 0]], // not a boolean
    ] as const) {
      expect(write(id, [...values]).status, `${id}: ${values}`).toBe(BAD);
    }
    expect(write(1, [2], 511).status).toBe(BAD); // value shorter than 512 bytes
    expect(write(1, [2], 513).status).toBe(BAD);
    expect(write(3, [0]).status).toBe(BAD);
    expect(read(1).getInt32(0, true)).toBe(-4);
    expect(notifies().length).toBe(3);
  });

  it('CTL_TLV_READ: the dB scale, truncated to the room given; TLV_WRITE/COMMAND not supported', () => {
    const g = new SndGuest().init();
    const tlv = g.request(g.ctlRequest(P.VIRTIO_SND_R_CTL_TLV_READ, 0).bytes, 4 + 64);
    expect(tlv.status).toBe(OK);
    expect(tlv.len).toBe(4 + 16);
    // SNDRV_CTL_TLVT_DB_SCALE, 8 bytes: min -50.00 dB, step 0.50 dB, mute at the minimum.
    expect(bytes(tlv)).toEqual([...le32(1), ...le32(8), ...le32(-5000), ...le32(50 | 0x10000)]);
    const short = g.request(g.ctlRequest(P.VIRTIO_SND_R_CTL_TLV_READ, 2).bytes, 4 + 6);
    expect(short.status).toBe(OK);
    expect(bytes(short)).toEqual([...le32(1), ...le16(8)]);
    expect(g.request(g.ctlRequest(P.VIRTIO_SND_R_CTL_TLV_READ, 1).bytes, 4 + 64).status).toBe(
      NOT_SUPP,
    );
    expect(g.request(g.ctlRequest(P.VIRTIO_SND_R_CTL_TLV_READ, 4).bytes, 4 + 64).status).toBe(BAD);
    expect(g.request(g.ctlRequest(P.VIRTIO_SND_R_CTL_TLV_WRITE, 0, 16).bytes).status).toBe(
      NOT_SUPP,
    );
    expect(g.request(g.ctlRequest(P.VIRTIO_SND_R_CTL_TLV_COMMAND, 0, 16).bytes).status).toBe(
      NOT_SUPP,
    );
    expect(g.request(g.ctlRequest(P.VIRTIO_SND_R_CTL_TLV_WRITE, 9, 16).bytes).status).toBe(BAD);
    expect(g.request(g.ctlRequest(P.VIRTIO_SND_R_CTL_TLV_WRITE, 0).bytes).status).toBe(BAD);
  });

  it('every CTL_* request is NOT_SUPP when VIRTIO_SND_F_CTLS was not negotiated', () => {
    for (const g of [
      new SndGuest().init({ ctls: false }),
      new SndGuest({ controls: false }).init({ ctls: false }),
    ]) {
      for (let code = P.VIRTIO_SND_R_CTL_INFO; code <= P.VIRTIO_SND_R_CTL_TLV_COMMAND; code++) {
        const req =
          code === P.VIRTIO_SND_R_CTL_INFO
            ? (() => {
                const b = new Uint8Array(16);
                const v = new DataView(b.buffer);
                v.setUint32(0, code, true);
                v.setUint32(8, 1, true);
                v.setUint32(12, 96, true);
                return b;
              })()
            : g.ctlRequest(code, 0, code === P.VIRTIO_SND_R_CTL_WRITE ? 512 : 0).bytes;
        const r = g.request(req, 4 + 512);
        expect(r.status, `code 0x${code.toString(16)}`).toBe(NOT_SUPP);
        expect(r.len).toBe(4);
      }
      // Writes did nothing: no CTL_NOTIFY.
      expect(g.events).toEqual([]);
    }
  });
});

// ---- unknown and random requests ------------------------------------------------

const KNOWN_CODES = [
  0x0001, 0x0002, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104, 0x0105, 0x0200, 0x0300, 0x0301, 0x0302,
  0x0303, 0x0304, 0x0305, 0x0306,
];

describe('unknown and malformed requests', () => {
  it('unknown codes get BAD_MSG (status only)', () => {
    const g = new SndGuest().init();
    for (const code of [0, 3, 0xff, 0x106, 0x201, 0x307, 0x1000, 0x1101, 0x8000, 0xffffffff]) {
      const b = new Uint8Array(16);
      new DataView(b.buffer).setUint32(0, code, true);
      const r = g.request(b, 64);
      expect(r.status).toBe(BAD);
      expect(r.len).toBe(4);
    }
    // Shorter than a code.
    for (const n of [1, 2, 3]) expect(g.request(new Uint8Array(n)).status).toBe(BAD);
    // No readable part at all.
    const c = g.chain(0, [{ len: 16, write: true }], { notify: true });
    g.collect();
    expect(g.used[0].get(c.token)).toBe(4);
    expect(g.mem.readU32(c.addrs[0])).toBe(BAD);
  });

  it('a request with no room for a status is handed back with used length 0', () => {
    const g = new SndGuest().init();
    const q = new Uint8Array(16);
    new DataView(q.buffer).setUint32(0, P.VIRTIO_SND_R_PCM_INFO, true);
    const a = g.chain(0, [{ len: 16, write: false, data: q }], { notify: true });
    const b = g.chain(
      0,
      [
        { len: 16, write: false, data: q },
        { len: 3, write: true },
      ],
      { notify: true },
    );
    g.collect();
    expect(g.used[0].get(a.token)).toBe(0);
    expect(g.used[0].get(b.token)).toBe(0);
    expect(g.query(P.VIRTIO_SND_R_PCM_INFO, 0, 1, 32).status).toBe(OK);
  });

  it('a request split over descriptors at odd addresses, with a split response buffer', () => {
    const g = new SndGuest().init();
    const q = new Uint8Array(16);
    const v = new DataView(q.buffer);
    v.setUint32(0, P.VIRTIO_SND_R_PCM_INFO, true);
    v.setUint32(8, 2, true);
    v.setUint32(12, 32, true);
    const c = g.chain(
      0,
      [
        { len: 1, write: false, data: q.subarray(0, 1), odd: true },
        { len: 6, write: false, data: q.subarray(1, 7), odd: true },
        { len: 9, write: false, data: q.subarray(7), odd: true },
        { len: 3, write: true, odd: true },
        { len: 30, write: true, odd: true },
        { len: 35, write: true, odd: true },
      ],
      { notify: true },
    );
    g.collect();
    expect(g.used[0].get(c.token)).toBe(68);
    const out = [
      ...g.mem.read(c.addrs[3], 3),
      ...g.mem.read(c.addrs[4], 30),
      ...g.mem.read(c.addrs[5], 35),
    ];
    expect(out).toEqual([...le32(OK), ...pcmInfo(0, 1, 8), ...pcmInfo(1, 1, 2)]);
  });

  it('random requests of any length and code: a status, never IO_ERR, never a broken device (property)', () => {
    const g = new SndGuest({}, 16 << 20).init();
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(...KNOWN_CODES), fc.integer({ min: 0, max: 0xffffffff })),
        fc.uint8Array({ minLength: 0, maxLength: 600 }),
        fc.integer({ min: 0, max: 600 }),
        fc.integer({ min: 4, max: 700 }),
        (code, tail, length, room) => {
          const req = new Uint8Array(length);
          req.set(tail.subarray(0, length));
          if (length >= 4) new DataView(req.buffer).setUint32(0, code, true);
          else req.set(le32(code).slice(0, length));
          const parts =
            length === 0
              ? [{ len: room, write: true }]
              : [
                  { len: length, write: false, data: req },
                  { len: room, write: true },
                ];
          const c = g.chain(0, parts, { notify: true });
          g.collect();
          const len = g.used[0].get(c.token);
          const resp = c.addrs[c.addrs.length - 1];
          expect(len).toBeGreaterThanOrEqual(4);
          expect(len).toBeLessThanOrEqual(room);
          const status = g.mem.readU32(resp);
          expect([OK, BAD, NOT_SUPP]).toContain(status);
          if (status !== OK) expect(len).toBe(4);
          expect(g.transport.deviceStatus & VIRTIO_STATUS_DEVICE_NEEDS_RESET).toBe(0);
        },
      ),
      { numRuns: 1500 },
    );
    // Whatever the requests did, the device still answers properly.
    expect(bytes(g.query(P.VIRTIO_SND_R_PCM_INFO, 0, 1, 32))).toEqual(pcmInfo(0, 1, 8));
  });
});
