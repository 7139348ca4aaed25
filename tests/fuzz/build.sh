#!/bin/sh
# Builds the fuzz targets with libFuzzer (clang) and runs each for a
# bounded time: FUZZ_SECONDS (default 60). New crashes land in
# tests/fuzz/corpus/<target>/crash-<sha1>; commit them so `make test`
# replays them forever.
set -e
command -v clang >/dev/null || apt-get install -y -qq clang
B=build/fuzz-lf
mkdir -p "$B"
# `make fuzz` passes the Makefile's preprocessor flags, packages and
# sources (everything but main.c); the defaults are for a direct call.
CPPFLAGS=${FUZZ_CPPFLAGS:-"-DHAVE_INTTYPES_H -DHAVE_STDBOOL_H -DHAVE_INET6 \
-D_GNU_SOURCE -Idsp -Ibridge"}
PKGS=${FUZZ_PKGS:-"libre opus speexdsp inih"}
SRCS=${FUZZ_SRCS:-$(ls bridge/*.c dsp/*.c | grep -v bridge/main.c)}
# shellcheck disable=SC2086
CFLAGS="-g -O1 -fsanitize=fuzzer,address,undefined $CPPFLAGS $(pkg-config --cflags $PKGS)"
# shellcheck disable=SC2086
LIBS="$(pkg-config --libs $PKGS) -lm"
for t in tests/fuzz/fuzz_*.c; do
	n=$(basename "$t" .c)
	# shellcheck disable=SC2086
	clang $CFLAGS -o "$B/$n" "$t" $SRCS $LIBS
	c=tests/fuzz/corpus/${n#fuzz_}
	# new inputs go to the second directory: it must exist beforehand
	mkdir -p "$B/corpus-$n"
	"$B/$n" -max_total_time="${FUZZ_SECONDS:-60}" \
		-artifact_prefix="$c/" "$c" "$B/corpus-$n" 2>&1 | tail -3 || true
done
