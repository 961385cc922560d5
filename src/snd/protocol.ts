/**
 * The virtio-snd protocol: every constant and structure of Linux
 * include/uapi/linux/virtio_snd.h (VIRTIO 1.2 sound device, 1.3 control
 * elements).
 */

export * from './constants.ts';
export * from './ctl-value.ts';
export * from './structs.ts';
