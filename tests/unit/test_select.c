/**
 * @file test_select.c  dsp/select.c: talker selection rules.
 *
 * Each test drives a handful of sites frame by frame and asserts on the
 * selected set: the strongest candidates fill free places at once, a
 * talker keeps its place through pauses shorter than the release and
 * for its minimum hold, displacement needs the margin, a talker in a
 * pause yields, a vetoed site (its own echo) leaves at once and stays
 * out, chairs are always in and take no place, and a random
 * run never selects more than K + chairs nor a non-candidate newcomer.
 */
#include <string.h>
#include "lbtest.h"
#include "dsp.h"
#include "dsptest.h"

#define NS 8

static struct dsp_talk tv[NS];
static struct dsp_talk *pv[NS];
static struct dsp_select_prm prm;

static int setup(void)
{
	size_t i;

	memset(tv, 0, sizeof(tv));
	for (i = 0; i < NS; i++)
		pv[i] = &tv[i];
	dsp_select_defaults(&prm);
	return 0;
}

static void speak(size_t i, float db)
{
	tv[i].candidate = true;
	tv[i].score_db = db;
}

static void hush(size_t i)
{
	tv[i].candidate = false;
}

static uint32_t run(uint32_t frames)
{
	uint32_t n = 0;

	while (frames--)
		n = dsp_select_run(&prm, pv, NS);
	return n;
}

static void test_fill_strongest(void **state)
{
	(void)state;
	setup();
	speak(0, -30);
	speak(1, -20);
	speak(2, -25);
	speak(3, -22);
	speak(4, -40);
	assert_int_equal(run(1), 3);
	/* free places go at once, to the strongest */
	assert_true(tv[1].selected && tv[3].selected && tv[2].selected);
	assert_false(tv[0].selected || tv[4].selected);
}

static void test_hold_release(void **state)
{
	(void)state;
	setup();
	speak(0, -20);
	run(1);
	assert_true(tv[0].selected);
	/* a pause shorter than the release keeps the place */
	hush(0);
	run(prm.release - 1);
	assert_true(tv[0].selected);
	speak(0, -20);
	run(prm.min_hold);
	hush(0);
	run(prm.release);
	assert_false(tv[0].selected);

	/* a blip shorter than the hold stays for the hold */
	speak(1, -20);
	run(1);
	hush(1);
	run(prm.release + 1);
	assert_true(tv[1].selected);
	run(prm.min_hold);
	assert_false(tv[1].selected);
}

static void test_displace(void **state)
{
	(void)state;
	setup();
	speak(0, -20);
	speak(1, -22);
	speak(2, -24);
	run(prm.min_hold + 1);
	/* not loud enough to displace: stays out */
	speak(3, -24 + prm.displace_db - 1.0f);
	run(5);
	assert_false(tv[3].selected);
	assert_true(tv[2].selected);
	/* louder by more than the margin: takes the weakest place */
	speak(3, -24 + prm.displace_db + 1.0f);
	run(1);
	assert_true(tv[3].selected);
	assert_false(tv[2].selected);
	assert_true(tv[0].selected && tv[1].selected);
	/* the newcomer is held: the one it displaced cannot come back */
	speak(2, -5);
	run(1);
	assert_true(tv[3].selected);
}

static void test_quiet_yields(void **state)
{
	(void)state;
	setup();
	speak(0, -10);
	speak(1, -10);
	speak(2, -10);
	run(prm.min_hold + 1);
	hush(1);
	run(2);
	/* a quiet new voice takes the place of a talker in a pause */
	speak(5, -40);
	run(1);
	assert_true(tv[5].selected);
	assert_false(tv[1].selected);
}

static void test_veto(void **state)
{
	(void)state;
	setup();
	speak(0, -20);
	run(1);
	assert_true(tv[0].selected);
	/* its own echo: out at once, inside its hold */
	tv[0].veto = true;
	run(1);
	assert_false(tv[0].selected);
	/* and no way back while vetoed, loud as it may be */
	speak(0, 0);
	run(5);
	assert_false(tv[0].selected);
	tv[0].veto = false;
	run(1);
	assert_true(tv[0].selected);
}

static void test_chair(void **state)
{
	(void)state;
	setup();
	tv[7].chair = true;
	speak(0, -20);
	speak(1, -21);
	speak(2, -22);
	speak(3, -23);
	/* chair is always in, silent or not, and takes no place */
	assert_int_equal(run(1), 4);
	assert_true(tv[7].selected);
	assert_true(tv[0].selected && tv[1].selected && tv[2].selected);
	run(100);
	assert_true(tv[7].selected);
}

static void test_random_bounds(void **state)
{
	struct dsp_rng r;
	uint32_t f, i;
	bool was[NS];

	(void)state;
	setup();
	tv[6].chair = true;
	dsp_rng_seed(&r, lbtest_seed());
	memset(was, 0, sizeof(was));
	for (f = 0; f < 20000; f++) {
		uint32_t n, cnt = 0;

		for (i = 0; i < NS; i++) {
			if (dsp_rng_uniform(&r) < 0.05f) {
				tv[i].candidate = !tv[i].candidate;
				tv[i].score_db = -50.0f +
					40.0f * dsp_rng_uniform(&r);
			}
		}
		n = dsp_select_run(&prm, pv, NS);
		for (i = 0; i < NS; i++) {
			if (tv[i].selected) {
				++cnt;
				/* newcomers must be candidates */
				if (!was[i] && !tv[i].chair)
					assert_true(tv[i].candidate);
			}
			was[i] = tv[i].selected;
		}
		assert_int_equal(n, cnt);
		assert_true(cnt <= prm.max_talkers + 1);
		assert_true(tv[6].selected);
	}
}

static void test_bad_args(void **state)
{
	(void)state;
	setup();
	assert_int_equal(dsp_select_run(NULL, pv, NS), 0);
	assert_int_equal(dsp_select_run(&prm, NULL, NS), 0);
	prm.max_talkers = 0;
	speak(0, -10);
	assert_int_equal(run(3), 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_fill_strongest),
	cmocka_unit_test(test_hold_release),
	cmocka_unit_test(test_displace),
	cmocka_unit_test(test_quiet_yields),
	cmocka_unit_test(test_veto),
	cmocka_unit_test(test_chair),
	cmocka_unit_test(test_random_bounds),
	cmocka_unit_test(test_bad_args),
};

LBTEST_GROUP(select, tests)
