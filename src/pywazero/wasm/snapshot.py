"""Snapshots: a new :class:`Module` whose instances start in the state of an
existing instance (what Wizer does for wasmtime users).

:func:`capture_module` rewrites the module an instance was made from so that
instantiating the result reproduces that instance's defined memories, globals and
tables without running any of its code again:

* each defined memory's minimum is its current size, and its non-zero contents
  become active data segments (long zero runs are left out: fresh memory is zero);
* each defined global's initialiser is its current value as a constant expression;
* each defined table's minimum is its current size, and its entries become active
  element segments of ``ref.func`` items (functions of the module itself);
* the start function is dropped (it has run);
* the original segments keep their indices (bodies name them in ``memory.init``,
  ``table.init``, ``data.drop``, ``elem.drop``): those that instantiation dropped,
  active ones included, are empty, so they behave exactly as dropped ones do; the
  functions an active element segment named stay declared (``ref.func`` in bodies
  stays valid), through a declarative segment.

Function bodies are not touched: the new module shares the original's
:class:`Function` objects.  What cannot be reproduced from a module alone is
refused with a ValueError naming it: imported memories, tables and mutable
globals (their state belongs to another module), and references other than null,
the module's own functions and i31 values (host functions, other instances'
functions, externrefs, GC structs and arrays, exception references).

>>> # (see pywazero.api.Module.snapshot for the public entry point)
"""
from __future__ import annotations

from typing import Any, List, Tuple

from . import numerics as num
from . import opcodes as ops
from .gcref import I31
from .instance import ModuleInstance, WasmFunctionInstance
from .module import (MODE_ACTIVE, MODE_DECLARATIVE, MODE_PASSIVE, DataSegment, ElementSegment,
                     Expr, Global, Module)
from .types import (FUNCREF, HT_FUNC, EXTERN_FUNC, EXTERN_GLOBAL, EXTERN_MEMORY, EXTERN_TABLE, F32, F64, I32, I64,
                    V128, Limits, MemoryType, TableType, is_ref, ref_type,
                    ref_with_nullable)

__all__ = ["capture_module", "ZERO_RUN"]

_END = (0x0B, None)
_V128_CONST = ops.fd(12)
_REF_I31 = ops.fb(28)
_REF_FUNC = ref_type(HT_FUNC, False)

#: Memory is scanned in blocks of this many bytes: an all-zero block splits data
#: segments (a smaller zero run is kept inside a segment, where it costs less than
#: a segment header does).
ZERO_RUN = 4096

#: A table's run of at least this many null entries splits its element segments.
_NULL_RUN = 16


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def _s64(v: int) -> int:
    v &= 0xFFFFFFFFFFFFFFFF
    return v - (1 << 64) if v >= 1 << 63 else v


def _addr_const(address_type: int, v: int) -> Expr:
    return [(0x42, _s64(v)) if address_type == I64 else (0x41, _s32(v)), _END]


def _describe(value: Any) -> str:
    from .instance import HostFunctionInstance, FunctionInstance

    if isinstance(value, HostFunctionInstance):
        return f"a host function ({value.name})"
    if isinstance(value, FunctionInstance):
        return f"a function of another instance ({value.name})"
    from .gcref import GcRef

    if isinstance(value, GcRef):
        return f"a GC reference ({type(value).__name__.lower()})"
    if type(value).__name__ == "WasmException":
        return "an exception reference (exnref)"
    return f"a host reference ({type(value).__name__})"


def _ref_expr(value: Any, valtype: int, inst: ModuleInstance, nimp_funcs: int,
              where: str) -> Expr:
    """The constant expression producing reference ``value`` in a new instance."""
    if value is None:
        return [(0xD0, ref_with_nullable(valtype, True)), _END]
    if isinstance(value, WasmFunctionInstance) and value.module is inst \
            and value.index >= nimp_funcs and inst.funcs[value.index] is value:
        return [(0xD2, value.index), _END]
    if isinstance(value, I31):
        return [(0x41, value.value), (_REF_I31, None), _END]
    raise ValueError(f"cannot snapshot: {where} holds {_describe(value)}, "
                     "which a new instance cannot be given")


def _value_expr(value: Any, valtype: int, inst: ModuleInstance, nimp_funcs: int,
                where: str) -> Expr:
    """The constant expression producing ``value`` (internal form) of ``valtype``."""
    if valtype == I32:
        return [(0x41, _s32(value)), _END]
    if valtype == I64:
        return [(0x42, _s64(value)), _END]
    if valtype == F32:
        return [(0x43, num.f32_to_bits(value)), _END]
    if valtype == F64:
        return [(0x44, num.f64_to_bits(value)), _END]
    if valtype == V128:
        return [(_V128_CONST, value), _END]
    if is_ref(valtype):
        return _ref_expr(value, valtype, inst, nimp_funcs, where)
    raise ValueError(f"cannot snapshot: {where} has an unknown value type {valtype!r}")


def _nonzero_runs(data: bytearray) -> List[Tuple[int, bytes]]:
    """``(offset, bytes)`` of the parts of ``data`` that are not zero, split at every
    all-zero block of ``ZERO_RUN`` bytes (so ``data`` is these runs over zeros)."""
    n = len(data)
    zero = bytes(ZERO_RUN)
    runs: List[Tuple[int, bytes]] = []
    start = -1
    p = 0
    while p < n:
        end = min(p + ZERO_RUN, n)
        if data[p:end] == zero[:end - p]:
            if start >= 0:
                runs.append(_trimmed(data, start, p))
                start = -1
        elif start < 0:
            start = p
        p = end
    if start >= 0:
        runs.append(_trimmed(data, start, n))
    return runs


def _trimmed(data: bytearray, start: int, end: int) -> Tuple[int, bytes]:
    chunk = bytes(data[start:end])
    stripped = chunk.lstrip(b"\0")
    start += len(chunk) - len(stripped)
    return start, stripped.rstrip(b"\0")


def _table_runs(elements: List[Any], keep_nulls: bool, null_run: int) -> List[Tuple[int, int]]:
    """``(start, end)`` spans of ``elements`` to write: all of it when nulls must be
    written too, else the non-null runs (split at ``null_run`` nulls or more)."""
    n = len(elements)
    if keep_nulls:
        return [(0, n)] if n else []
    spans: List[Tuple[int, int]] = []
    i = 0
    while i < n:
        if elements[i] is None:
            i += 1
            continue
        start = last = i
        i += 1
        while i < n:
            if elements[i] is not None:
                last = i
            elif i - last >= null_run:
                break
            i += 1
        spans.append((start, last + 1))
        i = last + 1
    return spans


def capture_module(module: Module, inst: ModuleInstance, reference_types: bool = True) -> Module:
    """A new :class:`Module`: ``module`` whose instances start with the memories,
    globals and tables ``inst`` (an instance of ``module``) has now.

    ``reference_types`` says whether the runtime accepts declarative element
    segments (the ``REFERENCE_TYPES`` core feature); without it a dropped active
    element segment is kept as an empty active one.

    Raises ValueError, naming what, for state that cannot be captured (see the
    module's docstring).
    """
    nimp = {EXTERN_FUNC: 0, EXTERN_TABLE: 0, EXTERN_MEMORY: 0, EXTERN_GLOBAL: 0}
    for imp in module.imports:
        if imp.kind == EXTERN_MEMORY:
            raise ValueError(f"cannot snapshot: memory {imp.module}.{imp.name} is imported "
                             "(its contents belong to another module)")
        if imp.kind == EXTERN_TABLE:
            raise ValueError(f"cannot snapshot: table {imp.module}.{imp.name} is imported "
                             "(its contents belong to another module)")
        if imp.kind == EXTERN_GLOBAL and imp.desc.mutable:
            raise ValueError(f"cannot snapshot: mutable global {imp.module}.{imp.name} is "
                             "imported (its value belongs to another module)")
        if imp.kind in nimp:
            nimp[imp.kind] += 1
    nf = nimp[EXTERN_FUNC]

    # globals: the captured values (an immutable one keeps its value, and its
    # initialiser may be kept as written; rewriting it is simpler and the same)
    globals_: List[Global] = []
    gbase = nimp[EXTERN_GLOBAL]
    for i, g in enumerate(module.globals):
        value = inst.globals[gbase + i].value
        globals_.append(Global(g.type, _value_expr(value, g.type.valtype, inst, nf,
                                                   f"global {gbase + i}")))

    # memories: current sizes; contents as data segments after the original ones
    mems: List[MemoryType] = []
    datas: List[DataSegment] = []
    for i, d in enumerate(module.datas):
        if d.mode == MODE_ACTIVE:
            # dropped by instantiation: an empty segment behaves the same
            mt = module.mem_types()[d.memory]
            datas.append(DataSegment(MODE_ACTIVE, b"", d.memory,
                                     _addr_const(mt.address_type, 0)))
        elif len(inst.datas[i]) != len(d.init):
            datas.append(DataSegment(MODE_PASSIVE, b""))   # dropped by data.drop
        else:
            datas.append(d)
    for i, mt in enumerate(module.mems):
        mem = inst.mems[i]
        at = mt.address_type
        mems.append(MemoryType(Limits(mem.pages, mt.limits.max), at))
        for off, chunk in _nonzero_runs(mem.data):
            datas.append(DataSegment(MODE_ACTIVE, chunk, i, _addr_const(at, off)))

    # tables: current sizes; contents as element segments after the original ones
    elems: List[ElementSegment] = []
    for i, seg in enumerate(module.elems):
        if seg.mode == MODE_ACTIVE:
            if reference_types:
                elems.append(ElementSegment(MODE_DECLARATIVE, seg.elem_type, list(seg.init)))
            else:
                tt = module.table_types()[seg.table]
                elems.append(ElementSegment(MODE_ACTIVE, seg.elem_type, [], seg.table,
                                            _addr_const(tt.address_type, 0)))
        elif seg.mode == MODE_PASSIVE and len(inst.elems[i]) != len(seg.init):
            elems.append(ElementSegment(MODE_PASSIVE, seg.elem_type, []))   # elem.drop
        else:
            elems.append(seg)
    tables: List[TableType] = []
    tbase = nimp[EXTERN_TABLE]
    for i, tt in enumerate(module.tables):
        elements = inst.tables[tbase + i].elements
        tables.append(TableType(tt.elem_type, Limits(len(elements), tt.limits.max), tt.address_type))
        # without an initialiser a new table is all null: only non-null runs matter
        keep_nulls = module.table_init(i) is not None
        where = f"table {tbase + i}"
        # (without reference types a segment is a plain function index vector: no
        # null items, so every null splits)
        for start, end in _table_runs(elements, keep_nulls, _NULL_RUN if reference_types else 1):
            items = [_ref_expr(elements[k], tt.elem_type, inst, nf, f"{where} entry {k}")
                     for k in range(start, end)]
            # (a function index vector is typed (ref func): the binary's compact form)
            et = _REF_FUNC if tt.elem_type == FUNCREF and all(
                e[0][0] == 0xD2 for e in items) else tt.elem_type
            elems.append(ElementSegment(MODE_ACTIVE, et, items, tbase + i,
                                        _addr_const(tt.address_type, start)))

    new = Module(
        types=module.types, rec_groups=module.rec_groups, subtypes=module.subtypes,
        imports=list(module.imports), funcs=list(module.funcs), tables=tables,
        table_inits=list(module.table_inits), mems=mems, globals=globals_, tags=list(module.tags),
        exports=list(module.exports), start=None, elems=elems, datas=datas,
        data_count=None if module.data_count is None else len(datas),
        customs=list(module.customs), names=module.names, id=module.id,
    )
    return new
