/**
 * @file fft.c  The one complex FFT of lowbridge, in float and in double.
 *
 * Method: in-place iterative radix-2 decimation in time. The input is
 * put in bit-reversed order, then log2(n) stages of butterflies run,
 * blocks outer and butterflies inner, so that each stage streams through
 * the arrays once (the other order strides through megabytes per twiddle
 * and runs ten times slower on the long transforms of the alignment
 * measures). Twiddles come from one table of n/2 cosines and n/2 sines
 * computed in double in dsp_fft_alloc() (stage len reads every n/len-th
 * entry), not from a recurrence, so the rounding error grows only as
 * log2(n) ulps of the sample type. The float table is the double one
 * rounded.
 *
 * Both precisions run the same body (FFT_DEFINE below): the echo
 * canceller's delay search needs float speed, the quality measures
 * double accuracy over transforms of millions of points.
 *
 * Threads: any; a plan is read-only after dsp_fft_alloc(), so one plan
 * may serve several threads at once. dsp_fft_run*() are RT-safe.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include "dsp.h"

#define PI_D 3.14159265358979323846

struct dsp_fft {
	size_t n;
	double *twd;             /* n/2 cos(-2 pi k/n), then n/2 sin */
	float *twf;              /* the same, rounded to float */
};

/**
 * Plan an n-point transform. See dsp.h. Not RT-safe.
 *
 * @param fftp  Where to store the plan
 * @param n     Points, a power of two >= 1
 *
 * @return 0, EINVAL or ENOMEM
 */
int dsp_fft_alloc(struct dsp_fft **fftp, size_t n)
{
	const size_t h = n / 2 ? n / 2 : 1;
	struct dsp_fft *f;
	size_t k;

	if (!fftp || !n || (n & (n - 1)) ||
	    h > (SIZE_MAX - sizeof(*f)) / (2 * (sizeof(double) +
						sizeof(float))))
		return EINVAL;

	/* one block: the struct, the double table, the float table */
	f = malloc(sizeof(*f) + 2 * h * (sizeof(double) + sizeof(float)));
	if (!f)
		return ENOMEM;
	f->n = n;
	f->twd = (double *)(f + 1);
	f->twf = (float *)(f->twd + 2 * h);
	for (k = 0; k < h; k++) {
		f->twd[k] = cos(-2.0 * PI_D * (double)k / (double)n);
		f->twd[h + k] = sin(-2.0 * PI_D * (double)k / (double)n);
	}
	for (k = 0; k < 2 * h; k++)
		f->twf[k] = (float)f->twd[k];
	*fftp = f;
	return 0;
}

/**
 * Free a plan (NULL is fine).
 *
 * @param fft  Plan
 */
void dsp_fft_free(struct dsp_fft *fft)
{
	free(fft);
}

/**
 * Points of a plan.
 *
 * @param fft  Plan
 *
 * @return n, or 0 for NULL
 */
size_t dsp_fft_size(const struct dsp_fft *fft)
{
	return fft ? fft->n : 0;
}

/*
 * FFT_DEFINE(name, real, tab) defines name(fft, re, im, inverse) over
 * arrays of real with the twiddle table fft->tab: the transform exactly
 * once in the source for both precisions. The butterfly keeps the
 * order of operations of the copies it replaced, so their results are
 * bit for bit what they were.
 */
#define FFT_DEFINE(name, real, tab)					\
void name(const struct dsp_fft *fft, real *re, real *im, bool inverse)	\
{									\
	const size_t n = fft->n, h = n / 2;				\
	const real *const tw = fft->tab;				\
	size_t i, j, len;						\
									\
	for (i = 1, j = 0; i < n; i++) {				\
		size_t bit = n >> 1;					\
									\
		for (; j & bit; bit >>= 1)				\
			j ^= bit;					\
		j ^= bit;						\
		if (i < j) {						\
			real t = re[i];					\
									\
			re[i] = re[j];					\
			re[j] = t;					\
			t = im[i];					\
			im[i] = im[j];					\
			im[j] = t;					\
		}							\
	}								\
	for (len = 2; len <= n; len <<= 1) {				\
		const size_t half = len >> 1, step = n / len;		\
		size_t b, k;						\
									\
		for (b = 0; b < n; b += len) {				\
			for (k = 0; k < half; k++) {			\
				const real wr = tw[k * step];		\
				const real wi = inverse ?		\
					-tw[h + k * step] :		\
					tw[h + k * step];		\
				const size_t p = b + k, q = p + half;	\
				const real tr = re[q] * wr - im[q] * wi; \
				const real ti = re[q] * wi + im[q] * wr; \
									\
				re[q] = re[p] - tr;			\
				im[q] = im[p] - ti;			\
				re[p] += tr;				\
				im[p] += ti;				\
			}						\
		}							\
	}								\
}

FFT_DEFINE(dsp_fft_run, float, twf)
FFT_DEFINE(dsp_fft_run_d, double, twd)
