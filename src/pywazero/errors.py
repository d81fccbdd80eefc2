"""The exceptions pywazero raises.

Every failure a user can trigger is one of these, so ``except pywazero.CompileError``
is enough to reject bad modules and ``except pywazero.Trap`` to survive a guest fault.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

__all__ = [
    "WasmError",
    "CompileError",
    "DecodeError",
    "ValidationError",
    "LinkError",
    "ResourceLimitError",
    "Trap",
    "ExitError",
    "WasmException",
    "SerializationError",
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


class ResourceLimitError(LinkError):
    """Instantiation (or creating a host module's memory or table) would exceed a
    resource budget of the runtime (``RuntimeConfig(max_memory_bytes=...,
    max_table_elements=..., max_instances=..., max_tables=..., max_memories=...)``),
    a built-in cap (a table of more than 2^24 elements), or what the host could
    allocate.

    ``limit`` names the budget (``"max_memory_bytes"``, ..., or ``"host memory"``
    when the allocation itself failed), ``requested`` is the total that was asked
    for and ``budget`` the allowed value (None for ``"host memory"``).  A guest's
    ``memory.grow``/``table.grow`` past a budget never raises this: it returns -1.

    >>> str(ResourceLimitError("max_instances", 3, 2))
    'resource limit exceeded: max_instances is 2, but 3 were requested'
    """

    def __init__(self, limit: str, requested: int, budget: Optional[int], detail: str = "") -> None:
        self.limit = limit
        self.requested = requested
        self.budget = budget
        if budget is None:
            msg = f"resource limit exceeded: {limit}: could not allocate {requested}"
        else:
            msg = f"resource limit exceeded: {limit} is {budget}, but {requested} were requested"
        super().__init__(f"{msg} ({detail})" if detail else msg)


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
        return format_trap_message(self.reason, self.wasm_stack)


#: at most this many frames of a wasm stack trace are shown (the innermost
#: ``limit - 10`` and the outermost 10; runaway recursion elides the middle) ...
MAX_FRAMES_SHOWN = 40
#: ... and a function name longer than this is shortened (its middle elided)
MAX_NAME_SHOWN = 200


def _short_name(name: object, limit: int) -> str:
    name = str(name)
    if len(name) <= limit:
        return name
    half = (limit - 5) // 2
    return f"{name[:half]}[...]{name[-half:]}"


def format_trap_message(reason: str, wasm_stack: Sequence[str], limit: int = MAX_FRAMES_SHOWN,
                        name_limit: int = MAX_NAME_SHOWN) -> str:
    """``reason`` and the wasm stack trace (innermost first) as ``str(Trap)`` shows
    them: bounded in size whatever the guest does (10,000 frames of a 100,000-character
    function name would otherwise make a gigabyte string): past ``limit`` frames the
    middle is elided, names past ``name_limit`` characters are shortened."""
    if not wasm_stack:
        return reason
    n = len(wasm_stack)
    if n > limit:
        tail = min(10, limit // 2)
        head = limit - tail
        frames = [f"  at {_short_name(x, name_limit)}" for x in wasm_stack[:head]]
        frames.append(f"  ... {n - head - tail} more frames")
        frames += [f"  at {_short_name(x, name_limit)}" for x in wasm_stack[n - tail:]]
    else:
        frames = [f"  at {_short_name(x, name_limit)}" for x in wasm_stack]
    return reason + "\nwasm stack trace:\n" + "\n".join(frames)


class ExitError(WasmError):
    """The guest asked to exit (WASI ``proc_exit``) with ``exit_code``."""

    def __init__(self, exit_code: int) -> None:
        self.exit_code = exit_code
        super().__init__(f"module exited with code {exit_code}")


class WasmException(WasmError):
    """A WebAssembly exception (exception handling) that no wasm handler caught.

    ``tag`` is the :class:`pywazero.Tag` it was thrown with and ``payload`` the
    tuple of its values, converted as function results are.  It is not a
    :class:`Trap`: traps are never caught by wasm handlers, exceptions are.  A host
    function raises one to throw into the calling wasm code, where ``try_table``
    (or a legacy ``try``) may catch it; one that wasm code threw passes unchanged
    through Python host functions that called back into wasm.

    >>> import pywazero as wz
    >>> rt = wz.Runtime(wz.RuntimeConfig(core_features=wz.CoreFeatures.V3))
    >>> m = rt.instantiate(rt.compile('(module (tag $e (export "e") (param i32))'
    ...     ' (func (export "f") (throw $e (i32.const -7))))'))
    >>> try:
    ...     m.function("f")()
    ... except wz.WasmException as e:
    ...     print(e.payload, e.tag == m.exports["e"])
    (-7,) True
    """

    # The raw form engines use: ``_tag`` is the store's TagInstance (the identity
    # handlers compare), ``_values`` the payload as internal values.  An exnref
    # value inside wasm is this object itself.
    _tag: Any
    _values: Tuple[Any, ...]

    # How tags and values look to users is the public API's business; errors sit
    # below every layer and import none, so pywazero.api installs these three when
    # it is imported (which importing pywazero does).
    _api_arguments: Any = None   # (tag, payload) -> (store tag, internal values)
    _api_tag: Any = None         # store tag -> pywazero.Tag
    _api_value: Any = None       # (value type, internal value) -> Python value

    def __init__(self, tag: Any, payload: Sequence[Any] = ()) -> None:
        self._tag, self._values = WasmException._api_arguments(tag, payload)
        super().__init__()

    @classmethod
    def _raw(cls, tag: Any, values: Tuple[Any, ...]) -> "WasmException":
        """An exception of store tag ``tag`` with internal ``values`` (engines)."""
        e = cls.__new__(cls)
        e._tag = tag
        e._values = values
        return e

    @property
    def tag(self) -> Any:
        return WasmException._api_tag(self._tag)

    @property
    def payload(self) -> Tuple[Any, ...]:
        convert = WasmException._api_value
        return tuple(convert(t, v) for t, v in zip(self._tag.type.params, self._values))

    def __str__(self) -> str:
        try:
            return f"uncaught wasm exception {self._tag.name} {self.payload!r}"
        except Exception:  # pragma: no cover - defensive: str() must not fail
            return "uncaught wasm exception"

    def __reduce__(self) -> Any:   # pragma: no cover - not picklable meaningfully
        return (Exception, (str(self),))


class SerializationError(WasmError, ValueError):
    """Serialized code (``Runtime.deserialize``, an unpickled ``CompiledModule``,
    ``CompiledWasm.import_codes``) cannot be used: it is not pywazero's format, it is
    corrupt or truncated (its checksum does not match), or it was made by another
    pywazero or Python version or implementation.  ``reason`` says which.

    >>> str(SerializationError("corrupt"))
    'corrupt'
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
