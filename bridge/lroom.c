/**
 * @file lroom.c  The local room as a member of its room's mix: a PCM
 * member fed and drained by hw/'s device thread (hw_local), shown and
 * controlled like a site (id "local", named after the room).
 *
 * The member's own chain does no processing (noise suppression, AGC and
 * echo control off): the device thread already ran what the device
 * does not do, with the exact loudspeaker signal as echo reference; the
 * mixer's chain still meters it and decides when it talks.
 *
 * Threads: network thread; the member's PCM rings are touched by the
 * device thread only through mix_member_pcm_put/get (RT-safe SPSC).
 */
#include <re.h>
#include <stdatomic.h>
#include <string.h>
#define LOG_MODULE "local"
#include "json.h"
#include "log.h"
#include "lroom.h"

struct lroom {
	struct mixer *mixer;
	struct mix_member *mm;
	struct hw_local *hw;
	struct mix_ctl ctl;
	char name[64];
	char device[128];
	enum hw_api api;
	uint64_t alarm_seq;
};

static bool io_put(void *arg, const int16_t *frame)
{
	return mix_member_pcm_put(arg, frame);
}

static bool io_get(void *arg, int16_t *frame)
{
	return mix_member_pcm_get(arg, frame);
}

static void destructor(void *arg)
{
	struct lroom *l = arg;

	/* the device thread first: after the join nothing touches the
	 * member's rings; the mixer frees it after the detach */
	hw_local_stop(l->hw);
	if (l->mm)
		(void)mixer_detach(l->mixer, l->mm);
}

int lroom_alloc(struct lroom **lp, const struct lroom_prm *prm)
{
	struct mix_member_prm mp;
	struct hw_local_io io;
	struct lroom *l;
	int err;

	if (!lp || !prm || !prm->mixer || !prm->prof)
		return EINVAL;
	l = mem_zalloc(sizeof(*l), destructor);
	if (!l)
		return ENOMEM;
	l->mixer = prm->mixer;
	l->ctl = prm->ctl;
	str_ncpy(l->name, prm->name, sizeof(l->name));
	str_ncpy(l->device, prm->hw.device, sizeof(l->device));
	l->api = prm->hw.api;

	memset(&mp, 0, sizeof(mp));
	mp.kind = MIX_MEMBER_PCM;
	mp.key = LROOM_KEY;
	mp.dsp = prm->dsp;
	mp.dsp.proc.ns = mp.dsp.proc.agc = mp.dsp.proc.aec = false;
	mp.ctl = prm->ctl;
	mp.pcm_frames = 8;
	err = mix_member_alloc(&l->mm, &mp, prm->prof);
	if (!err)
		err = mixer_attach(l->mixer, l->mm);
	if (err) {
		l->mm = mem_deref(l->mm);
		goto out;
	}
	io.put = io_put;
	io.get = io_get;
	io.arg = l->mm;
	err = hw_local_start(&l->hw, &prm->hw, &io);
 out:
	if (err)
		mem_deref(l);
	else
		*lp = l;
	return err;
}

struct mix_member *lroom_member(const struct lroom *l)
{
	return l ? l->mm : NULL;
}

const struct mix_ctl *lroom_ctl(const struct lroom *l)
{
	return &l->ctl;
}

int lroom_set_ctl(struct lroom *l, const struct mix_ctl *ctl)
{
	int err = mixer_set_ctl(l->mixer, l->mm, ctl);

	if (!err)
		l->ctl = *ctl;
	return err;
}

static const char *state_name(int s)
{
	switch (s) {
	case HW_LOCAL_OPENING:  return "opening";
	case HW_LOCAL_RUNNING:  return "running";
	case HW_LOCAL_FALLBACK: return "fallback";
	case HW_LOCAL_SILENT:   return "silent";
	default:                return "stopped";
	}
}

#define LD(v) atomic_load_explicit(&(v), memory_order_relaxed)

static double cdb(const _Atomic int32_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed) / 100.0;
}

int lroom_print(struct re_printf *pf, void *arg)
{
	const struct lroom *l = arg;
	const struct hw_local_stats *hs = hw_local_stats(l->hw);
	const struct mix_member_stats *st = mix_member_stats(l->mm);
	char dev[128], alarm[200];
	enum hw_feature f;
	int err, state = LD(hs->state);

	hw_local_status(l->hw, dev, sizeof(dev), alarm, sizeof(alarm));
	err = re_hprintf(pf, "{\"id\":\"local\",\"kind\":\"local\","
			 "\"name\":%H,\"uri\":\"\",\"state\":\"%s\","
			 "\"codec\":\"local\",\"ptime\":20,"
			 "\"muted\":%s,\"deaf\":%s,\"gain_in_db\":%.1f,"
			 "\"gain_out_db\":%.1f,\"level_in_dbfs\":%.1f,"
			 "\"level_out_dbfs\":%.1f,\"talking\":%s,"
			 "\"voice\":%s,\"loss_pct\":0,\"jitter_ms\":0,",
			 json_pstr, l->name, state == HW_LOCAL_SILENT ?
			 "silent" : "connected", json_bool(l->ctl.muted),
			 json_bool(l->ctl.deaf), (double)l->ctl.gain_in_db,
			 (double)l->ctl.gain_out_db, cdb(&st->level_in_cdb),
			 cdb(&st->level_out_cdb), json_bool(LD(st->talking)),
			 json_bool(LD(st->active)));
	/* the device thread's chain: what the microphones picked up,
	 * what left it; the mixer's view of the member after that */
	err |= re_hprintf(pf, "\"dsp\":{\"in_peak_dbfs\":%.1f,"
			  "\"in_rms_dbfs\":%.1f,\"out_rms_dbfs\":%.1f,"
			  "\"agc_gain_db\":%.1f,\"echo_likelihood\":%.2f},"
			  "\"echo\":{\"present\":%s,\"double_talk\":%s,"
			  "\"delay_ms\":%.1f,\"erle_db\":%.1f},",
			  cdb(&st->in_peak_cdb), cdb(&hs->in_rms_cdb),
			  cdb(&hs->out_rms_cdb), cdb(&hs->agc_gain_cdb),
			  LD(st->echo_corr_pct) / 100.0,
			  json_bool(LD(hs->echo_present)),
			  json_bool(LD(hs->double_talk)),
			  LD(hs->echo_delay_ms10) / 10.0,
			  cdb(&hs->erle_cdb));
	err |= re_hprintf(pf, "\"local\":{\"device\":%H,\"configured\":%H,"
			  "\"api\":\"%s\",\"state\":\"%s\",\"features\":{",
			  json_pstr, dev, json_pstr, l->device,
			  l->api == HW_API_PORTAUDIO ? "portaudio" : "alsa",
			  state_name(state));
	for (f = 0; f < HW_FEATURES; f++)
		err |= re_hprintf(pf, "%s\"%s\":\"%s\"", f ? "," : "",
				  hw_feature_name(f),
				  hw_where_name(LD(hs->where[f])));
	err |= re_hprintf(pf, "},\"rate\":%u,\"xruns\":%llu,"
			  "\"drift_ppm\":%.1f,\"phase_ms\":%.2f,"
			  "\"lost_frames\":%llu,\"switches\":%llu,"
			  "\"frames_in\":%llu,\"frames_out\":%llu,"
			  "\"chain_cpu_s\":%.3f,"
			  "\"mixer_underruns\":%llu,\"mixer_overruns\":%llu,"
			  "\"alarm\":%H}}",
			  LD(hs->rate), (unsigned long long)LD(hs->xruns),
			  LD(hs->drift_ppm10) / 10.0,
			  LD(hs->delay_ms10) / 10.0,
			  (unsigned long long)LD(hs->lost_frames),
			  (unsigned long long)LD(hs->switches),
			  (unsigned long long)LD(hs->frames_in),
			  (unsigned long long)LD(hs->frames_out),
			  LD(hs->chain_ns) / 1e9,
			  (unsigned long long)LD(st->pcm_underruns),
			  (unsigned long long)LD(st->pcm_overruns),
			  json_pstr, alarm);
	return err;
}

bool lroom_alarm(struct lroom *l, char *text, size_t sz)
{
	const struct hw_local_stats *hs = hw_local_stats(l->hw);
	int state = LD(hs->state);

	if (state == HW_LOCAL_RUNNING)
		return false;
	hw_local_status(l->hw, NULL, 0, text, sz);
	return true;
}

static bool lroom_alarm_news(struct lroom *l)
{
	uint64_t seq = LD(hw_local_stats(l->hw)->alarm_seq);

	if (seq == l->alarm_seq)
		return false;
	l->alarm_seq = seq;
	return true;
}

void lroom_log_news(struct lroom *l)
{
	char alarm[200];

	if (!lroom_alarm_news(l))
		return;
	hw_local_status(l->hw, NULL, 0, alarm, sizeof(alarm));
	log_warn("local room %s: %s\n", l->name, alarm);
}
