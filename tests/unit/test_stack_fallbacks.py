"""When the host cannot give a deep call what it asks for (PyPy under RLIMIT_AS: a
recursion limit whose shadow stack does not fit, a big-stack thread that cannot
start), the call still ends in the documented trap, never MemoryError/RuntimeError."""
from __future__ import annotations

import sys
import threading

import pytest

import pywazero as wz
from pywazero.engine import stack
from pywazero.engine.compiler import _BigStackWorker

REC = ('(module (func $r (export "rec") (param i32) (result i32)'
       ' (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))'
       '  (else (i32.add (i32.const 1) (call $r (i32.sub (local.get 0) (i32.const 1))))))))')


def test_raise_limit_backs_off_to_what_can_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    set_to = []

    def fake(n: int) -> None:
        if n > 5000:
            raise MemoryError
        set_to.append(n)

    monkeypatch.setattr(sys, "setrecursionlimit", fake)
    got = stack._raise_limit(1000, 64000)
    assert 1000 < got <= 5000 and set_to == [got]
    assert stack._raise_limit(1000, 3000) == 3000
    assert stack._raise_limit(1000, 900) == 1000   # (never lowers it)


def test_deep_call_traps_when_the_limit_cannot_be_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    real = sys.setrecursionlimit
    before = sys.getrecursionlimit()

    def refusing(n: int) -> None:
        if n > before + 3000:
            raise MemoryError   # as PyPy's, when the GC's shadow stack cannot grow
        real(n)

    monkeypatch.setattr(sys, "setrecursionlimit", refusing)
    rt = wz.Runtime(wz.RuntimeConfig(engine="compiler", max_call_depth=50000))
    rec = rt.instantiate(REC).function("rec")
    assert rec(500) == 500
    with pytest.raises(wz.Trap, match="call stack exhausted"):
        rec(40000)
    assert sys.getrecursionlimit() == before
    assert rec(50) == 50


def test_big_stack_worker_takes_a_smaller_stack_when_the_big_one_cannot_start(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real_start = threading.Thread.start
    asked = []

    def start(self: threading.Thread) -> None:
        size = threading.stack_size()   # (which also sets it to 0: put it back)
        threading.stack_size(size)
        asked.append(size)
        if size > 16 << 20:
            raise RuntimeError("can't start new thread")   # no room under RLIMIT_AS
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    w = _BigStackWorker(128 << 20)
    assert asked == [128 << 20, 64 << 20, 32 << 20, 16 << 20]
    assert w.stack_bytes == 16 << 20
    assert w.call(lambda a, b: a + b, 2, 3) == 5
    monkeypatch.setattr(threading.Thread, "start",
                        lambda self: (_ for _ in ()).throw(RuntimeError("can't start new thread")))
    with pytest.raises(RuntimeError):
        _BigStackWorker(64 << 20)
