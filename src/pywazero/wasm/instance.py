"""Runtime objects of the store: memories, tables, globals, functions and module
instances.

These are engine-independent.  Values follow the project-wide representation:
i32/i64 are ints holding the unsigned bit pattern, f32/f64 Python floats (f32
values exactly representable in single precision), v128 an unsigned 128-bit int,
``None`` the null reference, a funcref the :class:`FunctionInstance` itself and an
externref any Python object.

Nothing here holds a lock: an instance is meant to be used by one thread at a time,
while separate instances may run in parallel.
"""
from __future__ import annotations

import struct
import sys
from itertools import repeat
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence

from ..errors import ResourceLimitError
from .budget import DEFAULT_TABLE_ELEMENTS_LIMIT, MEMORIES, MEMORY_BYTES, TABLE_ELEMENTS, TABLES
from .types import (
    EXTERN_FUNC,
    EXTERN_GLOBAL,
    EXTERN_TAG,
    EXTERN_MEMORY,
    EXTERN_TABLE,
    I32,
    I64,
    MAX_PAGES,
    MAX_PAGES64,
    PAGE_SIZE,
    FuncType,
    GlobalType,
    Limits,
    MemoryType,
    TableType,
)

__all__ = [
    "MemoryInstance",
    "TableInstance",
    "GlobalInstance",
    "TagInstance",
    "FunctionInstance",
    "WasmFunctionInstance",
    "HostFunctionInstance",
    "ModuleInstance",
    "default_value",
]

MAX_TABLE_SIZE = 0xFFFFFFFF
# A table never holds more than this many entries (a larger declared minimum is
# refused at instantiation, growing past it returns -1), whatever its declared
# maximum, unless RuntimeConfig.max_table_elements says otherwise: a list of
# billions of references would exhaust the host's memory.
TABLE_GROW_LIMIT = DEFAULT_TABLE_ELEMENTS_LIMIT


def default_value(t: int) -> Any:
    """The zero value of a value type: 0, 0.0 or None (null reference)."""
    if t == 0x7D or t == 0x7C:
        return 0.0
    if t < 0x7B or t >= 0x100:
        return None   # any reference type (the unknown type 0 never gets here)
    return 0


class MemoryInstance:
    """A linear memory: ``data`` is a bytearray whose length is always a multiple of
    the page size.  It is grown in place, so holding a reference to ``data`` stays
    valid after ``grow``.

    ``limit_pages`` is the effective maximum: the declared maximum (else 65536
    pages, or 2^48 for a 64-bit memory) capped by the runtime's
    ``memory_limit_pages``.  ``address_type`` is ``I32`` or ``I64`` (memory64).  ``budget`` is the runtime's
    :class:`~pywazero.wasm.budget.ResourceBudget` (None: no budget), charged for the
    memory and its bytes here and on every grow.  A memory the budget or the host
    cannot give raises :class:`~pywazero.ResourceLimitError`.
    """

    __slots__ = ("data", "declared_max", "limit_pages", "budget", "_charge", "address_type",
                 "_views", "owner", "__weakref__")

    def __init__(self, mem_type: MemoryType, limit_pages: int = MAX_PAGES, budget: Any = None) -> None:
        self._views: Optional[Dict[str, List[Any]]] = None
        lim = mem_type.limits
        if lim.min > limit_pages:
            raise ValueError(
                f"memory minimum of {lim.min} pages exceeds the limit of {limit_pages} pages"
            )
        self.declared_max: Optional[int] = lim.max
        self.address_type: int = getattr(mem_type, "address_type", I32)
        if lim.max is not None:
            cap = lim.max
        else:
            cap = MAX_PAGES64 if self.address_type == I64 else MAX_PAGES
        self.limit_pages = min(cap, limit_pages)
        self.budget = budget
        self.owner: Any = None   # (see ModuleInstance.owner)
        self._charge: Optional[List[int]] = None
        nbytes = lim.min * PAGE_SIZE
        if budget is not None:
            want = [(MEMORIES, 1), (MEMORY_BYTES, nbytes)]
            budget.reserve(want, f"a memory of {lim.min} pages")
        try:
            self.data = _zeroed(nbytes)
        except MemoryError:
            if budget is not None:
                budget.refund(want)
            raise ResourceLimitError("host memory", nbytes, None,
                                     f"a memory of {lim.min} pages ({nbytes} bytes)") from None
        if budget is not None:
            budget.adopt(self, MEMORIES, 1)
            self._charge = budget.adopt(self, MEMORY_BYTES, nbytes)

    @property
    def pages(self) -> int:
        return len(self.data) // PAGE_SIZE

    def views(self, fmt: str) -> List[Any]:
        """Typed views of ``data`` for an engine's loads and stores: for the
        ``struct`` format ``fmt`` of size ``n`` (native byte order: only for
        little-endian hosts), the list of ``n`` memoryviews ``v[k]`` cast to ``fmt``
        over the bytes from ``k`` on, so that the value at address ``a`` is
        ``v[a % n][a // n]``, and an access past the end raises IndexError.  The list
        is made on the first request and stays the same object: :meth:`grow`
        releases its views (a bytearray with views cannot be resized) and puts new
        ones in place, so code holding the list sees the grown memory at once.
        Views never leave the engines."""
        views = self._views
        if views is None:
            views = self._views = {}
        lst = views.get(fmt)
        if lst is None:
            lst = views[fmt] = _make_views(self.data, fmt)
        return lst

    @property
    def type(self) -> MemoryType:
        """The memory's current type (its current size as the minimum)."""
        return MemoryType(Limits(self.pages, self.declared_max), self.address_type)

    def grow(self, delta: int) -> int:
        """Grow by ``delta`` pages; return the old page count, or -1 on failure."""
        old = len(self.data) // PAGE_SIZE
        if delta < 0:
            return -1
        new = old + delta
        if new > self.limit_pages:
            return -1
        if delta:
            budget = self.budget
            nbytes = delta * PAGE_SIZE
            if budget is not None and not budget.try_grow(self._charge, MEMORY_BYTES, nbytes):
                return -1
            views = self._views
            if views:
                for lst in views.values():
                    for v in lst:
                        v.release()
            try:
                self.data.extend(bytes(nbytes))
            except (MemoryError, OverflowError):
                if budget is not None:
                    budget.undo_grow(self._charge, MEMORY_BYTES, nbytes)
                return -1
            finally:
                if views:
                    for fmt, lst in views.items():
                        lst[:] = _make_views(self.data, fmt)
        return old


if sys.implementation.name == "pypy":
    def _zeroed(n: int) -> bytearray:
        """``n`` zero bytes.  PyPy's ``bytearray(n)`` holds a second copy of them
        while it is made (a 1 GiB memory needs 2 GiB of address space); repeating one
        byte does not."""
        return bytearray(b"\0") * n
else:
    _zeroed = bytearray  # type: ignore[assignment]  # (called as bytearray(n): the same signature)


def _make_views(data: bytearray, fmt: str) -> List[Any]:
    """MemoryInstance.views: the ``n`` views of ``data`` cast to ``fmt`` (size ``n``)
    starting at bytes ``0 .. n-1``, each as long as whole items fit."""
    base = memoryview(data)
    n = struct.calcsize(fmt)
    size = len(data)
    out = [base[k:k + (size - k) // n * n].cast(fmt) for k in range(n)]  # type: ignore[call-overload]
    base.release()
    return out


class TableInstance:
    """A table: ``elements`` is a list of references (None for null).

    ``limit`` is the most entries it may hold: its declared maximum capped by
    :data:`TABLE_GROW_LIMIT`, or by ``max_table_elements`` of the runtime's
    ``budget`` (a :class:`~pywazero.wasm.budget.ResourceBudget`, None: no budget),
    which is also charged for the table and its elements.  A declared minimum above
    that cap, or that the budget or the host cannot give, raises
    :class:`~pywazero.ResourceLimitError`.
    """

    __slots__ = ("elements", "elem_type", "max", "limit", "budget", "_charge", "address_type",
                 "owner", "__weakref__")

    def __init__(self, table_type: TableType, init: Any = None, budget: Any = None) -> None:
        self.elem_type = table_type.elem_type
        self.address_type: int = getattr(table_type, "address_type", I32)
        self.max: Optional[int] = table_type.limits.max
        n = table_type.limits.min
        per_table = TABLE_GROW_LIMIT if budget is None else budget.table_cap
        self.limit = min(MAX_TABLE_SIZE if self.max is None else self.max, per_table)
        self.budget = budget
        self.owner: Any = None   # (see ModuleInstance.owner)
        self._charge: Optional[List[int]] = None
        if n > per_table:
            raise ResourceLimitError(TABLE_ELEMENTS, n, per_table,
                                     f"a table of {n} elements (the most one table may hold)")
        if budget is not None:
            want = [(TABLES, 1), (TABLE_ELEMENTS, n)]
            budget.reserve(want, f"a table of {n} elements")
        try:
            self.elements: List[Any] = [init] * n
        except MemoryError:
            if budget is not None:
                budget.refund(want)
            raise ResourceLimitError("host memory", n, None, f"a table of {n} elements") from None
        if budget is not None:
            budget.adopt(self, TABLES, 1)
            self._charge = budget.adopt(self, TABLE_ELEMENTS, n)

    @property
    def size(self) -> int:
        return len(self.elements)

    @property
    def type(self) -> TableType:
        return TableType(self.elem_type, Limits(len(self.elements), self.max), self.address_type)

    def grow(self, delta: int, init: Any = None) -> int:
        """Grow by ``delta`` entries set to ``init``; return the old size or -1."""
        old = len(self.elements)
        if delta < 0 or old + delta > self.limit:
            return -1
        if delta:
            budget = self.budget
            if budget is not None and not budget.try_grow(self._charge, TABLE_ELEMENTS, delta):
                return -1
            try:
                self.elements.extend([init] * delta)
            except (MemoryError, OverflowError):
                if budget is not None:
                    budget.undo_grow(self._charge, TABLE_ELEMENTS, delta)
                return -1
        return old


class GlobalInstance:
    """A global variable; ``value`` uses the internal representation."""

    __slots__ = ("type", "value", "owner", "__weakref__")

    def __init__(self, global_type: GlobalType, value: Any) -> None:
        self.type = global_type
        self.value = value
        self.owner: Any = None   # (see ModuleInstance.owner)


class TagInstance:
    """A tag (exception handling): ``type`` is the :class:`FuncType` whose params
    are the payload of the exceptions it tags.  A tag *is* its identity: every
    instantiation of a module defining a tag makes a new one; an imported (or
    re-exported) tag is the same object."""

    __slots__ = ("type", "name", "api", "owner", "__weakref__")

    def __init__(self, tag_type: FuncType, name: str = "tag") -> None:
        self.type = tag_type
        self.name = name
        self.api: Any = None   # the pywazero.Tag facade, made on first use
        self.owner: Any = None   # (see ModuleInstance.owner)

    def __repr__(self) -> str:
        return f"<TagInstance {self.name} {self.type}>"


class FunctionInstance:
    """Base class of functions in the store.  ``type`` is the :class:`FuncType`.

    ``call(args)`` takes and returns lists of raw values (internal representation);
    it is the engine-neutral way to invoke any function.
    """

    __slots__ = ("type", "__weakref__")

    type: FuncType

    if TYPE_CHECKING:
        @property
        def name(self) -> str: ...   # (an attribute or a property in subclasses)

    def call(self, args: Sequence[Any]) -> List[Any]:  # pragma: no cover - abstract
        raise NotImplementedError


class WasmFunctionInstance(FunctionInstance):
    """A function defined by a module: its ``module`` (ModuleInstance), its ``index``
    in that module's function index space, and ``code``, the per-module object the
    engine compiled for it (shared by every instance of the module)."""

    __slots__ = ("module", "index", "code", "engine", "_name")

    def __init__(self, ftype: FuncType, module: "ModuleInstance", index: int, code: Any,
                 engine: Any, name: Optional[str] = None) -> None:
        self.type = ftype
        self.module = module
        self.index = index
        self.code = code
        self.engine = engine
        self._name = name

    @property
    def name(self) -> str:
        """``module.function`` from the name section or exports (computed lazily:
        only traps and debugging need it)."""
        if self._name is None:
            self._name = self.module.func_name(self.index)
        return self._name

    def call(self, args: Sequence[Any]) -> List[Any]:
        res: List[Any] = self.engine.invoke(self, list(args))
        return res

    @classmethod
    def create_many(cls, ftypes: Sequence[FuncType], module: "ModuleInstance", first_index: int,
                    codes: Sequence[Any], engines: Any) -> List["WasmFunctionInstance"]:
        """``[cls(t, module, first_index + i, codes[i], engine) for i, t in ...]``,
        several times faster (instantiation creates one per defined function);
        ``engines`` is one engine for all, or a list of one per function."""
        out: List[WasmFunctionInstance] = list(map(object.__new__, repeat(cls, len(ftypes))))
        i = first_index
        for f, t, c, e in zip(out, ftypes, codes, engines if isinstance(engines, list) else repeat(engines)):
            f.type = t
            f.module = module
            f.index = i
            f.code = c
            f.engine = e
            f._name = None
            i += 1
        return out

    def __repr__(self) -> str:
        return f"<wasm function {self.name} {self.type}>"


class HostFunctionInstance(FunctionInstance):
    """A function implemented in Python.

    ``raw(caller, args) -> list`` receives raw values and returns raw values;
    ``caller`` is the :class:`ModuleInstance` of the calling wasm function, or None
    when called from Python.
    """

    __slots__ = ("raw", "module", "name")
    name: str  # (a writable attribute where the base has a property)

    def __init__(self, ftype: FuncType, raw: Callable[[Optional["ModuleInstance"], List[Any]], List[Any]],
                 name: str = "host") -> None:
        self.type = ftype
        self.raw = raw
        self.name = name
        self.module: Optional[ModuleInstance] = None

    def call(self, args: Sequence[Any], caller: Optional["ModuleInstance"] = None) -> List[Any]:
        return self.raw(caller, list(args))

    def __repr__(self) -> str:
        return f"<host function {self.name} {self.type}>"


class ModuleInstance:
    """An instantiated module: its index spaces and exports.

    ``elems[i]`` is the list of references of element segment ``i`` (empty once
    dropped); ``datas[i]`` the bytes of data segment ``i`` (empty once dropped).
    ``engine_data`` is free for the engine to keep per-instance state in.
    ``export_kinds`` maps export names to EXTERN_* kinds (for an instance of a
    module, a read-only mapping shared by the module's instances); such an
    instance's ``exports`` dict is built on first access.
    """

    # set by the layers above on the instances they make (the API's ModuleConfig,
    # the compiled code a snapshot takes over, the WASI state of a guest)
    config: Any
    engine_code: Any
    wasi_state: Any
    #: an opaque token of the runtime that made this instance (None: not set), also
    #: put on the memories, tables, globals and tags it defines: the API refuses to
    #: link one runtime's objects into another's modules (each runtime has its own
    #: engine, limits and resource budgets)
    owner: Any = None
    # (builds ``exports`` on first use, see __getattr__)
    _make_exports: Optional[Callable[[], Dict[str, Any]]]

    def __init__(self, module: Any = None, name: Optional[str] = None,
                 types: Optional[List[FuncType]] = None) -> None:
        self.module = module
        self.name = name
        # (closed types, see wasm.subtyping: instantiate() passes them)
        self.types: List[FuncType] = (list(types) if types is not None else
                                      list(module.types) if module is not None else [])
        self.funcs: List[FunctionInstance] = []
        self.tables: List[TableInstance] = []
        self.mems: List[MemoryInstance] = []
        self.globals: List[GlobalInstance] = []
        self.tags: List[TagInstance] = []
        self.elems: List[List[Any]] = []
        self.datas: List[bytes] = []
        self.exports: Dict[str, Any] = {}
        self.export_kinds: Dict[str, int] = {}
        self.engine_data: Any = None
        self.closed = False
        self._export_names: Optional[Dict[int, str]] = None

    def __getattr__(self, name: str) -> Any:
        # Only for attributes not set: ``exports`` of an instance made by
        # instantiate() is built on first use (most instances of a module that is
        # instantiated many times never look at most of their exports).
        if name == "exports":
            make = self.__dict__.get("_make_exports")
            if make is not None:
                exports = make()
                self.exports = exports
                self._make_exports = None
                return exports
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def export(self, name: str) -> Any:
        return self.exports.get(name)

    def func_name(self, index: int) -> str:
        """A readable name for function ``index``: the name section's, else an export
        name, else ``$index``; prefixed by the module name when known."""
        name = None
        m = self.module
        if m is not None:
            name = m.names.functions.get(index)
            if name is None:
                exported = self._export_names
                if exported is None:
                    exported = {}
                    for e in m.exports:
                        if e.kind == EXTERN_FUNC:
                            exported.setdefault(e.index, e.name)
                    self._export_names = exported
                name = exported.get(index)
        if name is None:
            name = f"${index}"
        mod = self.name or (m.names.module if m is not None else None)
        return f"{mod}.{name}" if mod else name


EXTERN_CLASSES = {
    EXTERN_FUNC: FunctionInstance,
    EXTERN_TABLE: TableInstance,
    EXTERN_MEMORY: MemoryInstance,
    EXTERN_GLOBAL: GlobalInstance,
    EXTERN_TAG: TagInstance,
}


def extern_kind(value: Any) -> Optional[int]:
    """The EXTERN_* kind of a store object, or None."""
    for kind, cls in EXTERN_CLASSES.items():
        if isinstance(value, cls):
            return kind
    return None
