#!/bin/sh
# `make bench-quality`: speech quality of the mix, offline, on generated
# speech. See docs/quality.md for what every row means.
#
#  1. tests/bench/speech.sh writes six espeak-ng talkers (16 kHz WAVs).
#  2. build/bench/quality_mix (tests/bench/quality_mix.c) simulates the
#     bridge's mixer frame by frame with the real dsp/ chain and prints
#     rows 1-6 as markdown. Rows 1-5 run first (row 1, most of the
#     time, on two threads, one per talker; rows 2-5 in a second
#     process beside it), then the CPU row alone so that its timings do
#     not share the machine with the simulation.
#  3. build/bench/bench_aec, if built, gets the same WAVs for the echo
#     rows, and its table is passed through.
#
# A benchmark: it prints each figure with its target and PASS/MISS
# beside it, and never fails on a figure.
#
# Usage: sh tests/bench/quality.sh [--quick]
# Env: LB_BUILD          build dir (default build)
#      LB_QUALITY_QUICK  non-empty: same as --quick (about 1 minute)
#      LB_QUALITY_OUT    also write the tables (markdown) to this file
#      LB_QUALITY_SEED   seed for every random choice (default 1)
#      LB_QUALITY_KEEP   keep the temp dir (speech, logs)
# Exit status: 0 when it ran, whatever the figures; 1 when it could not
# (a program missing or failing, no espeak-ng).

B=${LB_BUILD:-build}
QUICK=
[ -n "$LB_QUALITY_QUICK" ] && QUICK=--quick
for a in "$@"; do
	case $a in
	--quick) QUICK=--quick ;;
	*)
		echo "usage: quality.sh [--quick]" >&2
		exit 1
		;;
	esac
done
SEED=${LB_QUALITY_SEED:-1}
QM=$B/bench/quality_mix
AEC=$B/bench/bench_aec
if [ ! -x "$QM" ]; then
	echo "quality: $QM missing (run make all)" >&2
	exit 1
fi

tmp=$(mktemp -d /tmp/lbquality.XXXXXX) || exit 1
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	if [ -n "$LB_QUALITY_KEEP" ]; then
		echo "quality: files kept in $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t_start=$(date +%s)
if ! sh tests/bench/speech.sh "$tmp/speech" > "$tmp/wavs"; then
	echo "quality: no speech material, cannot run" >&2
	exit 1
fi
wavs=$(cat "$tmp/wavs")

# SpeexDSP prints a warning for each VAD it creates (row 4), which says
# nothing the table does not, and one each time its echo canceller
# resets itself, which is worth a count, not a screenful.
show_log() {
	grep -v 'VAD has been replaced by a hack' "$1" |
		grep -v 'got slapped (reset)' >&2
	n=$(grep -c 'got slapped (reset)' "$1")
	[ "$n" -gt 0 ] && echo "quality: SpeexDSP's echo canceller reset" \
		"itself $n times (\"got slapped\")" >&2
	return 0
}

echo "quality: $(nproc) cores${QUICK:+, quick}; rows 1 and 2-5 side by" \
	"side" >&2
# shellcheck disable=SC2086 # $wavs: one path a word, from speech.sh
"$QM" $QUICK --seed "$SEED" --rows many $wavs > "$tmp/1.md" \
	2> "$tmp/1.err" &
p1=$!
# shellcheck disable=SC2086
"$QM" $QUICK --seed "$SEED" --rows agc,turn,vad,lat $wavs > "$tmp/2.md" \
	2> "$tmp/2.err"
rc2=$?
wait $p1
rc1=$?
show_log "$tmp/1.err"
show_log "$tmp/2.err"
if [ $rc1 -ne 0 ] || [ $rc2 -ne 0 ]; then
	echo "quality: quality_mix failed (exit $rc1, $rc2)" >&2
	exit 1
fi

echo "quality: CPU row, alone" >&2
# shellcheck disable=SC2086
if ! "$QM" $QUICK --seed "$SEED" --rows cpu $wavs > "$tmp/3.md" \
	2> "$tmp/3.err"; then
	show_log "$tmp/3.err"
	echo "quality: quality_mix (cpu) failed" >&2
	exit 1
fi
show_log "$tmp/3.err"

{
	echo "## 7. Echo control (bench_aec)"
	echo
} > "$tmp/4.md"
if [ -x "$AEC" ]; then
	echo "quality: echo rows ($AEC)" >&2
	# shellcheck disable=SC2086
	if ! timeout 600 "$AEC" $QUICK $wavs >> "$tmp/4.md" \
		2> "$tmp/4.err"; then
		echo "(bench_aec failed or timed out; its log:" \
			"$(tail -3 "$tmp/4.err" | tr '\n' ' '))" >> "$tmp/4.md"
	fi
	show_log "$tmp/4.err"
else
	echo "$AEC is not built (tests/bench/bench_aec.c has not" \
		"landed yet): no echo rows." >> "$tmp/4.md"
fi
echo >> "$tmp/4.md"

rev=$(git rev-parse --short HEAD 2>/dev/null)
[ -n "$(git status --porcelain -- dsp bridge 2>/dev/null)" ] &&
	rev="$rev+changes"
cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
t_end=$(date +%s)
{
	echo "# lowbridge speech quality${QUICK:+ (quick)}"
	echo
	echo "Commit ${rev:-unknown}, $(date -u +%Y-%m-%d), ${cpu:-unknown CPU}" \
		"($(nproc) cores), $(espeak-ng --version 2>/dev/null |
		sed 's/ text-to-speech//; s/  Data at.*//'), seed $SEED," \
		"$((t_end - t_start)) s."
	echo
	cat "$tmp/1.md" "$tmp/2.md" "$tmp/3.md" "$tmp/4.md"
} > "$tmp/all.md"
cat "$tmp/all.md"
[ -n "$LB_QUALITY_OUT" ] && cp "$tmp/all.md" "$LB_QUALITY_OUT"
echo "quality: done in $((t_end - t_start)) s" >&2
exit 0
