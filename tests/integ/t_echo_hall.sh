#!/bin/sh
# shellcheck disable=SC2016 # '$2 == "true"': awk conditions, unexpanded
# Echoing hall: four real SIP sites in room 1000.
#   alice  baresip, Opus: the talker (espeak-ng English: 4 s of silence,
#          7 s of speech, a 3.5 s pause, 6 s of speech);
#   bob    baresip, Opus: the listener (sends silence, records);
#   echo   echosite, Opus: plays what it hears into a room (RT60 0.4 s)
#          and sends it back 150 ms later (plus its 60 ms playout
#          buffer) at 0 dB loudspeaker-to-mic gain, with -55 dBFS noise;
#   carol  baresip, Opus: an idle site sending pink noise at -30 dBFS.
# Asserts, each with its figure and threshold:
#  (a) bob hears alice (wavpresence share_db, as in t_mix_opus);
#  (b) bob does not hear alice's echo: the echo site's microphone signal
#      is not in bob's recording at the lags of an echo (wavecho
#      mic_share_db), and the response from alice to bob has no energy
#      150-1200 ms after its direct path (wavecho echo_db); alice does
#      not hear her own echo either (wavpresence);
#  (c) bob does not hear carol's noise: his recording's level before
#      alice starts and in her long pause (wavecho lead/pause_dbfs);
#  (d) the room API never calls the echo site talking while alice is,
#      nor carol talking after the first 2 s (sampled 4 times a second);
#      the echo control's figures for the echo site are printed.
# Sanity checks make sure the echo is there to be removed (alice's
# voice is in the echo site's microphone, share_db about -3 dB: the
# room's direct path; the reverberant tail is not fitted).
# Calibration (loopback, 2 cores, a bridge that mixes the echo site as
# any talker): the echo is 254 ms after the direct path, mic_share_db
# -4.5, echo_db -4.0, alice's own echo share_db -5.4; the control run
# LB_ECHO_OPTS=--mute-send (the echo stays in the echo site's mic but
# is not sent) reads -29.3, -16.7 (floor -18.7) and -27.4: the
# thresholds sit between, with 6 dB or more on either side.
# Env: LB_ECHO_DB (echo site gain, default 0), LB_ECHO_OPTS (more
# echosite options), LB_ECHO_MAX_DB (-20), LB_ECHO_IR_MAX_DB (-10),
# LB_QUIET_DBFS (-50), LB_ECHO_NAME (the test's name, echo_hall),
# LB_ECHO_SHED=1 (the mixer short of time on every tick, and checked
# so: t_echo_shed.sh); and lib.sh's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_echo.sh"
lb_init "${LB_ECHO_NAME:-echo_hall}"
[ "${LB_ECHO_SHED:-0}" = 1 ] && LB_BRIDGE_EXTRA="shed_tick_us = 1"
for _t in echosite wavecho; do
	[ -x "$LB_TOOLS/$_t" ] ||
		lb_bail "test tool $LB_TOOLS/$_t built (make tools)"
done

LEAD_S=4 TALK1_S=7 GAP_S=3.5 TALK2_S=6 TAIL_S=2.5
CALL_S=$(awk "BEGIN { print $LEAD_S + $TALK1_S + $GAP_S + $TALK2_S + \
	$TAIL_S }")
ECHO_MAX_DB=${LB_ECHO_MAX_DB:--20}
ECHO_IR_MAX_DB=${LB_ECHO_IR_MAX_DB:--10}
QUIET_DBFS=${LB_QUIET_DBFS:--50}

# ---- signals ----
le_talk_wav "$LB_T/talk.wav" 16000 $LEAD_S "$LB_TEXT_EN1" $TALK1_S \
	$GAP_S "$LB_TEXT_EN3" $TALK2_S
le_silence_wav "$LB_T/silence.wav" 48000 2 90
le_pink_wav "$LB_T/noise.wav" 48000 2 -30 90
sox -q "$LB_T/noise.wav" -c 1 "$LB_T/noise_ref.wav" trim 0 40 ||
	lb_bail "sox trims the noise reference"
lb_note "talker: $(soxi -D "$LB_T/talk.wav") s, noise:" \
	"$(sox "$LB_T/noise_ref.wav" -n stats 2>&1 |
	   awk '/^RMS lev dB/ { print $4 }') dBFS RMS"

# ---- the call ----
lb_bridge_start <<EOF
[room 1000]
name = Echo hall
max_sites = 10
EOF
lb_site_start alice opus "$LB_T/talk.wav.src.wav"
lb_site_start bob opus "$LB_T/silence.wav"
lb_site_start carol opus "$LB_T/noise.wav"
lb_site_dial bob 1000
lb_site_dial carol 1000
# shellcheck disable=SC2086
le_echo_start echo 1000 --echo-db "${LB_ECHO_DB:-0}" --delay-ms 150 \
	--rt60 0.4 --noise-dbfs -55 $LB_ECHO_OPTS
_up=0
for _s in bob carol; do
	if lb_site_wait $_s CALL_ESTABLISHED 10; then
		_up=$((_up + 1))
	else
		lb_site_log_tail $_s
	fi
done
if le_echo_wait echo 10; then
	_up=$((_up + 1))
else
	le_echo_log echo
fi
# alice dials last: her timeline (and its silent lead) starts with
# everyone in the room
lb_site_dial alice 1000
if lb_site_wait alice CALL_ESTABLISHED 10; then
	_up=$((_up + 1))
else
	lb_site_log_tail alice
fi
lb_assert "all four sites connected to room 1000" "$_up" "==" 4
if [ "$_up" -ne 4 ]; then
	lb_bridge_log_tail 30
	lb_done
fi
le_sampler_start 1000 0.25
sleep "$CALL_S"
le_sampler_stop
for _s in alice bob carol; do
	lb_assert "site $_s still in the call after $CALL_S s" \
		"$(lb_site_events $_s CALL_CLOSED)" "==" 0
done
for _s in alice bob carol; do
	lb_site_quit $_s
done
le_echo_stop echo
_rc=$?
le_echo_log echo
lb_assert "echosite hung up cleanly (exit status)" "$_rc" "==" 0

# ---- analysis ----
REF=$LB_T/talk.wav
MIC=$LB_T/echo_echo/mic.wav
BOB=$(lb_site_rec bob)
ALICE=$(lb_site_rec alice)
if [ -z "$BOB" ] || [ -z "$ALICE" ] || [ ! -s "$MIC" ]; then
	lb_not_ok "recordings present (bob '$BOB', alice '$ALICE', $MIC)"
	lb_done
fi

# wavpresence re-aligns every second, so this holds with --drift-ppm
# too (a drifting echo smears wavecho's time-invariant response)
lb_note "the echo site's microphone against alice's speech:"
lb_presence "$MIC" "$REF" ||
	lb_not_ok "wavpresence analyses the echo site's microphone"
_d="sanity: the echo site's mic carries alice's echo"
_d="$_d (lag $(lb_presence_get "$REF" lag_ms) ms): share_db"
lb_assert "$_d" "$(lb_presence_get "$REF" share_db)" ">" -10

lb_note "bob's recording against alice's speech and carol's noise:"
lb_presence "$BOB" "$REF" "$LB_T/noise_ref.wav" ||
	lb_not_ok "wavpresence analyses bob's recording"
lb_assert "(a) bob hears alice: share_db (corr $(lb_presence_get "$REF" \
	corr))" "$(lb_presence_get "$REF" share_db)" ">" \
	"${LB_PRESENT_DB:--10}"
# Not asserted: a codec keeps noise's spectrum, not its waveform, so
# noise heard through two Opus codecs still reads near chance here
# (about -20 dB); the levels in (c) are the measure for noise.
lb_note "carol's noise waveform in bob's recording: share_db" \
	"$(lb_presence_get "$LB_T/noise_ref.wav" share_db) (not a measure" \
	"of noise through Opus; see (c))"

lb_note "bob's recording: alice's direct path, her echo, the pauses:"
le_wavecho "$LB_T/we_bob.out" "$BOB" "$REF" "$MIC" ||
	lb_not_ok "wavecho analyses bob's recording"
_w=$LB_T/we_bob.out
lb_note "direct path: lag $(le_get "$_w" direct_lag_ms) ms, gain" \
	"$(le_get "$_w" gain_db) dB; echo peak" \
	"$(le_get "$_w" echo_lag_ms) ms after it"
_d="(b) bob does not hear the echo: the echo site's mic signal in his"
_d="$_d recording, $(le_get "$_w" mic_lag_ms) ms after the direct path,"
_d="$_d share_db"
lb_assert "$_d" "$(le_get "$_w" mic_share_db)" "<" "$ECHO_MAX_DB"
_d="(b) bob: alice's response 150-1200 ms after the direct path, over"
_d="$_d it, dB (this measure's floor: $(le_get "$_w" floor_db))"
lb_assert "$_d" "$(le_get "$_w" echo_db)" "<" "$ECHO_IR_MAX_DB"

lb_note "alice's recording (mix-minus: only an echo would bring her" \
	"own voice back):"
lb_presence "$ALICE" "$REF" ||
	lb_not_ok "wavpresence analyses alice's recording"
lb_assert "(b) alice does not hear her own echo: share_db" \
	"$(lb_presence_get "$REF" share_db)" "<" "${LB_ABSENT_DB:--20}"

lb_assert "(c) sanity: seconds of alice's long pauses measured" \
	"$(le_get "$_w" pause_s)" ">=" 2
_d="(c) bob's level before alice starts ($(le_get "$_w" lead_s) s), dBFS"
lb_assert "$_d" "$(le_get "$_w" lead_dbfs)" "<" "$QUIET_DBFS"
_d="(c) bob's level in alice's long pauses ($(le_get "$_w" pause_s) s,"
_d="$_d loudest 200 ms $(le_get "$_w" pause_max_dbfs)), dBFS"
lb_assert "$_d" "$(le_get "$_w" pause_dbfs)" "<" "$QUIET_DBFS"

# ---- the room API ----
le_samples_table alice echo carol
_n=$(le_samples_count 'NF >= 4')
_alice=$(le_samples_count '$2 == "true"')
_both=$(le_samples_count '$2 == "true" && $3 == "true"')
_echo=$(le_samples_count '$3 == "true"')
_carol0=$(le_samples_count '$1 <= 2000 && $4 == "true"')
_carol=$(le_samples_count '$1 > 2000 && $4 == "true"')
lb_note "room API: $_n samples; talking: alice $_alice, echo $_echo," \
	"carol $_carol0 in the first 2 s and $_carol after"
lb_assert "(d) sanity: the API calls alice talking (samples)" \
	"$_alice" ">=" 10
lb_assert "(d) samples with the echo site talking while alice talks" \
	"$_both" "==" 0
lb_assert "(d) samples with carol (noise) talking after the first 2 s" \
	"$_carol" "==" 0
le_last_sample > "$LB_T/last.json"
for _k in echo_only echo.present echo.delay_ms echo.erl_db \
	  echo.erle_db echo.drift_ppm echo.double_talk dsp.speech_prob \
	  dsp.noise_dbfs level_in_dbfs; do
	_v=$("$LB_TOOLS/jsonq" "sites.name=echo.$_k" < "$LB_T/last.json" \
		2>/dev/null)
	lb_note "room API, echo site: $_k = ${_v:-(absent)}"
done
_v=$("$LB_TOOLS/jsonq" "sites.name=carol.dsp.noise_dbfs" \
	< "$LB_T/last.json" 2>/dev/null)
lb_note "room API, carol: dsp.noise_dbfs = ${_v:-(absent)}"
if [ "${LB_ECHO_SHED:-0}" = 1 ]; then
	_t=$("$LB_TOOLS/jsonq" mixer.ticks < "$LB_T/last.json" 2>/dev/null)
	_v=$("$LB_TOOLS/jsonq" mixer.shed_ticks < "$LB_T/last.json" \
		2>/dev/null)
	lb_assert "sanity: the mixer was short of time on every tick" \
		"${_v:-0}" ">=" "$((${_t:-1} - 1))"
fi
lb_done
