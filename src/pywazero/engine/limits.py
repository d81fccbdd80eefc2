"""Execution limits shared by both engines: fuel, interruption and deadlines.

One :class:`ExecutionLimits` per runtime (``engine.limits``), like wasmtime's store
fuel and epoch.  Engines read its cells from generated code / the interpreter loop
at two kinds of check points: the entry of a wasm function and every loop header
(each iteration, before the loop body runs).

CONTRACT (engines rely on exactly this; changes are announced here)
-------------------------------------------------------------------

* ``limits.fuel`` and ``limits.flag`` are **closure cells** (read and write
  ``.cell_contents``), not lists: the compiler engine binds them as free variables
  of its generated functions (``nonlocal``), which costs as little as a local.
  Make them with :func:`new_cell`; never replace them (generated code holds them).
* The remaining fuel is ``fuel.cell_contents + reserve``.  The cell holds a small
  window of it (at most :data:`WINDOW`), so the counts generated code and the
  interpreter keep subtracting from stay small ints, which CPython caches (a big
  int would be allocated and freed at every charge); ``reserve`` (never
  negative) holds the rest.  The cell is an int that may go
  negative between check points (exhaustion is detected at the next check point).
  A check point tests the cell alone (``<= -need`` after charging what follows,
  i.e. ``need`` is the amount charged in the same statement beyond the check); when
  that fails it calls ``refill(need)`` (:func:`_make_refill`), which traps
  :data:`OUT_OF_FUEL` if the true remaining fuel is also ``<= -need`` and otherwise
  moves fuel from the reserve into the cell and returns the cell's new contents.  The count must be up
  to date (everything executed so far charged) whenever anything else can look at
  it: before calling a host function or another engine, when returning to Python,
  and when trapping "out of fuel" or "interrupted".  An engine may keep the cell's
  count in a local in between (the compiler does in functions without calls) as
  long as its check points test the true count.  After any other trap the cell may
  lag behind what the trapping call executed (wasmtime's store fuel lags the same
  way); later calls are charged exactly.
* ``flag.cell_contents`` is truthy while an interruption is pending.

Fuel (``RuntimeConfig(consume_fuel=True)``): wasmtime's rule, checked operator by
operator against wasmtime-py 50 (``tests/unit/test_fuel_oracle.py``):

* every executed operator costs 1, except the free ones (:data:`FREE_OPS`: ``nop``,
  ``drop``, ``block``, ``loop``, ``end``, ``else``, ``return``, ``unreachable``).
  ``if``, ``br``, ``br_if``, ``br_table``, calls, ``select``, ``local.*``, constants,
  memory and table operators all cost 1.  Only executed operators count (an
  ``if``'s skipped arm costs nothing).
* entering a wasm function costs 1 (charged to the callee, before its body); a
  host function costs only the caller's ``call``.
* check points: (1) function entry, *after* charging the entry's 1: trap
  :data:`OUT_OF_FUEL` if the remaining fuel is ``<= 0``; (2) every loop header,
  each iteration, before the body: trap if ``<= 0``.  Nothing else checks, so a
  straight-line run may end with negative fuel; :meth:`get_fuel` reports
  ``max(0, fuel)``.  So ``set_fuel(1)`` then calling an empty function traps, and
  ``set_fuel(2)`` runs ``i32.const 1 drop i32.const 2 drop`` to completion (cost 3)
  leaving ``get_fuel() == 0``.
* a module's start function (the start section) is called as wasmtime calls it,
  through a wrapper costing 2 more: :meth:`charge_start` (charge 1, check, charge 1)
  runs before it.  Exported functions called by ``ModuleConfig.start_functions``
  (WASI ``_start``) are ordinary calls.
* bulk operators (``memory.fill/copy/init``, ``table.fill/copy/init``) and
  ``memory.grow``/``table.grow`` also cost their length (bytes, elements, pages) in
  wasmtime; pywazero does not charge it yet (see the module's tests).  TODO.
* :meth:`set_fuel` replaces the remaining fuel; :meth:`add_fuel` adds to
  ``get_fuel()`` (a debt left by an overrun is forgiven, as ``set_fuel(get_fuel() +
  n)`` in wasmtime).  Both are meant for the host between calls or from a host
  function; from another thread while wasm runs the update may be lost.

Interruption (``RuntimeConfig(interruptible=True)``): at the same check points an
engine tests ``flag.cell_contents`` and when it is set raises
:meth:`trap_interrupted` (message :data:`INTERRUPTED`, or :data:`DEADLINE`).
:meth:`interrupt` only stores into the cell (any thread, a signal handler).
The entry check is only needed where a function calls others (:func:`calls_out`): a
function that calls none runs for a bounded time between its loops' checks.  An
engine may instead test the flag where it starts a callee (the interpreter does
without fuel: every wasm call and tail call it makes).
Every entry into wasm from Python (``invoke``, ``entry``, and re-entries from host
functions) calls :meth:`enter` before and :meth:`leave` after (only when
``interruptible``: the off path stays untouched); they only count the calls running
(``calls``), and :meth:`enter` reads the flag: a flag still set from a call that has
ended is cleared there when no wasm runs (so later calls run normally, and an
interrupt with no wasm running does nothing), and a standing one (wasm running
elsewhere is being interrupted, or a deadline expired) makes the new call trap at
once.  ``Engine.__init__`` already wraps ``invoke`` this way when ``interruptible``;
an engine that overrides ``entry`` must do it there itself.
:meth:`deadline` (``with rt.deadline(s):``) interrupts with :data:`DEADLINE` from a
timer thread; once expired, calls starting inside the block trap at once.
"""
from __future__ import annotations

import contextlib
import math
import threading
import time
from typing import Any, Dict, Iterator, List, Optional

from ..errors import Trap

__all__ = ["ExecutionLimits", "CALL_OPS", "FREE_OPS", "bind_cells", "calls_out", "needs_count", "OUT_OF_FUEL",
           "INTERRUPTED", "DEADLINE", "WINDOW", "fuel_cost", "new_cell"]

OUT_OF_FUEL = "all fuel consumed by WebAssembly"
INTERRUPTED = "interrupted"
DEADLINE = "interrupted: deadline exceeded"

#: Operators that cost no fuel (as in wasmtime): they generate no code or are plain
#: control-flow structure.  ``if``, ``br``, ``br_if``, ``br_table``, calls and every
#: other operator cost 1.
FREE_OPS = frozenset({0x01, 0x1A, 0x02, 0x03, 0x00, 0x0F, 0x05, 0x0B, 0x06, 0x07, 0x19, 0x18})
#                     nop   drop  block loop unreach return else end
# and legacy exceptions' block-like markers (no wasmtime to follow): try catch catch_all delegate

#: the most fuel the fuel cell holds (the rest waits in ``ExecutionLimits.reserve``):
#: CPython caches the ints -5..256, so charging a count in this range allocates
#: nothing (the largest single cost on call-heavy code)
WINDOW = 256

#: how often an expired deadline re-asserts the flag (seconds); covers an interrupt
#: lost to a race with the end of the last running call
_REASSERT = 0.01


#: operators that call a function (``call``, ``call_indirect``, and the tail calls and
#: ``call_ref`` of later proposals): a body without any cannot recurse
CALL_OPS = frozenset((0x10, 0x11, 0x12, 0x13, 0x14, 0x15))


def calls_out(body: Any) -> bool:
    """Whether a function body (a list of instructions) calls any function.  A body
    that does not runs for a time bounded by its size plus its loops, which have
    their own check points: it needs no interruption check at its entry."""
    return any(op in CALL_OPS for op, _ in body)


#: the longest body :func:`needs_count` looks at (longer ones are counted)
_SMALL_BODY = 256


def needs_count(fi: Any) -> bool:
    """Whether a call from Python into wasm function instance ``fi`` must count
    itself as running (``ExecutionLimits.calls``) on an interruptible runtime.  Not
    for a small function that calls nothing and has no loop: it has no check point,
    so no interrupt can reach it while it runs, and leaving it uncounted only makes
    an ``interrupt()`` while nothing else runs do nothing, as it would after the call
    anyway.  Its entry still reads the flag (a call started after a deadline expired
    traps at once).  Saves the count (two list operations) on calls of tiny
    exports."""
    try:
        mod = fi.module.module
        body = mod.funcs[fi.index - mod.num_imported_funcs()].body
    except (AttributeError, IndexError, TypeError):   # not a plain defined function
        return True
    if len(body) > _SMALL_BODY:
        return True
    return any(op in CALL_OPS or op == 0x03 for op, _ in body)


def fuel_cost(opcode: int) -> int:
    """The fuel an executed operator costs (0 or 1)."""
    return 0 if opcode in FREE_OPS else 1


def new_cell(value: Any) -> Any:
    """A new closure cell holding ``value`` (``types.CellType(value)`` where it
    exists; this works on every Python)."""
    def f() -> Any:
        return value

    return f.__closure__[0]  # type: ignore[index]


def bind_cells(func: Any, cells: Dict[str, Any]) -> Any:
    """A copy of function ``func`` whose free variables named in ``cells`` are those
    cells: a call from Python reads the interrupt flag as a free variable (a few
    nanoseconds) rather than through ``cell.cell_contents`` (an attribute lookup,
    ten times slower)."""
    import types

    code = func.__code__
    closure = tuple(cells.get(name, cell) for name, cell in zip(code.co_freevars, func.__closure__ or ()))
    out = types.FunctionType(code, func.__globals__, func.__name__, func.__defaults__, closure)
    out.__kwdefaults__ = func.__kwdefaults__
    out.__qualname__ = func.__qualname__
    out.__doc__ = func.__doc__
    return out


def _make_refill(fuel: Any, reserve: Any) -> Any:
    """``ExecutionLimits.refill`` for the cells ``fuel`` and ``reserve``: a closure
    reading them as free variables (cheaper than a method reading
    ``cell.cell_contents``; with the count kept below :data:`WINDOW` it runs every
    few hundred fuel)."""
    _fuel = _reserve = 0   # (bound to the cells below)

    def refill(need: int = 0) -> int:
        """Called by a check point whose test of the fuel cell failed (cell ``<=
        -need``): raise the out-of-fuel trap if the remaining fuel is ``<= -need``
        too, otherwise move fuel from the reserve into the cell; returns the cell's
        contents (for an engine that keeps them in a local)."""
        nonlocal _fuel, _reserve
        total = _fuel + _reserve
        if total <= -need:
            _fuel = total
            _reserve = 0
            raise Trap(OUT_OF_FUEL)
        if total < WINDOW:
            _fuel = total
            _reserve = 0
            return total
        _fuel = WINDOW
        _reserve = total - WINDOW
        return WINDOW

    return bind_cells(refill, {"_fuel": fuel, "_reserve": reserve})


def _check_amount(n: Any) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"fuel must be a non-negative int, not {n!r}")


class ExecutionLimits:
    """Per-runtime fuel and interruption state (see the module docstring)."""

    def __init__(self, consume_fuel: bool = False, interruptible: bool = False) -> None:
        self.consume_fuel = bool(consume_fuel)
        self.interruptible = bool(interruptible)
        #: the part of the remaining fuel engines charge (a closure cell, see the module
        #: docstring)
        self.fuel = new_cell(0)
        #: the rest of the remaining fuel (>= 0; a cell too: see :func:`_make_refill`)
        self._reserve = new_cell(0)
        #: the check points' slow path (see :func:`_make_refill`)
        self.refill = _make_refill(self.fuel, self._reserve)
        #: truthy while an interruption is pending (a closure cell)
        self.flag = new_cell(0)
        #: one item per entry into wasm running now (list append/pop are atomic)
        self.calls: List[int] = []
        self._reason = INTERRUPTED
        #: deadlines that have expired and whose ``with`` block is still open
        self._expired: List[Any] = []

    # -- fuel --------------------------------------------------------------------------
    def _need_fuel(self) -> None:
        if not self.consume_fuel:
            raise ValueError("fuel is not enabled: create the runtime with RuntimeConfig(consume_fuel=True)")

    @property
    def reserve(self) -> int:
        """The remaining fuel beyond what the fuel cell holds."""
        reserve: int = self._reserve.cell_contents
        return reserve

    def _put(self, total: int) -> int:
        """Make ``total`` the remaining fuel, the cell holding at most :data:`WINDOW`
        of it; returns the cell's contents."""
        c = total if total < WINDOW else WINDOW
        self.fuel.cell_contents = c
        self._reserve.cell_contents = total - c
        return c

    def set_fuel(self, n: int) -> None:
        """Set the remaining fuel to ``n``."""
        self._need_fuel()
        _check_amount(n)
        self._put(n)

    def add_fuel(self, n: int) -> None:
        """Add ``n`` to the remaining fuel (:meth:`get_fuel`)."""
        self._need_fuel()
        _check_amount(n)
        self._put(max(0, self.fuel.cell_contents + self._reserve.cell_contents) + n)

    def get_fuel(self) -> int:
        """The remaining fuel (never negative)."""
        self._need_fuel()
        left: int = self.fuel.cell_contents + self._reserve.cell_contents
        return max(0, left)

    def out_of_fuel(self) -> None:
        """Raise the out-of-fuel trap."""
        raise Trap(OUT_OF_FUEL)

    def trap_out_of_fuel(self) -> Trap:
        return Trap(OUT_OF_FUEL)

    def charge_start(self) -> None:
        """Fuel for calling a start section's function, as wasmtime charges it: its
        wrapper's entry (1, then a check) and call (1)."""
        f = self.fuel.cell_contents + self._reserve.cell_contents - 1
        if f <= 0:
            self._put(f)
            raise Trap(OUT_OF_FUEL)
        self._put(f - 1)

    # -- interruption ------------------------------------------------------------------
    def _need_interrupt(self) -> None:
        if not self.interruptible:
            raise ValueError("interruption is not enabled: create the runtime with "
                             "RuntimeConfig(interruptible=True)")

    def interrupt(self, reason: str = INTERRUPTED) -> None:
        """Make wasm of this runtime that is running now (in any thread) trap with
        ``reason`` at its next check point.  Lock-free: safe from any thread and from
        a signal handler.  Does nothing when no wasm is running."""
        self._need_interrupt()
        if self.calls:
            self._reason = reason
            self.flag.cell_contents = 1

    def interrupt_reason(self) -> str:
        return self._reason

    def trap_interrupted(self) -> Trap:
        """The trap an engine raises at a check point that found the flag set."""
        return Trap(self._reason)

    def interrupted(self) -> None:
        """Raise :meth:`trap_interrupted` (called by engines at a check point)."""
        raise Trap(self._reason)

    def sleep(self, seconds: float) -> None:
        """Sleep like ``time.sleep``, but in slices, trapping as a check point does
        when an interruption (a deadline) arrives meanwhile: for host functions that
        wait on behalf of wasm (WASI ``poll_oneoff``)."""
        if not self.interruptible:
            time.sleep(seconds)
            return
        end = time.monotonic() + seconds
        flag = self.flag
        while True:
            if flag.cell_contents:
                raise Trap(self._reason)
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, _REASSERT))

    def enter(self) -> None:
        """A call into wasm from Python begins (see the module docstring)."""
        if self.flag.cell_contents:
            self._flagged_entry()
        self.calls.append(1)

    def leave(self) -> None:
        """A call into wasm from Python ended (returned or raised)."""
        self.calls.pop()

    def _flagged_entry(self) -> None:
        """A call from Python found the flag set: when no wasm runs, the interrupt
        lapses (:meth:`_settle`); if it stands (wasm is running and being interrupted,
        or a deadline expired), the new call traps at once."""
        if not self.calls:
            self._settle()
        if self.flag.cell_contents:
            raise Trap(self._reason)

    def _settle(self) -> None:
        """No wasm is running: a pending interrupt lapses, unless an expired deadline
        keeps it (calls inside its block trap at once)."""
        if not self._expired:
            self.flag.cell_contents = 0
            self._reason = INTERRUPTED

    @property
    def running(self) -> int:
        """How many calls into wasm are running now."""
        return len(self.calls)

    # -- deadlines ---------------------------------------------------------------------
    @contextlib.contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Within the ``with`` block, wasm of this runtime still running ``seconds``
        from now traps "interrupted: deadline exceeded", and calls started after that
        trap at once.  A timer thread delivers it; leaving the block stops and joins
        it."""
        self._need_interrupt()
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise TypeError(f"deadline seconds must be a number, not {type(seconds).__name__}")
        if math.isnan(seconds) or seconds < 0:
            raise ValueError(f"deadline seconds must be >= 0, not {seconds!r}")
        d = _Deadline(self, float(seconds))
        d.start()
        try:
            yield
        finally:
            d.cancel()

    def _expire(self, d: Any) -> None:
        self._expired.append(d)
        self._reason = DEADLINE
        self.flag.cell_contents = 1

    def _unexpire(self, d: Any) -> None:
        try:
            self._expired.remove(d)
        except ValueError:
            return
        if not self._expired:
            if self.flag.cell_contents and not self.calls:
                self.flag.cell_contents = 0
            self._reason = INTERRUPTED


class _Deadline:
    """The timer thread of one ``deadline`` block."""

    def __init__(self, limits: ExecutionLimits, seconds: float) -> None:
        self.limits = limits
        self.seconds = seconds
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="pywazero-deadline", daemon=True)

    def start(self) -> None:
        if self.seconds == math.inf:
            return
        self.thread.start()

    def _run(self) -> None:
        if self.stop.wait(self.seconds):
            return
        lim = self.limits
        lim._expire(self)
        while not self.stop.wait(_REASSERT):
            if not lim.flag.cell_contents:
                lim.flag.cell_contents = 1

    def cancel(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()
        self.limits._unexpire(self)


# -- bulk operators' fuel ---------------------------------------------------------------

#: operators that cost their length operand (the topmost) in wasmtime, besides 1
LENGTH_OPS = frozenset((0x40, 0xFC0008, 0xFC000A, 0xFC000B, 0xFC000C, 0xFC000E, 0xFC000F, 0xFC0011))
#          memory.grow  .init  .copy  .fill  table.init .copy .grow .fill
GROW_OPS = frozenset((0x40, 0xFC000F))
# operand counts of the reference/table operators whose signature depends on a type
_REF_OPS = {0x25: (1, 1), 0x26: (2, 0), 0xD1: (1, 1), 0xFC000F: (2, 1), 0xFC0011: (3, 0)}


def length_charges(module: Any, index: int) -> Dict[int, Optional[int]]:
    """How wasmtime charges the length of the bulk operators of defined function
    ``index``: body index -> the length when it is a constant where wasmtime's
    compiler sees one (charged with the operator, statically, even when a grow
    fails), or None when it is dynamic: then, only after the operator succeeded
    (a grow that returns -1 costs nothing more), the length is charged and the
    fuel checked as at a check point (trap if ``<= 0``).

    A length is constant when it is an ``i32.const`` (``i64.const`` for a 64-bit
    memory or table), possibly through locals and
    through block results and joins where every incoming path has the same constant;
    a loop header forgets every local (their values become loop-carried), and any
    other operator's result is dynamic.  (This mirrors Cranelift's SSA construction
    as far as tests against wasmtime-py show; a length it does not foresee would be
    charged the same amount at a slightly different point.)  Operators in dead code
    are not listed."""
    from ..wasm import opcodes as ops

    func = module.funcs[index]
    body = func.body
    if not any(op in LENGTH_OPS for op, _ in body):
        return {}
    ftype = module.types[func.type_index]
    nparams = len(ftype.params)
    func_types = module.func_types()
    locs: List[Optional[int]] = [None] * nparams + [0] * (len(ftype.params) + len(func.local_types()) - nparams)
    info = func.info
    if info is None:
        from ..wasm.facts import function_info

        info = function_info(module, index)
    block_types = info.block_types
    out: Dict[int, Optional[int]] = {}
    st: List[Optional[int]] = []
    # frames: [kind (0 block, 1 loop, 2 if, 3 function), height, nresults, sources, pre-state]
    frames: List[List[Any]] = [[3, 0, len(ftype.results), [], None]]
    dead = False
    skip = 0

    def source(fr: List[Any]) -> None:
        if fr[0] != 1:
            n = fr[2]
            fr[3].append((list(locs), st[len(st) - n:] if n else []))

    def merge(vals: List[List[Optional[int]]]) -> List[Optional[int]]:
        first = vals[0]
        return [v if all(o[k] == v for o in vals[1:]) else None for k, v in enumerate(first)]

    BY_OP = ops.BY_OP
    for i, (op, imm) in enumerate(body):
        if dead:
            if op in (0x02, 0x03, 0x04):
                skip += 1
                continue
            if op == 0x0B and skip:
                skip -= 1
                continue
            if op != 0x0B and op != 0x05 or skip:
                continue
        if op in LENGTH_OPS:
            out[i] = st[-1]
        if op == 0x41:
            st.append(imm & 0xFFFFFFFF)
        elif op == 0x42:   # (the lengths of 64-bit memories and tables)
            st.append(imm & 0xFFFFFFFFFFFFFFFF)
        elif op == 0x20:
            st.append(locs[imm])
        elif op == 0x21:
            locs[imm] = st.pop()
        elif op == 0x22:
            locs[imm] = st[-1]
        elif op == 0x1A:
            st.pop()
        elif op == 0x02 or op == 0x03 or op == 0x04:
            if op == 0x04:
                st.pop()
            p, r = block_types[i]
            h = len(st) - len(p)
            pre = None
            if op == 0x03:
                locs[:] = [None] * len(locs)
                st[h:] = [None] * len(p)
            elif op == 0x04:
                pre = (list(locs), st[h:])
            frames.append([(0, 1, 2)[op - 2], h, len(r), [], pre])
        elif op == 0x05:
            fr = frames[-1]
            if not dead:
                source(fr)
            locs[:] = fr[4][0]
            del st[fr[1]:]
            st.extend(fr[4][1])
            fr[4] = None
            dead = False
        elif op == 0x0B:
            fr = frames.pop() if len(frames) > 1 else frames[0]
            if fr[0] == 1:   # a loop's end: only its fall-through reaches past it
                if dead:
                    del st[fr[1]:]
                    st.extend([None] * fr[2])
                continue
            if not dead:
                source(fr)
            if fr[0] == 2 and fr[4] is not None:   # if without else: params pass through
                fr[3].append((fr[4][0], fr[4][1]))
            del st[fr[1]:]
            srcs = fr[3]
            if srcs:
                locs[:] = merge([s[0] for s in srcs])
                st.extend(merge([s[1] for s in srcs]) if fr[2] else [])
                dead = False
            else:
                st.extend([None] * fr[2])
            if fr[0] == 3:
                break
        elif op == 0x0C or op == 0x0D or op == 0x0E:
            if op != 0x0C:
                st.pop()
            labels = [imm] if op != 0x0E else list(imm[0]) + [imm[1]]
            for d in set(labels):
                source(frames[-1 - d])
            if op != 0x0D:
                dead = True
        elif op == 0x0F or op == 0x00 or op == 0x12 or op == 0x13:
            dead = True   # (return_call*: what it pops no longer matters)
        elif op == 0x10 or op == 0x11:
            t = module.types[func_types[imm] if op == 0x10 else imm[0]]
            if op == 0x11:
                st.pop()
            del st[len(st) - len(t.params):]
            st.extend([None] * len(t.results))
        elif op == 0x1B or op == 0x1C:
            del st[-3:]
            st.append(None)
        elif op == 0x23 or op == 0xD0 or op == 0xD2:   # global.get, ref.null, ref.func
            st.append(None)
        elif op == 0x24:
            st.pop()
        elif op in _REF_OPS:
            npop, npush = _REF_OPS[op]
            del st[len(st) - npop:]
            st.extend([None] * npush)
        elif op == 0x01:
            pass
        else:
            info_ = BY_OP[op]
            if info_.params is None:   # (every other operator has a fixed signature)
                raise AssertionError("length_charges: no signature for %s" % info_.name)
            if info_.params:
                del st[len(st) - len(info_.params):]
            st.extend([None] * len(info_.results))  # type: ignore[arg-type]  # (params is set: so is results)
        if dead:
            skip = 0
    return out
