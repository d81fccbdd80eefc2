"""The interpreter engine: control flow, traps with stack traces, deep recursion,
NaN bits and concurrent use."""
from __future__ import annotations

import threading

import pytest

import pywazero as wz


def make_rt(**kw):
    return wz.Runtime(wz.RuntimeConfig(engine="interpreter", **kw))


@pytest.fixture
def rt():
    with make_rt() as runtime:
        yield runtime


def test_engine_selected(rt):
    assert rt.engine == "interpreter"


@pytest.mark.parametrize("src, args, want", [
    ("(func (export \"f\") (param i32) (result i32) (i32.div_s (i32.const 7) (local.get 0)))", (2,), 3),
    ("(func (export \"f\") (param i32) (result i32)"
     " (block (block (block (br_table 0 1 2 (local.get 0))) (return (i32.const 10)))"
     " (return (i32.const 11))) (i32.const 12))", (1,), 11),
    ("(func (export \"f\") (param i32) (result i32)"
     " (block (block (block (br_table 0 1 2 (local.get 0))) (return (i32.const 10)))"
     " (return (i32.const 11))) (i32.const 12))", (99,), 12),
    ("(func (export \"f\") (param i32) (result i32) (local i32)"
     " (loop $l (local.set 1 (i32.add (local.get 1) (local.get 0)))"
     " (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1))))) (local.get 1))", (10,), 55),
    ("(func (export \"f\") (param i32) (result i32)"
     " (i32.const 1) (i32.const 2) (block (param i32 i32) (result i32) i32.add) (local.get 0) i32.mul)", (5,), 15),
    ("(func (export \"f\") (param i32) (result i32)"
     " (block (result i32) (i32.const 99) (i32.const 1) (local.get 0) (br_if 0) drop))", (1,), 1),
    ("(func (export \"f\") (param i32) (result i32)"
     " (block (result i32) (i32.const 99) (i32.const 1) (local.get 0) (br_if 0) drop))", (0,), 99),
    ("(func (export \"f\") (param i32) (result i32)"
     " (if (result i32) (local.get 0) (then (i32.const 1)) (else (i32.const 2))))", (0,), 2),
    ("(func (export \"f\") (param i32) (result i32)"
     " (select (i32.const 4) (i32.const 5) (local.get 0)))", (0,), 5),
    ("(func (export \"f\") (param i32) (result i32)"
     " (local.get 0) (loop (param i32) (result i32) (i32.add (i32.const 1)) (local.tee 0)"
     " (br_if 0 (i32.lt_u (local.get 0) (i32.const 10)))))",
     (0,), 10),
])
def test_control_flow(rt, src, args, want):
    m = rt.instantiate(f"(module {src})")
    assert m.function("f")(*args) == want


@pytest.mark.parametrize("body, reason", [
    ("unreachable", "unreachable"),
    ("(drop (i32.div_s (i32.const 1) (i32.const 0)))", "integer divide by zero"),
    ("(drop (i32.div_s (i32.const 0x80000000) (i32.const -1)))", "integer overflow"),
    ("(drop (i32.trunc_f32_s (f32.const nan)))", "invalid conversion to integer"),
    ("(drop (i32.load (i32.const 65535)))", "out of bounds memory access"),
    ("(i64.store (i32.const 65530) (i64.const 1))", "out of bounds memory access"),
    ("(drop (i32.load offset=4294967295 (i32.const 1)))", "out of bounds memory access"),
    ("(drop (i32.load8_u (i32.const 65536)))", "out of bounds memory access"),
    ("(drop (i64.load8_u offset=1 (i32.const 65535)))", "out of bounds memory access"),
    ("(i32.store8 (i32.const 65536) (i32.const 1))", "out of bounds memory access"),
    ("(i64.store8 (i32.const -1) (i64.const 1))", "out of bounds memory access"),
    ("(memory.fill (i32.const 65000) (i32.const 0) (i32.const 1000))", "out of bounds memory access"),
    ("(call_indirect (i32.const 7))", "undefined element"),
    ("(call_indirect (i32.const 1))", "uninitialized element"),
    ("(call_indirect (i32.const 0))", "indirect call type mismatch"),
    ("(drop (table.get (i32.const 10)))", "out of bounds table access"),
])
def test_traps(rt, body, reason):
    m = rt.instantiate(f'''(module (memory 1) (table 2 funcref) (elem (i32.const 0) $g)
      (func $g (param i32))
      (func (export "f") {body}))''')
    with pytest.raises(wz.Trap) as info:
        m.function("f")()
    assert info.value.reason == reason


def test_memory_unchanged_after_oob_store(rt):
    m = rt.instantiate('''(module (memory (export "mem") 1)
      (func (export "f") (i64.store (i32.const 65532) (i64.const -1))))''')
    with pytest.raises(wz.Trap):
        m.function("f")()
    assert m.memory().read(65528, 8) == b"\0" * 8


def test_trap_stack_trace_names(rt):
    m = rt.instantiate('''(module $mod
      (func $inner (unreachable))
      (func $middle (call $inner))
      (func (export "outer") (call $middle)))''')
    with pytest.raises(wz.Trap) as info:
        m.function("outer")()
    stack = info.value.wasm_stack
    assert [s.split(".")[-1] for s in stack] == ["inner", "middle", "outer"]
    assert "wasm stack trace" in str(info.value)
    assert "inner" in str(info.value)


def test_trap_stack_across_modules(rt):
    rt.instantiate('(module (func $boom (export "boom") unreachable))', wz.ModuleConfig(name="lib"))
    m = rt.instantiate('(module (import "lib" "boom" (func $b)) (func $caller (export "run") (call $b)))',
                       wz.ModuleConfig(name="app"))
    with pytest.raises(wz.Trap) as info:
        m.function("run")()
    assert info.value.wasm_stack == ["lib.boom", "app.caller"]


def test_deep_recursion_runs_then_traps():
    rt = make_rt(max_call_depth=5000)
    m = rt.instantiate('''(module (func $r (export "r") (param i32) (result i32)
      (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
        (else (i32.add (i32.const 1) (call $r (i32.sub (local.get 0) (i32.const 1))))))))''')
    # far deeper than CPython's default recursion limit
    assert m.function("r")(4000) == 4000
    with pytest.raises(wz.Trap) as info:
        m.function("r")(6000)
    assert info.value.reason == "call stack exhausted"


def test_infinite_recursion_traps(rt):
    m = rt.instantiate('(module (func $f (export "f") (call $f)))')
    with pytest.raises(wz.Trap, match="call stack exhausted"):
        m.function("f")()
    # and the instance is still usable afterwards
    with pytest.raises(wz.Trap, match="call stack exhausted"):
        m.function("f")()


def test_nan_bits_survive(rt):
    m = rt.instantiate('''(module (memory 1)
      (func (export "neg") (param f32) (result f32) (f32.neg (local.get 0)))
      (func (export "abs") (param f32) (result f32) (f32.abs (local.get 0)))
      (func (export "copysign") (param f32 f32) (result f32) (f32.copysign (local.get 0) (local.get 1)))
      (func (export "roundtrip") (param f32) (result f32)
        (f32.store (i32.const 4) (local.get 0)) (f32.load (i32.const 4)))
      (func (export "reinterpret") (param i32) (result i32) (i32.reinterpret_f32 (f32.reinterpret_i32 (local.get 0))))
      (func (export "dneg") (param f64) (result f64) (f64.neg (local.get 0)))
      (func (export "droundtrip") (param f64) (result f64)
        (f64.store (i32.const 8) (local.get 0)) (f64.load (i32.const 8))))''')
    snan = 0x7FA00001
    assert m.function("neg").call_raw(snan) == snan | 0x80000000
    assert m.function("abs").call_raw(snan | 0x80000000) == snan
    assert m.function("copysign").call_raw(snan, 0x80000000) == snan | 0x80000000
    assert m.function("roundtrip").call_raw(snan) == snan
    assert m.function("reinterpret")(snan) == snan
    dsnan = 0x7FF4000000000001
    assert m.function("dneg").call_raw(dsnan) == dsnan | (1 << 63)
    assert m.function("droundtrip").call_raw(dsnan) == dsnan


def test_f32_arithmetic_rounds(rt):
    m = rt.instantiate('(module (func (export "f") (param f32 f32) (result f32) (f32.add (local.get 0) (local.get 1))))')
    # 1 + 2**-24 is not representable in single precision: rounds to 1
    assert m.function("f")(1.0, 2.0 ** -24) == 1.0
    assert m.function("f").call_raw(0x3F800000, 0x33800001) == 0x3F800001


def test_cross_module_calls_use_callee_state(rt):
    rt.instantiate('''(module (global $g (mut i32) (i32.const 100)) (memory 1)
      (func (export "bump") (result i32)
        (global.set $g (i32.add (global.get $g) (i32.const 1)))
        (i32.store (i32.const 0) (global.get $g))
        (i32.load (i32.const 0))))''', wz.ModuleConfig(name="lib"))
    m = rt.instantiate('''(module (import "lib" "bump" (func $b (result i32)))
      (global $g (mut i32) (i32.const 0)) (memory 1)
      (func (export "run") (result i32)
        (i32.store (i32.const 0) (i32.const 5))
        (drop (call $b))
        (i32.add (call $b) (i32.add (global.get $g) (i32.load (i32.const 0))))))''')
    assert m.function("run")() == 102 + 0 + 5


def test_lazy_translation_and_dump(rt):
    cm = rt.compile('''(module (func (export "f") (param i32) (result i32)
      (i32.add (local.get 0) (i32.const 1))))''')
    m = rt.instantiate(cm)
    assert m.function("f")(1) == 2
    code = cm._engine_code().translate(0)
    text = code.dump()
    assert "LC_ADD 0 1" in text and "RETURN" in text


FIB = '''(module (func $fib (export "fib") (param i64) (result i64)
  (if (result i64) (i64.lt_u (local.get 0) (i64.const 2)) (then (local.get 0))
    (else (i64.add (call $fib (i64.sub (local.get 0) (i64.const 1)))
                   (call $fib (i64.sub (local.get 0) (i64.const 2))))))))'''

COUNTER = '''(module (memory (export "mem") 1) (global $g (mut i32) (i32.const 0))
  (func (export "work") (param i32) (result i32) (local i32)
    (loop $l
      (global.set $g (i32.add (global.get $g) (i32.const 1)))
      (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 2)))
      (br_if $l (i32.lt_u (local.tee 1 (i32.add (local.get 1) (i32.const 1))) (local.get 0))))
    (i32.add (global.get $g) (i32.load (i32.const 0)))))'''


def test_concurrent_instances_in_threads(rt):
    cm = rt.compile(COUNTER)
    fib_cm = rt.compile(FIB)
    results = {}
    errors = []

    def worker(k):
        try:
            m = rt.instantiate(cm)
            fib = rt.instantiate(fib_cm).function("fib")
            total = 0
            for _ in range(5):
                total = m.function("work")(2000)
            results[k] = (total, fib(15))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == {k: (5 * 2000 * 3, 610) for k in range(8)}


def test_concurrent_traps_and_recursion_depth(rt):
    m_src = '(module (func $f (export "f") (param i32) (result i32) (if (result i32) (local.get 0) (then (call $f (i32.sub (local.get 0) (i32.const 1)))) (else (unreachable)))))'
    cm = rt.compile(m_src)
    reasons = []
    lock = threading.Lock()

    def worker(depth):
        m = rt.instantiate(cm)
        try:
            m.function("f")(depth)
        except wz.Trap as e:
            with lock:
                reasons.append((depth, e.reason, len(e.wasm_stack)))

    threads = [threading.Thread(target=worker, args=(d,)) for d in (10, 100, 20000, 500)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = sorted(reasons)
    assert got[0] == (10, "unreachable", 11)
    assert got[1] == (100, "unreachable", 101)
    assert got[2] == (500, "unreachable", 501)
    assert got[3][1] == "call stack exhausted"


def test_huge_table_grow_fails_cleanly(rt):
    m = rt.instantiate('''(module (table $t 0 externref)
      (func (export "grow") (param i32) (result i32) (table.grow $t (ref.null extern) (local.get 0))))''')
    assert m.function("grow")(-1) == -1
    assert m.function("grow")(5) == 0


def test_byte_access_wraps_values(rt):
    m = rt.instantiate('''(module (memory 1)
      (func (export "f") (result i64)
        (i32.store8 (i32.const 0) (i32.const 0x1234))
        (i64.store8 (i32.const 1) (i64.const -1))
        (i64.add (i64.load8_u (i32.const 0)) (i64.load8_u (i32.const 1)))))''')
    assert m.function("f")() == 0x34 + 0xFF


def test_mixed_engines_per_function():
    """A CompiledCode may run some functions on another engine (the compiler's
    fallback path); calls across the two work and count towards the same depth."""
    from pywazero.engine.interpreter import InterpretedModule, InterpreterEngine

    rt = make_rt(max_call_depth=300)
    other = InterpreterEngine(rt.config)
    cm = rt.compile('''(module
      (func $even (export "even") (param i32) (result i32)
        (if (result i32) (local.get 0) (then (call $odd (i32.sub (local.get 0) (i32.const 1)))) (else (i32.const 1))))
      (func $odd (param i32) (result i32)
        (if (result i32) (local.get 0) (then (call $even (i32.sub (local.get 0) (i32.const 1)))) (else (i32.const 0)))))''')
    code = cm._engine_code()
    separate = InterpretedModule(cm.module)
    code.function_engine = lambda i: other if i == 1 else None
    code.function_code = lambda i: separate.function_code(i) if i == 1 else code.codes[i] or code._stubs[i]
    m = rt.instantiate(cm)
    assert m.instance.funcs[1].engine is other
    assert m.function("even")(10) == 1
    assert m.function("even")(7) == 0
    with pytest.raises(wz.Trap, match="call stack exhausted"):
        m.function("even")(1000)


def test_translation_of_an_unvalidated_module_validates_the_body():
    """The translator takes its control-flow facts from ``Function.info``; given a
    module nobody validated, it validates the body itself (and an invalid one is
    rejected)."""
    from pywazero.engine.interpreter import InterpretedModule
    from pywazero.errors import ValidationError
    from pywazero.text.parser import parse_module_text
    from pywazero.wasm.validation import validate_module

    src = """(module (func (param i32) (result i32)
      (block (result i32) (i32.const 3) (local.get 0) (br_if 0) (i32.const 1) i32.add)
      (loop (br_if 0 (i32.eqz (local.get 0)))) (if (local.get 0) (then (return (i32.const 9))))))"""
    raw = parse_module_text(src)
    assert raw.funcs[0].info is None
    code = InterpretedModule(raw).translate(0)
    assert raw.funcs[0].info is not None
    checked = parse_module_text(src)
    validate_module(checked)
    assert code.code == InterpretedModule(checked).translate(0).code

    broken = parse_module_text("(module (func (result i32) (i64.const 1)))")
    with pytest.raises(ValidationError):
        InterpretedModule(broken).translate(0)


def test_tee_then_constant_operator_fused(rt):
    """local.tee followed by a binary operator with a constant on the tee'd value is
    one LTEE_C_BIN (an add stays a C_ADD); the local gets the value before the
    operator, and a trap in the operator is reported at the operator's offset."""
    wat = '''(module
      (func (export "f") (param i32) (result i32 i32) (local i32)
        (i32.and (local.tee 1 (i32.mul (local.get 0) (i32.const 3))) (i32.const 0xff))
        (local.get 1))
      (func (export "g") (param i32) (result i32) (local i32)
        (i32.add (local.tee 1 (local.get 0)) (i32.const 1)))
      (func (export "d") (param i32) (result i32) (local i32)
        (i32.div_s (local.tee 1 (local.get 0)) (i32.const -1))))'''
    binary = wz.wat2wasm(wat)
    cm = rt.compile(binary)
    m = rt.instantiate(cm)
    assert m.function("f")(0x1234) == (0x369C & 0xFF, 0x369C)
    assert m.function("g")(0xFFFFFFFF) == 0
    assert m.function("d")(7) == -7
    text = cm._engine_code().translate(0).dump()
    assert "LTEE_C_BIN" in text and "LTEE " not in text
    assert "LTEE_C_BIN" not in cm._engine_code().translate(1).dump()
    with pytest.raises(wz.Trap) as info:
        m.function("d")(-0x80000000)
    assert info.value.code is wz.TrapCode.INTEGER_OVERFLOW
    # the offset of i32.div_s: the last instruction before the body's `end`
    code_start = binary.index(b"\x6d\x0b")   # i32.div_s, end (only in "d")
    assert [f.offset for f in info.value.frames] == [code_start]


def test_load_from_a_local_fused(rt):
    """local.get then a load of memory 0 is one L_LOAD (L_LOAD8U for load8_u),
    with the load's conversion; out of bounds it traps at the load's offset."""
    wat = '''(module (memory 1)
      (data (i32.const 8) "\\01\\02\\03\\84\\05\\06\\07\\08")
      (func (export "w") (param i32) (result i32) (i32.load offset=2 (local.get 0)))
      (func (export "s") (param i32) (result i64) (i64.load8_s (local.get 0)))
      (func (export "u") (param i32) (result i32) (i32.load8_u offset=1 (local.get 0)))
      (func (export "f") (param i32) (result f64) (f64.load (local.get 0))))'''
    binary = wz.wat2wasm(wat)
    cm = rt.compile(binary)
    m = rt.instantiate(cm)
    assert m.function("w")(8) == 0x06058403
    assert m.function("s")(11) == -124
    assert m.function("u")(10) == 0x84
    assert m.function("f")(100) == 0.0
    dumps = [cm._engine_code().translate(i).dump() for i in range(4)]
    assert "L_LOAD " in dumps[0] and "L_LOAD " in dumps[1] and "L_LOAD8U" in dumps[2]
    assert all("LGET" not in d for d in dumps)
    with pytest.raises(wz.Trap) as info:
        m.function("u")(65535)
    assert info.value.code is wz.TrapCode.OUT_OF_BOUNDS_MEMORY_ACCESS
    assert [f.offset for f in info.value.frames] == [binary.index(b"\x2d\x00\x01\x0b")]
