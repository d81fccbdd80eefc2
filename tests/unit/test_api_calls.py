"""Function.__call__'s per-signature fast path (api._make_signature_class) and the
engines' entries (Engine.entry): the same values, errors, traps and call-depth
accounting as the generic path, on both engines."""
from __future__ import annotations

import math

import pytest

import pywazero as wz
from pywazero import api

ENGINES = ["interpreter", "compiler"]

WAT = """
(module
  (func $i32 (export "i32") (param i32) (result i32) local.get 0)
  (func (export "i64") (param i64) (result i64) local.get 0)
  (func (export "f32") (param f32) (result f32) local.get 0)
  (func (export "f64") (param f64) (result f64) local.get 0)
  (func (export "v128") (param v128) (result v128) local.get 0)
  (func (export "funcref") (param funcref) (result funcref) local.get 0)
  (func (export "externref") (param externref) (result externref) local.get 0)
  (func (export "inc") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func (export "mixed") (param i32 i64 f32 f64) (result f64 i64 i32)
    local.get 3 local.get 1 local.get 0)
  (func (export "none"))
  (func (export "two") (param i32 i32) (result i32) (i32.sub (local.get 0) (local.get 1)))
  (func (export "trap") (param i32) (result i32) unreachable)
  (func (export "oob") (param i32) (result i32) (i32.load (local.get 0)))
  (func $rec (export "rec") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $rec (i32.sub (local.get 0) (i32.const 1)))))))
  (memory 1)
  (elem declare func $i32)
)
"""

INT_VALUES = [0, 1, -1, 5, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 32 - 1, 2 ** 32, -(2 ** 31) - 1,
              2 ** 63 - 1, -(2 ** 63), 2 ** 63, 2 ** 64 - 1, 2 ** 64, -(2 ** 63) - 1,
              2 ** 127, -(2 ** 127), 2 ** 128 - 1, 2 ** 128, -(2 ** 127) - 1,
              True, False]
OTHER_VALUES = [0.5, -0.0, math.inf, 1e300, "1", None, b"x", 1j, [1]]


@pytest.fixture(params=ENGINES)
def engine(request):
    return request.param


@pytest.fixture
def mod(engine):
    with wz.Runtime(wz.RuntimeConfig(engine=engine)) as rt:
        yield rt.instantiate(WAT)


def outcome(f, *args):
    try:
        r = f(*args)
    except Exception as e:  # noqa: BLE001
        return ("raise", type(e), str(e))
    if isinstance(r, float) and math.isnan(r):
        return ("nan",)
    return ("ok", type(r), r)


def generic(f):
    """The same Function called through the generic (unspecialised) path."""
    return lambda *args: api.Function.__call__(f, *args)


def test_specialised_class(mod):
    f = mod.function("inc")
    assert type(f) is not api.Function and isinstance(f, wz.Function)
    assert type(f).__name__ == "Function"
    assert type(f) is type(mod.function("i32"))  # one class per signature
    assert f == wz.Function(f._fn) and hash(f) == hash(wz.Function(f._fn))
    assert repr(f).startswith("<Function ")


@pytest.mark.parametrize("name", ["i32", "i64", "f32", "f64", "v128", "funcref", "externref"])
def test_every_value_type_matches_generic_path(mod, name):
    f = mod.function(name)
    for v in INT_VALUES + OTHER_VALUES + [mod.function("i32")]:
        assert outcome(f, v) == outcome(generic(f), v), (name, v)


def test_int_ranges(mod):
    for name, bits in (("i32", 32), ("i64", 64)):
        f = mod.function(name)
        assert f(-1) == -1
        assert f(2 ** bits - 1) == -1                      # unsigned in, signed out
        assert f(2 ** (bits - 1)) == -(2 ** (bits - 1))
        assert f(2 ** (bits - 1) - 1) == 2 ** (bits - 1) - 1
        assert f(-(2 ** (bits - 1))) == -(2 ** (bits - 1))
        assert f(True) == 1 and f(False) == 0              # bools are ints, as before
        with pytest.raises(ValueError, match=r"argument 0 %d is out of range for a %d-bit integer"
                           % (2 ** bits, bits)):
            f(2 ** bits)
        with pytest.raises(ValueError, match="out of range"):
            f(-(2 ** (bits - 1)) - 1)
        with pytest.raises(TypeError, match="argument 0 must be an int, not float"):
            f(1.0)
        with pytest.raises(TypeError, match="not str"):
            f("1")
    assert mod.function("inc")(2 ** 32 - 1) == 0
    assert mod.function("inc")(2 ** 31 - 1) == -(2 ** 31)
    v = mod.function("v128")
    assert v(-1) == 2 ** 128 - 1
    with pytest.raises(ValueError):
        v(2 ** 128)


def test_floats(mod):
    f32, f64 = mod.function("f32"), mod.function("f64")
    assert f64(1) == 1.0 and type(f64(1)) is float
    assert f64(True) == 1.0
    assert f32(0.1) == 0.10000000149011612
    assert f32(3) == 3.0
    assert f32(1e300) == math.inf
    assert math.isnan(f32(math.nan)) and math.isnan(f64(math.nan))
    with pytest.raises(TypeError, match="argument 0 must be a float, not str"):
        f64("x")
    with pytest.raises(TypeError, match="must be a float"):
        f32(None)


def test_references(mod):
    fr = mod.function("funcref")
    g = mod.function("i32")
    r = fr(g)
    assert isinstance(r, wz.Function) and r == g and r(7) == 7
    assert fr(None) is None
    with pytest.raises(TypeError, match="must be a pywazero Function or None"):
        fr(3)
    o = object()
    assert mod.function("externref")(o) is o


def test_multi_and_none(mod):
    assert mod.function("mixed")(-1, 2 ** 64 - 1, 0.5, 2.5) == (2.5, -1, -1)
    assert mod.function("none")() is None
    assert mod.function("two")(1, 3) == -2
    for args in [(1, 2, 3, 4), (1,), (2 ** 33, 0, 0.0, 0.0), (1, 2, "x", 1.0), (1, 2, 3, None)]:
        f = mod.function("mixed")
        assert outcome(f, *args) == outcome(generic(f), *args)


def test_arity_errors(mod):
    for name, n in (("inc", 1), ("none", 0), ("two", 2), ("mixed", 4)):
        f = mod.function(name)
        for k in range(6):
            if k != n:
                with pytest.raises(TypeError, match=r"expects %d argument\(s\) .*, got %d" % (n, k)):
                    f(*range(k))
        with pytest.raises(TypeError):
            f(x=1)


def test_traps_and_closed(mod):
    with pytest.raises(wz.Trap, match="unreachable") as info:
        mod.function("trap")(1)
    assert info.value.wasm_stack == ["trap"]
    with pytest.raises(wz.Trap, match="out of bounds memory access"):
        mod.function("oob")(65535)
    assert mod.function("rec")(50) == 50
    f = mod.function("inc")
    mod.close()
    with pytest.raises(wz.WasmError, match="closed"):
        f(1)
    with pytest.raises(TypeError):  # arguments are checked first, as before
        f("x")


def test_deep_recursion_traps(engine):
    with wz.Runtime(wz.RuntimeConfig(engine=engine, max_call_depth=300)) as rt:
        rec = rt.instantiate(WAT).function("rec")
        assert rec(250) == 250
        with pytest.raises(wz.Trap, match="call stack exhausted"):
            rec(400)
        assert rec(250) == 250


REENTRY = """
(module
  (import "env" "cb" (func $cb (param i32) (result i32)))
  (func (export "down") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $cb (i32.sub (local.get 0) (i32.const 1)))))))
  (func $boom (export "boom") (param i32) (result i32) unreachable)
  (func (export "outer") (param i32) (result i32) (call $cb (local.get 0)))
)
"""


def test_host_reentry_counts_towards_depth(engine):
    with wz.Runtime(wz.RuntimeConfig(engine=engine, max_call_depth=40)) as rt:
        holder = {}
        rt.host_module("env").function("cb", lambda n: holder["f"](n), params=[wz.I32],
                                       results=[wz.I32]).instantiate()
        m = rt.instantiate(REENTRY)
        holder["f"] = down = m.function("down")
        assert down(30) == 30
        with pytest.raises(wz.Trap, match="call stack exhausted"):
            down(100)
        assert down(30) == 30


def test_trap_stack_through_host_reentry(engine):
    with wz.Runtime(wz.RuntimeConfig(engine=engine)) as rt:
        holder = {}
        rt.host_module("env").function("cb", lambda n: holder["f"](n), params=[wz.I32],
                                       results=[wz.I32]).instantiate()
        m = rt.instantiate(REENTRY)
        holder["f"] = m.function("boom")
        with pytest.raises(wz.Trap) as via_function:
            m.function("outer")(1)
        with pytest.raises(wz.Trap) as via_call:
            m.instance.exports["outer"].call([1])
        assert via_function.value.wasm_stack == via_call.value.wasm_stack
        assert via_function.value.wasm_stack[0].endswith("boom")
        assert via_function.value.wasm_stack[-1].endswith("outer")


def test_host_exception_passes_unchanged(engine):
    class Boom(Exception):
        pass

    def cb(n):
        if n == 1:
            raise Boom("x")
        if n == 2:
            raise IndexError("host index error")
        return n

    with wz.Runtime(wz.RuntimeConfig(engine=engine)) as rt:
        rt.host_module("env").function("cb", cb, params=[wz.I32], results=[wz.I32]).instantiate()
        outer = rt.instantiate(REENTRY).function("outer")
        assert outer(5) == 5
        with pytest.raises(Boom):
            outer(1)
        with pytest.raises(IndexError, match="host index error"):
            outer(2)


def test_host_function_facade(engine):
    with wz.Runtime(wz.RuntimeConfig(engine=engine)) as rt:
        host = rt.host_module("env").function("cb", lambda n: n * 2, params=[wz.I32],
                                              results=[wz.I32]).instantiate()
        cb = host.function("cb")
        assert cb(21) == 42 and cb(2 ** 32 - 1) == -2
        with pytest.raises(ValueError):
            cb(2 ** 32)
        host.close()
        with pytest.raises(wz.WasmError, match="closed"):
            cb(1)


def test_generic_class_for_unusual_signatures(mod, monkeypatch):
    monkeypatch.setattr(api, "_SIGNATURE_CLASSES", {})
    monkeypatch.setattr(api, "_MAX_SIGNATURE_CLASSES", 0)
    f = wz.Function(mod.function("mixed")._fn)
    assert type(f) is api.Function
    assert f(-1, 2 ** 64 - 1, 0.5, 2.5) == (2.5, -1, -1)
    with pytest.raises(ValueError):
        f(2 ** 32, 0, 0.0, 0.0)


def test_export_facades_are_made_once(engine):
    with wz.Runtime(wz.RuntimeConfig(engine=engine)) as rt:
        m = rt.instantiate('(module (memory (export "m") 0) (table (export "t") 0 funcref)'
                           ' (func (export "f")))')
        f, mem, t = m.function("f"), m.memory("m"), m.table("t")
        assert len(mem) == 0 and len(t) == 0
        ex = m.exports
        assert ex["f"] is f and ex["m"] is mem and ex["t"] is t
        assert m.function("f") is f
