#!/bin/sh
# `cmake --install` into a scratch prefix: the program runs from there and says its version, the
# man page renders, and a program built against the installed headers and library through
# pkg-config links and prints the library's version.
set -eu
BUILD=$1
PREFIX=$(mktemp -d /tmp/mw-install-XXXXXX)
trap 'rm -rf "$PREFIX"' EXIT
cmake --install "$BUILD" --prefix "$PREFIX" >/dev/null
"$PREFIX/bin/minewatch" --version | grep -q '^minewatch [0-9.]* (commit '
"$PREFIX/bin/minewatch" -V | grep -q 'gdal'
test -s "$PREFIX/share/man/man1/minewatch.1"
man -l "$PREFIX/share/man/man1/minewatch.1" 2>/dev/null | grep -q 'COMMAND RUN' \
  || grep -q '^.SH COMMAND RUN' "$PREFIX/share/man/man1/minewatch.1"
test -f "$PREFIX/include/minewatch/scene.h" && test -f "$PREFIX/include/minewatch/version.h"
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig:$PREFIX/lib/x86_64-linux-gnu/pkgconfig"
pkg-config --exists minewatch
cat > "$PREFIX/probe.c" <<'C'
#include <stdio.h>
#include <minewatch/git_version.h>
#include <minewatch/spectral_index.h>
#include <minewatch/version.h>
int main(void)
{
    const mw_spectral_index *ndvi = mw_spectral_index_find("ndvi");
    printf("%s %s %s\n", MW_VERSION_STRING, MW_GIT_COMMIT, ndvi ? ndvi->formula : "?");
    return ndvi ? 0 : 1;
}
C
# shellcheck disable=SC2046
cc -o "$PREFIX/probe" "$PREFIX/probe.c" $(pkg-config --cflags minewatch) \
   $(pkg-config --libs minewatch)
"$PREFIX/probe" | grep -q '(nir-red)/(nir+red)'
echo "install ok: $PREFIX"
