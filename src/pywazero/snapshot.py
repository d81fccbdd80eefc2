"""``Module.snapshot()``: a :class:`~pywazero.CompiledModule` whose instances start
in the state an instance has now, so an expensive initialisation runs once.

The module itself is rewritten by :func:`pywazero.wasm.snapshot.capture_module`;
here is what ties it to a runtime: the checks that the instance can be captured
at all, the exports left out, and the new compiled module, which takes over the
functions the engine already translated for the original (its bodies are the
same).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from .engine import call_depth
from .wasm.features import CoreFeatures
from .wasm.module import MODE_DECLARATIVE, ElementSegment
from .wasm.snapshot import capture_module
from .wasm.types import EXTERN_FUNC, FUNCREF

if TYPE_CHECKING:
    from .api import Module
    from .runtime import CompiledModule

__all__ = ["snapshot"]


def snapshot(module: Module, remove_exports: Sequence[str] = ()) -> CompiledModule:
    """The snapshot of ``module`` (a :class:`pywazero.api.Module`); see
    :meth:`pywazero.api.Module.snapshot`."""
    from .runtime import CompiledModule

    runtime = module._runtime
    inst = module.instance
    if runtime is None or inst.module is None:
        raise ValueError("cannot snapshot a host module: it has no wasm module to rewrite")
    runtime._check_open()
    if inst.closed:
        raise ValueError("cannot snapshot a closed module")
    if call_depth.hosts:
        # (a host function called by wasm: frames of this thread may hold values of
        # the instance that its memory and globals do not show yet)
        raise ValueError("cannot snapshot while wasm is running on this thread "
                         "(snapshot() was called from a host function): take it from Python "
                         "once the call has returned")
    if isinstance(remove_exports, str):
        raise TypeError("remove_exports must be a sequence of export names, not a str")
    remove = set(remove_exports)
    for name in remove:
        if not isinstance(name, str):
            raise TypeError(f"remove_exports must hold strs, not {type(name).__name__}")
        if name not in inst.export_kinds:
            raise ValueError(f"cannot remove export {name!r}: the module does not export it")
    ref_types = CoreFeatures.REFERENCE_TYPES in runtime.config.core_features
    new = capture_module(inst.module, inst, ref_types)
    if remove:
        kept = [e for e in new.exports if e.name not in remove]
        gone = sorted({e.index for e in new.exports if e.name in remove and e.kind == EXTERN_FUNC})
        new.exports = kept
        if gone and ref_types:
            # an export declares its function for ref.func in bodies: keep it declared
            new.elems.append(ElementSegment(MODE_DECLARATIVE, FUNCREF,
                                            [[(0xD2, i), (0x0B, None)] for i in gone]))
    compiled = CompiledModule(new, runtime)
    code = compiled._engine_code()
    original = getattr(inst, "engine_code", None)
    if original is not None:
        code.adopt(original)
    return compiled
