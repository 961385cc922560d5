/**
 * createVirtioSound's snapshot (kind 'HOST'), made in the driver Worker:
 *
 *   VSND  the transport and the device, with guest memory (the driver's allocations)
 *   DRVR  the driver
 *   PLAY  one per player: its source (a tone's frequency and phase, or the PCM
 *         still to play) and how far it got
 *   RECD  one per recording: which stream (what it captured before the
 *         snapshot stays with the page that took it)
 *
 * Guest memory, device and driver restore bit-exact; the players go on with
 * the same samples (playback.test: a restored page plays the rest of a
 * playPcm bit-exact).
 */

import {
  readSnapshot,
  SnapshotBuilder,
  SnapshotError,
  type SnapshotReader,
} from '../snapshot/snapshot-format.ts';
import { PCM_FORMAT_INFO } from '../snd/protocol.ts';
import type { PcmSpec, PlayerProgress, ToneSpec } from './player.ts';

export const HOST_KIND = 'HOST';

export interface PlayerState {
  streamId: number;
  chunkFrames: number;
  progress: PlayerProgress;
  source: ToneSpec | PcmSpec;
}

export interface HostState {
  sound: Uint8Array;
  driver: Uint8Array;
  players: PlayerState[];
  recordings: number[];
}

/** Streams a card may have (the driver's own bound). */
const MAX_STREAMS = 1024;
/** PCM a snapshot may carry for one player. */
const MAX_PCM_BYTES = 1 << 30;

export function writeHostState(s: HostState): Uint8Array {
  const b = new SnapshotBuilder(HOST_KIND).raw('VSND', s.sound).raw('DRVR', s.driver);
  for (const p of s.players) {
    b.section('PLAY', (w) => {
      const g = p.progress;
      w.u32(p.streamId).u32(p.chunkFrames);
      w.u53(g.chunkStart).u53(g.intoChunk).f64(g.mark).bool(g.draining);
      const src = p.source;
      w.bool(src.kind === 'pcm');
      if (src.kind === 'tone') {
        w.f64(src.frequency).f64(src.amplitude).u32(src.rate).u32(src.channels).u32(src.format);
        w.f64(src.total);
      } else {
        w.u32(src.frameBytes).blob(src.data);
      }
    });
  }
  for (const id of s.recordings) b.section('RECD', (w) => w.u32(id));
  return b.finish();
}

export function readHostState(bytes: Uint8Array): HostState {
  const sec = readSnapshot(bytes, HOST_KIND);
  const sound = sec.payload('VSND');
  const driver = sec.payload('DRVR');
  const players = sec.all('PLAY').map(readPlayer);
  const recordings = sec.all('RECD').map((r) => {
    const id = r.index(MAX_STREAMS, 'recording stream');
    r.end();
    return id;
  });
  sec.end();
  const ids = [...players.map((p) => p.streamId), ...recordings];
  if (new Set(ids).size !== ids.length) {
    throw new SnapshotError('invalid-state', 'two players or recordings on one stream');
  }
  return { sound, driver, players, recordings };
}

function readPlayer(r: SnapshotReader): PlayerState {
  const streamId = r.index(MAX_STREAMS, 'player stream');
  const chunkFrames = r.u32();
  const progress: PlayerProgress = {
    chunkStart: r.u53('chunk start'),
    intoChunk: r.u53('frames into the chunk'),
    mark: r.f64(),
    draining: r.bool('draining'),
  };
  if (chunkFrames < 1 || progress.intoChunk > chunkFrames || !Number.isFinite(progress.mark)) {
    throw r.invalid('player progress');
  }
  let source: ToneSpec | PcmSpec;
  if (!r.bool('pcm')) {
    const tone: ToneSpec = {
      kind: 'tone',
      frequency: r.f64(),
      amplitude: r.f64(),
      rate: r.u32(),
      channels: r.u32(),
      format: r.u32(),
      total: r.f64(),
    };
    const okTotal = tone.total === Number.POSITIVE_INFINITY || Number.isSafeInteger(tone.total);
    if (
      !Number.isFinite(tone.frequency) ||
      !(Math.abs(tone.amplitude) <= 1) ||
      tone.rate < 1 ||
      tone.channels < 1 ||
      tone.channels > 255 ||
      !PCM_FORMAT_INFO[tone.format] ||
      !okTotal ||
      tone.total < 0
    ) {
      throw r.invalid('tone');
    }
    source = tone;
  } else {
    const frameBytes = r.u32();
    const data = r.blob(MAX_PCM_BYTES, 'player PCM');
    if (frameBytes < 1 || data.length % frameBytes !== 0) throw r.invalid('player PCM frames');
    source = { kind: 'pcm', data, frameBytes };
  }
  r.end();
  return { streamId, chunkFrames, progress, source };
}
