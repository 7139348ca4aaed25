#!/bin/sh
# SIP behaviour with sipp as the caller (scenarios in tests/sipp/):
# OPTIONS, unknown room, no common codec, call + BYE, CANCEL while
# ringing, hold/unhold and codec change by re-INVITE. Each scenario fails
# (sipp exit != 0) on any unexpected response; the API is checked around
# each call.
. "$(dirname "$0")/lib.sh"
lb_init sip_errors
lb_bridge_start <<EOF
[room 1000]
name = SIP test
max_sites = 10

[room 2000]
name = Ringing room
answer_delay_ms = 2000

[room 3000]
name = Small room
max_sites = 1
EOF

count() { # ROOM: site_count from the API
	lb_room_get "$1" site_count
}
count_is() { # ROOM N
	[ "$(count "$1")" = "$2" ]
}
sipp_case() { # DESCRIPTION NAME ROOM SCENARIO [ARGS]: run, report
	_d=$1
	shift
	if lb_sipp "$@"; then
		lb_ok "$_d"
	else
		lb_not_ok "$_d (sipp exit $?)"
		lb_sipp_why "$1"
	fi
}

# ---- out-of-dialog answers -------------------------------------------------
sipp_case "OPTIONS answered 200" options 1000 options.xml
sipp_case "OPTIONS over TCP answered 200" options_tcp 1000 options.xml -t t1
sipp_case "INVITE to unknown room 9999 answered 404 (and ACKed)" \
	r404 9999 invite_404.xml
sipp_case "INVITE offering only GSM and G729 answered 488" \
	r488 1000 invite_488.xml
lb_assert "no site left after the rejected INVITEs" "$(count 1000)" "==" 0

# ---- call, BYE -------------------------------------------------------------
lb_sipp_bg pid bye 1000 call_bye.xml -d 3000
if lb_wait_for 3 count_is 1000 1; then
	lb_ok "call: the site appears in GET /api/rooms/1000"
else
	lb_not_ok "call: the site appears in the API" \
		"(site_count $(count 1000))"
fi
lb_http /api/rooms/1000 > "$LB_T/call.json"
lb_note "site: $(sed 's/.*"sites":\[//' "$LB_T/call.json" | head -c 400)"
dir=$("$LB_TOOLS/jsonq" sites.0.dir < "$LB_T/call.json")
lb_check "call: site dir is sendrecv (got '$dir')" [ "$dir" = sendrecv ]
if lb_sipp_wait "$pid"; then
	lb_ok "call: INVITE 200, ACK, BYE 200"
else
	lb_not_ok "call: INVITE 200, ACK, BYE 200"
	lb_sipp_why bye
fi
if lb_wait_for 2 count_is 1000 0; then
	lb_ok "call: the site is gone from the API after BYE"
else
	lb_not_ok "call: site gone after BYE (site_count $(count 1000))"
fi

# ---- a full room ------------------------------------------------------------
lb_sipp_bg pid first 3000 call_bye.xml -d 2500
lb_wait_for 3 count_is 3000 1
sipp_case "INVITE to a room at max_sites (1) answered 486" full 3000 \
	invite_486.xml
lb_assert "full room: still one site" "$(count 3000)" "==" 1
if lb_sipp_wait "$pid"; then
	lb_ok "full room: the first call went on normally"
else
	lb_not_ok "full room: the first call went on normally"
	lb_sipp_why first
fi

# ---- CANCEL while ringing --------------------------------------------------
t0=$(lb_now_ms)
sipp_case "CANCEL while ringing: 180, then 200 for CANCEL and 487" \
	cancel 2000 cancel.xml
lb_assert "CANCEL: no site in room 2000" "$(count 2000)" "==" 0
# past the answer delay, the bridge must not have answered after all
sleep "$(awk -v e=$(($(lb_now_ms) - t0)) \
	'BEGIN { r = (2600 - e) / 1000; print (r > 0 ? r : 0) }')"
lb_assert "CANCEL: still no site in room 2000 after the answer delay" \
	"$(count 2000)" "==" 0
if lb_sipp_response cancel 200 1 INVITE | grep -q .; then
	lb_not_ok "CANCEL: the INVITE was never answered 200"
else
	lb_ok "CANCEL: the INVITE was never answered 200"
fi

# ---- hold and unhold -------------------------------------------------------
lb_sipp_bg pid hold 1000 hold.xml -d 1500
lb_wait_for 3 count_is 1000 1
sleep 2.2
lb_note "on hold: dir=$(lb_room_get 1000 sites.0.dir)"
sleep 1.5
lb_note "after unhold: dir=$(lb_room_get 1000 sites.0.dir)"
if lb_sipp_wait "$pid"; then
	lb_ok "hold: re-INVITE a=sendonly answered 200 with a=recvonly"
else
	lb_not_ok "hold: re-INVITE a=sendonly answered 200 with a=recvonly"
	lb_sipp_why hold
fi
ans=$(lb_sipp_response hold 200 2 INVITE | grep '^a=\(send\|recv\|inac\)')
lb_note "hold answer direction: ${ans:-none}"
ans=$(lb_sipp_response hold 200 3 INVITE)
dirs=$(echo "$ans" | grep '^a=\(sendrecv\|sendonly\|recvonly\|inactive\)')
lb_note "unhold answer direction: ${dirs:-none (sendrecv)}"
if [ -n "$ans" ] && ! echo "$dirs" | grep -q 'sendonly\|recvonly\|inactive'
then
	lb_ok "unhold: re-INVITE a=sendrecv answered sendrecv"
else
	lb_not_ok "unhold: re-INVITE a=sendrecv answered sendrecv" \
		"(got '${dirs:-no 200}')"
fi
lb_wait_for 2 count_is 1000 0

# ---- codec change ----------------------------------------------------------
lb_sipp_bg pid codec 1000 codec_change.xml -d 2000
lb_wait_for 3 count_is 1000 1
sleep 0.5
c1=$(lb_room_get 1000 sites.0.codec)
lb_check "codec change: API shows opus first (got '$c1')" \
	[ "$(echo "$c1" | tr 'A-Z' 'a-z')" = opus ]
codec_is_pcmu() {
	[ "$(lb_room_get 1000 sites.0.codec | tr 'a-z' 'A-Z')" = PCMU ]
}
if lb_wait_for 4 codec_is_pcmu; then
	lb_ok "codec change: API shows PCMU after the re-INVITE"
else
	lb_not_ok "codec change: API shows PCMU after the re-INVITE" \
		"(got '$(lb_room_get 1000 sites.0.codec)')"
fi
if lb_sipp_wait "$pid"; then
	lb_ok "codec change: re-INVITE PCMU-only answered 200 with PCMU"
else
	lb_not_ok "codec change: re-INVITE PCMU-only answered 200 with PCMU"
	lb_sipp_why codec
fi
lb_wait_for 2 count_is 1000 0

lb_check "bridge still running" lb_alive "$LB_BRIDGE_PID"
lb_done
