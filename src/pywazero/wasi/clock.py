"""Clock and random-source hooks.

``ModuleConfig(clock=...)`` takes any object with these three methods (clock ids are
WASI's: 0 realtime, 1 monotonic, 2 process CPU time, 3 thread CPU time):

* ``time_ns(clock_id) -> int``
* ``resolution_ns(clock_id) -> int``
* ``sleep_ns(ns) -> None`` (``poll_oneoff`` waits with it)

:class:`SystemClock` (the default) reads the host's clocks; :class:`FakeClock` is
deterministic: time moves only when the guest sleeps (plus an optional fixed step per
reading), so runs are reproducible.

``ModuleConfig(random=...)`` takes None (``os.urandom``), a callable ``n -> bytes``,
or an object with ``randbytes(n)`` such as ``random.Random(seed)``.
"""
from __future__ import annotations

import os
import time
from typing import Callable, Dict, Literal, Optional

REALTIME, MONOTONIC, PROCESS_CPUTIME, THREAD_CPUTIME = 0, 1, 2, 3


def _thread_ns() -> int:
    try:
        return time.thread_time_ns()
    except (AttributeError, OSError):  # pragma: no cover - platforms without it
        return time.process_time_ns()


class SystemClock:
    """The host's clocks."""

    _READERS: Dict[int, Callable[[], int]] = {
        REALTIME: time.time_ns,
        MONOTONIC: time.monotonic_ns,
        PROCESS_CPUTIME: time.process_time_ns,
        THREAD_CPUTIME: _thread_ns,
    }
    _INFO: Dict[int, Literal["monotonic", "process_time", "time", "thread_time"]] = {
        REALTIME: "time", MONOTONIC: "monotonic", PROCESS_CPUTIME: "process_time", THREAD_CPUTIME: "thread_time"}

    def time_ns(self, clock_id: int) -> int:
        """The current time of WASI clock ``clock_id`` in nanoseconds."""
        return self._READERS[clock_id]()

    def resolution_ns(self, clock_id: int) -> int:
        """The resolution of WASI clock ``clock_id`` in nanoseconds (at least 1)."""
        try:
            res = time.get_clock_info(self._INFO[clock_id]).resolution
        except (ValueError, OSError):  # pragma: no cover
            res = 1e-6
        return max(1, int(round(res * 1e9)))

    def sleep_ns(self, ns: int) -> None:
        """Sleep ``ns`` nanoseconds (``poll_oneoff`` waits with it)."""
        if ns > 0:
            time.sleep(ns / 1e9)


class FakeClock:
    """A deterministic clock: every clock starts at ``start_ns`` (realtime at
    ``realtime_ns``, default 2021-01-01T00:00:00Z), advances by ``step_ns`` at each
    reading and by the requested amount on ``sleep_ns`` (without really sleeping).

    >>> c = FakeClock(step_ns=0)
    >>> c.time_ns(1); c.sleep_ns(5); c.time_ns(1)
    0
    5
    """

    def __init__(self, start_ns: int = 0, realtime_ns: int = 1609459200 * 10**9,
                 step_ns: int = 1000, resolution: int = 1000) -> None:
        self._offset = {REALTIME: realtime_ns}
        self._now = start_ns
        self.step_ns = step_ns
        self.resolution = resolution

    def time_ns(self, clock_id: int) -> int:
        """The fake time of clock ``clock_id``; advances the clock by ``step_ns``."""
        t = self._now + self._offset.get(clock_id, 0)
        self._now += self.step_ns
        return t

    def resolution_ns(self, clock_id: int) -> int:
        """The ``resolution`` given to the constructor, for every clock."""
        return self.resolution

    def sleep_ns(self, ns: int) -> None:
        """Advance every clock by ``ns`` without sleeping."""
        if ns > 0:
            self._now += ns


def random_source(src: object) -> Callable[[int], bytes]:
    if src is None:
        return os.urandom
    randbytes: Optional[Callable[[int], bytes]] = getattr(src, "randbytes", None)
    if randbytes is not None:
        return randbytes
    if callable(src):
        return src
    raise TypeError("ModuleConfig.random must be None, a callable n -> bytes, or have randbytes(n)")
