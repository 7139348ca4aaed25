/**
 * @file probe.c  The readiness check's measurements: a quiet sweep sent
 * to one site and found again in its microphone (does its loudspeaker
 * reach its microphone, how late, how loud), and the level, noise and
 * clipping of its people speaking when asked to.
 *
 * Why a sweep and a matched filter: a logarithmic sweep of 400 ms over
 * 300-3400 Hz has a time-bandwidth product of about 1,200, so the
 * correlation lifts its echo about 30 dB above the room's noise. The
 * probe can therefore be 10 dB below speech (quiet enough not to disturb
 * a meeting room) and still be found through a loudspeaker with 30 dB of
 * return loss in a noisy hall, through codecs that keep the waveform
 * only roughly. Its sidelobes are low, so the largest peak is the direct
 * path even in a reverberant room.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "dsp.h"

#define SRATE 16000
#define FRAME 320
#define FADE 160                 /* 10 ms */
#define TAIL_MS 400              /* room response summed for the level */
#define FOUND_DB 18.0f           /* peak over the noise RMS (8 sigma):
				    noise reaches ~4 sigma, voiced speech
				    in the mic up to ~17 dB, an echo 30+;
				    the bridge probes twice and wants the
				    same lag, which speech does not give */
#define CLIP 32700

void dsp_probe_defaults(struct dsp_probe_prm *prm)
{
	if (!prm)
		return;
	prm->level_dbfs = -30.0f;
	prm->len_ms = 400;
	prm->f0_hz = 300.0f;
	prm->f1_hz = 3400.0f;
}

size_t dsp_probe_len(const struct dsp_probe_prm *prm)
{
	return prm ? (size_t)prm->len_ms * (SRATE / 1000) : 0;
}

/* Sample i of n of the faded sweep, amplitude 1. */
static double sweep(const struct dsp_probe_prm *prm, size_t i, size_t n)
{
	const double t_len = (double)n / SRATE;
	const double k = log(prm->f1_hz / prm->f0_hz);
	const double t = (double)i / SRATE;
	double v = sin(2.0 * M_PI * prm->f0_hz * t_len / k *
		       (exp(t * k / t_len) - 1.0));

	if (i < FADE)
		v *= 0.5 - 0.5 * cos(M_PI * (double)i / FADE);
	else if (i >= n - FADE)
		v *= 0.5 - 0.5 * cos(M_PI * (double)(n - 1 - i) / FADE);
	return v;
}

size_t dsp_probe_make(const struct dsp_probe_prm *prm, int16_t *out,
		      size_t max)
{
	const size_t n = dsp_probe_len(prm);
	double e = 0.0, scale;
	size_t i;

	if (!n || !out || n > max || n < 2 * FADE || prm->f0_hz <= 0.0f ||
	    prm->f1_hz <= prm->f0_hz || prm->f1_hz >= SRATE / 2)
		return 0;

	for (i = 0; i < n; i++) {
		const double v = sweep(prm, i, n);

		e += v * v;
	}
	/* the level is an RMS against a full-scale square wave (dsp.h) */
	scale = 32768.0 * pow(10.0, prm->level_dbfs / 20.0) /
		sqrt(e / (double)n);
	for (i = 0; i < n; i++) {
		const double v = sweep(prm, i, n) * scale;

		out[i] = (int16_t)(v > 32767.0 ? 32767 :
				   v < -32768.0 ? -32768 : lrint(v));
	}
	return n;
}

static float db10(double e)
{
	return e > 1e-30 ? (float)(10.0 * log10(e)) : DSP_SILENCE_DBFS;
}

/* Energy per sample -> dBFS (full-scale square = 0 dBFS). */
static float ms_dbfs(double e_per_sample)
{
	const float d = db10(e_per_sample / (32768.0 * 32768.0));

	return d < DSP_SILENCE_DBFS ? DSP_SILENCE_DBFS : d;
}

/* The mic's power spectrum smoothed over about 100 Hz, into sm[]: the
 * weight that whitens what is not the probe (speech, hum, pink noise)
 * before the correlation, as a matched filter in coloured noise must. */
static void smooth_power(const double *xr, const double *xi, size_t n,
			 double *sm)
{
	const size_t half = n / 2, w = n / 320 + 1;
	double run = 0.0;
	size_t k;

	for (k = 0; k <= half; k++)
		sm[k] = xr[k] * xr[k] + xi[k] * xi[k];
	/* centred running mean over 2w+1 bins of the half spectrum */
	for (k = 0; k <= w && k <= half; k++)
		run += sm[k];
	for (k = 0; k <= half; k++) {
		const double v = run / (double)(2 * w + 1);

		if (k + w + 1 <= half)
			run += xr[k + w + 1] * xr[k + w + 1] +
			       xi[k + w + 1] * xi[k + w + 1];
		if (k >= w)
			run -= xr[k - w] * xr[k - w] + xi[k - w] * xi[k - w];
		sm[k] = v;
	}
}

/* RMS over the probe's window of the whitened mic, from the running
 * energy e (e[i]: energy of samples before i). */
static double local(const double *e, size_t mic_n, size_t at, size_t len)
{
	const size_t end = at + len < mic_n ? at + len : mic_n;
	const double v = e[end] - e[at];

	return v > 0.0 ? sqrt(v / (double)len) : 1e-30;
}

static int cmp_double(const void *a, const void *b)
{
	const double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of |normalised correlation| over lags 0..maxd, divided by the
 * Gaussian's 0.6745 to read as an RMS; tmp: maxd + 1 doubles. */
static double median_abs(const double *wr, const double *e, size_t mic_n,
			 size_t probe_at, size_t probe_n, size_t maxd,
			 double *tmp)
{
	size_t i;

	for (i = 0; i <= maxd; i++)
		tmp[i] = fabs(wr[probe_at + i] /
			      local(e, mic_n, probe_at + i, probe_n));
	qsort(tmp, maxd + 1, sizeof(*tmp), cmp_double);
	return tmp[maxd / 2] / 0.6745;
}

int dsp_probe_analyse(const int16_t *probe, size_t probe_n,
		      const int16_t *mic, size_t mic_n, size_t probe_at,
		      uint32_t max_delay_ms, struct dsp_probe_result *res)
{
	struct dsp_fft *fft = NULL;
	double *buf = NULL, *xr, *xi, *pr, *pi, *wr, *wi, *sm, *vr, *vi;
	double ep = 0.0, en = 0.0, sa2 = 0.0, eh = 0.0, peak = 0.0;
	double noise_w = 0.0, noise_h = 0.0, pk_abs = 0.0, hpk, med;
	size_t n = 1, i, maxd, nn = 0, best = 0, nh = 0, k0, k1;
	long d, lo, hi;
	int err;

	if (!probe || !mic || !res || probe_n < 2 * FADE ||
	    probe_at < SRATE / 10 || mic_n <= probe_at + probe_n)
		return EINVAL;
	memset(res, 0, sizeof(*res));
	res->delay_ms = -1.0f;

	while (n < mic_n + probe_n)
		n <<= 1;
	err = dsp_fft_alloc(&fft, n);
	if (err)
		return err;
	buf = calloc(9 * n, sizeof(*buf));
	if (!buf) {
		err = ENOMEM;
		goto out;
	}
	xr = buf;
	xi = buf + n;
	pr = buf + 2 * n;
	pi = buf + 3 * n;
	wr = buf + 4 * n;
	wi = buf + 5 * n;
	sm = buf + 6 * n;
	vr = buf + 7 * n;
	vi = buf + 8 * n;

	for (i = 0; i < mic_n; i++) {
		const int v = mic[i];

		xr[i] = v;
		if (abs(v) > pk_abs)
			pk_abs = abs(v);
		if (abs(v) >= CLIP)
			++res->clipped;
		if (i < probe_at)
			en += (double)v * v;
	}
	res->peak_dbfs = pk_abs > 0 ? (float)(20.0 * log10(pk_abs / 32768.0))
				    : DSP_SILENCE_DBFS;
	res->noise_dbfs = ms_dbfs(en / (double)probe_at);
	for (i = 0; i < probe_n; i++) {
		pr[i] = probe[i];
		ep += (double)probe[i] * probe[i];
	}
	if (ep <= 0.0) {
		err = EINVAL;
		goto out;
	}

	dsp_fft_run_d(fft, xr, xi, false);
	dsp_fft_run_d(fft, pr, pi, false);
	smooth_power(xr, xi, n, sm);
	/* the probe's band only: hum and hiss outside it can only hide it */
	k0 = (size_t)(250.0 * (double)n / SRATE);
	k1 = (size_t)(3600.0 * (double)n / SRATE);
	for (i = 0; i < n; i++) {
		/* mic x conj(probe): the correlation at every lag */
		const double re = xr[i] * pr[i] + xi[i] * pi[i];
		const double im = xi[i] * pr[i] - xr[i] * pi[i];
		const size_t k = i <= n / 2 ? i : n - i;

		if (k >= k0 && k <= k1 && sm[k] > 0.0) {
			const double g = 1.0 / sqrt(sm[k]);

			wr[i] = re / sm[k];
			wi[i] = im / sm[k];
			vr[i] = xr[i] * g;
			vi[i] = xi[i] * g;
		}
		xr[i] = re;
		xi[i] = im;
		/* |P|^2: the probe's own autocorrelation, in pr */
		pr[i] = pr[i] * pr[i] + pi[i] * pi[i];
		pi[i] = 0.0;
	}
	dsp_fft_run_d(fft, xr, xi, true);
	dsp_fft_run_d(fft, wr, wi, true);
	dsp_fft_run_d(fft, pr, pi, true);
	dsp_fft_run_d(fft, vr, vi, true);
	/* vi: running energy of the whitened mic, to normalise each lag by
	 * what the mic held under the probe's window there (speech comes
	 * and goes; the correlation's noise follows it) */
	vi[0] = 0.0;
	for (i = 0; i < mic_n && i + 1 < n; i++)
		vi[i + 1] = vi[i] + vr[i] * vr[i];

	/* W: the whitened correlation, for finding the probe and its lag.
	 * H(d) = r[probe_at + d] / Ep: the room's response band-limited by
	 * the probe's autocorrelation A (A(0) = 1), for its level. Lags
	 * before the probe left hold nothing but noise. */
#define W(d) (wr[(size_t)((long)probe_at + (d))] / local(vi, mic_n,	\
				probe_at + (size_t)(d), probe_n))
#define H(d) (xr[(size_t)((long)probe_at + (d))] / ((double)n * ep))
#define A(d) (pr[(size_t)(((long)n + (d)) % (long)n)] / ((double)n * ep))
	for (d = -(long)probe_at; d < -(long)FADE; d++, nn++) {
		noise_w += W(d) * W(d);
		noise_h += H(d) * H(d);
	}
	noise_w /= (double)nn;
	noise_h /= (double)nn;

	maxd = (size_t)max_delay_ms * (SRATE / 1000);
	if (probe_at + maxd >= mic_n)
		maxd = mic_n - probe_at - 1;
	for (i = 0; i <= maxd; i++) {
		const double v = fabs(W((long)i));

		if (v > peak) {
			peak = v;
			best = i;
		}
	}
	/* the noise: what the lags before the probe held, or, when more,
	 * the median over the lags searched (as RMS of Gaussian noise) */
	med = median_abs(wr, vi, mic_n, probe_at, probe_n, maxd, sm);
	if (med * med > noise_w)
		noise_w = med * med;
	res->margin_db = db10(peak * peak / (noise_w > 0 ? noise_w : 1e-300));
	res->found = res->margin_db >= FOUND_DB;
	if (!res->found)
		goto out;

	{
		/* parabolic interpolation of the peak: sub-sample lag */
		double off = 0.0;

		if (best > 0 && best < maxd) {
			const double a = fabs(W((long)best - 1));
			const double c = fabs(W((long)best + 1));
			const double den = a - 2.0 * peak + c;

			if (den < 0.0)
				off = 0.5 * (a - c) / den;
		}
		res->delay_ms = (float)(((double)best + off) * 1000.0 / SRATE);
	}

	lo = (long)best - 32;
	hi = (long)best + TAIL_MS * (SRATE / 1000);
	if ((long)probe_at + hi >= (long)mic_n)
		hi = (long)(mic_n - probe_at) - 1;
	hpk = 0.0;
	for (d = lo; d <= hi; d++, nh++) {
		eh += H(d) * H(d);
		sa2 += A(d - (long)best) * A(d - (long)best);
		if (fabs(H(d)) > hpk)
			hpk = fabs(H(d));
	}
#undef W
#undef H
#undef A
	/* what the noise adds to every lag is taken out; never below the
	 * direct path alone */
	eh -= (double)nh * noise_h;
	eh /= sa2;
	if (eh < hpk * hpk)
		eh = hpk * hpk;
	res->erl_db = -db10(eh);
	res->echo_dbfs = ms_dbfs(ep / (double)probe_n) - res->erl_db;
 out:
	free(buf);
	dsp_fft_free(fft);
	return err;
}

/* ---- talk check --------------------------------------------------------- */

#define TALK_MAX_FRAMES 3000     /* 60 s */

static int cmp_float(const void *a, const void *b)
{
	const float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

void dsp_talk_analyse(const int16_t *mic, size_t n,
		      struct dsp_talk_result *res)
{
	static const float quiet_share = 0.2f;
	struct dsp_vad vad;
	float lv[TALK_MAX_FRAMES];
	double es = 0.0, eq = 0.0;
	size_t f, nf = n / FRAME, ns = 0, nclip = 0, nq;
	int pk = 0;

	if (!res)
		return;
	memset(res, 0, sizeof(*res));
	res->speech_dbfs = res->noise_dbfs = res->peak_dbfs =
		DSP_SILENCE_DBFS;
	if (!mic || !nf)
		return;
	if (nf > TALK_MAX_FRAMES)
		nf = TALK_MAX_FRAMES;
	(void)dsp_vad_init(&vad, SRATE);

	for (f = 0; f < nf; f++) {
		const int16_t *x = mic + f * FRAME;
		const float p = dsp_vad_process(&vad, x, FRAME);
		double e = 0.0;
		bool clip = false;
		size_t i;

		for (i = 0; i < FRAME; i++) {
			const int v = abs(x[i]);

			e += (double)x[i] * x[i];
			if (v > pk)
				pk = v;
			if (v >= CLIP)
				clip = true;
		}
		e /= FRAME;
		lv[f] = (float)e;
		if (p >= 0.5f) {
			es += e;
			++ns;
			nclip += clip;
		}
	}

	/* the noise: the quietest fifth of the frames, speech or not (a
	 * room's pauses between words are its noise) */
	qsort(lv, nf, sizeof(lv[0]), cmp_float);
	nq = (size_t)(quiet_share * (float)nf);
	if (!nq)
		nq = 1;
	for (f = 0; f < nq; f++)
		eq += lv[f];
	res->noise_dbfs = ms_dbfs(eq / (double)nq);
	res->peak_dbfs = pk > 0 ? (float)(20.0 * log10(pk / 32768.0))
				: DSP_SILENCE_DBFS;
	res->speech_s = (float)ns * FRAME / SRATE;
	if (ns) {
		res->speech_dbfs = ms_dbfs(es / (double)ns);
		res->clip_pct = 100.0f * (float)nclip / (float)ns;
	}
	res->snr_db = res->speech_dbfs - res->noise_dbfs;
}

enum dsp_talk_verdict dsp_talk_judge(const struct dsp_talk_result *res)
{
	if (!res || res->speech_s < 0.6f)
		return DSP_TALK_SILENT;
	if (res->clip_pct > 2.0f)
		return DSP_TALK_LOUD;
	if (res->speech_dbfs < -42.0f)
		return DSP_TALK_QUIET;
	if (res->snr_db < 15.0f)
		return DSP_TALK_NOISY;
	return DSP_TALK_GOOD;
}

const char *dsp_talk_verdict_name(enum dsp_talk_verdict v)
{
	switch (v) {
	case DSP_TALK_GOOD:   return "good";
	case DSP_TALK_SILENT: return "silent";
	case DSP_TALK_QUIET:  return "quiet";
	case DSP_TALK_LOUD:   return "loud";
	case DSP_TALK_NOISY:  return "noisy";
	}
	return "?";
}
