/**
 * @file wavpresence.c  How much of each reference signal a recording holds.
 *
 * Usage: wavpresence [-v] [-r RATE_HZ] [-l MINLAG_MS:MAXLAG_MS] [-s SEG_MS]
 *                    [-w WIN_MS] RECORDING.wav REF1.wav [REF2.wav ...]
 * (-v also prints every segment: its start, and per reference the lag
 * and the share of the segment's energy.)
 *
 * Method (all in double precision, on mono signals resampled with SpeexDSP
 * to RATE_HZ, default 8000 so that PCMU and Opus sites compare alike, and
 * high-passed at about 100 Hz):
 *  1. Global alignment: for each reference X, the lag of the largest
 *     |cross-correlation| between recording R and X over MINLAG..MAXLAG
 *     (default -3000..3000 ms; positive means R lags X), computed with an
 *     FFT. Also printed: the normalised correlation at that lag over the
 *     overlap, corr = sum(r*x) / sqrt(sum(r^2) * sum(x^2)).
 *  2. Segment refinement: R is cut into segments of SEG_MS (default 1000);
 *     in each, every reference gets its own lag within +-WIN_MS (default
 *     100) of its global lag (jitter buffers and lost packets shift the
 *     timing during a call), then R is fitted by least squares as a sum
 *     of gains times the aligned references (a joint fit, so a mix of
 *     several references is split among them).
 *  3. share_db of a reference = 10*log10(energy of its fitted part summed
 *     over segments / energy of R). A mix of two equal talkers gives about
 *     -3 dB each; a reference that is absent gives the level of chance
 *     correlation (about -25 dB or less for 1 s segments of speech).
 *     resid_db is the unexplained energy over the energy of R.
 *
 * Output, one line per reference and a summary line, key=value:
 *   ref=NAME lag_ms=L corr=C share_db=S
 *   rec=NAME dur_s=D level_dbfs=V resid_db=E
 * Exit status: 0, or 1 on errors (unreadable file, empty recording).
 *
 * Threads: one. Not RT code: allocates freely.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sndfile.h>
#include <speex/speex_resampler.h>

#include "dsp.h"

#define MAX_REFS 8

struct sig {
	const char *name;
	double *v;
	size_t n;
};

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (!p) {
		fprintf(stderr, "wavpresence: out of memory\n");
		exit(1);
	}
	return p;
}

/* Read a WAV, downmix to mono, resample to rate_hz, high-pass. */
static int load(struct sig *s, const char *path, unsigned rate_hz)
{
	SF_INFO info;
	SNDFILE *sf;
	float *raw, *mono, *out;
	size_t frames, outcap, outn = 0;
	double hp_x = 0, hp_y = 0, a;
	int ch;

	memset(&info, 0, sizeof(info));
	sf = sf_open(path, SFM_READ, &info);
	if (!sf) {
		fprintf(stderr, "wavpresence: %s: %s\n", path,
			sf_strerror(NULL));
		return EIO;
	}
	ch = info.channels;
	frames = (size_t)info.frames;
	raw = xcalloc(frames * (size_t)ch, sizeof(float));
	frames = (size_t)sf_readf_float(sf, raw, (sf_count_t)frames);
	sf_close(sf);

	mono = xcalloc(frames, sizeof(float));
	for (size_t i = 0; i < frames; i++) {
		double acc = 0;

		for (int c = 0; c < ch; c++)
			acc += raw[i * (size_t)ch + (size_t)c];
		mono[i] = (float)(acc / ch * 32768.0);
	}
	free(raw);

	outcap = (size_t)((double)frames * rate_hz / info.samplerate) + 64;
	out = xcalloc(outcap, sizeof(float));
	if ((unsigned)info.samplerate == rate_hz) {
		memcpy(out, mono, frames * sizeof(float));
		outn = frames;
	}
	else {
		SpeexResamplerState *rs;
		spx_uint32_t inlen, olen;
		float zeros[512] = {0};
		int err;

		rs = speex_resampler_init(1, (spx_uint32_t)info.samplerate,
					  rate_hz, 8, &err);
		if (!rs) {
			fprintf(stderr, "wavpresence: resampler: %d\n", err);
			return EINVAL;
		}
		speex_resampler_skip_zeros(rs);
		inlen = (spx_uint32_t)frames;
		olen = (spx_uint32_t)outcap;
		speex_resampler_process_float(rs, 0, mono, &inlen, out,
					      &olen);
		outn = olen;
		/* flush the filter tail */
		inlen = (spx_uint32_t)speex_resampler_get_input_latency(rs);
		if (inlen > 512)
			inlen = 512;
		olen = (spx_uint32_t)(outcap - outn);
		speex_resampler_process_float(rs, 0, zeros, &inlen,
					      out + outn, &olen);
		outn += olen;
		speex_resampler_destroy(rs);
	}
	free(mono);

	/* first-order DC blocker, corner about 100 Hz */
	a = exp(-2.0 * M_PI * 100.0 / rate_hz);
	s->v = xcalloc(outn, sizeof(double));
	for (size_t i = 0; i < outn; i++) {
		double x = out[i];

		hp_y = a * hp_y + x - hp_x;
		hp_x = x;
		s->v[i] = hp_y;
	}
	s->n = outn;
	s->name = path;
	free(out);
	return 0;
}

/* A plan for n-point FFTs (dsp_fft_alloc), or exit. */
static struct dsp_fft *fft_plan(size_t n)
{
	struct dsp_fft *f;

	if (dsp_fft_alloc(&f, n)) {
		fprintf(stderr, "wavpresence: out of memory\n");
		exit(1);
	}
	return f;
}

/* x at index t, zero outside */
static inline double at(const struct sig *s, long t)
{
	return (t >= 0 && (size_t)t < s->n) ? s->v[t] : 0.0;
}

/* Lag (samples) in [lo, hi] with the largest |sum r[t] x[t-lag]|. */
static long global_lag(const struct sig *r, const struct sig *x, long lo,
		       long hi)
{
	struct dsp_fft *fft;
	size_t n = 1;
	double *ar, *ai, *br, *bi, best = -1;
	long k, bestk = 0;

	while (n < r->n + x->n + (size_t)labs(lo) + (size_t)labs(hi))
		n <<= 1;
	ar = xcalloc(n, sizeof(double));
	ai = xcalloc(n, sizeof(double));
	br = xcalloc(n, sizeof(double));
	bi = xcalloc(n, sizeof(double));
	fft = fft_plan(n);
	memcpy(ar, r->v, r->n * sizeof(double));
	memcpy(br, x->v, x->n * sizeof(double));
	dsp_fft_run_d(fft, ar, ai, false);
	dsp_fft_run_d(fft, br, bi, false);
	for (size_t i = 0; i < n; i++) {
		double re = ar[i] * br[i] + ai[i] * bi[i];
		double im = ai[i] * br[i] - ar[i] * bi[i];

		ar[i] = re;
		ai[i] = im;
	}
	dsp_fft_run_d(fft, ar, ai, true);
	dsp_fft_free(fft);
	for (k = lo; k <= hi; k++) {
		size_t idx = k >= 0 ? (size_t)k : n - (size_t)(-k);
		double c = fabs(ar[idx]);

		if (c > best) {
			best = c;
			bestk = k;
		}
	}
	free(ar);
	free(ai);
	free(br);
	free(bi);
	return bestk;
}

/* Normalised correlation of r[t] and x[t-lag] over t in [t0, t1). */
static double ncorr(const struct sig *r, const struct sig *x, long lag,
		    long t0, long t1, double *dot_out)
{
	double rr = 0, xx = 0, rx = 0;

	for (long t = t0; t < t1; t++) {
		double a = at(r, t), b = at(x, t - lag);

		rr += a * a;
		xx += b * b;
		rx += a * b;
	}
	if (dot_out)
		*dot_out = rx;
	if (rr <= 0 || xx <= 0)
		return 0;
	return rx / sqrt(rr * xx);
}

/* Solve the n x n system a g = b by Gaussian elimination (pivoting). */
static void solve(double a[MAX_REFS][MAX_REFS], double *b, double *g,
		  int n)
{
	for (int c = 0; c < n; c++) {
		int p = c;

		for (int i = c + 1; i < n; i++)
			if (fabs(a[i][c]) > fabs(a[p][c]))
				p = i;
		if (p != c) {
			for (int j = 0; j < n; j++) {
				double t = a[c][j];

				a[c][j] = a[p][j];
				a[p][j] = t;
			}
			double t = b[c];

			b[c] = b[p];
			b[p] = t;
		}
		if (a[c][c] == 0)
			continue;
		for (int i = c + 1; i < n; i++) {
			double f = a[i][c] / a[c][c];

			for (int j = c; j < n; j++)
				a[i][j] -= f * a[c][j];
			b[i] -= f * b[c];
		}
	}
	for (int c = n - 1; c >= 0; c--) {
		double acc = b[c];

		for (int j = c + 1; j < n; j++)
			acc -= a[c][j] * g[j];
		g[c] = a[c][c] != 0 ? acc / a[c][c] : 0;
	}
}

/* -v: one segment's figures */
static void print_segment(long s0, long s1, double rr, unsigned rate,
			  int nref, const long *lag, const double *g,
			  double gm[MAX_REFS][MAX_REFS])
{
	const double fs2 = 32768.0 * 32768.0;

	printf("seg t=%.2f level_dbfs=%.1f", (double)s0 / rate,
	       rr > 0 ? 10 * log10(rr / (double)(s1 - s0) / fs2) : -120);
	for (int i = 0; i < nref; i++) {
		double e = g[i] * g[i] * gm[i][i];

		printf(" [%d] lag_ms=%.1f share_db=%.1f", i + 1,
		       lag[i] * 1000.0 / rate,
		       rr > 0 && e > 0 ? 10 * log10(e / rr) : -120);
	}
	printf("\n");
}

static void usage(void)
{
	fprintf(stderr, "usage: wavpresence [-v] [-r RATE_HZ] "
		"[-l MINLAG_MS:MAXLAG_MS] [-s SEG_MS] [-w WIN_MS] "
		"RECORDING.wav REF.wav [REF.wav ...]\n");
	exit(1);
}

int main(int argc, char **argv)
{
	unsigned rate = 8000;
	double minlag_ms = -3000, maxlag_ms = 3000, seg_ms = 1000;
	double win_ms = 100;
	struct sig rec, refv[MAX_REFS];
	long glag[MAX_REFS], win, seg;
	double gcorr[MAX_REFS], comp_e[MAX_REFS] = {0};
	double rec_e = 0, resid_e = 0;
	int opt, nref, verbose = 0;

	while ((opt = getopt(argc, argv, "vr:l:s:w:")) != -1) {
		switch (opt) {
		case 'v':
			verbose = 1;
			break;
		case 'r':
			rate = (unsigned)atoi(optarg);
			break;
		case 'l':
			if (sscanf(optarg, "%lf:%lf", &minlag_ms,
				   &maxlag_ms) != 2)
				usage();
			break;
		case 's':
			seg_ms = atof(optarg);
			break;
		case 'w':
			win_ms = atof(optarg);
			break;
		default:
			usage();
		}
	}
	nref = argc - optind - 1;
	if (nref < 1 || nref > MAX_REFS || rate < 4000 || seg_ms < 100 ||
	    minlag_ms > maxlag_ms)
		usage();
	if (load(&rec, argv[optind], rate))
		return 1;
	if (rec.n < rate / 2) {
		fprintf(stderr, "wavpresence: %s: shorter than 0.5 s\n",
			rec.name);
		return 1;
	}
	for (int i = 0; i < nref; i++) {
		long lo = (long)(minlag_ms * rate / 1000);
		long hi = (long)(maxlag_ms * rate / 1000);
		long t0, t1;

		if (load(&refv[i], argv[optind + 1 + i], rate))
			return 1;
		glag[i] = global_lag(&rec, &refv[i], lo, hi);
		/* overlap of r[t] and x[t - lag] */
		t0 = glag[i] > 0 ? glag[i] : 0;
		t1 = (long)refv[i].n + glag[i];
		if (t1 > (long)rec.n)
			t1 = (long)rec.n;
		gcorr[i] = t1 > t0 ? fabs(ncorr(&rec, &refv[i], glag[i], t0,
						 t1, NULL)) : 0;
	}

	win = (long)(win_ms * rate / 1000);
	seg = (long)(seg_ms * rate / 1000);
	for (long s0 = 0; s0 + seg / 2 <= (long)rec.n; s0 += seg) {
		long s1 = s0 + seg < (long)rec.n ? s0 + seg : (long)rec.n;
		double gm[MAX_REFS][MAX_REFS], b[MAX_REFS], g[MAX_REFS];
		double rr = 0, tr = 0, fit;
		long lag[MAX_REFS];

		for (long t = s0; t < s1; t++)
			rr += rec.v[t] * rec.v[t];
		for (int i = 0; i < nref; i++) {
			double best = -1;

			lag[i] = glag[i];
			for (long d = glag[i] - win; d <= glag[i] + win; d++) {
				double dot;

				(void)ncorr(&rec, &refv[i], d, s0, s1, &dot);
				if (fabs(dot) > best) {
					best = fabs(dot);
					lag[i] = d;
				}
			}
		}
		for (int i = 0; i < nref; i++) {
			b[i] = 0;
			for (int j = 0; j < nref; j++)
				gm[i][j] = 0;
			for (long t = s0; t < s1; t++) {
				double xi = at(&refv[i], t - lag[i]);

				b[i] += rec.v[t] * xi;
				for (int j = i; j < nref; j++)
					gm[i][j] += xi *
						at(&refv[j], t - lag[j]);
			}
			for (int j = 0; j < i; j++)
				gm[i][j] = gm[j][i];
			tr += gm[i][i];
		}
		{
			double a[MAX_REFS][MAX_REFS], bb[MAX_REFS];

			for (int i = 0; i < nref; i++) {
				for (int j = 0; j < nref; j++)
					a[i][j] = gm[i][j];
				a[i][i] += 1e-6 * tr / nref + 1e-9;
				bb[i] = b[i];
			}
			solve(a, bb, g, nref);
		}
		fit = 0;
		for (int i = 0; i < nref; i++) {
			comp_e[i] += g[i] * g[i] * gm[i][i];
			fit += 2 * g[i] * b[i];
			for (int j = 0; j < nref; j++)
				fit -= g[i] * g[j] * gm[i][j];
		}
		rec_e += rr;
		resid_e += rr - fit > 0 ? rr - fit : 0;
		if (verbose)
			print_segment(s0, s1, rr, rate, nref, lag, g, gm);
	}

	for (int i = 0; i < nref; i++) {
		double share = rec_e > 0 && comp_e[i] > 0 ?
			10 * log10(comp_e[i] / rec_e) : -120;

		if (share < -120)
			share = -120;
		printf("ref=%s lag_ms=%.1f corr=%.3f share_db=%.1f\n",
		       refv[i].name, glag[i] * 1000.0 / rate, gcorr[i],
		       share);
	}
	{
		double lvl = rec_e > 0 ? 10 * log10(rec_e / rec.n /
					 (32768.0 * 32768.0)) : -120;
		double res = rec_e > 0 && resid_e > 0 ?
			10 * log10(resid_e / rec_e) : -120;

		printf("rec=%s dur_s=%.2f level_dbfs=%.1f resid_db=%.1f\n",
		       rec.name, (double)rec.n / rate, lvl, res);
	}
	/* freed so that the tool is leak-clean under ASan/valgrind */
	free(rec.v);
	for (int i = 0; i < nref; i++)
		free(refv[i].v);
	return 0;
}
