"""Test suites that live outside the repository (the WebAssembly spec tests, the WASI
conformance suite) are optional on a developer's clone and required in CI.

A test that reads one carries a marker (``spec_suite`` or ``wasi_testsuite``).  When
the suite is missing, every such test is skipped with the same message, which names
the directory looked at and the variable that overrides it, and the run ends with one
line saying so; with ``CI`` set (``CI=true``, as CI services do) the tests fail with
that message instead, so CI can never go green without them.
"""
from __future__ import annotations

from typing import Dict, Optional

import pytest

from .suites import in_ci, spec_suite_missing, wasi_testsuite_missing

_CHECKS = {"spec_suite": spec_suite_missing, "wasi_testsuite": wasi_testsuite_missing}
_missing_cache: Dict[str, Optional[str]] = {}
_skipped: Dict[str, int] = {}


def missing_suite(marker: str) -> Optional[str]:
    """The message for a missing suite, or None when it is there."""
    if marker not in _missing_cache:
        _missing_cache[marker] = _CHECKS[marker]()
    return _missing_cache[marker]


def pytest_configure(config):
    config.addinivalue_line("markers", "spec_suite: reads the WebAssembly spec tests "
                            "(PYWAZERO_SPEC_DIR); skipped when absent, required under CI")
    config.addinivalue_line("markers", "wasi_testsuite: runs the wasi-testsuite "
                            "(PYWAZERO_WTS_SUITE); skipped when absent, required under CI")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # tryfirst: before pytest's own skip marks (an empty parameter list, which is what
    # a missing suite gives, would otherwise skip with pytest's generic reason)
    for marker in _CHECKS:
        if item.get_closest_marker(marker) is None:
            continue
        message = missing_suite(marker)
        if message is None:
            continue
        if in_ci():
            pytest.fail(f"CI requires the suite: {message}", pytrace=False)
        pytest.skip(message)


def pytest_runtest_logreport(report):
    # counted where the reports arrive (the controller, under xdist)
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2])
        for marker in _CHECKS:
            message = missing_suite(marker)
            if message is not None and message in reason:
                _skipped[message] = _skipped.get(message, 0) + 1


def pytest_terminal_summary(terminalreporter):
    for message, count in _skipped.items():
        terminalreporter.write_line(f"{count} tests skipped: {message}", yellow=True)
