/**
 * @file readiness.c  Readiness reports kept: the files of a closed test
 * window (DATA/readiness/ROOM/WINDOW/report.{json,csv,html}) and its rows
 * in the catalogue, and `lowbridge report sites|windows`, which read the
 * catalogue to show which sites fail again and again: the evidence the
 * district office takes to the carrier and to maintenance.
 *
 * Threads: rec_ready_store() runs on the recorder thread (it owns the
 * catalogue connection and does the file I/O); the commands run in
 * their own process.
 */
#define _GNU_SOURCE 1        /* strptime, timegm */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <re.h>
#include "recint.h"

static void utc(char *buf, size_t sz, uint64_t ms)
{
	const time_t t = (time_t)(ms / 1000);
	struct tm tm;

	buf[0] = '\0';
	if (!ms)
		return;
	gmtime_r(&t, &tm);
	strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int store_rows(sqlite3 *db, const struct rec_ready *rr,
		      const char *dir)
{
	char start[32], end[32], conn[32];
	sqlite3_stmt *st = NULL;
	uint32_t i, nexp = 0, ncon = 0, npass = 0;
	int rc;

	utc(start, sizeof(start), rr->start_unix_ms);
	utc(end, sizeof(end), rr->end_unix_ms);
	for (i = 0; i < rr->rowc; i++) {
		nexp += rr->rowv[i].expected;
		ncon += rr->rowv[i].connected;
		npass += rr->rowv[i].pass;
	}
	rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO "
					"ready_windows VALUES(?,?,?,?,?,?,?,"
					"?,?)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, rr->window, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, rr->room, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, start, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, end, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 5, rr->completed);
	sqlite3_bind_int(st, 6, (int)nexp);
	sqlite3_bind_int(st, 7, (int)ncon);
	sqlite3_bind_int(st, 8, (int)npass);
	sqlite3_bind_text(st, 9, dir, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_DONE)
		goto out;
	rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO ready_sites "
				"VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
				"?,?,?,?,?)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	for (i = 0; i < rr->rowc; i++) {
		const struct rec_ready_row *w = &rr->rowv[i];

		utc(conn, sizeof(conn), w->connect_unix_ms);
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, rr->window, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, rr->room, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, start, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, w->site, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 5, w->expected);
		sqlite3_bind_text(st, 6, w->contact, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 7, w->phone, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 8, w->connected);
		sqlite3_bind_text(st, 9, conn, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 10, w->left_early);
		sqlite3_bind_text(st, 11, w->speaker, -1, SQLITE_TRANSIENT);
		sqlite3_bind_double(st, 12, w->delay_ms);
		sqlite3_bind_double(st, 13, w->erl_db);
		sqlite3_bind_text(st, 14, w->mic, -1, SQLITE_TRANSIENT);
		sqlite3_bind_double(st, 15, w->speech_dbfs);
		sqlite3_bind_double(st, 16, w->snr_db);
		sqlite3_bind_text(st, 17, w->link, -1, SQLITE_TRANSIENT);
		sqlite3_bind_double(st, 18, w->loss_pct);
		sqlite3_bind_double(st, 19, w->jitter_ms);
		sqlite3_bind_double(st, 20, w->rtt_ms);
		sqlite3_bind_double(st, 21, w->mos);
		sqlite3_bind_double(st, 22, w->kbps_in);
		sqlite3_bind_int(st, 23, w->pass);
		rc = sqlite3_step(st);
		if (rc != SQLITE_DONE)
			goto out;
	}
	rc = SQLITE_OK;
 out:
	sqlite3_finalize(st);
	if (rc == SQLITE_OK || rc == SQLITE_DONE) {
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			return 0;
	}
	(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return EIO;
}

int rec_ready_store(const char *data_dir, struct sqlite3 *db,
		    const struct rec_ready *rr, char *msg, size_t msgsz)
{
	char dir[REC_PATH_MAX];
	int err;

	re_snprintf(dir, sizeof(dir), "%s/readiness/%s/%s", data_dir,
		    rr->room, rr->window);
	err = rec_mkdir_p(dir);
	if (!err && rr->json)
		err = rec_write_atomic(dir, "report.json", rr->json->buf,
				       rr->json->end);
	if (!err && rr->csv)
		err = rec_write_atomic(dir, "report.csv", rr->csv->buf,
				       rr->csv->end);
	if (!err && rr->html)
		err = rec_write_atomic(dir, "report.html", rr->html->buf,
				       rr->html->end);
	if (!err && rr->html_vi)
		err = rec_write_atomic(dir, "report.vi.html",
				       rr->html_vi->buf, rr->html_vi->end);
	if (err) {
		re_snprintf(msg, msgsz, "readiness report %s not written to "
			    "%s: %m", rr->window, dir, err);
		return err;
	}
	if (db && store_rows(db, rr, dir)) {
		re_snprintf(msg, msgsz, "readiness report %s written to %s, "
			    "but not into the catalogue", rr->window, dir);
		return EIO;
	}
	re_snprintf(msg, msgsz, "readiness report %s kept in %s", rr->window,
		    dir);
	return 0;
}

/* ---- the catalogue rebuilt from the kept reports ------------------------ */

/* "2026-12-07T00:30:00Z" -> UNIX ms; 0 for anything else */
static uint64_t iso_ms(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
	return end && !*end ? (uint64_t)timegm(&tm) * 1000 : 0;
}

static double fig(const struct odict *o, const char *key)
{
	const double v = rec_onum(o, key);

	return v == -1 ? 0.0 : v;
}

static bool flag(const struct odict *o, const char *key)
{
	bool b = false;

	(void)odict_get_boolean(o, &b, key);
	return b;
}

static const struct odict *sub(const struct odict *o, const char *key)
{
	const struct odict_entry *e = odict_lookup(o, key);

	return e && (e->type == ODICT_OBJECT || e->type == ODICT_ARRAY) ?
		e->u.odict : NULL;
}

/* A whole file (at most 16 MB) into *mbp. */
static int read_all(const char *path, struct mbuf **mbp)
{
	struct mbuf *mb;
	struct stat st;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fstat(fd, &st) || st.st_size <= 0 || st.st_size > (16 << 20)) {
		close(fd);
		return EINVAL;
	}
	mb = mbuf_alloc((size_t)st.st_size);
	if (!mb) {
		close(fd);
		return ENOMEM;
	}
	n = read(fd, mb->buf, (size_t)st.st_size);
	if (n != (ssize_t)st.st_size)
		err = n < 0 ? errno : EIO;
	else
		mb->end = (size_t)n;
	close(fd);
	if (err)
		mem_deref(mb);
	else
		*mbp = mb;
	return err;
}

static void load_row(struct rec_ready_row *row, const struct odict *x)
{
	const struct odict *spk = sub(x, "speaker"), *mic = sub(x, "mic");
	const struct odict *lk = sub(x, "link");
	const double up = fig(lk, "loss_up_pct");
	const double down = fig(lk, "loss_down_pct");

	str_ncpy(row->site, rec_ostr(x, "name"), sizeof(row->site));
	str_ncpy(row->contact, rec_ostr(x, "contact"), sizeof(row->contact));
	str_ncpy(row->phone, rec_ostr(x, "phone"), sizeof(row->phone));
	row->expected = flag(x, "expected");
	row->connect_unix_ms = iso_ms(rec_ostr(x, "connected_at"));
	row->connected = row->connect_unix_ms != 0;
	row->left_early = flag(x, "left_early");
	row->pass = flag(x, "pass");
	str_ncpy(row->speaker, rec_ostr(spk, "result"), sizeof(row->speaker));
	str_ncpy(row->mic, rec_ostr(mic, "result"), sizeof(row->mic));
	str_ncpy(row->link, rec_ostr(lk, "result"), sizeof(row->link));
	row->delay_ms = fig(spk, "delay_ms");
	row->erl_db = fig(spk, "erl_db");
	row->speech_dbfs = fig(mic, "speech_dbfs");
	row->snr_db = fig(mic, "snr_db");
	row->loss_pct = up > down ? up : down;
	row->jitter_ms = fig(lk, "jitter_ms");
	row->rtt_ms = fig(lk, "rtt_ms");
	row->mos = fig(lk, "mos");
	row->kbps_in = fig(lk, "kbps_in");
}

/* One report.json back into rows (a report this bridge wrote). */
static int load_report(struct rec_ready *rr, const char *path)
{
	struct mbuf *mb = NULL;
	struct odict *o = NULL;
	const struct odict *w, *sites;
	struct le *le;
	uint32_t i = 0;
	int err;

	memset(rr, 0, sizeof(*rr));
	err = read_all(path, &mb);
	if (!err)
		err = json_decode_odict(&o, 32, (const char *)mb->buf,
					mb->end, 8);
	mem_deref(mb);
	if (err)
		return err;
	w = sub(o, "window");
	sites = sub(o, "sites");
	if (!w || !sites || !rec_ostr(w, "id")[0]) {
		err = EINVAL;
		goto out;
	}
	str_ncpy(rr->room, rec_ostr(w, "room"), sizeof(rr->room));
	str_ncpy(rr->window, rec_ostr(w, "id"), sizeof(rr->window));
	rr->start_unix_ms = iso_ms(rec_ostr(w, "start"));
	rr->end_unix_ms = iso_ms(rec_ostr(w, "closed"));
	rr->completed = rec_ostr(w, "complete")[0] != '\0';
	rr->rowc = (uint32_t)list_count(&sites->lst);
	rr->rowv = mem_zalloc((rr->rowc ? rr->rowc : 1) * sizeof(*rr->rowv),
			      NULL);
	if (!rr->rowv) {
		err = ENOMEM;
		goto out;
	}
	LIST_FOREACH(&sites->lst, le) {
		const struct odict_entry *e = le->data;

		if (e->type == ODICT_OBJECT && i < rr->rowc)
			load_row(&rr->rowv[i++], e->u.odict);
	}
	rr->rowc = i;
 out:
	mem_deref(o);
	return err;
}

int rec_ready_rebuild(struct sqlite3 *db, const char *data_dir,
		      uint32_t *np)
{
	char top[REC_PATH_MAX], room[REC_PATH_MAX], dir[REC_PATH_MAX];
	char path[REC_PATH_MAX + 16];
	struct dirent *re, *we;
	DIR *rd, *wd;
	uint32_t n = 0;
	int err = 0;

	re_snprintf(top, sizeof(top), "%s/readiness", data_dir);
	rd = opendir(top);
	if (np)
		*np = 0;
	if (!rd)
		return errno == ENOENT ? 0 : errno;
	while (!err && (re = readdir(rd))) {
		if (re->d_name[0] == '.')
			continue;
		re_snprintf(room, sizeof(room), "%s/%s", top, re->d_name);
		wd = opendir(room);
		if (!wd)
			continue;
		while (!err && (we = readdir(wd))) {
			struct rec_ready rr;

			if (we->d_name[0] == '.')
				continue;
			re_snprintf(dir, sizeof(dir), "%s/%s", room,
				    we->d_name);
			re_snprintf(path, sizeof(path), "%s/report.json", dir);
			if (load_report(&rr, path))
				continue;   /* not a report of ours: skip */
			err = store_rows(db, &rr, dir);
			mem_deref(rr.rowv);
			n += !err;
		}
		closedir(wd);
	}
	closedir(rd);
	if (np)
		*np = n;
	return err;
}

/* ---- lowbridge report --------------------------------------------------- */

/* The catalogue (made from the folders if missing), opened for writing
 * so that one made before readiness reports existed gets their tables. */
static int open_rw(sqlite3 **dbp, const char *data_dir)
{
	int err = cat_ready(dbp, data_dir);

	if (err)
		return err;
	cat_close(*dbp);
	return cat_open(dbp, data_dir, false);
}

/* The catalogue and one query over it, filtered by ?1 room and ?2 the
 * earliest start (a UTC date or time as the user gave it; "" for all). */
static int query(sqlite3 **dbp, sqlite3_stmt **stp, const char *data_dir,
		 const char *sql, const char *room, const char *since)
{
	int err = open_rw(dbp, data_dir);

	if (err)
		return err;
	if (sqlite3_prepare_v2(*dbp, sql, -1, stp, NULL) != SQLITE_OK) {
		cat_close(*dbp);
		return EIO;
	}
	sqlite3_bind_text(*stp, 1, room ? room : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(*stp, 2, since ? since : "", -1, SQLITE_TRANSIENT);
	return 0;
}

/* A name in 24 columns of a terminal: padded by characters, not bytes
 * (commune names are Vietnamese, several bytes a letter in UTF-8). */
static int pad24(struct re_printf *pf, void *arg)
{
	const char *s = arg;
	size_t cols = 0;
	int err = re_hprintf(pf, "%s", s);

	for (; *s; s++)
		cols += ((unsigned char)*s & 0xc0) != 0x80;
	while (!err && cols++ < 24)
		err = re_hprintf(pf, " ");
	return err;
}

int rec_cmd_report_sites(struct re_printf *pf, const char *data_dir,
			 const char *room, const char *since, bool json)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	bool first = true;
	int err;

	/* failures first: the sites to chase */
	err = query(&db, &st, data_dir, "SELECT room, site, max(contact),"
		    " max(phone), count(*), sum(connected), sum(pass),"
		    " sum(1 - connected), sum(left_early),"
		    " sum(connected AND speaker <> 'ok'),"
		    " sum(connected AND mic <> 'good'),"
		    " sum(connected AND link = 'fail'),"
		    " max(CASE WHEN connected THEN loss_pct END),"
		    " min(CASE WHEN connected AND link <> 'pending'"
		    " THEN mos END), max(start_utc) FROM ready_sites"
		    " WHERE (?1 = '' OR room = ?1) AND"
		    " (?2 = '' OR start_utc >= ?2)"
		    " GROUP BY room, site"
		    " ORDER BY count(*) - sum(pass) DESC, site", room, since);
	if (err)
		return err;
	if (json)
		err = re_hprintf(pf, "{\"sites\":[");
	else
		err = re_hprintf(pf, "%-8s %-24s %4s %4s %5s %5s %4s %4s %4s "
				 "%4s %6s %5s  %s\n", "ROOM", "SITE", "RUNS",
				 "PASS", "NEVER", "LEFT", "SPK", "MIC", "LINE",
				 "FAIL", "LOSS%", "MOS", "CONTACT");
	while (!err && sqlite3_step(st) == SQLITE_ROW) {
		const int runs = sqlite3_column_int(st, 4);
		const int pass = sqlite3_column_int(st, 6);
		const double loss = sqlite3_column_double(st, 12);
		const double mos = sqlite3_column_double(st, 13);

		if (json) {
			err = re_hprintf(pf, "%s{\"room\":%H,\"site\":%H,"
					 "\"contact\":%H,\"phone\":%H,"
					 "\"windows\":%d,\"connected\":%d,"
					 "\"passed\":%d,\"failed\":%d,"
					 "\"never_connected\":%d,"
					 "\"left_early\":%d,"
					 "\"speaker_failed\":%d,"
					 "\"mic_failed\":%d,"
					 "\"link_failed\":%d,"
					 "\"worst_loss_pct\":%.1f,"
					 "\"worst_mos\":%.2f,\"last\":%H}",
					 first ? "" : ",", rec_jstr,
					 cat_col(st, 0), rec_jstr,
					 cat_col(st, 1), rec_jstr,
					 cat_col(st, 2), rec_jstr,
					 cat_col(st, 3), runs,
					 sqlite3_column_int(st, 5), pass,
					 runs - pass,
					 sqlite3_column_int(st, 7),
					 sqlite3_column_int(st, 8),
					 sqlite3_column_int(st, 9),
					 sqlite3_column_int(st, 10),
					 sqlite3_column_int(st, 11), loss,
					 mos, rec_jstr, cat_col(st, 14));
		}
		else {
			err = re_hprintf(pf, "%-8s %H %4d %4d %5d %5d %4d "
					 "%4d %4d %4d %6.1f %5.2f  %s %s\n",
					 cat_col(st, 0), pad24, cat_col(st, 1),
					 runs,
					 pass, sqlite3_column_int(st, 7),
					 sqlite3_column_int(st, 8),
					 sqlite3_column_int(st, 9),
					 sqlite3_column_int(st, 10),
					 sqlite3_column_int(st, 11),
					 runs - pass, loss, mos,
					 cat_col(st, 2), cat_col(st, 3));
		}
		first = false;
	}
	if (json && !err)
		err = re_hprintf(pf, "]}\n");
	sqlite3_finalize(st);
	cat_close(db);
	return err;
}

int rec_cmd_report_windows(struct re_printf *pf, const char *data_dir,
			   const char *room, const char *since, bool json)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	bool first = true;
	int err;

	err = query(&db, &st, data_dir, "SELECT id, room, start_utc,"
		    " end_utc, completed, expected, connected, passed, dir"
		    " FROM ready_windows WHERE (?1 = '' OR room = ?1) AND"
		    " (?2 = '' OR start_utc >= ?2) ORDER BY start_utc DESC",
		    room, since);
	if (err)
		return err;
	if (json)
		err = re_hprintf(pf, "{\"windows\":[");
	else
		err = re_hprintf(pf, "%-28s %-8s %-20s %-9s %8s %9s %6s\n",
				 "WINDOW", "ROOM", "START (UTC)", "COMPLETE",
				 "EXPECTED", "CONNECTED", "PASSED");
	while (!err && sqlite3_step(st) == SQLITE_ROW) {
		if (json)
			err = re_hprintf(pf, "%s{\"window\":%H,\"room\":%H,"
					 "\"start_utc\":%H,\"end_utc\":%H,"
					 "\"completed\":%s,\"expected\":%d,"
					 "\"connected\":%d,\"passed\":%d,"
					 "\"dir\":%H}", first ? "" : ",",
					 rec_jstr, cat_col(st, 0), rec_jstr,
					 cat_col(st, 1), rec_jstr,
					 cat_col(st, 2), rec_jstr,
					 cat_col(st, 3),
					 sqlite3_column_int(st, 4) ?
					 "true" : "false",
					 sqlite3_column_int(st, 5),
					 sqlite3_column_int(st, 6),
					 sqlite3_column_int(st, 7), rec_jstr,
					 cat_col(st, 8));
		else
			err = re_hprintf(pf, "%-28s %-8s %-20.19s %-9s %8d "
					 "%9d %6d\n", cat_col(st, 0),
					 cat_col(st, 1), cat_col(st, 2),
					 sqlite3_column_int(st, 4) ? "yes"
								   : "no",
					 sqlite3_column_int(st, 5),
					 sqlite3_column_int(st, 6),
					 sqlite3_column_int(st, 7));
		first = false;
	}
	if (json && !err)
		err = re_hprintf(pf, "]}\n");
	sqlite3_finalize(st);
	cat_close(db);
	return err;
}
