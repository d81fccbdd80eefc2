"""The objects a user holds: :class:`Module`, :class:`Function`, :class:`Memory`,
:class:`Table` and :class:`Global`, thin facades over the store's instances.

Values cross the boundary converted (``Function.__call__``):

* i32 / i64: any int in the signed or unsigned range in; signed ints out;
* f32 / f64: floats (ints accepted in, rounded to the nearest double; an int beyond
  a double's range, such as ``10**400``, is a ValueError, as an out-of-range int is
  for i32/i64); f32 arguments are rounded to single precision (a float too large
  for single precision becomes an infinity, as IEEE 754 rounding does);
* v128: an unsigned 128-bit int (negative ints in the signed range accepted in);
* funcref: a :class:`Function` or None; externref: any Python object or None;
  a typed function reference ``(ref null? $t)`` / ``(ref func)``: a Function (of
  that type) or None when nullable (a TypeError otherwise); a null of any
  reference type is None; an exnref: an :class:`ExnRef` or None.

Types are described fully: reference types in ``Function.type``, ``Global.type``,
``Table.type`` and import/export types are :class:`~pywazero.RefType` ints
(``str()`` gives ``(ref null func)``, ``.nullable``, ``.heap``).

``Function.call_raw`` exchanges raw bit patterns instead (i32/f32 as u32, i64/f64 as
u64, v128 as u128), so NaN payloads survive exactly.
"""
from __future__ import annotations

import struct
from typing import (TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Literal, Optional, Protocol, Sequence, Tuple,
                    Type, TypeVar, Union, overload)

from .errors import WasmError, WasmException
from .wasm.instance import (
    FunctionInstance,
    GlobalInstance,
    HostFunctionInstance,
    MemoryInstance,
    ModuleInstance,
    TableInstance,
    TagInstance,
    WasmFunctionInstance,
)
from .wasm.types import (
    EXNREF,
    EXTERNREF,
    F32,
    F64,
    FUNCREF,
    I32,
    I64,
    PAGE_SIZE,
    V128,
    FuncType,
    GlobalType,
    MemoryType,
    HT_ANY,
    HT_FUNC,
    HT_EXN,
    HT_NOEXN,
    HT_NOEXTERN,
    HT_NOFUNC,
    TableType,
    is_ref,
    ref_heap,
    ref_nullable,
    valtype_name,
)
from .wasm.gcref import HostAny, set_value_converter
from .wasm.subtyping import canonical_type, func_subtype, describe_functype, describe_valtype, top_heap

if TYPE_CHECKING:
    from typing_extensions import Buffer   # (bytes-like; a type checker's own stubs)

    from .runtime import CompiledModule, Runtime

    class _Numerics(Protocol):
        """What the API uses of :mod:`pywazero.wasm.numerics` (imported lazily)."""

        def f32_from_bits(self, b: int) -> float: ...
        def f32_to_bits(self, x: float) -> int: ...
        def f64_from_bits(self, b: int) -> float: ...
        def f64_to_bits(self, x: float) -> int: ...
        def round_f32(self, x: float) -> float: ...

__all__ = ["Module", "Function", "Memory", "Table", "Global", "Tag", "ExnRef", "Caller", "to_raw",
           "from_raw"]

_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF
_M128 = (1 << 128) - 1


def _numerics() -> _Numerics:
    from .wasm import numerics

    return numerics


# -- value conversion -------------------------------------------------------------

def _check_int(v: Any, bits: int, what: str) -> int:
    if not isinstance(v, int):
        raise TypeError(f"{what} must be an int, not {type(v).__name__}")
    if not -(1 << (bits - 1)) <= v < (1 << bits):
        raise ValueError(f"{what} {_short_int(v)} is out of range for a {bits}-bit integer")
    return v & ((1 << bits) - 1)


def _to_float(v: Any, what: str) -> float:
    """A float or int as a Python float.  An int beyond the range of a double
    (``10**400``) is a ValueError, like an int out of range for i32/i64."""
    if isinstance(v, float):
        return v
    if isinstance(v, int):
        try:
            return float(v)
        except OverflowError:
            raise ValueError(f"{what} {_short_int(v)} is out of range for a float") from None
    raise TypeError(f"{what} must be a float, not {type(v).__name__}")


def _short_int(v: int) -> str:
    # str() of a huge int is slow (and refused past 4300 digits on Python 3.11+)
    return str(v) if v.bit_length() < 256 else f"{'-' if v < 0 else ''}(an int of {v.bit_length()} bits)"


def to_raw(t: int, v: Any, what: str = "value") -> Any:
    """Convert a Python value to the internal representation of type ``t``."""
    if t == I32:
        return _check_int(v, 32, what)
    if t == I64:
        return _check_int(v, 64, what)
    if t == F64:
        return _to_float(v, what)
    if t == F32:
        return _numerics().round_f32(_to_float(v, what))
    if t == V128:
        return _check_int(v, 128, what)
    if t == FUNCREF:
        if v is None:
            return None
        if isinstance(v, Function):
            return v._fn
        if isinstance(v, FunctionInstance):
            return v
        raise TypeError(f"{what} must be a pywazero Function or None, not {type(v).__name__}")
    if t == EXTERNREF:
        return v
    if t == EXNREF:
        if v is None:
            return None
        if isinstance(v, ExnRef):
            return v._exn
        raise TypeError(f"{what} must be a pywazero ExnRef or None, not {type(v).__name__}")
    if isinstance(t, int) and t > 0 and is_ref(t):
        return _ref_to_raw(t, v, what)
    raise TypeError(f"unsupported value type {valtype_name(t)}")


def owner_of(obj: Any) -> Any:
    """The token of the runtime that made store object ``obj`` (a function, memory,
    table, global, tag or module instance); None for one no runtime claims (a host
    function made outside a host module)."""
    if obj.__class__ is WasmFunctionInstance:
        return getattr(obj.module, "owner", None)
    return getattr(obj, "owner", None)


def same_runtime(dest: Any, raw: Any, what: str) -> Any:
    """``raw`` (a value in the store's form) on its way into store object ``dest`` (a
    table, a global, the function it is passed to, the instance a host function
    returns it to); ValueError when it is a function of another runtime than
    ``dest``'s: called from there, it would run under that runtime's engine and
    limits, and keep running after that runtime is closed."""
    if isinstance(raw, FunctionInstance) and dest is not None:
        owned_by(owner_of(dest), raw, what)
    return raw


def owned_by(owner: Any, raw: Any, what: str) -> Any:
    """``raw``, checked as :func:`same_runtime` does against runtime token ``owner``."""
    if isinstance(raw, FunctionInstance):
        mine = owner_of(raw)
        if mine is not None and mine is not owner:
            raise ValueError(f"{what} is a function of another runtime: references to a "
                             f"runtime's functions stay in that runtime")
    return raw


# value type -> whether it is a reference to a function (any function type)
_FUNC_REF: Dict[int, bool] = {}


def _is_func_ref(t: int) -> bool:
    r = _FUNC_REF.get(t)
    if r is None:
        r = _FUNC_REF[t] = bool(isinstance(t, int) and t > 0 and is_ref(t) and top_heap(ref_heap(t)) == HT_FUNC)
    return r


# value type -> whether it is in the any hierarchy (GC)
_ANY_REF: Dict[int, bool] = {}


def _is_any_ref(t: int) -> bool:
    r = _ANY_REF.get(t)
    if r is None:
        r = _ANY_REF[t] = bool(isinstance(t, int) and t > 0 and is_ref(t) and top_heap(ref_heap(t)) == HT_ANY)
    return r


def _gc_to_raw(t: int, v: Any, what: str) -> Any:
    """A Python value as a reference in the any hierarchy: for ``anyref`` a host
    object is internalised (as ``any.convert_extern`` would); for the types below
    it the value must have the type (a StructRef of the struct type, an I31...)."""
    from .wasm.gcops import make_test
    from .wasm.gcref import internalize

    if ref_heap(t) == HT_ANY:
        return internalize(v)
    if not make_test(t)(v):
        raise TypeError(f"{what}: a {type(v).__name__} is not a {describe_valtype(t)}")
    return v


def _ref_to_raw(t: int, v: Any, what: str) -> Any:
    """A Python value as a reference of type ``t`` (the store's form: a concrete
    heap type is a canonical id), checked: a function reference must have the
    referenced type, a non-nullable type refuses None."""
    if v is None:
        if not ref_nullable(t):
            raise TypeError(f"{what} must not be None (type {describe_valtype(t)})")
        return None
    h = ref_heap(t)
    if _is_func_ref(t):
        fi = v._fn if isinstance(v, Function) else v if isinstance(v, FunctionInstance) else None
        if fi is None or h == HT_NOFUNC:
            allowed = "None" if h == HT_NOFUNC else "a pywazero Function" + (" or None" if ref_nullable(t) else "")
            raise TypeError(f"{what} must be {allowed}, not {type(v).__name__}")
        if h >= 0 and fi.type != canonical_type(h) and not func_subtype(fi.type, canonical_type(h)):
            raise TypeError(f"{what}: a function of type {describe_functype(fi.type)} is not a "
                            f"{describe_valtype(t)}")
        return fi
    if h == HT_NOEXTERN or h == HT_NOEXN:
        raise TypeError(f"{what} must be None, not {type(v).__name__}")
    if h == HT_EXN:
        if isinstance(v, ExnRef):
            return v._exn
        raise TypeError(f"{what} must be a pywazero ExnRef, not {type(v).__name__}")
    if _is_any_ref(t):
        return _gc_to_raw(t, v, what)
    return v


def from_raw(t: int, v: Any) -> Any:
    """Convert an internal value of type ``t`` to the Python value users see."""
    if t == I32:
        return v - 0x100000000 if v & 0x80000000 else v
    if t == I64:
        return v - 0x10000000000000000 if v & 0x8000000000000000 else v
    if (t < 0x7B or t >= 0x100) and (t == FUNCREF or (v is not None and _is_func_ref(t))):
        # (numbers and vectors are 0x7B-0x7F)
        return None if v is None else Function(v)
    if t == EXNREF or (v is not None and t >= 0x100 and ref_heap(t) == HT_EXN):
        return None if v is None else ExnRef(v)
    if v.__class__ is HostAny:
        return v.obj      # (an anyref made of a host object: the object itself)
    return v


# GC objects read through the model show API values (Function, ExnRef, host objects).
set_value_converter(from_raw)


def raw_bits_in(t: int, v: Any, what: str = "value") -> Any:
    """``call_raw`` input: bit patterns for numbers."""
    if t == I32 or t == F32:
        b = _check_int(v, 32, what)
        return b if t == I32 else _numerics().f32_from_bits(b)
    if t == I64 or t == F64:
        b = _check_int(v, 64, what)
        return b if t == I64 else _numerics().f64_from_bits(b)
    return to_raw(t, v, what)


def raw_bits_out(t: int, v: Any) -> Any:
    if t == F32:
        return _numerics().f32_to_bits(v)
    if t == F64:
        return _numerics().f64_to_bits(v)
    if (t < 0x7B or t >= 0x100) and (t == FUNCREF or (v is not None and _is_func_ref(t))):
        # (numbers and vectors are 0x7B-0x7F)
        return None if v is None else Function(v)
    if t == EXNREF:
        return None if v is None else ExnRef(v)
    if v.__class__ is HostAny:
        return v.obj
    return v


def _is_bytes_like(data: Any) -> bool:
    try:
        memoryview(data).release()
    except TypeError:
        return False
    return True


# -- functions ---------------------------------------------------------------------

def _int_in(bits: int) -> Callable[[Any, str], int]:
    lo = -(1 << (bits - 1))
    hi = 1 << bits
    mask = hi - 1

    def conv(v: Any, what: str) -> int:
        if v.__class__ is int and lo <= v < hi:
            return v & mask
        return _check_int(v, bits, what)

    return conv


def _f64_in(v: Any, what: str) -> float:
    if v.__class__ is float:
        return v
    f: float = to_raw(F64, v, what)
    return f


_FAST_IN: Dict[int, Callable[[Any, str], Any]] = {I32: _int_in(32), I64: _int_in(64), F64: _f64_in}


def _converter_in(t: int) -> Callable[[Any, str], Any]:
    f = _FAST_IN.get(t)
    if f is not None:
        return f
    return lambda v, what: to_raw(t, v, what)


class _NeverClosed:
    __slots__ = ()
    closed = False


_NEVER_CLOSED = _NeverClosed()


def _closed_error(mod: Any) -> WasmError:
    return WasmError(f"module {mod.name or '<anonymous>'} is closed")


def _store_entry(fn: FunctionInstance) -> Callable[..., Any]:
    """The entry (see ``Engine.entry``) of a function that is not a wasm function:
    a host function, or any other FunctionInstance."""
    nres = len(fn.type.results)
    if fn.__class__ is HostFunctionInstance:
        raw = fn.raw

        def call(args: List[Any]) -> List[Any]:
            return raw(None, args)
    else:
        call = fn.call

    def entry(*args: Any) -> Any:
        mod = getattr(fn, "module", None)
        if mod is not None and mod.closed:
            raise _closed_error(mod)
        res = call(list(args))
        if nres == 1:
            return res[0]
        if nres == 0:
            return None
        return tuple(res)

    return entry


def _entry_of(fn: FunctionInstance) -> Tuple[Callable[..., Any], Any]:
    """(entry, the module instance whose ``closed`` a call checks first)."""
    if fn.__class__ is WasmFunctionInstance:
        engine = fn.engine
        make = getattr(engine, "entry", None)
        if make is not None:
            entry = make(fn)
        else:  # an engine object predating Engine.entry
            from .engine import _invoke_entry

            entry = _invoke_entry(engine.invoke, fn)
        mod = fn.module
        return entry, (_NEVER_CLOSED if mod is None else mod)
    return _store_entry(fn), _NEVER_CLOSED


class Function:
    """A WebAssembly function (exported by a module, or a host function).

    ``fn(*args)`` converts arguments and results (see the module docstring):
    no result gives None, one the value, several a tuple.

    ``Function(fn)`` makes an instance of a subclass specialised for ``fn``'s
    signature (see :func:`_signature_class`), whose ``__call__`` converts each
    argument and result with inline code and calls the engine's entry directly.
    """

    __slots__ = ("_fn", "_module", "_entry", "_inst")

    def __new__(cls, fn: Any = None, module: Optional["Module"] = None) -> "Function":
        if cls is Function:
            cls = _signature_class(getattr(fn, "type", None))
        return object.__new__(cls)

    def __init__(self, fn: FunctionInstance, module: Optional["Module"] = None) -> None:
        self._fn = fn
        self._module = module
        self._entry, self._inst = _entry_of(fn)

    @property
    def type(self) -> FuncType:
        """The function's signature; reference types are :class:`~pywazero.RefType`."""
        return describe_functype(self._fn.type)

    @property
    def name(self) -> str:
        """The function's name: its export or debug name (``"fib"``), or
        ``module.name`` for a host function; used in trap stack traces."""
        return self._fn.name

    def _invoke(self, raw: List[Any]) -> List[Any]:
        fn = self._fn
        mod = getattr(fn, "module", None)
        if mod is not None and mod.closed:
            raise _closed_error(mod)
        if fn.__class__ is WasmFunctionInstance:
            res: List[Any] = fn.engine.invoke(fn, raw)
            return res
        if fn.__class__ is HostFunctionInstance:
            return fn.raw(None, raw)
        return fn.call(raw)

    def _arity_error(self, n: int) -> TypeError:
        ft = self._fn.type
        return TypeError(f"{self._fn.name} expects {len(ft.params)} argument(s) {ft}, got {n}")

    def __call__(self, *args: Any) -> Any:
        # the generic path (signatures without a specialised subclass)
        ft = self._fn.type
        params = ft.params
        if len(args) != len(params):
            raise self._arity_error(len(args))
        raw = [_converter_in(t)(v, f"argument {i}") for i, (t, v) in enumerate(zip(params, args))]
        for i, v in enumerate(raw):
            same_runtime(self._fn, v, f"argument {i}")
        inst = self._inst
        if inst.closed:
            raise _closed_error(inst)
        res = self._entry(*raw)
        results = ft.results
        if not results:
            return None
        if len(results) == 1:
            return from_raw(results[0], res)
        return tuple(from_raw(t, v) for t, v in zip(results, res))

    def call_raw(self, *args: Any) -> Any:
        """Call with raw bit patterns; returns raw bit patterns (same shapes as
        ``__call__``)."""
        ft = self._fn.type
        params = ft.params
        if len(args) != len(params):
            raise self._arity_error(len(args))
        raw = [raw_bits_in(t, v, f"argument {i}") for i, (t, v) in enumerate(zip(params, args))]
        for i, v in enumerate(raw):
            same_runtime(self._fn, v, f"argument {i}")
        res = self._invoke(raw)
        results = ft.results
        if not results:
            return None
        if len(results) == 1:
            return raw_bits_out(results[0], res[0])
        return tuple(raw_bits_out(t, v) for t, v in zip(results, res))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Function) and other._fn is self._fn

    def __hash__(self) -> int:
        return hash(id(self._fn))

    def __repr__(self) -> str:
        return f"<Function {self._fn.name} {self._fn.type}>"


# Function's subclasses per signature (params, results): a benign cache (building a
# class twice in a race is harmless), bounded so that a stream of random signatures
# cannot grow it without end.
_SIGNATURE_CLASSES: Dict[Tuple[Tuple[int, ...], Tuple[int, ...]], type] = {}
_MAX_SIGNATURE_CLASSES = 2048
_MAX_SPECIALISED_PARAMS = 64

_INT_RANGES = {I32: 32, I64: 64, V128: 128}


def _signature_class(ft: Any) -> type:
    try:
        key = (tuple(ft.params), tuple(ft.results))
    except (AttributeError, TypeError):
        return Function
    cls = _SIGNATURE_CLASSES.get(key)
    if cls is None:
        if len(key[0]) > _MAX_SPECIALISED_PARAMS or len(_SIGNATURE_CLASSES) >= _MAX_SIGNATURE_CLASSES:
            return Function
        try:
            cls = _make_signature_class(*key)
        except Exception:  # noqa: BLE001 - an unusual signature: the generic path
            return Function
        _SIGNATURE_CLASSES[key] = cls
    return cls


def _make_signature_class(params: Tuple[int, ...], results: Tuple[int, ...]) -> type:
    """A subclass of Function whose ``__call__`` is written out for this signature:
    the argument count check, each argument's conversion (ints: a class and range
    check, then one mask), the closed check, the engine entry, each result's
    conversion.  Errors are those of ``to_raw``: the slow paths call it."""
    n = len(params)
    lines = ["def __call__(self, *args):",
             "    if len(args) != %d:" % n,
             "        raise self._arity_error(len(args))"]
    names = ["a%d" % i for i in range(n)]
    if n == 1:
        lines.append("    a0 = args[0]")
    elif n:
        lines.append("    %s = args" % ", ".join(names))
    passed = []
    for i, t in enumerate(params):
        a = names[i]
        what = '"argument %d"' % i
        bits = _INT_RANGES.get(t)
        if bits is not None:
            lo, hi = -(1 << (bits - 1)), (1 << bits) - 1
            lines.append("    if %s.__class__ is not int or not %d <= %s <= %d:" % (a, lo, a, hi))
            lines.append("        %s = _check_int(%s, %d, %s)" % (a, a, bits, what))
            passed.append("%s & %d" % (a, hi))
        elif t == F64:
            lines.append("    if %s.__class__ is not float:" % a)
            lines.append("        %s = _to_raw(%d, %s, %s)" % (a, t, a, what))
            passed.append(a)
        elif t == F32:
            lines.append("    %s = _round_f32(%s) if %s.__class__ is float else _to_raw(%d, %s, %s)"
                         % (a, a, a, t, a, what))
            passed.append(a)
        elif t == EXTERNREF:
            passed.append(a)
        else:
            lines.append("    %s = _to_raw(%d, %s, %s)" % (a, int(t), a, what))
            if t == FUNCREF or _is_func_ref(t):
                lines.append("    if %s is not None:" % a)
                lines.append("        _same_runtime(self._fn, %s, %s)" % (a, what))
            passed.append(a)
    lines.append("    inst = self._inst")
    lines.append("    if inst.closed:")
    lines.append("        raise _closed_error(inst)")
    call = "self._entry(%s)" % ", ".join(passed)

    def out(t: int, r: str) -> str:
        if t == I32:
            return "(%s - 4294967296 if %s & 2147483648 else %s)" % (r, r, r)
        if t == I64:
            return "(%s - 18446744073709551616 if %s & 9223372036854775808 else %s)" % (r, r, r)
        if t == FUNCREF or _is_func_ref(t):
            return "(None if %s is None else _Function(%s))" % (r, r)
        if t == EXNREF:
            return "(None if %s is None else _ExnRef(%s))" % (r, r)
        if _is_any_ref(t):
            return "(%s.obj if %s.__class__ is _HostAny else %s)" % (r, r, r)
        return r

    if not results:
        lines.append("    %s" % call)
        lines.append("    return None")
    elif len(results) == 1:
        lines.append("    r = %s" % call)
        lines.append("    return %s" % out(results[0], "r"))
    else:
        rs = ["r%d" % i for i in range(len(results))]
        lines.append("    %s = %s" % (", ".join(rs), call))
        lines.append("    return (%s,)" % ", ".join(out(t, r) for t, r in zip(results, rs)))
    ns: Dict[str, Any] = {
        "_check_int": _check_int, "_to_raw": to_raw, "_round_f32": _numerics().round_f32,
        "_closed_error": _closed_error, "_Function": Function, "_ExnRef": ExnRef, "_HostAny": HostAny,
        "_same_runtime": same_runtime,
    }
    exec(compile("\n".join(lines) + "\n", "<pywazero Function %s -> %s>" % (
        " ".join(valtype_name(t) for t in params), " ".join(valtype_name(t) for t in results)), "exec"), ns)
    cls = type("Function", (Function,), {"__slots__": (), "__call__": ns["__call__"],
                                         "__module__": __name__, "__qualname__": "Function"})
    return cls


# -- memory ------------------------------------------------------------------------

_STRUCTS = {
    "u8": struct.Struct("<B"), "i8": struct.Struct("<b"),
    "u16": struct.Struct("<H"), "i16": struct.Struct("<h"),
    "u32": struct.Struct("<I"), "i32": struct.Struct("<i"),
    "u64": struct.Struct("<Q"), "i64": struct.Struct("<q"),
    "f64": struct.Struct("<d"),
}


class Memory:
    """A linear memory.  Offsets are byte offsets; every access is bounds-checked and
    raises ``IndexError`` (never a partial read or write) when out of range.

    Offsets, sizes and page counts are Python ints, so a 64-bit memory (memory64,
    ``address_type == I64``) is addressed the same way beyond 4 GiB:

    >>> import pywazero as wz
    >>> rt = wz.Runtime(wz.RuntimeConfig(core_features=wz.CoreFeatures.V3))
    >>> mem = rt.instantiate(rt.compile(
    ...     '(module (memory (export "m") i64 1 0x1_0000_0000))')).exports["m"]
    >>> mem.type.address_type == wz.I64, mem.pages, mem.max_pages
    (True, 1, 4294967296)
    >>> mem.write_u32(8, 42); mem.read_u32(8)
    42
    """

    __slots__ = ("_mem",)

    def __init__(self, mem: MemoryInstance) -> None:
        self._mem = mem

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self._mem.data)

    @property
    def pages(self) -> int:
        """Current size in 64 KiB pages."""
        return len(self._mem.data) // PAGE_SIZE

    @property
    def type(self) -> MemoryType:
        """The memory's type: limits in pages and address type."""
        return self._mem.type

    @property
    def max_pages(self) -> Optional[int]:
        """The declared maximum in pages, or None when the module declares none
        (``RuntimeConfig.memory_limit_pages`` still caps growth)."""
        return self._mem.declared_max

    @property
    def address_type(self) -> int:
        """``I32``, or ``I64`` for a 64-bit memory (memory64)."""
        return self._mem.address_type

    def grow(self, pages: int) -> int:
        """Grow by ``pages``; return the previous page count, or -1 if it cannot."""
        if not isinstance(pages, int):
            raise TypeError("pages must be an int")
        if pages < 0:
            raise ValueError("pages must not be negative")
        return self._mem.grow(pages)

    def _check(self, offset: int, n: int) -> None:
        if not isinstance(offset, int) or not isinstance(n, int):
            raise TypeError("offset and length must be ints")
        if offset < 0 or n < 0 or offset + n > len(self._mem.data):
            raise IndexError(
                f"memory access out of range: offset {_short_int(offset)}, length {_short_int(n)}, "
                f"memory size {len(self._mem.data)}"
            )

    def read(self, offset: int, n: int) -> bytes:
        """``n`` bytes starting at ``offset``, copied out of memory.

        >>> import pywazero as wz
        >>> mem = wz.Runtime().instantiate('(module (memory (export "m") 1))').memory()
        >>> mem.write(16, b"wasm"); mem.read(16, 4)
        b'wasm'
        """
        self._check(offset, n)
        return bytes(self._mem.data[offset:offset + n])

    def write(self, offset: int, data: Buffer) -> None:
        """Copy ``data`` (bytes, bytearray, memoryview or another bytes-like object)
        into memory at ``offset``."""
        if data.__class__ is not bytes and data.__class__ is not bytearray \
                and (isinstance(data, (int, str)) or not _is_bytes_like(data)):
            # bytes(5) would be five zero bytes, bytes("x") needs an encoding
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
        data = bytes(data)
        self._check(offset, len(data))
        self._mem.data[offset:offset + len(data)] = data

    # (what each format reads, for the type checker)
    @overload
    def _read(self, fmt: Literal["f64"], offset: int) -> float: ...
    @overload
    def _read(self, fmt: Literal["u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64"], offset: int) -> int: ...

    def _read(self, fmt: str, offset: int) -> Any:
        st = _STRUCTS[fmt]
        self._check(offset, st.size)
        return st.unpack_from(self._mem.data, offset)[0]

    def _write(self, fmt: str, offset: int, value: Any) -> None:
        st = _STRUCTS[fmt]
        self._check(offset, st.size)
        try:
            st.pack_into(self._mem.data, offset, value)
        except struct.error as e:
            raise ValueError(f"cannot store {value!r} as {fmt}: {e}") from None

    def read_u8(self, offset: int) -> int:
        """Read an unsigned 8-bit integer (little-endian) at ``offset``."""
        return self._read("u8", offset)

    def read_i8(self, offset: int) -> int:
        """Read a signed 8-bit integer (little-endian) at ``offset``."""
        return self._read("i8", offset)

    def read_u16(self, offset: int) -> int:
        """Read an unsigned 16-bit integer (little-endian) at ``offset``."""
        return self._read("u16", offset)

    def read_i16(self, offset: int) -> int:
        """Read a signed 16-bit integer (little-endian) at ``offset``."""
        return self._read("i16", offset)

    def read_u32(self, offset: int) -> int:
        """Read an unsigned 32-bit integer (little-endian) at ``offset``."""
        return self._read("u32", offset)

    def read_i32(self, offset: int) -> int:
        """Read a signed 32-bit integer (little-endian) at ``offset``."""
        return self._read("i32", offset)

    def read_u64(self, offset: int) -> int:
        """Read an unsigned 64-bit integer (little-endian) at ``offset``."""
        return self._read("u64", offset)

    def read_i64(self, offset: int) -> int:
        """Read a signed 64-bit integer (little-endian) at ``offset``."""
        return self._read("i64", offset)

    def read_f64(self, offset: int) -> float:
        """Read a 64-bit IEEE float (little-endian) at ``offset``."""
        return self._read("f64", offset)

    def read_f32(self, offset: int) -> float:
        """Read a 32-bit IEEE float (little-endian) at ``offset``, as a Python float."""
        return _numerics().f32_from_bits(self._read("u32", offset))

    def write_u8(self, offset: int, v: int) -> None:
        """Store ``v`` as an unsigned 8-bit integer (little-endian) at ``offset``; ValueError
        when it is out of range."""
        self._write("u8", offset, v)

    def write_i8(self, offset: int, v: int) -> None:
        """Store ``v`` as a signed 8-bit integer (little-endian) at ``offset``; ValueError
        when it is out of range."""
        self._write("i8", offset, v)

    def write_u16(self, offset: int, v: int) -> None:
        """Store ``v`` as an unsigned 16-bit integer (little-endian) at ``offset``; ValueError
        when it is out of range."""
        self._write("u16", offset, v)

    def write_i16(self, offset: int, v: int) -> None:
        """Store ``v`` as a signed 16-bit integer (little-endian) at ``offset``; ValueError
        when it is out of range."""
        self._write("i16", offset, v)

    def write_u32(self, offset: int, v: int) -> None:
        """Store ``v`` as an unsigned 32-bit integer (little-endian) at ``offset``; ValueError
        when it is out of range."""
        self._write("u32", offset, v)

    def write_i32(self, offset: int, v: int) -> None:
        """Store ``v`` as a signed 32-bit integer (little-endian) at ``offset``; ValueError
        when it is out of range."""
        self._write("i32", offset, v)

    def write_u64(self, offset: int, v: int) -> None:
        """Store ``v`` as an unsigned 64-bit integer (little-endian) at ``offset``; ValueError
        when it is out of range."""
        self._write("u64", offset, v)

    def write_i64(self, offset: int, v: int) -> None:
        """Store ``v`` as a signed 64-bit integer (little-endian) at ``offset``; ValueError
        when it is out of range."""
        self._write("i64", offset, v)

    def write_f64(self, offset: int, v: float) -> None:
        """Store ``v`` as a 64-bit IEEE float (little-endian) at ``offset``."""
        self._write("f64", offset, _to_float(v, "value"))

    def write_f32(self, offset: int, v: float) -> None:
        """Store ``v`` rounded to a 32-bit IEEE float (little-endian) at ``offset``.

        >>> import pywazero as wz
        >>> mem = wz.Runtime().instantiate('(module (memory (export "m") 1))').memory()
        >>> mem.write_f32(0, 0.1); mem.read_f32(0) == 0.10000000149011612
        True
        """
        n = _numerics()
        self._write("u32", offset, n.f32_to_bits(n.round_f32(_to_float(v, "value"))))

    def read_string(self, offset: int, n: int, encoding: str = "utf-8") -> str:
        """``n`` bytes at ``offset`` decoded with ``encoding`` (UTF-8 by default).

        >>> import pywazero as wz
        >>> mem = wz.Runtime().instantiate('(module (memory (export "m") 1))').memory()
        >>> mem.write(0, "héllo".encode()); mem.read_string(0, 6)
        'héllo'
        """
        return self.read(offset, n).decode(encoding)

    def read_cstring(self, offset: int, encoding: str = "utf-8") -> str:
        """A NUL-terminated string starting at ``offset``."""
        self._check(offset, 0)
        data = self._mem.data
        end = data.find(b"\0", offset)
        if end < 0:
            raise IndexError(f"no NUL terminator after offset {offset}")
        return bytes(data[offset:end]).decode(encoding)

    def __len__(self) -> int:
        return len(self._mem.data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Memory) and other._mem is self._mem

    def __hash__(self) -> int:
        return hash(id(self._mem))

    def __repr__(self) -> str:
        at = "i64 " if self._mem.address_type == I64 else ""
        return f"<Memory {at}{self.pages} pages>"


# -- tables ------------------------------------------------------------------------

class Table:
    """A table of references: :class:`Function`/None (funcref) or any object/None
    (externref)."""

    __slots__ = ("_table",)

    def __init__(self, table: TableInstance) -> None:
        self._table = table

    @property
    def size(self) -> int:
        """The number of elements."""
        return len(self._table.elements)

    @property
    def type(self) -> TableType:
        """The table's type: element type, limits and address type."""
        t = self._table.type
        return TableType(describe_valtype(t.elem_type), t.limits, t.address_type)

    @property
    def elem_type(self) -> int:
        """The element type, a :class:`~pywazero.RefType`."""
        return describe_valtype(self._table.elem_type)

    @property
    def address_type(self) -> int:
        """``I32``, or ``I64`` for a 64-bit table (table64)."""
        return self._table.address_type

    def _index(self, i: int) -> int:
        if not isinstance(i, int):
            raise TypeError("table index must be an int")
        if not 0 <= i < len(self._table.elements):
            raise IndexError(f"table index {_short_int(i)} out of range (size {len(self._table.elements)})")
        return i

    def get(self, i: int) -> Any:
        """Element ``i``: a :class:`Function` or None in a funcref table, the Python
        object (or None) in an externref table; IndexError when out of range.

        >>> import pywazero as wz
        >>> m = wz.Runtime().instantiate('''(module (table (export "t") 2 funcref)
        ...   (func $f (export "f")) (elem (i32.const 0) $f))''')
        >>> t = m.table("t")
        >>> t.get(0) == m.function("f"), t.get(1)
        (True, None)
        """
        return from_raw(self._table.elem_type, self._table.elements[self._index(i)])

    def set(self, i: int, value: Any) -> None:
        """Set element ``i`` to ``value`` (a :class:`Function` or None for funcref,
        any object for externref); IndexError when out of range, TypeError when the
        value does not fit the element type, ValueError for a function of another
        runtime."""
        raw = same_runtime(self._table, to_raw(self._table.elem_type, value), "the value")
        self._table.elements[self._index(i)] = raw

    def grow(self, n: int, init: Any = None) -> int:
        """Grow by ``n`` entries set to ``init``; the old size, or -1."""
        if not isinstance(n, int) or n < 0:
            raise ValueError("n must be a non-negative int")
        return self._table.grow(n, same_runtime(self._table, to_raw(self._table.elem_type, init), "init"))

    def __len__(self) -> int:
        return len(self._table.elements)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Table) and other._table is self._table

    def __hash__(self) -> int:
        return hash(id(self._table))

    def __repr__(self) -> str:
        return f"<Table {self._table.type}>"


# -- globals -----------------------------------------------------------------------

class Global:
    """A global variable: ``value`` (assignable only when ``mutable``)."""

    __slots__ = ("_global",)

    def __init__(self, g: GlobalInstance) -> None:
        self._global = g

    @property
    def type(self) -> int:
        """The value type (``pywazero.I32`` ..., a :class:`~pywazero.RefType` for a
        reference type)."""
        return describe_valtype(self._global.type.valtype)

    @property
    def global_type(self) -> GlobalType:
        """The global's type: value type and mutability."""
        gt = self._global.type
        return GlobalType(describe_valtype(gt.valtype), gt.mutable)

    @property
    def mutable(self) -> bool:
        """Whether ``value`` may be assigned (a ``(mut ...)`` global)."""
        return self._global.type.mutable

    @property
    def value(self) -> Any:
        """The current value (ints signed, floats as Python floats, references as
        :class:`Function`/objects/None).  Assigning to it sets a mutable global and
        raises AttributeError for an immutable one.

        >>> import pywazero as wz
        >>> g = wz.Runtime().instantiate(
        ...     '(module (global (export "g") (mut i32) (i32.const -1)))').global_("g")
        >>> g.value
        -1
        >>> g.value = 7; g.value
        7
        """
        return from_raw(self._global.type.valtype, self._global.value)

    @value.setter
    def value(self, v: Any) -> None:
        if not self._global.type.mutable:
            raise AttributeError("global is immutable")
        self._global.value = same_runtime(self._global, to_raw(self._global.type.valtype, v), "the value")

    @property
    def raw(self) -> Any:
        """The value's raw bit pattern (floats as their IEEE bits)."""
        return raw_bits_out(self._global.type.valtype, self._global.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Global) and other._global is self._global

    def __hash__(self) -> int:
        return hash(id(self._global))

    def __repr__(self) -> str:
        return f"<Global {self._global.type} = {self.value!r}>"


def wrap_extern(value: Any, module: Optional["Module"] = None) -> Extern:
    if isinstance(value, FunctionInstance):
        return Function(value, module)
    if isinstance(value, MemoryInstance):
        return Memory(value)
    if isinstance(value, TableInstance):
        return Table(value)
    if isinstance(value, GlobalInstance):
        return Global(value)
    if isinstance(value, TagInstance):
        return Tag._of(value)
    raise TypeError(f"not an extern: {value!r}")


def unwrap_extern(value: object) -> object:
    """The store object behind a facade (or the store object itself)."""
    if isinstance(value, Function):
        return value._fn
    if isinstance(value, Memory):
        return value._mem
    if isinstance(value, Table):
        return value._table
    if isinstance(value, Global):
        return value._global
    if isinstance(value, Tag):
        return value._tag
    return value


# -- exception handling ------------------------------------------------------------

class Tag:
    """A tag (exception handling): what a wasm exception is thrown with and caught
    by.  Identity is the tag: two instantiations of a module defining a tag give
    two different tags; importing or re-exporting one gives the same.

    ``Tag(params)`` makes a new tag whose exceptions carry values of types
    ``params`` (export it with :meth:`HostModuleBuilder.tag` or ``.export``).

    >>> import pywazero as wz
    >>> t = wz.Tag([wz.I32, wz.F64])
    >>> str(t.type), t == wz.Tag([wz.I32, wz.F64])
    ('[i32 f64] -> []', False)
    >>> e = wz.WasmException(t, [1, 2.5])
    >>> e.payload, e.tag == t
    ((1, 2.5), True)
    """

    __slots__ = ("_tag",)

    def __init__(self, params: Sequence[int] = (), name: str = "host.tag") -> None:
        from .host import _check_types

        self._tag = TagInstance(FuncType(_check_types(params, "tag params"), ()), name)
        self._tag.api = self

    @classmethod
    def _of(cls, tag: TagInstance) -> "Tag":
        """The one facade of store tag ``tag``."""
        t: Optional[Tag] = tag.api
        if t is None:
            t = cls.__new__(cls)
            t._tag = tag
            tag.api = t
        return t

    @property
    def type(self) -> FuncType:
        """The tag's function type: params are the payload's types, no results."""
        return self._tag.type

    @property
    def params(self) -> Tuple[int, ...]:
        """The types of the values an exception with this tag carries."""
        return self._tag.type.params

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tag) and other._tag is self._tag

    def __hash__(self) -> int:
        return hash(id(self._tag))

    def __repr__(self) -> str:
        return f"<Tag {self._tag.name} {self._tag.type}>"


class ExnRef:
    """An exception reference (an ``exnref`` value): a caught wasm exception that
    can be passed around and re-thrown (``throw_ref``).  ``tag``/``payload`` as
    :class:`~pywazero.WasmException`'s; ``exception`` is the exception itself
    (raise it to throw it again)."""

    __slots__ = ("_exn",)

    def __init__(self, exn: WasmException) -> None:
        if not isinstance(exn, WasmException):
            raise TypeError(f"ExnRef wraps a WasmException, not {type(exn).__name__}")
        self._exn = exn

    @property
    def tag(self) -> "Tag":
        """The :class:`Tag` the exception was thrown with."""
        t: Tag = self._exn.tag
        return t

    @property
    def payload(self) -> Tuple[Any, ...]:
        """The values the exception carries, converted as function results are."""
        return self._exn.payload

    @property
    def exception(self) -> WasmException:
        """The :class:`~pywazero.WasmException` itself (raise it to throw it again)."""
        return self._exn

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExnRef) and other._exn is self._exn

    def __hash__(self) -> int:
        return hash(id(self._exn))

    def __repr__(self) -> str:
        return f"<ExnRef {self._exn._tag.name} {self.payload!r}>"


def exception_values(tag: Any, payload: Sequence[Any]) -> Tuple[TagInstance, Tuple[Any, ...]]:
    """``WasmException(tag, payload)``'s arguments as the store tag and the payload's
    internal values (TypeError/ValueError when they do not fit the tag's type)."""
    if isinstance(tag, Tag):
        ti = tag._tag
    elif isinstance(tag, TagInstance):
        ti = tag
    else:
        raise TypeError(f"WasmException needs a pywazero Tag, not {type(tag).__name__}")
    params = ti.type.params
    if isinstance(payload, (str, bytes)) or not hasattr(payload, "__len__"):
        raise TypeError("WasmException payload must be a sequence of values")
    if len(payload) != len(params):
        raise TypeError(f"tag {ti.name} takes {len(params)} payload values, got {len(payload)}")
    return ti, tuple(to_raw(t, v, f"payload value {i}") for i, (t, v) in enumerate(zip(params, payload)))


# -- modules -----------------------------------------------------------------------

_E = TypeVar("_E", "Function", "Memory", "Table", "Global")

#: What a module exports, and what an import is satisfied with: a facade.
Extern = Union["Function", "Memory", "Table", "Global", "Tag"]

class Module:
    """An instantiated module.

    ``exports`` maps export names to :class:`Function`, :class:`Memory`,
    :class:`Table` or :class:`Global`.  Closing the module unregisters its name from
    the runtime; calling its functions afterwards raises.
    """

    def __init__(self, instance: ModuleInstance, runtime: Optional[Runtime] = None) -> None:
        self._inst = instance
        self._runtime = runtime
        self._exports: Optional[Dict[str, Extern]] = None
        self._facades: Dict[str, Extern] = {}

    @property
    def name(self) -> Optional[str]:
        """The name given by ``ModuleConfig(name=...)`` (or the module's own name
        section), None for an anonymous instance."""
        return self._inst.name

    @property
    def instance(self) -> ModuleInstance:
        """The underlying store object (for engines and advanced use)."""
        return self._inst

    @property
    def exports(self) -> Dict[str, Extern]:
        """Every export by name: :class:`Function`, :class:`Memory`, :class:`Table`,
        :class:`Global` or :class:`Tag`.

        >>> import pywazero as wz
        >>> m = wz.Runtime().instantiate('(module (memory (export "m") 1) (func (export "f")))')
        >>> sorted(m.exports), type(m.exports["m"]).__name__
        (['f', 'm'], 'Memory')
        """
        if self._exports is None:
            made = self._facades
            self._exports = {name: made[name] if name in made else wrap_extern(v, self)
                             for name, v in self._inst.exports.items()}
        return self._exports

    def _get(self, name: str, cls: Type[_E], what: str) -> _E:
        # one facade per export, made on demand (not all of them for one lookup)
        if self._exports is not None:
            v = self._exports.get(name)
        else:
            v = self._facades.get(name)
            if v is None:
                raw = self._inst.exports.get(name)
                if raw is not None:
                    v = self._facades[name] = wrap_extern(raw, self)
        if v is None:
            raise KeyError(f"module {self.name or '<anonymous>'} has no export {name!r}")
        if not isinstance(v, cls):
            raise TypeError(f"export {name!r} is not a {what}")
        return v

    def function(self, name: str) -> Function:
        """The function exported as ``name`` (KeyError when there is none, TypeError
        when that export is not a function).

        >>> import pywazero as wz
        >>> m = wz.Runtime().instantiate('''(module (func (export "add")
        ...   (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))''')
        >>> m.function("add")(2, 3)
        5
        """
        return self._get(name, Function, "function")

    def memory(self, name: Optional[str] = None) -> Memory:
        """The memory exported as ``name``; without a name, the first exported memory
        (or the module's memory 0)."""
        if name is not None:
            return self._get(name, Memory, "memory")
        for ename, v in self._inst.exports.items():
            if isinstance(v, MemoryInstance):
                return self._get(ename, Memory, "memory")
        if self._inst.mems:
            return Memory(self._inst.mems[0])
        raise KeyError(f"module {self.name or '<anonymous>'} has no memory")

    def table(self, name: str) -> Table:
        """The table exported as ``name`` (KeyError / TypeError as :meth:`function`)."""
        return self._get(name, Table, "table")

    def global_(self, name: str) -> Global:
        """The global exported as ``name`` (KeyError / TypeError as :meth:`function`)."""
        return self._get(name, Global, "global")

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._inst.closed

    def snapshot(self, *, remove_exports: Sequence[str] = ()) -> CompiledModule:
        """A new :class:`~pywazero.CompiledModule` whose instances start with this
        instance's memories, globals and tables as they are now (what Wizer does):
        run an expensive initialisation once, snapshot, and instantiate the
        snapshot as often as needed without running it again.

        The snapshot has no start function (it has run); ``remove_exports`` names
        exports to leave out (e.g. the initialisation function, so it cannot run
        twice, or a command's ``_start``: ``Runtime.instantiate`` calls
        ``ModuleConfig.start_functions``, ``("_start",)`` by default).  Imports stay
        as they are and are resolved afresh by each instantiation; WASI state
        (descriptors, arguments, environment) is not captured: each new instance
        gets its own from its ``ModuleConfig``.  The snapshot can be instantiated,
        pickled and serialized like any compiled module of the runtime.

        Raises ValueError, with the reason, for what cannot be captured: a module
        that is closed or whose wasm is running (called from a host function; a
        call running in another thread cannot be seen: don't snapshot then), an
        imported memory, table or mutable global (their state belongs to another
        module), a table or global holding a host function, another instance's
        function, an externref, a GC struct or array or an exnref.

        >>> import pywazero
        >>> rt = pywazero.Runtime()
        >>> m = rt.instantiate('''(module (global $n (export "n") (mut i32) (i32.const 0))
        ...   (func (export "init") (global.set $n (i32.const 42))))''')
        >>> m.function("init")()
        >>> snap = m.snapshot(remove_exports=["init"])
        >>> rt.instantiate(snap).global_("n").value
        42
        """
        from .snapshot import snapshot

        return snapshot(self, remove_exports)

    def close(self) -> None:
        """Unregister the module's name from its runtime and close the files and
        sockets it opened through WASI; calling its functions afterwards raises.
        Closing twice does nothing.  ``with`` closes it too."""
        if self._inst.closed:
            return
        self._inst.closed = True
        if self._runtime is not None:
            self._runtime._forget(self._inst)
        wasi_state = getattr(self._inst, "wasi_state", None)
        if wasi_state is not None:  # files and sockets the guest opened through WASI
            wasi_state.close_all()

    def __enter__(self) -> "Module":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[str]:
        return iter(self.exports)

    def __repr__(self) -> str:
        return f"<Module {self.name or '<anonymous>'} exports={list(self._inst.exports)}>"


class Caller:
    """What a host function declared ``with_caller`` receives first: the module whose
    wasm code made the call (None fields when called directly from Python)."""

    __slots__ = ("_inst",)

    def __init__(self, inst: Optional[ModuleInstance]) -> None:
        self._inst = inst

    @property
    def module(self) -> Optional[Module]:
        """The calling module, or None when the host function was called from Python."""
        return None if self._inst is None else Module(self._inst)

    def memory(self, name: Optional[str] = None) -> Memory:
        """The calling module's memory: exported ``name``, else its memory 0."""
        inst = self._inst
        if inst is None:
            raise LookupError("host function was not called from wasm: no caller memory")
        if name is not None:
            v = inst.exports.get(name)
            if not isinstance(v, MemoryInstance):
                raise KeyError(f"calling module has no memory export {name!r}")
            return Memory(v)
        if not inst.mems:
            raise LookupError("calling module has no memory")
        return Memory(inst.mems[0])

    def function(self, name: str) -> Function:
        """The calling module's function exported as ``name`` (KeyError if none)."""
        inst = self._inst
        v = None if inst is None else inst.exports.get(name)
        if not isinstance(v, FunctionInstance):
            raise KeyError(f"calling module has no function export {name!r}")
        return Function(v)

    def global_(self, name: str) -> Global:
        """The calling module's global exported as ``name`` (KeyError if none)."""
        inst = self._inst
        v = None if inst is None else inst.exports.get(name)
        if not isinstance(v, GlobalInstance):
            raise KeyError(f"calling module has no global export {name!r}")
        return Global(v)


# The exception class sits below this layer (errors.py imports nothing); give it the
# public views of tags and values.
WasmException._api_arguments = exception_values
WasmException._api_tag = Tag._of
WasmException._api_value = from_raw
