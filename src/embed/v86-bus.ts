/**
 * The EmulatorBus of the v86 x86 emulator (npm v86 0.5.462, pinned in
 * package.json). It reaches into emulator.v86.cpu, which is not a documented
 * API: this file is the only place that does, so another v86 version means
 * changing only it.
 *
 * The interrupt line never changes inside an MMIO access. v86's PIC delivers
 * an interrupt the moment it is raised (pic_set_irq -> handle_irqs), and an
 * MMIO access runs in the middle of an instruction, in the middle of a block
 * of JIT-compiled code: an interrupt taken there resumes at a stale address
 * and corrupts the guest (control requests time out, IRQ 5 stops arriving,
 * kernel oopses). The relay answers control requests inside the guest's
 * QueueNotify write, so that is where it raises the line; the change waits
 * for the access to end and is made at the next safe point: when v86's
 * main loop returns (a microtask) or at its next hardware-timer tick,
 * between blocks, whichever comes first. A lower then a raise in one access
 * still gives the PIC (edge-triggered) its rising edge.
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
  // Interrupt line changes made during an MMIO access, made later (see above).
  let inAccess = 0;
  let deferred = false;
  let deferredLevel = false;
  let deferredLowered = false;
  const drive = (level: boolean) => {
    if (level) cpu.device_raise_irq(irq);
    else cpu.device_lower_irq(irq);
  };
  const applyDeferred = () => {
    if (!deferred) return;
    deferred = false;
    // A lower and a raise in one access: both, so the edge-triggered PIC sees an edge.
    if (deferredLowered && deferredLevel) drive(false);
    drive(deferredLevel);
  };
  const access = <T>(f: () => T): T => {
    inAccess++;
    try {
      return f();
    } finally {
      inAccess--;
    }
  };
  // v86's wasm calls cpu.run_hardware_timers through a closure that looks the method up
  // on each call, so wrapping it on the instance hooks the emulator's own loop.
  const hook = () => {
    if (hooked) return;
    hooked = true;
    const timers = cpu.run_hardware_timers.bind(cpu);
    cpu.run_hardware_timers = (acpiEnabled: boolean, now: number) => {
      applyDeferred();
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
          return inside(o, 1) ? access(() => h.read(o, 1)) & 0xff : 0;
        },
        (addr, value) => {
          const o = off(addr);
          if (inside(o, 1)) access(() => h.write(o, value & 0xff, 1));
        },
        (addr) => {
          const o = off(addr);
          return inside(o, 4) ? access(() => h.read(o, 4)) | 0 : 0;
        },
        (addr, value) => {
          const o = off(addr);
          if (inside(o, 4)) access(() => h.write(o, value >>> 0, 4));
        },
      );
    },
    setIrq(level: boolean) {
      if (inAccess === 0) {
        applyDeferred();
        drive(level);
        return;
      }
      if (!deferred) {
        deferred = true;
        deferredLowered = false;
        queueMicrotask(applyDeferred);
        hook(); // the next hardware-timer tick applies it too, if that comes first
      }
      if (!level) deferredLowered = true;
      deferredLevel = level;
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
