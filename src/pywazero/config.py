"""Configuration objects: :class:`RuntimeConfig` (per runtime) and :class:`ModuleConfig`
(per instantiation)."""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence, Tuple, Union

from .wasm.features import CoreFeatures, check_features

if TYPE_CHECKING:
    from typing import Protocol

    from .cache import CompilationCache
    from .listener import FunctionListenerFactory

    class Readable(Protocol):
        """A file object ``ModuleConfig.stdin`` reads from."""

        def read(self, size: int = ..., /) -> Union[bytes, str]: ...

    class Writable(Protocol):
        """A file object ``ModuleConfig.stdout``/``stderr`` write to."""

        def write(self, data: Any, /) -> object: ...

    class Clock(Protocol):
        """What ``ModuleConfig.clock`` provides (e.g. :class:`pywazero.wasi.FakeClock`)."""

        def time_ns(self, clock_id: int) -> int: ...

        def resolution_ns(self, clock_id: int) -> int: ...

        def sleep_ns(self, ns: int) -> None: ...

    class RandomSource(Protocol):
        """A ``ModuleConfig.random`` object such as ``random.Random(seed)``."""

        def randbytes(self, n: int, /) -> bytes: ...

ENGINES = ("compiler", "interpreter")
#: the largest ``RuntimeConfig.max_call_depth`` accepted (wasm frames)
MAX_CALL_DEPTH = 1_000_000

#: ModuleConfig.max_open_files by default: far more than programs use, far fewer than
#: the host process's own limit (often 256 on macOS, 1024 on Linux)
DEFAULT_MAX_OPEN_FILES = 128


@dataclass(frozen=True)
class RuntimeConfig:
    """How a :class:`~pywazero.Runtime` compiles and runs modules.

    ``core_features`` (a :class:`~pywazero.CoreFeatures`; by default
    ``CoreFeatures.DEFAULT``, i.e. ``V3``: all of WebAssembly 3.0) says which
    proposals modules may use: ``Runtime.compile`` decodes and validates under its
    rules (``CoreFeatures.V2`` gives WebAssembly 2.0, ``V1`` 1.0; legacy exception
    handling is off unless added: ``DEFAULT | LEGACY_EXCEPTIONS``).

    Resource budgets (None, the default, is unlimited) bound what all the instances
    of the runtime may hold together: ``max_memory_bytes`` (linear-memory bytes
    across all memories), ``max_table_elements`` (table elements across all tables;
    it also replaces the built-in cap of 2^24 elements per table), ``max_instances``
    (module instances; host modules are not counted), ``max_tables`` and
    ``max_memories``.  ``memory.grow``/``table.grow`` past a budget return -1;
    instantiation past one raises :class:`~pywazero.ResourceLimitError`.

    ``memory_limit_pages`` caps every memory's size in 64 KiB pages, whatever its
    declared maximum (65536, 4 GiB, by default; up to 2^48): a 32-bit memory
    never exceeds 65536 pages anyway, a 64-bit one (memory64) may declare up to
    2^48 pages but grows no further than this limit.

    ``max_call_depth`` (1 to ``MAX_CALL_DEPTH``, a million) bounds nested wasm
    frames, counted across wasm -> host -> wasm re-entry; deeper calls trap "call
    stack exhausted", as do more than 500 host calls in progress at once on one
    thread (each costs C stack).

    ``cache`` (a :class:`~pywazero.CompilationCache`, or the path of its directory)
    makes ``Runtime.compile`` look binary modules up on disk first and store what it
    compiles; runtimes and processes may share one.

    ``function_listener``: a factory of :class:`~pywazero.FunctionListener`
    (``factory(FunctionDefinition) -> FunctionListener or None``) called around
    wasm function calls, see :mod:`pywazero.listener`; not carried when a compiled
    module is pickled.

    >>> RuntimeConfig(engine="interpreter", memory_limit_pages=16).engine
    'interpreter'
    >>> RuntimeConfig(core_features=CoreFeatures.V1).core_features == CoreFeatures.MUTABLE_GLOBAL
    True
    """

    engine: str = "compiler"
    memory_limit_pages: int = 65536
    max_call_depth: int = 10000
    core_features: CoreFeatures = CoreFeatures.DEFAULT
    consume_fuel: bool = False
    interruptible: bool = False
    # resource budgets (like wasmtime's StoreLimits), counted across every instance of
    # the runtime; None = unlimited.  See pywazero.wasm.budget.
    max_memory_bytes: Optional[int] = None
    max_table_elements: Optional[int] = None
    max_instances: Optional[int] = None
    max_tables: Optional[int] = None
    max_memories: Optional[int] = None
    # the on-disk compilation cache (pywazero.cache.CompilationCache), or None
    cache: Union[CompilationCache, str, "os.PathLike[str]", None] = None
    # function listeners (pywazero.listener): factory(FunctionDefinition) ->
    # FunctionListener or None; None: no listener, nothing is added to any call
    function_listener: Optional[FunctionListenerFactory] = None

    def __post_init__(self) -> None:
        if self.cache is not None:
            from .cache import CompilationCache

            if isinstance(self.cache, (str, os.PathLike)):
                object.__setattr__(self, "cache", CompilationCache(self.cache))
            elif not isinstance(self.cache, CompilationCache):
                raise TypeError(f"cache must be a CompilationCache, a directory path or None, "
                                f"not {type(self.cache).__name__}")
        # (normalises a negative set such as ``~CoreFeatures.SIMD`` on Python < 3.11)
        object.__setattr__(self, "core_features", check_features(self.core_features))
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, not {self.engine!r}")
        if not isinstance(self.memory_limit_pages, int) or not 0 <= self.memory_limit_pages <= 1 << 48:
            raise ValueError("memory_limit_pages must be an int between 0 and 2**48")
        if (not isinstance(self.max_call_depth, int) or isinstance(self.max_call_depth, bool)
                or not 1 <= self.max_call_depth <= MAX_CALL_DEPTH):
            # (deeper would exhaust memory or the C stack long before the limit)
            raise ValueError(f"max_call_depth must be an int between 1 and {MAX_CALL_DEPTH}, "
                             f"not {self.max_call_depth!r}")
        for budget in ("max_memory_bytes", "max_table_elements", "max_instances", "max_tables",
                       "max_memories"):
            v = getattr(self, budget)
            if v is None:
                continue
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{budget} must be an int or None, not {type(v).__name__}")
            if v < 0:
                raise ValueError(f"{budget} must not be negative (None means unlimited)")


@dataclass(frozen=True)
class Mount:
    """A host directory visible to a WASI guest at ``guest_path``; the guest can
    reach nothing outside it (not through ``..``, absolute paths or symlinks).  A
    ``read_only`` mount refuses every write with ``EPERM`` (as wasmtime does)."""

    host_dir: str
    guest_path: str = "/"
    read_only: bool = False

    def __post_init__(self) -> None:
        host = self.host_dir
        if isinstance(host, os.PathLike):
            host = os.fspath(host)
            object.__setattr__(self, "host_dir", host)
        if not isinstance(host, str) or not host:
            raise TypeError(f"Mount host_dir must be a non-empty str or path, not {host!r}")
        if not isinstance(self.guest_path, str) or not self.guest_path:
            raise TypeError(f"Mount guest_path must be a non-empty str, not {self.guest_path!r}")
        if "\0" in host or "\0" in self.guest_path:
            raise ValueError("Mount paths must not contain NUL characters")
        if not isinstance(self.read_only, bool):
            raise TypeError(f"Mount read_only must be a bool, not {type(self.read_only).__name__}")


@dataclass(frozen=True)
class ModuleConfig:
    """Per-instance settings.

    ``name`` registers the instance under that module name (so others can import from
    it); ``start_functions`` are exported functions called after the spec's start
    function, if present. The remaining fields configure WASI (see
    :mod:`pywazero.wasi`).

    **A guest gets nothing from the host unless the host grants it** (as wazero's
    and wasmtime's defaults): ``ModuleConfig()`` gives a WASI guest no arguments
    (``argc`` is 0), no environment variables, an empty stdin (it reads EOF),
    stdout and stderr that discard what is written, no directories and no sockets.
    Each grant is one explicit argument:

    * ``args`` (strs; ``args[0]`` is the program name by convention) and ``env``
      (a str -> str mapping); ``inherit_env=True`` passes this process's
      environment too (``env`` wins);
    * ``stdin``: bytes (or str) are the whole input, or any readable file object
      (binary, or text: read through its ``buffer``, else as UTF-8);
      ``stdout``/``stderr``: any writable file object (binary, or text: the bytes go
      to its ``buffer`` unchanged, else are decoded as UTF-8), e.g. ``sys.stdout``;
      ``inherit_stdio=True`` connects the ones left None to this process's
      stdin/stdout/stderr (looked up at each use, so a later replacement of
      ``sys.stdout`` is honoured);
    * ``mounts``: :class:`Mount` s, pre-opened as descriptors 3, 4, ... in order;
    * ``clock``: None for the host's clocks, or an object with ``time_ns(id)``,
      ``resolution_ns(id)`` and ``sleep_ns(ns)`` such as
      :class:`pywazero.wasi.FakeClock` (deterministic runs);
    * ``random``: None for ``os.urandom``, a callable ``n -> bytes``, or an object
      with ``randbytes(n)`` such as ``random.Random(seed)``;
    * ``sockets``: listening Python ``socket.socket`` objects pre-opened after the
      mounts (as wasmtime's ``--tcplisten``), for ``sock_accept``;
    * ``max_open_files`` (default 128): the most descriptors the guest's table may
      hold at once (stdio, mounts and sockets included); opening more fails with
      ``EMFILE``, so
      a guest cannot exhaust the host process's own descriptors.

    Every field is checked here: a wrong type raises ``TypeError`` (a bad value
    ``ValueError``) when the config is made, not at the guest's first WASI call.

    >>> import io, sys
    >>> ModuleConfig(name="m").start_functions
    ('_start',)
    >>> cfg = ModuleConfig(args=["prog", "-v"], env={"HOME": "/"}, stdout=sys.stdout,
    ...                    stderr=io.BytesIO())
    >>> ModuleConfig(inherit_stdio=True).inherit_stdio   # stdin, stdout and stderr
    True
    >>> ModuleConfig(mounts=[("/tmp", "/tmp")])
    Traceback (most recent call last):
      ...
    TypeError: mounts must be Mount objects (e.g. Mount('/host/dir', '/guest/dir')), not tuple
    """

    name: Optional[str] = None
    start_functions: Tuple[str, ...] = ("_start",)
    args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    stdin: Union[bytes, bytearray, memoryview, str, Readable, None] = None
    stdout: Optional[Writable] = None
    stderr: Optional[Writable] = None
    mounts: Sequence[Mount] = ()
    clock: Optional[Clock] = None
    random: Union[Callable[[int], bytes], RandomSource, None] = None
    sockets: Sequence[socket.socket] = ()
    inherit_stdio: bool = False
    inherit_env: bool = False
    max_open_files: int = DEFAULT_MAX_OPEN_FILES

    def __post_init__(self) -> None:
        if self.name is not None and not isinstance(self.name, str):
            raise TypeError(f"name must be a str or None, not {type(self.name).__name__}")
        object.__setattr__(self, "start_functions",
                           _strs(self.start_functions, "start_functions"))
        object.__setattr__(self, "args", _strs(self.args, "args"))
        for a in self.args:
            if "\0" in a:
                raise ValueError(f"args must not contain NUL characters: {a!r}")
        if not isinstance(self.env, Mapping):
            raise TypeError(f"env must be a mapping of str to str, not {type(self.env).__name__}")
        env = dict(self.env)  # a snapshot: later changes to the caller's dict do not leak in
        for k, v in env.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"env must map str to str, not {type(k).__name__} to {type(v).__name__}")
            if not k or "=" in k or "\0" in k or "\0" in v:
                raise ValueError(f"invalid environment variable name or value: {k!r}")
        object.__setattr__(self, "env", env)
        if self.stdin is not None and not isinstance(self.stdin, (bytes, bytearray, memoryview, str)) \
                and not callable(getattr(self.stdin, "read", None)):
            raise TypeError("stdin must be None, bytes, str or a readable file object, "
                            f"not {type(self.stdin).__name__}")
        for which in ("stdout", "stderr"):
            v = getattr(self, which)
            if v is not None and not callable(getattr(v, "write", None)):
                raise TypeError(f"{which} must be None or a writable file object, "
                                f"not {type(v).__name__}")
        mounts = _sequence(self.mounts, "mounts")
        for m in mounts:
            if not isinstance(m, Mount):
                raise TypeError("mounts must be Mount objects (e.g. Mount('/host/dir', "
                                f"'/guest/dir')), not {type(m).__name__}")
        object.__setattr__(self, "mounts", mounts)
        if self.clock is not None:
            for meth in ("time_ns", "resolution_ns", "sleep_ns"):
                if not callable(getattr(self.clock, meth, None)):
                    raise TypeError(f"clock must be None or have time_ns(id), resolution_ns(id) and "
                                    f"sleep_ns(ns) methods; {type(self.clock).__name__} lacks {meth}")
        if self.random is not None and not callable(self.random) \
                and not callable(getattr(self.random, "randbytes", None)):
            raise TypeError("random must be None, a callable n -> bytes, or have randbytes(n), "
                            f"not {type(self.random).__name__}")
        sockets = _sequence(self.sockets, "sockets")
        for sock in sockets:
            if not isinstance(sock, socket.socket):
                raise TypeError(f"sockets must be socket.socket objects, not {type(sock).__name__}")
        object.__setattr__(self, "sockets", sockets)
        for flag in ("inherit_stdio", "inherit_env"):
            if not isinstance(getattr(self, flag), bool):
                raise TypeError(f"{flag} must be a bool")
        mof = self.max_open_files
        if not isinstance(mof, int) or isinstance(mof, bool):
            raise TypeError(f"max_open_files must be an int, not {type(mof).__name__}")
        if mof < 3:
            raise ValueError("max_open_files must be an int of at least 3 (stdin, stdout, stderr)")
        if 3 + len(mounts) + len(sockets) > mof:
            raise ValueError(f"max_open_files={mof} leaves no room for {len(mounts)} mounts "
                             f"and {len(sockets)} sockets")


def _sequence(value: Any, what: str) -> Tuple[Any, ...]:
    """``value`` as a tuple; a str, bytes or mapping (a likely mistake) or a
    non-iterable is a TypeError."""
    if isinstance(value, (str, bytes, bytearray, Mapping)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{what} must be a sequence (list or tuple), not {type(value).__name__}")
    return tuple(value)


def _strs(value: Any, what: str) -> Tuple[str, ...]:
    items = _sequence(value, what)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{what} must be strs, not {type(item).__name__}")
    return items
