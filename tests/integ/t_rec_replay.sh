#!/bin/sh
# shellcheck disable=SC2016 # awk programs in single quotes
# The clerk's player on a real recording: two sites (echosite) speak in
# turn, a at 1-5 s and b at 7-11 s of a 14 s session.
#  (a) keys through a pty (tmux send-keys, read back with capture-pane):
#      n jumps to a's turn, then to b's; b's number solos it; b sets a
#      bookmark, which lands in the journal and the catalogue; q quits;
#  (b) speed: a's 4 s played at 0.5x and 2x last 8 s and 2 s (within
#      5 %), and keep the pitch (fundamental within 5 % of 1x; plain
#      resampling would halve or double it);
#  (c) with no sound device (as here) it says so in one line and points
#      at --to-file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_echo.sh"
lb_init rec_replay
command -v tmux >/dev/null 2>&1 || lb_bail "tmux installed (make deps-test)"
[ -x "$LB_TOOLS/wavpitch" ] || lb_bail "tool wavpitch built (make tools)"
lb_speech "$LB_T/a.wav" 16000 1 en-us "$LB_TEXT_EN1" 4
lb_speech "$LB_T/b.wav" 16000 1 en-us "$LB_TEXT_EN3" 4

lb_bridge_start <<EOF
[room 1000]
name = Replay
record = on
EOF
le_echo_start a 1000 --echo-db -120 --speech "$LB_T/a.wav" \
	--speech-at 1 --duration 14 --noise-dbfs -70
le_echo_start b 1000 --echo-db -120 --speech "$LB_T/b.wav" \
	--speech-at 7 --duration 14 --noise-dbfs -70
le_echo_wait a 10 && le_echo_wait b 10 || lb_not_ok "the sites connect"
SESS=$(lb_room_get 1000 recording.session)
lb_wait_for 25 sh -c "! kill -0 $(cat "$LB_T/echo_a/pid") 2>/dev/null"
lb_wait_for 10 sh -c "grep -q session_end \
	'$LB_T/data/recordings/1000/$SESS/journal.jsonl'"
D=$LB_T/data
"$LB_BIN" recordings show "$SESS" --data "$D" | sed 's/^/#   /'
"$LB_BIN" recordings show "$SESS" --data "$D" --json > "$LB_T/show.json"
IDA=$("$LB_TOOLS/jsonq" sites.name=a.id < "$LB_T/show.json")
IDB=$("$LB_TOOLS/jsonq" sites.name=b.id < "$LB_T/show.json")
# the player's number keys follow the session's site list (join order,
# which the two sites' race decides)
KB=$("$LB_BIN" recordings show "$SESS" --data "$D" |
	awk '$1 ~ /^s[0-9]+$/ { n++; if ($2 == "b") print n }')

# ---- (c) no device
"$LB_BIN" replay "$SESS" --data "$D" < /dev/null > "$LB_T/nodev.out" 2>&1
_rc=$?
sed 's/^/#   /' "$LB_T/nodev.out"
lb_assert "(c) without a sound device replay fails (exit status)" \
	"$_rc" "!=" 0
lb_assert "(c) ... saying so in one line that names --to-file" \
	"$(grep -c 'no sound device.*--to-file' "$LB_T/nodev.out")" "==" 1

# ---- (a) keys through tmux
TM="tmux -L lb$$"
$TM new-session -d -s rp -x 160 -y 30 \
	"$LB_BIN replay $SESS --data $D --to-file $LB_T/keys.wav; sleep 30"
screen_() { $TM capture-pane -p -t rp -S -100 > "$LB_T/screen.txt"; }
has_() { screen_; grep -q "$1" "$LB_T/screen.txt"; }
lb_wait_for 5 has_ "space pause" || lb_not_ok "(a) the player starts"
$TM send-keys -t rp n
lb_wait_for 3 has_ "turn: $IDA at"
$TM send-keys -t rp n
lb_wait_for 3 has_ "turn: $IDB at"
$TM send-keys -t rp "${KB:-2}"
lb_wait_for 3 has_ "solo: b"
$TM send-keys -t rp b
lb_wait_for 3 has_ "bookmark at"
$TM send-keys -t rp q
sleep 1
screen_
sed 's/^/#   screen: /' "$LB_T/screen.txt" | grep -v ': $' | tail -12
_ta=$(sed -n "s/.*turn: $IDA at \([0-9.]*\) s.*/\1/p" "$LB_T/screen.txt" |
	head -1)
_tb=$(sed -n "s/.*turn: $IDB at \([0-9.]*\) s.*/\1/p" "$LB_T/screen.txt" |
	head -1)
lb_assert "(a) n jumps to a's turn (at s; a spoke from 1 s)" \
	"${_ta:-99}" "<=" 1.5
lb_assert "(a) n again jumps to b's turn (at s; b spoke from 7 s)" \
	"$(awk -v t="${_tb:-99}" 'BEGIN { d = t - 7; print d < 0 ? -d : d }')" \
	"<=" 0.5
lb_assert "(a) $KB solos site b" "$(grep -c 'solo: b' "$LB_T/screen.txt")" \
	">=" 1
lb_assert "(a) b writes a bookmark into the journal" \
	"$(grep -c '"ev":"bookmark"' "$D/recordings/1000/$SESS/journal.jsonl")" \
	"==" 1
"$LB_BIN" minutes "$SESS" --data "$D" -o "$LB_T/m.md" > /dev/null
lb_assert "(a) ... and the minutes (from the catalogue's journal) show it" \
	"$(grep -c 'bookmark' "$LB_T/m.md")" ">=" 1
lb_assert "(a) q quits, leaving what was played in the file" \
	"$(soxi -D "$LB_T/keys.wav" 2>/dev/null | awk '{ print ($1 > 0) }')" \
	"==" 1
$TM kill-server 2>/dev/null

# ---- (b) speed keeps the pitch
for _sp in 1 0.5 2; do
	"$LB_BIN" replay "$SESS" --data "$D" --site a --from 1 --until 5 \
		--speed $_sp --to-file "$LB_T/sp$_sp.wav" < /dev/null \
		> /dev/null 2>&1 || lb_not_ok "replay at ${_sp}x"
	"$LB_TOOLS/wavpitch" "$LB_T/sp$_sp.wav" > "$LB_T/p$_sp.out"
	lb_note "${_sp}x: $(cat "$LB_T/p$_sp.out")"
done
get_() { sed -n "s/.*$2=\([^ ]*\).*/\1/p" "$LB_T/p$1.out"; }
_f1=$(get_ 1 f0_hz)
for _sp in 0.5 2; do
	lb_assert "(b) ${_sp}x: duration over 4 s / ${_sp} (ratio)" \
		"$(awk -v d="$(get_ $_sp dur_s)" -v s=$_sp \
		'BEGIN { r = d * s / 4; print r < 1 ? 1 - r : r - 1 }')" "<=" 0.05
	lb_assert "(b) ${_sp}x: fundamental against 1x (${_f1} Hz), relative difference" \
		"$(awk -v f="$(get_ $_sp f0_hz)" -v g="$_f1" \
		'BEGIN { if (g <= 0) { print 9; exit }
			 r = f / g; print r < 1 ? 1 - r : r - 1 }')" "<=" 0.05
done
lb_done
