# lib.sh: shared helpers of the integration tests (POSIX sh; sourced).
#
# A test does:
#   . "$(dirname "$0")/lib.sh"
#   lb_init "mix_opus"                # temp dir, traps, tool checks
#   lb_bridge_start <<EOF             # extra INI text (rooms) on stdin
#   [room 1000]
#   name = Test room
#   EOF
#   lb_speech "$LB_T/a.wav" 48000 2 en-us "Some text"
#   lb_site_start alice opus "$LB_T/a.wav"
#   lb_site_dial alice 1000
#   lb_site_wait alice CALL_ESTABLISHED 10 || ...
#   lb_ok / lb_not_ok / lb_check ...
#   lb_done                           # exit status: 0 if nothing failed
#
# Everything runs on 127.0.0.1 in a temp dir under /tmp; every process
# started here is recorded and killed by the EXIT trap. Set LB_KEEP=1 to
# keep the temp dir (its path is printed) for debugging.
#
# Env: LB_BUILD (build dir, default build), LB_BIN (bridge binary, default
# $LB_BUILD/lowbridge), LB_KEEP.

LB_BUILD=${LB_BUILD:-build}
LB_TOOLS=$LB_BUILD/tools
LB_BIN=${LB_BIN:-$LB_BUILD/lowbridge}
LB_FAILS=0
LB_TESTS=0
LB_PIDS=""

# ---- TAP -------------------------------------------------------------------

lb_ok() {
	LB_TESTS=$((LB_TESTS + 1))
	echo "ok - $*"
}

lb_not_ok() {
	LB_TESTS=$((LB_TESTS + 1))
	LB_FAILS=$((LB_FAILS + 1))
	echo "not ok - $*"
}

lb_note() {
	echo "# $*"
}

# lb_check DESCRIPTION COMMAND...: ok if COMMAND succeeds.
lb_check() {
	_c_d=$1
	shift
	if "$@"; then lb_ok "$_c_d"; else lb_not_ok "$_c_d"; fi
}

# lb_cmp A OP B: numeric comparison (floats allowed), OP one of
# < <= > >= == !=. Non-numbers (empty, "null") compare false.
lb_cmp() {
	awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
		if (a !~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/ ||
		    b !~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/) exit 1
		a += 0; b += 0
		if (op == "<")  exit !(a <  b)
		if (op == "<=") exit !(a <= b)
		if (op == ">")  exit !(a >  b)
		if (op == ">=") exit !(a >= b)
		if (op == "==") exit !(a == b)
		if (op == "!=") exit !(a != b)
		exit 1 }'
}

# lb_assert DESCRIPTION A OP B: TAP line with the figure and threshold.
lb_assert() {
	if lb_cmp "$2" "$3" "$4"; then
		lb_ok "$1 ($2 $3 $4)"
	else
		lb_not_ok "$1 (measured ${2:-nothing}, want $3 $4)"
	fi
}

# lb_done: final line and exit status.
lb_done() {
	lb_note "$LB_NAME: $LB_TESTS checks, $LB_FAILS failed"
	[ "$LB_FAILS" -eq 0 ] && [ "$LB_TESTS" -gt 0 ]
	exit $?
}

# lb_bail REASON: a fatal precondition failed; report and stop.
lb_bail() {
	lb_not_ok "$*"
	lb_done
}

# ---- processes and cleanup -------------------------------------------------

# lb_spawn PIDVAR COMMAND...: run in the background, remember the pid.
lb_spawn() {
	_sp_v=$1
	shift
	"$@" &
	eval "$_sp_v=\$!"
	LB_PIDS="$LB_PIDS $!"
}

lb_alive() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null
}

# lb_stop PID [TIMEOUT_S]: SIGTERM, wait, then SIGKILL.
lb_stop() {
	lb_alive "$1" || return 0
	kill "$1" 2>/dev/null
	_st_n=0
	while lb_alive "$1" && [ $_st_n -lt $((${2:-3} * 10)) ]; do
		sleep 0.1
		_st_n=$((_st_n + 1))
	done
	lb_alive "$1" && kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

lb_cleanup() {
	if [ -n "$LB_T" ]; then
		LB_PIDS="$LB_PIDS $(cat "$LB_T"/*/pid 2>/dev/null)"
	fi
	for _cu_p in $LB_PIDS; do
		lb_alive "$_cu_p" && kill "$_cu_p" 2>/dev/null
	done
	sleep 0.2
	for _cu_p in $LB_PIDS; do
		lb_alive "$_cu_p" && kill -9 "$_cu_p" 2>/dev/null
	done
	if [ -n "$LB_T" ] && [ -d "$LB_T" ]; then
		if [ -n "$LB_KEEP" ]; then
			echo "# kept $LB_T"
		else
			rm -rf "$LB_T"
		fi
	fi
}

# lb_wait_for TIMEOUT_S COMMAND...: poll COMMAND every 0.1 s.
lb_wait_for() {
	_wf_lim=$(($1 * 10))
	shift
	_wf_n=0
	while ! "$@"; do
		_wf_n=$((_wf_n + 1))
		[ $_wf_n -ge $_wf_lim ] && return 1
		sleep 0.1
	done
	return 0
}

# lb_now_ms: monotonic-enough wall clock in milliseconds.
lb_now_ms() {
	date +%s%3N
}

# ---- ports -----------------------------------------------------------------

# Candidates start at a place derived from the pid and walk upwards;
# a port is taken if it shows in /proc/net/{tcp,udp}{,6} in any state.
LB_PORT_NEXT=$((10000 + ($$ % 900) * 10))

lb_port_busy() {
	_pb_h=$(printf ':%04X ' "$1")
	cat /proc/net/tcp /proc/net/udp /proc/net/tcp6 /proc/net/udp6 \
		2>/dev/null | grep -q "$_pb_h"
}

# lb_port VAR [COUNT]: VAR = first of COUNT consecutive free ports.
lb_port() {
	_p_cnt=${2:-1}
	while :; do
		_p_ok=1
		_p_i=0
		while [ $_p_i -lt "$_p_cnt" ]; do
			if lb_port_busy $((LB_PORT_NEXT + _p_i)); then
				_p_ok=0
				break
			fi
			_p_i=$((_p_i + 1))
		done
		if [ $_p_ok = 1 ]; then
			eval "$1=$LB_PORT_NEXT"
			LB_PORT_NEXT=$((LB_PORT_NEXT + _p_cnt))
			return 0
		fi
		LB_PORT_NEXT=$((LB_PORT_NEXT + _p_i + 1))
		[ $LB_PORT_NEXT -gt 19900 ] && LB_PORT_NEXT=10000
	done
}

# ---- set-up ----------------------------------------------------------------

# lb_init NAME: temp dir, traps, check that the tools exist.
lb_init() {
	LB_NAME=$1
	LB_T=$(mktemp -d "/tmp/lb_$1.XXXXXX") || exit 1
	trap lb_cleanup EXIT
	trap 'exit 130' INT TERM HUP
	trap 'exit 141' PIPE
	for _i_t in bsctl wavpresence jsonq rtpjunk; do
		[ -x "$LB_TOOLS/$_i_t" ] ||
			lb_bail "test tool $LB_TOOLS/$_i_t built (make tools)"
	done
	for _i_c in baresip sipp espeak-ng sox curl; do
		command -v $_i_c >/dev/null 2>&1 ||
			lb_bail "$_i_c installed (make deps)"
	done
	lb_note "$LB_NAME: temp dir $LB_T"
}

# ---- the bridge ------------------------------------------------------------

# lb_http PATH: body of GET http://127.0.0.1:$LB_HTTP_PORT/PATH on stdout;
# fails unless the status is 200. With accounts in the bridge's config,
# set LB_HTTP_AUTH=USER:PASSWORD (HTTP Basic).
lb_http() {
	if [ -n "$LB_HTTP_AUTH" ]; then
		curl -sf --max-time 3 -u "$LB_HTTP_AUTH" \
			"http://127.0.0.1:$LB_HTTP_PORT$1"
	else
		curl -sf --max-time 3 "http://127.0.0.1:$LB_HTTP_PORT$1"
	fi
}

lb_http_ready() {
	lb_http /api/rooms >/dev/null 2>&1
}

# lb_room_get ROOM PATH: one value from GET /api/rooms/ROOM (jsonq PATH).
lb_room_get() {
	lb_http "/api/rooms/$1" | "$LB_TOOLS/jsonq" "$2"
}

# lb_bridge_config [RTP_TIMEOUT_S]: writes $LB_T/bridge.ini from the
# [bridge] section (plus the lines in LB_BRIDGE_EXTRA) and stdin (room
# sections). Picks the ports.
lb_bridge_config() {
	lb_port LB_SIP_PORT
	lb_port LB_HTTP_PORT
	lb_port LB_RTP_MIN 20
	LB_RTP_MAX=$((LB_RTP_MIN + 19))
	mkdir -p "$LB_T/data"
	{
		echo "[bridge]"
		echo "sip = 127.0.0.1:$LB_SIP_PORT"
		echo "http = 127.0.0.1:$LB_HTTP_PORT"
		echo "data = $LB_T/data"
		echo "rtp_ports = $LB_RTP_MIN-$LB_RTP_MAX"
		echo "rtp_timeout_s = ${1:-30}"
		echo "log_level = ${LB_LOG_LEVEL:-info}"
		[ -z "${LB_BRIDGE_EXTRA:-}" ] || echo "$LB_BRIDGE_EXTRA"
		echo
		cat
	} > "$LB_T/bridge.ini"
}

# lb_bridge_start [RTP_TIMEOUT_S] < ROOMS: config, start, wait for the
# API (10 s). Bails out if the bridge does not come up.
lb_bridge_start() {
	[ -x "$LB_BIN" ] || lb_bail "bridge binary $LB_BIN built (make)"
	lb_bridge_config "$@"
	lb_spawn LB_BRIDGE_PID "$LB_BIN" serve --config "$LB_T/bridge.ini" \
		> "$LB_T/bridge.out" 2> "$LB_T/bridge.log"
	if ! lb_wait_for 10 lb_http_ready; then
		lb_note "bridge log:"
		sed 's/^/#   /' "$LB_T/bridge.log" | tail -30
		lb_bail "bridge answers GET /api/rooms within 10 s"
	fi
	lb_note "bridge pid $LB_BRIDGE_PID sip $LB_SIP_PORT" \
		"http $LB_HTTP_PORT rtp $LB_RTP_MIN-$LB_RTP_MAX"
}

# lb_bridge_log_tail [N]: last lines of the bridge log as comments.
lb_bridge_log_tail() {
	sed 's/^/#   bridge: /' "$LB_T/bridge.log" | tail -"${1:-20}"
}

# ---- speech ----------------------------------------------------------------

# Distinct texts so the signals are uncorrelated; English and Vietnamese.
LB_TEXT_EN1="The quick brown fox jumps over the lazy dog. Conference
bridges mix the speech of every site, minus its own voice, and send it
back within a few milliseconds."
LB_TEXT_EN2="Seven silver spoons were found beneath the old oak table in
the kitchen, and nobody could explain how they got there."
LB_TEXT_VI="Xin chào các bạn, hôm nay trời đẹp quá. Chúng ta cùng
nhau đi dạo trong công viên và nói chuyện về âm nhạc."
LB_TEXT_EN3="Please remember to water the tomato plants on Thursday
morning, before the delivery truck arrives at the north gate."

# lb_speech OUT.wav RATE_HZ CHANNELS VOICE TEXT [SECONDS]
# OUT.wav: the speech (the analysis reference), trimmed to SECONDS
# (default 8), mono, at RATE_HZ. OUT.src.wav: the same at RATE_HZ with
# CHANNELS, padded with 60 s of silence, for baresip's aufile source
# (baresip hangs up when the file ends).
lb_speech() {
	_sh_raw=$1.raw.wav
	espeak-ng -v "$4" -s 160 -a 150 -w "$_sh_raw" "$5" ||
		lb_bail "espeak-ng -v $4 works"
	sox -q -V1 "$_sh_raw" -r "$2" -c 1 -b 16 "$1" \
		trim 0 "${6:-8}" norm -3 ||
		lb_bail "sox converts speech"
	sox -q -V1 "$1" -r "$2" -c "$3" -b 16 "$1.src.wav" pad 0 60 ||
		lb_bail "sox pads speech"
	rm -f "$_sh_raw"
}

# ---- baresip sites ---------------------------------------------------------
# One baresip per site, in $LB_T/site_NAME: its own config, SIP port,
# ctrl_tcp port and RTP ports; bsctl holds the control connection
# (events in ev.log, commands through the fifo). The sndfile module
# records what the site sends (dump-*-enc.wav) and what it receives
# (dump-*-dec.wav) in that dir.

# lb_site_start NAME CODEC SOURCE.wav   (CODEC: opus, pcmu or pcma)
lb_site_start() {
	_ss_d=$LB_T/site_$1
	mkdir -p "$_ss_d"
	lb_port _ss_sp 2	# baresip takes SIP+1 for TLS
	lb_port _ss_cp
	lb_port _ss_rp 10
	case "$2" in
	opus) _ss_mod=opus.so _ss_codecs="opus/48000/2" ;;
	pcmu) _ss_mod=g711.so _ss_codecs="PCMU/8000/1" ;;
	pcma) _ss_mod=g711.so _ss_codecs="PCMA/8000/1" ;;
	*) lb_bail "codec $2 known to lb_site_start" ;;
	esac
	cat > "$_ss_d/config" <<EOF
poll_method		epoll
sip_listen		127.0.0.1:$_ss_sp
net_interface		127.0.0.1
call_local_timeout	120
call_max_calls		4
audio_player		aubridge,play_$1
audio_source		aufile,$3
audio_alert		aubridge,alert_$1
audio_level		no
ausrc_format		s16
auplay_format		s16
auenc_format		s16
audec_format		s16
rtp_tos			0
rtp_ports		$_ss_rp-$((_ss_rp + 9))
rtcp_mux		no
jitter_buffer_delay	5-10
rtp_stats		no
statmode_default	off
module_path		/usr/lib/baresip/modules
module			$_ss_mod
module			aufile.so
module			aubridge.so
module			sndfile.so
module_tmp		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:$_ss_cp
snd_path		$_ss_d
opus_bitrate		64000
EOF
	_ss_prm="regint=0;answermode=auto;audio_codecs=$_ss_codecs"
	echo "<sip:$1@127.0.0.1>;$_ss_prm" > "$_ss_d/accounts"
	echo "$_ss_sp" > "$_ss_d/sip_port"
	mkfifo "$_ss_d/fifo"
	: > "$_ss_d/ev.log"
	( cd "$_ss_d" && exec baresip -f "$_ss_d" ) > "$_ss_d/out.log" 2>&1 &
	LB_PIDS="$LB_PIDS $!"
	echo $! > "$_ss_d/pid"
	"$LB_TOOLS/bsctl" "$_ss_cp" "$_ss_d/fifo" "$_ss_d/ev.log" \
		2> "$_ss_d/bsctl.err" &
	LB_PIDS="$LB_PIDS $!"
	echo $! > "$_ss_d/bsctl_pid"
	lb_wait_for 10 grep -q '"bsctl":"connected"' "$_ss_d/ev.log" ||
		lb_bail "baresip $1 control socket up"
}

# lb_site_cmd NAME COMMAND [PARAMS]: a ctrl_tcp command (dial, hangup,
# quit, ...). The response lands in ev.log.
lb_site_cmd() {
	_sc_d=$LB_T/site_$1
	shift
	echo "$*" > "$_sc_d/fifo"
}

# lb_site_dial NAME ROOM: call sip:ROOM@127.0.0.1:$LB_SIP_PORT.
lb_site_dial() {
	lb_site_cmd "$1" dial "sip:$2@127.0.0.1:${LB_SIP_PORT:-5060}"
}

# lb_site_events NAME EVENT: how many EVENT events NAME has seen.
lb_site_events() {
	grep -c "\"type\":\"$2\"" "$LB_T/site_$1/ev.log"
}

# lb_site_wait NAME EVENT TIMEOUT_S [COUNT]: wait for the COUNT-th event.
lb_site_wait() {
	lb_wait_for "$3" lb_site_has_ "$1" "$2" "${4:-1}"
}
lb_site_has_() {
	[ "$(lb_site_events "$1" "$2")" -ge "$3" ]
}

# lb_site_param NAME EVENT: the "param" field of the last EVENT.
lb_site_param() {
	grep "\"type\":\"$2\"" "$LB_T/site_$1/ev.log" | tail -1 |
		sed -n 's/.*"param":"\([^"]*\)".*/\1/p'
}

# lb_site_rec NAME [dec|enc]: path of the recording (received by default).
lb_site_rec() {
	ls "$LB_T/site_$1"/dump-*-"${2:-dec}".wav 2>/dev/null | tail -1
}

lb_site_pid() {
	cat "$LB_T/site_$1/pid"
}

# lb_site_quit NAME: ask baresip to quit (hangs up its calls), then
# make sure it is gone within 3 s.
lb_site_quit() {
	_sq_d=$LB_T/site_$1
	lb_alive "$(cat "$_sq_d/pid")" && echo quit > "$_sq_d/fifo"
	lb_wait_for 3 lb_not_alive_ "$(cat "$_sq_d/pid")"
	lb_stop "$(cat "$_sq_d/pid")"
	lb_stop "$(cat "$_sq_d/bsctl_pid")"
}
lb_not_alive_() {
	! lb_alive "$1"
}

# lb_site_log_tail NAME [N]: baresip's stdout as comments.
lb_site_log_tail() {
	grep -v '^\[' "$LB_T/site_$1/out.log" | tr -d '\033' |
		sed "s/^/#   $1: /" | tail -"${2:-15}"
}

# ---- audio analysis --------------------------------------------------------

# lb_presence REC REF...: runs wavpresence, output in $LB_T/presence.out
# and as comments.
lb_presence() {
	"$LB_TOOLS/wavpresence" "$@" > "$LB_T/presence.out" 2>&1
	_pr_rc=$?
	sed 's/^/#   /' "$LB_T/presence.out"
	return $_pr_rc
}

# lb_presence_get REF KEY: a figure of the last lb_presence for REF.
lb_presence_get() {
	grep "^ref=$1 " "$LB_T/presence.out" |
		sed -n "s/.* $2=\([^ ]*\).*/\1/p"
}

# ---- sipp ------------------------------------------------------------------

LB_SIPP_DIR=$(cd "$(dirname "$0")/../sipp" 2>/dev/null && pwd)

# lb_sipp NAME ROOM SCENARIO [EXTRA SIPP ARGS...]: runs sipp as a UAC
# calling sip:ROOM@ the bridge, one call, 30 s timeout; traces in
# $LB_T/sipp_NAME. Returns sipp's exit status (0: the call went as the
# scenario says).
lb_sipp() {
	_si_n=$1
	_si_room=$2
	_si_sc=$3
	shift 3
	mkdir -p "$LB_T/sipp_$_si_n"
	lb_port _si_pp
	lb_port _si_mp 4
	( cd "$LB_T/sipp_$_si_n" && exec sipp -sf "$LB_SIPP_DIR/$_si_sc" \
		-m 1 -l 1 -i 127.0.0.1 -p "$_si_pp" -mp "$_si_mp" \
		-timeout 30s -timeout_error \
		-trace_err -trace_msg -trace_logs -nostdin \
		-s "$_si_room" "$@" "127.0.0.1:${LB_SIP_PORT:-5060}" \
		> "$LB_T/sipp_$_si_n/stdout" 2>&1 ) &
	# the pid file lets lb_cleanup reach sipp from a background lb_sipp
	echo $! > "$LB_T/sipp_$_si_n/pid"
	LB_PIDS="$LB_PIDS $!"
	wait $!
}

# lb_sipp_bg PIDVAR NAME ROOM SCENARIO [ARGS...]: the same in the
# background; wait for it with lb_sipp_wait.
lb_sipp_bg() {
	_sb_var=$1
	shift
	lb_sipp "$@" &
	eval "$_sb_var=\$!"
	LB_PIDS="$LB_PIDS $!"
}

# lb_sipp_wait PID: exit status of a background lb_sipp.
lb_sipp_wait() {
	wait "$1"
}

# lb_sipp_msgs NAME: sipp's message log (all SIP messages sent/received).
lb_sipp_msgs() {
	cat "$LB_T/sipp_$1"/*_messages.log 2>/dev/null
}

# lb_sipp_response NAME CODE CSEQ_NUM CSEQ_METHOD: the last received
# response with that status and CSeq, from the message log.
lb_sipp_response() {
	lb_sipp_msgs "$1" | tr -d '\r' | awk -v code="$2" -v cs="$3 $4" '
		/^----------/ { if (hit) last = msg; msg = ""; hit = 0; ok = 0;
			    first = 0; next }
		/^[A-Z]+ message received/ { first = 1; next }
		{ msg = msg $0 "\n" }
		first && NF { first = 0;
			      ok = ($0 ~ ("^SIP/2.0 " code " ")) }
		ok && $0 ~ ("^CSeq: *" cs) { hit = 1 }
		END { if (hit) last = msg; printf "%s", last }'
}

# lb_sipp_why NAME: the end of sipp's error log and messages as comments.
lb_sipp_why() {
	for _sw_f in "$LB_T/sipp_$1"/*_sw_errors.log; do
		[ -f "$_sw_f" ] && sed 's/^/#   sipp err: /' "$_sw_f" | tail -8
	done
	for _sw_f in "$LB_T/sipp_$1"/*_sw_messages.log; do
		[ -f "$_sw_f" ] &&
			grep -E '^(SIP/2.0|INVITE|ACK|BYE|CANCEL|OPTIONS)' \
			"$_sw_f" | sed 's/^/#   sipp msg: /' | tail -12
	done
	tail -3 "$LB_T/sipp_$1/stdout" | sed 's/^/#   sipp: /'
}

# ---- the mixing test (t_mix_*.sh) ------------------------------------------

# lb_mix_test NAME:CODEC:VOICE:TEXT ...  (TEXT: EN1 EN2 EN3 VI)
# Every site dials room 1000 at once and talks (different speech) for 8 s.
# Asserts: all connect; the API lists them with their codec and traffic;
# each site's recording holds every other site's speech (share_db above
# LB_PRESENT_DB, default -10) and not its own (share_db below
# LB_ABSENT_DB, default -20).
lb_mix_test() {
	_mt_sites=""
	_mt_n=0
	lb_bridge_start <<EOF
[room 1000]
name = Mix test
max_sites = 10
max_talkers = 3
EOF
	for _mt_s in "$@"; do
		set -f
		# shellcheck disable=SC2046
		set -- $(echo "$_mt_s" | tr ':' ' ')
		set +f
		case "$2" in
		opus) _mt_r=48000 _mt_c=2 ;;
		*) _mt_r=8000 _mt_c=1 ;;
		esac
		eval "_mt_txt=\$LB_TEXT_$4"
		lb_speech "$LB_T/ref_$1.wav" $_mt_r $_mt_c "$3" "$_mt_txt"
		lb_site_start "$1" "$2" "$LB_T/ref_$1.wav.src.wav"
		echo "$2" > "$LB_T/site_$1/codec"
		_mt_sites="$_mt_sites $1"
		_mt_n=$((_mt_n + 1))
	done
	for _mt_s in $_mt_sites; do
		lb_site_dial "$_mt_s" 1000
	done
	_mt_up=0
	for _mt_s in $_mt_sites; do
		if lb_site_wait "$_mt_s" CALL_ESTABLISHED 10; then
			_mt_up=$((_mt_up + 1))
		else
			lb_site_log_tail "$_mt_s"
		fi
	done
	lb_assert "all sites connected to room 1000" "$_mt_up" "==" "$_mt_n"
	if [ "$_mt_up" -ne "$_mt_n" ]; then
		lb_bridge_log_tail 30
		lb_done
	fi

	sleep 3
	lb_http /api/rooms/1000 > "$LB_T/room1.json"
	lb_note "room: $(head -c 600 "$LB_T/room1.json")"
	_mt_cnt=$("$LB_TOOLS/jsonq" sites.# < "$LB_T/room1.json")
	lb_assert "API lists every site" "$_mt_cnt" "==" "$_mt_n"
	_mt_sc=$("$LB_TOOLS/jsonq" site_count < "$LB_T/room1.json")
	lb_assert "API site_count" "$_mt_sc" "==" "$_mt_n"
	for _mt_s in $_mt_sites; do
		_mt_want=$(cat "$LB_T/site_$_mt_s/codec")
		_mt_got=$("$LB_TOOLS/jsonq" "sites.name=$_mt_s.codec" \
			< "$LB_T/room1.json")
		_mt_lc=$(echo "$_mt_got" | tr 'A-Z' 'a-z')
		lb_check "API: site $_mt_s codec '$_mt_got' (want $_mt_want)" \
			[ "$_mt_lc" = "$_mt_want" ]
		_mt_pi=$("$LB_TOOLS/jsonq" "sites.name=$_mt_s.packets_in" \
			< "$LB_T/room1.json")
		lb_assert "API: site $_mt_s packets_in after 3 s" \
			"$_mt_pi" ">" 50
		_mt_po=$("$LB_TOOLS/jsonq" "sites.name=$_mt_s.packets_out" \
			< "$LB_T/room1.json")
		lb_assert "API: site $_mt_s packets_out after 3 s" \
			"$_mt_po" ">" 50
	done

	sleep 7
	for _mt_s in $_mt_sites; do
		_mt_cl=$(lb_site_events "$_mt_s" CALL_CLOSED)
		lb_assert "site $_mt_s still in the call after 10 s" \
			"$_mt_cl" "==" 0
	done
	for _mt_s in $_mt_sites; do
		lb_site_quit "$_mt_s"
	done

	for _mt_s in $_mt_sites; do
		_mt_rec=$(lb_site_rec "$_mt_s")
		if [ -z "$_mt_rec" ]; then
			lb_not_ok "site $_mt_s recorded what it received"
			continue
		fi
		_mt_refs=""
		for _mt_o in $_mt_sites; do
			_mt_refs="$_mt_refs $LB_T/ref_$_mt_o.wav"
		done
		lb_note "site $_mt_s received (share of its energy per ref):"
		# shellcheck disable=SC2086
		if ! lb_presence "$_mt_rec" $_mt_refs; then
			lb_not_ok "wavpresence analyses $_mt_s's recording"
			continue
		fi
		_mt_dur=$(sed -n 's/^rec=.* dur_s=\([^ ]*\).*/\1/p' \
			"$LB_T/presence.out")
		lb_assert "site $_mt_s recording length (s)" "$_mt_dur" ">=" 8
		for _mt_o in $_mt_sites; do
			_mt_ref=$LB_T/ref_$_mt_o.wav
			_mt_sh=$(lb_presence_get "$_mt_ref" share_db)
			_mt_co=$(lb_presence_get "$_mt_ref" corr)
			if [ "$_mt_o" = "$_mt_s" ]; then
				_mt_d="$_mt_s does not hear itself: share_db"
				_mt_op="<" _mt_th=${LB_ABSENT_DB:--20}
			else
				_mt_d="$_mt_s hears $_mt_o: share_db"
				_mt_d="$_mt_d (corr $_mt_co)"
				_mt_op=">" _mt_th=${LB_PRESENT_DB:--10}
			fi
			lb_assert "$_mt_d" "$_mt_sh" "$_mt_op" "$_mt_th"
		done
	done
}


# lb_sipp_msg_time NAME DIRECTION START: time of day in seconds (float)
# of the first message sent/received (DIRECTION: sent|received) whose
# first line starts with START (e.g. "ACK", "BYE", "SIP/2.0 200").
lb_sipp_msg_time() {
	lb_sipp_msgs "$1" | tr -d '\r' | awk -v dir="$2" -v start="$3" '
		/^----------/ { split($3, t, ":");
				ts = t[1] * 3600 + t[2] * 60 + t[3];
				want = 0; next }
		$0 ~ ("message " dir) { want = 1; first = 1; next }
		want && first && NF { first = 0;
			if (index($0, start) == 1) { printf "%.3f\n", ts;
						     exit } }'
}

# ---- a real browser ----------------------------------------------------------

# lb_browser_setup: node 20+, Chromium ($CHROMIUM, default
# /usr/bin/chromium, exported) and playwright-core in tests/browser as
# its lock file pins it (npm ci when missing or another version;
# playwright-core downloads no browser). Sets BROWSER_DIR.
lb_browser_setup() {
	BROWSER_DIR=$(cd "$(dirname "$0")/../browser" && pwd)
	CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
	export CHROMIUM
	if ! command -v node >/dev/null 2>&1 ||
	   ! command -v npm >/dev/null 2>&1; then
		lb_bail "node (20 or later) and npm installed: this test" \
			"drives Chromium with playwright-core (Node.js 20" \
			"with its own npm; Debian's npm package conflicts" \
			"with it)"
	fi
	_bs_nv=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)
	lb_cmp "${_bs_nv:-0}" ">=" 20 ||
		lb_bail "node 20 or later (found $(node --version 2>&1))"
	[ -x "$CHROMIUM" ] || lb_bail "Chromium at $CHROMIUM (make deps-test)"
	_bs_want=$(lb_pw_version_ "$BROWSER_DIR/package-lock.json" \
		node_modules/playwright-core)
	_bs_have=$(lb_pw_version_ \
		"$BROWSER_DIR/node_modules/playwright-core/package.json")
	if [ -z "$_bs_have" ] || [ "$_bs_have" != "$_bs_want" ]; then
		lb_note "npm ci in tests/browser (playwright-core $_bs_want)"
		if ! PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 300 \
		     npm ci --prefix "$BROWSER_DIR" --no-audit --no-fund \
		     > "$LB_T/npm.log" 2>&1; then
			sed 's/^/#   npm: /' "$LB_T/npm.log" | tail -15
			lb_bail "npm ci --prefix tests/browser installs" \
				"playwright-core"
		fi
	fi
}

# lb_pw_version_ FILE [KEY]: a version from a package or lock file.
lb_pw_version_() {
	node -e 'const j = require(process.argv[1]);
		const v = process.argv[2] ? j.packages[process.argv[2]] : j;
		console.log(v.version)' "$@" 2>/dev/null
}
