/**
 * @file session.c  The journal of a session and the model built from it.
 *
 * The journal (journal.jsonl) is the one source of truth about a
 * session: an append-only file of JSON objects, one a line, written as
 * things happen. The manifest (session.json) and the catalogue are
 * views of it, so that after a crash both are rebuilt from what reached
 * the journal (a line cut by the crash is ignored). Events:
 *
 *   {"t":S,"utc":"...","ev":"session_start","session":ID,"room":R,
 *    "room_name":N,"format":F,"unix_ms":MS}
 *   {"t":S,...,"ev":"join","site":SID,"name":N,"uri":U,"addr":A,
 *    "file":F}
 *   {"t":S,...,"ev":"segment","site":SID|"mix","file":F}   (a new file
 *    from t on, after a pause)
 *   {"t":S,...,"ev":"leave","site":SID}
 *   {"t":S,...,"ev":"talk","site":SID,"end":E}     (a turn [t, E])
 *   {"t":S,...,"ev":"mute"|"unmute"|"bookmark"|"pause"|"resume"|
 *    "alarm"|"error","site":SID,"text":T}
 *   {"t":S,...,"ev":"session_end","repaired":true|false}
 *
 * t is seconds from the session's start, the moment sample 0 of every
 * file stands for.
 *
 * Threads: the recorder's, and the commands' (one process each).
 */
#include <re.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "recint.h"

#define JOURNAL "journal.jsonl"
#define MANIFEST "session.json"
#define LINE_MAX_BYTES 4096

int64_t rec_now_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rec_time_iso(int64_t unix_ms, char *utc, size_t usz, char *local,
		  size_t lsz)
{
	const time_t t = (time_t)(unix_ms / 1000);
	struct tm tm;
	char z[8];

	if (utc && usz) {
		gmtime_r(&t, &tm);
		snprintf(utc, usz, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (int)(unix_ms % 1000));
	}
	if (local && lsz) {
		localtime_r(&t, &tm);
		strftime(z, sizeof(z), "%z", &tm);
		snprintf(local, lsz, "%04d-%02d-%02dT%02d:%02d:%02d%.3s:%s",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, z, z + 3);
	}
}

int rec_mkdir_p(const char *path)
{
	char buf[REC_PATH_MAX];
	char *p;

	if (str_len(path) >= sizeof(buf))
		return ENAMETOOLONG;
	str_ncpy(buf, path, sizeof(buf));
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		return errno;
	return 0;
}

/* ---- the model ---------------------------------------------------------- */

static void site_init(struct rsite *s, const char *id)
{
	memset(s, 0, sizeof(*s));
	str_ncpy(s->id, id, sizeof(s->id));
	s->leave_s = -1;
	list_init(&s->segl);
}

void rmodel_init(struct rmodel *m)
{
	memset(m, 0, sizeof(*m));
	site_init(&m->mix, "mix");
	list_init(&m->sitel);
	list_init(&m->turnl);
	list_init(&m->eventl);
}

static void site_destructor(void *arg)
{
	struct rsite *s = arg;

	list_flush(&s->segl);
}

void rmodel_reset(struct rmodel *m)
{
	list_flush(&m->mix.segl);
	list_flush(&m->sitel);
	list_flush(&m->turnl);
	list_flush(&m->eventl);
	rmodel_init(m);
}

struct rsite *rmodel_site(struct rmodel *m, const char *id, bool create)
{
	struct rsite *s;
	struct le *le;

	if (!str_cmp(id, "mix"))
		return &m->mix;
	LIST_FOREACH(&m->sitel, le) {
		s = le->data;
		if (!str_cmp(s->id, id))
			return s;
	}
	if (!create)
		return NULL;
	s = mem_zalloc(sizeof(*s), site_destructor);
	if (!s)
		return NULL;
	site_init(s, id);
	list_append(&m->sitel, &s->le, s);
	return s;
}

static int add_seg(struct rsite *s, const char *file, double start_s)
{
	struct rseg *g = mem_zalloc(sizeof(*g), NULL);

	if (!g)
		return ENOMEM;
	str_ncpy(g->file, file, sizeof(g->file));
	g->start_s = start_s;
	list_append(&s->segl, &g->le, g);
	return 0;
}

const char *rec_ostr(const struct odict *o, const char *key)
{
	const char *s = odict_string(o, key);

	return s ? s : "";
}

double rec_onum(const struct odict *o, const char *key)
{
	const struct odict_entry *e = odict_lookup(o, key);

	if (!e)
		return -1;
	if (e->type == ODICT_DOUBLE)
		return e->u.dbl;
	if (e->type == ODICT_INT)
		return (double)e->u.integer;
	return -1;
}

int rmodel_apply(struct rmodel *m, const struct odict *ev)
{
	const char *kind = rec_ostr(ev, "ev"), *site = rec_ostr(ev, "site");
	const double t = rec_onum(ev, "t");
	struct revent *e;
	struct rsite *s;
	bool b = false;

	if (!*kind || t < 0)
		return EBADMSG;
	if (t > m->duration_s)
		m->duration_s = t;
	if (!str_cmp(kind, "session_start")) {
		str_ncpy(m->id, rec_ostr(ev, "session"), sizeof(m->id));
		str_ncpy(m->room, rec_ostr(ev, "room"), sizeof(m->room));
		str_ncpy(m->room_name, rec_ostr(ev, "room_name"),
			 sizeof(m->room_name));
		str_ncpy(m->format, rec_ostr(ev, "format"), sizeof(m->format));
		m->start_unix_ms = (int64_t)rec_onum(ev, "unix_ms");
		rec_time_iso(m->start_unix_ms, m->start_utc,
			     sizeof(m->start_utc), m->start_local,
			     sizeof(m->start_local));
		if (*rec_ostr(ev, "file"))
			return add_seg(&m->mix, rec_ostr(ev, "file"), 0);
		return 0;
	}
	if (!str_cmp(kind, "join")) {
		s = rmodel_site(m, site, true);
		if (!s)
			return ENOMEM;
		s->join_s = t;
		s->leave_s = -1;
		str_ncpy(s->name, rec_ostr(ev, "name"), sizeof(s->name));
		str_ncpy(s->uri, rec_ostr(ev, "uri"), sizeof(s->uri));
		str_ncpy(s->addr, rec_ostr(ev, "addr"), sizeof(s->addr));
		if (*rec_ostr(ev, "file"))
			return add_seg(s, rec_ostr(ev, "file"), 0);
		return 0;
	}
	if (!str_cmp(kind, "segment")) {
		s = rmodel_site(m, site, false);
		return s ? add_seg(s, rec_ostr(ev, "file"), t) : 0;
	}
	if (!str_cmp(kind, "leave")) {
		s = rmodel_site(m, site, false);
		if (s)
			s->leave_s = t;
		return 0;
	}
	if (!str_cmp(kind, "talk")) {
		struct rturn *tu = mem_zalloc(sizeof(*tu), NULL);

		if (!tu)
			return ENOMEM;
		str_ncpy(tu->site, site, sizeof(tu->site));
		tu->start_s = t;
		tu->end_s = rec_onum(ev, "end");
		if (tu->end_s > m->duration_s)
			m->duration_s = tu->end_s;
		/* a turn is written when it ends: keep them by start */
		{
			struct le *le = list_tail(&m->turnl);

			while (le && ((struct rturn *)le->data)->start_s >
			       t)
				le = le->prev;
			if (le)
				list_insert_after(&m->turnl, le, &tu->le, tu);
			else
				list_prepend(&m->turnl, &tu->le, tu);
		}
		return 0;
	}
	if (!str_cmp(kind, "session_end")) {
		int64_t end_ms;

		m->closed = true;
		(void)odict_get_boolean(ev, &b, "repaired");
		m->repaired = b;
		end_ms = m->start_unix_ms + (int64_t)(t * 1000);
		rec_time_iso(end_ms, m->end_utc, sizeof(m->end_utc),
			     m->end_local, sizeof(m->end_local));
		return 0;
	}
	/* everything else is kept as an event for the minutes */
	e = mem_zalloc(sizeof(*e), NULL);
	if (!e)
		return ENOMEM;
	e->t = t;
	str_ncpy(e->utc, rec_ostr(ev, "utc"), sizeof(e->utc));
	str_ncpy(e->kind, kind, sizeof(e->kind));
	str_ncpy(e->site, site, sizeof(e->site));
	str_ncpy(e->text, rec_ostr(ev, "text"), sizeof(e->text));
	list_append(&m->eventl, &e->le, e);
	return 0;
}

int rmodel_load(struct rmodel *m, const char *dir)
{
	char path[REC_PATH_MAX], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	int err = 0;

	re_snprintf(path, sizeof(path), "%s/" JOURNAL, dir);
	f = fopen(path, "r");
	if (!f)
		return errno;
	rmodel_reset(m);
	while ((n = getline(&line, &cap, f)) > 0) {
		struct odict *o = NULL;

		/* a line without its newline was cut by a crash */
		if (line[n - 1] != '\n' || n > LINE_MAX_BYTES)
			continue;
		if (json_decode_odict(&o, 16, line, (size_t)n, 4))
			continue;
		err = rmodel_apply(m, o);
		mem_deref(o);
		if (err == ENOMEM)
			break;
		err = 0;
	}
	free(line);
	fclose(f);
	return err;
}

const char *rmodel_file(const struct rmodel *m, const char *id)
{
	const struct rsite *s = rmodel_site((struct rmodel *)m, id, false);
	const struct le *le = s ? list_head(&s->segl) : NULL;

	return le ? ((const struct rseg *)le->data)->file : "";
}

/* ---- the manifest ------------------------------------------------------- */

static int print_segs(struct re_printf *pf, const struct rsite *s)
{
	const struct le *le;
	int err = re_hprintf(pf, "\"file\":\"%s\",\"segments\":[",
			     list_head(&s->segl) ?
			     ((struct rseg *)list_head(&s->segl)->data)->file :
			     "");

	LIST_FOREACH(&s->segl, le) {
		const struct rseg *g = le->data;

		err |= re_hprintf(pf, "%s{\"file\":\"%s\",\"start_s\":%.2f}",
				  le == list_head(&s->segl) ? "" : ",",
				  g->file, g->start_s);
	}
	return err | re_hprintf(pf, "]");
}

static int json_str(struct re_printf *pf, const char *s)
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

static int print_manifest(struct re_printf *pf, void *arg)
{
	const struct rmodel *m = arg;
	const struct le *le;
	int err;

	err = re_hprintf(pf, "{\n  \"session\": %H,\n  \"room\": %H,\n"
			 "  \"room_name\": %H,\n  \"format\": \"%s\",\n"
			 "  \"start_utc\": \"%s\",\n"
			 "  \"start_local\": \"%s\",\n"
			 "  \"end_utc\": \"%s\",\n  \"end_local\": \"%s\",\n"
			 "  \"duration_s\": %.2f,\n  \"state\": \"%s\",\n"
			 "  \"mix\": {",
			 json_str, m->id, json_str, m->room, json_str,
			 m->room_name, m->format, m->start_utc,
			 m->start_local, m->end_utc, m->end_local,
			 m->duration_s, !m->closed ? "recording" :
			 m->repaired ? "repaired" : "closed");
	err |= print_segs(pf, &m->mix);
	err |= re_hprintf(pf, "},\n  \"sites\": [");
	LIST_FOREACH(&m->sitel, le) {
		const struct rsite *s = le->data;

		err |= re_hprintf(pf, "%s\n    {\"id\": %H, \"name\": %H, "
				  "\"uri\": %H, \"addr\": %H, "
				  "\"join_s\": %.2f, \"leave_s\": %.2f, ",
				  le == list_head(&m->sitel) ? "" : ",",
				  json_str, s->id, json_str, s->name,
				  json_str, s->uri, json_str, s->addr,
				  s->join_s, s->leave_s < 0 ? m->duration_s :
				  s->leave_s);
		err |= print_segs(pf, s);
		err |= re_hprintf(pf, "}");
	}
	err |= re_hprintf(pf, "\n  ],\n  \"turns\": [");
	LIST_FOREACH(&m->turnl, le) {
		const struct rturn *t = le->data;

		err |= re_hprintf(pf, "%s\n    {\"site\": %H, "
				  "\"start_s\": %.2f, \"end_s\": %.2f}",
				  le == list_head(&m->turnl) ? "" : ",",
				  json_str, t->site, t->start_s, t->end_s);
	}
	return err | re_hprintf(pf, "\n  ]\n}\n");
}

int rec_write_atomic(const char *dir, const char *name, const uint8_t *buf,
		     size_t len)
{
	char tmp[REC_PATH_MAX], path[REC_PATH_MAX];
	int fd, err = 0;

	/* a reader sees the old file or the new one, never half of one */
	re_snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	re_snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno;
	if (write(fd, buf, len) != (ssize_t)len)
		err = errno ? errno : EIO;
	if (!err && fsync(fd))
		err = errno;
	close(fd);
	if (!err && rename(tmp, path))
		err = errno;
	if (err)
		(void)unlink(tmp);
	return err;
}

int rmodel_write_manifest(const struct rmodel *m, const char *dir)
{
	struct mbuf *mb = mbuf_alloc(4096);
	int err;

	if (!mb)
		return ENOMEM;
	err = mbuf_printf(mb, "%H", print_manifest, (void *)m);
	if (!err)
		err = rec_write_atomic(dir, MANIFEST, mb->buf, mb->end);
	mem_deref(mb);
	return err;
}
