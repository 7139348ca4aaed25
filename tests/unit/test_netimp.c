/**
 * @file test_netimp.c  The test sites' network impairment (tests/lib/
 * netimp.c): the loss it applies is the loss asked for, bursts have the
 * mean length asked for, jitter stays within its bound and reorders,
 * the cap holds the wire rate, and a seed repeats a run exactly.
 */
#include <string.h>
#include "lbtest.h"
#include "netimp.h"

#define PKTS 200000
#define STEP_NS 20000000ll           /* a packet every 20 ms */

static struct netimp n;

static void run(const struct netimp_prm *p, double *loss, double *burst,
		uint64_t *reordered, double *max_delay_ms, double *kbps)
{
	uint8_t pkt[200], out[NETIMP_PKT];
	size_t len;
	uint64_t runs = 0, lost_total = 0, got = 0, bytes = 0;
	uint32_t last_seq = 0;
	int64_t t = 0, last_t = 0;
	bool in_run = false;
	uint32_t i;

	netimp_init(&n, p);
	*reordered = 0;
	*max_delay_ms = 0;
	memset(pkt, 0, sizeof(pkt));
	for (i = 0; i < PKTS; i++) {
		uint64_t before = n.lost + n.capped;

		t = (int64_t)i * STEP_NS;
		memcpy(pkt, &i, sizeof(i));
		memcpy(pkt + 4, &t, sizeof(t));
		netimp_put(&n, pkt, 80, t);
		if (n.lost + n.capped > before) {
			++lost_total;
			if (!in_run)
				++runs;
			in_run = true;
		}
		else {
			in_run = false;
		}
		while (netimp_get(&n, t, out, &len)) {
			uint32_t seq;
			int64_t sent;

			memcpy(&seq, out, sizeof(seq));
			memcpy(&sent, out + 4, sizeof(sent));
			if (got && seq < last_seq)
				++*reordered;
			last_seq = seq;
			if ((t - sent) / 1e6 > *max_delay_ms)
				*max_delay_ms = (t - sent) / 1e6;
			bytes += len + NETIMP_IP_UDP;
			++got;
			last_t = t;
		}
	}
	*loss = 100.0 * lost_total / PKTS;
	*burst = runs ? (double)lost_total / runs : 0;
	*kbps = last_t ? bytes * 8.0 / (last_t / 1e9) / 1000 : 0;
}

static void test_netimp(void **state)
{
	struct netimp_prm p;
	double loss, burst, dmax, kbps;
	uint64_t re;
	(void)state;

	memset(&p, 0, sizeof(p));
	p.loss_pct = 15;
	p.seed = lbtest_seed();
	run(&p, &loss, &burst, &re, &dmax, &kbps);
	print_message("# random 15 %%: loss %.2f %%, mean burst %.2f\n",
		      loss, burst);
	LB_CHECK(loss > 14.5 && loss < 15.5, "loss %.2f", loss);
	LB_CHECK(burst < 1.3, "burst %.2f", burst);

	p.loss_pct = 10;
	p.burst = 3;
	run(&p, &loss, &burst, &re, &dmax, &kbps);
	print_message("# Gilbert-Elliott 10 %%, burst 3: loss %.2f %%, mean "
		      "burst %.2f\n", loss, burst);
	LB_CHECK(loss > 9.3 && loss < 10.7, "loss %.2f", loss);
	LB_CHECK(burst > 2.8 && burst < 3.2, "burst %.2f", burst);

	memset(&p, 0, sizeof(p));
	p.jitter_ms = 60;
	p.seed = 7;
	run(&p, &loss, &burst, &re, &dmax, &kbps);
	print_message("# jitter 60 ms: largest delay %.1f ms, %llu "
		      "reordered\n", dmax, (unsigned long long)re);
	LB_CHECK(dmax <= 80 && dmax >= 40, "max delay %.1f", dmax);
	LB_CHECK(re > 1000, "reordered %llu", (unsigned long long)re);

	memset(&p, 0, sizeof(p));
	p.cap_kbps = 24;
	run(&p, &loss, &burst, &re, &dmax, &kbps);
	/* 108 bytes on the wire every 20 ms is 43.2 kbit/s offered */
	print_message("# cap 24 kbit/s: %.1f kbit/s through, %.1f %% "
		      "dropped, largest delay %.0f ms\n", kbps, loss, dmax);
	LB_CHECK(kbps > 23 && kbps <= 24.1, "kbps %.1f", kbps);
	/* the queue (200 ms), a packet's own time on the line and the
	 * 20 ms the test polls at */
	LB_CHECK(dmax <= 260, "delay %.0f", dmax);

	/* the same seed, the same run */
	memset(&p, 0, sizeof(p));
	p.loss_pct = 20;
	p.burst = 2;
	p.seed = 42;
	run(&p, &loss, &burst, &re, &dmax, &kbps);
	{
		const double l1 = loss;

		run(&p, &loss, &burst, &re, &dmax, &kbps);
		LB_CHECK(loss == l1, "%.4f vs %.4f", loss, l1);
	}
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_netimp),
};

LBTEST_GROUP(netimp, tests)
