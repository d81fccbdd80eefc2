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


class _InterruptedWait:
    """The worker's reply queue as a caller whose wait a signal handler interrupts
    (e.g. a SIGALRM timeout raising in the waiting thread) sees it."""

    def __init__(self, queue):
        self.queue = queue

    def get(self):
        raise KeyboardInterrupt

    def put(self, item):
        self.queue.put(item)


def test_a_call_abandoned_by_its_caller_does_not_block_later_calls():
    # (seen on CPython 3.9/3.10: after a timed-out call the worker still ran it, and
    # the thread's next deep call queued behind it forever)
    import threading

    import pytest

    def body():
        release = threading.Event()
        _big_stack_call(16 << 20, int)
        worker = call_depth.worker
        real = worker.replies
        worker.replies = _InterruptedWait(real)
        try:
            with pytest.raises(KeyboardInterrupt):
                _big_stack_call(16 << 20, release.wait)   # the worker now blocks here
        finally:
            worker.replies = real
        try:
            assert _big_stack_call(16 << 20, lambda: 5) == 5
            assert call_depth.worker is not worker
        finally:
            release.set()
    _on_fresh_thread(body)
