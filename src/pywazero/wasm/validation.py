"""WebAssembly 2.0 validation (SIMD included).

:func:`validate_module` checks a :class:`~pywazero.wasm.module.Module` against the
validation rules of the WebAssembly 2.0 core specification and raises
:class:`~pywazero.errors.ValidationError` on the first violation.  On success every
defined function gets ``Function.info`` (a :class:`FunctionInfo`): the block
structure (``partner``/``else_of``), the resolved block types, the operand-stack
height at each block entry and at each branch, and the maximum operand-stack depth.

Function bodies are checked with the single-pass operand/control stack algorithm of
the specification's appendix.  The control stack is explicit, so deeply nested code
cannot exhaust Python's recursion limit.

Error reasons use the words of the spec tests (``"type mismatch"``,
``"unknown local 3"``, ...); an index follows the noun where the reference
interpreter prints one, so the spec's expected text is always a prefix.
"""
from __future__ import annotations

import copy
import threading
from types import MappingProxyType
from typing import Any, Callable, Container, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

from ..errors import ValidationError
from . import impl_limits as L
from . import opcodes as _ops
from .features import CoreFeatures, check_features, feature_name
from .module import (
    MODE_ACTIVE,
    MODE_DECLARATIVE,
    MODE_PASSIVE,
    Function,
    FunctionInfo,
    Module,
    text_position,
)
from .types import (
    EXTERN_FUNC,
    EXTERN_GLOBAL,
    EXTERN_TAG,
    EXNREF,
    EXTERN_MEMORY,
    EXTERN_TABLE,
    EXTERNREF,
    F32,
    F64,
    FUNCREF,
    I32,
    I64,
    MAX_PAGES,
    MAX_PAGES64,
    V128,
    VALUE_TYPES,
    FieldType,
    FuncType,
    GlobalType,
    Limits,
    MemoryType,
    TableType,
    HT_FUNC,
    HT_EXN,
    HT_NOEXN,
    HT_EXTERN,
    HT_NOEXTERN,
    HT_NOFUNC,
    is_ref,
    ref_heap,
    ref_nullable,
    ref_type,
    valtype_name,
    valtype_of_blocktype,
    ARRAYREF,
    EQREF,
    I31REF,
    HT_ANY,
    HT_I31,
    HT_STRUCT,
    unpacked,
    PACKED_TYPES,
    ArrayType,
    StructType,
    comp_storage_types,
)
from .subtyping import val_subtype, vals_subtype, types_equivalent, top_heap

__all__ = ["validate_module", "validate_function"]

# The "unknown" operand type of the algorithm (stack-polymorphic code).  Not a
# valid value type encoding, so it never compares equal to a real type.
_UNK = 0

_REF_TYPES = (FUNCREF, EXTERNREF)
_REF_FUNC = ref_type(HT_FUNC, False)
_TABLE_MAX = 0xFFFFFFFF
_TABLE_MAX64 = (1 << 64) - 1
# Operand types select (without immediate) accepts: numeric, vector or unknown.
_SELECTABLE = frozenset((I32, I64, F32, F64, V128, _UNK))
_REF_OR_UNK = frozenset((FUNCREF, EXTERNREF, EXNREF, _UNK))
# The non-nullable (ref exn) a catch_ref / catch_all_ref clause passes its label.
_EXN_NONNULL = ref_type(HT_EXN, False)

# Above this many locals the local types are looked up by bisection instead of
# being expanded into a list (a module may declare up to 2**32-1 locals).
_EXPAND_LOCALS_LIMIT = 1 << 16
_MAX_BR_TABLE = L.MAX_BR_TABLE_TARGETS
_EMPTY: "MappingProxyType[int, Any]" = MappingProxyType({})


class _Fail(Exception):
    """Internal: a validation failure inside a body; position is added by the caller."""

    def __init__(self, reason: str, pc: int = -1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.pc = pc


# ---------------------------------------------------------------------------------
# Instruction dispatch table
# ---------------------------------------------------------------------------------
# Each entry of _TABLE is (kind, params, results, extra) with params/results as lists
# of value types (lists so that a slice of the operand stack compares directly).
(
    K_BIN, K_UN, K_PUSH, K_LOCAL_GET, K_LOCAL_SET, K_LOCAL_TEE, K_GLOBAL_GET,
    K_GLOBAL_SET, K_LOAD, K_STORE, K_BR_IF, K_BLOCK, K_END, K_IF, K_ELSE, K_BR,
    K_CALL, K_SIG, K_DROP, K_SELECT, K_SELECT_T, K_RETURN, K_BR_TABLE,
    K_UNREACHABLE, K_CALL_INDIRECT, K_MEMIDX, K_LANE, K_SHUFFLE, K_MEMLANE,
    K_MEMORY_INIT, K_DATA_DROP, K_MEMORY_COPY, K_TABLE_GET, K_TABLE_SET,
    K_TABLE_SIZE, K_TABLE_GROW, K_TABLE_FILL, K_TABLE_COPY, K_TABLE_INIT,
    K_ELEM_DROP, K_REF_NULL, K_REF_IS_NULL, K_REF_FUNC, K_DISABLED,
    K_RETURN_CALL, K_RETURN_CALL_INDIRECT,
    K_THROW, K_THROW_REF, K_TRY_TABLE, K_TRY, K_CATCH, K_CATCH_ALL, K_DELEGATE, K_RETHROW,
) = range(54)
# typed function references (numbered apart from other proposals' kinds)
K_CALL_REF, K_RETURN_CALL_REF, K_REF_AS_NON_NULL, K_BR_ON_NULL, K_BR_ON_NON_NULL = range(100, 105)
# GC: every 0xFB instruction and ref.eq (typed by _gc_instr)
K_GC = 110


_SPECIAL = {
    0x00: K_UNREACHABLE, 0x02: K_BLOCK, 0x03: K_BLOCK, 0x04: K_IF, 0x05: K_ELSE,
    0x0B: K_END, 0x0C: K_BR, 0x0D: K_BR_IF, 0x0E: K_BR_TABLE, 0x0F: K_RETURN,
    0x10: K_CALL, 0x11: K_CALL_INDIRECT, 0x12: K_RETURN_CALL,
    0x13: K_RETURN_CALL_INDIRECT, 0x1A: K_DROP, 0x1B: K_SELECT,
    0x1C: K_SELECT_T, 0x20: K_LOCAL_GET, 0x21: K_LOCAL_SET, 0x22: K_LOCAL_TEE,
    0x23: K_GLOBAL_GET, 0x24: K_GLOBAL_SET, 0x25: K_TABLE_GET, 0x26: K_TABLE_SET,
    0xD0: K_REF_NULL, 0xD1: K_REF_IS_NULL, 0xD2: K_REF_FUNC,
    _ops.fc(8): K_MEMORY_INIT, _ops.fc(9): K_DATA_DROP, _ops.fc(10): K_MEMORY_COPY,
    _ops.fc(12): K_TABLE_INIT, _ops.fc(13): K_ELEM_DROP, _ops.fc(14): K_TABLE_COPY,
    _ops.fc(15): K_TABLE_GROW, _ops.fc(16): K_TABLE_SIZE, _ops.fc(17): K_TABLE_FILL,
    0x08: K_THROW, 0x0A: K_THROW_REF, 0x1F: K_TRY_TABLE, 0x06: K_TRY, 0x07: K_CATCH,
    0x19: K_CATCH_ALL, 0x18: K_DELEGATE, 0x09: K_RETHROW,
    0x14: K_CALL_REF, 0x15: K_RETURN_CALL_REF, 0xD4: K_REF_AS_NON_NULL,
    0xD5: K_BR_ON_NULL, 0xD6: K_BR_ON_NON_NULL, 0xD3: K_GC,
}
_SPECIAL.update((op, K_GC) for op in _ops.BY_OP if op >> 16 == _ops.PREFIX_FB)


def _build_table() -> Dict[int, Tuple[Any, ...]]:
    table: Dict[int, Tuple[Any, ...]] = {}
    for op, info in _ops.BY_OP.items():
        p = list(info.params) if info.params is not None else None
        r: Any = list(info.results) if info.results is not None else None
        kind = _SPECIAL.get(op)
        extra: Any = None
        if kind is None:
            if p is None or r is None:  # pragma: no cover - table consistency
                raise AssertionError(f"no typing rule for {info.name}")
            imm = info.imm
            if imm == _ops.IMM_MEMARG:
                kind = K_LOAD if (len(p), len(r)) == (1, 1) else K_STORE
                extra = info.natural_align
            elif imm == _ops.IMM_MEMARG_LANE:
                kind = K_MEMLANE
                extra = (info.natural_align, info.lanes)
            elif imm == _ops.IMM_LANE:
                kind = K_LANE
                extra = info.lanes
            elif imm == _ops.IMM_SHUFFLE:
                kind = K_SHUFFLE
                extra = info.lanes
            elif imm == _ops.IMM_MEMORY:
                kind = K_MEMIDX
            elif imm != _ops.IMM_NONE:
                if p or len(r) != 1:  # pragma: no cover - table consistency
                    raise AssertionError(info.name)
                kind = K_PUSH
                r = r[0]
            elif len(p) == 2 and len(r) == 1:
                kind = K_BIN
            elif len(p) == 1 and len(r) == 1:
                kind = K_UN
            else:
                kind = K_SIG
        table[op] = (kind, p, r, extra)
    return table



_TABLE = _build_table()

# The feature each post-1.0 instruction needs.
_V2 = CoreFeatures.V2
_OP_FEATURE: Dict[int, CoreFeatures] = {}
for _op in _ops.BY_OP:
    if _op >> 16 == _ops.PREFIX_FD:
        _OP_FEATURE[_op] = (CoreFeatures.RELAXED_SIMD if (_op & 0xFFFF) >= _ops.RELAXED_SIMD_FIRST
                            else CoreFeatures.SIMD)
    elif _op >> 16 == _ops.PREFIX_FC:
        _sub = _op & 0xFFFF
        _OP_FEATURE[_op] = (CoreFeatures.NONTRAPPING_FLOAT_TO_INT if _sub <= 7
                            else CoreFeatures.BULK_MEMORY if _sub <= 14
                            else CoreFeatures.REFERENCE_TYPES)
    elif 0xC0 <= _op <= 0xC4:
        _OP_FEATURE[_op] = CoreFeatures.SIGN_EXTENSION_OPS
    elif _op in (0x1C, 0x25, 0x26, 0xD0, 0xD1, 0xD2):
        _OP_FEATURE[_op] = CoreFeatures.REFERENCE_TYPES
    elif _op in (0x12, 0x13):
        _OP_FEATURE[_op] = CoreFeatures.TAIL_CALL
    elif _op in (0x14, 0x15, 0xD4, 0xD5, 0xD6):
        _OP_FEATURE[_op] = CoreFeatures.FUNCTION_REFERENCES
    elif _op == 0xD3 or _op >> 16 == _ops.PREFIX_FB:
        _OP_FEATURE[_op] = CoreFeatures.GC
    elif _op in (0x08, 0x0A, 0x1F):
        _OP_FEATURE[_op] = CoreFeatures.EXCEPTIONS
    elif _op in (0x06, 0x07, 0x09, 0x18, 0x19):
        _OP_FEATURE[_op] = CoreFeatures.LEGACY_EXCEPTIONS
del _op, _sub

# Instruction tables of reduced feature sets, built on first use.
# (_TABLE itself has every instruction: even V2's table disables the 3.0 ones.)
_TABLES: Dict[int, Dict[int, Tuple[Any, ...]]] = {}


def _table_for(features: CoreFeatures) -> Dict[int, Tuple[Any, ...]]:
    """_TABLE with the instructions of disabled features mapped to K_DISABLED entries
    (whose ``extra`` is the error message), so the body loop pays nothing for them."""
    table = _TABLES.get(int(features))
    if table is None:
        table = dict(_TABLE)
        for op, feature in _OP_FEATURE.items():
            if not features & feature:
                name = "typed select" if op == 0x1C else _ops.op_name(op)
                table[op] = (K_DISABLED, None, None, _needs(name, feature))
        _TABLES[int(features)] = table
    return table


def _needs(what: str, feature: CoreFeatures) -> str:
    return f"{what} requires the {feature_name(feature)} feature"

# memory.size/grow/fill of a 64-bit memory: their operand types (results: [i64])
_MEMIDX64 = {0x3F: [], 0x40: [I64], _ops.fc(11): [I64, I32, I64]}

# WebAssembly 2.0's table (the default): 3.0's instructions disabled.
_TABLE_V2 = _table_for(_V2)

_CONST_PUSH = {0x41: I32, 0x42: I64, 0x43: F32, 0x44: F64, _ops.fd(12): V128}


# ---------------------------------------------------------------------------------
# Operand stack helpers (the general, polymorphism-aware paths)
# ---------------------------------------------------------------------------------
# The canonical type ids of the module whose body this thread is validating (for
# the subtyping of concrete reference types).  Read only when two operand types
# differ, so the operand stack stays a plain list (its operations are the
# validator's hot path).
_BODY = threading.local()


def _mismatch(actual: int, expect: int, vals: List[int]) -> bool:
    """Whether ``actual`` does not match ``expect`` (they differ: subtyping)."""
    return actual != _UNK and expect != _UNK and not val_subtype(actual, expect, _BODY.canon)


# Type mismatches name the types (the spec tests match the "type mismatch" prefix).
# Only failures build these messages, never the validator's normal path.
def _tname(t: int) -> str:
    return "unknown" if t == _UNK else valtype_name(t)


def _tlist(types: Any) -> str:
    return "[" + " ".join(_tname(t) for t in types) + "]"


def _mismatch_reason(expect: Any, found: Any) -> str:
    """expected/found: a type, a list of types, or a description."""
    def show(x: Any) -> str:
        if isinstance(x, str):
            return x
        if isinstance(x, (list, tuple)):
            return _tlist(x) if len(x) != 1 else _tname(x[0])
        return _tname(x)
    return f"type mismatch: expected {show(expect)}, found {show(found)}"


def _type_mismatch(expect: Any, found: Any) -> _Fail:
    return _Fail(_mismatch_reason(expect, found))


def _pop1(vals: List[int], height: int, unreach: bool, expect: int) -> int:
    if len(vals) > height:
        actual = vals.pop()
        if actual != expect and _mismatch(actual, expect, vals):
            raise _type_mismatch(expect, actual)
        return actual
    if unreach:
        return _UNK
    raise _type_mismatch(expect, "nothing (the operand stack is empty)")


def _pop_any(vals: List[int], height: int, unreach: bool) -> int:
    if len(vals) > height:
        return vals.pop()
    if unreach:
        return _UNK
    raise _type_mismatch("a value", "nothing (the operand stack is empty)")


def _pop_vals(vals: List[int], height: int, unreach: bool, types: Sequence[int]) -> List[int]:
    """pop_vals of the algorithm; returns the actual types popped (bottom first)."""
    n = len(types)
    size = len(vals)
    avail = size - height
    if avail >= n:
        if n == 0:
            return []
        got = vals[size - n:]
        for a, e in zip(got, types):
            if a != e and _mismatch(a, e, vals):
                raise _type_mismatch(types, got)
        del vals[size - n:]
        return got
    if not unreach:
        raise _type_mismatch(types, vals[height:] if avail else "nothing (the operand stack is empty)")
    got = vals[height:]
    for a, e in zip(got, types[n - avail:]):
        if a != e and _mismatch(a, e, vals):
            raise _type_mismatch(types, got)
    del vals[height:]
    return [_UNK] * (n - avail) + got


def _apply(vals: List[int], height: int, unreach: bool, params: Sequence[int], results: Sequence[int]) -> None:
    """Pop ``params`` then push ``results``."""
    n = len(params)
    if n:
        if len(vals) - height >= n and vals[-n:] == params:
            del vals[-n:]
        else:
            _pop_vals(vals, height, unreach, params)
    if results:
        vals.extend(results)


class _LocalTypes:
    """Local types of a function with very many locals, looked up by bisection."""

    def __init__(self, params: Sequence[int], decls: Sequence[Tuple[int, int]]) -> None:
        from bisect import bisect_right

        self._bisect = bisect_right
        self._ends: List[int] = []
        self._types: List[int] = []
        n = 0
        for t in params:
            n += 1
            self._ends.append(n)
            self._types.append(t)
        for count, t in decls:
            if count:
                n += count
                self._ends.append(n)
                self._types.append(t)
        self._n = n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> int:
        if not 0 <= i < self._n:
            raise IndexError(i)
        return self._types[self._bisect(self._ends, i)]


def _tail_results_match(callee: Sequence[int], caller: Sequence[int],
                        canon: Optional[Sequence[int]] = None) -> bool:
    """A tail call's rule: the callee's result types must match (be subtypes of)
    the calling function's result types."""
    return callee == caller or vals_subtype(callee, caller, canon)


def _local_types(params: Sequence[int], decls: Sequence[Tuple[int, int]],
                 allowed: Container[int] = VALUE_TYPES) -> Union[List[int], "_LocalTypes"]:
    total = len(params)
    for count, t in decls:
        if not isinstance(count, int) or count < 0:
            raise _Fail("invalid local declaration")
        if t not in allowed:
            if isinstance(allowed, _ValTypes):
                raise _Fail(allowed.reason(t))  # type: ignore[arg-type]  # (refused: it has a reason)
            raise _Fail(_valtype_reason(t) if t in VALUE_TYPES or (isinstance(t, int) and t > 0 and is_ref(t))
                        else "invalid local type")
        total += count
    if total > L.MAX_FUNCTION_LOCALS:
        raise _Fail(f"too many locals: {total} (the implementation limit is {L.MAX_FUNCTION_LOCALS})")
    if total <= _EXPAND_LOCALS_LIMIT:
        out = list(params)
        for count, t in decls:
            out.extend([t] * count)
        return out
    return _LocalTypes(params, decls)


# ---------------------------------------------------------------------------------
# Context
# ---------------------------------------------------------------------------------
_REF_3 = CoreFeatures.FUNCTION_REFERENCES | CoreFeatures.EXCEPTIONS | CoreFeatures.GC
# The feature each abstract heap type needs (func and extern: reference types).
_HEAP_FEATURE = {
    HT_NOFUNC: CoreFeatures.FUNCTION_REFERENCES, HT_NOEXTERN: CoreFeatures.FUNCTION_REFERENCES,
    HT_EXN: CoreFeatures.EXCEPTIONS, HT_NOEXN: CoreFeatures.EXCEPTIONS,
}


class _ValTypes:
    """The value types a feature set allows, once 3.0's reference types may occur
    (``t in vt``; ``vt.reason(t)`` says why not)."""

    __slots__ = ("base", "features", "ntypes", "_ok")

    def __init__(self, base: Iterable[int], features: CoreFeatures, ntypes: int) -> None:
        self.base = frozenset(base)
        self.features = features
        self.ntypes = ntypes
        self._ok: Set[object] = set(self.base)

    def __contains__(self, t: object) -> bool:
        if t in self._ok:
            return True
        if self.reason(t) is None:
            self._ok.add(t)
            return True
        return False

    def reason(self, t: object) -> "str | None":
        if t in self.base:
            return None
        if not isinstance(t, int) or t <= 0 or not is_ref(t):
            return "invalid value type" if t not in VALUE_TYPES else _valtype_reason(t)
        features = self.features
        if (t not in _REF_TYPES or not ref_nullable(t)) and not features & CoreFeatures.FUNCTION_REFERENCES \
                and ref_heap(t) not in (HT_EXN, HT_NOEXN):
            return _needs(valtype_name(t), CoreFeatures.FUNCTION_REFERENCES)
        if t in _REF_TYPES and not features & CoreFeatures.REFERENCE_TYPES:
            return _needs(valtype_name(t), CoreFeatures.REFERENCE_TYPES)
        ht = ref_heap(t)
        if ht >= 0:
            if ht >= self.ntypes:
                return f"unknown type {ht}"
            return None
        if ht in (HT_FUNC, HT_EXTERN):
            return None
        need = _HEAP_FEATURE.get(ht, CoreFeatures.GC)
        if not features & need:
            return _needs(valtype_name(t), need)
        return None


class _NotFunc:
    """The validation context's entry for a type that is no function type:
    unpacking it as ``params, results`` is a validation failure."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __iter__(self) -> Iterator[Any]:
        raise _Fail(f"type mismatch: type {self.index} is not a function type")


def _signature(i: int, ft: Any) -> Union[Tuple[List[int], List[int]], _NotFunc]:
    """Type ``i`` as the context keeps it: (params, results) of a function type, a
    _NotFunc for a struct or array type."""
    return (list(ft.params), list(ft.results)) if isinstance(ft, FuncType) else _NotFunc(i)


class _Context:
    """The validation context C of the specification, in flat lists."""

    # (set by the element segments' check for the data segments')
    seg_globals: Optional[int]

    def __init__(self, module: Module, features: CoreFeatures = _V2) -> None:
        self.features = features
        self.op_table = _TABLE_V2 if features is _V2 else _table_for(features)
        # Value types this feature set allows.
        vts = set(VALUE_TYPES)
        if not features & CoreFeatures.SIMD:
            vts.discard(V128)
        if not features & CoreFeatures.REFERENCE_TYPES:
            vts.difference_update(_REF_TYPES)
        self.func_refs = bool(features & CoreFeatures.FUNCTION_REFERENCES)
        self.tail_call = bool(features & CoreFeatures.TAIL_CALL)
        self.valtypes = _ValTypes(vts, features, len(module.types)) if features & _REF_3 else frozenset(vts)
        # canonical type ids (after the type section is checked: see _validate_module)
        self.canon: Optional[List[int]] = None
        self.exceptions = bool(features & (CoreFeatures.EXCEPTIONS | CoreFeatures.LEGACY_EXCEPTIONS))
        # (IntFlag operations are slow: the per-body flags are plain bools)
        self.multi_value = bool(features & CoreFeatures.MULTI_VALUE)
        self.ref_types = bool(features & CoreFeatures.REFERENCE_TYPES)
        # types: (params list, results list)
        # (a struct or array type (GC) is a _NotFunc: using it as a signature fails)
        self.comp_types = module.types
        self.types: List[Union[Tuple[List[int], List[int]], _NotFunc]] = [
            _signature(i, ft) for i, ft in enumerate(module.types)]
        self.func_type_idx: List[int] = []
        self.tables: List[Any] = []  # element types (None for a malformed import)
        self.table_types: List[TableType] = []
        self.nmems = 0
        # address types (I32, or I64 with memory64) of the memories and tables
        self.mem_at: List[int] = []
        # (a malformed import's entries are None: reported where used)
        self.globals: List[Tuple[Any, Any]] = []
        self.nimported_globals = 0
        # tags: the type index of each (its parameters are the payload)
        self.tags: List[int] = module.tag_types()
        for imp in module.imports:
            kind = imp.kind
            if kind == EXTERN_FUNC:
                self.func_type_idx.append(imp.desc)
            elif kind == EXTERN_TABLE:
                self.table_types.append(imp.desc)
            elif kind == EXTERN_MEMORY:
                self.nmems += 1
                self.mem_at.append(getattr(imp.desc, "address_type", I32))
            elif kind == EXTERN_GLOBAL:
                self.globals.append((getattr(imp.desc, "valtype", None), getattr(imp.desc, "mutable", None)))
        self.nimported_globals = len(self.globals)
        self.nimported_funcs = len(self.func_type_idx)
        for f in module.funcs:
            self.func_type_idx.append(f.type_index)
        self.table_types.extend(module.tables)
        self.tables = [getattr(tt, "elem_type", None) for tt in self.table_types]
        self.table_at: List[int] = [getattr(tt, "address_type", I32) for tt in self.table_types]
        self.nmems += len(module.mems)
        self.mem_at.extend(getattr(mt, "address_type", I32) for mt in module.mems)
        for g in module.globals:
            self.globals.append((g.type.valtype, g.type.mutable))
        self.elem_types: List[int] = [
            FUNCREF if seg.elem_type == _REF_FUNC and not self.func_refs else seg.elem_type
            for seg in module.elems]
        # C.datas: one entry per data segment of the module.  (data_count is the
        # binary format's forward declaration of the same number; the decoder checks
        # that the two agree.)
        self.ndatas = len(module.datas)
        self.refs: Set[int] = set()


# ---------------------------------------------------------------------------------
# Module-level checks
# ---------------------------------------------------------------------------------
def _err(reason: str, where: str) -> ValidationError:
    return ValidationError(reason, where=where)


def _check_valtype(t: object, where: str, allowed: Container[Any] = VALUE_TYPES) -> None:
    if t not in allowed:
        if isinstance(allowed, _ValTypes):
            raise _err(allowed.reason(t) or "invalid value type", where)
        raise _err(_valtype_reason(t), where)


def _valtype_reason(t: Any) -> str:
    """Why value type ``t`` is not allowed: unknown, or its feature is disabled."""
    if t == V128:
        return _needs("v128", CoreFeatures.SIMD)
    if t in _REF_TYPES:
        return _needs(valtype_name(t), CoreFeatures.REFERENCE_TYPES)
    if isinstance(t, int) and t > 0 and is_ref(t):
        # a 3.0 reference type under an older feature set
        return _ValTypes((), CoreFeatures(0), 1 << 32).reason(t) or "invalid value type"
    return "invalid value type"


def _check_limits(limits: Limits, bound: int, size_msg: str, where: str) -> None:
    lo, hi = limits.min, limits.max
    if not isinstance(lo, int) or lo < 0 or (hi is not None and (not isinstance(hi, int) or hi < 0)):
        raise _err("invalid limits", where)
    if lo > bound or (hi is not None and hi > bound):
        raise _err(size_msg, where)
    if hi is not None and lo > hi:
        raise _err("size minimum must not be greater than maximum", where)


def _check_address_type(at: object, what: str, where: str, features: CoreFeatures) -> bool:
    """Whether address type ``at`` is i64 (checking that it is allowed)."""
    if at == I32:
        return False
    if at != I64:
        raise _err("invalid address type", where)
    if not features & CoreFeatures.MEMORY64:
        raise _err(_needs(f"a 64-bit {what}", CoreFeatures.MEMORY64), where)
    return True


def _check_table_type(tt: Any, where: str, features: CoreFeatures = _V2,
                      allowed: Optional[Container[Any]] = None) -> None:
    if not isinstance(tt, TableType):
        raise _err("invalid table type", where)
    if tt.elem_type not in _REF_TYPES:
        if not isinstance(tt.elem_type, int) or tt.elem_type <= 0 or not is_ref(tt.elem_type):
            raise _err("malformed reference type", where)
        _check_valtype(tt.elem_type, where, allowed if allowed is not None else VALUE_TYPES)
    if tt.elem_type != FUNCREF and not features & CoreFeatures.REFERENCE_TYPES:
        raise _err(_needs(f"a table of {valtype_name(tt.elem_type)}", CoreFeatures.REFERENCE_TYPES), where)
    if _check_address_type(getattr(tt, "address_type", I32), "table", where, features):
        _check_limits(tt.limits, _TABLE_MAX64, "table size must be at most 2^64-1", where)
    else:
        _check_limits(tt.limits, _TABLE_MAX, "table size must be at most 2^32-1", where)


def _check_tag_type(ctx: "_Context", ti: object, where: str) -> None:
    if not (isinstance(ti, int) and 0 <= ti < len(ctx.types)):
        raise _err(f"unknown type {ti}", where)
    if ctx.types[ti][1]:  # type: ignore[index]  # (a _NotFunc fails as a structural error)
        raise _err("non-empty tag result type", where)


def _check_memory_type(mt: Any, where: str, features: CoreFeatures = _V2) -> None:
    if not isinstance(mt, MemoryType):
        raise _err("invalid memory type", where)
    if _check_address_type(getattr(mt, "address_type", I32), "memory", where, features):
        _check_limits(mt.limits, MAX_PAGES64, "memory size must be at most 2^48 pages", where)
    else:
        _check_limits(mt.limits, MAX_PAGES, "memory size must be at most 65536 pages (4GiB)", where)


def _check_global_type(gt: Any, where: str, allowed: Container[Any] = VALUE_TYPES) -> None:
    if not isinstance(gt, GlobalType):
        raise _err("invalid global type", where)
    _check_valtype(gt.valtype, where, allowed)


def _const_expr_type(ctx: _Context, expr: Any, where: str, elem_item: bool = False,
                     nglobals: Optional[int] = None) -> List[int]:
    """Check that ``expr`` is constant and return the types it leaves on the stack.
    ``global.get`` sees the globals below ``nglobals``: 2.0's C' (only imported
    globals) by default; with ``EXTENDED_CONST`` (or ``GC``) the caller passes the
    imported and earlier-defined globals (3.0).  ``elem_item``: an element segment
    item, where ``ref.func`` also stands for 1.0's function index."""
    if not isinstance(expr, (list, tuple)):
        raise _err("constant expression required", where)
    n = len(expr)
    if n and expr[-1][0] == _ops.OP_END:
        n -= 1
    stack: List[int] = []
    if nglobals is None:
        nglobals = ctx.nimported_globals
    nfuncs = len(ctx.func_type_idx)
    op_table = ctx.op_table
    for i in range(n):
        op, imm = expr[i]
        if op_table is not _TABLE:
            ent = op_table.get(op)
            if ent is not None and ent[0] == K_DISABLED and not (elem_item and op == 0xD2):
                raise _err(ent[3], where)
        t = _CONST_PUSH.get(op)
        if t is not None:
            stack.append(t)
        elif op == 0x23:  # global.get
            if not (isinstance(imm, int) and 0 <= imm < nglobals):
                raise _err(f"unknown global {imm}", where)
            gtype, mutable = ctx.globals[imm]
            if mutable:
                raise _err("constant expression required", where)
            stack.append(gtype)
        elif op == 0xD0:  # ref.null
            if imm not in _REF_TYPES:
                if not (isinstance(imm, int) and imm > 0 and is_ref(imm)):
                    raise _err("malformed reference type", where)
                _check_valtype(imm, where, ctx.valtypes)
            stack.append(imm)
        elif op == 0xD2:  # ref.func
            if not (isinstance(imm, int) and 0 <= imm < nfuncs):
                raise _err(f"unknown function {imm}", where)
            stack.append(ref_type(ctx.func_type_idx[imm], False) if ctx.func_refs else FUNCREF)
        elif op in _EXTENDED_CONST_OPS:
            if not ctx.features & CoreFeatures.EXTENDED_CONST:
                raise _err("constant expression required: " + _needs(_ops.op_name(op), CoreFeatures.EXTENDED_CONST),
                           where)
            t = _EXTENDED_CONST_OPS[op]
            if len(stack) < 2 or stack[-1] != t or stack[-2] != t:
                raise _err(_mismatch_reason([t, t], stack[-2:]), where)
            stack.pop()
        elif op in _ops.GC_CONST_OPS:
            # (disabled without GC: rejected above)
            _BODY.canon = ctx.canon
            try:
                _gc_instr(ctx, op, imm, stack, 0, False, [], 0, {}, i)
            except _Fail as e:
                raise _err(e.reason, where) from None
        else:
            raise _err("constant expression required", where)
    return stack


# i32/i64.add/sub/mul: the arithmetic extended constant expressions allow
_EXTENDED_CONST_OPS = {0x6A: I32, 0x6B: I32, 0x6C: I32, 0x7C: I64, 0x7D: I64, 0x7E: I64}


def _collect_refs(module: Module) -> Set[int]:
    """C.refs: function indices occurring outside function bodies and start."""
    refs: Set[int] = set()
    exprs = [g.init for g in module.globals]
    for seg in module.elems:
        exprs.extend(seg.init)
        if seg.offset is not None:
            exprs.append(seg.offset)
    for dseg in module.datas:
        if dseg.offset is not None:
            exprs.append(dseg.offset)
    for expr in exprs:
        if isinstance(expr, (list, tuple)):
            for ins in expr:
                if ins[0] == 0xD2:
                    refs.add(ins[1])
    for exp in module.exports:
        if exp.kind == EXTERN_FUNC:
            refs.add(exp.index)
    return refs


_STRUCTURAL_ERRORS = (IndexError, KeyError, TypeError, ValueError, AttributeError, RecursionError)


def validate_module(module: Module, features: CoreFeatures = CoreFeatures.V2) -> None:
    """Validate ``module`` (WebAssembly 2.0 rules) and fill ``Function.info``.

    ``features`` (a :class:`~pywazero.wasm.features.CoreFeatures`) selects the
    rules: without ``MULTI_VALUE``, more than one result or a block parameter is
    ``"invalid result arity"``; without ``REFERENCE_TYPES`` a module has at most
    one table (``"multiple tables"``), no reference-typed values besides funcref
    tables, and ``br_table`` labels must all have the default label's type (1.0);
    without ``MUTABLE_GLOBAL`` mutable globals are neither imported nor exported.
    Instructions, types and segment kinds of a disabled feature are rejected with a
    reason naming it (``"i32.extend8_s requires the sign-extension-ops feature"``).

    Raises :class:`~pywazero.errors.ValidationError` on the first rule broken.
    Errors in a body carry ``func_index`` (in the function index space, imports
    first), ``instruction`` (its text name) and ``offset`` (the byte offset from
    ``Function.offsets``; when a body has no offsets, ``where`` names the
    instruction's index in the body instead).  Other errors name the offending
    definition in ``where`` (``"global 3"``, ``'export "f"'``, ...).
    """
    if features is not _V2:
        features = check_features(features)
    try:
        _validate_module(module, features)
    except _STRUCTURAL_ERRORS as e:
        # A structurally broken model (not something the front ends produce).
        raise ValidationError(f"malformed module: {type(e).__name__}: {e}") from None


def _check_impl_limits(module: Module) -> None:
    """Refuse a module declaring more of something than pywazero's implementation
    limits allow (:mod:`pywazero.wasm.impl_limits`): such counts would cost memory
    out of proportion to the module's size."""
    nimp = {EXTERN_FUNC: 0, EXTERN_TABLE: 0, EXTERN_MEMORY: 0, EXTERN_GLOBAL: 0}
    for imp in module.imports:
        if imp.kind in nimp:
            nimp[imp.kind] += 1
    counts = (
        ("types", len(module.types), L.MAX_TYPES),
        ("functions", nimp[EXTERN_FUNC] + len(module.funcs), L.MAX_FUNCTIONS),
        ("imports", len(module.imports), L.MAX_IMPORTS),
        ("exports", len(module.exports), L.MAX_EXPORTS),
        ("globals", nimp[EXTERN_GLOBAL] + len(module.globals), L.MAX_GLOBALS),
        ("element segments", len(module.elems), L.MAX_ELEMENT_SEGMENTS),
        ("data segments", len(module.datas), L.MAX_DATA_SEGMENTS),
        ("tables", nimp[EXTERN_TABLE] + len(module.tables), L.MAX_TABLES),
        ("memories", nimp[EXTERN_MEMORY] + len(module.mems), L.MAX_MEMORIES),
    )
    for what, n, limit in counts:
        if n > limit:
            raise _err(f"too many {what}: {n} (the implementation limit is {limit})", "module")
    for i, ft in enumerate(module.types):
        if isinstance(ft, FuncType):
            if len(ft.params) > L.MAX_FUNCTION_PARAMS:
                raise _err(f"too many parameters: {len(ft.params)} (the implementation limit is "
                           f"{L.MAX_FUNCTION_PARAMS})", f"type {i}")
            if len(ft.results) > L.MAX_FUNCTION_RESULTS:
                raise _err(f"too many results: {len(ft.results)} (the implementation limit is "
                           f"{L.MAX_FUNCTION_RESULTS})", f"type {i}")
    for i, seg in enumerate(module.elems):
        if len(seg.init) > L.MAX_SEGMENT_ITEMS:
            raise _err(f"too many items: {len(seg.init)} (the implementation limit is "
                       f"{L.MAX_SEGMENT_ITEMS})", f"element segment {i}")
    sizes = [f.size for f in module.funcs]
    if sizes and max(sizes) > L.MAX_FUNCTION_SIZE:
        i = next(i for i, n in enumerate(sizes) if n > L.MAX_FUNCTION_SIZE)
        raise _err(f"function too large: {sizes[i]} instructions (the implementation limit "
                   f"is {L.MAX_FUNCTION_SIZE})", f"function {nimp[EXTERN_FUNC] + i}")


def _check_types(module: Module, ctx: "_Context", features: CoreFeatures, allowed: Container[Any],
                 multi_value: bool) -> None:
    """The type section: composite types, recursion groups (a type refers only to
    earlier groups and its own), ``sub`` declarations (GC); sets ``ctx.canon``."""
    gc = bool(features & CoreFeatures.GC)
    types = module.types
    subtypes = module.subtypes
    if (module.rec_groups or subtypes) and not gc:
        raise _err(_needs("recursive types and subtyping", CoreFeatures.GC), "type section")
    for s, c in module.type_groups():
        end = s + c
        for i in range(s, end):
            ct = types[i]
            where = f"type {i}"
            if isinstance(ct, FuncType):
                for t in ct.params:
                    _check_valtype(t, where, allowed)
                for t in ct.results:
                    _check_valtype(t, where, allowed)
                if len(ct.results) > 1 and not multi_value:
                    raise _err("invalid result arity", where)
            elif isinstance(ct, (StructType, ArrayType)):
                if not gc:
                    raise _err(_needs("struct and array types", CoreFeatures.GC), where)
                for t in comp_storage_types(ct):
                    if t not in PACKED_TYPES:
                        _check_valtype(t, where, allowed)
            else:
                raise _err("invalid function type", where)
            if ctx.func_refs:
                for t in comp_storage_types(ct):
                    if t >= 0x200 and ref_heap(t) >= end:
                        raise _err(f"unknown type {ref_heap(t)}", where)
            sub = subtypes.get(i)
            if sub is not None:
                supers = sub[1]
                if len(supers) > 1:
                    raise _err("sub type: more than one supertype", where)
                for x in supers:
                    if not (isinstance(x, int) and 0 <= x < i):
                        raise _err(f"unknown type {x}", where)
    if not ctx.func_refs:
        return
    canon = ctx.canon = module.canonical_ids()
    for i, (_final, supers) in subtypes.items():
        for x in supers:
            if subtypes.get(x, (True, ()))[0]:
                raise _err(f"sub type: type {x} is final", f"type {i}")
            if not comp_subtype(types[i], types[x], canon):
                raise _err(f"sub type: type {i} does not match its supertype {x}", f"type {i}")


def comp_subtype(a: object, b: object, canon: Sequence[int]) -> bool:
    """Whether composite type ``a`` matches ``b`` structurally (a declared
    supertype): function types contravariant in parameters and covariant in
    results; a struct may add fields; immutable fields are covariant, mutable ones
    invariant."""
    if isinstance(a, FuncType):
        return (isinstance(b, FuncType) and len(a.params) == len(b.params)
                and vals_subtype(b.params, a.params, canon) and vals_subtype(a.results, b.results, canon))
    if isinstance(a, StructType):
        if not isinstance(b, StructType) or len(a.fields) < len(b.fields):
            return False
        return all(_field_subtype(fa, fb, canon) for fa, fb in zip(a.fields, b.fields))
    return isinstance(b, ArrayType) and _field_subtype(a.field, b.field, canon)  # type: ignore[attr-defined]


def _field_subtype(a: FieldType, b: FieldType, canon: Sequence[int]) -> bool:
    if a.mutable != b.mutable:
        return False
    if a.storage in PACKED_TYPES or b.storage in PACKED_TYPES:
        return a.storage == b.storage
    if a.mutable:
        return types_equivalent(a.storage, b.storage, canon)
    return val_subtype(a.storage, b.storage, canon)


def _validate_module(module: Module, features: CoreFeatures = _V2, bodies: bool = True) -> "_Context":
    """Everything, or (``bodies`` false) everything but the function bodies;
    returns the context the bodies are validated in."""
    _check_impl_limits(module)
    ctx = _Context(module, features)
    ntypes = len(ctx.types)
    allowed = ctx.valtypes
    multi_value = ctx.multi_value
    ref_types = ctx.ref_types
    mutable_global = bool(features & CoreFeatures.MUTABLE_GLOBAL)

    _check_types(module, ctx, features, allowed, multi_value)

    # Imports.
    for i, imp in enumerate(module.imports):
        where = f'import {i} ("{imp.module}" "{imp.name}")'
        kind = imp.kind
        if kind == EXTERN_FUNC:
            if not (isinstance(imp.desc, int) and 0 <= imp.desc < ntypes):
                raise _err(f"unknown type {imp.desc}", where)
            if type(ctx.types[imp.desc]) is _NotFunc:
                raise _err(f"type mismatch: type {imp.desc} is not a function type", where)
        elif kind == EXTERN_TABLE:
            _check_table_type(imp.desc, where, features, allowed)
        elif kind == EXTERN_MEMORY:
            _check_memory_type(imp.desc, where, features)
        elif kind == EXTERN_GLOBAL:
            _check_global_type(imp.desc, where, allowed)
            if imp.desc.mutable and not mutable_global:
                raise _err(_needs("importing a mutable global", CoreFeatures.MUTABLE_GLOBAL), where)
        elif kind == EXTERN_TAG:
            if not ctx.exceptions:
                raise _err(_needs("importing a tag", CoreFeatures.EXCEPTIONS), where)
            _check_tag_type(ctx, imp.desc, where)
        else:
            raise _err("invalid import kind", where)

    # Function declarations.
    nimp = ctx.nimported_funcs
    for i, f in enumerate(module.funcs):
        if not (isinstance(f.type_index, int) and 0 <= f.type_index < ntypes):
            raise _err(f"unknown type {f.type_index}", f"function {nimp + i}")
        if type(ctx.types[f.type_index]) is _NotFunc:
            raise _err(f"type mismatch: type {f.type_index} is not a function type", f"function {nimp + i}")

    # Tables and memories.
    ntimp = len(ctx.table_types) - len(module.tables)
    for i, tt in enumerate(module.tables):
        _check_table_type(tt, f"table {ntimp + i}", features, allowed)
    if len(ctx.table_types) > 1 and not ref_types:
        raise _err("multiple tables", "table 1")
    nmimp = ctx.nmems - len(module.mems)
    for i, mt in enumerate(module.mems):
        _check_memory_type(mt, f"memory {nmimp + i}", features)
    if ctx.nmems > 1 and not features & CoreFeatures.MULTI_MEMORY:
        raise _err(_needs("multiple memories", CoreFeatures.MULTI_MEMORY), "memory 1")

    # Tags.
    if module.tags and not ctx.exceptions:
        raise _err(_needs("a tag section", CoreFeatures.EXCEPTIONS), "tag 0")
    ntagimp = len(ctx.tags) - len(module.tags)
    for i, ti in enumerate(module.tags):
        _check_tag_type(ctx, ti, f"tag {ntagimp + i}")

    ctx.refs = _collect_refs(module)
    canon = ctx.canon

    # Globals (2.0: under C', only imported globals are visible; 3.0: the imported
    # and the earlier-defined ones, and segments see them all).
    ngimp = ctx.nimported_globals
    later = bool(features & (CoreFeatures.EXTENDED_CONST | CoreFeatures.GC))
    for i, g in enumerate(module.globals):
        where = f"global {ngimp + i}"
        _check_global_type(g.type, where, allowed)
        got = _const_expr_type(ctx, g.init, where, nglobals=ngimp + i if later else None)
        if got != [g.type.valtype] and not vals_subtype(got, [g.type.valtype], canon):
            raise _err(_mismatch_reason(g.type.valtype, got), where)

    # Table initialisers (3.0); a table of a non-nullable type needs one.
    inits = getattr(module, "table_inits", None) or []
    for i, tt in enumerate(module.tables):
        where = f"table {ntimp + i}"
        init = inits[i] if i < len(inits) else None
        if init is None:
            if not ref_nullable(tt.elem_type):
                raise _err(_mismatch_reason(f"an initialiser (a table of {_tname(tt.elem_type)} "
                                            f"has no null default)", "none"), where)
            continue
        if not ctx.func_refs:
            raise _err(_needs("a table initialiser", CoreFeatures.FUNCTION_REFERENCES), where)
        # (the table section comes before the globals: only imported ones are visible)
        got = _const_expr_type(ctx, init, where)
        if not vals_subtype(got, [tt.elem_type], canon):
            raise _err(_mismatch_reason(tt.elem_type, got), where)
    seg_globals = len(ctx.globals) if later else None

    # Element segments.
    ntables = len(ctx.tables)
    for i, seg in enumerate(module.elems):
        where = f"element segment {i}"
        et = seg.elem_type
        if et == _REF_FUNC and not ctx.func_refs:
            et = FUNCREF   # a list of function indices, in 2.0
        if et not in _REF_TYPES:
            if not (isinstance(et, int) and et > 0 and is_ref(et)):
                raise _err("malformed reference type", where)
            _check_valtype(et, where, allowed)
        if et not in allowed and et != FUNCREF:
            raise _err(_valtype_reason(et), where)
        mode = seg.mode
        if mode != MODE_ACTIVE and not features & (CoreFeatures.BULK_MEMORY | CoreFeatures.REFERENCE_TYPES):
            mode_name = "passive" if mode == MODE_PASSIVE else "declarative"
            raise _err(f"a {mode_name} element segment requires the bulk-memory or reference-types feature",
                       where)
        for expr in seg.init:
            got = _const_expr_type(ctx, expr, where, True, seg_globals)
            if got != [et] and not vals_subtype(got, [et], canon):
                raise _err(_mismatch_reason(et, got), where)
        if mode == MODE_ACTIVE:
            x = seg.table
            if not (isinstance(x, int) and 0 <= x < ntables):
                raise _err(f"unknown table {x}", where)
            if ctx.tables[x] != et and not val_subtype(et, ctx.tables[x], canon):
                raise _err(_mismatch_reason(f"elements of table {x}'s type {_tname(ctx.tables[x])}",
                                            _tname(et)), where)
            got = _const_expr_type(ctx, seg.offset, where, nglobals=seg_globals)
            if got != [ctx.table_at[x]]:
                raise _err(_mismatch_reason(f"an offset of {_tname(ctx.table_at[x])}", got), where)
        elif mode not in (MODE_PASSIVE, MODE_DECLARATIVE):
            raise _err("invalid element segment mode", where)

    # Data segments.
    ctx.seg_globals = seg_globals
    _check_data_segments(ctx, module)

    # Start function.
    nfuncs = len(ctx.func_type_idx)
    if module.start is not None:
        x = module.start
        if not (isinstance(x, int) and 0 <= x < nfuncs):
            raise _err(f"unknown function {x}", "start function")
        ti = ctx.func_type_idx[x]
        if not (isinstance(ti, int) and 0 <= ti < ntypes):
            raise _err(f"unknown type {ti}", "start function")
        p, r = ctx.types[ti]
        if p or r:
            raise _err("start function", "start function")

    # Exports.
    names = set()
    counts = {
        EXTERN_FUNC: (nfuncs, "function"),
        EXTERN_TABLE: (ntables, "table"),
        EXTERN_MEMORY: (ctx.nmems, "memory"),
        EXTERN_GLOBAL: (len(ctx.globals), "global"),
        EXTERN_TAG: (len(ctx.tags), "tag"),
    }
    for exp in module.exports:
        where = f'export "{exp.name}"'
        entry = counts.get(exp.kind)
        if entry is None:
            raise _err("invalid export kind", where)
        n, noun = entry
        if not (isinstance(exp.index, int) and 0 <= exp.index < n):
            raise _err(f"unknown {noun} {exp.index}", where)
        if exp.kind == EXTERN_TAG and not ctx.exceptions:
            raise _err(_needs("exporting a tag", CoreFeatures.EXCEPTIONS), where)
        if exp.name in names:
            raise _err("duplicate export name", where)
        names.add(exp.name)
        if exp.kind == EXTERN_GLOBAL and not mutable_global and ctx.globals[exp.index][1]:
            raise _err(_needs("exporting a mutable global", CoreFeatures.MUTABLE_GLOBAL), where)

    # Function bodies (a body not held in memory is decoded for the check and
    # dropped again, its info too: an engine validates it anew when it needs it).
    if bodies:
        for i, f in enumerate(module.funcs):
            body, offsets = f.peek()
            info = _validate_body(ctx, f, nimp + i, body, offsets, module)
            if f.decoded:
                f.info = info
    module.__dict__["_features"] = features
    return ctx


def _check_data_segments(ctx: "_Context", module: Module) -> None:
    """The data segments' part of :func:`_validate_module` (their count's
    implementation limit is :func:`_check_impl_limits`')."""
    features = ctx.features
    seg_globals = ctx.seg_globals
    # (an active segment of memory 0 at an i32.const offset, the usual case in
    # modules of thousands of segments, is valid exactly when memory 0 is i32)
    mem0_i32 = ctx.nmems > 0 and ctx.mem_at[0] == I32
    end = _ops.OP_END
    for i, seg in enumerate(module.datas):
        mode = seg.mode
        off = seg.offset
        if (mem0_i32 and mode == MODE_ACTIVE and seg.memory == 0 and type(off) is list and len(off) == 2
                and off[0][0] == 0x41 and off[1][0] == end):
            continue
        where = f"data segment {i}"
        if mode == MODE_ACTIVE:
            x = seg.memory
            if not (isinstance(x, int) and 0 <= x < ctx.nmems):
                raise _err(f"unknown memory {x}", where)
            got = _const_expr_type(ctx, seg.offset, where, nglobals=seg_globals)
            if got != [ctx.mem_at[x]]:
                raise _err(_mismatch_reason(f"an offset of {_tname(ctx.mem_at[x])}", got), where)
        elif mode != MODE_PASSIVE:
            raise _err("invalid data segment mode", where)
        elif not features & CoreFeatures.BULK_MEMORY:
            raise _err(_needs("a passive data segment", CoreFeatures.BULK_MEMORY), where)


class StreamingValidator:
    """Validates a module while the decoder reads it (``decode_module(...,
    validate=True)``): the decoder calls :meth:`begin` when the code section starts
    (every section a body depends on is read by then), the function it returns with
    each body as soon as it is decoded, and :meth:`finish` at the end.  The outcome
    is exactly :func:`validate_module`'s: module-level errors (including the data
    segments, which follow the code) come first, then the first invalid body; a
    malformed module still fails with its DecodeError, since errors in bodies are
    only raised by :meth:`finish`."""

    def __init__(self, features: CoreFeatures = CoreFeatures.V2) -> None:
        self.features = features if features is _V2 else check_features(features)
        self.ctx: Optional[_Context] = None
        self.error: Optional[ValidationError] = None
        self.nimp = 0
        # a body past the instruction limit was seen (checked with the module's
        # implementation limits in finish, which rank before any body's error)
        self.too_large = False

    def begin(self, module: Module) -> Optional[Callable[[int, Function, List[Any], List[int]], None]]:
        """Check what precedes the code section; return the per-body check, or None
        when that check fails (then :meth:`finish` validates everything)."""
        try:
            ctx = _validate_module(module, self.features, bodies=False)
        except (ValidationError,) + _STRUCTURAL_ERRORS:
            return None
        # The data segments follow the code section: bodies see the declared count
        # (without a data count section, instructions naming a segment are malformed).
        ctx.ndatas = module.data_count or 0
        self.ctx = ctx
        self.nimp = ctx.nimported_funcs
        return self.check

    def check(self, i: int, func: Function, body: List[Any], offsets: List[int]) -> None:
        """Validate defined function ``i``'s freshly decoded body; the first error
        is kept for :meth:`finish`."""
        if len(body) > L.MAX_FUNCTION_SIZE:
            self.too_large = True
        if self.error is not None:
            return
        try:
            info = _validate_body(self.ctx, func, self.nimp + i, body, offsets)  # type: ignore[arg-type]  # (begun)
        except ValidationError as e:
            self.error = e
            return
        if func.decoded:
            func.info = info

    def finish(self, module: Module) -> None:
        """Raise the module's first validation error, as validate_module would."""
        if self.ctx is None:
            validate_module(module, self.features)
            return
        # Everything before the code section passed in begin(); what came after it
        # is the data section: its segments and their count (as validate_module
        # checks them, so its first error is the same).
        try:
            if len(module.datas) > L.MAX_DATA_SEGMENTS or self.too_large:
                _check_impl_limits(module)
            _check_data_segments(self.ctx, module)
        except _STRUCTURAL_ERRORS as e:
            raise ValidationError(f"malformed module: {type(e).__name__}: {e}") from None
        module.__dict__["_features"] = self.features
        if self.error is not None:
            module.__dict__.pop("_features", None)
            raise self.error


def _body_context(module: Module, features: Optional[CoreFeatures] = None) -> "_Context":
    """The context bodies of ``module`` are checked in, built once per module and
    feature set (kept in the module; ``features`` default to those the module was
    validated with, else 2.0's)."""
    if features is None:
        features = module.__dict__.get("_features", _V2)
    if features is not _V2:
        features = check_features(features)
    cached = module.__dict__.get("_body_ctx")
    nfuncs, ntypes = len(module.funcs), len(module.types)
    if cached is not None and cached[0] == features:
        kept: _Context = cached[3]
        if cached[1] == nfuncs and cached[2] == ntypes:
            return kept
        if cached[1] <= nfuncs and cached[2] <= ntypes:
            ctx = _grown_context(kept, module, cached[1], cached[2])
            module.__dict__["_body_ctx"] = (features, nfuncs, ntypes, ctx)
            return ctx
    ctx = _Context(module, features)
    ctx.refs = _collect_refs(module)
    if ctx.func_refs:
        ctx.canon = module.canonical_ids()
    module.__dict__["_body_ctx"] = (features, len(module.funcs), len(module.types), ctx)
    return ctx


def _grown_context(old: "_Context", module: Module, nfuncs: int, ntypes: int) -> "_Context":
    """``old``, the body context of a module with ``nfuncs`` functions and ``ntypes``
    types, for ``module``: a copy of that module with types and functions appended
    (the compiler's on-stack-replacement variants), without a pass over all of it."""
    ctx = copy.copy(old)
    ctx.comp_types = module.types
    ctx.types = old.types + [_signature(i, ft) for i, ft in enumerate(module.types[ntypes:], ntypes)]
    ctx.func_type_idx = old.func_type_idx + [f.type_index for f in module.funcs[nfuncs:]]
    if isinstance(old.valtypes, _ValTypes):
        ctx.valtypes = _ValTypes(old.valtypes.base, old.features, len(module.types))
    if ctx.func_refs:
        ctx.canon = module.canonical_ids()
    return ctx


def validate_function(module: Module, index: int,
                      features: Optional[CoreFeatures] = None) -> FunctionInfo:
    """Validate only the body of ``module.funcs[index]`` (the rest of the module is
    assumed valid) and return its :class:`FunctionInfo` (also stored in ``info``).

    ``features`` default to those the module was validated with
    (:func:`validate_module`), else 2.0's.  The context is built once per module
    and feature set (engines call this on each function's first use)."""
    try:
        ctx = _body_context(module, features)
        f = module.funcs[index]
        fidx = ctx.nimported_funcs + index
        if not (isinstance(f.type_index, int) and 0 <= f.type_index < len(ctx.types)):
            raise ValidationError(f"unknown type {f.type_index}", func_index=fidx)
        f.info = _validate_body(ctx, f, fidx, module=module)
        return f.info
    except _STRUCTURAL_ERRORS as e:
        raise ValidationError(f"malformed module: {type(e).__name__}: {e}") from None


# ---------------------------------------------------------------------------------
# Function bodies
# ---------------------------------------------------------------------------------
# Control frame layout (a list, mutated in place for the unreachable flag):
_F_OP, _F_START, _F_END, _F_HEIGHT, _F_UNREACH, _F_OPENER, _F_LABEL, _F_INIT = range(8)
_OP_FUNC = -1


def _validate_body(ctx: _Context, func: Function, fidx: int, body: Optional[List[Any]] = None,
                   offsets: Optional[List[int]] = None, module: Optional[Module] = None) -> FunctionInfo:
    if body is None:
        body = func.body
        offsets = func.offsets
    try:
        return _check_body(ctx, func, body)
    except _Fail as e:
        pc = e.pc
        reason = e.reason
    except _STRUCTURAL_ERRORS as e:
        # Structurally broken instruction (e.g. an immediate of the wrong shape).
        pc = getattr(e, "_pc", -1)
        reason = f"malformed instruction ({type(e).__name__}: {e})"
    offset = None
    where = None
    name = None
    line = column = None
    if 0 <= pc < len(body):
        ins = body[pc]
        try:
            op = ins[0]
            name = _ops.op_name(op) if isinstance(op, int) else repr(op)
        except Exception:  # pragma: no cover - defensive
            name = None
        if offsets and pc < len(offsets):
            offset = offsets[pc]
        else:
            at = None if module is None else text_position(module, fidx - ctx.nimported_funcs, pc)
            if at is not None:
                line, column = at
            else:
                where = f"instruction #{pc}"
    raise ValidationError(reason, func_index=fidx, offset=offset, instruction=name, where=where,
                          line=line, column=column) from None


# a block type's (params, results, (params, results) as tuples)
_BlockSig = Tuple[List[int], List[int], Tuple[Tuple[int, ...], Tuple[int, ...]]]


def _resolve_blocktype(ctx: _Context, bt: object, cache: Dict[Any, _BlockSig]) -> _BlockSig:
    sig = cache.get(bt)
    if sig is not None:
        return sig
    if not isinstance(bt, int):
        raise _Fail("invalid block type")
    p: List[int]
    r: List[int]
    if bt == -0x40:
        p, r = [], []
    elif bt < 0:
        t = valtype_of_blocktype(bt)
        if t not in ctx.valtypes:
            vt = ctx.valtypes
            if isinstance(vt, _ValTypes):
                raise _Fail(vt.reason(t) or "invalid block type")
            if t not in VALUE_TYPES and not (isinstance(t, int) and t > 0 and is_ref(t)):
                raise _Fail("invalid block type")
            raise _Fail(_valtype_reason(t))
        p, r = [], [t]
    elif bt < len(ctx.types):
        p, r = ctx.types[bt]
        if (p or len(r) > 1) and not ctx.multi_value:
            raise _Fail("invalid result arity")
    else:
        raise _Fail(f"unknown type {bt}")
    sig = (p, r, (tuple(p), tuple(r)))
    cache[bt] = sig
    return sig


def _reset_inits(init_log: List[int], mark: int, unset: Set[int]) -> None:
    """Leaving a block: the non-defaultable locals set inside it are unset again."""
    unset.update(init_log[mark:])
    del init_log[mark:]


def _pop_ref(vals: List[int], height: int, unreach: bool) -> int:
    """Pop a reference type (the unknown type stands for any)."""
    t = _pop_any(vals, height, unreach)
    if t != _UNK and not (t > 0 and is_ref(t)):
        raise _type_mismatch("a reference", t)
    return t


def _typed_ref_instr(ctx: _Context, k: int, imm: Any, vals: List[int], height: int, unreach: bool,
                     ctrls: List[Any], max_stack: int, branch_heights: Dict[Any, Any], pc: int) -> int:
    """call_ref, return_call_ref, ref.as_non_null, br_on_null, br_on_non_null;
    returns the new maximum stack depth.  A branch's height (``branch_heights``)
    is taken with the label's values on top: for br_on_null once the null is
    dropped, for br_on_non_null with the reference as the last value."""
    canon = ctx.canon
    if k == K_CALL_REF or k == K_RETURN_CALL_REF:
        if k == K_RETURN_CALL_REF and not ctx.tail_call:
            raise _Fail(_needs("return_call_ref", CoreFeatures.TAIL_CALL))
        if not (isinstance(imm, int) and 0 <= imm < len(ctx.types)):
            raise _Fail(f"unknown type {imm}")
        _pop1(vals, height, unreach, ref_type(imm, True))
        p, r = ctx.types[imm]
        if k == K_RETURN_CALL_REF:
            # the callee's results must match the caller's
            if not _tail_results_match(r, ctrls[0][_F_END], canon):
                raise _type_mismatch(f"the caller's results {_tlist(ctrls[0][_F_END])}",
                                     f"the callee's {_tlist(r)}")
            _pop_vals(vals, height, unreach, p)
            return max_stack
        _apply(vals, height, unreach, p, r)
    elif k == K_REF_AS_NON_NULL:
        t = _pop_ref(vals, height, unreach)
        vals.append(t if t == _UNK else ref_type(ref_heap(t), False))
    else:
        if not (isinstance(imm, int) and 0 <= imm < len(ctrls)):
            raise _Fail(f"unknown label {imm}")
        lt = ctrls[-1 - imm][_F_LABEL]
        t = _pop_ref(vals, height, unreach)
        if k == K_BR_ON_NULL:
            branch_heights[pc] = len(vals)
            _pop_vals(vals, height, unreach, lt)
            vals.extend(lt)
            vals.append(t if t == _UNK else ref_type(ref_heap(t), False))
        else:
            if not lt or not (lt[-1] > 0 and is_ref(lt[-1])):
                raise _type_mismatch("a label ending in a reference", f"a label of {_tlist(lt)}")
            vals.append(t if t == _UNK else ref_type(ref_heap(t), False))
            branch_heights[pc] = len(vals)
            _pop_vals(vals, height, unreach, lt)
            vals.extend(lt[:-1])
    return max(max_stack, len(vals))


# --- GC instructions --------------------------------------------------------------
_NUMERIC_STORAGE = frozenset((I32, I64, F32, F64, V128)) | PACKED_TYPES
_STRUCTREF_N = ref_type(HT_STRUCT)


def _defaultable(t: int) -> bool:
    return not (t > 0 and is_ref(t)) or ref_nullable(t)


def _gc_type(ctx: _Context, x: object, cls: type, what: str) -> Any:
    """Type ``x`` of the module, which must be a struct (``cls`` StructType) or
    array type."""
    types = ctx.comp_types
    if not (isinstance(x, int) and 0 <= x < len(types)):
        raise _Fail(f"unknown type {x}")
    ct = types[x]
    if not isinstance(ct, cls):
        raise _Fail(f"type mismatch: type {x} is not {what} type")
    return ct


def _check_ref_imm(ctx: _Context, t: object) -> None:
    if not (isinstance(t, int) and t > 0 and is_ref(t)):
        raise _Fail("malformed reference type")
    if t not in ctx.valtypes:
        vt = ctx.valtypes
        raise _Fail(vt.reason(t) if isinstance(vt, _ValTypes) else "invalid value type")  # type: ignore[arg-type]  # (refused: it has a reason)


def _diff_ref(t1: int, t2: int) -> int:
    """rt1 minus rt2: rt1, non-null when rt2 admits null."""
    return ref_type(ref_heap(t1), ref_nullable(t1) and not ref_nullable(t2))


def _gc_instr(ctx: _Context, op: int, imm: Any, vals: List[int], height: int, unreach: bool,
              ctrls: List[Any], max_stack: int, branch_heights: Dict[Any, Any], pc: int) -> int:
    """The typing rules of GC's instructions (and ref.eq); returns the new maximum
    stack depth."""
    sub = op & 0xFFFF if op != 0xD3 else -1
    canon = ctx.canon
    if sub == -1:                                              # ref.eq
        _pop_vals(vals, height, unreach, [EQREF, EQREF])
        vals.append(I32)
    elif sub <= 1:                                             # struct.new(_default)
        st = _gc_type(ctx, imm, StructType, "a struct")
        if sub == 0:
            _pop_vals(vals, height, unreach, [unpacked(f.storage) for f in st.fields])
        elif not all(_defaultable(f.storage) for f in st.fields):
            raise _Fail("type mismatch: a field is not defaultable")
        vals.append(ref_type(imm, False))
    elif sub <= 5:                                             # struct.get(_s/_u), set
        x, y = imm
        st = _gc_type(ctx, x, StructType, "a struct")
        if not (isinstance(y, int) and 0 <= y < len(st.fields)):
            raise _Fail(f"unknown field {y}")
        f = st.fields[y]
        if sub == 5:
            if not f.mutable:
                raise _Fail("immutable field")
            _pop_vals(vals, height, unreach, [ref_type(x), unpacked(f.storage)])
        else:
            if (sub == 2) != (f.storage not in PACKED_TYPES):
                raise _Fail("type mismatch: " + ("packed field: use get_s or get_u" if sub == 2
                                                 else "get_s/get_u of a field not packed"))
            _pop1(vals, height, unreach, ref_type(x))
            vals.append(unpacked(f.storage))
    elif sub <= 10:                                            # array.new*
        if sub == 8:
            x, count = imm
        elif sub >= 9:
            x, y = imm
        else:
            x = imm
        at = _gc_type(ctx, x, ArrayType, "an array")
        t = at.field.storage
        if sub == 6:
            _pop_vals(vals, height, unreach, [unpacked(t), I32])
        elif sub == 7:
            if not _defaultable(t):
                raise _Fail("type mismatch: the element type is not defaultable")
            _pop1(vals, height, unreach, I32)
        elif sub == 8:
            if not (isinstance(count, int) and 0 <= count <= L.MAX_ARRAY_NEW_FIXED):
                raise _Fail("array.new_fixed: too many operands")
            _pop_vals(vals, height, unreach, [unpacked(t)] * count)
        elif sub == 9:
            if t not in _NUMERIC_STORAGE:
                raise _Fail("array type is not numeric or vector")
            if not (isinstance(y, int) and 0 <= y < ctx.ndatas):
                raise _Fail(f"unknown data segment {y}")
            _pop_vals(vals, height, unreach, [I32, I32])
        else:
            _check_elem_into(ctx, y, t, canon)
            _pop_vals(vals, height, unreach, [I32, I32])
        vals.append(ref_type(x, False))
    elif sub <= 14:                                            # array.get(_s/_u), set
        at = _gc_type(ctx, imm, ArrayType, "an array")
        f = at.field
        if sub == 14:
            if not f.mutable:
                raise _Fail("immutable array")
            _pop_vals(vals, height, unreach, [ref_type(imm), I32, unpacked(f.storage)])
        else:
            if (sub == 11) != (f.storage not in PACKED_TYPES):
                raise _Fail("type mismatch: " + ("packed array: use get_s or get_u" if sub == 11
                                                 else "get_s/get_u of an array not packed"))
            _pop_vals(vals, height, unreach, [ref_type(imm), I32])
            vals.append(unpacked(f.storage))
    elif sub == 15:                                            # array.len
        _pop1(vals, height, unreach, ARRAYREF)
        vals.append(I32)
    elif sub <= 19:                                            # fill, copy, init_*
        x = imm if sub == 16 else imm[0]
        at = _gc_type(ctx, x, ArrayType, "an array")
        f = at.field
        if not f.mutable:
            raise _Fail("immutable array")
        if sub == 16:
            _pop_vals(vals, height, unreach, [ref_type(x), I32, unpacked(f.storage), I32])
        elif sub == 17:
            y = imm[1]
            src = _gc_type(ctx, y, ArrayType, "an array").field.storage
            dst = f.storage
            if src != dst and (src in PACKED_TYPES or dst in PACKED_TYPES
                               or not val_subtype(src, dst, canon)):
                raise _Fail("type mismatch: array.copy between incompatible element types")
            _pop_vals(vals, height, unreach, [ref_type(x), I32, ref_type(y), I32, I32])
        else:
            y = imm[1]
            if sub == 18:
                if f.storage not in _NUMERIC_STORAGE:
                    raise _Fail("array type is not numeric or vector")
                if not (isinstance(y, int) and 0 <= y < ctx.ndatas):
                    raise _Fail(f"unknown data segment {y}")
            else:
                _check_elem_into(ctx, y, f.storage, canon)
            _pop_vals(vals, height, unreach, [ref_type(x), I32, I32, I32])
    elif sub <= 23:                                            # ref.test, ref.cast
        _check_ref_imm(ctx, imm)
        top = top_heap(ref_heap(imm), canon)
        _pop1(vals, height, unreach, ref_type(top))
        vals.append(I32 if sub <= 21 else imm)
    elif sub <= 25:                                            # br_on_cast(_fail)
        label, t1, t2 = imm
        _check_ref_imm(ctx, t1)
        _check_ref_imm(ctx, t2)
        if not val_subtype(t2, t1, canon):
            raise _Fail("type mismatch: the cast's target type must match its source type")
        if not (isinstance(label, int) and 0 <= label < len(ctrls)):
            raise _Fail(f"unknown label {label}")
        lt = ctrls[-1 - label][_F_LABEL]
        _pop1(vals, height, unreach, t1)
        branch_t, fall_t = (t2, _diff_ref(t1, t2)) if sub == 24 else (_diff_ref(t1, t2), t2)
        if not lt or not val_subtype(branch_t, lt[-1], canon):
            raise _type_mismatch(f"a label of {_tlist(lt)}", f"a branch of {_tname(branch_t)}")
        vals.append(branch_t)
        branch_heights[pc] = len(vals)
        _pop_vals(vals, height, unreach, lt)
        vals.extend(lt[:-1])
        vals.append(fall_t)
    elif sub <= 27:                                            # any <-> extern
        src, dst = (HT_EXTERN, HT_ANY) if sub == 26 else (HT_ANY, HT_EXTERN)
        t = _pop1(vals, height, unreach, ref_type(src))
        vals.append(ref_type(dst, t == _UNK or ref_nullable(t)))
    elif sub == 28:                                            # ref.i31
        _pop1(vals, height, unreach, I32)
        vals.append(ref_type(HT_I31, False))
    elif sub <= 30:                                            # i31.get_s/u
        _pop1(vals, height, unreach, I31REF)
        vals.append(I32)
    else:  # pragma: no cover - every 0xFB opcode is in the table
        raise _Fail("unknown instruction")
    return max(max_stack, len(vals))


def _check_elem_into(ctx: _Context, y: object, t: int, canon: Optional[Sequence[int]]) -> None:
    """array.new_elem/init_elem: element segment ``y``'s type must match ``t``."""
    if not (isinstance(y, int) and 0 <= y < len(ctx.elem_types)):
        raise _Fail(f"unknown elem segment {y}")
    et = ctx.elem_types[y]
    if t in PACKED_TYPES or not (t > 0 and is_ref(t)) or not val_subtype(et, t, canon):
        raise _Fail("type mismatch: element segment type does not match the array's")


def _check_body(ctx: _Context, func: Function, body: Any) -> FunctionInfo:
    params, results = ctx.types[func.type_index]
    pc = -1
    try:
        ltypes = _local_types(params, func.locals, ctx.valtypes)
    except _Fail as e:
        raise _Fail(e.reason, -1)  # noqa: B904 - the same failure, placed
    nloc = len(ltypes)
    globals_ = ctx.globals
    nglobals = len(globals_)
    func_type_idx = ctx.func_type_idx
    nfuncs = len(func_type_idx)
    types = ctx.types
    ntypes = len(types)
    tables = ctx.tables
    ntables = len(tables)
    nmems = ctx.nmems
    mem_at = ctx.mem_at
    table_at = ctx.table_at
    ndatas = ctx.ndatas
    elem_types = ctx.elem_types
    nelems = len(elem_types)
    tags = ctx.tags
    ntags = len(tags)
    catches: Dict[int, List[int]] = {}
    refs = ctx.refs
    table_get = ctx.op_table.get
    # 1.0's br_table rule (before reference types): every label has the default's type.
    br_table_v1 = not ctx.ref_types
    bt_cache: Dict[Any, Any] = {}

    partner: Dict[int, int] = {}
    else_of: Dict[int, int] = {}
    block_types: Dict[int, Tuple[Tuple[int, ...], Tuple[int, ...]]] = {}
    heights: Dict[int, int] = {}
    branch_heights: Dict[int, int] = {}

    vals: List[int] = []
    _BODY.canon = canon = ctx.canon
    # Non-defaultable locals (3.0) not yet set: local.get of one is invalid.  A
    # local.set records the index in init_log; leaving a block (end, else) unsets
    # the locals set since its entry (the frame's _F_INIT mark).  Both stay empty
    # for ordinary functions.
    unset: Set[int] = set()
    init_log: List[int] = []
    if ctx.func_refs:
        k0 = len(params)
        for count, t in func.locals:
            if not ref_nullable(t) if (t > 0 and is_ref(t)) else False:
                if count > 0x10000:
                    unset.update(range(k0, k0 + count))   # (bounded by the locals limit)
                else:
                    unset.update(range(k0, k0 + count))
            k0 += count
    # control frames: [opener op, start types, end types, height, unreachable,
    # opener pc, label types, init log mark] (see _F_*)
    top: List[Any] = [_OP_FUNC, [], results, 0, False, -1, results, 0]
    ctrls: List[List[Any]] = [top]
    height = 0
    unreach = False
    max_stack = 0
    nbody = len(body)
    I32_ = I32

    try:
        for pc, ins in enumerate(body):
            op, imm = ins
            ent = table_get(op)
            if ent is None:
                raise _Fail("unknown instruction")
            k = ent[0]

            if k == K_BIN:
                _, p, r, _x = ent
                if len(vals) - height >= 2 and vals[-1] == p[1] and vals[-2] == p[0]:
                    vals.pop()
                    vals[-1] = r[0]
                else:
                    _pop_vals(vals, height, unreach, p)
                    vals.append(r[0])
                    if len(vals) > max_stack:
                        max_stack = len(vals)
            elif k == K_LOCAL_GET:
                if not 0 <= imm < nloc:
                    raise _Fail(f"unknown local {imm}")
                if unset and imm in unset:
                    raise _Fail(f"uninitialized local {imm}")
                vals.append(ltypes[imm])
                if len(vals) > max_stack:
                    max_stack = len(vals)
            elif k == K_PUSH:
                vals.append(ent[2])
                if len(vals) > max_stack:
                    max_stack = len(vals)
            elif k == K_UN:
                if len(vals) > height and vals[-1] == ent[1][0]:
                    vals[-1] = ent[2][0]
                else:
                    _pop1(vals, height, unreach, ent[1][0])
                    vals.append(ent[2][0])
                    if len(vals) > max_stack:
                        max_stack = len(vals)
            elif k == K_LOCAL_SET:
                if not 0 <= imm < nloc:
                    raise _Fail(f"unknown local {imm}")
                t = ltypes[imm]
                if len(vals) > height and vals[-1] == t:
                    vals.pop()
                else:
                    _pop1(vals, height, unreach, t)
                if unset and imm in unset:
                    unset.discard(imm)
                    init_log.append(imm)
            elif k == K_LOCAL_TEE:
                if not 0 <= imm < nloc:
                    raise _Fail(f"unknown local {imm}")
                t = ltypes[imm]
                if not (len(vals) > height and vals[-1] == t):
                    _pop1(vals, height, unreach, t)
                    vals.append(t)
                    if len(vals) > max_stack:
                        max_stack = len(vals)
                if unset and imm in unset:
                    unset.discard(imm)
                    init_log.append(imm)
            elif k == K_LOAD or k == K_STORE:
                align, off, mem = imm
                if not 0 <= mem < nmems:
                    raise _Fail(f"unknown memory {mem}")
                if align > ent[3]:
                    raise _Fail("alignment must not be larger than natural")
                at = mem_at[mem]
                if off > 0xFFFFFFFF and (at == I32_ or off >> 64):
                    raise _Fail("offset out of range")
                p = ent[1]
                if k == K_LOAD:
                    if len(vals) > height and vals[-1] == at:
                        vals[-1] = ent[2][0]
                    else:
                        _pop1(vals, height, unreach, at)
                        vals.append(ent[2][0])
                        if len(vals) > max_stack:
                            max_stack = len(vals)
                elif len(vals) - height >= 2 and vals[-1] == p[1] and vals[-2] == at:
                    del vals[-2:]
                else:
                    _pop_vals(vals, height, unreach, [at, p[1]])
            elif k == K_GLOBAL_GET:
                if not 0 <= imm < nglobals:
                    raise _Fail(f"unknown global {imm}")
                vals.append(globals_[imm][0])
                if len(vals) > max_stack:
                    max_stack = len(vals)
            elif k == K_BR_IF:
                if len(vals) > height and vals[-1] == I32_:
                    vals.pop()
                else:
                    _pop1(vals, height, unreach, I32_)
                branch_heights[pc] = len(vals)
                if not 0 <= imm < len(ctrls):
                    raise _Fail(f"unknown label {imm}")
                lt = ctrls[-1 - imm][_F_LABEL]
                n = len(lt)
                if n and not (len(vals) - height >= n and vals[-n:] == lt):
                    _pop_vals(vals, height, unreach, lt)
                    vals.extend(lt)
                    if len(vals) > max_stack:
                        max_stack = len(vals)
            elif k == K_END:
                et = top[_F_END]
                n = len(et)
                if len(vals) - height == n and (n == 0 or vals[-n:] == et):
                    pass
                else:
                    found = vals[height:]
                    _pop_vals(vals, height, unreach, et)
                    if len(vals) != height:
                        raise _type_mismatch(et, found)
                    vals.extend(et)
                    if len(vals) > max_stack:
                        max_stack = len(vals)
                fop = top[_F_OP]
                if fop == 0x04 and top[_F_START] != et and not vals_subtype(top[_F_START], et, canon):
                    # An if without else: the implicit empty else branch must
                    # turn the block's parameters into its results.
                    raise _Fail("type mismatch: an if without else must have as many results "
                                f"as parameters (expected {_tlist(et)}, found {_tlist(top[_F_START])})")
                if len(init_log) > top[_F_INIT]:
                    _reset_inits(init_log, top[_F_INIT], unset)
                ctrls.pop()
                opener = top[_F_OPENER]
                if ctrls:
                    partner[opener] = pc
                    partner[pc] = opener
                    top = ctrls[-1]
                    height = top[_F_HEIGHT]
                    unreach = top[_F_UNREACH]
                elif pc != nbody - 1:
                    raise _Fail("unexpected instruction after the end of the function")
            elif k == K_BLOCK or k == K_IF:
                if k == K_IF:
                    if len(vals) > height and vals[-1] == I32_:
                        vals.pop()
                    else:
                        _pop1(vals, height, unreach, I32_)
                bp, br, sig = _resolve_blocktype(ctx, imm, bt_cache)
                n = len(bp)
                if n == 0:
                    h = len(vals)
                elif len(vals) - height >= n and vals[-n:] == bp:
                    h = len(vals) - n
                else:
                    _pop_vals(vals, height, unreach, bp)
                    h = len(vals)
                    vals.extend(bp)
                    if len(vals) > max_stack:
                        max_stack = len(vals)
                top = [op, bp, br, h, False, pc, bp if op == 0x03 else br, len(init_log)]
                ctrls.append(top)
                height = h
                unreach = False
                block_types[pc] = sig
                heights[pc] = h
            elif k == K_ELSE:
                if top[_F_OP] != 0x04:
                    raise _Fail("else without matching if")
                et = top[_F_END]
                n = len(et)
                if not (len(vals) - height == n and (n == 0 or vals[-n:] == et)):
                    found = vals[height:]
                    _pop_vals(vals, height, unreach, et)
                    if len(vals) != height:
                        raise _type_mismatch(et, found)
                del vals[height:]
                opener = top[_F_OPENER]
                st = top[_F_START]
                if len(init_log) > top[_F_INIT]:
                    _reset_inits(init_log, top[_F_INIT], unset)
                top = [0x05, st, et, height, False, opener, et, len(init_log)]
                ctrls[-1] = top
                unreach = False
                vals.extend(st)
                partner[pc] = opener
                else_of[opener] = pc
            elif k == K_BR:
                branch_heights[pc] = len(vals)
                if not 0 <= imm < len(ctrls):
                    raise _Fail(f"unknown label {imm}")
                lt = ctrls[-1 - imm][_F_LABEL]
                n = len(lt)
                if n and not (len(vals) - height >= n and vals[-n:] == lt):
                    _pop_vals(vals, height, unreach, lt)
                del vals[height:]
                top[_F_UNREACH] = unreach = True
            elif k == K_CALL:
                if not 0 <= imm < nfuncs:
                    raise _Fail(f"unknown function {imm}")
                ti = func_type_idx[imm]
                if not 0 <= ti < ntypes:
                    raise _Fail(f"unknown type {ti}")
                p, r = types[ti]
                _apply(vals, height, unreach, p, r)
                if len(vals) > max_stack:
                    max_stack = len(vals)
            elif k == K_SIG:
                _apply(vals, height, unreach, ent[1], ent[2])
                if len(vals) > max_stack:
                    max_stack = len(vals)
            elif k == K_DROP:
                if len(vals) > height:
                    vals.pop()
                elif not unreach:
                    raise _type_mismatch("a value", "nothing (the operand stack is empty)")
            elif k == K_SELECT:
                if (len(vals) - height >= 3 and vals[-1] == I32_ and vals[-2] == vals[-3]
                        and vals[-2] in _SELECTABLE):
                    del vals[-2:]
                else:
                    _pop1(vals, height, unreach, I32_)
                    t1 = _pop_any(vals, height, unreach)
                    t2 = _pop_any(vals, height, unreach)
                    if t1 not in _SELECTABLE or t2 not in _SELECTABLE:
                        raise _type_mismatch("a number or vector (untyped select)",
                                             t2 if t2 not in _SELECTABLE else t1)
                    if t1 != t2 and t1 != _UNK and t2 != _UNK:
                        raise _type_mismatch(t2, t1)
                    vals.append(t2 if t1 == _UNK else t1)
                    if len(vals) > max_stack:
                        max_stack = len(vals)
            elif k == K_SELECT_T:
                if len(imm) != 1:
                    raise _Fail("invalid result arity")
                t = imm[0]
                if t not in VALUE_TYPES and t not in ctx.valtypes:
                    vt = ctx.valtypes
                    raise _Fail(vt.reason(t) if isinstance(vt, _ValTypes) else _valtype_reason(t))  # type: ignore[arg-type]  # (refused: it has a reason)
                _pop1(vals, height, unreach, I32_)
                _pop1(vals, height, unreach, t)
                _pop1(vals, height, unreach, t)
                vals.append(t)
                if len(vals) > max_stack:
                    max_stack = len(vals)
            elif k == K_RETURN:
                lt = ctrls[0][_F_END]
                n = len(lt)
                if n and not (len(vals) - height >= n and vals[-n:] == lt):
                    _pop_vals(vals, height, unreach, lt)
                del vals[height:]
                top[_F_UNREACH] = unreach = True
            elif k == K_BR_TABLE:
                labels, default = imm
                if len(labels) > _MAX_BR_TABLE:
                    raise _Fail(f"too many br_table targets: {len(labels)} (the implementation limit "
                                f"is {_MAX_BR_TABLE})")
                _pop1(vals, height, unreach, I32_)
                branch_heights[pc] = len(vals)
                nctrls = len(ctrls)
                if not 0 <= default < nctrls:
                    raise _Fail(f"unknown label {default}")
                dt = ctrls[-1 - default][_F_LABEL]
                arity = len(dt)
                for lab in labels:
                    if not 0 <= lab < nctrls:
                        raise _Fail(f"unknown label {lab}")
                    lt = ctrls[-1 - lab][_F_LABEL]
                    if lt is dt:
                        continue
                    if len(lt) != arity:
                        raise _type_mismatch(f"a label of {arity} value(s), as the default {_tlist(dt)}",
                                             f"label {lab} of {_tlist(lt)}")
                    if br_table_v1 and lt != dt:
                        raise _type_mismatch(f"label {lab} of the default's {_tlist(dt)} (1.0 br_table)",
                                             _tlist(lt))
                    if lt == dt and not unreach:
                        continue
                    vals.extend(_pop_vals(vals, height, unreach, lt))
                if arity:
                    _pop_vals(vals, height, unreach, dt)
                del vals[height:]
                top[_F_UNREACH] = unreach = True
            elif k == K_UNREACHABLE:
                del vals[height:]
                top[_F_UNREACH] = unreach = True
            elif k == K_CALL_INDIRECT:
                ti, tab = imm
                if not 0 <= tab < ntables:
                    raise _Fail(f"unknown table {tab}")
                if tables[tab] != FUNCREF and not val_subtype(tables[tab], FUNCREF, canon):
                    raise _type_mismatch(f"a table of {_tname(FUNCREF)}",
                                         f"table {tab} of {_tname(tables[tab])}")
                if not 0 <= ti < ntypes:
                    raise _Fail(f"unknown type {ti}")
                _pop1(vals, height, unreach, table_at[tab])
                p, r = types[ti]
                _apply(vals, height, unreach, p, r)
                if len(vals) > max_stack:
                    max_stack = len(vals)
            elif k == K_MEMIDX:
                if not 0 <= imm < nmems:
                    raise _Fail(f"unknown memory {imm}")
                at = mem_at[imm]
                if at == I32_:
                    _apply(vals, height, unreach, ent[1], ent[2])
                else:  # memory.size/grow/fill of a 64-bit memory: sizes and addresses are i64
                    _apply(vals, height, unreach, _MEMIDX64[op], ent[2] and [at])
                if len(vals) > max_stack:
                    max_stack = len(vals)
            elif k == K_LANE:
                if not 0 <= imm < ent[3]:
                    raise _Fail("invalid lane index")
                _apply(vals, height, unreach, ent[1], ent[2])
                if len(vals) > max_stack:
                    max_stack = len(vals)
            elif k == K_SHUFFLE:
                if len(imm) != 16:
                    raise _Fail("invalid lane length")
                for lane in imm:
                    if not 0 <= lane < ent[3]:
                        raise _Fail("invalid lane index")
                _apply(vals, height, unreach, ent[1], ent[2])
                if len(vals) > max_stack:
                    max_stack = len(vals)
            elif k == K_MEMLANE:
                align, off, mem, lane = imm
                if not 0 <= mem < nmems:
                    raise _Fail(f"unknown memory {mem}")
                natural, lanes = ent[3]
                if align > natural:
                    raise _Fail("alignment must not be larger than natural")
                at = mem_at[mem]
                if off > 0xFFFFFFFF and (at == I32_ or off >> 64):
                    raise _Fail("offset out of range")
                if not 0 <= lane < lanes:
                    raise _Fail("invalid lane index")
                _apply(vals, height, unreach, [at] + ent[1][1:], ent[2])
                if len(vals) > max_stack:
                    max_stack = len(vals)
            elif k == K_MEMORY_INIT:
                data, mem = imm
                if not 0 <= mem < nmems:
                    raise _Fail(f"unknown memory {mem}")
                if not 0 <= data < ndatas:
                    raise _Fail(f"unknown data segment {data}")
                _apply(vals, height, unreach, [mem_at[mem], I32_, I32_], ent[2])
                if len(vals) > max_stack:
                    max_stack = len(vals)
            elif k == K_DATA_DROP:
                if not 0 <= imm < ndatas:
                    raise _Fail(f"unknown data segment {imm}")
            elif k == K_MEMORY_COPY:
                dst, src = imm
                if not 0 <= dst < nmems:
                    raise _Fail(f"unknown memory {dst}")
                if not 0 <= src < nmems:
                    raise _Fail(f"unknown memory {src}")
                ad, as_ = mem_at[dst], mem_at[src]
                _apply(vals, height, unreach, [ad, as_, I32_ if I32_ in (ad, as_) else ad], ent[2])
                if len(vals) > max_stack:
                    max_stack = len(vals)
            elif k == K_GLOBAL_SET:
                if not 0 <= imm < nglobals:
                    raise _Fail(f"unknown global {imm}")
                t, mutable = globals_[imm]
                if not mutable:
                    raise _Fail("global is immutable")
                _pop1(vals, height, unreach, t)
            elif k == K_TABLE_GET or k == K_TABLE_SET or k == K_TABLE_SIZE \
                    or k == K_TABLE_GROW or k == K_TABLE_FILL:
                if not 0 <= imm < ntables:
                    raise _Fail(f"unknown table {imm}")
                t = tables[imm]
                at = table_at[imm]
                if k == K_TABLE_GET:
                    _pop1(vals, height, unreach, at)
                    vals.append(t)
                elif k == K_TABLE_SET:
                    _pop1(vals, height, unreach, t)
                    _pop1(vals, height, unreach, at)
                elif k == K_TABLE_SIZE:
                    vals.append(at)
                elif k == K_TABLE_GROW:
                    _pop1(vals, height, unreach, at)
                    _pop1(vals, height, unreach, t)
                    vals.append(at)
                else:
                    _pop1(vals, height, unreach, at)
                    _pop1(vals, height, unreach, t)
                    _pop1(vals, height, unreach, at)
                if len(vals) > max_stack:
                    max_stack = len(vals)
            elif k == K_TABLE_COPY:
                dst, src = imm
                if not 0 <= dst < ntables:
                    raise _Fail(f"unknown table {dst}")
                if not 0 <= src < ntables:
                    raise _Fail(f"unknown table {src}")
                if tables[dst] != tables[src] and not val_subtype(tables[src], tables[dst], canon):
                    raise _type_mismatch(f"a source of {_tname(tables[dst])} (table {dst})",
                                         f"table {src} of {_tname(tables[src])}")
                ad, as_ = table_at[dst], table_at[src]
                _apply(vals, height, unreach, [ad, as_, I32_ if I32_ in (ad, as_) else ad], ent[2])
                if len(vals) > max_stack:
                    max_stack = len(vals)
            elif k == K_TABLE_INIT:
                elem, tab = imm
                if not 0 <= tab < ntables:
                    raise _Fail(f"unknown table {tab}")
                if not 0 <= elem < nelems:
                    raise _Fail(f"unknown elem segment {elem}")
                if tables[tab] != elem_types[elem] and not val_subtype(elem_types[elem], tables[tab], canon):
                    raise _type_mismatch(f"elements of {_tname(tables[tab])} (table {tab})",
                                         f"elem segment {elem} of {_tname(elem_types[elem])}")
                _apply(vals, height, unreach, [table_at[tab], I32_, I32_], ent[2])
                if len(vals) > max_stack:
                    max_stack = len(vals)
            elif k == K_ELEM_DROP:
                if not 0 <= imm < nelems:
                    raise _Fail(f"unknown elem segment {imm}")
            elif k == K_REF_NULL:
                if imm not in _REF_TYPES:
                    if not (isinstance(imm, int) and imm > 0 and is_ref(imm) and ref_nullable(imm)):
                        raise _Fail("malformed reference type")
                    if imm not in ctx.valtypes:
                        raise _Fail(ctx.valtypes.reason(imm) if isinstance(ctx.valtypes, _ValTypes)  # type: ignore[arg-type]  # (refused: it has a reason)
                                    else _valtype_reason(imm))
                vals.append(imm)
                if len(vals) > max_stack:
                    max_stack = len(vals)
            elif k == K_REF_IS_NULL:
                t = _pop_any(vals, height, unreach)
                if t not in _REF_OR_UNK and not (t > 0 and is_ref(t)):
                    raise _type_mismatch("a reference", t)
                vals.append(I32_)
                if len(vals) > max_stack:
                    max_stack = len(vals)
            elif k == K_REF_FUNC:
                if not 0 <= imm < nfuncs:
                    raise _Fail(f"unknown function {imm}")
                if imm not in refs:
                    raise _Fail("undeclared function reference")
                # (ref $t) in 3.0: non-null, of the function's own type
                vals.append(ref_type(func_type_idx[imm], False) if ctx.func_refs else FUNCREF)
                if len(vals) > max_stack:
                    max_stack = len(vals)
            elif k == K_GC:
                max_stack = _gc_instr(ctx, op, imm, vals, height, unreach, ctrls, max_stack,
                                      branch_heights, pc)
            elif k >= K_CALL_REF:
                max_stack = _typed_ref_instr(ctx, k, imm, vals, height, unreach, ctrls, max_stack,
                                             branch_heights, pc)
                if k == K_RETURN_CALL_REF:
                    del vals[height:]
                    top[_F_UNREACH] = unreach = True
            elif k == K_RETURN_CALL or k == K_RETURN_CALL_INDIRECT:
                # return_call x / return_call_indirect y x: the callee's parameters
                # are popped, its results become the function's (they must match the
                # caller's results), then the rest is unreachable, as after return.
                if k == K_RETURN_CALL:
                    if not 0 <= imm < nfuncs:
                        raise _Fail(f"unknown function {imm}")
                    ti = func_type_idx[imm]
                else:
                    ti, tab = imm
                    if not 0 <= tab < ntables:
                        raise _Fail(f"unknown table {tab}")
                    if tables[tab] != FUNCREF and not val_subtype(tables[tab], FUNCREF, canon):
                        raise _type_mismatch(f"a table of {_tname(FUNCREF)}",
                                             f"table {tab} of {_tname(tables[tab])}")
                if not 0 <= ti < ntypes:
                    raise _Fail(f"unknown type {ti}")
                p, r = types[ti]
                if not _tail_results_match(r, ctrls[0][_F_END], canon):
                    raise _type_mismatch(f"the caller's results {_tlist(ctrls[0][_F_END])}",
                                         f"the callee's {_tlist(r)}")
                if k == K_RETURN_CALL_INDIRECT:  # the element index: the table's address type
                    _pop1(vals, height, unreach, table_at[tab])
                _pop_vals(vals, height, unreach, p)
                del vals[height:]
                top[_F_UNREACH] = unreach = True
            elif K_THROW <= k <= K_RETHROW:
                if k == K_THROW or k == K_CATCH:
                    if not 0 <= imm < ntags:
                        raise _Fail(f"unknown tag {imm}")
                    tp = types[tags[imm]][0]
                if k == K_THROW:
                    _pop_vals(vals, height, unreach, tp)
                    del vals[height:]
                    top[_F_UNREACH] = unreach = True
                elif k == K_THROW_REF:
                    _pop1(vals, height, unreach, EXNREF)
                    del vals[height:]
                    top[_F_UNREACH] = unreach = True
                elif k == K_TRY_TABLE or k == K_TRY:
                    bt = imm[0] if k == K_TRY_TABLE else imm
                    bp, br, sig = _resolve_blocktype(ctx, bt, bt_cache)
                    if k == K_TRY_TABLE:
                        for clause in imm[1]:
                            ckind, tag, lab = clause
                            if not 0 <= lab < len(ctrls):
                                raise _Fail(f"unknown label {lab}")
                            if ckind < 2:
                                if not 0 <= tag < ntags:
                                    raise _Fail(f"unknown tag {tag}")
                                passed = list(types[tags[tag]][0])
                            elif ckind < 4:
                                passed = []
                            else:
                                raise _Fail("malformed catch clause")
                            if ckind & 1:
                                passed.append(_EXN_NONNULL)
                            lt = ctrls[-1 - lab][_F_LABEL]
                            if len(passed) != len(lt) or not vals_subtype(passed, lt, canon):
                                raise _type_mismatch(f"label {lab} of {_tlist(lt)}",
                                                     f"a catch passing {_tlist(passed)}")
                    n = len(bp)
                    if n == 0:
                        h = len(vals)
                    else:
                        _pop_vals(vals, height, unreach, bp)
                        h = len(vals)
                        vals.extend(bp)
                        if len(vals) > max_stack:
                            max_stack = len(vals)
                    top = [op, bp, br, h, False, pc, br, len(init_log)]
                    ctrls.append(top)
                    height = h
                    unreach = False
                    block_types[pc] = sig
                    heights[pc] = h
                elif k == K_CATCH or k == K_CATCH_ALL:
                    fop = top[_F_OP]
                    if fop != 0x06 and fop != 0x07:
                        raise _Fail("catch without matching try" if fop != 0x19 else
                                    "catch after catch_all")
                    et = top[_F_END]
                    n = len(et)
                    if not (len(vals) - height == n and (n == 0 or vals[-n:] == et)):
                        found = vals[height:]
                        _pop_vals(vals, height, unreach, et)
                        if len(vals) != height:
                            raise _type_mismatch(et, found)
                    del vals[height:]
                    opener = top[_F_OPENER]
                    if len(init_log) > top[_F_INIT]:
                        _reset_inits(init_log, top[_F_INIT], unset)
                    top = [op, top[_F_START], et, height, False, opener, et, len(init_log)]
                    ctrls[-1] = top
                    unreach = False
                    if k == K_CATCH:
                        vals.extend(tp)
                        if len(vals) > max_stack:
                            max_stack = len(vals)
                    partner[pc] = opener
                    catches.setdefault(opener, []).append(pc)
                elif k == K_DELEGATE:
                    if top[_F_OP] != 0x06:
                        raise _Fail("delegate without matching try")
                    et = top[_F_END]
                    _pop_vals(vals, height, unreach, et)
                    if len(vals) != height:
                        raise _type_mismatch(et, vals[height:] + list(et))
                    vals.extend(et)
                    if len(init_log) > top[_F_INIT]:
                        _reset_inits(init_log, top[_F_INIT], unset)
                    ctrls.pop()
                    if not 0 <= imm < len(ctrls):
                        raise _Fail(f"unknown label {imm}")
                    opener = top[_F_OPENER]
                    partner[opener] = pc
                    partner[pc] = opener
                    top = ctrls[-1]
                    height = top[_F_HEIGHT]
                    unreach = top[_F_UNREACH]
                elif k == K_RETHROW:
                    if not 0 <= imm < len(ctrls):
                        raise _Fail(f"unknown label {imm}")
                    if ctrls[-1 - imm][_F_OP] not in (0x07, 0x19):
                        raise _Fail("invalid rethrow label")
                    del vals[height:]
                    top[_F_UNREACH] = unreach = True
                else:  # pragma: no cover
                    raise _Fail("unknown instruction")
            elif k == K_DISABLED:
                raise _Fail(ent[3])
            else:  # pragma: no cover - every kind is handled above
                raise _Fail("unknown instruction")
    except _Fail as e:
        raise _Fail(e.reason, pc) from None
    except _STRUCTURAL_ERRORS as e:
        e._pc = pc  # type: ignore[union-attr]
        raise

    if ctrls:
        pc = nbody - 1 if nbody else -1
        raise _Fail("unexpected end of function body (missing end)", pc)
    # (a body without blocks or branches, the common case in modules of many small
    # functions, shares one read-only empty mapping: six empty dicts per function
    # would double the memory a module of a million functions takes)
    return FunctionInfo(partner=partner or _EMPTY, else_of=else_of or _EMPTY, max_stack=max_stack,
                        block_types=block_types or _EMPTY, heights=heights or _EMPTY,
                        branch_heights=branch_heights or _EMPTY,
                        catches=catches or _EMPTY)
