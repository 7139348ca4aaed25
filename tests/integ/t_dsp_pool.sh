#!/bin/sh
# shellcheck disable=SC2016 # awk programs in single quotes
# The offload pool: room 1000 with `dsp_pool` = the project's emulated
# conference DSP unit (tests/alsaemu, pool 8, real-time clock, 12 ms of
# processing), and real SIP sites:
#   alice  baresip, Opus: talks (espeak-ng) from 2 s;
#   echo   echosite, Opus: an echoing hall (150 ms + 60 ms playout, -6 dB
#          loudspeaker-to-mic, RT60 0.4 s) that says nothing;
#   bob    baresip, Opus: listens.
# Asserts:
#  (a) the unit is opened, its own delay measured (a probe on channel 0:
#      12 ms of processing plus its buffering, 10-200 ms), its features
#      read from its profile;
#  (b) the echoing hall (and not alice or bob, whose echo is not found)
#      gets a channel once the bridge's canceller has found its echo; the
#      unit then serves it (frames mixed from the unit grow, misses stay
#      under 10 %), with the reference delayed by the bulk delay, and
#      reduces the hall's echo by 3 dB or more while alice talks (its
#      input over its output, the room JSON's erle_db: 8-11.5 dB measured
#      8 s after the hand-over, 2.7 under AddressSanitizer, the unit's
#      AGC on, against 14 dB of the bridge's own canceller; a unit given
#      a misaligned reference, or none, reads 0 dB or less);
#  (c) nothing of the hall reaches bob through all this: bob's recording
#      holds alice (wavpresence) and not the hall's microphone signal
#      (wavecho mic_share_db <= -20; t_echo_hall calibrates it: -4.5 when
#      the hall's echo is mixed, -29 when it is not sent at all);
#  (d) unplugged (dspemu-fault): the pool says lost within 2 s, the hall
#      shows its software chain, the room a device alarm, the mixer keeps
#      time (late ticks); plugged
#      back: running again and the hall back on the unit within 10 s.
# Env: lib.sh's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_echo.sh"
lb_init dsp_pool
EMU=$LB_BUILD/alsaemu
for f in libasound_module_pcm_dspemu.so libasound_module_ctl_dspemu.so \
	dspemu-fault; do
	[ -e "$EMU/$f" ] || lb_bail "$EMU/$f built (make all)"
done
for t in echosite wavecho; do
	[ -x "$LB_TOOLS/$t" ] || lb_bail "$LB_TOOLS/$t built (make tools)"
done

EXTRA='device dspemu_poolrt pool 8 realtime true card_id "ConfDSP8" driver "dspemu" card_name "Conference DSP Unit 8ch" latency_ms 12'
sh "$(dirname "$0")/../alsaemu/asoundrc.sh" "$LB_T/asoundrc" "$EMU" \
	"$LB_T/emu" "$EXTRA" > "$LB_T/asoundrc.out" 2>&1 ||
	lb_bail "asoundrc.sh writes the emulator's configuration"
ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:$LB_T/asoundrc
export ALSA_CONFIG_PATH

le_talk_wav "$LB_T/talk.wav" 16000 2 "$LB_TEXT_EN1" 9 2 "$LB_TEXT_EN3" 9
le_silence_wav "$LB_T/silence.wav" 48000 2 90
lb_bridge_start <<EOF
[room 1000]
name = Pool hall
dsp_pool = dspemu_poolrt
record = off
EOF
q() { lb_room_get 1000 "$1"; }

# (a)
measured_() { [ "$(q pool.state)" = running ]; }
lb_check "(a) the unit runs, its delay measured" lb_wait_for 10 measured_
lat=$(q pool.latency_ms)
lb_note "(a) pool: $(q pool.channels) channels, delay $lat ms," \
	"aec $(q pool.features.aec) ns $(q pool.features.ns)" \
	"agc $(q pool.features.agc)"
lb_assert "(a) its delay (ms)" "$lat" ">=" 10
lb_assert "(a) its delay (ms)" "$lat" "<=" 200
lb_assert "(a) channels" "$(q pool.channels)" == 8
lb_check "(a) it cancels echo" [ "$(q pool.features.aec)" = hardware ]

# (b)
lb_site_start alice opus "$LB_T/talk.wav.src.wav"
lb_site_start bob opus "$LB_T/silence.wav"
le_echo_start echo 1000 --echo-db -6 --delay-ms 150 --rt60 0.4 \
	--duration 60
le_echo_wait echo 10 || lb_bail "the echo site connects"
lb_site_dial bob 1000
lb_site_dial alice 1000
lb_site_wait alice CALL_ESTABLISHED 10 || lb_bail "alice connects"
on_unit_() { [ "$(q pool.sites.name=echo.aec)" = hardware ]; }
lb_check "(b) the echoing hall is on the unit" lb_wait_for 20 on_unit_
lb_assert "(b) sites on the unit" "$(q pool.sites.#)" == 1
sleep 8       # its canceller converges (SpeexDSP's MDF: seconds)
sv=$(q pool.sites.name=echo.served)
ms=$(q pool.sites.name=echo.missed)
lb_note "(b) served $sv, missed $ms, ERLE $(q pool.sites.name=echo.erle_db)" \
	"dB, reference delayed by" \
	"$(q pool.sites.name=echo.ref_delay_ms) ms; bridge canceller at" \
	"$(q sites.name=echo.echo.delay_ms) ms (its own ERLE" \
	"$(q sites.name=echo.echo.erle_db) dB)"
lb_assert "(b) frames mixed from the unit" "$sv" ">=" 150
lb_assert "(b) misses (% of its frames)" \
	"$(awk -v s="$sv" -v m="$ms" 'BEGIN { print 100 * m / (s + m + 1) }')" \
	"<" 10
lb_assert "(b) reference delayed (ms)" \
	"$(q pool.sites.name=echo.ref_delay_ms)" ">=" 100
lb_assert "(b) the unit's echo reduction while alice talks (dB)" \
	"$(q pool.sites.name=echo.erle_db)" ">=" 3

# (d) unplug while alice talks
late0=$(q mixer.late_ticks)
"$EMU/dspemu-fault" "$LB_T/emu/dspemu_poolrt.state" unplug > /dev/null 2>&1 ||
	lb_not_ok "(d) dspemu-fault unplugs the unit"
lost_() { [ "$(q pool.state)" = lost ]; }
lb_check "(d) unplugged: lost within 2 s" lb_wait_for 2 lost_
sw_() { [ "$(q pool.sites.name=echo.aec)" = software ]; }
lb_check "(d) the hall on its software chain" lb_wait_for 3 sw_
alarm_() { [ -n "$(q alarms.kind=device.text)" ]; }
lb_check "(d) a device alarm in the room" lb_wait_for 3 alarm_
lb_note "(d) alarm: $(q alarms.kind=device.text)"
"$EMU/dspemu-fault" "$LB_T/emu/dspemu_poolrt.state" plug > /dev/null 2>&1 ||
	lb_not_ok "(d) dspemu-fault plugs the unit back"
lb_check "(d) plugged back: the hall on the unit again" \
	lb_wait_for 10 on_unit_
lb_assert "(d) late ticks meanwhile" \
	"$(awk -v a="$(q mixer.late_ticks)" -v b="$late0" \
	   'BEGIN { print a - b }')" "<=" 5

# (c)
sleep 2
lb_site_cmd bob hangup
lb_site_cmd alice hangup
le_echo_stop echo
sleep 1
BOB=$(lb_site_rec bob)
if lb_presence "$BOB" "$LB_T/talk.wav"; then
	lb_assert "(c) bob hears alice (share dB)" \
		"$(lb_presence_get "$LB_T/talk.wav" share_db)" ">=" -6
else
	lb_not_ok "(c) wavpresence ran"
fi
le_wavecho "$LB_T/wavecho.out" "$BOB" "$LB_T/talk.wav" \
	"$LB_T/echo_echo/mic.wav"
msh=$(le_get "$LB_T/wavecho.out" mic_share_db)
lb_assert "(c) the hall's echo in bob's recording (mic_share_db)" \
	"$msh" "<=" -20
lb_check "bridge still running" lb_alive "$LB_BRIDGE_PID"
lb_done
