"""The entry point: :class:`Runtime` compiles modules into :class:`CompiledModule`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Union

from .config import RuntimeConfig
from .errors import CompileError
from .wasm import types as T
from .wasm.module import Module

Source = Union[bytes, bytearray, memoryview, str]

_WASM_MAGIC = b"\0asm"


@dataclass(frozen=True)
class ImportType:
    """An import a module needs: ``module``, ``name`` and its ``type``
    (a FuncType, TableType, MemoryType or GlobalType)."""

    module: str
    name: str
    kind: str
    type: object


@dataclass(frozen=True)
class ExportType:
    """An export a module offers: ``name``, ``kind`` ("func", "table", "memory",
    "global") and its ``type``."""

    name: str
    kind: str
    type: object


def _decode(source: Source) -> Module:
    if isinstance(source, str):
        from .text.parser import parse_module_text

        return parse_module_text(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data.startswith(_WASM_MAGIC) and data.lstrip()[:1] in (b"(", b";"):
            from .text.parser import parse_module_text

            return parse_module_text(data)
        from .binary.decoder import decode_module

        return decode_module(data)
    raise TypeError(f"source must be bytes (binary) or str (text), not {type(source).__name__}")


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

    @property
    def module(self) -> Module:
        if self._module is None:
            raise ValueError("compiled module is closed")
        return self._module

    @property
    def name(self) -> Optional[str]:
        """The module name from the name section, if any."""
        return self.module.names.module

    @property
    def imports(self) -> List[ImportType]:
        m = self.module
        out = []
        for imp in m.imports:
            t = m.types[imp.desc] if imp.kind == T.EXTERN_FUNC else imp.desc
            out.append(ImportType(imp.module, imp.name, T.EXTERN_KIND_NAMES[imp.kind], t))
        return out

    @property
    def exports(self) -> List[ExportType]:
        m = self.module
        spaces = {
            T.EXTERN_FUNC: [m.types[i] for i in m.func_types()],
            T.EXTERN_TABLE: m.table_types(),
            T.EXTERN_MEMORY: m.mem_types(),
            T.EXTERN_GLOBAL: m.global_types(),
        }
        return [ExportType(e.name, T.EXTERN_KIND_NAMES[e.kind], spaces[e.kind][e.index]) for e in m.exports]

    @property
    def closed(self) -> bool:
        return self._module is None

    def close(self) -> None:
        """Release the module and whatever the engine compiled for it."""
        self._module = None

    def __enter__(self) -> "CompiledModule":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Runtime:
    """Compiles and instantiates WebAssembly modules.

    >>> import pywazero
    >>> with pywazero.Runtime(pywazero.RuntimeConfig(engine="interpreter")) as rt:
    ...     cm = rt.compile('(module (func (export "f") (result i32) (i32.const 1)))')
    ...     [e.name for e in cm.exports]
    ['f']
    """

    def __init__(self, config: Optional[RuntimeConfig] = None) -> None:
        if config is None:
            config = RuntimeConfig()
        if not isinstance(config, RuntimeConfig):
            raise TypeError("config must be a RuntimeConfig")
        self.config = config
        self._closed = False
        self._modules: Dict[str, object] = {}

    def compile(self, source: Source) -> CompiledModule:
        """Decode (binary, or text when given a str) and validate ``source``.

        Raises :class:`~pywazero.DecodeError` or :class:`~pywazero.ValidationError`
        (both :class:`~pywazero.CompileError`).
        """
        if self._closed:
            raise ValueError("runtime is closed")
        from .wasm.validation import validate_module

        module = _decode(source)
        validate_module(module)
        limit = self.config.memory_limit_pages
        for mt in module.mem_types():
            if mt.limits.min > limit:
                raise CompileError(
                    f"memory minimum of {mt.limits.min} pages exceeds the runtime's limit of {limit} pages"
                )
        return CompiledModule(module, self)

    def close(self) -> None:
        """Close the runtime and every module instantiated in it."""
        self._closed = True
        self._modules.clear()

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
