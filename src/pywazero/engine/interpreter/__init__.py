"""The interpreter: pywazero's portable reference engine.

Each function body is translated once per module into a compact internal code
(:mod:`.compile`); :func:`execute` runs it with an explicit frame stack, so wasm to
wasm calls never use Python recursion, and a tail call (``K_TAIL_CALL``) replaces
the running frame instead of pushing one.  See docs/ARCHITECTURE.md.
"""
from __future__ import annotations

import functools
import struct
from typing import Any, Dict, List, Optional, Tuple, Union

from ...errors import Trap, WasmException
from ...wasm.impl_limits import INTERPRETER_MAX_STACK_SLOTS
from ...wasm.diagnostics import wasm_frame
from ...wasm.instance import HostFunctionInstance, WasmFunctionInstance
from ...wasm.subtyping import func_subtype
from .. import CompiledCode, Engine, _counted_invoke, call_depth
from ..limits import bind_cells, needs_count
from ..pause import collector_paused
from ..stack import DEEP, MAX_HOST_NESTING, undeepen
from ..listen import ListenedEngine, hooks_for
from .compile import FuncCode, compile_function
from .kinds import (K_CHECK_F, K_CHECK_I, K_ENTRY_F, K_FUEL, K_FUEL_JMP, K_JMP_CHECK_F, K_JMP_CHECK_I,
                    K_TAIL_CALL)

__all__ = ["InterpreterEngine", "InterpretedModule", "FuncCode", "execute"]


class InterpretedModule(CompiledCode):
    """The interpreter's per-module code: functions are translated lazily, on
    first call, and kept for every later instance."""

    def __init__(self, module: Any, limits: Any = None, listen: Any = None) -> None:
        self.module = module
        # function listeners (engine/listen.py): hooks per defined function
        self.listen = listen
        self._hooks: Dict[int, Any] = {}
        # fuel / interruption on: the code gets check points (see compile.py)
        self.limits = limits if limits is not None and (limits.consume_fuel or limits.interruptible) else None
        # interruption checked by the loop at calls rather than at function entries
        self._calls_check = calls_check_interrupts(self.limits)
        self.func_types = module.func_types()
        self.codes: List[Any] = [None] * len(module.funcs)
        nimp = len(self.func_types) - len(module.funcs)
        self._stubs = [_LazyCode(self, i, nimp + i) for i in range(len(module.funcs))]

    def function_code(self, index: int) -> Any:
        code = self.codes[index]
        return code if code is not None else self._stubs[index]

    def bind(self, instance: Any) -> None:
        listen = self.listen
        if listen is None:
            return
        # a listened function runs as another engine's would: its ListenedEngine
        # calls the hooks around the interpreter's run of it
        funcs = instance.funcs
        nimp = len(self.func_types) - len(self.codes)
        for i in range(len(self.codes)):
            fi = funcs[nimp + i]
            hooks = hooks_for(self._hooks, listen, i, fi)
            if hooks is not None:
                fi.engine = ListenedEngine(fi.engine, hooks)

    def translate(self, index: int) -> FuncCode:
        code: Optional[FuncCode] = self.codes[index]
        if code is None:
            with collector_paused():
                code = compile_function(self.module, index, self.func_types, self.limits,
                                        entry_check=not self._calls_check)
            self.codes[index] = code
        return code

    def adopt(self, other: CompiledCode) -> None:
        # (a function's translation reads only its body and the module's types,
        # mutability and address types: the same in a snapshot)
        if isinstance(other, InterpretedModule) and len(other.codes) == len(self.codes) \
                and other.limits is self.limits:
            self.codes = list(other.codes)

    def translate_all(self) -> None:
        for i in range(len(self.codes)):
            self.translate(i)

    def close(self) -> None:
        # Instances created earlier still reference this object (through their
        # functions' lazy stubs) and must keep working; dropping the CompiledModule's
        # reference is all closing does, the memory goes with the last instance.
        pass


class _LazyCode:
    """Placeholder for a function not translated yet (``WasmFunctionInstance.code``
    is replaced by the real :class:`FuncCode` on first call)."""

    __slots__ = ("owner", "index", "func_index")

    def __init__(self, owner: InterpretedModule, index: int, func_index: int) -> None:
        self.owner = owner
        self.index = index
        self.func_index = func_index

    def resolve(self) -> FuncCode:
        return self.owner.translate(self.index)


class InterpreterEngine(Engine):
    name = "interpreter"

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.max_depth = config.max_call_depth
        lim = self.limits
        #: the loop that runs this engine's code (execute_limited when the code has
        #: check points)
        self.execute = (execute_limited() if lim.consume_fuel else
                        execute_interruptible() if lim.interruptible else execute)
        # ``engine.invoke(fn, args)`` without an extra Python frame
        self.invoke = functools.partial(self.execute, self)  # type: ignore[method-assign]
        if self.limits.interruptible:
            # every call from Python is counted (limits.ExecutionLimits.enter)
            self.invoke = _counted_invoke(self.invoke, self.limits)  # type: ignore[method-assign]

    def compile_module(self, module: Any) -> InterpretedModule:
        return InterpretedModule(module, self.limits, self.listen)

    def entry(self, fn: Any) -> Any:
        """As :meth:`Engine.entry`; when interruptible, with the running-call count
        (``ExecutionLimits.enter``/``leave``) inline rather than through
        ``invoke``'s wrapper."""
        lim = self.limits
        if not lim.interruptible:
            return super().entry(fn)
        calls = lim.calls
        flag = 0   # (bound to lim.flag below)
        flagged = lim._flagged_entry
        run = self.execute
        engine = self
        nres = len(fn.type.results)

        def entry(*args: Any) -> Any:
            if flag:
                flagged()
            calls.append(1)
            try:
                res = run(engine, fn, list(args))
            finally:
                calls.pop()
            if nres == 1:
                return res[0]
            return tuple(res) if nres else None

        def flag_only(*args: Any) -> Any:   # no check points in fn: limits.needs_count
            if flag:
                flagged()
            res = run(engine, fn, list(args))
            if nres == 1:
                return res[0]
            return tuple(res) if nres else None

        return bind_cells(entry if needs_count(fn) else flag_only, {"flag": lim.flag})

    def invoke(self, fn: WasmFunctionInstance, args: List[Any]) -> List[Any]:
        return execute(self, fn, args)


class _Passthrough(Exception):
    """Carries an exception raised by a host function through the dispatch loop,
    whose handlers would otherwise translate it (e.g. ``struct.error``)."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _call_other(f: Any, args: List[Any], inst: Any, depth: int) -> List[Any]:
    """Call a host function, or a wasm function of another engine."""
    hosts = call_depth.hosts
    if hosts >= MAX_HOST_NESTING:
        # each wasm -> host -> wasm level costs C stack: trap before it runs out
        raise Trap("call stack exhausted")
    saved = call_depth.depth
    call_depth.depth = depth
    call_depth.hosts = hosts + 1
    try:
        if f.__class__ is HostFunctionInstance:
            res = f.raw(inst, args)
        else:
            res = f.call(args)
    except (struct.error, OverflowError, IndexError, RecursionError) as e:
        if isinstance(e, RecursionError):
            raise
        raise _Passthrough(e)  # noqa: B904 - the wrapper carries e itself
    finally:
        call_depth.depth = saved
        call_depth.hosts = hosts
        if DEEP[0] and not saved:
            # compiled wasm under this outermost interpreter call raised the recursion
            # limit (engine/stack.py): nothing below needs it any more
            undeepen()
    return res


# A call stack of functions with tens of thousands of locals each would take
# gigabytes long before max_call_depth frames (as in wasmtime, whose stack limit is
# in bytes, such frames exhaust the stack sooner): calls of functions with more than
# _BIG_FRAME locals check that all frames' locals together stay within
# INTERPRETER_MAX_STACK_SLOTS (the check walks the frames, so only these pay for it).
_BIG_FRAME = 4096


def _too_many_slots(frames: List[Any], fc: FuncCode) -> bool:
    total = len(fc.local_init)
    for fr in frames:
        total += len(fr[2])
    return total > INTERPRETER_MAX_STACK_SLOTS


def _resolve(f: WasmFunctionInstance) -> FuncCode:
    code: Union[FuncCode, _LazyCode] = f.code
    if code.__class__ is _LazyCode:
        code = code.resolve()
        f.code = code
    return code  # type: ignore[return-value]  # (a stub was resolved above)


def execute(engine: InterpreterEngine, fi: WasmFunctionInstance, args: List[Any]) -> List[Any]:
    """Run ``fi`` with raw ``args`` to completion and return its raw results."""
    base = call_depth.depth
    limit = engine.max_depth - base - 1
    if limit < 0:
        raise Trap("call stack exhausted", [fi.name])
    fc = _resolve(fi)
    L = list(args)
    L += fc.local_init
    S: List[Any] = []
    code = fc.code
    pc = 0
    inst = fi.module
    G = inst.globals
    F = inst.funcs
    data = inst.mems[0].data if inst.mems else None
    frames: List[Any] = []
    WFI = WasmFunctionInstance
    LAZY = _LazyCode
    while True:   # (re-entered after a wasm exception was caught)
        try:
            while True:
                k, a, b, c = code[pc]
                pc += 1
                # Two-level dispatch: groups of 8 kinds, hottest first (see kinds.py).
                if k < 8:
                    if k == 0:  # LGET
                        S.append(L[a])
                    elif k == 1:  # LTEE
                        L[a] = S[-1]
                    elif k == 2:  # LOAD
                        v = a(data, S[-1] + b)[0]
                        S[-1] = v if c is None else c(v)
                    elif k == 3:  # C_BIN
                        S[-1] = b(S[-1], a)
                    elif k == 4:  # LC_ADD
                        S.append((L[a] + b) & c)
                    elif k == 5:  # LC_ADD_LSET
                        L[c[1]] = (L[a] + b) & c[0]
                    elif k == 6:  # C_ADD
                        S[-1] = (S[-1] + a) & b
                    elif k == 7:  # LC_BIN
                        S.append(c(L[a], b))
                elif k < 16:
                    if k == 8:  # LTEE_C_BIN
                        v = S[-1]
                        L[a] = v
                        S[-1] = c(v, b)
                    elif k == 9:  # L_LOAD
                        v = a(data, L[c[1]] + b)[0]
                        S.append(v if c[0] is None else c[0](v))
                    elif k == 10:  # STORE
                        v = S.pop()
                        if c is not None:
                            v = c(v)
                        a(data, S.pop() + b, v)
                    elif k == 11:  # BR_IF
                        if S.pop():
                            pc = a
                    elif k == 12:  # BIN
                        y = S.pop()
                        S[-1] = a(S[-1], y)
                    elif k == 13:  # L_LOAD8U
                        S.append(data[L[a] + b])  # type: ignore[index]
                    elif k == 14:  # LGET_LSET
                        L[b] = L[a]
                    elif k == 15:  # JMP
                        pc = a
                elif k < 24:
                    if k == 16:  # ADD
                        y = S.pop()
                        S[-1] = (S[-1] + y) & a
                    # (data: the memory, which validated code accessing it has)
                    elif k == 17:  # LOAD8U
                        S[-1] = data[S[-1] + a]  # type: ignore[index]
                    elif k == 18:  # CONST_LSET
                        L[b] = a
                    elif k == 19:  # BR_IF_LCBIN
                        if c(L[b[0]], b[1]):
                            pc = a
                    elif k == 20:  # BR_TABLE
                        i = S.pop()
                        if i >= b:
                            i = b
                        pc, h, n = a[i]
                        if h >= 0:
                            if n == 0:
                                del S[h:]
                            else:
                                S[h:] = S[len(S) - n:]
                    elif k == 21:  # OSR: a loop header on the compiler's cheap tier
                        if not S:
                            v = a[0] - 1
                            a[0] = v
                            ran = b(L, c, fi, base + len(frames) + 1) if v <= 0 else None
                            if ran is not None:
                                # the rest of the call ran compiled: return its results
                                if not frames:
                                    return ran  # type: ignore[no-any-return]  # (the hook's results list)
                                code, pc, L, S, fi = frames.pop()
                                S += ran
                                if fi.module is not inst:
                                    inst = fi.module
                                    G = inst.globals
                                    F = inst.funcs
                                    data = inst.mems[0].data if inst.mems else None
                    elif k == 22:  # L_BIN
                        S[-1] = b(S[-1], L[a])
                    elif k == 23:  # LL_BIN
                        S.append(c(L[a], L[b]))
                elif k < 32:
                    if k == 24:  # CONST
                        S.append(a)
                    elif k == 25:  # BR_IF_BIN
                        y = S.pop()
                        if b(S.pop(), y):
                            pc = a
                    elif k == 26:  # BR_IF_UN
                        if b(S.pop()):
                            pc = a
                    elif k == 27:  # LSET
                        L[a] = S.pop()
                    elif k == 28:  # LL_ADD
                        S.append((L[a] + L[b]) & c)
                    elif k == 29 or k == 30:  # CALL / CALL_INDIRECT
                        if k == 29:
                            f = F[a]
                        elif b < 0:   # call_ref
                            f = S.pop()
                            if f is None:
                                raise Trap("null function reference")
                            b = c[0]
                        else:
                            i = S.pop()
                            elems = inst.tables[b].elements
                            if i >= len(elems):
                                raise Trap("undefined element")
                            f = elems[i]
                            if f is None:
                                raise Trap("uninitialized element")
                            ft = inst.types[a]
                            if f.type is not ft and f.type != ft and not func_subtype(f.type, ft):
                                raise Trap("indirect call type mismatch")
                            b = c[0]
                        n = len(S) - b
                        if f.__class__ is WFI and f.engine is not engine:
                            # (another engine's function that runs on this loop
                            # for now: the compiler's cheap tier, see tier_enter)
                            enter = getattr(f.code, "tier_enter", None)
                            if enter is not None:
                                p = enter(f)
                                if p is not None:
                                    f = p
                        if f.__class__ is WFI and f.engine is engine:
                            if len(frames) >= limit:
                                raise Trap("call stack exhausted")
                            fc = f.code
                            if fc.__class__ is LAZY:
                                fc = _resolve(f)
                            if b == 1:
                                L2 = [S.pop()]
                            else:
                                L2 = S[n:]
                                del S[n:]
                            if fc.local_init:
                                if len(fc.local_init) > _BIG_FRAME and _too_many_slots(frames, fc):
                                    raise Trap("call stack exhausted")
                                L2 += fc.local_init
                            frames.append((code, pc, L, S, fi))
                            fi = f
                            code = fc.code
                            pc = 0
                            L = L2
                            S = []
                            if f.module is not inst:
                                inst = f.module
                                G = inst.globals
                                F = inst.funcs
                                data = inst.mems[0].data if inst.mems else None
                        else:
                            args = S[n:]
                            del S[n:]
                            S += _call_other(f, args, inst, base + len(frames) + 1)
                    elif k == 31:  # RETURN
                        if not frames:
                            return S[len(S) - a:] if a else []
                        if a == 1:
                            v = S[-1]
                            code, pc, L, S, fi = frames.pop()
                            S.append(v)
                        elif a == 0:
                            code, pc, L, S, fi = frames.pop()
                        else:
                            res = S[len(S) - a:]
                            code, pc, L, S, fi = frames.pop()
                            S += res
                        if fi.module is not inst:
                            inst = fi.module
                            G = inst.globals
                            F = inst.funcs
                            data = inst.mems[0].data if inst.mems else None
                elif k < 40:
                    if k == 32:  # L_UN
                        S.append(b(L[a]))
                    elif k == 33:  # STORE8
                        v = S.pop()
                        data[S.pop() + a] = v & 0xFF  # type: ignore[index]
                    elif k == 34:  # SELECT
                        cond = S.pop()
                        y = S.pop()
                        if not cond:
                            S[-1] = y
                    elif k == 35:  # UN
                        S[-1] = a(S[-1])
                    elif k == 36:  # LL_ADD_LSET
                        L[c[1]] = (L[a] + L[b]) & c[0]
                    elif k == 37:  # BIN_LSET
                        y = S.pop()
                        L[b] = a(S.pop(), y)
                    elif k == 38:  # BR_IF_LUN
                        if c(L[b]):
                            pc = a
                    elif k == 39:  # BR_IF_LLBIN
                        if c(L[b[0]], L[b[1]]):
                            pc = a
                elif k < 48:
                    if k == 40:  # LC_BIN_LSET
                        L[c[1]] = c[0](L[a], b)
                    elif k == 41:  # GSET
                        G[a].value = S.pop()
                    elif k == 42:  # DROP
                        S.pop()
                    elif k == 43:  # GGET
                        S.append(G[a].value)
                    elif k == 44:  # LL_BIN_LSET
                        L[c[1]] = c[0](L[a], L[b])
                    elif k == 45:  # IF_FALSE
                        if not S.pop():
                            pc = a
                    elif k == 46:  # IF_LCBIN
                        if not c(L[b[0]], b[1]):
                            pc = a
                    elif k == 47:  # IF_LLBIN
                        if not c(L[b[0]], L[b[1]]):
                            pc = a
                else:
                    if k == 48:  # IF_BIN
                        y = S.pop()
                        if not b(S.pop(), y):
                            pc = a
                    elif k == 49:  # IF_UN
                        if not b(S.pop()):
                            pc = a
                    elif k == 50:  # IF_LUN
                        if not c(L[b]):
                            pc = a
                    elif k == 51 or k == 52:  # BR_A / BR_IF_A (with stack adjustment)
                        if k == 52 and not S.pop():
                            continue
                        if c == 0:
                            del S[b:]
                        elif c == 1:
                            v = S[-1]
                            del S[b:]
                            S.append(v)
                        else:
                            S[b:] = S[len(S) - c:]
                        pc = a
                    elif k == 53:  # RARE
                        a(S, inst, b, c)
                    elif k == 54:  # LOADM
                        v = a(inst.mems[c[1]].data, S[-1] + b)[0]
                        S[-1] = v if c[0] is None else c[0](v)
                    elif k == 55:  # STOREM
                        v = S.pop()
                        if c[0] is not None:
                            v = c[0](v)
                        a(inst.mems[c[1]].data, S.pop() + b, v)
                    elif k == 56:  # UNREACHABLE
                        raise Trap("unreachable")
                    elif k == 57:  # TAIL_CALL: the callee replaces this frame
                        # (THE tail call of this engine: return_call (a == 0),
                        # return_call_indirect (1) and return_call_ref (2) only differ
                        # in how the FunctionInstance is found)
                        if a == 0:
                            f = F[b]
                        elif a == 1:
                            i = S.pop()
                            elems = inst.tables[b[1]].elements
                            if i >= len(elems):
                                raise Trap("undefined element")
                            f = elems[i]
                            if f is None:
                                raise Trap("uninitialized element")
                            ft = inst.types[b[0]]
                            if f.type is not ft and f.type != ft and not func_subtype(f.type, ft):
                                raise Trap("indirect call type mismatch")
                        else:
                            f = S.pop()
                            if f is None:
                                raise Trap("null function reference")
                        n = len(S) - c
                        if f.__class__ is WFI and f.engine is engine:
                            fc = f.code
                            if fc.__class__ is LAZY:
                                fc = _resolve(f)
                            L = S[n:]
                            if fc.local_init:
                                if len(fc.local_init) > _BIG_FRAME and _too_many_slots(frames, fc):
                                    raise Trap("call stack exhausted")
                                L += fc.local_init
                            # the caller's frame is reused: no frame is pushed, so a
                            # chain of tail calls runs in constant space
                            fi = f
                            code = fc.code
                            pc = 0
                            S = []
                            if f.module is not inst:
                                inst = f.module
                                G = inst.globals
                                F = inst.funcs
                                data = inst.mems[0].data if inst.mems else None
                        else:
                            # a host function (or another engine's): a call, then return
                            # its results (run at this frame's depth: this one is gone)
                            res = _call_other(f, S[n:], inst, base + len(frames))
                            if not frames:
                                return res
                            code, pc, L, S, fi = frames.pop()
                            S += res
                            if fi.module is not inst:
                                inst = fi.module
                                G = inst.globals
                                F = inst.funcs
                                data = inst.mems[0].data if inst.mems else None
                    # execution limits (only in code translated with them on).  Keep this
                    # chain last, starting with K_FUEL: execute_limited (_limits_first)
                    # is this function with the chain moved to the front.
                    elif k == 58:  # FUEL: charge a straight-line run
                        b.cell_contents -= a
                    elif k == 65:  # JMP_CHECK_F: a loop's back-edge, with its header's check
                        v = b.cell_contents
                        if v <= 0:   # (nothing left, or the reserve refills the cell)
                            v = engine.limits.refill()
                        b.cell_contents = v - c
                        pc = a
                    elif k == 66:  # JMP_CHECK_I: the same for interruption
                        if b.cell_contents:
                            engine.limits.interrupted()
                        pc = a
                    elif k == 59:  # CHECK_F: loop header
                        v = b.cell_contents
                        if v <= 0:
                            v = engine.limits.refill()
                        b.cell_contents = v - a
                    elif k == 60:  # CHECK_I: loop header or function entry
                        if b.cell_contents:
                            engine.limits.interrupted()
                    elif k == 61:  # CHECK_FI: loop header (flag first, as the compiler)
                        if c.cell_contents:
                            engine.limits.interrupted()
                        v = b.cell_contents
                        if v <= 0:
                            v = engine.limits.refill()
                        b.cell_contents = v - a
                    elif k == 62 or k == 63:  # ENTRY_F / ENTRY_FI: function entry
                        v = b.cell_contents - 1
                        b.cell_contents = v - a
                        if v <= 0:
                            engine.limits.refill(a)
                        if k == 63 and c.cell_contents:
                            engine.limits.interrupted()
                    elif k == 64:  # FUEL_JMP: a taken forward branch's trampoline
                        b.cell_contents += c
                        pc = a
                    else:
                        raise AssertionError(f"bad internal instruction {k}")
        except (struct.error, OverflowError, IndexError):
            # In validated code only memory accesses can fail this way: struct's
            # unpack_from/pack_into and the byte accesses of LOAD8U/STORE8 (addresses are
            # never negative).  Host functions' exceptions come wrapped in _Passthrough.
            trap = Trap("out of bounds memory access")
            _stack(trap, fi, code, pc, frames)
            raise trap from None
        except Trap as trap:
            _stack(trap, fi, code, pc, frames)
            raise
        except RecursionError:
            # (rebinding the name the Trap clause used, as the first clause does)
            trap = Trap("call stack exhausted")  # type: ignore[misc]
            _stack(trap, fi, code, pc, frames)  # type: ignore[misc]
            raise trap from None  # type: ignore[misc]
        except _Passthrough as p:
            host_exc = p.exc
            break
        except WasmException as e:
            exc = e
        # a wasm exception: the innermost handler of this frame, else of its callers
        while True:
            regions = fi.code.handlers
            # (not after a tail call to another engine's function: this frame is
            # gone, its handlers with it)
            if regions is not None and code[pc - 1][0] != K_TAIL_CALL:
                npc = _catch(regions, pc - 1, exc, S, L, fi.module.tags)
                if npc >= 0:
                    break
            if not frames:
                raise exc
            code, pc, L, S, fi = frames.pop()
        pc = npc
        if fi.module is not inst:
            inst = fi.module
            G = inst.globals
            F = inst.funcs
            data = inst.mems[0].data if inst.mems else None
    # re-raised outside the handler so the host's exception keeps its own context
    raise host_exc


def _catch(regions: Any, p: int, exc: WasmException, S: List[Any], L: List[Any], tags: List[Any]) -> int:
    """The pc of the handler of ``exc`` raised at ``p`` in code with handler
    ``regions`` (FuncCode.handlers), with the operand stack ``S`` (and, for a legacy
    catch, the local slot holding the exception) set up for it; -1 if none."""
    best = -1
    best_start = -1
    for idx, reg in enumerate(regions):
        # the innermost region around p: nested regions may start at the same pc, the
        # inner one comes later
        if reg[0] <= p < reg[1] and reg[0] >= best_start:
            best = idx
            best_start = reg[0]
    tag = exc._tag
    r = best
    pc: int   # (a handler's target pc, from the regions' tuples)
    while r >= 0:
        _start, _end, nxt, kind, data = regions[r]
        if kind == 0:
            for ckind, t, pc, h in data:
                if ckind >= 2 or tags[t] is tag:
                    if h >= 0:
                        del S[h:]
                    if ckind < 2:
                        S.extend(exc._values)
                    if ckind & 1:
                        S.append(exc)
                    return pc
        elif kind == 1:
            for t, pc, h, slot in data:
                if t is None or tags[t] is tag:
                    del S[h:]
                    if t is not None:
                        S.extend(exc._values)
                    L[slot] = exc
                    return pc
        r = nxt
    return -1


def _stack(trap: Trap, fi: Any, code: Any, pc: int, frames: List[Any]) -> None:
    """Add the frames of a trap at ``pc`` (one past the trapping instruction) of
    ``fi`` running ``code``, over the suspended ``frames``: their names now, their
    positions as sites resolved when the trap's frames are read."""
    names = [fi.name]
    # (a trap in compiled code this frame moved to by on-stack replacement: that
    # code's position)
    sites = [trap.__dict__.pop("_osr_site", None) or _Site(fi, code, pc - 1)]
    for fr in reversed(frames):
        names.append(fr[4].name)
        sites.append(_Site(fr[4], fr[0], fr[1] - 1))   # (fr[1]: the return pc)
    trap.add_frames(names, sites)


class _Site:
    """An interpreter frame's position: internal instruction ``pc`` of ``code``."""

    __slots__ = ("fi", "code", "pc")

    def __init__(self, fi: Any, code: Any, pc: int) -> None:
        self.fi = fi
        self.code = code
        self.pc = pc

    def frame(self) -> Any:
        fc = self.fi.code
        index = None
        if fc.__class__ is FuncCode and fc.code is self.code:
            index = fc.body_index(self.pc)
        return wasm_frame(self.fi, index)


_SOURCES: Dict[Any, Tuple[List[str], int, str]] = {}


def _limits_first(fn: Any, front: Tuple[int, ...] = (), name: str = "execute_limited",
                  call_checks: bool = False) -> Any:
    """``fn`` (:func:`execute`) with the execution-limit kinds (``K_FUEL`` and up)
    tested before the others instead of last: what code translated with fuel or
    interruption on runs (one comparison more per instruction, far fewer for each
    check point and charge), while code without limits keeps :func:`execute` exactly.
    The kinds in ``front`` are tested first among them (the only ones code with
    interruption but no fuel has).  Made from execute's own source with :mod:`ast`
    (line numbers kept, so tracebacks show the real lines), named ``name``; without
    the source, ``fn`` itself (correct, slower).

    With ``call_checks``, every place in the loop that starts running a wasm function
    (``pc = 0``: calls and tail calls) is followed by the interruption check, so the
    translated code needs no ``CHECK_I`` at function entry (an instruction less per
    call); the result's ``_call_checks`` says whether any such place was found."""
    import ast
    import copy
    import inspect
    import textwrap

    # (read once per function and kept: a variant made later must not see a source
    # file edited since the module was imported)
    src = _SOURCES.get(fn)
    if src is None:
        try:
            lines, first = inspect.getsourcelines(fn)
            filename = inspect.getsourcefile(fn) or "<interpreter>"
        except (OSError, TypeError):  # pragma: no cover - no source (e.g. .pyc only)
            return fn
        src = _SOURCES[fn] = (lines, first, filename)
    lines, first, filename = src
    tree = ast.parse(textwrap.dedent("".join(lines)))
    ast.increment_lineno(tree, first - 1)
    # (the nodes' kinds are known from the source they come from: Any below)
    func: Any = tree.body[0]

    def is_cmp(node: Any, opclass: Any, value: int) -> bool:
        t = getattr(node, "test", None)
        return (isinstance(t, ast.Compare) and isinstance(t.left, ast.Name) and t.left.id == "k"
                and isinstance(t.ops[0], opclass) and isinstance(t.comparators[0], ast.Constant)
                and t.comparators[0].value == value)

    # the dispatch: the `if k < 8:` statement inside the inner `while True:` loop
    loop: Any = next(n for n in ast.walk(func) if isinstance(n, ast.While)
                and any(is_cmp(x, ast.Lt, 8) for x in n.body))
    pos = next(i for i, n in enumerate(loop.body) if is_cmp(n, ast.Lt, 8))
    dispatch = loop.body[pos]
    group = dispatch
    # (the last group's chain may start with a test of two kinds, `k == 48 or k == 49`)
    while len(group.orelse) == 1 and isinstance(group.orelse[0], ast.If) \
            and isinstance(group.orelse[0].test, ast.Compare) \
            and isinstance(group.orelse[0].test.ops[0], ast.Lt):
        group = group.orelse[0]
    link = group.orelse[0]   # the last group's chain: k == 48 or k == 49, k == 50, ...
    while not is_cmp(link.orelse[0], ast.Eq, K_FUEL):
        link = link.orelse[0]
    limits_chain = link.orelse[0]
    tail = limits_chain
    while tail.orelse and isinstance(tail.orelse[0], ast.If):
        tail = tail.orelse[0]
    link.orelse = tail.orelse   # the final `else: raise AssertionError(...)`
    if front:
        # relink the chain's tests with those of ``front`` first
        tests = [limits_chain]
        while tests[-1].orelse and isinstance(tests[-1].orelse[0], ast.If):
            tests.append(tests[-1].orelse[0])
        last_else = tests[-1].orelse

        def tests_kind(t: Any, k: int) -> bool:   # `k == K` or `k == K or k == L`
            if isinstance(t.test, ast.BoolOp):
                return any(is_cmp(ast.If(test=v), ast.Eq, k)  # type: ignore[call-arg]  # (a test only)
                           for v in t.test.values)
            return is_cmp(t, ast.Eq, k)

        tests.sort(key=lambda t: next((i for i, k in enumerate(front) if tests_kind(t, k)), len(front)))
        for a, b in zip(tests, tests[1:]):
            a.orelse = [b]
        tests[-1].orelse = last_else
        limits_chain = tests[0]
    sites = 0
    if call_checks:
        check = ast.parse("if _flag.cell_contents:\n    engine.limits.interrupted()").body[0]

        def is_pc0(st: Any) -> bool:
            return (isinstance(st, ast.Assign) and len(st.targets) == 1
                    and isinstance(st.targets[0], ast.Name) and st.targets[0].id == "pc"
                    and isinstance(st.value, ast.Constant) and st.value.value == 0)

        def add_checks(node: Any) -> int:
            n = 0
            for field in ("body", "orelse", "finalbody", "handlers"):
                stmts = getattr(node, field, None)
                if not isinstance(stmts, list):
                    continue
                i = 0
                while i < len(stmts):
                    n += add_checks(stmts[i])
                    if is_pc0(stmts[i]):
                        chk = ast.fix_missing_locations(ast.copy_location(copy.deepcopy(check), stmts[i]))
                        for sub in ast.walk(chk):
                            ast.copy_location(sub, stmts[i])
                        stmts.insert(i + 1, chk)
                        i += 1
                        n += 1
                    i += 1
            return n

        sites = add_checks(loop)
        if sites:
            flag = ast.parse("_flag = engine.limits.flag").body[0]
            for sub in ast.walk(flag):
                ast.copy_location(sub, func.body[1])
            func.body.insert(1, flag)   # (after the docstring)
    top = ast.If(test=ast.Compare(left=ast.Name("k", ast.Load()), ops=[ast.Gt()],
                                  comparators=[ast.Constant(K_FUEL - 1)]),
                 body=[limits_chain], orelse=[dispatch])
    ast.copy_location(top, dispatch)
    ast.copy_location(top.test, dispatch.test)
    ast.fix_missing_locations(top)
    loop.body[pos] = top
    func.name = name
    ns: Dict[str, Any] = {}
    import __future__
    import builtins   # (this package's `compile` is the submodule)

    code = builtins.compile(tree, filename, "exec", __future__.annotations.compiler_flag, True)
    exec(code, fn.__globals__, ns)
    out = ns[func.name]
    out.__doc__ = fn.__doc__
    out._call_checks = sites > 0
    return out


_LIMITED: List[Any] = []


def execute_limited() -> Any:
    """:func:`execute` for code translated with execution limits on (fuel, or fuel
    and interruption): the limit kinds tested first (:func:`_limits_first`).  Made
    on first use: building it (``ast``, ``compile()``) costs ~20-40 ms, which every
    process importing the interpreter without limits would otherwise pay."""
    if not _LIMITED:
        try:
            _LIMITED.append(_limits_first(execute, (K_FUEL, K_JMP_CHECK_F, K_ENTRY_F, K_CHECK_F, K_FUEL_JMP)))
        except Exception:  # pragma: no cover - execute's shape changed: correct, if slower
            _LIMITED.append(execute)
    return _LIMITED[0]


_INTERRUPTIBLE: List[Any] = []


def execute_interruptible() -> Any:
    """:func:`execute` for code translated with interruption on and fuel off: as
    :func:`execute_limited`, with the only limit kinds such code has
    (``JMP_CHECK_I``, ``CHECK_I``) tested first, and the interruption check made by
    calls rather than by a ``CHECK_I`` at each function's entry (see
    :func:`calls_check_interrupts`).  Made on first use."""
    if not _INTERRUPTIBLE:
        try:
            _INTERRUPTIBLE.append(_limits_first(execute, (K_JMP_CHECK_I, K_CHECK_I), "execute_interruptible",
                                                call_checks=True))
        except Exception:  # pragma: no cover - execute's shape changed
            _INTERRUPTIBLE.append(execute_limited())
    return _INTERRUPTIBLE[0]


def calls_check_interrupts(limits: Any) -> bool:
    """Whether code translated for ``limits`` runs on a loop whose calls check the
    interrupt flag (interruption on, fuel off), so its functions need no entry
    ``CHECK_I``.  (Calls from Python check the flag in their entry; calls from
    another engine come from code with checks of its own.)"""
    return (limits is not None and limits.interruptible and not limits.consume_fuel
            and getattr(execute_interruptible(), "_call_checks", False))
