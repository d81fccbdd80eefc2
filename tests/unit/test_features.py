"""CoreFeatures: each flag's effect on decoding, validation and the Runtime."""
from __future__ import annotations

import pytest

import pywazero
from pywazero import CoreFeatures, DecodeError, Runtime, RuntimeConfig, ValidationError, wat2wasm
from pywazero.binary.decoder import decode_module
from pywazero.text.parser import parse_module_text
from pywazero.wasm.features import check_features, feature_name
from pywazero.wasm.validation import validate_function, validate_module

from ._wasm_bytes import uleb

V1, V2 = CoreFeatures.V1, CoreFeatures.V2
ALL_FLAGS = [CoreFeatures.MUTABLE_GLOBAL, CoreFeatures.SIGN_EXTENSION_OPS,
             CoreFeatures.NONTRAPPING_FLOAT_TO_INT, CoreFeatures.MULTI_VALUE,
             CoreFeatures.BULK_MEMORY, CoreFeatures.REFERENCE_TYPES, CoreFeatures.SIMD]


def without(flag):
    return V2 & ~flag


def compile_with(features, source):
    """Decode ``source`` (text is first turned into a binary, validated under 2.0)
    and validate it under ``features``; return the Module."""
    data = wat2wasm(source) if isinstance(source, str) else source
    module = decode_module(data, features)
    validate_module(module, features)
    return module


def reason(features, source):
    with pytest.raises(pywazero.CompileError) as info:
        compile_with(features, source)
    return info.value.reason


def invalid_text(features, source):
    """The validator's reason for the text module ``source`` under ``features`` (the
    text format has no binary encodings to reject first)."""
    module = parse_module_text(source)
    validate_module(module)
    with pytest.raises(ValidationError) as info:
        validate_module(parse_module_text(source), features)
    return info.value.reason


# --- hand-built binaries -------------------------------------------------------------

def section(sid, *items, raw=None):
    payload = raw if raw is not None else uleb(len(items)) + b"".join(items)
    return bytes([sid]) + uleb(len(payload)) + payload


def binary(*sections):
    return b"\0asm\x01\0\0\0" + b"".join(sections)


TYPE_VOID = section(1, b"\x60\x00\x00")          # type 0: [] -> []
FUNC_0 = section(3, b"\x00")                    # one function of type 0
TABLE = section(4, b"\x70\x00\x00")             # funcref table, min 0
MEMORY = section(5, b"\x00\x01")                # memory, min 1


def code(body):
    """A code section with one function: no locals, ``body`` then end."""
    fn = b"\x00" + body + b"\x0b"
    return section(10, uleb(len(fn)) + fn)


# --- the flag type and its plumbing ----------------------------------------------------

def test_sets():
    assert V1 == CoreFeatures.MUTABLE_GLOBAL
    for flag in ALL_FLAGS:
        assert flag in V2
    assert int(V2) == sum(int(f) for f in ALL_FLAGS)
    assert CoreFeatures.SIMD not in V1
    assert V1.feature_names() == ["mutable-global"]
    assert without(CoreFeatures.SIMD).feature_names() == [
        "mutable-global", "sign-extension-ops", "nontrapping-float-to-int", "multi-value",
        "bulk-memory", "reference-types"]
    assert feature_name(CoreFeatures.BULK_MEMORY) == "bulk-memory"
    assert pywazero.CoreFeatures is CoreFeatures and "CoreFeatures" in pywazero.__all__


def test_check_features():
    assert check_features(V1) is V1
    # ~flag is negative on Python < 3.11: it means "all but flag"
    assert check_features(CoreFeatures(-1 - int(CoreFeatures.SIMD))) == CoreFeatures.ALL & ~CoreFeatures.SIMD
    assert CoreFeatures.LEGACY_EXCEPTIONS not in CoreFeatures.V3 and CoreFeatures.GC in CoreFeatures.V3
    assert CoreFeatures.DEFAULT == CoreFeatures.V3 and CoreFeatures.LEGACY_EXCEPTIONS not in CoreFeatures.DEFAULT
    with pytest.raises(TypeError):
        check_features(3)
    with pytest.raises(TypeError):
        decode_module(b"\0asm\x01\0\0\0", "V1")
    with pytest.raises(TypeError):
        validate_module(decode_module(b"\0asm\x01\0\0\0"), None)


def test_runtime_config():
    assert RuntimeConfig().core_features == CoreFeatures.DEFAULT
    assert RuntimeConfig(core_features=V1).core_features == V1
    assert RuntimeConfig(core_features=~CoreFeatures.SIMD).core_features == CoreFeatures.ALL & ~CoreFeatures.SIMD
    with pytest.raises(TypeError):
        RuntimeConfig(core_features=127)


def test_runtime_compile_uses_the_features():
    src = "(module (func (param i32) (result i32) local.get 0 i32.extend8_s))"
    Runtime(RuntimeConfig(engine="interpreter")).compile(src)
    rt = Runtime(RuntimeConfig(engine="interpreter", core_features=V1))
    with pytest.raises(ValidationError) as info:
        rt.compile(src)
    assert info.value.reason == "i32.extend8_s requires the sign-extension-ops feature"
    assert info.value.instruction == "i32.extend8_s" and info.value.func_index == 0
    # binary input goes through the decoder with the features too
    bad = binary(TYPE_VOID, FUNC_0, TABLE, code(b"\x41\x00\x11\x00\x80\x00"))
    Runtime(RuntimeConfig(engine="interpreter")).compile(bad)
    with pytest.raises(DecodeError, match="zero flag expected"):
        rt.compile(bad)


# --- instructions of each feature -----------------------------------------------------

FUNCS = ("(type $v (func)) (func $f) (table $t 1 funcref) (memory 1)"
         " (data $d (i32.const 0) \"x\") (elem $e (i32.const 0) func $f)")

INSTRUCTIONS = [
    (CoreFeatures.SIGN_EXTENSION_OPS, "i32.extend8_s", "(drop (i32.extend8_s (i32.const 1)))"),
    (CoreFeatures.SIGN_EXTENSION_OPS, "i64.extend32_s", "(drop (i64.extend32_s (i64.const 1)))"),
    (CoreFeatures.NONTRAPPING_FLOAT_TO_INT, "i32.trunc_sat_f32_s",
     "(drop (i32.trunc_sat_f32_s (f32.const 1)))"),
    (CoreFeatures.NONTRAPPING_FLOAT_TO_INT, "i64.trunc_sat_f64_u",
     "(drop (i64.trunc_sat_f64_u (f64.const 1)))"),
    (CoreFeatures.SIMD, "v128.const", "(drop (v128.const i32x4 0 0 0 0))"),
    (CoreFeatures.SIMD, "i32x4.splat", "(drop (i32x4.splat (i32.const 1)))"),
    (CoreFeatures.BULK_MEMORY, "memory.fill", "(memory.fill (i32.const 0) (i32.const 0) (i32.const 0))"),
    (CoreFeatures.BULK_MEMORY, "memory.copy", "(memory.copy (i32.const 0) (i32.const 0) (i32.const 0))"),
    (CoreFeatures.BULK_MEMORY, "memory.init", "(memory.init $d (i32.const 0) (i32.const 0) (i32.const 0))"),
    (CoreFeatures.BULK_MEMORY, "data.drop", "(data.drop $d)"),
    (CoreFeatures.BULK_MEMORY, "table.init", "(table.init $e (i32.const 0) (i32.const 0) (i32.const 0))"),
    (CoreFeatures.BULK_MEMORY, "elem.drop", "(elem.drop $e)"),
    (CoreFeatures.BULK_MEMORY, "table.copy", "(table.copy (i32.const 0) (i32.const 0) (i32.const 0))"),
    (CoreFeatures.REFERENCE_TYPES, "ref.null", "(drop (ref.null func))"),
    (CoreFeatures.REFERENCE_TYPES, "ref.func", "(drop (ref.func $f))"),
    (CoreFeatures.REFERENCE_TYPES, "table.get", "(drop (table.get $t (i32.const 0)))"),
    (CoreFeatures.REFERENCE_TYPES, "table.size", "(drop (table.size $t))"),
    (CoreFeatures.REFERENCE_TYPES, "typed select",
     "(drop (select (result i32) (i32.const 1) (i32.const 2) (i32.const 0)))"),
]


@pytest.mark.parametrize("feature,name,instr", INSTRUCTIONS, ids=[i[1] for i in INSTRUCTIONS])
def test_instruction_needs_its_feature(feature, name, instr):
    src = f"(module {FUNCS} (func {instr}))"
    assert invalid_text(without(feature), src) == f"{name} requires the {feature_name(feature)} feature"
    if name not in ("memory.init", "data.drop"):  # (they need a data count section)
        assert reason(without(feature), src) == f"{name} requires the {feature_name(feature)} feature"


@pytest.mark.parametrize("feature,name,instr", INSTRUCTIONS, ids=[i[1] for i in INSTRUCTIONS])
def test_instruction_with_only_its_feature(feature, name, instr):
    # 1.0 plus the one feature accepts it: the flags are independent switches.
    fields = FUNCS
    if name == "ref.func":
        fields += " (elem declare func $f)"
    src = f"(module {fields} (func {instr}))"
    compile_with(V1 | feature, src)


def test_disabled_instruction_in_a_constant_expression():
    src = "(module (table 1 funcref) (elem (i32.const 0) funcref (ref.null func)))"
    assert invalid_text(V1, src) == "ref.null requires the reference-types feature"
    assert reason(V1, src).startswith("malformed elements segment kind")  # flags 4
    # a 1.0 function index vector is fine (ref.func items internally)
    compile_with(V1, "(module (table 1 funcref) (func $f) (elem (i32.const 0) $f))")


# --- value types -----------------------------------------------------------------------

@pytest.mark.parametrize("feature,src,msg", [
    (CoreFeatures.SIMD, "(module (func (local v128)))", "v128 requires the simd feature"),
    (CoreFeatures.SIMD, "(module (func (param v128)))", "v128 requires the simd feature"),
    (CoreFeatures.SIMD, "(module (global v128 (v128.const i64x2 0 0)))", "v128 requires the simd feature"),
    (CoreFeatures.REFERENCE_TYPES, "(module (func (local funcref)))",
     "funcref requires the reference-types feature"),
    (CoreFeatures.REFERENCE_TYPES, "(module (func (result externref) (ref.null extern)))",
     "externref requires the reference-types feature"),
    (CoreFeatures.REFERENCE_TYPES, "(module (func (block (result funcref) (ref.null func)) drop))",
     "funcref requires the reference-types feature"),
    (CoreFeatures.REFERENCE_TYPES, "(module (table 1 externref))",
     "a table of externref requires the reference-types feature"),
    (CoreFeatures.REFERENCE_TYPES, '(module (import "m" "t" (table 1 externref)))',
     "a table of externref requires the reference-types feature"),
])
def test_value_types(feature, src, msg):
    compile_with(V2, src)
    assert reason(without(feature), src) == msg


def test_funcref_tables_are_1_0():
    compile_with(V1, '(module (import "m" "t" (table 1 funcref)))')
    compile_with(V1, "(module (table 1 funcref))")


# --- multi-value -------------------------------------------------------------------------

@pytest.mark.parametrize("src", [
    "(module (func (result i32 i32) unreachable))",
    "(module (type (func (result i32 i32))))",
    "(module (func i32.const 1 (block (param i32) drop)))",
    "(module (type $t (func (param i32))) (func i32.const 1 (block (type $t) drop)))",
    "(module (func (block (result i32 i32) unreachable) drop drop))",
])
def test_multi_value(src):
    compile_with(V2, src)
    assert reason(without(CoreFeatures.MULTI_VALUE), src) == "invalid result arity"


def test_single_result_type_index_blocks_are_fine():
    src = "(module (type $t (func (result i32))) (func (result i32) (block (type $t) (i32.const 1))))"
    compile_with(V1, src)


# --- reference types: tables, call_indirect, br_table ------------------------------------

@pytest.mark.parametrize("src", [
    '(module (import "" "" (table 10 funcref)) (import "" "" (table 10 funcref)))',
    '(module (import "" "" (table 10 funcref)) (table 10 funcref))',
    "(module (table 10 funcref) (table 10 funcref))",
])
def test_multiple_tables(src):
    compile_with(V2, src)
    assert reason(without(CoreFeatures.REFERENCE_TYPES), src) == "multiple tables"


@pytest.mark.parametrize("table_bytes", [b"\x80\x00", b"\x80\x80\x00", b"\x01"])
def test_call_indirect_zero_flag(table_bytes):
    data = binary(TYPE_VOID, FUNC_0, TABLE, code(b"\x41\x00\x11\x00" + table_bytes))
    decode_module(data)  # a table index (LEB128) in 2.0
    with pytest.raises(DecodeError) as info:
        decode_module(data, without(CoreFeatures.REFERENCE_TYPES))
    assert info.value.reason == "zero flag expected"
    # the plain zero byte is fine under 1.0
    ok = binary(TYPE_VOID, FUNC_0, TABLE, code(b"\x41\x00\x11\x00\x00"))
    m = compile_with(V1, ok)
    assert m.funcs[0].body[1] == (0x11, (0, 0))


@pytest.mark.parametrize("op", [b"\x3f", b"\x40"])  # memory.size, memory.grow
def test_memory_reserved_byte(op):
    arg = b"\x41\x00" if op == b"\x40" else b""
    data = binary(TYPE_VOID, FUNC_0, MEMORY, code(arg + op + b"\x80\x00\x1a"))
    with pytest.raises(DecodeError) as info:
        decode_module(data)
    assert info.value.reason == "zero byte expected"
    with pytest.raises(DecodeError) as info:
        decode_module(data, V1)
    assert info.value.reason == "zero flag expected"
    compile_with(V1, binary(TYPE_VOID, FUNC_0, MEMORY, code(arg + op + b"\x00\x1a")))


def test_br_table_1_0_rule():
    # labels of different types after unreachable: fine in 2.0, not in 1.0
    src = """(module (func
      (block (result f64)
        (block (result f32)
          (unreachable)
          (br_table 0 1 1 (i32.const 1)))
        (drop)
        (f64.const 0))
      (drop)))"""
    compile_with(V2, src)
    assert reason(without(CoreFeatures.REFERENCE_TYPES), src) == (
        "type mismatch: expected label 0 of the default's [f64] (1.0 br_table), found [f32]")
    # same types are fine under 1.0
    compile_with(V1, """(module (func (result i32)
      (block (result i32) (block (result i32) (br_table 0 1 0 (i32.const 1) (i32.const 0))))))""")


# --- bulk memory: segments and the data count section --------------------------------------

def test_passive_segments():
    data_src = '(module (memory 1) (data "x"))'
    compile_with(V2, data_src)
    assert reason(without(CoreFeatures.BULK_MEMORY), data_src).startswith("malformed data segment kind")
    elem_src = "(module (func $f) (elem func $f))"
    compile_with(V2, elem_src)
    assert reason(V1, elem_src).startswith("malformed elements segment kind")
    # either bulk memory or reference types allows the new element segment encodings
    compile_with(V1 | CoreFeatures.BULK_MEMORY, elem_src)
    compile_with(V1 | CoreFeatures.REFERENCE_TYPES, elem_src)
    # the text format reaches the validator directly
    from pywazero.text.parser import parse_module_text

    m = parse_module_text(data_src)
    with pytest.raises(ValidationError, match="passive data segment requires the bulk-memory feature"):
        validate_module(m, V1)
    m = parse_module_text("(module (func $f) (elem declare func $f))")
    with pytest.raises(ValidationError, match="declarative element segment requires"):
        validate_module(m, V1)


def test_active_segments_are_1_0():
    compile_with(V1, '(module (memory 1) (data (i32.const 0) "x"))')
    compile_with(V1, "(module (table 1 funcref) (func $f) (elem (i32.const 0) $f))")


def test_data_count_section():
    data = binary(section(12, raw=b"\x00"))
    decode_module(data)
    with pytest.raises(DecodeError) as info:
        decode_module(data, without(CoreFeatures.BULK_MEMORY))
    assert info.value.reason.startswith("malformed section id")


# --- mutable globals -------------------------------------------------------------------------

def test_mutable_globals():
    none = CoreFeatures(0)
    exp = '(module (global (export "g") (mut i32) (i32.const 0)))'
    imp = '(module (import "m" "g" (global (mut i32))))'
    compile_with(V1, exp)
    compile_with(V1, imp)
    assert reason(none, exp) == "exporting a mutable global requires the mutable-global feature"
    assert reason(none, imp) == "importing a mutable global requires the mutable-global feature"
    # immutable imports/exports and unexported mutable globals are fine
    compile_with(none, '(module (import "m" "g" (global i32)) (export "h" (global 0)))')
    compile_with(none, "(module (global (mut i32) (i32.const 0)) (func (global.set 0 (i32.const 1))))")


# --- everything on is 2.0 ------------------------------------------------------------------------

def test_v2_is_the_default():
    src = f"(module {FUNCS} (func (result i32 i32) (i32.const 1) (i32.const 2)))"
    m1 = decode_module(wat2wasm(src))
    m2 = decode_module(wat2wasm(src), V2)
    assert m1 == m2
    validate_module(m1)
    validate_module(m2, V2)


def test_validate_function_features():
    m = decode_module(wat2wasm("(module (func (drop (i32.extend16_s (i32.const 1)))))"))
    validate_function(m, 0)
    with pytest.raises(ValidationError, match="i32.extend16_s requires the sign-extension-ops feature"):
        validate_function(m, 0, V1)
