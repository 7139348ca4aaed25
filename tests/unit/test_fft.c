/**
 * @file test_fft.c  dsp/fft.c: the complex FFT in float and double,
 * against its definition (a naive DFT in long double).
 *
 * Errors are relative RMS over the whole spectrum: |X - X_ref| / |X_ref|.
 * A radix-2 FFT with exact twiddles stays within a few ulps times
 * log2(n): about 1e-7 in float and 1e-16 in double for the sizes here,
 * so the limits (1e-5 and 1e-12) leave room for any compiler.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lbtest.h"
#include "dsp.h"

#define MAX_LOG2 10              /* naive DFT up to 1024 points */
#define MAX_N (1u << MAX_LOG2)
#define BIG_N (1u << 16)         /* round trip only */
#define PI_L 3.141592653589793238462643383279502884L

static float fre[BIG_N], fim[BIG_N];
static double dre[BIG_N], dim[BIG_N];
static double xre[BIG_N], xim[BIG_N];
static long double ref_re[MAX_N], ref_im[MAX_N];

/* Small seeded generator of its own, uniform in [-1, 1). */
static double uniform(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(*s >> 11) / 4503599627370496.0 - 1.0;
}

static void naive_dft(const double *re, const double *im, size_t n)
{
	size_t k, t;

	for (k = 0; k < n; k++) {
		long double sr = 0.0L, si = 0.0L;

		for (t = 0; t < n; t++) {
			/* k t mod n keeps the angle small and exact */
			const long double a = -2.0L * PI_L *
				(long double)((k * t) % n) / (long double)n;
			const long double c = cosl(a), s = sinl(a);

			sr += re[t] * c - im[t] * s;
			si += re[t] * s + im[t] * c;
		}
		ref_re[k] = sr;
		ref_im[k] = si;
	}
}

/* Relative RMS error of a spectrum against ref_re/ref_im. */
static double err_f(const float *re, const float *im, size_t n)
{
	long double e = 0.0L, r = 0.0L;
	size_t k;

	for (k = 0; k < n; k++) {
		const long double dr = re[k] - ref_re[k];
		const long double di = im[k] - ref_im[k];

		e += dr * dr + di * di;
		r += ref_re[k] * ref_re[k] + ref_im[k] * ref_im[k];
	}
	return r > 0.0L ? (double)sqrtl(e / r) : (double)sqrtl(e);
}

static double err_d(const double *re, const double *im, size_t n)
{
	long double e = 0.0L, r = 0.0L;
	size_t k;

	for (k = 0; k < n; k++) {
		const long double dr = re[k] - ref_re[k];
		const long double di = im[k] - ref_im[k];

		e += dr * dr + di * di;
		r += ref_re[k] * ref_re[k] + ref_im[k] * ref_im[k];
	}
	return r > 0.0L ? (double)sqrtl(e / r) : (double)sqrtl(e);
}

/* Load x into the float and double work arrays and run both forward. */
static void run_both(const struct dsp_fft *f, size_t n, bool inverse)
{
	size_t i;

	for (i = 0; i < n; i++) {
		fre[i] = (float)xre[i];
		fim[i] = (float)xim[i];
		dre[i] = xre[i];
		dim[i] = xim[i];
	}
	dsp_fft_run(f, fre, fim, inverse);
	dsp_fft_run_d(f, dre, dim, inverse);
}

static void test_args(void **state)
{
	struct dsp_fft *f = NULL;
	(void)state;

	assert_int_equal(dsp_fft_alloc(NULL, 8), EINVAL);
	assert_int_equal(dsp_fft_alloc(&f, 0), EINVAL);
	assert_int_equal(dsp_fft_alloc(&f, 3), EINVAL);
	assert_int_equal(dsp_fft_alloc(&f, 1000), EINVAL);
	assert_null(f);
	assert_int_equal(dsp_fft_size(NULL), 0);
	dsp_fft_free(NULL);

	/* one point: the transform is the identity */
	assert_int_equal(dsp_fft_alloc(&f, 1), 0);
	assert_int_equal(dsp_fft_size(f), 1);
	fre[0] = 3.0f;
	fim[0] = -2.0f;
	dsp_fft_run(f, fre, fim, false);
	assert_true(fre[0] == 3.0f && fim[0] == -2.0f);
	dsp_fft_free(f);
}

/* An impulse at t0 has X[k] = exp(-2 pi j k t0 / n): a flat magnitude
 * and a linear phase. */
static void test_impulse(void **state)
{
	const size_t n = 256, t0v[] = { 0, 1, 37, 255 };
	struct dsp_fft *f;
	size_t i, k;
	(void)state;

	assert_int_equal(dsp_fft_alloc(&f, n), 0);
	for (i = 0; i < sizeof(t0v) / sizeof(t0v[0]); i++) {
		memset(xre, 0, n * sizeof(*xre));
		memset(xim, 0, n * sizeof(*xim));
		xre[t0v[i]] = 1.0;
		for (k = 0; k < n; k++) {
			const long double a = -2.0L * PI_L *
				(long double)((k * t0v[i]) % n) / n;

			ref_re[k] = cosl(a);
			ref_im[k] = sinl(a);
		}
		run_both(f, n, false);
		print_message("# impulse at %zu: error float %.2e double "
			      "%.2e\n", t0v[i], err_f(fre, fim, n),
			      err_d(dre, dim, n));
		LB_CHECK(err_f(fre, fim, n) < 1e-5, "float %.2e",
			 err_f(fre, fim, n));
		LB_CHECK(err_d(dre, dim, n) < 1e-12, "double %.2e",
			 err_d(dre, dim, n));
	}
	dsp_fft_free(f);
}

/* A cosine of k0 cycles per frame puts n/2 into bins k0 and n - k0 and
 * nothing elsewhere; a complex exponential, n into bin k0 only; the
 * inverse transform puts the exponential at -k0. */
static void test_sine_bin(void **state)
{
	const size_t n = 512, k0 = 19;
	struct dsp_fft *f;
	size_t t, k;
	(void)state;

	assert_int_equal(dsp_fft_alloc(&f, n), 0);
	for (t = 0; t < n; t++) {
		xre[t] = cos(2.0 * M_PI * (double)((k0 * t) % n) / n);
		xim[t] = 0.0;
	}
	memset(ref_re, 0, sizeof(ref_re));
	memset(ref_im, 0, sizeof(ref_im));
	ref_re[k0] = ref_re[n - k0] = n / 2.0L;
	run_both(f, n, false);
	assert_true(err_f(fre, fim, n) < 1e-5);
	assert_true(err_d(dre, dim, n) < 1e-12);
	for (k = 0; k < n; k++) {
		if (k == k0 || k == n - k0)
			continue;
		assert_true(fabs(dre[k]) + fabs(dim[k]) < 1e-9);
	}

	for (t = 0; t < n; t++) {
		const double a = 2.0 * M_PI * (double)((k0 * t) % n) / n;

		xre[t] = cos(a);
		xim[t] = sin(a);
	}
	memset(ref_re, 0, sizeof(ref_re));
	ref_re[k0] = n;
	run_both(f, n, false);
	assert_true(err_f(fre, fim, n) < 1e-5);
	assert_true(err_d(dre, dim, n) < 1e-12);
	ref_re[k0] = 0.0L;
	ref_re[n - k0] = n;
	run_both(f, n, true);
	assert_true(err_f(fre, fim, n) < 1e-5);
	assert_true(err_d(dre, dim, n) < 1e-12);
	dsp_fft_free(f);
}

/* Every size up to MAX_N: forward and inverse against the naive DFT of
 * seeded random complex input, then forward + inverse / n back to the
 * input; then the round trip alone on a long transform. */
static void test_against_dft(void **state)
{
	const uint32_t seed = lbtest_seed();
	uint64_t s = seed;
	struct dsp_fft *f;
	double worst_f = 0.0, worst_d = 0.0, e;
	size_t n, i;
	(void)state;

	for (n = 1; n <= MAX_N; n <<= 1) {
		assert_int_equal(dsp_fft_alloc(&f, n), 0);
		for (i = 0; i < n; i++) {
			xre[i] = uniform(&s);
			xim[i] = uniform(&s);
		}

		/* forward */
		naive_dft(xre, xim, n);
		run_both(f, n, false);
		worst_f = fmax(worst_f, err_f(fre, fim, n));
		worst_d = fmax(worst_d, err_d(dre, dim, n));

		/* round trip: inverse of the forward result, / n */
		dsp_fft_run(f, fre, fim, true);
		dsp_fft_run_d(f, dre, dim, true);
		for (i = 0; i < n; i++) {
			ref_re[i] = xre[i] * (long double)n;
			ref_im[i] = xim[i] * (long double)n;
		}
		worst_f = fmax(worst_f, err_f(fre, fim, n));
		worst_d = fmax(worst_d, err_d(dre, dim, n));

		/* inverse against the DFT with the conjugate kernel: the
		 * conjugate of the forward DFT of the conjugate input */
		for (i = 0; i < n; i++)
			xim[i] = -xim[i];
		naive_dft(xre, xim, n);
		for (i = 0; i < n; i++) {
			xim[i] = -xim[i];
			ref_im[i] = -ref_im[i];
		}
		run_both(f, n, true);
		worst_f = fmax(worst_f, err_f(fre, fim, n));
		worst_d = fmax(worst_d, err_d(dre, dim, n));
		dsp_fft_free(f);
	}
	print_message("# sizes 1..%u: worst error float %.2e double %.2e\n",
		      MAX_N, worst_f, worst_d);
	LB_CHECK(worst_f < 1e-5, "float %.2e", worst_f);
	LB_CHECK(worst_d < 1e-12, "double %.2e", worst_d);

	/* long round trip, double only (the measures' use) */
	assert_int_equal(dsp_fft_alloc(&f, BIG_N), 0);
	for (i = 0; i < BIG_N; i++) {
		dre[i] = xre[i] = uniform(&s);
		dim[i] = xim[i] = uniform(&s);
	}
	dsp_fft_run_d(f, dre, dim, false);
	dsp_fft_run_d(f, dre, dim, true);
	e = 0.0;
	for (i = 0; i < BIG_N; i++)
		e = fmax(e, fabs(dre[i] / BIG_N - xre[i]) +
			 fabs(dim[i] / BIG_N - xim[i]));
	print_message("# %u points: round trip max error %.2e\n", BIG_N, e);
	LB_CHECK(e < 1e-12, "round trip %.2e", e);
	dsp_fft_free(f);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_args),
	cmocka_unit_test(test_impulse),
	cmocka_unit_test(test_sine_bin),
	cmocka_unit_test(test_against_dft),
};

LBTEST_GROUP(fft, tests)
