"""The module model: what a decoded (binary) or parsed (text) module is.

Both front ends produce a :class:`Module`; the validator checks it and records the
control-flow facts engines need in :class:`FunctionInfo`; engines consume it.
Nothing here is per-instance state.

Instructions are tuples ``(op, imm)`` (see :mod:`pywazero.wasm.opcodes`).  A body or
a constant expression is a list of them, ending with ``end`` (op 0x0B).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .types import GlobalType, MemoryType, TableType

Instr = Tuple[int, Any]
Expr = List[Instr]

# Segment modes
MODE_ACTIVE = "active"
MODE_PASSIVE = "passive"
MODE_DECLARATIVE = "declarative"


@dataclass
class Import:
    """``kind`` is an EXTERN_* constant; ``desc`` is a type index (func, tag: the
    tag's function type), :class:`TableType`, :class:`MemoryType` or
    :class:`GlobalType`."""

    module: str
    name: str
    kind: int
    desc: Any


@dataclass
class Export:
    name: str
    kind: int
    index: int


@dataclass
class FunctionInfo:
    """Facts the validator computes about a body, for the engines.

    ``partner[i]`` for a ``block``/``loop``/``if`` at index ``i`` is the index of its
    matching ``end``; for an ``if`` with an ``else``, ``else_of[i]`` is the ``else``
    index; for ``else`` and ``end``, ``partner`` points back to the opener.
    ``max_stack`` is the deepest the operand stack gets (excluding locals).

    ``block_types[i]`` for a ``block``/``loop``/``if`` at index ``i`` is its block type
    resolved to ``(params, results)`` (tuples of value types); ``heights[i]`` is the
    operand-stack height (excluding locals) below the block's parameters when it is
    entered, i.e. the height a branch to its label unwinds to before pushing the
    label's values (meaningful for reachable code only).  ``branch_heights[i]`` for a
    ``br``/``br_if``/``br_table`` at index ``i`` is the operand-stack height at the
    branch once its condition or index is popped, the label's values being the
    topmost (meaningful for reachable code only): the branch moves no values when
    that height minus the label's arity is the target's ``heights`` entry (0 for the
    function's own label).
    """

    # (read-only mappings: the validator may share one empty mapping between bodies)
    partner: Mapping[int, int] = field(default_factory=dict)
    else_of: Mapping[int, int] = field(default_factory=dict)
    max_stack: int = 0
    block_types: Mapping[int, Tuple[Tuple[int, ...], Tuple[int, ...]]] = field(default_factory=dict)
    heights: Mapping[int, int] = field(default_factory=dict)
    branch_heights: Mapping[int, int] = field(default_factory=dict)
    # Legacy exceptions: a ``try`` opener's ``catch``/``catch_all`` indices, in order
    # (its ``partner`` is its ``end``, or its ``delegate``, which closes it too).
    catches: Mapping[int, List[int]] = field(default_factory=dict)


class Function:
    """A function defined in the module (imports are not listed here).

    ``locals`` is the compressed declaration, a list of ``(count, valtype)``;
    ``offsets[i]`` is the byte offset of ``body[i]`` in the binary (for text input,
    offsets may be empty).

    A decoded module keeps no instruction list per function: the decoder leaves a
    *source* (an object whose ``decode(pos)`` returns ``(body, offsets)``, see
    :mod:`pywazero.binary.decoder`) and the position of the body in the module's
    bytes, and ``body``/``offsets`` are decoded the first time they are read, then
    kept.  :meth:`peek` reads a body without keeping it (the validator's way).
    ``size`` is the number of instructions (a negative ``size`` given to
    :meth:`lazy` means not counted yet: the first read decodes the body to count).
    """

    __slots__ = ("type_index", "locals", "_body", "_offsets", "info", "_source", "_pos", "_size")

    def __init__(self, type_index: int, locals: Optional[List[Tuple[int, int]]] = None,
                 body: Optional[Expr] = None, offsets: Optional[List[int]] = None,
                 info: Optional[FunctionInfo] = None) -> None:
        self.type_index = type_index
        self.locals: List[Tuple[int, int]] = [] if locals is None else locals
        self._body: Optional[Expr] = [] if body is None else body
        self._offsets: Optional[List[int]] = [] if offsets is None else offsets
        self.info = info
        self._source: Any = None
        self._pos = 0
        self._size = 0

    @classmethod
    def lazy(cls, type_index: int, locals: List[Tuple[int, int]], source: Any, pos: int,
             size: int) -> "Function":
        """A function whose body is decoded on first use: ``source.decode(pos)``
        must return ``(body, offsets)`` with ``size`` instructions."""
        f = cls.__new__(cls)
        f.type_index = type_index
        f.locals = locals
        f._body = f._offsets = None
        f.info = None
        f._source = source
        f._pos = pos
        f._size = size
        return f

    def _load(self) -> None:
        body, offsets = self._source.decode(self._pos)
        # (offsets first: a reader that sees the body sees its offsets too)
        self._offsets = offsets
        self._body = body

    @property
    def body(self) -> Expr:
        """The instructions, decoded now if they were not yet (then kept)."""
        body = self._body
        if body is None:
            self._load()
            body = self._body
        return body  # type: ignore[return-value]  # (_load set it)

    @body.setter
    def body(self, body: Expr) -> None:
        if self._offsets is None:
            self._offsets = []
        self._body = body
        self._source = None

    @property
    def offsets(self) -> List[int]:
        """Byte offset of each instruction (decoded with the body)."""
        offsets = self._offsets
        if offsets is None:
            self._load()
            offsets = self._offsets
        return offsets  # type: ignore[return-value]  # (_load set it)

    @offsets.setter
    def offsets(self, offsets: List[int]) -> None:
        if self._body is None:
            self._load()
        self._offsets = offsets

    @property
    def size(self) -> int:
        """The number of instructions of the body (``end`` included)."""
        body = self._body
        if body is not None:
            return len(body)
        if self._size < 0:
            # (not counted when the module was read: counted now, body not kept)
            self._size = len(self._source.decode(self._pos)[0])
        return self._size

    @property
    def from_source(self) -> bool:
        """Whether the body is the one in the module's bytes (decoded lazily from
        them, never replaced): what validating the module covered.

        >>> Function(0, [], [(0x0B, None)]).from_source
        False
        """
        return self._source is not None

    @property
    def decoded(self) -> bool:
        """Whether the body is held in memory (not only as bytes)."""
        return self._body is not None

    def peek(self) -> Tuple[Expr, List[int]]:
        """``(body, offsets)`` without keeping them when they are not held yet."""
        body = self._body
        if body is None:
            decoded: Tuple[Expr, List[int]] = self._source.decode(self._pos)
            return decoded
        return body, self._offsets  # type: ignore[return-value]  # (set with the body)

    def release(self) -> None:
        """Drop the decoded body and its info when it can be decoded again."""
        if self._source is not None:
            self._body = self._offsets = None
            self.info = None

    def local_types(self) -> List[int]:
        out: List[int] = []
        for count, t in self.locals:
            out.extend([t] * count)
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Function):
            return NotImplemented
        return (self.type_index == other.type_index and self.locals == other.locals
                and self.body == other.body and self.offsets == other.offsets
                and self.info == other.info)

    __hash__ = None  # type: ignore[assignment]  # (mutable, like the dataclasses here)

    def __repr__(self) -> str:
        return (f"Function(type_index={self.type_index!r}, locals={self.locals!r}, "
                f"body={self.body!r}, offsets={self.offsets!r}, info={self.info!r})")

    def __getstate__(self) -> Dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)


@dataclass
class Global:
    type: GlobalType
    init: Expr


@dataclass
class ElementSegment:
    """``init`` holds one constant expression per element (a ``funcidx`` vector in the
    binary becomes ``[(0xD2, idx), (0x0B, None)]`` each). ``table``/``offset`` are
    meaningful only in active mode."""

    mode: str
    elem_type: int
    init: List[Expr]
    table: int = 0
    offset: Optional[Expr] = None


@dataclass
class DataSegment:
    mode: str
    init: bytes
    memory: int = 0
    offset: Optional[Expr] = None


@dataclass
class CustomSection:
    name: str
    data: bytes


@dataclass
class NameSection:
    """The contents of the ``name`` custom section, when present and well-formed."""

    module: Optional[str] = None
    functions: Dict[int, str] = field(default_factory=dict)
    locals: Dict[int, Dict[int, str]] = field(default_factory=dict)


@dataclass
class Module:
    # Composite types: FuncType, and with GC StructType and ArrayType.
    types: List[Any] = field(default_factory=list)
    # GC: the explicit recursion groups ``(rec ...)`` as ``(first type index,
    # count)`` in order (a type in none is a group of its own), and the ``sub``
    # declarations: type index -> ``(final, supertype indices)`` (a type not
    # listed is final without supertypes, the only form before GC).
    rec_groups: List[Tuple[int, int]] = field(default_factory=list)
    subtypes: Dict[int, Tuple[bool, Tuple[int, ...]]] = field(default_factory=dict)
    imports: List[Import] = field(default_factory=list)
    funcs: List[Function] = field(default_factory=list)
    tables: List[TableType] = field(default_factory=list)
    # Initialiser expressions of the defined tables (3.0: ``(table 1 (ref $t)
    # (ref.func $f))``), in step with ``tables``; missing or None: null.
    table_inits: List[Optional[Expr]] = field(default_factory=list)
    mems: List[MemoryType] = field(default_factory=list)
    globals: List[Global] = field(default_factory=list)
    # Tags defined by the module (the tag section): the type index of each, a
    # function type whose parameters are the exception's payload (no results).
    tags: List[int] = field(default_factory=list)
    exports: List[Export] = field(default_factory=list)
    start: Optional[int] = None
    elems: List[ElementSegment] = field(default_factory=list)
    datas: List[DataSegment] = field(default_factory=list)
    data_count: Optional[int] = None
    customs: List[CustomSection] = field(default_factory=list)
    names: NameSection = field(default_factory=NameSection)
    # Set by the text parser: the $id of the module, if any.
    id: Optional[str] = None
    # (Not a field: ``tables_written``, set by the binary decoder when it has read
    # every body, is the set of tables some instruction writes -- table.set/grow/
    # fill, table.init/copy into them -- a fact about the bodies, not content; read
    # it with ``getattr(module, "tables_written", None)``, None meaning not known.
    # Engines use it to find tables whose contents never change.)

    # -- index spaces (imports come first) ------------------------------------
    def imported(self, kind: int) -> List[Import]:
        return [imp for imp in self.imports if imp.kind == kind]

    def func_types(self) -> List[int]:
        """Type index of every function in the function index space."""
        from .types import EXTERN_FUNC

        return [imp.desc for imp in self.imports if imp.kind == EXTERN_FUNC] + [
            f.type_index for f in self.funcs
        ]

    def table_types(self) -> List[TableType]:
        from .types import EXTERN_TABLE

        return [imp.desc for imp in self.imports if imp.kind == EXTERN_TABLE] + list(self.tables)

    def mem_types(self) -> List[MemoryType]:
        from .types import EXTERN_MEMORY

        return [imp.desc for imp in self.imports if imp.kind == EXTERN_MEMORY] + list(self.mems)

    def global_types(self) -> List[GlobalType]:
        from .types import EXTERN_GLOBAL

        return [imp.desc for imp in self.imports if imp.kind == EXTERN_GLOBAL] + [
            g.type for g in self.globals
        ]

    def tag_types(self) -> List[int]:
        """Type index of every tag in the tag index space (imports first)."""
        from .types import EXTERN_TAG

        return [imp.desc for imp in self.imports if imp.kind == EXTERN_TAG] + list(self.tags)

    def num_imported_funcs(self) -> int:
        from .types import EXTERN_FUNC

        return sum(1 for imp in self.imports if imp.kind == EXTERN_FUNC)

    def table_init(self, i: int) -> Optional[Expr]:
        """The initialiser expression of defined table ``i`` (None: null)."""
        inits = self.table_inits
        return inits[i] if i < len(inits) else None

    def canonical_ids(self) -> List[int]:
        """The canonical id of each type (see :mod:`pywazero.wasm.subtyping`),
        computed once (the module must be valid, or its type section at least)."""
        canon = self.__dict__.get("_canonical")
        if canon is None or len(canon) != len(self.types):
            from .subtyping import canonical_ids

            canon = canonical_ids(self.types, self.rec_groups, self.subtypes)
            self.__dict__["_canonical"] = canon
        return canon

    def __getstate__(self) -> Dict[str, Any]:
        # (the validator's cached body context is rebuilt on demand, not pickled)
        state = dict(self.__dict__)
        state.pop("_body_ctx", None)
        return state

    def __copy__(self) -> "Module":
        # A shallow copy keeps the validator's body context (pickling drops it): the
        # compiler validates rewritten bodies in copies of a module whose context,
        # keyed by the number of types and functions, still serves them; building
        # it anew costs a pass over the whole module per copy.
        new = self.__class__.__new__(self.__class__)
        new.__dict__.update(self.__dict__)
        return new

    def type_groups(self) -> List[Tuple[int, int]]:
        """Every recursion group as ``(first, count)``, covering all types in order
        (types outside an explicit ``rec`` are groups of one; empty groups left out)."""
        from .subtyping import rec_group_spans

        return rec_group_spans(len(self.types), self.rec_groups)


def text_position(module: Module, index: int, body_index: int) -> Optional[Tuple[int, int]]:
    """(line, column) of instruction ``body_index`` of defined function ``index`` of
    a module parsed from text (the parser's ``text_positions`` and ``text_source``,
    plain attributes only such modules have), else None."""
    positions = module.__dict__.get("text_positions")
    source = module.__dict__.get("text_source")
    if not positions or source is None:
        return None
    at = positions.get(index)
    if at is None or not 0 <= body_index < len(at):
        return None
    line, column = source.line_col(at[body_index])
    return line, column
