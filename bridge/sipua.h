/**
 * @file sipua.h  The SIP user agent server: transports, routing of
 * INVITEs to rooms, OPTIONS, refusals.
 *
 * Threads: network thread only.
 */
#ifndef LB_SIPUA_H
#define LB_SIPUA_H

#include <re.h>
#include "config.h"
#include "room.h"

int  sipua_init(const struct cfg *cfg, struct room_set *rooms);
void sipua_close(bool force);

#endif
