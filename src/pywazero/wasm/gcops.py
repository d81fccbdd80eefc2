"""GC instructions' run-time semantics, shared by the engines and constant
expressions: struct and array operations, i31, casts, ``ref.eq`` and the
any/extern conversions, on the store values of :mod:`pywazero.wasm.gcref`.

Immediates are resolved once per module (:func:`lookup`): type indices become
canonical ids, struct/array layouts tuples of packing masks, a cast target a
test function, so an instruction costs a few list operations and no type walk.
A cast is O(1): one lookup in the value's supertype chain
(:func:`pywazero.wasm.subtyping.supertype_chain`).

Handlers follow the interpreter's ``fn(S, inst, a, b)`` convention (``S`` the
operand stack, ``inst`` the module instance).
"""
from __future__ import annotations

import struct as _struct
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence, Tuple

from ..errors import Trap
from . import opcodes as ops
from .gcref import Array, I31, Struct, externalize, internalize
from .subtyping import (
    canonical_type, concrete_kind, func_subtype, supertype_chain,
)
from .types import (
    F32, F64, HT_ANY, HT_ARRAY, HT_EQ, HT_EXN, HT_EXTERN, HT_FUNC, HT_I31, HT_STRUCT, I8, I16,
    I32, I64, V128, ref_heap, ref_nullable,
)
from . import numerics as num

if TYPE_CHECKING:
    from .types import FieldType

__all__ = ["lookup", "make_test", "const_op", "default_of"]

_M32 = 0xFFFFFFFF
_MASK = {I8: 0xFF, I16: 0xFFFF}
MASKS = _MASK
"""The packing mask of each packed storage type (the compiler inlines them)."""


def default_of(storage: int) -> Any:
    """The default value of a field or element of type ``storage``."""
    if storage == F32 or storage == F64:
        return 0.0
    if storage in (I32, I64, V128, I8, I16):
        return 0
    return None


def _null(what: str) -> Trap:
    return Trap(f"null {what} reference")


def _oob_array() -> Trap:
    return Trap("out of bounds array access")


# --- casts ----------------------------------------------------------------------------
_GC_EQ = (Struct, Array, I31)


def make_test(t: int) -> Callable[[Any], bool]:
    """The run-time test of closed reference type ``t`` (heap type an abstract
    one or a canonical id): ``test(v)`` says whether value ``v`` has type ``t``."""
    ht = ref_heap(t)
    nullable = ref_nullable(t)
    if ht >= 0:
        kind = concrete_kind(ht)
        if kind == HT_FUNC:
            want = canonical_type(ht)

            def test(v: Any) -> bool:
                if v is None:
                    return nullable
                ft = getattr(v, "type", None)
                return ft is not None and (ft == want or func_subtype(ft, want))
            return test
        cls = Struct if kind == HT_STRUCT else Array
        depth = len(supertype_chain(ht))

        def test(v: Any) -> bool:
            if v is None:
                return nullable
            if v.__class__ is not cls:
                return False
            vt = v.t
            if vt == ht:
                return True
            chain = supertype_chain(vt)
            return len(chain) >= depth and chain[depth - 1] == ht
        return test
    if ht in (HT_ANY, HT_FUNC, HT_EXTERN, HT_EXN):
        return (lambda v: True) if nullable else (lambda v: v is not None)
    if ht == HT_EQ:
        return lambda v: (v is None and nullable) or v.__class__ in _GC_EQ
    if ht == HT_I31:
        return lambda v: (v is None and nullable) or v.__class__ is I31
    if ht == HT_STRUCT:
        return lambda v: (v is None and nullable) or v.__class__ is Struct
    if ht == HT_ARRAY:
        return lambda v: (v is None and nullable) or v.__class__ is Array
    # none, nofunc, noextern, noexn: only null
    return lambda v: v is None and nullable


# --- handlers -------------------------------------------------------------------------

def _masks(fields: Sequence[FieldType]) -> Optional[Tuple[int, ...]]:
    """Per field, the packing mask (0: not packed); None when nothing is packed."""
    m = tuple(_MASK.get(f.storage, 0) for f in fields)
    return m if any(m) else None


def struct_new(S: List[Any], inst: Any, t: int, b: Any) -> None:
    n, masks = b
    if n:
        vals = S[-n:]
        del S[-n:]
        if masks is not None:
            vals = [v & m if m else v for v, m in zip(vals, masks)]
    else:
        vals = []
    S.append(Struct(t, vals))


def struct_new_default(S: List[Any], inst: Any, t: int, defaults: Tuple[Any, ...]) -> None:
    S.append(Struct(t, list(defaults)))


def struct_get(S: List[Any], inst: Any, y: int, b: Any) -> None:
    s = S[-1]
    if s is None:
        raise _null("structure")
    S[-1] = s.f[y]


def struct_get_s(S: List[Any], inst: Any, y: int, bits: int) -> None:
    s = S[-1]
    if s is None:
        raise _null("structure")
    v = s.f[y]
    S[-1] = (v - (1 << bits) if v >> (bits - 1) else v) & _M32


def struct_set(S: List[Any], inst: Any, y: int, mask: int) -> None:
    v = S.pop()
    s = S.pop()
    if s is None:
        raise _null("structure")
    s.f[y] = v & mask if mask else v


def _alloc(n: int) -> None:
    # (a length beyond what any memory holds: a trap, never a MemoryError)
    if n > 0x7FFFFFF:
        raise Trap("out of memory: array too large for pywazero")


def array_new(S: List[Any], inst: Any, t: int, mask: int) -> None:
    n = S.pop()
    v = S[-1]
    _alloc(n)
    S[-1] = Array(t, [v & mask if mask else v] * n)


def array_new_default(S: List[Any], inst: Any, t: int, d: Any) -> None:
    n = S[-1]
    _alloc(n)
    S[-1] = Array(t, [d] * n)


def array_new_fixed(S: List[Any], inst: Any, t: int, b: Any) -> None:
    n, mask = b
    if n:
        vals = S[-n:]
        del S[-n:]
        if mask:
            vals = [v & mask for v in vals]
    else:
        vals = []
    S.append(Array(t, vals))


_UNPACK = {I8: ("B", 1), I16: ("H", 2), I32: ("I", 4), I64: ("Q", 8), F32: ("I", 4), F64: ("Q", 8)}


def _read_data(data: bytes, storage: int, s: int, n: int) -> List[Any]:
    """``n`` elements of type ``storage`` from ``data`` at byte ``s`` (checked)."""
    if storage == V128:
        size = 16
    else:
        code, size = _UNPACK[storage]
    if s + n * size > len(data):
        raise Trap("out of bounds memory access")
    if storage == V128:
        return [int.from_bytes(data[s + 16 * k:s + 16 * k + 16], "little") for k in range(n)]
    vals = list(_struct.unpack_from("<%d%s" % (n, code), data, s))
    if storage == F32:
        vals = [num.f32_from_bits(v) for v in vals]
    elif storage == F64:
        vals = [num.f64_from_bits(v) for v in vals]
    return vals


def array_new_data(S: List[Any], inst: Any, t: int, b: Any) -> None:
    y, storage = b
    n = S.pop()
    s = S[-1]
    S[-1] = Array(t, _read_data(inst.datas[y], storage, s, n))


def array_new_elem(S: List[Any], inst: Any, t: int, y: int) -> None:
    n = S.pop()
    s = S[-1]
    elems = inst.elems[y]
    if s + n > len(elems):
        raise Trap("out of bounds table access")
    S[-1] = Array(t, elems[s:s + n])


def array_get(S: List[Any], inst: Any, a: Any, b: Any) -> None:
    i = S.pop()
    arr = S[-1]
    if arr is None:
        raise _null("array")
    a_ = arr.a
    if i >= len(a_):
        raise _oob_array()
    S[-1] = a_[i]


def array_get_s(S: List[Any], inst: Any, bits: int, b: Any) -> None:
    array_get(S, inst, None, None)
    v = S[-1]
    S[-1] = (v - (1 << bits) if v >> (bits - 1) else v) & _M32


def array_set(S: List[Any], inst: Any, mask: int, b: Any) -> None:
    v = S.pop()
    i = S.pop()
    arr = S.pop()
    if arr is None:
        raise _null("array")
    a_ = arr.a
    if i >= len(a_):
        raise _oob_array()
    a_[i] = v & mask if mask else v


def array_len(S: List[Any], inst: Any, a: Any, b: Any) -> None:
    arr = S[-1]
    if arr is None:
        raise _null("array")
    S[-1] = len(arr.a)


def array_fill(S: List[Any], inst: Any, mask: int, b: Any) -> None:
    n = S.pop()
    v = S.pop()
    d = S.pop()
    arr = S.pop()
    if arr is None:
        raise _null("array")
    a_ = arr.a
    if d + n > len(a_):
        raise _oob_array()
    if n:
        a_[d:d + n] = [v & mask if mask else v] * n


def array_copy(S: List[Any], inst: Any, a: Any, b: Any) -> None:
    n = S.pop()
    s = S.pop()
    src = S.pop()
    d = S.pop()
    dst = S.pop()
    if dst is None or src is None:
        raise _null("array")
    if d + n > len(dst.a) or s + n > len(src.a):
        raise _oob_array()
    if n:
        dst.a[d:d + n] = src.a[s:s + n]


def _pop_array_init(S: List[Any]) -> Tuple[Any, int, int, int]:
    """Pop ``array.init_*``'s operands: the array (not null) and d, s, n, with
    ``d + n`` checked against the array's length."""
    n = S.pop()
    s = S.pop()
    d = S.pop()
    arr = S.pop()
    if arr is None:
        raise _null("array")
    if d + n > len(arr.a):
        raise _oob_array()
    return arr, d, s, n


def array_init_data(S: List[Any], inst: Any, y: int, storage: int) -> None:
    arr, d, s, n = _pop_array_init(S)
    vals = _read_data(inst.datas[y], storage, s, n)
    if n:
        arr.a[d:d + n] = vals


def array_init_elem(S: List[Any], inst: Any, y: int, b: Any) -> None:
    arr, d, s, n = _pop_array_init(S)
    elems = inst.elems[y]
    if s + n > len(elems):
        raise Trap("out of bounds table access")
    if n:
        arr.a[d:d + n] = elems[s:s + n]


def ref_test(S: List[Any], inst: Any, test: Callable[[Any], bool], b: Any) -> None:
    S[-1] = 1 if test(S[-1]) else 0


def ref_cast(S: List[Any], inst: Any, test: Callable[[Any], bool], b: Any) -> None:
    if not test(S[-1]):
        raise Trap("cast failure")


def br_on_cast_test(S: List[Any], inst: Any, test: Callable[[Any], bool], fail: bool) -> None:
    """Before br_on_cast(_fail)'s conditional branch: the reference stays, the
    branch condition is pushed."""
    S.append(1 if test(S[-1]) != fail else 0)


def ref_eq(S: List[Any], inst: Any, a: Any, b: Any) -> None:
    y = S.pop()
    x = S[-1]
    S[-1] = 1 if x is y or (x.__class__ is I31 and x == y) else 0


def any_convert_extern(S: List[Any], inst: Any, a: Any, b: Any) -> None:
    S[-1] = internalize(S[-1])


def extern_convert_any(S: List[Any], inst: Any, a: Any, b: Any) -> None:
    S[-1] = externalize(S[-1])


def ref_i31(S: List[Any], inst: Any, a: Any, b: Any) -> None:
    S[-1] = I31.wrap(S[-1])


def i31_get(S: List[Any], inst: Any, signed: bool, b: Any) -> None:
    v = S[-1]
    if v is None:
        raise _null("i31")
    S[-1] = v.value & _M32 if signed else v.value & 0x7FFFFFFF


def lookup(op: int, imm: Any, module: Any) -> Tuple[Callable[..., Any], Any, Any]:
    """``(handler, a, b)`` for GC instruction ``(op, imm)`` of ``module`` (valid)."""
    canon = module.canonical_ids()
    types = module.types
    if op == 0xD3:
        return ref_eq, None, None
    sub = op & 0xFFFF
    if sub <= 1:
        st = types[imm]
        if sub == 0:
            return struct_new, canon[imm], (len(st.fields), _masks(st.fields))
        return struct_new_default, canon[imm], tuple(default_of(f.storage) for f in st.fields)
    if sub <= 5:
        x, y = imm
        f = types[x].fields[y]
        if sub == 2 or sub == 4:
            return struct_get, y, None
        if sub == 3:
            return struct_get_s, y, 8 if f.storage == I8 else 16
        return struct_set, y, _MASK.get(f.storage, 0)
    if sub <= 10:
        x = imm if sub <= 7 else imm[0]
        storage = types[x].field.storage
        t = canon[x]
        if sub == 6:
            return array_new, t, _MASK.get(storage, 0)
        if sub == 7:
            return array_new_default, t, default_of(storage)
        if sub == 8:
            return array_new_fixed, t, (imm[1], _MASK.get(storage, 0))
        if sub == 9:
            return array_new_data, t, (imm[1], storage)
        return array_new_elem, t, imm[1]
    if sub <= 14:
        storage = types[imm].field.storage
        if sub == 11 or sub == 13:
            return array_get, None, None
        if sub == 12:
            return array_get_s, 8 if storage == I8 else 16, None
        return array_set, _MASK.get(storage, 0), None
    if sub == 15:
        return array_len, None, None
    if sub == 16:
        return array_fill, _MASK.get(types[imm].field.storage, 0), None
    if sub == 17:
        return array_copy, None, None
    if sub == 18:
        return array_init_data, imm[1], types[imm[0]].field.storage
    if sub == 19:
        return array_init_elem, imm[1], None
    if sub <= 23:
        test = make_test(closed_ref(imm, canon))
        return (ref_test if sub <= 21 else ref_cast), test, None
    if sub <= 25:
        _label, _t1, t2 = imm
        return br_on_cast_test, make_test(closed_ref(t2, canon)), sub == 25
    if sub == 26:
        return any_convert_extern, None, None
    if sub == 27:
        return extern_convert_any, None, None
    if sub == 28:
        return ref_i31, None, None
    if sub == 29 or sub == 30:
        return i31_get, sub == 29, None
    raise ValueError(f"not a GC instruction: {ops.op_name(op)}")  # pragma: no cover


# operands consumed and produced, by 0xFB sub-opcode (struct.new and
# array.new_fixed: see arity)
_ARITY = {1: (0, 1), 2: (1, 1), 3: (1, 1), 4: (1, 1), 5: (2, 0), 6: (2, 1), 7: (1, 1),
          9: (2, 1), 10: (2, 1), 11: (2, 1), 12: (2, 1), 13: (2, 1), 14: (3, 0), 15: (1, 1),
          16: (4, 0), 17: (5, 0), 18: (4, 0), 19: (4, 0), 20: (1, 1), 21: (1, 1), 22: (1, 1),
          23: (1, 1), 26: (1, 1), 27: (1, 1), 28: (1, 1), 29: (1, 1), 30: (1, 1)}


def arity(op: int, imm: Any, module: Any = None) -> Tuple[int, int]:
    """``(operands consumed, results)`` of GC instruction ``(op, imm)`` (not
    br_on_cast)."""
    if op == 0xD3:
        return 2, 1
    sub = op & 0xFFFF
    if sub == 0:
        return len(module.types[imm].fields), 1
    if sub == 8:
        return imm[1], 1
    return _ARITY[sub]


class _Segments:
    """What the handlers read of an instance: its data and element segments."""

    __slots__ = ("datas", "elems")

    def __init__(self, datas: Any, elems: Any) -> None:
        self.datas = datas
        self.elems = elems


def call_of(op: int, imm: Any, module: Any) -> Callable[..., Any]:
    """A function ``f(datas, elems, *operands) -> result`` (None without one)
    running GC instruction ``(op, imm)`` of ``module``: the compiler's way to the
    handlers."""
    fn, a, b = lookup(op, imm, module)
    nout = arity(op, imm, module)[1]

    def call(datas: Any, elems: Any, *args: Any) -> Any:
        S = list(args)
        fn(S, _Segments(datas, elems), a, b)
        return S[-1] if nout else None
    return call


def closed_ref(t: int, canon: Any) -> int:
    """Reference type ``t`` of a module with its type index as a canonical id."""
    from .subtyping import closed_valtype

    return closed_valtype(t, canon)


def const_op(op: int, imm: Any, stack: List[Any], inst: Any) -> None:
    """Evaluate GC constant instruction ``(op, imm)`` on ``stack`` (instantiation:
    global, table and element initialisers of ``inst``)."""
    fn, a, b = lookup(op, imm, inst.module)
    fn(stack, inst, a, b)
