/**
 * @file rtpep.c  A room's RTP endpoint: recvmmsg, demultiplexing, NAT
 * latching, DTMF, jitter buffers, decoding with FEC and PLC, RTP
 * headers and sendmmsg.
 *
 * Why one socket per room: one recvmmsg/sendmmsg call serves every
 * site (batched I/O costs 1.3 us per site-frame against 4.4 us with one
 * syscall per packet, research/dsp-costs.md), and a firewall opens two
 * ports per room, not thousands. Kernel receive timestamps
 * (SO_TIMESTAMPNS) give exact arrival times for the jitter estimate
 * although packets are read once per tick.
 *
 * Threads: see rtpep.h. Nothing here allocates after rtpep_alloc() and
 * rtpep_peer_init(); the socket is non-blocking.
 */
#include <re.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "rtpep.h"

#define RX_BATCH 64
#define TX_CHUNK 1024
#define MIX_PKT_BYTES 1500
#define LATCH_BUDGET 16          /* latch scans per tick */
#define MISS_SILENCE 10          /* after 200 ms of PLC, play silence */

#define STAT_ADD(f, v)							\
	atomic_store_explicit(&(f),					\
		atomic_load_explicit(&(f), memory_order_relaxed) + (v),	\
		memory_order_relaxed)
#define STAT_SET(f, v) atomic_store_explicit(&(f), (v), memory_order_relaxed)

struct rtpep {
	int fd;
	uint32_t max_peers;
	rtpep_ev_h *evh;
	void *arg;
	struct rtpep_stats st;

	struct rtpep_peer **peerv;
	uint32_t peerc;
	struct rtpep_peer **htab;        /* remote address -> peer */
	uint32_t hmask;
	bool hdirty;
	uint32_t latch_budget;

	struct mmsghdr rxmsg[RX_BATCH];
	struct iovec rxiov[RX_BATCH];
	struct sockaddr_storage rxaddr[RX_BATCH];
	uint8_t rxbuf[RX_BATCH][MIX_PKT_BYTES];
	uint8_t rxctl[RX_BATCH][64];

};

static void ep_destructor(void *arg)
{
	struct rtpep *ep = arg;

	mem_deref(ep->peerv);
	mem_deref(ep->htab);
}

int rtpep_alloc(struct rtpep **epp, int fd, uint32_t max_peers,
		rtpep_ev_h *evh, void *arg)
{
	struct rtpep *ep;
	uint32_t hsize = 16, i;

	if (!epp || !max_peers || !evh)
		return EINVAL;
	ep = mem_zalloc(sizeof(*ep), ep_destructor);
	if (!ep)
		return ENOMEM;
	ep->fd = fd;
	ep->max_peers = max_peers;
	ep->evh = evh;
	ep->arg = arg;
	while (hsize < 2 * max_peers)
		hsize <<= 1;
	ep->hmask = hsize - 1;
	ep->peerv = mem_zalloc(max_peers * sizeof(*ep->peerv), NULL);
	ep->htab = mem_zalloc(hsize * sizeof(*ep->htab), NULL);
	if (!ep->peerv || !ep->htab) {
		mem_deref(ep);
		return ENOMEM;
	}
	for (i = 0; i < RX_BATCH; i++) {
		ep->rxiov[i].iov_base = ep->rxbuf[i];
		ep->rxiov[i].iov_len = MIX_PKT_BYTES;
	}
	*epp = ep;
	return 0;
}

const struct rtpep_stats *rtpep_stats(const struct rtpep *ep)
{
	return ep ? &ep->st : NULL;
}

int rtpep_peer_init(struct rtpep_peer *p, const struct codec_prm *prm,
		    struct rtp_stats *st, void *arg)
{
	int err;

	if (!p || !prm || !st)
		return EINVAL;
	memset(p, 0, sizeof(*p));
	p->prm = *prm;
	p->st = st;
	p->arg = arg;
	p->ssrc_tx = rand_u32();
	p->seq_tx = rand_u16();
	p->ts_tx = rand_u32();
	p->first_tx = true;
	p->idx = UINT32_MAX;
	rtpio_rx_init(&p->rx);
	err = jb_init(&p->jb, codec_frame_ts(prm));
	if (err)
		return err;
	err = codec_dec_init(&p->dec, prm->id);
	if (err)
		jb_close(&p->jb);
	return err;
}

void rtpep_peer_close(struct rtpep_peer *p)
{
	if (!p)
		return;
	jb_close(&p->jb);
	codec_dec_close(&p->dec);
}

/* ---- membership --------------------------------------------------------- */

int rtpep_add(struct rtpep *ep, struct rtpep_peer *p)
{
	if (!ep || !p || p->idx != UINT32_MAX)
		return EINVAL;
	if (ep->peerc >= ep->max_peers)
		return ENOSPC;
	p->idx = ep->peerc;
	ep->peerv[ep->peerc++] = p;
	ep->hdirty = true;
	return 0;
}

void rtpep_remove(struct rtpep *ep, struct rtpep_peer *p)
{
	struct rtpep_peer *last;

	if (!ep || !p || p->idx >= ep->peerc || ep->peerv[p->idx] != p)
		return;
	last = ep->peerv[--ep->peerc];
	ep->peerv[p->idx] = last;
	last->idx = p->idx;
	p->idx = UINT32_MAX;
	ep->hdirty = true;
}

void rtpep_update(struct rtpep *ep, struct rtpep_peer *p,
		  const struct sa *raddr, bool recv_on, bool send_on)
{
	if (!sa_cmp(&p->raddr, raddr, SA_ALL)) {
		p->raddr = *raddr;
		p->latched = false;
		ep->hdirty = true;
	}
	if (recv_on && !p->recv_on)
		jb_reset(&p->jb);   /* back from hold */
	p->recv_on = recv_on;
	p->send_on = send_on;
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

static void htab_rebuild(struct rtpep *ep)
{
	uint32_t i, h;

	memset(ep->htab, 0, (ep->hmask + 1) * sizeof(*ep->htab));
	for (i = 0; i < ep->peerc; i++) {
		struct rtpep_peer *p = ep->peerv[i];

		if (!sa_isset(&p->raddr, SA_ALL))
			continue;
		h = addr_hash(&p->raddr) & ep->hmask;
		while (ep->htab[h])
			h = (h + 1) & ep->hmask;
		ep->htab[h] = p;
	}
	ep->hdirty = false;
}

static struct rtpep_peer *htab_find(const struct rtpep *ep,
				    const struct sa *a)
{
	uint32_t h = addr_hash(a) & ep->hmask;
	struct rtpep_peer *p;

	while ((p = ep->htab[h]) != NULL) {
		if (sa_cmp(&p->raddr, a, SA_ALL))
			return p;
		h = (h + 1) & ep->hmask;
	}
	return NULL;
}

static bool ip_of_peer(const struct rtpep_peer *p, const struct sa *src)
{
	return sa_cmp(&p->raddr, src, SA_ADDR) ||
		sa_cmp(&p->sig_addr, src, SA_ADDR);
}

static struct rtpep_peer *try_latch(struct rtpep *ep, const struct sa *src,
				    const struct rtpio_hdr *h)
{
	struct rtpep_peer *cand = NULL;
	uint32_t i, n = 0;

	if (ep->latch_budget == 0)
		return NULL;
	--ep->latch_budget;

	for (i = 0; i < ep->peerc; i++) {
		struct rtpep_peer *p = ep->peerv[i];

		if (!ip_of_peer(p, src))
			continue;
		if (p->latched) {
			if (p->rx_ssrc_known && p->rx_ssrc == h->ssrc) {
				cand = p;     /* rebinding: unambiguous */
				n = 1;
				break;
			}
			continue;
		}
		cand = p;
		++n;
	}
	if (n != 1)
		return NULL;
	cand->raddr = *src;
	cand->latched = true;
	ep->hdirty = true;
	ep->evh(RTPEP_EV_LATCHED, cand, 1, src, ep->arg);
	return cand;
}

/* ---- receive ------------------------------------------------------------ */

static void on_dtmf(struct rtpep *ep, struct rtpep_peer *p,
		    const struct rtpio_hdr *h, const uint8_t *pl)
{
	/* RFC 4733 2.3: event, E|R|volume, duration. Report each event
	 * once, on its first packet with the end bit. */
	if (h->payload_len < 4 || !(pl[1] & 0x80))
		return;
	if (p->dtmf_seen && p->dtmf_ts == h->ts)
		return;
	p->dtmf_seen = true;
	p->dtmf_ts = h->ts;
	STAT_ADD(p->st->dtmf, 1);
	ep->evh(RTPEP_EV_DTMF, p, pl[0], NULL, ep->arg);
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

static bool in_dtx_gap(const struct rtpep_peer *p, uint32_t ts)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(p->dtx); i++) {
		if (p->dtx[i].to != p->dtx[i].from &&
		    ts - p->dtx[i].from < p->dtx[i].to - p->dtx[i].from)
			return true;
	}
	return false;
}

static void bad_packet(struct rtpep *ep, struct rtpep_peer *p)
{
	STAT_ADD(p->st->malformed, 1);
	STAT_ADD(ep->st.malformed, 1);
}

static void rx_packet(struct rtpep *ep, const struct msghdr *mh,
		      size_t len, uint64_t now_ns, uint64_t real_ns)
{
	const uint8_t *buf = mh->msg_iov[0].iov_base;
	struct rtpio_hdr h;
	struct rtpep_peer *p;
	struct sa src;
	const uint8_t *pl;
	int n, err;

	if (sa_set_sa(&src, (const struct sockaddr *)mh->msg_name))
		return;

	err = rtpio_parse(&h, buf, len);
	p = htab_find(ep, &src);
	if (!p && !err)
		p = try_latch(ep, &src, &h);
	if (!p) {
		STAT_ADD(ep->st.unknown_source, 1);
		return;
	}
	if (err) {
		/* EPROTO is RTCP on the RTP port: we never offer rtcp-mux,
		 * so it is as wrong as garbage */
		bad_packet(ep, p);
		return;
	}
	p->latched = true;
	STAT_ADD(p->st->pkts_in, 1);
	STAT_ADD(p->st->bytes_in, len);
	STAT_SET(p->st->last_rx_ns, (int64_t)now_ns);

	pl = buf + h.payload_off;
	if (p->prm.tel_pt && h.pt == p->prm.tel_pt) {
		on_dtmf(ep, p, &h, pl);
		return;
	}
	if (h.pt != p->prm.pt || h.payload_len == 0) {
		if (h.payload_len)
			bad_packet(ep, p);
		return;
	}
	if (!p->recv_on)
		return;   /* on hold: music on hold must not reach the room */

	n = codec_pkt_samples(p->prm.id, pl, h.payload_len);
	if (n <= 0) {
		bad_packet(ep, p);
		return;
	}

	if (!p->rx_ssrc_known || p->rx_ssrc != h.ssrc) {
		if (p->rx_ssrc_known) {
			/* a new source (the site restarted its stream) */
			jb_reset(&p->jb);
			rtpio_rx_init(&p->rx);
			p->rx_last_ok = false;
			p->dtx_site = false;
			memset(p->dtx, 0, sizeof(p->dtx));
		}
		p->rx_ssrc = h.ssrc;
		p->rx_ssrc_known = true;
		STAT_SET(p->st->rx_ssrc, h.ssrc);
	}
	rtpio_rx_update(&p->rx, h.seq, h.ts,
			arrival_ts(mh, p->prm.clock_hz, real_ns));
	{
		const uint32_t span = (uint32_t)((uint64_t)n *
						 p->prm.clock_hz / LB_SRATE);

		if (p->rx_last_ok && h.seq == (uint16_t)(p->rx_last_seq + 1) &&
		    (int32_t)(h.ts - p->rx_last_end) > 0 &&
		    h.ts - p->rx_last_end < 10u * p->prm.clock_hz) {
			p->dtx_site = true;
			p->dtx[p->dtx_i].from = p->rx_last_end;
			p->dtx[p->dtx_i].to = h.ts;
			p->dtx_i = (p->dtx_i + 1) % ARRAY_SIZE(p->dtx);
		}
		if (!p->rx_last_ok ||
		    (int16_t)(h.seq - p->rx_last_seq) > 0) {
			p->rx_last_ok = true;
			p->rx_last_seq = h.seq;
			p->rx_last_end = h.ts + span;
		}
	}

	switch (jb_put(&p->jb, h.ts,
		       (uint32_t)((uint64_t)n * p->prm.clock_hz / LB_SRATE),
		       pl, h.payload_len)) {
	case ETIMEDOUT:
		STAT_ADD(p->st->jb_late, 1);
		break;
	case ENOSPC:
		STAT_ADD(p->st->jb_overflow, 1);
		break;
	default:
		break;
	}
}

void rtpep_receive(struct rtpep *ep, uint64_t now_ns)
{
	uint32_t budget = 4 * ep->max_peers + 4 * RX_BATCH;
	struct timespec rt;
	uint64_t real_ns;
	int i, n;

	if (ep->hdirty)
		htab_rebuild(ep);
	if (ep->fd < 0)
		return;
	ep->latch_budget = LATCH_BUDGET;
	clock_gettime(CLOCK_REALTIME, &rt);
	real_ns = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec;

	/* Bounded: a flood is left to the kernel to drop rather than
	 * stealing the tick from the sites. */
	while (budget >= RX_BATCH) {
		for (i = 0; i < RX_BATCH; i++) {
			struct msghdr *mh = &ep->rxmsg[i].msg_hdr;

			mh->msg_name = &ep->rxaddr[i];
			mh->msg_namelen = sizeof(ep->rxaddr[i]);
			mh->msg_iov = &ep->rxiov[i];
			mh->msg_iovlen = 1;
			mh->msg_control = ep->rxctl[i];
			mh->msg_controllen = sizeof(ep->rxctl[i]);
			mh->msg_flags = 0;
		}
		n = recvmmsg(ep->fd, ep->rxmsg, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		STAT_ADD(ep->st.rx_pkts, (uint64_t)n);
		for (i = 0; i < n; i++) {
			if (ep->rxmsg[i].msg_hdr.msg_flags & MSG_TRUNC) {
				STAT_ADD(ep->st.malformed, 1);
				continue;
			}
			rx_packet(ep, &ep->rxmsg[i].msg_hdr,
				  ep->rxmsg[i].msg_len, now_ns, real_ns);
		}
		if (ep->hdirty)
			htab_rebuild(ep);
		budget -= (uint32_t)n;
		if (n < RX_BATCH)
			break;
	}
}

/* ---- decode ------------------------------------------------------------- */

static size_t ts_to_samples(const struct rtpep_peer *p, uint32_t span)
{
	uint64_t n = (uint64_t)span * LB_SRATE / p->prm.clock_hz;

	return (size_t)(n - n % 40);    /* whole 2.5 ms for Opus PLC */
}

/* A voiceless packet of a quiet peer: filler instead of a decode, but
 * one in `every` is decoded (meters, noise estimates). */
static bool skip_voiceless(struct rtpep_peer *p, const struct jb_slot *s,
			   uint32_t every)
{
	if (codec_pkt_voice(p->dec.id, s->data, s->len)) {
		p->quiet_run = 0;
		return false;
	}
	return ++p->quiet_run % every != 0;
}

static void fill(struct rtpep_peer *p, size_t n)
{
	memset(p->fifo + p->fifon, 0, n * sizeof(int16_t));
	p->fifon += n;
	p->dec.concealed = MISS_SILENCE;
}

enum rtpep_got rtpep_pull(struct rtpep_peer *p, int16_t *frame,
			  enum rtpep_want want)
{
	const size_t cap = ARRAY_SIZE(p->fifo);
	const bool idle = want != RTPEP_ALL;
	const bool quiet = want == RTPEP_QUIET || want == RTPEP_LEARN;
	const uint32_t every = want == RTPEP_LEARN ? RTPEP_LEARN_EVERY :
		RTPEP_QUIET_EVERY;
	int guard = 8;

	if (!p->recv_on) {
		memset(frame, 0, LB_FRAME * sizeof(int16_t));
		p->fifon = 0;
		return RTPEP_FILLER;
	}
	if (!quiet)
		p->quiet_run = 0;

	while (p->fifon < LB_FRAME && guard-- > 0) {
		const struct jb_slot *next;
		struct jb_slot *slot;
		uint32_t ts, span;
		size_t n;
		int r;

		switch (jb_get(&p->jb, &slot, &ts, &span, &next)) {

		case JB_OK:
			n = ts_to_samples(p, slot->span);
			if (quiet && skip_voiceless(p, slot, every)) {
				jb_release(&p->jb, slot);
				if (n > cap - p->fifon)
					n = cap - p->fifon;
				fill(p, n);
				p->fifo_voiceless = true;
				p->dec_stale = true;
				STAT_ADD(p->st->voiceless_frames,
					 (n + LB_FRAME / 2) / LB_FRAME);
				break;
			}
			if (p->dec_stale) {
				codec_dec_reset(&p->dec);
				p->dec_stale = false;
			}
			r = codec_decode(&p->dec, slot->data, slot->len,
					 p->fifo + p->fifon, cap - p->fifon);
			jb_release(&p->jb, slot);
			if (r < 0) {
				STAT_ADD(p->st->malformed, 1);
				if (n > cap - p->fifon)
					n = cap - p->fifon;
				codec_conceal(&p->dec, p->fifo + p->fifon, n);
				r = (int)n;
			}
			p->fifon += (size_t)r;
			p->fifo_voiceless = false;
			break;

		case JB_MISSING:
		case JB_INSERT:
			n = ts_to_samples(p, span);
			if (n == 0)
				n = LB_FRAME;
			if (n > cap - p->fifon)
				n = cap - p->fifon;
			if (in_dtx_gap(p, ts) ||
			    (idle && (!next || (quiet &&
			     !codec_pkt_voice(p->dec.id, next->data,
					      next->len))))) {
				/* left out by the site's DTX (known once
				 * the packet after the gap is in), or missing
				 * from an idle site: no decode. An idle site
				 * is not mixed, concealment would only extend
				 * its noise, and the filler tells the chain
				 * so; its next packet decodes as usual. */
				fill(p, n);
				if (p->dtx_site)
					STAT_ADD(p->st->dtx_frames, 1);
				else
					STAT_ADD(p->st->concealed, 1);
				break;
			}
			if (p->dec.concealed >= MISS_SILENCE) {
				memset(p->fifo + p->fifon, 0,
				       n * sizeof(int16_t));
			}
			else if (next) {
				codec_decode_fec(&p->dec, next->data,
						 next->len,
						 p->fifo + p->fifon, n);
				STAT_ADD(p->st->fec_recovered, 1);
			}
			else {
				codec_conceal(&p->dec, p->fifo + p->fifon, n);
			}
			p->fifon += n;
			p->fifo_voiceless = false;
			STAT_ADD(p->st->concealed, 1);
			break;

		case JB_EMPTY:
			fill(p, LB_FRAME - p->fifon);
			p->fifo_voiceless = false;
			break;
		}
	}
	jb_tick(&p->jb);

	if (p->fifon < LB_FRAME) {
		memset(p->fifo + p->fifon, 0,
		       (LB_FRAME - p->fifon) * sizeof(int16_t));
		p->fifon = LB_FRAME;
	}
	memcpy(frame, p->fifo, LB_FRAME * sizeof(int16_t));
	p->fifon -= LB_FRAME;
	memmove(p->fifo, p->fifo + LB_FRAME, p->fifon * sizeof(int16_t));
	if (p->dec.concealed < MISS_SILENCE)
		return RTPEP_AUDIO;
	return p->fifo_voiceless ? RTPEP_VOICELESS : RTPEP_FILLER;
}

/* ---- transmit ----------------------------------------------------------- */

int rtpep_txq_init(struct rtpep_txq *q, uint32_t cap)
{
	if (!q || !cap)
		return EINVAL;
	memset(q, 0, sizeof(*q));
	q->msg = mem_zalloc(cap * sizeof(*q->msg), NULL);
	q->iov = mem_zalloc(2 * cap * sizeof(*q->iov), NULL);
	if (!q->msg || !q->iov) {
		rtpep_txq_reset(q);
		return ENOMEM;
	}
	q->cap = cap;
	return 0;
}

void rtpep_txq_reset(struct rtpep_txq *q)
{
	if (!q)
		return;
	q->msg = mem_deref(q->msg);
	q->iov = mem_deref(q->iov);
	q->n = q->cap = 0;
}

void rtpep_txq_add(struct rtpep *ep, struct rtpep_txq *q,
		   struct rtpep_peer *p, const uint8_t *pl, int len,
		   uint32_t samples, uint64_t now_ns)
{
	const uint32_t step = (uint32_t)((uint64_t)samples *
					 p->prm.clock_hz / LB_SRATE);
	struct mmsghdr *m;
	uint32_t i;

	if (len <= 0) {
		if (len < 0)
			p->ts_tx += step;   /* encoder failed: keep time */
		return;
	}
	if (len <= 2 && p->prm.id == CODEC_OPUS) {
		/* Opus DTX: nothing coded, nothing to send (the encoder
		 * makes a real frame every 400 ms); the next packet
		 * starts a talkspurt (marker, RFC 3551 4.1) */
		p->dtx_tx = true;
		STAT_ADD(p->st->dtx_out_frames, samples / LB_FRAME);
		p->ts_tx += step;
		return;
	}
	if (q->n == q->cap)
		rtpep_txq_flush(ep, q);
	i = q->n;
	if (p->send_on && i < q->cap &&
	    sa_isset(&p->raddr, SA_ALL) && !sa_is_any(&p->raddr)) {
		rtpio_build(p->hdr, p->prm.pt, p->first_tx || p->dtx_tx,
			    p->seq_tx, p->ts_tx, p->ssrc_tx);
		m = &q->msg[i];
		memset(m, 0, sizeof(*m));
		q->iov[2 * i].iov_base = p->hdr;
		q->iov[2 * i].iov_len = RTPIO_HDR_SIZE;
		q->iov[2 * i + 1].iov_base = (void *)pl;
		q->iov[2 * i + 1].iov_len = (size_t)len;
		m->msg_hdr.msg_name = &p->raddr.u;
		m->msg_hdr.msg_namelen = p->raddr.len;
		m->msg_hdr.msg_iov = &q->iov[2 * i];
		m->msg_hdr.msg_iovlen = 2;
		q->n = i + 1;
		++p->seq_tx;
		p->first_tx = false;
		p->dtx_tx = false;
		STAT_ADD(p->st->pkts_out, 1);
		STAT_ADD(p->st->bytes_out, RTPIO_HDR_SIZE + (uint64_t)len);
		STAT_SET(p->st->tx_ts, p->ts_tx);
		STAT_SET(p->st->tx_mono_ns, now_ns);
	}
	p->ts_tx += step;
}

void rtpep_txq_flush(struct rtpep *ep, struct rtpep_txq *q)
{
	const uint32_t ntx = q->n;
	uint32_t i = 0, errs = 0;
	int r;

	q->n = 0;
	if (ep->fd < 0)
		return;
	while (i < ntx) {
		uint32_t chunk = ntx - i > TX_CHUNK ? TX_CHUNK : ntx - i;

		r = sendmmsg(ep->fd, q->msg + i, chunk, MSG_DONTWAIT);
		if (r > 0) {
			i += (uint32_t)r;
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			errs += ntx - i;
			break;
		}
		/* one bad destination: skip it, send the rest */
		++errs;
		++i;
	}
	/* several threads flush: these two are shared */
	if (errs)
		atomic_fetch_add_explicit(&ep->st.tx_errors, errs,
					  memory_order_relaxed);
	atomic_fetch_add_explicit(&ep->st.tx_pkts, i, memory_order_relaxed);
}
