#!/bin/sh
# The bridge asks a site whose packets do not all reach it to send
# thinner (a re-INVITE whose SDP asks for the thin profile: a=ptime,
# maxaveragebitrate, maxplaybackrate), and asks back when the loss is
# the line's own. Test sites: tests/tools/echosite with --follow-sdp (it
# re-plans its encoder on what the bridge's SDP asks, as baresip does)
# and the impairment of tests/lib/netimp on what they send:
#  - alice's uplink is capped at 24 kbit/s on the wire; she sends Opus
#    at 16 kbit/s in 20 ms packets (32 kbit/s on the wire): a quarter of
#    her packets are lost until she is asked for 40 ms at 12 kbit/s,
#    narrowband, constant rate (20 kbit/s on the wire); asked within
#    10 s, her loss stops, she stays thin, and bob understands her;
#  - dan's uplink loses 15 % at random: asked thin, his loss does not
#    drop (his line's own), so he is asked back for what he first sent;
#  - bob's clean line: never asked.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_echo.sh"
lb_init adapt_up
ES=$LB_TOOLS/echosite
[ -x "$ES" ] || lb_bail "$ES built"
lb_bridge_start <<EOF2
[room 1000]
name = Thin uplinks
record = off
EOF2
lb_speech "$LB_T/alice.wav" 16000 1 en-us "$LB_TEXT_EN1 $LB_TEXT_EN2" 16

# alice talks from 3 s: the loss of a capped line is in the talk
le_line_site alice 36 --speech "$LB_T/alice.wav" --speech-at 3 \
	--bitrate 16000 --follow-sdp --tx-cap-kbps 24 --seed 1
le_line_site dan 36 --bitrate 16000 --follow-sdp --tx-loss 15 --seed 2
le_line_site bob 36 --bitrate 16000 --follow-sdp --seed 3 \
	--rec "$LB_T/bob.wav"
lb_check "the three sites are in" lb_wait_for 10 le_sites_in 3
t0=$(lb_now_ms)
q() { le_q "$@"; }
asked_thin() {
	[ "$(q "$1" link.ask)" = thin ]
}
lb_check "alice's capped uplink: asked for the thin profile within 10 s" \
	lb_wait_for 10 asked_thin alice
lb_note "alice asked after $(( $(lb_now_ms) - t0 )) ms"
following() {
	grep -q "re-INVITE asks for 40 ms packets, 12000 bit/s constant, 8000 Hz" \
		"$LB_T/$1.err"
}
lb_check "alice got the re-INVITE and follows it" lb_wait_for 5 following \
	alice
lb_check "dan's lossy uplink: asked too" lb_wait_for 10 asked_thin dan
asked_back() {
	[ "$(q dan link.ask)" = none ] && [ "$(q dan link.ask_changes)" = 2 ]
}
lb_check "dan's loss is his line's own: asked back within 15 s" \
	lb_wait_for 15 asked_back dan
lb_note "dan asked back after $(( $(lb_now_ms) - t0 )) ms"
own_why() {
	q dan link.ask_why | grep -q "own loss"
}
lb_check "the reason says so" own_why
lb_assert "dan: 15 % random loss still (recent_loss_pct)" \
	"$(q dan recent_loss_pct)" ">=" 8
lb_check "dan was asked back for his 20 ms at 16 kbit/s" \
	grep -q "asks for 20 ms packets, 16000 bit/s, 16000 Hz" \
	"$LB_T/dan.err"
# alice's loss window (10 s) well after her switch
_left=$(( 18000 - ($(lb_now_ms) - t0) ))
[ "$_left" -gt 0 ] && sleep "$(awk -v m="$_left" 'BEGIN { print m / 1000 }')"
lb_check "alice's loss followed her rate: she stays thin" asked_thin alice
lb_assert "alice's recent loss at the bridge (%, was ~25)" \
	"$(q alice recent_loss_pct)" "<=" 2
lb_assert "alice was asked once" "$(q alice link.ask_changes)" == 1
lb_check "bob's clean line is never asked" \
	[ "$(q bob link.ask_changes)" = 0 ]
for s in alice bob dan; do
	lb_note "$s: ask $(q $s link.ask) ($(q $s link.ask_why))," \
		"recent loss $(q $s recent_loss_pct) %, jb $(q $s jb_ms) ms," \
		"MOS up $(q $s link.mos_up)"
done
lb_check "the bridge still serves" lb_http_ready

for s in alice bob dan; do
	eval "wait \$PID_$s"
	sed -n 's/^echosite: \(network\|followed\)/# '"$s"': \1/p' \
		"$LB_T/$s.err"
done
"$LB_TOOLS/wavestoi" -l 6000 "$LB_T/alice.wav" "$LB_T/bob.wav" \
	> "$LB_T/e_bob.out" 2>&1
sed "s/^/#   bob: /" "$LB_T/e_bob.out"
lb_assert "bob understands alice through her capped uplink: ESTOI" \
	"$(sed -n 's/.*estoi=\([^ ]*\).*/\1/p' "$LB_T/e_bob.out")" ">=" 0.78
lb_assert "alice's line carried her stream (tx kbit/s on the wire)" \
	"$(sed -n 's/.*tx_kbps=\([0-9.]*\).*/\1/p' "$LB_T/alice.err")" \
	"<=" 24.5
lb_check "bridge still running" lb_alive "$LB_BRIDGE_PID"
lb_done
