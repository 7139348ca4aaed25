/**
 * @file recorder.c  The recorder thread: drains the mixer's taps into
 * track files, keeps each session's journal, manifest and catalogue
 * rows, pauses on a full disk and resumes into new segments, and
 * repairs what a crash left open.
 *
 * Timeline: frame f of a session is the mixer tick tick0 + f, where
 * tick0 is the mix tap's first record; sample f * 320 of every file of
 * the session (but resumed segments, which start where the manifest
 * says) is that moment. A record that a tap dropped is written as
 * silence in its place (counted as lost): the files never slip.
 *
 * Talk turns: a turn is a run of frames in which the site's voice
 * detector heard speech (gaps under 300 ms do not end it), counted only
 * if the site was in the mix at some point of it (a noisy or echoing
 * site that was never mixed did not speak to the meeting). It starts at
 * the first voiced frame and ends after the last one; the detector's
 * 200 ms hangover makes ends that much late.
 *
 * Cost: a site's tap record holds audio only where its chain ran in
 * full (it spoke or was mixed: MIX_TAP_AUDIO); everything else is
 * silence, which costs a copied packet in Ogg Opus (oggopus.c) and a
 * constant block in FLAC. The mix is encoded every frame it is not
 * digital silence.
 *
 * Full disk or a write error: every file of the session is closed where
 * it stands (what is on disk stays readable), frames go uncounted into
 * skipped_frames, an alarm goes to the control side and the journal;
 * every 2 s the free space is checked, and when it is back each track
 * resumes in a new segment file from the present moment.
 *
 * Threads: rec_* entry points queue commands under a mutex (control
 * side, never the mixer); everything else runs on the recorder thread;
 * events go back in a list under the same mutex, with an eventfd that
 * wakes the network thread (libre fd_listen). The destructor stops the
 * thread (which closes every session still open) and hands the events
 * left over to the handler itself, so nothing leaks at exit.
 */
#include <re.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sqlite3.h>
#include "recint.h"
#include "tap.h"

#define POLL_MS 40
#define SYNC_MS 1000             /* pages and headers out, catalogue */
#define SPACE_CHECK_MS 2000
#define VIEWS_SOFT_MS 30000      /* turns and length in the manifest and
				    catalogue; the journal has them at once */
#define SPACE_MIN_BYTES (512u << 10)  /* free space to resume: 2 % of */
#define SPACE_MAX_BYTES (64u << 20)   /* the file system, within these */

#define STAT_ADD(f, v)							\
	atomic_store_explicit(&(f),					\
		atomic_load_explicit(&(f), memory_order_relaxed) + (v),	\
		memory_order_relaxed)
#define STAT_SET(f, v) atomic_store_explicit(&(f), (v), memory_order_relaxed)

enum cmd_type {
	CMD_START = 1,
	CMD_TRACK,
	CMD_TAP_CLOSED,
	CMD_EVENT,
	CMD_STOP,
	CMD_PRUNE,
	CMD_READY,
};

struct cmd {
	struct le le;
	enum cmd_type type;
	struct rec_session *sess;
	struct mix_tap *tap;
	uint32_t key;
	char sid[REC_ID_MAX];
	char name[REC_NAME_MAX];
	char uri[REC_NAME_MAX];
	char addr[REC_ID_MAX];
	char kind[24];
	char text[REC_NAME_MAX];
	uint64_t mono_ns;
	struct rec_ready rr;         /* CMD_READY: its buffers are ours */
};

struct rtrack {
	struct le le;
	struct rec_session *sess;
	struct mix_tap *tap;
	bool is_mix;
	uint32_t key;
	char sid[REC_ID_MAX];
	char name[REC_NAME_MAX];
	char uri[REC_NAME_MAX];
	char addr[REC_ID_MAX];
	struct tfile *tf;
	uint32_t seg;                /* segment number, 1.. */
	uint64_t next;               /* session frame of the next record */
	bool joined;                 /* its join is in the journal */
	bool closing;                /* its tap produces no more */
	bool in_turn;                /* speaking (voice, short gaps) */
	bool turn_mixed;             /* ... and mixed at some point */
	uint64_t turn_start;
	uint64_t last_voice;
};

struct rec_session {
	struct rec *rec;
	char id[REC_ID_MAX];
	char dir[REC_PATH_MAX];
	char room[REC_ID_MAX];
	char room_name[REC_NAME_MAX];
	enum rec_format fmt;
	uint32_t bitrate;
	int64_t start_unix_ms;
	uint64_t start_mono_ns;
	struct rec_stats st;

	/* the recorder thread's */
	struct le le;
	int jfd;
	struct rmodel model;
	struct rtrack *mix;
	struct list trackl;
	bool started;
	bool stopping;
	bool tick0_known;
	uint64_t tick0;
	uint64_t frames;             /* session frames seen on the mix */
	bool alarm;
	uint64_t next_space_check;
	bool dirty;                  /* manifest and catalogue to update:
					a site came or went, a new file */
	bool soft_dirty;             /* ... turns, events, the duration:
					every VIEWS_SOFT_MS is enough */
	uint64_t next_views;
};

struct rec {
	char data_dir[REC_PATH_MAX];
	rec_ev_h *evh;
	void *arg;
	int evfd;
	struct list evl;             /* struct evq, under mtx */
	pthread_t thread;
	bool started;
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	struct list cmdl;            /* under mtx */
	bool stop;                   /* under mtx */

	/* the recorder thread's */
	struct list sessl;
	struct sqlite3 *db;
	uint64_t next_sync;
	struct mix_tap_frame fr;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *rec_format_name(enum rec_format f)
{
	switch (f) {
	case REC_FLAC: return "flac";
	case REC_WAV:  return "wav";
	default:       return "opus";
	}
}

const char *rec_format_ext(enum rec_format f)
{
	return rec_format_name(f);
}

int rec_format_parse(enum rec_format *f, const char *name)
{
	if (!str_casecmp(name, "opus"))
		*f = REC_OPUS;
	else if (!str_casecmp(name, "flac"))
		*f = REC_FLAC;
	else if (!str_casecmp(name, "wav"))
		*f = REC_WAV;
	else
		return EINVAL;
	return 0;
}

/* ---- events to the control side ----------------------------------------- */

struct evq {
	struct le le;
	struct rec_ev ev;
};

static void post(struct rec *rec, enum rec_ev_type type, void *ptr, int a,
		 const char *fmt, ...)
{
	struct evq *q = mem_zalloc(sizeof(*q), NULL);
	const uint64_t one = 1;
	va_list ap;

	if (!q)
		return;          /* the next alarm or log will tell */
	q->ev.type = type;
	q->ev.ptr = ptr;
	q->ev.a = a;
	if (fmt) {
		va_start(ap, fmt);
		(void)re_vsnprintf(q->ev.text, sizeof(q->ev.text), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_lock(&rec->mtx);
	list_append(&rec->evl, &q->le, q);
	pthread_mutex_unlock(&rec->mtx);
	(void)!write(rec->evfd, &one, sizeof(one));
}

static void deliver(struct rec *rec)
{
	struct list l;
	struct le *le;

	list_init(&l);
	pthread_mutex_lock(&rec->mtx);
	while ((le = list_head(&rec->evl))) {
		list_unlink(le);
		list_append(&l, le, le->data);
	}
	pthread_mutex_unlock(&rec->mtx);
	while ((le = list_head(&l))) {
		struct evq *q = le->data;

		list_unlink(le);
		rec->evh(&q->ev, rec->arg);
		mem_deref(q);
	}
}

static void evfd_handler(int flags, void *arg)
{
	struct rec *rec = arg;
	uint64_t v;
	(void)flags;

	(void)!read(rec->evfd, &v, sizeof(v));
	deliver(rec);
}

/* ---- the journal -------------------------------------------------------- */

static double sess_now_s(const struct rec_session *s, uint64_t mono)
{
	return mono > s->start_mono_ns ?
		(double)(mono - s->start_mono_ns) / 1e9 : 0.0;
}

/* Append one event (the JSON fields after "t" and "utc") and apply it
 * to the model, so the model is always what the journal replays to. */
static int journal(struct rec_session *s, double t, const char *fmt, ...)
{
	char line[2048], utc[32], body[1800];
	struct odict *o = NULL;
	va_list ap;
	int n, err = 0;

	va_start(ap, fmt);
	(void)re_vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	rec_time_iso(s->start_unix_ms + (int64_t)(t * 1000), utc,
		     sizeof(utc), NULL, 0);
	n = re_snprintf(line, sizeof(line), "{\"t\":%.3f,\"utc\":\"%s\",%s}\n",
			t, utc, body);
	if (n <= 0 || (size_t)n >= sizeof(line))
		return EOVERFLOW;
	if (s->jfd >= 0 && write(s->jfd, line, (size_t)n) != n)
		err = errno ? errno : EIO;
	if (!json_decode_odict(&o, 16, line, (size_t)n, 4)) {
		const char *ev = odict_string(o, "ev");

		(void)rmodel_apply(&s->model, o);
		if (ev && (!strcmp(ev, "talk") || !strcmp(ev, "bookmark") ||
			   !strcmp(ev, "mute") || !strcmp(ev, "unmute")))
			s->soft_dirty = true;
		else
			s->dirty = true;
		mem_deref(o);
	}
	return err;
}

/* A JSON string's body for the journal (quotes escaped). */
static int jstr(struct re_printf *pf, const char *str)
{
	int err = 0;

	for (; str && *str && !err; str++) {
		const unsigned char c = (unsigned char)*str;

		if (c == '"' || c == '\\')
			err = re_hprintf(pf, "\\%c", c);
		else if (c < 0x20)
			err = re_hprintf(pf, "\\u%04x", c);
		else
			err = pf->vph(str, 1, pf->arg);
	}
	return err;
}

/* The manifest is rewritten whole and the session's catalogue rows
 * replaced: a few ms for a session of hundreds of sites, so not on every
 * talk turn. */
static void update_views(struct rec *rec, struct rec_session *s)
{
	const uint64_t now = mono_ms();
	int err;

	if (!s->dirty && (!s->soft_dirty || now < s->next_views))
		return;
	s->dirty = s->soft_dirty = false;
	s->next_views = now + VIEWS_SOFT_MS;
	err = rmodel_write_manifest(&s->model, s->dir);
	if (err)
		post(rec, REC_EV_LOG, NULL, 0, "session %s: manifest: %m",
		     s->id, err);
	if (rec->db) {
		err = cat_put_session(rec->db, &s->model, s->dir,
				      s->model.closed ? "closed" :
				      "recording");
		if (err)
			post(rec, REC_EV_LOG, NULL, 0,
			     "session %s: catalogue: %m", s->id, err);
	}
}

/* ---- tracks ------------------------------------------------------------- */

static void track_file_name(const struct rtrack *t, char *buf, size_t sz)
{
	const char *ext = rec_format_ext(t->sess->fmt);

	if (t->is_mix && t->seg > 1)
		re_snprintf(buf, sz, "mix.%u.%s", t->seg, ext);
	else if (t->is_mix)
		re_snprintf(buf, sz, "mix.%s", ext);
	else if (t->seg > 1)
		re_snprintf(buf, sz, "site-%s.%u.%s", t->sid, t->seg, ext);
	else
		re_snprintf(buf, sz, "site-%s.%s", t->sid, ext);
}

static int track_open(struct rtrack *t, char *name, size_t sz)
{
	char path[REC_PATH_MAX];

	track_file_name(t, name, sz);
	re_snprintf(path, sizeof(path), "%s/%s", t->sess->dir, name);
	return tfile_open(&t->tf, path, t->sess->fmt, t->sess->bitrate);
}

static void session_alarm(struct rec *rec, struct rec_session *s, int err,
			  const char *what);

static void track_close_file(struct rtrack *t)
{
	int err;

	if (!t->tf)
		return;
	err = tfile_close(t->tf);
	t->tf = NULL;
	if (err && err != ENOSPC)
		post(t->sess->rec, REC_EV_LOG, NULL, 0,
		     "session %s: closing %s: %m", t->sess->id,
		     t->is_mix ? "mix" : t->sid, err);
}

/* One frame at session frame f into the track's file. */
static void track_put(struct rtrack *t, const int16_t *pcm, bool audio)
{
	struct rec_session *s = t->sess;
	int err;

	if (!t->tf) {
		STAT_ADD(s->st.skipped_frames, 1);
		return;
	}
	err = tfile_frame(t->tf, pcm, audio);
	if (err) {
		session_alarm(s->rec, s, err, t->is_mix ? "mix" : t->sid);
		return;
	}
	STAT_ADD(s->st.frames, 1);
}

#define TURN_GAP 15              /* frames of no voice that end a turn */

static void turn_end(struct rtrack *t)
{
	if (!t->in_turn)
		return;
	t->in_turn = false;
	if (!t->turn_mixed)
		return;
	(void)journal(t->sess, (double)t->turn_start * 0.02,
		      "\"ev\":\"talk\",\"site\":\"%H\",\"end\":%.3f", jstr,
		      t->sid, (double)(t->last_voice + 1) * 0.02);
}

static void turn_frame(struct rtrack *t, uint64_t f, uint32_t flags)
{
	if (flags & MIX_TAP_VOICE) {
		if (!t->in_turn) {
			t->in_turn = true;
			t->turn_mixed = false;
			t->turn_start = f;
		}
		t->last_voice = f;
	}
	else if (t->in_turn && f - t->last_voice > TURN_GAP) {
		turn_end(t);
	}
	if (t->in_turn && (flags & MIX_TAP_TALKING))
		t->turn_mixed = true;
}

/* A record of tick tk for the track. Frames before the track's next
 * one are late duplicates; a gap is silence (the tap dropped). */
static void track_record(struct rtrack *t, const struct mix_tap_frame *r)
{
	struct rec_session *s = t->sess;
	const bool audio = (r->flags & MIX_TAP_AUDIO) != 0;
	uint64_t f;

	if (r->tick < s->tick0)
		return;
	f = r->tick - s->tick0;
	if (!t->joined) {
		t->joined = true;
		(void)journal(s, (double)f * 0.02, "\"ev\":\"join\","
			      "\"site\":\"%H\",\"name\":\"%H\",\"uri\":\"%H\","
			      "\"addr\":\"%H\",\"file\":\"site-%H.%s\"",
			      jstr, t->sid, jstr, t->name, jstr, t->uri, jstr,
			      t->addr, jstr, t->sid,
			      rec_format_ext(s->fmt));
		/* silence from the session's start to its join */
		while (t->next < f) {
			track_put(t, NULL, false);
			++t->next;
		}
	}
	if (f < t->next)
		return;
	if (f > t->next)
		STAT_ADD(s->st.lost_frames, f - t->next);
	while (t->next < f) {
		track_put(t, NULL, false);
		++t->next;
	}
	if (t->is_mix) {
		bool any = false;

		for (size_t i = 0; i < REC_FRAME && !any; i++)
			any = r->pcm[i] != 0;
		track_put(t, r->pcm, any);
		s->frames = f + 1;
	}
	else {
		track_put(t, r->pcm, audio);
		turn_frame(t, f, r->flags);
	}
	++t->next;
}

static void track_drain(struct rec *rec, struct rtrack *t)
{
	while (mix_tap_read(t->tap, &rec->fr)) {
		struct rec_session *s = t->sess;

		if (t->is_mix && !s->tick0_known) {
			s->tick0 = rec->fr.tick;
			s->tick0_known = true;
		}
		if (!s->tick0_known)
			break;      /* the mix first: it sets the timeline */
		track_record(t, &rec->fr);
	}
}

static void track_free(struct rec *rec, struct rtrack *t)
{
	struct rec_session *s = t->sess;

	turn_end(t);
	if (!t->is_mix && t->joined)
		(void)journal(s, (double)t->next * 0.02,
			      "\"ev\":\"leave\",\"site\":\"%H\"", jstr,
			      t->sid);
	track_close_file(t);
	list_unlink(&t->le);
	post(rec, REC_EV_TAP_DONE, t->tap, 0, NULL);
	if (s->mix == t)
		s->mix = NULL;
	STAT_SET(s->st.tracks, list_count(&s->trackl) + (s->mix ? 1 : 0));
	mem_deref(t);
}

/* ---- full disk ---------------------------------------------------------- */

static void session_alarm(struct rec *rec, struct rec_session *s, int err,
			  const char *what)
{
	struct le *le;

	if (s->alarm)
		return;
	s->alarm = true;
	STAT_SET(s->st.alarm, true);
	if (s->mix)
		track_close_file(s->mix);
	LIST_FOREACH(&s->trackl, le)
		track_close_file(le->data);
	s->next_space_check = mono_ms() + SPACE_CHECK_MS;
	(void)journal(s, (double)s->frames * 0.02, "\"ev\":\"alarm\","
		      "\"text\":\"writing %s: %H; paused\"", what, jstr,
		      strerror(err));
	post(rec, REC_EV_ALARM, s, 1, "session %s: writing %s: %m: "
	     "recording paused, what is written stays", s->id, what, err);
}

static bool space_back(const struct rec_session *s)
{
	struct statvfs v;

	uint64_t want;

	if (statvfs(s->dir, &v))
		return false;
	/* enough not to fill again at once */
	want = (uint64_t)v.f_blocks * v.f_frsize / 50;
	want = want < SPACE_MIN_BYTES ? SPACE_MIN_BYTES :
		want > SPACE_MAX_BYTES ? SPACE_MAX_BYTES : want;
	return (uint64_t)v.f_bavail * v.f_frsize >= want;
}

static int track_resume(struct rtrack *t, uint64_t f)
{
	char name[REC_NAME_MAX];
	int err;

	++t->seg;
	err = track_open(t, name, sizeof(name));
	if (err)
		return err;
	(void)journal(t->sess, (double)f * 0.02, "\"ev\":\"segment\","
		      "\"site\":\"%H\",\"file\":\"%H\"", jstr,
		      t->is_mix ? "mix" : t->sid, jstr, name);
	return 0;
}

static void session_resume(struct rec *rec, struct rec_session *s)
{
	const uint64_t now = mono_ms();
	struct le *le;
	int err = 0;

	if (!s->alarm || now < s->next_space_check)
		return;
	s->next_space_check = now + SPACE_CHECK_MS;
	if (!space_back(s))
		return;
	if (s->mix)
		err = track_resume(s->mix, s->frames);
	LIST_FOREACH(&s->trackl, le) {
		struct rtrack *t = le->data;
		char name[REC_NAME_MAX];

		if (err)
			break;
		/* one that joined during the pause starts its first file */
		err = t->joined ? track_resume(t, t->next) :
			track_open(t, name, sizeof(name));
	}
	if (err) {
		/* still no room: close what opened, try again later */
		if (s->mix)
			track_close_file(s->mix);
		LIST_FOREACH(&s->trackl, le)
			track_close_file(le->data);
		return;
	}
	s->alarm = false;
	STAT_SET(s->st.alarm, false);
	(void)journal(s, (double)s->frames * 0.02,
		      "\"ev\":\"resume\",\"text\":\"disk space back\"");
	post(rec, REC_EV_ALARM, s, 0, "session %s: space back, recording "
	     "resumed in new segments", s->id);
}

/* ---- sessions ----------------------------------------------------------- */

static void session_open(struct rec *rec, struct rec_session *s)
{
	char path[REC_PATH_MAX], name[REC_NAME_MAX];
	int err;

	rmodel_init(&s->model);
	list_init(&s->trackl);
	re_snprintf(path, sizeof(path), "%s/journal.jsonl", s->dir);
	s->jfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (s->jfd < 0)
		post(rec, REC_EV_LOG, NULL, 0, "session %s: journal %s: %m",
		     s->id, path, errno);
	err = s->mix ? track_open(s->mix, name, sizeof(name)) : ENOENT;
	(void)journal(s, 0, "\"ev\":\"session_start\",\"session\":\"%H\","
		      "\"room\":\"%H\",\"room_name\":\"%H\",\"format\":\"%s\","
		      "\"unix_ms\":%lld,\"file\":\"%H\"", jstr, s->id, jstr,
		      s->room, jstr, s->room_name, rec_format_name(s->fmt),
		      (long long)s->start_unix_ms, jstr, err ? "" : name);
	if (err)
		session_alarm(rec, s, err, "mix");
	s->started = true;
	list_append(&rec->sessl, &s->le, s);
	update_views(rec, s);
	post(rec, REC_EV_LOG, NULL, 0, "session %s: recording into %s (%s)",
	     s->id, s->dir, rec_format_name(s->fmt));
}

static bool session_done(struct rec *rec, struct rec_session *s)
{
	if (!s->stopping || s->mix || !list_isempty(&s->trackl))
		return false;
	(void)journal(s, (double)s->frames * 0.02,
		      "\"ev\":\"session_end\",\"repaired\":false");
	update_views(rec, s);
	if (s->jfd >= 0) {
		(void)fsync(s->jfd);
		close(s->jfd);
		s->jfd = -1;
	}
	list_unlink(&s->le);
	post(rec, REC_EV_LOG, NULL, 0, "session %s: closed, %.1f s", s->id,
	     (double)s->frames * 0.02);
	rmodel_reset(&s->model);
	post(rec, REC_EV_SESSION_DONE, s, 0, NULL);
	return true;
}

static struct rtrack *find_track(struct rec_session *s,
				 const struct mix_tap *tap)
{
	struct le *le;

	if (s->mix && s->mix->tap == tap)
		return s->mix;
	LIST_FOREACH(&s->trackl, le) {
		struct rtrack *t = le->data;

		if (t->tap == tap)
			return t;
	}
	return NULL;
}

static int print_mbuf(const char *p, size_t size, void *arg)
{
	return mbuf_write_mem(arg, (const uint8_t *)p, size);
}

static void apply(struct rec *rec, struct cmd *c)
{
	struct rec_session *s = c->sess;
	struct rtrack *t;
	char name[REC_NAME_MAX];
	int err;

	switch (c->type) {

	case CMD_START:
		session_open(rec, s);
		break;

	case CMD_TRACK:
		t = mem_zalloc(sizeof(*t), NULL);
		if (!t) {
			post(rec, REC_EV_TAP_DONE, c->tap, 0, NULL);
			break;
		}
		t->sess = s;
		t->tap = c->tap;
		t->key = c->key;
		t->seg = 1;
		str_ncpy(t->sid, c->sid, sizeof(t->sid));
		str_ncpy(t->name, c->name, sizeof(t->name));
		str_ncpy(t->uri, c->uri, sizeof(t->uri));
		str_ncpy(t->addr, c->addr, sizeof(t->addr));
		list_append(&s->trackl, &t->le, t);
		STAT_SET(s->st.tracks, list_count(&s->trackl) + 1);
		if (s->alarm)
			break;
		err = track_open(t, name, sizeof(name));
		if (err)
			session_alarm(rec, s, err, t->sid);
		break;

	case CMD_TAP_CLOSED:
		t = find_track(s, c->tap);
		if (!t) {
			post(rec, REC_EV_TAP_DONE, c->tap, 0, NULL);
			break;
		}
		track_drain(rec, t);
		t->closing = true;
		track_free(rec, t);
		break;

	case CMD_EVENT:
		(void)journal(s, sess_now_s(s, c->mono_ns), "\"ev\":\"%H\","
			      "\"site\":\"%H\",\"text\":\"%H\"", jstr, c->kind,
			      jstr, c->sid, jstr, c->text);
		break;

	case CMD_STOP:
		s->stopping = true;
		break;

	case CMD_READY: {
		char msg[200];
		const int e = rec_ready_store(rec->data_dir, rec->db, &c->rr,
					      msg, sizeof(msg));

		post(rec, REC_EV_LOG, NULL, e, "%s", msg);
		break;
	}

	case CMD_PRUNE: {
		struct mbuf *mb = mbuf_alloc(1024);
		struct re_printf pf = {print_mbuf, mb};

		if (!mb)
			break;
		(void)rec_cmd_prune(&pf, rec->data_dir, (double)c->key,
				    (double)c->mono_ns, false);
		if (mb->end > 0)
			post(rec, REC_EV_LOG, NULL, 0, "retention: %b",
			     mb->buf, mb->end > 150 ? (size_t)150 : mb->end);
		mem_deref(mb);
		break;
	}
	}
}

static void sync_session(struct rec *rec, struct rec_session *s)
{
	uint64_t bytes = 0;
	struct le *le;

	if (s->mix && s->mix->tf) {
		if (tfile_sync(s->mix->tf))
			session_alarm(rec, s, ENOSPC, "mix");
		else
			bytes += tfile_bytes(s->mix->tf);
	}
	LIST_FOREACH(&s->trackl, le) {
		struct rtrack *t = le->data;

		if (!t->tf)
			continue;
		if (tfile_sync(t->tf)) {
			session_alarm(rec, s, ENOSPC, t->sid);
			break;
		}
		bytes += tfile_bytes(t->tf);
	}
	if (bytes > atomic_load(&s->st.bytes))
		STAT_SET(s->st.bytes, bytes);
	STAT_SET(s->st.seconds, (double)s->frames * 0.02);
	if (s->model.duration_s < (double)s->frames * 0.02) {
		s->model.duration_s = (double)s->frames * 0.02;
		s->soft_dirty = true;
	}
	update_views(rec, s);
}

/* The process ends: every session is closed where it stands, its taps
 * handed back (they produce no more: the mixers stopped first). */
static void shutdown_all(struct rec *rec)
{
	struct le *le;

	while ((le = list_head(&rec->sessl))) {
		struct rec_session *s = le->data;

		if (s->mix) {
			track_drain(rec, s->mix);
			track_free(rec, s->mix);
		}
		while (list_head(&s->trackl)) {
			struct rtrack *t = list_head(&s->trackl)->data;

			track_drain(rec, t);
			track_free(rec, t);
		}
		s->stopping = true;
		(void)session_done(rec, s);
	}
}

static void *rec_thread(void *arg)
{
	struct rec *rec = arg;
	struct list cmds;
	bool stop;

	for (;;) {
		struct le *le;
		struct timespec dl;
		uint64_t now;

		list_init(&cmds);
		pthread_mutex_lock(&rec->mtx);
		if (list_isempty(&rec->cmdl) && !rec->stop) {
			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_nsec += POLL_MS * 1000000L;
			if (dl.tv_nsec >= 1000000000L) {
				dl.tv_nsec -= 1000000000L;
				++dl.tv_sec;
			}
			(void)pthread_cond_timedwait(&rec->cond, &rec->mtx,
						     &dl);
		}
		while ((le = list_head(&rec->cmdl))) {
			list_unlink(le);
			list_append(&cmds, le, le->data);
		}
		stop = rec->stop;
		pthread_mutex_unlock(&rec->mtx);

		/* drain what is there before a command closes a tap */
		LIST_FOREACH(&rec->sessl, le) {
			struct rec_session *s = le->data;
			struct le *tl;

			if (s->mix)
				track_drain(rec, s->mix);
			LIST_FOREACH(&s->trackl, tl)
				track_drain(rec, tl->data);
		}
		while ((le = list_head(&cmds))) {
			list_unlink(le);
			apply(rec, le->data);
			mem_deref(le->data);
		}
		now = mono_ms();
		le = list_head(&rec->sessl);
		while (le) {
			struct rec_session *s = le->data;

			le = le->next;
			session_resume(rec, s);
			if (now >= rec->next_sync)
				sync_session(rec, s);
			(void)session_done(rec, s);
		}
		if (now >= rec->next_sync)
			rec->next_sync = now + SYNC_MS;
		if (stop) {
			shutdown_all(rec);
			break;
		}
	}
	return NULL;
}

/* ---- repair after a crash ----------------------------------------------- */

/* The newest modification time among a session's files, Unix ms: audio
 * is written at least every second, so this is when it stopped. */
static int64_t last_write_ms(const char *dir)
{
	char path[REC_PATH_MAX];
	struct dirent *e;
	struct stat st;
	int64_t last = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		int64_t ms;

		if (e->d_name[0] == '.')
			continue;
		re_snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st))
			continue;
		ms = (int64_t)st.st_mtim.tv_sec * 1000 +
			st.st_mtim.tv_nsec / 1000000;
		if (ms > last)
			last = ms;
	}
	closedir(d);
	return last;
}

static int repair_one(struct rec *rec, const char *dir)
{
	struct rec_session tmp;
	struct le *le;
	double end;
	int64_t last;
	char path[REC_PATH_MAX];

	memset(&tmp, 0, sizeof(tmp));
	rmodel_init(&tmp.model);
	if (rmodel_load(&tmp.model, dir) || !tmp.model.id[0] ||
	    tmp.model.closed) {
		rmodel_reset(&tmp.model);
		return 0;
	}
	str_ncpy(tmp.id, tmp.model.id, sizeof(tmp.id));
	str_ncpy(tmp.dir, dir, sizeof(tmp.dir));
	tmp.start_unix_ms = tmp.model.start_unix_ms;
	last = last_write_ms(dir);
	end = last > tmp.start_unix_ms ?
		(double)(last - tmp.start_unix_ms) / 1000.0 : 0;
	if (end < tmp.model.duration_s)
		end = tmp.model.duration_s;
	re_snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	tmp.jfd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (tmp.jfd < 0)
		return errno;
	/* a line the crash cut must not glue itself to ours */
	(void)write(tmp.jfd, "\n", 1);
	LIST_FOREACH(&tmp.model.sitel, le) {
		struct rsite *s = le->data;

		if (s->leave_s < 0)
			(void)journal(&tmp, end, "\"ev\":\"leave\","
				      "\"site\":\"%H\"", jstr, s->id);
	}
	(void)journal(&tmp, end, "\"ev\":\"error\",\"text\":\"the bridge "
		      "stopped while recording; closed at the last write\"");
	(void)journal(&tmp, end, "\"ev\":\"session_end\",\"repaired\":true");
	close(tmp.jfd);
	(void)rmodel_write_manifest(&tmp.model, dir);
	if (rec->db)
		(void)cat_put_session(rec->db, &tmp.model, dir, "repaired");
	post(rec, REC_EV_LOG, NULL, 0, "session %s was left open by a crash: "
	     "closed at %.1f s (last write), manifest and catalogue "
	     "rebuilt from its journal", tmp.id, end);
	rmodel_reset(&tmp.model);
	return 0;
}

static void repair_all(struct rec *rec)
{
	char rooms[REC_PATH_MAX], room[REC_PATH_MAX], dir[REC_PATH_MAX];
	struct dirent *re, *se;
	DIR *rd, *sd;

	re_snprintf(rooms, sizeof(rooms), "%s/recordings", rec->data_dir);
	rd = opendir(rooms);
	if (!rd)
		return;
	while ((re = readdir(rd))) {
		if (re->d_name[0] == '.')
			continue;
		re_snprintf(room, sizeof(room), "%s/%s", rooms, re->d_name);
		sd = opendir(room);
		if (!sd)
			continue;
		while ((se = readdir(sd))) {
			if (se->d_name[0] == '.')
				continue;
			re_snprintf(dir, sizeof(dir), "%s/%s", room,
				    se->d_name);
			(void)repair_one(rec, dir);
		}
		closedir(sd);
	}
	closedir(rd);
}

/* ---- the control side --------------------------------------------------- */

static void rec_destructor(void *arg)
{
	struct rec *rec = arg;

	if (rec->started) {
		pthread_mutex_lock(&rec->mtx);
		rec->stop = true;
		pthread_cond_signal(&rec->cond);
		pthread_mutex_unlock(&rec->mtx);
		pthread_join(rec->thread, NULL);
	}
	/* commands the thread never saw: their taps and sessions go back */
	while (list_head(&rec->cmdl)) {
		struct cmd *c = list_head(&rec->cmdl)->data;

		list_unlink(&c->le);
		if (c->type == CMD_TRACK)
			post(rec, REC_EV_TAP_DONE, c->tap, 0, NULL);
		if (c->type == CMD_START) {
			if (c->sess->mix)
				post(rec, REC_EV_TAP_DONE, c->sess->mix->tap,
				     0, NULL);
			c->sess->mix = mem_deref(c->sess->mix);
			post(rec, REC_EV_SESSION_DONE, c->sess, 0, NULL);
		}
		mem_deref(c);
	}
	if (rec->db)
		cat_close(rec->db);
	if (rec->evfd >= 0) {
		fd_close(rec->evfd);
		deliver(rec);
		close(rec->evfd);
	}
	pthread_mutex_destroy(&rec->mtx);
	pthread_cond_destroy(&rec->cond);
}

int rec_alloc(struct rec **recp, const char *data_dir, rec_ev_h *evh,
	      void *arg)
{
	char path[REC_PATH_MAX];
	struct stat st;
	struct rec *rec;
	uint32_t n = 0;
	bool fresh;
	int err;

	if (!recp || !data_dir || !evh)
		return EINVAL;
	rec = mem_zalloc(sizeof(*rec), rec_destructor);
	if (!rec)
		return ENOMEM;
	rec->evfd = -1;
	str_ncpy(rec->data_dir, data_dir, sizeof(rec->data_dir));
	rec->evh = evh;
	rec->arg = arg;
	pthread_mutex_init(&rec->mtx, NULL);
	pthread_cond_init(&rec->cond, NULL);
	list_init(&rec->cmdl);
	list_init(&rec->sessl);
	list_init(&rec->evl);
	rec->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (rec->evfd < 0) {
		err = errno;
		goto out;
	}
	err = fd_listen(rec->evfd, FD_READ, evfd_handler, rec);
	if (err)
		goto out;
	err = rec_mkdir_p(data_dir);
	if (err)
		goto out;
	re_snprintf(path, sizeof(path), "%s/catalogue.sqlite", data_dir);
	fresh = stat(path, &st) != 0;
	err = cat_open(&rec->db, data_dir, false);
	if (err) {
		/* recording works without it; commands rebuild it */
		post(rec, REC_EV_LOG, NULL, 0, "catalogue %s: %m: recording "
		     "without it", path, err);
		rec->db = NULL;
		err = 0;
	}
	repair_all(rec);
	if (rec->db && fresh) {
		err = cat_rebuild(rec->db, data_dir, &n);
		post(rec, REC_EV_LOG, NULL, 0, "catalogue %s: new, %u "
		     "sessions indexed from the folders%s", path, n,
		     err ? " (with errors)" : "");
		err = 0;
	}
	err = pthread_create(&rec->thread, NULL, rec_thread, rec);
	if (!err)
		rec->started = true;
 out:
	if (err)
		mem_deref(rec);
	else
		*recp = rec;
	return err;
}

static int push_cmd(struct rec *rec, struct cmd *c)
{
	pthread_mutex_lock(&rec->mtx);
	list_append(&rec->cmdl, &c->le, c);
	pthread_cond_signal(&rec->cond);
	pthread_mutex_unlock(&rec->mtx);
	return 0;
}

static void cmd_destructor(void *arg)
{
	struct cmd *c = arg;

	mem_deref(c->rr.json);
	mem_deref(c->rr.csv);
	mem_deref(c->rr.html);
	mem_deref(c->rr.html_vi);
	mem_deref(c->rr.rowv);
}

static struct cmd *new_cmd(enum cmd_type type, struct rec_session *sess)
{
	struct cmd *c = mem_zalloc(sizeof(*c), cmd_destructor);

	if (c) {
		c->type = type;
		c->sess = sess;
		c->mono_ns = mono_ns();
	}
	return c;
}

static void session_destructor(void *arg)
{
	(void)arg;
}

int rec_session_start(struct rec_session **sessp, struct rec *rec,
		      const struct rec_session_prm *prm)
{
	struct rec_session *s;
	struct rtrack *mt;
	struct cmd *c;
	char day[40], dir[REC_PATH_MAX];
	struct tm tm;
	time_t now;
	int err, i;

	if (!sessp || !rec || !prm || !prm->room_id || !prm->mix_tap)
		return EINVAL;
	s = mem_zalloc(sizeof(*s), session_destructor);
	mt = mem_zalloc(sizeof(*mt), NULL);
	c = new_cmd(CMD_START, s);
	if (!s || !mt || !c) {
		err = ENOMEM;
		goto fail;
	}
	s->rec = rec;
	s->jfd = -1;
	s->fmt = prm->format;
	s->bitrate = prm->bitrate_bps ? prm->bitrate_bps : 24000;
	s->start_unix_ms = rec_now_unix_ms();
	s->start_mono_ns = mono_ns();
	str_ncpy(s->room, prm->room_id, sizeof(s->room));
	str_ncpy(s->room_name, prm->room_name ? prm->room_name : "",
		 sizeof(s->room_name));
	now = (time_t)(s->start_unix_ms / 1000);
	gmtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y%m%d-%H%M%S", &tm);
	/* an id that no earlier session of the room has */
	for (i = 1; i < 100; i++) {
		if (i == 1)
			re_snprintf(s->id, sizeof(s->id), "%s-%s",
				    prm->room_id, day);
		else
			re_snprintf(s->id, sizeof(s->id), "%s-%s-%d",
				    prm->room_id, day, i);
		re_snprintf(dir, sizeof(dir), "%s/recordings/%s/%s",
			    rec->data_dir, prm->room_id, s->id);
		err = rec_mkdir_p(dir);
		if (err)
			goto fail;
		re_snprintf(s->dir, sizeof(s->dir), "%s/journal.jsonl", dir);
		if (access(s->dir, F_OK))
			break;
	}
	str_ncpy(s->dir, dir, sizeof(s->dir));
	mt->sess = s;
	mt->tap = prm->mix_tap;
	mt->is_mix = true;
	mt->seg = 1;
	mt->joined = true;
	str_ncpy(mt->sid, "mix", sizeof(mt->sid));
	s->mix = mt;
	STAT_SET(s->st.tracks, 1);
	*sessp = s;
	return push_cmd(rec, c);
 fail:
	mem_deref(c);
	mem_deref(mt);
	mem_deref(s);
	return err;
}

const char *rec_session_id(const struct rec_session *sess)
{
	return sess ? sess->id : "";
}

const char *rec_session_dir(const struct rec_session *sess)
{
	return sess ? sess->dir : "";
}

const struct rec_stats *rec_session_stats(const struct rec_session *sess)
{
	return sess ? &sess->st : NULL;
}

int rec_track_add(struct rec_session *sess, uint32_t key, const char *sid,
		  const char *name, const char *uri, const char *addr,
		  struct mix_tap *tap)
{
	struct cmd *c;

	if (!sess || !sid || !tap)
		return EINVAL;
	c = new_cmd(CMD_TRACK, sess);
	if (!c)
		return ENOMEM;
	c->tap = tap;
	c->key = key;
	str_ncpy(c->sid, sid, sizeof(c->sid));
	str_ncpy(c->name, name ? name : "", sizeof(c->name));
	str_ncpy(c->uri, uri ? uri : "", sizeof(c->uri));
	str_ncpy(c->addr, addr ? addr : "", sizeof(c->addr));
	return push_cmd(sess->rec, c);
}

int rec_tap_closed(struct rec_session *sess, struct mix_tap *tap)
{
	struct cmd *c;

	if (!sess || !tap)
		return EINVAL;
	c = new_cmd(CMD_TAP_CLOSED, sess);
	if (!c)
		return ENOMEM;
	c->tap = tap;
	return push_cmd(sess->rec, c);
}

int rec_event(struct rec_session *sess, const char *kind, const char *sid,
	      const char *text)
{
	struct cmd *c;

	if (!sess || !kind)
		return EINVAL;
	c = new_cmd(CMD_EVENT, sess);
	if (!c)
		return ENOMEM;
	str_ncpy(c->kind, kind, sizeof(c->kind));
	str_ncpy(c->sid, sid ? sid : "", sizeof(c->sid));
	str_ncpy(c->text, text ? text : "", sizeof(c->text));
	return push_cmd(sess->rec, c);
}

int rec_ready_save(struct rec *rec, struct rec_ready *rr)
{
	struct cmd *c;

	if (!rec || !rr)
		return EINVAL;
	c = new_cmd(CMD_READY, NULL);
	if (!c)
		return ENOMEM;
	c->rr = *rr;
	memset(rr, 0, sizeof(*rr));
	return push_cmd(rec, c);
}

int rec_prune(struct rec *rec, uint32_t days, uint32_t gb)
{
	struct cmd *c;

	if (!rec)
		return EINVAL;
	c = new_cmd(CMD_PRUNE, NULL);
	if (!c)
		return ENOMEM;
	c->key = days;
	c->mono_ns = gb;
	return push_cmd(rec, c);
}

int rec_session_stop(struct rec_session *sess)
{
	struct cmd *c;

	if (!sess)
		return EINVAL;
	c = new_cmd(CMD_STOP, sess);
	if (!c)
		return ENOMEM;
	return push_cmd(sess->rec, c);
}
