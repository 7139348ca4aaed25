/**
 * @file bench_aec.c  Bridge-side echo control (dsp/aec.c) on simulated
 *                    rooms, against plain SpeexDSP in the same run.
 *
 * Each case plays far-end speech to a simulated site and feeds what comes
 * back to dsp_aec (playback, capture) and then to a SpeexDSP
 * preprocessor (frame 160, denoise on, ECHO_STATE attached), exactly as
 * the bridge will; the baseline is speex_echo_cancellation() with the
 * same tail fed the unaligned reference, and its own preprocessor.
 *
 * The site: the reference is delayed by the bulk delay (network, jitter
 * buffers; it steps by +-20 ms at given times, as when a jitter buffer
 * resizes), resampled by (1 + drift) with SpeexDSP's resampler at
 * quality 10 (the site's clock), convolved with a room impulse response
 * (direct path plus exponentially decaying Gaussian noise of the given
 * RT60, equal energies, unit energy, truncated at -45 dB), scaled by the
 * loudspeaker-to-mic gain, plus white noise at -50 dBFS and near-end
 * speech in the double-talk cases. Far end at -24 dBFS RMS (so that +6 dB
 * of echo gain does not clip), near end at
 * the same level.
 *
 * Figures. ERLE = mic energy over output energy, summed over the 10 ms
 * frames where the echo is 10 dB or more above the noise and no near-end
 * speech is present, in the windows [1,2), [3,4), [10,11) s and [20,30) s
 * ("steady"); "lin" is the canceller's output, "pp" the preprocessor's,
 * read one frame later (its output lags by one frame). Recovery: time
 * from a delay step to the end of the first 0.5 s window whose pp ERLE
 * is >= 12 dB. ESTOI of the near-end speech in double talk, against the
 * clean near end, pp output. Delay and drift: estimated at the end vs
 * true. Cost: ns per 10 ms frame (playback + capture), mean and worst.
 *
 * Never passes or fails: it only prints a markdown table.
 *
 * Usage: bench_aec [--quick] [far.wav [near.wav]]
 *   WAV files at any rate (mixed to mono, resampled to 16 kHz, looped);
 *   without them dsp_synth_talk() provides both talkers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sndfile.h>
#include <speex/speex_echo.h>
#include <speex/speex_preprocess.h>
#include <speex/speex_resampler.h>
#include "dsp.h"
#include "dsptest.h"

#define SR 16000
#define FR DSP_AEC_FRAME
#define FAR_DBFS (-24.0f)
#define NOISE_DBFS (-50.0f)
#define TAIL_MS 256
#define MAX_STEPS 4

struct scase {
	const char *name;
	float delay_ms, rt60_s, gain_db, drift_ppm;
	size_t nsteps;
	float step_at_s[MAX_STEPS], step_ms[MAX_STEPS];
	float near_from_s;           /* < 0: no near end */
	bool no_echo;
	float seconds;
};

struct result {
	float lin[4], pp[4];         /* @1, @3, @10, steady */
	float blin[4], bpp[4];       /* baseline */
	float rec[MAX_STEPS], at3[MAX_STEPS], brec[MAX_STEPS];
	float estoi, bestoi, mestoi;
	float delay_est, delay_true, drift_est;
	double ns_mean, ns_p999, ns_max;
	bool echo_present;
	size_t present_frames;       /* frames with echo_present */
};

static float *far_src, *near_src;
static bool trace;
static size_t far_n, near_n;

/* ---- FFT convolution ---------------------------------------------------- */


/* ---- the simulated site ------------------------------------------------- */


/* What reaches the site's loudspeaker: ref delayed by the bulk delay
 * with its steps, then at the site's clock (read at 1 + drift samples
 * per sample). */
static void playout(const struct scase *c, const float *ref, size_t n,
		    float *out)
{
	float *p = calloc(n + 4096, sizeof(*p));
	size_t t, s;

	if (!p)
		abort();
	for (t = 0; t < n + 4096; t++) {
		double d = c->delay_ms * SR / 1000.0;
		int64_t src;

		for (s = 0; s < c->nsteps; s++)
			if ((double)t >= c->step_at_s[s] * SR)
				d += c->step_ms[s] * SR / 1000.0;
		src = (int64_t)t - (int64_t)lrint(d);
		p[t] = src >= 0 && (size_t)src < n ? ref[src] : 0.0f;
	}
	if (c->drift_ppm != 0.0f) {
		const spx_uint32_t den = 1000000;
		const spx_uint32_t num = (spx_uint32_t)(1000000 +
							 lrintf(c->drift_ppm));
		SpeexResamplerState *rs;
		spx_uint32_t il = (spx_uint32_t)(n + 4096);
		spx_uint32_t ol = (spx_uint32_t)n;
		int err;

		rs = speex_resampler_init_frac(1, num, den, SR, SR, 10, &err);
		if (!rs)
			abort();
		speex_resampler_skip_zeros(rs);
		speex_resampler_process_float(rs, 0, p, &il, out, &ol);
		speex_resampler_destroy(rs);
		for (t = ol; t < n; t++)
			out[t] = 0.0f;
	}
	else {
		memcpy(out, p, n * sizeof(*out));
	}
	free(p);
}

static int16_t clip16(float v)
{
	return (int16_t)lrintf(v > 32767.0f ? 32767.0f :
			       v < -32768.0f ? -32768.0f : v);
}

static float db_to_lin(float db)
{
	return powf(10.0f, db / 20.0f);
}

/* ---- measures ----------------------------------------------------------- */

/* ERLE over [from, to) s: frames where the echo is 10 dB over the noise
 * and the near end is silent; out is read lag samples later. NAN if no
 * frame qualifies. */
static float erle(const int16_t *mic, const int16_t *out, size_t lag,
		  const float *echo, const float *near, size_t n,
		  float from_s, float to_s)
{
	const double ne = pow(10.0, NOISE_DBFS / 10.0) * 32767.0 * 32767.0;
	size_t f0 = (size_t)(from_s * SR) / FR, f1 = (size_t)(to_s * SR) / FR;
	double em = 0.0, eo = 0.0;
	size_t f, i, used = 0;

	for (f = f0; f < f1 && (f + 1) * FR + lag <= n; f++) {
		double ee = 0.0, en = 0.0, a = 0.0, b = 0.0;

		for (i = f * FR; i < (f + 1) * FR; i++) {
			ee += (double)echo[i] * echo[i];
			if (near)
				en += (double)near[i] * near[i];
			a += (double)mic[i] * mic[i];
			b += (double)out[i + lag] * out[i + lag];
		}
		if (ee / FR < 10.0 * ne || en / FR > 0.1 * ne)
			continue;
		em += a;
		eo += b;
		++used;
	}
	if (!used)
		return NAN;
	return (float)(10.0 * log10(em / (eo + 1e-3)));
}

/* Time from a step to the end of the first 0.5 s window with pp ERLE of
 * 12 dB or more. */
static float recovery(const int16_t *mic, const int16_t *pp,
		      const float *echo, size_t n, float at_s, float max_s)
{
	float x;

	for (x = 0.0f; x < max_s; x += 0.1f) {
		const float e = erle(mic, pp, FR, echo, NULL, n, at_s + x,
				     at_s + x + 0.5f);

		if (!isnan(e) && e >= 12.0f)
			return x + 0.5f;
	}
	return INFINITY;
}

static int cmp_double(const void *a, const void *b)
{
	const double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static SpeexPreprocessState *pp_new(void *echo)
{
	SpeexPreprocessState *pp = speex_preprocess_state_init(FR, SR);
	int on = 1;

	if (!pp)
		abort();
	speex_preprocess_ctl(pp, SPEEX_PREPROCESS_SET_DENOISE, &on);
	speex_preprocess_ctl(pp, SPEEX_PREPROCESS_SET_ECHO_STATE, echo);
	return pp;
}

static void fill(float *dst, size_t n, const float *src, size_t sn,
		 size_t off)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = src[(off + i) % sn];
}

static void run_case(const struct scase *c, uint32_t seed,
		     struct result *res)
{
	const size_t n = (size_t)(c->seconds * SR) / FR * FR;
	const float far_g = 32767.0f * db_to_lin(FAR_DBFS);
	const float noise_g = 32767.0f * db_to_lin(NOISE_DBFS);
	float *farf = malloc(n * sizeof(float));
	float *play = malloc(n * sizeof(float));
	float *echo = malloc(n * sizeof(float));
	float *nearf = calloc(n, sizeof(float));
	float *noise = malloc(n * sizeof(float));
	int16_t *ref = malloc(n * sizeof(int16_t));
	int16_t *mic = malloc(n * sizeof(int16_t));
	int16_t *lin = malloc(n * sizeof(int16_t));
	int16_t *pp = malloc(n * sizeof(int16_t));
	int16_t *blin = malloc(n * sizeof(int16_t));
	int16_t *bpp = malloc(n * sizeof(int16_t));
	struct dsp_aec_prm prm = {SR, TAIL_MS, 800};
	struct dsp_aec_stats st;
	struct dsp_aec *aec = NULL;
	SpeexEchoState *base;
	SpeexPreprocessState *pps, *bpps;
	struct dsp_rng r;
	float *h;
	size_t hn, i, f, s;
	double tsum = 0.0, *tv = malloc(n / FR * sizeof(double));
	static const float win[4][2] = {{1, 2}, {3, 4}, {10, 11}, {20, 30}};

	if (!tv || !farf || !play || !echo || !nearf || !noise || !ref ||
	    !mic || !lin || !pp || !blin || !bpp)
		abort();
	memset(res, 0, sizeof(*res));
	dsp_rng_seed(&r, seed);
	if (far_src)
		fill(farf, n, far_src, far_n, 0);
	else
		dsp_synth_talk(farf, n, SR, &r);
	for (i = 0; i < n; i++) {
		ref[i] = clip16(far_g * farf[i]);
		farf[i] = ref[i];
	}
	if (c->near_from_s >= 0.0f) {
		const size_t from = (size_t)(c->near_from_s * SR);

		if (near_src)
			fill(nearf + from, n - from, near_src, near_n, 0);
		else
			dsp_synth_talk(nearf + from, n - from, SR, &r);
		for (i = from; i < n; i++)
			nearf[i] *= far_g;
	}
	dsp_synth_noise(noise, n, SR, DSP_NOISE_WHITE, &r);

	playout(c, farf, n, play);
	h = dsp_synth_room(c->rt60_s, SR, &hn, &r);
	if (!h)
		abort();
	if (dsp_convolve(play, n, h, hn, echo))
		abort();
	for (i = 0; i < n; i++) {
		echo[i] *= c->no_echo ? 0.0f : db_to_lin(c->gain_db);
		mic[i] = clip16(echo[i] + nearf[i] + noise_g * noise[i]);
	}

	if (dsp_aec_alloc(&aec, &prm))
		abort();
	base = speex_echo_state_init(FR, TAIL_MS * SR / 1000);
	i = SR;
	speex_echo_ctl(base, SPEEX_ECHO_SET_SAMPLING_RATE, &i);
	pps = pp_new(dsp_aec_speex_state(aec));
	bpps = pp_new(base);
	for (f = 0; f < n / FR; f++) {
		const size_t o = f * FR;
		double t0 = now_ns(), dt;

		dsp_aec_playback(aec, ref + o);
		dsp_aec_capture(aec, mic + o, lin + o);
		dt = now_ns() - t0;
		tsum += dt;
		tv[f] = dt;
		memcpy(pp + o, lin + o, FR * sizeof(int16_t));
		/* the canceller may hand over to a pre-trained state */
		speex_preprocess_ctl(pps, SPEEX_PREPROCESS_SET_ECHO_STATE,
				     dsp_aec_speex_state(aec));
		speex_preprocess_run(pps, pp + o);
		dsp_aec_get_stats(aec, &st);
		res->present_frames += st.echo_present;
		if (trace && f % 50 == 0)
			fprintf(stderr, "%5.1f s: lock %d delay %.2f drift "
				"%+.1f corr %.2f steps %u erle %.1f erl %.1f "
				"echo %.1f resid %.1f dt %d\n",
				(double)f / 100.0, st.echo_present,
				(double)st.delay_ms, (double)st.drift_ppm,
				(double)st.search_corr, st.steps,
				(double)st.erle_db, (double)st.erl_db,
				(double)st.echo_dbfs, (double)st.residual_dbfs,
				st.double_talk);

		speex_echo_cancellation(base, mic + o, ref + o, blin + o);
		memcpy(bpp + o, blin + o, FR * sizeof(int16_t));
		speex_preprocess_run(bpps, bpp + o);
	}
	res->ns_mean = tsum / (double)(n / FR);
	qsort(tv, n / FR, sizeof(*tv), cmp_double);
	res->ns_p999 = tv[(n / FR) * 99 / 100];
	res->ns_max = tv[n / FR - 1];
	free(tv);
	res->echo_present = st.echo_present;
	res->delay_est = st.delay_ms;
	res->drift_est = st.drift_ppm;
	{
		double d = c->delay_ms;

		for (s = 0; s < c->nsteps; s++)
			d += c->step_ms[s];
		res->delay_true = (float)(d - c->drift_ppm * 1e-6 *
					  c->seconds * 1000.0);
	}

	for (i = 0; i < 4; i++) {
		const float *nr = c->near_from_s >= 0.0f ? nearf : NULL;

		res->lin[i] = erle(mic, lin, 0, echo, nr, n, win[i][0],
				   win[i][1]);
		res->pp[i] = erle(mic, pp, FR, echo, nr, n, win[i][0],
				  win[i][1]);
		res->blin[i] = erle(mic, blin, 0, echo, nr, n, win[i][0],
				    win[i][1]);
		res->bpp[i] = erle(mic, bpp, FR, echo, nr, n, win[i][0],
				   win[i][1]);
	}
	for (s = 0; s < c->nsteps; s++) {
		const float at = c->step_at_s[s];

		res->rec[s] = recovery(mic, pp, echo, n, at, 5.0f);
		res->brec[s] = recovery(mic, bpp, echo, n, at, 5.0f);
		res->at3[s] = erle(mic, pp, FR, echo, NULL, n, at + 2.5f,
				   at + 3.0f);
	}
	res->estoi = res->bestoi = res->mestoi = NAN;
	if (c->near_from_s >= 0.0f) {
		const size_t from = (size_t)(c->near_from_s * SR);
		const size_t m = n - from - FR;
		float *a = malloc(m * sizeof(float));
		float *b = malloc(m * sizeof(float));

		if (!a || !b)
			abort();
		for (i = 0; i < m; i++)
			b[i] = pp[from + i + FR];
		dsp_estoi(nearf + from, b, m, SR, &res->estoi);
		for (i = 0; i < m; i++)
			b[i] = bpp[from + i + FR];
		dsp_estoi(nearf + from, b, m, SR, &res->bestoi);
		for (i = 0; i < m; i++)
			a[i] = mic[from + i];
		dsp_estoi(nearf + from, a, m, SR, &res->mestoi);
		free(a);
		free(b);
	}

	speex_preprocess_state_destroy(pps);
	speex_preprocess_state_destroy(bpps);
	speex_echo_state_destroy(base);
	dsp_aec_free(aec);
	free(h);
	free(farf);
	free(play);
	free(echo);
	free(nearf);
	free(noise);
	free(ref);
	free(mic);
	free(lin);
	free(pp);
	free(blin);
	free(bpp);
}

/* ---- WAV input ---------------------------------------------------------- */

static float *load_wav(const char *path, size_t *np)
{
	SF_INFO info;
	SNDFILE *sf;
	float *raw, *mono, *out;
	spx_uint32_t il, ol;
	double e = 0.0;
	size_t i, n;
	sf_count_t got;
	int c, err;

	memset(&info, 0, sizeof(info));
	sf = sf_open(path, SFM_READ, &info);
	if (!sf) {
		fprintf(stderr, "bench_aec: %s: %s\n", path,
			sf_strerror(NULL));
		exit(1);
	}
	raw = malloc((size_t)info.frames * (size_t)info.channels *
		     sizeof(float));
	mono = malloc((size_t)info.frames * sizeof(float));
	if (!raw || !mono)
		abort();
	got = sf_readf_float(sf, raw, info.frames);
	sf_close(sf);
	for (i = 0; i < (size_t)got; i++) {
		float s = 0.0f;

		for (c = 0; c < info.channels; c++)
			s += raw[i * (size_t)info.channels + (size_t)c];
		mono[i] = s / (float)info.channels;
	}
	free(raw);
	n = (size_t)got;
	if (info.samplerate != SR) {
		SpeexResamplerState *rs = speex_resampler_init(
			1, (spx_uint32_t)info.samplerate, SR, 10, &err);
		const size_t want = (size_t)((double)n * SR /
					     info.samplerate);

		out = calloc(want + 1, sizeof(float));
		if (!rs || !out)
			abort();
		speex_resampler_skip_zeros(rs);
		il = (spx_uint32_t)n;
		ol = (spx_uint32_t)want;
		speex_resampler_process_float(rs, 0, mono, &il, out, &ol);
		speex_resampler_destroy(rs);
		free(mono);
		mono = out;
		n = ol;
	}
	for (i = 0; i < n; i++)
		e += (double)mono[i] * mono[i];
	e = sqrt(e / (double)(n ? n : 1));
	for (i = 0; i < n && e > 0.0; i++)
		mono[i] = (float)(mono[i] / e);
	*np = n;
	return mono;
}

/* ---- the tables --------------------------------------------------------- */

static void fmt(char *b, size_t bn, float v)
{
	if (isnan(v))
		snprintf(b, bn, "-");
	else if (isinf(v))
		snprintf(b, bn, ">5");
	else
		snprintf(b, bn, "%.1f", (double)v);
}

static void print_row(const struct scase *c, const struct result *r)
{
	char v[16][16];
	int i;

	for (i = 0; i < 4; i++) {
		fmt(v[i], 16, r->lin[i]);
		fmt(v[4 + i], 16, r->pp[i]);
		fmt(v[8 + i], 16, r->bpp[i]);
	}
	fmt(v[12], 16, r->blin[3]);
	printf("| %-26s | %s / %s / %s / %s | %s / %s / %s / %s "
	       "| %s / %s / %s / %s (lin %s) | %.1f / %.1f | %+.1f / %+.0f "
	       "| %.1f / %.1f / %.1f |\n", c->name,
	       v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7],
	       v[8], v[9], v[10], v[11], v[12],
	       (double)r->delay_est, (double)r->delay_true,
	       (double)r->drift_est, (double)c->drift_ppm,
	       r->ns_mean / 1000.0, r->ns_p999 / 1000.0,
	       r->ns_max / 1000.0);
	fflush(stdout);
}

static void header(void)
{
	printf("| case | ERLE lin @1/@3/@10/steady dB | ERLE +pp "
	       "@1/@3/@10/steady | plain speex +pp (steady lin) "
	       "| delay est/true ms | drift est/true ppm "
	       "| us/frame mean/p99/max |\n");
	printf("|---|---|---|---|---|---|---|\n");
}

int main(int argc, char **argv)
{
	static const float delays[] = {40, 150, 300, 600};
	static const float rt60s[] = {0.3f, 0.5f, 0.8f};
	static const float gains[] = {-10, 0, 6};
	static const float drifts[] = {-100, -50, 50, 100};
	struct scase cv[64];
	struct result res;
	size_t nc = 0, i, nsc;
	bool quick = false;
	const char *only = NULL;
	const char *files[2] = {NULL, NULL};
	int a, nf = 0;
	char names[64][48];
	double tsum = 0.0, tmax = 0.0;
	size_t tcount = 0;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--quick"))
			quick = true;
		else if (!strcmp(argv[a], "--trace"))
			trace = true;
		else if (!strncmp(argv[a], "--only=", 7))
			only = argv[a] + 7;
		else if (nf < 2)
			files[nf++] = argv[a];
	}
	if (files[0])
		far_src = load_wav(files[0], &far_n);
	if (files[1])
		near_src = load_wav(files[1], &near_n);

	/* static paths */
	for (i = 0; i < 4 * 3; i++) {
		struct scase *c = &cv[nc];

		if (quick && i % 4 != 1 && i != 3)
			continue;
		memset(c, 0, sizeof(*c));
		c->delay_ms = delays[i % 4];
		c->rt60_s = rt60s[i / 4];
		c->gain_db = 0.0f;
		c->near_from_s = -1.0f;
		c->seconds = quick ? 12.0f : 30.0f;
		snprintf(names[nc], 48, "static D%.0f RT%.1f G%+.0f",
			 (double)c->delay_ms, (double)c->rt60_s,
			 (double)c->gain_db);
		c->name = names[nc++];
	}
	for (i = 0; i < 3 && !quick; i++) {
		struct scase *c = &cv[nc];

		if (gains[i] == 0.0f)
			continue;
		memset(c, 0, sizeof(*c));
		c->delay_ms = 150.0f;
		c->rt60_s = 0.5f;
		c->gain_db = gains[i];
		c->near_from_s = -1.0f;
		c->seconds = 30.0f;
		snprintf(names[nc], 48, "static D150 RT0.5 G%+.0f",
			 (double)c->gain_db);
		c->name = names[nc++];
	}
	nsc = nc;
	/* drift */
	for (i = 0; i < 8; i++) {
		struct scase *c = &cv[nc];

		if (quick && (i % 4 == 1 || i % 4 == 2 || i >= 4))
			continue;
		memset(c, 0, sizeof(*c));
		c->delay_ms = i < 4 ? 150.0f : 300.0f;
		c->rt60_s = i < 4 ? 0.3f : 0.5f;
		c->drift_ppm = drifts[i % 4];
		c->near_from_s = -1.0f;
		c->seconds = quick ? 20.0f : 30.0f;
		snprintf(names[nc], 48, "drift %+.0f ppm D%.0f RT%.1f",
			 (double)c->drift_ppm, (double)c->delay_ms,
			 (double)c->rt60_s);
		c->name = names[nc++];
	}
	/* steps */
	for (i = 0; i < 4; i++) {
		struct scase *c = &cv[nc];

		if (quick && i)
			continue;
		memset(c, 0, sizeof(*c));
		c->delay_ms = i % 2 ? 300.0f : 150.0f;
		c->rt60_s = i < 2 ? 0.3f : 0.5f;
		c->drift_ppm = i == 3 ? 50.0f : 0.0f;
		c->nsteps = 2;
		c->step_at_s[0] = 12.0f;
		c->step_ms[0] = 20.0f;
		c->step_at_s[1] = 21.0f;
		c->step_ms[1] = -20.0f;
		c->near_from_s = -1.0f;
		c->seconds = 30.0f;
		snprintf(names[nc], 48, "steps D%.0f RT%.1f%s",
			 (double)c->delay_ms, (double)c->rt60_s,
			 i == 3 ? " +50ppm" : "");
		c->name = names[nc++];
	}
	/* double talk */
	for (i = 0; i < 4; i++) {
		struct scase *c = &cv[nc];

		if (quick && i)
			continue;
		memset(c, 0, sizeof(*c));
		c->delay_ms = i % 2 ? 600.0f : 150.0f;
		c->rt60_s = i < 2 ? 0.3f : 0.8f;
		c->gain_db = 0.0f;
		c->near_from_s = 15.0f;
		c->seconds = 30.0f;
		snprintf(names[nc], 48, "double talk D%.0f RT%.1f",
			 (double)c->delay_ms, (double)c->rt60_s);
		c->name = names[nc++];
	}
	/* no echo: the search alone */
	{
		struct scase *c = &cv[nc];

		memset(c, 0, sizeof(*c));
		c->delay_ms = 150.0f;
		c->rt60_s = 0.3f;
		c->no_echo = true;
		c->near_from_s = 0.0f;
		c->seconds = quick ? 10.0f : 30.0f;
		c->name = "no echo (near end only)";
		nc++;
	}

	printf("# bench_aec: %s, %s; tail %d ms, frame %d, far end %.0f "
	       "dBFS, noise %.0f dBFS\n\n",
	       files[0] ? files[0] : "dsp_synth_talk far end",
	       files[1] ? files[1] : "dsp_synth_talk near end", TAIL_MS,
	       FR, (double)FAR_DBFS, (double)NOISE_DBFS);
	header();
	for (i = 0; i < nc; i++) {
		const struct scase *c = &cv[i];

		if (only && !strstr(c->name, only))
			continue;
		if (i == nsc)
			printf("\n");
		run_case(c, 1234 + (uint32_t)i, &res);
		print_row(c, &res);
		if (c->nsteps) {
			size_t s;

			printf("|   recovery after steps (s), pp ERLE at "
			       "+2.5..3 s:");
			for (s = 0; s < c->nsteps; s++)
				printf(" %+.0f ms: %.1f (%.1f dB; plain "
				       "%.1f)", (double)c->step_ms[s],
				       (double)res.rec[s],
				       (double)res.at3[s],
				       (double)res.brec[s]);
			printf(" |||||||\n");
		}
		if (c->near_from_s >= 0.0f && !c->no_echo)
			printf("|   double talk: near-end ESTOI %.3f "
			       "(plain speex %.3f, mic %.3f) |||||||\n",
			       (double)res.estoi, (double)res.bestoi,
			       (double)res.mestoi);
		if (c->no_echo)
			printf("|   echo_present on %zu frames of %zu "
			       "|||||||\n", res.present_frames,
			       (size_t)(c->seconds * 100));
		tsum += res.ns_mean;
		tmax = res.ns_p999 > tmax ? res.ns_p999 : tmax;
		++tcount;
	}
	printf("\ncost: %.1f us per 10 ms frame on average over all cases, "
	       "worst case p99 %.1f us\n", tsum / (double)tcount / 1000.0,
	       tmax / 1000.0);
	free(far_src);
	free(near_src);
	return 0;
}
