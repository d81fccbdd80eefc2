"""GC's type system: recursion groups, ``sub`` declarations, struct and array
types (decoder, text format, encoder, validator) and iso-recursive
canonicalisation (wasm/subtyping.py)."""
import pytest

from pywazero.binary.decoder import decode_module
from pywazero.binary.encoder import encode_module
from pywazero.errors import DecodeError, ValidationError
from pywazero.text.parser import parse_module_text
from pywazero.wasm.features import CoreFeatures
from pywazero.wasm.subtyping import cid_subtype, func_subtype, canonical_type, heap_subtype
from pywazero.wasm.types import (
    HT_ANY, HT_ARRAY, HT_EQ, HT_FUNC, HT_I31, HT_NONE, HT_NOFUNC, HT_STRUCT, I8, I16, I32,
    ArrayType, FieldType, StructType, ref_type,
)
from pywazero.wasm.validation import validate_module

V3 = CoreFeatures.V3


def parse(text):
    return parse_module_text(text, V3)


def test_text_struct_array_sub_rec():
    m = parse("""(module
      (type $pt (sub (struct (field $x (mut i32)) (field i8 (mut i16)))))
      (rec (type $a (sub $pt (struct (field (mut i32)) (field i8) (field (mut i16)) (field (ref null $b)))))
           (type $b (array (mut (ref null $a)))))
      (type $f (sub final (func (param anyref) (result eqref)))))""")
    assert m.types[0] == StructType((FieldType(I32, True), FieldType(I8), FieldType(I16, True)))
    assert m.types[2] == ArrayType(FieldType(ref_type(1), True))
    assert m.rec_groups == [(1, 2)]
    # (``sub final`` without supertypes is the plain form: not recorded)
    assert m.subtypes == {0: (False, ()), 1: (False, (0,))}
    validate_module(m, V3)


def test_binary_round_trip():
    m = parse("""(module (rec (type (sub (struct (field (mut i8))))) (type (sub 0 (struct (field (mut i8)) (field i64)))))
                 (rec) (type (array i16)))""")
    data = encode_module(m)
    m2 = decode_module(data, V3)
    assert m2.types == m.types and m2.subtypes == m.subtypes
    assert m2.rec_groups == [(0, 2), (2, 0)]
    assert encode_module(m2) == data


def test_malformed_mutability():
    data = b"\0asm\1\0\0\0" + bytes([1, 4, 1, 0x5E, 0x78, 2])
    with pytest.raises(DecodeError, match="malformed mutability"):
        decode_module(data, V3)


def test_iso_recursive_canonicalisation_across_modules():
    src = "(module (rec (type (func (param (ref 1)))) (type (struct (field (ref null 0))))) (type (func)))"
    a = parse(src)
    b = parse("(module (type (func (result i32))) (rec (type (func (param (ref 2)))) "
              "(type (struct (field (ref null 1))))) (type (func)))")
    ca, cb = a.canonical_ids(), b.canonical_ids()
    assert ca == cb[1:]
    # the same structure in another group position is another type
    c = parse("(module (rec (type (struct (field (ref null 1)))) (type (func (param (ref 0))))))")
    cc = c.canonical_ids()
    assert cc[1] != ca[0] and cc[0] != ca[1]
    # a group member is not its structurally equal singleton
    d = parse("(module (rec (type (func)) (type (struct))) (type (func)))")
    cd = d.canonical_ids()
    assert cd[0] != cd[2]
    assert canonical_type(cd[0]) != canonical_type(cd[2])


def test_declared_subtyping_and_abstract_hierarchy():
    m = parse("""(module (type $s (sub (struct))) (type $t (sub $s (struct (field i32))))
                 (type $u (sub $t (struct (field i32) (field i64)))) (type $f (sub (func)))
                 (type $g (sub $f (func))) (type $arr (array i8)))""")
    validate_module(m, V3)
    c = m.canonical_ids()
    assert cid_subtype(c[2], c[0]) and cid_subtype(c[2], c[1]) and not cid_subtype(c[0], c[2])
    assert func_subtype(canonical_type(c[4]), canonical_type(c[3]))
    assert not func_subtype(canonical_type(c[3]), canonical_type(c[4]))
    assert heap_subtype(0, HT_STRUCT, c) and heap_subtype(0, HT_EQ, c) and heap_subtype(0, HT_ANY, c)
    assert not heap_subtype(0, HT_ARRAY, c) and heap_subtype(5, HT_ARRAY, c)
    assert heap_subtype(HT_NONE, 2, c) and not heap_subtype(HT_NOFUNC, 2, c)
    assert heap_subtype(HT_NOFUNC, 3, c) and heap_subtype(3, HT_FUNC, c) and not heap_subtype(3, HT_ANY, c)
    assert heap_subtype(HT_I31, HT_EQ) and not heap_subtype(HT_EQ, HT_I31)


@pytest.mark.parametrize("text, reason", [
    ("(module (type (struct)) (type (sub 0 (struct))))", "final"),
    ("(module (type (sub (struct (field i32)))) (type (sub 0 (struct (field i64)))))", "sub type"),
    ("(module (type (sub (struct (field (mut i32))))) (type (sub 0 (struct (field i32)))))", "sub type"),
    ("(module (type (sub (func (param i32)))) (type (sub 0 (struct))))", "sub type"),
    ("(module (type (sub 1 (struct))) (type (sub (struct))))", "unknown type"),
    ("(module (type (func (param (ref 1)))) (type (func)))", "unknown type"),
    ("(module (type (struct)) (func (type 0)))", "not a function type"),
])
def test_invalid_types(text, reason):
    with pytest.raises(ValidationError, match=reason):
        validate_module(parse(text), V3)


def test_gc_types_need_the_feature():
    with pytest.raises(ValidationError, match="gc"):
        validate_module(parse("(module (type (struct)))"), V3 & ~CoreFeatures.GC)
    with pytest.raises(ValidationError, match="gc"):
        validate_module(parse("(module (rec (type (func))))"), V3 & ~CoreFeatures.GC)
