/**
 * @file config.c  Configuration table, INI loading and validation.
 *
 * Why a table: bounds, defaults, help text and the parser of every key
 * live in one row (the redis createIntConfig idea), so the documentation
 * and the embedded defaults cannot drift from what the code accepts.
 */
#include <re.h>
#include <ini.h>
#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "hw.h"
#include "rec.h"

enum key_type { KT_U32, KT_INT, KT_BOOL, KT_STR, KT_ADDR, KT_PORTS,
		KT_LEVEL, KT_AUTO, KT_RECFMT, KT_EXPECT, KT_ROLE, KT_HWMODE,
		KT_HWAPI, KT_WINDOW };
enum key_scope { KS_BRIDGE, KS_ROOM, KS_USER };

struct key {
	enum key_scope scope;
	const char *name;
	enum key_type type;
	size_t off;
	size_t size;            /* KT_STR buffer size */
	int32_t min, max;        /* KT_U32/KT_PORTS: as unsigned */
	const char *def;
	const char *help;
};

#define BK(n, t, f, mn, mx, d, h) \
	{KS_BRIDGE, n, t, offsetof(struct cfg, f), \
	 sizeof(((struct cfg *)0)->f), mn, mx, d, h}
#define RK(n, t, f, mn, mx, d, h) \
	{KS_ROOM, n, t, offsetof(struct cfg_room, f), \
	 sizeof(((struct cfg_room *)0)->f), mn, mx, d, h}
#define UK(n, t, f, mn, mx, d, h) \
	{KS_USER, n, t, offsetof(struct cfg_user, f), \
	 sizeof(((struct cfg_user *)0)->f), mn, mx, d, h}

static const struct key keyv[] = {
	BK("sip", KT_ADDR, sip_addr, 0, 0, "127.0.0.1:5060",
	   "SIP listen address (UDP and TCP). Use 0.0.0.0:5060 to accept "
	   "calls on every interface."),
	BK("http", KT_ADDR, http_addr, 0, 0, "127.0.0.1:8080",
	   "HTTP listen address of the JSON API (and later the operator "
	   "page)."),
	BK("data", KT_STR, data_dir, 1, 0, "./var",
	   "Directory for recordings and state; created if missing."),
	BK("rtp_ports", KT_PORTS, rtp_port_min, 1024, 65534, "20000-29999",
	   "UDP port range for media. Each room takes one port for RTP "
	   "of all its sites and the next one for RTCP."),
	BK("rtp_timeout_s", KT_U32, rtp_timeout_s, 1, 3600, "30",
	   "Hang up a site that sends no RTP for this many seconds (while "
	   "on hold, no RTP and no RTCP)."),
	BK("log_level", KT_LEVEL, log_level, 0, 0, "info",
	   "error, warn, info or debug."),
	BK("dsp_threads", KT_AUTO, dsp_threads, 0, 7, "auto",
	   "Threads per room that decode and process sites beside the "
	   "mixer thread (rooms of 48 sites or more). auto: one less than "
	   "the number of CPUs. 0 keeps everything on the mixer thread."),
	BK("realtime_priority", KT_AUTO, rt_prio, 0, 99, "auto",
	   "SCHED_FIFO priority of the mixer threads (1-99), with the "
	   "process's memory locked: a tick is then not pushed past its "
	   "20 ms by whatever else the host runs. auto: priority 20 when "
	   "the process may (root, CAP_SYS_NICE or an rtprio limit), "
	   "normal scheduling otherwise; 0: never."),
	BK("shed_tick_us", KT_U32, shed_tick_us, 1, 1000000, "14000",
	   "A room's 20 ms tick that takes this long (microseconds), or "
	   "misses its deadline, leaves the room short of time for 2 s: "
	   "sites it is only learning (joined in the last seconds, no "
	   "sound from them yet) are then decoded one voiceless frame in "
	   "four instead of every one. Counted in mixer.shed_ticks. "
	   "1000000: only a missed deadline."),
	BK("tls_cert", KT_STR, tls_cert, 0, 0, "",
	   "A PEM file with the certificate and its key: the HTTP API and "
	   "console are then served over HTTPS. Empty: plain HTTP."),
	BK("dsp_profiles", KT_STR, dsp_profiles, 0, 0, "",
	   "A file of rules that recognise sound cards' own speech "
	   "processing, used instead of the built-in table (same syntax: "
	   "hw/profiles.conf). Empty: the built-in table."),
	BK("prompt_dir", KT_STR, prompt_dir, 0, 0, "",
	   "A folder of recorded voice prompts for the readiness check, "
	   "WAV of any rate (mono or the first channel): speak.wav "
	   "(please say a few words), check_speaker.wav (nothing came "
	   "back: check the loudspeaker and amplifier), strong_echo.wav "
	   "(lower the amplifier or enable echo cancellation) and "
	   "complete.wav (the test is complete). A missing file gets a "
	   "built-in tone signal (docs/readiness.md). Empty: tones."),
	BK("retention_days", KT_U32, retention_days, 0, 36500, "0",
	   "Recordings older than this many days are removed (by the "
	   "bridge once an hour, and by `lowbridge recordings prune`); "
	   "0 keeps them. A session being recorded is never removed."),
	BK("retention_gb", KT_U32, retention_gb, 0, 1000000, "0",
	   "When recordings take more than this many GB, the oldest are "
	   "removed until they fit; 0: no limit."),
	RK("name", KT_STR, name, 1, 0, "Main room",
	   "Human-readable room name shown to operators."),
	RK("max_sites", KT_U32, max_sites, 1, 4000, "500",
	   "Most sites connected at once; further calls get 486 Busy Here."),
	RK("max_talkers", KT_U32, max_talkers, 1, 16, "3",
	   "Most sites mixed at once: the loudest active talkers, with "
	   "hysteresis. Idle sites contribute nothing."),
	RK("answer_delay_ms", KT_U32, answer_delay_ms, 0, 30000, "0",
	   "Ring (180 Ringing) this long before answering; some PSTN "
	   "gateways and PBX hunt groups expect a ringing phase."),
	RK("opus_bitrate_bps", KT_U32, opus_bitrate_bps, 6000, 64000,
	   "16000", "Opus bitrate sent to sites (lowered further when a "
	   "site asks for less with maxaveragebitrate)."),
	RK("opus_complexity", KT_U32, opus_complexity, 0, 10, "5",
	   "Opus encoder complexity: 5 costs half of 10 for <= 0.015 "
	   "ESTOI."),
	RK("opus_dtx", KT_BOOL, opus_dtx, 0, 1, "off",
	   "Send Opus sites silence as DTX (a frame every 400 ms instead "
	   "of 50 packets a second) when nobody speaks. A site that asks "
	   "for it in its SDP (usedtx=1) gets it whatever this says."),
	RK("noise_suppression", KT_BOOL, ns, 0, 1, "on",
	   "Suppress each site's steady noise (SpeexDSP) before it is "
	   "mixed. Switchable per site at run time."),
	RK("noise_suppression_db", KT_INT, ns_db, -40, -3, "-18",
	   "Most attenuation of noise, dB. Deeper removes more hiss and "
	   "adds more artefacts."),
	RK("agc", KT_BOOL, agc, 0, 1, "on",
	   "Bring each talker to agc_target_dbfs. The gain moves only "
	   "while the site speaks, so idle halls are not pumped up."),
	RK("agc_target_dbfs", KT_INT, agc_target_dbfs, -40, -6, "-20",
	   "Speech level the AGC aims for, dBFS RMS."),
	RK("agc_max_gain_db", KT_INT, agc_max_gain_db, 0, 40, "30",
	   "Most gain the AGC applies, dB (a -45 dBFS site needs 25)."),
	RK("echo_control", KT_BOOL, aec, 0, 1, "on",
	   "Cancel on the bridge the echo of sites that play the meeting "
	   "through loudspeakers into their microphones; a site that "
	   "hears only its echo is never chosen as a talker. Costs "
	   "little until an echo is found."),
	RK("adapt", KT_BOOL, adapt, 0, 1, "on",
	   "Adapt what each Opus site is sent to the loss its receiver "
	   "reports: FEC planned for that loss, and 40 ms packets at 12 "
	   "kbit/s, narrowband (19 kbit/s on the wire) on a heavy loss or "
	   "a capped "
	   "line; back up after 15 s without loss (longer for a line that "
	   "falls back again). Off: what the SDP asked for, always."),
	RK("adapt_fec_bps", KT_U32, adapt_fec_bps, 0, 64000, "24000",
	   "Opus bit rate for a site whose line loses packets by itself "
	   "(its loss did not drop on the thin profile): 20 ms packets "
	   "with FEC get this budget, at most what the site's SDP allows "
	   "(24000: 37 kbit/s on the wire, ESTOI 0.85 at 20 % loss "
	   "against 0.77 at 16000). 0: the negotiated rate."),
	RK("adapt_thin_bps", KT_U32, adapt_thin_bps, 6000, 24000, "12000",
	   "Opus bit rate of the thin profile (what a lossy or capped "
	   "line gets). 12000 in 40 ms packets is 19 kbit/s on the wire."),
	RK("adapt_thin_ptime", KT_U32, adapt_thin_ptime, 20, 60, "40",
	   "Packet length of the thin profile, ms (20, 40 or 60; no "
	   "longer than the site's maxptime)."),
	RK("adapt_thin_bw", KT_U32, adapt_thin_bw, 8000, 16000, "8000",
	   "Audio sample rate the thin profile is coded at: 8000 "
	   "(narrowband, telephone band) is heard best under loss at its "
	   "rate (make bench-network: ESTOI 0.804 at 15 % loss with 60 ms "
	   "of jitter, against 0.795 at 12000 and 0.786 at 16000, "
	   "wideband); 16000 keeps wideband on a capped clean line."),
	RK("adapt_ask", KT_BOOL, adapt_ask, 0, 1, "on",
	   "Ask an Opus site whose packets reach the bridge with 8 % loss "
	   "or more to send the thin profile (a re-INVITE with a=ptime, "
	   "maxaveragebitrate and maxplaybackrate), and back when the loss "
	   "turns out to be its line's own or has gone (with adapt on)."),
	RK("record", KT_BOOL, record, 0, 1, "on",
	   "Record the room's meetings for the minutes: the mix and one "
	   "track per site into DATA/recordings/ROOM/SESSION/ (see "
	   "docs/clerk-guide.md). Switchable at run time (POST "
	   "record=on|off)."),
	RK("record_format", KT_RECFMT, record_format, 0, 0, "opus",
	   "opus (Ogg Opus: about 11 MB per talking hour, silence almost "
	   "free), flac (lossless: about 60 MB per talking hour) or wav."),
	RK("record_bitrate_bps", KT_U32, record_bitrate_bps, 8000, 64000,
	   "24000", "Opus bitrate of the recorded tracks and mix."),
	RK("local_room", KT_STR, local_room, 0, 0, "",
	   "The meeting room's own microphones and loudspeakers: an ALSA "
	   "device name (`lowbridge devices` lists them, e.g. `hw:1`, "
	   "`plughw:CARD=Speaker`, `sysdefault:CARD=PCH`). It joins the "
	   "room as one more site, named after the room. Empty: none. "
	   "`serve --local-room DEVICE` sets it for the first room."),
	RK("local_room_api", KT_HWAPI, local_api, 0, 0, "alsa",
	   "alsa, or portaudio (PortAudio moves the audio; the device's "
	   "switches still go through ALSA by the same name)."),
	RK("local_room_fallback", KT_STR, local_fallback, 0, 0, "",
	   "A second device kept open and warm: the room moves to it "
	   "within one pass when the first fails (unplugged), and back "
	   "when the first returns and the room is quiet. Empty: "
	   "silence and an alarm until the device is back."),
	RK("local_room_aec", KT_HWMODE, local_aec, 0, 0, "auto",
	   "Echo cancellation of the local room: auto (the device's if "
	   "it has one, else software with exactly what is played as "
	   "reference), hw, sw or off. Never both."),
	RK("local_room_ns", KT_HWMODE, local_ns, 0, 0, "auto",
	   "Noise suppression of the local room: auto, hw, sw, off."),
	RK("local_room_agc", KT_HWMODE, local_agc, 0, 0, "auto",
	   "Automatic gain control of the local room: auto, hw, sw, off."),
	RK("dsp_pool", KT_STR, dsp_pool, 0, 0, "",
	   "A conference DSP unit (an ALSA device that `lowbridge devices` "
	   "lists with pool > 0) that takes over the echo cancellation, "
	   "noise suppression and AGC of up to that many of the room's "
	   "sites, echoing halls first, with the software chain kept warm "
	   "for an instant fallback (docs/hardware.md). Empty: none."),
	RK("expect", KT_EXPECT, expc, 0, 0, "",
	   "A site the room expects, one line each (repeat the key): "
	   "`NAME; user=SIPUSER` (or `uri=sip:..`, `name=DISPLAY NAME`, "
	   "`addr=IP`; without one the display name must be NAME); "
	   "`contact=PERSON; phone=NUMBER` optional. The console shows "
	   "each as missing, connected, late, left, and other callers as "
	   "unknown."),
	RK("test_window", KT_WINDOW, winc, 0, 0, "",
	   "A readiness test run (repeat the key, at most 8): "
	   "`HH:MM-HH:MM` every day, or `YYYY-MM-DD HH:MM-HH:MM` once, "
	   "local time. During it every site that connects has its "
	   "loudspeaker, microphone and line checked, and at its end "
	   "the report is kept (docs/readiness.md). Windows can also be "
	   "opened from the console or the API."),
	RK("ready_probe_dbfs", KT_INT, ready_probe_dbfs, -45, -12, "-30",
	   "Level of the readiness probe (a 0.4 s sweep a site alone "
	   "hears), dBFS RMS: 10 dB under speech by default."),
	RK("ready_max_loss_pct", KT_U32, ready_max_loss_pct, 0, 50, "3",
	   "A line that loses more than this share of packets during a "
	   "test window fails its link check (so does one with an "
	   "E-model MOS under 3.5)."),
	UK("role", KT_ROLE, operator, 0, 0, "viewer",
	   "operator (may give commands) or viewer (may watch)."),
	UK("password_hash", KT_STR, hash, 1, 0, "",
	   "The hash `lowbridge passwd` prints (libsodium "
	   "crypto_pwhash_str, Argon2id); never the password itself."),
};

/* "HH:MM-HH:MM" or "YYYY-MM-DD HH:MM-HH:MM" */
static int add_window(struct cfg_room *r, const char *value, char *why,
		      size_t whysz)
{
	struct cfg_window w;
	unsigned y = 0, mo = 0, d = 0, h0, m0, h1, m1;
	char tail;

	if (!*value)
		return 0;                   /* the default: none */
	memset(&w, 0, sizeof(w));
	if (sscanf(value, "%u-%u-%u %u:%u-%u:%u%c", &y, &mo, &d, &h0, &m0,
		   &h1, &m1, &tail) == 7) {
		if (y < 2000 || y > 2999 || mo < 1 || mo > 12 || d < 1 ||
		    d > 31)
			goto bad;
		w.date = y * 10000 + mo * 100 + d;
	}
	else if (sscanf(value, "%u:%u-%u:%u%c", &h0, &m0, &h1, &m1,
			&tail) != 4) {
		goto bad;
	}
	if (h0 > 23 || m0 > 59 || h1 > 24 || m1 > 59 ||
	    h1 * 60 + m1 > 24 * 60 || h1 * 60 + m1 <= h0 * 60 + m0)
		goto bad;
	if (r->winc >= CFG_MAX_WINDOWS) {
		re_snprintf(why, whysz, "more than %d test windows",
			    CFG_MAX_WINDOWS);
		return EINVAL;
	}
	w.start_min = h0 * 60 + m0;
	w.end_min = h1 * 60 + m1;
	r->winv[r->winc++] = w;
	return 0;
 bad:
	re_snprintf(why, whysz, "'%s': expected HH:MM-HH:MM or YYYY-MM-DD "
		    "HH:MM-HH:MM (end after start, same day)", value);
	return EINVAL;
}

static bool room_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= CFG_ID_MAX)
		return false;
	for (; *id; id++) {
		if (!isalnum((unsigned char)*id) && !strchr("_.-+", *id))
			return false;
	}
	return true;
}

static int parse_u32(uint32_t *v, const char *s, uint32_t min, uint32_t max,
		     char *why, size_t whysz)
{
	char *end;
	unsigned long long x;

	errno = 0;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '-') {
		re_snprintf(why, whysz, "'%s' is negative", s);
		return EINVAL;
	}
	x = strtoull(s, &end, 10);
	if (errno || end == s || *end) {
		re_snprintf(why, whysz, "'%s' is not a whole number", s);
		return EINVAL;
	}
	if (x < min || x > max) {
		re_snprintf(why, whysz, "%s out of range [%u,%u]", s, min,
			    max);
		return EINVAL;
	}
	*v = (uint32_t)x;
	return 0;
}

static int parse_int(int32_t *v, const char *s, int32_t min, int32_t max,
		     char *why, size_t whysz)
{
	char *end;
	long long x;

	errno = 0;
	x = strtoll(s, &end, 10);
	while (end != s && isspace((unsigned char)*end))
		end++;
	if (errno || end == s || *end) {
		re_snprintf(why, whysz, "'%s' is not a whole number", s);
		return EINVAL;
	}
	if (x < min || x > max) {
		re_snprintf(why, whysz, "%s out of range [%d,%d]", s, min,
			    max);
		return EINVAL;
	}
	*v = (int32_t)x;
	return 0;
}

static void trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		memmove(s, s + 1, strlen(s));
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
}

/* "NAME; user=X; contact=Y; phone=Z" */
static int add_expect(struct cfg_room *r, const char *value, char *why,
		      size_t whysz)
{
	struct cfg_expect e, *v;
	char buf[512], *part, *save = NULL;
	bool first = true;

	if (!*value)
		return 0;                   /* the default: none */
	if (strlen(value) >= sizeof(buf)) {
		re_snprintf(why, whysz, "longer than %zu characters",
			    sizeof(buf) - 1);
		return EINVAL;
	}
	if (r->expc >= CFG_MAX_EXPECT) {
		re_snprintf(why, whysz, "more than %d expected sites",
			    CFG_MAX_EXPECT);
		return EINVAL;
	}
	memset(&e, 0, sizeof(e));
	str_ncpy(buf, value, sizeof(buf));
	for (part = strtok_r(buf, ";", &save); part;
	     part = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(part, '=');
		char *k = part, *val = eq ? eq + 1 : part;

		if (eq)
			*eq = '\0';
		trim(k);
		trim(val);
		if (first && !eq) {
			str_ncpy(e.name, val, sizeof(e.name));
		}
		else if (eq && !strcmp(k, "user")) {
			e.match = CFG_MATCH_USER;
			str_ncpy(e.value, val, sizeof(e.value));
		}
		else if (eq && !strcmp(k, "uri")) {
			e.match = CFG_MATCH_URI;
			str_ncpy(e.value, val, sizeof(e.value));
		}
		else if (eq && !strcmp(k, "name")) {
			e.match = CFG_MATCH_NAME;
			str_ncpy(e.value, val, sizeof(e.value));
		}
		else if (eq && !strcmp(k, "addr")) {
			struct sa sa;

			if (sa_set_str(&sa, val, 0) &&
			    sa_decode(&sa, val, strlen(val))) {
				re_snprintf(why, whysz, "addr=%s is not an IP "
					    "address", val);
				return EINVAL;
			}
			e.match = CFG_MATCH_ADDR;
			str_ncpy(e.value, val, sizeof(e.value));
		}
		else if (eq && !strcmp(k, "contact")) {
			str_ncpy(e.contact, val, sizeof(e.contact));
		}
		else if (eq && !strcmp(k, "phone")) {
			str_ncpy(e.phone, val, sizeof(e.phone));
		}
		else {
			re_snprintf(why, whysz, "'%s': expected NAME; then "
				    "user=, uri=, name=, addr=, contact=, "
				    "phone=", part);
			return EINVAL;
		}
		first = false;
	}
	if (!e.name[0]) {
		re_snprintf(why, whysz, "an expected site needs a name first");
		return EINVAL;
	}
	if (!e.value[0])
		str_ncpy(e.value, e.name, sizeof(e.value));
	v = realloc(r->expv, (r->expc + 1) * sizeof(*v));
	if (!v) {
		re_snprintf(why, whysz, "out of memory");
		return ENOMEM;
	}
	r->expv = v;
	r->expv[r->expc++] = e;
	return 0;
}

static int set_key(void *base, const struct key *k, const char *value,
		   char *why, size_t whysz)
{
	uint8_t *p = (uint8_t *)base + k->off;
	uint32_t a, b;
	int err;

	switch (k->type) {

	case KT_U32:
		return parse_u32((uint32_t *)p, value, (uint32_t)k->min,
				 (uint32_t)k->max, why, whysz);

	case KT_AUTO:
		if (!str_casecmp(value, "auto")) {
			*(uint32_t *)p = CFG_AUTO;
			return 0;
		}
		return parse_u32((uint32_t *)p, value, (uint32_t)k->min,
				 (uint32_t)k->max, why, whysz);

	case KT_INT:
		return parse_int((int32_t *)p, value, k->min, k->max, why,
				 whysz);

	case KT_BOOL:
		if (!str_casecmp(value, "on") || !str_casecmp(value, "yes") ||
		    !str_casecmp(value, "true") || !strcmp(value, "1")) {
			*(bool *)p = true;
			return 0;
		}
		if (!str_casecmp(value, "off") || !str_casecmp(value, "no") ||
		    !str_casecmp(value, "false") || !strcmp(value, "0")) {
			*(bool *)p = false;
			return 0;
		}
		re_snprintf(why, whysz, "'%s' is not on/off", value);
		return EINVAL;

	case KT_STR:
		if (strlen(value) < (size_t)k->min) {
			re_snprintf(why, whysz, "must not be empty");
			return EINVAL;
		}
		if (strlen(value) >= k->size) {
			re_snprintf(why, whysz, "longer than %zu characters",
				    k->size - 1);
			return EINVAL;
		}
		str_ncpy((char *)p, value, k->size);
		return 0;

	case KT_ADDR:
		err = sa_decode((struct sa *)p, value, strlen(value));
		if (err) {
			re_snprintf(why, whysz, "'%s' is not ADDR:PORT "
				    "(e.g. 127.0.0.1:5060 or [::1]:5060)",
				    value);
			return EINVAL;
		}
		if (!sa_port((struct sa *)p)) {
			re_snprintf(why, whysz, "port 0 is not allowed");
			return EINVAL;
		}
		return 0;

	case KT_PORTS: {
		char lo[16], *dash;

		str_ncpy(lo, value, sizeof(lo));
		dash = strchr(lo, '-');
		if (!dash) {
			re_snprintf(why, whysz, "'%s' is not MIN-MAX", value);
			return EINVAL;
		}
		*dash = '\0';
		err = parse_u32(&a, lo, (uint32_t)k->min, (uint32_t)k->max,
				why, whysz);
		if (!err)
			err = parse_u32(&b, dash + 1, (uint32_t)k->min,
					(uint32_t)k->max, why, whysz);
		if (err)
			return err;
		if (b < a + 1) {
			re_snprintf(why, whysz, "range %u-%u holds no "
				    "RTP/RTCP port pair", a, b);
			return EINVAL;
		}
		((struct cfg *)base)->rtp_port_min = a;
		((struct cfg *)base)->rtp_port_max = b;
		return 0;
	}

	case KT_RECFMT: {
		enum rec_format f;

		if (rec_format_parse(&f, value)) {
			re_snprintf(why, whysz, "'%s' is not one of opus, "
				    "flac, wav", value);
			return EINVAL;
		}
		*(uint32_t *)p = (uint32_t)f;
		return 0;
	}

	case KT_ROLE:
		if (!str_casecmp(value, "operator"))
			*(bool *)p = true;
		else if (!str_casecmp(value, "viewer"))
			*(bool *)p = false;
		else {
			re_snprintf(why, whysz, "'%s' is not operator or "
				    "viewer", value);
			return EINVAL;
		}
		return 0;

	case KT_EXPECT:
		return add_expect(base, value, why, whysz);

	case KT_WINDOW:
		return add_window(base, value, why, whysz);

	case KT_HWMODE: {
		enum hw_mode m;

		if (hw_mode_parse(value, &m)) {
			re_snprintf(why, whysz, "'%s' is not one of auto, hw, "
				    "sw, off", value);
			return EINVAL;
		}
		*(uint32_t *)p = (uint32_t)m;
		return 0;
	}

	case KT_HWAPI:
		if (!str_casecmp(value, "alsa"))
			*(uint32_t *)p = HW_API_ALSA;
		else if (!str_casecmp(value, "portaudio"))
			*(uint32_t *)p = HW_API_PORTAUDIO;
		else {
			re_snprintf(why, whysz, "'%s' is not alsa or "
				    "portaudio", value);
			return EINVAL;
		}
		return 0;

	case KT_LEVEL:
		if (lb_log_level_parse((enum log_level *)p, value)) {
			re_snprintf(why, whysz, "'%s' is not one of error, "
				    "warn, info, debug", value);
			return EINVAL;
		}
		return 0;
	}
	return EINVAL;
}

static const struct key *key_find(enum key_scope scope, const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(keyv); i++) {
		if (keyv[i].scope == scope && !strcmp(keyv[i].name, name))
			return &keyv[i];
	}
	return NULL;
}

static void room_defaults(struct cfg_room *r, const char *id)
{
	size_t i;
	char why[128];

	memset(r, 0, sizeof(*r));
	str_ncpy(r->id, id, sizeof(r->id));
	for (i = 0; i < ARRAY_SIZE(keyv); i++) {
		if (keyv[i].scope == KS_ROOM)
			(void)set_key(r, &keyv[i], keyv[i].def, why,
				      sizeof(why));
	}
}

void cfg_free(struct cfg *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->roomc; i++) {
		free(cfg->roomv[i].expv);
		cfg->roomv[i].expv = NULL;
		cfg->roomv[i].expc = 0;
	}
}

void cfg_defaults(struct cfg *cfg)
{
	size_t i;
	char why[128];

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < ARRAY_SIZE(keyv); i++) {
		if (keyv[i].scope == KS_BRIDGE)
			(void)set_key(cfg, &keyv[i], keyv[i].def, why,
				      sizeof(why));
	}
	room_defaults(&cfg->roomv[0], "1000");
	cfg->roomc = 1;
}

int cfg_set_bridge(struct cfg *cfg, const char *key, const char *value,
		   char *errbuf, size_t errsz)
{
	const struct key *k = key_find(KS_BRIDGE, key);
	char why[160];

	if (!k) {
		re_snprintf(errbuf, errsz, "%s: unknown key", key);
		return EINVAL;
	}
	if (set_key(cfg, k, value, why, sizeof(why))) {
		re_snprintf(errbuf, errsz, "%s: %s", key, why);
		return EINVAL;
	}
	return 0;
}

const struct cfg_room *cfg_room_find(const struct cfg *cfg, const char *id)
{
	size_t i;

	for (i = 0; i < cfg->roomc; i++) {
		if (!strcmp(cfg->roomv[i].id, id))
			return &cfg->roomv[i];
	}
	return NULL;
}

/* Parsing state. The reader wrapper sees every line before inih does, so
 * it knows the line number of each key and every section header, even a
 * section with no keys (which inih alone would never report). */
struct load {
	struct cfg *cfg;
	FILE *f;
	const char *path;
	int line;
	bool rooms_from_file;
	struct cfg_room *room;  /* current [room ID] section, or NULL */
	struct cfg_user *user;  /* current [user NAME] section, or NULL */
	bool in_bridge;
	char *errbuf;
	size_t errsz;
	bool failed;
};

static void fail(struct load *ld, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (ld->failed)
		return;   /* report the first error only */
	va_start(ap, fmt);
	re_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	re_snprintf(ld->errbuf, ld->errsz, "%s:%d: %s", ld->path, ld->line,
		    msg);
	ld->failed = true;
}

static void section_begin(struct load *ld, const char *sec)
{
	char kind[16], id[64];
	int used = 0;
	size_t i;

	ld->room = NULL;
	ld->user = NULL;
	ld->in_bridge = false;

	if (!strcmp(sec, "bridge")) {
		ld->in_bridge = true;
		return;
	}
	if (sscanf(sec, "%15s %63s %n", kind, id, &used) != 2 ||
	    sec[used] != '\0' || (strcmp(kind, "room") &&
				   strcmp(kind, "user"))) {
		fail(ld, "[%s]: unknown section (expected [bridge], "
		     "[room ID] or [user NAME])", sec);
		return;
	}
	if (!strcmp(kind, "user")) {
		if (!room_id_valid(id)) {
			fail(ld, "[%s]: a user name is 1-31 characters of "
			     "letters, digits, _ . - +", sec);
			return;
		}
		for (i = 0; i < ld->cfg->userc; i++) {
			if (!strcmp(ld->cfg->userv[i].name, id)) {
				fail(ld, "[%s]: user declared twice", sec);
				return;
			}
		}
		if (ld->cfg->userc >= CFG_MAX_USERS) {
			fail(ld, "[%s]: more than %d users", sec,
			     CFG_MAX_USERS);
			return;
		}
		ld->user = &ld->cfg->userv[ld->cfg->userc++];
		memset(ld->user, 0, sizeof(*ld->user));
		str_ncpy(ld->user->name, id, sizeof(ld->user->name));
		return;
	}
	if (!room_id_valid(id)) {
		fail(ld, "[%s]: room id must be 1-31 characters of "
		     "letters, digits, _ . - +", sec);
		return;
	}
	if (!ld->rooms_from_file) {
		/* the file declares rooms: drop the embedded default */
		ld->cfg->roomc = 0;
		ld->rooms_from_file = true;
	}
	for (i = 0; i < ld->cfg->roomc; i++) {
		if (!strcmp(ld->cfg->roomv[i].id, id)) {
			fail(ld, "[%s]: room declared twice", sec);
			return;
		}
	}
	if (ld->cfg->roomc >= CFG_MAX_ROOMS) {
		fail(ld, "[%s]: more than %d rooms", sec, CFG_MAX_ROOMS);
		return;
	}
	ld->room = &ld->cfg->roomv[ld->cfg->roomc++];
	room_defaults(ld->room, id);
}

static char *reader(char *str, int num, void *stream)
{
	struct load *ld = stream;
	char *s = fgets(str, num, ld->f);
	char *p, *end;

	if (!s)
		return NULL;
	++ld->line;
	for (p = s; isspace((unsigned char)*p); p++)
		;
	if (*p == '[') {
		end = strchr(p, ']');
		if (end) {
			char sec[128];
			size_t n = (size_t)(end - p - 1);

			if (n >= sizeof(sec))
				n = sizeof(sec) - 1;
			memcpy(sec, p + 1, n);
			sec[n] = '\0';
			section_begin(ld, sec);
		}
	}
	return s;
}

static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct load *ld = user;
	const struct key *k;
	char why[160];
	(void)section;

	if (ld->failed)
		return 0;
	if (!ld->in_bridge && !ld->room && !ld->user) {
		fail(ld, "%s: key outside of a [bridge], [room ID] or "
		     "[user NAME] section", name);
		return 0;
	}
	k = key_find(ld->room ? KS_ROOM : ld->user ? KS_USER : KS_BRIDGE,
		     name);
	if (!k) {
		fail(ld, "%s: unknown key in [%s]", name,
		     ld->room ? "room" : ld->user ? "user" : "bridge");
		return 0;
	}
	if (set_key(ld->room ? (void *)ld->room : ld->user ?
		    (void *)ld->user : (void *)ld->cfg, k, value,
		    why, sizeof(why))) {
		fail(ld, "%s: %s", name, why);
		return 0;
	}
	return 1;
}

int cfg_load(struct cfg *cfg, const char *path, char *errbuf, size_t errsz)
{
	struct load ld;
	int r, err = 0;

	if (!cfg || !path || !errbuf)
		return EINVAL;

	memset(&ld, 0, sizeof(ld));
	ld.cfg = cfg;
	ld.path = path;
	ld.errbuf = errbuf;
	ld.errsz = errsz;
	ld.f = fopen(path, "r");
	if (!ld.f) {
		err = errno;
		re_snprintf(errbuf, errsz, "%s: cannot open: %m", path, err);
		return err;
	}
	r = ini_parse_stream(reader, &ld, handler, &ld);
	fclose(ld.f);
	if (ld.failed)
		return EINVAL;
	if (r != 0) {
		/* a syntax error inih found on its own (e.g. no '=') */
		re_snprintf(errbuf, errsz, "%s:%d: syntax error (expected "
			    "key = value or [section])", path, r);
		return EINVAL;
	}
	if (cfg->roomc == 0) {
		re_snprintf(errbuf, errsz, "%s: no rooms", path);
		return EINVAL;
	}
	for (size_t i = 0; i < cfg->userc; i++) {
		if (!cfg->userv[i].hash[0]) {
			re_snprintf(errbuf, errsz, "%s: [user %s]: "
				    "password_hash is required (make one "
				    "with lowbridge passwd)", path,
				    cfg->userv[i].name);
			return EINVAL;
		}
	}
	if (cfg->rtp_port_max - cfg->rtp_port_min + 1 < 2 * cfg->roomc) {
		re_snprintf(errbuf, errsz, "%s: rtp_ports: %u-%u is too "
			    "small for %zu rooms (two ports each)", path,
			    cfg->rtp_port_min, cfg->rtp_port_max,
			    cfg->roomc);
		return EINVAL;
	}
	return 0;
}

int cfg_print_doc(struct re_printf *pf, void *unused)
{
	size_t i;
	int err = 0;
	(void)unused;

	err |= re_hprintf(pf,
		"# Configuration reference\n\n"
		"Generated by `lowbridge config-doc` from the table in "
		"bridge/config.c;\na unit test keeps this file and the "
		"table in step.\n\n"
		"The file is INI. `[bridge]` holds process-wide keys; each "
		"`[room ID]`\ndeclares one conference room that sites dial "
		"as `sip:ID@host`. With no\nfile, or a file that declares no "
		"room, lowbridge serves one room `1000`.\n"
		"Command-line flags `--sip`, `--http` and `--data` override "
		"the file.\n\nErrors are reported as `file:line: key: reason`"
		" and the bridge exits non-zero.\n");
	for (int s = KS_BRIDGE; s <= KS_USER; s++) {
		err |= re_hprintf(pf, "\n## [%s]\n\n| key | default | "
				  "range | meaning |\n|---|---|---|---|\n",
				  s == KS_BRIDGE ? "bridge" : s == KS_ROOM ?
				  "room ID" : "user NAME");
		for (i = 0; i < ARRAY_SIZE(keyv); i++) {
			const struct key *k = &keyv[i];
			char range[48] = "";

			if ((int)k->scope != s)
				continue;
			if (k->type == KT_U32 || k->type == KT_PORTS)
				re_snprintf(range, sizeof(range), "%u-%u",
					    (uint32_t)k->min,
					    (uint32_t)k->max);
			else if (k->type == KT_INT)
				re_snprintf(range, sizeof(range), "%d..%d",
					    k->min, k->max);
			else if (k->type == KT_AUTO)
				re_snprintf(range, sizeof(range),
					    "auto, %d-%d", k->min, k->max);
			else if (k->type == KT_BOOL)
				str_ncpy(range, "on/off", sizeof(range));
			else if (k->type == KT_LEVEL)
				str_ncpy(range, "error/warn/info/debug",
					 sizeof(range));
			else if (k->type == KT_ADDR)
				str_ncpy(range, "ADDR:PORT", sizeof(range));
			else if (k->type == KT_RECFMT)
				str_ncpy(range, "opus/flac/wav",
					 sizeof(range));
			else if (k->type == KT_ROLE)
				str_ncpy(range, "operator/viewer",
					 sizeof(range));
			else if (k->type == KT_EXPECT ||
				 k->type == KT_WINDOW)
				str_ncpy(range, "repeatable", sizeof(range));
			else if (k->type == KT_HWMODE)
				str_ncpy(range, "auto/hw/sw/off",
					 sizeof(range));
			else if (k->type == KT_HWAPI)
				str_ncpy(range, "alsa/portaudio",
					 sizeof(range));
			else
				re_snprintf(range, sizeof(range),
					    "text, < %zu chars", k->size);
			err |= re_hprintf(pf, "| `%s` | `%s` | %s | %s |\n",
					  k->name, k->def, range, k->help);
		}
	}
	err |= re_hprintf(pf, "\n## Example\n\n```ini\n[bridge]\n"
			  "sip = 0.0.0.0:5060\nhttp = 127.0.0.1:8080\n"
			  "data = /var/lib/lowbridge\n\n[room 1000]\n"
			  "name = District weekly meeting\nmax_sites = 300\n"
			  "expect = Xa Tan Lap; user=tanlap; contact=Nguyen "
			  "Van An; phone=0912 345 678\n"
			  "expect = Xa Binh Minh; addr=203.0.113.25\n"
			  "\n[room 2000]\nname = Health committee\n\n"
			  "[user an]\nrole = operator\npassword_hash = "
			  "$argon2id$v=19$m=65536,t=2,p=1$...\n```\n");
	return err;
}
