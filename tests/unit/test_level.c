/**
 * @file test_level.c  dsp/level.c: RMS and peak meters in dBFS.
 *
 * Reference signals with known levels (square, sine, one LSB), plus
 * seeded random blocks checked against a double-precision computation.
 */
#include <math.h>
#include <string.h>
#include "lbtest.h"
#include "dsp.h"
#include "dsptest.h"

#define N 320

#define CHECK_NEAR(got, want, tol)					\
	LB_CHECK(fabs((double)(got) - (double)(want)) <= (tol),		\
		 "%s = %.4f, want %.4f +- %.4f", #got, (double)(got),	\
		 (double)(want), (double)(tol))

static void test_silence(void **state)
{
	int16_t z[N];

	(void)state;
	memset(z, 0, sizeof(z));
	assert_true(dsp_rms_dbfs(z, N) == DSP_SILENCE_DBFS);
	assert_true(dsp_peak_dbfs(z, N) == DSP_SILENCE_DBFS);
	assert_true(dsp_rms_dbfs(NULL, N) == DSP_SILENCE_DBFS);
	assert_true(dsp_rms_dbfs(z, 0) == DSP_SILENCE_DBFS);
	assert_true(dsp_peak_dbfs(NULL, 0) == DSP_SILENCE_DBFS);
}

static void test_full_scale(void **state)
{
	int16_t sq[N], sn[N], mn[N];
	size_t i;

	(void)state;
	/* 0 dBFS is a full-scale square wave */
	for (i = 0; i < N; i++)
		sq[i] = (i / 20) % 2 ? 32767 : -32767;
	CHECK_NEAR(dsp_rms_dbfs(sq, N), 0.0, 0.001);
	CHECK_NEAR(dsp_peak_dbfs(sq, N), 0.0, 0.001);

	/* a full-scale 400 Hz sine (whole periods) reads -3.01 dB RMS */
	for (i = 0; i < N; i++)
		sn[i] = (int16_t)lrint(32767.0 * sin(2.0 * M_PI * 400.0 *
						     (double)i / 16000.0));
	CHECK_NEAR(dsp_rms_dbfs(sn, N), -3.0103, 0.01);
	CHECK_NEAR(dsp_peak_dbfs(sn, N), 0.0, 0.001);

	/* -32768 is the one sample above 32767: no overflow, +0.0003 */
	for (i = 0; i < N; i++)
		mn[i] = -32768;
	CHECK_NEAR(dsp_peak_dbfs(mn, N), 20.0 * log10(32768.0 / 32767.0),
		   1e-4);
	CHECK_NEAR(dsp_rms_dbfs(mn, N), 20.0 * log10(32768.0 / 32767.0),
		   1e-4);
}

static void test_known_levels(void **state)
{
	int16_t s[N];
	size_t i;

	(void)state;
	/* -20 dBFS sine */
	for (i = 0; i < N; i++)
		s[i] = (int16_t)lrint(3276.7 * sin(2.0 * M_PI * 1000.0 *
						   (double)i / 16000.0));
	CHECK_NEAR(dsp_rms_dbfs(s, N), -23.0103, 0.02);
	CHECK_NEAR(dsp_peak_dbfs(s, N), -20.0, 0.01);

	/* a single LSB in a 20 ms frame: far below the clamp at -120 */
	memset(s, 0, sizeof(s));
	s[100] = 1;
	CHECK_NEAR(dsp_rms_dbfs(s, N),
		   20.0 * log10(sqrt(1.0 / N) / 32767.0), 0.01);
	CHECK_NEAR(dsp_peak_dbfs(s, N), 20.0 * log10(1.0 / 32767.0),
		   0.01);
}

static void test_random_blocks(void **state)
{
	const uint32_t seed = lbtest_seed();
	struct dsp_rng r;
	int16_t s[1000];
	int k;

	(void)state;
	dsp_rng_seed(&r, seed);
	for (k = 0; k < 200; k++) {
		size_t n = 1 + dsp_rng_u32(&r) % 1000, i;
		double amp = pow(10.0, -5.0 * dsp_rng_uniform(&r));
		double e = 0.0, pk = 0.0;

		for (i = 0; i < n; i++) {
			double v = 32767.0 * amp *
				(2.0 * dsp_rng_uniform(&r) - 1.0);

			s[i] = (int16_t)lrint(v);
			e += (double)s[i] * s[i];
			pk = fabs((double)s[i]) > pk ? fabs((double)s[i]) : pk;
		}
		if (e == 0.0)
			continue;
		CHECK_NEAR(dsp_rms_dbfs(s, n),
			   20.0 * log10(sqrt(e / (double)n) / 32767.0),
			   0.001);
		CHECK_NEAR(dsp_peak_dbfs(s, n), 20.0 * log10(pk / 32767.0),
			   0.001);
	}
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_silence),
	cmocka_unit_test(test_full_scale),
	cmocka_unit_test(test_known_levels),
	cmocka_unit_test(test_random_blocks),
};

LBTEST_GROUP(level, tests)
