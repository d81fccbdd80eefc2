"""Where a trap happened: the :class:`~pywazero.errors.Frame` of a wasm function
at an instruction, as both engines report it.

Engines know their own position (the interpreter a pc in its internal code, the
compiler a line of generated Python) and map it back to the index of the wasm
instruction in the function's body; this module turns that index into the byte
offset in the module (``Function.offsets``) and, when the module carries DWARF line
information, a source file and line (:mod:`.dwarf`, parsed on first use).  Nothing
here runs unless a trap's frames are read.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

from ..errors import Frame
from .module import text_position
from .types import EXTERN_FUNC

__all__ = ["wasm_frame", "source_of"]


def wasm_frame(fi: Any, body_index: Optional[int]) -> Frame:
    """The frame of wasm function instance ``fi`` at instruction ``body_index`` of
    its body (None: position unknown)."""
    inst = fi.module
    index = fi.index
    m = inst.module
    name = None
    offset = None
    source = None
    mod = getattr(inst, "name", None)
    if m is not None:
        name = m.names.functions.get(index)
        if name is None:
            for e in m.exports:
                if e.kind == EXTERN_FUNC and e.index == index:
                    name = e.name
                    break
        mod = mod or m.names.module
        if body_index is not None:
            nimp = m.num_imported_funcs()
            func = m.funcs[index - nimp]
            offsets = func.offsets if func.decoded else func.peek()[1]
            if 0 <= body_index < len(offsets):
                offset = offsets[body_index]
                try:
                    source = source_of(m, offset)
                except Exception:  # noqa: BLE001 - debug info must never break a trap
                    source = None
            else:
                source = text_source_of(m, index - nimp, body_index)
    return Frame(mod or None, index, name, offset, source)


def text_source_of(module: Any, index: int, body_index: int) -> Optional[Tuple[str, int]]:
    """``("<wat>", line)`` of instruction ``body_index`` of defined function
    ``index`` of a module compiled from text."""
    at = text_position(module, index, body_index)
    return None if at is None else ("<wat>", at[0])


def source_of(module: Any, offset: int) -> Optional[Tuple[str, int]]:
    """``(file, line)`` of the instruction at byte ``offset`` of ``module`` from its
    ``.debug_line`` section (None without one, or when no row covers it)."""
    table = module.__dict__.get("_line_table", False)
    if table is False:
        table = None
        start = getattr(module, "code_section_start", None)
        if start is not None:
            sections = {c.name: c.data for c in module.customs if c.name.startswith(".debug_")}
            if ".debug_line" in sections:
                from .dwarf import LineTable

                def opt(name: str) -> Optional[bytes]:
                    data = sections.get(name)
                    return bytes(data) if data is not None else None

                try:
                    table = LineTable(bytes(sections[".debug_line"]), start,
                                      opt(".debug_line_str"), opt(".debug_str"))
                except Exception:  # noqa: BLE001 - malformed debug info: no lines
                    table = None
        module.__dict__["_line_table"] = table
    if table is None:
        return None
    found: Optional[Tuple[str, int]] = table.lookup(offset)
    return found
