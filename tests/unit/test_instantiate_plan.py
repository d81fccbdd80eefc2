"""Instantiation through the per-module InstantiationPlan (cached on the
CompiledModule): every instance gets its own state, initialisers that depend on
imports or functions are evaluated per instance, segments apply in order."""
from __future__ import annotations

import pytest

import pywazero as wz
from pywazero.wasm.instantiate import InstantiationPlan

ENGINES = ["interpreter", "compiler"]

WAT = """
(module
  (import "env" "g" (global $ig i32))
  (import "env" "t" (table $it 10 funcref))
  (global $c (mut i32) (i32.const 7))
  (global $d i32 (global.get $ig))
  (global $f funcref (ref.func $two))
  (global $n externref (ref.null extern))
  (global $x i64 (i64.const -1))
  (table $t 8 funcref)
  (memory (export "mem") 1)
  (func $one (export "one") (result i32) (i32.const 1))
  (func $two (export "two") (result i32) (i32.const 2))
  (func (export "call") (param i32) (result i32) (call_indirect $t (result i32) (local.get 0)))
  (func (export "calli") (param i32) (result i32) (call_indirect $it (result i32) (local.get 0)))
  (func (export "init") (param i32 i32 i32) (table.init $t 2 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "size3") (result i32) (i32.const 0))
  (elem (table $t) (i32.const 0) func $one $two $one)
  (elem (table $t) (offset (global.get $ig)) funcref (ref.func $two) (ref.null func) (ref.func $two))
  (elem funcref (ref.func $two) (ref.func $one))
  (elem declare func $one)
  (elem (table $it) (offset (global.get $ig)) func $two)
  (data (i32.const 16) "abc")
  (data (offset (global.get $ig)) "xy")
  (data "passive")
  (export "c" (global $c))
  (export "d" (global $d))
  (export "f" (global $f))
  (export "x" (global $x))
  (export "n" (global $n))
  (export "t" (table $t))
)
"""


@pytest.fixture(params=ENGINES)
def rt(request):
    with wz.Runtime(wz.RuntimeConfig(engine=request.param)) as runtime:
        (runtime.host_module("env")
            .global_("g", wz.I32, 3)
            .table("t", wz.FUNCREF, min=10)
            .instantiate())
        yield runtime


def test_two_instances_are_independent(rt):
    cm = rt.compile(WAT)
    a, b = rt.instantiate(cm), rt.instantiate(cm)
    assert cm._instantiation_plan() is cm._instantiation_plan()
    for m in (a, b):
        assert m.global_("c").value == 7
        assert m.global_("d").value == 3
        assert m.global_("x").value == -1
        assert m.global_("n").value is None
        assert m.function("call")(0) == 1 and m.function("call")(1) == 2 and m.function("call")(2) == 1
        assert m.function("call")(3) == 2
        assert m.function("call")(5) == 2
        mem = m.memory("mem")
        assert mem.read(16, 3) == b"abc" and mem.read(3, 2) == b"xy"
    a.global_("c").value = 99
    assert b.global_("c").value == 7
    a.memory("mem").write(0, b"zz")
    assert b.memory("mem").read(0, 2) == bytes(2)
    ia, ib = a.instance, b.instance
    assert ia.funcs[0] is not ib.funcs[0]
    assert ia.funcs[0].module is ia and ib.funcs[0].module is ib
    assert [f.index for f in ia.funcs] == list(range(len(ia.funcs)))
    # table entries, funcref globals and exports name each instance's own functions
    ta, tb = ia.tables[1].elements, ib.tables[1].elements
    assert ta[0] is ia.funcs[0] and tb[0] is ib.funcs[0]
    assert ia.globals[3].value is ia.funcs[1] and ib.globals[3].value is ib.funcs[1]
    assert ta[5] is ia.funcs[1]
    assert ia.exports["one"] is ia.funcs[0] and ib.exports["one"] is ib.funcs[0]
    assert ia.exports["t"] is ia.tables[1] and ia.exports["mem"] is ia.mems[0]
    assert dict(ia.export_kinds) == dict(ib.export_kinds) == {e.name: e.kind for e in cm.module.exports}
    assert list(ia.exports) == list(ib.exports) == [e.name for e in cm.exports]
    # the imported table holds the last instance's function at the imported offset
    assert rt.module("env").instance.exports["t"].elements[3] is ib.funcs[1]
    # segments: active and declarative dropped, passive kept (per instance)
    assert [len(s) for s in ia.elems] == [0, 0, 2, 0, 0]
    assert ia.elems is not ib.elems and ia.elems[2] is not ib.elems[2]
    assert ia.elems[2][0] is ia.funcs[1]
    assert ia.datas == [b"", b"", b"passive"]
    a.function("init")(6, 0, 2)
    assert a.function("call")(6) == 2 and a.function("call")(7) == 1


def test_plan_is_per_module_and_released(rt):
    cm = rt.compile(WAT)
    plan = cm._instantiation_plan()
    assert isinstance(plan, InstantiationPlan)
    m = rt.instantiate(cm)
    cm.close()
    assert cm._plan is None
    assert m.function("call")(1) == 2


def test_trapping_segment_leaves_earlier_writes(rt):
    src = """
    (module
      (import "env" "t" (table 10 funcref))
      (memory (export "m") 1)
      (func $f (result i32) (i32.const 42))
      (elem (i32.const 1) func $f)
      (elem (i32.const 9) func $f $f)
      (data (i32.const 0) "never")
    )"""
    cm = rt.compile(src)
    t = rt.module("env").instance.exports["t"]
    for _ in range(2):
        t.elements[1] = None
        with pytest.raises(wz.Trap, match="out of bounds table access"):
            rt.instantiate(cm)
        assert t.elements[1] is not None and t.elements[1].type.results == (wz.I32,)
        assert t.elements[9] is None


def test_many_functions_module(rt):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    import workloads

    cm = rt.compile(workloads.many_functions_wat(50))
    mods = [rt.instantiate(cm) for _ in range(3)]
    for m in mods:
        assert m.function("f10")(2) == 2 * 11 + 7
        tbl = m.instance.tables[0].elements
        assert tbl == m.instance.funcs[:50]
        assert m.memory().read(0, 5) == b"hello"
    assert mods[0].instance.funcs[3] is not mods[1].instance.funcs[3]


def test_exports_built_on_first_use(rt):
    cm = rt.compile(WAT)
    inst = rt.instantiate(cm, wz.ModuleConfig(start_functions=())).instance
    assert "exports" not in vars(inst)
    ex = inst.exports
    assert inst.exports is ex and inst.export("one") is inst.funcs[0]
    assert set(ex) == set(inst.export_kinds)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        inst.nope  # noqa: B018
    assert getattr(inst, "wasi_state", None) is None


def test_start_functions_found_without_building_exports(rt):
    src = """(module (global $g (export "g") (mut i32) (i32.const 0))
               (func (export "_start") (global.set $g (i32.const 5))))"""
    m = rt.instantiate(src)
    assert m.global_("g").value == 5
    m2 = rt.instantiate('(module (func (export "f")))')
    assert "exports" not in vars(m2.instance)


def test_compiler_namespace_holds_only_what_is_used():
    with wz.Runtime(wz.RuntimeConfig(engine="compiler")) as rt:
        m = rt.instantiate("""(module (memory 1)
          (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
          (func (export "load") (param i32) (result i64) (i64.load (local.get 0))))""")
        g = m.instance.engine_data
        small = len(g)
        assert small < 40
        assert m.function("div")(-7, 2) == -3
        with pytest.raises(wz.Trap, match="integer divide by zero"):
            m.function("div")(1, 0)
        with pytest.raises(wz.Trap, match="integer overflow"):
            m.function("div")(-(2 ** 31), -1)
        assert m.function("load")(0) == 0
        with pytest.raises(wz.Trap, match="out of bounds memory access"):
            m.function("load")(65530)
        assert small < len(g) < small + 20
