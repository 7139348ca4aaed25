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
#include <errno.h>
#include <string.h>
#include <time.h>
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
			err = re_hprintf(pf, "%-8s %-24s %4d %4d %5d %5d %4d "
					 "%4d %4d %4d %6.1f %5.2f  %s %s\n",
					 cat_col(st, 0), cat_col(st, 1), runs,
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
