"""Configuration objects: :class:`RuntimeConfig` (per runtime) and :class:`ModuleConfig`
(per instantiation)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence, Tuple

from .wasm.features import CoreFeatures, check_features

ENGINES = ("compiler", "interpreter")


@dataclass(frozen=True)
class RuntimeConfig:
    """How a :class:`~pywazero.Runtime` compiles and runs modules.

    ``core_features`` (a :class:`~pywazero.CoreFeatures`, WebAssembly 2.0 by
    default) says which proposals modules may use: ``Runtime.compile`` decodes and
    validates under its rules (``CoreFeatures.V1`` gives WebAssembly 1.0).

    >>> RuntimeConfig(engine="interpreter", memory_limit_pages=16).engine
    'interpreter'
    >>> RuntimeConfig(core_features=CoreFeatures.V1).core_features == CoreFeatures.MUTABLE_GLOBAL
    True
    """

    engine: str = "compiler"
    memory_limit_pages: int = 65536
    max_call_depth: int = 10000
    core_features: CoreFeatures = CoreFeatures.V2
    consume_fuel: bool = False
    interruptible: bool = False

    def __post_init__(self) -> None:
        # (normalises a negative set such as ``~CoreFeatures.SIMD`` on Python < 3.11)
        object.__setattr__(self, "core_features", check_features(self.core_features))
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, not {self.engine!r}")
        if not isinstance(self.memory_limit_pages, int) or not 0 <= self.memory_limit_pages <= 65536:
            raise ValueError("memory_limit_pages must be an int between 0 and 65536")
        if not isinstance(self.max_call_depth, int) or self.max_call_depth < 1:
            raise ValueError("max_call_depth must be a positive int")


@dataclass(frozen=True)
class Mount:
    """A host directory visible to a WASI guest at ``guest_path``; the guest can
    reach nothing outside it (not through ``..``, absolute paths or symlinks).  A
    ``read_only`` mount refuses every write with ``EPERM`` (as wasmtime does)."""

    host_dir: str
    guest_path: str = "/"
    read_only: bool = False


@dataclass(frozen=True)
class ModuleConfig:
    """Per-instance settings.

    ``name`` registers the instance under that module name (so others can import from
    it); ``start_functions`` are exported functions called after the spec's start
    function, if present. The remaining fields configure WASI (see
    :mod:`pywazero.wasi`):

    * ``args`` (``args[0]`` is the program name by convention) and ``env``;
    * ``stdin``: None inherits the process's stdin, bytes (or str) are the whole
      input, or any readable file object; ``stdout``/``stderr``: None inherits, or
      any writable file object (binary, or text: output is decoded as UTF-8);
    * ``mounts``: :class:`Mount` s, pre-opened as descriptors 3, 4, ... in order;
    * ``clock``: None for the host's clocks, or an object with ``time_ns(id)``,
      ``resolution_ns(id)`` and ``sleep_ns(ns)`` such as
      :class:`pywazero.wasi.FakeClock` (deterministic runs);
    * ``random``: None for ``os.urandom``, a callable ``n -> bytes``, or an object
      with ``randbytes(n)`` such as ``random.Random(seed)``;
    * ``sockets``: listening Python ``socket.socket`` objects pre-opened after the
      mounts (as wasmtime's ``--tcplisten``), for ``sock_accept``.

    >>> ModuleConfig(name="m").start_functions
    ('_start',)
    """

    name: Optional[str] = None
    start_functions: Tuple[str, ...] = ("_start",)
    args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    stdin: Any = None
    stdout: Any = None
    stderr: Any = None
    mounts: Sequence[Mount] = ()
    clock: Any = None
    random: Any = None
    sockets: Sequence[Any] = ()
