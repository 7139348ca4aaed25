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
#      LB_BENCH_N        list of N (default "10 100 200 500 1000 1500 2000")
#      LB_BENCH_RUNS     runs per N (default 3): each N gets a row per
#                        run, then its median and worst late-tick share
#                        and packets/s to the worst-served site
#      LB_BENCH_WARMUP   seconds before the window (default 3)
#      LB_BENCH_MEASURE  window length in seconds (default 10)
#      LB_BENCH_TALKERS  sites sending speech (default 3)
#      LB_BENCH_OUT      also write the table (markdown) to this file
#      LB_BENCH_ARGS     extra loadgen arguments (e.g. --addr-mode ports,
#                        --dtx)
#      LB_BENCH_BRIDGE_KEYS  lines added to the bridge's [bridge] section
#                        (e.g. "realtime_priority = 0")
#      LB_BENCH_KEEP     keep the temp dir (configs, bridge logs, output)
#      LB_BENCH_RECORD   on: the room records (mix + a track per site);
#                        each row then gets a RECDISK line on stderr with
#                        the disk the tracks took (default off)
# Exit status: 0 when every N ran (saturation is a result, not a
# failure), 1 when the bridge or the generator could not run at all.

B=${LB_BUILD:-build}
NS=${LB_BENCH_N:-"10 100 200 500 1000 1500 2000"}
RUNS=${LB_BENCH_RUNS:-3}
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
summ=
phases=
phasehead=
# one_run: N=$n, run $r: a fresh bridge and the load generator; adds a
# table row and the RESULT and PHASES lines to $tmp/results$n, phases$n
one_run() {
	key=$n.$r
	sip=$((base + run * 2))
	http=$((base + run * 2 + 1))
	run=$((run + 1))
	mkdir -p "$tmp/data$key"
	cat > "$tmp/bridge$key.conf" <<EOF
[bridge]
sip = 127.0.0.1:$sip
http = 127.0.0.1:$http
data = $tmp/data$key
rtp_ports = 30000-30099
rtp_timeout_s = 30
log_level = warn
${LB_BENCH_BRIDGE_KEYS:-}

[room $ROOM]
name = bench
max_sites = $((n + 100))
max_talkers = $TALKERS
record = ${LB_BENCH_RECORD:-off}
EOF
	"$BIN" serve --config "$tmp/bridge$key.conf" > "$tmp/bridge$key.log" \
		2>&1 &
	bpid=$!
	i=0
	until "$LOADGEN" --probe --http "127.0.0.1:$http" --room $ROOM \
		2>/dev/null; do
		i=$((i + 1))
		if ! kill -0 "$bpid" 2>/dev/null || [ $i -ge 100 ]; then
			echo "bench: bridge did not come up (N=$n):" >&2
			tail -20 "$tmp/bridge$key.log" >&2
			exit 1
		fi
		sleep 0.1
	done

	echo "bench: N=$n, run $r of $RUNS" >&2
	# shellcheck disable=SC2086
	timeout $((WARMUP + MEASURE + 90)) "$LOADGEN" -n "$n" \
		-k "$TALKERS" --sip "127.0.0.1:$sip" \
		--http "127.0.0.1:$http" --room $ROOM --pid "$bpid" \
		--warmup "$WARMUP" --measure "$MEASURE" $speech_arg \
		$LB_BENCH_ARGS > "$tmp/out$key" 2> "$tmp/err$key"
	rc=$?
	sed 's/^/  /' "$tmp/err$key" >&2
	if ! kill -0 "$bpid" 2>/dev/null; then
		echo "bench: the bridge exited during N=$n; its log:" >&2
		tail -20 "$tmp/bridge$key.log" >&2
		bpid=
		stopped="bridge exited at N=$n"
	fi
	stop_bridge
	nlog=$(grep -c . "$tmp/bridge$key.log")
	if [ "$nlog" -gt 0 ]; then
		echo "bench: the bridge logged $nlog lines (N=$n), first:" >&2
		head -5 "$tmp/bridge$key.log" | sed 's/^/  /' >&2
	fi

	if [ "${LB_BENCH_RECORD:-off}" = on ]; then
		# disk per hour of a track: the talkers' (the largest tracks)
		# and the others'; the mix's
		_sd=$(ls -d "$tmp/data$key"/recordings/*/* 2>/dev/null |
			head -1)
		_dur=$(tail -1 "$_sd/journal.jsonl" 2>/dev/null |
			sed -n 's/^{"t":\([0-9.]*\).*/\1/p')
		ls -l "$_sd"/site-*.opus 2>/dev/null | awk '{ print $5 }' |
			sort -n > "$tmp/sizes$key"
		awk -v d="${_dur:-0}" -v k="$TALKERS" -v mix="$(stat -c %s \
			"$_sd/mix.opus" 2>/dev/null)" '{ v[NR] = $1 }
			END { if (d <= 0 || NR <= k) exit
			      for (i = 1; i <= NR - k; i++) idle += v[i]
			      for (; i <= NR; i++) talk += v[i]
			      h = d / 3600
			      printf "RECDISK n=%d seconds=%.1f idle_mb_h=%.2f " \
				"talker_mb_h=%.2f mix_mb_h=%.2f\n", NR, d,
				idle / (NR - k) / h / 1e6, talk / k / h / 1e6,
				mix / h / 1e6 }' "$tmp/sizes$key" >&2
	fi
	res=$(grep '^RESULT ' "$tmp/out$key")
	if [ -z "$res" ]; then
		echo "bench: loadgen produced no result at N=$n (exit $rc)" >&2
		[ $ran -gt 0 ] || exit 1
		stopped=${stopped:-"no result at N=$n"}
		return 1
	fi
	ran=$((ran + 1))
	rows="$rows$(grep '^| ' "$tmp/out$key" |
		sed "s/^| [0-9]* |/| $n (run $r) |/")
"
	echo "$res" >> "$tmp/results$n"
	grep '^PHASES ' "$tmp/out$key" >> "$tmp/phases$n"
	return 0
}

for n in $NS; do
	r=0
	: > "$tmp/results$n"
	: > "$tmp/phases$n"
	while [ $r -lt "$RUNS" ]; do
		r=$((r + 1))
		one_run || break
	done
	[ -s "$tmp/results$n" ] || break
	# median and worst over the runs: late ticks, packets/s to the
	# worst-served site, CPU per site; SATURATED when the median run
	# fell badly behind or any run lost sites
	line=$(awk -v n="$n" '
		function get(k,   i, f) {
			for (i = 1; i <= NF; i++) {
				split($i, f, "=")
				if (f[1] == k) return f[2]
			}
			return "nan"
		}
		function med(a, c,   i, j, t) {
			for (i = 1; i <= c; i++)
				for (j = i + 1; j <= c; j++)
					if (a[j] < a[i]) {
						t = a[i]; a[i] = a[j]; a[j] = t
					}
			if (c % 2) return a[(c + 1) / 2]
			return (a[c / 2] + a[c / 2 + 1]) / 2
		}
		{
			c++; late[c] = get("late_pct") + 0
			pps[c] = get("out_pps_min") + 0
			ms[c] = get("bridge_ms_per_site_s") + 0
			joined[c] = get("joined") + 0; bye[c] = get("bye_rx") + 0
		}
		END {
			wl = 0; wp = 1e9; bad = ""
			for (i = 1; i <= c; i++) {
				if (late[i] > wl) wl = late[i]
				if (pps[i] < wp) wp = pps[i]
				if (joined[i] < n)
					bad = "only " joined[i] " of " n " sites joined"
				if (bye[i] > 0)
					bad = bye[i] " calls dropped by the bridge"
			}
			ml = med(late, c); mp = med(pps, c); mm = med(ms, c)
			why = bad
			if (why == "" && ml > 20) why = "median late ticks " ml "%"
			if (why == "" && mp < 45)
				why = "median worst-served site " mp " pkt/s"
			printf "| %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f |\t%s\n",
				n, c, mm, ml, wl, mp, wp, why
		}' "$tmp/results$n")
	[ "$n" = 200 ] && ms200=$(printf '%s' "$line" | cut -d'|' -f4 |
		tr -d ' ')
	why=$(printf '%s' "$line" | cut -f2)
	summ="$summ$(printf '%s' "$line" | cut -f1)
"
	if [ -s "$tmp/phases$n" ]; then
		phases="$phases$(awk -v n="$n" '
			{
				c++
				for (i = 3; i <= NF; i++) {
					split($i, f, "="); split(f[2], v, "/")
					a[i] += v[1]; if (v[2] > m[i]) m[i] = v[2]
				}
			}
			END {
				printf "| %d |", n
				for (i = 3; i <= NF; i++)
					printf " %.0f / %.0f |", a[i] / c, m[i]
				printf "\n"
			}' "$tmp/phases$n")
"
		phasehead=$(awk 'NR == 1 {
			printf "| N |"
			for (i = 3; i <= NF; i++) {
				split($i, f, "="); printf " %s |", f[1]
			}
			printf "\n|---:|"
			for (i = 3; i <= NF; i++) printf "---:|"
			printf "\n"
		}' "$tmp/phases$n")
	fi
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

summary="| N | runs | CPU ms/s/site (median) | late ticks % median | late ticks % worst | pkts/s to the worst-served site, median | same, worst run |
|---:|---:|---:|---:|---:|---:|---:|
$summ"
ptable="Where a tick's time goes (us per tick, mean over the runs' windows / \
worst tick of the last 5 s; process and out are the mixer thread's own \
share, wait its time at the barriers for the workers):

${phasehead:-}
$phases"

echo
echo "$table"
echo
echo "$summary"
[ -z "$stopped" ] || echo "($stopped)"
echo
echo "$ptable"
echo
echo "$ref"
echo "bench: done in $(($(date +%s) - t_start)) s" >&2
if [ -n "$LB_BENCH_OUT" ]; then
	{
		echo "$table"
		echo
		echo "$summary"
		[ -z "$stopped" ] || echo "($stopped)"
		echo
		echo "$ptable"
		echo
		echo "$ref"
	} > "$LB_BENCH_OUT"
fi
exit 0
