"""Host modules: functions, globals, tables and memories defined in Python."""
from __future__ import annotations

import pytest

import pywazero as wz


@pytest.fixture
def rt():
    with wz.Runtime(wz.RuntimeConfig(engine="interpreter")) as runtime:
        yield runtime


def test_host_function_values(rt):
    seen = []

    def log(a, b, c, d):
        seen.append((a, b, c, d))

    rt.host_module("env").function("log", log, params=[wz.I32, wz.I64, wz.F32, wz.F64]).instantiate()
    m = rt.instantiate('''(module (import "env" "log" (func $log (param i32 i64 f32 f64)))
      (func (export "run") (call $log (i32.const -1) (i64.const -2) (f32.const 1.5) (f64.const 0.25))))''')
    m.function("run")()
    assert seen == [(-1, -2, 1.5, 0.25)]


def test_host_results(rt):
    (rt.host_module("env")
       .function("one", lambda x: x * 2, params=[wz.I32], results=[wz.I32])
       .function("two", lambda: (-1, 2.5), results=[wz.I64, wz.F64])
       .function("neg", lambda: -5, results=[wz.I32])
       .instantiate())
    m = rt.instantiate('''(module
      (import "env" "one" (func $one (param i32) (result i32)))
      (import "env" "two" (func $two (result i64 f64)))
      (import "env" "neg" (func $neg (result i32)))
      (func (export "a") (result i32) (call $one (i32.const 21)))
      (func (export "b") (result i64 f64) (call $two))
      (func (export "c") (result i32) (call $neg)))''')
    assert m.function("a")() == 42
    assert m.function("b")() == (-1, 2.5)
    assert m.function("c")() == -5


def test_host_function_called_directly(rt):
    h = rt.host_module("env").function("sq", lambda x: x * x, params=[wz.I64], results=[wz.I64]).instantiate()
    assert h.function("sq")(-3) == 9


def test_caller_memory(rt):
    def puts(caller, ptr, n):
        out.append(caller.memory().read(ptr, n).decode())

    out = []
    rt.host_module("env").function("puts", puts, params=[wz.I32, wz.I32]).instantiate()
    m = rt.instantiate('''(module (import "env" "puts" (func $puts (param i32 i32)))
      (memory (export "memory") 1) (data (i32.const 16) "hello")
      (func (export "run") (call $puts (i32.const 16) (i32.const 5))))''')
    m.function("run")()
    assert out == ["hello"]


def test_caller_explicit_flag_and_write_back(rt):
    def fill(caller, *args):
        caller.memory("memory").write(args[0], b"xyz")
        return caller.global_("g").value

    (rt.host_module("env")
       .function("fill", fill, params=[wz.I32], results=[wz.I32], with_caller=True)
       .instantiate())
    m = rt.instantiate('''(module (import "env" "fill" (func $f (param i32) (result i32)))
      (memory (export "memory") 1) (global (export "g") i32 (i32.const 77))
      (func (export "run") (result i32) (call $f (i32.const 0)) drop (i32.load8_u (i32.const 1))))''')
    assert m.function("run")() == ord("y")


def test_host_exception_propagates_unchanged(rt):
    class Boom(Exception):
        pass

    err = Boom("x")

    def boom():
        raise err

    rt.host_module("env").function("boom", boom).instantiate()
    m = rt.instantiate('''(module (import "env" "boom" (func $b))
      (func $inner (call $b)) (func (export "run") (call $inner)))''')
    with pytest.raises(Boom) as info:
        m.function("run")()
    assert info.value is err


def test_host_struct_error_is_not_a_trap(rt):
    import struct

    def bad():
        struct.unpack("<I", b"")

    rt.host_module("env").function("bad", bad).instantiate()
    m = rt.instantiate('(module (import "env" "bad" (func $b)) (func (export "run") (call $b)))')
    with pytest.raises(struct.error):
        m.function("run")()


def test_host_global_table_memory(rt):
    (rt.host_module("env")
       .global_("g", wz.I32, 666)
       .global_("mg", wz.F64, 1.5, mutable=True)
       .table("table", wz.FUNCREF, min=10, max=20)
       .memory("memory", min_pages=1, max_pages=2)
       .instantiate())
    m = rt.instantiate('''(module
      (import "env" "g" (global $g i32))
      (import "env" "mg" (global $mg (mut f64)))
      (import "env" "table" (table 10 20 funcref))
      (import "env" "memory" (memory 1 2))
      (func $seven (result i32) i32.const 7)
      (elem (i32.const 3) $seven)
      (data (i32.const 0) "\\2a")
      (func (export "g") (result i32) global.get $g)
      (func (export "bump") (global.set $mg (f64.add (global.get $mg) (f64.const 1))))
      (func (export "grow") (result i32) (memory.grow (i32.const 1)))
      (func (export "call3") (result i32) (call_indirect (result i32) (i32.const 3))))''')
    env = rt.module("env")
    assert m.function("g")() == 666
    m.function("bump")()
    assert env.global_("mg").value == 2.5
    assert env.memory("memory").read_u8(0) == 42
    assert env.table("table").get(3)() == 7
    assert m.function("call3")() == 7
    assert m.function("grow")() == 1
    assert env.memory("memory").pages == 2
    assert m.function("grow")() == -1


def test_host_function_in_table_via_call_indirect(rt):
    h = (rt.host_module("env")
           .function("h", lambda x: x + 1, params=[wz.I32], results=[wz.I32])
           .table("t", wz.FUNCREF, min=2)
           .instantiate())
    h.table("t").set(0, h.function("h"))
    m = rt.instantiate('''(module (import "env" "t" (table 2 funcref))
      (type $t (func (param i32) (result i32)))
      (func (export "f") (result i32) (call_indirect (type $t) (i32.const 41) (i32.const 0))))''')
    assert m.function("f")() == 42


def test_reentrant_host_calls(rt):
    holder = {}

    def back(n):
        return holder["f"](n) if n > 0 else 0

    rt.host_module("env").function("back", back, params=[wz.I32], results=[wz.I32]).instantiate()
    m = rt.instantiate('''(module (import "env" "back" (func $back (param i32) (result i32)))
      (func (export "f") (param i32) (result i32)
        local.get 0 i32.eqz if (result i32) i32.const 0 else
        (i32.add (local.get 0) (call $back (i32.sub (local.get 0) (i32.const 1)))) end))''')
    holder["f"] = m.function("f")
    assert m.function("f")(50) == sum(range(51))


def test_reentrant_depth_is_bounded():
    rt = wz.Runtime(wz.RuntimeConfig(engine="interpreter", max_call_depth=200))
    holder = {}
    rt.host_module("env").function("back", lambda: holder["f"](), params=[], results=[]).instantiate()
    m = rt.instantiate('(module (import "env" "back" (func $b)) (func (export "f") (call $b)))')
    holder["f"] = m.function("f")
    with pytest.raises(wz.Trap, match="call stack exhausted"):
        m.function("f")()


def test_raw_host_function(rt):
    got = []
    rt.host_module("env").function("r", lambda x: got.append(x) or x, params=[wz.F32], results=[wz.F32],
                                   raw=True).instantiate()
    m = rt.instantiate('(module (import "env" "r" (func $r (param f32) (result f32)))'
                       ' (func (export "f") (param f32) (result f32) (call $r (local.get 0))))')
    assert m.function("f").call_raw(0x7FA00001) == 0x7FA00001
    assert got == [0x7FA00001]


def test_builder_errors(rt):
    b = rt.host_module("env")
    with pytest.raises(TypeError):
        b.function("x", 42)
    with pytest.raises(ValueError):
        b.function("y", lambda: None, params=["i32"])
    b.function("z", lambda: None)
    with pytest.raises(ValueError):
        b.function("z", lambda: None)
    with pytest.raises(ValueError):
        b.memory("m", min_pages=3, max_pages=2)


def test_host_result_type_error(rt):
    rt.host_module("env").function("bad", lambda: "nope", results=[wz.I32]).instantiate()
    m = rt.instantiate('(module (import "env" "bad" (func $b (result i32))) (func (export "f") (result i32) call $b))')
    with pytest.raises(TypeError):
        m.function("f")()


def test_exit_error_from_start_function(rt):
    def proc_exit(code):
        raise wz.ExitError(code)

    rt.host_module("wasi").function("exit", proc_exit, params=[wz.I32]).instantiate()
    src = '''(module (import "wasi" "exit" (func $exit (param i32)))
      (global (export "g") (mut i32) (i32.const 0))
      (func (export "_start") (global.set 0 (i32.const 1)) (call $exit (i32.const {code})) unreachable))'''
    m = rt.instantiate(src.format(code=0))
    assert m.global_("g").value == 1          # exit code 0 is a normal end
    with pytest.raises(wz.ExitError) as info:
        rt.instantiate(src.format(code=3))
    assert info.value.exit_code == 3


def test_caller_detection(rt):
    got = []

    def by_name(caller, *args):
        got.append(("name", type(caller).__name__, args))

    def by_default(x, scale=2):
        got.append(("default", x * scale))

    def by_count(c, x):
        got.append(("count", type(c).__name__, x))

    (rt.host_module("env")
       .function("a", by_name, params=[wz.I32])
       .function("b", by_default, params=[wz.I32])
       .function("c", by_count, params=[wz.I32])
       .instantiate())
    m = rt.instantiate('''(module (import "env" "a" (func $a (param i32))) (import "env" "b" (func $b (param i32)))
      (import "env" "c" (func $c (param i32)))
      (func (export "run") (call $a (i32.const 1)) (call $b (i32.const 2)) (call $c (i32.const 3))))''')
    m.function("run")()
    assert got == [("name", "Caller", (1,)), ("default", 4), ("count", "Caller", 3)]


def test_host_index_error_is_not_a_trap(rt):
    def bad():
        [][1]

    rt.host_module("env").function("bad", bad).instantiate()
    m = rt.instantiate('(module (import "env" "bad" (func $b)) (memory 1) (func (export "run") (call $b)))')
    with pytest.raises(IndexError):
        m.function("run")()
