/**
 * @file live.c  Server-Sent Events for consoles (see live.h).
 *
 * A client is an HTTP connection taken over after its response headers:
 * we keep its TCP (and TLS) connection and write events to it with
 * tcp_send, which queues in libre up to LIVE_QUEUE_BYTES; past that it
 * fails and the client is dropped. The levels snapshot is built once per
 * room every LEVELS_MS from the published counters and shared by every
 * client of the room.
 *
 * Threads: network thread only.
 */
#include <re.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#define LOG_MODULE "live"
#include "json.h"
#include "live.h"
#include "log.h"
#include "views.h"

#define LEVELS_MS 100                /* 10 Hz */
#define LIVE_QUEUE_BYTES (256 * 1024) /* about 10 s of a big room */
#define LIVE_SNDBUF_BYTES (32 * 1024)

struct client {
	struct le le;
	struct tcp_conn *tc;
	struct tls_conn *sc;
	const struct room *room;
	struct sa peer;
};

static struct {
	struct room_set *rs;
	struct list clients;
	struct tmr tmr;
	uint64_t dropped;
	bool up;
} live;

static void client_destructor(void *arg)
{
	struct client *c = arg;

	list_unlink(&c->le);
	mem_deref(c->tc);
	mem_deref(c->sc);
}

static void client_drop(struct client *c, const char *why)
{
	log_info("live: client %J of room %s dropped: %s\n", &c->peer,
		 room_cfg(c->room)->id, why);
	mem_deref(c);
}

static void recv_handler(struct mbuf *mb, void *arg)
{
	/* a client only listens; anything it says is ignored */
	(void)mb;
	(void)arg;
}

static void close_handler(int err, void *arg)
{
	struct client *c = arg;
	(void)err;

	mem_deref(c);
}

/* Send to one client; a full queue (it does not read) drops it. */
static void client_send(struct client *c, struct mbuf *mb)
{
	int err;

	mb->pos = 0;
	err = tcp_send(c->tc, mb);
	if (err) {
		if (err == ENOSPC)
			++live.dropped;
		client_drop(c, err == ENOSPC ? "it does not read (queue "
			    "full)" : "send failed");
	}
}

static void broadcast(const struct room *room, struct mbuf *mb)
{
	struct le *le = list_head(&live.clients);

	while (le) {
		struct client *c = le->data;

		le = le->next;         /* sending may drop it */
		if (c->room == room)
			client_send(c, mb);
	}
}

void live_event(const struct room *room, const char *event,
		const char *fmt, ...)
{
	struct mbuf *mb;
	struct le *le;
	bool any = false;
	va_list ap;

	LIST_FOREACH(&live.clients, le)
		any |= ((struct client *)le->data)->room == room;
	if (!any)
		return;
	mb = mbuf_alloc(256);
	if (!mb)
		return;
	va_start(ap, fmt);
	if (!mbuf_printf(mb, "event: %s\ndata: ", event) &&
	    !mbuf_vprintf(mb, fmt, ap) && !mbuf_write_str(mb, "\n\n"))
		broadcast(room, mb);
	va_end(ap);
	mem_deref(mb);
}

static void levels_timer(void *arg)
{
	const struct le *rl;
	(void)arg;

	tmr_start(&live.tmr, LEVELS_MS, levels_timer, NULL);
	LIST_FOREACH(rooms_list(live.rs), rl) {
		const struct room *room = rl->data;
		struct mbuf *mb = NULL;
		struct le *le;

		LIST_FOREACH(&live.clients, le) {
			if (((struct client *)le->data)->room == room)
				break;
		}
		if (!le)
			continue;
		mb = mbuf_alloc(4096);
		if (mb && !mbuf_printf(mb, "event: levels\ndata: %H\n\n",
				       view_levels, (void *)room))
			broadcast(room, mb);
		mem_deref(mb);
	}
}

int live_init(struct room_set *rs)
{
	live.rs = rs;
	list_init(&live.clients);
	tmr_init(&live.tmr);
	tmr_start(&live.tmr, LEVELS_MS, levels_timer, NULL);
	live.up = true;
	return 0;
}

void live_close(void)
{
	if (!live.up)
		return;
	tmr_cancel(&live.tmr);
	list_flush(&live.clients);
	live.up = false;
}

int live_attach(struct http_conn *conn, struct room *room)
{
	struct client *c;
	struct tcp_conn *tc = http_conn_tcp(conn);
	const int sndbuf = LIVE_SNDBUF_BYTES;
	int err;

	if (!conn || !room || !tc || !live.up)
		return EINVAL;
	c = mem_zalloc(sizeof(*c), client_destructor);
	if (!c)
		return ENOMEM;
	err = http_reply(conn, 200, "OK",
			 "Content-Type: text/event-stream\r\n"
			 "Cache-Control: no-store\r\n"
			 "X-Accel-Buffering: no\r\n"
			 "\r\n"
			 "retry: 2000\n\n");
	if (err) {
		mem_deref(c);
		return err;
	}
	/* the connection is ours now; the HTTP server lets go of it */
	c->tc = mem_ref(tc);
	c->sc = mem_ref(http_conn_tls(conn));
	c->room = room;
	(void)tcp_conn_peer_get(tc, &c->peer);
	tcp_set_handlers(tc, NULL, recv_handler, close_handler, c);
	tcp_conn_txqsz_set(tc, LIVE_QUEUE_BYTES);
	/* the kernel's buffer would otherwise grow to megabytes on a fast
	 * link and hide a client that stopped reading for minutes */
	(void)setsockopt(tcp_conn_fd(tc), SOL_SOCKET, SO_SNDBUF, &sndbuf,
			 sizeof(sndbuf));
	http_conn_close(conn);
	list_append(&live.clients, &c->le, c);
	log_debug("live: client %J on room %s\n", &c->peer,
		  room_cfg(room)->id);
	return 0;
}

uint32_t live_clients(void)
{
	return list_count(&live.clients);
}

uint64_t live_dropped(void)
{
	return live.dropped;
}
