/**
 * @file ready.h  The readiness check of a room (see ready.c): test-run
 * windows, each site's loudspeaker probe, talk check and link check,
 * and the report the district office keeps.
 *
 * Threads: network thread only. The probe and the prompts reach the
 * mixer as jobs (mixer_job) and come back as MIX_EV_JOB.
 */
#ifndef LB_READY_H
#define LB_READY_H

#include <re.h>
#include "config.h"
#include "mixer.h"

struct ready;
struct ready_prompts;
struct room;
struct site;
struct rec;

/** The prompts (recorded WAVs from cfg->prompt_dir, or built-in tone
 *  signals), made once for every room. */
int  ready_prompts_alloc(struct ready_prompts **pp, const struct cfg *cfg);

/** rec may be NULL (reports are then kept in memory only). */
int  ready_alloc(struct ready **rp, struct room *room,
		 const struct ready_prompts *prompts, struct rec *rec);

void ready_site_joined(struct ready *r, struct site *site);
void ready_site_left(struct ready *r, struct site *site);
/** MIX_EV_JOB of the room's mixer. */
void ready_job_done(struct ready *r, struct mix_job *job);

/**
 * Open a test window now, to close at end (UNIX seconds). why gets a
 * reason on failure: EALREADY (one is open), EINVAL (end not after
 * now, or more than 24 h away).
 */
int  ready_open(struct ready *r, time_t end, char *why, size_t whysz);
/** The operator declares the test complete: every site hears the
 *  "complete" prompt; a site that left before now is flagged. */
int  ready_complete(struct ready *r);
/** Close the open window now: its report is made and kept. */
int  ready_close(struct ready *r);
/** Run a site's checks again (its people fixed something). */
int  ready_recheck(struct ready *r, const char *sid);

/** The current window (or the last one) as JSON: the report. */
int  ready_print(struct re_printf *pf, void *ready);
/** For the room's JSON: the window's state and each connected site's
 *  check state by site id. */
int  ready_print_brief(struct re_printf *pf, void *ready);
int  ready_print_csv(struct re_printf *pf, void *ready);
int  ready_print_html(struct re_printf *pf, void *ready);
/** The same in Vietnamese. */
int  ready_print_html_vi(struct re_printf *pf, void *ready);
/** A site's check state for the console: "", or e.g. "probing",
 *  "talk check", "passed", "failed: no return". */
const char *ready_site_state(const struct ready *r, const struct site *site);
/** A window is open (or complete but not closed). */
bool ready_active(const struct ready *r);

#endif
