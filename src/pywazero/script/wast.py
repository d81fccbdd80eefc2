"""WAST scripts: the command language of the WebAssembly spec tests.

:func:`read_script` reads a ``.wast`` script into a list of command objects, one per
top-level S-expression, each knowing the line it starts on.  Nothing is compiled or
run here: a module stays as its S-expression tree (text form) or its bytes (``binary``
and ``quote`` forms) until :meth:`ModuleCommand.parse` is called, so a script full of
deliberately broken modules reads fine.  Argument constants are parsed into
:class:`Value` objects (a type from :mod:`pywazero.wasm.types` plus raw bits), and
expected results into values or patterns that have a ``matches(value)`` method.

>>> cmds = read_script('''
... (module $m (func (export "f") (param i32) (result f32) unreachable))
... (assert_return (invoke $m "f" (i32.const -1)) (f32.const nan:canonical))
... (assert_malformed (module quote "(func") "unexpected end")
... ''')
>>> [(c.kind, c.line) for c in cmds]
[('module', 2), ('assert_return', 3), ('assert_malformed', 4)]
>>> cmds[1].action.args[0]
Value(type=127, bits=4294967295)
>>> cmds[1].results[0].matches(Value(F32, 0x7FC00000))
True
>>> cmds[2].module.form, cmds[2].module.data
('quote', b'(func')

Malformed script syntax raises :class:`~pywazero.errors.DecodeError` with the line
and column; a malformed *module* inside a well-formed command is not an error here.

Value representation (what engines take and give back through the spec runner):

* ``i32``/``f32``: the 32-bit pattern as an unsigned int; ``i64``/``f64``: 64 bits;
  ``v128``: the 128-bit value as an unsigned int, lane 0 in the low bits;
* ``funcref``/``externref``: ``None`` for null; ``(ref.extern N)`` has bits ``N``
  (the host reference with that number); a non-null funcref an engine returns may
  carry any non-None object.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Dict, List, Optional, Tuple, Union

from ..errors import DecodeError

if TYPE_CHECKING:
    from ..wasm.features import CoreFeatures
    from ..wasm.module import Module
from ..wasm.types import (
    ANYREF, EXTERNREF, F32, F64, FUNCREF, HEAP_TYPE_BY_NAME, HT_ANY, HT_ARRAY, HT_EQ, HT_EXN, HT_EXTERN,
    HT_FUNC, HT_I31, HT_NOEXN, HT_NOEXTERN, HT_NOFUNC, HT_NONE, HT_STRUCT, I32, I64, NULLREF, V128,
    heap_type_name, is_ref, ref_heap, ref_type, valtype_name,
)
from ..text import numbers as _numbers
from ..text.lexer import ID, KEYWORD, NUM, STRING, Node, SList, Source, Token, read_sexprs

__all__ = [
    "read_script", "read_script_file",
    "Value", "NanPattern", "RefPattern", "NullPattern", "V128Pattern", "Either", "Result",
    "Command", "ModuleCommand", "ModuleInstance", "Register", "Invoke", "Get", "Action",
    "AssertReturn", "AssertReturnNan", "AssertReturnCanonicalNan", "AssertReturnArithmeticNan",
    "AssertTrap", "AssertExhaustion", "AssertException",
    "AssertMalformed", "AssertInvalid", "AssertUnlinkable", "AssertUninstantiable",
    "CANONICAL", "ARITHMETIC", "V128_SHAPES",
]

CANONICAL = "nan:canonical"
ARITHMETIC = "nan:arithmetic"

# shape -> (lane count, lane bits, lane type)
V128_SHAPES = {
    "i8x16": (16, 8, I32),
    "i16x8": (8, 16, I32),
    "i32x4": (4, 32, I32),
    "i64x2": (2, 64, I64),
    "f32x4": (4, 32, F32),
    "f64x2": (2, 64, F64),
}

_BITS = {I32: 32, I64: 64, F32: 32, F64: 64, V128: 128}

# sign, exponent and quiet-bit masks per float width
_FLOAT_MASKS = {
    32: (0x7FFFFFFF, 0x7FC00000),
    64: (0x7FFFFFFFFFFFFFFF, 0x7FF8000000000000),
}


def _nan_matches(bits: int, width: int, canonical: bool) -> bool:
    magnitude, quiet = _FLOAT_MASKS[width]
    if canonical:
        return bits & magnitude == quiet
    return bits & quiet == quiet


# The hierarchy (its top heap type) of each abstract heap type.
_TOP = {HT_FUNC: HT_FUNC, HT_NOFUNC: HT_FUNC, HT_EXTERN: HT_EXTERN, HT_NOEXTERN: HT_EXTERN,
        HT_EXN: HT_EXN, HT_NOEXN: HT_EXN, HT_ANY: HT_ANY, HT_EQ: HT_ANY, HT_I31: HT_ANY,
        HT_STRUCT: HT_ANY, HT_ARRAY: HT_ANY, HT_NONE: HT_ANY}


def _same_hierarchy(t1: int, t2: int) -> bool:
    """Whether reference types ``t1`` and ``t2`` may describe the same reference: their
    heap types have the same top (a concrete type index, which a script cannot
    resolve, goes with any)."""
    h1, h2 = ref_heap(t1), ref_heap(t2)
    return h1 >= 0 or h2 >= 0 or _TOP[h1] == _TOP[h2]


def _format_bits(t: int, bits: Optional[int]) -> str:
    if is_ref(t) and t not in (FUNCREF, EXTERNREF):
        if bits is None:
            return f"(ref.null {heap_type_name(ref_heap(t))})"
        if t == ANYREF and isinstance(bits, int):
            return f"(ref.host {bits})"
        return f"({valtype_name(t)} {bits!r})"
    if t in (FUNCREF, EXTERNREF):
        if bits is None:
            return f"(ref.null {'func' if t == FUNCREF else 'extern'})"
        if t == EXTERNREF and isinstance(bits, int):
            return f"(ref.extern {bits})"
        return f"(ref.{'func' if t == FUNCREF else 'extern'} {bits!r})"
    if t == V128:
        lanes = " ".join(f"0x{(bits >> (32 * i)) & 0xFFFFFFFF:08x}" for i in range(4))  # type: ignore[operator]
        return f"(v128.const i32x4 {lanes})"
    if not isinstance(bits, int):
        return f"({valtype_name(t)}.const {bits!r})"
    width = _BITS.get(t, 64)
    return f"({valtype_name(t)}.const 0x{bits:0{width // 4}x})"


# --- values and result patterns ------------------------------------------------------

@dataclass(frozen=True)
class Value:
    """A typed value: ``Value(I32, 0xFFFFFFFF)`` is ``(i32.const -1)``.

    ``bits`` is the raw unsigned bit pattern for numbers and vectors, ``None`` for a
    null reference, and the host-reference number for ``(ref.extern N)``.
    """

    type: int
    bits: Optional[int]

    def matches(self, value: "Value") -> bool:
        """Exact match: same type and identical bits (so ``-0.0`` is not ``0.0`` and
        a NaN literal matches only its own payload).  References (typed references
        make a result's static type vary) only need the same hierarchy:
        ``(ref.null func)`` matches a null ``(ref null $t)``, not a null externref."""
        if value.type == self.type:
            return value.bits == self.bits
        return (is_ref(self.type) and is_ref(value.type) and value.bits == self.bits
                and _same_hierarchy(self.type, value.type))

    def __str__(self) -> str:
        return _format_bits(self.type, self.bits)


@dataclass(frozen=True)
class NanPattern:
    """``(f32.const nan:canonical)`` / ``nan:arithmetic`` (also for f64)."""

    type: int          # F32 or F64
    canonical: bool

    def matches(self, value: Value) -> bool:
        return (value.type == self.type and isinstance(value.bits, int)
                and _nan_matches(value.bits, _BITS[self.type], self.canonical))

    def __str__(self) -> str:
        return f"({valtype_name(self.type)}.const {CANONICAL if self.canonical else ARITHMETIC})"


@dataclass(frozen=True)
class RefNullPattern:
    """``(ref.null)``: a null reference of any type."""

    def matches(self, value: Value) -> bool:
        return is_ref(value.type) and value.bits is None

    def __str__(self) -> str:
        return "(ref.null)"


@dataclass(frozen=True)
class RefPattern:
    """``(ref.func)`` / ``(ref.extern)`` / ...: any non-null reference of that type.

    ``type`` is the nullable abstract reference type (FUNCREF, EXTERNREF, ...).
    Function and extern references only need the result to be in the same hierarchy
    (``(ref.func)`` matches a ``(ref $t)`` result); the GC types below ``any``
    (``(ref.i31)``, ``(ref.struct)``, ``(ref.eq)``, ...) need a result of that type
    or a subtype (engines report a GC value's dynamic kind)."""

    type: int

    def matches(self, value: Value) -> bool:
        if value.bits is None or not is_ref(value.type):
            return False
        heap = ref_heap(self.type)
        if heap in (HT_FUNC, HT_EXTERN, HT_EXN, HT_ANY):
            return _same_hierarchy(self.type, value.type)
        vh = ref_heap(value.type)
        if vh < 0:
            # ((ref.eq) matches a struct, an array or an i31)
            from ..wasm.subtyping import heap_subtype

            return heap_subtype(vh, heap)
        return vh == heap

    def __str__(self) -> str:
        return f"(ref.{valtype_name(self.type)[:-3]})"


@dataclass(frozen=True)
class NullPattern:
    """``(ref.null)`` (WebAssembly 3.0 scripts): a null reference of any type; also
    ``(ref.null $t)``, whose type index the script cannot resolve."""

    type: ClassVar[int] = NULLREF

    def matches(self, value: Value) -> bool:
        return value.bits is None and is_ref(value.type)

    def __str__(self) -> str:
        return "(ref.null)"


@dataclass(frozen=True)
class V128Pattern:
    """A ``v128.const`` result with at least one NaN-pattern lane.

    ``lanes`` holds, per lane, the lane's bits (int) or ``CANONICAL``/``ARITHMETIC``.
    A result without NaN patterns is a plain :class:`Value` instead.
    """

    shape: str
    lanes: Tuple[Union[int, str], ...]
    type: ClassVar[int] = V128

    def matches(self, value: Value) -> bool:
        if value.type != V128 or not isinstance(value.bits, int):
            return False
        count, width, _ = V128_SHAPES[self.shape]
        mask = (1 << width) - 1
        for i, lane in enumerate(self.lanes):
            got = (value.bits >> (i * width)) & mask
            if isinstance(lane, str):
                if not _nan_matches(got, width, lane == CANONICAL):
                    return False
            elif got != lane:
                return False
        return True

    def __str__(self) -> str:
        width = V128_SHAPES[self.shape][1]
        parts = [lane if isinstance(lane, str) else f"0x{lane:0{width // 4}x}" for lane in self.lanes]
        return f"(v128.const {self.shape} {' '.join(parts)})"


@dataclass(frozen=True)
class Either:
    """``(either r1 r2 ...)`` (WebAssembly 3.0 scripts): the value may match any one of
    the alternatives, for results the spec leaves implementation-dependent (relaxed
    SIMD)."""

    alternatives: Tuple["Result", ...]

    @property
    def type(self) -> int:
        return self.alternatives[0].type

    def matches(self, value: Value) -> bool:
        return any(alt.matches(value) for alt in self.alternatives)

    def __str__(self) -> str:
        return "(either " + " ".join(str(a) for a in self.alternatives) + ")"


Result = Union[Value, NanPattern, RefPattern, NullPattern, V128Pattern, Either]


# --- commands ----------------------------------------------------------------------

@dataclass
class Command:
    """Base of every command; ``line`` is where its "(" is (1-based)."""

    line: int
    kind: ClassVar[str] = ""


@dataclass
class ModuleCommand(Command):
    """``(module ...)`` in one of three forms.

    * ``form == "text"``: ``node`` is the whole ``(module ...)`` list and ``source``
      the script it belongs to; :func:`pywazero.text.parser.parse_module` reads it.
    * ``form == "binary"``: ``data`` is the concatenation of the strings' bytes.
    * ``form == "quote"``: ``data`` is the concatenation of the strings' bytes, to be
      read as module text (it may be malformed, even as UTF-8).

    ``name`` is the module's ``$id`` (with the "$"), if any.  ``definition`` is set
    for ``(module definition ...)`` (WebAssembly 3.0 scripts): the module is compiled
    but not instantiated, see :class:`ModuleInstance`.
    """

    form: str = "text"
    name: Optional[str] = None
    definition: bool = False
    node: Optional[SList] = field(default=None, repr=False)
    source: Optional[Source] = field(default=None, repr=False, compare=False)
    data: Optional[bytes] = None
    kind: ClassVar[str] = "module"

    def parse(self, features: Optional[CoreFeatures] = None) -> Module:
        """Decode or parse this module (without validating it) into a Module.

        ``features`` (a :class:`~pywazero.wasm.features.CoreFeatures`, default all of
        WebAssembly 2.0) selects the binary format of a binary module.
        Raises DecodeError for malformed input (and whatever the front end raises)."""
        if self.form == "binary":
            from ..binary.decoder import decode_module

            # (a binary module has its data; a text one its node and source)
            if features is None:
                return decode_module(self.data)  # type: ignore[arg-type]
            return decode_module(self.data, features)  # type: ignore[arg-type]
        from ..text import parser

        if self.form == "quote":
            return parser.parse_module_text(self.data, features)  # type: ignore[arg-type]
        return parser.parse_module(self.source, self.node, features)  # type: ignore[arg-type]

    @property
    def text(self) -> str:
        """The module's source text: the ``(module ...)`` expression for the text form,
        the quoted text (undecodable bytes replaced) for the quote form."""
        if self.form == "text" and self.node is not None and self.source is not None:
            return self.source.text[self.node.pos:self.node.end + 1]
        if self.data is None:
            return ""
        return self.data.decode("utf-8", "replace")


@dataclass
class ModuleInstance(Command):
    """``(module instance $instance? $module?)`` (WebAssembly 3.0 scripts): instantiate
    a module defined earlier (by default the last one), naming the instance
    ``instance``.  Every instantiation of a definition is a new instance."""

    instance: Optional[str] = None
    module: Optional[str] = None
    kind: ClassVar[str] = "module instance"


@dataclass
class Register(Command):
    """``(register "name" $module?)``: make a module's exports importable as "name"."""

    name: str = ""
    module: Optional[str] = None
    kind: ClassVar[str] = "register"


@dataclass
class Invoke(Command):
    """``(invoke $module? "name" const*)``; also used as the action of an assertion."""

    module: Optional[str] = None
    name: str = ""
    args: Tuple[Value, ...] = ()
    kind: ClassVar[str] = "invoke"


@dataclass
class Get(Command):
    """``(get $module? "name")``: read an exported global."""

    module: Optional[str] = None
    name: str = ""
    kind: ClassVar[str] = "get"


Action = Union[Invoke, Get]


@dataclass
class AssertReturn(Command):
    action: Optional[Action] = None
    results: Tuple[Result, ...] = ()
    kind: ClassVar[str] = "assert_return"


@dataclass
class AssertReturnNan(Command):
    """1.0's ``assert_return_canonical_nan`` / ``assert_return_arithmetic_nan``: the
    action returns one float, of whichever type, that is such a NaN.  Read as one of
    the two subclasses below."""

    action: Optional[Action] = None
    canonical: ClassVar[bool] = True

    def pattern_for(self, t: int) -> NanPattern:
        """The pattern the result must match, given the result's type."""
        return NanPattern(t, self.canonical)


@dataclass
class AssertReturnCanonicalNan(AssertReturnNan):
    canonical: ClassVar[bool] = True
    kind: ClassVar[str] = "assert_return_canonical_nan"


@dataclass
class AssertReturnArithmeticNan(AssertReturnNan):
    canonical: ClassVar[bool] = False
    kind: ClassVar[str] = "assert_return_arithmetic_nan"


@dataclass
class AssertTrap(Command):
    """``(assert_trap (action) "msg")`` or ``(assert_trap (module ...) "msg")`` (the
    module traps while being instantiated): exactly one of ``action``/``module``."""

    action: Optional[Action] = None
    module: Optional[ModuleCommand] = None
    message: str = ""
    kind: ClassVar[str] = "assert_trap"


@dataclass
class AssertExhaustion(Command):
    action: Optional[Action] = None
    message: str = ""
    kind: ClassVar[str] = "assert_exhaustion"


@dataclass
class AssertException(Command):
    """``(assert_exception (action))``: the action throws a WebAssembly exception
    (exception handling) that no handler catches."""

    action: Optional[Action] = None
    kind: ClassVar[str] = "assert_exception"


@dataclass
class _ModuleAssertion(Command):
    module: Optional[ModuleCommand] = None
    message: str = ""


@dataclass
class AssertMalformed(_ModuleAssertion):
    kind: ClassVar[str] = "assert_malformed"


@dataclass
class AssertInvalid(_ModuleAssertion):
    kind: ClassVar[str] = "assert_invalid"


@dataclass
class AssertUnlinkable(_ModuleAssertion):
    kind: ClassVar[str] = "assert_unlinkable"


@dataclass
class AssertUninstantiable(_ModuleAssertion):
    kind: ClassVar[str] = "assert_uninstantiable"


# --- reader --------------------------------------------------------------------------

class _Reader:
    def __init__(self, src: Source) -> None:
        self.src = src
        self.memo: Dict[Tuple[str, int, int], int] = {}

    # helpers
    def error(self, reason: str, pos: int) -> DecodeError:
        return self.src.error(reason, pos)

    def line(self, node: Node) -> int:
        return self.src.line_col(node.pos)[0]

    def end_pos(self, lst: SList) -> int:
        return lst.end if lst.end >= 0 else lst.pos

    def expect_list(self, node: Optional[Node], what: str, parent: SList) -> SList:
        if not isinstance(node, SList):
            pos = node.pos if node is not None else self.end_pos(parent)
            raise self.error(f"expected {what}", pos)
        return node

    def string(self, node: Optional[Node], what: str, parent: SList) -> bytes:
        if not isinstance(node, Token) or node.kind != STRING:
            pos = node.pos if node is not None else self.end_pos(parent)
            raise self.error(f"expected {what} (a string)", pos)
        return node.value  # type: ignore[return-value]  # (a STRING has its bytes)

    def name(self, node: Optional[Node], what: str, parent: SList) -> str:
        raw = self.string(node, what, parent)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.error("malformed UTF-8 encoding", node.pos) from None  # type: ignore[union-attr]

    def no_more(self, lst: SList, i: int) -> None:
        if i < len(lst.items):
            raise self.error("unexpected token", lst.items[i].pos)

    @staticmethod
    def opt_id(lst: SList, i: int) -> Tuple[Optional[str], int]:
        if i < len(lst.items):
            tok = lst.items[i]
            if isinstance(tok, Token) and tok.kind == ID:
                return tok.text, i + 1
        return None, i

    # commands
    def command(self, node: Node) -> Command:
        if not isinstance(node, SList):
            raise self.error("unexpected token", node.pos)
        head = node.head
        handler = _COMMANDS.get(head) if head is not None else None
        if handler is None:
            if head is None:
                raise self.error("expected a command", node.pos)
            raise self.error(f"unknown command {head!r}", node.pos)
        return handler(self, node)

    def module(self, node: Optional[Node], parent: Optional[SList] = None) -> ModuleCommand:
        if not isinstance(node, SList) or node.head != "module":
            pos = node.pos if node is not None else (self.end_pos(parent) if parent else 0)
            raise self.error("expected a module", pos)
        items = node.items
        i = 1
        definition = False
        if i < len(items) and isinstance(items[i], Token) and items[i].kind == KEYWORD:
            if items[i].text == "definition":
                definition = True
                i += 1
            elif items[i].text == "instance":
                raise self.error("a module instance is not a module", items[i].pos)
        name, i = self.opt_id(node, i)
        line = self.line(node)
        if i < len(items):
            tok = items[i]
            if isinstance(tok, Token) and tok.kind == KEYWORD and tok.text in ("binary", "quote"):
                chunks = []
                for item in items[i + 1:]:
                    chunks.append(self.string(item, "module bytes", node))
                return ModuleCommand(line, form=tok.text, name=name, data=b"".join(chunks),
                                     definition=definition)
        if definition:
            # the module parser reads (module $id? field*): hand it the list without
            # the "definition" keyword
            node = SList([items[0]] + items[2:], node.pos, node.end)
        return ModuleCommand(line, form="text", name=name, node=node, source=self.src,
                             definition=definition)

    def module_command(self, node: SList) -> Command:
        items = node.items
        if len(items) > 1 and isinstance(items[1], Token) and items[1].kind == KEYWORD \
                and items[1].text == "instance":
            instance, i = self.opt_id(node, 2)
            module, i = self.opt_id(node, i)
            self.no_more(node, i)
            return ModuleInstance(self.line(node), instance=instance, module=module)
        return self.module(node)

    def register(self, node: SList) -> Register:
        items = node.items
        name = self.name(items[1] if len(items) > 1 else None, "a registration name", node)
        module, i = self.opt_id(node, 2)
        self.no_more(node, i)
        return Register(self.line(node), name=name, module=module)

    def action(self, node: Optional[Node], parent: SList) -> Action:
        lst = self.expect_list(node, "an action (invoke or get)", parent)
        head = lst.head
        if head not in ("invoke", "get"):
            raise self.error("expected an action (invoke or get)", lst.pos)
        module, i = self.opt_id(lst, 1)
        items = lst.items
        name = self.name(items[i] if i < len(items) else None, "an export name", lst)
        i += 1
        line = self.line(lst)
        if head == "get":
            self.no_more(lst, i)
            return Get(line, module=module, name=name)
        args = tuple(self.const(item, lst, pattern=False) for item in items[i:])
        return Invoke(line, module=module, name=name, args=args)  # type: ignore[arg-type]  # (no patterns)

    def action_command(self, node: SList) -> Action:
        return self.action(node, node)

    def message(self, lst: SList, i: int) -> str:
        items = lst.items
        msg = self.name(items[i] if i < len(items) else None, "a failure message", lst)
        self.no_more(lst, i + 1)
        return msg

    def assert_return(self, node: SList) -> AssertReturn:
        items = node.items
        action = self.action(items[1] if len(items) > 1 else None, node)
        results = tuple(self.const(item, node, pattern=True) for item in items[2:])
        return AssertReturn(self.line(node), action=action, results=results)

    def assert_return_nan(self, node: SList) -> AssertReturnNan:
        items = node.items
        action = self.action(items[1] if len(items) > 1 else None, node)
        self.no_more(node, 2)
        cls = AssertReturnCanonicalNan if node.head == "assert_return_canonical_nan" else AssertReturnArithmeticNan
        return cls(self.line(node), action=action)

    def assert_trap(self, node: SList) -> AssertTrap:
        items = node.items
        target = self.expect_list(items[1] if len(items) > 1 else None, "an action or a module", node)
        line = self.line(node)
        if target.head == "module":
            return AssertTrap(line, module=self.module(target), message=self.message(node, 2))
        return AssertTrap(line, action=self.action(target, node), message=self.message(node, 2))

    def assert_exhaustion(self, node: SList) -> AssertExhaustion:
        items = node.items
        action = self.action(items[1] if len(items) > 1 else None, node)
        return AssertExhaustion(self.line(node), action=action, message=self.message(node, 2))

    def assert_exception(self, node: SList) -> AssertException:
        items = node.items
        action = self.action(items[1] if len(items) > 1 else None, node)
        self.no_more(node, 2)
        return AssertException(self.line(node), action=action)

    def module_assertion(self, node: SList) -> Command:
        cls = _MODULE_ASSERTIONS[node.head]  # type: ignore[index]  # (the caller dispatched on it)
        items = node.items
        module = self.module(items[1] if len(items) > 1 else None, node)
        return cls(self.line(node), module=module, message=self.message(node, 2))

    # constants
    def const(self, node: Node, parent: SList, pattern: bool) -> Result:
        what = "an expected result" if pattern else "a constant"
        lst = self.expect_list(node, what, parent)
        head = lst.head
        items = lst.items
        if head is None:
            raise self.error(f"expected {what}", lst.pos)
        if head in ("i32.const", "i64.const", "f32.const", "f64.const"):
            t = {"i32.const": I32, "i64.const": I64, "f32.const": F32, "f64.const": F64}[head]
            tok = self.literal(lst, 1)
            self.no_more(lst, 2)
            if t in (F32, F64) and tok.text in (CANONICAL, ARITHMETIC):
                if not pattern:
                    raise self.error("NaN pattern in an argument", tok.pos)
                return NanPattern(t, tok.text == CANONICAL)
            return Value(t, self.number(tok, t))
        if head == "v128.const":
            return self.v128(lst, pattern)
        if head == "either" and pattern:
            if len(items) < 2:
                raise self.error("expected an expected result", self.end_pos(lst))
            return Either(tuple(self.const(item, lst, pattern=True) for item in items[1:]))
        if head == "ref.null":
            tok = items[1] if len(items) > 1 else None  # type: ignore[assignment]
            if tok is None and pattern:
                return NullPattern()
            self.no_more(lst, 2)
            if isinstance(tok, Token) and tok.kind == KEYWORD and tok.text in HEAP_TYPE_BY_NAME:
                return Value(ref_type(HEAP_TYPE_BY_NAME[tok.text]), None)
            if isinstance(tok, Token) and tok.kind in (ID, NUM):
                # (ref.null $t): a concrete type the script cannot resolve
                return NullPattern() if pattern else Value(NULLREF, None)
            raise self.error("expected a heap type", tok.pos if tok is not None else self.end_pos(lst))
        if head == "ref.extern" or head == "ref.host":
            # (ref.host N) (GC scripts): host reference N as an anyref, the value
            # any.convert_extern makes of (ref.extern N)
            t = EXTERNREF if head == "ref.extern" else ANYREF
            if len(items) == 1 and pattern and t == EXTERNREF:
                return RefPattern(EXTERNREF)
            tok = self.literal(lst, 1)
            self.no_more(lst, 2)
            try:
                n = _numbers.parse_uint(tok.text, 64)
            except ValueError as e:
                raise self.error(str(e) or "malformed host reference", tok.pos) from None
            return Value(t, n)
        if pattern and head is not None and head.startswith("ref.") and len(items) == 1 \
                and head[4:] in HEAP_TYPE_BY_NAME and head[4:] not in ("extern", "null"):
            # (ref.func), (ref.any), (ref.i31), ...: a non-null reference of that type
            return RefPattern(ref_type(HEAP_TYPE_BY_NAME[head[4:]]))
        raise self.error(f"unexpected {head!r} in {what}", lst.pos)

    def literal(self, lst: SList, i: int) -> Token:
        items = lst.items
        tok = items[i] if i < len(items) else None
        if not isinstance(tok, Token) or tok.kind not in (NUM, KEYWORD):
            pos = tok.pos if tok is not None else self.end_pos(lst)
            raise self.error("expected a number", pos)
        return tok

    def number(self, tok: Token, t: int, width: int = 0) -> int:
        """The bits of literal ``tok`` of type ``t`` (``width`` narrows i32 to the
        8- or 16-bit lanes of i8x16/i16x8).  Results are memoised: spec scripts
        repeat the same few literals thousands of times."""
        key = (tok.text, t, width)
        bits = self.memo.get(key)
        if bits is None:
            try:
                if t == I32 or t == I64:
                    bits = _numbers.parse_int(tok.text, width or _BITS[t])
                elif t == F32:
                    bits = _numbers.parse_f32_bits(tok.text)
                else:
                    bits = _numbers.parse_f64_bits(tok.text)
            except ValueError as e:
                raise self.error(str(e) or "malformed constant", tok.pos) from None
            self.memo[key] = bits
        return bits

    def v128(self, lst: SList, pattern: bool) -> Union[Value, V128Pattern]:
        items = lst.items
        shape_tok = items[1] if len(items) > 1 else None
        if not isinstance(shape_tok, Token) or shape_tok.text not in V128_SHAPES:
            pos = shape_tok.pos if shape_tok is not None else self.end_pos(lst)
            raise self.error("expected a v128 lane shape (i8x16, ..., f64x2)", pos)
        shape = shape_tok.text
        count, width, lane_type = V128_SHAPES[shape]
        narrow = width if width < 32 else 0
        lanes: List[Union[int, str]] = []
        has_pattern = False
        for k in range(count):
            tok = self.literal(lst, 2 + k)
            text = tok.text
            if (text == CANONICAL or text == ARITHMETIC) and lane_type in (F32, F64):
                if not pattern:
                    raise self.error("NaN pattern in an argument", tok.pos)
                lanes.append(text)
                has_pattern = True
            else:
                lanes.append(self.number(tok, lane_type, narrow))
        self.no_more(lst, 2 + count)
        if has_pattern:
            return V128Pattern(shape, tuple(lanes))
        bits = 0
        for k, lane in enumerate(lanes):
            bits |= lane << (k * width)  # type: ignore[operator]  # (no patterns: ints)
        return Value(V128, bits)


_COMMANDS = {
    "module": _Reader.module_command,
    "register": _Reader.register,
    "invoke": _Reader.action_command,
    "get": _Reader.action_command,
    "assert_return": _Reader.assert_return,
    "assert_return_canonical_nan": _Reader.assert_return_nan,
    "assert_return_arithmetic_nan": _Reader.assert_return_nan,
    "assert_trap": _Reader.assert_trap,
    "assert_exhaustion": _Reader.assert_exhaustion,
    "assert_exception": _Reader.assert_exception,
    "assert_malformed": _Reader.module_assertion,
    "assert_invalid": _Reader.module_assertion,
    "assert_unlinkable": _Reader.module_assertion,
    "assert_uninstantiable": _Reader.module_assertion,
}

_MODULE_FIELDS = frozenset(
    ("type", "import", "func", "table", "memory", "global", "export", "start", "elem", "data", "tag"))

_MODULE_ASSERTIONS = {
    "assert_malformed": AssertMalformed,
    "assert_invalid": AssertInvalid,
    "assert_unlinkable": AssertUnlinkable,
    "assert_uninstantiable": AssertUninstantiable,
}


def read_script(text: Union[str, bytes, Source]) -> List[Command]:
    """Read a WAST script into its commands, in order.

    Raises DecodeError (with line and column) when the script itself is malformed:
    unbalanced parentheses, an unknown command, a bad constant in an action, ...
    """
    src = text if isinstance(text, Source) else Source(text)
    reader = _Reader(src)
    nodes = read_sexprs(src)
    if nodes and isinstance(nodes[0], SList) and nodes[0].head in _MODULE_FIELDS:
        # A script made of module fields only is one module ("inline module").
        first, last = nodes[0], nodes[-1]
        end = last.end if isinstance(last, SList) else last.pos + len(last.text) - 1
        node = SList([Token(KEYWORD, "module", first.pos)] + nodes, first.pos, end)
        return [ModuleCommand(reader.line(first), form="text", node=node, source=src)]
    return [reader.command(node) for node in nodes]


def read_script_file(path: Union[str, "os.PathLike[str]"]) -> List[Command]:
    """:func:`read_script` on a file's contents (read as bytes, decoded as UTF-8)."""
    with open(path, "rb") as f:
        data = f.read()
    return read_script(data)
