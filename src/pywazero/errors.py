"""The exceptions pywazero raises.

Every failure a user can trigger is one of these, so ``except pywazero.CompileError``
is enough to reject bad modules and ``except pywazero.Trap`` to survive a guest fault.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

__all__ = [
    "WasmError",
    "CompileError",
    "DecodeError",
    "ValidationError",
    "LinkError",
    "ResourceLimitError",
    "Trap",
    "TrapCode",
    "Frame",
    "trap_code",
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
    for text input, where ``line`` and ``column`` locate the instruction in the
    source) say where; ``reason`` is the bare message such as ``"type mismatch:
    expected i32, found f64"`` (it starts with the spec tests' words).

    >>> str(ValidationError("type mismatch: expected i32, found f64", func_index=0,
    ...                     instruction="i32.add", line=3, column=5))
    'type mismatch: expected i32, found f64 (line 3, column 5, function 0, at i32.add)'
    """

    def __init__(
        self,
        reason: str,
        *,
        func_index: Optional[int] = None,
        offset: Optional[int] = None,
        instruction: Optional[str] = None,
        where: Optional[str] = None,
        line: Optional[int] = None,
        column: Optional[int] = None,
    ) -> None:
        self.reason = reason
        self.func_index = func_index
        self.offset = offset
        self.instruction = instruction
        self.where = where
        self.line = line
        self.column = column
        parts = []
        if line is not None:
            parts.append(f"line {line}" + (f", column {column}" if column is not None else ""))
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


class TrapCode(enum.Enum):
    """The kind of a :class:`Trap`, whatever its message's details.

    The value is the message (or the start of the message) the trap carries;
    :attr:`Trap.code` is worked out from :attr:`Trap.reason` in one place
    (:func:`trap_code`), so every raise site gets its code without naming it.

    >>> Trap("integer divide by zero").code
    <TrapCode.INTEGER_DIVIDE_BY_ZERO: 'integer divide by zero'>
    """

    UNREACHABLE = "unreachable"
    INTEGER_DIVIDE_BY_ZERO = "integer divide by zero"
    INTEGER_OVERFLOW = "integer overflow"
    INVALID_CONVERSION_TO_INTEGER = "invalid conversion to integer"
    OUT_OF_BOUNDS_MEMORY_ACCESS = "out of bounds memory access"
    OUT_OF_BOUNDS_TABLE_ACCESS = "out of bounds table access"
    OUT_OF_BOUNDS_ARRAY_ACCESS = "out of bounds array access"
    UNDEFINED_ELEMENT = "undefined element"
    UNINITIALIZED_ELEMENT = "uninitialized element"
    INDIRECT_CALL_TYPE_MISMATCH = "indirect call type mismatch"
    #: a null function, structure, array, i31 or exception reference
    NULL_REFERENCE = "null reference"
    CAST_FAILURE = "cast failure"
    STACK_EXHAUSTED = "call stack exhausted"
    OUT_OF_FUEL = "all fuel consumed by WebAssembly"
    INTERRUPTED = "interrupted"
    DEADLINE_EXCEEDED = "interrupted: deadline exceeded"
    #: an allocation (a GC array) larger than pywazero can hold
    OUT_OF_MEMORY = "out of memory"
    #: a stub made by ``Linker.define_unknown_imports_as_traps`` was called
    UNKNOWN_IMPORT = "unknown import called"
    #: a host function refused its arguments (WASI: an invalid enum or flag value,
    #: or called from Python rather than from wasm)
    BAD_HOST_CALL = "bad host call"
    #: an instruction the engine does not implement
    UNSUPPORTED = "unsupported"
    #: a message none of the above describes (e.g. a host function's own Trap)
    UNKNOWN = "unknown"


# reason -> code, for the exact messages; then prefixes, tested in order (longest
# first where one message starts another)
_EXACT_CODES = {c.value: c for c in TrapCode}
_PREFIX_CODES = (
    ("interrupted: deadline exceeded", TrapCode.DEADLINE_EXCEEDED),
    ("interrupted", TrapCode.INTERRUPTED),
    ("out of bounds memory access", TrapCode.OUT_OF_BOUNDS_MEMORY_ACCESS),
    ("out of bounds table access", TrapCode.OUT_OF_BOUNDS_TABLE_ACCESS),
    ("out of bounds array access", TrapCode.OUT_OF_BOUNDS_ARRAY_ACCESS),
    ("out of memory", TrapCode.OUT_OF_MEMORY),
    ("unknown import called", TrapCode.UNKNOWN_IMPORT),
    ("wasi functions must be called", TrapCode.BAD_HOST_CALL),
    ("invalid ", TrapCode.BAD_HOST_CALL),
)


def trap_code(reason: str) -> TrapCode:
    """The :class:`TrapCode` of a trap with message ``reason``.

    >>> trap_code("null structure reference")
    <TrapCode.NULL_REFERENCE: 'null reference'>
    """
    code = _EXACT_CODES.get(reason)
    if code is not None:
        return code
    if reason.startswith("null ") and reason.endswith(" reference"):
        return TrapCode.NULL_REFERENCE
    if reason.endswith(" is not supported by the interpreter"):
        return TrapCode.UNSUPPORTED
    for prefix, code in _PREFIX_CODES:
        if reason.startswith(prefix):
            return code
    return TrapCode.UNKNOWN


@dataclass(frozen=True)
class Frame:
    """One wasm frame of a trap's stack trace (:attr:`Trap.frames`).

    ``module`` is the module's name (from its name section, else
    ``ModuleConfig.name``; None when it has neither), ``func_index`` the
    function's index in the module's function index space (imports first),
    ``func_name`` its name (name section, else an export name; None without
    one).  ``offset`` is the byte offset *from the start of the module's binary*
    of the instruction that trapped (innermost frame) or of the call it is in
    (outer frames): the offset ``wasm-objdump -d`` and ``wasm-tools print
    --print-offsets`` print, and wasmtime's backtraces show.  It is None for a
    module compiled from text.  ``source`` is ``(file, line)`` from the module's
    DWARF ``.debug_line`` when it has one (C built with ``-g``); for a module
    compiled from text, ``("<wat>", line)`` in that text; else None.

    >>> str(Frame("app", 3, "crash", 0x4A, ("prog.c", 12)))
    'app.crash (func 3, offset 0x4a) prog.c:12'
    """

    module: Optional[str]
    func_index: Optional[int]
    func_name: Optional[str]
    offset: Optional[int] = None
    source: Optional[Tuple[str, int]] = None

    def __str__(self) -> str:
        name = self.func_name if self.func_name is not None else f"${self.func_index}"
        if self.module:
            name = f"{self.module}.{name}"
        where = []
        if self.func_index is not None:
            where.append(f"func {self.func_index}")
        if self.offset is not None:
            where.append(f"offset 0x{self.offset:x}")
        text = f"{_short_name(name, MAX_NAME_SHOWN)} ({', '.join(where)})" if where else \
            _short_name(name, MAX_NAME_SHOWN)
        if self.source is not None:
            text += f" {self.source[0]}:{self.source[1]}"
        return text


class Trap(WasmError):
    """WebAssembly code trapped.

    ``reason`` is the spec's message (``"integer divide by zero"``, ...) and
    ``code`` its :class:`TrapCode`.  ``wasm_stack`` lists the function names of
    the wasm frames, innermost first; ``frames`` the same frames as
    :class:`Frame` objects, with function indices, byte offsets and (with DWARF
    line information in the module) source lines.  ``str(trap)`` shows the reason
    and at most :data:`MAX_FRAMES_SHOWN` frames.

    >>> import pywazero as wz
    >>> m = wz.Runtime().instantiate(wz.wat2wasm(
    ...     '(module (func $f (export "f") (param i32) (result i32)'
    ...     ' (i32.div_u (i32.const 1) (local.get 0))))'))
    >>> try:
    ...     m.function("f")(0)
    ... except wz.Trap as t:
    ...     print(t.code.name, t.frames[0].func_name, hex(t.frames[0].offset))
    INTEGER_DIVIDE_BY_ZERO f 0x24
    """

    def __init__(self, reason: str, wasm_stack: Sequence[str] = (),
                 code: Optional[TrapCode] = None) -> None:
        self.reason = reason
        self.wasm_stack = list(wasm_stack)
        # engines' frame sources, aligned with wasm_stack (see add_frames); resolved
        # into Frames only when someone looks (Trap.frames, str)
        self._sites: List[Any] = []
        self._frames: Optional[List[Frame]] = None
        self._code = code
        super().__init__(reason)

    @property
    def code(self) -> TrapCode:
        """The kind of trap (worked out from ``reason`` unless given)."""
        if self._code is None:
            self._code = trap_code(self.reason)
        return self._code

    def add_frames(self, names: Sequence[str], sites: Sequence[Any]) -> None:
        """Append frames (engines): ``names`` to ``wasm_stack`` and, in step,
        ``sites``: objects whose ``frame()`` gives the :class:`Frame` (called
        lazily, when the frames are first read), or None."""
        if len(self._sites) < len(self.wasm_stack):
            self._sites.extend([None] * (len(self.wasm_stack) - len(self._sites)))
        self.wasm_stack.extend(names)
        self._sites.extend(sites)
        self._frames = None

    @property
    def frames(self) -> List[Frame]:
        """The wasm frames, innermost first (see :class:`Frame`)."""
        frames = self._frames
        if frames is None or len(frames) != len(self.wasm_stack):
            frames = [self._frame(i) for i in range(len(self.wasm_stack))]
            self._frames = frames
        return frames

    def _frame(self, i: int) -> Frame:
        """Frame ``i``, resolved from its site (a name-only frame without one)."""
        frames = self._frames
        if frames is not None and len(frames) == len(self.wasm_stack):
            return frames[i]
        site = self._sites[i] if i < len(self._sites) else None
        frame = None
        if site is not None:
            try:
                frame = site.frame()
            except Exception:  # noqa: BLE001 - diagnostics must never fail
                frame = None
        return frame if frame is not None else _named_frame(self.wasm_stack[i])

    def __str__(self) -> str:
        if not self._sites and self._frames is None:
            return format_trap_message(self.reason, self.wasm_stack)
        n = len(self.wasm_stack)
        # only the frames shown are resolved (a stack overflow has thousands)
        head, tail = _shown(n, MAX_FRAMES_SHOWN)
        shown = [str(self._frame(i)) if i < head or i >= n - tail else "" for i in range(n)]
        return format_trap_message(self.reason, shown)

    def __reduce__(self) -> Any:
        # the engines' sites hold live instances: a pickled trap carries its
        # resolved frames instead (process pools send traps back)
        return (_rebuild_trap, (type(self), self.reason, list(self.wasm_stack), self._code,
                                self.frames,
                                {k: v for k, v in self.__dict__.items() if not k.startswith("_")}))


def _rebuild_trap(cls: Any, reason: str, wasm_stack: List[str], code: Optional[TrapCode],
                  frames: List[Frame], state: Any = None) -> Trap:
    t: Trap = cls.__new__(cls)
    Exception.__init__(t, reason)
    for k, v in (state or {}).items():
        if not k.startswith("_"):
            t.__dict__[k] = v
    t.reason = reason
    t.wasm_stack = wasm_stack
    t._sites = []
    t._frames = frames
    t._code = code
    return t


def _named_frame(name: str) -> Frame:
    """A frame known only by its ``module.function`` name."""
    mod, dot, fn = str(name).rpartition(".")
    return Frame(mod if dot else None, None, fn if dot else str(name))


#: at most this many frames of a wasm stack trace are shown (the innermost
#: ``limit - 5`` and the outermost 5: runaway recursion elides the middle) ...
MAX_FRAMES_SHOWN = 20
#: ... and a function name longer than this is shortened (its middle elided)
MAX_NAME_SHOWN = 200


def _short_name(name: object, limit: int) -> str:
    name = str(name)
    if len(name) <= limit:
        return name
    half = (limit - 5) // 2
    return f"{name[:half]}[...]{name[-half:]}"


def _shown(n: int, limit: int) -> Tuple[int, int]:
    """How many of ``n`` frames are shown from the top and from the bottom."""
    if n <= limit:
        return n, 0
    tail = min(5, limit // 4)
    return limit - tail, tail


def format_trap_message(reason: str, wasm_stack: Sequence[str], limit: int = MAX_FRAMES_SHOWN,
                        name_limit: int = MAX_NAME_SHOWN) -> str:
    """``reason`` and the wasm stack trace (innermost first) as ``str(Trap)`` shows
    them: bounded in size whatever the guest does (10,000 frames of a 100,000-character
    function name would otherwise make a gigabyte string): past ``limit`` frames the
    middle is elided (``... N more frames``), lines past ``name_limit`` characters
    are shortened.

    >>> print(format_trap_message("unreachable", ["m.f", "m.g"]))
    unreachable
    wasm stack trace:
      at m.f
      at m.g
    """
    if not wasm_stack:
        return reason
    n = len(wasm_stack)
    if n > limit:
        head, tail = _shown(n, limit)
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
        """The :class:`~pywazero.Tag` the exception was thrown with."""
        return WasmException._api_tag(self._tag)

    @property
    def payload(self) -> Tuple[Any, ...]:
        """The values the exception carries (converted as function results are)."""
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
