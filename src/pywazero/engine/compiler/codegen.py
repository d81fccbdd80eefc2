"""Code generation: one WebAssembly function body -> the source of one Python function.

The generated function is ``def f<index>(l0, l1, ..., _d):``: wasm locals are the
Python locals ``l<i>`` and ``_d`` is the wasm call depth of this frame.  Everything
else it uses is a global of the per-instance namespace (see ``__init__.py``):

* ``f<k>``: the callable of function ``k`` (same calling convention, plus ``_d + 1``);
* ``M<k>`` / ``MI<k>``: memory ``k``'s bytearray / MemoryInstance;
* ``T<k>`` / ``TI<k>``: table ``k``'s element list / TableInstance;
* ``G<k>``: a mutable GlobalInstance; ``g<k>``: an immutable global's value;
* ``FT<k>``: type ``k``; ``_F``/``_E``/``_D``: the instance's functions, element
  segments and data segments; numerics' names (``NAMESPACE``) and the helpers of
  ``rt.py``.

The operand stack exists only at compile time.  Each stack entry is a Python
expression; an expression stays pending (unevaluated) only while it is *pure*: it
reads nothing but locals and temporaries and cannot trap.  Anything that reads
memory, globals or may trap is assigned to a fresh temporary ``t<n>`` at once, so
wasm's evaluation order is kept.  Before ``local.set x`` the pending entries reading
``x`` are evaluated into temporaries.  At control-flow joins values live in
per-height "slot" variables ``s<h>``.

Control flow: a ``loop`` that is branched to becomes ``while True:`` (a branch to it
is ``continue``, falling off its end is ``break``); a ``block``/``if`` that is
branched to is wrapped in a one-shot ``while True: ... break`` (a branch to it is
``break``); constructs that are never branched to emit no loop at all.  A branch out
of several nested Python loops sets ``_br`` to the target's id and breaks; after each
such inner loop a check (``if _br: ...``) continues or breaks on outward.  Only loops
crossed by such a branch pay for the check.  A ``switch`` (nested blocks whose
innermost body ends in a ``br_table``, :class:`_Switch`) puts each case that only the
``br_table`` enters and that ends in a jump into its leaf of the dispatch tree, so it
runs straight after the comparisons, without flags or one-shot loops.  A block
without results left only by ``br``/``br_if`` at its own top level is no loop either:
each ``br_if`` nests the rest of the block in ``if not cond:`` (``_branch_facts``).

The control-flow facts come from the validator's ``Function.info``
(:class:`~pywazero.wasm.module.FunctionInfo`; for a function without one,
:func:`~pywazero.wasm.facts.function_info` computes it, validating the body unless
the module was validated): each opener's
resolved block type (``block_types``: how many params move into slots and how many
results come out), the height below its params (``heights``: where its slots start),
its matching ``end`` (``partner``, also telling when a block's body is exactly one
construct) and ``else`` (``else_of``): after ``br``/``br_table``/``return``/
``unreachable`` translation resumes at the innermost construct's ``else`` or ``end``,
the dead code in between is never looked at.  The compile-time stack is this
module's own (it holds expressions, not types); ``branch_heights`` and ``max_stack``
are not needed (slots are named variables).  The one fact found by a pre-scan is
which constructs some branch (reachable or not) targets, the validator not
recording branch targets.
"""
from __future__ import annotations

import math
import struct
import sys
from typing import Any, Callable, Dict, FrozenSet, List, Mapping, Optional, Sequence, Set, Tuple

from ...wasm import opcodes as ops
from ...wasm.module import Module
from ...wasm.types import F32, F64, I32, I64
from ...wasm.facts import function_info
from ...wasm import numerics as num
from ..limits import FREE_OPS as _FREE_OPS
from ..limits import GROW_OPS as _GROW_OPS
from ..limits import calls_out, length_charges

__all__ = ["generate", "TooComplex"]

_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF

# Python's compiler refuses more than 20 statically nested loops/try blocks and more
# than 100 indentation levels; functions beyond these limits are not generated.
MAX_PY_LOOPS = 18
MAX_INDENT = 90
# Pending expressions longer than this are evaluated into a temporary (keeps the
# generated code readable and Python's compiler away from deep recursion).
MAX_EXPR = 160
# Runs of at least this many directly nested blocks are flattened (see _Chain).
CHAIN_MIN = 4
# A block left by at most this many br_ifs at its top level nests the rest of its
# body in ``if not cond:`` (one indentation level each) instead of being a loop.
MAX_NEST = 8


# legacy exception handling's instructions: functions with a delegate (or with any
# of them when fuel is counted) run on the interpreter
_LEGACY_EH = frozenset((0x06, 0x07, 0x09, 0x18, 0x19))


class TooComplex(Exception):
    """The function cannot be expressed within Python's compiler limits."""


# entry kinds
K_CONST = 0   # a literal or a bound constant name
K_LOCAL = 1   # a wasm local l<i>
K_VAR = 2     # a temporary or slot variable (never reassigned while pending)
K_EXPR = 3    # a pure compound expression

_EMPTY: FrozenSet[int] = frozenset()
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _width(e: "_E", n: int) -> int:
    """A bound on the bit length of ``e``'s canonical value (an N-bit integer)."""
    if e.kind == K_CONST and e.expr.isdigit():
        return max(1, int(e.expr).bit_length())
    return e.width or n


def _mentions(expr: str, name: str) -> bool:
    """Whether the identifier ``name`` occurs in expression ``expr``."""
    k = expr.find(name)
    n = len(name)
    while k >= 0:
        if ((k == 0 or expr[k - 1] not in _NAME_CHARS)
                and (k + n == len(expr) or expr[k + n] not in _NAME_CHARS)):
            return True
        k = expr.find(name, k + 1)
    return False


class _E:
    """A compile-time stack entry.  ``expr`` is always the value in its canonical
    form (unsigned bit pattern); integer arithmetic may also offer ``raw``, a cheaper
    expression congruent to it modulo 2**N (not yet masked) of at most ``bits`` bits,
    which only the wrap-around-compatible operators consume.  ``wrap``: ``raw`` may
    be negative (a subtraction) or is likely to reach 2**N (it adds or multiplies a
    constant of the top half, i.e. a negative one): then it is no memory address."""

    __slots__ = ("expr", "kind", "locs", "cond", "raw", "bits", "wrap", "width", "aff")

    def __init__(self, expr: str, kind: int, locs: FrozenSet[int] = _EMPTY, cond: Optional[str] = None) -> None:
        self.expr = expr
        self.kind = kind
        self.locs = locs
        self.cond = cond
        self.raw: Optional[str] = None
        self.bits = 0
        self.wrap = False
        self.width = 0   # known: the value is below 2**width (0: unknown)
        # an i32 address as ``base local + C + (X << k)`` (FunctionGenerator.affine):
        # (base local or None, C, X's expression or None, k, the locals it reads)
        self.aff: Optional[Tuple[Optional[int], int, Optional[str], int, FrozenSet[int]]] = None


class _Ctl:
    __slots__ = ("kind", "opener", "height", "nparams", "nresults", "pyloop", "cid", "escapes",
                 "mark", "alias", "chain", "level", "exc", "branches", "hid", "delegated",
                 "nest", "nmark")

    def __init__(self, kind: int, height: int, nparams: int, nresults: int, opener: int = -1) -> None:
        # 0 block, 1 loop, 2 if (4 once its else is seen), 3 function, 5 try_table,
        # 6 legacy try (with catches), 7 legacy try ... delegate
        self.kind = kind
        self.opener = opener        # body index of the block/loop/if (-1: none)
        self.height = height        # stack height below the params (FunctionInfo.heights)
        self.nparams = nparams
        self.nresults = nresults
        self.pyloop = False         # emitted as a Python ``while True``
        self.cid = 0
        # (pyloop construct, "break"/"continue") jumps out of this loop to outer ones
        self.escapes: Set[Any] = set()
        # A block whose body is exactly one construct C emitted as a Python loop is
        # not a loop itself: a branch to it is a break out of C.
        self.alias: Optional[_Ctl] = None
        # a block lowered without a loop (_branch_facts): how many ``if not cond:`` its
        # branches opened (-1: not such a block), len(lines) after the last one
        self.nest = -1
        self.nmark = 0
        self.chain: Optional[_Chain] = None   # member of a flattened block chain
        self.level = 0
        self.mark = 0               # len(lines) after the construct's header
        # a legacy try: the variable holding the caught exception (its catches'
        # rethrow reads it) once in the catches, and how many catch tests were emitted
        self.exc: Optional[str] = None
        self.branches = 0
        # a handler (try_table, legacy try): its id, and whether a legacy delegate
        # sends exceptions to it (its except clause then takes _Deleg too)
        self.hid = 0
        self.delegated = False


class _Chain:
    """Consecutive nested blocks B1 (outermost) .. Bk, each starting its parent's body,
    flattened instead of nested: the innermost body and the code after each Bm's end
    (m = k .. 2) become a sequence of segments, each a one-shot Python loop guarded by
    ``if _p<id> >= m``.  A branch to Bi sets ``_p<id> = i`` and leaves its segment;
    segments m > i are skipped.  Keeps big ``br_table`` switches within Python's
    nesting limits."""

    __slots__ = ("var", "size", "segment", "opened", "plan", "guard")

    def __init__(self, var: str, size: int, plan: Optional["_Switch"] = None) -> None:
        self.var = var
        self.size = size
        self.segment: Optional[_Ctl] = None
        self.opened = 0
        self.plan = plan
        self.guard = -1   # a switch: len(lines) after the open guard's header


# instructions after which the rest of their block is dead (translation skips it)
_TERMINATORS = frozenset((0x0C, 0x0E, 0x0F, 0x00, 0x08, 0x0A, 0x09, 0x12, 0x13, 0x15))
_OPENERS = frozenset((0x02, 0x03, 0x04, 0x06, 0x1F))
# br, br_if, br_table, br_on_null, br_on_non_null, br_on_cast(_fail), try_table
_BRANCHING = frozenset((0x0C, 0x0D, 0x0E, 0xD5, 0xD6, ops.fb(24), ops.fb(25), 0x1F))


def _branch_labels(op: int, imm: Any) -> Any:
    """The labels (relative depths, as the instruction names them) that instruction
    ``(op, imm)`` of :data:`_BRANCHING` may branch to; a ``try_table``'s are its
    catch clauses', counted from outside it."""
    if op == 0x0E:
        return set(imm[0]) | {imm[1]}
    if op == 0x1F:
        return [lab for _kind, _tag, lab in imm[1]]
    if op == 0x0C or op == 0x0D or op == 0xD5 or op == 0xD6:
        return (imm,)
    return (imm[0],)   # br_on_cast, br_on_cast_fail


def _exits(body: List[Tuple[int, Any]], start: int, stop: int) -> Tuple[List[Tuple[int, int]], int]:
    """Branches in ``body[start:stop]`` (a sequence of whole constructs) to labels
    outside it, as ``(index, r)`` where ``r`` counts the enclosing labels outward
    from the range's own (0: the innermost construct around the range); and the
    index of the first unconditional transfer at the range's top level (-1: none).
    """
    out: List[Tuple[int, int]] = []
    depth = 0
    term = -1
    for i in range(start, stop):
        op, imm = body[i]
        if op in _BRANCHING:
            for lab in _branch_labels(op, imm):
                if lab >= depth:
                    out.append((i, lab - depth))
        if op in _OPENERS:
            depth += 1
            continue
        if op == 0x0B or op == 0x18:
            depth -= 1
            continue
        if depth == 0 and op in _TERMINATORS:
            term = i
            break
    return out, term


class _Switch:
    """How a chain of blocks B1..Bk ending in a ``br_table`` (what C compilers emit
    for ``switch``) is lowered.  The code after ``Bm``'s end (the case, up to
    ``B(m-1)``'s end) is translated inside the dispatch tree's leaf when nothing
    but that one leaf enters it (``inline``: m -> (start, stop)), so the case runs
    right after the comparisons and its branches to enclosing loops are plain
    ``continue``/``break``.  Other cases run after the tree, guarded by the chain
    variable as in a plain chain (``guarded``: whether there are any); such a case is
    a one-shot loop only when it branches to another case's block from anywhere
    but its end (``loops``: their levels), otherwise its branches leave it by
    setting the variable and falling out of the guard."""

    __slots__ = ("bt", "inline", "guarded", "loops")

    def __init__(self, bt: int, inline: Dict[int, Tuple[int, int]], guarded: bool,
                 loops: Set[int]) -> None:
        self.bt = bt
        self.inline = inline
        self.guarded = guarded
        self.loops = loops


def _switch_plan(body: List[Tuple[int, Any]], info: Any, j0: int, k: int) -> Optional[_Switch]:
    """The :class:`_Switch` for the ``k`` nested blocks opened at ``body[j0:j0+k]``,
    or None when they are no such switch or no case can be inlined."""
    partner = info.partner
    block_types = info.block_types
    for j in range(j0, j0 + k):
        bp, br = block_types[j]
        if bp or br:
            return None
    jk = j0 + k - 1
    if body[partner[jk] - 1][0] != 0x0E:   # (what compilers emit: a br_table last)
        return None
    refs, bt = _exits(body, jk + 1, partner[jk])
    if bt < 0 or body[bt][0] != 0x0E:
        return None
    # (r < k: a chain block, level k - r)
    if any(r < k for i, r in refs if i != bt):
        return None
    labels, default = body[bt][1]
    leaves: Dict[int, int] = {}
    prev = None
    for d in list(labels) + [default]:
        if d != prev and d < k:
            leaves[k - d] = leaves.get(k - d, 0) + 1
        prev = d
    others: Dict[int, int] = {}
    terms: Dict[int, int] = {}
    own: Dict[int, List[Tuple[int, int]]] = {}
    for m in range(k, 1, -1):
        start, stop = partner[j0 + m - 1] + 1, partner[j0 + m - 2]
        refs, term = _exits(body, start, stop)
        terms[m] = term
        own[m] = [(i, r) for i, r in refs if r < m - 1]
        for _i, r in own[m]:
            others[m - 1 - r] = others.get(m - 1 - r, 0) + 1
    inline: Dict[int, Tuple[int, int]] = {}
    loops = set()
    for m in range(k, 1, -1):
        term = terms[m]
        # (its branches to other cases' blocks: only a br ending it)
        tail = all(i == term and body[i][0] == 0x0C for i, _r in own[m])
        if (leaves.get(m) == 1 and not others.get(m) and term >= 0
                and (m == k or terms[m + 1] >= 0) and tail):
            inline[m] = (partner[j0 + m - 1] + 1, partner[j0 + m - 2])
        elif not tail:
            loops.add(m)
    if not inline:
        return None
    return _Switch(bt, inline, len(inline) < k - 1, loops)


# Comparison instructions as Python conditions (operands parenthesized).
_CMP: Dict[str, str] = {}
for _t, _sign in (("i32", 0x80000000), ("i64", 0x8000000000000000)):
    for _n, _o in (("eq", "=="), ("ne", "!="), ("lt_u", "<"), ("gt_u", ">"), ("le_u", "<="), ("ge_u", ">=")):
        _CMP[f"{_t}.{_n}"] = "{0} %s {1}" % _o
    for _n, _o in (("lt_s", "<"), ("gt_s", ">"), ("le_s", "<="), ("ge_s", ">=")):
        _CMP[f"{_t}.{_n}"] = "S%d:%s" % (_sign, _o)   # special: signed compare
for _t in ("f32", "f64"):
    for _n, _o in (("eq", "=="), ("ne", "!="), ("lt", "<"), ("gt", ">"), ("le", "<="), ("ge", ">=")):
        _CMP[f"{_t}.{_n}"] = "{0} %s {1}" % _o

# Numeric instructions that may trap: their result is evaluated at once.
_TRAPPING = frozenset(
    n for n in num.INLINE
    if any(n.endswith(s) for s in (".div_s", ".div_u", ".rem_s", ".rem_u")) and n[0] == "i"
    or (".trunc_f" in n)
)

# integer operators whose result modulo 2**N depends only on the operands modulo 2**N
_RAW_OPS: Dict[str, str] = {}
for _t in ("i32", "i64"):
    for _n, _o in (("add", "+"), ("sub", "-"), ("mul", "*"), ("and", "&"), ("or", "|"), ("xor", "^"),
                   ("shl", "<<")):
        _RAW_OPS["%s.%s" % (_t, _n)] = _o
# integer-only instructions folded when every operand is a literal
_FOLDABLE = frozenset(
    n for n, f in num.FUNCTIONS.items()
    if n[0] == "i" and ".trunc" not in n and ".reinterpret" not in n and ".convert" not in n
    and n not in _TRAPPING and not n.startswith(("f",)) and n.split(".")[1][0] != "f"
)

def _grow_mask(t: Any) -> str:
    """memory.grow/table.grow's result mask: -1 is all ones of the address type."""
    return "0xFFFFFFFFFFFFFFFF" if getattr(t, "address_type", I32) == I64 else "0xFFFFFFFF"


# memory access: op -> (struct helper name, post-processing template, natural size)
_LOADS: Dict[int, Tuple[str, str]] = {
    0x28: ("_lI", "{0}"), 0x29: ("_lQ", "{0}"),
    0x2A: ("_lI", "F32"), 0x2B: ("_ld", "{0}"),
    0x2C: ("_lb", "({0} & 0xFFFFFFFF)"), 0x2D: ("IDX", "{0}"),
    0x2E: ("_lh", "({0} & 0xFFFFFFFF)"), 0x2F: ("_lH", "{0}"),
    0x30: ("_lb", "({0} & 0xFFFFFFFFFFFFFFFF)"), 0x31: ("IDX", "{0}"),
    0x32: ("_lh", "({0} & 0xFFFFFFFFFFFFFFFF)"), 0x33: ("_lH", "{0}"),
    0x34: ("_li", "({0} & 0xFFFFFFFFFFFFFFFF)"), 0x35: ("_lI", "{0}"),
}
_STORES: Dict[int, Tuple[str, str]] = {
    0x36: ("_sI", "{0}"), 0x37: ("_sQ", "{0}"),
    0x38: ("_sI", "F32"), 0x39: ("_sd", "{0}"),
    0x3A: ("IDX", "({0} & 0xFF)"), 0x3B: ("_sH", "({0} & 0xFFFF)"),
    0x3C: ("IDX", "({0} & 0xFF)"), 0x3D: ("_sH", "({0} & 0xFFFF)"),
    0x3E: ("_sI", "({0} & 0xFFFFFFFF)"),
}


# zero-extending loads: op -> the width of the value
_NARROW_LOADS = {0x2D: 8, 0x2F: 16, 0x31: 8, 0x33: 16, 0x35: 32}


# Loads and stores through typed memoryviews (MemoryInstance.views): op -> (struct
# format, size, post/pre-processing as in _LOADS/_STORES).  ``V[a & (n-1)][a >> k]``
# costs about 20% less than struct's unpack_from/pack_into on CPython; on PyPy,
# whose JIT sees through struct, views are several times slower, and on big-endian
# hosts native views have the wrong byte order: there the struct scheme stays.
_VIEW_LOADS: Dict[int, Tuple[str, str]] = {
    0x28: ("I", "{0}"), 0x29: ("Q", "{0}"), 0x2A: ("I", "F32"), 0x2B: ("d", "{0}"),
    0x2E: ("h", "({0} & 0xFFFFFFFF)"), 0x2F: ("H", "{0}"),
    0x32: ("h", "({0} & 0xFFFFFFFFFFFFFFFF)"), 0x33: ("H", "{0}"),
    0x34: ("i", "({0} & 0xFFFFFFFFFFFFFFFF)"), 0x35: ("I", "{0}"),
}
_VIEW_STORES: Dict[int, str] = {
    0x36: "I", 0x37: "Q", 0x38: "I", 0x39: "d", 0x3B: "H", 0x3D: "H", 0x3E: "I",
}
_VIEW_SIZES = {"I": 4, "i": 4, "Q": 8, "d": 8, "H": 2, "h": 2}
# instructions that may come between a load and a store reusing its view and index
# (FunctionGenerator.rmw_end): no control flow, calls, memory.grow, table or
# prefixed instructions
_STRAIGHT = frozenset([0x1A, 0x1B, 0x20, 0x21, 0x22, 0x23, 0x24, 0x3F]
                      + list(range(0x28, 0x3F)) + list(range(0x41, 0xC5)))
# CPython: ``x % 2**N`` is cheaper than ``x & (2**N - 1)`` for the small non-negative
# values of pointer and counter arithmetic (a remainder of an int shorter than the
# modulus is the int itself); PyPy's JIT prefers the mask
REMAINDER_MASKS = sys.implementation.name == "cpython"


def _small(c: int, n: int) -> bool:
    """Whether N-bit literal ``c`` is small (below 2**16) as a signed number."""
    return (c if c < 1 << (n - 1) else (1 << n) - c) < 1 << 16


MEMORY_VIEWS = (sys.implementation.name == "cpython" and sys.byteorder == "little"
                and all(struct.calcsize(f) == n for f, n in _VIEW_SIZES.items()))


def _branch_facts(body: List[Tuple[int, Any]], block_types: Any) -> Tuple[Set[int], Set[int]]:
    """``(targeted, nestable)``: the indices of the block/loop/if instructions some
    branch targets (a branch in unreachable code counts too); and those of the
    targeted blocks without results that only ``br`` and at most MAX_NEST ``br_if``
    at their own top level (label 0) branch to.  Such a block needs no one-shot
    loop: ``br_if`` becomes ``if not cond:`` around the rest of the block, ``br``
    ends that rest."""
    out = set()
    bad = set()              # targeted otherwise
    nbr_if: Dict[int, int] = {}
    stack: List[int] = [-1]
    for i, (op, imm) in enumerate(body):
        if op in _BRANCHING:
            for lab in _branch_labels(op, imm):
                if lab < len(stack):
                    t = stack[-1 - lab]
                    out.add(t)
                    if lab or (op != 0x0C and op != 0x0D):
                        bad.add(t)
                    elif op == 0x0D:   # (a br_if to its own block's label)
                        nbr_if[t] = nbr_if.get(t, 0) + 1
        if op in _OPENERS:
            stack.append(i)
        elif op == 0x0B or op == 0x18:   # (delegate closes a legacy try)
            if len(stack) > 1:
                stack.pop()
    nestable = {j for j in out - bad
                if j >= 0 and body[j][0] == 0x02 and not block_types[j][1] and nbr_if.get(j, 0) <= MAX_NEST}
    return out, nestable


# operators after which a straight-line run of fuel charging ends (see _FuelPlan);
# ``end`` is decided per construct, ``loop`` starts a run at its header
_BR_ON_CAST = ops.fb(24)
_BR_ON_CAST_FAIL = ops.fb(25)
_RUN_ENDS = frozenset((0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x0D, 0xD5, 0xD6, 0x04, 0x05, 0x0C,
                       _BR_ON_CAST, _BR_ON_CAST_FAIL,
                       0x0E, 0x0F, 0x00, 0x03,
                       0x08, 0x0A))   # (throw, throw_ref: no run goes on after them)
# tail calls (calls of every kind: limits.calls_out)
TAIL_CALL_OPS = frozenset((0x12, 0x13, 0x15))


def has_tail_calls(body: List[Tuple[int, Any]], self_index: Optional[int] = None) -> bool:
    """Whether a body contains a tail call (its function then gets a trampoline).
    With ``self_index`` (the function's index, when it is compiled without fuel or
    interruption), ``return_call`` of itself does not count: that is a loop."""
    tail = TAIL_CALL_OPS
    # (a set of the opcodes first: most bodies have none, and building it costs
    # less than a generator step per instruction; the tier asks for every body)
    if tail.isdisjoint({op for op, _ in body}):
        return False
    if self_index is None:
        return True
    return any(op in tail and (op != 0x12 or imm != self_index) for op, imm in body)


class _FuelPlan:
    """Where a function charges fuel (``RuntimeConfig(consume_fuel=True)``; the rule is
    in engine/limits.py).

    The body is cut into *runs*: straight-line code that ends after a call (the
    callee's entry check must see everything before it charged), a branch, an
    ``if``/``else``, the ``end`` of an ``if`` or of a branched-to block (joins), and
    before a loop header (a check point).  A run is charged in one statement when
    it starts.  Runs are chained into *traces* charged at once: the fall-through
    run of a ``br_if`` to a block (branches forward are usually not taken: the taken
    path gives it back, ``refund``) and the ``then`` run of an ``if`` with an
    ``else`` (the ``else`` path charges the difference).  No check point lies
    inside a trace, so every check point and every return sees exactly the
    executed operators charged.

    ``trace(p)``: what the trace starting at body index ``p`` costs;
    ``charge_at``: body index -> amount charged before translating it (trace
    starts other than loop headers and the function start; ``else`` bodies);
    ``refund``: ``br_if`` index -> amount its taken path gives back."""

    def __init__(self, body: List[Tuple[int, Any]], info: Any, targeted: Any,
                 lengths: Dict[int, Optional[int]]) -> None:
        free = _FREE_OPS
        # bulk operators' lengths: constant ones cost with the operator; a dynamic one
        # is charged and checked after it, so it ends its run
        self.dynamic = {i for i, v in lengths.items() if v is None}
        run_cost: Dict[int, int] = {}
        run_end: Dict[int, int] = {}
        merge: Set[int] = set()            # ops whose following run joins the trace
        else_if: Dict[int, int] = {}  # else index -> its if's index
        loops: Set[int] = set()
        ends: List[int] = []          # boundaries whose next op starts a charged trace
        ctl: List[Tuple[int, int]] = [(3, -1)]   # (kind: 0 block, 1 loop, 2 if, 3 func, opener)
        else_of = info.else_of
        start = 0
        acc = 0
        for i, (op, imm) in enumerate(body):
            if op not in free:
                acc += 1
            boundary = op in _RUN_ENDS
            if i in lengths:
                n = lengths[i]
                if n is None:
                    boundary = True
                else:
                    acc += n
            if op == 0x02 or op == 0x1F:
                ctl.append((0, i))
            elif op == 0x03:
                ctl.append((1, i))
                loops.add(i + 1)
            elif op == 0x04:
                ctl.append((2, i))
                if else_of.get(i, -1) >= 0:
                    merge.add(i)
            elif op == 0x05:
                else_if[i + 1] = ctl[-1][1]
            elif op == 0x0B:
                kind, opener = ctl.pop() if len(ctl) > 1 else ctl[0]
                boundary = kind == 2 or kind == 3 or (kind == 0 and opener in targeted)
            elif op == 0x0D:
                if imm < len(ctl) and ctl[-1 - imm][0] != 1:
                    merge.add(i)
            if boundary:
                run_cost[start] = acc
                run_end[start] = i
                if i not in merge:
                    ends.append(i)
                start = i + 1
                acc = 0
        run_cost[start] = acc
        run_end[start] = len(body)
        self.run_cost = run_cost
        self.run_end = run_end
        self.merge = merge
        self._trace: Dict[int, int] = {}
        for p in sorted(run_cost, reverse=True):
            e = run_end[p]
            t = run_cost[p]
            if e in merge and e + 1 in run_cost:
                t += self._trace[e + 1]
            self._trace[p] = t
        charge_at: Dict[int, int] = {}
        for e in ends:
            p = e + 1
            if p in loops or p not in run_cost:
                continue
            if p in else_if:
                charge_at[p] = self._trace[p] - self._trace[else_if[p] + 1]
            else:
                charge_at[p] = self._trace[p]
        self.charge_at = charge_at
        self.refund = {e: self._trace[e + 1] for e in merge if body[e][0] == 0x0D and e + 1 in run_cost}

    def trace(self, p: int) -> int:
        return self._trace.get(p, 0)


# instructions after which code may run without everything before it having run
# (branches, conditionals, handlers, returns; blocks, loops and ends fall through)
_NOT_STRAIGHT = _BRANCHING | {0x00, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0F, 0x12, 0x13, 0x15,
                               0x18, 0x19}


def _set_first(body: List[Tuple[int, Any]], first: int, stop: int) -> Set[int]:
    """The locals ``first <= i < stop`` first mentioned by a ``local.set``/``local.tee``
    in the straight-line start of ``body`` (before any branch or conditional): every
    read of them comes after that assignment on every path, so they need no
    initial value."""
    out = set()
    seen = set()
    for op, imm in body:
        if op == 0x20 or op == 0x21 or op == 0x22:
            if imm not in seen:
                seen.add(imm)
                if op != 0x20 and first <= imm < stop:
                    out.add(imm)
        elif op in _NOT_STRAIGHT:
            break
    return out


# numeric instructions taking two operands / one operand to one result (for the
# operand stack _address_bases follows)
_BINARY_NUMERIC = frozenset(list(range(0x46, 0x50)) + list(range(0x51, 0x67)) + list(range(0x6A, 0x79))
                            + list(range(0x7C, 0x8B)) + list(range(0x92, 0x99)) + list(range(0xA0, 0xA7)))
_UNARY_NUMERIC = frozenset([0x45, 0x50] + list(range(0x67, 0x6A)) + list(range(0x79, 0x7C))
                           + list(range(0x8B, 0x92)) + list(range(0x99, 0xA0)) + list(range(0xA7, 0xC5)))


def _address_bases(body: List[Tuple[int, Any]]) -> Dict[int, Set[int]]:
    """The locals worth keeping split into ``l // n`` and ``l & (n-1)`` beside their
    value (FunctionGenerator.split_access), each with the view sizes ``n`` of the
    accesses through it: at least two loads or stores of one size take as their
    address the local, or the local plus literals and a shifted index
    (FunctionGenerator.affine: C's ``p->field`` and ``p[i]`` through a pointer or
    the frame pointer), and at least twice as many as there are assignments to it
    (each assignment computes the parts again).  The operand stack is followed
    through straight-line numeric code only, which is where addresses are made."""
    writes: Dict[int, int] = {}
    uses: Dict[Tuple[int, int], int] = {}
    # per operand: the base local of an address form, -1 a literal, -2 a shifted
    # index, None anything else
    stack: List[Optional[int]] = []
    pop = stack.pop
    push = stack.append
    for op, imm in body:
        if op == 0x20:
            push(imm)
        elif op == 0x41:
            push(-1)
        elif op == 0x6A:
            y = pop() if stack else None
            x = pop() if stack else None
            if x is None or y is None or (x >= 0 and y >= 0):
                push(None)
            else:
                push(x if x >= 0 else y if y >= 0 else -2 if -2 in (x, y) else -1)
        elif op == 0x74 or op == 0x6C:
            y = pop() if stack else None
            x = pop() if stack else None
            push(-2 if y == -1 and x is not None else None)
        elif op in _LOADS or op in _STORES:
            if op in _STORES and stack:
                pop()
            a = pop() if stack else None
            if a is not None and a >= 0:
                fmt = _VIEW_LOADS[op][0] if op in _VIEW_LOADS else _VIEW_STORES.get(op)
                if fmt is not None and imm[1] % _VIEW_SIZES[fmt] == 0:
                    key = (a, _VIEW_SIZES[fmt])
                    uses[key] = uses.get(key, 0) + 1
            if op in _LOADS:
                push(None)
        elif op == 0x21 or op == 0x22:
            writes[imm] = writes.get(imm, 0) + 1
            if stack:
                pop()
            if op == 0x22:
                push(imm)   # (the local's new value, as local.get would push it)
        elif op in _BINARY_NUMERIC:
            if stack:
                pop()
            if stack:
                pop()
            push(None)
        elif op in _UNARY_NUMERIC:
            if stack:
                pop()
            push(None)
        elif 0x42 <= op <= 0x44 or op == 0x23:
            push(None)
        elif op == 0x1A and stack:
            pop()
        else:
            stack.clear()
    bases: Dict[int, Set[int]] = {}
    for (local, size), count in uses.items():
        if count >= 2 and count >= 2 * writes.get(local, 0):
            bases.setdefault(local, set()).add(size)
    return bases


class FunctionGenerator:
    """Generates the Python source of one defined function."""

    def __init__(self, module: Module, index: int, func_types: List[int], max_depth: int,
                 back_edge_hook: Optional[str] = None, fuel: bool = False,
                 interrupt: bool = False, tail_funcs: Optional[Callable[[int], bool]] = None,
                 listen: bool = False) -> None:
        self.module = module
        # function listeners on (engine/listen.py): a self tail call stays a call
        self.listen = listen
        # whether defined function k (module.funcs index) contains tail calls
        self.tail_funcs = tail_funcs or (lambda k: has_tail_calls(
            module.funcs[k].body, None if fuel or interrupt or listen else self.nimp + k))
        # None, or (a function with tail calls) the functions whose tail entries
        # ``f<k>_t`` it reads
        # execution limits (engine/limits.py): charge fuel / test the interrupt flag,
        # both free variables (closure cells) of the generated function
        self.fuel = fuel
        self.interrupt = interrupt
        self.fplan: Optional[_FuelPlan] = None
        self.fv = "_fuel"   # where the remaining fuel is read and charged
        self.index = index                      # in module.funcs
        self.func_types = func_types
        self.nimp = len(func_types) - len(module.funcs)
        self.fidx = self.nimp + index           # in the function index space
        self.max_depth = max_depth
        self.back_edge_hook = back_edge_hook
        # annotate: line index -> wasm instructions translated before that line
        self.notes: Optional[Dict[int, List[Any]]] = None
        # notes hold body indices instead (line_origins)
        self.record = False
        self.lines: List[str] = []
        self.ind = 1
        self.stack: List[_E] = []
        self.ctl: List[_Ctl] = []
        self.pyloops: List[_Ctl] = []
        self.ntemp = 0
        self.ncid = 0
        self.uses_br = False
        self.callees: Set[int] = set()
        self.tail: Optional[Set[int]] = None
        # lines (indices in self.lines) of tail calls made as plain calls: a trap's
        # wasm stack leaves this frame out there, as the frame is gone in wasm
        self.plain_tail_lines: List[int] = []
        # the Python loop around the body of a function tail-calling itself
        self.selfloop: Optional[_Ctl] = None
        self.consts: Dict[str, Any] = {}
        # loads and stores through typed memoryviews (see _VIEW_LOADS)
        self.views = MEMORY_VIEWS
        # (local, view format, memory, offset, load index, end, view name, index
        # name) of the last load whose view and index a store may reuse (rmw_end)
        self.rmw: Optional[Tuple[int, str, int, int, int, int, str, str]] = None
        # locals kept split for addressing (_address_bases): local -> view sizes
        self.bases: Dict[int, Set[int]] = {}
        self.reachable = True
        gtypes = module.global_types()
        self.global_mut = [g.mutable for g in gtypes]
        # exception handling: the payload size of each tag; Python try statements
        # open (they count towards Python's limit of nested blocks with the loops)
        self.tag_params = [len(module.types[t].params) for t in module.tag_types()]
        self.ntry = 0
        self.nexc = 0
        self.nhandler = 0
        self.deleg_out = False   # a delegate sends an exception to the caller
        # translate()'s state between instructions: blocks waiting for the construct
        # they alias, the block chain being opened, how many chains were made
        self.pending: List[_Ctl] = []
        self.chain_open: Optional[_Chain] = None
        self.nchains = 0
        # switch lowering (_Switch) and blocks without loops (_branch_facts): on unless a
        # retry without them; whether used; the chain whose dispatch tree is being
        # emitted
        self.nesting = True
        self.used_nesting = False
        self.switch: Optional[_Chain] = None


    # -- emission helpers -------------------------------------------------------------
    def emit(self, s: str) -> None:
        self.lines.append(" " * self.ind + s)

    def temp(self) -> str:
        self.ntemp += 1
        return "t%d" % self.ntemp

    def const_name(self, value: Any) -> str:
        name = "_k%d_%d" % (self.fidx, len(self.consts))
        self.consts[name] = value
        return name

    def fconst(self, x: float) -> _E:
        if math.isfinite(x):
            r = repr(x)
            return _E(r if not r.startswith("-") else "(%s)" % r, K_CONST)
        return _E(self.const_name(x), K_CONST)

    def push(self, e: _E) -> None:
        self.stack.append(e)

    def pop(self) -> _E:
        return self.stack.pop()

    @staticmethod
    def cond_of(e: _E) -> str:
        return e.cond if e.cond is not None else e.expr

    def materialize(self, e: _E) -> None:
        if e.kind == K_CONST or e.kind == K_VAR:
            return
        t = self.temp()
        self.emit("%s = %s" % (t, e.expr))
        e.expr = t
        e.kind = K_VAR
        e.locs = _EMPTY
        e.cond = None
        e.raw = None

    def retarget(self, e: _E, name: str) -> bool:
        """When ``e`` is a temporary that the last emitted line assigns (a load's,
        a call's or a global's value) and no other stack entry mentions it, make that
        line start with ``name`` (``"l3 = "``, ``"return "``) instead of ``"t<k> = "``
        and return True: ``local.set`` or ``return`` of such a value then costs no
        extra store and load."""
        t = e.expr
        if e.kind != K_VAR or t[0] != "t" or not self.lines:
            return False
        lines = self.lines
        pad = " " * self.ind
        head = pad + t + " = "
        line = lines[-1]
        if line.startswith(head):
            heads: Tuple[Tuple[int, str], ...] = ((-1, head),)
        else:
            # (a guarded memory access: both of its statements)
            heads = ((-2, pad + "try: " + t + " = "), (-1, pad + "except IndexError: " + t + " = "))
            if len(lines) < 2 or not (line.startswith(heads[1][1]) and lines[-2].startswith(heads[0][1])):
                return False
        for o in self.stack:
            if o is not e and (_mentions(o.expr, t) or (o.raw is not None and _mentions(o.raw, t))):
                return False
        for k, h in heads:
            lines[k] = h[:-len(t) - 3] + name + lines[k][len(h):]
        return True

    def simple(self, e: _E) -> None:
        """Make ``e`` safe to mention several times in one expression."""
        if e.kind == K_EXPR:
            self.materialize(e)

    def push_expr(self, expr: str, locs: FrozenSet[int], cond: Optional[str] = None, pure: bool = True) -> _E:
        e = _E(expr, K_EXPR, locs, cond)
        if not pure or len(expr) > MAX_EXPR:
            self.materialize(e)
        self.stack.append(e)
        return e

    def push_effect(self, expr: str) -> _E:
        """Evaluate ``expr`` now into a temporary and push it."""
        t = self.temp()
        self.emit("%s = %s" % (t, expr))
        e = _E(t, K_VAR)
        self.stack.append(e)
        return e

    # -- control ------------------------------------------------------------------------
    def open_try(self, c: _Ctl, targeted: bool) -> None:
        """Open the Python ``try:`` of a try_table (kind 5) or legacy try (6, 7 with
        delegate) whose control entry is ``c``."""
        self.nhandler += 1
        c.hid = self.nhandler
        self.ctl.append(c)
        if targeted:
            self.open_pyloop(c)
        self.ntry += 1
        self.open_block("try:")
        c.mark = len(self.lines)

    def open_pyloop(self, c: _Ctl) -> None:
        self.ncid += 1
        c.cid = self.ncid
        c.pyloop = True
        self.pyloops.append(c)
        self.open_block("while True:")

    def open_block(self, header: str) -> None:
        """Emit ``header`` (a ``while``/``try`` just counted) and indent, within
        CPython's limits on nested blocks and indentation."""
        if len(self.pyloops) + self.ntry > MAX_PY_LOOPS:
            raise TooComplex("too many nested loops")
        self.emit(header)
        self.ind += 1
        if self.ind > MAX_INDENT:
            raise TooComplex("too deeply nested")

    def close_pyloop(self, c: _Ctl, dead: bool = False) -> None:
        """End the ``while True`` of ``c`` (the current indentation is its body's);
        ``dead``: its body's end is unreachable (no ``break`` needed there)."""
        if not dead:
            self.emit("break")
        self.ind -= 1
        self.pyloops.pop()
        if c.escapes:
            outer = self.pyloops[-1] if self.pyloops else None
            assert outer is not None
            esc = c.escapes
            mine = sorted((e for e in esc if e[0] is outer), key=lambda e: e[1])
            others = {e for e in esc if e[0] is not outer}
            if len(mine) == 1 and not others:
                self.emit("if _br:")
                self.emit(" _br = 0")
                self.emit(" " + mine[0][1])
            else:
                for t, jump in mine:
                    self.emit("if _br == %d:" % (t.cid * 2 + (jump == "continue")))
                    self.emit(" _br = 0")
                    self.emit(" " + jump)
                if others:
                    self.emit("if _br:")
                    self.emit(" break")
                    outer.escapes |= others

    def enter(self, nparams: int) -> None:
        """Prepare the stack for entering a construct with ``nparams`` params: pending
        entries below are evaluated, params move to their slot variables."""
        st = self.stack
        base = len(st) - nparams
        for e in st[:base]:
            if e.kind != K_CONST and e.kind != K_VAR:
                self.materialize(e)
        for i in range(nparams):
            e = st[base + i]
            name = "s%d" % (base + i)
            if e.expr != name:
                self.emit("%s = %s" % (name, e.expr))
                st[base + i] = _E(name, K_VAR)

    def move_results(self, height: int, n: int) -> None:
        """Assign the top ``n`` entries to the slots ``s<height>``..."""
        st = self.stack
        src = len(st) - n
        for i in range(n):
            e = st[src + i]
            name = "s%d" % (height + i)
            if e.expr != name:
                self.emit("%s = %s" % (name, e.expr))

    def branch(self, depth: int) -> None:
        """Emit the code of an unconditional branch to label ``depth`` (the values it
        carries are on top of the compile-time stack, which is left unchanged)."""
        c = self.ctl[-1 - depth]
        if c.kind == 3:
            self.emit_return()
            return
        n = c.nparams if c.kind == 1 else c.nresults
        self.move_results(c.height, n)
        if c.nest >= 0:
            # (a br at the block's top level) the rest of the block is dead: on at
            # its end
            self.emit("pass")
            return
        if c.chain is not None:
            ch = c.chain
            if ch.segment is None:
                # a switch's dispatch tree, inlined case or guarded case without a
                # loop, in tail position: falls out into the guarded cases
                if ch.plan is not None and ch.plan.guarded:
                    self.emit("%s = %d" % (ch.var, c.level))
                else:
                    self.emit("pass")
                return
            self.emit("%s = %d" % (ch.var, c.level))
            c = ch.segment
            jump = "break"
        elif c.alias is not None:
            c = c.alias
            jump = "break"
        else:
            jump = "continue" if c.kind == 1 else "break"
        inner = self.pyloops[-1]
        if inner is c:
            self.emit(jump)
        else:
            self.uses_br = True
            inner.escapes.add((c, jump))
            self.emit("_br = %d" % (c.cid * 2 + (jump == "continue")))
            self.emit("break")

    @property
    def store_fuel(self) -> str:
        """Statement prefix storing a local fuel count back into the cell."""
        return "_fuel = _f; " if self.fv == "_f" else ""

    def refuel(self, need: int) -> str:
        """The statement run when a check point's test of the fuel count fails
        (``ExecutionLimits.refill``: trap, or move fuel from the reserve)."""
        if self.fv == "_f":
            return "_fuel = _f; _f = _refuel(%d)" % need
        return "_refuel(%d)" % need

    def emit_return(self) -> None:
        if self.fv == "_f":
            self.emit("_fuel = _f")
        n = self.nresults
        st = self.stack
        if n == 0:
            self.emit("return")
        elif n == 1:
            e = st[-1]
            if not self.retarget(e, "return "):
                self.emit("return " + e.expr)
        else:
            self.emit("return (%s)" % ", ".join(e.expr for e in st[len(st) - n:]))

    # -- main ---------------------------------------------------------------------------
    def generate(self) -> List[str]:
        module = self.module
        func = module.funcs[self.index]
        ftype = module.types[func.type_index]
        self.nresults = len(ftype.results)
        nparams = len(ftype.params)
        ltypes = list(ftype.params) + func.local_types()
        body = func.body
        info = func.info
        if info is None:
            info = function_info(module, self.index)
        partner = info.partner
        catches_of = info.catches
        else_of = info.else_of
        block_types = info.block_types
        heights = info.heights
        # Which constructs are branched to (they become Python loops): the one fact
        # found here by a scan, as the validator does not record branch targets.
        # (try_table's catch clauses branch too)
        targeted, nestable = (_branch_facts(body, block_types)
                              if info.branch_heights or any(op == 0x1F for op, _ in body)
                              else (_EMPTY, _EMPTY))
        # legacy exception handling: fuel counting through legacy handlers is left to
        # the interpreter
        if self.fuel and any(op in _LEGACY_EH for op, _ in body):
            raise TooComplex("legacy exception handling with fuel runs on the interpreter")
        fctl = _Ctl(3, 0, 0, self.nresults)
        self.ctl.append(fctl)
        # past the shallow depth only the frame that crosses it (to raise the recursion
        # limit) and one past the engine's maximum (_MAXD: to trap) call out
        self.emit("if _d > %d and (_d == %d or _d > _MAXD): _exhausted(_d)"
                  % (self.max_depth, self.max_depth + 1))
        fplan: Optional[_FuelPlan] = None
        charge_at: Dict[int, int] = {}
        if self.fuel:
            fplan = self.fplan = _FuelPlan(body, info, targeted, length_charges(module, self.index))
            charge_at = fplan.charge_at
            first = fplan.trace(0)
            # wasmtime's entry check: charge 1, trap if nothing is left; the first
            # straight-line run is charged in the same statement
            if not calls_out(body):
                # no calls: nothing can look at the fuel while this runs, so it is
                # kept in a local (cheaper than the cell) and stored back on return
                # and on exhaustion (after another trap the cell lags behind)
                self.fv = "_f"
                self.emit("_f = _fuel - %d" % (first + 1))
                self.emit("if _f <= %d: _fuel = _f; _f = _refuel(%d)" % (-first, first))
            else:
                self.emit("if (_fuel := _fuel - %d) <= %d: _refuel(%d)" % (first + 1, -first, first))
        if self.interrupt and calls_out(body):
            # (a function that calls none runs for a bounded time between its loops'
            # checks; ExecutionLimits.enter checks calls from Python)
            self.emit("if _intr: %s_interrupted()" % self.store_fuel)
        br_line = len(self.lines)
        if not (self.fuel or self.interrupt or self.listen) and any(op == 0x12 and imm == self.fidx
                                                                    for op, imm in body):
            # return_call to itself: the body is a loop, the tail call assigns the
            # parameters and starts it over (locals re-initialised at its top).  (Not
            # with fuel or interruption, whose entry checks the trampoline keeps.)
            self.selfloop = _Ctl(1, 0, 0, 0)
            self.open_pyloop(self.selfloop)
        # locals
        groups: Dict[str, List[str]] = {}
        assigned = _set_first(body, nparams, len(ltypes))
        for i in range(nparams, len(ltypes)):
            if i in assigned:
                continue
            groups.setdefault(local_init(ltypes[i]), []).append("l%d" % i)
        for init, names in groups.items():
            for k in range(0, len(names), 32):
                self.emit(" = ".join(names[k:k + 32]) + " = " + init)
        if self.views:
            # (a local first assigned in the straight-line start is split there)
            self.bases = _address_bases(body)
            for local in sorted(self.bases):
                if local not in assigned:
                    self.split_local(local)

        self.body = body
        self.partner = partner
        self.else_of = else_of
        self.catches_of = catches_of
        self.block_types = block_types
        self.heights = heights
        self.targeted = targeted
        self.charge_at = charge_at
        self.info = info
        self.nestable = nestable
        self.translate(0, len(body))
        if self.selfloop is not None:
            self.ind = 2
            self.close_pyloop(self.selfloop)
        if self.deleg_out:
            # a delegate to the caller: its _Deleg leaves as the exception itself
            lines = self.lines
            lines[br_line:] = [" " + line for line in lines[br_line:]]
            lines.insert(br_line, " try:")
            lines.append(" except _Deleg as _dx:")
            lines.append("  raise _dx.exc")
            self.plain_tail_lines = [k + (k >= br_line) for k in self.plain_tail_lines]
            if self.notes is not None:
                self.notes = {k + (k >= br_line): v for k, v in self.notes.items()}
        if self.uses_br:
            self.lines.insert(br_line, " _br = 0")
            self.plain_tail_lines = [k + (k >= br_line) for k in self.plain_tail_lines]
            if self.notes is not None:
                self.notes = {k + (k >= br_line): v for k, v in self.notes.items()}
        return self.lines

    def translate(self, i: int, stop: int) -> int:
        """Translate ``body[i:stop]`` (stopping early at the function's end); returns
        the index where translation stopped.  Switch lowering (``gen_br_table``)
        calls it again for a case's code."""
        module = self.module
        body = self.body
        partner = self.partner
        catches_of = self.catches_of
        else_of = self.else_of
        block_types = self.block_types
        heights = self.heights
        targeted = self.targeted
        fplan = self.fplan
        charge_at = self.charge_at
        dyn: Optional[str] = None
        st = self.stack
        n = len(body)
        # (a, b, c: stack entries (_E) in some branches, control frames (_Ctl) in others)
        a: Any
        b: Any
        c: Any
        INLINE = num.INLINE
        BY_OP = ops.BY_OP
        while i < stop:
            op, imm = body[i]
            if i in charge_at:
                k = charge_at[i]
                if k:
                    self.emit("%s -= %d" % (self.fv, k) if k > 0 else "%s += %d" % (self.fv, -k))
            i += 1
            if self.notes is not None:
                self.note(op, imm, i - 1)
            if fplan is not None and i - 1 in fplan.dynamic:
                e = st[-1]
                self.simple(e)
                dyn = e.expr

            if op == 0x20:  # local.get
                st.append(_E("l%d" % imm, K_LOCAL, frozenset((imm,))))
            elif op == 0x21 or op == 0x22:  # local.set / local.tee
                e = st.pop()
                for o in st:
                    if imm in o.locs:
                        self.materialize(o)
                    if o.aff is not None and imm in o.aff[4]:
                        o.aff = None
                name = "l%d" % imm
                if e.expr != name and not self.retarget(e, name + " = "):
                    self.emit("%s = %s" % (name, e.expr))
                if imm in self.bases:
                    self.split_local(imm)
                if op == 0x22:
                    st.append(_E(name, K_LOCAL, frozenset((imm,))))
            elif op == 0x41:
                st.append(_E(str(imm & _M32), K_CONST))
            elif op == 0x42:
                st.append(_E(str(imm & _M64), K_CONST))
            elif op == 0x43:
                st.append(self.fconst(num.f32_from_bits(imm)))
            elif op == 0x44:
                st.append(self.fconst(num.f64_from_bits(imm)))
            elif op in _LOADS:
                self.gen_load(op, imm, i - 1)
            elif op in _STORES:
                self.gen_store(op, imm, i - 1)
            elif op == 0x0D:  # br_if
                c = st.pop()
                k = fplan.refund.get(i - 1) if fplan is not None else 0  # type: ignore[assignment]  # (None: no refund; tested as a truth value)
                t = self.ctl[-1 - imm]
                if t.nest >= 0:
                    # (imm is 0) the rest of the block runs when the branch is not
                    # taken
                    if k:   # the fall-through run was charged with this one
                        self.emit("if %s:" % self.cond_of(c))
                        self.emit(" %s += %d" % (self.fv, k))
                        self.emit("else:")
                    else:
                        self.emit("if not (%s):" % self.cond_of(c))
                    self.ind += 1
                    if self.ind > MAX_INDENT:
                        raise TooComplex("too deeply nested")
                    t.nest += 1
                    t.nmark = len(self.lines)
                else:
                    self.emit("if %s:" % self.cond_of(c))
                    self.ind += 1
                    if k:   # the fall-through run was charged with this one
                        self.emit("%s += %d" % (self.fv, k))
                    self.branch(imm)
                    self.ind -= 1
            elif op == 0x0C:  # br
                self.branch(imm)
                i = self.skip_dead(i, partner, else_of)
            elif op == 0x02 or op == 0x03:  # block / loop
                j = i - 1
                bp, br = block_types[j]
                p = len(bp)
                r = len(br)
                self.enter(p)
                c = _Ctl(0 if op == 0x02 else 1, heights[j], p, r, j)
                self.ctl.append(c)
                if self.chain_open is None and op == 0x02 and not self.pending:
                    run = 1
                    while i - 1 + run < n and body[i - 1 + run][0] == 0x02:
                        run += 1
                    plan = (_switch_plan(body, self.info, j, run)
                            if run >= 2 and self.nesting else None)
                    if run >= CHAIN_MIN or plan is not None:
                        self.nchains += 1
                        self.chain_open = _Chain("_p%d" % self.nchains, run, plan)
                        if plan is not None:
                            self.used_nesting = True
                if self.chain_open is not None:
                    ch = self.chain_open
                    ch.opened += 1
                    c.chain = ch
                    c.level = ch.opened
                    if ch.opened == ch.size:
                        if ch.plan is None:
                            # the innermost body: first segment
                            self.emit("%s = %d" % (ch.var, ch.size))
                            seg = _Ctl(0, len(st), 0, 0)
                            self.open_pyloop(seg)
                            ch.segment = seg
                        # (a switch: no segment until its guarded cases)
                        self.chain_open = None
                elif j in targeted and j in self.nestable and not self.pending and self.nesting:
                    c.nest = 0
                    self.used_nesting = True
                elif self.pending or j in targeted:
                    nxt = body[i][0] if i < n else None
                    if op == 0x02 and (nxt == 0x02 or nxt == 0x03) and partner[i] + 1 == partner[j]:
                        bp, br = block_types[i]
                        alias = len(bp) == p and len(br) == r
                    else:
                        alias = False
                    if alias:
                        self.pending.append(c)
                    else:
                        self.open_pyloop(c)
                        for b in self.pending:
                            b.alias = c
                        del self.pending[:]
                        if op == 0x03:
                            self.back_edge(c)
                if op == 0x03 and fplan is not None:
                    # check point: trap if nothing is left before the body's first run
                    # (charged in the same statement)
                    k = fplan.trace(i)
                    if k:
                        self.emit("if (%s := %s - %d) <= %d: %s" % (self.fv, self.fv, k, -k, self.refuel(k)))
                    else:
                        self.emit("if %s <= 0: %s" % (self.fv, self.refuel(0)))
                c.mark = len(self.lines)
            elif op == 0x04:  # if
                cnd = st.pop()
                j = i - 1
                bp, br = block_types[j]
                p = len(bp)
                r = len(br)
                if cnd.kind == K_EXPR:
                    # the condition must not see the param moves
                    needs = any(o.locs & cnd.locs for o in st) or p
                    if needs:
                        self.materialize(cnd)
                self.enter(p)
                c = _Ctl(2, heights[j], p, r, j)
                self.ctl.append(c)
                if j in targeted:
                    self.open_pyloop(c)
                self.emit("if %s:" % self.cond_of(cnd))
                self.ind += 1
                if self.ind > MAX_INDENT:
                    raise TooComplex("too deeply nested")
                c.mark = len(self.lines)
            elif op == 0x05:  # else
                c = self.ctl[-1]
                if self.reachable:
                    self.move_results(c.height, c.nresults)
                if len(self.lines) == c.mark:
                    self.emit("pass")
                self.ind -= 1
                self.emit("else:")
                self.ind += 1
                c.mark = len(self.lines)
                del st[c.height:]
                for k in range(c.nparams):
                    st.append(_E("s%d" % (c.height + k), K_VAR))
                self.reachable = True
                c.kind = 4  # an if whose else has been seen
            elif op == 0x0B or op == 0x18:  # end, or a legacy try's delegate
                c = self.ctl.pop()
                if c.kind == 3:
                    if self.reachable:
                        self.emit_return()
                    break
                if self.reachable:
                    self.move_results(c.height, c.nresults)
                if c.kind == 2 or c.kind == 4:
                    if len(self.lines) == c.mark:
                        self.emit("pass")
                    self.ind -= 1
                elif c.kind == 5:
                    self.gen_catches(c, body[c.opener][1][1])
                elif c.kind == 7:   # delegate: on to the handler it names
                    if len(self.lines) == c.mark:
                        self.emit("pass")
                    self.ind -= 1
                    self.nexc += 1
                    x = "_x%d" % self.nexc
                    self.except_header(c, x)
                    t = self.delegate_target(imm)
                    if t is None:
                        self.deleg_out = True
                        self.emit(" raise _Deleg(%s, 0)" % x)
                    else:
                        t.delegated = True
                        self.emit(" raise _Deleg(%s, %d)" % (x, t.hid))
                    self.ntry -= 1
                elif c.kind == 6:
                    if c.branches != -2:   # the last catch's test
                        if len(self.lines) == c.mark:
                            self.emit("pass")
                        self.ind -= 1
                    if c.branches > 0:   # no catch_all: anything else goes on
                        self.emit("else:")
                        # (explicitly: what is being handled may be a _Deleg)
                        self.emit(" raise %s" % c.exc if c.delegated else " raise")
                    self.ind -= 1
                    self.ntry -= 1
                if c.nest > 0:
                    if len(self.lines) == c.nmark:
                        self.emit("pass")
                    self.ind -= c.nest
                if c.pyloop:
                    # (an if's other arm may still fall through)
                    self.close_pyloop(c, not self.reachable and (c.kind == 0 or c.kind == 1))
                skip_to = -1
                if c.chain is not None and c.chain.plan is not None:
                    ch = c.chain
                    if ch.segment is not None:
                        self.close_pyloop(ch.segment, not self.reachable)
                        ch.segment = None
                    if ch.guard >= 0:
                        if len(self.lines) == ch.guard:
                            self.emit("pass")
                        self.ind -= 1
                        ch.guard = -1
                    if c.level in ch.plan.inline:
                        # its case was translated in the dispatch tree, and ends in
                        # a jump: on at the end of the next block out
                        skip_to = partner[self.ctl[-1].opener]
                    elif c.level > 1:
                        self.emit("if %s >= %d:" % (ch.var, c.level))
                        self.ind += 1
                        if self.ind > MAX_INDENT:
                            raise TooComplex("too deeply nested")
                        ch.guard = len(self.lines)
                        if c.level in ch.plan.loops:
                            seg = _Ctl(0, c.height, 0, 0)
                            self.open_pyloop(seg)
                            ch.segment = seg
                elif c.chain is not None:
                    ch = c.chain
                    self.close_pyloop(ch.segment, not self.reachable)
                    if c.level < ch.size:
                        self.ind -= 1   # the segment's guard
                    if c.level > 1:
                        self.emit("if %s >= %d:" % (ch.var, c.level))
                        self.ind += 1
                        seg = _Ctl(0, c.height, 0, 0)
                        self.open_pyloop(seg)
                        ch.segment = seg
                del st[c.height:]
                for k in range(c.nresults):
                    st.append(_E("s%d" % (c.height + k), K_VAR))
                # Reachable after the construct: when its end was reachable, or a
                # branch targets it, or it is an if without else (the implicit else).
                self.reachable = True
                if skip_to >= 0:
                    self.reachable = False
                    i = skip_to
            elif op == 0x0E:  # br_table
                self.gen_br_table(imm, i - 1)
                i = self.skip_dead(i, partner, else_of)
            elif op == 0x0F:  # return
                self.emit_return()
                i = self.skip_dead(i, partner, else_of)
            elif op == 0x00:
                if self.fv == "_f":
                    self.emit("_fuel = _f")
                self.emit('raise Trap("unreachable")')
                i = self.skip_dead(i, partner, else_of)
            elif op == 0x01:
                pass
            elif op == 0x1F:  # try_table: a Python try statement
                j = i - 1
                bp, br = block_types[j]
                p = len(bp)
                self.enter(p)
                self.open_try(_Ctl(5, heights[j], p, len(br), j), j in targeted)
            elif op == 0x08 or op == 0x0A:  # throw / throw_ref
                if op == 0x08:
                    np_ = self.tag_params[imm]
                    vals = st[len(st) - np_:] if np_ else []
                    if np_:
                        del st[len(st) - np_:]
                    self.emit("%sraise _exn(TG%d, (%s))" % (
                        self.store_fuel, imm, "".join(e.expr + ", " for e in vals)))
                else:
                    e = st.pop()
                    self.emit("%sraise _throw_ref(%s)" % (self.store_fuel, e.expr))
                i = self.skip_dead(i, partner, else_of)
            elif op == 0x06:  # legacy try
                j = i - 1
                bp, br = block_types[j]
                p = len(bp)
                self.enter(p)
                delegating = body[partner[j]][0] == 0x18
                if not catches_of.get(j) and not delegating:
                    # try ... end without catches: a block
                    c = _Ctl(0, heights[j], p, len(br), j)
                    self.ctl.append(c)
                    if j in targeted:
                        self.open_pyloop(c)
                    c.mark = len(self.lines)
                else:
                    self.open_try(_Ctl(7 if delegating else 6, heights[j], p, len(br), j), j in targeted)
            elif op == 0x07 or op == 0x19:  # legacy catch / catch_all
                c = self.ctl[-1]
                if self.reachable:
                    self.move_results(c.height, c.nresults)
                if len(self.lines) == c.mark:
                    self.emit("pass")
                self.ind -= 1
                if c.exc is None:
                    self.nexc += 1
                    c.exc = "_c%d" % self.nexc
                    self.except_header(c, "_x%d" % self.nexc)
                    self.ind += 1
                    self.emit("%s = _x%d" % (c.exc, self.nexc))
                del st[c.height:]
                if op == 0x07:
                    self.emit("%s %s._tag is TG%d:" % ("elif" if c.branches else "if", c.exc, imm))
                    c.branches += 1
                    self.ind += 1
                    np_ = self.tag_params[imm]
                    if np_:
                        names = [self.temp() for _ in range(np_)]
                        self.emit("%s, = %s._values" % (", ".join(names), c.exc))
                        st.extend(_E(nm, K_VAR) for nm in names)
                elif c.branches:
                    self.emit("else:")
                    c.branches = -1   # (the else is the last: no raise after it)
                    self.ind += 1
                else:
                    c.branches = -2   # catch_all alone: no test, no indentation
                c.mark = len(self.lines)
                self.reachable = True
            elif op == 0x09:  # rethrow
                c = self.ctl[-1 - imm]
                self.emit("%sraise _throw_ref(%s)" % (self.store_fuel, c.exc))
                i = self.skip_dead(i, partner, else_of)
            elif op == 0x10:  # call
                ft = module.types[self.func_types[imm]]
                if imm >= self.nimp:
                    self.callees.add(imm)
                self.gen_call("f%d" % imm, ft)
            elif op == 0x11:  # call_indirect
                tidx, tab = imm
                ft = module.types[tidx]
                e = st.pop()
                self.gen_call(self.indirect_callee(tab, tidx, e), ft)
            elif op == 0x12 or op == 0x13 or op == 0x15:  # return_call(_indirect/_ref)
                self.gen_tail_call(op, imm)
                i = self.skip_dead(i, partner, else_of)
            elif op == 0x14:  # call_ref: the cache's __missing__ traps on null
                e = st.pop()
                self.gen_call("_CR[%s]" % e.expr, module.types[imm])
            elif op == 0xD4:  # ref.as_non_null
                e = st[-1]
                self.simple(e)
                self.emit("if %s is None:" % e.expr)
                self.emit('    raise Trap("null reference")')
            elif op == 0xD5:  # br_on_null: branch (dropping the null) or keep it
                e = st.pop()
                self.simple(e)
                self.emit("if %s is None:" % e.expr)
                self.ind += 1
                self.branch(imm)
                self.ind -= 1
                st.append(e)
            elif op == _BR_ON_CAST or op == _BR_ON_CAST_FAIL:  # the reference stays either way
                from ...wasm import gcops as gc

                e = st[-1]
                self.simple(e)
                test = self.const_name(gc.make_test(gc.closed_ref(imm[2], module.canonical_ids())))
                self.emit("if %s%s(%s):" % ("not " if op == _BR_ON_CAST_FAIL else "", test, e.expr))
                self.ind += 1
                self.branch(imm[0])
                self.ind -= 1
            elif op == 0xD6:  # br_on_non_null: branch with it, or drop the null
                e = st[-1]
                self.simple(e)
                self.emit("if %s is not None:" % e.expr)
                self.ind += 1
                self.branch(imm)
                self.ind -= 1
                st.pop()
            elif op == 0x1A:  # drop
                st.pop()
            elif op == 0x1B or op == 0x1C:  # select
                c = st.pop()
                b = st.pop()
                a = st.pop()
                self.push_expr("(%s if %s else %s)" % (a.expr, self.cond_of(c), b.expr), a.locs | b.locs | c.locs)
            elif op == 0x23:  # global.get
                if self.global_mut[imm]:
                    self.push_effect("G%d.value" % imm)
                else:
                    st.append(_E("g%d" % imm, K_CONST))
            elif op == 0x24:  # global.set
                e = st.pop()
                self.emit("G%d.value = %s" % (imm, e.expr))
            else:
                info = BY_OP[op]
                name = info.name
                if name in _CMP:
                    self.gen_compare(name)
                elif name == "i32.eqz" or name == "i64.eqz":
                    e = st.pop()
                    cond = "not %s" % e.expr if e.cond is None else "not (%s)" % e.cond
                    self.push_expr("(0 if %s else 1)" % self.cond_of(e), e.locs, cond).width = 1
                elif name in INLINE and op >> 16 != 0xFD:
                    self.gen_numeric(name, len(info.params))  # type: ignore[arg-type]  # (a numeric instruction has a signature)
                else:
                    self.gen_other(op, imm, info)
            if dyn is not None:
                # a dynamic length is charged once the operator succeeded, and
                # checked (engine/limits.py: length_charges)
                if op in _GROW_OPS:
                    # (a failed grow is -1 of the memory's/table's address type)
                    t = (self.module.mem_types() if op == 0x40 else self.module.table_types())[imm]
                    self.emit("if %s != %d:" % (st[-1].expr, int(_grow_mask(t), 16)))
                    self.ind += 1
                self.emit("%s -= %s" % (self.fv, dyn))
                self.emit("if %s <= 0: %s" % (self.fv, self.refuel(0)))
                if op in _GROW_OPS:
                    self.ind -= 1
                dyn = None
        return i

    def gen_catches(self, c: _Ctl, clauses: Any) -> None:
        """The ``except`` of a try_table (``c``, already popped; the try body is
        done): each catch clause in order tests the exception's tag and branches to
        its label with the payload (and the exception itself, as the exnref);
        nothing matching re-raises it."""
        st = self.stack
        if len(self.lines) == c.mark:
            self.emit("pass")
        self.ind -= 1
        self.ntry -= 1
        self.nexc += 1
        x = "_x%d" % self.nexc
        self.except_header(c, x)
        self.ind += 1
        saved = st[c.height:]
        del st[c.height:]
        was = self.reachable
        unconditional = False
        for ckind, tag, lab in clauses:
            if ckind < 2:
                self.emit("if %s._tag is TG%d:" % (x, tag))
                self.ind += 1
                n = self.tag_params[tag]
                if n:
                    names = [self.temp() for _ in range(n)]
                    self.emit("%s, = %s._values" % (", ".join(names), x))
                    st.extend(_E(nm, K_VAR) for nm in names)
            if ckind & 1:
                st.append(_E(x, K_VAR))
            self.reachable = True
            self.branch(lab)
            del st[c.height:]
            if ckind < 2:
                self.ind -= 1
            else:
                unconditional = True
                break
        if not unconditional:
            # (explicitly: what is being handled may be a _Deleg)
            self.emit("raise %s" % x if c.delegated else "raise")
        self.ind -= 1
        st.extend(saved)
        self.reachable = was

    def except_header(self, c: _Ctl, x: str) -> None:
        """The ``except`` line of handler ``c`` binding the exception to ``x``; one
        a legacy delegate sends exceptions to also takes its ``_Deleg`` (and the
        others' on their way out)."""
        if c.delegated:
            self.emit("except (_WE, _Deleg) as %s:" % x)
            self.emit(" if %s.__class__ is _Deleg:" % x)
            self.emit("  if %s.target != %d: raise" % (x, c.hid))
            self.emit("  %s = %s.exc" % (x, x))
        else:
            self.emit("except _WE as %s:" % x)

    def delegate_target(self, depth: int) -> Optional[_Ctl]:
        """The handler a ``delegate depth`` (its try already popped) sends to: the
        construct of that label if it is a handler still in its body, else the
        innermost such around it; None: the caller."""
        for c in reversed(self.ctl[:len(self.ctl) - depth]):
            if c.kind == 5 or c.kind == 7 or (c.kind == 6 and c.exc is None):
                return c
        return None

    def skip_dead(self, i: int, partner: Mapping[int, int], else_of: Mapping[int, int]) -> int:
        """After an unconditional transfer of control (``body[i - 1]``): the code up to
        the innermost open construct's ``else`` (of an ``if`` whose else is not yet
        seen) or ``end`` is dead; return that instruction's index (FunctionInfo's
        ``else_of``/``partner``), where translation resumes, not reachable."""
        self.reachable = False
        c = self.ctl[-1]
        if c.kind == 3:
            stop = len(self.module.funcs[self.index].body) - 1
        else:
            stop = -1
            if c.kind == 2:
                stop = else_of.get(c.opener, -1)
            elif c.kind == 6:   # the next catch of a legacy try, else its end
                for k in self.module.funcs[self.index].info.catches[c.opener]:  # type: ignore[union-attr]  # (validated: the function has its facts)
                    if k >= i:
                        stop = k
                        break
            if stop < 0:
                stop = partner[c.opener]
        if self.notes is not None:
            body = self.module.funcs[self.index].body
            for k in range(i, stop):
                self.note(*body[k], k)
        return stop

    def note(self, op: int, imm: Any, at: int) -> None:
        if self.record:   # (line_origins: the instruction's index, not its text)
            self.notes.setdefault(len(self.lines), []).append(at)  # type: ignore[union-attr]
            return
        text = ops.op_name(op) if imm is None else "%s %r" % (ops.op_name(op), imm)
        if not self.reachable:
            text += "  (unreachable)"
        self.notes.setdefault(len(self.lines), []).append(" " * self.ind + "# " + text)  # type: ignore[union-attr]  # (called only when annotating)

    def back_edge(self, c: _Ctl) -> None:
        """The loop header: runs once per iteration.  The single place where a fuel or
        deadline check on loop back-edges goes (``back_edge_hook``)."""
        if self.back_edge_hook:
            self.emit(self.back_edge_hook)
        if self.interrupt:
            self.emit("if _intr: %s_interrupted()" % self.store_fuel)

    # -- instruction groups ---------------------------------------------------------------
    def gen_compare(self, name: str) -> None:
        st = self.stack
        b = st.pop()
        a = st.pop()
        tpl = _CMP[name]
        if tpl.startswith("S"):
            sign_s, o = tpl[1:].split(":")
            sign = int(sign_s)
            if (b.kind == K_CONST and b.expr.isdigit()) != (a.kind == K_CONST and a.expr.isdigit()):
                self.push_expr(*self.signed_vs_const(a, b, o, sign)).width = 1
                return
            if not (b.kind == K_CONST and b.expr.isdigit()):
                # two variables: unsigned order when their signs agree, else the
                # negative one is the smaller (comparisons only: ``x ^ sign``
                # allocates a new int for each operand)
                self.simple(a)
                self.simple(b)
                x, y = a.expr, b.expr
                cond = "((%s %s %s) if (%s < %d) == (%s < %d) else (%s %s %s))" % (
                    x, o, y, x, sign, y, sign, x, ">" if o[0] == "<" else "<", y)
                self.push_expr("(1 if %s else 0)" % cond, a.locs | b.locs, cond).width = 1
                return
            if b.kind == K_CONST and b.expr.isdigit():
                rb = str(int(b.expr) ^ sign)
            else:
                rb = "(%s ^ %d)" % (b.expr, sign)
            if a.kind == K_CONST and a.expr.isdigit():
                ra = str(int(a.expr) ^ sign)
            else:
                ra = "(%s ^ %d)" % (a.expr, sign)
            cond = "%s %s %s" % (ra, o, rb)
        else:
            cond = tpl.format(a.expr, b.expr)
        self.push_expr("(1 if %s else 0)" % cond, a.locs | b.locs, cond).width = 1

    @staticmethod
    def signed_vs_const(a: _E, b: _E, o: str, sign: int) -> Tuple[str, FrozenSet[int], str]:
        """``push_expr``'s arguments for the signed comparison ``a o b`` (``o`` one of
        ``< <= > >=``, ``sign`` the sign bit) where exactly one of ``a``, ``b`` is a
        literal: a range test on the unsigned value (a chained comparison, no
        ``^ sign`` on the variable side, which allocates)."""
        if a.kind == K_CONST and a.expr.isdigit():
            a, b = b, a
            o = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}[o]
        x = a.expr
        c = int(b.expr)
        if c < sign:
            # x is negative (>= sign) or compares as unsigned
            # c <= x < sign (x >= c, not x < c), or c < x < sign (x > c, not x <= c)
            inclusive = o == "<" or o == ">="
            low = "" if inclusive and c == 0 else ("%d <= " if inclusive else "%d < ") % c
            inside = "%s%s < %d" % (low, x, sign)
            cond = inside if o[0] == ">" else "not (%s)" % inside
        else:
            # both negative: unsigned order
            upper = "< %d" % c if o == "<" or o == ">=" else "<= %d" % c
            inside = "%d <= %s %s" % (sign, x, upper)
            cond = inside if o[0] == "<" else "not (%s)" % inside
        return "(1 if %s else 0)" % cond, a.locs | b.locs, cond

    def gen_numeric(self, name: str, nargs: int) -> None:
        st = self.stack
        args = st[len(st) - nargs:]
        if name in _FOLDABLE and all(a.kind == K_CONST and a.expr.isdigit() for a in args):
            del st[len(st) - nargs:]
            st.append(_E(str(num.FUNCTIONS[name](*[int(a.expr) for a in args])), K_CONST))
            return
        if name in _RAW_OPS:
            del st[len(st) - nargs:]
            self.gen_raw_op(name, args[0], args[1])
            return
        if name[4:] in ("rotl", "rotr") and args[1].kind == K_CONST and args[1].expr.isdigit():
            del st[len(st) - nargs:]
            self.gen_rotate(name, args[0], int(args[1].expr))
            return
        del st[len(st) - nargs:]
        if name in num.NEEDS_TEMP:
            for a in args:
                self.simple(a)
        expr = num.INLINE[name].format(*[a.expr for a in args])
        locs = _EMPTY
        for a in args:
            locs = locs | a.locs
        if name in _TRAPPING:
            self.push_effect(expr)
        else:
            e = self.push_expr(expr, locs)
            if name.endswith(".shr_u") and args[1].kind == K_CONST and args[1].expr.isdigit():
                n = 32 if name[1] == "3" else 64
                e.width = max(1, _width(args[0], n) - (int(args[1].expr) & (n - 1)))

    def gen_raw_op(self, name: str, a: _E, b: _E) -> None:
        """Wrap-around-compatible integer operators: the result's ``raw`` form skips
        the masking of intermediate results; a result that cannot reach 2**N (its
        operands' known widths, :func:`_width`) needs no mask at all."""
        n = 32 if name[1] == "3" else 64
        mask = "0xFFFFFFFF" if n == 32 else "0xFFFFFFFFFFFFFFFF"
        op = _RAW_OPS[name]
        flipped = False
        for attempt in (0, 1):
            # ca/cb: the operand is used in its canonical form (never negative)
            ca = attempt == 1 or a.raw is None
            cb = attempt == 1 or b.raw is None
            ra, ba = (a.expr, _width(a, n)) if ca else (a.raw, a.bits)
            rb, bb = (b.expr, _width(b, n)) if cb else (b.raw, b.bits)
            wa = not ca and a.wrap
            wb = not cb and b.wrap
            if op == "<<":
                if b.kind == K_CONST and b.expr.isdigit():
                    k = int(b.expr) & (n - 1)
                    raw = "(%s << %d)" % (ra, k)
                    bits = ba + k
                else:
                    raw = "(%s << (%s & %d))" % (ra, rb, n - 1)
                    bits = ba + n - 1
            elif op == "*":
                raw = "(%s * %s)" % (ra, rb)
                bits = ba + bb
            elif op == "+" or op == "-":
                if b.kind == K_CONST and rb.isdigit() and int(rb) >= 1 << (n - 1):  # type: ignore[union-attr, arg-type]  # (rb: a constant's digits here)
                    # adding a constant of the top half subtracts a small one
                    # (CPython's fast path for one-digit ints; x + 0xFFFFFFFF makes
                    # a two-digit one)
                    raw = "(%s %s %d)" % (ra, "-" if op == "+" else "+", (1 << n) - int(rb))  # type: ignore[arg-type]  # (idem)
                    flipped = True
                    bits = max(ba, bb) + 1
                else:
                    raw = "(%s %s %s)" % (ra, op, rb)
                    bits = max(ba, bb) + 1
            elif op == "&":
                raw = "(%s & %s)" % (ra, rb)
                # (an operand that is not negative bounds it)
                bits = min(ba if ca else bb, bb if cb else ba) if ca or cb else max(ba, bb)
            else:
                raw = "(%s %s %s)" % (ra, op, rb)
                bits = max(ba, bb)
            if bits <= 2 * n + 8:
                break
        locs = a.locs | b.locs
        # (may the raw value be negative: a subtraction, or an operand's)
        negative = op == "-" or flipped or not ca and a.wrap or not cb and b.wrap
        if op == "&":
            canonical = ca or cb
        elif op == "|" or op == "^":
            canonical = ca and cb
        else:
            canonical = not negative and bits <= n
        aff = self.affine(op, a, b) if n == 32 else None
        if canonical:
            e = self.push_expr(raw, locs)
            e.width = min(bits, n)
            e.aff = aff
            return
        if op == "-":
            wrap = True
        elif op == "&":
            # (bounded by its operand that is neither negative nor big)
            wrap = wa and wb
        else:
            half = 1 << (n - 1)
            wrap = (wa or wb or op != "<<" and any(
                x.kind == K_CONST and x.expr.isdigit() and int(x.expr) >= half for x in (a, b)))
        if (REMAINDER_MASKS and (op == "+" or op == "-") and ca
                and (b.kind == K_CONST and b.expr.isdigit() and _small(int(b.expr), n)
                     or cb and (op == "-" or min(_width(a, n), _width(b, n)) <= 16))):
            # a pointer or counter stepped by a small constant or a narrow value, or
            # the difference of two canonical values (above -2**N): ``% 2**N``
            # returns a result below the modulus as is, where ``&`` builds a new int
            # (and a negative one costs less than with ``&``); only a sum that
            # does reach 2**N costs more, which these rarely do
            e = self.push_expr("(%s %% %d)" % (raw, 1 << n), locs)
        else:
            e = self.push_expr("(%s & %s)" % (raw, mask), locs)
        if e.kind == K_EXPR:
            e.raw = raw
            e.bits = bits
            e.wrap = wrap
        e.aff = aff

    @staticmethod
    def _aff(e: _E) -> Optional[Tuple[Optional[int], int, Optional[str], int, FrozenSet[int]]]:
        if e.aff is not None:
            return e.aff
        if e.kind == K_LOCAL:
            (local,) = e.locs
            return (local, 0, None, 0, e.locs)
        if e.kind == K_CONST and e.expr.isdigit():
            return (None, int(e.expr), None, 0, _EMPTY)
        return None

    def affine(self, op: str, a: _E, b: _E) -> Optional[Tuple[Optional[int], int, Optional[str], int, FrozenSet[int]]]:
        """The result of i32 ``a op b`` as ``base + C + (X << k)`` (its ``aff``) when
        it has that form with ``0 <= C < 2**31``: a local, plus a literal, plus a
        local or temporary shifted by a literal (an array element's address).
        ``split_access`` indexes memory with it; the sum without wrap-around is
        congruent to the address and never negative."""
        if not self.views:
            return None
        if op == "<<" or op == "*":
            if not (b.kind == K_CONST and b.expr.isdigit()) or a.kind not in (K_LOCAL, K_VAR):
                return None
            c = int(b.expr)
            if op == "*":
                if c <= 0 or c & (c - 1):
                    return None
                k = c.bit_length() - 1
            else:
                k = c & 31
            return (None, 0, a.expr, k, a.locs)
        x, y = self._aff(a), self._aff(b)
        if x is None or y is None:
            return None
        if op == "-":
            if y[0] is not None or y[2] is not None:
                return None
            c = x[1] - y[1]
            return (x[0], c, x[2], x[3], x[4]) if c >= 0 else None
        if op != "+" or (x[0] is not None and y[0] is not None) or (x[2] is not None and y[2] is not None):
            return None
        c = x[1] + y[1]
        if c >= 1 << 31:
            return None
        if x[2] is not None:
            return (x[0] if x[0] is not None else y[0], c, x[2], x[3], x[4] | y[4])
        return (x[0] if x[0] is not None else y[0], c, y[2], y[3], x[4] | y[4])

    def gen_rotate(self, name: str, a: _E, count: int) -> None:
        """A rotate by a literal: ``(x << k) | (x >> (N - k))`` is the rotated value
        plus high bits above 2**N, so it serves as a ``raw`` form (never negative,
        N + k bits) and a chain of rotates, xors and adds (hash rounds) is masked
        once at its end.  The operand must be canonical: its high bits would be
        shifted into the result."""
        n = 32 if name[1] == "3" else 64
        k = count % n if name.endswith("rotl") else -count % n
        if k == 0:
            self.stack.append(a)
            return
        self.simple(a)
        x = a.expr
        raw = "((%s << %d) | (%s >> %d))" % (x, k, x, n - k)
        e = self.push_expr("(%s & %s)" % (raw, "0xFFFFFFFF" if n == 32 else "0xFFFFFFFFFFFFFFFF"),
                           a.locs)
        if e.kind == K_EXPR:
            e.raw = raw
            e.bits = n + k
            e.wrap = False

    def addr(self, e: _E, offset: int) -> str:
        if offset == 0:
            return e.expr
        if e.kind == K_CONST and e.expr.isdigit():
            return str(int(e.expr) + offset)
        return "%s + %d" % (e.expr, offset)

    def view_access(self, fmt: str, mem: int, where: str) -> str:
        """``_V<fmt><mem>[a & (n-1)][a // n]`` for address expression ``where`` (the
        views of MemoryInstance.views, bound per instance by the engine).  Addresses
        are never negative here, so ``a // n`` is ``a >> log2 n``, and on CPython
        (the only user of views) it costs ~20% fewer machine instructions: its
        small-int division has a fast path, the shift does not."""
        n = _VIEW_SIZES[fmt]
        v = "_V%s%d" % (fmt, mem)
        if where.isdigit():
            a = int(where)
            return "%s[%d][%d]" % (v, a & (n - 1), a // n)
        if where.isidentifier():
            return "%s[%s & %d][%s // %d]" % (v, where, n - 1, where, n)
        return "%s[(_a := %s) & %d][_a // %d]" % (v, where, n - 1, n)

    def split_local(self, local: int) -> None:
        """After each assignment to local ``local`` (and on entry), compute the parts
        of its value that its accesses of each view size ``n`` share: ``_q<n>_<local>
        = l // n`` and ``_r<n>_<local> = l & (n-1)`` (see split_access)."""
        for n in sorted(self.bases[local]):
            self.emit("_r%d_%d = l%d & %d" % (n, local, local, n - 1))
            self.emit("_q%d_%d = l%d // %d" % (n, local, local, n))

    def split_access(self, fmt: str, mem: int, a: _E, offset: int) -> Optional[str]:
        """``_V<fmt><mem>[_r<n>_<l>][_q<n>_<l> + offset // n]``: an access at local
        ``l`` plus ``offset`` (a multiple of the view size n) when ``l`` is kept
        split (split_local): the same element as ``view_access`` of ``l + offset``
        (the address is never negative, so adding a multiple of n to it keeps ``&
        (n-1)`` and adds to ``// n``), and it traps the same (an index past the
        view's end is one past memory's end), for one addition instead of an
        addition, a mask and a division."""
        if a.kind != K_LOCAL or not self.bases:
            return None
        (local,) = a.locs
        n = _VIEW_SIZES[fmt]
        if offset % n or n not in self.bases.get(local, ()):
            return None
        k = offset // n
        return "_V%s%d[_r%d_%d][_q%d_%d%s]" % (fmt, mem, n, local, n, local, " + %d" % k if k else "")

    def affine_access(self, fmt: str, mem: int, a: _E, offset: int) -> Optional[str]:
        """The access through view ``fmt`` at ``a`` + ``offset`` written from ``a``'s
        affine form (``affine``) ``l + C + (X << k)``, k >= log2 n: the view of
        ``(l + C + offset) & (n-1)`` (a literal without a base local, else the split
        local's ``_r``, C + offset then a multiple of n) at index ``l // n + (C +
        offset) // n + (X << (k - log2 n))``, or None.  It is the unmasked sum:
        used as ``fast_addr``'s is, under ``except IndexError`` with the exact
        access as fallback."""
        aff = a.aff
        if (aff is None or a.kind == K_LOCAL or a.wrap
                or len(self.pyloops) + self.ntry >= MAX_PY_LOOPS):
            return None
        local, c, x, k, _ = aff
        n = _VIEW_SIZES[fmt]
        total = c + offset
        terms = []
        if x is not None:
            shift = k - (n.bit_length() - 1)
            if shift < 0:
                return None
            terms.append("(%s << %d)" % (x, shift) if shift else x)
        if local is None:
            if not terms:
                return None   # (a literal address: view_access)
            q = total // n
            return "_V%s%d[%d][%s]" % (fmt, mem, total % n, " + ".join(([str(q)] if q else []) + terms))
        if total % n or n not in self.bases.get(local, ()):
            return None
        q = total // n
        return "_V%s%d[_r%d_%d][%s]" % (fmt, mem, n, local, " + ".join(
            ["_q%d_%d" % (n, local)] + ([str(q)] if q else []) + terms))

    def fast_addr(self, a: _E, offset: int) -> Optional[str]:
        """The address expression of an access through an unmasked address (``a``'s
        ``raw`` form), or None when ``a`` has none fit for it.  Memory is at most
        2**N bytes, so a raw address that differs from the masked one (it is
        >= 2**N: raw forms are never negative here) always fails the bounds check,
        an IndexError; the access is then redone with the masked address (see
        ``guarded``), which traps exactly or finds the wrapped-around address."""
        if (a.raw is None or a.wrap or a.kind != K_EXPR or not self.views
                or len(self.pyloops) + self.ntry >= MAX_PY_LOOPS):
            return None
        return a.raw if offset == 0 else "%s + %d" % (a.raw, offset)

    def guarded(self, fast: str, slow: str) -> None:
        """Emit statement ``fast``, and ``slow`` when it raises IndexError."""
        self.emit("try: " + fast)
        self.emit("except IndexError: " + slow)

    def load_expr(self, op: int, mem: int, where: str) -> Tuple[str, str]:
        """(the access, its post-processing template) of load ``op`` at ``where``."""
        helper, post = _LOADS[op]
        if self.views and op in _VIEW_LOADS:
            fmt, post = _VIEW_LOADS[op]
            return self.view_access(fmt, mem, where), post
        if op == 0x2C or op == 0x30:   # load8_s: sign-extend the byte
            return "((M%d[%s] ^ 128) - 128)" % (mem, where), post
        if helper == "IDX":
            return "M%d[%s]" % (mem, where), post
        return "%s(M%d, %s)[0]" % (helper, mem, where), post

    def rmw_end(self, at: int, local: int, fmt: str, mem: int, offset: int) -> int:
        """For a load at body index ``at`` through view ``fmt`` at local ``local`` (+
        ``offset``): the end of the straight-line code after it in which a store to
        the same element may reuse the load's view and index (no control flow,
        call, ``memory.grow`` (which rebinds the views) nor write to ``local``),
        or 0 when no store of that kind is in it (C's ``p->x += v``)."""
        body = self.body
        j = at + 1
        found = 0
        while j < len(body) and j - at < 256:
            o, im = body[j]
            if o in _VIEW_STORES:
                if _VIEW_STORES[o] == fmt and im[1] == offset and im[2] == mem:
                    found = j
            elif (o == 0x21 or o == 0x22) and im == local:
                break
            elif o not in _STRAIGHT:
                break
            j += 1
        return j if found else 0

    def gen_load(self, op: int, imm: Any, at: int = -1) -> None:
        _, offset, mem = imm
        a = self.stack.pop()
        raw, post = self.load_expr(op, mem, self.addr(a, offset))
        split = (self.split_access(_VIEW_LOADS[op][0], mem, a, offset)
                 if self.views and op in _VIEW_LOADS else None)
        if split is not None:
            raw = split
        fast = self.fast_addr(a, offset)
        if (fast is None and self.views and op in _VIEW_LOADS and a.kind == K_LOCAL
                and at >= 0 and post != "F32"):
            fmt = _VIEW_LOADS[op][0]
            (local,) = a.locs
            end = self.rmw_end(at, local, fmt, mem, offset)
            if end:
                # the view and the index are kept for the store (see rmw_end)
                n = _VIEW_SIZES[fmt]
                where = self.addr(a, offset)
                k = self.temp()
                vname, iname = "_v" + k, "_i" + k
                if split is not None:
                    q = offset // n
                    acc = "(%s := _V%s%d[_r%d_%d])[(%s := _q%d_%d%s)]" % (
                        vname, fmt, mem, n, local, iname, n, local, " + %d" % q if q else "")
                elif where.isidentifier():
                    acc = "(%s := _V%s%d[%s & %d])[(%s := %s // %d)]" % (
                        vname, fmt, mem, where, n - 1, iname, where, n)
                else:
                    acc = "(%s := _V%s%d[(_a := %s) & %d])[(%s := _a // %d)]" % (
                        vname, fmt, mem, where, n - 1, iname, n)
                self.push_effect(post.format(acc))
                self.rmw = (local, fmt, mem, offset, at, end, vname, iname)
                if op in _NARROW_LOADS:
                    self.stack[-1].width = _NARROW_LOADS[op]
                return
        afast = (self.affine_access(_VIEW_LOADS[op][0], mem, a, offset)
                 if split is None and self.views and op in _VIEW_LOADS else None)
        if afast is not None or fast is not None:
            t = self.temp()
            fraw = afast if afast is not None else self.load_expr(op, mem, fast)[0]  # type: ignore[arg-type]  # (fast is set when afast is not)
            val = "%s" if post == "F32" else post
            self.guarded("%s = %s" % (t, val.format(fraw)), "%s = %s" % (t, val.format(raw)))
            if post == "F32":
                self.push_effect(num.INLINE["f32.reinterpret_i32"].format(t))
            else:
                self.stack.append(_E(t, K_VAR))
        elif post == "F32":
            te = self.push_effect(raw)
            self.stack.pop()
            e = _E(te.expr, K_VAR)
            self.push_effect(num.INLINE["f32.reinterpret_i32"].format(e.expr))
        else:
            self.push_effect(post.format(raw))
        if op in _NARROW_LOADS:
            self.stack[-1].width = _NARROW_LOADS[op]

    def store_stmt(self, op: int, mem: int, where: str, val: str) -> str:
        helper, _pre = _STORES[op]
        if self.views and op in _VIEW_STORES:
            return "%s = %s" % (self.view_access(_VIEW_STORES[op], mem, where), val)
        if helper == "IDX":
            return "M%d[%s] = %s" % (mem, where, val)
        return "%s(M%d, %s, %s)" % (helper, mem, where, val)

    def gen_store(self, op: int, imm: Any, at: int = -1) -> None:
        _, offset, mem = imm
        v = self.stack.pop()
        a = self.stack.pop()
        r = self.rmw
        if (r is not None and r[4] < at < r[5] and a.kind == K_LOCAL and a.locs == {r[0]}
                and self.views and _VIEW_STORES.get(op) == r[1] and r[2] == mem
                and r[3] == offset):
            pre = _STORES[op][1]
            self.emit("%s[%s] = %s" % (r[6], r[7], pre.format(v.expr)))
            self.rmw = None
            return
        helper, pre = _STORES[op]
        if pre == "F32":
            self.simple(v)
            val = num.INLINE["i32.reinterpret_f32"].format(v.expr)
        elif v.kind == K_CONST and v.expr.isdigit() and "&" in pre:
            val = str(int(v.expr) & int(pre.split("& ")[1].rstrip(")"), 16))
        else:
            val = pre.format(v.expr)
        split = self.split_access(_VIEW_STORES[op], mem, a, offset) if self.views and op in _VIEW_STORES else None
        if split is not None:
            self.emit("%s = %s" % (split, val))
            return
        slow = self.store_stmt(op, mem, self.addr(a, offset), val)
        afast = self.affine_access(_VIEW_STORES[op], mem, a, offset) if self.views and op in _VIEW_STORES else None
        fast = self.fast_addr(a, offset)
        if afast is not None:
            self.guarded("%s = %s" % (afast, val), slow)
        elif fast is not None:
            self.guarded(self.store_stmt(op, mem, fast, val), slow)
        else:
            self.emit(slow)

    def indirect_callee(self, tab: int, tidx: int, e: _E) -> str:
        """The callee of ``call_indirect`` through table ``tab`` with type ``tidx``,
        index ``e``: a per-instance cache ``_CI<tab>_<tidx>`` (compiler/__init__.py,
        ``_CalleeCache``) maps the *function instance* found in the table to its
        callable once its type passed the check, so the hot path is two C-level
        subscripts and no table write ever needs to invalidate anything.  The cache
        traps on a null or mistyped element; an index past the table's end raises
        IndexError, turned here into the right trap (only the table read is under
        the try: nothing else's IndexError may pass for it)."""
        if len(self.pyloops) + self.ntry >= MAX_PY_LOOPS:
            # (a try statement would be one static block too many)
            return "_ci(T%d, FT%d, %s)" % (tab, tidx, e.expr)
        t = self.temp()
        self.emit("try: %s = T%d[%s]" % (t, tab, e.expr))
        self.emit("except IndexError: _undefined_element()")
        self.emit("%s = _CI%d_%d[%s]" % (t, tab, tidx, t))
        return t

    def gen_call(self, callee: str, ft: Any) -> None:
        st = self.stack
        np_ = len(ft.params)
        args = st[len(st) - np_:] if np_ else []
        if np_:
            del st[len(st) - np_:]
        call = "%s(%s)" % (callee, ", ".join([a.expr for a in args] + ["_d + 1"]))
        nr = len(ft.results)
        if nr == 0:
            self.emit(call)
        elif nr == 1:
            self.push_effect(call)
        else:
            names = [self.temp() for _ in range(nr)]
            self.emit("%s = %s" % (", ".join(names), call))
            for nm in names:
                st.append(_E(nm, K_VAR))

    def gen_tail_call(self, op: int, imm: Any) -> None:
        """``return_call``/``return_call_indirect``: return ``_TC((entry, args))`` for
        the trampoline to run (``__init__.py``), or, for a defined callee without tail
        calls (whose chain ends there), call it at this frame's depth and return its
        results."""
        st = self.stack
        if op == 0x12 and imm == self.fidx and self.selfloop is not None:
            self.self_tail_call(len(self.module.types[self.func_types[imm]].params))
            return
        if self.tail is None:
            self.tail = set()
        if op == 0x12:
            ft = self.module.types[self.func_types[imm]]
        elif op == 0x15:   # return_call_ref
            ft = self.module.types[imm]
            e = st.pop()
            t = self.temp()
            self.emit("%s = _cr(%s)" % (t, e.expr))
        else:
            tidx, tab = imm
            ft = self.module.types[tidx]
            e = st.pop()
            t = self.temp()
            self.emit("%s = _ci(T%d, FT%d, %s)" % (t, tab, tidx, e.expr))
        np_ = len(ft.params)
        args = [a.expr for a in st[len(st) - np_:]] if np_ else []
        if np_:
            del st[len(st) - np_:]
        # (inside a try_table the callee must not run under its handlers: the
        # trampoline runs it once this frame is gone)
        if op == 0x12 and imm >= self.nimp and not self.ntry and not self.tail_funcs(imm - self.nimp):
            self.callees.add(imm)
            self.plain_tail_lines.append(len(self.lines))
            self.emit("%sreturn f%d(%s)" % (self.store_fuel, imm, ", ".join(args + ["_d"])))
            return
        if op == 0x12:
            self.tail.add(imm)
            entry = "f%d_t" % imm
        else:
            entry = "getattr(%s, '_t', %s)" % (t, t)
        tup = "(%s,)" % args[0] if np_ == 1 else "(%s)" % ", ".join(args)
        self.emit("%sreturn _TC((%s, %s))" % (self.store_fuel, entry, tup))

    def self_tail_call(self, nparams: int) -> None:
        """``return_call`` of this function itself: new parameters, then back to the
        top of the body's loop (``continue``, or out through ``_br`` from inner
        loops)."""
        st = self.stack
        if nparams:
            args = [a.expr for a in st[len(st) - nparams:]]
            del st[len(st) - nparams:]
            names = ["l%d" % k for k in range(nparams)]
            if args != names:
                self.emit("%s = %s" % (", ".join(names), ", ".join(args)))
        c = self.selfloop
        inner = self.pyloops[-1]
        if inner is c:
            self.emit("continue")
        else:
            self.uses_br = True
            inner.escapes.add((c, "continue"))
            self.emit("_br = %d" % (c.cid * 2 + 1))  # type: ignore[union-attr]  # (a self tail call has its loop)
            self.emit("break")

    def gen_br_table(self, imm: Any, at: int) -> None:
        labels, default = imm
        st = self.stack
        idx = st.pop()
        self.simple(idx)
        # the carried values are evaluated once, before dispatching
        arity_ctl = self.ctl[-1 - default]
        n = arity_ctl.nparams if arity_ctl.kind == 1 else arity_ctl.nresults
        for e in st[len(st) - n:]:
            if e.kind == K_EXPR:
                self.materialize(e)
        # runs of equal targets: [(start, depth)], the last run extends to infinity
        runs: List[Tuple[int, int]] = []
        for k, d in enumerate(list(labels) + [default]):
            if not runs or runs[-1][1] != d:
                runs.append((k, d))
        x = idx.expr
        ch = self.ctl[-1].chain
        self.switch = ch if ch is not None and ch.plan is not None and ch.plan.bt == at else None
        if len(runs) == 1:
            self.leaf(runs[0][1])
        else:
            self.tree(x, runs, 0, len(runs))
        self.switch = None

    def leaf(self, depth: int) -> None:
        """A dispatch tree's leaf: a branch to label ``depth``, or the inlined case
        of a switch (:class:`_Switch`) in its place."""
        sw = self.switch
        c = self.ctl[-1 - depth]
        if sw is None or c.chain is not sw or c.level not in sw.plan.inline:  # type: ignore[union-attr]  # (a switch chain has its plan)
            self.branch(depth)
            return
        self.switch = None
        start, stop = sw.plan.inline[c.level]  # type: ignore[union-attr]  # (idem)
        ctl = self.ctl
        st = self.stack
        saved_ctl = ctl[:]
        saved_st = st[:]
        del ctl[len(ctl) - depth - 1:]
        del st[c.height:]
        self.reachable = True
        self.translate(start, stop)
        assert not self.reachable, "an inlined case falls through"
        ctl[:] = saved_ctl
        st[:] = saved_st
        self.switch = sw

    def tree(self, x: str, runs: List[Tuple[int, int]], lo: int, hi: int) -> None:
        """Dispatch on ``x`` among runs[lo:hi] (x is known to be >= runs[lo] start and
        below runs[hi] start)."""
        if hi - lo == 1:
            self.leaf(runs[lo][1])
            return
        if hi - lo <= 3:
            for k in range(lo, hi - 1):
                self.emit(("if %s < %d:" if k == lo else "elif %s < %d:") % (x, runs[k + 1][0]))
                self.ind += 1
                self.leaf(runs[k][1])
                self.ind -= 1
            self.emit("else:")
            self.ind += 1
            self.leaf(runs[hi - 1][1])
            self.ind -= 1
            return
        mid = (lo + hi) // 2
        self.emit("if %s < %d:" % (x, runs[mid][0]))
        self.ind += 1
        if self.ind > MAX_INDENT:
            raise TooComplex("too deeply nested")
        self.tree(x, runs, lo, mid)
        self.ind -= 1
        self.emit("else:")
        self.ind += 1
        self.tree(x, runs, mid, hi)
        self.ind -= 1

    def gen_other(self, op: int, imm: Any, info: Any) -> None:
        st = self.stack
        FC = ops.fc
        if op == 0x3F:  # memory.size
            self.push_effect("(len(M%d) >> 16)" % imm)
        elif op == 0x40:  # memory.grow
            e = st.pop()
            self.push_effect("(MI%d.grow(%s) & %s)" % (imm, e.expr, _grow_mask(self.module.mem_types()[imm])))
        elif op == 0xD0:  # ref.null
            st.append(_E("None", K_CONST))
        elif op == 0xD1:  # ref.is_null
            e = st.pop()
            self.simple(e)
            cond = "%s is None" % e.expr
            self.push_expr("(1 if %s else 0)" % cond, e.locs, cond)
        elif op == 0xD2:  # ref.func
            st.append(_E("_F[%d]" % imm, K_CONST))
        elif op == 0x25:  # table.get
            e = st.pop()
            self.push_effect("_tget(T%d, %s)" % (imm, e.expr))
        elif op == 0x26:  # table.set
            v = st.pop()
            i = st.pop()
            self.emit("_tset(T%d, %s, %s)" % (imm, i.expr, v.expr))
        elif op == FC(16):  # table.size
            self.push_effect("len(T%d)" % imm)
        elif op == FC(15):  # table.grow
            nn = st.pop()
            v = st.pop()
            self.push_effect("(TI%d.grow(%s, %s) & %s)" % (imm, nn.expr, v.expr,
                                                          _grow_mask(self.module.table_types()[imm])))
        elif op == FC(17):  # table.fill
            nn = st.pop()
            v = st.pop()
            d = st.pop()
            self.emit("_tfill(T%d, %s, %s, %s)" % (imm, d.expr, v.expr, nn.expr))
        elif op == FC(14):  # table.copy
            nn = st.pop()
            s = st.pop()
            d = st.pop()
            self.emit("_tcopy(T%d, T%d, %s, %s, %s)" % (imm[0], imm[1], d.expr, s.expr, nn.expr))
        elif op == FC(12):  # table.init
            nn = st.pop()
            s = st.pop()
            d = st.pop()
            self.emit("_tinit(T%d, _E, %d, %s, %s, %s)" % (imm[1], imm[0], d.expr, s.expr, nn.expr))
        elif op == FC(13):  # elem.drop
            self.emit("_E[%d] = []" % imm)
        elif op == FC(8):  # memory.init
            nn = st.pop()
            s = st.pop()
            d = st.pop()
            self.emit("_minit(M%d, _D, %d, %s, %s, %s)" % (imm[1], imm[0], d.expr, s.expr, nn.expr))
        elif op == FC(9):  # data.drop
            self.emit("_D[%d] = b''" % imm)
        elif op == FC(10):  # memory.copy
            nn = st.pop()
            s = st.pop()
            d = st.pop()
            self.emit("_mcopy(M%d, M%d, %s, %s, %s)" % (imm[0], imm[1], d.expr, s.expr, nn.expr))
        elif op == FC(11):  # memory.fill
            nn = st.pop()
            v = st.pop()
            d = st.pop()
            self.emit("_mfill(M%d, %s, %s, %s)" % (imm, d.expr, v.expr, nn.expr))
        elif op >> 16 == 0xFD:
            self.gen_simd(op, imm, info)
        elif op >> 16 == 0xFB or op == 0xD3:
            self.gen_gc(op, imm)
        else:
            raise TooComplex("cannot compile %s" % info.name)

    def gen_gc(self, op: int, imm: Any) -> None:
        """GC instructions: the hot accesses inline, the rest a call of wasm/gcops.py's
        handler (see gc.call_of) bound as a constant of the function."""
        from ...wasm import gcops as gc

        st = self.stack
        sub = op & 0xFFFF if op != 0xD3 else -1
        if sub in (2, 4) or sub == 11 or sub == 13 or sub == 15 or sub == 29 or sub == 30:
            if sub == 11 or sub == 13:          # array.get(_u)
                i = st.pop()
                e = st.pop()
                self.simple(e)
                self.simple(i)
                self.emit("if %s is None: raise Trap('null array reference')" % e.expr)
                self.emit("if %s >= len(%s.a): raise Trap('out of bounds array access')" % (i.expr, e.expr))
                self.push_effect("%s.a[%s]" % (e.expr, i.expr))
                return
            e = st.pop()
            self.simple(e)
            what = "structure" if sub <= 4 else "array" if sub == 15 else "i31"
            self.emit("if %s is None: raise Trap('null %s reference')" % (e.expr, what))
            if sub <= 4:
                self.push_effect("%s.f[%d]" % (e.expr, imm[1]))
            elif sub == 15:
                self.push_effect("len(%s.a)" % e.expr)
            elif sub == 29:
                self.push_effect("(%s.value & 0xFFFFFFFF)" % e.expr)
            else:
                self.push_effect("(%s.value & 0x7FFFFFFF)" % e.expr)
            return
        if self.gen_gc_inline(op, sub, imm, gc):
            return
        nin, nout = gc.arity(op, imm, self.module)
        args = [st.pop() for _ in range(nin)][::-1]
        call = "%s(_D, _E%s)" % (self.const_name(gc.call_of(op, imm, self.module)),
                                  "".join(", " + a.expr for a in args))
        if nout:
            self.push_effect(call)
        else:
            self.emit(call)

    def gen_gc_inline(self, op: int, sub: int, imm: Any, gc: Any) -> bool:
        """struct.new/set, array.set, array.new_fixed, ref.test/cast, ref.i31,
        ref.eq and the any/extern conversions as inline Python; False for the
        others."""
        from ...wasm.gcref import I31, Struct, Array, externalize, internalize

        st = self.stack
        module = self.module
        if sub == 0 or sub == 8:                          # struct.new, array.new_fixed
            canon = module.canonical_ids()
            if sub == 0:
                x = imm
                masks = [gc.MASKS.get(f.storage, 0) for f in module.types[x].fields]
                cls = self.const_name(Struct)
            else:
                x, n = imm
                if n > 64:
                    return False
                masks = [gc.MASKS.get(module.types[x].field.storage, 0)] * n
                cls = self.const_name(Array)
            args = [st.pop() for _ in masks][::-1]
            items = ", ".join("(%s & %d)" % (a.expr, m) if m else a.expr for a, m in zip(args, masks))
            self.push_effect("%s(%d, [%s])" % (cls, canon[x], items))
            return True
        if sub == 5 or sub == 14:                         # struct.set, array.set
            v = st.pop()
            if sub == 14:
                i = st.pop()
                self.simple(i)
            e = st.pop()
            self.simple(e)
            self.simple(v)
            if sub == 5:
                mask = gc.MASKS.get(module.types[imm[0]].fields[imm[1]].storage, 0)
                self.emit("if %s is None: raise Trap('null structure reference')" % e.expr)
                target = "%s.f[%d]" % (e.expr, imm[1])
            else:
                mask = gc.MASKS.get(module.types[imm].field.storage, 0)
                self.emit("if %s is None: raise Trap('null array reference')" % e.expr)
                self.emit("if %s >= len(%s.a): raise Trap('out of bounds array access')" % (i.expr, e.expr))
                target = "%s.a[%s]" % (e.expr, i.expr)
            self.emit("%s = %s" % (target, "(%s & %d)" % (v.expr, mask) if mask else v.expr))
            return True
        if 20 <= sub <= 23:                               # ref.test, ref.cast
            test = self.const_name(gc.make_test(gc.closed_ref(imm, module.canonical_ids())))
            e = st.pop()
            self.simple(e)
            if sub <= 21:
                self.push_effect("(1 if %s(%s) else 0)" % (test, e.expr))
            else:
                self.emit("if not %s(%s): raise Trap('cast failure')" % (test, e.expr))
                st.append(e)
            return True
        if sub == 28:                                     # ref.i31
            e = st.pop()
            self.push_effect("%s(%s)" % (self.const_name(I31.wrap), e.expr))
            return True
        if sub == -1:                                     # ref.eq
            b = st.pop()
            a = st.pop()
            self.simple(a)
            self.simple(b)
            self.push_effect("(1 if %s is %s or (%s.__class__ is %s and %s == %s) else 0)"
                             % (a.expr, b.expr, a.expr, self.const_name(I31), a.expr, b.expr))
            return True
        if sub == 26 or sub == 27:                        # any.convert_extern, extern.convert_any
            e = st.pop()
            fn = internalize if sub == 26 else externalize
            self.push_effect("%s(%s)" % (self.const_name(fn), e.expr))
            return True
        return False

    def gen_simd(self, op: int, imm: Any, info: Any) -> None:
        """SIMD: expressions from engine/simd.py's INLINE templates; memory accesses
        through struct helpers (see rt.py)."""
        try:
            from .. import simd
        except ImportError:
            raise TooComplex("SIMD needs engine/simd.py") from None
        st = self.stack
        sub = op & 0xFFFF
        name = info.name
        if sub == 12:  # v128.const
            st.append(_E(str(imm), K_CONST))
            return
        if info.imm == ops.IMM_MEMARG:
            _, offset, mem = imm
            if sub == 11:  # v128.store
                v = st.pop()
                a = st.pop()
                self.emit("_v128_store(M%d, %s, %s)" % (mem, self.addr(a, offset), v.expr))
                return
            a = st.pop()
            where = "M%d, %s" % (mem, self.addr(a, offset))
            if sub == 0:
                self.push_effect("_v128_load(%s)" % where)
            elif 1 <= sub <= 6:
                self.push_effect("_v128_ext%d(%s)" % (sub, where))
            elif 7 <= sub <= 10:
                t = self.push_effect(_SIMD_SCALAR_LOAD[sub - 7] % where)
                st.pop()
                shape = ("i8x16", "i16x8", "i32x4", "i64x2")[sub - 7]
                self.push_expr(simd.INLINE[shape + ".splat"].format(t.expr), _EMPTY)
            elif sub == 92:
                self.push_effect(_SIMD_SCALAR_LOAD[2] % where)
            elif sub == 93:
                self.push_effect(_SIMD_SCALAR_LOAD[3] % where)
            else:
                raise TooComplex("cannot compile %s" % name)
            return
        if info.imm == ops.IMM_MEMARG_LANE:
            _, offset, mem, lane = imm
            k = (sub - 84) % 4
            shape = ("i8x16", "i16x8", "i32x4", "i64x2")[k]
            v = st.pop()
            a = st.pop()
            where = "M%d, %s" % (mem, self.addr(a, offset))
            if sub < 88:  # load lane
                self.simple(v)
                t = self.push_effect(_SIMD_SCALAR_LOAD[k] % where)
                st.pop()
                self.push_expr(simd.INLINE[shape + ".replace_lane"].format(v.expr, t.expr, lane=repr(lane)),
                               v.locs)
            else:  # store lane
                self.simple(v)
                getter = shape + (".extract_lane_u" if k < 2 else ".extract_lane")
                x = simd.INLINE[getter].format(v.expr, lane=repr(lane))
                if k == 0:
                    self.emit("M%d[%s] = %s" % (mem, self.addr(a, offset), x))
                else:
                    self.emit("%s(%s, %s)" % (("_sH", "_sI", "_sQ")[k - 1], where, x))
            return
        tpl = simd.INLINE.get(name)
        if tpl is None:
            raise TooComplex("cannot compile %s" % name)
        n = len(info.params)
        args = st[len(st) - n:]
        del st[len(st) - n:]
        if name in simd.NEEDS_TEMP:
            for a in args:
                self.simple(a)
        kw = {}
        if info.imm == ops.IMM_LANE:
            kw["lane"] = repr(imm)
        elif info.imm == ops.IMM_SHUFFLE:
            kw["lanes"] = repr(bytes(imm))
        expr = tpl.format(*[a.expr for a in args], **kw)
        locs = _EMPTY
        for a in args:
            locs = locs | a.locs
        self.push_expr(expr, locs)


# scalar loads of 8, 16, 32 and 64 bits; %s is "memory, address"
_SIMD_SCALAR_LOAD = ("_lB(%s)[0]", "_lH(%s)[0]", "_lI(%s)[0]", "_lQ(%s)[0]")


def local_init(t: int) -> str:
    """The Python literal of the initial value of a local of value type ``t``."""
    # (references of every type are < 0x7B or >= 0x100: numbers and v128 are 0x7B-0x7F)
    return "0.0" if t in (F32, F64) else ("None" if t < 0x7B or t >= 0x100 else "0")


def generate(module: Module, index: int, func_types: List[int], max_depth: int,
             back_edge_hook: Optional[str] = None,
             annotate: bool = False, fuel: bool = False,
             interrupt: bool = False, tail_funcs: Optional[Callable[[int], bool]] = None,
             param_defaults: Sequence[str] = (), listen: bool = False,
             origins: Optional[List[int]] = None,
             ) -> Tuple[str, Dict[str, Any], List[int], Optional[List[int]]]:
    """``(source, constants, callees, tail)`` for defined function ``index``: the
    source defines ``f<function index>``; ``constants`` are extra globals it needs and
    ``callees`` the defined functions it calls directly.  ``tail`` is None for a
    function without tail calls; otherwise the source is the function's *body*, which
    returns a ``_TC`` for a tail call (the engine wraps it in a trampoline), and
    ``tail`` the functions whose tail entries ``f<k>_t`` it reads.  ``annotate`` puts
    each wasm instruction as a comment before the code it became part of.
    ``tail_funcs(k)``: whether defined function ``k`` has tail calls (default: scan
    its body).  ``param_defaults``: Python literals, the default values of the last
    parameters, which then come after the depth (the engine's on-stack replacement
    functions: their locals are parameters).

    ``origins`` (a trap's diagnostics: the same source is generated, with a
    record) is filled with, for each line of the source (0-based), the body index
    of the wasm instruction that line's code comes from (-1 before the first)."""
    g = FunctionGenerator(module, index, func_types, max_depth, back_edge_hook, fuel, interrupt,
                          tail_funcs, listen)
    if annotate or origins is not None:
        g.notes = {}
        g.record = not annotate
    try:
        lines = g.generate()
    except TooComplex:
        if not g.used_nesting:
            raise
        # inlined switch cases and blocks lowered to ifs nest deeper: without them
        # it may fit
        g = FunctionGenerator(module, index, func_types, max_depth, back_edge_hook, fuel, interrupt,
                              tail_funcs, listen)
        g.nesting = False
        if annotate or origins is not None:
            g.notes = {}
            g.record = not annotate
        lines = g.generate()
    tail = sorted(g.tail) if g.tail is not None else None
    limits = fuel or interrupt
    if g.plain_tail_lines and not annotate:
        # source line numbers (1-based) of those calls: after the def line, and the
        # limits wrapper's 3 lines (and `nonlocal`) when there is one
        first = 2 + (3 + fuel if limits else 0)
        g.consts["_TL%d" % g.fidx] = frozenset(first + k for k in g.plain_tail_lines)
    if annotate and g.notes:
        merged: List[str] = []
        for k, line in enumerate(lines):
            merged.extend(g.notes.get(k, ()))
            merged.append(line)
        merged.extend(g.notes.get(len(lines), ()))
        lines = merged
    func = module.funcs[index]
    ftype = module.types[func.type_index]
    np = len(ftype.params) - len(param_defaults)
    params = ["l%d" % k for k in range(np)] + ["_d"] + [
        "l%d=%s" % (np + k, v) for k, v in enumerate(param_defaults)]
    head = "def f%d(%s):" % (g.fidx, ", ".join(params))
    if origins is not None:
        # source lines before the body: the def line, and the limits wrapper's
        first = 1 + (3 + fuel if limits else 0)
        origins.extend([-1] * first)
        at = -1
        notes = g.notes or {}
        for k in range(len(lines)):
            noted = notes.get(k)
            if noted:
                at = noted[-1]
            origins.append(at)
    if fuel or interrupt:
        # the limits' cells are free variables (bound by CompiledWasm.materialize):
        # reading and updating them costs what a local does
        # (global: the function's own name, used by recursive calls, must stay a
        # namespace global rather than become a free variable)
        cells = " = ".join(n for n, on in (("_fuel", fuel), ("_intr", interrupt)) if on)
        out = ["def _limits():", " global f%d" % g.fidx, " %s = 0" % cells, " " + head]
        if fuel:
            out.append("  nonlocal _fuel")
        out.extend(" " + line for line in lines)
        return "\n".join(out) + "\n", g.consts, sorted(g.callees), tail
    return head + "\n" + "\n".join(lines) + "\n", g.consts, sorted(g.callees), tail
