/**
 * @file views.c  JSON views of rooms and sites (see views.h and the
 * field list in docs/operator.md).
 */
#include <re.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include "json.h"
#include "lbtime.h"
#include "live.h"
#include "lroom.h"
#include "roster.h"
#include "offload.h"
#include "ready.h"
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
			  "\"recent_loss_pct\":%.1f,"
			  "\"jitter_ms\":%.1f,\"jb_ms\":%u,"
			  "\"malformed\":%llu,\"late\":%llu,"
			  "\"jb_overflow\":%llu,"
			  "\"concealed\":%llu,\"fec_recovered\":%llu,"
			  "\"dtx_frames\":%llu,\"dtx_out_frames\":%llu,"
			  "\"voiceless_frames\":%llu,"
			  "\"loss_bursts\":%u,"
			  "\"mean_burst\":%.2f,"
			  "\"dtmf\":%llu,\"level_in_dbfs\":%.1f,"
			  "\"level_out_dbfs\":%.1f,\"talking\":%s,"
			  "\"voice\":%s,\"echo_only\":%s,"
			  "\"send\":{\"ptime\":%u,\"bitrate\":%u,"
			  "\"own_stream\":%s}",
			  (unsigned long long)LD(st->pkts_in),
			  (unsigned long long)LD(st->pkts_out),
			  (unsigned long long)LD(st->bytes_in),
			  (unsigned long long)LD(st->bytes_out),
			  (long long)lost, loss_pct, si->recent_loss_pct,
			  jit_ms,
			  LD(st->jb_delay_ms),
			  (unsigned long long)LD(st->malformed),
			  (unsigned long long)LD(st->jb_late),
			  (unsigned long long)LD(st->jb_overflow),
			  (unsigned long long)LD(st->concealed),
			  (unsigned long long)LD(st->fec_recovered),
			  (unsigned long long)LD(st->dtx_frames),
			  (unsigned long long)LD(st->dtx_out_frames),
			  (unsigned long long)LD(st->voiceless_frames),
			  LD(st->loss_bursts), view_mean_burst(ms),
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

		err |= re_hprintf(pf, ",\"echo\":{\"running\":%s,"
				  "\"present\":%s,"
				  "\"double_talk\":%s,\"delay_ms\":%.1f,"
				  "\"erl_db\":%.1f,\"erle_db\":%.1f,"
				  "\"drift_ppm\":%.1f}",
				  json_bool(LD(st->aec_running)),
				  json_bool(LD(st->echo_present)),
				  json_bool(LD(st->double_talk)),
				  d10 < 0 ? -1.0 : d10 / 10.0,
				  cdb(&st->erl_cdb), cdb(&st->erle_cdb),
				  LD(st->drift_ppm10) / 10.0);
	}
	return err;
}

/*
 * ITU-T G.107 E-model, simplified to what a bridge knows: R = 93.2 - Id
 * - Ie,eff with the delay impairment Id of the one-way delay (half the
 * RTT, the jitter buffer, one packet and 10 ms of processing) and the
 * equipment impairment of packet loss, Ie,eff = Ie + (95 - Ie) P / (P /
 * BurstR + Bpl). BurstR = (1 - P) x the mean length of the loss runs
 * measured (1 for random loss, more for bursty), at least 1; 1 for
 * the direction we only know from RTCP. Opus has no G.113 entry; Ie = 0
 * and Bpl = 20 (a codec with good concealment, between G.711 with PLC
 * at 25.1 and none) are our assumptions. MOS from R by G.107 Annex B.
 * An estimate for comparing lines and sessions, not a listening test.
 */
void view_emodel(double loss_pct, double delay_ms, double burst_r,
		 double *r, double *mos)
{
	const double ie = 0, bpl = 20;
	double id, iee, x;

	if (burst_r < 1)
		burst_r = 1;

	id = 0.024 * delay_ms;
	if (delay_ms > 177.3)
		id += 0.11 * (delay_ms - 177.3);
	iee = ie + (95 - ie) * loss_pct / (loss_pct / burst_r + bpl);
	x = 93.2 - id - iee;
	if (x < 0)
		x = 0;
	*r = x;
	*mos = x <= 0 ? 1 : x >= 100 ? 4.5 :
		1 + 0.035 * x + x * (x - 60) * (100 - x) * 7e-6;
}

double view_mean_burst(const struct mix_member_stats *st)
{
	const uint32_t n = LD(st->rtp.loss_bursts);

	return n ? (double)LD(st->rtp.loss_burst_pkts) / n : 0.0;
}

double view_burst_r(const struct mix_member_stats *st)
{
	const uint32_t exp = LD(st->rtp.expected);
	const uint32_t rcv = LD(st->rtp.received);
	const double p = exp > rcv && exp ? (double)(exp - rcv) / exp : 0.0;
	const double b = view_mean_burst(st);

	return b > 0.0 ? (1.0 - p) * b : 1.0;
}

static int print_link(struct re_printf *pf, const struct site_info *si)
{
	const struct mix_member_stats *st = si->st;
	const double jb = LD(st->rtp.jb_delay_ms);
	const double one_way = (si->have_remote_report ? si->rtt_ms / 2 : 0)
		+ jb + si->prm->ptime_ms + 10;
	double r_up, mos_up, r_down, mos_down;

	/* up: what the room hears of the site; down: what it hears */
	view_emodel(si->recent_loss_pct, one_way, view_burst_r(st), &r_up,
		    &mos_up);
	view_emodel(si->have_remote_report ? si->adapt_loss_pct : 0, one_way,
		    1.0, &r_down, &mos_down);
	return re_hprintf(pf, ",\"link\":{\"r_up\":%.0f,\"mos_up\":%.2f,"
			  "\"r_down\":%.0f,\"mos_down\":%.2f,"
			  "\"one_way_ms\":%.0f,\"adapt\":\"%s\","
			  "\"adapt_loss_pct\":%.1f,\"adapt_changes\":%u,"
			  "\"adapt_why\":%H,\"adapt_band\":%H,"
			  "\"ask\":\"%s\",\"ask_changes\":%u,"
			  "\"ask_why\":%H}",
			  r_up, mos_up, r_down, mos_down, one_way,
			  si->adapt_level, si->adapt_loss_pct,
			  si->adapt_changes, json_pstr, si->adapt_why,
			  json_pstr, si->adapt_band, si->ask_level,
			  si->ask_changes, json_pstr, si->ask_why);
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
	err |= print_link(pf, &si);
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
			  "\"agc\":%s,\"agc_target_dbfs\":%d,"
			  "\"echo_control\":%s},",
			  json_bool(d->proc.ns), json_bool(d->proc.agc),
			  (int)lrintf(d->proc.agc_target_dbfs),
			  json_bool(d->proc.aec));
	err |= re_hprintf(pf, "\"mixer\":{\"ticks\":%llu,\"late_ticks\":%llu,"
			  "\"late_pct\":%.3f,\"shed_ticks\":%llu,"
			  "\"avg_tick_us\":%.1f,"
			  "\"max_tick_us\":%.1f,\"sites\":%u,\"talkers\":%u,"
			  "\"encodes\":%llu,\"profiles\":%u,"
			  "\"events_dropped\":%llu,\"taps\":%u,"
			  "\"tap_drops\":%llu,\"cmd_backlog\":%llu,",
			  (unsigned long long)ticks, (unsigned long long)late,
			  ticks ? 100.0 * late / ticks : 0.0,
			  (unsigned long long)LD(ms->shed_ticks),
			  ticks ? LD(ms->tick_ns_sum) / 1e3 / ticks : 0.0,
			  LD(ms->tick_ns_max) / 1e3,
			  LD(ms->members), LD(ms->talkers),
			  (unsigned long long)LD(ms->encodes),
			  room_profile_count(room),
			  (unsigned long long)LD(ms->ev_dropped),
			  LD(ms->taps),
			  (unsigned long long)LD(ms->tap_drops),
			  (unsigned long long)LD(ms->cmd_backlog));
	/* where a tick's time goes: the mixer thread's critical path */
	err |= re_hprintf(pf, "\"phases\":{");
	for (uint32_t i = 0; i < MIX_PH_N; i++)
		err |= re_hprintf(pf, "%s%H:{\"avg_us\":%.1f,"
				  "\"max_us\":%.1f}", i ? "," : "",
				  json_pstr, mix_phase_name(i),
				  ticks ? LD(ms->phase_ns[i]) / 1e3 / ticks :
				  0.0, LD(ms->phase_max_ns[i]) / 1e3);
	err |= re_hprintf(pf, "},\"realtime_threads\":%u,\"workers\":[",
			  LD(ms->rt_threads));
	for (uint32_t i = 0; i < LD(ms->workers) && i < MIX_MAX_WORKERS; i++)
		err |= re_hprintf(pf, "%s{\"busy_avg_us\":%.1f}",
				  i ? "," : "", ticks ?
				  LD(ms->worker_ns[i]) / 1e3 / ticks : 0.0);
	err |= re_hprintf(pf, "]},");
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
	if (room_lroom(room)) {
		err |= re_hprintf(pf, "%s%H", first ? "" : ",", lroom_print,
				  room_lroom(room));
		first = false;
	}
	/* the roster names the site each expected site is connected as */
	err |= re_hprintf(pf, "],\"expected\":%H,\"alarms\":",
			  print_roster, (void *)room);
	err |= room_print_alarms(pf, room);
	err |= re_hprintf(pf, ",\"test\":%H", ready_print_brief,
			  room_ready(room));
	err |= re_hprintf(pf, ",\"pool\":%H", offload_print,
			  room_offload(room));
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
	bool first = true;
	int err;

	err = re_hprintf(pf, "{\"room\":%H,\"sites\":[", json_pstr,
			 room_cfg(room)->id);
	LIST_FOREACH(room_sites(room), le) {
		struct site_info si;
		const struct mix_member_stats *st;
		double loss;

		site_info(le->data, &si);
		st = si.st;
		if (!st)
			continue;
		/* the last 10 s: what the line does now */
		loss = si.recent_loss_pct;
		err |= re_hprintf(pf, "%s{\"id\":%H,\"in\":%.1f,\"pk\":%.1f,"
				  "\"out\":%.1f,\"sent\":%.1f,\"v\":%d,"
				  "\"tk\":%d,\"agc\":%.1f,\"echo\":%.2f,"
				  "\"erle\":%.1f,\"loss\":%.1f,\"jit\":%.1f,"
				  "\"mute\":%d,\"deaf\":%d}",
				  first ? "" : ",", json_pstr, si.id,
				  cdb(&st->level_in_cdb),
				  cdb(&st->in_peak_cdb),
				  cdb(&st->proc_rms_cdb),
				  cdb(&st->level_out_cdb), LD(st->active),
				  LD(st->talking), cdb(&st->agc_gain_cdb),
				  LD(st->echo_corr_pct) / 100.0,
				  LD(st->aec_on) ? cdb(&st->erle_cdb) : 0.0,
				  loss, LD(st->rtp.jitter_ts) * 1000.0 /
				  si.prm->clock_hz, si.ctl->muted,
				  si.ctl->deaf);
		first = false;
	}
	if (room_lroom(room)) {
		const struct mix_member_stats *st =
			mix_member_stats(lroom_member(room_lroom(room)));
		const struct mix_ctl *c = lroom_ctl(room_lroom(room));

		err |= re_hprintf(pf, "%s{\"id\":\"local\",\"in\":%.1f,"
				  "\"pk\":%.1f,\"out\":%.1f,\"sent\":%.1f,"
				  "\"v\":%d,\"tk\":%d,\"agc\":0,\"echo\":0,"
				  "\"erle\":0,\"loss\":0,\"jit\":0,"
				  "\"mute\":%d,\"deaf\":%d}",
				  first ? "" : ",", cdb(&st->level_in_cdb),
				  cdb(&st->in_peak_cdb),
				  cdb(&st->proc_rms_cdb),
				  cdb(&st->level_out_cdb), LD(st->active),
				  LD(st->talking), c->muted, c->deaf);
	}
	return err | re_hprintf(pf, "]}");
}

/* ---- Prometheus --------------------------------------------------------- */

/* A label value: backslash, double quote and newline escaped (the text
 * format's rules); names come from SIP and must not break the page. */
static int prom_str(struct re_printf *pf, void *arg)
{
	const char *s = arg ? arg : "";
	int err = 0;

	for (; *s && !err; s++) {
		if (*s == '\\' || *s == '"')
			err = re_hprintf(pf, "\\%c", *s);
		else if (*s == '\n')
			err = re_hprintf(pf, "\\n");
		else
			err = pf->vph(s, 1, pf->arg);
	}
	return err;
}

/* re_printf has no %g: counters must print as integers, levels and
 * seconds with their decimals */
static int prom_num(struct re_printf *pf, void *arg)
{
	char buf[32];

	(void)snprintf(buf, sizeof(buf), "%.9g", *(const double *)arg);
	return re_hprintf(pf, "%s", buf);
}

enum mkind { M_ROOM, M_SITE };

enum mx {
	MX_ROOM_SITES,
	MX_ROOM_TALKERS,
	MX_ROOM_LOCKED,
	MX_ROOM_MISSING,
	MX_TICKS,
	MX_LATE_TICKS,
	MX_SHED_TICKS,
	MX_TICK_S,
	MX_TICK_MAX,
	MX_EV_DROPPED,
	MX_RTP_RX,
	MX_RTP_TX,
	MX_RTP_BAD,
	MX_RECORDING,
	MX_REC_BYTES,
	MX_REC_LOST,
	MX_S_PKTS_IN,
	MX_S_PKTS_OUT,
	MX_S_LOST,
	MX_S_CONCEALED,
	MX_S_JITTER,
	MX_S_RTT,
	MX_S_INPUT,
	MX_S_TALKING,
	MX_S_MUTED,
	MX_S_CONNECTED,
};

struct metric {
	enum mx id;
	const char *name;
	const char *type;
	const char *help;
	enum mkind kind;
};

/* Every family's samples must follow its HELP and TYPE together, so the
 * rooms and sites are walked once per family. */
static const struct metric metrics[] = {
	{MX_ROOM_SITES, "lowbridge_room_sites", "gauge", "Sites in the room.",
	 M_ROOM},
	{MX_ROOM_TALKERS, "lowbridge_room_talkers", "gauge",
	 "Sites mixed as talkers now.", M_ROOM},
	{MX_ROOM_LOCKED, "lowbridge_room_locked", "gauge",
	 "1 when new callers are refused.", M_ROOM},
	{MX_ROOM_MISSING, "lowbridge_room_expected_missing", "gauge",
	 "Expected sites that have not connected.", M_ROOM},
	{MX_TICKS, "lowbridge_mixer_ticks_total", "counter",
	 "20 ms mixer ticks.", M_ROOM},
	{MX_LATE_TICKS, "lowbridge_mixer_late_ticks_total", "counter",
	 "Ticks that missed their deadline.", M_ROOM},
	{MX_SHED_TICKS, "lowbridge_mixer_shed_ticks_total", "counter",
	 "Ticks run short of time (sites being learnt decoded less).",
	 M_ROOM},
	{MX_TICK_S, "lowbridge_mixer_tick_seconds_total", "counter",
	 "Time the mixer thread worked in ticks.", M_ROOM},
	{MX_TICK_MAX, "lowbridge_mixer_tick_max_seconds", "gauge",
	 "Longest tick so far.", M_ROOM},
	{MX_EV_DROPPED, "lowbridge_mixer_events_dropped_total", "counter",
	 "Mixer events lost to a full queue.", M_ROOM},
	{MX_RTP_RX, "lowbridge_rtp_received_packets_total", "counter",
	 "RTP packets received on the room's port.", M_ROOM},
	{MX_RTP_TX, "lowbridge_rtp_sent_packets_total", "counter",
	 "RTP packets sent from the room's port.", M_ROOM},
	{MX_RTP_BAD, "lowbridge_rtp_malformed_packets_total", "counter",
	 "Packets that were not valid RTP.", M_ROOM},
	{MX_RECORDING, "lowbridge_recording", "gauge",
	 "1 while the room is being recorded.", M_ROOM},
	{MX_REC_BYTES, "lowbridge_recorder_bytes", "gauge",
	 "Bytes written by the room's current recording.", M_ROOM},
	{MX_REC_LOST, "lowbridge_recorder_lost_frames", "gauge",
	 "Frames the current recording lost.", M_ROOM},
	{MX_S_PKTS_IN, "lowbridge_site_packets_received_total", "counter",
	 "RTP packets from the site.", M_SITE},
	{MX_S_PKTS_OUT, "lowbridge_site_packets_sent_total", "counter",
	 "RTP packets to the site.", M_SITE},
	{MX_S_LOST, "lowbridge_site_packets_lost_total", "counter",
	 "Packets from the site that never came.", M_SITE},
	{MX_S_CONCEALED, "lowbridge_site_concealed_total", "counter",
	 "Frames of the site concealed (lost or late).", M_SITE},
	{MX_S_JITTER, "lowbridge_site_jitter_seconds", "gauge",
	 "Interarrival jitter of the site's packets.", M_SITE},
	{MX_S_RTT, "lowbridge_site_rtt_seconds", "gauge",
	 "Round-trip time from RTCP (0 before a report).", M_SITE},
	{MX_S_INPUT, "lowbridge_site_input_dbfs", "gauge",
	 "Level of what the site sends.", M_SITE},
	{MX_S_TALKING, "lowbridge_site_talking", "gauge",
	 "1 while the site is mixed as a talker.", M_SITE},
	{MX_S_MUTED, "lowbridge_site_muted", "gauge",
	 "1 while an operator has muted the site.", M_SITE},
	{MX_S_CONNECTED, "lowbridge_site_connected_seconds", "gauge",
	 "Time since the site joined.", M_SITE},
};

static double room_value(enum mx id, const struct room *room)
{
	const struct mixer_stats *ms = mixer_stats(room_mixer(room));
	const struct rtpep_stats *rs = mixer_rtp_stats(room_mixer(room));
	struct room_rec_info ri;

	switch (id) {
	case MX_ROOM_SITES: return room_site_count(room);
	case MX_ROOM_TALKERS: return LD(ms->talkers);
	case MX_ROOM_LOCKED: return room_locked(room);
	case MX_ROOM_MISSING:
		return roster_count(room_roster(room), "missing");
	case MX_TICKS: return (double)LD(ms->ticks);
	case MX_LATE_TICKS: return (double)LD(ms->late_ticks);
	case MX_SHED_TICKS: return (double)LD(ms->shed_ticks);
	case MX_TICK_S: return LD(ms->tick_ns_sum) / 1e9;
	case MX_TICK_MAX: return LD(ms->tick_ns_max) / 1e9;
	case MX_EV_DROPPED: return (double)LD(ms->ev_dropped);
	case MX_RTP_RX: return (double)LD(rs->rx_pkts);
	case MX_RTP_TX: return (double)LD(rs->tx_pkts);
	case MX_RTP_BAD: return (double)LD(rs->malformed);
	default: break;
	}
	room_recording(room, &ri);
	switch (id) {
	case MX_RECORDING: return ri.session != NULL;
	case MX_REC_BYTES: return (double)ri.bytes;
	default: return (double)ri.lost_frames;
	}
}

static bool site_value(enum mx id, const struct site_info *si, double *v)
{
	const struct mix_member_stats *st = si->st;
	uint32_t exp, rec;

	if (!st)
		return false;
	exp = LD(st->rtp.expected);
	rec = LD(st->rtp.received);
	switch (id) {
	case MX_S_PKTS_IN: *v = (double)LD(st->rtp.pkts_in); break;
	case MX_S_PKTS_OUT: *v = (double)LD(st->rtp.pkts_out); break;
	case MX_S_LOST: *v = exp > rec ? exp - rec : 0; break;
	case MX_S_CONCEALED: *v = (double)LD(st->rtp.concealed); break;
	case MX_S_JITTER:
		*v = LD(st->rtp.jitter_ts) / (double)si->prm->clock_hz;
		break;
	case MX_S_RTT:
		*v = si->have_remote_report ? si->rtt_ms / 1e3 : 0;
		break;
	case MX_S_INPUT: *v = cdb(&st->level_in_cdb); break;
	case MX_S_TALKING: *v = LD(st->talking); break;
	case MX_S_MUTED: *v = si->ctl->muted; break;
	default: *v = si->connected_s; break;
	}
	return true;
}

int view_metrics(struct re_printf *pf, void *arg)
{
	const struct room_set *rs = arg;
	struct timespec ts;
	const struct le *rl, *le;
	size_t i;
	int err;

	(void)clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	err = re_hprintf(pf, "# HELP lowbridge_build_info The running "
			 "version.\n# TYPE lowbridge_build_info gauge\n"
			 "lowbridge_build_info{version=\"%s\"} 1\n"
			 "# HELP lowbridge_cpu_seconds_total CPU time of the "
			 "bridge process (all threads).\n"
			 "# TYPE lowbridge_cpu_seconds_total counter\n"
			 "lowbridge_cpu_seconds_total %.3f\n"
			 "# HELP lowbridge_sites Sites in all rooms.\n"
			 "# TYPE lowbridge_sites gauge\nlowbridge_sites %u\n"
			 "# HELP lowbridge_live_clients Consoles on the live"
			 " stream.\n# TYPE lowbridge_live_clients gauge\n"
			 "lowbridge_live_clients %u\n"
			 "# HELP lowbridge_live_dropped_total Console "
			 "streams dropped because they did not read.\n"
			 "# TYPE lowbridge_live_dropped_total counter\n"
			 "lowbridge_live_dropped_total %llu\n",
			 LB_VERSION, ts.tv_sec + ts.tv_nsec / 1e9,
			 rooms_site_count(rs), live_clients(),
			 (unsigned long long)live_dropped());
	for (i = 0; i < ARRAY_SIZE(metrics); i++) {
		const struct metric *m = &metrics[i];

		err |= re_hprintf(pf, "# HELP %s %s\n# TYPE %s %s\n",
				  m->name, m->help, m->name, m->type);
		LIST_FOREACH(rooms_list(rs), rl) {
			const struct room *room = rl->data;
			const char *rid = room_cfg(room)->id;

			if (m->kind == M_ROOM) {
				double v = room_value(m->id, room);

				err |= re_hprintf(pf, "%s{room=\"%H\"} %H\n",
						  m->name, prom_str, rid,
						  prom_num, &v);
				continue;
			}
			LIST_FOREACH(room_sites(room), le) {
				struct site_info si;
				double v;

				site_info(le->data, &si);
				if (!site_value(m->id, &si, &v))
					continue;
				err |= re_hprintf(pf, "%s{room=\"%H\","
						  "site=\"%H\",name=\"%H\"} "
						  "%H\n", m->name,
						  prom_str, rid, prom_str,
						  si.id, prom_str, si.name,
						  prom_num, &v);
			}
		}
	}
	return err;
}
