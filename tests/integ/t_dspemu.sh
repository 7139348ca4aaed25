#!/bin/sh
# The emulated DSP sound card (tests/alsaemu) seen through plain
# alsa-lib by device name, as the bridge's hw/ layer sees it: each
# device's controls and card info; echo cancellation, noise suppression,
# AGC and volume steps measured in both clock modes; unplug and replug;
# control events; the conference DSP unit (8 sites, processing delay);
# the real-time clock (nominal and +100 ppm) and xruns; determinism;
# amixer and arecord on the generated asoundrc. Builds nothing: uses
# $LB_BUILD/alsaemu (make). Figures are printed with each check.
. "$(dirname "$0")/lib.sh"
lb_init dspemu

E=$LB_BUILD/alsaemu
ST=$LB_T/state
for f in libasound_module_pcm_dspemu.so libasound_module_ctl_dspemu.so \
	 dspemu-fault dspemu-selftest; do
	[ -e "$E/$f" ] || lb_bail "$E/$f built (make)"
done

# a WAV talker (22.05 kHz: the emulator resamples it) on a device of
# its own, and a real-time card 100 ppm fast: the EXTRA argument
espeak-ng -w "$LB_T/talk.wav" "The near end talker speaks in the" \
	"meeting room, close to the speakerphone." ||
	lb_bail "espeak-ng wrote a WAV"
sh "$(dirname "$0")/../alsaemu/asoundrc.sh" "$LB_T/asoundrc" "$E" "$ST" \
	"device dspemu_talk near \"$LB_T/talk.wav\" near_db -30
device dspemu_ppm dsp false realtime true ppm 100" ||
	lb_bail "asoundrc.sh wrote the configuration"
ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:$LB_T/asoundrc
export ALSA_CONFIG_PATH

# run CHECK DEVICE [ARG]: the self-test's key=value lines in $LB_T/out
run() {
	"$E/dspemu-selftest" "$1" "$2" "$ST/$2.state" $3 \
		> "$LB_T/out" 2> "$LB_T/err"
	_r_rc=$?
	sed 's/^/#   /' "$LB_T/err" | head -5
	# 1: the device could not be used; other codes: a sanitizer
	[ $_r_rc -eq 0 ] || lb_not_ok "dspemu-selftest $1 $2 exited $_r_rc"
	return $_r_rc
}
v() { # KEY: its value in the last output
	sed -n "s/^$1=//p" "$LB_T/out" | head -1
}
same() { # DESCRIPTION GOT WANT
	if [ "$2" = "$3" ]; then
		lb_ok "$1 ($2)"
	else
		lb_not_ok "$1 (got '$2', want '$3')"
	fi
}
has() { # DESCRIPTION LIST ITEM: ITEM is one of the comma-separated LIST
	case ",$2," in
	*",$3,"*) lb_ok "$1" ;;
	*) lb_not_ok "$1 (not in '$2')" ;;
	esac
}
near() { # DESCRIPTION GOT WANT TOLERANCE
	if awk -v g="$2" -v w="$3" -v t="$4" 'BEGIN {
		if (g !~ /^-?[0-9.]+$/) exit 1
		d = g - w; if (d < 0) d = -d; exit !(d <= t + 1e-9) }'; then
		lb_ok "$1 ($2, want $3 +- $4)"
	else
		lb_not_ok "$1 (measured ${2:-nothing}, want $3 +- $4)"
	fi
}

# ---- capabilities from the controls, per device --------------------------
run caps dspemu
lb_note "dspemu: $(v names); volume TLV $(v tlv_db) dB"
same "dspemu: three switches" "$(v switches)" 3
for c in "Echo Cancel Switch" "Noise Suppression Switch" "AGC Switch" \
	 "AGC Target Level" "Capture Volume" "Playback Volume"; do
	has "dspemu: control '$c'" "$(v names)" "$c"
done
same "dspemu: volume TLV -40..+20 dB" "$(v tlv_db)" "-40.00..20.00"
same "dspemu: card id" "$(v card_id)" DSPEmu
run caps dspemu_rt
same "dspemu_rt: the same controls" "$(v switches)/$(v controls)" 3/6
run caps dspemu_plain
lb_note "dspemu_plain: $(v names)"
same "dspemu_plain: no switches, two volumes" \
	"$(v switches)/$(v names)" "0/Capture Volume,Playback Volume"
run caps dspemu_hidden
lb_note "dspemu_hidden: $(v card_id) $(v driver) '$(v card_name)':" \
	"$(v names)"
same "dspemu_hidden: no switches" "$(v switches)" 0
same "dspemu_hidden: card id" "$(v card_id)" SPEAK510
same "dspemu_hidden: driver" "$(v driver)" USB-Audio
same "dspemu_hidden: card name" "$(v card_name)" "Jabra SPEAK 510 USB"
run caps dspemu_uac
same "dspemu_uac: only the UAC AGC control" "$(v controls)/$(v names)" \
	"1/Mic Capture Auto Gain Control"
same "dspemu_uac: card id and driver" "$(v card_id)/$(v driver)" \
	UACAGC/USB-Audio
run caps dspemu_pool8
same "dspemu_pool8: card id, switches" "$(v card_id)/$(v switches)" \
	ConfDSP8/3
same "dspemu_pool8: card name" "$(v card_name)" "Conference DSP Unit 8ch"

# ---- the processing, in both clock modes ---------------------------------
for d in dspemu dspemu_rt; do
	run erle $d
	lb_note "$d: echo of -20 dBFS noise: AEC off $(v aec_off_dbfs)," \
		"on $(v aec_on_dbfs) dBFS"
	lb_assert "$d: ERLE, Echo Cancel Switch on vs off" \
		"$(v erle_db)" ">=" 12
	run ns $d
	lb_note "$d: noise floor (p10) NS off $(v floor_off_dbfs)," \
		"on $(v floor_on_dbfs) dBFS; talker p90 $(v speech_off_dbfs)" \
		"-> $(v speech_on_dbfs)"
	lb_assert "$d: NS lowers the noise floor (dB)" "$(v ns_db)" ">=" 10
	run agc $d
	lb_note "$d: -40 dBFS talker (p90) AGC off $(v speech_off_dbfs)," \
		"on $(v speech_on_dbfs) dBFS (target -20)"
	lb_assert "$d: AGC raises a quiet talker (dB)" "$(v agc_db)" ">=" 10
	if [ $d = dspemu ]; then tol=0.05; else tol=0.3; fi
	run volume $d
	lb_note "$d: capture at 0 dB $(v cap_0db_dbfs) dBFS"
	same "$d: TLV dB = index - 40, every step" "$(v tlv_step_err_db)" \
		0.000
	near "$d: Capture Volume 34 (-6 dB)" "$(v cap_m6_db)" -6 $tol
	near "$d: Capture Volume 46 (+6 dB)" "$(v cap_p6_db)" 6 $tol
	near "$d: Playback Volume 30 (-10 dB) on the echo" \
		"$(v play_m10_db)" -10 $tol
	run unplug $d
	same "$d: writei after unplug" "$(v write_err)" -19
	same "$d: readi after unplug" "$(v read_err)" -19
	same "$d: PCM state after unplug" "$(v state)" DISCONNECTED
	same "$d: poll returns at once" "$(v poll)" 1
	same "$d: PCM poll revents" "$(v pcm_revents)" ERR,HUP
	same "$d: prepare after unplug" "$(v prepare_err)" -19
	same "$d: control read/write after unplug" \
		"$(v ctl_read_err)/$(v ctl_write_err)" -19/-19
	same "$d: control poll revents" "$(v ctl_revents)" ERR,HUP
	same "$d: PCM and control open while unplugged" \
		"$(v reopen_pcm_err)/$(v reopen_ctl_err)" -19/-19
	same "$d: an old handle stays dead after replug" \
		"$(v old_read_err)" -19
	same "$d: replug: open and run" \
		"$(v replug_open_err)/$(v replug_run_err)/$(v replug_ctl_err)" \
		0/0/0
	same "$d: replug resets the switches" "$(v aec_after_replug)" 0
done

# ---- free-running: determinism, events, devices of their own -------------
run same dspemu
same "free-running: two runs and an mmap run give the same samples" \
	"$(v identical)" 1
run events dspemu
same "control write returns 1 when changed, 0 when not" \
	"$(v write_changed)/$(v write_same)" 1/0
same "no wake-up while nothing changes (0.3 s)" "$(v idle_wakeups)" 0
same "a write wakes another handle's poll" \
	"$(v event_poll)/$(v event_revents)" 1/IN
same "the event names the control" "$(v event_name)" "Echo Cancel Switch"
run echo dspemu_plain
plain=$(v return_loss_db)
run echo dspemu_hidden
lb_note "echo return loss: plain codec $plain dB, speakerphone" \
	"$(v return_loss_db) dB"
lb_assert "dspemu_hidden: echo cancelled with no switch (dB)" \
	"$(awk "BEGIN{print $(v return_loss_db) - $plain}")" ">=" 12
run agc dspemu_uac
lb_assert "dspemu_uac: its AGC control raises a quiet talker (dB)" \
	"$(v agc_db)" ">=" 10
run level dspemu_talk
near "a WAV talker (22.05 kHz, resampled) at near_db -30 (dBFS)" \
	"$(v active_dbfs)" -30 1.5

# ---- the conference DSP unit ---------------------------------------------
run pool dspemu_pool8
lb_note "pool: per site $(grep -E '^site' "$LB_T/out" | tr '\n' ' ')"
lb_assert "pool: every site's echo reduced (worst, dB)" \
	"$(v erle_min_db)" ">=" 12
lb_assert "pool: talkers kept (worst deviation, dB)" \
	"$(v talker_dev_max_db)" "<=" 1
lb_note "pool: playback delay $(v playback_delay_ms) ms"
near "pool: processing delay, shortest site (ms)" "$(v latency_min_ms)" \
	12 0.1
near "pool: processing delay, longest site (ms)" "$(v latency_max_ms)" \
	12 0.1

# ---- fault injection from outside ----------------------------------------
"$E/dspemu-fault" "$ST/dspemu_plain.state" unplug
run openerr dspemu_plain
same "dspemu-fault unplug: opens fail" "$(v pcm_open)/$(v ctl_open)" \
	-19/-19
"$E/dspemu-fault" "$ST/dspemu_plain.state" plug
run openerr dspemu_plain
same "dspemu-fault plug: opens work" "$(v pcm_open)/$(v ctl_open)" 0/0
same "dspemu-fault show: present" \
	"$("$E/dspemu-fault" "$ST/dspemu_plain.state" get present)" 1
lb_check "dspemu-fault set rejects a bad value" \
	sh -c "! '$E/dspemu-fault' '$ST/dspemu_plain.state' set echo_db x \
		2>/dev/null"

# ---- the real-time clock -------------------------------------------------
"$E/dspemu-selftest" rate dspemu_ppm "$ST/dspemu_ppm.state" 3 \
	> "$LB_T/ppm.out" 2>&1 &
ppm_pid=$!
run rate dspemu_rt 3
wait $ppm_pid
lb_note "real time: $(v rate_hz) Hz over $(v rate_samples) samples," \
	"paced $(v pace_pct) % off"
lb_assert "real time paces at the nominal rate (ppm)" \
	"$(v rate_ppm | tr -d -)" "<=" 25
lb_assert "frames read per wall-clock second (% off 48000)" \
	"$(v pace_pct | tr -d -)" "<=" 0.5
ppm=$(sed -n 's/^rate_ppm=//p' "$LB_T/ppm.out")
near "ppm 100: the clock runs fast (ppm)" "$ppm" 100 25
run xrun dspemu_rt
same "stalled reader: readi -EPIPE, XRUN" \
	"$(v cap_stalled)/$(v cap_state)" -32/XRUN
same "snd_pcm_prepare recovers the capture" \
	"$(v cap_prepare)/$(v cap_after)" 0/320
same "stalled writer: writei -EPIPE, XRUN" \
	"$(v play_stalled)/$(v play_state)" -32/XRUN
same "snd_pcm_prepare recovers the playback" \
	"$(v play_prepare)/$(v play_after)" 0/320
lb_assert "xruns counted in the state file" \
	"$(v xruns_capture)" ">=" 1

# ---- stock tools (alsa-utils) --------------------------------------------
if command -v amixer >/dev/null 2>&1 && command -v arecord >/dev/null 2>&1
then
	# a sanitizer build's plugins need its runtime loaded first
	pre=""
	for rt in asan tsan; do
		ldd "$E/libasound_module_pcm_dspemu.so" |
			grep -q "lib$rt" || continue
		pre=$(${CC:-cc} -print-file-name="lib$rt.so")
	done
	LD_PRELOAD=$pre ASAN_OPTIONS=detect_leaks=0 \
		amixer -D dspemu controls > "$LB_T/amixer" 2>&1
	lb_check "amixer -D dspemu controls lists the switches" \
		grep -q "name='Echo Cancel Switch'" "$LB_T/amixer"
	LD_PRELOAD=$pre ASAN_OPTIONS=detect_leaks=0 \
		amixer -D dspemu sset Capture 34 > "$LB_T/amixer" 2>&1
	lb_check "amixer sset Capture 34 reads -6.00dB from the TLV" \
		grep -q "Capture 34 .*\[-6.00dB\]" "$LB_T/amixer"
	LD_PRELOAD=$pre ASAN_OPTIONS=detect_leaks=0 \
		amixer -D dspemu sset Capture 40 > /dev/null 2>&1
	t0=$(lb_now_ms)
	LD_PRELOAD=$pre ASAN_OPTIONS=detect_leaks=0 \
		arecord -q -D dspemu_rt -d 1 -f S16_LE -r 16000 \
		"$LB_T/rec.wav" 2> "$LB_T/arecord"
	rc=$?
	t1=$(lb_now_ms)
	sz=$(wc -c < "$LB_T/rec.wav" 2>/dev/null)
	lb_note "arecord -D dspemu_rt -d 1: exit $rc, $sz bytes," \
		"$((t1 - t0)) ms"
	same "arecord -D dspemu_rt -d 1 -f S16_LE -r 16000: 1 s recorded" \
		"$rc/$sz" "0/32044"
else
	lb_ok "amixer and arecord # SKIP alsa-utils not installed"
fi

lb_done
