#!/bin/sh
# `make bench` (last) and `make bench-hw`: what the local room costs with
# its speech processing offloaded to the card, against the same room
# processed in software, on the emulated DSP card (tests/alsaemu, the
# real-time devices: a DSP card and a plain codec with the same room).
#
# For each of idle (no local room), hw and sw, ROUNDS times alternately
# (default 3: LB_BENCH_ROUNDS): a fresh bridge with room 1000, a warm-up
# of 3 s, then the bridge's CPU (utime + stime of /proc/PID/stat, every
# thread) over MEASURE seconds (default 10: LB_BENCH_MEASURE). The local
# room's cost is the run's CPU less the idle bridge's; prints each run,
# the medians and the ratio sw / hw. Builds nothing; exits 0 whatever
# the figures (1 when the bridge or the emulator cannot run at all).
#
# The emulated card's "firmware" (its echo canceller, noise suppression
# and AGC) runs inside the bridge's process, as an ALSA plugin does, so
# the process CPU of the hw runs includes the emulated DSP's work. The
# second figure is the bridge's own: the device thread's time in its
# software chain (chain_cpu_s in the room JSON), which offload removes.
B=${LB_BUILD:-build}
ROUNDS=${LB_BENCH_ROUNDS:-3}
MEASURE=${LB_BENCH_MEASURE:-10}
EMU=$B/alsaemu
for f in "$B/lowbridge" "$EMU/libasound_module_pcm_dspemu.so"; do
	[ -e "$f" ] || { echo "bench-hw: $f missing (make all)" >&2; exit 1; }
done
tmp=$(mktemp -d /tmp/lbbenchhw.XXXXXX)
bpid=
cleanup() {
	[ -n "$bpid" ] && kill "$bpid" 2>/dev/null && wait "$bpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# a talker in the room, noise and echo of what the room plays
sox -q -n -r 16000 -c 1 -b 16 "$tmp/near.wav" synth 4 pinknoise \
	tremolo 3 90 vol 0.3 pad 0 2 2>/dev/null || {
	echo "bench-hw: sox missing (make deps-test)" >&2; exit 1; }
DSPEMU_NEAR=$tmp/near.wav DSPEMU_ECHO_DB=-10 sh tests/alsaemu/asoundrc.sh \
	"$tmp/asoundrc" "$EMU" "$tmp/emu" > /dev/null 2>&1 || {
	echo "bench-hw: asoundrc.sh failed" >&2; exit 1; }
ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:$tmp/asoundrc
export ALSA_CONFIG_PATH

chain() { # ROUND: the local room's software-chain CPU so far, s
	curl -s --max-time 3 "http://127.0.0.1:$((27001 + $1 * 4))/api/rooms/1000" |
		"$B/tools/jsonq" sites.id=local.local.chain_cpu_s 2>/dev/null
}

ticks() { # PID: utime + stime, clock ticks
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null
}

run() { # MODE ROUND: one bridge, one measurement -> "MODE ms_per_s"
	_dev=
	[ "$1" = hw ] && _dev=dspemu_rt
	[ "$1" = sw ] && _dev=dspemu_plain_rt
	cat > "$tmp/c.ini" <<EOF
[bridge]
sip = 127.0.0.1:$((27000 + $2 * 4))
http = 127.0.0.1:$((27001 + $2 * 4))
data = $tmp/data
log_level = warn
[room 1000]
record = off
local_room = $_dev
EOF
	"$B/lowbridge" serve --config "$tmp/c.ini" > "$tmp/log.$1.$2" 2>&1 &
	bpid=$!
	sleep 3
	_t0=$(ticks $bpid)
	_c0=$(chain $2)
	sleep "$MEASURE"
	_t1=$(ticks $bpid)
	_c1=$(chain $2)
	kill "$bpid" 2>/dev/null
	wait "$bpid" 2>/dev/null
	bpid=
	if [ -z "$_t0" ] || [ -z "$_t1" ]; then
		echo "bench-hw: the bridge did not run ($1):" >&2
		tail -5 "$tmp/log.$1.$2" >&2
		return 1
	fi
	awk -v a="$_t0" -v b="$_t1" -v m="$MEASURE" -v hz="$(getconf CLK_TCK)" \
		-v mode="$1" -v c0="${_c0:-0}" -v c1="${_c1:-0}" \
		'BEGIN { printf "%s %.2f %.3f\n", mode,
		(b - a) * 1000 / hz / m, (c1 - c0) * 1000 / m }'
}

r=1
echo "bench-hw: $ROUNDS rounds of idle / hw / sw, ${MEASURE} s each" >&2
while [ $r -le "$ROUNDS" ]; do
	for mode in idle hw sw; do
		run $mode $r >> "$tmp/rows" || exit 1
	done
	r=$((r + 1))
done
echo
echo "| run | bridge process CPU ms/s | local room software chain ms/s |"
echo "|---|---:|---:|"
awk '{ printf "| %s | %s | %s |\n", $1, $2, $3 }' "$tmp/rows"
awk '
function median(v, n,   i, j, t) {
	for (i = 1; i <= n; i++)
		for (j = i + 1; j <= n; j++)
			if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
{ if ($1 == "idle") i[++ni] = $2
  if ($1 == "hw") { h[++nh] = $2; hc[++nhc] = $3 }
  if ($1 == "sw") { s[++ns] = $2; sc[++nsc] = $3 } }
END {
	mi = median(i, ni); mh = median(h, nh) - mi; ms = median(s, ns) - mi
	ch = median(hc, nhc); cs = median(sc, nsc)
	printf "\nlocal room, process CPU over the idle bridge (medians): " \
		"offloaded %.2f ms/s (with the emulated DSP in-process), " \
		"software %.2f ms/s\n", mh, ms
	printf "the bridge'"'"'s own processing of the local room: " \
		"offloaded %.3f ms/s, software %.3f ms/s", ch, cs
	if (ch > 0)
		printf ": software / offloaded = x%.1f", cs / ch
	printf "\n"
}' "$tmp/rows"
