/**
 * @file lroom.h  The local room as a member of its room (see lroom.c).
 *
 * Threads: network thread.
 */
#ifndef LB_LROOM_H
#define LB_LROOM_H

#include <re.h>
#include "hw.h"
#include "mixer.h"

#define LROOM_KEY 0              /* its member's key (sites start at 1) */

struct lroom;

struct lroom_prm {
	struct mixer *mixer;
	struct mix_profile *prof;    /* a CODEC_NONE profile of the room */
	const char *name;
	struct mix_dsp dsp;          /* the room's defaults (chair etc.) */
	struct mix_ctl ctl;
	struct hw_local_prm hw;
};

int  lroom_alloc(struct lroom **lp, const struct lroom_prm *prm);
struct mix_member *lroom_member(const struct lroom *l);
const struct mix_ctl *lroom_ctl(const struct lroom *l);
/** @return 0 or EAGAIN (the mixer's queue is full). */
int  lroom_set_ctl(struct lroom *l, const struct mix_ctl *ctl);
/** The site-like JSON object of the local room (%H). */
int  lroom_print(struct re_printf *pf, void *l);
/** An alarm while the room is not on its own device. */
bool lroom_alarm(struct lroom *l, char *text, size_t sz);
/** Log the device thread's news (switches, failures) once each. */
void lroom_log_news(struct lroom *l);

#endif
