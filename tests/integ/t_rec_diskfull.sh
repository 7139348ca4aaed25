#!/bin/sh
# shellcheck disable=SC2016 # awk programs in single quotes
# A full disk while recording: the data directory is a small tmpfs the
# test mounts (as root; skipped otherwise), nearly filled by a file of
# ours. Two talking sites (echosite) are recorded until the disk fills.
#  (a) no crash: the bridge runs on and the sites stay connected;
#  (b) the alarm is raised: the room JSON says recording paused with
#      the cause, the log warns;
#  (c) the mix keeps flowing: no more late ticks than before the alarm,
#      and the sites are still sent packets;
#  (d) earlier audio is intact: every file written so far decodes;
#  (e) when space returns (the filler removed) recording resumes in new
#      segment files that decode, and the journal and manifest say so.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_echo.sh"
lb_init rec_diskfull
for _c in opusinfo opusdec; do
	command -v $_c >/dev/null 2>&1 || lb_bail "$_c installed (make deps-test)"
done
MNT=$LB_T/data
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=3m tmpfs "$MNT" 2>/dev/null; then
	echo "ok - # SKIP a tmpfs cannot be mounted here (not root?)"
	lb_done
fi
trap 'umount "$MNT" 2>/dev/null; lb_cleanup' EXIT
lb_speech "$LB_T/talk.wav" 16000 1 en-us "$LB_TEXT_EN1 $LB_TEXT_EN2 \
$LB_TEXT_EN3" 30

lb_bridge_start <<EOF
[room 1000]
name = Full disk
record = on
EOF
# leave about 60 kB: seconds of three Opus files
_free=$(df -k "$MNT" | awk 'NR == 2 { print $4 }')
dd if=/dev/zero of="$MNT/filler" bs=1k count=$((_free - 60)) 2>/dev/null
lb_note "tmpfs: $(df -k "$MNT" | awk 'NR == 2 { print $4 }') kB free"
le_echo_start a 1000 --echo-db -120 --speech "$LB_T/talk.wav" \
	--duration 60 --noise-dbfs -60
le_echo_start b 1000 --echo-db -120 --speech "$LB_T/talk.wav" \
	--speech-at 2 --duration 60 --noise-dbfs -60
le_echo_wait a 10 && le_echo_wait b 10 || lb_not_ok "the sites connect"

paused_() {
	[ "$(lb_room_get 1000 recording.paused 2>/dev/null)" = true ]
}
late_() { lb_room_get 1000 mixer.late_ticks; }
out_() { lb_room_get 1000 rtp.tx_packets; }

lb_wait_for 40 paused_
_late0=$(late_)
_out0=$(out_)
_sess=$(lb_room_get 1000 recording.session)
lb_note "alarm: $(lb_room_get 1000 recording.alarm)"
lb_assert "(b) the room JSON says recording paused" \
	"$(paused_ && echo 1 || echo 0)" "==" 1
lb_assert "(b) the log warns" \
	"$(grep -c 'recording paused' "$LB_T/bridge.log")" ">=" 1
sleep 3
_late1=$(late_)
_out1=$(out_)
lb_note "late ticks $_late0 -> $_late1, packets sent $_out0 -> $_out1 over 3 s"
lb_assert "(a) the bridge runs on" \
	"$(lb_alive "$LB_BRIDGE_PID" && echo 1 || echo 0)" "==" 1
lb_assert "(c) late ticks while the disk is full" \
	"$((_late1 - _late0))" "<=" 1
lb_assert "(c) packets sent in those 3 s (2 sites, 50/s each)" \
	"$((_out1 - _out0))" ">=" 250
DIR=$MNT/recordings/1000/$_sess
_bad=0
for _p in "$DIR"/*.opus; do
	_oi=$(opusinfo "$_p" 2>/dev/null | grep -c 'Playback length')
	opusdec --quiet "$_p" "$LB_T/dec.wav" 2>/dev/null || _oi=0
	lb_note "  $(basename "$_p"): $(soxi -D "$LB_T/dec.wav" 2>/dev/null) s"
	[ "$_oi" -ge 1 ] || _bad=$((_bad + 1))
done
lb_assert "(d) files written before the alarm that do not decode" \
	"$_bad" "==" 0

rm -f "$MNT/filler"
lb_wait_for 10 sh -c "! curl -sf http://127.0.0.1:$LB_HTTP_PORT/api/rooms/1000 |
	grep -q '\"paused\":true'"
lb_assert "(e) recording resumes once space is back" \
	"$(paused_ && echo 0 || echo 1)" "==" 1
sleep 2
for _s in a b; do
	le_echo_stop $_s
done
lb_wait_for 5 grep -q session_end "$DIR/journal.jsonl"
_segs=$(ls "$DIR"/*.2.opus 2>/dev/null | wc -l)
lb_assert "(e) new segment files (mix and both sites)" "$_segs" "==" 3
_bad=0
for _p in "$DIR"/*.2.opus; do
	opusdec --quiet "$_p" "$LB_T/dec.wav" 2>/dev/null || _bad=$((_bad + 1))
done
lb_assert "(e) segments that do not decode" "$_bad" "==" 0
lb_assert "(e) the journal has the alarm and the resume" \
	"$(grep -c '"ev":"alarm"\|"ev":"resume"' "$DIR/journal.jsonl")" "==" 2
lb_assert "(e) the manifest lists the segments" \
	"$(grep -c '\.2\.opus' "$DIR/session.json")" "==" 3
lb_stop "$LB_BRIDGE_PID"
umount "$MNT" 2>/dev/null
lb_done
