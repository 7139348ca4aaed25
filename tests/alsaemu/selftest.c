/**
 * @file selftest.c  dspemu-selftest: measures the emulated DSP card
 * through plain alsa-lib, by device name, the way the bridge's hw/
 * layer sees it. tests/integ/t_dspemu.sh runs it and judges the
 * figures.
 *
 * Usage: dspemu-selftest CHECK DEVICE [STATEFILE [ARG]]
 * with ALSA_CONFIG_PATH naming the asoundrc that tests/alsaemu/
 * asoundrc.sh wrote. Checks (all print key=value lines):
 *   caps DEV          card info, the controls, the volume TLV's range
 *   erle DEV STATE    echo of -20 dBFS white noise, AEC off then on
 *   echo DEV STATE    the same with the device's echo control on (a
 *                     switch, or always on): how far down the echo is
 *   ns DEV STATE      noise floor (p10 of 20 ms levels), NS off then on
 *   agc DEV STATE     a -40 dBFS talker (p90 of levels), AGC off, on
 *   volume DEV STATE  TLV dB per step; measured capture volume steps
 *                     (-6, +6 dB) and playback volume step (-10 dB)
 *   level DEV STATE   the talker alone: its active level
 *   same DEV STATE    determinism: two runs with read/write access and
 *                     one with mmap access give the same samples
 *   unplug DEV STATE  unplug mid-stream: errors, state, poll, controls;
 *                     replug: reopen, controls back at power-on values
 *   openerr DEV       what snd_pcm_open and snd_ctl_open return now
 *   events DEV        a control written on one handle wakes another
 *                     handle's poll; no wake-up while nothing changes
 *   pool DEV STATE    8 sites through the conference DSP: echo reduction
 *                     and talker per channel; the processing delay
 *   rate DEV STATE S  real-time clock: frames per second over S seconds
 *                     against CLOCK_MONOTONIC, as ppm off nominal
 *   xrun DEV STATE    real-time: a stalled reader and a stalled writer
 *                     get -EPIPE; snd_pcm_prepare recovers
 * The room is set through the state file (as dspemu-fault set does):
 * it is the test's fixture, not the interface under test.
 * Exit status: 0, or 1 when the device could not be used at all.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <alsa/asoundlib.h>

#include "dspemu.h"

#define RATE     16000
#define PERIOD   320                 /* 20 ms, as hw/ uses */
#define PERIODS  4
#define BLK      (RATE / 50)         /* 20 ms level blocks */

struct duplex {
	snd_pcm_t *play, *cap;
	unsigned chp, chc;
	int16_t *pbuf, *cbuf;            /* one period */
	int16_t *rec;                    /* everything captured */
	size_t rec_frames, rec_len;      /* frames kept, capacity */
	unsigned xruns;                  /* recovered, real time */
};

/* ---- small things ------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static float white(uint64_t *s)
{
	uint64_t r = rng_next(s);
	float a = 0.0f;
	int i;

	for (i = 0; i < 4; i++, r >>= 16)
		a += (float)(r & 0xffff) / 65535.0f;
	return (a - 2.0f) * 1.7320508f;
}

static int16_t clip16(float v)
{
	if (v > 32767.0f)
		return 32767;
	if (v < -32768.0f)
		return -32768;
	return (int16_t)lrintf(v);
}

static double dbfs(const int16_t *v, size_t n, size_t stride)
{
	double e = 0.0;
	size_t i;

	for (i = 0; i < n; i++)
		e += (double)v[i * stride] * v[i * stride];
	e /= n ? (double)n : 1.0;
	return e > 0.0 ? 10.0 * log10(e / (32768.0 * 32768.0)) : -200.0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* percentile q of the 20 ms block levels of channel 0 over [t0, t1) s */
static double pct_db(const struct duplex *d, double t0, double t1, double q)
{
	size_t a = (size_t)(t0 * RATE), b = (size_t)(t1 * RATE), n = 0, i;
	double *lv, r;

	if (b > d->rec_frames)
		b = d->rec_frames;
	if (b <= a + BLK)
		return -200.0;
	lv = calloc((b - a) / BLK, sizeof(*lv));
	if (!lv)
		return -200.0;
	for (i = a; i + BLK <= b; i += BLK)
		lv[n++] = dbfs(d->rec + i * d->chc, BLK, d->chc);
	qsort(lv, n, sizeof(*lv), cmp_double);
	r = lv[(size_t)(q * (double)(n - 1))];
	free(lv);
	return r;
}

static double win_db(const struct duplex *d, unsigned ch, double t0,
		     double t1)
{
	size_t a = (size_t)(t0 * RATE), b = (size_t)(t1 * RATE);

	if (b > d->rec_frames)
		b = d->rec_frames;
	if (b <= a)
		return -200.0;
	return dbfs(d->rec + a * d->chc + ch, b - a, d->chc);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- devices ------------------------------------------------------------ */

static int pcm_open(snd_pcm_t **hp, const char *dev, snd_pcm_stream_t dir,
		    unsigned ch, snd_pcm_access_t acc, unsigned rate)
{
	snd_pcm_hw_params_t *hw;
	snd_pcm_uframes_t period = PERIOD * rate / RATE;
	snd_pcm_uframes_t buffer = period * PERIODS;
	snd_pcm_t *h;
	int err;

	err = snd_pcm_open(&h, dev, dir, 0);
	if (err < 0)
		return err;
	snd_pcm_hw_params_alloca(&hw);
	snd_pcm_hw_params_any(h, hw);
	err = snd_pcm_hw_params_set_access(h, hw, acc);
	if (!err)
		err = snd_pcm_hw_params_set_format(h, hw,
						   SND_PCM_FORMAT_S16_LE);
	if (!err)
		err = snd_pcm_hw_params_set_channels(h, hw, ch);
	if (!err)
		err = snd_pcm_hw_params_set_rate(h, hw, rate, 0);
	if (!err)
		err = snd_pcm_hw_params_set_period_size_near(h, hw, &period,
							     NULL);
	if (!err)
		err = snd_pcm_hw_params_set_buffer_size_near(h, hw, &buffer);
	if (!err)
		err = snd_pcm_hw_params(h, hw);
	if (err < 0) {
		fprintf(stderr, "selftest: %s: hw params: %s\n", dev,
			snd_strerror(err));
		snd_pcm_close(h);
		return err;
	}
	*hp = h;
	return 0;
}

static int xfer_read(snd_pcm_t *h, int16_t *v, size_t n, unsigned ch,
		     bool mmap)
{
	while (n) {
		snd_pcm_sframes_t r = mmap ? snd_pcm_mmap_readi(h, v, n) :
			snd_pcm_readi(h, v, n);

		if (r < 0)
			return (int)r;
		v += (size_t)r * ch;
		n -= (size_t)r;
	}
	return 0;
}

static int xfer_write(snd_pcm_t *h, const int16_t *v, size_t n, unsigned ch,
		      bool mmap)
{
	while (n) {
		snd_pcm_sframes_t r = mmap ? snd_pcm_mmap_writei(h, v, n) :
			snd_pcm_writei(h, v, n);

		if (r < 0)
			return (int)r;
		v += (size_t)r * ch;
		n -= (size_t)r;
	}
	return 0;
}

static void duplex_close(struct duplex *d)
{
	if (d->play)
		snd_pcm_close(d->play);
	if (d->cap)
		snd_pcm_close(d->cap);
	free(d->pbuf);
	free(d->cbuf);
	free(d->rec);
	memset(d, 0, sizeof(*d));
}

static int duplex_open(struct duplex *d, const char *dev, unsigned chp,
		       unsigned chc, snd_pcm_access_t acc, double secs)
{
	int err;

	memset(d, 0, sizeof(*d));
	d->chp = chp;
	d->chc = chc;
	err = pcm_open(&d->play, dev, SND_PCM_STREAM_PLAYBACK, chp, acc,
		       RATE);
	if (!err)
		err = pcm_open(&d->cap, dev, SND_PCM_STREAM_CAPTURE, chc, acc,
			       RATE);
	if (err)
		goto out;
	d->rec_len = (size_t)(secs * RATE) + PERIOD;
	d->pbuf = calloc((size_t)PERIOD * chp, sizeof(int16_t));
	d->cbuf = calloc((size_t)PERIOD * chc, sizeof(int16_t));
	d->rec = calloc(d->rec_len * chc, sizeof(int16_t));
	if (!d->pbuf || !d->cbuf || !d->rec) {
		err = -ENOMEM;
		goto out;
	}
	/* prime the playback with two periods, as with a real card */
	err = xfer_write(d->play, d->pbuf, PERIOD, chp,
			 acc == SND_PCM_ACCESS_MMAP_INTERLEAVED);
	if (!err)
		err = xfer_write(d->play, d->pbuf, PERIOD, chp,
				 acc == SND_PCM_ACCESS_MMAP_INTERLEAVED);
 out:
	if (err) {
		fprintf(stderr, "selftest: %s: open: %s\n", dev,
			snd_strerror(err));
		duplex_close(d);
	}
	return err;
}

/* fills one period of playback (d->pbuf) for stream time t frames */
typedef void (gen_h)(struct duplex *d, size_t t, void *arg);

/* Read a period, then write one: the application's loop. */
/* An xrun (a loaded machine missed a real-time deadline): recover as
 * an application does, playback primed again; the run goes on. */
static int duplex_recover(struct duplex *d, bool mmap)
{
	int err;

	d->xruns++;
	fprintf(stderr, "selftest: xrun, recovered\n");
	err = snd_pcm_prepare(d->cap);
	if (!err)
		err = snd_pcm_prepare(d->play);
	memset(d->pbuf, 0, (size_t)PERIOD * d->chp * sizeof(int16_t));
	if (!err)
		err = xfer_write(d->play, d->pbuf, PERIOD, d->chp, mmap);
	if (!err)
		err = xfer_write(d->play, d->pbuf, PERIOD, d->chp, mmap);
	return err;
}

/* Read a period, then write one: the application's loop. */
static int duplex_run(struct duplex *d, double secs, gen_h *gen, void *arg,
		      bool mmap)
{
	size_t blocks = (size_t)(secs * RATE / PERIOD), b;
	int err;

	for (b = 0; b < blocks; b++) {
		err = xfer_read(d->cap, d->cbuf, PERIOD, d->chc, mmap);
		if (err == -EPIPE && d->xruns < 3)
			err = duplex_recover(d, mmap);
		if (err) {
			fprintf(stderr, "selftest: read: %s\n",
				snd_strerror(err));
			return err;
		}
		if (d->rec_frames + PERIOD <= d->rec_len) {
			memcpy(d->rec + d->rec_frames * d->chc, d->cbuf,
			       (size_t)PERIOD * d->chc * sizeof(int16_t));
			d->rec_frames += PERIOD;
		}
		if (gen)
			gen(d, d->rec_frames - PERIOD, arg);
		else
			memset(d->pbuf, 0, (size_t)PERIOD * d->chp * 2);
		err = xfer_write(d->play, d->pbuf, PERIOD, d->chp, mmap);
		if (err == -EPIPE && d->xruns < 3)
			err = duplex_recover(d, mmap);
		if (err) {
			fprintf(stderr, "selftest: write: %s\n",
				snd_strerror(err));
			return err;
		}
	}
	return 0;
}

/* @return what snd_ctl_elem_write returns: 1 changed, 0 not, or < 0 */
static int ctl_write(snd_ctl_t *c, const char *name, long v)
{
	snd_ctl_elem_value_t *val;

	snd_ctl_elem_value_alloca(&val);
	snd_ctl_elem_value_set_interface(val, SND_CTL_ELEM_IFACE_MIXER);
	snd_ctl_elem_value_set_name(val, name);
	snd_ctl_elem_value_set_integer(val, 0, v);
	return snd_ctl_elem_write(c, val);
}

static int ctl_set(snd_ctl_t *c, const char *name, long v)
{
	int err = ctl_write(c, name, v);

	if (err < 0)
		fprintf(stderr, "selftest: write %s: %s\n", name,
			snd_strerror(err));
	return err;
}

static int ctl_get(snd_ctl_t *c, const char *name, long *v)
{
	snd_ctl_elem_value_t *val;
	int err;

	snd_ctl_elem_value_alloca(&val);
	snd_ctl_elem_value_set_interface(val, SND_CTL_ELEM_IFACE_MIXER);
	snd_ctl_elem_value_set_name(val, name);
	err = snd_ctl_elem_read(c, val);
	if (!err)
		*v = snd_ctl_elem_value_get_integer(val, 0);
	return err;
}

/* the fixture: the room through the state file */
static int room(const char *path, const char *kv)
{
	struct dspemu_state *st;
	char key[32], value[32];
	const char *p = kv;
	int n, err;

	err = dspemu_state_open(&st, path, NULL, false);
	if (err)
		return err;
	while (sscanf(p, "%31s %31s%n", key, value, &n) == 2) {
		err = dspemu_state_set_key(st, key, value);
		if (err)
			fprintf(stderr, "selftest: set %s %s: %s\n", key,
				value, strerror(err));
		p += n;
	}
	dspemu_state_close(st);
	return 0;
}

static bool ctl_has(snd_ctl_t *c, const char *name)
{
	snd_ctl_elem_info_t *info;

	snd_ctl_elem_info_alloca(&info);
	snd_ctl_elem_info_set_interface(info, SND_CTL_ELEM_IFACE_MIXER);
	snd_ctl_elem_info_set_name(info, name);
	return snd_ctl_elem_info(c, info) == 0;
}

/* the AGC's switch, under either name set */
static const char *agc_name(snd_ctl_t *c)
{
	return ctl_has(c, "AGC Switch") ? "AGC Switch" :
		"Mic Capture Auto Gain Control";
}

/* the processing switches the device has */
static int switches(snd_ctl_t *c, long aec, long ns, long agc)
{
	static const char *const names[] = {
		"Echo Cancel Switch", "Noise Suppression Switch",
	};
	const long v[] = {aec, ns};
	unsigned i;
	int err;

	for (i = 0; i < 2; i++) {
		if (!ctl_has(c, names[i]))
			continue;
		err = ctl_set(c, names[i], v[i]);
		if (err < 0)
			return err;
	}
	if (!ctl_has(c, agc_name(c)))
		return 0;
	err = ctl_set(c, agc_name(c), agc);
	return err < 0 ? err : 0;
}

static void gen_noise(struct duplex *d, size_t t, void *arg)
{
	uint64_t *seed = arg;
	unsigned i, c;

	(void)t;
	for (i = 0; i < PERIOD; i++) {
		int16_t s = clip16(white(seed) * 3276.8f);   /* -20 dBFS */

		for (c = 0; c < d->chp; c++)
			d->pbuf[i * d->chp + c] = s;
	}
}

/* ---- checks ------------------------------------------------------------- */

static int check_caps(const char *dev)
{
	snd_ctl_t *c;
	snd_ctl_card_info_t *info;
	snd_ctl_elem_list_t *list;
	snd_ctl_elem_id_t *id;
	unsigned i, n, nsw = 0;
	unsigned int tlv[64];
	long mn, mx;
	int err;

	err = snd_ctl_open(&c, dev, 0);
	if (err < 0) {
		printf("ctl_open=%d\n", err);
		return 1;
	}
	snd_ctl_card_info_alloca(&info);
	snd_ctl_card_info(c, info);
	printf("card_id=%s\ndriver=%s\ncard_name=%s\nmixername=%s\n",
	       snd_ctl_card_info_get_id(info),
	       snd_ctl_card_info_get_driver(info),
	       snd_ctl_card_info_get_name(info),
	       snd_ctl_card_info_get_mixername(info));
	snd_ctl_elem_list_alloca(&list);
	snd_ctl_elem_list(c, list);
	n = snd_ctl_elem_list_get_count(list);
	snd_ctl_elem_list_alloc_space(list, n);
	snd_ctl_elem_list(c, list);
	printf("controls=%u\nnames=", n);
	snd_ctl_elem_id_alloca(&id);
	for (i = 0; i < n; i++) {
		const char *name = snd_ctl_elem_list_get_name(list, i);

		printf("%s%s", i ? "," : "", name);
		if (strstr(name, "Switch"))
			nsw++;
	}
	printf("\nswitches=%u\n", nsw);
	snd_ctl_elem_list_free_space(list);
	snd_ctl_elem_id_set_interface(id, SND_CTL_ELEM_IFACE_MIXER);
	snd_ctl_elem_id_set_name(id, "Capture Volume");
	if (snd_ctl_elem_tlv_read(c, id, tlv, sizeof(tlv)) == 0 &&
	    snd_tlv_get_dB_range(tlv, 0, DSPEMU_VOL_MAX, &mn, &mx) == 0)
		printf("tlv_db=%.2f..%.2f\n", mn / 100.0, mx / 100.0);
	else
		printf("tlv_db=none\n");
	snd_ctl_close(c);
	return 0;
}

static int check_erle(const char *dev, const char *state)
{
	struct duplex d;
	snd_ctl_t *c;
	uint64_t seed = 1;
	double off, on;
	int err;

	if (duplex_open(&d, dev, 1, 1, SND_PCM_ACCESS_RW_INTERLEAVED, 7.0))
		return 1;
	err = snd_ctl_open(&c, dev, 0);
	if (err < 0) {
		duplex_close(&d);
		return 1;
	}
	room(state, "near_db -200 noise_db -70 echo_db -10 pink 1");
	switches(c, 0, 0, 0);
	err = duplex_run(&d, 2.0, gen_noise, &seed, false);
	if (!err) {
		switches(c, 1, 0, 0);
		err = duplex_run(&d, 5.0, gen_noise, &seed, false);
	}
	off = win_db(&d, 0, 1.0, 2.0);
	on = win_db(&d, 0, 5.5, 7.0);
	printf("aec_off_dbfs=%.2f\naec_on_dbfs=%.2f\nerle_db=%.2f\n",
	       off, on, off - on);
	snd_ctl_close(c);
	duplex_close(&d);
	return err ? 1 : 0;
}

/* Far-end noise at -20 dBFS through the room, with whatever echo
 * control the device has switched on (or always on): how far below
 * the far end the echo comes back. */
static int check_echo(const char *dev, const char *state)
{
	struct duplex d;
	snd_ctl_t *c;
	uint64_t seed = 11;
	double echo;
	int err;

	if (duplex_open(&d, dev, 1, 1, SND_PCM_ACCESS_RW_INTERLEAVED, 5.0))
		return 1;
	err = snd_ctl_open(&c, dev, 0);
	if (err < 0) {
		duplex_close(&d);
		return 1;
	}
	room(state, "near_db -200 noise_db -70 echo_db -10 pink 1");
	switches(c, 1, 0, 0);
	err = duplex_run(&d, 5.0, gen_noise, &seed, false);
	echo = win_db(&d, 0, 3.5, 5.0);
	printf("echo_dbfs=%.2f\nreturn_loss_db=%.2f\n", echo,
	       20.0 * log10(0.1) - echo);
	switches(c, 0, 0, 0);
	snd_ctl_close(c);
	duplex_close(&d);
	return err ? 1 : 0;
}

static int check_ns(const char *dev, const char *state)
{
	struct duplex d;
	snd_ctl_t *c;
	double off, on;
	int err;

	if (duplex_open(&d, dev, 1, 1, SND_PCM_ACCESS_RW_INTERLEAVED, 5.0))
		return 1;
	err = snd_ctl_open(&c, dev, 0);
	if (err < 0) {
		duplex_close(&d);
		return 1;
	}
	room(state, "near_db -26 noise_db -45 echo_db -200 pink 1");
	switches(c, 0, 0, 0);
	err = duplex_run(&d, 2.0, NULL, NULL, false);
	if (!err) {
		switches(c, 0, 1, 0);
		err = duplex_run(&d, 3.0, NULL, NULL, false);
	}
	off = pct_db(&d, 0.2, 2.0, 0.1);
	on = pct_db(&d, 3.0, 5.0, 0.1);
	printf("floor_off_dbfs=%.2f\nfloor_on_dbfs=%.2f\nns_db=%.2f\n",
	       off, on, off - on);
	printf("speech_off_dbfs=%.2f\nspeech_on_dbfs=%.2f\n",
	       pct_db(&d, 0.2, 2.0, 0.9), pct_db(&d, 3.0, 5.0, 0.9));
	snd_ctl_close(c);
	duplex_close(&d);
	return err ? 1 : 0;
}

static int check_agc(const char *dev, const char *state)
{
	struct duplex d;
	snd_ctl_t *c;
	double off, on;
	int err;

	if (duplex_open(&d, dev, 1, 1, SND_PCM_ACCESS_RW_INTERLEAVED, 6.0))
		return 1;
	err = snd_ctl_open(&c, dev, 0);
	if (err < 0) {
		duplex_close(&d);
		return 1;
	}
	room(state, "near_db -40 noise_db -75 echo_db -200 pink 1");
	switches(c, 0, 0, 0);
	if (ctl_has(c, "AGC Target Level"))
		ctl_set(c, "AGC Target Level", 20);
	err = duplex_run(&d, 2.0, NULL, NULL, false);
	if (!err) {
		ctl_set(c, agc_name(c), 1);
		err = duplex_run(&d, 4.0, NULL, NULL, false);
	}
	/* windows 3.6 s apart: the same part of the talker's loop */
	off = pct_db(&d, 0.2, 1.8, 0.9);
	on = pct_db(&d, 3.8, 5.4, 0.9);
	printf("speech_off_dbfs=%.2f\nspeech_on_dbfs=%.2f\nagc_db=%.2f\n",
	       off, on, on - off);
	snd_ctl_close(c);
	duplex_close(&d);
	return err ? 1 : 0;
}

/* level of 0.4 s of capture after 0.2 s, playing noise or not */
static int vol_run(const char *dev, bool play, double *db)
{
	struct duplex d;
	uint64_t seed = 3;
	int err;

	err = duplex_open(&d, dev, 1, 1, SND_PCM_ACCESS_RW_INTERLEAVED, 0.6);
	if (err)
		return err;
	err = duplex_run(&d, 0.6, play ? gen_noise : NULL, &seed, false);
	*db = win_db(&d, 0, 0.2, 0.6);
	duplex_close(&d);
	return err;
}

static int check_volume(const char *dev, const char *state)
{
	static const long cap[] = {DSPEMU_VOL_0DB, DSPEMU_VOL_0DB - 6,
				   DSPEMU_VOL_0DB + 6};
	snd_ctl_t *c;
	snd_ctl_elem_id_t *id;
	unsigned int tlv[64];
	double lv[3], pl[2], worst = 0.0;
	long db, i;
	int err;

	err = snd_ctl_open(&c, dev, 0);
	if (err < 0)
		return 1;
	/* every step of the scale: index - 40 dB exactly */
	snd_ctl_elem_id_alloca(&id);
	snd_ctl_elem_id_set_interface(id, SND_CTL_ELEM_IFACE_MIXER);
	snd_ctl_elem_id_set_name(id, "Capture Volume");
	if (snd_ctl_elem_tlv_read(c, id, tlv, sizeof(tlv)) < 0) {
		printf("tlv=none\n");
		snd_ctl_close(c);
		return 1;
	}
	for (i = 0; i <= DSPEMU_VOL_MAX; i++) {
		snd_tlv_convert_to_dB(tlv, 0, DSPEMU_VOL_MAX, i, &db);
		if (fabs(db / 100.0 - (double)(i + DSPEMU_VOL_MIN_DB)) > worst)
			worst = fabs(db / 100.0 -
				     (double)(i + DSPEMU_VOL_MIN_DB));
	}
	printf("tlv_step_err_db=%.3f\n", worst);
	/* Steady white noise, each setting on a stream of its own: in
	 * free-running mode every run hears the very same noise, so the
	 * steps come out exact; in real time, 0.4 s of noise reads
	 * within about 0.1 dB. */
	room(state, "near_db -200 noise_db -30 echo_db -200 pink 0");
	switches(c, 0, 0, 0);
	ctl_set(c, "Playback Volume", DSPEMU_VOL_0DB);
	for (i = 0; i < 3 && !err; i++) {
		ctl_set(c, "Capture Volume", cap[i]);
		err = vol_run(dev, false, &lv[i]);
	}
	ctl_set(c, "Capture Volume", DSPEMU_VOL_0DB);
	/* the playback volume through the echo path (processing off) */
	room(state, "noise_db -200 echo_db -10");
	for (i = 0; i < 2 && !err; i++) {
		ctl_set(c, "Playback Volume", DSPEMU_VOL_0DB - 10 * i);
		err = vol_run(dev, true, &pl[i]);
	}
	ctl_set(c, "Playback Volume", DSPEMU_VOL_0DB);
	if (!err)
		printf("cap_0db_dbfs=%.2f\ncap_m6_db=%.2f\ncap_p6_db=%.2f\n"
		       "play_m10_db=%.2f\n", lv[0], lv[1] - lv[0],
		       lv[2] - lv[0], pl[1] - pl[0]);
	snd_ctl_close(c);
	return err ? 1 : 0;
}

static int check_level(const char *dev, const char *state)
{
	struct duplex d;
	snd_ctl_t *c;
	double peak = -200.0, e = 0.0, lv;
	size_t i, n = 0;
	int err;

	if (duplex_open(&d, dev, 1, 1, SND_PCM_ACCESS_RW_INTERLEAVED, 4.0))
		return 1;
	if (snd_ctl_open(&c, dev, 0) == 0) {
		switches(c, 0, 0, 0);
		snd_ctl_close(c);
	}
	room(state, "noise_db -200 echo_db -200");
	err = duplex_run(&d, 4.0, NULL, NULL, false);
	/* as the emulator normalises: 20 ms blocks within 40 dB of the
	 * loudest */
	for (i = 0; i + BLK <= d.rec_frames; i += BLK) {
		lv = dbfs(d.rec + i, BLK, 1);
		if (lv > peak)
			peak = lv;
	}
	for (i = 0; i + BLK <= d.rec_frames; i += BLK) {
		lv = dbfs(d.rec + i, BLK, 1);
		if (lv >= peak - 40.0) {
			e += pow(10.0, lv / 10.0);
			n++;
		}
	}
	printf("active_dbfs=%.2f\nactive_share=%.2f\n",
	       n ? 10.0 * log10(e / (double)n) : -200.0,
	       d.rec_frames ? (double)n * BLK / (double)d.rec_frames : 0.0);
	duplex_close(&d);
	return err ? 1 : 0;
}

static uint64_t hash16(const int16_t *v, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (uint16_t)v[i];
		h *= 1099511628211ull;
	}
	return h;
}

static int same_run(const char *dev, bool mmap, uint64_t *h)
{
	struct duplex d;
	uint64_t seed = 5;
	int err;

	err = duplex_open(&d, dev, 1, 1, mmap ?
			  SND_PCM_ACCESS_MMAP_INTERLEAVED :
			  SND_PCM_ACCESS_RW_INTERLEAVED, 3.0);
	if (err)
		return err;
	err = duplex_run(&d, 3.0, gen_noise, &seed, mmap);
	*h = hash16(d.rec, d.rec_frames);
	printf("%s_frames=%zu\n", mmap ? "mmap" : "rw", d.rec_frames);
	duplex_close(&d);
	return err;
}

static int check_same(const char *dev, const char *state)
{
	snd_ctl_t *c;
	uint64_t h[3] = {0, 1, 2};
	int err;

	err = snd_ctl_open(&c, dev, 0);
	if (err < 0)
		return 1;
	room(state, "near_db -30 noise_db -55 echo_db -10 pink 1");
	switches(c, 1, 1, 1);
	err = same_run(dev, false, &h[0]);
	if (!err)
		err = same_run(dev, false, &h[1]);
	if (!err)
		err = same_run(dev, true, &h[2]);
	switches(c, 0, 0, 0);
	printf("hash_rw1=%016llx\nhash_rw2=%016llx\nhash_mmap=%016llx\n",
	       (unsigned long long)h[0], (unsigned long long)h[1],
	       (unsigned long long)h[2]);
	printf("identical=%d\n", h[0] == h[1] && h[1] == h[2]);
	snd_ctl_close(c);
	return err ? 1 : 0;
}

static const char *revents_str(unsigned short r)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "%s%s%s%s", r & POLLIN ? "IN," : "",
		 r & POLLOUT ? "OUT," : "", r & POLLERR ? "ERR," : "",
		 r & POLLHUP ? "HUP," : "");
	if (buf[0])
		buf[strlen(buf) - 1] = '\0';
	else
		snprintf(buf, sizeof(buf), "none");
	return buf;
}

static int check_unplug(const char *dev, const char *state)
{
	struct dspemu_state *st;
	struct duplex d;
	snd_ctl_t *c, *c2;
	snd_pcm_t *h;
	struct pollfd pfd[4];
	unsigned short rev = 0;
	long v = -1;
	int n, err;

	if (duplex_open(&d, dev, 1, 1, SND_PCM_ACCESS_RW_INTERLEAVED, 1.0))
		return 1;
	if (snd_ctl_open(&c, dev, 0) < 0 ||
	    dspemu_state_open(&st, state, NULL, false)) {
		duplex_close(&d);
		return 1;
	}
	ctl_set(c, "Echo Cancel Switch", 1);
	err = duplex_run(&d, 0.2, NULL, NULL, false);
	printf("running_before=%d\n", !err);
	dspemu_state_plug(st, false);
	printf("write_err=%d\n", (int)snd_pcm_writei(d.play, d.pbuf, PERIOD));
	printf("read_err=%d\n", (int)snd_pcm_readi(d.cap, d.cbuf, PERIOD));
	printf("state=%s\n", snd_pcm_state_name(snd_pcm_state(d.cap)));
	n = snd_pcm_poll_descriptors(d.cap, pfd, 4);
	printf("poll=%d\n", poll(pfd, (nfds_t)n, 1000));
	snd_pcm_poll_descriptors_revents(d.cap, pfd, (unsigned)n, &rev);
	printf("pcm_revents=%s\n", revents_str(rev));
	printf("prepare_err=%d\n", snd_pcm_prepare(d.cap));
	printf("ctl_read_err=%d\n", ctl_get(c, "Echo Cancel Switch", &v));
	printf("ctl_write_err=%d\n", ctl_write(c, "Echo Cancel Switch", 0));
	n = snd_ctl_poll_descriptors(c, pfd, 4);
	printf("ctl_poll=%d\n", poll(pfd, (nfds_t)n, 1000));
	rev = 0;
	snd_ctl_poll_descriptors_revents(c, pfd, (unsigned)n, &rev);
	printf("ctl_revents=%s\n", revents_str(rev));
	err = snd_pcm_open(&h, dev, SND_PCM_STREAM_CAPTURE, 0);
	printf("reopen_pcm_err=%d\n", err);
	if (!err)
		snd_pcm_close(h);
	err = snd_ctl_open(&c2, dev, 0);
	printf("reopen_ctl_err=%d\n", err);
	if (!err)
		snd_ctl_close(c2);
	/* replug: new handles work, old ones stay dead, values reset */
	dspemu_state_plug(st, true);
	printf("old_read_err=%d\n", (int)snd_pcm_readi(d.cap, d.cbuf, PERIOD));
	duplex_close(&d);
	snd_ctl_close(c);
	err = duplex_open(&d, dev, 1, 1, SND_PCM_ACCESS_RW_INTERLEAVED, 0.2);
	printf("replug_open_err=%d\n", err);
	if (!err) {
		err = duplex_run(&d, 0.2, NULL, NULL, false);
		printf("replug_run_err=%d\n", err);
		duplex_close(&d);
	}
	err = snd_ctl_open(&c, dev, 0);
	printf("replug_ctl_err=%d\n", err);
	if (!err) {
		ctl_get(c, "Echo Cancel Switch", &v);
		printf("aec_after_replug=%ld\n", v);
		snd_ctl_close(c);
	}
	dspemu_state_close(st);
	return 0;
}

static int check_openerr(const char *dev)
{
	snd_pcm_t *h;
	snd_ctl_t *c;
	int err;

	err = snd_pcm_open(&h, dev, SND_PCM_STREAM_CAPTURE, 0);
	printf("pcm_open=%d\n", err);
	if (!err)
		snd_pcm_close(h);
	err = snd_ctl_open(&c, dev, 0);
	printf("ctl_open=%d\n", err);
	if (!err)
		snd_ctl_close(c);
	return 0;
}

static int check_events(const char *dev)
{
	snd_ctl_t *a, *b;
	snd_ctl_event_t *ev;
	struct pollfd pfd[4];
	unsigned short rev = 0;
	double t0;
	int n, r, wakes = 0;
	long v = 0;

	if (snd_ctl_open(&a, dev, SND_CTL_NONBLOCK) < 0)
		return 1;
	if (snd_ctl_open(&b, dev, 0) < 0) {
		snd_ctl_close(a);
		return 1;
	}
	snd_ctl_subscribe_events(a, 1);
	snd_ctl_event_alloca(&ev);
	/* idle: poll must sleep, not spin */
	n = snd_ctl_poll_descriptors(a, pfd, 4);
	t0 = now_s();
	while (now_s() - t0 < 0.3) {
		r = poll(pfd, (nfds_t)n, 100);
		if (r > 0) {
			wakes++;
			snd_ctl_poll_descriptors_revents(a, pfd, (unsigned)n,
							 &rev);
			while (snd_ctl_read(a, ev) > 0)
				;
		}
	}
	printf("idle_wakeups=%d\n", wakes);
	ctl_get(b, "Echo Cancel Switch", &v);
	printf("write_changed=%d\n", ctl_set(b, "Echo Cancel Switch", !v));
	printf("write_same=%d\n", ctl_set(b, "Echo Cancel Switch", !v));
	r = poll(pfd, (nfds_t)n, 1000);
	rev = 0;
	snd_ctl_poll_descriptors_revents(a, pfd, (unsigned)n, &rev);
	printf("event_poll=%d\nevent_revents=%s\n", r, revents_str(rev));
	r = snd_ctl_read(a, ev);
	printf("event_read=%d\n", r);
	if (r > 0)
		printf("event_name=%s\n", snd_ctl_event_elem_get_name(ev));
	printf("event_more=%d\n", snd_ctl_read(a, ev));
	ctl_set(b, "Echo Cancel Switch", v);
	snd_ctl_close(a);
	snd_ctl_close(b);
	return 0;
}

/* ---- pool --------------------------------------------------------------- */

#define SITES 8
#define HIST  2048

struct pool_gen {
	uint64_t seed[SITES];
	int16_t ref[SITES][HIST];
	int16_t talk[SITES][RATE * 10];   /* what the talker alone was */
	double talk_start;
	bool impulse;
};

/* site k's talker: 8 harmonics of 140 + 10 k Hz, 4 Hz syllables */
static float pool_talker(unsigned k, size_t at)
{
	double s = (double)at / RATE, env, x = 0.0;
	int h;

	env = 0.5 + 0.5 * sin(2 * M_PI * 4.0 * s);
	for (h = 1; h <= 8; h++)
		x += sin(2 * M_PI * h * (140.0 + 10.0 * k) * s) / h;
	return (float)(x * env * env * 4000.0);
}

/* Site k at frame at: its reference (what it is sent: -20 dBFS white
 * noise) and its microphone (the reference's echo 5 + k ms late at
 * -6 dB, a second path 37 frames later at -12 dB, and on odd sites a
 * talker from talk_start on). */
static void pool_site(struct pool_gen *g, unsigned k, size_t at,
		      float *mic, float *ref)
{
	const size_t dk = 80 + 16 * k;
	const int16_t *r = g->ref[k];
	float tk = 0.0f;

	if (g->impulse) {
		*ref = 0.0f;
		*mic = at == 1000 + 100 * k ? 20000.0f : 0.0f;
		return;
	}
	*ref = white(&g->seed[k]) * 3276.8f;
	g->ref[k][at % HIST] = clip16(*ref);
	*mic = 0.0f;
	if (at >= dk + 37)
		*mic = 0.5f * r[(at - dk) % HIST] +
			0.25f * r[(at - dk - 37) % HIST];
	if ((k & 1) && (double)at >= g->talk_start * RATE)
		tk = pool_talker(k, at);
	if (at < RATE * 10)
		g->talk[k][at] = clip16(tk);
	*mic += tk;
}

static void gen_pool(struct duplex *d, size_t t, void *arg)
{
	struct pool_gen *g = arg;
	const unsigned n2 = 2 * SITES;
	float mic, ref;
	unsigned i, k;

	for (i = 0; i < PERIOD; i++) {
		for (k = 0; k < SITES; k++) {
			pool_site(g, k, t + i, &mic, &ref);
			d->pbuf[i * n2 + 2 * k] = clip16(mic);
			d->pbuf[i * n2 + 2 * k + 1] = clip16(ref);
		}
	}
}

static int check_pool(const char *dev, const char *state)
{
	struct pool_gen *g;
	struct duplex d;
	snd_ctl_t *c;
	snd_pcm_sframes_t pdelay = 0;
	double erle_min = 200.0, dev_max = 0.0, lat_min = 1e9, lat_max = -1;
	unsigned k;
	size_t i;
	int err;

	g = calloc(1, sizeof(*g));
	if (!g || snd_ctl_open(&c, dev, 0) < 0) {
		free(g);
		return 1;
	}
	for (k = 0; k < SITES; k++)
		g->seed[k] = 100 + k;
	g->talk_start = 6.0;
	room(state, "latency_ms 12");
	switches(c, 1, 0, 0);
	err = duplex_open(&d, dev, 2 * SITES, SITES,
			  SND_PCM_ACCESS_RW_INTERLEAVED, 10.0);
	if (!err)
		err = duplex_run(&d, 10.0, gen_pool, g, false);
	for (k = 0; k < SITES && !err; k++) {
		/* every site's microphone holds its echo (-20 dBFS noise,
		 * 5+k ms late, -6 and -12 dB): the reduction once
		 * converged, before the talkers start */
		double in = 20.0 * log10(3276.8 / 32768.0) +
			10.0 * log10(0.25 + 0.0625);
		double out = win_db(&d, k, 4.0, 6.0), tk;

		printf("site%u_erle_db=%.2f\n", k, in - out);
		if (in - out < erle_min)
			erle_min = in - out;
		if (!(k & 1))
			continue;
		/* odd sites then talk over their echo: kept whole */
		out = win_db(&d, k, 7.0, 10.0);
		tk = dbfs(g->talk[k] + 7 * RATE, 3 * RATE, 1);
		printf("site%u_talker_db=%.2f\n", k, out - tk);
		if (fabs(out - tk) > dev_max)
			dev_max = fabs(out - tk);
	}
	duplex_close(&d);
	if (err)
		goto out;
	printf("erle_min_db=%.2f\ntalker_dev_max_db=%.2f\n", erle_min,
	       dev_max);
	/* the processing delay: an impulse per site, processing off */
	switches(c, 0, 0, 0);
	g->impulse = true;
	err = duplex_open(&d, dev, 2 * SITES, SITES,
			  SND_PCM_ACCESS_RW_INTERLEAVED, 1.0);
	if (!err)
		err = duplex_run(&d, 1.0, gen_pool, g, false);
	if (!err)
		snd_pcm_delay(d.play, &pdelay);
	for (k = 0; k < SITES && !err; k++) {
		for (i = 0; i < d.rec_frames; i++) {
			if (abs(d.rec[i * SITES + k]) > 10000)
				break;
		}
		if (i < d.rec_frames) {
			/* written at 1000 + 100 k after two primed periods */
			double ms = ((double)i - (1000.0 + 100.0 * k) -
				     2.0 * PERIOD - (double)pdelay) *
				1000.0 / RATE;

			if (ms < lat_min)
				lat_min = ms;
			if (ms > lat_max)
				lat_max = ms;
		}
		else {
			lat_max = 1e9;
		}
	}
	printf("playback_delay_ms=%.2f\nlatency_min_ms=%.2f\n"
	       "latency_max_ms=%.2f\n", (double)pdelay * 1000.0 / RATE,
	       lat_min, lat_max);
	duplex_close(&d);
 out:
	switches(c, 0, 0, 0);
	snd_ctl_close(c);
	free(g);
	return err ? 1 : 0;
}

/* ---- real-time clock ---------------------------------------------------- */

static int status_pos(snd_pcm_t *h, uint64_t *hw, double *ts)
{
	snd_pcm_status_t *s;
	snd_htimestamp_t t;
	int err;

	snd_pcm_status_alloca(&s);
	err = snd_pcm_status(h, s);
	if (err < 0)
		return err;
	snd_pcm_status_get_htstamp(s, &t);
	/* a capture's position is the frames read plus its delay (the
	 * exact position; the pointer moves a period at a time) */
	*hw = (uint64_t)snd_pcm_status_get_delay(s);
	*ts = (double)t.tv_sec + t.tv_nsec * 1e-9;
	return 0;
}

/* Device frames against CLOCK_MONOTONIC: the position (frames read
 * plus the delay) sampled after each read, over secs seconds, and a
 * least-squares line through the samples: one-frame steps average out
 * (20.8 us at 48 kHz, 7 ppm over 3 s for two samples alone). */
static int check_rate(const char *dev, const char *state, double secs)
{
	snd_pcm_t *h;
	int16_t buf[PERIOD * 3];
	uint64_t read = 0, a, a0 = 0, r0 = 0;
	double t, t0 = 0.0, w0, w1 = 0.0;
	double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0, slope;
	int err;

	(void)state;
	err = pcm_open(&h, dev, SND_PCM_STREAM_CAPTURE, 1,
		       SND_PCM_ACCESS_RW_INTERLEAVED, 48000);
	if (err)
		return 1;
	w0 = now_s();
	while (!err && w1 - w0 < secs + 0.2) {
		snd_pcm_sframes_t r = snd_pcm_readi(h, buf, PERIOD * 3);

		w1 = now_s();
		if (r < 0) {
			err = (int)r;
			break;
		}
		read += (uint64_t)r;
		if (w1 - w0 < 0.2)
			continue;  /* settle first */
		err = status_pos(h, &a, &t);
		if (err)
			break;
		a += read;
		if (!n) {
			a0 = a;
			t0 = t;
			r0 = read;
		}
		n++;
		sx += t - t0;
		sy += (double)(a - a0);
		sxx += (t - t0) * (t - t0);
		sxy += (t - t0) * (double)(a - a0);
	}
	snd_pcm_close(h);
	if (err || n < 3) {
		printf("rate_err=%d\n", err);
		return 1;
	}
	slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
	printf("rate_samples=%.0f\nrate_hz=%.3f\nrate_ppm=%.1f\n"
	       "pace_pct=%.3f\n", n, slope, (slope / 48000.0 - 1.0) * 1e6,
	       ((double)(read - r0) / (t - t0) / 48000.0 - 1.0) * 100.0);
	return 0;
}

static int check_xrun(const char *dev, const char *state)
{
	struct dspemu_state *st;
	snd_pcm_t *cap, *play;
	int16_t buf[PERIOD * PERIODS] = {0};
	char xr[32];
	int err;

	if (pcm_open(&cap, dev, SND_PCM_STREAM_CAPTURE, 1,
		     SND_PCM_ACCESS_RW_INTERLEAVED, RATE))
		return 1;
	if (pcm_open(&play, dev, SND_PCM_STREAM_PLAYBACK, 1,
		     SND_PCM_ACCESS_RW_INTERLEAVED, RATE)) {
		snd_pcm_close(cap);
		return 1;
	}
	/* capture: read a little, then stall for three buffers */
	err = (int)snd_pcm_readi(cap, buf, PERIOD);
	printf("cap_first=%d\n", err);
	usleep(3u * PERIOD * PERIODS * 1000u / (RATE / 1000));
	err = (int)snd_pcm_readi(cap, buf, PERIOD);
	printf("cap_stalled=%d\ncap_state=%s\n", err,
	       snd_pcm_state_name(snd_pcm_state(cap)));
	printf("cap_prepare=%d\n", snd_pcm_prepare(cap));
	printf("cap_after=%d\n", (int)snd_pcm_readi(cap, buf, PERIOD));
	/* playback: two periods queued, then a stall */
	snd_pcm_writei(play, buf, 2 * PERIOD);
	usleep(3u * PERIOD * PERIODS * 1000u / (RATE / 1000));
	err = (int)snd_pcm_writei(play, buf, PERIOD);
	printf("play_stalled=%d\nplay_state=%s\n", err,
	       snd_pcm_state_name(snd_pcm_state(play)));
	printf("play_prepare=%d\n", snd_pcm_prepare(play));
	printf("play_after=%d\n", (int)snd_pcm_writei(play, buf, PERIOD));
	snd_pcm_close(cap);
	snd_pcm_close(play);
	if (!dspemu_state_open(&st, state, NULL, false)) {
		dspemu_state_get_key(st, "xruns_capture", xr, sizeof(xr));
		printf("xruns_capture=%s\n", xr);
		dspemu_state_get_key(st, "xruns_play", xr, sizeof(xr));
		printf("xruns_play=%s\n", xr);
		dspemu_state_close(st);
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: dspemu-selftest CHECK DEVICE "
		"[STATEFILE [ARG]]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *chk, *dev, *state;
	int rc;

	if (argc < 3)
		return usage();
	chk = argv[1];
	dev = argv[2];
	state = argc > 3 ? argv[3] : NULL;
	if (!strcmp(chk, "caps"))
		rc = check_caps(dev);
	else if (!strcmp(chk, "openerr"))
		rc = check_openerr(dev);
	else if (!strcmp(chk, "events"))
		rc = check_events(dev);
	else if (!state)
		rc = usage();
	else if (!strcmp(chk, "erle"))
		rc = check_erle(dev, state);
	else if (!strcmp(chk, "echo"))
		rc = check_echo(dev, state);
	else if (!strcmp(chk, "ns"))
		rc = check_ns(dev, state);
	else if (!strcmp(chk, "agc"))
		rc = check_agc(dev, state);
	else if (!strcmp(chk, "volume"))
		rc = check_volume(dev, state);
	else if (!strcmp(chk, "level"))
		rc = check_level(dev, state);
	else if (!strcmp(chk, "same"))
		rc = check_same(dev, state);
	else if (!strcmp(chk, "unplug"))
		rc = check_unplug(dev, state);
	else if (!strcmp(chk, "pool"))
		rc = check_pool(dev, state);
	else if (!strcmp(chk, "rate"))
		rc = check_rate(dev, state, argc > 4 ? atof(argv[4]) : 3.0);
	else if (!strcmp(chk, "xrun"))
		rc = check_xrun(dev, state);
	else
		rc = usage();
	/* give alsa-lib's configuration cache back (valgrind, ASan) */
	snd_config_update_free_global();
	return rc;
}
