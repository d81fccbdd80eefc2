"""Differential test: random valid modules (binaryen's ``wasm-opt -ttf``) run on the
interpreter and on binaryen's own interpreter (``--fuzz-exec-before``); every export's
integer results, logged integers and traps must agree.  Skipped without wasm-opt."""
from __future__ import annotations

import random
import re
import subprocess

import pytest

import pywazero as wz

from ..tools import external_tool

WASM_OPT = external_tool("wasm-opt", "binaryen")
FEATURES = ["--enable-bulk-memory", "--enable-sign-ext", "--enable-nontrapping-float-to-int",
            "--enable-multivalue"]

pytestmark = pytest.mark.skipif(WASM_OPT is None, reason="wasm-opt (binaryen) not installed")


def _signed(t, v):
    if t == wz.I32:
        return v - (1 << 32) if v & 0x80000000 else v
    if t == wz.I64:
        return v - (1 << 64) if v & (1 << 63) else v
    return None  # floats are printed differently by binaryen: not compared


def _binaryen_events(path):
    out = subprocess.run([WASM_OPT, str(path), "--fuzz-exec-before"] + FEATURES,
                         capture_output=True, text=True, timeout=120).stdout
    events = []
    for line in out.splitlines():
        m = re.match(r"\[fuzz-exec\] calling (\S+)", line)
        if m:
            events.append(("call", m.group(1)))
            continue
        m = re.match(r"\[LoggingExternalInterface logging (.*)\]", line)
        if m:
            toks = m.group(1).split()
            if len(toks) == 2:  # an i64, printed as low and high halves
                v = (int(toks[0]) & 0xFFFFFFFF) | (int(toks[1]) << 32)
                events.append(("log", v - (1 << 64) if v & (1 << 63) else v))
            else:
                events.append(("log", int(toks[0]) if re.fullmatch(r"-?\d+", toks[0]) else None))
            continue
        m = re.match(r"\[fuzz-exec\] note result: \S+ => (.*)", line)
        if m:
            r = m.group(1).strip()
            events.append(("result", int(r) if re.fullmatch(r"-?\d+", r) else None))
            continue
        if line.startswith("[trap"):
            events.append(("trap", None))
    return events


def _our_events(data):
    events = []
    rt = wz.Runtime(wz.RuntimeConfig(engine="interpreter"))
    b = rt.host_module("fuzzing-support")
    for name, t in (("log-i32", wz.I32), ("log-i64", wz.I64), ("log-f32", wz.F32), ("log-f64", wz.F64)):
        b.function(name, (lambda t: lambda x: events.append(("log", _signed(t, x))))(t), params=[t], raw=True)
    b.instantiate()
    m = rt.instantiate(data, wz.ModuleConfig(start_functions=()))
    exports = m.instance.exports
    reset = exports.get("hangLimitInitializer")
    for name, fn in exports.items():
        if not hasattr(fn, "call"):
            continue
        events.append(("call", name))
        if reset is not None:
            reset.call([])
        args = [0.0 if t in (wz.F32, wz.F64) else (None if t in (wz.FUNCREF, wz.EXTERNREF) else 0)
                for t in fn.type.params]
        try:
            res = fn.call(args)
        except wz.Trap:
            events.append(("trap", None))
            continue
        if len(res) == 1:
            events.append(("result", _signed(fn.type.results[0], res[0])))
        elif res:
            events.append(("result", None))
    return events


def _same(ours, theirs):
    if len(ours) != len(theirs):
        return False
    for (k1, v1), (k2, v2) in zip(ours, theirs):
        if k1 != k2:
            return False
        if k1 == "call" and v1 != v2:
            return False
        if k1 in ("log", "result") and v1 is not None and v2 is not None and v1 != v2:
            return False
    return True


@pytest.mark.parametrize("seed", range(12))
def test_random_module_matches_binaryen(tmp_path, seed):
    raw = tmp_path / "in.bin"
    wasm = tmp_path / "m.wasm"
    raw.write_bytes(bytes(random.Random(seed).getrandbits(8) for _ in range(6000)))
    subprocess.run([WASM_OPT, "-ttf", str(raw), "-o", str(wasm)] + FEATURES,
                   capture_output=True, check=True, timeout=120)
    theirs = _binaryen_events(wasm)
    ours = _our_events(wasm.read_bytes())
    assert _same(ours, theirs), "\n".join(f"{a!s:40} {b}" for a, b in zip(ours, theirs))
