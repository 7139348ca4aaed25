# lib_echo.sh: helpers of the echo and noise integration tests (POSIX sh;
# sourced after lib.sh). Names start with le_.
#
#   le_pink_wav OUT RATE_HZ CHANNELS RMS_DBFS SECONDS   seeded pink noise
#   le_silence_wav OUT RATE_HZ CHANNELS SECONDS
#   le_talk_wav OUT RATE_HZ LEAD_S TEXT1 S1 GAP_S TEXT2 S2
#   le_echo_start NAME ROOM [echosite options]   an echosite in
#                                    $LB_T/echo_NAME (rec.wav, mic.wav)
#   le_line_site NAME SECONDS [echosite options]   a quiet echosite
#                                    without an echo path calling room
#                                    1000 (line tests); $LB_T/NAME.out,
#                                    .err; its pid in PID_NAME
#   le_q NAME PATH / le_sites_in N   a site's JSON field; the count
#   le_echo_wait NAME TIMEOUT_S      until it says "established"
#   le_echo_stop NAME                SIGTERM (it sends BYE); its status
#   le_sampler_start ROOM PERIOD_S / le_sampler_stop    room JSON samples
#   le_samples_count PREDICATE...    samples where sites' talking matches
#   le_wavecho OUT REC REF [MIC]     run wavecho, output as comments
#   le_get FILE KEY                  a key=value figure from such output

# ---- signals ---------------------------------------------------------------

# le_pink_wav OUT RATE_HZ CHANNELS RMS_DBFS SECONDS: pink noise (sox,
# repeatable), the same in every channel, at RMS_DBFS (0 dBFS: a
# full-scale square wave, as sox's "RMS lev dB").
le_pink_wav() {
	sox -R -q -n -r "$2" -c 1 -b 16 "$1.mono.wav" synth "$5" pinknoise \
		vol 0.5 || lb_bail "sox makes pink noise"
	_pw_rms=$(sox "$1.mono.wav" -n stats 2>&1 |
		awk '/^RMS lev dB/ { print $4 }')
	_pw_g=$(awk -v t="$4" -v r="$_pw_rms" 'BEGIN { printf "%.2f", t - r }')
	sox -R -q "$1.mono.wav" -c "$3" "$1" gain "$_pw_g" ||
		lb_bail "sox scales pink noise"
	rm -f "$1.mono.wav"
}

# le_silence_wav OUT RATE_HZ CHANNELS SECONDS
le_silence_wav() {
	sox -q -n -r "$2" -c "$3" -b 16 "$1" trim 0 "$4" ||
		lb_bail "sox makes silence"
}

# le_talk_wav OUT RATE_HZ LEAD_S TEXT1 S1 GAP_S TEXT2 S2: mono speech
# at RATE_HZ: LEAD_S of silence, TEXT1 (espeak-ng, en-us) trimmed to S1,
# GAP_S of silence, TEXT2 trimmed to S2. OUT is the analysis reference
# (exactly what the site sends from the start of its call); OUT.src.wav
# is it in stereo 48 kHz for baresip, padded with 60 s of silence.
le_talk_wav() {
	lb_speech "$1.a.wav" "$2" 1 en-us "$4" "$5"
	lb_speech "$1.b.wav" "$2" 1 en-us "$7" "$8"
	sox -q "$1.a.wav" "$1.a2.wav" pad "$3" "$6" ||
		lb_bail "sox pads speech"
	sox -q "$1.a2.wav" "$1.b.wav" "$1" || lb_bail "sox joins speech"
	sox -q "$1" -r 48000 -c 2 -b 16 "$1.src.wav" pad 0 60 ||
		lb_bail "sox makes the talker's source"
	rm -f "$1".a*.wav "$1".b*.wav
}

# ---- the echoing site ------------------------------------------------------

# le_echo_start NAME ROOM [OPTIONS...]: echosite --name NAME calling
# ROOM at the bridge, recording in $LB_T/echo_NAME/{rec,mic}.wav, its
# stderr in log; a guard --duration of 120 s unless OPTIONS say.
le_echo_start() {
	_es_n=$1
	_es_d=$LB_T/echo_$1
	_es_room=$2
	shift 2
	[ -x "$LB_TOOLS/echosite" ] ||
		lb_bail "test tool $LB_TOOLS/echosite built (make tools)"
	mkdir -p "$_es_d"
	"$LB_TOOLS/echosite" --bridge "127.0.0.1:$LB_SIP_PORT" \
		--room "$_es_room" --name "$_es_n" --duration 120 \
		--rec "$_es_d/rec.wav" --mic-rec "$_es_d/mic.wav" "$@" \
		2> "$_es_d/log" &
	echo $! > "$_es_d/pid"
	LB_PIDS="$LB_PIDS $!"
}

# le_q NAME PATH: a field of the site called NAME in room 1000's JSON
le_q() {
	lb_room_get 1000 "sites.name=$1.$2"
}

# le_sites_in N: room 1000 holds N sites (for lb_wait_for)
le_sites_in() {
	[ "$(lb_room_get 1000 site_count)" = "$1" ]
}

# le_line_site NAME SECONDS [OPTIONS...]: an echosite that calls room
# 1000 for SECONDS with no loudspeaker path and a -75 dBFS microphone,
# for the tests of what a line does to the audio (t_adapt, t_dtx_send).
le_line_site() {
	_ls_n=$1
	_ls_s=$2
	shift 2
	"$LB_TOOLS/echosite" --bridge "127.0.0.1:$LB_SIP_PORT" \
		--name "$_ls_n" --duration "$_ls_s" --echo-db -200 \
		--noise-dbfs -75 "$@" \
		> "$LB_T/$_ls_n.out" 2> "$LB_T/$_ls_n.err" &
	LB_PIDS="$LB_PIDS $!"
	eval "PID_$_ls_n=\$!"
}

le_echo_established_() {
	grep -q '^echosite: established' "$LB_T/echo_$1/log"
}

# le_echo_wait NAME TIMEOUT_S: 0 once the call is up.
le_echo_wait() {
	lb_wait_for "$2" le_echo_established_ "$1"
}

# le_echo_stop NAME: SIGTERM, wait up to 5 s; returns echosite's exit
# status (0: it sent BYE and the call ended cleanly), 124 if it had to
# be killed.
le_echo_stop() {
	_eo_p=$(cat "$LB_T/echo_$1/pid")
	lb_alive "$_eo_p" || { wait "$_eo_p" 2>/dev/null; return $?; }
	kill -TERM "$_eo_p"
	if lb_wait_for 5 lb_not_alive_ "$_eo_p"; then
		wait "$_eo_p" 2>/dev/null
		return $?
	fi
	kill -9 "$_eo_p" 2>/dev/null
	wait "$_eo_p" 2>/dev/null
	return 124
}

# le_echo_log NAME: its stderr as comments.
le_echo_log() {
	sed "s/^/#   $1: /" "$LB_T/echo_$1/log"
}

# ---- sampling the room API -------------------------------------------------

# le_sampler_start ROOM PERIOD_S: GET /api/rooms/ROOM every PERIOD_S in
# the background; one line per sample in $LB_T/sampler/samples:
# "MS_SINCE_START JSON". MS counts from the call of le_sampler_start.
le_sampler_start() {
	mkdir -p "$LB_T/sampler"
	: > "$LB_T/sampler/samples"
	_ss_t0=$(lb_now_ms)
	(
		while :; do
			_sm_j=$(lb_http "/api/rooms/$1" 2>/dev/null |
				tr -d '\n')
			[ -n "$_sm_j" ] &&
				echo "$(($(lb_now_ms) - _ss_t0)) $_sm_j"
			sleep "$2"
		done
	) >> "$LB_T/sampler/samples" &
	echo $! > "$LB_T/sampler/pid"
	LB_PIDS="$LB_PIDS $!"
}

le_sampler_stop() {
	lb_stop "$(cat "$LB_T/sampler/pid")" 1
}

# le_samples_table SITE...: one line per sample, "MS talking_of_SITE1
# talking_of_SITE2 ..." (true/false/-), in $LB_T/sampler/table.
le_samples_table() {
	while read -r _st_ms _st_json; do
		_st_line=$_st_ms
		for _st_s in "$@"; do
			_st_v=$(echo "$_st_json" | "$LB_TOOLS/jsonq" \
				"sites.name=$_st_s.talking" 2>/dev/null)
			_st_line="$_st_line ${_st_v:--}"
		done
		echo "$_st_line"
	done < "$LB_T/sampler/samples" > "$LB_T/sampler/table"
}

# le_samples_count AWK_CONDITION: samples of the table (fields $1 = ms,
# $2.. = talking of the sites, in le_samples_table's order) that match.
le_samples_count() {
	awk "$1 { n++ } END { print n + 0 }" "$LB_T/sampler/table"
}

# le_last_sample: the JSON of the last sample.
le_last_sample() {
	tail -1 "$LB_T/sampler/samples" | cut -d' ' -f2-
}

# ---- analysis --------------------------------------------------------------

# le_wavecho OUT REC REF [MIC]: wavecho's figures into OUT, as comments
# too. Fails if wavecho does.
le_wavecho() {
	_we_o=$1
	shift
	"$LB_TOOLS/wavecho" "$@" > "$_we_o" 2>&1
	_we_rc=$?
	sed 's/^/#   /' "$_we_o"
	return $_we_rc
}

# le_get FILE KEY: the value of KEY=VALUE in FILE (first match).
le_get() {
	tr ' ' '\n' < "$1" | sed -n "s/^$2=//p" | head -1
}
