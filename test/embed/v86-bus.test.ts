/**
 * The v86 bus without v86: MMIO routing, the IRQ line, guest RAM that
 * follows a grown WebAssembly memory, and the tick hook on v86's
 * hardware-timer loop that lets the relay poll from the emulator itself.
 */
import { describe, expect, it } from 'vitest';
import { attachVirtioSnd } from '../../src/embed/attach.ts';
import { type V86Cpu, v86Bus } from '../../src/embed/v86-bus.ts';
import { MMIO, VIRTIO_MMIO_MAGIC } from '../../src/virtio/mmio.ts';

function fakeCpu() {
  const maps: {
    addr: number;
    size: number;
    r32?: (a: number) => number;
    w32?: (a: number, v: number) => void;
  }[] = [];
  const irqs: string[] = [];
  let timerCalls = 0;
  const cpu: V86Cpu = {
    io: {
      mmap_register(addr, size, _r8, _w8, r32, w32) {
        maps.push({ addr, size, r32, w32 });
      },
    },
    device_raise_irq: (n) => irqs.push(`+${n}`),
    device_lower_irq: (n) => irqs.push(`-${n}`),
    mem8: new Uint8Array(new ArrayBuffer(1 << 20)),
    run_hardware_timers(_acpi: boolean, now: number): number {
      timerCalls++;
      return 100 - (now % 7);
    },
  };
  return { cpu, maps, irqs, timers: () => timerCalls };
}

describe('v86Bus', () => {
  it('never changes the interrupt line inside an MMIO access: after it, at a safe point', async () => {
    const f = fakeCpu();
    const bus = v86Bus({ v86: { cpu: f.cpu } }, 5);
    const during: string[][] = [];
    bus.mapMmio(0xfe000000, 0x1000, {
      read: () => 0,
      write: (o) => {
        if (o === 0x50) bus.setIrq(true); // the relay answers inside the guest's QueueNotify
        if (o === 0x64) {
          bus.setIrq(false); // InterruptACK...
          bus.setIrq(true); // ...and new news before the access ends
        }
        during.push([...f.irqs]);
      },
    });
    const w32 = f.maps[0].w32!;
    w32((0xfe000000 + 0x50) | 0, 0);
    expect(during[0]).toEqual([]); // nothing inside the access
    await Promise.resolve(); // v86's main loop returned: the microtask raises it
    expect(f.irqs).toEqual(['+5']);
    w32((0xfe000000 + 0x64) | 0, 1);
    expect(f.irqs).toEqual(['+5']);
    f.cpu.run_hardware_timers(false, 100); // or the next tick, if it comes first
    expect(f.irqs).toEqual(['+5', '-5', '+5']); // a lower and a raise: the PIC sees an edge
    await Promise.resolve();
    expect(f.irqs).toEqual(['+5', '-5', '+5']); // once
    bus.setIrq(false); // outside an access: at once
    expect(f.irqs).toEqual(['+5', '-5', '+5', '-5']);
  });

  it("calls tick callbacks from v86's timer loop, at most every 0.25 ms, passing its result on", () => {
    const f = fakeCpu();
    const bus = v86Bus({ v86: { cpu: f.cpu } }, 5);
    let ticks = 0;
    const stop = bus.onTick!(() => ticks++);
    const results: number[] = [];
    for (let i = 0; i < 100; i++) results.push(f.cpu.run_hardware_timers(false, i / 10));
    expect(f.timers()).toBe(100); // the original ran every time
    expect(results[3]).toBe(100 - (0.3 % 7));
    expect(ticks).toBeGreaterThanOrEqual(33);
    expect(ticks).toBeLessThanOrEqual(41);
    stop();
    const before = ticks;
    for (let now = 10; now < 20; now += 1) f.cpu.run_hardware_timers(false, now);
    expect(ticks).toBe(before);
  });

  it('maps the MMIO window in 128 KiB units with offsets relative to the base', () => {
    const f = fakeCpu();
    const bus = v86Bus({ v86: { cpu: f.cpu } }, 5);
    const sound = attachVirtioSnd(bus, { base: 0xfe000000, sampleRate: 48000, autoService: false });
    expect(f.maps).toHaveLength(1);
    expect(f.maps[0].addr >>> 0).toBe(0xfe000000);
    expect(f.maps[0].size).toBe(1 << 17);
    // v86 passes addresses as signed 32-bit numbers.
    expect(f.maps[0].r32!((0xfe000000 + MMIO.MagicValue) | 0) >>> 0).toBe(VIRTIO_MMIO_MAGIC);
    expect(f.maps[0].r32!((0xfe000000 + 0x2000) | 0)).toBe(0); // outside the 4 KiB window
    sound.stop();
  });

  it('attachVirtioSnd polls the relay on every tick and stops with stop()', () => {
    const f = fakeCpu();
    const bus = v86Bus({ v86: { cpu: f.cpu } }, 5);
    const sound = attachVirtioSnd(bus, { base: 0xfe000000, sampleRate: 48000, autoService: false });
    let polls = 0;
    const poll = sound.device.poll.bind(sound.device);
    sound.device.poll = () => {
      polls++;
      poll();
    };
    for (let now = 0; now < 5; now += 0.5) f.cpu.run_hardware_timers(false, now);
    expect(polls).toBe(10);
    sound.stop();
    for (let now = 5; now < 10; now += 0.5) f.cpu.run_hardware_timers(false, now);
    expect(polls).toBe(10);
  });
});
