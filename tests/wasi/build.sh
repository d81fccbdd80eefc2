#!/bin/sh
# Rebuild the WASI test programs (tests/wasi/bin/*.wasm) and the examples' .wasm
# files from their C sources.  The built files are committed, so the tests need no
# compiler; run this only after changing a .c file.
#
# Needs clang, lld and a wasm32-wasi sysroot.  On Debian/Ubuntu:
#   apt-get install clang lld wasi-libc libclang-rt-dev-wasm32
# Elsewhere, point WASI_SYSROOT at a wasi-sdk sysroot (e.g. /opt/wasi-sdk/share/wasi-sysroot).
set -eu
# DWARF is stripped afterwards (strip_debug.py); the name section stays, so traps
# show function names.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CC=${CC:-clang}
SYSROOT=${WASI_SYSROOT:-/usr}
TARGET="--target=wasm32-wasi --sysroot=$SYSROOT"
CFLAGS="-O2 -Wall -Wno-unused-result -Wno-infinite-recursion"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Compile and link separately: given -O, clang's driver also runs binaryen's wasm-opt
# when it is installed, which drops the name section and makes builds depend on it.
build() {  # build SOURCE OUTPUT
    $CC $TARGET $CFLAGS -c -o "$tmp/obj.o" "$1"
    $CC $TARGET -o "$2" "$tmp/obj.o"
    python3 "$here/strip_debug.py" "$2"
}

mkdir -p "$here/bin"
for src in "$here"/programs/*.c; do
    name=$(basename "$src" .c)
    echo "building tests/wasi/bin/$name.wasm"
    build "$src" "$here/bin/$name.wasm"
done
for src in "$root"/examples/*.c; do
    [ -e "$src" ] || continue
    name=$(basename "$src" .c)
    echo "building examples/$name.wasm"
    build "$src" "$root/examples/$name.wasm"
done
