import * as P from '../../src/snd/protocol.ts';

/** The channel positions the default channel maps use, by their short names. */
export const CHMAP = {
  MONO: P.VIRTIO_SND_CHMAP_MONO,
  FL: P.VIRTIO_SND_CHMAP_FL,
  FR: P.VIRTIO_SND_CHMAP_FR,
  RL: P.VIRTIO_SND_CHMAP_RL,
  RR: P.VIRTIO_SND_CHMAP_RR,
  FC: P.VIRTIO_SND_CHMAP_FC,
  LFE: P.VIRTIO_SND_CHMAP_LFE,
  SL: P.VIRTIO_SND_CHMAP_SL,
  SR: P.VIRTIO_SND_CHMAP_SR,
} as const;
