#!/bin/sh
# Rebuild the benchmark C programs (bench/programs/*.c -> committed *.wasm), the
# same way tests/wasi/build.sh builds the WASI test programs.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-clang}
SYSROOT=${WASI_SYSROOT:-/usr}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for src in "$here"/*.c; do
    name=$(basename "$src" .c)
    echo "building bench/programs/$name.wasm"
    $CC --target=wasm32-wasi --sysroot="$SYSROOT" -O2 -Wall -c -o "$tmp/obj.o" "$src"
    $CC --target=wasm32-wasi --sysroot="$SYSROOT" -o "$here/$name.wasm" "$tmp/obj.o" -lm
    python3 "$here/../../tests/wasi/strip_debug.py" "$here/$name.wasm"
done
