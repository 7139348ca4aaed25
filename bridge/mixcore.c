/**
 * @file mixcore.c  The mix core: speech chain, talker selection, mix,
 * mix-minus, fades, limiter and encoding, with no I/O.
 *
 * Per tick, with N members, K talkers and P profiles, the work is N
 * chain runs (gated: idle members cost the VAD and the meters, see
 * dsp/proc.c), one selection pass O(N K), one mix pass O(N) (the
 * mix-minus of a talker is the total minus its own contribution), and
 * P + K encodes plus the members still on their own stream.
 *
 * Fades: a member's contribution ramps linearly across one 20 ms frame
 * from the gain it had to 1 (selected) or 0, so entering and leaving
 * the mix never clicks.
 *
 * Own streams: see mixcore.h. The hand-over copies the profile
 * encoder's state byte for byte (codec_enc_continue), its limiter and
 * its partial packet, so the member's far end decodes one continuous
 * stream; test_mixcore checks the bytes are identical while both
 * encode the same signal. Going back waits for 1 s without
 * contribution (the two encoders have then seen the same signal long
 * enough to agree) and for a packet boundary of both.
 *
 * Echo reference: what a member with a running canceller hears is
 * decoded from the packets it was sent (Opus at 8-24 kbit/s keeps the
 * waveform only to 10-20 dB, and a canceller fed the bridge's PCM
 * instead could cancel no better than that); while the canceller rests,
 * or for a PCM member, the PCM serves. The reference is read REF_LAG
 * frames late, whatever the ptime: the frames of a 40 or 60 ms packet
 * exist decoded only when the packet is complete, and reading each frame
 * as soon as it exists would shift the echo delay the canceller sees by
 * 20 ms at every ptime change (a profile move). The canceller's delay
 * figure is reported with REF_LAG added back.
 *
 * Threads: see mixcore.h.
 */
#include <re.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include "mixcore.h"

/* frames a packet can hold after its first one */
#define REF_LAG (LB_PTIME_MAX_MS / 20 - 1)

struct mix_profile {
	struct codec_prm prm;
	struct codec_enc enc;                /* unused for CODEC_NONE */
	struct dsp_limiter lim;
	int16_t acc[LB_PTIME_MAX_MS * 16];   /* PCM of the packet so far */
	size_t accn;
	uint8_t pkt[MIX_PKT_MAX];
	int pktlen;                          /* > 0: a packet this tick */
	uint32_t pkt_samples;
	int16_t last[LB_FRAME];              /* PCM it sent this tick */
	float level_db;
	bool in_core;
};

struct mixcore_member {
	void *user;
	struct mix_profile *prof;            /* the stream it hears */
	bool speak, hear, full;
	bool deaf;                           /* hears silence */
	float gain_in, gain_out;             /* linear */

	/* input and speech chain */
	int16_t frame[LB_FRAME];             /* in, then processed */
	bool heard;
	bool valid;                          /* frame is the chain's output */
	struct dsp_proc *proc;
	bool aec_attached;
	struct mix_dsp dsp;
	struct dsp_proc_meters m;
	struct dsp_talk talk;
	bool talker;

	/* echo reference */
	int16_t sent[LB_FRAME];
	struct codec_dec refdec;
	bool has_refdec;
	int16_t reffifo[LB_PKT_MAX_SAMPLES + LB_FRAME];
	size_t reffifon;
	uint64_t ref_base;                   /* tick of reffifo[0] */
	bool refdec_on;
	int16_t ref_hist[REF_LAG + 1][LB_FRAME];  /* what it heard, ring */
	uint32_t ref_hi;
	uint64_t ref_tick;

	/* in the mix */
	float gain;
	float contrib[LB_FRAME];
	bool contributing;

	/* its own stream */
	struct codec_enc own;
	bool has_own_enc;
	struct dsp_limiter own_lim;
	int16_t own_acc[LB_PTIME_MAX_MS * 16];
	size_t own_accn;
	size_t own_need;                     /* this packet's samples, 0:
						the ptime's */
	uint8_t own_pkt[MIX_PKT_MAX];
	int16_t own_pcm[LB_FRAME];
	bool own_mode;
	uint32_t own_idle;
	bool reconf;                         /* own encoder takes prof's
						settings at its next packet
						boundary (a move) */

	/* a clip it alone hears over the mix (a prompt, a probe) */
	const int16_t *clip;                 /* the caller's, or NULL */
	size_t clipn, clippos;
	bool excluded;                       /* out of the talkers */
	bool clip_only;                      /* hears the clip, not the mix */

	struct mixcore_out out;
	uint32_t idx;                        /* in the core, or UINT32_MAX */
};

struct mixcore {
	struct mixcore_prm prm;
	struct mixcore_member **memv;
	struct dsp_talk **talkv;             /* &memv[i]->talk */
	uint32_t memc;
	struct mix_profile *profv[MIXCORE_MAX_PROFILES];
	uint32_t profc;
	struct dsp_select_prm sel;
	struct dsp_limiter lim;              /* the room mix, for taps */
	float acc[LB_FRAME];
	float tmp[LB_FRAME];
	int16_t mix_pcm[LB_FRAME];
	uint32_t talkers;
	uint64_t encodes;
	const int16_t *clip;                 /* heard by every member */
	size_t clipn, clippos;
};

/* ---- allocation (control side) ------------------------------------------ */

static void core_destructor(void *arg)
{
	struct mixcore *core = arg;

	mem_deref(core->memv);
	mem_deref(core->talkv);
}

int mixcore_alloc(struct mixcore **corep, const struct mixcore_prm *prm)
{
	struct mixcore *core;
	int err;

	if (!corep || !prm || !prm->max_members)
		return EINVAL;
	core = mem_zalloc(sizeof(*core), core_destructor);
	if (!core)
		return ENOMEM;
	core->prm = *prm;
	core->memv = mem_zalloc(prm->max_members * sizeof(*core->memv), NULL);
	core->talkv = mem_zalloc(prm->max_members * sizeof(*core->talkv),
				 NULL);
	dsp_select_defaults(&core->sel);
	core->sel.max_talkers = prm->max_talkers;
	err = dsp_limiter_init(&core->lim, LB_SRATE, -1.0f);
	if (!err && (!core->memv || !core->talkv))
		err = ENOMEM;
	if (err)
		mem_deref(core);
	else
		*corep = core;
	return err;
}

static void profile_destructor(void *arg)
{
	struct mix_profile *p = arg;

	codec_enc_close(&p->enc);
}

int mix_profile_alloc(struct mix_profile **profp,
		      const struct codec_prm *prm)
{
	struct mix_profile *p;
	int err = 0;

	if (!profp || !prm)
		return EINVAL;
	p = mem_zalloc(sizeof(*p), profile_destructor);
	if (!p)
		return ENOMEM;
	p->prm = *prm;
	if (prm->id != CODEC_NONE)
		err = codec_enc_init(&p->enc, prm);
	if (!err)
		err = dsp_limiter_init(&p->lim, LB_SRATE, -1.0f);
	if (err)
		mem_deref(p);
	else
		*profp = p;
	return err;
}

const struct codec_prm *mix_profile_prm(const struct mix_profile *prof)
{
	return prof ? &prof->prm : NULL;
}

int mixcore_aec_alloc(struct dsp_aec **aecp)
{
	const struct dsp_aec_prm ap = {.srate_hz = LB_SRATE, .tail_ms = 256,
				       .max_delay_ms = 800};

	return dsp_aec_alloc(aecp, &ap);
}

static void member_destructor(void *arg)
{
	struct mixcore_member *m = arg;

	if (m->has_refdec)
		codec_dec_close(&m->refdec);
	if (m->has_own_enc)
		codec_enc_close(&m->own);
	dsp_proc_free(m->proc);
}

int mixcore_member_alloc(struct mixcore_member **mp,
			 const struct mix_dsp *dsp,
			 struct mix_profile *prof, void *user)
{
	struct mixcore_member *m;
	struct dsp_aec *aec = NULL;
	int err;

	if (!mp || !dsp || !prof)
		return EINVAL;
	m = mem_zalloc(sizeof(*m), member_destructor);
	if (!m)
		return ENOMEM;
	m->user = user;
	m->prof = prof;
	m->speak = m->hear = true;
	m->gain_in = m->gain_out = 1.0f;
	m->dsp = *dsp;
	m->talk.chair = dsp->chair;
	m->idx = UINT32_MAX;

	err = dsp_proc_alloc(&m->proc, &dsp->proc);
	if (err)
		goto out;
	dsp_proc_get_meters(m->proc, &m->m);
	if (dsp->proc.aec) {
		err = mixcore_aec_alloc(&aec);
		if (err)
			goto out;
		(void)dsp_proc_swap_aec(m->proc, aec);
		m->aec_attached = true;
	}
	err = dsp_limiter_init(&m->own_lim, LB_SRATE, -1.0f);
	if (err)
		goto out;
	if (prof->prm.id == CODEC_NONE)
		goto out;
	err = codec_dec_init(&m->refdec, prof->prm.id);
	if (err)
		goto out;
	m->has_refdec = true;
	err = codec_enc_init(&m->own, &prof->prm);
	if (err)
		goto out;
	m->has_own_enc = true;
 out:
	if (err)
		mem_deref(m);
	else
		*mp = m;
	return err;
}

/* ---- membership (driving thread) ---------------------------------------- */

int mixcore_add(struct mixcore *core, struct mixcore_member *m)
{
	if (!core || !m || m->idx != UINT32_MAX)
		return EINVAL;
	if (core->memc >= core->prm.max_members)
		return ENOSPC;
	m->idx = core->memc;
	core->talkv[core->memc] = &m->talk;
	core->memv[core->memc++] = m;
	return 0;
}

void mixcore_remove(struct mixcore *core, struct mixcore_member *m)
{
	struct mixcore_member *last;
	uint32_t i;

	if (!core || !m || m->idx >= core->memc || core->memv[m->idx] != m)
		return;
	i = m->idx;
	last = core->memv[--core->memc];
	core->memv[i] = last;
	core->talkv[i] = &last->talk;
	last->idx = i;
	m->idx = UINT32_MAX;
}

int mixcore_profile_add(struct mixcore *core, struct mix_profile *prof)
{
	if (!core || !prof || prof->in_core)
		return EINVAL;
	if (core->profc >= MIXCORE_MAX_PROFILES)
		return ENOSPC;
	prof->in_core = true;
	core->profv[core->profc++] = prof;
	return 0;
}

void mixcore_profile_remove(struct mixcore *core, struct mix_profile *prof)
{
	uint32_t i;

	if (!core || !prof)
		return;
	for (i = 0; i < core->profc; i++) {
		if (core->profv[i] == prof) {
			core->profv[i] = core->profv[--core->profc];
			prof->in_core = false;
			return;
		}
	}
}

struct mixcore_member *const *mixcore_members(const struct mixcore *core,
					      uint32_t *np)
{
	*np = core->memc;
	return core->memv;
}

void *mixcore_member_user(const struct mixcore_member *m)
{
	return m->user;
}

void mixcore_member_set_io(struct mixcore_member *m, bool speak, bool hear)
{
	m->speak = speak;
	m->hear = hear;
}

void mixcore_member_set_levels(struct mixcore_member *m, float gain_in,
			       float gain_out, bool deaf)
{
	m->gain_in = gain_in;
	m->gain_out = gain_out;
	m->deaf = deaf;
}

void mixcore_member_set_dsp(struct mixcore_member *m,
			    const struct mix_dsp *dsp, struct dsp_aec *aec,
			    struct dsp_aec **oldp)
{
	struct dsp_aec *old = NULL;

	m->dsp = *dsp;
	m->talk.chair = dsp->chair;
	if (aec) {
		old = dsp_proc_swap_aec(m->proc, aec);
		m->aec_attached = true;
	}
	dsp_proc_configure(m->proc, &dsp->proc);
	if (oldp)
		*oldp = old;
}

void mixcore_member_set_full(struct mixcore_member *m, bool full)
{
	m->full = full;
}

void mixcore_member_play(struct mixcore_member *m, const int16_t *pcm,
			 size_t n)
{
	m->clip = n ? pcm : NULL;
	m->clipn = n;
	m->clippos = 0;
}

bool mixcore_member_playing(const struct mixcore_member *m)
{
	return m->clip != NULL;
}

void mixcore_member_aec_hint(struct mixcore_member *m, float delay_ms)
{
	/* the canceller sees the reference REF_LAG ticks late */
	dsp_proc_aec_hint(m->proc, delay_ms - REF_LAG * 20.0f);
}

void mixcore_member_exclude(struct mixcore_member *m, bool excluded)
{
	m->excluded = excluded;
}

void mixcore_member_clip_only(struct mixcore_member *m, bool on)
{
	m->clip_only = on;
}

void mixcore_play_all(struct mixcore *core, const int16_t *pcm, size_t n)
{
	core->clip = n ? pcm : NULL;
	core->clipn = n;
	core->clippos = 0;
}

bool mixcore_playing_all(const struct mixcore *core)
{
	return core->clip != NULL;
}

/* The member takes its own encoder over from its profile's: state, limiter
 * and the partial packet, so its far end hears one stream. Called before
 * the profile encodes this tick. */
static void take_own(struct mixcore_member *m)
{
	struct mix_profile *p = m->prof;

	if (m->has_own_enc)
		codec_enc_continue(&m->own, &p->enc);
	m->own_lim = p->lim;
	memcpy(m->own_acc, p->acc, p->accn * sizeof(int16_t));
	m->own_accn = p->accn;
	m->own_need = 0;
	m->own_mode = true;
	m->own_idle = 0;
}

int mixcore_member_move(struct mixcore_member *m, struct mix_profile *prof)
{
	if (!m || !prof || !prof->in_core ||
	    prof->prm.id != m->prof->prm.id)
		return EINVAL;
	if (prof == m->prof)
		return 0;
	if (!m->own_mode)
		take_own(m);
	m->own_idle = 0;
	m->prof = prof;
	m->reconf = prof->prm.id != CODEC_NONE;
	return 0;
}

struct mix_profile *mixcore_member_profile(const struct mixcore_member *m)
{
	return m->prof;
}

/* ---- per member: the speech chain --------------------------------------- */

int16_t *mixcore_member_input(struct mixcore_member *m)
{
	return m->frame;
}

/* The chain runs in full only for members that are mixed or speaking
 * (or recorded); the others cost the VAD and the meters. */
void mixcore_member_process(struct mixcore_member *m, bool heard)
{
	const bool full = m->talk.selected || m->talk.chair || m->full;

	m->heard = heard;
	if (m->aec_attached || m->dsp.proc.aec)
		dsp_proc_playback(m->proc, m->sent);
	dsp_proc_process(m->proc, m->frame, heard, full);
	dsp_proc_get_meters(m->proc, &m->m);
	m->valid = full || m->m.speech;
	m->talk.candidate = m->m.speech && m->speak && heard;
	m->talk.veto = m->m.echo_only || m->excluded;
	m->talk.score_db = m->m.speech_db;
}

/* Nothing outside the chain wants its frames in full. */
static bool unheeded(const struct mixcore_member *m)
{
	return !m->talk.selected && !m->talk.chair && !m->full;
}

bool mixcore_member_may_skip(const struct mixcore_member *m)
{
	return unheeded(m) && dsp_proc_may_skip(m->proc);
}

bool mixcore_member_may_shed(const struct mixcore_member *m)
{
	return unheeded(m) && dsp_proc_may_shed(m->proc);
}

/* A frame received but not decoded (rtpep: voiceless, see
 * mixcore_member_may_skip): the chain accounts for it at no cost. */
void mixcore_member_skip(struct mixcore_member *m)
{
	m->heard = false;
	if (m->aec_attached || m->dsp.proc.aec)
		dsp_proc_playback(m->proc, m->sent);
	dsp_proc_skip(m->proc);
	dsp_proc_get_meters(m->proc, &m->m);
	m->valid = false;
	m->talk.candidate = false;
	m->talk.veto = m->excluded;
	m->talk.score_db = m->m.speech_db;
}

void mixcore_member_process_ext(struct mixcore_member *m, bool heard,
				const int16_t *ext)
{
	/* the software chain runs in full all along: warm, for the moment
	 * the unit fails; what is mixed is the unit's when it delivered */
	const bool full = m->full;

	m->full = true;
	mixcore_member_process(m, heard);
	m->full = full;
	if (ext) {
		memcpy(m->frame, ext, sizeof(m->frame));
		m->valid = true;
	}
}

const int16_t *mixcore_member_reference(const struct mixcore_member *m)
{
	return m->sent;
}

void mixcore_select(struct mixcore *core)
{
	uint32_t i, n = 0;

	(void)dsp_select_run(&core->sel, core->talkv, core->memc);
	for (i = 0; i < core->memc; i++) {
		struct mixcore_member *m = core->memv[i];

		m->talker = m->talk.selected && m->speak;
		n += m->talker;
	}
	core->talkers = n;
}

/* ---- mixing, encoding --------------------------------------------------- */

/* Contribution with a linear ramp from the current to the target gain
 * across the frame (chairs are talkers: dsp_select_run selects them). */
static bool contribute(struct mixcore_member *m)
{
	const float target = m->talker ? m->gain_in : 0.0f;
	const float g0 = m->gain;
	const float step = (target - g0) / LB_FRAME;
	size_t i;

	if (g0 == 0.0f && target == 0.0f)
		return false;
	if (g0 == target) {
		for (i = 0; i < LB_FRAME; i++)
			m->contrib[i] = (float)m->frame[i] * g0;
	}
	else {
		for (i = 0; i < LB_FRAME; i++)
			m->contrib[i] = (float)m->frame[i] *
				(g0 + step * (float)(i + 1));
	}
	m->gain = target;
	return true;
}

/* Limit one frame of mixv into pcm and add it to the packet being
 * built; encode once need samples are there. @return payload bytes,
 * 0 while the packet is not complete (or for PCM), -1 on failure. */
static int encode_frame(struct codec_enc *enc, struct dsp_limiter *lim,
			const float *mixv, int16_t *accv, size_t *accn,
			size_t need, uint8_t *pkt, int16_t *pcm,
			float *level_db, uint32_t *samples)
{
	dsp_limiter_process(lim, mixv, pcm, LB_FRAME);
	*level_db = dsp_rms_dbfs(pcm, LB_FRAME);
	*samples = 0;
	if (!enc)
		return 0;
	memcpy(accv + *accn, pcm, LB_FRAME * sizeof(int16_t));
	*accn += LB_FRAME;
	if (*accn < need)
		return 0;
	*samples = (uint32_t)*accn;
	*accn = 0;
	return codec_encode(enc, accv, *samples, pkt, MIX_PKT_MAX);
}

static size_t ptime_samples(const struct codec_prm *prm)
{
	return prm->ptime_ms * (LB_SRATE / 1000);
}

static void ref_update(struct mixcore_member *m, const uint8_t *pl, int len,
		       uint32_t samples)
{
	const size_t cap = ARRAY_SIZE(m->reffifo);
	const uint64_t t = m->ref_tick++;
	const int16_t *late;
	bool want;
	int r;

	if (!m->aec_attached)
		return;
	/* what it heard, REF_LAG ticks ago: the resting reference and the
	 * stand-in when no decoded frame is there */
	if (m->hear)
		memcpy(m->ref_hist[m->ref_hi], m->out.pcm, sizeof(m->sent));
	else
		memset(m->ref_hist[m->ref_hi], 0, sizeof(m->sent));
	m->ref_hi = (m->ref_hi + 1) % (REF_LAG + 1);
	late = m->ref_hist[m->ref_hi];

	want = m->has_refdec && m->hear && dsp_proc_aec_running(m->proc);
	if (want != m->refdec_on) {
		m->refdec_on = want;
		m->reffifon = 0;
	}
	if (!want) {
		memcpy(m->sent, late, sizeof(m->sent));
		return;
	}
	if (len > 0 && samples >= LB_FRAME && samples <= t * LB_FRAME +
	    LB_FRAME) {
		/* the packet holds the frames of ticks first..t */
		const uint64_t first = t + 1 - samples / LB_FRAME;

		if (!m->reffifon ||
		    m->ref_base + m->reffifon / LB_FRAME != first) {
			m->reffifon = 0;
			m->ref_base = first;
		}
		r = codec_decode(&m->refdec, pl, (size_t)len,
				 m->reffifo + m->reffifon,
				 cap - m->reffifon);
		if (r > 0)
			m->reffifon += (size_t)r - (size_t)r % LB_FRAME;
	}
	/* the frame of tick t - REF_LAG, decoded, if it is there */
	while (m->reffifon >= LB_FRAME && m->ref_base + REF_LAG < t) {
		m->reffifon -= LB_FRAME;
		memmove(m->reffifo, m->reffifo + LB_FRAME,
			m->reffifon * sizeof(int16_t));
		++m->ref_base;
	}
	if (m->reffifon >= LB_FRAME && m->ref_base + REF_LAG == t) {
		memcpy(m->sent, m->reffifo, sizeof(m->sent));
		m->reffifon -= LB_FRAME;
		memmove(m->reffifo, m->reffifo + LB_FRAME,
			m->reffifon * sizeof(int16_t));
		++m->ref_base;
		return;
	}
	memcpy(m->sent, late, sizeof(m->sent));
}

/* A move: the own encoder takes the new profile's settings at a packet
 * boundary of its own, and this packet is cut so that it ends where the
 * profile's does (the profile has encoded this tick already). */
static void reconfigure(struct mixcore_member *m)
{
	const struct mix_profile *p = m->prof;
	const size_t need = ptime_samples(&p->prm);

	if (codec_enc_set(&m->own, &p->prm))
		return;
	m->own_need = p->accn == 0 ? LB_FRAME : need - p->accn + LB_FRAME;
	m->reconf = false;
}

/* A member that needs its own stream whether it speaks or not. */
static bool own_always(const struct mixcore_member *m)
{
	return m->deaf || m->gain_out != 1.0f || m->clip || m->clip_only;
}

/* Add the next frame of a clip to dst; false once it has ended. */
static bool clip_add(float *dst, const int16_t *clip, size_t clipn,
		     size_t *pos)
{
	size_t i;

	for (i = 0; i < LB_FRAME && *pos < clipn; i++, (*pos)++)
		dst[i] += (float)clip[*pos];
	return *pos < clipn;
}

/* tmp: the caller's scratch frame (members finish on several
 * threads). Returns 1 when it encoded a packet. */
static uint32_t own_encode(const struct mixcore *core,
			   struct mixcore_member *m, float *tmp)
{
	const float *src = core->acc;
	size_t need, i;
	int len;

	if (m->reconf && m->own_accn == 0)
		reconfigure(m);
	need = m->own_need ? m->own_need : ptime_samples(&m->own.prm);
	if (m->deaf || m->clip_only) {
		memset(tmp, 0, LB_FRAME * sizeof(*tmp));
		src = tmp;
	}
	else if (m->contributing || m->gain_out != 1.0f) {
		for (i = 0; i < LB_FRAME; i++)
			tmp[i] = (core->acc[i] - (m->contributing ?
				  m->contrib[i] : 0.0f)) * m->gain_out;
		src = tmp;
	}
	if (m->clip) {
		if (src != tmp)
			memcpy(tmp, src, LB_FRAME * sizeof(*tmp));
		src = tmp;
		if (!clip_add(tmp, m->clip, m->clipn, &m->clippos))
			m->clip = NULL;
	}
	len = encode_frame(m->has_own_enc ? &m->own : NULL, &m->own_lim,
			   src, m->own_acc, &m->own_accn, need, m->own_pkt,
			   m->own_pcm, &m->out.level_dbfs, &m->out.samples);
	if (m->out.samples)
		m->own_need = 0;
	m->out.pkt = len > 0 ? m->own_pkt : NULL;
	m->out.len = len;
	m->out.pcm = m->own_pcm;
	return len ? 1 : 0;
}

void mixcore_mix_shared(struct mixcore *core)
{
	uint32_t i;

	memset(core->acc, 0, sizeof(core->acc));
	for (i = 0; i < core->memc; i++) {
		struct mixcore_member *m = core->memv[i];
		const bool c = contribute(m);

		if (c) {
			size_t k;

			for (k = 0; k < LB_FRAME; k++)
				core->acc[k] += m->contrib[k];
		}
		if (c || own_always(m)) {
			if (!m->own_mode)
				take_own(m);
			m->own_idle = 0;
		}
		else if (m->own_mode && ++m->own_idle >= MIX_OWN_IDLE_TICKS &&
			 !m->reconf && m->own_accn == 0 &&
			 m->prof->accn == 0) {
			m->own_mode = false;
		}
		m->contributing = c;
	}
	if (core->clip && !clip_add(core->acc, core->clip, core->clipn,
				    &core->clippos))
		core->clip = NULL;

	for (i = 0; i < core->profc; i++) {
		struct mix_profile *p = core->profv[i];
		const bool enc = p->prm.id != CODEC_NONE;

		p->pktlen = encode_frame(enc ? &p->enc : NULL, &p->lim,
					 core->acc, p->acc, &p->accn,
					 ptime_samples(&p->prm), p->pkt,
					 p->last, &p->level_db,
					 &p->pkt_samples);
		if (p->pktlen)
			++core->encodes;
	}
	dsp_limiter_process(&core->lim, core->acc, core->mix_pcm, LB_FRAME);
}

uint32_t mixcore_member_finish(const struct mixcore *core,
			       struct mixcore_member *m, float *tmp)
{
	uint32_t enc = 0;

	if (m->own_mode) {
		enc = own_encode(core, m, tmp);
	}
	else {
		const struct mix_profile *p = m->prof;

		m->out.pkt = p->pktlen > 0 ? p->pkt : NULL;
		m->out.len = p->pktlen;
		m->out.samples = p->pkt_samples;
		m->out.pcm = p->last;
		m->out.level_dbfs = p->level_db;
	}
	ref_update(m, m->out.pkt, m->out.len, m->out.samples);
	return enc;
}

void mixcore_add_encodes(struct mixcore *core, uint32_t n)
{
	core->encodes += n;
}

void mixcore_mix(struct mixcore *core)
{
	uint32_t i, enc = 0;

	mixcore_mix_shared(core);
	for (i = 0; i < core->memc; i++)
		enc += mixcore_member_finish(core, core->memv[i], core->tmp);
	core->encodes += enc;
}

/* ---- outputs ------------------------------------------------------------ */

void mixcore_member_output(const struct mixcore_member *m,
			   struct mixcore_out *out)
{
	*out = m->out;
}

const int16_t *mixcore_mix_pcm(const struct mixcore *core)
{
	return core->mix_pcm;
}

const int16_t *mixcore_member_processed(const struct mixcore_member *m,
					bool *validp)
{
	if (validp)
		*validp = m->valid;
	return m->frame;
}

const struct dsp_proc_meters *
mixcore_member_meters(const struct mixcore_member *m)
{
	return &m->m;
}

bool mixcore_member_talking(const struct mixcore_member *m)
{
	return m->talker;
}

bool mixcore_member_own_stream(const struct mixcore_member *m)
{
	return m->own_mode;
}

bool mixcore_member_aec_running(const struct mixcore_member *m)
{
	return dsp_proc_aec_running(m->proc);
}

bool mixcore_member_aec_stats(const struct mixcore_member *m,
			      struct dsp_aec_stats *st)
{
	if (!dsp_proc_get_aec_stats(m->proc, st))
		return false;
	if (st->delay_ms >= 0)
		st->delay_ms += REF_LAG * 20.0f;
	return true;
}

uint32_t mixcore_talkers(const struct mixcore *core)
{
	return core->talkers;
}

uint64_t mixcore_encodes(const struct mixcore *core)
{
	return core->encodes;
}
