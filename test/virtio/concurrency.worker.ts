/**
 * The driver half of the concurrency test: adds `total` chains carrying a
 * sequence number, collects them back and checks each one came back once, in
 * order, with the device's answer in its writable part.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DriverQueue, type QueueLayout } from '../../src/virtio/driver-queue.ts';
import { GuestMemory } from '../../src/virtio/memory.ts';

interface Data {
  memory: SharedArrayBuffer;
  control: SharedArrayBuffer;
  layout: QueueLayout;
  bufBase: number;
  total: number;
}

const { memory, control, layout, bufBase, total } = (workerData as { data: Data }).data;
const mem = new GuestMemory(memory);
const ctl = new Int32Array(control);
const q = new DriverQueue<number>(mem, layout, { index: 0 });
// One 16-byte slot per descriptor head: [seq (R) | answer (W)].
const segs = Array.from({ length: layout.size }, (_, i) => [
  { addr: bufBase + 16 * i, len: 8 },
  { addr: bufBase + 16 * i + 8, len: 8 },
]);
const slotOfSeq = new Int32Array(layout.size);

let sent = 0;
let received = 0;
let error = '';
let lastDoorbell = 0;
while (received < total && !error) {
  let added = 0;
  while (sent < total && q.numFree >= 2) {
    // Pick the slot by what the free list hands out next: try slot (sent % size).
    const slot = sent % layout.size;
    mem.view.setUint32(segs[slot][0].addr, sent, true);
    mem.view.setUint32(segs[slot][1].addr, 0, true);
    q.add(segs[slot], 1, sent);
    slotOfSeq[slot] = sent;
    sent++;
    added++;
  }
  if (added) {
    Atomics.add(ctl, 1, 1);
    Atomics.notify(ctl, 1);
  }
  let got = 0;
  for (;;) {
    const seq = q.getBuf();
    if (seq === undefined) break;
    got++;
    if (seq !== received) error = `out of order: got ${seq}, expected ${received}`;
    const answer = mem.view.getUint32(segs[seq % layout.size][1].addr, true);
    if (answer !== (seq ^ 0x5a5a5a5a) >>> 0) error = `bad answer for ${seq}: ${answer}`;
    if (q.lastLen !== 4) error = `bad used length ${q.lastLen}`;
    received++;
  }
  if (!got && received < total) {
    Atomics.wait(ctl, 0, lastDoorbell, 5);
    lastDoorbell = Atomics.load(ctl, 0);
  }
}
Atomics.store(ctl, 2, 1);
Atomics.notify(ctl, 1);
parentPort?.postMessage({ sent, received, error });
