"""GC at run time on both engines: structs, arrays (packed elements), i31,
casts, ref.eq, any/extern conversions, traps; cyclic wasm data reclaimed by
Python's garbage collector."""
import gc as _pygc
import weakref

import pytest

import pywazero as wz
from pywazero.errors import Trap
from pywazero.wasm.features import CoreFeatures
from pywazero.wasm.gcref import Array, HostAny, I31, Struct

ENGINES = ["interpreter", "compiler"]

WAT = r"""(module
  (type $node (sub (struct (field $v (mut i32)) (field $next (mut (ref null $node))) (field $prev (mut (ref null $node))))))
  (type $leaf (sub final $node (struct (field (mut i32)) (field (mut (ref null $node))) (field (mut (ref null $node))) (field i8))))
  (type $bytes (array (mut i8)))
  (type $words (array (mut i16)))
  (data $d "\01\02\ff\80")
  (global $keep (mut (ref null $node)) (ref.null $node))

  (func (export "field") (param i32) (result i32)
    (struct.get $node $v (struct.new $node (local.get 0) (ref.null $node) (ref.null $node))))
  (func (export "packed_s") (param i32) (result i32)
    (struct.get_s $leaf 3 (struct.new $leaf (i32.const 0) (ref.null $node) (ref.null $node) (local.get 0))))
  (func (export "packed_u") (param i32) (result i32)
    (struct.get_u $leaf 3 (struct.new $leaf (i32.const 0) (ref.null $node) (ref.null $node) (local.get 0))))
  (func (export "array_sum") (result i32)
    (local $a (ref $bytes)) (local $i i32) (local $s i32)
    (local.set $a (array.new_data $bytes $d (i32.const 0) (i32.const 4)))
    (loop $l
      (local.set $s (i32.add (local.get $s) (array.get_s $bytes (local.get $a) (local.get $i))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (array.len (local.get $a)))))
    (local.get $s))
  (func (export "array_oob") (param i32) (result i32)
    (array.get_u $words (array.new_default $words (i32.const 2)) (local.get 0)))
  (func (export "null_get") (result i32)
    (struct.get $node $v (ref.null $node)))
  (func (export "is_leaf") (param i32) (result i32)
    (local $n (ref null $node))
    (local.set $n (if (result (ref $node)) (local.get 0)
      (then (struct.new $leaf (i32.const 1) (ref.null $node) (ref.null $node) (i32.const 0)))
      (else (struct.new $node (i32.const 1) (ref.null $node) (ref.null $node)))))
    (ref.test (ref $leaf) (local.get $n)))
  (func (export "cast_leaf") (param anyref) (result i32)
    (struct.get $leaf 0 (ref.cast (ref $leaf) (local.get 0))))
  (func (export "i31") (param i32) (result i32 i32)
    (i31.get_s (ref.i31 (local.get 0))) (i31.get_u (ref.i31 (local.get 0))))
  (func (export "eq") (param i32 i32) (result i32)
    (ref.eq (ref.i31 (local.get 0)) (ref.i31 (local.get 1))))
  (func (export "roundtrip") (param externref) (result externref)
    (extern.convert_any (any.convert_extern (local.get 0))))
  (func (export "classify") (param anyref) (result i32)
    (block $s (result (ref struct))
      (block $i (result (ref i31))
        (br_on_cast $i anyref (ref i31) (local.get 0))
        (br_on_cast $s anyref (ref struct))
        (drop) (return (i32.const 0)))
      (drop) (return (i32.const 1)))
    (drop) (i32.const 2))
  (func (export "make") (param i32) (result anyref) (struct.new $node (local.get 0) (ref.null $node) (ref.null $node)))
  (func (export "ring") (param $n i32)
    ;; a doubly linked ring of $n nodes: every node is in a cycle
    (local $first (ref null $node)) (local $cur (ref null $node)) (local $new (ref null $node))
    (local.set $first (struct.new $node (i32.const 0) (ref.null $node) (ref.null $node)))
    (local.set $cur (local.get $first))
    (block $done (loop $l
      (br_if $done (i32.eqz (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
      (local.set $new (struct.new $node (local.get $n) (ref.null $node) (local.get $cur)))
      (struct.set $node $next (local.get $cur) (local.get $new))
      (local.set $cur (local.get $new))
      (br $l)))
    (struct.set $node $next (local.get $cur) (local.get $first))
    (struct.set $node $prev (local.get $first) (local.get $cur)))
)"""


@pytest.fixture(params=ENGINES)
def mod(request):
    rt = wz.Runtime(wz.RuntimeConfig(engine=request.param, core_features=CoreFeatures.V3))
    yield rt.instantiate(rt.compile(WAT))
    rt.close()


def test_structs_and_packed_fields(mod):
    assert mod.exports["field"](42) == 42
    assert mod.exports["packed_s"](0x1FF) == -1
    assert mod.exports["packed_u"](0x1FF) == 0xFF
    assert mod.exports["packed_s"](0x7F) == 0x7F


def test_arrays(mod):
    assert mod.exports["array_sum"]() == 1 + 2 - 1 - 128
    assert mod.exports["array_oob"](1) == 0
    with pytest.raises(Trap, match="out of bounds array access"):
        mod.exports["array_oob"](2)
    with pytest.raises(Trap, match="null structure reference"):
        mod.exports["null_get"]()


def test_casts(mod):
    assert mod.exports["is_leaf"](1) == 1
    assert mod.exports["is_leaf"](0) == 0
    node = mod.exports["make"](7)
    assert isinstance(node, Struct)
    with pytest.raises(Trap, match="cast failure"):
        mod.exports["cast_leaf"](node)
    assert mod.exports["classify"](node) == 2
    assert mod.exports["classify"](I31(3)) == 1
    assert mod.exports["classify"](None) == 0


def test_i31_eq_and_conversions(mod):
    assert mod.exports["i31"](0x7FFFFFFF) == (-1, 0x7FFFFFFF)
    assert mod.exports["i31"](0x3FFFFFFF) == (0x3FFFFFFF, 0x3FFFFFFF)
    assert mod.exports["eq"](5, 5) == 1
    assert mod.exports["eq"](5, 0x80000005) == 1     # (the low 31 bits)
    assert mod.exports["eq"](5, 6) == 0
    host = object()
    assert mod.exports["roundtrip"](host) is host


def test_cycles_are_reclaimed(mod):
    """Rings of structs built and dropped 100 times: nothing accumulates."""
    ring = mod.exports["ring"]
    _pygc.collect()

    def live() -> int:
        return sum(1 for o in _pygc.get_objects() if o.__class__ is Struct)

    ring(50)
    _pygc.collect()
    base = live()
    for _ in range(100):
        ring(50)
    _pygc.collect()
    assert live() <= base


def test_value_classes():
    assert I31(-3) == I31(-3) and I31(1) != I31(2)
    assert I31.wrap(0x40000000).value == -(1 << 30)
    with pytest.raises(ValueError):
        I31(1 << 30)
    s = Struct(0, [1])
    r = weakref.ref(s)
    del s
    _pygc.collect()   # (PyPy frees only at a collection)
    assert r() is None
    assert HostAny(1) != I31(1)
    assert Array(0, []).a == []


def test_gc_instructions_need_the_feature():
    rt = wz.Runtime(wz.RuntimeConfig(core_features=CoreFeatures.V3 & ~CoreFeatures.GC))
    with pytest.raises(wz.ValidationError, match="gc"):
        rt.compile("(module (func (drop (ref.i31 (i32.const 0)))))")


def test_compiler_compiles_gc_functions():
    """The compiler generates Python for every GC instruction (no interpreter
    fallback)."""
    rt = wz.Runtime(wz.RuntimeConfig(engine="compiler", core_features=CoreFeatures.V3))
    cm = rt.compile(WAT)
    m = rt.instantiate(cm)
    for name in ("field", "packed_s", "array_sum", "is_leaf", "i31", "eq", "roundtrip", "classify", "ring"):
        fn = m.exports[name]
        try:
            fn(*([1] * len(fn.type.params)))
        except (Trap, TypeError):
            pass
    assert cm._engine_code().fallback_reasons == {}


API_WAT = r"""(module
  (type $pt (struct (field $x i32) (field $y (mut i64)) (field i8) (field (ref null $pt))))
  (type $arr (array (mut i16)))
  (func (export "pt") (param i32) (result (ref $pt))
    (struct.new $pt (local.get 0) (i64.const -2) (i32.const -1) (ref.null $pt)))
  (func (export "x") (param (ref $pt)) (result i32) (struct.get $pt $x (local.get 0)))
  (func (export "arr") (result (ref $arr)) (array.new_fixed $arr 3 (i32.const 1) (i32.const -1) (i32.const 3)))
  (func (export "id") (param anyref) (result anyref) (local.get 0))
  (func (export "ext") (param anyref) (result externref) (extern.convert_any (local.get 0)))
  (func (export "i31") (param i32) (result i31ref) (ref.i31 (local.get 0)))
  (func (export "is_i31") (param anyref) (result i32) (ref.test i31ref (local.get 0)))
)"""


@pytest.mark.parametrize("engine", ENGINES)
def test_api_values(engine):
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine, core_features=CoreFeatures.V3))
    m = rt.instantiate(rt.compile(API_WAT))
    p = m.exports["pt"](-5)
    assert isinstance(p, wz.StructRef) and isinstance(p, wz.GcRef)
    assert p.fields == (-5, -2, 0xFF, None)
    assert m.exports["x"](p) == -5
    assert m.exports["id"](p) is p                       # identity kept both ways
    a = m.exports["arr"]()
    assert isinstance(a, wz.ArrayRef) and len(a) == 3 and list(a) == [1, 0xFFFF, 3] and a[2] == 3
    i = m.exports["i31"](-7)
    assert isinstance(i, wz.I31) and i.value == -7 and i == wz.I31(-7)
    assert m.exports["is_i31"](wz.I31(3)) == 1
    host = {"any": 1}
    assert m.exports["id"](host) is host                 # internalised, comes back out as itself
    assert m.exports["is_i31"](host) == 0
    assert m.exports["ext"](p) is p                      # extern.convert_any of a GC value
    with pytest.raises(TypeError):
        m.exports["x"](a)                                # an array is no (ref $pt)
    with pytest.raises(TypeError):
        m.exports["x"](object())


def test_host_functions_and_globals_with_anyref():
    """A host function sees GC values as themselves and host objects unwrapped;
    an anyref global holds either."""
    from pywazero.wasm.types import ANYREF

    rt = wz.Runtime(wz.RuntimeConfig(core_features=CoreFeatures.V3))
    seen = []

    def h(x):
        seen.append(x)
        return x

    rt.host_module("env").function("h", h, params=[ANYREF], results=[ANYREF]).instantiate()
    m = rt.instantiate(rt.compile('''(module (import "env" "h" (func $h (param anyref) (result anyref)))
      (type $p (struct (field i32)))
      (global (export "g") (mut anyref) (ref.null any))
      (func (export "f") (param i32) (result anyref) (call $h (struct.new $p (local.get 0))))
      (func (export "k") (param anyref) (result i32) (ref.test (ref i31) (call $h (local.get 0)))))'''))
    s = m.exports["f"](3)
    assert isinstance(s, wz.StructRef) and s.fields == (3,) and seen[-1] is s
    assert m.exports["k"](wz.I31(1)) == 1
    assert m.exports["k"]("text") == 0 and seen[-1] == "text"
    g = m.exports["g"]
    g.value = "host"
    assert g.value == "host"
    g.value = s
    assert g.value is s
    ft = rt.compile('(module (type $p (struct (field i32))) (func (export "f") (param (ref $p))))').exports[0].type
    assert str(ft.params[0]) == "(ref (struct (field i32)))"
