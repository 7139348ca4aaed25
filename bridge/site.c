/**
 * @file site.c  One dialled-in site: its SIP session, SDP offer/answer,
 * media attachment to the room mixer, RTCP reports and liveness.
 *
 * Offer/answer: a probe SDP session holding every codec we support reads
 * the offer and picks the first format in the offerer's order that we
 * support; the dialog's own SDP session then carries only that codec
 * (plus telephone-event), so the site never switches codec under us
 * without a new offer. A re-offer that changes the codec or its payload
 * type replaces the site's member of the mix as a whole; one that
 * changes ptime, bitrate, bandwidth or FEC moves the member to another
 * profile (its jitter buffer, decoder and speech chain stay); one that
 * changes only direction or address updates it in place.
 *
 * Hold: a site that sends a=sendonly or a=inactive is on hold; we neither
 * mix what it sends (music on hold must not reach the room) nor send to
 * it, and its RTP timeout then counts RTCP as a sign of life.
 *
 * Threads: network thread only.
 */
#include <re.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#define LOG_MODULE "site"
#define LOSS_WINDOW 10               /* seconds of recent loss */
#include "lbsdp.h"
#include "lbtime.h"
#include "log.h"
#include "site.h"

/* ---- adapting what we send to the line ----------------------------------
 *
 * The site's receiver reports say how much of what we send it loses. On
 * a clean line it gets what its SDP asked for. With loss, in-band FEC is
 * planned for that loss (Opus takes the redundancy out of the same
 * bitrate, so it is sized, not just switched on). With heavy loss, or
 * loss that rises with the rate (a capped line), it moves to 40 ms
 * packets at 12 kbit/s: 19 kbit/s on the wire instead of 31, where
 * ../shared/research/speech-feasibility.md measured ESTOI 0.83 at 15 %
 * random loss and 0.84 with bursts. Going down is fast (the smoothed
 * loss of two reports), coming back slow (ADAPT_UP_S without loss), so
 * a line does not flap. Every step is a profile move: the site's own
 * stream state carries over, nothing is rebuilt.
 */
enum adapt_level {
	ADAPT_CLEAN = 0,
	ADAPT_FEC,
	ADAPT_THIN,
};

#define ADAPT_FEC_PCT 2.0         /* smoothed loss: plan FEC for it */
#define ADAPT_THIN_PCT 8.0        /* and over this: the thin profile */
#define ADAPT_UP_S 15             /* clean for this long: one step up */
#define ADAPT_UP_MAX_S 480
#define PROBE_SKIP_S 2            /* thin: reports of the switch skipped */
#define PROBE_S 7                 /* thin this long: judge the loss */
#define PROBE_FOLLOWS 0.6         /* thin kept when its loss is below this
				     share of the loss before */
#define OWN_LOSS_HOLD_S 300       /* a line judged lossy by itself */

struct site {
	struct le le;
	struct site_env env;
	uint32_t key;                   /* the number in its id */
	char id[16];
	char name[64];
	char uri[128];
	enum site_state state;
	struct sipsess *sess;
	struct sdp_session *sdp;
	struct sdp_media *sdpm;         /* the one audio line */
	struct sdp_format *fmt;         /* the one codec in our SDP */
	struct sdp_format *tel;
	struct mbuf *answer;            /* kept for a delayed 200 */
	struct tmr tmr_answer;
	bool offer_pending;             /* INVITE had no SDP: we offered */

	struct codec_prm prm;
	struct mix_profile *prof;
	struct mix_member *mm;
	struct sa raddr;
	struct sa rtcp_raddr;
	struct sa sig_addr;             /* source of its INVITE */
	bool recv_on, send_on;
	struct mix_dsp dsp;             /* operator's settings, kept across
					   codec changes */
	struct mix_ctl ctl;             /* mute, deaf, gains: the same */
	char user[64];                  /* user part of its From URI */

	uint64_t start_ns;
	uint64_t media_ns;              /* when media (re)started */
	uint64_t last_rtcp_ns;
	uint32_t lsr;                   /* middle 32 bits of their last SR */
	uint64_t lsr_rx_ns;
	uint32_t prior_expected;
	uint32_t prior_received;
	/* loss over the last LOSS_WINDOW seconds, for alarms: the
	 * cumulative figure would keep a burst of the first minute alarming
	 * for the rest of the meeting */
	uint32_t lw_exp[LOSS_WINDOW], lw_rec[LOSS_WINDOW];
	uint32_t lw_n;
	double recent_loss_pct;
	double rtt_ms;
	double remote_loss_pct;
	double remote_jitter_ms;
	bool have_remote_report;
	uint32_t dtmf_count;
	/* what we send, adapted to what the site's line delivers */
	struct codec_prm nego;          /* what the SDP allows: the ceiling */
	double loss_ewma;               /* from its receiver reports, % */
	uint32_t reports;
	enum adapt_level level;
	uint64_t level_since_ns;
	uint64_t bad_ns;                /* last report over the threshold */
	uint32_t adapt_changes;
	char adapt_why[96];
	uint32_t up_hold_s;             /* clean time before a step up */
	uint64_t rose_ns;               /* last step up */
	/* does the loss follow our rate? judged once on the thin profile */
	double thin_from;               /* smoothed loss when it went thin */
	uint64_t thin_ns;               /* when; 0: judged */
	double probe_sum;
	uint32_t probe_n;
	uint64_t own_loss_until_ns;     /* the line's own loss: no thin */
	uint64_t capped_until_ns;       /* the larger budget overflowed it */
	/* what we ask the site to send (a re-offer), from the loss of what
	 * reaches us */
	uint32_t our_ptime;             /* a=ptime of our SDP, unasked */
	bool ask_thin;                  /* our SDP asks for the thin profile */
	bool ask_pending;               /* re-INVITE out, no answer yet */
	bool ask_refused;               /* it never answered one: no more */
	uint64_t ask_ns;                /* when the last ask went out */
	double ask_from;                /* loss when we asked for thin */
	bool ask_judged;
	bool ask_snap;                  /* counters since the switch taken */
	uint32_t ask_exp0, ask_rec0;
	uint64_t ask_bad_ns;            /* last second with loss */
	uint64_t ask_own_until_ns;      /* its line's own loss: not thin */
	uint64_t ask_rose_ns;           /* last ask back up */
	uint32_t ask_hold_s;
	uint32_t ask_changes;
	char ask_why[96];
};

static uint32_t site_counter;

/* The loss the encoder plans FEC for. Opus 1.3's in-band FEC takes its
 * bits from the frame's own budget, the more the higher the figure:
 * planning for 10 % on a line losing 20 % is heard better (make
 * bench-network: ESTOI 0.817 against 0.803 planning for 30 %), and
 * planning for none loses the redundancy (0.784). */
static uint32_t loss_bucket(double pct)
{
	static const uint32_t b[] = {5, 10};
	size_t i;

	for (i = 0; i < sizeof(b) / sizeof(b[0]) - 1; i++) {
		if (pct * 1.3 <= b[i])
			return b[i];
	}
	return b[i];
}

static void closed_nobody(void *arg, struct site *site)
{
	(void)arg;
	(void)site;
}

/* Our member leaves the mixer; it is freed when the mixer says so
 * (MIX_EV_DETACHED), and its late events are dropped meanwhile. */
static void member_release(struct site *site, struct mix_member *mm)
{
	if (!mm)
		return;
	mix_member_set_owner(mm, NULL);
	(void)mixer_detach(site->env.mixer, mm);
}

static void site_destructor(void *arg)
{
	struct site *site = arg;

	tmr_cancel(&site->tmr_answer);
	member_release(site, site->mm);
	site->mm = NULL;
	if (site->prof)
		site->env.profile_put(site->env.arg, site->prof);
	site->env.closed(site->env.arg, site);
	site->sess = mem_deref(site->sess);
	site->answer = mem_deref(site->answer);
	/* our own references (site_sdp_set_codec), then the session */
	site->fmt = mem_deref(site->fmt);
	site->tel = mem_deref(site->tel);
	site->sdp = mem_deref(site->sdp);
}

/* The Opus fmtp of our SDP: what we would like to receive (RFC 7587
 * §6.1: maxaveragebitrate and maxplaybackrate are the receiver's).
 * Thin: what we ask of a site whose packets do not all reach us. */
static int our_opus_fmtp(struct site *site, bool thin)
{
	const struct cfg_room *rc = site->env.cfg;
	uint32_t bps = rc->opus_bitrate_bps, rate = 16000;

	if (thin) {
		if (bps > rc->adapt_thin_bps)
			bps = rc->adapt_thin_bps;
		rate = rc->adapt_thin_bw;
	}
	/* cbr=1 when thin: a capped line carries a steady rate, where a
	 * variable one overflows it on the talk peaks, when it matters */
	return sdp_format_set_params(site->fmt, "useinbandfec=1;"
				     "maxplaybackrate=%u;"
				     "sprop-maxcapturerate=16000;stereo=0;"
				     "sprop-stereo=0;maxaveragebitrate=%u%s",
				     rate, bps, thin ? ";cbr=1" : "");
}

/* Our SDP for the dialog: only the chosen codec and telephone-event,
 * with the offerer's payload types. */
static int site_sdp_set_codec(struct site *site, const struct codec_prm *prm,
			      const char *name, int tel_pt)
{
	struct sdp_media *m = site->sdpm;
	char pt[8], tpt[8];
	int err;

	site->fmt = mem_deref(site->fmt);
	site->tel = mem_deref(site->tel);
	re_snprintf(pt, sizeof(pt), "%u", prm->pt);
	if (prm->id == CODEC_OPUS) {
		err = sdp_format_add(&site->fmt, m, false, pt, name, 48000, 2,
				     NULL, NULL, NULL, false, NULL);
		if (!err)
			err = our_opus_fmtp(site, false);
	}
	else {
		err = sdp_format_add(&site->fmt, m, false, pt, name, 8000, 1,
				     NULL, NULL, NULL, false, NULL);
	}
	if (err)
		return err;
	/* sdp_format_add hands the list's reference to us too: keep one */
	mem_ref(site->fmt);
	if (tel_pt >= 0) {
		re_snprintf(tpt, sizeof(tpt), "%d", tel_pt);
		err = sdp_format_add(&site->tel, m, false, tpt,
				     "telephone-event", 8000, 1, NULL, NULL,
				     NULL, false, "0-15");
		if (!err)
			mem_ref(site->tel);
	}
	(void)sdp_media_set_lattr(m, true, "ptime", "%u", prm->ptime_ms);
	/* a new codec: what we asked of the old one is gone */
	site->our_ptime = prm->ptime_ms;
	site->ask_thin = false;
	site->ask_judged = false;
	return err;
}

/* ---- media -------------------------------------------------------------- */

static void media_dirs(const struct sdp_media *m, bool *recv_on,
		       bool *send_on)
{
	enum sdp_dir dir = sdp_media_dir(m);

	/* sdp_media_dir() is ours & theirs, from our side. Anything but
	 * sendrecv on their side that stops them receiving is hold. */
	*send_on = (dir & SDP_SENDONLY) != 0;
	*recv_on = dir == SDP_SENDRECV;
}

static int media_start(struct site *site, const struct codec_prm *prm)
{
	struct mix_member_prm mp;
	struct mix_profile *prof = NULL;
	struct mix_member *mm = NULL;
	int err;

	err = site->env.profile_get(site->env.arg, prm, &prof);
	if (err)
		return err;
	memset(&mp, 0, sizeof(mp));
	mp.kind = MIX_MEMBER_RTP;
	mp.key = site->key;
	mp.dsp = site->dsp;
	mp.ctl = site->ctl;
	mp.codec = *prm;
	mp.raddr = site->raddr;
	mp.sig_addr = site->sig_addr;
	mp.recv_on = site->recv_on;
	mp.send_on = site->send_on;
	err = mix_member_alloc(&mm, &mp, prof);
	if (err)
		goto out;
	mix_member_set_owner(mm, site);
	err = mixer_attach(site->env.mixer, mm);
	if (err)
		goto out;

	/* the old member goes after the new one is queued */
	member_release(site, site->mm);
	if (site->prof)
		site->env.profile_put(site->env.arg, site->prof);
	site->mm = mm;
	site->prof = prof;
	site->prm = *prm;
	site->media_ns = lb_mono_ns();
	return 0;
 out:
	mem_deref(mm);
	site->env.profile_put(site->env.arg, prof);
	return err;
}

/* Same codec, other bitrate, FEC, bandwidth or ptime: the member moves
 * to the matching profile and keeps its jitter buffer, decoder and
 * speech chain (what its echo canceller learnt). */
static int media_move(struct site *site, const struct codec_prm *prm)
{
	struct mix_profile *prof = NULL;
	int err;

	err = site->env.profile_get(site->env.arg, prm, &prof);
	if (err)
		return err;
	err = mixer_move(site->env.mixer, site->mm, prof);
	if (err) {
		site->env.profile_put(site->env.arg, prof);
		return err;
	}
	site->env.profile_put(site->env.arg, site->prof);
	site->prof = prof;
	site->prm.ptime_ms = prm->ptime_ms;
	site->prm.bitrate_bps = prm->bitrate_bps;
	site->prm.max_bw_hz = prm->max_bw_hz;
	site->prm.complexity = prm->complexity;
	site->prm.fec = prm->fec;
	site->prm.dtx = prm->dtx;
	site->prm.cbr = prm->cbr;
	site->prm.loss_pct = prm->loss_pct;
	return 0;
}

static const char *band_name(uint32_t bw_hz)
{
	return bw_hz && bw_hz <= 8000 ? "narrowband" :
		bw_hz && bw_hz <= 12000 ?
		"mediumband" : "wideband";
}

static const char *level_name(enum adapt_level l)
{
	return l == ADAPT_THIN ? "thin" : l == ADAPT_FEC ? "fec" : "clean";
}

/* What to send at a level, within what the SDP allows. */
static void level_prm(const struct site *site, enum adapt_level l,
		      bool own_loss, struct codec_prm *prm)
{
	const uint32_t fec_bps = site->env.cfg->adapt_fec_bps;

	*prm = site->nego;
	if (l == ADAPT_CLEAN)
		return;
	if (prm->fec)
		prm->loss_pct = loss_bucket(site->loss_ewma);
	/* Opus 1.3's FEC takes its bits from the frame's budget: on a line
	 * that loses by itself, a larger budget pays for it (what the
	 * line carries is not the limit there, the thin probe showed) */
	if (l == ADAPT_FEC && own_loss && prm->fec &&
	    fec_bps > prm->bitrate_bps) {
		prm->bitrate_bps = fec_bps;
		if (prm->max_bitrate_bps &&
		    prm->bitrate_bps > prm->max_bitrate_bps)
			prm->bitrate_bps = prm->max_bitrate_bps;
	}
	if (l == ADAPT_THIN) {
		/* 40 ms at 12 kbit/s: 19.2 kbit/s on the wire. (60 ms
		 * packets measured worse under loss here: concealing or
		 * recovering 60 ms at once loses more.) The shared thin
		 * streams are few, so they get the encoder's best effort */
		const uint32_t pt = site->env.cfg->adapt_thin_ptime / 20 * 20;

		if (prm->maxptime_ms >= pt && prm->ptime_ms < pt)
			prm->ptime_ms = pt;
		if (prm->bitrate_bps > site->env.cfg->adapt_thin_bps)
			prm->bitrate_bps = site->env.cfg->adapt_thin_bps;
		prm->complexity = 10;
		if (prm->max_bw_hz > site->env.cfg->adapt_thin_bw)
			prm->max_bw_hz = site->env.cfg->adapt_thin_bw;
	}
}

/*
 * On the thin profile, judge once whether the loss followed our rate. A
 * capped or congested line loses what does not fit: sent less, it loses
 * far less, and thin is right. A line that loses as much at 19 kbit/s
 * as at 31 (radio, a bad link) only loses quality to thin; there,
 * 20 ms packets with FEC at the negotiated rate are heard better
 * (make bench-network: 0.81 against 0.77 ESTOI at 15 % random loss).
 */
static void probe(struct site *site, uint64_t now)
{
	double avg;

	if (site->level != ADAPT_THIN || !site->thin_ns)
		return;
	/* a line that has both: its own loss and a cap the larger budget
	 * overflowed (the loss grew on it) keeps the thin profile */
	if (now < site->capped_until_ns) {
		site->thin_ns = 0;
		return;
	}
	if (now - site->thin_ns >= PROBE_SKIP_S * 1000000000ull) {
		site->probe_sum += site->remote_loss_pct;
		++site->probe_n;
	}
	if (now - site->thin_ns < PROBE_S * 1000000000ull ||
	    site->probe_n < 3)
		return;
	site->thin_ns = 0;
	avg = site->probe_sum / site->probe_n;
	if (avg < PROBE_FOLLOWS * site->thin_from)
		return;
	site->own_loss_until_ns = now + OWN_LOSS_HOLD_S * 1000000000ull;
	log_info("site %s: its line lost %.1f %% before the thin profile "
		 "and %.1f %% with it: the line's own loss, not our rate\n",
		 site->id, site->thin_from, avg);
}

/* After each receiver report of the site. */
static void adapt(struct site *site)
{
	const uint64_t now = lb_mono_ns();
	enum adapt_level want = site->level;
	struct codec_prm prm;
	const double l = site->loss_ewma;

	if (!site->mm || site->nego.id != CODEC_OPUS || !site->send_on ||
	    !site->env.cfg->adapt)
		return;
	if (l >= ADAPT_FEC_PCT)
		site->bad_ns = now;
	probe(site, now);
	if (l >= ADAPT_THIN_PCT && site->reports >= 2) {
		want = ADAPT_THIN;
		/* a line that loses as much whatever we send is not
		 * helped by less: FEC at the full rate serves it better,
		 * unless its loss has grown well past what was judged */
		if (now < site->own_loss_until_ns &&
		    l < 1.5 * site->thin_from)
			want = ADAPT_FEC;
		else if (now < site->own_loss_until_ns) {
			/* the budget was more than the line carries */
			site->own_loss_until_ns = 0;
			site->capped_until_ns = now +
				OWN_LOSS_HOLD_S * 1000000000ull;
			log_info("site %s: its loss grew to %.1f %% on the "
				 "larger budget: the line is capped too, "
				 "thin it stays\n", site->id, l);
		}
	}
	else if (l >= ADAPT_FEC_PCT && want < ADAPT_FEC)
		want = ADAPT_FEC;
	else if (want > ADAPT_CLEAN &&
		 now - site->bad_ns > site->up_hold_s * 1000000000ull &&
		 now - site->level_since_ns > site->up_hold_s * 1000000000ull)
		want = want - 1;
	/* a step up that brought the loss back (a capped line that only
	 * carries the thin profile): wait twice as long before the next */
	if (want > site->level && site->rose_ns &&
	    now - site->rose_ns < 2ull * site->up_hold_s * 1000000000ull &&
	    site->up_hold_s < ADAPT_UP_MAX_S)
		site->up_hold_s *= 2;
	if (want < site->level)
		site->rose_ns = now;
	level_prm(site, want, now < site->own_loss_until_ns, &prm);
	if (codec_prm_same_stream(&prm, &site->prm))
		return;
	if (media_move(site, &prm))
		return;                 /* the mixer is busy: next report */
	if (want != site->level)
		site->level_since_ns = now;
	if (want == ADAPT_THIN && site->level != ADAPT_THIN) {
		site->thin_from = l;
		site->thin_ns = now;
		site->probe_sum = 0;
		site->probe_n = 0;
	}
	site->level = want;
	++site->adapt_changes;
	re_snprintf(site->adapt_why, sizeof(site->adapt_why),
		    "%s: %.1f %% lost%s", level_name(want), l,
		    want == ADAPT_FEC && now < site->own_loss_until_ns ?
		    " (the line's own loss: thinner did not help)" : "");
	log_info("site %s: its line loses %.1f %% of what we send: now %s "
		 "(%u ms, %u bit/s, %s%s)\n", site->id, l, level_name(want),
		 prm.ptime_ms, prm.bitrate_bps, band_name(prm.max_bw_hz),
		 prm.fec ? ", FEC planned for that loss" : "");
}

/* ---- asking the site to send thinner ------------------------------------
 *
 * What the site sends us crosses its line too, and a commune's uplink is
 * often the thinner way. We count what reaches us (a second's figures
 * over the last LOSS_WINDOW); on 8 % or more we re-offer our SDP asking
 * for the thin profile (a=ptime, maxaveragebitrate, maxplaybackrate:
 * what a receiver may ask of an Opus sender, RFC 7587 §6.1; baresip,
 * for one, re-plans its encoder on them). The same judgement as our own
 * thin profile follows, on the packets from ASK_SWITCH_S to ASK_PROBE_S
 * after the ask (125 at 40 ms: short, since on a line that loses by
 * itself the thin profile only costs): a loss that did not drop is the
 * line's own, and we ask back for what the site first sent for
 * OWN_LOSS_HOLD_S; a loss that
 * dropped stays thin until ASK_UP_S without loss, doubling each time it
 * comes back soon after. A site that never answers a re-INVITE is not
 * asked again; libre hangs up a session whose re-INVITE times out, so
 * only sites with a full media stack are asked: those that send us
 * RTCP receiver reports (softphones, gateways; not a scripted sipp
 * that plays packets and expects no re-INVITE).
 */
#define ASK_MIN_S 3               /* seconds of receive figures first */
#define ASK_SWITCH_S 1            /* the answer, the site's next packet */
#define ASK_PROBE_S 6
#define ASK_UP_S 60
#define ASK_UP_MAX_S 960
#define ASK_ANSWER_S 40           /* longer than SIP's 32 s transaction */

/* Our SDP as it asks for the thin profile, or as it was. */
static int our_sdp_ask(struct site *site, bool thin)
{
	int err = our_opus_fmtp(site, thin);

	if (!err)
		err = sdp_media_set_lattr(site->sdpm, true, "ptime", "%u",
					  thin ? site->env.cfg->
					  adapt_thin_ptime / 20 * 20 :
					  site->our_ptime);
	return err;
}

static int ask_send(struct site *site, bool thin, double loss,
		    const char *why)
{
	struct mbuf *desc = NULL;
	int err;

	err = our_sdp_ask(site, thin);
	if (!err)
		err = sdp_encode(&desc, site->sdp, true);
	if (!err)
		err = sipsess_modify(site->sess, desc);
	mem_deref(desc);
	if (err) {
		/* once: a session that refuses now will refuse again */
		log_warn("site %s: re-INVITE failed: %m: not asking it "
			 "again\n", site->id, err);
		(void)our_sdp_ask(site, site->ask_thin);
		site->ask_refused = true;
		return err;
	}
	site->ask_thin = thin;
	site->ask_pending = true;
	site->ask_ns = lb_mono_ns();
	site->ask_judged = false;
	site->ask_snap = false;
	++site->ask_changes;
	re_snprintf(site->ask_why, sizeof(site->ask_why), "%s: %s",
		    thin ? "thin" : "as it chose", why);
	log_info("site %s: %.1f %% of what it sends is lost: asking it "
		 "for %s (%s)\n", site->id, loss, thin ? "the thin profile" :
		 "what it first sent", why);
	return 0;
}

/* Once a second, after the receive figures (its counters now). */
static void ask_adapt(struct site *site, uint64_t now, uint32_t exp,
		      uint32_t rec)
{
	double l = site->recent_loss_pct;
	const uint64_t s = 1000000000ull;

	if (!site->env.cfg->adapt || !site->env.cfg->adapt_ask ||
	    site->state != SITE_ESTABLISHED || !site->sess || !site->mm ||
	    !site->fmt || site->prm.id != CODEC_OPUS || !site->recv_on ||
	    site->offer_pending || site->ask_refused ||
	    !site->have_remote_report)
		return;
	if (site->ask_pending) {
		if (now - site->ask_ns < ASK_ANSWER_S * s)
			return;
		/* libre gives up on it silently; our SDP says what it
		 * said before, and the site is left alone */
		site->ask_pending = false;
		site->ask_refused = true;
		site->ask_thin = !site->ask_thin;
		(void)our_sdp_ask(site, site->ask_thin);
		log_info("site %s: no answer to our re-INVITE in %u s: not "
			 "asking it again\n", site->id, ASK_ANSWER_S);
		return;
	}
	if (site->lw_n < ASK_MIN_S)
		return;
	if (l >= ADAPT_FEC_PCT)
		site->ask_bad_ns = now;
	if (!site->ask_thin) {
		if (l < ADAPT_THIN_PCT)
			return;
		if (now < site->ask_own_until_ns &&
		    l < 1.5 * site->ask_from)
			return;
		if (now < site->ask_own_until_ns)
			log_info("site %s: its loss grew to %.1f %%: its line "
				 "is capped too\n", site->id, l);
		/* asked up, and the loss came back soon: wait longer */
		if (site->ask_rose_ns &&
		    now - site->ask_rose_ns < 2ull * site->ask_hold_s * s &&
		    site->ask_hold_s < ASK_UP_MAX_S)
			site->ask_hold_s *= 2;
		site->ask_own_until_ns = 0;
		if (!ask_send(site, true, l, "what reaches us is lost"))
			site->ask_from = l;
		return;
	}
	if (!site->ask_judged) {
		if (!site->ask_snap) {
			if (now - site->ask_ns < ASK_SWITCH_S * s)
				return;
			site->ask_exp0 = exp;
			site->ask_rec0 = rec;
			site->ask_snap = true;
			return;
		}
		if (now - site->ask_ns < ASK_PROBE_S * s)
			return;
		site->ask_judged = true;
		if (exp < site->ask_exp0 || rec < site->ask_rec0)
			return;         /* its media was rebuilt */
		exp -= site->ask_exp0;
		rec -= site->ask_rec0;
		l = exp > rec ? 100.0 * (exp - rec) / exp : 0.0;
		if (l < PROBE_FOLLOWS * site->ask_from)
			return;
		log_info("site %s: %.1f %% of what it sent was lost before "
			 "the thin profile and %.1f %% with it: its line's "
			 "own loss\n", site->id, site->ask_from, l);
		/* what was judged, not the first seconds' noisy figure,
		 * is what a capped line's loss must grow past */
		if (l > site->ask_from)
			site->ask_from = l;
		if (!ask_send(site, false, l, "its line's own loss"))
			site->ask_own_until_ns = now + OWN_LOSS_HOLD_S * s;
		return;
	}
	if (now - site->ask_bad_ns > (uint64_t)site->ask_hold_s * s &&
	    now - site->ask_ns > (uint64_t)site->ask_hold_s * s &&
	    !ask_send(site, false, l, "no loss for a while"))
		site->ask_rose_ns = now;
}

/* The site's answer to our re-offer: what it asks of us may change with
 * it (baresip mirrors the a=ptime it was asked for). */
static int ask_answered(struct site *site, const struct codec_prm *prm,
			const struct sa *ra, bool recv_on, bool send_on)
{
	if (codec_prm_same_stream(&site->nego, prm) &&
	    prm->pt == site->prm.pt && prm->tel_pt == site->prm.tel_pt &&
	    recv_on == site->recv_on && send_on == site->send_on &&
	    (!sa_isset(ra, SA_ALL) || sa_is_any(ra) ||
	     sa_cmp(ra, &site->raddr, SA_ALL)))
		return 0;               /* our adaptation goes on */
	log_info("site %s: its answer to our re-INVITE changes what it "
		 "asks of us\n", site->id);
	return 1;
}

/* Apply a decoded offer or answer to the site's media. */
static int media_apply(struct site *site, const struct codec_prm *prm)
{
	struct sdp_media *m = site->sdpm;
	const struct sa *ra = sdp_media_raddr(m);
	bool recv_on, send_on;

	media_dirs(m, &recv_on, &send_on);
	/* c=0.0.0.0 (old-style hold) keeps the address we know */
	if (sa_isset(ra, SA_ALL) && !sa_is_any(ra)) {
		site->raddr = *ra;
		sdp_media_raddr_rtcp(m, &site->rtcp_raddr);
	}
	site->recv_on = recv_on;
	site->send_on = send_on;
	/* a new offer or answer sets the ceiling; adaptation starts over
	 * from what it allows */
	site->nego = *prm;
	site->level = ADAPT_CLEAN;
	site->level_since_ns = lb_mono_ns();
	site->up_hold_s = ADAPT_UP_S;
	site->rose_ns = 0;
	site->thin_ns = 0;
	site->own_loss_until_ns = 0;
	site->capped_until_ns = 0;
	if (!site->ask_hold_s)
		site->ask_hold_s = ASK_UP_S;

	if (!site->mm || site->prm.id != prm->id ||
	    site->prm.pt != prm->pt || site->prm.tel_pt != prm->tel_pt) {
		log_info("site %s: %s/%u ptime %u ms%s, %s\n", site->id,
			 codec_name(prm->id), prm->clock_hz, prm->ptime_ms,
			 prm->fec ? " fec" : "",
			 recv_on ? "sendrecv" : send_on ? "on hold (we "
			 "send)" : "on hold");
		return media_start(site, prm);
	}
	if (!codec_prm_same_stream(&site->prm, prm)) {
		int err;

		log_info("site %s: now %u ms, %u bit/s%s\n", site->id,
			 prm->ptime_ms, prm->bitrate_bps,
			 prm->fec ? ", fec" : "");
		err = media_move(site, prm);
		if (err)
			return err;
	}
	log_info("site %s: media update: %J, %s\n", site->id, &site->raddr,
		 recv_on ? "sendrecv" : "on hold");
	return mixer_update(site->env.mixer, site->mm, &site->raddr, recv_on,
			    send_on);
}

/* Negotiate an offer into *answerp. */
static int negotiate(struct site *site, struct mbuf *offer,
		     struct mbuf **answerp)
{
	const struct cfg_room *rc = site->env.cfg;
	struct codec_prm prm;
	char name[32];
	int tel_pt, err;

	err = lbsdp_probe_offer(offer, sdp_media_laddr(site->sdpm), rc,
			  &prm, name, sizeof(name), &tel_pt);
	if (err)
		return err;
	prm.tel_pt = tel_pt > 0 ? (uint8_t)tel_pt : 0;

	if (!site->fmt || site->prm.pt != prm.pt ||
	    str_casecmp(site->fmt->name, name) ||
	    (tel_pt >= 0) != (site->tel != NULL) ||
	    site->prm.ptime_ms != prm.ptime_ms) {
		err = site_sdp_set_codec(site, &prm, name, tel_pt);
		if (err)
			return err;
	}
	err = sdp_decode(site->sdp, offer, true);
	if (err)
		return err;
	err = sdp_encode(answerp, site->sdp, false);
	if (err)
		return err;
	return media_apply(site, &prm);
}

/* ---- SIP session handlers ----------------------------------------------- */

static void site_close(struct site *site, int err, const char *why)
{
	if (site->state == SITE_CLOSED)
		return;
	site->state = SITE_CLOSED;
	if (err && err != ECONNRESET)
		log_info("site %s (%s): closed: %s (%m)\n", site->id,
			 site->name, why, err);
	else
		log_info("site %s (%s): closed: %s\n", site->id, site->name,
			 why);
	mem_deref(site);
}

static void close_handler(int err, const struct sip_msg *msg, void *arg)
{
	struct site *site = arg;
	char why[64];

	if (msg && msg->req)
		re_snprintf(why, sizeof(why), "%r from site", &msg->met);
	else if (msg)
		re_snprintf(why, sizeof(why), "%u %r", msg->scode,
			    &msg->reason);
	else
		str_ncpy(why, err == ECONNRESET ? "hung up by the site" :
			 "session failed", sizeof(why));
	/* libre already answered the BYE or CANCEL */
	site->sess = mem_deref(site->sess);
	site_close(site, err, why);
}

static void estab_handler(const struct sip_msg *msg, void *arg)
{
	struct site *site = arg;
	(void)msg;

	site->state = SITE_ESTABLISHED;
	log_info("site %s (%s): established in room %s\n", site->id,
		 site->name, site->env.cfg->id);
}

static int offer_handler(struct mbuf **descp, const struct sip_msg *msg,
			 void *arg)
{
	struct site *site = arg;
	int err;

	if (!mbuf_get_left(msg->mb)) {
		/* re-INVITE without SDP: offer what we have */
		site->offer_pending = true;
		return sdp_encode(descp, site->sdp, true);
	}
	err = negotiate(site, msg->mb, descp);
	if (err)
		log_warn("site %s: re-INVITE refused: %m\n", site->id, err);
	/* libre answers 488 for an error here */
	return err;
}

static int answer_handler(const struct sip_msg *msg, void *arg)
{
	struct site *site = arg;
	const struct sdp_format *rf = NULL;
	struct sdp_media *m;
	struct codec_prm prm;
	struct le *le;
	int err, tel_pt = -1;
	bool asked;

	if (!site->offer_pending && !site->ask_pending)
		return 0;
	asked = site->ask_pending;
	site->offer_pending = false;
	site->ask_pending = false;
	err = sdp_decode(site->sdp, msg->mb, false);
	if (err)
		return err;
	m = site->sdpm;
	LIST_FOREACH(sdp_media_format_lst(m, false), le) {
		const struct sdp_format *f = le->data;

		if (!f->sup)
			continue;
		if (!str_casecmp(f->name, "telephone-event")) {
			if (tel_pt < 0)
				tel_pt = f->pt;
		}
		else if (!rf) {
			rf = f;
		}
	}
	if (!rf) {
		log_warn("site %s: answer has no codec we offered\n",
			 site->id);
		return ENOENT;
	}
	lbsdp_prm_from_format(&prm, rf, m, site->env.cfg);
	prm.tel_pt = tel_pt > 0 ? (uint8_t)tel_pt : 0;
	if (asked) {
		bool recv_on, send_on;

		media_dirs(m, &recv_on, &send_on);
		if (!ask_answered(site, &prm, sdp_media_raddr(m), recv_on,
				  send_on))
			return 0;
	}
	return media_apply(site, &prm);
}

static void answer_timeout(void *arg)
{
	struct site *site = arg;
	int err;

	err = sipsess_answer(site->sess, 200, "OK", site->answer,
			     "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, "
			     "INFO\r\n");
	if (err) {
		log_warn("site %s: answering failed: %m\n", site->id, err);
		site_hangup(site, "answer failed");
		return;
	}
	site->answer = mem_deref(site->answer);
}

uint16_t site_invite(struct site **sitep, const struct site_env *env,
		     struct sipsess_sock *sock, const struct sip_msg *msg)
{
	const struct cfg_room *rc = env->cfg;
	struct site *site;
	struct sa laddr;
	struct mbuf *desc = NULL;
	uint16_t scode, refuse = 0;
	int err;

	site = mem_zalloc(sizeof(*site), site_destructor);
	if (!site)
		return 503;
	site->env = *env;
	site->dsp = *env->dsp;
	if (env->ctl)
		site->ctl = *env->ctl;
	tmr_init(&site->tmr_answer);
	site->key = ++site_counter;
	re_snprintf(site->id, sizeof(site->id), "s%u", site->key);
	if (pl_isset(&msg->from.dname))
		pl_strcpy(&msg->from.dname, site->name, sizeof(site->name));
	else
		pl_strcpy(&msg->from.uri.user, site->name,
			  sizeof(site->name));
	pl_strcpy(&msg->from.auri, site->uri, sizeof(site->uri));
	pl_strcpy(&msg->from.uri.user, site->user, sizeof(site->user));
	site->sig_addr = msg->src;
	site->start_ns = lb_mono_ns();
	site->media_ns = site->start_ns;

	/* media lives on the room's port, on the address the INVITE came
	 * in on (right even when SIP listens on 0.0.0.0) */
	sa_cpy(&laddr, &msg->dst);
	sa_set_port(&laddr, env->rtp_port);
	err = lbsdp_alloc_media(&site->sdp, &site->sdpm, &laddr);
	if (err)
		goto out;
	sdp_media_set_ldir(site->sdpm, SDP_SENDRECV);

	if (mbuf_get_left(msg->mb)) {
		err = negotiate(site, msg->mb, &desc);
		if (err == ENOENT) {
			log_info("site %s (%s): no common codec: 488\n",
				 site->id, site->name);
			refuse = 488;
			goto out;
		}
		if (err == ENOSPC || err == EAGAIN) {
			log_warn("site %s (%s): mixer full or busy: %m\n",
				 site->id, site->name, err);
			refuse = 503;
			goto out;
		}
		if (err) {
			log_info("site %s (%s): bad SDP (%m): 400\n",
				 site->id, site->name, err);
			refuse = 400;
			goto out;
		}
	}
	else {
		/* delayed offer: we offer in the 200, they answer in ACK */
		err = lbsdp_add_all_formats(site->sdpm);
		if (!err)
			err = sdp_encode(&desc, site->sdp, true);
		if (err)
			goto out;
		site->offer_pending = true;
	}

	scode = rc->answer_delay_ms ? 180 : 200;
	err = sipsess_accept(&site->sess, sock, msg, scode,
			     scode == 200 ? "OK" : "Ringing", "lowbridge",
			     "application/sdp", scode == 200 ? desc : NULL,
			     NULL, NULL, false, offer_handler,
			     answer_handler, estab_handler, NULL, NULL,
			     close_handler, site,
			     "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, "
			     "INFO\r\n");
	if (err) {
		log_warn("site %s: accept failed: %m\n", site->id, err);
		goto out;
	}
	if (scode != 200) {
		site->answer = mem_ref(desc);
		tmr_start(&site->tmr_answer, rc->answer_delay_ms,
			  answer_timeout, site);
	}
	log_info("site %s (%s, %s) joins room %s from %J\n", site->id,
		 site->name, site->uri, rc->id, &msg->src);
 out:
	mem_deref(desc);
	if (err) {
		/* not linked anywhere yet: nobody is told it closed */
		site->env.closed = closed_nobody;
		site->state = SITE_CLOSED;
		mem_deref(site);
		return refuse ? refuse : err == ENOMEM ? 503 : 500;
	}
	*sitep = site;
	return 0;
}

void site_hangup(struct site *site, const char *reason)
{
	if (!site)
		return;
	if (site->sess && reason)
		(void)sipsess_set_close_headers(site->sess,
			"Reason: SIP;cause=200;text=\"%s\"\r\n", reason);
	/* mem_deref(sess) sends BYE (or a final error to a pending
	 * INVITE) */
	site_close(site, 0, reason ? reason : "hung up");
}

/* ---- mixer events, RTCP, liveness --------------------------------------- */

void site_on_mixer_event(struct site *site, const struct mix_ev *ev)
{
	static const char dtmf_chars[] = "0123456789*#ABCD";

	switch (ev->type) {

	case MIX_EV_DTMF:
		++site->dtmf_count;
		log_info("site %s: DTMF %c\n", site->id,
			 ev->a >= 0 && ev->a < 16 ? dtmf_chars[ev->a] : '?');
		break;

	case MIX_EV_LATCHED:
		log_info("site %s: media from %J (NAT: not the SDP "
			 "address)\n", site->id, &ev->addr);
		break;

	case MIX_EV_TALK:
		log_debug("site %s: %s\n", site->id,
			  ev->a ? "talking" : "stopped talking");
		break;

	default:
		break;
	}
}

bool site_matches_rtcp(const struct site *site, const struct sa *src,
		       uint32_t ssrc)
{
	if (sa_cmp(&site->rtcp_raddr, src, SA_ALL))
		return true;
	return site->mm && ssrc &&
		atomic_load_explicit(&mix_member_stats(site->mm)->rtp.rx_ssrc,
				     memory_order_relaxed) == ssrc;
}

static uint32_t ntp_mid32_now(void)
{
	return (uint32_t)(rtpio_ntp_now() >> 16);
}

static void on_report_block(struct site *site, const struct rtcp_rr *rr)
{
	uint32_t now, rtt;

	if (!site->mm || rr->ssrc != mix_member_ssrc(site->mm))
		return;
	site->have_remote_report = true;
	site->remote_loss_pct = rr->fraction * 100.0 / 256.0;
	/* a report covers one RTCP interval: two make the figure */
	site->loss_ewma = site->reports++ ? 0.5 * site->loss_ewma +
		0.5 * site->remote_loss_pct : site->remote_loss_pct;
	site->remote_jitter_ms = rr->jitter * 1000.0 / site->prm.clock_hz;
	if (rr->lsr) {
		/* RFC 3550 6.4.1: RTT = A - LSR - DLSR, 1/65536 s units */
		now = ntp_mid32_now();
		rtt = now - rr->lsr - rr->dlsr;
		if (rtt < 65536u * 10)
			site->rtt_ms = rtt * 1000.0 / 65536.0;
	}
	adapt(site);
}

void site_on_rtcp(struct site *site, struct rtcp_msg *msg)
{
	uint32_t i;

	site->last_rtcp_ns = lb_mono_ns();
	switch (msg->hdr.pt) {

	case RTCP_SR:
		site->lsr = (msg->r.sr.ntp_sec << 16) |
			(msg->r.sr.ntp_frac >> 16);
		site->lsr_rx_ns = site->last_rtcp_ns;
		for (i = 0; i < msg->hdr.count; i++)
			on_report_block(site, &msg->r.sr.rrv[i]);
		break;

	case RTCP_RR:
		for (i = 0; i < msg->hdr.count; i++)
			on_report_block(site, &msg->r.rr.rrv[i]);
		break;

	default:
		break;
	}
}

int site_rtcp_report(struct site *site, struct udp_sock *us)
{
	const struct rtp_stats *st;
	struct rtpio_rb rb;
	uint8_t buf[128];
	struct mbuf mb;
	uint32_t expected, received, exp_int, rec_int, ts;
	uint64_t now = lb_mono_ns(), tx_ns;
	size_t n;

	if (!site->mm || site->state != SITE_ESTABLISHED ||
	    !sa_isset(&site->rtcp_raddr, SA_ALL))
		return 0;
	st = &mix_member_stats(site->mm)->rtp;

	memset(&rb, 0, sizeof(rb));
	rb.ssrc = atomic_load(&st->rx_ssrc);
	expected = atomic_load(&st->expected);
	received = atomic_load(&st->received);
	exp_int = expected - site->prior_expected;
	rec_int = received - site->prior_received;
	site->prior_expected = expected;
	site->prior_received = received;
	if (exp_int > rec_int && exp_int)
		rb.fraction = (uint8_t)(((uint64_t)(exp_int - rec_int) << 8) /
					exp_int);
	rb.lost = (int32_t)(expected - received);
	rb.ext_max = atomic_load(&st->ext_max);
	rb.jitter = atomic_load(&st->jitter_ts);
	if (site->lsr) {
		rb.lsr = site->lsr;
		rb.dlsr = (uint32_t)((now - site->lsr_rx_ns) * 65536 /
				     1000000000ull);
	}

	/* the RTP timestamp that corresponds to now, from the last sent */
	tx_ns = atomic_load(&st->tx_mono_ns);
	ts = atomic_load(&st->tx_ts) + (uint32_t)((now - tx_ns) / 1000 *
					site->prm.clock_hz / 1000000);
	n = rtpio_rtcp_build(buf, sizeof(buf), mix_member_ssrc(site->mm),
			     rtpio_ntp_now(), ts,
			     (uint32_t)atomic_load(&st->pkts_out),
			     (uint32_t)atomic_load(&st->bytes_out),
			     rb.ssrc ? &rb : NULL, "lowbridge");
	if (!n)
		return ENOSPC;
	memset(&mb, 0, sizeof(mb));
	mb.buf = buf;
	mb.size = n;
	mb.end = n;
	return udp_send(us, &site->rtcp_raddr, &mb);
}

void site_sample_loss(struct site *site)
{
	const struct mix_member_stats *st;
	uint32_t i, old, exp, rec, de, dr;

	if (!site->mm)
		return;
	st = mix_member_stats(site->mm);
	exp = atomic_load_explicit(&st->rtp.expected, memory_order_relaxed);
	rec = atomic_load_explicit(&st->rtp.received, memory_order_relaxed);
	i = site->lw_n % LOSS_WINDOW;
	old = site->lw_n >= LOSS_WINDOW ? i : 0;
	if (exp < site->lw_exp[old] || rec < site->lw_rec[old]) {
		/* its media was rebuilt (codec change): counters anew */
		site->lw_n = 0;
		i = old = 0;
	}
	de = exp - site->lw_exp[old];
	dr = rec - site->lw_rec[old];
	site->recent_loss_pct = site->lw_n && de > dr ?
		100.0 * (de - dr) / de : 0;
	site->lw_exp[i] = exp;
	site->lw_rec[i] = rec;
	++site->lw_n;
	ask_adapt(site, lb_mono_ns(), exp, rec);
}

void site_check_timeout(struct site *site, uint64_t now_ns,
			uint32_t timeout_s)
{
	uint64_t last;
	int64_t rx;

	if (site->state != SITE_ESTABLISHED || !site->mm)
		return;
	rx = atomic_load_explicit(&mix_member_stats(site->mm)->rtp.last_rx_ns,
				  memory_order_relaxed);
	last = site->media_ns;
	if (rx > 0 && (uint64_t)rx > last)
		last = (uint64_t)rx;
	if (!site->recv_on) {
		/* on hold: RTCP is the sign of life; none at all, none
		 * expected */
		if (!site->last_rtcp_ns)
			return;
		if (site->last_rtcp_ns > last)
			last = site->last_rtcp_ns;
	}
	if (now_ns > last && now_ns - last > (uint64_t)timeout_s *
	    1000000000ull) {
		log_info("site %s (%s): no media for %u s: hanging up\n",
			 site->id, site->name, timeout_s);
		site_hangup(site, "RTP timeout");
	}
}

const char *site_id(const struct site *site)
{
	return site->id;
}

const char *site_name(const struct site *site)
{
	return site->name;
}

uint32_t site_key(const struct site *site)
{
	return site->key;
}

struct mix_member *site_member(const struct site *site)
{
	return site->mm;
}

struct le *site_le(struct site *site)
{
	return &site->le;
}

const struct mix_dsp *site_dsp(const struct site *site)
{
	return &site->dsp;
}

int site_set_dsp(struct site *site, const struct mix_dsp *dsp)
{
	int err = 0;

	if (!site || !dsp)
		return EINVAL;
	if (site->mm)
		err = mixer_set_dsp(site->env.mixer, site->mm, dsp);
	if (err)
		return err;
	site->dsp = *dsp;
	log_info("site %s: noise suppression %s, agc %s, echo control %s%s\n",
		 site->id, dsp->proc.ns ? "on" : "off",
		 dsp->proc.agc ? "on" : "off", dsp->proc.aec ? "on" : "off",
		 dsp->chair ? ", chair" : "");
	return 0;
}

int site_set_ctl(struct site *site, const struct mix_ctl *ctl)
{
	int err = 0;

	if (!site || !ctl)
		return EINVAL;
	if (site->mm)
		err = mixer_set_ctl(site->env.mixer, site->mm, ctl);
	if (err)
		return err;
	site->ctl = *ctl;
	return 0;
}

const struct mix_ctl *site_ctl(const struct site *site)
{
	return &site->ctl;
}

void site_info(const struct site *site, struct site_info *si)
{
	memset(si, 0, sizeof(*si));
	si->id = site->id;
	si->name = site->name;
	si->uri = site->uri;
	si->state = site->state;
	si->raddr = &site->raddr;
	si->sig_addr = &site->sig_addr;
	si->prm = &site->prm;
	si->recv_on = site->recv_on;
	si->send_on = site->send_on;
	si->connected_s = (lb_mono_ns() - site->start_ns) / 1e9;
	si->dsp = &site->dsp;
	si->ctl = &site->ctl;
	si->user = site->user;
	si->st = site->mm ? mix_member_stats(site->mm) : NULL;
	si->chain_delay_ms = mix_member_chain_delay_ms(site->mm);
	si->have_remote_report = site->have_remote_report;
	si->remote_loss_pct = site->remote_loss_pct;
	si->remote_jitter_ms = site->remote_jitter_ms;
	si->rtt_ms = site->rtt_ms;
	si->recent_loss_pct = site->recent_loss_pct;
	si->adapt_level = level_name(site->level);
	si->adapt_loss_pct = site->loss_ewma;
	si->adapt_changes = site->adapt_changes;
	si->adapt_band = site->prm.id == CODEC_OPUS ?
		band_name(site->prm.max_bw_hz) : NULL;
	si->adapt_why = site->adapt_why;
	si->ask_level = site->ask_thin ? "thin" : "none";
	si->ask_changes = site->ask_changes;
	si->ask_why = site->ask_why;
}
