"""The compiler's big-stack worker thread (CPython before 3.11 and PyPy run calls of
deep-capable runtimes there) serves every runtime of its thread: a runtime needing a
bigger stack than the worker was made for gets a new worker, not a capped depth."""
from __future__ import annotations

import pywazero as wz
from pywazero.engine import call_depth
from pywazero.engine.compiler import _big_stack_call

from .test_fork import _on_fresh_thread

REC = ('(module (func $r (export "rec") (param i32) (result i32)'
       ' (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))'
       '  (else (i32.add (i32.const 1) (call $r (i32.sub (local.get 0) (i32.const 1))))))))')


def test_a_bigger_stack_request_replaces_the_worker():
    _on_fresh_thread(_bigger_request_replaces)


def _bigger_request_replaces():
    _big_stack_call(16 << 20, int)
    small = call_depth.worker
    assert small.asked >= 16 << 20
    _big_stack_call(small.asked, int)
    assert call_depth.worker is small          # as big as needed: kept
    assert _big_stack_call(small.asked * 2, lambda: 7) == 7
    assert call_depth.worker is not small and call_depth.worker.asked == small.asked * 2


def test_deep_runtime_after_a_default_one_reaches_its_max_call_depth():
    # (found on CPython 3.9: the first runtime's worker capped the second's depth)
    def body():
        default = wz.Runtime(wz.RuntimeConfig(engine="compiler"))
        assert default.instantiate(REC).function("rec")(10) == 10
        deep = wz.Runtime(wz.RuntimeConfig(engine="compiler", max_call_depth=30000))
        assert deep.instantiate(REC).function("rec")(29999) == 29999
    _on_fresh_thread(body)
