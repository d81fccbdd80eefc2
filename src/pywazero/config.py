"""Configuration objects: :class:`RuntimeConfig` (per runtime) and :class:`ModuleConfig`
(per instantiation)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence, Tuple

ENGINES = ("compiler", "interpreter")


@dataclass(frozen=True)
class RuntimeConfig:
    """How a :class:`~pywazero.Runtime` compiles and runs modules.

    >>> RuntimeConfig(engine="interpreter", memory_limit_pages=16).engine
    'interpreter'
    """

    engine: str = "compiler"
    memory_limit_pages: int = 65536
    max_call_depth: int = 10000

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, not {self.engine!r}")
        if not isinstance(self.memory_limit_pages, int) or not 0 <= self.memory_limit_pages <= 65536:
            raise ValueError("memory_limit_pages must be an int between 0 and 65536")
        if not isinstance(self.max_call_depth, int) or self.max_call_depth < 1:
            raise ValueError("max_call_depth must be a positive int")


@dataclass(frozen=True)
class Mount:
    """A host directory visible to a WASI guest at ``guest_path``."""

    host_dir: str
    guest_path: str = "/"
    read_only: bool = False


@dataclass(frozen=True)
class ModuleConfig:
    """Per-instance settings.

    ``name`` registers the instance under that module name (so others can import from
    it); ``start_functions`` are exported functions called after the spec's start
    function, if present. The remaining fields configure WASI.

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
