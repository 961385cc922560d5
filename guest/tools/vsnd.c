/*
 * aplay / arecord / speaker-test for the v86 guest: a small multi-call
 * program that talks to the ALSA PCM device through its ioctls directly
 * (HW_PARAMS, SW_PARAMS, PREPARE, WRITEI/READI_FRAMES, DRAIN), so the guest
 * needs no alsa-lib. Built static for i386 by guest/build-initrd.sh.
 *
 *   aplay [-D hw:C,D] [-p frames] [-n periods] file.wav   play a PCM WAV (8/16/24/32-bit)
 *   arecord [-d sec] [-r rate] [-c ch] file.wav   record S16_LE
 *   speaker-test [-f hz] [-s sec] [-r rate]       play a sine
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sound/asound.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const char *dev_card = "0", *dev_num = "0";
/* Like aplay's default of a ~0.35-0.5 s buffer: an emulated guest can stall for a while. */
static unsigned opt_period = 4096, opt_periods = 4;

static struct snd_mask *mask_of(struct snd_pcm_hw_params *p, int n) {
  return &p->masks[n - SNDRV_PCM_HW_PARAM_FIRST_MASK];
}
static struct snd_interval *interval_of(struct snd_pcm_hw_params *p, int n) {
  return &p->intervals[n - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL];
}
static void set_mask(struct snd_pcm_hw_params *p, int n, unsigned bit) {
  struct snd_mask *m = mask_of(p, n);
  memset(m->bits, 0, sizeof(m->bits));
  m->bits[bit >> 5] |= 1u << (bit & 31);
}
static void set_int(struct snd_pcm_hw_params *p, int n, unsigned v) {
  struct snd_interval *i = interval_of(p, n);
  i->min = v;
  i->max = v;
  i->integer = 1;
}

struct pcm {
  int fd;
  unsigned channels, rate, frame_bytes, period, periods;
};

static int pcm_open(struct pcm *pc, int capture, int format, unsigned bytes_per_sample,
                    unsigned channels, unsigned rate) {
  char path[64];
  snprintf(path, sizeof path, "/dev/snd/pcmC%sD%s%c", dev_card, dev_num, capture ? 'c' : 'p');
  pc->fd = open(path, O_RDWR);
  if (pc->fd < 0) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    return -1;
  }
  struct snd_pcm_hw_params hw;
  memset(&hw, 0, sizeof hw);
  for (int n = SNDRV_PCM_HW_PARAM_FIRST_MASK; n <= SNDRV_PCM_HW_PARAM_LAST_MASK; n++)
    memset(mask_of(&hw, n)->bits, 0xff, sizeof(mask_of(&hw, n)->bits));
  for (int n = SNDRV_PCM_HW_PARAM_FIRST_INTERVAL; n <= SNDRV_PCM_HW_PARAM_LAST_INTERVAL; n++) {
    interval_of(&hw, n)->min = 0;
    interval_of(&hw, n)->max = UINT_MAX;
  }
  hw.rmask = ~0u;
  hw.info = ~0u;
  pc->period = opt_period;
  pc->periods = opt_periods;
  set_mask(&hw, SNDRV_PCM_HW_PARAM_ACCESS, SNDRV_PCM_ACCESS_RW_INTERLEAVED);
  set_mask(&hw, SNDRV_PCM_HW_PARAM_FORMAT, format);
  set_mask(&hw, SNDRV_PCM_HW_PARAM_SUBFORMAT, SNDRV_PCM_SUBFORMAT_STD);
  set_int(&hw, SNDRV_PCM_HW_PARAM_CHANNELS, channels);
  set_int(&hw, SNDRV_PCM_HW_PARAM_RATE, rate);
  set_int(&hw, SNDRV_PCM_HW_PARAM_PERIOD_SIZE, pc->period);
  set_int(&hw, SNDRV_PCM_HW_PARAM_PERIODS, pc->periods);
  if (ioctl(pc->fd, SNDRV_PCM_IOCTL_HW_PARAMS, &hw) < 0) {
    fprintf(stderr, "HW_PARAMS (%u ch, %u Hz): %s\n", channels, rate, strerror(errno));
    return -1;
  }
  unsigned buffer = pc->period * pc->periods;
  struct snd_pcm_sw_params sw;
  memset(&sw, 0, sizeof sw);
  sw.tstamp_mode = SNDRV_PCM_TSTAMP_NONE;
  sw.period_step = 1;
  sw.avail_min = pc->period;
  sw.start_threshold = capture ? 1 : buffer;
  sw.stop_threshold = buffer;
  sw.boundary = buffer;
  while (sw.boundary * 2 <= (snd_pcm_uframes_t)INT_MAX - buffer) sw.boundary *= 2;
  if (ioctl(pc->fd, SNDRV_PCM_IOCTL_SW_PARAMS, &sw) < 0) {
    fprintf(stderr, "SW_PARAMS: %s\n", strerror(errno));
    return -1;
  }
  if (ioctl(pc->fd, SNDRV_PCM_IOCTL_PREPARE) < 0) {
    fprintf(stderr, "PREPARE: %s\n", strerror(errno));
    return -1;
  }
  pc->channels = channels;
  pc->rate = rate;
  pc->frame_bytes = bytes_per_sample * channels;
  return 0;
}

static int pcm_write(struct pcm *pc, const void *buf, unsigned frames) {
  const char *p = buf;
  while (frames) {
    struct snd_xferi x = {.buf = (void *)p, .frames = frames};
    if (ioctl(pc->fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, &x) < 0) {
      if (errno == EPIPE) {
        fprintf(stderr, "underrun!!!\n");
        ioctl(pc->fd, SNDRV_PCM_IOCTL_PREPARE);
        continue;
      }
      fprintf(stderr, "WRITEI_FRAMES: %s\n", strerror(errno));
      return -1;
    }
    p += x.result * pc->frame_bytes;
    frames -= x.result;
  }
  return 0;
}

static uint32_t le32(const unsigned char *b) { return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24; }
static uint16_t le16(const unsigned char *b) { return b[0] | b[1] << 8; }

static int aplay(const char *file) {
  FILE *f = fopen(file, "rb");
  if (!f) {
    fprintf(stderr, "%s: %s\n", file, strerror(errno));
    return 1;
  }
  unsigned char h[12], ch[8];
  if (fread(h, 1, 12, f) != 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4)) {
    fprintf(stderr, "%s: not a WAV file\n", file);
    return 1;
  }
  unsigned channels = 0, rate = 0, bits = 0;
  for (;;) {
    if (fread(ch, 1, 8, f) != 8) {
      fprintf(stderr, "%s: no data chunk\n", file);
      return 1;
    }
    uint32_t size = le32(ch + 4);
    if (!memcmp(ch, "fmt ", 4)) {
      unsigned char fm[40];
      if (size < 16 || size > sizeof fm || fread(fm, 1, size, f) != size) return 1;
      channels = le16(fm + 2);
      rate = le32(fm + 4);
      bits = le16(fm + 14);
    } else if (!memcmp(ch, "data", 4)) {
      break;
    } else {
      fseek(f, size + (size & 1), SEEK_CUR);
    }
  }
  int fmt = bits == 8    ? SNDRV_PCM_FORMAT_U8
            : bits == 16 ? SNDRV_PCM_FORMAT_S16_LE
            : bits == 24 ? SNDRV_PCM_FORMAT_S24_3LE
                         : SNDRV_PCM_FORMAT_S32_LE;
  printf("Playing WAVE '%s' : %u bit, Rate %u Hz, %s\n", file, bits, rate,
         channels == 1 ? "Mono" : channels == 2 ? "Stereo" : "Multichannel");
  struct pcm pc;
  if (pcm_open(&pc, 0, fmt, bits / 8, channels, rate)) return 1;
  static unsigned char buf[1024 * 64];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    unsigned frames = n / pc.frame_bytes;
    if (pcm_write(&pc, buf, frames)) return 1;
  }
  ioctl(pc.fd, SNDRV_PCM_IOCTL_DRAIN);
  close(pc.fd);
  return 0;
}

static void wav_header(unsigned char *h, unsigned rate, unsigned channels, uint32_t bytes) {
  memcpy(h, "RIFF", 4);
  uint32_t v[] = {36 + bytes};
  memcpy(h + 4, v, 4);
  memcpy(h + 8, "WAVEfmt ", 8);
  uint32_t fmt[] = {16, 1 | channels << 16, rate, rate * channels * 2, (channels * 2) | 16 << 16};
  memcpy(h + 16, fmt, 20);
  memcpy(h + 36, "data", 4);
  memcpy(h + 40, &bytes, 4);
}

static int arecord(const char *file, unsigned seconds, unsigned rate, unsigned channels) {
  struct pcm pc;
  if (pcm_open(&pc, 1, SNDRV_PCM_FORMAT_S16_LE, 2, channels, rate)) return 1;
  unsigned total = seconds * rate;
  int16_t *buf = malloc((size_t)total * pc.frame_bytes);
  printf("Recording WAVE '%s' : Signed 16 bit Little Endian, Rate %u Hz, %u channel(s)\n", file, rate,
         channels);
  for (unsigned got = 0; got < total;) {
    struct snd_xferi x = {.buf = buf + got * channels, .frames = total - got};
    if (ioctl(pc.fd, SNDRV_PCM_IOCTL_READI_FRAMES, &x) < 0) {
      if (errno == EPIPE) {
        fprintf(stderr, "overrun!!!\n");
        ioctl(pc.fd, SNDRV_PCM_IOCTL_PREPARE);
        continue;
      }
      fprintf(stderr, "READI_FRAMES: %s\n", strerror(errno));
      return 1;
    }
    got += x.result;
  }
  ioctl(pc.fd, SNDRV_PCM_IOCTL_DROP);
  close(pc.fd);
  double sum = 0;
  int peak = 0;
  for (unsigned i = 0; i < total * channels; i++) {
    int v = buf[i] < 0 ? -buf[i] : buf[i];
    if (v > peak) peak = v;
    sum += (double)buf[i] * buf[i];
  }
  printf("captured %u frames: peak %d rms %.1f\n", total, peak, sqrt(sum / (total * channels)));
  FILE *f = fopen(file, "wb");
  if (!f) return 1;
  unsigned char h[44];
  wav_header(h, rate, channels, total * pc.frame_bytes);
  fwrite(h, 1, 44, f);
  fwrite(buf, pc.frame_bytes, total, f);
  fclose(f);
  return 0;
}

static int speaker_test(unsigned freq, unsigned seconds, unsigned rate) {
  struct pcm pc;
  if (pcm_open(&pc, 0, SNDRV_PCM_FORMAT_S16_LE, 2, 2, rate)) return 1;
  printf("speaker-test: %u Hz sine, %u s, %u Hz stereo\n", freq, seconds, rate);
  int16_t buf[1024 * 2];
  double phase = 0, step = 2 * M_PI * freq / rate;
  for (unsigned done = 0; done < seconds * rate; done += 1024) {
    for (int i = 0; i < 1024; i++) {
      int16_t v = (int16_t)(sin(phase) * 8000);
      phase += step;
      buf[2 * i] = buf[2 * i + 1] = v;
    }
    if (pcm_write(&pc, buf, 1024)) return 1;
  }
  ioctl(pc.fd, SNDRV_PCM_IOCTL_DRAIN);
  close(pc.fd);
  return 0;
}

int main(int argc, char **argv) {
  const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
  unsigned seconds = 2, rate = 48000, channels = 2, freq = 440;
  int opt;
  while ((opt = getopt(argc, argv, "D:d:r:c:f:s:t:l:p:n:")) != -1) {
    switch (opt) {
    case 'D': {
      static char card[8], num[8];
      if (sscanf(optarg, "hw:%7[0-9],%7[0-9]", card, num) == 2) {
        dev_card = card;
        dev_num = num;
      }
      break;
    }
    case 'd': case 's': seconds = atoi(optarg); break;
    case 'r': rate = atoi(optarg); break;
    case 'c': channels = atoi(optarg); break;
    case 'f': freq = atoi(optarg); break;
    case 'p': opt_period = atoi(optarg); break;
    case 'n': opt_periods = atoi(optarg); break;
    default: break;
    }
  }
  if (!strcmp(name, "speaker-test")) return speaker_test(freq, seconds, rate);
  if (optind >= argc) {
    fprintf(stderr, "usage: %s [options] file.wav\n", name);
    return 2;
  }
  if (!strcmp(name, "arecord")) return arecord(argv[optind], seconds, rate, channels);
  return aplay(argv[optind]);
}
