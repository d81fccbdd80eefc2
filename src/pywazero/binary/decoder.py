"""The binary decoder: WebAssembly 2.0 binary format -> :class:`~pywazero.wasm.module.Module`.

:func:`decode_module` is the entry point. It checks everything the binary format
(spec chapter 5) requires of a well-formed module and nothing more: whether the module
is *valid* (types, indices, constant expressions, ...) is the validator's business.

Every problem with the input is reported as a :class:`~pywazero.errors.DecodeError`
naming the reason in the words of the spec tests, the byte offset, the section and
(in the code section) the function index in the function index space (imports
included). No other exception escapes, whatever the bytes.

Implementation notes
--------------------
* Each section is read from a ``bytes`` prefix of the module that ends where the
  section ends: positions are module offsets (so instruction offsets need no
  arithmetic) and reading past the section raises ``IndexError``, which the
  section driver turns into ``"unexpected end of section or function"``. This
  keeps explicit bounds checks out of the hot paths.
* Function bodies are decoded within their section, as the reference interpreter
  does: the declared body size is compared with what the body really consumed
  afterwards (``"section size mismatch"``).
* Vector lengths are checked against the bytes left in the input before anything is
  read (``"length out of bounds"``), and nothing is ever preallocated from a count.
* The instruction loop inlines the one-byte LEB128 fast paths of the common
  immediate kinds; everything rarer goes through small helpers.
* With ``validate=True`` (``Runtime.compile``) each body first goes through
  :mod:`pywazero.binary.fastcheck`, a single pass over its bytes that either
  knows it is well-formed and valid (no instruction tuples are built) or gives
  up, and then the body is decoded and validated here as always.
"""
from __future__ import annotations

from struct import Struct
from typing import Any, Dict, List, Optional, Set, Tuple, Union

from ..errors import DecodeError
from ..wasm import opcodes as _opc
from ..wasm.features import CoreFeatures, check_features
from ..wasm import impl_limits as _limits
from ..wasm.module import (
    MODE_ACTIVE,
    MODE_DECLARATIVE,
    MODE_PASSIVE,
    CustomSection,
    DataSegment,
    ElementSegment,
    Export,
    Expr,
    Function,
    Global,
    Import,
    Module,
    NameSection,
)
from ..wasm.types import (
    EXTERN_FUNC,
    EXTERN_GLOBAL,
    EXTERN_MEMORY,
    EXTERN_TABLE,
    EXTERN_TAG,
    EXTERNREF,
    ABSTRACT_HEAP_TYPES,
    FUNCREF,
    HT_FUNC,
    I32,
    I64,
    VALUE_TYPES,
    I8,
    I16,
    blocktype_of_valtype,
    ref_type,
    ArrayType,
    FieldType,
    FuncType,
    StructType,
    GlobalType,
    Limits,
    MemoryType,
    TableType,
)

__all__ = ["decode_module", "read_leb128", "SECTION_NAMES"]

MAGIC = b"\x00asm"
VERSION = b"\x01\x00\x00\x00"

SECTION_NAMES = {
    0: "custom",
    1: "type",
    2: "import",
    3: "function",
    4: "table",
    5: "memory",
    6: "global",
    7: "export",
    8: "start",
    9: "element",
    10: "code",
    11: "data",
    12: "data count",
    13: "tag",
}

# Position of each non-custom section in the required order (data count, id 12,
# sits between element and code).
# The tag section (id 13, exception handling) sits between memory and global.
_SECTION_RANK = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 5.5, 6: 6, 7: 7, 8: 8, 9: 9, 12: 10, 10: 11,
                 11: 12}

_END_OF_SECTION = "unexpected end of section or function"

_REF_TYPES = frozenset((FUNCREF, EXTERNREF))
_VALUE_TYPES = frozenset(VALUE_TYPES)
# WebAssembly 3.0's one-byte reference types (the nullable abstract ones, e.g.
# exnref, nullfuncref) and the two prefixes of ``(ref null? heaptype)``.  The
# decoder reads every 3.0 value type whatever the features; the validator
# rejects those of a disabled feature, naming it.
_ABBREV_REF_TYPES = frozenset(ht + 0x80 for ht in ABSTRACT_HEAP_TYPES)
_VALUE_TYPES_3 = _VALUE_TYPES | _ABBREV_REF_TYPES
_REF_FUNC = ref_type(HT_FUNC, False)   # (ref func)
_REF_NULL_PREFIX = 0x63
_REF_PREFIX = 0x64

# Whether streaming validation first tries binary/fastcheck.py's single-pass
# check on each body (tests and benchmarks switch it off to compare).
FAST_BODIES = True

_u32_le = Struct("<I").unpack_from
_u64_le = Struct("<Q").unpack_from


class _Err(Exception):
    """Internal: a malformation at ``pos`` (an offset in the buffer being read)."""

    __slots__ = ("reason", "pos")

    def __init__(self, reason: str, pos: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.pos = pos


# ---------------------------------------------------------------------------------
# LEB128
# ---------------------------------------------------------------------------------
# All readers take (buf, pos) and return (value, pos after the value). Reading past the
# end of ``buf`` raises IndexError; malformed encodings raise _Err.


def _u32(buf: bytes, pos: int) -> Tuple[int, int]:
    """Unsigned LEB128, at most 5 bytes, value < 2**32."""
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    result = b & 0x7F
    b = buf[pos + 1]
    if b < 0x80:
        return result | (b << 7), pos + 2
    result |= (b & 0x7F) << 7
    b = buf[pos + 2]
    if b < 0x80:
        return result | (b << 14), pos + 3
    result |= (b & 0x7F) << 14
    b = buf[pos + 3]
    if b < 0x80:
        return result | (b << 21), pos + 4
    result |= (b & 0x7F) << 21
    b = buf[pos + 4]
    if b & 0x70:
        raise _Err("integer too large", pos + 4)
    if b & 0x80:
        raise _Err("integer representation too long", pos + 4)
    return result | (b << 28), pos + 5


def _uleb(buf: bytes, pos: int, bits: int) -> Tuple[int, int]:
    """Unsigned LEB128 of at most ceil(bits/7) bytes, value < 2**bits."""
    result = 0
    shift = 0
    while True:
        left = bits - shift
        if left <= 0:
            raise _Err("integer representation too long", pos)
        b = buf[pos]
        if left < 7:
            if (b & 0x7F) >> left:
                raise _Err("integer too large", pos)
            if b & 0x80:
                raise _Err("integer representation too long", pos)
            return result | (b << shift), pos + 1
        result |= (b & 0x7F) << shift
        pos += 1
        if b < 0x80:
            return result, pos
        shift += 7


def _sleb(buf: bytes, pos: int, bits: int) -> Tuple[int, int]:
    """Signed LEB128 of at most ceil(bits/7) bytes, value in [-2**(bits-1), 2**(bits-1))."""
    result = 0
    shift = 0
    while True:
        left = bits - shift
        if left <= 0:
            raise _Err("integer representation too long", pos)
        b = buf[pos]
        if left < 7:
            # The unused bits of the last byte, and its sign bit, must all be equal.
            mask = (0x7F << (left - 1)) & 0x7F
            x = b & mask
            if x != 0 and x != mask:
                raise _Err("integer too large", pos)
            if b & 0x80:
                raise _Err("integer representation too long", pos)
            result |= (b & 0x7F) << shift
            if b & 0x40:
                result -= 1 << (shift + 7)
            return result, pos + 1
        result |= (b & 0x7F) << shift
        pos += 1
        shift += 7
        if b < 0x80:
            if b & 0x40:
                result -= 1 << shift
            return result, pos


def read_leb128(data: Union[bytes, bytearray, memoryview], pos: int = 0, bits: int = 32,
                signed: bool = False) -> Tuple[int, int]:
    """Read one LEB128 integer of type ``uN``/``sN`` (``N = bits``) at ``data[pos]``.

    Returns ``(value, position after it)``; applies the spec's length and unused-bit
    rules and raises :class:`DecodeError` otherwise.

    >>> read_leb128(b"\\xe5\\x8e\\x26")
    (624485, 3)
    >>> read_leb128(b"\\x7f", signed=True)
    (-1, 1)
    """
    buf = bytes(data)
    if pos < 0 or bits < 1:
        raise ValueError("pos must be >= 0 and bits >= 1")
    try:
        if signed:
            return _sleb(buf, pos, bits)
        return _uleb(buf, pos, bits)
    except IndexError:
        raise DecodeError("unexpected end", offset=len(buf)) from None
    except _Err as e:
        raise DecodeError(e.reason, offset=e.pos) from None


def _heaptype(buf: bytes, pos: int) -> Tuple[int, int]:
    """A heap type (s33): an abstract one (negative) or a type index."""
    start = pos
    ht, pos = _sleb(buf, pos, 33)
    if ht < 0 and ht not in ABSTRACT_HEAP_TYPES:
        raise _Err("malformed heap type", start)
    return ht, pos


def _valtype(buf: bytes, pos: int, what: str = "malformed value type") -> Tuple[int, int]:
    """A value type of any length (see :func:`~pywazero.wasm.types.ref_type`)."""
    t = buf[pos]
    if t in _VALUE_TYPES_3:
        return t, pos + 1
    if t == _REF_NULL_PREFIX or t == _REF_PREFIX:
        ht, pos = _heaptype(buf, pos + 1)
        return ref_type(ht, t == _REF_NULL_PREFIX), pos
    raise _Err(what, pos)


# ---------------------------------------------------------------------------------
# Instructions
# ---------------------------------------------------------------------------------
# Decoder-internal kinds for the one-byte opcodes.
_K_ILLEGAL = 0
_K_PLAIN = 1       # no immediate
_K_U32 = 2         # one u32 index
_K_END = 3
_K_I32 = 4
_K_MEMARG = 5
_K_BLOCK = 6       # block, loop
_K_IF = 7
_K_ELSE = 8
_K_I64 = 9
_K_F32 = 10
_K_F64 = 11
_K_ZERO = 12       # memory.size / memory.grow: one 0x00 byte
_K_BR_TABLE = 13
_K_CALL_INDIRECT = 14
_K_SELECT_T = 15
_K_REFTYPE = 16
_K_PREFIX = 17     # 0xFC / 0xFD
# Without reference types (the 1.0 binary format): call_indirect's table immediate
# and the memory instructions' reserved byte are a single zero "flag" byte.
_K_CALL_INDIRECT_FLAG = 18
_K_ZERO_FLAG = 19
# WebAssembly 3.0's memory immediates (multiple memories, memory64): a memarg whose
# flags may announce a memory index and whose offset may be a u64, and a memory
# index where 2.0 has a zero byte.  Only kind tables of those features use them.
_K_MEMARG_X = 20
_K_MEMIDX = 21
_K_TRY_TABLE = 22  # exception handling: block type and catch clauses
_K_DELEGATE = 23   # legacy exceptions: closes a `try` like `end`
# (_decode_instrs compares against these numbers literally, for speed.)
assert (_K_ILLEGAL, _K_PLAIN, _K_U32, _K_END, _K_I32, _K_MEMARG, _K_BLOCK, _K_IF, _K_ELSE,
        _K_PREFIX) == (0, 1, 2, 3, 4, 5, 6, 7, 8, 17)

_ONE_BYTE_KIND = {
    _opc.IMM_NONE: _K_PLAIN,
    _opc.IMM_BLOCK: _K_BLOCK,
    _opc.IMM_LABEL: _K_U32,
    _opc.IMM_FUNC: _K_U32,
    _opc.IMM_LOCAL: _K_U32,
    _opc.IMM_GLOBAL: _K_U32,
    _opc.IMM_TABLE: _K_U32,
    _opc.IMM_BR_TABLE: _K_BR_TABLE,
    _opc.IMM_CALL_INDIRECT: _K_CALL_INDIRECT,
    _opc.IMM_SELECT_T: _K_SELECT_T,
    _opc.IMM_MEMARG: _K_MEMARG,
    _opc.IMM_MEMORY: _K_ZERO,
    _opc.IMM_I32: _K_I32,
    _opc.IMM_I64: _K_I64,
    _opc.IMM_F32: _K_F32,
    _opc.IMM_F64: _K_F64,
    _opc.IMM_REFTYPE: _K_REFTYPE,
    _opc.IMM_TAG: _K_U32,
    _opc.IMM_TRY_TABLE: _K_TRY_TABLE,
    _opc.IMM_TYPE: _K_U32,
}

_KIND: List[int] = [_K_ILLEGAL] * 256
# Shared instruction tuples for the immediate-free one-byte instructions.
_PLAIN: List[Optional[Tuple[int, None]]] = [None] * 256
# Immediate kind (opcodes.IMM_*) of every prefixed instruction.
_PREFIXED: Dict[int, int] = {}

for _code, _info in _opc.BY_OP.items():
    if _code > 0xFF:
        _PREFIXED[_code] = _info.imm
        continue
    _KIND[_code] = _ONE_BYTE_KIND[_info.imm]
    if _info.imm == _opc.IMM_NONE:
        _PLAIN[_code] = (_code, None)
_KIND[_opc.OP_END] = _K_END
_KIND[_opc.OP_ELSE] = _K_ELSE
_KIND[0x04] = _K_IF
_KIND[_opc.OP_DELEGATE] = _K_DELEGATE
_PLAIN[_opc.OP_END] = _PLAIN[_opc.OP_ELSE] = None
_KIND[_opc.PREFIX_FB] = _K_PREFIX
_KIND[_opc.PREFIX_FC] = _K_PREFIX
_KIND[_opc.PREFIX_FD] = _K_PREFIX
del _code, _info

# The kind table used without the reference-types feature.
_KIND_NO_REFS: List[int] = [
    _K_CALL_INDIRECT_FLAG if k == _K_CALL_INDIRECT else _K_ZERO_FLAG if k == _K_ZERO else k
    for k in _KIND
]
# Entry 256 of a kind table (past every opcode byte) holds the memory-immediate
# format: bit 0 multiple memories (memory indices), bit 1 memory64 (u64 offsets and
# limits).  0 in the 2.0 tables.
_MF_MULTI = 1
_MF_WIDE = 2
_KIND.append(0)
_KIND_NO_REFS.append(0)
# Exception handling's opcodes (throw, try_table, ... and the legacy try, catch, ...)
# are illegal opcodes without its features, as the tag section is an unknown section.
_EH_OPS = (0x06, 0x07, 0x08, 0x09, 0x0A, 0x18, 0x19, 0x1F)
_KIND_EH = _KIND
_KIND = list(_KIND_EH)
for _code in _EH_OPS:
    _KIND[_code] = _K_ILLEGAL
    _KIND_NO_REFS[_code] = _K_ILLEGAL
del _code
_KINDS_CACHE: Dict[Tuple[bool, int, bool], List[int]] = {}


def _kinds_for(features: CoreFeatures) -> List[int]:
    """The kind table of a feature set (shared, never mutated after creation)."""
    refs = bool(features & CoreFeatures.REFERENCE_TYPES)
    mf = ((_MF_MULTI if features & CoreFeatures.MULTI_MEMORY else 0)
          | (_MF_WIDE if features & CoreFeatures.MEMORY64 else 0))
    eh = bool(features & (CoreFeatures.EXCEPTIONS | CoreFeatures.LEGACY_EXCEPTIONS))
    base = _KIND if refs else _KIND_NO_REFS
    if not mf and not eh:
        return base
    kinds = _KINDS_CACHE.get((refs, mf, eh))
    if kinds is None:
        kinds = [_K_MEMARG_X if k == _K_MEMARG
                 else _K_MEMIDX if (mf & _MF_MULTI and (k == _K_ZERO or k == _K_ZERO_FLAG)) else k
                 for k in base[:256]]
        if eh:
            for code in _EH_OPS:
                kinds[code] = _KIND_EH[code]
        kinds.append(mf)
        _KINDS_CACHE[(refs, mf, eh)] = kinds
    return kinds


def _memarg_x(buf: bytes, pos: int, mf: int) -> Tuple[Tuple[int, int, int], int]:
    """A memarg in the 3.0 format: flags (u32: the alignment exponent, bit 6 a memory
    index follows), [memory index], offset (u64 with memory64)."""
    a, pos2 = _u32(buf, pos)
    mem = 0
    if mf & _MF_MULTI:
        if a >= 128:
            raise _Err("malformed memop flags", pos)
        if a >= 64:
            a -= 64
            mem, pos2 = _u32(buf, pos2)
    elif a >= 32:
        raise _Err("malformed memop flags", pos)
    if mf & _MF_WIDE:
        off, pos = _uleb(buf, pos2, 64)
    else:
        off, pos = _u32(buf, pos2)
    return (a, off, mem), pos

_END = (_opc.OP_END, None)
_ELSE = (_opc.OP_ELSE, None)
_OP_MEMORY_INIT = _opc.fc(8)
_OP_DATA_DROP = _opc.fc(9)
_OP_ARRAY_NEW_DATA = _opc.fb(9)
_OP_ARRAY_INIT_DATA = _opc.fb(18)
_OP_REF_FUNC = 0xD2


def _prefixed(buf: bytes, pos: int, prefix: int, mf: int = 0) -> Tuple[int, Any, int]:
    """Decode the sub-opcode and immediates of a 0xFC/0xFD instruction.

    ``pos`` is just after the prefix byte; ``mf`` the memory-immediate format
    (``_MF_*``). Returns ``(op, imm, pos)``.
    """
    start = pos
    b = buf[pos]
    if b < 0x80:
        sub = b
        pos += 1
    else:
        sub, pos = _u32(buf, pos)
    # (sub > 0xFFFF would alias another prefix in the (prefix << 16) | sub scheme.)
    kind = _PREFIXED.get((prefix << 16) | sub) if sub <= 0xFFFF else None
    if kind is None:
        raise _Err("illegal opcode", start - 1)
    op = (prefix << 16) | sub
    if kind == _opc.IMM_NONE:
        return op, None, pos
    if kind == _opc.IMM_MEMARG or kind == _opc.IMM_MEMARG_LANE:
        m, pos = _memarg_x(buf, pos, mf)
        if kind == _opc.IMM_MEMARG:
            return op, m, pos
        lane = buf[pos]
        return op, m + (lane,), pos + 1
    if kind == _opc.IMM_V128:
        if pos + 16 > len(buf):
            raise IndexError
        return op, int.from_bytes(buf[pos:pos + 16], "little"), pos + 16
    if kind == _opc.IMM_SHUFFLE:
        if pos + 16 > len(buf):
            raise IndexError
        return op, buf[pos:pos + 16], pos + 16
    if kind == _opc.IMM_LANE:
        return op, buf[pos], pos + 1
    if kind == _opc.IMM_TABLE or kind == _opc.IMM_ELEM or kind == _opc.IMM_DATA:
        x, pos = _u32(buf, pos)
        return op, x, pos
    if kind == _opc.IMM_TABLE_INIT or kind == _opc.IMM_TABLE_COPY:
        x, pos = _u32(buf, pos)
        y, pos = _u32(buf, pos)
        return op, (x, y), pos
    if kind == _opc.IMM_MEMORY_INIT:
        x, pos = _u32(buf, pos)
        if mf & _MF_MULTI:
            y, pos = _u32(buf, pos)
            return op, (x, y), pos
        if buf[pos] != 0:
            raise _Err("zero byte expected", pos)
        return op, (x, 0), pos + 1
    if kind == _opc.IMM_MEMORY_COPY:
        if mf & _MF_MULTI:
            x, pos = _u32(buf, pos)
            y, pos = _u32(buf, pos)
            return op, (x, y), pos
        if buf[pos] != 0:
            raise _Err("zero byte expected", pos)
        if buf[pos + 1] != 0:
            raise _Err("zero byte expected", pos + 1)
        return op, (0, 0), pos + 2
    if kind == _opc.IMM_MEMORY:
        if mf & _MF_MULTI:
            x, pos = _u32(buf, pos)
            return op, x, pos
        if buf[pos] != 0:
            raise _Err("zero byte expected", pos)
        return op, 0, pos + 1
    if kind == _opc.IMM_TYPE:
        x, pos = _u32(buf, pos)
        return op, x, pos
    if kind >= _opc.IMM_FIELD and kind <= _opc.IMM_TYPE_TYPE:
        x, pos = _u32(buf, pos)
        y, pos = _u32(buf, pos)
        return op, (x, y), pos
    if kind == _opc.IMM_CAST:
        ht, pos = _heaptype(buf, pos)
        return op, ref_type(ht, sub == 21 or sub == 23), pos
    if kind == _opc.IMM_BR_ON_CAST:
        flags = buf[pos]
        if flags > 3:
            raise _Err("malformed br_on_cast flags", pos)
        label, pos = _u32(buf, pos + 1)
        h1, pos = _heaptype(buf, pos)
        h2, pos = _heaptype(buf, pos)
        return op, (label, ref_type(h1, bool(flags & 1)), ref_type(h2, bool(flags & 2))), pos
    raise AssertionError(f"unhandled immediate kind {kind}")  # pragma: no cover


def _blocktype(buf: bytes, pos: int) -> Tuple[int, int]:
    """A block type (s33, see types.BLOCK_EMPTY) at ``pos``, as the block/if path of
    _decode_instrs reads it. Returns ``(bt, pos)``."""
    b = buf[pos]
    if b == 0x40:
        return -0x40, pos + 1
    if b < 0x40:
        return b, pos + 1
    if b < 0x80:
        if b in _VALUE_TYPES_3:
            return b - 0x80, pos + 1
        t, pos = _valtype(buf, pos)   # (ref null? ht)
        return blocktype_of_valtype(t), pos
    bt, pos2 = _sleb(buf, pos, 33)
    if bt < 0:
        raise _Err("malformed block type", pos)
    return bt, pos2


def _rare(buf: bytes, pos: int, k: int, total: int, mf: int = 0) -> Tuple[Any, int]:
    """Immediates of the less common one-byte instructions. Returns ``(imm, pos)``."""
    if k == _K_MEMARG_X:
        return _memarg_x(buf, pos, mf)
    if k == _K_MEMIDX:
        return _u32(buf, pos)
    if k == _K_DELEGATE:
        return _u32(buf, pos)
    if k == _K_TRY_TABLE:
        bt, pos = _blocktype(buf, pos)
        start = pos
        n, pos = _u32(buf, pos)
        if n > total - start:
            raise _Err("length out of bounds", start)
        catches = []
        for _ in range(n):
            kind = buf[pos]
            if kind > 3:
                raise _Err("malformed catch clause", pos)
            pos += 1
            tag = None
            if kind < 2:
                tag, pos = _u32(buf, pos)
            label, pos = _u32(buf, pos)
            catches.append((kind, tag, label))
        return (bt, tuple(catches)), pos
    if k == _K_I64:
        return _sleb(buf, pos, 64)
    if k == _K_F32:
        if pos + 4 > len(buf):
            raise IndexError
        return _u32_le(buf, pos)[0], pos + 4
    if k == _K_F64:
        if pos + 8 > len(buf):
            raise IndexError
        return _u64_le(buf, pos)[0], pos + 8
    if k == _K_ZERO:
        if buf[pos] != 0:
            raise _Err("zero byte expected", pos)
        return 0, pos + 1
    if k == _K_CALL_INDIRECT:
        y, pos = _u32(buf, pos)
        x, pos = _u32(buf, pos)
        return (y, x), pos
    if k == _K_BR_TABLE:
        start = pos
        n, pos = _u32(buf, pos)
        if n > total - start:
            raise _Err("length out of bounds", start)
        labels: List[int] = []
        append = labels.append
        u32 = _u32
        for _ in range(n):
            b = buf[pos]
            if b < 0x80:
                append(b)
                pos += 1
            else:
                x, pos = u32(buf, pos)
                append(x)
        default, pos = _u32(buf, pos)
        return (tuple(labels), default), pos
    if k == _K_SELECT_T:
        start = pos
        n, pos = _u32(buf, pos)
        if n > total - start:
            raise _Err("length out of bounds", start)
        types = []
        for _ in range(n):
            t, pos = _valtype(buf, pos)
            types.append(t)
        return tuple(types), pos
    if k == _K_REFTYPE:
        # ref.null's heap type, kept as the nullable reference type
        t = buf[pos]
        if t in _REF_TYPES:
            return t, pos + 1
        try:
            ht, pos2 = _heaptype(buf, pos)
        except _Err:
            raise _Err("malformed reference type", pos) from None
        return ref_type(ht), pos2
    if k == _K_CALL_INDIRECT_FLAG:
        y, pos = _u32(buf, pos)
        if buf[pos] != 0:
            raise _Err("zero flag expected", pos)
        return (y, 0), pos + 1
    if k == _K_ZERO_FLAG:
        if buf[pos] != 0:
            raise _Err("zero flag expected", pos)
        return 0, pos + 1
    raise AssertionError(f"unhandled kind {k}")  # pragma: no cover


_TABLE_SET, _TABLE_INIT, _TABLE_COPY = 0x26, _opc.fc(12), _opc.fc(14)
_TABLE_GROW, _TABLE_FILL = _opc.fc(15), _opc.fc(17)


def _table_writes(body: List[Tuple[int, Any]], written: Set[int]) -> None:
    """Add the tables instructions of ``body`` write to ``written``."""
    for op, imm in body:
        if op == _TABLE_SET or op == _TABLE_GROW or op == _TABLE_FILL:
            written.add(imm)
        elif op == _TABLE_INIT:
            written.add(imm[1])
        elif op == _TABLE_COPY:
            written.add(imm[0])


def _decode_instrs(buf: bytes, pos: int, total: int, need_data_count: bool,
                   kinds: List[int] = _KIND) -> Tuple[Expr, List[int], int]:
    """Decode instructions from ``buf[pos]`` up to and including the ``end`` that
    closes the expression. Returns ``(instrs, offsets, pos after the end)``.

    Positions in ``buf`` are offsets in the module (``buf`` is a prefix of it);
    ``total`` is the length of the whole module. With ``need_data_count``,
    ``memory.init``/``data.drop`` are malformed. ``kinds`` is ``_KIND``, or
    ``_KIND_NO_REFS`` without the reference-types feature.
    """
    instrs: Expr = []
    offsets: List[int] = []
    append = instrs.append
    oappend = offsets.append
    plain = _PLAIN
    u32 = _u32
    sleb = _sleb
    # One entry per open block/loop/if: True while an `else` is still allowed.
    stack: List[bool] = []
    push = stack.append
    pop = stack.pop
    try:
        while True:
            oappend(pos)
            op = buf[pos]
            pos += 1
            k = kinds[op]
            if k == 1:  # _K_PLAIN
                append(plain[op])  # type: ignore[arg-type]  # (set for every plain opcode)
            elif k == 2:  # _K_U32
                b = buf[pos]
                if b < 0x80:
                    pos += 1
                    append((op, b))
                else:
                    b, pos = u32(buf, pos)
                    append((op, b))
            elif k == 3:  # _K_END
                append(_END)
                if not stack:
                    return instrs, offsets, pos
                pop()
            elif k == 4:  # _K_I32
                b = buf[pos]
                if b < 0x40:
                    pos += 1
                    append((op, b))
                elif b < 0x80:
                    pos += 1
                    append((op, b - 0x80))
                else:
                    b, pos = sleb(buf, pos, 32)
                    append((op, b))
            elif k == 5:  # _K_MEMARG
                a = buf[pos]
                if a < 0x80:
                    pos += 1
                    if a >= 32:
                        raise _Err("malformed memop flags", pos - 1)
                else:
                    a, pos2 = u32(buf, pos)
                    if a >= 32:
                        raise _Err("malformed memop flags", pos)
                    pos = pos2
                b = buf[pos]
                if b < 0x80:
                    pos += 1
                else:
                    b, pos = u32(buf, pos)
                append((op, (a, b, 0)))
            elif k == 20:  # _K_MEMARG_X: one-byte alignment and offset inline
                a = buf[pos]
                b = buf[pos + 1]
                if a < 0x20 and b < 0x80:
                    pos += 2
                    append((op, (a, b, 0)))
                else:
                    imm, pos = _memarg_x(buf, pos, kinds[256])
                    append((op, imm))
            elif k == 6 or k == 7:  # _K_BLOCK, _K_IF
                b = buf[pos]
                if b == 0x40:
                    pos += 1
                    append((op, -0x40))
                elif b < 0x40:
                    pos += 1
                    append((op, b))
                elif b < 0x80:
                    if b in _VALUE_TYPES_3:
                        pos += 1
                        append((op, b - 0x80))
                    else:
                        t, pos = _valtype(buf, pos)
                        append((op, blocktype_of_valtype(t)))
                else:
                    b, pos2 = sleb(buf, pos, 33)
                    if b < 0:
                        raise _Err("malformed block type", pos)
                    pos = pos2
                    append((op, b))
                push(k == 7)
            elif k == 8:  # _K_ELSE
                if not stack or not stack[-1]:
                    raise _Err("END opcode expected", pos - 1)
                stack[-1] = False
                append(_ELSE)
            elif k == 17:  # _K_PREFIX
                op, imm, pos = _prefixed(buf, pos, op, kinds[256])
                if need_data_count and (op == _OP_MEMORY_INIT or op == _OP_DATA_DROP
                                        or op == _OP_ARRAY_NEW_DATA or op == _OP_ARRAY_INIT_DATA):
                    raise _Err("data count section required", offsets[-1])
                append((op, imm))
            elif k == 0:  # _K_ILLEGAL
                raise _Err("illegal opcode", pos - 1)
            else:
                imm, pos = _rare(buf, pos, k, total, kinds[256])
                append((op, imm))
                if k == 22:  # _K_TRY_TABLE: a block, closed by `end`
                    push(False)
                elif k == 23:  # _K_DELEGATE: closes a legacy `try`
                    if not stack:
                        raise _Err("unexpected delegate", offsets[-1])
                    pop()
    except IndexError:
        raise _Err(_END_OF_SECTION, len(buf)) from None


class _BodySource:
    """Where a decoded module's function bodies are: the module's bytes and the
    decoding options, shared by all its functions (:meth:`Function.lazy`).  A body
    was decoded once (and found well-formed) when the module was, so decoding it
    again from the same bytes gives the same instructions and cannot fail."""

    __slots__ = ("data", "need_data_count", "kinds")

    def __init__(self, data: bytes, need_data_count: bool, kinds: List[int]) -> None:
        self.data = data
        self.need_data_count = need_data_count
        self.kinds = kinds

    def decode(self, pos: int) -> Tuple[Expr, List[int]]:
        data = self.data
        body, offsets, _ = _decode_instrs(data, pos, len(data), self.need_data_count, self.kinds)
        return body, offsets


# ---------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------
class _Reader:
    """Cursor over ``buf``, which ends where the current section (or custom
    payload) ends, so reading past the section raises IndexError. Positions are
    offsets in ``buf``; for sections ``buf`` is a prefix of the module, so they are
    module offsets. ``total`` is the length of the input the vector lengths are
    checked against."""

    __slots__ = ("buf", "pos", "total", "kinds", "wide")

    def __init__(self, buf: bytes, pos: int, total: int, kinds: List[int] = _KIND) -> None:
        self.buf = buf
        self.pos = pos
        self.total = total
        self.kinds = kinds
        self.wide = bool(kinds[256] & _MF_WIDE)

    def at_end(self) -> bool:
        return self.pos >= len(self.buf)

    def byte(self) -> int:
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def u32(self) -> int:
        v, self.pos = _u32(self.buf, self.pos)
        return v

    def count(self) -> int:
        """A vector length. Like the reference interpreter, it may not exceed the
        bytes left in the input (every element takes at least one byte), so loops
        over it stay bounded even before the section end stops them."""
        start = self.pos
        n, self.pos = _u32(self.buf, start)
        if n > self.total - start:
            raise _Err("length out of bounds", start)
        return n

    def raw(self) -> bytes:
        """``vec(byte)``."""
        n = self.count()
        start = self.pos
        end = start + n
        if end > len(self.buf):
            raise _Err(_END_OF_SECTION, len(self.buf))
        self.pos = end
        return bytes(self.buf[start:end])

    def name(self) -> str:
        start = self.pos
        b = self.raw()
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            raise _Err("malformed UTF-8 encoding", start) from None

    def valtype(self) -> int:
        t, self.pos = _valtype(self.buf, self.pos)
        return t

    def valtypes(self) -> Tuple[int, ...]:
        n = self.count()
        start = self.pos
        buf = self.buf
        types = buf[start:start + n]
        if len(types) < n:
            raise IndexError
        if all(t in _VALUE_TYPES for t in types):
            self.pos = start + n
            return tuple(types)
        # (3.0's multi-byte reference types)
        out = []
        pos = start
        for _ in range(n):
            t, pos = _valtype(buf, pos)
            out.append(t)
        self.pos = pos
        return tuple(out)

    def reftype(self) -> int:
        t = self.buf[self.pos]
        if t in _REF_TYPES:
            self.pos += 1
            return t
        if t in _ABBREV_REF_TYPES or t == _REF_NULL_PREFIX or t == _REF_PREFIX:
            t, self.pos = _valtype(self.buf, self.pos)
            return t
        raise _Err("malformed reference type", self.pos)

    def limits(self) -> Tuple[Limits, int]:
        """``(limits, address type)``.  Flags: bit 0 a maximum follows, bit 2 the
        address type is i64 (memory64/table64).  With ``wide`` (the memory64
        feature's binary format) the bounds are u64, else u32."""
        # The flag is read like a byte in LEB128: a continuation bit makes the
        # representation too long.
        pos = self.pos
        flag = self.buf[pos]
        if flag & 0x80:
            raise _Err("integer representation too long", pos)
        if flag & ~0x05:
            raise _Err("malformed limits flags" if self.wide else "integer too large", pos)
        self.pos = pos + 1
        read = self.u64 if self.wide else self.u32
        lo = read()
        at = I64 if flag & 4 else I32
        if flag & 1:
            return Limits(lo, read()), at
        return Limits(lo), at

    def u64(self) -> int:
        v, self.pos = _uleb(self.buf, self.pos, 64)
        return v

    def tabletype(self) -> TableType:
        et = self.reftype()
        lim, at = self.limits()
        return TableType(et, lim, at)

    def memtype(self) -> MemoryType:
        lim, at = self.limits()
        return MemoryType(lim, at)

    def globaltype(self) -> GlobalType:
        t = self.valtype()
        m = self.buf[self.pos]
        if m > 1:
            raise _Err("malformed mutability", self.pos)
        self.pos += 1
        return GlobalType(t, bool(m))

    def tagtype(self) -> int:
        """A tag type: the attribute byte (0, exception) and a type index."""
        pos = self.pos
        if self.byte() != 0:
            raise _Err("malformed tag attribute", pos)
        return self.u32()

    def expr(self) -> Expr:
        instrs, _offsets, self.pos = _decode_instrs(self.buf, self.pos, self.total, False, self.kinds)
        return instrs


class _Decoder:
    def __init__(self, data: bytes, features: CoreFeatures = CoreFeatures.V2,
                 lazy: bool = True, validator: Any = None) -> None:
        self.data = data
        # lazy: keep no instruction list per function (Function.lazy); validator:
        # (validate=True) gets each body as it is decoded, see decode_module
        self.lazy = lazy
        self.validator = validator
        self.features = features
        self.kinds = _kinds_for(features)
        # Non-zero segment flags (passive, declarative, explicit index, expressions).
        self.elem_flags = bool(features & (CoreFeatures.BULK_MEMORY | CoreFeatures.REFERENCE_TYPES))
        self.bulk_memory = bool(features & CoreFeatures.BULK_MEMORY)
        self.exceptions = bool(features & (CoreFeatures.EXCEPTIONS | CoreFeatures.LEGACY_EXCEPTIONS))
        self.module = Module()
        self.func_types: List[int] = []
        self.codes: Optional[List[Function]] = None
        self.ncodes = 0
        self.func_index: Optional[int] = None
        self.names_parsed = False
        # (decode_module's trusted: bodies are located, not read)
        self.trusted = False

    # -- driver ------------------------------------------------------------------
    def decode(self) -> Module:
        data = self.data
        n = len(data)
        if n < 4:
            raise DecodeError("unexpected end", offset=n)
        if data[:4] != MAGIC:
            raise DecodeError("magic header not detected", offset=0)
        if n < 8:
            raise DecodeError("unexpected end", offset=n)
        if data[4:8] != VERSION:
            raise DecodeError("unknown binary version", offset=4)
        handlers = self._handlers
        kinds = self.kinds
        pos = 8
        last_rank: float = 0
        while pos < n:
            sid = data[pos]
            if sid > 12 or (sid == 12 and not self.bulk_memory):
                if sid == 13 and self.exceptions:
                    pass
                elif sid == 13:
                    raise DecodeError("malformed section id (the tag section requires the "
                                      "exceptions feature)", offset=pos)
                elif sid == 12:
                    raise DecodeError("malformed section id (the data count section requires "
                                      "the bulk-memory feature)", offset=pos)
                else:
                    raise DecodeError("malformed section id", offset=pos)
            secname = SECTION_NAMES[sid]
            if sid:
                rank = _SECTION_RANK[sid]
                if rank <= last_rank:
                    raise DecodeError("unexpected content after last section", offset=pos, section=secname)
                last_rank = rank
            size_pos = pos + 1
            try:
                size, start = _u32(data, size_pos)
            except IndexError:
                raise DecodeError("unexpected end", offset=n, section=secname) from None
            except _Err as e:
                raise DecodeError(e.reason, offset=e.pos, section=secname) from None
            if size > n - size_pos:
                raise DecodeError("length out of bounds", offset=size_pos, section=secname)
            end = start + size
            if end > n:
                raise DecodeError("unexpected end", offset=n, section=secname)
            # A prefix of the module ending with the section: positions stay module
            # offsets, and reading past the section raises IndexError.
            # (custom sections, often most of a module's bytes in debug info, and the
            # data section are read through a view: copying the prefix would cost
            # up to the module's size again)
            if end == n:
                buf = data
            elif sid == 0 or sid == 11:
                buf = memoryview(data)[:end]  # type: ignore[assignment]  # (read as bytes are)
            else:
                buf = data[:end]
            r = _Reader(buf, start, n, kinds)
            self.func_index = None
            try:
                handlers[sid](self, r)
                if r.pos != end:
                    raise _Err("section size mismatch", r.pos)
            except IndexError:
                raise DecodeError(_END_OF_SECTION, offset=end, section=secname,
                                  func_index=self.func_index) from None
            except _Err as e:
                raise DecodeError(e.reason, offset=e.pos, section=secname,
                                  func_index=self.func_index) from None
            pos = end
        self._finish()
        return self.module

    def _finish(self) -> None:
        m = self.module
        if self.ncodes != len(self.func_types):
            raise DecodeError("function and code section have inconsistent lengths", section="code")
        m.funcs = self.codes or []
        if m.data_count is not None and m.data_count != len(m.datas):
            raise DecodeError("data count and data section have inconsistent lengths", section="data")

    # -- sections ------------------------------------------------------------------
    def _custom(self, r: _Reader) -> None:
        name = r.name()
        payload = bytes(r.buf[r.pos:])
        r.pos = len(r.buf)
        self.module.customs.append(CustomSection(name, payload))
        if name == "name" and not self.names_parsed:
            self.names_parsed = True
            names = _parse_name_section(payload)
            if names is not None:
                self.module.names = names

    def _type(self, r: _Reader) -> None:
        m = self.module
        types = m.types
        for _ in range(r.count()):
            pos = r.pos
            form = r.byte()
            if form == 0x60:
                # (the only form before GC: the fast path)
                params = r.valtypes()
                results = r.valtypes()
                types.append(FuncType(params, results))
                continue
            if form == 0x4E:                      # rec: a vector of subtypes
                n = r.count()
                start = len(types)
                for _ in range(n):
                    self._subtype(r, r.pos, r.byte())
                m.rec_groups.append((start, n))
            else:
                self._subtype(r, pos, form)

    def _subtype(self, r: _Reader, pos: int, form: int) -> None:
        """One GC subtype whose first byte ``form`` was read (at ``pos``)."""
        m = self.module
        if form == 0x50 or form == 0x4F:          # sub / sub final
            supers = tuple(r.u32() for _ in range(r.count()))
            m.subtypes[len(m.types)] = (form == 0x4F, supers)
            pos = r.pos
            form = r.byte()
        m.types.append(self._comptype(r, pos, form))

    def _comptype(self, r: _Reader, pos: int, form: int) -> Any:
        if form == 0x60:
            params = r.valtypes()
            results = r.valtypes()
            return FuncType(params, results)
        if form == 0x5F:
            return StructType(tuple(self._fieldtype(r) for _ in range(r.count())))
        if form == 0x5E:
            return ArrayType(self._fieldtype(r))
        # The form is an s7 in LEB128: a continuation bit means too long.
        if form & 0x80:
            raise _Err("integer representation too long", pos)
        raise _Err("malformed function type" if form < 0x40 or form > 0x60 else "malformed composite type",
                   pos)

    @staticmethod
    def _fieldtype(r: _Reader) -> FieldType:
        t = r.buf[r.pos]
        if t == I8 or t == I16:
            r.pos += 1
        else:
            t = r.valtype()
        pos = r.pos
        mut = r.byte()
        if mut > 1:
            raise _Err("malformed mutability", pos)
        return FieldType(t, mut == 1)

    def _import(self, r: _Reader) -> None:
        imports = self.module.imports
        for _ in range(r.count()):
            mod = r.name()
            nm = r.name()
            pos = r.pos
            kind = r.byte()
            if kind == EXTERN_FUNC:
                desc: object = r.u32()
            elif kind == EXTERN_TABLE:
                desc = r.tabletype()
            elif kind == EXTERN_MEMORY:
                desc = r.memtype()
            elif kind == EXTERN_GLOBAL:
                desc = r.globaltype()
            elif kind == EXTERN_TAG and self.exceptions:
                desc = r.tagtype()
            else:
                raise _Err("malformed import kind", pos)
            imports.append(Import(mod, nm, kind, desc))

    def _function(self, r: _Reader) -> None:
        ft = self.func_types
        buf = r.buf
        for _ in range(r.count()):
            pos = r.pos
            b = buf[pos]
            if b < 0x80:
                ft.append(b)
                r.pos = pos + 1
            else:
                ft.append(r.u32())

    def _table(self, r: _Reader) -> None:
        m = self.module
        tables = m.tables
        inits = m.table_inits
        for _ in range(r.count()):
            if r.buf[r.pos] == 0x40:
                # 3.0: 0x40 0x00 tabletype expr, a table with an initialiser
                pos = r.pos + 1
                if r.buf[pos] != 0x00:
                    raise _Err("malformed table", pos)
                r.pos = pos + 1
                tt = r.tabletype()
                init = r.expr()
                while len(inits) < len(tables):
                    inits.append(None)
                tables.append(tt)
                inits.append(init)
            else:
                tables.append(r.tabletype())

    def _memory(self, r: _Reader) -> None:
        mems = self.module.mems
        for _ in range(r.count()):
            mems.append(r.memtype())

    def _global(self, r: _Reader) -> None:
        globs = self.module.globals
        for _ in range(r.count()):
            gt = r.globaltype()
            globs.append(Global(gt, r.expr()))

    def _export(self, r: _Reader) -> None:
        exports = self.module.exports
        for _ in range(r.count()):
            nm = r.name()
            pos = r.pos
            kind = r.byte()
            if kind > 4 or (kind == EXTERN_TAG and not self.exceptions):
                raise _Err("malformed export kind", pos)
            exports.append(Export(nm, kind, r.u32()))

    def _tag(self, r: _Reader) -> None:
        tags = self.module.tags
        for _ in range(r.count()):
            tags.append(r.tagtype())

    def _start(self, r: _Reader) -> None:
        self.module.start = r.u32()

    def _element(self, r: _Reader) -> None:
        elems = self.module.elems
        for _ in range(r.count()):
            pos = r.pos
            flags = r.u32()
            if flags > 7:
                raise _Err("malformed elements segment kind", pos)
            if flags and not self.elem_flags:
                raise _Err(f"malformed elements segment kind (flags {flags} require the "
                           "bulk-memory or reference-types feature)", pos)
            # Bit 0: passive or declarative; bit 1: explicit table index (active)
            # or declarative (otherwise); bit 2: expressions instead of indices.
            table = 0
            offset = None
            if flags & 1:
                mode = MODE_DECLARATIVE if flags & 2 else MODE_PASSIVE
            else:
                mode = MODE_ACTIVE
                if flags & 2:
                    table = r.u32()
                offset = r.expr()
            if flags & 4:
                elem_type = r.reftype() if flags & 3 else FUNCREF
                init = [r.expr() for _ in range(r.count())]
            else:
                if flags & 3:
                    kpos = r.pos
                    if r.byte() != 0x00:
                        raise _Err("malformed element kind", kpos)
                # (3.0 types a vector of function indices (ref func); the
                # validator reads that as funcref under 2.0's rules)
                elem_type = _REF_FUNC
                init = [[(_OP_REF_FUNC, r.u32()), _END] for _ in range(r.count())]
            elems.append(ElementSegment(mode, elem_type, init, table, offset))

    def _code(self, r: _Reader) -> None:
        m = self.module
        need_dc = m.data_count is None
        first = m.num_imported_funcs()
        buf = r.buf
        total = r.total
        decode = _decode_instrs
        kinds = self.kinds
        valtypes = _VALUE_TYPES
        # One Function per entry of the function section, filled in as the bodies
        # come (a count mismatch is reported once the module is read).
        func_types = self.func_types
        codes: List[Function] = [Function.lazy(ti, [], None, 0, 0) for ti in func_types]
        self.codes = codes
        nfuncs = len(codes)
        lazy = self.lazy
        source = _BodySource(self.data, need_dc, kinds) if lazy else None
        check = None
        fast = None
        if self.validator is not None:
            m.funcs = codes
            check = self.validator.begin(m)
            if check is not None and lazy and FAST_BODIES:
                # Bodies this checker calls valid need neither instruction tuples
                # nor the validator; the others take the full path below.
                from .fastcheck import FastBodyChecker

                fast = FastBodyChecker(self.validator.ctx, kinds).check
        n = r.count()
        self.ncodes = n
        pos = r.pos
        max_size = _limits.MAX_FUNCTION_SIZE
        # the tables the bodies write (the fast check takes no table instruction:
        # only bodies of the full path below can; trusted bodies are not read)
        written: Set[int] = set()
        trusted = self.trusted
        for i in range(n):
            self.func_index = first + i
            # Body size.
            size_pos = pos
            b = buf[pos]
            if b < 0x80:
                size = b
                pos += 1
            else:
                size, pos = _u32(buf, pos)
            if size > total - size_pos:
                raise _Err("length out of bounds", size_pos)
            body_end = pos + size
            # Local declarations.
            body_start = pos
            b = buf[pos]
            if b < 0x80:
                ndecl = b
                pos += 1
            else:
                ndecl, pos = _u32(buf, pos)
                if ndecl > total - body_start:
                    raise _Err("length out of bounds", body_start)
            locals_: List[Tuple[int, int]] = []
            if ndecl:
                nlocals = 0
                for _ in range(ndecl):
                    b = buf[pos]
                    if b < 0x80:
                        c = b
                        pos += 1
                    else:
                        c, pos = _u32(buf, pos)
                    t = buf[pos]
                    if t in valtypes:
                        pos += 1
                    else:
                        t, pos = _valtype(buf, pos)
                    locals_.append((c, t))
                    nlocals += c
                if nlocals >= 0x1_0000_0000:
                    raise _Err("too many locals", body_start)
            start = pos
            if trusted and i < nfuncs:
                f = codes[i]
                f.locals = locals_
                f._source = source
                f._pos = start
                f._size = -1
                pos = body_end
                continue
            # (a body of at most MAX_FUNCTION_SIZE bytes has at most as many
            # instructions: the validator's limit holds without counting them)
            if (fast is not None and i < nfuncs and self.validator.error is None
                    and body_end - start <= max_size
                    and fast(buf[start:body_end], func_types[i], locals_)):
                f = codes[i]
                f.locals = locals_
                f._source = source
                f._pos = start
                f._size = -1
                pos = body_end
                continue
            body, offsets, pos = decode(buf, pos, total, need_dc, kinds)
            if pos != body_end:
                raise _Err("section size mismatch", min(pos, body_end))
            if buf.find(b"\x26", start, body_end) >= 0 or buf.find(b"\xfc", start, body_end) >= 0:
                _table_writes(body, written)
            if i < nfuncs:
                f = codes[i]
                f.locals = locals_
                if lazy:
                    f._source = source
                    f._pos = start
                    f._size = len(body)
                else:
                    f._body = body
                    f._offsets = offsets
                if check is not None:
                    check(i, f, body, offsets)
        r.pos = pos
        self.func_index = None
        m.tables_written = None if trusted else written  # type: ignore[attr-defined]  # (not a field)

    def _data(self, r: _Reader) -> None:
        datas = self.module.datas
        buf = r.buf
        for _ in range(r.count()):
            pos = r.pos
            if pos + 1 < len(buf) and buf[pos] == 0 and buf[pos + 1] == 0x41:
                # (the usual segment, active with an i32.const offset, read here
                # without the instruction decoder; anything else, malformed input
                # included, takes the general path below from the start)
                try:
                    v, p2 = _sleb(buf, pos + 2, 32)
                    ok = buf[p2] == 0x0B
                except (_Err, IndexError):
                    ok = False
                if ok:
                    r.pos = p2 + 1
                    datas.append(DataSegment(MODE_ACTIVE, r.raw(), 0, [(0x41, v), _END]))
                    continue
            flags = r.u32()
            if (flags == 1 or flags == 2) and not self.bulk_memory:
                raise _Err(f"malformed data segment kind (flags {flags} require the "
                           "bulk-memory feature)", pos)
            if flags == 0:
                offset = r.expr()
                datas.append(DataSegment(MODE_ACTIVE, r.raw(), 0, offset))
            elif flags == 1:
                datas.append(DataSegment(MODE_PASSIVE, r.raw()))
            elif flags == 2:
                mem = r.u32()
                offset = r.expr()
                datas.append(DataSegment(MODE_ACTIVE, r.raw(), mem, offset))
            else:
                raise _Err("malformed data segment kind", pos)

    def _data_count(self, r: _Reader) -> None:
        self.module.data_count = r.u32()

    _handlers = {
        0: _custom,
        1: _type,
        2: _import,
        3: _function,
        4: _table,
        5: _memory,
        6: _global,
        7: _export,
        8: _start,
        9: _element,
        10: _code,
        11: _data,
        12: _data_count,
        13: _tag,
    }


# ---------------------------------------------------------------------------------
# The "name" custom section
# ---------------------------------------------------------------------------------
def _name_map(r: _Reader) -> Dict[int, str]:
    out: Dict[int, str] = {}
    last = -1
    for _ in range(r.count()):
        pos = r.pos
        idx = r.u32()
        if idx <= last:
            raise _Err("name map indices out of order", pos)
        last = idx
        out[idx] = r.name()
    return out


def _parse_name_section(payload: bytes) -> Optional[NameSection]:
    """Parse the contents of a ``name`` section (after its name); ``None`` if it is
    malformed (the module stays well-formed: custom sections are never an error)."""
    r = _Reader(payload, 0, len(payload))
    ns = NameSection()
    last_id = -1
    try:
        while not r.at_end():
            sid = r.byte()
            size = r.u32()
            start = r.pos
            end = start + size
            if sid <= last_id or end > len(payload):
                return None
            last_id = sid
            sub = _Reader(payload[:end], start, len(payload))
            if sid == 0:
                ns.module = sub.name()
            elif sid == 1:
                ns.functions = _name_map(sub)
            elif sid == 2:
                local_names: Dict[int, Dict[int, str]] = {}
                last = -1
                for _ in range(sub.count()):
                    idx = sub.u32()
                    if idx <= last:
                        return None
                    last = idx
                    local_names[idx] = _name_map(sub)
                ns.locals = local_names
            else:
                # Subsections of later extensions (labels, types, ...): skipped.
                sub.pos = end
            if sub.pos != end:
                return None
            r.pos = end
    except (_Err, IndexError):
        return None
    return ns


# ---------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------
def decode_module(data: Union[bytes, bytearray, memoryview],
                  features: CoreFeatures = CoreFeatures.V2, *, lazy: bool = True,
                  validate: bool = False, trusted: bool = False) -> Module:
    """Decode a module in the WebAssembly 2.0 binary format.

    Raises :class:`DecodeError` (and nothing else) for malformed input.

    With ``lazy`` (the default) function bodies are checked but not kept: each
    :class:`~pywazero.wasm.module.Function` decodes its body from the module's
    bytes the first time ``body`` is read (so a module costs memory in proportion
    to the functions used, not to its size).  With ``validate``, the module is also
    validated as by :func:`~pywazero.wasm.validation.validate_module` with the same
    ``features`` (same errors, a malformed module still raising DecodeError first),
    each body as soon as it is decoded, so no body is decoded twice.

    ``trusted`` (lazy only, without ``validate``) is for bytes this pywazero decoded
    and validated before, such as the module a serialized ``CompiledModule``
    carries: function bodies are not even read until first use (each costs only
    its size and local declarations here), and the module counts as validated
    under ``features``.  A malformed body in such bytes would raise its
    DecodeError on first use instead of now.

    ``features`` (a :class:`~pywazero.wasm.features.CoreFeatures`) selects the
    binary format: without ``REFERENCE_TYPES``, ``call_indirect``'s table index and
    the reserved byte of ``memory.size``/``memory.grow`` must be one 0x00 byte
    (``"zero flag expected"``, as in 1.0); element segment flags other than 0 need
    ``BULK_MEMORY`` or ``REFERENCE_TYPES``; data segment flags other than 0 and the
    data count section need ``BULK_MEMORY``.  Instructions and types of disabled
    features still decode: the validator rejects them.

    >>> m = decode_module(b"\\x00asm\\x01\\x00\\x00\\x00\\x01\\x05\\x01\\x60\\x01\\x7f\\x00")
    >>> [str(t) for t in m.types]
    ['[i32] -> []']
    >>> decode_module(b"\\x00asm\\x02\\x00\\x00\\x00")
    Traceback (most recent call last):
    ...
    pywazero.errors.DecodeError: unknown binary version (offset 0x4)
    """
    if type(data) is not bytes:
        if isinstance(data, (bytes, bytearray, memoryview)):
            data = bytes(data)
        else:
            raise TypeError(f"decode_module() expects bytes, not {type(data).__name__}")
    if features is not CoreFeatures.V2:
        features = check_features(features)
    # The cycle collector is deliberately left alone: pausing it would speed up
    # decoding but is process-wide state that races with other threads.
    validator = None
    if validate:
        from ..wasm.validation import StreamingValidator

        validator = StreamingValidator(features)
    try:
        decoder = _Decoder(data, features, lazy, validator)
        decoder.trusted = trusted and lazy and validator is None
        module = decoder.decode()
    except DecodeError:
        raise
    except (IndexError, KeyError, ValueError, OverflowError, TypeError, AttributeError,
            RecursionError) as e:  # pragma: no cover - defensive net
        # A bug in the decoder, not a property of the input: still honour the
        # contract that malformed (or unexpected) input only raises DecodeError.
        raise DecodeError(f"malformed module ({type(e).__name__}: {e})") from e
    if validator is not None:
        validator.finish(module)
    elif decoder.trusted:
        # (validated before under these features: what validate_function assumes,
        # as after validate_module)
        module.__dict__["_features"] = features
    return module
