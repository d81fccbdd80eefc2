"""pywazero: a WebAssembly runtime in pure Python, with zero dependencies.

>>> import pywazero
>>> rt = pywazero.Runtime()
>>> compiled = rt.compile('(module (func (export "add") (param i32 i32) (result i32)'
...                       ' local.get 0 local.get 1 i32.add))')
>>> [(e.name, str(e.type)) for e in compiled.exports]
[('add', '[i32 i32] -> [i32]')]
"""
from .config import ModuleConfig, Mount, RuntimeConfig
from .errors import (CompileError, DecodeError, ExitError, LinkError, ResourceLimitError,
                     SerializationError, Trap, ValidationError, WasmError, WasmException)
from .runtime import CompiledModule, ExportType, ImportType, Runtime
from .cache import CacheError, CompilationCache
from .api import Caller, ExnRef, Function, Global, Memory, Module, Table, Tag
from .host import HostModuleBuilder
from .linker import Linker
from .listener import FunctionDefinition, FunctionListener
from .wasm.features import CoreFeatures
from .wasm.subtyping import RefType
from .wasm.gcref import GcRef, I31
from .wasm.gcref import Array as ArrayRef
from .wasm.gcref import Struct as StructRef
from .wasm.types import (
    EXTERNREF,
    F32,
    F64,
    FUNCREF,
    I32,
    I64,
    V128,
    FuncType,
    GlobalType,
    Limits,
    MemoryType,
    TableType,
)

from ._version import __version__


def wat2wasm(text: "str | bytes", features: "CoreFeatures | None" = None) -> bytes:
    """Translate a module in the text format to the binary format, validated by the
    rules of ``features`` (default: every feature pywazero knows,
    ``CoreFeatures.ALL``).

    >>> wat2wasm("(module)")
    b'\\x00asm\\x01\\x00\\x00\\x00'
    >>> wat2wasm("(module (func (return_call 0)))")[-5:]   # a 3.0 tail call
    b'\\x04\\x00\\x12\\x00\\x0b'
    """
    from .convert import wat2wasm as _wat2wasm

    return _wat2wasm(text, features)


__all__ = [
    "Runtime", "RuntimeConfig", "ModuleConfig", "Mount", "CompiledModule", "ImportType", "ExportType",
    "CoreFeatures", "CompilationCache", "CacheError",
    "Module", "Function", "Memory", "Table", "Global", "Tag", "ExnRef", "Caller", "HostModuleBuilder", "Linker",
    "FunctionListener", "FunctionDefinition",
    "WasmError", "CompileError", "DecodeError", "ValidationError", "LinkError", "ResourceLimitError", "Trap",
    "ExitError",
    "SerializationError",
    "WasmException", "I31", "GcRef", "StructRef", "ArrayRef",
    "I32", "I64", "F32", "F64", "V128", "FUNCREF", "EXTERNREF",
    "FuncType", "GlobalType", "Limits", "MemoryType", "TableType", "RefType",
    "wat2wasm", "__version__",
]
