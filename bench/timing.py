"""Timing shared by the benchmark scripts (run as ``python bench/<script>.py``, so
this directory is on ``sys.path``)."""
from __future__ import annotations

import time
from typing import Any, Callable, Tuple


def timed(fn: Callable[[], Any], repeat: int = 1) -> Tuple[float, Any]:
    """(best wall-clock seconds of ``repeat`` calls of ``fn``, the last call's result)."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result
