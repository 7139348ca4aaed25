/**
 * @file mixer.h  The room mixer: one real-time thread per room that
 * drives the mix core (mixcore.h) every 20 ms.
 *
 * Per tick: drain the command ring; receive every RTP packet waiting on
 * the room's socket (rtpep.h); for every member, pull 20 ms from its
 * source and run its speech chain (split over worker threads in big
 * rooms); select the talkers; mix and encode; hand every member what
 * it hears (RTP packets, or PCM for a PCM member); feed the taps
 * (tap.h); publish counters; post events.
 *
 * Members are what the room mixes. Kinds:
 *  - MIX_MEMBER_RTP: a dialled-in site; source = demux, jitter buffer,
 *    decoder; sink = its profile's shared packets or its own.
 *  - MIX_MEMBER_PCM: anything that produces and consumes 16 kHz frames
 *    on a thread of its own (the room's sound card, a prompt player);
 *    source and sink are SPSC rings of 20 ms frames, fed with
 *    mix_member_pcm_put() and drained with mix_member_pcm_get().
 *
 * Ownership (STYLE.md 2.2): the control side (network thread) creates a
 * member with a parameter struct, hands it over with mixer_attach(),
 * changes it only through commands, and frees it (mem_deref) only after
 * MIX_EV_DETACHED. The mixer never reads the member's owner. Counters
 * are read from mix_member_stats() (relaxed atomics, single writer).
 *
 * Commands are posted to a bounded ring and applied at the start of the
 * next tick. Those the control side cannot take back (detach, profile
 * and tap removal) never fail: when the ring is full they wait in a
 * control-side backlog that a timer pushes on, in order; the others
 * fail with EAGAIN and the caller refuses the request.
 *
 * Threads: every function here is for the control side (network
 * thread) except mixer_tick() (the mixer thread, or a test with no
 * thread) and the PCM member I/O (the member's device thread).
 */
#ifndef LB_MIXER_H
#define LB_MIXER_H

#include <re.h>
#include <stdatomic.h>
#include "codec.h"
#include "dsp.h"
#include "mixcore.h"
#include "ring.h"
#include "rtpep.h"
#include "tap.h"

#define MIX_MAX_WORKERS 7

enum mix_member_kind {
	MIX_MEMBER_RTP = 1,
	MIX_MEMBER_PCM,
};

/** The operator's controls of a member. */
struct mix_ctl {
	bool muted;                  /* nothing it says reaches the room */
	bool deaf;                   /* it hears silence */
	float gain_in_db;            /* on what it says, -20..+20 */
	float gain_out_db;           /* on what it hears, -20..+20 */
};

/** What a member is made with; copied at alloc. */
struct mix_member_prm {
	enum mix_member_kind kind;
	uint32_t key;                /* the control side's id (taps, logs) */
	struct mix_dsp dsp;          /* processing it starts with */
	struct mix_ctl ctl;          /* operator's controls it starts with */
	/* RTP */
	struct codec_prm codec;      /* negotiated: receive codec, and the
					pt/tel_pt it is sent */
	struct sa raddr;             /* its media address (SDP) */
	struct sa sig_addr;          /* where its SIP came from (NAT) */
	bool recv_on;                /* take what it sends (not on hold) */
	bool send_on;                /* send it the mix */
	/* PCM */
	uint32_t pcm_frames;         /* ring capacity each way, 20 ms
					frames (default 8) */
};

/** Published per member (relaxed atomics, written by the mixer). */
struct mix_member_stats {
	struct rtp_stats rtp;                /* RTP members */
	_Atomic int32_t level_in_cdb;        /* centi-dBFS */
	_Atomic int32_t level_out_cdb;       /* what it is sent */
	_Atomic bool talking;
	_Atomic bool active;                 /* voice detected */
	_Atomic bool own_stream;
	_Atomic uint32_t ptime_ms;           /* what it is sent */
	_Atomic uint32_t bitrate_bps;
	_Atomic uint64_t pcm_underruns;      /* PCM: no frame from it */
	_Atomic uint64_t pcm_overruns;       /* PCM: it did not take ours */
	/* chain meters, centi-dB unless named otherwise */
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
	_Atomic bool aec_running;            /* not resting: costs CPU */
	_Atomic bool echo_present;
	_Atomic bool double_talk;
	_Atomic int32_t echo_delay_ms10;     /* 0.1 ms, < 0: not found */
	_Atomic int32_t erle_cdb;
	_Atomic int32_t erl_cdb;
	_Atomic int32_t drift_ppm10;
};

/** The phases of a tick. PROCESS and OUT are parallel: their figures
 * are the mixer thread's own share, WAIT (after each) what it then
 * waited for the workers' (0 when it works alone). */
enum mix_phase {
	MIX_PH_COMMANDS = 0,     /* control commands, must-deliver events */
	MIX_PH_RECEIVE,          /* recvmmsg + demultiplex into the jbs */
	MIX_PH_PROCESS,          /* decode + speech chain (own share) */
	MIX_PH_SELECT,           /* talker selection */
	MIX_PH_MIX,              /* the sum, the profiles' encodes */
	MIX_PH_OUT,              /* own encodes, echo references, packets
				    out, per-member counters (own share) */
	MIX_PH_WAIT,             /* at the barriers, for the workers */
	MIX_PH_TAPS,             /* talk events, recorder, meters */
	MIX_PH_PUBLISH,          /* room counters */
	MIX_PH_RX_IDLE,          /* not in the tick: what was received
				    between ticks, 2 ms at a time */
	MIX_PH_N
};

/** The phase's name in the room JSON and the benchmarks. */
const char *mix_phase_name(enum mix_phase ph);

/** A window of this many ticks (5 s) gives the phases' maxima. */
#define MIX_PHASE_WINDOW 250

/** Room-wide counters, published like mix_member_stats. */
struct mixer_stats {
	/* time per phase: the sum over all ticks, and the longest of the
	 * last complete window */
	_Atomic uint64_t phase_ns[MIX_PH_N];
	_Atomic uint64_t phase_max_ns[MIX_PH_N];
	/* each worker's time in its shares of PROCESS and OUT (its time
	 * at the barriers is the rest of the tick) */
	_Atomic uint64_t worker_ns[MIX_MAX_WORKERS];
	_Atomic uint32_t workers;
	_Atomic uint32_t rt_threads;         /* threads that run SCHED_FIFO */
	_Atomic uint64_t ticks;
	_Atomic uint64_t late_ticks;
	_Atomic uint64_t shed_ticks;         /* run short of time: sites
						still learning decoded less */
	_Atomic uint64_t tick_ns_sum;
	_Atomic uint64_t tick_ns_max;
	_Atomic uint64_t encodes;
	_Atomic uint64_t ev_dropped;         /* talk/DTMF/latch events lost
						to a full event ring */
	_Atomic uint64_t tap_drops;          /* records no consumer took */
	_Atomic uint64_t cmd_backlog;        /* commands that waited for
						room in the ring (control) */
	_Atomic uint32_t members;
	_Atomic uint32_t talkers;
	_Atomic uint32_t taps;
};

enum mix_ev_type {
	MIX_EV_DETACHED = 1,     /* member: free it now */
	MIX_EV_LATCHED,          /* member; a = 1: NAT; addr: its new one */
	MIX_EV_DTMF,             /* member; a = event (0-9, 10 '*', 11 '#') */
	MIX_EV_TALK,             /* member; a = 1 starts talking, 0 stops */
	MIX_EV_PROFILE_GONE,     /* ptr: struct mix_profile to free */
	MIX_EV_FREE_AEC,         /* ptr: struct dsp_aec to free */
	MIX_EV_TAP_DETACHED,     /* ptr: struct mix_tap to free */
	MIX_EV_JOB,              /* member; ptr: struct mix_job, over;
				    a = 1: aborted (member left, replaced,
				    or no room for it) */
};

struct mix_ev {
	enum mix_ev_type type;
	struct mix_member *member;
	void *ptr;
	int a;
	struct sa addr;
};

/** realtime_priority = auto */
#define LB_RT_PRIO_AUTO 20

struct mixer_prm {
	uint32_t max_members;
	uint32_t max_talkers;
	int rtp_fd;              /* non-blocking UDP socket, owned by the
				    caller; -1: no RTP */
	uint32_t workers;        /* threads helping with pull + chain */
	uint32_t max_taps;       /* 0: max_members + 16 */
	uint32_t rt_prio;        /* SCHED_FIFO priority to ask for; 0: no */
	uint32_t shed_on_us;     /* a tick this long leaves the mixer short
				    of time (sites only being learnt are
				    decoded less for 2 s); 0: 14 ms */
};

/** The most readiness jobs running at once in a room. */
#define MIX_MAX_JOBS 32

/**
 * A readiness job on one member (bridge/ready.c): a clip it alone hears
 * over the mix, and what it sends captured raw (before the speech
 * chain), for `ticks` ticks. Capture frame k is the input of the job's
 * tick k; the clip's first sample leaves in the output of tick play_at,
 * so in the capture the clip starts at play_at * LB_FRAME. The buffers
 * are the caller's until MIX_EV_JOB hands the job back (also when the
 * member leaves: it never outlives the member).
 */
struct mix_job {
	const int16_t *play;     /* clip, or NULL */
	uint32_t playn;          /* its samples */
	uint32_t play_at;        /* tick of the job it starts in */
	int16_t *cap;            /* capture, or NULL */
	uint32_t capn;           /* its samples */
	uint32_t ticks;          /* length */
	bool exclude;            /* out of the talkers meanwhile: what it
				    sends is the probe's echo */
	bool deaf;               /* it hears the clip and nothing else
				    meanwhile (its mic then holds its own
				    room only) */
	/* the mixer's */
	uint32_t tick;
	bool aborted;
};

/**
 * One channel of an offload pool (a conference DSP unit, hw/pool.c) as
 * the mixer sees it: two SPSC rings, mixer -> device thread (a site's
 * microphone and its reference) and back (processed), each frame tagged
 * with the member's key so that a channel can change sites without
 * mixing one into the other. Owned by the control side (bridge/
 * offload.c) for the room's life.
 */
#define MIX_EXT_FRAMES 8
#define MIX_EXT_REF 64           /* frames of reference history (1.28 s) */

struct mix_ext_in {
	uint32_t tag;
	int16_t raw[LB_FRAME];
	int16_t ref[LB_FRAME];
};

struct mix_ext_out {
	uint32_t tag;
	int16_t pcm[LB_FRAME];
};

struct mix_ext {
	struct ring to_dev;      /* struct mix_ext_in */
	struct ring from_dev;    /* struct mix_ext_out */
	struct mix_ext_in inv[MIX_EXT_FRAMES];
	struct mix_ext_out outv[MIX_EXT_FRAMES];
	/* the mixer's: what the member heard, to delay the reference by
	 * the bulk delay its own canceller found */
	int16_t refh[MIX_EXT_REF][LB_FRAME];
	uint32_t refi;
	struct mix_ext_in scratch_in;
	struct mix_ext_out scratch;
	/* published by the mixer */
	_Atomic uint64_t served;         /* frames mixed from the unit */
	_Atomic uint64_t missed;         /* frames it did not deliver: the
					    software chain's were mixed */
	_Atomic int32_t ref_delay_ms;    /* reference delayed by */
	_Atomic int32_t erle_cdb;        /* the unit's echo reduction over
					    the last second the far end
					    spoke: its input over its
					    output, centi-dB; 0: unknown */
	/* the mixer's: sums for erle_cdb */
	double e_in, e_out;
	uint32_t e_n;
};

void mix_ext_init(struct mix_ext *x);

struct mixer;
struct mix_member;

/** Called on the network thread for every event. */
typedef void (mixer_ev_h)(const struct mix_ev *ev, void *arg);

int  mixer_alloc(struct mixer **mixp, const struct mixer_prm *prm,
		 mixer_ev_h *evh, void *arg);
int  mixer_start(struct mixer *mix);
void mixer_stop(struct mixer *mix);

/** A member for prm that hears prof (for RTP, prof's codec must be
 *  prm->codec's). Control side. */
int  mix_member_alloc(struct mix_member **mp,
		      const struct mix_member_prm *prm,
		      struct mix_profile *prof);
/** The control side's pointer for the member; the mixer never reads
 *  it. Control side. */
void  mix_member_set_owner(struct mix_member *m, void *owner);
void *mix_member_owner(const struct mix_member *m);
const struct mix_member_stats *mix_member_stats(const struct mix_member *m);
uint32_t mix_member_key(const struct mix_member *m);
/** RTP: our SSRC towards it (constant). */
uint32_t mix_member_ssrc(const struct mix_member *m);
/** Processing delay of its chain, ms (constant). */
float mix_member_chain_delay_ms(const struct mix_member *m);

/** PCM members, on the device's thread: put what it captured (20 ms at
 *  16 kHz), get what it plays. @return false when the ring is full /
 *  empty. RT-safe. */
bool mix_member_pcm_put(struct mix_member *m, const int16_t *frame);
bool mix_member_pcm_get(struct mix_member *m, int16_t *frame);

/** @return 0, EINVAL, or EAGAIN (command ring full). */
int  mixer_attach(struct mixer *mix, struct mix_member *m);
/** Never fails for valid arguments (see the file comment). */
int  mixer_detach(struct mixer *mix, struct mix_member *m);
/** New media address or direction (re-INVITE, hold). RTP members. */
int  mixer_update(struct mixer *mix, struct mix_member *m,
		  const struct sa *raddr, bool recv_on, bool send_on);
/** New processing settings. When echo control is turned on for a
 *  member that has no canceller, one is allocated here and handed
 *  over; replaced ones come back through MIX_EV_FREE_AEC. */
int  mixer_set_dsp(struct mixer *mix, struct mix_member *m,
		   const struct mix_dsp *dsp);
/** The operator's controls (mute, deaf, gains). */
int  mixer_set_ctl(struct mixer *mix, struct mix_member *m,
		   const struct mix_ctl *ctl);
/** Profile move: the member hears prof from now on (same codec), with
 *  its source and chain untouched (mixcore_member_move). prof must have
 *  been added. */
int  mixer_move(struct mixer *mix, struct mix_member *m,
		struct mix_profile *prof);
int  mixer_profile_add(struct mixer *mix, struct mix_profile *prof);
/** Never fails for valid arguments; MIX_EV_PROFILE_GONE follows. */
int  mixer_profile_del(struct mixer *mix, struct mix_profile *prof);
/** Serve m through the offload channel ext (NULL: back to its own
 *  chain). */
int  mixer_set_ext(struct mixer *mix, struct mix_member *m,
		   struct mix_ext *ext);
/** Run a job on m (see struct mix_job); MIX_EV_JOB always follows. */
int  mixer_job(struct mixer *mix, struct mix_member *m, struct mix_job *job);
/** The echo delay the readiness probe measured for m, ms (output to
 *  input): a hint for its canceller (mixcore_member_aec_hint). */
int  mixer_aec_hint(struct mixer *mix, struct mix_member *m, float delay_ms);
/** A clip every member hears, from the next tick (pcm must live until
 *  it has played: the prompts live as long as the process). */
int  mixer_play_all(struct mixer *mix, const int16_t *pcm, uint32_t n);
int  mixer_tap_attach(struct mixer *mix, struct mix_tap *tap);
/** Never fails for valid arguments; MIX_EV_TAP_DETACHED follows. */
int  mixer_tap_detach(struct mixer *mix, struct mix_tap *tap);

const struct mixer_stats *mixer_stats(const struct mixer *mix);
const struct rtpep_stats *mixer_rtp_stats(const struct mixer *mix);

/** One 20 ms cycle; exposed so tests can drive the mixer with no
 *  thread and no clock. RT-safe. */
void mixer_tick(struct mixer *mix, uint64_t now_ns);

/** Deliver pending events to the handler (network thread). */
void mixer_poll_events(struct mixer *mix);

#endif
