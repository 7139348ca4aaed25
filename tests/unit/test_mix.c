/**
 * @file test_mix.c  dsp/mix.c: float mixing kernels.
 *
 * Saturating vectors (the PipeWire test-mix-ops idea): sums that would
 * wrap in int16 must not; mix-minus of N sites must equal the sum of the
 * others exactly (float is exact on integer sums below 2^24); odd
 * lengths and offsets exercise the block tails.
 */
#include <math.h>
#include <string.h>
#include "lbtest.h"
#include "dsp.h"
#include "dsptest.h"

#define MAXN 331

static void test_saturating_vectors(void **state)
{
	static const int16_t a[] = {0x7fff, 0x7fff, -0x8000, -0x8000,
				    0x4000, 0x7fff, -0x7fff, 0, 1, -1};
	static const int16_t b[] = {0x4000, 0x7fff, -0x8000, 0x7fff,
				    0x4000, -0x8000, -0x4000, 0, -1, -1};
	const size_t n = sizeof(a) / sizeof(a[0]);
	float acc[sizeof(a) / sizeof(a[0])], own[sizeof(a) / sizeof(a[0])];
	size_t i;

	(void)state;
	memset(acc, 0, sizeof(acc));
	dsp_mix_add(acc, a, 1.0f, n);
	dsp_mix_add(acc, b, 1.0f, n);
	for (i = 0; i < n; i++) {
		/* 0x7fff + 0x4000 = 49151: beyond int16, but no wrap */
		assert_true(acc[i] == (float)((int32_t)a[i] + b[i]));
	}
	dsp_mix_minus(own, acc, a, 1.0f, n);
	for (i = 0; i < n; i++)
		assert_true(own[i] == (float)b[i]);
	dsp_mix_minus(own, acc, b, 1.0f, n);
	for (i = 0; i < n; i++)
		assert_true(own[i] == (float)a[i]);
}

static void test_many_full_scale(void **state)
{
	/* 500 sites at -32768: -16384000, still exact in float */
	static float acc[MAXN];
	int16_t s[MAXN];
	size_t i;
	int k;

	(void)state;
	memset(acc, 0, sizeof(acc));
	for (i = 0; i < MAXN; i++)
		s[i] = -32768;
	for (k = 0; k < 500; k++)
		dsp_mix_add(acc, s, 1.0f, MAXN);
	for (i = 0; i < MAXN; i++)
		assert_true(acc[i] == -32768.0f * 500.0f);
}

static void test_mix_minus_exact(void **state)
{
	const uint32_t seed = lbtest_seed();
	static const size_t sites_v[] = {2, 3, 10, 200};
	static int16_t src[200][MAXN];
	static float acc[MAXN], dst[MAXN];
	struct dsp_rng r;
	size_t c;

	(void)state;
	dsp_rng_seed(&r, seed);
	for (c = 0; c < sizeof(sites_v) / sizeof(sites_v[0]); c++) {
		const size_t ns = sites_v[c];
		/* odd lengths cover the scalar tails of the 8-wide blocks */
		const size_t n = 1 + dsp_rng_u32(&r) % MAXN;
		size_t s, i, j;

		for (s = 0; s < ns; s++) {
			for (i = 0; i < n; i++) {
				/* a quarter at the rails, the rest random */
				uint32_t u = dsp_rng_u32(&r);

				src[s][i] = (u & 3) == 0 ? ((u & 4) ? 32767 :
							   -32768) :
					(int16_t)(u >> 16);
			}
		}
		memset(acc, 0, sizeof(acc));
		for (s = 0; s < ns; s++)
			dsp_mix_add(acc, src[s], 1.0f, n);

		for (s = 0; s < ns; s++) {
			dsp_mix_minus(dst, acc, src[s], 1.0f, n);
			for (i = 0; i < n; i++) {
				int64_t want = 0;

				for (j = 0; j < ns; j++) {
					if (j != s)
						want += src[j][i];
				}
				if (dst[i] == (float)want)
					continue;
				print_message("seed %u: %zu sites, n %zu: "
					      "site %zu sample %zu: %.1f != "
					      "%lld\n", seed, ns, n, s, i,
					      (double)dst[i],
					      (long long)want);
				fail();
			}
		}
	}
}

static void test_gain_and_in_place(void **state)
{
	const uint32_t seed = lbtest_seed();
	int16_t a[MAXN], b[MAXN];
	float acc[MAXN + 1], ref[MAXN];
	struct dsp_rng r;
	size_t i, off;

	(void)state;
	dsp_rng_seed(&r, seed ^ 0x5a5a);
	for (i = 0; i < MAXN; i++) {
		a[i] = (int16_t)(dsp_rng_u32(&r) >> 16);
		b[i] = (int16_t)(dsp_rng_u32(&r) >> 16);
	}
	/* unaligned start (off 1) and every tail length up to 17 */
	for (off = 0; off < 2; off++) {
		size_t n;

		for (n = 0; n < 18; n++) {
			float *p = acc + off;

			memset(acc, 0, sizeof(acc));
			dsp_mix_add(p, a, 0.5f, n);
			dsp_mix_add(p, b, 0.25f, n);
			for (i = 0; i < n; i++)
				ref[i] = 0.5f * a[i] + 0.25f * b[i];
			for (i = 0; i < n; i++)
				assert_true(p[i] == ref[i]);
			/* in place: dst == acc */
			dsp_mix_minus(p, p, a, 0.5f, n);
			for (i = 0; i < n; i++)
				assert_true(p[i] == 0.25f * b[i]);
		}
	}
	/* a non-power-of-two gain: within float rounding */
	memset(acc, 0, sizeof(acc));
	dsp_mix_add(acc, a, 0.3f, MAXN);
	for (i = 0; i < MAXN; i++)
		assert_true(fabsf(acc[i] - 0.3f * a[i]) <= 1e-3f);
}

static void test_s16_to_float(void **state)
{
	int16_t s[37];
	float f[37];
	size_t i;

	(void)state;
	for (i = 0; i < 37; i++)
		s[i] = (int16_t)(i & 1 ? -32768 + (int)i : 32767 - (int)i);
	dsp_s16_to_float(f, s, 37);
	for (i = 0; i < 37; i++)
		assert_true(f[i] == (float)s[i]);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_saturating_vectors),
	cmocka_unit_test(test_many_full_scale),
	cmocka_unit_test(test_mix_minus_exact),
	cmocka_unit_test(test_gain_and_in_place),
	cmocka_unit_test(test_s16_to_float),
};

LBTEST_GROUP(mix, tests)
