#!/bin/sh
# linphone (linphonec 5.1, belle-sip + mediastreamer2: a SIP and RTP stack
# other than libre's) dials room 1000, once with only Opus enabled and once
# with only PCMU. For each: the call is answered; the API shows the site
# with that codec and its packet counters growing both ways; a baresip
# site (Opus) joins and talks, and linphone's recording holds its speech
# (and not linphone's own voice: mix-minus); baresip's recording holds
# linphone's speech; linphone hangs up and the bridge removes the site.
#
# Headless linphone (no sound card, no daemon): linphonec is driven through
# its stdin (a fifo) and its stdout is parsed. "soundcard use files" makes
# mediastreamer2 use a file player as the microphone and a file recorder as
# the speaker: "play F" (a mono 16-bit WAV at the codec's rate) is sent,
# "record F" receives (WAV at the codec's rate, written when the call
# ends). Each instance gets its own HOME in the temp dir (linphone opens no
# SIP port unless $HOME/.local/share/linphone exists) and its own config
# (-c, written below): fixed SIP port on UDP only, RTP ports from lb_port,
# SIP and RTP bound to 127.0.0.1 ([sip] and [rtp] bind_address; without
# the latter the SDP advertises the machine's first global address, e.g.
# an IPv6 one, and the bridge only reaches linphone by latching on its
# RTP), IPv6 off, only the codec under test enabled (every codec of
# linphone 5.1's default list is written, the others with enabled=0),
# echo canceller / echo limiter / AGC / noise gate off.
#
# Notes on what linphone does on the wire (seen while writing this test):
# - it sends a few STUN binding requests to the bridge's RTP and RTCP
#   ports at the start of the stream (no ICE involved); the bridge counts
#   those that arrive on the RTP port as "malformed", harmlessly;
# - it offers opus/48000/2 plus telephone-event at 48000, 16000 and 8000;
# - it offers PCMU as the bare static payload type ("m=audio P RTP/AVP 0
#   96", no a=rtpmap:0). The bridge used to take that for PCMA and answer
#   "a=rtpmap:0 <uninitialised bytes>/8000", which linphone rejects
#   ("Incompatible SDP answer received", BYE at once): the pcmu round
#   below is the regression test of that fix (bridge/lbsdp.c).
. "$(dirname "$0")/lib.sh"
lb_init linphone

if ! command -v linphonec >/dev/null 2>&1; then
	# only when the package cannot be installed at all (make deps
	# installs linphone-cli)
	echo "ok - # SKIP linphonec not installed (package linphone-cli)"
	exit 0
fi

lb_bridge_start <<EOF
[room 1000]
name = Linphone test
max_sites = 10
EOF

# lp_config DIR CODEC SIP_PORT RTP_PORT: linphone's config, only CODEC
# (opus or pcmu) enabled. The codec list is linphone 5.1's default one.
lp_config() {
	cat <<EOF
[sip]
sip_port=$3
sip_tcp_port=0
sip_tls_port=0
bind_address=127.0.0.1
use_ipv6=0
guess_hostname=0
contact="lp_$2" <sip:lp_$2@127.0.0.1>
register_only_when_network_is_up=0
inc_timeout=30
in_call_timeout=0

[rtp]
audio_rtp_port=$4-$(($4 + 9))
bind_address=127.0.0.1
audio_jitt_comp=60
nortp_timeout=30

[net]
download_bw=0
upload_bw=0

[video]
capture=0
display=0

[sound]
echocancellation=0
el=0
agc=0
noisegate=0
playback_gain_db=0
mic_gain_db=0

EOF
	_lc_want=$2
	_lc_i=0
	for _lc_c in opus/48000/2 speex/16000/1 speex/8000/1 PCMU/8000/1 \
		PCMA/8000/1 GSM/8000/1 G722/8000/1 G729/8000/1 \
		speex/32000/1 G726-16/8000/1 G726-24/8000/1 G726-32/8000/1 \
		G726-40/8000/1 AAL2-G726-16/8000/1 AAL2-G726-24/8000/1 \
		AAL2-G726-32/8000/1 AAL2-G726-40/8000/1 L16/44100/2 \
		L16/44100/1; do
		set -f
		# shellcheck disable=SC2046
		set -- $(echo "$_lc_c" | tr '/' ' ')
		set +f
		_lc_on=0
		[ "$(echo "$1" | tr '[:upper:]' '[:lower:]')" = "$_lc_want" ] && _lc_on=1
		printf '[audio_codec_%d]\nmime=%s\nrate=%s\nchannels=%s\n' \
			$_lc_i "$1" "$2" "$3"
		printf 'enabled=%d\n\n' $_lc_on
		_lc_i=$((_lc_i + 1))
	done
}

# lp_start NAME CODEC: linphonec in $LB_T/lp_NAME, stdin from the fifo
# held open on fd 3, stdout in out.log, its own log (-d 5) in lp.log.
lp_start() {
	_ls_d=$LB_T/lp_$1
	mkdir -p "$_ls_d/home/.local/share/linphone"
	_ls_sp='' _ls_rp=''
	lb_port _ls_sp
	lb_port _ls_rp 10
	lp_config "$_ls_d" "$2" "$_ls_sp" "$_ls_rp" > "$_ls_d/rc"
	mkfifo "$_ls_d/in"
	( cd "$_ls_d" && HOME=$_ls_d/home exec linphonec -c "$_ls_d/rc" \
		-d 5 -l "$_ls_d/lp.log" < "$_ls_d/in" > "$_ls_d/out.log" 2>&1 ) &
	echo $! > "$_ls_d/pid"
	LB_PIDS="$LB_PIDS $!"
	exec 3> "$_ls_d/in"
}

# lp_cmd COMMAND...: one line to the running linphonec.
lp_cmd() {
	echo "$*" >&3
}

lp_out_has() {
	grep -q "$2" "$LB_T/lp_$1/out.log"
}

# lp_quit NAME: ask linphonec to quit, make sure it is gone within 3 s.
lp_quit() {
	_lq_p=$(cat "$LB_T/lp_$1/pid")
	lb_alive "$_lq_p" && lp_cmd quit
	exec 3>&-
	lb_wait_for 3 lb_not_alive_ "$_lq_p"
	lb_stop "$_lq_p"
}

lp_why() {
	tr -d '\r' < "$LB_T/lp_$1/out.log" | grep -v '^$' |
		sed "s/^/#   lp_$1: /" | tail -"${2:-10}"
}

# lp_site_get JSON NAME KEY: KEY of site NAME in a saved room JSON.
lp_site_get() {
	"$LB_TOOLS/jsonq" "sites.name=$2.$3" < "$1"
}

lb_speech "$LB_T/ref_bob.wav" 48000 2 en+f3 "$LB_TEXT_EN2"

# lp_round CODEC: one linphone call (lp_CODEC) with a baresip site
# (bob_CODEC, always Opus) joining it.
lp_round() {
	_c=$1
	_lp=lp_$_c
	_bob=bob_$_c
	case "$_c" in
	opus) _rate=48000 _want=opus ;;
	pcmu) _rate=8000 _want=pcmu ;;
	esac
	lb_note "--- linphone with $_c only ---"
	lb_speech "$LB_T/ref_$_lp.wav" "$_rate" 1 en-us "$LB_TEXT_EN1"

	lp_start "$_c" "$_c"
	lp_cmd "soundcard use files"
	lp_cmd "play $LB_T/ref_$_lp.wav.src.wav"
	lp_cmd "record $LB_T/lp_$_c/rec.wav"
	lp_cmd "call sip:1000@127.0.0.1:$LB_SIP_PORT"
	if lb_wait_for 10 lp_out_has "$_c" \
		"Call [0-9]* with sip:1000@.* connected"; then
		lb_ok "$_c: linphone's call to room 1000 is answered"
	else
		lb_not_ok "$_c: linphone's call to room 1000 is answered"
		lp_why "$_c" 20
		sed -n '/^INVITE sip:1000/,/^$/p;/^SIP\/2.0 [1-6]/p' \
			"$LB_T/lp_$_c/lp.log" | sed 's/^/#   lp.log: /' |
			tail -30
		lb_bridge_log_tail 20
		lp_quit "$_c"
		return 1
	fi
	lb_check "$_c: linphone reports media streams established" \
		lb_wait_for 5 lp_out_has "$_c" "Media streams established"

	# a baresip site joins and talks over linphone's speech
	lb_site_start "$_bob" opus "$LB_T/ref_bob.wav.src.wav"
	lb_site_dial "$_bob" 1000
	if lb_site_wait "$_bob" CALL_ESTABLISHED 10; then
		lb_ok "$_c: baresip site $_bob joins too"
	else
		lb_not_ok "$_c: baresip site $_bob joins too"
		lb_site_log_tail "$_bob"
	fi
	# RTP both ways: the counters grow over 3 s
	_t0=$(lb_now_ms)
	lb_http /api/rooms/1000 > "$LB_T/$_c.room1.json"
	sleep 3
	lb_http /api/rooms/1000 > "$LB_T/$_c.room2.json"
	lb_note "room: $(head -c 900 "$LB_T/$_c.room2.json")"
	_st=$(lp_site_get "$LB_T/$_c.room2.json" "$_lp" state)
	lb_check "$_c: API lists site $_lp, state '$_st'" \
		[ "$_st" = connected ]
	_got=$(lp_site_get "$LB_T/$_c.room2.json" "$_lp" codec)
	lb_check "$_c: API: site codec '$_got' (want $_want)" \
		[ "$(echo "$_got" | tr '[:upper:]' '[:lower:]')" = "$_want" ]
	for _k in packets_in packets_out; do
		_a=$(lp_site_get "$LB_T/$_c.room1.json" "$_lp" $_k)
		_b=$(lp_site_get "$LB_T/$_c.room2.json" "$_lp" $_k)
		lb_assert "$_c: API: $_k grows over 3 s (50/s)" \
			"$(awk -v a="$_a" -v b="$_b" 'BEGIN { print b - a }')" \
			">=" 120
	done
	_rem=$(lp_site_get "$LB_T/$_c.room2.json" "$_lp" remote)
	lb_check "$_c: API: site's media from 127.0.0.1 (remote $_rem)" \
		[ "${_rem%:*}" = 127.0.0.1 ]

	# bob's speech (7 s) started when it joined, at about _t0
	sleep "$(awk -v t0="$_t0" -v t="$(lb_now_ms)" \
		'BEGIN { d = 8.5 - (t - t0) / 1000; print (d > 0 ? d : 0) }')"
	lb_http /api/rooms/1000 > "$LB_T/$_c.room3.json"
	lb_assert "$_c: API: site_count with both" \
		"$("$LB_TOOLS/jsonq" site_count < "$LB_T/$_c.room3.json")" \
		"==" 2
	lb_check "$_c: linphone still in the call" \
		[ "$(lp_site_get "$LB_T/$_c.room3.json" "$_lp" state)" = \
			connected ]

	# linphone hangs up; the bridge removes the site
	lp_cmd terminate
	lb_check "$_c: linphone reports the call ended" \
		lb_wait_for 5 lp_out_has "$_c" \
		"Call [0-9]* with sip:1000@.* ended"
	if lb_wait_for 5 lp_site_gone "$_lp"; then
		lb_ok "$_c: the bridge removed site $_lp"
	else
		lb_not_ok "$_c: the bridge removed site $_lp"
		lb_bridge_log_tail 10
	fi
	lb_check "$_c: bridge log: $_lp closed, hung up by the site" \
		grep -q "($_lp): closed: hung up by the site" \
		"$LB_T/bridge.log"
	lb_site_quit "$_bob"
	lp_quit "$_c"

	# what linphone heard: bob, not itself
	if [ -s "$LB_T/lp_$_c/rec.wav" ]; then
		lb_note "linphone ($_c) received:"
		if lb_presence "$LB_T/lp_$_c/rec.wav" "$LB_T/ref_bob.wav" \
			"$LB_T/ref_$_lp.wav"; then
			_sh=$(lb_presence_get "$LB_T/ref_bob.wav" share_db)
			lb_assert "$_c: linphone hears $_bob: share_db" \
				"$_sh" ">" "${LB_PRESENT_DB:--10}"
			_sh=$(lb_presence_get "$LB_T/ref_$_lp.wav" share_db)
			lb_assert "$_c: linphone does not hear itself: share_db" \
				"$_sh" "<" "${LB_ABSENT_DB:--20}"
		else
			lb_not_ok "$_c: wavpresence analyses linphone's recording"
		fi
	else
		lb_not_ok "$_c: linphone recorded what it received"
	fi
	# what bob heard: linphone
	_rec=$(lb_site_rec "$_bob")
	if [ -n "$_rec" ] && lb_note "$_bob received:" &&
		lb_presence "$_rec" "$LB_T/ref_$_lp.wav" "$LB_T/ref_bob.wav"
	then
		_sh=$(lb_presence_get "$LB_T/ref_$_lp.wav" share_db)
		lb_assert "$_c: $_bob hears linphone: share_db" \
			"$_sh" ">" "${LB_PRESENT_DB:--10}"
	else
		lb_not_ok "$_c: $_bob's recording analysed"
	fi
}

lp_site_gone() {
	lb_http /api/rooms/1000 > "$LB_T/gone.json" || return 1
	[ -z "$("$LB_TOOLS/jsonq" "sites.name=$1.state" < "$LB_T/gone.json" \
		2>/dev/null)" ]
}

lp_round opus
lp_round pcmu
lb_done
