#!/bin/sh
# The operator's API with accounts: the expected-site roster (connected,
# missing, unknown caller), every command (mute, deaf, gains, kick, lock,
# mute-all, bookmark) with its effect on what the sites hear, wrong ids,
# bad values, 401 without or with wrong credentials, 403 for a viewer,
# the login cookie, the audit log, /metrics and the live stream; a bridge
# with no accounts refuses a non-loopback address.
. "$(dirname "$0")/lib.sh"
lb_init console_api

OPW=operator-pass-1
VPW=viewer-pass-1
oph=$(echo "$OPW" | "$LB_BIN" passwd) || lb_bail "lowbridge passwd works"
vih=$(echo "$VPW" | "$LB_BIN" passwd) || lb_bail "lowbridge passwd works"
case $oph in
'password_hash = $argon2id$'*) lb_ok "passwd prints an Argon2id hash line" ;;
*) lb_not_ok "passwd prints an Argon2id hash line (got '$oph')" ;;
esac
code=0
echo short | "$LB_BIN" passwd > /dev/null 2>&1 || code=$?
lb_assert "passwd refuses a short password" "$code" "==" 2

LB_HTTP_AUTH="oper:$OPW"
lb_bridge_start <<EOF2
[user oper]
role = operator
$oph

[user watcher]
role = viewer
$vih

[room 1000]
name = Console test
expect = Hall A; user=alice; contact=Ms Lan; phone=0912 345 678
expect = Hall B; user=bob; contact=Mr Binh; phone=0987 654 321
expect = Hall C; user=carol; contact=Mrs Cuc; phone=0911 222 333
EOF2

lb_speech "$LB_T/alice.wav" 48000 2 en-us "$LB_TEXT_EN1 $LB_TEXT_EN2" 20
sox -q -n -r 48000 -c 2 -b 16 "$LB_T/silence.wav" trim 0 80 ||
	lb_bail "sox makes silence"
lb_site_start alice opus "$LB_T/alice.wav.src.wav"
lb_site_start bob opus "$LB_T/silence.wav"
# dave: a hall whose amplifier clips (a full-scale square wave)
sox -q -n -r 48000 -c 2 -b 16 "$LB_T/clip.wav" synth 80 square 300 vol 0.99 ||
	lb_bail "sox makes a square wave"
lb_site_start dave opus "$LB_T/clip.wav"
for s in alice bob dave; do
	lb_site_dial $s 1000
done
for s in alice bob dave; do
	lb_check "$s connected" lb_site_wait $s CALL_ESTABLISHED 10
done

URL=http://127.0.0.1:$LB_HTTP_PORT
# st METHOD PATH [CURL ARGS]: HTTP status; body in $LB_T/body
st() {
	_m=$1
	_p=$2
	shift 2
	curl -s -o "$LB_T/body" -w '%{http_code}' --max-time 5 -X "$_m" \
		"$@" "$URL$_p"
}
op() { # METHOD PATH: as the operator
	st "$1" "$2" -u "oper:$OPW"
}
same() { # DESCRIPTION GOT WANT
	if [ "$2" = "$3" ]; then
		lb_ok "$1 ($2)"
	else
		lb_not_ok "$1 (got '$2', want '$3')"
		head -c 300 "$LB_T/body" | sed 's/^/#   body: /'
		echo
	fi
}
q() { # PATH: from the room's JSON
	lb_room_get 1000 "$1"
}
sid_of() {
	q "sites.name=$1.id"
}
A=$(sid_of alice)
B=$(sid_of bob)
D=$(sid_of dave)
lb_note "sites: alice $A, bob $B, dave $D"
# dave's noise must not cover what bob hears of alice below
curl -s -o /dev/null --max-time 5 -u "oper:$OPW" -X POST \
	"http://127.0.0.1:$LB_HTTP_PORT/api/rooms/1000/sites/$D?mute=on"

# ---- access -----------------------------------------------------------------
same "no credentials: 401" "$(st GET /api/rooms/1000)" 401
curl -s -D "$LB_T/h1" -o /dev/null --max-time 5 "$URL/api/rooms" || :
lb_check "a 401 asks for HTTP Basic" grep -qi '^WWW-Authenticate: Basic' \
	"$LB_T/h1"
curl -s -D "$LB_T/h2" -o /dev/null --max-time 5 \
	-H 'X-Requested-With: lowbridge' "$URL/api/rooms" || :
lb_check "the page's requests get no browser dialog" \
	sh -c "! grep -qi '^WWW-Authenticate' '$LB_T/h2'"
same "wrong password: 401" "$(st GET /api/rooms -u "oper:nope")" 401
same "viewer reads the room: 200" \
	"$(st GET /api/rooms/1000 -u "watcher:$VPW")" 200
same "viewer mutes: 403" \
	"$(st POST "/api/rooms/1000/sites/$A?mute=on" -u "watcher:$VPW")" 403
lb_check "the 403 says why" grep -q 'viewers cannot' "$LB_T/body"
same "viewer locks the room: 403" \
	"$(st POST "/api/rooms/1000?lock=on" -u "watcher:$VPW")" 403
same "the page's files need no login" "$(st GET /)" 200
same "GET /api/me as the viewer" "$(st GET /api/me -u "watcher:$VPW")" 200
lb_check "  role viewer" grep -q '"role":"viewer"' "$LB_T/body"

# the login form: a session cookie, gone after logout
same "login with a wrong password: 401" \
	"$(st POST /api/login --data 'user=oper&password=bad')" 401
same "login: 200" "$(st POST /api/login -c "$LB_T/jar" \
	--data-urlencode user=oper --data-urlencode "password=$OPW")" 200
lb_check "the session cookie is HttpOnly" grep -q '#HttpOnly_' "$LB_T/jar"
same "the cookie alone is enough" "$(st GET /api/me -b "$LB_T/jar")" 200
lb_check "  it says who" grep -q '"user":"oper"' "$LB_T/body"
same "logout" "$(st POST /api/logout -b "$LB_T/jar")" 200
same "the old session is refused: 401" \
	"$(st GET /api/me -b "$LB_T/jar")" 401

# ---- alarms: dave clips (his meters move while muted) -------------------------
clip_alarm() {
	lb_http /api/rooms/1000 > "$LB_T/room.json" &&
		grep -q '"kind":"clipping","site":"'"$D"'"' "$LB_T/room.json"
}
lb_check "a clipping alarm names dave" lb_wait_for 5 clip_alarm
if command -v node > /dev/null 2>&1; then
	lb_check "the room JSON with alarms parses (JSON.parse)" \
		node -e 'JSON.parse(require("fs").readFileSync(0, "utf8"))' \
		< "$LB_T/room.json"
else
	lb_note "node missing: strict JSON check skipped"
fi

# ---- the roster -------------------------------------------------------------
same "Hall A is alice, connected" "$(q expected.name=Hall\ A.state)" \
	connected
same "  its site id" "$(q expected.name=Hall\ A.site)" "$A"
same "Hall B is bob, connected" "$(q expected.name=Hall\ B.state)" connected
same "Hall C never called: missing" "$(q expected.name=Hall\ C.state)" \
	missing
same "  with its contact" "$(q expected.name=Hall\ C.phone)" "0911 222 333"
unlisted() { # SID: in no roster entry
	[ -z "$(q "expected.site=$1.name")" ] &&
		[ -n "$(q "expected.site=$A.name")" ]
}
lb_check "dave (not expected) is in no roster entry" unlisted "$D"

# ---- what bob hears as alice is muted ----------------------------------------
sent_bob() {
	lb_room_get 1000 "sites.name=bob.level_out_dbfs"
}
hears() { # bob hears someone: his output level above -45 dBFS
	lb_cmp "$(sent_bob)" ">" -45
}
hears_nothing() {
	lb_cmp "$(sent_bob)" "<" -70
}
lb_check "bob hears alice" lb_wait_for 10 hears
same "mute alice: 200" "$(op POST "/api/rooms/1000/sites/$A?mute=on")" 200
lb_check "  the answer shows it muted" grep -q '"muted":true' "$LB_T/body"
lb_check "  bob hears nothing within 2 s" lb_wait_for 2 hears_nothing
same "  alice's JSON says muted" "$(q "sites.name=alice.muted")" true
same "unmute alice" "$(op POST "/api/rooms/1000/sites/$A?mute=off")" 200
lb_check "  bob hears her again" lb_wait_for 3 hears
same "bob deaf" "$(op POST "/api/rooms/1000/sites/$B?deaf=on")" 200
lb_check "  bob is sent silence" lb_wait_for 2 hears_nothing
same "  JSON deaf" "$(q "sites.name=bob.deaf")" true
same "bob hears again" "$(op POST "/api/rooms/1000/sites/$B?deaf=off")" 200
lb_check "  bob hears alice" lb_wait_for 3 hears

# gains: bob's output level follows gain_out_db. The API shows the last
# 20 ms frame's level, and speech varies: take the loudest of 15 reads
# over 1.5 s on each side
sent_bob_peak() {
	_pk=-200
	for _k in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
		_v=$(sent_bob)
		lb_cmp "$_v" ">" "$_pk" && _pk=$_v
		sleep 0.1
	done
	echo "$_pk"
}
sleep 1
l0=$(sent_bob_peak)
same "bob's volume -12 dB" \
	"$(op POST "/api/rooms/1000/sites/$B?gain_out_db=-12")" 200
same "  JSON gain_out_db" "$(q "sites.name=bob.gain_out_db")" -12
sleep 1
l1=$(sent_bob_peak)
lb_note "bob's output level: $l0 dBFS at 0 dB, $l1 dBFS at -12 dB"
lb_assert "  bob is sent less (speech varies: at least 5 dB)" \
	"$(awk -v a="$l0" -v b="$l1" 'BEGIN { print a - b }')" ">=" 5
same "alice's input gain +6" \
	"$(op POST "/api/rooms/1000/sites/$A?gain_in_db=6")" 200
same "  JSON gain_in_db" "$(q "sites.name=alice.gain_in_db")" 6

# ---- bad requests change nothing ------------------------------------------------
same "gain 99 dB: 400" \
	"$(op POST "/api/rooms/1000/sites/$A?gain_in_db=99")" 400
lb_check "  the error says the range" grep -q 'from -20 to 20' "$LB_T/body"
same "gain 'loud': 400" \
	"$(op POST "/api/rooms/1000/sites/$A?gain_in_db=loud")" 400
same "mute=maybe: 400" "$(op POST "/api/rooms/1000/sites/$A?mute=maybe")" 400
same "mute=on with a bad key: 400" \
	"$(op POST "/api/rooms/1000/sites/$A?mute=on&volume=3")" 400
same "  and alice is not muted" "$(q "sites.name=alice.muted")" false
same "no command: 400" "$(op POST "/api/rooms/1000/sites/$A")" 400
same "unknown site: 404" "$(op POST "/api/rooms/1000/sites/s999?mute=on")" 404
same "unknown room: 404" "$(op POST "/api/rooms/4242?lock=on")" 404
same "a site key on the room: 400" "$(op POST "/api/rooms/1000?mute=on")" 400
same "empty bookmark: 400" "$(op POST "/api/rooms/1000?bookmark=")" 400
same "DELETE: 405" "$(op DELETE "/api/rooms/1000/sites/$A")" 405

# ---- room commands ------------------------------------------------------------
same "alice is the chair" "$(op POST "/api/rooms/1000/sites/$A?chair=on")" 200
same "mute all" "$(op POST "/api/rooms/1000?mute_all=on")" 200
same "  bob muted" "$(q "sites.name=bob.muted")" true
same "  dave muted" "$(q "sites.name=dave.muted")" true
same "  the chair is not" "$(q "sites.name=alice.muted")" false
same "  room JSON mute_all" "$(q mute_all)" true
same "unmute all" "$(op POST "/api/rooms/1000?mute_all=off")" 200
same "  bob unmuted" "$(q "sites.name=bob.muted")" false
same "bookmark" "$(op POST "/api/rooms/1000?bookmark=Vote%20on%20item%203")" \
	200
same "lock the room" "$(op POST "/api/rooms/1000?lock=on")" 200
same "  JSON locked" "$(q locked)" true
if lb_sipp locked 1000 invite_403.xml; then
	lb_ok "a caller of the locked room gets 403"
else
	lb_not_ok "a caller of the locked room gets 403"
	lb_sipp_why locked
fi
same "unlock" "$(op POST "/api/rooms/1000?lock=off")" 200
same "kick dave" "$(op POST "/api/rooms/1000/sites/$D?kick=1")" 200
lb_check "  the answer names him" grep -q "\"kicked\":\"$D\"" "$LB_T/body"
lb_check "  dave's call ends" lb_site_wait dave CALL_CLOSED 5
gone() {
	[ -z "$(q "sites.name=dave.id")" ]
}
lb_check "  dave is no longer in the room" lb_wait_for 5 gone

# ---- the audit log ---------------------------------------------------------------
AUD=$LB_T/data/audit.log
lb_check "audit: the mute, with who and from where" \
	grep -q "user=oper addr=127.0.0.1 room=1000 site=$A mute=on status=200" \
	"$AUD"
lb_check "audit: the kick" grep -q "site=$D kick=1 status=200" "$AUD"
lb_check "audit: the lock" grep -q "site=- lock=on status=200" "$AUD"
lb_check "audit: the bookmark text" grep -q "bookmark=Vote on item 3" "$AUD"
lb_check "audit: nothing from the viewer" sh -c "! grep -q watcher '$AUD'"
lb_note "audit log: $(wc -l < "$AUD") lines"

# ---- metrics -----------------------------------------------------------------------
same "GET /metrics as the viewer" "$(st GET /metrics -u "watcher:$VPW")" 200
cp "$LB_T/body" "$LB_T/metrics"
bad=$(awk '
	/^# HELP [a-z_]+ / { help[$3] = 1; next }
	/^# TYPE [a-z_]+ (gauge|counter)$/ { type[$3] = 1; next }
	/^#/ { print "bad comment: " $0; next }
	{ n = $1; sub(/\{.*/, "", n)
	  if ($0 !~ /^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+-]+$/)
		print "bad sample: " $0
	  else if (!help[n] || !type[n]) print "no HELP/TYPE: " n }
' "$LB_T/metrics")
if [ -z "$bad" ]; then
	lb_ok "metrics: every sample well formed, with HELP and TYPE"
else
	lb_not_ok "metrics: $(echo "$bad" | head -3)"
fi
for m in lowbridge_room_sites lowbridge_mixer_late_ticks_total \
	lowbridge_site_jitter_seconds lowbridge_site_packets_lost_total \
	lowbridge_cpu_seconds_total lowbridge_recorder_bytes \
	lowbridge_mixer_tick_seconds_total; do
	lb_check "metrics: $m" grep -q "^$m" "$LB_T/metrics"
done
same "metrics: 2 sites in room 1000" \
	"$(sed -n 's/^lowbridge_room_sites{room="1000"} //p' "$LB_T/metrics")" 2
same "metrics: Hall C missing" "$(sed -n \
	's/^lowbridge_room_expected_missing{room="1000"} //p' "$LB_T/metrics")" 1

# ---- the live stream -----------------------------------------------------------------
"$LB_TOOLS/ssecat" --http "127.0.0.1:$LB_HTTP_PORT" --seconds 3 \
	--auth "watcher:$VPW" > "$LB_T/sse" 2>&1
lb_note "live: $(cat "$LB_T/sse")"
same "live: 200" "$(sed -n 's/.*status=\([0-9]*\).*/\1/p' "$LB_T/sse")" 200
lb_assert "live: levels at 10 Hz or more" \
	"$(sed -n 's/.*levels_hz=\([0-9.]*\).*/\1/p' "$LB_T/sse")" ">=" 9.5
"$LB_TOOLS/ssecat" --http "127.0.0.1:$LB_HTTP_PORT" --seconds 1 \
	> "$LB_T/sse2" 2>&1
same "live without credentials: 401" \
	"$(sed -n 's/.*status=\([0-9]*\).*/\1/p' "$LB_T/sse2")" 401

lb_check "bridge still serves" lb_http_ready

# ---- no accounts: loopback only ------------------------------------------------------
lb_port NP
code=0
timeout 10 "$LB_BIN" serve --http "0.0.0.0:$NP" --sip "127.0.0.1:$NP" \
	--data "$LB_T/d2" > "$LB_T/open.log" 2>&1 || code=$?
lb_assert "no accounts and http on 0.0.0.0: refused (exit 2)" \
	"$code" "==" 2
lb_check "  saying why" grep -q "not loopback and no accounts" \
	"$LB_T/open.log"
lb_done
