/**
 * @file cmd.c  What clerks run on recordings: list, show, export,
 * minutes, prune (and the catalogue reads behind them).
 *
 * Sessions are found in the catalogue (rebuilt from the folders when it
 * is missing); a session's details come from its journal, the source of
 * truth, so a command never shows what the files do not hold.
 *
 * Threads: a command's process, one thread.
 */
#include <re.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sndfile.h>
#include <sqlite3.h>
#include "recint.h"

#define TURN_MERGE_S 1.5         /* a site's turns closer than this are
				    one in the minutes */

/* The catalogue, made from the folders if it is not there. */
int cat_ready(sqlite3 **dbp, const char *data_dir)
{
	char path[REC_PATH_MAX];
	struct stat st;
	uint32_t n;
	int err;

	re_snprintf(path, sizeof(path), "%s/catalogue.sqlite", data_dir);
	if (!stat(path, &st))
		return cat_open(dbp, data_dir, true);
	err = rec_mkdir_p(data_dir);
	if (!err)
		err = cat_open(dbp, data_dir, false);
	if (!err)
		err = cat_rebuild(*dbp, data_dir, &n);
	return err;
}

int rec_jstr(struct re_printf *pf, const char *s)
{
	int err = re_hprintf(pf, "\"");

	for (; s && *s && !err; s++) {
		const unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			err = re_hprintf(pf, "\\%c", c);
		else if (c < 0x20)
			err = re_hprintf(pf, "\\u%04x", c);
		else
			err = pf->vph(s, 1, pf->arg);
	}
	return err | re_hprintf(pf, "\"");
}

const char *cat_col(struct sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	return s ? s : "";
}

/* ---- list --------------------------------------------------------------- */

int rec_cmd_list(struct re_printf *pf, const char *data_dir,
		 const char *room, const char *since, bool json)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	bool first = true;
	int err, rc;

	err = cat_ready(&db, data_dir);
	if (err)
		return err;
	rc = sqlite3_prepare_v2(db, "SELECT id, room, room_name, start_utc,"
				" start_local, duration_s, state, dir,"
				" (SELECT count(*) FROM sites s WHERE"
				"  s.session = sessions.id) FROM sessions"
				" WHERE (?1 = '' OR room = ?1) AND"
				" (?2 = '' OR start_utc >= ?2)"
				" ORDER BY start_unix_ms", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		err = EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, room ? room : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, since ? since : "", -1, SQLITE_TRANSIENT);
	if (json)
		err = re_hprintf(pf, "{\"sessions\":[");
	else
		err = re_hprintf(pf, "%-28s %-8s %-20s %9s %5s %-9s\n",
				 "SESSION", "ROOM", "START (local)",
				 "DURATION", "SITES", "STATE");
	while (!err && sqlite3_step(st) == SQLITE_ROW) {
		const double d = sqlite3_column_double(st, 5);

		if (json) {
			err = re_hprintf(pf, "%s{\"session\":%H,\"room\":%H,"
					 "\"room_name\":%H,\"start_utc\":%H,"
					 "\"start_local\":%H,"
					 "\"duration_s\":%.2f,\"state\":%H,"
					 "\"dir\":%H,\"sites\":%d}",
					 first ? "" : ",", rec_jstr,
					 cat_col(st, 0), rec_jstr,
					 cat_col(st, 1), rec_jstr,
					 cat_col(st, 2), rec_jstr,
					 cat_col(st, 3), rec_jstr,
					 cat_col(st, 4), d, rec_jstr,
					 cat_col(st, 6), rec_jstr,
					 cat_col(st, 7),
					 sqlite3_column_int(st, 8));
		}
		else {
			err = re_hprintf(pf, "%-28s %-8s %-20.19s %6d:%02d "
					 "%5d %-9s\n", cat_col(st, 0),
					 cat_col(st, 1), cat_col(st, 4),
					 (int)d / 60, (int)d % 60,
					 sqlite3_column_int(st, 8),
					 cat_col(st, 6));
		}
		first = false;
	}
	if (json && !err)
		err = re_hprintf(pf, "]}\n");
 out:
	sqlite3_finalize(st);
	cat_close(db);
	return err;
}

/* ---- a session by id ---------------------------------------------------- */

int rec_find(const char *data_dir, const char *session, char *dir,
	     size_t dirsz)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int err;

	if (!session || !*session || strchr(session, '/'))
		return EINVAL;
	err = cat_ready(&db, data_dir);
	if (err)
		return err;
	if (sqlite3_prepare_v2(db, "SELECT dir FROM sessions WHERE id = ?",
			       -1, &st, NULL) != SQLITE_OK) {
		cat_close(db);
		return EIO;
	}
	sqlite3_bind_text(st, 1, session, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		str_ncpy(dir, cat_col(st, 0), dirsz);
	else
		err = ENOENT;
	sqlite3_finalize(st);
	cat_close(db);
	return err;
}

int rec_find_session(const char *data_dir, const char *session, char *dir,
		     size_t dirsz)
{
	return rec_find(data_dir, session, dir, dirsz);
}

int rec_load(struct rmodel *m, const char *data_dir, const char *session,
	     char *dir, size_t dirsz)
{
	int err = rec_find(data_dir, session, dir, dirsz);

	if (err)
		return err;
	rmodel_init(m);
	err = rmodel_load(m, dir);
	if (!err && !m->id[0])
		err = EBADMSG;
	return err;
}

static const struct rsite *site_by(const struct rmodel *m, const char *who)
{
	const struct le *le;

	if (!who || !str_cmp(who, "mix"))
		return &m->mix;
	LIST_FOREACH(&m->sitel, le) {
		const struct rsite *s = le->data;

		if (!str_cmp(s->id, who) || !str_casecmp(s->name, who))
			return s;
	}
	return NULL;
}

static const char *site_name(const struct rmodel *m, const char *id)
{
	const struct rsite *s = site_by(m, id);

	return s && s->name[0] ? s->name : id;
}

/* A file of a track: its name (what the HTTP API serves it by) and its
 * path on this machine (for scripts on the bridge's host). */
static int print_seg(struct re_printf *pf, const char *dir,
		     const struct rseg *g, bool first)
{
	char path[1024];

	re_snprintf(path, sizeof(path), "%s/%s", dir, g->file);
	return re_hprintf(pf, "%s{\"file\":%H,\"path\":%H,"
			  "\"start_s\":%.2f}", first ? "" : ",", rec_jstr,
			  g->file, rec_jstr, path, g->start_s);
}

int rec_cmd_show(struct re_printf *pf, const char *data_dir,
		 const char *session, bool json)
{
	char dir[REC_PATH_MAX];
	struct rmodel m;
	const struct le *le, *ge;
	int err;

	err = rec_load(&m, data_dir, session, dir, sizeof(dir));
	if (err)
		return err;
	if (json) {
		err = re_hprintf(pf, "{\"session\":%H,\"room\":%H,"
				 "\"room_name\":%H,\"dir\":%H,"
				 "\"start_utc\":%H,\"start_local\":%H,"
				 "\"end_utc\":%H,\"duration_s\":%.2f,"
				 "\"state\":\"%s\",\"sites\":[", rec_jstr,
				 m.id, rec_jstr, m.room, rec_jstr,
				 m.room_name, rec_jstr, dir, rec_jstr,
				 m.start_utc, rec_jstr, m.start_local,
				 rec_jstr, m.end_utc, m.duration_s, !m.closed ?
				 "recording" : m.repaired ? "repaired" :
				 "closed");
		LIST_FOREACH(&m.sitel, le) {
			const struct rsite *s = le->data;

			err |= re_hprintf(pf, "%s{\"id\":%H,\"name\":%H,"
					  "\"uri\":%H,\"addr\":%H,"
					  "\"join_s\":%.2f,\"leave_s\":%.2f,"
					  "\"files\":[",
					  le == list_head(&m.sitel) ? "" : ",",
					  rec_jstr, s->id, rec_jstr, s->name,
					  rec_jstr, s->uri, rec_jstr, s->addr,
					  s->join_s,
					  s->leave_s < 0 ? m.duration_s :
					  s->leave_s);
			LIST_FOREACH(&s->segl, ge) {
				const struct rseg *g = ge->data;

				err |= print_seg(pf, dir, g,
						 ge == list_head(&s->segl));
			}
			err |= re_hprintf(pf, "]}");
		}
		err |= re_hprintf(pf, "],\"mix\":[");
		LIST_FOREACH(&m.mix.segl, ge) {
			const struct rseg *g = ge->data;

			err |= print_seg(pf, dir, g,
					 ge == list_head(&m.mix.segl));
		}
		err |= re_hprintf(pf, "],\"turns\":[");
		LIST_FOREACH(&m.turnl, le) {
			const struct rturn *t = le->data;

			err |= re_hprintf(pf, "%s{\"site\":%H,\"name\":%H,"
					  "\"start_s\":%.2f,\"end_s\":%.2f}",
					  le == list_head(&m.turnl) ? "" : ",",
					  rec_jstr, t->site, rec_jstr,
					  site_name(&m, t->site), t->start_s,
					  t->end_s);
		}
		err |= re_hprintf(pf, "]}\n");
		goto out;
	}
	err = re_hprintf(pf, "session  %s\nroom     %s (%s)\nfolder   %s\n"
			 "start    %s (UTC %s)\nduration %.1f s, %s\n\n",
			 m.id, m.room, m.room_name, dir, m.start_local,
			 m.start_utc, m.duration_s, !m.closed ?
			 "still recording" : m.repaired ?
			 "repaired after a crash" : "closed");
	err |= re_hprintf(pf, "%-6s %-24s %8s %8s  %s\n", "SITE", "NAME",
			  "JOIN s", "LEAVE s", "FILES");
	LIST_FOREACH(&m.mix.segl, ge) {
		const struct rseg *g = ge->data;

		err |= re_hprintf(pf, "%-6s %-24s %8.1f %8.1f  %s/%s\n",
				  "mix", "(what every listener heard)",
				  g->start_s, m.duration_s, dir, g->file);
	}
	LIST_FOREACH(&m.sitel, le) {
		const struct rsite *s = le->data;

		err |= re_hprintf(pf, "%-6s %-24.24s %8.1f %8.1f ", s->id,
				  s->name, s->join_s, s->leave_s < 0 ?
				  m.duration_s : s->leave_s);
		LIST_FOREACH(&s->segl, ge) {
			const struct rseg *g = ge->data;

			err |= re_hprintf(pf, " %s/%s", dir, g->file);
			if (g->start_s > 0)
				err |= re_hprintf(pf, " (from %.1f s)",
						  g->start_s);
		}
		err |= re_hprintf(pf, "\n");
	}
	err |= re_hprintf(pf, "\nTALK TURNS (s from the start)\n");
	LIST_FOREACH(&m.turnl, le) {
		const struct rturn *t = le->data;

		err |= re_hprintf(pf, "%8.1f %8.1f  %s (%s)\n", t->start_s,
				  t->end_s, site_name(&m, t->site), t->site);
	}
 out:
	rmodel_reset(&m);
	return err;
}

/* ---- export ------------------------------------------------------------- */

/* Read [from, to) s of a track (its segments on the session timeline,
 * silence where none holds audio) into out, n samples at 16 kHz. */
int rec_read_span(const struct rsite *s, const char *dir, double from,
		  double to, int16_t *out, size_t n)
{
	const struct le *le;
	int err = ENOENT;

	memset(out, 0, n * sizeof(*out));
	LIST_FOREACH(&s->segl, le) {
		const struct rseg *g = le->data;
		char path[REC_PATH_MAX];
		SF_INFO info;
		SNDFILE *sf;
		sf_count_t skip, want;
		size_t at = 0;

		re_snprintf(path, sizeof(path), "%s/%s", dir, g->file);
		memset(&info, 0, sizeof(info));
		sf = sf_open(path, SFM_READ, &info);
		if (!sf)
			continue;
		err = 0;
		if (info.samplerate != REC_SRATE || info.channels != 1) {
			sf_close(sf);
			return ENOTSUP;
		}
		skip = (sf_count_t)llround((from - g->start_s) * REC_SRATE);
		if (skip < 0) {
			at = (size_t)-skip;
			skip = 0;
		}
		if (at >= n || (skip && sf_seek(sf, skip, SEEK_SET) < 0)) {
			sf_close(sf);
			continue;
		}
		want = (sf_count_t)(n - at);
		(void)sf_readf_short(sf, out + at, want);
		sf_close(sf);
	}
	(void)to;
	return err;
}

/* The segment whose file holds session time t: the last one that starts
 * at or before it. */
static const struct rseg *seg_at(const struct rsite *s, double t)
{
	const struct rseg *best = NULL;
	const struct le *le;

	LIST_FOREACH(&s->segl, le) {
		const struct rseg *g = le->data;

		if (g->start_s <= t + 1e-9)
			best = g;
	}
	return best;
}

void rreader_close(struct rreader *r)
{
	if (r->sf)
		sf_close(r->sf);
	memset(r, 0, sizeof(*r));
}

int rreader_read(struct rreader *r, const struct rsite *s, const char *dir,
		 double from, int16_t *out, size_t n)
{
	const struct rseg *g = seg_at(s, from);
	sf_count_t got;

	memset(out, 0, n * sizeof(*out));
	if (!g)
		return 0;
	if (r->sf && (r->seg != g || fabs(r->at_s - from) > 1e-4))
		rreader_close(r);
	if (!r->sf) {
		char path[REC_PATH_MAX];
		SF_INFO info;
		sf_count_t skip = (sf_count_t)llround((from - g->start_s) *
						      REC_SRATE);

		re_snprintf(path, sizeof(path), "%s/%s", dir, g->file);
		memset(&info, 0, sizeof(info));
		r->sf = sf_open(path, SFM_READ, &info);
		if (!r->sf)
			return ENOENT;
		if (info.samplerate != REC_SRATE || info.channels != 1) {
			rreader_close(r);
			return ENOTSUP;
		}
		if (skip > 0 && sf_seek(r->sf, skip, SEEK_SET) < 0) {
			rreader_close(r);
			return 0;     /* past its end: silence */
		}
		r->seg = g;
	}
	got = sf_readf_short(r->sf, out, (sf_count_t)n);
	r->at_s = from + (double)n / REC_SRATE;
	(void)got;
	return 0;
}

int rec_cmd_export(const char *data_dir, const char *session,
		   const char *who, double from, double to, const char *out,
		   char *msg, size_t msgsz)
{
	char dir[REC_PATH_MAX];
	const struct rsite *s;
	const char *ext = strrchr(out ? out : "", '.');
	struct rmodel m;
	SF_INFO info;
	SNDFILE *sf;
	int16_t *pcm = NULL;
	size_t n;
	int err;

	if (!out || !ext) {
		re_snprintf(msg, msgsz, "-o FILE.wav|.flac|.ogg is needed");
		return EINVAL;
	}
	memset(&info, 0, sizeof(info));
	info.samplerate = REC_SRATE;
	info.channels = 1;
	if (!str_casecmp(ext, ".wav"))
		info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
	else if (!str_casecmp(ext, ".flac"))
		info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
	else if (!str_casecmp(ext, ".ogg") || !str_casecmp(ext, ".opus"))
		info.format = SF_FORMAT_OGG | SF_FORMAT_OPUS;
	else {
		re_snprintf(msg, msgsz, "%s: the extension says no format "
			    "(wav, flac, ogg, opus)", out);
		return EINVAL;
	}
	err = rec_load(&m, data_dir, session, dir, sizeof(dir));
	if (err) {
		re_snprintf(msg, msgsz, "session %s: %s", session,
			    err == ENOENT ? "not found" : strerror(err));
		return err;
	}
	s = site_by(&m, who);
	if (!s) {
		re_snprintf(msg, msgsz, "session %s has no site '%s'",
			    session, who);
		err = ENOENT;
		goto out;
	}
	if (from < 0)
		from = 0;
	if (to < 0 || to > m.duration_s)
		to = m.duration_s;
	if (to <= from) {
		re_snprintf(msg, msgsz, "nothing between %.2f and %.2f s "
			    "(the session lasts %.2f s)", from, to,
			    m.duration_s);
		err = EINVAL;
		goto out;
	}
	n = (size_t)llround((to - from) * REC_SRATE);
	pcm = malloc(n * sizeof(*pcm));
	if (!pcm) {
		err = ENOMEM;
		goto out;
	}
	err = rec_read_span(s, dir, from, to, pcm, n);
	if (err) {
		re_snprintf(msg, msgsz, "%s: no readable file (%s)", s->id,
			    strerror(err));
		goto out;
	}
	sf = sf_open(out, SFM_WRITE, &info);
	if (!sf) {
		re_snprintf(msg, msgsz, "%s: %s", out, sf_strerror(NULL));
		err = EIO;
		goto out;
	}
	if (sf_writef_short(sf, pcm, (sf_count_t)n) != (sf_count_t)n)
		err = EIO;
	if (sf_close(sf))
		err = EIO;
	re_snprintf(msg, msgsz, "%s: %s %.2f-%.2f s (%.2f s) of %s", out,
		    s == &m.mix ? "the mix" : s->name, from, to, to - from,
		    m.id);
 out:
	free(pcm);
	rmodel_reset(&m);
	return err;
}

/* ---- minutes ------------------------------------------------------------ */

static int print_hms(struct re_printf *pf, void *arg)
{
	const double t = *(const double *)arg;
	const int s = (int)t;

	return re_hprintf(pf, "%02d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
}

int rec_html_esc(struct re_printf *pf, const char *s)
{
	int err = 0;

	for (; s && *s && !err; s++) {
		switch (*s) {
		case '<': err = re_hprintf(pf, "&lt;"); break;
		case '>': err = re_hprintf(pf, "&gt;"); break;
		case '&': err = re_hprintf(pf, "&amp;"); break;
		case '"': err = re_hprintf(pf, "&quot;"); break;
		default: err = pf->vph(s, 1, pf->arg); break;
		}
	}
	return err;
}

struct minutes_ctx {
	const struct rmodel *m;
	bool html;
};

static int print_minutes(struct re_printf *pf, void *arg)
{
	const struct minutes_ctx *mc = arg;
	const struct rmodel *m = mc->m;
	const bool h = mc->html;
	const struct le *le;
	const struct rturn *cur = NULL;
	double end = 0;
	int err;

	err = re_hprintf(pf, h ? "<!DOCTYPE html>\n<html><head><meta "
			 "charset=\"utf-8\"><title>Minutes %H</title>"
			 "</head><body>\n<h1>Minutes: %H</h1>\n<ul>\n" :
			 "# Minutes: %H\n\n", rec_html_esc, m->room_name[0] ?
			 m->room_name : m->room, rec_html_esc,
			 m->room_name[0] ? m->room_name : m->room);
	err |= re_hprintf(pf, h ? "<li>Room: %H (%H)</li>\n<li>Session: "
			  "%H</li>\n<li>Start: %H</li>\n<li>End: %H</li>\n"
			  "<li>Duration: %H</li>\n</ul>\n" :
			  "- Room: %H (%H)\n- Session: %H\n- Start: %H\n"
			  "- End: %H\n- Duration: %H\n\n",
			  rec_html_esc, m->room_name, rec_html_esc, m->room,
			  rec_html_esc, m->id, rec_html_esc, m->start_local,
			  rec_html_esc, m->end_local[0] ? m->end_local :
			  "(still recording)", print_hms, &m->duration_s);
	err |= re_hprintf(pf, h ? "<h2>Sites</h2>\n<table><tr><th>site</th>"
			  "<th>joined</th><th>left</th><th>note</th></tr>\n" :
			  "## Sites\n\n| site | joined | left | note |\n"
			  "|---|---|---|---|\n");
	LIST_FOREACH(&m->sitel, le) {
		const struct rsite *s = le->data;
		const double lv = s->leave_s < 0 ? m->duration_s : s->leave_s;
		const char *note = s->join_s > 60 ? "late" :
			lv < m->duration_s - 60 ? "left early" : "";

		err |= re_hprintf(pf, h ? "<tr><td>%H</td><td>%H</td>"
				  "<td>%H</td><td>%H</td></tr>\n" :
				  "| %H | %H | %H | %H |\n", rec_html_esc,
				  s->name[0] ? s->name : s->id, print_hms,
				  &s->join_s, print_hms, &lv, rec_html_esc,
				  note);
	}
	err |= re_hprintf(pf, h ? "</table>\n<h2>Who spoke when</h2>\n"
			  "<table><tr><th>from</th><th>to</th><th>site</th>"
			  "<th>notes</th></tr>\n" :
			  "\n## Who spoke when\n\n| from | to | site | "
			  "notes |\n|---|---|---|---|\n");
	/* a site's turns a short pause apart are one in the minutes */
	LIST_FOREACH(&m->turnl, le) {
		const struct rturn *t = le->data;

		if (cur && !str_cmp(cur->site, t->site) &&
		    t->start_s - end < TURN_MERGE_S) {
			end = t->end_s;
			continue;
		}
		if (cur)
			err |= re_hprintf(pf, h ? "<tr><td>%H</td><td>%H</td>"
					  "<td>%H</td><td></td></tr>\n" :
					  "| %H | %H | %H | |\n", print_hms,
					  &cur->start_s, print_hms, &end,
					  rec_html_esc,
					  site_name(m, cur->site));
		cur = t;
		end = t->end_s;
	}
	if (cur)
		err |= re_hprintf(pf, h ? "<tr><td>%H</td><td>%H</td>"
				  "<td>%H</td><td></td></tr>\n" :
				  "| %H | %H | %H | |\n", print_hms,
				  &cur->start_s, print_hms, &end, rec_html_esc,
				  site_name(m, cur->site));
	err |= re_hprintf(pf, h ? "</table>\n" : "\n");
	if (!list_isempty(&m->eventl)) {
		err |= re_hprintf(pf, h ? "<h2>Events</h2>\n<ul>\n" :
				  "## Events\n\n");
		LIST_FOREACH(&m->eventl, le) {
			const struct revent *e = le->data;

			err |= re_hprintf(pf, h ? "<li>%H %H %H %H</li>\n" :
					  "- %H %H %H %H\n", print_hms, &e->t,
					  rec_html_esc, e->kind, rec_html_esc,
					  site_name(m, e->site), rec_html_esc,
					  e->text);
		}
		err |= re_hprintf(pf, h ? "</ul>\n" : "\n");
	}
	return err | re_hprintf(pf, h ? "<h2>Decisions</h2>\n<p></p>\n"
				"</body></html>\n" : "## Decisions\n\n");
}

int rec_cmd_minutes(const char *data_dir, const char *session,
		    const char *out, char *msg, size_t msgsz)
{
	const char *ext = strrchr(out ? out : "", '.');
	struct minutes_ctx mc;
	char dir[REC_PATH_MAX];
	struct rmodel m;
	FILE *f;
	int err;

	if (!ext || (str_casecmp(ext, ".md") && str_casecmp(ext, ".html"))) {
		re_snprintf(msg, msgsz, "-o FILE.md or FILE.html is needed");
		return EINVAL;
	}
	err = rec_load(&m, data_dir, session, dir, sizeof(dir));
	if (err) {
		re_snprintf(msg, msgsz, "session %s: %s", session,
			    err == ENOENT ? "not found" : strerror(err));
		return err;
	}
	mc.m = &m;
	mc.html = !str_casecmp(ext, ".html");
	f = fopen(out, "w");
	if (!f) {
		err = errno;
		re_snprintf(msg, msgsz, "%s: %s", out, strerror(err));
		goto out;
	}
	{
		struct mbuf *mb = mbuf_alloc(8192);

		if (!mb || mbuf_printf(mb, "%H", print_minutes, &mc))
			err = ENOMEM;
		else if (fwrite(mb->buf, 1, mb->end, f) != mb->end)
			err = EIO;
		mem_deref(mb);
	}
	if (fclose(f) && !err)
		err = errno;
	re_snprintf(msg, msgsz, "%s: minutes of %s (%u sites, %u turns)",
		    out, m.id, list_count(&m.sitel), list_count(&m.turnl));
 out:
	rmodel_reset(&m);
	return err;
}

/* ---- prune -------------------------------------------------------------- */

static uint64_t dir_bytes(const char *dir)
{
	char path[REC_PATH_MAX];
	struct dirent *e;
	struct stat st;
	uint64_t n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' && !e->d_name[1])
			continue;
		if (!strcmp(e->d_name, ".."))
			continue;
		re_snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (!stat(path, &st) && S_ISREG(st.st_mode))
			n += (uint64_t)st.st_size;
	}
	closedir(d);
	return n;
}

static int rm_session(const char *dir)
{
	char path[REC_PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return errno;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		re_snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		(void)unlink(path);
	}
	closedir(d);
	return rmdir(dir) ? errno : 0;
}

int rec_cmd_prune(struct re_printf *pf, const char *data_dir,
		  double older_days, double max_gb, bool dry)
{
	sqlite3 *db = NULL, *wdb = NULL;
	sqlite3_stmt *st = NULL;
	const int64_t now = rec_now_unix_ms();
	uint64_t total = 0, freed = 0;
	struct sess { char id[REC_ID_MAX]; char dir[REC_PATH_MAX];
		      int64_t start; uint64_t bytes; bool closed; } *v = NULL;
	size_t n = 0, cap = 0, i;
	int err;

	err = cat_ready(&db, data_dir);
	if (err)
		return err;
	if (sqlite3_prepare_v2(db, "SELECT id, dir, start_unix_ms, state "
			       "FROM sessions ORDER BY start_unix_ms", -1,
			       &st, NULL) != SQLITE_OK) {
		err = EIO;
		goto out;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == cap) {
			void *nv = realloc(v, (cap = cap ? 2 * cap : 16) *
					   sizeof(*v));

			if (!nv) {
				err = ENOMEM;
				goto out;
			}
			v = nv;
		}
		str_ncpy(v[n].id, cat_col(st, 0), sizeof(v[n].id));
		str_ncpy(v[n].dir, cat_col(st, 1), sizeof(v[n].dir));
		v[n].start = sqlite3_column_int64(st, 2);
		/* a session being recorded is never touched */
		v[n].closed = strcmp(cat_col(st, 3), "recording") &&
			strcmp(cat_col(st, 3), "open");
		v[n].bytes = dir_bytes(v[n].dir);
		total += v[n].bytes;
		++n;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (!dry) {
		cat_close(db);
		db = NULL;
		err = cat_open(&wdb, data_dir, false);
		if (err)
			goto out;
	}
	for (i = 0; i < n; i++) {
		const double age_d = (double)(now - v[i].start) / 86400e3;
		const bool old = older_days > 0 && age_d > older_days;
		const bool big = max_gb > 0 &&
			(double)(total - freed) > max_gb * 1e9;

		if (!v[i].closed || (!old && !big))
			continue;
		err |= re_hprintf(pf, "%s %s (%.1f days old, %.1f MB)\n",
				  dry ? "would remove" : "removing", v[i].id,
				  age_d, (double)v[i].bytes / 1e6);
		freed += v[i].bytes;
		if (dry)
			continue;
		if (rm_session(v[i].dir))
			err |= re_hprintf(pf, "  %s: %m\n", v[i].dir, errno);
		(void)sqlite3_exec(wdb, "BEGIN", NULL, NULL, NULL);
		for (const char *const *t = (const char *const[]){
			"sessions WHERE id", "sites WHERE session",
			"files WHERE session", "events WHERE session",
			"turns WHERE session", NULL}; *t; t++) {
			char sql[96];
			sqlite3_stmt *d = NULL;

			re_snprintf(sql, sizeof(sql), "DELETE FROM %s = ?",
				    *t);
			if (sqlite3_prepare_v2(wdb, sql, -1, &d, NULL) ==
			    SQLITE_OK) {
				sqlite3_bind_text(d, 1, v[i].id, -1,
						  SQLITE_TRANSIENT);
				(void)sqlite3_step(d);
			}
			sqlite3_finalize(d);
		}
		(void)sqlite3_exec(wdb, "COMMIT", NULL, NULL, NULL);
	}
	err |= re_hprintf(pf, "%s %.1f MB of %.1f MB in %zu sessions\n",
			  dry ? "would free" : "freed", (double)freed / 1e6,
			  (double)total / 1e6, n);
 out:
	sqlite3_finalize(st);
	cat_close(db);
	cat_close(wdb);
	free(v);
	return err;
}
