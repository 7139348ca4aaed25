#!/bin/sh
# shellcheck disable=SC2016 # awk programs in single quotes
# Recordings for the minutes, with real clients: three baresip sites
# (Opus) in a recording room speak one after another:
#   alice 2-6 s, bob 7.5-11.5 s, carol 13-17 s of their calls.
# Asserts, each with its figure:
#  (a) the session's files: the mix and one track per site, Ogg Opus
#      that sndfile-info, opusinfo and opusdec read (Debian 12's sox has
#      no Opus reader), all starting at the session's start (same
#      length, within 0.5 s);
#  (b) each site's track holds its own speech (ESTOI against what it
#      sent >= 0.75) and no other site's (wavpresence share < -15 dB);
#  (c) the mix holds all three;
#  (d) the talk turns in the catalogue (recordings show --json) start
#      and end within 300 ms of when each site spoke (its speech placed
#      on the session's timeline by its track);
#  (e) the API lists the session and serves a file with a Range request;
#  (f) export of a clip equals the track's samples over that span, and
#      minutes name the three sites in the order they spoke.
. "$(dirname "$0")/lib.sh"
lb_init rec_sites
for _t in wavestoi; do
	[ -x "$LB_TOOLS/$_t" ] ||
		lb_bail "test tool $LB_TOOLS/$_t built (make tools)"
done
for _c in sndfile-info opusinfo opusdec; do
	command -v $_c >/dev/null 2>&1 || lb_bail "$_c installed (make deps-test)"
done
CALL_S=21

# talk NAME LEAD_S TEXT: 16 kHz mono reference (what it sends from the
# start of its call) and its 48 kHz stereo source for baresip
talk() {
	lb_speech "$LB_T/$1.sp.wav" 16000 1 en-us "$3" 4
	sox -q "$LB_T/$1.sp.wav" "$LB_T/$1.wav" pad "$2" \
		"$((CALL_S + 10))" trim 0 $((CALL_S + 8)) ||
		lb_bail "sox places $1's speech"
	sox -q "$LB_T/$1.wav" -r 48000 -c 2 -b 16 "$LB_T/$1.src.wav" ||
		lb_bail "sox makes $1's source"
}
talk alice 2 "$LB_TEXT_EN1"
talk bob 7.5 "$LB_TEXT_EN2"
talk carol 13 "$LB_TEXT_EN3"

lb_bridge_start <<EOF
[room 1000]
name = Commune meeting
record = on
EOF
for _s in alice bob carol; do
	lb_site_start $_s opus "$LB_T/$_s.src.wav"
done
for _s in alice bob carol; do
	lb_site_dial $_s 1000
done
_up=0
for _s in alice bob carol; do
	lb_site_wait $_s CALL_ESTABLISHED 10 && _up=$((_up + 1))
done
lb_assert "three sites connected" "$_up" "==" 3
sleep 2
_on=$(lb_room_get 1000 recording.session)
lb_note "recording session: ${_on:-(none)}"
lb_assert "(e) the room JSON names the session being recorded" \
	"$(echo "$_on" | grep -c '^1000-')" "==" 1
sleep $((CALL_S - 2))
for _s in alice bob carol; do
	lb_site_quit $_s
done
# the session ends with the last site; give the recorder a moment
lb_wait_for 5 sh -c "! curl -sf http://127.0.0.1:$LB_HTTP_PORT/api/rooms/1000 |
	grep -q '\"session\"'"

D=$LB_T/data
"$LB_BIN" recordings show "$_on" --data "$D" --json > "$LB_T/show.json" ||
	lb_not_ok "recordings show $_on"
"$LB_BIN" recordings show "$_on" --data "$D" | sed 's/^/#   /'
DIR=$("$LB_TOOLS/jsonq" dir < "$LB_T/show.json")

# ---- (a) files
_mixlen=$(sndfile-info "$DIR/mix.opus" 2>/dev/null |
	awk '/Frames/ { print $3 / 16000 }')
lb_note "mix: $_mixlen s"
# the site ids the bridge gave alice, bob and carol
for _s in alice bob carol; do
	eval "ID_$_s=\$(\"\$LB_TOOLS/jsonq\" \"sites.name=$_s.id\" \
		< \"\$LB_T/show.json\")"
done
for _f in mix site-$ID_alice site-$ID_bob site-$ID_carol; do
	_p=$DIR/$_f.opus
	_len=$(sndfile-info "$_p" 2>/dev/null | awk '/Frames/ { print $3 / 16000 }')
	_oi=$(opusinfo "$_p" 2>/dev/null | grep -c 'Playback length')
	opusdec --quiet --rate 16000 "$_p" "$LB_T/$_f.dec.wav" 2>/dev/null
	_dec=$(soxi -D "$LB_T/$_f.dec.wav" 2>/dev/null)
	lb_note "$_f.opus: sndfile-info ${_len:-?} s, opusinfo" \
		"${_oi:-0} stream(s), opusdec ${_dec:-?} s"
	lb_assert "(a) $_f.opus opens with sndfile-info, opusinfo, opusdec" \
		"$([ -n "$_len" ] && [ "$_oi" -ge 1 ] && [ -n "$_dec" ] &&
		   echo 1 || echo 0)" "==" 1
	lb_assert "(a) $_f.opus starts at the session's start (length against the mix, s)" \
		"$(awk -v a="${_len:-0}" -v b="${_mixlen:-0}" \
		'BEGIN { d = a - b; print d < 0 ? -d : d }')" "<" 0.5
done

# ---- (b) and (c) what each track holds
for _s in alice bob carol; do
	eval "_id=\$ID_$_s"
	_tr=$LB_T/site-$_id.dec.wav
	"$LB_TOOLS/wavestoi" "$LB_T/$_s.wav" "$_tr" > "$LB_T/e_$_s.out" 2>&1
	sed "s/^/#   $_s: /" "$LB_T/e_$_s.out"
	lb_assert "(b) $_s's track holds its speech: ESTOI" \
		"$(sed -n 's/.*estoi=\([^ ]*\).*/\1/p' "$LB_T/e_$_s.out")" \
		">=" 0.75
	lb_presence "$_tr" "$LB_T/alice.wav" "$LB_T/bob.wav" "$LB_T/carol.wav" ||
		lb_not_ok "wavpresence on $_s's track"
	for _o in alice bob carol; do
		[ "$_o" = "$_s" ] && continue
		lb_assert "(b) $_s's track does not hold $_o: share_db" \
			"$(lb_presence_get "$LB_T/$_o.wav" share_db)" "<" -15
	done
	# where its speech sits on the session's timeline
	eval "LAG_$_s=\$(sed -n 's/.*lag_ms=\\([^ ]*\\).*/\\1/p' \
		\"\$LB_T/e_\$_s.out\")"
done
lb_presence "$LB_T/mix.dec.wav" "$LB_T/alice.wav" "$LB_T/bob.wav" \
	"$LB_T/carol.wav" || lb_not_ok "wavpresence on the mix"
for _s in alice bob carol; do
	lb_assert "(c) the mix holds $_s: share_db" \
		"$(lb_presence_get "$LB_T/$_s.wav" share_db)" ">" -10
done

# ---- (d) talk turns against when each spoke
for _s in alice bob carol; do
	eval "_id=\$ID_$_s"
	# speech span of the reference: first and last 20 ms within 35 dB
	# of its loudest
	_span=$(sox "$LB_T/$_s.wav" -t dat - 2>/dev/null | awk '
		!/^;/ { n++; e += $2 * $2;
			if (n % 320 == 0) { f[n / 320] = e; e = 0;
				if (f[n / 320] > m) m = f[n / 320] } }
		END { for (k = 1; k <= n / 320; k++)
			if (f[k] > m * 10 ^ -3.5) { if (!a) a = k; b = k }
		      printf "%.2f %.2f", (a - 1) * 0.02, b * 0.02 }')
	eval "_lag=\$LAG_$_s"
	_a=$(echo "$_span" | awk -v l="$_lag" '{ printf "%.2f", $1 + l / 1000 }')
	_b=$(echo "$_span" | awk -v l="$_lag" '{ printf "%.2f", $2 + l / 1000 }')
	# its first turn's start, its last turn's end
	_t=$("$LB_TOOLS/jsonq" "turns.site=$_id.start_s" < "$LB_T/show.json" |
		head -1)
	_e=$("$LB_TOOLS/jsonq" "turns.site=$_id.end_s" < "$LB_T/show.json" |
		tail -1)
	lb_note "$_s spoke $_a-$_b s of the session; catalogue turn" \
		"${_t:-?}-${_e:-?} s"
	lb_assert "(d) $_s's turn starts when it spoke (s apart)" \
		"$(awk -v a="$_a" -v t="${_t:-999}" 'BEGIN { d = a - t;
		print d < 0 ? -d : d }')" "<=" 0.3
	lb_assert "(d) $_s's turn ends when it stopped (s apart)" \
		"$(awk -v b="$_b" -v e="${_e:-999}" 'BEGIN { d = b - e;
		print d < 0 ? -d : d }')" "<=" 0.3
done

# ---- (e) the API
_n=$(lb_http /api/recordings | "$LB_TOOLS/jsonq" "sessions.session=$_on.sites")
lb_assert "(e) GET /api/recordings lists it with its sites" "${_n:-0}" "==" 3
_code=$(curl -s -o "$LB_T/range.bin" -w '%{http_code}' -H 'Range: bytes=0-99' \
	"http://127.0.0.1:$LB_HTTP_PORT/api/recordings/$_on/mix.opus")
lb_assert "(e) a Range request gets 206" "$_code" "==" 206
lb_assert "(e) ... with the 100 bytes asked for" \
	"$(wc -c < "$LB_T/range.bin")" "==" 100
lb_assert "(e) ... which begin the file (an Ogg page)" \
	"$([ "$(head -c 4 "$LB_T/range.bin")" = OggS ] && echo 1 || echo 0)" \
	"==" 1
_code=$(curl -s -o /dev/null -w '%{http_code}' \
	"http://127.0.0.1:$LB_HTTP_PORT/api/recordings/$_on/..%2f..%2fbridge.ini")
lb_assert "(e) a path out of the session is refused" "$_code" "==" 404

# ---- (f) export and minutes
"$LB_BIN" export "$_on" --data "$D" --site bob --from 8 --to 10.5 \
	-o "$LB_T/clip.wav" > "$LB_T/export.out" 2>&1 ||
	lb_not_ok "export a clip of bob"
sed 's/^/#   /' "$LB_T/export.out"
# the whole track through the same export, then the span cut by sox
"$LB_BIN" export "$_on" --data "$D" --site bob -o "$LB_T/bob_all.wav" \
	> /dev/null 2>&1 || lb_not_ok "export bob's whole track"
sox -q "$LB_T/bob_all.wav" "$LB_T/span.wav" trim 128000s 40000s
_diff=$(sox -m -v 1 "$LB_T/clip.wav" -v -1 "$LB_T/span.wav" -n stat 2>&1 |
	awk '/Maximum amplitude/ { print $3 }')
lb_assert "(f) the clip is bob's track over 8-10.5 s, sample for sample (largest difference)" \
	"${_diff:-1}" "==" 0
lb_assert "(f) its length (samples)" \
	"$(soxi -s "$LB_T/clip.wav")" "==" 40000
"$LB_BIN" minutes "$_on" --data "$D" -o "$LB_T/minutes.md" ||
	lb_not_ok "minutes"
sed 's/^/#   /' "$LB_T/minutes.md" | head -30
_order=$(sed -n '/Who spoke when/,$p' "$LB_T/minutes.md" |
	grep -o 'alice\|bob\|carol' | tr '\n' ' ')
lb_assert "(f) the minutes list the turns alice, bob, carol in order" \
	"$(echo "$_order" | grep -c '^alice bob carol')" "==" 1
lb_done
