#!/bin/sh
# Control test of the harness itself, without the bridge: two direct
# baresip-to-baresip calls (Opus, and PCMU with 8 kHz sources). Each side
# must hear the other and not itself, as measured by wavpresence. If this
# fails, the environment (baresip, espeak-ng, sox, the tools) is broken,
# and the bridge tests' failures say nothing about the bridge.
. "$(dirname "$0")/lib.sh"
lb_init harness

lb_speech "$LB_T/ref_alice.wav" 48000 2 en-us "$LB_TEXT_EN1"
lb_speech "$LB_T/ref_bob.wav" 48000 2 vi "$LB_TEXT_VI"
lb_speech "$LB_T/ref_carol.wav" 8000 1 en+f3 "$LB_TEXT_EN2"
lb_speech "$LB_T/ref_dave.wav" 8000 1 en-us "$LB_TEXT_EN3"
lb_site_start alice opus "$LB_T/ref_alice.wav.src.wav"
lb_site_start bob opus "$LB_T/ref_bob.wav.src.wav"
lb_site_start carol pcmu "$LB_T/ref_carol.wav.src.wav"
lb_site_start dave pcmu "$LB_T/ref_dave.wav.src.wav"
# baresip answers (answermode=auto) only calls to its own user
lb_site_cmd alice dial "sip:bob@127.0.0.1:$(cat "$LB_T/site_bob/sip_port")"
lb_site_cmd carol dial "sip:dave@127.0.0.1:$(cat "$LB_T/site_dave/sip_port")"
for s in alice bob carol dave; do
	lb_check "$s: call established" lb_site_wait $s CALL_ESTABLISHED 10
done
sleep 9
lb_site_cmd alice hangup
lb_check "bob: CALL_CLOSED after alice hangs up" \
	lb_site_wait bob CALL_CLOSED 5
lb_site_cmd carol hangup
lb_check "dave: CALL_CLOSED after carol hangs up" \
	lb_site_wait dave CALL_CLOSED 5
for s in alice bob carol dave; do
	lb_site_quit $s
done
for pair in alice:bob bob:alice carol:dave dave:carol; do
	me=${pair%:*}
	other=${pair#*:}
	lb_note "site $me received:"
	if ! lb_presence "$(lb_site_rec "$me")" "$LB_T/ref_$other.wav" \
		"$LB_T/ref_$me.wav"; then
		lb_not_ok "$me recorded what it received"
		continue
	fi
	lb_assert "$me hears $other: share_db" \
		"$(lb_presence_get "$LB_T/ref_$other.wav" share_db)" ">" -3
	lb_assert "$me does not hear itself: share_db" \
		"$(lb_presence_get "$LB_T/ref_$me.wav" share_db)" "<" -20
done
lb_done
