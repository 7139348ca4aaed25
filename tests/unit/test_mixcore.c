/**
 * @file test_mixcore.c  The mix core driven with scripted member frames:
 * no sockets, no thread, no clock. Selection and mix-minus, fades, the
 * shared-encoder hand-over (byte-identical), and profile moves measured
 * on the decoded stream.
 */
#include <re.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <opus/opus.h>
#include "dsptest.h"
#include "lbtest.h"
#include "mixcore.h"


#define MAXM 5
#define TICKS 300                /* 6 s */

struct tm {
	struct mixcore_member *m;
	float *talk;                 /* its speech, TICKS frames, or NULL */
	float gain;
};

static struct {
	struct mixcore *core;
	struct mix_profile *pcm;
	struct tm mv[MAXM];
	uint32_t n;
	struct dsp_rng rng;
} c;

static const struct codec_prm pcm_prm = {.id = CODEC_NONE, .ptime_ms = 20};

static const struct codec_prm opus16 = {
	.id = CODEC_OPUS, .pt = 111, .clock_hz = 48000, .ptime_ms = 20,
	.bitrate_bps = 16000, .max_bw_hz = 16000, .complexity = 5,
	.fec = true,
};

static void dsp_default(struct mix_dsp *d)
{
	memset(d, 0, sizeof(*d));
	dsp_proc_defaults(&d->proc);
	d->proc.aec = false;
}

static void core_setup(uint32_t max_talkers)
{
	const struct mixcore_prm cp = {.max_members = MAXM,
				       .max_talkers = max_talkers};

	memset(&c, 0, sizeof(c));
	dsp_rng_seed(&c.rng, lbtest_seed());
	assert_int_equal(mixcore_alloc(&c.core, &cp), 0);
	assert_int_equal(mix_profile_alloc(&c.pcm, &pcm_prm), 0);
	assert_int_equal(mixcore_profile_add(c.core, c.pcm), 0);
}

static struct tm *add(struct mix_profile *prof, bool talks, float dbfs)
{
	struct tm *t = &c.mv[c.n++];
	struct mix_dsp d;

	dsp_default(&d);
	assert_int_equal(mixcore_member_alloc(&t->m, &d, prof, t), 0);
	assert_int_equal(mixcore_add(c.core, t->m), 0);
	if (talks) {
		t->talk = calloc(TICKS * LB_FRAME, sizeof(float));
		assert_non_null(t->talk);
		dsp_synth_talk(t->talk, TICKS * LB_FRAME, LB_SRATE, &c.rng);
		t->gain = 32767.0f * powf(10.0f, dbfs / 20.0f);
	}
	return t;
}

static void core_teardown(void)
{
	uint32_t i;

	for (i = 0; i < c.n; i++) {
		mixcore_remove(c.core, c.mv[i].m);
		mem_deref(c.mv[i].m);
		free(c.mv[i].talk);
	}
	mixcore_profile_remove(c.core, c.pcm);
	mem_deref(c.pcm);
	mem_deref(c.core);
}

/* One tick: every member's frame (its talk from tick `from`, or
 * silence), the chain, selection, mix. */
static void tick(uint32_t k, uint32_t from)
{
	uint32_t i, j;

	for (i = 0; i < c.n; i++) {
		struct tm *t = &c.mv[i];
		int16_t *in = mixcore_member_input(t->m);

		for (j = 0; j < LB_FRAME; j++) {
			float v = t->talk && k >= from ?
				t->gain * t->talk[(k % TICKS) * LB_FRAME + j] :
				0.0f;

			in[j] = (int16_t)(v > 32767 ? 32767 :
					  v < -32768 ? -32768 : v);
		}
		mixcore_member_process(t->m, true);
	}
	mixcore_select(c.core);
	mixcore_mix(c.core);
}

static double rms(const int16_t *x, size_t n)
{
	double e = 0;
	size_t i;

	for (i = 0; i < n; i++)
		e += (double)x[i] * x[i];
	return sqrt(e / (double)n);
}

/* Two talkers and a listener, K = 2: each talker hears the other and
 * not itself, the listener hears both; the shared stream is the mix. */
static void test_select_mix_minus(void **state)
{
	static int16_t heard[MAXM][TICKS * LB_FRAME];
	static float talk[2][TICKS * LB_FRAME];
	struct mixcore_out o;
	struct tm *a, *b, *l;
	uint32_t k, i;
	float share[3][2];
	(void)state;

	core_setup(2);
	a = add(c.pcm, true, -20);
	b = add(c.pcm, true, -20);
	l = add(c.pcm, false, 0);
	for (k = 0; k < TICKS; k++) {
		tick(k, 25);
		for (i = 0; i < 3; i++) {
			mixcore_member_output(c.mv[i].m, &o);
			assert_null(o.pkt);
			memcpy(heard[i] + k * LB_FRAME, o.pcm,
			       LB_FRAME * sizeof(int16_t));
		}
	}
	assert_int_equal(mixcore_talkers(c.core), 2);
	assert_true(mixcore_member_talking(a->m));
	assert_true(mixcore_member_talking(b->m));
	assert_false(mixcore_member_talking(l->m));
	assert_true(mixcore_member_own_stream(a->m));
	assert_false(mixcore_member_own_stream(l->m));

	/* shares over the last 4 s, any lag up to 60 ms (the chain's
	 * 10 ms and the limiter's 1 ms) */
	for (i = 0; i < TICKS * LB_FRAME; i++) {
		talk[0][i] = a->talk[i];
		talk[1][i] = b->talk[i];
	}
	for (i = 0; i < 3; i++) {
		static float y[TICKS * LB_FRAME];
		const size_t s0 = 100 * LB_FRAME, n = 200 * LB_FRAME;
		size_t j;

		for (j = 0; j < TICKS * LB_FRAME; j++)
			y[j] = heard[i][j];
		for (j = 0; j < 2; j++)
			assert_int_equal(dsp_presence_db(
				talk[j] + s0, n, y + s0, n, 0, 960, 1,
				&share[i][j], NULL), 0);
	}
	print_message("# A hears A %.1f B %.1f dB; B hears A %.1f B %.1f;"
		      " L hears A %.1f B %.1f\n", share[0][0], share[0][1],
		      share[1][0], share[1][1], share[2][0], share[2][1]);
	LB_SEED_CHECK(share[0][1] > -6 && share[0][0] < -20);
	LB_SEED_CHECK(share[1][0] > -6 && share[1][1] < -20);
	LB_SEED_CHECK(share[2][0] > -8 && share[2][1] > -8);
	core_teardown();
}

/* A talker enters the mix with a 20 ms linear ramp: the listener's
 * level rises over one frame, never in a step. */
static void test_fades(void **state)
{
	static int16_t heard[TICKS * LB_FRAME];
	struct mixcore_out o;
	uint32_t k, on = 0;
	double before, ramp, after;
	(void)state;

	core_setup(3);
	(void)add(c.pcm, true, -20);
	(void)add(c.pcm, false, 0);
	for (k = 0; k < 200; k++) {
		tick(k, 50);
		mixcore_member_output(c.mv[1].m, &o);
		memcpy(heard + k * LB_FRAME, o.pcm,
		       LB_FRAME * sizeof(int16_t));
		if (!on && mixcore_member_talking(c.mv[0].m))
			on = k;
	}
	assert_true(on >= 50 && on < 70);
	/* the first mixed frame ramps from 0: its first 5 ms are far
	 * quieter than its last 5 ms, and silence came before it */
	before = rms(heard + (on - 1) * LB_FRAME, LB_FRAME);
	ramp = rms(heard + on * LB_FRAME, 80);
	after = rms(heard + on * LB_FRAME + 240, 80);
	print_message("# selected at tick %u: before %.1f, ramp start "
		      "%.1f, ramp end %.1f (rms)\n", on, before, ramp, after);
	assert_true(before < 1.0);
	LB_SEED_CHECK(ramp < 0.3 * after);
	core_teardown();
}

/* A member whose contribution is silence (a chair that says nothing)
 * takes its own encoder over from the shared one: its packets must be
 * byte for byte the shared stream's, from the hand-over on. */
static void test_handover_bytes(void **state)
{
	struct mix_profile *op;
	struct mixcore_out ol, oc;
	struct mix_dsp d;
	struct tm *ch;
	uint32_t k, same = 0, own = 0;
	(void)state;

	core_setup(3);
	assert_int_equal(mix_profile_alloc(&op, &opus16), 0);
	assert_int_equal(mixcore_profile_add(c.core, op), 0);
	(void)add(c.pcm, true, -20);         /* the talker */
	(void)add(op, false, 0);             /* a listener on Opus */
	ch = add(op, false, 0);              /* becomes a chair */
	for (k = 0; k < 250; k++) {
		if (k == 100) {
			dsp_default(&d);
			d.chair = true;
			mixcore_member_set_dsp(ch->m, &d, NULL, NULL);
		}
		tick(k, 10);
		mixcore_member_output(c.mv[1].m, &ol);
		mixcore_member_output(ch->m, &oc);
		assert_true(ol.len > 0 && oc.len > 0);
		if (k < 101)
			continue;
		own += mixcore_member_own_stream(ch->m);
		same += ol.len == oc.len && !memcmp(ol.pkt, oc.pkt,
						    (size_t)ol.len);
	}
	print_message("# chair on its own stream %u of 149 ticks, packets "
		      "identical to the shared stream in %u\n", own, same);
	assert_int_equal(own, 149);
	assert_int_equal(same, 149);
	core_teardown();
	mem_deref(op);
}

/* Decode a member's packets as its far end would. */
struct far {
	OpusDecoder *dec;
	int16_t *pcm;
	size_t n, cap;
	uint64_t samples;        /* what the packets said they span */
};

static void far_init(struct far *f, size_t cap)
{
	int err;

	f->dec = opus_decoder_create(LB_SRATE, 1, &err);
	assert_int_equal(err, OPUS_OK);
	f->pcm = calloc(cap, sizeof(int16_t));
	assert_non_null(f->pcm);
	f->n = 0;
	f->cap = cap;
	f->samples = 0;
}

static void far_put(struct far *f, const struct mixcore_out *o)
{
	int r;

	if (o->len <= 0)
		return;
	f->samples += o->samples;
	r = opus_decode(f->dec, o->pkt, o->len, f->pcm + f->n,
			(int)(f->cap - f->n), 0);
	assert_true(r > 0);
	assert_int_equal((uint32_t)r, o->samples);
	f->n += (size_t)r;
}

static void far_close(struct far *f)
{
	opus_decoder_destroy(f->dec);
	free(f->pcm);
}

/* Error energy of x against ref over [a, b), in dB. */
static double err_db(const int16_t *x, const int16_t *ref, size_t a,
		     size_t b)
{
	double e = 1e-9;
	size_t i;

	for (i = a; i < b; i++) {
		double d = (double)x[i] - ref[i];

		e += d * d;
	}
	return 10 * log10(e);
}

/*
 * A listener moved from 16 kbit/s 20 ms to 8 kbit/s 40 ms and back
 * while a talker speaks. Its far end must get every 20 ms exactly once
 * (no gap, no overlap), and the decoded stream must not glitch at the
 * moves. Measured against a listener who stays on 16 kbit/s: in the
 * 200 ms after each move, the moved listener may differ from it no more
 * than a listener who was on 8 kbit/s all along (the error the lower
 * rate makes anyway) plus 3 dB; a seam (a jump in the decoder's state)
 * would add its own error on top. Before the move and once it is back
 * on the shared stream, it is the reference byte for byte.
 */
static void test_move(void **state)
{
	const struct codec_prm lo = {
		.id = CODEC_OPUS, .pt = 111, .clock_hz = 48000,
		.ptime_ms = 40, .bitrate_bps = 8000, .max_bw_hz = 16000,
		.complexity = 5, .fec = true, .loss_pct = 20};
	const uint32_t t_lo = 120, t_hi = 240, total = 400;
	const size_t w = 10 * LB_FRAME, cap = (total + 4) * LB_FRAME;
	struct mix_profile *hi, *low;
	struct mixcore_out o;
	struct far fm, fh, fl;
	struct tm *mm, *hm, *lm;
	double e1, c1, e2, c2, before, back;
	uint32_t k;
	(void)state;

	core_setup(3);
	assert_int_equal(mix_profile_alloc(&hi, &opus16), 0);
	assert_int_equal(mix_profile_alloc(&low, &lo), 0);
	assert_int_equal(mixcore_profile_add(c.core, hi), 0);
	assert_int_equal(mixcore_profile_add(c.core, low), 0);
	(void)add(c.pcm, true, -20);
	mm = add(hi, false, 0);              /* moved */
	hm = add(hi, false, 0);              /* stays on 16 kbit/s */
	lm = add(low, false, 0);             /* 8 kbit/s all along */
	far_init(&fm, cap);
	far_init(&fh, cap);
	far_init(&fl, cap);
	for (k = 0; k < total; k++) {
		if (k == t_lo)
			assert_int_equal(mixcore_member_move(mm->m, low), 0);
		if (k == t_hi)
			assert_int_equal(mixcore_member_move(mm->m, hi), 0);
		tick(k, 10);
		mixcore_member_output(mm->m, &o);
		far_put(&fm, &o);
		mixcore_member_output(hm->m, &o);
		far_put(&fh, &o);
		mixcore_member_output(lm->m, &o);
		far_put(&fl, &o);
	}
	/* every 20 ms once: what was sent adds up to the ticks */
	print_message("# moved listener: %llu samples in packets, %zu "
		      "decoded, of %u\n", (unsigned long long)fm.samples,
		      fm.n, total * LB_FRAME);
	assert_int_equal(fm.samples, (uint64_t)total * LB_FRAME);
	assert_int_equal(fh.samples, (uint64_t)total * LB_FRAME);
	assert_false(mixcore_member_own_stream(mm->m));
	assert_ptr_equal(mixcore_member_profile(mm->m), hi);

	before = err_db(fm.pcm, fh.pcm, 0, t_lo * LB_FRAME);
	e1 = err_db(fm.pcm, fh.pcm, t_lo * LB_FRAME, t_lo * LB_FRAME + w);
	c1 = err_db(fl.pcm, fh.pcm, t_lo * LB_FRAME, t_lo * LB_FRAME + w);
	e2 = err_db(fm.pcm, fh.pcm, t_hi * LB_FRAME, t_hi * LB_FRAME + w);
	c2 = err_db(fl.pcm, fh.pcm, t_hi * LB_FRAME, t_hi * LB_FRAME + w);
	back = err_db(fm.pcm, fh.pcm, (t_hi + 80) * LB_FRAME,
		      total * LB_FRAME);
	print_message("# error energy against the 16 kbit/s listener "
		      "(dB): before the move %.1f; 200 ms after the move "
		      "down %.1f (8 kbit/s all along: %.1f); after the move "
		      "back %.1f (%.1f); once shared again %.1f\n", before,
		      e1, c1, e2, c2, back);
	assert_true(before < 0);             /* identical bytes */
	LB_SEED_CHECK(e1 < c1 + 3);
	LB_SEED_CHECK(e2 < c2 + 3);
	LB_SEED_CHECK(back < 0);             /* shared again */
	far_close(&fm);
	far_close(&fh);
	far_close(&fl);
	core_teardown();
	mem_deref(hi);
	mem_deref(low);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_select_mix_minus),
	cmocka_unit_test(test_fades),
	cmocka_unit_test(test_handover_bytes),
	cmocka_unit_test(test_move),
};

LBTEST_GROUP(mixcore, tests)
