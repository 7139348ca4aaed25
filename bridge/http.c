/**
 * @file http.c  The JSON API: a table of routes over libre's HTTP
 * server.
 *
 *   GET  /api/rooms                 every room with its site count
 *   GET  /api/rooms/ID              one room: mixer, RTP, every site
 *   POST /api/rooms/ID?KEY=on|off   the room's processing settings,
 *                                   and record=on|off
 *   POST /api/rooms/ID/sites/SID?KEY=on|off   one site's
 *   GET  /api/recordings[?room=R&since=DATE]   the catalogue
 *   GET  /api/recordings/SESSION    sites, files, talk turns
 *   GET  /api/recordings/SESSION/FILE   the audio, with Range requests
 *   GET  /api/rooms/ID/live         Server-Sent Events (live.c)
 *   GET  /api/me, POST /api/login, POST /api/logout   accounts
 *   GET  /metrics                   Prometheus text format
 *   GET  /, /app.js, /style.css     the web console (www.c)
 *
 * Served on the network thread; the figures are read from the counters
 * the mixer publishes (views.c), so a request never waits for or
 * disturbs the mixer. Errors are JSON {"error": "..."} with the status
 * that says why: 400 bad value or unknown key, 401 no or wrong
 * credentials, 403 a viewer giving a command (or a non-loopback client
 * of a bridge without accounts), 404 unknown room, site or path, 405
 * wrong method (with Allow), 429 too many failed logins, 503 mixer busy.
 *
 * Every command (POST on a room or site) is written to DATA/audit.log
 * and the log with who gave it, and to the recording's journal.
 */
#include <re.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/stat.h>
#define LOG_MODULE "http"
#include "auth.h"
#include "http.h"
#include "json.h"
#include "live.h"
#include "log.h"
#include "lroom.h"
#include "ready.h"
#include "rec.h"
#include "route.h"
#include "views.h"
#include "www.h"

#define RANGE_MAX (1u << 20)     /* bytes of audio per response */

#define GAIN_MIN_DB (-20.0)
#define GAIN_MAX_DB 20.0

static struct {
	struct http_sock *sock;
	struct room_set *rooms;
	char data_dir[256];
	FILE *audit;
	bool tls;
} api;

enum {
	M_GET  = 1 << 0,         /* GET and HEAD */
	M_POST = 1 << 1,
};

/* who may use a route */
enum need {
	N_ANY,                   /* the page's files, login */
	N_VIEWER,                /* reading */
	N_OPERATOR,              /* commands */
};

/* One request as a handler sees it. */
struct req {
	struct http_conn *conn;
	const struct http_msg *msg;
	struct pl capv[2];
	const struct cfg_user *user;     /* NULL: no accounts */
};

typedef void (route_h)(struct req *r);

struct route {
	unsigned methods;
	const char *pattern;
	enum need need;
	route_h *h;
};

static const char *who(const struct req *r)
{
	return r->user ? r->user->name : "-";
}

/* A body made by h, with its type (and a file name to save it as). */
static void reply_body(struct http_conn *conn, uint16_t scode,
		       const char *reason, const char *type,
		       const char *filename, re_printf_h *h, void *arg)
{
	struct mbuf *mb = mbuf_alloc(4096);

	if (!mb || mbuf_printf(mb, "%H", h, arg)) {
		http_ereply(conn, 500, "Internal Server Error");
		mem_deref(mb);
		return;
	}
	(void)http_reply(conn, scode, reason,
			 "Content-Type: %s\r\n"
			 "Cache-Control: no-store\r\n"
			 "%s%s%s"
			 "Content-Length: %zu\r\n\r\n%b", type,
			 filename ? "Content-Disposition: attachment; "
			 "filename=\"" : "", filename ? filename : "",
			 filename ? "\"\r\n" : "", mb->end, mb->buf,
			 mb->end);
	mem_deref(mb);
}

static void reply_json(struct http_conn *conn, uint16_t scode,
		       const char *reason, re_printf_h *h, void *arg)
{
	reply_body(conn, scode, reason, "application/json", NULL, h, arg);
}

static void reply_error(struct http_conn *conn, uint16_t scode,
			const char *reason, const char *msg)
{
	reply_json(conn, scode, reason, view_error, (void *)msg);
}

static struct room *find_room(struct http_conn *conn, const struct pl *id)
{
	char buf[CFG_ID_MAX];
	struct room *room = NULL;

	if (id->l < sizeof(buf)) {
		pl_strcpy(id, buf, sizeof(buf));
		room = rooms_find(api.rooms, buf);
	}
	if (!room)
		reply_error(conn, 404, "Not Found", "no such room");
	return room;
}

/* ---- commands ----------------------------------------------------------- */

/* A POST's query, parsed whole before anything is applied: one bad key
 * or value and nothing changes. */
struct cmd {
	struct mix_dsp dsp;
	struct mix_ctl ctl;
	int record, lock, mute_all;      /* -1: not asked */
	bool kick;
	bool bookmark;
	char text[ROUTE_VALUE_MAX];      /* the bookmark */
	char what[320];                  /* the query, for the audit log */
};

static int on_off(const char *v, bool *on)
{
	if (!str_casecmp(v, "on") || !strcmp(v, "1") ||
	    !str_casecmp(v, "true"))
		*on = true;
	else if (!str_casecmp(v, "off") || !strcmp(v, "0") ||
		 !str_casecmp(v, "false"))
		*on = false;
	else
		return EINVAL;
	return 0;
}

static int gain(const char *v, float *db)
{
	char *end;
	double x = strtod(v, &end);

	if (end == v || *end || !(x >= GAIN_MIN_DB && x <= GAIN_MAX_DB))
		return EINVAL;
	*db = (float)x;
	return 0;
}

/* @return 0, or EINVAL with why naming the key and what it takes. */
static int parse_cmd(const struct pl *query, bool site, struct cmd *c,
		     char *why, size_t sz)
{
	struct pl rest = *query, key, val;
	char v[ROUTE_VALUE_MAX];
	size_t n = 0;
	int err, e;

	c->record = c->lock = c->mute_all = -1;
	while (!(err = route_query_next(&rest, &key, &val))) {
		bool on = false, *field = NULL;
		int *tri = NULL;

		if (route_decode(&val, v, sizeof(v))) {
			re_snprintf(why, sz, "bad value of '%r'", &key);
			return EINVAL;
		}
		e = 0;
		if (!pl_strcmp(&key, "noise_suppression"))
			field = &c->dsp.proc.ns;
		else if (!pl_strcmp(&key, "agc"))
			field = &c->dsp.proc.agc;
		else if (!pl_strcmp(&key, "echo_control"))
			field = &c->dsp.proc.aec;
		else if (site && !pl_strcmp(&key, "chair"))
			field = &c->dsp.chair;
		else if (site && !pl_strcmp(&key, "mute"))
			field = &c->ctl.muted;
		else if (site && !pl_strcmp(&key, "deaf"))
			field = &c->ctl.deaf;
		else if (site && !pl_strcmp(&key, "kick"))
			field = &c->kick;
		else if (site && !pl_strcmp(&key, "gain_in_db"))
			e = gain(v, &c->ctl.gain_in_db);
		else if (site && !pl_strcmp(&key, "gain_out_db"))
			e = gain(v, &c->ctl.gain_out_db);
		else if (!site && !pl_strcmp(&key, "record"))
			tri = &c->record;
		else if (!site && !pl_strcmp(&key, "lock"))
			tri = &c->lock;
		else if (!site && !pl_strcmp(&key, "mute_all"))
			tri = &c->mute_all;
		else if (!site && !pl_strcmp(&key, "bookmark")) {
			if (!v[0])
				e = EINVAL;
			str_ncpy(c->text, v, sizeof(c->text));
			c->bookmark = true;
		}
		else {
			re_snprintf(why, sz, "unknown parameter '%r': %s",
				    &key, site ?
				    "mute, deaf, kick, gain_in_db, "
				    "gain_out_db, noise_suppression, agc, "
				    "echo_control, chair" :
				    "lock, mute_all, bookmark, record, "
				    "noise_suppression, agc, echo_control");
			return EINVAL;
		}
		if ((field || tri) && on_off(v, &on))
			e = EINVAL;
		if (e) {
			re_snprintf(why, sz, "bad value '%s' of '%r': %s", v,
				    &key, field || tri ? "on or off" :
				    !pl_strcmp(&key, "bookmark") ?
				    "some text" : "a number of dB from -20 "
				    "to 20");
			return EINVAL;
		}
		if (field)
			*field = on;
		if (tri)
			*tri = on;
		n += re_snprintf(c->what + n, sizeof(c->what) - n, "%s%r=%s",
				 n ? " " : "", &key, v);
		if (n >= sizeof(c->what))
			n = sizeof(c->what) - 1;
	}
	if (err == EBADMSG) {
		re_snprintf(why, sz, "malformed query");
		return EINVAL;
	}
	if (!c->what[0]) {
		re_snprintf(why, sz, "no command given");
		return EINVAL;
	}
	return 0;
}

static void bad_request(struct http_conn *conn, const char *why)
{
	reply_error(conn, 400, "Bad Request", why);
}

/* Who did what, in DATA/audit.log, the log and the recording's journal:
 * the record a district keeps of who muted or removed a site. */
static void audit(const struct req *r, struct room *room, const char *sid,
		  const char *what, uint16_t status)
{
	const struct sa *peer = http_conn_peer(r->conn);
	char ts[32], text[400];
	time_t t = time(NULL);
	struct tm tm;

	(void)strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ",
		       gmtime_r(&t, &tm));
	log_info("audit: %s from %j: room %s%s%s: %s -> %u\n", who(r), peer,
		 room_cfg(room)->id, sid ? " site " : "", sid ? sid : "",
		 what, status);
	if (api.audit) {
		(void)re_fprintf(api.audit, "%s user=%s addr=%j room=%s "
				 "site=%s %s status=%u\n", ts, who(r), peer,
				 room_cfg(room)->id, sid ? sid : "-", what,
				 status);
		(void)fflush(api.audit);
	}
	if (status < 300) {
		re_snprintf(text, sizeof(text), "%s by %s", what, who(r));
		(void)room_journal(room, "command", sid ? sid : "", text);
	}
}

static void get_rooms(struct req *r)
{
	reply_json(r->conn, 200, "OK", view_rooms, api.rooms);
}

static void get_room(struct req *r)
{
	struct room *room = find_room(r->conn, &r->capv[0]);

	if (room)
		reply_json(r->conn, 200, "OK", view_room, room);
}

static void post_room(struct req *r)
{
	struct room *room = find_room(r->conn, &r->capv[0]);
	struct cmd c;
	char why[200];

	if (!room)
		return;
	memset(&c, 0, sizeof(c));
	c.dsp = *room_dsp(room);
	if (parse_cmd(&r->msg->prm, false, &c, why, sizeof(why))) {
		bad_request(r->conn, why);
		return;
	}
	if (memcmp(&c.dsp, room_dsp(room), sizeof(c.dsp)))
		room_set_dsp(room, &c.dsp);
	if (c.lock >= 0)
		room_set_lock(room, c.lock);
	if (c.bookmark)
		(void)room_bookmark(room, c.text, who(r));
	if (c.mute_all >= 0 && room_mute_all(room, c.mute_all)) {
		audit(r, room, NULL, c.what, 503);
		reply_error(r->conn, 503, "Service Unavailable",
			    "mixer busy, try again");
		return;
	}
	if (c.record >= 0 && room_set_record(room, c.record) &&
	    c.record && room_site_count(room)) {
		audit(r, room, NULL, c.what, 503);
		reply_error(r->conn, 503, "Service Unavailable",
			    "cannot record now (see the log)");
		return;
	}
	audit(r, room, NULL, c.what, 200);
	reply_json(r->conn, 200, "OK", view_room, room);
}

static int print_kicked(struct re_printf *pf, void *sid)
{
	return re_hprintf(pf, "{\"kicked\":%H}\n", json_pstr, sid);
}

static void post_local(struct req *r, struct room *room);

static void post_site(struct req *r)
{
	struct room *room = find_room(r->conn, &r->capv[0]);
	struct site *site = NULL;
	struct cmd c;
	char sid[32], why[200];

	if (!room)
		return;
	if (r->capv[1].l < sizeof(sid)) {
		pl_strcpy(&r->capv[1], sid, sizeof(sid));
		site = room_site_find(room, sid);
	}
	if (!site && room_lroom(room) && !strcmp(sid, "local")) {
		post_local(r, room);
		return;
	}
	if (!site) {
		reply_error(r->conn, 404, "Not Found", "no such site");
		return;
	}
	memset(&c, 0, sizeof(c));
	c.dsp = *site_dsp(site);
	c.ctl = *site_ctl(site);
	if (parse_cmd(&r->msg->prm, true, &c, why, sizeof(why))) {
		bad_request(r->conn, why);
		return;
	}
	if (c.kick) {
		audit(r, room, sid, c.what, 200);
		site_hangup(site, "removed by the operator");
		reply_json(r->conn, 200, "OK", print_kicked, sid);
		return;
	}
	if ((memcmp(&c.dsp, site_dsp(site), sizeof(c.dsp)) &&
	     site_set_dsp(site, &c.dsp)) ||
	    (memcmp(&c.ctl, site_ctl(site), sizeof(c.ctl)) &&
	     site_set_ctl(site, &c.ctl))) {
		audit(r, room, sid, c.what, 503);
		reply_error(r->conn, 503, "Service Unavailable",
			    "mixer busy, try again");
		return;
	}
	audit(r, room, sid, c.what, 200);
	reply_json(r->conn, 200, "OK", view_site, site);
}

/* The local room takes the operator's controls like a site; it cannot
 * be kicked, and its processing is set in the configuration. */
static void post_local(struct req *r, struct room *room)
{
	struct lroom *l = room_lroom(room);
	struct cmd c;
	char why[200];

	memset(&c, 0, sizeof(c));
	c.ctl = *lroom_ctl(l);
	if (parse_cmd(&r->msg->prm, true, &c, why, sizeof(why))) {
		bad_request(r->conn, why);
		return;
	}
	if (c.kick || c.dsp.proc.ns || c.dsp.proc.agc || c.dsp.proc.aec ||
	    c.dsp.chair) {
		bad_request(r->conn, "the local room takes mute, deaf, "
			    "gain_in_db and gain_out_db (it cannot be "
			    "kicked; its processing is in the "
			    "configuration)");
		return;
	}
	if (memcmp(&c.ctl, lroom_ctl(l), sizeof(c.ctl)) &&
	    lroom_set_ctl(l, &c.ctl)) {
		audit(r, room, "local", c.what, 503);
		reply_error(r->conn, 503, "Service Unavailable",
			    "mixer busy, try again");
		return;
	}
	audit(r, room, "local", c.what, 200);
	reply_json(r->conn, 200, "OK", lroom_print, l);
}

static void get_live(struct req *r)
{
	struct room *room = find_room(r->conn, &r->capv[0]);

	if (room && live_attach(r->conn, room))
		reply_error(r->conn, 500, "Internal Server Error",
			    "cannot start the live stream");
}

/* ---- accounts ----------------------------------------------------------- */

static int print_me(struct re_printf *pf, void *arg)
{
	const struct cfg_user *u = arg;

	if (!u)
		return re_hprintf(pf, "{\"user\":null,\"role\":\"operator\","
				  "\"accounts\":%s}\n",
				  json_bool(auth_enabled()));
	return re_hprintf(pf, "{\"user\":%H,\"role\":\"%s\","
			  "\"accounts\":true}\n", json_pstr, u->name,
			  u->operator ? "operator" : "viewer");
}

static void get_me(struct req *r)
{
	reply_json(r->conn, 200, "OK", print_me, (void *)r->user);
}

static void post_login(struct req *r)
{
	const struct http_msg *msg = r->msg;
	const struct cfg_user *u = NULL;
	struct pl body = PL_INIT, rest, key, val;
	char user[64] = "", pw[256] = "", token[AUTH_TOKEN_LEN + 1];
	struct mbuf *mb;
	enum auth_result res;

	if (!auth_enabled()) {
		reply_error(r->conn, 400, "Bad Request",
			    "this bridge has no accounts");
		return;
	}
	if (msg->mb && mbuf_get_left(msg->mb)) {
		body.p = (const char *)mbuf_buf(msg->mb);
		body.l = mbuf_get_left(msg->mb);
	}
	rest = body;
	while (!route_query_next(&rest, &key, &val)) {
		if (!pl_strcmp(&key, "user"))
			(void)route_decode(&val, user, sizeof(user));
		else if (!pl_strcmp(&key, "password"))
			(void)route_decode(&val, pw, sizeof(pw));
	}
	res = auth_login(user, pw, http_conn_peer(r->conn), token,
			 sizeof(token), &u);
	memset(pw, 0, sizeof(pw));
	if (res == AUTH_LIMITED) {
		reply_error(r->conn, 429, "Too Many Requests",
			    "too many failed logins: wait a minute");
		return;
	}
	if (res != AUTH_OK) {
		reply_error(r->conn, 401, "Unauthorized",
			    "wrong user or password");
		return;
	}
	mb = mbuf_alloc(256);
	if (!mb || mbuf_printf(mb, "%H", print_me, (void *)u)) {
		mem_deref(mb);
		http_ereply(r->conn, 500, "Internal Server Error");
		return;
	}
	(void)http_reply(r->conn, 200, "OK",
			 "Content-Type: application/json\r\n"
			 "Cache-Control: no-store\r\n"
			 "Set-Cookie: lb_session=%s; Path=/; HttpOnly; "
			 "SameSite=Strict%s\r\n"
			 "Content-Length: %zu\r\n\r\n%b", token,
			 api.tls ? "; Secure" : "", mb->end, mb->buf,
			 mb->end);
	mem_deref(mb);
}

static void post_logout(struct req *r)
{
	auth_logout(r->msg);
	(void)http_reply(r->conn, 200, "OK",
			 "Content-Type: application/json\r\n"
			 "Set-Cookie: lb_session=; Path=/; HttpOnly; "
			 "SameSite=Strict; Max-Age=0\r\n"
			 "Content-Length: 3\r\n\r\n{}\n");
}

/* ---- metrics and the page ----------------------------------------------- */

static void get_metrics(struct req *r)
{
	struct mbuf *mb = mbuf_alloc(16384);

	if (!mb || mbuf_printf(mb, "%H", view_metrics, api.rooms)) {
		mem_deref(mb);
		http_ereply(r->conn, 500, "Internal Server Error");
		return;
	}
	(void)http_reply(r->conn, 200, "OK",
			 "Content-Type: text/plain; version=0.0.4; "
			 "charset=utf-8\r\n"
			 "Cache-Control: no-store\r\n"
			 "Content-Length: %zu\r\n\r\n%b",
			 mb->end, mb->buf, mb->end);
	mem_deref(mb);
}

static void get_www(struct req *r)
{
	const struct www_file *f;

	f = r->capv[0].l ? www_find(r->capv[0].p, r->capv[0].l) :
		www_find("index.html", 10);
	if (!f) {
		reply_error(r->conn, 404, "Not Found", "no such page");
		return;
	}
	/* the console changes with the binary: always revalidate */
	(void)http_reply(r->conn, 200, "OK",
			 "Content-Type: %s\r\n"
			 "Cache-Control: no-cache\r\n"
			 "X-Content-Type-Options: nosniff\r\n"
			 "Content-Security-Policy: default-src 'self'; "
			 "media-src 'self' blob:; img-src 'self' data:\r\n"
			 "Content-Length: %zu\r\n\r\n%b", f->type, f->size,
			 f->data, f->size);
}

/* ---- recordings --------------------------------------------------------- */

struct rec_list_args {
	char room[64];
	char since[40];
};

static int print_rec_list(struct re_printf *pf, void *arg)
{
	const struct rec_list_args *a = arg;

	return rec_cmd_list(pf, api.data_dir, a->room, a->since, true);
}

static int print_rec_show(struct re_printf *pf, void *arg)
{
	return rec_cmd_show(pf, api.data_dir, arg, true);
}

static void get_recordings(struct req *r)
{
	struct rec_list_args a;
	struct pl rest = r->msg->prm, key, val;

	memset(&a, 0, sizeof(a));
	while (!route_query_next(&rest, &key, &val)) {
		if (!pl_strcmp(&key, "room"))
			(void)route_decode(&val, a.room, sizeof(a.room));
		else if (!pl_strcmp(&key, "since"))
			(void)route_decode(&val, a.since, sizeof(a.since));
	}
	reply_json(r->conn, 200, "OK", print_rec_list, &a);
}

static bool session_name_ok(const struct pl *p, char *buf, size_t sz)
{
	if (!p->l || p->l >= sz || memchr(p->p, '/', p->l) ||
	    (p->l <= 2 && p->p[0] == '.'))
		return false;
	pl_strcpy(p, buf, sz);
	return true;
}

static void get_recording(struct req *r)
{
	struct http_conn *conn = r->conn;
	const struct pl *capv = r->capv;
	char id[96], dir[512];

	if (!session_name_ok(&capv[0], id, sizeof(id)) ||
	    rec_find_session(api.data_dir, id, dir, sizeof(dir))) {
		reply_error(conn, 404, "Not Found", "no such recording");
		return;
	}
	reply_json(conn, 200, "OK", print_rec_show, id);
}

static const char *audio_type(const char *name)
{
	const char *ext = strrchr(name, '.');

	if (ext && !str_casecmp(ext, ".flac"))
		return "audio/flac";
	if (ext && !str_casecmp(ext, ".wav"))
		return "audio/wav";
	return "audio/ogg";
}

static void get_recording_file(struct req *r)
{
	struct http_conn *conn = r->conn;
	const struct pl *capv = r->capv;
	const struct http_hdr *hdr = http_msg_hdr(r->msg, HTTP_HDR_RANGE);
	char id[96], name[128], dir[512], path[768];
	uint64_t a = 0, b, len;
	struct stat st;
	uint8_t *buf;
	ssize_t got;
	int fd;

	if (!session_name_ok(&capv[0], id, sizeof(id)) ||
	    !session_name_ok(&capv[1], name, sizeof(name)) ||
	    !strcmp(name, "..") || name[0] == '.' ||
	    rec_find_session(api.data_dir, id, dir, sizeof(dir))) {
		reply_error(conn, 404, "Not Found", "no such recording");
		return;
	}
	re_snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		reply_error(conn, 404, "Not Found", "no such file");
		return;
	}
	b = st.st_size ? (uint64_t)st.st_size - 1 : 0;
	if (hdr && route_range(&hdr->val, (uint64_t)st.st_size, &a, &b)) {
		close(fd);
		(void)http_reply(conn, 416, "Range Not Satisfiable",
				 "Content-Range: bytes */%llu\r\n"
				 "Content-Length: 0\r\n\r\n",
				 (unsigned long long)st.st_size);
		return;
	}
	/* one bounded piece per request: players ask for the next */
	len = st.st_size ? b - a + 1 : 0;
	if (len > RANGE_MAX) {
		len = RANGE_MAX;
		b = a + len - 1;
	}
	buf = mem_alloc(len ? len : 1, NULL);
	got = buf && len ? pread(fd, buf, len, (off_t)a) : 0;
	close(fd);
	if (!buf || got < 0 || (uint64_t)got != len) {
		mem_deref(buf);
		reply_error(conn, 500, "Internal Server Error",
			    "cannot read the file");
		return;
	}
	if (hdr || len < (uint64_t)st.st_size)
		(void)http_reply(conn, 206, "Partial Content",
				 "Content-Type: %s\r\nAccept-Ranges: bytes\r\n"
				 "Content-Range: bytes %llu-%llu/%llu\r\n"
				 "Content-Length: %llu\r\n\r\n%b",
				 audio_type(name), (unsigned long long)a,
				 (unsigned long long)b,
				 (unsigned long long)st.st_size,
				 (unsigned long long)len, buf, (size_t)len);
	else
		(void)http_reply(conn, 200, "OK",
				 "Content-Type: %s\r\nAccept-Ranges: bytes\r\n"
				 "Content-Length: %llu\r\n\r\n%b",
				 audio_type(name), (unsigned long long)len,
				 buf, (size_t)len);
	mem_deref(buf);
}

/* ---- readiness test windows -------------------------------------------- */

static int print_ready(struct re_printf *pf, void *room)
{
	return ready_print(pf, room_ready(room));
}

static void get_test(struct req *r)
{
	struct room *room = find_room(r->conn, &r->capv[0]);

	if (room)
		reply_json(r->conn, 200, "OK", print_ready, room);
}

static void get_test_report(struct req *r)
{
	struct room *room = find_room(r->conn, &r->capv[0]);
	struct ready *rd;

	if (!room)
		return;
	rd = room_ready(room);
	if (!pl_strcmp(&r->capv[1], "report.json"))
		reply_json(r->conn, 200, "OK", print_ready, room);
	else if (!pl_strcmp(&r->capv[1], "report.csv"))
		reply_body(r->conn, 200, "OK", "text/csv; charset=utf-8",
			   "report.csv", ready_print_csv, rd);
	else if (!pl_strcmp(&r->capv[1], "report.html"))
		reply_body(r->conn, 200, "OK", "text/html; charset=utf-8",
			   NULL, ready_print_html, rd);
	else if (!pl_strcmp(&r->capv[1], "report.vi.html"))
		reply_body(r->conn, 200, "OK", "text/html; charset=utf-8",
			   NULL, ready_print_html_vi, rd);
	else
		reply_error(r->conn, 404, "Not Found", "report.json, "
			    "report.csv, report.html or report.vi.html");
}

/* action=open&minutes=N | complete | close | recheck&site=SID */
static void post_test(struct req *r)
{
	struct room *room = find_room(r->conn, &r->capv[0]);
	struct pl rest, key, val;
	char action[16] = "", site[32] = "", v[ROUTE_VALUE_MAX], why[200];
	uint32_t minutes = 30;
	int err;

	if (!room)
		return;
	rest = r->msg->prm;
	while (!route_query_next(&rest, &key, &val)) {
		if (route_decode(&val, v, sizeof(v))) {
			bad_request(r->conn, "bad value");
			return;
		}
		if (!pl_strcmp(&key, "action"))
			str_ncpy(action, v, sizeof(action));
		else if (!pl_strcmp(&key, "site"))
			str_ncpy(site, v, sizeof(site));
		else if (!pl_strcmp(&key, "minutes"))
			minutes = (uint32_t)strtoul(v, NULL, 10);
		else {
			re_snprintf(why, sizeof(why), "unknown key '%r' "
				    "(action, minutes, site)", &key);
			bad_request(r->conn, why);
			return;
		}
	}
	why[0] = '\0';
	if (!strcmp(action, "open")) {
		if (minutes < 1 || minutes > 24 * 60) {
			bad_request(r->conn, "minutes: 1-1440");
			return;
		}
		err = ready_open(room_ready(room),
				 time(NULL) + (time_t)minutes * 60, why,
				 sizeof(why));
	}
	else if (!strcmp(action, "complete")) {
		err = ready_complete(room_ready(room));
	}
	else if (!strcmp(action, "close")) {
		err = ready_close(room_ready(room));
	}
	else if (!strcmp(action, "recheck")) {
		err = ready_recheck(room_ready(room), site);
	}
	else {
		bad_request(r->conn, "action: open, complete, close or "
			    "recheck");
		return;
	}
	audit(r, room, site[0] ? site : NULL, action, err ? 409 : 200);
	if (err == ENOENT) {
		reply_error(r->conn, 409, "Conflict", site[0] ?
			    "no such site in an open test window" :
			    "no test window is open");
		return;
	}
	if (err) {
		reply_error(r->conn, 409, "Conflict", why[0] ? why :
			    "cannot do that now");
		return;
	}
	reply_json(r->conn, 200, "OK", print_ready, room);
}

static const struct route routes[] = {
	{M_GET,  "/",                        N_ANY,      get_www},
	{M_GET,  "/metrics",                 N_VIEWER,   get_metrics},
	{M_GET,  "/api/me",                  N_VIEWER,   get_me},
	{M_POST, "/api/login",               N_ANY,      post_login},
	{M_POST, "/api/logout",              N_ANY,      post_logout},
	{M_GET,  "/api/rooms",               N_VIEWER,   get_rooms},
	{M_GET,  "/api/rooms/{}",            N_VIEWER,   get_room},
	{M_POST, "/api/rooms/{}",            N_OPERATOR, post_room},
	{M_GET,  "/api/rooms/{}/live",       N_VIEWER,   get_live},
	{M_POST, "/api/rooms/{}/sites/{}",   N_OPERATOR, post_site},
	{M_GET,  "/api/rooms/{}/test",       N_VIEWER,   get_test},
	{M_POST, "/api/rooms/{}/test",       N_OPERATOR, post_test},
	{M_GET,  "/api/rooms/{}/test/{}",    N_VIEWER,   get_test_report},
	{M_GET,  "/api/recordings",          N_VIEWER,   get_recordings},
	{M_GET,  "/api/recordings/{}",       N_VIEWER,   get_recording},
	{M_GET,  "/api/recordings/{}/{}",    N_VIEWER,   get_recording_file},
	{M_GET,  "/{}",                      N_ANY,      get_www},
};

static bool from_page(const struct http_msg *msg)
{
	const struct http_hdr *acc = http_msg_xhdr(msg, "Accept");

	return http_msg_xhdr_has_value(msg, "X-Requested-With",
				       "lowbridge") ||
		http_msg_xhdr(msg, "Cookie") ||
		(acc && !re_regex(acc->val.p, acc->val.l,
				   "text/event-stream"));
}

/* @return true when the request may go on. */
static bool allowed(struct req *r, const struct route *rt)
{
	const struct sa *peer = http_conn_peer(r->conn);
	enum auth_result res;

	if (!auth_enabled()) {
		/* main.c refuses such an address; this is the second
		 * lock on the door */
		if (sa_is_loopback(peer))
			return true;
		reply_error(r->conn, 403, "Forbidden", "this bridge has no "
			    "accounts: it serves only its own computer");
		return false;
	}
	res = auth_check(r->msg, peer, &r->user);
	if (rt->need == N_ANY || (res == AUTH_OK && (rt->need == N_VIEWER ||
						     r->user->operator)))
		return true;
	if (res == AUTH_OK) {
		reply_error(r->conn, 403, "Forbidden",
			    "viewers cannot give commands");
		return false;
	}
	if (res == AUTH_LIMITED) {
		reply_error(r->conn, 429, "Too Many Requests",
			    "too many failed logins: wait a minute");
		return false;
	}
	/* the page has its own login form: no browser dialog for its
	 * requests (they say so), for a stale session cookie, or for the
	 * live stream and audio that cannot add a header */
	(void)http_reply(r->conn, 401, "Unauthorized",
			 "%s"
			 "Content-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n%s",
			 from_page(r->msg) ? "" :
			 "WWW-Authenticate: Basic realm=\"lowbridge\", "
			 "charset=\"UTF-8\"\r\n",
			 strlen(res == AUTH_NONE ?
				"{\"error\":\"log in first\"}\n" :
				"{\"error\":\"wrong user, password or "
				"session\"}\n"),
			 res == AUTH_NONE ? "{\"error\":\"log in first\"}\n" :
			 "{\"error\":\"wrong user, password or session\"}\n");
	return false;
}

static void req_handler(struct http_conn *conn, const struct http_msg *msg,
			void *arg)
{
	struct route_path rp;
	struct req r;
	unsigned m = 0, allow = 0;
	size_t i;
	(void)arg;

	memset(&r, 0, sizeof(r));
	r.conn = conn;
	r.msg = msg;
	if (!pl_strcmp(&msg->met, "GET") || !pl_strcmp(&msg->met, "HEAD"))
		m = M_GET;
	else if (!pl_strcmp(&msg->met, "POST"))
		m = M_POST;

	if (route_split(&rp, &msg->path)) {
		reply_error(conn, 400, "Bad Request", "malformed path");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(routes); i++) {
		if (!route_match(&rp, routes[i].pattern, r.capv,
				 ARRAY_SIZE(r.capv)))
			continue;
		if (routes[i].methods & m) {
			if (allowed(&r, &routes[i]))
				routes[i].h(&r);
			return;
		}
		allow |= routes[i].methods;
	}
	if (!allow) {
		reply_error(conn, 404, "Not Found", "no such resource");
		return;
	}
	(void)http_reply(conn, 405, "Method Not Allowed",
			 "Allow: %s\r\n"
			 "Content-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n%s",
			 allow == (M_GET | M_POST) ? "GET, HEAD, POST" :
			 allow == M_POST ? "POST" : "GET, HEAD",
			 strlen("{\"error\":\"method not allowed\"}\n"),
			 "{\"error\":\"method not allowed\"}\n");
}

int http_api_init(const struct sa *laddr, const char *tls_cert,
		  struct room_set *rooms, const char *data_dir)
{
	char path[CFG_PATH_MAX + 16];
	int err;

	api.rooms = rooms;
	str_ncpy(api.data_dir, data_dir, sizeof(api.data_dir));
	re_snprintf(path, sizeof(path), "%s/audit.log", data_dir);
	api.audit = fopen(path, "ae");
	if (!api.audit)
		log_warn("cannot open %s: %m (commands are only logged)\n",
			 path, errno);
	api.tls = tls_cert && tls_cert[0];
	if (api.tls)
		err = https_listen(&api.sock, laddr, tls_cert, req_handler,
				   NULL);
	else
		err = http_listen(&api.sock, laddr, req_handler, NULL);
	if (err)
		log_err("cannot listen on http%s %J: %m\n",
			api.tls ? "s" : "", laddr, err);
	return err;
}

void http_api_close(void)
{
	api.sock = mem_deref(api.sock);
	if (api.audit)
		(void)fclose(api.audit);
	api.audit = NULL;
}
