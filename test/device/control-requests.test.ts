import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as P from '../../src/snd/protocol.ts';
import { MMIO } from '../../src/virtio/mmio.ts';
import { SndGuest } from '../helpers/snd-guest.ts';

const ALL_FORMATS = (1n << 21n) - 2n; // MU_LAW(1) .. FLOAT64(20)
const V12_RATES = (1n << 14n) - 1n;

describe('configuration space', () => {
  it('holds jacks, streams, chmaps and (with CTLS) controls', () => {
    const g = new SndGuest().init();
    const t = g.transport;
    expect([0, 4, 8, 12].map((o) => t.read(MMIO.Config + o, 4))).toEqual([2, 2, 7, 4]);
    expect(t.read(MMIO.Config + 16, 4)).toBe(0);
    expect(t.read(MMIO.Config + 4, 1)).toBe(2);
    expect(t.read(MMIO.DeviceID, 4)).toBe(25);
  });
  it('is 12 bytes without control elements', () => {
    const g = new SndGuest({ controls: false }).init({ ctls: false });
    expect(g.transport.read(MMIO.Config + 12, 4)).toBe(0);
    expect(g.mmio.deviceFeatures() & (1n << 0n)).toBe(0n);
  });
});

describe('*_INFO requests', () => {
  it('PCM_INFO describes what the renderer supports, padding zero', () => {
    const g = new SndGuest().init();
    const r = g.query(P.VIRTIO_SND_R_PCM_INFO, 0, 2, 32);
    expect(r.status).toBe(P.VIRTIO_SND_S_OK);
    expect(r.len).toBe(4 + 64);
    const v = new DataView(r.payload.buffer);
    const out = P.decodePcmInfo(v, 0);
    expect(out).toEqual({
      hdaFnNid: 0,
      features: (1 << 2) | (1 << 3) | (1 << 4),
      formats: ALL_FORMATS,
      rates: V12_RATES,
      direction: P.VIRTIO_SND_D_OUTPUT,
      channelsMin: 1,
      channelsMax: 8,
    });
    expect(P.decodePcmInfo(v, 32)).toMatchObject({
      direction: P.VIRTIO_SND_D_INPUT,
      channelsMin: 1,
      channelsMax: 2,
    });
    for (const base of [0, 32]) for (let i = 27; i < 32; i++) expect(r.payload[base + i]).toBe(0);
  });

  it('honours start_id and count, and a larger item size (zero-filled)', () => {
    const g = new SndGuest().init();
    const r = g.query(P.VIRTIO_SND_R_PCM_INFO, 1, 1, 40);
    expect(r.status).toBe(P.VIRTIO_SND_S_OK);
    expect(P.decodePcmInfo(new DataView(r.payload.buffer), 0).direction).toBe(P.VIRTIO_SND_D_INPUT);
    expect([...r.payload.subarray(32, 40)]).toEqual(new Array(8).fill(0));
    expect(g.query(P.VIRTIO_SND_R_PCM_INFO, 2, 0, 32).status).toBe(P.VIRTIO_SND_S_OK);
  });

  it('refuses ranges beyond the items, short item sizes and short response buffers', () => {
    const g = new SndGuest().init();
    expect(g.query(P.VIRTIO_SND_R_PCM_INFO, 1, 2, 32).status).toBe(P.VIRTIO_SND_S_BAD_MSG);
    expect(g.query(P.VIRTIO_SND_R_PCM_INFO, 3, 0, 32).status).toBe(P.VIRTIO_SND_S_BAD_MSG);
    expect(g.query(P.VIRTIO_SND_R_PCM_INFO, 0xffffffff, 2, 32).status).toBe(P.VIRTIO_SND_S_BAD_MSG);
    expect(g.query(P.VIRTIO_SND_R_PCM_INFO, 0, 2, 31).status).toBe(P.VIRTIO_SND_S_BAD_MSG);
    expect(g.query(P.VIRTIO_SND_R_PCM_INFO, 0, 2, 32, 4 + 63).status).toBe(P.VIRTIO_SND_S_BAD_MSG);
    expect(g.query(P.VIRTIO_SND_R_JACK_INFO, 0, 3, 24).status).toBe(P.VIRTIO_SND_S_BAD_MSG);
    expect(g.query(P.VIRTIO_SND_R_CHMAP_INFO, 0, 8, 24).status).toBe(P.VIRTIO_SND_S_BAD_MSG);
    // count * size that would wrap 32 bits is still refused.
    expect(g.query(P.VIRTIO_SND_R_PCM_INFO, 0, 2, 0x80000000, 68).status).toBe(
      P.VIRTIO_SND_S_BAD_MSG,
    );
  });

  it('JACK_INFO answers the HDA registers and the connection state', () => {
    const g = new SndGuest().init();
    const r = g.query(P.VIRTIO_SND_R_JACK_INFO, 0, 2, 24);
    const v = new DataView(r.payload.buffer);
    expect(P.decodeJackInfo(v, 0)).toEqual({
      hdaFnNid: 0,
      features: 1,
      hdaRegDefconf: 0x01114010,
      hdaRegCaps: 0x14,
      connected: 1,
    });
    expect(P.decodeJackInfo(v, 24)).toMatchObject({ hdaRegDefconf: 0x01a19020, connected: 1 });
    g.device.setJackConnected(1, false);
    const r2 = g.query(P.VIRTIO_SND_R_JACK_INFO, 1, 1, 24);
    expect(P.decodeJackInfo(new DataView(r2.payload.buffer), 0).connected).toBe(0);
  });

  it('JACK_REMAP sets association and sequence, only where REMAP is offered', () => {
    const g = new SndGuest({
      jacks: [
        { hdaRegDefconf: 0x01114010, hdaRegCaps: 0 },
        { hdaRegDefconf: 0, hdaRegCaps: 0, features: 0 },
      ],
    }).init();
    const remap = (id: number, a: number, s: number) => {
      const b = new Uint8Array(16);
      const v = new DataView(b.buffer);
      v.setUint32(0, P.VIRTIO_SND_R_JACK_REMAP, true);
      v.setUint32(4, id, true);
      v.setUint32(8, a, true);
      v.setUint32(12, s, true);
      return g.request(b).status;
    };
    expect(remap(0, 3, 5)).toBe(P.VIRTIO_SND_S_OK);
    expect(g.device.jacks.get(0).hdaRegDefconf).toBe(0x01114035);
    expect(remap(1, 3, 5)).toBe(P.VIRTIO_SND_S_NOT_SUPP);
    expect(remap(2, 3, 5)).toBe(P.VIRTIO_SND_S_BAD_MSG);
    expect(remap(0, 16, 0)).toBe(P.VIRTIO_SND_S_BAD_MSG);
  });

  it('CHMAP_INFO lists the maps with zero-filled unused positions', () => {
    const g = new SndGuest().init();
    const r = g.query(P.VIRTIO_SND_R_CHMAP_INFO, 0, 7, 24);
    expect(r.status).toBe(P.VIRTIO_SND_S_OK);
    const v = new DataView(r.payload.buffer);
    expect(P.decodeChmapInfo(v, 24)).toEqual({
      hdaFnNid: 0,
      direction: 0,
      positions: [P.VIRTIO_SND_CHMAP_FL, P.VIRTIO_SND_CHMAP_FR],
    });
    expect(P.decodeChmapInfo(v, 6 * 24).direction).toBe(1);
    expect([...r.payload.subarray(24 + 8, 48)]).toEqual(new Array(16).fill(0));
  });

  it('CTL_INFO in the LP64 layout (96) and the i386 layout (92)', () => {
    const g = new SndGuest().init();
    const r = g.query(P.VIRTIO_SND_R_CTL_INFO, 0, 4, 96);
    expect(r.status).toBe(P.VIRTIO_SND_S_OK);
    const info = P.decodeCtlInfo(new DataView(r.payload.buffer), 0);
    expect(info).toEqual({
      hdaFnNid: 0,
      role: (P.VIRTIO_SND_CTL_ROLE_VOLUME << 1) | P.VIRTIO_SND_D_OUTPUT,
      type: P.VIRTIO_SND_CTL_TYPE_INTEGER,
      access: (1 << 0) | (1 << 1) | (1 << 4),
      count: 1,
      index: 0,
      name: 'Master Playback Volume',
      value: { kind: 'integer', min: 0, max: 100, step: 1 },
    });
    const sw = P.decodeCtlInfo(new DataView(r.payload.buffer), 96);
    expect(sw).toMatchObject({
      name: 'Master Playback Switch',
      type: P.VIRTIO_SND_CTL_TYPE_BOOLEAN,
      role: 4,
    });
    const i386 = g.query(P.VIRTIO_SND_R_CTL_INFO, 0, 1, 92);
    expect(i386.status).toBe(P.VIRTIO_SND_S_OK);
    const v = new DataView(i386.payload.buffer);
    expect(v.getInt32(68, true)).toBe(0);
    expect(v.getInt32(72, true)).toBe(100);
    expect(v.getInt32(76, true)).toBe(1);
    expect(g.query(P.VIRTIO_SND_R_CTL_INFO, 0, 1, 91).status).toBe(P.VIRTIO_SND_S_BAD_MSG);
  });

  it('CTL_ENUM_ITEMS, READ, WRITE and TLV_READ on configured controls', () => {
    const g = new SndGuest({
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
      ],
    }).init();
    const hdr = (code: number, id: number, extra = 0) => {
      const b = new Uint8Array(8 + extra);
      const v = new DataView(b.buffer);
      v.setUint32(0, code, true);
      v.setUint32(4, id, true);
      return { b, v };
    };
    const items = g.request(hdr(P.VIRTIO_SND_R_CTL_ENUM_ITEMS, 0).b, 4 + 128);
    expect(items.status).toBe(P.VIRTIO_SND_S_OK);
    expect(String.fromCharCode(...items.payload.subarray(64, 71))).toBe('Line In');
    expect(items.payload[71]).toBe(0);
    expect(g.request(hdr(P.VIRTIO_SND_R_CTL_ENUM_ITEMS, 1).b, 4 + 128).status).toBe(
      P.VIRTIO_SND_S_BAD_MSG,
    );
    expect(g.request(hdr(P.VIRTIO_SND_R_CTL_ENUM_ITEMS, 0).b, 4 + 127).status).toBe(
      P.VIRTIO_SND_S_BAD_MSG,
    );
    const read = g.request(hdr(P.VIRTIO_SND_R_CTL_READ, 0).b, 4 + 512);
    expect(read.status).toBe(P.VIRTIO_SND_S_OK);
    expect(new DataView(read.payload.buffer).getUint32(0, true)).toBe(1);
    const w = hdr(P.VIRTIO_SND_R_CTL_WRITE, 1, 512);
    w.v.setInt32(8, -4, true);
    expect(g.request(w.b).status).toBe(P.VIRTIO_SND_S_OK);
    expect(g.device.controls?.values(1)).toEqual([-4]);
    w.v.setInt32(8, -3, true); // not on the step
    expect(g.request(w.b).status).toBe(P.VIRTIO_SND_S_BAD_MSG);
    w.v.setInt32(8, 12, true); // out of range
    expect(g.request(w.b).status).toBe(P.VIRTIO_SND_S_BAD_MSG);
    expect(g.request(hdr(P.VIRTIO_SND_R_CTL_WRITE, 1).b).status).toBe(P.VIRTIO_SND_S_BAD_MSG); // no value
    const tlv = g.request(hdr(P.VIRTIO_SND_R_CTL_TLV_READ, 1).b, 4 + 64);
    expect(tlv.status).toBe(P.VIRTIO_SND_S_OK);
    const t = new DataView(tlv.payload.buffer);
    expect([
      t.getUint32(0, true),
      t.getUint32(4, true),
      t.getInt32(8, true),
      t.getUint32(12, true),
    ]).toEqual([1, 8, -1000, 100]);
    // Too little room: as much as fits, still OK.
    const short = g.request(hdr(P.VIRTIO_SND_R_CTL_TLV_READ, 1).b, 4 + 6);
    expect(short.status).toBe(P.VIRTIO_SND_S_OK);
    expect(short.len).toBe(10);
    expect(g.request(hdr(P.VIRTIO_SND_R_CTL_TLV_READ, 0).b, 4 + 64).status).toBe(
      P.VIRTIO_SND_S_NOT_SUPP,
    );
    expect(g.request(hdr(P.VIRTIO_SND_R_CTL_TLV_WRITE, 1, 8).b).status).toBe(
      P.VIRTIO_SND_S_NOT_SUPP,
    );
    expect(g.request(hdr(P.VIRTIO_SND_R_CTL_READ, 9).b, 4 + 512).status).toBe(
      P.VIRTIO_SND_S_BAD_MSG,
    );
  });

  it('control requests without VIRTIO_SND_F_CTLS are not supported', () => {
    const g = new SndGuest().init({ ctls: false });
    expect(g.query(P.VIRTIO_SND_R_CTL_INFO, 0, 1, 96).status).toBe(P.VIRTIO_SND_S_NOT_SUPP);
  });

  it('answers unknown codes and malformed requests with BAD_MSG, never throwing', () => {
    const g = new SndGuest().init();
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 600 }),
        fc.integer({ min: 4, max: 600 }),
        (bytes, room) => {
          const req = bytes.length === 0 ? new Uint8Array([1]) : bytes;
          const r = g.request(req, room);
          expect([
            P.VIRTIO_SND_S_OK,
            P.VIRTIO_SND_S_BAD_MSG,
            P.VIRTIO_SND_S_NOT_SUPP,
            P.VIRTIO_SND_S_IO_ERR,
          ]).toContain(r.status);
          expect(r.len).toBeLessThanOrEqual(room);
          expect(r.len).toBeGreaterThanOrEqual(4);
        },
      ),
      { numRuns: 500 },
    );
    const unknown = new Uint8Array(8);
    new DataView(unknown.buffer).setUint32(0, 0x777, true);
    expect(g.request(unknown).status).toBe(P.VIRTIO_SND_S_BAD_MSG);
    expect(g.request(new Uint8Array(3)).status).toBe(P.VIRTIO_SND_S_BAD_MSG);
  });
});
