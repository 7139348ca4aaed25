#!/bin/sh
# Runs every test suite and ends with one line: "N passed, N failed".
#   tests/run.sh            unit + fuzz replay + integration
#   tests/run.sh unit|fuzz|integ [NAME]
# Env: LB_BUILD (build dir, default build), LB_VALGRIND=1 (unit under
# valgrind), LB_INTEG_FILTER (glob on integration test names), LB_TSAN=1
# (a ThreadSanitizer build: collect its reports, see below).
B=${LB_BUILD:-build}
what=${1:-all}

# ThreadSanitizer (gcc 12) needs its shadow memory at fixed addresses and
# aborts with "FATAL: ThreadSanitizer: unexpected memory mapping" on
# kernels that randomise mmap more than it expects (vm.mmap_rnd_bits 32,
# e.g. Ubuntu's since 6.5). Run the whole suite without address-space
# randomisation where the system lets us: the personality flag is
# inherited by every process the tests start. (Container seccomp
# profiles may refuse it; then the suite runs as it is.)
if [ -n "$LB_TSAN" ] && [ -z "$LB_TSAN_NORAND" ] &&
   setarch "$(uname -m)" -R true 2>/dev/null; then
	LB_TSAN_NORAND=1 exec setarch "$(uname -m)" -R sh "$0" "$@"
fi

out=$(mktemp -d /tmp/lbtest.XXXXXX)
log="$out/all.tap"
: > "$log"

# Every process writes its race reports to $tsan_dir/tsan.<pid> (kept
# after the run); a report makes that process exit 66 and adds one
# failing line at the end.
if [ -n "$LB_TSAN" ]; then
	tsan_dir=$(cd "$B" && pwd)/tsan-reports
	rm -rf "$tsan_dir"
	mkdir -p "$tsan_dir"
	TSAN_OPTIONS="halt_on_error=0:exitcode=66:second_deadlock_stack=1:log_path=$tsan_dir/tsan${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
	export TSAN_OPTIONS
fi

run_unit() {
	echo "# unit tests (cmocka)"
	if [ -n "$LB_VALGRIND" ]; then
		vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
	else
		vg=""
	fi
	CMOCKA_MESSAGE_OUTPUT=TAP $vg "$B/tests/unit/lbtest" $2 > "$out/unit.tap" 2>&1
	rc=$?
	cat "$out/unit.tap"
	grep -E '^(not )?ok ' "$out/unit.tap" >> "$log"
	if [ $rc -ne 0 ] && ! grep -q '^not ok' "$out/unit.tap"; then
		echo "not ok - unit runner exited $rc" | tee -a "$log"
	fi
}

run_fuzz() {
	echo "# fuzz corpus replay"
	for f in "$B"/fuzz/fuzz_*; do
		[ -x "$f" ] || continue
		n=$(basename "$f")
		c=tests/fuzz/corpus/${n#fuzz_}
		if "$f" "$c" > "$out/$n.log" 2>&1; then
			echo "ok - $n $(tail -1 "$out/$n.log")" | tee -a "$log"
		else
			cat "$out/$n.log"
			echo "not ok - $n" | tee -a "$log"
		fi
	done
}

run_integ() {
	echo "# integration tests (real binary, real clients, loopback)"
	for t in tests/integ/t_*.sh; do
		[ -f "$t" ] || continue
		n=$(basename "$t" .sh)
		case "$n" in ${LB_INTEG_FILTER:-*}) ;; *) continue ;; esac
		LB_BUILD="$B" timeout 600 sh "$t" > "$out/$n.log" 2>&1
		rc=$?
		grep -E '^(not )?ok |^#' "$out/$n.log"
		grep -E '^(not )?ok ' "$out/$n.log" >> "$log"
		if [ $rc -ne 0 ] && ! grep -q '^not ok' "$out/$n.log"; then
			echo "not ok - $n exited $rc" | tee -a "$log"
			tail -40 "$out/$n.log"
		elif grep -q '^not ok' "$out/$n.log"; then
			echo "# --- $n log tail ---"
			tail -60 "$out/$n.log"
		fi
	done
}

# One line for all ThreadSanitizer reports: which processes, and each
# report's SUMMARY (the two racing accesses' top frames).
check_tsan() {
	n=0
	for f in "$tsan_dir"/tsan.*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		echo "# ThreadSanitizer: $f:"
		grep -E '^SUMMARY|^WARNING|^FATAL' "$f" | sort | uniq -c |
			sed 's/^/#   /'
	done
	if [ $n -eq 0 ]; then
		echo "ok - ThreadSanitizer: no reports" | tee -a "$log"
	else
		echo "not ok - ThreadSanitizer: reports from $n processes" \
		     "(in $tsan_dir)" | tee -a "$log"
	fi
}

case "$what" in
unit) run_unit "$@" ;;
fuzz) run_fuzz ;;
integ) run_integ ;;
all) run_unit; run_fuzz; run_integ ;;
*) echo "usage: tests/run.sh [unit|fuzz|integ]" >&2; exit 2 ;;
esac
[ -n "$LB_TSAN" ] && check_tsan

pass=$(grep -c '^ok ' "$log")
fail=$(grep -c '^not ok ' "$log")
echo "$pass passed, $fail failed"
rm -rf "$out"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
