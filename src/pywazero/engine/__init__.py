"""Execution engines.

An engine turns a validated :class:`~pywazero.wasm.module.Module` into per-module
compiled code **once** (cached on the :class:`~pywazero.CompiledModule`, holding no
per-instance state) and then binds that code to each module instance cheaply.

The contract every engine implements:

* ``Engine(config)`` -- ``config`` is the :class:`~pywazero.RuntimeConfig`.
* ``engine.compile_module(module) -> CompiledCode``; ``CompiledCode`` has

  - ``function_code(i)``: the engine's object for defined function ``i`` (stored as
    ``WasmFunctionInstance.code``, shared by every instance);
  - ``bind(instance)``: called once per instantiation after the instance's index
    spaces (functions, tables, memories, globals, segments, exports) are filled and
    before segments are applied and the start function runs; an engine may keep
    per-instance state in ``instance.engine_data``;
  - ``close()``: release what was compiled;
  - optionally ``function_engine(i)``: the engine that runs defined function ``i``
    (None: this engine).  A compiler can hand a function it cannot translate to an
    :class:`~pywazero.engine.interpreter.InterpreterEngine` this way, returning that
    engine here and ``InterpretedModule(module).function_code(i)`` as its code; the
    engines then call each other through ``FunctionInstance.call``.

* ``engine.invoke(function_instance, args) -> results``: call a wasm function of
  this engine with raw values (lists in, list out).
* ``engine.entry(function_instance) -> entry``: the same call as a callable taking
  raw values as positional arguments and returning None, the raw result or a tuple
  of them; ``pywazero.Function`` makes one when it is created and calls it on every
  call (the base class builds it on ``invoke``; an engine may specialise it).  Functions of other kinds are
  called through ``FunctionInstance.call(args)``; a host function is called as
  ``host.raw(caller_module_instance, args)``.

Traps are :class:`~pywazero.Trap` with the spec's message and ``wasm_stack`` (function
names, innermost first); call depth beyond ``config.max_call_depth`` traps with
"call stack exhausted" and never surfaces as ``RecursionError``.  Exceptions raised by
host functions propagate unchanged.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, List, Optional

__all__ = ["Engine", "CompiledCode", "create_engine", "call_depth"]


class CompiledCode:
    """Per-module compiled code (no per-instance state)."""

    def function_code(self, index: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def bind(self, instance: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def adopt(self, other: "CompiledCode") -> None:
        """Take over what ``other`` (code of the same engine) has translated so far,
        for a module whose functions are ``other``'s: the same bodies, types,
        globals' mutability and address types, while segments, initial values and
        sizes may differ (a snapshot, see ``pywazero.api.Module.snapshot``).  By
        default nothing is taken: functions are translated again when first called."""


class Engine:
    name = ""
    #: function listeners (engine/listen.py): ``listen(fi)`` gives a defined
    #: function's hooks or None; None (the default) when no listener is installed
    listen: Optional[Callable[[Any], Any]] = None

    def __init__(self, config: Any) -> None:
        from .limits import ExecutionLimits

        self.config = config
        #: the runtime's fuel and interruption state (see :mod:`.limits`)
        self.limits = ExecutionLimits(getattr(config, "consume_fuel", False),
                                      getattr(config, "interruptible", False))
        if self.limits.interruptible:
            # every call from Python is counted (see limits.ExecutionLimits.enter)
            self.invoke = _counted_invoke(self.invoke, self.limits)  # type: ignore[method-assign]

    def compile_module(self, module: Any) -> CompiledCode:  # pragma: no cover - abstract
        raise NotImplementedError

    def invoke(self, fn: Any, args: List[Any]) -> List[Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def entry(self, fn: Any) -> Callable[..., Any]:
        """A callable ``entry(*raw_args)`` that calls wasm function ``fn`` of this
        engine from Python as ``invoke`` does, returning None (no result), the raw
        result, or a tuple of raw results.  Made once per ``pywazero.Function``, so
        an engine can specialise it (the compiler engine does); this default goes
        through ``invoke``."""
        return _invoke_entry(self.invoke, fn)


def _counted_invoke(invoke: Callable[[Any, List[Any]], List[Any]], limits: Any) -> Callable[..., Any]:
    """``invoke`` counting the call as running (``ExecutionLimits.enter``/``leave``,
    inline)."""
    from .limits import bind_cells

    calls = limits.calls
    enter = calls.append
    pop = calls.pop
    flagged = limits._flagged_entry
    flag = 0   # (bound to limits.flag below)

    def counted(fn: Any, args: List[Any]) -> List[Any]:
        if flag:
            flagged()
        enter(1)
        try:
            return invoke(fn, args)
        finally:
            pop()

    bound: Callable[..., Any] = bind_cells(counted, {"flag": limits.flag})
    return bound


def _invoke_entry(invoke: Callable[[Any, List[Any]], List[Any]], fn: Any) -> Callable[..., Any]:
    nres = len(fn.type.results)
    if nres == 1:
        def entry(*args: Any) -> Any:
            return invoke(fn, list(args))[0]
    elif nres == 0:
        def entry(*args: Any) -> Any:
            invoke(fn, list(args))
            return None
    else:
        def entry(*args: Any) -> Any:
            return tuple(invoke(fn, list(args)))
    return entry


# Call depth of wasm frames below the current Python-level entry, per thread, so that
# wasm -> host -> wasm re-entry still counts towards max_call_depth.
class _CallDepth(threading.local):
    depth = 0   # class default: reading it never raises on a fresh thread
    hosts = 0   # host calls in progress on this thread (see stack.MAX_HOST_NESTING)
    deep = False   # this thread raised the recursion limit (see stack.deepen)


call_depth = _CallDepth()


def create_engine(config: Any) -> Engine:
    """The engine ``config.engine`` names."""
    name = config.engine
    if name == "interpreter":
        from .interpreter import InterpreterEngine

        return InterpreterEngine(config)
    if name == "compiler":
        try:
            from .compiler import CompilerEngine
        except ImportError:
            # The compiler engine is not available yet: fall back to the interpreter,
            # which has identical semantics.
            from .interpreter import InterpreterEngine

            return InterpreterEngine(config)
        return CompilerEngine(config)
    raise ValueError(f"unknown engine {name!r}")
