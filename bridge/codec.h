/**
 * @file codec.h  Audio codecs at the edge of the 16 kHz mono mixer:
 * Opus (RFC 7587), PCMU and PCMA (G.711), with PLC and Opus FEC.
 *
 * Decoders and encoders are allocated on the control side (init/close)
 * and used by the mixer thread only (decode/encode are RT-safe).
 */
#ifndef LB_CODEC_H
#define LB_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LB_SRATE 16000          /* internal sample rate, Hz */
#define LB_FRAME 320            /* internal frame: 20 ms at 16 kHz */
#define LB_PTIME_MAX_MS 60
#define LB_PKT_MAX_SAMPLES 1920 /* 120 ms at 16 kHz: Opus's longest */

enum codec_id {
	CODEC_NONE = 0,
	CODEC_OPUS,
	CODEC_PCMU,
	CODEC_PCMA,
};

/** What a site negotiated. Payload types can differ between sites that
 *  share one encoded stream; everything else here must match. */
struct codec_prm {
	enum codec_id id;
	uint8_t pt;             /* payload type we send */
	uint8_t tel_pt;         /* telephone-event PT, 0 = none */
	uint32_t clock_hz;      /* RTP clock: 48000 Opus, 8000 G.711 */
	uint32_t ptime_ms;      /* 20, 40 or 60 */
	uint32_t bitrate_bps;   /* Opus target */
	uint32_t max_bw_hz;     /* Opus: remote maxplaybackrate (<= 48000) */
	uint32_t complexity;    /* Opus */
	bool fec;               /* Opus: remote decodes in-band FEC */
	bool dtx;               /* Opus: silence goes as DTX, a frame in
				   400 ms (RFC 7587 usedtx) */
	bool cbr;               /* Opus: constant bitrate (RFC 7587 cbr=1:
				   a capped line's receiver asks it) */
	uint32_t loss_pct;      /* Opus: packet loss the encoder plans for
				   (FEC strength); 0 with fec: 10 % */
	uint32_t maxptime_ms;   /* the longest packets the site takes
				   (its a=maxptime, at most 60); not part
				   of the stream's identity */
	uint32_t max_bitrate_bps; /* Opus: the most the site takes (its
				   maxaveragebitrate; 0: no limit); not
				   part of the stream's identity */
};

const char *codec_name(enum codec_id id);

/** True when one encoded stream can serve both (same payload bytes). */
bool codec_prm_same_stream(const struct codec_prm *a,
			   const struct codec_prm *b);

/** RTP timestamp units per 20 ms mixer frame. */
static inline uint32_t codec_frame_ts(const struct codec_prm *prm)
{
	return prm->clock_hz / 50;
}

struct codec_dec {
	enum codec_id id;
	struct OpusDecoder *opus;
	struct SpeexResamplerState_ *up;  /* 8 -> 16 kHz for G.711 */
	int16_t last[LB_FRAME];           /* G.711 concealment source */
	uint32_t concealed;               /* consecutive concealed frames */
};

int  codec_dec_init(struct codec_dec *dec, enum codec_id id);
void codec_dec_close(struct codec_dec *dec);

/** Samples at 16 kHz that a packet holds, or -1 if invalid. RT-safe. */
int codec_pkt_samples(enum codec_id id, const uint8_t *pkt, size_t len);

/** False only when the packet is Opus and its sender's encoder marked
 *  every frame in it as holding no voice (SILK's VAD bits; CELT-only
 *  and stereo packets, other codecs and anything unparsable: true).
 *  Costs no decode. RT-safe. */
bool codec_pkt_voice(enum codec_id id, const uint8_t *pkt, size_t len);

/** Forget the decoder's history (Opus: OPUS_RESET_STATE), for a packet
 *  that follows others left undecoded: SILK predicts pitch and spectrum
 *  from the audio before, which is then a second old. RT-safe. */
void codec_dec_reset(struct codec_dec *dec);

/**
 * Decode one packet to 16 kHz mono. @return samples written (<= max), or
 * -1 for a corrupt packet (the caller conceals instead). RT-safe.
 */
int codec_decode(struct codec_dec *dec, const uint8_t *pkt, size_t len,
		 int16_t *out, size_t max);

/** Conceal n samples (n a multiple of 40, i.e. 2.5 ms). RT-safe. */
void codec_conceal(struct codec_dec *dec, int16_t *out, size_t n);

/** Recover the n samples before `next` from its in-band FEC (Opus),
 *  concealing when it carries none. RT-safe. */
void codec_decode_fec(struct codec_dec *dec, const uint8_t *next,
		      size_t len, int16_t *out, size_t n);

struct codec_enc {
	struct codec_prm prm;
	struct OpusEncoder *opus;
	size_t opus_size;
	struct SpeexResamplerState_ *down;  /* 16 -> 8 kHz for G.711 */
};

int  codec_enc_init(struct codec_enc *enc, const struct codec_prm *prm);
void codec_enc_close(struct codec_enc *enc);

/**
 * Encode n samples of 16 kHz audio (n = ptime * 16) into one payload.
 * @return payload bytes, or -1 on failure. RT-safe.
 */
int codec_encode(struct codec_enc *enc, const int16_t *pcm, size_t n,
		 uint8_t *out, size_t outsz);

/**
 * Change a running encoder's bitrate, complexity, bandwidth, FEC, loss
 * hint and ptime to prm's without resetting it (same codec id only):
 * the far end's decoder follows at the next packet, which is the
 * caller's moment to call this. @return 0 or EINVAL. RT-safe.
 */
int codec_enc_set(struct codec_enc *enc, const struct codec_prm *prm);

/**
 * Continue dst's stream from src's state, so a listener moved from a
 * shared stream to its own hears no discontinuity. Opus state is
 * position-independent and is copied byte for byte; G.711 has no state
 * beyond the resampler's few samples of history, which are reset.
 * Both must be of the same codec; dst takes src's settings (codec_prm)
 * with the state. RT-safe.
 */
void codec_enc_continue(struct codec_enc *dst, const struct codec_enc *src);

/* G.711 (ITU-T G.711 segment coding) */
uint8_t codec_ulaw_enc(int16_t s);
int16_t codec_ulaw_dec(uint8_t u);
uint8_t codec_alaw_enc(int16_t s);
int16_t codec_alaw_dec(uint8_t a);

#endif
