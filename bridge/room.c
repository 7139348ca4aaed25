/**
 * @file room.c  Conference rooms: media sockets, mixer, RTCP, timers.
 *
 * Each room owns one UDP port for the RTP of all its sites (read and
 * written only by its mixer thread) and the next port for RTCP (read and
 * written by the network thread). One port per room instead of one per
 * site: one recvmmsg/sendmmsg call serves every site, and a firewall in
 * front of the bridge needs two ports per room opened, not thousands.
 * Sites are told apart by their source address (see mixer.c try_latch
 * for NAT).
 *
 * Recording: a room that records (config `record`, or POST record=on)
 * starts a session (recordings/rec.h) when its first site joins, with a
 * tap on the mix, and gives every site a tap that follows its key (so a
 * codec change keeps its track). A site that leaves has its tap
 * detached; the last one to leave ends the session. Taps go back to
 * the recorder once the mixer confirms their detach, and are freed when
 * the recorder hands them back.
 *
 * Threads: network thread only.
 */
#include <re.h>
#include <math.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#define LOG_MODULE "room"
#include "json.h"
#include "lbtime.h"
#include "log.h"
#include "offload.h"
#include "ready.h"
#include "live.h"
#include "lroom.h"
#include "rec.h"
#include "room.h"
#include "roster.h"

#define RTCP_INTERVAL_MS 5000
#define TIMEOUT_CHECK_MS 1000
#define PRUNE_MS (3600 * 1000)
#define TAP_FRAMES 128            /* 2.56 s of a track, per tap */
#define ALARM_MS 1000
#define MISSING_AFTER_S 120       /* an expected site is missing after */
#define CLIP_CDB (-50)            /* peak at -0.5 dBFS: clipping */
#define LOSS_ALARM_PCT 5.0
#define ECHO_ALARM_PCT 60
#define SOCK_BUF_BYTES (8 * 1024 * 1024)

struct room_prof {
	struct le le;
	struct codec_prm prm;
	struct mix_profile *p;
	uint32_t users;
	bool in_mixer;
};

/* A tap of the room's recording: the mix's (site NULL, mix) or a
 * site's. */
struct rtap {
	struct le le;
	struct mix_tap *tap;
	struct rec_session *sess;
	struct site *site;              /* NULL once it left */
	bool mix;
	bool live;                      /* attached, not yet detached */
};

struct room {
	struct le le;
	struct room_set *rs;
	const struct cfg_room *cfg;
	struct mix_dsp dsp;             /* defaults for new sites */
	struct mixer *mixer;
	int rtp_fd;
	uint16_t port;
	struct udp_sock *rtcp;
	struct list sitel;
	uint32_t nsites;
	struct list profl;
	uint32_t nprof;
	struct tmr tmr_rtcp;
	struct tmr tmr_timeout;
	bool record;                    /* wanted: config or POST */
	struct rec_session *rsess;      /* being written, or NULL */
	struct list rtapl;              /* struct rtap */
	char alarm[160];                /* the recorder's last alarm */
	struct roster *roster;
	bool locked;                    /* new callers refused */
	bool mute_all;                  /* all but the chairs muted */
	struct tmr tmr_alarm;
	struct mbuf *alarms;            /* JSON array, rebuilt each second */
	struct mbuf *alarms_prev;
	struct lroom *lroom;            /* the local room, or NULL */
	struct mix_profile *lprof;      /* its (PCM) profile */
	struct ready *ready;            /* readiness checks */
	struct offload *offload;        /* its DSP unit, or NULL */
};

struct room_set {
	struct list rooml;
	const struct cfg *cfg;
	struct rec *rec;
	struct tmr tmr_prune;
	struct hw_profiles *profiles;   /* sound cards' DSP rules */
	struct ready_prompts *prompts;  /* readiness prompts, all rooms */
};

static int profile_get(void *arg, const struct codec_prm *prm,
		       struct mix_profile **profp);
static void profile_put(void *arg, struct mix_profile *prof);

/* ---- recording ---------------------------------------------------------- */

static struct rtap *rtap_add(struct room *room, struct mix_tap *tap,
			     struct site *site)
{
	struct rtap *rt = mem_zalloc(sizeof(*rt), NULL);

	if (!rt)
		return NULL;
	rt->tap = tap;
	rt->sess = room->rsess;
	rt->site = site;
	rt->mix = !site;
	rt->live = true;
	list_append(&room->rtapl, &rt->le, rt);
	return rt;
}

/* A member's tap for the recording (site NULL: the local room), attached
 * and in the room's list. */
static int member_tap(struct room *room, const struct mix_tap_prm *tp,
		      struct site *site, struct mix_tap **tapp)
{
	struct mix_tap *tap = NULL;
	struct rtap *rt;
	int err;

	err = mix_tap_alloc(&tap, tp);
	if (err)
		return err;
	err = mixer_tap_attach(room->mixer, tap);
	if (err) {
		mem_deref(tap);
		return err;
	}
	rt = rtap_add(room, tap, site);
	if (!rt) {
		(void)mixer_tap_detach(room->mixer, tap);
		return ENOMEM;
	}
	rt->mix = false;
	*tapp = tap;
	return 0;
}

static int site_tap(struct room *room, struct site *site)
{
	struct mix_tap_prm tp = {.kind = MIX_TAP_MEMBER, .cap = TAP_FRAMES};
	struct site_info si;
	struct mix_tap *tap;
	char addr[64];
	int err;

	tp.key = site_key(site);
	err = member_tap(room, &tp, site, &tap);
	if (err)
		return err;
	site_info(site, &si);
	re_snprintf(addr, sizeof(addr), "%J", si.sig_addr);
	return rec_track_add(room->rsess, site_key(site), si.id, si.name,
			     si.uri, addr, tap);
}

/* The local room's track: the meeting room's own microphones, as the
 * remote sites hear them (after its processing). */
static int local_tap(struct room *room)
{
	struct mix_tap_prm tp = {.kind = MIX_TAP_MEMBER, .cap = TAP_FRAMES};
	struct mix_member *m = lroom_member(room->lroom);
	struct mix_tap *tap;
	int err;

	if (!m)
		return ENOENT;
	tp.member = m;          /* its key is 0, which alone means none */
	err = member_tap(room, &tp, NULL, &tap);
	if (err)
		return err;
	return rec_track_add(room->rsess, mix_member_key(m), "local",
			     room->cfg->name, "local", room->cfg->local_room,
			     tap);
}

/* A session with the mix, and a track for every site there. */
static int rec_begin(struct room *room)
{
	struct mix_tap_prm tp = {.kind = MIX_TAP_MIX, .cap = TAP_FRAMES};
	struct rec_session_prm sp;
	struct mix_tap *tap = NULL;
	struct le *le;
	int err;

	if (room->rsess || !room->rs->rec)
		return room->rsess ? 0 : ENOSYS;
	err = mix_tap_alloc(&tap, &tp);
	if (err)
		return err;
	err = mixer_tap_attach(room->mixer, tap);
	if (err) {
		mem_deref(tap);
		return err;
	}
	memset(&sp, 0, sizeof(sp));
	sp.room_id = room->cfg->id;
	sp.room_name = room->cfg->name;
	sp.format = (enum rec_format)room->cfg->record_format;
	sp.bitrate_bps = room->cfg->record_bitrate_bps;
	sp.mix_tap = tap;
	err = rec_session_start(&room->rsess, room->rs->rec, &sp);
	if (err) {
		(void)mixer_tap_detach(room->mixer, tap);
		log_warn("room %s: cannot record: %m\n", room->cfg->id, err);
		return err;
	}
	(void)rtap_add(room, tap, NULL);
	log_info("room %s: recording session %s into %s\n", room->cfg->id,
		 rec_session_id(room->rsess), rec_session_dir(room->rsess));
	room->alarm[0] = '\0';
	LIST_FOREACH(&room->sitel, le)
		(void)site_tap(room, le->data);
	if (room->lroom)
		(void)local_tap(room);
	return 0;
}

/* Detach every tap and end the session: the recorder closes it once
 * the taps it had come back. */
static void rec_end(struct room *room)
{
	struct le *le;

	if (!room->rsess)
		return;
	LIST_FOREACH(&room->rtapl, le) {
		struct rtap *rt = le->data;

		if (rt->sess == room->rsess && rt->live) {
			rt->site = NULL;
			rt->mix = false;
			rt->live = false;
			(void)mixer_tap_detach(room->mixer, rt->tap);
		}
	}
	(void)rec_session_stop(room->rsess);
	log_info("room %s: session %s ends\n", room->cfg->id,
		 rec_session_id(room->rsess));
	room->rsess = NULL;
}

static void rec_site_left(struct room *room, struct site *site)
{
	struct le *le;

	LIST_FOREACH(&room->rtapl, le) {
		struct rtap *rt = le->data;

		if (rt->site == site) {
			rt->site = NULL;
			rt->live = false;
			(void)mixer_tap_detach(room->mixer, rt->tap);
			break;
		}
	}
	if (room->rsess && room->nsites == 0)
		rec_end(room);
}

static void tap_detached(struct room *room, struct mix_tap *tap)
{
	struct le *le;

	LIST_FOREACH(&room->rtapl, le) {
		struct rtap *rt = le->data;

		if (rt->tap != tap)
			continue;
		list_unlink(&rt->le);
		if (rt->sess)
			(void)rec_tap_closed(rt->sess, tap);
		else
			mem_deref(tap);
		mem_deref(rt);
		return;
	}
	mem_deref(tap);     /* not one of ours: nobody else reads it */
}

int room_set_record(struct room *room, bool on)
{
	int err = 0;

	room->record = on;
	if (!on)
		rec_end(room);
	else if (room->nsites)
		err = rec_begin(room);
	return err;
}

void room_recording(const struct room *room, struct room_rec_info *ri)
{
	const struct rec_stats *st = rec_session_stats(room->rsess);

	memset(ri, 0, sizeof(*ri));
	ri->on = room->record;
	ri->available = room->rs->rec != NULL;
	ri->alarm = room->alarm;
	if (!room->rsess)
		return;
	ri->session = rec_session_id(room->rsess);
	ri->dir = rec_session_dir(room->rsess);
	ri->bytes = atomic_load(&st->bytes);
	ri->seconds = atomic_load(&st->seconds);
	ri->lost_frames = atomic_load(&st->lost_frames);
	ri->skipped_frames = atomic_load(&st->skipped_frames);
	ri->tracks = atomic_load(&st->tracks);
	ri->paused = atomic_load(&st->alarm);
}

/* ---- operator ----------------------------------------------------------- */

void room_set_lock(struct room *room, bool on)
{
	room->locked = on;
}

bool room_locked(const struct room *room)
{
	return room->locked;
}

bool room_mute_all_on(const struct room *room)
{
	return room->mute_all;
}

int room_mute_all(struct room *room, bool on)
{
	struct le *le;
	int err = 0;

	room->mute_all = on;
	LIST_FOREACH(&room->sitel, le) {
		struct site *site = le->data;
		struct mix_ctl c = *site_ctl(site);

		if (site_dsp(site)->chair)
			continue;
		c.muted = on;
		err |= site_set_ctl(site, &c);
	}
	return err ? EAGAIN : 0;
}

int room_bookmark(struct room *room, const char *text, const char *who)
{
	char t[160];

	re_snprintf(t, sizeof(t), "%s (%s)", text, who);
	live_event(room, "bookmark", "{\"text\":%H,\"by\":%H}", json_pstr,
		   text, json_pstr, who);
	return room->rsess ? rec_event(room->rsess, "bookmark", "", t) : 0;
}

int room_journal(struct room *room, const char *kind, const char *sid,
		 const char *text)
{
	return room->rsess ? rec_event(room->rsess, kind, sid, text) : 0;
}

struct lroom *room_lroom(const struct room *room)
{
	return room->lroom;
}

struct offload *room_offload(const struct room *room)
{
	return room ? room->offload : NULL;
}

struct ready *room_ready(const struct room *room)
{
	return room ? room->ready : NULL;
}

const struct roster *room_roster(const struct room *room)
{
	return room->roster;
}

const char *room_expected_name(const struct room *room,
			       const struct site *site)
{
	const struct cfg_expect *e = roster_expected(room->roster, site);

	return e ? e->name : NULL;
}

/* ---- alarms ------------------------------------------------------------- */

static int alarm_add(struct mbuf *mb, bool *first, const char *kind,
		     const char *sid, const char *fmt, ...)
{
	char text[200];
	va_list ap;
	int err;

	va_start(ap, fmt);
	(void)re_vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	err = mbuf_printf(mb, "%s{\"kind\":\"%s\",\"site\":%H,"
			  "\"text\":%H}", *first ? "" : ",", kind,
			  json_pstr, sid ? sid : "", json_pstr, text);
	*first = false;
	return err;
}

/* What an operator should look at, from the published counters: once a
 * second, no work on the mixer. A new alarm goes to the live stream. */
static void alarm_timer(void *arg)
{
	struct room *room = arg;
	struct mbuf *mb = mbuf_alloc(512);
	bool first = true;
	struct le *le;
	uint32_t i;

	tmr_start(&room->tmr_alarm, ALARM_MS, alarm_timer, room);
	if (!mb)
		return;
	(void)mbuf_write_str(mb, "[");
	LIST_FOREACH(&room->sitel, le) {
		struct site *site = le->data;
		struct site_info si;
		const struct mix_member_stats *st;
		uint32_t exp;

		site_info(site, &si);
		st = si.st;
		if (!st || si.state != SITE_ESTABLISHED)
			continue;
		if (atomic_load(&st->in_peak_cdb) >= CLIP_CDB)
			(void)alarm_add(mb, &first, "clipping", si.id,
					"%s: clipping (too loud: lower its "
					"microphone gain)", si.name);
		if (atomic_load(&st->echo_only) ||
		    atomic_load(&st->echo_corr_pct) >= ECHO_ALARM_PCT)
			(void)alarm_add(mb, &first, "echo", si.id,
					"%s: strong echo (lower its "
					"loudspeaker or turn on its echo "
					"cancellation)",
					si.name);
		exp = atomic_load(&st->rtp.expected);
		if (exp > 100 && si.recent_loss_pct > LOSS_ALARM_PCT)
			(void)alarm_add(mb, &first, "loss", si.id,
					"%s: %d %% of its packets lost "
					"(poor line)", si.name,
					(int)lrint(si.recent_loss_pct));
		if (si.connected_s > 30 &&
		    atomic_load(&st->level_in_cdb) <= -9000 &&
		    atomic_load(&st->noise_cdb) <= -9000)
			(void)alarm_add(mb, &first, "silent", si.id,
					"%s: no sound at all (microphone off "
					"or broken?)", si.name);
	}
	if (roster_meeting_s(room->roster) > MISSING_AFTER_S) {
		const struct cfg_expect *ev = room->cfg->expv;

		for (i = 0; i < room->cfg->expc; i++) {
			if (strcmp(roster_state(room->roster, i), "missing"))
				continue;
			(void)alarm_add(mb, &first, "missing", NULL,
					"%s has not connected (%s %s)",
					ev[i].name, ev[i].contact,
					ev[i].phone);
		}
	}
	if (room->alarm[0])
		(void)alarm_add(mb, &first, "recorder", NULL, "%s",
				room->alarm);
	if (room->offload) {
		char text[200];

		if (offload_alarm(room->offload, text, sizeof(text)))
			(void)alarm_add(mb, &first, "device", NULL, "%s",
					text);
	}
	if (room->lroom) {
		char text[200];

		lroom_log_news(room->lroom);
		if (lroom_alarm(room->lroom, text, sizeof(text)))
			(void)alarm_add(mb, &first, "device", "local",
					"%s: %s", room->cfg->name, text);
	}
	(void)mbuf_write_str(mb, "]");
	if (!room->alarms || mb->end != room->alarms->end ||
	    memcmp(mb->buf, room->alarms->buf, mb->end))
		live_event(room, "alarm", "%b", mb->buf, mb->end);
	mem_deref(room->alarms_prev);
	room->alarms_prev = room->alarms;
	room->alarms = mb;
}

int room_print_alarms(struct re_printf *pf, const struct room *room)
{
	if (!room->alarms)
		return re_hprintf(pf, "[]");
	return re_hprintf(pf, "%b", room->alarms->buf, room->alarms->end);
}

static void on_rec_event(const struct rec_ev *ev, void *arg)
{
	struct room_set *rs = arg;
	struct le *le;

	switch (ev->type) {

	case REC_EV_TAP_DONE:
		mem_deref(ev->ptr);
		break;

	case REC_EV_SESSION_DONE:
		mem_deref(ev->ptr);
		break;

	case REC_EV_ALARM:
		if (ev->a)
			log_warn("recorder: %s\n", ev->text);
		else
			log_info("recorder: %s\n", ev->text);
		LIST_FOREACH(&rs->rooml, le) {
			struct room *room = le->data;

			if (room->rsess == ev->ptr)
				str_ncpy(room->alarm, ev->a ? ev->text : "",
					 sizeof(room->alarm));
		}
		break;

	case REC_EV_LOG:
		if (ev->a)
			log_warn("recorder: %s\n", ev->text);
		else
			log_info("recorder: %s\n", ev->text);
		break;
	}
}

static void prune_timer(void *arg)
{
	struct room_set *rs = arg;

	if (rs->rec)
		(void)rec_prune(rs->rec, rs->cfg->retention_days,
				rs->cfg->retention_gb);
	tmr_start(&rs->tmr_prune, PRUNE_MS, prune_timer, rs);
}

static void room_destructor(void *arg)
{
	struct room *room = arg;
	struct le *le;

	tmr_cancel(&room->tmr_rtcp);
	tmr_cancel(&room->tmr_timeout);
	tmr_cancel(&room->tmr_alarm);
	list_unlink(&room->le);
	rec_end(room);
	room->roster = mem_deref(room->roster);
	room->alarms = mem_deref(room->alarms);
	room->alarms_prev = mem_deref(room->alarms_prev);

	/* the DSP unit's device thread stops before the mixer goes (both
	 * use its channels' rings) */
	offload_stop(room->offload);
	/* the local room's device thread stops first; its member's
	 * detach is then processed with the sites' below */
	room->lroom = mem_deref(room->lroom);
	if (room->lprof) {
		profile_put(room, room->lprof);
		room->lprof = NULL;
	}

	/* sites are gone by now (rooms_hangup_all); let the mixer process
	 * their detach commands without its thread, so every member and
	 * profile comes back through the events and is freed */
	if (room->mixer) {
		mixer_stop(room->mixer);
		mixer_tick(room->mixer, lb_mono_ns());
		mixer_poll_events(room->mixer);
	}
	room->mixer = mem_deref(room->mixer);
	/* after the mixer: its jobs came back with the detaches above */
	room->ready = mem_deref(room->ready);
	room->offload = mem_deref(room->offload);
	while ((le = list_head(&room->profl))) {
		struct room_prof *rp = le->data;

		list_unlink(le);
		mem_deref(rp->p);
		mem_deref(rp);
	}
	room->rtcp = mem_deref(room->rtcp);
	if (room->rtp_fd >= 0)
		close(room->rtp_fd);
	/* taps the mixer did not confirm (it could not: stopped) are still
	 * the recorder's to hand back */
	while (list_head(&room->rtapl)) {
		struct rtap *rt = list_head(&room->rtapl)->data;

		list_unlink(&rt->le);
		if (rt->sess)
			(void)rec_tap_closed(rt->sess, rt->tap);
		else
			mem_deref(rt->tap);
		mem_deref(rt);
	}
}

/* auto: the other CPUs; the mixer thread itself works too */
static uint32_t dsp_threads(uint32_t cfg)
{
	long n;

	if (cfg != CFG_AUTO)
		return cfg;
	n = sysconf(_SC_NPROCESSORS_ONLN) - 1;
	if (n < 0)
		n = 0;
	return n > MIX_MAX_WORKERS ? MIX_MAX_WORKERS : (uint32_t)n;
}

static void on_mixer_event(const struct mix_ev *ev, void *arg)
{
	struct room *room = arg;
	struct site *site;
	struct le *le;

	switch (ev->type) {

	case MIX_EV_DETACHED:
		mem_deref(ev->member);
		return;

	case MIX_EV_FREE_AEC:
		dsp_aec_free(ev->ptr);
		return;

	case MIX_EV_TAP_DETACHED:
		tap_detached(room, ev->ptr);
		return;

	case MIX_EV_JOB:
		ready_job_done(room->ready, ev->ptr);
		return;

	case MIX_EV_PROFILE_GONE:
		LIST_FOREACH(&room->profl, le) {
			struct room_prof *rp = le->data;

			if (rp->p == ev->ptr) {
				list_unlink(&rp->le);
				--room->nprof;
				mem_deref(rp->p);
				mem_deref(rp);
				break;
			}
		}
		return;

	default:
		/* the owner is cleared when the site left; late events of
		 * a departed site are dropped */
		site = mix_member_owner(ev->member);
		if (!site) {
			if (ev->type == MIX_EV_TALK && room->lroom &&
			    ev->member == lroom_member(room->lroom))
				live_event(room, "talk", "{\"site\":\"local\","
					   "\"talking\":%s}",
					   ev->a ? "true" : "false");
			return;
		}
		site_on_mixer_event(site, ev);
		if (ev->type == MIX_EV_TALK)
			live_event(room, "talk", "{\"site\":%H,"
				   "\"talking\":%s}", json_pstr,
				   site_id(site), ev->a ? "true" : "false");
		return;
	}
}

static void rtcp_recv(const struct sa *src, struct mbuf *mb, void *arg)
{
	struct room *room = arg;
	struct rtcp_msg *msg = NULL;
	struct le *le;

	/* a compound packet: every part is decoded; garbage ends the loop
	 * with an error, never a crash (libre validates lengths) */
	while (mbuf_get_left(mb) >= 4) {
		uint32_t ssrc = 0;

		if (rtcp_decode(&msg, mb))
			break;
		switch (msg->hdr.pt) {
		case RTCP_SR: ssrc = msg->r.sr.ssrc; break;
		case RTCP_RR: ssrc = msg->r.rr.ssrc; break;
		default: break;
		}
		LIST_FOREACH(&room->sitel, le) {
			if (site_matches_rtcp(le->data, src, ssrc)) {
				site_on_rtcp(le->data, msg);
				break;
			}
		}
		msg = mem_deref(msg);
	}
}

static void rtcp_timer(void *arg)
{
	struct room *room = arg;
	struct le *le;

	LIST_FOREACH(&room->sitel, le)
		(void)site_rtcp_report(le->data, room->rtcp);
	/* RFC 3550 6.2: randomise the interval to [0.5, 1.5] x */
	tmr_start(&room->tmr_rtcp,
		  RTCP_INTERVAL_MS / 2 + rand_u32() % RTCP_INTERVAL_MS,
		  rtcp_timer, room);
}

static void timeout_timer(void *arg)
{
	struct room *room = arg;
	const uint64_t now = lb_mono_ns();
	struct le *le = list_head(&room->sitel);

	while (le) {
		struct site *site = le->data;

		le = le->next;   /* the check may destroy the site */
		site_sample_loss(site);
		site_check_timeout(site, now, room->rs->cfg->rtp_timeout_s);
	}
	tmr_start(&room->tmr_timeout, TIMEOUT_CHECK_MS, timeout_timer, room);
}

static int media_socket(struct sa *addr)
{
	int fd, one = 1, sz = SOCK_BUF_BYTES;

	fd = socket(sa_af(addr), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    IPPROTO_UDP);
	if (fd < 0)
		return -errno;
	if (bind(fd, &addr->u.sa, addr->len) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	/* Arrival times for the jitter estimate: the mixer reads packets
	 * once per tick, the kernel stamps them when they come. */
	(void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	/* a tick's worth of packets from every site must fit; FORCE works
	 * as root, the plain call is the fallback */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	return fd;
}

static void rtcp_udp_recv(const struct sa *src, struct mbuf *mb, void *arg)
{
	rtcp_recv(src, mb, arg);
}

static int room_bind(struct room *room, const struct cfg *cfg,
		     uint32_t *next_port)
{
	struct sa addr;
	int fd, err;

	sa_cpy(&addr, &cfg->sip_addr);
	while (*next_port + 1 <= cfg->rtp_port_max) {
		uint16_t port = (uint16_t)*next_port;

		*next_port += 2;
		sa_set_port(&addr, port);
		fd = media_socket(&addr);
		if (fd < 0)
			continue;
		sa_set_port(&addr, port + 1);
		err = udp_listen(&room->rtcp, &addr, rtcp_udp_recv, room);
		if (err) {
			close(fd);
			continue;
		}
		room->rtp_fd = fd;
		room->port = port;
		return 0;
	}
	return EADDRINUSE;
}

/* The meeting room's own microphones and loudspeakers, as a member. */
static int local_start(struct room *room)
{
	static const struct codec_prm none = {.id = CODEC_NONE,
					      .ptime_ms = 20};
	const struct cfg_room *rc = room->cfg;
	struct lroom_prm lp;
	int err;

	err = profile_get(room, &none, &room->lprof);
	if (err)
		return err;
	memset(&lp, 0, sizeof(lp));
	lp.mixer = room->mixer;
	lp.prof = room->lprof;
	lp.name = rc->name;
	lp.dsp = room->dsp;
	lp.ctl.muted = room->mute_all;
	str_ncpy(lp.hw.device, rc->local_room, sizeof(lp.hw.device));
	str_ncpy(lp.hw.fallback, rc->local_fallback,
		 sizeof(lp.hw.fallback));
	lp.hw.api = (enum hw_api)rc->local_api;
	lp.hw.modev[HW_AEC] = (enum hw_mode)rc->local_aec;
	lp.hw.modev[HW_NS] = (enum hw_mode)rc->local_ns;
	lp.hw.modev[HW_AGC] = (enum hw_mode)rc->local_agc;
	lp.hw.profiles = room->rs->profiles;
	lp.hw.rt_prio = room->rs->cfg->rt_prio == CFG_AUTO ?
		LB_RT_PRIO_AUTO : room->rs->cfg->rt_prio;
	err = lroom_alloc(&room->lroom, &lp);
	if (err) {
		log_err("room %s: local room on %s: %m\n", rc->id,
			rc->local_room, err);
		return err;
	}
	log_info("room %s: local room on %s (%s)\n", rc->id, rc->local_room,
		 rc->local_api == HW_API_PORTAUDIO ? "PortAudio" : "ALSA");
	return 0;
}

static int room_alloc(struct room **roomp, struct room_set *rs,
		      const struct cfg_room *rc, uint32_t *next_port)
{
	struct mixer_prm mp;
	struct room *room;
	int err;

	room = mem_zalloc(sizeof(*room), room_destructor);
	if (!room)
		return ENOMEM;
	room->rs = rs;
	room->cfg = rc;
	room->dsp.proc.ns = rc->ns;
	room->dsp.proc.ns_db = rc->ns_db;
	room->dsp.proc.agc = rc->agc;
	room->dsp.proc.agc_target_dbfs = (float)rc->agc_target_dbfs;
	room->dsp.proc.agc_max_gain_db = (float)rc->agc_max_gain_db;
	room->dsp.proc.aec = rc->aec;
	room->rtp_fd = -1;
	room->record = rc->record;
	list_init(&room->rtapl);
	tmr_init(&room->tmr_alarm);
	tmr_init(&room->tmr_rtcp);
	tmr_init(&room->tmr_timeout);

	err = room_bind(room, rs->cfg, next_port);
	if (err) {
		log_err("room %s: no free RTP/RTCP port pair in %u-%u\n",
			rc->id, rs->cfg->rtp_port_min,
			rs->cfg->rtp_port_max);
		goto out;
	}

	memset(&mp, 0, sizeof(mp));
	mp.max_members = rc->max_sites;
	mp.max_talkers = rc->max_talkers;
	mp.workers = dsp_threads(rs->cfg->dsp_threads);
	mp.shed_on_us = rs->cfg->shed_tick_us;
	mp.rt_prio = rs->cfg->rt_prio == CFG_AUTO ? LB_RT_PRIO_AUTO :
		rs->cfg->rt_prio;
	mp.rtp_fd = room->rtp_fd;
	err = mixer_alloc(&room->mixer, &mp, on_mixer_event, room);
	if (err)
		goto out;
	err = mixer_start(room->mixer);
	if (err)
		goto out;

	err = roster_alloc(&room->roster, rc);
	if (err)
		goto out;
	err = ready_alloc(&room->ready, room, rs->prompts, rs->rec);
	if (err)
		goto out;
	if (rc->dsp_pool[0]) {
		err = offload_alloc(&room->offload, room, rc->dsp_pool,
				    rs->profiles, mp.rt_prio);
		if (err)
			goto out;
	}
	if (rc->local_room[0]) {
		err = local_start(room);
		if (err)
			goto out;
	}
	tmr_start(&room->tmr_rtcp, RTCP_INTERVAL_MS, rtcp_timer, room);
	tmr_start(&room->tmr_timeout, TIMEOUT_CHECK_MS, timeout_timer, room);
	tmr_start(&room->tmr_alarm, ALARM_MS, alarm_timer, room);
	log_info("room %s (%s): RTP port %u, RTCP %u, up to %u sites, "
		 "%u talkers mixed\n", rc->id, rc->name, room->port,
		 room->port + 1, rc->max_sites, rc->max_talkers);
 out:
	if (err)
		mem_deref(room);
	else
		*roomp = room;
	return err;
}

static void rooms_destructor(void *arg)
{
	struct room_set *rs = arg;

	tmr_cancel(&rs->tmr_prune);
	list_flush(&rs->rooml);
	rs->prompts = mem_deref(rs->prompts);
	hw_profiles_free(rs->profiles);
	/* the recorder closes what is open and hands back the rest */
	rs->rec = mem_deref(rs->rec);
}

int rooms_alloc(struct room_set **rsp, const struct cfg *cfg)
{
	struct room_set *rs;
	uint32_t next_port;
	size_t i;
	int err = 0;

	if (!rsp || !cfg)
		return EINVAL;
	rs = mem_zalloc(sizeof(*rs), rooms_destructor);
	if (!rs)
		return ENOMEM;
	rs->cfg = cfg;
	tmr_init(&rs->tmr_prune);
	{
		char why[300];

		err = cfg->dsp_profiles[0] ?
			hw_profiles_load_file(&rs->profiles,
					      cfg->dsp_profiles, why,
					      sizeof(why)) :
			hw_profiles_load(&rs->profiles, NULL, why,
					 sizeof(why));
		if (err) {
			log_err("dsp_profiles: %s\n", why);
			mem_deref(rs);
			return err;
		}
		hw_quiet_alsa();
	}
	err = rec_alloc(&rs->rec, cfg->data_dir, on_rec_event, rs);
	if (err) {
		log_warn("recorder: %m: the bridge runs without recording\n",
			 err);
		rs->rec = NULL;
		err = 0;
	}
	else if (cfg->retention_days || cfg->retention_gb) {
		tmr_start(&rs->tmr_prune, 60 * 1000, prune_timer, rs);
	}
	err = ready_prompts_alloc(&rs->prompts, cfg);
	if (err) {
		mem_deref(rs);
		return err;
	}
	next_port = cfg->rtp_port_min;
	for (i = 0; i < cfg->roomc; i++) {
		struct room *room = NULL;

		err = room_alloc(&room, rs, &cfg->roomv[i], &next_port);
		if (err)
			break;
		list_append(&rs->rooml, &room->le, room);
	}
	if (err)
		mem_deref(rs);
	else
		*rsp = rs;
	return err;
}

struct room *rooms_find(const struct room_set *rs, const char *id)
{
	struct le *le;

	if (!rs || !id)
		return NULL;
	LIST_FOREACH(&rs->rooml, le) {
		struct room *room = le->data;

		if (!strcmp(room->cfg->id, id))
			return room;
	}
	return NULL;
}

const struct list *rooms_list(const struct room_set *rs)
{
	return rs ? &rs->rooml : NULL;
}

void rooms_hangup_all(struct room_set *rs)
{
	struct le *le;

	if (!rs)
		return;
	LIST_FOREACH(&rs->rooml, le) {
		struct room *room = le->data;
		struct le *sle = list_head(&room->sitel);

		/* a test window open at shutdown keeps its report */
		if (ready_active(room->ready))
			(void)ready_close(room->ready);
		while (sle) {
			struct site *site = sle->data;

			sle = sle->next;
			site_hangup(site, "bridge shutting down");
		}
	}
}

uint32_t rooms_site_count(const struct room_set *rs)
{
	struct le *le;
	uint32_t n = 0;

	if (!rs)
		return 0;
	LIST_FOREACH(&rs->rooml, le)
		n += ((struct room *)le->data)->nsites;
	return n;
}

const struct cfg_room *room_cfg(const struct room *room)
{
	return room->cfg;
}

const struct mix_dsp *room_dsp(const struct room *room)
{
	return &room->dsp;
}

void room_set_dsp(struct room *room, const struct mix_dsp *dsp)
{
	struct le *le;

	room->dsp = *dsp;
	room->dsp.chair = false;
	LIST_FOREACH(room_sites(room), le) {
		struct site *site = le->data;
		struct mix_dsp d = *dsp;

		d.chair = site_dsp(site)->chair;
		(void)site_set_dsp(site, &d);
	}
}

struct site *room_site_find(const struct room *room, const char *id)
{
	struct le *le;

	LIST_FOREACH(room_sites(room), le) {
		if (!strcmp(site_id(le->data), id))
			return le->data;
	}
	return NULL;
}

uint16_t room_rtp_port(const struct room *room)
{
	return room->port;
}

struct mixer *room_mixer(const struct room *room)
{
	return room->mixer;
}

uint32_t room_site_count(const struct room *room)
{
	return room->nsites;
}

const struct list *room_sites(const struct room *room)
{
	return &room->sitel;
}

uint32_t room_profile_count(const struct room *room)
{
	return room->nprof;
}

/* ---- what a site may use (struct site_env) ------------------------------ */

/* The shared stream for prm: found or created. */
static int profile_get(void *arg, const struct codec_prm *prm,
		       struct mix_profile **profp)
{
	struct room *room = arg;
	struct room_prof *rp;
	struct le *le;
	int err;

	LIST_FOREACH(&room->profl, le) {
		rp = le->data;
		if (rp->in_mixer && codec_prm_same_stream(&rp->prm, prm)) {
			++rp->users;
			*profp = rp->p;
			return 0;
		}
	}

	rp = mem_zalloc(sizeof(*rp), NULL);
	if (!rp)
		return ENOMEM;
	rp->prm = *prm;
	err = mix_profile_alloc(&rp->p, prm);
	if (!err)
		err = mixer_profile_add(room->mixer, rp->p);
	if (err) {
		mem_deref(rp->p);
		mem_deref(rp);
		return err;
	}
	rp->in_mixer = true;
	rp->users = 1;
	list_append(&room->profl, &rp->le, rp);
	++room->nprof;
	*profp = rp->p;
	return 0;
}

static void profile_put(void *arg, struct mix_profile *prof)
{
	struct room *room = arg;
	struct le *le;

	LIST_FOREACH(&room->profl, le) {
		struct room_prof *rp = le->data;

		if (rp->p != prof || !rp->in_mixer)
			continue;
		if (--rp->users == 0) {
			/* freed when the mixer says it let go of it */
			rp->in_mixer = false;
			(void)mixer_profile_del(room->mixer, prof);
		}
		return;
	}
}

static void site_closed(void *arg, struct site *site)
{
	struct room *room = arg;
	struct le *le = site_le(site);

	if (!le->list)
		return;
	list_unlink(le);
	--room->nsites;
	rec_site_left(room, site);
	ready_site_left(room->ready, site);
	offload_site_left(room->offload, site);
	roster_leave(room->roster, site);
	live_event(room, "leave", "{\"site\":%H}", json_pstr, site_id(site));
}

uint16_t room_invite(struct room *room, struct sipsess_sock *sock,
		     const struct sip_msg *msg)
{
	struct site_env env = {
		.cfg = room->cfg,
		.mixer = room->mixer,
		.rtp_port = room->port,
		.dsp = &room->dsp,
		.profile_get = profile_get,
		.profile_put = profile_put,
		.closed = site_closed,
		.arg = room,
	};
	struct site *site;
	uint16_t scode;

	struct mix_ctl muted = {.muted = true};
	const struct cfg_expect *ex;

	if (room->locked) {
		log_info("room %s is locked: 403\n", room->cfg->id);
		return 403;
	}
	if (room->nsites >= room->cfg->max_sites) {
		log_warn("room %s is full (%u sites): 486\n", room->cfg->id,
			 room->cfg->max_sites);
		return 486;
	}
	if (room->mute_all)
		env.ctl = &muted;
	scode = site_invite(&site, &env, sock, msg);
	if (scode)
		return scode;
	list_append(&room->sitel, site_le(site), site);
	++room->nsites;
	(void)roster_join(room->roster, site);
	ready_site_joined(room->ready, site);
	ex = roster_expected(room->roster, site);
	live_event(room, "join", "{\"site\":%H,\"name\":%H,\"expected\":%H}",
		   json_pstr, site_id(site), json_pstr,
		   site_name(site), json_nstr, ex ? ex->name : NULL);
	if (room->record && !room->rsess)
		(void)rec_begin(room);      /* adds this site's track too */
	else if (room->rsess)
		(void)site_tap(room, site);
	return 0;
}
