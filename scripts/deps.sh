#!/bin/sh
# Install the Debian packages materia needs to build and test, when any is missing.
# Runs as root or through sudo; does nothing when everything is present.
set -e
PKGS="build-essential pkg-config clang libsndfile1-dev libsamplerate0-dev libfftw3-dev \
libcjson-dev libcmocka-dev libespeak-ng-dev espeak-ng-data libopenblas-dev libcairo2-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps.sh: installing$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing
