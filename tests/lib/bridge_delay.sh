#!/bin/sh
# bridge_delay.sh TOOLS TALKER.err TALKER_MIC.wav LISTENER.err LISTENER.wav
# The mouth-to-ear delay from one echosite to another through the
# bridge, and the bridge's part of it. Both sites print the monotonic
# time of their sample 0 (`clock: t0_ns=`); the listener's recording is
# found LAG behind the talker's microphone by cross-correlation
# (wavestoi). A microphone sample is spoken a packet before it is sent
# (the site gathers send_ptime_ms of them), so
#   total  = (t0_listener - t0_talker) + LAG + the talker's packet
#   bridge = total - the talker's packet - the listener's playout
#            (its fixed jb_ms, from the first packet it heard, plus how
#            long packets waited in its socket for its tick)
# Prints: total_ms=T bridge_ms=B corr=C (nan when something is missing).
tools=$1 ta=$2 tm=$3 la=$4 lw=$5
fig() { # FILE KEY
	sed -n "s/.*[ :]$2=\([-0-9.]*\).*/\1/p" "$1" | tail -1
}
t0a=$(fig "$ta" t0_ns) pta=$(fig "$ta" send_ptime_ms)
t0l=$(fig "$la" t0_ns) jbl=$(fig "$la" jb_ms)
waitl=$(sed -n 's/.*packets waited \([0-9.]*\) ms.*/\1/p' "$la" | tail -1)
out=$("$tools/wavestoi" -l 2000 "$tm" "$lw" 2>/dev/null)
lag=$(echo "$out" | sed -n 's/.*lag_ms=\([-0-9.]*\).*/\1/p')
corr=$(echo "$out" | sed -n 's/.*corr=\([-0-9.]*\).*/\1/p')
awk -v t0a="$t0a" -v t0l="$t0l" -v lag="$lag" -v pt="$pta" -v jb="$jbl" \
	-v w="${waitl:-0}" -v c="$corr" 'BEGIN {
	if (t0a == "" || t0l == "" || lag == "" || pt == "" || jb == "") {
		print "total_ms=nan bridge_ms=nan corr=nan"
		exit
	}
	tot = (t0l - t0a) / 1e6 + lag + pt
	printf "total_ms=%.1f bridge_ms=%.1f corr=%s\n", tot,
		tot - pt - jb - w, c
}'
