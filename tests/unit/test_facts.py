"""function_info: the engines' facts without validating a body again.

A validated module's bodies get their FunctionInfo from a pass over stack heights
(``_heights_pass``); anything not covered by validating the module (an unvalidated
module, a body replaced after decoding) is still validated, with its errors.
"""
from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from pywazero import wat2wasm
from pywazero.binary.decoder import decode_module
from pywazero.errors import ValidationError
from pywazero.wasm import facts
from pywazero.wasm.validation import _body_context, validate_module

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = sorted((ROOT / "bench" / "programs").glob("*.wasm")) + sorted(
    (ROOT / "tests" / "wasi" / "bin").glob("*.wasm"))

VALID = wat2wasm("""(module (func (export "f") (param i32) (result i32)
  block (result i32) i32.const 7 local.get 0 br_if 0 drop i32.const 27 end))""")
# a body that is invalid (i32.add of an i64), in a module that decodes
INVALID = wat2wasm("(module (func (result i32) i32.const 1 i32.const 2 i32.add))").replace(
    bytes.fromhex("410141026a"), bytes.fromhex("410142026a"))


def test_modules_are_what_the_tests_say():
    validate_module(decode_module(VALID, lazy=False))
    with pytest.raises(ValidationError):
        decode_module(INVALID, validate=True)


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_programs_every_body_by_heights_and_right(path):
    data = path.read_bytes()
    lazy = decode_module(data, validate=True)
    eager = decode_module(data, lazy=False)
    validate_module(eager)
    ctx = _body_context(lazy)
    for i, f in enumerate(lazy.funcs):
        got = facts._heights_pass(ctx, f.type_index, f.body)
        # C programs use only instructions the pass knows
        assert got is not None, i
        assert got == eager.funcs[i].info, i


def test_validated_module_is_not_validated_again(monkeypatch):
    m = decode_module(VALID, validate=True)

    def boom(*a, **k):
        raise AssertionError("validated again")

    monkeypatch.setattr(facts, "validate_function", boom)
    info = facts.function_info(m, 0)
    assert m.funcs[0].info is info
    # block(0) i32.const(1) local.get(2) br_if(3) drop(4) i32.const(5) end(6) end(7)
    assert info.partner == {0: 6, 6: 0}
    assert info.branch_heights == {3: 1}
    assert info.heights == {0: 0} and info.max_stack == 2


@pytest.mark.parametrize("engine", ["compiler", "interpreter"])
def test_runtime_compiled_module_is_not_validated_again(monkeypatch, engine):
    # (Runtime.compile validates under the runtime's features, function references
    # included by default: the pass must serve those modules too)
    import pywazero

    def boom(*a, **k):
        raise AssertionError("validated again")

    monkeypatch.setattr(facts, "validate_function", boom)
    rt = pywazero.Runtime(pywazero.RuntimeConfig(engine=engine))
    f = rt.instantiate(rt.compile(VALID)).exports["f"]
    assert f(1) == 7 and f(0) == 27


def test_unvalidated_module_is_validated():
    m = decode_module(INVALID)          # decoded only
    with pytest.raises(ValidationError, match="type mismatch"):
        facts.function_info(m, 0)


def test_replaced_body_is_validated():
    m = decode_module(VALID, validate=True)
    bad = decode_module(INVALID)
    m.funcs[0].body = bad.funcs[0].body
    assert not m.funcs[0].from_source
    with pytest.raises(ValidationError, match="type mismatch"):
        facts.function_info(m, 0)


@pytest.mark.parametrize("engine", ["compiler", "interpreter"])
def test_engines_run_with_the_facts(engine):
    import pywazero

    rt = pywazero.Runtime(pywazero.RuntimeConfig(engine=engine))
    f = rt.instantiate(rt.compile(VALID)).exports["f"]
    assert f(1) == 7 and f(0) == 27


def test_doctest():
    assert doctest.testmod(facts).failed == 0
