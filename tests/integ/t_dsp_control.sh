#!/bin/sh
# Run-time control of the per-site processing over the HTTP API, and the
# meters it publishes: a baresip site talks; its JSON shows input/output
# levels, AGC gain, speech probability and the chain's delay; POST
# switches noise suppression, AGC, echo control and the chair flag per
# site and per room; bad requests get 400/404, never a crash.
. "$(dirname "$0")/lib.sh"
lb_init dsp_control
lb_bridge_start <<EOF2
[room 1000]
name = Control test
agc_target_dbfs = -22
EOF2

lb_speech "$LB_T/ref_alice.wav" 48000 2 en-us "$LB_TEXT_EN1"
lb_site_start alice opus "$LB_T/ref_alice.wav.src.wav"
lb_site_dial alice 1000
lb_check "alice connected" lb_site_wait alice CALL_ESTABLISHED 10

q() { # PATH: a value of alice's JSON
	lb_room_get 1000 "sites.name=alice.$1"
}
post() { # PATH QUERY: HTTP status of a POST
	curl -s -o "$LB_T/post.json" -w '%{http_code}' --max-time 3 \
		-X POST "http://127.0.0.1:$LB_HTTP_PORT$1?$2"
}
same() { # DESCRIPTION GOT WANT: string equality as a TAP line
	if [ "$2" = "$3" ]; then
		lb_ok "$1 ($2)"
	else
		lb_not_ok "$1 (got '$2', want '$3')"
	fi
}
talking() {
	[ "$(q talking)" = true ]
}

# meters while alice talks: the AGC works towards the room's target
lb_check "alice is selected as a talker" lb_wait_for 8 talking
sleep 2
in_db=$(q dsp.in_rms_dbfs)
gain=$(q dsp.agc_gain_db)
delay=$(q dsp.delay_ms)
lb_note "alice: in ${in_db} dBFS, agc gain ${gain} dB," \
	"speech prob $(q dsp.speech_prob), noise $(q dsp.noise_dbfs)," \
	"out $(q dsp.out_rms_dbfs) dBFS, chain delay ${delay} ms"
lb_assert "input meter reads speech" "$in_db" ">" -60
lb_assert "chain delay reported (10 ms)" "$delay" "==" 10
same "room JSON shows the configured AGC target" \
	"$(lb_room_get 1000 dsp.agc_target_dbfs)" -22
same "echo control on by default" "$(q dsp.echo_control)" true

sid=$(q id)
code=$(post "/api/rooms/1000/sites/$sid" \
	"noise_suppression=off&chair=on&echo_control=off")
same "POST site settings answers 200" "$code" 200
same "noise suppression off" "$(q dsp.noise_suppression)" false
same "chair on" "$(q dsp.chair)" true
same "echo control off" "$(q dsp.echo_control)" false
same "agc untouched" "$(q dsp.agc)" true

code=$(post /api/rooms/1000 "agc=off&echo_control=on")
same "POST room settings answers 200" "$code" 200
same "room-wide agc off reaches the site" "$(q dsp.agc)" false
same "room-wide echo control on reaches the site" "$(q dsp.echo_control)" true
same "a site's chair flag survives a room change" "$(q dsp.chair)" true
sleep 1
lb_check "JSON shows echo figures once echo control is on" \
	q echo.delay_ms

same "bad value: 400" "$(post "/api/rooms/1000/sites/$sid" agc=maybe)" 400
same "nothing to set: 400" "$(post "/api/rooms/1000/sites/$sid" x=1)" 400
same "unknown site: 404" "$(post /api/rooms/1000/sites/nobody agc=on)" 404
same "unknown room: 404" "$(post /api/rooms/nope agc=on)" 404
same "chair is per site, not per room: 400" \
	"$(post /api/rooms/1000 chair=on)" 400
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 -X DELETE \
	"http://127.0.0.1:$LB_HTTP_PORT/api/rooms/1000")
same "other methods: 405" "$code" 405
lb_check "bridge still serves" lb_http_ready
lb_check "alice still connected" lb_alive "$LB_BRIDGE_PID"
lb_done
