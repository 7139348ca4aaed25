/**
 * @file offload.h  A room's offload pool: a conference DSP unit serving
 * the echo cancellation, noise suppression and AGC of its echoing sites
 * (see offload.c, hw/pool.c).
 *
 * Threads: network thread.
 */
#ifndef LB_OFFLOAD_H
#define LB_OFFLOAD_H

#include <re.h>

struct offload;
struct room;
struct site;
struct hw_profiles;

/** Start the unit's device thread and the assignment timer. */
int  offload_alloc(struct offload **op, struct room *room, const char *device,
		   const struct hw_profiles *profiles, uint32_t rt_prio);
/** Stop the device thread (before the room's mixer goes). */
void offload_stop(struct offload *o);
void offload_site_left(struct offload *o, struct site *site);
/** A device alarm for the operator, if the unit is gone or failed. */
bool offload_alarm(const struct offload *o, char *text, size_t sz);
/** The room JSON's "pool": the unit, its state and delay, its sites. */
int  offload_print(struct re_printf *pf, void *o);

#endif
