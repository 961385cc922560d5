import { describe, expect, it } from 'vitest';
import { ChainError, DescriptorChain } from '../../src/virtio/chain.ts';
import { DeviceQueue, POP_EMPTY, QUEUE_STATE_WORDS } from '../../src/virtio/device-queue.ts';
import { allocateQueue } from '../../src/virtio/driver-queue.ts';
import { GuestHeap } from '../../src/virtio/heap.ts';
import { GuestMemory } from '../../src/virtio/memory.ts';
import { startTsWorker } from '../helpers/ts-worker.ts';

const TOTAL = 1_000_000;

describe('driver and device on two threads over one SharedArrayBuffer', () => {
  it(`moves ${TOTAL} buffers with no loss, duplication or reordering`, async () => {
    const memory = new SharedArrayBuffer(1 << 20);
    const mem = new GuestMemory(memory);
    const alloc = new GuestHeap(0, mem.size);
    const layout = allocateQueue(alloc, 256);
    const bufBase = alloc.alloc(16 * 256);
    const control = new SharedArrayBuffer(16);
    const ctl = new Int32Array(control);
    const dev = new DeviceQueue(mem, new Uint32Array(QUEUE_STATE_WORDS), 0);
    expect(dev.configure(layout, { eventIdx: false, indirect: false })).toBe(ChainError.None);
    const chain = new DescriptorChain(256);

    const worker = startTsWorker(new URL('./concurrency.worker.ts', import.meta.url), {
      memory,
      control,
      layout,
      bufBase,
      total: TOTAL,
    });
    const result = new Promise<{ sent: number; received: number; error: string }>((res, rej) => {
      worker.once('message', res);
      worker.once('error', rej);
    });

    // Device side: runs here, on the test's thread, until the driver is done.
    const seen = new Uint8Array(TOTAL);
    let popped = 0;
    let deviceError = '';
    let doorbell = 0;
    while (Atomics.load(ctl, 2) === 0) {
      let n = 0;
      for (;;) {
        const r = dev.pop(chain);
        if (r === POP_EMPTY) break;
        if (r !== ChainError.None) {
          deviceError = `pop error ${r}`;
          break;
        }
        const seq = mem.view.getUint32(chain.readAddr[0], true);
        if (seq >= TOTAL || seen[seq]) deviceError ||= `duplicate or bogus seq ${seq}`;
        else seen[seq] = 1;
        mem.view.setUint32(chain.writeAddr[0], (seq ^ 0x5a5a5a5a) >>> 0, true);
        dev.pushUsed(chain.head, 4);
        popped++;
        n++;
      }
      if (n) {
        Atomics.add(ctl, 0, 1);
        Atomics.notify(ctl, 0);
      } else {
        Atomics.wait(ctl, 1, doorbell, 5);
        doorbell = Atomics.load(ctl, 1);
      }
      if (deviceError) break;
    }
    const r = await result;
    await worker.terminate();
    expect(deviceError).toBe('');
    expect(r.error).toBe('');
    expect(popped).toBe(TOTAL);
    expect(r.received).toBe(TOTAL);
    expect(seen.every((v) => v === 1)).toBe(true);
  });
});
