"""Tail calls (WebAssembly 3.0): return_call and return_call_indirect.

Both engines: a chain of tail calls runs in constant Python stack (checked with a
max_call_depth far below the chain's length and by looking at the Python stack at
the end of the chain) and constant memory, across modules, through tables and into
host functions; a tail-calling function is callable from the API, call_indirect,
other modules and host callbacks like any other.
"""
from __future__ import annotations

import sys

import pytest

import pywazero
from pywazero import CoreFeatures, ModuleConfig, Runtime, RuntimeConfig, Trap, ValidationError, wat2wasm
from pywazero.binary.decoder import decode_module
from pywazero.text.parser import parse_module_text
from pywazero.wasm.types import I32, I64
from pywazero.wasm.validation import validate_module

V3 = CoreFeatures.V3
ENGINES = ["interpreter", "compiler"]


def runtime(engine, **kw):
    return Runtime(RuntimeConfig(engine=engine, core_features=kw.pop("features", V3), **kw))


# count(n, acc): n tail calls to itself; even/odd: mutual recursion through a table
LOOPS = """(module
 (type $t (func (param i64 i64) (result i64)))
 (table $tab 2 funcref) (elem (i32.const 0) $even $odd)
 (func $count (export "count") (param i64 i64) (result i64)
   (if (result i64) (i64.eqz (local.get 0)) (then (local.get 1))
     (else (return_call $count (i64.sub (local.get 0) (i64.const 1))
                               (i64.add (local.get 1) (i64.const 1))))))
 (func $even (export "even") (param i64 i64) (result i64)
   (if (result i64) (i64.eqz (local.get 0)) (then (i64.const 1))
     (else (return_call_indirect (type $t) (i64.sub (local.get 0) (i64.const 1))
                                 (local.get 1) (i32.const 1)))))
 (func $odd (export "odd") (param i64 i64) (result i64)
   (if (result i64) (i64.eqz (local.get 0)) (then (i64.const 0))
     (else (return_call_indirect (type $t) (i64.sub (local.get 0) (i64.const 1))
                                 (local.get 1) (i32.const 0)))))
 ;; an ordinary (non-tail) caller of a tail-calling function
 (func (export "twice") (param i64) (result i64)
   (i64.add (call $count (local.get 0) (i64.const 0))
            (call_indirect $tab (type $t) (local.get 0) (i64.const 0) (i32.const 0))))
)"""


@pytest.mark.parametrize("engine", ENGINES)
def test_self_and_indirect_tail_calls_in_constant_stack(engine):
    # max_call_depth 20: any frame left behind by a tail call would trap long before
    rt = runtime(engine, max_call_depth=20)
    m = rt.instantiate(rt.compile(LOOPS))
    n = 100_000
    assert m.exports["count"](n, 5) == n + 5
    assert m.exports["even"](n, 0) == 1
    assert m.exports["even"](n + 1, 0) == 0
    assert m.exports["odd"](n + 1, 0) == 1
    assert m.exports["twice"](7) == 7 + 0   # count(7, 0) + even(7, 0)
    assert m.exports["twice"](8) == 8 + 1


@pytest.mark.parametrize("engine", ENGINES)
def test_tail_call_chain_memory_is_constant(engine):
    # (PyPy has no tracemalloc; its own tail-call tests above still run there)
    tracemalloc = pytest.importorskip("tracemalloc", reason="no tracemalloc (PyPy)")
    rt = runtime(engine)
    m = rt.instantiate(rt.compile(LOOPS))
    count = m.exports["count"]
    even = m.exports["even"]
    count(1000, 0)
    even(1000, 0)   # (first calls compile and cache)

    def peak(n):
        tracemalloc.start()
        try:
            count(n, 0)
            even(n, 0)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, big = peak(1000), peak(100_000)
    # a frame kept per call would be megabytes; allow some noise
    assert big < small + 64 * 1024, (small, big)


HOST_CHAIN = """(module
 (import "host" "depth" (func $depth (param i32) (result i32)))
 (import "other" "ping" (func $ping (param i32) (result i32)))
 (func $pong (export "pong") (param i32) (result i32)
   (if (result i32) (i32.eqz (local.get 0))
     (then (return_call $depth (i32.const 0)))
     (else (return_call $ping (i32.sub (local.get 0) (i32.const 1)))))))"""

OTHER = """(module
 (table (export "tab") 1 funcref)
 (type $t (func (param i32) (result i32)))
 (func $ping (export "ping") (param i32) (result i32)
   (return_call_indirect (type $t) (local.get 0) (i32.const 0))))"""


def _python_depth():
    f = sys._getframe()
    n = 0
    while f is not None:
        n += 1
        f = f.f_back
    return n


@pytest.mark.parametrize("engine", ENGINES)
def test_chain_across_modules_tables_and_into_a_host_function(engine):
    """pong (module main) -> ping (module other, imported) -> through other's table
    -> pong (imported back into other) ... -> the host function: every hop a tail
    call; the host function sees the same Python stack depth whatever the length."""
    rt = runtime(engine, max_call_depth=30)
    depths = []

    def depth(x: int) -> int:
        depths.append(_python_depth())
        return 42

    rt.host_module("host").function("depth", depth, [I32], [I32]).instantiate()
    # other's ping tail-calls through its table, which is given main's pong: the
    # cycle main -> other -> main needs no circular import
    other = rt.instantiate(rt.compile(OTHER), ModuleConfig(name="other"))
    main = rt.instantiate(rt.compile(HOST_CHAIN), ModuleConfig(name="main"))
    other.exports["tab"].set(0, main.exports["pong"])
    pong = main.exports["pong"]
    assert pong(0) == 42
    assert pong(10) == 42
    assert pong(50_000) == 42
    assert len(set(depths)) == 1, depths


@pytest.mark.parametrize("engine", ENGINES)
def test_host_function_sees_its_caller_and_multi_value(engine):
    rt = runtime(engine)
    seen = []

    def pair(caller: pywazero.Caller, x: int):
        seen.append(caller.module is not None)
        return x + 1, x + 2

    rt.host_module("h").function("pair", pair, [I32], [I32, I32]).instantiate()
    m = rt.instantiate(rt.compile("""(module
      (import "h" "pair" (func $pair (param i32) (result i32 i32)))
      (func $two (param i32) (result i32 i32) (return_call $pair (local.get 0)))
      (func (export "f") (param i32) (result i32 i32) (return_call $two (local.get 0)))
      (func (export "g") (param i32) (result i32)
        (i32.sub (call $two (local.get 0)))))"""))
    assert m.exports["f"](10) == (11, 12)
    assert m.exports["g"](10) == -1   # 11 - 12 (i32 results are signed at the API)
    assert seen == [True, True]


@pytest.mark.parametrize("engine", ENGINES)
def test_host_callback_into_a_tail_calling_function(engine):
    rt = runtime(engine, max_call_depth=40)
    box = {}

    def cb(n: int) -> int:
        return box["count"](n, 1)

    rt.host_module("h").function("cb", cb, [I64], [I64]).instantiate()
    m = rt.instantiate(rt.compile("""(module
      (import "h" "cb" (func $cb (param i64) (result i64)))
      (func $count (export "count") (param i64 i64) (result i64)
        (if (result i64) (i64.eqz (local.get 0)) (then (local.get 1))
          (else (return_call $count (i64.sub (local.get 0) (i64.const 1))
                                    (i64.add (local.get 1) (i64.const 1))))))
      (func (export "via_host") (param i64) (result i64) (return_call $cb (local.get 0))))"""))
    box["count"] = m.exports["count"]
    assert m.exports["via_host"](20_000) == 20_001


@pytest.mark.parametrize("engine", ENGINES)
def test_tail_call_traps(engine):
    rt = runtime(engine)
    m = rt.instantiate(rt.compile("""(module
      (type $i (func (result i32)))
      (type $l (func (result i64)))
      (table 2 funcref) (elem (i32.const 0) $seven)
      (func $seven (result i32) (i32.const 7))
      (func (export "ok") (result i32) (return_call_indirect (type $i) (i32.const 0)))
      (func (export "uninit") (result i32) (return_call_indirect (type $i) (i32.const 1)))
      (func (export "undef") (result i32) (return_call_indirect (type $i) (i32.const 2)))
      (func $bad (export "bad") (result i64) (return_call_indirect (type $l) (i32.const 0)))
      (func $crash (result i32) unreachable)
      (func $mid (export "mid") (result i32) (return_call $crash))
      (func (export "outer") (result i32) (call $mid)))"""))
    assert m.exports["ok"]() == 7
    for name, msg in (("uninit", "uninitialized element"), ("undef", "undefined element"),
                      ("bad", "indirect call type mismatch")):
        with pytest.raises(Trap, match=msg):
            m.exports[name]()
    with pytest.raises(Trap, match="unreachable") as info:
        m.exports["outer"]()
    # $mid's frame was replaced by $crash's
    assert info.value.wasm_stack[0].endswith("crash")
    assert not any(s.endswith("mid") for s in info.value.wasm_stack)


@pytest.mark.parametrize("engine", ENGINES)
def test_ordinary_recursion_through_tail_calling_functions_still_traps(engine):
    rt = runtime(engine, max_call_depth=50)
    m = rt.instantiate(rt.compile("""(module
      (func $f (export "f") (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
          (else (i32.add (i32.const 1) (call $g (i32.sub (local.get 0) (i32.const 1)))))))
      (func $g (param i32) (result i32) (return_call $f (local.get 0))))"""))
    assert m.exports["f"](40) == 40
    with pytest.raises(Trap, match="call stack exhausted"):
        m.exports["f"](60)


@pytest.mark.parametrize("engine", ENGINES)
def test_fuel_counts_tail_calls(engine):
    rt = runtime(engine, consume_fuel=True)
    m = rt.instantiate(rt.compile("""(module
      (func $spin (export "spin") (param i32) (result i32) (return_call $spin (local.get 0))))"""))
    rt.set_fuel(10_000)
    with pytest.raises(Trap, match="fuel"):
        m.exports["spin"](1)


# --- validation and the feature flag --------------------------------------------------

def _validate(src, features=V3):
    validate_module(parse_module_text(src), features)


@pytest.mark.parametrize("src", [
    '(module (func (return_call 0)))',
    '(module (type (func)) (table 1 funcref) (func (return_call_indirect (type 0) (i32.const 0))))',
])
def test_needs_the_tail_call_feature(src):
    with pytest.raises(ValidationError, match="requires the tail-call feature"):
        _validate(src, CoreFeatures.V2)
    _validate(src, CoreFeatures.V2 | CoreFeatures.TAIL_CALL)
    # the binary decodes under 2.0 and the validator names the feature
    data = wat2wasm(src)
    with pytest.raises(ValidationError, match="tail-call"):
        Runtime(RuntimeConfig(core_features=CoreFeatures.V2)).compile(data)


@pytest.mark.parametrize("src, msg", [
    # the callee's results must be the caller's
    ('(module (func $f (result i64) (i64.const 0)) (func (result i32) (return_call $f)))', "type mismatch"),
    ('(module (func $f (result i32) (i32.const 0)) (func (return_call $f)))', "type mismatch"),
    ('(module (func $f (param i32)) (func (return_call $f)))', "type mismatch"),
    ('(module (func (return_call 5)))', "unknown function 5"),
    ('(module (type (func)) (func (return_call_indirect (type 0) (i32.const 0))))', "unknown table"),
    ('(module (table 1 externref) (type (func)) (func (return_call_indirect (type 0) (i32.const 0))))',
     "type mismatch"),
    ('(module (table 1 funcref) (func (return_call_indirect (type 3) (i32.const 0))))', "unknown type"),
    ('(module (table 1 funcref) (type (func)) (func (return_call_indirect (type 0) (i64.const 0))))',
     "type mismatch"),
])
def test_validation_errors(src, msg):
    with pytest.raises(ValidationError, match=msg):
        _validate(src)


def test_code_after_a_tail_call_is_unreachable():
    # stack-polymorphic afterwards, like return
    _validate('(module (func $f (result i32) (i32.const 1))'
              ' (func (result i32) (return_call $f) (i64.const 0) drop))')


def test_binary_round_trip_matches_the_reference_encoding():
    src = ('(module (type $t (func (param i32) (result i32))) (table 1 funcref)'
           ' (func $f (param i32) (result i32) (return_call $f (local.get 0)))'
           ' (func (param i32) (result i32) (return_call_indirect (type $t) (local.get 0) (i32.const 0))))')
    data = wat2wasm(src)
    # return_call 0 = 0x12 0x00; return_call_indirect type 0 table 0 = 0x13 0x00 0x00
    assert bytes([0x20, 0x00, 0x12, 0x00, 0x0B]) in data
    assert bytes([0x41, 0x00, 0x13, 0x00, 0x00, 0x0B]) in data
    module = decode_module(data, V3)
    ops = [op for f in module.funcs for op, _ in f.body]
    assert 0x12 in ops and 0x13 in ops


def test_generated_code_of_functions_without_tail_calls_is_unchanged():
    from pywazero.engine.compiler import dump

    rt = runtime("compiler")
    cm = rt.compile("""(module
      (func $plain (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (func $tail (param i32) (result i32) (return_call $plain (local.get 0))))""")
    plain = dump(cm, 0)
    assert "_TC" not in plain and "_t" not in plain.split("def ", 1)[1].split("(")[0]
    # a return_call to a function without tail calls is a plain call at the same depth
    assert "return f0(l0, _d)" in dump(cm, 1)


SELF = """(module
  (global $g (mut i32) (i32.const 0))
  ;; swaps its parameters each step: l0, l1 = l1, l0 - 1 must read both first
  (func $swap (export "swap") (param i32 i32) (result i32)
    (local $seen i32)
    ;; a local is zero again in every tail-called activation
    (if (local.get $seen) (then unreachable))
    (local.set $seen (i32.const 1))
    (if (result i32) (i32.eqz (local.get 1)) (then (local.get 0))
      (else (return_call $swap (local.get 1) (i32.sub (local.get 0) (i32.const 1))))))
  ;; a self tail call from inside nested loops and blocks
  (func $nested (export "nested") (param i32) (result i32)
    (block $out
      (loop $l
        (block $skip
          (br_if $out (i32.eqz (local.get 0)))
          (br_if $skip (i32.and (local.get 0) (i32.const 1)))
          (return_call $nested (i32.sub (local.get 0) (i32.const 1))))
        (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
        (br $l)))
    (global.get $g))
  ;; no parameters: state in a global
  (func $tick (export "tick") (result i32)
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (if (result i32) (i32.ge_u (global.get $g) (i32.const 100000)) (then (global.get $g))
      (else (return_call $tick)))))"""


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("limits", [{}, {"consume_fuel": True}, {"interruptible": True}])
def test_self_tail_calls(engine, limits):
    rt = runtime(engine, max_call_depth=20, **limits)
    if limits.get("consume_fuel"):
        rt.set_fuel(10 ** 9)
    m = rt.instantiate(rt.compile(SELF))
    # (a, b) -> (b, a - 1) until b == 0
    def swap_py(a, b):
        while b:
            a, b = b, (a - 1) & 0xFFFFFFFF
        return a - (1 << 32) if a >= 1 << 31 else a
    for a, b in ((5, 9), (1000, 999), (0, 3), (7, 0)):
        assert m.exports["swap"](a, b) == swap_py(a, b)
    assert m.exports["tick"]() == 100_000
    assert m.exports["nested"](100_001) == 100_000


def test_compiler_turns_a_self_tail_call_into_a_loop():
    from pywazero.engine.compiler import dump

    cm = runtime("compiler").compile(SELF)
    src = dump(cm, 0)
    assert "_TC" not in src and "while True:" in src and "continue" in src
    # (the step is reduced with % on CPython, masked elsewhere: codegen.REMAINDER_MASKS)
    assert ("l0, l1 = l1, ((l0 - 1) % 4294967296)" in src
            or "l0, l1 = l1, ((l0 - 1) & 0xFFFFFFFF)" in src)
    # so it has no trampoline, and a tail call to it is a plain call at the same depth
    cm = runtime("compiler").compile(SELF.rstrip()[:-1] + """
      (func (export "caller") (param i32) (result i32) (return_call $swap (local.get 0) (i32.const 4))))""")
    assert "return f0(l0, 4, _d)" in dump(cm, 3)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("export", ["self", "mutual", "indirect"])
def test_endless_tail_call_loops_are_interrupted(engine, export):
    """A tail-call loop has no loop instruction: the function entries' checks must
    still see a deadline (and run out of fuel, see test_fuel_counts_tail_calls)."""
    rt = runtime(engine, interruptible=True)
    m = rt.instantiate(rt.compile("""(module
      (type $v (func))
      (table 1 funcref) (elem (i32.const 0) $ind)
      (func $self (export "self") (return_call $self))
      (func $a (export "mutual") (return_call $b))
      (func $b (return_call $a))
      (func $ind (export "indirect") (return_call_indirect (type $v) (i32.const 0))))"""))
    with pytest.raises(Trap, match="deadline exceeded"):
        with rt.deadline(0.2):
            m.exports[export]()
