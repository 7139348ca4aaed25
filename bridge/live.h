/**
 * @file live.h  The live stream of a room for consoles: Server-Sent
 * Events on GET /api/rooms/ID/live.
 *
 *   event: levels   ten times a second, every site's meters and link
 *                   figures (from the counters the mixer publishes)
 *   event: join, leave, talk, alarm, bookmark   as they happen
 *
 * Each client has a bounded send queue (libre's, LIVE_QUEUE_BYTES): a
 * client that does not read falls behind, and is dropped when the queue
 * is full. The mixer never knows: one snapshot a tick-group is formatted
 * once per room and sent to all its clients.
 *
 * Threads: network thread only.
 */
#ifndef LB_LIVE_H
#define LB_LIVE_H

#include <re.h>
#include "room.h"

int  live_init(struct room_set *rs);
void live_close(void);

/** Turn an HTTP request into a stream of the room's events. The
 *  response headers go out here. */
int  live_attach(struct http_conn *conn, struct room *room);

/** An event (data: JSON from fmt) to every client of the room. */
void live_event(const struct room *room, const char *event,
		const char *fmt, ...);

/** Clients connected, and dropped because they did not read. */
uint32_t live_clients(void);
uint64_t live_dropped(void);

#endif
