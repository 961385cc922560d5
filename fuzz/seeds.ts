/**
 * Writes the committed seed corpus, fuzz/corpus/<target>/<name>: a few cases
 * per target that reach deep (running streams, real requests) and one per
 * shape of issue 15, written with the targets' own case codecs, so libFuzzer
 * starts from them. A seed named known-<defect> reaches that known defect
 * (test/fuzz/known-defects.ts); the corpus replay test checks it still does.
 *
 * Run: npx tsx fuzz/seeds.ts   (rewrites the directories)
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import {
  VIRTIO_SND_PCM_FMT_S16,
  VIRTIO_SND_R_CHMAP_INFO,
  VIRTIO_SND_R_CTL_WRITE,
  VIRTIO_SND_R_PCM_INFO,
  VIRTIO_SND_R_PCM_PREPARE,
  VIRTIO_SND_R_PCM_RELEASE,
  VIRTIO_SND_R_PCM_SET_PARAMS,
  VIRTIO_SND_R_PCM_START,
  VIRTIO_SND_R_PCM_STOP,
} from '../src/snd/protocol.ts';
import { ByteReader, ByteWriter, type Codec } from '../test/fuzz/bytes.ts';
import {
  type Body,
  type ControlCase,
  type ControlOp,
  controlCase,
} from '../test/fuzz/control-case.ts';
import { type IoCase, type IoOp, ioCase, type StreamSetup } from '../test/fuzz/io-case.ts';
import { type RelayCase, type RelayOp, relayCase } from '../test/fuzz/relay-case.ts';
import type { SegShape } from '../test/fuzz/shapes.ts';
import { type Case as VirtqueueCase, virtqueueCase } from './virtqueue.fuzz.ts';

type Shape<C> = (c: Codec, v?: C) => C;

function write<C>(target: string, shape: Shape<C>, seeds: Record<string, C>): void {
  const dir = `fuzz/corpus/${target}`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, c] of Object.entries(seeds)) {
    const w = new ByteWriter();
    shape(w, c);
    const bytes = w.done();
    // The seed must read back as the case it was written from.
    const back = shape(new ByteReader(bytes));
    if (JSON.stringify(back) !== JSON.stringify(c))
      throw new Error(`${target}/${name} reads back as ${JSON.stringify(back)}`);
    writeFileSync(`${dir}/${name}`, bytes);
    console.log(`${dir}/${name} (${bytes.length} bytes)`);
  }
}

// ---- virtqueue: memory images with real rings -------------------------------------

const F_NEXT = 1;
const F_WRITE = 2;
const F_INDIRECT = 4;
type Desc = [addr: number, len: number, flags: number, next: number];

function image(
  size: number,
  table: Desc[],
  heads: number[],
  extra: [number, Desc[]][] = [],
): Uint8Array {
  const m = new Uint8Array(512);
  const v = new DataView(m.buffer);
  const put = (at: number, d: Desc) => {
    v.setBigUint64(at, BigInt(d[0]), true);
    v.setUint32(at + 8, d[1], true);
    v.setUint16(at + 12, d[2], true);
    v.setUint16(at + 14, d[3], true);
  };
  table.forEach((d, i) => {
    put(16 * i, d);
  });
  for (const [at, ds] of extra)
    ds.forEach((d, i) => {
      put(at + 16 * i, d);
    });
  const avail = 16 * size;
  v.setUint16(avail + 2, heads.length, true);
  heads.forEach((h, i) => {
    v.setUint16(avail + 4 + 2 * i, h, true);
  });
  return m;
}

const vq = (
  size: number,
  bytes: Uint8Array,
  indirect = false,
  eventIdx = false,
): VirtqueueCase => ({
  size,
  indirect,
  eventIdx,
  descAddr: 0,
  availAddr: 16 * size,
  usedAddr: 16 * size + 64,
  bytes,
});

write('virtqueue', virtqueueCase, {
  'rw-chain': vq(
    4,
    image(
      4,
      [
        [0x180, 16, F_NEXT, 1],
        [0x1c0, 32, F_WRITE, 0],
      ],
      [0],
    ),
  ),
  indirect: vq(
    4,
    image(
      4,
      [[0x100, 32, F_INDIRECT, 0]],
      [0],
      [
        [
          0x100,
          [
            [0x180, 16, F_NEXT, 1],
            [0x1c0, 8, F_WRITE, 0],
          ],
        ],
      ],
    ),
    true,
  ),
  'three-chains': vq(
    8,
    image(
      8,
      [
        [0x180, 8, 0, 0],
        [0x1a0, 64, F_WRITE, 0],
        [0x1e0, 4, F_NEXT, 3],
        [0x1f0, 4, F_WRITE, 0],
      ],
      [0, 1, 2],
    ),
    false,
    true,
  ),
  refused: vq(
    4,
    image(
      4,
      [
        [0x180, 8, F_NEXT, 1],
        [0x190, 8, F_NEXT, 0],
        [0x1a0, 8, F_WRITE | F_NEXT, 3],
        [0x1b0, 8, 0, 0],
      ],
      [0, 2],
    ),
  ),
  aliased: vq(
    8,
    image(
      8,
      [
        [0x180, 64, F_WRITE | F_NEXT, 1],
        [0x180, 64, F_WRITE | F_NEXT, 2],
        [0x180, 64, F_WRITE, 0],
      ],
      [0],
    ),
  ),
});

// ---- control queue -----------------------------------------------------------------

const on = { ctls: true, eventIdx: false, indirect: false };
const req = (
  code: number,
  body: Body,
  resp: SegShape = { count: 1, len: 516, layout: 'distinct' },
): ControlOp => ({
  k: 'req',
  req: { code, body, split: 1, resp, indirect: false },
});
const hdr = (id: number) => ({ k: 'hdr' as const, id });
const control = (ops: ControlOp[], eventBuffers = 8, features = on): ControlCase => ({
  features,
  eventBuffers,
  ops,
});

write('control-queue', controlCase, {
  'pcm-info': control([
    req(VIRTIO_SND_R_PCM_INFO, { k: 'query', start: 0, count: 2, size: 32, fit: false }),
  ]),
  'stream-lifecycle': control([
    req(VIRTIO_SND_R_PCM_SET_PARAMS, {
      k: 'params',
      stream: 0,
      buffer: 16384,
      period: 4096,
      features: 0,
      channels: 2,
      format: VIRTIO_SND_PCM_FMT_S16,
      rate: 7,
    }),
    req(VIRTIO_SND_R_PCM_PREPARE, hdr(0)),
    req(VIRTIO_SND_R_PCM_START, hdr(0)),
    req(VIRTIO_SND_R_PCM_STOP, hdr(0)),
    req(VIRTIO_SND_R_PCM_RELEASE, hdr(0)),
  ]),
  'ctl-write-flood': control(
    [
      { k: 'flood', id: 0, a: 10, b: 90, n: 256 },
      { k: 'events', n: 16 },
    ],
    0,
  ),
  'split-indirect': control(
    [
      {
        k: 'req',
        req: {
          code: VIRTIO_SND_R_CTL_WRITE,
          body: { k: 'write', id: 0, values: [50] },
          split: 3,
          resp: { count: 2, len: 2, layout: 'distinct' },
          indirect: true,
        },
      },
    ],
    1,
    { ctls: true, eventIdx: true, indirect: true },
  ),
  'response-over-rings': control([
    req(
      VIRTIO_SND_R_CHMAP_INFO,
      { k: 'query', start: 0, count: 1, size: 24, fit: false },
      { count: 1, len: 28, layout: 'over-rings' },
    ),
  ]),
  'known-info-amplification': control([
    req(
      VIRTIO_SND_R_CHMAP_INFO,
      { k: 'query', start: 0, count: 7, size: 0, fit: true },
      { count: 63, len: 0x7ff8, layout: 'aliased' },
    ),
  ]),
});

// ---- renderer I/O ---------------------------------------------------------------

const s16 = (start: boolean, rate = 7): StreamSetup => ({
  format: VIRTIO_SND_PCM_FMT_S16,
  channels: 2,
  rate,
  periodBytes: 4096,
  periods: 4,
  start,
});
const msg = (
  q: 2 | 3,
  count: number,
  len: number,
  layout: 'distinct' | 'aliased',
  fill: 'zero' | 'noise' | 'full' = 'noise',
): IoOp & { k: 'msg' } => ({
  k: 'msg',
  q,
  stream: q === 2 ? 0 : 1,
  hdr: 4,
  payload: { count, len, layout },
  wrongDir: false,
  status: 8,
  split: false,
  indirect: false,
  fill,
});
const quanta = (n: number): IoOp => ({ k: 'process', n, level: 1 });
const io = (ops: IoOp[], big = false, out = s16(true), inp = s16(true)): IoCase => ({
  big,
  features: on,
  out,
  in: inp,
  ops,
});

write('io-intake', ioCase, {
  playback: io([msg(2, 1, 1024, 'distinct'), msg(2, 1, 1024, 'distinct'), quanta(4)]),
  capture: io([
    msg(3, 1, 512, 'distinct'),
    quanta(2),
    { k: 'cmd', code: VIRTIO_SND_R_PCM_RELEASE, stream: 1 },
  ]),
  'aliased-64': io([msg(2, 64, 4096, 'aliased'), msg(3, 64, 4096, 'aliased'), quanta(4)]),
  'split-status': io([{ ...msg(2, 2, 512, 'distinct'), split: true, indirect: true }, quanta(3)]),
  republish: io([msg(2, 1, 512, 'distinct'), { k: 'dup', q: 2, pick: 0 }, quanta(2)]),
  'known-io-size-overflow': io(
    [msg(2, 64, 0x2000000, 'aliased'), msg(3, 64, 0x3fffffc, 'aliased'), quanta(2)],
    true,
  ),
  'known-resampled-overshoot': io(
    [msg(2, 2, 8192, 'distinct', 'full'), quanta(4)],
    false,
    s16(true, 1),
    s16(false),
  ),
});

// ---- relay ------------------------------------------------------------------------

const rcmd = (code: number, stream = 0): RelayOp => ({ k: 'cmd', code, stream });
const params = (periodFrames: number, features = 0, stream = 0): RelayOp => ({
  k: 'params',
  stream,
  format: VIRTIO_SND_PCM_FMT_S16,
  channels: 2,
  periodFrames,
  periods: 4,
  features,
});
const tx = (count: number, len: number, layout: 'distinct' | 'aliased' = 'distinct'): RelayOp => ({
  k: 'io',
  q: 2,
  stream: 0,
  payload: { count, len, layout },
  status: 8,
});
const relay = (ops: RelayOp[], relayBytes = 8 << 20, eventBuffers = 8): RelayCase => ({
  relayBytes,
  innerQueueSize: 256,
  txLeadMs: 200,
  features: on,
  eventBuffers,
  ops,
});

write('relay', relayCase, {
  playback: relay([
    params(256),
    rcmd(VIRTIO_SND_R_PCM_PREPARE),
    tx(1, 1024),
    tx(1, 1024),
    rcmd(VIRTIO_SND_R_PCM_START),
    { k: 'quanta', n: 12 },
  ]),
  capture: relay([
    params(256, 0, 1),
    rcmd(VIRTIO_SND_R_PCM_PREPARE, 1),
    { k: 'io', q: 3, stream: 1, payload: { count: 1, len: 1024, layout: 'distinct' }, status: 8 },
    rcmd(VIRTIO_SND_R_PCM_START, 1),
    { k: 'quanta', n: 4 },
  ]),
  'notify-storm': relay([
    params(64),
    rcmd(VIRTIO_SND_R_PCM_PREPARE),
    tx(2, 256),
    { k: 'notify', q: 2, n: 64 },
    { k: 'notify', q: 1, n: 64 },
    { k: 'quanta', n: 2 },
  ]),
  'reset-mid-stream': relay([
    params(256),
    rcmd(VIRTIO_SND_R_PCM_PREPARE),
    rcmd(VIRTIO_SND_R_PCM_START),
    tx(1, 1024),
    { k: 'quanta', n: 2 },
    { k: 'reset' },
    { k: 'quanta', n: 1 },
  ]),
  'known-relay-heap': relay(
    [
      {
        k: 'ctl',
        req: {
          code: VIRTIO_SND_R_PCM_INFO,
          body: hdr(0),
          split: 1,
          resp: { count: 1, len: 0x17ff8, layout: 'distinct' },
          indirect: false,
        },
      },
    ],
    328 << 10,
  ),
  'known-relay-release-len': {
    ...relay(
      [
        params(256),
        rcmd(VIRTIO_SND_R_PCM_PREPARE),
        tx(1, 1024),
        tx(1, 1024),
        { ...tx(1, 1024), status: 4 } as RelayOp,
        { k: 'notify', q: 2, n: 1 },
        rcmd(VIRTIO_SND_R_PCM_RELEASE),
      ],
      1 << 20,
    ),
    innerQueueSize: 4,
    txLeadMs: 0,
  },
  'known-relay-event-backlog': relay(
    [
      params(1, 8),
      rcmd(VIRTIO_SND_R_PCM_PREPARE),
      ...Array.from({ length: 4 }, () => tx(16, 4096, 'aliased')),
      rcmd(VIRTIO_SND_R_PCM_START),
      { k: 'quanta', n: 64 },
    ],
    8 << 20,
    0,
  ),
});
