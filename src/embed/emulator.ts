/**
 * What an emulator must offer to host a virtio-mmio device: a window of
 * MMIO space, an interrupt line, and its guest RAM. v86 is the first
 * implementation (v86-bus.ts); a RISC-V machine in the JSLinux style, or
 * CheerpX, would implement the same three things.
 */

import type { GuestMemory } from '../virtio/memory.ts';

export interface MmioHandlers {
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, value: number, size: 1 | 2 | 4): void;
}

export interface EmulatorBus {
  /** Routes guest accesses to [base, base + size) to `handlers` (offsets relative to base). */
  mapMmio(base: number, size: number, handlers: MmioHandlers): void;
  /** Drives the device's interrupt line (level-triggered). */
  setIrq(level: boolean): void;
  /** The guest's RAM as it is now; an emulator may replace its buffer over time. */
  guestMemory(): GuestMemory;
  /**
   * Optional: calls `callback` often while the guest runs (between batches of
   * instructions), and returns a function that stops it. The relay then takes
   * the guest's new messages as soon as the guest has made them, instead of
   * waiting for a timer (which browsers clamp to 4 ms). v86: its hardware-timer
   * hook.
   */
  onTick?(callback: () => void): () => void;
}
