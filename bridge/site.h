/**
 * @file site.h  One dialled-in site: its SIP session, SDP offer/answer,
 * its member in the room's mixer, RTCP reports and liveness.
 *
 * A site knows nothing of rooms: it is created with a narrow
 * environment (struct site_env) that gives it the room's settings, its
 * mixer, and three calls back into whoever made it (profiles, and the
 * news that it closed). Views (JSON) read it through site_info().
 *
 * Threads: network thread only.
 */
#ifndef LB_SITE_H
#define LB_SITE_H

#include <re.h>
#include "config.h"
#include "mixer.h"

struct site;

/** What a site may use of the room it joins. */
struct site_env {
	const struct cfg_room *cfg;
	struct mixer *mixer;
	uint16_t rtp_port;                   /* where its media goes */
	const struct mix_dsp *dsp;           /* processing to start with */
	const struct mix_ctl *ctl;           /* controls to start with, or
						NULL (e.g. muted: mute_all) */
	/** The shared stream for prm: found or made (a reference). */
	int  (*profile_get)(void *arg, const struct codec_prm *prm,
			    struct mix_profile **profp);
	void (*profile_put)(void *arg, struct mix_profile *prof);
	/** The site is going away (called from its destructor). */
	void (*closed)(void *arg, struct site *site);
	void *arg;
};

enum site_state {
	SITE_RINGING,
	SITE_ESTABLISHED,
	SITE_CLOSED,
};

/** A site as views show it; pointers valid until the site changes. */
struct site_info {
	const char *id;
	const char *name;
	const char *uri;
	enum site_state state;
	const struct sa *raddr;
	const struct sa *sig_addr;           /* where its SIP came from */
	const struct codec_prm *prm;         /* negotiated */
	bool recv_on, send_on;
	double connected_s;
	const struct mix_dsp *dsp;
	const struct mix_ctl *ctl;
	const char *user;                    /* user part of its From URI */
	const struct mix_member_stats *st;   /* NULL before media */
	float chain_delay_ms;
	bool have_remote_report;
	double remote_loss_pct;
	double remote_jitter_ms;
	double rtt_ms;
	double recent_loss_pct;              /* last 10 s */
	/* adapting what we send (see site.c) */
	const char *adapt_level;             /* clean, fec, thin */
	double adapt_loss_pct;               /* smoothed, from its reports */
	uint32_t adapt_changes;
	const char *adapt_why;
	const char *adapt_band;              /* narrowband .. wideband */
	/* what we ask it to send (re-offers, see site.c) */
	const char *ask_level;               /* none, thin */
	uint32_t ask_changes;
	const char *ask_why;
};

/**
 * Take an INVITE. @return 0 when the site took it (its session
 * answers), or the SIP status to refuse it with (400 bad SDP, 488 no
 * common codec, 500, 503); nothing is left behind then.
 */
uint16_t site_invite(struct site **sitep, const struct site_env *env,
		     struct sipsess_sock *sock, const struct sip_msg *msg);
/** Hang up (BYE or final reply) and destroy. */
void site_hangup(struct site *site, const char *reason);

void site_on_mixer_event(struct site *site, const struct mix_ev *ev);
void site_on_rtcp(struct site *site, struct rtcp_msg *msg);
bool site_matches_rtcp(const struct site *site, const struct sa *src,
		       uint32_t ssrc);
int  site_rtcp_report(struct site *site, struct udp_sock *us);
/** Once a second: the loss of the last 10 s (site_info). */
void site_sample_loss(struct site *site);
void site_check_timeout(struct site *site, uint64_t now_ns,
			uint32_t timeout_s);

const char *site_id(const struct site *site);
const char *site_name(const struct site *site);
/** The number in its id; its members' key in the mixer. */
uint32_t site_key(const struct site *site);
struct le *site_le(struct site *site);
/** Its mixer member, NULL until media is set up. */
struct mix_member *site_member(const struct site *site);
const struct mix_dsp *site_dsp(const struct site *site);
/** Change the site's processing at run time. @return 0 or EAGAIN. */
int  site_set_dsp(struct site *site, const struct mix_dsp *dsp);
/** The operator's controls (mute, deaf, gains); kept across codec
 *  changes. @return 0 or EAGAIN. */
int  site_set_ctl(struct site *site, const struct mix_ctl *ctl);
const struct mix_ctl *site_ctl(const struct site *site);
void site_info(const struct site *site, struct site_info *si);

#endif
