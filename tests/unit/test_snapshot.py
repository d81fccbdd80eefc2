"""Module.snapshot(): new instances start with a captured instance's memories,
globals and tables, without running its initialisation again (both engines)."""
from __future__ import annotations

import io
import math
import struct

import pytest

import pywazero as wz
from pywazero import wasi
from pywazero.binary.encoder import encode_module
from pywazero.wasm.module import MODE_ACTIVE
from pywazero.wasm.snapshot import ZERO_RUN
from pywazero.wasm.validation import validate_module

ENGINES = ["interpreter", "compiler"]

# An "expensive" initialisation: calls a host import (counted), grows and fills
# memory sparsely, sets globals of every number type and fills a table.
INIT_WAT = r'''(module
  (import "env" "tick" (func $tick))
  (memory (export "mem") 1 10)
  (global $g (export "g") (mut i32) (i32.const 0))
  (global $big (export "big") (mut i64) (i64.const 0))
  (global $f32 (export "f32") (mut f32) (f32.const 0))
  (global $f64 (export "f64") (mut f64) (f64.const 0))
  (global $v (export "v") (mut v128) (v128.const i64x2 0 0))
  (global $fn (export "fn") (mut funcref) (ref.null func))
  (global $k (export "k") i32 (i32.const 77))
  (table $t (export "t") 4 funcref)
  (type $v (func (result i32)))
  (elem declare func $a $b)
  (func $a (result i32) (i32.const 11))
  (func $b (result i32) (i32.const 22))
  (data $p "passive")
  (data $q "dropped")
  (func (export "init")
    (call $tick)
    (drop (memory.grow (i32.const 2)))
    (i32.store (i32.const 100) (i32.const 0xdeadbeef))
    (i32.store (i32.const 150000) (i32.const 7))
    (global.set $g (i32.add (global.get $g) (i32.const 5)))
    (global.set $big (i64.const -2))
    (global.set $f32 (f32.const nan:0x123))
    (global.set $f64 (f64.const -0.0))
    (global.set $v (v128.const i64x2 -1 0x123456789))
    (global.set $fn (ref.func $b))
    (table.set $t (i32.const 1) (ref.func $a))
    (table.set $t (i32.const 3) (ref.func $b))
    (data.drop $q))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "ci") (param i32) (result i32) (call_indirect (type $v) (local.get 0)))
  (func (export "call_fn") (result i32) (call_ref $v (ref.cast (ref $v) (global.get $fn))))
  (func (export "bump") (global.set $g (i32.add (global.get $g) (i32.const 1))))
  (func (export "init_p") (memory.init $p (i32.const 0) (i32.const 0) (i32.const 7)))
  (func (export "init_q") (memory.init $q (i32.const 0) (i32.const 0) (i32.const 7)))
)'''


def _runtime(engine):
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
    ticks = []
    rt.host_module("env").function("tick", lambda: ticks.append(1)).instantiate()
    return rt, ticks


def _initialised(engine):
    rt, ticks = _runtime(engine)
    m = rt.instantiate(rt.compile(INIT_WAT))
    m.function("init")()
    assert ticks == [1]
    return rt, ticks, m


def _state(m):
    mem = m.memory("mem")
    g = {name: m.global_(name).raw for name in ("g", "big", "f32", "f64", "v", "k")}
    return mem.pages, mem.read(0, mem.size), g


@pytest.mark.parametrize("engine", ENGINES)
def test_instances_start_with_the_captured_state_without_rerunning_init(engine):
    rt, ticks, m = _initialised(engine)
    snap = m.snapshot()
    assert isinstance(snap, wz.CompiledModule)
    a = rt.instantiate(snap)
    assert ticks == [1]   # the initialisation did not run again
    assert _state(a) == _state(m)
    assert a.memory("mem").pages == 3
    assert a.function("load")(100) == struct.unpack("<i", b"\xef\xbe\xad\xde")[0]
    assert a.function("load")(150000) == 7
    assert a.global_("g").value == 5
    assert a.global_("big").value == -2
    assert struct.pack("<d", a.global_("f64").value) == struct.pack("<d", -0.0)
    # (the f32 NaN payload survives: raw bits compared)
    assert a.global_("f32").raw == m.global_("f32").raw
    assert math.isnan(a.global_("f32").value)
    assert a.global_("v").raw == m.global_("v").raw
    assert a.global_("k").value == 77
    # function references in globals and tables
    assert a.function("call_fn")() == 22
    assert a.function("ci")(1) == 11 and a.function("ci")(3) == 22
    with pytest.raises(wz.Trap, match="uninitialized element"):
        a.function("ci")(0)
    # the memory keeps its declared maximum and grows on from its current size
    assert a.memory("mem").max_pages == 10
    assert a.memory("mem").grow(7) == 3
    assert a.memory("mem").grow(1) == -1


@pytest.mark.parametrize("engine", ENGINES)
def test_snapshot_instances_are_independent(engine):
    rt, ticks, m = _initialised(engine)
    snap = m.snapshot()
    a, b = rt.instantiate(snap), rt.instantiate(snap)
    a.function("bump")()
    a.function("store")(100, 1)
    a.table("t").set(1, None)
    assert a.global_("g").value == 6 and b.global_("g").value == 5
    assert a.function("load")(100) == 1 and b.function("load")(100) != 1
    assert b.function("ci")(1) == 11
    # nor does the original see them, nor they the original
    m.function("store")(150000, 9)
    assert m.global_("g").value == 5 and m.function("load")(100) != 1
    assert a.function("load")(150000) == 7 and b.function("load")(150000) == 7


@pytest.mark.parametrize("engine", ENGINES)
def test_dropped_segments_stay_dropped_and_passive_ones_stay(engine):
    rt, ticks, m = _initialised(engine)
    a = rt.instantiate(m.snapshot())
    a.function("init_p")()
    assert a.memory("mem").read(0, 7) == b"passive"
    with pytest.raises(wz.Trap, match="out of bounds memory access"):
        a.function("init_q")()


@pytest.mark.parametrize("engine", ENGINES)
def test_snapshot_of_a_snapshot(engine):
    rt, ticks, m = _initialised(engine)
    a = rt.instantiate(m.snapshot())
    a.function("bump")()
    a.function("store")(8, 0x01020304)
    b = rt.instantiate(a.snapshot())
    assert ticks == [1]
    assert b.global_("g").value == 6
    assert b.function("load")(8) == 0x01020304
    assert b.function("load")(100) == a.function("load")(100)
    assert b.function("ci")(3) == 22


@pytest.mark.parametrize("engine", ENGINES)
def test_start_function_runs_once(engine):
    rt, ticks = _runtime(engine)
    m = rt.instantiate(rt.compile('''(module (import "env" "tick" (func $tick))
      (global $n (export "n") (mut i32) (i32.const 0))
      (func $start (call $tick) (global.set $n (i32.const 3)))
      (start $start))'''))
    assert ticks == [1]
    snap = m.snapshot()
    assert snap.module.start is None
    a = rt.instantiate(snap)
    assert ticks == [1] and a.global_("n").value == 3


@pytest.mark.parametrize("engine", ENGINES)
def test_snapshot_module_is_valid_and_encodes(engine):
    """The snapshot is an ordinary module: it validates, and its binary (encoded)
    instantiates to the same state."""
    rt, ticks, m = _initialised(engine)
    snap = m.snapshot()
    validate_module(snap.module, rt.config.core_features)
    c = rt.instantiate(rt.compile(encode_module(snap.module)))
    assert ticks == [1]
    assert _state(c) == _state(m)
    assert c.function("ci")(3) == 22 and c.function("call_fn")() == 22


def test_memory_is_captured_as_segments_around_zero_runs():
    rt, ticks, m = _initialised("interpreter")
    m.function("store")(3 * 65536 - 4, 0x55)
    snap = m.snapshot()
    active = [(d.offset[0][1], d.init) for d in snap.module.datas
              if d.mode == MODE_ACTIVE and d.init]
    # the two original words and the last one: three segments, zeros trimmed
    assert [off for off, _ in active] == [100, 150000, 3 * 65536 - 4]
    assert [len(b) for _, b in active] == [4, 1, 1]
    # zero runs shorter than a scan block stay inside one segment
    m.function("store")(100 + ZERO_RUN // 2, 1)
    active = [d for d in m.snapshot().module.datas if d.mode == MODE_ACTIVE and d.init]
    assert len(active) == 3 and len(active[0].init) == ZERO_RUN // 2 + 1


@pytest.mark.parametrize("engine", ENGINES)
def test_remove_exports(engine):
    rt, ticks, m = _initialised(engine)
    snap = m.snapshot(remove_exports=["init", "bump"])
    names = [e.name for e in snap.exports]
    assert "init" not in names and "bump" not in names and "load" in names
    a = rt.instantiate(snap)
    assert "init" not in a.exports
    validate_module(snap.module, rt.config.core_features)
    with pytest.raises(ValueError, match="cannot remove export 'nope'"):
        m.snapshot(remove_exports=["nope"])
    with pytest.raises(TypeError):
        m.snapshot(remove_exports="init")


@pytest.mark.parametrize("engine", ENGINES)
def test_translated_functions_are_shared(engine):
    rt, ticks, m = _initialised(engine)
    snap = m.snapshot()
    orig = m.instance.engine_code
    # what the original translated, the snapshot has without translating again
    done = [i for i, c in enumerate(orig.codes) if c is not None]
    assert done
    assert all(snap._code.codes[i] is orig.codes[i] for i in done)


@pytest.mark.parametrize("engine", ENGINES)
def test_wasi_reactor_snapshot_gets_fresh_wasi_state(engine):
    """The typical case: a WASI reactor's memory after ``_initialize``; the new
    instance writes to its own stdout."""
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
    wasi.instantiate(rt)
    cm = rt.compile(r'''(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (global $ready (mut i32) (i32.const 0))
      (func (export "_initialize")
        (i32.store (i32.const 0) (i32.const 16))
        (i32.store (i32.const 4) (i32.const 6))
        (i64.store (i32.const 16) (i64.const 0x0a7964616572))  ;; "ready\n"
        (global.set $ready (i32.const 1)))
      (func (export "hello") (result i32)
        (if (i32.eqz (global.get $ready)) (then unreachable))
        (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))''')
    first = io.BytesIO()
    m = rt.instantiate(cm, wz.ModuleConfig(start_functions=("_initialize",), stdout=first))
    snap = m.snapshot(remove_exports=["_initialize"])
    out = io.BytesIO()
    a = rt.instantiate(snap, wz.ModuleConfig(stdout=out))
    assert a.function("hello")() == 0
    assert out.getvalue() == b"ready\n" and first.getvalue() == b""


def test_tables_with_initialisers_and_null_runs():
    rt = wz.Runtime()
    m = rt.instantiate(rt.compile('''(module
      (type $v (func (result i32)))
      (func $a (type $v) (i32.const 1))
      (func $b (type $v) (i32.const 2))
      (table $t (export "t") 40 (ref null $v) (ref.func $a))
      (table $u (export "u") 40 funcref)
      (elem (table $u) (i32.const 0) func $a $b)
      (elem declare func $b)
      (func (export "set") (param i32)
        (table.set $t (local.get 0) (ref.null $v))
        (table.set $u (i32.const 39) (ref.func $b)))
      (func (export "grow") (result i32) (table.grow $u (ref.func $b) (i32.const 2)))
      (func (export "ct") (param i32) (result i32) (call_indirect $t (type $v) (local.get 0)))
      (func (export "cu") (param i32) (result i32) (call_indirect $u (type $v) (local.get 0))))'''))
    m.function("set")(5)
    assert m.function("grow")() == 40
    a = rt.instantiate(m.snapshot())
    assert a.table("u").size == 42 and a.table("t").size == 40
    assert [a.function("cu")(i) for i in (0, 1, 39, 40, 41)] == [1, 2, 2, 2, 2]
    with pytest.raises(wz.Trap, match="uninitialized element"):
        a.function("cu")(2)
    assert a.function("ct")(4) == 1
    with pytest.raises(wz.Trap, match="uninitialized element"):
        a.function("ct")(5)   # a null written over the table's initialiser stays null


def test_i31_and_null_gc_references_are_captured():
    rt = wz.Runtime()
    m = rt.instantiate(rt.compile('''(module
      (global $i (export "i") (mut i31ref) (ref.null i31))
      (global $n (export "n") (mut anyref) (ref.i31 (i32.const 1)))
      (func (export "init") (global.set $i (ref.i31 (i32.const -5))) (global.set $n (ref.null any)))
      (func (export "get") (result i32) (i31.get_s (ref.as_non_null (global.get $i)))))'''))
    m.function("init")()
    a = rt.instantiate(m.snapshot())
    assert a.function("get")() == -5 and a.global_("n").value is None


# -- what cannot be captured -----------------------------------------------------------

def test_refuses_a_running_instance():
    rt = wz.Runtime()
    holder = {}
    seen = []

    def inside():
        with pytest.raises(ValueError, match="running") as e:
            holder["m"].snapshot()
        seen.append(e.value)

    rt.host_module("env").function("inside", inside).instantiate()
    holder["m"] = m = rt.instantiate(rt.compile(
        '(module (import "env" "inside" (func $i)) (func (export "run") (call $i)))'))
    m.function("run")()
    assert len(seen) == 1
    m.snapshot()   # once the call has returned, it can be taken


def test_refuses_host_and_foreign_functions_in_tables_and_globals():
    rt = wz.Runtime()
    rt.host_module("env").function("h", lambda: None).instantiate()
    other = rt.instantiate(rt.compile('(module (func (export "f")))'), wz.ModuleConfig(name="other"))
    m = rt.instantiate(rt.compile('''(module
      (import "env" "h" (func $h))
      (import "other" "f" (func $f))
      (table (export "t") 2 funcref)
      (global $g (export "g") (mut funcref) (ref.null func))
      (elem declare func $h $f)
      (func (export "put_h") (table.set (i32.const 0) (ref.func $h)))
      (func (export "put_f") (global.set $g (ref.func $f))))'''))
    m.function("put_h")()
    with pytest.raises(ValueError, match=r"table 0 entry 0 holds a host function \(env.h\)"):
        m.snapshot()
    m.table("t").set(0, None)
    m.function("put_f")()
    with pytest.raises(ValueError, match="global 0 holds a function of another instance"):
        m.snapshot()
    m.global_("g").value = None
    m.snapshot()
    assert other is not None


def test_refuses_externrefs_gc_objects_and_exnrefs():
    rt = wz.Runtime()
    m = rt.instantiate(rt.compile('''(module
      (type $s (struct (field i32)))
      (global $e (export "e") (mut externref) (ref.null extern))
      (global $a (export "a") (mut anyref) (ref.null any))
      (global $x (export "x") (mut exnref) (ref.null exn))
      (tag $t)
      (func (export "put_struct") (global.set $a (struct.new $s (i32.const 1))))
      (func (export "put_exn")
        (block $h (result exnref) (try_table (catch_all_ref $h) (throw $t)) (unreachable))
        (global.set $x)))'''))
    m.global_("e").value = object()
    with pytest.raises(ValueError, match=r"global 0 holds a host reference \(object\)"):
        m.snapshot()
    m.global_("e").value = None
    m.function("put_struct")()
    with pytest.raises(ValueError, match="global 1 holds a GC reference"):
        m.snapshot()
    m.global_("a").value = None
    m.function("put_exn")()
    with pytest.raises(ValueError, match="global 2 holds an exception reference"):
        m.snapshot()


@pytest.mark.parametrize("kind, decl", [
    ("memory", '(import "env" "mem" (memory 1))'),
    ("table", '(import "env" "tab" (table 1 funcref))'),
    ("mutable global", '(import "env" "gm" (global (mut i32)))'),
])
def test_refuses_imported_state(kind, decl):
    rt = wz.Runtime()
    (rt.host_module("env").memory("mem", 1).table("tab", wz.FUNCREF, 1)
       .global_("gm", wz.I32, 1, mutable=True).global_("gi", wz.I32, 2).instantiate())
    m = rt.instantiate(rt.compile(f"(module {decl})"))
    with pytest.raises(ValueError, match=f"{kind} env.* is imported"):
        m.snapshot()


def test_immutable_imported_global_stays_an_import():
    rt = wz.Runtime()
    rt.host_module("env").global_("gi", wz.I32, 2).instantiate()
    m = rt.instantiate(rt.compile('''(module (import "env" "gi" (global $gi i32))
      (global $c (export "c") (mut i32) (global.get $gi)))'''))
    m.global_("c").value = 9
    snap = m.snapshot()
    assert [(i.module, i.name) for i in snap.imports] == [("env", "gi")]
    assert rt.instantiate(snap).global_("c").value == 9


def test_refuses_closed_and_host_modules():
    rt = wz.Runtime()
    host = rt.host_module("env").function("h", lambda: None).instantiate()
    with pytest.raises(ValueError, match="host module"):
        host.snapshot()
    m = rt.instantiate(rt.compile("(module (memory 1))"))
    m.close()
    with pytest.raises(ValueError, match="closed"):
        m.snapshot()


def test_wasm1_runtime_snapshot_stays_a_wasm1_module():
    """Without reference types there are no declarative segments: a dropped active
    segment is kept as an empty active one, and the result is valid 1.0."""
    rt = wz.Runtime(wz.RuntimeConfig(core_features=wz.CoreFeatures.V1))
    m = rt.instantiate(rt.compile('''(module
      (type $v (func (result i32)))
      (table 3 funcref) (memory 1)
      (global $g (export "g") (mut i32) (i32.const 0))
      (func $a (type $v) (i32.const 4))
      (elem (i32.const 1) $a)
      (data (i32.const 8) "abc")
      (func (export "init") (global.set $g (i32.const 1)) (i32.store8 (i32.const 9) (i32.const 66)))
      (func (export "peek") (result i32) (i32.load8_u (i32.const 9)))
      (func (export "ci") (param i32) (result i32) (call_indirect (type $v) (local.get 0))))'''))
    m.function("init")()
    snap = m.snapshot()
    validate_module(snap.module, wz.CoreFeatures.V1)
    a = rt.instantiate(rt.compile(encode_module(snap.module)))
    assert a.global_("g").value == 1 and a.function("peek")() == 66 and a.function("ci")(1) == 4


def test_memory64_and_table64():
    rt = wz.Runtime()
    m = rt.instantiate(rt.compile('''(module
      (memory (export "m") i64 1)
      (table $t i64 2 funcref)
      (type $v (func (result i32)))
      (func $a (type $v) (i32.const 5))
      (elem declare func $a)
      (func (export "init") (i64.store (i64.const 65528) (i64.const -1))
        (table.set $t (i64.const 1) (ref.func $a)))
      (func (export "get") (result i64) (i64.load (i64.const 65528)))
      (func (export "ci") (result i32) (call_indirect $t (type $v) (i64.const 1))))'''))
    m.function("init")()
    snap = m.snapshot()
    validate_module(snap.module, rt.config.core_features)
    a = rt.instantiate(snap)
    assert a.function("get")() == -1 and a.function("ci")() == 5


def test_table_runs_split_at_long_null_runs():
    from pywazero.wasm.snapshot import _table_runs

    e = [None, 1, 2, None, 3] + [None] * 20 + [4, None]
    assert _table_runs(e, False, 16) == [(1, 5), (25, 26)]
    assert _table_runs(e, False, 1) == [(1, 3), (4, 5), (25, 26)]
    assert _table_runs(e, True, 16) == [(0, 27)]
    assert _table_runs([], False, 16) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_serialized_snapshot_keeps_the_state(engine):
    rt, ticks, m = _initialised(engine)
    snap = m.snapshot(remove_exports=["init"])
    again = rt.deserialize(snap.serialize())
    a = rt.instantiate(again)
    assert ticks == [1]
    assert _state(a) == _state(m)
    assert a.function("ci")(3) == 22 and a.function("call_fn")() == 22


@pytest.mark.parametrize("engine", ENGINES)
def test_pickled_snapshot_keeps_the_state(engine):
    import pickle

    rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
    m = rt.instantiate(rt.compile('''(module (memory (export "mem") 1)
      (global $n (export "n") (mut i64) (i64.const 0))
      (table $t 1 funcref) (type $v (func (result i32)))
      (func $seven (type $v) (i32.const 7))
      (elem declare func $seven)
      (func (export "init") (global.set $n (i64.const -3)) (i32.store (i32.const 60000) (i32.const 5))
        (table.set $t (i32.const 0) (ref.func $seven)))
      (func (export "ci") (result i32) (call_indirect (type $v) (i32.const 0))))'''))
    m.function("init")()
    snap = pickle.loads(pickle.dumps(m.snapshot()))
    a = snap.runtime.instantiate(snap)
    assert a.global_("n").value == -3
    assert a.memory("mem").read(60000, 4) == b"\5\0\0\0"
    assert a.function("ci")() == 7
    # and a snapshot of that one pickles too
    a.global_("n").value = 4
    b = pickle.loads(pickle.dumps(a.snapshot()))
    assert b.runtime.instantiate(b).global_("n").value == 4
