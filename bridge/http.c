/**
 * @file http.c  The JSON API: a table of routes over libre's HTTP
 * server.
 *
 *   GET  /api/rooms                 every room with its site count
 *   GET  /api/rooms/ID              one room: mixer, RTP, every site
 *   POST /api/rooms/ID?KEY=on|off   the room's processing settings
 *   POST /api/rooms/ID/sites/SID?KEY=on|off   one site's
 *
 * Served on the network thread; the figures are read from the counters
 * the mixer publishes (views.c), so a request never waits for or
 * disturbs the mixer. Errors are JSON {"error": "..."} with the status
 * that says why: 400 bad value or unknown key, 404 unknown room, site or
 * path, 405 wrong method (with Allow), 503 mixer busy.
 */
#include <re.h>
#include <string.h>
#define LOG_MODULE "http"
#include "http.h"
#include "log.h"
#include "route.h"
#include "views.h"

static struct {
	struct http_sock *sock;
	struct room_set *rooms;
} api;

enum {
	M_GET  = 1 << 0,         /* GET and HEAD */
	M_POST = 1 << 1,
};

typedef void (route_h)(struct http_conn *conn, const struct http_msg *msg,
		       const struct pl *capv);

struct route {
	unsigned methods;
	const char *pattern;
	route_h *h;
};

static void reply_json(struct http_conn *conn, uint16_t scode,
		       const char *reason, re_printf_h *h, void *arg)
{
	struct mbuf *mb = mbuf_alloc(4096);

	if (!mb || mbuf_printf(mb, "%H", h, arg)) {
		http_ereply(conn, 500, "Internal Server Error");
		mem_deref(mb);
		return;
	}
	(void)http_reply(conn, scode, reason,
			 "Content-Type: application/json\r\n"
			 "Cache-Control: no-store\r\n"
			 "Content-Length: %zu\r\n\r\n%b",
			 mb->end, mb->buf, mb->end);
	mem_deref(mb);
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

/* Apply the query's processing settings over d. Every key must be
 * known and every value on/off: @return number set, or -1 with *badp
 * naming the offending key. */
static int query_dsp(const struct pl *query, struct mix_dsp *d,
		     bool site, struct pl *badp)
{
	struct pl rest = *query, key, val;
	char v[16];
	int n = 0, err;

	while (!(err = route_query_next(&rest, &key, &val))) {
		bool *field = NULL, on;

		if (!pl_strcmp(&key, "noise_suppression"))
			field = &d->proc.ns;
		else if (!pl_strcmp(&key, "agc"))
			field = &d->proc.agc;
		else if (!pl_strcmp(&key, "echo_control"))
			field = &d->proc.aec;
		else if (site && !pl_strcmp(&key, "chair"))
			field = &d->chair;
		*badp = key;
		if (!field || route_decode(&val, v, sizeof(v)))
			return -1;
		if (!str_casecmp(v, "on") || !strcmp(v, "1") ||
		    !str_casecmp(v, "true"))
			on = true;
		else if (!str_casecmp(v, "off") || !strcmp(v, "0") ||
			 !str_casecmp(v, "false"))
			on = false;
		else
			return -1;
		*field = on;
		++n;
	}
	if (err == EBADMSG) {
		*badp = key;
		return -1;
	}
	return n;
}

static void bad_query(struct http_conn *conn, const struct pl *key,
		      bool site)
{
	char msg[160];

	re_snprintf(msg, sizeof(msg), "bad parameter '%r': set "
		    "noise_suppression, agc, echo_control%s to on or off",
		    key, site ? ", chair" : "");
	reply_error(conn, 400, "Bad Request", msg);
}

static void get_rooms(struct http_conn *conn, const struct http_msg *msg,
		      const struct pl *capv)
{
	(void)msg;
	(void)capv;
	reply_json(conn, 200, "OK", view_rooms, api.rooms);
}

static void get_room(struct http_conn *conn, const struct http_msg *msg,
		     const struct pl *capv)
{
	struct room *room = find_room(conn, &capv[0]);
	(void)msg;

	if (room)
		reply_json(conn, 200, "OK", view_room, room);
}

static void post_room(struct http_conn *conn, const struct http_msg *msg,
		      const struct pl *capv)
{
	struct room *room = find_room(conn, &capv[0]);
	struct mix_dsp d;
	struct pl bad = PL_INIT;

	if (!room)
		return;
	d = *room_dsp(room);
	if (query_dsp(&msg->prm, &d, false, &bad) <= 0) {
		bad_query(conn, &bad, false);
		return;
	}
	room_set_dsp(room, &d);
	reply_json(conn, 200, "OK", view_room, room);
}

static void post_site(struct http_conn *conn, const struct http_msg *msg,
		      const struct pl *capv)
{
	struct room *room = find_room(conn, &capv[0]);
	struct pl bad = PL_INIT;
	struct site *site = NULL;
	struct mix_dsp d;
	char sid[32];

	if (!room)
		return;
	if (capv[1].l < sizeof(sid)) {
		pl_strcpy(&capv[1], sid, sizeof(sid));
		site = room_site_find(room, sid);
	}
	if (!site) {
		reply_error(conn, 404, "Not Found", "no such site");
		return;
	}
	d = *site_dsp(site);
	if (query_dsp(&msg->prm, &d, true, &bad) <= 0) {
		bad_query(conn, &bad, true);
		return;
	}
	if (site_set_dsp(site, &d)) {
		reply_error(conn, 503, "Service Unavailable",
			    "mixer busy, try again");
		return;
	}
	reply_json(conn, 200, "OK", view_site, site);
}

static const struct route routes[] = {
	{M_GET,  "/api/rooms",              get_rooms},
	{M_GET,  "/api/rooms/{}",           get_room},
	{M_POST, "/api/rooms/{}",           post_room},
	{M_POST, "/api/rooms/{}/sites/{}",  post_site},
};

static void req_handler(struct http_conn *conn, const struct http_msg *msg,
			void *arg)
{
	struct route_path rp;
	struct pl capv[2];
	unsigned m = 0, allowed = 0;
	size_t i;
	(void)arg;

	if (!pl_strcmp(&msg->met, "GET") || !pl_strcmp(&msg->met, "HEAD"))
		m = M_GET;
	else if (!pl_strcmp(&msg->met, "POST"))
		m = M_POST;

	if (route_split(&rp, &msg->path)) {
		reply_error(conn, 400, "Bad Request", "malformed path");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(routes); i++) {
		if (!route_match(&rp, routes[i].pattern, capv,
				 ARRAY_SIZE(capv)))
			continue;
		if (routes[i].methods & m) {
			routes[i].h(conn, msg, capv);
			return;
		}
		allowed |= routes[i].methods;
	}
	if (!allowed) {
		reply_error(conn, 404, "Not Found", "no such resource");
		return;
	}
	(void)http_reply(conn, 405, "Method Not Allowed",
			 "Allow: %s\r\n"
			 "Content-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n%s",
			 allowed == (M_GET | M_POST) ? "GET, HEAD, POST" :
			 allowed == M_POST ? "POST" : "GET, HEAD",
			 strlen("{\"error\":\"method not allowed\"}\n"),
			 "{\"error\":\"method not allowed\"}\n");
}

int http_api_init(const struct sa *laddr, struct room_set *rooms)
{
	int err;

	api.rooms = rooms;
	err = http_listen(&api.sock, laddr, req_handler, NULL);
	if (err)
		log_err("cannot listen on http %J: %m\n", laddr, err);
	return err;
}

void http_api_close(void)
{
	api.sock = mem_deref(api.sock);
}
