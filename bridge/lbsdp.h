/**
 * @file lbsdp.h  SDP offer/answer helpers on top of libre's sdp module:
 * our codec list, picking a codec from an offer, codec parameters from
 * the remote's fmtp and ptime.
 *
 * Threads: network thread only.
 */
#ifndef LB_LBSDP_H
#define LB_LBSDP_H

#include <re.h>
#include "codec.h"
#include "config.h"

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

#endif
