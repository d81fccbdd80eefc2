"""What keeps deep wasm calls from crashing the process: re-entry nesting and the
Python recursion limit, shared by both engines.

**Re-entry nesting.**  A wasm -> host -> wasm round trip always costs C stack (the
host function and the ``pywazero.Function`` call are entered from C), whatever the
Python version; past a few thousand levels the thread's stack overflows and the
process dies with SIGSEGV instead of raising anything, if the Python recursion
limit has been raised far enough to let it get there.  Measured on the main thread's
default 8 MiB stack (``lambda x: f(x + 1)`` as the host function, recursion limit
10**6): CPython 3.9 crashes after ~2,400 levels, 3.10 ~2,700, 3.11 ~5,000
(interpreter) and ~7,400 (compiler); 3.12 and 3.13 stop themselves with
RecursionError (their C recursion limit) after 200-400 and 1,900-3,300 levels.  So
every engine counts host calls in progress on the thread (``call_depth.hosts``) and
traps "call stack exhausted" beyond :data:`MAX_HOST_NESTING`, several times below
the smallest of those.

**Recursion limit.**  The compiler engine runs each wasm frame as a Python frame, so
deep wasm recursion needs a Python recursion limit above the default 1000.  The limit
is process-wide, and a raised one lets unrelated C-recursive host code (a deep
``repr``) overflow the C stack on CPython 3.11 and older, so it is raised only while a
deep call runs: the first frame past a shallow depth calls :func:`deepen`, which
raises it (once per thread and outermost call) and the outermost entry into wasm
calls :func:`undeepen` on its way out (cheap: it only looks at :data:`DEEP` unless
some thread deepened); the last thread to leave puts the limit back, unless the host
changed it meanwhile.
"""
from __future__ import annotations

import sys
import threading
from typing import List

from . import call_depth

__all__ = ["MAX_HOST_NESTING", "DEEP", "deepen", "undeepen"]

#: host calls (wasm -> host) that may be in progress at once on one thread; one more
#: traps "call stack exhausted"
MAX_HOST_NESTING = 500


#: how many threads run with the recursion limit raised by :func:`deepen` (read
#: without the lock: a cheap "anything to undo?" test on every outermost exit)
DEEP: List[int] = [0]

_lock = threading.Lock()
_saved = [0]    # the limit before the first thread deepened
_set = [0]      # the limit deepen() last set


def deepen(extra: int, cap: int = 0) -> None:
    """Let this thread's running wasm call use ``extra`` more Python frames than the
    recursion limit allowed before any thread deepened (at most ``cap`` in all, if
    given): raise the limit until the thread's outermost entry into wasm returns (it
    calls :func:`undeepen`)."""
    with _lock:
        cur = sys.getrecursionlimit()
        first = DEEP[0] == 0
        if first:
            _saved[0] = cur
            _set[0] = cur
        need = _saved[0] + extra
        if cap and need > cap:
            need = max(cap, _saved[0])
        if cur < need:
            _set[0] = _raise_limit(cur, need)
        if not call_depth.deep:
            DEEP[0] += 1
            call_depth.deep = True


def _raise_limit(cur: int, need: int) -> int:
    """Set the recursion limit to ``need``, or as near it as the host allows, and
    return what it is now.  PyPy reserves the GC's shadow stack in proportion to the
    limit: under an address-space limit (``RLIMIT_AS``) a high one fails with
    MemoryError, so the increase is halved until it fits.  Frames past the limit
    then raise RecursionError, which the engines report as "call stack exhausted"."""
    while need > cur:
        try:
            sys.setrecursionlimit(need)
            return need
        except MemoryError:
            need = cur + (need - cur) // 2
    return cur


def undeepen() -> None:
    """Called by an outermost entry into wasm when it returns or raises, if
    :data:`DEEP` is non-zero: undo this thread's :func:`deepen`, restoring the limit
    when no thread needs it raised any more."""
    if not call_depth.deep:
        return
    call_depth.deep = False
    with _lock:
        DEEP[0] -= 1
        if DEEP[0] == 0 and sys.getrecursionlimit() == _set[0] != _saved[0]:
            # (left alone if the host set a limit of its own meanwhile)
            try:
                sys.setrecursionlimit(_saved[0])
            except RecursionError:  # pragma: no cover - the caller itself is deeper
                pass
