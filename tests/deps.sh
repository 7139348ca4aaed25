#!/bin/sh
# Installs the Debian packages lowbridge needs, and only those missing.
#   tests/deps.sh run    build and run the bridge (`make deps`, so
#                        `make run` and `make all`)
#   tests/deps.sh test   that, plus what the tests, tools and benchmarks
#                        use (`make deps-test`, so `make test` and the
#                        other test targets)
# apt-get update runs only when something is missing.
set -e
# Build and run. recordings/ writes Ogg Opus with libogg and libopus, FLAC
# and WAV with libsndfile, the catalogue with SQLite, and replays with
# PortAudio and Rubber Band (time-stretch); ALSA is the declared stack of
# the local-audio code (hw/). libsodium hashes and checks the console's
# passwords (crypto_pwhash_str); ncurses draws `lowbridge top`.
RUN_PKGS="build-essential pkg-config libre-dev libopus-dev libspeexdsp-dev
libinih-dev libasound2-dev portaudio19-dev libsndfile1-dev libsqlite3-dev
libogg-dev librubberband-dev libsodium-dev libncurses-dev"
# Tests: cmocka (unit), SIP clients and sipp (integration), espeak-ng and
# sox (speech and WAV files), sndfile-info and opusinfo (recordings open
# with standard tools), tmux (the replay player through a pty), curl
# (HTTP API), valgrind (test-valgrind), chromium (the console in a
# browser), alsa-utils (amixer/arecord on the emulated DSP card).
# `make fuzz` installs clang itself.
TEST_PKGS="libcmocka-dev baresip-core sip-tester linphone-cli espeak-ng sox
libsox-fmt-all sndfile-programs opus-tools tmux curl valgrind chromium
alsa-utils"

case "${1:-run}" in
run) PKGS=$RUN_PKGS ;;
test) PKGS="$RUN_PKGS $TEST_PKGS" ;;
*) echo "usage: tests/deps.sh [run|test]" >&2; exit 2 ;;
esac

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
