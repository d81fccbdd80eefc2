"""Execution limits shared by both engines: fuel, interruption and deadlines.

One :class:`ExecutionLimits` per runtime (``engine.limits``), like wasmtime's store
fuel and epoch.  Engines read its cells from generated code / the interpreter loop
at exactly two kinds of check points each, the single call-entry point and the
single loop back-edge point:

* **fuel** (``RuntimeConfig(consume_fuel=True)``): ``fuel[0]`` is the remaining
  fuel (may go negative: exhaustion is detected late, at the next check point).
  The cost rule is wasmtime's (checked against wasmtime-py, see
  :data:`FREE_OPS`): every executed operator costs 1 except the free ones; entering
  a function costs 1.  Check points: on function entry *after* charging the entry's
  1, and at every loop header (each iteration, before the loop body runs); at a
  check point, everything executed before it has been charged, and if
  ``fuel[0] <= 0`` the engine traps with :data:`OUT_OF_FUEL`.  Between check points
  an engine may charge in any grouping (per straight-line run, say), as long as a
  completed call has been charged exactly its operators.
* **interruption** (``RuntimeConfig(interruptible=True)``): at the same check points
  (function entry and loop headers) an engine tests ``flag[0]`` and, when it is
  set, traps with :data:`INTERRUPTED` (or the message :meth:`interrupt_reason`
  gives).  ``interrupt()`` only stores into the flag, so any thread and a signal
  handler may call it.  Outermost entries into wasm (calls from Python, not wasm ->
  host -> wasm re-entries) call :meth:`enter` / :meth:`leave`; when the last running
  outermost call leaves, the flag is cleared, so later calls run normally.
"""
from __future__ import annotations

import threading
import time
from typing import Any, List, Optional

from ..errors import Trap
from ..wasm import opcodes as op

__all__ = ["ExecutionLimits", "FREE_OPS", "OUT_OF_FUEL", "INTERRUPTED", "fuel_cost"]

OUT_OF_FUEL = "all fuel consumed by WebAssembly"
INTERRUPTED = "interrupted"
DEADLINE = "interrupted: deadline exceeded"

#: Operators that cost no fuel (as in wasmtime): they generate no code or are plain
#: control-flow structure.  ``if``, ``br``, ``br_if``, ``br_table``, calls and every
#: other operator cost 1.
FREE_OPS = frozenset({0x01, 0x1A, 0x02, 0x03, 0x00, 0x0F, 0x05, 0x0B})
#                     nop   drop  block loop unreach return else end


def fuel_cost(opcode: int) -> int:
    """The fuel an executed operator costs (0 or 1)."""
    return 0 if opcode in FREE_OPS else 1


class ExecutionLimits:
    """Per-runtime fuel and interruption state (see the module docstring)."""

    def __init__(self, consume_fuel: bool = False, interruptible: bool = False) -> None:
        self.consume_fuel = bool(consume_fuel)
        self.interruptible = bool(interruptible)
        #: remaining fuel, a one-cell list so generated code can update it in place
        self.fuel: List[int] = [0]
        #: non-zero while an interruption is pending
        self.flag: List[int] = [0]
        self._reason = INTERRUPTED
        self._active = 0
        self._lock = threading.Lock()

    # -- fuel --------------------------------------------------------------------------
    def _need_fuel(self) -> None:
        if not self.consume_fuel:
            raise ValueError("fuel is not enabled: create the runtime with RuntimeConfig(consume_fuel=True)")

    def set_fuel(self, n: int) -> None:
        self._need_fuel()
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError("fuel must be a non-negative int")
        self.fuel[0] = n

    def add_fuel(self, n: int) -> None:
        self._need_fuel()
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError("fuel must be a non-negative int")
        self.fuel[0] += n

    def get_fuel(self) -> int:
        self._need_fuel()
        return max(0, self.fuel[0])

    # -- interruption ------------------------------------------------------------------
    def _need_interrupt(self) -> None:
        if not self.interruptible:
            raise ValueError("interruption is not enabled: create the runtime with "
                             "RuntimeConfig(interruptible=True)")

    def interrupt(self, reason: str = INTERRUPTED) -> None:
        """Make wasm of this runtime that is running now trap.  Lock-free: safe from
        any thread and from a signal handler."""
        self._need_interrupt()
        self._reason = reason
        self.flag[0] = 1

    def interrupt_reason(self) -> str:
        return self._reason

    def trap_interrupted(self) -> Trap:
        """The trap an engine raises at a check point that found the flag set."""
        return Trap(self._reason)

    def trap_out_of_fuel(self) -> Trap:
        return Trap(OUT_OF_FUEL)

    def enter(self) -> None:
        """An outermost call into wasm begins."""
        with self._lock:
            self._active += 1

    def leave(self) -> None:
        """An outermost call into wasm ended (returned or raised)."""
        with self._lock:
            self._active -= 1
            if self._active <= 0:
                self._active = 0
                self.flag[0] = 0
                self._reason = INTERRUPTED

    @property
    def running(self) -> int:
        """How many outermost calls into wasm are running now."""
        return self._active
