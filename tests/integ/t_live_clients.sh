#!/bin/sh
# Twenty consoles on the live stream of a 40-site room, one of which
# never reads (a frozen laptop): the mixer does not notice (late ticks
# and tick time as without consoles, within noise), the stuck one is
# dropped, the others keep receiving levels at 10 Hz.
#
# The sites are the load generator's (real SIP and Opus RTP over
# loopback); the window without consoles comes first, in the same run,
# so the comparison is on the same machine at the same time.
. "$(dirname "$0")/lib.sh"
lb_init live_clients
LOADGEN=$LB_BUILD/bench/loadgen
[ -x "$LOADGEN" ] || lb_bail "$LOADGEN built (make all)"
N=40
WIN=8
lb_bridge_start <<EOF2
[room 1000]
name = Live clients
max_sites = 100
EOF2

lb_speech "$LB_T/speech.wav" 16000 1 en-us "$LB_TEXT_EN1 $LB_TEXT_EN2" 20
timeout 90 "$LOADGEN" -n $N -k 3 --sip "127.0.0.1:$LB_SIP_PORT" \
	--http "127.0.0.1:$LB_HTTP_PORT" --room 1000 \
	--pid "$LB_BRIDGE_PID" --warmup 2 --measure $((3 * WIN + 10)) \
	--speech "$LB_T/speech.wav" > "$LB_T/loadgen.out" \
	2> "$LB_T/loadgen.err" &
LB_PIDS="$LB_PIDS $!"
all_in() {
	[ "$(lb_room_get 1000 site_count)" = $N ]
}
lb_check "$N sites joined" lb_wait_for 20 all_in
sleep 2

# metric NAME: its value for room 1000 (or the bridge's)
metric() {
	lb_http /metrics | sed -n "s/^$1{room=\"1000\"} //p; s/^$1 //p" |
		head -1
}
window() { # -> "ticks late tick_seconds"
	echo "$(metric lowbridge_mixer_ticks_total)" \
		"$(metric lowbridge_mixer_late_ticks_total)" \
		"$(metric lowbridge_mixer_tick_seconds_total)"
}
# delta A B: "ticks late mean_tick_us" between two windows
delta() {
	echo "$1 $2" | awk '{ t = $4 - $1; printf "%d %d %.1f\n", t, \
		$5 - $2, t ? ($6 - $3) / t * 1e6 : 0 }'
}

w0=$(window)
sleep $WIN
w1=$(window)
i=0
while [ $i -lt 19 ]; do
	"$LB_TOOLS/ssecat" --http "127.0.0.1:$LB_HTTP_PORT" \
		--seconds $WIN > "$LB_T/sse$i" 2>&1 &
	LB_PIDS="$LB_PIDS $!"
	i=$((i + 1))
done
"$LB_TOOLS/ssecat" --http "127.0.0.1:$LB_HTTP_PORT" --seconds $WIN \
	--stuck > "$LB_T/stuck" 2>&1 &
stuck_pid=$!
LB_PIDS="$LB_PIDS $stuck_pid"
sleep $WIN
w2=$(window)
sleep 1

set -- $(delta "$w0" "$w1")
t_a=$1 late_a=$2 us_a=$3
set -- $(delta "$w1" "$w2")
t_b=$1 late_b=$2 us_b=$3
lb_note "no consoles:  $t_a ticks, $late_a late, mean tick $us_a us"
lb_note "20 consoles:  $t_b ticks, $late_b late, mean tick $us_b us"
lb_assert "the mixer ticked through both windows" "$t_b" ">" $((WIN * 45))
lb_assert "late ticks with 20 consoles: as without (+2 or 1 %)" \
	"$late_b" "<=" "$(awk -v a="$late_a" -v t="$t_b" \
	'BEGIN { x = t / 100; if (x < 2) x = 2; print a + x }')"
lb_note "mean tick time ratio with/without consoles:" \
	"$(awk -v a="$us_a" -v b="$us_b" 'BEGIN { printf "%.2f", a ? b / a : 0 }')"

slow=0
i=0
while [ $i -lt 19 ]; do
	hz=$(sed -n 's/.*levels_hz=\([0-9.]*\).*/\1/p' "$LB_T/sse$i")
	gap=$(sed -n 's/.*max_gap_ms=\([0-9.]*\).*/\1/p' "$LB_T/sse$i")
	closed=$(sed -n 's/.*closed=\([01]\).*/\1/p' "$LB_T/sse$i")
	if ! lb_cmp "$hz" ">=" 9.5 || [ "$closed" != 0 ]; then
		slow=$((slow + 1))
		lb_note "client $i: $(cat "$LB_T/sse$i")"
	fi
	[ $i -eq 0 ] && lb_note "client 0: $(cat "$LB_T/sse0")"
	i=$((i + 1))
done
lb_assert "the 19 reading clients kept >= 10 Hz and stayed connected" \
	"$slow" "==" 0
stuck_done() {
	! kill -0 "$stuck_pid" 2>/dev/null
}
lb_wait_for 10 stuck_done
lb_note "stuck client: $(cat "$LB_T/stuck")"
lb_check "the stuck client was hung up on" grep -q 'closed=1' "$LB_T/stuck"
lb_assert "the bridge counts it dropped" \
	"$(metric lowbridge_live_dropped_total)" ">=" 1
lb_check "and logs why" grep -q 'dropped: it does not read' \
	"$LB_T/bridge.log"
lb_check "bridge still serves" lb_http_ready
lb_done
