/**
 * @file test_limiter.c  dsp/limiter.c: look-ahead peak limiter.
 *
 * What the mixer relies on: output never beyond the ceiling whatever the
 * input (+12 dB talker sums, +-1e6, NaN); bit-exact pass-through (gain
 * 1.0, constant look-ahead delay) below the ceiling; gain changes small
 * per sample (no clicks), a release of tens of ms, low distortion on a
 * steady overload; copyable by assignment.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include "lbtest.h"
#include "dsp.h"
#include "dsptest.h"

#define SR 16000
#define FRAME 320

static int16_t out_buf[SR * 8];

/* Run in frames of 'frame' samples, as the mixer does. */
static void run(struct dsp_limiter *lim, const float *in, int16_t *out,
		size_t n, size_t frame)
{
	size_t i;

	for (i = 0; i < n; i += frame)
		dsp_limiter_process(lim, in + i, out + i,
				    n - i < frame ? n - i : frame);
}

static int peak_abs(const int16_t *s, size_t n)
{
	int m = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		int a = s[i] < 0 ? -s[i] : s[i];

		m = a > m ? a : m;
	}
	return m;
}

static void test_init(void **state)
{
	struct dsp_limiter lim;

	(void)state;
	assert_int_equal(dsp_limiter_init(NULL, SR, -1.0f), EINVAL);
	assert_int_equal(dsp_limiter_init(&lim, 0, -1.0f), EINVAL);
	assert_int_equal(dsp_limiter_init(&lim, 96000, -1.0f), EINVAL);
	assert_int_equal(dsp_limiter_init(&lim, SR, 1.0f), EINVAL);
	assert_int_equal(dsp_limiter_init(&lim, SR, NAN), EINVAL);

	assert_int_equal(dsp_limiter_init(&lim, 8000, -1.0f), 0);
	assert_int_equal(lim.lookahead, 8);
	assert_int_equal(dsp_limiter_init(&lim, 48000, -1.0f), 0);
	assert_int_equal(lim.lookahead, 48);
	assert_int_equal(dsp_limiter_init(&lim, SR, 0.0f), 0);
	assert_int_equal(lim.lookahead, 16);
	assert_true(lim.lookahead <= DSP_LIMITER_MAX_LOOKAHEAD);
	assert_true(fabsf(lim.ceiling - 32767.0f) < 0.01f);
	assert_true(lim.gain == 1.0f);
}

/* Below the ceiling: out[i + L] == in[i] exactly, gain stays 1.0. */
static void test_transparent(void **state)
{
	const uint32_t seed = lbtest_seed();
	static float in[SR * 2];
	struct dsp_limiter lim;
	struct dsp_rng r;
	size_t i, pos = 0, L;
	int lim_i;

	(void)state;
	assert_int_equal(dsp_limiter_init(&lim, SR, -1.0f), 0);
	L = lim.lookahead;
	lim_i = (int)floorf(lim.ceiling);
	dsp_rng_seed(&r, seed);
	for (i = 0; i < SR * 2; i++)
		in[i] = (float)((int)(dsp_rng_u32(&r) % (2u * lim_i + 1)) -
				lim_i);
	/* ragged block sizes, as after a packet-time change */
	while (pos < SR * 2) {
		size_t n = 1 + dsp_rng_u32(&r) % 700;

		n = n < SR * 2 - pos ? n : SR * 2 - pos;
		dsp_limiter_process(&lim, in + pos, out_buf + pos, n);
		pos += n;
	}
	for (i = 0; i < L; i++)
		assert_int_equal(out_buf[i], 0);
	for (i = L; i < SR * 2; i++)
		LB_CHECK(out_buf[i] == (int16_t)in[i - L],
			 "sample %zu: %d != %d", i, out_buf[i],
			 (int)in[i - L]);
	assert_true(lim.gain == 1.0f);
	assert_true(dsp_limiter_take_min_gain(&lim) == 1.0f);
}

/* Four talkers summed at +12 dB over full scale never pass the ceiling
 * and are not squashed to nothing either. */
static void test_four_talkers(void **state)
{
	const uint32_t seed = lbtest_seed();
	const size_t n = SR * 6;
	static float sum[SR * 6], talk[SR * 6];
	struct dsp_limiter lim;
	struct dsp_rng r;
	double pk = 0.0, ein = 0.0, eout = 0.0;
	float k, mg;
	size_t i;
	int t, p, lim_i;

	(void)state;
	dsp_rng_seed(&r, seed);
	memset(sum, 0, sizeof(sum));
	for (t = 0; t < 4; t++) {
		dsp_synth_talk(talk, n, SR, &r);
		for (i = 0; i < n; i++)
			sum[i] += talk[i];
	}
	for (i = 0; i < n; i++)
		pk = fabs(sum[i]) > pk ? fabs(sum[i]) : pk;
	k = (float)(4.0 * 32767.0 / pk);       /* peak at +12 dBFS */
	for (i = 0; i < n; i++) {
		sum[i] *= k;
		ein += (double)sum[i] * sum[i];
	}

	assert_int_equal(dsp_limiter_init(&lim, SR, -1.0f), 0);
	lim_i = (int)floorf(lim.ceiling);
	run(&lim, sum, out_buf, n, FRAME);
	p = peak_abs(out_buf, n);
	for (i = 0; i < n; i++)
		eout += (double)out_buf[i] * out_buf[i];
	mg = dsp_limiter_take_min_gain(&lim);
	print_message("# limiter: 4 talkers at +12 dBFS peak: out peak %d "
		      "(ceiling %d), level change %.1f dB, min gain %.3f\n",
		      p, lim_i, 10.0 * log10(eout / ein), (double)mg);
	LB_CHECK(p <= lim_i, "peak %d", p);
	/* it limits peaks, it is not a gate */
	LB_CHECK(eout > 0.03 * ein, "%.1f dB", 10.0 * log10(eout / ein));
	LB_CHECK(mg > 0.2f && mg < 0.3f, "min gain %.3f", (double)mg);
}

/* Absurd input: +-1e6, inf, NaN. No wrap, no clip, and it recovers. */
static void test_absurd_input(void **state)
{
	const uint32_t seed = lbtest_seed();
	const size_t n = SR * 3;
	static float in[SR * 3];
	struct dsp_limiter lim;
	struct dsp_rng r;
	size_t i;
	int lim_i, p;

	(void)state;
	dsp_rng_seed(&r, seed);
	for (i = 0; i < SR; i++) {
		uint32_t u = dsp_rng_u32(&r) % 16;

		in[i] = u == 0 ? NAN : u == 1 ? INFINITY : u == 2 ?
			-INFINITY : (dsp_rng_uniform(&r) < 0.5f ? 1e6f :
				     -1e6f) * dsp_rng_uniform(&r);
	}
	/* then a quiet 440 Hz tone */
	for (i = SR; i < n; i++)
		in[i] = (float)lrint(1000.0 * sin(2.0 * M_PI * 440.0 *
						  (double)i / SR));
	assert_int_equal(dsp_limiter_init(&lim, SR, -1.0f), 0);
	lim_i = (int)floorf(lim.ceiling);
	run(&lim, in, out_buf, n, FRAME);
	p = peak_abs(out_buf, n);
	LB_CHECK(p <= lim_i, "peak %d", p);
	LB_CHECK(!isnan(lim.gain), "gain %f", (double)lim.gain);
	/* one second after the garbage, bit-exact again */
	for (i = 2 * SR; i < n; i++)
		LB_CHECK(out_buf[i] == (int16_t)in[i - lim.lookahead],
			 "sample %zu: %d", i, out_buf[i]);
}

/* DC steps give the gain directly: out / delayed in. Attack slope at
 * most 1 / (L + 1) per sample; release to 0.9 in 60-250 ms; back to
 * exactly 1.0 within a second. */
static void test_gain_envelope(void **state)
{
	const size_t n = SR * 2, t_on = 2000, t_off = 4000;
	static float in[SR * 2];
	struct dsp_limiter lim;
	double prev_g = 1.0, max_step = 0.0, bound;
	size_t i, L, t90 = 0, t1 = 0;
	int lim_i;

	(void)state;
	for (i = 0; i < n; i++)
		in[i] = i >= t_on && i < t_off ? 200000.0f : 1000.0f;
	assert_int_equal(dsp_limiter_init(&lim, SR, -1.0f), 0);
	L = lim.lookahead;
	lim_i = (int)floorf(lim.ceiling);
	run(&lim, in, out_buf, n, FRAME);

	for (i = L; i < n; i++) {
		double g = (double)out_buf[i] / in[i - L];
		double d = fabs(g - prev_g);

		/* output rounding: +-0.5 LSB of 1000 */
		max_step = d > max_step ? d : max_step;
		prev_g = g;
		if (i - L >= t_off && !t90 && g >= 0.9)
			t90 = i - L - t_off;
		if (i - L >= t_off && !t1 && out_buf[i] == 1000)
			t1 = i - L - t_off;
	}
	bound = 1.0 / (double)(L + 1) + 2e-3;
	print_message("# limiter: max gain step %.4f/sample (bound %.4f), "
		      "release to 0.9 in %.1f ms, to 1.0 in %.1f ms\n",
		      max_step, bound, t90 * 1000.0 / SR, t1 * 1000.0 / SR);
	assert_true(max_step <= bound);
	assert_true(t90 >= SR * 60 / 1000 && t90 <= SR * 250 / 1000);
	assert_true(t1 > 0 && t1 <= SR);
	/* while overloaded the output sits at the ceiling, not below */
	assert_true(out_buf[t_on + L + 100] <= lim_i);
	assert_true(out_buf[t_on + L + 100] >= lim_i - 2);
}

/* THD+N of the output for a tone at 'hz', 'over_db' above the ceiling:
 * least-squares sine fit over the last half second of two. */
static double tone_thd_db(double hz, double over_db)
{
	const size_t n = SR * 2, t0 = SR * 3 / 2;
	static float in[SR * 2];
	struct dsp_limiter lim;
	double ss = 0, sc = 0, cc = 0, ys = 0, yc = 0, a, b, det;
	double e_fit = 0.0, e_res = 0.0;
	size_t i;

	assert_int_equal(dsp_limiter_init(&lim, SR, -1.0f), 0);
	for (i = 0; i < n; i++)
		in[i] = lim.ceiling * (float)(pow(10.0, over_db / 20.0) *
			sin(2.0 * M_PI * hz * (double)i / SR));
	run(&lim, in, out_buf, n, FRAME);

	for (i = t0; i < n; i++) {
		double w = 2.0 * M_PI * hz * (double)i / SR;

		ss += sin(w) * sin(w);
		cc += cos(w) * cos(w);
		sc += sin(w) * cos(w);
		ys += out_buf[i] * sin(w);
		yc += out_buf[i] * cos(w);
	}
	det = ss * cc - sc * sc;
	a = (ys * cc - yc * sc) / det;
	b = (yc * ss - ys * sc) / det;
	for (i = t0; i < n; i++) {
		double w = 2.0 * M_PI * hz * (double)i / SR;
		double fit = a * sin(w) + b * cos(w);

		e_fit += fit * fit;
		e_res += (out_buf[i] - fit) * (out_buf[i] - fit);
	}
	return 10.0 * log10(e_res / e_fit);
}

/* A steady overloaded tone sees a constant gain, so it stays a clean
 * tone: the 20 ms hold keeps the gain from rising between the peaks,
 * even for mains hum, whose peaks are 8-10 ms apart. Without the hold a
 * 60 Hz tone read -24 dB. */
static void test_distortion(void **state)
{
	const double thd_997 = tone_thd_db(997.0, 6.0);
	const double thd_150 = tone_thd_db(150.0, 6.0);
	const double thd_60 = tone_thd_db(60.0, 12.0);

	(void)state;
	print_message("# limiter: THD+N at +6 dB over the ceiling: 997 Hz "
		      "%.1f dB, 150 Hz %.1f dB; 60 Hz at +12 dB %.1f dB\n",
		      thd_997, thd_150, thd_60);
	assert_true(thd_997 < -60.0);
	assert_true(thd_150 < -60.0);
	assert_true(thd_60 < -60.0);
}

/* The mixer copies a shared stream's limiter into a talker's stream:
 * the copy must continue exactly like the original. */
static void test_copy(void **state)
{
	const uint32_t seed = lbtest_seed();
	static float in[SR];
	static int16_t o2[SR];
	struct dsp_limiter a, b;
	struct dsp_rng r;
	size_t i;

	(void)state;
	dsp_rng_seed(&r, seed);
	dsp_synth_talk(in, SR, SR, &r);
	for (i = 0; i < SR; i++)
		in[i] *= 40000.0f;
	assert_int_equal(dsp_limiter_init(&a, SR, -3.0f), 0);
	run(&a, in, out_buf, SR / 2, FRAME);
	b = a;
	run(&a, in + SR / 2, out_buf, SR / 2, FRAME);
	run(&b, in + SR / 2, o2, SR / 2, FRAME);
	assert_memory_equal(out_buf, o2, SR / 2 * sizeof(int16_t));
}

/* Other rates: the ceiling holds at 8 and 48 kHz too. */
static void test_rates(void **state)
{
	const uint32_t seed = lbtest_seed();
	static const uint32_t rates[] = {8000, 32000, 48000};
	static float in[48000 * 2];
	struct dsp_limiter lim;
	struct dsp_rng r;
	size_t k, i;

	(void)state;
	dsp_rng_seed(&r, seed);
	for (k = 0; k < 3; k++) {
		const size_t n = rates[k] * 2;
		int p;

		dsp_synth_talk(in, n, rates[k], &r);
		for (i = 0; i < n; i++)
			in[i] *= 60000.0f;
		assert_int_equal(dsp_limiter_init(&lim, rates[k], -1.0f), 0);
		run(&lim, in, out_buf, n, rates[k] / 50);
		p = peak_abs(out_buf, n);
		LB_CHECK(p <= (int)floorf(lim.ceiling), "%u Hz: peak %d",
			 rates[k], p);
	}
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_init),
	cmocka_unit_test(test_transparent),
	cmocka_unit_test(test_four_talkers),
	cmocka_unit_test(test_absurd_input),
	cmocka_unit_test(test_gain_envelope),
	cmocka_unit_test(test_distortion),
	cmocka_unit_test(test_copy),
	cmocka_unit_test(test_rates),
};

LBTEST_GROUP(limiter, tests)
