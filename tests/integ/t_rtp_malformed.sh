#!/bin/sh
# Malformed RTP: while two baresip sites talk, rtpjunk blasts the room's
# RTP port (and its RTCP port) with malformed and hostile packets, first
# from an unknown address, then from the address a third (sipp) site
# announced in its SDP. The bridge must count them (rtp.unknown_source;
# the site's malformed), drop them, and go on mixing: the API answers,
# both calls stay up, and each baresip site still hears the other.
. "$(dirname "$0")/lib.sh"
lb_init rtp_malformed
lb_bridge_start <<EOF
[room 1000]
name = Junk test
EOF

lb_speech "$LB_T/ref_alice.wav" 48000 2 en-us "$LB_TEXT_EN1"
lb_speech "$LB_T/ref_bob.wav" 48000 2 vi "$LB_TEXT_VI"
lb_site_start alice opus "$LB_T/ref_alice.wav.src.wav"
lb_site_start bob opus "$LB_T/ref_bob.wav.src.wav"
lb_site_dial alice 1000
lb_site_dial bob 1000
lb_check "alice connected" lb_site_wait alice CALL_ESTABLISHED 10
lb_check "bob connected" lb_site_wait bob CALL_ESTABLISHED 10

# the sipp site announces 127.0.0.1:$jport, where rtpjunk will send from
lb_port jport 2
lb_sipp_bg spid junk 1000 junk_site.xml -key rtpport "$jport" -d 8000
count_is() {
	[ "$(lb_room_get 1000 site_count)" = "$1" ]
}
lb_check "three sites in the room" lb_wait_for 5 count_is 3
q() { # FILE PATH
	"$LB_TOOLS/jsonq" "$2" < "$1"
}
rport=$(lb_room_get 1000 rtp.port)

# The bridge latches a site that has not sent RTP yet onto the first
# valid RTP from its IP (symmetric RTP); on 127.0.0.1 every sender shares
# the IP, so first make the sipp site send a few valid packets (SSRC
# 0x1111) from its SDP address, to be the latched, known source.
out=$("$LB_TOOLS/rtpjunk" -b "$jport" -s 0x1111 -V 10 -n 0 127.0.0.1 "$rport")
sleep 0.3
lb_http /api/rooms/1000 > "$LB_T/before.json"
lb_note "room RTP port $rport; sipp site media 127.0.0.1:$jport;" \
	"sipp site remote $(q "$LB_T/before.json" sites.name=sipp.remote)"
lb_assert "sipp site: its 10 valid packets counted in packets_in" \
	"$(q "$LB_T/before.json" sites.name=sipp.packets_in)" ">=" 10
u0=$(q "$LB_T/before.json" rtp.unknown_source)
m0=$(q "$LB_T/before.json" rtp.malformed)
s0=$(q "$LB_T/before.json" sites.name=sipp.malformed)
a0=$(q "$LB_T/before.json" sites.name=alice.packets_in)
b0=$(q "$LB_T/before.json" sites.name=bob.packets_in)

# ---- 1. from an unknown address ---------------------------------------------
out=$("$LB_TOOLS/rtpjunk" -s 0x2222 -n 20 127.0.0.1 "$rport")
lb_note "rtpjunk to RTP port from unknown source: $out"
"$LB_TOOLS/rtpjunk" -n 5 127.0.0.1 $((rport + 1)) > /dev/null
sleep 0.5
lb_check "bridge alive after junk from an unknown source" \
	lb_alive "$LB_BRIDGE_PID"
lb_http /api/rooms/1000 > "$LB_T/mid.json" ||
	lb_bail "API answers after junk from an unknown source"
ok1=$(echo "$out" | sed -n 's/.*hdr_ok=\([0-9]*\).*/\1/p')
oks1=$(echo "$out" | sed -n 's/.*hdr_ok_small=\([0-9]*\).*/\1/p')
bad1=$(echo "$out" | sed -n 's/.*hdr_bad=\([0-9]*\).*/\1/p')
u1=$(q "$LB_T/mid.json" rtp.unknown_source)
m1=$(q "$LB_T/mid.json" rtp.malformed)
lb_note "rtp.unknown_source $u0 -> $u1, rtp.malformed $m0 -> $m1"
lb_assert "rtp.unknown_source delta covers the well-formed packets" \
	"$((u1 - u0))" ">=" "$oks1"
lb_assert "unknown_source + malformed deltas cover every non-empty packet" \
	"$((u1 - u0 + m1 - m0))" ">=" "$((ok1 + bad1))"
r1=$(q "$LB_T/mid.json" sites.name=sipp.remote)
lb_check "a stranger's stream did not take the sipp site's address ($r1)" \
	[ "$r1" = "127.0.0.1:$jport" ]

# ---- 2. from the sipp site's own address ------------------------------------
out=$("$LB_TOOLS/rtpjunk" -b "$jport" -s 0x1111 -n 20 127.0.0.1 "$rport")
lb_note "rtpjunk from the sipp site's address: $out"
sleep 0.5
lb_check "bridge alive after junk from a known site" \
	lb_alive "$LB_BRIDGE_PID"
lb_http /api/rooms/1000 > "$LB_T/after.json" ||
	lb_bail "API answers after junk from a known site"
bad2=$(echo "$out" | sed -n 's/.*hdr_bad=\([0-9]*\).*/\1/p')
s2=$(q "$LB_T/after.json" sites.name=sipp.malformed)
m2=$(q "$LB_T/after.json" rtp.malformed)
lb_note "room rtp.malformed $m0 -> $m1 -> $m2"
lb_assert "sipp site's malformed delta covers the bad headers it sent" \
	"$((s2 - s0))" ">=" "$bad2"

# ---- the conference goes on -------------------------------------------------
sleep 2
lb_http /api/rooms/1000 > "$LB_T/late.json"
a2=$(q "$LB_T/late.json" sites.name=alice.packets_in)
b2=$(q "$LB_T/late.json" sites.name=bob.packets_in)
lb_assert "alice's packets_in still growing (delta)" "$((a2 - a0))" ">" 100
lb_assert "bob's packets_in still growing (delta)" "$((b2 - b0))" ">" 100
if lb_sipp_wait "$spid"; then
	lb_ok "sipp site hung up normally (BYE answered 200)"
else
	lb_not_ok "sipp site hung up normally (BYE answered 200)"
	lb_sipp_why junk
fi
sleep 2
for s in alice bob; do
	lb_assert "$s still in the call" "$(lb_site_events $s CALL_CLOSED)" \
		"==" 0
done
lb_site_quit alice
lb_site_quit bob
for pair in alice:bob bob:alice; do
	me=${pair%:*}
	other=${pair#*:}
	lb_note "site $me received:"
	if lb_presence "$(lb_site_rec "$me")" "$LB_T/ref_$other.wav" \
		"$LB_T/ref_$me.wav"; then
		lb_assert "$me hears $other through the junk: share_db" \
			"$(lb_presence_get "$LB_T/ref_$other.wav" share_db)" \
			">" "${LB_PRESENT_DB:--10}"
	else
		lb_not_ok "$me recorded what it received"
	fi
done
lb_check "bridge still running" lb_alive "$LB_BRIDGE_PID"
lb_done
