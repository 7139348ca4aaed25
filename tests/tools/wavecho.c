/**
 * @file wavecho.c  Does a recording hold an echo of a reference, later
 * than its direct path? And how loud is the recording in the
 * reference's long pauses?
 *
 * Usage: wavecho [-r RATE_HZ] [-l MINLAG_MS:MAXLAG_MS] [-d DIRECT_MS]
 *                [-e FROM_MS:TO_MS] [-v] RECORDING.wav REF.wav [MIC.wav]
 *
 * Method (double precision, mono signals resampled with SpeexDSP to
 * RATE_HZ, 8000 (default: the band where speech and the codecs agree
 * best) to 16000, and high-passed at about 100 Hz):
 *  1. Coarse alignment: the lag of the largest |cross-correlation| of
 *     the recording R and the reference X within MINLAG..MAXLAG
 *     (default -3000..3000 ms; positive: R lags X), by FFT.
 *  2. Impulse response from X to R (system identification, Welch):
 *     H = sum conj(X_k) R_k / sum |X_k|^2 over Hann-windowed segments
 *     of 2^16 samples (4.1 s at 16 kHz) with 75 % overlap, X shifted so
 *     that the coarse lag sits near the start; h = IFFT(H). Dividing by
 *     the reference's own spectrum whitens it: the slow autocorrelation
 *     of speech (pitch, syllables) does not leak from one lag to
 *     another, so an echo 100 ms or more after the direct path shows as
 *     its own energy at its own lags, and the rest of h is estimation
 *     noise (codec distortion, other talkers, noise in R).
 *  3. The direct path is the earliest tap within 6 dB of the largest,
 *     then the largest tap in the 20 ms after it. Energies of h:
 *       direct  within +-DIRECT_MS (default 30) of it: the gain from X
 *               to R, gain_db (0 dB: R holds X at its own level);
 *       echo    from FROM_MS to TO_MS after it (default 150..1200):
 *               echo_db = echo energy / direct energy (0 dB: an echo
 *               as strong as the direct path, as an echo path of unit
 *               power gain gives);
 *       floor   the mean energy per tap far from both (1.6 s after
 *               the direct path to the end of h), times the echo
 *               window's width, over the direct energy: what echo_db
 *               reads when there is no echo (the measure's own floor).
 *     echo_lag_ms is where the largest echo tap sits after the direct.
 *  4. Pauses: the frames (20 ms) of R at which X, shifted by the direct
 *     lag, has been digitally silent (below -70 dBFS) for the 1.5 s
 *     before and stays so for 0.3 s after, so that neither X nor an
 *     echo tail of it can be there; skipping R's first 0.5 s. Their RMS
 *     level on R as recorded (resampled, not high-passed) is
 *     pause_dbfs over pause_s seconds; lead_dbfs/lead_s are the same
 *     for the part before X's first sound; pause_max_dbfs is the
 *     loudest 200 ms of the pauses.
 *
 * Output, lines of key=value:
 *   mic=M mic_share_db= mic_lag_ms=     (with MIC.wav; lag after the
 *                                        direct path)
 *   rec=R ref=X direct_lag_ms= gain_db= echo_db= echo_lag_ms= floor_db=
 *   segments= pause_s= pause_dbfs= pause_max_dbfs= lead_s= lead_dbfs=
 * (-v adds h's energy profile in 50 ms bins around the direct path.)
 * Exit status: 0, or 1 on errors (unreadable file, too short).
 *
 * Threads: one. Not RT code: allocates freely.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sndfile.h>
#include <speex/speex_resampler.h>

#include "dsp.h"
#include "dsptest.h"

#define SEG_LOG2 16
#define SILENT_DBFS (-70.0)
#define FS2 (32767.0 * 32767.0)

struct sig {
	const char *name;
	double *v;      /* high-passed */
	double *raw;    /* not high-passed, for levels */
	size_t n;
};

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (!p) {
		fprintf(stderr, "wavecho: out of memory\n");
		exit(1);
	}
	return p;
}

/* Read a WAV, downmix to mono, resample to rate_hz, high-pass a copy. */
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
		fprintf(stderr, "wavecho: %s: %s\n", path, sf_strerror(NULL));
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
		mono[i] = (float)(acc / ch * 32767.0);
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
			fprintf(stderr, "wavecho: resampler: %d\n", err);
			free(mono);
			free(out);
			return EINVAL;
		}
		speex_resampler_skip_zeros(rs);
		inlen = (spx_uint32_t)frames;
		olen = (spx_uint32_t)outcap;
		speex_resampler_process_float(rs, 0, mono, &inlen, out,
					      &olen);
		outn = olen;
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

	a = exp(-2.0 * M_PI * 100.0 / rate_hz);
	s->v = xcalloc(outn, sizeof(double));
	s->raw = xcalloc(outn, sizeof(double));
	for (size_t i = 0; i < outn; i++) {
		double x = out[i];

		hp_y = a * hp_y + x - hp_x;
		hp_x = x;
		s->v[i] = hp_y;
		s->raw[i] = x;
	}
	s->n = outn;
	s->name = path;
	free(out);
	return 0;
}

static void sig_free(struct sig *s)
{
	free(s->v);
	free(s->raw);
}

/* A plan for n-point FFTs (dsp_fft_alloc), or exit. */
static struct dsp_fft *fft_plan(size_t n)
{
	struct dsp_fft *f;

	if (dsp_fft_alloc(&f, n)) {
		fprintf(stderr, "wavecho: out of memory\n");
		exit(1);
	}
	return f;
}

static inline double at(const double *v, size_t n, long t)
{
	return (t >= 0 && (size_t)t < n) ? v[t] : 0.0;
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

/*
 * Welch estimate of the impulse response from x to r: h[k] is the
 * response at lag s0 + k (r[t] = sum_k h[k] x[t - s0 - k]), k in
 * [0, N). Returns the number of segments used.
 */
static unsigned impulse_response(const struct sig *r, const struct sig *x,
				 long s0, double *h, size_t N)
{
	double *xr = xcalloc(N, sizeof(double)), *xi = xcalloc(N,
							       sizeof(double));
	double *yr = xcalloc(N, sizeof(double)), *yi = xcalloc(N,
							       sizeof(double));
	double *sr = xcalloc(N, sizeof(double)), *si = xcalloc(N,
							       sizeof(double));
	double *sxx = xcalloc(N, sizeof(double)), *w = xcalloc(N,
							      sizeof(double));
	struct dsp_fft *fft = fft_plan(N);
	double mean = 0, lam;
	size_t hop = N / 4, i;
	unsigned segs = 0;
	long ys;

	for (i = 0; i < N; i++)
		w[i] = 0.5 - 0.5 * cos(2 * M_PI * (double)i / (double)N);
	for (ys = -(long)(N / 2); ys + (long)(N / 4) < (long)r->n;
	     ys += (long)hop) {
		double ex = 0;

		for (i = 0; i < N; i++) {
			long t = ys + (long)i;

			xr[i] = w[i] * at(x->v, x->n, t - s0);
			yr[i] = w[i] * at(r->v, r->n, t);
			xi[i] = yi[i] = 0;
			ex += xr[i] * xr[i];
		}
		if (ex <= 0)
			continue;
		dsp_fft_run_d(fft, xr, xi, false);
		dsp_fft_run_d(fft, yr, yi, false);
		for (i = 0; i < N; i++) {
			sr[i] += xr[i] * yr[i] + xi[i] * yi[i];
			si[i] += xr[i] * yi[i] - xi[i] * yr[i];
			sxx[i] += xr[i] * xr[i] + xi[i] * xi[i];
		}
		segs++;
	}
	for (i = 0; i < N; i++)
		mean += sxx[i];
	mean /= (double)N;
	lam = 1e-3 * mean + 1e-30;
	for (i = 0; i < N; i++) {
		double d = sxx[i] + lam;

		yr[i] = sr[i] / d;
		yi[i] = si[i] / d;
	}
	dsp_fft_run_d(fft, yr, yi, true);
	for (i = 0; i < N; i++)
		h[i] = yr[i] / (double)N;
	dsp_fft_free(fft);
	free(xr);
	free(xi);
	free(yr);
	free(yi);
	free(sr);
	free(si);
	free(sxx);
	free(w);
	return segs;
}

static double esum(const double *h, size_t N, long k0, long k1)
{
	double e = 0;

	for (long k = k0 < 0 ? 0 : k0; k < k1 && k < (long)N; k++)
		e += h[k] * h[k];
	return e;
}

/* Earliest tap within 6 dB of the largest in [0, lim), refined to the
 * largest tap of the 20 ms after it. */
static long direct_tap(const double *h, long lim, unsigned rate)
{
	double best = 0;
	long k, kd = 0, end;

	for (k = 0; k < lim; k++)
		if (fabs(h[k]) > best)
			best = fabs(h[k]);
	for (k = 0; k < lim; k++)
		if (fabs(h[k]) >= 0.5 * best)
			break;
	kd = k;
	end = k + (long)(rate / 50);
	for (; k < end && k < lim; k++)
		if (fabs(h[k]) > fabs(h[kd]))
			kd = k;
	return kd;
}

static double db(double v)
{
	return v > 0 ? 10 * log10(v) : -120.0;
}

struct pauses {
	double e, lead_e, max_db;
	size_t n, lead_n;
};

/* Level of r where x (shifted by lag samples) is in a long pause. */
static void pause_levels(const struct sig *r, const struct sig *x,
			 long lag, unsigned rate, struct pauses *p)
{
	const long fr = (long)rate / 50;
	const long nf_x = (long)x->n / fr + 1;
	const long before = (long)(1.5 * rate) / fr, after = (long)(0.3 *
								    rate) / fr;
	const long win = 10;                   /* 200 ms */
	char *silent = xcalloc((size_t)nf_x, 1);
	long first = -1, f, t, i;
	double run_e = 0;
	long run_n = 0;

	memset(p, 0, sizeof(*p));
	p->max_db = -120;
	for (f = 0; f < nf_x; f++) {
		double e = 0;

		for (i = 0; i < fr; i++)
			e += at(x->raw, x->n, f * fr + i) *
				at(x->raw, x->n, f * fr + i);
		silent[f] = db(e / (double)fr / FS2) < SILENT_DBFS;
		if (!silent[f] && first < 0)
			first = f;
	}
	for (t = rate / 2; t + fr <= (long)r->n; t += fr) {
		long fx = (long)floor((double)(t - lag) / (double)fr);
		bool quiet = true;
		double e = 0;

		for (f = fx - before; f <= fx + after && quiet; f++)
			if (f >= 0 && f < nf_x && !silent[f])
				quiet = false;
		if (!quiet) {
			run_e = 0;
			run_n = 0;
			continue;
		}
		for (i = 0; i < fr; i++)
			e += r->raw[t + i] * r->raw[t + i];
		p->e += e;
		p->n += (size_t)fr;
		if (first >= 0 && fx < first) {
			p->lead_e += e;
			p->lead_n += (size_t)fr;
		}
		/* loudest 200 ms: a running window of consecutive frames */
		run_e += e;
		if (++run_n > win) {
			double o = 0;

			for (i = 0; i < fr; i++)
				o += r->raw[t - win * fr + i] *
					r->raw[t - win * fr + i];
			run_e -= o;
			run_n = win;
		}
		if (run_n == win &&
		    db(run_e / (double)(win * fr) / FS2) > p->max_db)
			p->max_db = db(run_e / (double)(win * fr) / FS2);
	}
	free(silent);
}

/* Direct lag (samples, rec against ref) and the response h around it:
 * h[k] is the response at lag *s0p + k, the direct path at tap *kdp. */
static unsigned direct_path(const struct sig *rec, const struct sig *ref,
			    long lo, long hi, unsigned rate, double *h,
			    size_t N, long *s0p, long *kdp)
{
	long l0, s0, kd;
	unsigned segs;

	l0 = global_lag(rec, ref, lo, hi);
	/* pass 1: the coarse peak 0.6 s in, in case it is an echo and the
	 * direct path comes earlier; pass 2: the direct path 0.1 s in */
	s0 = l0 - (long)(0.6 * rate);
	(void)impulse_response(rec, ref, s0, h, N);
	kd = direct_tap(h, (long)(1.2 * rate), rate);
	s0 += kd - (long)(0.1 * rate);
	segs = impulse_response(rec, ref, s0, h, N);
	kd = direct_tap(h, (long)(0.3 * rate), rate);
	*s0p = s0;
	*kdp = kd;
	return segs;
}

/*
 * The microphone recording m of the echoing site (echosite --mic-rec)
 * holds the echo as that site sent it. If rec holds that echo, rec[t]
 * ~ m[t - Le] with Le a return path, 0..1 s; m's own direct-path copy
 * of ref lines up with rec's direct path at Le0 = L1 - L2 (L1, L2: the
 * direct lags of ref in rec and in m), R = Le - Le0 later than that
 * (the whole echo path, 100 ms or more). So the presence of m in rec
 * within lags Le0 + [from, to] is the echo, and the lags near Le0 are
 * left out. dsp_presence_db with 33 taps absorbs codec phase.
 */
static int mic_presence(const struct sig *rec, const struct sig *ref,
			const char *path, long l1, unsigned rate, size_t N,
			double e0_ms, double e1_ms, float *share,
			double *lag_ms)
{
	struct sig m;
	double *h = xcalloc(N, sizeof(double));
	float *mf, *rf;
	long s0, kd, le0;
	int32_t lag = 0;
	int err;

	if (load(&m, path, rate)) {
		free(h);
		return EIO;
	}
	(void)direct_path(&m, ref, -(long)(10 * rate), (long)(10 * rate),
			  rate, h, N, &s0, &kd);
	le0 = l1 - (s0 + kd);
	mf = xcalloc(m.n, sizeof(float));
	rf = xcalloc(rec->n, sizeof(float));
	for (size_t i = 0; i < m.n; i++)
		mf[i] = (float)m.v[i];
	for (size_t i = 0; i < rec->n; i++)
		rf[i] = (float)rec->v[i];
	err = dsp_presence_db(mf, m.n, rf, rec->n,
			      (int32_t)(le0 + (long)(e0_ms * rate / 1000)),
			      (int32_t)(le0 + (long)(e1_ms * rate / 1000)),
			      33, share, &lag);
	*lag_ms = (double)(lag - le0) * 1000 / rate;
	free(mf);
	free(rf);
	free(h);
	sig_free(&m);
	return err;
}

static void usage(void)
{
	fprintf(stderr, "usage: wavecho [-v] [-r RATE_HZ] "
		"[-l MINLAG_MS:MAXLAG_MS] [-d DIRECT_MS] [-e FROM_MS:TO_MS] "
		"RECORDING.wav REF.wav\n");
	exit(1);
}

int main(int argc, char **argv)
{
	unsigned rate = 8000, segs;
	double minlag_ms = -3000, maxlag_ms = 3000, dir_ms = 30;
	double e0_ms = 150, e1_ms = 1200;
	double ed, ee, ef, best;
	struct sig rec, ref;
	struct pauses p;
	size_t N = (size_t)1 << SEG_LOG2;
	long s0, kd, k, dw, ke0, ke1, kf0, kf1, ek = 0;
	double *h;
	const char *mic = NULL;
	int opt, verbose = 0;

	while ((opt = getopt(argc, argv, "vr:l:d:e:")) != -1) {
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
		case 'd':
			dir_ms = atof(optarg);
			break;
		case 'e':
			if (sscanf(optarg, "%lf:%lf", &e0_ms, &e1_ms) != 2)
				usage();
			break;
		default:
			usage();
		}
	}
	if (argc - optind == 3)
		mic = argv[optind + 2];
	if (argc - optind < 2 || argc - optind > 3 || rate < 8000 ||
	    rate > 16000 || minlag_ms > maxlag_ms || dir_ms <= 0 ||
	    dir_ms >= e0_ms || e0_ms >= e1_ms || e1_ms > 1500)
		usage();
	if (rate < 16000)
		N >>= 1;
	if (load(&rec, argv[optind], rate))
		return 1;
	if (load(&ref, argv[optind + 1], rate)) {
		sig_free(&rec);
		return 1;
	}
	if (rec.n < rate || ref.n < rate) {
		fprintf(stderr, "wavecho: shorter than 1 s\n");
		sig_free(&rec);
		sig_free(&ref);
		return 1;
	}
	h = xcalloc(N, sizeof(double));
	segs = direct_path(&rec, &ref, (long)(minlag_ms * rate / 1000),
			   (long)(maxlag_ms * rate / 1000), rate, h, N, &s0,
			   &kd);

	dw = (long)(dir_ms * rate / 1000);
	ke0 = kd + (long)(e0_ms * rate / 1000);
	ke1 = kd + (long)(e1_ms * rate / 1000);
	kf0 = kd + (long)(1.6 * rate);
	kf1 = (long)N - (long)(0.05 * rate);
	ed = esum(h, N, kd - dw, kd + dw + 1);
	ee = esum(h, N, ke0, ke1);
	ef = esum(h, N, kf0, kf1) / (double)(kf1 - kf0) * (double)(ke1 - ke0);
	best = -1;
	for (k = ke0; k < ke1; k++) {
		if (fabs(h[k]) > best) {
			best = fabs(h[k]);
			ek = k;
		}
	}
	if (verbose) {
		long bin = (long)rate / 20;

		for (k = kd - 2 * bin; k < ke1 + 4 * bin; k += bin)
			printf("h t_ms=%+.0f energy_db=%.1f\n",
			       (double)(k - kd) * 1000 / rate,
			       db(esum(h, N, k, k + bin) / (ed > 0 ? ed : 1)));
	}
	pause_levels(&rec, &ref, s0 + kd, rate, &p);
	if (mic) {
		float share = -120;
		double lag_ms = 0;
		int err = mic_presence(&rec, &ref, mic, s0 + kd, rate, N,
				       e0_ms, e1_ms, &share, &lag_ms);

		if (err && err != ERANGE) {
			fprintf(stderr, "wavecho: %s: %s\n", mic,
				strerror(err));
			return 1;
		}
		printf("mic=%s mic_share_db=%.1f mic_lag_ms=%.1f\n", mic,
		       err ? -120.0 : (double)share, lag_ms);
	}
	printf("rec=%s ref=%s direct_lag_ms=%.1f gain_db=%.1f echo_db=%.1f "
	       "echo_lag_ms=%.1f floor_db=%.1f segments=%u pause_s=%.2f "
	       "pause_dbfs=%.1f pause_max_dbfs=%.1f lead_s=%.2f "
	       "lead_dbfs=%.1f\n", rec.name, ref.name,
	       (double)(s0 + kd) * 1000 / rate, db(ed), db(ee) - db(ed),
	       (double)(ek - kd) * 1000 / rate, db(ef) - db(ed), segs,
	       (double)p.n / rate, p.n ? db(p.e / (double)p.n / FS2) : -120,
	       p.max_db, (double)p.lead_n / rate,
	       p.lead_n ? db(p.lead_e / (double)p.lead_n / FS2) : -120);
	free(h);
	sig_free(&rec);
	sig_free(&ref);
	return 0;
}
