"""The WebAssembly text format (WAT) -> :class:`~pywazero.wasm.module.Module`.

:func:`parse_module_text` parses a whole text module (``(module ...)`` or, as the spec
allows, a bare sequence of module fields); :func:`parse_module` parses an already
read ``(module $id? field*)`` S-expression (the WAST reader uses it).

The result is what the binary decoder produces from ``wat2wasm`` of the same text:
explicit types first, then the types implied by inline signatures in order of first
use; block types that are empty or a single result use the short (s33) form; an
``if`` whose ``else`` arm is empty has no ``else``; ``data_count`` is set only when a
body uses ``memory.init`` or ``data.drop``.  Identifiers become indices, and the ones
a name section can hold (module, functions, locals) are kept in ``Module.names``.

Malformed text raises :class:`~pywazero.errors.DecodeError` with line and column.
Text that is well formed but invalid (type errors, numeric indices out of range,
...) is left for the validator.

>>> m = parse_module_text('(module (func $f (param $x i32) (result i32) (local.get $x)))')
>>> m.types, m.funcs[0].body, m.names.functions
([FuncType(params=(127,), results=(127,))], [(32, 0), (11, None)], {0: 'f'})
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple, Union

from ..errors import DecodeError
from ..wasm.features import CoreFeatures
from ..wasm.module import (
    Expr,
    MODE_ACTIVE,
    MODE_DECLARATIVE,
    MODE_PASSIVE,
    CustomSection,
    DataSegment,
    ElementSegment,
    Export,
    Function,
    Global,
    Import,
    Module,
    NameSection,
)
from ..wasm.types import (
    BLOCK_EMPTY,
    EXTERN_FUNC,
    EXTERN_GLOBAL,
    EXTERN_MEMORY,
    EXTERN_TABLE,
    EXTERN_TAG,
    FUNCREF,
    HEAP_TYPE_BY_NAME,
    HT_FUNC,
    I8,
    I16,
    I32,
    I64,
    VALTYPE_BY_NAME,
    ArrayType,
    FieldType,
    FuncType,
    StructType,
    GlobalType,
    Limits,
    MemoryType,
    TableType,
    blocktype_of_valtype,
    is_ref,
    ref_heap,
    ref_type,
)
from .instructions import END, InstrContext, parse_instrs
from .lexer import ID, KEYWORD, NUM, RESERVED, STRING, Node, SList, Source, Token, read_sexprs
from .numbers import parse_uint

__all__ = ["parse_module_text", "parse_module"]

_REFTYPES = {"funcref": FUNCREF, "externref": VALTYPE_BY_NAME["externref"]}
# The type of a list of function indices (``(elem func $f $g)``): (ref func) in
# 3.0 (the validator reads it as funcref under 2.0's rules).
_REF_FUNC = ref_type(HT_FUNC, False)

# Identifier namespaces (the names also appear in "duplicate ..." / "unknown ..." errors).
_SPACES = ("type", "func", "table", "memory", "global", "elem", "data", "tag")
_KIND_OF_FIELD = {"func": EXTERN_FUNC, "table": EXTERN_TABLE, "memory": EXTERN_MEMORY,
                  "global": EXTERN_GLOBAL, "tag": EXTERN_TAG}
_IMPORT_AFTER = {"func": "function", "table": "table", "memory": "memory", "global": "global",
                 "tag": "tag"}
_PAGE = 65536


def parse_module_text(source: Union[str, bytes], features: Any = None) -> Module:
    """Parse a text module: ``(module $id? field*)`` or a bare ``field*`` sequence.

    ``features`` (a :class:`~pywazero.wasm.features.CoreFeatures`, default
    WebAssembly 2.0) matters only where the text format of a feature changes what is malformed:
    without ``MEMORY64``, limits, memory offsets and alignments are u32 (a larger
    number is malformed, as in WebAssembly 2.0), with it u64 (the validator
    rejects what does not fit the memory or table)."""
    src = source if isinstance(source, Source) else Source(source)
    nodes = read_sexprs(src)
    if len(nodes) == 1 and type(nodes[0]) is SList and nodes[0].head == "module":
        return parse_module(src, nodes[0], features)
    parser = _ModuleParser(src, features)
    for node in nodes:
        if type(node) is not SList or node.head == "module":
            raise parser.unexpected(node)
    return parser.parse(nodes, None)  # type: ignore[arg-type]  # (each one checked above)


def parse_module(src: Source, node: SList, features: Any = None) -> Module:
    """Parse a ``(module $id? field*)`` S-expression read from ``src`` (``features``:
    see :func:`parse_module_text`)."""
    items = node.items
    i = 1
    module_id = None
    if i < len(items) and type(items[i]) is Token and items[i].kind == ID:
        module_id = items[i].text
        i += 1
    fields = items[i:]
    parser = _ModuleParser(src, features)
    for f in fields:
        if type(f) is not SList:
            raise parser.unexpected(f)
    return parser.parse(fields, module_id)


# parameter ids of a signature being read (None for an unnamed one), when wanted
_Names = Optional[List[Optional[Token]]]


class _ModuleParser:
    def __init__(self, src: Source, features: Any = None) -> None:
        self.src = src
        # u64 limits, offsets and alignments (memory64's text format)
        self.wide = features is not None and bool(features & CoreFeatures.MEMORY64)
        self.module = Module()
        self.ids: Dict[str, Dict[str, int]] = {s: {} for s in _SPACES}
        self.counts: Dict[str, int] = {s: 0 for s in _SPACES}
        self.type_lookup: Dict[FuncType, int] = {}
        # struct field ids: type index -> {"$x": field index}
        self.field_ids: Dict[int, Dict[str, int]] = {}
        self.uses_data_count = False

    # -- errors and small helpers ----------------------------------------------
    def error(self, reason: str, pos: int, detail: Optional[str] = None) -> DecodeError:
        if detail:
            reason = f"{reason} {detail}"
        return self.src.error(reason, pos)

    def u32(self, tok: Token, text: Optional[str] = None, malformed: Optional[str] = None) -> int:
        try:
            return parse_uint(tok.text if text is None else text, 32)
        except ValueError as e:
            if str(e) == "constant out of range":
                raise self.error("i32 constant out of range", tok.pos) from None
            raise self.error(malformed or str(e), tok.pos, tok.text) from None

    def uint(self, tok: Token, text: Optional[str] = None) -> int:
        """A u64 with memory64's text format (``wide``), else a u32."""
        if not self.wide:
            return self.u32(tok, text)
        try:
            return parse_uint(tok.text if text is None else text, 64)
        except ValueError as e:
            if str(e) == "constant out of range":
                raise self.error("i64 constant out of range", tok.pos) from None
            raise self.error(str(e), tok.pos, tok.text) from None

    def address_type(self, items: List[Any], i: int, n: int) -> Tuple[int, int]:
        """An optional address type keyword (``i32``/``i64``) of a memory or table."""
        if i < n:
            node = items[i]
            if type(node) is Token and node.kind == KEYWORD and node.text in ("i32", "i64"):
                return (I64 if node.text == "i64" else I32), i + 1
        return I32, i

    def u32_index(self, tok: Token) -> int:
        if tok.kind != NUM:
            raise self.error("unexpected token", tok.pos, tok.text)
        return self.u32(tok)

    def index(self, tok: Node, space: str) -> int:
        if type(tok) is Token:
            if tok.kind == ID:
                x = self.ids[space].get(tok.text)
                if x is None:
                    raise self.error(f"unknown {space}", tok.pos, tok.text)
                return x
            if tok.kind == NUM:
                return self.u32(tok)
            raise self.error("unexpected token", tok.pos, tok.text)
        raise self.error("unexpected token", tok.pos)

    def valtype(self, node: Node) -> int:
        if type(node) is SList:
            return self.ref_syntax(node)
        return self._type_keyword(node, VALTYPE_BY_NAME)

    def reftype(self, node: Node) -> int:
        if type(node) is SList:
            return self.ref_syntax(node)
        if type(node) is Token and node.kind == KEYWORD:
            t = VALTYPE_BY_NAME.get(node.text)
            if t is not None and is_ref(t):
                return t
        return self._type_keyword(node, _REFTYPES)

    def ref_syntax(self, node: SList) -> int:
        """``(ref null? heaptype)``."""
        items = node.items
        if node.head != "ref":
            raise self.error("unexpected token", node.pos)
        i = 1
        nullable = False
        if i < len(items) and type(items[i]) is Token and items[i].kind == KEYWORD \
                and items[i].text == "null":
            nullable = True
            i += 1
        if i >= len(items):
            raise self.error("unexpected token", node.end)
        ht = self.heaptype(items[i])
        self.expect_end(items, i + 1, node)
        return ref_type(ht, nullable)

    def heaptype(self, node: Node) -> int:
        """An abstract heap type (``func``, ``extern``, ...) or a type index."""
        if type(node) is Token:
            if node.kind == KEYWORD:
                ht = HEAP_TYPE_BY_NAME.get(node.text)
                if ht is None:
                    raise self.error("unexpected token", node.pos, node.text)
                return ht
            if node.kind == ID or node.kind == NUM:
                return self.index(node, "type")
        raise self.unexpected(node)

    def _type_keyword(self, node: Node, names: Dict[str, int]) -> int:
        if type(node) is Token and node.kind == KEYWORD:
            t = names.get(node.text)
            if t is not None:
                return t
            raise self.error("unknown operator", node.pos, node.text)
        raise self.error("unexpected token", node.pos)

    def unexpected(self, node: Node) -> DecodeError:
        """The error for a node that cannot appear where it is."""
        if type(node) is Token:
            if node.kind == RESERVED:
                return self.error("unknown operator", node.pos, node.text)
            return self.error("unexpected token", node.pos, node.text)
        return self.error("unexpected token", node.pos)

    def expect_end(self, items: List[Any], i: int, node: SList) -> None:
        if i < len(items):
            raise self.unexpected(items[i])

    def name(self, node: Node) -> str:
        if type(node) is not Token or node.kind != STRING:
            raise self.unexpected(node)
        try:
            return node.value.decode("utf-8")  # type: ignore[union-attr]  # (a STRING has its bytes)
        except UnicodeDecodeError:
            raise self.error("malformed UTF-8 encoding", node.pos) from None

    def bind(self, space: str, tok: Optional[Token], index: int) -> None:
        if tok is None:
            return
        table = self.ids[space]
        if tok.text in table:
            raise self.error(f"duplicate {space}", tok.pos, tok.text)
        table[tok.text] = index

    # -- types -------------------------------------------------------------------
    def param_list(self, node: SList, names: _Names, out: List[int]) -> None:
        """``(param $x? t*)``: append types to ``out`` and ids (or None) to ``names``."""
        items = node.items
        n = len(items)
        if n >= 2 and type(items[1]) is Token and items[1].kind == ID:
            if names is None:
                raise self.error("unexpected token", items[1].pos, items[1].text)
            if n != 3:
                raise self.error("unexpected token", _pos(items[3]) if n > 3 else node.end)
            out.append(self.valtype(items[2]))
            names.append(items[1])
            return
        for t in items[1:]:
            out.append(self.valtype(t))
            if names is not None:
                names.append(None)

    def sig(self, items: List[Any], i: int, n: int, names: _Names) -> Tuple[List[int], List[int], int, bool]:
        """``(param ...)* (result ...)*`` from ``items[i:n]``."""
        params: List[int] = []
        results: List[int] = []
        seen = False
        while i < n:
            node = items[i]
            if type(node) is SList and node.head == "param":
                self.param_list(node, names, params)
                seen = True
                i += 1
            else:
                break
        while i < n:
            node = items[i]
            if type(node) is SList and node.head == "result":
                for t in node.items[1:]:
                    results.append(self.valtype(t))
                seen = True
                i += 1
            else:
                break
        return params, results, i, seen

    def functype(self, node: SList) -> FuncType:
        items = node.items
        if node.head != "func":
            raise self.error("unexpected token", node.pos)
        params, results, i, _ = self.sig(items, 1, len(items), [])
        self.expect_end(items, i, node)
        return FuncType(tuple(params), tuple(results))

    def typedef(self, f: SList, alone: bool) -> None:
        """``(type $id? comptype)`` or ``(type $id? (sub final? $super* comptype))``;
        ``alone``: not inside a ``rec`` (only such a plain function type may be
        found again by an inline type use)."""
        m = self.module
        items = f.items
        i = 1
        if i < len(items) and type(items[i]) is Token and items[i].kind == ID:
            i += 1
        if i >= len(items) or type(items[i]) is not SList:
            raise self.error("unexpected token", _pos(items[i]) if i < len(items) else f.end)
        node = items[i]
        self.expect_end(items, i + 1, f)
        x = len(m.types)
        sub = None
        if node.head == "sub":
            sitems = node.items
            j = 1
            final = False
            if j < len(sitems) and type(sitems[j]) is Token and sitems[j].kind == KEYWORD \
                    and sitems[j].text == "final":
                final = True
                j += 1
            supers = []
            while j < len(sitems) and type(sitems[j]) is Token:
                supers.append(self.index(sitems[j], "type"))
                j += 1
            if j >= len(sitems) or type(sitems[j]) is not SList:
                raise self.error("unexpected token", _pos(sitems[j]) if j < len(sitems) else node.end)
            self.expect_end(sitems, j + 1, node)
            sub = (final, tuple(supers))
            node = sitems[j]
        ct = self.comptype(node, x)
        m.types.append(ct)
        if sub is not None and sub != (True, ()):
            m.subtypes[x] = sub
        elif alone and isinstance(ct, FuncType):
            self.type_lookup.setdefault(ct, x)
        self.counts["type"] += 1

    def comptype(self, node: SList, x: int) -> Any:
        """``(func ...)``, ``(struct (field ...)*)`` or ``(array fieldtype)`` of type ``x``."""
        if node.head == "func":
            return self.functype(node)
        items = node.items
        if node.head == "array":
            if len(items) != 2:
                raise self.error("unexpected token", _pos(items[2]) if len(items) > 2 else node.end)
            return ArrayType(self.fieldtype(items[1]))
        if node.head != "struct":
            raise self.error("unexpected token", node.pos)
        fields: List[FieldType] = []
        names: Dict[str, int] = {}
        for fd in items[1:]:
            if type(fd) is not SList or fd.head != "field":
                raise self.unexpected(fd)
            fitems = fd.items
            tok = _opt_id(fitems, 1)
            if tok is not None:
                if len(fitems) != 3:
                    raise self.error("unexpected token", fd.pos)
                if tok.text in names:
                    raise self.error("duplicate field", tok.pos, tok.text)
                names[tok.text] = len(fields)
                fields.append(self.fieldtype(fitems[2]))
            else:
                for ft in fitems[1:]:
                    fields.append(self.fieldtype(ft))
        if names:
            self.field_ids[x] = names
        return StructType(tuple(fields))

    def fieldtype(self, node: Node) -> FieldType:
        """``storagetype`` or ``(mut storagetype)``."""
        if type(node) is SList and node.head == "mut":
            if len(node.items) != 2:
                raise self.error("unexpected token", node.pos)
            return FieldType(self.storagetype(node.items[1]), True)
        return FieldType(self.storagetype(node), False)

    def storagetype(self, node: Node) -> int:
        if type(node) is Token and node.kind == KEYWORD:
            if node.text == "i8":
                return I8
            if node.text == "i16":
                return I16
        return self.valtype(node)

    def implicit_type(self, ft: FuncType) -> int:
        x = self.type_lookup.get(ft)
        if x is None:
            x = len(self.module.types)
            self.module.types.append(ft)
            self.type_lookup[ft] = x
        return x

    def typeuse(self, items: List[Any], i: int, n: int, names: _Names) -> Tuple[int, int, Optional[FuncType]]:
        """A type use; returns ``(type index, next i, function type if known)``.

        ``names`` receives the parameter ids (None for anonymous ones); pass None where
        parameter ids are not allowed.
        """
        x, known, params, results, i = self._typeuse_parts(items, i, n, names)
        if x is None:
            ft = FuncType(tuple(params), tuple(results))
            return self.implicit_type(ft), i, ft
        if not (params or results) and names is not None and known is not None:
            names.extend([None] * len(known.params))
        return x, i, known

    def _typeuse_parts(self, items: List[Any], i: int, n: int, names: _Names) -> Tuple[Any, ...]:
        """Read ``(type x)? (param ...)* (result ...)*`` and check an inline signature
        against type ``x``; returns ``(x or None, type x if it exists, params, results,
        next i)``."""
        x = None
        if i < n:
            node = items[i]
            if type(node) is SList and node.head == "type":
                sub = node.items
                if len(sub) != 2:
                    raise self.error("unexpected token", _pos(sub[2]) if len(sub) > 2 else node.end)
                x = self.index(sub[1], "type")
                i += 1
        start = i
        params, results, i, _ = self.sig(items, i, n, names)
        if i < n:
            node = items[i]
            if type(node) is SList and node.head in ("param", "result", "type"):
                raise self.error("unexpected token", node.pos, node.head)
        known = None
        if x is not None:
            types = self.module.types
            known = types[x] if x < len(types) else None
            if not isinstance(known, FuncType):
                known = None      # (a struct or array type: the validator rejects it)
            if params or results:
                if known is None:
                    raise self.error("unknown type", items[start].pos)
                if known != FuncType(tuple(params), tuple(results)):
                    raise self.error("inline function type", items[start].pos)
        return x, known, params, results, i

    def blocktype(self, items: List[Any], i: int, n: int, anchor: Optional[Token]) -> Tuple[int, int]:
        if i >= n or type(items[i]) is not SList:
            return BLOCK_EMPTY, i
        head = items[i].head
        if head != "type" and head != "param" and head != "result":
            return BLOCK_EMPTY, i
        if head == "result":
            # The common short forms: no type, no params, a single result list.
            node = items[i]
            if len(node.items) <= 2 and not (i + 1 < n and type(items[i + 1]) is SList
                                             and items[i + 1].head in ("result", "param", "type")):
                if len(node.items) == 1:
                    return BLOCK_EMPTY, i + 1
                return blocktype_of_valtype(self.valtype(node.items[1])), i + 1
        x, known, params, results, i = self._typeuse_parts(items, i, n, None)
        if x is not None:
            if known is not None and not known.params and len(known.results) <= 1:
                if known.results:
                    return blocktype_of_valtype(known.results[0]), i
                return BLOCK_EMPTY, i
            return x, i
        if not params and len(results) <= 1:
            return (blocktype_of_valtype(results[0]) if results else BLOCK_EMPTY), i
        return self.implicit_type(FuncType(tuple(params), tuple(results))), i

    def call_indirect_type(self, items: List[Any], i: int, n: int, anchor: Optional[Token]) -> Tuple[int, int]:
        x, i, _ = self.typeuse(items, i, n, None)
        return x, i

    # -- limits and types of tables, memories, globals --------------------------------
    def limits(self, items: List[Any], i: int, n: int, anchor: SList) -> Tuple[Limits, int]:
        if i >= n or type(items[i]) is not Token or items[i].kind != NUM:
            raise self.error("unexpected token", _pos(items[i]) if i < n else anchor.end)
        lo = self.uint(items[i])
        i += 1
        hi = None
        if i < n and type(items[i]) is Token and items[i].kind == NUM:
            hi = self.uint(items[i])
            i += 1
        return Limits(lo, hi), i

    def tabletype(self, items: List[Any], i: int, n: int, anchor: SList) -> Tuple[TableType, int]:
        at, i = self.address_type(items, i, n)
        lim, i = self.limits(items, i, n, anchor)
        if i >= n:
            raise self.error("unexpected token", anchor.end)
        t = self.reftype(items[i])
        return TableType(t, lim, at), i + 1

    def memtype(self, items: List[Any], i: int, n: int, anchor: SList) -> Tuple[MemoryType, int]:
        at, i = self.address_type(items, i, n)
        lim, i = self.limits(items, i, n, anchor)
        return MemoryType(lim, at), i

    def globaltype(self, items: List[Any], i: int, n: int, anchor: SList) -> Tuple[GlobalType, int]:
        if i >= n:
            raise self.error("unexpected token", anchor.end)
        node = items[i]
        if type(node) is SList and node.head == "mut":
            if len(node.items) != 2:
                raise self.error("unexpected token", _pos(node.items[2]) if len(node.items) > 2 else node.end)
            return GlobalType(self.valtype(node.items[1]), True), i + 1
        return GlobalType(self.valtype(node), False), i + 1

    # -- the module ----------------------------------------------------------------
    def parse(self, fields: List[SList], module_id: Optional[str]) -> Module:
        m = self.module
        m.id = module_id
        self.scan(fields)
        self.func_names: Dict[int, str] = {}
        self.local_names: Dict[int, Dict[int, str]] = {}
        self.n_func = 0
        self.n_table = 0
        self.n_mem = 0
        self.n_global = 0
        self.n_tag = 0
        for f in fields:
            handler = _FIELD_HANDLERS.get(f.head or "")
            handler(self, f)  # type: ignore[misc]  # (every field's head was checked by the caller)
        if self.uses_data_count:
            m.data_count = len(m.datas)
        for imp_index, name in self.import_func_names.items():
            self.func_names[imp_index] = name
        m.names = NameSection(
            module=module_id[1:] if module_id else None,
            functions=dict(sorted(self.func_names.items())),
            locals=dict(sorted(self.local_names.items())),
        )
        for fn in m.funcs:
            fn.offsets = []
        return m

    def bind_type_ids(self, fields: List[SList]) -> None:
        """Bind every ``(type $id ...)`` first: a reference type may name a type
        defined further down."""
        x = 0
        for f in fields:
            if f.head == "rec":
                defs = [d for d in f.items[1:] if type(d) is SList and d.head == "type"]
            elif f.head == "type":
                defs = [f]
            else:
                continue
            for d in defs:
                items = d.items
                if len(items) > 1 and type(items[1]) is Token and items[1].kind == ID:
                    self.bind("type", items[1], x)
                x += 1

    def scan(self, fields: List[SList]) -> None:
        """First pass: explicit types, identifiers of every index space, import order."""
        m = self.module
        counts = self.counts
        type_ids_bound = False
        last_def: Optional[str] = None
        self.import_func_names: Dict[int, str] = {}
        for f in fields:
            head = f.head
            items = f.items
            if head is None or head not in _FIELD_HANDLERS:
                if not items:
                    raise self.error("unexpected token", f.pos, "()")
                if head is None or head == "module":
                    raise self.unexpected(items[0])
                raise self.error("unknown operator", items[0].pos, head)
            if head == "type" or head == "rec":
                if not type_ids_bound:
                    self.bind_type_ids(fields)
                    type_ids_bound = True
                if head == "rec":
                    start = len(m.types)
                    for d in items[1:]:
                        if type(d) is not SList or d.head != "type":
                            raise self.unexpected(d)
                        self.typedef(d, False)
                    m.rec_groups.append((start, len(m.types) - start))
                else:
                    self.typedef(f, True)
            elif head == "import":
                if len(items) < 4 or type(items[3]) is not SList or items[3].head not in _KIND_OF_FIELD:
                    raise self.error("unexpected token", _pos(items[min(len(items) - 1, 3)]))
                if last_def is not None:
                    raise self.error(f"import after {_IMPORT_AFTER[last_def]}", f.pos)
                desc = items[3]
                space: str = "func" if desc.head == "func" else desc.head  # type: ignore[assignment]  # (checked)
                tok = _opt_id(desc.items, 1)
                x = counts[space]
                self.bind(space, tok, x)
                counts[space] += 1
                if space == "func" and tok is not None:
                    self.import_func_names[x] = tok.text[1:]
            elif head in _KIND_OF_FIELD:
                tok = _opt_id(items, 1)
                i = 2 if tok is not None else 1
                while i < len(items) and type(items[i]) is SList and items[i].head == "export":
                    i += 1
                is_import = i < len(items) and type(items[i]) is SList and items[i].head == "import"
                if is_import:
                    if last_def is not None:
                        raise self.error(f"import after {_IMPORT_AFTER[last_def]}", f.pos)
                else:
                    last_def = head
                x = counts[head]
                self.bind(head, tok, x)
                counts[head] += 1
                if head == "func" and tok is not None and is_import:
                    self.import_func_names[x] = tok.text[1:]
                if not is_import:
                    if head == "table" and _has_inline(items, i, "elem"):
                        counts["elem"] += 1
                    elif head == "memory" and _has_inline(items, i, "data"):
                        counts["data"] += 1
            elif head == "elem" or head == "data":
                counts[head] += 1
        # Segment ids: (elem $x ...) / (data $x ...) name the segment, except in the
        # WebAssembly 1.0 form where $x names the table/memory being initialised.
        elem_i = data_i = 0
        for f in fields:
            head = f.head
            if head == "elem" or head == "data":
                idx = elem_i if head == "elem" else data_i
                tok = _opt_id(f.items, 1)
                if tok is not None and not self.is_legacy_target(f):
                    self.bind(head, tok, idx)
                if head == "elem":
                    elem_i += 1
                else:
                    data_i += 1
            elif head == "table" and _defines_inline(f.items, "elem"):
                elem_i += 1
            elif head == "memory" and _defines_inline(f.items, "data"):
                data_i += 1

    def is_legacy_target(self, f: SList) -> bool:
        """``(elem $t (offset ...) ...)`` / ``(data $m (offset ...) ...)`` in 1.0 syntax."""
        items = f.items
        tok = _opt_id(items, 1)
        if tok is None:
            return False
        space = "table" if f.head == "elem" else "memory"
        if tok.text not in self.ids[space]:
            return False
        if len(items) < 3 or type(items[2]) is not SList:
            return False
        h = items[2].head
        return h not in ("table", "memory", "item", "ref") and h is not None and h != "ref.func" \
            and h != "ref.null"

    # -- fields ---------------------------------------------------------------------
    def inline_exports(self, items: List[Any], i: int, kind: int, index: int) -> int:
        while i < len(items) and type(items[i]) is SList and items[i].head == "export":
            sub = items[i].items
            if len(sub) != 2:
                raise self.error("unexpected token", _pos(sub[2]) if len(sub) > 2 else items[i].end)
            self.module.exports.append(Export(self.name(sub[1]), kind, index))
            i += 1
        return i

    def inline_import(self, items: List[Any], i: int) -> Tuple[Optional[Tuple[str, str]], int]:
        if i < len(items) and type(items[i]) is SList and items[i].head == "import":
            sub = items[i].items
            if len(sub) != 3:
                raise self.error("unexpected token", _pos(sub[3]) if len(sub) > 3 else items[i].end)
            return (self.name(sub[1]), self.name(sub[2])), i + 1
        return None, i

    def field_type(self, f: SList) -> None:
        pass  # handled in scan()

    def field_import(self, f: SList) -> None:
        items = f.items
        mod = self.name(items[1])
        nm = self.name(items[2])
        desc = items[3]
        self.expect_end(items, 4, f)
        d = desc.items
        i = 2 if _opt_id(d, 1) is not None else 1
        n = len(d)
        kind = _KIND_OF_FIELD[desc.head]
        if kind == EXTERN_FUNC:
            x, i, _ = self.typeuse(d, i, n, [])
            self.n_func += 1
            value: object = x
        elif kind == EXTERN_TABLE:
            value, i = self.tabletype(d, i, n, desc)
            self.n_table += 1
        elif kind == EXTERN_MEMORY:
            value, i = self.memtype(d, i, n, desc)
            self.n_mem += 1
        elif kind == EXTERN_TAG:
            value, i, _ = self.typeuse(d, i, n, [])
            self.n_tag += 1
        else:
            value, i = self.globaltype(d, i, n, desc)
            self.n_global += 1
        self.expect_end(d, i, desc)
        self.module.imports.append(Import(mod, nm, kind, value))

    def field_func(self, f: SList) -> None:
        items = f.items
        n = len(items)
        idtok = _opt_id(items, 1)
        i = 2 if idtok is not None else 1
        index = self.n_func
        self.n_func += 1
        i = self.inline_exports(items, i, EXTERN_FUNC, index)
        imp, i = self.inline_import(items, i)
        if imp is not None:
            x, i, _ = self.typeuse(items, i, n, [])
            self.expect_end(items, i, f)
            self.module.imports.append(Import(imp[0], imp[1], EXTERN_FUNC, x))
            return
        names: List[Optional[Token]] = []
        x, i, _ = self.typeuse(items, i, n, names)
        local_types: List[int] = []
        while i < n:
            node = items[i]
            if type(node) is SList and node.head == "local":
                self.param_list(node, names, local_types)
                i += 1
            else:
                break
        locals_map: Dict[str, int] = {}
        local_names: Dict[int, str] = {}
        for k, tok in enumerate(names):
            if tok is not None:
                if tok.text in locals_map:
                    raise self.error("duplicate local", tok.pos, tok.text)
                locals_map[tok.text] = k
                local_names[k] = tok.text[1:]
        ctx = InstrContext(self, locals_map)
        body = parse_instrs(self, ctx, items, i, n, f)
        compressed: List[Tuple[int, int]] = []
        for t in local_types:
            if compressed and compressed[-1][1] == t:
                compressed[-1] = (compressed[-1][0] + 1, t)
            else:
                compressed.append((1, t))
        self.module.funcs.append(Function(x, compressed, body, []))
        if idtok is not None:
            self.func_names[index] = idtok.text[1:]
        if local_names:
            self.local_names[index] = local_names

    def field_table(self, f: SList) -> None:
        items = f.items
        n = len(items)
        i = 2 if _opt_id(items, 1) is not None else 1
        index = self.n_table
        self.n_table += 1
        i = self.inline_exports(items, i, EXTERN_TABLE, index)
        imp, i = self.inline_import(items, i)
        if imp is not None:
            tt, i = self.tabletype(items, i, n, f)
            self.expect_end(items, i, f)
            self.module.imports.append(Import(imp[0], imp[1], EXTERN_TABLE, tt))
            return
        at, j = self.address_type(items, i, n)
        if j < n and ((type(items[j]) is Token and items[j].kind == KEYWORD)
                      or (type(items[j]) is SList and items[j].head == "ref")):
            i = j
            # (table reftype (elem ...))
            et = self.reftype(items[i])
            i += 1
            if i >= n or type(items[i]) is not SList or items[i].head != "elem":
                raise self.error("unexpected token", _pos(items[i]) if i < n else f.end)
            elem = items[i]
            self.expect_end(items, i + 1, f)
            sub = elem.items
            if len(sub) > 1 and type(sub[1]) is SList:
                exprs = self.elem_exprs(sub, 1, len(sub))
                et_seg = et
            else:
                exprs = self.elem_funcs(sub, 1, len(sub))
                # the table's type (the spec's abbreviation), unless plain funcref:
                # then (ref func), which is what the binary's function-index form means
                et_seg = _REF_FUNC if ref_heap(et) == HT_FUNC else et
            count = len(exprs)
            self.module.tables.append(TableType(et, Limits(count, count), at))
            self.module.elems.append(ElementSegment(
                MODE_ACTIVE, et_seg, exprs, index, [(0x42 if at == I64 else 0x41, 0), END]))
            return
        tt, i = self.tabletype(items, i, n, f)
        m = self.module
        if i < n:
            # 3.0: an initialiser expression for every entry
            init = parse_instrs(self, InstrContext(self), items, i, n, f)
            while len(m.table_inits) < len(m.tables):
                m.table_inits.append(None)
            m.table_inits.append(init)
        m.tables.append(tt)

    def field_memory(self, f: SList) -> None:
        items = f.items
        n = len(items)
        i = 2 if _opt_id(items, 1) is not None else 1
        index = self.n_mem
        self.n_mem += 1
        i = self.inline_exports(items, i, EXTERN_MEMORY, index)
        imp, i = self.inline_import(items, i)
        if imp is not None:
            mt, i = self.memtype(items, i, n, f)
            self.expect_end(items, i, f)
            self.module.imports.append(Import(imp[0], imp[1], EXTERN_MEMORY, mt))
            return
        at, j = self.address_type(items, i, n)
        if j < n and type(items[j]) is SList and items[j].head == "data":
            data = items[j]
            self.expect_end(items, j + 1, f)
            init = self.datastring(data.items, 1)
            pages = (len(init) + _PAGE - 1) // _PAGE
            self.module.mems.append(MemoryType(Limits(pages, pages), at))
            self.module.datas.append(DataSegment(MODE_ACTIVE, init, index,
                                                 [(0x42 if at == I64 else 0x41, 0), END]))
            return
        mt, i = self.memtype(items, i, n, f)
        self.expect_end(items, i, f)
        self.module.mems.append(mt)

    def field_global(self, f: SList) -> None:
        items = f.items
        n = len(items)
        i = 2 if _opt_id(items, 1) is not None else 1
        index = self.n_global
        self.n_global += 1
        i = self.inline_exports(items, i, EXTERN_GLOBAL, index)
        imp, i = self.inline_import(items, i)
        gt, i = self.globaltype(items, i, n, f)
        if imp is not None:
            self.expect_end(items, i, f)
            self.module.imports.append(Import(imp[0], imp[1], EXTERN_GLOBAL, gt))
            return
        init = parse_instrs(self, InstrContext(self), items, i, n, f)
        self.module.globals.append(Global(gt, init))

    def field_tag(self, f: SList) -> None:
        """``(tag $id? (export "n")* (import "m" "n")? typeuse)``."""
        items = f.items
        n = len(items)
        i = 2 if _opt_id(items, 1) is not None else 1
        index = self.n_tag
        self.n_tag += 1
        i = self.inline_exports(items, i, EXTERN_TAG, index)
        imp, i = self.inline_import(items, i)
        x, i, _ = self.typeuse(items, i, n, [])
        self.expect_end(items, i, f)
        if imp is not None:
            self.module.imports.append(Import(imp[0], imp[1], EXTERN_TAG, x))
        else:
            self.module.tags.append(x)

    def field_export(self, f: SList) -> None:
        items = f.items
        if len(items) != 3:
            raise self.error("unexpected token", _pos(items[3]) if len(items) > 3 else f.end)
        nm = self.name(items[1])
        desc = items[2]
        if type(desc) is not SList or desc.head not in _KIND_OF_FIELD:
            raise self.error("unexpected token", _pos(desc))
        d = desc.items
        if len(d) != 2:
            raise self.error("unexpected token", _pos(d[2]) if len(d) > 2 else desc.end)
        space = desc.head
        self.module.exports.append(Export(nm, _KIND_OF_FIELD[space], self.index(d[1], space)))

    def field_start(self, f: SList) -> None:
        items = f.items
        if len(items) != 2:
            raise self.error("unexpected token", _pos(items[2]) if len(items) > 2 else f.end)
        if self.module.start is not None:
            raise self.error("multiple start sections", f.pos)
        self.module.start = self.index(items[1], "func")

    def offset_expr(self, node: SList) -> Expr:
        if node.head == "offset":
            return parse_instrs(self, InstrContext(self), node.items, 1, None, node)
        # A single folded instruction abbreviates (offset instr).
        return parse_instrs(self, InstrContext(self), [node], 0, None, node)

    def elem_exprs(self, items: List[Any], i: int, n: int) -> List[Expr]:
        """Element expressions, ``(item instr*)`` or one folded instruction each."""
        exprs = []
        while i < n:
            node = items[i]
            if type(node) is not SList:
                raise self.error("unexpected token", node.pos, node.text)
            if node.head == "item":
                exprs.append(parse_instrs(self, InstrContext(self), node.items, 1, None, node))
            else:
                exprs.append(parse_instrs(self, InstrContext(self), [node], 0, None, node))
            i += 1
        return exprs

    def elem_funcs(self, items: List[Any], i: int, n: int) -> List[Expr]:
        """Function indices, each becoming ``ref.func x``."""
        exprs = []
        while i < n:
            exprs.append([(0xD2, self.index(items[i], "func")), END])
            i += 1
        return exprs

    def field_elem(self, f: SList) -> None:
        items = f.items
        n = len(items)
        i = 1
        table: Optional[int] = None
        table_use = False   # an explicit (table x): the func keyword is then required
        tok = _opt_id(items, 1)
        if tok is not None:
            if self.is_legacy_target(f):
                table = self.index(tok, "table")
            i = 2
        elif i < n and type(items[i]) is Token and items[i].kind == NUM:
            # 1.0 syntax: (elem tableidx (offset ...) funcidx*)
            table = self.index(items[i], "table")
            i += 1
        mode = MODE_PASSIVE
        offset = None
        node = items[i] if i < n else None
        if type(node) is Token and node.kind == KEYWORD and node.text == "declare" and table is None:
            mode = MODE_DECLARATIVE
            i += 1
        elif type(node) is SList and node.head != "ref":
            if node.head == "table" and table is None:
                sub = node.items
                if len(sub) != 2:
                    raise self.error("unexpected token", _pos(sub[2]) if len(sub) > 2 else node.end)
                table = self.index(sub[1], "table")
                table_use = True
                i += 1
                node = items[i] if i < n else None
                if type(node) is not SList:
                    raise self.error("unexpected token", node.pos if node is not None else f.end)
            offset = self.offset_expr(node)
            mode = MODE_ACTIVE
            i += 1
        elif table is not None:
            raise self.error("unexpected token", node.pos if node is not None else f.end)
        # The element list.
        node = items[i] if i < n else None
        if type(node) is Token and node.kind == KEYWORD:
            if node.text == "func":
                et = _REF_FUNC
                exprs = self.elem_funcs(items, i + 1, n)
            else:
                et = self.reftype(node)
                exprs = self.elem_exprs(items, i + 1, n)
        elif type(node) is SList and node.head == "ref":
            et = self.reftype(node)
            exprs = self.elem_exprs(items, i + 1, n)
        elif mode == MODE_ACTIVE and not table_use:
            # (elem (offset ...) funcidx*): the func keyword may be left out.
            et = _REF_FUNC
            exprs = self.elem_funcs(items, i, n)
        else:
            raise self.error("unexpected token", node.pos if node is not None else f.end)
        seg = ElementSegment(mode, et, exprs, (table or 0) if mode == MODE_ACTIVE else 0, offset)
        self.module.elems.append(seg)

    def field_custom(self, f: SList) -> None:
        """``(@custom "name" (before|after section)? "data"*)``: a custom section (the
        annotations of WebAssembly 3.0's text format).  The placement is checked but
        not kept: the encoder writes custom sections after all the others."""
        items = f.items
        if len(items) < 2:
            raise self.error("expected a custom section name", f.end)
        name = self.name(items[1])
        i = 2
        if i < len(items) and type(items[i]) is SList:
            place = items[i].items
            ok = (len(place) == 2 and all(type(t) is Token and t.kind == KEYWORD for t in place)
                  and (place[0].text, place[1].text) != ("before", "last")
                  and (place[0].text, place[1].text) != ("after", "first")
                  and place[0].text in ("before", "after")
                  and (place[1].text in _CUSTOM_PLACES or place[1].text in ("first", "last")))
            if not ok:
                raise self.error("malformed custom annotation placement", items[i].pos)
            i += 1
        self.module.customs.append(CustomSection(name, self.datastring(items, i)))

    def datastring(self, items: List[Any], i: int) -> bytes:
        parts: List[bytes] = []
        for node in items[i:]:
            if type(node) is not Token or node.kind != STRING:
                raise self.unexpected(node)
            parts.append(node.value)  # type: ignore[arg-type]  # (a STRING has its bytes)
        return b"".join(parts)

    def field_data(self, f: SList) -> None:
        items = f.items
        n = len(items)
        i = 1
        mem: Optional[int] = None
        legacy_target = False
        tok = _opt_id(items, 1)
        if tok is not None:
            if self.is_legacy_target(f):
                mem = self.index(tok, "memory")
                legacy_target = True
            i = 2
        elif i < n and type(items[i]) is Token and items[i].kind == NUM:
            mem = self.index(items[i], "memory")
            legacy_target = True
            i += 1
        if not legacy_target and i < n and type(items[i]) is SList and items[i].head == "memory":
            sub = items[i].items
            if len(sub) != 2:
                raise self.error("unexpected token", _pos(sub[2]) if len(sub) > 2 else items[i].end)
            mem = self.index(sub[1], "memory")
            i += 1
            if i >= n or type(items[i]) is not SList:
                raise self.error("unexpected token", _pos(items[i]) if i < n else f.end)
        if i < n and type(items[i]) is SList:
            offset = self.offset_expr(items[i])
            init = self.datastring(items, i + 1)
            self.module.datas.append(DataSegment(MODE_ACTIVE, init, mem or 0, offset))
        else:
            if mem is not None:
                raise self.error("unexpected token", _pos(items[i]) if i < n else f.end)
            self.module.datas.append(DataSegment(MODE_PASSIVE, self.datastring(items, i)))


def _pos(node: Node) -> int:
    return node.pos


def _opt_id(items: List[Any], i: int) -> Optional[Token]:
    if i < len(items):
        node = items[i]
        if type(node) is Token and node.kind == ID:
            return node
    return None


def _has_inline(items: List[Any], i: int, head: str) -> bool:
    """Whether a table/memory field (exports skipped up to ``i``) has inline ``head``."""
    n = len(items)
    if i < n and ((type(items[i]) is Token and items[i].kind == KEYWORD)
                  or (type(items[i]) is SList and items[i].head == "ref")):
        i += 1  # the reftype of (table reftype (elem ...))
    return i < n and type(items[i]) is SList and items[i].head == head


def _defines_inline(items: List[Any], head: str) -> bool:
    i = 2 if _opt_id(items, 1) is not None else 1
    while i < len(items) and type(items[i]) is SList and items[i].head == "export":
        i += 1
    if i < len(items) and type(items[i]) is SList and items[i].head == "import":
        return False
    return _has_inline(items, i, head)


_CUSTOM_PLACES = frozenset(("type", "import", "func", "table", "memory", "global", "export", "start",
                            "elem", "code", "data", "datacount", "tag"))

_FIELD_HANDLERS = {
    "@custom": _ModuleParser.field_custom,
    "type": _ModuleParser.field_type,
    "rec": _ModuleParser.field_type,
    "import": _ModuleParser.field_import,
    "func": _ModuleParser.field_func,
    "table": _ModuleParser.field_table,
    "memory": _ModuleParser.field_memory,
    "global": _ModuleParser.field_global,
    "export": _ModuleParser.field_export,
    "start": _ModuleParser.field_start,
    "elem": _ModuleParser.field_elem,
    "data": _ModuleParser.field_data,
    "tag": _ModuleParser.field_tag,
}
