"""Type equivalence and subtyping of WebAssembly 3.0 value types.

Reference types name their heap type by a *module-relative* type index
(``(ref $t)``, see :func:`~pywazero.wasm.types.ref_type`), so two modules may
mean the same function type by different indices, and the same index may mean
different types.  To compare types across modules, every module type is given a
*canonical id* (:func:`canonical_ids`): the same id for structurally equal
types, whatever module they come from.  A *closed* value type or function type
(:func:`closed_valtype`, :func:`closed_functype`) has its type indices replaced
by canonical ids; the store holds closed types (``FunctionInstance.type``,
``GlobalInstance.type``, ``TableInstance.elem_type``), so comparing two of them
is an ``==`` and works across modules.  A type without concrete references is
its own closed form (the same object), so WebAssembly 2.0 types are untouched.

Without GC every type is a function type that is its own recursion group, may
refer to earlier types and to itself, and has no declared supertype; structural
equality is then the spec's type equivalence.  With GC, :func:`canonical_ids`
canonicalises whole recursion groups (iso-recursively) and records each
canonical type's declared supertype chain (:func:`cid_subtype`); a closed type
that is more than its structure is a :class:`CanonFuncType` (equal only to
itself) or a closed StructType/ArrayType known by its id.

>>> from pywazero.wasm.types import FuncType, I32, FUNCREF, ref_type, HT_FUNC
>>> a = [FuncType((I32,), ()), FuncType((ref_type(0),), ())]
>>> b = [FuncType((), ()), FuncType((I32,), ()), FuncType((ref_type(1),), ())]
>>> ca, cb = canonical_ids(a), canonical_ids(b)
>>> ca[1] == cb[2], ca[0] == cb[1], ca[0] == cb[0]
(True, True, False)
>>> val_subtype(ref_type(0, False), FUNCREF, ca)      # (ref $t) <: funcref
True
>>> val_subtype(FUNCREF, ref_type(HT_FUNC, False), ca)
False
"""
from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple, cast

from .types import (
    HT_ANY,
    HT_ARRAY,
    HT_EQ,
    HT_EXN,
    HT_EXTERN,
    HT_FUNC,
    HT_I31,
    HT_NOEXN,
    HT_NOEXTERN,
    HT_NOFUNC,
    HT_NONE,
    HT_STRUCT,
    ArrayType,
    FieldType,
    FuncType,
    StructType,
    comp_storage_types,
    is_ref,
    ref_heap,
    ref_nullable,
    ref_type,
)

__all__ = [
    "RefType", "describe_valtype", "describe_functype", "closed_of", "intern_closed",
    "canonical_ids", "canonical_type", "closed_valtype", "closed_functype",
    "heap_subtype", "val_subtype", "vals_subtype", "has_concrete", "top_heap",
    "bottom_heap", "cid_subtype", "func_subtype", "CanonFuncType", "rec_group_spans",
    "concrete_kind", "supertype_chain", "is_final",
]

_CONCRETE = 0x200

# The canonical type table: key -> id, id -> closed FuncType.  Append-only, shared
# by every runtime (a function reference may travel between modules of one
# runtime, and a key is a pure function of the type's structure); the lock makes
# the id assignment atomic.  Entries are never removed: their number is bounded
# by the distinct function types with concrete references ever compiled.
_LOCK = threading.Lock()
_IDS: Dict[Any, int] = {}
_TYPES: List[Any] = []
# Per canonical id: the chain of declared supertypes from the root down to the
# type itself (casts and declared subtyping look up one position: O(1)), and
# whether the type is final.
_CHAIN: List[Tuple[int, ...]] = []
_FINAL: List[bool] = []


class CanonFuncType(FuncType):
    """The closed form of a function type whose identity is more than its
    structure (it belongs to a recursion group, is not final or has a declared
    supertype): equal only to the closed type of the same canonical id ``cid``."""

    __slots__ = ("cid",)
    cid: int

    def __init__(self, params: Tuple[int, ...], results: Tuple[int, ...], cid: int) -> None:
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "results", results)
        object.__setattr__(self, "cid", cid)

    def __eq__(self, other: object) -> bool:
        return self is other or (type(other) is CanonFuncType and other.cid == self.cid)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(("cid", self.cid))

    def __repr__(self) -> str:
        return f"CanonFuncType({self}, cid={self.cid})"

    def __reduce__(self) -> Any:
        return (CanonFuncType, (self.params, self.results, self.cid))


def has_concrete(ft: Any) -> bool:
    """Whether ``ft`` (a composite type) mentions a concrete reference type
    ``(ref null? $t)``."""
    if type(ft) is not FuncType and not isinstance(ft, FuncType):
        return any(t >= _CONCRETE for t in comp_storage_types(ft))
    for t in ft.params:
        if t >= _CONCRETE:
            return True
    for t in ft.results:
        if t >= _CONCRETE:
            return True
    return False


def rec_group_spans(ntypes: int, rec_groups: Sequence[Tuple[int, int]]) -> List[Tuple[int, int]]:
    """All recursion groups ``(first, count)`` of ``ntypes`` types whose explicit
    groups are ``rec_groups`` (the others are groups of one; empty ones dropped)."""
    out: List[Tuple[int, int]] = []
    i = 0
    for s, c in rec_groups:
        if c <= 0:
            continue
        while i < s:
            out.append((i, 1))
            i += 1
        out.append((s, c))
        i = s + c
    while i < ntypes:
        out.append((i, 1))
        i += 1
    return out


def _map_comp(ct: Any, f: Any) -> Any:
    """``ct`` with every value/storage type mapped by ``f``."""
    if isinstance(ct, FuncType):
        return (tuple(map(f, ct.params)), tuple(map(f, ct.results)))
    if isinstance(ct, StructType):
        return tuple((f(x.storage), x.mutable) for x in ct.fields)
    return (f(ct.field.storage), ct.field.mutable)


def _rebuild(ct: Any, mapped: Any, cid: int, plain: bool) -> Any:
    """The closed composite type of kind ``ct`` from :func:`_map_comp`'s result."""
    if isinstance(ct, FuncType):
        return FuncType(*mapped) if plain else CanonFuncType(mapped[0], mapped[1], cid)
    if isinstance(ct, StructType):
        return StructType(tuple(FieldType(t, m) for t, m in mapped))
    return ArrayType(FieldType(*mapped))


def canonical_ids(types: Sequence[Any], rec_groups: Sequence[Tuple[int, int]] = (),
                  subtypes: Optional[Dict[int, Tuple[bool, Tuple[int, ...]]]] = None) -> List[int]:
    """The canonical id of each of a module's types (indices into the canonical
    table, equal for equivalent types of any module): iso-recursive
    canonicalisation, a recursion group being keyed by its members' structure
    with references inside the group as relative indices and references to
    earlier groups as their canonical ids.  ``types`` must refer only to earlier
    groups and their own (the validator checks this first); a plain function type
    (its own final group, no supertype, no reference to itself) is keyed by its
    closed form, so WebAssembly 2.0 types are keyed by themselves."""
    subs = subtypes or {}
    canon: List[int] = []
    for s, c in rec_group_spans(len(types), rec_groups):
        end = s + c

        def enc(t: int) -> Any:
            if t < _CONCRETE:
                return t
            h = ref_heap(t)
            if s <= h < end:  # noqa: B023 - called within this iteration only
                return ("r", h - s, ref_nullable(t))  # noqa: B023
            return ref_type(canon[h], ref_nullable(t))

        members = []
        for i in range(s, end):
            final, supers = subs.get(i, (True, ()))
            sup = tuple(canon[x] if x < s else ("r", x - s) for x in supers)
            members.append((type(types[i]).__name__, final, sup, _map_comp(types[i], enc)))
        ct0 = types[s]
        plain = (c == 1 and members[0][1] and not members[0][2] and isinstance(ct0, FuncType)
                 and not any(isinstance(e, tuple) for e in members[0][3][0] + members[0][3][1]))
        key: Any
        if plain:
            key = ct0 if not has_concrete(ct0) else FuncType(*members[0][3])
        else:
            key = ("rec", tuple(members))
        base = _IDS.get(key)
        if base is None:
            with _LOCK:
                base = _IDS.get(key)
                if base is None:
                    base = len(_TYPES)

                    def close(e: Any) -> int:
                        return ref_type(base + e[1], e[2]) if isinstance(e, tuple) else e  # noqa: B023 - (idem)

                    for k, (_kind, final, sup, mapped) in enumerate(members):
                        ct = types[s + k]
                        if plain:
                            closed = key
                        elif isinstance(ct, FuncType):
                            closed = _rebuild(ct, (tuple(map(close, mapped[0])),
                                                   tuple(map(close, mapped[1]))), base + k, False)
                        elif isinstance(ct, StructType):
                            closed = _rebuild(ct, tuple((close(t), m) for t, m in mapped), base + k, False)
                        else:
                            closed = _rebuild(ct, (close(mapped[0]), mapped[1]), base + k, False)
                        chain: Tuple[int, ...] = ()
                        if sup:
                            x = sup[0]
                            x = base + x[1] if isinstance(x, tuple) else x
                            if x < len(_CHAIN):
                                chain = _CHAIN[x]
                        _TYPES.append(closed)
                        _CHAIN.append(chain + (base + k,))
                        _FINAL.append(final)
                    _IDS[key] = base
        canon.extend(range(base, base + c))
    return canon


def cid_subtype(a: int, b: int) -> bool:
    """Whether canonical type ``a`` is ``b`` or declares it as a (transitive)
    supertype: one lookup in ``a``'s supertype chain."""
    if a == b:
        return True
    ca = _CHAIN[a]
    d = len(_CHAIN[b])
    return d <= len(ca) and ca[d - 1] == b


def func_subtype(a: FuncType, b: FuncType) -> bool:
    """Whether closed function type ``a`` matches closed function type ``b``
    (``call_indirect``, function imports): equal, or ``a`` declares ``b`` as a
    supertype.  (A plain function type is final: only equality matches it.)"""
    if a == b:
        return True
    return type(a) is CanonFuncType and type(b) is CanonFuncType and cid_subtype(a.cid, b.cid)


def supertype_chain(cid: int) -> Tuple[int, ...]:
    """The declared supertypes of canonical type ``cid``, root first, ending with
    ``cid`` itself."""
    return _CHAIN[cid]


def is_final(cid: int) -> bool:
    """Whether canonical type ``cid`` was declared final (``sub final`` or plain)."""
    return _FINAL[cid]


def canonical_type(cid: int) -> FuncType:
    """The closed function type of canonical id ``cid``."""
    # (a GC type id gives its StructType/ArrayType: callers know which they hold)
    t: FuncType = _TYPES[cid]
    return t


def closed_valtype(t: int, canon: Sequence[int]) -> int:
    """Value type ``t`` of a module whose :func:`canonical_ids` are ``canon``, with
    its type index (if any) replaced by the canonical id."""
    if t < _CONCRETE:
        return t
    return ref_type(canon[ref_heap(t)], ref_nullable(t))


def closed_functype(ft: FuncType, canon: Sequence[int]) -> FuncType:
    """``ft`` with every type index replaced by its canonical id (``ft`` itself
    when it has no concrete references)."""
    if not has_concrete(ft):
        return ft
    return FuncType(tuple(closed_valtype(t, canon) for t in ft.params),
                    tuple(closed_valtype(t, canon) for t in ft.results))


# --- subtyping --------------------------------------------------------------------
# The abstract heap types' hierarchies: each type's top, and the abstract types
# strictly above it.
_TOP = {
    HT_FUNC: HT_FUNC, HT_NOFUNC: HT_FUNC,
    HT_EXTERN: HT_EXTERN, HT_NOEXTERN: HT_EXTERN,
    HT_EXN: HT_EXN, HT_NOEXN: HT_EXN,
    HT_ANY: HT_ANY, HT_EQ: HT_ANY, HT_I31: HT_ANY, HT_STRUCT: HT_ANY, HT_ARRAY: HT_ANY,
    HT_NONE: HT_ANY,
}
_BOTTOM = {HT_FUNC: HT_NOFUNC, HT_EXTERN: HT_NOEXTERN, HT_EXN: HT_NOEXN, HT_ANY: HT_NONE}
_ABOVE = {
    HT_EQ: (HT_ANY,), HT_I31: (HT_EQ, HT_ANY), HT_STRUCT: (HT_EQ, HT_ANY),
    HT_ARRAY: (HT_EQ, HT_ANY),
}


def _kind_top(cid: int) -> int:
    """The abstract heap type just above concrete canonical type ``cid``: func,
    struct or array."""
    t = _TYPES[cid]
    if isinstance(t, FuncType):
        return HT_FUNC
    return HT_STRUCT if isinstance(t, StructType) else HT_ARRAY


def concrete_kind(h: int, canon: Optional[Sequence[int]] = None) -> int:
    """``HT_FUNC``, ``HT_STRUCT`` or ``HT_ARRAY``: the kind of concrete heap type
    ``h`` (a type index mapped through ``canon``, or a canonical id)."""
    return _kind_top(canon[h] if canon is not None else h)


def top_heap(h: int, canon: Optional[Sequence[int]] = None) -> int:
    """The top of ``h``'s hierarchy (func, extern, exn or any); a concrete ``h``
    is a type index mapped through ``canon``, or a canonical id."""
    if h >= 0:
        return HT_FUNC if concrete_kind(h, canon) == HT_FUNC else HT_ANY
    return _TOP[h]


def bottom_heap(h: int, canon: Optional[Sequence[int]] = None) -> int:
    """The bottom of ``h``'s hierarchy (nofunc, noextern, noexn or none)."""
    return _BOTTOM[top_heap(h, canon)]


def heap_subtype(a: int, b: int, canon: Optional[Sequence[int]] = None) -> bool:
    """Whether heap type ``a`` matches heap type ``b``.  Concrete heap types are
    module type indices mapped through ``canon`` (the module's
    :func:`canonical_ids`), or canonical ids already when ``canon`` is None.
    Declared subtyping is one lookup in the supertype chain."""
    if a == b and (a < 0 or canon is None):
        return True
    if a >= 0:
        ca = canon[a] if canon is not None else a
        if b >= 0:
            return cid_subtype(ca, canon[b] if canon is not None else b)
        k = _kind_top(ca)
        return b == k or (k != HT_FUNC and (b == HT_EQ or b == HT_ANY))
    if b >= 0:
        # only the bottom of a hierarchy is below a concrete type
        return a == (HT_NOFUNC if concrete_kind(b, canon) == HT_FUNC else HT_NONE)
    if a == b:
        return True
    if a in _BOTTOM.values():
        return _TOP[a] == _TOP[b]
    return b in _ABOVE.get(a, ())


def val_subtype(a: int, b: int, canon: Optional[Sequence[int]] = None) -> bool:
    """Whether value type ``a`` matches value type ``b`` (``canon`` as for
    :func:`heap_subtype`).  The validator's unknown type (0) matches anything."""
    if a == b:
        return True
    if a == 0 or b == 0:
        return True
    if not (is_ref(a) and is_ref(b)):
        return False
    if ref_nullable(a) and not ref_nullable(b):
        return False
    return heap_subtype(ref_heap(a), ref_heap(b), canon)


def vals_subtype(a: Sequence[int], b: Sequence[int], canon: Optional[Sequence[int]] = None) -> bool:
    """Whether the result types ``a`` match ``b`` element by element."""
    return len(a) == len(b) and all(val_subtype(x, y, canon) for x, y in zip(a, b))


def types_equivalent(a: int, b: int, canon: Optional[Sequence[int]] = None) -> bool:
    """Whether two value types are equivalent (mutable globals, tables)."""
    if a == b:
        return True
    if not (is_ref(a) and is_ref(b)) or ref_nullable(a) != ref_nullable(b):
        return False
    ha, hb = ref_heap(a), ref_heap(b)
    if ha >= 0 and hb >= 0:
        if canon is not None:
            return canon[ha] == canon[hb]
        return ha == hb
    return False


def closed_tuple(ts: Tuple[int, ...], canon: Sequence[int]) -> Tuple[int, ...]:
    """A tuple of value types, closed (see :func:`closed_valtype`)."""
    return tuple(closed_valtype(t, canon) for t in ts)


def intern_closed(ft: FuncType) -> int:
    """The canonical id of a closed function type that refers to no recursion
    group of its own (one built from closed types, e.g. at the host API)."""
    key = FuncType(tuple(ft.params), tuple(ft.results))
    cid = _IDS.get(key)
    if cid is None:
        with _LOCK:
            cid = _IDS.get(key)
            if cid is None:
                cid = len(_TYPES)
                _TYPES.append(key)
                _CHAIN.append((cid,))
                _FINAL.append(True)
                _IDS[key] = cid
    return cid


# --- descriptions (the API's view of types) -----------------------------------------
_ABBREV = {
    HT_FUNC: "funcref", HT_EXTERN: "externref", HT_EXN: "exnref", HT_ANY: "anyref",
    HT_EQ: "eqref", HT_I31: "i31ref", HT_STRUCT: "structref", HT_ARRAY: "arrayref",
    HT_NOFUNC: "nullfuncref", HT_NOEXTERN: "nullexternref", HT_NOEXN: "nullexnref",
    HT_NONE: "nullref",
}


class RefType(int):
    """A reference type as the API describes it: still the value type int the rest
    of pywazero uses (``RefType`` of ``funcref`` ``== pywazero.FUNCREF``), with its
    nullability and heap type spelled out.  ``heap`` is the name of an abstract heap
    type (``"func"``, ``"extern"``, ...) or, for ``(ref $t)``, the referenced
    :class:`~pywazero.FuncType` (described the same way).

    >>> from pywazero.wasm.types import FUNCREF, FuncType, I32
    >>> t = RefType.of("func")
    >>> t == FUNCREF, str(t), t.nullable
    (True, '(ref null func)', True)
    >>> str(RefType.of(FuncType((I32,), ()), nullable=False))
    '(ref (func (param i32)))'

    Two concrete reference types are equal when their function types are
    equivalent, whatever module they come from.
    """

    nullable: bool
    _heap: int       # abstract heap type (negative) or canonical id

    @classmethod
    def of(cls, heap: Any, nullable: bool = True) -> "RefType":
        """``(ref null? heap)``: ``heap`` is a heap type name (``"func"``) or a
        FuncType (whose value types may be RefTypes)."""
        from .types import HEAP_TYPE_BY_NAME

        if isinstance(heap, str):
            h = HEAP_TYPE_BY_NAME.get(heap)
            if h is None:
                raise ValueError(f"unknown heap type {heap!r}")
            return cls._make(ref_type(h, nullable), h)
        if isinstance(heap, FuncType):
            cid = intern_closed(FuncType(tuple(closed_of(t) for t in heap.params),
                                         tuple(closed_of(t) for t in heap.results)))
            return cls._make(ref_type(cid, nullable), cid)
        raise TypeError("heap type must be a name such as 'func' or a FuncType")

    @classmethod
    def _make(cls, code: int, heap: int) -> "RefType":
        obj = int.__new__(cls, code)
        obj.nullable = ref_nullable(code)
        obj._heap = heap
        return obj

    @property
    def heap(self) -> Any:
        """``"func"``, ``"extern"``, ... or the referenced FuncType."""
        from .types import HEAP_TYPE_NAMES

        if self._heap < 0:
            return HEAP_TYPE_NAMES[self._heap]
        ct = _TYPES[self._heap]
        return describe_functype(ct) if isinstance(ct, FuncType) else ct

    @property
    def closed(self) -> int:
        """The value type with a canonical id for its type index (the store's form)."""
        return ref_type(self._heap, self.nullable)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RefType):
            return self.nullable == other.nullable and self._heap == other._heap
        return int.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash((self.nullable, self._heap)) if self._heap >= 0 else int.__hash__(self)

    def __str__(self) -> str:
        return self._text(4)

    def _text(self, depth: int) -> str:
        null = "null " if self.nullable else ""
        if self._heap < 0:
            from .types import HEAP_TYPE_NAMES

            return f"(ref {null}{HEAP_TYPE_NAMES[self._heap]})"
        if depth <= 0:
            ct = _TYPES[self._heap]
            kind = "func" if isinstance(ct, FuncType) else "struct" if isinstance(ct, StructType) else "array"
            return f"(ref {null}({kind} ...))"
        ft = _TYPES[self._heap]
        if not isinstance(ft, FuncType):
            def field(f: Any) -> str:
                t = {0x78: "i8", 0x77: "i16"}.get(f.storage) or _vt_text(f.storage, depth - 1)
                return f"(mut {t})" if f.mutable else t
            if isinstance(ft, StructType):
                body = "struct" + "".join(f" (field {field(f)})" for f in ft.fields)
            else:
                body = f"array {field(ft.field)}"
            return f"(ref {null}({body}))"
        parts = ["func"]
        if ft.params:
            parts.append("(param " + " ".join(_vt_text(t, depth - 1) for t in ft.params) + ")")
        if ft.results:
            parts.append("(result " + " ".join(_vt_text(t, depth - 1) for t in ft.results) + ")")
        return f"(ref {null}({' '.join(parts)}))"

    def __repr__(self) -> str:
        return f"RefType({self})"

    def __reduce__(self) -> Any:
        return (int, (int(self),))


def _vt_text(t: int, depth: int) -> str:
    from .types import valtype_name

    if is_ref(t) and t > 0:
        return cast(RefType, describe_valtype(t))._text(depth)
    return valtype_name(t)


def closed_of(t: int) -> int:
    """A value type given at the API (an int or a RefType) in the store's form."""
    if isinstance(t, RefType):
        return t.closed
    return int(t)


def describe_valtype(t: int, canon: Optional[Sequence[int]] = None) -> int:
    """``t`` for the API: a :class:`RefType` for a reference type, else ``t``.
    ``canon`` maps type indices to canonical ids (a module's types); without it
    ``t`` is closed (the store's form)."""
    if isinstance(t, RefType) or not is_ref(t) or t <= 0:
        return t
    h = ref_heap(t)
    if h >= 0 and canon is not None:
        h = canon[h]
    return RefType._make(int(t), h)


def describe_functype(ft: FuncType, canon: Optional[Sequence[int]] = None) -> FuncType:
    """``ft`` with its reference types described (see :func:`describe_valtype`)."""
    if not isinstance(ft, FuncType) or not any(is_ref(t) and t > 0 for t in ft.params + ft.results):
        return ft
    return FuncType(tuple(describe_valtype(t, canon) for t in ft.params),
                    tuple(describe_valtype(t, canon) for t in ft.results))
