#!/bin/sh
# shellcheck disable=SC2016 # awk programs in single quotes
# A readiness test window with six expected sites, scheduled by the
# room's test_window key (this minute to 3 minutes on), run through the
# real binary with echosites over SIP:
#   An Binh     good: loudspeaker path (-15 dB), people speak (Opus);
#   Binh Minh   good, on G.711 (PCMU);
#   Cat Tien    never connects;
#   Dong Tam    leaves after 10 s, before the test is declared complete;
#   Hoa Lac     loudspeaker works, but its microphone hears no one;
#   Long Phu    speaks, but its line loses 10 % of what it sends, in
#               bursts (Gilbert-Elliott, mean run 3 packets).
# The operator declares the test complete in the console (headless
# Chromium, tests/browser/readiness.mjs: the test-run panel, the check
# states in the roster, the button) and closes it (API). Asserts:
#  (a) the report rows: each site's pass/fail and the reason (never
#      connected, left before completion, mic silent, line loss ~10 %),
#      contact and phone carried, the summary counts;
#  (b) the report kept: DATA/readiness/1000/WINDOW/report.{json,csv,html}
#      and report.vi.html (Vietnamese),
#      the CSV with a header and six rows, and `lowbridge report sites
#      --since TODAY --json` reading them back from the catalogue, also
#      after the catalogue is deleted (rebuilt from the folders);
#  (c) the HTML report rendered in headless Chromium (tests/browser/
#      report.mjs): summary, six rows with their verdict and problems,
#      fits the page, prints to PDF; report.png kept in the temp dir.
# The window opened by the config is checked in the room JSON (test.state)
# before any site calls.
# Env: lib.sh's; CHROMIUM.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_echo.sh"
lb_init ready_window
[ -x "$LB_TOOLS/echosite" ] ||
	lb_bail "test tool $LB_TOOLS/echosite built (make tools)"
lb_browser_setup

# the window: this minute until 3 minutes on (the API opens it instead
# in the last minutes of a day, where HH:MM-HH:MM cannot span midnight)
now_min=$(( $(date +%-H) * 60 + $(date +%-M) ))
if [ $now_min -le $((24 * 60 - 4)) ]; then
	WIN=$(printf '%02d:%02d-%02d:%02d' $((now_min / 60)) $((now_min % 60)) \
		$(((now_min + 3) / 60)) $(((now_min + 3) % 60)))
	WINLINE="test_window = $WIN"
else
	WIN=api WINLINE=""
fi

le_talk_wav "$LB_T/talk.wav" 16000 0.1 "$LB_TEXT_EN1" 2 0.3 \
	"$LB_TEXT_EN2" 1.4
lb_bridge_start <<EOF
[room 1000]
name = Họp chạy thử
$WINLINE
expect = Xã An Bình; user=anbinh; contact=Nguyễn Văn An; phone=0912 111 222
expect = Xã Bình Minh; user=binhminh; contact=Lê Thị Minh; phone=0913 333 444
expect = Xã Cát Tiên; user=cattien; contact=Phạm Văn Tiên; phone=0914 555 666
expect = Xã Đồng Tâm; user=dongtam
expect = Xã Hòa Lạc; user=hoalac
expect = Xã Long Phú; user=longphu; contact=Trần Văn Phú
EOF
P="http://127.0.0.1:$LB_HTTP_PORT/api/rooms/1000/test"
if [ "$WIN" = api ]; then
	curl -s -o /dev/null -X POST "$P?action=open&minutes=5"
fi
win_open_() {
	[ "$(lb_room_get 1000 test.state)" = open ]
}
lb_check "the window ($WIN) is open before anyone calls" \
	lb_wait_for 5 win_open_

SPEAK="--speech $LB_T/talk.wav --speech-at 9 --speech-every 5"
# Each site's 20 ms clock is set so the bridge's packets reach it 10 ms
# before its tick (--tick-phase-ms), as in t_ready_probe: a site whose
# tick falls within the bridge's processing time of the bridge's own has
# half its packets reach the bridge a tick late, and the probe then
# finds its return 11-14 dB low; An Binh (-15 dB) was once judged "no
# sound came back" in CI. What this test checks is the window's
# workflow and verdicts; the probe's figures are t_ready_probe's.
SPEAK="$SPEAK --tick-phase-ms 10"
# shellcheck disable=SC2086 # SPEAK is a list of options
{
	le_echo_start anbinh 1000 --echo-db -15 --duration 90 $SPEAK
	le_echo_start binhminh 1000 --codecs pcmu --echo-db -10 \
		--delay-ms 200 --duration 90 $SPEAK
	le_echo_start dongtam 1000 --echo-db -12 --duration 10 $SPEAK
	le_echo_start hoalac 1000 --echo-db -12 --duration 90 \
		--tick-phase-ms 10
	le_echo_start longphu 1000 --echo-db -15 --tx-loss 10 --tx-burst 3 \
		--seed 7 \
		--duration 90 $SPEAK
}
for s in anbinh binhminh dongtam hoalac longphu; do
	le_echo_wait $s 10 || lb_bail "$s connects"
done

# until every connected site's talk check has a verdict (60 s at most)
mic_() {
	lb_http /api/rooms/1000/test > "$LB_T/t.json" 2>/dev/null || return 1
	for _n in "Xã An Bình" "Xã Bình Minh" "Xã Hòa Lạc" "Xã Long Phú"; do
		_r=$("$LB_TOOLS/jsonq" "sites.name=$_n.mic.result" \
			< "$LB_T/t.json")
		[ "$_r" = pending ] && return 1
	done
	return 0
}
lb_wait_for 60 mic_ || lb_note "not every talk check within 60 s"
# the operator declares the test complete from the console
timeout 90 node "$BROWSER_DIR/readiness.mjs" \
	"http://127.0.0.1:$LB_HTTP_PORT/" 1000 "$LB_T/browser" \
	> "$LB_T/console.out" 2>&1
cst=$?
while IFS= read -r line; do
	case "$line" in
	"ok - "*) lb_ok "console: ${line#ok - }" ;;
	"not ok - "*) lb_not_ok "console: ${line#not ok - }" ;;
	"# "*) echo "$line" ;;
	*) echo "#   node: $line" ;;
	esac
done < "$LB_T/console.out"
lb_assert "readiness.mjs exit status" "$cst" == 0
lb_check "API: declared complete" \
	[ "$(lb_room_get 1000 test.state)" = complete ]
sleep 2
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$P?action=close")
lb_assert "and closes the window" "$code" == 200
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$P?action=close")
lb_assert "a second close finds nothing open" "$code" == 409
lb_http /api/rooms/1000/test > "$LB_T/report.json"
get() { "$LB_TOOLS/jsonq" "sites.name=$1.$2" < "$LB_T/report.json"; }
for n in "Xã An Bình" "Xã Bình Minh" "Xã Cát Tiên" "Xã Đồng Tâm" \
	 "Xã Hòa Lạc" "Xã Long Phú"; do
	lb_note "$n: pass $(get "$n" pass) speaker $(get "$n" speaker.result)" \
		"mic $(get "$n" mic.result) $(get "$n" mic.speech_dbfs) dBFS" \
		"link $(get "$n" link.result) loss $(get "$n" link.loss_up_pct)" \
		"-- $(get "$n" problems)"
done

# (a)
lb_check "An Binh passes" [ "$(get "Xã An Bình" pass)" = true ]
lb_check "Binh Minh (PCMU) passes" [ "$(get "Xã Bình Minh" pass)" = true ]
lb_check "Cat Tien: never connected" \
	[ "$(get "Xã Cát Tiên" connected_at)" = null ] &&
	[ "$(get "Xã Cát Tiên" pass)" = false ]
lb_check "Cat Tien: contact and phone in its row" \
	[ "$(get "Xã Cát Tiên" phone)" = "0914 555 666" ]
lb_check "Dong Tam: left before completion" \
	[ "$(get "Xã Đồng Tâm" left_early)" = true ] &&
	[ "$(get "Xã Đồng Tâm" pass)" = false ]
lb_check "Hoa Lac: loudspeaker works" \
	[ "$(get "Xã Hòa Lạc" speaker.result)" = ok ]
lb_check "Hoa Lac: mic silent, fails" \
	[ "$(get "Xã Hòa Lạc" mic.result)" = silent ] &&
	[ "$(get "Xã Hòa Lạc" pass)" = false ]
lb_check "Long Phu: mic good" [ "$(get "Xã Long Phú" mic.result)" = good ]
lb_check "Long Phu: link fails" [ "$(get "Xã Long Phú" link.result)" = fail ]
lb_assert "Long Phu: loss up (%)" "$(get "Xã Long Phú" link.loss_up_pct)" \
	">=" 5
lb_assert "Long Phu: mean loss run (packets; bursts of 3 sent)" \
	"$(get "Xã Long Phú" link.mean_burst)" ">=" 2
lb_assert "Long Phu: mean loss run (packets)" \
	"$(get "Xã Long Phú" link.mean_burst)" "<=" 4.5
lb_assert "An Binh: loss up (%)" "$(get "Xã An Bình" link.loss_up_pct)" \
	"<=" 1
sum() { "$LB_TOOLS/jsonq" "summary.$1" < "$LB_T/report.json"; }
lb_assert "summary: expected" "$(sum expected)" == 6
lb_assert "summary: connected" "$(sum connected)" == 5
lb_assert "summary: passed" "$(sum passed)" == 2
lb_assert "summary: never connected" "$(sum never_connected)" == 1
lb_assert "summary: left early" "$(sum left_early)" == 1
lb_check "window state closed and declared complete" \
	[ "$("$LB_TOOLS/jsonq" window.state < "$LB_T/report.json")" = closed ] &&
	[ "$("$LB_TOOLS/jsonq" window.complete < "$LB_T/report.json")" != null ]

# (b)
WID=$("$LB_TOOLS/jsonq" window.id < "$LB_T/report.json")
D="$LB_T/data/readiness/1000/$WID"
kept_() { [ -s "$D/report.html" ] && [ -s "$D/report.csv" ] &&
	[ -s "$D/report.json" ]; }
lb_check "report kept in DATA/readiness/1000/$WID" lb_wait_for 5 kept_
lb_assert "CSV: header + 6 rows" "$(wc -l < "$D/report.csv")" == 7
lb_check "the Vietnamese report kept too, with its rows" \
	grep -q "KHÔNG ĐẠT.*không kết nối" "$D/report.vi.html"
lb_check "CSV: Long Phu's row says fail" \
	grep -q '"Xã Long Phú".*,fail,' "$D/report.csv"
"$LB_BIN" report sites --data "$LB_T/data" --since "$(date -u +%F)" \
	--json > "$LB_T/sites.json" 2> "$LB_T/sites.err"
lb_assert "report sites: six sites" \
	"$("$LB_TOOLS/jsonq" sites.# < "$LB_T/sites.json")" == 6
lb_assert "report sites: Cat Tien never connected" \
	"$("$LB_TOOLS/jsonq" "sites.site=Xã Cát Tiên.never_connected" \
	   < "$LB_T/sites.json")" == 1
lb_assert "report sites: Long Phu's link failed" \
	"$("$LB_TOOLS/jsonq" "sites.site=Xã Long Phú.link_failed" \
	   < "$LB_T/sites.json")" == 1
lb_assert "report sites: An Binh passed" \
	"$("$LB_TOOLS/jsonq" "sites.site=Xã An Bình.passed" \
	   < "$LB_T/sites.json")" == 1
# the catalogue lost: rebuilt from the folders, reports included
rm -f "$LB_T/data/catalogue.sqlite" "$LB_T/data/catalogue.sqlite-wal" \
	"$LB_T/data/catalogue.sqlite-shm"
"$LB_BIN" report sites --data "$LB_T/data" --json > "$LB_T/sites2.json"
lb_assert "catalogue rebuilt: six sites again" \
	"$("$LB_TOOLS/jsonq" sites.# < "$LB_T/sites2.json")" == 6
lb_assert "catalogue rebuilt: Long Phu's worst loss (%)" \
	"$("$LB_TOOLS/jsonq" "sites.site=Xã Long Phú.worst_loss_pct" \
	   < "$LB_T/sites2.json")" ">=" 5
"$LB_BIN" report sites --data "$LB_T/data" > "$LB_T/sites.txt"
sed 's/^/#   /' "$LB_T/sites.txt"

# (c)
cat > "$LB_T/expect.json" <<EOF
{"summary": "Expected sites: 6 · connected: 5 · passed: 2",
 "rows": [
  {"site": "Xã An Bình", "result": "PASS", "problem": ""},
  {"site": "Xã Bình Minh", "result": "PASS", "problem": ""},
  {"site": "Xã Cát Tiên", "result": "FAIL", "problem": "never connected"},
  {"site": "Xã Đồng Tâm", "result": "FAIL",
   "problem": "left before the test was complete"},
  {"site": "Xã Hòa Lạc", "result": "FAIL", "problem": "microphone silent"},
  {"site": "Xã Long Phú", "result": "FAIL",
   "problem": "line below the contract"}
 ]}
EOF
timeout 90 node "$BROWSER_DIR/report.mjs" "file://$D/report.html" \
	"$LB_T/browser" "$LB_T/expect.json" > "$LB_T/browser.out" 2>&1
bst=$?
while IFS= read -r line; do
	case "$line" in
	"ok - "*) lb_ok "browser: ${line#ok - }" ;;
	"not ok - "*) lb_not_ok "browser: ${line#not ok - }" ;;
	"# "*) echo "$line" ;;
	*) echo "#   node: $line" ;;
	esac
done < "$LB_T/browser.out"
lb_assert "report.mjs exit status" "$bst" == 0
lb_check "bridge still running" lb_alive "$LB_BRIDGE_PID"
lb_done
