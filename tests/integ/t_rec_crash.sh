#!/bin/sh
# shellcheck disable=SC2016 # awk programs in single quotes
# Crash safety of recordings: the bridge is killed with SIGKILL while it
# records two sites (echosite, Opus, talking), at seeded random moments
# (LB_SEED; 5 runs, 3-9 s into the session), and started again on the
# same data directory. After each kill:
#  (a) every file of the session opens with sndfile-info, opusinfo and
#      opusdec;
#  (b) each track's audio lasts to within 2 s of the kill;
#  (c) after the restart the session is closed as repaired (the log
#      says so), its manifest and the catalogue agree with the files
#      (duration within 2 s), and the sites have left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_echo.sh"
lb_init rec_crash
for _c in sndfile-info opusinfo opusdec; do
	command -v $_c >/dev/null 2>&1 || lb_bail "$_c installed (make deps-test)"
done
RUNS=${LB_CRASH_RUNS:-5}
SEED=${LB_SEED:-20261205}
lb_note "seed $SEED (rerun with LB_SEED=$SEED)"
lb_speech "$LB_T/talk.wav" 16000 1 en-us "$LB_TEXT_EN1 $LB_TEXT_EN2" 20

# (a heredoc: a pipe would run lb_bridge_start in a subshell)
bridge() {
	lb_bridge_start <<EOF
[room 1000]
name = Crash
record = on
EOF
}

now_ms() { date +%s%3N; }

run=1
while [ $run -le "$RUNS" ]; do
	# the kill moment, 3.00-8.99 s, from the seed and the run
	_k=$(awk -v s="$SEED" -v r="$run" 'BEGIN { srand(s * 31 + r);
		printf "%.2f", 3 + 6 * rand() }')
	bridge
	le_echo_start a$run 1000 --echo-db -120 --speech "$LB_T/talk.wav" \
		--duration 14 --noise-dbfs -60
	le_echo_start b$run 1000 --echo-db -120 --speech "$LB_T/talk.wav" \
		--speech-at 1 --duration 14 --noise-dbfs -60
	le_echo_wait a$run 10 && le_echo_wait b$run 10 ||
		lb_not_ok "run $run: the sites connect"
	_sess=""
	lb_wait_for 5 sh -c "curl -sf http://127.0.0.1:$LB_HTTP_PORT/api/rooms/1000 |
		grep -q '\"session\"'"
	_sess=$(lb_room_get 1000 recording.session)
	sleep "$_k"
	_kill_ms=$(now_ms)
	kill -KILL "$LB_BRIDGE_PID"
	wait "$LB_BRIDGE_PID" 2>/dev/null
	DIR=$(ls -d "$LB_T"/data/recordings/1000/"$_sess" 2>/dev/null)
	if [ -z "$_sess" ] || [ -z "$DIR" ]; then
		lb_not_ok "run $run: a session was being recorded"
		run=$((run + 1))
		continue
	fi
	_start=$(head -1 "$DIR/journal.jsonl" |
		sed -n 's/.*"unix_ms":\([0-9]*\).*/\1/p')
	_at=$(awk -v k="$_kill_ms" -v s="$_start" \
		'BEGIN { printf "%.2f", (k - s) / 1000 }')
	lb_note "run $run: killed $_k s after the sites joined, $_at s into" \
		"session $_sess"
	_files=0
	_bad=0
	_short=""
	for _p in "$DIR"/*.opus; do
		_files=$((_files + 1))
		_len=$(sndfile-info "$_p" 2>/dev/null |
			awk '/Frames/ { print $3 / 16000 }')
		_oi=$(opusinfo "$_p" 2>/dev/null | grep -c 'Playback length')
		opusdec --quiet "$_p" "$LB_T/dec.wav" 2>/dev/null || _oi=0
		[ -n "$_len" ] && [ "$_oi" -ge 1 ] || _bad=$((_bad + 1))
		# every file starts at the session's start
		lb_cmp "${_len:-0}" ">=" "$(awk -v a="$_at" \
			'BEGIN { print a - 2 }')" ||
			_short="$_short $(basename "$_p")=${_len:-?}"
		lb_note "  $(basename "$_p"): ${_len:-?} s"
	done
	lb_assert "run $run: (a) files of the session (mix + 2 sites)" \
		"$_files" "==" 3
	lb_assert "run $run: (a) files that sndfile-info, opusinfo or opusdec cannot read" \
		"$_bad" "==" 0
	lb_assert "run $run: (b) tracks that end more than 2 s before the kill${_short:+:$_short}" \
		"$(echo "$_short" | wc -w)" "==" 0
	le_echo_stop a$run
	le_echo_stop b$run

	# the restart repairs it
	bridge
	lb_assert "run $run: (c) the restarted bridge says it repaired the session" \
		"$(grep -c "session $_sess was left open by a crash" \
		"$LB_T/bridge.log")" "==" 1
	"$LB_BIN" recordings show "$_sess" --data "$LB_T/data" --json \
		> "$LB_T/show.json" 2>&1
	_state=$("$LB_TOOLS/jsonq" state < "$LB_T/show.json")
	_dur=$("$LB_TOOLS/jsonq" duration_s < "$LB_T/show.json")
	_mdur=$("$LB_TOOLS/jsonq" duration_s < "$DIR/session.json")
	_cat=$("$LB_BIN" recordings list --data "$LB_T/data" --json |
		"$LB_TOOLS/jsonq" "sessions.session=$_sess.state")
	_mix=$(sndfile-info "$DIR/mix.opus" 2>/dev/null |
		awk '/Frames/ { print $3 / 16000 }')
	_left=$("$LB_TOOLS/jsonq" 'sites.*.leave_s' < "$LB_T/show.json" |
		awk -v d="$_dur" '$1 > 0 && $1 <= d + 0.01 { n++ } END { print n + 0 }')
	lb_note "run $run: after the restart: $_state, journal ${_dur:-?} s," \
		"manifest ${_mdur:-?} s, catalogue '$_cat', mix file ${_mix:-?} s"
	lb_assert "run $run: (c) the journal says repaired" \
		"$([ "$_state" = repaired ] && echo 1 || echo 0)" "==" 1
	lb_assert "run $run: (c) the catalogue says repaired" \
		"$([ "$_cat" = repaired ] && echo 1 || echo 0)" "==" 1
	lb_assert "run $run: (c) manifest and journal agree (s)" \
		"$(awk -v a="${_dur:-0}" -v b="${_mdur:--99}" \
		'BEGIN { d = a - b; print d < 0 ? -d : d }')" "<" 0.01
	lb_assert "run $run: (c) its duration is the mix file's (s apart)" \
		"$(awk -v a="${_dur:-0}" -v b="${_mix:--99}" \
		'BEGIN { d = a - b; print d < 0 ? -d : d }')" "<" 2
	lb_assert "run $run: (c) both sites have left by then" "$_left" "==" 2
	lb_stop "$LB_BRIDGE_PID"
	run=$((run + 1))
done
lb_done
