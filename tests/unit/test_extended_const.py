"""Extended constant expressions (WebAssembly 3.0): i32/i64.add/sub/mul and
global.get of imported or earlier-defined immutable globals in global initialisers,
segment offsets and element items."""
from __future__ import annotations

import pytest

from pywazero import CoreFeatures, ModuleConfig, Runtime, RuntimeConfig, ValidationError
from pywazero.text.parser import parse_module_text
from pywazero.wasm.types import I32, I64
from pywazero.wasm.validation import validate_module

V2, V3 = CoreFeatures.V2, CoreFeatures.V3
EXT = V2 | CoreFeatures.EXTENDED_CONST

SRC = """(module
  (import "env" "base" (global $base i32))
  (import "env" "big" (global $big i64))
  (global $a i32 (i32.add (global.get $base) (i32.const 16)))        ;; 116
  (global $b i32 (i32.mul (global.get $a) (i32.const 2)))            ;; 232
  (global $c i32 (i32.sub (i32.const 0) (global.get $b)))           ;; -232 (wraps)
  (global $d i64 (i64.mul (i64.sub (global.get $big) (i64.const 1))
                          (i64.const 0x100000000)))                 ;; wraps mod 2^64
  (global $e i64 (i64.add (i64.const 0x7fffffffffffffff) (i64.const 1)))
  (memory 1)
  (data (i32.add (global.get $a) (i32.const 4)) "hi")               ;; at 120
  (table 10 funcref)
  (elem (i32.sub (global.get $b) (i32.const 230)) $f)                ;; at 2
  (elem $passive funcref (ref.func $f))
  (func $f (result i32) (i32.const 7))
  (func (export "call2") (result i32) (call_indirect (result i32) (i32.const 2)))
  (func (export "byte") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (export "a" (global $a)) (export "b" (global $b)) (export "c" (global $c))
  (export "d" (global $d)) (export "e" (global $e)))"""


@pytest.mark.parametrize("engine", ["interpreter", "compiler"])
def test_values(engine):
    rt = Runtime(RuntimeConfig(engine=engine, core_features=EXT))
    rt.host_module("env").global_("base", I32, 100).global_("big", I64, 0x1_0000_0003).instantiate()
    m = rt.instantiate(rt.compile(SRC), ModuleConfig(name="m"))
    ex = m.exports
    assert (ex["a"].value, ex["b"].value, ex["c"].value) == (116, 232, -232)
    assert ex["d"].value == 0x2_0000_0000   # (0x1_0000_0002 << 32) mod 2**64
    assert ex["e"].value == -2**63
    assert ex["byte"](120) == ord("h") and ex["byte"](121) == ord("i") and ex["byte"](119) == 0
    assert ex["call2"]() == 7


def _validate(src, features):
    validate_module(parse_module_text(src), features)


@pytest.mark.parametrize("op", ["i32.add", "i32.sub", "i32.mul"])
def test_arithmetic_needs_the_feature(op):
    src = "(module (global i32 (%s (i32.const 1) (i32.const 2))))" % op
    with pytest.raises(ValidationError, match="requires the extended-const feature") as info:
        _validate(src, V2)
    assert "constant expression required" in info.value.reason
    _validate(src, EXT)
    _validate(src.replace("i32", "i64"), EXT)


def test_defined_globals_are_visible_only_with_the_feature():
    src = "(module (global i32 (i32.const 1)) (global i32 (global.get 0)))"
    with pytest.raises(ValidationError, match="unknown global 0"):
        _validate(src, V2)
    _validate(src, EXT)
    _validate("(module (global i32 (i32.const 1)) (memory 1) (data (global.get 0) \"x\"))", EXT)
    with pytest.raises(ValidationError, match="unknown global 0"):
        _validate("(module (global i32 (i32.const 1)) (memory 1) (data (global.get 0) \"x\"))", V2)


@pytest.mark.parametrize("src, msg", [
    # only earlier globals: not itself, not later ones
    ("(module (global i32 (global.get 0)))", "unknown global 0"),
    ("(module (global i32 (global.get 1)) (global i32 (i32.const 0)))", "unknown global 1"),
    # only immutable ones
    ("(module (global (mut i32) (i32.const 1)) (global i32 (global.get 0)))", "constant expression required"),
    # operand types
    ("(module (global i32 (i32.add (i32.const 1) (i64.const 2))))", "type mismatch"),
    ("(module (global i64 (i64.mul (i64.const 1))))", "type mismatch"),
    ("(module (global i32 (i32.add (i32.const 1) (i32.const 2)) (i32.const 3)))", "type mismatch"),
    # other arithmetic is still not constant
    ("(module (global i32 (i32.div_u (i32.const 1) (i32.const 2))))", "constant expression required"),
    ("(module (global i32 (i32.and (i32.const 1) (i32.const 2))))", "constant expression required"),
])
def test_invalid(src, msg):
    with pytest.raises(ValidationError, match=msg):
        _validate(src, V3)
