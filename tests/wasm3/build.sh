#!/bin/sh
# Rebuild the WebAssembly 3.0 test programs (tests/wasm3/bin/*.wasm) from their C
# sources with the C compiler and wasi-libc the `ziglang` package bundles
# (pip install ziglang).  The built files are committed, so the tests need no
# compiler; run this only after changing a .c file, then re-record the expected
# outputs with wasmtime: python -m tests.wasm3.programs_oracle --regen
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ZIGCC=${ZIGCC:-"python3 -m ziglang cc"}
TARGET="--target=wasm32-wasi"

build() {  # build OUTPUT FLAGS... SOURCE
    out=$1
    shift
    echo "building tests/wasm3/bin/$out"
    $ZIGCC $TARGET -O2 "$@" -o "$here/bin/$out" 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
    # (wasm-ld's warning that PIEs are not yet stable is expected)
    grep -v "creating PIEs" "$tmp/err" >&2 || true
    # DWARF goes, the name section stays (traps show function names)
    python3 "$here/../wasi/strip_debug.py" "$here/bin/$out"
}

mkdir -p "$here/bin"
# musttail recursion: return_call / return_call_indirect
build musttail.wasm -mtail-call "$here/programs/musttail.c"
# Zig's default wasm CPU baseline, as an executable and as a PIE (extended-const)
build baseline.wasm "$here/programs/baseline.c"
build baseline_pie.wasm -fPIE -pie "$here/programs/baseline.c"
