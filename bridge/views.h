/**
 * @file views.h  JSON views of rooms and sites for the HTTP API, read
 * from the control side's objects and the counters the mixer publishes
 * (relaxed atomics), so a request never waits for the mixer.
 *
 * Threads: network thread only.
 */
#ifndef LB_VIEWS_H
#define LB_VIEWS_H

#include <re.h>
#include "room.h"
#include "site.h"

/** %H helpers: arg is a struct room_set, a struct room, a struct site,
 *  or an error message (const char *). */
int view_rooms(struct re_printf *pf, void *rs);
int view_room(struct re_printf *pf, void *room);
int view_site(struct re_printf *pf, void *site);
int view_error(struct re_printf *pf, void *msg);
/** The G.107 E-model estimate the views use (see views.c): R and MOS
 *  of a line with loss_pct loss and delay_ms one-way delay. */
void view_emodel(double loss_pct, double delay_ms, double burst_r,
		 double *r, double *mos);
struct mix_member_stats;
/** Mean length of the site's loss runs (packets), 0 before any. */
double view_mean_burst(const struct mix_member_stats *st);
/** G.107's BurstR for what we receive of the site. */
double view_burst_r(const struct mix_member_stats *st);
/** The live stream's levels snapshot of a room (compact). */
int view_levels(struct re_printf *pf, void *room);
/** Prometheus text format of every room and site. */
int view_metrics(struct re_printf *pf, void *rs);

#endif
