#!/bin/sh
# Configuration errors: each bad value must stop `lowbridge serve` with
# a non-zero status and a message "FILE:LINE: KEY: reason" on stderr,
# quickly and without serving. And the command-line flags alone
# (--sip, --http, --data, no config file) must bring up a working bridge.
. "$(dirname "$0")/lib.sh"
lb_init config
[ -x "$LB_BIN" ] || lb_bail "bridge binary $LB_BIN built (make)"

# bad_case DESCRIPTION LINE KEY INI-TEXT: the file is a [bridge] section
# with free ports (3 lines) then INI-TEXT; LINE counts from INI-TEXT's
# first line as 1.
lb_port p1 2
bad_case() {
	printf '[bridge]\nsip = 127.0.0.1:%s\nhttp = 127.0.0.1:%s\n%s\n' \
		"$p1" "$((p1 + 1))" "$4" > "$LB_T/bad.ini"
	_l=$(($2 + 3))
	timeout 5 "$LB_BIN" serve --config "$LB_T/bad.ini" \
		> "$LB_T/bad.out" 2> "$LB_T/bad.err"
	_rc=$?
	_msg=$(head -3 "$LB_T/bad.err")
	lb_note "$1: exit $_rc: $_msg"
	if [ $_rc -eq 124 ]; then
		lb_not_ok "$1: bridge refused to start (it ran until killed)"
	elif [ $_rc -eq 0 ]; then
		lb_not_ok "$1: bridge exits non-zero (exit 0)"
	else
		lb_ok "$1: bridge exits non-zero ($_rc)"
	fi
	lb_check "$1: message names $LB_T/bad.ini:$_l: $3:" \
		grep -qF "$LB_T/bad.ini:$_l: $3:" "$LB_T/bad.err"
}

bad_case "non-numeric rtp_timeout_s" 1 rtp_timeout_s "rtp_timeout_s = abc"
bad_case "rtp_timeout_s = 0 (below range)" 2 rtp_timeout_s \
"log_level = info
rtp_timeout_s = 0"
bad_case "max_talkers = 99 in a room" 3 max_talkers \
"[room 1000]
name = x
max_talkers = 99"
bad_case "data directory empty" 1 data "data ="
bad_case "rtp_ports reversed" 1 rtp_ports "rtp_ports = 30000-20000"
bad_case "unknown key" 1 bogus_key "bogus_key = 1"
bad_case "negative answer_delay_ms" 3 answer_delay_ms \
"[room 1000]
name = x
answer_delay_ms = -5"
bad_case "sip not an address" 2 sip \
"[bridge]
sip = nonsense"

# flags only
lb_port LB_SIP_PORT
lb_port LB_HTTP_PORT
mkdir -p "$LB_T/data"
lb_spawn bpid "$LB_BIN" serve --sip "127.0.0.1:$LB_SIP_PORT" \
	--http "127.0.0.1:$LB_HTTP_PORT" --data "$LB_T/data" \
	2> "$LB_T/flags.log"
lb_check "flags only: API answers on --http" lb_wait_for 10 lb_http_ready
lb_check "flags only: default room 1000 listed" \
	sh -c "curl -sf http://127.0.0.1:$LB_HTTP_PORT/api/rooms |
		'$LB_TOOLS/jsonq' 'rooms.id=1000.id' | grep -qx 1000"
lb_check "flags only: OPTIONS on --sip answered" \
	lb_sipp flags_opt 1000 options.xml
lb_stop "$bpid"
lb_done
