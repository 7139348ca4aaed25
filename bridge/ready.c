/**
 * @file ready.c  The readiness check: before an official meeting the
 * district runs a test connection at a fixed time; during that window
 * the bridge checks every site that connects, by itself:
 *
 *  1. Loudspeaker -> microphone: a quiet sweep (dsp/probe.c) that the
 *     site alone hears; its return in the site's microphone gives the
 *     echo path's delay (which the bridge's echo canceller then takes as
 *     a hint), its return loss, the noise floor and clipping. Two probes
 *     must agree on the lag (speech in the room can fake one peak, not
 *     the same one twice); a third settles a disagreement. No return:
 *     the site hears the "check your loudspeaker" prompt and is probed
 *     again 15 s later, three rounds in all. A return louder than
 *     STRONG_ERL_DB below the probe: "strong echo" prompt.
 *  2. Talk check: the "speak" prompt, then 6 s of the site's microphone
 *     (raw, before the speech chain, whose AGC would hide a weak mic)
 *     measured for speech level, noise, SNR and clipping. Silence is
 *     asked again twice, 10 s apart.
 *  3. Link check: loss each way, jitter, RTT, an E-model MOS and the
 *     bit rate the line carried, over the site's time in the window.
 *
 * While a probe runs the site is kept out of the talkers: what it sends
 * then is the probe's echo and must not reach the other sites. Prompts
 * and probes go to one site on its own stream (mixcore_member_play);
 * "test complete" goes to every site. At the window's end (or when the
 * operator closes it) the report is made as JSON, CSV and HTML and
 * handed to the recorder thread, which writes it next to the
 * recordings and into the catalogue (`lowbridge report sites`).
 *
 * Threads: network thread only; the mixer runs the jobs.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <re.h>
#include <sndfile.h>
#include <speex/speex_resampler.h>
#include "dsp.h"
#include "json.h"
#include "lbtime.h"
#include "live.h"
#include "log.h"
#include "ready.h"
#include "rec.h"
#include "room.h"
#include "roster.h"
#include "site.h"
#include "views.h"

#define SR 16000
#define TICK_MS 20
#define TIMER_MS 1000
#define SETTLE_MS 3000            /* after a join: jitter buffer, codecs */
#define PRE_MS 300                /* capture before the probe leaves */
#define MAX_ECHO_MS 1000          /* latest return searched */
#define PROBE_TAIL_MS 400
#define PROBE_AGREE_MS 3.0f
#define PROBE_ROUNDS 3
#define PROBE_RETRY_MS 15000
#define STRONG_ERL_DB 6.0f        /* a return this close to the probe */
#define TALK_MS 6000
#define TALK_TRIES 3
#define TALK_RETRY_MS 10000
#define MIN_MOS 3.5
#define MAX_WINDOW_S (24 * 3600)
#define PROMPT_MAX_S 20

enum prompt_id {
	P_SPEAK = 0,
	P_CHECK_SPEAKER,
	P_STRONG_ECHO,
	P_COMPLETE,
	P_N
};

static const char *const prompt_file[P_N] = {
	"speak.wav", "check_speaker.wav", "strong_echo.wav", "complete.wav",
};

struct ready_prompts {
	int16_t *pcm[P_N];
	uint32_t n[P_N];
	bool recorded[P_N];
};

enum step {
	ST_WAIT = 0,              /* not connected, or settling */
	ST_PROBE,
	ST_TALK,
	ST_DONE,
};

enum spk_result { SPK_PENDING = 0, SPK_OK, SPK_STRONG, SPK_NONE };
enum link_result { LINK_PENDING = 0, LINK_OK, LINK_FAIL };

/* Link figures summed over a site's connections in the window. The
 * counters are read once a second (a leaving site's are gone by the
 * time it is closed), so a connection counts up to its last second. */
struct link_cnt {
	uint64_t pkts_in, bytes_in, pkts_out, bytes_out;
	uint32_t expected, received;
	uint32_t bursts, burst_pkts;
	uint64_t t_ns;
};

struct link_acc {
	struct link_cnt first, last;         /* of this connection */
	bool have;
	/* sums over the connections before */
	uint64_t pkts_in, bytes_in, pkts_out, bytes_out;
	uint64_t expected, received;
	uint64_t bursts, burst_pkts;
	double seconds;
	double jit_sum, rtt_sum, down_loss_sum;
	uint32_t jit_n, rtt_n, down_n;
};

struct rsite {
	struct le le;
	struct ready *r;                 /* NULL once its window is gone */
	char name[64], contact[64], phone[32], sid[32];
	bool expected;
	const struct cfg_expect *ex;
	struct site *site;               /* connected now */
	uint64_t connect_unix_ms;        /* first time in the window */
	uint32_t joins;
	bool left_early;
	enum step step;
	uint64_t next_ns;                /* when the next step may start */
	struct rjob *job;                /* running */

	/* speaker */
	enum spk_result spk;
	struct dsp_probe_result pv[3];
	uint32_t pc;                     /* probes in this round */
	uint32_t rounds;
	struct dsp_probe_result pres;    /* the one reported */
	float site_delay_ms;
	float bridge_ms;                 /* the bridge's own share */

	/* microphone */
	bool talk_done;
	enum dsp_talk_verdict talk;
	struct dsp_talk_result tres;
	uint32_t talk_tries;

	/* line */
	struct link_acc link;
	enum link_result lres;
	double loss_up, loss_down, jitter_ms, rtt_ms, mos, kbps_in,
		kbps_out;
	double mean_burst;               /* of its losses, packets; 0: none */
};

enum jkind { J_PROBE, J_TALK, J_PROMPT };

struct rjob {
	struct mix_job job;              /* first: the mixer's view */
	struct rsite *rs;                /* a reference */
	enum jkind kind;
	uint32_t skip;                   /* talk: capture samples to skip */
	int16_t cap[];
};

struct rwin {
	char id[64];
	uint64_t start_ms, end_ms, complete_ms, closed_ms;   /* UNIX ms */
	bool complete, closed;
	struct list sitel;               /* struct rsite */
};

struct ready {
	struct room *room;
	const struct cfg_room *cfg;
	const struct ready_prompts *pr;
	struct rec *rec;
	struct rwin *win;                /* open, or the last closed */
	struct tmr tmr;
	int16_t *probe;
	size_t probe_n;
	uint32_t cfg_done_date[CFG_MAX_WINDOWS];   /* opened on (YYYYMMDD) */
};

static uint64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- prompts ------------------------------------------------------------ */

/* A tone signal for a prompt without a recording: notes of 150-200 ms
 * with a second harmonic (small loudspeakers lose the fundamental), 10
 * ms fades, -24 dBFS; each prompt has its own tune. */
static int tones(int16_t **pcmp, uint32_t *np, const float *hz, size_t nn,
		 uint32_t note_ms, uint32_t gap_ms)
{
	const uint32_t note = note_ms * SR / 1000, gap = gap_ms * SR / 1000;
	const uint32_t n = (uint32_t)nn * (note + gap);
	/* a note (sine + 0.3 second harmonic) at about -27 dBFS RMS */
	const float amp = 32768.0f * powf(10.0f, -24.0f / 20.0f);
	int16_t *pcm = mem_zalloc(n * sizeof(*pcm), NULL);
	uint32_t k, i;

	if (!pcm)
		return ENOMEM;
	for (k = 0; k < nn; k++) {
		int16_t *o = pcm + k * (note + gap);

		for (i = 0; i < note; i++) {
			const float t = (float)i / SR;
			float v = sinf(2.0f * (float)M_PI * hz[k] * t) +
				0.3f * sinf(4.0f * (float)M_PI * hz[k] * t);
			const uint32_t fade = SR / 100;

			if (i < fade)
				v *= (float)i / fade;
			else if (i >= note - fade)
				v *= (float)(note - 1 - i) / fade;
			o[i] = (int16_t)lrintf(v * amp);
		}
	}
	*pcmp = pcm;
	*np = n;
	return 0;
}

/* A recorded prompt: any rate, first channel, resampled to 16 kHz. */
static int load_wav(const char *path, int16_t **pcmp, uint32_t *np)
{
	SF_INFO info;
	SNDFILE *sf;
	float *in = NULL;
	int16_t *out = NULL;
	sf_count_t got;
	spx_uint32_t inl, outl;
	SpeexResamplerState *rs = NULL;
	int err = 0, serr;
	size_t i;

	memset(&info, 0, sizeof(info));
	sf = sf_open(path, SFM_READ, &info);
	if (!sf)
		return ENOENT;
	if (info.channels < 1 || info.samplerate < 8000 ||
	    info.samplerate > 192000 || info.frames < 1 ||
	    info.frames > (sf_count_t)info.samplerate * PROMPT_MAX_S) {
		err = EINVAL;
		goto out;
	}
	in = mem_alloc((size_t)info.frames * (size_t)info.channels *
		       sizeof(*in), NULL);
	outl = (spx_uint32_t)((uint64_t)info.frames * SR /
			      (uint64_t)info.samplerate + 1);
	out = mem_zalloc(outl * sizeof(*out), NULL);
	if (!in || !out) {
		err = ENOMEM;
		goto out;
	}
	got = sf_readf_float(sf, in, info.frames);
	if (got < 1) {
		err = EIO;
		goto out;
	}
	for (i = 0; i < (size_t)got; i++)
		in[i] = in[i * (size_t)info.channels] * 32767.0f;
	rs = speex_resampler_init(1, (spx_uint32_t)info.samplerate, SR, 5,
				  &serr);
	if (!rs) {
		err = ENOMEM;
		goto out;
	}
	inl = (spx_uint32_t)got;
	{
		float *f = mem_alloc(outl * sizeof(*f), NULL);

		if (!f) {
			err = ENOMEM;
			goto out;
		}
		speex_resampler_process_float(rs, 0, in, &inl, f, &outl);
		for (i = 0; i < outl; i++) {
			const float v = f[i];

			out[i] = (int16_t)lrintf(v > 32767.0f ? 32767.0f :
						 v < -32768.0f ? -32768.0f :
						 v);
		}
		mem_deref(f);
	}
	*pcmp = out;
	*np = outl;
	out = NULL;
 out:
	if (rs)
		speex_resampler_destroy(rs);
	mem_deref(in);
	mem_deref(out);
	sf_close(sf);
	return err;
}

static void prompts_destructor(void *arg)
{
	struct ready_prompts *p = arg;
	int i;

	for (i = 0; i < P_N; i++)
		mem_deref(p->pcm[i]);
}

int ready_prompts_alloc(struct ready_prompts **pp, const struct cfg *cfg)
{
	static const float speak[] = {660.0f, 880.0f};
	static const float check[] = {440.0f, 440.0f, 440.0f};
	static const float echo[] = {880.0f, 587.0f};
	static const float done[] = {523.0f, 659.0f, 784.0f, 1047.0f};
	struct ready_prompts *p;
	int err = 0, i;

	if (!pp || !cfg)
		return EINVAL;
	p = mem_zalloc(sizeof(*p), prompts_destructor);
	if (!p)
		return ENOMEM;
	for (i = 0; i < P_N && cfg->prompt_dir[0]; i++) {
		char path[CFG_PATH_MAX + 32];
		int e;

		re_snprintf(path, sizeof(path), "%s/%s", cfg->prompt_dir,
			    prompt_file[i]);
		e = load_wav(path, &p->pcm[i], &p->n[i]);
		if (!e)
			p->recorded[i] = true;
		else if (e != ENOENT)
			log_warn("readiness: prompt %s not used (%m): a tone "
				 "signal instead\n", path, e);
	}
	if (!p->pcm[P_SPEAK])
		err |= tones(&p->pcm[P_SPEAK], &p->n[P_SPEAK], speak, 2,
			     200, 60);
	if (!p->pcm[P_CHECK_SPEAKER])
		err |= tones(&p->pcm[P_CHECK_SPEAKER], &p->n[P_CHECK_SPEAKER],
			     check, 3, 150, 100);
	if (!p->pcm[P_STRONG_ECHO])
		err |= tones(&p->pcm[P_STRONG_ECHO], &p->n[P_STRONG_ECHO],
			     echo, 2, 200, 60);
	if (!p->pcm[P_COMPLETE])
		err |= tones(&p->pcm[P_COMPLETE], &p->n[P_COMPLETE], done, 4,
			     150, 30);
	if (err) {
		mem_deref(p);
		return ENOMEM;
	}
	*pp = p;
	return 0;
}

/* ---- sites of a window -------------------------------------------------- */

static void rsite_destructor(void *arg)
{
	struct rsite *rs = arg;

	list_unlink(&rs->le);
}

static void win_destructor(void *arg)
{
	struct rwin *w = arg;
	struct le *le;

	/* a site whose job is still out lives on in the job, detached */
	while ((le = list_head(&w->sitel))) {
		struct rsite *rs = le->data;

		list_unlink(le);
		rs->r = NULL;
		mem_deref(rs);
	}
}

static struct rsite *rsite_new(struct ready *r, const char *name)
{
	struct rsite *rs = mem_zalloc(sizeof(*rs), rsite_destructor);

	if (!rs)
		return NULL;
	rs->r = r;
	str_ncpy(rs->name, name, sizeof(rs->name));
	list_append(&r->win->sitel, &rs->le, rs);
	return rs;
}

static struct rsite *rsite_of(const struct ready *r, const struct site *site)
{
	struct le *le;

	if (!r->win)
		return NULL;
	LIST_FOREACH(&r->win->sitel, le) {
		struct rsite *rs = le->data;

		if (rs->site == site)
			return rs;
	}
	return NULL;
}

/* The window's record for a site that joins: its expected site's, or
 * (an unknown caller) one by its name. */
static struct rsite *rsite_for(struct ready *r, struct site *site)
{
	const struct cfg_expect *ex =
		roster_expected(room_roster(r->room), site);
	struct le *le;

	LIST_FOREACH(&r->win->sitel, le) {
		struct rsite *rs = le->data;

		if (ex ? rs->ex == ex :
		    (!rs->expected && !rs->site &&
		     !strcmp(rs->name, site_name(site))))
			return rs;
	}
	if (ex)
		return NULL;     /* cannot happen: all are made at open */
	return rsite_new(r, site_name(site));
}

static bool win_live(const struct ready *r)
{
	return r->win && !r->win->closed;
}

/* ---- the link check ----------------------------------------------------- */

static const struct mix_member_stats *site_stats(const struct site *site)
{
	struct site_info si;

	site_info(site, &si);
	return si.st;
}

#define LD(f) atomic_load_explicit(&(f), memory_order_relaxed)

static bool link_read(const struct site *site, struct link_cnt *c)
{
	const struct mix_member_stats *st = site_stats(site);

	if (!st)
		return false;
	c->pkts_in = LD(st->rtp.pkts_in);
	c->bytes_in = LD(st->rtp.bytes_in);
	c->pkts_out = LD(st->rtp.pkts_out);
	c->bytes_out = LD(st->rtp.bytes_out);
	c->expected = LD(st->rtp.expected);
	c->received = LD(st->rtp.received);
	c->bursts = LD(st->rtp.loss_bursts);
	c->burst_pkts = LD(st->rtp.loss_burst_pkts);
	c->t_ns = lb_mono_ns();
	return true;
}

static void link_begin(struct rsite *rs)
{
	struct link_acc *l = &rs->link;

	l->have = link_read(rs->site, &l->first);
	l->last = l->first;
}

/* Once a second while connected. */
static void link_sample(struct rsite *rs)
{
	struct link_acc *l = &rs->link;
	struct site_info si;

	if (!l->have)
		l->have = link_read(rs->site, &l->first);
	else
		(void)link_read(rs->site, &l->last);
	site_info(rs->site, &si);
	if (!si.st || !si.prm || !si.prm->clock_hz)
		return;
	l->jit_sum += LD(si.st->rtp.jitter_ts) * 1000.0 / si.prm->clock_hz;
	++l->jit_n;
	if (si.have_remote_report) {
		l->rtt_sum += si.rtt_ms;
		++l->rtt_n;
		l->down_loss_sum += si.remote_loss_pct;
		++l->down_n;
	}
}

/* The connection ends (or the window): add it up to its last sample. */
static void link_end(struct rsite *rs)
{
	struct link_acc *l = &rs->link;

	if (!l->have)
		return;
	l->have = false;
	l->seconds += (double)(l->last.t_ns - l->first.t_ns) / 1e9;
	l->pkts_in += l->last.pkts_in - l->first.pkts_in;
	l->bytes_in += l->last.bytes_in - l->first.bytes_in;
	l->pkts_out += l->last.pkts_out - l->first.pkts_out;
	l->bytes_out += l->last.bytes_out - l->first.bytes_out;
	l->expected += (uint32_t)(l->last.expected - l->first.expected);
	l->received += (uint32_t)(l->last.received - l->first.received);
	l->bursts += (uint32_t)(l->last.bursts - l->first.bursts);
	l->burst_pkts += (uint32_t)(l->last.burst_pkts - l->first.burst_pkts);
}

/* The figures and the verdict from what was summed. */
static void link_judge(struct rsite *rs, uint32_t max_loss_pct)
{
	const struct link_acc *l = &rs->link;
	double r_f, one_way, burst_r;

	if (l->seconds < 2.0 || !l->expected) {
		rs->lres = LINK_PENDING;
		return;
	}
	rs->loss_up = l->expected > l->received ?
		100.0 * (double)(l->expected - l->received) /
		(double)l->expected : 0.0;
	rs->loss_down = l->down_n ? l->down_loss_sum / l->down_n : 0.0;
	rs->jitter_ms = l->jit_n ? l->jit_sum / l->jit_n : 0.0;
	rs->rtt_ms = l->rtt_n ? l->rtt_sum / l->rtt_n : 0.0;
	/* IP/UDP headers counted: what the line carried */
	rs->kbps_in = (double)(l->bytes_in + 28 * l->pkts_in) * 8.0 /
		l->seconds / 1000.0;
	rs->kbps_out = (double)(l->bytes_out + 28 * l->pkts_out) * 8.0 /
		l->seconds / 1000.0;
	rs->mean_burst = l->bursts ? (double)l->burst_pkts / l->bursts : 0.0;
	one_way = rs->rtt_ms / 2.0 + rs->jitter_ms * 2.0 + 30.0;
	/* bursty loss hurts more (G.107 BurstR); we see runs only of what
	 * we receive */
	burst_r = rs->loss_up >= rs->loss_down && rs->mean_burst > 0 ?
		(1.0 - rs->loss_up / 100.0) * rs->mean_burst : 1.0;
	view_emodel(rs->loss_up > rs->loss_down ? rs->loss_up : rs->loss_down,
		    one_way, burst_r, &r_f, &rs->mos);
	rs->lres = rs->loss_up > max_loss_pct ||
		rs->loss_down > max_loss_pct || rs->mos < MIN_MOS ?
		LINK_FAIL : LINK_OK;
}

/* ---- jobs --------------------------------------------------------------- */

static void rjob_destructor(void *arg)
{
	struct rjob *j = arg;

	mem_deref(j->rs);
}

static int job_start(struct rsite *rs, enum jkind kind,
		     const int16_t *play, uint32_t playn, uint32_t play_at,
		     uint32_t cap_ms, uint32_t ticks, bool exclude, bool deaf)
{
	struct ready *r = rs->r;
	const uint32_t capn = cap_ms * (SR / 1000);
	struct mix_member *mm = site_member(rs->site);
	struct rjob *j;
	int err;

	if (!mm)
		return ENOENT;
	j = mem_zalloc(sizeof(*j) + capn * sizeof(int16_t), rjob_destructor);
	if (!j)
		return ENOMEM;
	j->job.play = play;
	j->job.playn = playn;
	j->job.play_at = play_at;
	j->job.cap = capn ? j->cap : NULL;
	j->job.capn = capn;
	j->job.ticks = ticks;
	j->job.exclude = exclude;
	j->job.deaf = deaf;
	j->rs = mem_ref(rs);
	j->kind = kind;
	err = mixer_job(room_mixer(r->room), mm, &j->job);
	if (err) {
		mem_deref(j);
		return err;
	}
	rs->job = j;
	return 0;
}

static void prompt(struct rsite *rs, enum prompt_id p)
{
	const struct ready_prompts *pr = rs->r->pr;

	(void)job_start(rs, J_PROMPT, pr->pcm[p], pr->n[p], 0, 0,
			pr->n[p] / (SR / 1000) / TICK_MS + 1, false, false);
}

static void start_probe(struct rsite *rs)
{
	const uint32_t pre = PRE_MS / TICK_MS;
	const uint32_t cap_ms = PRE_MS + (uint32_t)(rs->r->probe_n * 1000 /
						    SR) +
		MAX_ECHO_MS + PROBE_TAIL_MS;

	if (job_start(rs, J_PROBE, rs->r->probe, (uint32_t)rs->r->probe_n,
		      pre, cap_ms, cap_ms / TICK_MS, true, true)) {
		rs->next_ns = lb_mono_ns() + 1000000000ull;
		return;
	}
	log_info("readiness: %s: probe %u of round %u\n", rs->name,
		 rs->pc + 1, rs->rounds + 1);
}

static void start_talk(struct rsite *rs)
{
	const struct ready_prompts *pr = rs->r->pr;
	const uint32_t cue_ms = pr->n[P_SPEAK] / (SR / 1000);
	const uint32_t cap_ms = cue_ms + TALK_MS;
	float echo_ms = rs->spk == SPK_OK || rs->spk == SPK_STRONG ?
		rs->pres.delay_ms : 0.0f;

	if (job_start(rs, J_TALK, pr->pcm[P_SPEAK], pr->n[P_SPEAK], 0,
		      cap_ms, cap_ms / TICK_MS, false, true)) {
		rs->next_ns = lb_mono_ns() + 1000000000ull;
		return;
	}
	/* the cue and its echo are not the people speaking */
	rs->job->skip = (uint32_t)((float)cue_ms + echo_ms + 300.0f) *
		(SR / 1000);
	++rs->talk_tries;
}

static void advance(struct rsite *rs)
{
	if (!rs->site || rs->job || lb_mono_ns() < rs->next_ns)
		return;
	switch (rs->step) {

	case ST_WAIT:
		rs->step = ST_PROBE;
		/* fall through */
	case ST_PROBE:
		start_probe(rs);
		break;

	case ST_TALK:
		start_talk(rs);
		break;

	case ST_DONE:
		break;
	}
}

static void site_event(struct rsite *rs)
{
	if (rs->r && rs->site)
		live_event(rs->r->room, "readiness", "{\"site\":%H,"
			   "\"state\":%H}", json_pstr, site_id(rs->site),
			   json_pstr, ready_site_state(rs->r, rs->site));
}

/* Two probes that found the same lag: the path works. */
static void probe_decide(struct rsite *rs)
{
	struct ready *r = rs->r;
	const struct dsp_probe_result *a = &rs->pv[0], *b = &rs->pv[1];
	int found = -1;
	uint32_t i, k;

	if (rs->pc >= 2) {
		for (i = 0; i < rs->pc && found < 0; i++)
			for (k = i + 1; k < rs->pc && found < 0; k++)
				if (rs->pv[i].found && rs->pv[k].found &&
				    fabsf(rs->pv[i].delay_ms -
					  rs->pv[k].delay_ms) <=
				    PROBE_AGREE_MS) {
					a = &rs->pv[i];
					b = &rs->pv[k];
					found = 1;
				}
		if (found < 0 && (rs->pc == 3 ||
				  (!rs->pv[0].found && !rs->pv[1].found)))
			found = 0;
	}
	if (found < 0)
		return;                     /* one more probe */

	++rs->rounds;
	rs->pc = 0;
	if (found) {
		struct site_info si;

		rs->pres = *a;
		rs->pres.delay_ms = 0.5f * (a->delay_ms + b->delay_ms);
		rs->pres.erl_db = 0.5f * (a->erl_db + b->erl_db);
		rs->pres.echo_dbfs = 0.5f * (a->echo_dbfs + b->echo_dbfs);
		/* the bridge's own part of the loop: one tick (what it
		 * sends in a tick comes back in a later tick's input at the
		 * earliest), its jitter buffer, and the packets it sends
		 * beyond one frame */
		site_info(rs->site, &si);
		rs->bridge_ms = TICK_MS + (si.st ?
			(float)LD(si.st->rtp.jb_delay_ms) +
			(float)LD(si.st->ptime_ms) - TICK_MS : 0.0f);
		rs->site_delay_ms = rs->pres.delay_ms - rs->bridge_ms;
		rs->spk = rs->pres.erl_db < STRONG_ERL_DB ? SPK_STRONG
							   : SPK_OK;
		(void)mixer_aec_hint(room_mixer(r->room),
				     site_member(rs->site),
				     rs->pres.delay_ms);
		log_info("readiness: %s: loudspeaker path %.1f ms (site "
			 "%.1f ms), return loss %.1f dB\n", rs->name,
			 rs->pres.delay_ms, rs->site_delay_ms,
			 rs->pres.erl_db);
		rs->step = ST_TALK;
		rs->next_ns = lb_mono_ns();
		if (rs->spk == SPK_STRONG)
			prompt(rs, P_STRONG_ECHO);
	}
	else {
		rs->pres = rs->pv[0];
		rs->pres.found = false;
		rs->spk = SPK_NONE;
		log_info("readiness: %s: no return of the probe (round %u; "
			 "margins %.1f, %.1f dB; mic %.1f dBFS before it)\n",
			 rs->name, rs->rounds, rs->pv[0].margin_db,
			 rs->pv[1].margin_db, rs->pv[0].noise_dbfs);
		if (rs->rounds < PROBE_ROUNDS) {
			rs->step = ST_PROBE;
			rs->next_ns = lb_mono_ns() +
				PROBE_RETRY_MS * 1000000ull;
		}
		else {
			rs->step = ST_TALK;
			rs->next_ns = lb_mono_ns();
		}
		prompt(rs, P_CHECK_SPEAKER);
	}
	site_event(rs);
}

static void talk_decide(struct rsite *rs, const struct rjob *j)
{
	struct dsp_talk_result tr;
	enum dsp_talk_verdict v;

	if (j->skip >= j->job.capn)
		return;
	dsp_talk_analyse(j->cap + j->skip, j->job.capn - j->skip, &tr);
	v = dsp_talk_judge(&tr);
	/* keep the best try: a good one, else the one with most speech */
	if (!rs->talk_done || v == DSP_TALK_GOOD ||
	    (rs->talk != DSP_TALK_GOOD && tr.speech_s > rs->tres.speech_s)) {
		rs->tres = tr;
		rs->talk = v;
	}
	rs->talk_done = true;
	log_info("readiness: %s: talk check %s (speech %.1f dBFS, SNR "
		 "%.1f dB, %.1f s)\n", rs->name, dsp_talk_verdict_name(v),
		 tr.speech_dbfs, tr.snr_db, tr.speech_s);
	if (rs->talk == DSP_TALK_GOOD || rs->talk_tries >= TALK_TRIES) {
		rs->step = ST_DONE;
	}
	else {
		rs->next_ns = lb_mono_ns() + TALK_RETRY_MS * 1000000ull;
	}
	site_event(rs);
}

void ready_job_done(struct ready *r, struct mix_job *job)
{
	struct rjob *j = (struct rjob *)job;
	struct rsite *rs;

	if (!r || !job)
		return;
	rs = j->rs;
	if (rs->job == j)
		rs->job = NULL;
	if (job->aborted || !rs->r || !rs->site || !win_live(r))
		goto out;

	switch (j->kind) {

	case J_PROBE:
		if (rs->pc < 3 &&
		    !dsp_probe_analyse(r->probe, r->probe_n, j->cap,
				       j->job.capn, job->play_at * 320,
				       MAX_ECHO_MS, &rs->pv[rs->pc]))
			++rs->pc;
		probe_decide(rs);
		break;

	case J_TALK:
		talk_decide(rs, j);
		break;

	case J_PROMPT:
		break;
	}
	advance(rs);
 out:
	mem_deref(j);
}

/* ---- windows ------------------------------------------------------------ */

static void site_begin(struct ready *r, struct site *site)
{
	struct rsite *rs = rsite_for(r, site);

	if (!rs)
		return;
	rs->site = site;
	str_ncpy(rs->sid, site_id(site), sizeof(rs->sid));
	if (!rs->connect_unix_ms)
		rs->connect_unix_ms = unix_ms();
	++rs->joins;
	rs->left_early = false;
	link_begin(rs);
	/* what passed on an earlier connection stands */
	if (rs->step != ST_DONE) {
		rs->step = ST_WAIT;
		rs->pc = 0;
		rs->next_ns = lb_mono_ns() + SETTLE_MS * 1000000ull;
	}
}

static void win_print_id(char *buf, size_t sz, const char *room,
			 uint64_t ms)
{
	const time_t t = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	re_snprintf(buf, sz, "%s-%04d%02d%02d-%02d%02d%02d", room,
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
}

static int win_open(struct ready *r, uint64_t end_ms)
{
	const struct cfg_room *rc = r->cfg;
	struct rwin *w;
	struct le *le;
	uint32_t i;

	w = mem_zalloc(sizeof(*w), win_destructor);
	if (!w)
		return ENOMEM;
	w->start_ms = unix_ms();
	w->end_ms = end_ms;
	win_print_id(w->id, sizeof(w->id), rc->id, w->start_ms);
	mem_deref(r->win);
	r->win = w;
	for (i = 0; i < rc->expc; i++) {
		struct rsite *rs = rsite_new(r, rc->expv[i].name);

		if (!rs)
			return ENOMEM;
		rs->expected = true;
		rs->ex = &rc->expv[i];
		str_ncpy(rs->contact, rc->expv[i].contact,
			 sizeof(rs->contact));
		str_ncpy(rs->phone, rc->expv[i].phone, sizeof(rs->phone));
	}
	LIST_FOREACH(room_sites(r->room), le)
		site_begin(r, le->data);
	log_info("readiness: room %s: test window %s open for %llu min\n",
		 rc->id, w->id,
		 (unsigned long long)((end_ms - w->start_ms + 59999) / 60000));
	live_event(r->room, "readiness", "{\"window\":%H,\"state\":"
		   "\"open\"}", json_pstr, w->id);
	return 0;
}

int ready_open(struct ready *r, time_t end, char *why, size_t whysz)
{
	const time_t now = time(NULL);
	int err;

	if (!r)
		return EINVAL;
	if (win_live(r)) {
		re_snprintf(why, whysz, "a test window is open (%s): close it "
			    "first", r->win->id);
		return EALREADY;
	}
	if (end <= now || end - now > MAX_WINDOW_S) {
		re_snprintf(why, whysz, "the end must be in the next 24 "
			    "hours");
		return EINVAL;
	}
	err = win_open(r, (uint64_t)end * 1000);
	if (err)
		re_snprintf(why, whysz, "out of memory");
	return err;
}

int ready_complete(struct ready *r)
{
	struct le *le;

	if (!r || !win_live(r))
		return ENOENT;
	if (r->win->complete)
		return 0;
	r->win->complete = true;
	r->win->complete_ms = unix_ms();
	(void)mixer_play_all(room_mixer(r->room), r->pr->pcm[P_COMPLETE],
			     r->pr->n[P_COMPLETE]);
	/* who is not here now left before completion (if it ever came) */
	LIST_FOREACH(&r->win->sitel, le) {
		struct rsite *rs = le->data;

		if (!rs->site && rs->joins)
			rs->left_early = true;
	}
	log_info("readiness: room %s: test declared complete\n", r->cfg->id);
	live_event(r->room, "readiness", "{\"window\":%H,\"state\":"
		   "\"complete\"}", json_pstr, r->win->id);
	return 0;
}

static bool site_pass(const struct rsite *rs)
{
	return rs->joins && !rs->left_early && rs->spk == SPK_OK &&
		rs->talk_done && rs->talk == DSP_TALK_GOOD &&
		rs->lres == LINK_OK;
}

static void save_report(struct ready *r);

int ready_close(struct ready *r)
{
	struct le *le;

	if (!r || !win_live(r))
		return ENOENT;
	r->win->closed = true;
	r->win->closed_ms = unix_ms();
	LIST_FOREACH(&r->win->sitel, le) {
		struct rsite *rs = le->data;

		if (rs->site) {
			link_sample(rs);
			link_end(rs);
		}
		else if (rs->joins && !r->win->complete) {
			rs->left_early = true;
		}
		link_judge(rs, r->cfg->ready_max_loss_pct);
	}
	log_info("readiness: room %s: test window %s closed\n", r->cfg->id,
		 r->win->id);
	live_event(r->room, "readiness", "{\"window\":%H,\"state\":"
		   "\"closed\"}", json_pstr, r->win->id);
	save_report(r);
	return 0;
}

int ready_recheck(struct ready *r, const char *sid)
{
	struct le *le;

	if (!r || !sid || !win_live(r))
		return ENOENT;
	LIST_FOREACH(&r->win->sitel, le) {
		struct rsite *rs = le->data;

		if (!rs->site || strcmp(site_id(rs->site), sid))
			continue;
		rs->step = ST_WAIT;
		rs->spk = SPK_PENDING;
		rs->rounds = rs->pc = 0;
		rs->talk_done = false;
		rs->talk_tries = 0;
		rs->next_ns = lb_mono_ns();
		site_event(rs);
		return 0;
	}
	return ENOENT;
}

void ready_site_joined(struct ready *r, struct site *site)
{
	if (!r || !site || !win_live(r))
		return;
	site_begin(r, site);
}

void ready_site_left(struct ready *r, struct site *site)
{
	struct rsite *rs;

	if (!r || !site)
		return;
	rs = rsite_of(r, site);
	if (!rs)
		return;
	if (win_live(r)) {
		link_end(rs);
		if (!r->win->complete)
			rs->left_early = true;
	}
	rs->site = NULL;
	rs->pc = 0;
	if (rs->step != ST_DONE)
		rs->step = ST_WAIT;
}

/* Today's date as YYYYMMDD and the minute of the day, local time. */
static void local_now(uint32_t *date, uint32_t *minute, time_t *midnight)
{
	const time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	*date = (uint32_t)((tm.tm_year + 1900) * 10000 +
			   (tm.tm_mon + 1) * 100 + tm.tm_mday);
	*minute = (uint32_t)(tm.tm_hour * 60 + tm.tm_min);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	*midnight = mktime(&tm);
}

static void timer_h(void *arg)
{
	struct ready *r = arg;
	struct le *le;

	tmr_start(&r->tmr, TIMER_MS, timer_h, r);

	if (!win_live(r) && r->cfg->winc) {
		uint32_t date, minute, i;
		time_t midnight;

		local_now(&date, &minute, &midnight);
		for (i = 0; i < r->cfg->winc; i++) {
			const struct cfg_window *cw = &r->cfg->winv[i];

			if ((cw->date && cw->date != date) ||
			    r->cfg_done_date[i] == date ||
			    minute < cw->start_min || minute >= cw->end_min)
				continue;
			r->cfg_done_date[i] = date;
			(void)win_open(r, (uint64_t)(midnight +
						     cw->end_min * 60) * 1000);
			break;
		}
	}
	if (!win_live(r))
		return;
	if (unix_ms() >= r->win->end_ms) {
		(void)ready_close(r);
		return;
	}
	LIST_FOREACH(&r->win->sitel, le) {
		struct rsite *rs = le->data;

		if (!rs->site)
			continue;
		link_sample(rs);
		advance(rs);
	}
}

static void ready_destructor(void *arg)
{
	struct ready *r = arg;

	tmr_cancel(&r->tmr);
	r->win = mem_deref(r->win);
	mem_deref(r->probe);
}

int ready_alloc(struct ready **rp, struct room *room,
		const struct ready_prompts *prompts, struct rec *rec)
{
	struct dsp_probe_prm pp;
	struct ready *r;

	if (!rp || !room || !prompts)
		return EINVAL;
	r = mem_zalloc(sizeof(*r), ready_destructor);
	if (!r)
		return ENOMEM;
	r->room = room;
	r->cfg = room_cfg(room);
	r->pr = prompts;
	r->rec = rec;
	dsp_probe_defaults(&pp);
	pp.level_dbfs = (float)r->cfg->ready_probe_dbfs;
	r->probe_n = dsp_probe_len(&pp);
	r->probe = mem_alloc(r->probe_n * sizeof(int16_t), NULL);
	if (!r->probe ||
	    dsp_probe_make(&pp, r->probe, r->probe_n) != r->probe_n) {
		mem_deref(r);
		return ENOMEM;
	}
	tmr_init(&r->tmr);
	tmr_start(&r->tmr, TIMER_MS, timer_h, r);
	*rp = r;
	return 0;
}

bool ready_active(const struct ready *r)
{
	return r && win_live(r);
}

/* ---- what the console and the report say -------------------------------- */

static const char *spk_name(enum spk_result s)
{
	switch (s) {
	case SPK_OK:     return "ok";
	case SPK_STRONG: return "strong_echo";
	case SPK_NONE:   return "no_return";
	default:         return "pending";
	}
}

static const char *link_name(enum link_result l)
{
	return l == LINK_OK ? "ok" : l == LINK_FAIL ? "fail" : "pending";
}

const char *ready_site_state(const struct ready *r, const struct site *site)
{
	const struct rsite *rs = r ? rsite_of(r, site) : NULL;

	if (!rs || !win_live(r))
		return "";
	if (rs->job && rs->job->kind == J_PROBE)
		return "probing loudspeaker";
	if (rs->job && rs->job->kind == J_TALK)
		return "talk check";
	switch (rs->step) {
	case ST_WAIT:  return "waiting";
	case ST_PROBE: return rs->spk == SPK_NONE ? "no return: retrying"
						  : "probing loudspeaker";
	case ST_TALK:  return rs->talk_done ? "talk check: retrying"
					    : "talk check";
	case ST_DONE:
		return rs->spk == SPK_OK && rs->talk == DSP_TALK_GOOD ?
			"checked" : "checked: problems";
	}
	return "";
}

/* A figure rounded for people (libre's printf has no "%.0f"). */
static int I(double v)
{
	return (int)lround(v);
}

/* The report's words: English (JSON, CSV, report.html) and Vietnamese
 * (report.vi.html, for the district office). Format strings keep the
 * same conversions in both. */
enum txt {
	X_NEVER, X_LEFT, X_NO_RETURN, X_STRONG, X_SPK_UNCHECKED, X_CLIPS,
	X_MIC_UNCHECKED, X_SILENT, X_QUIET, X_LOUD, X_NOISY, X_LINE,
	X_WORKS, X_STRONG_SHORT, X_NO_RETURN_SHORT, X_NOT_CHECKED,
	X_MIC_CELL, X_LINE_CELL, X_NOT_MEASURED, X_PASS, X_FAIL,
	X_NOT_EXPECTED, X_TITLE, X_WINDOW, X_COMPLETE, X_NOT_COMPLETE,
	X_SUMMARY, X_HEAD, X_NOTE, X_SPK_CELL, X_N
};

static const char *const txt[X_N][2] = {
	[X_NEVER] = {"never connected", "không kết nối"},
	[X_LEFT] = {"left before the test was complete",
		    "rời đi trước khi kết thúc chạy thử"},
	[X_NO_RETURN] = {"no sound came back from its loudspeaker: check the "
			 "loudspeaker and amplifier",
			 "không nghe thấy tiếng từ loa trở về: "
			 "kiểm tra loa "
			 "và âm ly"},
	[X_STRONG] = {"strong echo (return loss %d dB): lower the amplifier "
		      "or enable echo cancellation",
		      "vọng mạnh (suy hao %d dB): giảm âm ly hoặc "
		      "bật khử "
		      "vọng"},
	[X_SPK_UNCHECKED] = {"loudspeaker not checked",
			     "chưa kiểm tra loa"},
	[X_CLIPS] = {"microphone clips", "micro bị vỡ tiếng"},
	[X_MIC_UNCHECKED] = {"microphone not checked",
			     "chưa kiểm tra micro"},
	[X_SILENT] = {"no one spoke / microphone silent",
		      "không ai nói / micro không có tiếng"},
	[X_QUIET] = {"microphone too quiet (%d dBFS)",
		     "micro quá nhỏ (%d dBFS)"},
	[X_LOUD] = {"microphone too loud: clipping",
		    "micro quá to: vỡ tiếng"},
	[X_NOISY] = {"noisy microphone or room (SNR %d dB)",
		     "micro hoặc phòng ồn (SNR %d dB)"},
	[X_LINE] = {"line below the contract: loss %.1f %% up, %.1f %% down, "
		    "MOS %.1f",
		    "đường truyền không đạt: mất gói %.1f %% "
		    "chiều lên, "
		    "%.1f %% chiều xuống, MOS %.1f"},
	[X_WORKS] = {"works", "tốt"},
	[X_STRONG_SHORT] = {"strong echo", "vọng mạnh"},
	[X_NO_RETURN_SHORT] = {"no return", "không có tiếng về"},
	[X_NOT_CHECKED] = {"not checked", "chưa kiểm tra"},
	[X_SPK_CELL] = {"%s: %d ms, return loss %d dB",
			"%s: %d ms, suy hao %d dB"},
	[X_MIC_CELL] = {"%s: %d dBFS, SNR %d dB", "%s: %d dBFS, SNR %d dB"},
	[X_LINE_CELL] = {"loss %.1f/%.1f %%, jitter %d ms, RTT %d ms, MOS "
			 "%.1f, %d kbit/s",
			 "mất gói %.1f/%.1f %%, jitter %d ms, RTT %d ms, "
			 "MOS "
			 "%.1f, %d kbit/s"},
	[X_NOT_MEASURED] = {"not measured", "chưa đo"},
	[X_PASS] = {"PASS", "ĐẠT"},
	[X_FAIL] = {"FAIL", "KHÔNG ĐẠT"},
	[X_NOT_EXPECTED] = {" (not expected)", " (ngoài danh sách)"},
	[X_TITLE] = {"Readiness report", "Báo cáo chạy thử"},
	[X_WINDOW] = {"Room %H &middot; test window %H &middot; %H to %H "
		      "&middot; %s",
		      "Phòng %H &middot; buổi chạy thử %H &middot; %H "
		      "đến %H "
		      "&middot; %s"},
	[X_COMPLETE] = {"declared complete", "đã tuyên bố kết thúc"},
	[X_NOT_COMPLETE] = {"not declared complete",
			    "chưa tuyên bố kết thúc"},
	[X_SUMMARY] = {"Expected sites: %u &middot; connected: %u &middot; "
		       "passed: %u &middot; never connected: %u &middot; "
		       "left before completion: %u",
		       "Điểm cầu dự kiến: %u &middot; đã kết "
		       "nối: %u &middot; "
		       "đạt: %u &middot; không kết nối: %u &middot; "
		       "rời "
		       "trước khi kết thúc: %u"},
	[X_HEAD] = {"<th>Site</th><th>Contact</th><th>Connected</th>"
		    "<th>Loudspeaker</th><th>Microphone</th><th>Line</th>"
		    "<th>Result</th><th>Problems</th>",
		    "<th>Điểm cầu</th><th>Liên hệ</th><th>Kết nối "
		    "lúc</th>"
		    "<th>Loa</th><th>Micro</th><th>Đường truyền</th>"
		    "<th>Kết quả</th><th>Vấn đề</th>"},
	[X_NOTE] = {"Loudspeaker: a quiet sweep the site alone hears, found "
		    "again in its microphone (delay from the bridge and back; "
		    "return loss). Microphone: level, noise and clipping "
		    "while its people spoke when asked. Line: packet loss "
		    "up/down, jitter, round trip, E-model MOS, bit rate "
		    "received.",
		    "Loa: một tín hiệu quét nhỏ chỉ điểm cầu "
		    "đó nghe, thu lại "
		    "qua micro của điểm cầu (độ trễ đi và về; "
		    "suy hao). "
		    "Micro: mức tiếng, tạp âm và vỡ tiếng khi "
		    "được mời nói. "
		    "Đường truyền: mất gói chiều lên/xuống, "
		    "jitter, trễ khứ "
		    "hồi, MOS theo E-model, tốc độ bit nhận "
		    "được."},
};

#define T(lang, id) txt[id][lang]

/* Plain words for what is wrong, for the report's last column. */
static void problems(const struct rsite *rs, int lang, char *buf,
		     size_t sz)
{
	struct mbuf mb;
	bool any = false;

	mbuf_init(&mb);
#define ADD(...) do {							\
		(void)mbuf_printf(&mb, "%s", any ? "; " : "");		\
		(void)mbuf_printf(&mb, __VA_ARGS__);			\
		any = true;						\
	} while (0)
	if (!rs->joins) {
		ADD("%s", T(lang, X_NEVER));
	}
	else {
		if (rs->left_early)
			ADD("%s", T(lang, X_LEFT));
		if (rs->spk == SPK_NONE)
			ADD("%s", T(lang, X_NO_RETURN));
		else if (rs->spk == SPK_STRONG)
			ADD(T(lang, X_STRONG), I(rs->pres.erl_db));
		else if (rs->spk == SPK_PENDING)
			ADD("%s", T(lang, X_SPK_UNCHECKED));
		if (rs->pres.clipped)
			ADD("%s", T(lang, X_CLIPS));
		if (!rs->talk_done)
			ADD("%s", T(lang, X_MIC_UNCHECKED));
		else if (rs->talk == DSP_TALK_SILENT)
			ADD("%s", T(lang, X_SILENT));
		else if (rs->talk == DSP_TALK_QUIET)
			ADD(T(lang, X_QUIET), I(rs->tres.speech_dbfs));
		else if (rs->talk == DSP_TALK_LOUD)
			ADD("%s", T(lang, X_LOUD));
		else if (rs->talk == DSP_TALK_NOISY)
			ADD(T(lang, X_NOISY), I(rs->tres.snr_db));
		if (rs->lres == LINK_FAIL)
			ADD(T(lang, X_LINE), rs->loss_up, rs->loss_down,
			    rs->mos);
	}
#undef ADD
	buf[0] = '\0';
	if (mb.end)
		str_ncpy(buf, (const char *)mb.buf,
			 mb.end + 1 < sz ? mb.end + 1 : sz);
	mbuf_reset(&mb);
}

/* UNIX ms as text by strftime's fmt, UTC or local; 0 gives none. */
static int print_time(struct re_printf *pf, uint64_t ms, const char *fmt,
		      bool local, const char *none)
{
	const time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[40];

	if (!ms)
		return re_hprintf(pf, "%s", none);
	if (local)
		localtime_r(&t, &tm);
	else
		gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), fmt, &tm);
	return re_hprintf(pf, "%s", buf);
}

/* JSON: "2026-12-07T00:30:00Z" or null */
static int print_iso(struct re_printf *pf, const uint64_t *ms)
{
	return print_time(pf, *ms, "\"%Y-%m-%dT%H:%M:%SZ\"", false, "null");
}

/* A figure, or null when it was not measured. */
static int num(struct re_printf *pf, bool have, double v)
{
	return have ? re_hprintf(pf, "%.1f", v) : re_hprintf(pf, "null");
}

static int print_site_json(struct re_printf *pf, void *arg)
{
	const struct rsite *rs = arg;
	const bool spk = rs->spk == SPK_OK || rs->spk == SPK_STRONG;
	const bool heard = rs->spk != SPK_PENDING;
	const bool lk = rs->lres != LINK_PENDING;
	char why[600];
	int err;

	problems(rs, 0, why, sizeof(why));
	err = re_hprintf(pf, "{\"name\":%H,\"expected\":%s,\"contact\":%H,"
			 "\"phone\":%H,\"site\":%H,\"connected\":%s,"
			 "\"connected_at\":%H,\"joins\":%u,"
			 "\"left_early\":%s,",
			 json_pstr, rs->name, rs->expected ? "true" : "false",
			 json_pstr, rs->contact, json_pstr, rs->phone,
			 json_nstr, rs->sid[0] ? rs->sid : NULL,
			 rs->site ? "true" : "false", print_iso,
			 &rs->connect_unix_ms, rs->joins,
			 rs->left_early ? "true" : "false");
	err |= re_hprintf(pf, "\"speaker\":{\"result\":\"%s\",\"delay_ms\":",
			  spk_name(rs->spk));
	err |= num(pf, spk, rs->pres.delay_ms);
	err |= re_hprintf(pf, ",\"site_delay_ms\":");
	err |= num(pf, spk, rs->site_delay_ms);
	err |= re_hprintf(pf, ",\"erl_db\":");
	err |= num(pf, spk, rs->pres.erl_db);
	err |= re_hprintf(pf, ",\"echo_dbfs\":");
	err |= num(pf, spk, rs->pres.echo_dbfs);
	err |= re_hprintf(pf, ",\"noise_dbfs\":");
	err |= num(pf, heard, rs->pres.noise_dbfs);
	err |= re_hprintf(pf, ",\"clipped\":%u,\"rounds\":%u},",
			  rs->pres.clipped, rs->rounds);
	err |= re_hprintf(pf, "\"mic\":{\"result\":\"%s\",\"speech_dbfs\":",
			  rs->talk_done ? dsp_talk_verdict_name(rs->talk)
					: "pending");
	err |= num(pf, rs->talk_done && rs->tres.speech_s > 0,
		   rs->tres.speech_dbfs);
	err |= re_hprintf(pf, ",\"noise_dbfs\":");
	err |= num(pf, rs->talk_done, rs->tres.noise_dbfs);
	err |= re_hprintf(pf, ",\"snr_db\":");
	err |= num(pf, rs->talk_done && rs->tres.speech_s > 0,
		   rs->tres.snr_db);
	err |= re_hprintf(pf, ",\"clip_pct\":");
	err |= num(pf, rs->talk_done, rs->tres.clip_pct);
	err |= re_hprintf(pf, ",\"speech_s\":");
	err |= num(pf, rs->talk_done, rs->tres.speech_s);
	err |= re_hprintf(pf, ",\"tries\":%u},", rs->talk_tries);
	err |= re_hprintf(pf, "\"link\":{\"result\":\"%s\",\"loss_up_pct\":",
			  link_name(rs->lres));
	err |= num(pf, lk, rs->loss_up);
	err |= re_hprintf(pf, ",\"loss_down_pct\":");
	err |= num(pf, lk, rs->loss_down);
	err |= re_hprintf(pf, ",\"mean_burst\":");
	err |= num(pf, lk, rs->mean_burst);
	err |= re_hprintf(pf, ",\"jitter_ms\":");
	err |= num(pf, lk, rs->jitter_ms);
	err |= re_hprintf(pf, ",\"rtt_ms\":");
	err |= num(pf, lk, rs->rtt_ms);
	err |= re_hprintf(pf, ",\"mos\":%s", lk ? "" : "null");
	if (lk)
		err |= re_hprintf(pf, "%.2f", rs->mos);
	err |= re_hprintf(pf, ",\"kbps_in\":");
	err |= num(pf, lk, rs->kbps_in);
	err |= re_hprintf(pf, ",\"kbps_out\":");
	err |= num(pf, lk, rs->kbps_out);
	err |= re_hprintf(pf, ",\"seconds\":%d},", I(rs->link.seconds));
	err |= re_hprintf(pf, "\"pass\":%s,\"problems\":%H}",
			  site_pass(rs) ? "true" : "false", json_pstr, why);
	return err;
}

struct counts {
	uint32_t expected, connected, passed, never, left;
};

static void count(const struct rwin *w, struct counts *c)
{
	struct le *le;

	memset(c, 0, sizeof(*c));
	LIST_FOREACH(&w->sitel, le) {
		const struct rsite *rs = le->data;

		c->expected += rs->expected;
		c->connected += rs->joins > 0;
		c->passed += site_pass(rs);
		c->never += rs->expected && !rs->joins;
		c->left += rs->left_early;
	}
}

static const char *win_state(const struct rwin *w)
{
	return w->closed ? "closed" : w->complete ? "complete" : "open";
}

int ready_print(struct re_printf *pf, void *arg)
{
	const struct ready *r = arg;
	const struct rwin *w = r ? r->win : NULL;
	struct counts c;
	struct le *le;
	int err;

	if (!w)
		return re_hprintf(pf, "{\"window\":null,\"sites\":[]}");
	count(w, &c);
	err = re_hprintf(pf, "{\"window\":{\"id\":%H,\"room\":%H,"
			 "\"room_name\":%H,\"state\":\"%s\",\"start\":%H,"
			 "\"end\":%H,\"complete\":%H,\"closed\":%H},"
			 "\"summary\":{\"expected\":%u,\"connected\":%u,"
			 "\"passed\":%u,\"never_connected\":%u,"
			 "\"left_early\":%u},\"sites\":[",
			 json_pstr, w->id, json_pstr, r->cfg->id, json_pstr,
			 r->cfg->name, win_state(w), print_iso, &w->start_ms,
			 print_iso, &w->end_ms, print_iso, &w->complete_ms,
			 print_iso, &w->closed_ms, c.expected, c.connected,
			 c.passed, c.never, c.left);
	LIST_FOREACH(&w->sitel, le) {
		err |= re_hprintf(pf, "%s%H", le == list_head(&w->sitel) ?
				  "" : ",", print_site_json, le->data);
	}
	return err | re_hprintf(pf, "]}\n");
}

int ready_print_brief(struct re_printf *pf, void *arg)
{
	const struct ready *r = arg;
	const struct rwin *w = r ? r->win : NULL;
	struct counts c;
	struct le *le;
	bool first = true;
	int err;

	if (!w)
		return re_hprintf(pf, "{\"state\":\"none\"}");
	count(w, &c);
	err = re_hprintf(pf, "{\"window\":%H,\"state\":\"%s\",\"end\":%H,"
			 "\"expected\":%u,\"connected\":%u,\"passed\":%u,"
			 "\"checks\":{", json_pstr, w->id, win_state(w),
			 print_iso, &w->end_ms, c.expected, c.connected,
			 c.passed);
	LIST_FOREACH(&w->sitel, le) {
		const struct rsite *rs = le->data;

		if (!rs->site)
			continue;
		err |= re_hprintf(pf, "%s%H:%H", first ? "" : ",", json_pstr,
				  rs->sid, json_pstr,
				  ready_site_state(r, rs->site));
		first = false;
	}
	return err | re_hprintf(pf, "}}");
}

/* CSV field: quoted, quotes doubled (RFC 4180). */
static int csv(struct re_printf *pf, const char *s)
{
	int err = re_hprintf(pf, "\"");

	for (; s && *s && !err; s++)
		err = *s == '"' ? re_hprintf(pf, "\"\"")
				: pf->vph(s, 1, pf->arg);
	return err | re_hprintf(pf, "\"");
}

static int csv_num(struct re_printf *pf, bool have, double v)
{
	return have ? re_hprintf(pf, ",%.1f", v) : re_hprintf(pf, ",");
}

int ready_print_csv(struct re_printf *pf, void *arg)
{
	const struct ready *r = arg;
	const struct rwin *w = r ? r->win : NULL;
	struct le *le;
	int err;

	err = re_hprintf(pf, "window,room,site,expected,contact,phone,"
			 "connected_at,left_early,speaker,echo_delay_ms,"
			 "site_delay_ms,erl_db,noise_dbfs,mic,speech_dbfs,"
			 "snr_db,clip_pct,link,loss_up_pct,loss_down_pct,"
			 "jitter_ms,rtt_ms,mos,kbps_in,kbps_out,pass,"
			 "problems\r\n");
	if (!w)
		return err;
	LIST_FOREACH(&w->sitel, le) {
		const struct rsite *rs = le->data;
		const bool spk = rs->spk == SPK_OK || rs->spk == SPK_STRONG;
		const bool lk = rs->lres != LINK_PENDING;
		char why[600];

		problems(rs, 0, why, sizeof(why));
		err |= re_hprintf(pf, "%H,%H,%H,%s,%H,%H,", csv, w->id, csv,
				  r->cfg->id, csv, rs->name,
				  rs->expected ? "yes" : "no", csv,
				  rs->contact, csv, rs->phone);
		if (rs->connect_unix_ms)
			err |= re_hprintf(pf, "%H", print_iso,
					  &rs->connect_unix_ms);
		err |= re_hprintf(pf, ",%s,%s", rs->left_early ? "yes" : "no",
				  spk_name(rs->spk));
		err |= csv_num(pf, spk, rs->pres.delay_ms);
		err |= csv_num(pf, spk, rs->site_delay_ms);
		err |= csv_num(pf, spk, rs->pres.erl_db);
		err |= csv_num(pf, rs->spk != SPK_PENDING,
			       rs->pres.noise_dbfs);
		err |= re_hprintf(pf, ",%s", rs->talk_done ?
				  dsp_talk_verdict_name(rs->talk) :
				  "pending");
		err |= csv_num(pf, rs->talk_done && rs->tres.speech_s > 0,
			       rs->tres.speech_dbfs);
		err |= csv_num(pf, rs->talk_done && rs->tres.speech_s > 0,
			       rs->tres.snr_db);
		err |= csv_num(pf, rs->talk_done, rs->tres.clip_pct);
		err |= re_hprintf(pf, ",%s", link_name(rs->lres));
		err |= csv_num(pf, lk, rs->loss_up);
		err |= csv_num(pf, lk, rs->loss_down);
		err |= csv_num(pf, lk, rs->jitter_ms);
		err |= csv_num(pf, lk, rs->rtt_ms);
		err |= csv_num(pf, lk, rs->mos);
		err |= csv_num(pf, lk, rs->kbps_in);
		err |= csv_num(pf, lk, rs->kbps_out);
		err |= re_hprintf(pf, ",%s,%H\r\n",
				  site_pass(rs) ? "yes" : "no", csv, why);
	}
	return err;
}

/* HTML, the district's clock */
static int print_local(struct re_printf *pf, const uint64_t *ms)
{
	return print_time(pf, *ms, "%Y-%m-%d %H:%M", true, "&mdash;");
}

static int html_cell(struct re_printf *pf, const char *cls,
		     const char *text)
{
	return re_hprintf(pf, "<td class=\"%s\">%H</td>", cls, rec_html_esc,
			  text);
}

static int print_site_html(struct re_printf *pf, const struct rsite *rs,
			   int lang)
{
	char why[600], b[200];
	int err;

	problems(rs, lang, why, sizeof(why));
	err = re_hprintf(pf, "<tr class=\"%s\"><td>%H%s</td>"
			 "<td>%H<br>%H</td><td>%H</td>",
			 site_pass(rs) ? "pass" : "fail", rec_html_esc,
			 rs->name, rs->expected ? "" :
			 T(lang, X_NOT_EXPECTED), rec_html_esc, rs->contact,
			 rec_html_esc, rs->phone, print_local,
			 &rs->connect_unix_ms);
	if (rs->spk == SPK_OK || rs->spk == SPK_STRONG)
		re_snprintf(b, sizeof(b), T(lang, X_SPK_CELL),
			    T(lang, rs->spk == SPK_OK ? X_WORKS :
			      X_STRONG_SHORT),
			    I(rs->pres.delay_ms), I(rs->pres.erl_db));
	else
		re_snprintf(b, sizeof(b), "%s", T(lang, rs->spk == SPK_NONE ?
			    X_NO_RETURN_SHORT : X_NOT_CHECKED));
	err |= html_cell(pf, rs->spk == SPK_OK ? "ok" : "bad", b);
	if (rs->talk_done && rs->talk == DSP_TALK_SILENT)
		re_snprintf(b, sizeof(b), "%s", T(lang, X_SILENT));
	else if (rs->talk_done)
		re_snprintf(b, sizeof(b), T(lang, X_MIC_CELL),
			    dsp_talk_verdict_name(rs->talk),
			    I(rs->tres.speech_dbfs), I(rs->tres.snr_db));
	else
		re_snprintf(b, sizeof(b), "%s", T(lang, X_NOT_CHECKED));
	err |= html_cell(pf, rs->talk_done && rs->talk == DSP_TALK_GOOD ?
			 "ok" : "bad", b);
	if (rs->lres != LINK_PENDING)
		re_snprintf(b, sizeof(b), T(lang, X_LINE_CELL),
			    rs->loss_up, rs->loss_down, I(rs->jitter_ms),
			    I(rs->rtt_ms), rs->mos, I(rs->kbps_in));
	else
		re_snprintf(b, sizeof(b), "%s", T(lang, X_NOT_MEASURED));
	err |= html_cell(pf, rs->lres == LINK_OK ? "ok" : "bad", b);
	err |= html_cell(pf, "verdict",
			 T(lang, site_pass(rs) ? X_PASS : X_FAIL));
	err |= html_cell(pf, "why", why);
	return err | re_hprintf(pf, "</tr>\n");
}

static int print_html(struct re_printf *pf, const struct ready *r,
		      int lang)
{
	const struct rwin *w = r ? r->win : NULL;
	struct counts c;
	struct le *le;
	int err;

	if (!w)
		return re_hprintf(pf, "<!DOCTYPE html><html><body><p>No test "
				  "window yet.</p></body></html>\n");
	count(w, &c);
	err = re_hprintf(pf, "<!DOCTYPE html>\n<html lang=\"%s\"><head>"
			 "<meta charset=\"utf-8\"><title>%s %H</title>"
			 "<style>"
			 "body{font-family:sans-serif;margin:1.5em}"
			 "table{border-collapse:collapse;width:100%%}"
			 "td,th{border:1px solid #888;padding:4px;"
			 "vertical-align:top;font-size:11pt}"
			 "th{background:#eee}.ok{color:#060}"
			 ".bad{color:#a00;font-weight:bold}"
			 "tr.fail .verdict{color:#a00;font-weight:bold}"
			 "tr.pass .verdict{color:#060;font-weight:bold}"
			 "@media print{body{margin:0}}"
			 "</style></head><body>\n<h1>%s: %H</h1>\n"
			 "<p id=\"window\">",
			 lang ? "vi" : "en", T(lang, X_TITLE), rec_html_esc,
			 w->id, T(lang, X_TITLE), rec_html_esc,
			 r->cfg->name);
	err |= re_hprintf(pf, T(lang, X_WINDOW), rec_html_esc, r->cfg->id,
			  rec_html_esc, w->id, print_local, &w->start_ms,
			  print_local, w->closed ? &w->closed_ms : &w->end_ms,
			  T(lang, w->complete ? X_COMPLETE : X_NOT_COMPLETE));
	err |= re_hprintf(pf, "</p>\n<p id=\"summary\">");
	err |= re_hprintf(pf, T(lang, X_SUMMARY), c.expected, c.connected,
			  c.passed, c.never, c.left);
	err |= re_hprintf(pf, "</p>\n<table id=\"sites\"><thead><tr>%s"
			  "</tr></thead><tbody>\n", T(lang, X_HEAD));
	LIST_FOREACH(&w->sitel, le)
		err |= print_site_html(pf, le->data, lang);
	return err | re_hprintf(pf, "</tbody></table>\n<p>%s</p>\n"
				"</body></html>\n", T(lang, X_NOTE));
}

int ready_print_html(struct re_printf *pf, void *arg)
{
	return print_html(pf, arg, 0);
}

int ready_print_html_vi(struct re_printf *pf, void *arg)
{
	return print_html(pf, arg, 1);
}

/* ---- keeping the report ------------------------------------------------- */

static int print_mb(struct mbuf **mbp, re_printf_h *h, void *arg)
{
	*mbp = mbuf_alloc(8192);
	if (!*mbp)
		return ENOMEM;
	return mbuf_printf(*mbp, "%H", h, arg);
}

static void save_report(struct ready *r)
{
	struct rec_ready rr;
	struct le *le;
	uint32_t i = 0;
	int err;

	if (!r->rec)
		return;
	memset(&rr, 0, sizeof(rr));
	str_ncpy(rr.room, r->cfg->id, sizeof(rr.room));
	str_ncpy(rr.window, r->win->id, sizeof(rr.window));
	rr.start_unix_ms = r->win->start_ms;
	rr.end_unix_ms = r->win->closed_ms;
	rr.completed = r->win->complete;
	err = print_mb(&rr.json, ready_print, r);
	err |= print_mb(&rr.csv, ready_print_csv, r);
	err |= print_mb(&rr.html, ready_print_html, r);
	err |= print_mb(&rr.html_vi, ready_print_html_vi, r);
	rr.rowc = list_count(&r->win->sitel);
	rr.rowv = mem_zalloc((rr.rowc ? rr.rowc : 1) * sizeof(*rr.rowv),
			     NULL);
	if (err || !rr.rowv)
		goto fail;
	LIST_FOREACH(&r->win->sitel, le) {
		const struct rsite *rs = le->data;
		struct rec_ready_row *row = &rr.rowv[i++];

		str_ncpy(row->site, rs->name, sizeof(row->site));
		str_ncpy(row->contact, rs->contact, sizeof(row->contact));
		str_ncpy(row->phone, rs->phone, sizeof(row->phone));
		row->expected = rs->expected;
		row->connected = rs->joins > 0;
		row->left_early = rs->left_early;
		row->pass = site_pass(rs);
		str_ncpy(row->speaker, spk_name(rs->spk),
			 sizeof(row->speaker));
		str_ncpy(row->mic, rs->talk_done ?
			 dsp_talk_verdict_name(rs->talk) : "pending",
			 sizeof(row->mic));
		str_ncpy(row->link, link_name(rs->lres), sizeof(row->link));
		row->delay_ms = rs->pres.delay_ms;
		row->erl_db = rs->pres.erl_db;
		row->speech_dbfs = rs->tres.speech_dbfs;
		row->snr_db = rs->tres.snr_db;
		row->loss_pct = rs->loss_up > rs->loss_down ? rs->loss_up
							    : rs->loss_down;
		row->jitter_ms = rs->jitter_ms;
		row->rtt_ms = rs->rtt_ms;
		row->mos = rs->mos;
		row->kbps_in = rs->kbps_in;
		row->connect_unix_ms = rs->connect_unix_ms;
	}
	if (!rec_ready_save(r->rec, &rr))
		return;
 fail:
	log_warn("readiness: room %s: the report of %s could not be kept "
		 "(it stays on GET /api/rooms/%s/test until the next "
		 "window)\n", r->cfg->id, r->win->id, r->cfg->id);
	mem_deref(rr.json);
	mem_deref(rr.csv);
	mem_deref(rr.html);
	mem_deref(rr.html_vi);
	mem_deref(rr.rowv);
}
