"""The compiler engine: each WebAssembly function becomes a Python function.

Per module (:class:`CompiledWasm`, cached on the ``CompiledModule``): a function's
Python source is generated (:mod:`.codegen`) and compiled with ``compile()`` the
first time any instance calls it, and the code object is kept for every later
instance.  Per instance (:meth:`CompiledWasm.bind`): one namespace dict holds what the
generated code refers to (memories' bytearrays, tables' element lists, globals,
callables of the other functions, helpers); a function object is
``types.FunctionType(code, namespace)``, so binding is cheap and calls between wasm
functions are plain Python calls.

Calling convention: ``f(arg0, ..., argN, depth) -> None | value | tuple``; ``depth``
is the wasm call depth of the callee (1 for the outermost frame) and the callee traps
with "call stack exhausted" past ``max_call_depth``.  ``WasmFunctionInstance.code``
of a function of this engine is its per-instance callable (a lazy stub until first
called).

Tail calls (``return_call``, ``return_call_indirect``, ``return_call_ref``): a
function containing one is generated as its *body*, which returns
``_TC((entry, args))`` (:class:`~.rt.TailCall`) for a tail call; its callable is a
trampoline (one shared template per arity) that calls the body, then
``entry(*args, depth)`` while the result is a TailCall, at the same depth: a chain
of tail calls through any function, module, table or host takes one Python frame.
``entry`` is the callee's *tail entry*: the body of a function with tail calls
(``f<k>_t`` in the namespace, ``callable._t``), else its ordinary callable
(:func:`tail_entry` finds it for any FunctionInstance).  Functions without tail
calls keep their code and convention; a ``return_call`` to one is a plain call at
the caller's depth, and a ``return_call`` of the function itself is a loop (without
fuel/interruption).

Traps: generated code raises :class:`~pywazero.Trap` directly, or lets
``struct.error``/``IndexError``/``OverflowError`` escape from a memory access;
:meth:`CompilerEngine.invoke` turns those into "out of bounds memory access" and
fills ``wasm_stack`` from the Python traceback (generated code objects are named
``<wasm:INDEX>``), so the hot path pays nothing for either.  A frame's byte offset
comes from the traceback's line, mapped back to the wasm instruction by generating
the function again with a record of lines (:meth:`CompiledWasm.body_index`), only
when a trap's frames are read.

Cheap tier (modules of at least ``CompilerEngine.tier_min_size`` bytes of code,
without fuel or interruption): a function runs on the interpreter for its first
``tier_calls`` calls (``fi.code`` is a counting callable that then compiles it), and a
loop of such a call that gets hot moves to compiled code at its header (on-stack
replacement, :mod:`.tier`): most functions of a large program run a few times, and
translating them (code generation and ``compile()``) costs far more than
interpreting them.

Use :func:`dump` to see the Python generated for a function.
"""
from __future__ import annotations

import os
import struct
import sys
import types as _types
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from ...errors import Trap
from ...wasm.diagnostics import wasm_frame
from ...wasm.impl_limits import COMPILER_MAX_DEPTH, COMPILER_MAX_INSTRUCTIONS, COMPILER_MAX_LOCALS
from ...wasm.instance import HostFunctionInstance, WasmFunctionInstance
from ...wasm.subtyping import func_subtype
from .. import CompiledCode, Engine, call_depth
from ..limits import bind_cells, needs_count
from ..pause import collector_paused
from ..listen import hooks_for, listened_callable
from ..stack import DEEP, MAX_HOST_NESTING, deepen, undeepen
from . import codegen
from .inline import Inliner
from .rt import BASE_NAMESPACE, TailCall, new_namespace

__all__ = ["CompilerEngine", "CompiledWasm", "dump", "tail_entry"]

_FALLBACK = "fallback"
# Set (never reset) once generated code has called out to a host function or the
# interpreter: until then no wasm frame can be below an invoke, so invoke can skip
# reading the (slow) thread-local call depth.  A flag rather than a counter, so that
# threads cannot corrupt it.
_REENTRY = [0]
_getrecursionlimit = sys.getrecursionlimit
_MEM_ERRORS = (struct.error, IndexError, OverflowError)


class _Passthrough(Exception):
    """Carries an exception raised by a host function past the handlers of
    :meth:`CompilerEngine.invoke`, which would otherwise translate it."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class CompiledWasm(CompiledCode):
    """Per-module code of the compiler engine (no per-instance state)."""

    def __init__(self, engine: "CompilerEngine", module: Any) -> None:
        self.engine = engine
        self.module = module
        self.func_types = module.func_types()
        self.nimp = len(self.func_types) - len(module.funcs)
        n = len(module.funcs)
        # per defined function: None (not compiled yet), (code, consts) or _FALLBACK
        self.codes: List[Any] = [None] * n
        self.names = ["f%d" % k for k in range(self.nimp + n)]
        self.lazy = _Lazy(self)
        # (by function index; a tiered function's interpreted code by ("tier", index))
        self.interp_codes: Dict[Union[int, Tuple[str, int]], Any] = {}
        self.fallback_reasons: Dict[int, str] = {}
        self._tail_funcs: Dict[int, bool] = {}
        # the per-module part of every instance's namespace; the helpers of
        # BASE_NAMESPACE a function uses join it when the function is created
        ns = {"__builtins__": BASE_NAMESPACE["__builtins__"]}
        for k, t in enumerate(module.types):
            ns["FT%d" % k] = t
        ns["_CW"] = self
        # called by a generated function entered deeper than engine.shallow_depth
        ns["_exhausted"] = engine._exhausted
        ns["_MAXD"] = engine.max_depth
        lim = engine.limits
        # execution limits: generated code charges fuel / tests the interrupt flag
        # (closure cells bound in materialize) and traps through these
        self._fuel = lim.consume_fuel
        self._intr = lim.interruptible
        if self._fuel or self._intr:
            ns["_refuel"] = lim.refill
            ns["_interrupted"] = lim.interrupted
            self._cells = {"_fuel": lim.fuel, "_intr": lim.flag}
        self._namespace = ns
        # the cheap tier (see tiered): only without execution limits, whose exact
        # check points the on-stack replacement does not keep
        # function listeners (engine/listen.py): hooks per defined function, asked
        # for on first use; with listeners on, no cheap tier, inlining or self-loop
        # (each would hide calls)
        self.listen = engine.listen
        self._hooks: Dict[int, Any] = {}
        self.tier = (engine.tier_min_size is not None and not (self._fuel or self._intr)
                     and self.listen is None and _code_bytes(module) >= engine.tier_min_size)
        self.calls: List[int] = [0] * n if self.tier else []
        self._call_thresholds: Dict[int, int] = {}
        self.osr_codes: Dict[Any, Any] = {}
        # (like the tier, only without execution limits: fuel counts and check
        # points follow the original instructions)
        self.inline_failures: Dict[int, str] = {}   # (a rewrite that did not validate)
        self.inliner = (Inliner(module, self.func_types)
                        if engine.inline and not (self._fuel or self._intr) and self.listen is None
                        else None)

    # -- the CompiledCode contract --------------------------------------------------
    def function_code(self, index: int) -> Any:
        # WasmFunctionInstance.code: this placeholder until the instance's function
        # object is created on first call (see _resolve).
        return self.lazy

    def function_codes(self) -> Any:
        """``function_code(i)`` for every defined function, in order."""
        return [self.lazy] * len(self.codes)

    def close(self) -> None:
        # Instances keep working (their stubs may still compile functions): only the
        # cached code objects are released.
        self.codes = [None] * len(self.codes)
        self.interp_codes = {}
        self.osr_codes = {}

    def adopt(self, other: CompiledCode) -> None:
        # Generated code reads from its module only the types, the globals'
        # mutability, tags and address types (immutable globals' values, memories,
        # tables and segments are bound per instance): a snapshot has the same.
        if isinstance(other, CompiledWasm):
            self.adopt_codes(other)

    def bind(self, inst: Any) -> None:
        g = new_namespace(self._namespace)
        g["_INST"] = inst
        g["_F"] = inst.funcs
        g["_E"] = inst.elems
        g["_D"] = inst.datas
        if inst.types != self.module.types:  # pragma: no cover - not made from this module
            for k, t in enumerate(inst.types):
                g["FT%d" % k] = t
        for k, m in enumerate(inst.mems):
            g["M%d" % k] = m.data
            g["MI%d" % k] = m
        for k, t in enumerate(inst.tables):
            g["T%d" % k] = t.elements
            g["TI%d" % k] = t
        for k, gl in enumerate(inst.globals):
            if gl.type.mutable:
                g["G%d" % k] = gl
            else:
                g["g%d" % k] = gl.value
        for k, tag in enumerate(inst.tags):
            g["TG%d" % k] = tag
        g["_ci"], g["_cr"], g["_CIMAKE"], g["_CR"] = _make_call_indirect(inst)
        funcs = inst.funcs
        names = self.names
        for k in range(self.nimp):
            g[names[k]] = _callable_for(funcs[k], inst)
        # Defined functions get their callables lazily: a function's callees are
        # bound (as stubs, if not created yet) when the function itself is created.
        inst.engine_data = g
        # (the recursion limit is raised only while a deep call runs: see
        # CompilerEngine._exhausted and engine/stack.py)

    # -- persistence (see persist.py) ----------------------------------------------------
    def translated(self) -> List[int]:
        """The defined functions translated so far (``codes[i]`` filled: generated
        Python, or marked to run on the interpreter), in index order.

        >>> import pywazero
        >>> cm = pywazero.Runtime().compile('(module (func (export "f")))')
        >>> cw = cm._engine_code()
        >>> cw.translated(), (cw.compile_all(), cw.translated())[1]
        ([], [0])
        """
        return [i for i, e in enumerate(self.codes) if e is not None]

    def translate_used(self) -> int:
        """Translate now every function that has run only on the cheap tier's
        interpreter so far (called, not compiled yet), so that exporting afterwards
        carries every function used here; returns how many were translated.  (Without
        the tier every function called is translated already.)"""
        calls, codes = self.calls, self.codes
        n = 0
        for i in range(len(calls)):
            if calls[i] and codes[i] is None:
                self.get_code(i)
                n += 1
        return n

    def code_key(self) -> str:
        """What this module's generated code depends on besides the module (Python,
        pywazero, execution-limit settings): code exported here is imported only
        where this is equal (see :mod:`.persist`)."""
        from .persist import code_key

        return code_key(self)

    def export_codes(self, indices: Optional[Any] = None) -> bytes:
        """The translated functions among ``indices`` (defined-function indices,
        default all) as a self-checking *code chunk* for :meth:`import_codes`.
        Untranslated functions are skipped, as are those whose code holds
        process-specific objects (GC casts and allocations), which are translated
        again where imported.  To add the functions translated since an earlier
        export, pass ``set(cw.translated()) - exported_before``; chunks are
        independent and may be imported in any order.

        >>> import pywazero
        >>> cw = pywazero.Runtime().compile('(module (func (export "f")))')._engine_code()
        >>> cw.compile_all()
        >>> cw2 = pywazero.Runtime().compile('(module (func (export "f")))')._engine_code()
        >>> cw2.import_codes(cw.export_codes()), cw2.translated()
        (1, [0])
        """
        from .persist import export_codes

        return export_codes(self, indices)

    def import_codes(self, data: Any, verified: bool = False) -> int:
        """Fill untranslated functions from a chunk of :meth:`export_codes` made for
        the same module; returns how many were filled.  A chunk made under another
        :meth:`code_key` (another Python, pywazero or limits) is ignored (0); a
        damaged or truncated one raises :class:`~pywazero.SerializationError` before
        anything is unmarshalled (``verified``: the caller checked a digest over
        the chunk already, e.g. inside a serialized module).  The chunk must come
        from a trusted source: its code objects run.  Functions already translated
        keep their code."""
        from .persist import import_codes

        return import_codes(self, data, verified)

    def adopt_codes(self, other: "CompiledWasm") -> int:
        """Share the translated functions of ``other`` (same module, this process:
        entries are immutable and hold no per-instance or per-engine object) when
        their :meth:`code_key` matches; returns how many were taken."""
        if len(other.codes) != len(self.codes) or other.code_key() != self.code_key():
            return 0
        codes = self.codes
        n = 0
        for i, e in enumerate(other.codes):
            if e is not None and codes[i] is None:
                codes[i] = e
                if e is _FALLBACK and i in other.fallback_reasons:
                    self.fallback_reasons[i] = other.fallback_reasons[i]
                n += 1
        return n

    # -- compilation ------------------------------------------------------------------
    def source(self, index: int, annotate: bool = False) -> str:
        """The generated Python source of defined function ``index`` (with the wasm
        instructions as comments when ``annotate``)."""
        self._check_size(index)
        inlined = self._inlined(self.module, index)
        for module in (inlined, self.module):
            try:
                return codegen.generate(module, index, self.func_types, self.engine.shallow_depth,
                                        self.engine.back_edge_hook, annotate, self._fuel, self._intr,
                                        self.tail_funcs)[0]
            except codegen.TooComplex:
                if module is self.module:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def tail_funcs(self, index: int) -> bool:
        """Whether defined function ``index`` has tail calls, so a tail entry (a body
        under a trampoline); a ``return_call`` of itself alone is a loop and needs
        none, unless fuel or interruption is on (cached)."""
        known = self._tail_funcs
        r = known.get(index)
        if r is None:
            r = known[index] = codegen.has_tail_calls(
                self.module.funcs[index].body,
                None if self._fuel or self._intr or self.listen is not None else self.nimp + index)
        return r

    def _check_size(self, index: int, module: Any = None) -> None:
        """Raise TooComplex for a function too large to hand to Python's compiler
        (its memory grows much faster than the body): it runs on the interpreter,
        whose translation is proportional to the body."""
        module = module or self.module
        f = module.funcs[index]
        n = len(f.body)
        if n > COMPILER_MAX_INSTRUCTIONS:
            raise codegen.TooComplex("%d instructions (more than %d)" % (n, COMPILER_MAX_INSTRUCTIONS))
        nlocals = len(module.types[f.type_index].params) + sum(c for c, _ in f.locals)
        if nlocals > COMPILER_MAX_LOCALS:
            raise codegen.TooComplex("%d locals (more than %d)" % (nlocals, COMPILER_MAX_LOCALS))
        if n > COMPILER_MAX_DEPTH:  # (no deeper nesting possible in fewer instructions)
            depth = deepest = 0
            for op, _ in f.body:
                if op == 0x02 or op == 0x03 or op == 0x04:
                    depth += 1
                    if depth > deepest:
                        deepest = depth
                elif op == 0x0B:
                    depth -= 1
            if deepest > COMPILER_MAX_DEPTH:
                raise codegen.TooComplex("blocks nested %d deep (more than %d)" % (deepest, COMPILER_MAX_DEPTH))

    def get_code(self, index: int) -> Any:
        entry = self.codes[index]
        if entry is None:
            entry = self._compile(index)
            self.codes[index] = entry
        return entry

    def _compile(self, index: int) -> Any:
        entry = self._translate(self.module, index, self.func_types, self.nimp + index)
        # The code object is what stays: a lazily decoded body (and its validator
        # facts) is dropped again, decoded anew should anything read it later.
        self.module.funcs[index].release()
        return entry

    def _translate(self, module: Any, index: int, func_types: List[int], fidx: int,
                   param_defaults: Any = ()) -> Any:
        """The code of defined function ``index`` of ``module`` (this module, or a
        copy holding an on-stack-replacement function), its code object named
        ``<wasm:fidx>``; _FALLBACK (the reason recorded) if Python cannot run it."""
        try:
            self._check_size(index, module)
            with collector_paused():
                inlined = self._inlined(module, index)
                try:
                    code, consts, callees, tail = self._generate(inlined, index, func_types, fidx,
                                                                 param_defaults)
                except (codegen.TooComplex, SyntaxError, RecursionError, MemoryError):
                    if inlined is module:
                        raise
                    # (the inlined bodies' nesting may be what Python cannot take)
                    code, consts, callees, tail = self._generate(module, index, func_types, fidx,
                                                                 param_defaults)
        except (codegen.TooComplex, SyntaxError, RecursionError, MemoryError) as e:
            self.fallback_reasons[index] = "%s: %s" % (type(e).__name__, e)
            return _FALLBACK
        except Exception as e:  # noqa: BLE001 - a code generator bug: stay correct
            self.fallback_reasons[index] = "internal error: %s: %s" % (type(e).__name__, e)
            return _FALLBACK
        for c in code.co_consts:
            if isinstance(c, _types.CodeType):
                if c.co_name == "_limits":  # the wrapper binding the limits' cells
                    c = next(k for k in c.co_consts if isinstance(k, _types.CodeType))
                defaults = tuple(_LITERALS[v] for v in param_defaults) if param_defaults else None
                return (c, consts, callees, _helpers_of(c), tail, _instance_names_of(c), defaults)
        raise AssertionError("no function in generated code")  # pragma: no cover

    def _generate(self, module: Any, index: int, func_types: List[int], fidx: int,
                  param_defaults: Any) -> Any:
        """``(module code object, constants, callees, tail)`` of defined function
        ``index`` of ``module`` (see _translate)."""
        src, consts, callees, tail = codegen.generate(
            module, index, func_types, self.engine.shallow_depth, self.engine.back_edge_hook,
            fuel=self._fuel, interrupt=self._intr, tail_funcs=self.tail_funcs,
            param_defaults=param_defaults, listen=self.listen is not None)
        return compile(src, "<wasm:%d>" % fidx, "exec"), consts, callees, tail

    # -- diagnostics ----------------------------------------------------------------
    def body_index(self, index: int, code: Any, lineno: int) -> Optional[int]:
        """The index in defined function ``index``'s body of the wasm instruction
        that line ``lineno`` of its generated code object ``code`` comes from (None
        if unknown).  The function is generated again with a record of each line's
        instruction (generation is deterministic), once per code object, when a
        trap's frames are first read: the normal path keeps no line table."""
        cache = self.__dict__.setdefault("_origins_cache", {})
        origins = cache.get(code, False)
        if origins is False:
            func = self.module.funcs[index]
            kept = func.decoded
            try:
                origins = self._line_origins(index, code)
            except Exception:  # noqa: BLE001 - diagnostics must never fail
                origins = None
            finally:
                if not kept:
                    func.release()
            cache[code] = origins
        if origins is None or not 0 < lineno <= len(origins):
            return None
        at = origins[lineno - 1]
        return at if at >= 0 else None

    def _line_origins(self, index: int, code: Any) -> Optional[List[int]]:
        module = self.module
        for (i, loop_at), entry in list(self.osr_codes.items()):
            if i == index and entry is not _FALLBACK and entry[0] is code:
                # an on-stack replacement function: its body maps back by identity
                variant = _osr_variant(module, index, loop_at)
                if variant is None:
                    return None
                m, defaults = variant
                func, body = module.funcs[index], m.funcs[-1].body
                lines = self._origins_of(m, len(module.funcs), self.func_types + [len(module.types)],
                                         self.nimp + index, defaults, code)
                if lines is None:
                    return None
                back = _aligned(body, func.body)
                return [back[x] if 0 <= x < len(back) else x for x in lines]
        return self._origins_of(module, index, self.func_types, self.nimp + index, (), code)

    def _origins_of(self, module: Any, index: int, func_types: List[int], fidx: int,
                    param_defaults: Any, code: Any) -> Optional[List[int]]:
        """Line origins (codegen.generate's ``origins``) of the variant of defined
        function ``index`` of ``module`` (inlined or not) that compiles to ``code``,
        as indices in the body before inlining."""
        inlined = self._inlined(module, index)
        for m in (inlined, module) if inlined is not module else (module,):
            lines: List[int] = []
            try:
                src = codegen.generate(
                    m, index, func_types, self.engine.shallow_depth, self.engine.back_edge_hook,
                    fuel=self._fuel, interrupt=self._intr, tail_funcs=self.tail_funcs,
                    param_defaults=param_defaults, listen=self.listen is not None,
                    origins=lines)[0]
                made = _function_code(compile(src, "<wasm:%d>" % fidx, "exec"))
            except Exception:  # noqa: BLE001 - this variant cannot be what ran
                continue
            if made.co_code != code.co_code or made.co_names != code.co_names:
                continue
            if m is not module and self.inliner is not None:
                func = module.funcs[index]
                back: List[int] = []
                self.inliner.rewrite(func, len(module.types[func.type_index].params), origins=back)
                lines = [back[x] if 0 <= x < len(back) else x for x in lines]
            return lines
        return None

    def _inlined(self, module: Any, index: int) -> Any:
        """``module``, or a copy of it whose defined function ``index`` has its small
        leaf callees inlined and its static call_indirects guarded (inline.py)."""
        inliner = self.inliner
        if inliner is None:
            return module
        func = module.funcs[index]
        made = inliner.rewrite(func, len(module.types[func.type_index].params))
        if made is None:
            return module
        import copy

        from ...wasm.module import Function
        from ...wasm.validation import validate_function

        locals_, body = made
        m = copy.copy(module)
        m.funcs = _Replaced(module.funcs, index, Function(func.type_index, locals_, body))
        try:
            self._check_size(index, m)
        except codegen.TooComplex:
            return module   # (the original may still fit Python's limits)
        try:
            validate_function(m, index)
        except Exception as e:  # noqa: BLE001 - a rewrite bug: the original stays
            self.inline_failures[index] = "%s: %s" % (type(e).__name__, e)
            return module
        # the validator's per-module context, built for the copy if the module had
        # none yet, serves the module too (same types, functions and features)
        if "_body_ctx" in m.__dict__ and "_body_ctx" not in module.__dict__:
            module.__dict__["_body_ctx"] = m.__dict__["_body_ctx"]
        return m

    def compile_all(self) -> None:
        """Compile every function now (instead of on first call)."""
        for i in range(len(self.codes)):
            self.get_code(i)

    def materialize(self, index: int, g: Dict[str, Any], fi: Any) -> Any:
        """Create instance ``g``'s function object for defined function ``index``."""
        if self.tier and self.codes[index] is None and (
                self.calls[index] <= self.engine.tier_calls or self.calls[index] <= self._call_threshold(index)):
            f = self._tiered(index, g, fi)
            if f is not None:
                return f
        entry = self.get_code(index)
        if entry is _FALLBACK:
            f = self._fallback(index, fi)
        else:
            f = self._bind(entry, g)
            if entry[4] is not None:
                f = self._with_trampoline(index, g, fi, f, entry[4])
                if self.listen is None:
                    return f
        if self.listen is not None:
            hooks = hooks_for(self._hooks, self.listen, index, fi)
            if hooks is not None:
                f = listened_callable(f, hooks, len(fi.type.results), self._listener_failure)
                name = self.names[self.nimp + index]
                if name + "_t" in g:   # (a tail call to it passes the hooks too)
                    g[name + "_t"] = f
        g[self.names[self.nimp + index]] = f
        fi.code = f
        return f

    def _listener_failure(self, e: BaseException) -> BaseException:
        """What a listener's ``abort`` is told of for exception ``e`` leaving a
        listened function (memory access errors become the Trap ``invoke`` will
        make of them; a host function's exception is its own)."""
        if isinstance(e, _Passthrough):
            return e.exc
        if isinstance(e, _MEM_ERRORS):
            return Trap("out of bounds memory access")
        if isinstance(e, RecursionError):
            return Trap("call stack exhausted")
        return e

    def _bind(self, entry: Any, g: Dict[str, Any]) -> Any:
        """The function object of code ``entry`` (from _translate) in instance
        namespace ``g``, with what it reads added to ``g``."""
        code, consts, callees, helpers, tail, caches, defaults = entry
        for name, v in helpers:
            if name not in g:
                g[name] = v
        for name, view, a, b in caches:
            if name not in g:
                # a memory's typed views, or a call_indirect cache
                g[name] = g["MI%d" % b].views(a) if view else g["_CIMAKE"](a, g["FT%d" % b])
        if consts:
            g.update(consts)
        names = self.names
        funcs = g["_F"]
        for k in callees:
            name = names[k]
            if name not in g:
                callee = funcs[k]
                c = callee.code
                g[name] = c if c.__class__ is not _Lazy else _make_stub(self, k - self.nimp, g, callee, name)
        if code.co_freevars:
            cells = self._cells
            return _types.FunctionType(code, g, None, defaults, tuple(cells[v] for v in code.co_freevars))
        return _types.FunctionType(code, g, None, defaults)

    # -- the cheap tier -----------------------------------------------------------------
    # In a large module (CompilerEngine.tier_min_size bytes of code, without
    # execution limits) most functions run a few times, and translating them costs
    # far more than running them on the interpreter (QuickJS's first output: ~70%
    # translation).  So a function starts on the interpreter, with a call counter: past
    # tier_calls calls it is compiled (for its next call).  A loop of an interpreted
    # call that runs _loop_threshold back-edges moves to compiled code at its header (see
    # tier.py: the rest of the function from there is translated as a function of its
    # locals), and the function is compiled for its next call.

    def _tiered(self, index: int, g: Dict[str, Any], fi: Any) -> Any:
        """Install instance ``g``'s interpreted callable of defined function
        ``index`` (None: the function goes straight to the compiler)."""
        fc = self.interp_codes.get(("tier", index))
        if fc is None:
            from ..interpreter.compile import compile_function

            try:
                # (the body's decoding, here in tail_funcs, paused too: it allocates
                # as much as the translation; outside the pause its collections were
                # half of QuickJS's first output's, one full collection among them)
                with collector_paused():
                    if self.tail_funcs(index):
                        # (a trampoline needs the tail entry of the compiled body)
                        return None
                    fc = compile_function(self.module, index, self.func_types, None,
                                          osr=_OsrHook(self, index, self._loop_threshold(index)))
            except Exception:  # noqa: BLE001 - compiled then, as without the tier
                return None
            # (the body stays decoded, with its validator facts: a promotion
            # translates it again)
            self.interp_codes[("tier", index)] = fc
        ie = self.engine.interpreter()
        proxy = WasmFunctionInstance(fi.type, fi.module, fi.index, fc, ie, fi.name)
        execute = ie.execute
        run = _raw_call_shim(lambda args: execute(ie, proxy, args), len(fi.type.results), len(fi.type.params))
        calls = self.calls
        limit = self._call_threshold(index)
        cw = self
        tls = call_depth

        def tiered(*args: Any) -> Any:
            n = calls[index] + 1
            calls[index] = n
            if n > limit or tls.hosts > _TIER_HOSTS:
                f = fi.code
                if f is tiered:
                    f = cw._promote(index, g, fi)
                return f(*args)
            return run(*args)

        def tier_enter(f: Any) -> Any:
            # the interpreter's question, calling ``f`` (fi) from one of its frames:
            # may it run this call as a frame of its own (no Python recursion, no
            # shim), and as which function instance?  Counted as a call.
            n = calls[index] + 1
            if n > limit:
                return None
            calls[index] = n
            return proxy

        tiered.__name__ = "tiered_f%d" % fi.index
        entry: Any = tiered
        entry.tier_enter = tier_enter
        g[self.names[self.nimp + index]] = tiered
        fi.code = tiered
        return tiered

    def _call_threshold(self, index: int) -> int:
        """The calls of defined function ``index`` that run on the interpreter
        (the next one compiles it): ``tier_calls``, or more for a large function
        (``tier_calls_scale`` per instruction), whose translation costs in
        proportion to its size while a call mostly runs a small part of it."""
        e = self.engine
        if not e.tier_calls_scale:
            return e.tier_calls
        known = self._call_thresholds
        r = known.get(index)
        if r is None:
            r = known[index] = max(e.tier_calls, min(e.tier_calls_max,
                                                     int(self.module.funcs[index].size * e.tier_calls_scale)))
        return r

    def _loop_threshold(self, index: int) -> int:
        """The loop iterations (all loops of all its calls) after which an
        interpreted call of defined function ``index`` moves to compiled code.  It
        grows with the function's size: the translation costs in proportion to the
        whole body, an iteration runs only its loop (Boolector's first output: at a
        flat 200, loops running a few hundred times in two ~40k-instruction
        functions cost ~1 s of translation)."""
        e = self.engine
        return max(e.tier_loop, int(len(self.module.funcs[index].body) * e.tier_loop_scale))

    def _promote(self, index: int, g: Dict[str, Any], fi: Any) -> Any:
        """Replace instance ``g``'s interpreted callable of ``index`` by the compiled
        one."""
        self.calls[index] = self._call_threshold(index) + 1
        self.interp_codes.pop(("tier", index), None)   # (instances keep their own)
        f = self.materialize(index, g, fi)
        # indirect-call caches may hold the interpreted callable (it would still
        # work: it forwards to fi.code)
        for v in list(g.values()):
            if v.__class__ is _CalleeCache:
                v.clear()
        return f

    def osr_code(self, index: int, loop_at: int) -> Any:
        """The code of the function continuing defined function ``index`` from its
        loop at ``loop_at`` (tier.py), or _FALLBACK if there is none (cached)."""
        key = (index, loop_at)
        entry = self.osr_codes.get(key)
        if entry is not None:
            return entry
        entry = _FALLBACK
        try:
            with collector_paused():
                entry = self._osr_translate(index, loop_at)
        except Exception as e:  # noqa: BLE001 - the loop goes on interpreted
            self.fallback_reasons[-1 - index] = "on-stack replacement: %s: %s" % (type(e).__name__, e)
        finally:
            self.module.funcs[index].release()
        self.osr_codes[key] = entry
        return entry

    def _osr_translate(self, index: int, loop_at: int) -> Any:
        module = self.module
        variant = _osr_variant(module, index, loop_at)
        if variant is None:
            return _FALLBACK
        m, defaults = variant
        entry = self._translate(m, len(module.funcs), self.func_types + [len(module.types)],
                                self.nimp + index, defaults)
        if entry is not _FALLBACK and entry[4] is not None:
            return _FALLBACK   # (tail calls: the rest stays interpreted)
        return entry

    def _with_trampoline(self, index: int, g: Dict[str, Any], fi: Any, body: Any, tail: List[int]) -> Any:
        """Install ``body``, the function object of a function with tail calls: its
        callable (what calls, ``fi.code`` and the API use) is a trampoline around it,
        the body itself its *tail entry* (``f<k>_t``, also the callable's ``_t``)."""
        name = self.names[self.nimp + index]
        f = _trampoline(len(fi.type.params))(body)
        f._t = body
        g[name] = f
        g[name + "_t"] = body
        fi.code = f
        names = self.names
        funcs = g["_F"]
        for k in tail:
            tname = names[k] + "_t"
            if tname in g:
                continue
            if k < self.nimp:
                c = g[names[k]]   # (bound by bind: the imported function's callable)
                g[tname] = getattr(c, "_t", c)
                continue
            callee = funcs[k]
            c = callee.code
            g[tname] = (getattr(c, "_t", c) if c.__class__ is not _Lazy
                        else _make_tail_stub(self, k - self.nimp, g, callee))
        return f

    def _fallback(self, index: int, fi: Any) -> Any:
        """Run a function Python cannot express (too deeply nested) on the
        interpreter."""
        from ..interpreter.compile import compile_function

        fc = self.interp_codes.get(index)
        if fc is None:
            # (with the runtime's fuel / interruption check points, if on)
            fc = compile_function(self.module, index, self.func_types, self.engine.limits)
            self.interp_codes[index] = fc
        ie = self.engine.interpreter()
        proxy = WasmFunctionInstance(fi.type, fi.module, fi.index, fc, ie, fi.name)
        run_loop = ie.execute   # (the interpreter's loop for code with check points, if on)
        run = _raw_call_shim(lambda args: run_loop(ie, proxy, args), len(fi.type.results), len(fi.type.params))
        run.__name__ = "interpreted_f%d" % fi.index
        return run


class _Replaced:
    """A module's function list with one function replaced (no copy of the list:
    modules may have tens of thousands)."""

    __slots__ = ("funcs", "index", "func")

    def __init__(self, funcs: List[Any], index: int, func: Any) -> None:
        self.funcs = funcs
        self.index = index
        self.func = func

    def __len__(self) -> int:
        return len(self.funcs)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self.funcs)))]
        if i < 0:
            i += len(self.funcs)
        return self.func if i == self.index else self.funcs[i]

    def __iter__(self) -> Any:
        return (self[j] for j in range(len(self.funcs)))

    def __add__(self, other: List[Any]) -> List[Any]:
        return list(self) + list(other)


def _code_bytes(module: Any) -> int:
    """The bytes the function bodies of ``module`` take, without decoding any: the
    span of the lazily decoded bodies in the module's bytes, else (bodies from the
    text format) 2 per instruction."""
    funcs = module.funcs
    if not funcs:
        return 0
    first, last = funcs[0], funcs[-1]
    if getattr(first, "_source", None) is not None and getattr(last, "_source", None) is not None:
        size: int = last._pos - first._pos + 2 * max(last._size, 1)
        return size
    return 2 * sum(len(f.body) for f in funcs)


# A call from compiled code into the interpreter and one from the interpreter into
# compiled code each go through Python recursion (a few frames, and a host call
# level for the depth and C stack accounting); calls between interpreted functions
# are frames of the interpreter's own loop (``tier_enter``).  Past this many host
# levels in progress a tiered function is compiled instead, so that recursion
# alternating between the two tiers adds a bounded number of levels, far below
# MAX_HOST_NESTING (compiled frames count none, and raise the recursion limit as
# needed: CompilerEngine._exhausted).
_TIER_HOSTS = 32

# the values of codegen.local_init's literals (and of o's 1)
_LITERALS = {"0": 0, "0.0": 0.0, "None": None, "1": 1}


class _OsrHook:
    """The ``K_OSR`` hook of a function on the cheap tier (CompiledWasm._tiered):
    its loops' iterations count down ``left`` (in the interpreter's loop: no call
    per iteration); at ``limit`` (CompiledWasm._loop_threshold) it is called, and
    runs the rest of the call as compiled code from that loop's header and returns
    its results (and the function is compiled for its next call)."""

    __slots__ = ("cw", "index", "left", "declined")

    def __init__(self, cw: CompiledWasm, index: int, limit: int) -> None:
        self.cw = cw
        self.index = index
        self.left = [limit]
        self.declined: Any = ()

    def __call__(self, L: List[Any], loop_at: int, fi: Any, depth: int) -> Optional[List[Any]]:
        if loop_at in self.declined:
            return None
        cw = self.cw
        index = self.index
        limit = cw._call_threshold(index)
        if cw.calls[index] <= limit:
            cw.calls[index] = limit   # (compiled from its next call)
        entry = cw.osr_code(index, loop_at)
        if entry is _FALLBACK:
            self.declined = frozenset(self.declined) | {loop_at}
            return None
        if cw.codes[index] is None:
            cw.codes[index] = entry   # (what the next call runs: see tier.py)
        f = cw._bind(entry, fi.module.engine_data)
        np = len(fi.type.params)
        # (the interpreter's frame may have slots beyond the locals)
        nlocals = f.__code__.co_argcount - 2
        try:
            r = f(*L[:np], depth, *L[np:nlocals], 0)
        except (Trap, struct.error, IndexError, OverflowError) as e:
            # the trap's wasm frames: those of the compiled code, but this frame's
            # own name comes from the interpreter (execute) as for any of its frames
            x = _failure(cw.engine, e)
            t: Any = e if x is None else x   # (a Trap, from _failure or e)
            names = t.wasm_stack
            if names and names[-1] == fi.name:
                names.pop()
                if len(t._sites) > len(names):
                    # the interpreter adds this frame's name; its position is the
                    # compiled code's (the interpreter's pc is at the loop header)
                    t._osr_site = t._sites.pop()
            raise t.with_traceback(None) from None
        return _result_list(r, len(fi.type.results))


def _result_list(r: Any, n: int) -> List[Any]:
    """The list of ``n`` results of a generated function that returned ``r`` (the
    value itself for one result, a tuple for several)."""
    if n == 1:
        return [r]
    if n == 0:
        return []
    return list(r)


def _instance_names_of(code: Any) -> Any:
    """The per-instance objects ``code`` reads that are made on demand, as ``(name,
    True, format, memory)`` for a memory's typed views ``_V<format><memory>``
    (MemoryInstance.views) and ``(name, False, table, type index)`` for a
    call_indirect cache ``_CI<table>_<type>`` (codegen's ``indirect_callee``)."""
    out = []
    for n in code.co_names:
        if n.startswith("_CI") and n[3:4].isdigit():
            tab, tidx = n[3:].split("_")
            out.append((n, False, int(tab), int(tidx)))
        elif n.startswith("_V") and n[3:4].isdigit() and n[2] in "IiQdHh":
            out.append((n, True, n[2], int(n[3:])))
    return tuple(out)


def _helpers_of(code: Any) -> Any:
    """The (name, value) pairs of BASE_NAMESPACE that ``code`` (or code nested in
    it) may read as globals."""
    names = set()
    stack = [code]
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if isinstance(k, _types.CodeType))
    return tuple((n, BASE_NAMESPACE[n]) for n in sorted(names) if n in BASE_NAMESPACE)


class _Lazy:
    """``WasmFunctionInstance.code`` of a function whose instance-bound callable does
    not exist yet."""

    __slots__ = ("owner",)

    def __init__(self, owner: CompiledWasm) -> None:
        self.owner = owner

    def tier_enter(self, fi: Any) -> Any:
        """For the interpreter calling ``fi`` (see the ``tier_enter`` of
        CompiledWasm._tiered): creates its callable, then answers as that does
        (None: call it as usual)."""
        f = _resolve(fi)
        enter = getattr(f, "tier_enter", None)
        return None if enter is None else enter(fi)


def _resolve(fi: Any) -> Any:
    """The callable of compiled-engine function ``fi``, created if needed."""
    g = fi.module.engine_data
    cw = g["_CW"]
    return cw.materialize(fi.index - cw.nimp, g, fi)


def _make_stub(cm: CompiledWasm, index: int, g: Dict[str, Any], fi: Any, name: str) -> Any:
    def stub(*args: Any) -> Any:
        f = fi.code
        if f.__class__ is _Lazy:
            f = cm.materialize(index, g, fi)
        return f(*args)

    return stub


def _make_tail_stub(cm: CompiledWasm, index: int, g: Dict[str, Any], fi: Any) -> Any:
    """The tail entry ``f<k>_t`` of a function not created yet (materialize replaces
    it in the namespace)."""
    def stub(*args: Any) -> Any:
        f = fi.code
        if f.__class__ is _Lazy:
            f = cm.materialize(index, g, fi)
        return getattr(f, "_t", f)(*args)

    return stub


# A function with tail calls: its callable is a trampoline around its body.  The
# body returns a TailCall ``(entry, args)`` for a tail call; the trampoline then runs
# ``entry(*args, depth)`` at the same depth, in its own frame, until a result comes:
# a chain of tail calls, through any module, table or host function, takes constant
# Python stack.  ``entry`` is a callee's tail entry (``_t``: its body, which may
# return another TailCall) or, for a callee without one (no tail calls, host
# functions, other engines), its ordinary callable.  Made from source once per
# arity; the file name keeps these frames out of the traps' wasm stacks.
_TRAMPOLINE_TEMPLATE = """
def make(body):
    def tail_trampoline(%(params)s):
        r = body(%(params)s)
        while r.__class__ is _TC:
            r = r[0](*r[1], d)
        return r
    return tail_trampoline
"""
_TRAMPOLINES: Dict[int, Any] = {}


def _trampoline(nparams: int) -> Any:
    make = _TRAMPOLINES.get(nparams)
    if make is None:
        params = ", ".join(["a%d" % i for i in range(nparams)] + ["d"])
        ns: Dict[str, Any] = new_namespace({"_TC": TailCall})
        exec(compile(_TRAMPOLINE_TEMPLATE % {"params": params}, "<pywazero tail calls>", "exec"), ns)
        make = _TRAMPOLINES[nparams] = ns["make"]
    return make


def tail_entry(fi: Any, inst: Any) -> Any:
    """The tail entry of FunctionInstance ``fi`` as called from instance ``inst``:
    what generated code puts in a TailCall to tail-call ``fi`` (``return _TC((entry,
    args))``).  The one engine-level way to tail-call a function object, e.g. for
    ``return_call_ref`` (``return_call_indirect`` inlines the same for ``_ci``'s
    result)."""
    if _is_compiled(fi):
        c = fi.code
        if c.__class__ is _Lazy:
            c = _resolve(fi)
        return getattr(c, "_t", c)
    return _host_shim(fi, inst)


def _host_shim(f: Any, inst: Any) -> Any:
    """A callable with the generated code's calling convention for a host function or
    a wasm function of another engine."""
    n = len(f.type.params)
    if f.__class__ is HostFunctionInstance:
        # (the raw function called straight from the shim: no layer in between)
        return _raw_call_shim(f.raw, len(f.type.results), n, inst)
    return _raw_call_shim(f.call, len(f.type.results), n)


# A shim per (arity, result count, host or not), made from source: the arguments
# go into the list the raw call takes without a *args tuple.
_SHIM_TEMPLATE = """
def make(call, inst):
    def shim(%(params)s):
        hosts = _tls.hosts
        if hosts >= _MAXH:
            # each wasm -> host -> wasm level costs C stack: trap before it runs out
            raise _Trap("call stack exhausted")
        saved = _tls.depth
        _tls.depth = d - 1
        _tls.hosts = hosts + 1
        _R[0] = 1
        try:
            res = %(call)s
        except _MEMERR as e:
            raise _Pass(e)
        finally:
            _tls.depth = saved
            _tls.hosts = hosts
        return %(ret)s
    return shim
"""
_SHIMS: Dict[Any, Any] = {}


def _raw_call_shim(call: Callable[..., List[Any]], nres: int, nparams: int, inst: Any = _FALLBACK) -> Any:
    """Give ``call`` (lists of raw values in and out; a host function's raw
    ``call(inst, args)`` when ``inst`` is given) the generated code's calling
    convention: ``nparams`` positional arguments with the call depth last, results as
    a value, a tuple or None.  The depth is handed on through the thread-local
    ``call_depth``, and exceptions that generated code would mistake for its own
    memory faults are wrapped so they reach the caller unchanged."""
    host = inst is not _FALLBACK
    key = (nparams, nres, host)
    make = _SHIMS.get(key)
    if make is None:
        args = ["a%d" % i for i in range(nparams)]
        lst = "[%s]" % ", ".join(args)
        src = _SHIM_TEMPLATE % {
            "params": ", ".join(args + ["d"]),
            "call": "call(inst, %s)" % lst if host else "call(%s)" % lst,
            "ret": "res[0]" if nres == 1 else ("None" if nres == 0 else "tuple(res)"),
        }
        ns: Dict[str, Any] = new_namespace({"_tls": call_depth, "_MAXH": MAX_HOST_NESTING, "_Trap": Trap,
                                            "_R": _REENTRY, "_MEMERR": _MEM_ERRORS, "_Pass": _Passthrough})
        exec(compile(src, "<pywazero host call>", "exec"), ns)
        make = _SHIMS[key] = ns["make"]
    return make(call, inst)


def _is_compiled(f: Any) -> bool:
    return f.__class__ is WasmFunctionInstance and isinstance(f.engine, CompilerEngine)


def _callable_for(f: Any, inst: Any) -> Any:
    if _is_compiled(f):
        # Created now rather than through a stub: a stub's f(*args) would cost C stack
        # on every call through it.
        c = f.code
        return c if c.__class__ is not _Lazy else _resolve(f)
    return _host_shim(f, inst)


# entries an indirect-call cache holds before it starts over (it keeps the function
# instances it has seen alive: tables may hold functions of other instances)
_CACHE_MAX = 1 << 14


class _CalleeCache(dict):  # type: ignore[type-arg]  # (function instance -> callable)
    """Function instance -> its callable, for the functions that passed one check:
    the type check of one call_indirect type through one table, in one instance
    (``_CI<table>_<type>``: generated code calls ``_CI<table>_<type>[T<table>[i]](...)``),
    or call_ref's null check (``_CR``; validation guarantees the type).  No table
    write ever needs to invalidate it: an entry depends only on the function
    instance, whose type and callable never change once created.  A miss (a
    function's first call from here, a null, a mistyped function) runs ``resolve``,
    which checks and traps exactly as ``call_indirect``/``call_ref`` do."""

    __slots__ = ("resolve", "ft")

    def __init__(self, resolve: Callable[[Any], Any], ft: Any = None) -> None:
        super().__init__()
        self.resolve = resolve
        self.ft = ft    # call_indirect's expected type (None: call_ref's cache)

    def __missing__(self, f: Any) -> Any:
        c = self.resolve(f)
        if len(self) >= _CACHE_MAX:
            self.clear()
        self[f] = c
        return c


def _make_call_indirect(inst: Any) -> Any:
    """Instance ``inst``'s indirect-call machinery: ``(call_indirect, call_ref,
    make_cache, call_ref_cache)``.  ``call_indirect(elems, ft, i)`` and
    ``call_ref(f)`` check and return the callee's callable (tail calls, and
    call_indirect where codegen cannot use a cache); ``make_cache(table, ft)`` makes
    the ``_CI`` cache of one table and expected type and ``call_ref_cache`` is
    ``_CR``, call_ref's cache."""
    shims: Dict[int, Any] = {}

    def call_indirect(elems: Sequence[Any], ft: Any, i: int) -> Any:
        if i >= len(elems):
            raise Trap("undefined element")
        f = elems[i]
        if f is None:
            raise Trap("uninitialized element")
        t = f.type
        if t is not ft and t != ft and not func_subtype(t, ft):
            raise Trap("indirect call type mismatch")
        # (callable_of inlined: call_indirect is on hot paths)
        if f.__class__ is WasmFunctionInstance and f.engine.__class__ is CompilerEngine:
            c = f.code
            return c if c.__class__ is not _Lazy else _resolve(f)
        return callable_of(f)

    def call_ref(f: Any) -> Any:
        """call_ref's callee (validation guarantees its type)."""
        if f is None:
            raise Trap("null function reference")
        if f.__class__ is WasmFunctionInstance and f.engine.__class__ is CompilerEngine:
            c = f.code
            return c if c.__class__ is not _Lazy else _resolve(f)
        return callable_of(f)

    def callable_of(f: Any) -> Any:
        if f.__class__ is WasmFunctionInstance and f.engine.__class__ is CompilerEngine:
            c = f.code
            return c if c.__class__ is not _Lazy else _resolve(f)
        s = shims.get(id(f))
        if s is None or s[0] is not f:
            s = (f, _host_shim(f, inst))
            shims[id(f)] = s
        return s[1]

    def make_cache(table: int, ft: Any) -> Any:
        return _CalleeCache(lambda f: call_indirect((f,), ft, 0), ft)

    return call_indirect, call_ref, make_cache, _CalleeCache(call_ref)


def _function_code(module_code: Any) -> Any:
    """The function's code object in the code of a generated module."""
    for c in module_code.co_consts:
        if isinstance(c, _types.CodeType):
            if c.co_name == "_limits":  # the wrapper binding the limits' cells
                c = next(k for k in c.co_consts if isinstance(k, _types.CodeType))
            return c
    raise AssertionError("no function in generated code")  # pragma: no cover


def _aligned(new: List[Any], old: List[Any]) -> List[int]:
    """For each instruction of ``new`` (a body rewritten from ``old`` keeping the
    order of the instruction objects it reuses), the index in ``old`` of the last
    one reused at or before it (-1 before any)."""
    where: Dict[int, List[int]] = {}
    for j, ins in enumerate(old):
        where.setdefault(id(ins), []).append(j)
    out: List[int] = []
    at = -1
    for ins in new:
        for j in where.get(id(ins), ()):
            if j > at:
                at = j
                break
        out.append(at)
    return out


class _Site:
    """A generated frame's position: line ``lineno`` of code object ``code`` of
    defined function ``index`` of ``cw`` (resolved when a trap's frames are read)."""

    __slots__ = ("cw", "fi", "code", "lineno")

    def __init__(self, cw: Any, fi: Any, code: Any, lineno: int) -> None:
        self.cw = cw
        self.fi = fi
        self.code = code
        self.lineno = lineno

    def frame(self) -> Any:
        index = None
        cw = self.cw
        if cw is not None:
            index = cw.body_index(self.fi.index - cw.nimp, self.code, self.lineno)
        return wasm_frame(self.fi, index)


def _wasm_stack(tb: Any, sites: Optional[List[Any]] = None) -> List[str]:
    """Names of the generated frames in traceback ``tb`` (which starts at an
    ``invoke``), innermost first, up to a nested ``invoke``; their positions
    (_Site) go to ``sites``, in step."""
    names: List[str] = []
    first = True
    while tb is not None:
        fr = tb.tb_frame
        co = fr.f_code
        if co in _BOUNDARIES and not first:
            break
        first = False
        fn = co.co_filename
        if fn.startswith("<wasm:"):
            inst = fr.f_globals.get("_INST")
            tl = fr.f_globals.get("_TL" + fn[6:-1])
            if tl is not None and tb.tb_lineno in tl:
                # in a tail call made as a plain call: this frame is gone in wasm
                tb = tb.tb_next
                continue
            try:
                fi = inst.funcs[int(fn[6:-1])]
                names.append(fi.name)
                if sites is not None:
                    sites.append(_Site(fr.f_globals.get("_CW"), fi, co, tb.tb_lineno))
            except Exception:  # pragma: no cover - defensive
                names.append(co.co_name)
                if sites is not None:
                    sites.append(None)
        tb = tb.tb_next
    names.reverse()
    if sites is not None:
        sites.reverse()
    return names


#: PyPy's JIT parameters the compiler sets once per process (see _tune_pypy_jit):
#: no recursion unrolling, and every optimisation but ``unroll`` (loop peeling)
PYPY_JIT_PARAMS = ("max_unroll_recursion=0,"
                   "enable_opts=intbounds:rewrite:virtualize:string:pure:earlyforce:heap")
_jit_tuned: List[bool] = []


def _tune_pypy_jit() -> None:
    """On PyPy, once per process (unless the environment has
    ``PYWAZERO_PYPY_JIT_PARAMS=""``, or other parameters there): set
    :data:`PYPY_JIT_PARAMS`, each on its own (a PyPy that refuses one keeps the
    others).  Compiled C recurses (qsort, sorts, parsers) through
    large generated functions; PyPy's default of unrolling recursion 7 levels deep into
    a trace makes traces of those run past the trace limit, and the aborted and retried
    tracing costs more than the run (sort, qsort, wordcount, strings ~25-40% faster
    with 0 at the bench's sizes, the other programs unchanged).  Runs of compiled C
    are dominated by the JIT's warm-up (tracing and optimising hundreds of loops and
    bridges of branchy generated code), and loop peeling doubles each trace the
    optimiser and backend handle: without it the nine bench programs run 13% faster
    at their sizes (geometric mean of CPU times, 8 of 9 faster), 12% at 4x and 8% at
    16x (none measurably slower).  Both parameters are process-wide (they apply to
    all Python code: peeling is what hoists loop invariants in long-running loops),
    hence the way out."""
    if _jit_tuned:
        return
    _jit_tuned.append(True)
    import os
    params = os.environ.get("PYWAZERO_PYPY_JIT_PARAMS", PYPY_JIT_PARAMS)
    try:
        import pypyjit  # type: ignore[import-not-found]  # (PyPy's)
    except ImportError:  # a PyPy without the JIT
        return
    for param in params.split(","):
        if param.strip():
            try:
                pypyjit.set_param(param.strip())
            except Exception:  # noqa: BLE001 - a setting this PyPy does not know: skipped
                pass


class CompilerEngine(Engine):
    """Compiles WebAssembly functions to Python functions (see the module docstring)."""

    name = "compiler"

    #: a Python statement inserted at every loop header (run once per iteration); the
    #: place for fuel or deadline checks on back-edges.  None: nothing.
    back_edge_hook: Optional[str] = None

    #: the cheap tier (CompiledWasm._tiered): modules whose function bodies take at
    #: least this many bytes (about half as many instructions; a C program with its
    #: libc: 19 KB and up, the largest spec test module 13 KB) run
    #: each function on the interpreter for its first ``tier_calls`` calls, and move
    #: a loop of such a call to compiled code after ``tier_loop`` iterations of the
    #: function's loops (None: every function is compiled on its first call).  Not
    #: with fuel or interruption on.
    tier_min_size: Optional[int] = 16000
    tier_calls = 20
    #: ... or, in a function of N instructions, ``tier_calls_scale * N`` calls when
    #: that is more (CompiledWasm._call_threshold)
    tier_calls_scale = 0.03
    #: ... but at most this many: a very large function called often is most
    #: likely an interpreter's dispatch loop (CPython-WASI's eval loop, ~42k
    #: instructions, was called ~1200 times interpreted: 3 of its 21 s to first
    #: output)
    tier_calls_max = 100
    tier_loop = 200
    #: ... or, in a function of N instructions, after ``tier_loop_scale * N``
    #: iterations when that is more (CompiledWasm._loop_threshold)
    tier_loop_scale = 2.0

    #: inline small leaf callees and guard call_indirect through static tables by
    #: the index (inline.py) before translating a function; not with fuel or
    #: interruption on.
    inline = True

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.max_depth = config.max_call_depth
        # Generated functions check their depth against this: past it they call
        # _exhausted (traps beyond max_depth, else makes sure the recursion limit is
        # raised for this thread while the call runs), so shallow calls never touch
        # the process-wide limit.
        self.shallow_depth = min(self.max_depth, _SHALLOW_DEPTH)
        # Python frames a deep call may need beyond the host's: 1 per wasm frame, or 2
        # through a lazy stub, plus the frames of every host call level in between.
        self._py_limit = 2 * self.max_depth + 12 * MAX_HOST_NESTING + 1000
        # CPython before 3.11 and PyPy spend C stack on every Python call: deep recursion
        # could overflow the thread's stack (a crash, not an exception).  There the
        # outermost calls run on a helper thread with a stack big enough for
        # max_call_depth frames (nested calls from host functions are already on it).
        self._big_stack = _SMALL_C_STACK and self.max_depth > _INLINE_DEPTH
        if _PYPY and not self._big_stack:
            # PyPy's recursion limit is a stack-size budget: past what the thread's
            # stack holds it would crash instead of raising RecursionError.
            self._py_cap = _PYPY_SAFE_LIMIT
        self._stack_bytes = min(max(64 << 20, self.max_depth * (24 << 10)), 2 << 30)
        if _PYPY:
            _tune_pypy_jit()
        self._interp: Any = None

    _py_cap = 0

    def _exhausted(self, d: int, entry: bool = False) -> None:
        """Called by a generated function entered at depth ``shallow_depth + 1`` or
        beyond ``max_depth``, and by an entry from Python (a host function) at depth
        ``d`` past the shallow depth (``entry``: the frames that cross it may belong
        to another engine)."""
        if d > self.max_depth:
            if entry:   # (the callee's own check traps)
                return
            # raised by the frame that would exceed the depth: it does not count as
            # entered
            t = Trap("call stack exhausted")
            t._not_entered = True  # type: ignore[attr-defined]
            raise t
        if not call_depth.deep:
            cap = self._py_cap
            got = getattr(call_depth, "stack_bytes", 0)
            if got and got < self._stack_bytes:
                # a big-stack worker with less stack than this engine's depth needs:
                # as many frames as it holds (deeper raises RecursionError: a trap)
                cap = min(cap or self._py_limit, self._py_limit * got // self._stack_bytes)
            deepen(self._py_limit, cap)

    def interpreter(self) -> Any:
        if self._interp is None:
            from ..interpreter import InterpreterEngine

            self._interp = InterpreterEngine(self.config)
            # functions handed to the interpreter share this runtime's fuel and flag
            self._interp.limits = self.limits
        return self._interp

    def compile_module(self, module: Any) -> CompiledWasm:
        return CompiledWasm(self, module)

    def invoke(self, fn: Any, args: List[Any]) -> List[Any]:
        base = 0
        if _REENTRY[0] or self._big_stack:
            base = getattr(call_depth, "depth", 0)
            if self._big_stack and base == 0 and not getattr(call_depth, "big_stack", False):
                results: List[Any] = _big_stack_call(self._stack_bytes, self.invoke, fn, args)
                return results
        code = fn.code
        if code.__class__ is _Lazy:
            code = _resolve(fn)
        if base > _SHALLOW_DEPTH:   # entered below the depth where frames raise the limit
            self._exhausted(base + 1, True)
        try:
            r = code(*args, base + 1)
        except _CAUGHT as e:
            x = _failure(self, e)
            if x is None:
                raise
            raise x from None
        finally:
            if DEEP[0] and not base:  # the outermost call: undo a raised recursion limit
                undeepen()
        return _result_list(r, len(fn.type.results))


    def entry(self, fn: Any) -> Any:
        """``invoke`` specialised for ``fn``: positional raw arguments straight into
        its generated function (see :meth:`Engine.entry`)."""
        if self._big_stack:
            return super().entry(fn)
        n = len(fn.type.params)
        # 0: limits off; 1: interruptible, a function without check points (only the
        # flag is read: limits.needs_count); 2: interruptible, counted
        key = (n, self.limits.interruptible and (2 if needs_count(fn) else 1))
        make = _ENTRY_MAKERS.get(key)
        if make is None:
            make = _ENTRY_MAKERS[key] = _entry_maker(*key)
        return make(fn, self)


_CAUGHT = (Trap, struct.error, IndexError, OverflowError, RecursionError, _Passthrough)


def _failure(engine: CompilerEngine, e: BaseException) -> Optional[BaseException]:
    """What an entry into generated code (``invoke``, an ``entry``) raises for
    exception ``e`` (one of ``_CAUGHT``) caught around its call: None to re-raise
    ``e`` (a Trap, with the wasm frames' names added)."""
    sites: List[Any] = []
    if isinstance(e, Trap):
        names = _wasm_stack(e.__traceback__, sites)
        if getattr(e, "_not_entered", False):
            del e._not_entered  # type: ignore[attr-defined]  # (set by the caller, see getattr)
            names = names[1:]
            sites = sites[1:]
        e.add_frames(names, sites)
        return None
    if isinstance(e, (RecursionError,) + _MEM_ERRORS):
        t = Trap("call stack exhausted" if isinstance(e, RecursionError) else "out of bounds memory access")
        t.add_frames(_wasm_stack(e.__traceback__, sites), sites)
        return t
    return e.exc  # type: ignore[attr-defined,no-any-return]  # _Passthrough: the host's exception


# Entries per arity: like invoke, without its list handling and generic call.
_ENTRY_TEMPLATE = """
def make(fi, engine):%(setup)s
    def entry(%(params)s):
        d = _tls.depth + 1 if _R[0] else 1
        if d > _SHALLOW1:   # entered below the depth where frames raise the limit
            engine._exhausted(d, True)
        f = fi.code
        if f.__class__ is _Lazy:
            f = _resolve(fi)%(enter)s
        try:
            return f(%(args)s)
        except _CAUGHT as e:
            x = _failure(engine, e)
            if x is None:
                raise
            raise x from None
        finally:%(leave)s
            if _DEEP[0] and d == 1:
                _undeepen()
    return %(ret)s
"""
_ENTRY_MAKERS: Dict[Any, Any] = {}

# With RuntimeConfig(interruptible=True) every entry counts the calls running
# (ExecutionLimits.enter/leave, inlined); otherwise these are empty
_COUNTED = {
    "setup": """
    _C = engine.limits.calls
    _enter = _C.append
    _pop = _C.pop
    _intr = 0   # (bound to engine.limits.flag by _entry_maker)
    _flagged = engine.limits._flagged_entry""",
    "enter": """
        if _intr:
            _flagged()
        _enter(1)""",
    "leave": """
            _pop()""",
    "ret": '_bind(entry, {"_intr": engine.limits.flag})',
}
_FLAG_ONLY = {
    "setup": """
    _intr = 0   # (bound to engine.limits.flag by _entry_maker)
    _flagged = engine.limits._flagged_entry""",
    "enter": """
        if _intr:
            _flagged()""",
    "leave": "",
    "ret": _COUNTED["ret"],
}
_UNCOUNTED = {"setup": "", "enter": "", "leave": "", "ret": "entry"}
# code objects of invoke and of the entries: where a traceback's wasm frames end
_BOUNDARIES = {CompilerEngine.invoke.__code__}


def _entry_maker(n: int, counted: int = 0) -> Any:
    """The maker of entries of ``n`` parameters; ``counted``: 0 limits off, 1 the flag
    read, 2 the flag read and the call counted (see CompilerEngine.entry)."""
    params = ", ".join("a%d" % i for i in range(n))
    src = _ENTRY_TEMPLATE % dict((_UNCOUNTED, _FLAG_ONLY, _COUNTED)[counted], params=params,
                                 args=params + ", d" if n else "d")
    ns: Dict[str, Any] = new_namespace({
        "_tls": call_depth, "_R": _REENTRY, "_Lazy": _Lazy, "_resolve": _resolve,
        "_CAUGHT": _CAUGHT, "_failure": _failure,
        "_DEEP": DEEP, "_undeepen": undeepen, "_SHALLOW1": _SHALLOW_DEPTH + 1,
        "_bind": bind_cells})
    exec(compile(src, "<pywazero entry>", "exec"), ns)
    make = ns["make"]
    for c in make.__code__.co_consts:
        if isinstance(c, _types.CodeType):
            _BOUNDARIES.add(c)
    return make


# CPython before 3.11 (and PyPy) use the C stack for Python-to-Python calls
_SMALL_C_STACK = sys.implementation.name != "cpython" or sys.version_info < (3, 11)
_PYPY = sys.implementation.name == "pypy"
# wasm call depth that is safe on any thread's default stack (PyPy's frames are
# smaller: its default 10000 runs inline, with the recursion limit kept at a value
# whose stack budget fits the usual 8 MB stack)
_INLINE_DEPTH = 10000 if _PYPY else 2000
_PYPY_SAFE_LIMIT = 10000
# wasm depth a call may reach without raising the recursion limit (2 Python frames
# each at most: well within the default limit of 1000)
_SHALLOW_DEPTH = 100


def _osr_variant(module: Any, index: int, loop_at: int) -> Optional[Tuple[Any, List[str]]]:
    """Function ``index``'s on-stack replacement form entering at loop ``loop_at``
    (tier.py), as a copy of ``module`` holding it (and its type) at the end, with the
    defaults of its extra parameters; None when the function has no such form."""
    import copy

    from ...wasm.facts import function_info
    from ...wasm.module import Function
    from ...wasm.validation import validate_function
    from .tier import osr_function

    func = module.funcs[index]
    if func.info is None:
        function_info(module, index)
    made = osr_function(module, index, loop_at)
    if made is None:
        return None
    ftype, body = made
    m = copy.copy(module)
    m.types = module.types + [ftype]
    m.funcs = module.funcs + [Function(len(module.types), [], body)]
    validate_function(m, len(module.funcs))
    # the parameters that were locals default to their initial values, and `o` to 1:
    # called as the original, it is the original (tier.py)
    nparams = len(module.types[func.type_index].params)
    return m, [codegen.local_init(t) for t in ftype.params[nparams:-1]] + ["1"]


class _BigStackWorker:
    """A daemon thread with a big stack that runs calls handed to it."""

    def __init__(self, stack_bytes: int) -> None:
        import queue
        import threading

        self.pid = os.getpid()
        self.requests: Any = queue.SimpleQueue()
        self.replies: Any = queue.SimpleQueue()
        #: the stack asked for (a later caller needing more gets a new worker)
        self.asked = stack_bytes
        #: a caller stopped waiting for a call it handed over (see call)
        self.abandoned = False
        old = threading.stack_size()
        try:
            while True:
                try:
                    threading.stack_size(stack_bytes)
                    #: the stack the thread gets (maybe less than asked for)
                    self.stack_bytes = stack_bytes
                    t = threading.Thread(target=self._loop, name="pywazero-wasm-stack", daemon=True)
                    t.start()
                    break
                except (ValueError, RuntimeError):
                    # too big for this platform, or for the address space left under
                    # RLIMIT_AS ("can't start new thread"): halve it (calls on it
                    # then get a lower recursion cap, see CompilerEngine._exhausted)
                    if stack_bytes <= 8 << 20:
                        raise
                    stack_bytes //= 2
        finally:
            threading.stack_size(old)

    def _loop(self) -> None:
        call_depth.big_stack = True
        call_depth.stack_bytes = self.stack_bytes
        while True:
            request = self.requests.get()
            if request is None:   # replaced by a worker with a bigger stack
                return
            token, fn, args = request
            try:
                self.replies.put((token, True, fn(*args)))
            except BaseException as e:  # noqa: BLE001 - handed back to the caller
                self.replies.put((token, False, e))
            # (an idle worker must not keep the last call's function and arguments,
            # and through them its instance, alive)
            del fn, args, request

    def call(self, fn: Any, *args: Any) -> Any:
        token = object()
        self.requests.put((token, fn, args))
        try:
            while True:
                # a reply to a call whose caller was interrupted (KeyboardInterrupt...)
                # while waiting is dropped
                got, ok, value = self.replies.get()
                if got is token:
                    break
        except BaseException:
            # The caller gave up waiting (a signal handler raised, e.g. a SIGALRM
            # timeout) while the worker still runs the call, maybe forever: later
            # calls must not queue behind it.  Retire this worker (it exits when the
            # call returns); the thread's next deep call makes a new one.
            self.abandoned = True
            self.requests.put(None)
            raise
        if ok:
            return value
        raise value


def _big_stack_call(stack_bytes: int, fn: Any, *args: Any) -> Any:
    """``fn(*args)`` on this thread's big-stack worker (created on first use)."""
    w = getattr(call_depth, "worker", None)
    # a forked child inherits the thread-local but not the worker's thread: calls
    # handed to it would wait forever (multiprocessing's fork start method); a
    # runtime with a deeper max_call_depth than the worker was made for would get
    # its depth capped to the smaller stack
    if w is None or w.pid != os.getpid() or w.asked < stack_bytes or w.abandoned:
        # (the new worker first: if it cannot start, the old one keeps serving)
        new = _BigStackWorker(stack_bytes)
        if w is not None and w.pid == os.getpid() and not w.abandoned:
            w.requests.put(None)
        w = call_depth.worker = new
    return w.call(fn, *args)


def _forget_worker_after_fork() -> None:
    # A forked child keeps the forking thread's handle on its big-stack worker, but
    # not the worker thread itself: a call handed to it would wait forever.
    call_depth.__dict__.pop("worker", None)


if hasattr(os, "register_at_fork"):   # (POSIX only; nothing forks elsewhere)
    os.register_at_fork(after_in_child=_forget_worker_after_fork)


def dump(compiled: Any, func_index: int, annotate: bool = False) -> str:
    """The Python source generated for function ``func_index`` (in the function index
    space, imports included) of ``compiled``: a :class:`pywazero.CompiledModule`
    compiled with the compiler engine, or a :class:`CompiledWasm`.  ``annotate=True``
    interleaves the wasm instructions as comments."""
    cw = compiled
    if not isinstance(cw, CompiledWasm):
        get = getattr(compiled, "_engine_code", None)
        cw = get() if get is not None else None
        if not isinstance(cw, CompiledWasm):
            raise TypeError("dump() needs a module compiled with the compiler engine")
    index = func_index - cw.nimp
    if not 0 <= index < len(cw.codes):
        raise ValueError(f"function {func_index} is not defined by the module (imported or out of range)")
    try:
        src = cw.source(index, annotate)
    except Exception as e:  # noqa: BLE001
        from ..interpreter.compile import compile_function

        fc = compile_function(cw.module, index, cw.func_types)
        src = "# not compiled (%s: %s); runs on the interpreter:\n%s\n" % (
            type(e).__name__, e, "\n".join("# " + line for line in fc.dump().splitlines()))
    names = cw.module.names.functions
    title = names.get(func_index)
    head = "# wasm function %d%s: %s\n" % (
        func_index, " ($%s)" % title if title else "",
        cw.module.types[cw.func_types[func_index]])
    return head + src
