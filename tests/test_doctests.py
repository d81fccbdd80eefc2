"""The ``>>>`` examples in pywazero's docstrings run and show what they claim (nothing
else collects them: pytest's ``--doctest-modules`` is not on, since importing every
module of ``src/`` from the test run's rootdir would pick the wrong package)."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import pywazero


def _module_names():
    names = [pywazero.__name__]
    for info in pkgutil.walk_packages(pywazero.__path__, prefix="pywazero."):
        if info.name.endswith("__main__"):
            continue  # running it is the CLI
        names.append(info.name)
    return sorted(names)


MODULES = _module_names()
FINDER = doctest.DocTestFinder(exclude_empty=True)


def _tests(name):
    module = importlib.import_module(name)
    # only the module's own objects (re-exports are tested where they are defined)
    return [t for t in FINDER.find(module, name) if t.examples]


WITH_EXAMPLES = [name for name in MODULES if _tests(name)]


def test_docstring_examples_exist():
    # the public API documents itself with examples: the collection must find them
    assert {"pywazero.api", "pywazero.runtime"} <= set(WITH_EXAMPLES)


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_doctests(name):
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failures = []
    for test in _tests(name):
        runner.run(test, out=failures.append)
    summary = runner.summarize(verbose=False)
    assert summary.attempted > 0
    assert summary.failed == 0, "".join(failures)
