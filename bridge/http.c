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
 *
 * Served on the network thread; the figures are read from the counters
 * the mixer publishes (views.c), so a request never waits for or
 * disturbs the mixer. Errors are JSON {"error": "..."} with the status
 * that says why: 400 bad value or unknown key, 404 unknown room, site or
 * path, 405 wrong method (with Allow), 503 mixer busy.
 */
#include <re.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#define LOG_MODULE "http"
#include "http.h"
#include "log.h"
#include "rec.h"
#include "route.h"
#include "views.h"

#define RANGE_MAX (1u << 20)     /* bytes of audio per response */

static struct {
	struct http_sock *sock;
	struct room_set *rooms;
	char data_dir[256];
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
		     bool site, int *record, struct pl *badp)
{
	struct pl rest = *query, key, val;
	bool rec_on = false;
	char v[16];
	int n = 0, err;

	while (!(err = route_query_next(&rest, &key, &val))) {
		bool *field = NULL, on;

		if (!site && record && !pl_strcmp(&key, "record"))
			field = &rec_on;
		else if (!pl_strcmp(&key, "noise_suppression"))
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
		if (field == &rec_on)
			*record = on;
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
		    key, site ? ", chair" : ", record");
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
	struct mix_dsp d, d0;
	struct pl bad = PL_INIT;
	int record = -1;

	if (!room)
		return;
	d = d0 = *room_dsp(room);
	if (query_dsp(&msg->prm, &d, false, &record, &bad) <= 0) {
		bad_query(conn, &bad, false);
		return;
	}
	if (memcmp(&d, &d0, sizeof(d)))
		room_set_dsp(room, &d);
	if (record >= 0 && room_set_record(room, record) &&
	    record && room_site_count(room)) {
		reply_error(conn, 503, "Service Unavailable",
			    "cannot record now (see the log)");
		return;
	}
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
	if (query_dsp(&msg->prm, &d, true, NULL, &bad) <= 0) {
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

static void get_recordings(struct http_conn *conn, const struct http_msg *msg,
			   const struct pl *capv)
{
	struct rec_list_args a;
	struct pl rest = msg->prm, key, val;
	(void)capv;

	memset(&a, 0, sizeof(a));
	while (!route_query_next(&rest, &key, &val)) {
		if (!pl_strcmp(&key, "room"))
			(void)route_decode(&val, a.room, sizeof(a.room));
		else if (!pl_strcmp(&key, "since"))
			(void)route_decode(&val, a.since, sizeof(a.since));
	}
	reply_json(conn, 200, "OK", print_rec_list, &a);
}

static bool session_name_ok(const struct pl *p, char *buf, size_t sz)
{
	if (!p->l || p->l >= sz || memchr(p->p, '/', p->l) ||
	    (p->l <= 2 && p->p[0] == '.'))
		return false;
	pl_strcpy(p, buf, sz);
	return true;
}

static void get_recording(struct http_conn *conn, const struct http_msg *msg,
			  const struct pl *capv)
{
	char id[96], dir[512];
	(void)msg;

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

static void get_recording_file(struct http_conn *conn,
			       const struct http_msg *msg,
			       const struct pl *capv)
{
	const struct http_hdr *hdr = http_msg_hdr(msg, HTTP_HDR_RANGE);
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

static const struct route routes[] = {
	{M_GET,  "/api/rooms",              get_rooms},
	{M_GET,  "/api/rooms/{}",           get_room},
	{M_POST, "/api/rooms/{}",           post_room},
	{M_POST, "/api/rooms/{}/sites/{}",  post_site},
	{M_GET,  "/api/recordings",         get_recordings},
	{M_GET,  "/api/recordings/{}",      get_recording},
	{M_GET,  "/api/recordings/{}/{}",   get_recording_file},
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

int http_api_init(const struct sa *laddr, struct room_set *rooms,
		  const char *data_dir)
{
	int err;

	api.rooms = rooms;
	str_ncpy(api.data_dir, data_dir, sizeof(api.data_dir));
	err = http_listen(&api.sock, laddr, req_handler, NULL);
	if (err)
		log_err("cannot listen on http %J: %m\n", laddr, err);
	return err;
}

void http_api_close(void)
{
	api.sock = mem_deref(api.sock);
}
