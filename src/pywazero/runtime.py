"""The entry point: :class:`Runtime` compiles modules into :class:`CompiledModule`."""
from __future__ import annotations

import os
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Dict, List, Optional, Tuple, Type, Union

from .config import ModuleConfig, RuntimeConfig
from .engine.pause import collector_paused
from .errors import CompileError, ExitError, LinkError
from .wasm import types as T
from .wasm.instance import ModuleInstance, WasmFunctionInstance
from .wasm.instantiate import InstantiationPlan, instantiate, resolve_imports
from .wasm.module import Module

if TYPE_CHECKING:
    from .api import Module as ModuleFacade
    from .cache import CompilationCache
    from .engine import CompiledCode
    from .host import HostModuleBuilder
    from .wasm.features import CoreFeatures

Source = Union[bytes, bytearray, memoryview, str]
#: what Runtime.compile/validate take: a module's bytes (binary or text), its text as
#: a str, or the path of a file holding either
CompileSource = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]"]


def _read_source(source: CompileSource) -> Source:
    """``source``, or the bytes of the file when it is a path (``os.PathLike``: a
    ``str`` is module text, never a path)."""
    if isinstance(source, os.PathLike):
        with open(source, "rb") as f:
            return f.read()
    return source


# (annotated before the function that rebinds it: PyPy refuses the other order)
_module_facade_class: Optional[Type[ModuleFacade]] = None


def _module_facade() -> Type[ModuleFacade]:
    global _module_facade_class
    if _module_facade_class is None:
        from .api import Module as ModuleFacade

        _module_facade_class = ModuleFacade
    return _module_facade_class

_WASM_MAGIC = b"\0asm"


@dataclass(frozen=True)
class ImportType:
    """An import a module needs: ``module``, ``name`` and its ``type``
    (a FuncType, TableType, MemoryType or GlobalType; a tag's FuncType)."""

    module: str
    name: str
    kind: str
    type: object


@dataclass(frozen=True)
class ExportType:
    """An export a module offers: ``name``, ``kind`` ("func", "table", "memory",
    "global", "tag") and its ``type`` (a tag's: its FuncType)."""

    name: str
    kind: str
    type: object


def _decode(source: Source, features: Optional[CoreFeatures] = None, validate: bool = False) -> Module:
    """Decode (or parse) ``source``; with ``validate``, validate it too (a binary
    module while it is decoded, body by body: see ``decode_module``)."""
    if isinstance(source, str):
        from .text.parser import parse_module_text

        module = parse_module_text(source, features)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data.startswith(_WASM_MAGIC) and data.lstrip()[:1] in (b"(", b";"):
            from .text.parser import parse_module_text

            module = parse_module_text(data, features)
        else:
            from .binary.decoder import decode_module

            if features is None:
                return decode_module(data, validate=validate)
            return decode_module(data, features, validate=validate)
    else:
        raise TypeError(f"source must be bytes (binary) or str (text), not {type(source).__name__}")
    if validate:
        from .wasm.validation import validate_module

        if features is None:
            validate_module(module)
        else:
            validate_module(module, features)
    return module


class CompiledModule:
    """A decoded and validated module, ready to be instantiated any number of times.

    >>> import pywazero
    >>> rt = pywazero.Runtime()
    >>> cm = rt.compile(bytes.fromhex("0061736d01000000"))
    >>> cm.imports, cm.exports
    ([], [])
    """

    def __init__(self, module: Module, runtime: "Runtime") -> None:
        self._module: Optional[Module] = module
        self._runtime = runtime
        self._code: Optional[CompiledCode] = None
        self._plan: Optional[InstantiationPlan] = None
        # the module's binary, when known (compiled from bytes, or deserialized):
        # what serialize() carries
        self._wasm: Optional[bytes] = None
        # (the last serialize(): (translated function count, bytes))
        self._serialized: Optional[Tuple[int, bytes]] = None

    @property
    def runtime(self) -> "Runtime":
        """The runtime this module belongs to (``runtime.instantiate(self)``); for a
        module from ``pickle.loads``, the process's ``Runtime.default(config)``."""
        return self._runtime

    def _wasm_bytes(self) -> bytes:
        """The module's binary: the bytes it was compiled from, else (text) its
        encoding, made once."""
        wasm = self._wasm
        if wasm is None:
            from .binary.encoder import encode_module

            wasm = self._wasm = encode_module(self.module)
        return wasm

    def serialize(self, *, translate_used: bool = False) -> bytes:
        """This module as bytes for :meth:`Runtime.deserialize`, with the engine's
        code for every function translated so far (so another process loads it
        without decoding, validating or translating those again).  With
        ``translate_used``, functions that have run only on the compiler's cheap
        tier (interpreted: called a few times) are translated first, so the loading
        side translates nothing it ran here (it costs their translation now).

        The bytes hold a header (format, pywazero and Python version, core features,
        engine), the module's binary, the compiled code and a checksum; they load
        only under the same pywazero and Python (implementation and bytecode
        version).  They contain code objects that run when called: treat them like
        a program (see docs/SECURITY.md).  Raises ValueError when closed.

        >>> import pywazero
        >>> rt = pywazero.Runtime()
        >>> blob = rt.compile('(module (func (export "f") (result i32) i32.const 7))').serialize()
        >>> rt.instantiate(rt.deserialize(blob)).function("f")()
        7
        """
        from .serialize import dumps

        return dumps(self, translate_used)

    def __reduce__(self) -> Any:
        # pickle: the serialized form plus the runtime's configuration; loaded by
        # the receiving process's Runtime.default(config)
        from dataclasses import fields

        cfg = self._runtime.config
        state = {f.name: getattr(cfg, f.name) for f in fields(cfg)}
        state["core_features"] = int(state["core_features"])
        state.pop("function_listener", None)   # (Python callables of this process)
        return (_unpickle, (self.serialize(), state))

    def _engine_code(self) -> CompiledCode:
        """The engine's per-module code, compiled on first use and then reused by
        every instantiation."""
        code = self._code
        if code is None:
            code = self._runtime._engine.compile_module(self.module)
            self._code = code
        return code

    def _instantiation_plan(self) -> InstantiationPlan:
        """The module's per-module instantiation facts (computed on first use)."""
        plan = self._plan
        if plan is None:
            plan = self._plan = InstantiationPlan(self.module)
        return plan

    @property
    def module(self) -> Module:
        """The decoded and validated module (the model ``pywazero.wasm`` works on);
        ValueError once the compiled module is closed."""
        if self._module is None:
            raise ValueError("compiled module is closed")
        return self._module

    @property
    def name(self) -> Optional[str]:
        """The module name from the name section, if any."""
        return self.module.names.module

    def _describe(self, t: object) -> object:
        """A module type for the API: reference types as RefTypes."""
        from .wasm.subtyping import describe_functype, describe_valtype

        m = self.module
        vts = (t.params + t.results if isinstance(t, T.FuncType) else
               (t.elem_type,) if isinstance(t, T.TableType) else
               (t.valtype,) if isinstance(t, T.GlobalType) else ())
        # (canonical ids only when a type index needs one)
        canon = m.canonical_ids() if any(v >= 0x200 for v in vts) else None
        if isinstance(t, T.FuncType):
            return describe_functype(t, canon)
        if isinstance(t, T.TableType):
            return T.TableType(describe_valtype(t.elem_type, canon), t.limits, t.address_type)
        if isinstance(t, T.GlobalType):
            return T.GlobalType(describe_valtype(t.valtype, canon), t.mutable)
        return t

    @property
    def imports(self) -> List[ImportType]:
        """What the module imports; reference types are :class:`~pywazero.RefType`."""
        m = self.module
        out = []
        for imp in m.imports:
            # (a tag's type is its function type: params are the payload)
            t = m.types[imp.desc] if imp.kind in (T.EXTERN_FUNC, T.EXTERN_TAG) else imp.desc
            out.append(ImportType(imp.module, imp.name, T.EXTERN_KIND_NAMES[imp.kind], self._describe(t)))
        return out

    @property
    def exports(self) -> List[ExportType]:
        """What the module exports; reference types are :class:`~pywazero.RefType`."""
        m = self.module
        spaces = {
            T.EXTERN_FUNC: [m.types[i] for i in m.func_types()],
            T.EXTERN_TABLE: m.table_types(),
            T.EXTERN_MEMORY: m.mem_types(),
            T.EXTERN_GLOBAL: m.global_types(),
            T.EXTERN_TAG: [m.types[i] for i in m.tag_types()],
        }
        return [ExportType(e.name, T.EXTERN_KIND_NAMES[e.kind], self._describe(spaces[e.kind][e.index]))
                for e in m.exports]

    def custom_sections(self, name: str) -> List[bytes]:
        """The contents of the module's custom sections called ``name``, in order
        (an empty list if there are none).

        >>> import pywazero
        >>> cm = pywazero.Runtime().compile('(module (@custom "meta" "v1"))')
        >>> cm.custom_sections("meta"), cm.custom_sections("other")
        ([b'v1'], [])
        """
        if not isinstance(name, str):
            raise TypeError("custom section name must be a str")
        return [bytes(c.data) for c in self.module.customs if c.name == name]

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._module is None

    def close(self) -> None:
        """Release the module and whatever the engine compiled for it.  Instances
        already created keep working.  A module from a compilation cache first adds
        the functions translated since it was loaded to its entry."""
        if self._module is not None and self._runtime.config.cache is not None:
            from . import cache

            cache.release(self)
        if self._code is not None:
            self._code.close()
            self._code = None
        self._plan = None
        self._module = None
        self._wasm = None
        self._serialized = None

    def __enter__(self) -> "CompiledModule":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _unpickle(blob: bytes, config_state: Dict[str, Any]) -> CompiledModule:
    """``pickle.loads`` of a CompiledModule: onto the process's default runtime for
    the pickled configuration."""
    from .wasm.features import CoreFeatures

    try:
        state = dict(config_state)
        state["core_features"] = CoreFeatures(state["core_features"])
        config = RuntimeConfig(**state)
    except (TypeError, ValueError, KeyError) as e:
        # (most likely pickled by another pywazero: say so if the blob tells)
        from .errors import SerializationError
        from .serialize import read_header

        read_header(blob)
        raise SerializationError(f"pickled runtime configuration not usable here: {e}") from None
    return Runtime.default(config).deserialize(blob)


_DEFAULTS: Dict[RuntimeConfig, "Runtime"] = {}
_DEFAULTS_LOCK = threading.Lock()


class Runtime:
    """Compiles and instantiates WebAssembly modules.

    >>> import pywazero
    >>> with pywazero.Runtime(pywazero.RuntimeConfig(engine="interpreter")) as rt:
    ...     cm = rt.compile('(module (func (export "f") (result i32) (i32.const 1)))')
    ...     [e.name for e in cm.exports]
    ...     rt.instantiate(cm).function("f")()
    ['f']
    1

    Instances named by ``ModuleConfig(name=...)`` (and host modules) are registered:
    other modules import from them by that name.
    """

    # (set on first use by pywazero.cache and the _bulk_memory property)
    _cache_slots: Dict[CompiledModule, List[Any]]
    _bulk_memory_of: Tuple[CoreFeatures, bool]

    def __init__(self, config: Optional[RuntimeConfig] = None) -> None:
        if config is None:
            config = RuntimeConfig()
        if not isinstance(config, RuntimeConfig):
            raise TypeError("config must be a RuntimeConfig")
        from .engine import create_engine

        self.config = config
        self._closed = False
        self._engine = create_engine(config)
        if config.function_listener is not None:
            from .listener import engine_listen

            self._engine.listen = engine_listen(config.function_listener)
        from .wasm.budget import ResourceBudget

        # resource budgets (None when the config sets none: nothing is counted)
        self._budget = ResourceBudget.from_config(config)
        # name -> ModuleInstance (instances and aliases importable by name)
        self._modules: Dict[str, ModuleInstance] = {}
        # every live instance (weakly: an anonymous instance lives as long as the user
        # holds it), so close() can close them all
        self._instances: "weakref.WeakSet[ModuleInstance]" = weakref.WeakSet()
        # what this runtime's instances and host objects carry as their owner
        # (ModuleInstance.owner): a token, not the runtime, so that a memory the user
        # keeps does not keep the whole runtime alive
        self._owner = object()

    @property
    def _bulk_memory(self) -> bool:
        # Without bulk memory, segments follow 1.0's all-or-nothing rule: every
        # active segment is checked before any is written, a misfit is a LinkError.
        features = self.config.core_features
        cached = self.__dict__.get("_bulk_memory_of")
        if cached is not None and cached[0] is features:
            known: bool = cached[1]
            return known
        from .wasm.features import CoreFeatures

        bulk = CoreFeatures.BULK_MEMORY in features
        self._bulk_memory_of = (features, bulk)
        return bulk

    @property
    def engine(self) -> str:
        """The name of the engine in use."""
        return self._engine.name

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("runtime is closed")

    def compile(self, source: CompileSource) -> CompiledModule:
        """Decode (binary, or text when given a str) and validate ``source``.  A
        ``pathlib.Path`` (any ``os.PathLike``) is read, and its bytes are taken as
        binary or text by their content (``\\0asm`` or not).

        Raises :class:`~pywazero.DecodeError` or :class:`~pywazero.ValidationError`
        (both :class:`~pywazero.CompileError`); ``OSError`` when a path cannot be read.

        >>> import pathlib, pywazero
        >>> cm = pywazero.Runtime().compile(pathlib.Path("examples/hello.wasm"))
        >>> [e.name for e in cm.exports]
        ['memory', '_start']
        """
        self._check_open()
        source = _read_source(source)
        try:
            compiled = self._compile(source)
        except MemoryError:
            # the last line of defence: within the implementation limits a module
            # costs memory proportional to its size, but a big module on a small
            # host (or under RLIMIT_AS) may still not fit.  (Raised after the except
            # block, so the MemoryError's frames, holding the half-built module,
            # are released first.)
            compiled = None
        if compiled is None:
            raise CompileError("module too large: the host ran out of memory compiling it")
        self._check_memory_limits(compiled)
        return compiled

    def validate(self, source: CompileSource) -> None:
        """Check that ``source`` (as for :meth:`compile`) is a valid module under this
        runtime's core features, without preparing it to run: returns None, or
        raises :class:`~pywazero.DecodeError` / :class:`~pywazero.ValidationError`.

        >>> import pywazero
        >>> rt = pywazero.Runtime()
        >>> rt.validate('(module (func (result i32) i32.const 1))')
        >>> rt.validate('(module (func (result i32)))')
        Traceback (most recent call last):
        ...
        pywazero.errors.ValidationError: ...
        """
        self._check_open()
        source = _read_source(source)
        if isinstance(source, (bytearray, memoryview)):
            source = bytes(source)
        try:
            with collector_paused():
                _decode(source, self.config.core_features, validate=True)
        except MemoryError:
            raise CompileError("module too large: the host ran out of memory validating it") from None

    def _check_memory_limits(self, compiled: CompiledModule) -> None:
        limit = self.config.memory_limit_pages
        for mt in compiled.module.mem_types():
            if mt.limits.min > limit:
                raise CompileError(
                    f"memory minimum of {mt.limits.min} pages exceeds the runtime's limit of {limit} pages"
                )

    def _compile(self, source: Source) -> CompiledModule:
        # (RuntimeConfig.__post_init__ made a directory path a CompilationCache)
        cache: Optional[CompilationCache] = self.config.cache  # type: ignore[assignment]
        if cache is not None and isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            if data.startswith(_WASM_MAGIC):
                return cache._compile(self, data, self._compile_fresh)
        return self._compile_fresh(source)

    def _compile_fresh(self, source: Source) -> CompiledModule:
        if isinstance(source, (bytearray, memoryview)):
            source = bytes(source)   # (one copy, kept: the decoder's and serialize's)
        with collector_paused():
            module = _decode(source, self.config.core_features, validate=True)
            compiled = CompiledModule(module, self)
            if isinstance(source, bytes) and source.startswith(_WASM_MAGIC):
                compiled._wasm = source
            compiled._engine_code()  # the engine's per-module work happens here, once
        return compiled

    def deserialize(self, data: Union[bytes, bytearray, memoryview]) -> CompiledModule:
        """The :class:`CompiledModule` serialized in ``data`` (by
        :meth:`CompiledModule.serialize`), belonging to this runtime.

        Functions translated before serializing are not translated again.  Raises
        :class:`~pywazero.SerializationError` (a ValueError) for bytes that are not a
        serialized module, are truncated or damaged (checked before anything is
        decoded), or were made by another pywazero version or another Python
        (implementation or bytecode version): those are refused, not recompiled;
        compile the ``.wasm`` again.  Defined cases that still load: a runtime with
        other core features validates the carried module under its own (as
        :meth:`compile`, with its errors); code of another engine, or made under
        other fuel/interruption/call-depth settings, is ignored and functions are
        translated again on first call.

        Only deserialize bytes you trust: they hold code objects that run.

        >>> rt = Runtime(RuntimeConfig(engine="interpreter"))
        >>> blob = Runtime().compile('(module (func (export "f") (result i32) i32.const 7))').serialize()
        >>> rt.instantiate(rt.deserialize(blob)).function("f")()
        7
        """
        self._check_open()
        from .serialize import loads

        return loads(self, data)

    def adopt(self, compiled: CompiledModule) -> CompiledModule:
        """``compiled`` (from any runtime of this process) as a module of this
        runtime: itself if it is one already, else a new CompiledModule sharing the
        decoded module and, where the engine and its code settings match, the code
        translated so far.  The way to instantiate a module unpickled onto
        ``Runtime.default`` in a runtime of one's own.

        >>> rt1, rt2 = Runtime(), Runtime()
        >>> cm = rt1.compile('(module (func (export "f") (result i32) i32.const 7))')
        >>> rt2.instantiate(rt2.adopt(cm)).function("f")()
        7
        """
        self._check_open()
        if not isinstance(compiled, CompiledModule):
            raise TypeError("adopt() takes a CompiledModule")
        if compiled._runtime is self:
            return compiled
        module = compiled.module   # (ValueError when closed)
        if int(compiled._runtime.config.core_features) != int(self.config.core_features):
            cm = self.compile(compiled._wasm_bytes())
        else:
            cm = CompiledModule(module, self)
            cm._wasm = compiled._wasm
            self._check_memory_limits(cm)
        src, dst = compiled._code, cm._engine_code()
        if src is not None and compiled._runtime.engine == self.engine and hasattr(dst, "adopt_codes"):
            dst.adopt_codes(src)
        return cm

    @classmethod
    def default(cls, config: Optional[RuntimeConfig] = None) -> "Runtime":
        """The process's shared runtime for ``config`` (default: ``RuntimeConfig()``),
        created on first use (again if it was closed).  Unpickled compiled modules
        belong to it: register their imports there, e.g.
        ``pywazero.wasi.instantiate(cm.runtime)``; host modules registered on the
        pickling side are not carried.

        >>> Runtime.default() is Runtime.default(RuntimeConfig())
        True
        """
        if config is None:
            config = RuntimeConfig()
        if not isinstance(config, RuntimeConfig):
            raise TypeError("config must be a RuntimeConfig")
        with _DEFAULTS_LOCK:
            rt = _DEFAULTS.get(config)
            if rt is None or rt._closed:
                rt = _DEFAULTS[config] = cls(config)
            return rt

    def _resolve(self, module: str, name: str) -> object:
        inst = self._modules.get(module)
        if inst is None:
            return None
        return inst.exports.get(name)

    def instantiate(self, compiled: Union[CompiledModule, CompileSource],
                    config: Optional[ModuleConfig] = None) -> ModuleFacade:
        """Instantiate a compiled module (or compile ``source``, instantiate it and
        release the compiled form) and return its :class:`~pywazero.api.Module`.

        Imports resolve against modules registered in this runtime.  Raises
        :class:`~pywazero.LinkError` for unsatisfiable imports and
        :class:`~pywazero.Trap` when segment initialisation or a start function
        traps.  After the spec's start function, the exported functions named in
        ``config.start_functions`` that exist are called (``ExitError`` with code 0
        from them counts as success).  (A :class:`~pywazero.Linker` resolves imports
        per instantiation instead.)
        """
        return self._instantiate(compiled, config, self._resolve)

    def _instantiate(self, compiled: Union[CompiledModule, CompileSource],
                     config: Optional[ModuleConfig], resolve: Callable[[str, str], object]) -> ModuleFacade:
        self._check_open()
        if config is None:
            config = ModuleConfig()
        if not isinstance(config, ModuleConfig):
            raise TypeError("config must be a ModuleConfig")
        owned = False
        if not isinstance(compiled, CompiledModule):
            compiled = self.compile(compiled)
            owned = True
        elif compiled._runtime is not self:
            raise ValueError("compiled module belongs to another runtime "
                             "(runtime.adopt(compiled) makes it one of this runtime)")
        try:
            name = config.name
            if name is not None and name in self._modules:
                raise ValueError(f"a module named {name!r} is already instantiated in this runtime")
            module = compiled.module
            imports = resolve_imports(module, resolve)
            try:
                inst = instantiate(module, imports, compiled._engine_code(), self._engine, name,
                                   self.config.memory_limit_pages, run_start=False,
                                   wasm1_segments=not self._bulk_memory,
                                   plan=compiled._instantiation_plan(), budget=self._budget)
            except MemoryError:
                # (memories and tables say so themselves; this is everything else an
                # instance allocates: function instances, segments, namespaces;
                # raised after the except block so the half-built instance is freed)
                inst = None
            if inst is None:
                from .errors import ResourceLimitError

                raise ResourceLimitError("host memory", len(module.funcs), None,
                                         "the host ran out of memory instantiating the module")
            # attached before any code runs: host functions (WASI) find it from the caller
            inst.config = config
            self._own(inst)
            # (a snapshot of the instance takes over the functions translated so far)
            inst.engine_code = compiled._engine_code()
            if module.start is not None:
                if self._engine.limits.consume_fuel:
                    self._engine.limits.charge_start()
                inst.funcs[module.start].call([])
            for fname in config.start_functions:
                f = inst.exports.get(fname) if fname in inst.export_kinds else None
                if isinstance(f, WasmFunctionInstance) or (f is not None and hasattr(f, "raw")):
                    if f.type.params:
                        raise LinkError(f"start function {fname!r} must take no parameters, "
                                        f"but its type is {f.type}")
                    try:
                        f.call([])
                    except ExitError as e:
                        if e.exit_code != 0:
                            raise
            if name is not None:
                self._modules[name] = inst
            self._instances.add(inst)
            return _module_facade()(inst, self)
        finally:
            if owned:
                compiled.close()

    def _own(self, inst: ModuleInstance) -> None:
        """Mark ``inst`` and the memories, tables, globals and tags it defines (not
        those it imports) as this runtime's."""
        from .wasm.types import EXTERN_GLOBAL, EXTERN_MEMORY, EXTERN_TABLE, EXTERN_TAG

        inst.owner = owner = self._owner
        if inst.module is None:   # a host module's (its builder marks what it makes)
            return
        imported = {EXTERN_MEMORY: 0, EXTERN_TABLE: 0, EXTERN_GLOBAL: 0, EXTERN_TAG: 0}
        for imp in inst.module.imports:
            if imp.kind in imported:
                imported[imp.kind] += 1
        for objs, kind in ((inst.mems, EXTERN_MEMORY), (inst.tables, EXTERN_TABLE),
                           (inst.globals, EXTERN_GLOBAL), (inst.tags, EXTERN_TAG)):
            for obj in objs[imported[kind]:]:
                obj.owner = owner

    def _check_owned(self, value: object, what: str) -> None:
        """``ValueError`` if store object ``value`` was made by another runtime:
        its code would run under that runtime's engine and limits, and its growth
        be charged to that runtime's budgets."""
        from .api import owner_of

        owner = owner_of(value)
        if owner is not None and owner is not self._owner:
            raise ValueError(f"{what} belongs to another runtime: a runtime links only its own "
                             f"modules' functions, memories, tables, globals and tags (and host "
                             f"functions)")

    def _add_instance(self, inst: ModuleInstance) -> ModuleFacade:
        """Register a ready instance (host modules) and return its facade."""
        from .api import Module as ModuleFacade

        self._check_open()
        if inst.name is not None:
            if inst.name in self._modules:
                raise ValueError(f"a module named {inst.name!r} is already instantiated in this runtime")
            self._modules[inst.name] = inst
        self._own(inst)
        self._instances.add(inst)
        return ModuleFacade(inst, self)

    def _forget(self, inst: ModuleInstance) -> None:
        for k in [k for k, v in self._modules.items() if v is inst]:
            del self._modules[k]
        self._instances.discard(inst)

    def module(self, name: str) -> Optional[ModuleFacade]:
        """The module registered under ``name``, or None."""
        from .api import Module as ModuleFacade

        inst = self._modules.get(name)
        return None if inst is None else ModuleFacade(inst, self)

    def register(self, alias: str, module: Union[ModuleFacade, ModuleInstance]) -> None:
        """Make ``module`` importable under the module name ``alias`` too (the spec
        script's ``register``)."""
        self._check_open()
        from .api import Module as ModuleFacade

        inst = module.instance if isinstance(module, ModuleFacade) else module
        if getattr(inst, "closed", False):
            raise ValueError("cannot register a closed module")
        self._modules[alias] = inst

    # -- execution limits (see pywazero.engine.limits) -----------------------------------
    def set_fuel(self, fuel: int) -> None:
        """Set the fuel left for wasm of this runtime (needs
        ``RuntimeConfig(consume_fuel=True)``); running out traps "all fuel consumed"."""
        self._engine.limits.set_fuel(fuel)

    def add_fuel(self, fuel: int) -> None:
        """Add to the fuel left (needs ``RuntimeConfig(consume_fuel=True)``)."""
        self._engine.limits.add_fuel(fuel)

    def get_fuel(self) -> int:
        """The fuel left (needs ``RuntimeConfig(consume_fuel=True)``)."""
        return self._engine.limits.get_fuel()

    def deadline(self, seconds: float) -> ContextManager[None]:
        """A context manager: wasm of this runtime still running ``seconds`` after the
        ``with`` statement (calls, instantiations and their start functions, in any
        thread) traps "interrupted: deadline exceeded", and calls started inside the
        block after that trap at once.  Needs ``RuntimeConfig(interruptible=True)``
        (ValueError otherwise).  A timer thread delivers it; leaving the block stops
        and joins it.

        >>> rt = Runtime(RuntimeConfig(interruptible=True))
        >>> spin = rt.instantiate('(module (func (export "f") (loop br 0)))').function("f")
        >>> with rt.deadline(0.05):
        ...     spin()
        Traceback (most recent call last):
        ...
        pywazero.errors.Trap: interrupted: deadline exceeded
        ...
        """
        return self._engine.limits.deadline(seconds)

    def interrupt(self) -> None:
        """Make wasm of this runtime running now (in any thread) trap "interrupted".
        Thread-safe and safe to call from a signal handler; needs
        ``RuntimeConfig(interruptible=True)``."""
        self._engine.limits.interrupt()

    def host_module(self, name: str) -> HostModuleBuilder:
        """Start building a host module importable as ``name``; see
        :class:`~pywazero.host.HostModuleBuilder`."""
        self._check_open()
        from .host import HostModuleBuilder

        return HostModuleBuilder(self, name)

    def close(self) -> None:
        """Close the runtime and every module instantiated in it.  With a
        compilation cache, the functions translated for its compiled modules since
        they were loaded are added to their entries first."""
        if self.config.cache is not None and not self._closed:
            from . import cache

            cache.release_runtime(self)
        self._closed = True
        for inst in list(self._instances):
            inst.closed = True
            wasi_state = getattr(inst, "wasi_state", None)
            if wasi_state is not None:  # files and sockets the guest opened through WASI
                wasi_state.close_all()
        self._instances = weakref.WeakSet()
        self._modules.clear()

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
