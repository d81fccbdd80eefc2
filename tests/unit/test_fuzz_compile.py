"""Property tests: whatever bytes or text `Runtime.compile` is fed, the only
exception it may raise is CompileError (never IndexError, RecursionError,
struct.error, UnicodeDecodeError, ... and never a hang)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pywazero

from ._wasm_bytes import HEADER, section, uleb

SEED_TEXTS = [
    "(module)",
    """(module
      (type (func (param i32) (result i32)))
      (import "env" "f" (func $imp (param i32) (result i32)))
      (import "env" "g" (global i32))
      (memory (export "mem") 1 2)
      (table 2 funcref)
      (global $g (mut i64) (i64.const -7))
      (func $fib (export "fib") (param i32) (result i32)
        (if (result i32) (i32.lt_s (local.get 0) (i32.const 2))
          (then (local.get 0))
          (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                         (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
      (func (param f64) (result f64) (local f32)
        (block (br_table 0 0 (i32.const 0)))
        (f64.mul (local.get 0) (f64.const 1.5)))
      (elem (i32.const 0) $fib $imp)
      (data (i32.const 16) "hello")
      (data "passive")
      (func (export "init") (memory.init 1 (i32.const 0) (i32.const 0) (i32.const 3)) (data.drop 1))
      (start 3))""",
    """(module
      (memory 1)
      (func (export "v") (param v128) (result v128)
        (i32x4.add (local.get 0) (v128.const i32x4 1 2 3 4))
        (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 (local.get 0))
        (v128.store offset=16 (i32.const 0) (local.get 0))))""",
    """(module
      (table $t 10 externref)
      (elem declare func $f)
      (func $f (result funcref) (ref.func $f))
      (func (param externref) (table.set $t (i32.const 1) (local.get 0))
        (drop (table.grow $t (ref.null extern) (i32.const 3)))))""",
]

_SEEDS: list = []


def seeds() -> list:
    if not _SEEDS:
        _SEEDS.extend(pywazero.wat2wasm(t) for t in SEED_TEXTS)
    return _SEEDS


def compile_only_compile_errors(source) -> None:
    rt = pywazero.Runtime()
    try:
        rt.compile(source)
    except pywazero.CompileError:
        pass


def test_seeds_compile() -> None:
    rt = pywazero.Runtime()
    for data in seeds():
        rt.compile(data)


FUZZ = settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    compile_only_compile_errors(data)


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_after_header(data: bytes) -> None:
    compile_only_compile_errors(b"\0asm\1\0\0\0" + data)


@FUZZ
@given(st.data())
def test_mutated_modules(data) -> None:
    seed = bytearray(data.draw(st.sampled_from(seeds())))
    for _ in range(data.draw(st.integers(1, 6))):
        action = data.draw(st.sampled_from(["flip", "insert", "delete", "set"]))
        pos = data.draw(st.integers(0, len(seed)))
        if action == "insert" or not seed or pos == len(seed):
            seed[pos:pos] = data.draw(st.binary(min_size=1, max_size=4))
        elif action == "delete":
            del seed[pos:pos + data.draw(st.integers(1, 8))]
        elif action == "flip":
            seed[pos] ^= 1 << data.draw(st.integers(0, 7))
        else:
            seed[pos] = data.draw(st.sampled_from([0x00, 0x0B, 0x7F, 0x80, 0xFF, 0x40, 0x05, 0xFC, 0xFD]))
    compile_only_compile_errors(bytes(seed))


@FUZZ
@given(st.data())
def test_mutated_text(data) -> None:
    text = data.draw(st.sampled_from(SEED_TEXTS))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(text)))
        junk = data.draw(st.sampled_from(["(", ")", '"', "$x", " 0x", "nan:0x", "(;", ";;", "\\u{", "9" * 30, "i32.", ""]))
        cut = data.draw(st.integers(0, 5))
        text = text[:pos] + junk + text[pos + cut:]
    compile_only_compile_errors(text)


@FUZZ
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    compile_only_compile_errors(text)


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_deep_nesting_is_not_a_recursion_error(depth: int) -> None:
    body = b"\x02\x40" * depth + b"\x0b" * depth
    code_body = b"\x00" + body + b"\x0b"  # no locals, nested blocks, final end

    code = uleb(1) + uleb(len(code_body)) + code_body
    module = HEADER + b"\x01\x04\x01\x60\x00\x00" + b"\x03\x02\x01\x00" + section(10, code)
    pywazero.Runtime().compile(module)
    compile_only_compile_errors("(module (func" + " (block" * depth + ")" * depth + "))")
