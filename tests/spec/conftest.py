"""Prints the spec totals at the end of a pytest run, and the per-file table with -v
(works with xdist: the counts travel in each test report's user_properties, which also
land in --junitxml output).  With PYWAZERO_SPEC_SLICE=<subset file> the spec-file
tests here run only on the scripts that file lists (see slice.py)."""
from __future__ import annotations

import collections
from pathlib import Path

import pytest

from . import runner
from .slice import SliceError, selected

_REPORTS = []
_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    # PYWAZERO_SPEC_SLICE: run the spec-file tests of this folder on a slice only.
    root = runner.spec_dir()
    if not root.is_dir():
        return
    try:
        keys = selected(runner.discover(root))
    except SliceError as e:
        raise pytest.UsageError(str(e)) from None
    if keys is None:
        return
    chosen = set(keys)
    kept, dropped = [], []
    for item in items:
        key = getattr(getattr(item, "callspec", None), "params", {}).get("key")
        inside = _HERE in Path(str(item.fspath)).resolve().parents
        (dropped if inside and isinstance(key, str) and key not in chosen else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_runtest_logreport(report):
    if report.when != "call":
        return
    for name, value in getattr(report, "user_properties", ()):
        if name == "spec_report":
            _REPORTS.append(value)


def pytest_terminal_summary(terminalreporter):
    if not _REPORTS:
        return
    tr = terminalreporter
    by_mode = collections.defaultdict(list)
    for r in _REPORTS:
        by_mode[r["mode"]].append(r)
    for mode, reports in sorted(by_mode.items()):
        reports.sort(key=lambda r: r["key"])
        tr.section(f"spec tests ({mode})")
        w = max(len(r["key"]) for r in reports)
        tr.write_line(f"{'file':<{w}} {'total':>6} {'passed':>7} {'failed':>7} {'skipped':>8} {'secs':>6}")
        tot = collections.Counter()
        verbose = tr.config.getoption("verbose") > 0
        for r in reports:
            for k in ("total", "passed", "failed", "skipped", "seconds"):
                tot[k] += r[k]
            if not verbose and not r["error"]:
                continue
            err = f"  ERROR: {r['error']}" if r["error"] else ""
            tr.write_line(f"{r['key']:<{w}} {r['total']:>6} {r['passed']:>7} {r['failed']:>7} "
                          f"{r['skipped']:>8} {r['seconds']:>6.2f}{err}")
        tr.write_line(f"{'total (' + str(len(reports)) + ' files)':<{w}} {tot['total']:>6} {tot['passed']:>7} "
                      f"{tot['failed']:>7} {tot['skipped']:>8} {tot['seconds']:>6.1f}")
