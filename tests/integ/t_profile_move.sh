#!/bin/sh
# shellcheck disable=SC2016 # awk programs in single quotes
# Profile moves under load: a site that talks, and echoes what it hears,
# asks the bridge by re-INVITE for other packets twice during the call:
# 20 ms at 16 kbit/s -> 40 ms at 8 kbit/s (at 12 s) -> 20 ms at 16 kbit/s
# (at 21 s), each time while it talks. The bridge must move its member between profiles and keep
# its jitter buffer, decoder and speech chain:
#   alice  baresip, Opus: talks the whole call (the moved site hears her);
#   echo   echosite, Opus: plays what it hears into a room (-10 dB, 150 ms,
#          RT60 0.4 s), talks itself over alice at 10-15 s and
#          19-24 s (its canceller learnt on alice alone before), and
#          re-INVITEs;
#   bob    baresip, Opus: listens (hears alice and the echo site).
# Asserts, each with its figure:
#  (a) the API shows each move: the echo site's send ptime/bitrate;
#  (b) no gap: the echo site's playout missed no 20 ms frame after the
#      first second, and the bridge's stream to it never restarted (one
#      SSRC: echosite counts resyncs; a rebuilt member would be a new
#      stream);
#  (c) no drop-out at the moves: wavgap on what the echo site heard,
#      the longest run of digital silence at each move (clicks are
#      measured where they can be told from speech, on decoded streams
#      against references: tests/unit/test_mixcore.c test_move);
#  (d) the member was kept: its packet counter never goes back (a new
#      member starts at 0), its echo canceller stays converged (ERLE in
#      the single talk after each move no more than 6 dB under the
#      single talk before the first; a new canceller starts at 0);
#  (e) the echo site's speech still reaches bob after the moves.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_echo.sh"
lb_init profile_move
for _t in echosite wavgap; do
	[ -x "$LB_TOOLS/$_t" ] ||
		lb_bail "test tool $LB_TOOLS/$_t built (make tools)"
done
CALL_S=28
MOVE1_S=12
MOVE2_S=21

# talk_long OUT LEAD_S TEXT...: the texts one after the other, 0.3 s
# apart, after LEAD_S of silence (mono 16 kHz; OUT.src.wav for baresip)
talk_long() {
	_tl_o=$1
	_tl_lead=$2
	shift 2
	_tl_i=0
	_tl_parts=
	for _tl_t in "$@"; do
		lb_speech "$_tl_o.p$_tl_i.wav" 16000 1 en-us "$_tl_t" 30
		sox -q "$_tl_o.p$_tl_i.wav" "$_tl_o.q$_tl_i.wav" pad 0 0.3 ||
			lb_bail "sox pads speech"
		_tl_parts="$_tl_parts $_tl_o.q$_tl_i.wav"
		_tl_i=$((_tl_i + 1))
	done
	# shellcheck disable=SC2086
	sox -q $_tl_parts "$_tl_o.cat.wav" || lb_bail "sox joins speech"
	sox -q "$_tl_o.cat.wav" "$_tl_o" pad "$_tl_lead" 0 ||
		lb_bail "sox pads speech"
	sox -q "$_tl_o" -r 48000 -c 2 -b 16 "$_tl_o.src.wav" pad 0 60 ||
		lb_bail "sox makes the talker's source"
}
talk_long "$LB_T/alice.wav" 1 "$LB_TEXT_EN1" "$LB_TEXT_EN3" \
	"$LB_TEXT_EN2" "$LB_TEXT_EN1" "$LB_TEXT_EN3"
# The echo site's own speech in other voices than alice's: the same
# synthetic voice saying the same text is the same waveform, and with
# alice saying it too, 0.55 s apart, the canceller's delay search found
# that line-up in the double talk (a true correlation no two people
# make) and lost the echo path about one run in two.
lb_speech "$LB_T/near1.wav" 16000 1 vi "$LB_TEXT_VI" 5
lb_speech "$LB_T/near2.wav" 16000 1 en-gb-scotland "$LB_TEXT_EN2" 5
sox -q "$LB_T/near1.wav" "$LB_T/near1p.wav" pad 0 4 &&
	sox -q "$LB_T/near1p.wav" "$LB_T/near2.wav" "$LB_T/near.wav" ||
	lb_bail "sox joins the near speech"
# the echo site's speech on the call's timeline, for the analysis
sox -q "$LB_T/near.wav" "$LB_T/near_ref.wav" pad 10 0 ||
	lb_bail "sox pads the near speech"
le_silence_wav "$LB_T/silence.wav" 48000 2 60

lb_bridge_start <<EOF
[room 1000]
name = Moves
max_sites = 10
EOF
lb_site_start alice opus "$LB_T/alice.wav.src.wav"
lb_site_start bob opus "$LB_T/silence.wav"
lb_site_dial bob 1000
lb_site_dial alice 1000
_up=0
for _s in alice bob; do
	if lb_site_wait $_s CALL_ESTABLISHED 10; then
		_up=$((_up + 1))
	else
		lb_site_log_tail $_s
	fi
done
# The echo site's 20 ms clock is set so the bridge's packets reach it
# 10 ms before its tick (--tick-phase-ms, as in t_ready_probe): left to
# chance, about 1 run in 10 failed (d)'s sanity check: a canceller not
# converged 7 s into the call, before any move, with the site's tick
# close to the bridge's, where its loop flips by a frame now and then.
# What (d) measures is whether a move keeps the canceller, not that.
le_echo_start echo 1000 --echo-db -10 --delay-ms 150 --rt60 0.4 \
	--jb-ms 120 --noise-dbfs -55 --speech "$LB_T/near.wav" \
	--speech-at 10 --duration $CALL_S --tick-phase-ms 10 \
	--move "$MOVE1_S:40:8" --move "$MOVE2_S:20:16"
if le_echo_wait echo 10; then
	_up=$((_up + 1))
else
	le_echo_log echo
fi
lb_assert "all three sites connected" "$_up" "==" 3
if [ "$_up" -ne 3 ]; then
	lb_bridge_log_tail 30
	lb_done
fi
le_sampler_start 1000 0.25
lb_wait_for $((CALL_S + 8)) lb_not_alive_ "$(cat "$LB_T/echo_echo/pid")"
le_sampler_stop
le_echo_stop echo
_rc=$?
le_echo_log echo
lb_assert "echosite's call ended cleanly (exit status)" "$_rc" "==" 0
lb_bridge_log_tail 40 | grep -E "site s[0-9]+: (now|media)" || true
for _s in alice bob; do
	lb_site_quit $_s
done

# ---- the API over time: ms ptime bitrate own pkts_in erle delay present
while read -r _ms _json; do
	_l=$_ms
	for _k in send.ptime send.bitrate send.own_stream packets_in \
		  echo.erle_db echo.delay_ms echo.present talking voice \
		  echo_only dsp.echo_likelihood; do
		_v=$(echo "$_json" | "$LB_TOOLS/jsonq" \
			"sites.name=echo.$_k" 2>/dev/null)
		_l="$_l ${_v:--}"
	done
	echo "$_l"
done < "$LB_T/sampler/samples" > "$LB_T/echo.table"
awk 'NR % 8 == 1 { print "#   api: " $0 }' "$LB_T/echo.table"

_t1=$((MOVE1_S * 1000))
_t2=$((MOVE2_S * 1000))
_n40=$(awk -v a=$((_t1 + 1500)) -v b=$((_t2 - 200)) \
	'$1 >= a && $1 < b { n++; if ($2 == 40 && $3 == 8000) k++ }
	 END { printf "%d of %d", k, n }' "$LB_T/echo.table")
_n20=$(awk -v a=$((_t2 + 1500)) -v b=$(((CALL_S - 1) * 1000)) \
	'$1 >= a && $1 < b { n++; if ($2 == 20 && $3 == 16000) k++ }
	 END { printf "%d of %d", k, n }' "$LB_T/echo.table")
lb_note "(a) samples at 40 ms / 8 kbit/s between the moves: $_n40;" \
	"at 20 ms / 16 kbit/s after the second: $_n20"
lb_assert "(a) the move to 40 ms, 8 kbit/s shows in the API (samples)" \
	"$(echo "$_n40" | awk '{ print ($1 == $3 && $3 > 4) }')" "==" 1
lb_assert "(a) the move back shows in the API (samples)" \
	"$(echo "$_n20" | awk '{ print ($1 == $3 && $3 > 4) }')" "==" 1

# ---- (b) gaps
_sum=$(grep 'summary:' "$LB_T/echo_echo/log")
_miss=$(echo "$_sum" | sed -n 's/.*missing \([0-9]*\) frames.*/\1/p')
_resync=$(echo "$_sum" | sed -n 's/.*resyncs \([0-9]*\).*/\1/p')
lb_assert "(b) 20 ms frames the echo site had nothing to play" \
	"${_miss:-999}" "<=" 1
lb_assert "(b) restarts of the bridge's stream to it (resyncs)" \
	"${_resync:-999}" "==" 0

# ---- (c) drop-outs, on the echo site's loudspeaker (its call timeline)
REC=$LB_T/echo_echo/rec.wav
if "$LB_TOOLS/wavgap" "$REC" "$MOVE1_S" "$MOVE2_S" \
	> "$LB_T/gap.out" 2>&1; then
	sed 's/^/#   /' "$LB_T/gap.out"
	_worst=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^zero_ms=/) {
		v = substr($i, 9); if (v > m) m = v } } END { print m + 0 }' \
		"$LB_T/gap.out")
	lb_assert "(c) longest digital silence at a move (ms)" "$_worst" \
		"<" 20
else
	lb_not_ok "wavgap analyses the echo site's recording"
	cat "$LB_T/gap.out"
fi

# ---- (d) the member was kept
_back=$(awk '$5 != "-" { if (p != "" && $5 + 0 < p + 0) n++; p = $5 }
	END { print n + 0 }' "$LB_T/echo.table")
lb_assert "(d) samples where its packet counter went back" "$_back" "==" 0
# mean of column COL over [A, B) ms; median with MED set
win() {
	awk -v a="$1" -v b="$2" -v c="$3" -v med="$4" '$1 >= a && $1 < b &&
		$c != "-" && $c + 0 >= 0 { v[n++] = $c; s += $c }
		END { if (!n) { print "nan"; exit }
		      if (!med) { printf "%.1f", s / n; exit }
		      for (i = 0; i < n; i++) for (j = i + 1; j < n; j++)
			      if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		      print v[int(n / 2)] }' "$LB_T/echo.table"
}
_erle0=$(win $((_t1 - 4000)) $((_t1 - 2000)) 6)
_erle1=$(win $((_t1 + 3500)) $((_t1 + 6000)) 6)
_erle2=$(win $((_t2 + 4000)) $((CALL_S * 1000 - 500)) 6)
_d0=$(win $((_t1 - 4000)) $((_t1 - 2000)) 7 1)
_d2=$(win $((_t2 + 4000)) $((CALL_S * 1000 - 500)) 7 1)
lb_note "(d) echo canceller, in single talk: ERLE $_erle0 dB before the" \
	"first move, $_erle1 after it, $_erle2 after the second; delay" \
	"(median) $_d0 ms before, $_d2 ms at the end"
lb_assert "(d) sanity: the canceller had converged before the move" \
	"$_erle0" ">" 6
lb_assert "(d) ERLE after the first move" "$_erle1" ">" \
	"$(awk -v e="$_erle0" 'BEGIN { print e - 6 }')"
lb_assert "(d) ERLE after the second move" "$_erle2" ">" \
	"$(awk -v e="$_erle0" 'BEGIN { print e - 6 }')"
# not asserted: the canceller's delay search wanders during double
# talk whether or not the site moves (seen: 286.6 -> 839 -> 135 -> 269
# ms within 3 s of talk over alice, with no move near)

# ---- (e) the moved site is still heard
BOB=$(lb_site_rec bob)
if [ -n "$BOB" ]; then
	lb_presence "$BOB" "$LB_T/near_ref.wav" "$LB_T/alice.wav" ||
		lb_not_ok "wavpresence analyses bob's recording"
	lb_assert "(e) bob hears the echo site's speech: share_db" \
		"$(lb_presence_get "$LB_T/near_ref.wav" share_db)" ">" -15
else
	lb_not_ok "bob's recording present"
fi
lb_done
