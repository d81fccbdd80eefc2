"""Per-runtime resource budgets (like wasmtime's ``StoreLimits``).

A :class:`ResourceBudget` counts what every instance of one runtime holds together:
linear-memory bytes, table elements, module instances, tables and memories.  The
runtime makes one only when ``RuntimeConfig`` sets a budget, so with no budget
nothing here runs at all.

* Memories and tables are charged when created (instantiation, or a host module's
  ``memory``/``table``) and on every successful grow.  ``MemoryInstance.grow`` and
  ``TableInstance.grow`` are the single place both engines (and the public
  ``Memory.grow``/``Table.grow``) grow through; past a budget they return -1, as
  the spec allows a grow to fail.
* Creation past a budget raises :class:`~pywazero.ResourceLimitError` before
  anything is allocated.
* What an object was charged is given back when the object is garbage-collected
  (a ``weakref.finalize`` per charged object): closing a module does not release
  anything by itself, since its memories and tables may still be exported to or
  held by others.  Instances form reference cycles, so before refusing an
  *instantiation* the budget runs ``gc.collect()`` once and checks again (a guest's
  failing ``grow`` never triggers a collection: that would let a guest make the host
  collect in a loop).

Thread safety: charges take a lock; finalizers (which may run inside any allocation,
in any thread) never take it, they only append to a deque that the next charge
drains.
"""
from __future__ import annotations

import gc
import threading
import weakref
from collections import deque
from typing import Any, Deque, List, Optional, Tuple

from ..errors import ResourceLimitError

__all__ = ["ResourceBudget", "MEMORY_BYTES", "TABLE_ELEMENTS", "INSTANCES", "TABLES", "MEMORIES",
           "DEFAULT_TABLE_ELEMENTS_LIMIT"]

# Without ``max_table_elements`` a table may not hold more than this many elements
# (declared minimum or after growth): a list of billions of references would exhaust
# the host's memory long before the spec's 2^32-1.
DEFAULT_TABLE_ELEMENTS_LIMIT = 1 << 24

# the budgets, by their RuntimeConfig names
MEMORY_BYTES = "max_memory_bytes"
TABLE_ELEMENTS = "max_table_elements"
INSTANCES = "max_instances"
TABLES = "max_tables"
MEMORIES = "max_memories"
_NAMES = (MEMORY_BYTES, TABLE_ELEMENTS, INSTANCES, TABLES, MEMORIES)


class ResourceBudget:
    """The budgets of one runtime and what is in use against them.

    ``limits[name]`` is the budget (None: unlimited), ``used[name]`` what is
    charged now.
    """

    def __init__(self, **limits: Optional[int]) -> None:
        self.limits = {name: limits.get(name) for name in _NAMES}
        self.used = {name: 0 for name in _NAMES}
        self._lock = threading.Lock()
        # (name, amount) given back by finalizers, applied under the lock
        self._released: Deque[Tuple[str, int]] = deque()

    @classmethod
    def from_config(cls, config: Any) -> Optional["ResourceBudget"]:
        """The budget a RuntimeConfig asks for, or None when it sets none."""
        limits = {name: getattr(config, name, None) for name in _NAMES}
        if all(v is None for v in limits.values()):
            return None
        return cls(**limits)

    @property
    def table_cap(self) -> int:
        """The most elements one table may hold."""
        cap = self.limits[TABLE_ELEMENTS]
        return DEFAULT_TABLE_ELEMENTS_LIMIT if cap is None else cap

    # -- internals ---------------------------------------------------------------------
    def _drain(self) -> None:
        released = self._released
        used = self.used
        while released:
            name, n = released.popleft()
            used[name] -= n

    def _fits(self, want: List[Tuple[str, int]]) -> Optional[Tuple[str, int]]:
        """The first (name, total requested) over budget, or None."""
        for name, n in want:
            limit = self.limits[name]
            if limit is not None and n and self.used[name] + n > limit:
                return name, self.used[name] + n
        return None

    def _release_later(self, name: str, cell: List[int]) -> None:
        # runs from a finalizer: no lock, only an atomic append
        self._released.append((name, cell[0]))

    def _track(self, obj: Any, name: str, n: int) -> List[int]:
        cell = [n]
        weakref.finalize(obj, self._release_later, name, cell).atexit = False  # (nothing to do then)
        return cell

    # -- creation ----------------------------------------------------------------------
    def reserve(self, want: List[Tuple[str, int]], what: str, collect: bool = True) -> None:
        """Charge every ``(name, amount)`` of ``want`` at once, or raise
        :class:`ResourceLimitError` (charging nothing).  With ``collect``, a refusal
        first collects garbage once (dead instances give their charges back) and
        tries again.  The caller then ties each charge to its object with
        :meth:`adopt` (or gives it back with :meth:`refund`)."""
        for attempt in (0, 1):
            with self._lock:
                self._drain()
                over = self._fits(want)
                if over is None:
                    for name, n in want:
                        self.used[name] += n
                    return
            if not collect or attempt:
                break
            gc.collect()
        name, total = over  # type: ignore[misc]  # (the loop ends with a refusal)
        raise ResourceLimitError(name, total, self.limits[name], what)

    def refund(self, want: List[Tuple[str, int]]) -> None:
        """Give back what :meth:`reserve` charged (the object was not created)."""
        with self._lock:
            for name, n in want:
                self.used[name] -= n

    def adopt(self, obj: Any, name: str, n: int) -> List[int]:
        """Tie ``n`` units of ``name`` (already reserved) to ``obj``: they are given
        back when ``obj`` is garbage-collected.  Returns the cell holding the amount
        (a grow adds to it)."""
        return self._track(obj, name, n)

    # -- growth (guest or host), never raises ------------------------------------------
    def try_grow(self, cell: List[int], name: str, n: int) -> bool:
        """Charge ``n`` more units of ``name`` to the object owning ``cell``; False
        (nothing charged) when that would exceed the budget."""
        with self._lock:
            self._drain()
            limit = self.limits[name]
            if limit is not None and self.used[name] + n > limit:
                return False
            self.used[name] += n
            cell[0] += n
            return True

    def undo_grow(self, cell: List[int], name: str, n: int) -> None:
        """Give back a :meth:`try_grow` whose allocation then failed."""
        with self._lock:
            self.used[name] -= n
            cell[0] -= n
