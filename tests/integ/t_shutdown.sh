#!/bin/sh
# Shutdown: with a baresip site and a sipp site connected, SIGTERM must
# make the bridge send BYE to both and exit 0 within 2 s.
. "$(dirname "$0")/lib.sh"
lb_init shutdown
lb_bridge_start <<EOF2
[room 1000]
name = Shutdown test
EOF2

lb_speech "$LB_T/ref_alice.wav" 48000 2 en-us "$LB_TEXT_EN1"
lb_site_start alice opus "$LB_T/ref_alice.wav.src.wav"
lb_site_dial alice 1000
lb_check "baresip site alice connected" \
	lb_site_wait alice CALL_ESTABLISHED 10
lb_sipp_bg spid waiter 1000 wait_bye.xml
count_is() {
	[ "$(lb_room_get 1000 site_count)" = "$1" ]
}
lb_check "two sites in the room" lb_wait_for 5 count_is 2
sleep 1

t0=$(lb_now_ms)
kill -TERM "$LB_BRIDGE_PID"
n=0
while lb_alive "$LB_BRIDGE_PID" && [ $n -lt 100 ]; do
	sleep 0.05
	n=$((n + 1))
done
t1=$(lb_now_ms)
if lb_alive "$LB_BRIDGE_PID"; then
	lb_not_ok "bridge exits after SIGTERM (still running after 5 s)"
	kill -9 "$LB_BRIDGE_PID"
	rc=killed
else
	wait "$LB_BRIDGE_PID"
	rc=$?
fi
lb_assert "bridge exit status after SIGTERM" "$rc" "==" 0
lb_assert "bridge exit time after SIGTERM (ms)" "$((t1 - t0))" "<=" 2000

if lb_site_wait alice CALL_CLOSED 3; then
	lb_ok "alice got BYE (CALL_CLOSED: $(lb_site_param alice CALL_CLOSED))"
else
	lb_not_ok "alice got BYE (no CALL_CLOSED within 3 s)"
fi
if lb_sipp_wait "$spid"; then
	lb_ok "sipp site got BYE and answered 200"
else
	lb_not_ok "sipp site got BYE and answered 200"
	lb_sipp_why waiter
fi
lb_bridge_log_tail 6
lb_site_quit alice
lb_done
