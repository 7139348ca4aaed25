/**
 * @file rec.h  Session recordings for the minutes: one folder per room
 * meeting with the mix and one track per site on one timeline, an
 * append-only journal, a manifest, and an SQLite catalogue; plus what
 * clerks use to find, replay, export and draft from them.
 *
 * Layout: DATA/recordings/ROOM/SESSION/ holds mix.EXT, site-SID.EXT per
 * site (site-SID.N.EXT for the segments written after a disk-full
 * pause), journal.jsonl (one JSON event a line, appended as it happens)
 * and session.json (the manifest, rewritten whole by rename). Every
 * file starts at the session's start: second t of each is the same
 * moment; a site that joins late has silence before, one that leaves
 * ends there. DATA/catalogue.sqlite indexes every session.
 *
 * Threads: the recorder (struct rec) has a thread of its own that drains
 * the mixer's taps (bridge/tap.h) and owns every file; the control side
 * (network thread) talks to it with rec_* calls, which only queue
 * commands, and hears from it through the event handler, called on the
 * network thread (libre mqueue). The mixer never waits for it: if it
 * falls behind, the taps drop records and the recorder writes silence
 * in their place (counted, logged, shown).
 */
#ifndef LB_REC_H
#define LB_REC_H

#include <re.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct mix_tap;

enum rec_format {
	REC_OPUS = 0,            /* Ogg Opus (RFC 7845), the default */
	REC_FLAC,
	REC_WAV,
};

const char *rec_format_name(enum rec_format f);
/** File extension without the dot: opus, flac, wav. */
const char *rec_format_ext(enum rec_format f);
int rec_format_parse(enum rec_format *f, const char *name);

struct rec;
struct rec_session;

enum rec_ev_type {
	REC_EV_TAP_DONE = 1,     /* ptr: the recorder is done with this tap
				    (detached before): free it */
	REC_EV_SESSION_DONE,     /* ptr: struct rec_session, closed: free */
	REC_EV_ALARM,            /* text: disk full or write error (a = 1
				    raised, 0 cleared) */
	REC_EV_LOG,              /* text: something the recorder did */
};

struct rec_ev {
	enum rec_ev_type type;
	void *ptr;
	int a;
	char text[200];
};

typedef void (rec_ev_h)(const struct rec_ev *ev, void *arg);

/** Counters of one session, published by the recorder thread. */
struct rec_stats {
	_Atomic uint64_t bytes;              /* written, all files */
	_Atomic uint64_t frames;             /* 20 ms frames written */
	_Atomic uint64_t lost_frames;        /* filled with silence because
						the taps dropped them */
	_Atomic uint64_t skipped_frames;     /* not written: disk full or
						write error */
	_Atomic uint32_t tracks;             /* open */
	_Atomic bool alarm;                  /* writing is paused */
	_Atomic double seconds;              /* recorded so far */
};

/**
 * Start the recorder thread. Catalogue DATA/catalogue.sqlite (created,
 * or rebuilt from the session folders when missing); sessions a crash
 * left open are closed and repaired (manifest rebuilt from the journal),
 * and what was repaired is logged through evh. Control side.
 */
int  rec_alloc(struct rec **recp, const char *data_dir, rec_ev_h *evh,
	       void *arg);

struct rec_session_prm {
	const char *room_id;
	const char *room_name;
	enum rec_format format;
	uint32_t bitrate_bps;        /* Opus tracks */
	struct mix_tap *mix_tap;     /* MIX_TAP_MIX, attached already */
};

/** A new session: folder, journal, manifest, catalogue row; the mix is
 *  written from the tap's first frame on. */
int  rec_session_start(struct rec_session **sessp, struct rec *rec,
		       const struct rec_session_prm *prm);
const char *rec_session_id(const struct rec_session *sess);
const char *rec_session_dir(const struct rec_session *sess);
const struct rec_stats *rec_session_stats(const struct rec_session *sess);

/** A site's track from tap (MIX_TAP_MEMBER, attached already). */
int  rec_track_add(struct rec_session *sess, uint32_t key, const char *sid,
		   const char *name, const char *uri, const char *addr,
		   struct mix_tap *tap);
/** The tap will produce no more (detached and confirmed by the mixer):
 *  the recorder drains it, closes the track, and hands the tap back
 *  (REC_EV_TAP_DONE). For the mix tap too. */
int  rec_tap_closed(struct rec_session *sess, struct mix_tap *tap);
/** A journal event (join, leave, mute, bookmark, ...), stamped now. */
int  rec_event(struct rec_session *sess, const char *kind, const char *sid,
	       const char *text);
/** End the session once its taps are closed (REC_EV_SESSION_DONE). */
int  rec_session_stop(struct rec_session *sess);
/** Apply the retention policy on the recorder thread (rec_cmd_prune;
 *  what it removed is logged). */
int  rec_prune(struct rec *rec, uint32_t days, uint32_t gb);

/* ---- readiness reports (bridge/ready.c) -------------------------------- */

/** One site's row of a readiness report, for the catalogue. */
struct rec_ready_row {
	char site[64], contact[64], phone[32];
	bool expected, connected, left_early, pass;
	char speaker[16];            /* ok, strong_echo, no_return, pending */
	char mic[16];                /* good, silent, quiet, loud, noisy, .. */
	char link[16];               /* ok, fail, pending */
	double delay_ms, erl_db, speech_dbfs, snr_db;
	double loss_pct, jitter_ms, rtt_ms, mos, kbps_in;
	uint64_t connect_unix_ms;    /* 0: never */
};

/** A closed test window's report. */
struct rec_ready {
	char room[64], window[64];
	uint64_t start_unix_ms, end_unix_ms;
	bool completed;              /* declared complete by the operator */
	struct mbuf *json, *csv, *html, *html_vi;
	struct rec_ready_row *rowv;  /* mem_alloc'd */
	uint32_t rowc;
};

/**
 * Keep a report: the recorder thread writes DATA/readiness/ROOM/WINDOW/
 * report.{json,csv,html} and its rows into the catalogue. Takes the
 * buffers (also on failure). Control side.
 */
int  rec_ready_save(struct rec *rec, struct rec_ready *rr);

/** Which sites fail their readiness checks, since (UTC date, "" for
 *  all), in room ("" for all): a table or JSON, worst first. */
int  rec_cmd_report_sites(struct re_printf *pf, const char *data_dir,
			  const char *room, const char *since, bool json);
/** The test windows kept, newest first. */
int  rec_cmd_report_windows(struct re_printf *pf, const char *data_dir,
			    const char *room, const char *since, bool json);

/* ---- the catalogue and the session folders, for commands and the API - */

/** s with <, >, & and " escaped for HTML (minutes, readiness
 *  reports). */
int  rec_html_esc(struct re_printf *pf, const char *s);

/** Print the sessions as JSON or a table: room and since (UTC date or
 *  time, "" for all) filter. */
int  rec_cmd_list(struct re_printf *pf, const char *data_dir,
		  const char *room, const char *since, bool json);
int  rec_cmd_show(struct re_printf *pf, const char *data_dir,
		  const char *session, bool json);
/** The folder of a session (from the catalogue): 0 or ENOENT. */
int  rec_find_session(const char *data_dir, const char *session, char *dir,
		      size_t dirsz);
/** Write [from, to) s (to < 0: the end) of site who (its id or name, or
 *  "mix"/NULL) of a session to out, format by extension (.wav, .flac,
 *  .ogg/.opus). msg gets a line for the user either way. */
int  rec_cmd_export(const char *data_dir, const char *session,
		    const char *who, double from, double to, const char *out,
		    char *msg, size_t msgsz);
/** The minutes draft of a session to out (.md or .html). */
int  rec_cmd_minutes(const char *data_dir, const char *session,
		     const char *out, char *msg, size_t msgsz);
/** Remove closed sessions older than older_days (0: no age limit), then
 *  the oldest until all fit in max_gb (0: no size limit). dry: only say
 *  what would go. Never a session being recorded. */
int  rec_cmd_prune(struct re_printf *pf, const char *data_dir,
		   double older_days, double max_gb, bool dry);

struct rec_replay_prm {
	const char *data_dir;
	const char *session;
	const char *to_file;         /* play into this WAV, not a device */
	double speed;                /* 0.5..2, pitch kept */
	double start_s;
	double until_s;              /* stop there (0: the end, then wait) */
	const char *solo;            /* site id/name, or NULL: the mix */
	int in_fd, out_fd;           /* keys in, screen out (a tty) */
};

/** The clerk's player (replay.c): keys, seek, turns, solo, speed. */
int  rec_replay(const struct rec_replay_prm *prm);

#endif
