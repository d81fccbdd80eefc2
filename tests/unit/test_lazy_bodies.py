"""Lazy function bodies: a compiled module keeps bytes, not instructions.

``Runtime.compile`` validates every body while decoding it and keeps none of them;
a body is decoded again (and validated again for its ``FunctionInfo``) the first
time an engine needs it.  Validation stays complete and eager: an invalid body
anywhere fails at compile time with the same error as before.
"""
from __future__ import annotations

import platform

import pytest

import pywazero as wz
from pywazero.binary.decoder import decode_module
from pywazero.binary.encoder import encode_module
from pywazero.engine.compiler import CompilerEngine
from pywazero.errors import DecodeError, ValidationError
from pywazero.text.parser import parse_module_text
from pywazero.wasm.features import CoreFeatures
from pywazero.wasm.validation import validate_module

ENGINES = ["compiler", "interpreter"]


def binary(wat: str, features: CoreFeatures = CoreFeatures.DEFAULT) -> bytes:
    return encode_module(parse_module_text(wat, features))


def chain(n: int, bad: int = -1) -> str:
    """n exported functions; f<i> returns f<i+1>(x) + i (the last returns x); with
    ``bad``, that function's body adds to an empty stack."""
    funcs = []
    for i in range(n):
        if i == bad:
            body = "i32.add"
        elif i == n - 1:
            body = "local.get 0"
        else:
            body = f"local.get 0 call $f{i + 1} i32.const {i} i32.add"
        funcs.append(f'(func $f{i} (export "f{i}") (param i32) (result i32) {body})')
    return "(module\n" + "\n".join(funcs) + ")"


def eager_error(data: bytes, features: CoreFeatures = CoreFeatures.DEFAULT) -> str:
    with pytest.raises(wz.CompileError) as e:
        validate_module(decode_module(data, features, lazy=False), features)
    return f"{type(e.value).__name__}: {e.value}"


@pytest.mark.parametrize("engine", ENGINES)
def test_compile_keeps_no_body_and_a_call_decodes_only_what_runs(engine, monkeypatch):
    # (without inlining, which would translate f39 into f38: test_inlining.py)
    monkeypatch.setattr(CompilerEngine, "inline", False)
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
    cm = rt.compile(binary(chain(40)))
    funcs = cm.module.funcs
    assert [f.decoded for f in funcs] == [False] * 40
    assert all(f.info is None for f in funcs)
    assert [f.size for f in funcs[:3]] == [5, 5, 5] and funcs[-1].size == 2
    inst = rt.instantiate(cm)
    assert inst.exports["f35"](1) == 1 + 35 + 36 + 37 + 38
    # the interpreter keeps the bodies it translated; the compiler keeps the code
    # objects and drops the bodies again
    used = [35, 36, 37, 38, 39] if engine == "interpreter" else []
    assert [i for i, f in enumerate(funcs) if f.decoded] == used
    assert all(funcs[i].info is None for i in range(35)) and funcs[0].size == 5
    # a second instance shares the per-module work
    assert rt.instantiate(cm).exports["f38"](2) == 40
    assert [i for i, f in enumerate(funcs) if f.decoded] == used
    if engine == "compiler":
        code = cm._engine_code()
        assert all(code.codes[i] is not None for i in range(35, 40))
        assert all(code.codes[i] is None for i in range(35))


def test_functions_have_slots_and_lazy_bodies_equal_eager_ones():
    wat = """(module (memory 1)
      (func (param i32) (result i32) (local i64 f32)
        (block (result i32) (loop (br_if 1 (i32.const 3) (local.get 0))
          (local.set 0 (i32.load offset=8 (local.get 0))) (br 0))))
      (func (result f64) f64.const 1.5 (if (i32.const 1) (then nop) (else nop))))"""
    data = binary(wat)
    lazy = decode_module(data, CoreFeatures.DEFAULT)
    eager = decode_module(data, CoreFeatures.DEFAULT, lazy=False)
    for a, b in zip(lazy.funcs, eager.funcs):
        assert not hasattr(a, "__dict__")
        assert not a.decoded and b.decoded
        assert a.size == b.size == len(b.body)
        assert (a.body, a.offsets, a.locals, a.type_index) == (b.body, b.offsets, b.locals, b.type_index)
        assert a.decoded
    assert lazy.funcs == eager.funcs


def test_peek_does_not_keep_the_body():
    f = decode_module(binary(chain(3)), CoreFeatures.DEFAULT).funcs[0]
    body, offsets = f.peek()
    assert len(body) == len(offsets) == f.size and not f.decoded


@pytest.mark.parametrize("bad", [0, 13, 29])
def test_an_invalid_body_anywhere_fails_at_compile_with_the_same_error(bad):
    data = binary(chain(30, bad=bad))
    with pytest.raises(ValidationError) as e:
        wz.Runtime().compile(data)
    assert e.value.func_index == bad
    assert f"ValidationError: {e.value}" == eager_error(data)
    with pytest.raises(ValidationError):
        decode_module(data, CoreFeatures.DEFAULT, validate=True)


def test_malformed_input_after_an_invalid_body_is_still_a_decode_error():
    data = binary(chain(5, bad=1))
    # a custom section with a truncated name, after the code section
    data += b"\x00\x02\x05a"
    with pytest.raises(DecodeError):
        wz.Runtime().compile(data)
    # a code section with one body more than the function section declares
    m = parse_module_text(chain(3, bad=0), CoreFeatures.DEFAULT)
    good = encode_module(m)
    with pytest.raises(DecodeError) as e:
        wz.Runtime().compile(_with_function_count(good, 2))
    assert "inconsistent lengths" in str(e.value)


def _with_function_count(data: bytes, n: int) -> bytes:
    """``data`` with its function section rewritten to declare ``n`` functions of
    type 0 (sections before it unchanged)."""
    pos = 8
    while pos < len(data):
        sid, size = data[pos], data[pos + 1]
        assert size < 0x80
        if sid == 3:
            body = bytes([n]) + bytes(n)
            return data[:pos] + bytes([3, len(body)]) + body + data[pos + 2 + size:]
        pos += 2 + size
    raise AssertionError("no function section")


def test_a_module_level_error_after_the_code_section_comes_first():
    # The data section follows the code section: its error is still reported
    # before the invalid body's, as validate_module does.
    wat = chain(4, bad=2)[:-1] + '(memory 1) (data (i64.const 0) "x"))'
    data = binary(wat)
    with pytest.raises(ValidationError) as e:
        wz.Runtime().compile(data)
    assert f"ValidationError: {e.value}" == eager_error(data)
    assert e.value.func_index is None


def test_too_many_data_segments_after_the_code_section_come_first(monkeypatch):
    # (the data segments' implementation limit is checked when the data section,
    # after the bodies, has been read: still before the invalid body's error)
    from pywazero.wasm import impl_limits

    monkeypatch.setattr(impl_limits, "MAX_DATA_SEGMENTS", 1)
    wat = chain(4, bad=2)[:-1] + '(memory 1) (data (i32.const 0) "x") (data (i32.const 1) "y"))'
    data = binary(wat)
    with pytest.raises(ValidationError, match="too many data segments") as e:
        wz.Runtime().compile(data)
    assert f"ValidationError: {e.value}" == eager_error(data)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_lazily_validated_body_uses_the_modules_features(engine):
    # GC and typed references: the first call validates the body again, under the
    # 3.0 features the module was compiled with (not 2.0's).
    wat = """(module
      (type $p (struct (field i32) (field (mut i64))))
      (func (export "f") (param i32) (result i64)
        (local $s (ref null $p))
        (local.set $s (struct.new $p (local.get 0) (i64.const 5)))
        (struct.set $p 1 (local.get $s) (i64.add (struct.get $p 1 (local.get $s)) (i64.const 1)))
        (struct.get $p 1 (ref.as_non_null (local.get $s)))))"""
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
    cm = rt.compile(binary(wat))
    assert not cm.module.funcs[0].decoded
    assert rt.instantiate(cm).exports["f"](1) == 6
    if engine == "interpreter":
        assert cm.module.funcs[0].info is not None


@pytest.mark.skipif(platform.python_implementation() != "CPython", reason="tracemalloc")
def test_compiling_many_functions_keeps_memory_proportional_to_the_bytes():
    import tracemalloc

    n = 3000
    funcs = "\n".join(
        f"(func (param i32 i32) (result i32) (local i64) (block (loop (br_if 1 (i32.eqz (local.get 0)))"
        f" (local.set 0 (i32.sub (local.get 0) (i32.const {i})))"
        f" (local.set 1 (i32.add (local.get 1) (i32.load offset={i} (local.get 0)))) (br 0))) local.get 1)"
        for i in range(n))
    data = binary(f"(module (memory 1) {funcs})")
    tracemalloc.start()
    try:
        cm = wz.Runtime().compile(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sum(f.decoded for f in cm.module.funcs) == 0
    # (each body is ~40 instructions in ~40 bytes: as tuples and validator facts they
    # cost ~80x the bytes; lazily ~8x, mostly the per-function objects)
    assert peak < 12 * len(data), (peak, len(data))
