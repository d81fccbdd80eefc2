"""Bulk memory and table operations (``memory.fill/copy/init``, ``table.fill/copy/init``)
shared by both engines.

Bounds are checked before anything is written, so a trapping operation leaves its
target untouched; copies within one memory or table may overlap (the source slice
is copied first).

>>> data = bytearray(b"abcdef")
>>> memory_copy(data, data, 1, 0, 3)
>>> bytes(data)
b'aabcef'
"""
from __future__ import annotations

from typing import Any, Callable, List

from ..errors import Trap

__all__ = ["oob_memory", "oob_table", "memory_fill", "memory_copy", "memory_init",
           "table_fill", "table_copy", "table_init"]


def oob_memory() -> Trap:
    return Trap("out of bounds memory access")


def oob_table() -> Trap:
    return Trap("out of bounds table access")


def _copy(dst: Any, d: int, src: Any, s: int, n: int, oob: Callable[[], Trap]) -> None:
    if s + n > len(src) or d + n > len(dst):
        raise oob()
    if n:
        dst[d:d + n] = src[s:s + n]


def memory_fill(data: bytearray, d: int, v: int, n: int) -> None:
    if d + n > len(data):
        raise oob_memory()
    if n:
        data[d:d + n] = bytes((v & 0xFF,)) * n


def memory_copy(dst: bytearray, src: bytearray, d: int, s: int, n: int) -> None:
    _copy(dst, d, src, s, n, oob_memory)


def memory_init(data: bytearray, segs: List[bytes], k: int, d: int, s: int, n: int) -> None:
    """Copy ``n`` bytes of data segment ``segs[k]`` from ``s`` to ``data[d:]``."""
    _copy(data, d, segs[k], s, n, oob_memory)


def table_fill(elems: List[Any], i: int, v: Any, n: int) -> None:
    if i + n > len(elems):
        raise oob_table()
    if n:
        elems[i:i + n] = [v] * n


def table_copy(dst: List[Any], src: List[Any], d: int, s: int, n: int) -> None:
    _copy(dst, d, src, s, n, oob_table)


def table_init(elems: List[Any], segs: List[List[Any]], k: int, d: int, s: int, n: int) -> None:
    """Copy ``n`` references of element segment ``segs[k]`` from ``s`` to ``elems[d:]``."""
    _copy(elems, d, segs[k], s, n, oob_table)
