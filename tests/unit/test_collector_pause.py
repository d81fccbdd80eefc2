"""engine/pause.py: Python's cyclic collector is off while a module or a function
is built, and left as it was found afterwards."""
from __future__ import annotations

import gc

import pytest

import pywazero as wz
from pywazero.engine.pause import collector_paused

FIB = """(module (func (export "fib") (param i32) (result i32)
  (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
    (then (local.get 0))
    (else (i32.add (call 0 (i32.sub (local.get 0) (i32.const 1)))
                   (call 0 (i32.sub (local.get 0) (i32.const 2))))))))"""


@pytest.fixture
def collector_state():
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_off_inside_and_back_on_after(collector_state):
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():   # nested: still off, and the outer one re-enables
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_back_on_after_an_exception(collector_state):
    gc.enable()
    with pytest.raises(ValueError):
        with collector_paused():
            raise ValueError("boom")
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled(collector_state):
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


@pytest.mark.parametrize("engine", ["compiler", "interpreter"])
@pytest.mark.parametrize("enabled", [True, False])
def test_compile_and_first_calls_leave_the_collector_as_found(collector_state, engine, enabled):
    (gc.enable if enabled else gc.disable)()
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
    seen = []
    cm = rt.compile(FIB)
    assert gc.isenabled() is enabled
    m = rt.instantiate(cm)
    assert m.function("fib")(15) == 610
    seen.append(gc.isenabled())
    with pytest.raises(wz.CompileError):
        rt.compile(b"\x00asm\x01\x00\x00\x00\x01")
    assert seen == [enabled] and gc.isenabled() is enabled
