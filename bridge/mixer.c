/**
 * @file mixer.c  Room mixer thread: clock, commands and events, members'
 * sources and sinks, workers, taps, published counters.
 *
 * The rules of the mix live in mixcore.c and the RTP I/O in rtpep.c;
 * this file drives them every 20 ms and is the only place that knows
 * both. Real-time rules (STYLE.md 2.4): after mixer_start() the thread
 * never allocates, never blocks (the media socket is non-blocking;
 * recvmmsg and sendmmsg are the only syscalls besides clock_nanosleep
 * and the eventfd write), never logs and holds no lock. Everything it
 * touches is sized in mixer_alloc()/mix_member_alloc() on the control
 * side.
 *
 * Events: talk, DTMF and latch events are dropped (and counted) when
 * the event ring is full; the ones that hand memory back (detached
 * member, profile, tap, echo canceller) wait in a mixer-side array and
 * are retried every tick, so nothing leaks.
 */
#include <re.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include "mixer.h"
#include "ring.h"

#define CMDQ_CAP 4096
#define EVQ_CAP 4096
#define TICK_NS 20000000ull
#define SHED_ON_NS 14000000ull   /* default of mixer_prm.shed_on_us */
#define SHED_HOLD 100            /* ticks it stays so (2 s) */
#define PAR_MIN_MEMBERS 48       /* fewer: waking workers costs more */
#define PCM_FRAMES_DEFAULT 8
#define BACKLOG_RETRY_MS 20
#define SLOW_EVERY 25            /* slow counters: 2x per second */
#define RX_SLICE_NS 2000000ull   /* between ticks: receive this often */
#define RX_IDLE_MIN_MEMBERS 48   /* fewer: a tick's receive is short, the
				    wake-ups would cost more than it */

#define STAT_ADD(f, v)							\
	atomic_store_explicit(&(f),					\
		atomic_load_explicit(&(f), memory_order_relaxed) + (v),	\
		memory_order_relaxed)
#define STAT_SET(f, v) atomic_store_explicit(&(f), (v), memory_order_relaxed)

enum mix_cmd_type {
	CMD_ATTACH = 1,
	CMD_DETACH,
	CMD_UPDATE,
	CMD_DSP,
	CMD_CTL,
	CMD_MOVE,
	CMD_PROF_ADD,
	CMD_PROF_DEL,
	CMD_TAP_ADD,
	CMD_TAP_DEL,
	CMD_JOB,
	CMD_PLAY_ALL,
	CMD_AEC_HINT,
	CMD_EXT,
};

struct mix_cmd {
	enum mix_cmd_type type;
	struct mix_member *m;
	struct mix_profile *prof;
	struct mix_tap *tap;
	struct sa raddr;
	bool recv_on;
	bool send_on;
	struct mix_dsp dsp;
	struct mix_ctl ctl;
	struct dsp_aec *aec;     /* CMD_DSP: canceller to attach, or NULL */
	struct mix_job *job;     /* CMD_JOB */
	const int16_t *pcm;      /* CMD_PLAY_ALL */
	uint32_t pcmn;
	float hint_ms;           /* CMD_AEC_HINT */
	struct mix_ext *ext;     /* CMD_EXT */
};

/* A command that waits on the control side for room in the ring. */
struct backlog_cmd {
	struct le le;
	struct mix_cmd cmd;
};

struct mix_member {
	/* --- set by the control side before attach, then constant ---- */
	enum mix_member_kind kind;
	uint32_t key;
	struct mixcore_member *core;
	float chain_delay_ms;

	/* --- control side only (the mixer never reads these) --------- */
	void *owner;
	bool ctl_aec;            /* a canceller was handed over */

	/* --- the mixer's after attach -------------------------------- */
	struct rtpep_peer rtp;   /* MIX_MEMBER_RTP */
	bool recv_on;            /* not on hold */
	bool muted;              /* by the operator */
	bool speak, hear;
	bool heard;              /* this tick's input was audio */
	bool talker;             /* as last reported */
	uint32_t full_taps;      /* member taps that want the chain in full */
	struct ring pcm_in;      /* MIX_MEMBER_PCM: device -> mixer */
	struct ring pcm_out;     /* mixer -> device */
	int16_t *pcm_inbuf;
	int16_t *pcm_outbuf;
	struct mix_job *job;     /* a readiness job running, or NULL */
	struct mix_ext *ext;     /* its offload channel, or NULL */

	struct mix_member_stats st;
};

struct worker {
	struct mixer *mix;
	pthread_t thread;
	uint32_t part;           /* its region of the members: 1.. */
};

/* What one thread of a tick (the mixer thread: lane 0, worker k: lane
 * k) keeps for the members it handles in a parallel phase. */
struct lane {
	struct rtpep_txq txq;
	uint32_t encodes;
	float tmp[LB_FRAME];
};

enum par_phase {
	PAR_PROCESS = 0,         /* pull + speech chain */
	PAR_OUT,                 /* finish, send, publish */
};

struct tap_slot {
	struct mix_tap *tap;
	struct mix_member *member;       /* MEMBER taps; NULL while no member
					    with its key is attached */
	uint32_t key;
	enum mix_tap_kind kind;
	uint32_t every;
	bool full;
};

struct mixer {
	struct mixer_prm prm;
	struct mixer_stats st;
	mixer_ev_h *evh;
	void *arg;
	struct mixcore *core;
	struct rtpep *ep;

	pthread_t thread;
	_Atomic bool run;
	bool started;

	/* what grows with the members (pull + chain; own encodes, sends
	 * and counters) is split over the mixer thread and these workers;
	 * two barrier waits hand each such phase over. Each thread starts
	 * on its own region of the members (the same ones tick after
	 * tick: their state stays in its cache) and helps the others in
	 * chunks once done, so nobody waits for a slower share. */
	struct worker workv[MIX_MAX_WORKERS];
	uint32_t workc;
	struct lane lanes[MIX_MAX_WORKERS + 1];
	_Atomic uint32_t claim[MIX_MAX_WORKERS + 1];
	uint32_t rstart[MIX_MAX_WORKERS + 2];
	uint32_t parts;
	enum par_phase phase;
	uint64_t now_ns;
	pthread_barrier_t bar;
	_Atomic bool wready;
	_Atomic bool wstop;
	int evfd;

	/* control side */
	struct ring cmdq;
	struct mix_cmd *cmdbuf;
	struct list backlog;
	struct tmr tmr_backlog;
	uint32_t ctl_members;            /* attached or on their way */
	uint32_t ctl_taps;

	/* mixer side */
	struct ring evq;
	struct mix_ev *evbuf;
	bool ev_pending;
	struct mix_ev *mustv;            /* events that must not be lost */
	uint32_t mustc, must_cap;
	struct tap_slot *tapv;
	uint32_t tapc;
	struct mix_meter meter;          /* scratch */
	struct mix_tap_frame tframe;     /* scratch */
	uint64_t tick;
	uint64_t ph_max[MIX_PH_N];       /* this window's */
	uint64_t shed_until;             /* tick: short of time until */
	uint64_t shed_on_ns;
	bool shed;                       /* this tick (read by workers
					    after the barrier) */
	struct mix_member *jobv[MIX_MAX_JOBS];  /* members with a job */
	uint32_t jobc;
};

/* ---- members (control side) --------------------------------------------- */

static void member_destructor(void *arg)
{
	struct mix_member *m = arg;

	if (m->kind == MIX_MEMBER_RTP)
		rtpep_peer_close(&m->rtp);
	mem_deref(m->core);
	mem_deref(m->pcm_inbuf);
	mem_deref(m->pcm_outbuf);
}

static int pcm_rings(struct mix_member *m, uint32_t frames)
{
	const size_t recsz = LB_FRAME * sizeof(int16_t);
	uint32_t cap = 2;

	while (cap < frames)
		cap <<= 1;
	m->pcm_inbuf = mem_zalloc(cap * recsz, NULL);
	m->pcm_outbuf = mem_zalloc(cap * recsz, NULL);
	if (!m->pcm_inbuf || !m->pcm_outbuf)
		return ENOMEM;
	ring_init(&m->pcm_in, m->pcm_inbuf, cap, (uint32_t)recsz);
	ring_init(&m->pcm_out, m->pcm_outbuf, cap, (uint32_t)recsz);
	return 0;
}

static float db_lin(float db)
{
	return db == 0.0f ? 1.0f : powf(10.0f, db / 20.0f);
}

int mix_member_alloc(struct mix_member **mp,
		     const struct mix_member_prm *prm,
		     struct mix_profile *prof)
{
	struct mix_member *m;
	int err;

	if (!mp || !prm || !prof)
		return EINVAL;
	if (prm->kind == MIX_MEMBER_RTP &&
	    mix_profile_prm(prof)->id != prm->codec.id)
		return EINVAL;
	if (prm->kind != MIX_MEMBER_RTP && prm->kind != MIX_MEMBER_PCM)
		return EINVAL;
	m = mem_zalloc(sizeof(*m), member_destructor);
	if (!m)
		return ENOMEM;
	m->kind = prm->kind;
	m->key = prm->key;
	m->speak = m->hear = true;
	m->recv_on = true;
	m->ctl_aec = prm->dsp.proc.aec;

	err = mixcore_member_alloc(&m->core, &prm->dsp, prof, m);
	if (err)
		goto out;
	m->chain_delay_ms = mixcore_member_meters(m->core)->delay_ms;

	if (prm->kind == MIX_MEMBER_RTP) {
		err = rtpep_peer_init(&m->rtp, &prm->codec, &m->st.rtp, m);
		if (err)
			goto out;
		m->rtp.raddr = prm->raddr;
		m->rtp.sig_addr = prm->sig_addr;
		m->rtp.recv_on = prm->recv_on;
		m->rtp.send_on = prm->send_on;
		m->recv_on = prm->recv_on;
		m->hear = prm->send_on;
	}
	else {
		err = pcm_rings(m, prm->pcm_frames ? prm->pcm_frames :
				PCM_FRAMES_DEFAULT);
	}
	m->muted = prm->ctl.muted;
	m->speak = m->recv_on && !m->muted;
	mixcore_member_set_io(m->core, m->speak, m->hear);
	mixcore_member_set_levels(m->core, db_lin(prm->ctl.gain_in_db),
				  db_lin(prm->ctl.gain_out_db),
				  prm->ctl.deaf);
 out:
	if (err)
		mem_deref(m);
	else
		*mp = m;
	return err;
}

void mix_member_set_owner(struct mix_member *m, void *owner)
{
	if (m)
		m->owner = owner;
}

void *mix_member_owner(const struct mix_member *m)
{
	return m ? m->owner : NULL;
}

const struct mix_member_stats *mix_member_stats(const struct mix_member *m)
{
	return m ? &m->st : NULL;
}

uint32_t mix_member_key(const struct mix_member *m)
{
	return m ? m->key : 0;
}

uint32_t mix_member_ssrc(const struct mix_member *m)
{
	return m && m->kind == MIX_MEMBER_RTP ? m->rtp.ssrc_tx : 0;
}

float mix_member_chain_delay_ms(const struct mix_member *m)
{
	return m ? m->chain_delay_ms : 0.0f;
}

bool mix_member_pcm_put(struct mix_member *m, const int16_t *frame)
{
	return m && m->kind == MIX_MEMBER_PCM && frame &&
		ring_push(&m->pcm_in, frame);
}

bool mix_member_pcm_get(struct mix_member *m, int16_t *frame)
{
	return m && m->kind == MIX_MEMBER_PCM && frame &&
		ring_pop(&m->pcm_out, frame);
}

/* ---- the mixer (control side) ------------------------------------------- */

static void backlog_flush(struct mixer *mix);

static void mixer_destructor(void *arg)
{
	struct mixer *mix = arg;

	mixer_stop(mix);
	tmr_cancel(&mix->tmr_backlog);
	list_flush(&mix->backlog);
	if (mix->evfd >= 0) {
		fd_close(mix->evfd);
		close(mix->evfd);
	}
	mem_deref(mix->cmdbuf);
	mem_deref(mix->evbuf);
	mem_deref(mix->mustv);
	mem_deref(mix->tapv);
	mem_deref(mix->ep);
	mem_deref(mix->core);
	for (uint32_t i = 0; i <= MIX_MAX_WORKERS; i++)
		rtpep_txq_reset(&mix->lanes[i].txq);
}

static void evfd_handler(int flags, void *arg)
{
	struct mixer *mix = arg;
	uint64_t v;
	(void)flags;

	(void)!read(mix->evfd, &v, sizeof(v));
	mixer_poll_events(mix);
}

static void on_rtpep_event(enum rtpep_ev ev, struct rtpep_peer *peer,
			   int a, const struct sa *addr, void *arg);

int mixer_alloc(struct mixer **mixp, const struct mixer_prm *prm,
		mixer_ev_h *evh, void *arg)
{
	const struct mixcore_prm cp = {
		.max_members = prm ? prm->max_members : 0,
		.max_talkers = prm ? prm->max_talkers : 0};
	struct mixer *mix;
	int err;

	if (!mixp || !prm || !prm->max_members || !evh)
		return EINVAL;
	mix = mem_zalloc(sizeof(*mix), mixer_destructor);
	if (!mix)
		return ENOMEM;
	mix->prm = *prm;
	mix->shed_on_ns = prm->shed_on_us ?
		(uint64_t)prm->shed_on_us * 1000u : SHED_ON_NS;
	if (!mix->prm.max_taps)
		mix->prm.max_taps = prm->max_members + 16;
	mix->evh = evh;
	mix->arg = arg;
	mix->evfd = -1;
	tmr_init(&mix->tmr_backlog);
	list_init(&mix->backlog);

	err = mixcore_alloc(&mix->core, &cp);
	if (err)
		goto out;
	err = rtpep_alloc(&mix->ep, prm->rtp_fd, prm->max_members,
			  on_rtpep_event, mix);
	if (err)
		goto out;
	/* a lane for the mixer thread and each worker it may start; a
	 * full batch sends itself, so it need not hold every member */
	for (uint32_t i = 0; i <= prm->workers && i <= MIX_MAX_WORKERS;
	     i++) {
		err = rtpep_txq_init(&mix->lanes[i].txq,
				     prm->max_members < 512 ?
				     prm->max_members : 512);
		if (err)
			goto out;
	}
	mix->must_cap = 2 * prm->max_members + mix->prm.max_taps +
		2 * MIXCORE_MAX_PROFILES + MIX_MAX_JOBS + 64;
	mix->cmdbuf = mem_zalloc(CMDQ_CAP * sizeof(struct mix_cmd), NULL);
	mix->evbuf = mem_zalloc(EVQ_CAP * sizeof(struct mix_ev), NULL);
	mix->mustv = mem_zalloc(mix->must_cap * sizeof(*mix->mustv), NULL);
	mix->tapv = mem_zalloc(mix->prm.max_taps * sizeof(*mix->tapv),
			       NULL);
	if (!mix->cmdbuf || !mix->evbuf || !mix->mustv || !mix->tapv) {
		err = ENOMEM;
		goto out;
	}
	ring_init(&mix->cmdq, mix->cmdbuf, CMDQ_CAP, sizeof(struct mix_cmd));
	ring_init(&mix->evq, mix->evbuf, EVQ_CAP, sizeof(struct mix_ev));

	mix->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (mix->evfd < 0) {
		err = errno;
		goto out;
	}
	err = fd_listen(mix->evfd, FD_READ, evfd_handler, mix);
 out:
	if (err)
		mem_deref(mix);
	else
		*mixp = mix;
	return err;
}

/* ---- commands (control side) -------------------------------------------- */

static void backlog_timer(void *arg)
{
	struct mixer *mix = arg;

	backlog_flush(mix);
}

static void backlog_flush(struct mixer *mix)
{
	struct le *le;

	while ((le = list_head(&mix->backlog))) {
		struct backlog_cmd *b = le->data;

		if (!ring_push(&mix->cmdq, &b->cmd))
			break;
		list_unlink(le);
		mem_deref(b);
	}
	if (!list_isempty(&mix->backlog))
		tmr_start(&mix->tmr_backlog, BACKLOG_RETRY_MS, backlog_timer,
			  mix);
}

/* must: the command cannot be refused (a release); it then waits in
 * the backlog. Commands keep their order: while anything waits there,
 * new commands go behind it or are refused. */
static int cmd_push(struct mixer *mix, const struct mix_cmd *cmd, bool must)
{
	struct backlog_cmd *b;

	if (list_isempty(&mix->backlog) && ring_push(&mix->cmdq, cmd))
		return 0;
	if (!must)
		return EAGAIN;
	b = mem_zalloc(sizeof(*b), NULL);
	if (!b)
		return ENOMEM;
	b->cmd = *cmd;
	list_append(&mix->backlog, &b->le, b);
	STAT_ADD(mix->st.cmd_backlog, 1);
	if (!tmr_isrunning(&mix->tmr_backlog))
		tmr_start(&mix->tmr_backlog, BACKLOG_RETRY_MS, backlog_timer,
			  mix);
	return 0;
}

int mixer_attach(struct mixer *mix, struct mix_member *m)
{
	struct mix_cmd c = {.type = CMD_ATTACH, .m = m};
	int err;

	if (!mix || !m)
		return EINVAL;
	if (mix->ctl_members >= mix->prm.max_members)
		return ENOSPC;
	err = cmd_push(mix, &c, false);
	if (!err)
		++mix->ctl_members;
	return err;
}

int mixer_detach(struct mixer *mix, struct mix_member *m)
{
	struct mix_cmd c = {.type = CMD_DETACH, .m = m};
	int err;

	if (!mix || !m)
		return EINVAL;
	err = cmd_push(mix, &c, true);
	if (!err && mix->ctl_members)
		--mix->ctl_members;
	return err;
}

int mixer_update(struct mixer *mix, struct mix_member *m,
		 const struct sa *raddr, bool recv_on, bool send_on)
{
	struct mix_cmd c = {.type = CMD_UPDATE, .m = m,
			    .recv_on = recv_on, .send_on = send_on};

	if (!mix || !m || !raddr || m->kind != MIX_MEMBER_RTP)
		return EINVAL;
	c.raddr = *raddr;
	return cmd_push(mix, &c, false);
}

int mixer_set_dsp(struct mixer *mix, struct mix_member *m,
		  const struct mix_dsp *dsp)
{
	struct mix_cmd c = {.type = CMD_DSP, .m = m};
	int err;

	if (!mix || !m || !dsp)
		return EINVAL;
	c.dsp = *dsp;
	if (dsp->proc.aec && !m->ctl_aec) {
		err = mixcore_aec_alloc(&c.aec);
		if (err)
			return err;
	}
	err = cmd_push(mix, &c, false);
	if (err) {
		dsp_aec_free(c.aec);
		return err;
	}
	if (c.aec)
		m->ctl_aec = true;
	return 0;
}

int mixer_set_ctl(struct mixer *mix, struct mix_member *m,
		  const struct mix_ctl *ctl)
{
	struct mix_cmd c = {.type = CMD_CTL, .m = m};

	if (!mix || !m || !ctl)
		return EINVAL;
	c.ctl = *ctl;
	return cmd_push(mix, &c, false);
}

int mixer_move(struct mixer *mix, struct mix_member *m,
	       struct mix_profile *prof)
{
	struct mix_cmd c = {.type = CMD_MOVE, .m = m, .prof = prof};

	if (!mix || !m || !prof)
		return EINVAL;
	return cmd_push(mix, &c, false);
}

int mixer_profile_add(struct mixer *mix, struct mix_profile *prof)
{
	struct mix_cmd c = {.type = CMD_PROF_ADD, .prof = prof};

	if (!mix || !prof)
		return EINVAL;
	return cmd_push(mix, &c, false);
}

int mixer_profile_del(struct mixer *mix, struct mix_profile *prof)
{
	struct mix_cmd c = {.type = CMD_PROF_DEL, .prof = prof};

	if (!mix || !prof)
		return EINVAL;
	return cmd_push(mix, &c, true);
}

int mixer_job(struct mixer *mix, struct mix_member *m, struct mix_job *job)
{
	struct mix_cmd c = {.type = CMD_JOB, .m = m, .job = job};

	if (!mix || !m || !job || !job->ticks ||
	    (job->cap && job->capn < LB_FRAME))
		return EINVAL;
	return cmd_push(mix, &c, false);
}

void mix_ext_init(struct mix_ext *x)
{
	memset(x, 0, sizeof(*x));
	ring_init(&x->to_dev, x->inv, MIX_EXT_FRAMES, sizeof(x->inv[0]));
	ring_init(&x->from_dev, x->outv, MIX_EXT_FRAMES, sizeof(x->outv[0]));
}

int mixer_set_ext(struct mixer *mix, struct mix_member *m,
		  struct mix_ext *ext)
{
	struct mix_cmd c = {.type = CMD_EXT, .m = m, .ext = ext};

	if (!mix || !m)
		return EINVAL;
	return cmd_push(mix, &c, false);
}

int mixer_aec_hint(struct mixer *mix, struct mix_member *m, float delay_ms)
{
	struct mix_cmd c = {.type = CMD_AEC_HINT, .m = m,
			    .hint_ms = delay_ms};

	if (!mix || !m)
		return EINVAL;
	return cmd_push(mix, &c, false);
}

int mixer_play_all(struct mixer *mix, const int16_t *pcm, uint32_t n)
{
	struct mix_cmd c = {.type = CMD_PLAY_ALL, .pcm = pcm, .pcmn = n};

	if (!mix || (n && !pcm))
		return EINVAL;
	return cmd_push(mix, &c, false);
}

int mixer_tap_attach(struct mixer *mix, struct mix_tap *tap)
{
	struct mix_cmd c = {.type = CMD_TAP_ADD, .tap = tap};
	int err;

	if (!mix || !tap)
		return EINVAL;
	if (mix->ctl_taps >= mix->prm.max_taps)
		return ENOSPC;
	err = cmd_push(mix, &c, false);
	if (!err)
		++mix->ctl_taps;
	return err;
}

int mixer_tap_detach(struct mixer *mix, struct mix_tap *tap)
{
	struct mix_cmd c = {.type = CMD_TAP_DEL, .tap = tap};
	int err;

	if (!mix || !tap)
		return EINVAL;
	err = cmd_push(mix, &c, true);
	if (!err && mix->ctl_taps)
		--mix->ctl_taps;
	return err;
}

const struct mixer_stats *mixer_stats(const struct mixer *mix)
{
	return mix ? &mix->st : NULL;
}

const struct rtpep_stats *mixer_rtp_stats(const struct mixer *mix)
{
	return mix ? rtpep_stats(mix->ep) : NULL;
}

void mixer_poll_events(struct mixer *mix)
{
	struct mix_ev ev;

	while (ring_pop(&mix->evq, &ev))
		mix->evh(&ev, mix->arg);
	backlog_flush(mix);
}

/* ---- events (mixer side) ------------------------------------------------ */

static void ev_post(struct mixer *mix, const struct mix_ev *ev)
{
	if (ring_push(&mix->evq, ev))
		mix->ev_pending = true;
	else
		STAT_ADD(mix->st.ev_dropped, 1);
}

/* Events that give memory back: never dropped. They queue behind any
 * that wait already, so their order holds. */
static void ev_must(struct mixer *mix, const struct mix_ev *ev)
{
	if (!mix->mustc && ring_push(&mix->evq, ev)) {
		mix->ev_pending = true;
		return;
	}
	if (mix->mustc < mix->must_cap)
		mix->mustv[mix->mustc++] = *ev;
	else
		STAT_ADD(mix->st.ev_dropped, 1);   /* sized not to happen */
}

static void must_flush(struct mixer *mix)
{
	uint32_t i = 0;

	while (i < mix->mustc && ring_push(&mix->evq, &mix->mustv[i]))
		++i;
	if (!i)
		return;
	mix->ev_pending = true;
	mix->mustc -= i;
	memmove(mix->mustv, mix->mustv + i, mix->mustc * sizeof(*mix->mustv));
}

static void on_rtpep_event(enum rtpep_ev ev, struct rtpep_peer *peer,
			   int a, const struct sa *addr, void *arg)
{
	struct mixer *mix = arg;
	struct mix_ev e = {.member = peer->arg, .a = a};

	e.type = ev == RTPEP_EV_LATCHED ? MIX_EV_LATCHED : MIX_EV_DTMF;
	if (addr)
		e.addr = *addr;
	ev_post(mix, &e);
}

/* ---- commands (mixer side) ---------------------------------------------- */

static void tap_slot_remove(struct mixer *mix, uint32_t i)
{
	struct tap_slot *s = &mix->tapv[i];

	if (s->member && s->full && --s->member->full_taps == 0)
		mixcore_member_set_full(s->member->core, false);
	mix->tapv[i] = mix->tapv[--mix->tapc];
}

/* Member taps follow the key: a site whose media is rebuilt (a codec
 * change attaches a new member, then detaches the old one) keeps its
 * tap, so its recording goes on in the same track. */
static void tap_bind(struct tap_slot *s, struct mix_member *m)
{
	s->member = m;
	if (m && s->full && m->full_taps++ == 0)
		mixcore_member_set_full(m->core, true);
}

static struct mix_member *member_by_key(struct mixer *mix, uint32_t key,
					const struct mix_member *not)
{
	struct mixcore_member *const *v;
	uint32_t n, i;

	v = mixcore_members(mix->core, &n);
	for (i = 0; i < n; i++) {
		struct mix_member *m = mixcore_member_user(v[i]);

		if (m != not && m->key == key)
			return m;
	}
	return NULL;
}

/* A job is over (done, or aborted): out of the list, back to the
 * control side. */
static void job_end(struct mixer *mix, uint32_t i, bool aborted)
{
	struct mix_member *m = mix->jobv[i];
	struct mix_ev ev = {.type = MIX_EV_JOB, .member = m, .ptr = m->job,
			    .a = aborted};

	m->job->aborted = aborted;
	if (m->job->exclude)
		mixcore_member_exclude(m->core, false);
	if (m->job->deaf)
		mixcore_member_clip_only(m->core, false);
	if (aborted && m->job->play)
		mixcore_member_play(m->core, NULL, 0);
	m->job = NULL;
	mix->jobv[i] = mix->jobv[--mix->jobc];
	ev_must(mix, &ev);
}

static void cmd_job(struct mixer *mix, struct mix_member *m,
		    struct mix_job *job)
{
	uint32_t i;

	job->tick = 0;
	job->aborted = false;
	for (i = 0; i < mix->jobc; i++) {
		if (mix->jobv[i] == m)
			job_end(mix, i, true);  /* a new one replaces it */
	}
	if (mix->jobc >= MIX_MAX_JOBS) {
		const struct mix_ev ev = {.type = MIX_EV_JOB, .member = m,
					  .ptr = job, .a = 1};

		job->aborted = true;
		ev_must(mix, &ev);
		return;
	}
	m->job = job;
	mix->jobv[mix->jobc++] = m;
	if (job->exclude)
		mixcore_member_exclude(m->core, true);
	if (job->deaf)
		mixcore_member_clip_only(m->core, true);
	if (job->play && job->play_at == 0)
		mixcore_member_play(m->core, job->play, job->playn);
}

/* End of a tick: the jobs' clocks. A clip started here begins in the
 * next tick's output, the same tick whose input is captured at
 * play_at frames (mix_job). */
static void jobs_tick(struct mixer *mix)
{
	uint32_t i = 0;

	while (i < mix->jobc) {
		struct mix_member *m = mix->jobv[i];
		struct mix_job *job = m->job;

		if (++job->tick == job->play_at && job->play && job->play_at)
			mixcore_member_play(m->core, job->play, job->playn);
		if (job->tick >= job->ticks) {
			job_end(mix, i, false);
			continue;
		}
		++i;
	}
}

static void member_gone(struct mixer *mix, struct mix_member *m)
{
	const struct mix_ev ev = {.type = MIX_EV_DETACHED, .member = m};
	uint32_t i;

	for (i = 0; i < mix->jobc; i++) {
		if (mix->jobv[i] == m) {
			job_end(mix, i, true);
			break;
		}
	}
	/* its taps go to another member with its key, or stay, producing
	 * nothing, until one comes or their own detach */
	for (i = 0; i < mix->tapc; i++) {
		if (mix->tapv[i].member == m)
			tap_bind(&mix->tapv[i],
				 member_by_key(mix, m->key, m));
	}
	m->full_taps = 0;
	mixcore_remove(mix->core, m->core);
	if (m->kind == MIX_MEMBER_RTP)
		rtpep_remove(mix->ep, &m->rtp);
	ev_must(mix, &ev);
}

static void cmd_tap_add(struct mixer *mix, struct mix_tap *tap)
{
	const struct mix_tap_prm *tp = mix_tap_prm(tap);
	struct tap_slot *s;

	if (mix->tapc >= mix->prm.max_taps)
		return;       /* the control side counts; cannot happen */
	s = &mix->tapv[mix->tapc++];
	s->tap = tap;
	s->kind = tp->kind;
	s->every = tp->every;
	s->full = tp->kind == MIX_TAP_MEMBER && tp->full;
	s->key = tp->kind != MIX_TAP_MEMBER ? 0 :
		tp->member ? tp->member->key : tp->key;
	s->member = NULL;
	if (tp->kind == MIX_TAP_MEMBER)
		tap_bind(s, member_by_key(mix, s->key, NULL));
}

static void cmd_tap_del(struct mixer *mix, struct mix_tap *tap)
{
	const struct mix_ev ev = {.type = MIX_EV_TAP_DETACHED, .ptr = tap};
	uint32_t i;

	for (i = 0; i < mix->tapc; i++) {
		if (mix->tapv[i].tap == tap) {
			tap_slot_remove(mix, i);
			break;
		}
	}
	ev_must(mix, &ev);
}

static void drain_cmds(struct mixer *mix)
{
	struct mix_cmd c;
	struct mix_ev ev;

	while (ring_pop(&mix->cmdq, &c)) {
		struct mix_member *m = c.m;

		memset(&ev, 0, sizeof(ev));
		switch (c.type) {

		case CMD_ATTACH:
			/* the control side counts members: room is there */
			if (mixcore_add(mix->core, m->core))
				break;
			if (m->kind == MIX_MEMBER_RTP &&
			    rtpep_add(mix->ep, &m->rtp)) {
				mixcore_remove(mix->core, m->core);
				break;
			}
			for (uint32_t i = 0; i < mix->tapc; i++) {
				struct tap_slot *ts = &mix->tapv[i];

				if (ts->kind == MIX_TAP_MEMBER &&
				    !ts->member && ts->key == m->key)
					tap_bind(ts, m);
			}
			break;

		case CMD_DETACH:
			member_gone(mix, m);
			break;

		case CMD_UPDATE:
			rtpep_update(mix->ep, &m->rtp, &c.raddr, c.recv_on,
				     c.send_on);
			m->recv_on = c.recv_on;
			m->speak = m->recv_on && !m->muted;
			m->hear = c.send_on;
			mixcore_member_set_io(m->core, m->speak, m->hear);
			break;

		case CMD_CTL:
			m->muted = c.ctl.muted;
			m->speak = m->recv_on && !m->muted;
			mixcore_member_set_io(m->core, m->speak, m->hear);
			mixcore_member_set_levels(m->core,
						  db_lin(c.ctl.gain_in_db),
						  db_lin(c.ctl.gain_out_db),
						  c.ctl.deaf);
			break;

		case CMD_DSP:
			ev.type = MIX_EV_FREE_AEC;
			mixcore_member_set_dsp(m->core, &c.dsp, c.aec,
					       (struct dsp_aec **)&ev.ptr);
			if (ev.ptr)
				ev_must(mix, &ev);
			break;

		case CMD_MOVE:
			(void)mixcore_member_move(m->core, c.prof);
			break;

		case CMD_PROF_ADD:
			(void)mixcore_profile_add(mix->core, c.prof);
			break;

		case CMD_PROF_DEL:
			mixcore_profile_remove(mix->core, c.prof);
			ev.type = MIX_EV_PROFILE_GONE;
			ev.ptr = c.prof;
			ev_must(mix, &ev);
			break;

		case CMD_TAP_ADD:
			cmd_tap_add(mix, c.tap);
			break;

		case CMD_TAP_DEL:
			cmd_tap_del(mix, c.tap);
			break;

		case CMD_JOB:
			cmd_job(mix, m, c.job);
			break;

		case CMD_PLAY_ALL:
			mixcore_play_all(mix->core, c.pcm, c.pcmn);
			break;

		case CMD_AEC_HINT:
			mixcore_member_aec_hint(m->core, c.hint_ms);
			break;

		case CMD_EXT:
			m->ext = c.ext;
			break;
		}
	}
}

/* ---- sources and sinks -------------------------------------------------- */

/* One member's pull and speech chain. Members are independent here:
 * each one's source, chain and counters are touched by exactly one
 * thread per tick, and the barriers order one tick's writers before
 * the next tick's. */
static double energy(const int16_t *x)
{
	double e = 0.0;
	size_t i;

	for (i = 0; i < LB_FRAME; i++)
		e += (double)x[i] * x[i];
	return e;
}

/* The unit's echo reduction while the far end speaks (the site heard
 * something above -50 dBFS): what went in over what came back, over 50
 * such frames. The unit's output lags its input by its delay; over a
 * second that evens out. */
static void ext_erle(struct mix_ext *x, const int16_t *in,
		     const int16_t *out, const int16_t *heard)
{
	if (energy(heard) < LB_FRAME * 107.0 * 107.0)
		return;
	x->e_in += energy(in);
	x->e_out += energy(out);
	if (++x->e_n < 50)
		return;
	if (x->e_in > 0.0 && x->e_out > 0.0)
		STAT_SET(x->erle_cdb, (int32_t)(1000.0 *
			 log10(x->e_in / x->e_out)));
	x->e_in = x->e_out = 0.0;
	x->e_n = 0;
}

/* A member served by an offload channel: its raw input and its delayed
 * reference to the unit, the unit's processed frame (the one tagged for
 * it; older ones are another site's or late) mixed when there is one,
 * its warm software chain's otherwise. */
static void ext_exchange(struct mix_member *m, struct mixcore_member *cm,
			 const int16_t *in, bool heard)
{
	struct mix_ext *x = m->ext;
	struct dsp_aec_stats as;
	struct mix_ext_in *fi;
	uint32_t back = 0;
	bool got = false;

	/* the unit's canceller is short: the bridge takes the bulk delay
	 * its own canceller found out of the reference (less 40 ms that
	 * the unit's search keeps) */
	if (mixcore_member_aec_stats(cm, &as) && as.delay_ms >= 60.0f)
		back = (uint32_t)((as.delay_ms - 40.0f) / 20.0f);
	if (back >= MIX_EXT_REF)
		back = MIX_EXT_REF - 1;
	STAT_SET(x->ref_delay_ms, (int32_t)back * 20);
	fi = &x->scratch_in;
	fi->tag = m->key;
	memcpy(fi->raw, in, sizeof(fi->raw));
	memcpy(fi->ref, x->refh[(x->refi + MIX_EXT_REF - back) % MIX_EXT_REF],
	       sizeof(fi->ref));
	(void)ring_push(&x->to_dev, fi);
	while (ring_pop(&x->from_dev, &x->scratch)) {
		if (x->scratch.tag == m->key) {
			got = true;
			break;
		}
	}
	if (got)
		ext_erle(x, fi->raw, x->scratch.pcm,
			 mixcore_member_reference(cm));
	mixcore_member_process_ext(cm, heard, got ? x->scratch.pcm : NULL);
	/* what it heard this tick joins the history after the chain has
	 * taken it as its reference */
	x->refi = (x->refi + 1) % MIX_EXT_REF;
	memcpy(x->refh[x->refi], mixcore_member_reference(cm),
	       sizeof(x->refh[0]));
	if (got)
		STAT_ADD(x->served, 1);
	else
		STAT_ADD(x->missed, 1);
}

static void member_pull(struct mixer *mix, struct mixcore_member *cm)
{
	struct mix_member *m = mixcore_member_user(cm);
	int16_t *in = mixcore_member_input(cm);
	enum rtpep_got got = RTPEP_AUDIO;
	bool heard;

	if (m->kind == MIX_MEMBER_RTP) {
		enum rtpep_want want = RTPEP_ALL;

		/* a probe's capture wants every frame as it came, a late
		 * one concealed rather than left out; a member on an
		 * offload unit is never left undecoded (the unit needs
		 * its microphone) */
		if (!(m->job && m->job->cap) &&
		    !mixcore_member_meters(cm)->speech &&
		    !mixcore_member_talking(cm)) {
			want = RTPEP_IDLE;
			if (!m->ext && mixcore_member_may_skip(cm))
				want = RTPEP_QUIET;
			else if (!m->ext && mix->shed &&
				 mixcore_member_may_shed(cm))
				want = RTPEP_LEARN;
		}
		got = rtpep_pull(&m->rtp, in, want);
		heard = got == RTPEP_AUDIO;
	}
	else {
		heard = ring_pop(&m->pcm_in, in);
		if (!heard) {
			memset(in, 0, LB_FRAME * sizeof(int16_t));
			STAT_ADD(m->st.pcm_underruns, 1);
		}
		else if (!m->speak) {
			memset(in, 0, LB_FRAME * sizeof(int16_t));
			heard = false;
		}
	}
	m->heard = heard;
	if (m->job && m->job->cap) {
		/* raw, before the chain: the probe's return as it came */
		const size_t at = (size_t)m->job->tick * LB_FRAME;

		if (at + LB_FRAME <= m->job->capn)
			memcpy(m->job->cap + at, in,
			       LB_FRAME * sizeof(int16_t));
	}
	if (m->ext)
		ext_exchange(m, cm, in, heard);
	else if (got == RTPEP_VOICELESS)
		mixcore_member_skip(cm);
	else
		mixcore_member_process(cm, heard);
}

static void publish_member(struct mixer *mix, struct mix_member *m,
			   uint32_t i);

/* One member's out: its stream (own encode or the profile's packet),
 * its echo reference, its packet into the lane's batch, its counters. */
static void member_out(struct mixer *mix, struct lane *ln,
		       struct mixcore_member *cm, uint32_t i)
{
	static const int16_t silence[LB_FRAME];
	struct mix_member *m = mixcore_member_user(cm);
	struct mixcore_out out;

	ln->encodes += mixcore_member_finish(mix->core, cm, ln->tmp);
	mixcore_member_output(cm, &out);
	if (m->kind == MIX_MEMBER_RTP) {
		rtpep_txq_add(mix->ep, &ln->txq, &m->rtp, out.pkt, out.len,
			      out.samples, mix->now_ns);
	}
	else if (!ring_push(&m->pcm_out, m->hear ? out.pcm : silence)) {
		STAT_ADD(m->st.pcm_overruns, 1);
	}
	STAT_SET(m->st.level_out_cdb, (int32_t)(out.level_dbfs * 100));
	publish_member(mix, m, i);
}

#define CHUNK 8

/* Thread `lane`'s work in the current parallel phase: its own region
 * first, then chunks of the others' that are still unclaimed. */
static void run_phase(struct mixer *mix, uint32_t lane)
{
	struct mixcore_member *const *v;
	struct lane *ln = &mix->lanes[lane];
	const uint32_t parts = mix->parts;
	uint32_t n, k, i, e;

	v = mixcore_members(mix->core, &n);
	for (k = 0; k < parts; k++) {
		const uint32_t r = (lane + k) % parts;
		const uint32_t end = mix->rstart[r + 1];

		for (;;) {
			i = atomic_fetch_add_explicit(&mix->claim[r], CHUNK,
						      memory_order_relaxed);
			if (i >= end)
				break;
			e = i + CHUNK < end ? i + CHUNK : end;
			for (; i < e; i++) {
				if (mix->phase == PAR_PROCESS)
					member_pull(mix, v[i]);
				else
					member_out(mix, ln, v[i], i);
			}
		}
	}
	if (mix->phase == PAR_OUT)
		rtpep_txq_flush(mix->ep, &ln->txq);
}

/* Talk events, after the out phase (one thread: the event ring has one
 * producer). */
static void talk_events(struct mixer *mix)
{
	struct mixcore_member *const *v;
	struct mix_ev ev;
	uint32_t n, i;

	v = mixcore_members(mix->core, &n);
	for (i = 0; i < n; i++) {
		struct mix_member *m = mixcore_member_user(v[i]);
		const bool talk = mixcore_member_talking(v[i]);

		if (talk == m->talker)
			continue;
		m->talker = talk;
		memset(&ev, 0, sizeof(ev));
		ev.type = MIX_EV_TALK;
		ev.member = m;
		ev.a = talk;
		ev_post(mix, &ev);
	}
}

/* ---- taps --------------------------------------------------------------- */

static uint32_t frame_flags(const struct mix_member *m)
{
	const struct dsp_proc_meters *pm = mixcore_member_meters(m->core);
	uint32_t f = m->heard ? MIX_TAP_HEARD : 0;

	if (pm->speech)
		f |= MIX_TAP_VOICE;
	if (m->talker)
		f |= MIX_TAP_TALKING;
	if (!m->speak)
		f |= MIX_TAP_MUTED;
	return f;
}

static void meter_fill(struct mix_meter *r, const struct mix_member *m,
		       uint64_t tick)
{
	const struct dsp_proc_meters *pm = mixcore_member_meters(m->core);

	memset(r, 0, sizeof(*r));
	r->tick = tick;
	r->key = m->key;
	r->flags = (m->talker ? MIX_METER_TALKING : 0) |
		(pm->speech ? MIX_METER_VOICE : 0) |
		(pm->echo_only ? MIX_METER_ECHO_ONLY : 0) |
		(mixcore_member_own_stream(m->core) ? MIX_METER_OWN : 0) |
		(!m->speak ? MIX_METER_MUTED : 0);
	r->in_rms_dbfs = pm->in_rms_dbfs;
	r->in_peak_dbfs = pm->in_peak_dbfs;
	r->out_rms_dbfs = pm->out_rms_dbfs;
	r->out_peak_dbfs = pm->out_peak_dbfs;
	r->sent_dbfs = atomic_load_explicit(&m->st.level_out_cdb,
					    memory_order_relaxed) / 100.0f;
	r->noise_dbfs = pm->noise_dbfs;
	r->agc_gain_db = pm->agc_gain_db;
	r->speech_prob = pm->speech_prob;
	r->echo_corr = pm->echo_corr;
}

static void meters_snapshot(struct mixer *mix, struct mix_tap *tap)
{
	struct mixcore_member *const *v;
	struct mix_meter *r = &mix->meter;
	uint32_t n, i;

	v = mixcore_members(mix->core, &n);
	if (!n) {
		memset(r, 0, sizeof(*r));
		r->tick = mix->tick;
		r->flags = MIX_METER_LAST;
		(void)mix_tap_push(tap, r);
		return;
	}
	for (i = 0; i < n; i++) {
		meter_fill(r, mixcore_member_user(v[i]), mix->tick);
		if (i + 1 == n)
			r->flags |= MIX_METER_LAST;
		(void)mix_tap_push(tap, r);
	}
}

static void feed_taps(struct mixer *mix)
{
	struct mix_tap_frame *f = &mix->tframe;
	uint64_t drops = 0;
	uint32_t i;

	for (i = 0; i < mix->tapc; i++) {
		struct tap_slot *s = &mix->tapv[i];
		const struct mix_member *m = s->member;

		switch (s->kind) {

		case MIX_TAP_MIX:
			f->tick = mix->tick;
			f->key = 0;
			f->flags = MIX_TAP_HEARD;
			memcpy(f->pcm, mixcore_mix_pcm(mix->core),
			       sizeof(f->pcm));
			(void)mix_tap_push(s->tap, f);
			break;

		case MIX_TAP_MEMBER: {
			const int16_t *pcm;
			bool valid;

			if (!m)
				break;
			pcm = mixcore_member_processed(m->core, &valid);
			f->tick = mix->tick;
			f->key = m->key;
			f->flags = frame_flags(m) |
				(valid ? MIX_TAP_AUDIO : 0);
			if (valid) {
				memcpy(f->pcm, pcm, sizeof(f->pcm));
				(void)mix_tap_push(s->tap, f);
			}
			else {
				(void)mix_tap_push_silent(s->tap, f);
			}
			break;
		}

		case MIX_TAP_METERS:
			if (mix->tick % s->every == 0)
				meters_snapshot(mix, s->tap);
			break;
		}
		drops += mix_tap_drops(s->tap);
	}
	STAT_SET(mix->st.tap_drops, drops);
	STAT_SET(mix->st.taps, mix->tapc);
}

/* ---- publishing --------------------------------------------------------- */

static int32_t cdb(float db)
{
	return (int32_t)lrintf(db * 100.0f);
}

static void publish_meters(struct mix_member *m)
{
	const struct dsp_proc_meters *pm = mixcore_member_meters(m->core);
	struct mix_member_stats *st = &m->st;

	STAT_SET(st->level_in_cdb, cdb(pm->in_rms_dbfs));
	STAT_SET(st->in_peak_cdb, cdb(pm->in_peak_dbfs));
	STAT_SET(st->proc_rms_cdb, cdb(pm->out_rms_dbfs));
	STAT_SET(st->proc_peak_cdb, cdb(pm->out_peak_dbfs));
	STAT_SET(st->noise_cdb, cdb(pm->noise_dbfs));
	STAT_SET(st->agc_gain_cdb, cdb(pm->agc_gain_db));
	STAT_SET(st->speech_pct, (int32_t)lrintf(pm->speech_prob * 100));
	STAT_SET(st->talking, m->talker);
	STAT_SET(st->active, pm->speech);
	STAT_SET(st->echo_only, pm->echo_only);
	STAT_SET(st->echo_corr_pct, (int32_t)lrintf(pm->echo_corr * 100));
}

/* The canceller's figures and the RTP receive figures change slowly
 * and cost a few logarithms and divisions: twice a second. */
static void publish_slow(struct mix_member *m)
{
	const struct codec_prm *sp =
		mix_profile_prm(mixcore_member_profile(m->core));
	struct mix_member_stats *st = &m->st;
	struct dsp_aec_stats as;
	bool on;

	STAT_SET(st->own_stream, mixcore_member_own_stream(m->core));
	STAT_SET(st->ptime_ms, sp->ptime_ms);
	STAT_SET(st->bitrate_bps, sp->bitrate_bps);
	if (m->kind == MIX_MEMBER_RTP) {
		struct rtpep_peer *p = &m->rtp;

		STAT_SET(st->rtp.expected, rtpio_rx_expected(&p->rx));
		STAT_SET(st->rtp.received, p->rx.received);
		STAT_SET(st->rtp.loss_bursts, p->rx.bursts);
		STAT_SET(st->rtp.loss_burst_pkts, p->rx.burst_pkts);
		STAT_SET(st->rtp.ext_max, rtpio_rx_ext_max(&p->rx));
		STAT_SET(st->rtp.jitter_ts, (uint32_t)p->rx.jitter);
		STAT_SET(st->rtp.jb_delay_ms, (uint32_t)
			 ((uint64_t)jb_delay_ts(&p->jb) * 1000 /
			  p->prm.clock_hz));
	}
	on = mixcore_member_aec_stats(m->core, &as);
	STAT_SET(st->aec_on, on);
	STAT_SET(st->aec_running, on && mixcore_member_aec_running(m->core));
	if (!on)
		return;
	STAT_SET(st->echo_present, as.echo_present);
	STAT_SET(st->double_talk, as.double_talk);
	STAT_SET(st->echo_delay_ms10, (int32_t)lrintf(as.delay_ms * 10));
	STAT_SET(st->erle_cdb, cdb(as.erle_db));
	STAT_SET(st->erl_cdb, cdb(as.erl_db));
	STAT_SET(st->drift_ppm10, (int32_t)lrintf(as.drift_ppm * 10));
}

static void publish_member(struct mixer *mix, struct mix_member *m,
			   uint32_t i)
{
	publish_meters(m);
	if ((mix->tick + i) % SLOW_EVERY == 0)
		publish_slow(m);
}

static void publish(struct mixer *mix)
{
	uint32_t n;

	(void)mixcore_members(mix->core, &n);
	STAT_SET(mix->st.members, n);
	STAT_SET(mix->st.talkers, mixcore_talkers(mix->core));
	STAT_SET(mix->st.encodes, mixcore_encodes(mix->core));
}

/* ---- the tick ----------------------------------------------------------- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *mix_phase_name(enum mix_phase ph)
{
	static const char *const names[MIX_PH_N] = {
		"commands", "receive", "process", "select", "mix", "out",
		"wait", "taps", "publish", "receive_between",
	};

	return (unsigned)ph < MIX_PH_N ? names[ph] : "?";
}

/* End of phase ph: its time since *t goes to the sums and the
 * window's maximum; *t moves on. Two clock reads a phase, ~50 ns. */
static void phase_end(struct mixer *mix, enum mix_phase ph, uint64_t *t)
{
	const uint64_t now = mono_ns(), d = now - *t;

	STAT_ADD(mix->st.phase_ns[ph], d);
	if (d > mix->ph_max[ph])
		mix->ph_max[ph] = d;
	*t = now;
}

/* SCHED_FIFO for the calling thread when asked and allowed. A refusal
 * is normal (no privilege): the thread runs on, at normal priority. */
static void rt_enter(struct mixer *mix)
{
	struct sched_param sp;

	if (!mix->prm.rt_prio)
		return;
	memset(&sp, 0, sizeof(sp));
	sp.sched_priority = (int)mix->prm.rt_prio;
	if (!pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp))
		atomic_fetch_add_explicit(&mix->st.rt_threads, 1,
					  memory_order_relaxed);
}

static void *worker_thread(void *arg)
{
	struct worker *w = arg;
	struct mixer *mix = w->mix;
	uint64_t t0;

	/* start-up only: the barrier's size is known once every worker
	 * that could be created exists */
	while (!atomic_load_explicit(&mix->wready, memory_order_acquire))
		(void)usleep(1000);
	if (atomic_load_explicit(&mix->wstop, memory_order_acquire))
		return NULL;
	rt_enter(mix);
	for (;;) {
		(void)pthread_barrier_wait(&mix->bar);
		if (atomic_load_explicit(&mix->wstop, memory_order_acquire))
			break;
		t0 = mono_ns();
		run_phase(mix, w->part);
		STAT_ADD(mix->st.worker_ns[w->part - 1], mono_ns() - t0);
		(void)pthread_barrier_wait(&mix->bar);
	}
	return NULL;
}

/* A parallel phase over the n members: on the workers too when there
 * are enough members to be worth waking them. PROCESS/OUT is the mixer
 * thread's own share, WAIT what it then waits for the others. */
static void par_run(struct mixer *mix, enum par_phase ph, uint32_t n,
		    enum mix_phase own, uint64_t *t)
{
	const uint32_t parts = mix->workc && n >= PAR_MIN_MEMBERS ?
		mix->workc + 1 : 1;
	uint32_t r;

	mix->phase = ph;
	mix->parts = parts;
	for (r = 0; r <= parts; r++)
		mix->rstart[r] = (uint32_t)((uint64_t)n * r / parts);
	for (r = 0; r < parts; r++)
		atomic_store_explicit(&mix->claim[r], mix->rstart[r],
				      memory_order_relaxed);
	if (parts > 1)
		(void)pthread_barrier_wait(&mix->bar);
	run_phase(mix, 0);
	phase_end(mix, own, t);
	if (parts > 1)
		(void)pthread_barrier_wait(&mix->bar);
	phase_end(mix, MIX_PH_WAIT, t);
}

void mixer_tick(struct mixer *mix, uint64_t now_ns)
{
	const uint64_t t0 = mono_ns();
	uint64_t t = t0;
	uint32_t n, i, enc;

	/* Short of time: a tick that took shed_on_ns or missed its
	 * deadline, in the last SHED_HOLD, lets sites that are only being
	 * learnt (a meeting whose sites all start at once: each is decoded
	 * frame by frame for its first 2 s) be decoded one voiceless frame
	 * in RTPEP_LEARN_EVERY; speech, echo and running cancellers are
	 * untouched. */
	mix->shed = mix->tick < mix->shed_until;
	if (mix->shed)
		STAT_ADD(mix->st.shed_ticks, 1);
	must_flush(mix);
	drain_cmds(mix);
	phase_end(mix, MIX_PH_COMMANDS, &t);
	rtpep_receive(mix->ep, now_ns);
	phase_end(mix, MIX_PH_RECEIVE, &t);
	(void)mixcore_members(mix->core, &n);
	mix->now_ns = now_ns;
	par_run(mix, PAR_PROCESS, n, MIX_PH_PROCESS, &t);
	mixcore_select(mix->core);
	phase_end(mix, MIX_PH_SELECT, &t);
	mixcore_mix_shared(mix->core);
	phase_end(mix, MIX_PH_MIX, &t);
	par_run(mix, PAR_OUT, n, MIX_PH_OUT, &t);
	for (i = 0, enc = 0; i <= mix->workc; i++) {
		enc += mix->lanes[i].encodes;
		mix->lanes[i].encodes = 0;
	}
	mixcore_add_encodes(mix->core, enc);
	talk_events(mix);
	jobs_tick(mix);
	feed_taps(mix);
	phase_end(mix, MIX_PH_TAPS, &t);
	publish(mix);
	phase_end(mix, MIX_PH_PUBLISH, &t);
	++mix->tick;
	if (t - t0 >= mix->shed_on_ns)
		mix->shed_until = mix->tick + SHED_HOLD;
	if (mix->tick % MIX_PHASE_WINDOW == 0) {
		for (i = 0; i < MIX_PH_N; i++) {
			STAT_SET(mix->st.phase_max_ns[i], mix->ph_max[i]);
			mix->ph_max[i] = 0;
		}
	}

	if (mix->ev_pending && mix->evfd >= 0) {
		uint64_t one = 1;

		(void)!write(mix->evfd, &one, sizeof(one));
		mix->ev_pending = false;
	}
}

static void sleep_until(uint64_t t)
{
	const struct timespec dl = {
		.tv_sec = (time_t)(t / 1000000000ull),
		.tv_nsec = (long)(t % 1000000000ull),
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &dl, NULL) ==
	       EINTR)
		;
}

/* Until the next tick, take in what arrives every RX_SLICE_NS instead of
 * all of it at the tick's start: with a thousand sites that was 2 ms
 * of the tick's serial part, now only the last slice's packets are.
 * Nothing else touches the jitter buffers between ticks (the workers
 * wait at their barrier), and a packet put now is where it would be at
 * the tick's start; its arrival time is the kernel's stamp either way. */
static void idle_receive(struct mixer *mix, uint64_t next)
{
	uint64_t t = mono_ns();
	uint32_t n;

	(void)mixcore_members(mix->core, &n);
	if (n < RX_IDLE_MIN_MEMBERS)
		return;
	while (t + RX_SLICE_NS < next) {
		sleep_until(t + RX_SLICE_NS);
		t = mono_ns();
		rtpep_receive(mix->ep, t);
		phase_end(mix, MIX_PH_RX_IDLE, &t);
	}
}

static void *mixer_thread(void *arg)
{
	struct mixer *mix = arg;
	uint64_t next = mono_ns(), t0, t1, dt;
	struct timespec dl;
	bool rt;

	rt_enter(mix);
	rt = sched_getscheduler(0) == SCHED_FIFO;
	while (atomic_load_explicit(&mix->run, memory_order_acquire)) {
		t0 = mono_ns();
		mixer_tick(mix, t0);
		t1 = mono_ns();
		dt = t1 - t0;
		STAT_ADD(mix->st.ticks, 1);
		STAT_ADD(mix->st.tick_ns_sum, dt);
		if (dt > atomic_load_explicit(&mix->st.tick_ns_max,
					      memory_order_relaxed))
			STAT_SET(mix->st.tick_ns_max, dt);

		next += TICK_NS;
		if (t1 > next) {
			mix->shed_until = mix->tick + SHED_HOLD;
			STAT_ADD(mix->st.late_ticks, 1);
			/* far behind (machine stalled): do not burst to
			 * catch up, start the clock again */
			if (t1 - next > 10 * TICK_NS)
				next = t1;
			/* at SCHED_FIFO a mixer that never sleeps would
			 * starve the network thread (SIP, the console) on
			 * its core: leave it 0.1 ms */
			if (rt) {
				dl.tv_sec = 0;
				dl.tv_nsec = 100000;
				(void)clock_nanosleep(CLOCK_MONOTONIC, 0, &dl,
						      NULL);
			}
			continue;
		}
		idle_receive(mix, next);
		sleep_until(next);
	}
	return NULL;
}

/* Release the workers from their barrier with the stop flag set and
 * wait for them. Called with the mixer thread stopped. */
static void workers_stop(struct mixer *mix)
{
	uint32_t i;

	if (!mix->workc)
		return;
	atomic_store_explicit(&mix->wstop, true, memory_order_release);
	(void)pthread_barrier_wait(&mix->bar);
	for (i = 0; i < mix->workc; i++)
		pthread_join(mix->workv[i].thread, NULL);
	mix->workc = 0;
	pthread_barrier_destroy(&mix->bar);
	atomic_store(&mix->wready, false);
}

int mixer_start(struct mixer *mix)
{
	int err;

	if (!mix || mix->started)
		return EINVAL;
	if (mix->prm.workers) {
		uint32_t i, n = mix->prm.workers;

		if (n > MIX_MAX_WORKERS)
			n = MIX_MAX_WORKERS;
		atomic_store(&mix->wstop, false);
		for (i = 0; i < n; i++) {
			struct worker *w = &mix->workv[i];

			w->mix = mix;
			w->part = i + 1;
			if (pthread_create(&w->thread, NULL, worker_thread, w))
				break;
		}
		/* fewer workers than asked still work: the barrier and the
		 * split follow workc, final before the mixer thread runs */
		mix->workc = i;
		if (i && pthread_barrier_init(&mix->bar, NULL, i + 1)) {
			mix->workc = 0;
			atomic_store(&mix->wstop, true);
			atomic_store(&mix->wready, true);
			while (i--)
				pthread_join(mix->workv[i].thread, NULL);
			return ENOMEM;
		}
		STAT_SET(mix->st.workers, mix->workc);
		atomic_store_explicit(&mix->wready, true,
				      memory_order_release);
	}
	atomic_store(&mix->run, true);
	err = pthread_create(&mix->thread, NULL, mixer_thread, mix);
	if (err) {
		workers_stop(mix);
		return err;
	}
	mix->started = true;
	return 0;
}

void mixer_stop(struct mixer *mix)
{
	if (!mix || !mix->started)
		return;
	atomic_store(&mix->run, false);
	pthread_join(mix->thread, NULL);
	workers_stop(mix);
	mix->started = false;
}
