/**
 * @file test_codec.c  G.711 tables, Opus round trip, and the encoder
 * state hand-over that shared encoding relies on.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <opus/opus.h>
#include "lbtest.h"
#include "codec.h"
#include "dsp.h"

static void test_g711(void **state)
{
	int s;
	(void)state;

	assert_int_equal(codec_ulaw_enc(0), 0xff);
	assert_int_equal(codec_alaw_enc(0), 0xd5);
	assert_int_equal(codec_ulaw_dec(0xff), 0);
	for (s = -32768; s <= 32767; s += 7) {
		int u = codec_ulaw_dec(codec_ulaw_enc((int16_t)s));
		int a = codec_alaw_dec(codec_alaw_enc((int16_t)s));
		int tol = abs(s) / 16 + 40;   /* ~ -30 dB relative error */

		if (abs(u - s) > tol || abs(a - s) > tol)
			fail_msg("G.711 s=%d ulaw %d alaw %d", s, u, a);
	}
	/* every code decodes and re-encodes to itself */
	for (s = 0; s < 256; s++) {
		assert_int_equal(codec_ulaw_enc(codec_ulaw_dec((uint8_t)s)) &
				 0xff, s == 0x7f ? 0xff : s);
		assert_int_equal(codec_alaw_enc(codec_alaw_dec((uint8_t)s)),
				 s);
	}
}

static void tone(int16_t *v, size_t n, double hz, double amp, size_t off)
{
	size_t i;

	for (i = 0; i < n; i++)
		v[i] = (int16_t)(amp * sin(2 * M_PI * hz * (double)(i + off) /
					   LB_SRATE));
}

static const struct codec_prm opus_prm = {
	.id = CODEC_OPUS, .pt = 111, .clock_hz = 48000, .ptime_ms = 20,
	.bitrate_bps = 16000, .max_bw_hz = 48000, .complexity = 5,
	.fec = true,
};

static void test_opus_roundtrip(void **state)
{
	struct codec_enc enc;
	struct codec_dec dec;
	int16_t in[LB_FRAME], out[LB_PKT_MAX_SAMPLES];
	uint8_t pkt[1500];
	double lvl = -120;
	int i, n, len;
	(void)state;

	assert_int_equal(codec_enc_init(&enc, &opus_prm), 0);
	assert_int_equal(codec_dec_init(&dec, CODEC_OPUS), 0);
	for (i = 0; i < 50; i++) {
		tone(in, LB_FRAME, 440, 8000, (size_t)i * LB_FRAME);
		len = codec_encode(&enc, in, LB_FRAME, pkt, sizeof(pkt));
		assert_true(len > 0 && len < 200);
		assert_int_equal(codec_pkt_samples(CODEC_OPUS, pkt,
						   (size_t)len), LB_FRAME);
		n = codec_decode(&dec, pkt, (size_t)len, out,
				 LB_PKT_MAX_SAMPLES);
		assert_int_equal(n, LB_FRAME);
		lvl = dsp_rms_dbfs(out, LB_FRAME);
	}
	/* 8000 peak sine: -12.3 dBFS peak, -15.3 RMS */
	assert_true(fabs(lvl - -15.3) < 1.5);
	/* garbage is refused, not crashed on */
	memset(pkt, 0xff, 40);
	assert_true(codec_decode(&dec, pkt, 3, out, LB_FRAME) < 0 ||
		    codec_pkt_samples(CODEC_OPUS, pkt, 3) < 0);
	codec_conceal(&dec, out, LB_FRAME);
	codec_enc_close(&enc);
	codec_dec_close(&dec);
}

/* A listener moved from the shared stream to its own must get exactly
 * the bytes the shared encoder would have produced: the copied state is
 * the whole state. */
static void test_opus_continue(void **state)
{
	struct codec_enc a, b;
	int16_t in[LB_FRAME];
	uint8_t pa[1500], pb[1500];
	int i, la, lb;
	(void)state;

	assert_int_equal(codec_enc_init(&a, &opus_prm), 0);
	assert_int_equal(codec_enc_init(&b, &opus_prm), 0);
	for (i = 0; i < 30; i++) {
		tone(in, LB_FRAME, 300 + 10 * i, 6000, (size_t)i * LB_FRAME);
		(void)codec_encode(&a, in, LB_FRAME, pa, sizeof(pa));
	}
	codec_enc_continue(&b, &a);
	for (i = 30; i < 60; i++) {
		tone(in, LB_FRAME, 300 + 10 * i, 6000, (size_t)i * LB_FRAME);
		la = codec_encode(&a, in, LB_FRAME, pa, sizeof(pa));
		lb = codec_encode(&b, in, LB_FRAME, pb, sizeof(pb));
		assert_int_equal(la, lb);
		assert_memory_equal(pa, pb, (size_t)la);
	}
	codec_enc_close(&a);
	codec_enc_close(&b);
}

/* A decoder reset after a second of audio decodes what follows exactly
 * as a new one does (the reset copies a fresh state rather than ask
 * libopus, whose reset runs CPUID: see codec_dec_reset), and goes on
 * doing so through a second reset. */
static void test_opus_reset(void **state)
{
	struct codec_enc enc;
	struct codec_dec a, b;
	int16_t in[LB_FRAME], oa[LB_PKT_MAX_SAMPLES], ob[LB_PKT_MAX_SAMPLES];
	uint8_t pkt[1500];
	int i, len, na, nb;
	(void)state;

	assert_int_equal(codec_enc_init(&enc, &opus_prm), 0);
	assert_int_equal(codec_dec_init(&a, CODEC_OPUS), 0);
	assert_int_equal(codec_dec_init(&b, CODEC_OPUS), 0);
	for (i = 0; i < 90; i++) {
		tone(in, LB_FRAME, 200 + 7 * i, 7000, (size_t)i * LB_FRAME);
		len = codec_encode(&enc, in, LB_FRAME, pkt, sizeof(pkt));
		assert_true(len > 0);
		if (i == 50 || i == 70) {
			codec_dec_reset(&a);
			codec_dec_close(&b);
			assert_int_equal(codec_dec_init(&b, CODEC_OPUS), 0);
		}
		na = codec_decode(&a, pkt, (size_t)len, oa,
				  LB_PKT_MAX_SAMPLES);
		nb = codec_decode(&b, pkt, (size_t)len, ob,
				  LB_PKT_MAX_SAMPLES);
		assert_int_equal(na, LB_FRAME);
		assert_int_equal(na, nb);
		if (i >= 50)
			assert_memory_equal(oa, ob,
					    sizeof(int16_t) * LB_FRAME);
	}
	codec_enc_close(&enc);
	codec_dec_close(&a);
	codec_dec_close(&b);
}

/* Speech-like input (a pitch pulse train through formants, syllables
 * of 200 ms) and low noise: the SILK VAD bits read from the packets
 * follow the signal; and Opus's own DTX, which stops sending only after
 * 200 ms its VAD called silent, never stops after a packet we read as
 * voiced. */
static void test_opus_voice_bits(void **state)
{
	struct codec_prm prm = opus_prm;
	struct codec_enc enc;
	int16_t in[LB_FRAME];
	uint8_t pkt[1500];
	uint32_t seed = 1;
	int i, len, voiced_speech = 0, voiced_quiet = 0, dtx = 0;
	int run_quiet = 0;
	size_t k;
	(void)state;

	assert_int_equal(codec_enc_init(&enc, &prm), 0);
	for (i = 0; i < 400; i++) {
		const bool talk = i < 200 && (i / 10) % 2 == 0;
		double f0 = 110 + 20 * sin(i * 0.3);

		for (k = 0; k < LB_FRAME; k++) {
			const double t = (double)(i * LB_FRAME + (int)k) /
				LB_SRATE;
			double v = 0;

			seed = seed * 1664525u + 1013904223u;
			v = ((double)(seed >> 16) / 65536.0 - 0.5) * 20;
			if (talk) {
				v += 3000 * sin(2 * M_PI * f0 * t) *
					(0.6 + 0.4 * sin(2 * M_PI * 3 * t)) +
					2000 * sin(2 * M_PI * 3 * f0 * t) +
					1000 * sin(2 * M_PI * 7 * f0 * t);
			}
			in[k] = (int16_t)v;
		}
		len = codec_encode(&enc, in, LB_FRAME, pkt, sizeof(pkt));
		assert_true(len > 0);
		if (i >= 20 && i < 200 && talk && i % 10 >= 2)
			voiced_speech += codec_pkt_voice(CODEC_OPUS, pkt,
							  (size_t)len);
		if (i >= 250)
			voiced_quiet += codec_pkt_voice(CODEC_OPUS, pkt,
							 (size_t)len);
	}
	/* 72 frames of "speech" checked, 150 of noise at -64 dBFS */
	print_message("voice bits: speech %d/72, noise %d/150\n",
		      voiced_speech, voiced_quiet);
	assert_true(voiced_speech >= 65);
	assert_true(voiced_quiet <= 15);
	codec_enc_close(&enc);

	/* DTX: a 1-2 byte packet follows 10 frames the VAD called silent */
	prm.bitrate_bps = 16000;
	assert_int_equal(codec_enc_init(&enc, &prm), 0);
	opus_encoder_ctl(enc.opus, OPUS_SET_DTX(1));
	for (i = 0; i < 300; i++) {
		const bool talk = (i / 25) % 3 == 0;

		for (k = 0; k < LB_FRAME; k++)
			in[k] = talk ? (int16_t)(3000 * sin(2 * M_PI * 150 *
				(double)(i * LB_FRAME + (int)k) / LB_SRATE)) :
				0;
		len = codec_encode(&enc, in, LB_FRAME, pkt, sizeof(pkt));
		if (len <= 2) {
			++dtx;
			assert_true(run_quiet >= 10);
			assert_false(codec_pkt_voice(CODEC_OPUS, pkt,
						     (size_t)len));
			continue;
		}
		if (codec_pkt_voice(CODEC_OPUS, pkt, (size_t)len))
			run_quiet = 0;
		else
			++run_quiet;
	}
	assert_true(dtx > 50);
	codec_enc_close(&enc);

	/* not Opus, garbage, CELT-only: assume voice */
	pkt[0] = 0xff;
	assert_true(codec_pkt_voice(CODEC_PCMU, pkt, 160));
	assert_true(codec_pkt_voice(CODEC_OPUS, pkt, 1));
	pkt[0] = 16 << 3;
	pkt[1] = 0;
	assert_true(codec_pkt_voice(CODEC_OPUS, pkt, 2));
}

static void test_g711_resample(void **state)
{
	const struct codec_prm prm = {.id = CODEC_PCMA, .pt = 8,
				      .clock_hz = 8000, .ptime_ms = 40};
	struct codec_enc enc;
	struct codec_dec dec;
	int16_t in[2 * LB_FRAME], out[LB_PKT_MAX_SAMPLES];
	uint8_t pkt[400];
	int i, len, n = 0;
	(void)state;

	assert_int_equal(codec_enc_init(&enc, &prm), 0);
	assert_int_equal(codec_dec_init(&dec, CODEC_PCMA), 0);
	for (i = 0; i < 20; i++) {
		tone(in, 2 * LB_FRAME, 1000, 10000, (size_t)i * 2 * LB_FRAME);
		len = codec_encode(&enc, in, 2 * LB_FRAME, pkt, sizeof(pkt));
		assert_int_equal(len, 320);        /* 40 ms at 8 kHz */
		n = codec_decode(&dec, pkt, (size_t)len, out,
				 LB_PKT_MAX_SAMPLES);
		assert_int_equal(n, 2 * LB_FRAME);
	}
	assert_true(fabs(dsp_rms_dbfs(out, (size_t)n) - -13.3) < 1.0);
	codec_enc_close(&enc);
	codec_dec_close(&dec);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_g711),
	cmocka_unit_test(test_opus_roundtrip),
	cmocka_unit_test(test_opus_continue),
	cmocka_unit_test(test_opus_reset),
	cmocka_unit_test(test_g711_resample),
	cmocka_unit_test(test_opus_voice_bits),
};

LBTEST_GROUP(codec, tests)
