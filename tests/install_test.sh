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
LIBDIR=$(pkg-config --variable=libdir minewatch)
LD_LIBRARY_PATH="$LIBDIR" "$PREFIX/probe" | grep -q '(nir-red)/(nir+red)'
# From C++: every public header compiles as C++ (extern "C"), and a program linked against the
# shared library runs.
for h in "$PREFIX"/include/minewatch/*.h; do echo "#include <minewatch/$(basename "$h")>"; done \
  > "$PREFIX/all.cpp"
cat >> "$PREFIX/all.cpp" <<'CPP'
#include <cstdio>
int main()
{
    const mw_spectral_index *ndvi = mw_spectral_index_find("ndvi");
    std::printf("%s\n", ndvi ? ndvi->formula : "?");
    return ndvi ? 0 : 1;
}
CPP
# shellcheck disable=SC2046
c++ -std=c++17 -Wall -Werror -o "$PREFIX/probe_cpp" "$PREFIX/all.cpp" \
    $(pkg-config --cflags minewatch) $(pkg-config --libs minewatch)
test -f "$LIBDIR/libminewatch.so"
LD_LIBRARY_PATH="$LIBDIR" ldd "$PREFIX/probe_cpp" | grep -q "libminewatch.so.0 => /"
LD_LIBRARY_PATH="$LIBDIR" "$PREFIX/probe_cpp" | grep -q '(nir-red)/(nir+red)'
# The shared library exports what the headers mark MW_API, and nothing else of its own (OpenMP's
# named critical sections and the linker's markers aside).
cat "$PREFIX"/include/minewatch/*.h | tr '\n' ' ' | grep -oE 'MW_API [^;]*;' \
  | while IFS= read -r decl; do
      printf '%s\n' "$decl" | grep -oE 'mw_[a-z0-9_]+ *[[(;]' | head -1 | grep -oE 'mw_[a-z0-9_]+' || true
    done | sort -u > "$PREFIX/declared"
nm -D --defined-only "$LIBDIR/libminewatch.so" | awk '{print $3}' \
  | grep -v -e '^\.gomp_critical' -e '^_edata$' -e '^_end$' -e '^__bss_start$' | sort -u \
  > "$PREFIX/exported"
if ! cmp -s "$PREFIX/declared" "$PREFIX/exported"; then
  echo "libminewatch.so exports other symbols than the headers' MW_API ones:" >&2
  diff "$PREFIX/declared" "$PREFIX/exported" >&2
  exit 1
fi
echo "install ok: $PREFIX ($(wc -l < "$PREFIX/exported") symbols exported)"
