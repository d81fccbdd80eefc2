"""Execution engines for the spec runner: pywazero's own engines behind the runner's
:class:`~pywazero.script.runner.Engine` interface, which live in the package
(:mod:`pywazero.wast_engine`, also behind ``pywazero wast``).
"""
from __future__ import annotations

from pywazero.script.runner import Engine
from pywazero.wast_engine import PywazeroEngine, register_spectest

__all__ = ["PywazeroEngine", "register_spectest", "interpreter"]


def interpreter() -> Engine:
    return PywazeroEngine("interpreter")
