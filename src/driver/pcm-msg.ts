/**
 * PCM I/O messages, the design of Linux virtio_pcm_msg.c: the hardware
 * buffer is sliced into `periods` messages of `period_bytes` each, kept in an
 * ordered circular queue. Each message is one descriptor chain
 *   playback: [R xfer 4][R period data][W status 8]
 *   capture:  [R xfer 4][W period data][W status 8]
 * and its completion means one period elapsed.
 *
 * As in current Linux (the "ack" design), a playback message is sent once the
 * application has written its whole period, and capture messages are all
 * sent at start and re-sent as each one completes. At the end of a drain a
 * shorter playback message carries the last partial period.
 */

import { PCM_STATUS, PCM_XFER, VIRTIO_SND_PCM_F_MSG_POLLING } from '../snd/protocol.ts';
import type { Segment } from '../virtio/driver-queue.ts';
import type { GuestHeap } from '../virtio/heap.ts';
import type { VirtioPcmSubstream } from './pcm.ts';

export interface PcmMsg {
  substream: VirtioPcmSubstream;
  index: number;
  /** Byte offset of the message's period in the hardware buffer. */
  offset: number;
  /** Bytes of the period the application has written (playback). */
  filled: number;
  /** Bytes of data the message carries when sent (a full period, or less at the end of a drain). */
  length: number;
  /** Guest address of its xfer header (4 bytes) followed by its status (8 bytes). */
  hdrAddr: number;
  segments: Segment[];
  /** True while the message is in the virtqueue. */
  queued: boolean;
}

/** Slices the hardware buffer into messages (virtsnd_pcm_msg_alloc). */
export function pcmMsgAlloc(vss: VirtioPcmSubstream, heap: GuestHeap): void {
  const p = vss.params;
  if (!p) throw new Error('pcmMsgAlloc before hw params');
  const hdrs = heap.alloc(16 * p.periods, 8);
  vss.msgs = Array.from({ length: p.periods }, (_, i) => {
    const hdrAddr = hdrs + 16 * i;
    return {
      substream: vss,
      index: i,
      offset: i * p.periodBytes,
      filled: 0,
      length: p.periodBytes,
      hdrAddr,
      segments: [
        { addr: hdrAddr, len: PCM_XFER.size },
        { addr: vss.bufferAddr + i * p.periodBytes, len: p.periodBytes },
        { addr: hdrAddr + PCM_XFER.size, len: PCM_STATUS.size },
      ],
      queued: false,
    };
  });
  vss.msgLastEnqueued = -1;
  vss.msgCount = 0;
}

export function pcmMsgFree(vss: VirtioPcmSubstream, heap: GuestHeap): void {
  if (vss.msgs.length > 0) heap.release(vss.msgs[0].hdrAddr);
  vss.msgs = [];
  vss.msgCount = 0;
  vss.msgLastEnqueued = -1;
}

/**
 * Puts one message on the substream's queue (virtsnd_pcm_msg_send's loop
 * body). The queue has room: it is sized for every message of the buffer.
 */
function enqueue(vss: VirtioPcmSubstream, msg: PcmMsg): void {
  vss.mem.writeU32(msg.hdrAddr, vss.sid);
  vss.mem.fill(msg.hdrAddr + PCM_XFER.size, PCM_STATUS.size);
  msg.segments[1].len = msg.length;
  vss.queue.add(msg.segments, vss.direction === 'playback' ? 2 : 1, msg);
  msg.queued = true;
  vss.msgLastEnqueued = msg.index;
  vss.msgCount++;
}

/** Kicks unless the stream negotiated MSG_POLLING or the device asked not to be kicked. */
function kickIfWanted(vss: VirtioPcmSubstream): void {
  const polling = ((vss.params?.features ?? 0) & (1 << VIRTIO_SND_PCM_F_MSG_POLLING)) !== 0;
  if (vss.queue.kickPrepare() && !polling) vss.kick();
}

/**
 * Playback: the application wrote `bytes` at buffer offset `offset`; every
 * message whose period is now complete is sent (virtsnd_pcm_msg_send).
 */
export function pcmMsgSendWritten(vss: VirtioPcmSubstream, offset: number, bytes: number): void {
  const p = vss.params!;
  let sent = false;
  while (bytes > 0) {
    const msg = vss.msgs[Math.floor(offset / p.periodBytes) % p.periods];
    const n = Math.min(bytes, p.periodBytes - (offset % p.periodBytes));
    msg.filled += n;
    if (msg.filled === p.periodBytes && !msg.queued) {
      msg.length = p.periodBytes;
      enqueue(vss, msg);
      sent = true;
      vss.sentFrames += p.periodFrames;
    }
    offset = (offset + n) % p.bufferBytes;
    bytes -= n;
  }
  if (sent) kickIfWanted(vss);
}

/**
 * Playback drain: sends the partially written period, if any, as a shorter
 * message so the stream ends exactly at the last written frame.
 */
export function pcmMsgSendTail(vss: VirtioPcmSubstream): boolean {
  const p = vss.params!;
  const msg =
    vss.msgs[Math.floor(((vss.sentFrames % p.bufferFrames) * p.frameBytes) / p.periodBytes)];
  if (!msg || msg.queued || msg.filled === 0) return false;
  msg.length = msg.filled;
  enqueue(vss, msg);
  vss.sentFrames += msg.filled / p.frameBytes;
  kickIfWanted(vss);
  return true;
}

/** Capture: sends every message not in the queue, in ring order after the last one sent. */
export function pcmMsgSendAll(vss: VirtioPcmSubstream): void {
  const n = vss.msgs.length;
  // enqueue() moves msgLastEnqueued: walk the ring from where it stood on entry.
  const first = vss.msgLastEnqueued + 1;
  let sent = false;
  for (let k = 0; k < n; k++) {
    const msg = vss.msgs[(first + k) % n];
    if (msg.queued) continue;
    msg.length = vss.params!.periodBytes;
    enqueue(vss, msg);
    sent = true;
  }
  if (sent) kickIfWanted(vss);
}

export interface MsgCompletion {
  /** Frames the hardware pointer advanced. */
  frames: number;
  status: number;
  latencyBytes: number;
}

/**
 * The device returned `msg` with `len` bytes written (virtsnd_pcm_msg_complete):
 * hw_ptr advances by the message (capture: by the bytes captured), the
 * message leaves the queue and, for playback, becomes free for new data.
 * Fills and returns `out`, a record the caller reuses (no garbage per period).
 */
export function pcmMsgComplete(
  vss: VirtioPcmSubstream,
  msg: PcmMsg,
  len: number,
  out: MsgCompletion,
): MsgCompletion {
  const p = vss.params!;
  const statusAddr = msg.hdrAddr + PCM_XFER.size;
  const status = vss.mem.readU32(statusAddr);
  const latencyBytes = vss.mem.readU32(statusAddr + 4);
  let bytes = msg.length;
  // Capture: the data actually written; a reply too short to hold a status counts as a full period.
  if (vss.direction === 'capture' && len > PCM_STATUS.size) {
    bytes = Math.min(len - PCM_STATUS.size, msg.length);
  }
  const frames = Math.floor(bytes / p.frameBytes);
  msg.queued = false;
  msg.filled = 0;
  vss.msgCount--;
  vss.hwPtr += frames;
  vss.xferXrun = false;
  vss.latencyBytes = latencyBytes;
  vss.queuedAtCompletion = vss.sentFrames - vss.hwPtr;
  out.frames = frames;
  out.status = status;
  out.latencyBytes = latencyBytes;
  return out;
}
