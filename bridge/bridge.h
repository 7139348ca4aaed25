/**
 * @file bridge.h  lowbridge control plane: rooms, sites, SIP, HTTP API.
 *
 * Threads: everything declared here runs on the network thread (libre's
 * re_main loop), which owns SIP sessions, SDP, RTCP, timers and the HTTP
 * server. The mixer (mixer.h) runs on its own thread per room and is
 * reached only through its command ring.
 */
#ifndef LB_BRIDGE_H
#define LB_BRIDGE_H

#include <re.h>
#include "config.h"
#include "mixer.h"

#define LB_VERSION "0.1.0"

struct room;
struct site;

/* ---- room.c ------------------------------------------------------------- */

struct room_set;

int  rooms_alloc(struct room_set **rsp, const struct cfg *cfg);
struct room *rooms_find(const struct room_set *rs, const char *id);
const struct list *rooms_list(const struct room_set *rs);
/** Hang up every site (BYE); the sites go away asynchronously. */
void rooms_hangup_all(struct room_set *rs);
uint32_t rooms_site_count(const struct room_set *rs);

const struct cfg_room *room_cfg(const struct room *room);
uint16_t room_rtp_port(const struct room *room);
struct mixer *room_mixer(const struct room *room);
uint32_t room_site_count(const struct room *room);
const struct list *room_sites(const struct room *room);
bool room_full(const struct room *room);
/** Processing settings new sites of the room start with; the operator
 *  can change them at run time (room_set_dsp). */
const struct msite_dsp *room_dsp(const struct room *room);
/** Set the room's processing settings and apply them to every site in
 *  it (chair flags of sites are kept). */
void room_set_dsp(struct room *room, const struct msite_dsp *dsp);
struct site *room_site_find(const struct room *room, const char *id);

/** Shared encoded stream for prm: found or created. */
int  room_profile_get(struct room *room, const struct codec_prm *prm,
		      struct mix_profile **profp);
void room_profile_put(struct room *room, struct mix_profile *prof);

void room_site_add(struct room *room, struct site *site, struct le *le);
void room_site_remove(struct room *room, struct le *le);

/* ---- site.c ------------------------------------------------------------- */

/** Called from the SIP layer for an INVITE to an existing room. */
int  site_invite(struct room *room, struct sipsess_sock *sock,
		 const struct sip_msg *msg);
/** Hang up (BYE or CANCEL reply) and destroy. */
void site_hangup(struct site *site, const char *reason);
void site_on_mixer_event(struct site *site, const struct mix_ev *ev);
void site_on_rtcp(struct site *site, struct rtcp_msg *msg);
void site_check_timeout(struct site *site, uint64_t now_ns,
			uint32_t timeout_s);
int  site_rtcp_report(struct site *site, struct udp_sock *us);
bool site_matches_rtcp(const struct site *site, const struct sa *src,
		       uint32_t ssrc);
int  site_print_json(struct re_printf *pf, const struct site *site);
const char *site_id(const struct site *site);
const struct msite_dsp *site_dsp(const struct site *site);
/** Change one site's processing at run time. */
int  site_set_dsp(struct site *site, const struct msite_dsp *dsp);

/* ---- lbsdp.c ------------------------------------------------------------ */

int  lbsdp_alloc_media(struct sdp_session **sessp, struct sdp_media **mp,
		       const struct sa *laddr);
int  lbsdp_add_all_formats(struct sdp_media *m);
void lbsdp_prm_from_format(struct codec_prm *prm,
			   const struct sdp_format *rf,
			   const struct sdp_media *m,
			   const struct cfg_room *rc);
/**
 * Read an offer with every codec we know and pick the offerer's first
 * supported one. @return 0, ENOENT (nothing in common: 488) or another
 * errno for SDP that cannot be parsed (400). tel_pt is -1 without
 * telephone-event.
 */
int  lbsdp_probe_offer(struct mbuf *offer, const struct sa *laddr,
		       const struct cfg_room *rc, struct codec_prm *prm,
		       char *name, size_t namesz, int *tel_pt);

/* ---- sipua.c ------------------------------------------------------------ */

int  sipua_init(const struct cfg *cfg, struct room_set *rooms);
void sipua_close(bool force);
struct sip *sipua_sip(void);

/* ---- http.c ------------------------------------------------------------- */

int  http_api_init(const struct sa *laddr, struct room_set *rooms);
void http_api_close(void);

/* ---- json.c ------------------------------------------------------------- */

/** %H helper printing a JSON string literal (quotes and escapes). */
int json_pstr(struct re_printf *pf, const char *s);

/* ---- time --------------------------------------------------------------- */

uint64_t lb_mono_ns(void);

#endif
