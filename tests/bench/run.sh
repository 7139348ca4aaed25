#!/bin/sh
# `make bench`: N simulated sites against the real bridge, for growing N.
#
# For each N a fresh bridge starts with a temporary config, the load
# generator (build/bench/loadgen, tests/bench/loadgen.c) joins N sites
# through SIP, drives Opus RTP for a warm-up and a measured window, hangs
# up, and the bridge is stopped. One markdown table row per N; the run
# stops early once the bridge falls behind (see SATURATED below).
# Builds nothing: `make bench` built everything before.
#
# Env: LB_BUILD (build dir, default build)
#      LB_BENCH_N        list of N (default "10 50 100 200 400 800 1600")
#      LB_BENCH_WARMUP   seconds before the window (default 3)
#      LB_BENCH_MEASURE  window length in seconds (default 10)
#      LB_BENCH_TALKERS  sites sending speech (default 3)
#      LB_BENCH_OUT      also write the table (markdown) to this file
#      LB_BENCH_ARGS     extra loadgen arguments (e.g. --addr-mode ports)
#      LB_BENCH_KEEP     keep the temp dir (configs, bridge logs, output)
#      LB_BENCH_RECORD   on: the room records (mix + a track per site);
#                        each row then gets a RECDISK line on stderr with
#                        the disk the tracks took (default off)
# Exit status: 0 when every N ran (saturation is a result, not a
# failure), 1 when the bridge or the generator could not run at all.

B=${LB_BUILD:-build}
NS=${LB_BENCH_N:-"10 50 100 200 400 800 1600"}
WARMUP=${LB_BENCH_WARMUP:-3}
MEASURE=${LB_BENCH_MEASURE:-10}
TALKERS=${LB_BENCH_TALKERS:-3}
ROOM=1000
JANUS_MS=8.2        # Janus AudioBridge 1.1.2, ms CPU/s/site at N=200

BIN=$B/lowbridge
LOADGEN=$B/bench/loadgen
for f in "$BIN" "$LOADGEN"; do
	if [ ! -x "$f" ]; then
		echo "bench: $f missing (run make all)" >&2
		exit 1
	fi
done

tmp=$(mktemp -d /tmp/lbbench.XXXXXX)
bpid=
stop_bridge() {
	[ -n "$bpid" ] || return 0
	kill -TERM "$bpid" 2>/dev/null
	i=0
	while kill -0 "$bpid" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$bpid" 2>/dev/null; then
		echo "bench: bridge $bpid ignored SIGTERM for 5 s, killing" >&2
		kill -KILL "$bpid" 2>/dev/null
	fi
	wait "$bpid" 2>/dev/null
	bpid=
}
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	stop_bridge
	if [ -n "$LB_BENCH_KEEP" ]; then
		echo "bench: logs kept in $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One speech file for every run (loadgen falls back to espeak-ng itself,
# then to a synthetic signal).
speech_arg=
if command -v espeak-ng >/dev/null 2>&1 &&
	espeak-ng -v en-us -s 150 -w "$tmp/speech.wav" \
	"Good morning everyone, and thank you for joining the call. Let us \
start with the status of the first item on the list. The new release went \
out on Tuesday, and so far we have seen only two small problems, both \
fixed the same evening. Next, the budget. We are slightly under plan for \
the quarter, mostly because the hardware order was delayed. Are there any \
questions about that? No? Then let us move on to the schedule for the \
next three weeks." 2>/dev/null; then
	speech_arg="--speech $tmp/speech.wav"
fi

# Ports: SIP and HTTP per run from a block chosen by our pid, so two
# benches (or a leftover bridge) do not collide; RTP from 30000-30099.
base=$((40000 + ($$ % 1000) * 16))

header="| N | bridge CPU ms/s/site | bridge CPU % of a core | late ticks % \
| pkts out/site/s | pkts in/site/s | loss out % | loadgen CPU % of a core \
| host busy % (2 cores) |"
rule="|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
rows=
ms200=
stopped=
ran=0
t_start=$(date +%s)
echo "bench: $(nproc) cores, ${WARMUP} s warm-up, ${MEASURE} s window," \
	"$TALKERS talkers, N = $NS" >&2

# get KEY: a value of the current RESULT line.
get() { echo "$res" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

run=0
for n in $NS; do
	sip=$((base + run * 2))
	http=$((base + run * 2 + 1))
	run=$((run + 1))
	mkdir -p "$tmp/data$n"
	cat > "$tmp/bridge$n.conf" <<EOF
[bridge]
sip = 127.0.0.1:$sip
http = 127.0.0.1:$http
data = $tmp/data$n
rtp_ports = 30000-30099
rtp_timeout_s = 30
log_level = warn

[room $ROOM]
name = bench
max_sites = $((n + 100))
max_talkers = $TALKERS
record = ${LB_BENCH_RECORD:-off}
EOF
	"$BIN" serve --config "$tmp/bridge$n.conf" > "$tmp/bridge$n.log" 2>&1 &
	bpid=$!
	i=0
	until "$LOADGEN" --probe --http "127.0.0.1:$http" --room $ROOM \
		2>/dev/null; do
		i=$((i + 1))
		if ! kill -0 "$bpid" 2>/dev/null || [ $i -ge 100 ]; then
			echo "bench: bridge did not come up (N=$n):" >&2
			tail -20 "$tmp/bridge$n.log" >&2
			exit 1
		fi
		sleep 0.1
	done

	echo "bench: N=$n" >&2
	# shellcheck disable=SC2086
	timeout $((WARMUP + MEASURE + 90)) "$LOADGEN" -n "$n" \
		-k "$TALKERS" --sip "127.0.0.1:$sip" \
		--http "127.0.0.1:$http" --room $ROOM --pid "$bpid" \
		--warmup "$WARMUP" --measure "$MEASURE" $speech_arg \
		$LB_BENCH_ARGS > "$tmp/out$n" 2> "$tmp/err$n"
	rc=$?
	sed 's/^/  /' "$tmp/err$n" >&2
	if ! kill -0 "$bpid" 2>/dev/null; then
		echo "bench: the bridge exited during N=$n; its log:" >&2
		tail -20 "$tmp/bridge$n.log" >&2
		bpid=
		stopped="bridge exited at N=$n"
	fi
	stop_bridge
	nlog=$(grep -c . "$tmp/bridge$n.log")
	if [ "$nlog" -gt 0 ]; then
		echo "bench: the bridge logged $nlog lines (N=$n), first:" >&2
		head -5 "$tmp/bridge$n.log" | sed 's/^/  /' >&2
	fi

	if [ "${LB_BENCH_RECORD:-off}" = on ]; then
		# disk per hour of a track: the talkers' (the largest tracks)
		# and the others'; the mix's
		_sd=$(ls -d "$tmp/data$n"/recordings/*/* 2>/dev/null | head -1)
		_dur=$(tail -1 "$_sd/journal.jsonl" 2>/dev/null |
			sed -n 's/^{"t":\([0-9.]*\).*/\1/p')
		ls -l "$_sd"/site-*.opus 2>/dev/null | awk '{ print $5 }' |
			sort -n > "$tmp/sizes$n"
		awk -v d="${_dur:-0}" -v k="$TALKERS" -v mix="$(stat -c %s \
			"$_sd/mix.opus" 2>/dev/null)" '{ v[NR] = $1 }
			END { if (d <= 0 || NR <= k) exit
			      for (i = 1; i <= NR - k; i++) idle += v[i]
			      for (; i <= NR; i++) talk += v[i]
			      h = d / 3600
			      printf "RECDISK n=%d seconds=%.1f idle_mb_h=%.2f " \
				"talker_mb_h=%.2f mix_mb_h=%.2f\n", NR, d,
				idle / (NR - k) / h / 1e6, talk / k / h / 1e6,
				mix / h / 1e6 }' "$tmp/sizes$n" >&2
	fi
	res=$(grep '^RESULT ' "$tmp/out$n")
	if [ -z "$res" ]; then
		echo "bench: loadgen produced no result at N=$n (exit $rc)" >&2
		[ $ran -gt 0 ] || exit 1
		stopped=${stopped:-"no result at N=$n"}
		break
	fi
	ran=$((ran + 1))
	rows="$rows$(grep '^| ' "$tmp/out$n")
"
	[ "$n" = 200 ] && ms200=$(get bridge_ms_per_site_s)
	joined=$(get joined)
	# SATURATED: the bridge fell behind badly, or lost sites or packets.
	why=$(awk -v l="$(get late_pct)" -v o="$(get out_pps)" \
		-v i="$(get in_pps)" -v s="$(get loss_pct)" -v j="$joined" \
		-v n="$n" -v b="$(get bye_rx)" 'BEGIN {
		if (j < n) { print "only " j " of " n " sites joined"; exit }
		if (b > 0) { print b " calls dropped by the bridge"; exit }
		if (l != "nan" && l > 20) { print "late ticks " l "%"; exit }
		if (o < 45) { print "only " o " pkt/s/site out"; exit }
		if (i != "nan" && i < 45) { print "only " i " pkt/s/site in"; exit }
		if (s > 5) { print "loss " s "%"; exit }
	}')
	if [ -n "$why" ]; then
		stopped="stopped after N=$n: $why"
		break
	fi
	[ -z "$stopped" ] || break
done

table="$header
$rule
$rows"
ratio=
if [ -n "$ms200" ]; then
	ratio=$(awk -v a="$JANUS_MS" -v b="$ms200" \
		'BEGIN { if (b > 0) printf "%.1f", a / b; else print "inf" }')
fi
ref="Reference: Janus AudioBridge 1.1.2, 16 kHz Opus, 3 talking, no speech \
processing: $JANUS_MS ms CPU per site per second at N=200 (saturates 2 cores \
at about 200 sites)."
if [ -n "$ratio" ]; then
	ref="$ref lowbridge at N=200: $ms200 ms, ${ratio}x less."
fi

echo
echo "$table"
[ -z "$stopped" ] || echo "($stopped)"
echo
echo "$ref"
echo "bench: done in $(($(date +%s) - t_start)) s" >&2
if [ -n "$LB_BENCH_OUT" ]; then
	{
		echo "$table"
		[ -z "$stopped" ] || echo "($stopped)"
		echo
		echo "$ref"
	} > "$LB_BENCH_OUT"
fi
exit 0
