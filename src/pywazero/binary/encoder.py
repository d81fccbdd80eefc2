"""Module -> WebAssembly binary (the 2.0 binary format).

:func:`encode_module` turns a :class:`~pywazero.wasm.module.Module` back into bytes.
It is the inverse of the decoder up to choices the model does not record:

* custom sections are written after every other section, in ``Module.customs``
  order (their original positions are not kept by the model);
* a ``name`` section is generated from ``Module.names`` when ``Module.customs``
  holds none and ``Module.names`` is not empty;
* element segments use the most compact of the eight encodings that represents the
  segment exactly, data segments the most compact of the three;
* the data count section is written when ``Module.data_count`` is set, and also
  (with ``len(module.datas)``) when a body uses ``memory.init`` or ``data.drop``,
  which require it.

A model that cannot be encoded (unknown opcode, immediate of the wrong shape or out
of range, active segment without an offset, ...) raises :class:`ValueError` naming
where the problem is.

The LEB128 helpers :func:`encode_u32`, :func:`encode_s32`, :func:`encode_s33` and
:func:`encode_s64` are public.  Text to binary (parse, validate, encode) sits above
both formats, in :mod:`pywazero.convert`.
"""
from __future__ import annotations

import struct
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, TypeVar, Union

from ..wasm import opcodes as _ops
from ..wasm.module import (
    MODE_ACTIVE,
    MODE_DECLARATIVE,
    MODE_PASSIVE,
    DataSegment,
    ElementSegment,
    Export,
    Expr,
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
    FUNCREF,
    HT_FUNC,
    I32,
    I64,
    PACKED_TYPES,
    ArrayType,
    FieldType,
    FuncType,
    StructType,
    GlobalType,
    Limits,
    MemoryType,
    TableType,
    is_ref,
    ref_heap,
    ref_nullable,
    ref_type,
    valtype_of_blocktype,
)

_REF_FUNC = ref_type(HT_FUNC, False)
_T = TypeVar("_T")

__all__ = [
    "encode_module",
    "encode_expr",
    "encode_u32",
    "encode_s32",
    "encode_s33",
    "encode_s64",
    "MAGIC",
    "VERSION",
]

MAGIC = b"\x00asm"
VERSION = b"\x01\x00\x00\x00"

# Section ids.
SEC_CUSTOM = 0
SEC_TYPE = 1
SEC_IMPORT = 2
SEC_FUNCTION = 3
SEC_TABLE = 4
SEC_MEMORY = 5
SEC_GLOBAL = 6
SEC_EXPORT = 7
SEC_START = 8
SEC_ELEMENT = 9
SEC_CODE = 10
SEC_DATA = 11
SEC_DATA_COUNT = 12
SEC_TAG = 13

_U32_MAX = 0xFFFFFFFF
_pack_u32 = struct.Struct("<I").pack
_pack_u64 = struct.Struct("<Q").pack


# ---------------------------------------------------------------------------------
# LEB128
# ---------------------------------------------------------------------------------
def _w_u32(out: bytearray, v: int) -> None:
    """Append ``v`` as unsigned LEB128 (u32 range)."""
    if 0 <= v < 0x80:
        out.append(v)
        return
    if not 0 <= v <= _U32_MAX:
        raise ValueError(f"u32 out of range: {v!r}")
    _w_uleb(out, v)


def _w_u64(out: bytearray, v: int) -> None:
    """Append ``v`` as unsigned LEB128 (u64 range: memory64 offsets and limits)."""
    if not 0 <= v < (1 << 64):
        raise ValueError(f"u64 out of range: {v!r}")
    _w_uleb(out, v)


def _w_uleb(out: bytearray, v: int) -> None:
    """Append ``v >= 0`` as unsigned LEB128 (the caller checked its range)."""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return


def _w_sleb(out: bytearray, v: int) -> None:
    """Append ``v`` as signed LEB128, no range check (callers check)."""
    while True:
        b = v & 0x7F
        v >>= 7
        if (v == 0 and not b & 0x40) or (v == -1 and b & 0x40):
            out.append(b)
            return
        out.append(b | 0x80)


def _w_s32(out: bytearray, v: int) -> None:
    # The model keeps i32 constants signed; an unsigned value in [2**31, 2**32) is
    # the same bit pattern and is accepted as such.
    if not -0x80000000 <= v <= _U32_MAX:
        raise ValueError(f"i32 out of range: {v!r}")
    if v > 0x7FFFFFFF:
        v -= 1 << 32
    _w_sleb(out, v)


def _w_s33(out: bytearray, v: int) -> None:
    if not -(1 << 32) <= v < (1 << 32):
        raise ValueError(f"s33 out of range: {v!r}")
    _w_sleb(out, v)


def _w_s64(out: bytearray, v: int) -> None:
    if not -(1 << 63) <= v < (1 << 64):
        raise ValueError(f"i64 out of range: {v!r}")
    if v >= 1 << 63:
        v -= 1 << 64
    _w_sleb(out, v)


def _leb_public(writer: Callable[[bytearray, int], None], v: int) -> bytes:
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"expected int, got {type(v).__name__}")
    out = bytearray()
    writer(out, v)
    return bytes(out)


def encode_u32(v: int) -> bytes:
    """Unsigned LEB128 of ``v`` in ``[0, 2**32)``: ``encode_u32(128) == b'\\x80\\x01'``."""
    return _leb_public(_w_u32, v)


def encode_s32(v: int) -> bytes:
    """Signed LEB128 of ``v`` in ``[-2**31, 2**31)``: ``encode_s32(-1) == b'\\x7f'``.

    Unsigned values in ``[2**31, 2**32)`` are taken as the same 32-bit pattern.
    """
    return _leb_public(_w_s32, v)


def encode_s33(v: int) -> bytes:
    """Signed LEB128 of ``v`` in ``[-2**32, 2**32)`` (block types)."""
    return _leb_public(_w_s33, v)


def encode_s64(v: int) -> bytes:
    """Signed LEB128 of ``v`` in ``[-2**63, 2**63)``.

    Unsigned values in ``[2**63, 2**64)`` are taken as the same 64-bit pattern.
    """
    return _leb_public(_w_s64, v)


# ---------------------------------------------------------------------------------
# Instructions
# ---------------------------------------------------------------------------------
# Internal immediate classes, ordered roughly by how often they occur.
_K_NONE = 0
_K_U32 = 1       # one u32 index (local, global, label, func, table, memory, elem)
_K_I32 = 2
_K_MEMARG = 3
_K_BLOCK = 4
_K_DATA = 5      # data.drop: u32, and the module needs a data count section
_K_OTHER = 6     # handled by _write_rare

_U32_IMMS = frozenset((
    _ops.IMM_LABEL, _ops.IMM_FUNC, _ops.IMM_LOCAL, _ops.IMM_GLOBAL, _ops.IMM_TABLE,
    _ops.IMM_MEMORY, _ops.IMM_ELEM, _ops.IMM_TYPE, _ops.IMM_TAG,
))


def _build_table() -> Dict[int, Tuple[bytes, int, int]]:
    table = {}
    for op, info in _ops.BY_OP.items():
        if op > 0xFF:
            prefixed = bytearray((op >> 16,))
            _w_u32(prefixed, op & 0xFFFF)
            code = bytes(prefixed)
        else:
            code = bytes((op,))
        imm = info.imm
        if imm == _ops.IMM_NONE:
            k = _K_NONE
        elif imm in _U32_IMMS:
            k = _K_U32
        elif imm == _ops.IMM_I32:
            k = _K_I32
        elif imm == _ops.IMM_MEMARG:
            k = _K_MEMARG
        elif imm == _ops.IMM_BLOCK:
            k = _K_BLOCK
        elif imm == _ops.IMM_DATA:
            k = _K_DATA
        else:
            k = _K_OTHER
        table[op] = (code, k, imm)
    return table


_TABLE = _build_table()


def _w_memarg(out: bytearray, align: int, offset: int, mem: int) -> None:
    if not 0 <= align < 0x40:
        raise ValueError(f"alignment exponent out of range: {align!r}")
    if mem:
        # Multi-memory encoding: bit 6 of the alignment field announces an explicit
        # memory index, written between the alignment and the offset.
        out.append(align | 0x40)
        _w_u32(out, mem)
    else:
        out.append(align)
    # (a u64 offset, memory64, is the same LEB128 as a u32 below 2^32)
    _w_u64(out, offset)


def _w_lane(out: bytearray, lane: int) -> None:
    if not 0 <= lane <= 0xFF:
        raise ValueError(f"lane index out of range: {lane!r}")
    out.append(lane)


def _write_rare(out: bytearray, imm_kind: int, imm: Any) -> None:
    """Immediates of the less common kinds."""
    if imm_kind == _ops.IMM_I64:
        _w_s64(out, imm)
    elif imm_kind == _ops.IMM_F32:
        if not -0x80000000 <= imm <= _U32_MAX:
            raise ValueError(f"f32 bits out of range: {imm!r}")
        out += _pack_u32(imm & _U32_MAX)
    elif imm_kind == _ops.IMM_F64:
        if not -(1 << 63) <= imm < (1 << 64):
            raise ValueError(f"f64 bits out of range: {imm!r}")
        out += _pack_u64(imm & 0xFFFFFFFFFFFFFFFF)
    elif imm_kind == _ops.IMM_BR_TABLE:
        labels, default = imm
        _w_u32(out, len(labels))
        for label in labels:
            _w_u32(out, label)
        _w_u32(out, default)
    elif imm_kind == _ops.IMM_CALL_INDIRECT:
        type_index, table_index = imm
        _w_u32(out, type_index)
        _w_u32(out, table_index)
    elif imm_kind == _ops.IMM_SELECT_T:
        _w_u32(out, len(imm))
        for t in imm:
            _w_valtype(out, t)
    elif imm_kind == _ops.IMM_REFTYPE:
        # ref.null's heap type
        if 0 <= imm <= 0xFF:
            out.append(imm)
        elif is_ref(imm):
            _w_s33(out, ref_heap(imm))
        else:
            raise ValueError(f"bad reference type: {imm!r}")
    elif imm_kind in (_ops.IMM_MEMORY_INIT, _ops.IMM_TABLE_INIT,
                      _ops.IMM_MEMORY_COPY, _ops.IMM_TABLE_COPY):
        # (data, memory), (elem, table), (dst, src), (dst, src): binary order too.
        a, b = imm
        _w_u32(out, a)
        _w_u32(out, b)
    elif imm_kind == _ops.IMM_V128:
        if not -(1 << 127) <= imm < (1 << 128):
            raise ValueError(f"v128 out of range: {imm!r}")
        out += (imm & ((1 << 128) - 1)).to_bytes(16, "little")
    elif imm_kind == _ops.IMM_SHUFFLE:
        if isinstance(imm, int):
            raise ValueError("i8x16.shuffle needs 16 lane indices, got an int")
        lanes = bytes(imm)
        if len(lanes) != 16:
            raise ValueError(f"i8x16.shuffle needs 16 lane indices, got {len(lanes)}")
        out += lanes
    elif imm_kind == _ops.IMM_LANE:
        _w_lane(out, imm)
    elif imm_kind == _ops.IMM_TRY_TABLE:
        bt, catches = imm
        _w_s33(out, bt)
        _w_u32(out, len(catches))
        for kind, tag, label in catches:
            if not 0 <= kind <= 3:
                raise ValueError(f"unknown catch clause kind {kind!r}")
            out.append(kind)
            if kind < 2:
                _w_u32(out, tag)
            _w_u32(out, label)
    elif imm_kind == _ops.IMM_MEMARG_LANE:
        align, offset, mem, lane = imm
        _w_memarg(out, align, offset, mem)
        _w_lane(out, lane)
    elif _ops.IMM_FIELD <= imm_kind <= _ops.IMM_TYPE_TYPE:
        a, b = imm
        _w_u32(out, a)
        _w_u32(out, b)
    elif imm_kind == _ops.IMM_CAST:
        _w_s33(out, ref_heap(imm))
    elif imm_kind == _ops.IMM_BR_ON_CAST:
        label, t1, t2 = imm
        out.append((1 if ref_nullable(t1) else 0) | (2 if ref_nullable(t2) else 0))
        _w_u32(out, label)
        _w_s33(out, ref_heap(t1))
        _w_s33(out, ref_heap(t2))
    else:  # pragma: no cover - every kind in opcodes.py is handled above
        raise ValueError(f"unsupported immediate kind {imm_kind}")


def _write_expr(out: bytearray, expr: Iterable[Tuple[int, Any]]) -> bool:
    """Append the instructions of ``expr`` to ``out``.

    Returns True when the code uses ``memory.init`` or ``data.drop`` (so the module
    needs a data count section).  Raises ValueError naming the instruction index.
    """
    table = _TABLE
    append = out.append
    uses_data = False
    i = -1
    op = None
    try:
        for i, (op, imm) in enumerate(expr):  # noqa: B007 - i names the instruction in errors
            code, k, imm_kind = table[op]
            out += code
            if k == _K_NONE:
                continue
            if k == _K_U32:
                if 0 <= imm < 0x80:
                    append(imm)
                else:
                    _w_u32(out, imm)
            elif k == _K_I32:
                if -64 <= imm < 64:
                    append(imm & 0x7F)
                else:
                    _w_s32(out, imm)
            elif k == _K_MEMARG:
                align, offset, mem = imm
                if not mem and 0 <= align < 0x40 and 0 <= offset < 0x80:
                    append(align)
                    append(offset)
                else:
                    _w_memarg(out, align, offset, mem)
            elif k == _K_BLOCK:
                if -64 <= imm < 64:
                    append(imm & 0x7F)
                elif imm <= -0x100:
                    # a single result of a multi-byte reference type
                    _w_valtype(out, valtype_of_blocktype(imm))
                else:
                    _w_s33(out, imm)
            elif k == _K_DATA:
                uses_data = True
                _w_u32(out, imm)
            else:
                if imm_kind == _ops.IMM_MEMORY_INIT or imm_kind == _ops.IMM_TYPE_DATA:
                    uses_data = True
                _write_rare(out, imm_kind, imm)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, struct.error) as exc:
        if isinstance(exc, KeyError) and op not in table:
            what = f"unknown opcode {op!r}"
        else:
            what = f"{_ops.op_name(op) if isinstance(op, int) else op!r}: {exc}"
        raise ValueError(f"cannot encode instruction {i} ({what})") from exc
    return uses_data


def encode_expr(expr: Expr) -> bytes:
    """The bytes of a list of instructions (a body or constant expression, with its
    final ``end`` if it has one): ``encode_expr([(0x41, 42), (0x0B, None)])`` is
    ``b'\\x41\\x2a\\x0b'``."""
    out = bytearray()
    _write_expr(out, expr)
    return bytes(out)


# ---------------------------------------------------------------------------------
# Types and small pieces
# ---------------------------------------------------------------------------------
def _w_valtype(out: bytearray, t: int) -> None:
    if 0 <= t <= 0xFF:
        out.append(t)
    elif isinstance(t, int) and t > 0 and is_ref(t):
        # (ref null? heaptype): 0x63/0x64 then the heap type as s33
        out.append(0x63 if ref_nullable(t) else 0x64)
        _w_s33(out, ref_heap(t))
    else:
        raise ValueError(f"bad value type: {t!r}")


def _w_name(out: bytearray, s: Union[str, bytes]) -> None:
    data = s if isinstance(s, (bytes, bytearray)) else s.encode("utf-8")
    _w_u32(out, len(data))
    out += data


def _w_limits(out: bytearray, limits: Limits, address_type: int = I32) -> None:
    # flags: bit 0 a maximum follows, bit 2 the address type is i64 (memory64); the
    # bounds of a 64-bit memory or table are u64 (the same LEB128 below 2^32)
    wide = address_type == I64
    write = _w_u64 if wide else _w_u32
    flag = 0x04 if wide else 0x00
    if limits.max is None:
        out.append(flag)
        write(out, limits.min)
    else:
        out.append(flag | 0x01)
        write(out, limits.min)
        write(out, limits.max)


def _w_tabletype(out: bytearray, tt: TableType) -> None:
    _w_valtype(out, tt.elem_type)
    _w_limits(out, tt.limits, getattr(tt, "address_type", I32))


def _w_table(out: bytearray, tt: TableType, init: Optional[Expr]) -> None:
    if init is not None:
        out += b"\x40\x00"   # 3.0: a table with an initialiser expression
        _w_tabletype(out, tt)
        _w_const_expr(out, init, "table initialiser")
    else:
        _w_tabletype(out, tt)


def _w_memtype(out: bytearray, mt: MemoryType) -> None:
    _w_limits(out, mt.limits, getattr(mt, "address_type", I32))


def _w_globaltype(out: bytearray, gt: GlobalType) -> None:
    _w_valtype(out, gt.valtype)
    out.append(1 if gt.mutable else 0)


def _w_const_expr(out: bytearray, expr: Optional[Expr], what: str) -> None:
    if expr is None:
        raise ValueError(f"{what}: missing expression")
    try:
        _write_expr(out, expr)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from exc


def _w_section(out: bytearray, sec_id: int, content: Union[bytes, bytearray]) -> None:
    out.append(sec_id)
    _w_u32(out, len(content))
    out += content


# ---------------------------------------------------------------------------------
# Segments
# ---------------------------------------------------------------------------------
def _plain_ref_func(expr: Expr) -> Optional[int]:
    """The function index if ``expr`` is exactly ``ref.func x; end``."""
    if len(expr) == 2:
        (op0, x), (op1, _) = expr
        if op0 == 0xD2 and op1 == 0x0B:
            index: int = x
            return index
    return None


def _elem_flags(seg: ElementSegment) -> Tuple[int, Optional[List[int]]]:
    """The segment's encoding flag (0-7) and, for the funcidx-vector forms, the
    function indices."""
    funcs: Optional[List[int]] = None
    if seg.elem_type == _REF_FUNC:
        funcs = []
        for item in seg.init:
            x = _plain_ref_func(item)
            if x is None:
                funcs = None
                break
            funcs.append(x)
    if seg.mode == MODE_ACTIVE:
        flags = 0 if (seg.table == 0 and (funcs is not None or seg.elem_type == FUNCREF)) else 2
    elif seg.mode == MODE_PASSIVE:
        flags = 1
    elif seg.mode == MODE_DECLARATIVE:
        flags = 3
    else:
        raise ValueError(f"unknown element segment mode {seg.mode!r}")
    if funcs is None:
        flags |= 4
    return flags, funcs


def _w_elem(out: bytearray, seg: ElementSegment, index: int) -> None:
    flags, funcs = _elem_flags(seg)
    out.append(flags)
    if flags & 1 == 0:  # active
        if flags & 2:
            _w_u32(out, seg.table)
        _w_const_expr(out, seg.offset, "offset")
    if flags & 3:  # explicit element kind / reference type
        if funcs is not None:
            out.append(0x00)  # elemkind funcref
        else:
            _w_valtype(out, seg.elem_type)
    if funcs is not None:
        _w_u32(out, len(funcs))
        for x in funcs:
            _w_u32(out, x)
    else:
        _w_u32(out, len(seg.init))
        for k, item in enumerate(seg.init):
            _w_const_expr(out, item, f"item {k}")


def _w_data(out: bytearray, seg: DataSegment, index: int) -> None:
    if seg.mode == MODE_ACTIVE:
        if seg.memory == 0:
            out.append(0)
        else:
            out.append(2)
            _w_u32(out, seg.memory)
        _w_const_expr(out, seg.offset, "offset")
    elif seg.mode == MODE_PASSIVE:
        out.append(1)
    else:
        raise ValueError(f"unknown data segment mode {seg.mode!r}")
    _w_u32(out, len(seg.init))
    out += seg.init


# ---------------------------------------------------------------------------------
# Name section
# ---------------------------------------------------------------------------------
def _names_have_content(names: Optional[NameSection]) -> bool:
    return names is not None and (
        names.module is not None or bool(names.functions) or bool(names.locals))


def _w_namemap(out: bytearray, mapping: Dict[int, str]) -> None:
    _w_u32(out, len(mapping))
    for idx in sorted(mapping):
        _w_u32(out, idx)
        _w_name(out, mapping[idx])


def _encode_name_section(names: NameSection) -> bytes:
    out = bytearray()
    _w_name(out, "name")
    sub = bytearray()
    if names.module is not None:
        _w_name(sub, names.module)
        _w_section(out, 0, sub)
    if names.functions:
        sub = bytearray()
        _w_namemap(sub, names.functions)
        _w_section(out, 1, sub)
    if names.locals:
        sub = bytearray()
        _w_u32(sub, len(names.locals))
        for fidx in sorted(names.locals):
            _w_u32(sub, fidx)
            _w_namemap(sub, names.locals[fidx])
        _w_section(out, 2, sub)
    return bytes(out)


# ---------------------------------------------------------------------------------
# Module
# ---------------------------------------------------------------------------------
# What an entry of each vector section is called in error messages.
_ITEM_NAMES = {
    SEC_TYPE: "type", SEC_IMPORT: "import", SEC_FUNCTION: "function declaration",
    SEC_TABLE: "table", SEC_MEMORY: "memory", SEC_GLOBAL: "global",
    SEC_EXPORT: "export", SEC_ELEMENT: "element segment", SEC_DATA: "data segment", SEC_TAG: "tag",
}
# Exceptions a malformed model can provoke while encoding; they are re-raised as
# ValueError saying where.
_MODEL_ERRORS = (ValueError, TypeError, AttributeError, KeyError, IndexError,
                 OverflowError, struct.error)


def _vec_section(out: bytearray, sec_id: int, items: Sequence[_T],
                 write: Callable[[bytearray, _T, int], object]) -> None:
    if not items:
        return
    buf = bytearray()
    _w_u32(buf, len(items))
    for i, item in enumerate(items):
        try:
            write(buf, item, i)
        except _MODEL_ERRORS as exc:
            raise ValueError(f"{_ITEM_NAMES[sec_id]} {i}: {exc}") from exc
    _w_section(out, sec_id, buf)


def _w_functype(out: bytearray, ft: FuncType, i: int) -> None:
    out.append(0x60)
    _w_u32(out, len(ft.params))
    for t in ft.params:
        _w_valtype(out, t)
    _w_u32(out, len(ft.results))
    for t in ft.results:
        _w_valtype(out, t)


def _w_comptype(out: bytearray, ct: object) -> None:
    if isinstance(ct, StructType):
        out.append(0x5F)
        _w_u32(out, len(ct.fields))
        for f in ct.fields:
            _w_fieldtype(out, f)
    elif isinstance(ct, ArrayType):
        out.append(0x5E)
        _w_fieldtype(out, ct.field)
    else:
        _w_functype(out, ct, 0)  # type: ignore[arg-type]  # (the third kind of composite type)


def _w_fieldtype(out: bytearray, f: FieldType) -> None:
    if f.storage in PACKED_TYPES:
        out.append(f.storage)
    else:
        _w_valtype(out, f.storage)
    out.append(1 if f.mutable else 0)


def _w_subtype(out: bytearray, module: Module, i: int) -> None:
    sub = module.subtypes.get(i)
    if sub is not None and sub != (True, ()):
        final, supers = sub
        out.append(0x4F if final else 0x50)
        _w_u32(out, len(supers))
        for x in supers:
            _w_u32(out, x)
    _w_comptype(out, module.types[i])


def _w_type_section(out: bytearray, module: Module) -> None:
    """The type section: one entry per recursion group (``rec`` for explicit ones)."""
    if not module.types and not module.rec_groups:
        return
    if not module.rec_groups and not module.subtypes and all(type(t) is FuncType for t in module.types):
        _vec_section(out, SEC_TYPE, module.types, _w_functype)
        return
    starts: Dict[int, List[int]] = {}
    for s, c in module.rec_groups:
        starts.setdefault(s, []).append(c)
    entries = []
    i = 0
    n = len(module.types)
    while True:
        counts = starts.pop(i, None)
        if counts:
            for c in counts:       # empty groups, then at most one non-empty one
                entries.append((i, c, True))
            i += sum(counts)
        elif i < n:
            entries.append((i, 1, False))
            i += 1
        else:
            break
    buf = bytearray()
    _w_u32(buf, len(entries))
    for s, c, explicit in entries:
        if explicit:
            buf.append(0x4E)
            _w_u32(buf, c)
        for k in range(s, s + c):
            try:
                _w_subtype(buf, module, k)
            except _MODEL_ERRORS as exc:
                raise ValueError(f"type {k}: {exc}") from exc
    _w_section(out, SEC_TYPE, buf)


def _w_import(out: bytearray, imp: Import, i: int) -> None:
    _w_name(out, imp.module)
    _w_name(out, imp.name)
    kind = imp.kind
    out.append(kind)
    if kind == EXTERN_FUNC:
        _w_u32(out, imp.desc)
    elif kind == EXTERN_TABLE:
        _w_tabletype(out, imp.desc)
    elif kind == EXTERN_MEMORY:
        _w_memtype(out, imp.desc)
    elif kind == EXTERN_GLOBAL:
        _w_globaltype(out, imp.desc)
    elif kind == EXTERN_TAG:
        out.append(0)   # attribute: exception
        _w_u32(out, imp.desc)
    else:
        raise ValueError(f"unknown import kind {kind!r}")


def _w_export(out: bytearray, exp: Export, i: int) -> None:
    _w_name(out, exp.name)
    if not 0 <= exp.kind <= 4:
        raise ValueError(f"unknown export kind {exp.kind!r}")
    out.append(exp.kind)
    _w_u32(out, exp.index)


def _w_global(out: bytearray, g: Global, i: int) -> None:
    _w_globaltype(out, g.type)
    _w_const_expr(out, g.init, "initializer")


def _encode_code(module: Module) -> Tuple[bytearray, bool]:
    """The code section's contents, and whether any body uses memory.init/data.drop."""
    sec = bytearray()
    _w_u32(sec, len(module.funcs))
    uses_data = False
    base = module.num_imported_funcs()
    body = bytearray()
    for n, func in enumerate(module.funcs):
        del body[:]
        try:
            _w_u32(body, len(func.locals))
            for count, t in func.locals:
                _w_u32(body, count)
                _w_valtype(body, t)
            if _write_expr(body, func.body):
                uses_data = True
        except _MODEL_ERRORS as exc:
            raise ValueError(f"function {base + n}: {exc}") from exc
        _w_u32(sec, len(body))
        sec += body
    return sec, uses_data


def encode_module(module: Module) -> bytes:
    """The WebAssembly binary of ``module``."""
    out = bytearray(MAGIC)
    out += VERSION

    _w_type_section(out, module)
    _vec_section(out, SEC_IMPORT, module.imports, _w_import)
    _vec_section(out, SEC_FUNCTION, module.funcs,
                 lambda b, f, i: _w_u32(b, f.type_index))
    _vec_section(out, SEC_TABLE, module.tables, lambda b, t, i: _w_table(b, t, module.table_init(i)))
    _vec_section(out, SEC_MEMORY, module.mems, lambda b, m, i: _w_memtype(b, m))
    _vec_section(out, SEC_TAG, module.tags, lambda b, t, i: (b.append(0), _w_u32(b, t)))  # type: ignore[func-returns-value]
    _vec_section(out, SEC_GLOBAL, module.globals, _w_global)
    _vec_section(out, SEC_EXPORT, module.exports, _w_export)
    if module.start is not None:
        buf = bytearray()
        try:
            _w_u32(buf, module.start)
        except _MODEL_ERRORS as exc:
            raise ValueError(f"start function: {exc}") from exc
        _w_section(out, SEC_START, buf)
    _vec_section(out, SEC_ELEMENT, module.elems, _w_elem)

    code: Optional[bytearray] = None
    uses_data = False
    if module.funcs:
        code, uses_data = _encode_code(module)
    data_count = module.data_count
    if data_count is None and uses_data:
        data_count = len(module.datas)
    if data_count is not None:
        buf = bytearray()
        try:
            _w_u32(buf, data_count)
        except _MODEL_ERRORS as exc:
            raise ValueError(f"data count: {exc}") from exc
        _w_section(out, SEC_DATA_COUNT, buf)
    if code is not None:
        _w_section(out, SEC_CODE, code)
    _vec_section(out, SEC_DATA, module.datas, _w_data)

    customs = module.customs
    if _names_have_content(module.names) and not any(c.name == "name" for c in customs):
        try:
            names = _encode_name_section(module.names)
        except _MODEL_ERRORS as exc:
            raise ValueError(f"names: {exc}") from exc
        _w_section(out, SEC_CUSTOM, names)
    for i, c in enumerate(customs):
        buf = bytearray()
        try:
            _w_name(buf, c.name)
            buf += c.data
        except _MODEL_ERRORS as exc:
            raise ValueError(f"custom section {i}: {exc}") from exc
        _w_section(out, SEC_CUSTOM, buf)
    return bytes(out)
