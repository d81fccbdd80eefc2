#!/bin/sh
# Builds tests/diag/crash.wasm (DWARF 5) and crash_dwarf4.wasm (DWARF 4) from crash.c
# with line information (-g), with ziglang's clang (pip install ziglang) or clang;
# no libc.
set -e
cd "$(dirname "$0")"
# (-fdebug-prefix-map: the file names recorded do not depend on where it is built)
FLAGS="-fdebug-prefix-map=$(pwd)=tests/diag --target=wasm32-wasi -g -O0 -fno-sanitize=undefined -nostdlib -Wl,--no-entry -Wl,--export=_start"
if python -m ziglang version >/dev/null 2>&1; then
    python -m ziglang cc $FLAGS -gdwarf-5 -o crash.wasm crash.c
    python -m ziglang cc $FLAGS -gdwarf-4 -o crash_dwarf4.wasm crash.c
else
    clang $FLAGS -gdwarf-5 -o crash.wasm crash.c
    clang $FLAGS -gdwarf-4 -o crash_dwarf4.wasm crash.c
fi
