#!/bin/sh
# The local room through the emulated DSP sound card (tests/alsaemu),
# reached only by name through alsa-lib / PortAudio, as real hardware:
#  (a) a DSP card: its echo cancel, noise suppression and AGC switches are
#      turned on (read from the card) and the bridge's own stages for
#      them are off (room JSON);
#  (b) a plain card: everything in software;
#  (c) the DSP card through PortAudio;
# in each, a remote baresip site ("far") hears the room's talker
# intelligibly (ESTOI against the talker's source) and does not hear its
# own voice back through the room's loudspeaker -> microphone path
# (level of what it is sent while it talks alone against its own level);
#  (d) unplug the DSP card mid-meeting with a plain card as fallback: the
#      room flows on (at most a tick lost), an alarm, the mixer's late
#      ticks unchanged; replug: back to the DSP card and its switches.
. "$(dirname "$0")/lib.sh"
lb_init local_room
EMU=$LB_BUILD/alsaemu
for f in libasound_module_pcm_dspemu.so libasound_module_ctl_dspemu.so \
	dspemu-fault; do
	[ -e "$EMU/$f" ] || lb_bail "$EMU/$f built (make all)"
done
for t in wavestoi; do
	[ -x "$LB_TOOLS/$t" ] || lb_bail "$LB_TOOLS/$t built"
done

# the room's talker: 2 s of silence, 8 s of speech, 20 s of silence (the
# card loops it); far's voice: 11 s of silence, 8 s of speech (a first
# turn: echo cancellers learn the room on it), 1 s, and the same 8 s
# again, which is measured: each talker is measured alone
lb_speech "$LB_T/a.wav" 16000 1 en-us "$LB_TEXT_EN1" 8
sox -q "$LB_T/a.wav" "$LB_T/near.wav" pad 2 20 || lb_bail "sox pads"
lb_speech "$LB_T/b.wav" 48000 2 en-us "$LB_TEXT_EN2" 8
sox -q "$LB_T/b.wav" -c 2 "$LB_T/b2.wav" pad 0 1 || lb_bail "sox pads"
sox -q "$LB_T/b2.wav" "$LB_T/b2.wav" "$LB_T/far.src.wav" pad 11 30 ||
	lb_bail "sox pads"
sox -q "$LB_T/b.wav" -r 16000 -c 1 "$LB_T/b16.wav" || lb_bail "sox"

# two more plain cards whose crystals run 100 ppm fast and slow
EXTRA='device dspemu_p100 dsp false realtime true ppm 100 card_id "Fast"
device dspemu_m100 dsp false realtime true ppm -100 card_id "Slow"'
DSPEMU_NEAR=$LB_T/near.wav DSPEMU_NEAR_DB=-22 DSPEMU_NOISE_DB=-62 \
	DSPEMU_ECHO_DB=-6 DSPEMU_ECHO_DELAY_MS=25 DSPEMU_RT60=0.25 \
	sh "$(dirname "$0")/../alsaemu/asoundrc.sh" "$LB_T/asoundrc" "$EMU" \
	"$LB_T/emu" "$EXTRA" > "$LB_T/asoundrc.out" 2>&1 ||
	lb_bail "asoundrc.sh writes the emulator's configuration"
ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:$LB_T/asoundrc
export ALSA_CONFIG_PATH

q() { # PATH: from room 1000's JSON
	lb_room_get 1000 "$1"
}
same() { # DESCRIPTION GOT WANT
	if [ "$2" = "$3" ]; then
		lb_ok "$1 ($2)"
	else
		lb_not_ok "$1 (got '$2', want '$3')"
	fi
}
emu_get() { # DEVICE KEY: a value from the card's state
	"$EMU/dspemu-fault" "$LB_T/emu/$1.state" show 2>/dev/null |
		sed -n "s/^ *$2[ =:]*\([^ ]*\).*/\1/p" | head -1
}

# run_case NAME DEVICE API: one meeting of about 30 s, then the checks
run_case() {
	_n=$1
	lb_bridge_start <<EOF2
[room 1000]
name = Hall
local_room = $2
local_room_api = $3
record = ${REC:-off}
EOF2
	lb_site_start "far_$_n" opus "$LB_T/far.src.wav"
	lb_site_dial "far_$_n" 1000
	lb_check "($_n) far connected" \
		lb_site_wait "far_$_n" CALL_ESTABLISHED 10
	sleep 29
	lb_room_get 1000 . > "$LB_T/room_$_n.json"
	LOCAL_AEC=$(q sites.id=local.local.features.aec)
	LOCAL_NS=$(q sites.id=local.local.features.ns)
	LOCAL_AGC=$(q sites.id=local.local.features.agc)
	lb_note "($_n) local: $(q sites.id=local.local.state) on" \
		"$(q sites.id=local.local.device), aec $LOCAL_AEC," \
		"ns $LOCAL_NS, agc $LOCAL_AGC, rate" \
		"$(q sites.id=local.local.rate), drift" \
		"$(q sites.id=local.local.drift_ppm) ppm, xruns" \
		"$(q sites.id=local.local.xruns), under/overruns" \
		"$(q sites.id=local.local.mixer_underruns)/$(q \
		sites.id=local.local.mixer_overruns)"
	lb_site_quit "far_$_n"
	lb_stop "$LB_BRIDGE_PID"
	_rec=$(lb_site_rec "far_$_n")
	sox -q "$_rec" -r 16000 -c 1 "$LB_T/heard_$_n.wav" ||
		lb_not_ok "($_n) far's recording converts"
	# the room's talker at far: intelligible
	"$LB_TOOLS/wavestoi" "$LB_T/a.wav" "$LB_T/heard_$_n.wav" \
		> "$LB_T/estoi_$_n.out" 2>&1
	sed "s/^/#   ($_n) /" "$LB_T/estoi_$_n.out"
	lb_assert "($_n) far hears the room's talker: ESTOI" \
		"$(sed -n 's/.*estoi=\([^ ]*\).*/\1/p' "$LB_T/estoi_$_n.out")" \
		">=" 0.85
	# far's own voice back through the room, while it talks alone, in
	# its second turn: what far hears against what it said (RMS)
	_said=$(sox "$LB_T/b16.wav" -n stats 2>&1 |
		sed -n 's/^RMS lev dB *\([-0-9.]*\).*/\1/p')
	_back=$(sox "$LB_T/heard_$_n.wav" -n trim 20.5 7 stats 2>&1 |
		sed -n 's/^RMS lev dB *\([-0-9.]*\).*/\1/p')
	lb_note "($_n) far said ${_said} dBFS; heard back ${_back} dBFS"
	lb_assert "($_n) far's voice comes back at least 25 dB down (dB)" \
		"$(awk -v a="$_said" -v b="$_back" 'BEGIN { print a - b }')" \
		">=" 25
}

# ---- (a) the DSP card: offload ---------------------------------------------------
run_case hw dspemu_rt alsa
same "(a) echo cancellation in hardware" "$LOCAL_AEC" hardware
same "(a) noise suppression in hardware" "$LOCAL_NS" hardware
same "(a) AGC in hardware" "$LOCAL_AGC" hardware
"$EMU/dspemu-fault" "$LB_T/emu/dspemu_rt.state" show > "$LB_T/hw.state" 2>&1
sed 's/^/#   card: /' "$LB_T/hw.state" | head -12
lb_check "(a) the card's echo cancel switch is on" \
	grep -Eq '^ *aec=1' "$LB_T/hw.state"

# ---- (b) a plain card: software (and recorded) ------------------------------------
REC=on run_case sw dspemu_plain_rt alsa
SESS=$("$LB_BIN" recordings list --data "$LB_T/data" --json |
	"$LB_TOOLS/jsonq" 'sessions.*.session' | tail -1)
"$LB_BIN" recordings show "$SESS" --data "$LB_T/data" --json \
	> "$LB_T/sess.json" 2>&1
lb_check "(b) the session has the local room's track" \
	[ "$("$LB_TOOLS/jsonq" 'sites.id=local.name' < "$LB_T/sess.json")" = Hall ]
_lf=$("$LB_TOOLS/jsonq" 'sites.id=local.files.0.path' < "$LB_T/sess.json")
_ld=$("$LB_TOOLS/jsonq" 'dir' < "$LB_T/sess.json")
"$LB_BIN" export "$SESS" --data "$LB_T/data" --site local \
	-o "$LB_T/local_track.wav" > "$LB_T/export.out" 2>&1
_ll=$(sox "$LB_T/local_track.wav" -n stats 2>&1 |
	sed -n 's/^RMS lev dB *\([-0-9.]*\).*/\1/p')
lb_note "(b) local track ${_lf:-?} in ${_ld:-?}: ${_ll:-?} dBFS"
lb_assert "(b) the local track holds the room's talker (dBFS)" \
	"${_ll:-}" ">=" -45
same "(b) echo cancellation in software" "$LOCAL_AEC" software
same "(b) noise suppression in software" "$LOCAL_NS" software
same "(b) AGC in software" "$LOCAL_AGC" software

# ---- (c) PortAudio ------------------------------------------------------------------
run_case pa dspemu_rt portaudio
same "(c) PortAudio: echo cancellation in hardware" "$LOCAL_AEC" hardware

# ---- (d) unplug and replug ---------------------------------------------------------
lb_bridge_start <<EOF2
[room 1000]
name = Hall
local_room = dspemu_rt
local_room_fallback = dspemu_plain_rt
record = off
EOF2
sleep 3
late0=$(q mixer.late_ticks)
under0=$(q sites.id=local.local.mixer_underruns)
in0=$(q sites.id=local.local.frames_in)
"$EMU/dspemu-fault" "$LB_T/emu/dspemu_rt.state" unplug > /dev/null 2>&1 ||
	lb_not_ok "(d) dspemu-fault unplugs the card"
on_fallback() {
	[ "$(q sites.id=local.local.state)" = fallback ]
}
lb_check "(d) unplugged: on the fallback within 1 s" lb_wait_for 1 on_fallback
same "(d) ... echo cancellation in software there" \
	"$(q sites.id=local.local.features.aec)" software
sleep 2
alarm=$(q "alarms.kind=device.text")
lb_note "(d) alarm: $alarm"
lb_check "(d) ... a device alarm in the room" [ -n "$alarm" ]
in1=$(q sites.id=local.local.frames_in)
lb_assert "(d) ... the room kept flowing (frames in 2 s)" \
	"$((in1 - in0))" ">=" 90
under1=$(q sites.id=local.local.mixer_underruns)
lb_assert "(d) ... at most two 20 ms frames missing at the switch" \
	"$((under1 - under0))" "<=" 2
"$EMU/dspemu-fault" "$LB_T/emu/dspemu_rt.state" plug > /dev/null 2>&1 ||
	lb_not_ok "(d) dspemu-fault plugs the card back"
on_main() {
	[ "$(q sites.id=local.local.state)" = running ]
}
lb_check "(d) replugged: back on the DSP card within 15 s" \
	lb_wait_for 15 on_main
same "(d) ... echo cancellation in hardware again" \
	"$(q sites.id=local.local.features.aec)" hardware
"$EMU/dspemu-fault" "$LB_T/emu/dspemu_rt.state" show > "$LB_T/re.state" \
	2>&1
lb_check "(d) ... its switch written again after the replug" \
	grep -Eq '^ *aec=1' "$LB_T/re.state"
same "(d) the mixer's late ticks did not move" "$(q mixer.late_ticks)" \
	"$late0"
lb_stop "$LB_BRIDGE_PID"

# ---- (e) cards 100 ppm off: the drift is found, the delay holds --------------------
lb_bridge_start <<EOF2
[room 1000]
name = Fast hall
local_room = dspemu_p100
record = off
[room 2000]
name = Slow hall
local_room = dspemu_m100
record = off
EOF2
ph_min=0 ph_max=0
n=0
while [ $n -lt 40 ]; do
	sleep 1
	n=$((n + 1))
	[ $n -lt 25 ] && continue
	# after the loop settled: the phase error is the delay's wander
	for r in 1000 2000; do
		ph=$(lb_room_get $r sites.id=local.local.phase_ms)
		ph_min=$(awk -v a="$ph_min" -v b="$ph" 'BEGIN { print (b < a ? b : a) }')
		ph_max=$(awk -v a="$ph_max" -v b="$ph" 'BEGIN { print (b > a ? b : a) }')
	done
done
d1=$(lb_room_get 1000 sites.id=local.local.drift_ppm)
d2=$(lb_room_get 2000 sites.id=local.local.drift_ppm)
lb_note "(e) drift found: $d1 ppm (card +100), $d2 ppm (card -100);" \
	"delay wander ${ph_min}..${ph_max} ms from 25 s to 40 s; xruns" \
	"$(lb_room_get 1000 sites.id=local.local.xruns)/$(lb_room_get 2000 \
	sites.id=local.local.xruns)"
lb_assert "(e) +100 ppm card: drift found within 15 ppm" \
	"$(awk -v d="$d1" 'BEGIN { x = d - 100; print x < 0 ? -x : x }')" \
	"<=" 15
lb_assert "(e) -100 ppm card: drift found within 15 ppm" \
	"$(awk -v d="$d2" 'BEGIN { x = d + 100; print x < 0 ? -x : x }')" \
	"<=" 15
lb_assert "(e) the delay holds within +-5 ms (largest wander, ms)" \
	"$(awk -v a="$ph_min" -v b="$ph_max" \
	'BEGIN { a = a < 0 ? -a : a; b = b < 0 ? -b : b; print (a > b ? a : b) }')" \
	"<=" 5
lb_check "bridge still serves" lb_http_ready
lb_done
