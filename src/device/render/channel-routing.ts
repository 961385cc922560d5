/**
 * Which stream channel feeds the left and right output (playback), and which
 * input feeds each stream channel (capture), by channel position. Computed at
 * PREPARE time, never per quantum.
 */

import {
  VIRTIO_SND_CHMAP_FC,
  VIRTIO_SND_CHMAP_FL,
  VIRTIO_SND_CHMAP_FR,
  VIRTIO_SND_CHMAP_MONO,
  VIRTIO_SND_CHMAP_NONE,
} from '../../snd/protocol.ts';

/** Positions assumed when no channel map matches: mono, or FL FR then the rest undefined. */
export function defaultPositions(channels: number): number[] {
  if (channels === 1) return [VIRTIO_SND_CHMAP_MONO];
  return Array.from({ length: channels }, (_, i) =>
    i === 0 ? VIRTIO_SND_CHMAP_FL : i === 1 ? VIRTIO_SND_CHMAP_FR : VIRTIO_SND_CHMAP_NONE,
  );
}

/**
 * Playback: the stream channel for the left and right output. Mono (or a lone
 * centre) goes to both sides; channels with other positions are dropped.
 */
export function playbackRoute(positions: readonly number[]): [left: number, right: number] {
  const find = (p: number) => positions.indexOf(p);
  let left = find(VIRTIO_SND_CHMAP_FL);
  let right = find(VIRTIO_SND_CHMAP_FR);
  const centre = [VIRTIO_SND_CHMAP_MONO, VIRTIO_SND_CHMAP_FC].map(find).find((i) => i >= 0) ?? -1;
  if (left < 0) left = right >= 0 ? right : centre;
  if (right < 0) right = left;
  if (left < 0) return [0, Math.min(1, positions.length - 1)];
  return [left, right];
}

/** Capture: per stream channel, 0 = left input, 1 = right input, 2 = the mean of both. */
export function captureRoute(positions: readonly number[]): number[] {
  return positions.map((p) => {
    if (p === VIRTIO_SND_CHMAP_FL) return 0;
    if (p === VIRTIO_SND_CHMAP_FR) return 1;
    return 2;
  });
}

/**
 * The channel placement of one stream for every channel count it may be set
 * to (1..8), computed once when the renderer is built so that taking new
 * parameters in the audio thread allocates nothing.
 */
export class ChannelPositions {
  private readonly positions: number[][] = [];
  private readonly playback: [number, number][] = [];
  private readonly capture: number[][] = [];

  constructor(
    chmaps: readonly { direction: string; hdaFnNid: number; positions: readonly number[] }[],
    direction: string,
    hdaFnNid: number,
    maxChannels = 8,
  ) {
    for (let c = 1; c <= maxChannels; c++) {
      const map = chmaps.find(
        (m) => m.direction === direction && m.hdaFnNid === hdaFnNid && m.positions.length === c,
      );
      const pos = map ? [...map.positions] : defaultPositions(c);
      this.positions[c] = pos;
      this.playback[c] = playbackRoute(pos);
      this.capture[c] = captureRoute(pos);
    }
  }

  get(channels: number): readonly number[] {
    return this.positions[channels] ?? this.positions[1];
  }

  /** [left, right] source channels for a playback stream of `channels` channels. */
  playbackRoute(channels: number): readonly [number, number] {
    return this.playback[channels] ?? this.playback[1];
  }

  /** Per stream channel: 0 left input, 1 right input, 2 mean of both. */
  captureRoute(channels: number): readonly number[] {
    return this.capture[channels] ?? this.capture[1];
  }
}
