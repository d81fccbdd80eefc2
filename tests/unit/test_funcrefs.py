"""Typed function references (WebAssembly 3.0): subtyping, validation, both
engines, cross-module type equivalence and the API's type descriptions."""
from __future__ import annotations

import pytest

import pywazero as wz
from pywazero import CoreFeatures, FuncType, RefType, I32, I64
from pywazero.binary.decoder import decode_module
from pywazero.binary.encoder import encode_module
from pywazero.text.parser import parse_module_text
from pywazero.wasm.subtyping import canonical_ids, closed_functype, heap_subtype, val_subtype
from pywazero.wasm.types import (
    EXTERNREF,
    FUNCREF,
    HT_EXTERN,
    HT_FUNC,
    HT_NOEXTERN,
    HT_NOFUNC,
    NULLEXTERNREF,
    NULLFUNCREF,
    ref_type,
)

V3 = CoreFeatures.V3
ENGINES = ["interpreter", "compiler"]


def runtime(engine: str = "interpreter", features: CoreFeatures = V3) -> wz.Runtime:
    return wz.Runtime(wz.RuntimeConfig(engine=engine, core_features=features))


# --- subtyping ----------------------------------------------------------------------

def test_abstract_heap_subtyping():
    assert heap_subtype(HT_NOFUNC, HT_FUNC) and not heap_subtype(HT_FUNC, HT_NOFUNC)
    assert heap_subtype(HT_NOEXTERN, HT_EXTERN)
    assert not heap_subtype(HT_NOFUNC, HT_EXTERN) and not heap_subtype(HT_EXTERN, HT_FUNC)
    # nofunc is below every function type, a function type below func only
    canon = canonical_ids([FuncType()])
    assert heap_subtype(HT_NOFUNC, 0, canon) and heap_subtype(0, HT_FUNC, canon)
    assert not heap_subtype(0, HT_EXTERN, canon) and not heap_subtype(HT_FUNC, 0, canon)


def test_value_subtyping_nullability():
    canon = canonical_ids([FuncType((I32,), ())])
    ref_t, ref_null_t = ref_type(0, False), ref_type(0, True)
    assert val_subtype(ref_t, ref_null_t, canon) and not val_subtype(ref_null_t, ref_t, canon)
    assert val_subtype(ref_t, FUNCREF, canon) and val_subtype(ref_t, ref_type(HT_FUNC, False), canon)
    assert val_subtype(NULLFUNCREF, ref_null_t, canon) and not val_subtype(NULLFUNCREF, ref_t, canon)
    assert not val_subtype(NULLEXTERNREF, FUNCREF, canon) and val_subtype(NULLEXTERNREF, EXTERNREF)
    assert not val_subtype(I32, I64) and not val_subtype(I32, FUNCREF)


def test_equivalent_types_get_one_canonical_id_across_modules():
    # the same function type at different indices, referring to equivalent types
    a = [FuncType((I32,), (I32,)), FuncType((ref_type(0, False),), ())]
    b = [FuncType((I64,), ()), FuncType((I32,), (I32,)), FuncType((ref_type(1, False),), ())]
    ca, cb = canonical_ids(a), canonical_ids(b)
    assert ca[0] == cb[1] and ca[1] == cb[2] and len({ca[0], ca[1], cb[0]}) == 3
    assert closed_functype(a[1], ca) == closed_functype(b[2], cb)
    # in one module, two indices of equivalent types are subtypes of each other
    c = [FuncType(), FuncType()]
    cc = canonical_ids(c)
    assert val_subtype(ref_type(0, False), ref_type(1, True), cc)


def test_self_referential_type_is_canonical():
    a = [FuncType((ref_type(0),), ())]
    b = [FuncType((I32,), ()), FuncType((ref_type(1),), ())]
    assert canonical_ids(a)[0] == canonical_ids(b)[1]


# --- front ends ----------------------------------------------------------------------

TYPED = """(module
  (type $t (func (param i32) (result i32)))
  (func $dbl (type $t) (i32.add (local.get 0) (local.get 0)))
  (table $tab 3 (ref null $t) (ref.func $dbl))
  (global $g (ref $t) (ref.func $dbl))
  (elem declare func $dbl)
  (func (export "f") (param (ref null $t)) (param i32) (result i32)
    (local $l (ref $t))
    (local.set $l (ref.as_non_null (local.get 0)))
    (call_ref $t (local.get 1) (local.get $l)))
  (func (export "b") (param funcref) (result i32)
    (block $null (result i32)
      (drop (br_on_null $null (i32.const 1) (local.get 0)))
      (drop)
      (i32.const 2))))"""


def test_binary_round_trip_of_typed_references():
    m = parse_module_text(TYPED)
    data = encode_module(m)
    m2 = decode_module(data, V3)
    assert m2.types == m.types and m2.funcs[1].locals == m.funcs[1].locals
    assert m2.tables == m.tables and m2.table_inits == m.table_inits
    assert [g.type for g in m2.globals] == [g.type for g in m.globals]
    assert encode_module(m2) == data
    wz.Runtime(wz.RuntimeConfig(core_features=V3)).compile(data)


def test_typed_references_need_the_feature():
    rt = runtime(features=CoreFeatures.V2)
    for src, what in [
        ("(module (func (local (ref func))))", "function-references"),
        ("(module (type $t (func)) (func (param (ref null $t))))", "function-references"),
        ("(module (type $t (func)) (func (param funcref) (call_ref $t (local.get 0))))", "call_ref"),
        ("(module (func (param funcref) (drop (ref.as_non_null (local.get 0)))))", "ref.as_non_null"),
        ("(module (type $t (func)) (func (drop (ref.null $t))))", "function-references"),
        ("(module (func (result i32) (block (result (ref func)) (unreachable)) (drop) (i32.const 0)))",
         "function-references"),
        ("(module (func (drop (select (result (ref extern)) (unreachable)))))", "function-references"),
        ("(module (type $t (func)) (func (param funcref) (return_call_ref $t (local.get 0))))",
         "return_call_ref"),
        ("(module (type $t (func)) (func $f) (table 1 funcref (ref.func $f)) (elem declare func $f))",
         "function-references"),
    ]:
        with pytest.raises(wz.ValidationError) as e:
            rt.compile(src)
        assert "function-references" in e.value.reason and what in e.value.reason


@pytest.mark.parametrize("src, reason", [
    # a non-defaultable local must be set first, and the setting ends with its block
    ("(func (local (ref func)) (drop (local.get 0)))", "uninitialized local"),
    ("(func $f (local (ref func)) (block (local.set 0 (ref.func $f))) (drop (local.get 0)))"
     " (elem declare func $f)", "uninitialized local"),
    # a table of a non-nullable type needs an initialiser
    ("(table 1 (ref func))", "type mismatch"),
    # (ref $t) is not (ref $u) for a different $u, funcref not (ref func)
    ("(type $t (func)) (type $u (func (param i32))) (func $f (type $t))"
     " (func (result (ref $u)) (ref.func $f)) (elem declare func $f)", "type mismatch"),
    ("(func (param funcref) (result (ref func)) (local.get 0))", "type mismatch"),
    # br_on_non_null needs a label ending with a reference
    ("(func (param funcref) (block $l (br_on_non_null $l (local.get 0))))", "type mismatch"),
    # a type refers to earlier types only (no recursion groups without GC)
    ("(type (func (param (ref 1)))) (type (func))", "unknown type"),
])
def test_invalid_typed_reference_modules(src, reason):
    with pytest.raises(wz.ValidationError) as e:
        runtime().compile(f"(module {src})")
    assert e.value.reason.startswith(reason)


def test_valid_subtyping_uses():
    runtime().compile("""(module
      (type $t (func)) (type $u (func))
      (func $f (type $t)) (elem declare func $f)
      (global (ref null $u) (ref.func $f))         ;; equivalent types
      (func (result funcref) (ref.func $f))          ;; (ref $t) <: funcref
      (func (result (ref null $t)) (ref.null nofunc))
      (func (param (ref $t)) (local $l (ref $t)) (local.set $l (local.get 0)) (call_ref $u (local.get $l)))
      (func (param funcref) (result (ref func))
        (block $l (result (ref func)) (br_on_non_null $l (local.get 0)) (unreachable))))""")


# --- both engines ---------------------------------------------------------------------

@pytest.mark.parametrize("engine", ENGINES)
def test_call_ref_and_traps(engine):
    with runtime(engine) as rt:
        inst = rt.instantiate(rt.compile(TYPED))
        f, b = inst.exports["f"], inst.exports["b"]
        tab = inst.exports.get("tab")
        assert tab is None
        dbl = rt.instantiate(rt.compile(
            '(module (func (export "d") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2))))'
        )).exports["d"]
        assert f(dbl, 21) == 42
        with pytest.raises(wz.Trap) as e:
            f(None, 1)
        assert "null reference" in str(e.value)
        assert b(None) == 1 and b(dbl) == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_call_ref_null_and_br_on_non_null(engine):
    with runtime(engine) as rt:
        inst = rt.instantiate(rt.compile("""(module
          (type $t (func (result i32)))
          (func $seven (type $t) (i32.const 7)) (elem declare func $seven)
          (func (export "null") (result i32) (call_ref $t (ref.null $t)))
          (func (export "nn") (param (ref null $t)) (result i32)
            (block $l (result (ref $t)) (br_on_non_null $l (local.get 0)) (return (i32.const -1)))
            (call_ref $t))
          (func (export "seven") (result (ref $t)) (ref.func $seven)))"""))
        with pytest.raises(wz.Trap) as e:
            inst.exports["null"]()
        assert "null function reference" in str(e.value)
        assert inst.exports["nn"](None) == -1
        assert inst.exports["nn"](inst.exports["seven"]()) == 7


@pytest.mark.parametrize("engine", ENGINES)
def test_table_initialiser_and_typed_global(engine):
    with runtime(engine) as rt:
        inst = rt.instantiate(rt.compile("""(module
          (type $t (func (result i32)))
          (global $base i32 (i32.const 5))
          (func $five (type $t) (global.get $base))
          (table $tab (export "tab") 4 (ref $t) (ref.func $five))
          (global (export "g") (ref $t) (ref.func $five))
          (func (export "call") (param i32) (result i32) (call_indirect $tab (type $t) (local.get 0))))"""))
        assert [inst.exports["call"](i) for i in range(4)] == [5, 5, 5, 5]
        tab = inst.exports["tab"]
        assert all(tab.get(i) == inst.exports["g"].value for i in range(4))
        assert str(tab.elem_type) == "(ref (func (result i32)))" and not tab.elem_type.nullable
        with pytest.raises(TypeError):
            tab.set(0, None)   # not nullable


@pytest.mark.parametrize("engine", ENGINES)
def test_concrete_types_match_structurally_across_modules(engine):
    with runtime(engine) as rt:
        # (other types first, so the canonical ids are not the type indices)
        rt.compile("(module (type (func (param i64 i64))) (type (func (param (ref null 0)))))")
        a = rt.instantiate(rt.compile("""(module
          (type $x (func (param f64)))
          (type $t (func (param i32) (result i32)))
          (type $u (func (param (ref $t)) (result i32)))
          (func $inc (export "inc") (type $t) (i32.add (local.get 0) (i32.const 1)))
          (func $apply (export "apply") (type $u) (call_ref $t (i32.const 41) (local.get 0)))
          (table (export "tab") 2 funcref) (elem (i32.const 0) $apply)
          (global (export "g") (ref $t) (ref.func $inc)))"""), wz.ModuleConfig(name="a"))
        b = rt.instantiate(rt.compile("""(module
          (type $t (func (param i32) (result i32)))
          (type $u (func (param (ref $t)) (result i32)))
          (import "a" "apply" (func $apply (type $u)))
          (import "a" "tab" (table 2 funcref))
          (import "a" "g" (global $g (ref null $t)))
          (func (export "direct") (result i32) (call $apply (ref.as_non_null (global.get $g))))
          (func (export "indirect") (result i32)
            (call_indirect (type $u) (ref.as_non_null (global.get $g)) (i32.const 0))))"""))
        assert b.exports["direct"]() == 42 and b.exports["indirect"]() == 42
        # a different type: the import does not match, the indirect call traps
        with pytest.raises(wz.LinkError):
            rt.instantiate(rt.compile("""(module (type $t (func (param i64) (result i32)))
              (import "a" "g" (global (ref null $t))))"""))
        c = rt.instantiate(rt.compile("""(module
          (type $t (func (param i64) (result i32)))
          (type $u (func (param (ref $t)) (result i32)))
          (import "a" "tab" (table 2 funcref))
          (func (export "bad") (param (ref $t)) (result i32)
            (call_indirect (type $u) (local.get 0) (i32.const 0))))"""))
        i64f = rt.instantiate(rt.compile(
            '(module (func (export "h") (param i64) (result i32) (i32.wrap_i64 (local.get 0))))')).exports["h"]
        with pytest.raises(wz.Trap) as e:
            c.exports["bad"](i64f)
        assert "indirect call type mismatch" in str(e.value)


# --- the API ----------------------------------------------------------------------------

def test_reftype_descriptions():
    f = RefType.of("func")
    assert f == FUNCREF and hash(f) == hash(FUNCREF) and str(f) == "(ref null func)"
    assert f.nullable and f.heap == "func"
    e = RefType.of("extern", nullable=False)
    assert str(e) == "(ref extern)" and e == ref_type(HT_EXTERN, False)
    t = RefType.of(FuncType((I32,), (I32,)), nullable=False)
    assert str(t) == "(ref (func (param i32) (result i32)))"
    assert t.heap == FuncType((I32,), (I32,)) and t == RefType.of(FuncType((I32,), (I32,)), False)
    assert t != RefType.of(FuncType((I32,), (I32,))) and t != RefType.of(FuncType((I64,), (I32,)), False)
    nested = RefType.of(FuncType((t,), ()))
    assert str(nested) == "(ref null (func (param (ref (func (param i32) (result i32))))))"
    with pytest.raises(ValueError):
        RefType.of("nothing")


def test_types_at_the_api_are_described():
    with runtime() as rt:
        cm = rt.compile("""(module
          (type $t (func (param i32) (result i32)))
          (import "h" "g" (global (ref null $t)))
          (func $id (export "id") (type $t) (local.get 0)) (elem declare func $id)
          (global (export "gf") (ref $t) (ref.func $id))
          (table (export "tab") 1 (ref null $t))
          (func (export "f") (param (ref $t) funcref) (result (ref null extern)) (ref.null noextern)))""")
        t = RefType.of(FuncType((I32,), (I32,)))
        (imp,) = cm.imports
        assert imp.type.valtype == t and str(imp.type) == "(ref null (func (param i32) (result i32)))"
        exports = {e.name: e.type for e in cm.exports}
        assert exports["gf"].valtype == RefType.of(FuncType((I32,), (I32,)), False)
        assert exports["tab"].elem_type == t
        assert str(exports["f"]) == "[(ref (func (param i32) (result i32))) funcref] -> [externref]"
        rt.host_module("h").global_("g", t, None).instantiate()
        inst = rt.instantiate(cm)
        f = inst.exports["f"]
        assert f.type.params[0].heap == FuncType((I32,), (I32,)) and f.type.params[1] == FUNCREF
        assert isinstance(f.type.params[1], RefType) and f.type.params[1].heap == "func"
        assert inst.exports["gf"].type == exports["gf"].valtype
        assert f(inst.exports["id"], None) is None
        with pytest.raises(TypeError):
            f(None, None)   # (ref $t) is not nullable
        wrong = rt.instantiate(rt.compile('(module (func (export "w") (param i64)))')).exports["w"]
        with pytest.raises(TypeError) as e:
            f(wrong, None)
        assert "is not a (ref (func (param i32) (result i32)))" in str(e.value)


@pytest.mark.parametrize("engine", ENGINES)
def test_host_functions_with_typed_references(engine):
    with runtime(engine) as rt:
        t = RefType.of(FuncType((I32,), (I32,)), nullable=False)
        (rt.host_module("h")
         .function("twice", lambda fn, x: fn(fn(x)), params=[t, I32], results=[I32])
         .function("pick", lambda: picked[0], results=[t])
         .instantiate())
        inst = rt.instantiate(rt.compile("""(module
          (type $t (func (param i32) (result i32)))
          (import "h" "twice" (func $twice (param (ref $t) i32) (result i32)))
          (import "h" "pick" (func $pick (result (ref $t))))
          (func $inc (export "inc") (type $t) (i32.add (local.get 0) (i32.const 1)))
          (elem declare func $inc)
          (func (export "run") (result i32) (call $twice (ref.func $inc) (i32.const 40)))
          (func (export "via_pick") (result i32) (call_ref $t (i32.const 1) (call $pick))))"""))
        picked = [inst.exports["inc"]]
        assert inst.exports["run"]() == 42 and inst.exports["via_pick"]() == 2
        # a host function returning a function of the wrong type is an error, not UB
        picked[0] = rt.instantiate(rt.compile('(module (func (export "v")))')).exports["v"]
        with pytest.raises(TypeError):
            inst.exports["via_pick"]()


def test_return_call_ref_needs_tail_calls_too():
    rt = runtime(features=CoreFeatures.V2 | CoreFeatures.FUNCTION_REFERENCES)
    with pytest.raises(wz.ValidationError) as e:
        rt.compile("(module (type $t (func)) (func (param (ref $t)) (return_call_ref $t (local.get 0))))")
    assert e.value.reason == "return_call_ref requires the tail-call feature"
    rt.compile("(module (type $t (func)) (func (param (ref $t)) (call_ref $t (local.get 0))))")


def test_link_errors_spell_typed_references_out():
    with runtime() as rt:
        rt.instantiate(rt.compile("""(module (type $t (func (param i32)))
          (func $f (export "f") (type $t)) (elem declare func $f)
          (global (export "g") (ref $t) (ref.func $f)))"""), wz.ModuleConfig(name="a"))
        with pytest.raises(wz.LinkError) as e:
            rt.instantiate(rt.compile("(module (type $t (func (param i64))) (import \"a\" \"g\" (global (ref $t))))"))
        assert str(e.value).endswith("expected global (ref (func (param i64))), "
                                     "got global (ref (func (param i32)))")


def test_inspect_shows_typed_references(tmp_path):
    import io

    from pywazero import cli

    path = tmp_path / "m.wat"
    path.write_text("""(module (type $t (func (param i32) (result i32)))
      (import "h" "g" (global (ref null $t)))
      (func $f (export "f") (type $t) (local.get 0)) (elem declare func $f)
      (table (export "tab") 1 (ref $t) (ref.func $f)))""")
    out = io.BytesIO()
    assert cli.main(["inspect", str(path)], stdout=out, stderr=io.BytesIO()) == 0
    text = out.getvalue().decode()
    assert "h.g: global (ref null (func (param i32) (result i32)))" in text
    assert "tab: table (ref (func (param i32) (result i32))) min 1" in text
    assert "0: (ref (func (param i32) (result i32))) min 1" in text


@pytest.mark.parametrize("engine", ENGINES)
def test_call_ref_and_return_call_ref_of_a_host_function(engine):
    with runtime(engine) as rt:
        rt.host_module("h").function("neg", lambda x: -x, params=[I32], results=[I32]).instantiate()
        inst = rt.instantiate(rt.compile("""(module
          (type $t (func (param i32) (result i32)))
          (import "h" "neg" (func $neg (type $t))) (elem declare func $neg)
          (func (export "call") (param i32) (result i32) (call_ref $t (local.get 0) (ref.func $neg)))
          (func (export "tail") (param i32) (result i32) (return_call_ref $t (local.get 0) (ref.func $neg)))
          (func (export "count") (param i32) (result i32)   ;; a long chain of return_call_ref
            (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 7))
              (else (return_call_ref $t (i32.sub (local.get 0) (i32.const 1)) (ref.func 3))))))"""))
        assert inst.exports["call"](5) == -5 and inst.exports["tail"](6) == -6
        assert inst.exports["count"](100_000) == 7


@pytest.mark.parametrize("engine", ENGINES)
def test_nullable_locals_of_every_reference_type_start_null(engine):
    with runtime(engine) as rt:
        inst = rt.instantiate(rt.compile("""(module (type $t (func))
          (func (export "f") (result i32)
            (local (ref null $t)) (local nullexternref) (local nullfuncref) (local (ref null func))
            (i32.add (i32.add (ref.is_null (local.get 0)) (ref.is_null (local.get 1)))
                     (i32.add (ref.is_null (local.get 2)) (ref.is_null (local.get 3))))))"""))
        assert inst.exports["f"]() == 4
