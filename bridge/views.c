/**
 * @file views.c  JSON views of rooms and sites (see views.h and the
 * field list in docs/operator.md).
 */
#include <re.h>
#include <stdatomic.h>
#include "json.h"
#include "lbtime.h"
#include "live.h"
#include "roster.h"
#include "views.h"

#define LD(v) atomic_load_explicit(&(v), memory_order_relaxed)

static double cdb(const _Atomic int32_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed) / 100.0;
}

int view_error(struct re_printf *pf, void *msg)
{
	return re_hprintf(pf, "{\"error\":%H}\n", json_pstr,
			  (const char *)msg);
}

static int print_roster(struct re_printf *pf, void *room)
{
	return roster_print(pf, room_roster(room));
}

int view_rooms(struct re_printf *pf, void *arg)
{
	const struct room_set *rs = arg;
	const struct le *le;
	bool first = true;
	int err;

	err = re_hprintf(pf, "{\"version\":\"%s\",\"rooms\":[",
			 LB_VERSION);
	LIST_FOREACH(rooms_list(rs), le) {
		const struct room *room = le->data;
		const struct cfg_room *rc = room_cfg(room);

		err |= re_hprintf(pf, "%s{\"id\":%H,\"name\":%H,"
				  "\"site_count\":%u,\"max_sites\":%u,"
				  "\"rtp_port\":%u}", first ? "" : ",",
				  json_pstr, rc->id, json_pstr, rc->name,
				  room_site_count(room), rc->max_sites,
				  room_rtp_port(room));
		first = false;
	}
	return err | re_hprintf(pf, "]}\n");
}

static int print_rtp(struct re_printf *pf, const struct site_info *si)
{
	const struct mix_member_stats *ms = si->st;
	const struct rtp_stats *st = &ms->rtp;
	uint32_t expected = LD(st->expected);
	uint32_t received = LD(st->received);
	int64_t lost = (int64_t)expected - received;
	double loss_pct = expected && lost > 0 ? 100.0 * lost / expected : 0;
	double jit_ms = LD(st->jitter_ts) * 1000.0 / si->prm->clock_hz;

	return re_hprintf(pf, ",\"packets_in\":%llu,\"packets_out\":%llu,"
			  "\"bytes_in\":%llu,\"bytes_out\":%llu,"
			  "\"lost\":%lld,\"loss_pct\":%.2f,"
			  "\"jitter_ms\":%.1f,\"jb_ms\":%u,"
			  "\"malformed\":%llu,\"late\":%llu,"
			  "\"jb_overflow\":%llu,"
			  "\"concealed\":%llu,\"fec_recovered\":%llu,"
			  "\"dtmf\":%llu,\"level_in_dbfs\":%.1f,"
			  "\"level_out_dbfs\":%.1f,\"talking\":%s,"
			  "\"voice\":%s,\"echo_only\":%s,"
			  "\"send\":{\"ptime\":%u,\"bitrate\":%u,"
			  "\"own_stream\":%s}",
			  (unsigned long long)LD(st->pkts_in),
			  (unsigned long long)LD(st->pkts_out),
			  (unsigned long long)LD(st->bytes_in),
			  (unsigned long long)LD(st->bytes_out),
			  (long long)lost, loss_pct, jit_ms,
			  LD(st->jb_delay_ms),
			  (unsigned long long)LD(st->malformed),
			  (unsigned long long)LD(st->jb_late),
			  (unsigned long long)LD(st->jb_overflow),
			  (unsigned long long)LD(st->concealed),
			  (unsigned long long)LD(st->fec_recovered),
			  (unsigned long long)LD(st->dtmf),
			  cdb(&ms->level_in_cdb), cdb(&ms->level_out_cdb),
			  json_bool(LD(ms->talking)),
			  json_bool(LD(ms->active)),
			  json_bool(LD(ms->echo_only)),
			  LD(ms->ptime_ms), LD(ms->bitrate_bps),
			  json_bool(LD(ms->own_stream)));
}

static int print_dsp(struct re_printf *pf, const struct site_info *si)
{
	const struct mix_member_stats *st = si->st;
	const struct mix_dsp *d = si->dsp;
	int err;

	err = re_hprintf(pf, ",\"dsp\":{\"noise_suppression\":%s,"
			 "\"agc\":%s,\"echo_control\":%s,\"chair\":%s,"
			 "\"in_peak_dbfs\":%.1f,\"in_rms_dbfs\":%.1f,"
			 "\"out_peak_dbfs\":%.1f,\"out_rms_dbfs\":%.1f,"
			 "\"noise_dbfs\":%.1f,\"agc_gain_db\":%.1f,"
			 "\"speech_prob\":%.2f,\"delay_ms\":%.1f,"
			 "\"echo_likelihood\":%.2f}",
			 json_bool(d->proc.ns), json_bool(d->proc.agc),
			 json_bool(d->proc.aec), json_bool(d->chair),
			 cdb(&st->in_peak_cdb), cdb(&st->level_in_cdb),
			 cdb(&st->proc_peak_cdb), cdb(&st->proc_rms_cdb),
			 cdb(&st->noise_cdb), cdb(&st->agc_gain_cdb),
			 LD(st->speech_pct) / 100.0,
			 (double)si->chain_delay_ms,
			 LD(st->echo_corr_pct) / 100.0);
	if (LD(st->aec_on)) {
		int32_t d10 = LD(st->echo_delay_ms10);

		err |= re_hprintf(pf, ",\"echo\":{\"present\":%s,"
				  "\"double_talk\":%s,\"delay_ms\":%.1f,"
				  "\"erl_db\":%.1f,\"erle_db\":%.1f,"
				  "\"drift_ppm\":%.1f}",
				  json_bool(LD(st->echo_present)),
				  json_bool(LD(st->double_talk)),
				  d10 < 0 ? -1.0 : d10 / 10.0,
				  cdb(&st->erl_cdb), cdb(&st->erle_cdb),
				  LD(st->drift_ppm10) / 10.0);
	}
	return err;
}

int view_site(struct re_printf *pf, void *arg)
{
	struct site_info si;
	const char *state, *dir;
	int err;

	site_info(arg, &si);
	state = si.state == SITE_RINGING ? "ringing" :
		si.state == SITE_ESTABLISHED ? "connected" : "closed";
	dir = si.recv_on ? "sendrecv" : si.send_on ? "hold-sendonly" :
		"hold-inactive";
	err = re_hprintf(pf, "{\"id\":%H,\"name\":%H,\"uri\":%H,"
			 "\"state\":\"%s\",\"remote\":\"%J\",\"codec\":%H,"
			 "\"pt\":%u,\"ptime\":%u,\"fec\":%s,\"dir\":\"%s\","
			 "\"connected_s\":%.1f",
			 json_pstr, si.id, json_pstr, si.name,
			 json_pstr, si.uri, state, si.raddr,
			 json_pstr, codec_name(si.prm->id), si.prm->pt,
			 si.prm->ptime_ms, json_bool(si.prm->fec), dir,
			 si.connected_s);
	if (!si.st)
		return err | re_hprintf(pf, "}");
	err |= re_hprintf(pf, ",\"muted\":%s,\"deaf\":%s,\"gain_in_db\":%.1f,"
			  "\"gain_out_db\":%.1f",
			  json_bool(si.ctl->muted), json_bool(si.ctl->deaf),
			  (double)si.ctl->gain_in_db,
			  (double)si.ctl->gain_out_db);
	err |= print_rtp(pf, &si);
	err |= print_dsp(pf, &si);
	if (si.have_remote_report)
		err |= re_hprintf(pf, ",\"remote_loss_pct\":%.1f,"
				  "\"remote_jitter_ms\":%.1f,\"rtt_ms\":%.1f",
				  si.remote_loss_pct, si.remote_jitter_ms,
				  si.rtt_ms);
	return err | re_hprintf(pf, "}");
}

int view_room(struct re_printf *pf, void *arg)
{
	const struct room *room = arg;
	const struct cfg_room *rc = room_cfg(room);
	const struct mixer_stats *ms = mixer_stats(room_mixer(room));
	const struct rtpep_stats *rs = mixer_rtp_stats(room_mixer(room));
	const uint64_t ticks = LD(ms->ticks), late = LD(ms->late_ticks);
	const struct mix_dsp *d = room_dsp(room);
	const struct le *le;
	bool first = true;
	int err;

	err = re_hprintf(pf, "{\"id\":%H,\"name\":%H,\"max_sites\":%u,"
			 "\"max_talkers\":%u,\"site_count\":%u,",
			 json_pstr, rc->id, json_pstr, rc->name,
			 rc->max_sites, rc->max_talkers,
			 room_site_count(room));
	err |= re_hprintf(pf, "\"dsp\":{\"noise_suppression\":%s,"
			  "\"agc\":%s,\"agc_target_dbfs\":%.0f,"
			  "\"echo_control\":%s},",
			  json_bool(d->proc.ns), json_bool(d->proc.agc),
			  (double)d->proc.agc_target_dbfs,
			  json_bool(d->proc.aec));
	err |= re_hprintf(pf, "\"mixer\":{\"ticks\":%llu,\"late_ticks\":%llu,"
			  "\"late_pct\":%.3f,\"avg_tick_us\":%.1f,"
			  "\"max_tick_us\":%.1f,\"sites\":%u,\"talkers\":%u,"
			  "\"encodes\":%llu,\"profiles\":%u,"
			  "\"events_dropped\":%llu,\"taps\":%u,"
			  "\"tap_drops\":%llu,\"cmd_backlog\":%llu},",
			  (unsigned long long)ticks, (unsigned long long)late,
			  ticks ? 100.0 * late / ticks : 0.0,
			  ticks ? LD(ms->tick_ns_sum) / 1e3 / ticks : 0.0,
			  LD(ms->tick_ns_max) / 1e3,
			  LD(ms->members), LD(ms->talkers),
			  (unsigned long long)LD(ms->encodes),
			  room_profile_count(room),
			  (unsigned long long)LD(ms->ev_dropped),
			  LD(ms->taps),
			  (unsigned long long)LD(ms->tap_drops),
			  (unsigned long long)LD(ms->cmd_backlog));
	{
		struct room_rec_info ri;

		room_recording(room, &ri);
		err |= re_hprintf(pf, "\"recording\":{\"on\":%s,"
				  "\"available\":%s,\"alarm\":%H",
				  json_bool(ri.on), json_bool(ri.available),
				  json_pstr, ri.alarm);
		if (ri.session)
			err |= re_hprintf(pf, ",\"session\":%H,\"dir\":%H,"
					  "\"bytes\":%llu,\"seconds\":%.1f,"
					  "\"tracks\":%u,\"lost_frames\":%llu,"
					  "\"skipped_frames\":%llu,"
					  "\"paused\":%s",
					  json_pstr, ri.session, json_pstr,
					  ri.dir,
					  (unsigned long long)ri.bytes,
					  ri.seconds, ri.tracks,
					  (unsigned long long)ri.lost_frames,
					  (unsigned long long)
					  ri.skipped_frames,
					  json_bool(ri.paused));
		err |= re_hprintf(pf, "},");
	}
	err |= re_hprintf(pf, "\"rtp\":{\"port\":%u,\"rx_packets\":%llu,"
			  "\"tx_packets\":%llu,\"tx_errors\":%llu,"
			  "\"unknown_source\":%llu,\"malformed\":%llu},"
			  "\"sites\":[",
			  room_rtp_port(room),
			  (unsigned long long)LD(rs->rx_pkts),
			  (unsigned long long)LD(rs->tx_pkts),
			  (unsigned long long)LD(rs->tx_errors),
			  (unsigned long long)LD(rs->unknown_source),
			  (unsigned long long)LD(rs->malformed));
	LIST_FOREACH(room_sites(room), le) {
		err |= re_hprintf(pf, "%s%H", first ? "" : ",", view_site,
				  le->data);
		first = false;
	}
	/* the roster names the site each expected site is connected as */
	err |= re_hprintf(pf, "],\"expected\":%H,\"alarms\":",
			  print_roster, (void *)room);
	err |= room_print_alarms(pf, room);
	return err | re_hprintf(pf, ",\"locked\":%s,\"mute_all\":%s,"
				"\"live_clients\":%u}\n",
				json_bool(room_locked(room)),
				json_bool(room_mute_all_on(room)),
				live_clients());
}

int view_levels(struct re_printf *pf, void *arg)
{
	const struct room *room = arg;
	const struct le *le;
	int err;

	err = re_hprintf(pf, "{\"room\":%H,\"sites\":[", json_pstr,
			 room_cfg(room)->id);
	LIST_FOREACH(room_sites(room), le) {
		struct site_info si;
		const struct mix_member_stats *st;
		uint32_t exp, rec;

		site_info(le->data, &si);
		st = si.st;
		if (!st)
			continue;
		exp = LD(st->rtp.expected);
		rec = LD(st->rtp.received);
		err |= re_hprintf(pf, "%s{\"id\":%H,\"in\":%.1f,\"pk\":%.1f,"
				  "\"out\":%.1f,\"sent\":%.1f,\"v\":%d,"
				  "\"tk\":%d,\"agc\":%.1f,\"echo\":%.2f,"
				  "\"erle\":%.1f,\"loss\":%.1f,\"jit\":%.1f,"
				  "\"mute\":%d,\"deaf\":%d}",
				  le == list_head(room_sites(room)) ? "" : ",",
				  json_pstr, si.id, cdb(&st->level_in_cdb),
				  cdb(&st->in_peak_cdb), cdb(&st->proc_rms_cdb),
				  cdb(&st->level_out_cdb), LD(st->active),
				  LD(st->talking), cdb(&st->agc_gain_cdb),
				  LD(st->echo_corr_pct) / 100.0,
				  LD(st->aec_on) ? cdb(&st->erle_cdb) : 0.0,
				  exp > rec && exp ? 100.0 * (exp - rec) / exp :
				  0.0, LD(st->rtp.jitter_ts) * 1000.0 /
				  si.prm->clock_hz, si.ctl->muted,
				  si.ctl->deaf);
	}
	return err | re_hprintf(pf, "]}");
}
