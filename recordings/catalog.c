/**
 * @file catalog.c  The catalogue: DATA/catalogue.sqlite indexes every
 * session, its sites, files, events and talk turns.
 *
 * It is a view of the session folders (their journals), so it can always
 * be rebuilt from them: when the file is missing, on start, and for a
 * session repaired after a crash. SQLite in WAL mode, so the commands
 * (list, show, minutes) read while the recorder writes.
 *
 * Threads: the recorder's (writer) and the commands' (readers, other
 * processes).
 */
#include <re.h>
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sqlite3.h>
#include "recint.h"

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE IF NOT EXISTS sessions(id TEXT PRIMARY KEY,"
	" room TEXT, room_name TEXT, dir TEXT, format TEXT,"
	" start_utc TEXT, start_local TEXT, end_utc TEXT, end_local TEXT,"
	" start_unix_ms INTEGER, duration_s REAL, state TEXT);"
	"CREATE TABLE IF NOT EXISTS sites(session TEXT, site TEXT,"
	" name TEXT, uri TEXT, addr TEXT, join_s REAL, leave_s REAL,"
	" file TEXT, PRIMARY KEY(session, site));"
	"CREATE TABLE IF NOT EXISTS files(session TEXT, site TEXT,"
	" path TEXT, start_s REAL);"
	"CREATE TABLE IF NOT EXISTS events(session TEXT, t REAL, utc TEXT,"
	" kind TEXT, site TEXT, text TEXT);"
	"CREATE TABLE IF NOT EXISTS turns(session TEXT, site TEXT,"
	" start_s REAL, end_s REAL);"
	"CREATE INDEX IF NOT EXISTS turns_s ON turns(session, start_s);"
	"CREATE INDEX IF NOT EXISTS events_s ON events(session, t);"
	"CREATE TABLE IF NOT EXISTS ready_windows(id TEXT PRIMARY KEY,"
	" room TEXT, start_utc TEXT, end_utc TEXT, completed INTEGER,"
	" expected INTEGER, connected INTEGER, passed INTEGER, dir TEXT);"
	"CREATE TABLE IF NOT EXISTS ready_sites(window TEXT, room TEXT,"
	" start_utc TEXT, site TEXT, expected INTEGER, contact TEXT,"
	" phone TEXT, connected INTEGER, connect_utc TEXT,"
	" left_early INTEGER, speaker TEXT, delay_ms REAL, erl_db REAL,"
	" mic TEXT, speech_dbfs REAL, snr_db REAL, link TEXT,"
	" loss_pct REAL, jitter_ms REAL, rtt_ms REAL, mos REAL,"
	" kbps_in REAL, pass INTEGER, PRIMARY KEY(window, site));"
	"CREATE INDEX IF NOT EXISTS ready_sites_t ON"
	" ready_sites(start_utc);";

static int db_err(int rc)
{
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_NOMEM:
		return ENOMEM;
	case SQLITE_FULL:
		return ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return EBUSY;
	case SQLITE_CANTOPEN:
		return ENOENT;
	case SQLITE_READONLY:
		return EROFS;
	default:
		return EIO;
	}
}

int cat_open(struct sqlite3 **dbp, const char *data_dir, bool readonly)
{
	char path[REC_PATH_MAX];
	sqlite3 *db = NULL;
	int rc;

	re_snprintf(path, sizeof(path), "%s/catalogue.sqlite", data_dir);
	rc = sqlite3_open_v2(path, &db, readonly ? SQLITE_OPEN_READONLY :
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			     NULL);
	if (rc != SQLITE_OK) {
		sqlite3_close(db);
		return db_err(rc);
	}
	sqlite3_busy_timeout(db, 2000);
	if (!readonly) {
		rc = sqlite3_exec(db, schema, NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			sqlite3_close(db);
			return db_err(rc);
		}
	}
	*dbp = db;
	return 0;
}

void cat_close(struct sqlite3 *db)
{
	sqlite3_close(db);
}

int cat_begin(struct sqlite3 *db)
{
	return db_err(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL));
}

int cat_commit(struct sqlite3 *db)
{
	return db_err(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL));
}

/* Run one statement with text/double arguments by a tiny format:
 * 's' text, 'd' double, 'i' int64. */
static int run(sqlite3 *db, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int rc, i;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_err(rc);
	va_start(ap, fmt);
	for (i = 0; fmt[i]; i++) {
		switch (fmt[i]) {
		case 's':
			sqlite3_bind_text(st, i + 1, va_arg(ap, const char *),
					  -1, SQLITE_TRANSIENT);
			break;
		case 'd':
			sqlite3_bind_double(st, i + 1, va_arg(ap, double));
			break;
		case 'i':
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
			break;
		}
	}
	va_end(ap);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return db_err(rc);
}

static int put_files(sqlite3 *db, const char *id, const struct rsite *s)
{
	const struct le *le;
	int err = 0;

	LIST_FOREACH(&s->segl, le) {
		const struct rseg *g = le->data;

		err |= run(db, "INSERT INTO files VALUES(?,?,?,?)", "sssd",
			   id, s->id, g->file, g->start_s);
	}
	return err;
}

int cat_put_session(struct sqlite3 *db, const struct rmodel *m,
		    const char *dir, const char *state)
{
	const struct le *le;
	int err;

	err = cat_begin(db);
	if (err)
		return err;
	err |= run(db, "DELETE FROM sessions WHERE id=?", "s", m->id);
	err |= run(db, "DELETE FROM sites WHERE session=?", "s", m->id);
	err |= run(db, "DELETE FROM files WHERE session=?", "s", m->id);
	err |= run(db, "DELETE FROM events WHERE session=?", "s", m->id);
	err |= run(db, "DELETE FROM turns WHERE session=?", "s", m->id);
	err |= run(db, "INSERT INTO sessions VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
		   "sssssssssids", m->id, m->room, m->room_name, dir,
		   m->format, m->start_utc, m->start_local, m->end_utc,
		   m->end_local, m->start_unix_ms, m->duration_s, state);
	err |= put_files(db, m->id, &m->mix);
	LIST_FOREACH(&m->sitel, le) {
		const struct rsite *s = le->data;

		err |= run(db, "INSERT INTO sites VALUES(?,?,?,?,?,?,?,?)",
			   "sssssdds", m->id, s->id, s->name, s->uri,
			   s->addr, s->join_s, s->leave_s < 0 ?
			   m->duration_s : s->leave_s,
			   rmodel_file(m, s->id));
		err |= put_files(db, m->id, s);
	}
	LIST_FOREACH(&m->turnl, le) {
		const struct rturn *t = le->data;

		err |= run(db, "INSERT INTO turns VALUES(?,?,?,?)", "ssdd",
			   m->id, t->site, t->start_s, t->end_s);
	}
	LIST_FOREACH(&m->eventl, le) {
		const struct revent *e = le->data;

		err |= run(db, "INSERT INTO events VALUES(?,?,?,?,?,?)",
			   "sdssss", m->id, e->t, e->utc, e->kind, e->site,
			   e->text);
	}
	if (err) {
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return EIO;
	}
	return cat_commit(db);
}

int cat_rebuild(struct sqlite3 *db, const char *data_dir, uint32_t *np)
{
	char rooms[REC_PATH_MAX], dir[REC_PATH_MAX];
	struct dirent *re, *se;
	struct rmodel m;
	DIR *rd, *sd;
	uint32_t n = 0;
	int err = 0;

	re_snprintf(rooms, sizeof(rooms), "%s/recordings", data_dir);
	rd = opendir(rooms);
	if (!rd) {
		const int e = errno;

		if (np)
			*np = 0;
		return e == ENOENT ? rec_ready_rebuild(db, data_dir, NULL) : e;
	}
	rmodel_init(&m);
	while ((re = readdir(rd))) {
		char room[REC_PATH_MAX];

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
			if (rmodel_load(&m, dir) || !m.id[0])
				continue;
			err = cat_put_session(db, &m, dir, !m.closed ?
					      "open" : m.repaired ?
					      "repaired" : "closed");
			if (err)
				break;
			++n;
		}
		closedir(sd);
		if (err)
			break;
	}
	closedir(rd);
	rmodel_reset(&m);
	if (np)
		*np = n;
	/* the readiness reports kept beside the recordings */
	return err ? err : rec_ready_rebuild(db, data_dir, NULL);
}
