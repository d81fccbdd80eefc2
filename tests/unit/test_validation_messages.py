"""Validation errors name the expected and found types, and for text input the line
and column of the offending instruction (binary input: its byte offset)."""
import pytest

import pywazero as wz


def _error(source):
    with pytest.raises(wz.ValidationError) as info:
        wz.Runtime().compile(source)
    return info.value


CASES = [
    # (body, reason, (line, column) of the instruction in the module, whose line 2
    # the body starts on, after one space)
    ("(func (result i32)\n  (i32.add (i32.const 1)\n           (f64.const 2)))",
     "type mismatch: expected [i32 i32], found [i32 f64]", (3, 4), "i32.add"),
    ("(func (result i32)\n  (i64.const 1))",
     "type mismatch: expected i32, found i64", None, "end"),
    ("(func (param i64)\n  local.get 0\n  i32.eqz\n  drop)",
     "type mismatch: expected i32, found i64", (4, 3), "i32.eqz"),
    ("(func\n  nop\n  drop)",
     "type mismatch: expected a value, found nothing (the operand stack is empty)", (4, 3), "drop"),
    ("(func (result i32)\n  (select (i32.const 1) (i64.const 2) (i32.const 0)))",
     "type mismatch: expected i32, found i64", (3, 4), "select"),
    ("(func (result i32)\n  (block (result i32) (f32.const 0)))",
     "type mismatch: expected i32, found f32", None, "end"),
]


@pytest.mark.parametrize("body,reason,where,instruction", CASES)
def test_text_errors_name_types_line_and_column(body, reason, where, instruction):
    e = _error("(module\n " + body + ")")
    assert e.reason == reason
    assert e.reason.startswith("type mismatch")   # (the spec tests' words come first)
    assert e.instruction == instruction and e.func_index == 0 and e.offset is None
    assert e.line is not None and e.column is not None
    if where is not None:
        # the body starts on line 2 of the module; its own line 1 is that line
        line, col = where
        assert (e.line, e.column) == (line, col + 1 if line == 2 else col)
    assert str(e).startswith(f"{reason} (line {e.line}, column {e.column}, function 0, at {instruction})")


def test_line_and_column_point_at_the_instruction():
    text = "(module\n  (func $f (param f32) (result i32)\n    local.get 0\n    i32.const 1\n    i32.add))"
    e = _error(text)
    lines = text.splitlines()
    assert lines[e.line - 1][e.column - 1:].startswith("i32.add")
    assert e.reason == "type mismatch: expected [i32 i32], found [f32 i32]"


def test_second_function_and_folded_operands():
    text = ("(module\n  (func)\n  (func (result i64)\n"
            "    (i64.add\n      (i64.const 1)\n      (i32.const 2))))")
    e = _error(text)
    assert e.func_index == 1
    lines = text.splitlines()
    assert lines[e.line - 1][e.column - 1:].startswith("i64.add")


def test_binary_errors_give_the_offset():
    # i32.eqz of an i64: `wasm-tools`/`wat2wasm` refuse to write it, so by hand
    body = bytes([0x00, 0x42, 0x01, 0x45, 0x1A, 0x0B])   # no locals; i64.const 1; i32.eqz; drop; end
    code = bytes([0x01, len(body)]) + body
    module = (b"\0asm\x01\0\0\0" + bytes([1, 4, 1, 0x60, 0, 0]) + bytes([3, 2, 1, 0])
              + bytes([10, len(code)]) + code)
    e = _error(module)
    assert e.reason == "type mismatch: expected i32, found i64"
    assert e.line is None and e.instruction == "i32.eqz"
    assert e.offset == module.index(bytes([0x45, 0x1A]))


# The specialised checks (branch tables, tables, tail calls, constant expressions)
# name what they expected and found too.
SPECIAL = [
    ("(func (block (result i32) (block (br_table 0 1 (i32.const 0) (i32.const 0))) (i32.const 1)))",
     "type mismatch: expected a label of 1 value(s), as the default [i32], found label 0 of []"),
    ("(table 1 externref) (type $t (func)) (func (call_indirect 0 (type $t) (i32.const 0)))",
     "type mismatch: expected a table of funcref, found table 0 of externref"),
    ("(table 1 funcref) (table 1 externref) (func (table.copy 0 1 (i32.const 0) (i32.const 0) (i32.const 0)))",
     "type mismatch: expected a source of funcref (table 0), found table 1 of externref"),
    ("(func $f (result i64) (i64.const 0)) (func (result i32) (return_call $f))",
     "type mismatch: expected the caller's results [i32], found the callee's [i64]"),
    ("(global i32 (i64.const 0))",
     "type mismatch: expected i32, found i64"),
    ("(memory 1) (data (i64.const 0) \"x\")",
     "type mismatch: expected an offset of i32, found i64"),
    ("(func (ref.is_null (i32.const 0)) drop)",
     "type mismatch: expected a reference, found i32"),
]


@pytest.mark.parametrize("fields,reason", SPECIAL)
def test_specialised_checks_name_types(fields, reason):
    e = _error("(module " + fields + ")")
    assert e.reason == reason
