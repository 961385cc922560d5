/**
 * The event backlog in a device snapshot ('EVTQ'): the events waiting for a
 * guest buffer (queued one by one, then counted per stream and kind), the
 * delivery counters, and what the renderer's event ring holds not yet
 * drained. Reading checks every event is one the device could raise, for a
 * jack, stream or control that exists.
 */

import {
  SnapshotError,
  type SnapshotReader,
  type SnapshotWriter,
} from '../../snapshot/snapshot-format.ts';
import {
  VIRTIO_SND_EVT_CTL_NOTIFY,
  VIRTIO_SND_EVT_JACK_CONNECTED,
  VIRTIO_SND_EVT_JACK_DISCONNECTED,
  VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED,
  VIRTIO_SND_EVT_PCM_XRUN,
} from '../../snd/protocol.ts';
import { EVENT_RING_ENTRIES } from '../shared/layout.ts';
import { BACKLOG_CAP, type EventQueueState } from './event-queue.ts';
import { MAX_COUNTED_EVENTS } from './snapshot-streams.ts';

/** Host-raised events waiting beyond the PCM backlog cap that a snapshot may hold. */
const MAX_PENDING_EVENTS = BACKLOG_CAP + 65536;

export function writeEvents(
  w: SnapshotWriter,
  e: EventQueueState,
  ring: readonly [number, number][],
): void {
  w.u32(e.delivered).u32(e.rejected).u32(e.pending.length);
  for (const [code, data] of e.pending) w.u32(code).u32(data);
  w.u32(e.counted.length);
  for (const [code, data, n] of e.counted) w.u32(code).u32(data).u32(n);
  w.u32(ring.length);
  for (const [code, data] of ring) w.u32(code).u32(data);
}

export function readEvents(
  r: SnapshotReader,
  p: { streams: { length: number }; jacks: { count: number }; controls: { count: number } | null },
): { events: EventQueueState; ring: [number, number][] } {
  const delivered = r.u32();
  const rejected = r.u32();
  /** A (code, data) pair the device could have raised; PCM events only where only they go. */
  const event = (code: number, data: number, pcmOnly: boolean): [number, number] => {
    let limit: number;
    let index = data;
    if (code === VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED || code === VIRTIO_SND_EVT_PCM_XRUN) {
      limit = p.streams.length;
    } else if (
      !pcmOnly &&
      (code === VIRTIO_SND_EVT_JACK_CONNECTED || code === VIRTIO_SND_EVT_JACK_DISCONNECTED)
    ) {
      limit = p.jacks.count;
    } else if (!pcmOnly && code === VIRTIO_SND_EVT_CTL_NOTIFY && p.controls) {
      // le16 control id, le16 mask of VIRTIO_SND_CTL_EVT_MASK_* (3 bits defined).
      if (data >>> 16 > 7) throw r.invalid(`CTL_NOTIFY mask ${data >>> 16}`);
      limit = p.controls.count;
      index = data & 0xffff;
    } else {
      throw r.invalid(`event code 0x${code.toString(16)}`);
    }
    if (index >= limit) {
      throw new SnapshotError(
        'index-out-of-range',
        `event 0x${code.toString(16)} for ${index} (of ${limit})`,
      );
    }
    return [code, data];
  };
  const np = r.count(MAX_PENDING_EVENTS, 'pending events', 8);
  const pending: [number, number][] = [];
  for (let i = 0; i < np; i++) pending.push(event(r.u32(), r.u32(), false));
  const nc = r.count(2 * p.streams.length, 'counted event kinds', 12);
  const counted: [number, number, number][] = [];
  const keys = new Set<string>();
  for (let i = 0; i < nc; i++) {
    const [code, data] = event(r.u32(), r.u32(), true);
    const n = r.u32();
    if (n === 0 || n > MAX_COUNTED_EVENTS)
      throw new SnapshotError('count-out-of-range', `${n} counted events`);
    if (keys.has(`${code}:${data}`)) throw r.invalid('an event kind counted twice');
    keys.add(`${code}:${data}`);
    counted.push([code, data, n]);
  }
  const nr = r.count(EVENT_RING_ENTRIES, 'event ring entries', 8);
  const ring: [number, number][] = [];
  for (let i = 0; i < nr; i++) ring.push(event(r.u32(), r.u32(), true));
  r.end();
  return { events: { pending, counted, delivered, rejected }, ring };
}
