#!/bin/sh
# Installs the Debian packages minewatch needs to build and test. As root it runs apt-get;
# otherwise it prints the exact command to run and fails, so nothing half-installs silently.
set -eu
PKGS="build-essential cmake pkg-config libgdal-dev gdal-bin libproj-dev proj-data libfftw3-dev
libtiff-dev libyaml-dev libjansson-dev libcmocka-dev libssl-dev libcurl4-openssl-dev libomp-dev
python3 python3-gdal python3-skimage python3-scipy clang libclang-rt-14-dev chromium
fonts-dejavu-core postgresql postgis postgresql-postgis openmpi-bin libopenmpi-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "minewatch needs these Debian packages:$missing" >&2
    echo "run:  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Recommends are not installed, so every package a test starts is named above (postgis alone
# is the client tools; the server's extension is postgresql-postgis).
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
