/**
 * @file proc.c  One site's processing chain: echo control, noise
 * suppression, AGC, voice activity and meters.
 *
 * Order per 20 ms frame, as received from the site:
 *
 *   in meters -> echo canceller (linear, dsp/aec.c) -> VAD + noise floor
 *     -> SpeexDSP preprocessor (noise suppression, and residual echo
 *        suppression when a canceller is attached) -> AGC -> out meters
 *
 * Why these choices:
 *  - The preprocessor runs on 10 ms halves. Its overlap-add delays the
 *    output by exactly one of its frames; at 10 ms that is half what a
 *    20 ms frame would cost. The delay is constant whatever is switched
 *    on (a plain 10 ms delay line replaces it when suppression is off),
 *    so toggling noise suppression at run time neither clicks nor
 *    shifts the site in time, and it is reported in the meters.
 *  - The VAD reads the signal before the preprocessor, so its decision
 *    about a frame is ready 10 ms before that frame leaves the chain:
 *    the talker selection acts on onsets ahead of the audio instead of
 *    behind it.
 *  - AGC is our own rather than SpeexDSP's: SpeexDSP 1.2 adapts its
 *    gain on the frames its placeholder VAD calls speech, which is every
 *    frame, so it pumps a hall's noise up between sentences. Ours
 *    measures the speech level only on frames our VAD calls speech, and
 *    freezes the gain otherwise.
 *  - Gating: an idle site (no speech, not mixed) is not heard by anyone,
 *    so only the VAD and the meters run every frame; the preprocessor
 *    runs on one frame in GATE_EVERY to keep its noise estimate current,
 *    and is primed with the previous 10 ms before a frame whose output
 *    counts. That keeps N large: the VAD costs about a tenth of the
 *    preprocessor.
 *
 * Threads: one chain belongs to one mixer thread; RT-safe after alloc.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <speex/speex_preprocess.h>
#include "dsp.h"

#define SRATE 16000
#define FRAME 320               /* 20 ms */
#define HALF (FRAME / 2)        /* preprocessor frame, 10 ms */
#define GATE_EVERY 8            /* idle: preprocess 1 frame in 8 */
#define QUIET_UPKEEP 16         /* idle, frames left undecoded: 1 in 16 */

#define AGC_TAU_S 0.4f          /* speech level estimate, once settled */
#define AGC_FAST_S 1.0f         /* of speech: faster estimate, slew */
#define AGC_UP_DB_S 10.0f       /* gain slew, settled */
#define AGC_UP_FAST_DB_S 40.0f  /* gain slew, first second of speech */
#define AGC_DOWN_DB_S 30.0f
#define AGC_MIN_GAIN_DB (-20.0f)
#define AGC_PEAK_DBFS (-1.0f)   /* never push a peak above this */
#define SCORE_TAU_S 0.3f        /* ranking level smoothing */
#define ECHO_MARGIN 4.0f        /* 6 dB: near speech over residual echo */
#define ECHO_SMOOTH 0.2f        /* per frame: about 100 ms */
#define NEAR_RUN 3              /* frames of near speech over the echo */
#define REF_HIST 64             /* 1.28 s of sent frame energies */
#define CONVERGED_DB 10.0f      /* canceller ERLE it is trusted at */
#define VAD_SETTLE 30           /* frames before the VAD is believed */
#define AEC_KEEP 1500           /* 30 s: canceller runs after activity */
#define AEC_WAKE_HEARD 100      /* 2 s heard before the VAD wakes it */
#define AEC_PROBATION 25        /* 0.5 s for the canceller to find echo */
#define SEARCH_ECHO 0.25f       /* delay search peak that means echo */
#define ENV_LAGS 40             /* envelope lags, 20 ms each: 800 ms */
#define ENV_TAU_S 4.0f          /* envelope correlation memory */
#define ENV_SUSPECT 0.45f       /* correlation that makes an echo likely */
#define ENV_FLOOR_DB (-70.0f)
#define ENV_LEARN 100           /* frames of live reference to judge */
#define REF_RECENT 40           /* 0.8 s: the longest echo delay + */
#define REF_ACTIVE_DBFS (-55.0f)

struct dsp_proc {
	struct dsp_proc_prm prm;
	SpeexPreprocessState *pp;
	struct dsp_aec *aec;
	bool echo_attached;      /* pp has the canceller's echo state */
	void *echo_st;           /* which one */
	struct dsp_vad vad;

	int16_t prev[HALF];      /* last 10 ms of input (priming) */
	int16_t dline[HALF];     /* delay line when pp does not run */
	bool pp_primed;          /* pp saw the previous 10 ms */
	uint32_t since_pp;       /* frames since the preprocessor ran */
	uint32_t since_skip;     /* frames since dsp_proc_skip() */
	uint32_t heard;          /* frames heard, up to AEC_WAKE_HEARD */
	uint32_t vad_idle;       /* frames since the VAD last fired */
	uint32_t aec_warm;       /* frames the canceller has run on end */
	uint32_t ref_quiet;      /* frames since the reference was active */

	float agc_gain_db;
	float agc_level;         /* speech power estimate, linear */
	uint32_t agc_frames;     /* speech frames seen, saturating */
	bool agc_seen;

	float score_pow;         /* ranking level, linear power */
	bool was_speech;
	bool raw_speech;         /* VAD of the last frame, echo or not */
	uint32_t shed_n;         /* frames left undecoded, up to
				    AEC_WAKE_HEARD */
	bool sounded;            /* its settled VAD has fired: learnt
				    from every frame */
	float lin_s, echo_s, res_s;  /* smoothed energies, echo test */
	uint32_t near_run;       /* frames of speech over the echo */
	float refe[REF_HIST];    /* energy of each frame sent, by frame */
	uint32_t refn;
	float raw_s;             /* smoothed echo predicted from them */
	/* envelope echo detector: log energy of input and reference */
	float env_ref[ENV_LAGS + 1];     /* reference, newest first */
	float env_mx, env_my;            /* running means, dB */
	float env_sxx, env_syy;
	float env_sxy[ENV_LAGS + 1];
	float env_corr;                  /* best normalised, 0..1 */
	bool suspect;                    /* an echo is likely */
	uint32_t env_n;                  /* frames analysed */
	struct dsp_proc_meters m;
};

static float db_to_lin(float db)
{
	return powf(10.0f, db / 20.0f);
}

static void pp_setup(struct dsp_proc *p)
{
	int on = p->prm.ns ? 1 : 0, off = 0;
	int ns_db = p->prm.ns_db < 0 ? p->prm.ns_db : -18;

	speex_preprocess_ctl(p->pp, SPEEX_PREPROCESS_SET_DENOISE, &on);
	speex_preprocess_ctl(p->pp, SPEEX_PREPROCESS_SET_NOISE_SUPPRESS,
			     &ns_db);
	/* its VAD stays off (the default): asking prints a warning */
	speex_preprocess_ctl(p->pp, SPEEX_PREPROCESS_SET_AGC, &off);
	speex_preprocess_ctl(p->pp, SPEEX_PREPROCESS_SET_DEREVERB, &off);
}

static void proc_destructor(struct dsp_proc *p)
{
	if (p->pp)
		speex_preprocess_state_destroy(p->pp);
	if (p->aec)
		dsp_aec_free(p->aec);
}

/**
 * Allocate a chain. See dsp.h.
 *
 * @param procp  Where to store the chain
 * @param prm    Settings
 *
 * @return 0, EINVAL or ENOMEM
 */
int dsp_proc_alloc(struct dsp_proc **procp, const struct dsp_proc_prm *prm)
{
	struct dsp_proc *p;

	if (!procp || !prm)
		return EINVAL;

	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->pp = speex_preprocess_state_init(HALF, SRATE);
	if (!p->pp || dsp_vad_init(&p->vad, SRATE)) {
		proc_destructor(p);
		free(p);
		return ENOMEM;
	}
	p->prm = *prm;
	pp_setup(p);
	p->m.in_peak_dbfs = p->m.in_rms_dbfs = DSP_SILENCE_DBFS;
	p->m.out_peak_dbfs = p->m.out_rms_dbfs = DSP_SILENCE_DBFS;
	p->m.speech_db = DSP_SILENCE_DBFS;
	p->m.noise_dbfs = DSP_SILENCE_DBFS;
	p->m.delay_ms = 1000.0f * HALF / SRATE;
	p->vad_idle = AEC_KEEP;      /* the canceller waits for activity */
	p->ref_quiet = REF_RECENT;
	p->since_pp = GATE_EVERY;    /* the first frame starts its estimate */
	p->since_skip = UINT32_MAX;
	*procp = p;
	return 0;
}

void dsp_proc_defaults(struct dsp_proc_prm *prm)
{
	if (!prm)
		return;
	memset(prm, 0, sizeof(*prm));
	prm->ns = true;
	prm->ns_db = -18;
	prm->agc = true;
	prm->agc_target_dbfs = -20.0f;
	prm->agc_max_gain_db = 30.0f;
	prm->aec = true;
}

void dsp_proc_free(struct dsp_proc *proc)
{
	if (!proc)
		return;
	proc_destructor(proc);
	free(proc);
}

static void echo_attach(struct dsp_proc *p)
{
	bool want = p->prm.aec && p->aec;
	void *st = want ? dsp_aec_speex_state(p->aec) : NULL;

	/* the canceller swaps its state when a pre-trained one takes
	 * over: follow it */
	if (want == p->echo_attached && st == p->echo_st)
		return;
	speex_preprocess_ctl(p->pp, SPEEX_PREPROCESS_SET_ECHO_STATE, st);
	p->echo_attached = want;
	p->echo_st = st;
}

/**
 * Change the settings at run time. See dsp.h.
 *
 * @param proc  Chain
 * @param prm   New settings
 */
void dsp_proc_configure(struct dsp_proc *proc, const struct dsp_proc_prm *prm)
{
	if (!proc || !prm)
		return;
	proc->prm = *prm;
	pp_setup(proc);
	echo_attach(proc);
}

/**
 * Attach or detach an echo canceller. See dsp.h.
 *
 * @param proc  Chain
 * @param aec   Canceller to attach, or NULL
 *
 * @return the canceller it replaces, for the caller to free
 */
void dsp_proc_aec_hint(struct dsp_proc *proc, float delay_ms)
{
	if (proc && proc->aec)
		dsp_aec_hint_delay(proc->aec, delay_ms);
}

struct dsp_aec *dsp_proc_swap_aec(struct dsp_proc *proc, struct dsp_aec *aec)
{
	struct dsp_aec *old;

	if (!proc)
		return aec;
	old = proc->aec;
	if (old == aec)
		return NULL;
	if (proc->echo_attached) {
		speex_preprocess_ctl(proc->pp,
				     SPEEX_PREPROCESS_SET_ECHO_STATE, NULL);
		proc->echo_attached = false;
		proc->echo_st = NULL;
	}
	proc->aec = aec;
	echo_attach(proc);
	return old;
}

/**
 * Feed the echo reference. See dsp.h.
 *
 * @param proc  Chain
 * @param sent  320 samples the bridge sent the site in this frame time
 */
void dsp_proc_playback(struct dsp_proc *proc, const int16_t *sent)
{
	float db;

	if (!proc || !sent || !proc->aec || !proc->prm.aec)
		return;
	db = dsp_rms_dbfs(sent, FRAME);
	proc->refe[proc->refn++ % REF_HIST] = powf(10.0f, db / 10.0f);
	if (db > REF_ACTIVE_DBFS)
		proc->ref_quiet = 0;
	else if (proc->ref_quiet < UINT32_MAX)
		++proc->ref_quiet;
	dsp_aec_playback(proc->aec, sent);
	dsp_aec_playback(proc->aec, sent + HALF);
}

static float pow_to_db(float pw)
{
	if (!(pw > 0.0f))
		return DSP_SILENCE_DBFS;
	pw = 10.0f * log10f(pw / (32767.0f * 32767.0f));
	return pw < DSP_SILENCE_DBFS ? DSP_SILENCE_DBFS : pw;
}

static float frame_pow(const int16_t *x, size_t n)
{
	float rms = dsp_rms_dbfs(x, n);

	if (rms <= DSP_SILENCE_DBFS)
		return 0.0f;
	return 32767.0f * 32767.0f * powf(10.0f, rms / 10.0f);
}

/* Speech level estimate and gain, on frames the VAD calls speech. The
 * first second of speech adapts fast so that a quiet hall is brought up
 * within the first sentence; after that the estimate is slow, so words
 * and syllables do not modulate the gain. */
static void agc_update(struct dsp_proc *p, const int16_t *out, float peak_db)
{
	const float dt = (float)FRAME / SRATE;
	const bool young = p->agc_frames < (uint32_t)(AGC_FAST_S / dt);
	float pw = frame_pow(out, FRAME), a, want, step;

	if (pw <= 0.0f)
		return;
	if (!p->agc_seen) {
		p->agc_level = pw;
		p->agc_seen = true;
	}
	a = dt / (young ? 0.1f : AGC_TAU_S);
	p->agc_level += a * (pw - p->agc_level);
	if (p->agc_frames < UINT32_MAX)
		++p->agc_frames;

	want = p->prm.agc_target_dbfs - pow_to_db(p->agc_level);
	if (want > p->prm.agc_max_gain_db)
		want = p->prm.agc_max_gain_db;
	if (want < AGC_MIN_GAIN_DB)
		want = AGC_MIN_GAIN_DB;
	/* a peak the new gain would push past the ceiling caps it now */
	if (peak_db > DSP_SILENCE_DBFS && peak_db + want > AGC_PEAK_DBFS)
		want = AGC_PEAK_DBFS - peak_db;

	step = (young ? AGC_UP_FAST_DB_S : AGC_UP_DB_S) * dt;
	if (want > p->agc_gain_db + step)
		want = p->agc_gain_db + step;
	step = AGC_DOWN_DB_S * dt;
	if (want < p->agc_gain_db - step &&
	    peak_db + p->agc_gain_db - step <= AGC_PEAK_DBFS)
		want = p->agc_gain_db - step;
	p->agc_gain_db = want;
}

/* Apply a gain ramp from g0 to g1 (dB) across the frame: no zipper. */
static void apply_gain(int16_t *x, float g0_db, float g1_db)
{
	const float g0 = db_to_lin(g0_db), g1 = db_to_lin(g1_db);
	const float step = (g1 - g0) / FRAME;
	size_t i;

	if (g0 == 1.0f && g1 == 1.0f)
		return;
	for (i = 0; i < FRAME; i++) {
		float y = (float)x[i] * (g0 + step * (float)(i + 1));

		y = y > 32767.0f ? 32767.0f : y < -32768.0f ? -32768.0f : y;
		x[i] = (int16_t)lrintf(y);
	}
}

/* 10 ms delay without the preprocessor, so the chain's delay is the
 * same whatever runs. */
static void run_delay(struct dsp_proc *p, int16_t *x)
{
	int16_t tmp[HALF];

	memcpy(tmp, x + HALF, sizeof(tmp));
	memmove(x + HALF, x, HALF * sizeof(int16_t));
	memcpy(x, p->dline, sizeof(p->dline));
	memcpy(p->dline, tmp, sizeof(tmp));
}

/* A site hears only its own echo when the canceller has locked onto an
 * echo path and what is left after the linear stage is no louder than
 * the residual echo it expects, nor far below the echo it removed.
 * The double-talk flag is not trusted here: it fires on echo alone
 * often enough to let a hall's echo into the mix. Real near-end speech
 * adds its own energy, which is what the two margins look for. While
 * the canceller is still confirming a path it has seen in its search,
 * the site waits too. */
/* Echo energy in the mic predicted from the frames sent around the
 * echo delay (from 40 ms before it to 100 ms after, for the room's
 * reverberation and a step not yet followed) and the echo return loss. */
static float raw_echo(const struct dsp_proc *p,
		      const struct dsp_aec_stats *st)
{
	const int32_t d = (int32_t)lrintf(st->delay_ms / 20.0f);
	float mx = 0.0f;
	int32_t k;

	if (st->delay_ms < 0.0f)
		return 0.0f;
	for (k = d - 2; k <= d + 5; k++) {
		uint32_t back = (uint32_t)(k < 1 ? 1 : k);
		float e;

		if (back >= REF_HIST || back > p->refn)
			continue;
		e = p->refe[(p->refn - back) % REF_HIST];
		mx = e > mx ? e : mx;
	}
	return mx * powf(10.0f, -st->erl_db / 10.0f);
}

/* The cheap, always-on half of echo awareness: does this site's input
 * level follow, some 20-800 ms later, the level of what it is sent?
 * A normalised correlation of the two log-energy envelopes at 20 ms
 * resolution over a few seconds: 41 multiply-adds a frame, so it runs
 * on every site and is current when the site first makes a sound. A
 * hall that returns its loudspeaker reads 0.6-0.9; a site whose noise
 * or talk is unrelated to the meeting reads near 0. The canceller,
 * which costs far more, is then only waited for where an echo is
 * likely, and a new voice elsewhere is taken at once. */
static void env_update(struct dsp_proc *p, float in_db, bool have_in)
{
	const float a = ((float)FRAME / SRATE) / ENV_TAU_S;
	float x, y0, best = 0.0f;
	uint32_t k;

	if (!p->aec || !p->prm.aec || p->ref_quiet >= REF_RECENT)
		return;      /* nothing sent lately: nothing to learn */
	y0 = p->refn ? p->refe[(p->refn - 1) % REF_HIST] : 0.0f;
	y0 = y0 > 0.0f ? 10.0f * log10f(y0) : DSP_SILENCE_DBFS;
	y0 = y0 < ENV_FLOOR_DB ? ENV_FLOOR_DB : y0;
	if (!have_in) {
		/* an undecoded frame: the reference moves on (the lags stay
		 * in step with time), nothing is learnt */
		if (p->env_n) {
			memmove(p->env_ref + 1, p->env_ref,
				ENV_LAGS * sizeof(float));
			p->env_ref[0] = y0 - p->env_my;
		}
		return;
	}
	x = in_db < ENV_FLOOR_DB ? ENV_FLOOR_DB : in_db;
	if (!p->env_n++) {
		/* means start at the first values, or their slow approach
		 * from 0 dB would look like two correlated trends */
		p->env_mx = x;
		p->env_my = y0;
	}
	p->env_mx += a * (x - p->env_mx);
	p->env_my += a * (y0 - p->env_my);
	memmove(p->env_ref + 1, p->env_ref, ENV_LAGS * sizeof(float));
	p->env_ref[0] = y0 - p->env_my;
	x -= p->env_mx;
	p->env_sxx += a * (x * x - p->env_sxx);
	p->env_syy += a * (p->env_ref[0] * p->env_ref[0] - p->env_syy);
	for (k = 1; k <= ENV_LAGS; k++) {
		float c;

		p->env_sxy[k] += a * (x * p->env_ref[k] - p->env_sxy[k]);
		c = p->env_sxy[k];
		best = c > best ? c : best;
	}
	p->env_corr = p->env_sxx > 0.0f && p->env_syy > 0.0f ?
		best / sqrtf(p->env_sxx * p->env_syy) : 0.0f;
	p->suspect = p->env_corr >= ENV_SUSPECT;
	p->m.echo_corr = p->env_corr;
}

/* Whether to wait for the canceller: the envelopes say this site
 * returns what it is sent; or they have not heard enough of the meeting
 * to say (2 s) and either the canceller is in its first 0.5 s or the
 * correlation is on its way up. Two people who start talking at once in
 * a new meeting show no correlation, so they are not held out for the
 * whole learning time. */
static bool wary(const struct dsp_proc *p)
{
	return p->suspect ||
		(p->env_n < ENV_LEARN &&
		 (p->aec_warm < AEC_PROBATION ||
		  p->env_corr >= 0.5f * ENV_SUSPECT));
}

/* Smoothed over about 100 ms: the echo estimate lags the onsets of the
 * far end's syllables, and single frames would slip through. */
static void smooth(float *s, float e)
{
	*s += ECHO_SMOOTH * (e - *s);
}

static bool echo_only(struct dsp_proc *p, float lin_db)
{
	struct dsp_aec_stats st;
	float thr, lin_e, echo_e, res_e;

	if (!p->aec || !p->prm.aec)
		return false;
	dsp_aec_get_stats(p->aec, &st);
	lin_e = powf(10.0f, lin_db / 10.0f);
	smooth(&p->lin_s, lin_e);
	if (!st.echo_present) {
		/* The canceller's delay search sees a strong peak: a path
		 * it is locking onto or confirming (0.5 s typically, 6 s at
		 * most). Its peak reads 0.3-0.55 on a hall's echo from its
		 * first half second, and 0.07-0.2 (0.33 for a moment) between
		 * two people talking at once, where it also locks now and
		 * then: the lock alone held a quiet talker out of the mix
		 * (quality_mix, two talkers at once: both mixed 38 % of the
		 * time instead of 56 %). The site waits for the canceller's
		 * word. */
		if (st.search_corr >= SEARCH_ECHO)
			return p->ref_quiet < REF_RECENT;
		/* not confirmed by cancellation yet, but the envelopes say
		 * the site returns what it is sent: wait for the canceller */
		return wary(p) && p->ref_quiet < REF_RECENT;
	}
	echo_e = powf(10.0f, st.echo_dbfs / 10.0f);
	res_e = powf(10.0f, st.residual_dbfs / 10.0f);
	smooth(&p->echo_s, echo_e);
	smooth(&p->res_s, res_e);
	smooth(&p->raw_s, raw_echo(p, &st));
	thr = p->res_s * ECHO_MARGIN;
	if (p->echo_s / ECHO_MARGIN > thr)
		thr = p->echo_s / ECHO_MARGIN;
	/* A canceller that has lost the path (a delay step it has not
	 * followed yet, a change in the room) underestimates the echo it
	 * no longer removes. Then the echo is predicted from what the site
	 * was sent, at the delay and the echo return loss learnt, and near
	 * speech has to stand 6 dB above that. */
	if (st.erle_db < CONVERGED_DB && p->raw_s * ECHO_MARGIN > thr)
		thr = p->raw_s * ECHO_MARGIN;
	/* and in a hall known to return its loudspeaker (the canceller
	 * has shown it here), a converged canceller's figures lag a path
	 * that just moved by a few frames, and fall behind the room's
	 * reverberation after each of the meeting's words: near speech
	 * must at least match the echo predicted there. Asked of suspects
	 * only, a hall whose envelopes read low let its echo through in
	 * 14 of 72 cases of test_echo_hall (probation 1.5 s), for 0.5 s.
	 * What it costs: a talker there over the meeting, 6 dB above its
	 * echo, is taken in 54 % of his frames instead of 72 %. */
	if (p->raw_s > thr)
		thr = p->raw_s;
	if (p->lin_s < thr) {
		p->near_run = 0;
		return true;
	}
	/* near-end speech must hold a few frames to count */
	if (p->near_run < NEAR_RUN)
		++p->near_run;
	return p->near_run < NEAR_RUN;
}

/**
 * Run the chain on one 20 ms frame. See dsp.h.
 *
 * @param proc   Chain
 * @param frame  320 samples, processed in place
 * @param heard  The frame holds received audio, not filler
 * @param full   The caller mixes this frame's output
 */
void dsp_proc_process(struct dsp_proc *proc, int16_t *frame, bool heard,
		      bool full)
{
	struct dsp_proc *p = proc;
	const float dt = (float)FRAME / SRATE;
	bool speech, use_pp, aec_on, was, eo;
	int16_t lin[FRAME];      /* after the canceller, before the rest */
	float lin_db, g0;
	size_t h;

	if (!p || !frame)
		return;

	p->m.in_peak_dbfs = dsp_peak_dbfs(frame, FRAME);
	p->m.in_rms_dbfs = dsp_rms_dbfs(frame, FRAME);

	/* Gating the canceller: echo matters only in a site that can be
	 * mixed, i.e. whose input the VAD hears at all. A hall whose echo
	 * stays under its noise is never chosen and never heard, so its
	 * canceller (the delay search alone costs about 2.5 ms a second)
	 * rests until the VAD fires; it then resynchronises by itself. */
	/* a frame with nothing received (filler) says nothing about the
	 * echo path: when a site's packets stall so do the talkers' (one
	 * congested line, a stalled sender), and a dip learnt in both
	 * envelopes at once looked like an echo on hundreds of idle sites
	 * at a time, waking their cancellers (N = 1500: twice the CPU, a
	 * third of the ticks late) */
	env_update(p, p->m.in_rms_dbfs, heard);
	aec_on = p->aec && p->prm.aec &&
		(full || p->vad_idle < AEC_KEEP ||
		 p->env_corr >= ENV_SUSPECT);
	if (!aec_on)
		p->aec_warm = 0;
	else if (p->aec_warm < UINT32_MAX)
		++p->aec_warm;
	/* Whether the preprocessor runs is decided before the VAD speaks
	 * for this frame, from the last one, because with a canceller it
	 * must follow each 10 ms cancellation at once (its residual echo
	 * estimate is the latest cancellation's). An onset the gate misses
	 * goes out through the delay line instead: on time, only not yet
	 * denoised, and the preprocessor is primed from the next frame. */
	use_pp = (p->prm.ns || p->echo_attached) &&
		(full || p->raw_speech || p->since_pp + 1 >=
		 (p->since_skip < QUIET_UPKEEP ? QUIET_UPKEEP : GATE_EVERY));
	p->since_pp = use_pp ? 0 : p->since_pp + 1;
	if (p->since_skip < UINT32_MAX)
		++p->since_skip;
	if (use_pp && !p->pp_primed) {
		int16_t tmp[HALF];

		memcpy(tmp, p->prev, sizeof(tmp));
		speex_preprocess_run(p->pp, tmp);
	}
	if (p->echo_attached)
		echo_attach(p);
	for (h = 0; h < FRAME; h += HALF) {
		if (aec_on)
			dsp_aec_capture(p->aec, frame + h, frame + h);
		memcpy(lin + h, frame + h, HALF * sizeof(int16_t));
		if (use_pp)
			speex_preprocess_run(p->pp, frame + h);
	}
	p->pp_primed = use_pp;
	memcpy(p->prev, lin + HALF, sizeof(p->prev));
	lin_db = aec_on ? dsp_rms_dbfs(lin, FRAME) : p->m.in_rms_dbfs;

	if (heard) {
		p->m.speech_prob = dsp_vad_process(&p->vad, lin, FRAME);
		/* the VAD needs 0.4 s to learn a site's noise, plus its
		 * hangover; until then a hall's fan would pass for a
		 * talker joining */
		speech = dsp_vad_active(&p->vad) && p->heard >= VAD_SETTLE;
		p->sounded = p->sounded || speech;
		if (p->heard < AEC_WAKE_HEARD)
			++p->heard;
	}
	else {
		p->m.speech_prob = 0.0f;
		speech = false;
	}
	p->raw_speech = speech;
	p->m.noise_dbfs = dsp_vad_noise_dbfs(&p->vad);
	/* In its first 2 s the VAD's noise floor is still young, and about
	 * one idle site in thirty (N = 1500, steady -55 dBFS noise) fired
	 * once at 0.6 s: each kept a canceller awake for AEC_KEEP, 46 at a
	 * time, a fifth of a core in a room joining at once. A site that
	 * really talks then is mixed (full), and an echoing hall is found
	 * by the envelopes, which need those 2 s anyway (ENV_LEARN). The 2 s
	 * are of the site's time: frames shed (dsp_proc_may_shed) count,
	 * or a hall's canceller woke 1.1 s after its echo (t_echo_shed). */
	if (speech && (full || p->heard + p->shed_n >= AEC_WAKE_HEARD))
		p->vad_idle = 0;
	else if (p->vad_idle < UINT32_MAX)
		++p->vad_idle;
	/* a canceller resting this frame (the VAD woke up only now) has
	 * no say; the envelopes still do */
	if (aec_on)
		eo = echo_only(p, lin_db);
	else
		eo = p->aec && p->prm.aec && wary(p) &&
			p->ref_quiet < REF_RECENT;
	p->m.echo_only = speech && eo;
	/* A canceller that has just woken up has not had time to find an
	 * echo: while what the site was sent could still be coming back,
	 * its "speech" may be that echo, so it waits (up to 0.5 s, only
	 * when others were talking; a lone voice after silence does not). */
	if (speech && !full && p->aec && p->prm.aec && !p->m.echo_only &&
	    (p->suspect || p->env_n < ENV_LEARN) &&
	    p->aec_warm < AEC_PROBATION &&
	    p->ref_quiet < REF_RECENT)
		p->m.echo_only = true;
	speech = speech && !p->m.echo_only;
	p->m.speech = speech;
	was = p->was_speech;
	p->was_speech = speech;

	if (!full && !speech) {
		/* nobody mixes this frame: its output is left undefined */
		memcpy(p->dline, lin + HALF, sizeof(p->dline));
		p->m.out_peak_dbfs = DSP_SILENCE_DBFS;
		p->m.out_rms_dbfs = DSP_SILENCE_DBFS;
		return;
	}
	if (!use_pp)
		run_delay(p, frame);     /* frame still holds lin */
	else
		memcpy(p->dline, lin + HALF, sizeof(p->dline));

	g0 = p->agc_gain_db;
	if (p->prm.agc && speech && heard)
		agc_update(p, frame, dsp_peak_dbfs(frame, FRAME));
	if (!p->prm.agc)
		p->agc_gain_db = 0.0f;
	apply_gain(frame, g0, p->agc_gain_db);
	p->m.agc_gain_db = p->agc_gain_db;

	p->m.out_peak_dbfs = dsp_peak_dbfs(frame, FRAME);
	p->m.out_rms_dbfs = dsp_rms_dbfs(frame, FRAME);
	if (speech) {
		float pw = frame_pow(frame, FRAME);

		/* a new spurt starts from its own level, not the last one */
		if (!was)
			p->score_pow = pw;
		p->score_pow += dt / SCORE_TAU_S * (pw - p->score_pow);
		p->m.speech_db = pow_to_db(p->score_pow);
	}
}

/* Nothing in the chain follows the site's frames as they come: no
 * speech, no canceller running or about to, no suspicion of echo. */
static bool rests(const struct dsp_proc *p)
{
	if (!p || p->raw_speech || p->m.speech)
		return false;
	return !(p->aec && p->prm.aec &&
		 (p->vad_idle < AEC_KEEP || p->env_corr >= ENV_SUSPECT ||
		  p->suspect));
}

/**
 * Whether a frame may go unanalysed. See dsp.h.
 *
 * @param proc  Chain
 *
 * @return true when nothing in the chain needs the next frame
 */
bool dsp_proc_may_skip(const struct dsp_proc *proc)
{
	const struct dsp_proc *p = proc;

	if (!rests(p) || p->heard < VAD_SETTLE)
		return false;
	/* the envelope detector must first have heard enough of the
	 * meeting to say the site does not return it (t_echo_hall: a hall
	 * left undecoded until its echo arrived was chosen as a talker
	 * on it, its detector and canceller a step behind) */
	return !(p->aec && p->prm.aec && p->env_n < ENV_LEARN);
}

/**
 * Whether a frame may go unanalysed when time is short. See dsp.h.
 *
 * @param proc  Chain
 *
 * @return true when only the chain's learning wants the next frame
 */
bool dsp_proc_may_shed(const struct dsp_proc *proc)
{
	const struct dsp_proc *p = proc;

	/* Only a site that has made no sound yet: one that has (a talker,
	 * or a hall returning the meeting) is what the VAD, the envelopes
	 * and the canceller are there for, and is learnt from every frame.
	 * The VAD's unsettled first frames do not count: they fire on most
	 * noisy sites, and sparing those took the whole gain away (N =
	 * 1500: 2.6 % late ticks at a meeting's start). */
	return rests(p) && !p->sounded;
}

/**
 * A frame the site's encoder marked voiceless, not decoded. See dsp.h.
 *
 * @param proc  Chain
 */
void dsp_proc_skip(struct dsp_proc *proc)
{
	struct dsp_proc *p = proc;

	if (!p)
		return;
	/* the input meters hold the last decoded frame's: the site's noise,
	 * which is what the operator expects to see */
	if (p->shed_n < AEC_WAKE_HEARD)
		++p->shed_n;
	if (p->env_n < ENV_LEARN) {
		/* Still learning the site: left undecoded only because the
		 * mixer is short of time (dsp_proc_may_shed). Its sender
		 * called it voiceless, so its level is the site's noise: the
		 * envelopes learn at the pace of the meeting, not of the
		 * decodes (counting decoded frames only, sites stayed in
		 * the learning, shed, four times as long: N = 2000 5-13 %
		 * late). */
		env_update(p, p->m.noise_dbfs, true);
	}
	else {
		env_update(p, p->m.in_rms_dbfs, false);
	}
	p->m.speech_prob = 0.0f;
	p->m.speech = false;
	p->m.echo_only = false;
	p->raw_speech = false;
	p->was_speech = false;
	if (p->vad_idle < UINT32_MAX)
		++p->vad_idle;
	/* the noise estimate's upkeep waits for a decoded frame, and is
	 * primed with the last decoded 10 ms (real noise, not zeros: a
	 * zero frame would pull its noise estimate down) */
	++p->since_pp;
	p->since_skip = 0;
	p->pp_primed = false;
	memset(p->dline, 0, sizeof(p->dline));
	p->m.out_peak_dbfs = DSP_SILENCE_DBFS;
	p->m.out_rms_dbfs = DSP_SILENCE_DBFS;
}

bool dsp_proc_aec_running(const struct dsp_proc *proc)
{
	return proc && proc->aec && proc->prm.aec &&
		(proc->vad_idle < AEC_KEEP || proc->m.speech);
}

/**
 * Meters after the last frame. See dsp.h.
 *
 * @param proc  Chain
 * @param m     Where to copy them
 */
void dsp_proc_get_meters(const struct dsp_proc *proc,
			 struct dsp_proc_meters *m)
{
	if (!proc || !m)
		return;
	*m = proc->m;
}

/**
 * Echo canceller figures. See dsp.h.
 *
 * @param proc  Chain
 * @param st    Where to copy them
 *
 * @return true if a canceller is attached and on
 */
bool dsp_proc_get_aec_stats(const struct dsp_proc *proc,
			    struct dsp_aec_stats *st)
{
	if (!proc || !st || !proc->aec || !proc->prm.aec)
		return false;
	dsp_aec_get_stats(proc->aec, st);
	return true;
}
