"""On-stack replacement for the compiler engine's cheap tier.

A cold function of a large module first runs on the interpreter (see
``CompiledWasm.tiered``).  A loop that turns out to be hot in such a call moves to
compiled code at its header: :func:`osr_function` builds, as a WebAssembly function,
the *rest of the function from that loop header*, which the compiler then translates
like any other function:

* its parameters are the original function's parameters and locals (their values at
  the loop header), then one more, ``o`` (0 on entry);
* every construct around the loop keeps its place, but the code in it before the
  construct (or loop) the path to the loop goes through runs only when ``o`` is set
  (``local.get o; if ... end``); ``o`` is set right before the loop, so the first
  entry skips everything up to the loop and any later pass (an enclosing loop's next
  iteration) runs it all as the original does;
* an ``if`` on the path gets its condition from that same guard: the original
  condition when ``o`` is set, else the constant selecting the arm the loop is in.

Called with ``o`` = 1 and the locals at their initial values, the same function *is*
the original function: the engine gives the translated code defaults for the
parameters that were locals (and 1 for ``o``), and uses it for all later calls too,
so a function entered through a hot loop is translated once.

Only loops whose operand stack is empty at the header (C's loops) and whose
enclosing constructs are ``block``/``loop``/``if`` without parameters qualify, and
the guarded code may branch only with ``br``/``br_if``/``br_table`` (their label
indices are renumbered past the new ``if``).  The result is validated like any body
(``validate_function``), so a transformation bug surfaces as a ValidationError
(the caller then keeps interpreting) rather than as wrong code.
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

from ...wasm.types import FuncType

__all__ = ["osr_function"]

_BLOCK, _LOOP, _IF, _ELSE, _END = 0x02, 0x03, 0x04, 0x05, 0x0B
_BR, _BR_IF, _BR_TABLE = 0x0C, 0x0D, 0x0E
_LOCAL_GET, _LOCAL_SET, _I32_CONST = 0x20, 0x21, 0x41
_EMPTY, _I32_RESULT = -64, -1
_I32 = 0x7F
# instructions opening a construct (their `end` closes it)
_OPENERS = frozenset((0x02, 0x03, 0x04, 0x06, 0x1F))
# instructions naming a label other than br/br_if/br_table (and legacy try's
# clauses): code holding one is not rewritten
_OTHER_LABELS = frozenset((0x06, 0x07, 0x09, 0x18, 0x19, 0x1F, 0xD5, 0xD6, (0xFB << 16) | 24,
                           (0xFB << 16) | 25))


def _path(body: List[Tuple[int, Any]], loop_at: int) -> Optional[List[Tuple[int, int]]]:
    """The constructs open at ``body[loop_at]``, outermost first, as ``(opener,
    start of the arm the loop is in)``; None when one is not a block/loop/if."""
    stack: List[List[int]] = []
    for i in range(loop_at):
        op = body[i][0]
        if op in _OPENERS:
            stack.append([i, i + 1])
        elif op == _ELSE:
            stack[-1][1] = i + 1
        elif op == _END:
            stack.pop()
        elif op == 0x18 or op == 0x07 or op == 0x19:   # legacy try's delegate/catch
            return None
    out = []
    for opener, start in stack:
        if body[opener][0] not in (_BLOCK, _LOOP, _IF):
            return None
        out.append((opener, start))
    return out


def _guarded(code: List[Tuple[int, Any]]) -> Optional[List[Tuple[int, Any]]]:
    """``code`` with the label indices that leave it shifted by one (it is wrapped in
    a new ``if``); None if it names labels in another way."""
    out = []
    depth = 0
    for ins in code:
        op, imm = ins
        if op in _OPENERS:
            depth += 1
        elif op == _END:
            depth -= 1
        elif op == _BR or op == _BR_IF:
            if imm >= depth:
                ins = (op, imm + 1)
        elif op == _BR_TABLE:
            labels, default = imm
            ins = (op, (tuple(n + 1 if n >= depth else n for n in labels),
                        default + 1 if default >= depth else default))
        elif op in _OTHER_LABELS:
            return None
        out.append(ins)
    return out


def osr_function(module: Any, index: int, loop_at: int) -> Optional[Tuple[FuncType, Any]]:
    """``(type, body)`` of the function continuing defined function
    ``index`` of ``module`` from the header of its loop at ``body[loop_at]`` (see the
    module docstring), or None when that loop does not qualify.  The function's
    ``FunctionInfo`` (``info``) must be known."""
    func = module.funcs[index]
    body = func.body
    info = func.info
    if body[loop_at][0] != _LOOP or info.heights.get(loop_at) != 0:
        return None
    path = _path(body, loop_at)
    if path is None:
        return None
    block_types = info.block_types
    for opener, _ in path + [(loop_at, 0)]:
        if block_types[opener][0]:   # (a construct with parameters)
            return None
    ftype = module.types[func.type_index]
    local_types = list(ftype.params) + func.local_types()
    o = len(local_types)
    out: List[Tuple[int, Any]] = []
    # level by level: the code of the construct (the function's body first) up to
    # the next construct on the path, guarded by `o`
    starts = [0] + [start for _, start in path]
    children = [opener for opener, _ in path] + [loop_at]
    for level, child in enumerate(children):
        start = starts[level]
        if level:
            opener, arm = path[level - 1]
            if body[opener][0] == _IF and arm != opener + 1:
                # the loop is in the else arm: the then arm stays as it is
                out.extend(body[opener + 1:arm])
        guarded = _guarded(body[start:child])
        if guarded is None:
            return None
        if body[child][0] == _IF:
            # the guard gives the if its condition: the original one, or the arm
            # the path takes
            in_then = path[level][1] == child + 1
            out += [(_LOCAL_GET, o), (_IF, _I32_RESULT)] + guarded + [
                (_ELSE, None), (_I32_CONST, 1 if in_then else 0), (_END, None)]
            out.append(body[child])
        else:
            if guarded:
                out += [(_LOCAL_GET, o), (_IF, _EMPTY)] + guarded + [(_END, None)]
            if child == loop_at:
                out += [(_I32_CONST, 1), (_LOCAL_SET, o)]
            out.append(body[child])
    out.extend(body[loop_at + 1:])
    return FuncType(tuple(local_types) + (_I32,), tuple(ftype.results)), out
