#!/bin/sh
# Rebuild bench/reactor/minirt.wasm (committed) from minirt.c: a WASI *reactor*
# (no main; `_initialize` runs wasi-libc's constructors, then the exports are
# called), the same toolchain as bench/programs/build.sh.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-clang}
SYSROOT=${WASI_SYSROOT:-/usr}
echo "building bench/reactor/minirt.wasm"
$CC --target=wasm32-wasi --sysroot="$SYSROOT" -mexec-model=reactor -O2 -Wall \
    -o "$here/minirt.wasm" "$here/minirt.c"
python3 "$here/../../tests/wasi/strip_debug.py" "$here/minirt.wasm"
