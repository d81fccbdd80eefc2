"""Function listeners: Python hooks called before and after WebAssembly functions
run (like wazero's ``experimental.FunctionListener``), for tracing, profiling or
debugging.

Install a *factory* with ``RuntimeConfig(function_listener=factory)``.  The
runtime calls ``factory(definition)`` once per function of each compiled module
(at the latest when the function is first called) with its
:class:`FunctionDefinition`; it returns
a :class:`FunctionListener` for the function, or None to leave the function alone
(that is the filter: a function without listener costs nothing).  Then every call
of a listened function, however it is made (from Python, a direct, indirect or tail
call from wasm, through another module), calls

* ``listener.before(definition, args)`` before the function runs,
* ``listener.after(definition, results)`` when it returns, or
* ``listener.abort(definition, error)`` when it ends with an exception (a
  :class:`~pywazero.Trap`, an :class:`~pywazero.ExitError`, a wasm exception, a
  host function's own exception), which then propagates on.

``args`` and ``results`` are lists of Python values as a
:class:`~pywazero.Function` call takes and gives them (signed ints, floats,
references).  Host functions are not wasm functions and are not reported.

>>> import pywazero as wz
>>> events = []
>>> class Log(wz.FunctionListener):
...     def before(self, d, args): events.append(("call", d.name, args))
...     def after(self, d, results): events.append(("return", d.name, results))
>>> rt = wz.Runtime(wz.RuntimeConfig(function_listener=lambda d: Log()))
>>> m = rt.instantiate('(module (func $sq (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))'
...                    ' (func (export "f") (param i32) (result i32) (call $sq (local.get 0))))')
>>> m.function("f")(-3)
9
>>> for e in events: print(e)
('call', 'f', [-3])
('call', 'sq', [-3])
('return', 'sq', [9])
('return', 'f', [9])

With no ``function_listener`` (the default) the engines run exactly the code they
run without this feature.  With one, the compiler inlines no calls, runs no
function on its cheap tier and keeps a ``return_call`` of a function itself a call
(so each call is seen); a tail call is reported as a call nested in the
tail-calling function's.  On the interpreter each listened call nests Python calls,
as a host call does: listened recursion deeper than 500 levels traps "call stack
exhausted".  :func:`tracer` makes a factory printing an indented call trace
(``pywazero run --trace``).
"""
from __future__ import annotations

import fnmatch
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Protocol, Sequence, Tuple

from .wasm.types import FuncType

__all__ = ["FunctionDefinition", "FunctionListener", "FunctionListenerFactory", "tracer", "name_filter"]


@dataclass(frozen=True)
class FunctionDefinition:
    """What a listener is told about a function.

    ``index``: its index in the module's function index space; ``name``: as in trap
    stack traces (the name section's, else an export name, else ``$index``; with
    the module's name-section name as prefix when it has one); ``module_name``: the
    module's name from its name section (or None); ``export_names``: the names it
    is exported under; ``type``: its :class:`~pywazero.FuncType`.
    """

    index: int
    name: str
    module_name: Optional[str]
    export_names: Tuple[str, ...]
    type: FuncType


class FunctionListener:
    """Called around the calls of one function (see the module documentation).
    Subclass it and override what you need; the methods here do nothing.

    >>> FunctionListener().before(None, [])
    """

    def before(self, definition: FunctionDefinition, args: List[Any]) -> None:
        """The function is about to run with ``args``."""

    def after(self, definition: FunctionDefinition, results: List[Any]) -> None:
        """The function returned ``results``."""

    def abort(self, definition: FunctionDefinition, error: BaseException) -> None:
        """The function ended by ``error``, which propagates on after this."""


#: ``factory(definition) -> FunctionListener or None``: what
#: ``RuntimeConfig(function_listener=...)`` takes
FunctionListenerFactory = Callable[[FunctionDefinition], Optional[FunctionListener]]


def name_filter(patterns: "str | Sequence[str]") -> Callable[[FunctionDefinition], bool]:
    """A predicate selecting functions whose name or an export name matches one of
    ``patterns`` (shell-style wildcards, ``fnmatch``; a string is split on commas).

    >>> sel = name_filter("fib*,main")
    >>> d = FunctionDefinition(3, "prog.fib_rec", None, (), FuncType((), ()))
    >>> sel(d), sel(FunctionDefinition(4, "$4", None, ("main",), FuncType((), ())))
    (False, True)
    >>> name_filter("*fib*")(d)
    True
    """
    if isinstance(patterns, str):
        patterns = [p.strip() for p in patterns.split(",") if p.strip()]
    pats = list(patterns)

    def select(d: FunctionDefinition) -> bool:
        names = (d.name,) + tuple(d.export_names)
        return any(fnmatch.fnmatchcase(n, p) for n in names for p in pats)

    return select


class TextSink(Protocol):
    """Where text goes (:func:`tracer`, WASI host logging): anything with
    ``write(str)``, such as ``sys.stderr`` or ``io.StringIO()``."""

    def write(self, s: str, /) -> object: ...


def _fmt(values: Sequence[Any]) -> str:
    return ", ".join(repr(v) for v in values)


class _Tracer(FunctionListener):
    """Writes ``--> name(args)`` / ``<-- name = results`` lines, indented by call
    depth (per thread)."""

    def __init__(self, stream: TextSink, depth: threading.local) -> None:
        self.stream = stream
        self.depth = depth

    def before(self, d: FunctionDefinition, args: List[Any]) -> None:
        n = getattr(self.depth, "n", 0)
        self.stream.write("%s--> %s(%s)\n" % ("  " * n, d.name, _fmt(args)))
        self.depth.n = n + 1

    def after(self, d: FunctionDefinition, results: List[Any]) -> None:
        n = self.depth.n = getattr(self.depth, "n", 1) - 1
        self.stream.write("%s<-- %s%s\n" % ("  " * n, d.name, " = " + _fmt(results) if results else ""))

    def abort(self, d: FunctionDefinition, error: BaseException) -> None:
        n = self.depth.n = getattr(self.depth, "n", 1) - 1
        what = str(error).splitlines()[0] if str(error) else ""
        self.stream.write("%s<-- %s !! %s%s\n" % ("  " * n, d.name, type(error).__name__,
                                                 ": " + what if what else ""))


def tracer(stream: Optional[TextSink] = None,
           filter: "str | Sequence[str] | Callable[[FunctionDefinition], bool] | None" = None
           ) -> FunctionListenerFactory:
    """A listener factory printing every call of the selected functions to
    ``stream`` (default ``sys.stderr``, looked up when printing), indented by depth:
    ``--> name(args)`` and ``<-- name = results`` (``<-- name !! Trap: ...`` when
    it ends by an exception).  ``filter``: :func:`name_filter` patterns, or a
    predicate on the :class:`FunctionDefinition` (None: every function).

    >>> import io, pywazero as wz
    >>> out = io.StringIO()
    >>> rt = wz.Runtime(wz.RuntimeConfig(function_listener=tracer(out)))
    >>> m = rt.instantiate('(module (func $inc (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))'
    ...                    ' (func (export "f") (result i32) (call $inc (i32.const 1))))')
    >>> m.function("f")()
    2
    >>> print(out.getvalue(), end="")
    --> f()
      --> inc(1)
      <-- inc = 2
    <-- f = 2
    """
    select: Optional[Callable[[FunctionDefinition], bool]]
    if filter is None or callable(filter):
        select = filter
    else:
        select = name_filter(filter)
    depth = threading.local()

    class _Stderr:
        def write(self, s: str) -> None:
            sys.stderr.write(s)

    listener = _Tracer(stream if stream is not None else _Stderr(), depth)

    def factory(d: FunctionDefinition) -> Optional[FunctionListener]:
        return listener if select is None or select(d) else None

    return factory


# -- the engines' side (engine/listen.py) --------------------------------------------------

def definition_of(fi: Any) -> FunctionDefinition:
    """The :class:`FunctionDefinition` of wasm function instance ``fi``."""
    from .wasm.subtyping import describe_functype
    from .wasm.types import EXTERN_FUNC

    m = fi.module.module
    exports = tuple(e.name for e in m.exports if e.kind == EXTERN_FUNC and e.index == fi.index) if m else ()
    mod_name = m.names.module if m is not None else None
    # (as trap stacks name it, without the instance's registered name: a definition
    # is per module)
    local = m.names.functions.get(fi.index) if m is not None else None
    local = local or (exports[0] if exports else "$%d" % fi.index)
    name = "%s.%s" % (mod_name, local) if mod_name else local
    return FunctionDefinition(fi.index, name, mod_name, exports, describe_functype(fi.type))


class _Hooks:
    """A listener bound to one function, with raw values converted (what the
    engines call: ``before(raw_args)``, ``after(raw_results)``, ``abort(exc)``)."""

    __slots__ = ("before", "after", "abort")

    def __init__(self, listener: FunctionListener, d: FunctionDefinition, ftype: Any) -> None:
        from .api import from_raw

        # (the store's types: what from_raw converts by, as Function calls do)
        ptypes = ftype.params
        rtypes = ftype.results
        before, after, abort = listener.before, listener.after, listener.abort

        def on_before(raw: List[Any]) -> None:
            before(d, [from_raw(t, v) for t, v in zip(ptypes, raw)])

        def on_after(raw: List[Any]) -> None:
            after(d, [from_raw(t, v) for t, v in zip(rtypes, raw)])

        def on_abort(e: BaseException) -> None:
            abort(d, e)

        self.before = on_before
        self.after = on_after
        self.abort = on_abort


def engine_listen(factory: FunctionListenerFactory) -> Callable[[Any], Any]:
    """``engine.listen`` for ``RuntimeConfig.function_listener`` ``factory``."""
    if not callable(factory):
        raise TypeError("RuntimeConfig.function_listener must be callable: "
                        "factory(FunctionDefinition) -> FunctionListener or None")

    def listen(fi: Any) -> Any:
        d = definition_of(fi)
        listener = factory(d)
        return None if listener is None else _Hooks(listener, d, fi.type)

    return listen
