"""Linking per instantiation: a :class:`Linker` maps ``(module, name)`` pairs to
externs and instantiates modules against them (like wasmtime's ``Linker``).

>>> import pywazero as wz
>>> rt = wz.Runtime()
>>> linker = wz.Linker(rt)
>>> _ = linker.define_func("env", "double", wz.FuncType([wz.I32], [wz.I32]), lambda x: 2 * x)
>>> m = linker.instantiate(rt.compile('(module (import "env" "double" (func $d (param i32) (result i32)))'
...                                   ' (func (export "f") (result i32) (call $d (i32.const 21))))'))
>>> m.function("f")()
42

Rules:

* A name is looked up in the linker first, then (unless
  ``Linker(rt, use_runtime_registry=False)``) among the modules registered in the
  runtime by name (``ModuleConfig(name=...)``, host modules, ``wasi.instantiate``).
  So a linker can add to or override the runtime's registry for the modules it
  instantiates, and leaves the registry itself alone.
* Defining a ``(module, name)`` pair that is already defined raises ``ValueError``
  unless the linker allows shadowing (``Linker(rt, allow_shadowing=True)`` or the
  :attr:`Linker.allow_shadowing` property); then the later definition replaces the
  earlier one for instantiations made afterwards.  :meth:`Linker.define_instance`
  checks every name before defining any.
* Instances made by :meth:`Linker.instantiate` are not defined in the linker: pass
  them to :meth:`Linker.define_instance` to make them importable (a
  ``ModuleConfig(name=...)`` registers them in the runtime, as ``Runtime.instantiate``
  does).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from .config import ModuleConfig
from .errors import Trap
from .wasm.instance import (FunctionInstance, GlobalInstance, HostFunctionInstance, MemoryInstance,
                            TableInstance, TagInstance)
from .wasm.types import EXTERN_FUNC, FuncType

if TYPE_CHECKING:
    from .api import Extern
    from .api import Module as ModuleFacade
    from .host import HostModuleBuilder
    from .runtime import CompiledModule, CompileSource, Runtime
    from .wasi.hostlog import LogSink

__all__ = ["Linker"]

_STORE_TYPES = (FunctionInstance, MemoryInstance, TableInstance, GlobalInstance, TagInstance)


class Linker:
    """Externs by ``(module name, name)`` for instantiating modules of ``runtime``.

    ``allow_shadowing``: whether defining an already defined pair replaces it
    (False: ``ValueError``).  ``use_runtime_registry``: whether imports the linker
    does not define are looked up among the runtime's named modules too.

    >>> import pywazero as wz
    >>> rt = wz.Runtime()
    >>> lib = rt.instantiate('(module (global (export "answer") i32 (i32.const 42)))')
    >>> linker = wz.Linker(rt).define_instance("lib", lib)
    >>> m = linker.instantiate('(module (import "lib" "answer" (global $a i32))'
    ...                        ' (func (export "get") (result i32) global.get $a))')
    >>> m.function("get")()
    42
    """

    def __init__(self, runtime: Runtime, *, allow_shadowing: bool = False,
                 use_runtime_registry: bool = True) -> None:
        from .runtime import Runtime

        if not isinstance(runtime, Runtime):
            raise TypeError("Linker(runtime) takes a pywazero.Runtime")
        self._runtime = runtime
        self.allow_shadowing = bool(allow_shadowing)
        self.use_runtime_registry = bool(use_runtime_registry)
        self._defs: Dict[Tuple[str, str], object] = {}

    @property
    def runtime(self) -> Runtime:
        """The runtime whose modules this linker instantiates."""
        return self._runtime

    # -- defining ---------------------------------------------------------------------
    def _check_names(self, pairs: Sequence[Tuple[str, str]]) -> None:
        for module, name in pairs:
            if not isinstance(module, str) or not isinstance(name, str):
                raise TypeError("module and name must be str")
            if not self.allow_shadowing and (module, name) in self._defs:
                raise ValueError(f"{module!r}.{name!r} is already defined in this linker "
                                 f"(Linker(..., allow_shadowing=True) lets a definition replace it)")

    def define(self, module: str, name: str, extern: Extern) -> "Linker":
        """Define ``module``.``name`` as ``extern``: a :class:`~pywazero.Function`,
        :class:`~pywazero.Memory`, :class:`~pywazero.Table`,
        :class:`~pywazero.Global` or :class:`~pywazero.Tag` (from any module of this
        runtime, or made by a host module; one of another runtime raises
        ``ValueError``).  Returns the linker.

        >>> import pywazero as wz
        >>> rt = wz.Runtime()
        >>> mem = rt.instantiate('(module (memory (export "m") 1))').memory("m")
        >>> linker = wz.Linker(rt).define("env", "memory", mem)
        >>> linker.get("env", "memory") == mem
        True
        """
        from .api import unwrap_extern

        value = unwrap_extern(extern)
        if not isinstance(value, _STORE_TYPES):
            raise TypeError(f"cannot define {module!r}.{name!r} as {extern!r}: not a Function, "
                            f"Memory, Table, Global or Tag")
        self._runtime._check_owned(value, f"cannot define {module!r}.{name!r} as {extern!r}: it")
        self._check_names([(module, name)])
        self._defs[(module, name)] = value
        return self

    def define_func(self, module: str, name: str, functype: FuncType, fn: Callable[..., Any], *,
                    with_caller: Optional[bool] = None, raw: bool = False) -> "Linker":
        """Define ``module``.``name`` as Python callable ``fn`` of wasm type
        ``functype`` (a :class:`~pywazero.FuncType`); ``with_caller`` and ``raw`` as
        for :meth:`HostModuleBuilder.function <pywazero.HostModuleBuilder.function>`.

        >>> import pywazero as wz
        >>> linker = wz.Linker(wz.Runtime())
        >>> linker.define_func("env", "nop", wz.FuncType([], []), lambda: None) is linker
        True
        """
        from .host import make_host_function

        if not isinstance(functype, FuncType):
            raise TypeError("functype must be a pywazero.FuncType")
        self._check_names([(module, name)])
        f = make_host_function(fn, functype.params, functype.results, name=f"{module}.{name}",
                               with_caller=with_caller, raw=raw)
        self._defs[(module, name)] = f
        return self

    def define_instance(self, name: str, module: ModuleFacade) -> "Linker":
        """Define every export of ``module`` (a :class:`~pywazero.Module`, e.g. an
        instance or a host module's :meth:`~pywazero.HostModuleBuilder.build`) under
        the module name ``name``.  With shadowing off, nothing is defined if any
        of its names is defined already."""
        from .api import Module as ModuleFacade

        if not isinstance(module, ModuleFacade):
            raise TypeError("define_instance takes a pywazero.Module")
        inst = module.instance
        self._runtime._check_owned(inst, f"cannot define module {name!r}: {module!r}")
        if getattr(inst, "closed", False):
            raise ValueError("cannot define a closed module")
        exports = dict(inst.exports)
        self._check_names([(name, k) for k in exports])
        for k, v in exports.items():
            self._defs[(name, k)] = v
        return self

    def define_host_module(self, builder: HostModuleBuilder) -> "Linker":
        """Define the exports of a :class:`~pywazero.HostModuleBuilder` under its
        name, without registering it in the runtime (its :meth:`build
        <pywazero.HostModuleBuilder.build>`).

        >>> import pywazero as wz
        >>> rt = wz.Runtime()
        >>> linker = wz.Linker(rt).define_host_module(rt.host_module("env").global_("g", wz.I32, 7))
        >>> linker.get("env", "g").value, rt.module("env")
        (7, None)
        """
        return self.define_instance(builder.name, builder.build())

    def define_wasi(self, *, unstable: bool = True, log: Optional[LogSink] = None) -> "Linker":
        """Define the WASI functions: ``wasi_snapshot_preview1`` (and
        ``wasi_unstable`` unless ``unstable=False``).  Each guest's WASI state
        (arguments, environment, stdio, mounts) comes, as with
        :func:`pywazero.wasi.instantiate`, from the ``ModuleConfig`` it is
        instantiated with.  ``log``: a text stream (or a callable taking each line)
        every WASI call is written to, arguments and results decoded
        (:mod:`pywazero.wasi.hostlog`).

        >>> import io, pywazero as wz
        >>> rt = wz.Runtime()
        >>> out = io.BytesIO()
        >>> _ = wz.Linker(rt).define_wasi().instantiate(open("examples/hello.wasm", "rb").read(),
        ...                                             wz.ModuleConfig(stdout=out))
        >>> out.getvalue()
        b'Hello, world! (from WebAssembly)\\n'
        """
        from .wasi import SNAPSHOT_PREVIEW1, UNSTABLE, host_functions

        spaces = [(SNAPSHOT_PREVIEW1, host_functions(False, log))]
        if unstable:
            spaces.append((UNSTABLE, host_functions(True, log)))
        self._check_names([(mod, f) for mod, funcs in spaces for f in funcs])
        for mod, funcs in spaces:
            for f, fn in funcs.items():
                self._defs[(mod, f)] = fn
        return self

    def define_unknown_imports_as_traps(self, compiled: CompiledModule) -> "Linker":
        """Define every function import of ``compiled`` that nothing satisfies
        (neither this linker nor, if it uses it, the runtime's registry) as a
        function of the imported type that traps when called, naming the import.
        Other kinds of unknown imports are left undefined (instantiation still
        raises :class:`~pywazero.LinkError` for them).

        >>> import pywazero as wz
        >>> rt = wz.Runtime()
        >>> cm = rt.compile('(module (import "env" "missing" (func $m)) (func (export "f") call $m))')
        >>> m = wz.Linker(rt).define_unknown_imports_as_traps(cm).instantiate(cm)
        >>> m.function("f")()
        Traceback (most recent call last):
        ...
        pywazero.errors.Trap: unknown import called: 'env'.'missing' ...
        """
        from .runtime import CompiledModule
        from .wasm.instantiate import closed_import_type

        if not isinstance(compiled, CompiledModule):
            raise TypeError("define_unknown_imports_as_traps takes a CompiledModule")
        module = compiled.module
        for imp in module.imports:
            if imp.kind != EXTERN_FUNC or self._lookup(imp.module, imp.name) is not None:
                continue
            self._defs[(imp.module, imp.name)] = _trap_stub(imp.module, imp.name,
                                                            closed_import_type(module, imp))
        return self

    # -- reading ------------------------------------------------------------------------
    def _lookup(self, module: str, name: str) -> object:
        v = self._defs.get((module, name))
        if v is None and self.use_runtime_registry:
            v = self._runtime._resolve(module, name)
        return v

    def get(self, module: str, name: str) -> Optional[Extern]:
        """The extern ``module``.``name`` resolves to (the linker's definition, else
        the runtime's registry if used) as a Function/Memory/Table/Global/Tag, or
        None."""
        from .api import wrap_extern

        v = self._lookup(module, name)
        return None if v is None else wrap_extern(v)

    def __contains__(self, key: object) -> bool:
        return key in self._defs

    def __iter__(self) -> Iterator[Tuple[str, str]]:
        """The ``(module, name)`` pairs defined in this linker, in definition order."""
        return iter(list(self._defs))

    def __len__(self) -> int:
        return len(self._defs)

    # -- instantiating ------------------------------------------------------------------
    def instantiate(self, compiled: Union[CompiledModule, CompileSource],
                    config: Optional[ModuleConfig] = None) -> ModuleFacade:
        """Instantiate ``compiled`` (a CompiledModule of this linker's runtime, or
        source to compile) as :meth:`Runtime.instantiate
        <pywazero.Runtime.instantiate>` does, with its imports resolved by this
        linker (then the runtime's registry, if used).  Raises
        :class:`~pywazero.LinkError` naming a missing import and the type expected,
        or both types for a mismatch."""
        return self._runtime._instantiate(compiled, config, self._lookup)


def _trap_stub(module: str, name: str, ftype: FuncType) -> HostFunctionInstance:
    message = (f"unknown import called: {module!r}.{name!r} was defined as a trap "
               f"(Linker.define_unknown_imports_as_traps)")

    def raw(caller: object, args: List[Any]) -> List[Any]:
        raise Trap(message)

    return HostFunctionInstance(ftype, raw, f"{module}.{name}")

