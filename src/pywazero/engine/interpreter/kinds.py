"""Instruction kinds of the interpreter's internal code (see compile.py).

The numbering is the dispatch order: machine code in __init__.py tests ``k < 8``,
``k < 16``... and then compares against these numbers as literals, so the hottest
kinds come first.  Keep both files in sync.  The order is by measured dispatch
counts (2026-12): the C programs of bench/programs on the interpreter engine and
QuickJS's start-up on the compiler's cheap tier (K_OSR among them) rank alike, LGET,
LTEE, LOAD and C_BIN first; the execution-limit kinds stay last (_limits_first)."""
from typing import TYPE_CHECKING

K_LGET = 0
K_LTEE = 1
K_LOAD = 2
K_C_BIN = 3
K_LC_ADD = 4
K_LC_ADD_LSET = 5
K_C_ADD = 6
K_LC_BIN = 7

# local.tee a, then a binary operator (c) with constant b on the tee'd value, not an
# integer add/sub (those become C_ADD): a C program's `x = ...; x & 0xff`
K_LTEE_C_BIN = 8

# local.get then a load from memory 0 at that address: a is the unpacker, b the
# offset, c (convert or None, the local)
K_L_LOAD = 9
K_STORE = 10
K_BR_IF = 11
K_BIN = 12
# local.get then i32/i64.load8_u from memory 0: a the local, b the offset
K_L_LOAD8U = 13
K_LGET_LSET = 14
K_JMP = 15
K_ADD = 16
K_LOAD8U = 17
K_CONST_LSET = 18
K_BR_IF_LCBIN = 19
K_BR_TABLE = 20
# a loop header of a function the compiler engine runs here on its cheap tier
# (emitted only then, never with limits on): when the frame's operand stack is
# empty, counts down a[0] (shared by the function's loops) and from zero on calls b,
# the compiler's hook, as ``b(L, c, fi, depth)`` with c the loop's body index; a
# result list returns it as the frame's results
K_OSR = 21
K_L_BIN = 22
K_LL_BIN = 23
K_CONST = 24
K_BR_IF_BIN = 25
K_BR_IF_UN = 26
K_LSET = 27
K_LL_ADD = 28
K_CALL = 29
K_CALL_INDIRECT = 30
K_RETURN = 31
K_L_UN = 32
K_STORE8 = 33
K_SELECT = 34
K_UN = 35
K_LL_ADD_LSET = 36
K_BIN_LSET = 37
K_BR_IF_LUN = 38
K_BR_IF_LLBIN = 39
K_LC_BIN_LSET = 40
K_GSET = 41
K_DROP = 42
K_GGET = 43
K_LL_BIN_LSET = 44
K_IF_FALSE = 45
K_IF_LCBIN = 46
K_IF_LLBIN = 47
K_IF_BIN = 48
K_IF_UN = 49
K_IF_LUN = 50
K_BR_A = 51
K_BR_IF_A = 52
K_RARE = 53
K_LOADM = 54
K_STOREM = 55
K_UNREACHABLE = 56
# a tail call (return_call / return_call_indirect / return_call_ref): a is the
# mode (0 direct: b the function index; 1 through a table: b (type index, table
# index); 2 through a reference on the stack: b the type index), c the callee's
# parameter count.  The last of the kinds of the dispatch's last group.
K_TAIL_CALL = 57
# execution limits (emitted only when the runtime has fuel or interruption on)
K_FUEL = 58          # charge a (fuel cell b): the start of a straight-line run
K_CHECK_F = 59       # loop header: trap if fuel <= 0, then charge a
K_CHECK_I = 60       # loop header or function entry: trap if the flag (cell b) is set
K_CHECK_FI = 61      # loop header: both (flag cell c)
K_ENTRY_F = 62       # function entry: charge 1, trap if fuel <= 0, charge a
K_ENTRY_FI = 63      # function entry: both (flag cell c)
K_FUEL_JMP = 64      # give back c (to fuel cell b) and jump to a: a taken forward br_if
K_JMP_CHECK_F = 65   # a loop's back-edge `br` doing its header's CHECK_F (charge c), to a
K_JMP_CHECK_I = 66   # a loop's back-edge `br` doing its header's CHECK_I, to a

KIND_NAMES = {v: k[2:] for k, v in list(globals().items()) if k.startswith('K_')}
if not TYPE_CHECKING:
    # (computed; a type checker, which cannot compute it, sees every public name)
    __all__ = [k for k in list(globals()) if k.startswith('K_')]
