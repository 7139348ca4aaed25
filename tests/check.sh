#!/bin/sh
# `make check`: house-style checks that a compiler does not make.
#  1. no global symbol of ours shadows one of libre's (ELF interposition
#     would silently replace libre's internal calls, STYLE.md 2.5);
#  2. C sources: no line over 79 columns (tabs = 8), no trailing blanks,
#     no C++ comments. Every folder of ours, present or future: bridge/,
#     dsp/, hw/, recordings/ and everything under tests/.
# .ci/run runs it after `make test`.
B=${LB_BUILD:-build}
fail=0
libre=$(pkg-config --variable=libdir libre)/libre.so
nm -D --defined-only "$libre" | awk '{print $3}' | sort -u > /tmp/lb-libre.syms
nm --defined-only "$B"/lib*.a 2>/dev/null |
	awk '$2 ~ /^[TDBR]$/ {print $3}' | sort -u > /tmp/lb-ours.syms
clash=$(comm -12 /tmp/lb-libre.syms /tmp/lb-ours.syms)
if [ -n "$clash" ]; then
	echo "check: symbols clash with libre: $clash"
	fail=1
fi
files=$(find bridge dsp hw recordings tests -name '*.[ch]' 2>/dev/null |
	sort)
for f in $files; do
	expand "$f" | awk -v f="$f" '
		length($0) > 79 { printf "%s:%d: line over 79 columns\n", f, NR; bad=1 }
		/[ \t]+$/      { printf "%s:%d: trailing blanks\n", f, NR; bad=1 }
		/^[^"]*\/\//   { printf "%s:%d: C++ comment\n", f, NR; bad=1 }
		END { exit bad }' || fail=1
done
[ $fail -eq 0 ] && echo "check: OK"
exit $fail
