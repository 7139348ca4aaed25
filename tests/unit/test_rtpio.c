/**
 * @file test_rtpio.c  RTP parsing/building and RFC 3550 statistics.
 */
#include <errno.h>
#include <string.h>
#include "lbtest.h"
#include "rtpio.h"

static void test_roundtrip(void **state)
{
	uint8_t buf[64];
	struct rtpio_hdr h;
	(void)state;

	assert_int_equal(rtpio_build(buf, 111, true, 65535, 0xdeadbeef,
				     0x01020304), 12);
	memset(buf + 12, 0xaa, 20);
	assert_int_equal(rtpio_parse(&h, buf, 32), 0);
	assert_int_equal(h.pt, 111);
	assert_true(h.marker);
	assert_int_equal(h.seq, 65535);
	assert_int_equal(h.ts, 0xdeadbeef);
	assert_int_equal(h.ssrc, 0x01020304);
	assert_int_equal(h.payload_off, 12);
	assert_int_equal(h.payload_len, 20);
}

static void test_malformed(void **state)
{
	uint8_t buf[64] = {0};
	struct rtpio_hdr h;
	(void)state;

	rtpio_build(buf, 0, false, 1, 2, 3);
	assert_int_equal(rtpio_parse(&h, buf, 11), EBADMSG);   /* short */
	buf[0] = 0x40;                                           /* v1 */
	assert_int_equal(rtpio_parse(&h, buf, 40), EBADMSG);
	buf[0] = 0x8f;                         /* 15 CSRCs: 72 bytes */
	assert_int_equal(rtpio_parse(&h, buf, 40), EBADMSG);
	assert_int_equal(rtpio_parse(&h, buf, 64), EBADMSG);
	buf[0] = 0x90;                         /* extension, bad length */
	buf[14] = 0xff;
	buf[15] = 0xff;
	assert_int_equal(rtpio_parse(&h, buf, 40), EBADMSG);
	buf[0] = 0xa0;                         /* padding > payload */
	buf[39] = 40;
	assert_int_equal(rtpio_parse(&h, buf, 40), EBADMSG);
	buf[39] = 0;                           /* padding count 0 */
	assert_int_equal(rtpio_parse(&h, buf, 40), EBADMSG);
	buf[39] = 4;
	assert_int_equal(rtpio_parse(&h, buf, 40), 0);
	assert_int_equal(h.payload_len, 40 - 12 - 4);
	buf[0] = 0x80;                         /* RTCP RR on the RTP port */
	buf[1] = 201;
	assert_int_equal(rtpio_parse(&h, buf, 40), EPROTO);
}

static void test_csrc_ext(void **state)
{
	uint8_t buf[64] = {0};
	struct rtpio_hdr h;
	(void)state;

	rtpio_build(buf, 96, false, 7, 8, 9);
	buf[0] |= 0x12;                /* 2 CSRCs + extension */
	buf[20 + 2] = 0;
	buf[20 + 3] = 1;               /* one extension word */
	assert_int_equal(rtpio_parse(&h, buf, 40), 0);
	assert_int_equal(h.payload_off, 12 + 8 + 4 + 4);
	assert_int_equal(h.payload_len, 40 - 28);
}

static void test_rx_stats(void **state)
{
	struct rtpio_rx rx;
	uint32_t i, seq = 65500, ts = 1000;
	(void)state;

	rtpio_rx_init(&rx);
	/* 200 packets across the 16-bit wrap, every 10th lost, arrival
	 * exactly on time: jitter 0 */
	for (i = 0; i < 200; i++, seq++, ts += 960) {
		if (i % 10 == 5)
			continue;
		rtpio_rx_update(&rx, (uint16_t)seq, ts, ts + 5000);
	}
	assert_int_equal(rtpio_rx_expected(&rx), 200);
	assert_int_equal(rx.received, 180);
	assert_int_equal(rtpio_rx_lost(&rx), 20);
	assert_int_equal(rtpio_rx_ext_max(&rx), 65536u + (65500 + 199 -
							   65536));
	assert_true(rx.jitter < 0.001);
	/* every 10th lost: 20 runs of one */
	assert_int_equal(rx.bursts, 20);
	assert_int_equal(rx.burst_pkts, 20);
	/* 10 % lost since start: fraction 25/256 */
	assert_int_equal(rtpio_rx_fraction(&rx), 25);
	assert_int_equal(rtpio_rx_fraction(&rx), 0);

	/* constant 20 ms (960 ts) alternating lateness: jitter grows */
	for (i = 0; i < 100; i++, seq++, ts += 960)
		rtpio_rx_update(&rx, (uint16_t)seq, ts,
				ts + 5000 + (i & 1 ? 960 : 0));
	assert_true(rx.jitter > 800 && rx.jitter < 1000);
}

/* Loss runs: the bursts G.107's BurstR and the link figures use. */
static void test_rx_bursts(void **state)
{
	static const uint16_t gaps[] = {1, 3, 1, 5};   /* lost each time */
	struct rtpio_rx rx;
	uint32_t seq = 100, ts = 0, k, i;
	(void)state;

	rtpio_rx_init(&rx);
	for (k = 0; k < 4; k++) {
		for (i = 0; i < 10; i++, seq++, ts += 160)
			rtpio_rx_update(&rx, (uint16_t)seq, ts, ts);
		seq += gaps[k];
		ts += 160u * gaps[k];
	}
	rtpio_rx_update(&rx, (uint16_t)seq, ts, ts);
	assert_int_equal(rx.bursts, 4);
	assert_int_equal(rx.burst_pkts, 10);
	assert_int_equal(rtpio_rx_lost(&rx), 10);
	/* a duplicate and a late one are not runs */
	rtpio_rx_update(&rx, (uint16_t)seq, ts, ts);
	rtpio_rx_update(&rx, (uint16_t)(seq - 20), ts, ts);
	assert_int_equal(rx.bursts, 4);
}

static void test_rtcp_build(void **state)
{
	uint8_t buf[128];
	struct rtpio_rb rb = {.ssrc = 5, .fraction = 12, .lost = 34,
			      .ext_max = 70000, .jitter = 99};
	size_t n;
	(void)state;

	n = rtpio_rtcp_build(buf, sizeof(buf), 0x11223344, 0, 0, 10, 1000,
			     &rb, "lowbridge");
	/* SR 8+20+24, SDES 4+4+2+9+1 -> 20 */
	assert_int_equal(n, 52 + 20);
	assert_int_equal(buf[1], 200);
	assert_int_equal(buf[0] & 0x1f, 1);
	assert_int_equal(((buf[2] << 8) | buf[3]) * 4 + 4, 52);
	assert_int_equal(buf[52 + 1], 202);
	n = rtpio_rtcp_build(buf, sizeof(buf), 1, 0, 0, 0, 0, NULL, "x");
	assert_int_equal(buf[1], 201);          /* nothing sent: RR */
	assert_int_equal(n, 8 + 12);
	assert_int_equal(rtpio_rtcp_build(buf, 10, 1, 0, 0, 0, 0, NULL, "x"),
			 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_roundtrip),
	cmocka_unit_test(test_malformed),
	cmocka_unit_test(test_csrc_ext),
	cmocka_unit_test(test_rx_stats),
	cmocka_unit_test(test_rx_bursts),
	cmocka_unit_test(test_rtcp_build),
};

LBTEST_GROUP(rtpio, tests)
