"""A process forked after the compiler used its big-stack worker thread (CPython
before 3.11 and PyPy run deep-capable calls there) must still run wasm: the child
inherits the handle on the worker but not the thread (before the fix, it waited
forever: multiprocessing's fork pools hung on CPython 3.9)."""
from __future__ import annotations

import os
import time

import pytest

import pywazero as wz
from pywazero.engine import call_depth
from pywazero.engine.compiler import _big_stack_call

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

ADD = '(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))'


def _on_fresh_thread(body):
    """Runs ``body()`` on a new thread, so that it gets its own big-stack worker (the
    worker is per thread: one another test left busy must not make this one wait)."""
    import threading

    box = []

    def run():
        try:
            box.append((True, body()))
        except BaseException as e:  # noqa: BLE001 - re-raised below
            box.append((False, e))

    t = threading.Thread(target=run)
    t.start()
    t.join(120)
    assert box, "the test body did not finish within 2 minutes"
    ok, value = box[0]
    if not ok:
        raise value
    return value


def _in_child(body) -> int:
    """Runs ``body()`` in a forked child; its exit status (0: it returned True),
    or -1 if the child did not finish within a minute (then it is killed)."""
    pid = os.fork()
    if pid == 0:   # the child: never return into pytest
        code = 1
        try:
            code = 0 if body() else 1
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return -1


def test_big_stack_worker_is_made_anew_in_a_forked_child():
    def body():
        assert _big_stack_call(16 << 20, lambda: os.getpid()) == os.getpid()
        parent_worker = call_depth.worker
        assert _in_child(lambda: _big_stack_call(16 << 20, lambda: 41 + 1) == 42
                         and getattr(call_depth, "worker", None) is not parent_worker) == 0
        assert call_depth.worker is parent_worker   # the parent keeps its own
    _on_fresh_thread(body)


@pytest.mark.parametrize("max_call_depth", [None, 50000])
def test_compiled_module_runs_in_a_forked_child(max_call_depth):
    cfg = wz.RuntimeConfig(engine="compiler") if max_call_depth is None else \
        wz.RuntimeConfig(engine="compiler", max_call_depth=max_call_depth)
    rt = wz.Runtime(cfg)
    add = rt.instantiate(ADD).function("add")

    def body():
        assert add(2, 3) == 5   # (deep-capable runtimes run this on the worker thread)
        assert _in_child(lambda: add(20, 22) == 42) == 0
    _on_fresh_thread(body)
