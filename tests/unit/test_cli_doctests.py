"""The examples in the docstrings of the command line's modules run as shown."""
from __future__ import annotations

import doctest
import importlib
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("name", ["pywazero.cli", "pywazero.cli_values", "pywazero.module_info",
                                  "pywazero.script.runner", "pywazero.wast_engine"])
def test_docstring_examples(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
