/**
 * @file top.c  `lowbridge top`: the operator's console in a terminal, for
 * an operator on SSH during a meeting of dozens to hundreds of sites. It
 * shows what the web console shows and gives the same commands, through
 * the bridge's HTTP API only, so it runs anywhere the API reaches and
 * never touches the bridge's state directly.
 *
 *   header   room, sites, locked / mute-all / recording / test run,
 *            clock
 *   roster   the expected sites: missing, left, unknown callers, late,
 *            connected (in that order: what needs a call comes first)
 *   sites    one row each: input meter (-60..0 dBFS) with peak and clip
 *            mark, talking and voice, AGC gain, echo, loss, jitter, gain
 *            in, muted and deaf; scrolls with the selection
 *   alarms   the room's alarms, then the result of the last command
 *
 *   Up/Down  select          PgUp/PgDn, Home/End  by page / to the ends
 *   t  the next site talking
 *   m  mute / unmute         d  deaf / undeaf
 *   k  kick (asks y/n)       + / -  gain in +-3 dB (-20..20)
 *   L  lock / unlock room    q  quit (Ctrl-C too)
 *
 * A kick always asks y/n first: a slip of the finger must not remove a
 * commune from the meeting.
 *
 * Figures: GET /api/rooms/ID five times a second. One request carries
 * the roster, alarms and every site's meters, so the screen is always
 * one consistent snapshot, and a lost connection needs no stream state
 * rebuilt. Commands are POSTs with the value in the query. A poll that
 * started before a command was answered may show the old state; it is
 * dropped and asked again, so a second press of m toggles what the
 * screen shows, not what it showed.
 *
 * HTTP: a small HTTP/1.1 client over libre's TCP (one connection per
 * request, closed by us once Content-Length bytes are in). libre
 * 1.1.0's http_client needs a DNS client and a TLS context, keeps a
 * request for up to 60 s when the bridge hangs, and refuses bodies over
 * 512 kB (a room of a few hundred sites). Every request here gives up
 * after REQ_TIMEOUT_MS; the bridge going away shows on the status line
 * and the console retries each RETRY_MS, never faster.
 *
 * Credentials: with --user, HTTP Basic on every request; the password
 * is read before curses starts. A bad password is not retried at poll
 * rate, because each try costs the bridge a deliberately slow hash.
 *
 * Threads: one, the command's; libre's re_main runs the timer, the
 * sockets and the keys (fd_listen on stdin). libre's own messages are
 * silenced while curses owns the screen.
 */
#include <re.h>
#define DEBUG_MODULE "top"
#define DEBUG_LEVEL 0
#include <re_dbg.h>
#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>
#include <curses.h>
#include "lbtime.h"
#include "top.h"

#define TICK_MS          100     /* keys, resize, clock */
#define POLL_MS          200     /* the room's figures: 5 Hz */
#define RETRY_MS         1000    /* bridge unreachable or failing */
#define AUTH_RETRY_MS    10000   /* 401/429: each try costs an Argon2 */
#define REQ_TIMEOUT_MS   3000
#define BODY_MAX         (16u << 20)
#define JSON_DEPTH       16
#define JSON_HASH        16

#define METER_FLOOR_DBFS (-60.0)
#define METER_WARN_DBFS  (-18.0)  /* yellow above: loud */
#define METER_HOT_DBFS   (-6.0)   /* red above: near clipping */
#define CLIP_DBFS        (-0.5)   /* as the bridge's clipping alarm */
#define ECHO_WARN        0.5      /* echo likelihood shown in red */
#define GAIN_STEP_DB     3
#define GAIN_MAX_DB      20

#define MIN_COLS         72
#define MIN_LINES        14
#define MARK_COLS        2       /* "> " on the selected row */
#define ID_COLS          6       /* "s1234 " */
/* a site row without its name and meter: marker, id, blank, meter
 * frame and clip mark, dB, TV, AGC, ECHO, LOSS, JIT, GIN, MUTE, DEAF */
#define ROW_FIXED_COLS   57

enum {
	P_GREEN = 1,
	P_YELLOW,
	P_RED,
	P_CYAN,
	P_MAGENTA,
};

/* ---- a small HTTP/1.1 client -------------------------------------------- */

struct hreq;

typedef void (hreq_h)(int err, uint16_t scode, const char *reason,
		      const char *body, size_t len, void *arg);

struct hreq {
	struct hreq **reqp;              /* the owner's pointer, cleared */
	struct tcp_conn *tc;
	struct mbuf *out;                /* the request */
	struct mbuf *in;                 /* the response so far */
	struct tmr tmr;
	hreq_h *h;
	void *arg;
	size_t body_pos;                 /* where the body starts in in */
	uint32_t clen;
	bool have_head;
	bool have_clen;
	uint16_t scode;
	char reason[64];
};

static void hreq_destructor(void *arg)
{
	struct hreq *req = arg;

	tmr_cancel(&req->tmr);
	mem_deref(req->tc);
	mem_deref(req->out);
	mem_deref(req->in);
}

/* The one way out: the owner's pointer is cleared before the handler
 * runs, so the handler may start the next request at once. */
static void hreq_done(struct hreq *req, int err)
{
	hreq_h *h = req->h;
	const char *body = NULL;
	size_t len = 0;

	if (req->reqp)
		*req->reqp = NULL;
	req->reqp = NULL;
	req->h = NULL;
	if (!err && req->have_head) {
		body = (const char *)req->in->buf + req->body_pos;
		len = req->in->end - req->body_pos;
		if (req->have_clen && len > req->clen)
			len = req->clen;
	}
	if (h)
		h(err, req->scode, req->reason, body, len, req->arg);
	mem_deref(req);
}

static void hreq_estab(void *arg)
{
	struct hreq *req = arg;
	int err;

	req->out->pos = 0;
	err = tcp_send(req->tc, req->out);
	if (err)
		hreq_done(req, err);
}

/* Headers once they are all in; then the body until Content-Length (or
 * until the bridge closes, for a response without one). */
static void hreq_recv(struct mbuf *mb, void *arg)
{
	struct hreq *req = arg;
	struct http_msg *msg = NULL;
	size_t n = mbuf_get_left(mb);
	int err;

	if (req->in->end + n > BODY_MAX) {
		hreq_done(req, EOVERFLOW);
		return;
	}
	req->in->pos = req->in->end;
	err = mbuf_write_mem(req->in, mbuf_buf(mb), n);
	if (err) {
		hreq_done(req, err);
		return;
	}
	if (!req->have_head) {
		req->in->pos = 0;
		err = http_msg_decode(&msg, req->in, false);
		if (err == ENODATA)
			return;
		if (err) {
			hreq_done(req, EPROTO);
			return;
		}
		/* msg points into in, which grows: copy what we need */
		req->body_pos = req->in->pos;
		req->scode = msg->scode;
		pl_strcpy(&msg->reason, req->reason, sizeof(req->reason));
		req->have_clen = http_msg_hdr(msg, HTTP_HDR_CONTENT_LENGTH)
			!= NULL;
		req->clen = msg->clen;
		err = http_msg_hdr_has_value(msg, HTTP_HDR_TRANSFER_ENCODING,
					     "chunked") ? ENOTSUP : 0;
		mem_deref(msg);
		if (err) {
			hreq_done(req, err);
			return;
		}
		req->have_head = true;
	}
	if (req->have_clen && req->in->end - req->body_pos >= req->clen)
		hreq_done(req, 0);
}

static void hreq_close(int err, void *arg)
{
	struct hreq *req = arg;

	if (!err && req->have_head && !req->have_clen)
		hreq_done(req, 0);
	else
		hreq_done(req, err ? err : ECONNRESET);
}

static void hreq_timeout(void *arg)
{
	hreq_done(arg, ETIMEDOUT);
}

/**
 * Send met path (with its query) to srv. The answer, or the error,
 * reaches h exactly once, unless *reqp is dereferenced first.
 */
static int hreq_start(struct hreq **reqp, const struct sa *srv,
		      const char *auth, const char *met, const char *path,
		      hreq_h *h, void *arg)
{
	struct hreq *req;
	int err;

	req = mem_zalloc(sizeof(*req), hreq_destructor);
	if (!req)
		return ENOMEM;
	tmr_init(&req->tmr);
	req->h = h;
	req->arg = arg;
	req->out = mbuf_alloc(512);
	req->in = mbuf_alloc(16384);
	if (!req->out || !req->in) {
		err = ENOMEM;
		goto out;
	}
	/* Content-Length: 0 on a POST: some servers wait for a body */
	err = mbuf_printf(req->out, "%s %s HTTP/1.1\r\nHost: %J\r\n"
			  "User-Agent: lowbridge-top/%s\r\n"
			  "Accept: application/json\r\n%s%s\r\n",
			  met, path, srv, LB_VERSION, auth,
			  strcmp(met, "GET") ? "Content-Length: 0\r\n" : "");
	if (err)
		goto out;
	err = tcp_connect(&req->tc, srv, hreq_estab, hreq_recv, hreq_close,
			  req);
	if (err)
		goto out;
	tmr_start(&req->tmr, REQ_TIMEOUT_MS, hreq_timeout, req);
	req->reqp = reqp;
	*reqp = req;
 out:
	if (err)
		mem_deref(req);
	return err;
}

/* ---- JSON --------------------------------------------------------------- */

/* odict_get_number() of libre 1.1.0 casts a double to uint64_t, which
 * is undefined for the negative dBFS figures: read the entry itself. */
static double jnum(const struct odict *o, const char *key, double def)
{
	const struct odict_entry *e = o ? odict_lookup(o, key) : NULL;

	if (e && e->type == ODICT_DOUBLE)
		return e->u.dbl;
	if (e && e->type == ODICT_INT)
		return (double)e->u.integer;
	return def;
}

static bool jbool(const struct odict *o, const char *key)
{
	const struct odict_entry *e = o ? odict_lookup(o, key) : NULL;

	return e && e->type == ODICT_BOOL && e->u.boolean;
}

static bool jhas(const struct odict *o, const char *key)
{
	return o && odict_lookup(o, key);
}

static const char *jstr(const struct odict *o, const char *key)
{
	const char *s = odict_string(o, key);

	return s ? s : "";
}

/* an object or an array (libre keeps both as an odict) */
static const struct odict *jsub(const struct odict *o, const char *key)
{
	const struct odict_entry *e = o ? odict_lookup(o, key) : NULL;

	if (e && (e->type == ODICT_OBJECT || e->type == ODICT_ARRAY))
		return e->u.odict;
	return NULL;
}

/* the objects of an array, in order */
static const struct odict *jnext(const struct odict *arr, struct le **lep)
{
	struct le *le = *lep ? (*lep)->next : arr ? arr->lst.head : NULL;

	for (; le; le = le->next) {
		const struct odict_entry *e = le->data;

		if (e->type == ODICT_OBJECT) {
			*lep = le;
			return e->u.odict;
		}
	}
	*lep = NULL;
	return NULL;
}

/* ---- state -------------------------------------------------------------- */

/* a site's row: its JSON object in the last answer, which owns it */
struct srow {
	const struct odict *o;
	const char *id;
	const char *expected;            /* its roster name, NULL: unknown */
};

static struct {
	struct sa srv;
	char room_id[64];
	char auth[640];                  /* the header line, or "" */
	bool has_user;

	struct hreq *get;                /* the poll in flight */
	struct hreq *cmd;                /* the command in flight */
	struct tmr tmr;
	uint64_t next_ms;                /* next poll, tmr_jiffies() */
	uint32_t cmd_seq;                /* commands answered */
	uint32_t get_seq;                /* cmd_seq when the poll started */

	struct odict *room;              /* the last good answer */
	struct srow *rowv;
	size_t rowc;
	size_t rowsz;
	uint64_t ok_ms;                  /* when it came */
	bool ever_ok;

	char sel_id[64];                 /* the selected site */
	size_t sel;
	size_t top;                      /* first row shown */
	int page;                        /* rows shown */

	char status[256];                /* the last command's result */
	bool status_bad;
	char conn_err[256];              /* why there are no fresh figures */
	char conn_why[128];              /* ... in detail, shown last */
	char cmd_ok[128];                /* the status if the command works */
	char kick_id[64];                /* asking y/n */
	char fatal[320];                 /* printed after curses ends */
	int exit_code;

	bool colour;
	int idle_reads;                  /* stdin readable, no key: EOF? */
} t;

static void quit(int code, const char *fmt, ...)
{
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		(void)re_vsnprintf(t.fatal, sizeof(t.fatal), fmt, ap);
		va_end(ap);
	}
	t.exit_code = code;
	re_cancel();
}

static void set_status(bool bad, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)re_vsnprintf(t.status, sizeof(t.status), fmt, ap);
	va_end(ap);
	t.status_bad = bad;
}

/* percent-encode an id for a path or query */
static void enc(char *out, size_t sz, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (; *s && n + 4 < sz; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c)) {
			out[n++] = (char)c;
			continue;
		}
		out[n++] = '%';
		out[n++] = hex[c >> 4];
		out[n++] = hex[c & 15];
	}
	out[n] = '\0';
}

/* "403 forbidden: viewers cannot give commands", from the API's
 * {"error": "..."} when there is one */
static void api_error(char *buf, size_t sz, uint16_t scode,
		      const char *reason, const char *body, size_t len)
{
	struct odict *o = NULL;
	char lower[64];
	size_t i;

	for (i = 0; reason[i] && i + 1 < sizeof(lower); i++)
		lower[i] = (char)tolower((unsigned char)reason[i]);
	lower[i] = '\0';
	if (body && len)
		(void)json_decode_odict(&o, 4, body, len, 4);
	if (odict_string(o, "error"))
		re_snprintf(buf, sz, "%u %s: %s", scode, lower,
			    odict_string(o, "error"));
	else
		re_snprintf(buf, sz, "%u %s", scode, lower);
	mem_deref(o);
}

/* ---- the room's figures ------------------------------------------------- */

/*
 * The rows of a new answer, in the bridge's order (the order sites
 * joined, which keeps a row where the operator last saw it), each with
 * the roster name it was expected under. Called once an answer, not
 * once a draw: the screen is redrawn ten times a second.
 */
static int rows_index(void)
{
	const struct odict *sites = jsub(t.room, "sites");
	const struct odict *exp = jsub(t.room, "expected");
	const struct odict *s, *e;
	struct le *le = NULL;
	size_t n = sites ? list_count(&sites->lst) : 0, i;

	if (n > t.rowsz) {
		struct srow *v = t.rowv ? mem_realloc(t.rowv, n * sizeof(*v)) :
			mem_alloc(n * sizeof(*v), NULL);

		if (!v)
			return ENOMEM;
		t.rowv = v;
		t.rowsz = n;
	}
	t.rowc = 0;
	while ((s = jnext(sites, &le)) && t.rowc < t.rowsz) {
		struct srow *r = &t.rowv[t.rowc++];

		r->o = s;
		r->id = jstr(s, "id");
		r->expected = NULL;
	}
	/* an expected site names the site it is connected as ("site") */
	le = NULL;
	while ((e = jnext(exp, &le))) {
		const char *sid = jstr(e, "site");

		for (i = 0; sid[0] && i < t.rowc; i++) {
			if (!strcmp(t.rowv[i].id, sid)) {
				t.rowv[i].expected = jstr(e, "name");
				break;
			}
		}
	}
	/* the selection follows its site when others join or leave */
	for (i = 0; i < t.rowc; i++) {
		if (!strcmp(t.rowv[i].id, t.sel_id)) {
			t.sel = i;
			return 0;
		}
	}
	/* it left: the row that took its place */
	if (t.sel >= t.rowc)
		t.sel = t.rowc ? t.rowc - 1 : 0;
	str_ncpy(t.sel_id, t.rowc ? t.rowv[t.sel].id : "", sizeof(t.sel_id));
	return 0;
}

static void poll_start(void);

/* Before the first answer a 401, 403 or 404 will not go away by
 * itself: say so and end. Later (a restarted bridge with other
 * accounts, a room removed) the console keeps trying. */
static bool refused(uint16_t scode, const char *reason, const char *body,
		    size_t len)
{
	char why[256];

	api_error(why, sizeof(why), scode, reason, body, len);
	if (!t.ever_ok && scode == 401 && !t.has_user) {
		quit(1, "%s (the bridge has accounts: lowbridge top --user "
		     "NAME)", why);
		return true;
	}
	if (!t.ever_ok && (scode == 401 || scode == 403 || scode == 404)) {
		quit(1, "%s", why);
		return true;
	}
	re_snprintf(t.conn_err, sizeof(t.conn_err), "%s, retrying", why);
	t.conn_why[0] = '\0';
	t.next_ms = tmr_jiffies() + (scode == 401 || scode == 429 ?
				     AUTH_RETRY_MS : RETRY_MS);
	return false;
}

static void unreachable(int err)
{
	str_ncpy(t.conn_err, "bridge unreachable, retrying",
		 sizeof(t.conn_err));
	re_snprintf(t.conn_why, sizeof(t.conn_why), "%J: %m", &t.srv, err);
	t.next_ms = tmr_jiffies() + RETRY_MS;
}

static void draw(void);

/* An answer to GET /api/rooms/ID. A failed poll keeps the last good
 * figures on screen, marked with their age on the status line. */
static void on_room(int err, uint16_t scode, const char *reason,
		    const char *body, size_t len, void *arg)
{
	struct odict *o = NULL;
	(void)arg;

	if (err) {
		unreachable(err);
		goto out;
	}
	if (scode != 200) {
		if (refused(scode, reason, body, len))
			return;
		goto out;
	}
	if (t.get_seq != t.cmd_seq) {
		/* started before the last command was applied */
		t.next_ms = 0;
		poll_start();
		return;
	}
	err = json_decode_odict(&o, JSON_HASH, body, len, JSON_DEPTH);
	if (err || !jsub(o, "sites")) {
		re_snprintf(t.conn_err, sizeof(t.conn_err), "the bridge's "
			    "answer is not a room (%m), retrying",
			    err ? err : EPROTO);
		t.conn_why[0] = '\0';
		t.next_ms = tmr_jiffies() + RETRY_MS;
		mem_deref(o);
		goto out;
	}
	mem_deref(t.room);
	t.room = o;
	if (rows_index()) {
		t.rowc = 0;
		set_status(true, "out of memory");
	}
	t.ok_ms = tmr_jiffies();
	t.ever_ok = true;
	t.conn_err[0] = '\0';
 out:
	draw();
}

/* With no --room: the first room the bridge lists. */
static void on_rooms(int err, uint16_t scode, const char *reason,
		     const char *body, size_t len, void *arg)
{
	struct odict *o = NULL;
	const struct odict *room;
	struct le *le = NULL;
	(void)arg;

	if (err) {
		unreachable(err);
		goto out;
	}
	if (scode != 200) {
		if (refused(scode, reason, body, len))
			return;
		goto out;
	}
	(void)json_decode_odict(&o, JSON_HASH, body, len, JSON_DEPTH);
	room = jnext(jsub(o, "rooms"), &le);
	if (!room || !jstr(room, "id")[0]) {
		re_snprintf(t.conn_err, sizeof(t.conn_err),
			    "the bridge has no rooms, retrying");
		t.conn_why[0] = '\0';
		t.next_ms = tmr_jiffies() + RETRY_MS;
	}
	else {
		str_ncpy(t.room_id, jstr(room, "id"), sizeof(t.room_id));
		t.next_ms = 0;
		poll_start();
	}
	mem_deref(o);
 out:
	draw();
}

/* The next GET, unless one is in flight or its time has not come
 * (next_ms: the poll period, or the back-off after an error). */
static void poll_start(void)
{
	char path[256], id[200];
	int err;

	if (t.get || tmr_jiffies() < t.next_ms)
		return;
	t.next_ms = tmr_jiffies() + POLL_MS;
	t.get_seq = t.cmd_seq;
	if (t.room_id[0]) {
		enc(id, sizeof(id), t.room_id);
		re_snprintf(path, sizeof(path), "/api/rooms/%s", id);
	}
	else {
		str_ncpy(path, "/api/rooms", sizeof(path));
	}
	err = hreq_start(&t.get, &t.srv, t.auth, "GET", path,
			 t.room_id[0] ? on_room : on_rooms, NULL);
	if (err)
		unreachable(err);
}

/* ---- commands ----------------------------------------------------------- */

static void on_cmd(int err, uint16_t scode, const char *reason,
		   const char *body, size_t len, void *arg)
{
	(void)arg;

	if (err == ETIMEDOUT) {
		/* it may have reached a bridge that hangs: say so */
		set_status(true, "no answer to the command in %u s (it may "
			   "still apply)", REQ_TIMEOUT_MS / 1000);
	}
	else if (err) {
		set_status(true, "command failed: bridge unreachable (%m)",
			   err);
	}
	else if (scode != 200) {
		api_error(t.status, sizeof(t.status), scode, reason, body,
			  len);
		t.status_bad = true;
	}
	else {
		set_status(false, "%s", t.cmd_ok);
		/* show the new state at once, not the poll in flight */
		++t.cmd_seq;
		t.next_ms = 0;
		poll_start();
	}
	draw();
}

/* POST the room (sid NULL) or one of its sites; ok is the status line
 * when it works. One command at a time: a second toggle sent before the
 * first is answered would be computed from the state before both. */
static void command(const char *sid, const char *query, const char *ok)
{
	char path[320], rid[100], id[100];
	int err;

	if (t.cmd) {
		set_status(true, "busy: the last command is not answered "
			   "yet");
		return;
	}
	enc(rid, sizeof(rid), t.room_id);
	if (sid) {
		enc(id, sizeof(id), sid);
		re_snprintf(path, sizeof(path), "/api/rooms/%s/sites/%s?%s",
			    rid, id, query);
	}
	else {
		re_snprintf(path, sizeof(path), "/api/rooms/%s?%s", rid,
			    query);
	}
	str_ncpy(t.cmd_ok, ok, sizeof(t.cmd_ok));
	err = hreq_start(&t.cmd, &t.srv, t.auth, "POST", path, on_cmd,
			 NULL);
	if (err)
		set_status(true, "command not sent: %m", err);
	else
		set_status(false, "%s ...", query);
}

/* the site a key acts on; the status line says why there is none */
static const struct odict *selected(void)
{
	if (!t.rowc) {
		set_status(true, t.room ? "no site to act on" :
			   "no figures from the bridge yet");
		return NULL;
	}
	return t.rowv[t.sel].o;
}

/* m and d: the opposite of what the screen shows for the selected
 * site (a row without the field is still ringing: nothing to toggle) */
static void toggle(const char *key, const char *field, const char *on,
		   const char *off)
{
	const struct odict *s = selected();
	const char *id = jstr(s, "id");
	char query[64], ok[128];
	bool now;

	if (!s)
		return;
	if (!jhas(s, field)) {
		set_status(true, "%s is not in the meeting yet", id);
		return;
	}
	now = jbool(s, field);
	re_snprintf(query, sizeof(query), "%s=%s", key, now ? "off" : "on");
	re_snprintf(ok, sizeof(ok), "%s %s", now ? off : on, id);
	command(id, query, ok);
}

/* + and -: whole dB in GAIN_STEP_DB steps within the API's range; a
 * gain set elsewhere to a fraction is rounded first. At the end of the
 * range the key says so instead of sending a request that changes
 * nothing. */
static void gain_step(int step_db)
{
	const struct odict *s = selected();
	const char *id = jstr(s, "id");
	char query[64], ok[128];
	long db;

	if (!s)
		return;
	if (!jhas(s, "gain_in_db")) {
		set_status(true, "%s is not in the meeting yet", id);
		return;
	}
	db = lround(jnum(s, "gain_in_db", 0)) + step_db;
	if (db > GAIN_MAX_DB)
		db = GAIN_MAX_DB;
	if (db < -GAIN_MAX_DB)
		db = -GAIN_MAX_DB;
	if (db == lround(jnum(s, "gain_in_db", 0))) {
		set_status(true, "%s: gain in is already %ld dB (%d..%d)", id,
			   db, -GAIN_MAX_DB, GAIN_MAX_DB);
		return;
	}
	(void)snprintf(query, sizeof(query), "gain_in_db=%ld", db);
	(void)snprintf(ok, sizeof(ok), "%s gain in %+ld dB", id, db);
	command(id, query, ok);
}

static void ask_kick(void)
{
	const struct odict *s = selected();

	if (!s)
		return;
	str_ncpy(t.kick_id, jstr(s, "id"), sizeof(t.kick_id));
}

static void lock_toggle(void)
{
	bool locked = jbool(t.room, "locked");
	char ok[128];

	if (!t.room) {
		set_status(true, "no figures from the bridge yet");
		return;
	}
	re_snprintf(ok, sizeof(ok), "%s room %s", locked ? "unlocked" :
		    "locked", t.room_id);
	command(NULL, locked ? "lock=off" : "lock=on", ok);
}

/* ---- drawing ------------------------------------------------------------ */

static attr_t colour(int pair)
{
	return t.colour ? COLOR_PAIR(pair) : A_NORMAL;
}

/*
 * Put s at (y, x) in at most cols screen columns, and blanks after it
 * when pad. Names come from SIP display names and the configuration, in
 * Vietnamese as often as not: count columns, not bytes; a byte that is
 * not a character of the locale shows as '?'. @return columns used.
 */
static int put(int y, int x, const char *s, int cols, bool pad)
{
	mbstate_t st;
	int used = 0;

	memset(&st, 0, sizeof(st));
	move(y, x);
	while (*s && used < cols) {
		wchar_t wc;
		size_t n = mbrtowc(&wc, s, strlen(s), &st);
		int w;

		if (n == (size_t)-1 || n == (size_t)-2) {
			memset(&st, 0, sizeof(st));
			addch('?');
			++used;
			++s;
			continue;
		}
		if (n == 0)
			break;
		w = wcwidth(wc);
		if (w < 0) {
			addch(' ');
			++used;
			s += n;
			continue;
		}
		if (used + w > cols)
			break;
		addnstr(s, (int)n);
		used += w;
		s += n;
	}
	while (pad && used < cols) {
		addch(' ');
		++used;
	}
	return used;
}

static int putf(int y, int x, int cols, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return put(y, x, buf, cols, false);
}

static int meter_cells(double dbfs, int w)
{
	if (!(dbfs > METER_FLOOR_DBFS))
		return 0;
	if (dbfs >= 0)
		return w;
	return (int)lround((dbfs - METER_FLOOR_DBFS) / -METER_FLOOR_DBFS * w);
}

/* [####....|...]! : level, peak mark beyond it, clip mark; the colours
 * follow the cell's dBFS so a loud site is seen at a glance */
static void draw_meter(int y, int x, int w, double level, double peak,
		       bool clip)
{
	int fill = meter_cells(level, w), pk = meter_cells(peak, w) - 1;
	int i;

	mvaddch(y, x, '[');
	for (i = 0; i < w; i++) {
		double db = METER_FLOOR_DBFS +
			(i + 1) * -METER_FLOOR_DBFS / w;
		int pair = db > METER_HOT_DBFS ? P_RED :
			db > METER_WARN_DBFS ? P_YELLOW : P_GREEN;

		if (i < fill)
			addch('#' | colour(pair));
		else if (i == pk)
			addch('|' | colour(pair) | A_BOLD);
		else
			addch('.');
	}
	addch(']');
	addch(clip ? ('!' | colour(P_RED) | A_BOLD) : ' ');
}

static void appendf(char *buf, size_t sz, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 1 >= sz)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(buf + n, sz - n, fmt, ap);
	va_end(ap);
}

/* screen columns of a UTF-8 string (bytes if the locale cannot tell) */
static int text_cols(const char *s)
{
	wchar_t wv[256];
	mbstate_t st;
	const char *p = s;
	size_t n;
	int w;

	memset(&st, 0, sizeof(st));
	n = mbsrtowcs(wv, &p, ARRAY_SIZE(wv) - 1, &st);
	if (n == (size_t)-1 || p)
		return (int)strlen(s);
	wv[n] = L'\0';
	w = wcswidth(wv, n);
	return w < 0 ? (int)strlen(s) : w;
}

/* the bridge's own judgement (its clipping alarm) next to the peak the
 * console sees: a clip between two polls still shows */
static bool has_alarm(const char *kind, const char *sid)
{
	const struct odict *a;
	struct le *le = NULL;

	while ((a = jnext(jsub(t.room, "alarms"), &le))) {
		if (!strcmp(jstr(a, "kind"), kind) &&
		    !strcmp(jstr(a, "site"), sid))
			return true;
	}
	return false;
}

static void fmt_hms(char *buf, size_t sz, double s)
{
	unsigned long v = s > 0 ? (unsigned long)s : 0;

	(void)snprintf(buf, sz, "%lu:%02lu:%02lu", v / 3600, v / 60 % 60,
		       v % 60);
}

static void draw_header(void)
{
	const struct odict *rec = jsub(t.room, "recording");
	const struct odict *test = jsub(t.room, "test");
	char line[512], hms[32], clock[16];
	time_t now = time(NULL);
	struct tm tm;

	(void)strftime(clock, sizeof(clock), "%H:%M:%S",
		       localtime_r(&now, &tm));
	if (!t.room) {
		(void)snprintf(line, sizeof(line), " lowbridge top  %s",
			       t.room_id[0] ? t.room_id : "");
	}
	else {
		(void)snprintf(line, sizeof(line), " room %s %s | %.0f "
			       "connected", jstr(t.room, "id"),
			       jstr(t.room, "name"),
			       jnum(t.room, "site_count", (double)t.rowc));
		if (jbool(t.room, "locked"))
			appendf(line, sizeof(line), " | LOCKED");
		if (jbool(t.room, "mute_all"))
			appendf(line, sizeof(line), " | MUTE ALL");
		fmt_hms(hms, sizeof(hms), jnum(rec, "seconds", 0));
		/* on, and no session until the first site joins */
		if (jbool(rec, "on") && !jhas(rec, "session"))
			appendf(line, sizeof(line), " | REC armed");
		else if (jbool(rec, "on"))
			appendf(line, sizeof(line), " | REC %s%s", hms,
				jbool(rec, "paused") ? " PAUSED" : "");
		else if (rec)
			appendf(line, sizeof(line), " | not recording");
		/* a readiness test run (docs/readiness.md) */
		if (!strcmp(jstr(test, "state"), "open") ||
		    !strcmp(jstr(test, "state"), "complete"))
			appendf(line, sizeof(line), " | TEST RUN%s %.0f/%.0f "
				"passed", !strcmp(jstr(test, "state"),
						  "complete") ?
				" COMPLETE" : "", jnum(test, "passed", 0),
				jnum(test, "expected", 0));
	}
	attron(A_REVERSE);
	put(0, 0, line, COLS - 10, true);
	put(0, COLS - 10, clock, 10, true);
	attroff(A_REVERSE);
}

/* what needs a call first */
static int state_rank(const char *st)
{
	return !strcmp(st, "missing") ? 0 : !strcmp(st, "left") ? 1 :
		!strcmp(st, "late") ? 3 : 4;
}

static int state_pair(const char *st)
{
	return !strcmp(st, "missing") ? P_RED : !strcmp(st, "left") ?
		P_MAGENTA : !strcmp(st, "late") || !strcmp(st, "unknown") ?
		P_YELLOW : P_GREEN;
}

/* One roster entry "NAME: state (contact phone)" at (*y, *x), wrapping
 * to the next of the lines y0..ymax. @return false once full. */
static bool roster_item(int *y, int *x, int ymax, const char *name,
			const char *state, const char *more)
{
	char item[256];
	int w;

	(void)snprintf(item, sizeof(item), "%s: %s%s%s", name, state,
		       more[0] ? " " : "", more);
	w = text_cols(item);
	if (*x > 0 && *x + w > COLS) {
		if (*y >= ymax)
			return false;
		++*y;
		*x = 0;
	}
	*x += put(*y, *x, name, COLS - *x, false);
	*x += put(*y, *x, ": ", COLS - *x, false);
	attron(colour(state_pair(state)) | A_BOLD);
	*x += put(*y, *x, state, COLS - *x, false);
	attroff(colour(state_pair(state)) | A_BOLD);
	if (more[0]) {
		*x += put(*y, *x, " ", COLS - *x, false);
		*x += put(*y, *x, more, COLS - *x, false);
	}
	*x += put(*y, *x, "   ", COLS - *x, false);
	return true;
}

/* @return the next free line */
static int draw_roster(int y, int lines)
{
	const struct odict *exp = jsub(t.room, "expected");
	const struct odict *e;
	struct le *le;
	size_t n = 0, cnt[5] = {0}, unknown = 0, shown = 0, i;
	int rank, x = 0, ymax = y + lines;
	bool full = false;

	le = NULL;
	while ((e = jnext(exp, &le))) {
		++n;
		++cnt[state_rank(jstr(e, "state"))];
	}
	for (i = 0; i < t.rowc; i++)
		unknown += !t.rowv[i].expected;
	if (!n) {
		putf(y, 0, COLS, "expected sites: none configured "
		     "(expect = in the room's section)");
		return y + 1;
	}
	putf(y, 0, COLS, "expected %zu: %zu connected, %zu late, %zu left, "
	     "%zu missing | unknown callers: %zu", n, cnt[4], cnt[3],
	     cnt[1], cnt[0], unknown);
	++y;
	/* missing, left, unknown callers, late, connected */
	for (rank = 0; rank <= 4 && !full; rank++) {
		if (rank == 2) {
			for (i = 0; i < t.rowc && !full; i++) {
				const struct odict *s = t.rowv[i].o;
				char id[80];

				if (t.rowv[i].expected)
					continue;
				re_snprintf(id, sizeof(id), "(%s)",
					    jstr(s, "id"));
				full = !roster_item(&y, &x, ymax - 1,
						    jstr(s, "name"), "unknown",
						    id);
				shown += !full;
			}
			continue;
		}
		le = NULL;
		while (!full && (e = jnext(exp, &le))) {
			const char *st = jstr(e, "state");
			char more[160] = "";

			if (state_rank(st) != rank)
				continue;
			if (rank == 0 && (jstr(e, "contact")[0] ||
					  jstr(e, "phone")[0]))
				re_snprintf(more, sizeof(more), "(%s%s%s)",
					    jstr(e, "contact"),
					    jstr(e, "contact")[0] &&
					    jstr(e, "phone")[0] ? " " : "",
					    jstr(e, "phone"));
			full = !roster_item(&y, &x, ymax - 1,
					    jstr(e, "name"), st, more);
			shown += !full;
		}
	}
	if (full)
		putf(ymax - 1, COLS - 12 > x ? x : COLS - 12, 12, "+%zu more",
		     n + unknown - shown);
	/* lines the roster does not need go to the site list */
	return x ? y + 1 : y;
}

struct widths {
	int name;
	int meter;
};

static void widths_of(struct widths *w)
{
	int avail = COLS - ROW_FIXED_COLS;

	w->meter = avail * 3 / 5;
	if (w->meter < 10)
		w->meter = 10;
	w->name = avail - w->meter;
	if (w->name > 24) {
		w->meter += w->name - 24;
		w->name = 24;
	}
	if (w->name < 6)
		w->name = 6;
}

static void draw_cols(int y, const struct widths *w)
{
	int x = MARK_COLS + ID_COLS;

	attron(A_BOLD | A_UNDERLINE);
	put(y, 0, "  ID", x, true);
	put(y, x, "NAME", w->name, true);
	x += w->name + 1;
	put(y, x, w->meter >= 18 ? "INPUT -60..0 dBFS" : w->meter >= 10 ?
	    "INPUT dBFS" : "INPUT", w->meter + 3, true);
	x += w->meter + 3;
	put(y, x, "   dB TV   AGC ECHO  LOSS   JIT GIN MUTE DEAF",
	    COLS - x, true);
	attroff(A_BOLD | A_UNDERLINE);
}

static void draw_site(int y, const struct srow *r, bool sel,
		      const struct widths *w)
{
	const struct odict *s = r->o, *dsp = jsub(s, "dsp");
	const char *id = jstr(s, "id"), *state = jstr(s, "state");
	const char *name = r->expected ? r->expected : jstr(s, "name");
	double level = jnum(s, "level_in_dbfs", -120);
	double peak = jnum(dsp, "in_peak_dbfs", -120);
	double echo = jnum(dsp, "echo_likelihood", 0);
	bool talking = jbool(s, "talking"), muted = jbool(s, "muted");
	int x = 0;

	if (sel)
		attron(A_REVERSE);
	put(y, 0, sel ? "> " : "  ", MARK_COLS, false);
	put(y, MARK_COLS, id, ID_COLS - 1, true);
	put(y, MARK_COLS + ID_COLS - 1, " ", 1, false);
	x = MARK_COLS + ID_COLS;
	if (talking)
		attron(A_BOLD);
	put(y, x, name, w->name, true);
	attroff(A_BOLD);
	x += w->name;
	put(y, x, " ", 1, false);
	++x;
	if (!jhas(s, "level_in_dbfs")) {
		/* ringing or closing: no media figures yet */
		putf(y, x, w->meter + 3, "(%s)", state);
		put(y, x + w->meter + 3, "", COLS - x - w->meter - 3, true);
		attroff(A_REVERSE);
		return;
	}
	draw_meter(y, x, w->meter, level, peak,
		   peak >= CLIP_DBFS || has_alarm("clipping", id));
	x += w->meter + 3;
	if (level > -90)
		putf(y, x, 6, " %4.0f ", level);
	else
		put(y, x, "   -- ", 6, false);
	x += 6;
	if (talking)
		attron(colour(P_GREEN) | A_BOLD);
	put(y, x, talking ? "T" : " ", 1, false);
	attroff(colour(P_GREEN) | A_BOLD);
	put(y, x + 1, jbool(s, "voice") ? "v" : " ", 1, false);
	x += 2;
	putf(y, x, 6, " %+5.1f", jnum(dsp, "agc_gain_db", 0));
	x += 6;
	if (echo >= ECHO_WARN || jbool(s, "echo_only"))
		attron(colour(P_RED) | A_BOLD);
	putf(y, x, 5, " %4.2f", echo);
	attroff(colour(P_RED) | A_BOLD);
	x += 5;
	putf(y, x, 6, " %4.1f%%", jnum(s, "loss_pct", 0));
	x += 6;
	putf(y, x, 6, " %3.0fms", jnum(s, "jitter_ms", 0));
	x += 6;
	putf(y, x, 4, " %+3.0f", jnum(s, "gain_in_db", 0));
	x += 4;
	if (muted)
		attron(colour(P_RED) | A_BOLD);
	put(y, x, muted ? " MUTE" : "     ", 5, false);
	attroff(colour(P_RED) | A_BOLD);
	x += 5;
	if (jbool(s, "deaf"))
		attron(colour(P_MAGENTA) | A_BOLD);
	put(y, x, jbool(s, "deaf") ? " DEAF" : "     ", 5, false);
	attroff(colour(P_MAGENTA) | A_BOLD);
	x += 5;
	if (sel && x < COLS)
		put(y, x, "", COLS - x, true);
	attroff(A_REVERSE);
}

static void draw_sites(int y, int lines)
{
	struct widths w;
	size_t i;

	widths_of(&w);
	draw_cols(y++, &w);
	--lines;
	t.page = lines > 1 ? lines : 1;
	if (!t.room) {
		char msg[160];

		re_snprintf(msg, sizeof(msg), "waiting for the bridge at "
			    "http://%J ...", &t.srv);
		put(y, 2, msg, COLS - 2, false);
		return;
	}
	if (!t.rowc) {
		put(y, 2, "no sites in the room", COLS - 2, false);
		return;
	}
	/* keep the selection in view, scrolling as little as possible */
	if (t.sel < t.top)
		t.top = t.sel;
	if (t.sel >= t.top + (size_t)lines)
		t.top = t.sel + 1 - (size_t)lines;
	if (t.top + (size_t)lines > t.rowc)
		t.top = t.rowc > (size_t)lines ? t.rowc - (size_t)lines : 0;
	for (i = t.top; i < t.rowc && i < t.top + (size_t)lines; i++)
		draw_site(y++, &t.rowv[i], i == t.sel, &w);
}

static void draw_alarms(int y, int lines)
{
	const struct odict *alarms = jsub(t.room, "alarms");
	const struct odict *a;
	struct le *le = NULL;
	size_t n = alarms ? list_count(&alarms->lst) : 0, shown = 0;
	char title[160];
	int x;

	if (t.rowc > (size_t)t.page)
		(void)snprintf(title, sizeof(title), "-- alarms: %zu "
			       "-- sites %zu-%zu of %zu ", n, t.top + 1,
			       t.top + (size_t)t.page < t.rowc ?
			       t.top + (size_t)t.page : t.rowc, t.rowc);
	else
		(void)snprintf(title, sizeof(title), "-- alarms: %zu ", n);
	x = put(y, 0, title, COLS, false);
	while (x < COLS)
		mvaddch(y, x++, '-');
	++y;
	if (!n && t.room) {
		put(y, 2, "none", COLS - 2, false);
		return;
	}
	while ((a = jnext(alarms, &le)) && shown < (size_t)lines) {
		attron(colour(P_RED));
		if (shown + 1 == (size_t)lines && n > (size_t)lines)
			putf(y++, 0, COLS, "! %s (and %zu more)",
			     jstr(a, "text"), n - shown - 1);
		else
			putf(y++, 0, COLS, "! %s", jstr(a, "text"));
		attroff(colour(P_RED));
		++shown;
	}
}

static void draw_status(int y)
{
	uint64_t age_s = (tmr_jiffies() - t.ok_ms) / 1000;

	if (t.kick_id[0]) {
		attron(colour(P_YELLOW) | A_BOLD);
		putf(y, 0, COLS, "kick %s from the room? y/n", t.kick_id);
		attroff(colour(P_YELLOW) | A_BOLD);
	}
	else if (t.conn_err[0]) {
		attron(colour(P_RED) | A_BOLD);
		/* what it means first: the detail may not fit */
		if (t.ever_ok)
			putf(y, 0, COLS, "%s; figures %llu s old%s%s%s",
			     t.conn_err, (unsigned long long)age_s,
			     t.conn_why[0] ? " (" : "", t.conn_why,
			     t.conn_why[0] ? ")" : "");
		else
			putf(y, 0, COLS, "%s%s%s%s", t.conn_err,
			     t.conn_why[0] ? " (" : "", t.conn_why,
			     t.conn_why[0] ? ")" : "");
		attroff(colour(P_RED) | A_BOLD);
	}
	else if (t.status[0]) {
		attron(colour(t.status_bad ? P_RED : P_GREEN) | A_BOLD);
		put(y, 0, t.status, COLS, false);
		attroff(colour(t.status_bad ? P_RED : P_GREEN) | A_BOLD);
	}
	attron(A_DIM);
	put(y + 1, 0, "Up/Down select  t talker  m mute  d deaf  k kick"
	    "  +/- gain  L lock  q quit", COLS, false);
	attroff(A_DIM);
}

/*
 * The layout of LINES x COLS, top to bottom: header; roster (a summary
 * line and the names in as many lines as they need, 1-3 by the height);
 * the site list, which takes what is left; the alarms (up to 2 lines,
 * 4 from 30 lines up); status and keys. At 80x24 that leaves 14 site
 * rows or more: the list is what an operator scans.
 */
static void draw(void)
{
	int roster, alarms, y, n_alarm;
	const struct odict *al = jsub(t.room, "alarms");

	erase();
	if (COLS < MIN_COLS || LINES < MIN_LINES) {
		mvprintw(0, 0, "lowbridge top needs %dx%d at least (now "
			 "%dx%d); q quits", MIN_COLS, MIN_LINES, COLS,
			 LINES);
		refresh();
		return;
	}
	n_alarm = al ? (int)list_count(&al->lst) : 0;
	roster = jsub(t.room, "expected") &&
		list_count(&jsub(t.room, "expected")->lst) ?
		(LINES >= 30 ? 4 : LINES >= 20 ? 3 : 2) : 1;
	alarms = LINES >= 30 ? 4 : 2;
	if (n_alarm < alarms)
		alarms = n_alarm > 1 ? n_alarm : 1;
	draw_header();
	y = t.room ? draw_roster(1, roster) : 1 + roster;
	draw_sites(y, LINES - y - (1 + alarms) - 2);
	draw_alarms(LINES - 3 - alarms, alarms);
	draw_status(LINES - 2);
	refresh();
}

/* ---- keys --------------------------------------------------------------- */

static void move_sel(long d)
{
	long s = (long)t.sel + d;

	if (!t.rowc)
		return;
	if (s < 0)
		s = 0;
	if (s >= (long)t.rowc)
		s = (long)t.rowc - 1;
	t.sel = (size_t)s;
	str_ncpy(t.sel_id, t.rowv[t.sel].id, sizeof(t.sel_id));
}

/* Among hundreds of rows, the one talking now (the next, cyclically). */
static void next_talker(void)
{
	size_t i, k;

	for (i = 1; i <= t.rowc; i++) {
		k = (t.sel + i) % t.rowc;
		if (jbool(t.rowv[k].o, "talking")) {
			move_sel((long)k - (long)t.sel);
			return;
		}
	}
	set_status(false, "nobody is talking");
}

static void on_key(int ch)
{
	if (t.kick_id[0]) {
		char id[64], query[] = "kick=1", ok[128];

		str_ncpy(id, t.kick_id, sizeof(id));
		t.kick_id[0] = '\0';
		if (ch != 'y' && ch != 'Y') {
			set_status(false, "kick cancelled");
			return;
		}
		re_snprintf(ok, sizeof(ok), "kicked %s", id);
		command(id, query, ok);
		return;
	}
	switch (ch) {

	case 'q':
	case 'Q':
		quit(0, NULL);
		break;

	case KEY_UP:
		move_sel(-1);
		break;

	case KEY_DOWN:
		move_sel(1);
		break;

	case KEY_PPAGE:
		move_sel(-t.page);
		break;

	case KEY_NPAGE:
	case ' ':
		move_sel(t.page);
		break;

	case KEY_HOME:
	case 'g':
		move_sel(-(long)t.rowc);
		break;

	case KEY_END:
	case 'G':
		move_sel((long)t.rowc);
		break;

	case 't':
		next_talker();
		break;

	case 'm':
		toggle("mute", "muted", "muted", "unmuted");
		break;

	case 'd':
		toggle("deaf", "deaf", "deafened", "undeafened");
		break;

	case 'k':
	case 'K':
		ask_kick();
		break;

	case '+':
	case '=':
		gain_step(GAIN_STEP_DB);
		break;

	case '-':
	case '_':
		gain_step(-GAIN_STEP_DB);
		break;

	case 'L':
		lock_toggle();
		break;

	case 12:                         /* Ctrl-L: repaint */
		clearok(curscr, TRUE);
		break;

	default:                         /* KEY_RESIZE: just redraw */
		break;
	}
}

/* @return keys read */
static int read_keys(void)
{
	int ch, n = 0;

	while (n < 64 && (ch = getch()) != ERR) {
		on_key(ch);
		++n;
	}
	return n;
}

static void on_stdin(int flags, void *arg)
{
	(void)arg;

	if (flags & FD_EXCEPT) {
		quit(1, "the terminal went away");
		return;
	}
	/* readable with no key, again and again: the terminal is at its
	 * end (a closed pty); do not spin on it */
	if (!read_keys()) {
		if (++t.idle_reads >= 20)
			quit(1, "the terminal went away");
	}
	else {
		t.idle_reads = 0;
	}
	draw();
}

/* Ten times a second: a resize (ncurses turns SIGWINCH into KEY_RESIZE
 * on the next getch, but nothing wakes the loop for it), the clock, and
 * the poll when its time has come. */
static void on_tick(void *arg)
{
	(void)arg;

	tmr_start(&t.tmr, TICK_MS, on_tick, NULL);
	(void)read_keys();
	poll_start();
	draw();
}

/* ---- options, password, main -------------------------------------------- */

static void dbg_quiet(int level, const char *p, size_t len, void *arg)
{
	(void)level;
	(void)p;
	(void)len;
	(void)arg;
}

static void on_signal(int sig)
{
	(void)sig;
	quit(0, NULL);
}

static int usage(FILE *f)
{
	fprintf(f, "usage: lowbridge top [--http ADDR:PORT] [--room ID] "
		"[--user NAME]\n\n"
		"  The operator's console in a terminal: meters, roster, "
		"alarms; mute, deaf,\n"
		"  kick, gain and lock through the bridge's HTTP API "
		"(default 127.0.0.1:8080).\n"
		"  --room    the room (default: the first the bridge "
		"lists)\n"
		"  --user    an account of the bridge; the password comes "
		"from\n"
		"            LOWBRIDGE_PASSWORD or is asked on the "
		"terminal\n\n"
		"  keys: Up/Down select (PgUp/PgDn Home/End), t next "
		"talker,\n"
		"        m mute, d deaf, k kick (y/n), +/- gain in 3 dB, "
		"L lock, q quit\n");
	return f == stderr ? 2 : 0;
}

static int parse_addr(const char *arg, struct sa *sa)
{
	char buf[128];
	size_t n;

	if (!strncmp(arg, "https://", 8)) {
		fprintf(stderr, "lowbridge top: speaks plain HTTP only; run "
			"it on the bridge's host (over SSH) against "
			"127.0.0.1\n");
		return EINVAL;
	}
	if (!strncmp(arg, "http://", 7))
		arg += 7;
	if (!strncmp(arg, "localhost:", 10)) {
		re_snprintf(buf, sizeof(buf), "127.0.0.1:%s", arg + 10);
		arg = buf;
	}
	else {
		str_ncpy(buf, arg, sizeof(buf));
		arg = buf;
	}
	n = strlen(buf);
	if (n && buf[n - 1] == '/')
		buf[--n] = '\0';
	if (sa_decode(sa, buf, n) || !sa_port(sa)) {
		fprintf(stderr, "lowbridge top: --http %s: expected "
			"ADDR:PORT, e.g. 127.0.0.1:8080\n", buf);
		return EINVAL;
	}
	return 0;
}

static struct termios tty_saved;
static int tty_fd = -1;

static void prompt_signal(int sig)
{
	/* only async-signal-safe calls: put the echo back and go */
	if (tty_fd >= 0)
		(void)tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	_exit(128 + sig);
}

/* The password from the terminal, without echo. Ctrl-C leaves the
 * terminal as it was. */
static int ask_password(const char *user, char *pw, size_t sz)
{
	struct sigaction sa, old_int, old_term;
	struct termios quiet;
	FILE *tty;
	int err = 0;
	size_t n;

	tty = fopen("/dev/tty", "r+");
	if (!tty)
		return errno;
	tty_fd = fileno(tty);
	if (tcgetattr(tty_fd, &tty_saved)) {
		err = errno;
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = prompt_signal;
	(void)sigaction(SIGINT, &sa, &old_int);
	(void)sigaction(SIGTERM, &sa, &old_term);
	quiet = tty_saved;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	fprintf(tty, "password for %s: ", user);
	fflush(tty);
	(void)tcsetattr(tty_fd, TCSAFLUSH, &quiet);
	if (!fgets(pw, (int)sz, tty))
		err = EIO;
	(void)tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	(void)sigaction(SIGINT, &old_int, NULL);
	(void)sigaction(SIGTERM, &old_term, NULL);
	n = strcspn(pw, "\r\n");
	pw[n] = '\0';
 out:
	tty_fd = -1;
	fclose(tty);
	return err;
}

/* "Authorization: Basic base64(user:password)\r\n" */
static int basic_auth(const char *user)
{
	char pw[256], cred[320], b64[440];
	const char *env = getenv("LOWBRIDGE_PASSWORD");
	size_t n = sizeof(b64) - 1;
	int err;

	if (strchr(user, ':')) {
		fprintf(stderr, "lowbridge top: a user name has no ':'\n");
		return EINVAL;
	}
	if (env) {
		str_ncpy(pw, env, sizeof(pw));
	}
	else {
		err = ask_password(user, pw, sizeof(pw));
		if (err) {
			fprintf(stderr, "lowbridge top: cannot read the "
				"password from the terminal (%s); or set "
				"LOWBRIDGE_PASSWORD\n", strerror(err));
			return err;
		}
	}
	(void)snprintf(cred, sizeof(cred), "%s:%s", user, pw);
	err = base64_encode((const uint8_t *)cred, strlen(cred), b64, &n);
	if (!err) {
		b64[n] = '\0';
		(void)snprintf(t.auth, sizeof(t.auth),
			       "Authorization: Basic %s\r\n", b64);
	}
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(cred, sizeof(cred));
	explicit_bzero(b64, sizeof(b64));
	if (err)
		fprintf(stderr, "lowbridge top: password too long\n");
	return err;
}

static void curses_start(void)
{
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	(void)curs_set(0);
	set_escdelay(25);
	if (has_colors() && start_color() == OK) {
		short bg = use_default_colors() == OK ? -1 : COLOR_BLACK;

		init_pair(P_GREEN, COLOR_GREEN, bg);
		init_pair(P_YELLOW, COLOR_YELLOW, bg);
		init_pair(P_RED, COLOR_RED, bg);
		init_pair(P_CYAN, COLOR_CYAN, bg);
		init_pair(P_MAGENTA, COLOR_MAGENTA, bg);
		t.colour = true;
	}
}

int cli_top(int argc, char *argv[])
{
	SCREEN *scr = NULL;
	const char *user = NULL;
	int i, err;

	memset(&t, 0, sizeof(t));
	(void)sa_set_str(&t.srv, "127.0.0.1", 8080);
	for (i = 0; i < argc; i++) {
		const char *o = argv[i];

		if (!strcmp(o, "-h") || !strcmp(o, "--help"))
			return usage(stdout);
		if (strcmp(o, "--http") && strcmp(o, "--room") &&
		    strcmp(o, "--user")) {
			fprintf(stderr, "lowbridge top: unknown option '%s'"
				"\n\n", o);
			return usage(stderr);
		}
		if (i + 1 >= argc || !argv[i + 1][0]) {
			fprintf(stderr, "lowbridge top: %s needs a value\n",
				o);
			return 2;
		}
		++i;
		if (!strcmp(o, "--http") && parse_addr(argv[i], &t.srv))
			return 2;
		if (!strcmp(o, "--room"))
			str_ncpy(t.room_id, argv[i], sizeof(t.room_id));
		if (!strcmp(o, "--user"))
			user = argv[i];
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		(void)re_fprintf(stderr, "lowbridge top: needs a terminal "
				 "(for scripts: curl http://%J/api/rooms)\n",
				 &t.srv);
		return 1;
	}
	if (user) {
		if (basic_auth(user))
			return 1;
		t.has_user = true;
	}

	err = libre_init();
	if (err) {
		fprintf(stderr, "lowbridge top: libre_init: %s\n",
			strerror(err));
		return 1;
	}
	/* a bridge that goes away mid-request must not kill the console */
	signal(SIGPIPE, SIG_IGN);
	tmr_init(&t.tmr);
	/* before curses starts: it reads the locale's character set once */
	setlocale(LC_ALL, "");
	scr = newterm(NULL, stdout, stdin);
	if (!scr) {
		fprintf(stderr, "lowbridge top: cannot use the terminal "
			"(TERM=%s)\n", getenv("TERM") ? getenv("TERM") : "");
		t.exit_code = 1;
		goto out;
	}
	/* a terminal that cannot place the cursor (TERM=dumb, emacs' shell)
	 * would get a stream of garbage: say so instead */
	if (!tigetstr("cup") || tigetstr("cup") == (char *)-1) {
		quit(1, "the terminal (TERM=%s) cannot place the cursor",
		     getenv("TERM") ? getenv("TERM") : "");
		goto out;
	}
	curses_start();
	dbg_handler_set(dbg_quiet, NULL);
	err = fd_listen(STDIN_FILENO, FD_READ, on_stdin, NULL);
	if (err) {
		quit(1, "cannot watch the keyboard: %m", err);
		goto out;
	}
	poll_start();
	tmr_start(&t.tmr, TICK_MS, on_tick, NULL);
	draw();
	(void)re_main(on_signal);
 out:
	fd_close(STDIN_FILENO);
	tmr_cancel(&t.tmr);
	t.get = mem_deref(t.get);
	t.cmd = mem_deref(t.cmd);
	t.room = mem_deref(t.room);
	t.rowv = mem_deref(t.rowv);
	if (scr) {
		endwin();
		delscreen(scr);
	}
	dbg_handler_set(NULL, NULL);
	libre_close();
	explicit_bzero(t.auth, sizeof(t.auth));
	if (t.fatal[0])
		fprintf(stderr, "lowbridge top: %s\n", t.fatal);
	return t.exit_code;
}
