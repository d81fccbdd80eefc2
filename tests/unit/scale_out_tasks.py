"""Functions that run in worker processes for test_scale_out.py (importable by
reference, as multiprocessing needs).

Importing this module in a worker counts, from then on, the compilations
(``Runtime.compile``) and function translations (the compiler's ``_translate``,
the interpreter's ``translate``) made in that process: workers given a compiled
module must do none of either.
"""
from __future__ import annotations

import functools
import os
from typing import Any, Dict, List, Tuple

import pywazero as wz
from pywazero.engine.compiler import CompiledWasm
from pywazero.engine.interpreter import InterpretedModule

COUNTS = {"compile": 0, "translate": 0}


def _counting(cls: Any, name: str, key: str) -> None:
    original = getattr(cls, name)
    if getattr(original, "_counted", False):
        return

    # wraps: the patched class stays documented for tests sharing this process
    # (test_docstrings reads Runtime.compile.__doc__)
    @functools.wraps(original)
    def counted(*args: Any, **kwargs: Any) -> Any:
        COUNTS[key] += 1
        return original(*args, **kwargs)

    counted._counted = True   # type: ignore[attr-defined]
    setattr(cls, name, counted)


_counting(wz.Runtime, "compile", "compile")
_counting(CompiledWasm, "_translate", "translate")
_counting(InterpretedModule, "translate", "translate")

_CM: Any = None


def install() -> int:
    """For ``client.run``: importing this module installed the counters."""
    return os.getpid()


def reset() -> None:
    """A pool initializer: count from zero (a forked worker inherits the parent's
    counts)."""
    for k in COUNTS:
        COUNTS[k] = 0


def counts() -> Dict[str, int]:
    return dict(COUNTS, pid=os.getpid())


def init_worker(cm: Any) -> None:
    """A process pool's initializer: the compiled module arrives once per worker."""
    global _CM
    _CM = cm


def _decoded(cm: Any) -> int:
    """How many function bodies of ``cm`` this process has decoded."""
    return sum(1 for f in cm.module.funcs if f.decoded)


def count_with_worker_module(rng: Tuple[int, int]) -> Tuple[int, int, Dict[str, int], int]:
    """``count_primes(lo, hi)`` with the module the initializer received."""
    lo, hi = rng
    n = _CM.runtime.instantiate(_CM).function("count_primes")(lo, hi)
    return n, os.getpid(), counts(), _decoded(_CM)


def count_with_module(args: Tuple[Any, int, int]) -> Tuple[int, int, Dict[str, int], int]:
    """``count_primes(lo, hi)`` with the module that came with the task."""
    cm, lo, hi = args
    n = cm.runtime.instantiate(cm).function("count_primes")(lo, hi)
    return n, os.getpid(), counts(), _decoded(cm)


def snapshot_state(snap: Any) -> List[Any]:
    """What an instance of ``snap`` starts with, in this process."""
    m = snap.runtime.instantiate(snap)
    return [m.global_("n").value, m.memory("mem").read(0, 16), counts()["translate"]]
