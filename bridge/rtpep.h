/**
 * @file rtpep.h  The RTP endpoint of a room: one UDP socket for the RTP
 * of every site, demultiplexed by source address, and each site's
 * receive side (jitter buffer, decoder, FEC, PLC) and send side (RTP
 * headers, batched sends).
 *
 * A site is a *peer*: the source and sink of an RTP member of the mix
 * (bridge/mixer.c embeds one in each RTP member). The endpoint turns
 * packets into 20 ms frames at 16 kHz and frames' packets into RTP; the
 * mix core (mixcore.h) never sees a socket.
 *
 * NAT: a site behind NAT sends from its router's public address, not the
 * one in its SDP; its SIP came from that address too. So a peer that has
 * not sent anything yet is latched to a packet's address when the IP is
 * its SDP or SIP IP and no other waiting peer shares that IP (several
 * sites behind one router: wait for the one whose SDP is exact). A
 * latched peer whose SSRC shows up from a new port of one of its IPs
 * follows it (NAT rebinding). Scans are bounded per tick.
 *
 * Threads: rtpep_alloc() and rtpep_peer_init()/close() on the control
 * side; everything else on the mixer thread, RT-safe, except
 * rtpep_pull(), which may run for different peers on different threads
 * at once.
 */
#ifndef LB_RTPEP_H
#define LB_RTPEP_H

#include <re.h>
#include <stdatomic.h>
#include "codec.h"
#include "jb.h"
#include "rtpio.h"

/** Counters of one peer, published with relaxed atomics by the mixer
 *  thread (single writer) for the API and RTCP. */
struct rtp_stats {
	_Atomic uint64_t pkts_in;
	_Atomic uint64_t bytes_in;
	_Atomic uint64_t pkts_out;
	_Atomic uint64_t bytes_out;
	_Atomic uint64_t malformed;
	_Atomic uint64_t jb_late;
	_Atomic uint64_t jb_overflow;        /* refused: slot pool full */
	_Atomic uint64_t concealed;          /* 20 ms frames */
	_Atomic uint64_t fec_recovered;
	_Atomic uint64_t dtx_frames;         /* 20 ms the site left out
						(DTX): nothing decoded */
	_Atomic uint64_t dtx_out_frames;     /* 20 ms we left out of what
						we send it (DTX) */
	_Atomic uint64_t voiceless_frames;   /* 20 ms received, marked
						voiceless, not decoded */
	_Atomic uint64_t dtmf;
	_Atomic int64_t last_rx_ns;          /* CLOCK_MONOTONIC, 0 = never */
	_Atomic uint32_t rx_ssrc;
	_Atomic uint32_t tx_ts;              /* last RTP ts sent */
	_Atomic uint64_t tx_mono_ns;         /* CLOCK_MONOTONIC of it */
	/* refreshed twice a second */
	_Atomic uint32_t expected;
	_Atomic uint32_t received;
	_Atomic uint32_t ext_max;
	_Atomic uint32_t jitter_ts;          /* RFC 3550, timestamp units */
	_Atomic uint32_t jb_delay_ms;
	_Atomic uint32_t loss_bursts;        /* runs of lost packets */
	_Atomic uint32_t loss_burst_pkts;    /* packets in them */
};

struct rtpep_peer {
	/* --- set before rtpep_add(), then constant ------------------- */
	struct codec_prm prm;                /* receive codec; pt, tel_pt */
	uint32_t ssrc_tx;
	struct sa sig_addr;                  /* where its SIP came from */
	void *arg;                           /* the member */
	struct rtp_stats *st;

	/* --- the endpoint's thread ----------------------------------- */
	struct sa raddr;
	bool recv_on;                        /* take what it sends */
	bool send_on;                        /* send to it */
	bool latched;                        /* got RTP from raddr */
	uint32_t rx_ssrc;
	bool rx_ssrc_known;
	struct rtpio_rx rx;
	struct jb jb;
	/* DTX: a packet whose sequence number follows the last one but
	 * whose timestamp jumps marks the frames between as left out, not
	 * lost: the latest such gaps, [from, to) in timestamp units */
	bool rx_last_ok;
	uint16_t rx_last_seq;
	uint32_t rx_last_end;
	struct { uint32_t from, to; } dtx[4];
	uint32_t dtx_i;
	bool dtx_site;                       /* has left frames out */
	uint32_t quiet_run;                  /* voiceless packets in a row */
	bool fifo_voiceless;                 /* fifo holds skipped frames */
	bool dec_stale;                      /* packets skipped since the
						decoder last ran */
	struct codec_dec dec;
	int16_t fifo[LB_PKT_MAX_SAMPLES + LB_FRAME];
	size_t fifon;
	uint32_t dtmf_ts;
	bool dtmf_seen;
	uint16_t seq_tx;
	uint32_t ts_tx;
	bool first_tx;
	bool dtx_tx;                         /* frames left out since the
						last packet sent (DTX) */
	uint8_t hdr[RTPIO_HDR_SIZE];
	uint32_t idx;                        /* in the endpoint */
};

enum rtpep_ev {
	RTPEP_EV_LATCHED,        /* a = 1 (NAT), addr = new address */
	RTPEP_EV_DTMF,           /* a = event (0-9, 10 '*', 11 '#', ...) */
};

typedef void (rtpep_ev_h)(enum rtpep_ev ev, struct rtpep_peer *peer,
			  int a, const struct sa *addr, void *arg);

/** Room-wide counters (relaxed atomics, single writer). */
struct rtpep_stats {
	_Atomic uint64_t rx_pkts;
	_Atomic uint64_t tx_pkts;
	_Atomic uint64_t tx_errors;
	_Atomic uint64_t unknown_source;
	_Atomic uint64_t malformed;
};

struct rtpep;

/** fd: a non-blocking UDP socket (owned by the caller), or -1 for an
 *  endpoint that never receives or sends (tests). */
int  rtpep_alloc(struct rtpep **epp, int fd, uint32_t max_peers,
		 rtpep_ev_h *evh, void *arg);
const struct rtpep_stats *rtpep_stats(const struct rtpep *ep);

int  rtpep_peer_init(struct rtpep_peer *p, const struct codec_prm *prm,
		     struct rtp_stats *st, void *arg);
void rtpep_peer_close(struct rtpep_peer *p);

/** @return 0 or ENOSPC. */
int  rtpep_add(struct rtpep *ep, struct rtpep_peer *p);
void rtpep_remove(struct rtpep *ep, struct rtpep_peer *p);
/** New address or direction (re-INVITE, hold). */
void rtpep_update(struct rtpep *ep, struct rtpep_peer *p,
		  const struct sa *raddr, bool recv_on, bool send_on);

/** Read every packet waiting (bounded) into the peers' jitter buffers.
 *  now_ns: CLOCK_MONOTONIC. */
void rtpep_receive(struct rtpep *ep, uint64_t now_ns);

/** What the caller will do with the peer's next frame. */
enum rtpep_want {
	RTPEP_ALL,       /* mix or analyse it: decode, conceal losses */
	/* the peer's last frame held no speech and it is not mixed: a
	 * frame missing at the end of what arrived is not worth a
	 * concealment decode (it would only extend its noise) */
	RTPEP_IDLE,
	/* idle, and nothing needs its noise frame by frame: a packet its
	 * own encoder marked voiceless (codec_pkt_voice) is decoded only
	 * one time in RTPEP_QUIET_EVERY, to keep meters and noise
	 * estimates current; the others are filler */
	RTPEP_QUIET,
	/* the mixer is short of time and the peer's chain only learns its
	 * noise and echo (mixcore_member_may_shed): a voiceless packet is
	 * decoded one time in RTPEP_LEARN_EVERY */
	RTPEP_LEARN,
};

enum rtpep_got {
	RTPEP_FILLER,    /* nothing received for it: zeros */
	RTPEP_AUDIO,     /* decoded or concealed */
	RTPEP_VOICELESS, /* received, marked voiceless, not decoded: zeros */
};

#define RTPEP_QUIET_EVERY 8
#define RTPEP_LEARN_EVERY 4

/** The peer's next 20 ms at 16 kHz into frame (LB_FRAME samples). */
enum rtpep_got rtpep_pull(struct rtpep_peer *p, int16_t *frame,
			  enum rtpep_want want);

struct mmsghdr;
struct iovec;

/** A batch of packets to send: one per thread that sends, so that the
 *  peers' packets can leave from several threads (each peer from one
 *  thread a tick; sendmmsg on one socket from several threads is
 *  safe). The payloads must live until the flush. */
struct rtpep_txq {
	struct mmsghdr *msg;
	struct iovec *iov;
	uint32_t n, cap;
};

/** Control side: room for cap packets (full: it flushes itself). */
int rtpep_txq_init(struct rtpep_txq *q, uint32_t cap);
void rtpep_txq_reset(struct rtpep_txq *q);
/** Queue into q the packet a peer is sent this tick (len > 0), or keep
 *  time (len < 0: the encoder failed). samples: its span at 16 kHz. */
void rtpep_txq_add(struct rtpep *ep, struct rtpep_txq *q,
		   struct rtpep_peer *p, const uint8_t *pl, int len,
		   uint32_t samples, uint64_t now_ns);
/** Send what q holds (sendmmsg on the endpoint's socket). */
void rtpep_txq_flush(struct rtpep *ep, struct rtpep_txq *q);

#endif
