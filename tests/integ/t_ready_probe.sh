#!/bin/sh
# Readiness probe: the bridge's loudspeaker-to-microphone probe on real
# SIP sites in room 1000, during a test window opened through the API.
#   hall   echosite, Opus: plays what it hears into a room (RT60 0.5 s)
#          60 ms playout buffer + 150 ms bulk delay, -12 dB
#          loudspeaker-to-mic gain, -55 dBFS noise;
#   loud   echosite, PCMU: 300 ms bulk delay at 0 dB gain (an amplifier
#          turned up in a hall), joins 9 s into the window;
#   quiet  echosite with no loudspeaker path (--echo-db -200), recording
#          what it hears: the listener for the leak check;
#   bob    baresip, Opus, a silent source and no loudspeaker path: a
#          real client.
# Asserts:
#  (a) hall's path is found: site_delay_ms (the loop less the bridge's
#      own tick and jitter buffer) within 10 ms of what the site simulates
#      (playout 60 + bulk 150 + one 20 ms frame of packetising: 230),
#      return loss within 3 dB of 12 (measured 224, 12.3);
#  (b) loud is found with its delay (60 + 300 + 20 = 380) and flagged
#      strong_echo (return loss under 6 dB);
#  (c) quiet and bob (real client) are "no_return";
#  (d) the probe does not reach other sites: while loud is probed (its
#      0 dB return would put the probe at about -30 dBFS in the mix if
#      it leaked), quiet's recording peaks at or below -40 dBFS; control:
#      loud's own recording of the same span holds the probe (>= -36).
#  (e) the echo canceller agrees: hall's echo.delay_ms in the room API
#      is within 20 ms of the probe's (the canceller's reference is the
#      decoded stream, so it reads the codecs' delay, ~14 ms for Opus,
#      less).
# The sites' 20 ms clocks are set so the bridge's packets reach them
# 10 ms before their tick (--tick-phase-ms): a site whose tick falls
# within the bridge's processing time of the bridge's own (about 1 run
# in 5 when left to chance) really has a loop one frame longer, and its
# packets reach the bridge at the very start of a tick, half of them a
# tick late (the probe, without a jitter buffer grown for it yet, then
# finds its return at 11-14 dB). That is a site's delay the probe
# measures right, not the 230 ms this test can predict.
# Env: lib.sh's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_echo.sh"
lb_init ready_probe
[ -x "$LB_TOOLS/echosite" ] ||
	lb_bail "test tool $LB_TOOLS/echosite built (make tools)"

le_silence_wav "$LB_T/silence.wav" 48000 2 90
lb_bridge_start <<EOF
[room 1000]
name = Readiness probe
expect = hall; user=hall; contact=Tran Van Binh; phone=0912 000 111
expect = loud; user=loud
expect = quiet; user=quiet
expect = bob; user=bob
EOF
le_echo_start hall 1000 --echo-db -12 --delay-ms 150 --jb-ms 60 \
	--rt60 0.5 --duration 60 --tick-phase-ms 10
le_echo_start quiet 1000 --echo-db -200 --duration 60
lb_site_start bob opus "$LB_T/silence.wav"
lb_site_dial bob 1000
le_echo_wait hall 10 || lb_bail "hall connects"
le_echo_wait quiet 10 || lb_bail "quiet connects"
lb_site_wait bob CALL_ESTABLISHED 10 || lb_bail "bob connects"

P="http://127.0.0.1:$LB_HTTP_PORT/api/rooms/1000/test"
code=$(curl -s -o "$LB_T/open.json" -w '%{http_code}' -X POST \
	"$P?action=open&minutes=5")
lb_assert "POST test?action=open answers" "$code" == 200
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
	"$P?action=open&minutes=5")
lb_assert "a second open is refused while one is open" "$code" == 409
sleep 9
le_echo_start loud 1000 --codecs pcmu --echo-db 0 --delay-ms 300 \
	--jb-ms 60 --duration 60 --tick-phase-ms 10
le_echo_wait loud 10 || lb_bail "loud connects"

# every probe verdict in, or 30 s
verdicts_() {
	lb_http /api/rooms/1000/test > "$LB_T/test.json" 2>/dev/null || return 1
	for _s in hall loud quiet bob; do
		_r=$("$LB_TOOLS/jsonq" "sites.name=$_s.speaker.result" \
			< "$LB_T/test.json")
		[ "$_r" = pending ] && return 1
	done
	return 0
}
lb_wait_for 30 verdicts_ || lb_note "not every verdict within 30 s"
sleep 1
lb_http /api/rooms/1000/test > "$LB_T/test.json"
get() { "$LB_TOOLS/jsonq" "sites.name=$1.$2" < "$LB_T/test.json"; }
for s in hall loud quiet bob; do
	lb_note "$s: speaker $(get $s speaker.result) delay" \
		"$(get $s speaker.delay_ms) site $(get $s speaker.site_delay_ms)" \
		"erl $(get $s speaker.erl_db) noise $(get $s speaker.noise_dbfs)"
done

# (a)
lb_check "hall: loudspeaker path found" [ "$(get hall speaker.result)" = ok ]
d=$(get hall speaker.site_delay_ms)
lb_assert "hall: site delay - 230 ms" \
	"$(awk -v d="$d" 'BEGIN { x = d - 230; print x < 0 ? -x : x }')" \
	"<=" 10
e=$(get hall speaker.erl_db)
lb_assert "hall: return loss - 12 dB" \
	"$(awk -v e="$e" 'BEGIN { x = e - 12; print x < 0 ? -x : x }')" \
	"<=" 3
# (b)
lb_check "loud: flagged strong_echo" \
	[ "$(get loud speaker.result)" = strong_echo ]
d=$(get loud speaker.site_delay_ms)
lb_assert "loud: site delay - 380 ms" \
	"$(awk -v d="$d" 'BEGIN { x = d - 380; print x < 0 ? -x : x }')" \
	"<=" 10
lb_assert "loud: return loss (dB)" "$(get loud speaker.erl_db)" "<" 6
# (c)
lb_check "quiet: no_return" [ "$(get quiet speaker.result)" = no_return ]
lb_check "bob (baresip): no_return" \
	[ "$(get bob speaker.result)" = no_return ]

# (d) where loud's first probe round sits on quiet's and loud's timelines
# (the bridge log's clock; each recording starts when its call is up)
ms_() { awk -v t="$1" 'BEGIN { split(t, a, ":");
	printf "%.3f", a[1] * 3600 + a[2] * 60 + a[3] }'; }
t_of_() { grep -m1 "$1" "$LB_T/bridge.log" | awk '{ print $1 }'; }
t_probe=$(ms_ "$(t_of_ 'readiness: loud: probe 1 of round 1')")
t_quiet=$(ms_ "$(t_of_ '(quiet): established')")
t_loud=$(ms_ "$(t_of_ '(loud): established')")
le_echo_stop loud
le_echo_stop quiet
span=4.4
off_q=$(awk -v a="$t_probe" -v b="$t_quiet" 'BEGIN { print a - b }')
off_l=$(awk -v a="$t_probe" -v b="$t_loud" 'BEGIN { print a - b }')
pk_() { sox "$1" -n trim "$2" "$span" stats 2>&1 |
	awk '/^Pk lev dB/ { print $4 }'; }
pq=$(pk_ "$LB_T/echo_quiet/rec.wav" "$off_q")
pl=$(pk_ "$LB_T/echo_loud/rec.wav" "$off_l")
lb_note "loud's probe round at +$off_q s for quiet, +$off_l s for loud"
lb_assert "control: loud hears its probe (peak dBFS)" "$pl" ">=" -36
[ "$pq" = "-inf" ] && pq=-200
lb_assert "quiet does not hear loud's probe (peak dBFS)" "$pq" "<=" -40

# (e)
lb_http /api/rooms/1000 > "$LB_T/room.json"
ad=$("$LB_TOOLS/jsonq" "sites.name=hall.echo.delay_ms" < "$LB_T/room.json")
pd=$(get hall speaker.delay_ms)
lb_note "hall: echo canceller delay $ad ms, probe $pd ms"
lb_assert "hall: canceller's delay - probe's" \
	"$(awk -v a="$ad" -v p="$pd" 'BEGIN { x = a - p;
		print a == "" || a < 0 ? 999 : (x < 0 ? -x : x) }')" "<=" 20

lb_check "bridge still running" lb_alive "$LB_BRIDGE_PID"
lb_done
