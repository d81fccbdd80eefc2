"""Instructions of the WebAssembly text format: plain, structured and folded.

:func:`parse_instrs` turns a run of S-expression items (flat instructions, folded
instructions, or both) into the module model's instruction tuples, ending with
``end``.  It never recurses on the input's nesting: folded instructions and blocks
are handled with an explicit stack, so arbitrarily deep input cannot hit Python's
recursion limit.

Identifier resolution (functions, tables, types, ...) and block types are delegated
to the module parser passed in as ``mp`` (see :mod:`pywazero.text.parser`), which
provides ``error``, ``index``, ``u32``, ``blocktype`` and ``call_indirect_type``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, Union

from ..wasm import opcodes as _ops
from ..wasm.types import EXTERNREF, FUNCREF, ref_nullable, ref_type
from .lexer import ID, KEYWORD, NUM, RESERVED, SList, Token
from .numbers import parse_f32_bits, parse_f64_bits, parse_int, parse_uint

if TYPE_CHECKING:
    from .parser import _ModuleParser as _MP

__all__ = ["parse_instrs", "InstrContext", "STRUCTURAL_KEYWORDS"]

_Node = Union[Token, SList]
_Items = List[_Node]
_Instr = Tuple[int, Any]
_OptTok = Optional[Token]
# an immediate parser: (mp, ctx, op, items, i, n, optok) -> (instruction, new i)
_Parsed = Tuple[_Instr, int]
_ImmParser = Callable[["_MP", "InstrContext", int, _Items, int, int, Optional[Token]], _Parsed]

END = (_ops.OP_END, None)
ELSE = (_ops.OP_ELSE, None)

OP_BLOCK = 0x02
OP_LOOP = 0x03
OP_IF = 0x04
OP_SELECT = 0x1B
OP_SELECT_T = 0x1C

# Keywords that head a non-instruction S-expression; seeing one where an instruction
# is expected is an "unexpected token" rather than an "unknown operator".
STRUCTURAL_KEYWORDS = frozenset((
    "param", "result", "local", "type", "then", "else", "item", "offset", "export",
    "import", "table", "memory", "func", "global", "elem", "data", "start", "module",
    "mut", "declare", "tag", "do", "catch", "catch_ref", "catch_all", "catch_all_ref", "delegate",
))

# Frame kinds of the explicit parse stack.
_F_SEQ = 0       # an instruction sequence (body, expression, then/else arm, ...)
_F_PLAIN = 1     # operands of a folded plain instruction; emit it when done
_F_BLOCK = 2     # body of a folded block/loop; emit end when done
_F_IF_COND = 3   # condition operands of a folded if
_F_THEN = 4      # then arm of a folded if
_F_ELSE = 5      # else arm of a folded if
_F_TRY = 6       # the (do ...) (catch ...) ... parts of a folded legacy try

# try_table's catch clauses: text keyword -> (kind, has a tag index)
_CATCH_CLAUSES = {"catch": (_ops.CATCH, True), "catch_ref": (_ops.CATCH_REF, True),
                  "catch_all": (_ops.CATCH_ALL, False), "catch_all_ref": (_ops.CATCH_ALL_REF, False)}

_V128_SHAPES = {
    # shape: (lane count, lane bits, lane parser)
    "i8x16": (16, 8, "i"),
    "i16x8": (8, 16, "i"),
    "i32x4": (4, 32, "i"),
    "i64x2": (2, 64, "i"),
    "f32x4": (4, 32, "f32"),
    "f64x2": (2, 64, "f64"),
}


def _is_literal(tok: Token) -> bool:
    """Whether a token can only be meant as a numeric literal (or a malformed one)."""
    k = tok.kind
    return k == NUM or k == RESERVED or (k == KEYWORD and (tok.text == "inf" or tok.text.startswith("nan")))


# --- immediate parsers -----------------------------------------------------------
# Each takes (mp, ctx, op, items, i, n, optok) where items[i:n] follow the opcode
# keyword, and returns (instruction, new i).

def _need_token(mp: _MP, items: _Items, i: int, n: int, anchor: Optional[_Node]) -> Token:
    if i >= n:
        raise mp.error("unexpected token", anchor.pos if anchor is not None else 0, "(missing immediate)")
    node = items[i]
    if type(node) is not Token:
        raise mp.error("unexpected token", node.pos)
    return node


def _imm_label(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    tok = _need_token(mp, items, i, n, optok)
    return (op, ctx.label(tok)), i + 1


def _imm_br_table(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    labels = []
    while i < n:
        node = items[i]
        if type(node) is not Token or (node.kind != NUM and node.kind != ID):
            break
        labels.append(ctx.label(node))
        i += 1
    if not labels:
        _need_token(mp, items, i, n, optok)
        raise mp.error("unexpected token", items[i].pos)
    return (op, (tuple(labels[:-1]), labels[-1])), i


def _imm_func(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    tok = _need_token(mp, items, i, n, optok)
    return (op, mp.index(tok, "func")), i + 1


def _imm_local(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    tok = _need_token(mp, items, i, n, optok)
    return (op, ctx.local(tok)), i + 1


def _imm_tag(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    tok = _need_token(mp, items, i, n, optok)
    return (op, mp.index(tok, "tag")), i + 1


def _imm_global(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    tok = _need_token(mp, items, i, n, optok)
    return (op, mp.index(tok, "global")), i + 1


def _opt_index(mp: _MP, items: _Items, i: int, n: int, space: str) -> Tuple[Optional[int], int]:
    if i < n:
        node = items[i]
        if type(node) is Token and (node.kind == NUM or node.kind == ID):
            return mp.index(node, space), i + 1
    return None, i


def _imm_table(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    x, i = _opt_index(mp, items, i, n, "table")
    return (op, 0 if x is None else x), i


def _imm_call_indirect(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    x, i = _opt_index(mp, items, i, n, "table")
    ty, i = mp.call_indirect_type(items, i, n, optok)
    return (op, (ty, 0 if x is None else x)), i


def _imm_select(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    types: List[int] = []
    seen = False
    while i < n:
        node = items[i]
        if type(node) is SList and node.head == "result":
            seen = True
            for t in node.items[1:]:
                types.append(mp.valtype(t))
            i += 1
        else:
            break
    if not seen:
        return (OP_SELECT, None), i
    return (OP_SELECT_T, tuple(types)), i


def _memarg(mp: _MP, op: int, items: _Items, i: int, n: int,
            lane: bool = False) -> Tuple[Tuple[int, int, int], int]:
    """``memidx? offset=? align=?`` (the memory index: multiple memories).  With
    ``lane`` a lane index follows: a lone number is that, not a memory index."""
    info = _ops.BY_OP[op]
    offset = 0
    align: int = info.natural_align  # type: ignore[assignment]  # (a memory instruction has one)
    if lane and i + 1 < n and type(items[i]) is Token and items[i].kind == NUM:  # type: ignore[union-attr]
        nxt = items[i + 1]
        if not (type(nxt) is Token and (nxt.kind == NUM or (nxt.kind == KEYWORD and (
                nxt.text.startswith("offset=") or nxt.text.startswith("align="))))):
            return (align, 0, 0), i
    elif lane and i + 1 >= n:
        return (align, 0, 0), i
    mem, i = _opt_index(mp, items, i, n, "memory")
    if i < n:
        node = items[i]
        if type(node) is Token and node.kind == KEYWORD and node.text.startswith("offset="):
            offset = mp.uint(node, node.text[7:])
            i += 1
    if i < n:
        node = items[i]
        if type(node) is Token and node.kind == KEYWORD and node.text.startswith("align="):
            a = mp.uint(node, node.text[6:])
            if a == 0 or a & (a - 1):
                raise mp.error("alignment", node.pos, "must be a power of two")
            align = a.bit_length() - 1
            i += 1
    return (align, offset, mem or 0), i


def _imm_memarg(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    m, i = _memarg(mp, op, items, i, n)
    return (op, m), i


def _lane_index(mp: _MP, items: _Items, i: int, n: int, optok: Optional[Token]) -> Tuple[int, int]:
    tok = _need_token(mp, items, i, n, optok)
    text = tok.text
    if tok.kind != NUM or text[0] == "+" or text[0] == "-":
        raise mp.error("unexpected token", tok.pos, text)
    try:
        return parse_uint(text, 8), i + 1
    except ValueError as e:
        if str(e) == "constant out of range":
            raise mp.error("malformed lane index", tok.pos, text) from None
        raise mp.error("unexpected token", tok.pos, text) from None


def _imm_memarg_lane(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    m, i = _memarg(mp, op, items, i, n, True)
    lane, i = _lane_index(mp, items, i, n, optok)
    return (op, m + (lane,)), i


def _imm_lane(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    lane, i = _lane_index(mp, items, i, n, optok)
    return (op, lane), i


def _imm_shuffle(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    lanes = []
    while i < n:
        node = items[i]
        if type(node) is not Token or not _is_literal(node):
            break
        lanes.append(node)
        i += 1
    if len(lanes) != 16:
        raise mp.error("invalid lane length", optok.pos)  # type: ignore[union-attr]  # (given for immediates)
    out = bytearray()
    for tok in lanes:
        try:
            out.append(parse_uint(tok.text, 8))
        except ValueError:
            raise mp.error("malformed lane index", tok.pos) from None
    return (op, bytes(out)), i


def _imm_memory(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    x, i = _opt_index(mp, items, i, n, "memory")
    return (op, x or 0), i


def _imm_memory_init(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    # memory.init memidx? dataidx
    toks, i = _idx_tokens(items, i, n, 2)
    if not toks:
        _need_token(mp, items, i, n, optok)
        raise mp.error("unexpected token", items[i].pos)
    mp.uses_data_count = True
    if len(toks) == 2:
        return (op, (mp.index(toks[1], "data"), mp.index(toks[0], "memory"))), i
    return (op, (mp.index(toks[0], "data"), 0)), i


def _imm_data(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    tok = _need_token(mp, items, i, n, optok)
    mp.uses_data_count = True
    return (op, mp.index(tok, "data")), i + 1


def _index_pair(space: str) -> _ImmParser:
    """The immediate of ``memory.copy``/``table.copy``: ``(idx idx)?`` in ``space``,
    both 0 when absent; one alone is an error."""
    def imm(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
        toks, i = _idx_tokens(items, i, n, 2)
        if not toks:
            return (op, (0, 0)), i
        if len(toks) == 1:
            node = items[i] if i < n else None
            raise mp.error("unexpected token", node.pos if node is not None else toks[0].pos)
        return (op, (mp.index(toks[0], space), mp.index(toks[1], space))), i
    return imm


_imm_memory_copy = _index_pair("memory")


def _imm_elem(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    tok = _need_token(mp, items, i, n, optok)
    return (op, mp.index(tok, "elem")), i + 1


def _idx_tokens(items: _Items, i: int, n: int, limit: int) -> Tuple[List[Token], int]:
    toks: List[Token] = []
    while i < n and len(toks) < limit:
        node = items[i]
        if type(node) is Token and (node.kind == NUM or node.kind == ID):
            toks.append(node)
            i += 1
        else:
            break
    return toks, i


def _imm_table_init(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    toks, i = _idx_tokens(items, i, n, 2)
    if not toks:
        _need_token(mp, items, i, n, optok)
        raise mp.error("unexpected token", items[i].pos)
    if len(toks) == 2:
        return (op, (mp.index(toks[1], "elem"), mp.index(toks[0], "table"))), i
    return (op, (mp.index(toks[0], "elem"), 0)), i


_imm_table_copy = _index_pair("table")


def _imm_reftype(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    # ref.null heaptype, kept as the nullable reference type
    tok = _need_token(mp, items, i, n, optok)
    if tok.kind == KEYWORD:
        if tok.text == "func":
            return (op, FUNCREF), i + 1
        if tok.text == "extern":
            return (op, EXTERNREF), i + 1
    return (op, ref_type(mp.heaptype(tok))), i + 1


def _imm_type(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    tok = _need_token(mp, items, i, n, optok)
    return (op, mp.index(tok, "type")), i + 1


def _imm_field(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    # struct.get $t $field: the field by index or by its id in type $t
    x = mp.index(_need_token(mp, items, i, n, optok), "type")
    tok = _need_token(mp, items, i + 1, n, optok)
    if tok.kind == ID:
        y = mp.field_ids.get(x, {}).get(tok.text)
        if y is None:
            raise mp.error("unknown field", tok.pos, tok.text)
    else:
        y = mp.u32_index(tok)
    return (op, (x, y)), i + 2


def _imm_type_n(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    x = mp.index(_need_token(mp, items, i, n, optok), "type")
    return (op, (x, mp.u32(_need_token(mp, items, i + 1, n, optok)))), i + 2


def _imm_type_space(space: str) -> _ImmParser:
    def imm(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
        x = mp.index(_need_token(mp, items, i, n, optok), "type")
        if space == "data":
            mp.uses_data_count = True
        return (op, (x, mp.index(_need_token(mp, items, i + 1, n, optok), space))), i + 2
    return imm


def _reftype_imm(mp: _MP, items: _Items, i: int, n: int, optok: Optional[Token]) -> int:
    if i >= n:
        _need_token(mp, items, i, n, optok)
    return mp.reftype(items[i])


def _imm_cast(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    # ref.test/ref.cast reftype: a nullable target is the other opcode
    t = _reftype_imm(mp, items, i, n, optok)
    if ref_nullable(t):
        op = _ops.NULLABLE_CAST_OP.get(op, op)
    return (op, t), i + 1


def _imm_br_on_cast(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    label = ctx.label(_need_token(mp, items, i, n, optok))
    t1 = _reftype_imm(mp, items, i + 1, n, optok)
    t2 = _reftype_imm(mp, items, i + 2, n, optok)
    return (op, (label, t1, t2)), i + 3


def _const_token(mp: _MP, items: _Items, i: int, n: int, optok: Optional[Token]) -> Token:
    tok = _need_token(mp, items, i, n, optok)
    k = tok.kind
    if k == KEYWORD:
        t = tok.text
        # nan:canonical / nan:arithmetic are script-only keywords; any other nan:...
        # is a (possibly malformed) literal.
        if t == "inf" or t == "nan" or (t.startswith("nan:") and t != "nan:canonical"
                                        and t != "nan:arithmetic"):
            return tok
    elif k == NUM or k == RESERVED:
        return tok
    raise mp.error("unexpected token", tok.pos, tok.text)


def _int_token(mp: _MP, items: _Items, i: int, n: int, optok: Optional[Token]) -> Token:
    tok = _need_token(mp, items, i, n, optok)
    if tok.kind != NUM and tok.kind != RESERVED:
        raise mp.error("unexpected token", tok.pos, tok.text)
    return tok


def _imm_signed(bits: int) -> _ImmParser:
    """The reader of an ``iN.const`` immediate: kept as a signed value, as the
    binary decoder keeps it."""
    sign = 1 << (bits - 1)

    def imm(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
        tok = _int_token(mp, items, i, n, optok)
        try:
            v = parse_int(tok.text, bits)
        except ValueError as e:
            raise mp.error(str(e), tok.pos) from None
        if v & sign:
            v -= 1 << bits
        return (op, v), i + 1

    return imm


_imm_i32 = _imm_signed(32)
_imm_i64 = _imm_signed(64)


def _imm_f32(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    tok = _const_token(mp, items, i, n, optok)
    try:
        return (op, parse_f32_bits(tok.text)), i + 1
    except ValueError as e:
        raise mp.error(str(e), tok.pos) from None


def _imm_f64(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    tok = _const_token(mp, items, i, n, optok)
    try:
        return (op, parse_f64_bits(tok.text)), i + 1
    except ValueError as e:
        raise mp.error(str(e), tok.pos) from None


def _imm_v128(mp: _MP, ctx: InstrContext, op: int, items: _Items, i: int, n: int, optok: _OptTok) -> _Parsed:
    tok = _need_token(mp, items, i, n, optok)
    shape = _V128_SHAPES.get(tok.text) if tok.kind == KEYWORD else None
    if shape is None:
        raise mp.error("unexpected token", tok.pos)
    count, width, kind = shape
    i += 1
    lanes = []
    while i < n:
        node = items[i]
        if type(node) is not Token:
            break
        if _is_literal(node):
            lanes.append(node)
            i += 1
        else:
            break
    if len(lanes) != count:
        raise mp.error("wrong number of lane literals", tok.pos)
    value = 0
    shift = 0
    try:
        for lt in lanes:
            if kind == "i":
                v = parse_int(lt.text, width)
            elif kind == "f32":
                v = parse_f32_bits(lt.text)
            else:
                v = parse_f64_bits(lt.text)
            value |= v << shift
            shift += width
    except ValueError as e:
        raise mp.error(str(e), lt.pos) from None
    return (op, value), i


_IMM_HANDLERS: Dict[int, Optional[_ImmParser]] = {
    _ops.IMM_NONE: None,
    _ops.IMM_LABEL: _imm_label,
    _ops.IMM_BR_TABLE: _imm_br_table,
    _ops.IMM_FUNC: _imm_func,
    _ops.IMM_CALL_INDIRECT: _imm_call_indirect,
    _ops.IMM_LOCAL: _imm_local,
    _ops.IMM_GLOBAL: _imm_global,
    _ops.IMM_TABLE: _imm_table,
    _ops.IMM_SELECT_T: _imm_select,
    _ops.IMM_MEMARG: _imm_memarg,
    _ops.IMM_MEMORY: _imm_memory,
    _ops.IMM_I32: _imm_i32,
    _ops.IMM_I64: _imm_i64,
    _ops.IMM_F32: _imm_f32,
    _ops.IMM_F64: _imm_f64,
    _ops.IMM_REFTYPE: _imm_reftype,
    _ops.IMM_TYPE: _imm_type,
    _ops.IMM_MEMORY_INIT: _imm_memory_init,
    _ops.IMM_DATA: _imm_data,
    _ops.IMM_MEMORY_COPY: _imm_memory_copy,
    _ops.IMM_TABLE_INIT: _imm_table_init,
    _ops.IMM_ELEM: _imm_elem,
    _ops.IMM_TABLE_COPY: _imm_table_copy,
    _ops.IMM_V128: _imm_v128,
    _ops.IMM_SHUFFLE: _imm_shuffle,
    _ops.IMM_LANE: _imm_lane,
    _ops.IMM_MEMARG_LANE: _imm_memarg_lane,
    _ops.IMM_FIELD: _imm_field,
    _ops.IMM_TYPE_N: _imm_type_n,
    _ops.IMM_TYPE_DATA: _imm_type_space("data"),
    _ops.IMM_TYPE_ELEM: _imm_type_space("elem"),
    _ops.IMM_TYPE_TYPE: _imm_type_space("type"),
    _ops.IMM_CAST: _imm_cast,
    _ops.IMM_BR_ON_CAST: _imm_br_on_cast,
    _ops.IMM_TAG: _imm_tag,
    _ops.IMM_TRY_TABLE: None,
}

# Text name -> (opcode, immediate parser or None).  Structured instructions
# (block, loop, if, else, end) are handled by the sequence parser itself.
_PLAIN: Dict[str, Tuple[int, Optional[_ImmParser]]] = {}
for _info in _ops.BY_OP.values():
    if _info.name in ("block", "loop", "if", "else", "end", "select_t", "try_table", "try", "catch",
                      "catch_all", "delegate", "ref.test_null", "ref.cast_null"):
        continue
    if _info.name == "select":
        _PLAIN["select"] = (OP_SELECT, _imm_select)
        continue
    _PLAIN[_info.name] = (_info.op, _IMM_HANDLERS[_info.imm])
del _info

_BLOCK_OPS = {"block": OP_BLOCK, "loop": OP_LOOP, "if": OP_IF}


class InstrContext:
    """Per-body state: local names and the stack of enclosing label names."""

    __slots__ = ("mp", "locals", "labels")

    def __init__(self, mp: _MP, locals_map: Optional[Dict[str, int]] = None) -> None:
        self.mp = mp
        self.locals = locals_map if locals_map is not None else {}
        self.labels: List[Optional[str]] = []

    def local(self, tok: Token) -> int:
        if tok.kind == ID:
            x = self.locals.get(tok.text)
            if x is None:
                raise self.mp.error("unknown local", tok.pos, tok.text)
            return x
        return self.mp.u32_index(tok)

    def label(self, tok: Token) -> int:
        if tok.kind == ID:
            labels = self.labels
            name = tok.text
            k = len(labels) - 1
            while k >= 0:
                if labels[k] == name:
                    return len(labels) - 1 - k
                k -= 1
            raise self.mp.error("unknown label", tok.pos, name)
        return self.mp.u32_index(tok)


def parse_instrs(mp: _MP, ctx: InstrContext, items: _Items, start: int, end: Optional[int] = None,
                 anchor: Optional[_Node] = None) -> List[_Instr]:
    """Parse ``items[start:end]`` as an instruction sequence; return it with ``end``."""
    out: List[_Instr] = []
    labels = ctx.labels
    plain = _PLAIN
    # Open flat (unfolded) blocks: [keyword, label, token, saw_else].
    flat: List[List[Any]] = []
    # Frames: [items, i, n, kind, data, flat depth at entry]
    frames: List[List[Any]] = [[items, start, len(items) if end is None else end, _F_SEQ, None, 0]]
    while frames:
        fr = frames[-1]
        its = fr[0]
        i = fr[1]
        n = fr[2]
        if i >= n:
            frames.pop()
            if len(flat) > fr[5]:
                tok = flat[-1][2]
                raise mp.error("unexpected token", tok.pos, f"(missing end of {tok.text})")
            kind = fr[3]
            if kind == _F_PLAIN:
                out.append(fr[4])
            elif kind == _F_BLOCK:
                out.append(END)
                labels.pop()
            elif kind == _F_IF_COND:
                if_instr, label, then_node, else_node = fr[4]
                out.append(if_instr)
                labels.append(label)
                tits = then_node.items
                frames.append([tits, 1, len(tits), _F_THEN, else_node, len(flat)])
            elif kind == _F_THEN:
                else_node = fr[4]
                if else_node is not None and len(else_node.items) > 1:
                    out.append(ELSE)
                    eits = else_node.items
                    frames.append([eits, 1, len(eits), _F_ELSE, None, len(flat)])
                else:
                    out.append(END)
                    labels.pop()
            elif kind == _F_ELSE:
                if out[-1] is ELSE:
                    out.pop()
                out.append(END)
                labels.pop()
            elif kind == _F_TRY:
                if fr[4] == 0:
                    raise mp.error("unexpected token", its[n - 1].end if n else 0, "(missing do)")
                if fr[4] != 4:
                    out.append(END)
                    labels.pop()
            continue
        node = its[i]
        kind = fr[3]
        if kind == _F_TRY:
            _try_part(mp, ctx, fr, node, out, frames, len(flat))
            continue
        if type(node) is Token:
            if kind == _F_PLAIN or kind == _F_IF_COND or node.kind != KEYWORD:
                if node.kind == RESERVED:
                    raise mp.error("unknown operator", node.pos, node.text)
                raise mp.error("unexpected token", node.pos, node.text)
            name = node.text
            entry = plain.get(name)
            if entry is not None:
                op, handler = entry
                if handler is None:
                    out.append((op, None))
                    fr[1] = i + 1
                else:
                    instr, fr[1] = handler(mp, ctx, op, its, i + 1, n, node)
                    out.append(instr)
                continue
            if name in _BLOCK_OPS:
                label, bt, j = _label_blocktype(mp, its, i + 1, n, node)
                out.append((_BLOCK_OPS[name], bt))
                labels.append(label)
                flat.append([name, label, node, False])
                fr[1] = j
                continue
            if name == "try_table" or name == "try":
                label, bt, j = _label_blocktype(mp, its, i + 1, n, node)
                if name == "try_table":
                    catches, j = _catch_clauses(mp, ctx, its, j, n)
                    out.append((_ops.OP_TRY_TABLE, (bt, catches)))
                else:
                    out.append((_ops.OP_TRY, bt))
                labels.append(label)
                # (for try, the last entry counts catches: 0 none, 1 catch, 2 catch_all)
                flat.append([name, label, node, 0])
                fr[1] = j
                continue
            if name == "catch" or name == "catch_all" or name == "delegate":
                if len(flat) <= fr[5] or flat[-1][0] != "try" or flat[-1][3] == 2 \
                        or (name == "delegate" and flat[-1][3]):
                    raise mp.error("unexpected token", node.pos, name)
                top = flat[-1]
                j = i + 1
                if name == "catch":
                    tok = _need_token(mp, its, j, n, node)
                    out.append((_ops.OP_CATCH, mp.index(tok, "tag")))
                    top[3] = 1
                    j += 1
                elif name == "catch_all":
                    out.append((_ops.OP_CATCH_ALL, None))
                    top[3] = 2
                else:
                    flat.pop()
                    labels.pop()
                    tok = _need_token(mp, its, j, n, node)
                    out.append((_ops.OP_DELEGATE, ctx.label(tok)))
                    j += 1
                fr[1] = j
                continue
            if name == "else" or name == "end":
                if len(flat) <= fr[5]:
                    raise mp.error("unexpected token", node.pos, name)
                top = flat[-1]
                j = i + 1
                if j < n:
                    nxt = its[j]
                    if type(nxt) is Token and nxt.kind == ID:
                        if nxt.text != top[1]:
                            raise mp.error("mismatching label", nxt.pos, nxt.text)
                        j += 1
                if name == "else":
                    if top[0] != "if" or top[3]:
                        raise mp.error("unexpected token", node.pos, name)
                    top[3] = True
                    out.append(ELSE)
                else:
                    flat.pop()
                    if top[3] and out[-1] is ELSE:
                        out.pop()
                    out.append(END)
                    labels.pop()
                fr[1] = j
                continue
            raise mp.error("unknown operator", node.pos, name)
        # A folded instruction.
        fr[1] = i + 1
        sub = node.items
        if not sub or type(sub[0]) is not Token or sub[0].kind != KEYWORD:
            raise mp.error("unexpected token", node.pos)
        head = sub[0]
        name = head.text
        m = len(sub)
        entry = plain.get(name)
        if entry is not None:
            op, handler = entry
            if handler is None:
                instr, j = (op, None), 1
            else:
                instr, j = handler(mp, ctx, op, sub, 1, m, head)
            if j >= m:
                out.append(instr)
            else:
                frames.append([sub, j, m, _F_PLAIN, instr, len(flat)])
            continue
        if name == "block" or name == "loop":
            label, bt, j = _label_blocktype(mp, sub, 1, m, head)
            out.append((_BLOCK_OPS[name], bt))
            labels.append(label)
            frames.append([sub, j, m, _F_BLOCK, None, len(flat)])
            continue
        if name == "try_table":
            label, bt, j = _label_blocktype(mp, sub, 1, m, head)
            catches, j = _catch_clauses(mp, ctx, sub, j, m)
            out.append((_ops.OP_TRY_TABLE, (bt, catches)))
            labels.append(label)
            frames.append([sub, j, m, _F_BLOCK, None, len(flat)])
            continue
        if name == "try":
            label, bt, j = _label_blocktype(mp, sub, 1, m, head)
            out.append((_ops.OP_TRY, bt))
            labels.append(label)
            # data: 0 before (do), 1 after it, 2 after a catch, 3 after catch_all,
            # 4 after delegate
            frames.append([sub, j, m, _F_TRY, 0, len(flat)])
            continue
        if name == "if":
            label, bt, j = _label_blocktype(mp, sub, 1, m, head)
            t = j
            while t < m:
                c = sub[t]
                if type(c) is SList and c.head == "then":
                    break
                if type(c) is not SList:
                    raise mp.error("unexpected token", c.pos)
                t += 1
            if t >= m:
                raise mp.error("unexpected token", node.end, "(missing then)")
            then_node = sub[t]
            else_node = None
            if t + 1 < m:
                c = sub[t + 1]
                if type(c) is SList and c.head == "else":
                    else_node = c
                    if t + 2 < m:
                        raise mp.error("unexpected token", sub[t + 2].pos)
                else:
                    raise mp.error("unexpected token", c.pos)
            data = ((OP_IF, bt), label, then_node, else_node)
            frames.append([sub, j, t, _F_IF_COND, data, len(flat)])
            continue
        if name in STRUCTURAL_KEYWORDS:
            raise mp.error("unexpected token", head.pos, name)
        raise mp.error("unknown operator", head.pos, name)
    out.append(END)
    return out


def _label_blocktype(mp: _MP, items: _Items, i: int, n: int,
                     optok: Optional[Token]) -> Tuple[Optional[str], Any, int]:
    label = None
    if i < n:
        node = items[i]
        if type(node) is Token and node.kind == ID:
            label = node.text
            i += 1
    bt, i = mp.blocktype(items, i, n, optok)
    return label, bt, i


def _catch_clauses(mp: _MP, ctx: InstrContext, items: _Items, i: int,
                   n: int) -> Tuple[Tuple[Tuple[int, Optional[int], int], ...], int]:
    """try_table's ``(catch x l)``/``(catch_ref x l)``/``(catch_all l)``/
    ``(catch_all_ref l)`` clauses at ``items[i:]`` (labels of the enclosing context)."""
    out = []
    while i < n:
        node = items[i]
        if type(node) is not SList:
            break
        clause = _CATCH_CLAUSES.get(node.head or "")
        if clause is None:
            break
        kind, has_tag = clause
        sub = node.items
        want = 3 if has_tag else 2
        if len(sub) != want:
            raise mp.error("unexpected token", sub[want].pos if len(sub) > want else node.end)
        tag = None
        if has_tag:
            tok = _need_token(mp, sub, 1, want, sub[0])
            tag = mp.index(tok, "tag")
        tok = _need_token(mp, sub, want - 1, want, sub[0])
        out.append((kind, tag, ctx.label(tok)))
        i += 1
    return tuple(out), i


def _try_part(mp: _MP, ctx: InstrContext, fr: List[Any], node: _Node, out: List[_Instr],
              frames: List[List[Any]], depth: int) -> None:
    """One part of a folded legacy try: ``(do ...)``, ``(catch x ...)``,
    ``(catch_all ...)`` or ``(delegate l)``."""
    fr[1] += 1
    head = node.head if type(node) is SList else None
    st = fr[4]
    # (None only for the last branch, which raises)
    sub: Any = node.items if head is not None else None  # type: ignore[union-attr]
    if head == "do" and st == 0:
        fr[4] = 1
        frames.append([sub, 1, len(sub), _F_SEQ, None, depth])
    elif head == "catch" and (st == 1 or st == 2):
        tok = _need_token(mp, sub, 1, len(sub), sub[0])
        out.append((_ops.OP_CATCH, mp.index(tok, "tag")))
        fr[4] = 2
        frames.append([sub, 2, len(sub), _F_SEQ, None, depth])
    elif head == "catch_all" and (st == 1 or st == 2):
        out.append((_ops.OP_CATCH_ALL, None))
        fr[4] = 3
        frames.append([sub, 1, len(sub), _F_SEQ, None, depth])
    elif head == "delegate" and st == 1:
        if len(sub) != 2:
            raise mp.error("unexpected token", sub[2].pos if len(sub) > 2 else node.end)  # type: ignore[union-attr]
        ctx.labels.pop()
        tok = _need_token(mp, sub, 1, 2, sub[0])
        out.append((_ops.OP_DELEGATE, ctx.label(tok)))
        fr[4] = 4
    else:
        raise mp.error("unexpected token", node.pos)
