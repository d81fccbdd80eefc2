"""WebAssembly types: value types, function types, limits, table/memory/global types.

Value types are plain ints, so comparing two is an int comparison and they hash
cheaply.  Number, vector and the nullable abstract reference types (``funcref``,
``externref``, ``exnref``, ...) are their one-byte binary encoding.  The other
reference types of typed function references and GC are ints too (see
:func:`ref_type`): ``(ref $t)``/``(ref null $t)`` hold the module-relative type index
``$t``, so they mean something only together with a module's type list.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Sequence, Tuple, cast

I32 = 0x7F
I64 = 0x7E
F32 = 0x7D
F64 = 0x7C
V128 = 0x7B
FUNCREF = 0x70
EXTERNREF = 0x6F
# WebAssembly 3.0's other abbreviations (nullable abstract reference types).
ANYREF = 0x6E
EQREF = 0x6D
I31REF = 0x6C
STRUCTREF = 0x6B
ARRAYREF = 0x6A
EXNREF = 0x69
NULLEXNREF = 0x74
NULLFUNCREF = 0x73
NULLEXTERNREF = 0x72
NULLREF = 0x71

NUM_TYPES = frozenset((I32, I64, F32, F64))
VEC_TYPES = frozenset((V128,))
REF_TYPES = frozenset((FUNCREF, EXTERNREF))
"""The reference types of WebAssembly 2.0 (see :func:`is_ref` for 3.0's)."""
VALUE_TYPES = NUM_TYPES | VEC_TYPES | REF_TYPES
"""The value types of WebAssembly 2.0."""

# --- heap types and reference types (WebAssembly 3.0) ----------------------------
#
# A heap type is an int as the binary encodes it (s33): an abstract heap type is
# negative (its one-byte code read as signed LEB128, HT_FUNC == 0x70 - 0x80), a
# concrete one is a type index >= 0.
HT_FUNC = FUNCREF - 0x80
HT_EXTERN = EXTERNREF - 0x80
HT_ANY = ANYREF - 0x80
HT_EQ = EQREF - 0x80
HT_I31 = I31REF - 0x80
HT_STRUCT = STRUCTREF - 0x80
HT_ARRAY = ARRAYREF - 0x80
HT_EXN = EXNREF - 0x80
HT_NOEXN = NULLEXNREF - 0x80
HT_NOFUNC = NULLFUNCREF - 0x80
HT_NOEXTERN = NULLEXTERNREF - 0x80
HT_NONE = NULLREF - 0x80
ABSTRACT_HEAP_TYPES = frozenset(range(HT_EXN, HT_NOEXN + 1))
HEAP_TYPE_NAMES = {
    HT_FUNC: "func", HT_EXTERN: "extern", HT_ANY: "any", HT_EQ: "eq", HT_I31: "i31",
    HT_STRUCT: "struct", HT_ARRAY: "array", HT_EXN: "exn", HT_NOEXN: "noexn",
    HT_NOFUNC: "nofunc", HT_NOEXTERN: "noextern", HT_NONE: "none",
}
HEAP_TYPE_BY_NAME = {name: ht for ht, name in HEAP_TYPE_NAMES.items()}

# A reference type ``(ref null? ht)`` as a value type int:
#   nullable abstract      the one-byte abbreviation (0x69..0x74), e.g. FUNCREF
#   non-nullable abstract  that byte | _NON_NULL (0x100), e.g. (ref func) == 0x170
#   concrete ``$i``        _CONCRETE + 2*i + nullable (0x200 + ...)
_NON_NULL = 0x100
_CONCRETE = 0x200


def ref_type(heap: int, nullable: bool = True) -> int:
    """The value type ``(ref null? heap)``: ``ref_type(HT_FUNC) == FUNCREF``,
    ``ref_type(3, False)`` is ``(ref 3)`` (type index 3)."""
    if heap >= 0:
        return _CONCRETE + 2 * heap + (1 if nullable else 0)
    if heap not in ABSTRACT_HEAP_TYPES:
        raise ValueError(f"not a heap type: {heap}")
    return heap + 0x80 if nullable else (heap + 0x80) | _NON_NULL


def is_ref(t: int) -> bool:
    """Whether the value type ``t`` is a reference type (any nullability, any heap type)."""
    return t >= _CONCRETE or (t & ~_NON_NULL) - 0x80 in ABSTRACT_HEAP_TYPES


def ref_heap(t: int) -> int:
    """The heap type of the reference type ``t`` (negative abstract, or a type index)."""
    if t >= _CONCRETE:
        return (t - _CONCRETE) >> 1
    return (t & ~_NON_NULL) - 0x80


def ref_nullable(t: int) -> bool:
    """Whether the reference type ``t`` admits null."""
    if t >= _CONCRETE:
        return bool(t & 1)
    return not t & _NON_NULL


def ref_with_nullable(t: int, nullable: bool) -> int:
    """``t`` with its nullability replaced (``ref.as_non_null``, ``br_on_null``)."""
    return ref_type(ref_heap(t), nullable)


def heap_type_name(ht: int) -> str:
    """``'func'``, ``'extern'``, ... or the type index as a string."""
    return HEAP_TYPE_NAMES.get(ht, str(ht)) if ht < 0 else str(ht)


VALTYPE_NAMES = {
    I32: "i32",
    I64: "i64",
    F32: "f32",
    F64: "f64",
    V128: "v128",
    FUNCREF: "funcref",
    EXTERNREF: "externref",
    ANYREF: "anyref",
    EQREF: "eqref",
    I31REF: "i31ref",
    STRUCTREF: "structref",
    ARRAYREF: "arrayref",
    EXNREF: "exnref",
    NULLEXNREF: "nullexnref",
    NULLFUNCREF: "nullfuncref",
    NULLEXTERNREF: "nullexternref",
    NULLREF: "nullref",
}
VALTYPE_BY_NAME = {name: code for code, name in VALTYPE_NAMES.items()}


def valtype_name(t: int) -> str:
    """The text format of a value type: ``valtype_name(0x7F) == 'i32'``,
    ``valtype_name(ref_type(HT_FUNC, False)) == '(ref func)'``."""
    name = VALTYPE_NAMES.get(t)
    if name is not None:
        return name
    if type(t) is not int and isinstance(t, int) and hasattr(t, "_text"):
        return str(t)   # a described reference type (subtyping.RefType)
    if t >= _NON_NULL and is_ref(t):
        null = "null " if ref_nullable(t) else ""
        return f"(ref {null}{heap_type_name(ref_heap(t))})"
    return f"<type 0x{t:x}>"


# Block types are kept as the binary encodes them, as a signed (s33) int: -64 (0x40)
# is the empty type, -1..-24 are single value types of one-byte encoding (the byte
# read as signed LEB128), and a non-negative value is a type index.  A single result
# of a multi-byte reference type (``(result (ref $t))``) is ``-t`` (<= -0x100),
# which no binary s33 block type can be.
BLOCK_EMPTY = -0x40


def blocktype_of_valtype(t: int) -> int:
    """The block type meaning "one result of type ``t``"."""
    return t - 0x80 if t < 0x100 else -t


def valtype_of_blocktype(bt: int) -> int:
    """Inverse of :func:`blocktype_of_valtype` for ``bt < 0, bt != BLOCK_EMPTY``."""
    return bt + 0x80 if bt > -0x80 else -bt


@dataclass(frozen=True)
class FuncType:
    """A function signature. ``FuncType((I32, I32), (I32,))`` is ``[i32 i32] -> [i32]``."""

    params: Tuple[int, ...] = ()
    results: Tuple[int, ...] = ()

    if TYPE_CHECKING:
        # (the dataclass's __init__, as callers may spell it: any sequences)
        def __init__(self, params: Sequence[int] = (), results: Sequence[int] = ()) -> None: ...

    def __post_init__(self) -> None:
        # Users also write FuncType([I32], [I32]): store tuples, so that equal
        # signatures compare equal (and hash) however they were spelled.
        if self.params.__class__ is not tuple:
            object.__setattr__(self, "params", tuple(self.params))
        if self.results.__class__ is not tuple:
            object.__setattr__(self, "results", tuple(self.results))

    def __str__(self) -> str:
        p = " ".join(valtype_name(t) for t in self.params)
        r = " ".join(valtype_name(t) for t in self.results)
        return f"[{p}] -> [{r}]"


# GC's packed storage types (struct fields and array elements only).
I8 = 0x78
I16 = 0x77
PACKED_TYPES = frozenset((I8, I16))
STORAGE_NAMES = {I8: "i8", I16: "i16"}


@dataclass(frozen=True)
class FieldType:
    """A struct field or array element type (GC): a value type or a packed type
    (``I8``, ``I16``), and mutability.  ``FieldType(I8, True)`` is ``(mut i8)``."""

    storage: int
    mutable: bool = False

    def __str__(self) -> str:
        t = STORAGE_NAMES.get(self.storage) or valtype_name(self.storage)
        return f"(mut {t})" if self.mutable else t


@dataclass(frozen=True)
class StructType:
    """A struct type (GC): ``StructType((FieldType(I32, True),))`` is
    ``(struct (field (mut i32)))``."""

    fields: Tuple[FieldType, ...] = ()

    def __str__(self) -> str:
        return "(struct" + "".join(f" (field {f})" for f in self.fields) + ")"


@dataclass(frozen=True)
class ArrayType:
    """An array type (GC): ``ArrayType(FieldType(I8, True))`` is ``(array (mut i8))``."""

    field: FieldType

    def __str__(self) -> str:
        return f"(array {self.field})"


def comp_storage_types(ct: object) -> Tuple[int, ...]:
    """Every value/storage type a composite type (FuncType, StructType, ArrayType)
    mentions, for the checks that look at all of them."""
    if isinstance(ct, FuncType):
        return ct.params + ct.results
    if isinstance(ct, StructType):
        return tuple(f.storage for f in ct.fields)
    return (cast(ArrayType, ct).field.storage,)


def unpacked(storage: int) -> int:
    """The value type a storage type is read as (i8/i16 -> i32)."""
    return I32 if storage in PACKED_TYPES else storage


@dataclass(frozen=True)
class Limits:
    """``min`` and optional ``max`` (pages for memories, elements for tables)."""

    min: int
    max: Optional[int] = None

    def __str__(self) -> str:
        return f"{self.min}" if self.max is None else f"{self.min}..{self.max}"


@dataclass(frozen=True)
class TableType:
    """A table type; ``address_type`` is ``I32`` or, with memory64 (table64), ``I64``:
    ``TableType(FUNCREF, Limits(1), I64)`` is ``(table i64 1 funcref)``."""

    elem_type: int
    limits: Limits
    address_type: int = I32

    def __str__(self) -> str:
        at = "i64 " if self.address_type == I64 else ""
        return f"table {at}{self.limits} {valtype_name(self.elem_type)}"


@dataclass(frozen=True)
class MemoryType:
    """A memory type (limits in pages); ``address_type`` is ``I32`` or, with
    memory64, ``I64``: ``MemoryType(Limits(1, 2), I64)`` is ``(memory i64 1 2)``."""

    limits: Limits
    address_type: int = I32

    def __str__(self) -> str:
        at = "i64 " if self.address_type == I64 else ""
        return f"memory {at}{self.limits}"


@dataclass(frozen=True)
class GlobalType:
    """A global's type: value type and mutability.  ``GlobalType(I32, True)`` is
    ``(mut i32)``."""

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
EXTERN_TAG = 4
EXTERN_KIND_NAMES = {EXTERN_FUNC: "func", EXTERN_TABLE: "table", EXTERN_MEMORY: "memory", EXTERN_GLOBAL: "global",
                     EXTERN_TAG: "tag"}

PAGE_SIZE = 65536
MAX_PAGES = 65536
MAX_PAGES64 = 1 << 48
"""The most pages a 64-bit memory may declare (the spec's 2^48: 2^64 bytes)."""
MAX_TABLE_SIZE64 = (1 << 64) - 1
