"""pywazero's engines behind the WAST runner's :class:`~pywazero.script.runner.Engine`
interface: what ``pywazero wast`` and the spec tests run scripts with.

Every script gets a fresh :class:`pywazero.Runtime` with the ``spectest`` host
module the spec scripts import (print functions that print nothing, globals, a
table and a memory).

>>> from pywazero.script import runner, wast
>>> outcomes = runner.run_commands(wast.read_script(
...     '(module (import "spectest" "global_i32" (global i32))'
...     ' (func (export "g") (result i32) (global.get 0)))'
...     '(assert_return (invoke "g") (i32.const 666))'), PywazeroEngine("compiler"))
>>> [o.status for o in outcomes]
['passed', 'passed']
"""
from __future__ import annotations

from typing import Any, List, Sequence

from .config import ModuleConfig, RuntimeConfig
from .runtime import CompiledModule, Runtime
from .script import wast
from .script.runner import Engine
from .wasm import numerics as num
from .wasm.gcref import Array, HostAny, I31, Struct, internalize
from .wasm.instance import GlobalInstance
from .wasm.subtyping import top_heap
from .wasm.types import (ANYREF, ARRAYREF, EXTERNREF, F32, F64, FUNCREF, HT_ANY, HT_FUNC, I31REF, I32,
                         I64, STRUCTREF, is_ref, ref_heap)

__all__ = ["PywazeroEngine", "register_spectest"]


def register_spectest(rt: Runtime) -> None:
    """Register the ``spectest`` host module of the spec scripts in ``rt``:
    ``print*`` functions (that print nothing), ``global_i32``/``i64``/``f32``/``f64``
    (666), ``table`` and ``table64`` (10..20 funcref), ``memory`` (1..2 pages)."""
    noop = lambda *args: None  # noqa: E731
    (rt.host_module("spectest")
     .function("print", noop)
     .function("print_i32", noop, params=[I32])
     .function("print_i64", noop, params=[I64])
     .function("print_f32", noop, params=[F32])
     .function("print_f64", noop, params=[F64])
     .function("print_i32_f32", noop, params=[I32, F32])
     .function("print_f64_f64", noop, params=[F64, F64])
     .global_("global_i32", I32, 666)
     .global_("global_i64", I64, 666)
     .global_("global_f32", F32, 666.6)
     .global_("global_f64", F64, 666.6)
     .table("table", FUNCREF, min=10, max=20)
     .table("table64", FUNCREF, min=10, max=20, address_type=I64)
     .memory("memory", min_pages=1, max_pages=2)
     .instantiate())


def _to_raw(v: "wast.Value") -> Any:
    t, bits = v.type, v.bits
    if t == ANYREF and bits is not None:
        # (ref.host N): host reference N internalised (any.convert_extern)
        return internalize(bits)
    if t == F32 and bits is not None:
        return num.f32_from_bits(bits)
    if t == F64 and bits is not None:
        return num.f64_from_bits(bits)
    if t in (FUNCREF, EXTERNREF):
        # an externref (ref.extern N) is represented by the int N itself
        return bits
    return bits


def _from_raw(t: int, v: Any) -> "wast.Value":
    if t == F32:
        return wast.Value(t, num.f32_to_bits(v))
    if t == F64:
        return wast.Value(t, num.f64_to_bits(v))
    if t == FUNCREF or (is_ref(t) and top_heap(ref_heap(t)) == HT_FUNC):
        return wast.Value(t, None if v is None else getattr(v, "index", 0))
    if is_ref(t) and top_heap(ref_heap(t)) == HT_ANY and v is not None:
        # a GC value: its dynamic kind ((ref.struct), (ref.i31), (ref.host N), ...)
        if isinstance(v, HostAny):
            return wast.Value(ANYREF, v.obj)
        kind = STRUCTREF if isinstance(v, Struct) else ARRAYREF if isinstance(v, Array) else \
            I31REF if isinstance(v, I31) else ANYREF
        return wast.Value(kind, v)
    return wast.Value(t, v)


class PywazeroEngine(Engine):
    """Runs scripts on a pywazero engine (``"interpreter"`` or ``"compiler"``), a
    fresh :class:`~pywazero.Runtime` per script."""

    def __init__(self, engine: str = "interpreter") -> None:
        self.name = engine
        self.engine = engine
        self.rt: Any = None

    def start_script(self) -> None:
        if self.rt is not None:
            self.rt.close()
        # self.features: the script's core features, set by the runner's configure()
        # (without bulk memory, as in the 1.0 scripts, the runtime initialises
        # segments all-or-nothing, as 1.0 did)
        self.rt = Runtime(RuntimeConfig(engine=self.engine, core_features=self.features))
        register_spectest(self.rt)

    def close(self) -> None:
        """Release the runtime of the last script."""
        if self.rt is not None:
            self.rt.close()
            self.rt = None

    def instantiate(self, module: Any, command: "wast.ModuleCommand") -> Any:
        compiled = CompiledModule(module, self.rt)
        return self.rt.instantiate(compiled, ModuleConfig(start_functions=()))

    def register(self, name: str, instance: Any) -> None:
        self.rt.register(name, instance)

    def invoke(self, instance: Any, name: str, args: Sequence["wast.Value"]) -> List["wast.Value"]:
        fn = instance.instance.exports.get(name)
        if fn is None or not hasattr(fn, "call"):
            raise LookupError(f"no exported function {name!r}")
        results = fn.call([_to_raw(a) for a in args])
        return [_from_raw(t, v) for t, v in zip(fn.type.results, results)]

    def get(self, instance: Any, name: str) -> "wast.Value":
        g = instance.instance.exports.get(name)
        if not isinstance(g, GlobalInstance):
            raise LookupError(f"no exported global {name!r}")
        return _from_raw(g.type.valtype, g.value)
