/**
 * @file oggopus.c  Ogg Opus files (RFC 7845) written from 20 ms frames,
 * with silence that costs nothing.
 *
 * Why not libsndfile's Ogg Opus writer: it encodes every frame it is
 * given, and a meeting's site tracks are silence most of the time. Opus
 * takes 64 us to encode 20 ms of digital silence at 16 kHz on this
 * machine class (measured: 87 us for speech, 125 us for silence with
 * DTX), so 200 silent tracks would cost two thirds of a core. Here a
 * silent frame is a packet made once per file by encoding zeros, copied
 * in; the encoder runs only on frames that hold audio, and is reset
 * before the first of them after silence, so that it codes that frame
 * without reference to a past the decoder never saw. libogg does the
 * paging, libopus the coding.
 *
 * Crash safety: a page goes to the file at least every second (and
 * whenever libogg fills one), with write(2) into the page cache, so a
 * process killed at any moment leaves a file that decodes up to about
 * a second before (the last page is the only one that can be cut short;
 * decoders stop there). The last packet is held back so that close can
 * mark it end-of-stream.
 *
 * Threads: the recorder's.
 */
#include <re.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <ogg/ogg.h>
#include <opus/opus.h>
#include "recint.h"

#define SRATE 16000
#define FRAME 320
#define GRANULE_PER_FRAME 960    /* 20 ms at 48 kHz */
#define PAGE_FRAMES 50           /* a page at least every second */
#define PKT_MAX 1500

struct oggopus {
	int fd;
	ogg_stream_state os;
	bool os_ok;
	OpusEncoder *enc;
	bool silent;                 /* the last frame was silence */
	uint8_t silence[16];
	int silence_len;
	uint8_t pend[PKT_MAX];       /* the packet held back */
	int pend_len;
	int64_t packetno;
	int64_t granule;
	uint32_t since_page;
	uint64_t bytes;
	int err;                     /* sticky write error */
};

static int write_all(struct oggopus *op, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t r = write(op->fd, b, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? errno : EIO;
		b += r;
		n -= (size_t)r;
		op->bytes += (uint64_t)r;
	}
	return 0;
}

static int write_page(struct oggopus *op, const ogg_page *pg)
{
	int err = write_all(op, pg->header, (size_t)pg->header_len);

	if (!err)
		err = write_all(op, pg->body, (size_t)pg->body_len);
	return err;
}

/* Pages out: every full one, or everything with flush. */
static int pages(struct oggopus *op, bool flush)
{
	ogg_page pg;
	int err = 0;

	while (!err && (flush ? ogg_stream_flush(&op->os, &pg) :
			ogg_stream_pageout(&op->os, &pg))) {
		err = write_page(op, &pg);
		op->since_page = 0;
	}
	return err;
}

static int packet_in(struct oggopus *op, const uint8_t *data, int len,
		     bool bos, bool eos, int64_t granule)
{
	ogg_packet pk;

	memset(&pk, 0, sizeof(pk));
	pk.packet = (unsigned char *)data;
	pk.bytes = len;
	pk.b_o_s = bos;
	pk.e_o_s = eos;
	pk.granulepos = granule;
	pk.packetno = op->packetno++;
	return ogg_stream_packetin(&op->os, &pk) ? ENOMEM : 0;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static int headers(struct oggopus *op)
{
	static const char vendor[] = "lowbridge";
	uint8_t head[19], tags[8 + 4 + sizeof(vendor) - 1 + 4];
	opus_int32 la = 0;
	int err;

	opus_encoder_ctl(op->enc, OPUS_GET_LOOKAHEAD(&la));
	memcpy(head, "OpusHead", 8);
	head[8] = 1;                                 /* version */
	head[9] = 1;                                 /* channels */
	head[10] = (uint8_t)(la * 3);                /* pre-skip, 48 kHz */
	head[11] = (uint8_t)((la * 3) >> 8);
	put_le32(head + 12, SRATE);                  /* input rate */
	head[16] = head[17] = 0;                     /* output gain */
	head[18] = 0;                                /* mapping family */
	memcpy(tags, "OpusTags", 8);
	put_le32(tags + 8, sizeof(vendor) - 1);
	memcpy(tags + 12, vendor, sizeof(vendor) - 1);
	put_le32(tags + 12 + sizeof(vendor) - 1, 0);  /* no comments */

	err = packet_in(op, head, sizeof(head), true, false, 0);
	if (!err)
		err = pages(op, true);
	if (!err)
		err = packet_in(op, tags, sizeof(tags), false, false, 0);
	if (!err)
		err = pages(op, true);
	return err;
}

static void destructor(void *arg)
{
	struct oggopus *op = arg;

	if (op->os_ok)
		ogg_stream_clear(&op->os);
	if (op->enc)
		opus_encoder_destroy(op->enc);
}

int oggopus_open(struct oggopus **opp, int fd, uint32_t bitrate_bps)
{
	struct oggopus *op;
	OpusEncoder *z = NULL;
	int16_t zeros[FRAME];
	int err = 0, oe;

	if (!opp || fd < 0)
		return EINVAL;
	op = mem_zalloc(sizeof(*op), destructor);
	if (!op)
		return ENOMEM;
	op->fd = fd;
	op->silent = true;
	if (ogg_stream_init(&op->os, (int)rand_u32() & 0x7fffffff)) {
		err = ENOMEM;
		goto out;
	}
	op->os_ok = true;
	op->enc = opus_encoder_create(SRATE, 1, OPUS_APPLICATION_VOIP, &oe);
	z = opus_encoder_create(SRATE, 1, OPUS_APPLICATION_VOIP, &oe);
	if (!op->enc || !z) {
		err = ENOMEM;
		goto out;
	}
	opus_encoder_ctl(op->enc, OPUS_SET_BITRATE((opus_int32)bitrate_bps));
	opus_encoder_ctl(op->enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
	opus_encoder_ctl(op->enc, OPUS_SET_COMPLEXITY(5));
	opus_encoder_ctl(z, OPUS_SET_BITRATE((opus_int32)bitrate_bps));
	opus_encoder_ctl(z, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
	/* the silence packet: what an encoder makes of zeros once settled */
	memset(zeros, 0, sizeof(zeros));
	for (int i = 0; i < 5 && !err; i++) {
		op->silence_len = opus_encode(z, zeros, FRAME, op->silence,
					      sizeof(op->silence));
		if (op->silence_len <= 0)
			err = EPROTO;
	}
	if (!err)
		err = headers(op);
 out:
	if (z)
		opus_encoder_destroy(z);
	if (err)
		mem_deref(op);
	else
		*opp = op;
	return err;
}

/* The packet held back goes in now; the new one waits. */
static int push(struct oggopus *op, const uint8_t *pkt, int len)
{
	int err = 0;

	if (op->pend_len > 0) {
		op->granule += GRANULE_PER_FRAME;
		err = packet_in(op, op->pend, op->pend_len, false, false,
				op->granule);
		if (!err)
			err = pages(op, ++op->since_page >= PAGE_FRAMES);
	}
	memcpy(op->pend, pkt, (size_t)len);
	op->pend_len = len;
	return err;
}

int oggopus_frame(struct oggopus *op, const int16_t *pcm, bool audio)
{
	uint8_t pkt[PKT_MAX];
	int len;

	if (!op)
		return EINVAL;
	if (op->err)
		return op->err;
	if (!audio || !pcm) {
		op->silent = true;
		op->err = push(op, op->silence, op->silence_len);
		return op->err;
	}
	if (op->silent)
		opus_encoder_ctl(op->enc, OPUS_RESET_STATE);
	op->silent = false;
	len = opus_encode(op->enc, pcm, FRAME, pkt, sizeof(pkt));
	if (len <= 0) {
		/* cannot happen with valid arguments; keep time */
		op->err = push(op, op->silence, op->silence_len);
		return op->err;
	}
	op->err = push(op, pkt, len);
	return op->err;
}

int oggopus_sync(struct oggopus *op)
{
	if (!op)
		return EINVAL;
	if (!op->err)
		op->err = pages(op, true);
	return op->err;
}

int oggopus_close(struct oggopus *op)
{
	int err;

	if (!op)
		return EINVAL;
	err = op->err;
	if (!err && op->pend_len > 0) {
		op->granule += GRANULE_PER_FRAME;
		err = packet_in(op, op->pend, op->pend_len, false, true,
				op->granule);
		op->pend_len = 0;
		if (!err)
			err = pages(op, true);
	}
	mem_deref(op);
	return err;
}

uint64_t oggopus_bytes(const struct oggopus *op)
{
	return op ? op->bytes : 0;
}
