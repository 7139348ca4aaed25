/**
 * @file quality.c  Objective quality measures for tests and benchmarks.
 *
 * ESTOI and STOI. Jensen & Taal, "An algorithm for predicting the
 * intelligibility of speech masked by modulated noise maskers", IEEE/ACM
 * TASLP 24(11), 2016; Taal, Hendriks, Heusdens & Jensen, "An algorithm
 * for intelligibility prediction of time-frequency weighted noisy
 * speech", IEEE TASLP 19(7), 2011. Both follow the authors' reference
 * code step for step, so that figures compare with published ones and
 * with pystoi:
 *  1. resample to 10 kHz (SpeexDSP, quality 10, delay compensated);
 *  2. drop the 256-sample Hann frames (hop 128) of the reference that
 *     are more than 40 dB below its loudest frame, in both signals, and
 *     rebuild both by overlap-add;
 *  3. 512-point DFT of 256-sample Hann frames (hop 128), power summed in
 *     15 one-third octave bands from 150 Hz (centres 150 Hz..3.8 kHz,
 *     edges rounded to the nearest bin), square-rooted;
 *  4. segments of 30 frames (384 ms), one per frame position;
 *  5. ESTOI: each segment's band x time matrix is normalised to zero
 *     mean and unit norm along time (rows), then along bands (columns);
 *     the score is the mean over segments and frames of the correlation
 *     of the reference's and the processed signal's spectral columns.
 *     STOI: per band, the processed envelope is scaled to the
 *     reference's energy and clipped at 15 dB above it, then correlated
 *     with the reference; mean over bands and segments.
 * The reference code adds eps-scale noise against division by zero; we
 * test for a zero norm instead, which gives the same result without
 * randomness.
 *
 * Alignment. dsp_delay_estimate() cross-correlates through one FFT of
 * the next power of two >= both lengths together (no circular wrap) and
 * picks the largest |correlation| in the allowed lag range, then reports
 * it normalised by the energies of the overlapping parts.
 * dsp_presence_db() fits y by the aligned x through a short least-squares
 * FIR (normal equations, Cholesky) and reports the explained share of
 * y's energy.
 *
 * Threads: any. Nothing here is RT-safe: the functions allocate.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <speex/speex_resampler.h>
#include "dsptest.h"

#define PI_D 3.14159265358979323846

#define STOI_FS 10000u
#define STOI_FRAME 256
#define STOI_HOP 128
#define STOI_NFFT 512
#define STOI_BANDS 15
#define STOI_MINF 150.0
#define STOI_SEG 30
#define STOI_RANGE_DB 40.0
#define STOI_BETA_DB (-15.0)
#define RESAMP_QUALITY 10

#define SEGSNR_MIN_DB (-10.0)
#define SEGSNR_MAX_DB 35.0
#define SEGSNR_RANGE_DB 40.0
#define ERLE_MAX_DB 120.0f
#define PRESENCE_MAX_TAPS 127u
#define PRESENCE_SHIFT 8

static size_t next_pow2(size_t n)
{
	size_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/* ---- STOI / ESTOI ------------------------------------------------------- */

/* Resample to 10 kHz into a new buffer of about n * 10000 / srate
 * samples, with the resampler's own delay removed so that both signals
 * keep their alignment to the sample. */
static int resample_10k(const float *in, size_t n, uint32_t srate_hz,
			double **outp, size_t *outn)
{
	SpeexResamplerState *st = NULL;
	const size_t chunk = 4096;
	float *obuf = NULL, zeros[256];
	double *out = NULL;
	size_t want, got = 0, fed = 0, skip, flush = 0, flush_max;
	int err = 0, serr = 0;

	if (srate_hz == STOI_FS) {
		size_t i;

		out = malloc((n ? n : 1) * sizeof(*out));
		if (!out)
			return ENOMEM;
		for (i = 0; i < n; i++)
			out[i] = in[i];
		*outp = out;
		*outn = n;
		return 0;
	}

	want = (size_t)(((uint64_t)n * STOI_FS + srate_hz / 2) / srate_hz);
	st = speex_resampler_init(1, srate_hz, STOI_FS, RESAMP_QUALITY,
				  &serr);
	out = malloc((want ? want : 1) * sizeof(*out));
	obuf = malloc(chunk * sizeof(*obuf));
	if (!st || !out || !obuf) {
		err = ENOMEM;
		goto out;
	}
	memset(zeros, 0, sizeof(zeros));
	skip = (size_t)speex_resampler_get_output_latency(st);
	flush_max = 4 * (size_t)speex_resampler_get_input_latency(st) + 1024;

	while (got < want) {
		spx_uint32_t ilen, olen = (spx_uint32_t)chunk;
		const float *ip;

		if (fed < n) {
			size_t left = n - fed;

			ip = in + fed;
			ilen = (spx_uint32_t)(left < chunk ? left : chunk);
		}
		else {
			/* pad with zeros to push the tail out */
			if (flush > flush_max)
				break;
			ip = zeros;
			ilen = (spx_uint32_t)(sizeof(zeros) /
					      sizeof(zeros[0]));
		}
		speex_resampler_process_float(st, 0, ip, &ilen, obuf, &olen);
		if (fed < n)
			fed += ilen;
		else
			flush += ilen;

		for (spx_uint32_t k = 0; k < olen && got < want; k++) {
			if (skip) {
				--skip;
				continue;
			}
			out[got++] = obuf[k];
		}
		if (!ilen && !olen)
			break;
	}
	while (got < want)
		out[got++] = 0.0;

 out:
	if (st)
		speex_resampler_destroy(st);
	free(obuf);
	if (err) {
		free(out);
	}
	else {
		*outp = out;
		*outn = want;
	}
	return err;
}

/* MATLAB's hanning(N): zero-free, symmetric. */
static void hann(double *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		w[i] = 0.5 * (1.0 - cos(2.0 * PI_D * (double)(i + 1) /
				       (double)(n + 1)));
}

/* Number of hop-spaced frames starting at 0 .. len - frame - 1: the
 * reference code's 1:K:(length(x)-N), which never takes the last
 * possible frame. */
static size_t frame_count(size_t len)
{
	return len > STOI_FRAME ? (len - STOI_FRAME - 1) / STOI_HOP + 1 : 0;
}

/* Step 2: drop silent frames of x (and the same frames of y) and
 * rebuild both by overlap-add, in place; returns the new length. */
static size_t remove_silent(double *x, double *y, size_t len,
			    const double *w)
{
	size_t nf = frame_count(len), f, cnt = 0, i, outlen;
	double *ex, emax = -HUGE_VAL, *xs, *ys;

	if (!nf)
		return 0;
	ex = malloc(nf * sizeof(*ex));
	xs = calloc(len, sizeof(*xs));
	ys = calloc(len, sizeof(*ys));
	if (!ex || !xs || !ys) {
		free(ex);
		free(xs);
		free(ys);
		return (size_t)-1;
	}

	for (f = 0; f < nf; f++) {
		const double *xp = x + f * STOI_HOP;
		double e = 0.0;

		for (i = 0; i < STOI_FRAME; i++)
			e += (xp[i] * w[i]) * (xp[i] * w[i]);
		ex[f] = 20.0 * log10(sqrt(e) + 2.220446049250313e-16);
		emax = ex[f] > emax ? ex[f] : emax;
	}

	/* a silent reference has no speech to predict the
	 * intelligibility of: leave nothing, and the caller says ERANGE */
	for (f = 0; f < nf && emax > -300.0; f++) {
		if (ex[f] - emax + STOI_RANGE_DB <= 0.0)
			continue;
		for (i = 0; i < STOI_FRAME; i++) {
			xs[cnt * STOI_HOP + i] += x[f * STOI_HOP + i] * w[i];
			ys[cnt * STOI_HOP + i] += y[f * STOI_HOP + i] * w[i];
		}
		++cnt;
	}
	outlen = cnt ? (cnt - 1) * STOI_HOP + STOI_FRAME : 0;
	memcpy(x, xs, outlen * sizeof(*x));
	memcpy(y, ys, outlen * sizeof(*y));

	free(ex);
	free(xs);
	free(ys);
	return outlen;
}

/* Bin ranges [lo, hi) of the one-third octave bands, as thirdoct(). */
static void third_octaves(size_t lo[STOI_BANDS], size_t hi[STOI_BANDS])
{
	const size_t nbin = STOI_NFFT / 2 + 1;
	size_t b, k;

	for (b = 0; b < STOI_BANDS; b++) {
		double fl = STOI_MINF * pow(2.0, (2.0 * b - 1.0) / 6.0);
		double fh = STOI_MINF * pow(2.0, (2.0 * b + 1.0) / 6.0);
		double dl = HUGE_VAL, dh = HUGE_VAL;

		lo[b] = hi[b] = 0;
		for (k = 0; k < nbin; k++) {
			double f = (double)k * STOI_FS / STOI_NFFT;

			/* strict <: argmin takes the first of equals */
			if ((f - fl) * (f - fl) < dl) {
				dl = (f - fl) * (f - fl);
				lo[b] = k;
			}
			if ((f - fh) * (f - fh) < dh) {
				dh = (f - fh) * (f - fh);
				hi[b] = k;
			}
		}
	}
}

/* Step 3: band envelopes of both signals, bands x frames, row-major.
 * Two real frames go through one complex FFT (x real, y imaginary). */
static int band_envelopes(const double *x, const double *y,
			  const double *w, double *X, double *Y, size_t nf)
{
	size_t lo[STOI_BANDS], hi[STOI_BANDS], f, i, b;
	double re[STOI_NFFT], im[STOI_NFFT];
	double px[STOI_NFFT / 2 + 1], py[STOI_NFFT / 2 + 1];
	struct dsp_fft *fft;
	int err = dsp_fft_alloc(&fft, STOI_NFFT);

	if (err)
		return err;
	third_octaves(lo, hi);

	for (f = 0; f < nf; f++) {
		const double *xp = x + f * STOI_HOP, *yp = y + f * STOI_HOP;

		for (i = 0; i < STOI_NFFT; i++) {
			re[i] = i < STOI_FRAME ? xp[i] * w[i] : 0.0;
			im[i] = i < STOI_FRAME ? yp[i] * w[i] : 0.0;
		}
		dsp_fft_run_d(fft, re, im, false);
		for (i = 0; i <= STOI_NFFT / 2; i++) {
			size_t m = (STOI_NFFT - i) & (STOI_NFFT - 1);
			/* X = (Z[k] + conj Z[N-k]) / 2,
			 * Y = (Z[k] - conj Z[N-k]) / 2j */
			double xr = 0.5 * (re[i] + re[m]);
			double xi = 0.5 * (im[i] - im[m]);
			double yr = 0.5 * (im[i] + im[m]);
			double yi = -0.5 * (re[i] - re[m]);

			px[i] = xr * xr + xi * xi;
			py[i] = yr * yr + yi * yi;
		}
		for (b = 0; b < STOI_BANDS; b++) {
			double sx = 0.0, sy = 0.0;

			for (i = lo[b]; i < hi[b]; i++) {
				sx += px[i];
				sy += py[i];
			}
			X[b * nf + f] = sqrt(sx);
			Y[b * nf + f] = sqrt(sy);
		}
	}
	dsp_fft_free(fft);
	return 0;
}

/* Scale v[0..n) (stride s) to zero mean and unit norm; a zero-norm
 * vector becomes all zeros (contributes no correlation). */
static void normalise(double *v, size_t n, size_t s)
{
	double mean = 0.0, nrm = 0.0;
	size_t i;

	for (i = 0; i < n; i++)
		mean += v[i * s];
	mean /= (double)n;
	for (i = 0; i < n; i++) {
		v[i * s] -= mean;
		nrm += v[i * s] * v[i * s];
	}
	nrm = nrm > 0.0 ? 1.0 / sqrt(nrm) : 0.0;
	for (i = 0; i < n; i++)
		v[i * s] *= nrm;
}

static double estoi_segment(const double *X, const double *Y, size_t nf,
			    size_t m0)
{
	double xs[STOI_BANDS * STOI_SEG], ys[STOI_BANDS * STOI_SEG];
	double d = 0.0;
	size_t b, t;

	for (b = 0; b < STOI_BANDS; b++) {
		for (t = 0; t < STOI_SEG; t++) {
			xs[b * STOI_SEG + t] = X[b * nf + m0 + t];
			ys[b * STOI_SEG + t] = Y[b * nf + m0 + t];
		}
		normalise(xs + b * STOI_SEG, STOI_SEG, 1);
		normalise(ys + b * STOI_SEG, STOI_SEG, 1);
	}
	for (t = 0; t < STOI_SEG; t++) {
		normalise(xs + t, STOI_BANDS, STOI_SEG);
		normalise(ys + t, STOI_BANDS, STOI_SEG);
		for (b = 0; b < STOI_BANDS; b++)
			d += xs[b * STOI_SEG + t] * ys[b * STOI_SEG + t];
	}
	return d / STOI_SEG;
}

static double stoi_segment(const double *X, const double *Y, size_t nf,
			   size_t m0)
{
	const double clip = pow(10.0, -STOI_BETA_DB / 20.0);
	double d = 0.0;
	size_t b, t;

	for (b = 0; b < STOI_BANDS; b++) {
		const double *xr = X + b * nf + m0, *yr = Y + b * nf + m0;
		double xv[STOI_SEG], yv[STOI_SEG], ex = 0.0, ey = 0.0, a;

		for (t = 0; t < STOI_SEG; t++) {
			ex += xr[t] * xr[t];
			ey += yr[t] * yr[t];
		}
		a = ey > 0.0 ? sqrt(ex / ey) : 0.0;
		for (t = 0; t < STOI_SEG; t++) {
			double yp = a * yr[t], lim = xr[t] * (1.0 + clip);

			xv[t] = xr[t];
			yv[t] = yp < lim ? yp : lim;
		}
		normalise(xv, STOI_SEG, 1);
		normalise(yv, STOI_SEG, 1);
		for (t = 0; t < STOI_SEG; t++)
			d += xv[t] * yv[t];
	}
	return d / STOI_BANDS;
}

static int stoi_any(const float *ref, const float *deg, size_t n,
		    uint32_t srate_hz, bool extended, float *score)
{
	double *x = NULL, *y = NULL, *X = NULL, *Y = NULL, w[STOI_FRAME];
	double sum = 0.0;
	size_t xn = 0, yn = 0, len, nf, m;
	int err;

	if (!ref || !deg || !score || srate_hz < 4000 || srate_hz > 192000)
		return EINVAL;

	err = resample_10k(ref, n, srate_hz, &x, &xn);
	if (err)
		goto out;
	err = resample_10k(deg, n, srate_hz, &y, &yn);
	if (err)
		goto out;

	hann(w, STOI_FRAME);
	len = remove_silent(x, y, xn < yn ? xn : yn, w);
	if (len == (size_t)-1) {
		err = ENOMEM;
		goto out;
	}
	nf = frame_count(len);
	if (nf < STOI_SEG) {
		err = ERANGE;
		goto out;
	}

	X = malloc(STOI_BANDS * nf * sizeof(*X));
	Y = malloc(STOI_BANDS * nf * sizeof(*Y));
	if (!X || !Y) {
		err = ENOMEM;
		goto out;
	}
	err = band_envelopes(x, y, w, X, Y, nf);
	if (err)
		goto out;

	for (m = 0; m + STOI_SEG <= nf; m++)
		sum += extended ? estoi_segment(X, Y, nf, m) :
			stoi_segment(X, Y, nf, m);
	*score = (float)(sum / (double)(nf - STOI_SEG + 1));

 out:
	free(x);
	free(y);
	free(X);
	free(Y);
	return err;
}

/**
 * ESTOI of deg against ref. See dsptest.h.
 *
 * @param ref       Clean reference, n samples
 * @param deg       Processed signal, n samples, aligned with ref
 * @param n         Samples in each
 * @param srate_hz  Sample rate of both, 4000..192000 Hz
 * @param score     Result, about -0.1..1.0
 *
 * @return 0, EINVAL, ENOMEM, or ERANGE (under 30 frames of speech)
 */
int dsp_estoi(const float *ref, const float *deg, size_t n,
	      uint32_t srate_hz, float *score)
{
	return stoi_any(ref, deg, n, srate_hz, true, score);
}

/**
 * STOI of deg against ref; arguments and returns as dsp_estoi().
 */
int dsp_stoi(const float *ref, const float *deg, size_t n,
	     uint32_t srate_hz, float *score)
{
	return stoi_any(ref, deg, n, srate_hz, false, score);
}

/* ---- segmental SNR, ERLE ------------------------------------------------ */

/**
 * Segmental SNR of deg against ref. See dsptest.h.
 *
 * @param ref            Reference
 * @param deg            Processed signal, aligned, same scale
 * @param n              Samples in each
 * @param frame_samples  Frame length (e.g. 320 for 20 ms at 16 kHz)
 * @param snr_db         Result in dB, -10..35
 *
 * @return 0, EINVAL, or ERANGE if no frame has reference energy
 */
int dsp_segsnr_db(const float *ref, const float *deg, size_t n,
		  size_t frame_samples, float *snr_db)
{
	size_t nf, f, i, used = 0;
	double emax = 0.0, sum = 0.0, gate;

	if (!ref || !deg || !snr_db || !frame_samples)
		return EINVAL;
	nf = n / frame_samples;

	for (f = 0; f < nf; f++) {
		const float *r = ref + f * frame_samples;
		double e = 0.0;

		for (i = 0; i < frame_samples; i++)
			e += (double)r[i] * r[i];
		emax = e > emax ? e : emax;
	}
	if (emax <= 0.0)
		return ERANGE;
	gate = emax * pow(10.0, -SEGSNR_RANGE_DB / 10.0);

	for (f = 0; f < nf; f++) {
		const float *r = ref + f * frame_samples;
		const float *d = deg + f * frame_samples;
		double e = 0.0, en = 0.0, snr;

		for (i = 0; i < frame_samples; i++) {
			double diff = (double)r[i] - d[i];

			e += (double)r[i] * r[i];
			en += diff * diff;
		}
		if (e < gate)
			continue;
		snr = en > 0.0 ? 10.0 * log10(e / en) : SEGSNR_MAX_DB;
		snr = snr < SEGSNR_MIN_DB ? SEGSNR_MIN_DB : snr;
		snr = snr > SEGSNR_MAX_DB ? SEGSNR_MAX_DB : snr;
		sum += snr;
		++used;
	}

	*snr_db = (float)(sum / (double)used);
	return 0;
}

/**
 * ERLE of an echo canceller. See dsptest.h.
 *
 * @param mic            Canceller input (echo + near end)
 * @param out            Canceller output, aligned, same scale
 * @param n              Samples in each
 * @param frame_samples  Frame length
 * @param min_mic_dbfs   Count only frames where mic is this loud or more
 * @param erle_db        Result in dB, at most 120
 *
 * @return 0, EINVAL, or ERANGE if no frame qualifies
 */
int dsp_erle_db(const float *mic, const float *out, size_t n,
		size_t frame_samples, float min_mic_dbfs, float *erle_db)
{
	double gate, emic = 0.0, eout = 0.0, db;
	size_t nf, f, i, used = 0;

	if (!mic || !out || !erle_db || !frame_samples || isnan(min_mic_dbfs))
		return EINVAL;

	/* frame gate as a mean square in int16 units: 0 dBFS = 32767^2 */
	gate = 32767.0 * 32767.0 * pow(10.0, min_mic_dbfs / 10.0);
	nf = n / frame_samples;

	for (f = 0; f < nf; f++) {
		const float *m = mic + f * frame_samples;
		const float *o = out + f * frame_samples;
		double em = 0.0, eo = 0.0;

		for (i = 0; i < frame_samples; i++) {
			em += (double)m[i] * m[i];
			eo += (double)o[i] * o[i];
		}
		if (em <= 0.0 || em / (double)frame_samples < gate)
			continue;
		emic += em;
		eout += eo;
		++used;
	}
	if (!used)
		return ERANGE;

	db = eout > 0.0 ? 10.0 * log10(emic / eout) : ERLE_MAX_DB;
	*erle_db = db > ERLE_MAX_DB ? ERLE_MAX_DB : (float)db;
	return 0;
}

/* ---- alignment and presence --------------------------------------------- */

struct xcorr {
	double *c;          /* c[k]: lag k (k >= 0) or k - size (k < 0) */
	size_t size;
	double *pr, *ps;    /* prefix sums of squares, n + 1 entries */
	double *r, *s;      /* mean-removed copies of ref and sig */
};

static void xcorr_free(struct xcorr *xc)
{
	free(xc->c);
	free(xc->pr);
	free(xc->ps);
	free(xc->r);
	free(xc->s);
}

static double *demean(const float *v, size_t n, double *prefix)
{
	double *d = malloc((n ? n : 1) * sizeof(*d)), mean = 0.0;
	size_t i;

	if (!d)
		return NULL;
	for (i = 0; i < n; i++)
		mean += v[i];
	mean = n ? mean / (double)n : 0.0;
	prefix[0] = 0.0;
	for (i = 0; i < n; i++) {
		d[i] = v[i] - mean;
		prefix[i + 1] = prefix[i] + d[i] * d[i];
	}
	return d;
}

/* Full linear cross-correlation sum_t s[t] r[t - lag] for every lag,
 * both signals in one complex FFT (r real part, s imaginary part). */
static int xcorr_run(struct xcorr *xc, const float *ref, size_t rn,
		     const float *sig, size_t sn)
{
	double *re = NULL, *im = NULL;
	struct dsp_fft *fft = NULL;
	size_t m, k;
	int err;

	memset(xc, 0, sizeof(*xc));
	xc->size = m = next_pow2(rn + sn);
	xc->pr = malloc((rn + 1) * sizeof(double));
	xc->ps = malloc((sn + 1) * sizeof(double));
	re = calloc(m, sizeof(*re));
	im = calloc(m, sizeof(*im));
	err = dsp_fft_alloc(&fft, m);
	if (err)
		goto out;
	if (!xc->pr || !xc->ps || !re || !im) {
		err = ENOMEM;
		goto out;
	}
	xc->r = demean(ref, rn, xc->pr);
	xc->s = demean(sig, sn, xc->ps);
	if (!xc->r || !xc->s) {
		err = ENOMEM;
		goto out;
	}
	memcpy(re, xc->r, rn * sizeof(*re));
	memcpy(im, xc->s, sn * sizeof(*im));
	dsp_fft_run_d(fft, re, im, false);

	/* S[k] conj(R[k]) from the packed spectrum Z = R + jS, computed
	 * for k and m - k together since each needs the other */
	for (k = 0; k <= m / 2; k++) {
		size_t j = (m - k) & (m - 1);
		double zr = re[k], zi = im[k], wr = re[j], wi = im[j];
		double rr = 0.5 * (zr + wr), ri = 0.5 * (zi - wi);
		double sr = 0.5 * (zi + wi), si = -0.5 * (zr - wr);
		/* at m - k: R' = conj R, S' = conj S */
		double pr_ = sr * rr + si * ri, pi_ = si * rr - sr * ri;

		re[k] = pr_;
		im[k] = pi_;
		if (j != k) {
			re[j] = pr_;
			im[j] = -pi_;
		}
	}
	dsp_fft_run_d(fft, re, im, true);
	for (k = 0; k < m; k++)
		re[k] /= (double)m;
	xc->c = re;
	re = NULL;

 out:
	free(re);
	free(im);
	dsp_fft_free(fft);
	if (err)
		xcorr_free(xc);
	return err;
}

/* Overlap of sig with ref shifted by lag: t in [*t0, *t1). */
static bool overlap(size_t rn, size_t sn, int64_t lag, size_t *t0,
		    size_t *t1)
{
	int64_t a = lag > 0 ? lag : 0;
	int64_t b = (int64_t)rn + lag;

	b = b < (int64_t)sn ? b : (int64_t)sn;
	if (b <= a)
		return false;
	*t0 = (size_t)a;
	*t1 = (size_t)b;
	return true;
}

static int best_lag(const struct xcorr *xc, size_t rn, size_t sn,
		    int32_t min_lag, int32_t max_lag, int32_t *lagp,
		    float *corrp)
{
	double best = -1.0, cbest = 0.0;
	int64_t lag, found = 0;
	bool any = false;

	for (lag = min_lag; lag <= max_lag; lag++) {
		size_t t0, t1, idx;
		double c;

		if (!overlap(rn, sn, lag, &t0, &t1))
			continue;
		idx = lag >= 0 ? (size_t)lag : xc->size - (size_t)(-lag);
		c = xc->c[idx];
		if (fabs(c) > best) {
			best = fabs(c);
			cbest = c;
			found = lag;
			any = true;
		}
	}
	if (!any)
		return EINVAL;

	if (corrp) {
		size_t t0 = 0, t1 = 0;
		double ex, ey;

		overlap(rn, sn, found, &t0, &t1);
		ey = xc->ps[t1] - xc->ps[t0];
		ex = xc->pr[(size_t)((int64_t)t1 - found)] -
			xc->pr[(size_t)((int64_t)t0 - found)];
		*corrp = ex > 0.0 && ey > 0.0 ?
			(float)(cbest / sqrt(ex * ey)) : 0.0f;
	}
	*lagp = (int32_t)found;
	return 0;
}

/**
 * Delay of sig against ref. See dsptest.h.
 *
 * @param ref      Reference signal
 * @param ref_n    Its length
 * @param sig      Signal that may hold a delayed, scaled copy of ref
 * @param sig_n    Its length
 * @param min_lag  Smallest lag to consider, samples (may be negative)
 * @param max_lag  Largest lag to consider, samples
 * @param lagp     Result: lag in samples
 * @param corrp    Result: normalised correlation at that lag, or NULL
 *
 * @return 0, EINVAL (bad arguments, or no lag in range overlaps) or
 *         ENOMEM
 */
int dsp_delay_estimate(const float *ref, size_t ref_n,
		       const float *sig, size_t sig_n,
		       int32_t min_lag, int32_t max_lag,
		       int32_t *lagp, float *corrp)
{
	struct xcorr xc;
	int err;

	if (!ref || !sig || !ref_n || !sig_n || !lagp || min_lag > max_lag)
		return EINVAL;

	err = xcorr_run(&xc, ref, ref_n, sig, sig_n);
	if (err)
		return err;
	err = best_lag(&xc, ref_n, sig_n, min_lag, max_lag, lagp, corrp);
	xcorr_free(&xc);
	return err;
}

/* Solve A h = p in place (h returned in p) for symmetric positive
 * definite A (n x n, row-major, destroyed) by Cholesky. */
static int cholesky_solve(double *A, double *p, size_t n)
{
	size_t i, j, k;

	for (j = 0; j < n; j++) {
		double d = A[j * n + j];

		for (k = 0; k < j; k++)
			d -= A[j * n + k] * A[j * n + k];
		if (d <= 0.0)
			return ERANGE;
		d = sqrt(d);
		A[j * n + j] = d;
		for (i = j + 1; i < n; i++) {
			double s = A[i * n + j];

			for (k = 0; k < j; k++)
				s -= A[i * n + k] * A[j * n + k];
			A[i * n + j] = s / d;
		}
	}
	for (i = 0; i < n; i++) {
		double s = p[i];

		for (k = 0; k < i; k++)
			s -= A[i * n + k] * p[k];
		p[i] = s / A[i * n + i];
	}
	for (i = n; i-- > 0;) {
		double s = p[i];

		for (k = i + 1; k < n; k++)
			s -= A[k * n + i] * p[k];
		p[i] = s / A[i * n + i];
	}
	return 0;
}

static double xcorr_at(const struct xcorr *xc, size_t rn, size_t sn,
		       int64_t lag)
{
	if (lag >= (int64_t)sn || -lag >= (int64_t)rn)
		return 0.0;
	return xc->c[lag >= 0 ? (size_t)lag : xc->size - (size_t)(-lag)];
}

/**
 * Share of y's energy explained by the aligned x. See dsptest.h.
 *
 * The FIR's centre is searched around the correlation peak (up to
 * PRESENCE_SHIFT samples either side), because the peak of a coloured
 * copy (a comb, a codec's phase, a pitch period) need not be its middle
 * tap; another centre must explain 0.1 % more to be taken.
 * Its cross-correlation vector comes from the FFT correlation, so each
 * candidate costs one small Cholesky solve, not a pass over the signal.
 *
 * @param x         Reference whose presence is measured
 * @param x_n       Its length
 * @param y         Signal to examine
 * @param y_n       Its length
 * @param min_lag   Smallest lag of y against x to consider, samples
 * @param max_lag   Largest lag
 * @param taps      FIR length of the fit, 1..127 (odd is symmetric)
 * @param share_db  Result: explained energy share, dB (<= 0)
 * @param lagp      Result: lag of the correlation peak, or NULL
 *
 * @return 0, EINVAL, ENOMEM, or ERANGE if y is silent over the overlap
 */
int dsp_presence_db(const float *x, size_t x_n, const float *y, size_t y_n,
		    int32_t min_lag, int32_t max_lag, uint32_t taps,
		    float *share_db, int32_t *lagp)
{
	struct xcorr xc;
	double *A = NULL, *A0 = NULL, *p = NULL, *h = NULL, *ac = NULL;
	double ey, best = 0.0, share, load;
	const int64_t c = taps / 2;
	int64_t shift;
	size_t t0 = 0, t1 = 0, i, j, k, k0, k1;
	int32_t lag;
	int err;

	if (!x || !y || !x_n || !y_n || !share_db || !taps ||
	    taps > PRESENCE_MAX_TAPS || min_lag > max_lag)
		return EINVAL;

	err = xcorr_run(&xc, x, x_n, y, y_n);
	if (err)
		return err;
	err = best_lag(&xc, x_n, y_n, min_lag, max_lag, &lag, NULL);
	if (err)
		goto out;
	overlap(x_n, y_n, lag, &t0, &t1);
	ey = xc.ps[t1] - xc.ps[t0];
	if (!(ey > 0.0)) {
		err = ERANGE;
		goto out;
	}

	A = malloc((size_t)taps * taps * sizeof(*A));
	A0 = malloc((size_t)taps * taps * sizeof(*A0));
	p = calloc(taps, sizeof(*p));
	h = malloc(taps * sizeof(*h));
	ac = calloc(taps, sizeof(*ac));
	if (!A || !A0 || !p || !h || !ac) {
		err = ENOMEM;
		goto out;
	}

	/* Autocorrelation of x over its part aligned with y, taken as
	 * Toeplitz (the edge terms it ignores are taps / length,
	 * negligible for seconds of audio). */
	k0 = (size_t)((int64_t)t0 - lag);
	k1 = (size_t)((int64_t)t1 - lag);
	for (j = 0; j < taps; j++) {
		double sum = 0.0;

		for (i = k0; i + j < k1; i++)
			sum += xc.r[i] * xc.r[i + j];
		ac[j] = sum;
	}
	if (!(ac[0] > 0.0)) {
		*share_db = -120.0f;
		goto lag_out;
	}
	/* diagonal loading keeps the solve stable for band-limited x
	 * (e.g. 8 kHz speech upsampled) without changing the fit */
	load = 1e-9 * ac[0] + 1e-30;
	for (i = 0; i < taps; i++) {
		for (j = 0; j < taps; j++)
			A0[i * taps + j] = ac[i > j ? i - j : j - i];
		A0[i * taps + i] += load;
	}

	/* the peak itself first: another centre must do clearly better,
	 * so that a plain delayed copy keeps its centre on the peak */
	shift = taps > 1 ? PRESENCE_SHIFT : 0;
	for (k = 0; k <= 2 * (size_t)shift + 1; k++) {
		const int64_t ctr = k ? lag - shift + (int64_t)k - 1 : lag;
		double expl = 0.0;

		if (k && ctr == lag)
			continue;
		if (ctr < min_lag || ctr > max_lag)
			continue;
		/* tap i is x delayed by ctr + i - c */
		for (i = 0; i < taps; i++)
			p[i] = xcorr_at(&xc, x_n, y_n, ctr + (int64_t)i - c);
		memcpy(A, A0, (size_t)taps * taps * sizeof(*A));
		memcpy(h, p, taps * sizeof(*h));
		err = cholesky_solve(A, h, taps);
		if (err)
			goto out;
		for (i = 0; i < taps; i++)
			expl += p[i] * h[i];
		if (!k || expl > best * (1.0 + 1e-3)) {
			best = expl;
		}
	}

	share = best / ey;
	share = share > 1.0 ? 1.0 : share;
	share = share < 1e-12 ? 1e-12 : share;
	*share_db = (float)(10.0 * log10(share));

 lag_out:
	if (lagp)
		*lagp = lag;
 out:
	free(A);
	free(A0);
	free(p);
	free(h);
	free(ac);
	xcorr_free(&xc);
	return err;
}

/* ---- convolution (simulated rooms) -------------------------------------- */

/**
 * FFT convolution, first n samples. See dsptest.h.
 *
 * @param x   Signal, n samples
 * @param n   Samples of x and y
 * @param h   Impulse response, hn taps
 * @param hn  Taps
 * @param y   Output, n samples (may not alias x)
 *
 * @return 0, EINVAL or ENOMEM
 */
int dsp_convolve(const float *x, size_t n, const float *h, size_t hn,
		 float *y)
{
	size_t m, i;
	double *xr, *xi, *hr, *hi;
	struct dsp_fft *fft = NULL;
	int err;

	if (!x || !h || !y || !n || !hn)
		return EINVAL;
	m = next_pow2(n + hn);
	xr = calloc(m, sizeof(*xr));
	xi = calloc(m, sizeof(*xi));
	hr = calloc(m, sizeof(*hr));
	hi = calloc(m, sizeof(*hi));
	err = dsp_fft_alloc(&fft, m);
	if (err)
		goto out;
	if (!xr || !xi || !hr || !hi) {
		err = ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		xr[i] = x[i];
	for (i = 0; i < hn; i++)
		hr[i] = h[i];
	dsp_fft_run_d(fft, xr, xi, false);
	dsp_fft_run_d(fft, hr, hi, false);
	for (i = 0; i < m; i++) {
		const double re = xr[i] * hr[i] - xi[i] * hi[i];

		xi[i] = xr[i] * hi[i] + xi[i] * hr[i];
		xr[i] = re;
	}
	dsp_fft_run_d(fft, xr, xi, true);
	for (i = 0; i < n; i++)
		y[i] = (float)(xr[i] / (double)m);
 out:
	free(xr);
	free(xi);
	free(hr);
	free(hi);
	dsp_fft_free(fft);
	return err;
}
