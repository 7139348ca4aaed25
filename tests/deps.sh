#!/bin/sh
# Installs the Debian packages lowbridge needs, and only those missing.
# Called by `make deps` (and so by `make run` and `make test`).
set -e
PKGS="build-essential pkg-config libre-dev libopus-dev libspeexdsp-dev
libasound2-dev portaudio19-dev libsndfile1-dev libsqlite3-dev libinih-dev
libcmocka-dev baresip-core sip-tester linphone-cli espeak-ng sox curl"
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
