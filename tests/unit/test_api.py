"""The public API: Runtime, Module, Function, Memory, Table, Global."""
from __future__ import annotations

import math
import struct

import pytest

import pywazero as wz

WAT = """
(module
  (memory (export "memory") 1 3)
  (table (export "table") 2 10 funcref)
  (global (export "counter") (mut i32) (i32.const 7))
  (global (export "const64") i64 (i64.const -5))
  (global (export "ext") (mut externref) (ref.null extern))
  (func $add (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "add64") (param i64 i64) (result i64) local.get 0 local.get 1 i64.add)
  (func (export "fmul") (param f32 f32) (result f32) local.get 0 local.get 1 f32.mul)
  (func (export "dadd") (param f64 f64) (result f64) local.get 0 local.get 1 f64.add)
  (func (export "fid") (param f32) (result f32) local.get 0)
  (func (export "swap") (param i32 i64) (result i64 i32) local.get 1 local.get 0)
  (func (export "nothing"))
  (func (export "vid") (param v128) (result v128) local.get 0)
  (func (export "ref") (result funcref) ref.func $add)
  (func (export "ext_id") (param externref) (result externref) local.get 0)
  (func (export "load") (param i32) (result i32) local.get 0 i32.load)
  (func (export "call_table") (param i32 i32 i32) (result i32)
    local.get 0 local.get 1 local.get 2 call_indirect (param i32 i32) (result i32))
  (elem declare func $add)
)
"""


@pytest.fixture
def rt():
    with wz.Runtime(wz.RuntimeConfig(engine="interpreter")) as runtime:
        yield runtime


@pytest.fixture
def mod(rt):
    return rt.instantiate(WAT, wz.ModuleConfig(name="m"))


def test_exports_and_kinds(mod):
    ex = mod.exports
    assert isinstance(ex["add"], wz.Function)
    assert isinstance(ex["memory"], wz.Memory)
    assert isinstance(ex["table"], wz.Table)
    assert isinstance(ex["counter"], wz.Global)
    assert mod.function("add") == ex["add"]
    assert mod.memory() == mod.memory("memory")
    with pytest.raises(KeyError):
        mod.function("missing")
    with pytest.raises(TypeError):
        mod.function("memory")


def test_int_conversions(mod):
    add = mod.function("add")
    assert add(1, 2) == 3
    assert add(-1, 0) == -1                    # signed out
    assert add(0xFFFFFFFF, 0) == -1            # unsigned in
    assert add(0x7FFFFFFF, 1) == -(2 ** 31)    # wraps
    assert add.call_raw(0xFFFFFFFF, 0) == 0xFFFFFFFF
    add64 = mod.function("add64")
    assert add64(2 ** 64 - 1, 2) == 1
    assert add64(-(2 ** 63), -1) == 2 ** 63 - 1
    assert add.type == wz.FuncType((wz.I32, wz.I32), (wz.I32,))
    assert add.type.params == (wz.I32, wz.I32)


def test_argument_errors(mod):
    add = mod.function("add")
    with pytest.raises(TypeError):
        add(1)
    with pytest.raises(TypeError):
        add(1, 2, 3)
    with pytest.raises(TypeError):
        add("1", 2)
    with pytest.raises(TypeError):
        add(1.5, 2)
    with pytest.raises(ValueError):
        add(2 ** 32, 0)
    with pytest.raises(ValueError):
        add(-(2 ** 31) - 1, 0)
    with pytest.raises(TypeError):
        mod.function("dadd")("x", 1.0)


def test_floats(mod):
    assert mod.function("dadd")(0.1, 0.2) == 0.1 + 0.2
    assert mod.function("dadd")(1, 2) == 3.0
    r = mod.function("fmul")(0.1, 3.0)
    assert r == struct.unpack("<f", struct.pack("<f", struct.unpack("<f", struct.pack("<f", 0.1))[0] * 3.0))[0]
    assert math.isnan(mod.function("dadd")(math.nan, 1.0))


def test_nan_payload_call_raw(mod):
    fid = mod.function("fid")
    for bits in (0x7FA00001, 0xFF800001, 0x7FC00000, 0x00000001):
        assert fid.call_raw(bits) == bits
    dadd = mod.function("dadd")
    assert dadd.call_raw(0x3FF0000000000000, 0x3FF0000000000000) == 0x4000000000000000


def test_multi_and_no_results(mod):
    assert mod.function("swap")(1, -2) == (-2, 1)
    assert mod.function("nothing")() is None


def test_v128(mod):
    v = (1 << 127) | 12345
    assert mod.function("vid")(v) == v
    assert mod.function("vid")(-1) == (1 << 128) - 1


def test_references(mod):
    f = mod.function("ref")()
    assert isinstance(f, wz.Function)
    assert f(20, 22) == 42
    obj = object()
    assert mod.function("ext_id")(obj) is obj
    assert mod.function("ext_id")(None) is None


def test_globals(mod):
    g = mod.global_("counter")
    assert g.value == 7 and g.mutable and g.type == wz.I32
    g.value = -3
    assert g.value == -3
    c = mod.global_("const64")
    assert c.value == -5 and not c.mutable
    with pytest.raises(AttributeError):
        c.value = 1
    with pytest.raises(TypeError):
        g.value = "x"
    e = mod.global_("ext")
    e.value = {"a": 1}
    assert e.value == {"a": 1}


def test_memory(mod):
    mem = mod.memory()
    assert mem.pages == 1 and mem.size == 65536 and len(mem) == 65536
    mem.write(100, b"\x01\x02\x03\x04")
    assert mem.read(100, 4) == b"\x01\x02\x03\x04"
    assert mem.read_u32(100) == 0x04030201
    assert mod.function("load")(100) == 0x04030201
    mem.write_i32(0, -2)
    assert mem.read_i32(0) == -2 and mem.read_u32(0) == 0xFFFFFFFE
    mem.write_f64(8, 1.5)
    assert mem.read_f64(8) == 1.5
    mem.write_f32(16, 0.1)
    assert mem.read_f32(16) == struct.unpack("<f", struct.pack("<f", 0.1))[0]
    mem.write_u64(24, 2 ** 64 - 1)
    assert mem.read_i64(24) == -1
    mem.write_u16(32, 0xBEEF)
    assert mem.read_u16(32) == 0xBEEF and mem.read_u8(32) == 0xEF and mem.read_i8(33) == -66


def test_memory_bounds_never_corrupt(mod):
    mem = mod.memory()
    mem.write(65532, b"abcd")
    for bad in (lambda: mem.read(65533, 4), lambda: mem.write(65533, b"wxyz"),
                lambda: mem.read_u32(65533), lambda: mem.write_u32(65533, 1),
                lambda: mem.read(-1, 1), lambda: mem.read_u64(65530)):
        with pytest.raises(IndexError):
            bad()
    assert mem.read(65532, 4) == b"abcd"
    assert mem.size == 65536
    with pytest.raises(ValueError):
        mem.write_u8(0, 256)


def test_memory_grow(mod):
    mem = mod.memory()
    assert mem.grow(1) == 1
    assert mem.pages == 2
    assert mem.grow(2) == -1          # max is 3
    assert mem.grow(1) == 2
    assert mem.grow(0) == 3
    mem.write(3 * 65536 - 1, b"z")


def test_table(mod):
    t = mod.table("table")
    assert t.size == 2
    assert t.get(0) is None
    add = mod.function("add")
    t.set(1, add)
    assert t.get(1) == add
    assert mod.function("call_table")(3, 4, 1) == 7
    with pytest.raises(wz.Trap, match="uninitialized element"):
        mod.function("call_table")(3, 4, 0)
    with pytest.raises(wz.Trap, match="undefined element"):
        mod.function("call_table")(3, 4, 5)
    assert t.grow(3, add) == 2
    assert t.size == 5 and t.get(4) == add
    assert t.grow(100) == -1
    with pytest.raises(IndexError):
        t.get(5)
    with pytest.raises(TypeError):
        t.set(0, "not a function")


def test_runtime_registry(rt, mod):
    assert rt.module("m").function("add")(1, 1) == 2
    assert rt.module("nope") is None
    rt.register("alias", mod)
    user = rt.instantiate('(module (import "alias" "add" (func $a (param i32 i32) (result i32)))'
                          ' (func (export "f") (result i32) (call $a (i32.const 2) (i32.const 3))))')
    assert user.function("f")() == 5
    with pytest.raises(ValueError):
        rt.instantiate(WAT, wz.ModuleConfig(name="m"))


def test_compiled_module_reuse_and_close(rt):
    cm = rt.compile('(module (global (export "g") (mut i32) (i32.const 0))'
                    ' (func (export "inc") (result i32) (global.set 0 (i32.add (global.get 0) (i32.const 1))) (global.get 0)))')
    a = rt.instantiate(cm)
    b = rt.instantiate(cm)
    assert a.function("inc")() == 1
    assert a.function("inc")() == 2
    assert b.function("inc")() == 1       # separate state
    cm.close()
    assert cm.closed
    assert a.function("inc")() == 3       # instances outlive the compiled module
    with pytest.raises(ValueError):
        rt.instantiate(cm)


def test_module_close(rt):
    m = rt.instantiate('(module (func (export "f") (result i32) i32.const 1))', wz.ModuleConfig(name="c"))
    f = m.function("f")
    with m:
        assert f() == 1
    assert m.closed
    assert rt.module("c") is None
    with pytest.raises(wz.WasmError):
        f()


def test_runtime_close():
    rt = wz.Runtime(wz.RuntimeConfig(engine="interpreter"))
    m = rt.instantiate('(module (func (export "f")))')
    rt.close()
    assert m.closed
    with pytest.raises(ValueError):
        rt.compile("(module)")


def test_start_functions(rt):
    src = """(module (global (export "g") (mut i32) (i32.const 0))
      (func $s (global.set 0 (i32.const 10)))
      (func (export "_start") (global.set 0 (i32.add (global.get 0) (i32.const 1))))
      (func (export "init") (global.set 0 (i32.mul (global.get 0) (i32.const 2))))
      (start $s))"""
    assert rt.instantiate(src).global_("g").value == 11
    cfg = wz.ModuleConfig(start_functions=("_start", "init", "absent"))
    assert rt.instantiate(src, cfg).global_("g").value == 22
    assert rt.instantiate(src, wz.ModuleConfig(start_functions=())).global_("g").value == 10


def test_memory_limit_pages():
    rt = wz.Runtime(wz.RuntimeConfig(engine="interpreter", memory_limit_pages=4))
    with pytest.raises(wz.CompileError, match="limit"):
        rt.compile("(module (memory 5))")
    m = rt.instantiate('(module (memory (export "mem") 1) (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))')
    assert m.function("grow")(3) == 1
    assert m.function("grow")(1) == -1
    assert m.memory().pages == 4
    assert m.memory().grow(1) == -1


def test_binary_source(rt):
    data = wz.wat2wasm('(module (func (export "f") (result i32) i32.const 9))')
    assert rt.instantiate(data).function("f")() == 9


def test_start_function_with_params_is_rejected(rt):
    with pytest.raises(wz.LinkError, match="no parameters"):
        rt.instantiate('(module (func (export "_start") (param i32)))')


def test_engine_code_compiled_once_per_module(rt):
    cm = rt.compile('(module (func (export "f") (result i32) i32.const 1))')
    code = cm._engine_code()
    a = rt.instantiate(cm)
    b = rt.instantiate(cm)
    assert cm._engine_code() is code
    assert a.function("f")() == b.function("f")() == 1
    assert a.instance.funcs[0].code is not None
    # both instances share the translated body
    fa = a.instance.funcs[0]
    fb = b.instance.funcs[0]
    assert code.translate(0) is code.translate(0)
    assert fa.code is code.translate(0) and fb.code is code.translate(0)


def test_functype_spelled_with_lists_equals_tuples():
    # A signature written with lists is the same signature (and hashable), so it
    # can be compared with what a module reports and used as a dict key.
    listed = wz.FuncType([wz.I32, wz.I64], [wz.F32])
    assert listed == wz.FuncType((wz.I32, wz.I64), (wz.F32,))
    assert listed.params == (wz.I32, wz.I64) and listed.results == (wz.F32,)
    assert {listed: 1}[wz.FuncType((wz.I32, wz.I64), (wz.F32,))] == 1
