/**
 * @file lbsdp.c  SDP offer/answer helpers on top of libre's sdp module:
 * our codec list, picking a codec from an offer, codec parameters from
 * the remote's fmtp and ptime.
 *
 * The probe reads untrusted SDP; tests/fuzz/fuzz_sdp.c fuzzes it.
 *
 * Threads: network thread only.
 */
#include <re.h>
#include <stdlib.h>
#include <string.h>
#include "lbsdp.h"

#define OPUS_PT_DEFAULT "111"
#define TEL_PT_DEFAULT "101"

int lbsdp_add_all_formats(struct sdp_media *m)
{
	int err;

	err = sdp_format_add(NULL, m, false, OPUS_PT_DEFAULT, "opus", 48000,
			     2, NULL, NULL, NULL, false, NULL);
	err |= sdp_format_add(NULL, m, false, "0", "PCMU", 8000, 1, NULL,
			      NULL, NULL, false, NULL);
	err |= sdp_format_add(NULL, m, false, "8", "PCMA", 8000, 1, NULL,
			      NULL, NULL, false, NULL);
	err |= sdp_format_add(NULL, m, false, TEL_PT_DEFAULT,
			      "telephone-event", 8000, 1, NULL, NULL, NULL,
			      false, "0-15");
	return err;
}

int lbsdp_alloc_media(struct sdp_session **sessp,
			   struct sdp_media **mp, const struct sa *laddr)
{
	int err;

	err = sdp_session_alloc(sessp, laddr);
	if (err)
		return err;
	err = sdp_media_add(mp, *sessp, "audio", sa_port(laddr), "RTP/AVP");
	if (err)
		return err;
	sdp_media_set_lport_rtcp(*mp, sa_port(laddr) + 1);
	/* AVPF offers (WebRTC-ish gateways) are fine as plain AVP */
	return sdp_media_set_alt_protos(*mp, 2, "RTP/AVP", "RTP/AVPF");
}

static uint32_t pl_u32_or(const struct pl *params, const char *name,
			  uint32_t def)
{
	struct pl v;

	if (params && fmt_param_get(params, name, &v))
		return pl_u32(&v);
	return def;
}

static uint32_t choose_ptime(const struct sdp_media *m)
{
	const char *p = sdp_media_rattr(m, "ptime");
	const char *mx = sdp_media_rattr(m, "maxptime");
	unsigned long pt = p ? strtoul(p, NULL, 10) : 20;
	unsigned long maxpt = mx ? strtoul(mx, NULL, 10) : 60;

	/* we packetise whole 20 ms frames: 20, 40 or 60 */
	if (pt <= 30)
		pt = 20;
	else if (pt <= 50)
		pt = 40;
	else
		pt = 60;
	while (pt > 20 && pt > maxpt)
		pt -= 20;
	return (uint32_t)pt;
}

/*
 * The encoding name of a remote format. A static payload type may come
 * without a=rtpmap (RFC 3551 defines it; linphone offers PCMU as
 * "m=audio ... RTP/AVP 0" alone): libre then matches it to ours by number
 * and leaves its name NULL.
 */
static const char *rformat_name(const struct sdp_format *rf)
{
	if (rf->name)
		return rf->name;
	switch (rf->pt) {
	case 0:
		return "PCMU";
	case 8:
		return "PCMA";
	default:
		return "";
	}
}

/* Codec parameters from the chosen remote format and the room config. */
void lbsdp_prm_from_format(struct codec_prm *prm,
			    const struct sdp_format *rf,
			    const struct sdp_media *m,
			    const struct cfg_room *rc)
{
	struct pl params;

	memset(prm, 0, sizeof(*prm));
	prm->pt = (uint8_t)rf->pt;
	prm->ptime_ms = choose_ptime(m);
	{
		const char *mx = sdp_media_rattr(m, "maxptime");
		unsigned long maxpt = mx ? strtoul(mx, NULL, 10) : 60;

		/* RFC 7587: without a=maxptime a receiver takes up to 120
		 * ms; we make at most 60 */
		prm->maxptime_ms = maxpt >= 60 ? 60 : maxpt >= 40 ? 40 :
			20;
		if (prm->maxptime_ms < prm->ptime_ms)
			prm->maxptime_ms = prm->ptime_ms;
	}
	if (!str_casecmp(rformat_name(rf), "opus")) {
		prm->id = CODEC_OPUS;
		prm->clock_hz = 48000;
		pl_set_str(&params, rf->params ? rf->params : "");
		prm->fec = pl_u32_or(&params, "useinbandfec", 0) == 1;
		/* usedtx is the receiver's wish (RFC 7587 6.1) */
		prm->dtx = pl_u32_or(&params, "usedtx", 0) == 1 ||
			rc->opus_dtx;
		prm->cbr = pl_u32_or(&params, "cbr", 0) == 1;
		prm->max_bw_hz = pl_u32_or(&params, "maxplaybackrate", 48000);
		prm->max_bitrate_bps = pl_u32_or(&params,
						 "maxaveragebitrate", 0);
		prm->bitrate_bps = pl_u32_or(&params, "maxaveragebitrate",
					     rc->opus_bitrate_bps);
		if (prm->bitrate_bps > rc->opus_bitrate_bps)
			prm->bitrate_bps = rc->opus_bitrate_bps;
		if (prm->bitrate_bps < 6000)
			prm->bitrate_bps = 6000;
		prm->complexity = rc->opus_complexity;
		/* a site that asks for 12 kbit/s or less is on a thin
		 * line: complexity 10 is worth 0.04 ESTOI there (1 at 8
		 * kbit/s), and such streams are few and shared */
		if (prm->bitrate_bps <= 12000 && prm->complexity >= 5)
			prm->complexity = 10;
	}
	else {
		prm->id = !str_casecmp(rformat_name(rf), "PCMU") ? CODEC_PCMU :
			CODEC_PCMA;
		prm->clock_hz = 8000;
	}
}

/*
 * Read an offer with every codec we know and pick the offerer's first
 * supported one. @return 0, ENOENT (nothing in common: 488) or another
 * errno for an SDP we cannot parse (400).
 */
int lbsdp_probe_offer(struct mbuf *offer, const struct sa *laddr,
		       const struct cfg_room *rc, struct codec_prm *prm,
		       char *name, size_t namesz, int *tel_pt)
{
	struct sdp_session *probe = NULL;
	struct sdp_media *m = NULL;
	struct le *le;
	size_t pos = offer->pos;
	int err;

	*tel_pt = -1;
	err = lbsdp_alloc_media(&probe, &m, laddr);
	if (!err)
		err = lbsdp_add_all_formats(m);
	if (err)
		goto out;
	err = sdp_decode(probe, offer, true);
	offer->pos = pos;
	if (err)
		goto out;
	if (!sa_port(sdp_media_raddr(m)) || sdp_media_disabled(m)) {
		err = ENOENT;
		goto out;
	}

	err = ENOENT;
	LIST_FOREACH(sdp_media_format_lst(m, false), le) {
		const struct sdp_format *rf = le->data;

		if (!rf->sup)
			continue;
		if (!str_casecmp(rformat_name(rf), "telephone-event")) {
			if (*tel_pt < 0)
				*tel_pt = rf->pt;
			continue;
		}
		if (err == ENOENT) {
			lbsdp_prm_from_format(prm, rf, m, rc);
			str_ncpy(name, rformat_name(rf), namesz);
			err = 0;
		}
	}
 out:
	mem_deref(probe);
	return err;
}

