"""The WAT parser (pywazero.text.parser): text -> Module."""
from __future__ import annotations

import pytest

from pywazero.errors import DecodeError
from pywazero.text.lexer import Source, read_sexprs
from pywazero.text.parser import parse_module, parse_module_text
from pywazero.wasm.module import MODE_ACTIVE, MODE_DECLARATIVE, MODE_PASSIVE
from pywazero.wasm.opcodes import fc, fd
from pywazero.wasm.types import HT_FUNC, ref_type
from pywazero.wasm.types import (
    BLOCK_EMPTY, EXTERN_FUNC, EXTERN_GLOBAL, EXTERN_MEMORY, EXTERN_TABLE, EXTERNREF, F32,
    F64, FUNCREF, I32, I64, V128, FuncType, GlobalType, Limits, MemoryType, TableType,
)

END = (0x0B, None)
ELSE = (0x05, None)


def body(text: str, index: int = 0):
    return parse_module_text(text).funcs[index].body


def malformed(text: str, reason: str) -> DecodeError:
    with pytest.raises(DecodeError) as exc:
        parse_module_text(text)
    assert exc.value.reason.startswith(reason), exc.value.reason
    assert exc.value.line is not None and exc.value.column is not None
    return exc.value


# --- module structure ------------------------------------------------------------

def test_empty_and_implicit_module():
    m = parse_module_text("(module)")
    assert m.types == [] and m.funcs == [] and m.data_count is None and m.id is None
    m = parse_module_text("")
    assert m.funcs == []
    # Bare module fields form an implicit module.
    m = parse_module_text('(func (export "f")) (memory 1)')
    assert len(m.funcs) == 1 and m.mems == [MemoryType(Limits(1))]
    assert m.exports[0].name == "f"


def test_module_id_and_parse_module_from_tree():
    src = Source('(module $M (func $f (param $a i32) (local $b i64) (local i32)))')
    m = parse_module(src, read_sexprs(src)[0])
    assert m.id == "$M"
    assert m.names.module == "M"
    assert m.names.functions == {0: "f"}
    assert m.names.locals == {0: {0: "a", 1: "b"}}
    assert m.funcs[0].locals == [(1, I64), (1, I32)]
    assert m.funcs[0].offsets == []


def test_two_modules_are_rejected():
    malformed("(module) (module)", "unexpected token")


def test_function_basics_and_local_compression():
    m = parse_module_text("""(module
      (func (param i32 i64) (result f32) (local f64 f64) (local $x f64) (local i32)
        f32.const 1.5))""")
    f = m.funcs[0]
    assert m.types == [FuncType((I32, I64), (F32,))]
    assert f.type_index == 0
    assert f.locals == [(3, F64), (1, I32)]
    assert f.body == [(0x43, 0x3FC00000), END]


# --- types --------------------------------------------------------------------------

def test_implicit_types_follow_explicit_ones_in_order_of_first_use():
    m = parse_module_text("""(module
      (func $f (result f64) (f64.const 0))   ;; new implicit type
      (func $g (param i32))                  ;; reuses the explicit type below
      (func $h (result f64) (f64.const 1))   ;; reuses the implicit type
      (type $t (func (param i32)))
      (func (param i64) (result i64) (block (param i64) (result i64)))
      (func (call_indirect (param f32)) (block (result i32 i32) unreachable) drop drop))""")
    assert m.types == [
        FuncType((I32,), ()),          # explicit types come first
        FuncType((), (F64,)),          # $f
        FuncType((I64,), (I64,)),      # fifth function (its block reuses it)
        FuncType((), ()),              # last function's own type, before its body's
        FuncType((F32,), ()),          # its call_indirect
        FuncType((), (I32, I32)),      # its block
    ]
    assert [f.type_index for f in m.funcs] == [1, 0, 1, 2, 3]
    assert m.funcs[3].body[0] == (0x02, 2)
    assert m.funcs[4].body[:2] == [(0x11, (4, 0)), (0x02, 5)]


def test_type_use_with_matching_inline_signature():
    m = parse_module_text("""(module
      (type $sig (func (param i32) (result i32)))
      (func (type $sig) (param $x i32) (result i32) (local.get $x)))""")
    assert len(m.types) == 1
    assert m.funcs[0].type_index == 0
    assert m.funcs[0].body == [(0x20, 0), END]


def test_type_use_alone_counts_params_for_local_indices():
    m = parse_module_text("""(module
      (type $sig (func (param i32 i32)))
      (func (type $sig) (local $l i64) (local.get $l)))""")
    assert m.funcs[0].body == [(0x20, 2), END]


def test_inline_function_type_mismatch():
    malformed("(type $sig (func (param i32) (result i32)))"
              "(func (type $sig) (param i32) (i32.const 0))", "inline function type")
    malformed("(type $sig (func)) (func (type $sig) (result i32) (i32.const 0))",
              "inline function type")
    # An inline signature on a type that does not exist.
    malformed("(func (type 2) (param i32))", "unknown type")


def test_numeric_type_index_is_not_range_checked():
    m = parse_module_text("(func (type 7))")
    assert m.funcs[0].type_index == 7


def test_params_results_locals_order():
    malformed("(func (result i32) (param i32) (local.get 0))", "unexpected token")
    malformed("(func (local i32) (param i32))", "unexpected token")
    malformed("(func (nop) (local i32))", "unexpected token")
    malformed("(type (func (result i32) (param i32)))", "unexpected token")
    malformed("(func (param $x i32 i64))", "unexpected token")


# --- identifiers ---------------------------------------------------------------------

def test_forward_references_and_all_namespaces():
    m = parse_module_text("""(module
      (func $a (call $b) (global.get $g) drop (table.get $t (i32.const 0)) drop
        (memory.init $d (i32.const 0) (i32.const 0) (i32.const 0))
        (elem.drop $e) (data.drop $d))
      (func $b)
      (table $t0 1 funcref)
      (table $t 1 funcref)
      (memory $m 1)
      (global $g i32 (i32.const 0))
      (elem $e func $a $b)
      (data $d "x")
      (export "t" (table $t))
      (export "m" (memory $m))
      (export "g" (global $g))
      (export "b" (func $b))
      (start $b))""")
    b = m.funcs[0].body
    assert b[0] == (0x10, 1)
    assert b[1] == (0x23, 0)
    assert b[4] == (0x25, 1)
    assert (fc(8), (0, 0)) in b and (fc(13), 0) in b and (fc(9), 0) in b
    assert [(e.kind, e.index) for e in m.exports] == [
        (EXTERN_TABLE, 1), (EXTERN_MEMORY, 0), (EXTERN_GLOBAL, 0), (EXTERN_FUNC, 1)]
    assert m.start == 1
    assert m.data_count == 1
    assert m.elems[0].init == [[(0xD2, 0), END], [(0xD2, 1), END]]


def test_imports_come_first_in_index_spaces():
    m = parse_module_text("""(module
      (import "m" "f" (func $imp (param i32)))
      (func $g (import "m" "g") (result i32))
      (global $gi (import "m" "gl") (mut i64))
      (table $ti (import "m" "t") 1 2 externref)
      (memory $mi (import "m" "mem") 1)
      (func $local (call $imp (call $g)) (call $local)))""")
    assert [(i.module, i.name, i.kind) for i in m.imports] == [
        ("m", "f", EXTERN_FUNC), ("m", "g", EXTERN_FUNC), ("m", "gl", EXTERN_GLOBAL),
        ("m", "t", EXTERN_TABLE), ("m", "mem", EXTERN_MEMORY)]
    assert m.imports[2].desc == GlobalType(I64, True)
    assert m.imports[3].desc == TableType(EXTERNREF, Limits(1, 2))
    assert m.funcs[0].body == [(0x10, 1), (0x10, 0), (0x10, 2), END]
    assert m.names.functions == {0: "imp", 1: "g", 2: "local"}


@pytest.mark.parametrize("text, what", [
    ("(func) (import \"\" \"\" (func))", "function"),
    ("(global i32 (i32.const 0)) (import \"\" \"\" (func))", "global"),
    ("(table 0 funcref) (global (import \"\" \"\") i32)", "table"),
    ("(memory 0) (memory (import \"\" \"\") 0)", "memory"),
])
def test_import_after_definition(text, what):
    malformed(text, f"import after {what}")


@pytest.mark.parametrize("text, what", [
    ("(func $foo) (func $foo)", "duplicate func"),
    ("(import \"\" \"\" (func $foo)) (func $foo)", "duplicate func"),
    ("(global $g i32 (i32.const 0)) (global $g i32 (i32.const 0))", "duplicate global"),
    ("(table $t 0 funcref) (table $t 0 funcref)", "duplicate table"),
    ("(memory $m 0) (memory $m 0)", "duplicate memory"),
    ("(type $t (func)) (type $t (func))", "duplicate type"),
    ("(elem $e func) (elem $e func)", "duplicate elem"),
    ("(data $d \"\") (data $d \"\")", "duplicate data"),
    ("(func (param $foo i32) (param $foo i32))", "duplicate local"),
    ("(func (param $foo i32) (local $foo i32))", "duplicate local"),
])
def test_duplicate_identifiers(text, what):
    malformed(text, what)


@pytest.mark.parametrize("text, what", [
    ("(func (call $nope))", "unknown func"),
    ("(func (local.get $nope))", "unknown local"),
    ("(func (global.get $nope))", "unknown global"),
    ("(func (br $nope))", "unknown label"),
    ("(func (type $nope))", "unknown type"),
    ("(func (table.size $nope))", "unknown table"),
    ("(func (elem.drop $nope))", "unknown elem"),
    ("(func (data.drop $nope))", "unknown data"),
    ("(export \"m\" (memory $nope))", "unknown memory"),
])
def test_unknown_identifiers(text, what):
    malformed(text, what)


def test_numeric_indices_are_kept_unchecked():
    b = body("(func (call 99) (local.get 5) (br 7) (global.get 3))")
    assert b == [(0x10, 99), (0x20, 5), (0x0C, 7), (0x23, 3), END]


# --- instructions: folded, flat, blocks and labels ----------------------------------

def test_folded_equals_flat():
    a = body("(func (param i32) (result i32)"
             " (i32.mul (i32.add (local.get 0) (i32.const 2)) (i32.const 3)))")
    b = body("(func (param i32) (result i32)"
             " local.get 0 i32.const 2 i32.add i32.const 3 i32.mul)")
    assert a == b == [(0x20, 0), (0x41, 2), (0x6A, None), (0x41, 3), (0x6C, None), END]


def test_labels_and_depths():
    b = body("""(func
      (block $outer (result i32)
        (loop $inner
          (br $inner) (br $outer (i32.const 1)) (br_if 0 (i32.const 0)))
        block $x br $x br $outer end $x
        (i32.const 0)))""")
    assert b == [
        (0x02, I32 - 0x80), (0x03, BLOCK_EMPTY),
        (0x0C, 0), (0x41, 1), (0x0C, 1), (0x41, 0), (0x0D, 0), END,
        (0x02, BLOCK_EMPTY), (0x0C, 0), (0x0C, 1), END,
        (0x41, 0), END, END]


def test_label_shadowing():
    b = body("(func (block $l (block $l (br $l))))")
    assert b[2] == (0x0C, 0)


def test_br_table():
    b = body("(func (block $a (block $b (br_table $a $b 0 (i32.const 0)))))")
    assert b[3] == (0x0E, ((1, 0), 0))
    malformed("(func (br_table))", "unexpected token")


@pytest.mark.parametrize("text", [
    "(func block end $l)",
    "(func block $a end $l)",
    "(func i32.const 0 if else $l end)",
    "(func i32.const 0 if $a else $l end)",
    "(func i32.const 0 if $a else $a end $l)",
    "(func loop $a end $b)",
])
def test_mismatching_label(text):
    malformed(text, "mismatching label")


def test_matching_end_labels():
    b = body("(func block $a end $a loop $b end $b i32.const 0 if $c else $c end $c)")
    assert b == [(0x02, BLOCK_EMPTY), END, (0x03, BLOCK_EMPTY), END, (0x41, 0),
                 (0x04, BLOCK_EMPTY), END, END]


def test_if_forms():
    folded = body("(func (result i32) (if (result i32) (i32.const 1)"
                  " (then (i32.const 2)) (else (i32.const 3))))")
    flat = body("(func (result i32) i32.const 1 if (result i32) i32.const 2 else i32.const 3 end)")
    assert folded == flat == [(0x41, 1), (0x04, -1), (0x41, 2), ELSE, (0x41, 3), END, END]
    # An empty else arm is left out (as wat2wasm does); both forms agree.
    assert body("(func (if (i32.const 1) (then (nop)) (else)))") == \
        body("(func i32.const 1 if nop else end)") == \
        [(0x41, 1), (0x04, BLOCK_EMPTY), (0x01, None), END, END]
    # Several folded condition operands.
    b = body("(func (if (i32.const 1) (i32.eqz) (then) (else)))")
    assert b == [(0x41, 1), (0x45, None), (0x04, BLOCK_EMPTY), END, END]
    # The label of a folded if covers its arms, not its condition.
    b = body("(func (block $b (if $i (br_if $b (i32.const 0) (i32.const 1)) (then (br $i)))))")
    assert b[3] == (0x0D, 0) and b[5] == (0x0C, 0)


def test_if_errors():
    malformed("(func (if (i32.const 0)))", "unexpected token")
    malformed("(func (if i32.const 0 (then) (else)))", "unexpected token")
    malformed("(func (if (i32.const 0) (then) (else) (else)))", "unexpected token")
    malformed("(func else)", "unexpected token")
    malformed("(func end)", "unexpected token")
    malformed("(func block)", "unexpected token")
    malformed("(func (block block))", "unexpected token")
    malformed("(func i32.const 0 if else else end)", "unexpected token")


def test_block_types():
    m = parse_module_text("""(module
      (type $v (func))
      (type $r (func (result f32)))
      (type $pr (func (param i32) (result i32)))
      (func
        (block (result i64) (i64.const 0)) drop
        (block (type $v))
        (block (type $r) (f32.const 0)) drop
        (block (param) (result i32) (i32.const 0)) drop
        (i32.const 0) (block (type $pr) (param i32) (result i32)) drop
        (block (result i32 i64) unreachable) drop drop))""")
    b = [ins for ins in m.funcs[0].body if ins[0] == 0x02]
    assert b == [(0x02, I64 - 0x80), (0x02, BLOCK_EMPTY), (0x02, F32 - 0x80),
                 (0x02, I32 - 0x80), (0x02, 2), (0x02, 3)]
    assert m.types[3] == FuncType((), (I32, I64))
    # The function's own type [] -> [] reuses $v.
    assert m.funcs[0].type_index == 0
    malformed("(func (block (param $x i32)))", "unexpected token")


def test_deep_nesting_does_not_recurse():
    n = 20000
    b = body("(func " + "(block " * n + ")" * n + ")")
    assert len(b) == 2 * n + 1
    b = body("(func " + "block " * n + "end " * n + ")")
    assert len(b) == 2 * n + 1
    b = body("(func (result i32) " + "(i32.eqz " * n + "(i32.const 0)" + ")" * n + ")")
    assert len(b) == n + 2 and b[0] == (0x41, 0)


# --- other instructions -------------------------------------------------------------

def test_constants():
    b = body("(func i32.const 0xffffffff i32.const -0x80000000 i64.const 0xffffffffffffffff"
             " f32.const -0x1p-149 f64.const nan:0x1 f32.const inf)")
    assert b == [(0x41, -1), (0x41, -2**31), (0x42, -1), (0x43, 0x80000001),
                 (0x44, 0x7FF0000000000001), (0x43, 0x7F800000), END]


@pytest.mark.parametrize("text", [
    "(func (i32.const 0x100000000) drop)",
    "(func (i32.const -0x80000001) drop)",
    "(func (i64.const 18446744073709551616) drop)",
    "(func (f32.const 1e40) drop)",
    "(func (f64.const nan:0x0) drop)",
])
def test_constant_out_of_range(text):
    malformed(text, "constant out of range")


@pytest.mark.parametrize("text", [
    "(func (i32.const 0x) drop)",
    "(func (i32.const 1__0) drop)",
    "(func (f32.const 1.0e_1) drop)",
    "(func (i32.const nan) drop)",
    "(func (i64.const nan:canonical) drop)",
    "(func (f64.const nan:arithmetic) drop)",
    "(func (i32.const) drop)",
    "(func (i32.const (i32.const 0)) drop)",
])
def test_malformed_constants(text):
    with pytest.raises(DecodeError):
        parse_module_text(text)


def test_constant_error_words():
    malformed("(func (f32.const nan:1) drop)", "unknown operator")
    malformed("(func (f64.const nan:arithmetic) drop)", "unexpected token")
    malformed("(func (i64.const nan:canonical) drop)", "unexpected token")
    malformed("(func (i32.const 0x) drop)", "unknown operator")


def test_memarg():
    b = body("(memory 1) (func (i32.load (i32.const 0)) drop"
             " (i64.store offset=8 align=2 (i32.const 0) (i64.const 0))"
             " (i32.load8_u offset=0x10 (i32.const 0)) drop"
             " (i32.load align=16 (i32.const 0)) drop)")
    assert b[1] == (0x28, (2, 0, 0))
    assert b[5] == (0x37, (1, 8, 0))
    assert b[7] == (0x2D, (0, 16, 0))
    # A power of two larger than natural is kept for the validator to reject.
    assert b[10] == (0x28, (4, 0, 0))


@pytest.mark.parametrize("align", ["0", "3", "7", "-1"])
def test_bad_alignment(align):
    with pytest.raises(DecodeError) as exc:
        parse_module_text(f"(memory 1) (func (drop (i32.load align={align} (i32.const 0))))")
    assert exc.value.reason.startswith(("alignment", "unknown operator"))


def test_memarg_order_and_offset_range():
    # offset= must come before align=
    with pytest.raises(DecodeError):
        parse_module_text("(memory 1) (func (drop (i32.load align=4 offset=0 (i32.const 0))))")
    malformed("(memory 1) (func (drop (i32.load offset=4294967296 (i32.const 0))))",
              "i32 constant")


def test_call_indirect():
    m = parse_module_text("""(module
      (type $t (func (param i32)))
      (table $a 1 funcref) (table $b 1 funcref)
      (func
        (call_indirect (type $t) (i32.const 0) (i32.const 0))
        (call_indirect $b (type $t) (param i32) (i32.const 0) (i32.const 0))
        i32.const 0 i32.const 0 call_indirect 1 (param i32)
        (call_indirect (result i32) (i32.const 0)) drop))""")
    b = m.funcs[0].body
    ops = [ins for ins in b if ins[0] == 0x11]
    assert ops == [(0x11, (0, 0)), (0x11, (0, 1)), (0x11, (0, 1)), (0x11, (2, 0))]
    malformed("(type $t (func (param i32))) (table 0 funcref)"
              "(func (call_indirect (type $t) (param $x i32) (i32.const 0) (i32.const 0)))",
              "unexpected token")
    malformed("(table 0 funcref) (func (call_indirect (result i32) (param i32)))",
              "unexpected token")


def test_select():
    b = body("(func (select (i32.const 1) (i32.const 2) (i32.const 0)) drop"
             " (select (result i64) (i64.const 1) (i64.const 2) (i32.const 0)) drop"
             " i32.const 1 i32.const 2 i32.const 3 select (result i32) (result) drop)")
    assert b[3] == (0x1B, None)
    assert b[8] == (0x1C, (I64,))
    assert b[13] == (0x1C, (I32,))


def test_reference_and_table_instructions():
    m = parse_module_text("""(module
      (table $t1 1 funcref) (table $t2 1 externref)
      (elem $e funcref (ref.func $f))
      (func $f
        (drop (ref.null func)) (drop (ref.null extern)) (drop (ref.is_null (ref.func $f)))
        (drop (table.get (i32.const 0))) (drop (table.get $t2 (i32.const 0)))
        (drop (table.size)) (drop (table.size $t2))
        (drop (table.grow $t2 (ref.null extern) (i32.const 1)))
        (table.fill (i32.const 0) (ref.null func) (i32.const 0))
        (table.copy (i32.const 0) (i32.const 0) (i32.const 0))
        (table.copy $t2 $t1 (i32.const 0) (i32.const 0) (i32.const 0))
        (table.init $e (i32.const 0) (i32.const 0) (i32.const 0))
        (table.init $t2 $e (i32.const 0) (i32.const 0) (i32.const 0))
        (elem.drop 0)))""")
    b = [ins for ins in m.funcs[0].body if ins[0] not in (0x1A, 0x41)]
    assert b == [
        (0xD0, FUNCREF), (0xD0, EXTERNREF), (0xD2, 0), (0xD1, None),
        (0x25, 0), (0x25, 1), (fc(16), 0), (fc(16), 1), (0xD0, EXTERNREF), (fc(15), 1),
        (0xD0, FUNCREF), (fc(17), 0), (fc(14), (0, 0)), (fc(14), (1, 0)),
        (fc(12), (0, 0)), (fc(12), (0, 1)), (fc(13), 0), END]
    assert m.data_count is None
    malformed("(func (ref.null funcref))", "unexpected token")
    malformed("(table 1 funcref) (func (table.copy 0 (i32.const 0) (i32.const 0) (i32.const 0)))",
              "unexpected token")


def test_memory_instructions_and_data_count():
    m = parse_module_text("""(module (memory 1) (data "a") (data "b")
      (func (drop (memory.size)) (drop (memory.grow (i32.const 1)))
        (memory.fill (i32.const 0) (i32.const 0) (i32.const 0))
        (memory.copy (i32.const 0) (i32.const 0) (i32.const 0))
        (data.drop 1)))""")
    b = [ins for ins in m.funcs[0].body if ins[0] not in (0x1A, 0x41)]
    assert b == [(0x3F, 0), (0x40, 0), (fc(11), 0), (fc(10), (0, 0)), (fc(9), 1), END]
    assert m.data_count == 2
    # multiple memories (3.0): an optional memory index, by number or name
    m = parse_module_text("""(module (memory 1) (memory $b 1) (data "a")
      (func (drop (memory.size 1)) (drop (memory.grow $b (i32.const 1)))
        (memory.fill $b (i32.const 0) (i32.const 0) (i32.const 0))
        (memory.copy 0 $b (i32.const 0) (i32.const 0) (i32.const 0))
        (memory.init $b 0 (i32.const 0) (i32.const 0) (i32.const 0))
        (drop (i32.load $b offset=8 (i32.const 0)))))""")
    b = [ins for ins in m.funcs[0].body if ins[0] not in (0x1A, 0x41)]
    assert b == [(0x3F, 1), (0x40, 1), (fc(11), 1), (fc(10), (0, 1)), (fc(8), (0, 1)),
                 (0x28, (2, 8, 1)), END]
    malformed("(memory 1) (func (drop (memory.size $nope)))", "unknown memory")
    malformed("(memory 1) (func (memory.copy 0 (i32.const 0) (i32.const 0) (i32.const 0)))",
              "unexpected token")


def test_unknown_operator():
    malformed("(func (get_local 0))", "unknown operator")
    malformed("(func nop i32.foo)", "unknown operator")
    malformed("(func (param i32) (local.get 0 (i32.const 1) nop))", "unexpected token")


# --- SIMD ---------------------------------------------------------------------------

def test_v128_const_shapes():
    b = body("""(func
      (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 -1) drop
      (v128.const i16x8 1 0 0 0 0 0 0 0xffff) drop
      (v128.const i32x4 1 2 3 -1) drop
      (v128.const i64x2 0x0102030405060708 -2) drop
      (v128.const f32x4 1.0 -0 inf nan:0x1) drop
      (v128.const f64x2 1.5 -nan) drop)""")
    consts = [imm for op, imm in b if op == fd(12)]
    assert consts[0] == int.from_bytes(bytes(range(15)) + b"\xff", "little")
    assert consts[1] == 1 | (0xFFFF << 112)
    assert consts[2] == 1 | (2 << 32) | (3 << 64) | (0xFFFFFFFF << 96)
    assert consts[3] == 0x0102030405060708 | ((2**64 - 2) << 64)
    assert consts[4] == 0x3F800000 | (0x80000000 << 32) | (0x7F800000 << 64) | (0x7F800001 << 96)
    assert consts[5] == 0x3FF8000000000000 | (0xFFF8000000000000 << 64)


@pytest.mark.parametrize("text, reason", [
    ("(func (v128.const i32x4 1 2 3) drop)", "wrong number of lane literals"),
    ("(func (v128.const i32x4 1 2 3 4 5) drop)", "wrong number of lane literals"),
    ("(func (v128.const i8x16) drop)", "wrong number of lane literals"),
    ("(func (v128.const i32x4 0x100000000 0 0 0) drop)", "constant out of range"),
    ("(func (v128.const i8x16 256 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0) drop)", "constant out of range"),
    ("(func (v128.const i32x8 0 0 0 0) drop)", "unexpected token"),
    ("(func (v128.const 0 0 0 0) drop)", "unexpected token"),
    ("(func (v128.const f32x4 1e40 0 0 0) drop)", "constant out of range"),
])
def test_v128_const_errors(text, reason):
    malformed(text, reason)


def test_shuffle_and_lanes():
    m = parse_module_text("""(module (memory 1)
      (func (param v128) (result v128)
        (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 31 (local.get 0) (local.get 0))
        (i32x4.extract_lane 3) drop
        (i8x16.replace_lane 15 (local.get 0) (i32.const 7)) drop
        (v128.load8_lane 1 (i32.const 0) (local.get 0)) drop
        (v128.load32_lane offset=4 align=1 3 (i32.const 0) (local.get 0)) drop
        (v128.store64_lane 0 (i32.const 0) (local.get 0))
        (v128.load offset=16 (i32.const 0))))""")
    b = m.funcs[0].body
    assert b[2] == (fd(13), bytes(range(15)) + bytes([31]))
    assert b[3] == (fd(27), 3)
    assert (fd(23), 15) in b
    assert (fd(84), (0, 0, 0, 1)) in b
    assert (fd(86), (0, 4, 0, 3)) in b
    assert (fd(91), (3, 0, 0, 0)) in b
    assert (fd(0), (4, 16, 0)) in b


@pytest.mark.parametrize("text, reason", [
    ("(func (i8x16.shuffle 0 1 2 (local.get 0) (local.get 0)))", "invalid lane length"),
    ("(func (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 256 (local.get 0) (local.get 0)))",
     "malformed lane index"),
    ("(func (i8x16.shuffle -1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 (local.get 0) (local.get 0)))",
     "malformed lane index"),
    ("(func (i32x4.extract_lane 256 (local.get 0)))", "malformed lane index"),
    ("(func (i32x4.extract_lane -1 (local.get 0)))", "unexpected token"),
    ("(func (i32x4.extract_lane 1.5 (local.get 0)))", "unexpected token"),
    ("(func (i32x4.extract_lane (local.get 0)))", "unexpected token"),
])
def test_lane_errors(text, reason):
    malformed(text, reason)


# --- tables, memories, globals, segments -------------------------------------------

def test_table_memory_global_definitions():
    m = parse_module_text("""(module
      (table $t (export "t1") (export "t2") 2 10 funcref)
      (memory $m (export "mem") 1 2)
      (global $g (export "g") (mut f32) (f32.const 1))
      (global i64 (global.get 0)))""")
    assert m.tables == [TableType(FUNCREF, Limits(2, 10))]
    assert m.mems == [MemoryType(Limits(1, 2))]
    assert m.globals[0].type == GlobalType(F32, True)
    assert m.globals[0].init == [(0x43, 0x3F800000), END]
    assert m.globals[1].init == [(0x23, 0), END]
    assert [(e.name, e.kind, e.index) for e in m.exports] == [
        ("t1", EXTERN_TABLE, 0), ("t2", EXTERN_TABLE, 0), ("mem", EXTERN_MEMORY, 0),
        ("g", EXTERN_GLOBAL, 0)]
    malformed("(memory 0x1_0000_0000)", "i32 constant out of range")
    malformed("(table 0 0x1_0000_0000 funcref)", "i32 constant out of range")


def test_inline_table_elem_and_memory_data():
    m = parse_module_text("""(module
      (func $f) (func $g)
      (table $t funcref (elem $f $g $f))
      (table externref (elem (ref.null extern) (item ref.null extern)))
      (elem (table $t) (i32.const 1) func $g)
      (memory (data "ab" "c"))
      (memory $big (data "\\00"))
      (data (memory $big) (offset (i32.const 1)) "z"))""")
    assert m.tables == [TableType(FUNCREF, Limits(3, 3)), TableType(EXTERNREF, Limits(2, 2))]
    e0, e1, e2 = m.elems
    assert (e0.mode, e0.table, e0.offset) == (MODE_ACTIVE, 0, [(0x41, 0), END])
    assert e0.init == [[(0xD2, 0), END], [(0xD2, 1), END], [(0xD2, 0), END]]
    assert e1.elem_type == EXTERNREF and e1.table == 1
    assert e1.init == [[(0xD0, EXTERNREF), END], [(0xD0, EXTERNREF), END]]
    assert (e2.table, e2.offset, e2.init) == (0, [(0x41, 1), END], [[(0xD2, 1), END]])
    assert m.mems == [MemoryType(Limits(1, 1)), MemoryType(Limits(1, 1))]
    assert [(d.init, d.memory, d.offset) for d in m.datas] == [
        (b"abc", 0, [(0x41, 0), END]), (b"\x00", 1, [(0x41, 0), END]),
        (b"z", 1, [(0x41, 1), END])]
    m = parse_module_text('(memory (data))')
    assert m.mems == [MemoryType(Limits(0, 0))]


def test_element_segment_forms():
    m = parse_module_text("""(module
      (table $t 10 funcref) (func $f)
      (elem (i32.const 0))
      (elem (i32.const 0) $f $f)
      (elem (offset (i32.const 0)) func $f)
      (elem (table $t) (offset (i32.const 2)) funcref (ref.func $f) (item (ref.null func)))
      (elem func $f)
      (elem funcref (ref.func 0))
      (elem declare func $f)
      (elem $named externref))""")
    modes = [(e.mode, e.elem_type, len(e.init)) for e in m.elems]
    # (a list of function indices has type (ref func) since 3.0)
    ref_func = ref_type(HT_FUNC, False)
    assert modes == [
        (MODE_ACTIVE, ref_func, 0), (MODE_ACTIVE, ref_func, 2), (MODE_ACTIVE, ref_func, 1),
        (MODE_ACTIVE, FUNCREF, 2), (MODE_PASSIVE, ref_func, 1), (MODE_PASSIVE, FUNCREF, 1),
        (MODE_DECLARATIVE, ref_func, 1), (MODE_PASSIVE, EXTERNREF, 0)]
    assert m.elems[3].offset == [(0x41, 2), END]
    assert m.elems[3].init[1] == [(0xD0, FUNCREF), END]
    assert m.elems[4].offset is None
    malformed("(table 1 funcref) (func $f) (elem (table 0) (i32.const 0) $f)", "unexpected token")
    malformed("(func $f) (elem $f)", "unexpected token")


def test_webassembly_1_0_segment_syntax():
    m = parse_module_text("""(module
      (table $t 10 funcref) (memory $m 1) (func $f)
      (elem 0 (i32.const 0) $f)
      (elem $t (offset (i32.const 1)) $f $f)
      (data 0 (i32.const 0) "a")
      (data $m (i32.const 1) "b"))""")
    assert [(e.mode, e.table, len(e.init)) for e in m.elems] == [
        (MODE_ACTIVE, 0, 1), (MODE_ACTIVE, 0, 2)]
    assert [(d.mode, d.memory, d.init) for d in m.datas] == [
        (MODE_ACTIVE, 0, b"a"), (MODE_ACTIVE, 0, b"b")]


def test_data_segments():
    m = parse_module_text("""(module (memory 1)
      (data $p "x" "yz")
      (data (i32.const 8) "\\de\\ad")
      (data $d (memory 0) (i32.const 1)))""")
    assert [(d.mode, d.init, d.offset) for d in m.datas] == [
        (MODE_PASSIVE, b"xyz", None), (MODE_ACTIVE, b"\xde\xad", [(0x41, 8), END]),
        (MODE_ACTIVE, b"", [(0x41, 1), END])]
    malformed("(memory 1) (data (memory 0) \"x\")", "unexpected token")
    malformed("(memory 1) (data 1)", "unexpected token")


def test_start():
    m = parse_module_text("(func $main) (start $main)")
    assert m.start == 0
    malformed("(func) (start 0) (start 0)", "multiple start sections")


def test_names_must_be_utf8():
    malformed('(func (export "\\ff"))', "malformed UTF-8 encoding")
    malformed('(import "\\c0\\80" "x" (func))', "malformed UTF-8 encoding")
    m = parse_module_text('(func (export "\\e2\\82\\ac"))')
    assert m.exports[0].name == "\u20ac"


# --- error positions ---------------------------------------------------------------

def test_error_line_and_column():
    err = malformed("(module\n  (func\n    (i32.const 1)\n    (i32.bogus)))", "unknown operator")
    assert (err.line, err.column) == (4, 6)
    err = malformed("(module\n(func (call $missing)))", "unknown func")
    assert (err.line, err.column) == (2, 13)
    err = malformed("(func (f32.const 1e40))", "constant out of range")
    assert (err.line, err.column) == (1, 18)


def test_reserved_tokens():
    malformed('(func "a"$x)', "unknown operator")
    malformed('(data"a")', "unknown operator")
    malformed('(data " """)', "unknown operator")


# --- WebAssembly 3.0 lexical additions ------------------------------------------------

def test_quoted_identifiers():
    text = '(module (func $"a b") (func $ab) (func (call $"a b") (call $"\\61\\62") (call $ab)))'
    m = parse_module_text(text)
    assert m.funcs[2].body[:3] == [(0x10, 0), (0x10, 1), (0x10, 1)]
    assert m.names.functions == {0: "a b", 1: "ab"}
    malformed('(module (func $""))', "empty identifier")
    malformed('(module (func $))', "empty identifier")
    malformed('(module (func $"\\ef"))', "malformed UTF-8")


def test_annotations_are_white_space():
    m = parse_module_text('(@a x , ; ] [ }{ (@b) (@) "s" (; c ;)) (module (@a) $m (@"q r")\n'
                          '  ((@x) func (@y 1 2) (export "f") (@z) (result i32) (i32.const 7) (@w)))')
    assert m.id == "$m" and [e.name for e in m.exports] == ["f"]
    assert m.funcs[0].body == [(0x41, 7), END]
    malformed("(module (@))", "empty annotation id")
    malformed("(module (@ x))", "empty annotation id")
    malformed('(module (@""))', "empty annotation id")
    malformed("(module (@x (y)", "unclosed annotation")
    malformed("(module (@x)))", "unexpected token")
    malformed("(module ,)", "unknown operator")   # reserved tokens outside annotations


def test_custom_annotation_makes_a_custom_section():
    m = parse_module_text('(module (@custom "hello" "wor" "ld") (func) (@custom "x" (after func) "\\00"))')
    assert [(c.name, c.data) for c in m.customs] == [("hello", b"world"), ("x", b"\x00")]
    malformed('(module (@custom "x" (after nowhere) ""))', "malformed custom annotation placement")
    malformed('(module (@custom 1))', "unexpected token")
    malformed('(module (func (@custom "x")))', "unknown operator @custom")   # only a module field
    # inside another annotation it is just tokens
    assert parse_module_text('(module (@a (@custom "x")))').customs == []
