"""Benchmark: validate a synthetic ~1 MB module (run: python bench/bench_validation.py).

The module is built from small stack-neutral snippets (locals, i32/i64/f64
arithmetic, loads/stores, blocks, loops, br_if, if/else, calls) so its instruction
mix resembles compiled code.  Prints the binary size and validation throughput.
"""
from __future__ import annotations

import random
import sys
import time

from pywazero.wasm.module import Function, Module
from pywazero.wasm.types import F64, I32, I64, FuncType, Limits, MemoryType
from pywazero.wasm.validation import validate_module

END = (0x0B, None)


def snippets(nfuncs: int, rng: random.Random):
    g = lambda i: (0x20, i)  # noqa: E731
    s = lambda i: (0x21, i)  # noqa: E731
    return [
        lambda: [g(0), g(1), (0x6A, None), s(2)],
        lambda: [g(2), (0x28, (2, 8, 0)), g(0), (0x6C, None), s(1)],
        lambda: [(0x02, -64), g(0), (0x45, None), (0x0D, 0), g(0), (0x41, 1), (0x6B, None), s(0), END],
        lambda: [(0x03, -64), g(1), (0x41, 4), (0x6A, None), (0x22, 1), g(0), (0x49, None), (0x0D, 0), END],
        lambda: [g(0), g(1), (0x10, rng.randrange(nfuncs)), (0x1A, None)],
        lambda: [g(4), (0x42, 5), (0x7E, None), s(4)],
        lambda: [g(5), (0x44, 0x3FF0000000000000), (0xA0, None), s(5)],
        lambda: [g(0), g(1), (0x36, (2, 0, 0))],
        lambda: [g(0), (0x04, -1), (0x41, 1), (0x05, None), (0x41, 2), END, s(1)],
    ]


def build(target_bytes: int = 1 << 20, seed: int = 1) -> Module:
    rng = random.Random(seed)
    nfuncs = max(1, target_bytes // 2000)
    snips = snippets(nfuncs, rng)
    funcs = []
    for _ in range(nfuncs):
        body = []
        while len(body) < 900:
            body.extend(rng.choice(snips)())
        body.append((0x20, 0))
        body.append(END)
        funcs.append(Function(0, [(2, I32), (1, I64), (1, F64)], body))
    return Module(types=[FuncType((I32, I32), (I32,))], funcs=funcs,
                  mems=[MemoryType(Limits(1))])


def main() -> None:
    mod = build()
    try:
        from pywazero.binary.encoder import encode_module

        size = len(encode_module(mod))
    except Exception:  # encoder unavailable
        size = -1
    ninstr = sum(len(f.body) for f in mod.funcs)
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        validate_module(mod)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    print(f"{sys.implementation.name} {sys.version.split()[0]}: {size} bytes, {len(mod.funcs)} functions, "
          f"{ninstr} instructions: validate {best:.3f}s "
          f"({ninstr / best / 1e6:.2f} M instr/s, {size / best / 1e6:.2f} MB/s)")


if __name__ == "__main__":
    main()
