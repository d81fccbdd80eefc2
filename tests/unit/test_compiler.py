"""The compiler engine: code generation specifics (control flow, br_table, memory
bounds, traps with stack traces, deep recursion, lazy compilation, dump)."""
from __future__ import annotations

import ast
import sys
import threading

import pytest

import pywazero as wz
from pywazero.engine import compiler as C
from pywazero.engine.compiler import codegen


def make_rt(**kw):
    return wz.Runtime(wz.RuntimeConfig(engine="compiler", **kw))


@pytest.fixture
def rt():
    with make_rt() as runtime:
        yield runtime


def both(src, name, *args):
    """Run export ``name`` on both engines; return the compiler's result (results and
    trap reasons must agree)."""
    out = []
    for engine in ("interpreter", "compiler"):
        with wz.Runtime(wz.RuntimeConfig(engine=engine)) as r:
            m = r.instantiate(src)
            try:
                out.append(("ok", m.function(name)(*args)))
            except wz.Trap as e:
                out.append(("trap", e.reason))
    assert out[0] == out[1], out
    return out[1]


def test_engine_selected(rt):
    assert rt.engine == "compiler"
    assert isinstance(rt._engine, C.CompilerEngine)


@pytest.mark.parametrize("src, args, want", [
    ("(func (export \"f\") (param i32) (result i32) (i32.div_s (i32.const 7) (local.get 0)))", (2,), 3),
    ("(func (export \"f\") (param i32) (result i32)"
     " (block (block (block (br_table 0 1 2 (local.get 0))) (return (i32.const 10)))"
     " (return (i32.const 11))) (i32.const 12))", (1,), 11),
    ("(func (export \"f\") (param i32) (result i32)"
     " (block (block (block (br_table 0 1 2 (local.get 0))) (return (i32.const 10)))"
     " (return (i32.const 11))) (i32.const 12))", (-1,), 12),
    ("(func (export \"f\") (param i32) (result i32) (local i32)"
     " (loop $l (local.set 1 (i32.add (local.get 1) (local.get 0)))"
     " (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1))))) (local.get 1))", (10,), 55),
    ("(func (export \"f\") (param i32) (result i32)"
     " (i32.const 1) (i32.const 2) (block (param i32 i32) (result i32) i32.add) (local.get 0) i32.mul)", (5,), 15),
    ("(func (export \"f\") (param i32) (result i32)"
     " (block (result i32) (i32.const 99) (i32.const 1) (local.get 0) (br_if 0) drop))", (1,), 1),
    # a loop with parameters, branched to with new values
    ("(func (export \"f\") (param i32) (result i32)"
     " (i32.const 0) (local.get 0)"
     " (loop (param i32 i32) (result i32)"
     "  (if (param i32 i32) (result i32) (i32.eqz (local.tee 0 (i32.sub (local.get 0) (i32.const 1))))"
     "   (then drop)"
     "   (else (i32.add) (local.get 0) (br 1)))))", (5,), 14),
    # a local read, then overwritten, then the old value used
    ("(func (export \"f\") (param i32) (result i32)"
     " (local.get 0) (local.set 0 (i32.const 100)) (local.get 0) (i32.sub))", (7,), (7 - 100) & 0xFFFFFFFF),
    # multi-level branch out of nested loops
    ("(func (export \"f\") (param i32) (result i32) (local i32)"
     " (block $out (result i32)"
     "  (loop $a (loop $b"
     "   (local.set 1 (i32.add (local.get 1) (i32.const 1)))"
     "   (br_if $out (local.get 1) (i32.ge_u (local.get 1) (local.get 0)))"
     "   (br_if $b (i32.and (local.get 1) (i32.const 1)))"
     "   (br $a)))"
     "  (i32.const -1)))", (9,), 9),
    # multiple results through blocks and calls
    ("(func $swap (param i32 i32) (result i32 i32) (local.get 1) (local.get 0))"
     "(func (export \"f\") (param i32) (result i32)"
     " (block (result i32 i32) (call $swap (local.get 0) (i32.const 3))) (i32.sub))", (10,), (3 - 10) & 0xFFFFFFFF),
    # select and comparisons as conditions
    ("(func (export \"f\") (param i32) (result i32)"
     " (select (i32.const 1) (i32.const 2) (i32.lt_s (local.get 0) (i32.const 0))))", (-5,), 1),
    ("(func (export \"f\") (param i32) (result i32)"
     " (if (result i32) (i32.eqz (i32.gt_s (local.get 0) (i32.const -3))) (then (i32.const 7)) (else (i32.const 8))))",
     (-4,), 7),
])
def test_control_flow(src, args, want):
    got = both("(module " + src + ")", "f", *args)
    assert got == ("ok", want if not isinstance(want, int) or want < 2**31 else want - 2**32) or \
        got == ("ok", want)


def _switch_module(n):
    """``f(i)`` = 100 + i for i < n, else 0, through one br_table over n+1 labels."""
    labels = " ".join(str(k) for k in range(n + 1))
    inner = "(br_table %s (local.get 0))" % labels
    body = "(block " + inner + ")"
    for k in range(n):
        body = "(block %s (return (i32.const %d)))" % (body, 100 + k)
    return "(module (func (export \"f\") (param i32) (result i32) %s (i32.const 0)))" % body


def test_br_table_many_targets(rt):
    m = rt.instantiate(_switch_module(12))
    f = m.function("f")
    for i in list(range(14)) + [1000, -1]:
        want = 100 + i if 0 <= i < 12 else 0
        assert f(i) == want


def test_br_table_is_a_binary_search():
    src = ("(module (func (export \"f\") (param i32) (result i32)"
           " (block (block (block (block"
           + " (br_table " + " ".join(str(k % 4) for k in range(64)) + " 3 (local.get 0))"
           + ") (return (i32.const 0))) (return (i32.const 1))) (return (i32.const 2))) (i32.const 3)))")
    with make_rt() as r:
        cm = r.compile(src)
        text = C.dump(cm, 0)
        # 64 alternating entries: nested comparisons, not 64 sequential tests
        depth = max(len(line) - len(line.lstrip(" ")) for line in text.splitlines())
        assert depth < 20
        f = r.instantiate(cm).function("f")
        assert [f(i) for i in range(70)] == [i % 4 for i in range(64)] + [3] * 6


def _nested_loops_module(n):
    """n nested loops, each branched to: deeper than Python's 20 nested loops."""
    body = "(local.set 1 (i32.add (local.get 1) (i32.const 1)))"
    for k in range(n):
        body = "(loop $l%d %s (br_if $l%d (i32.lt_u (local.get 1) (i32.const %d))))" % (k, body, k, 3 * (k + 1))
    return ("(module (func (export \"f\") (param i32) (result i32) (local i32) %s (local.get 1)))" % body)


def test_switch_with_many_cases_is_flattened(rt):
    cm = rt.compile(_switch_module(60))
    f = rt.instantiate(cm).function("f")
    assert [f(i) for i in (0, 5, 59, 60, 77)] == [100, 105, 159, 0, 0]
    assert cm._engine_code().fallback_reasons == {}


def test_too_deep_nesting_falls_back_to_interpreter(rt):
    src = _nested_loops_module(30)
    got = both(src, "f", 0)
    cm = rt.compile(src)
    assert rt.instantiate(cm).function("f")(0) == got[1]
    assert list(cm._engine_code().fallback_reasons) == [0]


@pytest.mark.parametrize("body, reason", [
    ("(unreachable)", "unreachable"),
    ("(drop (i32.div_u (i32.const 1) (i32.const 0)))", "integer divide by zero"),
    ("(drop (i32.div_s (i32.const 0x80000000) (i32.const -1)))", "integer overflow"),
    ("(drop (i32.trunc_f32_s (f32.const nan)))", "invalid conversion to integer"),
    ("(drop (i32.load (i32.const 65535)))", "out of bounds memory access"),
    ("(drop (i64.load offset=0xFFFFFFFF (i32.const 0xFFFFFFFF)))", "out of bounds memory access"),
    ("(drop (i32.load8_u (i32.const 65536)))", "out of bounds memory access"),
    ("(i32.store8 (i32.const 65536) (i32.const 1))", "out of bounds memory access"),
    ("(memory.fill (i32.const 65000) (i32.const 1) (i32.const 1000))", "out of bounds memory access"),
    ("(call_indirect (type $t) (i32.const 5))", "undefined element"),
    ("(call_indirect (type $t) (i32.const 1))", "uninitialized element"),
    ("(call_indirect (type $t2) (i32.const 1) (i32.const 0))", "indirect call type mismatch"),
    ("(drop (table.get (i32.const 9)))", "out of bounds table access"),
])
def test_traps(rt, body, reason):
    src = ("(module (type $t (func)) (type $t2 (func (param i32))) (memory 1) (table 2 funcref)"
           " (elem (i32.const 0) $nop) (func $nop)"
           f" (func (export \"f\") {body}))")
    assert both(src, "f") == ("trap", reason)


def test_no_partial_store_at_the_end_of_memory(rt):
    m = rt.instantiate("(module (memory (export \"m\") 1)"
                       " (func (export \"f\") (i64.store (i32.const 65532) (i64.const -1))))")
    with pytest.raises(wz.Trap, match="out of bounds memory access"):
        m.function("f")()
    assert m.memory("m").read(65528, 8) == bytes(8)


def test_memory_grow_seen_by_generated_code(rt):
    m = rt.instantiate("(module (memory 1)"
                       " (func (export \"f\") (result i32)"
                       "  (drop (memory.grow (i32.const 1)))"
                       "  (i32.store (i32.const 70000) (i32.const 42))"
                       "  (i32.add (memory.size) (i32.load (i32.const 70000)))))")
    assert m.function("f")() == 44


def test_trap_stack_trace_names(rt):
    m = rt.instantiate("(module (func $inner (unreachable))"
                       " (func $middle (call $inner))"
                       " (func (export \"outer\") (call $middle)))")
    with pytest.raises(wz.Trap) as ei:
        m.function("outer")()
    assert ei.value.reason == "unreachable"
    assert [n.split(".")[-1] for n in ei.value.wasm_stack] == ["inner", "middle", "outer"]


def test_trap_stack_through_host_function(rt):
    calls = []
    box = {}

    def host():
        calls.append(1)
        box["m"].function("boom")()

    rt.host_module("env").function("cb", host).instantiate()
    m = rt.instantiate("(module (import \"env\" \"cb\" (func $cb))"
                       " (func $b (export \"boom\") (unreachable))"
                       " (func $a (export \"run\") (call $cb)))")
    box["m"] = m
    with pytest.raises(wz.Trap) as ei:
        m.function("run")()
    assert [n.split(".")[-1] for n in ei.value.wasm_stack] == ["b", "a"]


def test_host_exception_propagates_unchanged(rt):
    class Boom(Exception):
        pass

    def host():
        raise IndexError("host's own")

    rt.host_module("env").function("cb", host).instantiate()
    m = rt.instantiate("(module (import \"env\" \"cb\" (func $cb)) (func (export \"run\") (call $cb)))")
    with pytest.raises(IndexError, match="host's own"):
        m.function("run")()


REC = ("(module (func $rec (export \"rec\") (param i32) (result i32)"
       " (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))"
       "  (else (i32.add (i32.const 1) (call $rec (i32.sub (local.get 0) (i32.const 1)))))))"
       " (func $inf (export \"inf\") (param i32) (result i32) (call $inf (local.get 0))))")


def test_deep_recursion_runs_then_traps():
    with make_rt(max_call_depth=30000) as r:
        m = r.instantiate(REC)
        assert m.function("rec")(29999) == 29999
        with pytest.raises(wz.Trap, match="call stack exhausted"):
            m.function("rec")(30000)
        with pytest.raises(wz.Trap, match="call stack exhausted") as ei:
            m.function("inf")(0)
        assert len(ei.value.wasm_stack) >= 30000


def test_recursion_limit_is_exact_with_default_depth(rt):
    m = rt.instantiate(REC)
    assert m.function("rec")(9999) == 9999
    with pytest.raises(wz.Trap, match="call stack exhausted"):
        m.function("rec")(10000)


def test_big_stack_worker_path():
    # the path CPython < 3.11 takes for deep recursion, forced on here
    with make_rt(max_call_depth=20000) as r:
        r._engine._big_stack = True
        m = r.instantiate(REC)
        assert m.function("rec")(19999) == 19999
        with pytest.raises(wz.Trap, match="call stack exhausted"):
            m.function("inf")(1)
        assert m.function("rec")(3) == 3


def test_recursion_in_threads():
    with make_rt(max_call_depth=5000) as r:
        errors = []

        def work():
            try:
                m = r.instantiate(REC)
                assert m.function("rec")(4000) == 4000
                with pytest.raises(wz.Trap, match="call stack exhausted"):
                    m.function("inf")(1)
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        ts = [threading.Thread(target=work) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not errors


def test_nan_bits_survive(rt):
    m = rt.instantiate("(module (memory 1)"
                       " (func (export \"f32\") (param i32) (result i32)"
                       "  (f32.store (i32.const 0) (f32.reinterpret_i32 (local.get 0)))"
                       "  (i32.reinterpret_f32 (f32.load (i32.const 0))))"
                       " (func (export \"f64\") (param i64) (result i64)"
                       "  (f64.store (i32.const 8) (f64.reinterpret_i64 (local.get 0)))"
                       "  (i64.reinterpret_f64 (f64.load (i32.const 8))))"
                       " (func (export \"c\") (result i32) (i32.reinterpret_f32 (f32.const -nan:0x1234))))")
    for bits in (0x7F800001, 0xFFA00005, 0x7FC00000):
        assert m.function("f32").call_raw(bits) == bits
    for bits in (0x7FF0000000000001, 0xFFF8000000000123):
        assert m.function("f64").call_raw(bits) == bits
    assert m.function("c").call_raw() == 0xFF801234


def test_f32_arithmetic_rounds(rt):
    m = rt.instantiate("(module (func (export \"f\") (param f32 f32) (result f32) (f32.add (local.get 0) (local.get 1))))")
    assert m.function("f")(16777216.0, 1.0) == 16777216.0


def test_compile_once_instantiate_many(rt):
    cm = rt.compile("(module (global $g (mut i32) (i32.const 0))"
                    " (func (export \"inc\") (result i32)"
                    "  (global.set $g (i32.add (global.get $g) (i32.const 1))) (global.get $g)))")
    a = rt.instantiate(cm)
    b = rt.instantiate(cm)
    assert a.function("inc")() == 1
    assert a.function("inc")() == 2
    assert b.function("inc")() == 1
    cw = cm._engine_code()
    assert cw.codes[0] is not None  # compiled once, shared
    fa = a.instance.funcs[0].code
    fb = b.instance.funcs[0].code
    assert fa.__code__ is fb.__code__ and fa is not fb


def test_lazy_compilation(rt):
    cm = rt.compile("(module (func $a (export \"a\") (result i32) (i32.const 1))"
                    " (func $b (export \"b\") (result i32) (i32.const 2)))")
    m = rt.instantiate(cm)
    cw = cm._engine_code()
    assert cw.codes == [None, None]
    assert m.function("b")() == 2
    assert cw.codes[0] is None and cw.codes[1] is not None


def test_dump_is_valid_python(rt):
    cm = rt.compile(REC)
    for i in range(2):
        text = C.dump(cm, i)
        assert "def f%d(" % i in text
        ast.parse(text)
    assert "_d + 1" in C.dump(cm, 0)
    annotated = C.dump(cm, 0, annotate=True)
    ast.parse(annotated)
    assert "# i32.eqz" in annotated and "# call 0" in annotated
    with pytest.raises(ValueError):
        C.dump(cm, 5)


def test_back_edge_hook_single_place():
    src = ("(module (func (export \"f\") (param i32) (result i32) (local i32)"
           " (loop $l (local.set 1 (i32.add (local.get 1) (i32.const 1)))"
           "  (br_if $l (i32.lt_u (local.get 1) (local.get 0)))) (local.get 1)))")
    with make_rt() as r:
        r._engine.back_edge_hook = "_TICKS[0] += 1"
        cm = r.compile(src)
        assert "_TICKS[0] += 1" in C.dump(cm, 0)
        m = r.instantiate(cm)
        ticks = [0]
        m.instance.engine_data["_TICKS"] = ticks
        assert m.function("f")(10) == 10
        assert ticks[0] == 10


def test_generated_code_is_small_and_has_no_stack_list():
    src = ("(module (memory 1) (func (export \"f\") (param i32 i32) (result i32)"
           " (i32.store (local.get 0) (i32.add (i32.load (local.get 0)) (local.get 1)))"
           " (i32.load (local.get 0))))")
    with make_rt() as r:
        text = C.dump(r.compile(src), 0)
    assert "append" not in text and "pop(" not in text
    assert len(text.splitlines()) < 12


def test_cross_module_calls_and_tables(rt):
    a = rt.instantiate("(module (memory (export \"mem\") 1) (table (export \"t\") 2 funcref)"
                       " (func $get (export \"get\") (result i32) (i32.load (i32.const 0)))"
                       " (elem (i32.const 0) $get))", wz.ModuleConfig(name="a"))
    b = rt.instantiate("(module (import \"a\" \"get\" (func $get (result i32)))"
                       " (import \"a\" \"mem\" (memory 1)) (import \"a\" \"t\" (table 2 funcref))"
                       " (type $r (func (result i32)))"
                       " (func (export \"f\") (result i32)"
                       "  (i32.store (i32.const 0) (i32.const 5))"
                       "  (i32.add (call $get) (call_indirect (type $r) (i32.const 0)))))")
    assert b.function("f")() == 10
    assert a.function("get")() == 5


@pytest.mark.parametrize("tier", [False, True])
def test_large_module_compiles_lazily(monkeypatch, tier):
    from pywazero.engine.compiler import CompilerEngine

    if not tier:
        monkeypatch.setattr(CompilerEngine, "tier_min_size", None)
    funcs = "".join("(func (export \"f%d\") (param i32) (result i32)"
                    " (i32.add (local.get 0) (i32.const %d)))" % (k, k) for k in range(3000))
    with make_rt() as r:
        cm = r.compile("(module %s)" % funcs)
        m = r.instantiate(cm)
        assert m.function("f2999")(1) == 3000
        cw = cm._engine_code()
        # without the tier the called function is compiled; with it (a large
        # module) it runs on the interpreter until called tier_calls times
        assert sum(1 for c in cw.codes if c is not None) == (0 if tier else 1)
        assert len(cw.interp_codes) == (1 if tier else 0)
        for _ in range(CompilerEngine.tier_calls):
            assert m.function("f2999")(2) == 3001
        assert sum(1 for c in cw.codes if c is not None) == 1


def test_too_complex_raises_for_deep_nesting():
    from pywazero.text.parser import parse_module_text
    from pywazero.wasm.validation import validate_module

    mod = parse_module_text(_nested_loops_module(30))
    validate_module(mod)
    with pytest.raises(codegen.TooComplex):
        codegen.generate(mod, 0, mod.func_types(), 100)


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="CPython frame names")
def test_generated_code_objects_named_after_functions(rt):
    cm = rt.compile(REC)
    m = rt.instantiate(cm)
    m.function("rec")(1)
    f = m.instance.funcs[0].code
    assert f.__code__.co_filename == "<wasm:0>"


def test_reentry_counts_towards_call_depth():
    with make_rt(max_call_depth=300) as r:
        box = {}

        def host(n):
            return box["f"](n)

        r.host_module("env").function("cb", host, params=[wz.I32], results=[wz.I32]).instantiate()
        m = r.instantiate("(module (import \"env\" \"cb\" (func $cb (param i32) (result i32)))"
                          " (func (export \"f\") (param i32) (result i32)"
                          "  (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))"
                          "   (else (i32.add (i32.const 1) (call $cb (i32.sub (local.get 0) (i32.const 1))))))))")
        box["f"] = m.function("f")
        assert m.function("f")(100) == 100
        with pytest.raises(wz.Trap, match="call stack exhausted"):
            m.function("f")(1000)


def test_simd_is_compiled(rt):
    cm = rt.compile("(module (memory 1)"
                    " (func (export \"f\") (param i32) (result i32)"
                    "  (v128.store (i32.const 16) (i32x4.add (i32x4.splat (local.get 0)) (v128.const i32x4 1 2 3 4)))"
                    "  (i32x4.extract_lane 3 (v128.load (i32.const 16)))))")
    text = C.dump(cm, 0)
    assert "_v128_store" in text
    m = rt.instantiate(cm)
    assert m.function("f")(10) == 14
    assert cm._engine_code().fallback_reasons == {}


def test_exhausted_stack_trace_matches_interpreter():
    src = "(module (func $rec (export \"rec\") (param i32) (result i32) (call $rec (local.get 0))))"
    lengths = []
    for engine in ("interpreter", "compiler"):
        with wz.Runtime(wz.RuntimeConfig(engine=engine, max_call_depth=300)) as r:
            with pytest.raises(wz.Trap, match="call stack exhausted") as ei:
                r.instantiate(src).function("rec")(1)
            lengths.append(len(ei.value.wasm_stack))
    assert lengths == [300, 300]


def test_concurrent_instances_in_threads(rt):
    cm = rt.compile("(module (memory 1)"
                    " (func (export \"sum\") (param i32) (result i32) (local i32)"
                    "  (block (loop (br_if 1 (i32.eqz (local.get 0)))"
                    "   (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (local.get 0)))"
                    "   (local.set 0 (i32.sub (local.get 0) (i32.const 1))) (br 0)))"
                    "  (i32.load (i32.const 0))))")
    results = []
    errors = []

    def work(n):
        try:
            m = rt.instantiate(cm)
            results.append((n, m.function("sum")(n)))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=work, args=(n,)) for n in range(50, 58)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    assert sorted(results) == [(n, n * (n + 1) // 2) for n in range(50, 58)]


def test_instances_keep_working_after_close(rt):
    cm = rt.compile("(module (func (export \"a\") (result i32) (i32.const 1))"
                    " (func (export \"b\") (result i32) (i32.const 2)))")
    m = rt.instantiate(cm)
    assert m.function("a")() == 1
    cm.close()
    assert m.function("b")() == 2
    assert m.function("a")() == 1


def test_instances_get_separate_namespaces_pypy_module_dicts():
    """Each instance has its own globals for generated code (instances of one module
    do not see each other's memories); on PyPy they are module dicts, whose global
    reads the JIT folds (in a plain dict each is a run-time hash lookup)."""
    src = """(module (memory 1) (func (export "put") (param i32) (i32.store (i32.const 0) (local.get 0)))
                     (func (export "get") (result i32) (i32.load (i32.const 0))))"""
    with make_rt() as r:
        c = r.compile(src)
        a, b = r.instantiate(c), r.instantiate(c)
        a.function("put")(7)
        b.function("put")(9)
        assert (a.function("get")(), b.function("get")()) == (7, 9)
        ga, gb = a.instance.engine_data, b.instance.engine_data
        assert ga is not gb and ga["M0"] is not gb["M0"]
        assert ga["f0"].__globals__ is ga
        if sys.implementation.name == "pypy":
            import __pypy__
            assert __pypy__.strategy(ga) == "ModuleDictStrategy"
            assert __pypy__.strategy(C.rt.new_namespace({"x": 1})) == "ModuleDictStrategy"
        ns = C.rt.new_namespace([("x", 1)])
        assert dict(ns) == {"x": 1} and C.rt.new_namespace(ns) is not ns


@pytest.mark.parametrize("params", ["", "no_such_parameter=1"])
def test_pypy_jit_tuning_once_per_process_and_only_on_pypy(params):
    """The compiler sets PyPy's JIT parameters once per process, on PyPy only; the
    environment's PYWAZERO_PYPY_JIT_PARAMS replaces them ("" or a bad setting: no
    tuning, and no error)."""
    import os
    import subprocess
    code = ("import pywazero as wz, pywazero.engine.compiler as C\n"
            "for _ in range(2):\n"
            "    wz.Runtime(wz.RuntimeConfig(engine='compiler')).instantiate("
            "'(module (func (export \"f\") (result i32) (i32.const 7)))').function('f')()\n"
            "print(len(C._jit_tuned))\n")
    env = dict(os.environ, PYWAZERO_PYPY_JIT_PARAMS=params)
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == ("1" if sys.implementation.name == "pypy" else "0")


def test_pypy_jit_parameters_are_set_one_by_one(monkeypatch):
    """Each parameter of PYPY_JIT_PARAMS (or the environment's) is set on its own: one
    a PyPy refuses does not keep the others from being set."""
    import types
    seen = []

    def set_param(p):
        seen.append(p)
        if p.startswith("enable_opts"):
            raise ValueError("error in JIT parameters string")

    monkeypatch.setitem(sys.modules, "pypyjit", types.SimpleNamespace(set_param=set_param))
    monkeypatch.setattr(C, "_jit_tuned", [])
    monkeypatch.delenv("PYWAZERO_PYPY_JIT_PARAMS", raising=False)
    C._tune_pypy_jit()
    assert seen == C.PYPY_JIT_PARAMS.split(",") and len(seen) == 2
    assert seen[0] == "max_unroll_recursion=0" and "unroll" not in seen[1].split("=")[1].split(":")
    C._tune_pypy_jit()   # (once per process)
    assert len(seen) == 2
    monkeypatch.setattr(C, "_jit_tuned", [])
    monkeypatch.setenv("PYWAZERO_PYPY_JIT_PARAMS", "threshold=500, trace_limit=7000,")
    C._tune_pypy_jit()
    assert seen[2:] == ["threshold=500", "trace_limit=7000"]
    monkeypatch.setattr(C, "_jit_tuned", [])
    monkeypatch.setenv("PYWAZERO_PYPY_JIT_PARAMS", "")
    C._tune_pypy_jit()
    assert len(seen) == 4


def test_too_complex_with_nesting_is_generated_again_without(monkeypatch):
    # a function too deep with inlined switch cases / blocks lowered to ifs is
    # generated a second time with that nesting off (the flag the translation reads)
    from pywazero.text.parser import parse_module_text
    from pywazero.wasm.validation import validate_module

    mod = parse_module_text('(module (func (param i32) (result i32) local.get 0))')
    validate_module(mod)
    seen = []
    real = codegen.FunctionGenerator.generate

    def generate(self):
        seen.append(self.nesting)
        if self.nesting:
            self.used_nesting = True
            raise codegen.TooComplex("too deep with nesting")
        return real(self)

    monkeypatch.setattr(codegen.FunctionGenerator, "generate", generate)
    source = codegen.generate(mod, 0, mod.func_types(), 100)[0]
    assert seen == [True, False]
    assert "def " in source
