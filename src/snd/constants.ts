/**
 * Every constant of the virtio-snd protocol (VIRTIO 1.2 section 5.14, the 1.3
 * control elements, and the two 1.4-draft rates), named as in Linux
 * include/uapi/linux/virtio_snd.h.
 */

export const VIRTIO_ID_SOUND = 25;

/** Device feature bits. */
export const VIRTIO_SND_F_CTLS = 0;

/** Virtqueue indices. */
export const VIRTIO_SND_VQ_CONTROL = 0;
export const VIRTIO_SND_VQ_EVENT = 1;
export const VIRTIO_SND_VQ_TX = 2;
export const VIRTIO_SND_VQ_RX = 3;
export const VIRTIO_SND_VQ_MAX = 4;

/** Data flow directions. */
export const VIRTIO_SND_D_OUTPUT = 0;
export const VIRTIO_SND_D_INPUT = 1;

/** Jack control request types. */
export const VIRTIO_SND_R_JACK_INFO = 0x0001;
export const VIRTIO_SND_R_JACK_REMAP = 0x0002;
/** PCM control request types. */
export const VIRTIO_SND_R_PCM_INFO = 0x0100;
export const VIRTIO_SND_R_PCM_SET_PARAMS = 0x0101;
export const VIRTIO_SND_R_PCM_PREPARE = 0x0102;
export const VIRTIO_SND_R_PCM_RELEASE = 0x0103;
export const VIRTIO_SND_R_PCM_START = 0x0104;
export const VIRTIO_SND_R_PCM_STOP = 0x0105;
/** Channel map control request types. */
export const VIRTIO_SND_R_CHMAP_INFO = 0x0200;
/** Control element request types (VIRTIO 1.3). */
export const VIRTIO_SND_R_CTL_INFO = 0x0300;
export const VIRTIO_SND_R_CTL_ENUM_ITEMS = 0x0301;
export const VIRTIO_SND_R_CTL_READ = 0x0302;
export const VIRTIO_SND_R_CTL_WRITE = 0x0303;
export const VIRTIO_SND_R_CTL_TLV_READ = 0x0304;
export const VIRTIO_SND_R_CTL_TLV_WRITE = 0x0305;
export const VIRTIO_SND_R_CTL_TLV_COMMAND = 0x0306;

/** Event types. */
export const VIRTIO_SND_EVT_JACK_CONNECTED = 0x1000;
export const VIRTIO_SND_EVT_JACK_DISCONNECTED = 0x1001;
export const VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED = 0x1100;
export const VIRTIO_SND_EVT_PCM_XRUN = 0x1101;
export const VIRTIO_SND_EVT_CTL_NOTIFY = 0x1200;

/** Status codes. */
export const VIRTIO_SND_S_OK = 0x8000;
export const VIRTIO_SND_S_BAD_MSG = 0x8001;
export const VIRTIO_SND_S_NOT_SUPP = 0x8002;
export const VIRTIO_SND_S_IO_ERR = 0x8003;

/** Jack feature bits. */
export const VIRTIO_SND_JACK_F_REMAP = 0;

/** PCM stream feature bits. */
export const VIRTIO_SND_PCM_F_SHMEM_HOST = 0;
export const VIRTIO_SND_PCM_F_SHMEM_GUEST = 1;
export const VIRTIO_SND_PCM_F_MSG_POLLING = 2;
export const VIRTIO_SND_PCM_F_EVT_SHMEM_PERIODS = 3;
export const VIRTIO_SND_PCM_F_EVT_XRUNS = 4;

/** PCM sample formats. */
export const VIRTIO_SND_PCM_FMT_IMA_ADPCM = 0;
export const VIRTIO_SND_PCM_FMT_MU_LAW = 1;
export const VIRTIO_SND_PCM_FMT_A_LAW = 2;
export const VIRTIO_SND_PCM_FMT_S8 = 3;
export const VIRTIO_SND_PCM_FMT_U8 = 4;
export const VIRTIO_SND_PCM_FMT_S16 = 5;
export const VIRTIO_SND_PCM_FMT_U16 = 6;
export const VIRTIO_SND_PCM_FMT_S18_3 = 7;
export const VIRTIO_SND_PCM_FMT_U18_3 = 8;
export const VIRTIO_SND_PCM_FMT_S20_3 = 9;
export const VIRTIO_SND_PCM_FMT_U20_3 = 10;
export const VIRTIO_SND_PCM_FMT_S24_3 = 11;
export const VIRTIO_SND_PCM_FMT_U24_3 = 12;
export const VIRTIO_SND_PCM_FMT_S20 = 13;
export const VIRTIO_SND_PCM_FMT_U20 = 14;
export const VIRTIO_SND_PCM_FMT_S24 = 15;
export const VIRTIO_SND_PCM_FMT_U24 = 16;
export const VIRTIO_SND_PCM_FMT_S32 = 17;
export const VIRTIO_SND_PCM_FMT_U32 = 18;
export const VIRTIO_SND_PCM_FMT_FLOAT = 19;
export const VIRTIO_SND_PCM_FMT_FLOAT64 = 20;
export const VIRTIO_SND_PCM_FMT_DSD_U8 = 21;
export const VIRTIO_SND_PCM_FMT_DSD_U16 = 22;
export const VIRTIO_SND_PCM_FMT_DSD_U32 = 23;
export const VIRTIO_SND_PCM_FMT_IEC958_SUBFRAME = 24;

/** PCM frame rates. */
export const VIRTIO_SND_PCM_RATE_5512 = 0;
export const VIRTIO_SND_PCM_RATE_8000 = 1;
export const VIRTIO_SND_PCM_RATE_11025 = 2;
export const VIRTIO_SND_PCM_RATE_16000 = 3;
export const VIRTIO_SND_PCM_RATE_22050 = 4;
export const VIRTIO_SND_PCM_RATE_32000 = 5;
export const VIRTIO_SND_PCM_RATE_44100 = 6;
export const VIRTIO_SND_PCM_RATE_48000 = 7;
export const VIRTIO_SND_PCM_RATE_64000 = 8;
export const VIRTIO_SND_PCM_RATE_88200 = 9;
export const VIRTIO_SND_PCM_RATE_96000 = 10;
export const VIRTIO_SND_PCM_RATE_176400 = 11;
export const VIRTIO_SND_PCM_RATE_192000 = 12;
export const VIRTIO_SND_PCM_RATE_384000 = 13;
/** 1.4 draft additions (not in VIRTIO 1.2/1.3). */
export const VIRTIO_SND_PCM_RATE_12000 = 14;
export const VIRTIO_SND_PCM_RATE_24000 = 15;

/** Standard channel positions. */
export const VIRTIO_SND_CHMAP_NONE = 0;
export const VIRTIO_SND_CHMAP_NA = 1;
export const VIRTIO_SND_CHMAP_MONO = 2;
export const VIRTIO_SND_CHMAP_FL = 3;
export const VIRTIO_SND_CHMAP_FR = 4;
export const VIRTIO_SND_CHMAP_RL = 5;
export const VIRTIO_SND_CHMAP_RR = 6;
export const VIRTIO_SND_CHMAP_FC = 7;
export const VIRTIO_SND_CHMAP_LFE = 8;
export const VIRTIO_SND_CHMAP_SL = 9;
export const VIRTIO_SND_CHMAP_SR = 10;
export const VIRTIO_SND_CHMAP_RC = 11;
export const VIRTIO_SND_CHMAP_FLC = 12;
export const VIRTIO_SND_CHMAP_FRC = 13;
export const VIRTIO_SND_CHMAP_RLC = 14;
export const VIRTIO_SND_CHMAP_RRC = 15;
export const VIRTIO_SND_CHMAP_FLW = 16;
export const VIRTIO_SND_CHMAP_FRW = 17;
export const VIRTIO_SND_CHMAP_FLH = 18;
export const VIRTIO_SND_CHMAP_FCH = 19;
export const VIRTIO_SND_CHMAP_FRH = 20;
export const VIRTIO_SND_CHMAP_TC = 21;
export const VIRTIO_SND_CHMAP_TFL = 22;
export const VIRTIO_SND_CHMAP_TFR = 23;
export const VIRTIO_SND_CHMAP_TFC = 24;
export const VIRTIO_SND_CHMAP_TRL = 25;
export const VIRTIO_SND_CHMAP_TRR = 26;
export const VIRTIO_SND_CHMAP_TRC = 27;
export const VIRTIO_SND_CHMAP_TFLC = 28;
export const VIRTIO_SND_CHMAP_TFRC = 29;
export const VIRTIO_SND_CHMAP_TSL = 30;
export const VIRTIO_SND_CHMAP_TSR = 31;
export const VIRTIO_SND_CHMAP_LLFE = 32;
export const VIRTIO_SND_CHMAP_RLFE = 33;
export const VIRTIO_SND_CHMAP_BC = 34;
export const VIRTIO_SND_CHMAP_BLC = 35;
export const VIRTIO_SND_CHMAP_BRC = 36;
/** Positions per channel map. */
export const VIRTIO_SND_CHMAP_MAX_SIZE = 18;

/** Control element roles (encoded in ctl_info.role as role << 1 | direction). */
export const VIRTIO_SND_CTL_ROLE_UNDEFINED = 0;
export const VIRTIO_SND_CTL_ROLE_VOLUME = 1;
export const VIRTIO_SND_CTL_ROLE_MUTE = 2;
export const VIRTIO_SND_CTL_ROLE_GAIN = 3;

/** Control element value types. */
export const VIRTIO_SND_CTL_TYPE_BOOLEAN = 0;
export const VIRTIO_SND_CTL_TYPE_INTEGER = 1;
export const VIRTIO_SND_CTL_TYPE_INTEGER64 = 2;
export const VIRTIO_SND_CTL_TYPE_ENUMERATED = 3;
export const VIRTIO_SND_CTL_TYPE_BYTES = 4;
export const VIRTIO_SND_CTL_TYPE_IEC958 = 5;

/** Largest `count` per control value type. */
export const VIRTIO_SND_CTL_MAX_COUNT: readonly number[] = [128, 128, 64, 128, 512, 1];

/** Control element access rights (bit numbers). */
export const VIRTIO_SND_CTL_ACCESS_READ = 0;
export const VIRTIO_SND_CTL_ACCESS_WRITE = 1;
export const VIRTIO_SND_CTL_ACCESS_VOLATILE = 2;
export const VIRTIO_SND_CTL_ACCESS_INACTIVE = 3;
export const VIRTIO_SND_CTL_ACCESS_TLV_READ = 4;
export const VIRTIO_SND_CTL_ACCESS_TLV_WRITE = 5;
export const VIRTIO_SND_CTL_ACCESS_TLV_COMMAND = 6;

/** CTL_NOTIFY event mask bits. */
export const VIRTIO_SND_CTL_EVT_MASK_VALUE = 0;
export const VIRTIO_SND_CTL_EVT_MASK_INFO = 1;
export const VIRTIO_SND_CTL_EVT_MASK_TLV = 2;

/** Frames per second for each VIRTIO_SND_PCM_RATE_* index. */
export const PCM_RATE_HZ: readonly number[] = [
  5512, 8000, 11025, 16000, 22050, 32000, 44100, 48000, 64000, 88200, 96000, 176400, 192000, 384000,
  12000, 24000,
];

/** The VIRTIO_SND_PCM_RATE_* index of `hz`, or -1. */
export function pcmRateIndex(hz: number): number {
  return PCM_RATE_HZ.indexOf(hz);
}

export interface PcmFormatInfo {
  name: string;
  /** Significant bits per sample. */
  width: number;
  /** Bits the sample occupies in memory. */
  physBits: number;
  signed: boolean;
  float: boolean;
  /** Not linear PCM (DSD, IEC958) or compressed (IMA ADPCM, the G.711 laws). */
  digital: boolean;
}

const fmt = (
  name: string,
  width: number,
  physBits: number,
  signed: boolean,
  float = false,
  digital = false,
): PcmFormatInfo => ({ name, width, physBits, signed, float, digital });

/** Sample layout for each VIRTIO_SND_PCM_FMT_* index. */
export const PCM_FORMAT_INFO: readonly PcmFormatInfo[] = [
  fmt('IMA_ADPCM', 4, 4, true, false, true),
  fmt('MU_LAW', 8, 8, true),
  fmt('A_LAW', 8, 8, true),
  fmt('S8', 8, 8, true),
  fmt('U8', 8, 8, false),
  fmt('S16', 16, 16, true),
  fmt('U16', 16, 16, false),
  fmt('S18_3', 18, 24, true),
  fmt('U18_3', 18, 24, false),
  fmt('S20_3', 20, 24, true),
  fmt('U20_3', 20, 24, false),
  fmt('S24_3', 24, 24, true),
  fmt('U24_3', 24, 24, false),
  fmt('S20', 20, 32, true),
  fmt('U20', 20, 32, false),
  fmt('S24', 24, 32, true),
  fmt('U24', 24, 32, false),
  fmt('S32', 32, 32, true),
  fmt('U32', 32, 32, false),
  fmt('FLOAT', 32, 32, true, true),
  fmt('FLOAT64', 64, 64, true, true),
  fmt('DSD_U8', 8, 8, false, false, true),
  fmt('DSD_U16', 16, 16, false, false, true),
  fmt('DSD_U32', 32, 32, false, false, true),
  fmt('IEC958_SUBFRAME', 32, 32, true, false, true),
];

/** Bytes per frame; IMA ADPCM (4-bit) rounds up to whole bytes. */
export function pcmFrameBytes(format: number, channels: number): number {
  const info = PCM_FORMAT_INFO[format];
  if (!info) throw new RangeError(`unknown PCM format ${format}`);
  return Math.ceil((info.physBits * channels) / 8);
}

const REQUEST_NAMES: Record<number, string> = {
  [VIRTIO_SND_R_JACK_INFO]: 'JACK_INFO',
  [VIRTIO_SND_R_JACK_REMAP]: 'JACK_REMAP',
  [VIRTIO_SND_R_PCM_INFO]: 'PCM_INFO',
  [VIRTIO_SND_R_PCM_SET_PARAMS]: 'PCM_SET_PARAMS',
  [VIRTIO_SND_R_PCM_PREPARE]: 'PCM_PREPARE',
  [VIRTIO_SND_R_PCM_RELEASE]: 'PCM_RELEASE',
  [VIRTIO_SND_R_PCM_START]: 'PCM_START',
  [VIRTIO_SND_R_PCM_STOP]: 'PCM_STOP',
  [VIRTIO_SND_R_CHMAP_INFO]: 'CHMAP_INFO',
  [VIRTIO_SND_R_CTL_INFO]: 'CTL_INFO',
  [VIRTIO_SND_R_CTL_ENUM_ITEMS]: 'CTL_ENUM_ITEMS',
  [VIRTIO_SND_R_CTL_READ]: 'CTL_READ',
  [VIRTIO_SND_R_CTL_WRITE]: 'CTL_WRITE',
  [VIRTIO_SND_R_CTL_TLV_READ]: 'CTL_TLV_READ',
  [VIRTIO_SND_R_CTL_TLV_WRITE]: 'CTL_TLV_WRITE',
  [VIRTIO_SND_R_CTL_TLV_COMMAND]: 'CTL_TLV_COMMAND',
};

const STATUS_NAMES: Record<number, string> = {
  [VIRTIO_SND_S_OK]: 'OK',
  [VIRTIO_SND_S_BAD_MSG]: 'BAD_MSG',
  [VIRTIO_SND_S_NOT_SUPP]: 'NOT_SUPP',
  [VIRTIO_SND_S_IO_ERR]: 'IO_ERR',
};

const EVENT_NAMES: Record<number, string> = {
  [VIRTIO_SND_EVT_JACK_CONNECTED]: 'JACK_CONNECTED',
  [VIRTIO_SND_EVT_JACK_DISCONNECTED]: 'JACK_DISCONNECTED',
  [VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED]: 'PCM_PERIOD_ELAPSED',
  [VIRTIO_SND_EVT_PCM_XRUN]: 'PCM_XRUN',
  [VIRTIO_SND_EVT_CTL_NOTIFY]: 'CTL_NOTIFY',
};

const hex = (v: number) => `0x${(v >>> 0).toString(16).padStart(4, '0')}`;

export function requestCodeName(code: number): string {
  return REQUEST_NAMES[code] ?? `request ${hex(code)}`;
}

export function statusName(code: number): string {
  return STATUS_NAMES[code] ?? `status ${hex(code)}`;
}

export function eventCodeName(code: number): string {
  return EVENT_NAMES[code] ?? `event ${hex(code)}`;
}

/**
 * A PCM stream's states in the spec's state machine (set by SET_PARAMS,
 * PREPARE, START, STOP, RELEASE), by name: the device's stats and the
 * driver's view of the device use the same ones.
 */
export const PCM_STATE_NAMES = [
  'initial',
  'params-set',
  'prepared',
  'running',
  'stopped',
  'released',
] as const;

export type PcmStateName = (typeof PCM_STATE_NAMES)[number];
