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
	const struct le *le;
	bool first = true;
	int err;

	err = re_hprintf(pf, "{\"id\":%H,\"name\":%H,\"max_sites\":%u,"
			 "\"max_talkers\":%u,\"site_count\":%u,",
			 json_pstr, rc->id, json_pstr, rc->name,
			 rc->max_sites, rc->max_talkers,
			 room_site_count(room));
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

static void req_handler(struct http_conn *conn, const struct http_msg *msg,
			void *arg)
{
	struct pl id;
	char idbuf[CFG_ID_MAX];
	struct room *room;
	(void)arg;

	if (pl_strcmp(&msg->met, "GET") && pl_strcmp(&msg->met, "HEAD")) {
		reply_json(conn, 405, "Method Not Allowed", print_error,
			   "only GET is supported");
		return;
	}
	if (!pl_strcmp(&msg->path, "/api/rooms") ||
	    !pl_strcmp(&msg->path, "/api/rooms/")) {
		reply_json(conn, 200, "OK", print_rooms, NULL);
		return;
	}
	if (msg->path.l > 11 && !memcmp(msg->path.p, "/api/rooms/", 11)) {
		id.p = msg->path.p + 11;
		id.l = msg->path.l - 11;
		while (id.l && id.p[id.l - 1] == '/')
			--id.l;
		if (id.l && id.l < sizeof(idbuf) &&
		    !memchr(id.p, '/', id.l)) {
			pl_strcpy(&id, idbuf, sizeof(idbuf));
			room = rooms_find(api.rooms, idbuf);
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
