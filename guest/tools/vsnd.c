/*
 * aplay / arecord / speaker-test / latency for the v86 guest: a small
 * multi-call program that talks to the ALSA PCM device through its ioctls
 * directly (HW_PARAMS, SW_PARAMS, PREPARE, LINK, START, WRITEI/READI_FRAMES,
 * STATUS, DRAIN), so the guest needs no alsa-lib. Built static for i386 by
 * guest/build-initrd.sh (with 64-bit time_t: the kernels have no 32-bit time
 * calls).
 *
 *   aplay [-D hw:C,D] [-p frames] [-n periods] file.wav
 *       play a PCM WAV (U8, S16_LE, S24_3LE, S32_LE, FLOAT_LE); the last
 *       period is padded with silence, as alsa-utils' aplay does (a kernel
 *       with the ack callback, >= 6.8, sends only whole written periods)
 *   arecord [-d sec] [-r rate] [-c ch] [-f fmt] [-p frames] [-n periods] [-V ramp[@hz]] f.wav
 *       record (default S16_LE, 48000 Hz, stereo, 2 s); -V ramp checks that
 *       what was recorded is the test ramp (below) without a break, as it is
 *       when the input is fed the ramp at the same rate (guest.html?input=ramp);
 *       -V ramp@48000: fed at 48000 Hz and resampled to -r, checked to a
 *       tolerance away from the ramp's wraps
 *   speaker-test [-f hz] [-s sec] [-r rate] [-c ch] [-F fmt] [-p frames] [-n periods] [-t type]
 *       play a sine (default 440 Hz, 2 s, 48000 Hz, stereo, S16_LE), or
 *       with -t ramp the test ramp; with a long -s, a long-play test (e.g.
 *       -p 256 -n 3 -s 60)
 *   latency [-r rate] [-c ch] [-F fmt] [-p frames] [-n periods] [-i ms] [-w ms] [-t tries] [-v]
 *       round trip through the device: playback and capture linked (one
 *       START), silence with one impulse (half scale, every channel) at
 *       playback frame -i ms (default 500), capture until -w ms (default
 *       1000) after it; the impulse's capture-stream frame minus its
 *       playback-stream frame is the raw round trip. An xrun or stall
 *       restarts the attempt (-t tries, default 3). -v prints each
 *       period's positions after the run. Needs the output routed to the input.
 *   vsnd MODE [options]    the same, MODE = aplay|arecord|speaker-test|latency
 *
 * The test ramp: on channel c of frame f the S16 value (f mod 32768) - 16384
 * + 2048 c (other formats: the same value scaled), rising one step a frame,
 * wrapping every 32768 frames. Every frame differs from the last 32767, so a
 * lost, repeated or stale frame shows; the channels differ by 2048, so a
 * swapped or misplaced channel shows, and their mean (a mono capture of it)
 * is a ramp too.
 *
 * Defaults: period 4096 frames, 4 periods (like aplay's ~0.35-0.5 s buffer:
 * an emulated guest can stall for a while). -F and arecord's -f take
 * U8, S16_LE, S24_3LE, S32_LE or FLOAT_LE. Every mode ends with one line
 *   VSND_RESULT {"mode":"play"|"capture"|"latency","kernel":"6.12.117","ok":true,
 *                "rate":48000,"channels":2,"format":"S16_LE","period":4096,"periods":4,
 *                "stalls":0,...}
 * JSON on one line; "failed" (a message) only when ok is false; "xruns"
 * counts EPIPE from the read/write ioctls (the stream was recovered),
 * "stalls" EIO (ALSA waited max(100 ms, 1.1 buffers) for a period). Then:
 *   play:    source (wav|sine|ramp), frames (of the file or source, before padding),
 *            padded, xruns, min_queued (fewest frames queued before a write
 *            while running), audio_ms, wall_ms (first write to end of drain)
 *   capture: frames, xruns, peak, rms (0..1), audio_ms, wall_ms; with -V:
 *            check ("ramp"), from (the rate it was fed at), checked (frames
 *            looked at), bad_frames, breaks (runs of bad frames),
 *            first_break (frame, -1: none), offset_errors (frames whose
 *            channels are not 2048 apart)
 *   latency: found, frames and ms (the raw round trip; -1 if not found),
 *            impulse_at, captured_at (stream frames), skew (playback start
 *            minus capture start in frames, from the trigger timestamps when
 *            the streams could not be linked, else 0), linked, write_ahead
 *            (impulse frame minus playback hw_ptr just after it was
 *            written), app_frames (frames + write_ahead: from the write to
 *            the capture position), read_lag (capture hw_ptr when the
 *            impulse's period was read, minus the impulse's frame),
 *            roundtrip_frames and roundtrip_ms (app_frames + read_lag: from
 *            the application's write of the impulse to its read of it, as
 *            jack_iodelay measures; -1 if not found), peak, ratio (peak over the loudest frame
 *            more than 64 frames away; null: silence), second_at (where that
 *            frame is: a second impulse means a period played twice), xruns, play_xruns,
 *            capture_xruns, attempts
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <sound/asound.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static const char *dev_card = "0", *dev_num = "0";
static unsigned opt_period = 4096, opt_periods = 4;
static int opt_verbose; /* -v: latency traces each period's positions (printed at the end) */

/* ---- sample formats ---- */

struct format {
  const char *name;
  int alsa;
  unsigned bytes, bits;
  int is_float, is_unsigned;
};

static const struct format formats[] = {
    {"U8", SNDRV_PCM_FORMAT_U8, 1, 8, 0, 1},
    {"S16_LE", SNDRV_PCM_FORMAT_S16_LE, 2, 16, 0, 0},
    {"S24_3LE", SNDRV_PCM_FORMAT_S24_3LE, 3, 24, 0, 0},
    {"S32_LE", SNDRV_PCM_FORMAT_S32_LE, 4, 32, 0, 0},
    {"FLOAT_LE", SNDRV_PCM_FORMAT_FLOAT_LE, 4, 32, 1, 0},
};
#define FMT_U8 (&formats[0])
#define FMT_S16 (&formats[1])
#define FMT_S24_3 (&formats[2])
#define FMT_S32 (&formats[3])
#define FMT_FLOAT (&formats[4])

static const struct format *format_by_name(const char *name) {
  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
    if (!strcasecmp(name, formats[i].name)) return &formats[i];
  return NULL;
}

/* x in [-1, 1] -> one sample; integers are x * 2^(bits-1), rounded and clamped. */
static void put_sample(unsigned char *p, const struct format *f, double x) {
  if (f->is_float) {
    float v = (float)x;
    memcpy(p, &v, 4);
    return;
  }
  double full = ldexp(1.0, f->bits - 1);
  double r = nearbyint(x * full);
  if (r > full - 1) r = full - 1;
  if (r < -full) r = -full;
  int64_t v = (int64_t)r;
  if (f->is_unsigned) v += (int64_t)full;
  for (unsigned b = 0; b < f->bytes; b++) p[b] = (unsigned char)((uint64_t)v >> (8 * b));
}

/*
 * Reading samples back without floating point, which v86 emulates slowly
 * (tens of microseconds a sample: too slow to keep up with a stream).
 * An integer sample scaled to 32 bits (S16 v -> v << 16).
 */
static int32_t sample_s32(const unsigned char *p, const struct format *f) {
  uint32_t u = 0;
  for (unsigned b = 0; b < f->bytes; b++) u |= (uint32_t)p[b] << (8 * b);
  u <<= 32 - f->bits;
  return (int32_t)(f->is_unsigned ? u ^ 0x80000000u : u);
}

/* |sample| as a key that orders like the magnitude: |s32| for integers, the bits of |x| for floats.
 */
static uint32_t magnitude_key(const unsigned char *p, const struct format *f) {
  if (f->is_float) {
    uint32_t u;
    memcpy(&u, p, 4);
    return u & 0x7fffffffu;
  }
  int32_t v = sample_s32(p, f);
  return v < 0 ? (uint32_t)0 - (uint32_t)v : (uint32_t)v;
}

/* A magnitude_key as a value in [0, 1] (floats: as they are). */
static double key_value(uint32_t key, const struct format *f) {
  if (f->is_float) {
    float v;
    memcpy(&v, &key, 4);
    return v;
  }
  return ldexp((double)key, -31);
}

static void put_silence(unsigned char *p, const struct format *f, size_t samples) {
  memset(p, f->is_unsigned ? 0x80 : 0, samples * f->bytes);
}

/* ---- the test ramp (see the top of the file) ---- */

#define RAMP_LEN 32768u
#define RAMP_CHANNEL_STEP 2048

static int ramp_value(unsigned long frame, unsigned channel) {
  return (int)(frame % RAMP_LEN) - 16384 + RAMP_CHANNEL_STEP * (int)channel;
}

/* An S16 value as one sample of `f`, without floating point for the integer formats. */
static void put_s16_value(unsigned char *p, const struct format *f, int v) {
  if (f->is_float) {
    float x = (float)v / 32768.0f;
    memcpy(p, &x, 4);
    return;
  }
  uint32_t u = (uint32_t)v << 16; /* as S32 */
  if (f->is_unsigned) u ^= 0x80000000u;
  u >>= 32 - f->bits;
  for (unsigned b = 0; b < f->bytes; b++) p[b] = (unsigned char)(u >> (8 * b));
}

/* ---- the PCM device ---- */

struct pcm {
  int fd, capture;
  const struct format *fmt;
  unsigned channels, rate, frame_bytes, period, periods, buffer;
  unsigned long xruns;  /* EPIPE from a read or write */
  unsigned long stalls; /* EIO: no period completed within max(100 ms, 1.1 buffers) */
  int no_recover;       /* an xrun or stall ends the read/write (returns 1) instead of going on */
  char failed[96];      /* what failed, for VSND_RESULT */
};

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

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/*
 * Opens hw:card,dev for playback or capture with exactly these parameters
 * (period -p frames, -n periods) and prepares it. auto_start: playback starts
 * when the buffer is full, capture on the first read; otherwise only an
 * explicit START does.
 */
static int pcm_open(struct pcm *pc, int capture, const struct format *fmt, unsigned channels,
                    unsigned rate, int auto_start) {
  char path[64];
  snprintf(path, sizeof path, "/dev/snd/pcmC%sD%s%c", dev_card, dev_num, capture ? 'c' : 'p');
  memset(pc, 0, sizeof *pc);
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
  pc->capture = capture;
  pc->period = opt_period;
  pc->periods = opt_periods;
  set_mask(&hw, SNDRV_PCM_HW_PARAM_ACCESS, SNDRV_PCM_ACCESS_RW_INTERLEAVED);
  set_mask(&hw, SNDRV_PCM_HW_PARAM_FORMAT, fmt->alsa);
  set_mask(&hw, SNDRV_PCM_HW_PARAM_SUBFORMAT, SNDRV_PCM_SUBFORMAT_STD);
  set_int(&hw, SNDRV_PCM_HW_PARAM_CHANNELS, channels);
  set_int(&hw, SNDRV_PCM_HW_PARAM_RATE, rate);
  set_int(&hw, SNDRV_PCM_HW_PARAM_PERIOD_SIZE, pc->period);
  set_int(&hw, SNDRV_PCM_HW_PARAM_PERIODS, pc->periods);
  if (ioctl(pc->fd, SNDRV_PCM_IOCTL_HW_PARAMS, &hw) < 0) {
    fprintf(stderr, "HW_PARAMS (%s, %u ch, %u Hz, %u x %u frames): %s\n", fmt->name, channels, rate,
            pc->periods, pc->period, strerror(errno));
    return -1;
  }
  pc->buffer = pc->period * pc->periods;
  struct snd_pcm_sw_params sw;
  memset(&sw, 0, sizeof sw);
  sw.tstamp_mode = SNDRV_PCM_TSTAMP_NONE;
  sw.period_step = 1;
  sw.avail_min = pc->period;
  sw.stop_threshold = pc->buffer;
  sw.boundary = pc->buffer;
  while (sw.boundary * 2 <= (snd_pcm_uframes_t)INT_MAX - pc->buffer) sw.boundary *= 2;
  sw.start_threshold = !auto_start ? sw.boundary : capture ? 1 : pc->buffer;
  if (ioctl(pc->fd, SNDRV_PCM_IOCTL_SW_PARAMS, &sw) < 0) {
    fprintf(stderr, "SW_PARAMS: %s\n", strerror(errno));
    return -1;
  }
  if (ioctl(pc->fd, SNDRV_PCM_IOCTL_PREPARE) < 0) {
    fprintf(stderr, "PREPARE: %s\n", strerror(errno));
    return -1;
  }
  pc->fmt = fmt;
  pc->channels = channels;
  pc->rate = rate;
  pc->frame_bytes = fmt->bytes * channels;
  return 0;
}

/*
 * Reads or writes all `frames`: 0, or -1 on an error (pc->failed says
 * which). An xrun (EPIPE) is counted and reported, then recovered from
 * (PREPARE: playback restarts when the buffer is full again, capture at the
 * next read). A stall (EIO: ALSA waited max(100 ms, 1.1 buffers) for a
 * period) is counted and reported, and the wait goes on (the stream still
 * runs), up to 50 in a row. With no_recover both return 1 at once.
 */
static int pcm_xfer(struct pcm *pc, void *buf, unsigned frames) {
  char *p = buf;
  unsigned stalled = 0;
  unsigned long req = pc->capture ? SNDRV_PCM_IOCTL_READI_FRAMES : SNDRV_PCM_IOCTL_WRITEI_FRAMES;
  while (frames) {
    struct snd_xferi x = {.buf = p, .frames = frames};
    if (ioctl(pc->fd, req, &x) < 0) {
      if (errno == EPIPE) {
        pc->xruns++;
        fprintf(stderr, pc->capture ? "overrun!!!\n" : "underrun!!!\n");
        if (pc->no_recover) return 1;
        if (ioctl(pc->fd, SNDRV_PCM_IOCTL_PREPARE) < 0) {
          snprintf(pc->failed, sizeof pc->failed, "PREPARE after an xrun: %s", strerror(errno));
          fprintf(stderr, "%s\n", pc->failed);
          return -1;
        }
        continue;
      }
      if (errno == EAGAIN) { /* O_NONBLOCK (latency): wait as ALSA would, then call it a stall */
        struct pollfd w = {pc->fd, pc->capture ? POLLIN : POLLOUT, 0};
        unsigned ms = pc->buffer * 1100ull / pc->rate;
        if (poll(&w, 1, ms > 100 ? (int)ms : 100) != 0) continue;
        errno = EIO;
      }
      if (errno == EIO && stalled < 50) {
        pc->stalls++;
        stalled++;
        fprintf(stderr, "stall!!! (no period in time)\n");
        if (pc->no_recover) return 1;
        continue;
      }
      snprintf(pc->failed, sizeof pc->failed, "%s: %s",
               pc->capture ? "READI_FRAMES" : "WRITEI_FRAMES", strerror(errno));
      fprintf(stderr, "%s\n", pc->failed);
      return -1;
    }
    stalled = 0;
    p += x.result * pc->frame_bytes;
    frames -= x.result;
  }
  return 0;
}

static int pcm_write(struct pcm *pc, const void *buf, unsigned frames) {
  return pcm_xfer(pc, (void *)buf, frames);
}

static int pcm_read(struct pcm *pc, void *buf, unsigned frames) {
  return pcm_xfer(pc, buf, frames);
}

/* appl_ptr - hw_ptr: frames queued (playback) or waiting to be read (capture). -1 on error. */
static long pcm_queued(struct pcm *pc, struct snd_pcm_status *st) {
  memset(st, 0, sizeof *st);
  if (ioctl(pc->fd, SNDRV_PCM_IOCTL_STATUS, st) < 0) return -1;
  return pc->capture ? (long)(st->hw_ptr - st->appl_ptr) : (long)(st->appl_ptr - st->hw_ptr);
}

static const char *kernel_release(void) {
  static struct utsname u;
  if (uname(&u) < 0) return "?";
  return u.release;
}

/* The fields every VSND_RESULT line starts with ("failed" only when something did). */
static void result_head(const char *mode, const struct pcm *pc) {
  printf("VSND_RESULT {\"mode\":\"%s\",\"kernel\":\"%s\",\"ok\":%s,", mode, kernel_release(),
         pc->failed[0] ? "false" : "true");
  if (pc->failed[0]) printf("\"failed\":\"%s\",", pc->failed);
  printf("\"rate\":%u,\"channels\":%u,\"format\":\"%s\",\"period\":%u,\"periods\":%u,"
         "\"stalls\":%lu",
         pc->rate, pc->channels, pc->fmt->name, pc->period, pc->periods, pc->stalls);
}

/* ---- aplay ---- */

static uint32_t le32(const unsigned char *b) {
  return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}
static uint16_t le16(const unsigned char *b) { return b[0] | b[1] << 8; }

/* Plays `frames` frames from `next` (NULL when done) through pc, padding the last period with
 * silence. */
struct play_stats {
  unsigned long frames, padded;
  long min_queued;
  double wall_ms;
};

static int play_chunks(struct pcm *pc, unsigned char *buf,
                       unsigned (*next)(void *ctx, unsigned char *buf, unsigned frames), void *ctx,
                       struct play_stats *ps) {
  memset(ps, 0, sizeof *ps);
  ps->min_queued = -1;
  double t0 = now_ms();
  for (;;) {
    unsigned n = next(ctx, buf, pc->period);
    if (n == 0) break;
    ps->frames += n;
    if (n < pc->period) {
      put_silence(buf + (size_t)n * pc->frame_bytes, pc->fmt,
                  (size_t)(pc->period - n) * pc->channels);
      ps->padded = pc->period - n;
    }
    struct snd_pcm_status st;
    long q = pcm_queued(pc, &st);
    if (st.state == SNDRV_PCM_STATE_RUNNING && q >= 0 && (ps->min_queued < 0 || q < ps->min_queued))
      ps->min_queued = q;
    if (pcm_write(pc, buf, pc->period)) {
      ioctl(pc->fd, SNDRV_PCM_IOCTL_DROP);
      ps->wall_ms = now_ms() - t0;
      return -1;
    }
    if (n < pc->period) break;
  }
  int rc = 0;
  if (ioctl(pc->fd, SNDRV_PCM_IOCTL_DRAIN) < 0) {
    snprintf(pc->failed, sizeof pc->failed, "DRAIN: %s", strerror(errno));
    fprintf(stderr, "%s\n", pc->failed);
    rc = -1;
  }
  ps->wall_ms = now_ms() - t0;
  return rc;
}

static void play_result(const char *source, const struct pcm *pc, const struct play_stats *ps) {
  result_head("play", pc);
  printf(",\"source\":\"%s\",\"frames\":%lu,\"padded\":%lu,\"xruns\":%lu,\"min_queued\":%ld,"
         "\"audio_ms\":%.1f,\"wall_ms\":%.1f}\n",
         source, ps->frames, ps->padded, pc->xruns, ps->min_queued, ps->frames * 1000.0 / pc->rate,
         ps->wall_ms);
}

struct wav_reader {
  FILE *f;
  unsigned frame_bytes;
  uint32_t left; /* bytes of the data chunk not read yet */
};

static unsigned wav_next(void *ctx, unsigned char *buf, unsigned frames) {
  struct wav_reader *r = ctx;
  size_t want = (size_t)frames * r->frame_bytes;
  if (want > r->left) want = r->left - r->left % r->frame_bytes;
  size_t n = fread(buf, 1, want, r->f);
  r->left -= n;
  return n / r->frame_bytes;
}

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
  unsigned channels = 0, rate = 0, bits = 0, tag = 0;
  uint32_t size;
  for (;;) {
    if (fread(ch, 1, 8, f) != 8) {
      fprintf(stderr, "%s: no data chunk\n", file);
      return 1;
    }
    size = le32(ch + 4);
    if (!memcmp(ch, "fmt ", 4)) {
      unsigned char fm[40];
      if (size < 16 || size > sizeof fm || fread(fm, 1, size, f) != size) return 1;
      tag = le16(fm);
      channels = le16(fm + 2);
      rate = le32(fm + 4);
      bits = le16(fm + 14);
      if (tag == 0xfffe && size >= 26)
        tag = le16(fm + 24); /* WAVE_FORMAT_EXTENSIBLE: the subformat */
    } else if (!memcmp(ch, "data", 4)) {
      break;
    } else {
      fseek(f, size + (size & 1), SEEK_CUR);
    }
  }
  const struct format *fmt = bits == 8    ? FMT_U8
                             : bits == 16 ? FMT_S16
                             : bits == 24 ? FMT_S24_3
                             : tag == 3   ? FMT_FLOAT
                                          : FMT_S32;
  if (channels == 0 || (tag != 1 && tag != 3) || (tag == 3) != (fmt == FMT_FLOAT) ||
      bits != fmt->bits) {
    fprintf(stderr, "%s: unsupported WAV format (tag %u, %u bit, %u channels)\n", file, tag, bits,
            channels);
    return 1;
  }
  printf("Playing WAVE '%s' : %u bit, Rate %u Hz, %s\n", file, bits, rate,
         channels == 1   ? "Mono"
         : channels == 2 ? "Stereo"
                         : "Multichannel");
  struct pcm pc;
  if (pcm_open(&pc, 0, fmt, channels, rate, 1)) return 1;
  unsigned char *buf = malloc((size_t)pc.period * pc.frame_bytes);
  struct wav_reader r = {f, pc.frame_bytes, size};
  struct play_stats ps;
  if (!buf) return 1;
  int rc = play_chunks(&pc, buf, wav_next, &r, &ps);
  close(pc.fd);
  play_result("wav", &pc, &ps);
  return rc ? 1 : 0;
}

/* ---- speaker-test ---- */

/* The sine repeats every rate / gcd(freq, rate) frames: one cycle of that, encoded once. */
struct sine {
  const struct format *fmt;
  unsigned channels, len, pos;
  unsigned long left;
  unsigned char *table; /* len samples */
};

static int sine_init(struct sine *s, const struct format *fmt, unsigned channels, unsigned freq,
                     unsigned rate, unsigned long frames) {
  unsigned a = freq % rate, b = rate;
  while (a) {
    unsigned t = b % a;
    b = a;
    a = t;
  }
  *s = (struct sine){fmt, channels, rate / b, 0, frames, NULL};
  s->table = malloc((size_t)s->len * fmt->bytes);
  if (!s->table) return -1;
  for (unsigned i = 0; i < s->len; i++)
    put_sample(s->table + (size_t)i * fmt->bytes, fmt,
               sin(2 * M_PI * (double)((unsigned long long)freq * i % rate) / rate) *
                   (8000.0 / 32768));
  return 0;
}

static unsigned sine_next(void *ctx, unsigned char *buf, unsigned frames) {
  struct sine *s = ctx;
  unsigned sb = s->fmt->bytes;
  if (frames > s->left) frames = s->left;
  for (unsigned i = 0; i < frames; i++) {
    for (unsigned c = 0; c < s->channels; c++)
      memcpy(buf + ((size_t)i * s->channels + c) * sb, s->table + (size_t)s->pos * sb, sb);
    if (++s->pos == s->len) s->pos = 0;
  }
  s->left -= frames;
  return frames;
}

/* The test ramp, `left` frames of it from frame `pos`. */
struct ramp {
  const struct format *fmt;
  unsigned channels;
  unsigned long pos, left;
};

static unsigned ramp_next(void *ctx, unsigned char *buf, unsigned frames) {
  struct ramp *r = ctx;
  unsigned sb = r->fmt->bytes;
  if (frames > r->left) frames = r->left;
  for (unsigned i = 0; i < frames; i++, r->pos++)
    for (unsigned c = 0; c < r->channels; c++)
      put_s16_value(buf + ((size_t)i * r->channels + c) * sb, r->fmt, ramp_value(r->pos, c));
  r->left -= frames;
  return frames;
}

static int speaker_test(const char *type, unsigned freq, double seconds, unsigned rate,
                        unsigned channels, const struct format *fmt) {
  int is_ramp = !strcmp(type, "ramp");
  unsigned long frames = (unsigned long)llround(seconds * rate);
  struct sine s;
  struct ramp r = {fmt, channels, 0, frames};
  if (!is_ramp && sine_init(&s, fmt, channels, freq, rate, frames)) return 1;
  struct pcm pc;
  if (pcm_open(&pc, 0, fmt, channels, rate, 1)) return 1;
  if (is_ramp)
    printf("speaker-test: the test ramp");
  else
    printf("speaker-test: %u Hz sine", freq);
  printf(", %g s, %u Hz, %u channel(s), %s, %u x %u frames\n", seconds, rate, channels, fmt->name,
         pc.periods, pc.period);
  fflush(stdout);
  unsigned char *buf = malloc((size_t)pc.period * pc.frame_bytes);
  struct play_stats ps;
  if (!buf) return 1;
  int rc = is_ramp ? play_chunks(&pc, buf, ramp_next, &r, &ps)
                   : play_chunks(&pc, buf, sine_next, &s, &ps);
  close(pc.fd);
  play_result(is_ramp ? "ramp" : "sine", &pc, &ps);
  return rc ? 1 : 0;
}

/* ---- arecord ---- */

static void wav_header(unsigned char *h, unsigned rate, unsigned channels, const struct format *f,
                       uint32_t bytes) {
  unsigned block = channels * f->bytes;
  memcpy(h, "RIFF", 4);
  uint32_t v[] = {36 + bytes};
  memcpy(h + 4, v, 4);
  memcpy(h + 8, "WAVEfmt ", 8);
  uint32_t fmt[] = {16, (f->is_float ? 3u : 1u) | channels << 16, rate, rate * block,
                    block | f->bits << 16};
  memcpy(h + 16, fmt, 20);
  memcpy(h + 36, "data", 4);
  memcpy(h + 40, &bytes, 4);
}

/* What arecord -V ramp found (see ramp_check). */
struct ramp_result {
  unsigned from;    /* the rate the ramp was fed at */
  unsigned checked; /* frames looked at */
  unsigned bad, breaks, offset_errors;
  long first_break;
  int max_dev; /* the largest deviation from the expected step, in S16 steps */
};

static unsigned gcd_u(unsigned a, unsigned b) {
  while (b) {
    unsigned t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* Frames a resampled ramp is not checked around a wrap or at the start: the resampler's reach. */
#define RAMP_GUARD 64

/*
 * Checks that `frames` recorded frames are the test ramp without a break,
 * integers only. Fed at the capture rate (from == rate): every frame must be
 * exactly one step above the last (mod 32768) on every channel, and channel
 * c exactly 2048 c above channel 0. Fed at another rate and resampled: the
 * ramp rises from/rate steps a frame, so frame i + w (w = rate/gcd) must be
 * from/gcd steps above frame i within 1, and the channels 2048 apart within
 * 1; not checked within RAMP_GUARD frames of the start or of a wrap (where
 * the band-limited resampler rings). A bad frame fails either check; a break
 * is a run of bad frames (a gap, a repeat, a stale period).
 */
static void ramp_check(const unsigned char *buf, unsigned frames, unsigned channels,
                       const struct format *f, unsigned rate, unsigned from,
                       struct ramp_result *r) {
  memset(r, 0, sizeof *r);
  r->from = from;
  r->first_break = -1;
  unsigned g = gcd_u(from, rate), w = from == rate ? 1 : rate / g;
  int step = from == rate ? 1 : (int)(from / g);
  unsigned guard = from == rate ? 0 : RAMP_GUARD;
#define S(i, c) (sample_s32(buf + ((size_t)(i)*channels + (c)) * f->bytes, f) >> 16)
  /* Resampled: a wrap is where channel 0 falls by more than a quarter of the ramp in a frame;
   * `wrap` is the latest one at or before `scan`, which runs ahead to i + w + guard. */
  long wrap = -(long)guard - 1;
  unsigned scan = 1;
  int prev_bad = 0;
  for (unsigned i = guard; i + w < frames; i++) {
    if (guard) {
      for (; scan < frames && scan <= i + w + guard; scan++)
        if (S(scan, 0) - S(scan - 1, 0) < -8192) wrap = scan;
      if (wrap + (long)guard >= (long)i) { /* a wrap within [i - guard, i + w + guard] */
        prev_bad = 0;
        continue;
      }
    }
    r->checked++;
    int bad = 0;
    for (unsigned c = 0; c < channels; c++) {
      int a = S(i, c), b = S(i + w, c);
      int dev = from == rate ? ((b - a) & 0x7fff) - step : b - a - step;
      if (dev < 0) dev = -dev;
      if (dev > r->max_dev) r->max_dev = dev;
      if (dev > (from == rate ? 0 : 1)) bad = 1;
      if (c > 0) {
        int off = a - S(i, 0) - RAMP_CHANNEL_STEP * (int)c;
        if (off > (from == rate ? 0 : 1) || off < (from == rate ? 0 : -1)) {
          r->offset_errors++;
          bad = 1;
        }
      }
    }
    if (bad) {
      r->bad++;
      if (!prev_bad) r->breaks++;
      if (r->first_break < 0) r->first_break = i;
    }
    prev_bad = bad;
  }
#undef S
}

static int arecord(const char *file, double seconds, unsigned rate, unsigned channels,
                   const struct format *fmt, unsigned check_from) {
  struct pcm pc;
  if (check_from && (fmt->is_float || fmt->bits < 16)) {
    fprintf(stderr, "arecord: -V ramp needs S16_LE, S24_3LE or S32_LE\n");
    return 2;
  }
  if (pcm_open(&pc, 1, fmt, channels, rate, 1)) return 1;
  unsigned total = (unsigned)llround(seconds * rate);
  unsigned char *buf = malloc((size_t)total * pc.frame_bytes + 1);
  if (!buf) return 1;
  if (fmt == FMT_S16)
    printf("Recording WAVE '%s' : Signed 16 bit Little Endian, Rate %u Hz, %u channel(s)\n", file,
           rate, channels);
  else
    printf("Recording WAVE '%s' : %s, Rate %u Hz, %u channel(s)\n", file, fmt->name, rate,
           channels);
  fflush(stdout);
  double t0 = now_ms();
  unsigned want = total;
  int rc = 0;
  for (total = 0; total < want && !rc;) {
    unsigned n = want - total < pc.period ? want - total : pc.period;
    if (!(rc = pcm_read(&pc, buf + (size_t)total * pc.frame_bytes, n))) total += n;
  }
  double wall = now_ms() - t0;
  ioctl(pc.fd, SNDRV_PCM_IOCTL_DROP);
  close(pc.fd);
  /* Peak and RMS (integers: of the top 16 bits, exact for S16) without per-sample floating point.
   */
  uint32_t peak_key = 0;
  int64_t sum16 = 0;
  double sumf = 0;
  for (size_t i = 0; i < (size_t)total * channels; i++) {
    const unsigned char *p = buf + i * fmt->bytes;
    uint32_t k = magnitude_key(p, fmt);
    if (k > peak_key) peak_key = k;
    if (fmt->is_float) {
      float v;
      memcpy(&v, p, 4);
      sumf += (double)v * v;
    } else {
      int32_t v = sample_s32(p, fmt) >> 16;
      sum16 += (int64_t)v * v;
    }
  }
  double n = (double)total * channels;
  double peak = key_value(peak_key, fmt);
  double rms = !total ? 0 : fmt->is_float ? sqrt(sumf / n) : sqrt((double)sum16 / n) / 32768;
  /* In S16 units, as before, whatever the format. */
  printf("captured %u frames: peak %d rms %.1f\n", total, (int)lround(peak * 32768), rms * 32768);
  FILE *f = fopen(file, "wb");
  unsigned char h[44];
  wav_header(h, rate, channels, fmt, total * pc.frame_bytes);
  if (!f || fwrite(h, 1, 44, f) != 44 || fwrite(buf, pc.frame_bytes, total, f) != total ||
      fclose(f)) {
    snprintf(pc.failed, sizeof pc.failed, "%s: %s", file, strerror(errno));
    fprintf(stderr, "%s\n", pc.failed);
    rc = -1;
  }
  result_head("capture", &pc);
  printf(",\"frames\":%u,\"xruns\":%lu,\"peak\":%.6f,\"rms\":%.6f,\"audio_ms\":%.1f,"
         "\"wall_ms\":%.1f",
         total, pc.xruns, peak, rms, total * 1000.0 / rate, wall);
  if (check_from) {
    struct ramp_result r;
    ramp_check(buf, total, channels, fmt, rate, check_from, &r);
    printf(",\"check\":\"ramp\",\"from\":%u,\"checked\":%u,\"bad_frames\":%u,\"breaks\":%u,"
           "\"first_break\":%ld,\"offset_errors\":%u,\"max_dev\":%d",
           r.from, r.checked, r.bad, r.breaks, r.first_break, r.offset_errors, r.max_dev);
  }
  printf("}\n");
  return rc ? 1 : 0;
}

/* ---- latency ---- */

/* -v: what the loop saw, kept in memory and printed after the run (printing would slow it). */
static struct {
  double ms;
  char what;
  unsigned long cap_hw, cap_appl, pb_hw, pb_appl;
} traced[8192];
static unsigned n_traced;

/* ev 0 starts a new trace; 's' after START, 'r' after a read, 'w' after a write, 'e' at the end. */
static void trace(char ev, struct pcm *pb, struct pcm *cp) {
  if (!opt_verbose) return;
  if (!ev) {
    n_traced = 0;
    return;
  }
  if (n_traced == sizeof traced / sizeof traced[0]) return;
  struct snd_pcm_status sp, sc;
  pcm_queued(pb, &sp);
  pcm_queued(cp, &sc);
  traced[n_traced++] =
      (typeof(traced[0])){now_ms(), ev, sc.hw_ptr, sc.appl_ptr, sp.hw_ptr, sp.appl_ptr};
}

static void trace_print(void) {
  for (unsigned i = 0; i < n_traced; i++)
    fprintf(stderr, "%9.1f ms %c capture hw %6lu appl %6lu  playback hw %6lu appl %6lu\n",
            traced[i].ms - traced[0].ms, traced[i].what, traced[i].cap_hw, traced[i].cap_appl,
            traced[i].pb_hw, traced[i].pb_appl);
}

struct latency_run {
  int found;
  long capture_pos; /* capture-stream frame of the impulse's peak */
  long second_pos;  /* the loudest frame more than 64 frames away from it (-1: silence) */
  double peak, ratio;
  long write_ahead; /* impulse frame - playback hw_ptr right after it was written */
  long read_lag;    /* capture hw_ptr when the impulse's period was read - the impulse's frame */
  long skew;        /* playback start - capture start, frames (0 when linked) */
};

/* Buffers of one measurement: the whole capture is kept and only looked at after the run. */
struct latency_bufs {
  unsigned long impulse_at, total;  /* playback frame of the impulse; capture frames to take */
  unsigned char *silence, *impulse; /* one period each: silence, and silence with the impulse */
  unsigned char *captured;          /* total frames, rounded up to whole periods */
  unsigned long *read_hw;           /* per capture period: the capture hw_ptr when it was read */
};

/* Writes playback period `written`..+period: the impulse's period or silence. */
static int latency_write(struct pcm *pb, const struct latency_bufs *b, unsigned long written) {
  int has = b->impulse_at >= written && b->impulse_at < written + pb->period;
  if (has) {
    memcpy(b->impulse, b->silence, (size_t)pb->period * pb->frame_bytes);
    for (unsigned c = 0; c < pb->channels; c++)
      put_sample(b->impulse + ((b->impulse_at - written) * pb->channels + c) * pb->fmt->bytes,
                 pb->fmt, 0.5);
  }
  return pcm_write(pb, has ? b->impulse : b->silence, pb->period);
}

/*
 * One attempt: prepare both, fill the playback buffer, start both, then
 * read capture and write playback periods until `total` capture frames are
 * in (nothing else in the loop: an emulated CPU is slow), then find the
 * impulse. -1: error, 1: an xrun or stall (try again), 0: done.
 */
static int latency_once(struct pcm *pb, struct pcm *cp, int linked, const struct latency_bufs *b,
                        struct latency_run *r) {
  memset(r, 0, sizeof *r);
  r->write_ahead = -1;
  r->read_lag = -1;
  if (ioctl(pb->fd, SNDRV_PCM_IOCTL_PREPARE) < 0 || ioctl(cp->fd, SNDRV_PCM_IOCTL_PREPARE) < 0) {
    snprintf(pb->failed, sizeof pb->failed, "PREPARE: %s", strerror(errno));
    fprintf(stderr, "%s\n", pb->failed);
    return -1;
  }
  unsigned long written = 0;
  for (unsigned i = 0; i < pb->periods; i++, written += pb->period)
    if (latency_write(pb, b, written)) return -1; /* not started yet: cannot underrun */
  trace(0, NULL, NULL);
  if (ioctl(cp->fd, SNDRV_PCM_IOCTL_START) < 0) {
    snprintf(pb->failed, sizeof pb->failed, "START (capture): %s", strerror(errno));
    fprintf(stderr, "%s\n", pb->failed);
    return -1;
  }
  struct snd_pcm_status sp, sc;
  if (!linked) {
    if (ioctl(pb->fd, SNDRV_PCM_IOCTL_START) < 0) {
      snprintf(pb->failed, sizeof pb->failed, "START (playback): %s", strerror(errno));
      fprintf(stderr, "%s\n", pb->failed);
      return -1;
    }
    pcm_queued(pb, &sp);
    pcm_queued(cp, &sc);
    double d = (sp.trigger_tstamp.tv_sec - sc.trigger_tstamp.tv_sec) +
               (sp.trigger_tstamp.tv_nsec - sc.trigger_tstamp.tv_nsec) / 1e9;
    r->skew = lround(d * pb->rate);
  }
  trace('s', pb, cp);
  /*
   * Both non-blocking: a period is read as soon as one is captured and one is
   * written as soon as there is room, so playback stays as full as it can
   * whatever capture does (a 6.1 guest re-queues a period before it is
   * written: the sooner it is written, the less likely the device reads it stale).
   */
  int rc = 0;
  unsigned ms = pb->buffer * 1100ull / pb->rate;
  for (unsigned long got = 0; got < b->total && !rc;) {
    struct pollfd fds[2] = {{cp->fd, POLLIN, 0}, {pb->fd, POLLOUT, 0}};
    int n = poll(fds, 2, ms > 100 ? (int)ms : 100);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      snprintf(pb->failed, sizeof pb->failed, "poll: %s", strerror(errno));
      rc = -1;
      break;
    }
    if (n == 0) {
      pb->stalls++;
      fprintf(stderr, "stall!!! (no period in time)\n");
      rc = 1;
      break;
    }
    if (fds[0].revents) {
      b->read_hw[got / cp->period] = pcm_queued(cp, &sc) >= 0 ? sc.hw_ptr : 0;
      if ((rc = pcm_read(cp, b->captured + (size_t)got * cp->frame_bytes, cp->period))) break;
      got += cp->period;
      trace('r', pb, cp);
    }
    if (fds[1].revents) {
      if ((rc = latency_write(pb, b, written))) break;
      if (b->impulse_at >= written && b->impulse_at < written + pb->period &&
          pcm_queued(pb, &sp) >= 0)
        r->write_ahead = (long)(b->impulse_at - sp.hw_ptr);
      written += pb->period;
      trace('w', pb, cp);
    }
  }
  trace('e', pb, cp);
  ioctl(cp->fd, SNDRV_PCM_IOCTL_DROP);
  ioctl(pb->fd, SNDRV_PCM_IOCTL_DROP);
  trace_print();
  if (rc) return rc;
  /* The loudest frame (any channel), and the loudest more than 64 frames away from it. */
  uint32_t best_key = 0, second = 0;
  unsigned long best = 0;
  r->second_pos = -1;
  for (int pass = 0; pass < 2; pass++) {
    for (unsigned long i = 0; i < b->total; i++) {
      uint32_t m = 0;
      for (unsigned c = 0; c < cp->channels; c++) {
        uint32_t k =
            magnitude_key(b->captured + ((size_t)i * cp->channels + c) * cp->fmt->bytes, cp->fmt);
        if (k > m) m = k;
      }
      if (pass == 0 && m > best_key) {
        best_key = m;
        best = i;
      } else if (pass == 1 && (i + 64 < best || i > best + 64) && m > second) {
        second = m;
        r->second_pos = (long)i;
      }
    }
  }
  r->peak = key_value(best_key, cp->fmt);
  r->ratio = second > 0 ? r->peak / key_value(second, cp->fmt) : INFINITY;
  r->capture_pos = (long)best;
  r->read_lag = (long)b->read_hw[best / cp->period] - (long)best;
  r->found = r->peak >= 0.05 && r->ratio >= 4;
  return 0;
}

static int latency(unsigned rate, unsigned channels, const struct format *fmt, double impulse_ms,
                   double window_ms, unsigned tries) {
  struct pcm pb, cp;
  if (pcm_open(&pb, 0, fmt, channels, rate, 0) || pcm_open(&cp, 1, fmt, channels, rate, 0))
    return 1;
  pb.no_recover = cp.no_recover = 1; /* an xrun stops both (linked): the attempt starts over */
  if (fcntl(pb.fd, F_SETFL, O_NONBLOCK) < 0 || fcntl(cp.fd, F_SETFL, O_NONBLOCK) < 0) return 1;
  int linked = ioctl(cp.fd, SNDRV_PCM_IOCTL_LINK, pb.fd) == 0;
  if (!linked) fprintf(stderr, "LINK: %s (starting capture, then playback)\n", strerror(errno));
  struct latency_bufs b;
  b.impulse_at = (unsigned long)llround(impulse_ms * rate / 1000);
  b.total = b.impulse_at + (unsigned long)llround(window_ms * rate / 1000);
  size_t period_bytes = (size_t)pb.period * pb.frame_bytes;
  b.silence = malloc(period_bytes);
  b.impulse = malloc(period_bytes);
  b.captured = malloc((b.total + cp.period) * cp.frame_bytes);
  b.read_hw = calloc(b.total / cp.period + 2, sizeof *b.read_hw);
  if (!b.silence || !b.impulse || !b.captured || !b.read_hw) return 1;
  put_silence(b.silence, fmt, (size_t)pb.period * channels);
  printf("latency: impulse at playback frame %lu, capturing %lu frames, %u Hz, %u channel(s), %s, "
         "%u x %u frames, %s\n",
         b.impulse_at, b.total, rate, channels, fmt->name, pb.periods, pb.period,
         linked ? "linked" : "not linked");
  fflush(stdout);
  struct latency_run r = {0};
  unsigned attempt = 0;
  int rc = 1;
  while (attempt < tries) {
    attempt++;
    rc = latency_once(&pb, &cp, linked, &b, &r);
    if (rc != 1) break;
  }
  if (linked) ioctl(cp.fd, SNDRV_PCM_IOCTL_UNLINK);
  close(pb.fd);
  close(cp.fd);
  int ok = rc == 0 && r.found;
  if (!pb.failed[0] && cp.failed[0]) memcpy(pb.failed, cp.failed, sizeof pb.failed);
  if (!pb.failed[0] && rc == 1)
    snprintf(pb.failed, sizeof pb.failed, "an xrun or stall in every attempt");
  if (!pb.failed[0] && !ok) snprintf(pb.failed, sizeof pb.failed, "no impulse in the capture");
  pb.stalls += cp.stalls;
  long frames = r.capture_pos - (long)b.impulse_at - r.skew;
  /* From the application's write of the impulse to its read of it, on the audio clock. */
  long roundtrip = ok && r.write_ahead >= 0 && r.read_lag >= 0 ? frames + r.write_ahead + r.read_lag : -1;
  char ratio[32];
  if (isinf(r.ratio))
    snprintf(ratio, sizeof ratio, "null");
  else
    snprintf(ratio, sizeof ratio, "%.1f", r.ratio);
  result_head("latency", &pb);
  printf(",\"found\":%s,\"frames\":%ld,\"ms\":%.3f,\"impulse_at\":%lu,\"captured_at\":%ld,"
         "\"second_at\":%ld,\"skew\":%ld,\"linked\":%s,\"write_ahead\":%ld,\"app_frames\":%ld,"
         "\"read_lag\":%ld,\"roundtrip_frames\":%ld,\"roundtrip_ms\":%.3f,\"peak\":%.4f,"
         "\"ratio\":%s,\"xruns\":%lu,\"play_xruns\":%lu,\"capture_xruns\":%lu,\"attempts\":%u}\n",
         ok ? "true" : "false", ok ? frames : -1, ok ? frames * 1000.0 / rate : -1.0, b.impulse_at,
         rc == 0 ? r.capture_pos : -1, rc == 0 ? r.second_pos : -1, r.skew,
         linked ? "true" : "false", r.write_ahead,
         ok && r.write_ahead >= 0 ? frames + r.write_ahead : -1, ok ? r.read_lag : -1, roundtrip,
         roundtrip >= 0 ? roundtrip * 1000.0 / rate : -1.0, r.peak, ratio, pb.xruns + cp.xruns,
         pb.xruns, cp.xruns, attempt);
  if (!ok && rc == 0)
    fprintf(stderr, "latency: no impulse in the capture (is the output routed to the input?)\n");
  return ok ? 0 : 1;
}

/* ---- main ---- */

static int usage(const char *name) {
  fprintf(stderr,
          "usage: %s [-D hw:C,D] [-p period_frames] [-n periods] [-r rate] [-c channels] ...\n"
          "  aplay file.wav | arecord [-d sec] [-f fmt] [-V ramp[@hz]] file.wav |\n"
          "  speaker-test [-f hz] [-s sec] [-F fmt] [-t sine|ramp] |\n"
          "  latency [-F fmt] [-i ms] [-w ms] [-t tries]\n"
          "  formats: U8 S16_LE S24_3LE S32_LE FLOAT_LE\n",
          name);
  return 2;
}

int main(int argc, char **argv) {
  const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
  if (!strcmp(name, "vsnd")) {
    if (argc < 2) return usage(name);
    name = argv[1];
    argv++;
    argc--;
  }
  int is_aplay = !strcmp(name, "aplay"), is_arecord = !strcmp(name, "arecord"),
      is_speaker = !strcmp(name, "speaker-test"), is_latency = !strcmp(name, "latency");
  if (!is_aplay && !is_arecord && !is_speaker && !is_latency) return usage(name);
  double seconds = 2, impulse_ms = 500, window_ms = 1000;
  unsigned rate = 48000, channels = 2, freq = 440, tries = 3;
  const char *fmt_name = "S16_LE", *test_type = "sine", *check = NULL;
  int opt;
  while ((opt = getopt(argc, argv, "D:d:r:c:f:F:s:t:l:p:n:i:w:vV:")) != -1) {
    /* -l (speaker-test's loops) is accepted and ignored. */
    switch (opt) {
    case 'D': {
      static char card[8], num[8];
      if (sscanf(optarg, "hw:%7[0-9],%7[0-9]", card, num) == 2) {
        dev_card = card;
        dev_num = num;
      }
      break;
    }
    case 'd':
    case 's': seconds = atof(optarg); break;
    case 'r': rate = atoi(optarg); break;
    case 'c': channels = atoi(optarg); break;
    case 'f': /* arecord: the format, as alsa-utils' arecord; speaker-test: the frequency */
      if (is_speaker)
        freq = atoi(optarg);
      else
        fmt_name = optarg;
      break;
    case 'F': fmt_name = optarg; break;
    case 'p': opt_period = atoi(optarg); break;
    case 'n': opt_periods = atoi(optarg); break;
    case 'i': impulse_ms = atof(optarg); break;
    case 'w': window_ms = atof(optarg); break;
    case 't':
      if (is_latency) tries = atoi(optarg);
      if (is_speaker) test_type = optarg;
      break;
    case 'V': check = optarg; break;
    case 'l': break;
    case 'v': opt_verbose = 1; break;
    default: return usage(name);
    }
  }
  const struct format *fmt = format_by_name(fmt_name);
  /* -V ramp (fed at the capture rate) or -V ramp@HZ. */
  unsigned check_from = 0;
  if (check && !strcmp(check, "ramp"))
    check_from = rate;
  else if (check && !strncmp(check, "ramp@", 5))
    check_from = (unsigned)atoi(check + 5);
  if (!fmt || !rate || !channels || !opt_period || opt_periods < 2 || seconds <= 0 || tries < 1 ||
      impulse_ms < 0 || window_ms <= 0 || (check && !check_from) ||
      (strcmp(test_type, "sine") && strcmp(test_type, "ramp"))) {
    fprintf(stderr, "%s: bad option value\n", name);
    return usage(name);
  }
  if (is_speaker) return speaker_test(test_type, freq, seconds, rate, channels, fmt);
  if (is_latency) return latency(rate, channels, fmt, impulse_ms, window_ms, tries);
  if (optind >= argc) return usage(name);
  if (is_arecord) return arecord(argv[optind], seconds, rate, channels, fmt, check_from);
  return aplay(argv[optind]);
}
