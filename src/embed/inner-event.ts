/**
 * Which events the inner device can raise. The relay checks each event it
 * takes from relay memory (where a restored snapshot's bytes may have put
 * anything) and each event a snapshot brings back, with this one test: an
 * event the relay forwards is always one its snapshot can hold.
 */

import type { VirtioSndDevice } from '../device/index.ts';
import {
  VIRTIO_SND_EVT_CTL_NOTIFY,
  VIRTIO_SND_EVT_JACK_CONNECTED,
  VIRTIO_SND_EVT_JACK_DISCONNECTED,
  VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED,
  VIRTIO_SND_EVT_PCM_XRUN,
} from '../snd/protocol.ts';

const EVENT_KINDS = [
  VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED,
  VIRTIO_SND_EVT_PCM_XRUN,
  VIRTIO_SND_EVT_JACK_CONNECTED,
  VIRTIO_SND_EVT_JACK_DISCONNECTED,
  VIRTIO_SND_EVT_CTL_NOTIFY,
];

/** What is wrong with event (code, data) of `inner`: an unknown code, a bad CTL_NOTIFY mask, an index beyond what exists; or null. */
export function innerEventProblem(
  inner: VirtioSndDevice,
  code: number,
  data: number,
): 'code' | 'mask' | 'index' | null {
  if (!EVENT_KINDS.includes(code)) return 'code';
  let limit = inner.streamViews.length;
  let index = data;
  if (code === VIRTIO_SND_EVT_JACK_CONNECTED || code === VIRTIO_SND_EVT_JACK_DISCONNECTED) {
    limit = inner.jacks.count;
  } else if (code === VIRTIO_SND_EVT_CTL_NOTIFY) {
    limit = inner.controls?.count ?? 0;
    index = data & 0xffff;
    if (data >>> 16 > 7) return 'mask';
  }
  return index >= limit ? 'index' : null;
}
