#!/bin/sh
# Rebuild bin/*.wasm from programs/*.c with the clang and wasi-libc that the
# `ziglang` package (PyPI) bundles: each program twice, with setjmp/longjmp lowered
# to the standard exception handling (exnref: try_table, throw, throw_ref) and to the
# legacy encoding (try, catch, rethrow, delegate).  The built files are committed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
CC="${PYTHON:-python3} -m ziglang cc"
FLAGS="--target=wasm32-wasi -O2 -s -mexception-handling -mllvm -wasm-enable-sjlj"
mkdir -p "$here/bin"
for src in "$here"/programs/*.c; do
    name=$(basename "$src" .c)
    echo "building $name.wasm and $name-legacy.wasm"
    $CC $FLAGS -mllvm -wasm-use-legacy-eh=false "$src" "$here/programs/c_longjmp_tag.s" -o "$here/bin/$name.wasm"
    $CC $FLAGS -mllvm -wasm-use-legacy-eh=true "$src" "$here/programs/c_longjmp_tag.s" -o "$here/bin/$name-legacy.wasm"
done
