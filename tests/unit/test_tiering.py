"""The compiler engine's cheap tier: cold functions on the interpreter, hot loops
moved to compiled code at their header (on-stack replacement).

Large modules get the tier (``CompilerEngine.tier_min_size``); these tests force it
on small ones with tiny thresholds, so every function starts interpreted and every
qualifying loop is replaced after a few iterations, and check results, traps and
the trap's wasm stack against a Python model or the untiered engine.
"""
from __future__ import annotations

import pytest

import pywazero as wz
from pywazero.engine.compiler import CompilerEngine
from pywazero.engine.compiler.tier import osr_function
from pywazero.text.parser import parse_module_text
from pywazero.wasm.validation import validate_function


@pytest.fixture
def tiered(monkeypatch):
    """A compiler runtime whose every module is tiered: 2 interpreted calls per
    function, a loop replaced at its 3rd iteration."""
    monkeypatch.setattr(CompilerEngine, "tier_min_size", 0)
    monkeypatch.setattr(CompilerEngine, "tier_calls", 2)
    monkeypatch.setattr(CompilerEngine, "tier_calls_scale", 0)
    monkeypatch.setattr(CompilerEngine, "tier_loop", 3)
    monkeypatch.setattr(CompilerEngine, "tier_loop_scale", 0)
    return wz.Runtime(wz.RuntimeConfig(engine="compiler"))


def untiered_runtime(monkeypatch) -> wz.Runtime:
    monkeypatch.setattr(CompilerEngine, "tier_min_size", None)
    return wz.Runtime(wz.RuntimeConfig(engine="compiler"))


def osr_made(cm) -> int:
    """How many loops of ``cm`` were replaced by compiled code."""
    return sum(1 for v in cm._engine_code().osr_codes.values() if v != "fallback")


NESTED = """(module
  (func $nest (export "nest") (param $n i32) (param $rounds i32) (result i32)
    (local $i i32) (local $j i32) (local $acc i32) (local $f f64)
    (local.set $f (f64.const 0.5))
    (block $out
      (loop $outer
        ;; code before the path's next construct: skipped on entry, run on the
        ;; outer loop's next iterations
        (local.set $acc (i32.add (local.get $acc) (i32.const 1000)))
        (local.set $j (i32.const 0))
        (br_if $out (i32.ge_u (local.get $i) (local.get $rounds)))
        (if (i32.and (local.get $i) (i32.const 1))
          (then
            (block $b
              (local.set $acc (i32.add (local.get $acc) (i32.const 7)))
              (loop $inner
                (local.set $acc (i32.add (local.get $acc) (local.get $j)))
                (local.set $f (f64.add (local.get $f) (f64.const 1)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br_if $inner (i32.lt_u (local.get $j) (local.get $n))))))
          (else
            (block $c
              ;; a branch out of the guarded code (renumbered) and one inside it
              (br_table $c $c $c $c $c $c $out $c (local.get $i)))
            (loop $inner2
              (local.set $acc (i32.sub (local.get $acc) (local.get $j)))
              (local.set $j (i32.add (local.get $j) (i32.const 2)))
              (br_if $inner2 (i32.lt_u (local.get $j) (local.get $n))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (i32.add (local.get $acc) (i32.trunc_f64_s (local.get $f))))
)"""


def nest_model(n: int, rounds: int) -> int:
    i = j = acc = 0
    f = 0.5
    while True:
        acc += 1000
        j = 0
        if i >= rounds:
            break
        if i & 1:
            acc += 7
            while True:
                acc += j
                f += 1
                j += 1
                if not j < n:
                    break
        else:
            if i == 6:
                break
            while True:
                acc -= j
                j += 2
                if not j < n:
                    break
        i += 1
    return (acc + int(f)) & 0xFFFFFFFF


@pytest.mark.parametrize("n,rounds", [(1, 1), (10, 1), (10, 2), (10, 5), (9, 9), (50, 3), (0, 0)])
def test_loops_nested_in_blocks_ifs_and_loops(tiered, n, rounds):
    cm = tiered.compile(NESTED)
    m = tiered.instantiate(cm)
    nest = m.function("nest")
    # the first calls run interpreted (loops replaced when hot), later ones compiled
    for _ in range(4):
        assert nest(n, rounds) == nest_model(n, rounds)
    if n >= 10 and rounds >= 1:
        assert osr_made(cm) >= 1


def test_every_entry_point_of_every_loop(tiered):
    # a fresh module per call: each loop in turn gets hot first
    for n, rounds in [(10, 1), (10, 2), (10, 3), (10, 7), (10, 9)]:
        cm = tiered.compile(NESTED)
        nest = tiered.instantiate(cm).function("nest")
        assert nest(n, rounds) == nest_model(n, rounds)


def test_replaced_function_is_the_function(tiered):
    """After a loop was replaced, later calls run the same translation (o = 1):
    results of fresh calls still match."""
    cm = tiered.compile(NESTED)
    nest = tiered.instantiate(cm).function("nest")
    assert nest(20, 3) == nest_model(20, 3)
    assert osr_made(cm) >= 1
    for n, rounds in [(0, 0), (3, 2), (20, 9), (7, 4)]:
        assert nest(n, rounds) == nest_model(n, rounds)


def test_results_and_loop_with_result(tiered):
    m = tiered.instantiate("""(module
      (func (export "f") (param $n i64) (result i64 i32)
        (local $s i64) (local $k i32)
        (loop $l (result i64)
          (local.set $s (i64.add (local.get $s) (local.get $n)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (local.set $n (i64.sub (local.get $n) (i64.const 1)))
          (br_if $l (i64.ne (local.get $n) (i64.const 0)))
          (local.get $s))
        (local.get $k)))""")
    f = m.function("f")
    for n in (1, 5, 100, 1000):
        assert f(n) == (n * (n + 1) // 2, n)


def test_loop_with_values_below_stays_interpreted(tiered):
    # an operand under the loop: not replaced, still right
    m = tiered.instantiate("""(module
      (func (export "f") (param $n i32) (result i32)
        (i32.const 100)
        (loop $l
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br_if $l (local.get $n)))
        (i32.add (local.get $n))))""")
    for _ in range(4):
        assert m.function("f")(50) == 100


def test_recursion_through_tiered_functions(tiered):
    m = tiered.instantiate("""(module
      (func $fib (export "fib") (param i32) (result i32)
        (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
          (then (local.get 0))
          (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                         (call $fib (i32.sub (local.get 0) (i32.const 2))))))))""")
    assert m.function("fib")(20) == 6765


def test_indirect_calls_see_the_promoted_function(tiered):
    m = tiered.instantiate("""(module
      (type $t (func (param i32) (result i32)))
      (table 2 funcref) (elem (i32.const 0) $sq $inc)
      (func $sq (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
      (func $inc (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (func (export "run") (param $n i32) (result i32)
        (local $s i32) (local $i i32)
        (loop $l
          (local.set $s (i32.add (local.get $s)
            (call_indirect (type $t) (local.get $i) (i32.and (local.get $i) (i32.const 1)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
        (local.get $s)))""")
    run = m.function("run")
    expect = sum(i * i if i % 2 == 0 else i + 1 for i in range(30))
    for _ in range(3):
        assert run(30) == expect


TRAPS = """(module
  (memory 1)
  (func $load (param i32) (result i32) (i32.load (local.get 0)))
  (func $deep (export "deep") (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (call $load (i32.mul (local.get $i) (i32.const 4096)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $s))
  (func $direct (export "direct") (param $n i32) (result i32)
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (i32.div_u (i32.const 1) (i32.sub (local.get $i) (local.get $n))))
  (func (export "outer") (param i32) (result i32) (call $deep (local.get 0))))"""


@pytest.mark.parametrize("export,arg,reason", [
    ("deep", 100, "out of bounds memory access"),
    ("outer", 100, "out of bounds memory access"),
    ("direct", 50, "integer divide by zero"),
])
def test_traps_in_replaced_loops_as_without_the_tier(tiered, monkeypatch, export, arg, reason):
    # (without inlining, whose frames are not in the wasm stack: the plain compiler
    # would inline $deep into "outer", the tier runs $deep on its own first)
    monkeypatch.setattr(CompilerEngine, "inline", False)
    cm = tiered.compile(TRAPS)
    m = tiered.instantiate(cm)
    with pytest.raises(wz.Trap) as got:
        m.function(export)(arg)
    assert osr_made(cm) >= 1
    plain = untiered_runtime(monkeypatch)
    with pytest.raises(wz.Trap) as want:
        plain.instantiate(TRAPS).function(export)(arg)
    assert got.value.reason == want.value.reason == reason
    assert got.value.wasm_stack == want.value.wasm_stack


def test_no_tier_with_fuel(monkeypatch):
    monkeypatch.setattr(CompilerEngine, "tier_min_size", 0)
    rt = wz.Runtime(wz.RuntimeConfig(engine="compiler", consume_fuel=True))
    cm = rt.compile(NESTED)
    assert not cm._engine_code().tier


def test_small_modules_are_not_tiered():
    rt = wz.Runtime(wz.RuntimeConfig(engine="compiler"))
    assert not rt.compile(NESTED)._engine_code().tier


def test_osr_function_shape():
    """The rewritten body: guarded prefixes, `o` set right before the loop, and it
    validates as a function of the original's locals."""
    module = parse_module_text(NESTED)
    validate_function(module, 0)
    body = module.funcs[0].body
    loops = [i for i, (op, _) in enumerate(body) if op == 0x03]
    assert len(loops) == 3
    outer = osr_function(module, 0, loops[0])
    ftype, new = outer
    assert ftype.params == (0x7F, 0x7F, 0x7F, 0x7F, 0x7F, 0x7C, 0x7F)
    o = len(ftype.params) - 1
    # the outer loop: only the f64 init before it, guarded, then o = 1
    assert new[:2] == [(0x20, o), (0x04, -64)]
    k = new.index((0x21, o))
    assert new[k - 1] == (0x41, 1) and new[k + 1][0] == 0x03
    for loop in loops[1:]:
        _, new = osr_function(module, 0, loop)
        assert new.count((0x21, o)) == 1
        assert sum(1 for ins in new if ins == (0x20, o)) >= 3   # one guard per level
    # a loop with a value under it does not qualify
    m2 = parse_module_text("(module (func (result i32) (i32.const 1) (loop $l (br_if $l (i32.const 0)))))")
    validate_function(m2, 0)
    assert osr_function(m2, 0, 1) is None


def ring(n: int) -> str:
    """n functions calling each other in a ring: f0(d) = d == 0 ? 0 : f1(d-1) + 1 ..."""
    funcs = []
    for i in range(n):
        funcs.append(f"""(func $f{i} (param $d i32) (result i32)
          (if (result i32) (i32.eqz (local.get $d)) (then (i32.const 0))
            (else (i32.add (call $f{(i + 1) % n} (i32.sub (local.get $d) (i32.const 1)))
                           (i32.const 1)))))""")
    return "(module (export \"f0\" (func $f0))" + "".join(funcs) + ")"


@pytest.mark.parametrize("depth", [100, 1000, 9000])
def test_deep_recursion_through_cold_functions(tiered, depth):
    # every level a different, never-called-before function: deep recursion must not
    # run out of Python stack or host levels on the interpreted tier
    m = tiered.instantiate(ring(60))
    assert m.function("f0")(depth) == depth


def test_call_stack_exhaustion_as_without_the_tier(monkeypatch):
    monkeypatch.setattr(CompilerEngine, "tier_min_size", 0)
    rt = wz.Runtime(wz.RuntimeConfig(engine="compiler", max_call_depth=500))
    m = rt.instantiate(ring(60))
    assert m.function("f0")(498) == 498
    with pytest.raises(wz.Trap) as e:
        m.function("f0")(500)
    assert e.value.reason == "call stack exhausted"


COUNT = """(module
  (func (export "count") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (i32.mul (local.get $i) (i32.const 3))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc))
)"""


def test_loop_threshold_grows_with_the_function(tiered, monkeypatch):
    """With ``tier_loop_scale`` a function's loops stay interpreted for as many
    iterations as the scale times its instruction count (at least ``tier_loop``)."""
    monkeypatch.setattr(CompilerEngine, "tier_calls", 100)
    monkeypatch.setattr(CompilerEngine, "tier_loop_scale", 2.0)
    cm = tiered.compile(COUNT)
    size = len(cm._engine_code().module.funcs[0].body)
    assert size > 3   # (so the scaled threshold is the one that counts)
    count = tiered.instantiate(cm).function("count")
    below = 2 * size - 1
    assert count(below) == sum(3 * i for i in range(below)) & 0xFFFFFFFF
    assert osr_made(cm) == 0
    # the counter runs over calls: one more iteration reaches the threshold
    assert count(2) == 3
    assert osr_made(cm) == 1


def test_call_threshold_grows_with_the_function(tiered, monkeypatch):
    """With ``tier_calls_scale`` a function stays interpreted for as many calls as
    the scale times its instruction count (at least ``tier_calls``), whether it is
    called from Python, from compiled code or from interpreted code."""
    monkeypatch.setattr(CompilerEngine, "tier_calls_scale", 0.3)
    monkeypatch.setattr(CompilerEngine, "tier_loop", 10 ** 6)
    monkeypatch.setattr(CompilerEngine, "inline", False)   # (compiled $top would inline both)
    cm = tiered.compile(CALLERS)
    cw = cm._engine_code()
    m = tiered.instantiate(cm)
    top = m.function("top")
    limits = [max(2, int(len(f.body) * 0.3)) for f in cw.module.funcs[:3]]
    assert limits[1] == limits[2] == 2 < limits[0]   # ($mid, $top: tier_calls; $sum: scaled)
    for k in range(limits[0]):
        assert top(2 * k) == 11
        # $top and $mid compiled on their 3rd call; $sum (then called from
        # compiled $mid) after its scaled count
        assert [c is not None for c in cw.codes[:3]] == [False, k >= 2, k >= 2]
    assert top(4) == 11
    assert cw.codes[0] is not None


def test_call_threshold_stops_at_tier_calls_max(tiered, monkeypatch):
    """The scaled threshold is capped: a huge function called often (an
    interpreter's dispatch loop) is compiled after ``tier_calls_max`` calls."""
    monkeypatch.setattr(CompilerEngine, "tier_calls_scale", 0.3)
    monkeypatch.setattr(CompilerEngine, "tier_loop", 10 ** 6)
    monkeypatch.setattr(CompilerEngine, "inline", False)
    cm = tiered.compile(CALLERS)
    cw = cm._engine_code()
    scaled = int(len(cw.module.funcs[0].body) * 0.3)
    assert scaled > 4
    monkeypatch.setattr(CompilerEngine, "tier_calls_max", scaled - 2)
    top = tiered.instantiate(cm).function("top")
    for k in range(scaled - 2):
        assert top(2 * k) == 11
        assert cw.codes[0] is None
    assert top(4) == 11 and cw.codes[0] is not None


# -- calls between interpreted functions: frames of the interpreter's own loop ------------
def test_cold_recursion_stays_interpreted(tiered, monkeypatch):
    """Calls between functions on the tier are frames of one interpreter loop: deep
    recursion through cold functions needs no compilation (no Python recursion)."""
    monkeypatch.setattr(CompilerEngine, "tier_calls", 1000)
    cm = tiered.compile(ring(60))
    m = tiered.instantiate(cm)
    assert m.function("f0")(3000) == 3000   # each function called 50 times
    assert cm._engine_code().translated() == []


def test_cold_call_depth_is_exact(monkeypatch):
    monkeypatch.setattr(CompilerEngine, "tier_min_size", 0)
    monkeypatch.setattr(CompilerEngine, "tier_calls", 10 ** 6)
    rt = wz.Runtime(wz.RuntimeConfig(engine="compiler", max_call_depth=300))
    cm = rt.compile(ring(60))
    f0 = rt.instantiate(cm).function("f0")
    assert f0(298) == 298
    with pytest.raises(wz.Trap) as e:
        f0(300)
    assert e.value.reason == "call stack exhausted"
    assert cm._engine_code().translated() == []


CALLERS = """(module
  (memory 1)
  (tag $boom (param i32))
  (func $sum (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (i32.load (i32.mul (local.get $s) (i32.eqz (i32.eqz (i32.and (local.get $n) (i32.const 1)))))))
  (func $mid (param $n i32) (result i32)
    (i32.add (i32.const 1) (call $sum (local.get $n))))
  (func (export "top") (param $n i32) (result i32)
    (i32.add (i32.const 10) (call $mid (local.get $n))))
  (func $thrower (param $n i32) (result i32)
    (if (local.get $n) (then (throw $boom (local.get $n))))
    (i32.const 7))
  (func (export "catcher") (param $n i32) (result i32)
    (block $h (result i32)
      (try_table (catch $boom $h)
        (return (i32.add (i32.const 100) (call $thrower (local.get $n)))))
      (unreachable))))"""


def test_loop_replaced_in_a_called_frame(tiered, monkeypatch):
    """A hot loop of a frame called by an interpreted one moves to compiled code;
    its results return to the caller's frame; a trap there shows every frame."""
    monkeypatch.setattr(CompilerEngine, "tier_calls", 1000)
    monkeypatch.setattr(CompilerEngine, "inline", False)
    cm = tiered.compile(CALLERS)
    top = tiered.instantiate(cm).function("top")
    assert top(50) == 11   # (an even n loads address 0)
    assert osr_made(cm) == 1
    assert top(10) == 11
    # the trap in the replaced loop's code itself (a fresh module), then in the
    # compiled function a later call runs
    cm2 = tiered.compile(CALLERS)
    fresh = tiered.instantiate(cm2).function("top")
    plain = untiered_runtime(monkeypatch).instantiate(CALLERS).function("top")
    with pytest.raises(wz.Trap) as want:
        plain(1001)
    for f, made in ((fresh, cm2), (top, cm)):
        with pytest.raises(wz.Trap) as got:
            f(1001)
        assert osr_made(made) == 1
        assert got.value.reason == want.value.reason == "out of bounds memory access"
        _assert_same_frames(got.value, want.value)


def test_trap_frames_of_interpreted_callees(tiered, monkeypatch):
    monkeypatch.setattr(CompilerEngine, "tier_calls", 1000)
    monkeypatch.setattr(CompilerEngine, "tier_loop", 10 ** 6)
    monkeypatch.setattr(CompilerEngine, "inline", False)
    cm = tiered.compile(CALLERS)
    top = tiered.instantiate(cm).function("top")
    plain = untiered_runtime(monkeypatch).instantiate(CALLERS).function("top")
    with pytest.raises(wz.Trap) as got:
        top(1001)
    with pytest.raises(wz.Trap) as want:
        plain(1001)
    assert cm._engine_code().translated() == []
    _assert_same_frames(got.value, want.value)


def _assert_same_frames(got, want):
    """A trap through tiered code has the untiered engine's stack: three frames."""
    assert got.wasm_stack == want.wasm_stack
    assert [(f.func_index, f.source) for f in got.frames] == \
        [(f.func_index, f.source) for f in want.frames]
    assert len(got.frames) == 3


def test_exception_crosses_interpreted_frames(tiered, monkeypatch):
    monkeypatch.setattr(CompilerEngine, "tier_calls", 1000)
    m = tiered.instantiate(CALLERS)
    catcher = m.function("catcher")
    assert catcher(0) == 107
    assert catcher(5) == 5
    assert catcher(0) == 107


def test_tier_translation_pauses_the_collector(tiered, monkeypatch):
    """The body's decoding runs with the cyclic collector paused, as its
    translation does (its collections cost QuickJS's first output a full
    collection); a function with tail calls, which skips the tier from inside the
    pause, leaves the collector on; one the program turned off stays off."""
    import gc

    import pywazero.engine.compiler as ce

    seen = []
    tail_funcs = ce.CompiledWasm.tail_funcs

    def watched(self, index):
        seen.append(gc.isenabled())
        return tail_funcs(self, index)

    monkeypatch.setattr(ce.CompiledWasm, "tail_funcs", watched)
    src = """(module
      (func $g (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (func (export "t") (param i32) (result i32) (return_call $g (local.get 0)))
      (func (export "f") (param i32) (result i32) (call $g (local.get 0))))"""
    was = gc.isenabled()
    try:
        gc.enable()
        m = tiered.instantiate(src)
        assert m.function("f")(1) == 2 and m.function("t")(5) == 6
        assert gc.isenabled()
        assert seen and not any(seen)
        gc.disable()
        m = tiered.instantiate(src)
        assert m.function("f")(1) == 2 and m.function("t")(5) == 6
        assert not gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
