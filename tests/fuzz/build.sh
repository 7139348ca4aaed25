#!/bin/sh
# Builds the fuzz targets with libFuzzer (clang) and runs each for a
# bounded time: FUZZ_SECONDS (default 60). New crashes land in
# tests/fuzz/corpus/<target>/crash-<sha1>; commit them so `make test`
# replays them forever.
set -e
command -v clang >/dev/null || apt-get install -y -qq clang
B=build/fuzz-lf
mkdir -p "$B"
CFLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -DHAVE_INTTYPES_H -DHAVE_STDBOOL_H -DHAVE_INET6 -D_GNU_SOURCE -Idsp -Ibridge $(pkg-config --cflags libre opus speexdsp)"
LIBS="$(pkg-config --libs libre opus speexdsp inih) -lm"
SRCS="$(ls bridge/*.c dsp/*.c | grep -v bridge/main.c)"
for t in tests/fuzz/fuzz_*.c; do
	n=$(basename "$t" .c)
	# shellcheck disable=SC2086
	clang $CFLAGS -o "$B/$n" "$t" $SRCS $LIBS
	c=tests/fuzz/corpus/${n#fuzz_}
	"$B/$n" -max_total_time="${FUZZ_SECONDS:-60}" \
		-artifact_prefix="$c/" "$c" "$B/corpus-$n" 2>&1 | tail -3 || true
	mkdir -p "$B/corpus-$n"
done
