/**
 * @file recint.h  Internals of recordings/: track files, the journal
 * and the session model rebuilt from it, the catalogue. Private to the
 * folder; bridge/ uses rec.h.
 */
#ifndef LB_RECINT_H
#define LB_RECINT_H

#include <re.h>
#include <stdbool.h>
#include <stdint.h>
#include "rec.h"

#define REC_SRATE 16000
#define REC_FRAME 320                /* 20 ms */
#define REC_PATH_MAX 512

/* ---- oggopus.c: Ogg Opus with free silence ----------------------------- */

struct oggopus;

int  oggopus_open(struct oggopus **opp, int fd, uint32_t bitrate_bps);
/** One 20 ms frame; audio false (or pcm NULL): silence. */
int  oggopus_frame(struct oggopus *op, const int16_t *pcm, bool audio);
/** Pages out now (crash safety). */
int  oggopus_sync(struct oggopus *op);
/** End of stream, and free. The fd stays open. */
int  oggopus_close(struct oggopus *op);
uint64_t oggopus_bytes(const struct oggopus *op);

/* ---- tfile.c: one file of a track, in any format ----------------------- */

struct tfile;

/** Create path (O_EXCL: never overwrite a recording). */
int  tfile_open(struct tfile **tfp, const char *path, enum rec_format fmt,
		uint32_t bitrate_bps);
int  tfile_frame(struct tfile *tf, const int16_t *pcm, bool audio);
int  tfile_sync(struct tfile *tf);
int  tfile_close(struct tfile *tf);
uint64_t tfile_bytes(const struct tfile *tf);

/* ---- session.c: the journal and the session model --------------------- */

#define REC_ID_MAX 64
#define REC_NAME_MAX 128

struct rseg {
	struct le le;
	char file[REC_NAME_MAX];     /* relative to the session folder */
	double start_s;
};

struct rsite {
	struct le le;
	char id[REC_ID_MAX];         /* s3, or "mix" */
	char name[REC_NAME_MAX];
	char uri[REC_NAME_MAX];
	char addr[REC_ID_MAX];
	double join_s, leave_s;      /* leave_s < 0: still there */
	struct list segl;            /* struct rseg: its files */
};

struct rturn {
	struct le le;
	char site[REC_ID_MAX];
	double start_s, end_s;
};

struct revent {
	struct le le;
	double t;
	char utc[32];
	char kind[24];
	char site[REC_ID_MAX];
	char text[REC_NAME_MAX];
};

/** A session as its journal tells it. */
struct rmodel {
	char id[REC_ID_MAX];
	char room[REC_ID_MAX];
	char room_name[REC_NAME_MAX];
	char format[8];
	char start_utc[32];
	char start_local[40];
	char end_utc[32];
	char end_local[40];
	int64_t start_unix_ms;
	double duration_s;
	bool closed;                 /* a session_end event */
	bool repaired;
	struct rsite mix;
	struct list sitel;           /* struct rsite */
	struct list turnl;           /* struct rturn */
	struct list eventl;          /* struct revent */
};

void rmodel_init(struct rmodel *m);
void rmodel_reset(struct rmodel *m);
struct rsite *rmodel_site(struct rmodel *m, const char *id, bool create);
/** Apply one journal event (a JSON object) to the model. */
int  rmodel_apply(struct rmodel *m, const struct odict *ev);
/** Read DIR/journal.jsonl into m (a cut last line is ignored). */
int  rmodel_load(struct rmodel *m, const char *dir);
/** Write DIR/session.json from m (temp file, fsync, rename). */
int  rmodel_write_manifest(const struct rmodel *m, const char *dir);
/** The path of site id's file (or its first segment), "" if none. */
const char *rmodel_file(const struct rmodel *m, const char *id);

/** UTC and local ISO 8601 of a Unix time in ms. */
void rec_time_iso(int64_t unix_ms, char *utc, size_t usz, char *local,
		  size_t lsz);
int64_t rec_now_unix_ms(void);
/** mkdir -p */
int  rec_mkdir_p(const char *path);
struct odict;
/** A string member of a JSON object, "" when missing. */
const char *rec_ostr(const struct odict *o, const char *key);
/** A number member, -1 when missing or not a number. */
double rec_onum(const struct odict *o, const char *key);
/** Write DIR/NAME whole through a temporary file, fsync and rename. */
int  rec_write_atomic(const char *dir, const char *name, const uint8_t *buf,
		      size_t len);

/* ---- cmd.c: sessions for commands ------------------------------------ */

/** The folder of a session from the catalogue. */
int  rec_find(const char *data_dir, const char *session, char *dir,
	      size_t dirsz);
/** A session's model from its journal (rmodel_reset it after). */
int  rec_load(struct rmodel *m, const char *data_dir, const char *session,
	      char *dir, size_t dirsz);
/** [from, to) s of a track into out (n samples, 16 kHz), silence where
 *  no segment holds audio. */
int  rec_read_span(const struct rsite *s, const char *dir, double from,
		   double to, int16_t *out, size_t n);

/** Sequential reading of a track for a player: the open file is kept
 *  while reads follow each other. */
struct rreader {
	struct sf_private_tag *sf;
	const struct rseg *seg;
	double at_s;
};

int  rreader_read(struct rreader *r, const struct rsite *s, const char *dir,
		  double from, int16_t *out, size_t n);
void rreader_close(struct rreader *r);

/* ---- readiness.c -------------------------------------------------------- */

struct sqlite3;
/** Put every kept readiness report (DATA/readiness/ROOM/WINDOW/
 *  report.json) into a catalogue being rebuilt. */
int  rec_ready_rebuild(struct sqlite3 *db, const char *data_dir,
		       uint32_t *np);
/** Write a readiness report's files and catalogue rows (db may be
 *  NULL); msg gets a line for the log either way. Recorder thread. */
int  rec_ready_store(const char *data_dir, struct sqlite3 *db,
		     const struct rec_ready *rr, char *msg, size_t msgsz);

/* ---- catalog.c: SQLite ------------------------------------------------- */

struct sqlite3;

int  cat_open(struct sqlite3 **dbp, const char *data_dir, bool readonly);
void cat_close(struct sqlite3 *db);
/** Store (replace) everything about one session from its model. */
int  cat_put_session(struct sqlite3 *db, const struct rmodel *m,
		     const char *dir, const char *state);
/** Scan DATA/recordings/ and put every session in (after a delete, or
 *  to pick up repaired ones). */
int  cat_rebuild(struct sqlite3 *db, const char *data_dir, uint32_t *np);
int  cat_begin(struct sqlite3 *db);
int  cat_commit(struct sqlite3 *db);
/** The catalogue for reading, made from the folders if missing. */
int  cat_ready(struct sqlite3 **dbp, const char *data_dir);
struct sqlite3_stmt;
/** Column i as text, "" for NULL. */
const char *cat_col(struct sqlite3_stmt *st, int i);
/** A JSON string. */
int  rec_jstr(struct re_printf *pf, const char *s);

#endif
