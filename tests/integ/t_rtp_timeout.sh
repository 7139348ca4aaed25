#!/bin/sh
# RTP timeout: with rtp_timeout_s = 3, a site that never sends RTP (sipp)
# must be hung up with a BYE about 3 s after the call starts, while a
# site that keeps sending (baresip) stays connected.
. "$(dirname "$0")/lib.sh"
TIMEOUT_S=3
lb_init rtp_timeout
lb_bridge_start $TIMEOUT_S <<EOF
[room 1000]
name = Timeout test
EOF

lb_speech "$LB_T/ref_alice.wav" 48000 2 en-us "$LB_TEXT_EN1"
lb_site_start alice opus "$LB_T/ref_alice.wav.src.wav"
lb_site_dial alice 1000
lb_check "baresip site alice connected" \
	lb_site_wait alice CALL_ESTABLISHED 10

# the silent site; sipp's own timeout bounds the wait for the BYE
lb_sipp_bg pid silent 1000 wait_bye.xml
if lb_sipp_wait "$pid"; then
	lb_ok "silent site: bridge sent BYE (answered 200)"
else
	lb_not_ok "silent site: bridge sent BYE (answered 200)"
	lb_sipp_why silent
fi
t_ack=$(lb_sipp_msg_time silent sent ACK)
t_bye=$(lb_sipp_msg_time silent received BYE)
el=$(awk -v a="$t_ack" -v b="$t_bye" \
	'BEGIN { if (a != "" && b != "") printf "%.2f", b - a }')
lb_note "ACK at $t_ack, BYE at ${t_bye:-never}:" \
	"${el:-?} s after the call began"
lb_assert "silent site: BYE not before rtp_timeout_s - 0.5 s" \
	"$el" ">=" "$(awk "BEGIN { print $TIMEOUT_S - 0.5 }")"
lb_assert "silent site: BYE within rtp_timeout_s + 2.5 s" \
	"$el" "<=" "$(awk "BEGIN { print $TIMEOUT_S + 2.5 }")"
in_room() { # NAME
	lb_room_get 1000 "sites.name=$1.id" >/dev/null 2>&1
}
sipp_gone() {
	_b=$(lb_http /api/rooms/1000) || return 1
	! echo "$_b" | grep -q '"name":"sipp"'
}
if lb_wait_for 2 sipp_gone; then
	lb_ok "silent site: gone from the API"
else
	lb_not_ok "silent site: gone from the API"
fi

# the talking site must outlive two timeouts
sleep $((TIMEOUT_S + 1))
lb_assert "alice (sending RTP) not hung up after 2 x rtp_timeout_s" \
	"$(lb_site_events alice CALL_CLOSED)" "==" 0
lb_check "alice still listed in the API" in_room alice
pin=$(lb_room_get 1000 sites.name=alice.packets_in)
lb_assert "alice packets_in" "$pin" ">" 200
lb_site_quit alice
lb_done
