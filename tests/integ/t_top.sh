#!/bin/sh
# shellcheck disable=SC2016 # awk programs in single quotes
# `lowbridge top`, the terminal console, driven through tmux (a 100x30
# pty; keys with send-keys, the screen read back with capture-pane) on a
# bridge with accounts and a room that expects three sites: Hall A
# (alice, talks), Hall B (bob, silent), Hall C (never dials).
#  (a) the roster shows Hall A and B connected and Hall C missing; both
#      sites have a row; the talker's meter is longer than the silent
#      one's (the most '#' cells over 3 s of polls);
#  (b) the operator selects alice and presses m: the API says muted, the
#      row says MUTE and the status line "muted ID"; q quits (status 0)
#      and the pane is gone;
#  (c) a viewer's m gets the API's 403 on the status line and changes
#      nothing; a wrong password ends top at once with the 401;
#  (d) with no bridge at the address it says "bridge unreachable,
#      retrying", keeps running and does not spin (CPU time).
. "$(dirname "$0")/lib.sh"
lb_init top
TM="tmux -L lbtop$$"
# the consoles go with the test, whatever way it ends
trap '$TM kill-server 2>/dev/null; lb_cleanup' EXIT
command -v tmux >/dev/null 2>&1 || lb_bail "tmux installed (make deps-test)"
"$LB_BIN" top --help 2>/dev/null | grep -q 'lowbridge top' ||
	lb_bail "$LB_BIN has the top command"

OPW=operator-pass-1
VPW=viewer-pass-1
oph=$(echo "$OPW" | "$LB_BIN" passwd) || lb_bail "lowbridge passwd works"
vih=$(echo "$VPW" | "$LB_BIN" passwd) || lb_bail "lowbridge passwd works"
# lb_http (lib.sh) reads it: HTTP Basic for every API call of the test
# shellcheck disable=SC2034
LB_HTTP_AUTH="oper:$OPW"
lb_bridge_start <<EOF
[user oper]
role = operator
$oph

[user watcher]
role = viewer
$vih

[room 1000]
name = Top test
expect = Hall A; user=alice; contact=Ms Lan; phone=0912 345 678
expect = Hall B; user=bob
expect = Hall C; user=carol; contact=Mr Hung; phone=0987 654 321
EOF

lb_speech "$LB_T/alice.wav" 48000 2 en-us "$LB_TEXT_EN1 $LB_TEXT_EN2" 20
sox -q -n -r 48000 -c 2 -b 16 "$LB_T/silence.wav" trim 0 80 ||
	lb_bail "sox makes silence"
lb_site_start alice opus "$LB_T/alice.wav.src.wav"
lb_site_start bob opus "$LB_T/silence.wav"
lb_site_dial alice 1000
lb_site_dial bob 1000
lb_check "alice connected" lb_site_wait alice CALL_ESTABLISHED 10
lb_check "bob connected" lb_site_wait bob CALL_ESTABLISHED 10
IDA=$(lb_room_get 1000 sites.name=alice.id)
IDB=$(lb_room_get 1000 sites.name=bob.id)
lb_note "alice is $IDA, bob is $IDB"

HTTP=127.0.0.1:$LB_HTTP_PORT
# the console as the operator; its exit status lands in top.rc
$TM new-session -d -s op -x 100 -y 30 \
	"LOWBRIDGE_PASSWORD=$OPW $LB_BIN top --http $HTTP --room 1000 \
	--user oper 2> $LB_T/top.err; echo \$? > $LB_T/top.rc" ||
	lb_bail "tmux starts the console"
# screen_ SESSION: the pane's text into $LB_T/screen.txt
screen_() {
	$TM capture-pane -p -t "$1" > "$LB_T/screen.txt" 2>/dev/null
}
# has_ SESSION REGEX: the screen shows REGEX
has_() {
	screen_ "$1" && grep -Eq "$2" "$LB_T/screen.txt"
}
# cells_ ID: '#' cells in ID's meter on the last screen
cells_() {
	grep -E "^[> ] $1 " "$LB_T/screen.txt" | head -1 |
		sed -n 's/^[^[]*\[\([^]]*\)\].*/\1/p' | tr -cd '#' | wc -c
}
show_() {
	sed 's/^/#   screen: /' "$LB_T/screen.txt" | sed 's/ *$//' |
		grep -v ': $'
}

# ---- (a) roster, rows, meters
lb_check "(a) the console shows both sites' rows" \
	lb_wait_for 8 has_ op "^[> ] $IDB .*\\]"
lb_wait_for 3 has_ op "^[> ] $IDA .*\\]"
lb_check "(a) ... alice's row too" grep -Eq "^[> ] $IDA " "$LB_T/screen.txt"
lb_wait_for 3 has_ op "Hall C: missing"
show_
lb_check "(a) roster: Hall A connected" grep -q "Hall A: connected" \
	"$LB_T/screen.txt"
lb_check "(a) roster: Hall B connected" grep -q "Hall B: connected" \
	"$LB_T/screen.txt"
lb_check "(a) roster: Hall C missing, with its contact" \
	grep -q "Hall C: missing (Mr Hung 0987 654 321)" "$LB_T/screen.txt"
lb_check "(a) roster summary" \
	grep -q "expected 3: 2 connected, 0 late, 0 left, 1 missing" \
	"$LB_T/screen.txt"
ma=0 mb=0 n=0
while [ $n -lt 15 ]; do
	screen_ op
	a=$(cells_ "$IDA")
	b=$(cells_ "$IDB")
	[ "${a:-0}" -gt "$ma" ] && ma=$a
	[ "${b:-0}" -gt "$mb" ] && mb=$b
	n=$((n + 1))
	sleep 0.2
done
lb_note "meter cells over 3 s: alice $ma, bob $mb"
lb_assert "(a) the talker's meter shows speech (cells)" "$ma" ">=" 4
lb_assert "(a) the talker's meter is longer than the silent one's" \
	"$ma" ">" "$mb"

# ---- (b) select alice, mute her, quit
n=0
while ! has_ op "^> $IDA " && [ $n -lt 3 ]; do
	$TM send-keys -t op Down
	sleep 0.3
	n=$((n + 1))
done
lb_check "(b) Down selects alice's row" has_ op "^> $IDA "
$TM send-keys -t op m
muted_() {
	[ "$(lb_room_get 1000 sites.name=alice.muted)" = true ]
}
lb_check "(b) m mutes alice: the API says \"muted\":true" \
	lb_wait_for 3 muted_
lb_check "(b) ... her row says MUTE" lb_wait_for 2 has_ op "^> $IDA .* MUTE"
lb_check "(b) ... the status line says 'muted $IDA'" \
	has_ op "^muted $IDA *\$"
lb_check "(b) bob is not muted" \
	[ "$(lb_room_get 1000 sites.name=bob.muted)" = false ]
$TM send-keys -t op k
lb_check "(b) k asks before kicking" \
	lb_wait_for 2 has_ op "^kick $IDA from the room"
$TM send-keys -t op n
sleep 0.5
lb_check "(b) ... n keeps alice in the room" \
	[ "$(lb_room_get 1000 sites.name=alice.id)" = "$IDA" ]
lb_check "(b) ... and says so" lb_wait_for 2 has_ op "^kick cancelled"
show_ | tail -6
$TM send-keys -t op q
gone_() {
	! $TM has-session -t "$1" 2>/dev/null
}
lb_check "(b) q quits: the pane is gone" lb_wait_for 3 gone_ op
lb_check "(b) ... with exit status 0" \
	[ "$(cat "$LB_T/top.rc" 2>/dev/null)" = 0 ]

# ---- (c) a viewer, a wrong password
$TM new-session -d -s view -x 100 -y 30 \
	"LOWBRIDGE_PASSWORD=$VPW exec $LB_BIN top --http $HTTP --user watcher"
lb_check "(c) a viewer's console shows the room (the first one)" \
	lb_wait_for 5 has_ view "^[> ] $IDA "
$TM send-keys -t view m
lb_check "(c) the viewer's m gets the API's 403 on the status line" \
	lb_wait_for 3 has_ view "^403 forbidden: "
grep '^403' "$LB_T/screen.txt" | sed 's/^/#   /'
lb_check "(c) ... and alice stays muted" muted_
$TM send-keys -t view q
lb_wait_for 3 gone_ view
$TM new-session -d -s bad -x 100 -y 30 \
	"LOWBRIDGE_PASSWORD=wrong-pass $LB_BIN top --http $HTTP --user oper \
	2> $LB_T/bad.err; echo \$? > $LB_T/bad.rc"
lb_check "(c) a wrong password ends top" lb_wait_for 5 gone_ bad
sed 's/^/#   /' "$LB_T/bad.err"
lb_check "(c) ... with status 1" [ "$(cat "$LB_T/bad.rc" 2>/dev/null)" = 1 ]
lb_check "(c) ... saying the API's 401" \
	grep -q '^lowbridge top: 401 unauthorized' "$LB_T/bad.err"

# ---- (d) no bridge there
lb_port NOPORT
$TM new-session -d -s none -x 80 -y 24 \
	"exec $LB_BIN top --http 127.0.0.1:$NOPORT --room 1000"
lb_check "(d) no bridge: 'bridge unreachable, retrying'" \
	lb_wait_for 3 has_ none "bridge unreachable, retrying"
PID=$($TM display -p -t none '#{pane_pid}')
t0=$(awk '{ print $14 + $15 }' "/proc/$PID/stat")
sleep 3
t1=$(awk '{ print $14 + $15 }' "/proc/$PID/stat" 2>/dev/null)
lb_check "(d) ... and keeps running" lb_alive "$PID"
lb_assert "(d) ... without spinning (CPU ticks in 3 s)" \
	"$((${t1:-999} - t0))" "<" 30
$TM send-keys -t none q
lb_check "(d) q quits" lb_wait_for 3 gone_ none
$TM kill-server 2>/dev/null
lb_check "the bridge is still up" lb_alive "$LB_BRIDGE_PID"
lb_done
