/**
 * @file test_hwpipe.c  The local room's audio path (hw/pipe.c) between a
 * simulated sound card running ppm off and the mixer's 50 frames per
 * monotonic second, through ten minutes of audio in simulated time:
 * the delay through each direction stays within +-5 ms, nothing is
 * dropped or repeated (a tone comes out without a click), and the
 * echo reference stays in step with capture.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lbtest.h"
#include "hw.h"
#include "hwint.h"

#define DEV_RATE 48000
#define PERIOD 480                    /* 10 ms of the card */
#define RING 16                       /* mixer ring, frames */
#define TONE_HZ 440.0
#define AMP 8000.0

/* the mixer's side: SPSC rings of 20 ms frames */
struct sim {
	int16_t cap[RING][HW_FRAME];
	uint32_t cap_w, cap_r;
	int16_t play[RING][HW_FRAME];
	uint32_t play_w, play_r;
	uint64_t cap_full, play_empty;
};

static bool put(void *arg, const int16_t *f)
{
	struct sim *s = arg;

	if (s->cap_w - s->cap_r == RING) {
		++s->cap_full;
		return false;
	}
	memcpy(s->cap[s->cap_w++ % RING], f, HW_FRAME * sizeof(*f));
	return true;
}

static bool get(void *arg, int16_t *f)
{
	struct sim *s = arg;

	if (s->play_w == s->play_r) {
		++s->play_empty;
		return false;
	}
	memcpy(f, s->play[s->play_r++ % RING], HW_FRAME * sizeof(*f));
	return true;
}

/* Samples that do not continue the tone: r = x[n+1] - 2 cos(w) x[n] +
 * x[n-1] is zero for a clean sine of angular step w; a dropped or
 * doubled sample (or a step) leaves a residual near the amplitude. */
struct clicks {
	double w;
	int16_t x1, x2;
	bool have;
	uint64_t n, bad;
	double worst;
};

static void click_feed(struct clicks *c, const int16_t *x, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (c->have && c->n >= 2) {
			double r = fabs(x[i] - 2 * cos(c->w) * c->x1 + c->x2);

			if (r > c->worst)
				c->worst = r;
			if (r > 0.05 * AMP)
				++c->bad;
		}
		c->x2 = c->x1;
		c->x1 = x[i];
		c->have = true;
		++c->n;
	}
}

static void run(double ppm, double seconds, double *cap_wander,
		double *play_wander, uint64_t *cap_clicks,
		uint64_t *play_clicks, double *drift)
{
	static struct hw_pipe p;
	static struct sim s;
	struct hw_pipe_prm prm = {.rate = DEV_RATE, .ch_in = 1, .ch_out = 1,
				  .max_frames = PERIOD,
				  .shared_clock = true,
				  .where = {HW_HW, HW_HW, HW_HW}};
	struct hw_local_io io = {put, get, &s};
	const double dev_period = PERIOD / (DEV_RATE * (1 + ppm * 1e-6));
	double t = 0, next_tick = 0, cap_phase = 0, mix_phase = 0;
	double cmin = 1e9, cmax = -1e9, pmin = 1e9, pmax = -1e9;
	int16_t in[PERIOD], out[PERIOD];
	struct clicks cc = {2 * M_PI * TONE_HZ / HW_RATE, 0, 0, false, 0, 0,
			    0};
	struct clicks pc = {2 * M_PI * TONE_HZ / DEV_RATE, 0, 0, false, 0,
			    0, 0};
	uint64_t periods = 0, ticks = 0;
	int i;

	memset(&s, 0, sizeof(s));
	assert_int_equal(hw_pipe_init(&p, &prm), 0);
	/* the mixer starts with two frames queued for the room */
	while (t < seconds) {
		/* the card's next period, on its own clock */
		t = (double)periods * dev_period;
		for (i = 0; i < PERIOD; i++) {
			in[i] = (int16_t)lrint(AMP * sin(cap_phase));
			cap_phase += 2 * M_PI * TONE_HZ / DEV_RATE;
		}
		hw_pipe_capture(&p, in, PERIOD, t, true, &io);
		hw_pipe_playback(&p, out, PERIOD, t, true, &io);
		if (t > 1)
			click_feed(&pc, out, PERIOD);
		++periods;
		/* the mixer's ticks up to now, on the monotonic clock */
		while (next_tick <= t) {
			if (s.cap_w != s.cap_r) {
				if (next_tick > 1)
					click_feed(&cc, s.cap[s.cap_r % RING],
						   HW_FRAME);
				++s.cap_r;
			}
			if (s.play_w - s.play_r < RING) {
				int16_t *f = s.play[s.play_w++ % RING];

				for (i = 0; i < HW_FRAME; i++) {
					f[i] = (int16_t)lrint(AMP *
							      sin(mix_phase));
					mix_phase += 2 * M_PI * TONE_HZ /
						HW_RATE;
				}
			}
			++ticks;
			next_tick = ticks * 0.020;
		}
		/* after the loop settles, the phase errors are the delay's
		 * wander through each direction */
		if (t > 30) {
			double c = hw_pipe_phase_ms(&p, true);
			double q = hw_pipe_phase_ms(&p, false);

			cmin = fmin(cmin, c);
			cmax = fmax(cmax, c);
			pmin = fmin(pmin, q);
			pmax = fmax(pmax, q);
		}
	}
	*cap_wander = fmax(fabs(cmin), fabs(cmax));
	*play_wander = fmax(fabs(pmin), fabs(pmax));
	*cap_clicks = cc.bad;
	*play_clicks = pc.bad;
	*drift = hw_pipe_drift_ppm(&p);
	print_message("# %+.0f ppm, %.0f s: drift %.1f ppm, capture delay "
		      "wander %.2f ms, playback %.2f ms, clicks %llu/%llu "
		      "(worst residual %.0f/%.0f), mixer ring full %llu "
		      "empty %llu\n", ppm, seconds, *drift, *cap_wander,
		      *play_wander, (unsigned long long)cc.bad,
		      (unsigned long long)pc.bad, cc.worst, pc.worst,
		      (unsigned long long)s.cap_full,
		      (unsigned long long)s.play_empty);
	hw_pipe_free(&p);
}

static void test_drift(void **state)
{
	static const double ppmv[] = {100, -100, 0, 400};
	size_t k;
	(void)state;

	for (k = 0; k < sizeof(ppmv) / sizeof(ppmv[0]); k++) {
		double cw, pw, d;
		uint64_t cc, pc;

		run(ppmv[k], ppmv[k] == 100 || ppmv[k] == -100 ? 600 : 120,
		    &cw, &pw, &cc, &pc, &d);
		LB_CHECK(fabs(d - ppmv[k]) < 5, "drift %.1f ppm for a card "
			 "%+.0f ppm off", d, ppmv[k]);
		LB_CHECK(cw < 5 && pw < 5, "delay wander %.2f / %.2f ms",
			 cw, pw);
		LB_CHECK(cc == 0 && pc == 0, "clicks %llu / %llu",
			 (unsigned long long)cc, (unsigned long long)pc);
	}
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_drift),
};

LBTEST_GROUP(hwpipe, tests)
