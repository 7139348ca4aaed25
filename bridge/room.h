/**
 * @file room.h  Conference rooms: each with its mixer, its media
 * sockets, its sites and its codec profiles.
 *
 * Threads: network thread only.
 */
#ifndef LB_ROOM_H
#define LB_ROOM_H

#include <re.h>
#include "config.h"
#include "mixer.h"
#include "site.h"

struct room;
struct room_set;

int  rooms_alloc(struct room_set **rsp, const struct cfg *cfg);
struct room *rooms_find(const struct room_set *rs, const char *id);
const struct list *rooms_list(const struct room_set *rs);
/** Hang up every site (BYE); the sites go away asynchronously. */
void rooms_hangup_all(struct room_set *rs);
uint32_t rooms_site_count(const struct room_set *rs);

/**
 * Take an INVITE for the room. @return 0 when a site took it, or the
 * SIP status to refuse it with (486 full, 400, 488, 500, 503).
 */
uint16_t room_invite(struct room *room, struct sipsess_sock *sock,
		     const struct sip_msg *msg);

const struct cfg_room *room_cfg(const struct room *room);
uint16_t room_rtp_port(const struct room *room);
struct mixer *room_mixer(const struct room *room);
uint32_t room_site_count(const struct room *room);
const struct list *room_sites(const struct room *room);
struct site *room_site_find(const struct room *room, const char *id);
/** Processing settings new sites of the room start with. */
const struct mix_dsp *room_dsp(const struct room *room);
/** Set the room's processing settings and apply them to every site in
 *  it (chair flags of sites are kept). */
void room_set_dsp(struct room *room, const struct mix_dsp *dsp);
/** Profiles of the room, for views. */
uint32_t room_profile_count(const struct room *room);

/** Start or stop recording the room (a session starts once a site is
 *  there). */
int  room_set_record(struct room *room, bool on);

struct room_rec_info {
	bool on;                     /* wanted */
	bool available;              /* the bridge has a recorder */
	const char *session;         /* NULL: no session now */
	const char *dir;
	const char *alarm;           /* "" or the last alarm */
	uint64_t bytes;
	double seconds;
	uint64_t lost_frames;
	uint64_t skipped_frames;
	uint32_t tracks;
	bool paused;                 /* disk full: waiting for space */
};

void room_recording(const struct room *room, struct room_rec_info *ri);

/* ---- the operator's controls -------------------------------------------- */

/** Locked: new callers get 403 Forbidden. */
void room_set_lock(struct room *room, bool on);
bool room_locked(const struct room *room);
/** Mute every site but the chairs (and the ones that join meanwhile). */
int  room_mute_all(struct room *room, bool on);
bool room_mute_all_on(const struct room *room);
/** A bookmark in the recording's journal and the live stream. */
int  room_bookmark(struct room *room, const char *text, const char *who);
/** Another event for the recording's journal (mute, kick, ...). */
int  room_journal(struct room *room, const char *kind, const char *sid,
		  const char *text);
const struct roster *room_roster(const struct room *room);
/** The room's DSP unit (bridge/offload.h), or NULL. */
struct offload *room_offload(const struct room *room);
/** The room's readiness checks (bridge/ready.h). */
struct ready *room_ready(const struct room *room);
/** The room's local room (its own microphones), or NULL. */
struct lroom *room_lroom(const struct room *room);
/** The expected site a site is, NULL for an unknown caller. */
const char *room_expected_name(const struct room *room,
			       const struct site *site);
/** The current alarms, a JSON array. */
int  room_print_alarms(struct re_printf *pf, const struct room *room);

#endif
