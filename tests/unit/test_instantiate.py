"""Instantiation: import resolution and linking errors, segment initialisation, start."""
from __future__ import annotations

import pytest

import pywazero as wz


@pytest.fixture
def rt():
    with wz.Runtime(wz.RuntimeConfig(engine="interpreter")) as runtime:
        (runtime.host_module("env")
           .function("f", lambda x: x, params=[wz.I32], results=[wz.I32])
           .global_("g", wz.I32, 5)
           .global_("mg", wz.I32, 1, mutable=True)
           .table("t", wz.FUNCREF, min=10, max=20)
           .memory("mem", min_pages=1, max_pages=2)
           .instantiate())
        yield runtime


def test_unknown_import(rt):
    with pytest.raises(wz.LinkError) as info:
        rt.instantiate('(module (import "env" "nope" (func)))')
    msg = str(info.value)
    assert "unknown import" in msg and "env" in msg and "nope" in msg
    with pytest.raises(wz.LinkError, match="unknown import"):
        rt.instantiate('(module (import "nomodule" "f" (func)))')


def test_incompatible_func_type(rt):
    with pytest.raises(wz.LinkError) as info:
        rt.instantiate('(module (import "env" "f" (func (param i64))))')
    msg = str(info.value)
    assert "incompatible import type" in msg
    assert "'env'" in msg and "'f'" in msg
    assert "[i64] -> []" in msg and "[i32] -> [i32]" in msg


@pytest.mark.parametrize("imp", [
    '(import "env" "g" (global i64))',
    '(import "env" "g" (global (mut i32)))',
    '(import "env" "mg" (global i32))',
    '(import "env" "g" (func))',
    '(import "env" "f" (global i32))',
    '(import "env" "t" (table 11 funcref))',
    '(import "env" "t" (table 10 15 funcref))',
    '(import "env" "t" (table 10 externref))',
    '(import "env" "mem" (memory 2))',
    '(import "env" "mem" (memory 1 1))',
    '(import "env" "mem" (table 1 funcref))',
])
def test_incompatible_kinds_and_limits(rt, imp):
    with pytest.raises(wz.LinkError, match="incompatible import type"):
        rt.instantiate(f"(module {imp})")


@pytest.mark.parametrize("imp", [
    '(import "env" "t" (table 5 funcref))',
    '(import "env" "t" (table 10 20 funcref))',
    '(import "env" "t" (table 0 30 funcref))',
    '(import "env" "mem" (memory 0))',
    '(import "env" "mem" (memory 1 2))',
    '(import "env" "mem" (memory 1 5))',
    '(import "env" "g" (global i32))',
    '(import "env" "mg" (global (mut i32)))',
])
def test_compatible_imports(rt, imp):
    rt.instantiate(f"(module {imp})")


def test_memory_current_size_counts(rt):
    # after growing, the imported memory satisfies a larger minimum
    rt.module("env").memory("mem").grow(1)
    rt.instantiate('(module (import "env" "mem" (memory 2)))')


def test_global_init_from_import_and_ref_func(rt):
    m = rt.instantiate('''(module (import "env" "g" (global $g i32))
      (global (export "x") i32 (global.get $g))
      (global (export "r") funcref (ref.func $h))
      (func $h (export "h") (result i32) i32.const 3))''')
    assert m.global_("x").value == 5
    assert m.global_("r").value() == 3


def test_segment_trap_keeps_earlier_writes(rt):
    src = '''(module (import "env" "mem" (memory 1)) (import "env" "t" (table 10 funcref))
      (func $a)
      (elem (i32.const 0) $a)
      (elem (i32.const 9) $a $a)
      (data (i32.const 0) "never"))'''
    with pytest.raises(wz.Trap, match="out of bounds table access"):
        rt.instantiate(src)
    env = rt.module("env")
    assert env.table("t").get(0) is not None          # first segment applied
    assert env.memory("mem").read(0, 5) == b"\0" * 5  # data never reached

    src2 = '''(module (import "env" "mem" (memory 1))
      (data (i32.const 100) "ok")
      (data (i32.const 65535) "xx"))'''
    with pytest.raises(wz.Trap, match="out of bounds memory access"):
        rt.instantiate(src2)
    assert env.memory("mem").read(100, 2) == b"ok"


def test_failed_instance_not_registered(rt):
    with pytest.raises(wz.Trap):
        rt.instantiate('(module (func $s unreachable) (start $s))', wz.ModuleConfig(name="bad"))
    assert rt.module("bad") is None


def test_start_runs_before_start_functions(rt):
    m = rt.instantiate('''(module (global (export "g") (mut i32) (i32.const 1))
      (func $s (global.set 0 (i32.const 5)))
      (func (export "_start") (global.set 0 (i32.mul (global.get 0) (i32.const 3))))
      (start $s))''')
    assert m.global_("g").value == 15


def test_declarative_and_active_segments_dropped(rt):
    m = rt.instantiate('''(module (table 4 funcref) (memory 1)
      (func $f)
      (elem declare func $f)
      (elem (i32.const 0) $f)
      (data (i32.const 0) "abc")
      (func (export "init_active_elem") (table.init 1 (i32.const 0) (i32.const 0) (i32.const 1)))
      (func (export "init_declared") (table.init 0 (i32.const 0) (i32.const 0) (i32.const 1)))
      (func (export "init_empty") (table.init 1 (i32.const 0) (i32.const 0) (i32.const 0)))
      (func (export "init_data") (memory.init 0 (i32.const 0) (i32.const 0) (i32.const 1))))''')
    with pytest.raises(wz.Trap, match="out of bounds table access"):
        m.function("init_active_elem")()
    with pytest.raises(wz.Trap, match="out of bounds table access"):
        m.function("init_declared")()
    m.function("init_empty")()
    with pytest.raises(wz.Trap, match="out of bounds memory access"):
        m.function("init_data")()


def test_imports_and_exports_of_compiled(rt):
    cm = rt.compile('(module (import "env" "f" (func (param i32) (result i32))) (memory (export "m") 1))')
    assert [(i.module, i.name, i.kind) for i in cm.imports] == [("env", "f", "func")]
    assert [(e.name, e.kind) for e in cm.exports] == [("m", "memory")]


def test_reexport_across_modules(rt):
    a = rt.instantiate('''(module (memory (export "mem") 1)
       (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1))))''',
                       wz.ModuleConfig(name="a"))
    b = rt.instantiate('''(module (import "a" "mem" (memory 1)) (import "a" "store" (func $s (param i32 i32)))
       (func (export "go") (result i32) (call $s (i32.const 8) (i32.const 99)) (i32.load (i32.const 8))))''')
    assert b.function("go")() == 99
    assert a.memory().read_u32(8) == 99


def test_wasm1_segments_all_or_nothing():
    rt = wz.Runtime(wz.RuntimeConfig(engine="interpreter", core_features=wz.CoreFeatures.V1))
    rt.host_module("env").memory("mem", min_pages=1).table("t", wz.FUNCREF, min=10).instantiate()
    with pytest.raises(wz.LinkError, match="data segment does not fit"):
        rt.instantiate('''(module (import "env" "mem" (memory 1))
          (data (i32.const 0) "first") (data (i32.const 65535) "xx"))''')
    assert rt.module("env").memory("mem").read(0, 5) == b"\0" * 5   # nothing written
    with pytest.raises(wz.LinkError, match="elements segment does not fit"):
        rt.instantiate('''(module (import "env" "t" (table 10 funcref)) (func $f)
          (elem (i32.const 0) $f) (elem (i32.const 10) $f))''')
    assert rt.module("env").table("t").get(0) is None
