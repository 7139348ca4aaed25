#!/bin/sh
# `make bench` (after the load table) and `make bench-rec`: what
# recording costs. N sites (default 200: LB_BENCH_N) in one room with
# the same load as tests/bench/run.sh, alternately with the room not
# recording and recording the mix and all N tracks, ROUNDS times
# (default 2: LB_BENCH_ROUNDS) so that machine noise shows; prints the
# bridge CPU of each run, the median ratio, late ticks, and the disk a
# track takes per hour (talking and idle) and the mix.
# Builds nothing. A benchmark: exits 0 whatever the figures.
N=${LB_BENCH_N:-200}
ROUNDS=${LB_BENCH_ROUNDS:-2}
tmp=$(mktemp -d /tmp/lbbenchrec.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "bench-rec: N=$N, $ROUNDS rounds of record off/on" >&2
r=1
while [ $r -le "$ROUNDS" ]; do
	for rec in off on; do
		LB_BENCH_N=$N LB_BENCH_RECORD=$rec sh tests/bench/run.sh \
			> "$tmp/out.$r.$rec" 2> "$tmp/err.$r.$rec"
		grep '^| ' "$tmp/out.$r.$rec" | grep -v '^| N ' | tail -1 |
			awk -F'|' -v rec=$rec -v r=$r '{ print r, rec, $3,
				$5 }' >> "$tmp/rows"
		grep '^RECDISK' "$tmp/err.$r.$rec" >> "$tmp/disk"
	done
	r=$((r + 1))
done
echo
echo "| round | recording | bridge CPU ms/s/site | late ticks % |"
echo "|---:|---|---:|---:|"
awk '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }' "$tmp/rows"
awk -v n_sites="$N" '$2 == "off" { off[$1] = $3 } $2 == "on" { on[$1] = $3 }
	END { n = 0; for (r in on) if (off[r] > 0) { v[++n] = on[r] / off[r]
						    s += v[n]; l = l sprintf(" %.3f", v[n]) }
	      if (!n) { print "\n(no ratio: a run failed)"; exit }
	      printf "\nRecording %d tracks + the mix: bridge CPU x%.3f " \
		     "of not recording (mean of %d rounds:%s).\n",
		     n_sites, s / n, n, l }' "$tmp/rows"
awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); s[kv[1]] += kv[2] }
	n++ }
	END { if (!n) exit
	      printf "Disk: a talking site track %.2f MB/hour, an idle " \
		     "site track %.2f MB/hour, the mix %.2f MB/hour (Ogg Opus, " \
		     "24 kbit/s; mean of %d runs).\n", s["talker_mb_h"] / n,
		     s["idle_mb_h"] / n, s["mix_mb_h"] / n, n }' "$tmp/disk"
exit 0
