"""The exceptions pywazero raises.

Every failure a user can trigger is one of these, so ``except pywazero.CompileError``
is enough to reject bad modules and ``except pywazero.Trap`` to survive a guest fault.
"""
from __future__ import annotations

from typing import Optional, Sequence

__all__ = [
    "WasmError",
    "CompileError",
    "DecodeError",
    "ValidationError",
    "LinkError",
    "Trap",
    "ExitError",
]


class WasmError(Exception):
    """Base class of every error pywazero raises on purpose."""


class CompileError(WasmError):
    """The module could not be compiled: it is malformed or invalid."""


class DecodeError(CompileError):
    """The input is not a well-formed module (binary or text).

    Binary input names the byte ``offset``, the ``section`` being read and, inside the
    code section, the ``func_index``; text input names ``line`` and ``column``.
    ``reason`` is the bare message, in the words the spec tests use
    (``"unexpected end"``, ``"integer too large"``, ...).

    >>> DecodeError("unexpected end", offset=8, section="type").reason
    'unexpected end'
    """

    def __init__(
        self,
        reason: str,
        *,
        offset: Optional[int] = None,
        section: Optional[str] = None,
        func_index: Optional[int] = None,
        line: Optional[int] = None,
        column: Optional[int] = None,
    ) -> None:
        self.reason = reason
        self.offset = offset
        self.section = section
        self.func_index = func_index
        self.line = line
        self.column = column
        where = []
        if line is not None:
            where.append(f"line {line}" + (f", column {column}" if column is not None else ""))
        if section is not None:
            where.append(f"{section} section")
        if func_index is not None:
            where.append(f"function {func_index}")
        if offset is not None:
            where.append(f"offset 0x{offset:x}")
        super().__init__(f"{reason} ({', '.join(where)})" if where else reason)


class ValidationError(CompileError):
    """The module is well-formed but breaks a validation rule.

    ``func_index`` and ``offset`` (the instruction's byte offset in the binary; None
    for text input, where ``where`` names the instruction's index in the body) say
    where; ``reason`` is the bare message such as ``"type mismatch"``.
    """

    def __init__(
        self,
        reason: str,
        *,
        func_index: Optional[int] = None,
        offset: Optional[int] = None,
        instruction: Optional[str] = None,
        where: Optional[str] = None,
    ) -> None:
        self.reason = reason
        self.func_index = func_index
        self.offset = offset
        self.instruction = instruction
        self.where = where
        parts = []
        if where is not None:
            parts.append(where)
        if func_index is not None:
            parts.append(f"function {func_index}")
        if instruction is not None:
            parts.append(f"at {instruction}")
        if offset is not None:
            parts.append(f"offset 0x{offset:x}")
        super().__init__(f"{reason} ({', '.join(parts)})" if parts else reason)


class LinkError(WasmError):
    """An import could not be satisfied (missing, or of the wrong type)."""


class Trap(WasmError):
    """WebAssembly code trapped.

    ``reason`` is the spec's message (``"integer divide by zero"``, ...);
    ``wasm_stack`` lists the function names of the wasm frames, innermost first.
    """

    def __init__(self, reason: str, wasm_stack: Sequence[str] = ()) -> None:
        self.reason = reason
        self.wasm_stack = list(wasm_stack)
        super().__init__(reason)

    def __str__(self) -> str:
        if not self.wasm_stack:
            return self.reason
        frames = "\n".join(f"  at {name}" for name in self.wasm_stack)
        return f"{self.reason}\nwasm stack trace:\n{frames}"


class ExitError(WasmError):
    """The guest asked to exit (WASI ``proc_exit``) with ``exit_code``."""

    def __init__(self, exit_code: int) -> None:
        self.exit_code = exit_code
        super().__init__(f"module exited with code {exit_code}")
