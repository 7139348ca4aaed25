#!/bin/sh
# What the bridge sends a site adapts to the site's line, from the site's
# RTCP receiver reports (test sites: tests/tools/echosite with the
# impairment of tests/lib/netimp on their lines, deterministic seeds):
#  - bob loses 15 % of what he is sent (random): FEC planned for it and
#    the thin profile (40 ms, 12 kbit/s, narrowband: under 20 kbit/s
#    on the wire);
#    his loss does not drop on it (it is his line's own, not our rate),
#    so he goes back to 20 ms with FEC at adapt_fec_bps (24 kbit/s); he
#    still understands alice (ESTOI);
#  - carol's downlink is capped at 24 kbit/s on the wire: she moves to the
#    thin profile within 10 s, stays there (her loss stops with it) and
#    stays intelligible;
#  - alice's clean line keeps what her SDP asked for;
#  - dave's line is hostile (50 % loss, 500 ms jitter, duplicates): the
#    bridge carries on, the others are not disturbed.
# Each site's link figures (E-model R and MOS, the adaptation) are in the
# room JSON.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_echo.sh"
lb_init adapt
ES=$LB_TOOLS/echosite
[ -x "$ES" ] || lb_bail "$ES built"
lb_bridge_start <<EOF2
[room 1000]
name = Thin lines
record = off
EOF2
lb_speech "$LB_T/alice.wav" 16000 1 en-us "$LB_TEXT_EN1 $LB_TEXT_EN2" 16

site() { # NAME ARGS...: for 30 s
	_n=$1
	shift
	le_line_site "$_n" 30 "$@"
}
site alice --speech "$LB_T/alice.wav" --speech-at 3 --seed 1
site bob --rx-loss 15 --seed 2 --rec "$LB_T/bob.wav"
site carol --rx-cap-kbps 24 --seed 3 --rec "$LB_T/carol.wav"
site dave --tx-loss 50 --tx-jitter-ms 500 --tx-dup 20 --rx-loss 30 \
	--seed 4
lb_check "the four sites are in" lb_wait_for 10 le_sites_in 4
t0=$(lb_now_ms)
q() { le_q "$@"; }
thin() {
	[ "$(q "$1" link.adapt)" = thin ]
}
lb_check "carol's capped line: thin profile within 10 s" \
	lb_wait_for 10 thin carol
lb_note "carol thin after $(( ($(lb_now_ms) - t0) )) ms"
lb_check "bob's lossy line: thin profile" lb_wait_for 10 thin bob
lb_note "bob thin after $(( ($(lb_now_ms) - t0) )) ms"
own_loss() {
	[ "$(q bob link.adapt)" = fec ] &&
		[ "$(q bob send.bitrate)" = 24000 ] &&
		[ "$(q bob send.ptime)" = 20 ]
}
lb_check "bob's loss is his line's own: back to 20 ms, FEC at 24 kbit/s" \
	lb_wait_for 15 own_loss
lb_note "bob on FEC at 24 kbit/s after $(( ($(lb_now_ms) - t0) )) ms"
why_own() {
	q bob link.adapt_why | grep -q "own loss"
}
lb_check "the reason says so" why_own
sleep 2
for s in alice bob carol dave; do
	lb_note "$s: adapt $(q $s link.adapt) ($(q $s link.adapt_why))," \
		"sent $(q $s send.ptime) ms $(q $s send.bitrate) bit/s," \
		"MOS up $(q $s link.mos_up) down $(q $s link.mos_down)"
done
lb_check "carol's capped line stays thin (its loss followed our rate)" \
	thin carol
lb_assert "carol is sent 12 kbit/s" "$(q carol send.bitrate)" "==" 12000
lb_check "carol's thin profile is narrowband (adapt_thin_bw)" \
	[ "$(q carol link.adapt_band)" = narrowband ]
lb_check "bob's FEC profile is wideband again" \
	[ "$(q bob link.adapt_band)" = wideband ]
lb_assert "bob's line: the smoothed loss (15 % random, in 1 s reports)" \
	"$(q bob link.adapt_loss_pct)" ">=" 8
lb_check "alice's clean line keeps its profile" \
	[ "$(q alice link.adapt)" = clean ]
lb_assert "alice is sent 20 ms packets" "$(q alice send.ptime)" "==" 20
lb_assert "alice's line rates well (MOS of what the room hears of her)" \
	"$(q alice link.mos_up)" ">=" 4
lb_assert "dave's hostile line rates badly (MOS up)" \
	"$(q dave link.mos_up)" "<" 3
lb_check "the bridge still serves" lb_http_ready

# what bob and carol heard of alice, and what their lines carried
for s in bob carol; do
	eval "wait \$PID_$s"
	sed -n 's/^echosite: network: /# '"$s"': /p' "$LB_T/$s.err"
	"$LB_TOOLS/wavestoi" -l 6000 "$LB_T/alice.wav" "$LB_T/$s.wav" \
		> "$LB_T/e_$s.out" 2>&1
	sed "s/^/#   $s: /" "$LB_T/e_$s.out"
done
# (bench-network prints the figures; here: well understood, not a
# ranking)
lb_assert "bob (15 % loss) understands alice: ESTOI" \
	"$(sed -n 's/.*estoi=\([^ ]*\).*/\1/p' "$LB_T/e_bob.out")" ">=" 0.74
lb_assert "carol (24 kbit/s line) understands alice: ESTOI" \
	"$(sed -n 's/.*estoi=\([^ ]*\).*/\1/p' "$LB_T/e_carol.out")" ">=" 0.74
lb_assert "carol's line carried her stream (rx kbit/s on the wire)" \
	"$(sed -n 's/.*rx_kbps=\([0-9.]*\).*/\1/p' "$LB_T/carol.err")" \
	"<=" 24.5
lb_check "bridge still running" lb_alive "$LB_BRIDGE_PID"
lb_done
