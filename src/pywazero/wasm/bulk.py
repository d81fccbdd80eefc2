"""Bulk memory and table operations (``memory.fill/copy/init``, ``table.fill/copy/init``)
shared by both engines.

Bounds are checked before anything is written, so a trapping operation leaves its
target untouched; copies within one memory or table may overlap.

Large operations go in pieces of at most :data:`CHUNK` bytes (or references), so a
``memory.fill``/``memory.copy`` of a gigabyte needs a megabyte of temporaries, not
a gigabyte: each piece's source slice is copied before it is written, and
overlapping copies towards higher addresses go from the end, so every piece reads
source that no earlier piece overwrote.

>>> data = bytearray(b"abcdef")
>>> memory_copy(data, data, 1, 0, 3)
>>> bytes(data)
b'aabcef'
"""
from __future__ import annotations

import gc
import sys
from typing import Any, Callable, List

from ..errors import Trap

__all__ = ["oob_memory", "oob_table", "memory_fill", "memory_copy", "memory_init",
           "table_fill", "table_copy", "table_init"]


def oob_memory() -> Trap:
    return Trap("out of bounds memory access")


def oob_table() -> Trap:
    return Trap("out of bounds table access")


#: the most bytes (references) one piece of a bulk operation moves
CHUNK = 1 << 20

#: PyPy frees the pieces' temporaries only at a major collection, which a heap
#: holding a big memory makes rare (a gigabyte copy piled up ~400 MB of them): there
#: a copy collects after every this many pieces
_COLLECT_EVERY = 64 if sys.implementation.name == "pypy" else 0
_collect = gc.collect


def _copy(dst: Any, d: int, src: Any, s: int, n: int, oob: Callable[[], Trap]) -> None:
    if s + n > len(src) or d + n > len(dst):
        raise oob()
    if n <= CHUNK:
        if n:
            dst[d:d + n] = src[s:s + n]
    elif dst is src and s < d < s + n:
        # overlapping, towards higher addresses: last piece first
        end = n
        while end > 0:
            start = end - CHUNK if end > CHUNK else 0
            dst[d + start:d + end] = src[s + start:s + end]
            end = start
            if _COLLECT_EVERY and (n - end) % (_COLLECT_EVERY * CHUNK) == 0:
                _collect()
    else:
        for start in range(0, n, CHUNK):
            end = start + CHUNK if n - start > CHUNK else n
            dst[d + start:d + end] = src[s + start:s + end]
            if _COLLECT_EVERY and end % (_COLLECT_EVERY * CHUNK) == 0:
                _collect()


def _fill(data: Any, d: int, piece: Any, n: int) -> None:
    # ``piece`` holds min(n, CHUNK) copies of the value
    k = len(piece)
    end = d + n
    while d + k <= end:
        data[d:d + k] = piece
        d += k
    if d < end:
        data[d:end] = piece[:end - d]


def memory_fill(data: bytearray, d: int, v: int, n: int) -> None:
    if d + n > len(data):
        raise oob_memory()
    if n:
        if n <= CHUNK:
            data[d:d + n] = bytes((v & 0xFF,)) * n
        else:
            _fill(data, d, bytes((v & 0xFF,)) * CHUNK, n)


def memory_copy(dst: bytearray, src: bytearray, d: int, s: int, n: int) -> None:
    _copy(dst, d, src, s, n, oob_memory)


def memory_init(data: bytearray, segs: List[bytes], k: int, d: int, s: int, n: int) -> None:
    """Copy ``n`` bytes of data segment ``segs[k]`` from ``s`` to ``data[d:]``."""
    _copy(data, d, segs[k], s, n, oob_memory)


def table_fill(elems: List[Any], i: int, v: Any, n: int) -> None:
    if i + n > len(elems):
        raise oob_table()
    if n:
        if n <= CHUNK:
            elems[i:i + n] = [v] * n
        else:
            _fill(elems, i, [v] * CHUNK, n)


def table_copy(dst: List[Any], src: List[Any], d: int, s: int, n: int) -> None:
    _copy(dst, d, src, s, n, oob_table)


def table_init(elems: List[Any], segs: List[List[Any]], k: int, d: int, s: int, n: int) -> None:
    """Copy ``n`` references of element segment ``segs[k]`` from ``s`` to ``elems[d:]``."""
    _copy(elems, d, segs[k], s, n, oob_table)
