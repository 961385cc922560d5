/**
 * Attaching the device to an emulator: implement EmulatorBus (map an MMIO
 * window, drive an IRQ line, expose guest RAM) and call attachVirtioSnd().
 * v86Bus is the bus of the v86 x86 emulator.
 */

export { type AttachedSound, type AttachOptions, attachVirtioSnd } from './attach.ts';
export { prepareAttachedRestore, saveAttached } from './attach-snapshot.ts';
export type { EmulatorBus, MmioHandlers } from './emulator.ts';
export { RelayDevice, type RelayOptions, type RelayStats } from './relay-device.ts';
export type { PreparedRelayRestore } from './relay-snapshot.ts';
export {
  DEFAULT_TX_LEAD_MS,
  FRESH_TO_TRUST,
  type TxHoldbackPolicy,
  type TxMode,
} from './tx-holdback.ts';
export { type V86Cpu, type V86Like, v86Bus } from './v86-bus.ts';
