#!/bin/sh
# DTX on what the bridge sends (RFC 7587 usedtx): an Opus site whose SDP
# asks for it is sent nothing but a frame every 400 ms while nobody
# speaks, and hears the talker as well as a site without it.
#   alice  talks 3-9 s into a 16 s call;
#   lis    asks usedtx=1, silent;
#   ref    the same site without it (the control).
# Asserts: lis is sent DTX (room JSON dtx_out_frames), ref never; lis
# receives under 60 % of the packets ref does, and under 20 % of them
# in the silence after alice; lis understands alice as well as ref does
# (ESTOI within 0.03: the talkspurt after DTX starts whole); and the
# delay the bridge adds from alice's mouth to ref's ear on these clean
# lines, 20 ms packets (tests/lib/bridge_delay.sh): at most 60 ms.
# Env: lib.sh's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_echo.sh"
lb_init dtx_send
ES=$LB_TOOLS/echosite
[ -x "$ES" ] || lb_bail "$ES built"
lb_bridge_start <<EOF2
[room 1000]
name = DTX
record = off
EOF2
lb_speech "$LB_T/alice.wav" 16000 1 en-us "$LB_TEXT_EN1" 6

le_line_site alice 16 --speech "$LB_T/alice.wav" --speech-at 3 --seed 1 \
	--mic-rec "$LB_T/alice_mic.wav"
le_line_site lis 16 --usedtx --seed 2 --rec "$LB_T/lis.wav"
le_line_site ref 16 --seed 3 --rec "$LB_T/ref.wav"
lb_check "the three sites are in" lb_wait_for 10 le_sites_in 3
q() { le_q "$@"; }
# from 1 s after alice's last word, 4 s of silence
sleep 10
pl1=$(q lis packets_out)
pr1=$(q ref packets_out)
sleep 4
pl2=$(q lis packets_out)
pr2=$(q ref packets_out)
dl=$(q lis dtx_out_frames)
dr=$(q ref dtx_out_frames)
lb_note "packets sent in the silence: lis $((pl2 - pl1)), ref" \
	"$((pr2 - pr1)); DTX frames lis $dl, ref $dr"
lb_assert "lis is sent DTX (frames left out)" "$dl" ">" 100
lb_assert "ref, which did not ask, is not" "$dr" == 0
lb_assert "lis: packets in 4 s of silence, against ref's (%)" \
	"$(( (pl2 - pl1) * 100 / (pr2 - pr1) ))" "<" 20

for s in lis ref; do
	eval "wait \$PID_$s"
	sed -n 's/^echosite: \(summary\|network\): /# '"$s"': /p' \
		"$LB_T/$s.err"
	"$LB_TOOLS/wavestoi" -l 6000 "$LB_T/alice.wav" "$LB_T/$s.wav" \
		> "$LB_T/e_$s.out" 2>&1
	sed "s/^/#   $s: /" "$LB_T/e_$s.out"
done
rx_() { sed -n 's/.*rx \([0-9]*\) pkts.*/\1/p' "$LB_T/$1.err"; }
lb_assert "lis received under 60 % of ref's packets (%)" \
	"$(( $(rx_ lis) * 100 / $(rx_ ref) ))" "<" 60
el=$(sed -n 's/.*estoi=\([^ ]*\).*/\1/p' "$LB_T/e_lis.out")
er=$(sed -n 's/.*estoi=\([^ ]*\).*/\1/p' "$LB_T/e_ref.out")
lb_assert "lis understands alice (ESTOI)" "$el" ">=" 0.8
lb_assert "lis as well as ref (ESTOI difference)" \
	"$(awk -v a="$el" -v b="$er" 'BEGIN { print b - a }')" "<=" 0.03
eval "wait \$PID_alice"
dl=$(sh tests/lib/bridge_delay.sh "$LB_TOOLS" "$LB_T/alice.err" \
	"$LB_T/alice_mic.wav" "$LB_T/ref.err" "$LB_T/ref.wav")
lb_note "alice to ref: $dl"
lb_assert "the bridge adds at most 60 ms from alice's mouth to ref's ear" \
	"$(echo "$dl" | sed -n 's/.*bridge_ms=\([-0-9.a-z]*\).*/\1/p')" \
	"<=" 60
lb_check "bridge still running" lb_alive "$LB_BRIDGE_PID"
lb_done
