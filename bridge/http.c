/**
 * @file http.c  The JSON API: rooms, sites, mixer figures.
 *
 *   GET /api/rooms          every room with its site count
 *   GET /api/rooms/<id>     one room: mixer, RTP counters, every site
 *
 * Served by libre's HTTP server on the network thread; the figures are
 * read from the counters the mixer publishes (relaxed atomics), so a
 * request never waits for or disturbs the mixer.
 */
#include <re.h>
#include <string.h>
#define LOG_MODULE "http"
#include "bridge.h"
#include "log.h"

static struct {
	struct http_sock *sock;
	struct room_set *rooms;
} api;

static int print_rooms(struct re_printf *pf, void *arg)
{
	const struct le *le;
	bool first = true;
	int err;
	(void)arg;

	err = re_hprintf(pf, "{\"version\":\"%s\",\"rooms\":[",
			 LB_VERSION);
	LIST_FOREACH(rooms_list(api.rooms), le) {
		const struct room *room = le->data;
		const struct cfg_room *rc = room_cfg(room);

		err |= re_hprintf(pf, "%s{\"id\":%H,\"name\":%H,"
				  "\"site_count\":%u,\"max_sites\":%u,"
				  "\"rtp_port\":%u}", first ? "" : ",",
				  json_pstr, rc->id, json_pstr, rc->name,
				  room_site_count(room), rc->max_sites,
				  room_rtp_port(room));
		first = false;
	}
	return err | re_hprintf(pf, "]}\n");
}

static int print_room(struct re_printf *pf, void *arg)
{
	const struct room *room = arg;
	const struct cfg_room *rc = room_cfg(room);
	const struct mixer_stats *ms = mixer_stats(room_mixer(room));
	uint64_t ticks = atomic_load(&ms->ticks);
	uint64_t late = atomic_load(&ms->late_ticks);
	const struct msite_dsp *d = room_dsp(room);
	const struct le *le;
	bool first = true;
	int err;

	err = re_hprintf(pf, "{\"id\":%H,\"name\":%H,\"max_sites\":%u,"
			 "\"max_talkers\":%u,\"site_count\":%u,",
			 json_pstr, rc->id, json_pstr, rc->name,
			 rc->max_sites, rc->max_talkers,
			 room_site_count(room));
	err |= re_hprintf(pf, "\"dsp\":{\"noise_suppression\":%s,"
			  "\"agc\":%s,\"agc_target_dbfs\":%.0f,"
			  "\"echo_control\":%s},",
			  d->proc.ns ? "true" : "false",
			  d->proc.agc ? "true" : "false",
			  (double)d->proc.agc_target_dbfs,
			  d->proc.aec ? "true" : "false");
	err |= re_hprintf(pf, "\"mixer\":{\"ticks\":%llu,\"late_ticks\":%llu,"
			  "\"late_pct\":%.3f,\"avg_tick_us\":%.1f,"
			  "\"max_tick_us\":%.1f,\"sites\":%u,\"talkers\":%u,"
			  "\"encodes\":%llu},",
			  (unsigned long long)ticks, (unsigned long long)late,
			  ticks ? 100.0 * late / ticks : 0.0,
			  ticks ? atomic_load(&ms->tick_ns_sum) / 1e3 /
			  ticks : 0.0,
			  atomic_load(&ms->tick_ns_max) / 1e3,
			  atomic_load(&ms->sites), atomic_load(&ms->talkers),
			  (unsigned long long)atomic_load(&ms->encodes));
	err |= re_hprintf(pf, "\"rtp\":{\"port\":%u,\"rx_packets\":%llu,"
			  "\"tx_packets\":%llu,\"tx_errors\":%llu,"
			  "\"unknown_source\":%llu,\"malformed\":%llu},"
			  "\"sites\":[",
			  room_rtp_port(room),
			  (unsigned long long)atomic_load(&ms->rx_pkts),
			  (unsigned long long)atomic_load(&ms->tx_pkts),
			  (unsigned long long)atomic_load(&ms->tx_errors),
			  (unsigned long long)atomic_load(&ms->unknown_source),
			  (unsigned long long)atomic_load(&ms->malformed));
	LIST_FOREACH(room_sites(room), le) {
		err |= re_hprintf(pf, "%s%H", first ? "" : ",",
				  site_print_json, le->data);
		first = false;
	}
	return err | re_hprintf(pf, "]}\n");
}

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

static int print_error(struct re_printf *pf, void *arg)
{
	return re_hprintf(pf, "{\"error\":%H}\n", json_pstr,
			  (const char *)arg);
}

static int print_site(struct re_printf *pf, void *arg)
{
	return site_print_json(pf, arg);
}

/* name=on|off in the query: 0 absent, 1 read into *v, -1 invalid */
static int prm_bool(const struct pl *prm, const char *name, bool *v)
{
	struct pl val;
	char pat[64];

	re_snprintf(pat, sizeof(pat), "%s=[^&]*", name);
	if (!pl_isset(prm) || re_regex(prm->p, prm->l, pat, &val))
		return 0;
	if (!pl_strcasecmp(&val, "on") || !pl_strcmp(&val, "1") ||
	    !pl_strcasecmp(&val, "true")) {
		*v = true;
		return 1;
	}
	if (!pl_strcasecmp(&val, "off") || !pl_strcmp(&val, "0") ||
	    !pl_strcasecmp(&val, "false")) {
		*v = false;
		return 1;
	}
	return -1;
}

/* Apply the query's settings over d. @return number set, -1 invalid */
static int prm_dsp(const struct pl *prm, struct msite_dsp *d, bool chair)
{
	int n = 0, r;

	r = prm_bool(prm, "noise_suppression", &d->proc.ns);
	n = r < 0 ? -100 : n + r;
	r = prm_bool(prm, "agc", &d->proc.agc);
	n = r < 0 ? -100 : n + r;
	r = prm_bool(prm, "echo_control", &d->proc.aec);
	n = r < 0 ? -100 : n + r;
	if (chair) {
		r = prm_bool(prm, "chair", &d->chair);
		n = r < 0 ? -100 : n + r;
	}
	return n < 0 ? -1 : n;
}

static const char prm_help[] =
	"query must set noise_suppression, agc, echo_control (and, for "
	"a site, chair) to on or off";

/* POST /api/rooms/<id>[/sites/<sid>]?key=on|off...: run-time control
 * of the processing. Answers with the room's or the site's JSON. */
static void post_dsp(struct http_conn *conn, const struct http_msg *msg,
		     struct room *room, const struct pl *sid)
{
	char buf[32];
	struct site *site;
	struct msite_dsp d;
	int err;

	if (!pl_isset(sid)) {
		d = *room_dsp(room);
		if (prm_dsp(&msg->prm, &d, false) <= 0) {
			reply_json(conn, 400, "Bad Request", print_error,
				   (void *)prm_help);
			return;
		}
		room_set_dsp(room, &d);
		reply_json(conn, 200, "OK", print_room, room);
		return;
	}
	if (sid->l >= sizeof(buf)) {
		reply_json(conn, 404, "Not Found", print_error,
			   "no such site");
		return;
	}
	pl_strcpy(sid, buf, sizeof(buf));
	site = room_site_find(room, buf);
	if (!site) {
		reply_json(conn, 404, "Not Found", print_error,
			   "no such site");
		return;
	}
	d = *site_dsp(site);
	if (prm_dsp(&msg->prm, &d, true) <= 0) {
		reply_json(conn, 400, "Bad Request", print_error,
			   (void *)prm_help);
		return;
	}
	err = site_set_dsp(site, &d);
	if (err) {
		reply_json(conn, 503, "Service Unavailable", print_error,
			   "mixer busy, try again");
		return;
	}
	reply_json(conn, 200, "OK", print_site, site);
}

static void req_handler(struct http_conn *conn, const struct http_msg *msg,
			void *arg)
{
	struct pl id, rest = PL_INIT, sid = PL_INIT;
	char idbuf[CFG_ID_MAX];
	struct room *room;
	bool post = !pl_strcmp(&msg->met, "POST");
	const char *slash;
	(void)arg;

	if (!post && pl_strcmp(&msg->met, "GET") &&
	    pl_strcmp(&msg->met, "HEAD")) {
		reply_json(conn, 405, "Method Not Allowed", print_error,
			   "only GET and POST are supported");
		return;
	}
	if (!post && (!pl_strcmp(&msg->path, "/api/rooms") ||
		      !pl_strcmp(&msg->path, "/api/rooms/"))) {
		reply_json(conn, 200, "OK", print_rooms, NULL);
		return;
	}
	if (msg->path.l > 11 && !memcmp(msg->path.p, "/api/rooms/", 11)) {
		id.p = msg->path.p + 11;
		id.l = msg->path.l - 11;
		while (id.l && id.p[id.l - 1] == '/')
			--id.l;
		slash = memchr(id.p, '/', id.l);
		if (slash) {
			rest.p = slash;
			rest.l = id.l - (size_t)(slash - id.p);
			id.l = (size_t)(slash - id.p);
		}
		if (pl_isset(&rest)) {
			if (rest.l <= 7 || memcmp(rest.p, "/sites/", 7) ||
			    memchr(rest.p + 7, '/', rest.l - 7) || !post) {
				reply_json(conn, 404, "Not Found",
					   print_error, "no such resource");
				return;
			}
			sid.p = rest.p + 7;
			sid.l = rest.l - 7;
		}
		if (id.l && id.l < sizeof(idbuf)) {
			pl_strcpy(&id, idbuf, sizeof(idbuf));
			room = rooms_find(api.rooms, idbuf);
			if (room && post) {
				post_dsp(conn, msg, room, &sid);
				return;
			}
			if (room) {
				reply_json(conn, 200, "OK", print_room, room);
				return;
			}
		}
		reply_json(conn, 404, "Not Found", print_error,
			   "no such room");
		return;
	}
	reply_json(conn, 404, "Not Found", print_error, "no such resource");
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
