#!/bin/sh
# Runs every test suite and ends with one line: "N passed, N failed".
#   tests/run.sh            unit + fuzz replay + integration
#   tests/run.sh unit|fuzz|integ [NAME]
# Env: LB_BUILD (build dir, default build), LB_VALGRIND=1 (unit under
# valgrind), LB_INTEG_FILTER (glob on integration test names).
B=${LB_BUILD:-build}
what=${1:-all}
out=$(mktemp -d /tmp/lbtest.XXXXXX)
log="$out/all.tap"
: > "$log"

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

case "$what" in
unit) run_unit "$@" ;;
fuzz) run_fuzz ;;
integ) run_integ ;;
all) run_unit; run_fuzz; run_integ ;;
*) echo "usage: tests/run.sh [unit|fuzz|integ]" >&2; exit 2 ;;
esac

pass=$(grep -c '^ok ' "$log")
fail=$(grep -c '^not ok ' "$log")
echo "$pass passed, $fail failed"
rm -rf "$out"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
