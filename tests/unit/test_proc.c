/**
 * @file test_proc.c  dsp/proc.c: one site's chain.
 *
 * Seeded synthetic talk (dsp_synth_talk) and noise. Asserts: the delay
 * the chain reports is the delay it has (cross-correlation), with noise
 * suppression on or off; AGC brings talk entering at -45..-10 dBFS to
 * within 3 dB of its target in 3 s and does not move on noise alone;
 * noise suppression lowers a steady noise floor; an idle noisy site is
 * never called speech; settings change at run time without a jump in
 * time.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lbtest.h"
#include "dsp.h"
#include "dsptest.h"

#define SR 16000
#define FR 320
#define MAX_S 12

static float talk_v[SR * MAX_S], noise_v[SR * MAX_S];
static int16_t in_v[SR * MAX_S], out_v[SR * MAX_S];

static const struct dsp_proc_prm defprm = {
	.ns = true, .ns_db = -18, .agc = true, .agc_target_dbfs = -20,
	.agc_max_gain_db = 30, .aec = false,
};

static int16_t clip16(float v)
{
	return (int16_t)lrintf(v > 32767.0f ? 32767.0f :
			       v < -32768.0f ? -32768.0f : v);
}

static float dbfs_to_rms(float db)
{
	return 32767.0f * powf(10.0f, db / 20.0f);
}

/* talk at talk_db (0 = none) over noise at noise_db, n samples */
static void make_input(uint32_t seed, size_t n, float talk_db,
		       float noise_db)
{
	struct dsp_rng r;
	size_t i;

	dsp_rng_seed(&r, seed);
	dsp_synth_talk(talk_v, n, SR, &r);
	dsp_synth_noise(noise_v, n, SR, DSP_NOISE_PINK, &r);
	for (i = 0; i < n; i++)
		in_v[i] = clip16((talk_db ? dbfs_to_rms(talk_db) *
				  talk_v[i] : 0.0f) +
				 dbfs_to_rms(noise_db) * noise_v[i]);
}

static void run_chain(struct dsp_proc *p, size_t n, bool full)
{
	size_t i;

	memcpy(out_v, in_v, n * sizeof(int16_t));
	for (i = 0; i + FR <= n; i += FR)
		dsp_proc_process(p, out_v + i, true, full);
}

static void test_delay(void **state)
{
	static float a[SR * 4], b[SR * 4];
	struct dsp_proc_prm prm = defprm;
	struct dsp_proc_meters m;
	struct dsp_proc *p;
	const size_t n = SR * 4;
	int32_t lag;
	float corr;
	size_t i;
	int ns;

	(void)state;
	for (ns = 0; ns <= 1; ns++) {
		prm.ns = ns;
		prm.agc = false;
		assert_int_equal(dsp_proc_alloc(&p, &prm), 0);
		make_input(lbtest_seed() + 1, n, -20, -60);
		run_chain(p, n, true);
		dsp_proc_get_meters(p, &m);
		for (i = 0; i < n; i++) {
			a[i] = in_v[i];
			b[i] = out_v[i];
		}
		assert_int_equal(dsp_delay_estimate(a, n, b, n, -800, 800,
						    &lag, &corr), 0);
		print_message("# ns %d: reported %.1f ms, measured %.2f ms, "
			      "corr %.3f\n", ns, m.delay_ms,
			      lag * 1000.0 / SR, corr);
		assert_int_equal(lag, lrintf(m.delay_ms * SR / 1000.0f));
		assert_true(corr > 0.9f);
		dsp_proc_free(p);
	}
}

static void test_agc_levels(void **state)
{
	static const float levels[] = {-45, -35, -25, -10};
	struct dsp_proc_meters m;
	struct dsp_proc *p;
	const size_t n = SR * 6;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(levels) / sizeof(levels[0]); k++) {
		float db;

		assert_int_equal(dsp_proc_alloc(&p, &defprm), 0);
		/* noise 30 dB under the talk, as in a fair hall */
		make_input(lbtest_seed() + 10 + (uint32_t)k, n, levels[k],
			   levels[k] - 30);
		run_chain(p, n, true);
		dsp_proc_get_meters(p, &m);
		/* the level of the talk over its last 3 s */
		db = dsp_rms_dbfs(out_v + 3 * SR, 3 * SR);
		print_message("# talk at %.0f dBFS: out %.1f dBFS after "
			      "3-6 s, gain %.1f dB (target %.0f +-3)\n",
			      levels[k], db, m.agc_gain_db,
			      defprm.agc_target_dbfs);
		assert_true(fabsf(db - defprm.agc_target_dbfs) <= 3.0f);
		dsp_proc_free(p);
	}
}

static void test_idle_noise(void **state)
{
	static const enum dsp_noise kinds[] = {
		DSP_NOISE_PINK, DSP_NOISE_WHITE, DSP_NOISE_HUM};
	struct dsp_proc_meters m;
	struct dsp_proc *p;
	const size_t n = SR * 8;
	size_t k, i, speech = 0, frames = 0;

	(void)state;
	for (k = 0; k < 3; k++) {
		struct dsp_rng r;

		assert_int_equal(dsp_proc_alloc(&p, &defprm), 0);
		dsp_rng_seed(&r, lbtest_seed() + 20 + (uint32_t)k);
		dsp_synth_noise(noise_v, n, SR, kinds[k], &r);
		for (i = 0; i < n; i++)
			in_v[i] = clip16(dbfs_to_rms(-30) * noise_v[i]);
		memcpy(out_v, in_v, n * sizeof(int16_t));
		for (i = 0; i + FR <= n; i += FR) {
			dsp_proc_process(p, out_v + i, true, false);
			dsp_proc_get_meters(p, &m);
			if (i >= SR) {
				++frames;
				speech += m.speech;
			}
		}
		/* the gain never moved on noise alone */
		assert_true(fabsf(m.agc_gain_db) < 0.01f);
		dsp_proc_free(p);
	}
	print_message("# idle noisy site: %zu of %zu frames called "
		      "speech\n", speech, frames);
	assert_int_equal(speech, 0);
}

static void test_ns_floor(void **state)
{
	struct dsp_proc_prm prm = defprm;
	struct dsp_proc *p;
	const size_t n = SR * 6;
	float before, after;

	(void)state;
	prm.agc = false;
	assert_int_equal(dsp_proc_alloc(&p, &prm), 0);
	make_input(lbtest_seed() + 30, n, 0, -40);
	run_chain(p, n, true);
	before = dsp_rms_dbfs(in_v + 3 * SR, 3 * SR);
	after = dsp_rms_dbfs(out_v + 3 * SR, 3 * SR);
	print_message("# pink noise floor %.1f -> %.1f dBFS\n", before,
		      after);
	assert_true(after < before - 6.0f);
	dsp_proc_free(p);
}

static void test_toggle(void **state)
{
	struct dsp_proc_prm prm = defprm;
	struct dsp_proc *p;
	const size_t n = SR * 4;
	size_t i;
	float jump = 0.0f;

	(void)state;
	prm.agc = false;
	assert_int_equal(dsp_proc_alloc(&p, &prm), 0);
	make_input(lbtest_seed() + 40, n, -20, -70);
	memcpy(out_v, in_v, n * sizeof(int16_t));
	for (i = 0; i + FR <= n; i += FR) {
		/* toggle noise suppression every 0.5 s */
		if (i % (SR / 2) == 0) {
			prm.ns = !prm.ns;
			dsp_proc_configure(p, &prm);
		}
		dsp_proc_process(p, out_v + i, true, true);
	}
	/* the output stays the input delayed by 10 ms: no shift in time
	 * at the toggles (clean talk passes the suppressor nearly as is) */
	for (i = SR / 2; i < n - 160; i++) {
		float d = fabsf((float)out_v[i + 160] - (float)in_v[i]);

		jump = d > jump ? d : jump;
	}
	print_message("# largest in/out difference across toggles: %.0f "
		      "of %d\n", jump, 32767);
	assert_true(jump < 0.5f * dbfs_to_rms(-20) * 4.0f);
	dsp_proc_free(p);
}

static void test_bad_args(void **state)
{
	struct dsp_proc *p = NULL;

	(void)state;
	assert_int_equal(dsp_proc_alloc(NULL, &defprm), EINVAL);
	assert_int_equal(dsp_proc_alloc(&p, NULL), EINVAL);
	dsp_proc_process(NULL, NULL, true, true);
	dsp_proc_free(NULL);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_delay),
	cmocka_unit_test(test_agc_levels),
	cmocka_unit_test(test_idle_noise),
	cmocka_unit_test(test_ns_floor),
	cmocka_unit_test(test_toggle),
	cmocka_unit_test(test_bad_args),
};

LBTEST_GROUP(proc, tests)
