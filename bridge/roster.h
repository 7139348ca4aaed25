/**
 * @file roster.h  The sites a room expects and their state in the
 * current meeting (see roster.c).
 *
 * Threads: network thread only.
 */
#ifndef LB_ROSTER_H
#define LB_ROSTER_H

#include <re.h>
#include "config.h"
#include "site.h"

struct roster;

int  roster_alloc(struct roster **rp, const struct cfg_room *rc);
/** A site joined: @return the index of the expected site it is, or -1
 *  (an unknown caller). */
int  roster_join(struct roster *r, const struct site *site);
void roster_leave(struct roster *r, const struct site *site);
/** missing, connected, late or left */
const char *roster_state(const struct roster *r, uint32_t i);
/** The expected site a connected site is, or NULL (unknown caller). */
const struct cfg_expect *roster_expected(const struct roster *r,
					 const struct site *site);
uint32_t roster_count(const struct roster *r, const char *state);
/** Seconds since the meeting started, 0 without one. */
double roster_meeting_s(const struct roster *r);
/** JSON array of the expected sites with their state. */
int  roster_print(struct re_printf *pf, const struct roster *r);

#endif
