"""Host modules: Python functions, globals, tables and memories that WebAssembly
modules can import.

>>> import pywazero as wz
>>> rt = wz.Runtime(wz.RuntimeConfig(engine="interpreter"))
>>> seen = []
>>> env = (rt.host_module("env")
...          .function("log", seen.append, params=[wz.I32], results=[])
...          .global_("base", wz.I32, 666)
...          .instantiate())
>>> m = rt.instantiate('(module (import "env" "log" (func $log (param i32)))'
...                    ' (import "env" "base" (global $b i32))'
...                    ' (func (export "run") (call $log (global.get $b))))')
>>> m.function("run")(); seen
[666]

Host functions receive and return Python values converted as for
:class:`~pywazero.api.Function` calls (signed ints, floats, ...).  A function that
needs the calling module (to read its memory, say) asks for a
:class:`~pywazero.api.Caller` as its first argument: pass ``with_caller=True``, or let
it be detected: a first parameter named ``caller`` (or annotated ``Caller``), or one
more required positional parameter than the wasm signature has.  With ``raw=True``
arguments and results are raw bit patterns as in ``Function.call_raw``.  Exceptions
a host function raises propagate unchanged to whoever called into WebAssembly.
"""
from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from .api import Caller, Extern, Module, from_raw, raw_bits_in, raw_bits_out, owned_by, same_runtime, to_raw
from .wasm.subtyping import RefType, top_heap
from .wasm.instance import (
    GlobalInstance,
    HostFunctionInstance,
    MemoryInstance,
    ModuleInstance,
    TableInstance,
    TagInstance,
)
from .wasm.types import (
    EXTERN_FUNC,
    EXTERN_GLOBAL,
    EXTERN_MEMORY,
    EXTERN_TABLE,
    EXTERN_TAG,
    EXTERNREF,
    F32,
    F64,
    FUNCREF,
    I32,
    I64,
    MAX_PAGES,
    MAX_PAGES64,
    HT_EXTERN,
    HT_FUNC,
    VALUE_TYPES,
    is_ref,
    ref_heap,
    FuncType,
    GlobalType,
    Limits,
    MemoryType,
    TableType,
)

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = ["HostModuleBuilder", "make_host_function"]

# the store objects a host module makes (each has an ``owner``)
_T = TypeVar("_T", MemoryInstance, TableInstance, GlobalInstance, TagInstance)

# what the store calls: ``raw(caller instance, raw args) -> raw results``
_RawCall = Callable[[Optional[ModuleInstance], List[Any]], List[Any]]


def _wants_caller(fn: Callable[..., Any], nparams: int) -> bool:
    """Whether ``fn`` takes a :class:`Caller` first: its first parameter is named
    ``caller`` or annotated ``Caller``, or it requires exactly one positional argument
    more than the wasm signature has."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    positional = [p for p in sig.parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if positional:
        first = positional[0]
        ann = first.annotation
        if first.name == "caller" or ann is Caller or ann == "Caller":
            return True
    if any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values()):
        return False
    required = sum(1 for p in positional if p.default is p.empty)
    return required == nparams + 1


def _check_types(types: Sequence[int], what: str) -> Tuple[int, ...]:
    """Value types given at the API, in the store's form: ints (``pywazero.I32``,
    ``FUNCREF``, ...) or :class:`~pywazero.RefType` (any reference type, e.g.
    ``RefType.of(FuncType((I32,), ()), nullable=False)`` for ``(ref $t)``)."""
    out = []
    for t in types:
        if isinstance(t, RefType):
            out.append(t.closed)
            continue
        if t not in VALUE_TYPES and not (isinstance(t, int) and 0 < t < 0x200 and is_ref(t)):
            raise ValueError(f"{what}: {t!r} is not a value type (use pywazero.I32, ..., "
                             f"or pywazero.RefType)")
        out.append(int(t))
    return tuple(out)


def make_host_function(fn: Callable[..., Any], params: Sequence[int], results: Sequence[int], *,
                       name: str = "host", with_caller: Optional[bool] = None,
                       raw: bool = False) -> HostFunctionInstance:
    """Wrap a Python callable as a :class:`HostFunctionInstance`."""
    if not callable(fn):
        raise TypeError(f"host function {name!r} must be callable")
    ptypes = _check_types(params, f"host function {name!r} params")
    rtypes = _check_types(results, f"host function {name!r} results")
    ftype = FuncType(ptypes, rtypes)
    if with_caller is None:
        with_caller = _wants_caller(fn, len(ptypes))
    conv_in = raw_bits_out if raw else from_raw
    conv_out = raw_bits_in if raw else to_raw
    nres = len(rtypes)
    # ints and floats need converting; refs of externref type pass through
    plain_in = all(t == EXTERNREF for t in ptypes)
    # (an externref result may itself be a tuple or list: never unwrapped)
    extern_result = bool(rtypes) and is_ref(rtypes[0]) and top_heap(ref_heap(rtypes[0])) == HT_EXTERN

    if not raw and nres <= 1 and len(ptypes) <= _MAX_SPECIALISED:
        return HostFunctionInstance(ftype, _specialised_call(fn, ptypes, rtypes, with_caller, plain_in,
                                                             extern_result, name), name)

    def call(caller_inst: Optional[ModuleInstance], args: List[Any]) -> List[Any]:
        if plain_in:
            pyargs = args
        else:
            pyargs = [conv_in(t, v) for t, v in zip(ptypes, args)]
        if with_caller:
            r = fn(Caller(caller_inst), *pyargs)
        else:
            r = fn(*pyargs)
        if nres == 0:
            return []
        if nres == 1:
            if isinstance(r, (tuple, list)) and len(r) == 1 and not extern_result:
                r = r[0]
            what = f"result of host function {name}"
            return [same_runtime(caller_inst, conv_out(rtypes[0], r, what), what)]
        if not isinstance(r, (tuple, list)) or len(r) != nres:
            raise TypeError(f"host function {name} must return a sequence of {nres} values")
        return [same_runtime(caller_inst, conv_out(t, v, f"result {i} of host function {name}"),
                             f"result {i} of host function {name}")
                for i, (t, v) in enumerate(zip(rtypes, r))]

    return HostFunctionInstance(ftype, call, name)


# host functions of up to this many parameters (and at most one result) get a
# ``call`` written out for their signature
_MAX_SPECIALISED = 16


def _specialised_call(fn: Callable[..., Any], ptypes: Sequence[int], rtypes: Sequence[int], with_caller: bool,
                      plain_in: bool, extern_result: bool, name: str) -> _RawCall:
    """The raw ``call(caller_inst, args)`` of :func:`make_host_function`, written out
    for one signature (as ``api.Function`` is): i32/i64 arguments converted inline,
    floats passed as they are, an int or float result checked inline; everything
    else, and every error, through ``from_raw``/``to_raw`` as in the generic path."""
    n = len(ptypes)
    names = ["a%d" % i for i in range(n)]
    lines = ["def call(caller_inst, args):"]
    if n:
        lines.append("    %s, = args" % ", ".join(names))
    conv = ["_Caller(caller_inst)"] if with_caller else []
    for a, t in zip(names, ptypes):
        if t == I32:
            conv.append("(%s - 4294967296 if %s & 2147483648 else %s)" % (a, a, a))
        elif t == I64:
            conv.append("(%s - 18446744073709551616 if %s & 9223372036854775808 else %s)" % (a, a, a))
        elif t == F32 or t == F64 or plain_in:
            conv.append(a)
        else:
            conv.append("_from_raw(%d, %s)" % (t, a))
    call = "fn(%s)" % ", ".join(conv)
    if not rtypes:
        lines += ["    %s" % call, "    return []"]
    else:
        t = rtypes[0]
        lines.append("    r = %s" % call)
        if t == I32 or t == I64:
            bits = 32 if t == I32 else 64
            lines += ["    if r.__class__ is int and %d <= r <= %d:" % (-(1 << (bits - 1)), (1 << bits) - 1),
                      "        return [r & %d]" % ((1 << bits) - 1)]
        elif t == F64:
            lines += ["    if r.__class__ is float:", "        return [r]"]
        if not extern_result:   # (a sequence of one value is that value)
            lines += ["    if isinstance(r, (tuple, list)) and len(r) == 1:", "        r = r[0]"]
        if is_ref(t) and top_heap(ref_heap(t)) == HT_FUNC:
            lines.append("    return [_same_runtime(caller_inst, _to_raw(%d, r, _what), _what)]" % t)
        else:
            lines.append("    return [_to_raw(%d, r, _what)]" % t)
    ns: Dict[str, Any] = {"fn": fn, "_Caller": Caller, "_from_raw": from_raw, "_to_raw": to_raw,
                          "_same_runtime": same_runtime, "_what": f"result of host function {name}"}
    exec(compile("\n".join(lines) + "\n", "<pywazero host function %s>" % name, "exec"), ns)
    made: _RawCall = ns["call"]
    return made


class HostModuleBuilder:
    """Collects host exports, then :meth:`instantiate` makes them a module named
    ``name`` in the runtime, importable by WebAssembly modules."""

    def __init__(self, runtime: Runtime, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError("host module name must be a str")
        self._runtime = runtime
        self._name = name
        self._exports: Dict[str, object] = {}

    def _add(self, name: str, value: object) -> "HostModuleBuilder":
        if not isinstance(name, str):
            raise TypeError("export name must be a str")
        if name in self._exports:
            raise ValueError(f"host module {self._name!r} already exports {name!r}")
        self._exports[name] = value
        return self

    def function(self, name: str, fn: Callable[..., Any], params: Sequence[int] = (),
                 results: Sequence[int] = (), *, with_caller: Optional[bool] = None,
                 raw: bool = False) -> "HostModuleBuilder":
        """Export Python callable ``fn`` as a function of type ``params -> results``."""
        f = make_host_function(fn, params, results, name=f"{self._name}.{name}",
                               with_caller=with_caller, raw=raw)
        return self._add(name, f)

    def global_(self, name: str, valtype: int, value: Any = None, *,
                mutable: bool = False) -> "HostModuleBuilder":
        """Export a global of type ``valtype`` holding ``value`` (a Python value;
        defaults to zero / null)."""
        (valtype,) = _check_types([valtype], f"global {name!r}")
        if value is None and not is_ref(valtype):
            value = 0
        raw = to_raw(valtype, value, f"global {name!r} value")
        owned_by(self._runtime._owner, raw, f"global {name!r} value")
        return self._add(name, self._owned(GlobalInstance(GlobalType(valtype, bool(mutable)), raw)))

    def table(self, name: str, elem_type: int = FUNCREF, min: int = 0, max: Optional[int] = None,
              init: Any = None, *, address_type: int = I32) -> "HostModuleBuilder":
        """Export a table of ``min`` entries (set to ``init``), growable to ``max``;
        charged to the runtime's budgets now (:class:`~pywazero.ResourceLimitError`
        when it does not fit).  ``address_type=I64`` makes a 64-bit table (table64:
        ``table.get`` and friends take i64 indices), e.g.
        ``rt.host_module("env").table("t", FUNCREF, 1, address_type=I64)``."""
        (elem_type,) = _check_types([elem_type], f"table {name!r}")
        if not is_ref(elem_type):
            raise ValueError("table element type must be a reference type (FUNCREF, EXTERNREF, a RefType)")
        if address_type not in (I32, I64):
            raise ValueError("table address type must be I32 or I64")
        bound = 0xFFFFFFFF if address_type == I32 else (1 << 64) - 1
        if not (isinstance(min, int) and 0 <= min <= bound) or (
                max is not None and not (isinstance(max, int) and min <= max <= bound)):
            raise ValueError("invalid table limits")
        raw = owned_by(self._runtime._owner, to_raw(elem_type, init), f"table {name!r} init")
        t = TableInstance(TableType(elem_type, Limits(min, max), address_type), raw, self._runtime._budget)
        return self._add(name, self._owned(t))

    def memory(self, name: str, min_pages: int = 1, max_pages: Optional[int] = None, *,
               address_type: int = I32) -> "HostModuleBuilder":
        """Export a linear memory of ``min_pages`` pages, growable to ``max_pages``;
        charged to the runtime's budgets now (:class:`~pywazero.ResourceLimitError`
        when it does not fit).  ``address_type=I64`` makes a 64-bit memory
        (memory64: i64 addresses, up to 2^48 pages declared; it grows no further than
        ``RuntimeConfig.memory_limit_pages``), e.g.
        ``rt.host_module("env").memory("mem", 1, 1 << 20, address_type=I64)``."""
        limit = self._runtime.config.memory_limit_pages
        if address_type not in (I32, I64):
            raise ValueError("memory address type must be I32 or I64")
        bound = MAX_PAGES if address_type == I32 else MAX_PAGES64
        if not isinstance(min_pages, int) or min_pages < 0 or (max_pages is not None and (
                not isinstance(max_pages, int) or max_pages < min_pages or max_pages > bound)):
            raise ValueError("invalid memory limits")
        if min_pages > limit:
            raise ValueError(
                f"memory minimum of {min_pages} pages exceeds the runtime's limit of {limit} pages"
            )
        m = MemoryInstance(MemoryType(Limits(min_pages, max_pages), address_type), limit,
                           self._runtime._budget)
        return self._add(name, self._owned(m))

    def tag(self, name: str, params: Sequence[int] = ()) -> "HostModuleBuilder":
        """Export a new tag (exception handling) whose exceptions carry values of
        types ``params``; ``module.exports[name]`` is its :class:`~pywazero.Tag`.
        (``.export(name, tag)`` exports an existing one.)"""
        from .api import Tag

        t = Tag(params, f"{self._name}.{name}")
        return self._add(name, self._owned(t._tag))

    def export(self, name: str, value: Extern) -> "HostModuleBuilder":
        """Re-export an existing Function, Memory, Table, Global or Tag (from any module
        of this runtime, a host function, or a tag made with :class:`~pywazero.Tag`);
        one of another runtime raises ``ValueError``."""
        from .api import unwrap_extern

        obj = unwrap_extern(value)
        self._runtime._check_owned(obj, f"cannot export {value!r} as {name!r}: it")
        return self._add(name, obj)

    def _owned(self, obj: _T) -> _T:
        obj.owner = self._runtime._owner
        return obj

    @property
    def name(self) -> str:
        """The module name the exports are imported by."""
        return self._name

    def instantiate(self) -> Module:
        """Create the module and register it in the runtime under this name."""
        return self._runtime._add_instance(self._instance())

    def build(self) -> Module:
        """Create the module without registering it in the runtime: for a
        :class:`~pywazero.Linker` (``linker.define_instance(name, builder.build())``,
        or ``linker.define_host_module(builder)``).

        >>> import pywazero as wz
        >>> rt = wz.Runtime()
        >>> env = rt.host_module("env").global_("g", wz.I32, 1).build()
        >>> env.global_("g").value, rt.module("env")
        (1, None)
        """
        from .api import Module as ModuleFacade

        self._runtime._check_open()
        inst = self._instance()
        self._runtime._own(inst)
        self._runtime._instances.add(inst)
        return ModuleFacade(inst, self._runtime)

    def _instance(self) -> ModuleInstance:
        inst = ModuleInstance(None, self._name)
        for name, v in self._exports.items():
            inst.exports[name] = v
            if isinstance(v, HostFunctionInstance):
                inst.export_kinds[name] = EXTERN_FUNC
                if v.module is None:
                    v.module = inst
                    inst.funcs.append(v)
            elif isinstance(v, TableInstance):
                inst.export_kinds[name] = EXTERN_TABLE
                inst.tables.append(v)
            elif isinstance(v, MemoryInstance):
                inst.export_kinds[name] = EXTERN_MEMORY
                inst.mems.append(v)
            elif isinstance(v, GlobalInstance):
                inst.export_kinds[name] = EXTERN_GLOBAL
                inst.globals.append(v)
            elif isinstance(v, TagInstance):
                inst.export_kinds[name] = EXTERN_TAG
                inst.tags.append(v)
            else:
                inst.export_kinds[name] = EXTERN_FUNC
        return inst
