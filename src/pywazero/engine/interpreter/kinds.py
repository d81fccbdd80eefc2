"""Instruction kinds of the interpreter's internal code (see compile.py).

The numbering is the dispatch order: machine code in __init__.py tests ``k < 8``,
``k < 16``... and then compares against these numbers as literals, so the hottest
kinds come first.  Keep both files in sync."""
from typing import TYPE_CHECKING

K_LGET = 0
K_LC_ADD = 1
K_LL_BIN = 2
K_LC_BIN = 3
K_LSET = 4
K_CONST = 5
K_BR_IF_LLBIN = 6
K_BR_IF_LCBIN = 7
K_LC_ADD_LSET = 8
K_BIN = 9
K_BIN_LSET = 10
K_LL_BIN_LSET = 11
K_LC_BIN_LSET = 12
K_ADD = 13
K_C_ADD = 14
K_JMP = 15
K_LL_ADD = 16
K_BR_IF = 17
K_BR_IF_BIN = 18
K_LOAD = 19
K_STORE = 20
K_LTEE = 21
K_CALL = 22
K_CALL_INDIRECT = 23
K_RETURN = 24
K_GGET = 25
K_GSET = 26
K_IF_LCBIN = 27
K_IF_LLBIN = 28
K_IF_BIN = 29
K_IF_FALSE = 30
K_LL_ADD_LSET = 31
K_LOAD8U = 32
K_STORE8 = 33
K_C_BIN = 34
K_L_BIN = 35
K_UN = 36
K_L_UN = 37
K_CONST_LSET = 38
K_LGET_LSET = 39
K_DROP = 40
K_SELECT = 41
K_BR_IF_UN = 42
K_BR_IF_LUN = 43
K_IF_UN = 44
K_IF_LUN = 45
K_BR_A = 46
K_BR_IF_A = 47
K_BR_TABLE = 48
K_RARE = 49
K_LOADM = 50
K_STOREM = 51
K_UNREACHABLE = 52
# a tail call (return_call / return_call_indirect / return_call_ref): a is the
# mode (0 direct: b the function index; 1 through a table: b (type index, table
# index); 2 through a reference on the stack: b the type index), c the callee's
# parameter count.  The last of the kinds of the dispatch's last group.
K_TAIL_CALL = 53
# execution limits (emitted only when the runtime has fuel or interruption on)
K_FUEL = 54          # charge a (fuel cell b): the start of a straight-line run
K_CHECK_F = 55       # loop header: trap if fuel <= 0, then charge a
K_CHECK_I = 56       # loop header or function entry: trap if the flag (cell b) is set
K_CHECK_FI = 57      # loop header: both (flag cell c)
K_ENTRY_F = 58       # function entry: charge 1, trap if fuel <= 0, charge a
K_ENTRY_FI = 59      # function entry: both (flag cell c)
K_FUEL_JMP = 60      # give back c (to fuel cell b) and jump to a: a taken forward br_if
K_JMP_CHECK_F = 61   # a loop's back-edge `br` doing its header's CHECK_F (charge c), to a
K_JMP_CHECK_I = 62   # a loop's back-edge `br` doing its header's CHECK_I, to a
# a loop header of a function the compiler engine runs here on its cheap tier
# (emitted only then, never with limits on): when the frame's operand stack is
# empty, counts down a[0] (shared by the function's loops) and from zero on calls b,
# the compiler's hook, as ``b(L, c, fi, depth)`` with c the loop's body index; a
# result list returns it as the frame's results
K_OSR = 63

KIND_NAMES = {v: k[2:] for k, v in list(globals().items()) if k.startswith('K_')}
if not TYPE_CHECKING:
    # (computed; a type checker, which cannot compute it, sees every public name)
    __all__ = [k for k in list(globals()) if k.startswith('K_')]
