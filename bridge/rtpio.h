/**
 * @file rtpio.h  RTP/RTCP wire formats: header parsing and building,
 * RFC 3550 receiver statistics, RTCP SR/RR building.
 *
 * Parsing is ours (it runs on every packet on the mixer thread, on
 * untrusted input, without allocation) and is fuzzed by
 * tests/fuzz/fuzz_rtp.c. Incoming RTCP is parsed with libre's
 * rtcp_decode() on the network thread, where allocation is fine.
 *
 * Threads: any; all functions are RT-safe (no allocation, no I/O).
 */
#ifndef LB_RTPIO_H
#define LB_RTPIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTPIO_HDR_SIZE 12

struct rtpio_hdr {
	uint8_t pt;
	bool marker;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	size_t payload_off;     /* bytes from the packet start */
	size_t payload_len;     /* padding removed */
};

/**
 * Parse and validate an RTP header (RFC 3550 5.1): version 2, CSRC list,
 * header extension and padding must fit in len.
 * @return 0, EBADMSG (malformed) or EPROTO (an RTCP packet: rtcp-mux).
 */
int rtpio_parse(struct rtpio_hdr *h, const uint8_t *buf, size_t len);

/** Write a 12-byte RTP header into buf (>= 12 bytes). @return 12. */
size_t rtpio_build(uint8_t *buf, uint8_t pt, bool marker, uint16_t seq,
		   uint32_t ts, uint32_t ssrc);

/** Receiver state of one source, RFC 3550 appendix A.1 and A.8. */
struct rtpio_rx {
	bool started;
	uint16_t max_seq;
	uint32_t cycles;        /* count of seq wraps << 16 */
	uint32_t base_seq;
	uint32_t received;
	uint32_t expected_prior;
	uint32_t received_prior;
	uint32_t last_transit;
	bool have_transit;
	double jitter;          /* in timestamp units */
	uint32_t dup_or_old;    /* duplicates and reordered-late */
	uint32_t bursts;        /* runs of lost packets (sequence gaps) */
	uint32_t burst_pkts;    /* packets in them */
	uint8_t fraction_lost;  /* last computed, RFC 3550 6.4.1 */
};

void rtpio_rx_init(struct rtpio_rx *rx);

/**
 * Account one received packet. arrival is the arrival time in the
 * timestamp clock (it may wrap). A jump of more than 3000 packets restarts
 * the sequence (the source restarted). RT-safe.
 */
void rtpio_rx_update(struct rtpio_rx *rx, uint16_t seq, uint32_t ts,
		     uint32_t arrival);

uint32_t rtpio_rx_ext_max(const struct rtpio_rx *rx);
uint32_t rtpio_rx_expected(const struct rtpio_rx *rx);
int32_t  rtpio_rx_lost(const struct rtpio_rx *rx);

/** Compute the fraction lost since the previous call (for an RR block). */
uint8_t rtpio_rx_fraction(struct rtpio_rx *rx);

/** One RTCP report block (RFC 3550 6.4.1). */
struct rtpio_rb {
	uint32_t ssrc;
	uint8_t fraction;
	int32_t lost;
	uint32_t ext_max;
	uint32_t jitter;
	uint32_t lsr;
	uint32_t dlsr;
};

/**
 * Build a compound RTCP packet: SR (when sent_pkts > 0) or RR, with zero
 * or one report block, followed by SDES CNAME.
 * @return the length, or 0 if it does not fit in sz.
 */
size_t rtpio_rtcp_build(uint8_t *buf, size_t sz, uint32_t ssrc,
			uint64_t ntp, uint32_t rtp_ts, uint32_t sent_pkts,
			uint32_t sent_bytes, const struct rtpio_rb *rb,
			const char *cname);

/** NTP 64-bit time (RFC 5905) of the realtime clock. */
uint64_t rtpio_ntp_now(void);

#endif
