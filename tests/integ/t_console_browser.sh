#!/bin/sh
# shellcheck disable=SC2016 # awk programs in single quotes
# The operator console in a real browser (Debian's Chromium, headless,
# driven by tests/browser/console.mjs through playwright-core): a bridge
# with accounts and an expected-site roster, two baresip sites in room
# 1000, alice speaking, bob silent, both recording what they hear.
#  (a) the page: login form, both site rows, roster states, live stream,
#      alice's meter reads and moves with speech, bob's stays low, alice
#      marked talking, a bookmark, the language toggle, a viewer sees no
#      controls and is refused (403); screenshot console.png;
#  (b) the operator clicks mute on alice: the API says she is muted, and
#      bob's recording holds her speech before the click (level and
#      wavpresence against what she sent) and silence from 1 s after it.
# The click is placed on bob's recording by wall clock: the moment the
# bridge answered the mute (console.mjs prints it) minus the moment
# baresip created the recording (its birth time; the file grows in real
# time, which the test checks).
# Env: CHROMIUM (default /usr/bin/chromium); LB_UPDATE_DOCS=1 copies the
# screenshot to docs/operator-console.png (copied anyway when absent).
. "$(dirname "$0")/lib.sh"
lb_init console_browser

HERE=$(cd "$(dirname "$0")" && pwd)
DOCS_DIR=$(cd "$HERE/../../docs" && pwd)
lb_browser_setup

# ---- the bridge: two accounts, a roster of three ----------------------------
OPW=operator-pass-1
VPW=viewer-pass-1
oph=$(echo "$OPW" | "$LB_BIN" passwd) || lb_bail "lowbridge passwd works"
vih=$(echo "$VPW" | "$LB_BIN" passwd) || lb_bail "lowbridge passwd works"
# shellcheck disable=SC2034 # read by lb_http in lib.sh
LB_HTTP_AUTH="an:$OPW"
lb_bridge_start <<EOF
[user an]
role = operator
$oph

[user xem]
role = viewer
$vih

[room 1000]
name = Họp giao ban huyện
expect = Xã Tân Lập; user=alice; contact=Nguyễn Văn An; phone=0912 345 678
expect = Xã Bình Minh; user=bob; contact=Trần Thị Bích; phone=0987 654 321
expect = Xã Hòa Bình; user=dave; contact=Lê Văn Cường; phone=0903 111 222
EOF

# alice speaks all along (20 s of speech, three times), bob sends silence
lb_speech "$LB_T/talk.wav" 48000 2 en-us \
	"$LB_TEXT_EN1 $LB_TEXT_EN2 $LB_TEXT_EN3" 20
sox -q "$LB_T/talk.wav" -r 48000 -c 2 -b 16 "$LB_T/talk.src.wav" repeat 2 ||
	lb_bail "sox repeats the speech"
sox -q -n -r 48000 -c 2 -b 16 "$LB_T/silence.wav" trim 0 90 ||
	lb_bail "sox makes silence"
lb_site_start alice opus "$LB_T/talk.src.wav"
lb_site_start bob opus "$LB_T/silence.wav"
lb_site_dial alice 1000
lb_site_dial bob 1000
_up=0
for _s in alice bob; do
	lb_site_wait $_s CALL_ESTABLISHED 10 && _up=$((_up + 1))
done
lb_assert "alice and bob connected" "$_up" "==" 2
[ "$_up" -eq 2 ] || { lb_bridge_log_tail 20; lb_done; }
TK=$(lb_room_get 1000 sites.name=alice.id)
SL=$(lb_room_get 1000 sites.name=bob.id)
lb_note "alice is $TK, bob is $SL"

# ---- (a) the page -----------------------------------------------------------
SHOTS=$LB_T/shots
_t0=$(lb_now_ms)
timeout 90 node "$BROWSER_DIR/console.mjs" \
	"http://127.0.0.1:$LB_HTTP_PORT/" "$SHOTS" "$TK" "$SL" \
	"an:$OPW" "xem:$VPW" > "$LB_T/console.out" 2>&1
_rc=$?
_t1=$(lb_now_ms)
# its TAP lines become ours
while IFS= read -r _l; do
	case $_l in
	"ok - "*) lb_ok "(a) ${_l#ok - }" ;;
	"not ok - "*) lb_not_ok "(a) ${_l#not ok - }" ;;
	"# "*) echo "$_l" ;;
	*=*) ;;
	*) echo "#   node: $_l" ;;
	esac
done < "$LB_T/console.out"
lb_assert "(a) console.mjs exits 0" "$_rc" "==" 0
lb_note "browser part: $(awk -v a="$_t0" -v b="$_t1" \
	'BEGIN { printf "%.1f", (b - a) / 1000 }') s"
MUTE_MS=$(sed -n 's/^mute_ms=//p' "$LB_T/console.out")

if [ -f "$SHOTS/console.png" ]; then
	lb_ok "(a) screenshot $SHOTS/console.png"
	_doc=$DOCS_DIR/operator-console.png
	if [ -n "$LB_UPDATE_DOCS" ] || [ ! -f "$_doc" ]; then
		cp "$SHOTS/console.png" "$_doc" &&
			lb_note "copied to docs/operator-console.png"
	fi
else
	lb_not_ok "(a) screenshot console.png saved"
fi
[ -n "$LB_KEEP" ] && lb_note "screenshots in $SHOTS"

# ---- (b) what bob heard -----------------------------------------------------
# calc EXPR [-v VAR=VALUE...]: awk arithmetic, two decimals
calc() {
	_ce=$1
	shift
	awk "$@" "BEGIN { x = $_ce; printf \"%.2f\", x }"
}
# stat_ms FORMAT FILE: a time stamp of FILE (%w birth, %y last change) in ms
stat_ms() {
	_sm=$(stat -c "$1" "$2" 2>/dev/null)
	[ -n "$_sm" ] && [ "$_sm" != "-" ] && date -d "$_sm" +%s%3N
}
if [ -z "$MUTE_MS" ]; then
	lb_not_ok "(b) the mute's time printed by console.mjs"
	lb_done
fi
lb_assert "(b) API: alice muted" \
	"$([ "$(lb_room_get 1000 sites.name=alice.muted)" = true ] &&
	   echo 1 || echo 0)" "==" 1
# 3.5 s of bob's call after the mute
_wait=$((MUTE_MS + 3500 - $(lb_now_ms)))
[ "$_wait" -gt 0 ] && sleep "$(calc 'w / 1000' -v w="$_wait")"
REC=$(lb_site_rec bob)
lb_site_quit bob
lb_site_quit alice
_birth=$(stat_ms %w "$REC")
_end=$(stat_ms %y "$REC")
if [ -z "$REC" ] || [ -z "$_birth" ] || [ -z "$_end" ]; then
	lb_not_ok "(b) bob's recording and its creation time (${REC:-none})"
	lb_done
fi
_dur=$(soxi -D "$REC" 2>/dev/null)
# the recording grows in real time: its length is the wall time from its
# creation to its last write (within 0.5 s), so wall clock maps onto it
lb_assert "(b) bob's recording is as long as it was written for (s off)" \
	"$(calc 'd - (e - b) / 1000' -v d="${_dur:-0}" -v b="$_birth" \
	   -v e="$_end" | tr -d -)" "<" 0.5
TM=$(calc '(m - b) / 1000' -v m="$MUTE_MS" -v b="$_birth")
lb_note "bob's recording: ${_dur} s, the mute at ${TM} s"

# level per 250 ms window (dBFS), 8 kHz mono: "start_s level" lines
sox -q "$REC" -r 8000 -c 1 -t dat - 2>/dev/null | awk '
	!/^;/ { e += $2 * $2; n++
		if (n == 2000) {
			printf "%.2f %.1f\n", w * 0.25,
				(e > 0 ? 10 * log(e / n) / log(10) : -120)
			w++; e = 0; n = 0 } }' > "$LB_T/levels.txt"
# windows wholly in [A, B): share above -45 dBFS (speech), and the loudest
win() {
	awk -v a="$1" -v b="$2" '$1 >= a && $1 + 0.25 <= b {
		n++; if ($2 > -45) s++; if (n == 1 || $2 > m) m = $2 }
		END { printf "%d %.2f %.1f\n", n, (n ? s / n : 0),
			     (n ? m : -120) }' "$LB_T/levels.txt"
}
_pre_a=$(calc '(t - 4.5 < 0.5 ? 0.5 : t - 4.5)' -v t="$TM")
_pre_b=$(calc 't - 0.5' -v t="$TM")
_post_a=$(calc 't + 1' -v t="$TM")
_post_b=$(calc 'd - 0.3' -v d="$_dur")
# shellcheck disable=SC2046
set -- $(win "$_pre_a" "$_pre_b")
lb_note "before the mute ($_pre_a-$_pre_b s): $1 windows, $2 speech," \
	"loudest $3 dBFS"
_d="(b) bob hears alice before the mute: share of 250 ms windows"
lb_assert "$_d above -45 dBFS" "$2" ">=" 0.5
# shellcheck disable=SC2046
set -- $(win "$_post_a" "$_post_b")
lb_note "after the mute ($_post_a-$_post_b s): $1 windows, loudest $3 dBFS"
lb_assert "(b) 1.5 s or more of bob's call after the mute (windows)" \
	"$1" ">=" 6
_d="(b) bob hears nothing from 1 s after the mute: loudest window"
lb_assert "$_d (dBFS)" "$3" "<" -60
# and what he heard before was alice's speech, not noise
sox -q "$REC" "$LB_T/pre.wav" trim "$_pre_a" "=$_pre_b" 2>/dev/null
# (her speech repeats every 20 s from the start of her call: a lag of
# up to -22 s)
if lb_presence -l -22000:2000 "$LB_T/pre.wav" "$LB_T/talk.wav"; then
	lb_assert "(b) before the mute it is alice's speech: share_db" \
		"$(lb_presence_get "$LB_T/talk.wav" share_db)" ">" -6
else
	lb_not_ok "(b) wavpresence reads bob's recording before the mute"
fi
lb_done
