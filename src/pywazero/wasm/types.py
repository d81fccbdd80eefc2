"""WebAssembly types: value types, function types, limits, table/memory/global types.

Value types are plain ints equal to their binary encoding, so decoding a type is a
table lookup and comparing two is an int comparison.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

I32 = 0x7F
I64 = 0x7E
F32 = 0x7D
F64 = 0x7C
V128 = 0x7B
FUNCREF = 0x70
EXTERNREF = 0x6F

NUM_TYPES = frozenset((I32, I64, F32, F64))
VEC_TYPES = frozenset((V128,))
REF_TYPES = frozenset((FUNCREF, EXTERNREF))
VALUE_TYPES = NUM_TYPES | VEC_TYPES | REF_TYPES

VALTYPE_NAMES = {
    I32: "i32",
    I64: "i64",
    F32: "f32",
    F64: "f64",
    V128: "v128",
    FUNCREF: "funcref",
    EXTERNREF: "externref",
}
VALTYPE_BY_NAME = {name: code for code, name in VALTYPE_NAMES.items()}


def valtype_name(t: int) -> str:
    """``valtype_name(0x7F) == 'i32'``."""
    return VALTYPE_NAMES.get(t, f"<type 0x{t:x}>")


# Block types are kept exactly as the binary encodes them, as a signed (s33) int:
# -64 (0x40) is the empty type, -1..-17 are single value types (the one-byte
# encoding read as signed LEB128), and a non-negative value is a type index.
BLOCK_EMPTY = -0x40


def blocktype_of_valtype(t: int) -> int:
    """The s33 block type meaning "one result of type ``t``"."""
    return t - 0x80


def valtype_of_blocktype(bt: int) -> int:
    """Inverse of :func:`blocktype_of_valtype` for ``-0x40 < bt < 0``."""
    return bt + 0x80


@dataclass(frozen=True)
class FuncType:
    """A function signature. ``FuncType((I32, I32), (I32,))`` is ``[i32 i32] -> [i32]``."""

    params: Tuple[int, ...] = ()
    results: Tuple[int, ...] = ()

    def __str__(self) -> str:
        p = " ".join(valtype_name(t) for t in self.params)
        r = " ".join(valtype_name(t) for t in self.results)
        return f"[{p}] -> [{r}]"


@dataclass(frozen=True)
class Limits:
    """``min`` and optional ``max`` (pages for memories, elements for tables)."""

    min: int
    max: Optional[int] = None

    def __str__(self) -> str:
        return f"{self.min}" if self.max is None else f"{self.min}..{self.max}"


@dataclass(frozen=True)
class TableType:
    elem_type: int
    limits: Limits

    def __str__(self) -> str:
        return f"table {self.limits} {valtype_name(self.elem_type)}"


@dataclass(frozen=True)
class MemoryType:
    limits: Limits

    def __str__(self) -> str:
        return f"memory {self.limits}"


@dataclass(frozen=True)
class GlobalType:
    valtype: int
    mutable: bool = False

    def __str__(self) -> str:
        t = valtype_name(self.valtype)
        return f"(mut {t})" if self.mutable else t


# External kinds, numbered as in the binary format.
EXTERN_FUNC = 0
EXTERN_TABLE = 1
EXTERN_MEMORY = 2
EXTERN_GLOBAL = 3
EXTERN_KIND_NAMES = {EXTERN_FUNC: "func", EXTERN_TABLE: "table", EXTERN_MEMORY: "memory", EXTERN_GLOBAL: "global"}

PAGE_SIZE = 65536
MAX_PAGES = 65536
