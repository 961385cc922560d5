import { DescriptorChain } from '../../src/virtio/chain.ts';
import { DeviceQueue, QUEUE_STATE_WORDS } from '../../src/virtio/device-queue.ts';
import { allocateQueue, DriverQueue, type QueueLayout } from '../../src/virtio/driver-queue.ts';
import { GuestHeap } from '../../src/virtio/heap.ts';
import { GuestMemory } from '../../src/virtio/memory.ts';
import { AVAIL_IDX, AVAIL_RING, DESC_SIZE } from '../../src/virtio/ring.ts';

export interface QueuePair {
  mem: GuestMemory;
  alloc: GuestHeap;
  layout: QueueLayout;
  drv: DriverQueue<number>;
  dev: DeviceQueue;
  chain: DescriptorChain;
}

/** A driver queue and a device queue over the same rings in fresh guest memory. */
export function queuePair(
  size: number,
  opts: { eventIdx?: boolean; indirect?: boolean; memBytes?: number } = {},
): QueuePair {
  const mem = new GuestMemory(new SharedArrayBuffer(opts.memBytes ?? 1 << 20));
  const alloc = new GuestHeap(0, mem.size);
  const layout = allocateQueue(alloc, size);
  const drv = new DriverQueue<number>(mem, layout, { eventIdx: !!opts.eventIdx });
  const dev = new DeviceQueue(mem, new Uint32Array(QUEUE_STATE_WORDS), 0);
  dev.configure(layout, { eventIdx: !!opts.eventIdx, indirect: !!opts.indirect });
  return { mem, alloc, layout, drv, dev, chain: new DescriptorChain(size) };
}

/** Writes raw descriptor `i` of a table at `table`, as a hostile guest could. */
export function writeDesc(
  mem: GuestMemory,
  table: number,
  i: number,
  addr: bigint | number,
  len: number,
  flags: number,
  next: number,
): void {
  const d = table + i * DESC_SIZE;
  mem.writeU64(d, BigInt(addr));
  mem.writeU32(d + 8, len);
  mem.writeU16(d + 12, flags);
  mem.writeU16(d + 14, next);
}

/** Publishes `head` on the available ring without the driver-side bookkeeping. */
export function publishRaw(mem: GuestMemory, layout: QueueLayout, head: number): void {
  const idx = mem.readU16(layout.availAddr + AVAIL_IDX);
  mem.writeU16(layout.availAddr + AVAIL_RING + 2 * (idx % layout.size), head);
  mem.storeU16(layout.availAddr + AVAIL_IDX, (idx + 1) & 0xffff);
}
