/**
 * @file rtpio.c  RTP header parsing/building and RFC 3550 statistics.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include "rtpio.h"

#define MAX_DROPOUT 3000
#define MAX_MISORDER 100

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
		((uint32_t)p[2] << 8) | p[3];
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int rtpio_parse(struct rtpio_hdr *h, const uint8_t *buf, size_t len)
{
	size_t off, cc, pad = 0;

	if (!h || !buf || len < RTPIO_HDR_SIZE)
		return EBADMSG;
	if ((buf[0] >> 6) != 2)
		return EBADMSG;

	/* RFC 5761 4: payload types 64-95 with the marker bit collide with
	 * RTCP packet types 192-223; they are RTCP sent to the RTP port. */
	if (buf[1] >= 192 && buf[1] <= 223)
		return EPROTO;

	cc = buf[0] & 0x0f;
	off = RTPIO_HDR_SIZE + cc * 4;
	if (off > len)
		return EBADMSG;

	if (buf[0] & 0x10) {
		size_t xlen;

		if (off + 4 > len)
			return EBADMSG;
		xlen = (size_t)rd16(buf + off + 2) * 4;
		off += 4 + xlen;
		if (off > len)
			return EBADMSG;
	}

	if (buf[0] & 0x20) {
		pad = buf[len - 1];
		if (pad == 0 || pad > len - off)
			return EBADMSG;
	}

	h->marker = (buf[1] & 0x80) != 0;
	h->pt = buf[1] & 0x7f;
	h->seq = rd16(buf + 2);
	h->ts = rd32(buf + 4);
	h->ssrc = rd32(buf + 8);
	h->payload_off = off;
	h->payload_len = len - off - pad;
	return 0;
}

size_t rtpio_build(uint8_t *buf, uint8_t pt, bool marker, uint16_t seq,
		   uint32_t ts, uint32_t ssrc)
{
	buf[0] = 0x80;
	buf[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
	wr16(buf + 2, seq);
	wr32(buf + 4, ts);
	wr32(buf + 8, ssrc);
	return RTPIO_HDR_SIZE;
}

void rtpio_rx_init(struct rtpio_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
}

static void rx_restart(struct rtpio_rx *rx, uint16_t seq)
{
	rx->base_seq = seq;
	rx->max_seq = seq;
	rx->cycles = 0;
	rx->received = 0;
	rx->bursts = rx->burst_pkts = 0;
	rx->expected_prior = 0;
	rx->received_prior = 0;
}

void rtpio_rx_update(struct rtpio_rx *rx, uint16_t seq, uint32_t ts,
		     uint32_t arrival)
{
	uint16_t udelta;
	uint32_t transit;
	int32_t d;

	if (!rx->started) {
		rx->started = true;
		rx_restart(rx, seq);
	}
	else {
		udelta = (uint16_t)(seq - rx->max_seq);
		if (udelta < MAX_DROPOUT) {
			if (seq < rx->max_seq)
				rx->cycles += 1u << 16;
			rx->max_seq = seq;
			/* a gap is one run of losses (a late packet that
			 * fills it later is not taken back: reordering
			 * reads as short bursts) */
			if (udelta > 1) {
				++rx->bursts;
				rx->burst_pkts += udelta - 1u;
			}
		}
		else if (udelta <= 65535 - MAX_MISORDER) {
			/* a big jump: the sender restarted its sequence */
			rx_restart(rx, seq);
		}
		else {
			++rx->dup_or_old;
		}
	}
	++rx->received;

	/* A.8 interarrival jitter, in timestamp units */
	transit = arrival - ts;
	if (rx->have_transit) {
		d = (int32_t)(transit - rx->last_transit);
		if (d < 0)
			d = -d;
		rx->jitter += ((double)d - rx->jitter) / 16.0;
	}
	rx->last_transit = transit;
	rx->have_transit = true;
}

uint32_t rtpio_rx_ext_max(const struct rtpio_rx *rx)
{
	return rx->cycles + rx->max_seq;
}

uint32_t rtpio_rx_expected(const struct rtpio_rx *rx)
{
	if (!rx->started)
		return 0;
	return rtpio_rx_ext_max(rx) - rx->base_seq + 1;
}

int32_t rtpio_rx_lost(const struct rtpio_rx *rx)
{
	int64_t lost = (int64_t)rtpio_rx_expected(rx) - rx->received;

	/* 24-bit signed field in RTCP: clamp */
	if (lost > 0x7fffff)
		lost = 0x7fffff;
	if (lost < -0x800000)
		lost = -0x800000;
	return (int32_t)lost;
}

uint8_t rtpio_rx_fraction(struct rtpio_rx *rx)
{
	uint32_t expected = rtpio_rx_expected(rx);
	uint32_t exp_int = expected - rx->expected_prior;
	uint32_t rec_int = rx->received - rx->received_prior;
	int64_t lost_int = (int64_t)exp_int - rec_int;

	rx->expected_prior = expected;
	rx->received_prior = rx->received;
	if (exp_int == 0 || lost_int <= 0)
		rx->fraction_lost = 0;
	else
		rx->fraction_lost = (uint8_t)((lost_int << 8) / exp_int);
	return rx->fraction_lost;
}

size_t rtpio_rtcp_build(uint8_t *buf, size_t sz, uint32_t ssrc,
			uint64_t ntp, uint32_t rtp_ts, uint32_t sent_pkts,
			uint32_t sent_bytes, const struct rtpio_rb *rb,
			const char *cname)
{
	size_t n = 0, words, clen, sdes_len;
	const bool sr = sent_pkts > 0;
	const size_t rep_len = 8 + (sr ? 20 : 0) + (rb ? 24 : 0);

	clen = cname ? strlen(cname) : 0;
	if (clen > 255)
		clen = 255;
	/* SDES: header 4 + ssrc 4 + item 2 + text + end 1, padded to 4 */
	sdes_len = (4 + 4 + 2 + clen + 1 + 3) & ~(size_t)3;
	if (rep_len + sdes_len > sz)
		return 0;

	buf[0] = (uint8_t)(0x80 | (rb ? 1 : 0));
	buf[1] = sr ? 200 : 201;
	words = rep_len / 4 - 1;
	wr16(buf + 2, (uint16_t)words);
	wr32(buf + 4, ssrc);
	n = 8;
	if (sr) {
		wr32(buf + n, (uint32_t)(ntp >> 32));
		wr32(buf + n + 4, (uint32_t)ntp);
		wr32(buf + n + 8, rtp_ts);
		wr32(buf + n + 12, sent_pkts);
		wr32(buf + n + 16, sent_bytes);
		n += 20;
	}
	if (rb) {
		wr32(buf + n, rb->ssrc);
		wr32(buf + n + 4, ((uint32_t)rb->fraction << 24) |
		     ((uint32_t)rb->lost & 0xffffff));
		wr32(buf + n + 8, rb->ext_max);
		wr32(buf + n + 12, rb->jitter);
		wr32(buf + n + 16, rb->lsr);
		wr32(buf + n + 20, rb->dlsr);
		n += 24;
	}

	memset(buf + n, 0, sdes_len);
	buf[n] = 0x81;
	buf[n + 1] = 202;
	wr16(buf + n + 2, (uint16_t)(sdes_len / 4 - 1));
	wr32(buf + n + 4, ssrc);
	buf[n + 8] = 1;               /* CNAME */
	buf[n + 9] = (uint8_t)clen;
	if (clen)
		memcpy(buf + n + 10, cname, clen);
	n += sdes_len;
	return n;
}

uint64_t rtpio_ntp_now(void)
{
	struct timespec ts;
	uint64_t sec, frac;

	clock_gettime(CLOCK_REALTIME, &ts);
	sec = (uint64_t)ts.tv_sec + 2208988800ull;
	frac = ((uint64_t)ts.tv_nsec << 32) / 1000000000ull;
	return (sec << 32) | frac;
}
