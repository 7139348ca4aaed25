/**
 * @file mix.c  Mixing kernels: float accumulation of int16 sources.
 *
 * The mixer builds one float sum of all talkers per frame and derives
 * each talker's mix-minus as sum - own (O(n) per listener whatever the
 * number of sites, house style 2.4.5). Float cannot wrap: 2^24 / 32768
 * means sums of up to 512 full-scale int16 sources at gain 1.0 are even
 * exact, so sum - own equals the sum of the others bit for bit. The
 * limiter turns the result back into int16.
 *
 * These are the plain C reference kernels. They are written in blocks of
 * eight so that gcc -O2 (whose "very cheap" vectoriser refuses loops with
 * an unknown trip count) still emits SIMD for the block body; any
 * hand-written SIMD version must be tested against these.
 *
 * Threads: any. RT-safe.
 */
#include "dsp.h"

#define BLK 8

void dsp_mix_add(float *acc, const int16_t *src, float gain, size_t n)
{
	size_t i = 0, j;

	if (!acc || !src)
		return;

	for (; i + BLK <= n; i += BLK) {
		for (j = 0; j < BLK; j++)
			acc[i + j] += gain * (float)src[i + j];
	}
	for (; i < n; i++)
		acc[i] += gain * (float)src[i];
}

void dsp_mix_minus(float *dst, const float *acc, const int16_t *own,
		   float gain, size_t n)
{
	size_t i = 0, j;

	if (!dst || !acc || !own)
		return;

	/* dst may be acc itself (in place): each block reads all of its
	 * inputs before it writes, so the compiler needs no alias check
	 * for the block and the in-place case stays correct. */
	for (; i + BLK <= n; i += BLK) {
		float t[BLK];

		for (j = 0; j < BLK; j++)
			t[j] = acc[i + j] - gain * (float)own[i + j];
		for (j = 0; j < BLK; j++)
			dst[i + j] = t[j];
	}
	for (; i < n; i++)
		dst[i] = acc[i] - gain * (float)own[i];
}

void dsp_s16_to_float(float *dst, const int16_t *src, size_t n)
{
	size_t i = 0, j;

	if (!dst || !src)
		return;
	for (; i + BLK <= n; i += BLK) {
		for (j = 0; j < BLK; j++)
			dst[i + j] = (float)src[i + j];
	}
	for (; i < n; i++)
		dst[i] = (float)src[i];
}
