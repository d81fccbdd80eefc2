"""Python's cyclic garbage collector paused while a module or a function is built.

Decoding a module and translating a function allocate many small objects (tuples,
lists, strings) that all stay alive until the step ends, so every collection the
allocations trigger meanwhile finds nothing to free; with a large module already
in memory the older generations' collections also walk all of it.  Measured on
QuickJS's first output (CPython 3.11): ~8% of the CPU time went to collections.

:func:`collector_paused` turns the collector off for the duration of such a step
if it was on, and back on after (reference counting still frees everything not in
a cycle; cycles made meanwhile are found by the next collection).  It only ever
re-enables a collector it disabled itself, so a program that turned collection off
keeps it off::

    with collector_paused():
        module = decode_module(data, validate=True)
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

__all__ = ["collector_paused"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the ``with`` block with Python's cyclic collector off (when it was on)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
