"""Run-time helpers the generated code calls (bound into every instance's namespace).

Only rare or bulky operations live here; the hot ones are inlined by the code
generator.
"""
from __future__ import annotations

import struct
import sys
import types
from typing import Any, Callable, Dict, List, Tuple

from ...errors import Trap, WasmException
from ...wasm import bulk
from ...wasm import numerics as num

__all__ = ["BASE_NAMESPACE", "new_namespace"]

#: PyPy's JIT constant-folds global-name reads only in a module's dict (with its
#: cell strategy and version tag); in any other dict each one is a hash lookup at
#: run time (~25x slower for a loop reading a few globals), so there the globals of
#: generated code live in a module dict
_MODULE_DICTS = sys.implementation.name == "pypy"


def new_namespace(items: Any = ()) -> Dict[str, Any]:
    """A fresh globals dict for generated code holding ``items`` (a mapping or
    pairs): a plain dict, or on PyPy a module's dict (see ``_MODULE_DICTS``)."""
    if not _MODULE_DICTS:
        return dict(items)
    ns = types.ModuleType("pywazero_wasm").__dict__
    ns.clear()   # (keeps the module dict's strategy)
    ns.update(items)
    return ns


def _exhausted(d: int = 0) -> None:
    # raised by the frame that would exceed the depth: it does not count as entered
    # (each engine puts its own _exhausted, which also handles the recursion limit,
    # into its modules' namespaces: see CompilerEngine._exhausted)
    t = Trap("call stack exhausted")
    t._not_entered = True  # type: ignore[attr-defined]
    raise t


def _undefined_element() -> None:
    """call_indirect's index is past the end of the table."""
    raise Trap("undefined element")


_oob_mem = bulk.oob_memory
_oob_table = bulk.oob_table


def _tget(elems: List[Any], i: int) -> Any:
    if i >= len(elems):
        raise _oob_table()
    return elems[i]


def _tset(elems: List[Any], i: int, v: Any) -> None:
    if i >= len(elems):
        raise _oob_table()
    elems[i] = v


_S = struct.Struct
_QQ = _S("<QQ")
_uQQ: Callable[[bytearray, int], Tuple[int, int]] = _QQ.unpack_from
_pQQ = _QQ.pack_into
_M64 = 0xFFFFFFFFFFFFFFFF


def _v128_load(m: bytearray, a: int) -> int:
    lo, hi = _uQQ(m, a)
    return lo | (hi << 64)


def _v128_store(m: bytearray, a: int, v: int) -> None:
    _pQQ(m, a, v & _M64, v >> 64)


def _make_extend_load(fmt: str, width: int) -> Any:
    unpack = _S(fmt).unpack_from
    mask = (1 << width) - 1

    def load(m: bytearray, a: int) -> int:
        r = 0
        sh = 0
        for v in unpack(m, a):
            r |= (v & mask) << sh
            sh += width
        return r

    return load

def _throw_ref(exn: Any) -> BaseException:
    """What ``throw_ref`` raises: the exnref's exception itself (a null one traps);
    a fresh traceback each time, so re-throwing in a loop keeps none growing."""
    if exn is None:
        return Trap("null exception reference")
    fresh: BaseException = exn.with_traceback(None)
    return fresh


class TailCall(tuple):  # type: ignore[type-arg]  # (of any values)
    """What the body of a function containing tail calls returns for one:
    ``(callee, args)``, ``callee`` a *tail entry* (the body of a function that may
    itself tail-call, else any callable of the generated calling convention), run
    by the trampoline in place of the returning frame (see ``__init__.py``).  A
    class of its own: a function's results are never one."""

    __slots__ = ()


class _Deleg(Exception):
    """A wasm exception on its way to the handler a legacy ``delegate`` names
    (``target``: the id codegen gave that handler, 0: the function's caller).
    Handlers in between are ``except _WE`` clauses, which let it pass; it never
    leaves the function that raised it (see codegen, legacy exceptions)."""

    def __init__(self, exc: BaseException, target: int) -> None:
        self.exc = exc
        self.target = target


BASE_NAMESPACE: Dict[str, Any] = dict(num.NAMESPACE)
BASE_NAMESPACE.update({
    "__builtins__": __builtins__,
    "Trap": Trap,
    "_WE": WasmException, "_exn": WasmException._raw, "_throw_ref": _throw_ref, "_Deleg": _Deleg,
    "_exhausted": _exhausted, "_undefined_element": _undefined_element,
    "_TC": TailCall,
    "_tget": _tget, "_tset": _tset, "_tfill": bulk.table_fill, "_tcopy": bulk.table_copy,
    "_tinit": bulk.table_init, "_minit": bulk.memory_init, "_mcopy": bulk.memory_copy,
    "_mfill": bulk.memory_fill,
    "_lI": _S("<I").unpack_from, "_lQ": _S("<Q").unpack_from, "_ld": _S("<d").unpack_from,
    "_lb": _S("<b").unpack_from, "_lh": _S("<h").unpack_from, "_lH": _S("<H").unpack_from,
    "_li": _S("<i").unpack_from,
    "_sI": _S("<I").pack_into, "_sQ": _S("<Q").pack_into, "_sd": _S("<d").pack_into,
    "_sH": _S("<H").pack_into, "_lB": _S("<B").unpack_from,
    "_v128_load": _v128_load, "_v128_store": _v128_store,
    "_v128_ext1": _make_extend_load("<8b", 16), "_v128_ext2": _make_extend_load("<8B", 16),
    "_v128_ext3": _make_extend_load("<4h", 32), "_v128_ext4": _make_extend_load("<4H", 32),
    "_v128_ext5": _make_extend_load("<2i", 64), "_v128_ext6": _make_extend_load("<2I", 64),
})
try:
    from .. import simd as _simd
except ImportError:  # pragma: no cover - SIMD functions then run on the interpreter
    pass
else:
    for _k, _v in _simd.NAMESPACE.items():
        BASE_NAMESPACE.setdefault(_k, _v)
