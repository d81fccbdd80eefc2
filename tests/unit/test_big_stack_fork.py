"""The compiler's big-stack worker thread (deep calls on Pythons whose C stack is
small) is per process: a child forked after the parent used it gets its own, instead
of handing calls to a thread that does not exist in the child and waiting forever
(ProcessPoolExecutor / multiprocessing with the fork start method)."""
from __future__ import annotations

import multiprocessing
import sys

import pytest

from pywazero.engine.compiler import _big_stack_call


def _child(queue) -> None:
    queue.put(_big_stack_call(16 << 20, lambda a, b: a + b, 2, 3))


@pytest.mark.skipif(sys.platform == "win32" or "fork" not in multiprocessing.get_all_start_methods(),
                    reason="needs the fork start method")
def test_forked_child_gets_its_own_worker():
    assert _big_stack_call(16 << 20, lambda: "parent") == "parent"   # the worker exists now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    p = ctx.Process(target=_child, args=(queue,))
    p.start()
    p.join(120)
    if p.is_alive():  # the bug: the child waits for the parent's worker forever
        p.kill()
        p.join()
        pytest.fail("the forked child's big-stack call never returned")
    assert p.exitcode == 0
    assert queue.get(timeout=10) == 5
