/**
 * @file mixer.c  Room mixer thread: receive, decode, select, mix,
 * encode, send, every 20 ms.
 *
 * Real-time rules (STYLE.md 2.4): after mixer_start() the thread never
 * allocates, never blocks (the media socket is non-blocking; recvmmsg and
 * sendmmsg are the only syscalls besides clock_nanosleep and the eventfd
 * write), never logs and holds no lock. Everything it touches is sized in
 * mixer_alloc()/msite_alloc() on the control side.
 *
 * Per tick, with N sites, K talkers and P codec profiles, the work is
 * N decodes + N level/VAD updates + (K + P) encodes + one pass of
 * header building, plus one recvmmsg/sendmmsg per 64/1024 packets; the
 * mix-minus is the total minus the talker's own contribution, O(N).
 */
#include <re.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include "mixer.h"

#define RX_BATCH 64
#define TX_CHUNK 1024
#define CMDQ_CAP 4096
#define EVQ_CAP 4096
#define TICK_NS 20000000ull
#define OWN_IDLE_TICKS 50        /* 1 s without talking: back to shared */
#define MISS_SILENCE 10          /* after 200 ms of PLC, play silence */
#define PAR_MIN_SITES 48         /* fewer: waking workers costs more */

#define STAT_ADD(f, v)							\
	atomic_store_explicit(&(f),					\
		atomic_load_explicit(&(f), memory_order_relaxed) + (v),	\
		memory_order_relaxed)
#define STAT_SET(f, v) atomic_store_explicit(&(f), (v), memory_order_relaxed)

enum mix_cmd_type {
	CMD_ATTACH = 1,
	CMD_DETACH,
	CMD_UPDATE,
	CMD_PROF_ADD,
	CMD_PROF_DEL,
	CMD_DSP,
};

struct mix_cmd {
	enum mix_cmd_type type;
	struct msite *ms;
	struct mix_profile *prof;
	struct sa raddr;
	bool recv_on;
	bool send_on;
	struct msite_dsp dsp;
	struct dsp_aec *aec;     /* CMD_DSP: canceller to attach, or NULL */
};

struct worker {
	struct mixer *mix;
	pthread_t thread;
	uint32_t part;                   /* its share of the sites: 1.. */
};

struct mixer {
	struct mixer_prm prm;
	struct mixer_stats st;
	mixer_ev_h *evh;
	void *arg;

	pthread_t thread;
	_Atomic bool run;
	bool started;

	/* decode + DSP of the sites is split over the mixer thread and
	 * these workers; two barrier waits a tick hand the phase over */
	struct worker workv[MIX_MAX_WORKERS];
	uint32_t workc;                  /* running workers */
	pthread_barrier_t bar;
	_Atomic bool wready;             /* barrier set up for workc */
	_Atomic bool wstop;
	int evfd;

	struct ring cmdq;
	struct mix_cmd *cmdbuf;
	struct ring evq;
	struct mix_ev *evbuf;
	bool ev_pending;

	struct msite **sitev;
	struct dsp_talk **talkv;         /* &sitev[i]->talk, same order */
	uint32_t sitec;
	struct dsp_select_prm sel;
	struct msite **detachv;          /* detached, event not yet queued */
	uint32_t detachc;
	struct mix_profile *profv[MIX_MAX_PROFILES];
	uint32_t profc;
	struct mix_profile *prof_gonev[MIX_MAX_PROFILES];
	uint32_t prof_gonec;

	struct msite **htab;             /* demux: remote address -> site */
	uint32_t hmask;
	bool hdirty;

	struct mmsghdr rxmsg[RX_BATCH];
	struct iovec rxiov[RX_BATCH];
	struct sockaddr_storage rxaddr[RX_BATCH];
	uint8_t rxbuf[RX_BATCH][MIX_PKT_MAX];
	uint8_t rxctl[RX_BATCH][64];

	struct mmsghdr *txmsg;
	struct iovec *txiov;

	float acc[LB_FRAME];
	float tmp[LB_FRAME];
	int16_t out16[LB_FRAME];
	uint64_t tick;
	uint32_t latch_budget;           /* latch scans left this tick */
};

/* ---- allocation (control side) ------------------------------------------ */

static void msite_destructor(void *arg)
{
	struct msite *ms = arg;

	jb_close(&ms->jb);
	codec_dec_close(&ms->dec);
	codec_dec_close(&ms->refdec);
	codec_enc_close(&ms->own);
	dsp_proc_free(ms->proc);
}

static int aec_new(struct dsp_aec **aecp)
{
	const struct dsp_aec_prm ap = {.srate_hz = LB_SRATE, .tail_ms = 256,
				       .max_delay_ms = 800};

	return dsp_aec_alloc(aecp, &ap);
}

int msite_alloc(struct msite **msp, const struct codec_prm *prm,
		const struct msite_dsp *dsp, struct mix_profile *prof,
		void *owner)
{
	struct dsp_aec *aec = NULL;
	struct msite *ms;
	int err;

	if (!msp || !prm || !dsp || !prof)
		return EINVAL;
	ms = mem_zalloc(sizeof(*ms), msite_destructor);
	if (!ms)
		return ENOMEM;
	ms->owner = owner;
	ms->prm = *prm;
	ms->prof = prof;
	ms->ssrc_tx = rand_u32();
	ms->seq_tx = rand_u16();
	ms->ts_tx = rand_u32();
	ms->first_tx = true;
	ms->dsp = *dsp;
	ms->talk.chair = dsp->chair;
	rtpio_rx_init(&ms->rx);

	err = dsp_proc_alloc(&ms->proc, &dsp->proc);
	if (err)
		goto out;
	dsp_proc_get_meters(ms->proc, &ms->m);
	ms->proc_delay_ms = ms->m.delay_ms;
	if (dsp->proc.aec) {
		err = aec_new(&aec);
		if (err)
			goto out;
		(void)dsp_proc_swap_aec(ms->proc, aec);
		ms->ctl_aec = true;
	}

	err = jb_init(&ms->jb, codec_frame_ts(prm));
	if (err)
		goto out;
	err = codec_dec_init(&ms->dec, prm->id);
	if (err)
		goto out;
	err = codec_dec_init(&ms->refdec, prm->id);
	if (err)
		goto out;
	err = codec_enc_init(&ms->own, prm);
	if (err)
		goto out;
	err = dsp_limiter_init(&ms->own_lim, LB_SRATE, -1.0f);
 out:
	if (err)
		mem_deref(ms);
	else
		*msp = ms;
	return err;
}

static void profile_destructor(void *arg)
{
	struct mix_profile *p = arg;

	codec_enc_close(&p->enc);
}

int mix_profile_alloc(struct mix_profile **profp,
		      const struct codec_prm *prm)
{
	struct mix_profile *p;
	int err;

	if (!profp || !prm)
		return EINVAL;
	p = mem_zalloc(sizeof(*p), profile_destructor);
	if (!p)
		return ENOMEM;
	err = codec_enc_init(&p->enc, prm);
	if (!err)
		err = dsp_limiter_init(&p->lim, LB_SRATE, -1.0f);
	if (err)
		mem_deref(p);
	else
		*profp = p;
	return err;
}

static void mixer_destructor(void *arg)
{
	struct mixer *mix = arg;

	mixer_stop(mix);
	if (mix->evfd >= 0) {
		fd_close(mix->evfd);
		close(mix->evfd);
	}
	mem_deref(mix->cmdbuf);
	mem_deref(mix->evbuf);
	mem_deref(mix->sitev);
	mem_deref(mix->talkv);
	mem_deref(mix->detachv);
	mem_deref(mix->htab);
	mem_deref(mix->txmsg);
	mem_deref(mix->txiov);
}

static void evfd_handler(int flags, void *arg)
{
	struct mixer *mix = arg;
	uint64_t v;
	(void)flags;

	(void)!read(mix->evfd, &v, sizeof(v));
	mixer_poll_events(mix);
}

int mixer_alloc(struct mixer **mixp, const struct mixer_prm *prm,
		mixer_ev_h *evh, void *arg)
{
	struct mixer *mix;
	uint32_t hsize = 16;
	uint32_t i;
	int err = 0;

	if (!mixp || !prm || !prm->max_sites || !evh)
		return EINVAL;
	mix = mem_zalloc(sizeof(*mix), mixer_destructor);
	if (!mix)
		return ENOMEM;
	mix->prm = *prm;
	mix->evh = evh;
	mix->arg = arg;
	mix->evfd = -1;

	while (hsize < 2 * prm->max_sites)
		hsize <<= 1;
	mix->hmask = hsize - 1;

	mix->cmdbuf = mem_zalloc(CMDQ_CAP * sizeof(struct mix_cmd), NULL);
	mix->evbuf = mem_zalloc(EVQ_CAP * sizeof(struct mix_ev), NULL);
	mix->sitev = mem_zalloc(prm->max_sites * sizeof(*mix->sitev), NULL);
	mix->talkv = mem_zalloc(prm->max_sites * sizeof(*mix->talkv), NULL);
	mix->detachv = mem_zalloc(prm->max_sites * sizeof(*mix->detachv),
				  NULL);
	mix->htab = mem_zalloc(hsize * sizeof(*mix->htab), NULL);
	mix->txmsg = mem_zalloc(prm->max_sites * sizeof(*mix->txmsg), NULL);
	mix->txiov = mem_zalloc(2 * prm->max_sites * sizeof(*mix->txiov),
				NULL);
	dsp_select_defaults(&mix->sel);
	mix->sel.max_talkers = prm->max_talkers;
	if (!mix->cmdbuf || !mix->evbuf || !mix->sitev || !mix->talkv ||
	    !mix->detachv ||
	    !mix->htab || !mix->txmsg || !mix->txiov) {
		err = ENOMEM;
		goto out;
	}
	ring_init(&mix->cmdq, mix->cmdbuf, CMDQ_CAP, sizeof(struct mix_cmd));
	ring_init(&mix->evq, mix->evbuf, EVQ_CAP, sizeof(struct mix_ev));

	for (i = 0; i < RX_BATCH; i++) {
		mix->rxiov[i].iov_base = mix->rxbuf[i];
		mix->rxiov[i].iov_len = MIX_PKT_MAX;
	}

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

/* ---- commands and events ------------------------------------------------ */

static int cmd_push(struct mixer *mix, const struct mix_cmd *cmd)
{
	if (!ring_push(&mix->cmdq, cmd))
		return EAGAIN;
	if (!mix->started) {
		/* no thread (tests, or before start): apply at next tick */
	}
	return 0;
}

int mixer_attach(struct mixer *mix, struct msite *ms)
{
	struct mix_cmd c = {.type = CMD_ATTACH, .ms = ms};

	if (!mix || !ms)
		return EINVAL;
	return cmd_push(mix, &c);
}

int mixer_detach(struct mixer *mix, struct msite *ms)
{
	struct mix_cmd c = {.type = CMD_DETACH, .ms = ms};

	if (!mix || !ms)
		return EINVAL;
	return cmd_push(mix, &c);
}

int mixer_update(struct mixer *mix, struct msite *ms,
		 const struct sa *raddr, bool recv_on, bool send_on)
{
	struct mix_cmd c = {.type = CMD_UPDATE, .ms = ms,
			    .recv_on = recv_on, .send_on = send_on};

	if (!mix || !ms || !raddr)
		return EINVAL;
	c.raddr = *raddr;
	return cmd_push(mix, &c);
}

int mixer_set_dsp(struct mixer *mix, struct msite *ms,
		  const struct msite_dsp *dsp)
{
	struct mix_cmd c = {.type = CMD_DSP, .ms = ms};
	int err;

	if (!mix || !ms || !dsp)
		return EINVAL;
	c.dsp = *dsp;
	/* a canceller, once given, stays: turning echo control off only
	 * bypasses it, so turning it back on finds the path it learnt */
	if (dsp->proc.aec && !ms->ctl_aec) {
		err = aec_new(&c.aec);
		if (err)
			return err;
	}
	err = cmd_push(mix, &c);
	if (err) {
		dsp_aec_free(c.aec);
		return err;
	}
	if (c.aec)
		ms->ctl_aec = true;
	return 0;
}

int mixer_profile_add(struct mixer *mix, struct mix_profile *prof)
{
	struct mix_cmd c = {.type = CMD_PROF_ADD, .prof = prof};

	if (!mix || !prof)
		return EINVAL;
	return cmd_push(mix, &c);
}

int mixer_profile_del(struct mixer *mix, struct mix_profile *prof)
{
	struct mix_cmd c = {.type = CMD_PROF_DEL, .prof = prof};

	if (!mix || !prof)
		return EINVAL;
	return cmd_push(mix, &c);
}

const struct mixer_stats *mixer_stats(const struct mixer *mix)
{
	return mix ? &mix->st : NULL;
}

static void ev_post(struct mixer *mix, enum mix_ev_type type, void *ptr,
		    int a)
{
	struct mix_ev ev = {.type = type, .ptr = ptr, .a = a};

	if (ring_push(&mix->evq, &ev))
		mix->ev_pending = true;
}

void mixer_poll_events(struct mixer *mix)
{
	struct mix_ev ev;

	while (ring_pop(&mix->evq, &ev))
		mix->evh(&ev, mix->arg);
}

/* ---- demultiplexing ----------------------------------------------------- */

static uint32_t addr_hash(const struct sa *a)
{
	uint32_t h;

	if (a->u.sa.sa_family == AF_INET) {
		h = a->u.in.sin_addr.s_addr ^
			((uint32_t)a->u.in.sin_port << 16);
	}
	else {
		const uint32_t *w = (const uint32_t *)(const void *)
			&a->u.in6.sin6_addr;

		h = w[0] ^ w[1] ^ w[2] ^ w[3] ^
			((uint32_t)a->u.in6.sin6_port << 16);
	}
	h ^= h >> 16;
	h *= 0x7feb352du;
	h ^= h >> 15;
	return h;
}

static void htab_rebuild(struct mixer *mix)
{
	uint32_t i, h;

	memset(mix->htab, 0, (mix->hmask + 1) * sizeof(*mix->htab));
	for (i = 0; i < mix->sitec; i++) {
		struct msite *ms = mix->sitev[i];

		if (!sa_isset(&ms->raddr, SA_ALL))
			continue;
		h = addr_hash(&ms->raddr) & mix->hmask;
		while (mix->htab[h])
			h = (h + 1) & mix->hmask;
		mix->htab[h] = ms;
	}
	mix->hdirty = false;
}

static struct msite *htab_find(const struct mixer *mix, const struct sa *a)
{
	uint32_t h = addr_hash(a) & mix->hmask;
	struct msite *ms;

	while ((ms = mix->htab[h]) != NULL) {
		if (sa_cmp(&ms->raddr, a, SA_ALL))
			return ms;
		h = (h + 1) & mix->hmask;
	}
	return NULL;
}

/* A packet from an address no site announced. Behind NAT a site sends
 * from its router's public address, not the one in its SDP; the SIP
 * request came from that public address too. So a site that has not
 * sent anything yet is latched to the packet's address when the IP is
 * its SDP or SIP IP and no other waiting site shares that IP (several
 * sites behind one router: wait for the one whose SDP is exact). A
 * latched site whose SSRC shows up from a new port of one of its IPs
 * follows it (NAT rebinding). Scans are bounded per tick. */
static bool ip_of_site(const struct msite *ms, const struct sa *src)
{
	return sa_cmp(&ms->raddr, src, SA_ADDR) ||
		sa_cmp(&ms->sig_addr, src, SA_ADDR);
}

static struct msite *try_latch(struct mixer *mix, const struct sa *src,
			       const struct rtpio_hdr *h)
{
	struct msite *cand = NULL;
	uint32_t i, n = 0;

	if (mix->latch_budget == 0)
		return NULL;
	--mix->latch_budget;

	for (i = 0; i < mix->sitec; i++) {
		struct msite *ms = mix->sitev[i];

		if (!ip_of_site(ms, src))
			continue;
		if (ms->latched) {
			if (ms->rx_ssrc_known && ms->rx_ssrc == h->ssrc) {
				cand = ms;     /* rebinding: unambiguous */
				n = 1;
				break;
			}
			continue;
		}
		cand = ms;
		++n;
	}
	if (n != 1)
		return NULL;
	cand->raddr = *src;
	cand->latched = true;
	mix->hdirty = true;
	ev_post(mix, MIX_EV_LATCHED, cand, 1);
	return cand;
}

/* ---- receive ------------------------------------------------------------ */

static void on_dtmf(struct mixer *mix, struct msite *ms,
		    const struct rtpio_hdr *h, const uint8_t *p)
{
	/* RFC 4733 2.3: event, E|R|volume, duration. Report each event
	 * once, on its first packet with the end bit. */
	if (h->payload_len < 4 || !(p[1] & 0x80))
		return;
	if (ms->dtmf_seen && ms->dtmf_ts == h->ts)
		return;
	ms->dtmf_seen = true;
	ms->dtmf_ts = h->ts;
	STAT_ADD(ms->st.dtmf, 1);
	ev_post(mix, MIX_EV_DTMF, ms, p[0]);
}

static uint32_t arrival_ts(const struct msghdr *mh, uint32_t clock_hz,
			   uint64_t fallback_ns)
{
	struct cmsghdr *c;
	uint64_t ns = fallback_ns;

	for (c = CMSG_FIRSTHDR(mh); c;
	     c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			ns = (uint64_t)ts.tv_sec * 1000000000ull +
				(uint64_t)ts.tv_nsec;
			break;
		}
	}
	/* the timestamp clock: ns * clock / 1e9, kept in 64 bits, wraps */
	return (uint32_t)((ns / 1000ull) * clock_hz / 1000000ull);
}

static void rx_packet(struct mixer *mix, const struct msghdr *mh,
		      size_t len, uint64_t now_ns, uint64_t real_ns)
{
	const uint8_t *buf = mh->msg_iov[0].iov_base;
	struct rtpio_hdr h;
	struct msite *ms;
	struct sa src;
	const uint8_t *pl;
	int n, err;

	if (sa_set_sa(&src, (const struct sockaddr *)mh->msg_name))
		return;

	err = rtpio_parse(&h, buf, len);
	ms = htab_find(mix, &src);
	if (!ms && !err)
		ms = try_latch(mix, &src, &h);
	if (!ms) {
		STAT_ADD(mix->st.unknown_source, 1);
		return;
	}
	if (err) {
		/* EPROTO is RTCP on the RTP port: we never offer rtcp-mux,
		 * so it is as wrong as garbage */
		STAT_ADD(ms->st.malformed, 1);
		STAT_ADD(mix->st.malformed, 1);
		return;
	}
	ms->latched = true;
	STAT_ADD(ms->st.pkts_in, 1);
	STAT_ADD(ms->st.bytes_in, len);
	STAT_SET(ms->st.last_rx_ns, (int64_t)now_ns);

	pl = buf + h.payload_off;
	if (ms->prm.tel_pt && h.pt == ms->prm.tel_pt) {
		on_dtmf(mix, ms, &h, pl);
		return;
	}
	if (h.pt != ms->prm.pt || h.payload_len == 0) {
		if (h.payload_len) {
			STAT_ADD(ms->st.malformed, 1);
			STAT_ADD(mix->st.malformed, 1);
		}
		return;
	}
	if (!ms->recv_on)
		return;   /* on hold: music on hold must not reach the room */

	n = codec_pkt_samples(ms->prm.id, pl, h.payload_len);
	if (n <= 0) {
		STAT_ADD(ms->st.malformed, 1);
		STAT_ADD(mix->st.malformed, 1);
		return;
	}

	if (!ms->rx_ssrc_known || ms->rx_ssrc != h.ssrc) {
		if (ms->rx_ssrc_known) {
			/* a new source (the site restarted its stream) */
			jb_reset(&ms->jb);
			rtpio_rx_init(&ms->rx);
		}
		ms->rx_ssrc = h.ssrc;
		ms->rx_ssrc_known = true;
		STAT_SET(ms->st.rx_ssrc, h.ssrc);
	}
	rtpio_rx_update(&ms->rx, h.seq, h.ts,
			arrival_ts(mh, ms->prm.clock_hz, real_ns));

	if (jb_put(&ms->jb, h.ts,
		   (uint32_t)((uint64_t)n * ms->prm.clock_hz / LB_SRATE), pl,
		   h.payload_len) == ETIMEDOUT)
		STAT_ADD(ms->st.jb_late, 1);
}

static void rx_all(struct mixer *mix, uint64_t now_ns)
{
	uint32_t budget = 4 * mix->prm.max_sites + 4 * RX_BATCH;
	struct timespec rt;
	uint64_t real_ns;
	int i, n;

	if (mix->prm.rtp_fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &rt);
	real_ns = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec;

	/* Bounded: a flood is left to the kernel to drop rather than
	 * stealing the tick from the sites. */
	while (budget >= RX_BATCH) {
		for (i = 0; i < RX_BATCH; i++) {
			struct msghdr *mh = &mix->rxmsg[i].msg_hdr;

			mh->msg_name = &mix->rxaddr[i];
			mh->msg_namelen = sizeof(mix->rxaddr[i]);
			mh->msg_iov = &mix->rxiov[i];
			mh->msg_iovlen = 1;
			mh->msg_control = mix->rxctl[i];
			mh->msg_controllen = sizeof(mix->rxctl[i]);
			mh->msg_flags = 0;
		}
		n = recvmmsg(mix->prm.rtp_fd, mix->rxmsg, RX_BATCH,
			     MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		STAT_ADD(mix->st.rx_pkts, (uint64_t)n);
		for (i = 0; i < n; i++) {
			if (mix->rxmsg[i].msg_hdr.msg_flags & MSG_TRUNC) {
				STAT_ADD(mix->st.malformed, 1);
				continue;
			}
			rx_packet(mix, &mix->rxmsg[i].msg_hdr,
				  mix->rxmsg[i].msg_len, now_ns, real_ns);
		}
		if (mix->hdirty)
			htab_rebuild(mix);
		budget -= (uint32_t)n;
		if (n < RX_BATCH)
			break;
	}
}

/* ---- per-site decode ---------------------------------------------------- */

static size_t ts_to_samples(const struct msite *ms, uint32_t span)
{
	uint64_t n = (uint64_t)span * LB_SRATE / ms->prm.clock_hz;

	return (size_t)(n - n % 40);    /* whole 2.5 ms for Opus PLC */
}

static void site_pull(struct msite *ms)
{
	const size_t cap = ARRAY_SIZE(ms->fifo);
	int guard = 8;

	ms->heard = false;
	if (!ms->recv_on) {
		memset(ms->frame, 0, sizeof(ms->frame));
		ms->fifon = 0;
		return;
	}

	while (ms->fifon < LB_FRAME && guard-- > 0) {
		const struct jb_slot *next;
		struct jb_slot *slot;
		uint32_t ts, span;
		size_t n;
		int r;

		switch (jb_get(&ms->jb, &slot, &ts, &span, &next)) {

		case JB_OK:
			r = codec_decode(&ms->dec, slot->data, slot->len,
					 ms->fifo + ms->fifon,
					 cap - ms->fifon);
			n = ts_to_samples(ms, slot->span);
			jb_release(&ms->jb, slot);
			if (r < 0) {
				STAT_ADD(ms->st.malformed, 1);
				if (n > cap - ms->fifon)
					n = cap - ms->fifon;
				codec_conceal(&ms->dec, ms->fifo + ms->fifon,
					      n);
				r = (int)n;
			}
			ms->fifon += (size_t)r;
			break;

		case JB_MISSING:
		case JB_INSERT:
			n = ts_to_samples(ms, span);
			if (n == 0)
				n = LB_FRAME;
			if (n > cap - ms->fifon)
				n = cap - ms->fifon;
			if (ms->dec.concealed >= MISS_SILENCE) {
				memset(ms->fifo + ms->fifon, 0,
				       n * sizeof(int16_t));
			}
			else if (next) {
				codec_decode_fec(&ms->dec, next->data,
						 next->len,
						 ms->fifo + ms->fifon, n);
				STAT_ADD(ms->st.fec_recovered, 1);
			}
			else {
				codec_conceal(&ms->dec, ms->fifo + ms->fifon,
					      n);
			}
			ms->fifon += n;
			STAT_ADD(ms->st.concealed, 1);
			break;

		case JB_EMPTY:
			memset(ms->fifo + ms->fifon, 0,
			       (LB_FRAME - ms->fifon) * sizeof(int16_t));
			ms->fifon = LB_FRAME;
			ms->dec.concealed = MISS_SILENCE;
			break;
		}
	}
	jb_tick(&ms->jb);

	if (ms->fifon < LB_FRAME) {
		memset(ms->fifo + ms->fifon, 0,
		       (LB_FRAME - ms->fifon) * sizeof(int16_t));
		ms->fifon = LB_FRAME;
	}
	memcpy(ms->frame, ms->fifo, sizeof(ms->frame));
	ms->fifon -= LB_FRAME;
	memmove(ms->fifo, ms->fifo + LB_FRAME, ms->fifon * sizeof(int16_t));
	ms->heard = ms->dec.concealed < MISS_SILENCE;
}

/* ---- talker selection --------------------------------------------------- */

/* The site's processing chain (dsp/proc.c): echo control against what
 * it was sent last tick, noise suppression, AGC, VAD. The chain runs in
 * full only for sites that are mixed or speaking; the others cost the
 * VAD and the meters. */
static void site_dsp(struct msite *ms)
{
	const bool full = ms->talk.selected || ms->talk.chair;

	if (ms->ctl_aec || ms->dsp.proc.aec)
		dsp_proc_playback(ms->proc, ms->sent);
	dsp_proc_process(ms->proc, ms->frame, ms->heard, full);
	dsp_proc_get_meters(ms->proc, &ms->m);
	ms->active = ms->m.speech;
	ms->talk.candidate = ms->m.speech && ms->recv_on && ms->heard;
	ms->talk.veto = ms->m.echo_only;
	ms->talk.score_db = ms->m.speech_db;
}

static void select_talkers(struct mixer *mix)
{
	uint32_t i, ntalk = 0;

	(void)dsp_select_run(&mix->sel, mix->talkv, mix->sitec);
	for (i = 0; i < mix->sitec; i++) {
		struct msite *ms = mix->sitev[i];
		bool sel = ms->talk.selected && ms->recv_on;

		if (sel != ms->talker) {
			ms->talker = sel;
			ev_post(mix, MIX_EV_TALK, ms, sel);
		}
		ntalk += sel;
	}
	STAT_SET(mix->st.talkers, ntalk);
}

/* ---- mixing, encoding, sending ------------------------------------------ */

static void mix_add_f(float *acc, const float *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		acc[i] += src[i];
}

static void mix_minus_f(float *dst, const float *acc, const float *own,
			size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = acc[i] - own[i];
}

/* Contribution with a linear ramp from the current to the target gain
 * across the frame: 20 ms fades, no clicks. */
static bool site_contrib(struct msite *ms)
{
	const float target = ms->talker ? 1.0f : 0.0f;
	const float g0 = ms->gain;
	const float step = (target - g0) / LB_FRAME;
	size_t i;

	if (g0 == 0.0f && target == 0.0f)
		return false;
	if (g0 == target) {
		for (i = 0; i < LB_FRAME; i++)
			ms->contrib[i] = (float)ms->frame[i] * g0;
	}
	else {
		for (i = 0; i < LB_FRAME; i++)
			ms->contrib[i] = (float)ms->frame[i] *
				(g0 + step * (float)(i + 1));
	}
	ms->gain = target;
	return true;
}

static int encode_frame(struct codec_enc *enc, struct dsp_limiter *lim,
			const float *mixv, int16_t *accv, size_t *accn,
			uint8_t *pkt, size_t pktsz, float *level_db,
			int16_t *scratch)
{
	const size_t need = enc->prm.ptime_ms * (LB_SRATE / 1000);

	dsp_limiter_process(lim, mixv, scratch, LB_FRAME);
	*level_db = dsp_rms_dbfs(scratch, LB_FRAME);
	memcpy(accv + *accn, scratch, LB_FRAME * sizeof(int16_t));
	*accn += LB_FRAME;
	if (*accn < need)
		return 0;
	*accn = 0;
	return codec_encode(enc, accv, need, pkt, pktsz);
}

/* The echo reference of a site whose canceller runs: the packets it
 * was sent, decoded as it decodes them, 20 ms a tick. Opus at 8-24 kbit/s
 * does not keep the waveform to better than 10-20 dB, and a canceller
 * fed the bridge's PCM instead could cancel no better than that. While
 * the canceller rests, the PCM serves (the delay search does not care),
 * and no decoding is spent. */
static void ref_update(struct msite *ms, const uint8_t *pl, int len,
		       const int16_t *pcm)
{
	const size_t cap = ARRAY_SIZE(ms->reffifo);
	bool want = ms->ctl_aec && dsp_proc_aec_running(ms->proc);
	int r;

	if (!ms->ctl_aec)
		return;
	if (want != ms->refdec_on) {
		ms->refdec_on = want;
		ms->reffifon = 0;
	}
	if (!want) {
		memcpy(ms->sent, pcm, sizeof(ms->sent));
		return;
	}
	if (len > 0 && ms->send_on) {
		r = codec_decode(&ms->refdec, pl, (size_t)len,
				 ms->reffifo + ms->reffifon,
				 cap - ms->reffifon);
		if (r > 0)
			ms->reffifon += (size_t)r;
	}
	if (ms->reffifon < LB_FRAME) {
		/* nothing decoded yet (start, or a longer ptime): the PCM */
		memcpy(ms->sent, pcm, sizeof(ms->sent));
		return;
	}
	memcpy(ms->sent, ms->reffifo, sizeof(ms->sent));
	ms->reffifon -= LB_FRAME;
	memmove(ms->reffifo, ms->reffifo + LB_FRAME,
		ms->reffifon * sizeof(int16_t));
}

static void tx_queue(struct mixer *mix, struct msite *ms, const uint8_t *pl,
		     int len, uint32_t *ntx, uint64_t now_ns)
{
	const uint32_t step = ms->prm.ptime_ms * ms->prm.clock_hz / 1000;
	struct mmsghdr *m;

	if (len <= 0) {
		if (len < 0)
			ms->ts_tx += step;   /* encoder failed: keep time */
		return;
	}
	if (ms->send_on && sa_isset(&ms->raddr, SA_ALL) &&
	    !sa_is_any(&ms->raddr)) {
		rtpio_build(ms->hdr, ms->prm.pt, ms->first_tx, ms->seq_tx,
			    ms->ts_tx, ms->ssrc_tx);
		m = &mix->txmsg[*ntx];
		memset(m, 0, sizeof(*m));
		mix->txiov[2 * *ntx].iov_base = ms->hdr;
		mix->txiov[2 * *ntx].iov_len = RTPIO_HDR_SIZE;
		mix->txiov[2 * *ntx + 1].iov_base = (void *)pl;
		mix->txiov[2 * *ntx + 1].iov_len = (size_t)len;
		m->msg_hdr.msg_name = &ms->raddr.u;
		m->msg_hdr.msg_namelen = ms->raddr.len;
		m->msg_hdr.msg_iov = &mix->txiov[2 * *ntx];
		m->msg_hdr.msg_iovlen = 2;
		++*ntx;
		++ms->seq_tx;
		ms->first_tx = false;
		STAT_ADD(ms->st.pkts_out, 1);
		STAT_ADD(ms->st.bytes_out, RTPIO_HDR_SIZE + (uint64_t)len);
		STAT_SET(ms->st.tx_ts, ms->ts_tx);
		STAT_SET(ms->st.tx_mono_ns, now_ns);
	}
	ms->ts_tx += step;
}

static void tx_flush(struct mixer *mix, uint32_t ntx)
{
	uint32_t i = 0;
	int r;

	while (i < ntx) {
		uint32_t chunk = ntx - i > TX_CHUNK ? TX_CHUNK : ntx - i;

		r = sendmmsg(mix->prm.rtp_fd, mix->txmsg + i, chunk,
			     MSG_DONTWAIT);
		if (r > 0) {
			i += (uint32_t)r;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			STAT_ADD(mix->st.tx_errors, ntx - i);
			break;
		}
		/* one bad destination: skip it, send the rest */
		STAT_ADD(mix->st.tx_errors, 1);
		++i;
	}
	STAT_ADD(mix->st.tx_pkts, i);
}

static void mix_and_send(struct mixer *mix, uint64_t now_ns)
{
	uint32_t i, ntx = 0;
	uint64_t encodes = 0;

	memset(mix->acc, 0, sizeof(mix->acc));
	for (i = 0; i < mix->sitec; i++) {
		struct msite *ms = mix->sitev[i];
		bool c = site_contrib(ms);

		if (c) {
			mix_add_f(mix->acc, ms->contrib, LB_FRAME);
			if (!ms->own_mode) {
				/* take over the shared stream seamlessly */
				struct mix_profile *p = ms->prof;

				codec_enc_continue(&ms->own, &p->enc);
				ms->own_lim = p->lim;
				memcpy(ms->own_acc, p->acc,
				       p->accn * sizeof(int16_t));
				ms->own_accn = p->accn;
				ms->own_mode = true;
			}
			ms->own_idle = 0;
		}
		else if (ms->own_mode && ++ms->own_idle >= OWN_IDLE_TICKS &&
			 ms->own_accn == 0) {
			ms->own_mode = false;
		}
		ms->contributing = c;
	}

	for (i = 0; i < mix->profc; i++) {
		struct mix_profile *p = mix->profv[i];

		p->pktlen = encode_frame(&p->enc, &p->lim, mix->acc, p->acc,
					 &p->accn, p->pkt, sizeof(p->pkt),
					 &p->level_db, p->last);
		if (p->pktlen)
			++encodes;
	}

	for (i = 0; i < mix->sitec; i++) {
		struct msite *ms = mix->sitev[i];
		float lvl;

		if (ms->own_mode) {
			const float *src = mix->acc;

			if (ms->contributing) {
				mix_minus_f(mix->tmp, mix->acc, ms->contrib,
					    LB_FRAME);
				src = mix->tmp;
			}
			ms->own_pktlen = encode_frame(&ms->own, &ms->own_lim,
						      src, ms->own_acc,
						      &ms->own_accn,
						      ms->own_pkt,
						      sizeof(ms->own_pkt),
						      &lvl, mix->out16);
			if (ms->own_pktlen)
				++encodes;
			tx_queue(mix, ms, ms->own_pkt, ms->own_pktlen, &ntx,
				 now_ns);
			ref_update(ms, ms->own_pkt, ms->own_pktlen,
				   mix->out16);
		}
		else {
			lvl = ms->prof->level_db;
			tx_queue(mix, ms, ms->prof->pkt, ms->prof->pktlen,
				 &ntx, now_ns);
			ref_update(ms, ms->prof->pkt, ms->prof->pktlen,
				   ms->prof->last);
		}
		/* a site that is sent nothing plays nothing back */
		if (!ms->send_on && ms->ctl_aec)
			memset(ms->sent, 0, sizeof(ms->sent));
		STAT_SET(ms->st.level_out_cdb, (int32_t)(lvl * 100.0f));
	}
	tx_flush(mix, ntx);
	STAT_ADD(mix->st.encodes, encodes);
}

/* ---- the tick ----------------------------------------------------------- */

static void site_remove(struct mixer *mix, struct msite *ms)
{
	uint32_t i;

	for (i = 0; i < mix->sitec; i++) {
		if (mix->sitev[i] == ms) {
			mix->sitev[i] = mix->sitev[--mix->sitec];
			mix->talkv[i] = mix->talkv[mix->sitec];
			break;
		}
	}
	mix->hdirty = true;
	if (mix->detachc < mix->prm.max_sites)
		mix->detachv[mix->detachc++] = ms;
}

static void drain_cmds(struct mixer *mix)
{
	struct mix_cmd c;
	uint32_t i;

	while (ring_pop(&mix->cmdq, &c)) {
		switch (c.type) {

		case CMD_ATTACH:
			if (mix->sitec >= mix->prm.max_sites) {
				/* control side checks the limit first */
				if (mix->detachc < mix->prm.max_sites)
					mix->detachv[mix->detachc++] = c.ms;
				break;
			}
			mix->talkv[mix->sitec] = &c.ms->talk;
			mix->sitev[mix->sitec++] = c.ms;
			mix->hdirty = true;
			break;

		case CMD_DETACH:
			site_remove(mix, c.ms);
			break;

		case CMD_UPDATE:
			if (!sa_cmp(&c.ms->raddr, &c.raddr, SA_ALL)) {
				c.ms->raddr = c.raddr;
				c.ms->latched = false;
				mix->hdirty = true;
			}
			if (c.recv_on && !c.ms->recv_on)
				jb_reset(&c.ms->jb);   /* back from hold */
			c.ms->recv_on = c.recv_on;
			c.ms->send_on = c.send_on;
			break;

		case CMD_DSP:
			c.ms->dsp = c.dsp;
			c.ms->talk.chair = c.dsp.chair;
			if (c.aec) {
				struct dsp_aec *old;

				old = dsp_proc_swap_aec(c.ms->proc, c.aec);
				if (old)
					ev_post(mix, MIX_EV_FREE_AEC, old, 0);
			}
			dsp_proc_configure(c.ms->proc, &c.dsp.proc);
			break;

		case CMD_PROF_ADD:
			if (mix->profc < MIX_MAX_PROFILES)
				mix->profv[mix->profc++] = c.prof;
			break;

		case CMD_PROF_DEL:
			for (i = 0; i < mix->profc; i++) {
				if (mix->profv[i] == c.prof) {
					mix->profv[i] =
						mix->profv[--mix->profc];
					break;
				}
			}
			if (mix->prof_gonec < MIX_MAX_PROFILES)
				mix->prof_gonev[mix->prof_gonec++] = c.prof;
			break;
		}
	}
	if (mix->hdirty)
		htab_rebuild(mix);
	STAT_SET(mix->st.sites, mix->sitec);
}

static void flush_detached(struct mixer *mix)
{
	while (mix->detachc) {
		struct mix_ev ev = {.type = MIX_EV_DETACHED,
				    .ptr = mix->detachv[mix->detachc - 1]};

		if (!ring_push(&mix->evq, &ev))
			return;      /* retried next tick */
		--mix->detachc;
		mix->ev_pending = true;
	}
	while (mix->prof_gonec) {
		struct mix_ev ev = {
			.type = MIX_EV_PROFILE_GONE,
			.ptr = mix->prof_gonev[mix->prof_gonec - 1]};

		if (!ring_push(&mix->evq, &ev))
			return;
		--mix->prof_gonec;
		mix->ev_pending = true;
	}
}

static int32_t cdb(float db)
{
	return (int32_t)lrintf(db * 100.0f);
}

static void publish_meters(struct msite *ms)
{
	const struct dsp_proc_meters *m = &ms->m;

	STAT_SET(ms->st.level_in_cdb, cdb(m->in_rms_dbfs));
	STAT_SET(ms->st.in_peak_cdb, cdb(m->in_peak_dbfs));
	STAT_SET(ms->st.proc_rms_cdb, cdb(m->out_rms_dbfs));
	STAT_SET(ms->st.proc_peak_cdb, cdb(m->out_peak_dbfs));
	STAT_SET(ms->st.noise_cdb, cdb(m->noise_dbfs));
	STAT_SET(ms->st.agc_gain_cdb, cdb(m->agc_gain_db));
	STAT_SET(ms->st.speech_pct, (int32_t)lrintf(m->speech_prob * 100));
	STAT_SET(ms->st.talking, ms->talker);
	STAT_SET(ms->st.active, ms->active);
	STAT_SET(ms->st.echo_only, m->echo_only);
	STAT_SET(ms->st.echo_corr_pct, (int32_t)lrintf(m->echo_corr * 100));
}

/* The canceller's figures change slowly and cost a few logarithms to
 * read: published with the other slow counters, twice a second. */
static void publish_echo(struct msite *ms)
{
	struct dsp_aec_stats as;
	bool on;

	on = dsp_proc_get_aec_stats(ms->proc, &as);
	STAT_SET(ms->st.aec_on, on);
	if (!on)
		return;
	STAT_SET(ms->st.echo_present, as.echo_present);
	STAT_SET(ms->st.double_talk, as.double_talk);
	STAT_SET(ms->st.echo_delay_ms10, (int32_t)lrintf(as.delay_ms * 10));
	STAT_SET(ms->st.erle_cdb, cdb(as.erle_db));
	STAT_SET(ms->st.erl_cdb, cdb(as.erl_db));
	STAT_SET(ms->st.drift_ppm10, (int32_t)lrintf(as.drift_ppm * 10));
}

static void publish(struct mixer *mix)
{
	uint32_t i;

	for (i = 0; i < mix->sitec; i++) {
		struct msite *ms = mix->sitev[i];

		publish_meters(ms);
		if ((mix->tick + i) % 25)
			continue;    /* the rest 2x per second is plenty */
		publish_echo(ms);
		STAT_SET(ms->st.expected, rtpio_rx_expected(&ms->rx));
		STAT_SET(ms->st.received, ms->rx.received);
		STAT_SET(ms->st.ext_max, rtpio_rx_ext_max(&ms->rx));
		STAT_SET(ms->st.jitter_ts, (uint32_t)ms->rx.jitter);
		STAT_SET(ms->st.jb_delay_ms, (uint32_t)
			 ((uint64_t)jb_delay_ts(&ms->jb) * 1000 /
			  ms->prm.clock_hz));
	}
}

/* Pull and process share part of parts of the sites. Sites are
 * independent here: each one's jitter buffer, decoder, chain and
 * counters are touched by exactly one thread per tick, and the barriers
 * order one tick's writers before the next tick's. */
static void pull_part(struct mixer *mix, uint32_t part, uint32_t parts)
{
	const uint32_t n = mix->sitec;
	uint32_t i = (uint32_t)((uint64_t)n * part / parts);
	const uint32_t end = (uint32_t)((uint64_t)n * (part + 1) / parts);

	for (; i < end; i++) {
		site_pull(mix->sitev[i]);
		site_dsp(mix->sitev[i]);
	}
}

static void *worker_thread(void *arg)
{
	struct worker *w = arg;
	struct mixer *mix = w->mix;

	/* start-up only: the barrier's size is known once every worker
	 * that could be created exists */
	while (!atomic_load_explicit(&mix->wready, memory_order_acquire))
		(void)usleep(1000);
	if (atomic_load_explicit(&mix->wstop, memory_order_acquire))
		return NULL;
	for (;;) {
		(void)pthread_barrier_wait(&mix->bar);
		if (atomic_load_explicit(&mix->wstop, memory_order_acquire))
			break;
		pull_part(mix, w->part, mix->workc + 1);
		(void)pthread_barrier_wait(&mix->bar);
	}
	return NULL;
}

void mixer_tick(struct mixer *mix, uint64_t now_ns)
{
	drain_cmds(mix);
	mix->latch_budget = 16;
	rx_all(mix, now_ns);
	if (mix->workc && mix->sitec >= PAR_MIN_SITES) {
		(void)pthread_barrier_wait(&mix->bar);
		pull_part(mix, 0, mix->workc + 1);
		(void)pthread_barrier_wait(&mix->bar);
	}
	else {
		pull_part(mix, 0, 1);
	}
	select_talkers(mix);
	mix_and_send(mix, now_ns);
	publish(mix);
	flush_detached(mix);
	++mix->tick;

	if (mix->ev_pending && mix->evfd >= 0) {
		uint64_t one = 1;

		(void)!write(mix->evfd, &one, sizeof(one));
		mix->ev_pending = false;
	}
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *mixer_thread(void *arg)
{
	struct mixer *mix = arg;
	uint64_t next = mono_ns(), t0, t1, dt;
	struct timespec dl;

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
			STAT_ADD(mix->st.late_ticks, 1);
			/* far behind (machine stalled): do not burst to
			 * catch up, start the clock again */
			if (t1 - next > 10 * TICK_NS)
				next = t1;
			continue;
		}
		dl.tv_sec = (time_t)(next / 1000000000ull);
		dl.tv_nsec = (long)(next % 1000000000ull);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &dl,
				       NULL) == EINTR)
			;
	}
	return NULL;
}

/* Release the workers from their start barrier with the stop flag set
 * and wait for them. Called with the mixer thread stopped. */
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
			/* cannot happen for a small count; do not leak */
			mix->workc = 0;
			atomic_store(&mix->wstop, true);
			atomic_store(&mix->wready, true);
			while (i--)
				pthread_join(mix->workv[i].thread, NULL);
			return ENOMEM;
		}
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
