/**
 * @file quality_mix.c  Offline conference simulation: speech quality of
 * the mix, AGC, turn-taking, VAD, latency and cost of the per-site chain.
 *
 * The bridge's mixer is simulated frame by frame (20 ms, 16 kHz) with
 * the real dsp/ chain (dsp_proc_*) and talker selection (dsp_select_*),
 * on espeak-ng speech placed in synthetic rooms with noise and echo,
 * and scored with the dsp/ quality measures (ESTOI, levels, delays).
 * The mixing rules live in one function, conf_tick(); the two
 * baselines of the research note (plain sum of every site, and top-3
 * by smoothed energy with SpeexDSP denoise on every site) run through
 * that same function, so the three differ only in what is documented
 * there.
 *
 * Prints markdown tables with the figure, the target and PASS/MISS
 * beside it (docs/quality.md explains every row). A benchmark, not a
 * test: the exit status is 0 whatever the figures, 1 only when it
 * could not run (bad arguments, unreadable speech, no memory).
 *
 * Usage: quality_mix [--quick] [--seed N] [--threads N] [--rows LIST]
 *                    WAV...
 *   LIST: comma-separated of many, agc, turn, vad, lat, cpu
 *         (default all). The WAVs come from tests/bench/speech.sh;
 *         the first two are the main talkers. --threads 1 runs row 1's
 *         two talkers one after the other (default 2, side by side;
 *         the figures are the same).
 *
 * Everything random is drawn from dsp_rng seeded from --seed (default
 * 1), so a run is reproducible on any machine with IEEE float.
 */
#include <re.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <time.h>
#include <sndfile.h>
#include <speex/speex_preprocess.h>
#include <speex/speex_resampler.h>
#include "dsp.h"
#include "dsptest.h"
#include "mixcore.h"

#define SR 16000
#define FR 320                   /* 20 ms frame, as the mixer's tick */
#define FS 32767.0f              /* 0 dBFS RMS (full-scale square) */
#define MAX_VOICES 16
#define MAX_UTTS 64
#define LAG_MAX 2400             /* lag search for ESTOI, samples */

/* ---- small helpers ------------------------------------------------------ */

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (!p) {
		fprintf(stderr, "quality_mix: out of memory\n");
		exit(1);
	}
	return p;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float lin(float db)
{
	return powf(10.0f, db / 20.0f);
}

/* dBFS of a mean power in int16 scale */
static float pow_db(double pw)
{
	if (!(pw > 0.0))
		return DSP_SILENCE_DBFS;
	pw = 10.0 * log10(pw / ((double)FS * FS));
	return pw < DSP_SILENCE_DBFS ? DSP_SILENCE_DBFS : (float)pw;
}

static double mean_pow(const float *x, size_t n)
{
	double e = 0.0;
	size_t i;

	for (i = 0; i < n; i++)
		e += (double)x[i] * x[i];
	return n ? e / (double)n : 0.0;
}

static int16_t to_s16(float v)
{
	v = v > 32767.0f ? 32767.0f : v < -32768.0f ? -32768.0f : v;
	return (int16_t)lrintf(v);
}

static float urand(struct dsp_rng *r, float a, float b)
{
	return a + (b - a) * dsp_rng_uniform(r);
}

static const char *pass(bool ok)
{
	return ok ? "PASS" : "MISS";
}

/* ---- speech material ---------------------------------------------------- */

struct utt {
	size_t a, b;             /* samples [a, b) of the voice */
};

/* One espeak-ng talker: its samples (int16 scale), the active speech
 * level (RMS over the frames within 30 dB of the loudest, a simple
 * stand-in for ITU-T P.56) and its utterances (speech between pauses
 * of 200 ms or more), where turns may start and end. */
struct voice {
	char name[64];
	float *x;
	size_t n;
	float active_db;
	struct utt utt[MAX_UTTS];
	size_t nutt;
};

static struct voice voices[MAX_VOICES];
static size_t nvoices;

static float *resample(const float *in, size_t n, int rate, size_t *outn)
{
	SpeexResamplerState *rs;
	spx_uint32_t il, ol;
	float *out;
	int err;

	*outn = (size_t)((double)n * SR / rate) + 16;
	out = xcalloc(*outn, sizeof(*out));
	rs = speex_resampler_init(1, (spx_uint32_t)rate, SR, 10, &err);
	if (!rs)
		return NULL;
	il = (spx_uint32_t)n;
	ol = (spx_uint32_t)*outn;
	speex_resampler_process_float(rs, 0, in, &il, out, &ol);
	speex_resampler_destroy(rs);
	*outn = ol;
	return out;
}

static void frame_levels(const float *x, size_t nfr, float *db)
{
	size_t f;

	for (f = 0; f < nfr; f++)
		db[f] = pow_db(mean_pow(x + f * FR, FR));
}

static void voice_analyse(struct voice *v)
{
	const size_t nfr = v->n / FR;
	float *db = xcalloc(nfr, sizeof(*db));
	float mx = DSP_SILENCE_DBFS, thr;
	double e = 0.0;
	size_t f, k = 0, quiet = 0;
	bool in = false;

	frame_levels(v->x, nfr, db);
	for (f = 0; f < nfr; f++)
		mx = db[f] > mx ? db[f] : mx;
	for (f = 0; f < nfr; f++) {
		if (db[f] >= mx - 30.0f) {
			e += mean_pow(v->x + f * FR, FR);
			k++;
		}
	}
	v->active_db = pow_db(k ? e / (double)k : 0.0);

	thr = v->active_db - 35.0f;
	v->nutt = 0;
	for (f = 0; f < nfr; f++) {
		if (db[f] >= thr) {
			if (!in && v->nutt < MAX_UTTS) {
				v->utt[v->nutt].a = f * FR;
				in = true;
			}
			if (in)
				v->utt[v->nutt].b = (f + 1) * FR;
			quiet = 0;
		}
		else if (in && ++quiet >= 10) {
			in = false;
			v->nutt++;
		}
	}
	if (in)
		v->nutt++;
	free(db);
}

static int voice_load(struct voice *v, const char *path)
{
	SF_INFO info;
	SNDFILE *sf;
	const char *base = strrchr(path, '/');
	float *x;
	size_t n, i;
	char *dot;

	memset(&info, 0, sizeof(info));
	sf = sf_open(path, SFM_READ, &info);
	if (!sf) {
		fprintf(stderr, "quality_mix: %s: %s\n", path,
			sf_strerror(NULL));
		return EINVAL;
	}
	n = (size_t)info.frames;
	x = xcalloc(n * (size_t)info.channels, sizeof(*x));
	n = (size_t)sf_readf_float(sf, x, (sf_count_t)n);
	sf_close(sf);
	/* first channel only */
	for (i = 0; i < n; i++)
		x[i] = x[i * (size_t)info.channels] * 32768.0f;
	if (info.samplerate != SR) {
		float *y = resample(x, n, info.samplerate, &n);

		free(x);
		if (!y)
			return EINVAL;
		x = y;
	}
	snprintf(v->name, sizeof(v->name), "%s", base ? base + 1 : path);
	dot = strrchr(v->name, '.');
	if (dot)
		*dot = '\0';
	v->x = x;
	v->n = n;
	voice_analyse(v);
	if (v->nutt == 0) {
		fprintf(stderr, "quality_mix: %s: no speech found\n", path);
		return EINVAL;
	}
	return 0;
}

/* Gain that brings a voice's active level to level_dbfs. */
static float voice_gain(const struct voice *v, float level_dbfs)
{
	return lin(level_dbfs - v->active_db);
}

/* Add v's samples [a, b) times gain to dst at sample at (clipped to
 * dst's length n). */
static void place(float *dst, size_t n, size_t at, const struct voice *v,
		  size_t a, size_t b, float gain)
{
	size_t i;

	for (i = a; i < b && at + (i - a) < n; i++)
		dst[at + (i - a)] += gain * v->x[i];
}

/* ---- labels: which frames of a clean signal are speech ------------------ */

enum { LAB_SILENT, LAB_WEAK, LAB_SPEECH };

/* Per 20 ms frame of the clean near-end speech: LAB_SPEECH within 20 dB
 * of its active level, LAB_WEAK down to 45 dB below it (word edges,
 * breath), LAB_SILENT below. */
static uint8_t *labels(const float *clean, size_t nfr, float active_db)
{
	uint8_t *lab = xcalloc(nfr, 1);
	size_t f;

	for (f = 0; f < nfr; f++) {
		float db = pow_db(mean_pow(clean + f * FR, FR));

		lab[f] = db >= active_db - 20.0f ? LAB_SPEECH :
			db >= active_db - 45.0f ? LAB_WEAK : LAB_SILENT;
	}
	return lab;
}

/* A noise frame for scoring false alarms: silent, and no speech from
 * 300 ms before (the detector's hangover plus margin) to 40 ms after. */
static bool lab_noise(const uint8_t *lab, size_t nfr, size_t f)
{
	size_t a = f >= 15 ? f - 15 : 0, b = f + 2 < nfr ? f + 2 : nfr - 1;

	for (; a <= b; a++)
		if (lab[a] != LAB_SILENT)
			return false;
	return true;
}

/* ---- noise -------------------------------------------------------------- */

enum noise_kind { NZ_PINK, NZ_HUM, NZ_BABBLE };

static const char *const noise_names[] = {"pink", "hum", "babble"};

/* Babble: every voice but `skip`, each at its own random offset
 * (looped), at equal active levels; RMS 1.0 overall. */
static void babble(float *out, size_t n, size_t skip, struct dsp_rng *r)
{
	size_t v, i;
	double e;

	memset(out, 0, n * sizeof(*out));
	for (v = 0; v < nvoices; v++) {
		const struct voice *vo = &voices[v];
		const float g = voice_gain(vo, -30.0f);
		size_t k;

		if (v == skip && nvoices > 1)
			continue;
		k = dsp_rng_u32(r) % vo->n;
		for (i = 0; i < n; i++) {
			out[i] += g * vo->x[k];
			if (++k == vo->n)
				k = 0;
		}
	}
	e = mean_pow(out, n);
	for (i = 0; i < n; i++)
		out[i] = (float)(out[i] / sqrt(e > 0.0 ? e : 1.0));
}

/* Noise of a kind at RMS level_dbfs, n samples, added to dst. */
static void add_noise(float *dst, size_t n, enum noise_kind kind,
		      float level_dbfs, size_t skip_voice, uint64_t seed)
{
	float *w = xcalloc(n, sizeof(*w));
	struct dsp_rng r;
	const float g = FS * lin(level_dbfs);
	size_t i;

	dsp_rng_seed(&r, seed);
	if (kind == NZ_BABBLE)
		babble(w, n, skip_voice, &r);
	else
		dsp_synth_noise(w, n, SR, kind == NZ_HUM ? DSP_NOISE_HUM :
				DSP_NOISE_PINK, &r);
	for (i = 0; i < n; i++)
		dst[i] += g * w[i];
	free(w);
}

/* ---- rooms: FFT convolution of the echo path ---------------------------- */

/*
 * A site's loudspeaker-to-microphone path: what the bridge sends it,
 * through its room impulse response, times the loudspeaker-to-mic gain,
 * late by the bulk delay (network, jitter buffers, devices). Computed by
 * uniformly partitioned overlap-save convolution in blocks of b samples,
 * so 40 rooms of 0.5 s cost little; the output of a block exists once
 * the block is complete, which the bulk delay must cover (b + one frame
 * <= delay), as it always does for the 200 ms used here.
 */
struct echo_path {
	struct dsp_fft *fft;
	size_t b, p;             /* block, partitions */
	float *hre, *him;        /* p spectra of 2b bins */
	float *xre, *xim;        /* p past input spectra, a ring */
	size_t head;
	float *blk;              /* previous and current input block */
	size_t fill;
	float *wre, *wim, *are, *aim;
	float *y;                /* output on the run's timeline */
	size_t ny, ypos;
	float gain;
	size_t delay;
};

static struct echo_path *echo_alloc(const float *h, size_t hl, float gain,
				    size_t delay, size_t total)
{
	struct echo_path *e = xcalloc(1, sizeof(*e));
	size_t b = 1024, q, i, n;

	while (b > 64 && b + FR > delay)
		b /= 2;
	n = 2 * b;
	e->b = b;
	e->p = (hl + b - 1) / b;
	if (dsp_fft_alloc(&e->fft, n)) {
		fprintf(stderr, "quality_mix: out of memory\n");
		exit(1);
	}
	e->hre = xcalloc(e->p * n, sizeof(float));
	e->him = xcalloc(e->p * n, sizeof(float));
	e->xre = xcalloc(e->p * n, sizeof(float));
	e->xim = xcalloc(e->p * n, sizeof(float));
	e->blk = xcalloc(n, sizeof(float));
	e->wre = xcalloc(n, sizeof(float));
	e->wim = xcalloc(n, sizeof(float));
	e->are = xcalloc(n, sizeof(float));
	e->aim = xcalloc(n, sizeof(float));
	for (q = 0; q < e->p; q++) {
		float *re = e->hre + q * n, *im = e->him + q * n;

		for (i = 0; i < b && q * b + i < hl; i++)
			re[i] = h[q * b + i];
		dsp_fft_run(e->fft, re, im, false);
	}
	e->ny = total + b;
	e->y = xcalloc(e->ny, sizeof(float));
	e->gain = gain;
	e->delay = delay;
	return e;
}

static void echo_free(struct echo_path *e)
{
	if (!e)
		return;
	dsp_fft_free(e->fft);
	free(e->hre);
	free(e->him);
	free(e->xre);
	free(e->xim);
	free(e->blk);
	free(e->wre);
	free(e->wim);
	free(e->are);
	free(e->aim);
	free(e->y);
	free(e);
}

static void echo_block(struct echo_path *e)
{
	const size_t b = e->b, n = 2 * b, p = e->p;
	size_t q, i;

	memcpy(e->wre, e->blk, n * sizeof(float));
	memset(e->wim, 0, n * sizeof(float));
	dsp_fft_run(e->fft, e->wre, e->wim, false);
	e->head = (e->head + p - 1) % p;
	memcpy(e->xre + e->head * n, e->wre, n * sizeof(float));
	memcpy(e->xim + e->head * n, e->wim, n * sizeof(float));
	memset(e->are, 0, n * sizeof(float));
	memset(e->aim, 0, n * sizeof(float));
	for (q = 0; q < p; q++) {
		const size_t s = (e->head + q) % p;
		const float *xr = e->xre + s * n, *xi = e->xim + s * n;
		const float *hr = e->hre + q * n, *hi = e->him + q * n;

		for (i = 0; i < n; i++) {
			e->are[i] += xr[i] * hr[i] - xi[i] * hi[i];
			e->aim[i] += xr[i] * hi[i] + xi[i] * hr[i];
		}
	}
	dsp_fft_run(e->fft, e->are, e->aim, true);
	for (i = 0; i < b && e->ypos + i < e->ny; i++)
		e->y[e->ypos + i] = e->are[b + i] / (float)n;
	e->ypos += b;
	memmove(e->blk, e->blk + b, b * sizeof(float));
	e->fill = 0;
}

/* What the site was sent, in send order. */
static void echo_push(struct echo_path *e, const int16_t *x, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		e->blk[e->b + e->fill] = x[i];
		if (++e->fill == e->b)
			echo_block(e);
	}
}

/* The echo in the microphone at sample s of the run. */
static float echo_at(const struct echo_path *e, size_t s)
{
	if (s < e->delay)
		return 0.0f;
	s -= e->delay;
	return s < e->ypos ? e->gain * e->y[s] : 0.0f;
}

/* Room impulse response: a direct path, then from 3 ms exponentially
 * decaying Gaussian noise that falls 60 dB in rt60_s, with as much
 * energy as the direct path (DRR 0 dB, as in the research note);
 * normalised to unit energy, so the gain alone sets the echo level. */
static float *rir_make(float rt60_s, size_t *len, struct dsp_rng *r)
{
	const size_t n = (size_t)(rt60_s * SR), t0 = 48;
	float *h = xcalloc(n, sizeof(*h));
	double e = 0.0;
	size_t i;

	for (i = t0; i < n; i++) {
		const double t = (double)(i - t0) / SR;

		h[i] = dsp_rng_gauss(r) *
			(float)exp(-3.0 * log(10.0) * t / rt60_s);
		e += (double)h[i] * h[i];
	}
	for (i = t0; i < n; i++)
		h[i] /= (float)sqrt(e);
	h[0] = 1.0f;
	for (i = 0; i < n; i++)
		h[i] /= (float)sqrt(2.0);
	*len = n;
	return h;
}

/* ---- the conference ----------------------------------------------------- */

/* What a site's microphone picks up; fixed for a scenario, shared by
 * every strategy run on it. */
struct site_src {
	float *near;             /* its own talker on the run's timeline */
	float *noise;            /* its room noise on the timeline */
	float *rir;              /* NULL: the site does not echo */
	size_t rir_len;
	float echo_gain;         /* loudspeaker to microphone, linear */
	size_t echo_delay;       /* bulk delay, samples */
	const float *echo_src;   /* not NULL: the room plays this timeline
				    (open loop), not what it is sent */
};

enum strat {
	ST_CHAIN,                /* lowbridge: the mix core, defaults */
	ST_CHAIN_NOAEC,          /* the same with echo control off */
	ST_PLAIN,                /* every site, unprocessed, summed */
	ST_TOPK,                 /* speex denoise, top-3 smoothed energy */
};

/* Per site and frame, for the scoring. */
struct flog {
	float gain;              /* mix gain at the end of the frame */
	float agc_db;
	bool selected, speech, echo_only, full;
};

struct site {
	const struct site_src *src;
	struct echo_path *echo;
	struct mixcore_member *m;
	SpeexPreprocessState *pp;        /* ST_TOPK */
	float energy;                    /* ST_TOPK: smoothed frame power */
	bool picked;                     /* ST_TOPK: one of the top 3 */
	struct dsp_proc_meters meters;
	struct flog *log;
	float *rec_in, *rec_out;         /* optional recordings */
};

struct conf {
	enum strat strat;
	size_t ns, nframes, total;
	struct site *s;
	struct mixcore *core;
	struct mix_profile *prof;        /* PCM: what every site hears */
	size_t topk;
	float *out;                      /* what a listener (not mixed)
					    hears */
	bool aec_failed;
};

/* The bridge's defaults (dsp_proc_defaults, equal to bridge/config.c),
 * echo control as asked. */
static void proc_defaults(struct dsp_proc_prm *prm, bool aec)
{
	dsp_proc_defaults(prm);
	prm->aec = aec;
}

static struct dsp_aec *aec_new(void)
{
	struct dsp_aec *aec = NULL;

	if (mixcore_aec_alloc(&aec))
		return NULL;
	return aec;
}

static void conf_free(struct conf *c)
{
	size_t i;

	for (i = 0; i < c->ns; i++) {
		struct site *s = &c->s[i];

		if (s->m)
			mixcore_remove(c->core, s->m);
		mem_deref(s->m);
		echo_free(s->echo);
		if (s->pp)
			speex_preprocess_state_destroy(s->pp);
		free(s->log);
		free(s->rec_in);
		free(s->rec_out);
	}
	mem_deref(c->core);
	mem_deref(c->prof);
	free(c->s);
	free(c->out);
	memset(c, 0, sizeof(*c));
}

/*
 * Every strategy runs through the bridge's own mix core
 * (bridge/mixcore.c), the code the mixer thread drives: each site is a
 * member on a PCM profile (what it hears is what its loudspeaker
 * plays). What differs is only what the strategy is documented to be:
 *  - lowbridge: the members with the bridge's default processing
 *    (dsp_proc_defaults), echo control as the row says, K = 3;
 *  - plain sum: processing off, every member a chair (always mixed);
 *  - top-3: the research note's simple bridge: SpeexDSP denoise at
 *    -15 dB on every site, then the 3 sites with the highest smoothed
 *    power are made chairs (and the others may not speak) each frame;
 *    the core's own processing is off.
 * record: keep each site's input and processed output (small runs).
 */
static void conf_init(struct conf *c, enum strat st,
		      const struct site_src *src, size_t ns, size_t total,
		      bool record)
{
	static const struct codec_prm pcm = {.id = CODEC_NONE,
					     .ptime_ms = 20};
	struct mixcore_prm cp = {.max_members = (uint32_t)ns,
				 .max_talkers = 3};
	struct mix_dsp d;
	size_t i;

	memset(c, 0, sizeof(*c));
	c->strat = st;
	c->ns = ns;
	c->nframes = total / FR;
	c->total = c->nframes * FR;
	c->s = xcalloc(ns, sizeof(*c->s));
	c->out = xcalloc(c->total, sizeof(float));
	c->topk = 3;
	memset(&d, 0, sizeof(d));
	proc_defaults(&d.proc, st == ST_CHAIN);
	if (st == ST_PLAIN || st == ST_TOPK) {
		d.proc.ns = d.proc.agc = d.proc.aec = false;
		d.chair = st == ST_PLAIN;
	}
	if (mixcore_alloc(&c->core, &cp) ||
	    mix_profile_alloc(&c->prof, &pcm) ||
	    mixcore_profile_add(c->core, c->prof)) {
		fprintf(stderr, "quality_mix: mix core failed\n");
		exit(1);
	}
	for (i = 0; i < ns; i++) {
		struct site *s = &c->s[i];

		s->src = &src[i];
		s->log = xcalloc(c->nframes, sizeof(*s->log));
		if (record) {
			s->rec_in = xcalloc(c->total, sizeof(float));
			s->rec_out = xcalloc(c->total, sizeof(float));
		}
		if (src[i].rir)
			s->echo = echo_alloc(src[i].rir, src[i].rir_len,
					     src[i].echo_gain,
					     src[i].echo_delay, c->total);
		if (mixcore_member_alloc(&s->m, &d, c->prof, s)) {
			/* the canceller is what can fail: go on without */
			struct mix_dsp d2 = d;

			d2.proc.aec = false;
			c->aec_failed = true;
			if (mixcore_member_alloc(&s->m, &d2, c->prof, s)) {
				fprintf(stderr, "quality_mix: member "
					"failed\n");
				exit(1);
			}
		}
		(void)mixcore_add(c->core, s->m);
		if (st == ST_TOPK) {
			int on = 1, db = -15;

			/* the research note's baseline: denoise at -15 dB,
			 * nothing else, no echo state */
			s->pp = speex_preprocess_state_init(FR, SR);
			if (!s->pp) {
				fprintf(stderr, "quality_mix: speex failed\n");
				exit(1);
			}
			speex_preprocess_ctl(s->pp,
				SPEEX_PREPROCESS_SET_DENOISE, &on);
			speex_preprocess_ctl(s->pp,
				SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, &db);
		}
	}
}

/* The site's microphone for frame t: its talker, its room noise, and
 * its echo of what it was sent before. */
static void capture(struct site *s, size_t t, int16_t *frame)
{
	const struct site_src *src = s->src;
	const size_t n0 = t * FR;
	size_t i;

	for (i = 0; i < FR; i++) {
		float v = 0.0f;

		if (src->near)
			v += src->near[n0 + i];
		if (src->noise)
			v += src->noise[n0 + i];
		if (s->echo)
			v += echo_at(s->echo, n0 + i);
		frame[i] = to_s16(v);
	}
}

/* The top-3 baseline's choice, made its way: the sites with the highest
 * smoothed power of their denoised frame become the chairs. */
static void topk_choose(struct conf *c, size_t t)
{
	struct mix_dsp d;
	size_t i, k;
	bool *pick = xcalloc(c->ns, sizeof(bool));

	for (k = 0; k < c->topk && k < c->ns; k++) {
		struct site *best = NULL;
		size_t bi = 0;

		for (i = 0; i < c->ns; i++) {
			struct site *s = &c->s[i];

			if (!pick[i] && (!best || s->energy > best->energy)) {
				best = s;
				bi = i;
			}
		}
		pick[bi] = true;
	}
	memset(&d, 0, sizeof(d));
	for (i = 0; i < c->ns; i++) {
		if (c->s[i].picked == pick[i] && t > 0)
			continue;
		c->s[i].picked = pick[i];
		d.chair = pick[i];
		mixcore_member_set_dsp(c->s[i].m, &d, NULL, NULL);
		mixcore_member_set_io(c->s[i].m, pick[i], true);
	}
	free(pick);
}

/*
 * One 20 ms tick of the bridge, for every site, as bridge/mixer.c
 * drives the core: each member's input frame (capture: talker + room
 * noise + the echo of what the site was sent in earlier ticks), its
 * chain (mixcore_member_process), the selection (mixcore_select), the
 * mix (mixcore_mix); then what each member is sent goes to its
 * loudspeaker, into its echo path, and the listener's mix (what a site
 * that is not mixed hears) is recorded for the scores.
 */
static void conf_tick(struct conf *c, size_t t)
{
	struct mixcore_out o;
	size_t i, k;

	for (i = 0; i < c->ns; i++) {
		struct site *s = &c->s[i];
		int16_t *in = mixcore_member_input(s->m);

		capture(s, t, in);
		if (s->rec_in) {
			for (k = 0; k < FR; k++)
				s->rec_in[t * FR + k] = in[k];
		}
		s->log[t].full = mixcore_member_talking(s->m);
		if (c->strat == ST_TOPK) {
			double e = 0.0;

			speex_preprocess_run(s->pp, in);
			for (k = 0; k < FR; k++)
				e += (double)in[k] * in[k];
			/* about 90 ms of smoothing */
			s->energy = 0.8f * s->energy +
				0.2f * (float)(e / FR);
		}
	}
	if (c->strat == ST_TOPK)
		topk_choose(c, t);
	for (i = 0; i < c->ns; i++)
		mixcore_member_process(c->s[i].m, true);
	mixcore_select(c->core);
	mixcore_mix(c->core);

	for (i = 0; i < c->ns; i++) {
		struct site *s = &c->s[i];
		const bool on = mixcore_member_talking(s->m);

		s->meters = *mixcore_member_meters(s->m);
		mixcore_member_output(s->m, &o);
		if (s->echo && s->src->echo_src) {
			int16_t x[FR];

			for (k = 0; k < FR; k++)
				x[k] = to_s16(s->src->echo_src[t * FR + k]);
			echo_push(s->echo, x, FR);
		}
		else if (s->echo) {
			echo_push(s->echo, o.pcm, FR);
		}
		s->log[t].gain = on ? 1.0f : 0.0f;
		s->log[t].agc_db = s->meters.agc_gain_db;
		s->log[t].selected = on;
		s->log[t].speech = s->meters.speech;
		s->log[t].echo_only = s->meters.echo_only;
		if (s->rec_out) {
			const int16_t *pr =
				mixcore_member_processed(s->m, NULL);

			for (k = 0; k < FR; k++)
				s->rec_out[t * FR + k] = pr[k];
		}
	}
	for (k = 0; k < FR; k++)
		c->out[t * FR + k] = mixcore_mix_pcm(c->core)[k];
}

static void conf_run(struct conf *c)
{
	size_t t;

	for (t = 0; t < c->nframes; t++)
		conf_tick(c, t);
}

/* Mix gain of site s at output sample o (the ramp inside a frame). */
static float gain_at(const struct site *s, size_t o)
{
	const size_t t = o / FR, k = o % FR;
	const float g0 = t ? s->log[t - 1].gain : 0.0f, g1 = s->log[t].gain;

	return g0 + (g1 - g0) * (float)(k + 1) / FR;
}

static size_t lookahead(void)
{
	struct dsp_limiter l;

	dsp_limiter_init(&l, SR, -1.0f);
	return l.lookahead;
}

/* Lag of out behind ref over [a, b), by cross-correlation. */
static size_t find_lag(const float *ref, const float *out, size_t total,
		       size_t a, size_t b, float *corr)
{
	int32_t lag = 0;
	float cr = 0.0f;

	if (b > total)
		b = total;
	if (dsp_delay_estimate(ref + a, b - a, out + a, b - a, 0, LAG_MAX,
			       &lag, &cr) || lag < 0)
		lag = 0;
	if (corr)
		*corr = cr;
	return (size_t)lag;
}

static float estoi_lag(const float *ref, const float *out, size_t total,
		       size_t a, size_t b, size_t lag)
{
	float s = NAN;

	if (b + lag > total)
		b = total - lag;
	if (b <= a || dsp_estoi(ref + a, out + a + lag, b - a, SR, &s))
		return NAN;
	return s;
}

/* The ESTOI of a talker in the listener's mix: aligned at the lag the
 * cross-correlation finds near the expected one (the chain's delay and
 * the limiter's look-ahead), else at the expected one. */
static float talker_estoi(const float *near, const float *out, size_t total,
			  size_t a, size_t b, size_t expect, size_t *lagp)
{
	float corr;
	size_t lag = find_lag(near, out, total, a, b, &corr);

	if (corr < 0.05f || lag + FR < expect || lag > expect + FR)
		lag = expect;
	if (lagp)
		*lagp = lag;
	return estoi_lag(near, out, total, a, b, lag);
}

static size_t chain_delay_samples(void)
{
	struct dsp_proc_prm prm;
	struct dsp_proc *p;
	struct dsp_proc_meters m;
	size_t d = FR / 2;

	proc_defaults(&prm, false);
	if (dsp_proc_alloc(&p, &prm))
		return d;
	dsp_proc_get_meters(p, &m);
	d = (size_t)lrintf(m.delay_ms * SR / 1000.0f);
	dsp_proc_free(p);
	return d;
}

/* ---- options ------------------------------------------------------------ */

struct opts {
	bool quick;
	uint64_t seed;
	unsigned threads;        /* row 1 runs its talkers in parallel */
};

static struct opts opt = {false, 1, 2};

static size_t sec(float s)
{
	return (size_t)(s * SR) / FR * FR;
}

/* The delay each strategy puts between a site's input and the mix:
 * every one goes through the core's chain (its 10 ms, whether noise
 * suppression runs or not) and limiter; top-3's own 20 ms SpeexDSP
 * denoise comes before. */
static size_t strat_delay(enum strat st)
{
	return chain_delay_samples() + lookahead() + (st == ST_TOPK ? FR : 0);
}

/* ---- 1. many sites ------------------------------------------------------ */

#define NSTRAT 4
static const enum strat strat_order[NSTRAT] = {
	ST_CHAIN, ST_CHAIN_NOAEC, ST_PLAIN, ST_TOPK,
};

#define TALKER_DBFS (-23.0f)     /* 22 dB above a site's noise, as in
				    the research note's "talker alone" */

struct many_res {
	float estoi[NSTRAT];
	float others_pct[NSTRAT];   /* talk frames with a non-talker mixed */
	float floor_db[NSTRAT];     /* mix in the noise-only lead-in */
	size_t lag[NSTRAT];
	float alone;                /* the talker's own microphone */
	bool aec_failed;
};

/*
 * One talker (site 0) and n_idle idle sites, the first n_echo of which
 * play back into their microphones, through their own room (RT60
 * 0.3-0.5 s), at -10 dB after 200 ms: what the bridge sends them
 * (closed loop, as in a real call), or with open set the talker's clean
 * speech (the research note's model, where the echo cannot feed back).
 * Every site has its own pink noise at -45 dBFS; the talker speaks at
 * TALKER_DBFS after a noise-only lead-in, so denoisers and detectors
 * have settled.
 */
static void many_scenario(const struct voice *v, size_t n_idle,
			  size_t n_echo, bool open, uint64_t seed,
			  struct many_res *r)
{
	const size_t lead = sec(opt.quick ? 3.0f : 5.0f);
	const size_t ns = n_idle + 1;
	size_t talk_b = v->utt[v->nutt - 1].b, talk_a = v->utt[0].a;
	size_t total, i, j, t, a, b;
	struct site_src *src = xcalloc(ns, sizeof(*src));
	struct dsp_rng rng;
	float *mic;

	/* quick: the talker's first utterances, up to about 12 s */
	if (opt.quick) {
		for (j = 0; j < v->nutt; j++) {
			if (v->utt[j].b - talk_a > (size_t)12 * SR)
				break;
			talk_b = v->utt[j].b;
		}
		if (j == 0)
			talk_b = talk_a + (size_t)12 * SR;
	}
	total = (lead + (talk_b - talk_a) + sec(1.0f)) / FR * FR;
	a = lead - FR * 12;
	b = lead + talk_b - talk_a + FR * 12;
	dsp_rng_seed(&rng, seed);

	for (i = 0; i < ns; i++) {
		src[i].noise = xcalloc(total, sizeof(float));
		add_noise(src[i].noise, total, NZ_PINK, -45.0f, 0,
			  seed * 1000 + i);
	}
	src[0].near = xcalloc(total, sizeof(float));
	place(src[0].near, total, lead, v, talk_a, talk_b,
	      voice_gain(v, TALKER_DBFS));
	for (i = 1; i <= n_echo && i < ns; i++) {
		src[i].rir = rir_make(urand(&rng, 0.3f, 0.5f),
				      &src[i].rir_len, &rng);
		src[i].echo_gain = lin(-10.0f);
		src[i].echo_delay = (size_t)(0.2f * SR);
		src[i].echo_src = open ? src[0].near : NULL;
	}

	mic = xcalloc(total, sizeof(float));
	for (t = 0; t < total; t++)
		mic[t] = src[0].near[t] + src[0].noise[t];
	r->alone = estoi_lag(src[0].near, mic, total, a, b, 0);
	free(mic);

	for (j = 0; j < NSTRAT; j++) {
		const enum strat st = strat_order[j];
		struct conf c;
		size_t others = 0, frames = 0;

		conf_init(&c, st, src, ns, total, false);
		r->aec_failed |= c.aec_failed;
		conf_run(&c);
		r->estoi[j] = talker_estoi(src[0].near, c.out, c.total, a, b,
					   strat_delay(st), &r->lag[j]);
		for (t = lead / FR; t < (b - FR * 12) / FR; t++) {
			for (i = 1; i < ns; i++)
				if (c.s[i].log[t].gain > 0.0f)
					break;
			others += i < ns;
			frames++;
		}
		r->others_pct[j] = frames ? 100.0f * (float)others /
			(float)frames : 0.0f;
		r->floor_db[j] = pow_db(mean_pow(c.out + sec(1.0f),
						 lead - sec(1.2f)));
		conf_free(&c);
	}

	for (i = 0; i < ns; i++) {
		free(src[i].noise);
		free(src[i].near);
		free(src[i].rir);
	}
	free(src);
}

static void fmt_estoi(char *buf, size_t sz, float mean, float worst,
		      size_t n)
{
	if (n > 1)
		snprintf(buf, sz, "%.2f (%.2f)", (double)mean, (double)worst);
	else
		snprintf(buf, sz, "%.2f", (double)mean);
}

/* One talker's scenario on its own thread: the talkers of a row are
 * independent runs, and the row is most of the benchmark's time. */
struct many_job {
	const struct voice *v;
	size_t idle, echo;
	bool open;
	uint64_t seed;
	struct many_res res;
};

static int many_thread(void *arg)
{
	struct many_job *j = arg;

	many_scenario(j->v, j->idle, j->echo, j->open, j->seed, &j->res);
	return 0;
}

struct many_sc {
	size_t idle, echo;
	float target;
	bool full_only, open;
};

static bool many_line(const struct many_sc *sc, size_t ntalk, uint64_t seed)
{
	struct many_job job[2];
	struct many_res res[2];
	thrd_t th[2];
	bool started[2] = {false, false};
	float mean[NSTRAT], worst[NSTRAT], alone = 0.0f;
	float oth[NSTRAT], flo[NSTRAT];
	char cell[NSTRAT][32];
	const double t0 = now_s();
	bool aec_failed = false;
	size_t j, k;

	memset(job, 0, sizeof(job));
	for (k = 0; k < ntalk; k++) {
		job[k].v = &voices[k];
		job[k].idle = sc->idle;
		job[k].echo = sc->echo;
		job[k].open = sc->open;
		job[k].seed = seed + k;
		/* the last one on this thread; the others on their own */
		if (k + 1 < ntalk && opt.threads > 1)
			started[k] = thrd_create(&th[k], many_thread,
						 &job[k]) == thrd_success;
		if (!started[k])
			many_thread(&job[k]);
	}
	for (k = 0; k < ntalk; k++) {
		if (started[k])
			thrd_join(th[k], NULL);
		res[k] = job[k].res;
		aec_failed |= res[k].aec_failed;
	}
	for (j = 0; j < NSTRAT; j++) {
		mean[j] = 0.0f;
		worst[j] = 1.0f;
		oth[j] = flo[j] = 0.0f;
		for (k = 0; k < ntalk; k++) {
			mean[j] += res[k].estoi[j] / (float)ntalk;
			worst[j] = fminf(worst[j], res[k].estoi[j]);
			oth[j] += res[k].others_pct[j] / (float)ntalk;
			flo[j] += res[k].floor_db[j] / (float)ntalk;
		}
		fmt_estoi(cell[j], sizeof(cell[j]), mean[j], worst[j], ntalk);
	}
	for (k = 0; k < ntalk; k++)
		alone += res[k].alone / (float)ntalk;
	printf("| %zu | %zu | %s | >= %.2f | %s | %s | %s | %s | %.2f | "
	       "%.0f / %.0f / %.0f | %.0f / %.0f / %.0f |\n",
	       sc->idle, sc->echo, cell[0], (double)sc->target,
	       pass(worst[0] >= sc->target), cell[1], cell[2], cell[3],
	       (double)alone, (double)oth[0], (double)oth[1], (double)oth[3],
	       (double)flo[0], (double)flo[2], (double)flo[3]);
	fflush(stdout);
	fprintf(stderr, "quality_mix: many %zu/%zu%s: %.1f s (lags %zu %zu "
		"%zu %zu)\n", sc->idle, sc->echo, sc->open ? " open" : "",
		now_s() - t0, res[0].lag[0], res[0].lag[1], res[0].lag[2],
		res[0].lag[3]);
	return aec_failed;
}

static void many_head(void)
{
	printf("| idle sites | echoing | lowbridge | target | | "
	       "lowbridge, echo control off | plain sum | "
	       "top-3 + speex denoise | talker's own mic | "
	       "others mixed %% (lowbridge / echo ctl off / top-3) | "
	       "mix floor dBFS (lowbridge / plain / top-3) |\n");
	printf("|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n");
}

static void row_many(void)
{
	static const struct many_sc sc[] = {
		{49, 10, 0.90f, false, false},
		{199, 0, 0.93f, false, false},
		{9, 0, 0.90f, false, false},
		{49, 0, 0.90f, false, false},
		{199, 40, 0.90f, true, false},
	};
	static const struct many_sc sco[] = {
		{49, 10, 0.90f, false, true},
		{199, 40, 0.90f, true, true},
	};
	const size_t ntalk = opt.quick || nvoices < 2 ? 1 : 2;
	bool aec_failed = false;
	size_t i, k;

	printf("## 1. Many sites: talker ESTOI in a listener's mix\n\n");
	printf("One talker at %.0f dBFS after a %d s noise-only lead-in; "
	       "every site has its own pink noise at -45 dBFS; echoing "
	       "sites play back what the bridge sends them at -10 dB after "
	       "200 ms through their own room (RT60 0.3-0.5 s), so echo "
	       "that gets mixed comes round again. ESTOI against the clean "
	       "talker: ", (double)TALKER_DBFS, opt.quick ? 3 : 5);
	if (ntalk > 1)
		printf("mean (worst) of ");
	for (k = 0; k < ntalk; k++)
		printf("%s%s", k ? " and " : "", voices[k].name);
	printf(". Targets: >= 0.90 with echo, >= 0.93 for 199 noise-only "
	       "idle sites, 0.90 for the other rows.\n\n");
	many_head();
	for (i = 0; i < sizeof(sc) / sizeof(sc[0]); i++) {
		if (sc[i].full_only && opt.quick)
			continue;
		aec_failed |= many_line(&sc[i], ntalk,
					opt.seed * 100 + i * 10);
	}
	printf("\nThe echo rows again in the research note's model: the "
	       "echoing sites return the talker's clean speech (open "
	       "loop), not what they are sent, so nothing feeds back; "
	       "this is the model behind its baselines (plain sum 0.45, "
	       "top-3 + denoise 0.70 at 49 idle, 20 %% echo).\n\n");
	many_head();
	for (i = 0; i < sizeof(sco) / sizeof(sco[0]); i++) {
		if (sco[i].full_only && opt.quick)
			continue;
		aec_failed |= many_line(&sco[i], ntalk,
					opt.seed * 100 + i * 10);
	}
	printf("\nPASS/MISS judges the worst talker. \"others mixed\": "
	       "share of the talk's frames in which any site but the "
	       "talker is in the mix. Mix floor: the listener's mix in the "
	       "lead-in, before anyone talks (-120 = digital silence).");
	if (aec_failed)
		printf(" dsp_aec_alloc() failed: the lowbridge column ran "
		       "without echo control.");
	printf("\n\n");
}

/* ---- 2. AGC ------------------------------------------------------------- */

/* Active level (dBFS) of x over the frames f in [fa, fb) where lab is
 * LAB_SPEECH and ok (may be NULL) is set, x read d samples later than
 * the labelled input (the chain's delay). */
static float active_db(const float *x, size_t total, const uint8_t *lab,
		       const struct flog *ok, size_t fa, size_t fb, size_t d)
{
	double e = 0.0;
	size_t f, k = 0;

	for (f = fa; f < fb; f++) {
		if (lab[f] != LAB_SPEECH || (ok && !ok[f].full))
			continue;
		if ((f + 1) * FR + d > total)
			break;
		e += mean_pow(x + f * FR + d, FR);
		k++;
	}
	return k ? pow_db(e / (double)k) : NAN;
}

/*
 * Four talkers entering one after another at -45, -35, -25 and -10
 * dBFS (each site's own noise 30 dB below its speech), six idle sites
 * with pink noise at -45 dBFS. Each turn has pauses of 1-1.5 s between
 * sentences, where the AGC must hold its gain (no pumping).
 */
static void row_agc(void)
{
	static const float lv[] = {-45.0f, -35.0f, -25.0f, -10.0f};
	const size_t nt = 4, nidle = 6, ns = nt + nidle;
	const float turn_s = opt.quick ? 6.0f : 9.0f;
	const float period_s = turn_s + 2.0f;
	const size_t d = chain_delay_samples();
	const size_t lag = d + lookahead();
	size_t total = sec(2.0f + period_s * (float)nt + 1.0f);
	struct site_src src[10];
	size_t on[4], end[4], i, f, t;
	uint8_t *lab[4];
	struct dsp_rng rng;
	struct conf c;
	double gap_e = 0.0;
	size_t gap_n = 0, idle_sel = 0;
	float idle_gain = -100.0f;

	memset(src, 0, sizeof(src));
	dsp_rng_seed(&rng, opt.seed * 7 + 2);
	for (i = 0; i < ns; i++) {
		src[i].noise = xcalloc(total, sizeof(float));
		add_noise(src[i].noise, total, NZ_PINK,
			  i < nt ? lv[i] - 30.0f : -45.0f, 0,
			  opt.seed * 5000 + i);
	}
	for (i = 0; i < nt; i++) {
		const struct voice *v = &voices[i % nvoices];
		const float g = voice_gain(v, lv[i]);
		size_t at, u = 0;

		src[i].near = xcalloc(total, sizeof(float));
		on[i] = at = sec(2.0f + period_s * (float)i);
		end[i] = on[i] + sec(turn_s);
		while (at < end[i]) {
			const struct utt *ut = &v->utt[u % v->nutt];
			size_t len = ut->b - ut->a;

			if (at + len > end[i])
				len = end[i] - at;
			place(src[i].near, total, at, v, ut->a, ut->a + len,
			      g);
			at += len + sec(urand(&rng, 1.0f, 1.5f));
			u++;
		}
		lab[i] = labels(src[i].near, total / FR, lv[i]);
	}

	conf_init(&c, ST_CHAIN, src, ns, total, true);
	conf_run(&c);

	printf("## 2. AGC: talkers entering at different levels\n\n");
	printf("Four talkers take turns of %.0f s (pauses of 1-1.5 s "
	       "between sentences), each site's noise 30 dB below its "
	       "speech; six idle sites with pink noise at -45 dBFS. "
	       "Processed speech level: active level of the site's chain "
	       "output over its speech frames. Target %.0f dBFS +-3 dB "
	       "from 3 s after the onset. Pumping: the most the AGC gain "
	       "rose across one pause (300 ms after speech until the next "
	       "speech; target: at most +3 dB).\n\n", (double)turn_s, -20.0);
	printf("| talker in, dBFS | out 0-1 s | out >= 3 s | target | | "
	       "AGC gain in speech dB | mix in pauses dBFS | "
	       "pumping | |\n");
	printf("|---:|---:|---:|---:|---|---:|---:|---:|---|\n");
	for (i = 0; i < nt; i++) {
		const struct site *s = &c.s[i];
		const size_t f0 = on[i] / FR, f1 = (on[i] + sec(1.0f)) / FR;
		const size_t f3 = (on[i] + sec(3.0f)) / FR;
		const size_t fe = end[i] / FR;
		const float early = active_db(s->rec_out, c.total, lab[i],
					      s->log, f0, f1, d);
		const float late = active_db(s->rec_out, c.total, lab[i],
					     s->log, f3, fe, d);
		double gs = 0.0, pe = 0.0;
		size_t gn = 0, pn = 0;
		float gp = 0.0f;
		bool ok;

		for (f = f3; f < fe; f++) {
			if (lab[i][f] == LAB_SPEECH) {
				gs += s->log[f].agc_db;
				gn++;
			}
		}
		/* pumping: how much the gain rose across each pause */
		for (f = f0; f < fe + 20 && f < c.nframes; f++) {
			size_t g;

			if (!lab_noise(lab[i], c.nframes, f))
				continue;
			for (g = f; g + 1 < fe + 20 && g + 1 < c.nframes &&
			     lab_noise(lab[i], c.nframes, g + 1); g++) {
				if ((g + 1) * FR + lag <= c.total) {
					pe += mean_pow(c.out + g * FR + lag,
						       FR);
					pn++;
				}
			}
			gp = fmaxf(gp, s->log[g].agc_db - s->log[f].agc_db);
			f = g;
		}
		gs = gn ? gs / (double)gn : 0.0;
		ok = fabsf(late - -20.0f) <= 3.0f;
		printf("| %.0f | %.1f | %.1f | -20 +-3 | %s | %.1f | "
		       "%.1f | %+.1f dB | %s |\n", (double)lv[i],
		       (double)early, (double)late, pass(ok), gs,
		       (double)pow_db(pn ? pe / (double)pn : 0.0),
		       (double)gp, pass(gp <= 3.0f));
	}

	/* between turns: nobody speaks (from 0.6 s after a turn, past the
	 * hangover and the release, to the next onset) */
	for (i = 0; i < nt; i++) {
		const size_t fa = (end[i] + sec(0.6f) + lag) / FR;
		const size_t fb = i + 1 < nt ? (on[i + 1] + lag) / FR :
			c.nframes;

		for (f = fa; f < fb && f < c.nframes; f++) {
			gap_e += mean_pow(c.out + f * FR, FR);
			gap_n++;
		}
	}
	for (i = nt; i < ns; i++) {
		for (t = 0; t < c.nframes; t++) {
			idle_sel += c.s[i].log[t].selected;
			idle_gain = fmaxf(idle_gain, c.s[i].log[t].agc_db);
		}
	}
	printf("\nIdle sites (pink noise at -45 dBFS): in the mix %.1f %% "
	       "of the time (target 0), highest AGC gain %.1f dB. Mix "
	       "between turns (nobody speaking): %.1f dBFS. \"mix in "
	       "pauses\" is what a listener hears between the current "
	       "talker's sentences: its own noise after suppression and "
	       "AGC.\n\n", 100.0 * (double)idle_sel /
	       (double)(c.nframes * nidle), (double)idle_gain,
	       (double)pow_db(gap_n ? gap_e / (double)gap_n : 0.0));

	conf_free(&c);
	for (i = 0; i < ns; i++) {
		free(src[i].noise);
		free(src[i].near);
	}
	for (i = 0; i < nt; i++)
		free(lab[i]);
}

/* ---- 3. turn-taking ----------------------------------------------------- */

struct turn {
	size_t site, on, end;    /* samples of the run */
};

/*
 * Three talkers speak alternately: turns of 2-4 s (whole sentences,
 * cut at 4.5 s), each starting 0.6 s before to 0.6 s after the
 * previous one ends, so some overlap. Twelve idle sites with pink noise
 * at -45 dBFS. Then two talkers speaking at once.
 */
static void row_turn(void)
{
	static const float lv[] = {-24.0f, -30.0f, -20.0f};
	const size_t nt = 3, nidle = 12, ns = nt + nidle;
	const size_t nturn = opt.quick ? 6 : 14;
	const size_t d = chain_delay_samples();
	struct turn tv[16];
	struct site_src src[15];
	size_t cursor[3] = {0, 0, 0};
	size_t i, j, f, at, total, prev = 0;
	size_t nfast = 0, ov_frames = 0, ov_both = 0, never = 0;
	float latv[16], share_sum = 0.0f, share_min = 1.0f;
	struct dsp_rng rng;
	struct conf c;

	memset(src, 0, sizeof(src));
	dsp_rng_seed(&rng, opt.seed * 11 + 3);
	/* the schedule first: it sets the run's length */
	at = sec(2.0f);
	for (j = 0; j < nturn; j++) {
		const size_t site = j ? (prev + 1 + dsp_rng_u32(&rng) % 2) %
			nt : 0;
		const struct voice *v = &voices[(site + 2) % nvoices];
		const size_t want = sec(urand(&rng, 2.0f, 4.0f));
		size_t u = cursor[site] % v->nutt, a = v->utt[u].a, b;

		b = v->utt[u].b;
		while (b - a < want && u + 1 < v->nutt)
			b = v->utt[++u].b;
		if (b - a > sec(4.5f))
			b = a + sec(4.5f);
		cursor[site] = u + 1;
		tv[j].site = site;
		tv[j].on = at;
		tv[j].end = at + (b - a);
		/* the clip is placed below, once the timeline exists */
		tv[j].on = at;
		latv[j] = (float)a;      /* voice offset, for now */
		at = tv[j].end + sec(urand(&rng, -0.6f, 0.6f));
		prev = site;
	}
	total = (tv[nturn - 1].end + sec(1.5f)) / FR * FR;
	for (i = 0; i < ns; i++) {
		src[i].noise = xcalloc(total, sizeof(float));
		add_noise(src[i].noise, total, NZ_PINK,
			  i < nt ? -50.0f : -45.0f, 0, opt.seed * 7000 + i);
	}
	for (i = 0; i < nt; i++)
		src[i].near = xcalloc(total, sizeof(float));
	for (j = 0; j < nturn; j++) {
		const struct voice *v = &voices[(tv[j].site + 2) % nvoices];
		const size_t a = (size_t)latv[j];

		place(src[tv[j].site].near, total, tv[j].on, v, a,
		      a + tv[j].end - tv[j].on,
		      voice_gain(v, lv[tv[j].site]));
	}

	conf_init(&c, ST_CHAIN, src, ns, total, false);
	conf_run(&c);

	for (j = 0; j < nturn; j++) {
		const struct site *s = &c.s[tv[j].site];
		size_t mixed = 0, o;

		latv[j] = NAN;
		for (f = tv[j].on / FR; f < tv[j].end / FR; f++) {
			if (s->log[f].selected) {
				latv[j] = 1000.0f * (float)((f + 1) * FR -
							    tv[j].on) / SR;
				break;
			}
		}
		if (isnan(latv[j]))
			never++;
		else if (latv[j] <= 200.0f)
			nfast++;
		for (o = tv[j].on + d; o < tv[j].on + d + sec(0.3f); o++)
			mixed += gain_at(s, o) > 0.5f;
		share_sum += (float)mixed / (float)sec(0.3f);
		share_min = fminf(share_min, (float)mixed /
				  (float)sec(0.3f));
		/* overlap with the next turn: both should be mixed */
		if (j + 1 < nturn && tv[j + 1].on < tv[j].end) {
			const struct site *o2 = &c.s[tv[j + 1].site];

			for (f = tv[j + 1].on / FR + 10;
			     f < tv[j].end / FR; f++) {
				ov_frames++;
				ov_both += s->log[f].selected &&
					o2->log[f].selected;
			}
		}
	}

	printf("## 3. Turn-taking\n\n");
	printf("Three talkers (%s, %s, %s at %.0f, %.0f, %.0f dBFS, "
	       "noise -50 dBFS) take %zu turns of 2-4 s, each starting "
	       "0.6 s before to 0.6 s after the previous one ends; twelve "
	       "idle sites with pink noise at -45 dBFS. Latency: from a "
	       "turn's first speech to the end of the frame after which "
	       "the selection holds it (the decision point). First 300 ms "
	       "mixed: share of the turn's first 300 ms of speech that "
	       "reaches the mix at gain > 0.5 (fades included).\n\n",
	       voices[2 % nvoices].name, voices[3 % nvoices].name,
	       voices[4 % nvoices].name, (double)lv[0], (double)lv[1],
	       (double)lv[2], nturn);
	{
		float sorted[16], mx = 0.0f;
		size_t n = 0;

		for (j = 0; j < nturn; j++) {
			if (isnan(latv[j]))
				continue;
			sorted[n++] = latv[j];
			mx = fmaxf(mx, latv[j]);
		}
		for (i = 1; i < n; i++) {
			float x = sorted[i];

			for (j = i; j > 0 && sorted[j - 1] > x; j--)
				sorted[j] = sorted[j - 1];
			sorted[j] = x;
		}
		printf("| measure | value | target | |\n");
		printf("|---|---:|---:|---|\n");
		printf("| selection latency, median / worst | %.0f / %.0f ms "
		       "| <= 200 ms | %s |\n", n ? (double)sorted[n / 2] :
		       NAN, never ? INFINITY : (double)mx,
		       pass(!never && mx <= 200.0f));
		printf("| turns selected within 200 ms | %zu of %zu | all "
		       "| %s |\n", nfast, nturn, pass(nfast == nturn));
		printf("| first 300 ms mixed, mean / worst turn | %.0f / "
		       "%.0f %% | | |\n", 100.0 * (double)share_sum /
		       (double)nturn, 100.0 * (double)share_min);
		printf("| overlapping turns both mixed | %.0f %% of %zu "
		       "frames | | |\n", ov_frames ? 100.0 * (double)ov_both /
		       (double)ov_frames : NAN, ov_frames);
	}
	printf("\nPer turn (site: latency ms): ");
	for (j = 0; j < nturn; j++)
		printf("%s%zu: %.0f", j ? ", " : "", tv[j].site,
		       (double)latv[j]);
	printf(".\n\n");
	conf_free(&c);
	for (i = 0; i < ns; i++) {
		free(src[i].noise);
		free(src[i].near);
	}

	/* two talkers at once, 8 dB apart */
	{
		const float l2[] = {-24.0f, -32.0f};
		const float dur = opt.quick ? 6.0f : 10.0f;
		struct site_src s2[12];
		size_t ends[2], both = 0, nf = 0, lag;
		float es[2];

		total = sec(2.0f + dur + 1.0f);
		memset(s2, 0, sizeof(s2));
		for (i = 0; i < 12; i++) {
			s2[i].noise = xcalloc(total, sizeof(float));
			add_noise(s2[i].noise, total, NZ_PINK,
				  i < 2 ? -50.0f : -45.0f, 0,
				  opt.seed * 9000 + i);
		}
		for (i = 0; i < 2; i++) {
			const struct voice *v = &voices[i % nvoices];
			size_t len = v->utt[v->nutt - 1].b - v->utt[0].a;

			if (len > sec(dur))
				len = sec(dur);
			ends[i] = sec(2.0f) + len;
			s2[i].near = xcalloc(total, sizeof(float));
			place(s2[i].near, total, sec(2.0f), v, v->utt[0].a,
			      v->utt[0].a + len, voice_gain(v, l2[i]));
		}
		conf_init(&c, ST_CHAIN, s2, 12, total, false);
		conf_run(&c);
		for (f = sec(2.5f) / FR; f < ends[0] / FR && f < ends[1] / FR;
		     f++) {
			both += c.s[0].log[f].selected &&
				c.s[1].log[f].selected;
			nf++;
		}
		lag = strat_delay(ST_CHAIN);
		for (i = 0; i < 2; i++)
			es[i] = talker_estoi(s2[i].near, c.out, c.total,
					     sec(1.8f), ends[i] + FR * 10,
					     lag, NULL);
		printf("Two talkers at once (%s at %.0f and %s at %.0f "
		       "dBFS, %.0f s, 10 idle sites): both mixed in %.0f %% "
		       "of the frames from 0.5 s after the onset (target "
		       "100 %%, %s at >= 95 %%); ESTOI of each in the mix "
		       "%.2f / %.2f (the other talker is the interference)."
		       "\n\n", voices[0].name, (double)l2[0],
		       voices[1 % nvoices].name, (double)l2[1], (double)dur,
		       nf ? 100.0 * (double)both / (double)nf : NAN,
		       pass(nf && both * 100 >= nf * 95), (double)es[0],
		       (double)es[1]);
		conf_free(&c);
		for (i = 0; i < 12; i++) {
			free(s2[i].noise);
			free(s2[i].near);
		}
	}
}

/* ---- 4. VAD ------------------------------------------------------------- */

struct vad_score {
	double det, fa;          /* per cent */
};

/*
 * One labelled signal: 2 s of noise, then sentences of voice v with
 * noise-only gaps of 1-2.5 s, speech at level_dbfs, noise of a kind at
 * level_dbfs - snr_db. Scored from 1 s on: speech frames (LAB_SPEECH)
 * detected, noise frames (see lab_noise()) called speech. lowbridge's
 * detector is read as the talker selection reads it (m.speech, with its
 * hangover), on an idle site's gated chain; SpeexDSP's is the return of
 * speex_preprocess_run() with SPEEX_PREPROCESS_SET_VAD.
 */
static void vad_case(size_t vi, enum noise_kind kind, float snr_db,
		     float level_dbfs, uint64_t seed, struct vad_score *ours,
		     struct vad_score *spx)
{
	const struct voice *v = &voices[vi];
	const size_t total = sec(opt.quick ? 12.0f : 24.0f);
	const size_t nfr = total / FR;
	float *x = xcalloc(total, sizeof(float));
	float *clean = xcalloc(total, sizeof(float));
	struct dsp_proc_prm prm;
	struct dsp_proc *p = NULL;
	SpeexPreprocessState *pp;
	struct dsp_rng rng;
	size_t at = sec(2.0f), u, f, k;
	size_t ns = 0, nn = 0, ds = 0, dn = 0, ss = 0, sn = 0;
	uint8_t *lab;
	int on = 1;

	dsp_rng_seed(&rng, seed);
	u = dsp_rng_u32(&rng) % v->nutt;
	while (at < total) {
		const struct utt *ut = &v->utt[u++ % v->nutt];

		place(clean, total, at, v, ut->a, ut->b,
		      voice_gain(v, level_dbfs));
		at += ut->b - ut->a + sec(urand(&rng, 1.0f, 2.5f));
	}
	memcpy(x, clean, total * sizeof(float));
	add_noise(x, total, kind, level_dbfs - snr_db, vi, seed + 1);
	lab = labels(clean, nfr, level_dbfs);

	proc_defaults(&prm, false);
	if (dsp_proc_alloc(&p, &prm)) {
		fprintf(stderr, "quality_mix: dsp_proc_alloc failed\n");
		exit(1);
	}
	pp = speex_preprocess_state_init(FR, SR);
	speex_preprocess_ctl(pp, SPEEX_PREPROCESS_SET_DENOISE, &on);
	speex_preprocess_ctl(pp, SPEEX_PREPROCESS_SET_VAD, &on);
	for (f = 0; f < nfr; f++) {
		int16_t a[FR], b2[FR];
		struct dsp_proc_meters m;
		bool sv;

		for (k = 0; k < FR; k++)
			a[k] = b2[k] = to_s16(x[f * FR + k]);
		dsp_proc_process(p, a, true, false);
		dsp_proc_get_meters(p, &m);
		sv = speex_preprocess_run(pp, b2) != 0;
		if (f < (size_t)(SR / FR))
			continue;
		if (lab[f] == LAB_SPEECH) {
			ns++;
			ds += m.speech;
			ss += sv;
		}
		else if (lab_noise(lab, nfr, f)) {
			nn++;
			dn += m.speech;
			sn += sv;
		}
	}
	ours->det = ns ? 100.0 * (double)ds / (double)ns : NAN;
	ours->fa = nn ? 100.0 * (double)dn / (double)nn : NAN;
	spx->det = ns ? 100.0 * (double)ss / (double)ns : NAN;
	spx->fa = nn ? 100.0 * (double)sn / (double)nn : NAN;
	dsp_proc_free(p);
	speex_preprocess_state_destroy(pp);
	free(lab);
	free(x);
	free(clean);
}

static void row_vad(void)
{
	static const float snrs[] = {0.0f, 5.0f, 10.0f, 20.0f};
	static const float lvls[] = {-45.0f, -35.0f, -25.0f, -10.0f};
	const size_t nsnr = 4, nlv = 4;
	struct vad_score bylv[4][2];
	size_t kind, i, j, n = 0;

	memset(bylv, 0, sizeof(bylv));
	printf("## 4. VAD accuracy on labelled speech and noise\n\n");
	printf("espeak-ng sentences with noise-only gaps of 1-2.5 s over "
	       "pink noise, 50 Hz hum or babble (the other voices summed), "
	       "at each SNR and each speech level %.0f, %.0f, %.0f, %.0f "
	       "dBFS (%.0f s each, talker rotating). Speech frames: within "
	       "20 dB of the active level; noise frames: no speech from "
	       "300 ms before to 40 ms after. lowbridge: m.speech of the "
	       "chain (what selection uses, with its 200 ms hangover); "
	       "SpeexDSP: speex_preprocess_run() with its VAD on. Mean "
	       "over the levels; no target in the issue.\n\n",
	       (double)lvls[0], (double)lvls[1], (double)lvls[2],
	       (double)lvls[3], opt.quick ? 12.0 : 24.0);
	printf("| noise | SNR dB | lowbridge speech detected %% | "
	       "lowbridge noise called speech %% | SpeexDSP speech "
	       "detected %% | SpeexDSP noise called speech %% |\n");
	printf("|---|---:|---:|---:|---:|---:|\n");
	for (kind = NZ_PINK; kind <= NZ_BABBLE; kind++) {
		for (i = 0; i < nsnr; i++) {
			struct vad_score o = {0, 0}, sp = {0, 0};
			size_t cnt = 0;

			if (opt.quick && i == 1)
				continue;
			for (j = 0; j < nlv; j++) {
				struct vad_score a, b;

				if (opt.quick && (j == 1))
					continue;
				vad_case(n % nvoices, (enum noise_kind)kind,
					 snrs[i], lvls[j],
					 opt.seed * 31 + n * 7, &a, &b);
				n++;
				o.det += a.det;
				o.fa += a.fa;
				sp.det += b.det;
				sp.fa += b.fa;
				bylv[j][0].det += a.det;
				bylv[j][0].fa += a.fa;
				bylv[j][1].det += b.det;
				bylv[j][1].fa += b.fa;
				cnt++;
			}
			printf("| %s | %.0f | %.1f | %.1f | %.1f | %.1f |\n",
			       noise_names[kind], (double)snrs[i],
			       o.det / (double)cnt, o.fa / (double)cnt,
			       sp.det / (double)cnt, sp.fa / (double)cnt);
		}
	}
	printf("\nBy speech level (mean over noises and SNRs):\n\n");
	printf("| level dBFS | lowbridge detected %% | lowbridge false %% | "
	       "SpeexDSP detected %% | SpeexDSP false %% |\n");
	printf("|---:|---:|---:|---:|---:|\n");
	for (j = 0; j < nlv; j++) {
		const double m = 3.0 * (opt.quick ? 3.0 : 4.0);

		if (opt.quick && j == 1)
			continue;
		printf("| %.0f | %.1f | %.1f | %.1f | %.1f |\n",
		       (double)lvls[j], bylv[j][0].det / m, bylv[j][0].fa / m,
		       bylv[j][1].det / m, bylv[j][1].fa / m);
	}
	printf("\n");
}

/* ---- 5. latency --------------------------------------------------------- */

static void row_lat(void)
{
	const struct voice *v = &voices[0];
	const size_t total = sec(12.0f), nfr = total / FR;
	float *in = xcalloc(total, sizeof(float));
	float *out = xcalloc(total, sizeof(float));
	float *sout = xcalloc(total, sizeof(float));
	struct dsp_proc_prm prm;
	struct dsp_proc_meters m;
	struct dsp_proc *p = NULL;
	SpeexPreprocessState *pp;
	int32_t lag = 0, slag = 0;
	float corr = 0.0f, scorr = 0.0f, mlag_ms;
	size_t f, k, mlag;
	int on = 1;

	place(in, total, sec(1.0f), v, v->utt[0].a,
	      v->utt[0].a + total - sec(1.0f) < v->n ?
	      v->utt[0].a + total - sec(1.0f) : v->n, voice_gain(v, -26.0f));
	add_noise(in, total, NZ_PINK, -50.0f, 0, opt.seed * 13);
	proc_defaults(&prm, false);
	if (dsp_proc_alloc(&p, &prm)) {
		fprintf(stderr, "quality_mix: dsp_proc_alloc failed\n");
		exit(1);
	}
	pp = speex_preprocess_state_init(FR, SR);
	speex_preprocess_ctl(pp, SPEEX_PREPROCESS_SET_DENOISE, &on);
	for (f = 0; f < nfr; f++) {
		int16_t a[FR], b[FR];

		for (k = 0; k < FR; k++)
			a[k] = b[k] = to_s16(in[f * FR + k]);
		dsp_proc_process(p, a, true, true);
		speex_preprocess_run(pp, b);
		for (k = 0; k < FR; k++) {
			out[f * FR + k] = a[k];
			sout[f * FR + k] = b[k];
		}
	}
	dsp_proc_get_meters(p, &m);
	dsp_delay_estimate(in, total, out, total, -FR, 2 * FR, &lag, &corr);
	dsp_delay_estimate(in, total, sout, total, -FR, 2 * FR, &slag,
			   &scorr);
	dsp_proc_free(p);
	speex_preprocess_state_destroy(pp);

	/* through the whole mix path: one talker and three idle sites */
	{
		struct site_src src[4];
		struct conf c;
		size_t i;

		memset(src, 0, sizeof(src));
		src[0].near = in;
		for (i = 1; i < 4; i++) {
			src[i].noise = xcalloc(total, sizeof(float));
			add_noise(src[i].noise, total, NZ_PINK, -45.0f, 0,
				  opt.seed * 17 + i);
		}
		conf_init(&c, ST_CHAIN, src, 4, total, false);
		conf_run(&c);
		mlag = find_lag(in, c.out, c.total, sec(1.0f), c.total,
				NULL);
		conf_free(&c);
		for (i = 1; i < 4; i++)
			free(src[i].noise);
	}
	mlag_ms = 1000.0f * (float)mlag / SR;

	printf("## 5. Latency of the per-site chain\n\n");
	printf("| path | reported | measured (cross-correlation) | "
	       "correlation | target | |\n");
	printf("|---|---:|---:|---:|---:|---|\n");
	printf("| lowbridge chain (m.delay_ms) | %.1f ms | %.1f ms | %.2f "
	       "| measured = reported +-1 ms | %s |\n", (double)m.delay_ms,
	       1000.0 * lag / SR, (double)corr,
	       pass(fabs(1000.0 * lag / SR - (double)m.delay_ms) <= 1.0));
	printf("| speex_preprocess_run, 20 ms frames (baseline) | | "
	       "%.1f ms | %.2f | | |\n", 1000.0 * slag / SR,
	       (double)scorr);
	printf("| talker to listener's mix (chain + limiter look-ahead "
	       "%.1f ms) | %.1f ms | %.1f ms | | measured = reported +-1 ms "
	       "| %s |\n", 1000.0 * (double)lookahead() / SR,
	       (double)m.delay_ms + 1000.0 * (double)lookahead() / SR,
	       (double)mlag_ms,
	       pass(fabs((double)mlag_ms - (double)m.delay_ms -
			 1000.0 * (double)lookahead() / SR) <= 1.0));
	printf("\n");
	free(in);
	free(out);
	free(sout);
}

/* ---- 6. CPU ------------------------------------------------------------- */

struct cpu_case {
	const char *name;
	const float *mic;        /* input timeline */
	const float *ref;        /* what the site is sent, or NULL */
	bool full, aec, speex;
};

static int cmp_double(const void *a, const void *b)
{
	const double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median over 5 passes of ns per 20 ms frame. */
static double cpu_time(const struct cpu_case *cc, size_t nfr, bool *ok)
{
	double v[5];
	int16_t *mic = xcalloc(nfr * FR, sizeof(int16_t));
	int16_t *ref = xcalloc(nfr * FR, sizeof(int16_t));
	size_t f, k, r;

	*ok = true;
	for (k = 0; k < nfr * FR; k++) {
		mic[k] = to_s16(cc->mic[k]);
		ref[k] = cc->ref ? to_s16(cc->ref[k]) : 0;
	}
	for (r = 0; r < 5; r++) {
		struct dsp_proc_prm prm;
		struct dsp_proc *p = NULL;
		SpeexPreprocessState *pp = NULL;
		int16_t fr[FR];
		double t0;

		if (cc->speex) {
			int on = 1;

			pp = speex_preprocess_state_init(FR, SR);
			speex_preprocess_ctl(pp, SPEEX_PREPROCESS_SET_DENOISE,
					     &on);
		}
		else {
			proc_defaults(&prm, cc->aec);
			if (dsp_proc_alloc(&p, &prm)) {
				*ok = false;
				return NAN;
			}
			if (cc->aec) {
				struct dsp_aec *a = aec_new();

				if (!a) {
					dsp_proc_free(p);
					*ok = false;
					return NAN;
				}
				dsp_aec_free(dsp_proc_swap_aec(p, a));
			}
		}
		t0 = now_s();
		for (f = 0; f < nfr; f++) {
			memcpy(fr, mic + f * FR, sizeof(fr));
			if (pp) {
				speex_preprocess_run(pp, fr);
				continue;
			}
			if (cc->aec)
				dsp_proc_playback(p, ref + f * FR);
			dsp_proc_process(p, fr, true, cc->full);
		}
		v[r] = (now_s() - t0) * 1e9 / (double)nfr;
		if (pp)
			speex_preprocess_state_destroy(pp);
		dsp_proc_free(p);
	}
	free(mic);
	free(ref);
	qsort(v, 5, sizeof(v[0]), cmp_double);
	return v[2];
}

static void row_cpu(void)
{
	const size_t total = sec(opt.quick ? 10.0f : 30.0f);
	const size_t nfr = total / FR;
	const struct voice *v = &voices[0], *w = &voices[1 % nvoices];
	float *talk = xcalloc(total, sizeof(float));
	float *idle = xcalloc(total, sizeof(float));
	float *far = xcalloc(total, sizeof(float));
	float *echo = xcalloc(total, sizeof(float));
	float *talk_echo = xcalloc(total, sizeof(float));
	struct echo_path *ep;
	struct dsp_rng rng;
	float *h;
	size_t hl, at, k, i;
	double base;
	bool ok;

	/* talkers looped over the run, noise, and an echo of the far end
	 * through a room (RT60 0.4 s, -10 dB, 200 ms) */
	for (at = 0; at < total; at += v->n)
		place(talk, total, at, v, 0, v->n, voice_gain(v, -26.0f));
	for (at = 0; at < total; at += w->n)
		place(far, total, at, w, 0, w->n, voice_gain(w, -20.0f));
	add_noise(talk, total, NZ_PINK, -50.0f, 0, opt.seed * 19);
	add_noise(idle, total, NZ_PINK, -45.0f, 0, opt.seed * 19 + 1);
	dsp_rng_seed(&rng, opt.seed * 19 + 2);
	h = rir_make(0.4f, &hl, &rng);
	ep = echo_alloc(h, hl, lin(-10.0f), sec(0.2f), total);
	for (at = 0; at < total; at += FR) {
		int16_t x[FR];

		for (k = 0; k < FR; k++)
			x[k] = to_s16(far[at + k]);
		echo_push(ep, x, FR);
	}
	for (k = 0; k < total; k++) {
		echo[k] = idle[k] + echo_at(ep, k);
		talk_echo[k] = talk[k] + echo_at(ep, k);
	}

	{
		const struct cpu_case cases[] = {
			{"speex_preprocess_run, denoise, 20 ms (baseline)",
			 talk, NULL, true, false, true},
			{"chain, full (talker), echo control off",
			 talk, NULL, true, false, false},
			{"chain, gated (idle, noise), echo control off",
			 idle, NULL, false, false, false},
			{"chain, gated (idle, noise), echo control on, "
			 "hears the mix", idle, far, false, true, false},
			{"chain, gated (idle, echoing), echo control on",
			 echo, far, false, true, false},
			{"chain, full (talker + echo), echo control on",
			 talk_echo, far, true, true, false},
		};

		printf("## 6. CPU per site\n\n");
		printf("ns per site per 20 ms frame (median of 5 passes over "
		       "%zu frames, this machine, one thread); the sites one "
		       "core could run at that cost alone (20 ms / cost). "
		       "The echo cases play another talker at -20 dBFS to "
		       "the site; \"echoing\" returns it at -10 dB after "
		       "200 ms (RT60 0.4 s). No target in the issue.\n\n",
		       nfr);
		printf("| case | ns/frame | x speex | sites per core |\n");
		printf("|---|---:|---:|---:|\n");
		base = cpu_time(&cases[0], nfr, &ok);
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			const double ns = i ? cpu_time(&cases[i], nfr, &ok) :
				base;

			if (!ok) {
				printf("| %s | (echo canceller not "
				       "available) | | |\n", cases[i].name);
				continue;
			}
			printf("| %s | %.0f | %.2f | %.0f |\n", cases[i].name,
			       ns, ns / base, 20e6 / ns);
			fflush(stdout);
		}
		printf("\n");
	}
	echo_free(ep);
	free(h);
	free(talk);
	free(idle);
	free(far);
	free(echo);
	free(talk_echo);
}

/* ---- main --------------------------------------------------------------- */

static const struct {
	const char *name;
	void (*run)(void);
} rows[] = {
	{"many", row_many},
	{"agc", row_agc},
	{"turn", row_turn},
	{"vad", row_vad},
	{"lat", row_lat},
	{"cpu", row_cpu},
};

static bool row_wanted(const char *list, const char *name)
{
	const size_t n = strlen(name);
	const char *p = list;

	if (!list)
		return true;
	while ((p = strstr(p, name)) != NULL) {
		if ((p == list || p[-1] == ',') &&
		    (p[n] == ',' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

int main(int argc, char *argv[])
{
	const char *list = NULL;
	size_t i;
	int a;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--quick")) {
			opt.quick = true;
		}
		else if (!strcmp(argv[a], "--seed") && a + 1 < argc) {
			opt.seed = strtoull(argv[++a], NULL, 10);
		}
		else if (!strcmp(argv[a], "--threads") && a + 1 < argc) {
			opt.threads = (unsigned)atoi(argv[++a]);
		}
		else if (!strcmp(argv[a], "--rows") && a + 1 < argc) {
			list = argv[++a];
		}
		else if (argv[a][0] == '-') {
			fprintf(stderr, "usage: quality_mix [--quick] "
				"[--seed N] [--threads N] [--rows LIST] "
				"WAV...\n");
			return 1;
		}
		else if (nvoices < MAX_VOICES) {
			if (voice_load(&voices[nvoices], argv[a]))
				return 1;
			nvoices++;
		}
	}
	if (nvoices == 0) {
		fprintf(stderr, "quality_mix: no speech given (WAV files "
			"from tests/bench/speech.sh)\n");
		return 1;
	}
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (row_wanted(list, rows[i].name)) {
			const double t0 = now_s();

			rows[i].run();
			fflush(stdout);
			fprintf(stderr, "quality_mix: %s: %.1f s\n",
				rows[i].name, now_s() - t0);
		}
	}
	for (i = 0; i < nvoices; i++)
		free(voices[i].x);
	return 0;
}
