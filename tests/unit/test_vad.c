/**
 * @file test_vad.c  dsp/vad.c: voice activity detector.
 *
 * Labelled synthetic material: seeded talk spurts (dsp_synth_talk, 1-3 s)
 * separated by 1-2.5 s of noise only, over white, pink or hum noise at
 * -60..-20 dBFS. Speech frames are those whose clean talk energy is
 * within 15 dB of the spurt's RMS (the frames a listener hears as
 * speech); noise frames are those 300 ms or more after a spurt (past the
 * hangover) and after the first second (adaptation). Requirements:
 * stationary noise is never speech after adaptation; talk at 10 dB SNR
 * is.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lbtest.h"
#include "dsp.h"
#include "dsptest.h"

#define MAX_S 40
#define MAX_RATE 48000

static float noise_v[MAX_RATE * MAX_S], talk_v[MAX_RATE * MAX_S];
static uint8_t label_v[MAX_S * 100];       /* per frame, 10 ms minimum */

static const char *const kind_name[] = {"white", "pink", "hum"};

struct score {
	double speech_active;    /* share of speech frames found active */
	double speech_prob;      /* share with probability >= 0.5 */
	double noise_active;     /* share of noise frames found active */
	double max_noise_p;      /* highest probability on a noise frame */
};

static int16_t clip16(float v)
{
	return (int16_t)lrintf(v > 32767.0f ? 32767.0f :
			       v < -32768.0f ? -32768.0f : v);
}

/* Build spurts over noise, run the detector, score it. */
static void run_scenario(uint32_t seed, uint32_t srate, size_t frame,
			 enum dsp_noise kind, float noise_dbfs,
			 float snr_db, size_t seconds, struct score *sc)
{
	const size_t n = srate * seconds, nf = n / frame;
	const float nrms = 32767.0f * powf(10.0f, noise_dbfs / 20.0f);
	const float srms = nrms * powf(10.0f, snr_db / 20.0f);
	size_t t = srate * 2, f, i, sp = 0, spa = 0, spp = 0, nz = 0, nza = 0;
	size_t since = 1000000, hang_frames = (srate * 3 / 10) / frame;
	int16_t fr[MAX_RATE / 25];
	struct dsp_vad v;
	struct dsp_rng r;

	dsp_rng_seed(&r, seed);
	dsp_synth_noise(noise_v, n, srate, kind, &r);
	memset(talk_v, 0, n * sizeof(float));
	memset(label_v, 0, nf);
	while (t < n) {
		size_t len = (size_t)((1.0f + 2.0f * dsp_rng_uniform(&r)) *
				      (float)srate);

		len = len < n - t ? len : n - t;
		dsp_synth_talk(talk_v + t, len, srate, &r);
		for (i = t; i < t + len; i++)
			talk_v[i] *= srms;
		for (f = t / frame; f < (t + len) / frame; f++)
			label_v[f] = 1;
		t += len + (size_t)((1.0f + 1.5f * dsp_rng_uniform(&r)) *
				    (float)srate);
	}

	memset(sc, 0, sizeof(*sc));
	assert_int_equal(dsp_vad_init(&v, srate), 0);
	for (f = 0; f < nf; f++) {
		double e = 0.0;
		float p;
		bool act;

		for (i = 0; i < frame; i++) {
			const float s = talk_v[f * frame + i];

			e += (double)s * s;
			fr[i] = clip16(nrms * noise_v[f * frame + i] + s);
		}
		p = dsp_vad_process(&v, fr, frame);
		act = dsp_vad_active(&v);
		if (label_v[f]) {
			since = 0;
			if (10.0 * log10(e / (double)frame + 1e-9) >
			    20.0 * log10(srms) - 15.0) {
				++sp;
				spa += act;
				spp += p >= 0.5f;
			}
		}
		else if (++since > hang_frames && f * frame >= srate) {
			++nz;
			nza += act;
			sc->max_noise_p = p > sc->max_noise_p ?
				p : sc->max_noise_p;
		}
	}
	sc->speech_active = sp ? (double)spa / (double)sp : 1.0;
	sc->speech_prob = sp ? (double)spp / (double)sp : 1.0;
	sc->noise_active = nz ? (double)nza / (double)nz : 0.0;
}

static void test_init(void **state)
{
	struct dsp_vad v;
	int16_t z[320];

	(void)state;
	assert_int_equal(dsp_vad_init(NULL, 16000), EINVAL);
	assert_int_equal(dsp_vad_init(&v, 4000), EINVAL);
	assert_int_equal(dsp_vad_init(&v, 96000), EINVAL);
	assert_int_equal(dsp_vad_init(&v, 16000), 0);
	assert_false(dsp_vad_active(&v));
	assert_true(dsp_vad_noise_dbfs(&v) == DSP_SILENCE_DBFS);
	memset(z, 0, sizeof(z));
	assert_true(dsp_vad_process(&v, z, 0) == 0.0f);
	assert_true(dsp_vad_process(NULL, z, 320) == 0.0f);
}

/* Digital silence and +-1 LSB dither are not speech. */
static void test_silence(void **state)
{
	const uint32_t seed = lbtest_seed();
	struct dsp_vad v;
	struct dsp_rng r;
	int16_t fr[320];
	int f, i;

	(void)state;
	dsp_rng_seed(&r, seed);
	assert_int_equal(dsp_vad_init(&v, 16000), 0);
	for (f = 0; f < 500; f++) {
		for (i = 0; i < 320; i++)
			fr[i] = f < 250 ? 0 :
				(int16_t)((int)(dsp_rng_u32(&r) % 3) - 1);
		assert_true(dsp_vad_process(&v, fr, 320) == 0.0f);
		assert_false(dsp_vad_active(&v));
	}
}

/* Feed n samples of noise_v at level_dbfs (below -150: silence) from
 * sample 'from' on, 20 ms frames at 16 kHz. */
static void feed(struct dsp_vad *v, size_t from, size_t n, float level_dbfs,
		 float *maxp, size_t *active, size_t *last_active)
{
	const float g = level_dbfs < -150.0f ? 0.0f :
		32767.0f * powf(10.0f, level_dbfs / 20.0f);
	int16_t fr[320];
	size_t f, i;

	for (f = from / 320; f < (from + n) / 320; f++) {
		float p;

		for (i = 0; i < 320; i++)
			fr[i] = clip16(g * noise_v[f * 320 + i]);
		p = dsp_vad_process(v, fr, 320);
		if (maxp && p > *maxp)
			*maxp = p;
		if (dsp_vad_active(v)) {
			if (active)
				++*active;
			if (last_active)
				*last_active = (f + 1) * 320;
		}
	}
}

/* Stationary noise at any level is never speech once adapted (1 s). */
static void test_stationary_noise(void **state)
{
	const uint32_t seed = lbtest_seed();
	const size_t n = 16000 * 20;
	int kind, lvl;

	(void)state;
	for (kind = 0; kind < 3; kind++) {
		for (lvl = -60; lvl <= -20; lvl += 10) {
			float maxp = 0.0f, fl;
			size_t act = 0;
			struct dsp_vad v;
			struct dsp_rng r;

			dsp_rng_seed(&r, seed + (uint32_t)(kind * 100 - lvl));
			dsp_synth_noise(noise_v, n, 16000,
					(enum dsp_noise)kind, &r);
			assert_int_equal(dsp_vad_init(&v, 16000), 0);
			feed(&v, 0, 16000, (float)lvl, NULL, NULL, NULL);
			feed(&v, 16000, n - 16000, (float)lvl, &maxp, &act,
			     NULL);
			fl = dsp_vad_noise_dbfs(&v);
			print_message("# vad: %-5s %3d dBFS: max p %.3f, "
				      "active %zu frames, floor %.1f dBFS\n",
				      kind_name[kind], lvl, (double)maxp, act,
				      (double)fl);
			LB_CHECK(maxp < 0.5f && act == 0,
				 "%s %d dBFS: max p %.3f, %zu active",
				 kind_name[kind], lvl, (double)maxp, act);
			/* white noise has all its energy in the analysed
			 * band: the floor estimate is about its level */
			if (kind == DSP_NOISE_WHITE)
				LB_CHECK(fabsf(fl - (float)lvl) < 4.0f,
					 "floor %.1f for %d", (double)fl, lvl);
		}
	}
}

/* A louder noise switched on (or a noise appearing out of silence) is
 * taken for speech only until the detector adapts: < 1 s. */
static void test_noise_steps(void **state)
{
	const uint32_t seed = lbtest_seed();
	static const float from[] = {-200.0f, -60.0f, -60.0f, -20.0f};
	static const float to[] = {-20.0f, -20.0f, -40.0f, -60.0f};
	const size_t n = 16000 * 10, step = 16000 * 3;
	size_t c;
	int kind;

	(void)state;
	for (kind = 0; kind < 3; kind++) {
		for (c = 0; c < 4; c++) {
			struct dsp_vad v;
			struct dsp_rng r;
			size_t last = 0;

			dsp_rng_seed(&r, seed + (uint32_t)(c * 10 + kind));
			dsp_synth_noise(noise_v, n, 16000,
					(enum dsp_noise)kind, &r);
			assert_int_equal(dsp_vad_init(&v, 16000), 0);
			feed(&v, 0, step, from[c], NULL, NULL, NULL);
			feed(&v, step, n - step, to[c], NULL, NULL, &last);
			if (last)
				print_message("# vad: %-5s %4.0f -> %3.0f "
					      "dBFS: active until %.2f s "
					      "after the step\n",
					      kind_name[kind],
					      (double)from[c], (double)to[c],
					      (double)(last - step) / 16000.0);
			LB_CHECK(last <= step + 16000, "%s %.0f -> %.0f: "
				 "active until %.2f s", kind_name[kind],
				 (double)from[c], (double)to[c],
				 (double)last / 16000.0);
		}
	}
}

/* Talk spurts over noise: accuracy at 10 and 20 dB SNR, over three
 * noises at three levels. */
static void test_talk_spurts(void **state)
{
	const uint32_t seed = lbtest_seed();
	static const float snrs[] = {10.0f, 20.0f};
	static const float levels[] = {-60.0f, -40.0f, -20.0f};
	double worst[2] = {1.0, 1.0}, worst_fa = 0.0;
	int k;

	(void)state;
	for (k = 0; k < 3 * 3 * 2; k++) {
		const int kind = k / 6, l = (k / 2) % 3, s = k % 2;
		struct score sc;

		run_scenario(seed + (uint32_t)k, 16000, 320,
			     (enum dsp_noise)kind, levels[l], snrs[s], 30,
			     &sc);
		print_message("# vad: %-5s %3.0f dBFS, SNR %2.0f dB: speech "
			      "frames active %5.1f%% (p>=0.5 %5.1f%%), noise "
			      "frames active %.2f%%\n", kind_name[kind],
			      (double)levels[l], (double)snrs[s],
			      100.0 * sc.speech_active, 100.0 * sc.speech_prob,
			      100.0 * sc.noise_active);
		if (sc.speech_active < worst[s])
			worst[s] = sc.speech_active;
		if (sc.noise_active > worst_fa)
			worst_fa = sc.noise_active;
	}
	LB_CHECK(worst[0] >= 0.93, "10 dB: %.1f%%", 100.0 * worst[0]);
	LB_CHECK(worst[1] >= 0.98, "20 dB: %.1f%%", 100.0 * worst[1]);
	LB_CHECK(worst_fa <= 0.005, "false alarms %.2f%%",
		 100.0 * worst_fa);
}

/* Other rates and frame lengths behave the same. */
static void test_rates_and_frames(void **state)
{
	const uint32_t seed = lbtest_seed();
	static const uint32_t rates[] = {8000, 16000, 32000, 48000};
	static const uint32_t ms[] = {20, 30, 20, 10};
	size_t k;

	(void)state;
	for (k = 0; k < 4; k++) {
		struct score sc;

		run_scenario(seed + (uint32_t)k, rates[k],
			     rates[k] * ms[k] / 1000, DSP_NOISE_PINK, -40.0f,
			     10.0f, 20, &sc);
		print_message("# vad: %u Hz, %u ms frames, pink -40 dBFS, "
			      "10 dB: speech active %.1f%%, noise active "
			      "%.2f%%\n", rates[k], ms[k],
			      100.0 * sc.speech_active,
			      100.0 * sc.noise_active);
		LB_CHECK(sc.speech_active >= 0.9, "%u Hz: %.1f%%",
			 rates[k], 100.0 * sc.speech_active);
		LB_CHECK(sc.noise_active <= 0.005 && sc.max_noise_p < 0.5,
			 "%u Hz: %.2f%%, max p %.2f", rates[k],
			 100.0 * sc.noise_active, sc.max_noise_p);
	}
}

/* Talk from the very first frame, with no noise to learn from, is found
 * at once; so is a talker after a long stretch of noise. */
static void test_onsets(void **state)
{
	const uint32_t seed = lbtest_seed();
	const size_t n = 16000 * 8, start2 = 16000 * 6;
	const float g = 32767.0f * powf(10.0f, -26.0f / 20.0f);
	const float gn = 32767.0f * powf(10.0f, -45.0f / 20.0f);
	struct dsp_vad v;
	struct dsp_rng r;
	int16_t fr[320];
	size_t f, i, first = 0, first2 = 0;

	(void)state;
	dsp_rng_seed(&r, seed);
	dsp_synth_talk(talk_v, 16000, 16000, &r);
	assert_int_equal(dsp_vad_init(&v, 16000), 0);
	for (f = 0; f < 50 && !first; f++) {
		for (i = 0; i < 320; i++)
			fr[i] = clip16(g * talk_v[f * 320 + i]);
		dsp_vad_process(&v, fr, 320);
		if (dsp_vad_active(&v))
			first = (f + 1) * 320;
	}
	/* the first syllable may start with a weak fricative */
	LB_CHECK(first && first <= 16000 / 5, "found after %zu samples",
		 first);

	dsp_synth_noise(noise_v, n, 16000, DSP_NOISE_PINK, &r);
	dsp_synth_talk(talk_v, n - start2, 16000, &r);
	assert_int_equal(dsp_vad_init(&v, 16000), 0);
	for (f = 0; f < n / 320; f++) {
		for (i = 0; i < 320; i++) {
			size_t k = f * 320 + i;

			fr[i] = clip16(gn * noise_v[k] + (k >= start2 ?
					g * talk_v[k - start2] : 0.0f));
		}
		dsp_vad_process(&v, fr, 320);
		if (f * 320 >= start2 && !first2 && dsp_vad_active(&v))
			first2 = (f + 1) * 320 - start2;
	}
	print_message("# vad: onset found after %.0f ms (cold), %.0f ms "
		      "(after 6 s of noise)\n", first * 1000.0 / 16000,
		      first2 * 1000.0 / 16000);
	LB_CHECK(first2 && first2 <= 16000 / 5, "found after %zu",
		 first2);
}

/* Plain data: a copy carries on exactly like the original. */
static void test_copy(void **state)
{
	const uint32_t seed = lbtest_seed();
	struct dsp_vad a, b;
	struct dsp_rng r;
	int16_t fr[320];
	size_t f, i;

	(void)state;
	dsp_rng_seed(&r, seed);
	dsp_synth_talk(talk_v, 16000 * 4, 16000, &r);
	assert_int_equal(dsp_vad_init(&a, 16000), 0);
	for (f = 0; f < 200; f++) {
		float pa, pb;

		for (i = 0; i < 320; i++)
			fr[i] = clip16(3000.0f * talk_v[f * 320 + i]);
		if (f == 100)
			b = a;
		pa = dsp_vad_process(&a, fr, 320);
		if (f >= 100) {
			pb = dsp_vad_process(&b, fr, 320);
			assert_true(pa == pb);
			assert_true(dsp_vad_active(&a) == dsp_vad_active(&b));
		}
	}
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_init),
	cmocka_unit_test(test_silence),
	cmocka_unit_test(test_stationary_noise),
	cmocka_unit_test(test_noise_steps),
	cmocka_unit_test(test_talk_spurts),
	cmocka_unit_test(test_rates_and_frames),
	cmocka_unit_test(test_onsets),
	cmocka_unit_test(test_copy),
};

LBTEST_GROUP(vad, tests)
