"""What ``pywazero inspect`` reports about a compiled module, as plain data (the
``--json`` output) and as the text lines it prints.

>>> import pywazero as wz
>>> cm = wz.Runtime().compile('(module (global (export "g") i32 (i32.const -3)) (func $f))')
>>> info = module_info(cm)
>>> info["globals"][0]["value"], info["globals"][0]["init"], info["functions"]["names"]
(-3, 'i32.const -3', [{'index': 0, 'name': 'f'}])
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

from .wasm import numerics as num
from .wasm import types as T
from .wasm.opcodes import fd, op_name

__all__ = ["module_info", "describe_lines", "format_expr"]

_V128_CONST = fd(12)


def _limits(lim: Any) -> Dict[str, Any]:
    return {"min": lim.min, "max": lim.max}


def _address_type(t: Any) -> str:
    return "i64" if getattr(t, "address_type", T.I32) == T.I64 else "i32"


def _extern(kind: str, t: Any) -> Dict[str, Any]:
    """An import's or export's kind and type: functions, globals and tags as their
    text (``[i32] -> []``, ``(mut i64)``), memories and tables as fields."""
    if kind == "memory":
        return dict(kind=kind, address_type=_address_type(t), **_limits(t.limits))
    if kind == "table":
        return dict(kind=kind, element_type=T.valtype_name(t.elem_type), address_type=_address_type(t),
                    **_limits(t.limits))
    return {"kind": kind, "type": str(t)}


def _float_value(bits: int, width: int) -> Any:
    """A float constant as JSON can hold it: a number, or "nan"/"inf"/"-inf"
    (with the payload when it is not the canonical NaN)."""
    x = num.f32_from_bits(bits) if width == 32 else num.f64_from_bits(bits)
    if math.isnan(x):
        mantissa = bits & ((1 << 23) - 1 if width == 32 else (1 << 52) - 1)
        canonical = 1 << 22 if width == 32 else 1 << 51
        sign = "-" if bits >> (width - 1) else ""
        return f"{sign}nan" if mantissa == canonical else f"{sign}nan:{mantissa:#x}"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _constant(expr: List[Tuple[int, Any]]) -> Tuple[bool, Any]:
    """(True, value) when ``expr`` is one plain constant (number, v128 or null),
    else (False, None)."""
    if len(expr) != 2:
        return False, None
    op, imm = expr[0]
    if op == 0x41:
        return True, _signed(imm, 32)
    if op == 0x42:
        return True, _signed(imm, 64)
    if op == 0x43:
        return True, _float_value(imm, 32)
    if op == 0x44:
        return True, _float_value(imm, 64)
    if op == _V128_CONST:
        return True, f"0x{imm:032x}"
    if op == 0xD0:   # ref.null
        return True, None
    return False, None


def _imm_text(op: int, imm: Any, func_names: Dict[int, str]) -> str:
    if imm is None:
        return ""
    if op == 0x41:
        return str(_signed(imm, 32))
    if op == 0x42:
        return str(_signed(imm, 64))
    if op in (0x43, 0x44):
        value = _float_value(imm, 32 if op == 0x43 else 64)
        return value if isinstance(value, str) else repr(value)
    if op == _V128_CONST:
        return f"0x{imm:032x}"
    if op == 0xD0:
        return T.heap_type_name(T.ref_heap(imm))
    if op == 0xD2 and imm in func_names:
        return f"{imm} (${func_names[imm]})"
    if isinstance(imm, (tuple, list)):
        return " ".join(str(x) for x in imm)
    return str(imm)


def format_expr(expr: List[Tuple[int, Any]], func_names: Optional[Dict[int, str]] = None) -> str:
    """A constant expression as text, instructions separated by ``; ``
    (``global.get 0; i32.const 1; i32.add``), without the final ``end``."""
    parts = []
    for op, imm in expr:
        if op == 0x0B:
            continue
        imm_text = _imm_text(op, imm, func_names or {})
        parts.append(op_name(op) + (" " + imm_text if imm_text else ""))
    return "; ".join(parts)


def module_info(compiled: Any) -> Dict[str, Any]:
    """The facts ``pywazero inspect --json`` prints about a :class:`CompiledModule`:
    imports and exports with their types, function names (name section), memories,
    tables, globals (type, mutability, initialiser, and its value when it is a plain
    constant), tags, the start function, data and element segment counts and the
    custom sections.  Only JSON types are used (floats that JSON cannot hold are
    strings: ``"nan"``, ``"inf"``)."""
    m = compiled.module
    describe = compiled._describe
    names = m.names.functions

    def imported_flag(kind: int) -> int:
        return len(m.imported(kind))

    n_mems = imported_flag(T.EXTERN_MEMORY)
    n_tables = imported_flag(T.EXTERN_TABLE)
    n_globals = imported_flag(T.EXTERN_GLOBAL)
    n_tags = imported_flag(T.EXTERN_TAG)
    global_imports = m.imported(T.EXTERN_GLOBAL)

    globals_: List[Dict[str, Any]] = []
    for i, gt in enumerate(m.global_types()):
        g: Dict[str, Any] = {"index": i, "type": T.valtype_name(describe(gt).valtype),
                             "mutable": gt.mutable, "imported": i < n_globals}
        if i < n_globals:
            imp = global_imports[i]
            g["import"] = f"{imp.module}.{imp.name}"
        else:
            init = m.globals[i - n_globals].init
            g["init"] = format_expr(init, names)
            plain, value = _constant(init)
            if plain:
                g["value"] = value
        globals_.append(g)

    start = None
    if m.start is not None:
        start = {"index": m.start, "name": names.get(m.start)}
    return {
        "module_name": m.names.module,
        "imports": [dict(module=imp.module, name=imp.name, **_extern(imp.kind, imp.type))
                    for imp in compiled.imports],
        "exports": [dict(name=e.name, **_extern(e.kind, e.type)) for e in compiled.exports],
        "functions": {
            "imported": m.num_imported_funcs(),
            "defined": len(m.funcs),
            "names": [{"index": i, "name": n} for i, n in sorted(names.items())],
        },
        "memories": [dict(index=i, address_type=_address_type(mt), imported=i < n_mems, **_limits(mt.limits))
                     for i, mt in enumerate(m.mem_types())],
        "tables": [dict(index=i, element_type=T.valtype_name(describe(tt).elem_type),
                        address_type=_address_type(tt), imported=i < n_tables, **_limits(tt.limits))
                   for i, tt in enumerate(m.table_types())],
        "globals": globals_,
        "tags": [{"index": i, "type": str(describe(m.types[ti])), "imported": i < n_tags}
                 for i, ti in enumerate(m.tag_types())],
        "start": start,
        "data_segments": len(m.datas),
        "element_segments": len(m.elems),
        "custom_sections": [{"name": c.name, "size": len(c.data)} for c in m.customs],
    }


def _limits_text(d: Dict[str, Any]) -> str:
    return f"min {d['min']}" + ("" if d["max"] is None else f", max {d['max']}")


def describe_lines(compiled: Any) -> List[str]:
    """The lines ``pywazero inspect`` prints: the facts of :func:`module_info`."""
    info = module_info(compiled)
    name = info["module_name"]
    lines = [f"module name: {name if name is not None else '(none)'}"]

    def section(title: str, items: List[str]) -> None:
        lines.append(f"{title} ({len(items)}):" if items else f"{title}: none")
        lines.extend(f"  {item}" for item in items)

    def extern_text(kind: str, t: Any) -> str:
        if kind == "memory":
            at = "i64 " if getattr(t, "address_type", T.I32) == T.I64 else ""
            lim = t.limits
            return f"memory {at}{_limits_text({'min': lim.min, 'max': lim.max})} (pages of 64 KiB)"
        if kind == "table":
            at = "i64 " if getattr(t, "address_type", T.I32) == T.I64 else ""
            lim = t.limits
            return f"table {at}{T.valtype_name(t.elem_type)} {_limits_text({'min': lim.min, 'max': lim.max})}"
        return f"{kind} {t}"

    section("imports", [f"{imp.module}.{imp.name}: {extern_text(imp.kind, imp.type)}"
                        for imp in compiled.imports])
    section("exports", [f"{e.name}: {extern_text(e.kind, e.type)}" for e in compiled.exports])
    at = {"i32": "", "i64": "i64 "}
    section("memories", [f"{d['index']}: {at[d['address_type']]}{_limits_text(d)} pages"
                         f"{' (imported)' if d['imported'] else ''}" for d in info["memories"]])
    section("tables", [f"{d['index']}: {at[d['address_type']]}{d['element_type']} {_limits_text(d)}"
                       f"{' (imported)' if d['imported'] else ''}" for d in info["tables"]])
    gl = []
    for g in info["globals"]:
        t = f"(mut {g['type']})" if g["mutable"] else g["type"]
        if g["imported"]:
            gl.append(f"{g['index']}: {t} (imported from {g['import']})")
        elif "value" in g:
            value = g["value"]
            shown = "null" if value is None else value if isinstance(value, str) else repr(value)
            gl.append(f"{g['index']}: {t} = {shown}")
        else:
            gl.append(f"{g['index']}: {t} = ({g['init']})")
    section("globals", gl)
    section("tags", [f"{d['index']}: {d['type']}{' (imported)' if d['imported'] else ''}"
                     for d in info["tags"]])
    fn = info["functions"]
    lines.append(f"functions: {fn['defined']} defined, {fn['imported']} imported")
    section("function names", [f"{d['index']}: {d['name']}" for d in fn["names"]])
    if info["start"] is not None:
        s = info["start"]
        lines.append(f"start function: {s['index']}" + (f" ({s['name']})" if s["name"] else ""))
    lines.append(f"data segments: {info['data_segments']}")
    lines.append(f"element segments: {info['element_segments']}")
    section("custom sections", [f"{c['name']}: {c['size']} bytes" for c in info["custom_sections"]])
    return lines
