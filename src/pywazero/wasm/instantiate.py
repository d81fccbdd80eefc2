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

from operator import itemgetter
from types import MappingProxyType
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from . import numerics as num
from .bulk import memory_init, table_init
from ..errors import LinkError, ResourceLimitError
from . import opcodes as ops
from .instance import (
    FunctionInstance,
    GlobalInstance,
    MemoryInstance,
    ModuleInstance,
    TableInstance,
    TagInstance,
    WasmFunctionInstance,
)
from .budget import INSTANCES, MEMORIES, MEMORY_BYTES, TABLE_ELEMENTS, TABLES
from .module import MODE_ACTIVE, MODE_DECLARATIVE, Expr, Module
from .subtyping import (canonical_type, closed_valtype, describe_functype, describe_valtype,
                        func_subtype, has_concrete, val_subtype)
from .types import (
    EXTERN_FUNC,
    EXTERN_GLOBAL,
    EXTERN_KIND_NAMES,
    EXTERN_MEMORY,
    EXTERN_TABLE,
    EXTERN_TAG,
    MAX_PAGES,
    PAGE_SIZE,
    FuncType,
    GlobalType,
    Limits,
    MemoryType,
    TableType,
)

__all__ = ["resolve_imports", "closed_import_type", "instantiate", "eval_const", "describe_extern", "InstantiationPlan"]

Resolver = Callable[[str, str], Any]

_M32 = 0xFFFFFFFF
_V128_CONST = ops.fd(12)
_M64 = 0xFFFFFFFFFFFFFFFF


def describe_extern(value: Any) -> str:
    """The type of a store object as text, for error messages."""
    if isinstance(value, FunctionInstance):
        return f"func {describe_functype(value.type)}"
    if isinstance(value, TableInstance):
        return str(value.type)
    if isinstance(value, MemoryInstance):
        return str(value.type)
    if isinstance(value, GlobalInstance):
        t = value.type
        return f"global {GlobalType(describe_valtype(t.valtype), t.mutable)}"
    if isinstance(value, TagInstance):
        return f"tag {describe_functype(value.type)}"
    return type(value).__name__


def _describe_import(module: Module, imp: Any) -> str:
    # (typed references spelled out, e.g. (ref (func (param i32))), not as indices)
    if imp.kind == EXTERN_FUNC:
        ft = module.types[imp.desc]
        return f"func {describe_functype(ft, module.canonical_ids() if has_concrete(ft) else None)}"
    if imp.kind == EXTERN_GLOBAL:
        t = imp.desc.valtype
        canon = module.canonical_ids() if t >= 0x200 else None
        return f"global {GlobalType(describe_valtype(t, canon), imp.desc.mutable)}"
    if imp.kind == EXTERN_TABLE and imp.desc.elem_type >= 0x200:
        tt = imp.desc
        return str(TableType(describe_valtype(tt.elem_type, module.canonical_ids()), tt.limits,
                             tt.address_type))
    if imp.kind == EXTERN_TAG:
        ft = module.types[imp.desc]
        return f"tag {describe_functype(ft, module.canonical_ids() if has_concrete(ft) else None)}"
    return str(imp.desc)


def _limits_match(actual: Limits, expected: Limits) -> bool:
    if actual.min < expected.min:
        return False
    if expected.max is not None:
        if actual.max is None or actual.max > expected.max:
            return False
    return True


def _closed_types(module: Module) -> List[FuncType]:
    """The module's types with type indices replaced by canonical ids (see
    :mod:`pywazero.wasm.subtyping`): what the store holds, comparable across
    modules.  The types themselves for a module without concrete references."""
    types = module.types
    if not module.rec_groups and not module.subtypes and all(
            type(t) is FuncType and not has_concrete(t) for t in types):
        return list(types)
    canon = module.canonical_ids()
    return [canonical_type(c) for c in canon]


def _matches(module: Module, imp: Any, value: Any, closed: Any = None) -> bool:
    kind = imp.kind
    if kind == EXTERN_FUNC:
        if not isinstance(value, FunctionInstance):
            return False
        want = module.types[imp.desc]
        if not has_concrete(want) and not has_concrete(value.type) and not module.rec_groups \
                and imp.desc not in module.subtypes:
            same: bool = value.type == want
            return same
        # the function's type must be the wanted one or declare it as a supertype
        want = canonical_type(module.canonical_ids()[imp.desc])
        return value.type == want or func_subtype(value.type, want)
    if kind == EXTERN_TABLE:
        if not isinstance(value, TableInstance):
            return False
        tt: TableType = imp.desc
        want_t = tt.elem_type
        if want_t >= 0x200:
            want_t = closed_valtype(want_t, module.canonical_ids())
        return value.elem_type == want_t and value.address_type == tt.address_type and _limits_match(
            Limits(len(value.elements), value.max), tt.limits
        )
    if kind == EXTERN_MEMORY:
        if not isinstance(value, MemoryInstance):
            return False
        mt: MemoryType = imp.desc
        return value.address_type == mt.address_type and _limits_match(
            Limits(value.pages, value.declared_max), mt.limits)
    if kind == EXTERN_GLOBAL:
        if not isinstance(value, GlobalInstance):
            return False
        gt: GlobalType = imp.desc
        if value.type.mutable != gt.mutable:
            return False
        want_t = gt.valtype
        if want_t >= 0x200:
            want_t = closed_valtype(want_t, module.canonical_ids())
        if value.type.valtype == want_t:
            return True
        # an immutable global of a subtype will do (3.0)
        return not gt.mutable and val_subtype(value.type.valtype, want_t)
    if kind == EXTERN_TAG:
        # (tag types match exactly: a tag's parameters are both read and written)
        if not isinstance(value, TagInstance):
            return False
        want = module.types[imp.desc]
        if not has_concrete(want) and not has_concrete(value.type) and not module.rec_groups \
                and imp.desc not in module.subtypes:
            same_tag: bool = value.type == want
            return same_tag
        # (the canonical type: a member of a recursion group is a CanonFuncType)
        return value.type == canonical_type(module.canonical_ids()[imp.desc])
    return False


def closed_import_type(module: Module, imp: Any) -> Any:
    """The store's (closed) function type of function or tag import ``imp``: what a
    function made to satisfy it must have."""
    return _closed_types(module)[imp.desc]


def resolve_imports(module: Module, resolve: Resolver) -> List[Any]:
    """Look every import up with ``resolve(module_name, field)`` (returning a store
    object or None) and check its type; raise :class:`LinkError` otherwise."""
    out = []
    for imp in module.imports:
        value = resolve(imp.module, imp.name)
        want = f"{EXTERN_KIND_NAMES[imp.kind]} {_describe_import(module, imp)}"
        if imp.kind in (EXTERN_FUNC, EXTERN_GLOBAL, EXTERN_TAG):
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
        elif op >> 16 == ops.PREFIX_FB:
            from .gcops import const_op   # (GC: only modules using it get here)

            const_op(op, imm, stack, inst)
        else:
            raise ValueError(f"not a constant instruction: {ops.op_name(op)}")
    return stack[-1] if stack else None


_END = (0x0B, None)
_NO_VALUE = object()


def _const_value(expr: Expr) -> Any:
    """The value of a constant expression that reads neither globals nor functions
    (so it is the same in every instance), else ``_NO_VALUE``."""
    if len(expr) == 2 and expr[1] == _END:
        op, imm = expr[0]
        if op in (0x41, 0x42, 0x43, 0x44, 0xD0, _V128_CONST):
            return eval_const(expr, None)  # type: ignore[arg-type]
    return _NO_VALUE


def _ref_func_index(expr: Expr) -> Optional[int]:
    if len(expr) == 2 and expr[0][0] == 0xD2 and expr[1] == _END:
        index: int = expr[0][1]
        return index
    return None


class InstantiationPlan:
    """What instantiating ``module`` takes that does not depend on the instance,
    worked out once per module (``CompiledModule`` caches it): the defined
    functions' types, constant initialisers and segment offsets evaluated, element
    segments of plain ``ref.func`` items as function indices, export positions.
    :func:`instantiate` then only allocates per-instance state."""

    def __init__(self, module: Module) -> None:
        # (closed types: equal across modules when equivalent)
        types = self.types = _closed_types(module)
        self.func_types = [types[f.type_index] for f in module.funcs]
        nimp = {EXTERN_FUNC: 0, EXTERN_TABLE: 0, EXTERN_MEMORY: 0, EXTERN_GLOBAL: 0, EXTERN_TAG: 0}
        for imp in module.imports:
            nimp[imp.kind] += 1
        self.nimp_funcs = nimp[EXTERN_FUNC]
        # globals: (type, True, value) when constant, else (type, False, init expression)
        self.globals: List[Tuple[GlobalType, bool, Any]] = []
        # canonical ids, for globals and tables of concrete reference types
        canon = module.canonical_ids() if (
            any(g.type.valtype >= 0x200 for g in module.globals)
            or any(tt.elem_type >= 0x200 for tt in module.tables)) else None
        for g in module.globals:
            v = _const_value(g.init)
            gt = g.type
            if canon is not None and gt.valtype >= 0x200:
                gt = GlobalType(closed_valtype(gt.valtype, canon), gt.mutable)
            self.globals.append((gt, v is not _NO_VALUE, v if v is not _NO_VALUE else g.init))
        # element segments' contents: (0, funcs -> list of references) for plain
        # ref.func items, else (1, the items' constant expressions)
        self.elems: List[Any] = []
        for seg in module.elems:
            idxs = [_ref_func_index(e) for e in seg.init]
            if idxs and None not in idxs:
                if len(idxs) == 1:
                    k = idxs[0]
                    self.elems.append((0, lambda funcs, k=k: [funcs[k]]))
                else:
                    getter = itemgetter(*idxs)
                    self.elems.append((0, lambda funcs, g=getter: list(g(funcs))))
            else:
                self.elems.append((1, seg.init))
        self.datas = [d.init for d in module.datas]
        # active and declarative element segments, in order: (index, active, offset
        # value or None when it must be evaluated per instance, offset expr, table)
        # (an active segment has an offset expression: mypy cannot see it, hence the
        # ignores on the offsets below; the expressions in these tuples are None only
        # where no offset is evaluated)
        self.elem_actions: List[Tuple[int, bool, Any, Any, int]] = []
        for i, seg in enumerate(module.elems):
            if seg.mode == MODE_ACTIVE:
                off = _const_value(seg.offset)  # type: ignore[arg-type]
                self.elem_actions.append((i, True, None if off is _NO_VALUE else off, seg.offset, seg.table))
            elif seg.mode == MODE_DECLARATIVE:
                self.elem_actions.append((i, False, None, None, 0))
        self.active_datas: List[Tuple[int, Any, Any, int, bytes]] = []
        for i, d in enumerate(module.datas):
            if d.mode == MODE_ACTIVE:
                off = _const_value(d.offset)  # type: ignore[arg-type]
                self.active_datas.append((i, None if off is _NO_VALUE else off, d.offset, d.memory, d.init))
        # exports: positions in funcs + tables + mems + globals of the instance
        nfuncs = nimp[EXTERN_FUNC] + len(module.funcs)
        ntables = nimp[EXTERN_TABLE] + len(module.tables)
        nmems = nimp[EXTERN_MEMORY] + len(module.mems)
        nglobals = nimp[EXTERN_GLOBAL] + len(module.globals)
        base = {EXTERN_FUNC: 0, EXTERN_TABLE: nfuncs, EXTERN_MEMORY: nfuncs + ntables,
                EXTERN_GLOBAL: nfuncs + ntables + nmems,
                EXTERN_TAG: nfuncs + ntables + nmems + nglobals}
        # defined tags: their types (a new TagInstance each per instantiation)
        self.tag_types = [types[ti] for ti in module.tags]
        self.export_names = [e.name for e in module.exports]
        positions = [base[e.kind] + e.index for e in module.exports]
        self.export_getter: Any = None
        if len(positions) == 1:
            k = positions[0]
            self.export_getter = lambda space, k=k: (space[k],)
        elif positions:
            self.export_getter = itemgetter(*positions)
        self.only_func_exports = all(e.kind == EXTERN_FUNC for e in module.exports)
        kinds: Dict[str, int] = {}
        for e in module.exports:
            kinds[e.name] = e.kind
        self.export_kinds: Mapping[str, int] = MappingProxyType(kinds)
        self.mem_types = list(module.mems)
        self.table_types: List[TableType] = []
        for tt in module.tables:
            if canon is not None and tt.elem_type >= 0x200:
                tt = TableType(closed_valtype(tt.elem_type, canon), tt.limits, tt.address_type)
            self.table_types.append(tt)
        # tables' initial values: (True, value) when constant, else (False, expr)
        self.table_inits: List[Tuple[bool, Any]] = []
        for i in range(len(module.tables)):
            init = module.table_init(i)
            if init is None:
                self.table_inits.append((True, None))
            else:
                v = _const_value(init)
                self.table_inits.append((True, v) if v is not _NO_VALUE else (False, init))
        self.start = module.start


def instantiate(
    module: Module,
    imports: List[Any],
    compiled: Any,
    engine: Any,
    name: Optional[str] = None,
    memory_limit_pages: int = MAX_PAGES,
    run_start: bool = True,
    wasm1_segments: bool = False,
    plan: Optional[InstantiationPlan] = None,
    budget: Any = None,
) -> ModuleInstance:
    """Build a :class:`ModuleInstance` of ``module`` from resolved ``imports`` (see
    :func:`resolve_imports`), with function bodies compiled by ``engine`` into
    ``compiled`` (per-module, shared between instances).  ``plan`` is the module's
    :class:`InstantiationPlan` (made here when not given).

    Traps during segment initialisation or in the start function propagate as
    :class:`Trap`; effects on imported objects stay visible, as the spec says.

    ``wasm1_segments`` selects the WebAssembly 1.0 rule instead: every active
    segment is bounds-checked before any is written, and a segment that does not
    fit is a :class:`LinkError` ("elements segment does not fit" / "data segment
    does not fit") with no effect at all.  Only the 1.0 spec tests need it.

    ``budget`` is the runtime's :class:`~pywazero.wasm.budget.ResourceBudget` (None:
    no budget): the instance, its tables and memories are charged to it, and one
    that does not fit raises :class:`~pywazero.ResourceLimitError` before anything
    is allocated.
    """
    if plan is None:
        plan = InstantiationPlan(module)
    if budget is not None:
        _check_budget(plan, budget)
    inst = ModuleInstance(module, name, plan.types)
    if budget is not None:
        budget.reserve([(INSTANCES, 1)], "an instance")
        budget.adopt(inst, INSTANCES, 1)
    funcs = inst.funcs
    tables = inst.tables
    mems = inst.mems
    globals_ = inst.globals
    if imports:
        for value, imp in zip(imports, module.imports):
            kind = imp.kind
            if kind == EXTERN_FUNC:
                funcs.append(value)
            elif kind == EXTERN_TABLE:
                tables.append(value)
            elif kind == EXTERN_MEMORY:
                mems.append(value)
            elif kind == EXTERN_GLOBAL:
                globals_.append(value)
            else:
                inst.tags.append(value)

    # functions first: ref.func in global and element initialisers may name any of them
    nimp = len(funcs)
    ftypes = plan.func_types
    n = len(ftypes)
    codes_of = getattr(compiled, "function_codes", None)
    codes = list(map(compiled.function_code, range(n))) if codes_of is None else codes_of()
    engine_of = getattr(compiled, "function_engine", None)
    if engine_of is None:
        engines: Any = engine
    else:
        # the engine runs some functions on another engine (e.g. a compiler falling
        # back to the interpreter for a function it cannot translate)
        engines = [engine_of(i) or engine for i in range(n)]
    funcs.extend(WasmFunctionInstance.create_many(ftypes, inst, nimp, codes, engines))

    if plan.tag_types:
        tags = inst.tags
        for tag_type in plan.tag_types:
            tags.append(TagInstance(tag_type, f"{name or 'module'}.tag{len(tags)}"))
    for gt, is_const, v in plan.globals:
        globals_.append(GlobalInstance(gt, v if is_const else eval_const(v, inst)))
    for tt, (is_const, v) in zip(plan.table_types, plan.table_inits):
        tables.append(TableInstance(tt, v if is_const else eval_const(v, inst), budget))
    for mt in plan.mem_types:
        if mt.limits.min > memory_limit_pages:
            raise LinkError(
                f"memory minimum of {mt.limits.min} pages exceeds the runtime's limit of "
                f"{memory_limit_pages} pages"
            )
        mems.append(MemoryInstance(mt, memory_limit_pages, budget))
    elems = inst.elems
    for kind, how in plan.elems:
        elems.append(how(funcs) if kind == 0 else [eval_const(e, inst) for e in how])
    inst.datas = list(plan.datas)

    getter = plan.export_getter
    if getter is not None:
        names = plan.export_names
        if plan.only_func_exports:
            def make_exports() -> Any:
                return dict(zip(names, getter(funcs)))
        else:
            def make_exports() -> Any:
                return dict(zip(names, getter(funcs + tables + mems + globals_ + inst.tags)))
        # built on first use (ModuleInstance.__getattr__)
        del inst.exports
        inst._make_exports = make_exports
        inst.export_kinds = plan.export_kinds  # type: ignore[assignment]  # read-only, shared by the module's instances

    compiled.bind(inst)

    if wasm1_segments:
        _check_segments_fit(module, inst)

    # element segments, then data segments, in order
    for i, active, offset, offset_expr, t in plan.elem_actions:
        if active:
            if offset is None:
                offset = eval_const(offset_expr, inst)
            # the spec's table.init followed by elem.drop
            table_init(tables[t].elements, elems, i, offset, 0, len(elems[i]))
        elems[i] = []
    datas = inst.datas
    for i, offset, offset_expr, m, data in plan.active_datas:
        if offset is None:
            offset = eval_const(offset_expr, inst)
        memory_init(mems[m].data, datas, i, offset, 0, len(data))  # then data.drop
        datas[i] = b""

    if run_start and plan.start is not None:
        limits = getattr(engine, "limits", None)
        if limits is not None and limits.consume_fuel:
            limits.charge_start()   # (wasmtime's wrapper around a start function)
        funcs[plan.start].call([])
    return inst


def _check_budget(plan: InstantiationPlan, budget: Any) -> None:
    """Raise ResourceLimitError if the instance, its tables and memories together do
    not fit the budget (checked up front, so a refusal allocates nothing; each is
    then charged as it is created)."""
    cap = budget.table_cap
    for tt in plan.table_types:
        if tt.limits.min > cap:
            raise ResourceLimitError(TABLE_ELEMENTS, tt.limits.min, cap,
                                     f"a table of {tt.limits.min} elements (the most one table may hold)")
    want = [(INSTANCES, 1), (TABLES, len(plan.table_types)), (MEMORIES, len(plan.mem_types)),
            (TABLE_ELEMENTS, sum(tt.limits.min for tt in plan.table_types)),
            (MEMORY_BYTES, sum(mt.limits.min for mt in plan.mem_types) * PAGE_SIZE)]
    nt, nm = len(plan.table_types), len(plan.mem_types)
    budget.reserve(want, "instantiating a module defining %d table%s and %d memor%s"
                   % (nt, "" if nt == 1 else "s", nm, "y" if nm == 1 else "ies"))
    budget.refund(want)


def _check_segments_fit(module: Module, inst: ModuleInstance) -> None:
    for i, seg in enumerate(module.elems):
        if seg.mode == MODE_ACTIVE:
            offset = eval_const(seg.offset, inst)  # type: ignore[arg-type]  # (active: has one)
            if offset + len(inst.elems[i]) > len(inst.tables[seg.table].elements):
                raise LinkError("elements segment does not fit")
    for d in module.datas:
        if d.mode == MODE_ACTIVE:
            offset = eval_const(d.offset, inst)  # type: ignore[arg-type]  # (active: has one)
            if offset + len(d.init) > len(inst.mems[d.memory].data):
                raise LinkError("data segment does not fit")
