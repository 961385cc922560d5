/**
 * The guest driver, a port of the design of Linux sound/virtio: it speaks to
 * any virtio-mmio register interface and offers an ALSA-like PCM API.
 */

export { SnapshotError, type SnapshotErrorReason } from '../snapshot/snapshot-format.ts';
export { type CardConfig, type DriverOptions, VirtioSndDriver } from './card.ts';
export type { Chmap } from './chmap.ts';
export type { CardControl, ControlSet, ControlType } from './controls.ts';
export * from './errors.ts';
export type { Jack, JackSet } from './jack.ts';
export type { DeviceStreamState, PcmDirection, PcmHwInfo, PcmParams, PcmState } from './pcm.ts';
export { type HwParams, PcmStream, type PeriodEvent } from './pcm-ops.ts';
