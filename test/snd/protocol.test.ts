/**
 * The protocol module against the specification: every struct size and field
 * offset, and every constant, from a table written independently from the
 * VIRTIO 1.2/1.3 sound device section (and Linux's virtio_snd.h).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as P from '../../src/snd/protocol.ts';

describe('struct layouts', () => {
  const table: [string, object, Record<string, number>][] = [
    [
      'virtio_snd_config',
      P.CONFIG,
      { size: 16, sizeV12: 12, jacks: 0, streams: 4, chmaps: 8, controls: 12 },
    ],
    ['virtio_snd_hdr', P.HDR, { size: 4, code: 0 }],
    ['virtio_snd_event', P.EVENT, { size: 8, code: 0, data: 4 }],
    [
      'virtio_snd_query_info',
      P.QUERY_INFO,
      { size: 16, code: 0, startId: 4, count: 8, itemSize: 12 },
    ],
    ['virtio_snd_info', P.INFO, { size: 4, hdaFnNid: 0 }],
    ['virtio_snd_jack_hdr', P.JACK_HDR, { size: 8, code: 0, jackId: 4 }],
    [
      'virtio_snd_jack_info',
      P.JACK_INFO,
      {
        size: 24,
        hdaFnNid: 0,
        features: 4,
        hdaRegDefconf: 8,
        hdaRegCaps: 12,
        connected: 16,
        padding: 17,
      },
    ],
    [
      'virtio_snd_jack_remap',
      P.JACK_REMAP,
      { size: 16, code: 0, jackId: 4, association: 8, sequence: 12 },
    ],
    ['virtio_snd_pcm_hdr', P.PCM_HDR, { size: 8, code: 0, streamId: 4 }],
    [
      'virtio_snd_pcm_info',
      P.PCM_INFO,
      {
        size: 32,
        hdaFnNid: 0,
        features: 4,
        formats: 8,
        rates: 16,
        direction: 24,
        channelsMin: 25,
        channelsMax: 26,
        padding: 27,
      },
    ],
    [
      'virtio_snd_pcm_set_params',
      P.PCM_SET_PARAMS,
      {
        size: 24,
        code: 0,
        streamId: 4,
        bufferBytes: 8,
        periodBytes: 12,
        features: 16,
        channels: 20,
        format: 21,
        rate: 22,
        padding: 23,
      },
    ],
    ['virtio_snd_pcm_xfer', P.PCM_XFER, { size: 4, streamId: 0 }],
    ['virtio_snd_pcm_status', P.PCM_STATUS, { size: 8, status: 0, latencyBytes: 4 }],
    ['virtio_snd_chmap_hdr', P.CHMAP_HDR, { size: 8, code: 0, chmapId: 4 }],
    [
      'virtio_snd_chmap_info',
      P.CHMAP_INFO,
      { size: 24, hdaFnNid: 0, direction: 4, channels: 5, positions: 6 },
    ],
    ['virtio_snd_ctl_hdr', P.CTL_HDR, { size: 8, code: 0, controlId: 4 }],
    [
      'virtio_snd_ctl_info',
      P.CTL_INFO,
      {
        size: 96,
        hdaFnNid: 0,
        role: 4,
        type: 8,
        access: 12,
        count: 16,
        index: 20,
        name: 24,
        nameSize: 44,
        value: 72,
      },
    ],
    ['virtio_snd_ctl_enum_item', P.CTL_ENUM_ITEM, { size: 64 }],
    [
      'virtio_snd_ctl_iec958',
      P.CTL_IEC958,
      { size: 176, status: 0, subcode: 24, pad: 171, digSubframe: 172 },
    ],
    ['virtio_snd_ctl_value', P.CTL_VALUE, { size: 512 }],
    ['virtio_snd_ctl_tlv', P.CTL_TLV, { headerSize: 8, type: 0, length: 4, value: 8 }],
    ['virtio_snd_ctl_event', P.CTL_EVENT, { size: 8, code: 0, controlId: 4, mask: 6 }],
  ];
  for (const [name, actual, expected] of table) {
    it(`${name} has the spec's size and offsets`, () => {
      expect(actual).toEqual(expected);
    });
  }

  it('chmap_info positions fill the struct: 6 + 18 = 24', () => {
    expect(P.CHMAP_INFO.positions + P.VIRTIO_SND_CHMAP_MAX_SIZE).toBe(P.CHMAP_INFO.size);
  });
  it('ctl_info name ends where the union padding starts: 24 + 44 = 68, union at 72 (8-aligned)', () => {
    expect(P.CTL_INFO.name + P.CTL_INFO.nameSize).toBe(68);
    expect(P.CTL_INFO.value % 8).toBe(0);
    expect(P.CTL_INFO.value + 24).toBe(P.CTL_INFO.size);
  });
});

describe('constants', () => {
  it('request, event and status codes', () => {
    expect([
      P.VIRTIO_SND_R_JACK_INFO,
      P.VIRTIO_SND_R_JACK_REMAP,
      P.VIRTIO_SND_R_PCM_INFO,
      P.VIRTIO_SND_R_PCM_SET_PARAMS,
      P.VIRTIO_SND_R_PCM_PREPARE,
      P.VIRTIO_SND_R_PCM_RELEASE,
      P.VIRTIO_SND_R_PCM_START,
      P.VIRTIO_SND_R_PCM_STOP,
      P.VIRTIO_SND_R_CHMAP_INFO,
      P.VIRTIO_SND_R_CTL_INFO,
      P.VIRTIO_SND_R_CTL_ENUM_ITEMS,
      P.VIRTIO_SND_R_CTL_READ,
      P.VIRTIO_SND_R_CTL_WRITE,
      P.VIRTIO_SND_R_CTL_TLV_READ,
      P.VIRTIO_SND_R_CTL_TLV_WRITE,
      P.VIRTIO_SND_R_CTL_TLV_COMMAND,
    ]).toEqual([
      1, 2, 0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x200, 0x300, 0x301, 0x302, 0x303, 0x304,
      0x305, 0x306,
    ]);
    expect([
      P.VIRTIO_SND_EVT_JACK_CONNECTED,
      P.VIRTIO_SND_EVT_JACK_DISCONNECTED,
      P.VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED,
      P.VIRTIO_SND_EVT_PCM_XRUN,
      P.VIRTIO_SND_EVT_CTL_NOTIFY,
    ]).toEqual([0x1000, 0x1001, 0x1100, 0x1101, 0x1200]);
    expect([
      P.VIRTIO_SND_S_OK,
      P.VIRTIO_SND_S_BAD_MSG,
      P.VIRTIO_SND_S_NOT_SUPP,
      P.VIRTIO_SND_S_IO_ERR,
    ]).toEqual([0x8000, 0x8001, 0x8002, 0x8003]);
    expect([P.VIRTIO_SND_D_OUTPUT, P.VIRTIO_SND_D_INPUT]).toEqual([0, 1]);
    expect(P.VIRTIO_ID_SOUND).toBe(25);
    expect(P.VIRTIO_SND_F_CTLS).toBe(0);
    expect([
      P.VIRTIO_SND_VQ_CONTROL,
      P.VIRTIO_SND_VQ_EVENT,
      P.VIRTIO_SND_VQ_TX,
      P.VIRTIO_SND_VQ_RX,
    ]).toEqual([0, 1, 2, 3]);
  });

  it('feature bits', () => {
    expect(P.VIRTIO_SND_JACK_F_REMAP).toBe(0);
    expect([
      P.VIRTIO_SND_PCM_F_SHMEM_HOST,
      P.VIRTIO_SND_PCM_F_SHMEM_GUEST,
      P.VIRTIO_SND_PCM_F_MSG_POLLING,
      P.VIRTIO_SND_PCM_F_EVT_SHMEM_PERIODS,
      P.VIRTIO_SND_PCM_F_EVT_XRUNS,
    ]).toEqual([0, 1, 2, 3, 4]);
  });

  it('formats 0..24 with their sample sizes', () => {
    const spec: [string, number, number][] = [
      ['IMA_ADPCM', 4, 4],
      ['MU_LAW', 8, 8],
      ['A_LAW', 8, 8],
      ['S8', 8, 8],
      ['U8', 8, 8],
      ['S16', 16, 16],
      ['U16', 16, 16],
      ['S18_3', 18, 24],
      ['U18_3', 18, 24],
      ['S20_3', 20, 24],
      ['U20_3', 20, 24],
      ['S24_3', 24, 24],
      ['U24_3', 24, 24],
      ['S20', 20, 32],
      ['U20', 20, 32],
      ['S24', 24, 32],
      ['U24', 24, 32],
      ['S32', 32, 32],
      ['U32', 32, 32],
      ['FLOAT', 32, 32],
      ['FLOAT64', 64, 64],
      ['DSD_U8', 8, 8],
      ['DSD_U16', 16, 16],
      ['DSD_U32', 32, 32],
      ['IEC958_SUBFRAME', 32, 32],
    ];
    spec.forEach(([name, width, phys], i) => {
      expect((P as unknown as Record<string, number>)[`VIRTIO_SND_PCM_FMT_${name}`]).toBe(i);
      expect(P.PCM_FORMAT_INFO[i]).toMatchObject({ name, width, physBits: phys });
    });
    expect(P.pcmFrameBytes(P.VIRTIO_SND_PCM_FMT_S16, 2)).toBe(4);
    expect(P.pcmFrameBytes(P.VIRTIO_SND_PCM_FMT_S24_3, 6)).toBe(18);
    expect(P.pcmFrameBytes(P.VIRTIO_SND_PCM_FMT_FLOAT64, 8)).toBe(64);
    expect(P.pcmFrameBytes(P.VIRTIO_SND_PCM_FMT_IMA_ADPCM, 1)).toBe(1);
  });

  it('rates 0..15 (12000 and 24000 appended by the 1.4 draft)', () => {
    const hz = [
      5512, 8000, 11025, 16000, 22050, 32000, 44100, 48000, 64000, 88200, 96000, 176400, 192000,
      384000, 12000, 24000,
    ];
    hz.forEach((r, i) => {
      expect((P as unknown as Record<string, number>)[`VIRTIO_SND_PCM_RATE_${r}`]).toBe(i);
      expect(P.PCM_RATE_HZ[i]).toBe(r);
      expect(P.pcmRateIndex(r)).toBe(i);
    });
    expect(P.pcmRateIndex(47999)).toBe(-1);
  });

  it('channel positions 0..36 and the map size', () => {
    const names = [
      'NONE',
      'NA',
      'MONO',
      'FL',
      'FR',
      'RL',
      'RR',
      'FC',
      'LFE',
      'SL',
      'SR',
      'RC',
      'FLC',
      'FRC',
      'RLC',
      'RRC',
      'FLW',
      'FRW',
      'FLH',
      'FCH',
      'FRH',
      'TC',
      'TFL',
      'TFR',
      'TFC',
      'TRL',
      'TRR',
      'TRC',
      'TFLC',
      'TFRC',
      'TSL',
      'TSR',
      'LLFE',
      'RLFE',
      'BC',
      'BLC',
      'BRC',
    ];
    names.forEach((n, i) => {
      expect((P as unknown as Record<string, number>)[`VIRTIO_SND_CHMAP_${n}`]).toBe(i);
    });
    expect(P.VIRTIO_SND_CHMAP_MAX_SIZE).toBe(18);
  });

  it('control element roles, types, access bits, event mask and count limits', () => {
    expect([
      P.VIRTIO_SND_CTL_ROLE_UNDEFINED,
      P.VIRTIO_SND_CTL_ROLE_VOLUME,
      P.VIRTIO_SND_CTL_ROLE_MUTE,
      P.VIRTIO_SND_CTL_ROLE_GAIN,
    ]).toEqual([0, 1, 2, 3]);
    expect([
      P.VIRTIO_SND_CTL_TYPE_BOOLEAN,
      P.VIRTIO_SND_CTL_TYPE_INTEGER,
      P.VIRTIO_SND_CTL_TYPE_INTEGER64,
      P.VIRTIO_SND_CTL_TYPE_ENUMERATED,
      P.VIRTIO_SND_CTL_TYPE_BYTES,
      P.VIRTIO_SND_CTL_TYPE_IEC958,
    ]).toEqual([0, 1, 2, 3, 4, 5]);
    expect([
      P.VIRTIO_SND_CTL_ACCESS_READ,
      P.VIRTIO_SND_CTL_ACCESS_WRITE,
      P.VIRTIO_SND_CTL_ACCESS_VOLATILE,
      P.VIRTIO_SND_CTL_ACCESS_INACTIVE,
      P.VIRTIO_SND_CTL_ACCESS_TLV_READ,
      P.VIRTIO_SND_CTL_ACCESS_TLV_WRITE,
      P.VIRTIO_SND_CTL_ACCESS_TLV_COMMAND,
    ]).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect([
      P.VIRTIO_SND_CTL_EVT_MASK_VALUE,
      P.VIRTIO_SND_CTL_EVT_MASK_INFO,
      P.VIRTIO_SND_CTL_EVT_MASK_TLV,
    ]).toEqual([0, 1, 2]);
    expect(P.VIRTIO_SND_CTL_MAX_COUNT).toEqual([128, 128, 64, 128, 512, 1]);
  });

  it('names codes for error messages', () => {
    expect(P.requestCodeName(P.VIRTIO_SND_R_PCM_SET_PARAMS)).toBe('PCM_SET_PARAMS');
    expect(P.statusName(P.VIRTIO_SND_S_NOT_SUPP)).toBe('NOT_SUPP');
    expect(P.eventCodeName(P.VIRTIO_SND_EVT_PCM_XRUN)).toBe('PCM_XRUN');
    expect(P.requestCodeName(0x999)).toBe('request 0x0999');
  });
});

describe('encode/decode', () => {
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  const u8 = fc.integer({ min: 0, max: 255 });
  const dirty = (size: number) => {
    const v = new DataView(new ArrayBuffer(size + 8));
    for (let i = 0; i < size + 8; i++) v.setUint8(i, 0xaa);
    return v;
  };

  it('pcm_info round-trips and zeroes its padding', () => {
    fc.assert(
      fc.property(
        u32,
        u32,
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        u8,
        u8,
        u8,
        (nid, feat, formats, rates, dir, cmin, cmax) => {
          const v = dirty(P.PCM_INFO.size);
          const x = {
            hdaFnNid: nid,
            features: feat,
            formats,
            rates,
            direction: dir,
            channelsMin: cmin,
            channelsMax: cmax,
          };
          P.encodePcmInfo(v, 4, x);
          expect(P.decodePcmInfo(v, 4)).toEqual(x);
          for (let i = 27; i < 32; i++) expect(v.getUint8(4 + i)).toBe(0);
          expect(v.getUint8(3)).toBe(0xaa);
          expect(v.getUint8(4 + 32)).toBe(0xaa);
        },
      ),
    );
  });

  it('jack_info round-trips and zeroes its padding', () => {
    fc.assert(
      fc.property(u32, u32, u32, u32, fc.integer({ min: 0, max: 1 }), (nid, f, d, c, conn) => {
        const v = dirty(P.JACK_INFO.size);
        const x = { hdaFnNid: nid, features: f, hdaRegDefconf: d, hdaRegCaps: c, connected: conn };
        P.encodeJackInfo(v, 0, x);
        expect(P.decodeJackInfo(v, 0)).toEqual(x);
        for (let i = 17; i < 24; i++) expect(v.getUint8(i)).toBe(0);
      }),
    );
  });

  it('pcm_set_params, query_info and event round-trip', () => {
    fc.assert(
      fc.property(u32, u32, u32, u32, u8, u8, u8, (sid, buf, per, feat, ch, fmt, rate) => {
        const v = dirty(24);
        const x = {
          streamId: sid,
          bufferBytes: buf,
          periodBytes: per,
          features: feat,
          channels: ch,
          format: fmt,
          rate,
        };
        P.encodePcmSetParams(v, 0, x, P.VIRTIO_SND_R_PCM_SET_PARAMS);
        expect(P.decodePcmSetParams(v, 0)).toEqual(x);
        expect(v.getUint32(0, true)).toBe(P.VIRTIO_SND_R_PCM_SET_PARAMS);
        expect(v.getUint8(23)).toBe(0);
        const q = { code: P.VIRTIO_SND_R_PCM_INFO, startId: sid, count: buf, size: per };
        P.encodeQueryInfo(v, 0, q);
        expect(P.decodeQueryInfo(v, 0)).toEqual(q);
        const e = { code: sid, data: buf };
        P.encodeEvent(v, 0, e);
        expect(P.decodeEvent(v, 0)).toEqual(e);
      }),
    );
  });

  it('chmap_info round-trips up to 18 positions, zero-filling the rest', () => {
    fc.assert(
      fc.property(
        u32,
        fc.integer({ min: 0, max: 1 }),
        fc.array(fc.integer({ min: 0, max: 36 }), { maxLength: 18 }),
        (nid, dir, pos) => {
          const v = dirty(P.CHMAP_INFO.size);
          P.encodeChmapInfo(v, 0, { hdaFnNid: nid, direction: dir, positions: pos });
          expect(P.decodeChmapInfo(v, 0)).toEqual({
            hdaFnNid: nid,
            direction: dir,
            positions: pos,
          });
          for (let i = 6 + pos.length; i < 24; i++) expect(v.getUint8(i)).toBe(0);
        },
      ),
    );
    expect(() =>
      P.encodeChmapInfo(new DataView(new ArrayBuffer(24)), 0, {
        hdaFnNid: 0,
        direction: 0,
        positions: new Array(19).fill(3),
      }),
    ).toThrow(RangeError);
  });

  it('ctl_info round-trips every value kind and checks its name', () => {
    const name = fc
      .string({ minLength: 0, maxLength: 43 })
      .map((s) => s.replace(/[^\x20-\x7e]/g, 'x'));
    fc.assert(
      fc.property(
        name,
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
        (n, a, b, c) => {
          const v = dirty(96);
          for (const value of [
            { kind: 'integer' as const, min: a, max: b, step: 1 },
            { kind: 'integer64' as const, min: c, max: -c - 1n, step: 3n },
            { kind: 'enumerated' as const, items: b >>> 0 },
          ]) {
            const type = value.kind === 'integer' ? 1 : value.kind === 'integer64' ? 2 : 3;
            const x = { hdaFnNid: 1, role: 2, type, access: 3, count: 1, index: 7, name: n, value };
            P.encodeCtlInfo(v, 0, x);
            expect(P.decodeCtlInfo(v, 0)).toEqual(x);
            for (let i = 68; i < 72; i++) expect(v.getUint8(i)).toBe(0);
          }
        },
      ),
    );
    const v = new DataView(new ArrayBuffer(96));
    const base = {
      hdaFnNid: 0,
      role: 0,
      type: 0,
      access: 0,
      count: 1,
      index: 0,
      value: { kind: 'none' as const },
    };
    expect(() => P.encodeCtlInfo(v, 0, { ...base, name: 'x'.repeat(44) })).toThrow(
      /longer than 43/,
    );
    expect(() => P.encodeCtlInfo(v, 0, { ...base, name: 'Lautstärke' })).toThrow(/not ASCII/);
  });

  it('hot-path helpers read the xfer header and write the status', () => {
    const v = new DataView(new ArrayBuffer(16));
    v.setUint32(4, 3, true);
    expect(P.readPcmXferStreamId(v, 4)).toBe(3);
    P.writePcmStatus(v, 8, P.VIRTIO_SND_S_OK, 4096);
    expect([v.getUint32(8, true), v.getUint32(12, true)]).toEqual([0x8000, 4096]);
  });
});
