"""A slice of the spec suite: the scripts named by ``spec: KEY`` lines of a subset
file (tests/fast_subset.txt), chosen with ``PYWAZERO_SPEC_SLICE=<file>``.

The matrix legs of CI (.ci/matrix) run the spec tests on this slice only; without
the variable every script runs.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, List, Optional

ENV = "PYWAZERO_SPEC_SLICE"


class SliceError(ValueError):
    """The subset file is missing, names no script, or names a script that does not exist."""


def read_slice(path: Path) -> List[str]:
    """The spec keys listed as ``spec: KEY`` in *path*, in file order."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SliceError(f"{ENV}: cannot read {path}: {e}") from None
    keys = [line.split(":", 1)[1].strip() for line in text.splitlines()
            if line.startswith("spec:")]
    if not keys:
        raise SliceError(f"{ENV}: {path} has no 'spec: KEY' lines")
    return keys


def selected(known: Iterable[str], env: Optional[str] = None) -> Optional[List[str]]:
    """The keys to run: None (all of them) when no slice is chosen; otherwise the
    slice, every key of which must be one of *known* (a typo must not shrink the
    slice silently)."""
    value = os.environ.get(ENV) if env is None else env
    if not value:
        return None
    keys = read_slice(Path(value))
    unknown = sorted(set(keys) - set(known))
    if unknown:
        raise SliceError(f"{ENV}: {value} names spec scripts that do not exist: {unknown}")
    return keys
