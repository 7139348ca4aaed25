/**
 * @file pcm_dspemu.c  ALSA I/O plugin (ioplug) emulating the PCMs of a
 * sound card with its own speech DSP: libasound_module_pcm_dspemu.so.
 *
 * Room mode (pool 0). The capture side is a synthetic room: a near-end
 * talker (a WAV, looped, or a built-in synthetic voice) plus pink or
 * white noise plus the echo of what this card's playback played: the
 * "loudspeaker", kept in the shared state file (dspemu.h), comes back
 * echo_delay_ms late, echo_db louder, with a sparse exponentially
 * decaying tail (rt60). Then the card's "firmware" when enabled:
 * SpeexDSP's echo canceller with the played signal as its reference,
 * the preprocessor's residual echo suppression, noise suppression and
 * AGC, and the capture volume. Playback goes through the playback
 * volume to the loudspeaker.
 *
 * Pool mode (pool N): a conference DSP unit for N remote sites.
 * Playback channel 2k is site k's raw signal (its "microphone", with
 * echo), channel 2k+1 its reference (what site k is sent); capture
 * channel k is channel 2k after echo cancellation against 2k+1 (and NS,
 * AGC by the global switches), latency_ms later.
 *
 * Clock. realtime false: free-running, always ready, positions are the
 * clock (capture position C is device frame C; playback frame P is
 * played at device frame P + L, L = buffer - max(period, avail_min): a
 * primed buffer, so that an application reading before it writes still
 * gives the canceller its reference in time). Identical input gives
 * identical output. realtime true: device time runs from the state
 * file's epoch at rate * (1 + ppm 1e-6) on CLOCK_MONOTONIC; the
 * pointer moves a period at a time (as at a card's period interrupts;
 * snd_pcm_delay is exact); a timerfd wakes poll() when avail_min frames
 * will be there; a late application gets -EPIPE (xrun) from the
 * pointer, and snd_pcm_prepare recovers.
 *
 * alsa-lib pitfalls handled here (see shared/research/alsa-dsp.md):
 * ioplug takes pointer deltas modulo the buffer, so the pointer reports
 * the position modulo the boundary (SND_PCM_IOPLUG_FLAG_BOUNDARY_WA);
 * capture with mmap access may transfer the same region twice, so
 * captured audio is made once into a ring keyed by stream position.
 *
 * Threads: none of its own; callbacks run on the application's thread
 * under the PCM's lock. Allocation happens in open and hw_params only.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

#include <alsa/asoundlib.h>
#include <alsa/pcm_external.h>
#include <speex/speex_echo.h>
#include <speex/speex_preprocess.h>
#include <speex/speex_resampler.h>

#include "dspemu.h"

#define TAPS          96          /* reflections of the reverb tail */
#define CHUNK         1024        /* playback frames per step */
#define WAKE_MAX_NS   50000000    /* re-check presence at least this often */
#define NS            1000000000LL
#define OFF_DB        (-150.0f)   /* a level at or below it is silence */

#define FAR_DBFS      (-50.0f)    /* the far end talks: reference above */
#define FAR_HANG      30          /* blocks (300 ms) of echo tail after */

/** One processed channel of the "firmware". */
struct fw {
	SpeexEchoState *aec;
	SpeexPreprocessState *pre;
	int aec_on, ns_on, agc_on, target;   /* as configured; -1 unknown */
	int far_hang;                /* blocks the far end counts as on */
	spx_int32_t agc_db;          /* the AGC's gain, held while it is */
};

struct want {
	int aec, ns, agc, target;
	int gate;                    /* hold the AGC while the far end talks */
};

struct dspemu_pcm {
	snd_pcm_ioplug_t io;
	struct dspemu_cfg cfg;
	enum dspemu_profile profile;
	struct dspemu_state *st;
	uint32_t gen;                /* plug generation at open */
	bool dead;
	int poll_fd;

	/* stream set-up */
	unsigned rate, ch;
	unsigned frame;              /* samples per 10 ms block */
	snd_pcm_uframes_t buffer, period, avail_min, boundary;
	snd_pcm_uframes_t stop_threshold;
	double rate_eff;             /* device frames per second */
	int64_t epoch_ns;

	/* position */
	bool running;
	bool xrun;
	uint64_t pos;                /* hw position since prepare */
	int64_t d_start;             /* device frame of position 0 */
	uint64_t play_lat;           /* free-running playback latency */
	uint64_t counted;            /* capture: frames counted as read */

	/* playback */
	int16_t *pbuf;               /* CHUNK frames, ring channels */
	int16_t *pend;               /* real-time: written before start */
	unsigned ring_ch;

	/* capture: made once per position, read maybe twice (mmap) */
	int16_t *cring;
	uint64_t cring_frames;       /* power of two */
	uint64_t gen_end;            /* position made up to */
	unsigned nfw;
	struct fw fw[DSPEMU_POOL_MAX];
	int16_t *blk_in;             /* frame * ring channels */
	int16_t *blk_mic, *blk_ref, *blk_out;

	/* the room (capture, room mode) */
	float *near;                 /* talker at unit RMS while talking */
	size_t near_len;
	float *hist;                 /* loudspeaker history, device frames */
	uint64_t hist_mask;
	int64_t hist_end;
	bool hist_valid;
	float rt60;                  /* the tail's, as built */
	unsigned tap_at[TAPS];
	float tap_gain[TAPS];
	unsigned ntaps, tap_max;
	float pink[3];
	float pink_scale;
};

/* ---- time --------------------------------------------------------------- */

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

/* device frame at monotonic time t */
static int64_t dev_frame(const struct dspemu_pcm *p, int64_t t)
{
	long double x = (long double)(t - p->epoch_ns) * p->rate_eff / NS;

	return (int64_t)floorl(x);
}

/* first monotonic time at which device frame d has begun */
static int64_t dev_time(const struct dspemu_pcm *p, int64_t d)
{
	long double x = (long double)d * NS / p->rate_eff;

	return p->epoch_ns + (int64_t)ceill(x);
}

/* ---- presence ----------------------------------------------------------- */

/* The card is gone: DISCONNECTED for good, as snd-usb-audio does, and
 * the poll descriptor becomes a hung-up pipe so that poll() returns at
 * once with POLLHUP under the same descriptor number. */
static void become_dead(struct dspemu_pcm *p)
{
	int fds[2];

	p->dead = true;
	p->running = false;
	snd_pcm_ioplug_set_state(&p->io, SND_PCM_STATE_DISCONNECTED);
	if (p->poll_fd < 0 || pipe2(fds, O_CLOEXEC) < 0)
		return;
	close(fds[1]);
	dup2(fds[0], p->poll_fd);
	close(fds[0]);
}

static bool alive(struct dspemu_pcm *p)
{
	if (p->dead)
		return false;
	if (!dspemu_state_alive(p->st, p->gen)) {
		become_dead(p);
		return false;
	}
	return true;
}

/* ---- levels and small DSP helpers --------------------------------------- */

static float db_gain(float db)
{
	return db <= OFF_DB ? 0.0f : powf(10.0f, db / 20.0f);
}

static int16_t clip16(float v)
{
	if (v > 32767.0f)
		return 32767;
	if (v < -32768.0f)
		return -32768;
	return (int16_t)lrintf(v);
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* unit-variance, roughly Gaussian (four uniforms) */
static float gauss(uint64_t *s)
{
	uint64_t r = splitmix(s);
	float a = 0.0f;
	int i;

	for (i = 0; i < 4; i++, r >>= 16)
		a += (float)(r & 0xffff) / 65535.0f;
	return (a - 2.0f) * 1.7320508f;
}

/* Paul Kellet's economy pink filter */
static float pink_step(float *b, float w)
{
	b[0] = 0.99765f * b[0] + w * 0.0990460f;
	b[1] = 0.96300f * b[1] + w * 0.2965164f;
	b[2] = 0.57000f * b[2] + w * 1.0526913f;
	return b[0] + b[1] + b[2] + w * 0.1848f;
}

/* ---- the near-end talker ------------------------------------------------ */

/* A WAV's samples as mono floats (PCM 16/24/32 or float 32). */
static int wav_read(const char *path, float **vp, size_t *np,
		    unsigned *ratep)
{
	FILE *f = fopen(path, "rb");
	uint8_t hdr[12], ck[8], fmt[16];
	unsigned ch = 0, bits = 0, tag = 0, rate = 0;
	uint8_t *raw = NULL;
	float *v = NULL;
	size_t i, n = 0, bps;
	uint32_t len;
	int err = 0;

	if (!f)
		return errno;
	if (fread(hdr, 1, 12, f) != 12 || memcmp(hdr, "RIFF", 4) ||
	    memcmp(hdr + 8, "WAVE", 4)) {
		err = EINVAL;
		goto out;
	}
	while (fread(ck, 1, 8, f) == 8) {
		len = ck[4] | ck[5] << 8 | ck[6] << 16 | (uint32_t)ck[7] << 24;
		if (!memcmp(ck, "fmt ", 4) && len >= 16) {
			if (fread(fmt, 1, 16, f) != 16) {
				err = EINVAL;
				goto out;
			}
			tag = fmt[0] | fmt[1] << 8;
			ch = fmt[2] | fmt[3] << 8;
			rate = fmt[4] | fmt[5] << 8 | fmt[6] << 16 |
				(uint32_t)fmt[7] << 24;
			bits = fmt[14] | fmt[15] << 8;
			if (tag == 0xfffe && len >= 26) {
				uint8_t ext[10];

				if (fread(ext, 1, 10, f) != 10) {
					err = EINVAL;
					goto out;
				}
				tag = ext[8] | ext[9] << 8;
				len -= 10;
			}
			fseek(f, (long)(len - 16 + (len & 1)), SEEK_CUR);
			continue;
		}
		if (memcmp(ck, "data", 4)) {
			fseek(f, (long)(len + (len & 1)), SEEK_CUR);
			continue;
		}
		if (!ch || !rate || (tag != 1 && tag != 3) ||
		    (bits != 16 && bits != 24 && bits != 32) ||
		    (tag == 3 && bits != 32)) {
			err = ENOTSUP;
			goto out;
		}
		bps = bits / 8;
		if (len > (64u << 20))
			len = 64u << 20;  /* a streamed WAV says 4 GiB */
		raw = malloc(len ? len : 1);
		if (!raw) {
			err = ENOMEM;
			goto out;
		}
		len = (uint32_t)fread(raw, 1, len, f);
		n = len / (bps * ch);
		v = calloc(n ? n : 1, sizeof(*v));
		if (!v) {
			err = ENOMEM;
			goto out;
		}
		for (i = 0; i < n * ch; i++) {
			const uint8_t *b = raw + i * bps;
			float x;

			if (tag == 3) {
				uint32_t u = b[0] | b[1] << 8 | b[2] << 16 |
					(uint32_t)b[3] << 24;

				memcpy(&x, &u, sizeof(x));
			}
			else if (bits == 16) {
				x = (float)(int16_t)(b[0] | b[1] << 8) /
					32768.0f;
			}
			else if (bits == 24) {
				int32_t s = (int32_t)((uint32_t)b[0] << 8 |
						      (uint32_t)b[1] << 16 |
						      (uint32_t)b[2] << 24);
				x = (float)(s / 256) / 8388608.0f;
			}
			else {
				int32_t s = (int32_t)(b[0] | b[1] << 8 |
						      b[2] << 16 |
						      (uint32_t)b[3] << 24);
				x = (float)s / 2147483648.0f;
			}
			v[i / ch] += x / (float)ch;
		}
		break;
	}
	if (!v)
		err = EINVAL;
 out:
	free(raw);
	fclose(f);
	if (err) {
		free(v);
		return err;
	}
	*vp = v;
	*np = n;
	*ratep = rate;
	return 0;
}

static int resample(float **vp, size_t *np, unsigned from, unsigned to)
{
	SpeexResamplerState *rs;
	float *out;
	size_t n = *np, m, done_in = 0, done_out = 0;
	int err;

	if (from == to)
		return 0;
	m = (size_t)((double)n * to / from) + 64;
	out = calloc(m, sizeof(*out));
	if (!out)
		return ENOMEM;
	rs = speex_resampler_init(1, from, to, 5, &err);
	if (!rs) {
		free(out);
		return EINVAL;
	}
	speex_resampler_skip_zeros(rs);
	while (done_in < n && done_out < m) {
		spx_uint32_t in = (spx_uint32_t)(n - done_in);
		spx_uint32_t o = (spx_uint32_t)(m - done_out);

		if (in > 65536)
			in = 65536;
		speex_resampler_process_float(rs, 0, *vp + done_in, &in,
					      out + done_out, &o);
		if (!in && !o)
			break;
		done_in += in;
		done_out += o;
	}
	speex_resampler_destroy(rs);
	free(*vp);
	*vp = out;
	*np = done_out ? done_out : 1;
	return 0;
}

/* Two talkspurts of 1.2 s with 0.6 s pauses: a pulse train at a
 * drifting pitch through three formant resonators, one vowel per
 * 0.2 s syllable. Speech-like enough for a VAD and an AGC, and
 * deterministic. */
static int talker_synth(float **vp, size_t *np, unsigned rate)
{
	static const float vowels[5][3] = {
		{730, 1090, 2440}, {270, 2290, 3010}, {530, 1840, 2480},
		{570, 840, 2410}, {300, 870, 2240},
	};
	static const float bw[3] = {90, 110, 170};
	const size_t n = (size_t)rate * 36 / 10;
	float *v, y[3][2] = {{0}}, a1[3] = {0}, a2[3] = {0}, g[3] = {0};
	float phase = 0.0f, lp = 0.0f;
	uint64_t seed = 7;
	int syl = -1;
	size_t i;
	unsigned k;

	v = calloc(n, sizeof(*v));
	if (!v)
		return ENOMEM;
	for (i = 0; i < n; i++) {
		float t = (float)i / (float)rate;
		float cyc = fmodf(t, 1.8f), env, f0, x;
		int s = (int)(t / 0.2f);

		if (cyc >= 1.2f) {
			v[i] = 0.0f;
			continue;
		}
		if (s != syl) {
			const float *fv = vowels[(s * 7 + s / 3) % 5];

			syl = s;
			for (k = 0; k < 3; k++) {
				float r = expf(-(float)M_PI * bw[k] /
					       (float)rate);
				float th = 2.0f * (float)M_PI *
					fminf(fv[k], 0.45f * (float)rate) /
					(float)rate;

				a1[k] = 2.0f * r * cosf(th);
				a2[k] = -r * r;
				g[k] = 1.0f - r;
			}
		}
		env = sinf((float)M_PI * fmodf(cyc, 0.2f) / 0.2f);
		env *= env;
		f0 = 120.0f + 25.0f * sinf(2.0f * (float)M_PI * 0.9f * t) +
			(float)(s % 4) * 8.0f;
		phase += f0 / (float)rate;
		x = 0.02f * gauss(&seed);
		if (phase >= 1.0f) {
			phase -= 1.0f;
			x += 1.0f;
		}
		lp = 0.7f * lp + 0.3f * x;      /* soften the pulses */
		x = lp;
		for (k = 0; k < 3; k++) {
			float o = g[k] * x + a1[k] * y[k][0] +
				a2[k] * y[k][1];

			y[k][1] = y[k][0];
			y[k][0] = o;
			x = o;
		}
		v[i] = env * x;
	}
	*vp = v;
	*np = n;
	return 0;
}

/* scale so that the talking part (20 ms blocks within 40 dB of the
 * loudest) has unit RMS */
static void talker_normalise(float *v, size_t n, unsigned rate)
{
	const size_t b = rate / 50;
	double peak = 0.0, sum = 0.0, e;
	size_t i, j, cnt = 0;
	float g;

	if (!b || n < b)
		return;
	for (i = 0; i + b <= n; i += b) {
		for (e = 0.0, j = 0; j < b; j++)
			e += (double)v[i + j] * v[i + j];
		if (e > peak)
			peak = e;
	}
	for (i = 0; i + b <= n; i += b) {
		for (e = 0.0, j = 0; j < b; j++)
			e += (double)v[i + j] * v[i + j];
		if (e >= peak * 1e-4) {
			sum += e;
			cnt += b;
		}
	}
	if (!cnt || sum <= 0.0)
		return;
	g = (float)(1.0 / sqrt(sum / (double)cnt));
	for (i = 0; i < n; i++)
		v[i] *= g;
}

static int talker_load(struct dspemu_pcm *p)
{
	unsigned rate = p->rate;
	int err;

	free(p->near);
	p->near = NULL;
	if (p->cfg.near[0]) {
		err = wav_read(p->cfg.near, &p->near, &p->near_len, &rate);
		if (err) {
			SNDERR("dspemu: near %s: %s", p->cfg.near,
			       strerror(err));
			return err;
		}
		err = resample(&p->near, &p->near_len, rate, p->rate);
		if (err)
			return err;
	}
	else {
		err = talker_synth(&p->near, &p->near_len, p->rate);
		if (err)
			return err;
	}
	talker_normalise(p->near, p->near_len, p->rate);
	return 0;
}

/* ---- the room's echo path ----------------------------------------------- */

/* Sparse exponential tail: TAPS reflections with random delays up to
 * 0.8 rt60 and random signs, -60 dB at rt60, carrying half the direct
 * path's energy in all. Linear and time-invariant, like a room, so a
 * long enough canceller can learn it. */
static void tail_build(struct dspemu_pcm *p, float rt60)
{
	uint64_t seed = 1234;
	double sum = 0.0;
	unsigned k;
	float g;

	p->rt60 = rt60;
	p->ntaps = 0;
	p->tap_max = 0;
	if (rt60 < 0.01f)
		return;
	for (k = 0; k < TAPS; k++) {
		float u = (float)(splitmix(&seed) >> 11) / 9007199254740992.0f;
		float t = 0.002f + u * 0.8f * rt60;
		float a = expf(-6.9078f * t / rt60);

		if (splitmix(&seed) & 1)
			a = -a;
		p->tap_at[k] = (unsigned)lrintf(t * (float)p->rate);
		if (p->tap_at[k] < 1)
			p->tap_at[k] = 1;
		p->tap_gain[k] = a;
		if (p->tap_at[k] > p->tap_max)
			p->tap_max = p->tap_at[k];
		sum += (double)a * a;
	}
	g = (float)sqrt(0.5 / sum);
	for (k = 0; k < TAPS; k++)
		p->tap_gain[k] *= g;
	p->ntaps = TAPS;
}

/* Make hist hold the loudspeaker over device frames [lo, hi). It is
 * indexed by device frame, so what it holds stays valid while the echo
 * delay or the tail change; only a jump (prepare, xrun) refills it. */
static void hist_fill(struct dspemu_pcm *p, int64_t lo, int64_t hi)
{
	const struct dspemu_shm *s = p->st->shm;
	const int64_t len = (int64_t)p->hist_mask + 1;
	int16_t tmp[256];
	int64_t d;
	bool usable = s->ring_rate == p->rate && s->ring_ch == 1;

	if (!p->hist_valid || lo > p->hist_end || lo < p->hist_end - len) {
		d = lo;
		p->hist_end = hi;
	}
	else {
		d = p->hist_end;
		if (hi > p->hist_end)
			p->hist_end = hi;
	}
	while (d < hi) {
		size_t n = (size_t)(hi - d), i;

		if (n > 256)
			n = 256;
		if (usable)
			dspemu_ring_read(p->st, d, tmp, n);
		else
			memset(tmp, 0, n * sizeof(tmp[0]));
		for (i = 0; i < n; i++)
			p->hist[(uint64_t)(d + (int64_t)i) & p->hist_mask] =
				(float)tmp[i];
		d += (int64_t)n;
	}
	p->hist_valid = true;
}

/* ---- the firmware ------------------------------------------------------- */

static int fw_init(struct fw *fw, unsigned frame, unsigned rate,
		   float tail_ms)
{
	spx_int32_t r = (spx_int32_t)rate;
	int tail = (int)((float)rate * tail_ms / 1000.0f);

	fw->aec = speex_echo_state_init((int)frame, tail);
	fw->pre = speex_preprocess_state_init((int)frame, (int)rate);
	if (!fw->aec || !fw->pre)
		return ENOMEM;
	speex_echo_ctl(fw->aec, SPEEX_ECHO_SET_SAMPLING_RATE, &r);
	fw->aec_on = fw->ns_on = fw->agc_on = fw->target = -1;
	fw->far_hang = 0;
	fw->agc_db = 0;
	return 0;
}

static void fw_free(struct fw *fw)
{
	if (fw->aec)
		speex_echo_state_destroy(fw->aec);
	if (fw->pre)
		speex_preprocess_state_destroy(fw->pre);
	fw->aec = NULL;
	fw->pre = NULL;
}

/* The preprocessor carries three of the firmware's functions: with AEC
 * on it suppresses the canceller's residual echo (denoise on, but with
 * a 0 dB noise floor when NS is off, so that noise passes), with NS on
 * it suppresses noise, with AGC on it levels. */
static void fw_config(struct fw *fw, const struct want *w)
{
	spx_int32_t v;
	float level;

	if (w->aec == fw->aec_on && w->ns == fw->ns_on &&
	    w->agc == fw->agc_on && w->target == fw->target)
		return;
	v = w->aec || w->ns;
	speex_preprocess_ctl(fw->pre, SPEEX_PREPROCESS_SET_DENOISE, &v);
	v = w->ns ? -25 : 0;
	speex_preprocess_ctl(fw->pre, SPEEX_PREPROCESS_SET_NOISE_SUPPRESS,
			     &v);
	speex_preprocess_ctl(fw->pre, SPEEX_PREPROCESS_SET_ECHO_STATE,
			     w->aec ? fw->aec : NULL);
	v = w->agc;
	speex_preprocess_ctl(fw->pre, SPEEX_PREPROCESS_SET_AGC, &v);
	/* Speex's AGC level is a loudness dominated by peaks; 10 dB
	 * above the target puts speech's 90th percentile of 20 ms
	 * levels at the target (measured on the built-in talker) */
	level = 32768.0f * powf(10.0f, (10.0f - (float)w->target) / 20.0f);
	speex_preprocess_ctl(fw->pre, SPEEX_PREPROCESS_SET_AGC_LEVEL, &level);
	v = 30;
	speex_preprocess_ctl(fw->pre, SPEEX_PREPROCESS_SET_AGC_MAX_GAIN, &v);
	fw->aec_on = w->aec;
	fw->ns_on = w->ns;
	fw->agc_on = w->agc;
	fw->target = w->target;
}

static float block_dbfs(const int16_t *v, unsigned n);

/*
 * One 10 ms block through the firmware. A DSP that has the loudspeaker
 * signal holds its AGC while the far end talks (and for the echo's
 * tail after): left to adapt, the AGC would take the residual echo for
 * a quiet talker and raise it, up to 30 dB. The held gain is applied
 * here, with the preprocessor's own AGC off.
 */
static void fw_run(struct fw *fw, const struct want *w, int16_t *mic,
		   const int16_t *ref, int16_t *out, unsigned frame)
{
	struct want eff = *w;
	bool hold;
	float g;
	unsigned i;

	if (block_dbfs(ref, frame) > FAR_DBFS)
		fw->far_hang = FAR_HANG;
	else if (fw->far_hang > 0)
		fw->far_hang--;
	hold = w->agc && w->gate && fw->far_hang > 0;
	if (hold)
		eff.agc = 0;
	if (w->aec)
		speex_echo_cancellation(fw->aec, mic, ref, out);
	else
		memcpy(out, mic, frame * sizeof(*out));
	if (!eff.aec && !eff.ns && !eff.agc && !hold)
		return;
	fw_config(fw, &eff);
	speex_preprocess_run(fw->pre, out);
	if (eff.agc) {
		speex_preprocess_ctl(fw->pre, SPEEX_PREPROCESS_GET_AGC_GAIN,
				     &fw->agc_db);
	}
	else if (hold) {
		g = powf(10.0f, (float)fw->agc_db / 20.0f);
		for (i = 0; i < frame; i++)
			out[i] = clip16((float)out[i] * g);
	}
}

static void fw_want(const struct dspemu_pcm *p, struct want *w)
{
	const struct dspemu_state *st = p->st;

	memset(w, 0, sizeof(*w));
	w->target = dspemu_ctl_get(st, DSPEMU_AGC_TARGET);
	switch (p->profile) {
	case DSPEMU_PROFILE_DSP:
		w->aec = dspemu_ctl_get(st, DSPEMU_AEC) != 0;
		w->ns = dspemu_ctl_get(st, DSPEMU_NS) != 0;
		w->agc = dspemu_ctl_get(st, DSPEMU_AGC) != 0;
		w->gate = 1;
		break;
	case DSPEMU_PROFILE_HIDDEN:
		w->aec = 1;
		w->ns = 1;
		break;
	case DSPEMU_PROFILE_UAC:
		w->agc = dspemu_ctl_get(st, DSPEMU_AGC) != 0;
		break;
	case DSPEMU_PROFILE_PLAIN:
		break;
	}
}

/* ---- capture: one 10 ms block ------------------------------------------- */

static void capture_store(struct dspemu_pcm *p, uint64_t c, unsigned chan,
			  const int16_t *v, float gain)
{
	unsigned i, k;

	for (i = 0; i < p->frame; i++) {
		int16_t s = clip16((float)v[i] * gain);
		int16_t *dst = p->cring +
			((c + i) & (p->cring_frames - 1)) * p->ch;

		if (chan == UINT32_MAX) {
			for (k = 0; k < p->ch; k++)
				dst[k] = s;
		}
		else {
			dst[chan] = s;
		}
	}
}

static float block_dbfs(const int16_t *v, unsigned n)
{
	double e = 0.0;
	unsigned i;

	for (i = 0; i < n; i++)
		e += (double)v[i] * v[i];
	e /= n ? n : 1;
	return e > 0.0 ? (float)(10.0 * log10(e / (32768.0 * 32768.0))) :
		-200.0f;
}

static void room_block(struct dspemu_pcm *p, int64_t d, float cap_gain,
		       const struct want *w)
{
	const struct dspemu_shm *s = p->st->shm;
	const unsigned F = p->frame;
	float gn = db_gain(dspemu_room_get(p->st, DSPEMU_NEAR_DB)) * 32768.0f;
	float gz = db_gain(dspemu_room_get(p->st, DSPEMU_NOISE_DB)) * 32768.0f;
	float ge = db_gain(dspemu_room_get(p->st, DSPEMU_ECHO_DB));
	float rt60 = dspemu_room_get(p->st, DSPEMU_RT60);
	bool pink = dspemu_room_get(p->st, DSPEMU_PINK) >= 0.5f;
	int64_t dly = lrintf(dspemu_room_get(p->st, DSPEMU_ECHO_DELAY_MS) *
			     (float)p->rate / 1000.0f);
	uint64_t seed = (uint64_t)d * 0x9e3779b97f4a7c15ull ^ 0x5eed;
	unsigned i, k;

	if (fabsf(rt60 - p->rt60) > 1e-4f)
		tail_build(p, rt60);
	hist_fill(p, d - dly - (int64_t)p->tap_max, d - dly + F);
	for (i = 0; i < F; i++) {
		int64_t x = d + (int64_t)i - dly;
		float e = p->hist[(uint64_t)x & p->hist_mask];
		float z = gauss(&seed), m;

		for (k = 0; k < p->ntaps; k++)
			e += p->tap_gain[k] *
				p->hist[(uint64_t)(x - p->tap_at[k]) &
					p->hist_mask];
		if (pink)
			z = pink_step(p->pink, z) * p->pink_scale;
		m = gz * z + ge * e;
		if (gn > 0.0f && p->near_len)
			m += gn * p->near[(uint64_t)(d + (int64_t)i) %
					   p->near_len];
		p->blk_mic[i] = clip16(m);
	}
	if (s->ring_rate == p->rate && s->ring_ch == 1)
		dspemu_ring_read(p->st, d, p->blk_ref, F);
	else
		memset(p->blk_ref, 0, F * sizeof(int16_t));
	fw_run(&p->fw[0], w, p->blk_mic, p->blk_ref, p->blk_out, F);
	capture_store(p, p->gen_end, UINT32_MAX, p->blk_out, cap_gain);
}

static void pool_block(struct dspemu_pcm *p, int64_t d, float cap_gain,
		       const struct want *w)
{
	const struct dspemu_shm *s = p->st->shm;
	const unsigned F = p->frame, n2 = 2 * p->nfw;
	int64_t lat = lrintf(dspemu_room_get(p->st, DSPEMU_LATENCY_MS) *
			     (float)p->rate / 1000.0f);
	unsigned i, k;

	if (s->ring_rate == p->rate && s->ring_ch == n2)
		dspemu_ring_read(p->st, d - lat, p->blk_in, F);
	else
		memset(p->blk_in, 0, (size_t)F * n2 * sizeof(int16_t));
	for (k = 0; k < p->nfw; k++) {
		for (i = 0; i < F; i++) {
			p->blk_mic[i] = p->blk_in[i * n2 + 2 * k];
			p->blk_ref[i] = p->blk_in[i * n2 + 2 * k + 1];
		}
		fw_run(&p->fw[k], w, p->blk_mic, p->blk_ref, p->blk_out, F);
		capture_store(p, p->gen_end, k, p->blk_out, cap_gain);
	}
}

/* Make the next block of captured audio (position gen_end). */
static void capture_make(struct dspemu_pcm *p)
{
	struct dspemu_shm *s = p->st->shm;
	struct want w;
	int64_t d;
	float g, lvl;
	unsigned i;

	fw_want(p, &w);
	d = p->d_start + (int64_t)p->gen_end;
	g = db_gain(dspemu_vol_db(dspemu_ctl_get(p->st, DSPEMU_CAP_VOL)));
	if (p->cfg.pool)
		pool_block(p, d, g, &w);
	else
		room_block(p, d, g, &w);
	for (i = 0; i < p->frame; i++)
		p->blk_out[i] = p->cring[((p->gen_end + i) &
					  (p->cring_frames - 1)) * p->ch];
	lvl = block_dbfs(p->blk_out, p->frame);
	__atomic_store(&s->capture_dbfs, &lvl, __ATOMIC_RELAXED);
	p->gen_end += p->frame;
}

/* ---- areas -------------------------------------------------------------- */

static int16_t *area_at(const snd_pcm_channel_area_t *a,
			snd_pcm_uframes_t off)
{
	return (int16_t *)((uint8_t *)a->addr +
			   (a->first + off * a->step) / 8);
}

/* ---- ioplug callbacks --------------------------------------------------- */

static uint64_t appl_of(const struct dspemu_pcm *p)
{
	return (uint64_t)p->io.appl_ptr;
}

static void play_latency(struct dspemu_pcm *p)
{
	snd_pcm_uframes_t keep = p->period;

	if (p->avail_min > keep)
		keep = p->avail_min;
	p->play_lat = p->buffer > keep ? p->buffer - keep : 0;
}

/*
 * Where the stream is now: *posp the hardware pointer, *finep the exact
 * position (what snd_pcm_delay tells). false on an xrun.
 *
 * In real time the pointer moves a period at a time, as a card's does
 * at its period interrupts. alsa-lib's read and write loops for
 * plugins, unlike the kernel's, wait for a whole avail_min after
 * moving what is there: with a pointer that moves continuously, the
 * few frames that arrive between the timer and the application's wake
 * would each time add a period's wait, and a read-then-write loop
 * would drift into an underrun.
 */
static bool position(struct dspemu_pcm *p, uint64_t *posp, uint64_t *finep)
{
	const bool play = p->io.stream == SND_PCM_STREAM_PLAYBACK;
	const bool nostop = p->stop_threshold > p->buffer;
	uint64_t appl = appl_of(p), pos, fine;
	int64_t now;

	*finep = *posp = p->pos;
	if (!p->running)
		return true;
	if (!p->cfg.realtime) {
		uint64_t ahead = p->period;

		if (play && p->io.state == SND_PCM_STATE_DRAINING) {
			pos = appl;  /* drains at once */
		}
		else if (play) {
			pos = appl > p->play_lat ? appl - p->play_lat : 0;
		}
		else {
			if (p->avail_min > ahead)
				ahead = p->avail_min;
			if (ahead > p->buffer)
				ahead = p->buffer;
			pos = appl + ahead;
		}
		if (pos < p->pos)
			pos = p->pos;
		*finep = *posp = pos;
		return true;
	}
	now = dev_frame(p, mono_ns()) - p->d_start;
	fine = now > 0 ? (uint64_t)now : 0;
	if (play && fine >= appl && p->io.state == SND_PCM_STATE_DRAINING) {
		*finep = *posp = appl;
		return true;
	}
	if (play && fine > appl) {
		if (!nostop)
			return false;
		/* the card plays silence and time goes on */
		p->d_start += (int64_t)(fine - appl);
		fine = appl;
	}
	if (!play && fine > appl + p->buffer) {
		if (!nostop)
			return false;
		/* overwritten: the oldest audio is lost */
		p->d_start += (int64_t)(fine - appl - p->buffer);
		fine = appl + p->buffer;
	}
	pos = fine - fine % p->period;
	if (pos < p->pos)
		pos = p->pos;
	*posp = pos;
	*finep = fine > pos ? fine : pos;
	return true;
}

static snd_pcm_sframes_t cb_pointer(snd_pcm_ioplug_t *io)
{
	struct dspemu_pcm *p = io->private_data;
	struct dspemu_shm *s = p->st->shm;
	uint64_t pos, fine;

	if (!alive(p))
		return (snd_pcm_sframes_t)(p->pos % p->boundary);
	if (!position(p, &pos, &fine)) {
		if (!p->xrun) {
			p->xrun = true;
			if (io->stream == SND_PCM_STREAM_PLAYBACK)
				__atomic_fetch_add(&s->xruns_play, 1,
						   __ATOMIC_RELAXED);
			else
				__atomic_fetch_add(&s->xruns_capture, 1,
						   __ATOMIC_RELAXED);
		}
		return -EPIPE;
	}
	p->pos = pos;
	return (snd_pcm_sframes_t)(pos % p->boundary);
}

/* playback: the played signal into the loudspeaker ring */
static void play_store(struct dspemu_pcm *p, uint64_t at, const int16_t *v,
		       size_t n)
{
	const unsigned rch = p->ring_ch;

	if (!p->cfg.realtime) {
		dspemu_ring_write(p->st, (int64_t)(at + p->play_lat), v, n);
	}
	else if (p->running) {
		dspemu_ring_write(p->st, p->d_start + (int64_t)at, v, n);
	}
	else if (at < p->buffer) {
		/* queued before start: device time unknown yet */
		if (n > p->buffer - at)
			n = p->buffer - at;
		memcpy(p->pend + at * rch, v, n * rch * sizeof(int16_t));
	}
}

static snd_pcm_sframes_t play_transfer(struct dspemu_pcm *p,
				       const snd_pcm_channel_area_t *areas,
				       snd_pcm_uframes_t offset,
				       snd_pcm_uframes_t size)
{
	struct dspemu_shm *s = p->st->shm;
	float g = db_gain(dspemu_vol_db(dspemu_ctl_get(p->st,
						       DSPEMU_PLAY_VOL)));
	uint64_t at = appl_of(p);
	snd_pcm_uframes_t done = 0;
	unsigned c, i;

	while (done < size) {
		size_t n = size - done;

		if (n > CHUNK)
			n = CHUNK;
		for (i = 0; i < n; i++) {
			float sum = 0.0f;

			for (c = 0; c < p->ch; c++) {
				int16_t v = *area_at(&areas[c],
						     offset + done + i);

				if (p->cfg.pool)
					p->pbuf[i * p->ring_ch + c] = v;
				else
					sum += (float)v;
			}
			if (!p->cfg.pool)
				p->pbuf[i] = clip16(sum * g / (float)p->ch);
		}
		play_store(p, at + done, p->pbuf, n);
		done += n;
	}
	__atomic_fetch_add(&s->frames_played, size, __ATOMIC_RELAXED);
	return (snd_pcm_sframes_t)size;
}

static snd_pcm_sframes_t cap_transfer(struct dspemu_pcm *p,
				      const snd_pcm_channel_area_t *areas,
				      snd_pcm_uframes_t offset,
				      snd_pcm_uframes_t size)
{
	struct dspemu_shm *s = p->st->shm;
	uint64_t a = appl_of(p), i;
	unsigned c;

	if (size + p->frame > p->cring_frames ||
	    a + p->cring_frames < p->gen_end)
		return -EIO;  /* cannot happen: the ring holds a buffer */
	while (p->gen_end < a + size)
		capture_make(p);
	for (i = 0; i < size; i++) {
		const int16_t *src = p->cring +
			((a + i) & (p->cring_frames - 1)) * p->ch;

		for (c = 0; c < p->ch; c++)
			*area_at(&areas[c], offset + i) = src[c];
	}
	if (a + size > p->counted) {
		uint64_t from = a > p->counted ? a : p->counted;

		__atomic_fetch_add(&s->frames_captured, a + size - from,
				   __ATOMIC_RELAXED);
		p->counted = a + size;
	}
	return (snd_pcm_sframes_t)size;
}

static void arm(struct dspemu_pcm *p);

static snd_pcm_sframes_t cb_transfer(snd_pcm_ioplug_t *io,
				     const snd_pcm_channel_area_t *areas,
				     snd_pcm_uframes_t offset,
				     snd_pcm_uframes_t size)
{
	struct dspemu_pcm *p = io->private_data;
	snd_pcm_sframes_t r;

	if (!alive(p))
		return -ENODEV;
	if (!size)
		return 0;
	if (io->stream == SND_PCM_STREAM_PLAYBACK)
		r = play_transfer(p, areas, offset, size);
	else
		r = cap_transfer(p, areas, offset, size);
	arm(p);
	return r;
}

static int cb_start(snd_pcm_ioplug_t *io)
{
	struct dspemu_pcm *p = io->private_data;
	uint64_t appl = appl_of(p);

	if (!alive(p))
		return -ENODEV;
	p->running = true;
	p->xrun = false;
	p->pos = 0;
	if (p->cfg.realtime) {
		p->d_start = dev_frame(p, mono_ns());
		if (io->stream == SND_PCM_STREAM_PLAYBACK && appl) {
			if (appl > p->buffer)
				appl = p->buffer;
			dspemu_ring_write(p->st, p->d_start, p->pend,
					  (size_t)appl);
		}
	}
	else {
		p->d_start = 0;
	}
	arm(p);
	return 0;
}

static int cb_stop(snd_pcm_ioplug_t *io)
{
	struct dspemu_pcm *p = io->private_data;
	uint64_t appl = appl_of(p);

	if (p->running && p->cfg.realtime && !p->dead &&
	    io->stream == SND_PCM_STREAM_PLAYBACK && appl > p->pos) {
		/* what was queued is never played */
		int64_t now = dev_frame(p, mono_ns());
		int64_t end = p->d_start + (int64_t)appl;

		if (end > now)
			dspemu_ring_erase(p->st, now, (size_t)(end - now));
	}
	p->running = false;
	return 0;
}

static int cb_prepare(snd_pcm_ioplug_t *io)
{
	struct dspemu_pcm *p = io->private_data;

	if (!alive(p))
		return -ENODEV;
	p->running = false;
	p->xrun = false;
	p->pos = 0;
	p->gen_end = 0;
	p->counted = 0;
	p->hist_valid = false;
	play_latency(p);
	if (io->stream == SND_PCM_STREAM_PLAYBACK) {
		struct dspemu_shm *s = p->st->shm;

		/* free-running: positions restart, and so does time */
		if (!p->cfg.realtime || s->ring_rate != p->rate ||
		    s->ring_ch != p->ring_ch)
			dspemu_ring_reset(p->st, p->rate, p->ring_ch);
	}
	arm(p);
	return 0;
}

static void buffers_free(struct dspemu_pcm *p)
{
	unsigned k;

	for (k = 0; k < DSPEMU_POOL_MAX; k++)
		fw_free(&p->fw[k]);
	free(p->pbuf);
	free(p->pend);
	free(p->cring);
	free(p->blk_in);
	free(p->blk_mic);
	free(p->blk_ref);
	free(p->blk_out);
	free(p->hist);
	free(p->near);
	p->pbuf = p->pend = p->cring = NULL;
	p->blk_in = p->blk_mic = p->blk_ref = p->blk_out = NULL;
	p->hist = NULL;
	p->near = NULL;
	p->nfw = 0;
}

static uint64_t pow2_at_least(uint64_t n)
{
	uint64_t v = 1;

	while (v < n)
		v *= 2;
	return v;
}

/* measure the pink filter's gain once: unit RMS for unit white */
static float pink_norm(void)
{
	float b[3] = {0}, v;
	uint64_t seed = 99;
	double e = 0.0;
	int i;

	for (i = 0; i < 2000; i++)
		pink_step(b, gauss(&seed));
	for (i = 0; i < 48000; i++) {
		v = pink_step(b, gauss(&seed));
		e += (double)v * v;
	}
	return (float)(1.0 / sqrt(e / 48000.0));
}

static int cb_hw_params(snd_pcm_ioplug_t *io, snd_pcm_hw_params_t *params)
{
	struct dspemu_pcm *p = io->private_data;
	const bool play = io->stream == SND_PCM_STREAM_PLAYBACK;
	uint64_t hist_len;
	unsigned k;
	int err = 0;

	(void)params;
	if (!alive(p))
		return -ENODEV;
	buffers_free(p);
	p->rate = io->rate;
	p->ch = io->channels;
	p->buffer = io->buffer_size;
	p->period = io->period_size;
	p->avail_min = io->period_size;
	p->stop_threshold = io->buffer_size;
	p->frame = p->rate / 100;
	p->rate_eff = (double)p->rate *
		(1.0 + 1e-6 * dspemu_room_get(p->st, DSPEMU_PPM));
	p->ring_ch = p->cfg.pool ? 2 * p->cfg.pool : 1;
	p->hist_valid = false;
	p->rt60 = -1.0f;
	if (play) {
		p->pbuf = calloc((size_t)CHUNK * p->ring_ch, sizeof(int16_t));
		p->pend = calloc((size_t)p->buffer * p->ring_ch,
				 sizeof(int16_t));
		if (!p->pbuf || !p->pend)
			err = ENOMEM;
		goto out;
	}
	p->cring_frames = pow2_at_least(p->buffer + 2 * p->frame);
	p->cring = calloc(p->cring_frames * p->ch, sizeof(int16_t));
	p->blk_in = calloc((size_t)p->frame * p->ring_ch, sizeof(int16_t));
	p->blk_mic = calloc(p->frame, sizeof(int16_t));
	p->blk_ref = calloc(p->frame, sizeof(int16_t));
	p->blk_out = calloc(p->frame, sizeof(int16_t));
	if (!p->cring || !p->blk_in || !p->blk_mic || !p->blk_ref ||
	    !p->blk_out) {
		err = ENOMEM;
		goto out;
	}
	p->nfw = p->cfg.pool ? p->cfg.pool : 1;
	for (k = 0; k < p->nfw && !err; k++)
		err = fw_init(&p->fw[k], p->frame, p->rate,
			      p->cfg.aec_tail_ms);
	if (err || p->cfg.pool)
		goto out;
	/* the echo path's history: the longest delay and tail there are */
	hist_len = pow2_at_least((uint64_t)p->rate * 3 + p->frame);
	p->hist = calloc(hist_len, sizeof(float));
	if (!p->hist) {
		err = ENOMEM;
		goto out;
	}
	p->hist_mask = hist_len - 1;
	p->pink_scale = pink_norm();
	memset(p->pink, 0, sizeof(p->pink));
	err = talker_load(p);
 out:
	if (err)
		buffers_free(p);
	return -err;
}

static int cb_hw_free(snd_pcm_ioplug_t *io)
{
	buffers_free(io->private_data);
	return 0;
}

static int cb_sw_params(snd_pcm_ioplug_t *io, snd_pcm_sw_params_t *params)
{
	struct dspemu_pcm *p = io->private_data;

	snd_pcm_sw_params_get_avail_min(params, &p->avail_min);
	snd_pcm_sw_params_get_stop_threshold(params, &p->stop_threshold);
	snd_pcm_sw_params_get_boundary(params, &p->boundary);
	if (!p->boundary)
		p->boundary = p->buffer ? p->buffer : 1;
	if (!p->avail_min)
		p->avail_min = 1;
	/* no frame queued yet: the latency may still follow avail_min */
	if (!p->running && !appl_of(p))
		play_latency(p);
	return 0;
}

/* Real-time: arm the timer for when avail_min frames will be there (or
 * now, for an xrun, a dead card or a draining end). Re-arming clears a
 * timerfd's expirations, so the descriptor is level-triggered on
 * "ready", as a sound card's is. */
static void arm(struct dspemu_pcm *p)
{
	const bool play = p->io.stream == SND_PCM_STREAM_PLAYBACK;
	struct itimerspec its;
	int64_t t, now, cap;
	uint64_t appl = appl_of(p), want, pos, fine;

	if (!p->cfg.realtime || p->dead || p->poll_fd < 0)
		return;
	memset(&its, 0, sizeof(its));
	now = mono_ns();
	cap = now + WAKE_MAX_NS;
	if (!p->running) {
		t = cap;
		/* a prepared playback accepts data at once */
		if (play && p->io.state == SND_PCM_STATE_PREPARED &&
		    appl < p->buffer)
			t = now;
	}
	else if (!position(p, &pos, &fine)) {
		t = now;
	}
	else {
		if (play && p->io.state == SND_PCM_STATE_DRAINING)
			want = appl;
		else if (play)
			want = appl + p->avail_min > p->buffer ?
				appl + p->avail_min - p->buffer : 0;
		else
			want = appl + p->avail_min;
		/* the pointer gets there at a period boundary */
		if (want > pos && !(play && p->io.state ==
				    SND_PCM_STATE_DRAINING))
			want += (p->period - want % p->period) % p->period;
		t = want <= pos ? now :
			dev_time(p, p->d_start + (int64_t)want);
		if (t > cap)
			t = cap;
	}
	if (t <= now)
		t = 1;  /* in the past: expires at once (0 would disarm) */
	its.it_value.tv_sec = t / NS;
	its.it_value.tv_nsec = t % NS;
	timerfd_settime(p->poll_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static int cb_poll_count(snd_pcm_ioplug_t *io)
{
	(void)io;
	return 1;
}

static int cb_poll_descriptors(snd_pcm_ioplug_t *io, struct pollfd *pfd,
			       unsigned int space)
{
	struct dspemu_pcm *p = io->private_data;

	if (space < 1)
		return 0;
	alive(p);
	arm(p);
	pfd->fd = p->poll_fd;
	pfd->events = POLLIN;
	pfd->revents = 0;
	return 1;
}

static int cb_poll_revents(snd_pcm_ioplug_t *io, struct pollfd *pfd,
			   unsigned int nfds, unsigned short *revents)
{
	struct dspemu_pcm *p = io->private_data;
	const bool play = io->stream == SND_PCM_STREAM_PLAYBACK;
	const unsigned short ready = play ? POLLOUT : POLLIN;
	uint64_t appl = appl_of(p), pos, fine, avail;

	if (nfds != 1)
		return -EINVAL;
	if (!alive(p) || (pfd->revents & (POLLERR | POLLHUP | POLLNVAL))) {
		*revents = POLLERR | POLLHUP;
		return 0;
	}
	if (!p->cfg.realtime) {
		*revents = ready;
		return 0;
	}
	*revents = 0;
	if (!p->running) {
		if (play && io->state == SND_PCM_STATE_PREPARED &&
		    appl < p->buffer)
			*revents = ready;
	}
	else if (!position(p, &pos, &fine)) {
		*revents = ready | POLLERR;
	}
	else {
		if (play)
			avail = p->buffer + pos - appl;
		else
			avail = pos - appl;
		if (avail >= p->avail_min ||
		    (play && io->state == SND_PCM_STATE_DRAINING &&
		     pos >= appl))
			*revents = ready;
	}
	if (!*revents)
		arm(p);
	return 0;
}

static int cb_delay(snd_pcm_ioplug_t *io, snd_pcm_sframes_t *delayp)
{
	struct dspemu_pcm *p = io->private_data;
	uint64_t appl = appl_of(p), pos, fine;

	if (!alive(p))
		return -ENODEV;
	if (!position(p, &pos, &fine))
		return -EPIPE;
	/* the exact position: finer than the pointer, as a card's
	 * delay is (its DMA position) */
	if (io->stream == SND_PCM_STREAM_PLAYBACK)
		*delayp = appl > fine ? (snd_pcm_sframes_t)(appl - fine) : 0;
	else
		*delayp = (snd_pcm_sframes_t)(fine - appl);
	return 0;
}

static int cb_close(snd_pcm_ioplug_t *io)
{
	struct dspemu_pcm *p = io->private_data;

	buffers_free(p);
	if (p->poll_fd >= 0)
		close(p->poll_fd);
	dspemu_state_close(p->st);
	free(p);
	return 0;
}

static const snd_pcm_ioplug_callback_t dspemu_callback = {
	.start = cb_start,
	.stop = cb_stop,
	.pointer = cb_pointer,
	.transfer = cb_transfer,
	.close = cb_close,
	.hw_params = cb_hw_params,
	.hw_free = cb_hw_free,
	.sw_params = cb_sw_params,
	.prepare = cb_prepare,
	.poll_descriptors_count = cb_poll_count,
	.poll_descriptors = cb_poll_descriptors,
	.poll_revents = cb_poll_revents,
	.delay = cb_delay,
};

/* ---- open --------------------------------------------------------------- */

static int constraints(struct dspemu_pcm *p)
{
	static const unsigned access[] = {
		SND_PCM_ACCESS_RW_INTERLEAVED,
		SND_PCM_ACCESS_MMAP_INTERLEAVED,
	};
	static const unsigned formats[] = {SND_PCM_FORMAT_S16_LE};
	static const unsigned rates[] = {8000, 16000, 48000};
	snd_pcm_ioplug_t *io = &p->io;
	unsigned chmin = 1, chmax = 2;
	int err;

	if (p->cfg.pool) {
		chmin = chmax = io->stream == SND_PCM_STREAM_PLAYBACK ?
			2 * p->cfg.pool : p->cfg.pool;
	}
	err = snd_pcm_ioplug_set_param_list(io, SND_PCM_IOPLUG_HW_ACCESS,
					    2, access);
	if (!err)
		err = snd_pcm_ioplug_set_param_list(
			io, SND_PCM_IOPLUG_HW_FORMAT, 1, formats);
	if (!err)
		err = snd_pcm_ioplug_set_param_minmax(
			io, SND_PCM_IOPLUG_HW_CHANNELS, chmin, chmax);
	if (!err)
		err = snd_pcm_ioplug_set_param_list(
			io, SND_PCM_IOPLUG_HW_RATE, 3, rates);
	/* 80 frames (5 ms at 16 kHz) to 9600 (200 ms at 48 kHz) a
	 * period, 2 to 64 periods, up to 48000 frames a buffer */
	if (!err)
		err = snd_pcm_ioplug_set_param_minmax(
			io, SND_PCM_IOPLUG_HW_PERIOD_BYTES, 80 * 2 * chmin,
			9600 * 2 * chmax);
	if (!err)
		err = snd_pcm_ioplug_set_param_minmax(
			io, SND_PCM_IOPLUG_HW_PERIODS, 2, 64);
	if (!err)
		err = snd_pcm_ioplug_set_param_minmax(
			io, SND_PCM_IOPLUG_HW_BUFFER_BYTES, 160 * 2 * chmin,
			48000 * 2 * chmax);
	return err;
}

int SND_PCM_PLUGIN_ENTRY(dspemu)(snd_pcm_t **pcmp, const char *name,
				 snd_config_t *root, snd_config_t *conf,
				 snd_pcm_stream_t stream, int mode);

SND_PCM_PLUGIN_DEFINE_FUNC(dspemu)
{
	struct dspemu_pcm *p;
	int err;

	(void)root;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->poll_fd = -1;
	dspemu_cfg_default(&p->cfg);
	err = dspemu_cfg_parse(&p->cfg, conf);
	if (err)
		goto out;
	p->profile = dspemu_cfg_profile(&p->cfg);
	err = dspemu_state_open(&p->st, p->cfg.state, &p->cfg, true);
	if (err) {
		SNDERR("dspemu: state %s: %s", p->cfg.state, strerror(err));
		goto out;
	}
	if (!dspemu_state_alive(p->st, dspemu_state_gen(p->st))) {
		err = ENODEV;   /* unplugged: no such device */
		goto out;
	}
	p->gen = dspemu_state_gen(p->st);
	p->epoch_ns = p->st->shm->epoch_ns;
	p->boundary = 1;
	if (p->cfg.realtime)
		p->poll_fd = timerfd_create(CLOCK_MONOTONIC,
					    TFD_NONBLOCK | TFD_CLOEXEC);
	else
		p->poll_fd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->poll_fd < 0) {
		err = errno;
		goto out;
	}
	p->io.version = SND_PCM_IOPLUG_VERSION;
	p->io.name = "lowbridge emulated DSP card";
	p->io.flags = SND_PCM_IOPLUG_FLAG_BOUNDARY_WA |
		SND_PCM_IOPLUG_FLAG_MONOTONIC;
	p->io.poll_fd = p->poll_fd;
	p->io.poll_events = POLLIN;
	p->io.mmap_rw = 0;
	p->io.callback = &dspemu_callback;
	p->io.private_data = p;
	err = -snd_pcm_ioplug_create(&p->io, name, stream, mode);
	if (err)
		goto out;
	err = -constraints(p);
	if (err) {
		snd_pcm_ioplug_delete(&p->io);  /* frees p through close */
		return -err;
	}
	__atomic_fetch_add(&p->st->shm->opens, 1, __ATOMIC_RELAXED);
	*pcmp = p->io.pcm;
	return 0;
 out:
	if (p->poll_fd >= 0)
		close(p->poll_fd);
	dspemu_state_close(p->st);
	free(p);
	return -err;
}

SND_PCM_PLUGIN_SYMBOL(dspemu);
