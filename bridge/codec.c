/**
 * @file codec.c  Opus and G.711 wrappers around the 16 kHz mixer.
 *
 * Opus decodes straight to 16 kHz (libopus resamples internally, cheaper
 * than a separate resampler) and encodes 16 kHz input; its RTP clock is
 * always 48 kHz (RFC 7587). G.711 runs at 8 kHz through SpeexDSP's
 * resampler at quality 3 (dsp-costs.md: 5 us per frame).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <opus/opus.h>
#include <speex/speex_resampler.h>
#include "codec.h"

#define RESAMPLE_Q 3

const char *codec_name(enum codec_id id)
{
	switch (id) {
	case CODEC_OPUS: return "opus";
	case CODEC_PCMU: return "PCMU";
	case CODEC_PCMA: return "PCMA";
	default:         return "none";
	}
}

bool codec_prm_same_stream(const struct codec_prm *a,
			   const struct codec_prm *b)
{
	if (a->id != b->id || a->ptime_ms != b->ptime_ms)
		return false;
	if (a->id != CODEC_OPUS)
		return true;
	return a->bitrate_bps == b->bitrate_bps &&
		a->max_bw_hz == b->max_bw_hz &&
		a->complexity == b->complexity && a->fec == b->fec &&
		a->dtx == b->dtx && a->cbr == b->cbr &&
		(!a->fec || a->loss_pct == b->loss_pct);
}

/* ---- G.711 -------------------------------------------------------------- */

uint8_t codec_ulaw_enc(int16_t s)
{
	int x = s, sign = 0, exp, mant;

	if (x < 0) {
		x = -x;
		sign = 0x80;
	}
	x += 0x84;                  /* bias */
	if (x > 0x7fff)
		x = 0x7fff;
	for (exp = 7; exp > 0 && !(x & (0x4000 >> (7 - exp))); exp--)
		;
	mant = (x >> (exp + 3)) & 0x0f;
	return (uint8_t)~(sign | (exp << 4) | mant);
}

int16_t codec_ulaw_dec(uint8_t u)
{
	int x, exp, mant;

	u = (uint8_t)~u;
	exp = (u >> 4) & 0x07;
	mant = u & 0x0f;
	x = ((mant << 3) + 0x84) << exp;
	x -= 0x84;
	return (int16_t)((u & 0x80) ? -x : x);
}

uint8_t codec_alaw_enc(int16_t s)
{
	int x = s, sign, exp, mant;

	if (x >= 0) {
		sign = 0x80;
	}
	else {
		sign = 0;
		x = -x - 1;
	}
	if (x > 0x7fff)
		x = 0x7fff;
	if (x < 256) {
		exp = 0;
		mant = x >> 4;
	}
	else {
		for (exp = 7; exp > 1 && !(x & (0x4000 >> (7 - exp))); exp--)
			;
		mant = (x >> (exp + 3)) & 0x0f;
	}
	return (uint8_t)((sign | (exp << 4) | mant) ^ 0x55);
}

int16_t codec_alaw_dec(uint8_t a)
{
	int x, exp, mant;

	a ^= 0x55;
	exp = (a >> 4) & 0x07;
	mant = a & 0x0f;
	if (exp == 0)
		x = (mant << 4) + 8;
	else
		x = ((mant << 4) + 0x108) << (exp - 1);
	return (int16_t)((a & 0x80) ? x : -x);
}

/* ---- decoders ----------------------------------------------------------- */

/* A decoder as OPUS_RESET_STATE leaves one, for codec_dec_reset().
 * libopus 1.3 asks the CPU for its features (CPUID, twice) each time it
 * sets up a SILK channel: 4 times in a reset, twice more in the first
 * decode of a decoder that never decoded (its second channel). Where
 * CPUID traps to the hypervisor (this machine class) that is 3.8 us
 * each: 15.6 us a reset against 4.5 us for a decode and 0.3 us for
 * copying this state. With a site's idle frames decoded one in eight
 * and a reset before each, it was 13 % of the bridge at N = 2000.
 * libopus documents its decoder state as contiguous, copied by a
 * shallow copy; ours are all 16 kHz mono with default settings. This
 * one has decoded one SILK frame, then been reset: what a reset of a
 * working decoder gives, bit for bit. */
static struct OpusDecoder *fresh_opus;
static size_t fresh_opus_size;
static pthread_once_t fresh_once = PTHREAD_ONCE_INIT;

static void fresh_init(void)
{
	int16_t pcm[LB_FRAME] = {0};
	uint8_t pkt[400];
	OpusEncoder *enc;
	int err = 0, len;

	fresh_opus = opus_decoder_create(LB_SRATE, 1, &err);
	if (err != OPUS_OK) {
		fresh_opus = NULL;
		return;
	}
	fresh_opus_size = (size_t)opus_decoder_get_size(1);
	enc = opus_encoder_create(LB_SRATE, 1, OPUS_APPLICATION_VOIP, &err);
	if (err != OPUS_OK)
		return;
	(void)opus_encoder_ctl(enc, OPUS_SET_BITRATE(16000));
	(void)opus_encoder_ctl(enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
	len = opus_encode(enc, pcm, LB_FRAME, pkt, sizeof(pkt));
	opus_encoder_destroy(enc);
	if (len > 1 && (pkt[0] >> 3) < 12)         /* SILK-only */
		len = opus_decode(fresh_opus, pkt, len, pcm, LB_FRAME, 0);
	(void)opus_decoder_ctl(fresh_opus, OPUS_RESET_STATE);
}

int codec_dec_init(struct codec_dec *dec, enum codec_id id)
{
	int err = 0;

	if (!dec)
		return EINVAL;
	memset(dec, 0, sizeof(*dec));
	dec->id = id;

	switch (id) {

	case CODEC_OPUS:
		dec->opus = opus_decoder_create(LB_SRATE, 1, &err);
		if (err != OPUS_OK)
			return ENOMEM;
		(void)pthread_once(&fresh_once, fresh_init);
		break;

	case CODEC_PCMU:
	case CODEC_PCMA:
		dec->up = speex_resampler_init(1, 8000, LB_SRATE, RESAMPLE_Q,
					       &err);
		if (!dec->up)
			return ENOMEM;
		break;

	default:
		return ENOTSUP;
	}
	return 0;
}

void codec_dec_close(struct codec_dec *dec)
{
	if (!dec)
		return;
	if (dec->opus)
		opus_decoder_destroy(dec->opus);
	if (dec->up)
		speex_resampler_destroy(dec->up);
	dec->opus = NULL;
	dec->up = NULL;
}

int codec_pkt_samples(enum codec_id id, const uint8_t *pkt, size_t len)
{
	int n;

	if (!pkt || !len)
		return -1;
	switch (id) {

	case CODEC_OPUS:
		n = opus_packet_get_nb_samples(pkt, (opus_int32)len,
					       LB_SRATE);
		return (n > 0 && n <= LB_PKT_MAX_SAMPLES) ? n : -1;

	case CODEC_PCMU:
	case CODEC_PCMA:
		/* 8 kHz bytes, one per sample; keep it whole 2.5 ms */
		if (len % 20 || len * 2 > LB_PKT_MAX_SAMPLES)
			return -1;
		return (int)len * 2;

	default:
		return -1;
	}
}

/* SILK frames (the SILK-only and hybrid modes) begin with one
 * voice-activity bit per 20 ms, the first symbols of the range coder at
 * probability 1/2, i.e. the frame's leading bits (RFC 6716 4.2.3): the
 * sender's own VAD, read without decoding. */
bool codec_pkt_voice(enum codec_id id, const uint8_t *pkt, size_t len)
{
	static const int silk_bits[4] = {1, 1, 2, 3};  /* 10-60 ms */
	const unsigned char *fr[48];
	opus_int16 sz[48];
	unsigned char toc;
	int n, i, bits, cfg;

	if (id != CODEC_OPUS || !pkt || !len)
		return true;
	cfg = pkt[0] >> 3;
	/* CELT has no such bit; stereo puts the side channel's after
	 * the mid's and an LBRR flag between */
	if (cfg >= 16 || (pkt[0] & 0x04))
		return true;
	n = opus_packet_parse(pkt, (opus_int32)len, &toc, fr, sz, NULL);
	if (n <= 0)
		return true;
	bits = cfg < 12 ? silk_bits[cfg & 3] : 1;
	for (i = 0; i < n; i++) {
		/* 0 or 1 byte: a DTX frame, nothing coded */
		if (sz[i] > 1 && (fr[i][0] >> (8 - bits)) != 0)
			return true;
	}
	return false;
}

static int g711_up(struct codec_dec *dec, const int16_t *in8, size_t n8,
		   int16_t *out, size_t max)
{
	spx_uint32_t inlen = (spx_uint32_t)n8, outlen = (spx_uint32_t)max;

	speex_resampler_process_int(dec->up, 0, in8, &inlen, out, &outlen);
	return (int)outlen;
}

void codec_dec_reset(struct codec_dec *dec)
{
	if (!dec || dec->id != CODEC_OPUS || !dec->opus)
		return;
	if (fresh_opus)
		memcpy(dec->opus, fresh_opus, fresh_opus_size);
	else
		opus_decoder_ctl(dec->opus, OPUS_RESET_STATE);
}

int codec_decode(struct codec_dec *dec, const uint8_t *pkt, size_t len,
		 int16_t *out, size_t max)
{
	int16_t pcm8[LB_PKT_MAX_SAMPLES / 2];
	size_t i, n8;
	int n;

	switch (dec->id) {

	case CODEC_OPUS:
		n = opus_decode(dec->opus, pkt, (opus_int32)len, out,
				(int)max, 0);
		if (n < 0)
			return -1;
		dec->concealed = 0;
		return n;

	case CODEC_PCMU:
	case CODEC_PCMA:
		n = codec_pkt_samples(dec->id, pkt, len);
		if (n < 0 || (size_t)n > max)
			return -1;
		n8 = len;
		for (i = 0; i < n8; i++)
			pcm8[i] = dec->id == CODEC_PCMU ?
				codec_ulaw_dec(pkt[i]) :
				codec_alaw_dec(pkt[i]);
		n = g711_up(dec, pcm8, n8, out, max);
		if (n >= LB_FRAME)
			memcpy(dec->last, out + n - LB_FRAME,
			       sizeof(dec->last));
		dec->concealed = 0;
		return n;

	default:
		return -1;
	}
}

void codec_conceal(struct codec_dec *dec, int16_t *out, size_t n)
{
	size_t i;

	if (dec->id == CODEC_OPUS) {
		if (opus_decode(dec->opus, NULL, 0, out, (int)n, 0) !=
		    (int)n)
			memset(out, 0, n * sizeof(*out));
		++dec->concealed;
		return;
	}

	/* G.711: repeat the last 20 ms at -6 dB per repeat, then silence;
	 * crude, but a gateway leg rarely loses packets on the LAN side. */
	for (i = 0; i < n; i++) {
		int32_t s = dec->last[i % LB_FRAME];

		s >>= (dec->concealed + 1);
		out[i] = dec->concealed < 3 ? (int16_t)s : 0;
	}
	if (dec->concealed < 3) {
		for (i = 0; i < LB_FRAME; i++)
			dec->last[i] /= 2;
	}
	++dec->concealed;
}

void codec_decode_fec(struct codec_dec *dec, const uint8_t *next,
		      size_t len, int16_t *out, size_t n)
{
	if (dec->id != CODEC_OPUS || !next ||
	    opus_decode(dec->opus, next, (opus_int32)len, out, (int)n, 1) !=
	    (int)n) {
		codec_conceal(dec, out, n);
		return;
	}
	dec->concealed = 0;
}

/* ---- encoders ----------------------------------------------------------- */

static opus_int32 opus_bw(uint32_t max_bw_hz)
{
	if (max_bw_hz <= 8000)
		return OPUS_BANDWIDTH_NARROWBAND;
	if (max_bw_hz <= 12000)
		return OPUS_BANDWIDTH_MEDIUMBAND;
	return OPUS_BANDWIDTH_WIDEBAND;  /* the mix is 16 kHz */
}

/* The settings a profile move may change; none of them resets the
 * encoder (opus_encoder_ctl only stores them for the next frame). */
static void opus_apply(OpusEncoder *opus, const struct codec_prm *prm)
{
	/* FEC only costs bits when the encoder expects loss; without a
	 * measured figure plan for 10 % so the first losses are covered */
	const uint32_t loss = !prm->fec ? 0 : prm->loss_pct ? prm->loss_pct :
		10;

	opus_encoder_ctl(opus, OPUS_SET_BITRATE((opus_int32)prm->bitrate_bps));
	opus_encoder_ctl(opus,
			 OPUS_SET_COMPLEXITY((opus_int32)prm->complexity));
	opus_encoder_ctl(opus,
			 OPUS_SET_MAX_BANDWIDTH(opus_bw(prm->max_bw_hz)));
	opus_encoder_ctl(opus, OPUS_SET_INBAND_FEC(prm->fec));
	opus_encoder_ctl(opus, OPUS_SET_DTX(prm->dtx));
	opus_encoder_ctl(opus, OPUS_SET_VBR(!prm->cbr));
	opus_encoder_ctl(opus, OPUS_SET_PACKET_LOSS_PERC(
				 (opus_int32)(loss > 100 ? 100 : loss)));
}

int codec_enc_init(struct codec_enc *enc, const struct codec_prm *prm)
{
	int err = 0;

	if (!enc || !prm)
		return EINVAL;
	memset(enc, 0, sizeof(*enc));
	enc->prm = *prm;

	switch (prm->id) {

	case CODEC_OPUS:
		enc->opus = opus_encoder_create(LB_SRATE, 1,
						OPUS_APPLICATION_VOIP, &err);
		if (err != OPUS_OK)
			return ENOMEM;
		enc->opus_size = (size_t)opus_encoder_get_size(1);
		opus_encoder_ctl(enc->opus,
				 OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
		opus_apply(enc->opus, prm);
		break;

	case CODEC_PCMU:
	case CODEC_PCMA:
		enc->down = speex_resampler_init(1, LB_SRATE, 8000,
						 RESAMPLE_Q, &err);
		if (!enc->down)
			return ENOMEM;
		break;

	default:
		return ENOTSUP;
	}
	return 0;
}

void codec_enc_close(struct codec_enc *enc)
{
	if (!enc)
		return;
	if (enc->opus)
		opus_encoder_destroy(enc->opus);
	if (enc->down)
		speex_resampler_destroy(enc->down);
	enc->opus = NULL;
	enc->down = NULL;
}

int codec_encode(struct codec_enc *enc, const int16_t *pcm, size_t n,
		 uint8_t *out, size_t outsz)
{
	int16_t pcm8[LB_PTIME_MAX_MS * 8];
	spx_uint32_t inlen, outlen;
	size_t i;
	int r;

	switch (enc->prm.id) {

	case CODEC_OPUS:
		r = opus_encode(enc->opus, pcm, (int)n, out,
				(opus_int32)outsz);
		return r > 0 ? r : -1;

	case CODEC_PCMU:
	case CODEC_PCMA:
		inlen = (spx_uint32_t)n;
		outlen = (spx_uint32_t)(n / 2);
		if (outlen > sizeof(pcm8) / sizeof(pcm8[0]) || outlen > outsz)
			return -1;
		speex_resampler_process_int(enc->down, 0, pcm, &inlen, pcm8,
					    &outlen);
		for (i = 0; i < outlen; i++)
			out[i] = enc->prm.id == CODEC_PCMU ?
				codec_ulaw_enc(pcm8[i]) :
				codec_alaw_enc(pcm8[i]);
		return (int)outlen;

	default:
		return -1;
	}
}

int codec_enc_set(struct codec_enc *enc, const struct codec_prm *prm)
{
	if (!enc || !prm || prm->id != enc->prm.id || !prm->ptime_ms ||
	    prm->ptime_ms > LB_PTIME_MAX_MS || prm->ptime_ms % 20)
		return EINVAL;
	if (enc->opus)
		opus_apply(enc->opus, prm);
	enc->prm = *prm;
	return 0;
}

void codec_enc_continue(struct codec_enc *dst, const struct codec_enc *src)
{
	if (dst->prm.id != src->prm.id)
		return;
	if (dst->opus && src->opus && dst->opus_size == src->opus_size)
		memcpy(dst->opus, src->opus, dst->opus_size);
	else if (dst->down)
		speex_resampler_reset_mem(dst->down);
	dst->prm = src->prm;
}
