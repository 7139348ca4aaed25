/**
 * @file mixer.h  The room mixer: one real-time thread per room.
 *
 * Every 20 ms (absolute deadlines on CLOCK_MONOTONIC) the mixer thread
 * drains its command ring, reads every RTP packet waiting on the room's
 * one media socket (recvmmsg), feeds the sites' jitter buffers, decodes
 * 20 ms per site, picks the talkers, mixes, encodes and sends (sendmmsg).
 *
 * Shared encoding: listeners that do not talk hear the same mix, so one
 * encoder per codec profile (struct mix_profile) serves them all, and
 * only talkers get their own mix-minus and encoder. A site that starts
 * talking takes over the shared encoder's state (codec_enc_continue), so
 * its stream continues without a glitch.
 *
 * Ownership: struct msite is allocated and filled by the control side
 * (network thread) and handed over with mixer_attach(); from then on only
 * the mixer writes its media state, and the control side reads the
 * published counters in msite->st. Changes travel as commands; the
 * mixer answers a detach with MIX_EV_DETACHED, after which the control
 * side may free the msite.
 *
 * Threads: mixer_* calls except mixer_tick() are for the network thread.
 */
#ifndef LB_MIXER_H
#define LB_MIXER_H

#include <re.h>
#include <stdatomic.h>
#include "codec.h"
#include "dsp.h"
#include "jb.h"
#include "ring.h"
#include "rtpio.h"

#define MIX_MAX_PROFILES 16
#define MIX_PKT_MAX 1500
#define MIX_MAX_WORKERS 7

/** One shared encoded stream: listeners with the same codec profile. */
struct mix_profile {
	struct codec_enc enc;
	struct dsp_limiter lim;
	int16_t acc[LB_PTIME_MAX_MS * 16];   /* PCM of the packet so far */
	size_t accn;
	uint8_t pkt[MIX_PKT_MAX];
	int pktlen;                          /* > 0: a packet this tick */
	int16_t last[LB_FRAME];              /* PCM it sent this tick */
	float level_db;                      /* of the last frame */
};

/** Counters the mixer publishes for the API and RTCP (relaxed atomics,
 *  single writer). */
struct msite_stats {
	_Atomic uint64_t pkts_in;
	_Atomic uint64_t bytes_in;
	_Atomic uint64_t pkts_out;
	_Atomic uint64_t bytes_out;
	_Atomic uint64_t malformed;
	_Atomic uint64_t jb_late;
	_Atomic uint64_t concealed;          /* 20 ms frames */
	_Atomic uint64_t fec_recovered;
	_Atomic uint64_t dtmf;
	_Atomic int64_t last_rx_ns;          /* CLOCK_MONOTONIC, 0 = never */
	_Atomic uint32_t expected;
	_Atomic uint32_t received;
	_Atomic uint32_t ext_max;
	_Atomic uint32_t jitter_ts;          /* RFC 3550, timestamp units */
	_Atomic uint32_t rx_ssrc;
	_Atomic uint32_t tx_ts;              /* last RTP ts sent */
	_Atomic uint64_t tx_mono_ns;         /* CLOCK_MONOTONIC of it */
	_Atomic uint32_t jb_delay_ms;
	_Atomic int32_t level_in_cdb;        /* centi-dBFS */
	_Atomic int32_t level_out_cdb;
	_Atomic bool talking;
	_Atomic bool active;                 /* voice detected */
	/* dsp chain meters, centi-dB unless named otherwise */
	_Atomic int32_t in_peak_cdb;
	_Atomic int32_t proc_rms_cdb;        /* after the chain */
	_Atomic int32_t proc_peak_cdb;
	_Atomic int32_t noise_cdb;
	_Atomic int32_t agc_gain_cdb;
	_Atomic int32_t speech_pct;          /* speech probability */
	_Atomic bool echo_only;
	_Atomic int32_t echo_corr_pct;       /* level follows what it is
						sent: echo likely */
	_Atomic bool aec_on;
	_Atomic bool echo_present;
	_Atomic bool double_talk;
	_Atomic int32_t echo_delay_ms10;     /* 0.1 ms, < 0: not found */
	_Atomic int32_t erle_cdb;
	_Atomic int32_t erl_cdb;
	_Atomic int32_t drift_ppm10;
};

/** Settings of one site's processing that the operator can change. */
struct msite_dsp {
	struct dsp_proc_prm proc;
	bool chair;                          /* always mixed */
};

struct msite {
	/* --- set by the control side before attach, then constant ---- */
	void *owner;                         /* struct site */
	struct codec_prm prm;
	struct mix_profile *prof;
	uint32_t ssrc_tx;
	struct sa sig_addr;                  /* where its SIP came from */
	float proc_delay_ms;                 /* the chain's, constant */
	bool ctl_aec;                        /* control side: has a
						canceller (handed over) */

	/* --- changed only through commands (mixer-owned after attach) - */
	struct sa raddr;
	bool recv_on;                        /* mix what the site sends */
	bool send_on;                        /* send the mix to the site */

	/* --- mixer-owned media state --------------------------------- */
	bool latched;                        /* got RTP from raddr */
	uint32_t rx_ssrc;
	bool rx_ssrc_known;
	struct rtpio_rx rx;
	struct jb jb;
	struct codec_dec dec;
	int16_t fifo[LB_PKT_MAX_SAMPLES + LB_FRAME];
	size_t fifon;
	int16_t frame[LB_FRAME];
	bool heard;                          /* frame holds real audio */
	struct dsp_proc *proc;               /* owned; freed with ms */
	struct msite_dsp dsp;
	struct dsp_proc_meters m;
	struct dsp_talk talk;
	int16_t sent[LB_FRAME];              /* echo reference: last sent */
	struct codec_dec refdec;             /* decodes what it was sent */
	int16_t reffifo[LB_PKT_MAX_SAMPLES + LB_FRAME];
	size_t reffifon;
	bool refdec_on;                      /* reffifo is the reference */
	bool active;
	bool talker;
	float gain;
	float contrib[LB_FRAME];
	bool contributing;                   /* contrib is in this mix */
	uint32_t dtmf_ts;
	bool dtmf_seen;

	struct codec_enc own;                /* this site's mix-minus */
	struct dsp_limiter own_lim;
	int16_t own_acc[LB_PTIME_MAX_MS * 16];
	size_t own_accn;
	uint8_t own_pkt[MIX_PKT_MAX];
	int own_pktlen;
	bool own_mode;
	uint32_t own_idle;
	uint16_t seq_tx;
	uint32_t ts_tx;
	bool first_tx;
	uint8_t hdr[RTPIO_HDR_SIZE];

	struct msite_stats st;
};

/** Room-wide counters, published like msite_stats. */
struct mixer_stats {
	_Atomic uint64_t ticks;
	_Atomic uint64_t late_ticks;
	_Atomic uint64_t tick_ns_sum;
	_Atomic uint64_t tick_ns_max;
	_Atomic uint64_t rx_pkts;
	_Atomic uint64_t tx_pkts;
	_Atomic uint64_t tx_errors;
	_Atomic uint64_t unknown_source;
	_Atomic uint64_t malformed;
	_Atomic uint64_t encodes;
	_Atomic uint32_t sites;
	_Atomic uint32_t talkers;
};

enum mix_ev_type {
	MIX_EV_DETACHED = 1,
	MIX_EV_LATCHED,          /* a = 0: SDP address, 1: NAT re-latch */
	MIX_EV_DTMF,             /* a = event (0-9, 10 '*', 11 '#', ...) */
	MIX_EV_TALK,             /* a = 1 starts talking, 0 stops */
	MIX_EV_PROFILE_GONE,
	MIX_EV_FREE_AEC,         /* ptr: struct dsp_aec to free */
};

struct mix_ev {
	enum mix_ev_type type;
	void *ptr;               /* struct msite or struct mix_profile */
	int a;
};

struct mixer_prm {
	uint32_t max_sites;
	uint32_t max_talkers;
	int rtp_fd;              /* non-blocking UDP socket, owned by room */
	uint32_t workers;        /* threads helping with decode + DSP */
};

struct mixer;

/** Called on the network thread when events are waiting. */
typedef void (mixer_ev_h)(const struct mix_ev *ev, void *arg);

int  mixer_alloc(struct mixer **mixp, const struct mixer_prm *prm,
		 mixer_ev_h *evh, void *arg);
int  mixer_start(struct mixer *mix);
void mixer_stop(struct mixer *mix);

/** Allocate an msite's media state for prm and its processing chain
 *  with dsp settings (control side). */
int  msite_alloc(struct msite **msp, const struct codec_prm *prm,
		 const struct msite_dsp *dsp, struct mix_profile *prof,
		 void *owner);
int  mix_profile_alloc(struct mix_profile **profp,
		       const struct codec_prm *prm);

int  mixer_attach(struct mixer *mix, struct msite *ms);
int  mixer_detach(struct mixer *mix, struct msite *ms);
int  mixer_update(struct mixer *mix, struct msite *ms,
		  const struct sa *raddr, bool recv_on, bool send_on);
/** Change a site's processing at run time. When echo control is turned
 *  on for a site that has no canceller, one is allocated here (control
 *  side) and handed over; the mixer returns replaced ones through
 *  MIX_EV_FREE_AEC. */
int  mixer_set_dsp(struct mixer *mix, struct msite *ms,
		   const struct msite_dsp *dsp);
int  mixer_profile_add(struct mixer *mix, struct mix_profile *prof);
int  mixer_profile_del(struct mixer *mix, struct mix_profile *prof);

const struct mixer_stats *mixer_stats(const struct mixer *mix);

/** One 20 ms cycle; exposed so tests can drive the mixer with no
 *  thread and no clock. RT-safe. */
void mixer_tick(struct mixer *mix, uint64_t now_ns);

/** Deliver pending events to the handler (network thread). */
void mixer_poll_events(struct mixer *mix);

#endif
