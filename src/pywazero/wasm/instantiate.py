"""Module instantiation, following the WebAssembly 2.0 specification (exec/modules):

1. resolve and type-check every import (``LinkError`` on failure);
2. allocate functions, then evaluate global initialisers (they may read imported
   globals and take ``ref.func`` of any function), tables, memories, globals and the
   element/data segments' contents;
3. initialise tables from active element segments, then memories from active data
   segments, in order; each active or declarative segment is dropped afterwards.
   An out-of-bounds segment traps, leaving the effects of earlier segments visible
   (they may be imported tables or memories);
4. run the start function.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional

from ..engine import numerics as num
from ..errors import LinkError, Trap
from . import opcodes as ops
from .instance import (
    FunctionInstance,
    GlobalInstance,
    MemoryInstance,
    ModuleInstance,
    TableInstance,
    WasmFunctionInstance,
)
from .module import MODE_ACTIVE, MODE_DECLARATIVE, Expr, Module
from .types import (
    EXTERN_FUNC,
    EXTERN_GLOBAL,
    EXTERN_KIND_NAMES,
    EXTERN_MEMORY,
    EXTERN_TABLE,
    MAX_PAGES,
    FuncType,
    GlobalType,
    Limits,
    MemoryType,
    TableType,
)

__all__ = ["resolve_imports", "instantiate", "eval_const", "describe_extern"]

Resolver = Callable[[str, str], Any]

_M32 = 0xFFFFFFFF
_V128_CONST = ops.fd(12)
_M64 = 0xFFFFFFFFFFFFFFFF


def describe_extern(value: Any) -> str:
    """The type of a store object as text, for error messages."""
    if isinstance(value, FunctionInstance):
        return f"func {value.type}"
    if isinstance(value, TableInstance):
        return str(value.type)
    if isinstance(value, MemoryInstance):
        return str(value.type)
    if isinstance(value, GlobalInstance):
        return f"global {value.type}"
    return type(value).__name__


def _describe_import(module: Module, imp: Any) -> str:
    if imp.kind == EXTERN_FUNC:
        return f"func {module.types[imp.desc]}"
    if imp.kind == EXTERN_GLOBAL:
        return f"global {imp.desc}"
    return str(imp.desc)


def _limits_match(actual: Limits, expected: Limits) -> bool:
    if actual.min < expected.min:
        return False
    if expected.max is not None:
        if actual.max is None or actual.max > expected.max:
            return False
    return True


def _matches(module: Module, imp: Any, value: Any) -> bool:
    kind = imp.kind
    if kind == EXTERN_FUNC:
        return isinstance(value, FunctionInstance) and value.type == module.types[imp.desc]
    if kind == EXTERN_TABLE:
        if not isinstance(value, TableInstance):
            return False
        tt: TableType = imp.desc
        return value.elem_type == tt.elem_type and _limits_match(
            Limits(len(value.elements), value.max), tt.limits
        )
    if kind == EXTERN_MEMORY:
        if not isinstance(value, MemoryInstance):
            return False
        mt: MemoryType = imp.desc
        return _limits_match(Limits(value.pages, value.declared_max), mt.limits)
    if kind == EXTERN_GLOBAL:
        if not isinstance(value, GlobalInstance):
            return False
        gt: GlobalType = imp.desc
        return value.type.valtype == gt.valtype and value.type.mutable == gt.mutable
    return False


def resolve_imports(module: Module, resolve: Resolver) -> List[Any]:
    """Look every import up with ``resolve(module_name, field)`` (returning a store
    object or None) and check its type; raise :class:`LinkError` otherwise."""
    out = []
    for imp in module.imports:
        value = resolve(imp.module, imp.name)
        want = f"{EXTERN_KIND_NAMES[imp.kind]} {_describe_import(module, imp)}"
        if imp.kind in (EXTERN_FUNC, EXTERN_GLOBAL):
            want = _describe_import(module, imp)
        if value is None:
            raise LinkError(f"unknown import: {imp.module!r}.{imp.name!r} (expected {want})")
        if not _matches(module, imp, value):
            raise LinkError(
                f"incompatible import type: {imp.module!r}.{imp.name!r} expected {want}, "
                f"got {describe_extern(value)}"
            )
        out.append(value)
    return out


def eval_const(expr: Expr, inst: ModuleInstance) -> Any:
    """Evaluate a constant expression against ``inst`` (its globals and functions)."""
    stack: List[Any] = []
    for op, imm in expr:
        if op == 0x41:
            stack.append(imm & _M32)
        elif op == 0x42:
            stack.append(imm & _M64)
        elif op == 0x43:
            stack.append(num.f32_from_bits(imm))
        elif op == 0x44:
            stack.append(num.f64_from_bits(imm))
        elif op == 0x23:
            stack.append(inst.globals[imm].value)
        elif op == 0xD0:
            stack.append(None)
        elif op == 0xD2:
            stack.append(inst.funcs[imm])
        elif op == _V128_CONST:
            stack.append(imm & ((1 << 128) - 1))
        elif op == 0x0B:
            break
        # extended constant expressions (a later proposal), harmless to support
        elif op == 0x6A:
            b = stack.pop()
            stack[-1] = (stack[-1] + b) & _M32
        elif op == 0x6B:
            b = stack.pop()
            stack[-1] = (stack[-1] - b) & _M32
        elif op == 0x6C:
            b = stack.pop()
            stack[-1] = (stack[-1] * b) & _M32
        elif op == 0x7C:
            b = stack.pop()
            stack[-1] = (stack[-1] + b) & _M64
        elif op == 0x7D:
            b = stack.pop()
            stack[-1] = (stack[-1] - b) & _M64
        elif op == 0x7E:
            b = stack.pop()
            stack[-1] = (stack[-1] * b) & _M64
        else:
            raise ValueError(f"not a constant instruction: {ops.op_name(op)}")
    return stack[-1] if stack else None


def instantiate(
    module: Module,
    imports: List[Any],
    compiled: Any,
    engine: Any,
    name: Optional[str] = None,
    memory_limit_pages: int = MAX_PAGES,
    run_start: bool = True,
    wasm1_segments: bool = False,
) -> ModuleInstance:
    """Build a :class:`ModuleInstance` of ``module`` from resolved ``imports`` (see
    :func:`resolve_imports`), with function bodies compiled by ``engine`` into
    ``compiled`` (per-module, shared between instances).

    Traps during segment initialisation or in the start function propagate as
    :class:`Trap`; effects on imported objects stay visible, as the spec says.

    ``wasm1_segments`` selects the WebAssembly 1.0 rule instead: every active
    segment is bounds-checked before any is written, and a segment that does not
    fit is a :class:`LinkError` ("elements segment does not fit" / "data segment
    does not fit") with no effect at all.  Only the 1.0 spec tests need it.
    """
    inst = ModuleInstance(module, name)
    funcs = inst.funcs
    for value, imp in zip(imports, module.imports):
        kind = imp.kind
        if kind == EXTERN_FUNC:
            funcs.append(value)
        elif kind == EXTERN_TABLE:
            inst.tables.append(value)
        elif kind == EXTERN_MEMORY:
            inst.mems.append(value)
        else:
            inst.globals.append(value)

    # functions first: ref.func in global and element initialisers may name any of them
    nimp = len(funcs)
    types = module.types
    code_of = compiled.function_code
    engine_of = getattr(compiled, "function_engine", None)
    if engine_of is None:
        funcs.extend([WasmFunctionInstance(types[f.type_index], inst, nimp + i, code_of(i), engine)
                      for i, f in enumerate(module.funcs)])
    else:
        # the engine runs some functions on another engine (e.g. a compiler falling
        # back to the interpreter for a function it cannot translate)
        funcs.extend([WasmFunctionInstance(types[f.type_index], inst, nimp + i, code_of(i),
                                           engine_of(i) or engine)
                      for i, f in enumerate(module.funcs)])

    for g in module.globals:
        inst.globals.append(GlobalInstance(g.type, eval_const(g.init, inst)))
    for tt in module.tables:
        inst.tables.append(TableInstance(tt))
    for mt in module.mems:
        if mt.limits.min > memory_limit_pages:
            raise LinkError(
                f"memory minimum of {mt.limits.min} pages exceeds the runtime's limit of "
                f"{memory_limit_pages} pages"
            )
        inst.mems.append(MemoryInstance(mt, memory_limit_pages))
    for seg in module.elems:
        inst.elems.append([eval_const(e, inst) for e in seg.init])
    for d in module.datas:
        inst.datas.append(d.init)

    for e in module.exports:
        space = (funcs, inst.tables, inst.mems, inst.globals)[e.kind]
        inst.exports[e.name] = space[e.index]
        inst.export_kinds[e.name] = e.kind

    compiled.bind(inst)

    if wasm1_segments:
        _check_segments_fit(module, inst)

    # element segments, then data segments, in order
    for i, seg in enumerate(module.elems):
        if seg.mode == MODE_ACTIVE:
            offset = eval_const(seg.offset, inst)
            table = inst.tables[seg.table]
            refs = inst.elems[i]
            n = len(refs)
            if offset + n > len(table.elements):
                raise Trap("out of bounds table access")
            table.elements[offset:offset + n] = refs
            inst.elems[i] = []
        elif seg.mode == MODE_DECLARATIVE:
            inst.elems[i] = []
    for i, d in enumerate(module.datas):
        if d.mode == MODE_ACTIVE:
            offset = eval_const(d.offset, inst)
            mem = inst.mems[d.memory]
            data = d.init
            n = len(data)
            if offset + n > len(mem.data):
                raise Trap("out of bounds memory access")
            mem.data[offset:offset + n] = data
            inst.datas[i] = b""

    if run_start and module.start is not None:
        funcs[module.start].call([])
    return inst


def _check_segments_fit(module: Module, inst: ModuleInstance) -> None:
    for i, seg in enumerate(module.elems):
        if seg.mode == MODE_ACTIVE:
            offset = eval_const(seg.offset, inst)
            if offset + len(inst.elems[i]) > len(inst.tables[seg.table].elements):
                raise LinkError("elements segment does not fit")
    for d in module.datas:
        if d.mode == MODE_ACTIVE:
            offset = eval_const(d.offset, inst)
            if offset + len(d.init) > len(inst.mems[d.memory].data):
                raise LinkError("data segment does not fit")
