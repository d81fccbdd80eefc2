"""Translate a function body into the interpreter's internal code, once per module.

The internal code is a flat list of 4-tuples ``(kind, a, b, c)``.  Structured control
flow is resolved here: every branch carries its absolute target index and, when
values must move, the operand-stack height to cut back to and the label arity, so
execution never searches for an ``end``.  Unreachable code is not emitted.

Operand-stack heights are static in WebAssembly, so the cheapest branch form (no
stack adjustment) is emitted whenever the stack at the branch already has exactly the
label's values above the target height.

A peephole pass fuses frequent sequences into superinstructions
(``local.get``/``const`` operands folded into a binary operator, a comparison
folded into ``br_if``/``if``, a binary operator folded into ``local.set``).
Fusion never crosses a branch target.  A final pass specialises integer add/sub
superinstructions into kinds with the addition inline, and byte loads/stores get
their own kinds.

The control-flow facts come from the validator's ``Function.info``
(:class:`~pywazero.wasm.module.FunctionInfo`; for a function without one,
:func:`~pywazero.wasm.facts.function_info` computes it: from stack heights alone for
a body of a validated module, else by validating the body): each opener's resolved block
type (label arity), its matching ``else``/``end`` (``else_of``/``partner``: after an
unconditional branch the translator resumes there, skipping the dead code), the
operand height at block entry (``heights``, what a branch unwinds to) and at each
branch (``branch_heights``, which decides whether values must move).  The translator
tracks no operand heights or types of its own; its control stack (explicit, so
nesting depth costs no Python recursion) only holds what concerns the emitted code:
each label's target or pending fixups, and the ``if`` to patch at its ``else``.
``max_stack`` is not used: the operand stack is a growable Python list.
"""
from __future__ import annotations

import operator
import struct
from typing import Any, Callable, Dict, List, Optional, Tuple

from ...wasm import opcodes as ops
from ...wasm.instance import default_value
from ...wasm.module import Function, Module
from ...wasm.types import FuncType
from ...wasm.facts import function_info
from ..limits import FREE_OPS, GROW_OPS, calls_out, length_charges
from . import rare as R
from .kinds import *  # noqa: F401,F403
from .kinds import KIND_NAMES

_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF


class FuncCode:
    """The interpreter's code for one defined function (shared by all instances)."""

    __slots__ = ("code", "nparams", "nresults", "local_init", "type", "index", "handlers", "src",
                 "_origins")

    def __init__(self, code: List[Any], nparams: int, nresults: int, local_init: List[Any],
                 ftype: FuncType, index: int, handlers: Optional[List[Any]] = None) -> None:
        self.code = code
        # exception handling: None, or the regions of code whose exceptions a
        # try_table / legacy try handles: (start, end, next, kind, data) with
        # code[start:end] the region, ``next`` the region tried when this one does
        # not catch (-1: the caller), kind 0 try_table (data: its clauses
        # (catch kind, tag, target pc, stack height to cut to or -1)), 1 legacy try
        # (data: (tag or None for catch_all, handler pc, height, exception slot)),
        # 2 legacy try ... delegate (no data; ``next`` is the delegate's target)
        self.handlers = handlers
        self.nparams = nparams
        self.nresults = nresults
        self.local_init = local_init
        self.type = ftype
        self.index = index
        # how it was made: compile_function's arguments (body_index translates again)
        self.src: Any = None
        self._origins: Optional[List[int]] = None

    def body_index(self, pc: int) -> Optional[int]:
        """The index in the wasm body of the instruction internal instruction ``pc``
        comes from (None if unknown).  Worked out by translating the function again
        with a record of origins, once, when a trap's frames are first read: the
        translation is deterministic, and the normal path keeps no table."""
        origins = self._origins
        if origins is None:
            if self.src is None:
                return None
            module, index, func_types, limits, entry_check, osr = self.src
            func = module.funcs[index]
            kept = func.decoded
            origins = []
            try:
                compile_function(module, index, func_types, limits, entry_check, osr, record=origins)
            finally:
                if not kept:
                    func.release()
            self._origins = origins
        if 0 <= pc < len(origins):
            return origins[pc]
        return None

    def dump(self) -> str:
        """The internal code as text, for debugging."""
        out = []
        for pc, ins in enumerate(self.code):
            k = ins[0]
            args = []
            for x in ins[1:]:
                if callable(x):
                    args.append(getattr(x, "__name__", repr(x)))
                elif type(x).__name__ == "cell":   # an execution-limits cell
                    args.append("<cell>")
                else:
                    args.append(repr(x))
            out.append(f"{pc:4d}  {KIND_NAMES.get(k, k)} {' '.join(args)}")
        return "\n".join(out)



# local.set folded into the instruction before it: that instruction's kind ->
# (fused kind, operand slot that receives the local index, whether the slot's
# current value is kept alongside as a pair).
_LSET_FUSION = {
    K_BIN: (K_BIN_LSET, 2, False),
    K_LL_BIN: (K_LL_BIN_LSET, 3, True),
    K_LC_BIN: (K_LC_BIN_LSET, 3, True),
    K_CONST: (K_CONST_LSET, 2, False),
    K_LGET: (K_LGET_LSET, 2, False),
}

def _numeric(name: str) -> Callable[..., Any]:
    from ...wasm import numerics

    f: Callable[..., Any] = getattr(numerics, name.replace(".", "_"))
    return f


# Integer operators inlined here rather than taken from numerics: they are the hot
# ones, and these definitions are the cheapest correct expressions.
def i32_add(a: int, b: int) -> int: return (a + b) & 0xFFFFFFFF
def i32_sub(a: int, b: int) -> int: return (a - b) & 0xFFFFFFFF
def i32_mul(a: int, b: int) -> int: return (a * b) & 0xFFFFFFFF
def i32_shl(a: int, b: int) -> int: return (a << (b & 31)) & 0xFFFFFFFF
def i32_shr_u(a: int, b: int) -> int: return a >> (b & 31)
def i32_shr_s(a: int, b: int) -> int: return (((a ^ 0x80000000) - 0x80000000) >> (b & 31)) & 0xFFFFFFFF
def i32_eq(a: int, b: int) -> int: return 1 if a == b else 0
def i32_ne(a: int, b: int) -> int: return 1 if a != b else 0
def i32_lt_u(a: int, b: int) -> int: return 1 if a < b else 0
def i32_gt_u(a: int, b: int) -> int: return 1 if a > b else 0
def i32_le_u(a: int, b: int) -> int: return 1 if a <= b else 0
def i32_ge_u(a: int, b: int) -> int: return 1 if a >= b else 0
def i32_lt_s(a: int, b: int) -> int: return 1 if (a ^ 0x80000000) < (b ^ 0x80000000) else 0
def i32_gt_s(a: int, b: int) -> int: return 1 if (a ^ 0x80000000) > (b ^ 0x80000000) else 0
def i32_le_s(a: int, b: int) -> int: return 1 if (a ^ 0x80000000) <= (b ^ 0x80000000) else 0
def i32_ge_s(a: int, b: int) -> int: return 1 if (a ^ 0x80000000) >= (b ^ 0x80000000) else 0
def i32_eqz(a: int) -> int: return 1 if a == 0 else 0
def i64_add(a: int, b: int) -> int: return (a + b) & 0xFFFFFFFFFFFFFFFF
def i64_sub(a: int, b: int) -> int: return (a - b) & 0xFFFFFFFFFFFFFFFF
def i64_mul(a: int, b: int) -> int: return (a * b) & 0xFFFFFFFFFFFFFFFF
def i64_shl(a: int, b: int) -> int: return (a << (b & 63)) & 0xFFFFFFFFFFFFFFFF
def i64_shr_u(a: int, b: int) -> int: return a >> (b & 63)
def i64_shr_s(a: int, b: int) -> int:
    return (((a ^ 0x8000000000000000) - 0x8000000000000000) >> (b & 63)) & 0xFFFFFFFFFFFFFFFF
def i64_lt_s(a: int, b: int) -> int: return 1 if (a ^ 0x8000000000000000) < (b ^ 0x8000000000000000) else 0
def i64_gt_s(a: int, b: int) -> int: return 1 if (a ^ 0x8000000000000000) > (b ^ 0x8000000000000000) else 0
def i64_le_s(a: int, b: int) -> int: return 1 if (a ^ 0x8000000000000000) <= (b ^ 0x8000000000000000) else 0
def i64_ge_s(a: int, b: int) -> int: return 1 if (a ^ 0x8000000000000000) >= (b ^ 0x8000000000000000) else 0
def i64_extend_i32_u(a: int) -> int: return a
def i64_extend_i32_s(a: int) -> int: return ((a ^ 0x80000000) - 0x80000000) & 0xFFFFFFFFFFFFFFFF
def i32_wrap_i64(a: int) -> int: return a & 0xFFFFFFFF


_LOCAL_IMPL: Dict[str, Callable[..., Any]] = {
    # and/or/xor of unsigned ints need no masking: the C builtins are exact
    "i32.add": i32_add, "i32.sub": i32_sub, "i32.mul": i32_mul, "i32.and": operator.and_,
    "i32.or": operator.or_, "i32.xor": operator.xor, "i32.shl": i32_shl, "i32.shr_u": i32_shr_u,
    "i32.shr_s": i32_shr_s, "i32.eq": i32_eq, "i32.ne": i32_ne, "i32.lt_u": i32_lt_u,
    "i32.gt_u": i32_gt_u, "i32.le_u": i32_le_u, "i32.ge_u": i32_ge_u, "i32.lt_s": i32_lt_s,
    "i32.gt_s": i32_gt_s, "i32.le_s": i32_le_s, "i32.ge_s": i32_ge_s, "i32.eqz": i32_eqz,
    "i64.add": i64_add, "i64.sub": i64_sub, "i64.mul": i64_mul, "i64.and": operator.and_,
    "i64.or": operator.or_, "i64.xor": operator.xor, "i64.shl": i64_shl, "i64.shr_u": i64_shr_u,
    "i64.shr_s": i64_shr_s, "i64.eq": i32_eq, "i64.ne": i32_ne, "i64.lt_u": i32_lt_u,
    "i64.gt_u": i32_gt_u, "i64.le_u": i32_le_u, "i64.ge_u": i32_ge_u, "i64.lt_s": i64_lt_s,
    "i64.gt_s": i64_gt_s, "i64.le_s": i64_le_s, "i64.ge_s": i64_ge_s, "i64.eqz": i32_eqz,
    # f64 add/sub/mul are exactly the host's double operations (numerics agrees)
    "f64.add": operator.add, "f64.sub": operator.sub, "f64.mul": operator.mul,
    "i64.extend_i32_u": i64_extend_i32_u, "i64.extend_i32_s": i64_extend_i32_s,
    "i32.wrap_i64": i32_wrap_i64,
}

_IMPL_CACHE: Dict[int, Callable[..., Any]] = {}

# Where only the truth of a result matters (a condition fused into br_if / if), the
# comparisons of unsigned patterns are the C builtins (they return bools, which must
# never reach the operand stack, hence only there).
_AS_CONDITION: Dict[Callable[..., Any], Callable[..., Any]] = {
    i32_eq: operator.eq, i32_ne: operator.ne, i32_lt_u: operator.lt, i32_gt_u: operator.gt,
    i32_le_u: operator.le, i32_ge_u: operator.ge, i32_eqz: operator.not_,
}


_FLOAT_CONDITIONS_ADDED = False


def _cond(f: Callable[..., Any]) -> Callable[..., Any]:
    global _FLOAT_CONDITIONS_ADDED
    if not _FLOAT_CONDITIONS_ADDED:
        # float comparisons: IEEE semantics (false on NaN, except ne) are Python's
        for ty in ("f32", "f64"):
            for name, builtin in (("eq", operator.eq), ("ne", operator.ne), ("lt", operator.lt),
                                  ("gt", operator.gt), ("le", operator.le), ("ge", operator.ge)):
                _AS_CONDITION[_numeric(f"{ty}.{name}")] = builtin
        _FLOAT_CONDITIONS_ADDED = True
    return _AS_CONDITION.get(f, f)


def numeric_impl(op: int) -> Callable[..., Any]:
    f = _IMPL_CACHE.get(op)
    if f is None:
        name = ops.BY_OP[op].name
        f = _LOCAL_IMPL.get(name)
        if f is None:
            f = _numeric(name)
        _IMPL_CACHE[op] = f
    return f


_ST = struct.Struct
# memory access: op -> (struct, convert); a load pushes convert(unpack(...)[0])
_LOADS: Dict[int, Tuple[Any, Optional[str]]] = {
    0x28: (_ST("<I"), None), 0x29: (_ST("<Q"), None),
    0x2A: (_ST("<I"), "f32"), 0x2B: (_ST("<d"), None),
    0x2C: (_ST("<b"), "s32"), 0x2D: (_ST("<B"), None),
    0x2E: (_ST("<h"), "s32"), 0x2F: (_ST("<H"), None),
    0x30: (_ST("<b"), "s64"), 0x31: (_ST("<B"), None),
    0x32: (_ST("<h"), "s64"), 0x33: (_ST("<H"), None),
    0x34: (_ST("<i"), "s64"), 0x35: (_ST("<I"), None),
}
# store: op -> (struct, mask or "f32")
_STORES: Dict[int, Tuple[Any, Any]] = {
    0x36: (_ST("<I"), None), 0x37: (_ST("<Q"), None),
    0x38: (_ST("<I"), "f32"), 0x39: (_ST("<d"), None),
    0x3A: (_ST("<B"), 0xFF), 0x3B: (_ST("<H"), 0xFFFF),
    0x3C: (_ST("<B"), 0xFF), 0x3D: (_ST("<H"), 0xFFFF), 0x3E: (_ST("<I"), _M32),
}


def _s32(v: int) -> int: return v & 0xFFFFFFFF
def _s64(v: int) -> int: return v & 0xFFFFFFFFFFFFFFFF


def _load_convert(kind: Optional[str]) -> Optional[Callable[..., Any]]:
    if kind is None:
        return None
    if kind == "s32":
        return _s32
    if kind == "s64":
        return _s64
    return _numeric("f32.from_bits")


def _store_convert(kind: Any) -> Optional[Callable[..., Any]]:
    if kind is None:
        return None
    if kind == "f32":
        return _numeric("f32.to_bits")
    mask = kind
    return lambda v: v & mask


class _Ctl:
    """An open construct of the translator (the facts about it come from
    FunctionInfo; what is kept here is about the code being emitted)."""

    __slots__ = ("kind", "opener", "height", "arity", "fixups", "loop_pc", "if_fixup", "stop",
                 "then_run", "check", "region", "outer_region", "slot")

    def __init__(self, kind: int, opener: int, height: int, arity: int, loop_pc: int,
                 stop: int) -> None:
        self.kind = kind          # 0 block, 1 loop, 2 if, 3 function, 4 try_table, 5 try
        self.opener = opener      # body index of the block/loop/if (-1: the function)
        self.height = height      # FunctionInfo.heights[opener]
        self.arity = arity        # label arity: the loop's params, else the results
        # (ints; a br_table's are (index, entry) pairs, a try_table's its clauses)
        self.fixups: List[Any] = []   # indices of emitted branches to patch with the end pc
        self.loop_pc = loop_pc
        self.if_fixup = -1        # the IF_FALSE to patch with the else pc
        # body index where code after an unconditional branch is live again: the
        # else (then-branch of an if that has one), otherwise the end
        self.stop = stop
        # fuel: (run, its amount at the if) when the then-arm's first run was charged
        # with the run before the if (the else arm gives that part back)
        self.then_run: Optional[Tuple[List[Any], int]] = None
        self.check: Optional[List[Any]] = None   # a loop's header check (limits on)
        # exception handling: the handler region a try_table / try opened (-1:
        # none), the innermost region open around this construct, the local slot
        # holding a legacy try's caught exception (for rethrow)
        self.region = -1
        self.outer_region = -1
        self.slot = -1


# ops whose result is a plain function of their operands (numeric)
def _is_numeric(op: int) -> bool:
    info = ops.BY_OP.get(op)
    if info is None or info.params is None or info.imm != ops.IMM_NONE:
        return False
    if op >> 16 == 0xFD:
        return False
    return op >= 0x45 and op <= 0xC4 or (op >> 16 == 0xFC and (op & 0xFFFF) < 8)


# the numeric ops and their operand counts (the translation's per-instruction test)
_NUMERIC_ARITY: Dict[int, int] = {op: len(info.params)  # type: ignore[arg-type]  # (numeric ops have them)
                                  for op, info in ops.BY_OP.items() if _is_numeric(op)}
_V128_CONST = ops.fd(12)


_ADD_MASK = {i32_add: _M32, i64_add: _M64}
# the instruction kinds _specialise_add may rewrite
_ADD_KINDS = frozenset((K_LC_BIN, K_LC_BIN_LSET, K_C_BIN, K_LL_BIN, K_LL_BIN_LSET, K_BIN))
_SUB_MASK = {i32_sub: _M32, i64_sub: _M64}
# the kinds the end of the translation rewrites (_finish)
_FINISH_KINDS = _ADD_KINDS | {K_BR_TABLE}


def _finish(ins: List[Any]) -> Tuple[Any, ...]:
    """The final tuple of an instruction of a kind in _FINISH_KINDS."""
    if ins[0] == K_BR_TABLE:
        ins[1] = [tuple(e) for e in ins[1]]
    else:
        _specialise_add(ins)
    return tuple(ins)


def _specialise_add(ins: List[Any]) -> None:
    """Rewrite (in place, one for one) integer add/sub superinstructions into kinds
    whose addition is inline: ``x - k`` becomes ``x + (-k mod 2**n)``."""
    k = ins[0]
    if k == K_LC_BIN or k == K_LC_BIN_LSET:
        f = ins[3] if k == K_LC_BIN else ins[3][0]
        mask = _ADD_MASK.get(f)
        const = ins[2]
        if mask is None:
            mask = _SUB_MASK.get(f)
            if mask is None:
                return
            const = -const & mask
        if k == K_LC_BIN:
            ins[:] = [K_LC_ADD, ins[1], const, mask]
        else:
            ins[:] = [K_LC_ADD_LSET, ins[1], const, (mask, ins[3][1])]
    elif k == K_C_BIN:
        f = ins[2]
        mask = _ADD_MASK.get(f)
        const = ins[1]
        if mask is None:
            mask = _SUB_MASK.get(f)
            if mask is None:
                return
            const = -const & mask
        ins[:] = [K_C_ADD, const, mask, 0]
    elif k == K_LL_BIN or k == K_LL_BIN_LSET:
        f = ins[3] if k == K_LL_BIN else ins[3][0]
        mask = _ADD_MASK.get(f)
        if mask is None:
            return
        if k == K_LL_BIN:
            ins[:] = [K_LL_ADD, ins[1], ins[2], mask]
        else:
            ins[:] = [K_LL_ADD_LSET, ins[1], ins[2], (mask, ins[3][1])]
    elif k == K_BIN:
        mask = _ADD_MASK.get(ins[1])
        if mask is not None:
            ins[:] = [K_ADD, mask, 0, 0]


def _charge_length(fn: Callable[..., Any], limits: Any, grow: bool) -> Callable[..., Any]:
    """A rare handler running ``fn`` then charging its length operand (the topmost)
    as fuel, and checking: the cost of a bulk operator whose length is not a
    constant (engine/limits.py, ``length_charges``, as the compiler engine charges
    it).  A failed grow costs nothing."""
    cell = limits.fuel

    def charged(S: List[Any], inst: Any, a: Any, b: Any) -> None:
        n = S[-1]
        fn(S, inst, a, b)
        if grow and (S[-1] == 0xFFFFFFFF or S[-1] == 0xFFFFFFFFFFFFFFFF):
            return   # (-1 of a 32-bit or a 64-bit memory/table)
        f = cell.cell_contents - n
        cell.cell_contents = f
        if f <= 0:
            limits.refill()

    return charged


_BR_ON_CAST = ops.fb(24)
_BR_ON_CAST_FAIL = ops.fb(25)


def compile_function(module: Module, index: int, func_types: List[int],
                     limits: Any = None, entry_check: bool = True, osr: Any = None,
                     record: Optional[List[int]] = None) -> FuncCode:
    """Translate defined function ``index`` (in ``module.funcs``), using the control-flow
    facts of its ``info`` (validating the body first when it has none).

    With ``limits`` (an :class:`~pywazero.engine.limits.ExecutionLimits` with fuel
    or interruption on) the code also has check points: the function starts with an
    entry check and every loop header with a loop check (fuel: trap when none is
    left; interruption: trap when the flag is set).  Fuel is charged per
    straight-line run, in advance, by the instruction that starts the run (a
    ``K_FUEL``, or the entry/loop check that precedes it); a run ends after a call,
    a branch, an ``if``/``else``, before a join (an ``end`` that is branched to) or a
    loop header, and after a bulk operator of dynamic length (charged and checked
    once it succeeded).  Runs have no exits but their last instruction (and traps),
    so at every check point, call and return exactly the executed operators have
    been charged, as the compiler engine and wasmtime charge them.  With
    ``entry_check`` False (interruption without fuel, run by a loop whose calls check
    the flag: ``calls_check_interrupts``) functions get no entry check.

    ``osr`` (the compiler engine's tier-up hook, only without limits): every loop
    header starts with a ``K_OSR`` counting down ``osr.left`` (a one-item list)
    and calling it from zero on (see kinds.py).

    ``record`` (a trap's diagnostics, never the normal path: see
    :meth:`FuncCode.body_index`) is filled with the body index of the wasm
    instruction each internal instruction comes from."""
    func: Function = module.funcs[index]
    info = func.info
    if info is None:
        info = function_info(module, index)
    partner = info.partner
    else_of = info.else_of
    block_types = info.block_types
    heights = info.heights
    branch_heights = info.branch_heights
    catches = info.catches
    ftype = module.types[func.type_index]
    nimp = len(func_types) - len(module.funcs)
    local_types = list(ftype.params) + func.local_types()
    body = func.body
    n = len(body)
    out: List[List[Any]] = []
    barrier = 0   # no fusion may look at out[:barrier] (a branch target follows)
    ctl: List[_Ctl] = [_Ctl(3, -1, 0, len(ftype.results), 0, n - 1)]
    reachable = True
    types = module.types
    fuel_on = bool(limits is not None and limits.consume_fuel)
    intr_on = bool(limits is not None and limits.interruptible)
    FC = limits.fuel if fuel_on else None
    FL = limits.flag if intr_on else None
    lengths = length_charges(module, index) if fuel_on else {}
    # the instruction charging the current straight-line run (None: none yet)
    run: Optional[List[Any]] = None
    tramps: List[Tuple[List[Any], List[Any], int]] = []   # (forward br_if, its run, run amount there)
    elses: List[Tuple[List[Any], Tuple[List[Any], int]]] = []   # (else arm's charge, then_run)
    backs: List[Tuple[List[Any], List[Any]]] = []   # (JMP_CHECK_F, the loop's header check)
    # exception handling: regions (see FuncCode.handlers), the open ones, catch
    # clauses branching to the function's label (their pc: a RETURN added at the end)
    regions: List[List[Any]] = []
    open_regions: List[int] = []
    returns: List[Tuple[List[Any], int]] = []
    tag_types: Optional[List[int]] = None
    nslots = 0
    # (a function that calls none needs no interruption check at its entry: it runs
    # for a bounded time between its loops' checks; ExecutionLimits.enter checks
    # calls from Python)
    # (nor when the loop running the code checks at calls, ``entry_check`` False:
    # interpreter.calls_check_interrupts)
    entry_check = intr_on and calls_out(body) and (entry_check or fuel_on)
    if fuel_on:
        run = [K_ENTRY_FI if entry_check else K_ENTRY_F, 0, FC, FL]
        out.append(run)
    elif entry_check:
        out.append([K_CHECK_I, 0, FL, 0])
    barrier = len(out)

    def emit(*ins: Any) -> None:
        out.append(list(ins))

    def emit_branch(depth: int, conditional: bool, height: int) -> None:
        """Emit br/br_if to label ``depth``; ``height`` is the height at the branch
        (after popping the condition)."""
        c = ctl[-1 - depth]
        arity = c.arity
        if c.kind == 3:
            # the function's label: its end holds a RETURN, which takes the top
            # ``arity`` values whatever lies below them
            if conditional:
                emit(K_BR_IF, -1, 0, 0)
                c.fixups.append(len(out) - 1)
            else:
                emit(K_RETURN, arity, 0, 0)
            return
        adjust = height - arity != c.height
        if conditional:
            kind = K_BR_IF_A if adjust else K_BR_IF
        else:
            kind = K_BR_A if adjust else K_JMP
        ins: List[Any] = [kind, -1, c.height, arity]
        out.append(ins)
        if c.kind == 1:
            ins[1] = c.loop_pc
            if kind == K_JMP and c.check is not None and fuel_on != intr_on:
                # the back-edge does the header's check itself and jumps past it:
                # one dispatch per iteration instead of two
                if fuel_on:
                    ins[:] = [K_JMP_CHECK_F, c.loop_pc + 1, FC, 0]
                    backs.append((ins, c.check))
                else:
                    ins[:] = [K_JMP_CHECK_I, c.loop_pc + 1, FL, 0]
        else:
            c.fixups.append(len(out) - 1)

    i = 0
    cur = -1   # (record) the wasm instruction being translated, out's length and last entry before it
    before = 0
    last: Any = None
    while i < n:
        if record is not None:
            _record(record, out, cur, before, last, body)
            cur, before, last = i, len(out), ((out[-1], list(out[-1])) if out else None)
        op, imm = body[i]
        i += 1
        if fuel_on and op not in FREE_OPS:
            if run is None:
                run = [K_FUEL, 0, FC, 0]
                out.append(run)
            run[1] += 1
            if lengths:   # a bulk operator's constant length costs with it
                run[1] += lengths.get(i - 1) or 0

        if op == 0x20:  # local.get
            out.append([K_LGET, imm, 0, 0])   # (the hot ones skip emit's call)
        elif op in (0x41, 0x42, 0x43, 0x44) or op == _V128_CONST:
            if op == 0x41:
                v: Any = imm & _M32
            elif op == 0x42:
                v = imm & _M64
            elif op == 0x43:
                v = _numeric("f32.from_bits")(imm)
            elif op == 0x44:
                v = _numeric("f64.from_bits")(imm)
            else:
                v = imm & ((1 << 128) - 1)
            out.append([K_CONST, v, 0, 0])
        elif op == 0x21:  # local.set
            prev = out[-1] if len(out) > barrier else None
            fused = _LSET_FUSION.get(prev[0]) if prev is not None else None
            if fused is not None:
                kind, slot, paired = fused
                # (fused is set only when prev is)
                prev[0] = kind  # type: ignore[index]
                prev[slot] = (prev[slot], imm) if paired else imm  # type: ignore[index]
            else:
                out.append([K_LSET, imm, 0, 0])
        elif op == 0x22:  # local.tee
            out.append([K_LTEE, imm, 0, 0])
        elif op in _LOADS:
            # (a local's address: fused into the local.get, one dispatch less)
            prev = out[-1] if len(out) > barrier and imm[2] == 0 else None
            if imm[2] == 0 and (op == 0x2D or op == 0x31):   # i32/i64.load8_u
                if prev is not None and prev[0] == K_LGET:
                    prev[0] = K_L_LOAD8U
                    prev[2] = imm[1]
                else:
                    out.append([K_LOAD8U, imm[1], 0, 0])
            else:
                st, conv = _LOADS[op]
                if prev is not None and prev[0] == K_LGET:
                    prev[:] = [K_L_LOAD, st.unpack_from, imm[1], (_load_convert(conv), prev[1])]
                else:
                    out.append([K_LOAD if imm[2] == 0 else K_LOADM, st.unpack_from, imm[1],
                                _load_convert(conv) if imm[2] == 0 else (_load_convert(conv), imm[2])])
        elif op in _NUMERIC_ARITY:
            f = _IMPL_CACHE.get(op) or numeric_impl(op)
            if _NUMERIC_ARITY[op] == 2:
                prev = out[-1] if len(out) > barrier else None
                prev2 = out[-2] if len(out) - 1 > barrier else None
                if prev is not None and prev[0] == K_LGET and prev2 is not None and prev2[0] == K_LGET:
                    out.pop()
                    prev2[0] = K_LL_BIN
                    prev2[2] = prev[1]
                    prev2[3] = f
                elif prev is not None and prev[0] == K_CONST and prev2 is not None and prev2[0] == K_LGET:
                    out.pop()
                    prev2[0] = K_LC_BIN
                    prev2[2] = prev[1]
                    prev2[3] = f
                elif prev is not None and prev[0] == K_CONST:
                    if prev2 is not None and prev2[0] == K_LTEE and f not in _ADD_MASK and f not in _SUB_MASK:
                        # (a tee'd value's operator, one dispatch less; an add/sub
                        # stays a C_BIN, made a C_ADD by _specialise_add)
                        out.pop()
                        prev2[0] = K_LTEE_C_BIN
                        prev2[2] = prev[1]
                        prev2[3] = f
                    else:
                        prev[0] = K_C_BIN
                        prev[2] = f
                elif prev is not None and prev[0] == K_LGET:
                    prev[0] = K_L_BIN
                    prev[2] = f
                else:
                    emit(K_BIN, f, 0, 0)
            else:
                prev = out[-1] if len(out) > barrier else None
                if prev is not None and prev[0] == K_LGET:
                    prev[0] = K_L_UN
                    prev[2] = f
                else:
                    emit(K_UN, f, 0, 0)
        elif op == 0x0D or op == 0xD5 or op == 0xD6 or op == _BR_ON_CAST or op == _BR_ON_CAST_FAIL:
            # br_if, br_on_null, br_on_non_null, br_on_cast(_fail)
            if op == 0xD5 or op == 0xD6:
                # a test leaves the branch condition on top: the reference is
                # dropped where the spec drops it (see rare.br_on_null_test)
                emit(K_RARE, R.br_on_null_test if op == 0xD5 else R.br_on_non_null_test, 0, 0)
            elif op != 0x0D:
                # (GC: the reference stays either way, see gc.br_on_cast_test)
                fn, a, b = R.lookup(op, imm, module)
                emit(K_RARE, fn, a, b)
                imm = imm[0]
            height = branch_heights[i - 1]
            prev = out[-1] if len(out) > barrier else None
            c = ctl[-1 - imm]
            simple = c.kind == 3 or height - c.arity == c.height
            if simple and prev is not None and prev[0] in (K_BIN, K_LL_BIN, K_LC_BIN, K_UN, K_L_UN):
                # fuse the condition into the branch
                src = out.pop()
                target = c.loop_pc if c.kind == 1 else -1
                if src[0] == K_BIN:
                    ins = [K_BR_IF_BIN, target, _cond(src[1]), 0]
                elif src[0] == K_UN:
                    ins = [K_BR_IF_UN, target, _cond(src[1]), 0]
                elif src[0] == K_L_UN:
                    ins = [K_BR_IF_LUN, target, src[1], _cond(src[2])]
                elif src[0] == K_LL_BIN:
                    ins = [K_BR_IF_LLBIN, target, (src[1], src[2]), _cond(src[3])]
                else:
                    ins = [K_BR_IF_LCBIN, target, (src[1], src[2]), _cond(src[3])]
                out.append(ins)
                if c.kind != 1:
                    c.fixups.append(len(out) - 1)
            else:
                emit_branch(imm, True, height)
            if run is not None and c.kind != 1:
                # a forward branch (mostly not taken): the fall-through run is charged
                # with this one, the taken path gives it back (a trampoline, below)
                tramps.append((out[-1], run, run[1]))
            else:
                run = None
        elif op == 0x0B or op == 0x18:  # end, or a legacy try's delegate
            c = ctl.pop()
            end_pc = len(out)
            if c.region >= 0 and regions[c.region][1] < 0:
                regions[c.region][1] = end_pc
                open_regions.pop()
                if op == 0x18:
                    # the target's handler: its own if it is a try_table / try still
                    # in its body, else the innermost region open around it
                    reg = regions[c.region]
                    reg[3] = 2
                    reg[2] = -1
                    for j in range(len(ctl) - 1 - imm, -1, -1):
                        cj = ctl[j]
                        if cj.region >= 0 and regions[cj.region][1] < 0:
                            reg[2] = cj.region
                            break
            for k in c.fixups:
                if isinstance(k, tuple):
                    out[k[0]][1][k[1]][0] = end_pc
                elif isinstance(k, list):   # a catch clause's target
                    k[2] = end_pc
                else:
                    out[k][1] = end_pc
            if c.if_fixup >= 0:
                out[c.if_fixup][1] = end_pc
            if c.fixups or c.if_fixup >= 0:
                barrier = end_pc
                run = None   # a join: each path has charged its own runs
            if c.kind == 3:
                emit(K_RETURN, c.arity, 0, 0)
                break
            reachable = True
        elif op == 0x02 or op == 0x03:  # block / loop
            opener = i - 1
            p, r = block_types[opener]
            c = _Ctl(0 if op == 0x02 else 1, opener, heights[opener],
                     len(r) if op == 0x02 else len(p), len(out), partner[opener])
            if op == 0x03:
                if fuel_on:   # the check, then the charge of the run it starts
                    run = c.check = [K_CHECK_FI if intr_on else K_CHECK_F, 0, FC, FL]
                    out.append(run)
                elif intr_on:
                    c.check = [K_CHECK_I, 0, FL, 0]
                    out.append(c.check)
                elif osr is not None:
                    out.append([K_OSR, osr.left, osr, opener])
                barrier = len(out)
            ctl.append(c)
        elif op == 0x10:  # call
            ft = types[func_types[imm]]
            emit(K_CALL, imm, len(ft.params), len(ft.results))
            run = None   # the callee's entry check sees everything so far charged
        elif (op == 0x3A or op == 0x3C) and imm[2] == 0:  # i32/i64.store8
            out.append([K_STORE8, imm[1], 0, 0])
        elif op in _STORES:
            st, conv = _STORES[op]
            out.append([K_STORE if imm[2] == 0 else K_STOREM, st.pack_into, imm[1],
                        _store_convert(conv) if imm[2] == 0 else (_store_convert(conv), imm[2])])
        elif op == 0x0C:  # br
            emit_branch(imm, False, branch_heights[i - 1])
            run = None
            reachable = False
            i = ctl[-1].stop
        elif op == 0x04:  # if
            opener = i - 1
            stop = else_of.get(opener)
            c = _Ctl(2, opener, heights[opener], len(block_types[opener][1]), 0,
                     partner[opener] if stop is None else stop)
            prev = out[-1] if len(out) > barrier else None
            if prev is not None and prev[0] in (K_BIN, K_LL_BIN, K_LC_BIN, K_UN, K_L_UN):
                src = out.pop()
                if src[0] == K_BIN:
                    ins = [K_IF_BIN, -1, _cond(src[1]), 0]
                elif src[0] == K_UN:
                    ins = [K_IF_UN, -1, _cond(src[1]), 0]
                elif src[0] == K_L_UN:
                    ins = [K_IF_LUN, -1, src[1], _cond(src[2])]
                elif src[0] == K_LL_BIN:
                    ins = [K_IF_LLBIN, -1, (src[1], src[2]), _cond(src[3])]
                else:
                    ins = [K_IF_LCBIN, -1, (src[1], src[2]), _cond(src[3])]
                out.append(ins)
            else:
                emit(K_IF_FALSE, -1, 0, 0)
            c.if_fixup = len(out) - 1
            ctl.append(c)
            if run is not None and stop is not None:
                c.then_run = (run, run[1])   # the then arm's first run joins this one
            else:
                run = None
        elif op == 0x05:  # else
            c = ctl[-1]
            if reachable:
                emit(K_JMP, -1, 0, 0)
                c.fixups.append(len(out) - 1)
            out[c.if_fixup][1] = len(out)
            c.if_fixup = -1
            c.stop = partner[c.opener]
            barrier = len(out)
            run = None
            if c.then_run is not None:
                # the else arm's first run, less what the then arm's cost in advance
                run = [K_FUEL, 0, FC, 0]
                out.append(run)
                elses.append((run, c.then_run))
            reachable = True
        elif op == 0x1A:  # drop
            emit(K_DROP, 0, 0, 0)
        elif op == 0x1B or op == 0x1C:  # select
            emit(K_SELECT, 0, 0, 0)
        elif op == 0x23:
            emit(K_GGET, imm, 0, 0)
        elif op == 0x24:
            emit(K_GSET, imm, 0, 0)
        elif op == 0x11:  # call_indirect
            tidx, tab = imm
            ft = types[tidx]
            emit(K_CALL_INDIRECT, tidx, tab, (len(ft.params), len(ft.results)))
            run = None
        elif op >> 16 == 0xFD:  # SIMD (v128.const is handled above)
            how, f, a, b = R.simd_translate(op, imm)
            if how == "un":
                emit(K_UN, f, 0, 0)
            elif how == "bin":
                emit(K_BIN, f, 0, 0)
            else:
                emit(K_RARE, f, a, b)
        elif op == 0x0E:  # br_table
            height = branch_heights[i - 1]
            labels, default = imm
            entries = []
            fix = []
            for d in list(labels) + [default]:
                c = ctl[-1 - d]
                arity = c.arity
                if c.kind == 3 or height - arity == c.height:
                    h = -1   # no adjustment needed
                else:
                    h = c.height
                entries.append([c.loop_pc if c.kind == 1 else -1, h, arity])
                if c.kind != 1:
                    fix.append((c, len(entries) - 1))
            emit(K_BR_TABLE, entries, len(entries) - 1, 0)
            for c, j in fix:
                c.fixups.append((len(out) - 1, j))
            run = None
            reachable = False
            i = ctl[-1].stop
        elif op == 0x0F:  # return
            emit(K_RETURN, ctl[0].arity, 0, 0)
            run = None
            reachable = False
            i = ctl[-1].stop
        elif op == 0x00:
            emit(K_UNREACHABLE, 0, 0, 0)
            run = None
            reachable = False
            i = ctl[-1].stop
        elif op == 0x01:  # nop
            pass
        elif op == 0x1F or op == 0x06:  # try_table / legacy try
            opener = i - 1
            p, r = block_types[opener]
            if op == 0x06:
                cs = catches.get(opener)
                stop = cs[0] if cs else partner[opener]
            else:
                stop = partner[opener]
            c = _Ctl(4 if op == 0x1F else 5, opener, heights[opener], len(r), len(out), stop)
            c.outer_region = open_regions[-1] if open_regions else -1
            data: List[Any] = []
            if op == 0x1F:
                for ckind, tag, lab in imm[1]:
                    t = ctl[-1 - lab]
                    clause = [ckind, tag, -1, t.height]
                    if t.kind == 3:
                        clause[3] = -1
                        returns.append((clause, t.arity))
                    elif t.kind == 1:
                        clause[2] = t.loop_pc
                    else:
                        t.fixups.append(clause)
                    data.append(clause)
            elif cs:
                c.slot = len(local_types) + nslots
                nslots += 1
            c.region = len(regions)
            regions.append([len(out), -1, c.outer_region, 0 if op == 0x1F else 1, data])
            open_regions.append(c.region)
            ctl.append(c)
        elif op == 0x07 or op == 0x19:  # legacy catch / catch_all
            c = ctl[-1]
            reg = regions[c.region]
            if reg[1] < 0:   # the first: the try's body ends here
                reg[1] = len(out)
                open_regions.pop()
            if reachable:
                emit(K_JMP, -1, 0, 0)
                c.fixups.append(len(out) - 1)
            reg[4].append((imm if op == 0x07 else None, len(out), c.height, c.slot))
            cs = catches[c.opener]
            k = cs.index(i - 1) + 1
            c.stop = cs[k] if k < len(cs) else partner[c.opener]
            barrier = len(out)
            run = None
            reachable = True
        elif op == 0x08 or op == 0x0A or op == 0x09:  # throw / throw_ref / rethrow
            if op == 0x08:
                if tag_types is None:
                    tag_types = module.tag_types()
                emit(K_RARE, R.throw, imm, len(types[tag_types[imm]].params))
            else:
                if op == 0x09:
                    emit(K_LGET, ctl[-1 - imm].slot, 0, 0)
                emit(K_RARE, R.throw_ref, None, None)
            run = None
            reachable = False
            i = ctl[-1].stop
        elif op == 0x14:  # call_ref
            # call_indirect's kind with table -1: the callee is the popped reference
            ft = types[imm]
            emit(K_CALL_INDIRECT, imm, -1, (len(ft.params), len(ft.results)))
            run = None
        elif op == 0x12 or op == 0x13 or op == 0x15:  # return_call(_indirect/_ref)
            if op == 0x12:
                emit(K_TAIL_CALL, 0, imm, len(types[func_types[imm]].params))
            elif op == 0x13:
                emit(K_TAIL_CALL, 1, imm, len(types[imm[0]].params))
            else:
                emit(K_TAIL_CALL, 2, imm, len(types[imm].params))
            run = None
            reachable = False
            i = ctl[-1].stop
        else:
            # everything else runs as a "rare" handler: fn(S, inst, a, b)
            fn, a, b = R.lookup(op, imm, module)
            if fuel_on and lengths.get(i - 1, 0) is None:
                fn = _charge_length(fn, limits, op in GROW_OPS)
                run = None   # (a check point follows the operator)
            emit(K_RARE, fn, a, b)

    if record is not None:
        _record(record, out, cur, before, last, body)
    if tramps or elses:
        # what a run charges beyond a point, from the amounts accumulated above,
        # before any of them is adjusted
        gives = [(ins, r[1] - at) for ins, r, at in tramps]
        takes = [(e, r[1] - at) for e, (r, at) in elses]
        for ins, k in gives:
            if k:
                out.append([K_FUEL_JMP, ins[1], FC, k])
                ins[1] = len(out) - 1
        for e, k in takes:
            e[1] -= k
    for ins, chk in backs:
        ins[3] = chk[1]
    for clause, arity in returns:
        clause[2] = len(out)
        out.append([K_RETURN, arity, 0, 0])
    # (one pass: most instructions need only their tuple)
    code = [tuple(ins) if ins[0] not in _FINISH_KINDS else _finish(ins) for ins in out]
    local_init = [default_value(t) for t in local_types[len(ftype.params):]]
    if nslots:
        local_init += [None] * nslots
    handlers = None
    if regions:
        handlers = [(s, e, nx, k, tuple(tuple(d) for d in data)) for s, e, nx, k, data in regions]
    fc = FuncCode(code, len(ftype.params), len(ftype.results), local_init, ftype, nimp + index,
                  handlers)
    fc.src = (module, index, func_types, limits, entry_check, osr)
    return fc


# what a fusion into these keeps pointing at the fused operator (the part that can
# trap): local.set/tee, br_if, if
_FUSED_KEEP = frozenset((0x21, 0x22, 0x0D, 0x04))


def _record(record: List[int], out: List[List[Any]], cur: int, before: int, last: Any,
            body: List[Any]) -> None:
    """Note in ``record`` that the internal instructions wasm instruction ``cur``
    added to ``out`` (which held ``before`` entries, the last one ``last``: (entry,
    copy)) come from it; one it fused into an earlier entry too, unless it is a
    local.set-like consumer (the earlier operator is what can trap)."""
    if cur < 0:
        return
    m = len(out)
    del record[m:]
    changed = m < before or (m and m - 1 < before and last is not None
                             and (out[m - 1] is not last[0] or out[m - 1] != last[1]))
    while len(record) < m:
        record.append(cur)
    if changed and body[cur][0] not in _FUSED_KEEP:
        record[m - 1] = cur
