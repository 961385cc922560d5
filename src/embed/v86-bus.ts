/**
 * The EmulatorBus of the v86 x86 emulator (npm v86 0.5.462, pinned in
 * package.json). It reaches into emulator.v86.cpu, which is not a documented
 * API: this file is the only place that does, so another v86 version means
 * changing only it.
 */

import { GuestMemory } from '../virtio/memory.ts';
import type { EmulatorBus, MmioHandlers } from './emulator.ts';

/** The parts of v86's CPU object the bus uses. */
export interface V86Cpu {
  io: {
    mmap_register(
      addr: number,
      size: number,
      read8: (addr: number) => number,
      write8: (addr: number, value: number) => void,
      read32?: (addr: number) => number,
      write32?: (addr: number, value: number) => void,
    ): void;
  };
  device_raise_irq(irq: number): void;
  device_lower_irq(irq: number): void;
  /** Guest RAM: a view into the WebAssembly memory (replaced when that memory grows). */
  mem8: Uint8Array;
  /**
   * Called by v86's main loop after every batch of instructions (and when the
   * guest halts) to run the PIT, RTC, ACPI and APIC timers; `now` in ms.
   */
  run_hardware_timers(acpiEnabled: boolean, now: number): number;
}

export interface V86Like {
  v86: { cpu: V86Cpu };
}

/** v86 maps MMIO in 128 KiB units. */
const MMAP_UNIT = 1 << 17;
/** The tick callbacks run at most this often (ms of v86's clock): a poll is cheap, not free. */
const TICK_MS = 0.25;

export function v86Bus(emulator: V86Like, irq: number): EmulatorBus {
  const cpu = emulator.v86.cpu;
  let cached: GuestMemory | null = null;
  const ticks = new Set<() => void>();
  let lastTick = Number.NEGATIVE_INFINITY;
  let hooked = false;
  // v86's wasm calls cpu.run_hardware_timers through a closure that looks the method up
  // on each call, so wrapping it on the instance hooks the emulator's own loop.
  const hook = () => {
    if (hooked) return;
    hooked = true;
    const timers = cpu.run_hardware_timers.bind(cpu);
    cpu.run_hardware_timers = (acpiEnabled: boolean, now: number) => {
      const next = timers(acpiEnabled, now);
      if (now - lastTick >= TICK_MS) {
        lastTick = now;
        for (const t of ticks) t();
      }
      return next;
    };
  };
  return {
    mapMmio(base: number, size: number, h: MmioHandlers) {
      const start = Math.floor(base / MMAP_UNIT) * MMAP_UNIT;
      const span = Math.ceil((base + size - start) / MMAP_UNIT) * MMAP_UNIT;
      // v86 hands addresses as signed 32-bit numbers.
      const off = (addr: number) => (addr >>> 0) - base;
      const inside = (o: number, n: number) => o >= 0 && o + n <= size;
      cpu.io.mmap_register(
        start,
        span,
        (addr) => {
          const o = off(addr);
          return inside(o, 1) ? h.read(o, 1) & 0xff : 0;
        },
        (addr, value) => {
          const o = off(addr);
          if (inside(o, 1)) h.write(o, value & 0xff, 1);
        },
        (addr) => {
          const o = off(addr);
          return inside(o, 4) ? h.read(o, 4) | 0 : 0;
        },
        (addr, value) => {
          const o = off(addr);
          if (inside(o, 4)) h.write(o, value >>> 0, 4);
        },
      );
    },
    setIrq(level: boolean) {
      if (level) cpu.device_raise_irq(irq);
      else cpu.device_lower_irq(irq);
    },
    onTick(callback: () => void) {
      hook();
      ticks.add(callback);
      return () => ticks.delete(callback);
    },
    guestMemory() {
      const m = cpu.mem8;
      if (!cached || cached.buffer !== m.buffer || cached.size !== m.byteLength) {
        cached = new GuestMemory(m.buffer, m.byteOffset, m.byteLength);
      }
      return cached;
    },
  };
}
