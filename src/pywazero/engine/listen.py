"""Function listeners at the engines' call-entry points (see
:mod:`pywazero.listener` for the public API).

An engine whose ``listen`` attribute is set (``Runtime`` sets it from
``RuntimeConfig.function_listener`` before compiling anything) asks
``listen(fi)`` once per defined function and compiled module, on first use, for
the function's *hooks*: an object with ``before(raw_args)``,
``after(raw_results)`` and ``abort(exception)``, or None (the function is not
listened to and runs exactly as without listeners).  With ``listen`` unset (the
default) nothing here is used, and both engines run the code they ran before
listeners existed.

* Compiler: the per-instance callable of a listened function (``fi.code``, its
  namespace name and its tail entry) is :func:`listened_callable` around the
  generated function, so every way of calling it (direct, indirect, tail, from
  Python) passes the hooks; the generated code of other functions is unchanged,
  except that with listeners on the compiler neither inlines callees nor lowers a
  self tail call to a loop, and does not use the cheap tier (each would hide
  calls).
* Interpreter: a listened function's ``engine`` is a :class:`ListenedEngine`, so
  the interpreter's loop calls it as another engine's function (a nested
  ``execute``, at the right call depth) with the hooks around it.  Such calls
  nest Python frames as host calls do: listened recursion deeper than
  ``stack.MAX_HOST_NESTING`` (500) levels traps "call stack exhausted".

A tail call to a listened function is reported as a call made by the tail-calling
function (its ``before``/``after`` nested in the caller's).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from . import Engine, _invoke_entry, call_depth
from .stack import MAX_HOST_NESTING, deepen

__all__ = ["hooks_for", "listened_callable", "ListenedEngine"]


def hooks_for(cache: Dict[int, Any], listen: Callable[[Any], Any], index: int, fi: Any) -> Any:
    """The hooks of defined function ``index`` (``fi`` one of its instances),
    asked of ``listen`` once and kept in ``cache`` (per compiled module)."""
    if index in cache:
        return cache[index]
    h = cache[index] = listen(fi)
    return h


def listened_callable(f: Callable[..., Any], hooks: Any, nres: int,
                      failure: Callable[[BaseException], BaseException]) -> Callable[..., Any]:
    """Compiler: ``f`` (the calling convention ``f(*raw_args, depth)``) with
    ``hooks`` called around it; ``failure(e)`` gives the exception ``abort`` is told
    of for ``e`` (a Trap for a memory access error, a host function's own
    exception, ...)."""
    before = hooks.before
    after = hooks.after
    abort = hooks.abort

    def listened(*a: Any) -> Any:
        before(list(a[:-1]))
        try:
            r = f(*a)
        except BaseException as e:
            abort(failure(e))
            raise
        after([] if nres == 0 else [r] if nres == 1 else list(r))
        return r

    listened.__name__ = "listened_" + getattr(f, "__name__", "f")
    return listened


class ListenedEngine(Engine):
    """Interpreter: the engine of a listened function, running it on ``inner``
    between ``hooks.before`` and ``hooks.after`` (or ``hooks.abort``)."""

    def __init__(self, inner: Any, hooks: Any) -> None:
        # (no Engine.__init__: the limits are the inner engine's)
        self.inner = inner
        self.name = inner.name
        self.config = inner.config
        self.limits = inner.limits
        self.hooks = hooks

    def invoke(self, fn: Any, args: List[Any]) -> List[Any]:
        hooks = self.hooks
        hooks.before(list(args))
        if call_depth.hosts > 50:
            # (each listened level is a few Python frames: let MAX_HOST_NESTING,
            # not the recursion limit, decide how deep it goes)
            deepen(12 * MAX_HOST_NESTING)
        try:
            res: List[Any] = self.inner.invoke(fn, args)
        except BaseException as e:
            hooks.abort(_unwrapped(e))
            raise
        hooks.after(list(res))
        return res

    def entry(self, fn: Any) -> Callable[..., Any]:
        return _invoke_entry(self.invoke, fn)

    def compile_module(self, module: Any) -> Any:  # pragma: no cover - never compiles
        return self.inner.compile_module(module)


def _unwrapped(e: BaseException) -> BaseException:
    # the interpreter carries a host function's exception in a _Passthrough
    exc: Optional[BaseException] = getattr(e, "exc", None)
    return exc if exc is not None and type(e).__name__ == "_Passthrough" else e
