/**
 * @file offload.c  A room's offload pool (`dsp_pool = DEVICE`): a
 * conference DSP unit (hw/pool.c) takes over the echo cancellation,
 * noise suppression and AGC of up to N of the room's sites.
 *
 * Which sites: those where it saves the most, echoing halls first: a
 * free channel goes to the connected site whose echo the bridge's own
 * canceller has found, strongest echo (lowest return loss) first; a site
 * keeps its channel until it leaves. The bridge keeps each offloaded
 * site's software chain running (its detector and meters decide, and
 * its output is mixed in any tick the unit did not deliver), so a unit
 * that fails or is unplugged loses not one frame: the mixer falls back
 * in the same tick, and goes back to the unit when it returns.
 *
 * Threads: network thread (assignment, JSON); the unit's device thread
 * and the mixer meet only in each channel's two SPSC rings
 * (struct mix_ext).
 */
#include <errno.h>
#include <string.h>
#include <re.h>
#include "hw.h"
#include "json.h"
#include "log.h"
#include "offload.h"
#include "room.h"
#include "site.h"

#define TIMER_MS 1000
#define LD(f) atomic_load_explicit(&(f), memory_order_relaxed)

struct offload {
	struct room *room;
	struct hw_pool *pool;
	char device[HW_NAME_MAX];
	struct mix_ext chv[HW_POOL_MAX];
	struct site *sitev[HW_POOL_MAX];
	uint64_t served_last[HW_POOL_MAX];
	bool serving[HW_POOL_MAX];          /* delivered in the last second */
	int state_last;
	struct tmr tmr;
};

/* ---- the device thread's side ------------------------------------------- */

static bool io_get(void *arg, uint32_t ch, uint32_t *tag, int16_t *raw,
		   int16_t *ref)
{
	struct offload *o = arg;
	struct mix_ext_in in;

	if (ch >= HW_POOL_MAX || !ring_pop(&o->chv[ch].to_dev, &in))
		return false;
	*tag = in.tag;
	memcpy(raw, in.raw, sizeof(in.raw));
	memcpy(ref, in.ref, sizeof(in.ref));
	return true;
}

static void io_put(void *arg, uint32_t ch, uint32_t tag, const int16_t *out)
{
	struct offload *o = arg;
	struct mix_ext_out x;

	if (ch >= HW_POOL_MAX)
		return;
	x.tag = tag;
	memcpy(x.pcm, out, sizeof(x.pcm));
	(void)ring_push(&o->chv[ch].from_dev, &x);
}

/* ---- assignment -------------------------------------------------------- */

/* The connected site that gains most from the unit, not yet on it. */
static struct site *best_candidate(const struct offload *o)
{
	struct site *best = NULL;
	float best_erl = 1e9f;
	struct le *le;

	LIST_FOREACH(room_sites(o->room), le) {
		struct site *s = le->data;
		struct site_info si;
		float erl;
		uint32_t k;
		bool taken = false;

		for (k = 0; k < HW_POOL_MAX; k++)
			taken |= o->sitev[k] == s;
		site_info(s, &si);
		if (taken || si.state != SITE_ESTABLISHED || !si.st ||
		    !site_member(s) || !LD(si.st->echo_present))
			continue;
		erl = (float)LD(si.st->erl_cdb) / 100.0f;
		if (erl < best_erl) {
			best_erl = erl;
			best = s;
		}
	}
	return best;
}

static void timer_h(void *arg)
{
	struct offload *o = arg;
	const struct hw_pool_stats *st = hw_pool_stats(o->pool);
	const int state = LD(st->state);
	const uint32_t n = LD(st->channels);
	uint32_t k;

	tmr_start(&o->tmr, TIMER_MS, timer_h, o);
	if (state != o->state_last) {
		log_info("offload: %s: %s%s\n", o->device,
			 hw_pool_state_name(state),
			 state == HW_POOL_LOST || state == HW_POOL_FAILED ?
			 ": its sites are on their software chains" : "");
		o->state_last = state;
	}
	for (k = 0; k < HW_POOL_MAX; k++) {
		const uint64_t sv = LD(o->chv[k].served);

		o->serving[k] = o->sitev[k] && sv > o->served_last[k];
		o->served_last[k] = sv;
	}
	if (state != HW_POOL_RUNNING)
		return;
	for (k = 0; k < n && k < HW_POOL_MAX; k++) {
		struct site *s;

		if (o->sitev[k])
			continue;
		s = best_candidate(o);
		if (!s)
			break;
		if (mixer_set_ext(room_mixer(o->room), site_member(s),
				  &o->chv[k]))
			break;
		o->sitev[k] = s;
		log_info("offload: site %s (%s) on %s channel %u\n",
			 site_id(s), site_name(s), o->device, k);
	}
}

void offload_site_left(struct offload *o, struct site *site)
{
	uint32_t k;

	if (!o)
		return;
	/* its member's detach is already on its way to the mixer, ahead of
	 * any command that gives the channel to another */
	for (k = 0; k < HW_POOL_MAX; k++) {
		if (o->sitev[k] == site) {
			o->sitev[k] = NULL;
			o->serving[k] = false;
		}
	}
}

/* ---- life -------------------------------------------------------------- */

void offload_stop(struct offload *o)
{
	if (!o)
		return;
	tmr_cancel(&o->tmr);
	hw_pool_stop(o->pool);
	o->pool = NULL;
}

static void destructor(void *arg)
{
	offload_stop(arg);
}

int offload_alloc(struct offload **op, struct room *room, const char *device,
		  const struct hw_profiles *profiles, uint32_t rt_prio)
{
	struct hw_pool_prm prm;
	struct hw_pool_io io;
	struct offload *o;
	uint32_t k;
	int err;

	if (!op || !room || !device || !device[0])
		return EINVAL;
	o = mem_zalloc(sizeof(*o), destructor);
	if (!o)
		return ENOMEM;
	o->room = room;
	o->state_last = -1;
	str_ncpy(o->device, device, sizeof(o->device));
	for (k = 0; k < HW_POOL_MAX; k++)
		mix_ext_init(&o->chv[k]);
	memset(&prm, 0, sizeof(prm));
	str_ncpy(prm.device, device, sizeof(prm.device));
	prm.profiles = profiles;
	prm.rt_prio = rt_prio;
	io.get = io_get;
	io.put = io_put;
	io.arg = o;
	err = hw_pool_start(&o->pool, &prm, &io);
	if (err) {
		mem_deref(o);
		return err;
	}
	tmr_init(&o->tmr);
	tmr_start(&o->tmr, TIMER_MS, timer_h, o);
	*op = o;
	return 0;
}

bool offload_alarm(const struct offload *o, char *text, size_t sz)
{
	const int state = LD(hw_pool_stats(o->pool)->state);

	if (state == HW_POOL_LOST)
		re_snprintf(text, sz, "DSP unit %s is gone (unplugged?): its "
			    "sites are on the bridge's own processing",
			    o->device);
	else if (state == HW_POOL_FAILED)
		re_snprintf(text, sz, "DSP unit %s returns nothing: its "
			    "sites are on the bridge's own processing",
			    o->device);
	else
		return false;
	return true;
}

/* ---- what the room JSON says ------------------------------------------- */

static const char *feat(const struct offload *o, uint32_t k,
			const struct hw_pool_stats *st, enum hw_feature f)
{
	if (!o->serving[k])
		return "software";
	return LD(st->where[f]) == HW_HW ? "hardware" : "off";
}

int offload_print(struct re_printf *pf, void *arg)
{
	const struct offload *o = arg;
	const struct hw_pool_stats *st;
	bool first = true;
	uint32_t k;
	int err;

	if (!o)
		return re_hprintf(pf, "null");
	st = hw_pool_stats(o->pool);
	err = re_hprintf(pf, "{\"device\":%H,\"state\":\"%s\","
			 "\"channels\":%u,\"latency_ms\":",
			 json_pstr, o->device,
			 hw_pool_state_name(LD(st->state)), LD(st->channels));
	err |= LD(st->latency_ms10) < 0 ? re_hprintf(pf, "null") :
		re_hprintf(pf, "%.1f", LD(st->latency_ms10) / 10.0);
	err |= re_hprintf(pf, ",\"features\":{\"aec\":\"%s\",\"ns\":\"%s\","
			  "\"agc\":\"%s\"},\"frames\":%llu,\"xruns\":%llu,"
			  "\"opens\":%llu,\"sites\":[",
			  hw_where_name(LD(st->where[HW_AEC])),
			  hw_where_name(LD(st->where[HW_NS])),
			  hw_where_name(LD(st->where[HW_AGC])),
			  (unsigned long long)LD(st->frames),
			  (unsigned long long)LD(st->xruns),
			  (unsigned long long)LD(st->opens));
	for (k = 0; k < HW_POOL_MAX; k++) {
		const struct mix_ext *x = &o->chv[k];
		const char *where;

		if (!o->sitev[k])
			continue;
		/* per feature: the unit's when it delivers (and "off" for
		 * one it does not do: its output is mixed as it is), the
		 * site's own chain otherwise */
		where = o->serving[k] ? "hardware" : "software";
		err |= re_hprintf(pf, "%s{\"channel\":%u,\"site\":%H,"
				  "\"name\":%H,\"aec\":\"%s\",\"ns\":\"%s\","
				  "\"agc\":\"%s\",\"served\":%llu,"
				  "\"missed\":%llu,\"ref_delay_ms\":%d,"
				  "\"erle_db\":%.1f}",
				  first ? "" : ",", k, json_pstr,
				  site_id(o->sitev[k]), json_pstr,
				  site_name(o->sitev[k]), where,
				  feat(o, k, st, HW_NS),
				  feat(o, k, st, HW_AGC),
				  (unsigned long long)LD(x->served),
				  (unsigned long long)LD(x->missed),
				  LD(x->ref_delay_ms),
				  LD(x->erle_cdb) / 100.0);
		first = false;
	}
	return err | re_hprintf(pf, "]}");
}
