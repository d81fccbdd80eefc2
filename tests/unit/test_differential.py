"""Differential testing: random valid modules run on the interpreter and the compiler
must give the same results, traps, host-call logs and final memory.

Modules come from binaryen's ``wasm-opt -ttf`` (translate-to-fuzz: random bytes in,
valid module out; Debian package ``binaryen``).  Its modules import logging functions
from "fuzzing-support" and export ``hangLimitInitializer``, which resets a global that
bounds every loop and recursion; it is called before each export, as binaryen's own
``--fuzz-exec`` does, so no run can hang.

``PYWAZERO_FUZZ_SEEDS=start:stop`` and ``PYWAZERO_FUZZ_SIZE=bytes`` widen the run.

NaN payloads: when both operands of a float operation are NaNs, which payload
CPython's float arithmetic propagates depends on the machine code that adds them
(specialised or not), so it can differ between two runs of the *same* engine; the
spec allows either.  Modules are therefore instrumented with binaryen's ``--denan``
(NaNs produced at run time become 0) and, for what remains (constants, loads),
results and logged values only need to agree on being NaN and memory may differ only
in bytes that lie inside a NaN on both sides.
"""
from __future__ import annotations

import os
import random
import subprocess

import pytest

import pywazero as wz

from ..tools import external_tool
from pywazero.wasm.types import F32, F64, I32, I64, V128

WASM_OPT = external_tool("wasm-opt", "binaryen")
pytestmark = pytest.mark.skipif(WASM_OPT is None, reason="needs binaryen's wasm-opt (apt-get install binaryen)")

FEATURES = ["--enable-bulk-memory", "--enable-multivalue", "--enable-nontrapping-float-to-int",
            "--enable-sign-ext", "--enable-mutable-globals"]


def _seeds():
    spec = os.environ.get("PYWAZERO_FUZZ_SEEDS", "0:40")
    a, b = spec.split(":")
    return range(int(a), int(b))


SIZE = int(os.environ.get("PYWAZERO_FUZZ_SIZE", "6000"))


def make_module(seed: int, tmp_path, extra=()) -> bytes:
    rnd = random.Random(seed)
    data = bytes(rnd.getrandbits(8) for _ in range(SIZE))
    inp = tmp_path / ("%d.dat" % seed)
    out = tmp_path / ("%d.wasm" % seed)
    inp.write_bytes(data)
    subprocess.run([WASM_OPT, "-ttf", str(inp), "-o", str(out), *FEATURES, *extra, "--denan"],
                   check=True, capture_output=True)
    return out.read_bytes()


def _nan32(bits: int) -> bool:
    return (bits & 0x7FFFFFFF) > 0x7F800000


def _nan64(bits: int) -> bool:
    return (bits & 0x7FFFFFFFFFFFFFFF) > 0x7FF0000000000000


def _norm(t: int, v):
    if t == F32 and isinstance(v, int) and _nan32(v):
        return "nan"
    if t == F64 and isinstance(v, int) and _nan64(v):
        return "nan"
    return v


def _same_memory(a: bytes, b: bytes) -> bool:
    if len(a) != len(b):
        return False
    if a == b:
        return True
    for k in range(len(a)):
        if a[k] != b[k]:
            ok = False
            for width, isnan in ((4, _nan32), (8, _nan64)):
                # stores may be unaligned: any window holding byte k
                for start in range(max(0, k - width + 1), min(k, len(a) - width) + 1):
                    x = int.from_bytes(a[start:start + width], "little")
                    y = int.from_bytes(b[start:start + width], "little")
                    if isnan(x) and isnan(y):
                        ok = True
            if not ok:
                return False
    return True


def run(engine: str, wasm: bytes):
    """Everything observable: per export call the raw results or the trap reason, the
    host log, and a digest of the memory."""
    log = []
    events = []
    mems = {}
    with wz.Runtime(wz.RuntimeConfig(engine=engine)) as rt:
        hb = rt.host_module("fuzzing-support")
        for name, t in (("log-i32", I32), ("log-i64", I64), ("log-f32", F32), ("log-f64", F64),
                        ("log-v128", V128)):
            hb = hb.function(name, (lambda n, t: (lambda *a: log.append((n, _norm(t, a[0])))))(name, t),
                             params=[t], raw=True)
        hb.instantiate()
        try:
            m = rt.instantiate(wasm, wz.ModuleConfig(start_functions=()))
        except wz.Trap as e:
            return [("instantiate", e.reason)], log, mems
        exports = [e for e in m.instance.module.exports if e.kind == 0]
        names = {e.name for e in exports}
        for e in exports:
            if e.name == "hangLimitInitializer":
                continue
            f = m.function(e.name)
            nparams = len(f.type.params)
            for arg in (0, 1, 0xFFFFFFFF):
                if "hangLimitInitializer" in names:
                    m.function("hangLimitInitializer")()
                args = [arg if t in (I32, I64) else 0 for t in f.type.params]
                args = [a & (0xFFFFFFFFFFFFFFFF if t == I64 else 0xFFFFFFFF) if t in (I32, I64) else a
                        for a, t in zip(args, f.type.params)]
                try:
                    r = f.call_raw(*args)
                    res = f.type.results
                    if len(res) == 1:
                        r = _norm(res[0], r)
                    elif res:
                        r = tuple(_norm(t, v) for t, v in zip(res, r))
                    events.append((e.name, arg, "ok", r))
                except wz.Trap as t:
                    events.append((e.name, arg, "trap", t.reason))
                if not nparams:
                    break
        for name, kind in m.instance.export_kinds.items():
            if kind == 2:
                mems[name] = bytes(m.instance.exports[name].data)
    return events, log, mems


@pytest.mark.parametrize("seed", list(_seeds()))
def test_engines_agree(seed, tmp_path):
    wasm = make_module(seed, tmp_path)
    check(run("interpreter", wasm), run("compiler", wasm))


def check(interp, comp):
    assert interp[0] == comp[0]
    assert interp[1] == comp[1]
    assert interp[2].keys() == comp[2].keys()
    for name in interp[2]:
        assert _same_memory(interp[2][name], comp[2][name]), f"memory {name!r} differs"


@pytest.mark.parametrize("seed", [1234, 1235, 1236])
def test_engines_agree_with_simd(seed, tmp_path):
    # SIMD compiles to calls of engine/simd.py's functions
    wasm = make_module(seed, tmp_path, ("--enable-simd",))
    check(run("interpreter", wasm), run("compiler", wasm))
